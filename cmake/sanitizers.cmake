# ASan+UBSan for the debug preset.
if(LLMUX_SANITIZE)
  # -fsanitize=function is left out: clang 14 cannot emit its metadata for coroutine bodies.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=function -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
# Coverage instrumentation goes only on the pure parsing modules the fuzz targets exercise: clang 14
# cannot emit sanitizer-coverage tables for coroutine bodies ("Cannot represent a difference across
# sections"), and the I/O modules are covered by the integration tests instead.
set(LLMUX_FUZZED_MODULES common config types http providers_common providers_openai providers_mock
    providers_anthropic providers_gemini providers_bedrock providers_cohere providers_ollama
    providers_mistral providers_embeddings messages_api router tokenizer governance management)
