# randomd: entropy for guests over vchan (library, simulated testbed, CLI, tests). See docs/randomd.md.
if(TARGET xenwire::vchan AND TARGET xenwire::xenstore_client AND TARGET xenwire::xenstored)
  set(_rd ${CMAKE_CURRENT_SOURCE_DIR}/randomd)

  # Not installed: an example service over xenwire's public libraries.
  add_library(xenwire_randomd STATIC
    ${_rd}/src/discovery.cpp
    ${_rd}/src/entropy.cpp
    ${_rd}/src/guest.cpp
    ${_rd}/src/protocol.cpp
    ${_rd}/src/server.cpp
    ${_rd}/src/token_bucket.cpp)
  add_library(xenwire::randomd ALIAS xenwire_randomd)
  target_include_directories(xenwire_randomd PUBLIC ${_rd}/include PRIVATE ${_rd}/src)
  target_link_libraries(xenwire_randomd PUBLIC xenwire::vchan xenwire::xenstore_client)
  target_compile_features(xenwire_randomd PUBLIC cxx_std_20)
  xenwire_warnings(xenwire_randomd)

  # A simulated host with xenstored and randomd: the CLI's demo and the tests share it.
  add_library(xenwire_randomd_testbed STATIC ${_rd}/testbed/simulated_host.cpp)
  add_library(xenwire::randomd_testbed ALIAS xenwire_randomd_testbed)
  target_include_directories(xenwire_randomd_testbed PUBLIC ${_rd}/testbed)
  target_link_libraries(xenwire_randomd_testbed PUBLIC xenwire::randomd xenwire::xenstored xenwire::sim Threads::Threads)
  xenwire_warnings(xenwire_randomd_testbed)

  find_package(CLI11 REQUIRED CONFIG)
  add_executable(xenwire-randomd ${_rd}/cli/main.cpp ${_rd}/cli/demo.cpp)
  target_include_directories(xenwire-randomd PRIVATE ${_rd}/cli)
  target_link_libraries(xenwire-randomd PRIVATE xenwire::randomd xenwire::randomd_testbed CLI11::CLI11)
  xenwire_warnings(xenwire-randomd)

  if(XENWIRE_BUILD_TESTS)
    # examples/ is configured before tests/: bring GoogleTest's helpers here too.
    find_package(GTest REQUIRED)
    include(GoogleTest)
    set(_rt ${PROJECT_SOURCE_DIR}/tests/randomd)
    xenwire_test(test_randomd_protocol
      SOURCES ${_rt}/protocol_test.cpp ${_rt}/token_bucket_test.cpp ${_rt}/discovery_test.cpp
      DEPS xenwire::randomd
      LABELS randomd)
    xenwire_test(test_randomd_service
      SOURCES ${_rt}/service_test.cpp ${_rt}/hostile_test.cpp
      DEPS xenwire::randomd xenwire::randomd_testbed
      LABELS randomd concurrent)
    add_test(NAME example.xenwire_randomd.demo COMMAND xenwire-randomd demo --guests 3 --bytes 3000)
    set_tests_properties(example.xenwire_randomd.demo PROPERTIES LABELS "examples randomd concurrent" TIMEOUT 60)
  endif()
endif()
