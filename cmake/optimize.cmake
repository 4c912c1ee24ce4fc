# Release builds with clang: ThinLTO (linked by lld) and profile-guided optimization from the profile
# checked in as pgo/llmux.proftext.gz (scripts/pgo.sh makes it). Both only change how the code is
# optimized; docs/design.md says why and what they bought.
#   LLMUX_LTO=OFF           plain per-file optimization
#   LLMUX_PGO=OFF           ignore the checked-in profile
#   LLMUX_PGO_GENERATE=ON   instrumented build that writes a raw profile at exit (scripts/pgo.sh)
option(LLMUX_LTO "ThinLTO for Release builds (clang + lld)" ON)
option(LLMUX_PGO "Use LLMUX_PGO_PROFILE for Release builds (clang)" ON)
option(LLMUX_PGO_GENERATE "Instrumented build writing a PGO profile (scripts/pgo.sh)" OFF)
set(LLMUX_PGO_PROFILE "${CMAKE_SOURCE_DIR}/pgo/llmux.proftext.gz" CACHE FILEPATH
    "gzip'd text profile (llvm-profdata merge -text) used by LLMUX_PGO")

if(NOT CMAKE_BUILD_TYPE STREQUAL "Release" OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  return()
endif()

if(LLMUX_LTO)
  find_program(LLMUX_LLD NAMES ld.lld ld.lld-14)
  if(LLMUX_LLD)
    set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
    add_link_options(-fuse-ld=lld)
  else()
    message(WARNING "llmux: ld.lld not found (apt-get install lld): building without LTO")
  endif()
endif()

if(LLMUX_PGO_GENERATE)
  add_compile_options(-fprofile-instr-generate)
  add_link_options(-fprofile-instr-generate)
elseif(LLMUX_PGO AND EXISTS "${LLMUX_PGO_PROFILE}")
  find_program(LLMUX_PROFDATA NAMES llvm-profdata llvm-profdata-14 HINTS /usr/lib/llvm-14/bin)
  if(NOT LLMUX_PROFDATA)
    message(WARNING "llmux: llvm-profdata not found (apt-get install llvm): building without PGO")
    return()
  endif()
  # The indexed profile is named after the text one's hash: a new profile changes the compile
  # flags, so everything is rebuilt with it.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${LLMUX_PGO_PROFILE}")
  file(MD5 "${LLMUX_PGO_PROFILE}" llmux_pgo_hash)
  set(llmux_pgo_dir "${CMAKE_BINARY_DIR}/pgo")
  set(llmux_pgo_data "${llmux_pgo_dir}/llmux-${llmux_pgo_hash}.profdata")
  if(NOT EXISTS "${llmux_pgo_data}")
    file(MAKE_DIRECTORY "${llmux_pgo_dir}")
    execute_process(COMMAND gzip -dc "${LLMUX_PGO_PROFILE}"
                    OUTPUT_FILE "${llmux_pgo_dir}/llmux.proftext" RESULT_VARIABLE rc_unzip)
    execute_process(COMMAND "${LLMUX_PROFDATA}" merge -o "${llmux_pgo_data}"
                            "${llmux_pgo_dir}/llmux.proftext"
                    RESULT_VARIABLE rc_merge ERROR_VARIABLE err_merge)
    file(REMOVE "${llmux_pgo_dir}/llmux.proftext")
    if(NOT rc_unzip EQUAL 0 OR NOT rc_merge EQUAL 0)
      file(REMOVE "${llmux_pgo_data}")
      message(WARNING "llmux: ${LLMUX_PGO_PROFILE} unreadable (${err_merge}): building without PGO")
      return()
    endif()
  endif()
  # A profile older than the code still applies to every function that did not change; the others
  # are optimized as without one. Hence no warnings for those. (Functions local to a file are named
  # by the file's base name, so a profile made in one checkout fits every other.)
  add_compile_options(-fprofile-instr-use=${llmux_pgo_data}
                      -Wno-profile-instr-out-of-date -Wno-profile-instr-unprofiled
                      -Wno-profile-instr-missing)
  message(STATUS "llmux: PGO with ${LLMUX_PGO_PROFILE}")
endif()
