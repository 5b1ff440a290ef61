/* threadscan: owns nothing between scans; registers threads through the sampler. A thread's
 * stack is the mapping holding the sp it reports in /proc/self/task/<tid>/syscall (blocked
 * threads report it; a running one is picked up on a later scan). Agent thread only. */
#include "threadscan.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procmaps.h"
#include "sampler.h"

static void forget_exited(pid_t tid, bool native, void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    if (native && access(path, F_OK) != 0) sp_sampler_unregister_tid(tid);
}

/* The stack pointer a blocked thread reports; false while it runs (or is gone). */
static bool blocked_sp(pid_t tid, uint64_t *sp)
{
    char path[96], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got || strncmp(line, "running", 7) == 0) return false;
    /* "<nr> <args...> <sp> <pc>": the sp is the second to last field */
    char *last = strrchr(line, ' ');
    if (!last) return false;
    *last = '\0';
    char *sp_field = strrchr(line, ' ');
    *sp = strtoull(sp_field ? sp_field + 1 : line, NULL, 16);
    return true;
}

/* The thread's name (its comm), "" when unreadable. */
static void thread_comm(pid_t tid, char *name, size_t len)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    name[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f) return;
    if (fgets(name, (int)len, f)) name[strcspn(name, "\n")] = '\0';
    fclose(f);
}

void sp_threadscan_run(void)
{
    sp_sampler_foreach_tid(forget_exited, NULL);
    DIR *d = opendir("/proc/self/task");
    if (!d) return;
    sp_procmaps_t *maps = NULL;
    pid_t self = (pid_t)syscall(SYS_gettid);
    struct dirent *de;
    while ((de = readdir(d))) {
        pid_t tid = (pid_t)atoi(de->d_name);
        char id[SP_THREAD_ID_LEN], name[SP_THREAD_NAME_LEN];
        uint64_t sp;
        if (tid <= 0 || tid == self || sp_sampler_thread_info(tid, id, name, sizeof name)) continue;
        if (!blocked_sp(tid, &sp)) continue;
        if (!maps) maps = sp_procmaps_read(NULL, 0);
        const sp_mapping_t *m = maps ? sp_procmaps_find(maps, sp) : NULL;
        if (!m || m->exec) continue;
        thread_comm(tid, name, sizeof name);
        snprintf(id, sizeof id, "%d", (int)tid);
        sp_sampler_register_tid(tid, (uintptr_t)m->start, (uintptr_t)m->end, id, name);
    }
    closedir(d);
    sp_procmaps_free(maps);
}
