/* Check tests for src/agent.c, run under ThreadSanitizer too (make check-tsan): the agent
 * thread drains real samples (the sampler's timers at 1 kHz on three busy threads) while
 * other threads do what JS threads do to it: start and finish transactions, take their v1
 * profiles, switch continuous profiling off and on, set the SDK's release and the module
 * base, wake it. What must come out: chunks and transaction profiles in the spool, an answer
 * for every transaction whose profile goes back to JS, and a clean stop. */
#include "unit.h"
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "mem.h"
#include "ring.h"
#include "sampler.h"
#include "stats.h"
#include "txn.h"

#define WORKERS 3
#define TXNS_PER_WORKER 12

static sp_config_t cfg;
static sp_ring_t *ring;

static void start_engine_ticking(bool continuous, const char *spool, int tick_ms)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the engine does */
    memset(&cfg, 0, sizeof cfg);
    cfg.hz = 1000;
    cfg.chunk_seconds = 1;
    cfg.commit_seconds = 1;
    cfg.continuous = continuous;
    cfg.lazy = !continuous;
    cfg.v8_frames = true; /* no V8 here: the decoder must find nothing to do, not crash */
    cfg.spool_max_bytes = 100ULL << 20;
    snprintf(cfg.spool_dir, sizeof cfg.spool_dir, "%s", spool);
    snprintf(cfg.environment, sizeof cfg.environment, "production");
    snprintf(cfg.locale, sizeof cfg.locale, "C");
    snprintf(cfg.tmpdir, sizeof cfg.tmpdir, "/tmp");
    ring = sp_ring_new(1 << 14);
    ck_assert_ptr_nonnull(ring);
    /* wall clock: a CPU-time timer fires only on the scheduler tick (docs/HAZARDS.md) */
    sp_sampler_opts_t so = {.hz = cfg.hz, .lazy = cfg.lazy};
    ck_assert_int_eq(sp_sampler_init(&so, ring), 0);
    sp_agent_opts_t ao = {
        .cfg = &cfg, .ring = ring, .process_start = time(NULL), .tick_ms = tick_ms};
    ck_assert_int_eq(sp_agent_start(&ao), 0);
    sp_agent_set_runtime("20.0.0");
    if (continuous) sp_sampler_process_begin();
    ck_assert_int_eq(sp_sampler_register_thread("0", "main"), 0);
}

static void start_engine(bool continuous, const char *spool)
{
    start_engine_ticking(continuous, spool, 0);
}

static void stop_engine(void)
{
    sp_sampler_unregister_thread();
    sp_sampler_stop();
    sp_agent_stop(20000); /* generous: a TSan build on a loaded machine is slow */
}

/* Files in <spool>/ready whose text holds `needle`. */
static int ready_files_with(const char *spool, const char *needle)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ready", spool);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = sp_unit_read_file(path, NULL);
        if (text && strstr(text, needle)) n++;
        free(text);
    }
    closedir(d);
    return n;
}

typedef struct {
    int index;
    bool transactions;
    int js_answers, js_profiles; /* to_js transactions: answers taken, with a profile */
} worker_t;

static atomic_bool workers_done;

static void *worker(void *arg)
{
    worker_t *w = arg;
    char id[16], name[32];
    snprintf(id, sizeof id, "%d", w->index + 1);
    snprintf(name, sizeof name, "worker-%d", w->index + 1);
    ck_assert_int_eq(sp_sampler_register_thread(id, name), 0);
    for (int i = 0; i < TXNS_PER_WORKER; i++) {
        if (!w->transactions) {
            sp_unit_spin_cpu_ms(15);
            continue;
        }
        bool to_js = i % 2 == 0;
        char txn[32];
        snprintf(txn, sizeof txn, "GET /w%d/%d", w->index, i);
        long h = sp_txn_start(txn, "http.server", NULL, NULL, true, to_js);
        ck_assert_msg(h >= 0, "sp_txn_start: expected a handle, saw %ld", h);
        sp_agent_txn_started(to_js);
        sp_unit_spin_cpu_ms(i % 4 == 3 ? 0 : 15); /* some too short for a profile */
        sp_txn_t t;
        ck_assert_int_eq(sp_txn_get(h, &t), 0);
        ck_assert_int_eq(sp_txn_set_status(h, 200, "ok"), 0);
        ck_assert_int_eq(sp_txn_finish(h), 0);
        if (!to_js) continue;
        /* What the SDK bridge does: ask until the agent has an answer (a profile, or NULL
         * when it had too few samples). */
        char *json = NULL;
        int got = 0;
        for (int tries = 0; tries < 4000 && !got; tries++) {
            sp_agent_wake();
            got = sp_agent_take_profile(t.event_id, &json);
            if (!got) usleep(5000);
        }
        ck_assert_msg(got == 1, "transaction %s: no answer from the agent after 20 s", txn);
        w->js_answers++;
        if (json) {
            ck_assert_msg(strstr(json, t.event_id) || strstr(json, "\"samples\""),
                          "profile of %s: expected its samples, saw %.200s", txn, json);
            w->js_profiles++;
            sp_mem_free(json);
        }
    }
    sp_sampler_unregister_thread();
    return NULL;
}

/* The other JS-thread calls, racing the agent's passes. */
static void *meddler(void *arg)
{
    bool toggle_continuous = *(bool *)arg;
    int n = 0;
    while (!atomic_load(&workers_done)) {
        if (toggle_continuous && n % 10 == 5) sp_agent_set_continuous(false, false);
        if (toggle_continuous && n % 10 == 6) sp_agent_set_continuous(true, false);
        if (n % 7 == 0) sp_agent_set_sdk("rel-1", "staging", "sentry.javascript.node", "8.0.0", "npm:@sentry/node");
        if (n % 11 == 0) sp_agent_set_module_base(n % 2 ? "/srv/app" : "/srv/other");
        (void)sp_agent_continuous();
        (void)sp_agent_profiler_id();
        (void)sp_agent_cpu_ns();
        sp_agent_wake();
        n++;
        usleep(3000);
    }
    return NULL;
}

static void run_threads(bool transactions, bool toggle_continuous, int *js_answers, int *js_profiles)
{
    pthread_t tw[WORKERS], tm;
    worker_t w[WORKERS];
    atomic_store(&workers_done, false);
    ck_assert_int_eq(pthread_create(&tm, NULL, meddler, &toggle_continuous), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker_t){.index = i, .transactions = transactions};
        ck_assert_int_eq(pthread_create(&tw[i], NULL, worker, &w[i]), 0);
    }
    *js_answers = *js_profiles = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(tw[i], NULL);
        *js_answers += w[i].js_answers;
        *js_profiles += w[i].js_profiles;
    }
    atomic_store(&workers_done, true);
    pthread_join(tm, NULL);
}

START_TEST(test_continuous_chunks_while_switched)
{
    const char *tmp = sp_unit_tmpdir();
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/spool", tmp);
    start_engine(true, spool);
    int answers, profiles;
    run_threads(false, true, &answers, &profiles);
    sp_agent_set_continuous(true, false); /* the meddler may have left it off */
    sp_unit_spin_cpu_ms(30);
    stop_engine();
    uint64_t samples = sp_stats_get(SP_STAT_SAMPLES), chunks = sp_stats_get(SP_STAT_CHUNKS_WRITTEN);
    ck_assert_msg(samples >= 50, "expected >= 50 samples of ~600 ms of CPU at 1 kHz, saw %llu",
                  (unsigned long long)samples);
    ck_assert_msg(chunks >= 1, "expected >= 1 chunk written, saw %llu (spool errors %llu)",
                  (unsigned long long)chunks, (unsigned long long)sp_stats_get(SP_STAT_SPOOL_ERRORS));
    int files = ready_files_with(spool, "\"profile_chunk\"");
    ck_assert_msg(files >= 1, "expected a profile_chunk envelope in %s/ready, saw %d", spool, files);
    sp_unit_rmtree(tmp);
}
END_TEST

START_TEST(test_transactions_to_spool_and_js)
{
    const char *tmp = sp_unit_tmpdir();
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/spool", tmp);
    start_engine(false, spool);
    int answers, profiles;
    run_threads(true, false, &answers, &profiles);
    stop_engine();
    int to_js = WORKERS * ((TXNS_PER_WORKER + 1) / 2);
    ck_assert_msg(answers == to_js, "expected an answer for each of %d to_js transactions, saw %d", to_js, answers);
    ck_assert_msg(profiles >= to_js / 2, "expected most of %d to_js transactions with a profile, saw %d", to_js,
                  profiles);
    /* every finished transaction is accounted for: a profile built (spooled or for JS) or
     * too short for one; the short ones for the spool go out as events alone */
    uint64_t built = sp_stats_get(SP_STAT_TXN_PROFILES), short_ = sp_stats_get(SP_STAT_TXN_TOO_SHORT),
             alone = sp_stats_get(SP_STAT_TXN_NO_PROFILE);
    int all = WORKERS * TXNS_PER_WORKER;
    ck_assert_msg(built + short_ == (uint64_t)all, "expected %d transactions accounted for, saw %llu + %llu", all,
                  (unsigned long long)built, (unsigned long long)short_);
    ck_assert_msg(alone <= short_, "expected events alone <= too short (%llu), saw %llu", (unsigned long long)short_,
                  (unsigned long long)alone);
    int files = ready_files_with(spool, "\"type\":\"transaction\"");
    ck_assert_msg(files >= 1, "expected the transactions in %s/ready, saw %d files", spool, files);
    sp_unit_rmtree(tmp);
}
END_TEST

/* node's 'exit' waits for two agent passes (sp_agent_drain_wait). The second pass used to
 * wait for the agent's next tick (100 ms): every profiled process's exit took 100 ms longer.
 * With a 60 s tick, five drains must each complete (allowed 10 s: a loaded machine may be slow
 * to schedule the agent; a pass that waits for the tick would take 60). */
START_TEST(test_drain_wait_takes_no_tick)
{
    const char *tmp = sp_unit_tmpdir();
    char spool[4096];
    snprintf(spool, sizeof spool, "%s/spool", tmp);
    start_engine_ticking(false, spool, 60000);
    int ok = 0;
    for (int i = 0; i < 5; i++) ok += sp_agent_drain_wait(10000);
    stop_engine();
    ck_assert_msg(
        ok == 5,
        "expected 5 of 5 drains to complete within 10 s with the agent ticking every 60 s, saw %d",
        ok);
    sp_unit_rmtree(tmp);
}
END_TEST

SP_UNIT_SUITE(agent)
{
    Suite *s = suite_create("agent");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 240); /* TSan on a loaded 2-core machine */
    tcase_add_test(tc, test_continuous_chunks_while_switched);
    tcase_add_test(tc, test_transactions_to_spool_and_js);
    tcase_add_test(tc, test_drain_wait_takes_no_tick);
    suite_add_tcase(s, tc);
    return s;
}
