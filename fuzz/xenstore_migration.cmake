# Xenstore migration stream: the reader on arbitrary bytes; accepted streams must round-trip.
xenwire_fuzzer(migration_stream SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/migration_stream.cpp DEPS xenwire::xenstore_migration)
