/* txn: owns the transaction slots and the finished queue. Threads: start/finish/discard on
 * JS threads (any number of them), take_finished on the agent thread. One mutex guards
 * the slots and the queue; it is held for a few hundred nanoseconds and never in a signal
 * handler. Handles carry a generation so a stale or doubled finish is rejected.
 * A transaction belongs to the thread that started it: its end lowers that thread's count
 * in the sampler wherever it is called, and that thread's exit frees what it left running
 * (the sampler's unregister hook). Lock order: txn_lock, then the sampler's. */
#include "txn.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ids.h"
#include "log.h"
#include "sampler.h"
#include "stats.h"
#include "utf8.h"

enum { TXN_FREE, TXN_RUNNING, TXN_FINISHED };

typedef struct {
    int state;
    uint32_t gen;
    sp_txn_t t;
} txn_slot_t;

static txn_slot_t slots[SP_MAX_TXNS]; /* ~470 KB of zero pages until used */
static size_t next_free; /* where the search for a free slot starts (under txn_lock) */
/* Slots [0, slots_used) have been taken at least once; the rest are still TXN_FREE and never
 * touched. Scans stop there: a process with few transactions (or none: node -e 0) never
 * faults in the whole table (the agent's idle scan alone cost 116 page faults a process). */
static size_t slots_used;
static uint16_t finished[SP_MAX_TXNS]; /* FIFO of slot indices */
static size_t fin_head, fin_count;
static pthread_mutex_t txn_lock = PTHREAD_MUTEX_INITIALIZER;


/* Names end up in JSON: valid UTF-8, cut on a character boundary (a name cut in the middle
 * of one made its envelope impossible to build; issue #20 item 4). */
static void copy_str(char *dst, size_t len, const char *src)
{
    sp_utf8_copy(dst, len, src, strnlen(src, 4 * len), NULL, NULL);
}

static void copy_id(char *dst, size_t len, const char *src, size_t want)
{
    /* Accept only lowercase hex of the exact length; anything else gets a fresh id. */
    if (src && strlen(src) == want && strspn(src, "0123456789abcdef") == want) {
        memcpy(dst, src, want + 1);
        return;
    }
    char id[33];
    sp_ids_new(id); /* memcpy, not snprintf: this is on every transaction's start */
    size_t n = want < len - 1 ? want : len - 1;
    memcpy(dst, id, n);
    dst[n] = '\0';
}

static txn_slot_t *slot_of(long handle)
{
    if (handle < 0) return NULL;
    size_t i = (size_t)handle % SP_MAX_TXNS;
    uint32_t gen = (uint32_t)((size_t)handle / SP_MAX_TXNS);
    return slots[i].gen == gen && slots[i].state == TXN_RUNNING ? &slots[i] : NULL;
}

/* A fork child starts without its parent's transactions, and with a fresh lock (another
 * thread may have held it at fork). Registered by the first start: the module needs no
 * init call, and the preload's atfork handler cannot forget it. */
static void atfork_child(void)
{
    pthread_mutex_init(&txn_lock, NULL);
    memset(slots, 0, slots_used * sizeof slots[0]);
    next_free = fin_head = fin_count = slots_used = 0;
}

/* A JS thread that exits (a terminated worker) takes its running transactions with it:
 * nobody can finish them any more, and their slots would be lost for the process's life
 * (issue #20 item 6). Runs on that thread, from the sampler's unregister. */
static void thread_gone(pid_t tid)
{
    uint64_t n = 0;
    pthread_mutex_lock(&txn_lock);
    for (size_t i = 0; i < slots_used; i++)
        if (slots[i].state == TXN_RUNNING && slots[i].t.tid == tid) {
            slots[i].state = TXN_FREE;
            n++;
        }
    pthread_mutex_unlock(&txn_lock);
    if (!n) return;
    sp_stats_add(SP_STAT_TXN_ABANDONED, n);
    SP_DEBUG("thread %d exited with %llu transaction%s running: dropped, no profile", (int)tid,
             (unsigned long long)n, n == 1 ? "" : "s");
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, atfork_child);
    sp_sampler_on_unregister(thread_gone);
}

/* Every slot taken (running, or finished and not yet taken by the agent: at thousands of
 * transactions a second a busy agent thread falls behind): the start is refused, counted,
 * and said once per process. */
static long table_full(void)
{
    static atomic_bool warned;
    sp_stats_inc(SP_STAT_TXN_TABLE_FULL);
    if (!atomic_exchange(&warned, true))
        SP_WARN("%d transactions are in flight (running, or finished and waiting for the profiler's "
                "thread); until some are done, new ones are not recorded (counted in transactions_table_full)",
                SP_MAX_TXNS);
    return -ENOSPC;
}

long sp_txn_start(const char *name, const char *op, const char *trace_id,
                  const char *parent_span_id, bool sampled, bool to_js)
{
    pthread_once(&atfork_once, register_atfork);
    sp_txn_t t = {.sampled = sampled, .to_js = to_js};
    if (!sp_sampler_self_info(&t.tid, t.thread_id)) return -ENOENT;
    /* Filled before the slot is taken: a slot is visible as running (to the agent, to
     * another thread's stale handle) only once it is complete. */
    copy_str(t.name, sizeof t.name, name && *name ? name : "<unlabeled transaction>");
    copy_str(t.op, sizeof t.op, op && *op ? op : "default");
    sp_ids_new(t.event_id);
    copy_id(t.trace_id, sizeof t.trace_id, trace_id, 32);
    char span[33];
    sp_ids_new(span);
    memcpy(t.span_id, span, 16);
    t.span_id[16] = '\0';
    if (parent_span_id && strlen(parent_span_id) == 16 && strspn(parent_span_id, "0123456789abcdef") == 16)
        memcpy(t.parent_span_id, parent_span_id, 17);
    t.start_real_ns = sp_clock_real_ns();
    t.start_ns = sp_clock_mono_ns();

    pthread_mutex_lock(&txn_lock);
    size_t i = next_free, n = 0;
    while (n < SP_MAX_TXNS && slots[i].state != TXN_FREE) i = (i + 1) % SP_MAX_TXNS, n++;
    if (n == SP_MAX_TXNS) {
        pthread_mutex_unlock(&txn_lock);
        return table_full();
    }
    next_free = (i + 1) % SP_MAX_TXNS;
    if (i >= slots_used) slots_used = i + 1;
    txn_slot_t *s = &slots[i];
    s->t = t;
    s->state = TXN_RUNNING;
    s->gen = (s->gen + 1) & 0x3fffff; /* handle stays a small positive number */
    long handle = (long)(i + (size_t)s->gen * SP_MAX_TXNS);
    pthread_mutex_unlock(&txn_lock);
    if (sampled) sp_sampler_thread_begin();
    return handle;
}

/* The setters and the getter take the lock too: the slot may be finished, taken by the
 * agent and reused by another thread at the same time. */
int sp_txn_set_name(long handle, const char *name)
{
    if (!name) return -EINVAL;
    pthread_mutex_lock(&txn_lock);
    txn_slot_t *s = slot_of(handle);
    if (s) copy_str(s->t.name, sizeof s->t.name, name);
    pthread_mutex_unlock(&txn_lock);
    return s ? 0 : -EINVAL;
}

int sp_txn_set_status(long handle, int http_status, const char *status)
{
    pthread_mutex_lock(&txn_lock);
    txn_slot_t *s = slot_of(handle);
    if (s) {
        s->t.http_status = http_status;
        copy_str(s->t.status, sizeof s->t.status, status ? status : "");
    }
    pthread_mutex_unlock(&txn_lock);
    return s ? 0 : -EINVAL;
}

int sp_txn_get(long handle, sp_txn_t *out)
{
    pthread_mutex_lock(&txn_lock);
    txn_slot_t *s = slot_of(handle);
    if (s) *out = s->t;
    pthread_mutex_unlock(&txn_lock);
    return s ? 0 : -EINVAL;
}

static int end_txn(long handle, bool keep)
{
    uint64_t end = sp_clock_mono_ns();
    pthread_mutex_lock(&txn_lock);
    txn_slot_t *s = slot_of(handle);
    if (!s) {
        pthread_mutex_unlock(&txn_lock);
        return -EINVAL;
    }
    bool sampled = s->t.sampled;
    pid_t tid = s->t.tid;
    s->t.end_ns = end;
    if (keep && sampled && fin_count < SP_MAX_TXNS) {
        s->state = TXN_FINISHED;
        finished[(fin_head + fin_count++) % SP_MAX_TXNS] = (uint16_t)(s - slots);
    } else {
        s->state = TXN_FREE;
    }
    /* The count is the owner thread's, whichever thread ends it (issue #20 item 14: it used
     * to stay up, and the owner sampled for good in lazy mode). Ended elsewhere, the owner
     * is found by tid still under txn_lock: its exit (thread_gone) cannot slip in between,
     * so the tid is still that thread's (txn_lock, then sampler's lock; never the reverse). */
    pid_t self = 0; /* the sampler's record of this thread, not a gettid syscall per finish */
    char self_id[SP_THREAD_ID_LEN];
    bool here = sp_sampler_self_info(&self, self_id) && self == tid;
    if (sampled && !here) sp_sampler_thread_end_tid(tid);
    pthread_mutex_unlock(&txn_lock);
    if (sampled && here) sp_sampler_thread_end();
    return 0;
}

int sp_txn_finish(long handle) { return end_txn(handle, true); }
int sp_txn_discard(long handle) { return end_txn(handle, false); }

bool sp_txn_take_finished(sp_txn_t *out)
{
    pthread_mutex_lock(&txn_lock);
    if (!fin_count) {
        pthread_mutex_unlock(&txn_lock);
        return false;
    }
    txn_slot_t *s = &slots[finished[fin_head]];
    fin_head = (fin_head + 1) % SP_MAX_TXNS;
    fin_count--;
    *out = s->t;
    s->state = TXN_FREE;
    pthread_mutex_unlock(&txn_lock);
    return true;
}

size_t sp_txn_finished_pending(void)
{
    pthread_mutex_lock(&txn_lock);
    size_t n = fin_count;
    pthread_mutex_unlock(&txn_lock);
    return n;
}

uint64_t sp_txn_oldest_running_ns(void)
{
    uint64_t oldest = UINT64_MAX;
    pthread_mutex_lock(&txn_lock);
    for (size_t i = 0; i < slots_used; i++)
        if (slots[i].state != TXN_FREE && slots[i].t.sampled && slots[i].t.start_ns < oldest)
            oldest = slots[i].t.start_ns;
    pthread_mutex_unlock(&txn_lock);
    return oldest;
}
