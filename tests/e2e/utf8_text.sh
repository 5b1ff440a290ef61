#!/usr/bin/env bash
# Issue #20 item 4: a SENTRY_RELEASE, SENTRY_ENVIRONMENT or LANG that is not valid UTF-8,
# or a long one our truncation would cut in the middle of a character, used to make every
# envelope impossible to build (jansson refuses the string): nothing spooled, nothing said.
# Now: the bytes that are not UTF-8 become U+FFFD, a cut falls on a character boundary, one
# line says so, and every profile is spooled, valid, with the repaired text in it.
. "$(dirname "$0")/lib.sh"
need_node
# field FILE_OR_DIR JS: evaluates JS over every envelope's items (items: [{type, header,
# payload}] of each, the payloads parsed), one line per envelope.
field() {
    "$NODE" -e '
const sf = require(process.argv[1]);
for (const e of sf.spoolEnvelopes(process.argv[2])) {
  const items = sf.envelopeItems(e.buf).map((i) => ({ type: i.type, p: i.payload }));
  console.log(JSON.stringify((new Function("items", "return " + process.argv[3]))(items)));
}' "$SPOOLFILE" "$1" "$2"
}
lines() { grep -c -- "$2" "$1"; }
ffd=$'\xef\xbf\xbd' # U+FFFD

# -- continuous mode: a release with a Latin-1 byte
spool="$WORK/release"
SENTRY_RELEASE=$'caf\xe9-1.0' SENTRYPROF_MODE=continuous SENTRYPROF_COMMIT_SECONDS=1 SENTRYPROF_SPOOL_DIR="$spool" \
    LD_PRELOAD=$SP_LIB "$NODE" "$APPS/steady.js" 2 >/dev/null 2>"$WORK/release.err"
n=$(count_envelopes "$spool")
check "SENTRY_RELEASE=caf\\xe9-1.0: profiles spooled (expected >= 1 envelope, saw ${n:-0})" test "${n:-0}" -ge 1
check "SENTRY_RELEASE=caf\\xe9-1.0: every envelope valid" "$NODE" "$VALIDATE" $(spool_files "$spool")
rels=$(field "$spool" 'items.map((i) => i.p.release).join()' | sort -u)
check "SENTRY_RELEASE=caf\\xe9-1.0: the chunks say release \"caf\\ufffd-1.0\" (saw $rels)" test "$rels" = "\"caf$ffd-1.0\""
check "SENTRY_RELEASE=caf\\xe9-1.0: one line on stderr saying so (saw: $(cat "$WORK/release.err"))" \
    test "$(wc -l <"$WORK/release.err")" = 1 -a "$(lines "$WORK/release.err" 'SENTRY_RELEASE is not valid UTF-8: 1 byte replaced by U+FFFD')" = 1

# -- transaction mode: environment and locale (LANG cut in the middle of a character)
spool="$WORK/envlang"
out=$(SENTRY_ENVIRONMENT=$'prod\xff' LANG=$'de_DE.\xc3' SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" \
    LD_PRELOAD=$SP_LIB "$NODE" "$APPS/txn-burn.js" 2>"$WORK/envlang.err")
check "bad SENTRY_ENVIRONMENT and LANG: app output unchanged ($out)" test "$out" = done
got=$(field "$spool" '[items.map((i) => i.type).join("+"), items[0].p.environment, items[1] && items[1].p.device.locale]')
check "bad SENTRY_ENVIRONMENT and LANG: the transaction and its profile spooled, repaired (saw: ${got:-nothing})" \
    test "$got" = "[\"transaction+profile\",\"prod$ffd\",\"de_DE.$ffd\"]"
check "bad SENTRY_ENVIRONMENT and LANG: every envelope valid" "$NODE" "$VALIDATE" $(spool_files "$spool")
check "bad SENTRY_ENVIRONMENT and LANG: one line for each (saw: $(cat "$WORK/envlang.err"))" \
    test "$(wc -l <"$WORK/envlang.err")" = 2 -a "$(lines "$WORK/envlang.err" 'SENTRY_ENVIRONMENT is not valid UTF-8')" = 1 \
    -a "$(lines "$WORK/envlang.err" 'LANG is not valid UTF-8')" = 1

# -- a release longer than its 255 bytes, all two-byte characters: cut on a boundary
spool="$WORK/long"
long=$(printf 'é%.0s' $(seq 200)) # 400 bytes
SENTRY_RELEASE="$long" SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" \
    LD_PRELOAD=$SP_LIB "$NODE" "$APPS/txn-burn.js" >/dev/null 2>"$WORK/long.err"
got=$(field "$spool" '[items.length, items[0].p.release.length, /^é+$/.test(items[0].p.release)]')
check "a 400-byte release of é: spooled, cut to 127 whole characters (saw: ${got:-nothing})" test "$got" = "[2,127,true]"
check "a 400-byte release: one line saying it was truncated (saw: $(cat "$WORK/long.err"))" \
    test "$(wc -l <"$WORK/long.err")" = 1 -a "$(lines "$WORK/long.err" 'SENTRY_RELEASE is longer than 255 bytes; truncated')" = 1

# -- the same from an app's Sentry SDK (its release, 300 characters of é, handed to the bridge)
spool="$WORK/sdk"
SDK_RELEASE="$long$long" SENTRYPROF_MODE=transaction SENTRYPROF_SPOOL_DIR="$spool" \
    LD_PRELOAD=$SP_LIB "$NODE" "$APPS/txn-burn.js" >/dev/null 2>"$WORK/sdk.err"
got=$(field "$spool" '[items.length, items[0].p.release.length, /^é+$/.test(items[0].p.release)]')
check "an SDK's 800-byte release of é: spooled, cut to 127 whole characters (saw: ${got:-nothing})" test "$got" = "[2,127,true]"
check "an SDK's long release: no stderr ($(cat "$WORK/sdk.err"))" test ! -s "$WORK/sdk.err"
finish
