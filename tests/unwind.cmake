# tests/unwind.cmake — tests of the native-stack walk (src/frames.c).

# The cached-CFA-rule walk against libunwind on code without frame pointers.
add_executable(test_cfi_walk ${CMAKE_CURRENT_SOURCE_DIR}/frames/test_cfi_walk.c
  ${CMAKE_CURRENT_SOURCE_DIR}/frames/nofp_calls.c)
target_compile_options(test_cfi_walk PRIVATE ${RCY_WARNINGS})
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/frames/test_cfi_walk.c PROPERTIES
  COMPILE_OPTIONS "${RCY_COMMON_FLAGS}")
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/frames/nofp_calls.c PROPERTIES
  COMPILE_OPTIONS "-O2;-fomit-frame-pointer")
target_link_libraries(test_cfi_walk PRIVATE rcy_testutil Threads::Threads)
add_test(NAME test_cfi_walk COMMAND test_cfi_walk)
set_tests_properties(test_cfi_walk PROPERTIES TIMEOUT 300)

# recycle run on a program that unloads a module and loads another at its
# address: the cached rules of the first must not walk the second.
if(NOT RCY_SANITIZE AND RCY_BUILD_TOOLS)
  add_executable(frames_dlreuse ${CMAKE_CURRENT_SOURCE_DIR}/frames/dlreuse.c)
  target_compile_options(frames_dlreuse PRIVATE ${RCY_WARNINGS} -O2 -g)
  target_link_libraries(frames_dlreuse PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(frames_dlreuse PROPERTIES LINK_OPTIONS "")
  foreach(pad 256 2048)
    add_library(frames_dlreuse_${pad} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/frames/dlreuse_mod.c)
    target_compile_options(frames_dlreuse_${pad} PRIVATE ${RCY_WARNINGS} -O2 -g
      -fomit-frame-pointer -fno-stack-protector -fno-builtin)
    target_compile_definitions(frames_dlreuse_${pad} PRIVATE PAD=${pad})
    set_target_properties(frames_dlreuse_${pad} PROPERTIES LINK_OPTIONS "")
  endforeach()
  add_test(NAME frames_dlclose COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/frames/dlreuse.sh)
  set_tests_properties(frames_dlclose PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 ENVIRONMENT
    "RECYCLE=$<TARGET_FILE:recycle-cli>;DLREUSE=$<TARGET_FILE:frames_dlreuse>;MOD_A=$<TARGET_FILE:frames_dlreuse_256>;MOD_B=$<TARGET_FILE:frames_dlreuse_2048>")
endif()
