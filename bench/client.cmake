# Xenstore client overhead: requests/s through xenwire::xenstore_client vs the raw protocol on the
# same daemon socket, one thread and 16 threads sharing one connection.
if(TARGET xenwire::xenstore_client AND TARGET xenwire::xenstore_daemon)
  add_executable(bench_client_overhead ${CMAKE_CURRENT_SOURCE_DIR}/client_overhead.cpp)
  target_link_libraries(bench_client_overhead PRIVATE xenwire::xenstore_client xenwire::xenstore_daemon Threads::Threads)
  xenwire_warnings(bench_client_overhead)
endif()
