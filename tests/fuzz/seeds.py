#!/usr/bin/env python3
"""Writes the synthetic seeds of the fuzz targets that have no data file to start from
(tests/fuzz/corpus/<target>/seed-*): stacks with a frame-pointer chain for `unwind`, and V8
heaps naming a function for `v8decode`, in the encoding the targets read (see their header
comments: a word with top byte 0xAA is a pointer, its low 16 bits an offset into the
buffer). Run from anywhere; rerun after changing the encoding."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = 0xAA << 56


def rel(off):
    return MARK | off


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def words(ws):
    return b"".join(struct.pack("<Q", w & 0xFFFFFFFFFFFFFFFF) for w in ws)


# unwind: rip, rsp, rbp, then the stack. A chain of n frames at words 8 + 4k, each
# [fp] = next fp, [fp + 8] = a return address; V8 slots below some frames (function at
# fp-16, bytecode array at fp-32: tagged, offset at fp-40: a Smi).
def stack(n, v8=False):
    st = [0] * (8 + 4 * n + 8)
    st[0] = 0x401234
    for k in range(n):
        fp = 8 + 4 * k
        st[fp] = rel((fp + 4) * 8) if k + 1 < n else 0
        st[fp + 1] = 0x500000 + 0x10 * k
        if v8 and fp >= 5:
            st[fp - 2] = 0x7F0000001001 + 0x100 * k
            st[fp - 4] = 0x7F0000002001 + 0x100 * k
            st[fp - 5] = 7 << 32
    return words([0x401000, rel(0), rel(8 * 8)] + st)


put("unwind", "chain3", stack(3))
put("unwind", "chain20-v8", stack(20, v8=True))
put("unwind", "off-stack", words([0x401000, 0x10, 0x20, 0, 0, 0]))


# v8decode: function, bytecode array, bytecode offset slots, then the heap (objects as in
# tests/unit/test_v8decode.c; tagged pointer = offset + 1).
class Heap:
    def __init__(self):
        self.w = []

    def alloc(self, n):
        at = len(self.w)
        self.w += [0] * n
        return at

    def tag(self, at):
        return rel(at * 8 + 1)

    def map_of(self, t):
        m = self.alloc(4)
        self.w[m + 1] = t << 32  # uint16 at byte 12
        return self.tag(m)

    def string(self, s):
        b = s.encode()
        o = self.alloc(2 + (len(b) + 8) // 8)
        self.w[o] = self.map_of(8)
        self.w[o + 1] = len(b) << 32
        padded = b + b"\0" * (8 - len(b) % 8)
        for i in range(0, len(padded), 8):
            self.w[o + 2 + i // 8] = struct.unpack("<Q", padded[i:i + 8])[0]
        return self.tag(o)

    def cons(self, a, b, n):
        o = self.alloc(4)
        self.w[o] = self.map_of(9)
        self.w[o + 1] = n << 32
        self.w[o + 2], self.w[o + 3] = a, b
        return self.tag(o)

    def script(self, name, ends):
        s = self.alloc(8)
        fa = self.alloc(2 + len(ends))
        self.w[fa] = self.map_of(175)
        self.w[fa + 1] = len(ends) << 32
        for i, e in enumerate(ends):
            self.w[fa + 2 + i] = e << 32
        self.w[s] = self.map_of(167)
        self.w[s + 2] = self.string(name)
        self.w[s + 7] = self.tag(fa)
        return self.tag(s)

    def scope_info(self, ncl, start, end, name):
        si = self.alloc(8 + 2 * ncl)
        self.w[si] = self.map_of(261)
        self.w[si + 3], self.w[si + 4], self.w[si + 5] = ncl << 32, start << 32, end << 32
        for i in range(ncl):
            self.w[si + 6 + i] = self.string("local")
            self.w[si + 6 + ncl + i] = 7 << 32
        self.w[si + 6 + 2 * ncl] = name
        self.w[si + 7 + 2 * ncl] = 3 << 32
        return self.tag(si)

    def function(self, nosi, scr):
        f, sfi, b = self.alloc(4), self.alloc(8), self.alloc(4)
        self.w[sfi] = self.map_of(262)
        self.w[sfi + 2] = nosi
        self.w[sfi + 4] = scr
        self.w[f] = self.map_of(2066)
        self.w[f + 3] = self.tag(sfi)
        self.w[b] = self.map_of(191)
        self.w[sfi + 1] = self.tag(b)  # the SFI's function data: its bytecode
        return self.tag(f), self.tag(b)


h = Heap()
fn, bca = h.function(h.string("handleRequest"), h.script("/app/server.js", [5]))
put("v8decode", "name-script", words([fn, bca, 12 << 32] + h.w))
h = Heap()
fn, bca = h.function(h.scope_info(2, 25, 29, h.string("parse")), h.script("file:///app/m.mjs", [10, 20, 30]))
put("v8decode", "scope-info-line", words([fn, bca, 0] + h.w))
h = Heap()
name = h.cons(h.string("handle"), h.string("Request"), 13)
fn, bca = h.function(name, h.script("/app/x.js", [3, 9]))
put("v8decode", "cons-name", words([fn, bca, 0] + h.w))

# v8decode, optimized code: a() with b() inlined at its line 2. Slots: a's JSFunction, the
# instruction start (after a 64-byte InstructionStream header), pc offset 12 (in b's body).
def vlq(u):
    out = b""
    while True:
        byte = u & 0x7F
        u >>= 7
        out += bytes([byte | (0x80 if u else 0)])
        if not u:
            return out


def zz(v):
    return (v << 1) ^ (v >> 63) if v >= 0 else ((-v) << 1) - 1


def byte_array(h, data):
    o = h.alloc(2 + (len(data) + 7) // 8)
    h.w[o] = h.map_of(212)
    h.w[o + 1] = len(data) << 32
    padded = data + b"\0" * (-len(data) % 8)
    for i in range(0, len(padded), 8):
        h.w[o + 2 + i // 8] = struct.unpack("<Q", padded[i:i + 8])[0]
    return h.tag(o)


h = Heap()
scr = h.script("/app/i.js", [14, 21, 28, 30, 45, 60, 70])
fa, _ = h.function(h.string("a"), scr)
fb, _ = h.function(h.string("b"), scr)
sfi_a = h.w[(fa & 0xFFFF) // 8 + 3]
sfi_b = h.w[(fb & 0xFFFF) // 8 + 3]
table, code_off, pos = b"", -1, 0
for c, so, iid in [(0, 12, -1), (10, 50, 0), (20, 29, -1)]:
    raw = (so + 1) << 1 | (iid + 1) << 31
    table += vlq(zz(c - code_off)) + vlq(zz(raw - pos))
    code_off, pos = c, raw
inl = struct.pack("<QiI", (17 + 1) << 1, 0, 0)
isw, code, dd, lits = h.alloc(8), h.alloc(8), h.alloc(10), h.alloc(3)
h.w[isw] = h.map_of(151)
h.w[isw + 1] = h.tag(code)
h.w[lits], h.w[lits + 1], h.w[lits + 2] = h.map_of(175), 1 << 32, sfi_b | 2
h.w[dd], h.w[dd + 1] = h.map_of(175), 8 << 32
h.w[dd + 3], h.w[dd + 4], h.w[dd + 8] = 1 << 32, h.tag(lits), sfi_a
h.w[dd + 9] = byte_array(h, inl)
h.w[code], h.w[code + 1], h.w[code + 2] = h.map_of(150), h.tag(dd), byte_array(h, table)
h.w[code + 5] = rel((isw + 8) * 8)
h.w[code + 6] = 200 | 13 << 32  # instruction size 200, flags: kind 13 (TurboFan)
put("v8decode", "inlined", words([fa, rel((isw + 8) * 8), 12] + h.w))
