# tests/man.cmake — docs/man/ agrees with `--help` and with the program:
# every subcommand, option and exit code of one is in the others
# (tests/man_check.py says how each list is read).  It runs in the plain
# build only: it starts the command some 500 times (every letter as an
# option of every subcommand), half a second each under ASan, and what it
# checks does not depend on the sanitizers.
if(NOT RCY_BUILD_TOOLS OR RCY_SANITIZE)
  return()
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME man_pages_match_help_and_code
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/man_check.py
          $<TARGET_FILE:recycle-cli> ${CMAKE_SOURCE_DIR})
set_tests_properties(man_pages_match_help_and_code PROPERTIES TIMEOUT 300
  ENVIRONMENT "CLI_STATIC=$<TARGET_FILE:cli_static_prog>")
