# Threads benchmarks (owned by share.c): rc_bench, the owner's private
# reference counting (bench/run.d/70-threads.sh).
add_executable(rc_bench ${CMAKE_CURRENT_SOURCE_DIR}/rc_bench.c)
target_compile_options(rc_bench PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
target_link_libraries(rc_bench PRIVATE recycle_static)
# The shared graph's collector and safepoints (owned by gcshared.c):
# gcshared_bench (bench/run.d/75-gcshared.sh).
add_executable(gcshared_bench ${CMAKE_CURRENT_SOURCE_DIR}/gcshared_bench.c)
target_compile_options(gcshared_bench PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
target_link_libraries(gcshared_bench PRIVATE recycle_static Threads::Threads)

# thread_trees: binary_trees on T threads, each its own heap; remote_bench:
# producer/consumer frees through rcy_mem_free_remote; attach_bench:
# attach+detach pairs (owned by thread.c).
foreach(name thread_trees remote_bench attach_bench)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
  target_compile_options(${name} PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
  target_link_libraries(${name} PRIVATE recycle_static Threads::Threads)
endforeach()
