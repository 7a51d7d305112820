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

# The random-graph test, much longer (not part of ctest):
#   cmake --build build --target gc_stress_long
if(TARGET test_gc_stress)
  add_custom_target(gc_stress_long
    COMMAND ${CMAKE_COMMAND} -E env RCY_GC_STRESS_SEEDS=1000 RCY_GC_STRESS_OPS=20000
            $<TARGET_FILE:test_gc_stress>
    COMMAND ${CMAKE_COMMAND} -E env RCY_GC_HARD=1 RCY_GC_STRESS_SEEDS=100
            RCY_GC_STRESS_OPS=5000 $<TARGET_FILE:test_gc_stress>
    DEPENDS test_gc_stress USES_TERMINAL)
endif()
