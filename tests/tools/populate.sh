# Sourced: fills the store with the tree the golden files describe, through the tool under test.
# Values carry bytes xenstore-ls escapes (tab, newline, control, DEL, non-ASCII, backslash, quote).
set -e
"$TOOL" write /golden/a "hello" /golden/b "" /golden/esc "$(printf 'a\tb\nc\001d\177e\\f"g\303\251')"
"$TOOL" write /golden/long "$(printf 'x%.0s' $(seq 100))" /golden/sub/leaf "leaf value" /golden/sub/deeper/x 1
"$TOOL" write "/golden/sub/$(printf 'n%.0s' $(seq 80))" v
"$TOOL" mkdir /golden/empty
"$TOOL" chmod /golden/a b0 r5 w7
"$TOOL" chmod /golden/sub n3 b4
set +e
