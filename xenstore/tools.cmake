# xenwire-xenstore: the command-line tool over xenwire::xenstore_client.
if(XENWIRE_BUILD_TOOLS AND TARGET xenwire::xenstore_client)
  find_package(CLI11 REQUIRED CONFIG)
  add_executable(xenwire-xenstore
    ${CMAKE_CURRENT_SOURCE_DIR}/src/tools/ls_printer.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/tools/main.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/tools/text.cpp)
  target_link_libraries(xenwire-xenstore PRIVATE xenwire::xenstore_client CLI11::CLI11)
  xenwire_warnings(xenwire-xenstore)
  if(XENWIRE_INSTALL)
    install(TARGETS xenwire-xenstore RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endif()
