/* glibc_start: lets the sentryprof CLI start on glibc older than 2.34 (the glibc floor,
 * configure --with-glibc-floor, default 2.28) when a newer glibc builds it (issue #18).
 *
 * The start-up object of glibc 2.34+ (Scrt1.o, linked into every program) calls
 * __libc_start_main@GLIBC_2.34 with no init function: the new __libc_start_main runs the
 * program's constructors itself. Older glibc has only __libc_start_main@GLIBC_2.2.5
 * (2.17 on arm64), which runs the program's constructors only through the init function
 * it is given (the __libc_csu_init of old start-up objects), so a 2.34 program does not
 * load there ("version `GLIBC_2.34' not found").
 * This file defines __libc_start_main in the CLI itself, so Scrt1.o's call binds here, and
 * calls the floor's version with an init function that does what __libc_csu_init did:
 * _init, then .init_array (.preinit_array is ld.so's in a dynamic program). Every glibc
 * from the floor up has that version, and 2.34+ runs the given init as for any old program
 * (csu/libc-start.c: "a legacy program which supports calling init"), so the CLI starts
 * the same way on both. sp_glibc_start.h (tools/glibc-floor.sh --start-main) defines
 * SP_GLIBC_START_MAIN_VERSION when the build glibc's default is above the floor; otherwise
 * (older glibc, no floor) this file is empty. Not compiled with the floor header
 * (Makefile.am: its .symver of __libc_start_main would rename the definition here). The
 * library needs none of this: a shared object has no start-up code.
 * Runs once, in the main thread, before main. */
#include <stddef.h>

#include "sp_glibc_start.h"

#ifdef SP_GLIBC_START_MAIN_VERSION
typedef int (*sp_main_fn)(int, char **, char **);
typedef void (*sp_init_fn)(int, char **, char **);

/* Hidden, never exported: ld.so would bind the versioned lookup below to an exported
 * unversioned definition in the executable, this one (an endless loop). */
__attribute__((visibility("hidden"))) int __libc_start_main(sp_main_fn main_fn, int argc, char **argv, sp_init_fn init,
                                                            void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
/* The floor's __libc_start_main, under a name of ours. */
int sp_floor_libc_start_main(sp_main_fn main_fn, int argc, char **argv, sp_init_fn init, void (*fini)(void),
                             void (*rtld_fini)(void), void *stack_end);
__asm__(".symver sp_floor_libc_start_main, __libc_start_main@" SP_GLIBC_START_MAIN_VERSION);

/* crti.o's _init and the linker's bounds of .init_array (default linker script). */
extern void _init(void);
extern sp_init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern sp_init_fn __init_array_end[] __attribute__((visibility("hidden")));

static void sp_floor_init(int argc, char **argv, char **envp)
{
    _init();
    size_t n = (size_t)(__init_array_end - __init_array_start);
    for (size_t i = 0; i < n; i++)
        __init_array_start[i](argc, argv, envp);
}

int __libc_start_main(sp_main_fn main_fn, int argc, char **argv, sp_init_fn init, void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    /* init and fini are NULL from a 2.34 Scrt1.o; the executable's destructors run from
     * rtld_fini (_dl_fini) on every glibc. */
    (void)init;
    (void)fini;
    return sp_floor_libc_start_main(main_fn, argc, argv, sp_floor_init, NULL, rtld_fini, stack_end);
}
#endif
