# xenstored load benchmark: speaks the socket protocol to any xenstored (ours or another at
# XENSTORED_PATH) and compares with a raw Unix-socket ping-pong measured in the same run.
add_executable(bench_xenstore_load ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_load.cpp)
target_link_libraries(bench_xenstore_load PRIVATE xenwire::xenstore_wire Threads::Threads)
xenwire_warnings(bench_xenstore_load)
if(TARGET xenwire-xenstored)
  # Default daemon to spawn when no socket is given.
  target_compile_definitions(bench_xenstore_load PRIVATE
    XENWIRE_XENSTORED_BINARY="$<TARGET_FILE:xenwire-xenstored>")
  add_dependencies(bench_xenstore_load xenwire-xenstored)
endif()
