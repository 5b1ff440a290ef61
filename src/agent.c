/* agent: owns the agent thread, the symbolizer, the frame table and the resolver, and the
 * open chunk of continuous profiling; it drains the ring once a pass and hands finished
 * transactions to txnprof. Writes into the spool go through outbox.
 * Threads: sp_agent_start/stop run on the thread that loads/unloads the library (the
 * constructor, the exit path); sp_agent_wake, sp_agent_txn_started, sp_agent_take_profile,
 * sp_agent_set_continuous and sp_agent_set_sdk on JS threads; everything else on the agent
 * thread. Locks: agent.lock (stop request, wake-ups, the continuous switch, the SDK's
 * settings) and txnprof's lock (the profiles JS takes), never nested; agent.exit_lock (what
 * an exit that stops waiting must count) is held around taking and spooling transactions,
 * so txn's and txnprof's locks nest inside it, never the reverse.
 * Modes: continuous (chunks) can be switched on and off while running (an app's Sentry SDK
 * decides); v1 profiles for JS (to_js transactions) are built in either mode: in continuous
 * mode raw samples are then retained too, from the first such transaction on. */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "frames.h"
#include "ids.h"
#include "log.h"
#include "mapfile.h"
#include "mem.h"
#include "nativeunwind.h"
#include "outbox.h"
#include "profile.h"
#include "resolve.h"
#include "sampler.h"
#include "session.h"
#include "spool.h"
#include "stats.h"
#include "symbolize.h"
#include "threadscan.h"
#include "txn.h"
#include "txnprof.h"
#include "utf8.h"
#include "v8decode.h"
#include "v8leaf.h"

#define SP_AGENT_TICK_MS 100 /* how often the ring is drained */
#define SP_AGENT_MAP_DIR "/tmp" /* where V8 writes perf-<pid>.map */
#define SP_AGENT_SWEEP_MAX 256 /* stale perf map records looked at per start */
#define SP_AGENT_IDLE_TICK_MS 1000 /* the same with nothing to do (lazy or eager, no profile) */
#define SP_AGENT_IDLE_AFTER_MS 1000 /* ... for this long */
#define SP_THREAD_SCAN_MS 1000 /* SENTRYPROF_THREADS=all: how often new native threads are looked for */



static struct {
    sp_agent_opts_t opts;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool done;
    bool wake_requested; /* under lock: sp_agent_wake came since the last pass */
    pthread_cond_t drained;       /* broadcast after a pass while someone waits for one */
    _Atomic uint64_t passes;      /* passes done (sp_agent_drain_wait counts them) */
    _Atomic unsigned drain_waiters;
    _Atomic bool draining; /* from a pass's first pop to its last sample's end (drain) */
    sp_symbolizer_t *sym;
    sp_frames_t *frames;   /* the frame table the sessions take frame ids from */
    sp_resolver_t *resolver; /* raw stacks -> frame ids, through sym and frames */
    sp_session_t *chunk;
    sp_chunk_meta_t meta;
    uint64_t chunk_start_ns; /* monotonic time of the chunk's first sample */
    uint64_t last_commit_ns;
    bool dirty;
    bool perf_map_attached; /* the symbolizer reads the perf map we created for V8 */
    int64_t mono_to_real_ns;
    pid_t pid;
    sp_sample_t scratch;
    sp_resolved_t resolved; /* scratch's ids (sp_resolver_count), for its sessions */
    uint8_t stack[SP_STACK_COPY]; /* scratch's stack copy */
    sp_nativeunwind_t *nu; /* native callers from the stack copies (NULL: none made) */
    char node_version[32];
    uint64_t last_thread_scan_ns;
    _Atomic bool wake_pending;
    _Atomic bool sleeping_idle; /* a transaction start wakes the agent out of its idle tick */
    /* Continuous chunks are being built (SENTRYPROF_MODE at start; an app's Sentry SDK may
     * switch it: sp_agent_set_continuous). Written under lock, read anywhere. */
    _Atomic bool chunking;
    /* Continuous sessions, under lock: each switch-on starts generation sess_gen at
     * sess_start_ns (monotonic), a switch-off sets sess_end_ns (UINT64_MAX while on). A
     * sample belongs to the chunk of the session whose window holds its time, so a quick
     * off/on (an SDK's trace lifecycle) never merges two sessions into one chunk.
     * discard_gen: the session whose chunk is dropped instead of published. */
    uint64_t sess_gen, sess_start_ns, sess_end_ns, discard_gen;
    uint64_t chunk_gen;       /* agent thread: the session of the open chunk */
    bool chunk_committed;     /* agent thread: the open chunk reached the spool once */
    /* A transaction whose v1 profile goes back to JS was started: in continuous mode
     * samples are also retained for such transactions. */
    _Atomic bool js_txns;
    _Atomic uint64_t perf_map_behind; /* sp_symbolizer_perf_map_behind after the last refresh */
    /* What an app's Sentry SDK said (sp_agent_set_sdk, a JS thread): copied under lock
     * into the agent thread's own strings at the start of a pass. */
    bool sdk_pending;
    char pend_release[256], pend_environment[128], pend_sdk_name[64], pend_sdk_version[32], pend_sdk_package[64];
    char release[256], environment[128], sdk_name[64], sdk_version[32], sdk_package[64];
    bool base_pending; /* sp_agent_set_module_base: applied like the SDK's settings */
    char pend_module_base[1024];
    /* Exit accounting (issue #20 item 5), under exit_lock: the transactions the agent took
     * and has not spooled yet; give_up: the exit stopped waiting, spool no more (so the
     * number it says is exact). Lock order: exit_lock, then txn's. */
    pthread_mutex_t exit_lock;
    size_t in_hand;
    bool give_up;
} agent = {.lock = PTHREAD_MUTEX_INITIALIZER, .exit_lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ns(void) { return sp_clock_mono_ns(); }

static void calibrate_clock(void)
{
    uint64_t m = sp_clock_mono_ns();
    agent.mono_to_real_ns = (int64_t)(sp_clock_real_ns() - m);
}

static void new_chunk(uint64_t gen)
{
    agent.chunk_gen = gen;
    agent.chunk = sp_session_new();
    sp_ids_new(agent.meta.chunk_id);
    agent.chunk_start_ns = 0;
    agent.dirty = false;
    agent.chunk_committed = false;
}

static void chunk_name(char *name, size_t len)
{
    snprintf(name, len, "%" PRIu64 "-%d-%s" SP_SPOOL_SUFFIX, sp_session_first_ns(agent.chunk) / SP_NS_PER_SEC,
             (int)agent.pid, agent.meta.chunk_id);
}

/* Writes the open chunk as a complete envelope, replacing its previous commit. False when
 * it had to be written and was not (the outbox counted the failure). */
static bool commit_chunk(void)
{
    if (!agent.chunk || !agent.dirty) return true;
    agent.dirty = false;
    if (sp_session_sample_count(agent.chunk) < SP_CHUNK_MIN_SAMPLES) return true;
    char *buf = NULL;
    size_t len = 0;
    bool ok = false;
    int rc = sp_profile_chunk_envelope(agent.chunk, &agent.meta, &buf, &len);
    if (rc == 0) {
        char name[128];
        chunk_name(name, sizeof name);
        if (sp_outbox_write(name, buf, len) == 0) agent.chunk_committed = ok = true;
    } else if (rc != -ENODATA) {
        sp_txnprof_build_failed(rc, "profile chunk");
    }
    sp_mem_free(buf);
    return ok;
}

static void close_chunk(void)
{
    if (!agent.chunk) return;
    agent.dirty = true;
    if (sp_session_sample_count(agent.chunk) >= SP_CHUNK_MIN_SAMPLES) {
        bool last_ok = commit_chunk();
        char name[128];
        chunk_name(name, sizeof name);
        /* Written: its last commit and the publish succeeded. A failed write was counted
         * as a spool error by the outbox; a failed publish is counted here. An earlier
         * commit still goes out (fewer samples) when the last one failed. */
        int prc = agent.chunk_committed ? sp_outbox_publish(name) : -EIO;
        if (prc == 0 && last_ok) sp_stats_inc(SP_STAT_CHUNKS_WRITTEN);
        else if (agent.chunk_committed && prc != 0) sp_stats_inc(SP_STAT_SPOOL_ERRORS);
    } else if (sp_session_sample_count(agent.chunk) > 0) {
        sp_stats_inc(SP_STAT_CHUNKS_SKIPPED);
    }
    sp_session_free(agent.chunk);
    agent.chunk = NULL;
}

/* The context transaction profiles are built in. */
static sp_txnprof_ctx_t txn_ctx(void)
{
    return (sp_txnprof_ctx_t){.resolver = agent.resolver,
                              .mono_to_real_ns = agent.mono_to_real_ns,
                              .env = {.release = agent.release,
                                      .environment = agent.environment,
                                      .node_version = agent.node_version,
                                      .locale = agent.opts.cfg->locale,
                                      .symbolizer = agent.sym},
                              .profiler_id = agent.meta.profiler_id};
}

/* Follows what became of V8's perf map. The symbolizer reads it only once we created it
 * for V8 (before that the path may hold a stale or planted file: never read it), and
 * records it for the sweep; if the path held something not ours, V8 writes elsewhere and
 * JS frames stay unnamed. */
static void perf_map_check(void)
{
    if (agent.perf_map_attached || !agent.opts.perf_map_path) return;
    if (sp_mapfile_state() == SP_MAPFILE_REFUSED) sp_mapfile_trim(); /* keep V8's sink empty */
    if (sp_mapfile_state() != SP_MAPFILE_OURS) return;
    agent.perf_map_attached = true;
    sp_symbolizer_set_perf_map(agent.sym, agent.opts.perf_map_path, agent.opts.process_start);
    sp_mapfile_track(agent.opts.cfg->spool_dir);
}

/* Ends the open chunk: published, or dropped (and removed from the spool) when its session
 * was switched off by an SDK that wants transaction profiles: the default continuous
 * profile from before Sentry.init was asked for by nobody (it would otherwise reach the
 * SDK's DSN as a chunk no transaction points to). */
static void finish_chunk(uint64_t discard_gen)
{
    if (!agent.chunk) return;
    if (agent.chunk_gen != discard_gen) {
        close_chunk();
        return;
    }
    SP_DEBUG("continuous profiling stopped by the Sentry SDK: the open chunk (%zu samples) is dropped",
             sp_session_sample_count(agent.chunk));
    if (agent.chunk_committed) {
        char name[128];
        chunk_name(name, sizeof name);
        sp_outbox_remove(name);
    }
    sp_session_free(agent.chunk);
    agent.chunk = NULL;
}

/* One pass: symbols first (V8 logged the code before it ran), then every ready sample.
 * The maps are read again whenever a sample is newer than the last read: while the ring
 * never empties (a worker storm, a thread-heavy app), one pass lasts as long as the storm,
 * and samples taken after its start would be named from a map older than their code. */
static void drain_ring(void)
{
    uint64_t refreshed_ns = 0; /* 0: not yet in this pass */
    pthread_mutex_lock(&agent.lock);
    uint64_t gen = agent.sess_gen, start = agent.sess_start_ns, end = agent.sess_end_ns,
             discard_gen = agent.discard_gen;
    pthread_mutex_unlock(&agent.lock);
    uint64_t span = (uint64_t)agent.opts.cfg->chunk_seconds * SP_NS_PER_SEC;
    while (sp_ring_pop_stack(agent.opts.ring, &agent.scratch, agent.stack)) {
        if (!refreshed_ns || agent.scratch.ts_ns >= refreshed_ns) {
            refreshed_ns = mono_ns();
            perf_map_check();
            sp_symbolizer_refresh(agent.sym);
            atomic_store(&agent.perf_map_behind, sp_symbolizer_perf_map_behind(agent.sym));
            if (agent.perf_map_attached) sp_mapfile_release(sp_symbolizer_perf_map_read(agent.sym));
            sp_nativeunwind_refresh(agent.nu);
        }
        sp_nativeunwind_apply(agent.nu, &agent.scratch, agent.stack); /* before V8's: it moves frames */
        sp_v8decode_rewrite(&agent.scratch, agent.sym); /* now: V8's objects move later */
        sp_v8leaf_repair(&agent.scratch, agent.sym);
        sp_resolver_count(agent.resolver, &agent.scratch, &agent.resolved);
        const sp_sample_t *s = &agent.scratch;
        bool in_session = gen && s->ts_ns >= start && s->ts_ns < end;
        /* taken before the current session began, while an earlier one's chunk is open */
        bool in_earlier = !in_session && agent.chunk && agent.chunk_gen != gen && s->ts_ns < start;
        /* Transaction profiles need the raw samples; in continuous mode only once a
         * transaction profile for JS (an SDK's) was asked for. */
        if (!in_session || atomic_load(&agent.js_txns)) sp_txnprof_retain(s, &agent.resolved);
        if (!in_session && !in_earlier) continue;
        if (in_session && agent.chunk && agent.chunk_gen != gen) finish_chunk(discard_gen);
        if (agent.chunk && agent.chunk_start_ns && s->ts_ns - agent.chunk_start_ns >= span) {
            uint64_t g = agent.chunk_gen;
            close_chunk();
            new_chunk(g);
        }
        if (!agent.chunk) new_chunk(gen);
        if (!agent.chunk) return;
        if (!agent.chunk_start_ns) agent.chunk_start_ns = s->ts_ns;
        sp_resolver_add_sample(agent.resolver, agent.chunk, s, &agent.resolved,
                               (uint64_t)((int64_t)s->ts_ns + agent.mono_to_real_ns));
        agent.dirty = true;
    }
    /* A session that ended (or was replaced) before this pass began has all its samples
     * here now: its chunk goes out. */
    if (agent.chunk && (agent.chunk_gen != gen || end != UINT64_MAX)) finish_chunk(discard_gen);
}

/* draining covers the samples in hand: sp_agent_drain_wait may skip its wait only when the
 * ring is idle and no pass holds a sample it took from it. */
static void drain(void)
{
    atomic_store(&agent.draining, true);
    drain_ring();
    atomic_store(&agent.draining, false);
}

int sp_agent_take_profile(const char *event_id, char **json) { return sp_txnprof_take(event_id, json); }

/* Finished transactions first, then the ring: a transaction's samples were published by
 * its own thread before it finished, so after this drain they are all here. */
static void process_transactions(void)
{
    static sp_txn_t batch[SP_MAX_TXNS]; /* agent thread only */
    size_t n = 0;
    pthread_mutex_lock(&agent.exit_lock); /* taken and in hand at once, for the exit's count */
    while (!agent.give_up && n < SP_MAX_TXNS && sp_txn_take_finished(&batch[n])) n++; /* all: slots free up */
    agent.in_hand = n;
    pthread_mutex_unlock(&agent.exit_lock);
    drain();
    bool chunking = atomic_load(&agent.chunking);
    for (size_t i = 0; i < n; i++) {
        /* An SDK's transaction gets its v1 profile in either mode (the SDK asked for it);
         * ours point at the continuous profile while there is one. One at a time under
         * exit_lock: an exit that stops waiting counts what is left, and nothing after. */
        pthread_mutex_lock(&agent.exit_lock);
        if (agent.give_up) {
            pthread_mutex_unlock(&agent.exit_lock);
            break;
        }
        sp_txnprof_ctx_t ctx = txn_ctx();
        if (chunking && !batch[i].to_js) sp_txnprof_emit_event(&batch[i], &ctx);
        else sp_txnprof_emit(&batch[i], &ctx);
        agent.in_hand--;
        pthread_mutex_unlock(&agent.exit_lock);
    }
    sp_txnprof_prune(mono_ns());
}

/* Nothing for a pass to do until a transaction starts: transaction mode, none running or
 * finished (a finished one not yet taken counts as running), no sample or envelope
 * waiting, no native threads to look for. */
static bool agent_idle(void)
{
    return !atomic_load(&agent.chunking) && !agent.chunk && !agent.opts.cfg->all_threads && !sp_outbox_batch_open() &&
           sp_txnprof_retained() == 0 && sp_txn_oldest_running_ns() == UINT64_MAX; /* finished: too */
}

/* Under agent.lock, on the agent thread: what the SDK said replaces the environment's
 * values from the next chunk and transaction on (the open chunk keeps its id). */
static void apply_sdk_settings(void)
{
    agent.sdk_pending = false;
    if (agent.pend_release[0]) memcpy(agent.release, agent.pend_release, sizeof agent.release);
    if (agent.pend_environment[0]) memcpy(agent.environment, agent.pend_environment, sizeof agent.environment);
    if (agent.pend_sdk_name[0]) {
        memcpy(agent.sdk_name, agent.pend_sdk_name, sizeof agent.sdk_name);
        memcpy(agent.sdk_version, agent.pend_sdk_version, sizeof agent.sdk_version);
        memcpy(agent.sdk_package, agent.pend_sdk_package, sizeof agent.sdk_package);
        agent.meta.sdk_name = agent.sdk_name;
        agent.meta.sdk_version = agent.sdk_version;
        agent.meta.sdk_package = agent.sdk_package;
    }
}

static void *agent_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sentryprof");
    unsigned idle_passes = 0;
    /* Maps of our earlier processes that were killed (issue #20 item 13): off the app's
     * path, bounded. */
    int swept = sp_mapfile_sweep(agent.opts.cfg->spool_dir, SP_AGENT_MAP_DIR, SP_AGENT_SWEEP_MAX);
    if (swept)
        SP_DEBUG("removed %d perf map%s left by killed processes", swept, swept == 1 ? "" : "s");
    /* A continuous session names native frames at its first commit, at the latest at exit:
     * index the executable's symbols now (node's: 110k, ~10% of a `node -e 0`'s CPU), on
     * this thread while node starts on its own, not on the exit path (issue #19). */
    if (atomic_load(&agent.chunking)) {
        sp_frame_t f;
        sp_symbolizer_resolve(agent.sym, (uint64_t)getauxval(AT_ENTRY), false, &f);
    }
    for (;;) {
        /* Idle for a second (no profile can need a pass, and every wake-up costs a context
         * switch, ~50 us on a VM): tick slowly; a transaction start wakes us
         * (sp_agent_txn_started). Only after a second, so a busy app's starts never pay
         * for a wake-up. The flag is set before looking again, so a start that raced with
         * the look sees it and wakes us. */
        idle_passes = agent_idle() ? idle_passes + 1 : 0;
        bool slow = idle_passes > SP_AGENT_IDLE_AFTER_MS / SP_AGENT_TICK_MS;
        if (slow) {
            atomic_store(&agent.sleeping_idle, true);
            if (!agent_idle()) {
                atomic_store(&agent.sleeping_idle, false);
                slow = false;
                idle_passes = 0;
            }
        }
        sp_ring_prefault(agent.opts.ring); /* the handler's next cells fault no page in */
        long tick_ms = agent.opts.tick_ms > 0 ? agent.opts.tick_ms : SP_AGENT_TICK_MS;
        if (slow) tick_ms = SP_AGENT_IDLE_TICK_MS;
        pthread_mutex_lock(&agent.lock);
        /* A drain waiter (sp_agent_drain_wait: node's 'exit', a worker's teardown) needs two
         * passes: the second one must not wait a tick (it did, and every profiled process's
         * exit took 100 ms longer). */
        if (!agent.stop && !agent.wake_requested && !atomic_load(&agent.drain_waiters)) {
            struct timespec dl = sp_clock_mono_deadline(tick_ms);
            pthread_cond_timedwait(&agent.wake, &agent.lock, &dl);
        }
        agent.wake_requested = false;
        bool stop = agent.stop;
        if (agent.sdk_pending) apply_sdk_settings();
        if (agent.base_pending) {
            agent.base_pending = false;
            sp_frames_set_module_base(agent.frames, agent.pend_module_base); /* a new epoch */
        }
        pthread_mutex_unlock(&agent.lock);
        atomic_store(&agent.sleeping_idle, false);
        atomic_store(&agent.wake_pending, false);

        sp_sampler_check_handler();
        sp_sampler_lazy_sweep(mono_ns()); /* lazy mode: timers of threads idle for a while */
        perf_map_check();
        process_transactions();
        atomic_fetch_add(&agent.passes, 1);
        if (atomic_load(&agent.drain_waiters)) {
            pthread_mutex_lock(&agent.lock);
            pthread_cond_broadcast(&agent.drained);
            pthread_mutex_unlock(&agent.lock);
        }
        uint64_t now = mono_ns();
        if (agent.opts.cfg->all_threads && now - agent.last_thread_scan_ns >= SP_THREAD_SCAN_MS * SP_NS_PER_MS) {
            sp_threadscan_run(); /* SENTRYPROF_THREADS=all */
            agent.last_thread_scan_ns = now;
        }
        if (stop) break;
        sp_outbox_tick(now);
        if (agent.dirty && now - agent.last_commit_ns >=
                               (uint64_t)agent.opts.cfg->commit_seconds * SP_NS_PER_SEC) {
            commit_chunk();
            agent.last_commit_ns = now;
        }
        sp_outbox_enforce_cap(now);
    }
    process_transactions();
    sp_outbox_seal();
    close_chunk();
    sp_outbox_end(); /* anything left open goes to ready/ */
    /* only the file we created: never a planted symlink or someone else's map */
    if (agent.opts.remove_perf_map && agent.opts.perf_map_path) sp_mapfile_remove(agent.opts.cfg->spool_dir);
    sp_stats_log();
    sp_v8decode_log_stats();
    sp_v8leaf_log_stats();
    SP_DEBUG("memory: %zu bytes in use, peak %zu", sp_mem_in_use(), sp_mem_peak());
    pthread_mutex_lock(&agent.lock);
    agent.done = true;
    pthread_cond_broadcast(&agent.wake);
    pthread_mutex_unlock(&agent.lock);
    return NULL;
}

int sp_agent_start(const sp_agent_opts_t *opts)
{
    agent.opts = *opts;
    agent.pid = getpid();
    sp_outbox_init(opts->cfg, agent.pid);
    calibrate_clock();
    sp_ids_new(agent.meta.profiler_id);
    snprintf(agent.release, sizeof agent.release, "%s", opts->cfg->release);
    snprintf(agent.environment, sizeof agent.environment, "%s", opts->cfg->environment);
    agent.meta.release = agent.release;
    agent.meta.environment = agent.environment;
    atomic_store(&agent.chunking, opts->cfg->continuous);
    agent.sess_gen = opts->cfg->continuous ? 1 : 0; /* the constructor's session, from the start */
    agent.sess_start_ns = 0;
    agent.sess_end_ns = UINT64_MAX;
    agent.sym = sp_symbolizer_new(NULL, NULL, opts->process_start); /* perf map: perf_map_check */
    agent.meta.symbolizer = agent.sym;
    agent.frames = sp_frames_new();
    agent.resolver = agent.sym && agent.frames ? sp_resolver_new(agent.sym, agent.frames) : NULL;
    if (!agent.resolver) return -ENOMEM;
    /* before the first sample: the handler reads its layout. Off: frames as before the
     * decoder (interpreted ones stay the trampoline), no heap reads at all. */
    if (opts->cfg->v8_frames && !sp_v8decode_enabled()) sp_v8decode_init(); /* the preload's */
    else if (!opts->cfg->v8_frames) SP_DEBUG("v8 frames: off (%s=false)", SP_ENV_V8_FRAMES);
    /* before the first sample too: it tells the handler which leaves need a stack copy */
    if (opts->cfg->native_unwind) {
        agent.nu = sp_nativeunwind_new();
        if (!agent.nu) SP_DEBUG("native unwinding: off (no memory)");
    } else {
        SP_DEBUG("native unwinding: off (%s=false)", SP_ENV_NATIVE_UNWIND);
    }
    agent.last_commit_ns = mono_ns();

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&agent.wake, &ca);
    pthread_cond_init(&agent.drained, &ca);
    pthread_condattr_destroy(&ca);

    /* The thread inherits this mask: it must never take the app's signals or ours. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&agent.thread, NULL, agent_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        SP_WARN("cannot start the agent thread: %s", strerror(rc));
        return -rc;
    }
    agent.running = true;
    return 0;
}

void sp_agent_stop(int timeout_ms)
{
    if (!agent.running) return;
    struct timespec dl = sp_clock_mono_deadline(timeout_ms);
    pthread_mutex_lock(&agent.lock);
    agent.stop = true;
    pthread_cond_broadcast(&agent.wake);
    while (!agent.done)
        if (pthread_cond_timedwait(&agent.wake, &agent.lock, &dl) == ETIMEDOUT) break;
    bool done = agent.done;
    pthread_mutex_unlock(&agent.lock);
    if (done) {
        pthread_join(agent.thread, NULL);
    } else {
        /* The process dies right after us, and the agent with it: from here it spools
         * nothing more, and what it had not spooled is said, exactly (issue #20 item 5). */
        pthread_mutex_lock(&agent.exit_lock);
        agent.give_up = true;
        size_t left = agent.in_hand + sp_txn_finished_pending();
        pthread_mutex_unlock(&agent.exit_lock);
        if (left)
            SP_WARN("exit: %zu finished transaction%s not spooled within the exit wait of %d ms; dropped "
                    "(%s sets the wait)", left, left == 1 ? "" : "s", timeout_ms, SP_ENV_EXIT_TIMEOUT);
        SP_DEBUG("agent did not finish within %d ms; the open chunk stays as last committed", timeout_ms);
    }
    agent.running = false;
}

bool sp_agent_drain_wait(int timeout_ms)
{
    if (!agent.running || timeout_ms <= 0 || pthread_equal(pthread_self(), agent.thread))
        return false;
    /* Nothing sampled is waiting for V8's heap (a process between transactions, or one that
     * took no sample): no wait. It was 0.5-3 ms of every profiled `node -e 0`, the agent's
     * first pass (node's symbols) running late. The ring first: a sample popped before it
     * read idle is still in a pass then, and draining says so. */
    if (sp_ring_idle(agent.opts.ring) && !atomic_load(&agent.draining)) return true;
    struct timespec dl = sp_clock_mono_deadline(timeout_ms);
    pthread_mutex_lock(&agent.lock);
    atomic_fetch_add(&agent.drain_waiters, 1);
    /* Two passes: the one under way may have emptied the ring before the caller's last
     * samples were in it; the next one starts after this call. */
    uint64_t want = atomic_load(&agent.passes) + 2;
    agent.wake_requested = true;
    pthread_cond_broadcast(&agent.wake);
    while (atomic_load(&agent.passes) < want && !agent.done)
        if (pthread_cond_timedwait(&agent.drained, &agent.lock, &dl) == ETIMEDOUT) break;
    bool drained = atomic_load(&agent.passes) >= want || agent.done;
    atomic_fetch_sub(&agent.drain_waiters, 1);
    pthread_mutex_unlock(&agent.lock);
    return drained;
}

void sp_agent_wake(void)
{
    /* One futex call per pass at most: later callers see the wake-up already pending. */
    if (!agent.running || atomic_exchange(&agent.wake_pending, true)) return;
    pthread_mutex_lock(&agent.lock);
    agent.wake_requested = true; /* not lost if the agent is between passes */
    pthread_cond_broadcast(&agent.wake);
    pthread_mutex_unlock(&agent.lock);
}

void sp_agent_txn_started(bool to_js)
{
    if (to_js && !atomic_load(&agent.js_txns)) atomic_store(&agent.js_txns, true);
    if (atomic_exchange(&agent.sleeping_idle, false)) sp_agent_wake();
}

bool sp_agent_set_continuous(bool on, bool discard_uncommitted)
{
    if (!agent.running) return false;
    pthread_mutex_lock(&agent.lock);
    bool was = atomic_load(&agent.chunking);
    if (on && !was) {
        agent.sess_gen++;
        agent.sess_start_ns = mono_ns();
        agent.sess_end_ns = UINT64_MAX;
        atomic_store(&agent.chunking, true);
        sp_sampler_process_begin();
    } else if (!on && was) {
        agent.sess_end_ns = mono_ns();
        if (discard_uncommitted) agent.discard_gen = agent.sess_gen;
        atomic_store(&agent.chunking, false);
        sp_sampler_process_end();
    }
    pthread_mutex_unlock(&agent.lock);
    if (on != was) {
        atomic_store(&agent.wake_pending, false);
        sp_agent_wake();
    }
    return was;
}

bool sp_agent_continuous(void) { return atomic_load(&agent.chunking); }

const char *sp_agent_profiler_id(void) { return agent.meta.profiler_id; }

void sp_agent_set_sdk(const char *release, const char *environment, const char *sdk_name,
                      const char *sdk_version, const char *sdk_package)
{
    pthread_mutex_lock(&agent.lock);
    /* Into JSON: valid UTF-8, a long one cut on a character boundary (issue #20 item 4). */
#define SDK_COPY(dst, v) sp_utf8_copy((dst), sizeof(dst), (v) ? (v) : "", (v) ? strlen(v) : 0, NULL, NULL)
    SDK_COPY(agent.pend_release, release);
    SDK_COPY(agent.pend_environment, environment);
    SDK_COPY(agent.pend_sdk_name, sdk_name);
    SDK_COPY(agent.pend_sdk_version, sdk_version);
    SDK_COPY(agent.pend_sdk_package, sdk_package);
#undef SDK_COPY
    agent.sdk_pending = true;
    pthread_mutex_unlock(&agent.lock);
}

void sp_agent_set_module_base(const char *dir)
{
    pthread_mutex_lock(&agent.lock);
    snprintf(agent.pend_module_base, sizeof agent.pend_module_base, "%s", dir ? dir : "");
    agent.base_pending = true;
    pthread_mutex_unlock(&agent.lock);
}

uint64_t sp_agent_cpu_ns(void)
{
    clockid_t c;
    struct timespec ts;
    if (!agent.running || pthread_getcpuclockid(agent.thread, &c) != 0 || clock_gettime(c, &ts) != 0)
        return 0;
    return sp_clock_ts_ns(&ts);
}

uint64_t sp_agent_perf_map_behind(void) { return atomic_load(&agent.perf_map_behind); }

void sp_agent_set_runtime(const char *node_version)
{
    snprintf(agent.node_version, sizeof agent.node_version, "%s", node_version ? node_version : "");
}

void sp_agent_atfork_child(void)
{
    /* Only the forking thread survives; the lock may be held by the dead agent thread. */
    pthread_mutex_init(&agent.lock, NULL);
    pthread_mutex_init(&agent.exit_lock, NULL);
    agent.in_hand = 0;
    agent.give_up = false;
    sp_txnprof_atfork_child();
    sp_outbox_atfork_child();
    agent.running = false;
}
