/* agent: owns the agent thread, the symbolizer, the open chunk and the spool handle.
 * Threads: sp_agent_start/stop run on the thread that loads/unloads the library (the
 * constructor, the exit path); everything else runs on the agent thread. Lock order: only
 * agent_lock, held briefly to hand over the stop request. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "profile.h"
#include "sampler.h"
#include "session.h"
#include "spool.h"
#include "stats.h"
#include "symbolize.h"

#define SP_AGENT_TICK_MS 100 /* how often the ring is drained */

static struct {
    sp_agent_opts_t opts;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool done;
    sp_symbolizer_t *sym;
    sp_session_t *chunk;
    sp_chunk_meta_t meta;
    uint64_t chunk_start_ns; /* monotonic time of the chunk's first sample */
    uint64_t last_commit_ns;
    bool dirty;
    sp_spool_t *spool;
    bool spool_failed;
    int64_t mono_to_real_ns;
    pid_t pid;
    sp_sample_t scratch;
} agent = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void calibrate_clock(void)
{
    struct timespec r, m;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    agent.mono_to_real_ns = ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000 +
                            ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec);
}

static void new_chunk(void)
{
    agent.chunk = sp_session_new();
    sp_profile_new_id(agent.meta.chunk_id);
    agent.chunk_start_ns = 0;
    agent.dirty = false;
}

/* Writes the open chunk as a complete envelope, replacing its previous commit. */
static void commit_chunk(void)
{
    if (!agent.chunk || !agent.dirty) return;
    agent.dirty = false;
    if (sp_session_sample_count(agent.chunk) < SP_CHUNK_MIN_SAMPLES) return;
    if (!agent.spool && !agent.spool_failed) {
        if (sp_spool_open(agent.opts.cfg->spool_dir, &agent.spool) < 0) agent.spool_failed = true;
    }
    if (!agent.spool) {
        sp_stats_inc(SP_STAT_SPOOL_ERRORS);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = sp_profile_chunk_envelope(agent.chunk, &agent.meta, &buf, &len);
    if (rc == 0) {
        char name[128];
        uint64_t start_real = sp_session_first_ns(agent.chunk);
        snprintf(name, sizeof name, "%" PRIu64 "-%d-%s" SP_SPOOL_SUFFIX, start_real / 1000000000u,
                 (int)agent.pid, agent.meta.chunk_id);
        rc = sp_spool_commit(agent.spool, name, buf, len);
        if (rc < 0) {
            sp_stats_inc(SP_STAT_SPOOL_ERRORS);
            static bool warned;
            if (!warned) SP_WARN("cannot write %s/%s: %s", sp_spool_dir(agent.spool), name, strerror(-rc));
            warned = true;
        }
    }
    sp_mem_free(buf);
}

static void close_chunk(void)
{
    if (!agent.chunk) return;
    agent.dirty = true;
    if (sp_session_sample_count(agent.chunk) >= SP_CHUNK_MIN_SAMPLES) {
        commit_chunk();
        sp_stats_inc(SP_STAT_CHUNKS_WRITTEN);
    } else if (sp_session_sample_count(agent.chunk) > 0) {
        sp_stats_inc(SP_STAT_CHUNKS_SKIPPED);
    }
    sp_session_free(agent.chunk);
    agent.chunk = NULL;
}

static void add_sample(const sp_sample_t *s)
{
    uint32_t frames[SP_MAX_FRAMES + 1];
    size_t n = 0;
    sp_frame_t f;
    for (size_t i = 0; i < s->nframes; i++) {
        sp_symbolizer_resolve(agent.sym, s->pcs[i], i > 0, &f);
        long idx = sp_session_frame(agent.chunk, &f);
        if (idx < 0) return;
        frames[n++] = (uint32_t)idx;
    }
    if (s->flags & SP_SAMPLE_TRUNCATED) { /* the cut-off root end stays visible */
        f = (sp_frame_t){.function = "[truncated]", .native = true};
        long idx = sp_session_frame(agent.chunk, &f);
        if (idx >= 0) frames[n++] = (uint32_t)idx;
    }
    long stack = sp_session_stack(agent.chunk, frames, n);
    char thread_id[SP_THREAD_ID_LEN], name[64];
    if (!sp_sampler_thread_info((pid_t)s->tid, thread_id, name, sizeof name)) {
        snprintf(thread_id, sizeof thread_id, "%u", s->tid);
        name[0] = '\0';
    }
    uint64_t real_ns = (uint64_t)((int64_t)s->ts_ns + agent.mono_to_real_ns);
    if (sp_session_sample(agent.chunk, stack, thread_id, name, real_ns) == 0) {
        agent.dirty = true;
        sp_stats_inc(SP_STAT_SAMPLES_SYMBOLIZED);
    }
}

/* One pass: symbols first (V8 logged the code before it ran), then every ready sample. */
static void drain(void)
{
    bool refreshed = false;
    while (sp_ring_pop(agent.opts.ring, &agent.scratch)) {
        if (!refreshed) {
            sp_symbolizer_refresh(agent.sym);
            refreshed = true;
        }
        const sp_sample_t *s = &agent.scratch;
        uint64_t span = (uint64_t)agent.opts.cfg->chunk_seconds * 1000000000u;
        if (agent.chunk && agent.chunk_start_ns && s->ts_ns - agent.chunk_start_ns >= span) {
            close_chunk();
        }
        if (!agent.chunk) new_chunk();
        if (!agent.chunk) return;
        if (!agent.chunk_start_ns) agent.chunk_start_ns = s->ts_ns;
        add_sample(s);
    }
}

static void *agent_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sentryprof");
    for (;;) {
        pthread_mutex_lock(&agent.lock);
        if (!agent.stop) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += SP_AGENT_TICK_MS * 1000000L;
            if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&agent.wake, &agent.lock, &dl);
        }
        bool stop = agent.stop;
        pthread_mutex_unlock(&agent.lock);

        drain();
        uint64_t now = mono_ns();
        if (stop) break;
        if (agent.dirty && now - agent.last_commit_ns >=
                               (uint64_t)agent.opts.cfg->commit_seconds * 1000000000u) {
            commit_chunk();
            agent.last_commit_ns = now;
        }
    }
    close_chunk();
    if (agent.opts.remove_perf_map && agent.opts.perf_map_path) {
        struct stat st; /* only a regular file of ours: never follow a planted symlink */
        if (lstat(agent.opts.perf_map_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
            unlink(agent.opts.perf_map_path);
    }
    sp_stats_log();
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
    calibrate_clock();
    sp_profile_new_id(agent.meta.profiler_id);
    agent.meta.release = opts->cfg->release;
    agent.meta.environment = opts->cfg->environment;
    agent.sym = sp_symbolizer_new(opts->perf_map_path, NULL, opts->process_start);
    if (!agent.sym) return -ENOMEM;
    agent.last_commit_ns = mono_ns();

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&agent.wake, &ca);
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
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&agent.lock);
    agent.stop = true;
    pthread_cond_broadcast(&agent.wake);
    while (!agent.done)
        if (pthread_cond_timedwait(&agent.wake, &agent.lock, &dl) == ETIMEDOUT) break;
    bool done = agent.done;
    pthread_mutex_unlock(&agent.lock);
    if (done) pthread_join(agent.thread, NULL);
    else SP_DEBUG("agent did not finish within %d ms; the open chunk stays as last committed", timeout_ms);
    agent.running = false;
}

void sp_agent_atfork_child(void)
{
    /* Only the forking thread survives; the lock may be held by the dead agent thread. */
    pthread_mutex_init(&agent.lock, NULL);
    agent.running = false;
}
