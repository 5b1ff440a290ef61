/* ids: owns the per-thread id generator. Threads: any but a signal handler (lazy TLS). */
#include "ids.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Ids come from a per-thread xorshift128+ seeded once from getrandom: a transaction start
 * makes three of them and must cost microseconds, not three syscalls. Ids need to be
 * unique, not secret. */
static __thread uint64_t rng[2];

static uint64_t rng_next(void)
{
    if (!(rng[0] | rng[1])) {
        if (getrandom(rng, sizeof rng, GRND_NONBLOCK) != (ssize_t)sizeof rng || !(rng[0] | rng[1])) {
            struct timespec ts; /* early boot: time and address entropy */
            clock_gettime(CLOCK_REALTIME, &ts);
            rng[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&ts;
            rng[1] = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32) ^ 0xda942042e4dd58b5ull;
        }
    }
    uint64_t x = rng[0], y = rng[1];
    rng[0] = y;
    x ^= x << 23;
    rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return rng[1] + y;
}

void sp_ids_new(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t w[2] = {rng_next(), rng_next()};
    unsigned char b[16];
    memcpy(b, w, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}
