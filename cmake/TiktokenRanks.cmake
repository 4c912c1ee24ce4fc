# The BPE rank tables of OpenAI's tiktoken (cl100k_base, o200k_base), compiled into the tokenizer
# module. scripts/tiktoken_ranks.py fetches the MIT-licensed js-tiktoken 1.0.21 npm package with
# `npm pack` (cached in ${CMAKE_BINARY_DIR}/_deps; integrity pinned), decodes its rank modules,
# checks them against OpenAI's published SHA-256, and writes into ${CMAKE_BINARY_DIR}/generated:
#   tiktoken_ranks.cpp   defines llmux::tokenizer::detail::embeddedRanks() (.incbin of the tables)
#   cl100k_base.bpe, o200k_base.bpe
# The build stops with the script's message when npm is missing, the download fails, or a hash
# does not match. Offline builds: -DLLMUX_TIKTOKEN_TGZ=/path/js-tiktoken-1.0.21.tgz (or the
# environment variable of the same name at build time). See data/NOTICE.md for the licenses.
#
# Usage, in the top-level CMakeLists.txt after the tokenizer module is declared:
#   include(cmake/TiktokenRanks.cmake)
#   llmux_tiktoken_ranks(OUTPUT_VAR tiktoken_ranks_src)
#   target_sources(llmux_tokenizer PRIVATE ${tiktoken_ranks_src})

find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(LLMUX_TIKTOKEN_TGZ "" CACHE FILEPATH
    "Local js-tiktoken-1.0.21.tgz to use instead of `npm pack` (offline builds)")

function(llmux_tiktoken_ranks)
  cmake_parse_arguments(T "" "OUTPUT_VAR" "" ${ARGN})
  if(NOT T_OUTPUT_VAR)
    message(FATAL_ERROR "llmux_tiktoken_ranks: OUTPUT_VAR is required")
  endif()
  set(dir ${CMAKE_BINARY_DIR}/generated)
  set(cpp ${dir}/tiktoken_ranks.cpp)
  set(tables ${dir}/cl100k_base.bpe ${dir}/o200k_base.bpe)
  set(script ${CMAKE_SOURCE_DIR}/scripts/tiktoken_ranks.py)
  set(env "")
  set(depends ${script})
  if(LLMUX_TIKTOKEN_TGZ)
    set(env ${CMAKE_COMMAND} -E env "LLMUX_TIKTOKEN_TGZ=${LLMUX_TIKTOKEN_TGZ}")
    list(APPEND depends ${LLMUX_TIKTOKEN_TGZ})
  endif()
  add_custom_command(
    OUTPUT ${cpp} ${tables}
    COMMAND ${env} ${Python3_EXECUTABLE} ${script} --out-dir ${dir}
            --cache-dir ${CMAKE_BINARY_DIR}/_deps
    DEPENDS ${depends}
    COMMENT "Building the tiktoken BPE rank tables (js-tiktoken 1.0.21)"
    VERBATIM)
  # The .cpp pulls the tables in with .incbin, which the compiler's dependency scan cannot see.
  set_source_files_properties(${cpp} PROPERTIES GENERATED TRUE OBJECT_DEPENDS "${tables}")
  set(${T_OUTPUT_VAR} ${cpp} PARENT_SCOPE)
endfunction()
