/* native_fixture: a tiny ELF with known symbols for tests/unit/test_elfsym.c, built by
 * `make check` with -O0 -g (a PIE with a full .symtab under the default toolchain).
 *
 * Symbols the test relies on:
 *   sp_fixture_alpha, sp_fixture_beta   global functions, more than a few bytes long
 *   sp_fixture_static                   a static (STB_LOCAL) function: only in .symtab
 *   sp_fixture_beta_weak (weak) and sp_fixture_beta_local (local): aliases of beta, so the
 *                                       table must pick the global name at that address
 *   _ZN2sp7fixture5gammaEi              a C function under a C++ name ("sp::fixture::gamma(int)")
 *
 * Usage: native_fixture [--addrs]   prints "<name> 0x<runtime address>" per function, a line
 *                                   "maps", then its own /proc/self/maps, and exits 0.
 *        native_fixture --sleep N   the same, then sleeps N seconds (to inspect a live pid).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int sp_fixture_alpha(int n)
{
    volatile int acc = 0;
    for (int i = 0; i < n; i++) acc += i * 3;
    return acc;
}

__attribute__((noinline)) int sp_fixture_beta(int n)
{
    volatile int acc = 1;
    for (int i = 0; i < n; i++) acc *= 2;
    return acc;
}

int sp_fixture_beta_weak(int n) __attribute__((weak, alias("sp_fixture_beta")));
static int sp_fixture_beta_local(int n) __attribute__((alias("sp_fixture_beta"), used));

__attribute__((noinline, used)) static int sp_fixture_static(int n)
{
    volatile int acc = 7;
    for (int i = 0; i < n; i++) acc ^= i;
    return acc;
}

int sp_fixture_gamma(int n) __asm__("_ZN2sp7fixture5gammaEi");
__attribute__((noinline)) int sp_fixture_gamma(int n) { return sp_fixture_alpha(n) + 1; }

static void print_addr(const char *name, int (*fn)(int))
{
    printf("%s 0x%jx\n", name, (uintmax_t)(uintptr_t)fn);
}

int main(int argc, char **argv)
{
    unsigned sleep_s = 0;
    if (argc > 2 && strcmp(argv[1], "--sleep") == 0) sleep_s = (unsigned)atoi(argv[2]);
    else if (argc > 1 && strcmp(argv[1], "--addrs") != 0) {
        fprintf(stderr, "usage: %s [--addrs | --sleep N]\n", argv[0]);
        return 2;
    }
    print_addr("sp_fixture_alpha", sp_fixture_alpha);
    print_addr("sp_fixture_beta", sp_fixture_beta);
    print_addr("sp_fixture_beta_weak", sp_fixture_beta_weak);
    print_addr("sp_fixture_beta_local", sp_fixture_beta_local);
    print_addr("sp_fixture_static", sp_fixture_static);
    print_addr("sp_fixture_gamma", sp_fixture_gamma);
    printf("maps\n");
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 1;
    char line[4096];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    fclose(f);
    fflush(stdout);
    if (sleep_s) sleep(sleep_s);
    return sp_fixture_alpha(3) == 9 ? 0 : 1;
}
