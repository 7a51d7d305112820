# tests/cli.cmake — tests of the recycle command and its preload library
# (included by tests/CMakeLists.txt).  The programs that `recycle run`
# traces are never sanitized: an ASan runtime would own malloc before the
# preload library could.
if(NOT RCY_BUILD_TOOLS)
  return()
endif()

set(RCY_CLI_DIR ${CMAKE_CURRENT_SOURCE_DIR}/cli)

add_executable(cli_target ${RCY_CLI_DIR}/cli_target.c)
# -fno-builtin: the compiler must not drop malloc/free pairs it can see through.
target_compile_options(cli_target PRIVATE ${RCY_WARNINGS} -O1 -g -fno-omit-frame-pointer -fno-builtin)
set_target_properties(cli_target PROPERTIES LINK_OPTIONS "")
target_link_libraries(cli_target PRIVATE Threads::Threads)

# Blocks of every leak class at exit (tests/cli/leaks.sh).
add_executable(cli_leak_target ${RCY_CLI_DIR}/leak_target.c)
target_compile_options(cli_leak_target PRIVATE ${RCY_WARNINGS} -O1 -g -fno-omit-frame-pointer -fno-builtin)
set_target_properties(cli_leak_target PROPERTIES LINK_OPTIONS "")
target_link_libraries(cli_leak_target PRIVATE Threads::Threads)

add_executable(cli_static_prog ${RCY_CLI_DIR}/static_prog.c)
target_compile_options(cli_static_prog PRIVATE ${RCY_WARNINGS})
set_target_properties(cli_static_prog PROPERTIES LINK_OPTIONS "-static")

# Unit tests of the command's parts (cmocka): ELF check, PATH search,
# JSON/SVG/HTML rendering from a hand-made model, argument helpers.
add_executable(test_cli_units ${RCY_CLI_DIR}/test_cli_units.c)
target_compile_options(test_cli_units PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
target_link_libraries(test_cli_units PRIVATE rcy_tools rcy_testutil)
add_test(NAME test_cli_units COMMAND test_cli_units)
set_tests_properties(test_cli_units PROPERTIES TIMEOUT 120
  ENVIRONMENT "CLI_STATIC=$<TARGET_FILE:cli_static_prog>;CLI_TARGET=$<TARGET_FILE:cli_target>")

set(RCY_CLI_ENV
  "RECYCLE=$<TARGET_FILE:recycle-cli>"
  "CLI_TARGET=$<TARGET_FILE:cli_target>"
  "CLI_STATIC=$<TARGET_FILE:cli_static_prog>"
  "LEAK_TARGET=$<TARGET_FILE:cli_leak_target>"
  "RCY_SOURCE_DIR=${CMAKE_SOURCE_DIR}")

if(NOT RCY_SANITIZE)
  # Two functions without frame pointers between main and malloc.
  add_executable(cli_nofp_chain ${RCY_CLI_DIR}/nofp_chain.c ${RCY_CLI_DIR}/nofp_chain_calls.c)
  target_compile_options(cli_nofp_chain PRIVATE ${RCY_WARNINGS} -O2 -g -fno-builtin)
  set_source_files_properties(${RCY_CLI_DIR}/nofp_chain.c PROPERTIES
    COMPILE_OPTIONS -fno-omit-frame-pointer)
  set_source_files_properties(${RCY_CLI_DIR}/nofp_chain_calls.c PROPERTIES
    COMPILE_OPTIONS -fomit-frame-pointer)
  set_target_properties(cli_nofp_chain PROPERTIES LINK_OPTIONS "")

  # An independent allocation counter for the real-program tests.
  add_library(cli_count_preload SHARED ${RCY_CLI_DIR}/count_preload.c)
  target_compile_options(cli_count_preload PRIVATE ${RCY_WARNINGS} -O2)
  set_target_properties(cli_count_preload PROPERTIES LINK_OPTIONS "")
  target_link_libraries(cli_count_preload PRIVATE ${CMAKE_DL_LIBS})
endif()

add_test(NAME cli_run COMMAND bash ${RCY_CLI_DIR}/run.sh)
set_tests_properties(cli_run PROPERTIES TIMEOUT 300 ENVIRONMENT "${RCY_CLI_ENV}")

# Files and readers under hostile conditions (devices, FIFOs, symlinks,
# planted temporaries, special files, signals, crafted files, options).
add_test(NAME cli_hostile COMMAND bash ${RCY_CLI_DIR}/hostile.sh)
set_tests_properties(cli_hostile PROPERTIES TIMEOUT 300 ENVIRONMENT "${RCY_CLI_ENV}")

# Leak classes at exit, suppressions (tests/cli/leak_target.c).
add_test(NAME cli_leaks COMMAND bash ${RCY_CLI_DIR}/leaks.sh)
set_tests_properties(cli_leaks PROPERTIES TIMEOUT 300 ENVIRONMENT "${RCY_CLI_ENV}")

# The peak views and the exports (diff --peak, export collapsed and pprof).
add_test(NAME cli_export COMMAND bash ${RCY_CLI_DIR}/export.sh)
set_tests_properties(cli_export PROPERTIES TIMEOUT 300 ENVIRONMENT "${RCY_CLI_ENV}")

# The peer comparison and the browser test run once, in the plain build.
if(NOT RCY_SANITIZE)
  add_test(NAME cli_real_programs COMMAND bash ${RCY_CLI_DIR}/real_programs.sh)
  set_tests_properties(cli_real_programs PROPERTIES TIMEOUT 300 ENVIRONMENT
    "${RCY_CLI_ENV};COUNT_PRELOAD=$<TARGET_FILE:cli_count_preload>;NOFP_CHAIN=$<TARGET_FILE:cli_nofp_chain>")
  add_test(NAME cli_heaptrack COMMAND bash ${RCY_CLI_DIR}/heaptrack.sh)
  set_tests_properties(cli_heaptrack PROPERTIES TIMEOUT 600 ENVIRONMENT "${RCY_CLI_ENV}"
    SKIP_RETURN_CODE 77)
  # The report in headless Chromium; its views (tabs, search, bottom-up)
  # driven through the DevTools protocol on examples/leaky's report.
  add_test(NAME cli_html_chromium COMMAND bash ${RCY_CLI_DIR}/chromium.sh)
  set_tests_properties(cli_html_chromium PROPERTIES TIMEOUT 600
    ENVIRONMENT "${RCY_CLI_ENV};LEAKY=$<TARGET_FILE:leaky_traced>" SKIP_RETURN_CODE 77)
  # The HTML chart's rules (unit, note placement) and the call tree's views
  # (flame graphs, search total, bottom-up) under node, when installed.
  find_program(RCY_NODE node)
  if(RCY_NODE)
    add_test(NAME cli_html_chart COMMAND ${RCY_NODE} ${RCY_CLI_DIR}/html_chart.mjs)
    add_test(NAME cli_html_stacks COMMAND ${RCY_NODE} ${RCY_CLI_DIR}/html_stacks.mjs)
  endif()
  add_test(NAME cli_html_bundle COMMAND bash ${RCY_CLI_DIR}/html_bundle.sh)
  set_tests_properties(cli_html_bundle PROPERTIES TIMEOUT 300 ENVIRONMENT "${RCY_CLI_ENV}"
    SKIP_RETURN_CODE 77)
endif()
