# The Xenstore client (xenwire::xenstore_client) against xenwire's daemon, over Unix sockets and
# over guests' rings on the simulated host (xenwire::testbed).
if(TARGET xenwire::xenstore_client AND TARGET xenwire::xenstore_daemon)
  set(_client_deps xenwire::xenstore_client xenwire::testbed rapidcheck_gtest rapidcheck Threads::Threads)
  xenwire_test(client_watch_queue_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_watch_queue_test.cpp
    DEPS ${_client_deps} LABELS xenstore client)
  xenwire_test(client_socket_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_socket_test.cpp
    DEPS ${_client_deps} LABELS xenstore client concurrent)
  xenwire_test(client_ring_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_ring_test.cpp
    DEPS ${_client_deps} LABELS xenstore client concurrent)
  xenwire_test(client_read_turn_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_read_turn_test.cpp
    DEPS ${_client_deps} LABELS xenstore client concurrent)
  xenwire_test(client_concurrency_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_concurrency_test.cpp
    DEPS ${_client_deps} LABELS xenstore client concurrent)
endif()
