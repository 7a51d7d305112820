# tests/examples.cmake — the example programs run and print what they
# promise.  Included by tests/CMakeLists.txt (defines the tests) and run by
# ctest in script mode (cmake -DPROG=... -DARGS=... -DEXPECT=... -P): the
# check.  EXPECT is a list of regular expressions the output must match;
# RC the exit status it must have (default 0).
if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT DEFINED RC)
    set(RC 0)
  endif()
  # Lists arrive joined with "@@" (a ";" would not survive add_test).
  string(REPLACE "@@" ";" ARGS "${ARGS}")
  string(REPLACE "@@" ";" EXPECT "${EXPECT}")
  execute_process(COMMAND ${PROG} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL RC)
    message(FATAL_ERROR "${PROG} exited with ${rc}, expected ${RC}\n${out}\n${err}")
  endif()
  foreach(re ${EXPECT})
    if(NOT out MATCHES "${re}")
      message(FATAL_ERROR "${PROG} output lacks /${re}/:\n${out}\n${err}")
    endif()
  endforeach()
  return()
endif()

function(rcy_example_test name prog)
  cmake_parse_arguments(T "" "RC" "ARGS;EXPECT" ${ARGN})
  if(NOT DEFINED T_RC)
    set(T_RC 0)
  endif()
  string(REPLACE ";" "@@" args "${T_ARGS}")
  string(REPLACE ";" "@@" expect "${T_EXPECT}")
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -DPROG=$<TARGET_FILE:${prog}>
           "-DARGS=${args}" "-DEXPECT=${expect}" -DRC=${T_RC}
           -P ${CMAKE_CURRENT_SOURCE_DIR}/examples.cmake)
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endfunction()

# The tiny Lisp: its demonstration, one expression, and an error.
rcy_example_test(example_lisp lisp EXPECT
  "> \\(fact 20\\)\n2432902008176640000\n"
  "\\(1 4 9 16 25\\)\n"
  "> \\(begin \\(c\\) \\(c\\) \\(c\\)\\)\n3\n"
  "rcy_gc_collect\\(\\) found 3000 unreachable objects"
  "interned a-passing-thought: ([0-9]+) -> [0-9]+ symbols; weak reference alive: yes\n"
  "dropped it: [0-9]+ symbols; weak reference alive: no \\(its callback removed the entry\\)\n")
rcy_example_test(example_lisp_eval lisp
  ARGS "(define (sq x) (* x x))" "(sq 12)" "(let ((a 1) (b 2)) (list a b))"
  EXPECT "^sq\n144\n\\(1 2\\)\n$")
rcy_example_test(example_lisp_error lisp RC 1
  ARGS "(car 5)"
  EXPECT "error: car of a non-pair")
rcy_example_test(example_lisp_unbound lisp RC 1
  ARGS "(undefined-thing 1)"
  EXPECT "error: unbound symbol: undefined-thing")
rcy_example_test(example_lisp_syntax lisp RC 1
  ARGS "(+ 1 2"
  EXPECT "error: missing '\\)'")

# examples/leaky under `recycle run` + `recycle leaks`: the report must name
# the line of leaky.c that allocated the leaked copies (the line marked
# "the leak") and the function around it.  The traced program is built
# without sanitizers (an ASan runtime would own malloc before the preload
# library could), so this test runs in both builds.
if(RCY_BUILD_TOOLS AND EXISTS ${CMAKE_SOURCE_DIR}/tools/CMakeLists.txt)
  add_executable(leaky_traced ${CMAKE_SOURCE_DIR}/examples/leaky.c)
  target_compile_options(leaky_traced PRIVATE ${RCY_WARNINGS} -O1 -fno-inline -g
    -fno-omit-frame-pointer)
  set_target_properties(leaky_traced PROPERTIES LINK_OPTIONS "")
  add_test(NAME example_leaky_leaks
    COMMAND ${CMAKE_COMMAND} -DRECYCLE=$<TARGET_FILE:recycle-cli>
            -DPROG=$<TARGET_FILE:leaky_traced> -DSRC=${CMAKE_SOURCE_DIR}/examples/leaky.c
            -DWORK=${CMAKE_CURRENT_BINARY_DIR}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/leaky_check.cmake)
  set_tests_properties(example_leaky_leaks PROPERTIES TIMEOUT 120)
endif()

# The Lisp as tracemalloc's frame source: `recycle top` on a snapshot of
# examples/fib.lisp names the Lisp line that allocated the kept list.
if(RCY_BUILD_TOOLS AND EXISTS ${CMAKE_SOURCE_DIR}/tools/CMakeLists.txt)
  add_test(NAME example_lisp_frames
    COMMAND ${CMAKE_COMMAND} -DRECYCLE=$<TARGET_FILE:recycle-cli>
            -DPROG=$<TARGET_FILE:lisp> -DSRC=${CMAKE_SOURCE_DIR}/examples/fib.lisp
            -DWORK=${CMAKE_CURRENT_BINARY_DIR}
            -P ${CMAKE_CURRENT_SOURCE_DIR}/lisp_frames_check.cmake)
  set_tests_properties(example_lisp_frames PROPERTIES TIMEOUT 120)
endif()

# The guide's worker pool (section 9): a shared document read by four
# threads, each with its own heap; nothing left behind.  Labelled `thread`
# so `make test-tsan` runs it under ThreadSanitizer too.
# The whole output, as docs/guide.md shows it.
rcy_example_test(example_worker_pool worker_pool EXPECT
  "^document shared: yes; appendix shared by the store: yes\nworker 0: sections 1 5 9 13 17 21: 435 words\nworker 1: sections 2 6 10 14 18 22: 433 words\nworker 2: sections 3 7 11 15 19 23: 431 words\nworker 3: sections 4 8 12 16 20: 359 words\ntotal words 1658, counted by the main thread 1658\nblocks left behind: 0\n$")
set_tests_properties(example_worker_pool PROPERTIES LABELS thread)
