# The sans-I/O server core (connections, dispatch, watches, quotas, domains) on top of the store.
target_sources(xenwire_xenstore_server PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/core.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/core_check.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/dispatch.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/events.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/ops_control.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/ops_domain.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/ops_node.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/ops_transaction.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/ops_watch.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/output_queue.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/server/watch_registry.cpp)
