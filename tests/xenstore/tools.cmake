# xenwire-xenstore (the CLI) run by ctest against xenwire-xenstored on a private socket:
# golden outputs (tests/tools/golden) and `ls` compared with Debian's xenstore-ls on the same store.
if(TARGET xenwire-xenstore AND TARGET xenwire-xenstored)
  set(_tools_dir ${PROJECT_SOURCE_DIR}/tests/tools)
  add_test(NAME tools_cli_golden
    COMMAND bash ${_tools_dir}/run_golden.sh $<TARGET_FILE:xenwire-xenstore> $<TARGET_FILE:xenwire-xenstored>
            ${_tools_dir}/golden)
  add_test(NAME tools_ls_matches_xenstore_ls
    COMMAND bash ${_tools_dir}/ls_compat.sh $<TARGET_FILE:xenwire-xenstore> $<TARGET_FILE:xenwire-xenstored>)
  # xenwire-xenstored started as Debian's init.d/xen and Xen's launch-xenstore start C xenstored.
  add_test(NAME daemon_launch_like_c
    COMMAND bash ${_tools_dir}/launch_like_c.sh $<TARGET_FILE:xenwire-xenstored> $<TARGET_FILE:xenwire-xenstore>)
  set_tests_properties(daemon_launch_like_c PROPERTIES LABELS "xenstore;daemon;tools" TIMEOUT 60)
  set_tests_properties(tools_cli_golden tools_ls_matches_xenstore_ls PROPERTIES
    LABELS "xenstore;client;tools" TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
