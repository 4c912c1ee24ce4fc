# ASan+UBSan for the debug preset; fuzzer instrumentation (without libFuzzer's main) when fuzzing,
# so fuzz targets link the same module libraries the gateway uses.
if(LLMUX_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(LLMUX_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
