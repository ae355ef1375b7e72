# vchan/ benchmarks: endpoint throughput (ratio to memcpy) and packet round trips over the simulator.
add_executable(bench_vchan_throughput ${CMAKE_CURRENT_SOURCE_DIR}/vchan_throughput.cpp)
target_link_libraries(bench_vchan_throughput PRIVATE xenwire::vchan xenwire::sim Threads::Threads)
xenwire_warnings(bench_vchan_throughput)
# Smoke run in ctest (one tiny case, unpinned) so the bench keeps building and running; its numbers
# mean nothing at this size.
if(XENWIRE_BUILD_TESTS)
  add_test(NAME bench_vchan_throughput.smoke COMMAND bench_vchan_throughput --pin=none 1 1 2000 64 4096)
  set_tests_properties(bench_vchan_throughput.smoke PROPERTIES LABELS "bench" TIMEOUT 60)
endif()
