# tests/docs.cmake — every ```c program block of the documentation is a
# program the suite builds and runs; the ```output block after it, when
# present, must be exactly what it prints.  Editing a document re-runs the
# extraction (CMAKE_CONFIGURE_DEPENDS).
#
# It also checks that the API reference builds from the headers' comments
# with no Doxygen warning (when doxygen is installed: `make docs` needs it;
# scripts/deps.sh docs installs it).  That check runs in script mode:
# cmake -DDOXYGEN=... -DSRC=... -DOUT=... -P docs.cmake.
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ ${SRC}/docs/Doxyfile cfg)
  file(MAKE_DIRECTORY ${OUT})
  file(WRITE ${OUT}/Doxyfile "${cfg}\nOUTPUT_DIRECTORY = ${OUT}\n")
  execute_process(COMMAND ${DOXYGEN} ${OUT}/Doxyfile WORKING_DIRECTORY ${SRC}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "doxygen failed (${rc}) or warned:\n${err}")
  endif()
  foreach(page index.html gen_8h.html gc_8h.html tracemalloc_8h.html core_8h.html)
    if(NOT EXISTS ${OUT}/html/${page})
      message(FATAL_ERROR "the API reference lacks ${page}")
    endif()
  endforeach()
  return()
endif()

find_program(RCY_DOXYGEN doxygen)
if(RCY_DOXYGEN)
  add_test(NAME api_reference COMMAND ${CMAKE_COMMAND} -DDOXYGEN=${RCY_DOXYGEN}
           -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/api
           -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(api_reference PROPERTIES TIMEOUT 300)
endif()

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
