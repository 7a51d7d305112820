# Generator benchmarks (owned by gen.c): gen_bench, measured against
# CPython's generators by bench/run.d/60-gen.sh.
add_executable(gen_bench ${CMAKE_CURRENT_SOURCE_DIR}/gen_bench.c)
target_compile_options(gen_bench PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
target_link_libraries(gen_bench PRIVATE recycle_static)
