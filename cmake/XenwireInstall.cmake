# install(): headers, libraries, exported targets, package config + version, pkg-config file.
include(CMakePackageConfigHelpers)

get_property(_targets GLOBAL PROPERTY XENWIRE_EXPORTED_TARGETS)
get_property(_incdirs GLOBAL PROPERTY XENWIRE_INCLUDE_DIRS)
list(REMOVE_DUPLICATES _incdirs)

install(TARGETS ${_targets} EXPORT xenwireTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir IN LISTS _incdirs)
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(XENWIRE_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/xenwire)
install(EXPORT xenwireTargets NAMESPACE xenwire:: DESTINATION ${XENWIRE_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/xenwireConfig.cmake.in
  ${PROJECT_BINARY_DIR}/xenwireConfig.cmake INSTALL_DESTINATION ${XENWIRE_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/xenwireConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/xenwireConfig.cmake ${PROJECT_BINARY_DIR}/xenwireConfigVersion.cmake
  DESTINATION ${XENWIRE_CMAKEDIR})

# pkg-config: one package exposing every component library.
set(XENWIRE_PC_LIBS "")
foreach(t IN LISTS _targets)
  get_target_property(_type ${t} TYPE)
  if(NOT _type STREQUAL "INTERFACE_LIBRARY")
    string(PREPEND XENWIRE_PC_LIBS "-l${t} ")
  endif()
endforeach()
# Static archives carry no dependencies of their own: the Xen backend's libraries (by soname) and
# libdl (it finds the domain-state library at run time) go in Libs.private.
set(XENWIRE_PC_LIBS_PRIVATE "-lpthread")
if(XENWIRE_XEN_BACKEND_BUILT)
  string(PREPEND XENWIRE_PC_LIBS_PRIVATE "-lxengnttab -lxenevtchn ")
  foreach(_dl IN LISTS CMAKE_DL_LIBS)
    string(APPEND XENWIRE_PC_LIBS_PRIVATE " -l${_dl}")
  endforeach()
endif()
# Relative walk from the .pc file's folder back to the prefix, so the installed tree can move.
file(RELATIVE_PATH XENWIRE_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${PROJECT_SOURCE_DIR}/cmake/xenwire.pc.in ${PROJECT_BINARY_DIR}/xenwire.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/xenwire.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
