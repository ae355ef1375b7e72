# xenstore-utils against whatever daemon XENSTORED_PATH names, as dom0: one set of checks that
# scripts/interop.sh (xenwire-xenstored) and tests/interop/host_xenstored.sh (C xenstored, or ours
# on its Xen backend, on the simulated host) both run, so the daemons answer the same questions.
# Sourced; the caller defines check <label> <command...>, expect <label> <stdout> <command...> and
# t <command...> (a timeout wrapper).
#   xenstore_utils_checks <domid>   <domid>: the domain given read access by xenstore-chmod
xenstore_utils_checks() {
  local reader=$1
  expect "xenstore-write" "" t xenstore-write /interop/a 1 /interop/b two /interop/c three
  expect "xenstore-read" $'1\ntwo' t xenstore-read /interop/a /interop/b
  check "xenstore-exists (present)" t xenstore-exists /interop/a
  check "xenstore-exists (absent)" bash -c '! timeout 10 xenstore-exists /interop/none'
  expect "xenstore-list" $'a\nb\nc' t xenstore-list /interop
  expect "xenstore-ls" $'a = "1"\nb = "two"\nc = "three"' t xenstore-ls /interop
  expect "xenstore-rm" "" t xenstore-rm /interop/c
  expect "xenstore-list after rm" $'a\nb' t xenstore-list /interop
  check "xenstore-read of removed node fails" bash -c '! timeout 10 xenstore-read /interop/c 2>/dev/null'
  expect "xenstore-chmod" "" t xenstore-chmod /interop/a n0 "r$reader"
  check "xenstore-ls -p shows the perms" \
    bash -c 'timeout 10 xenstore-ls -p /interop | grep -q "^a = \"1\" .*(n0,r$1)$"' _ "$reader"
}
