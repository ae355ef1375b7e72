# The server core, driven through its real interface by a harness (support/core_harness.hpp).
foreach(t core_node_test core_watch_test core_transaction_test core_domain_test core_quota_test core_xsa_test
          core_model_test core_effects_test core_perms_test core_live_update_test)
  xenwire_test(${t}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.cpp
    DEPS xenwire::xenstore_server rapidcheck_gtest rapidcheck LABELS xenstore core)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/support)
endforeach()
