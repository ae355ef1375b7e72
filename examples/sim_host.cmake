# xenwire-sim: the simulated host (the README's main job).
if(TARGET xenwire::xenstored AND TARGET xenwire::xenstore_client AND TARGET xenwire::randomd)
  find_package(CLI11 REQUIRED CONFIG)
  find_package(spdlog REQUIRED CONFIG)
  add_executable(xenwire-sim
    ${CMAKE_CURRENT_SOURCE_DIR}/sim_host/main.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/sim_host/guest.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/sim_host/toolstack.cpp)
  target_link_libraries(xenwire-sim PRIVATE xenwire::xenstored xenwire::xenstore_client xenwire::sim CLI11::CLI11
                                            spdlog::spdlog)
  # dom0 runs randomd (examples/randomd.cmake, configured first: parts go in name order).
  if(TARGET xenwire::randomd)
    target_link_libraries(xenwire-sim PRIVATE xenwire::randomd)
  endif()
  xenwire_warnings(xenwire-sim)
endif()

# The demo is also a test: a whole host with a crash must end with zero failures and a clean leak
# check (it exits non-zero otherwise). Two seeds, so two different crash points.
if(TARGET xenwire-sim AND XENWIRE_BUILD_TESTS)
  foreach(seed 1 2)
    add_test(NAME example.xenwire_sim.seed${seed} COMMAND xenwire-sim --guests 6 --rounds 30 --seed ${seed} --quiet)
    set_tests_properties(example.xenwire_sim.seed${seed} PROPERTIES LABELS "examples concurrent" TIMEOUT 120)
  endforeach()
endif()
