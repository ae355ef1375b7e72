# xenwire::xenstore_client: the Xenstore client library (socket, xenbus device and guest ring
# connections; blocking and asynchronous calls; watches with bounded queues; helpers).
xenwire_library(xenstore_client
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/client.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/client_core.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/client_error.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/fd_connection.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/helpers.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/ops.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/ring_connection.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/client/watch.cpp
  DEPS xenwire::xenstore xenwire::ring Threads::Threads)
