# The persistent data store and its transactions (xenwire::xenstore_server's store part).
# Suite names start with store_/transaction_ so `ctest -R 'store|transaction'` selects them.
xenwire_test(xenstore_store_tests
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/store_ops_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/store_accounting_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/store_model_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/store_scale_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/store_load_test.cpp
  DEPS xenwire::xenstore_server rapidcheck_gtest rapidcheck
  LABELS xenstore)

xenwire_test(xenstore_transaction_tests
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/transaction_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/transaction_property_test.cpp
  DEPS xenwire::xenstore_server rapidcheck_gtest rapidcheck
  LABELS xenstore)
