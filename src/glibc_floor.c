/* glibc_floor: stat, lstat, fstat and fstatat for the library's objects (glibc_floor.h
 * renames their calls to these). glibc 2.33 made them exported symbols (stat@GLIBC_2.33);
 * before, they were inline calls of __xstat. The system call works on every glibc, and
 * glibc's struct stat is the kernel's on the 64-bit targets we build for (x86_64, arm64).
 * Any thread, async-signal-safe (no state); errno as the libc functions set it. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SP_GLIBC_FLOOR_STAT
int sp_floor_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags);
int sp_floor_stat(const char *restrict path, struct stat *restrict st);
int sp_floor_lstat(const char *restrict path, struct stat *restrict st);
int sp_floor_fstat(int fd, struct stat *st);

int sp_floor_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}
int sp_floor_stat(const char *restrict path, struct stat *restrict st)
{
    return sp_floor_fstatat(AT_FDCWD, path, st, 0);
}
int sp_floor_lstat(const char *restrict path, struct stat *restrict st)
{
    return sp_floor_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
int sp_floor_fstat(int fd, struct stat *st) { return sp_floor_fstatat(fd, "", st, AT_EMPTY_PATH); }
#endif
