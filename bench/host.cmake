# The cross-process host's benchmarks: notify-to-wake latency across processes (ratio to raw eventfd
# and pipe ping-pongs), and vchan throughput between two domain processes (host_vchan.sh: xenwire
# against Debian's libxenvchan on the libxen emulation, and a bare SPSC ring in the same shared memory).
add_executable(bench_host_notify_latency ${CMAKE_CURRENT_SOURCE_DIR}/host_notify_latency.cpp)
target_link_libraries(bench_host_notify_latency PRIVATE xenwire::sim_host Threads::Threads)
xenwire_warnings(bench_host_notify_latency)
if(XENWIRE_BUILD_TESTS)
  add_test(NAME bench_host_notify_latency.smoke COMMAND bench_host_notify_latency --pin=none 200)
  set_tests_properties(bench_host_notify_latency.smoke PROPERTIES LABELS "bench" TIMEOUT 60)
endif()
