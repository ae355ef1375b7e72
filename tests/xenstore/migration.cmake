# The migration stream (xenwire::xenstore_migration): record model, writer, hostile-input reader.
xenwire_test(xenstore_migration_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/migration_writer_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/migration_reader_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/migration_property_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/migration_corpus_test.cpp
  DEPS xenwire::xenstore_migration rapidcheck_gtest rapidcheck
  LABELS xenstore migration)
target_include_directories(xenstore_migration_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/support)
target_compile_definitions(xenstore_migration_tests PRIVATE
  XENWIRE_MIGRATION_CORPUS="${PROJECT_SOURCE_DIR}/fuzz/corpus/migration_stream")

# The server core's export to records and import into a fresh core (live update's state).
xenwire_test(xenstore_migration_core_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/migration_core_test.cpp
  DEPS xenwire::xenstore_server xenwire::xenstore_migration
  LABELS xenstore migration core)
target_include_directories(xenstore_migration_core_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/support)
