/* nativeunwind: the callers of a native leaf that has no frame pointers (glibc, libstdc++,
 * addons), recovered off the signal path from the stack top the handler copied
 * (sp_unwind_copy_stack) with libunwind's remote API over .eh_frame, the way perf's
 * --call-graph dwarf does, and joined to the frame-pointer walk.
 *
 * Owns the table of loaded ELF objects (dl_iterate_phdr: executable segments and
 * .eh_frame_hdr), the ranges the handler copies for (published with sp_unwind_set_nofp: every
 * object except node's own executable, which keeps rbp frames), a libunwind address space
 * with our accessors, and a small cache of the objects' pages.
 *
 * Threads: the agent thread only (libunwind allocates and locks; dl_iterate_phdr takes the
 * loader lock: never in the handler, docs/HAZARDS.md §4).
 * Memory reads: the stack only from the copy (a read past it fails the step: the live stack
 * has moved on since); an object's .eh_frame through sp_v8heap_read (process_vm_readv on our
 * own pid), so an object unloaded since the table was built gives a failed step, never a
 * fault; the pages read are cached and forgotten at every refresh.
 * Join: libunwind's frames (the leaf first) up to the first one the frame-pointer walk also
 * holds, then the walk's frames from there on. A frame in code without unwind info (JIT code,
 * an unknown mapping) ends libunwind's part: from its recovered rbp the frame-pointer chain is
 * followed inside the copy until it meets the walk. No meeting point: the recovered frames
 * stay, the root end is marked truncated, unless the handler's walk had more frames and was
 * no guess (SP_SAMPLE_SCANNED: a chain the handler found by scanning the copy, kept only where
 * the unwind meets it). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include "nativeunwind.h"

#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "stats.h"
#include "unwind.h"
#include "v8heap.h"

#ifdef SP_NATIVE_UNWIND /* configure: x86_64 */
#include <libunwind.h>

/* libunwind's own search in a remote .eh_frame_hdr table (what its ptrace accessors use;
 * exported by libunwind-x86_64, not declared in its public header). */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
                                              unw_proc_info_t *pi, int need_unwind_info, void *arg);

/* libunwind's unw_resume (its object comes with unw_step's) jumps through the local
 * library's setcontext, an assembler file of libunwind.a, which we do not link. A remote
 * address space never resumes (acc_resume refuses) and nothing here calls unw_resume: this
 * stands in for it, so the library has no undefined symbol. */
int _Ux86_64_setcontext(const void *uc);
int _Ux86_64_setcontext(const void *uc) { return -1; }

#define SP_NU_MAX_OBJECTS 256
#define SP_NU_PAGE 4096
#define SP_NU_CACHE_PAGES 64 /* direct-mapped: .eh_frame_hdr tables and the hot FDEs */
#define SP_NU_MIN_CODE 0x10000
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

typedef struct {
    uint64_t lo, hi;        /* the executable segment(s): [lo, hi) */
    uint64_t img_lo, img_hi; /* every PT_LOAD segment: where its .eh_frame may be read */
    uint64_t eh_hdr;        /* runtime address of .eh_frame_hdr, 0 when none */
    uint64_t table, nfde;   /* its binary search table (datarel sdata4 pairs) */
    bool main_exe;
} object_t;

typedef struct {
    uint8_t data[SP_NU_PAGE];
} page_t;

struct sp_nativeunwind {
    unw_addr_space_t as;
    object_t obj[SP_NU_MAX_OBJECTS];
    size_t nobj;
    /* The cache's tags apart from its pages: the pages (256 KB) are allocated unzeroed and
     * touched only when a page is cached, so a process that never unwinds natively (node -e 0)
     * never faults them in. */
    uint64_t page_tag[SP_NU_CACHE_PAGES]; /* address / SP_NU_PAGE + 1; 0 = empty */
    page_t *pages;
    unsigned long long adds, subs; /* the loader's counters at the last rebuild */
};

/* What one unwind reads: the sample's registers and stack copy. */
typedef struct {
    sp_nativeunwind_t *nu;
    const sp_sample_t *s;
    const uint8_t *stack;
    size_t len;
} uctx_t;

/* ------------------------------------------------------------------ objects */

static const object_t *find_object(const sp_nativeunwind_t *nu, uint64_t ip)
{
    size_t lo = 0, hi = nu->nobj;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ip < nu->obj[mid].lo) hi = mid;
        else if (ip >= nu->obj[mid].hi) lo = mid + 1;
        else return &nu->obj[mid];
    }
    return NULL;
}

static bool in_image(const sp_nativeunwind_t *nu, uint64_t addr, size_t n)
{
    for (size_t i = 0; i < nu->nobj; i++)
        if (addr >= nu->obj[i].img_lo && addr < nu->obj[i].img_hi && nu->obj[i].img_hi - addr >= n) return true;
    return false;
}

static bool read_mem(sp_nativeunwind_t *nu, uint64_t addr, void *out, size_t n);

/* .eh_frame_hdr: version 1, then the encodings of eh_frame_ptr, fde_count and the table; the
 * table must be the sorted datarel|sdata4 pairs libunwind searches. */
static void parse_eh_hdr(sp_nativeunwind_t *nu, object_t *o)
{
    uint8_t h[12];
    if (!read_mem(nu, o->eh_hdr, h, sizeof h) || h[0] != 1 || h[2] != DW_EH_PE_udata4 ||
        h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4) || (h[1] & 0x0f) != DW_EH_PE_sdata4) {
        o->eh_hdr = 0;
        return;
    }
    uint32_t n;
    memcpy(&n, h + 8, 4);
    o->table = o->eh_hdr + 12;
    o->nfde = n;
}

typedef struct {
    sp_nativeunwind_t *nu;
    size_t n;
    bool probe; /* only read the loader's counters */
    unsigned long long adds, subs;
} collect_t;

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    collect_t *c = arg;
    if (c->n >= SP_NU_MAX_OBJECTS) return 1;
    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    if (c->probe) return 1;
    object_t o = {.lo = UINT64_MAX, .img_lo = UINT64_MAX};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t a = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD) {
            if (a < o.img_lo) o.img_lo = a;
            if (a + p->p_memsz > o.img_hi) o.img_hi = a + p->p_memsz;
        }
        if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
            if (a < o.lo) o.lo = a;
            if (a + p->p_memsz > o.hi) o.hi = a + p->p_memsz;
        } else if (p->p_type == PT_GNU_EH_FRAME) {
            o.eh_hdr = a;
        }
    }
    if (o.lo >= o.hi) return 0;
    /* The first object is the executable (node: rbp frames everywhere). */
    o.main_exe = c->n == 0 && (!info->dlpi_name || !info->dlpi_name[0]);
    c->nu->obj[c->n++] = o;
    return 0;
}

static int by_lo(const void *a, const void *b)
{
    const object_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void sp_nativeunwind_refresh(sp_nativeunwind_t *nu)
{
    if (!nu) return;
    /* The loader counts objects loaded and unloaded: rebuild only when they moved. */
    collect_t c = {.nu = nu, .probe = true};
    dl_iterate_phdr(collect, &c);
    if (nu->nobj && c.adds == nu->adds && c.subs == nu->subs) return;
    c = (collect_t){.nu = nu};
    dl_iterate_phdr(collect, &c);
    nu->adds = c.adds;
    nu->subs = c.subs;
    nu->nobj = c.n;
    qsort(nu->obj, nu->nobj, sizeof nu->obj[0], by_lo);
    memset(nu->page_tag, 0, sizeof nu->page_tag);
    uint64_t ranges[SP_NOFP_MAX][2];
    size_t nr = 0;
    for (size_t i = 0; i < nu->nobj; i++) {
        if (nu->obj[i].eh_hdr) parse_eh_hdr(nu, &nu->obj[i]);
        if (!nu->obj[i].main_exe && nu->obj[i].eh_hdr && nr < SP_NOFP_MAX) {
            ranges[nr][0] = nu->obj[i].lo;
            ranges[nr][1] = nu->obj[i].hi;
            nr++;
        }
    }
    sp_unwind_set_nofp((const uint64_t(*)[2])ranges, nr);
    unw_flush_cache(nu->as, 0, 0);
}

/* ------------------------------------------------------------------ memory */

static bool read_mem(sp_nativeunwind_t *nu, uint64_t addr, void *out, size_t n)
{
    uint8_t *dst = out;
    while (n) {
        uint64_t page = addr / SP_NU_PAGE;
        size_t off = (size_t)(addr % SP_NU_PAGE), k = SP_NU_PAGE - off;
        if (k > n) k = n;
        size_t slot = (size_t)((page * 0x9e3779b97f4a7c15ull) >> 58);
        page_t *p = nu->pages ? &nu->pages[slot] : NULL;
        if (p && nu->page_tag[slot] != page + 1) {
            /* A page of an object may end its mapping: read it whole or not cache it (a
             * failed read may have overwritten part of the page: its old tag goes first). */
            nu->page_tag[slot] = 0;
            if (sp_v8heap_read(page * SP_NU_PAGE, p->data, SP_NU_PAGE))
                nu->page_tag[slot] = page + 1;
            else p = NULL;
        }
        if (p) memcpy(dst, p->data + off, k);
        else if (!sp_v8heap_read(addr, dst, k)) return false;
        dst += k;
        addr += k;
        n -= k;
    }
    return true;
}

/* ------------------------------------------------------------------ accessors */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need, void *arg)
{
    uctx_t *u = arg;
    const object_t *o = find_object(u->nu, ip);
    if (!o || !o->eh_hdr || !o->nfde) return -UNW_ENOINFO;
    unw_dyn_info_t di;
    memset(&di, 0, sizeof di);
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = o->lo;
    di.end_ip = o->hi;
    di.u.rti.segbase = o->eh_hdr;
    di.u.rti.table_data = o->table;
    di.u.rti.table_len = o->nfde * 8 / sizeof(unw_word_t);
    return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need, arg);
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
    return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    uctx_t *u = arg;
    if (write) return -UNW_EINVAL;
    uint64_t sp = u->s->sp;
    if (addr >= sp && addr - sp <= u->len && u->len - (addr - sp) >= sizeof *val) {
        memcpy(val, u->stack + (addr - sp), sizeof *val);
        return 0;
    }
    /* Besides the copy, only the objects' own images (their .eh_frame). */
    if (!in_image(u->nu, addr, sizeof *val)) return -UNW_EINVAL;
    return read_mem(u->nu, addr, val, sizeof *val) ? 0 : -UNW_EINVAL;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
    uctx_t *u = arg;
    if (write) return -UNW_EINVAL;
    const sp_sample_t *s = u->s;
    switch (reg) {
    case UNW_X86_64_RIP: *val = s->pcs[0]; break;
    case UNW_X86_64_RSP: *val = s->sp; break;
    case UNW_X86_64_RBP: *val = s->fp; break;
    case UNW_X86_64_RBX: *val = s->regs[SP_REG_RBX]; break;
    case UNW_X86_64_R12: *val = s->regs[SP_REG_R12]; break;
    case UNW_X86_64_R13: *val = s->regs[SP_REG_R13]; break;
    case UNW_X86_64_R14: *val = s->regs[SP_REG_R14]; break;
    case UNW_X86_64_R15: *val = s->regs[SP_REG_R15]; break;
    default: *val = 0; break; /* caller-saved: no CFI rule restores a caller's value from them */
    }
    return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
    return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg) { return -UNW_EINVAL; }

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len, unw_word_t *off,
                             void *arg)
{
    return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

/* ------------------------------------------------------------------ life */

sp_nativeunwind_t *sp_nativeunwind_new(void)
{
    sp_nativeunwind_t *nu = sp_mem_calloc(1, sizeof *nu);
    if (!nu) return NULL;
    nu->pages = sp_mem_alloc(SP_NU_CACHE_PAGES * sizeof *nu->pages); /* valid by page_tag only */
    nu->as = unw_create_addr_space(&accessors, 0);
    if (!nu->as || !nu->pages) {
        if (nu->as) unw_destroy_addr_space(nu->as);
        sp_mem_free(nu->pages);
        sp_mem_free(nu);
        return NULL;
    }
    unw_set_caching_policy(nu->as, UNW_CACHE_GLOBAL);
    sp_nativeunwind_refresh(nu);
    return nu;
}

void sp_nativeunwind_free(sp_nativeunwind_t *nu)
{
    if (!nu) return;
    sp_unwind_set_nofp(NULL, 0);
    unw_destroy_addr_space(nu->as);
    sp_mem_free(nu->pages);
    sp_mem_free(nu);
}

/* ------------------------------------------------------------------ the unwind */

/* The first j >= from (from >= 1) with pcs[j] == pc, or 0. */
static unsigned in_walk(const sp_sample_t *s, uint64_t pc, unsigned from)
{
    for (unsigned j = from; j < s->nframes; j++)
        if (s->pcs[j] == pc) return j;
    return 0;
}

/* Replaces pcs[0 .. j) by out[0 .. k) (k frames recovered, the walk resumes at j; j ==
 * nframes: nothing of the walk stays), moving the V8 slot records with their frames: a record
 * of a replaced frame goes to the recovered frame with the same return address, if any. */
static void splice(sp_sample_t *s, const uint64_t *out, unsigned k, unsigned j)
{
    unsigned tail = s->nframes - j;
    if (k + tail > SP_MAX_FRAMES) {
        tail = SP_MAX_FRAMES - k;
        s->flags |= SP_SAMPLE_TRUNCATED;
    }
    unsigned nv8 = 0;
    for (unsigned i = 0; i < s->nv8 && i < SP_V8_MAX_FRAMES; i++) {
        sp_v8_slots_t v = s->v8[i];
        if (v.frame >= s->nframes) continue;
        if (v.frame >= j) {
            if (v.frame - j >= tail) continue; /* cut off */
            v.frame = (uint16_t)(v.frame - j + k);
        } else {
            unsigned at = 0;
            for (unsigned m = v.frame ? 1 : 0; m < k && !at; m++)
                if (out[m] == s->pcs[v.frame]) at = m + 1;
            if (!at) continue; /* its frame was replaced */
            v.frame = (uint16_t)(at - 1);
        }
        s->v8[nv8++] = v;
    }
    s->nv8 = (uint16_t)nv8;
    memmove(&s->pcs[k], &s->pcs[j], tail * sizeof s->pcs[0]);
    memcpy(s->pcs, out, k * sizeof s->pcs[0]);
    s->nframes = (uint16_t)(k + tail);
}

bool sp_nativeunwind_apply(sp_nativeunwind_t *nu, sp_sample_t *s, const uint8_t *stack)
{
    if (!nu || !s->stack_len || !s->nframes || s->stack_len > SP_STACK_COPY) return false;
    uctx_t u = {.nu = nu, .s = s, .stack = stack, .len = s->stack_len};
    if (!find_object(nu, s->pcs[0])) return false; /* not native code we know */
    sp_stats_inc(SP_STAT_NATIVE_UNWOUND);
    uint64_t out[SP_MAX_FRAMES];
    unsigned k = 0;
    out[k++] = s->pcs[0];
    /* A join: out[0 .. ja) then the walk's pcs[jb ..] (ja == 0: none). In native code the
     * walk may have followed a stale rbp to a frame and stopped there, so libunwind goes on
     * past a match and the deepest match counts; in JIT code the walk is right, and the
     * first match ends the unwind. */
    unsigned ja = 0, jb = 0, from = 1;
    unw_cursor_t c;
    bool ended = false; /* reached the outermost frame */
    unw_word_t rbp = 0, cfa = 0;
    if (unw_init_remote(&c, nu->as, &u) == 0) {
        while (k < SP_MAX_FRAMES) {
            if (!find_object(nu, out[k - 1])) break; /* JIT code: its rbp frame goes on below */
            int r = unw_step(&c);
            if (r == 0) ended = true;
            if (r <= 0) break;
            unw_word_t ip = 0;
            if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip < SP_NU_MIN_CODE) {
                ended = ip == 0; /* _start's caller */
                break;
            }
            unw_get_reg(&c, UNW_X86_64_RBP, &rbp);
            unw_get_reg(&c, UNW_REG_SP, &cfa);
            unsigned j = in_walk(s, ip, from);
            if (j) {
                ja = k;
                jb = j;
                from = j + 1;
                if (!find_object(nu, ip)) break; /* JIT code the walk holds: it goes on */
            }
            out[k++] = ip;
        }
    }
    /* Out of unwind info (JIT code) or copy: follow the rbp chain inside the copy. */
    if (!ended && k > 1 && !(ja && ja == k)) {
        uint64_t fp = rbp, lo = cfa, end = s->sp + s->stack_len;
        while (k < SP_MAX_FRAMES && fp >= lo && fp >= s->sp && fp + 16 <= end && !(fp & 7)) {
            uint64_t next, ret;
            memcpy(&next, stack + (fp - s->sp), 8);
            memcpy(&ret, stack + (fp - s->sp) + 8, 8);
            if (ret < SP_NU_MIN_CODE) break;
            unsigned j = in_walk(s, ret, from);
            if (j) {
                ja = k;
                jb = j;
                break;
            }
            out[k++] = ret;
            if (next <= fp) break;
            lo = fp + 16;
            fp = next;
        }
    }
    if (ended) {
        splice(s, out, k, s->nframes);
        s->flags &= (uint16_t)~SP_SAMPLE_SCANNED;
        sp_stats_inc(SP_STAT_NATIVE_KEPT);
        return true;
    }
    if (ja && ja + (s->nframes - jb) >= k) {
        splice(s, out, ja, jb);
        s->flags &= (uint16_t)~SP_SAMPLE_SCANNED;
        sp_stats_inc(SP_STAT_NATIVE_KEPT);
        return true;
    }
    sp_stats_inc(SP_STAT_NATIVE_LOST);
    /* the handler's walk had as much, and was no guess: keep it */
    if (k <= s->nframes && !(s->flags & SP_SAMPLE_SCANNED)) return false;
    s->flags &= (uint16_t)~SP_SAMPLE_SCANNED;
    splice(s, out, k, s->nframes);
    s->flags |= SP_SAMPLE_TRUNCATED;
    return true;
}

#else /* no native unwinding on this architecture yet: no copies are asked for */

sp_nativeunwind_t *sp_nativeunwind_new(void) { return NULL; }
void sp_nativeunwind_free(sp_nativeunwind_t *nu) {}
void sp_nativeunwind_refresh(sp_nativeunwind_t *nu) {}
bool sp_nativeunwind_apply(sp_nativeunwind_t *nu, sp_sample_t *s, const uint8_t *stack) { return false; }

#endif
