/* test_spool: directory creation and refusal rules, atomic commit/replace/remove, name
 * validation, the default location's environment handling, and a full filesystem (a tiny
 * tmpfs, when this process may mount one). Each test works in its own mkdtemp directory. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"
#include "spool.h"

#define ENOSPC_FS_SIZE "64k"             /* the tiny tmpfs */
#define ENOSPC_PAYLOAD (1024u * 1024u)   /* far larger than it */

#define PATHBUF 512 /* our paths are short: mkdtemp under /tmp plus a name */

static char base[64]; /* this test's scratch directory */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(base, sizeof base, "%s", "/tmp/sp-test-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
    chmod(base, 0700);
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", base, name);
}

/* Counts entries of dir (excluding . and ..); *tmp gets those that look like temp files. */
static int count_entries(const char *dir, int *tmp)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0, t = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (!strncmp(e->d_name, ".tmp-", 5)) t++;
    }
    closedir(d);
    if (tmp) *tmp = t;
    return n;
}

static void expect_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq((int)st.st_size, (int)len);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    char *buf = malloc(len + 1);
    ck_assert_int_eq((int)read(fd, buf, len + 1), (int)len);
    ck_assert_int_eq(memcmp(buf, data, len), 0);
    free(buf);
    close(fd);
}

START_TEST(creates_dir_0700)
{
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    mode_t old = umask(0); /* even with no umask the mode must be 0700 */
    sp_spool_t *sp = NULL;
    size_t before = sp_mem_in_use();
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    umask(old);
    ck_assert_ptr_nonnull(sp);
    ck_assert_str_eq(sp_spool_dir(sp), dir);
    struct stat st;
    ck_assert_int_eq(lstat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    ck_assert_uint_eq(st.st_uid, geteuid());
    sp_spool_close(sp);
    sp_spool_close(NULL);
    ck_assert_uint_eq(sp_mem_in_use(), before);
    /* Opening an existing good directory works too. */
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(tightens_wide_mode)
{
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(chmod(dir, 01777), 0);
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    sp_spool_close(sp);

    ck_assert_int_eq(chmod(dir, 0750), 0);
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    sp_spool_close(sp);
}
END_TEST

START_TEST(refuses_symlink)
{
    char target[PATHBUF], link[PATHBUF];
    path_in(target, sizeof target, "real");
    path_in(link, sizeof link, "spool");
    ck_assert_int_eq(mkdir(target, 0755), 0);
    ck_assert_int_eq(symlink(target, link), 0);
    sp_spool_t *sp = (sp_spool_t *)1;
    ck_assert_int_eq(sp_spool_open(link, &sp), -EPERM);
    ck_assert_ptr_null(sp);
    struct stat st;
    ck_assert_int_eq(stat(target, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755); /* not chmod'ed through the link */

    /* A dangling symlink must not be followed to create its target either. */
    char dangling[PATHBUF], nowhere[PATHBUF];
    path_in(dangling, sizeof dangling, "dangling");
    path_in(nowhere, sizeof nowhere, "nowhere");
    ck_assert_int_eq(symlink(nowhere, dangling), 0);
    ck_assert_int_eq(sp_spool_open(dangling, &sp), -EPERM);
    ck_assert_int_eq(access(nowhere, F_OK), -1);
}
END_TEST

START_TEST(refuses_non_dir)
{
    char file[PATHBUF];
    path_in(file, sizeof file, "spool");
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(file, &sp), -EPERM);
    ck_assert_ptr_null(sp);
}
END_TEST

START_TEST(refuses_other_owner)
{
    if (geteuid() != 0) {
        printf("refuses_other_owner: skipped (needs root to chown)\n");
        return;
    }
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(chown(dir, 12345, 12345), 0);
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), -EPERM);
    ck_assert_ptr_null(sp);
}
END_TEST

/* sp_spool_check (what `sentryprof list`/`top` run on the default spool, issue #20 item 2):
 * the same refusals as sp_spool_open, without creating or changing anything. */
START_TEST(check_without_side_effects)
{
    char dir[PATHBUF], link[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    ck_assert_int_eq(sp_spool_check(dir), -ENOENT);
    ck_assert_int_eq(access(dir, F_OK), -1); /* not created */
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(sp_spool_check(dir), 0);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755); /* not tightened by a reader */
    path_in(link, sizeof link, "link");
    ck_assert_int_eq(symlink(dir, link), 0);
    ck_assert_int_eq(sp_spool_check(link), -EPERM);
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(dir, 1001, 1001), 0);
        ck_assert_int_eq(sp_spool_check(dir), -EPERM);
    } else {
        printf("check_without_side_effects: other owner skipped (needs root to chown)\n");
    }
}
END_TEST

START_TEST(missing_parent_and_bad_args)
{
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "no/such/parent");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), -ENOENT); /* parents are never created */
    ck_assert_int_eq(sp_spool_open("", &sp), -EINVAL);
    ck_assert_int_eq(sp_spool_open(NULL, &sp), -EINVAL);
    ck_assert_int_eq(sp_spool_open(base, NULL), -EINVAL);
    ck_assert_ptr_null(sp_spool_dir(NULL));
}
END_TEST

START_TEST(commit_exact_bytes)
{
    char dir[PATHBUF], file[PATH_MAX];
    path_in(dir, sizeof dir, "spool");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    static const char data[] = "{}\n{\"type\":\"a\",\"length\":3}\na\0b\n"; /* NUL and '\n' */
    ck_assert_int_eq(sp_spool_commit(sp, "one" SP_SPOOL_SUFFIX, data, sizeof data - 1), 0);
    ck_assert_int_eq(sp_spool_commit(sp, "empty" SP_SPOOL_SUFFIX, NULL, 0), 0);
    snprintf(file, sizeof file, "%s/one" SP_SPOOL_SUFFIX, dir);
    expect_file(file, data, sizeof data - 1);
    snprintf(file, sizeof file, "%s/empty" SP_SPOOL_SUFFIX, dir);
    expect_file(file, "", 0);
    int tmp;
    ck_assert_int_eq(count_entries(dir, &tmp), 2);
    ck_assert_int_eq(tmp, 0);

    /* A big one, to exercise the write loop. */
    size_t big = 3u * 1024u * 1024u + 7;
    char *buf = malloc(big);
    for (size_t i = 0; i < big; i++) buf[i] = (char)(i * 31u);
    ck_assert_int_eq(sp_spool_commit(sp, "big" SP_SPOOL_SUFFIX, buf, big), 0);
    snprintf(file, sizeof file, "%s/big" SP_SPOOL_SUFFIX, dir);
    expect_file(file, buf, big);
    free(buf);
    sp_spool_close(sp);
}
END_TEST

START_TEST(recommit_replaces)
{
    char dir[PATHBUF], file[PATH_MAX];
    path_in(dir, sizeof dir, "spool");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    snprintf(file, sizeof file, "%s/chunk" SP_SPOOL_SUFFIX, dir);
    ck_assert_int_eq(sp_spool_commit(sp, "chunk" SP_SPOOL_SUFFIX, "first version", 13), 0);
    /* A reader holding the old file keeps reading the old bytes: a rename, not a rewrite. */
    int old = open(file, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(old, 0);
    struct stat st1, st2;
    ck_assert_int_eq(fstat(old, &st1), 0);
    ck_assert_int_eq(sp_spool_commit(sp, "chunk" SP_SPOOL_SUFFIX, "second, longer version", 22), 0);
    expect_file(file, "second, longer version", 22);
    ck_assert_int_eq(stat(file, &st2), 0);
    ck_assert(st1.st_ino != st2.st_ino);
    char buf[32];
    ck_assert_int_eq((int)pread(old, buf, sizeof buf, 0), 13);
    ck_assert_int_eq(memcmp(buf, "first version", 13), 0);
    close(old);
    int tmp;
    ck_assert_int_eq(count_entries(dir, &tmp), 1);
    ck_assert_int_eq(tmp, 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(invalid_names)
{
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    static const char *const bad[] = {"",    ".",   "..",   ".hidden", ".tmp-1-2-x",
                                      "a/b", "/abs", "../up"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(sp_spool_commit(sp, bad[i], "x", 1), -EINVAL);
        ck_assert_int_eq(sp_spool_remove(sp, bad[i]), -EINVAL);
    }
    ck_assert_int_eq(sp_spool_commit(sp, NULL, "x", 1), -EINVAL);
    ck_assert_int_eq(sp_spool_commit(NULL, "a", "x", 1), -EINVAL);
    ck_assert_int_eq(sp_spool_commit(sp, "a", NULL, 1), -EINVAL);
    ck_assert_int_eq(sp_spool_remove(sp, NULL), -EINVAL);
    ck_assert_int_eq(sp_spool_remove(NULL, "a"), -EINVAL);
    char name[256];
    memset(name, 'n', sizeof name);
    name[200] = '\0'; /* 200 characters: too long */
    ck_assert_int_eq(sp_spool_commit(sp, name, "x", 1), -EINVAL);
    name[199] = '\0'; /* 199: the longest allowed */
    ck_assert_int_eq(sp_spool_commit(sp, name, "x", 1), 0);
    ck_assert_int_eq(sp_spool_remove(sp, name), 0);
    int tmp;
    ck_assert_int_eq(count_entries(dir, &tmp), 0);
    ck_assert_int_eq(access(base, F_OK), 0);
    ck_assert_int_eq(count_entries(base, NULL), 1); /* nothing escaped into the parent */
    sp_spool_close(sp);
}
END_TEST

START_TEST(remove_works)
{
    char dir[PATHBUF];
    path_in(dir, sizeof dir, "spool");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    ck_assert_int_eq(sp_spool_commit(sp, "a" SP_SPOOL_SUFFIX, "x", 1), 0);
    ck_assert_int_eq(sp_spool_commit(sp, "b" SP_SPOOL_SUFFIX, "y", 1), 0);
    ck_assert_int_eq(sp_spool_remove(sp, "a" SP_SPOOL_SUFFIX), 0);
    ck_assert_int_eq(sp_spool_remove(sp, "a" SP_SPOOL_SUFFIX), -ENOENT);
    ck_assert_int_eq(count_entries(dir, NULL), 1);
    sp_spool_close(sp);
}
END_TEST

START_TEST(writes_follow_the_opened_dir)
{
    /* Once open, the spool is the directory, not the path: renaming it (or putting a
     * symlink at the old path) cannot redirect commits. */
    char dir[PATHBUF], moved[PATHBUF], other[PATHBUF], file[PATH_MAX];
    path_in(dir, sizeof dir, "spool");
    path_in(moved, sizeof moved, "moved");
    path_in(other, sizeof other, "other");
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    ck_assert_int_eq(rename(dir, moved), 0);
    ck_assert_int_eq(mkdir(other, 0700), 0);
    ck_assert_int_eq(symlink(other, dir), 0);
    ck_assert_int_eq(sp_spool_commit(sp, "x" SP_SPOOL_SUFFIX, "data", 4), 0);
    snprintf(file, sizeof file, "%s/x" SP_SPOOL_SUFFIX, moved);
    expect_file(file, "data", 4);
    ck_assert_int_eq(count_entries(other, NULL), 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(full_filesystem)
{
    char mnt[PATHBUF], cmd[PATH_MAX], dir[PATHBUF];
    path_in(mnt, sizeof mnt, "tiny");
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=" ENOSPC_FS_SIZE " tmpfs '%s' 2>/dev/null",
             mnt);
    if (system(cmd) != 0) {
        printf("full_filesystem: skipped (cannot mount a tmpfs here)\n");
        return;
    }
    path_in(dir, sizeof dir, "tiny/spool");
    sp_spool_t *sp = NULL;
    int open_rc = sp_spool_open(dir, &sp);
    int commit_rc = 1, small_rc = 1, entries = -1, tmp = -1;
    if (open_rc == 0) {
        char *buf = calloc(1, ENOSPC_PAYLOAD);
        commit_rc = sp_spool_commit(sp, "big" SP_SPOOL_SUFFIX, buf, ENOSPC_PAYLOAD);
        entries = count_entries(dir, &tmp);
        /* The spool is still usable afterwards. */
        small_rc = sp_spool_commit(sp, "small" SP_SPOOL_SUFFIX, buf, 100);
        free(buf);
        sp_spool_close(sp);
    }
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    int umount_rc = system(cmd); /* before asserting, so a failure leaves no mount behind */
    ck_assert_int_eq(open_rc, 0);
    ck_assert_int_eq(commit_rc, -ENOSPC);
    ck_assert_int_eq(entries, 0);
    ck_assert_int_eq(tmp, 0);
    ck_assert_int_eq(small_rc, 0);
    ck_assert_int_eq(umount_rc, 0);
}
END_TEST

SP_UNIT_SUITE(spool)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the engine does */
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, creates_dir_0700);
    tcase_add_test(tc, tightens_wide_mode);
    tcase_add_test(tc, refuses_symlink);
    tcase_add_test(tc, refuses_non_dir);
    tcase_add_test(tc, refuses_other_owner);
    tcase_add_test(tc, check_without_side_effects);
    tcase_add_test(tc, missing_parent_and_bad_args);
    tcase_add_test(tc, commit_exact_bytes);
    tcase_add_test(tc, recommit_replaces);
    tcase_add_test(tc, invalid_names);
    tcase_add_test(tc, remove_works);
    tcase_add_test(tc, writes_follow_the_opened_dir);
    tcase_add_test(tc, full_filesystem);
    suite_add_tcase(s, tc);
    return s;
}
