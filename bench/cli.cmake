# bench/cli.cmake — programs of the `recycle run` overhead benchmark
# (bench/run.d/50-cli.sh).  The loop keeps frame pointers, as the programs
# recycle is meant for are built; -fno-builtin keeps every malloc call.
add_executable(cli_malloc_loop ${CMAKE_CURRENT_SOURCE_DIR}/cli_malloc_loop.c)
target_compile_options(cli_malloc_loop PRIVATE ${RCY_WARNINGS} -O2 -g -fno-omit-frame-pointer
  -fno-builtin)
# The same loop as Debian builds its packages: no frame pointers, so the
# stacks need the DWARF unwinder.
add_executable(cli_malloc_loop_nofp ${CMAKE_CURRENT_SOURCE_DIR}/cli_malloc_loop.c)
target_compile_options(cli_malloc_loop_nofp PRIVATE ${RCY_WARNINGS} -O2 -g -fomit-frame-pointer
  -fno-builtin)
