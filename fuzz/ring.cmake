# ring/ fuzzers: ring consumers fed hostile shared pages.
xenwire_fuzzer(ring_xenstore_server SOURCES ring_xenstore_server.cpp DEPS xenwire::ring)
xenwire_fuzzer(ring_xenstore_guest SOURCES ring_xenstore_guest.cpp DEPS xenwire::ring)
xenwire_fuzzer(ring_vchan SOURCES ring_vchan.cpp DEPS xenwire::ring)
xenwire_fuzzer(ring_io_back SOURCES ring_io_back.cpp DEPS xenwire::ring)
