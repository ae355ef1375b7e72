# The daemon's I/O side (xenwire::xenstore_daemon): options, socket paths, and the socket
# adapter against the real core over real Unix sockets.
if(TARGET xenwire::xenstore_daemon)
  xenwire_test(daemon_options_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_options_test.cpp
    DEPS xenwire::xenstore_daemon LABELS xenstore daemon)
  xenwire_test(daemon_process_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_process_test.cpp
    DEPS xenwire::xenstore_daemon Threads::Threads LABELS xenstore daemon)
  xenwire_test(daemon_socket_path_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_socket_path_test.cpp
    DEPS xenwire::xenstore_daemon LABELS xenstore daemon)
  xenwire_test(daemon_socket_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_socket_test.cpp
    DEPS xenwire::xenstore_daemon Threads::Threads LABELS xenstore daemon concurrent)
  if(TARGET xenwire-xenstored)
    xenwire_test(daemon_live_update_test
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_live_update_test.cpp
      DEPS xenwire::xenstore_wire xenwire::xenstore_migration LABELS xenstore daemon)
    target_compile_definitions(daemon_live_update_test PRIVATE
      XENWIRE_XENSTORED_BINARY="$<TARGET_FILE:xenwire-xenstored>")
    add_dependencies(daemon_live_update_test xenwire-xenstored)
  endif()
  if(TARGET xenwire::sim)
    xenwire_test(daemon_ring_test
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_ring_test.cpp
      DEPS xenwire::xenstore_daemon xenwire::sim Threads::Threads LABELS xenstore daemon concurrent)
  endif()
endif()
