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

# The daemons a bench built on saturation_daemon.cpp starts: xenwire-xenstored of this build, and C
# xenstored as dom0's xenstored of a host of its own (--daemon NAME=PROGRAM) with the emulation's
# libraries preloaded (C xenstored built with an RPATH to real Xen libraries, as upstream 4.22's
# $ORIGIN/../lib, would otherwise bypass the emulation).
function(xenwire_bench_daemons target)
  if(TARGET xenwire-xenstored)
    target_compile_definitions(${target} PRIVATE XENWIRE_XENSTORED_BINARY="$<TARGET_FILE:xenwire-xenstored>")
    add_dependencies(${target} xenwire-xenstored)
  endif()
  if(TARGET xenwire-host)
    target_compile_definitions(${target} PRIVATE XENWIRE_HOST_BINARY="$<TARGET_FILE:xenwire-host>")
    add_dependencies(${target} xenwire-host)
    if(TARGET xenwire_emu_manage)
      target_compile_definitions(${target} PRIVATE XENWIRE_EMU_PRELOAD="$<TARGET_SONAME_FILE:xenwire_emu_evtchn>:$<TARGET_SONAME_FILE:xenwire_emu_gnttab>:$<TARGET_SONAME_FILE:xenwire_emu_manage>")
      add_dependencies(${target} xenwire_emu)
    endif()
  endif()
endfunction()

# The kernel-cost floor of a socket xenstored (a fixed reply per request, no store), and the
# saturation benchmark that measures xenwire-xenstored's CPU per request against it, and against
# other daemons, under 1..500 client processes (issue 15). Built, never run by ctest.
add_executable(bench_floor_xenstored ${CMAKE_CURRENT_SOURCE_DIR}/floor_xenstored.cpp)
target_link_libraries(bench_floor_xenstored PRIVATE xenwire::xenstore_wire)
xenwire_warnings(bench_floor_xenstored)

add_executable(bench_xenstore_saturation
  ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_saturation.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/saturation_daemon.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/saturation_load.cpp)
target_link_libraries(bench_xenstore_saturation PRIVATE xenwire::xenstore_wire)
xenwire_warnings(bench_xenstore_saturation)
target_compile_definitions(bench_xenstore_saturation PRIVATE
  XENWIRE_FLOOR_BINARY="$<TARGET_FILE:bench_floor_xenstored>")
add_dependencies(bench_xenstore_saturation bench_floor_xenstored)
xenwire_bench_daemons(bench_xenstore_saturation)

# Memory per node of the server core at 1M nodes, beyond names and values (issue 15), against bare
# std::string pairs holding the same bytes.
add_executable(bench_xenstore_memory ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_memory.cpp)
target_link_libraries(bench_xenstore_memory PRIVATE xenwire::xenstore_server)
xenwire_warnings(bench_xenstore_memory)

# Boot storm (issue 15): xl's create/destroy sequence for D domains through Xen's own libxenstore
# (libxen-dev's, found with pkg-config; without it the bench is left out) against xenwire-xenstored
# and any --daemon NAME=SPEC, with the saturation bench's daemon machinery.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(XENWIRE_BENCH_XENSTORE QUIET IMPORTED_TARGET xenstore)
endif()
if(XENWIRE_BENCH_XENSTORE_FOUND)
  add_executable(bench_xenstore_boot_storm
    ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_boot_storm.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/saturation_daemon.cpp)
  target_link_libraries(bench_xenstore_boot_storm PRIVATE PkgConfig::XENWIRE_BENCH_XENSTORE xenwire::sim_host)
  xenwire_warnings(bench_xenstore_boot_storm)
  xenwire_bench_daemons(bench_xenstore_boot_storm)
  # Smoke run in ctest (5 domains against xenwire-xenstored, under a second) so the bench keeps
  # building and running; its numbers mean nothing at this size.
  if(XENWIRE_BUILD_TESTS AND TARGET xenwire-xenstored)
    add_test(NAME bench_xenstore_boot_storm.smoke
             COMMAND bench_xenstore_boot_storm --domains 5 --parallel 2 --rounds 1 --pin=none)
    set_tests_properties(bench_xenstore_boot_storm.smoke PROPERTIES LABELS "bench" TIMEOUT 60)
  endif()
endif()
