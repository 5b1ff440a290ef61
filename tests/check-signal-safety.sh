#!/usr/bin/env bash
# The signal path (sampler, unwind, ring, stats) imports nothing outside an allow-list: no
# allocation, stdio, locks, lazy TLS or loader calls (STYLE.md §5, HAZARDS.md §4).
# Setup-only imports (timer_create, pthread_getattr_np, sp_log_*) share the files; they are
# listed and their callers are documented as not signal-safe.
. "$(dirname "$0")/e2e/lib.sh"
allowed='^(__errno_location|__libc_current_sigrtmin|__libc_current_sigrtmax|clock_gettime|syscall|sigaction|sigemptyset|timer_create|timer_settime|timer_delete|pthread_self|pthread_getattr_np|pthread_attr_getstack|pthread_attr_destroy|strerror|sp_log_get_level|sp_log_write|sp_mem_calloc|sp_mem_free|memcpy|memset|__stack_chk_fail|_GLOBAL_OFFSET_TABLE_|sp_ring_reserve|sp_ring_publish|sp_unwind_capture|sp_unwind_stack_bounds|sp_stats_inc|sp_stats_handler_time|sp_stats_add|sp_log_set_level|atomic_.*)$'
for mod in sampler unwind ring stats; do
    obj=$(ls "$top_builddir"/src/.libs/libsp_la-$mod.o "$top_builddir"/src/libsp_la-$mod.o 2>/dev/null | head -1)
    if [ -z "$obj" ]; then not_ok "$mod: object file not found"; continue; fi
    bad=$(nm -u "$obj" | awk '{print $2}' | sed 's/@.*//' | grep -Ev "$allowed" || true)
    if [ -z "$bad" ]; then ok "$mod imports only allowed symbols"; else not_ok "$mod imports: $(echo $bad)"; fi
done
# ring.c allocates in sp_ring_new (setup); the handler only reserves and publishes.
finish
