/* glibc_floor: force-included (-include) into every object we compile, so the preload
 * library imports no glibc symbol version newer than the floor (configure
 * --with-glibc-floor, default 2.28: what official Node 18-22 binaries need) whatever glibc
 * builds it. Two parts:
 * - sp_glibc_symver.h (generated in the build tree by tools/glibc-floor.sh): `.symver`
 *   bindings of every function whose default version is newer than the floor to the
 *   version a floor-glibc link would have used (pthread_create@GLIBC_2.2.5, ...). On
 *   glibc < 2.34 those live in libpthread/libdl/librt, hence their DT_NEEDED (Makefile.am).
 * - stat, fstat, lstat and fstatat are new symbols in 2.33 (before, inline wrappers of
 *   __xstat): declared here under other assembler names, implemented in glibc_floor.c
 *   with the system call. Nothing else to include: this comes before any system header,
 *   so it must not change feature macros. */
#ifndef SP_GLIBC_FLOOR_H
#define SP_GLIBC_FLOOR_H
#include "sp_glibc_symver.h"
#if defined(__linux__) && defined(SP_GLIBC_FLOOR_STAT)
struct stat;
extern int stat(const char *__restrict, struct stat *__restrict) __asm__("sp_floor_stat");
extern int lstat(const char *__restrict, struct stat *__restrict) __asm__("sp_floor_lstat");
extern int fstat(int, struct stat *) __asm__("sp_floor_fstat");
extern int fstatat(int, const char *__restrict, struct stat *__restrict, int) __asm__("sp_floor_fstatat");
#endif
#endif
