#!/usr/bin/env bash
# Issue #13 cause 1: functions V8 inlined into optimized code are frames of their own, and
# each caller carries its call site's line. Fixture tests/apps/inline.js: a() calls b() on
# CALL_B and c() on CALL_C; TurboFan (and Maglev) inline both into a(). In every tier the
# node runs here, samples whose innermost JS frame is b() must have a() under them at
# CALL_B, those with c() at CALL_C (never the other line), and under optimization b() and c()
# must be decoded out of a()'s code (the debug counters say how many frames were expanded).
# In the interpreter the b:c split is compared with V8's own sampler in the same run
# (--cpu-prof); under TurboFan and Maglev V8's --cpu-prof puts b's and c's time on a()
# (measured on Node 24: its code entries carried no inline stacks), so it is not run there.
# CPU clock: a busy machine slows both sides alike.
#
# Tiers: default (TurboFan), Maglev (where this node has it and tiers a() up: run with
# --no-maglev-loop-peeling, because Maglev's loop peeling records the loop header as the call
# site of the functions inlined in the loop: V8's own data says so, see docs/V8-FRAMES.md),
# the interpreter (frames named from their bytecode offsets) and Sparkplug (the bytecode
# its code's offset table says a pc runs).
. "$(dirname "$0")/lib.sh"
need_node
line_b=$(grep -n 'CALL_B$' "$APPS/inline.js" | cut -d: -f1)
line_c=$(grep -n 'CALL_C$' "$APPS/inline.js" | cut -d: -f1)
facts() { "$NODE" -p "const o = $1; $2"; }

# run NAME FLAGS...: the fixture under the shim; sets ours (and v8 with --cpu-prof among
# FLAGS: V8's sampler beside ours spoils many of our samples, issue #13 cause 6, so only
# where the comparison says something).
run() {
    local name=$1; shift
    local spool="$WORK/$name-spool" rc out
    local flags=("$@")
    v8='{}'
    [[ " $* " == *" --cpu-prof "* ]] && flags+=(--cpu-prof-dir="$WORK/$name-prof")
    out=$(SENTRYPROF_CLOCK=cpu SENTRYPROF_HZ=500 SENTRYPROF_SPOOL_DIR=$spool SENTRYPROF_DEBUG=1 \
        LD_PRELOAD=$SP_LIB "$NODE" "${flags[@]}" "$APPS/inline.js" 2 2>"$WORK/$name-err")
    rc=$?
    check "$name: app exit code unchanged (0)" test "$rc" = 0
    check "$name: app stdout unchanged (saw: $out)" test "$out" = done
    mapfile -t files < <(spool_files "$spool")
    check "$name: spooled envelopes pass the v2 rules" "$NODE" "$VALIDATE" "${files[@]}"
    ours=$("$NODE" "$(dirname "$0")/inline-facts.js" "${files[@]}")
    [ -d "$WORK/$name-prof" ] &&
        v8=$("$NODE" "$(dirname "$0")/inline-facts.js" --cpuprofile "$WORK/$name-prof"/*.cpuprofile)
    err="$WORK/$name-err"
    echo "# $name ours: $ours"
    echo "# $name v8:   $v8"
    grep -o 'v8 frames: optimized.*' "$err" | sed "s/^/# $name: /"
}

# call_sites NAME: b() on top has a() at CALL_B under it, c() at CALL_C.
call_sites() {
    local name=$1 fn line other n at wrong
    for fn in b c; do
        if [ $fn = b ]; then line=$line_b other=$line_c; else line=$line_c other=$line_b; fi
        n=$(facts "$ours" "o.$fn.samples")
        at=$(facts "$ours" "o.$fn.callers['a:$line'] || 0")
        wrong=$(facts "$ours" "o.$fn.callers['a:$other'] || 0")
        check "$name: $fn() is the innermost JS frame of >= 50 samples (saw $n)" test "$n" -ge 50
        # The rest: a frame the decoder was unsure of (the perf map names a() at its
        # definition), e.g. while a() was still interpreted and its offset not spilled.
        check "$name: >= 90% of $fn()'s samples have a() at line $line under it (saw $at of $n)" \
            awk -v a="$at" -v n="$n" 'BEGIN { exit !(a >= 0.9 * n) }'
        check "$name: no $fn() sample has a() at line $other (the other call) under it (saw $wrong)" \
            test "$wrong" = 0
    done
}

# expanded NAME TIER: the counters say frames of TIER were decoded and inlined frames added.
expanded() {
    local name=$1 tier=$2 dec inl
    dec=$(grep -o "$tier [0-9]* decoded" "$WORK/$name-err" | grep -o '[0-9]*' | tail -1)
    inl=$(grep -o '[0-9]* inlined frames added' "$WORK/$name-err" | grep -o '^[0-9]*' | tail -1)
    check "$name: $tier frames decoded from their code (saw ${dec:-none})" test "${dec:-0}" -ge 50
    check "$name: inlined frames added (saw ${inl:-none})" test "${inl:-0}" -ge 50
}

# ratio NAME: b's share of b + c as V8 sees it, within 10 points.
ratio() {
    local name=$1
    check "$name: b's share of b + c matches V8's --cpu-prof within 10 points" \
        awk -v b="$(facts "$ours" 'o.leaf.b || 0')" -v c="$(facts "$ours" 'o.leaf.c || 0')" \
            -v B="$(facts "$v8" 'o.leaf.b || 0')" -v C="$(facts "$v8" 'o.leaf.c || 0')" 'BEGIN {
            if (b + c == 0 || B + C == 0) exit 1;
            x = 100 * b / (b + c); y = 100 * B / (B + C);
            printf "# b share: ours %.1f%%, V8 %.1f%%\n", x, y; d = x - y; if (d < 0) d = -d;
            exit !(d <= 10) }'
}

run turbofan
call_sites turbofan
expanded turbofan TurboFan

if "$NODE" --maglev --no-turbofan --no-maglev-loop-peeling -e 0 2>/dev/null; then
    run maglev --maglev --no-turbofan --no-maglev-loop-peeling
    dec=$(grep -o 'Maglev [0-9]* decoded' "$WORK/maglev-err" | grep -o '[0-9]*' | tail -1)
    if [ "${dec:-0}" -gt 0 ]; then
        call_sites maglev
        expanded maglev Maglev
    else
        echo "# maglev: this node did not run a() in Maglev code (none decoded): not checked"
    fi
else
    echo "# maglev: this node has no Maglev flags: not checked"
fi

read -ra interp <<<"--no-opt --no-sparkplug $(no_maglev)"
run interpreted "${interp[@]}" --cpu-prof
call_sites interpreted
ratio interpreted

if "$NODE" --always-sparkplug -e 0 2>/dev/null; then
    read -ra spark <<<"--no-opt --always-sparkplug $(no_maglev)"
    run sparkplug "${spark[@]}"
    grep -o 'v8 frames: Sparkplug.*' "$WORK/sparkplug-err" | sed 's/^/# sparkplug: /'
    call_sites sparkplug
    dec=$(grep -o 'Sparkplug [0-9]* decoded' "$WORK/sparkplug-err" | grep -o '[0-9]*' | tail -1)
    check "sparkplug: Sparkplug frames decoded from their code's offset table (saw ${dec:-none})" \
        test "${dec:-0}" -ge 50
fi
finish
