# randomd/ fuzzers: what randomd parses from guests (request node, request frames over the vchan).
xenwire_fuzzer(randomd_frames SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/randomd_frames.cpp DEPS xenwire::randomd)
