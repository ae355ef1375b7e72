# vchan/ fuzzers: an endpoint facing a hostile peer's control page and rings.
xenwire_fuzzer(vchan_endpoint SOURCES vchan_endpoint.cpp DEPS xenwire::vchan xenwire::sim)
