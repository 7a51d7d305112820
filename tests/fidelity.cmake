# tests/fidelity.cmake — differential tests against CPython: each
# tests/fidelity/NAME.c is built against recycle and must print what
# NAME.py prints under python3, up to the differences NAME.note documents
# (tests/fidelity/run.py compares them).  Skipped when python3 is absent.
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "python3 not found: the fidelity tests are skipped")
  return()
endif()
file(GLOB RCY_FIDELITY CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fidelity/*.c)
foreach(src ${RCY_FIDELITY})
  get_filename_component(name ${src} NAME_WE)
  set(exe fidelity_${name})
  add_executable(${exe} ${src})
  target_compile_options(${exe} PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
  target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${exe} PRIVATE recycle_static)
  add_test(NAME ${exe}
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/fidelity/run.py
            $<TARGET_FILE:${exe}> ${CMAKE_CURRENT_SOURCE_DIR}/fidelity ${name})
  set_tests_properties(${exe} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
