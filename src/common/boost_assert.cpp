// Boost assertion handler for debug builds (BOOST_ENABLE_ASSERT_DEBUG_HANDLER; release builds
// compile BOOST_ASSERT out). It aborts like the default, with one documented exception below.
#include <boost/assert.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
bool knownFalseAssertion(const char* expr, const char* file) {
  // Beast 1.81 basic_parser::parse_chunk_header asserts n >= 5 when a final chunk "0\r\n" is
  // re-parsed after need_more with fewer bytes; the code after it handles that case correctly and
  // the assert was removed upstream (boostorg/beast PR #2861). Our fuzzer reaches it.
  return std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "basic_parser.ipp") != nullptr;
}
}  // namespace

namespace boost {

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  if (knownFalseAssertion(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file,
                          long line) {
  if (knownFalseAssertion(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
