#!/usr/bin/env python3
"""Writes the cli-*.envelope fixtures for tests/e2e/cli_top.sh (run once; the output is
committed). Counts are chosen so every percentage is exact at two decimals (200 samples in
all, 180 on thread "0" "main", 20 on thread "1" "worker"). Expected `sentryprof top`:

  function                        self  total  (all files, all threads)
  hotLoop (apps/hot.js:3)          140    150
  workerFn (apps/worker.js:2)       20     20
  [native] memcpy (libc.so.6)       10     10
  fib (apps/hot.js:30)              10     10   recursion: counted once per sample
  helper (lib/util.js:5)             9      9   linenos 5 and 7 in two chunks: one row, line 5
  main (apps/hot.js:10)              5    175
  (idle)                             5      5
  0x7f00dead (libfoo.so)             1      1
  (anonymous) (apps/hot.js:20)       0      5
  [native] Builtins_JSEntry (node)   0    130

--js-only: hotLoop 150 self (memcpy's samples), (anonymous) 1 self (0x7f00dead's).
Per file: cli-a 95 samples (1 chunk), cli-b 50 (2 chunks), cli-v1 55 (1 v1 profile).
cli-a: 1 chunk; cli-b: 2 chunks, frames in another order than cli-a; cli-v1: a v1 profile
beside its transaction. cli-malformed: not an envelope. cli-baditem: a valid envelope whose
chunk has an out-of-range stack_id (must add nothing).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = {"name": "sentryprof", "version": "0.1.0"}
T0 = 1795549336.0
HOT = "/app/tests/apps/hot.js"


def js(fn, path, line, module, col=5):
    return {"function": fn, "abs_path": path, "filename": path, "module": module,
            "lineno": line, "colno": col, "in_app": True, "platform": "node"}


def native(fn, path, addr):
    f = {"module": os.path.basename(path), "abs_path": path, "instruction_addr": addr,
         "in_app": False, "platform": "native"}
    if fn:
        f["function"] = fn
    return f


HOTLOOP = js("hotLoop", HOT, 3, "tests.apps:hot", 17)
MAIN = js("main", HOT, 10, "tests.apps:hot")
ANON = js("", HOT, 20, "tests.apps:hot")
FIB = js("fib", HOT, 30, "tests.apps:hot")
HELPER5 = js("helper", "/app/lib/util.js", 5, "lib:util")
HELPER7 = js("helper", "/app/lib/util.js", 7, "lib:util")
WORKER = js("workerFn", "/app/tests/apps/worker.js", 2, "tests.apps:worker")
JSENTRY = native("Builtins_JSEntry", "/usr/bin/node", "0x1a2b3c")
MEMCPY = native("memcpy", "/usr/lib/x86_64-linux-gnu/libc.so.6", "0x7f1234567890")
UNKNOWN = native(None, "/opt/lib/libfoo.so", "0x7f00dead")
THREADS = {"0": {"name": "main"}, "1": {"name": "worker"}}


def profile(frames, runs, v1, t0):
    """runs: [(stack as frame objects leaf first, count, thread_id)], emitted in order."""
    stacks, samples = [], []
    t = 0
    for stack, count, tid in runs:
        ids = [frames.index(f) for f in stack]
        if ids not in stacks:
            stacks.append(ids)
        sid = stacks.index(ids)
        for _ in range(count):
            s = {"stack_id": sid, "thread_id": tid}
            if v1:
                s["elapsed_since_start_ns"] = t * 10101000
            else:
                s["timestamp"] = round(t0 + t * 0.010101, 6)
            samples.append(s)
            t += 1
    return {"samples": samples, "stacks": stacks, "frames": frames,
            "thread_metadata": THREADS}


def chunk(n, frames, runs, t0):
    return {"chunk_id": "%032x" % (0xc0ffee00 + n), "profiler_id": "5e17e2f0" + "0" * 23 + "1",
            "client_sdk": SDK, "platform": "node", "version": "2", "release": "",
            "environment": "production", "profile": profile(frames, runs, False, t0)}


def envelope(name, items):
    out = [json.dumps({"sent_at": "2026-11-25T19:00:00.000Z", "sdk": SDK},
                      separators=(",", ":")).encode()]
    for typ, payload, extra in items:
        body = payload if isinstance(payload, bytes) else json.dumps(
            payload, separators=(",", ":")).encode()
        head = {"type": typ, "length": len(body)}
        head.update(extra)
        out += [json.dumps(head, separators=(",", ":")).encode(), body]
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(b"\n".join(out) + b"\n")


NODE = {"platform": "node"}

# cli-a: 95 samples (thread 0: 75, thread 1: 20)
a_frames = [HOTLOOP, MAIN, JSENTRY, MEMCPY, WORKER]
envelope("cli-a.envelope", [("profile_chunk", chunk(1, a_frames, [
    ([HOTLOOP, MAIN, JSENTRY], 60, "0"),
    ([MEMCPY, HOTLOOP, MAIN, JSENTRY], 10, "0"),
    ([], 5, "0"),
    ([WORKER, JSENTRY], 20, "1"),
], T0), NODE)])

# cli-b: two chunks, 45 + 5 samples, thread 0
b1_frames = [MAIN, HELPER5, HOTLOOP, JSENTRY, FIB]
b2_frames = [HELPER7, ANON, MAIN, UNKNOWN]
envelope("cli-b.envelope", [
    ("profile_chunk", chunk(2, b1_frames, [
        ([HOTLOOP, MAIN, JSENTRY], 30, "0"),
        ([FIB, FIB, FIB, MAIN, JSENTRY], 10, "0"),
        ([HELPER5, MAIN], 5, "0"),
    ], T0 + 10), NODE),
    ("profile_chunk", chunk(3, b2_frames, [
        ([HELPER7, ANON, MAIN], 4, "0"),
        ([UNKNOWN, ANON, MAIN], 1, "0"),
    ], T0 + 15), NODE),
])

# cli-v1: transaction + v1 profile, 55 samples, thread 0
trace = "954f6e70ce90467b8435c378432e3ed0"
txn = {"event_id": "e3903dd2f020493ebfb4ba1349f1ee11", "type": "transaction",
       "transaction": "My Transaction", "start_timestamp": T0, "timestamp": T0 + 6,
       "contexts": {"trace": {"trace_id": trace, "span_id": "b427aff1ca44497a"}}}
v1 = {"event_id": "2e3bef3bb266444fa07742a4765ab5cd", "timestamp": "2026-11-24T19:42:16.000Z",
      "platform": "node", "version": "1", "release": "", "environment": "production",
      "runtime": {"name": "node", "version": "20.20.2"},
      "os": {"name": "linux", "version": "6.1.0"},
      "device": {"architecture": "x64", "model": "x86_64", "manufacturer": "Linux",
                 "locale": "C.UTF-8", "is_emulator": False},
      "transaction": {"name": "My Transaction", "id": txn["event_id"], "trace_id": trace,
                      "active_thread_id": "0"},
      "profile": profile([HOTLOOP, MAIN], [([HOTLOOP, MAIN], 50, "0"), ([MAIN], 5, "0")],
                         True, 0)}
envelope("cli-v1.envelope", [("transaction", txn, {}), ("profile", v1, {})])

# cli-baditem: a well-formed envelope whose chunk points at stack 5 of 1
bad = chunk(4, [HOTLOOP], [([HOTLOOP], 3, "0")], T0)
bad["profile"]["samples"][1]["stack_id"] = 5
envelope("cli-baditem.envelope", [("profile_chunk", bad, NODE)])

# cli-malformed: the header line is not JSON and the item length runs past the end
with open(os.path.join(HERE, "cli-malformed.envelope"), "wb") as f:
    f.write(b'{"sent_at":"2026-11-25T19:00:00.000Z",\n{"type":"profile_chunk","length":99999}\n{}\n')
