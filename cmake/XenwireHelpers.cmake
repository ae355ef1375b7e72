# Small helpers shared by xenwire's component CMakeLists.

# xenwire_warnings(<target>): the warning set every xenwire target is built with.
function(xenwire_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wimplicit-fallthrough)
endfunction()

# xenwire_library(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Defines xenwire_<name> with alias xenwire::<name>, public headers in <dir>/include,
# internals in <dir>/src (not on the public include path), exported as xenwire::<name>.
function(xenwire_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target xenwire_${name})
  if(ARG_SOURCES)
    add_library(${target} ${ARG_SOURCES})
    set(scope PUBLIC)
    target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    xenwire_warnings(${target})
  else()
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  endif()
  add_library(xenwire::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME xenwire_${name})
  target_compile_features(${target} ${scope} cxx_std_20)
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(ARG_DEPS)
    target_link_libraries(${target} ${scope} ${ARG_DEPS})
  endif()
  if(ARG_PRIVATE_DEPS)
    target_link_libraries(${target} PRIVATE ${ARG_PRIVATE_DEPS})
  endif()
  set_property(GLOBAL APPEND PROPERTY XENWIRE_EXPORTED_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY XENWIRE_INCLUDE_DIRS ${CMAKE_CURRENT_SOURCE_DIR}/include)
endfunction()

# xenwire_test(<name> SOURCES ... DEPS ... [LABELS ...]): a GoogleTest executable registered with ctest.
function(xenwire_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  xenwire_warnings(${name})
  # gtest_discover_tests flattens a list-valued property to its first element: pass the labels as
  # one space-separated string instead; ctest -L matches by regex, so "-L concurrent" still finds
  # "sim concurrent".
  string(REPLACE ";" " " labels "${ARG_LABELS}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${labels}")
endfunction()
