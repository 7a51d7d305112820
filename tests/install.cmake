# tests/install.cmake — the install test (tests/install/check.sh): install
# into a temporary prefix, then build the README's example against it with
# pkg-config (shared and --static) and with find_package(recycle) (both
# targets), from outside the source tree.
#
# In the sanitizer build the installed library is instrumented, so the
# programs built against it get the same -fsanitize flags (an uninstrumented
# program cannot link it), and the fully static link is skipped with a
# message (ASan has no -static); the release build runs every step.
find_program(RCY_READELF readelf)
if(NOT RCY_READELF)
  message(STATUS "recycle: readelf not found, the install test is off")
  return()
endif()
set(rcy_san_flags "")
if(RCY_SANITIZE)
  set(rcy_san_flags "-fsanitize=address,undefined -fno-sanitize-recover=all")
endif()
add_test(NAME install_prefix COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/check.sh)
set_tests_properties(install_prefix PROPERTIES TIMEOUT 300
  ENVIRONMENT "RCY_BUILD_DIR=${CMAKE_BINARY_DIR};RCY_SOURCE_DIR=${CMAKE_SOURCE_DIR};CC=${CMAKE_C_COMPILER};RCY_SAN_FLAGS=${rcy_san_flags}")
