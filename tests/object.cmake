# tests/object.cmake — the object and container tests again on debug heaps
# (RCY_DEBUG=1: guard bytes and fill patterns, every block on the
# allocator's slow path, the object layer's fallback heap lookup).
foreach(t test_object test_list test_dict test_heap_faults)
  add_test(NAME ${t}_debug_heaps COMMAND ${t})
  set_tests_properties(${t}_debug_heaps PROPERTIES TIMEOUT 300
    ENVIRONMENT "RCY_DEBUG=1;RCY_SOURCE_DIR=${CMAKE_SOURCE_DIR};RCY_BINARY_DIR=${CMAKE_BINARY_DIR}")
endforeach()
