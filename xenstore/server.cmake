# xenwire::xenstore_server: the sans-I/O server core. This part: the persistent data store and its
# transactions (store_*, transaction*, node_*). Other parts add their sources to the same target
# with target_sources(xenwire_xenstore_server PRIVATE ...) (deferred if their file sorts first).
# xenwire::xenstore (wire.cmake, which sorts later) is resolved at generate time.
xenwire_library(xenstore_server
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/src/server/node_children.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/server/node_release.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/server/store.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/server/store_tree.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/server/transaction.cpp
  DEPS xenwire::xenstore)
