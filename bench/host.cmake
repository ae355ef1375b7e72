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

# vchan throughput between two domain processes: bench/host_vchan.sh runs these in pairs.
add_executable(bench_host_vchan_peer ${CMAKE_CURRENT_SOURCE_DIR}/host_vchan_peer.cpp)
target_link_libraries(bench_host_vchan_peer PRIVATE xenwire::backend xenwire::vchan xenwire::xenstore_client)
xenwire_warnings(bench_host_vchan_peer)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(XENWIRE_BENCH_XENVCHAN QUIET IMPORTED_TARGET xenvchan)
endif()
if(XENWIRE_BENCH_XENVCHAN_FOUND AND CMAKE_C_COMPILER_LOADED)
  add_executable(bench_host_vchan_peer_libxenvchan ${CMAKE_CURRENT_SOURCE_DIR}/host_vchan_peer_libxenvchan.c)
  target_link_libraries(bench_host_vchan_peer_libxenvchan PRIVATE PkgConfig::XENWIRE_BENCH_XENVCHAN)
  target_compile_definitions(bench_host_vchan_peer_libxenvchan PRIVATE _DEFAULT_SOURCE)
  target_compile_options(bench_host_vchan_peer_libxenvchan PRIVATE -Wall -Wextra)
endif()

# Request latency over a guest's ring with 1 and with up to 1,000 guests connected, watching and
# busy (issue 15's scale target), against any dom0 xenstored the host can run.
if(TARGET xenwire-host)
  add_executable(bench_xenstore_ring_guests ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_ring_guests.cpp)
  target_link_libraries(bench_xenstore_ring_guests PRIVATE xenwire::sim_host xenwire::xenstore_client Threads::Threads)
  xenwire_warnings(bench_xenstore_ring_guests)
  target_compile_definitions(bench_xenstore_ring_guests PRIVATE XENWIRE_HOST_BINARY="$<TARGET_FILE:xenwire-host>")
  add_dependencies(bench_xenstore_ring_guests xenwire-host xenwire-xenstored)
endif()
