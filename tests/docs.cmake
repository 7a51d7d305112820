# tests/docs.cmake — every ```c program block of the documentation is a
# program the suite builds and runs; the ```output block after it, when
# present, must be exactly what it prints.  Editing a document re-runs the
# extraction (CMAKE_CONFIGURE_DEPENDS).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(RCY_DOC_SOURCES ${CMAKE_SOURCE_DIR}/docs/guide.md ${CMAKE_SOURCE_DIR}/README.md)
foreach(doc ${RCY_DOC_SOURCES})
  if(NOT EXISTS ${doc})
    continue()
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${doc})
  execute_process(
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs.py extract ${doc}
            ${CMAKE_CURRENT_BINARY_DIR}/docs
    OUTPUT_VARIABLE rcy_doc_names
    RESULT_VARIABLE rcy_doc_rc)
  if(NOT rcy_doc_rc EQUAL 0)
    message(FATAL_ERROR "tests/docs.py could not extract the examples of ${doc}")
  endif()
  string(REPLACE "\n" ";" rcy_doc_names "${rcy_doc_names}")
  foreach(name ${rcy_doc_names})
    if(name STREQUAL "")
      continue()
    endif()
    set(exe doc_${name})
    add_executable(${exe} ${CMAKE_CURRENT_BINARY_DIR}/docs/${name}.c)
    target_compile_options(${exe} PRIVATE ${RCY_WARNINGS} ${RCY_COMMON_FLAGS})
    target_link_libraries(${exe} PRIVATE recycle_static)
    add_test(NAME ${exe}
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs.py check
              $<TARGET_FILE:${exe}> ${CMAKE_CURRENT_BINARY_DIR}/docs/${name}.out)
    set_tests_properties(${exe} PROPERTIES TIMEOUT 120)
  endforeach()
endforeach()
