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
# Live-update blackout (xenwire-xenstored replaced by itself under a probe client), against a plain
# restart of an empty daemon in the same run.
if(TARGET xenwire-xenstored)
  add_executable(bench_live_update_blackout ${CMAKE_CURRENT_SOURCE_DIR}/live_update_blackout.cpp)
  target_link_libraries(bench_live_update_blackout PRIVATE xenwire::xenstore_wire Threads::Threads)
  xenwire_warnings(bench_live_update_blackout)
  target_compile_definitions(bench_live_update_blackout PRIVATE
    XENWIRE_XENSTORED_BINARY="$<TARGET_FILE:xenwire-xenstored>")
  add_dependencies(bench_live_update_blackout xenwire-xenstored)
endif()
