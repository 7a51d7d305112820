# tests/leaky_check.cmake — run by the example_leaky_leaks test (see
# tests/examples.cmake): trace examples/leaky with `recycle run`, then check
# that `recycle leaks` names the allocating line and function.  (Every
# tests/*.cmake is also included when the suite is configured: nothing to
# do then.)
if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()
endif()
# The line to be named: the one marked "the leak:" in the source.
file(READ ${SRC} src)
string(FIND "${src}" "the leak:" at)
if(at LESS 0)
  message(FATAL_ERROR "${SRC} has no line marked 'the leak:'")
endif()
string(SUBSTRING "${src}" 0 ${at} before)
string(REGEX MATCHALL "\n" newlines "${before}")
list(LENGTH newlines LINE)
math(EXPR LINE "${LINE} + 1")

set(file ${WORK}/leaky_test.rcy)
file(REMOVE ${file})
execute_process(COMMAND ${RECYCLE} run -q -o ${file} -- ${PROG}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "recycle run exited with ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "26 distinct words")
  message(FATAL_ERROR "leaky did not run as expected:\n${out}\n${err}")
endif()
execute_process(COMMAND ${RECYCLE} leaks ${file}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "recycle leaks exited with ${rc}\n${out}\n${err}")
endif()
foreach(re
    "leaky\\.c:${LINE}: size=[0-9]+ B, count=26, average=[0-9]+ B"
    "copy_word  [^\n]*leaky\\.c:${LINE}\n"
    "count_word  [^\n]*leaky\\.c:[0-9]+\n")
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "recycle leaks output lacks /${re}/:\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "recycle leaks named leaky.c:${LINE}:\n${out}")
