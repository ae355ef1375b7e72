# ring/ benchmarks: stream throughput through the ring algorithms, as a ratio to memcpy.
add_executable(bench_ring_throughput ${CMAKE_CURRENT_SOURCE_DIR}/ring_throughput.cpp)
target_link_libraries(bench_ring_throughput PRIVATE xenwire::ring xenwire::sim Threads::Threads)
xenwire_warnings(bench_ring_throughput)
