# bench/binary_trees.cmake — binary_trees, one program per memory manager
# (see bench/binary_trees.c); bench/run.d/10-binary-trees.sh runs them.
find_library(RCY_MIMALLOC_LIB mimalloc)
find_library(RCY_BOEHM_LIB gc)

function(rcy_binary_trees name variant)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/binary_trees.c)
  target_compile_definitions(${name} PRIVATE BT_VARIANT=${variant})
  target_compile_options(${name} PRIVATE ${RCY_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARGN})
endfunction()

rcy_binary_trees(binary_trees_rcy BT_RCY recycle_static)
rcy_binary_trees(binary_trees_rcy_untracked BT_RCY_UNTRACKED recycle_static)
rcy_binary_trees(binary_trees_glibc BT_GLIBC "")
if(RCY_MIMALLOC_LIB)
  rcy_binary_trees(binary_trees_mimalloc BT_MIMALLOC ${RCY_MIMALLOC_LIB})
  rcy_binary_trees(binary_trees_mimalloc_rc BT_MIMALLOC_RC ${RCY_MIMALLOC_LIB})
endif()
if(RCY_BOEHM_LIB)
  rcy_binary_trees(binary_trees_boehm BT_BOEHM ${RCY_BOEHM_LIB})
endif()
