# xenwire::xenstored: the daemon's I/O side (epoll loop, socket and ring adapters, CLI parsing) and
# the xenwire-xenstored binary. The core it serves, xenwire::xenstore_server, is defined by
# server.cmake, which sorts after this file: the setup is deferred to the end of the directory.
set(_xenwire_daemon_dir ${CMAKE_CURRENT_LIST_DIR})

function(_xenwire_daemon_setup)
  if(NOT TARGET xenwire::xenstore_server)
    message(STATUS "xenwire: xenstore_server not defined yet; skipping the xenstored daemon")
    return()
  endif()
  set(dir ${_xenwire_daemon_dir})
  find_package(CLI11 REQUIRED CONFIG)
  xenwire_library(xenstored
    SOURCES
      ${dir}/src/daemon/daemon_options.cpp
      ${dir}/src/daemon/event_loop.cpp
      ${dir}/src/daemon/message_tracer.cpp
      ${dir}/src/daemon/ring_connection.cpp
      ${dir}/src/daemon/socket_connection.cpp
      ${dir}/src/daemon/socket_listener.cpp
      ${dir}/src/daemon/socket_path.cpp
      ${dir}/src/daemon/xenstored.cpp
    DEPS xenwire::xenstore_server xenwire::xenstore xenwire::ring
    # Header-only and used only inside daemon_options.cpp: not a dependency of installed consumers.
    PRIVATE_DEPS $<BUILD_INTERFACE:CLI11::CLI11>)

  if(XENWIRE_BUILD_TOOLS)
    find_package(spdlog REQUIRED CONFIG)
    add_executable(xenwire-xenstored ${dir}/src/daemon/main.cpp)
    target_link_libraries(xenwire-xenstored PRIVATE xenwire::xenstored spdlog::spdlog)
    xenwire_warnings(xenwire-xenstored)
    if(XENWIRE_INSTALL)
      install(TARGETS xenwire-xenstored RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    endif()
  endif()
endfunction()

cmake_language(DEFER CALL _xenwire_daemon_setup)
