#!/usr/bin/env bash
# The signal path (handler, unwind, v8frames, ring, stats) imports nothing outside an allow-list:
# no allocation, stdio, locks, lazy TLS or loader calls (docs/STYLE.md §5, docs/HAZARDS.md §4).
# The handler lives alone in src/handler.c; sampler.c (timers, registration) is setup code.
. "$(dirname "$0")/e2e/lib.sh"
# Per object: what it may import. handler/unwind/stats are pure signal path; ring also has
# its constructor (sp_mem_*), which runs at setup.
signal_path='__errno_location|__stack_chk_fail|_GLOBAL_OFFSET_TABLE_|clock_gettime|syscall|memcpy|memset|sp_ring_reserve|sp_ring_publish|sp_ring_stack|sp_unwind_capture|sp_unwind_wants_stack|sp_unwind_copy_stack|sp_v8frames_capture|sp_stats_inc|sp_stats_add|sp_stats_handler_time|sp_threads|sp_self_slot|sp_sample_ring|sp_sampler_live|sp_process_sessions|sp_native_slots|sp_sampler_init_ns'
# arm64: gcc's outline atomics (libgcc.a, linked into the library: a few instructions that
# pick LSE or an exclusive-load loop by a flag set at load time; no call out, no lock).
signal_path="$signal_path|__aarch64_(cas|swp|ldadd|ldclr|ldeor|ldset)(1|2|4|8|16)_(relax|acq|rel|acq_rel|sync)"
declare -A extra=(
    [handler]=''
    [v8frames]=''
    [unwind]='|pthread_self|pthread_getattr_np|pthread_attr_getstack|pthread_attr_destroy|sigaction'
    [ring]='|sp_mem_calloc|sp_mem_alloc|sp_mem_free|sp_mem_populate'
    [stats]='|sp_log_get_level|sp_log_write'
)
for mod in handler unwind v8frames ring stats; do
    obj=$(ls "$top_builddir"/src/.libs/libsp_la-$mod.o "$top_builddir"/src/libsp_la-$mod.o 2>/dev/null | head -1)
    if [ -z "$obj" ]; then not_ok "$mod: object file not found"; continue; fi
    bad=$(nm -u "$obj" | awk '{print $2}' | sed 's/@.*//' | grep -Ev "^($signal_path${extra[$mod]})\$" || true)
    if [ -z "$bad" ]; then ok "$mod imports only allowed symbols"; else not_ok "$mod imports: $(echo $bad)"; fi
done
# ring's sp_mem_* to its constructor and sp_ring_prefault (the agent thread);
# unwind's pthread_* imports belong to sp_unwind_stack_bounds (thread registration), its
# sigaction to sp_unwind_init_restorer (sampler setup);
# stats' sp_log_* to sp_stats_log (exit path). Neither is reachable from the handler.
finish
