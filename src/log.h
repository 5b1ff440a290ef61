/* log: the one logger. "[sentryprof] " prefix, written with write(2) to stderr.
 * Not async-signal-safe (formats with vsnprintf): never call from the signal handler.
 * Quiet by default: warnings a user can act on; SENTRYPROF_DEBUG=1 adds debug lines. */
#ifndef SP_LOG_H
#define SP_LOG_H

enum sp_log_level { SP_LOG_ERROR = 0, SP_LOG_WARN = 1, SP_LOG_INFO = 2, SP_LOG_DEBUG = 3 };

void sp_log_set_level(int level);
int sp_log_get_level(void);
void sp_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Arguments are not evaluated when the level is off. */
#define sp_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= sp_log_get_level()) sp_log_write((level), __VA_ARGS__);                     \
    } while (0)
#define SP_WARN(...) sp_log(SP_LOG_WARN, __VA_ARGS__)
#define SP_INFO(...) sp_log(SP_LOG_INFO, __VA_ARGS__)
#define SP_DEBUG(...) sp_log(SP_LOG_DEBUG, __VA_ARGS__)

#endif
