# tests/snapfile.cmake — test_snapshot_file again, with the library built
# without libzstd (RCY_HAVE_ZSTD undefined): dump then writes uncompressed
# files and a compressed one loads as RCY_EUNSUPPORTED.  The library's
# sources are compiled into the program (like the fuzzer), with every
# optional dependency but zstd.
if(RCY_ZSTD_FOUND)
  set(rcy_nozstd_defs ${RCY_DEP_DEFS})
  list(REMOVE_ITEM rcy_nozstd_defs RCY_HAVE_ZSTD=1)
  set(rcy_nozstd_libs ${RCY_DEP_TARGETS})
  list(REMOVE_ITEM rcy_nozstd_libs ${RCY_ZSTD_LIBRARIES})
  add_executable(test_snapshot_file_nozstd ${CMAKE_CURRENT_SOURCE_DIR}/test_snapshot_file.c
    ${CMAKE_CURRENT_SOURCE_DIR}/testutil.c ${RCY_SOURCES})
  target_compile_options(test_snapshot_file_nozstd PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
  target_compile_definitions(test_snapshot_file_nozstd PRIVATE ${rcy_nozstd_defs})
  target_include_directories(test_snapshot_file_nozstd PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
    ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include ${RCY_DEP_INCS})
  target_link_libraries(test_snapshot_file_nozstd PRIVATE ${rcy_nozstd_libs} ${CMAKE_DL_LIBS}
    Threads::Threads PkgConfig::CMOCKA)
  add_test(NAME test_snapshot_file_nozstd COMMAND test_snapshot_file_nozstd)
  set_tests_properties(test_snapshot_file_nozstd PROPERTIES TIMEOUT 300)
endif()
