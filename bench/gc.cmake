# Collector benchmarks (owned by gc.c): gc_bench, gc_binary_trees and gc_pause,
# measured against CPython by bench/run.d/30-gc.sh (bench/gc_peer.py).
foreach(name gc_bench gc_binary_trees gc_pause)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
    target_compile_options(${name} PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
    target_link_libraries(${name} PRIVATE recycle_static)
  endif()
endforeach()
