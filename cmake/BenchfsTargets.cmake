# Per-target defaults for every project target: warnings and sanitizers are
# PRIVATE flags of our own targets, never edits of the global CMAKE_CXX_FLAGS.
function(benchfs_target_defaults target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
  if(BENCHFS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(BENCHFS_SANITIZE STREQUAL "address")
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(BENCHFS_SANITIZE STREQUAL "thread")
    # -Wno-tsan: moodycamel::ConcurrentQueue orders with atomic_thread_fence,
    # which TSan does not model (tests/sanitizers/tsan.supp covers it).
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  elseif(NOT BENCHFS_SANITIZE STREQUAL "")
    message(FATAL_ERROR "BENCHFS_SANITIZE must be empty, 'address' or 'thread'")
  endif()
  if(BENCHFS_FUZZ)
    # Coverage feedback for libFuzzer in the libraries too; the fuzz targets
    # themselves add -fsanitize=fuzzer (which brings libFuzzer's main).
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# One folder = one library target with a benchfs:: alias.
function(benchfs_add_module name alias)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  add_library(benchfs::${alias} ALIAS ${name})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  benchfs_target_defaults(${name})
endfunction()
