/* uploader: the library's delivery thread. It never does network I/O itself: when the
 * spool has something new it posix_spawns `sentryprof upload --once` (libcurl lives in that
 * short-lived process, never in node's address space: docs/HAZARDS.md section 1) with LD_PRELOAD
 * removed, and reaps it. Started on first use, one per process, sleeping on a condition
 * variable when idle (no polling). Only with a DSN (SENTRY_DSN, or the app's Sentry SDK's);
 * its first pass comes a second after the DSN is known, so what killed processes left in
 * the spool is sent early. */
#ifndef SP_UPLOADER_H
#define SP_UPLOADER_H

#include "config.h"

/* Exit codes of `sentryprof upload` (tools/upload.c): the contract the thread acts on. */
enum {
    SP_UPLOAD_EXIT_OK = 0,       /* everything sent (or nothing to send) */
    SP_UPLOAD_EXIT_ERROR = 1,    /* retry later; files kept */
    SP_UPLOAD_EXIT_BAD_DSN = 3,  /* invalid DSN: stop trying, spool only */
    SP_UPLOAD_EXIT_DEFERRED = 4, /* some left for later (rate limit, backoff, deadline) */
};

/* Records what the thread needs (the CLI path, a copy of the environment without
 * LD_PRELOAD). Call from the constructor, before main: environ is not yet shared.
 * lib_path: our own .so, to find the CLI next to it. */
void sp_uploader_init(const sp_config_t *cfg, const char *lib_path);
/* The DSN of an app's Sentry SDK (a JS thread, once the client exists): it wins over
 * SENTRY_DSN, enables the uploader when there was no DSN, and schedules a first pass (the
 * sweep of what dead processes left) within a second. */
void sp_uploader_set_dsn(const char *dsn);
/* What the app's Sentry SDK heard back for an envelope it sent to the same DSN (its
 * transport's answer: HTTP status, X-Sentry-Rate-Limits, Retry-After; a JS thread, only for
 * a 429 or a response with rate limits): the next upload child applies it to the spool's
 * state before sending (`--sdk-response`), so Sentry's limits hold our files back as they
 * hold the SDK's. The last SP_UP_SDK_RESPONSES answers are kept until a child takes them. */
#define SP_UP_SDK_RESPONSES 4
void sp_uploader_sdk_response(long status, const char *rate_limits, const char *retry_after);
/* Something was published: start the thread if needed and wake it. Cheap; any thread. */
void sp_uploader_notify(void);
/* Exit: one last upload of what is left, waiting at most wait_ms in all (the child may go
 * on after we are gone, bounded by its own --timeout). */
void sp_uploader_shutdown(int wait_ms);
/* In a fork child: forget the thread (it does not exist there). */
void sp_uploader_atfork_child(void);

#endif
