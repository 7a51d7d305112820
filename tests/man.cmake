# tests/man.cmake — docs/man/ agrees with `--help` and with the program:
# every subcommand, option and exit code of one is in the others
# (tests/man_check.py says how each list is read).
if(NOT RCY_BUILD_TOOLS)
  return()
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME man_pages_match_help_and_code
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/man_check.py
          $<TARGET_FILE:recycle-cli> ${CMAKE_SOURCE_DIR})
set_tests_properties(man_pages_match_help_and_code PROPERTIES TIMEOUT 300
  ENVIRONMENT "CLI_STATIC=$<TARGET_FILE:cli_static_prog>")
