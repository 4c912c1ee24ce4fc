#pragma once
// Invariant checks for fuzz targets: a failed one aborts with its line, so a crash report says
// which.
#include <cstdio>
#include <cstdlib>

#define LLMUX_FUZZ_CHECK(cond)                                               \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)
