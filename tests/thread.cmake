# tests/thread.cmake — the threaded tests (tests/test_thread*.c): linked
# with pthreads, labelled `thread`, and run once more under
# ThreadSanitizer when the C compiler supports it (target test_tsan, run
# by `make test`; RCY_TSAN_BUILD names its build directory).
file(GLOB RCY_THREAD_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_thread*.c)
foreach(src ${RCY_THREAD_TESTS})
  get_filename_component(name ${src} NAME_WE)
  target_link_libraries(${name} PRIVATE Threads::Threads)
  set_tests_properties(${name} PROPERTIES LABELS thread)
endforeach()
