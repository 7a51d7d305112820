# tests/lisp_frames_check.cmake — run by the example_lisp_frames test (see
# tests/examples.cmake): examples/lisp is tracemalloc's frame source, so a
# snapshot of examples/fib.lisp names its Lisp lines.  `recycle top` on the
# dumped file must label the kept list's 300 cells by the line marked "the
# kept list" in fib.lisp; with --native, a traceback shows the Lisp frames
# and lisp.c's own below them.  (Every tests/*.cmake is also included when
# the suite is configured: nothing to do then.)
if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()
endif()
file(READ ${SRC} src)
string(FIND "${src}" "the kept list" at)
if(at LESS 0)
  message(FATAL_ERROR "${SRC} has no line marked 'the kept list'")
endif()
string(SUBSTRING "${src}" 0 ${at} before)
string(REGEX MATCHALL "\n" newlines "${before}")
list(LENGTH newlines LINE)
math(EXPR LINE "${LINE} + 1")

foreach(mode script native)
  set(file ${WORK}/lisp_frames_${mode}.rcy)
  file(REMOVE ${file})
  set(extra)
  if(mode STREQUAL "native")
    set(extra --native)
  endif()
  execute_process(COMMAND ${PROG} --snapshot ${file} ${extra} -f ${SRC}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "^610\n$")
    message(FATAL_ERROR "lisp -f ${SRC} exited with ${rc}\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${RECYCLE} top ${file}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(re "^\\[ Top 10 \\]\n[^\n]*fib\\.lisp:${LINE}: size=[0-9.]+ KiB, count=300, average=[0-9]+ B\n")
  if(NOT rc EQUAL 0 OR NOT out MATCHES "${re}")
    message(FATAL_ERROR "recycle top (${mode}) output lacks /${re}/:\n${out}\n${err}")
  endif()
  message(STATUS "recycle top (${mode}) named fib.lisp:${LINE}:\n${out}")
  if(mode STREQUAL "native")
    execute_process(COMMAND ${RECYCLE} top --by traceback ${file}
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    set(re "File \"[^\"]*lisp\\.c\", line [0-9]+\n[^\n]*\n  File \"[^\"]*fib\\.lisp\", line [0-9]+\n")
    if(NOT rc EQUAL 0 OR NOT out MATCHES "${re}")
      message(FATAL_ERROR "recycle top --by traceback lacks lisp.c below fib.lisp:\n${out}\n${err}")
    endif()
  endif()
endforeach()
