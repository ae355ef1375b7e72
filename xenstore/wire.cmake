# xenwire::xenstore: the pure wire codec, paths and permissions (shared by the server and the client).
xenwire_library(xenstore
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/args.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/frame_decoder.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/message_writer.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/msg_type.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/path.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/perms.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/replies.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/wire/requests.cpp
  DEPS xenwire::ring)
