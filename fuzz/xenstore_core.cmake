# Xenstore server core: sequences of raw byte chunks from dom0, two guests and introduced rings,
# with time steps and domain deaths; core.check() must hold at the end.
xenwire_fuzzer(xenstore_core SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/xenstore_core.cpp DEPS xenwire::xenstore_server)
