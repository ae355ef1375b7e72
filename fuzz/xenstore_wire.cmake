# Xenstore wire codec: framing, per-type request parsing, paths and permissions on arbitrary bytes.
xenwire_fuzzer(xenstore_wire SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_wire.cpp DEPS xenwire::xenstore_wire)
