# The collector's tests again with RCY_GC_HARD=1: a full collection at
# every allocation of a tracked object (Lua's HARDMEMTESTS), so a missing
# incref or a traverse that forgets a reference shows at once.
foreach(name test_gc test_finalization test_weakref test_gc_stress)
  if(TARGET ${name})
    add_test(NAME ${name}_hard COMMAND ${name})
    set_tests_properties(${name}_hard PROPERTIES TIMEOUT 300
      ENVIRONMENT "RCY_GC_HARD=1;RCY_SOURCE_DIR=${CMAKE_SOURCE_DIR};RCY_BINARY_DIR=${CMAKE_BINARY_DIR}")
  endif()
endforeach()
