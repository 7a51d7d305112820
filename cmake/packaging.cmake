# cmake/packaging.cmake — Debian packages with CPack (`make deb`, or
# `cpack -G DEB` in a build directory), one per install component:
#
#   librecycle0     lib    the shared library
#   librecycle-dev  dev    headers, librecycle.a, recycle.pc, the CMake
#                          package; depends on librecycle0 of the same
#                          version and on the -dev packages of what the
#                          static library needs (see src/deps.cmake)
#   recycle         tools  the recycle command, its preload library, the
#                          man pages
#
# Run-time dependencies of librecycle0 and recycle come from dpkg-shlibdeps.
# Packages are laid out for CMAKE_INSTALL_PREFIX, so `make deb` configures
# its build directory with /usr (which also puts the libraries in the
# multiarch directory).
set(CPACK_PACKAGE_NAME recycle)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "recycle maintainers <recycle@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Python's memory management for C: allocator, refcounts, cycle collector, tracemalloc")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_COMPONENTS_ALL lib dev tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME librecycle${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME librecycle-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME recycle)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION devel)

# librecycle-dev: what `pkg-config --static` and recycle::recycle_static
# need, named by the Debian -dev package of each module deps.cmake found.
set(rcy_dev_depends pkg-config)
foreach(pair ${RCY_PKG_MODULES})
  string(REGEX REPLACE "^[^=]*=" "" module "${pair}")
  if(module STREQUAL "libdw")
    list(APPEND rcy_dev_depends libdw-dev)
  elseif(module STREQUAL "libunwind")
    list(APPEND rcy_dev_depends libunwind-dev)
  elseif(module STREQUAL "libzstd")
    list(APPEND rcy_dev_depends libzstd-dev)
  endif()
endforeach()
string(REPLACE ";" ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${rcy_dev_depends}")

include(CPack)
cpack_add_component(lib DISPLAY_NAME "librecycle"
  DESCRIPTION "recycle: the shared library")
cpack_add_component(dev DISPLAY_NAME "librecycle development files" DEPENDS lib
  DESCRIPTION "recycle: headers, static library, pkg-config file and CMake package")
cpack_add_component(tools DISPLAY_NAME "recycle command"
  DESCRIPTION "recycle: trace every malloc of a program and report it like tracemalloc")
