#!/usr/bin/env bash
# Self-test of the local Sentry ingest server (server.js, rules.js, summary.js, wait-port.sh):
# rules on hand-made envelopes, then a real server on 127.0.0.1 driven with curl through every
# fault mode. Prints "N passed, N failed" last; exits non-zero on failure. Needs node and curl.
# Environment: NODE (default node), CURL (default curl).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
DATA="$top/tests/data"
NODE=${NODE:-node}
CURL=${CURL:-curl}
SERVER="$here/server.js"
passed=0
failed=0
W=$(mktemp -d "${TMPDIR:-/tmp}/sp-ingest.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check "description" command...
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
eq() { # eq "description" actual expected
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
for tool in "$NODE" "$CURL"; do
    command -v "$tool" >/dev/null || { echo "selftest: $tool not found" >&2; echo "0 passed, 1 failed"; exit 1; }
done

# tap: counts the "ok - " / "not ok - " lines a node script prints, echoes the rest.
tap() {
    local line
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
    done
}

# ---- rules, without a server -----------------------------------------------------------------
tap < <("$NODE" - "$here/rules.js" "$DATA" <<'EOF' 2>&1 || echo "not ok - rules script crashed"
const fs = require('fs');
const r = require(process.argv[2]);
const D = process.argv[3] + '/';
const say = (good, what) => console.log(`${good ? 'ok' : 'not ok'} - ${what}`);
const clone = (o) => JSON.parse(JSON.stringify(o));
function build(h, items) {
  const parts = [JSON.stringify(h)];
  for (const [ih, p] of items) {
    const s = typeof p === 'string' ? p : JSON.stringify(p);
    parts.push(JSON.stringify({ ...ih, length: Buffer.byteLength(s) }), s);
  }
  return Buffer.from(parts.join('\n') + '\n');
}
function load(f) {
  const env = r.parseEnvelope(fs.readFileSync(D + f));
  return { h: env.header, items: env.items.map((i) => [i.header, JSON.parse(i.payload.toString())]) };
}
function expect(what, env, want) { // want: null = no problem, else a substring of some problem
  const a = r.analyzeBody(build(env.h, env.items));
  if (want === null) say(a.problems.length === 0, `${what}: no problem${a.problems.length ? ` (got ${a.problems.join('; ')})` : ''}`);
  else say(a.problems.some((p) => p.includes(want)), `${what}: "${want}"${a.problems.some((p) => p.includes(want)) ? '' : ` (got ${JSON.stringify(a.problems)})`}`);
}
const chunk = load('ingest-chunk.envelope');
const v1 = load('ingest-v1.envelope');
const mutC = (f) => { const e = clone(chunk); f(e.items[0][1], e.items[0][0], e); return e; };
const mutP = (f) => { const e = clone(v1); f(e.items[1][1], e.items[0][1], e); return e; };
expect('v2 fixture', chunk, null);
expect('v1 fixture', v1, null);
for (const f of ['envelope-sdk-node-1.3.5.envelope', 'cli-a.envelope', 'cli-v1.envelope', 'ingest-client-report.envelope']) {
  const a = r.analyzeBody(fs.readFileSync(D + f));
  say(!a.malformed && a.problems.length === 0, `${f} passes${a.problems.length ? `: ${a.problems}` : ''}`);
}
const hostile = fs.readdirSync(D).filter((f) => /^envelope-.*\.envelope$/.test(f) && f !== 'envelope-sdk-node-1.3.5.envelope');
const notRejected = hostile.filter((f) => !r.analyzeBody(fs.readFileSync(D + f)).malformed);
say(hostile.length >= 10 && notRejected.length === 0, `all ${hostile.length} hostile envelope-*.envelope files are malformed${notRejected.length ? ` (accepted: ${notRejected})` : ''}`);
for (const [s, good] of [['{}', true], ['{}\n{"type":"a"}\nhello', true], ['{}\n{"type":"a","length":0}\n\n{"type":"b","length":1}\nx\n', true],
  ['{}\n\n', false], ['{}\r\n{"type":"a"}\nx\n', false], ['{}\n{"type":"a","length":5.0}\nhello\n', false], ['{}\n{"type":"a","length":null}\n\n', false]]) {
  say(r.analyzeBody(Buffer.from(s)).malformed !== good, `framing ${JSON.stringify(s)} ${good ? 'parses' : 'is malformed'}`);
}
// v2 chunk rules
expect('v2 item header without platform', mutC((p, ih) => { delete ih.platform; }), 'platform');
expect('v2 chunk_id', mutC((p) => { p.chunk_id = 'abc'; }), 'chunk_id is not 32 hex');
expect('v2 profiler_id', mutC((p) => { p.profiler_id = p.profiler_id.toUpperCase(); }), 'profiler_id is not 32 hex');
expect('v2 client_sdk', mutC((p) => { delete p.client_sdk.version; }), 'client_sdk');
expect('v2 platform', mutC((p) => { p.platform = 'javascript'; }), 'platform is not node');
expect('v2 version', mutC((p) => { p.version = 2; }), 'version is not "2"');
expect('v2 release required', mutC((p) => { delete p.release; }), 'release');
expect('v2 one sample', mutC((p) => { p.profile.samples.length = 1; }), 'only 1 samples');
expect('v2 bad stack_id', mutC((p) => { p.profile.samples[0].stack_id = 99; }), 'bad stack_id 99');
expect('v2 bad frame index', mutC((p) => { p.profile.stacks[0].push(5); }), 'bad frame index 5');
expect('v2 numeric thread_id', mutC((p) => { p.profile.samples[0].thread_id = 0; }), 'not a numeric string');
expect('v2 descending per thread', mutC((p) => { p.profile.samples[2].timestamp -= 1; }), 'ascending');
expect('v2 interleaved threads are fine', mutC((p) => { p.profile.samples[1].timestamp -= 0.001; }), null);
expect('v2 span > 66 s', mutC((p) => { p.profile.samples[11].timestamp += 67; }), '> 66 s');
expect('v2 span 60 s ok', mutC((p) => { p.profile.samples[11].timestamp += 59; }), null);
expect('v2 frame lineno type', mutC((p) => { p.profile.frames[0].lineno = '3'; }), 'lineno');
expect('v2 native frame without function is fine', mutC((p) => { delete p.profile.frames[2].function; }), null);
// debug_meta.images as Relay's profile parser takes them: a native ELF file is "symbolic"
const elfImage = { type: 'symbolic', code_file: '/usr/lib/x86_64-linux-gnu/libc.so.6', debug_id: 'c0bcc3f1-9827-fe65-3058-404b2831d9e6',
  code_id: 'f1c3bcc0279865fe3058404b2831d9e64135386c', image_addr: '0x7f5140527000', image_size: 1720320 };
const withImage = (im) => (p) => { p.debug_meta = { images: [{ type: 'sourcemap', code_file: '/app/b.js', debug_id: '395835f4-03e0-4436-80d3-136f0749a893' }, im] }; };
expect('v2 symbolic image', mutC(withImage(elfImage)), null);
expect('v2 elf image fails the profile', mutC(withImage({ ...elfImage, type: 'elf' })), 'is not one of');
expect('v2 image debug_id', mutC(withImage({ ...elfImage, debug_id: 'f1c3bcc0' })), 'is not a debug id');
expect('v2 image_addr', mutC(withImage({ ...elfImage, image_addr: 'x7f' })), 'is not an address');
expect('v1 elf image fails the profile', mutP(withImage({ ...elfImage, type: 'elf' })), 'is not one of');
{
  const a = r.analyzeBody(build(...(({ h, items }) => [h, items])(mutC(withImage({ ...elfImage, debug_id: 'f1c3bcc0-2798-65fe-3058-404b2831d9e6' })))));
  say(a.problems.length === 0 && a.warnings.some((w) => w.includes('little-endian GUID')),
    `v2 image debug_id not its code_id byte-swapped: a warning (got ${JSON.stringify(a.problems.concat(a.warnings))})`);
}
// v1 profile rules
expect('v1 alone', { h: v1.h, items: [v1.items[1]] }, 'profile without its transaction');
expect('v1 transaction id mismatch', mutP((p) => { p.transaction.id = 'f'.repeat(32); }), 'profile without its transaction');
expect('v1 dashed uuids', mutP((p) => { p.event_id = '2e3bef3b-b266-444f-a077-42a4765ab5cd'; }), null);
expect('v1 second profile', (() => { const e = clone(v1); e.items.push(clone(e.items[1])); return e; })(), 'second profile');
expect('v1 event_id', mutP((p) => { p.event_id = 'nope'; }), 'event_id');
expect('v1 version', mutP((p) => { p.version = '2'; }), 'version');
expect('v1 timestamp', mutP((p) => { p.timestamp = 1795549336.9; }), 'RFC 3339');
expect('v1 device.architecture', mutP((p) => { delete p.device.architecture; }), 'device.architecture');
expect('v1 os.version', mutP((p) => { delete p.os.version; }), 'os.version');
expect('v1 runtime', mutP((p) => { delete p.runtime; }), 'runtime');
expect('v1 transaction.trace_id', mutP((p) => { delete p.transaction.trace_id; }), 'trace_id');
expect('v1 transaction.active_thread_id', mutP((p) => { delete p.transaction.active_thread_id; }), 'active_thread_id');
expect('v1 empty transaction name', mutP((p) => { p.transaction.name = ''; }), 'transaction.name');
expect('v1 elapsed as numeric string', mutP((p) => { p.profile.samples.forEach((s) => { s.elapsed_since_start_ns = String(s.elapsed_since_start_ns); }); }), null);
expect('v1 elapsed float', mutP((p) => { p.profile.samples[3].elapsed_since_start_ns += 0.5; }), 'not an integer');
expect('v1 elapsed descending', mutP((p) => { p.profile.samples[3].elapsed_since_start_ns = 1; }), 'ascending');
expect('v1 > 30 s', mutP((p) => { p.profile.samples[p.profile.samples.length - 1].elapsed_since_start_ns = 31e9; }), '> 30 s');
expect('v1 thread_id number', mutP((p) => { p.profile.samples[0].thread_id = 0; }), 'numeric string');
expect('v1 bad stack_id', mutP((p) => { p.profile.samples[0].stack_id = 50; }), 'bad stack_id 50');
expect('v1 bad frame index', mutP((p) => { p.profile.stacks[1].push(21); }), 'bad frame index 21');
expect('v1 idle samples trimmed: too few left', mutP((p) => {
  p.profile.stacks.push([]);
  const idle = p.profile.stacks.length - 1;
  p.profile.samples.forEach((s, i) => { if (i !== 5) s.stack_id = idle; });
}), 'only 0 samples left after trimming');
expect('v1 idle samples at the ends only', mutP((p) => {
  p.profile.stacks.push([]);
  const idle = p.profile.stacks.length - 1;
  p.profile.samples.forEach((s, i) => { if (i < 3 || i > 30) s.stack_id = idle; });
}), null);
// transaction, client_report
const txn = (f) => { const e = clone(v1); f(e.items[0][1]); return e; };
expect('transaction event_id', txn((t) => { t.event_id = t.event_id.toUpperCase(); }), 'event_id');
expect('transaction type', txn((t) => { t.type = 'event'; }), 'type');
expect('transaction start_timestamp', txn((t) => { delete t.start_timestamp; }), 'start_timestamp');
expect('transaction RFC 3339 timestamps', txn((t) => { t.start_timestamp = '2026-11-24T19:42:16.933Z'; t.timestamp = '2026-11-24T19:42:17.338Z'; }), null);
expect('transaction ends before it starts', txn((t) => { t.timestamp = t.start_timestamp - 1; }), 'before start_timestamp');
expect('transaction trace_id', txn((t) => { t.contexts.trace.trace_id = 'x'; }), 'trace_id');
expect('transaction span_id', txn((t) => { t.contexts.trace.span_id = 'b427aff1ca44497'; }), 'span_id');
expect('transaction name', txn((t) => { t.transaction = ''; }), 'transaction name');
const cr = load('ingest-client-report.envelope');
const crm = (f) => { const e = clone(cr); f(e.items[0][1]); return e; };
expect('client_report quantity 0', crm((c) => { c.discarded_events[0].quantity = 0; }), 'quantity');
expect('client_report reason', crm((c) => { delete c.discarded_events[1].reason; }), 'reason');
expect('client_report timestamp', crm((c) => { delete c.timestamp; }), 'timestamp');
expect('unknown item types pass', { h: chunk.h, items: [[{ type: 'statsd' }, 'a:1|c']] }, null);
EOF
)

# The validator keeps its command line behaviour.
out=$("$NODE" "$top/tests/e2e/validate-envelope.js" "$DATA/ingest-chunk.envelope" 2>&1); rc=$?
eq "validate-envelope.js accepts the v2 fixture" "$rc:$out" "0:valid: 1 files, 1 envelopes, 1 chunks, 12 samples"
out=$("$NODE" "$top/tests/e2e/validate-envelope.js" "$DATA/ingest-chunk-bad-stack.envelope" 2>&1); rc=$?
eq "validate-envelope.js reports the bad stack" "$rc:$out" "1:$DATA/ingest-chunk-bad-stack.envelope: sample with bad stack_id 7"

# ---- spool files: single envelopes and batches (spoolfile.js; the validators read batches) ----
SF="$here/spoolfile.js"
sp="$W/spool"
tap < <("$NODE" - "$SF" "$DATA" "$sp" <<'EOF' 2>&1 || echo "not ok - spoolfile script crashed"
const fs = require('fs');
const sf = require(process.argv[2]);
const [D, sp] = process.argv.slice(3);
const say = (good, what) => console.log(`${good ? 'ok' : 'not ok'} - ${what}`);
const H = '{"sentryprof_envelopes":1}\n';
const rec = (b) => Buffer.concat([Buffer.from(`${Buffer.byteLength(b)}\n`), Buffer.from(b), Buffer.from('\n')]);
const batch = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const parsed = (buf) => { const b = sf.parseBatch(buf); return [b.records.map((r) => r.toString('utf8')), b.torn]; };
const rejects = (buf) => { try { sf.parseBatch(buf); return false; } catch (e) { return e instanceof sf.BatchError; } };

say(same(parsed(batch(H)), [[], 0]), 'parseBatch: a header alone is a batch of no record');
say(same(parsed(batch(H, rec('a'), rec('h\u00e9\n'))), [['a', 'h\u00e9\n'], 0]), 'parseBatch: lengths are bytes (UTF-8), a record may hold newlines');
for (const [what, tail] of [['a length line without its newline', '12'], ['fewer than N bytes', '5\nabc'],
  ['no newline after the N bytes', '1\nab'], ['a length that is not digits', 'x1\na\n']]) {
  say(same(parsed(batch(H, rec('a'), tail, rec('b'))), [['a'], tail.length + 4]) && same(parsed(batch(H, tail)), [[], tail.length]),
    `parseBatch: ${what} is a torn tail, ending the list`);
}
for (const [what, head] of [['no newline', '{"sentryprof_envelopes":1}'], ['version 2', '{"sentryprof_envelopes":2}\n'],
  ['another key', '{"sentryprof_envelopes":1,"x":1}\n'], ['no JSON', 'sentryprof_envelopes 1\n'], ['an envelope header', '{"event_id":null}\n']]) {
  say(rejects(batch(head, rec('a'))), `parseBatch: a header line with ${what} is not a batch`);
}

// A spool: ready/ with a single envelope, a batch of two records + a torn third and a temp
// file; an empty open batch in a run folder; bad/: a version 2 batch; mixed/: a batch whose
// second record has a bad stack.
const chunk = fs.readFileSync(`${D}/ingest-chunk.envelope`), v1 = fs.readFileSync(`${D}/ingest-v1.envelope`);
for (const d of ['ready', 'run-1-2', 'bad', 'mixed']) fs.mkdirSync(`${sp}/${d}`, { recursive: true });
fs.writeFileSync(`${sp}/ready/1-x.envelope`, chunk);
fs.writeFileSync(`${sp}/ready/2-txns.envelopes`, batch(H, rec(v1), rec(v1), rec(v1).subarray(0, 40)));
fs.writeFileSync(`${sp}/ready/.tmp-3.envelopes`, batch(H, rec(v1)));
fs.writeFileSync(`${sp}/run-1-2/open-4-txns.envelopes`, H);
fs.writeFileSync(`${sp}/bad/5-txns.envelopes`, batch('{"sentryprof_envelopes":2}\n', rec(v1)));
fs.writeFileSync(`${sp}/mixed/6-txns.envelopes`, batch(H, rec(chunk), rec(fs.readFileSync(`${D}/ingest-chunk-bad-stack.envelope`))));
const f = sf.readSpoolFile(`${sp}/ready/2-txns.envelopes`);
say(f.batch && f.torn === 40 && f.envelopes.every((e) => e.buf.equals(v1)) &&
  same(f.envelopes.map((e) => [e.index, e.name.replace(sp, '')]), [[0, '/ready/2-txns.envelopes#0'], [1, '/ready/2-txns.envelopes#1']]),
  'readSpoolFile: a batch gives its complete records byte for byte, and the torn tail size');
const g = sf.readSpoolFile(`${sp}/ready/1-x.envelope`);
say(!g.batch && g.torn === 0 && g.envelopes.length === 1 && g.envelopes[0].buf.equals(chunk) && g.envelopes[0].name === g.path,
  'readSpoolFile: a single envelope');
say(same(sf.listSpoolFiles(sp, `${sp}/none`).map((p) => p.replace(sp, '')),
  ['/bad/5-txns.envelopes', '/mixed/6-txns.envelopes', '/ready/1-x.envelope', '/ready/2-txns.envelopes', '/run-1-2/open-4-txns.envelopes']),
  'listSpoolFiles: recursive, sorted, no temp file; a missing path holds nothing');
say(sf.spoolEnvelopes(`${sp}/ready`, `${sp}/run-1-2`).length === 3, 'spoolEnvelopes: 3 envelopes in ready/ and the run folder');
EOF
)
out=$("$NODE" "$SF" --count "$sp/ready" "$sp/run-1-2" 2>&1); rc=$?
eq "spoolfile.js --count: single files + complete batch records" "$rc:$out" "0:3"
out=$("$NODE" "$SF" "$sp/ready" 2>&1); rc=$?
v1=$(wc -c <"$DATA/ingest-v1.envelope") chunk=$(wc -c <"$DATA/ingest-chunk.envelope")
eq "spoolfile.js: one line per envelope, its name and bytes" "$rc:$out" \
    "0:$sp/ready/1-x.envelope $chunk"$'\n'"$sp/ready/2-txns.envelopes#0 $v1"$'\n'"$sp/ready/2-txns.envelopes#1 $v1"
out=$("$NODE" "$SF" --files "$sp/ready" "$sp/run-1-2" 2>&1); rc=$?
eq "spoolfile.js --files: the spool files, no temp file" "$rc:$out" \
    "0:$sp/ready/1-x.envelope"$'\n'"$sp/ready/2-txns.envelopes"$'\n'"$sp/run-1-2/open-4-txns.envelopes"
eq "spoolfile.js --count: a missing dir holds nothing" "$("$NODE" "$SF" --count "$W/no-such-spool")" 0
out=$("$NODE" "$SF" --count "$sp" 2>"$W/sf.err"); rc=$?
eq "spoolfile.js --count: a broken batch is an error, and no count" "$rc:$out:$(cat "$W/sf.err")" \
    "1::spoolfile: $sp/bad/5-txns.envelopes: not a valid batch: unknown batch format version 2"
out=$("$NODE" "$top/tests/e2e/validate-envelope.js" "$sp/ready/1-x.envelope" "$sp/ready/2-txns.envelopes" 2>&1); rc=$?
eq "validate-envelope.js reads a batch's records" "$rc:$out" "0:valid: 2 files, 3 envelopes, 1 chunks, 12 samples, torn batch tails ignored: 1"
out=$("$NODE" "$top/tests/e2e/validate-envelope.js" "$sp/mixed/6-txns.envelopes" "$sp/bad/5-txns.envelopes" 2>&1); rc=$?
eq "validate-envelope.js names the bad record and the broken batch" "$rc:$out" \
    "1:$sp/mixed/6-txns.envelopes#1: sample with bad stack_id 7"$'\n'"$sp/bad/5-txns.envelopes: not a valid batch: unknown batch format version 2"
out=$("$NODE" "$here/check-envelopes.js" "$sp/ready" "$sp/run-1-2" 2>&1); rc=$?
eq "check-envelopes.js counts envelopes, not files" "$rc:$out" \
    '0:valid: 3 envelopes in 3 files (torn batch tails ignored: 1), items: {"profile_chunk":1,"transaction":2,"profile":2}'
out=$("$NODE" "$here/check-envelopes.js" "$sp/mixed" 2>&1); rc=$?
check "check-envelopes.js names the bad record" test "$rc" = 1 -a -n "$(grep -F "$sp/mixed/6-txns.envelopes#1: item 0 (profile_chunk): " <<<"$out")"
out=$("$NODE" "$here/check-envelopes.js" "$sp/bad" 2>&1); rc=$?
eq "check-envelopes.js reports a broken batch" "$rc:$out" "1:$sp/bad/5-txns.envelopes: not a valid batch: unknown batch format version 2"
out=$("$NODE" "$here/check-envelopes.js" "$sp/run-1-2" 2>&1); rc=$?
eq "check-envelopes.js: an empty batch is nothing to check" "$rc:$out" "1:no envelopes to check"

# ---- the server ------------------------------------------------------------------------------
start_server() { # start_server NAME args...: sets pid_NAME-less globals spid, sport, sdir
    local name=$1; shift
    sdir="$W/$name"
    "$NODE" "$SERVER" --dir "$sdir" --port 0 --quiet --parent-pid $$ "$@" 2>"$W/$name.err" &
    spid=$!
    pids+=("$spid")
    sport=$("$here/wait-port.sh" "$sdir" 10) || sport=
}

# A server that must stop by itself (runs while the rest of the test goes on).
start_server short --max-seconds 1
short_pid=$spid
check "a --max-seconds 1 server starts" test -n "$sport"

start_server main --max-seconds 60
pid=$spid dir=$sdir port=$sport
check "wait-port.sh prints the port" test -n "$port"
check "the port file holds the listening port" "$CURL" -sf -o /dev/null "http://127.0.0.1:$port/_stats"
[ -n "$port" ] || finish

AUTH="X-Sentry-Auth: Sentry sentry_version=7, sentry_client=selftest/1.0, sentry_key=pub"
CTYPE="Content-Type: application/x-sentry-envelope"
declare -A want_status=()
want_requests=0
want_accepted=0
want_chunks=0
expect_logged() { # expect_logged STATUS-KEY [accepted]
    want_requests=$((want_requests + 1))
    want_status[$1]=$(( ${want_status[$1]:-0} + 1 ))
    [ "${2:-}" = accepted ] && want_accepted=$((want_accepted + 1))
    return 0
}
post() { # post FILE [curl args...]: sets code and cexit; response headers in $W/h, body in $W/b
    local f=$1; shift
    local hdrs=()
    [ -n "$AUTH" ] && hdrs+=(-H "$AUTH")
    [ -n "$CTYPE" ] && hdrs+=(-H "$CTYPE")
    : >"$W/h"; : >"$W/b"
    code=$("$CURL" -sS -o "$W/b" -D "$W/h" -w '%{http_code}' --max-time 5 "${hdrs[@]}" \
        --data-binary @"$f" "$@" 2>"$W/curl.err")
    cexit=$?
}
url() { echo "http://127.0.0.1:$port${1:-/api/1/envelope/}"; }
logq() { # logq EXPR: evaluates EXPR with e = the last line of requests.jsonl
    "$NODE" -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
        const e = JSON.parse(l[l.length - 1]); const v = eval(process.argv[2]);
        console.log(typeof v === "string" ? v : JSON.stringify(v));' "$dir/requests.jsonl" "$1"
}
header() { tr -d '\r' <"$W/h" | sed -n "s/^$1: //Ip" | head -n1; }
control() { "$CURL" -sS -o "$W/cb" -w '%{http_code}' --max-time 5 -d "$1" "$(url /_control)"; }

post "$DATA/ingest-chunk.envelope" "$(url)"
eq "valid v2 chunk: 200" "$code" 200
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "valid v2 chunk: logged ok, accepted" "$(logq '[e.ok, e.accepted, e.items.map(i => i.type).join(), e.problems.length]')" '[true,true,"profile_chunk",0]'
eq "valid v2 chunk: project and key" "$(logq '[e.project, e.public_key, e.headers["x-sentry-auth"].includes("sentry_key=pub")]')" '["1","pub",true]'
check "valid v2 chunk: saved byte for byte" cmp -s "$DATA/ingest-chunk.envelope" "$dir/accepted/000001.envelope"

"$NODE" -e 'process.stdout.write(require("zlib").gzipSync(require("fs").readFileSync(process.argv[1])))' \
    "$DATA/ingest-chunk.envelope" >"$W/chunk.gz"
post "$W/chunk.gz" "$(url)" -H "Content-Encoding: gzip"
eq "gzip chunk: 200" "$code" 200
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "gzip chunk: logged ok with its encoding" "$(logq '[e.ok, e.headers["content-encoding"], e.bytes < e.decoded_bytes]')" '[true,"gzip",true]'
check "gzip chunk: saved decompressed" cmp -s "$DATA/ingest-chunk.envelope" "$dir/accepted/000002.envelope"

AUTH='' post "$DATA/ingest-v1.envelope" "$(url '/api/1/envelope/?sentry_key=pub&sentry_version=7&sentry_client=sentry.javascript.node%2F7.120.4')"
eq "v1 profile + transaction, query auth: 200" "$code" 200
expect_logged 200 accepted
eq "v1 profile + transaction: logged ok" "$(logq '[e.ok, e.public_key, e.envelope_event_id, e.items.map(i => i.type).join()]')" '[true,"pub","e3903dd2f020493ebfb4ba1349f1ee11","transaction,profile"]'
eq "response carries the envelope event_id" "$(cat "$W/b")" '{"id":"e3903dd2f020493ebfb4ba1349f1ee11"}'

post "$DATA/envelope-sdk-node-1.3.5.envelope" "$(url)"
expect_logged 200 accepted
eq "real @sentry/profiling-node envelope (no item lengths): 200 ok" "$code:$(logq 'e.ok')" "200:true"

post "$DATA/ingest-v1-no-transaction.envelope" "$(url)"
expect_logged 200 accepted
eq "profile without transaction: 200 (Sentry drops the item)" "$code" 200
eq "profile without transaction: ok:false with the problem" "$(logq '[e.ok, e.problems.some(p => p.includes("profile without its transaction"))]')" '[false,true]'

post "$DATA/ingest-chunk-bad-stack.envelope" "$(url)"
expect_logged 200 accepted
eq "chunk with a bad stack index: 200, ok:false" "$code:$(logq '[e.ok, e.problems.some(p => p.includes("bad stack_id 7"))]')" '200:[false,true]'

post "$DATA/ingest-client-report.envelope" "$(url)"
expect_logged 200 accepted
eq "client report: 200 ok" "$code:$(logq '[e.ok, e.items[0].summary.discarded_events.length]')" '200:[true,2]'

AUTH='' post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 401
eq "missing auth: 401, not accepted" "$code:$(logq '[e.ok, e.accepted, e.problems.some(p => p.includes("sentry_key"))]')" '401:[false,false,true]'

post "$DATA/envelope-truncated.envelope" "$(url)"
expect_logged 400
eq "malformed envelope: 400 with problems" "$code:$("$NODE" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).problems.length > 0)' "$W/b")" "400:true"

CTYPE='' post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "wrong content-type: accepted but ok:false" "$code:$(logq '[e.ok, e.accepted, e.problems[0].includes("content-type")]')" '200:[false,true,true]'

post "$DATA/ingest-chunk.envelope" "$(url)" -H "Content-Encoding: gzip"
expect_logged 400
eq "gzip header on a plain body: 400" "$code" 400
post "$DATA/ingest-chunk.envelope" "$(url)" -H "Content-Encoding: br"
expect_logged 415
eq "unsupported encoding: 415" "$code" 415
post "$DATA/ingest-chunk.envelope" "$(url /api/1/store/)"
expect_logged 404
eq "unknown endpoint: 404, logged" "$code:$(logq 'e.status')" "404:404"

# Fault modes.
eq "bad control body: 400" "$(control '{"mode":"sideways"}')" 400
eq "429 with retry_after: control" "$(control '{"mode":"429","retry_after":5,"count":1}')" 200
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 429
eq "429 with retry_after: status and Retry-After" "$code:$(header Retry-After)" "429:5"
eq "429: logged with its fault, not saved" "$(logq '[e.status, e.fault, e.accepted, e.saved]')" '[429,"429",false,null]'
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "count:1 applies to one request only" "$code:$(header Retry-After)" "200:"

control '{"mode":"429","rate_limits":"5:profile_chunk:organization","count":1}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 429
eq "429 with rate_limits: X-Sentry-Rate-Limits" "$code:$(header X-Sentry-Rate-Limits)" "429:5:profile_chunk:organization"

control '{"mode":"rate_limits_header","rate_limits":"60:profile:key","count":1}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "rate_limits_header: 200 with the header, saved" "$code:$(header X-Sentry-Rate-Limits):$(logq 'e.accepted')" "200:60:profile:key:true"

control '{"mode":"status","status":500,"count":2}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)"; c1=$code
post "$DATA/ingest-chunk.envelope" "$(url)"; c2=$code
post "$DATA/ingest-chunk.envelope" "$(url)"; c3=$code
expect_logged 500; expect_logged 500; expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "status 500 count:2" "$c1 $c2 $c3" "500 500 200"

control '{"mode":"close","count":1}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged close
eq "close: connection dropped without an answer (curl 52)" "$cexit:$(logq 'e.fault')" "52:close"

control '{"mode":"hang","count":1}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)" --max-time 1
expect_logged hang
eq "hang: no answer until the client gives up (curl 28)" "$cexit:$(logq 'e.fault')" "28:hang"
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "after hang count:1: 200" "$code" 200

# 3 s: long enough for the POST and the GET to land inside the window on a loaded machine;
# the revert is then awaited (polled), not slept for.
mode_now() { "$CURL" -sS "$(url /_control)" | "$NODE" -e 'console.log(JSON.parse(require("fs").readFileSync(0)).state.mode)'; }
control '{"mode":"status","status":503,"for_seconds":3}' >/dev/null
post "$DATA/ingest-chunk.envelope" "$(url)"; c1=$code
eq "GET /_control shows the mode" "$(mode_now)" status
for _ in $(seq 1 100); do [ "$(mode_now)" = ok ] && break; sleep 0.1; done
post "$DATA/ingest-chunk.envelope" "$(url)"; c2=$code
expect_logged 503; expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "for_seconds reverts to ok" "$c1 $c2" "503 200"

t0=$(date +%s%N)
eq "down for 2 s: control answers" "$(control '{"mode":"down","for_seconds":2}')" 200
sleep 0.2
post "$DATA/ingest-chunk.envelope" "$(url)"
eq "down: connection refused (curl 7)" "$cexit" 7
up=
for _ in $(seq 1 60); do
    if "$CURL" -s -o /dev/null --max-time 1 "$(url /_stats)"; then up=1; break; fi
    sleep 0.1
done
t1=$(date +%s%N)
elapsed_ms=$(( (t1 - t0) / 1000000 ))
check "down for 2 s: back on the same port" test -n "$up"
check "down for 2 s: away at least 1.8 s (was ${elapsed_ms} ms)" test "$elapsed_ms" -ge 1800
eq "down for 2 s: port file unchanged" "$(cat "$dir/port")" "$port"
post "$DATA/ingest-chunk.envelope" "$(url)"
expect_logged 200 accepted; want_chunks=$((want_chunks + 1))
eq "after down: 200" "$code" 200

control '{"mode":"down"}' >/dev/null
sleep 0.2
post "$DATA/ingest-chunk.envelope" "$(url)"; c1=$cexit
kill -USR1 "$pid"
up=
for _ in $(seq 1 30); do
    if "$CURL" -s -o /dev/null --max-time 1 "$(url /_stats)"; then up=1; break; fi
    sleep 0.05
done
check "down until SIGUSR1: refused, then up again" test "$c1:$up" = "7:1"

# Totals.
"$CURL" -sS -o "$W/stats.json" "$(url /_stats)"
want_by_status=$(for k in "${!want_status[@]}"; do echo "$k=${want_status[$k]}"; done | sort | paste -sd, -)
eq "/_stats requests and accepted" "$("$NODE" -e 's = require(process.argv[1]); console.log(s.requests + " " + s.accepted)' "$W/stats.json")" "$want_requests $want_accepted"
eq "/_stats by_status" "$("$NODE" -e 's = require(process.argv[1]); console.log(Object.keys(s.by_status).sort().map(k => k + "=" + s.by_status[k]).join())' "$W/stats.json")" "$want_by_status"
eq "/_stats items_by_type" "$("$NODE" -e 's = require(process.argv[1]); const t = s.items_by_type; console.log([t.profile_chunk, t.profile, t.transaction, t.client_report].join())' "$W/stats.json")" "$((want_chunks + 1)),3,2,1"
eq "/_stats problems" "$("$NODE" -e 's = require(process.argv[1]); console.log(s.problems.some(p => p.includes("profile without its transaction")) && s.problems.some(p => p.includes("bad stack_id 7")))' "$W/stats.json")" true

"$NODE" "$here/summary.js" "$dir" >"$W/summary.json"
eq "summary.js: counts" "$("$NODE" -e 's = require(process.argv[1]); console.log([s.requests, s.accepted, s.items_by_type.profile_chunk].join())' "$W/summary.json")" "$want_requests,$want_accepted,$((want_chunks + 1))"
eq "summary.js: chunk_ids with duplicates" "$("$NODE" -e 's = require(process.argv[1]); const n = s.chunk_ids.filter(c => c === "1ee5c0de00000000000000000000c0a1").length; console.log(n + " " + s.duplicate_chunk_ids.join() + " " + s.chunk_ids.includes("1ee5c0de00000000000000000000bad1"))' "$W/summary.json")" "$want_chunks 1ee5c0de00000000000000000000c0a1 true"
eq "summary.js: transactions, client reports, problems" "$("$NODE" -e 's = require(process.argv[1]); console.log([s.transaction_names.join("|"), s.discarded["queue_overflow:profile_chunk"], s.problems.some(p => p.includes("profile without its transaction"))].join())' "$W/summary.json")" "My Transaction|My Transaction,3,true"

# --key and --mode at start.
start_server keyed --max-seconds 30 --key sekrit --mode '{"mode":"429","retry_after":7,"count":1}'
kport=$sport kpid=$spid
AUTH="X-Sentry-Auth: Sentry sentry_version=7, sentry_client=selftest/1.0, sentry_key=sekrit"
post "$DATA/ingest-chunk.envelope" "http://127.0.0.1:$kport/api/1/envelope/"
eq "--mode at start: 429 with Retry-After" "$code:$(header Retry-After)" "429:7"
post "$DATA/ingest-chunk.envelope" "http://127.0.0.1:$kport/api/1/envelope/"
eq "--key: the right key is accepted" "$code" 200
AUTH="X-Sentry-Auth: Sentry sentry_version=7, sentry_client=selftest/1.0, sentry_key=pub"
post "$DATA/ingest-chunk.envelope" "http://127.0.0.1:$kport/api/1/envelope/"
eq "--key: another key gets 403" "$code" 403
kill -INT "$kpid"; wait "$kpid"; rc=$?
eq "SIGINT stops the server (exit 0)" "$rc" 0

# Shutdown.
kill -TERM "$pid"; wait "$pid"; rc=$?
eq "SIGTERM stops the server (exit 0)" "$rc" 0
check "no server process left" bash -c "! kill -0 $pid 2>/dev/null"
check "nothing listens on the port any more" bash -c "! '$CURL' -s -o /dev/null --max-time 1 'http://127.0.0.1:$port/_stats'"
wait "$short_pid"; rc=$?
eq "--max-seconds: the server stopped by itself (exit 0)" "$rc" 0
check "no server stderr output beyond notes" test ! -s "$W/main.err"

finish
