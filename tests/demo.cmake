# tests/demo.cmake — `make demo` must keep working: run the tour and check
# its key lines.  Included by tests/CMakeLists.txt (defines the test) and
# run by ctest in script mode (cmake -DTOUR=... -P demo.cmake: the check).
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${TOUR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tour exited with ${rc}\n${out}\n${err}")
  endif()
  set(expected
    "rcy_getrefcount\\(root\\) = 1\n"
    "alias = root; rcy_incref\\(alias\\)\n   rcy_getrefcount\\(root\\) = 2\n"
    "rcy_decref\\(alias\\)\n   rcy_getrefcount\\(root\\) = 1\n"
    "Python shows the same story as 2, 3, 2"
    "header before the object: 16 bytes"
    "rcy_getrefcount\\(root\\) = 3   \\(ours"
    "rcy_decref\\(dict\\)   -> rcy_getrefcount\\(root\\) = 1"
    "destroy: Node 'root' is freed\\)\n   \\(destroy: Node 'child' is freed"
    "destroy: Node 'scoped' is freed"
    "a chain of 1000000 nodes"
    "end of part 1")
  foreach(re ${expected})
    if(NOT out MATCHES "${re}")
      message(FATAL_ERROR "tour output lacks /${re}/:\n${out}")
    endif()
  endforeach()
  if(err MATCHES "alive|fatal|ERROR")
    message(FATAL_ERROR "tour wrote to stderr:\n${err}")
  endif()
else()
  add_test(NAME demo COMMAND ${CMAKE_COMMAND} -DTOUR=$<TARGET_FILE:tour>
           -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(demo PROPERTIES TIMEOUT 120)
endif()
