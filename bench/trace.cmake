# tracemalloc benchmarks (owned by tracemalloc): trace_binary_trees, run by
# bench/run.d/40-tracemalloc.sh against CPython's tracemalloc
# (bench/trace_binary_trees.py).
add_executable(trace_binary_trees ${CMAKE_CURRENT_SOURCE_DIR}/trace_binary_trees.c)
target_compile_options(trace_binary_trees PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
target_link_libraries(trace_binary_trees PRIVATE recycle_static)
