# tests/demo.cmake — `make demo` must keep working: run the tour and check
# that each section prints its key facts.  Included by tests/CMakeLists.txt
# (defines the test) and run by ctest in script mode
# (cmake -DTOUR=... -P demo.cmake: the check).
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${TOUR} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tour exited with ${rc}\n${out}\n${err}")
  endif()
  set(expected
    # 1. reference counting: 1, 2, 1, and why Python said 2, 3, 2
    "rcy_list_new\\(heap\\) +rcy_getrefcount\\(a\\) = 1\n"
    "rcy_incref\\(b\\) +rcy_getrefcount\\(a\\) = 2\n"
    "b = NULL +rcy_getrefcount\\(a\\) = 1\n"
    "Python printed 2, 3, 2"
    "16-byte header"
    # 2. the collector: enable, disable, collect with its count, stats, garbage
    "rcy_gc_enable\\(heap\\) +rcy_gc_isenabled\\(heap\\) = true\n"
    "rcy_gc_disable\\(heap\\) +rcy_gc_isenabled\\(heap\\) = false\n"
    "rcy_gc_collect\\(heap, -1\\) += 600 unreachable objects"
    "generation 0: collections=[0-9]+, collected=[0-9]+, uncollectable=0\n"
    "generation 2: collections=[1-9][0-9]*, collected=[1-9][0-9]*, uncollectable=0\n"
    "rcy_gc_garbage\\(heap\\) += 0 objects"
    # 3. the cycle with finalizers: nothing on del, both finalizers, 2
    "Object Obj1 created!\n  Object Obj2 created!\n  rcy_decref\\(obj1\\); rcy_decref\\(obj2\\)"
    "rcy_gc_collect\\(heap, -1\\):\n  Object Obj1 deleted!\n  Object Obj2 deleted!\n  = 2\n"
    # 4. best practices
    "the closing brace:\n    \\(scratch list freed\\)"
    "rcy_weakref_get\\(child->parent\\) == parent: yes"
    "rcy_decref\\(parent\\):\n    \\(parent freed\\)\n    \\(child freed\\)\n    rcy_gc_collect\\(heap, -1\\) = 0"
    "RCY_CLEAR\\(cache\\):\n    \\(cache freed\\)\n    cache == NULL: yes"
    # 5. generators: 0 .. 11 then stop; bytes vs megabytes
    "\n  0 1 2 3 4 5 6 7 8 9 10 11\n  stopped after 12 items"
    "through the generator \\(sum 4999950000\\):\n    tracemalloc peak = [0-9]+ B\n"
    "as a list:\n    tracemalloc peak = [0-9.]+ (KiB|MiB)  \\([0-9]+ times the generator's\\)\n"
    # 6. tracemalloc: the snapshot names lines of tour.c in Python's format
    "\\[ Top 10 \\]\n[^\n]*tour\\.c:[0-9]+: size=[0-9.]+ KiB, count=10000, average=[0-9]+ B\n"
    "End of the tour")
  foreach(re ${expected})
    if(NOT out MATCHES "${re}")
      message(FATAL_ERROR "tour output lacks /${re}/:\n${out}")
    endif()
  endforeach()
  # The generator's peak is bytes, not kilobytes: a few hundred at most.
  string(REGEX MATCH "through the generator [^\n]*\n    tracemalloc peak = ([0-9]+) B" m "${out}")
  if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 GREATER 1024)
    message(FATAL_ERROR "generator peak is not a few hundred bytes: '${CMAKE_MATCH_1}'")
  endif()
  # ... and the list's is megabytes: over a thousand times more.
  string(REGEX MATCH "\\(([0-9]+) times the generator's\\)" m "${out}")
  if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS 1000)
    message(FATAL_ERROR "the list's peak is not megabytes: '${CMAKE_MATCH_1}' times")
  endif()
  if(err MATCHES "alive|fatal|ERROR")
    message(FATAL_ERROR "tour wrote to stderr:\n${err}")
  endif()
else()
  add_test(NAME demo COMMAND ${CMAKE_COMMAND} -DTOUR=$<TARGET_FILE:tour>
           -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(demo PROPERTIES TIMEOUT 120)
endif()
