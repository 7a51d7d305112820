# tests/trace.cmake — tracemalloc's extra test wiring: the snapshot loader
# fuzzer (clang builds only: libFuzzer) with a short smoke run under ctest;
# `make fuzz` runs it longer through tests/fuzz/run.sh.
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  # The library's sources are compiled into the fuzzer itself, so that
  # libFuzzer's coverage instrumentation sees the loader's branches.
  add_executable(fuzz_snapshot_load ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_snapshot_load.c
    ${RCY_SOURCES})
  target_compile_options(fuzz_snapshot_load PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS}
    -fsanitize=fuzzer)
  target_compile_definitions(fuzz_snapshot_load PRIVATE ${RCY_DEP_DEFS})
  target_link_options(fuzz_snapshot_load PRIVATE -fsanitize=fuzzer)
  target_include_directories(fuzz_snapshot_load PRIVATE ${CMAKE_SOURCE_DIR}/src
    ${CMAKE_SOURCE_DIR}/include ${RCY_DEP_INCS})
  target_link_libraries(fuzz_snapshot_load PRIVATE ${RCY_DEP_TARGETS} ${CMAKE_DL_LIBS}
    Threads::Threads)
  add_executable(fuzz_make_seed ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/make_seed.c)
  target_compile_options(fuzz_make_seed PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
  target_include_directories(fuzz_make_seed PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(fuzz_make_seed PRIVATE recycle_static)
  add_test(NAME fuzz_snapshot_load_smoke
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run.sh smoke
            $<TARGET_FILE:fuzz_snapshot_load> $<TARGET_FILE:fuzz_make_seed>)
  set_tests_properties(fuzz_snapshot_load_smoke PROPERTIES TIMEOUT 120)
endif()
