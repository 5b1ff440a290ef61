/* v8image: the file that holds V8, its embedded builtins and V8's copies of them
 * (v8image.h says why copies matter). Owns what it found (once per process). Agent thread
 * only.
 *
 * What is trusted: the labels only inside an executable segment of the file, with a size
 * in [SP_V8IMAGE_MIN, SP_V8IMAGE_MAX]; a copy only when its first SP_V8IMAGE_CHECK bytes
 * equal the builtins' (read once; JIT code or data there would have to repeat the first
 * builtins' machine code byte for byte). */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE /* RTLD_DEFAULT, dl_iterate_phdr */
#endif

#include "v8image.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "elfsym.h"
#include "log.h"
#include "v8heap.h"

#define SP_V8IMAGE_MIN   (64u << 10) /* Node 18's builtins: 1.4 MiB; 26's: 2.1 MiB */
#define SP_V8IMAGE_MAX   (256u << 20)
#define SP_V8IMAGE_CHECK 512 /* bytes compared: the first builtins' code */

static struct {
    int file_state; /* 0 not looked for, 1 found, -1 not found */
    char path[4096];
    uint64_t bias;
    uint64_t exec_lo, exec_hi; /* runtime extent of its executable segments */
    int builtins_state;
    uint64_t start, size;
    uint8_t head[SP_V8IMAGE_CHECK]; /* the builtins' first bytes, which a copy repeats */
    size_t head_len;
} I;

/* Keeps the builtins at [start, start + size) and their first bytes: false when those
 * cannot be read. */
static bool set_builtins(uint64_t start, uint64_t size)
{
    I.start = start;
    I.size = size;
    I.head_len = size < sizeof I.head ? (size_t)size : sizeof I.head;
    I.builtins_state = size && sp_v8heap_read(start, I.head, I.head_len) ? 1 : -1;
    return I.builtins_state > 0;
}

typedef struct {
    uintptr_t addr; /* an address inside the wanted object */
    bool found;
} object_of_t;

static int object_of(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    object_of_t *o = arg;
    bool in = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t at = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD) continue;
        if (o->addr >= at && o->addr - at < ph->p_memsz) in = true;
        if (ph->p_flags & PF_X) {
            if (at < lo) lo = at;
            if (at + ph->p_memsz > hi) hi = at + ph->p_memsz;
        }
    }
    if (!in) return 0;
    /* The executable has no name here: its file is /proc/self/exe (the one mapped, even if
     * replaced on disk since). */
    const char *p = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "/proc/self/exe";
    size_t n = strlen(p);
    if (n >= sizeof I.path) return 1;
    memcpy(I.path, p, n + 1);
    I.bias = info->dlpi_addr;
    I.exec_lo = lo, I.exec_hi = hi;
    o->found = true;
    return 1;
}

__attribute__((cold)) bool sp_v8image_file(const char **path, uint64_t *bias)
{
    if (!I.file_state) {
        I.file_state = -1;
        object_of_t o = {0};
        static const char *const anchors[] = {"v8dbg_FirstNonstringType",
                                              "v8dbg_frametype_JavaScriptFrame"};
        for (size_t i = 0; i < sizeof anchors / sizeof anchors[0] && !o.addr; i++)
            o.addr = (uintptr_t)dlsym(RTLD_DEFAULT, anchors[i]);
        if (o.addr) dl_iterate_phdr(object_of, &o);
        if (o.found) I.file_state = 1;
    }
    if (I.file_state < 0) return false;
    *path = I.path;
    *bias = I.bias;
    return true;
}

__attribute__((cold)) static void load_builtins(void)
{
    I.builtins_state = -1;
    const char *path;
    uint64_t bias, code = 0, size_at;
    uint32_t size;
    if (!sp_v8image_file(&path, &bias)) return;
    /* V8 10 (Node 18) labels the code ..._code_data_ (its ..._code_ is a pointer to it);
     * V8 11 on labels the code ..._code_. */
    static const char *const names[] = {"v8_Default_embedded_blob_code_data_",
                                        "v8_Default_embedded_blob_code_"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !code; i++)
        if (!sp_elfsym_find_label(path, names[i], &code)) code = 0;
    if (!code || !sp_elfsym_find_label(path, "v8_Default_embedded_blob_code_size_", &size_at) ||
        !sp_v8heap_read(bias + size_at, &size, sizeof size) || size < SP_V8IMAGE_MIN ||
        size > SP_V8IMAGE_MAX || bias + code < I.exec_lo || bias + code + size > I.exec_hi ||
        !set_builtins(bias + code, size)) {
        SP_DEBUG("v8 image: no embedded builtins found in %s: frames in V8's copies of them "
                 "stay unnamed",
                 path);
        return;
    }
    SP_DEBUG("v8 image: embedded builtins at %#" PRIx64 ", %u bytes", I.start, size);
}

bool sp_v8image_builtins(uint64_t *start, uint64_t *size)
{
    if (!I.builtins_state) load_builtins();
    if (I.builtins_state < 0) return false;
    *start = I.start;
    *size = I.size;
    return true;
}

void sp_v8image_set_builtins(uint64_t start, uint64_t size) { set_builtins(start, size); }

bool sp_v8image_copy_base(uint64_t lo, uint64_t hi, uint64_t *base)
{
    uint64_t start, size;
    if (hi <= lo || !sp_v8image_builtins(&start, &size)) return false;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t span = (size + page - 1) & ~(page - 1);
    if (hi - lo < span) return false; /* JIT code pages, mostly: no reads */
    uint8_t got[SP_V8IMAGE_CHECK];
    const uint64_t at[2] = {lo, hi - span};
    for (int i = 0; i < 2; i++) {
        if (i && at[1] == at[0]) break;
        if (sp_v8heap_read(at[i], got, I.head_len) && memcmp(got, I.head, I.head_len) == 0) {
            *base = at[i];
            return true;
        }
    }
    return false;
}
