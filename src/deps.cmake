# src/deps.cmake — the library's optional dependencies (included by the top
# CMakeLists.txt after the recycle / recycle_static targets exist).
#
#  libdw (elfutils)  DWARF symbolization of native frames  -> RCY_HAVE_LIBDW
#  libunwind         stack walk where frame pointers fail  -> RCY_HAVE_LIBUNWIND
#  libzstd           compressed snapshot files              -> RCY_HAVE_ZSTD
#
# All are found with pkg-config; when one is missing the library still
# builds without it (dladdr names exported functions; the walk uses frame
# pointers only).  RCY_WITH_LIBDW / RCY_WITH_LIBUNWIND / RCY_WITH_ZSTD=OFF
# turn them off by hand (without zstd, snapshot files are written
# uncompressed and a compressed one loads as RCY_EUNSUPPORTED).
#
# Where they are linked: the shared library carries them itself (PRIVATE);
# the static library passes them on to its users (PRIVATE on a static
# library is exported as $<LINK_ONLY:...>).  The installed package says the
# same twice: recycle.pc lists the modules in Requires.private, and
# recycleConfig.cmake finds them again (RCY_PKG_MODULES) to recreate the
# PkgConfig::RCY_* targets recycle::recycle_static names.
#
# Variables for the rest of the build:
#   RCY_DEP_TARGETS  plain library names (dw elf unwind zstd), for programs
#                    that compile the library's sources themselves
#   RCY_DEP_INCS / RCY_DEP_DEFS   include dirs and RCY_HAVE_* definitions
#   RCY_PKG_MODULES  PREFIX=module pairs found (RCY_LIBDW=libdw ...)
option(RCY_WITH_LIBDW "Symbolize native frames with libdw (elfutils)" ON)
option(RCY_WITH_LIBUNWIND "Fall back to libunwind where frame pointers fail" ON)
option(RCY_WITH_ZSTD "Compress snapshot files with libzstd" ON)

find_package(PkgConfig QUIET)
set(RCY_DEP_TARGETS "")
set(RCY_DEP_IMPORTED "")
set(RCY_PKG_MODULES "")

# rcy_optional_dep(OPTION PREFIX MODULE DEFINE): when OPTION is on and
# pkg-config finds MODULE, link it and define DEFINE=1 for the library.
macro(rcy_optional_dep opt prefix module define)
  if(PKG_CONFIG_FOUND AND ${opt})
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
    if(${prefix}_FOUND)
      list(APPEND RCY_DEP_TARGETS ${${prefix}_LIBRARIES})
      list(APPEND RCY_DEP_IMPORTED PkgConfig::${prefix})
      list(APPEND RCY_PKG_MODULES ${prefix}=${module})
      set(RCY_DEP_INCS ${RCY_DEP_INCS} ${${prefix}_INCLUDE_DIRS})
      set(RCY_DEP_DEFS ${RCY_DEP_DEFS} ${define}=1)
    endif()
  endif()
endmacro()

rcy_optional_dep(RCY_WITH_LIBDW RCY_LIBDW libdw RCY_HAVE_LIBDW)
rcy_optional_dep(RCY_WITH_LIBUNWIND RCY_LIBUNWIND libunwind RCY_HAVE_LIBUNWIND)
rcy_optional_dep(RCY_WITH_ZSTD RCY_ZSTD libzstd RCY_HAVE_ZSTD)
message(STATUS
  "recycle: libdw ${RCY_LIBDW_FOUND}, libunwind ${RCY_LIBUNWIND_FOUND}, zstd ${RCY_ZSTD_FOUND}")

foreach(tgt recycle recycle_static)
  target_compile_definitions(${tgt} PRIVATE ${RCY_DEP_DEFS})
  target_link_libraries(${tgt} PRIVATE ${RCY_DEP_IMPORTED} ${CMAKE_DL_LIBS})
endforeach()
