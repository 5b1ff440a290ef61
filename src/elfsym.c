/* elfsym: native symbols for the symbolizer.
 *
 * Owns sp_elfsym_t: one ELF file, read with pread through an fd kept open (O_CLOEXEC) for the
 *    table's lifetime: never mapped, so a library truncated in place while we hold it (an
 *    installer that rewrites instead of renaming) gives short reads and unnamed frames,
 *    never SIGBUS in the host. Its function symbols (.symtab, else .dynsym) become a compact
 *    sorted index of 16 bytes per symbol (the symbol table is read a chunk at a time); a name is read from the string table on its first lookup, C++ names
 *    demangled, and cached. The PT_LOAD table turns runtime addresses into file vaddrs.
 *    Its GNU build id (the NT_GNU_BUILD_ID note, PT_NOTE first, else a SHT_NOTE section) is
 *    read at open. A file without .symtab (a distribution's stripped library, which keeps
 *    only the exported .dynsym) takes its names from the separate debug file of the same
 *    build id, <root>/usr/lib/debug/.build-id/xx/yyyy.debug, when one is installed (libc6-dbg,
 *    *-dbgsym): its .symtab names the internal functions (__memmove_avx_unaligned_erms) that
 *    .dynsym cannot. The addresses stay the mapped file's (its PT_LOADs); only the symbols
 *    come from the debug file, whose build id must match.
 *
 * Threads: the background (symbolizer) thread only. Allocates, does file I/O, and calls
 * dlsym and __cxa_demangle: never from the signal handler. A table is used by one thread
 * at a time (lookups fill the demangle cache); no locks of its own besides pthread_once.
 * Environment: none.
 *
 * Rules: every offset, size and count read from an ELF file is checked against the file size
 * before use and every struct is read with memcpy (a hostile file may misalign them), so a
 * truncated or garbage file yields NULL or an empty table, never a crash. Opened with
 * O_NONBLOCK so a FIFO in place of a library cannot hang the thread. Memory from sp_mem_*
 * only; the one exception is the string __cxa_demangle returns, which comes from libc's
 * malloc and goes straight back to libc's free.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif

#include "elfsym.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define SP_ELFSYM_NEST_SCAN 16      /* sized symbols looked at below a miss (nested symbols) */
#define SP_ELFSYM_CACHE_MIN 64      /* first size of the demangled-name cache (power of 2) */
#define SP_DEMANGLE_BUF 1024        /* demangled names longer than this are truncated */
#define SP_DEMANGLE_MAX_INPUT 4096  /* longer mangled names are not fed to the demangler */
#define SP_ELFSYM_NAME_MAX 4096     /* a symbol name read from the file is cut here */
#define SP_ELFSYM_NAME_READ 256     /* first read of a name; longer ones are read again whole */

#define SP_ELFSYM_NOTES_READ 1024 /* bytes of notes searched for the build id */

/* ---------------------------------------------------------------- demangling */

typedef char *(*cxa_demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static pthread_once_t demangle_once = PTHREAD_ONCE_INIT;
static cxa_demangle_fn demangler;

/* In node, libstdc++ is already loaded; elsewhere there may be no demangler at all, and we
 * never load one (no link dependency on libstdc++). */
static void demangle_init(void)
{
    demangler = (cxa_demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
}

const char *sp_demangle(const char *mangled, char *buf, size_t buflen)
{
    if (!mangled || !buf || buflen == 0 || mangled[0] != '_' || mangled[1] != 'Z') return NULL;
    if (strnlen(mangled, SP_DEMANGLE_MAX_INPUT + 1) > SP_DEMANGLE_MAX_INPUT) return NULL;
    pthread_once(&demangle_once, demangle_init);
    if (!demangler) return NULL;
    int status = -1;
    char *out = demangler(mangled, NULL, NULL, &status);
    if (!out || status != 0) {
        free(out); /* libc's malloc made it, libc's free takes it back */
        return NULL;
    }
    size_t n = strlen(out);
    if (n >= buflen) n = buflen - 1;
    memcpy(buf, out, n);
    buf[n] = '\0';
    free(out);
    return buf;
}

/* ---------------------------------------------------------------- ELF symbols */

typedef struct {
    uint64_t addr;
    uint32_t size; /* saturated below 1 GiB (while building: the rank in its top bits) */
    uint32_t name; /* offset into strtab */
} sym_t;

typedef struct {
    uint64_t offset, filesz, vaddr, memsz;
    bool exec;
} seg_t;

typedef struct {
    uint32_t key; /* symbol index + 1; 0 = empty slot */
    char *name;   /* sp_mem; NULL: unreadable (remembered, not retried) */
} name_slot_t;

struct sp_elfsym {
    int fd;
    uint64_t file_len; /* size at open: every read is checked against it */
    uint64_t strtab_off, strtab_len;
    sym_t *syms;
    size_t nsyms;
    seg_t *segs;
    size_t nsegs;
    uint64_t page; /* runtime page size: mapping offsets are aligned to it */
    name_slot_t *cache;
    size_t cache_cap, cache_used;
    sp_elfsym_t *debug; /* the debug file whose .symtab names this file's code, or NULL */
    bool symtab;        /* the symbols came from a .symtab */
    uint8_t build_id_len;
    uint8_t build_id[SP_ELFSYM_BUILD_ID_MAX];
};

/* [off, off+len) lies inside the file (overflow-safe). */
static bool in_file(const sp_elfsym_t *elf, uint64_t off, uint64_t len)
{
    return off <= elf->file_len && len <= elf->file_len - off;
}

/* count entries of entsize bytes at off lie inside the file. */
static bool array_in_file(const sp_elfsym_t *elf, uint64_t off, uint64_t count, uint64_t entsize)
{
    if (off > elf->file_len) return false;
    return count <= (elf->file_len - off) / entsize;
}

/* Reads [off, off+len) of the file; false when outside it or short (truncated since). */
static bool read_at(const sp_elfsym_t *elf, uint64_t off, void *buf, size_t len)
{
    if (!in_file(elf, off, len)) return false;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(elf->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += (size_t)r;
    }
    return true;
}

/* The GNU build id among the notes at [off, off+size) (entries aligned to align: 4, or 8
 * for notes such as .note.gnu.property), unless one was found already. */
static void read_build_id(sp_elfsym_t *elf, uint64_t off, uint64_t size, uint64_t align)
{
    unsigned char buf[SP_ELFSYM_NOTES_READ];
    if (size > sizeof buf) size = sizeof buf;
    if (elf->build_id_len || !read_at(elf, off, buf, (size_t)size)) return;
    uint64_t a = align == 8 ? 8 : 4, p = 0;
    while (size - p >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, buf + p, sizeof nh);
        uint64_t name = p + sizeof nh, desc = name + ((nh.n_namesz + a - 1) & ~(a - 1));
        if (desc > size || nh.n_descsz > size - desc) return;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(buf + name, "GNU", 4) == 0) {
            if (nh.n_descsz && nh.n_descsz <= SP_ELFSYM_BUILD_ID_MAX) {
                memcpy(elf->build_id, buf + desc, nh.n_descsz);
                elf->build_id_len = (uint8_t)nh.n_descsz;
            }
            return;
        }
        p = desc + ((nh.n_descsz + a - 1) & ~(a - 1));
    }
}

static bool read_shdr(const sp_elfsym_t *elf, const Elf64_Ehdr *eh, uint64_t shnum, uint64_t i,
                      Elf64_Shdr *sh)
{
    if (i >= shnum) return false;
    return read_at(elf, eh->e_shoff + i * sizeof *sh, sh, sizeof *sh);
}

static int bind_rank(unsigned char info)
{
    switch (ELF64_ST_BIND(info)) {
    case STB_GLOBAL:
    case STB_GNU_UNIQUE: return 0;
    case STB_WEAK: return 1;
    default: return 2;
    }
}

/* Stable sort by address: LSD radix, 11 bits a pass, passes whose digit is the same for
 * every symbol skipped (node's addresses need 3). node's 78k symbols: ~1 ms, against ~7 ms
 * for qsort with a comparator reading the symbol table. The counts are 8 KB: 16-bit digits
 * needed 512 KB, 128 page faults on the first table. tmp holds n entries. */
#define SP_ELFSYM_RADIX_BITS 11
static void sort_by_addr(sym_t *syms, sym_t *tmp, size_t n)
{
    /* agent thread only (one table is built at a time) */
    static size_t count[1u << SP_ELFSYM_RADIX_BITS];
    const uint64_t mask = (1u << SP_ELFSYM_RADIX_BITS) - 1;
    sym_t *src = syms, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += SP_ELFSYM_RADIX_BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[(src[i].addr >> shift) & mask]++;
        if (count[(src[0].addr >> shift) & mask] == n) continue; /* one digit: nothing to do */
        size_t sum = 0;
        for (size_t d = 0; d <= mask; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(src[i].addr >> shift) & mask]++] = src[i];
        sym_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != syms) memcpy(syms, src, n * sizeof *syms);
}

/* While the index is built, a symbol's size field carries its binding's rank (global 0, weak
 * 1, other 2) in its top two bits; sizes saturate below them (no function is 1 GiB). */
#define SP_ELFSYM_RANK_SHIFT 30
#define SP_ELFSYM_SIZE_MAX   ((1u << SP_ELFSYM_RANK_SHIFT) - 1)

/* Whether a is the symbol to keep over b at one address: global before weak before local,
 * then the longer one; the sort is stable, so on a tie the earlier (lower index) stays. */
static bool better_alias(const sym_t *a, const sym_t *b)
{
    uint32_t ra = a->size >> SP_ELFSYM_RANK_SHIFT, rb = b->size >> SP_ELFSYM_RANK_SHIFT;
    if (ra != rb) return ra < rb;
    return (a->size & SP_ELFSYM_SIZE_MAX) > (b->size & SP_ELFSYM_SIZE_MAX);
}

#define SP_ELFSYM_READ_SYMS 2048 /* symbols read at a time (48 KB) */

/* Indexes one SHT_SYMTAB/SHT_DYNSYM section. 0 (possibly with no symbols) or -errno.
 * The table is read a chunk at a time into one small buffer, and the index is allocated for
 * every entry but written only for function symbols: memory never written is never faulted
 * in. (node's 2.6 MB .symtab read whole, plus the index and the sort's scratch, was ~1,500
 * page faults, and a page fault costs 10-15 us on some virtual machines: 20-30 ms a process.) */
static int index_symbols(sp_elfsym_t *elf, const Elf64_Ehdr *eh, uint64_t shnum,
                         const Elf64_Shdr *symsh)
{
    Elf64_Shdr strsh;
    if (symsh->sh_entsize != sizeof(Elf64_Sym)) return 0;
    if (!in_file(elf, symsh->sh_offset, symsh->sh_size)) return 0;
    if (!read_shdr(elf, eh, shnum, symsh->sh_link, &strsh) || strsh.sh_type != SHT_STRTAB)
        return 0;
    if (!in_file(elf, strsh.sh_offset, strsh.sh_size) || strsh.sh_size == 0) return 0;
    uint64_t strsize = strsh.sh_size; /* names are read lazily, bounded by it (cached_name) */

    uint64_t count = symsh->sh_size / sizeof(Elf64_Sym);
    if (count < 2) return 0; /* entry 0 is the null symbol */
    if (count > SIZE_MAX / sizeof(sym_t)) return 0;
    Elf64_Sym *chunk = sp_mem_alloc(SP_ELFSYM_READ_SYMS * sizeof *chunk);
    sym_t *syms = sp_mem_alloc((size_t)count * sizeof *syms);
    if (!chunk || !syms) {
        sp_mem_free(chunk);
        sp_mem_free(syms);
        return -ENOMEM;
    }
    size_t n = 0;
    for (uint64_t base = 1; base < count; base += SP_ELFSYM_READ_SYMS) {
        size_t k =
            count - base < SP_ELFSYM_READ_SYMS ? (size_t)(count - base) : SP_ELFSYM_READ_SYMS;
        if (!read_at(elf, symsh->sh_offset + base * sizeof(Elf64_Sym), chunk, k * sizeof *chunk)) {
            n = 0; /* truncated under us: no symbols */
            break;
        }
        for (size_t i = 0; i < k; i++) {
            const Elf64_Sym sym = chunk[i]; /* our own aligned buffer */
            unsigned type = ELF64_ST_TYPE(sym.st_info);
            if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
            if (sym.st_value == 0 || sym.st_shndx == SHN_UNDEF) continue;
            if (sym.st_name == 0 || sym.st_name >= strsize || sym.st_name > UINT32_MAX) continue;
            uint32_t size =
                sym.st_size > SP_ELFSYM_SIZE_MAX ? SP_ELFSYM_SIZE_MAX : (uint32_t)sym.st_size;
            syms[n].addr = sym.st_value;
            syms[n].size = size | (uint32_t)bind_rank(sym.st_info) << SP_ELFSYM_RANK_SHIFT;
            syms[n].name = (uint32_t)sym.st_name;
            n++;
        }
    }
    sp_mem_free(chunk);
    sym_t *tmp = n ? sp_mem_alloc(n * sizeof *tmp) : NULL;
    if (n && !tmp) {
        sp_mem_free(syms);
        return -ENOMEM;
    }
    if (n) sort_by_addr(syms, tmp, n);
    sp_mem_free(tmp);

    /* One entry per address, named by its best alias; it spans the longest of them so no
     * alias leaves a hole. */
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, best = i;
        uint32_t size = syms[i].size & SP_ELFSYM_SIZE_MAX;
        while (j < n && syms[j].addr == syms[i].addr) {
            if ((syms[j].size & SP_ELFSYM_SIZE_MAX) > size)
                size = syms[j].size & SP_ELFSYM_SIZE_MAX;
            if (better_alias(&syms[j], &syms[best])) best = j;
            j++;
        }
        syms[out].addr = syms[i].addr;
        syms[out].name = syms[best].name;
        syms[out].size = size;
        out++;
        i = j;
    }
    if (out == 0) {
        sp_mem_free(syms);
        return 0;
    }
    sym_t *shrunk = sp_mem_realloc(syms, out * sizeof *syms);
    elf->syms = shrunk ? shrunk : syms;
    elf->nsyms = out;
    elf->strtab_off = strsh.sh_offset;
    elf->strtab_len = strsize;
    return 0;
}

static int load_segments(sp_elfsym_t *elf, const Elf64_Ehdr *eh, uint64_t phnum)
{
    if (phnum == 0 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        !array_in_file(elf, eh->e_phoff, phnum, sizeof(Elf64_Phdr)))
        return 0;
    size_t nload = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        if (!read_at(elf, eh->e_phoff + i * sizeof ph, &ph, sizeof ph)) return 0;
        nload += ph.p_type == PT_LOAD;
        if (ph.p_type == PT_NOTE) read_build_id(elf, ph.p_offset, ph.p_filesz, ph.p_align);
    }
    if (nload == 0) return 0;
    elf->segs = sp_mem_calloc(nload, sizeof *elf->segs);
    if (!elf->segs) return -ENOMEM;
    for (uint64_t i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        if (!read_at(elf, eh->e_phoff + i * sizeof ph, &ph, sizeof ph)) break;
        if (ph.p_type != PT_LOAD) continue;
        seg_t *s = &elf->segs[elf->nsegs++];
        s->offset = ph.p_offset;
        s->filesz = ph.p_filesz;
        s->vaddr = ph.p_vaddr;
        s->memsz = ph.p_memsz;
        s->exec = (ph.p_flags & PF_X) != 0;
    }
    return 0;
}

static bool valid_ehdr(const sp_elfsym_t *elf, Elf64_Ehdr *eh)
{
    if (!read_at(elf, 0, eh, sizeof *eh)) return false;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return false;
    if (eh->e_ident[EI_CLASS] != ELFCLASS64) return false;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB) return false;
#else
    if (eh->e_ident[EI_DATA] != ELFDATA2MSB) return false;
#endif
    if (eh->e_ident[EI_VERSION] != EV_CURRENT) return false;
    /* Only what the loader maps: executables (PIE or not), shared objects, debug files. */
    return eh->e_type == ET_EXEC || eh->e_type == ET_DYN;
}

/* Builds everything from the file; elf is a valid, empty table whatever happens. */
static int index_file(sp_elfsym_t *elf, const Elf64_Ehdr *eh)
{
    /* Extended numbering: counts too large for the header live in section 0. */
    uint64_t shnum = eh->e_shnum, phnum = eh->e_phnum;
    bool have_sh = eh->e_shoff != 0 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
                   array_in_file(elf, eh->e_shoff, 1, sizeof(Elf64_Shdr));
    if (have_sh) {
        Elf64_Shdr sh0;
        if (!read_at(elf, eh->e_shoff, &sh0, sizeof sh0)) return 0;
        if (shnum == 0) shnum = sh0.sh_size;
        if (phnum == PN_XNUM) phnum = sh0.sh_info;
        have_sh = shnum > 0 && array_in_file(elf, eh->e_shoff, shnum, sizeof(Elf64_Shdr));
    }
    int rc = load_segments(elf, eh, phnum);
    if (rc || !have_sh) return rc;
    for (uint64_t i = 1; i < shnum && !elf->build_id_len; i++) { /* no PT_NOTE held it */
        Elf64_Shdr sh;
        if (read_shdr(elf, eh, shnum, i, &sh) && sh.sh_type == SHT_NOTE)
            read_build_id(elf, sh.sh_offset, sh.sh_size, sh.sh_addralign);
    }

    /* .symtab when present (it has the local symbols: node's Builtins_*), else .dynsym. */
    static const uint32_t order[] = {SHT_SYMTAB, SHT_DYNSYM};
    for (size_t k = 0; k < sizeof order / sizeof order[0] && elf->nsyms == 0; k++) {
        for (uint64_t i = 1; i < shnum && elf->nsyms == 0; i++) {
            Elf64_Shdr sh;
            if (!read_shdr(elf, eh, shnum, i, &sh)) return 0;
            if (sh.sh_type != order[k]) continue;
            rc = index_symbols(elf, eh, shnum, &sh);
            if (rc) return rc;
            elf->symtab = k == 0 && elf->nsyms;
        }
    }
    return 0;
}

static sp_elfsym_t *open_elf(const char *path, const char *root, bool find_debug)
{
    if (!path || !*path) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        SP_DEBUG("elfsym: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
        (uint64_t)st.st_size > SIZE_MAX) {
        SP_DEBUG("elfsym: %s: not a regular file large enough to be ELF", path);
        close(fd);
        return NULL;
    }
    sp_elfsym_t *elf = sp_mem_calloc(1, sizeof *elf);
    if (!elf) {
        close(fd);
        return NULL;
    }
    elf->fd = fd;
    elf->file_len = (uint64_t)st.st_size;
    long page = sysconf(_SC_PAGESIZE);
    elf->page = page > 0 ? (uint64_t)page : 4096;

    Elf64_Ehdr eh;
    if (!valid_ehdr(elf, &eh)) {
        SP_DEBUG("elfsym: %s: not a 64-bit ELF executable or shared object", path);
        sp_elfsym_free(elf);
        return NULL;
    }
    int rc = index_file(elf, &eh);
    if (rc) {
        SP_DEBUG("elfsym: %s: %s", path, strerror(-rc));
        sp_elfsym_free(elf);
        return NULL;
    }
    if (find_debug && !elf->symtab && elf->build_id_len) {
        char p[PATH_MAX];
        int o = snprintf(p, sizeof p, "%s/usr/lib/debug/.build-id/%02x/", root ? root : "",
                         elf->build_id[0]);
        for (size_t i = 1; i < elf->build_id_len && o > 0 && (size_t)o < sizeof p; i++)
            o += snprintf(p + o, sizeof p - (size_t)o, "%02x", elf->build_id[i]);
        if (o > 0 && (size_t)o < sizeof p) snprintf(p + o, sizeof p - (size_t)o, ".debug");
        sp_elfsym_t *d = open_elf(p, NULL, false);
        if (d && d->symtab && d->build_id_len == elf->build_id_len &&
            memcmp(d->build_id, elf->build_id, elf->build_id_len) == 0)
            elf->debug = d;
        else
            sp_elfsym_free(d);
    }
    SP_DEBUG("elfsym: %s: %zu function symbols%s, %zu load segments", path, sp_elfsym_count(elf),
             elf->debug ? " (debug file)" : "", elf->nsegs);
    return elf;
}

/* ---------------------------------------------------------------- data symbols */

/* One symbol table section: the symbol of that type named name with a size in [lo, hi]. */
static bool find_object_in(const sp_elfsym_t *elf, const Elf64_Ehdr *eh, uint64_t shnum,
                           const Elf64_Shdr *symsh, unsigned type, const char *name, uint64_t lo,
                           uint64_t hi, uint64_t *vaddr, uint64_t *size)
{
    Elf64_Shdr strsh;
    size_t nlen = strlen(name) + 1;
    char got[256];
    if (nlen > sizeof got || symsh->sh_entsize != sizeof(Elf64_Sym) ||
        !in_file(elf, symsh->sh_offset, symsh->sh_size) ||
        !read_shdr(elf, eh, shnum, symsh->sh_link, &strsh) || strsh.sh_type != SHT_STRTAB ||
        !in_file(elf, strsh.sh_offset, strsh.sh_size))
        return false;
    uint64_t count = symsh->sh_size / sizeof(Elf64_Sym);
    Elf64_Sym *chunk = sp_mem_alloc(SP_ELFSYM_READ_SYMS * sizeof *chunk);
    if (!chunk) return false;
    bool found = false;
    for (uint64_t base = 1; base < count && !found; base += SP_ELFSYM_READ_SYMS) {
        size_t k =
            count - base < SP_ELFSYM_READ_SYMS ? (size_t)(count - base) : SP_ELFSYM_READ_SYMS;
        if (!read_at(elf, symsh->sh_offset + base * sizeof(Elf64_Sym), chunk, k * sizeof *chunk))
            break;
        for (size_t i = 0; i < k && !found; i++) {
            const Elf64_Sym sym = chunk[i];
            if (ELF64_ST_TYPE(sym.st_info) != type || sym.st_shndx == SHN_UNDEF ||
                sym.st_size < lo || sym.st_size > hi || sym.st_name == 0 ||
                sym.st_name >= strsh.sh_size || strsh.sh_size - sym.st_name < nlen ||
                !read_at(elf, strsh.sh_offset + sym.st_name, got, nlen) ||
                memcmp(got, name, nlen) != 0)
                continue;
            *vaddr = sym.st_value, *size = sym.st_size;
            found = true;
        }
    }
    sp_mem_free(chunk);
    return found;
}

static bool find_symbol(const char *path, unsigned type, const char *name, uint64_t min_size,
                        uint64_t max_size, uint64_t *vaddr, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st;
    sp_elfsym_t elf = {.fd = fd};
    Elf64_Ehdr eh;
    bool found = false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof eh) {
        elf.file_len = (uint64_t)st.st_size;
        if (valid_ehdr(&elf, &eh) && eh.e_shoff && eh.e_shentsize == sizeof(Elf64_Shdr)) {
            uint64_t shnum = eh.e_shnum;
            Elf64_Shdr sh;
            if (shnum == 0 && read_at(&elf, eh.e_shoff, &sh, sizeof sh)) shnum = sh.sh_size;
            static const uint32_t order[] = {SHT_SYMTAB, SHT_DYNSYM};
            for (size_t o = 0; o < 2 && !found; o++)
                for (uint64_t i = 1; i < shnum && !found; i++)
                    if (read_shdr(&elf, &eh, shnum, i, &sh) && sh.sh_type == order[o])
                        found = find_object_in(&elf, &eh, shnum, &sh, type, name, min_size,
                                               max_size, vaddr, size);
        }
    }
    close(fd);
    return found;
}

bool sp_elfsym_find_object(const char *path, const char *name, uint64_t min_size, uint64_t max_size,
                           uint64_t *vaddr, uint64_t *size)
{
    return find_symbol(path, STT_OBJECT, name, min_size, max_size, vaddr, size);
}

bool sp_elfsym_find_label(const char *path, const char *name, uint64_t *vaddr)
{
    uint64_t size;
    return find_symbol(path, STT_NOTYPE, name, 0, 0, vaddr, &size);
}

sp_elfsym_t *sp_elfsym_open(const char *path, const char *root)
{
    return open_elf(path, root, true);
}

size_t sp_elfsym_build_id(const sp_elfsym_t *elf, const uint8_t **id)
{
    *id = elf ? elf->build_id : NULL;
    return elf ? elf->build_id_len : 0;
}

void sp_elfsym_free(sp_elfsym_t *elf)
{
    if (!elf) return;
    sp_elfsym_free(elf->debug);
    for (size_t i = 0; i < elf->cache_cap; i++)
        if (elf->cache[i].key) sp_mem_free(elf->cache[i].name);
    sp_mem_free(elf->cache);
    sp_mem_free(elf->syms);
    sp_mem_free(elf->segs);
    if (elf->fd >= 0) close(elf->fd);
    sp_mem_free(elf);
}

size_t sp_elfsym_count(const sp_elfsym_t *elf)
{
    if (elf && elf->debug) elf = elf->debug;
    return elf ? elf->nsyms : 0;
}

bool sp_elfsym_to_vaddr(const sp_elfsym_t *elf, const sp_mapping_t *m, uint64_t addr,
                        uint64_t *vaddr)
{
    if (!elf || !m || !vaddr || addr < m->start || addr >= m->end) return false;
    /* The loader maps each PT_LOAD from its page-aligned offset, so a mapping's offset can fall
     * in two segments that share a file page (the tail of .text and the head of .data). The
     * segment that starts exactly there is the one mapped; then the one whose 'x' matches. */
    const seg_t *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < elf->nsegs; i++) {
        const seg_t *s = &elf->segs[i];
        uint64_t lo = s->offset & ~(elf->page - 1);
        if (s->filesz == 0 || m->offset < lo) continue;
        if (m->offset >= s->offset && m->offset - s->offset >= s->filesz) continue;
        int score = (lo == m->offset ? 2 : 0) + (s->exec == m->exec ? 1 : 0);
        if (score > best_score) {
            best = s;
            best_score = score;
        }
    }
    if (!best) return false;
    *vaddr = addr - m->start + m->offset - best->offset + best->vaddr;
    return true;
}

/* The PT_LOAD whose memory image holds vaddr, or NULL. */
static const seg_t *segment_of(const sp_elfsym_t *elf, uint64_t vaddr)
{
    for (size_t i = 0; i < elf->nsegs; i++) {
        const seg_t *s = &elf->segs[i];
        if (vaddr >= s->vaddr && vaddr - s->vaddr < s->memsz) return s;
    }
    return NULL;
}

/* Symbol idx's name as read from the string table (a new sp_mem string), or NULL when it
 * cannot be read (truncated file, no NUL within SP_ELFSYM_NAME_MAX). */
static char *read_name(const sp_elfsym_t *elf, size_t idx)
{
    uint64_t off = elf->syms[idx].name, avail = elf->strtab_len - off; /* off < strtab_len */
    size_t want = avail < SP_ELFSYM_NAME_READ ? (size_t)avail : SP_ELFSYM_NAME_READ;
    char small[SP_ELFSYM_NAME_READ];
    if (!read_at(elf, elf->strtab_off + off, small, want)) return NULL;
    char *nul = memchr(small, '\0', want);
    if (nul) return sp_mem_strndup(small, (size_t)(nul - small));
    if (want == avail) return NULL; /* the table ends before the name does */
    want = avail < SP_ELFSYM_NAME_MAX ? (size_t)avail : SP_ELFSYM_NAME_MAX;
    char *big = sp_mem_alloc(want);
    if (!big) return NULL;
    char *name = NULL;
    if (read_at(elf, elf->strtab_off + off, big, want) && (nul = memchr(big, '\0', want)))
        name = sp_mem_strndup(big, (size_t)(nul - big));
    sp_mem_free(big);
    return name;
}

/* Symbol idx's name, demangled, read once and cached (also when unreadable: not retried). */
static const char *cached_name(sp_elfsym_t *elf, size_t idx)
{
    uint32_t key = (uint32_t)idx + 1;
    if (elf->cache) {
        size_t mask = elf->cache_cap - 1;
        for (size_t h = (key * 2654435761u) & mask;; h = (h + 1) & mask) {
            if (elf->cache[h].key == key) return elf->cache[h].name;
            if (elf->cache[h].key == 0) break;
        }
    }
    /* Grow at half full: rehash into a table twice the size. */
    if ((elf->cache_used + 1) * 2 > elf->cache_cap) {
        size_t cap = elf->cache_cap ? elf->cache_cap * 2 : SP_ELFSYM_CACHE_MIN;
        name_slot_t *nc = sp_mem_calloc(cap, sizeof *nc);
        if (!nc) return NULL;
        for (size_t i = 0; i < elf->cache_cap; i++) {
            if (!elf->cache[i].key) continue;
            size_t h = (elf->cache[i].key * 2654435761u) & (cap - 1);
            while (nc[h].key) h = (h + 1) & (cap - 1);
            nc[h] = elf->cache[i];
        }
        sp_mem_free(elf->cache);
        elf->cache = nc;
        elf->cache_cap = cap;
    }
    char *name = read_name(elf, idx);
    /* A .symtab (a debug file's) spells versioned definitions "pthread_cond_signal@@GLIBC_2.3.2";
     * .dynsym, and everyone else, "pthread_cond_signal". */
    char *at = name ? strchr(name, '@') : NULL;
    if (at && at != name) *at = '\0';
    char buf[SP_DEMANGLE_BUF];
    if (name && sp_demangle(name, buf, sizeof buf)) {
        char *d = sp_mem_strdup(buf);
        if (d) {
            sp_mem_free(name);
            name = d;
        }
    }
    /* Cached even when unreadable or not demangled, so a bad name is not re-read on every
     * sample. */
    size_t h = (key * 2654435761u) & (elf->cache_cap - 1);
    while (elf->cache[h].key) h = (h + 1) & (elf->cache_cap - 1);
    elf->cache[h] = (name_slot_t){.key = key, .name = name};
    elf->cache_used++;
    return name;
}

const char *sp_elfsym_lookup(sp_elfsym_t *elf, uint64_t vaddr, uint64_t *sym_start)
{
    if (elf && elf->debug) elf = elf->debug; /* its .symtab names what .dynsym cannot */
    if (!elf || elf->nsyms == 0) return NULL;
    size_t lo = 0, hi = elf->nsyms; /* first symbol with addr > vaddr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (elf->syms[mid].addr <= vaddr) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    size_t i = lo - 1;
    const sym_t *s = &elf->syms[i];
    if (s->size == 0) {
        /* Up to the next symbol (true by construction), but not out of its segment. */
        const seg_t *seg = segment_of(elf, s->addr);
        if (elf->nsegs && (!seg || vaddr - seg->vaddr >= seg->memsz)) return NULL;
    } else if (vaddr - s->addr >= s->size) {
        /* Past its end: an enclosing symbol that starts earlier may still hold vaddr. */
        size_t stop = i > SP_ELFSYM_NEST_SCAN ? i - SP_ELFSYM_NEST_SCAN : 0;
        bool found = false;
        while (i > stop) {
            i--;
            s = &elf->syms[i];
            if (s->size && vaddr - s->addr < s->size) {
                found = true;
                break;
            }
        }
        if (!found) return NULL;
    }
    if (sym_start) *sym_start = s->addr;
    return cached_name(elf, i);
}
