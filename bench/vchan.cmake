# vchan/ benchmarks: endpoint throughput (ratio to memcpy) and packet round trips over the simulator.
add_executable(bench_vchan_throughput ${CMAKE_CURRENT_SOURCE_DIR}/vchan_throughput.cpp)
target_link_libraries(bench_vchan_throughput PRIVATE xenwire::vchan xenwire::sim Threads::Threads)
xenwire_warnings(bench_vchan_throughput)
