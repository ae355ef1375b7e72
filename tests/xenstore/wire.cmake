# The pure codec: framing, request/reply payloads, paths, permissions.
xenwire_test(xenstore_wire_tests
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/wire_args_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/wire_frame_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/wire_requests_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/wire_replies_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/path_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/perms_test.cpp
  DEPS xenwire::xenstore_wire rapidcheck_gtest rapidcheck
  LABELS xenstore)
