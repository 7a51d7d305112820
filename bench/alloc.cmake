# Allocator benchmarks (owned by alloc.c): alloc_micro, alloc_memory.
# Both load Debian's libmimalloc at run time (dlopen, RTLD_LOCAL) so it
# does not replace glibc's malloc in the same process.
foreach(name alloc_micro alloc_memory)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
  target_compile_options(${name} PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
  target_link_libraries(${name} PRIVATE recycle_static ${CMAKE_DL_LIBS})
endforeach()
