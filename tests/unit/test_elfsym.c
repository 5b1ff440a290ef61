/* test_elfsym: /proc/<pid>/maps parsing, ELF symbol tables, runtime->file address
 * translation and demangling (src/elfsym.c).
 *
 * Inputs: the fake proc tree under SP_TEST_DATA/elfsym-root; the fixture program
 * tests/apps/native_fixture (path from SP_NATIVE_FIXTURE, else relative to cwd; a missing
 * fixture fails its tests); synthetic and hostile ELF files generated here into a temp dir;
 * the test binary itself, libc, and /usr/bin/node when it exists (nm and node are run as
 * children for reference values; readelf -n for build ids; objcopy splits the fixture into a
 * stripped file and its debug file). libstdc++ is dlopen'd RTLD_GLOBAL in the suite function so that
 * __cxa_demangle is visible to sp_demangle, as it is inside node.
 */
#include "unit.h"
#include <ctype.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elfsym.h"
#include "mem.h"

#ifndef SP_TEST_DATA
#define SP_TEST_DATA "tests/data"
#endif
#define NODE_PATH "/usr/bin/node"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NODE_OPEN_LIMIT_S 5.0 /* sanitizers slow everything down */
#else
#define NODE_OPEN_LIMIT_S 1.0
#endif

static bool have_demangler;

/* ------------------------------------------------------------------ helpers */

/* A function of the test binary whose name the tests look up (global, as a library's
 * function would be). */
int sp_test_self_marker(int n);
__attribute__((noinline, noclone)) int sp_test_self_marker(int n)
{
    volatile int acc = 0;
    for (int i = 0; i < n; i++) acc += i;
    return acc;
}

static const char *fixture_path(void)
{
    const char *p = getenv("SP_NATIVE_FIXTURE");
    if (!p || !*p) p = "tests/apps/native_fixture";
    ck_assert_msg(access(p, X_OK) == 0,
                  "native fixture %s is missing (%s): build it with `make check` or set "
                  "SP_NATIVE_FIXTURE",
                  p, strerror(errno));
    return p;
}

/* Runs argv, returns its whole stdout (malloc'd, NUL-terminated); *status gets the exit
 * code (127 when it could not be executed). */
static char *run_capture(char *const argv[], pid_t *pid_out, int *status)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDERR_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        ssize_t r = read(fds[0], buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (pid_out) *pid_out = pid;
    return buf;
}

static char *make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/sp-elfsym-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp: %s", strerror(errno));
    return strdup(d);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* Writes maps text as <dir>/proc/<pid>/maps. */
static void write_fake_maps(const char *dir, int pid, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/proc", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/proc/%d", dir, pid);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/proc/%d/maps", dir, pid);
    write_file(p, text, strlen(text));
}

static void remove_fake_maps(const char *dir, int pid)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/proc/%d/maps", dir, pid);
    unlink(p);
    snprintf(p, sizeof p, "%s/proc/%d", dir, pid);
    rmdir(p);
    snprintf(p, sizeof p, "%s/proc", dir);
    rmdir(p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resolves a runtime address of this process through maps + elfsym. *elf_out is the
 * opened table (caller frees). */
static const char *resolve_self(sp_procmaps_t *maps, uint64_t addr, sp_elfsym_t **elf_out,
                                uint64_t *start_out)
{
    const sp_mapping_t *m = sp_procmaps_find(maps, addr);
    ck_assert_msg(m != NULL, "no mapping for 0x%" PRIx64, addr);
    sp_elfsym_t *elf = sp_elfsym_open(m->path, NULL);
    ck_assert_msg(elf != NULL, "cannot open %s", m->path);
    uint64_t v = 0;
    ck_assert_msg(sp_elfsym_to_vaddr(elf, m, addr, &v), "no PT_LOAD for %s at 0x%" PRIx64,
                  m->path, addr);
    *elf_out = elf;
    return sp_elfsym_lookup(elf, v, start_out);
}

/* ------------------------------------------------------------------ synthetic ELF files */

typedef struct {
    const char *name;
    uint64_t value, size;
    unsigned char bind, type;
    uint16_t shndx;
} fsym_t;

typedef struct {
    unsigned char *buf;
    size_t len;
    size_t phdr_off, symtab_off, strtab_off, strtab_len, shdr_off;
} img_t;

enum { SEC_NULL, SEC_SYMTAB, SEC_STRTAB, SEC_SHSTRTAB, SEC_TEXT, SEC_COUNT };

#define TEXT_OFF 0x3000u /* the R E segment: file offset, and vaddr - base */

static void put(img_t *img, size_t off, const void *v, size_t n)
{
    if (off + n > img->len) ck_abort_msg("put past the image: %zu + %zu", off, n);
    memcpy(img->buf + off, v, n);
}
static void put16(img_t *img, size_t off, uint16_t v) { put(img, off, &v, sizeof v); }
static void put32(img_t *img, size_t off, uint32_t v) { put(img, off, &v, sizeof v); }
static void put64(img_t *img, size_t off, uint64_t v) { put(img, off, &v, sizeof v); }
static size_t shdr_field(const img_t *img, int sec, size_t field)
{
    return img->shdr_off + (size_t)sec * sizeof(Elf64_Shdr) + field;
}

/* Lays out: Ehdr, 3 PT_LOADs (R at 0, R E at 0x3000, RW at 0x8e10 sharing the R E segment's
 * last file page), .symtab, .strtab, .shstrtab, section headers. The segments' contents are
 * not in the file (elfsym never reads them). */
static void build_elf(img_t *img, uint16_t e_type, uint64_t base, const fsym_t *syms, size_t n)
{
    static const char shstr[] = "\0.symtab\0.strtab\0.shstrtab\0.text";
    size_t strlen_total = 1;
    for (size_t i = 0; i < n; i++) strlen_total += strlen(syms[i].name) + 1;
    img->phdr_off = sizeof(Elf64_Ehdr);
    img->symtab_off = 0x100;
    img->strtab_off = img->symtab_off + (n + 1) * sizeof(Elf64_Sym);
    img->strtab_len = strlen_total;
    size_t shstr_off = img->strtab_off + strlen_total;
    img->shdr_off = (shstr_off + sizeof shstr + 7) & ~(size_t)7;
    img->len = img->shdr_off + SEC_COUNT * sizeof(Elf64_Shdr);
    img->buf = calloc(1, img->len);
    ck_assert_ptr_nonnull(img->buf);

    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = e_type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = base + TEXT_OFF;
    eh.e_phoff = img->phdr_off;
    eh.e_shoff = img->shdr_off;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 3;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = SEC_COUNT;
    eh.e_shstrndx = SEC_SHSTRTAB;
    put(img, 0, &eh, sizeof eh);

    const Elf64_Phdr ph[3] = {
        {.p_type = PT_LOAD, .p_flags = PF_R, .p_offset = 0, .p_vaddr = base, .p_paddr = base,
         .p_filesz = 0x2100, .p_memsz = 0x2100, .p_align = 0x1000},
        {.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = TEXT_OFF,
         .p_vaddr = base + TEXT_OFF, .p_paddr = base + TEXT_OFF, .p_filesz = 0x5e20,
         .p_memsz = 0x5e20, .p_align = 0x1000},
        {.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x8e10, .p_vaddr = base + 0x9e10,
         .p_paddr = base + 0x9e10, .p_filesz = 0x300, .p_memsz = 0x1000, .p_align = 0x1000},
    };
    put(img, img->phdr_off, ph, sizeof ph);

    size_t name_off = 1;
    for (size_t i = 0; i < n; i++) {
        Elf64_Sym s = {0};
        s.st_name = (uint32_t)name_off;
        s.st_info = ELF64_ST_INFO(syms[i].bind, syms[i].type);
        s.st_shndx = syms[i].shndx;
        s.st_value = syms[i].value;
        s.st_size = syms[i].size;
        put(img, img->symtab_off + (i + 1) * sizeof s, &s, sizeof s);
        size_t l = strlen(syms[i].name) + 1;
        put(img, img->strtab_off + name_off, syms[i].name, l);
        name_off += l;
    }
    put(img, shstr_off, shstr, sizeof shstr);

    Elf64_Shdr sh[SEC_COUNT] = {{0}};
    sh[SEC_SYMTAB] = (Elf64_Shdr){.sh_name = 1, .sh_type = SHT_SYMTAB, .sh_offset = img->symtab_off,
                                  .sh_size = (n + 1) * sizeof(Elf64_Sym), .sh_link = SEC_STRTAB,
                                  .sh_info = 1, .sh_addralign = 8,
                                  .sh_entsize = sizeof(Elf64_Sym)};
    sh[SEC_STRTAB] = (Elf64_Shdr){.sh_name = 9, .sh_type = SHT_STRTAB,
                                  .sh_offset = img->strtab_off, .sh_size = strlen_total,
                                  .sh_addralign = 1};
    sh[SEC_SHSTRTAB] = (Elf64_Shdr){.sh_name = 17, .sh_type = SHT_STRTAB, .sh_offset = shstr_off,
                                    .sh_size = sizeof shstr, .sh_addralign = 1};
    sh[SEC_TEXT] = (Elf64_Shdr){.sh_name = 27, .sh_type = SHT_PROGBITS,
                                .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = base + TEXT_OFF,
                                .sh_offset = 0, .sh_size = 0, .sh_addralign = 16};
    put(img, img->shdr_off, sh, sizeof sh);
}

#define G STB_GLOBAL
#define L STB_LOCAL
#define W STB_WEAK
#define T(off) (base + TEXT_OFF + (off))

/* The symbol set the synthetic tests check: aliases, nesting, zero sizes, filtered types. */
static size_t standard_syms(fsym_t *out, uint64_t base)
{
    const fsym_t s[] = {
        {"f_local_dup", T(0x000), 0x80, L, STT_FUNC, SEC_TEXT},
        {"f_global", T(0x000), 0x40, G, STT_FUNC, SEC_TEXT},
        {"f_weak", T(0x100), 0x20, W, STT_FUNC, SEC_TEXT},
        {"f_weak_dup_global", T(0x100), 0x10, G, STT_FUNC, SEC_TEXT},
        {"f_small", T(0x200), 0x10, L, STT_FUNC, SEC_TEXT},
        {"f_big", T(0x200), 0x30, L, STT_FUNC, SEC_TEXT},
        {"f_zero", T(0x300), 0, G, STT_FUNC, SEC_TEXT},
        {"f_outer", T(0x400), 0x100, G, STT_FUNC, SEC_TEXT},
        {"f_inner", T(0x420), 0x10, L, STT_FUNC, SEC_TEXT},
        {"f_ifunc", T(0x600), 0x10, G, STT_GNU_IFUNC, SEC_TEXT},
        {"d_object", T(0x700), 0x10, G, STT_OBJECT, SEC_TEXT},
        {"f_undef", 0, 0, G, STT_FUNC, SHN_UNDEF},
        {"f_undef_value", T(0x780), 0x10, G, STT_FUNC, SHN_UNDEF},
        {"f_value_zero", 0, 0x10, G, STT_FUNC, SEC_TEXT},
        {"_ZN4node5StartEiPPc", T(0x800), 0x20, G, STT_FUNC, SEC_TEXT},
        {"f_last_zero", T(0x900), 0, G, STT_FUNC, SEC_TEXT},
    };
    memcpy(out, s, sizeof s);
    return sizeof s / sizeof s[0];
}
#define STANDARD_KEPT 9 /* distinct addresses among the kept function symbols */

static sp_elfsym_t *open_image(const char *dir, const char *name, const img_t *img)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    write_file(p, img->buf, img->len);
    sp_elfsym_t *elf = sp_elfsym_open(p, NULL);
    unlink(p);
    return elf;
}

/* Exercises a table from a hostile file: every answer must be a readable string. */
static void poke(sp_elfsym_t *elf, uint64_t base)
{
    static const sp_mapping_t maps[] = {
        {0x400000, 0x403000, 0, false, "x"},
        {0x403000, 0x409000, 0x3000, true, "x"},
        {0x409000, 0x40a000, 0x8000, false, "x"},
        {0x7f0000000000, 0x7f0001000000, 0, true, "x"},
    };
    uint64_t v;
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        (void)sp_elfsym_to_vaddr(elf, &maps[i], maps[i].start, &v);
    (void)sp_elfsym_count(elf);
    for (uint64_t a = 0; a < 0xb000; a += 0x11) {
        const char *n1 = sp_elfsym_lookup(elf, base + a, NULL);
        const char *n2 = sp_elfsym_lookup(elf, a, NULL);
        /* Plain ifs: every passing ck_assert is a message to Check's parent, too slow here. */
        if ((n1 && strlen(n1) >= 1u << 20) || (n2 && strlen(n2) >= 1u << 20))
            ck_abort_msg("absurd name at 0x%" PRIx64, a);
    }
    (void)sp_elfsym_lookup(elf, UINT64_MAX, NULL);
}

/* ------------------------------------------------------------------ procmaps */

START_TEST(test_procmaps_fake_root)
{
    sp_procmaps_t *maps = sp_procmaps_read(SP_TEST_DATA "/elfsym-root", 1234);
    ck_assert_ptr_nonnull(maps);
    ck_assert_uint_eq(sp_procmaps_count(maps), 10);
    for (size_t i = 1; i < sp_procmaps_count(maps); i++)
        ck_assert_uint_lt(sp_procmaps_at(maps, i - 1)->start, sp_procmaps_at(maps, i)->start);
    ck_assert_ptr_null(sp_procmaps_at(maps, 10));

    const sp_mapping_t *m = sp_procmaps_at(maps, 0);
    ck_assert_uint_eq(m->start, 0x400000);
    ck_assert_uint_eq(m->end, 0x452000);
    ck_assert_uint_eq(m->offset, 0);
    ck_assert(m->exec);
    ck_assert_str_eq(m->path, "/usr/bin/dbus-daemon");

    m = sp_procmaps_find(maps, 0x00652fff);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->offset, 0x52000);
    ck_assert(!m->exec);
    ck_assert_ptr_eq(sp_procmaps_find(maps, 0x00651000), sp_procmaps_at(maps, 1)); /* start in */
    ck_assert_ptr_eq(sp_procmaps_find(maps, 0x00652000), sp_procmaps_at(maps, 2));
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x00655000)); /* end out */
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x00500000)); /* gap */
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x1000));     /* below everything */
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x7ffc1d3fa000));

    m = sp_procmaps_find(maps, 0x7f0000000800);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "/opt/my app/lib with spaces.so");
    m = sp_procmaps_find(maps, 0x7f0000001000);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "/tmp/gone.so (deleted)");
    ck_assert(m->exec);
    ck_assert_uint_eq(m->offset, 0x1000);
    m = sp_procmaps_find(maps, 0x7f0000003000);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "");
    ck_assert(!m->exec);
    m = sp_procmaps_find(maps, 0x00e03000);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "[heap]");
    m = sp_procmaps_find(maps, 0x7ffc1d3f9000);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "[vdso]");
    m = sp_procmaps_find(maps, 0xffffffffff600000ull); /* last line has no newline */
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "[vsyscall]");
    ck_assert(m->exec);
    /* The rejected lines left nothing behind. */
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x7f0000008800));
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x7f000000a800));
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x7f000000c800));
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x7f000000e800));
    sp_procmaps_free(maps);
}
END_TEST

START_TEST(test_procmaps_empty_missing)
{
    sp_procmaps_t *maps = sp_procmaps_read(SP_TEST_DATA "/elfsym-root", 4321);
    ck_assert_ptr_nonnull(maps);
    ck_assert_uint_eq(sp_procmaps_count(maps), 0);
    ck_assert_ptr_null(sp_procmaps_find(maps, 0x400000));
    ck_assert_ptr_null(sp_procmaps_at(maps, 0));
    sp_procmaps_free(maps);

    ck_assert_ptr_null(sp_procmaps_read(SP_TEST_DATA "/elfsym-root", 99999));
    ck_assert_ptr_null(sp_procmaps_read(SP_TEST_DATA "/no-such-root", 0));
    ck_assert_ptr_null(sp_procmaps_read(NULL, -5));
    ck_assert_uint_eq(sp_procmaps_count(NULL), 0);
    ck_assert_ptr_null(sp_procmaps_find(NULL, 1));
    ck_assert_ptr_null(sp_procmaps_at(NULL, 0));
    sp_procmaps_free(NULL);
}
END_TEST

START_TEST(test_procmaps_self)
{
    char exe[PATH_MAX];
    ck_assert_ptr_nonnull(realpath("/proc/self/exe", exe));
    uint64_t addr = (uint64_t)(uintptr_t)&sp_test_self_marker;
    sp_procmaps_t *maps[3] = {sp_procmaps_read(NULL, 0), sp_procmaps_read("", 0),
                              sp_procmaps_read(NULL, getpid())};
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(maps[i]);
        ck_assert_uint_gt(sp_procmaps_count(maps[i]), 3);
        const sp_mapping_t *m = sp_procmaps_find(maps[i], addr);
        ck_assert_ptr_nonnull(m);
        ck_assert(m->exec);
        ck_assert_str_eq(m->path, exe);
        ck_assert_uint_le(m->start, addr);
        ck_assert_uint_gt(m->end, addr);
        sp_procmaps_free(maps[i]);
    }
}
END_TEST

/* ------------------------------------------------------------------ demangling */

START_TEST(test_demangle)
{
    ck_assert_msg(have_demangler, "libstdc++.so.6 could not be loaded: no __cxa_demangle");
    char buf[256];
    const char *r = sp_demangle("_ZN4node5StartEiPPc", buf, sizeof buf);
    ck_assert_ptr_eq(r, buf);
    ck_assert_str_eq(r, "node::Start(int, char**)");
    ck_assert_str_eq(sp_demangle("_ZN4node5StartEiPPc.cold", buf, sizeof buf),
                     "node::Start(int, char**) [clone .cold]");
    /* Truncated to fit. */
    char small[5];
    ck_assert_str_eq(sp_demangle("_ZN4node5StartEiPPc", small, sizeof small), "node");
    char one[1];
    ck_assert_str_eq(sp_demangle("_ZN4node5StartEiPPc", one, sizeof one), "");
    /* Not mangled, invalid, or nothing to write into. */
    ck_assert_ptr_null(sp_demangle("main", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("Builtins_JSEntry", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("_", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("_Z", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("_Zx!!", buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle(NULL, buf, sizeof buf));
    ck_assert_ptr_null(sp_demangle("_ZN4node5StartEiPPc", NULL, 10));
    ck_assert_ptr_null(sp_demangle("_ZN4node5StartEiPPc", buf, 0));
    /* An absurdly long name is not handed to the demangler. */
    size_t n = 100000;
    char *huge = malloc(n + 1);
    ck_assert_ptr_nonnull(huge);
    memcpy(huge, "_ZN", 3);
    memset(huge + 3, '9', n - 3);
    huge[n] = '\0';
    ck_assert_ptr_null(sp_demangle(huge, buf, sizeof buf));
    free(huge);
}
END_TEST

/* ------------------------------------------------------------------ synthetic ELF */

START_TEST(test_synthetic_symbols)
{
    ck_assert_msg(have_demangler, "libstdc++.so.6 could not be loaded: no __cxa_demangle");
    char *dir = make_tmpdir();
    const uint64_t base = 0x400000;
    fsym_t syms[32];
    size_t n = standard_syms(syms, base);
    img_t img;
    build_elf(&img, ET_EXEC, base, syms, n);
    size_t before = sp_mem_in_use();
    sp_elfsym_t *elf = open_image(dir, "synthetic", &img);
    ck_assert_ptr_nonnull(elf);
    ck_assert_uint_eq(sp_elfsym_count(elf), STANDARD_KEPT);

    uint64_t st = 0;
    /* Same address: global beats local even when the local is longer; the entry spans the
     * longest alias. */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0), &st), "f_global");
    ck_assert_uint_eq(st, T(0));
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x7f), &st), "f_global");
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x80), NULL));
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x100), NULL), "f_weak_dup_global");
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x11f), NULL), "f_weak_dup_global");
    /* Same address, same binding: the longer one. */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x22f), &st), "f_big");
    ck_assert_uint_eq(st, T(0x200));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x230), NULL));
    /* Zero size: up to the next symbol. */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x300), NULL), "f_zero");
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x3ff), NULL), "f_zero");
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x400), NULL), "f_outer");
    /* Nested: the inner one, then the outer one again after it. */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x425), &st), "f_inner");
    ck_assert_uint_eq(st, T(0x420));
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x480), &st), "f_outer");
    ck_assert_uint_eq(st, T(0x400));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x500), NULL));
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x605), NULL), "f_ifunc");
    /* Objects, undefined and zero-valued symbols are not functions here. */
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x705), NULL));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x785), NULL));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, 5, NULL));
    /* C++: demangled once, then the same cached string. */
    const char *cxx = sp_elfsym_lookup(elf, T(0x810), &st);
    ck_assert_ptr_nonnull(cxx);
    ck_assert_str_eq(cxx, "node::Start(int, char**)");
    ck_assert_ptr_eq(sp_elfsym_lookup(elf, T(0x800), NULL), cxx);
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x820), NULL));
    /* The last, zero-size symbol ends with its segment. */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x900), NULL), "f_last_zero");
    ck_assert_str_eq(sp_elfsym_lookup(elf, base + TEXT_OFF + 0x5e1f, NULL), "f_last_zero");
    ck_assert_ptr_null(sp_elfsym_lookup(elf, base + TEXT_OFF + 0x5e20, NULL));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0) - 1, NULL));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, 0, NULL));
    ck_assert_ptr_null(sp_elfsym_lookup(elf, UINT64_MAX, NULL));

    /* Compact: 16 bytes a symbol, plus the struct, segments and one cached name. */
    ck_assert_uint_lt(sp_mem_in_use() - before, 2048);
    sp_elfsym_free(elf);
    ck_assert_uint_eq(sp_mem_in_use(), before);
    free(img.buf);
    rmdir(dir);
    free(dir);
}
END_TEST

/* A library rewritten in place while we hold its table (an installer that truncates instead
 * of renaming): names not read yet come back NULL, those read before stay, nothing faults
 * (a mapped string table raised SIGBUS in the host here). */
START_TEST(test_truncated_while_open)
{
    char *dir = make_tmpdir();
    const uint64_t base = 0x400000;
    fsym_t syms[32];
    size_t n = standard_syms(syms, base);
    img_t img;
    build_elf(&img, ET_EXEC, base, syms, n);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/truncated", dir);
    write_file(p, img.buf, img.len);
    sp_elfsym_t *elf = sp_elfsym_open(p, NULL);
    ck_assert_ptr_nonnull(elf);
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0), NULL), "f_global");
    ck_assert_int_eq(truncate(p, 0), 0);
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x200), NULL)); /* f_big: never read */
    ck_assert_ptr_null(sp_elfsym_lookup(elf, T(0x810), NULL)); /* a C++ name too */
    ck_assert_str_eq(sp_elfsym_lookup(elf, T(0x10), NULL), "f_global"); /* cached */
    sp_elfsym_free(elf);
    unlink(p);
    free(img.buf);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_synthetic_to_vaddr)
{
    char *dir = make_tmpdir();
    fsym_t syms[32];
    img_t img;

    /* Non-PIE: file vaddr == runtime address. */
    uint64_t base = 0x400000, v = 0;
    size_t n = standard_syms(syms, base);
    build_elf(&img, ET_EXEC, base, syms, n);
    sp_elfsym_t *elf = open_image(dir, "exec", &img);
    ck_assert_ptr_nonnull(elf);
    sp_mapping_t m_r = {0x400000, 0x403000, 0, false, "exec"};
    sp_mapping_t m_x = {0x403000, 0x409000, 0x3000, true, "exec"};
    /* Offset 0x8000 is inside the R E segment's file range too, but the RW one starts there. */
    sp_mapping_t m_w = {0x409000, 0x40a000, 0x8000, false, "exec"};
    ck_assert(sp_elfsym_to_vaddr(elf, &m_r, 0x400123, &v));
    ck_assert_uint_eq(v, 0x400123);
    ck_assert(sp_elfsym_to_vaddr(elf, &m_x, 0x403425, &v));
    ck_assert_uint_eq(v, 0x403425);
    ck_assert_str_eq(sp_elfsym_lookup(elf, v, NULL), "f_inner");
    ck_assert(sp_elfsym_to_vaddr(elf, &m_w, 0x409e10, &v));
    ck_assert_uint_eq(v, 0x409e10);
    /* A RELRO split: the second half of the RW mapping has an offset inside the segment. */
    sp_mapping_t m_w2 = {0x40a000, 0x40b000, 0x9000, false, "exec"};
    ck_assert(sp_elfsym_to_vaddr(elf, &m_w2, 0x40a004, &v));
    ck_assert_uint_eq(v, 0x40a004);
    sp_mapping_t m_w3 = {0x40b000, 0x40c000, 0xa000, false, "exec"}; /* past every segment */
    ck_assert(!sp_elfsym_to_vaddr(elf, &m_w3, 0x40b000, &v));
    /* Outside the mapping, or an offset no segment holds. */
    ck_assert(!sp_elfsym_to_vaddr(elf, &m_x, 0x409000, &v));
    ck_assert(!sp_elfsym_to_vaddr(elf, &m_x, 0x402fff, &v));
    sp_mapping_t m_none = {0x500000, 0x501000, 0x20000, true, "exec"};
    ck_assert(!sp_elfsym_to_vaddr(elf, &m_none, 0x500000, &v));
    ck_assert(!sp_elfsym_to_vaddr(NULL, &m_x, 0x403000, &v));
    ck_assert(!sp_elfsym_to_vaddr(elf, NULL, 0x403000, &v));
    sp_elfsym_free(elf);
    free(img.buf);

    /* PIE / shared object: loaded at a bias. */
    base = 0;
    n = standard_syms(syms, base);
    build_elf(&img, ET_DYN, base, syms, n);
    elf = open_image(dir, "dyn", &img);
    ck_assert_ptr_nonnull(elf);
    const uint64_t bias = 0x7f1234560000;
    sp_mapping_t d_x = {bias + 0x3000, bias + 0x9000, 0x3000, true, "dyn"};
    sp_mapping_t d_w = {bias + 0x9000, bias + 0xa000, 0x8000, false, "dyn"};
    ck_assert(sp_elfsym_to_vaddr(elf, &d_x, bias + 0x3425, &v));
    ck_assert_uint_eq(v, 0x3425);
    ck_assert_str_eq(sp_elfsym_lookup(elf, v, NULL), "f_inner");
    ck_assert(sp_elfsym_to_vaddr(elf, &d_w, bias + 0x9e18, &v));
    ck_assert_uint_eq(v, 0x9e18);
    sp_elfsym_free(elf);
    free(img.buf);
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_synthetic_demangle_cache)
{
    ck_assert_msg(have_demangler, "libstdc++.so.6 could not be loaded: no __cxa_demangle");
    char *dir = make_tmpdir();
    enum { N = 300 };
    static char names[N][24];
    fsym_t syms[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "_Z4f%03dv", i);
        syms[i] = (fsym_t){names[i], 0x403000 + (uint64_t)i * 0x10, 0x10, G, STT_FUNC, SEC_TEXT};
    }
    img_t img;
    build_elf(&img, ET_EXEC, 0x400000, syms, N);
    size_t before = sp_mem_in_use();
    sp_elfsym_t *elf = open_image(dir, "many", &img);
    ck_assert_ptr_nonnull(elf);
    ck_assert_uint_eq(sp_elfsym_count(elf), N);
    const char *first[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            char want[24];
            snprintf(want, sizeof want, "f%03d()", i);
            const char *got = sp_elfsym_lookup(elf, 0x403000 + (uint64_t)i * 0x10 + 5, NULL);
            ck_assert_ptr_nonnull(got);
            ck_assert_str_eq(got, want);
            if (round == 0) first[i] = got;
            else ck_assert_ptr_eq(got, first[i]); /* cached across the table's growth */
        }
    }
    sp_elfsym_free(elf);
    ck_assert_uint_eq(sp_mem_in_use(), before);
    free(img.buf);
    rmdir(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------ hostile files */

START_TEST(test_hostile_files)
{
    char *dir = make_tmpdir();
    char p[PATH_MAX];
    size_t before = sp_mem_in_use();
    const uint64_t base = 0x400000;
    fsym_t syms[32];
    size_t n = standard_syms(syms, base);
    img_t good;
    build_elf(&good, ET_EXEC, base, syms, n);

    /* Not files at all, or nothing in them. */
    ck_assert_ptr_null(sp_elfsym_open(NULL, NULL));
    ck_assert_ptr_null(sp_elfsym_open("", NULL));
    snprintf(p, sizeof p, "%s/missing", dir);
    ck_assert_ptr_null(sp_elfsym_open(p, NULL));
    ck_assert_ptr_null(sp_elfsym_open(dir, NULL));
    snprintf(p, sizeof p, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_ptr_null(sp_elfsym_open(p, NULL)); /* must not block */
    unlink(p);
    snprintf(p, sizeof p, "%s/empty", dir);
    write_file(p, "", 0);
    ck_assert_ptr_null(sp_elfsym_open(p, NULL));
    unlink(p);
    snprintf(p, sizeof p, "%s/short", dir);
    write_file(p, good.buf, 10);
    ck_assert_ptr_null(sp_elfsym_open(p, NULL));
    unlink(p);

    /* Random bytes, with and without a plausible ELF identity. */
    unsigned char rnd[4096];
    srand(12345);
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)rand();
    snprintf(p, sizeof p, "%s/random", dir);
    write_file(p, rnd, sizeof rnd);
    ck_assert_ptr_null(sp_elfsym_open(p, NULL));
    memcpy(rnd, good.buf, EI_NIDENT + 4); /* identity and e_type: the rest is noise */
    write_file(p, rnd, sizeof rnd);
    sp_elfsym_t *elf = sp_elfsym_open(p, NULL);
    if (elf) poke(elf, base);
    sp_elfsym_free(elf);
    unlink(p);

    /* Single-field corruptions of a good file. Each opens to NULL or a table that answers
     * sanely; some keep a known number of symbols. */
    struct {
        const char *what;
        size_t off, width;
        uint64_t value;
        long want; /* -1: NULL; -2: NULL or any count; >= 0: exactly this count */
    } cases[] = {
        {"class32", EI_CLASS, 1, ELFCLASS32, -1},
        {"big endian", EI_DATA, 1, ELFDATA2MSB, -1},
        {"bad version", EI_VERSION, 1, 7, -1},
        {"relocatable", offsetof(Elf64_Ehdr, e_type), 2, ET_REL, -1},
        {"core", offsetof(Elf64_Ehdr, e_type), 2, ET_CORE, -1},
        {"shoff past EOF", offsetof(Elf64_Ehdr, e_shoff), 8, 0x100000, 0},
        {"shoff huge", offsetof(Elf64_Ehdr, e_shoff), 8, UINT64_MAX - 8, 0},
        {"shoff unaligned", offsetof(Elf64_Ehdr, e_shoff), 8, 0x101, -2},
        {"shnum huge", offsetof(Elf64_Ehdr, e_shnum), 2, 0xfffe, 0},
        {"shnum 0 (extended, sh0 says 0)", offsetof(Elf64_Ehdr, e_shnum), 2, 0, 0},
        {"shentsize", offsetof(Elf64_Ehdr, e_shentsize), 2, 32, 0},
        {"phoff past EOF", offsetof(Elf64_Ehdr, e_phoff), 8, 0x100000, STANDARD_KEPT},
        {"phoff huge", offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 8, STANDARD_KEPT},
        {"phnum huge", offsetof(Elf64_Ehdr, e_phnum), 2, 0xfffe, STANDARD_KEPT},
        {"phnum xnum", offsetof(Elf64_Ehdr, e_phnum), 2, PN_XNUM, STANDARD_KEPT},
        {"phentsize", offsetof(Elf64_Ehdr, e_phentsize), 2, 8, STANDARD_KEPT},
        {"symtab past EOF", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_offset)), 8,
         0x100000, 0},
        {"symtab offset huge", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_offset)), 8,
         UINT64_MAX - 100, 0},
        {"symtab size huge", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_size)), 8,
         UINT64_MAX - 100, 0},
        {"symtab entsize", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_entsize)), 8, 16,
         0},
        {"symtab link out of range", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_link)),
         4, 999, 0},
        {"symtab link to itself", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_link)), 4,
         SEC_SYMTAB, 0},
        {"symtab link to null", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_link)), 4, 0,
         0},
        {"symtab unaligned", shdr_field(&good, SEC_SYMTAB, offsetof(Elf64_Shdr, sh_offset)), 8,
         good.symtab_off + 3, -2},
        {"strtab past EOF", shdr_field(&good, SEC_STRTAB, offsetof(Elf64_Shdr, sh_offset)), 8,
         0x100000, 0},
        {"strtab size huge", shdr_field(&good, SEC_STRTAB, offsetof(Elf64_Shdr, sh_size)), 8,
         UINT64_MAX - 100, 0},
        {"strtab empty", shdr_field(&good, SEC_STRTAB, offsetof(Elf64_Shdr, sh_size)), 8, 0, 0},
        {"strtab cut mid-name", shdr_field(&good, SEC_STRTAB, offsetof(Elf64_Shdr, sh_size)), 8,
         good.strtab_len - 3, -2},
        {"st_name past strtab", good.symtab_off + 2 * sizeof(Elf64_Sym), 4, 0xffffff,
         STANDARD_KEPT},
        {"st_name huge", good.symtab_off + 7 * sizeof(Elf64_Sym), 4, UINT32_MAX, -2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        img_t bad = good;
        bad.buf = malloc(good.len);
        ck_assert_ptr_nonnull(bad.buf);
        memcpy(bad.buf, good.buf, good.len);
        if (cases[c].width == 1) bad.buf[cases[c].off] = (unsigned char)cases[c].value;
        else if (cases[c].width == 2) put16(&bad, cases[c].off, (uint16_t)cases[c].value);
        else if (cases[c].width == 4) put32(&bad, cases[c].off, (uint32_t)cases[c].value);
        else put64(&bad, cases[c].off, cases[c].value);
        elf = open_image(dir, "case", &bad);
        if (cases[c].want == -1) ck_assert_msg(elf == NULL, "%s: opened", cases[c].what);
        if (cases[c].want >= 0) {
            ck_assert_msg(elf != NULL, "%s: NULL", cases[c].what);
            ck_assert_msg(sp_elfsym_count(elf) == (size_t)cases[c].want, "%s: %zu symbols",
                          cases[c].what, sp_elfsym_count(elf));
        }
        if (elf) poke(elf, base);
        sp_elfsym_free(elf);
        free(bad.buf);
    }

    /* Every truncation of the good file. */
    for (size_t len = 0; len <= good.len; len++) {
        img_t cut = good;
        cut.len = len;
        elf = open_image(dir, "cut", &cut);
        if (len < sizeof(Elf64_Ehdr)) ck_assert_ptr_null(elf);
        if (len < good.len && elf) ck_assert_uint_le(sp_elfsym_count(elf), STANDARD_KEPT);
        if (elf) poke(elf, base);
        sp_elfsym_free(elf);
    }

    /* Random byte flips. */
    unsigned char *mut = malloc(good.len);
    ck_assert_ptr_nonnull(mut);
    srand(777);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(mut, good.buf, good.len);
        int flips = 1 + rand() % 8;
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)rand() % good.len;
            /* Bias toward the headers, where a flip changes the most. */
            if (k == 0 && (iter & 1)) at = (size_t)rand() % sizeof(Elf64_Ehdr);
            if (k == 0 && (iter % 3 == 0))
                at = good.shdr_off + (size_t)rand() % (SEC_COUNT * sizeof(Elf64_Shdr));
            mut[at] = (unsigned char)rand();
        }
        img_t m = good;
        m.buf = mut;
        elf = open_image(dir, "mut", &m);
        if (elf) poke(elf, base);
        sp_elfsym_free(elf);
    }
    free(mut);
    free(good.buf);
    ck_assert_uint_eq(sp_mem_in_use(), before); /* nothing leaked on any error path */
    rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(test_hostile_fixture_mutations)
{
    const char *fx = fixture_path();
    int fd = open(fx, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    size_t len = (size_t)st.st_size;
    unsigned char *orig = malloc(len), *mut = malloc(len);
    ck_assert_ptr_nonnull(orig);
    ck_assert_ptr_nonnull(mut);
    ck_assert_int_eq(read(fd, orig, len), (ssize_t)len);
    close(fd);
    char *dir = make_tmpdir();
    size_t before = sp_mem_in_use();
    Elf64_Ehdr eh;
    memcpy(&eh, orig, sizeof eh);
    srand(4242);
    for (int iter = 0; iter < 400; iter++) {
        memcpy(mut, orig, len);
        size_t cut = len;
        if (iter % 4 == 0) cut = (size_t)rand() % len; /* truncated */
        int flips = 1 + rand() % 16;
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)rand() % len;
            if (k == 0 && (iter & 1) && eh.e_shoff < len)
                at = (size_t)eh.e_shoff + (size_t)rand() % (len - (size_t)eh.e_shoff);
            mut[at] = (unsigned char)rand();
        }
        img_t m = {.buf = mut, .len = cut};
        sp_elfsym_t *elf = open_image(dir, "fx", &m);
        if (elf) poke(elf, 0);
        sp_elfsym_free(elf);
    }
    ck_assert_uint_eq(sp_mem_in_use(), before);
    free(orig);
    free(mut);
    rmdir(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------ real files */

START_TEST(test_fixture_symbols)
{
    ck_assert_msg(have_demangler, "libstdc++.so.6 could not be loaded: no __cxa_demangle");
    const char *fx = fixture_path();
    char fxreal[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(fx, fxreal));
    char *argv[] = {(char *)fx, "--addrs", NULL};
    pid_t pid;
    int status;
    char *out = run_capture(argv, &pid, &status);
    ck_assert_msg(status == 0, "fixture exited with %d", status);

    /* "<name> 0x<addr>" lines, then "maps", then its /proc/self/maps. */
    static const char *const names[] = {"sp_fixture_alpha",      "sp_fixture_beta",
                                        "sp_fixture_beta_weak",  "sp_fixture_beta_local",
                                        "sp_fixture_static",     "sp_fixture_gamma"};
    enum { NNAMES = sizeof names / sizeof names[0] };
    uint64_t addr[NNAMES] = {0};
    char *maps_text = strstr(out, "\nmaps\n");
    ck_assert_ptr_nonnull(maps_text);
    *maps_text = '\0';
    maps_text += strlen("\nmaps\n");
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        uint64_t a;
        ck_assert_int_eq(sscanf(line, "%63s %" SCNx64, name, &a), 2);
        for (int i = 0; i < NNAMES; i++)
            if (strcmp(name, names[i]) == 0) addr[i] = a;
    }
    for (int i = 0; i < NNAMES; i++) ck_assert_msg(addr[i] != 0, "no address for %s", names[i]);

    char *dir = make_tmpdir();
    write_fake_maps(dir, pid, maps_text);
    sp_procmaps_t *maps = sp_procmaps_read(dir, pid);
    ck_assert_ptr_nonnull(maps);
    const sp_mapping_t *m = sp_procmaps_find(maps, addr[0]);
    ck_assert_ptr_nonnull(m);
    ck_assert(m->exec);
    ck_assert_str_eq(m->path, fxreal);
    sp_elfsym_t *elf = sp_elfsym_open(m->path, NULL);
    ck_assert_ptr_nonnull(elf);
    ck_assert_uint_ge(sp_elfsym_count(elf), 5);

    static const char *const want[NNAMES] = {"sp_fixture_alpha", "sp_fixture_beta",
                                             "sp_fixture_beta", "sp_fixture_beta",
                                             "sp_fixture_static", "sp::fixture::gamma(int)"};
    for (int i = 0; i < NNAMES; i++) {
        const sp_mapping_t *mi = sp_procmaps_find(maps, addr[i]);
        ck_assert_ptr_eq(mi, m);
        uint64_t v = 0, st = 0, st3 = 0;
        ck_assert(sp_elfsym_to_vaddr(elf, mi, addr[i], &v));
        const char *name = sp_elfsym_lookup(elf, v, &st);
        ck_assert_msg(name != NULL, "%s: no symbol at vaddr 0x%" PRIx64, names[i], v);
        ck_assert_str_eq(name, want[i]);
        ck_assert_uint_eq(st, v);
        uint64_t v3 = 0;
        ck_assert(sp_elfsym_to_vaddr(elf, mi, addr[i] + 3, &v3));
        ck_assert_uint_eq(v3, v + 3);
        const char *name3 = sp_elfsym_lookup(elf, v3, &st3);
        ck_assert_ptr_eq(name3, name); /* the cached demangled name for gamma */
        ck_assert_uint_eq(st3, v);
    }
    sp_elfsym_free(elf);
    sp_procmaps_free(maps);
    remove_fake_maps(dir, pid);
    rmdir(dir);
    free(dir);
    free(out);
}
END_TEST

/* The build id readelf -n prints for path, as bytes; its length (0: none printed). */
static size_t readelf_build_id(const char *path, uint8_t id[SP_ELFSYM_BUILD_ID_MAX])
{
    char *argv[] = {"readelf", "-n", (char *)path, NULL};
    int status;
    char *out = run_capture(argv, NULL, &status);
    ck_assert_msg(status == 0, "readelf -n %s exited with %d", path, status);
    const char *p = strstr(out, "Build ID: ");
    size_t n = 0;
    unsigned byte;
    if (p)
        for (p += strlen("Build ID: ");
             n < SP_ELFSYM_BUILD_ID_MAX && isxdigit((unsigned char)p[0]) &&
             isxdigit((unsigned char)p[1]) && sscanf(p, "%2x", &byte) == 1;
             p += 2)
            id[n++] = (uint8_t)byte;
    free(out);
    return n;
}

static void run_ok(char *const argv[])
{
    int status;
    free(run_capture(argv, NULL, &status));
    ck_assert_msg(status == 0, "%s exited with %d", argv[0], status);
}

/* The GNU build id as readelf shows it, for the fixture (PT_NOTE), libc and node. */
START_TEST(test_build_id)
{
    const char *paths[] = {fixture_path(), "/lib/x86_64-linux-gnu/libc.so.6",
                           "/lib/aarch64-linux-gnu/libc.so.6", NODE_PATH};
    int checked = 0;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        if (access(paths[i], R_OK) != 0) continue;
        uint8_t want[SP_ELFSYM_BUILD_ID_MAX];
        size_t wn = readelf_build_id(paths[i], want);
        sp_elfsym_t *elf = sp_elfsym_open(paths[i], NULL);
        ck_assert_ptr_nonnull(elf);
        const uint8_t *id = NULL;
        size_t n = sp_elfsym_build_id(elf, &id);
        ck_assert_msg(n == wn && (n == 0 || memcmp(id, want, n) == 0),
                      "%s: expected the %zu-byte build id readelf shows, saw %zu bytes", paths[i],
                      wn, n);
        ck_assert_msg(i != 0 || n == 20, "the fixture: expected a 20-byte (sha1) build id, saw %zu",
                      n);
        sp_elfsym_free(elf);
        checked++;
    }
    ck_assert_int_ge(checked, 2);
}
END_TEST

/* A stripped file (no .symtab) names its static functions from the debug file of its build
 * id under <root>/usr/lib/debug/.build-id/, and only from one whose build id matches. */
START_TEST(test_debug_file)
{
    const char *fx = fixture_path();
    char *argv[] = {(char *)fx, "--addrs", NULL};
    pid_t pid;
    int status;
    char *out = run_capture(argv, &pid, &status);
    ck_assert_msg(status == 0, "fixture exited with %d", status);
    uint64_t addr = 0;
    const char *line = strstr(out, "sp_fixture_static 0x");
    ck_assert_ptr_nonnull(line);
    ck_assert_int_eq(sscanf(line + strlen("sp_fixture_static "), "%" SCNx64, &addr), 1);
    char *dir = make_tmpdir();
    char *maps_text = strstr(out, "\nmaps\n");
    ck_assert_ptr_nonnull(maps_text);
    write_fake_maps(dir, pid, maps_text + strlen("\nmaps\n"));
    sp_procmaps_t *maps = sp_procmaps_read(dir, pid);
    const sp_mapping_t *m = sp_procmaps_find(maps, addr);
    ck_assert_ptr_nonnull(m);

    uint8_t id[SP_ELFSYM_BUILD_ID_MAX];
    size_t n = readelf_build_id(fx, id);
    ck_assert_uint_eq(n, 20);
    char stripped[PATH_MAX], dbg[PATH_MAX + 64], p[PATH_MAX];
    snprintf(stripped, sizeof stripped, "%s/fixture.stripped", dir);
    snprintf(p, sizeof p, "%s/usr", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/usr/lib", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/usr/lib/debug", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/usr/lib/debug/.build-id", dir);
    mkdir(p, 0700);
    int o = snprintf(p, sizeof p, "%s/usr/lib/debug/.build-id/%02x", dir, id[0]);
    mkdir(p, 0700);
    snprintf(dbg, sizeof dbg, "%s/", p);
    o = (int)strlen(dbg);
    for (size_t i = 1; i < n; i++) o += snprintf(dbg + o, sizeof dbg - (size_t)o, "%02x", id[i]);
    snprintf(dbg + o, sizeof dbg - (size_t)o, ".debug");
    char *split[] = {"objcopy", "--only-keep-debug", (char *)fx, dbg, NULL};
    char *strip[] = {"objcopy", "--strip-all", (char *)fx, stripped, NULL};
    run_ok(split);
    run_ok(strip);

    /* Without the debug file (another root): no .symtab, the static function is unnamed. */
    snprintf(p, sizeof p, "%s/none", dir);
    sp_elfsym_t *elf = sp_elfsym_open(stripped, p);
    ck_assert_ptr_nonnull(elf);
    uint64_t v = 0;
    ck_assert(sp_elfsym_to_vaddr(elf, m, addr, &v));
    const char *name = sp_elfsym_lookup(elf, v, NULL);
    ck_assert_msg(!name || strcmp(name, "sp_fixture_static") != 0,
                  "expected no .symtab name in the stripped file, saw %s", name);
    sp_elfsym_free(elf);

    elf = sp_elfsym_open(stripped, dir);
    ck_assert_ptr_nonnull(elf);
    ck_assert(sp_elfsym_to_vaddr(elf, m, addr, &v));
    name = sp_elfsym_lookup(elf, v, NULL);
    ck_assert_msg(name && strcmp(name, "sp_fixture_static") == 0,
                  "expected sp_fixture_static from the debug file %s, saw %s", dbg,
                  name ? name : "(none)");
    const uint8_t *got = NULL;
    ck_assert_uint_eq(sp_elfsym_build_id(elf, &got), n); /* the stripped file's own */
    ck_assert_mem_eq(got, id, n);
    sp_elfsym_free(elf);

    /* A debug file of another build (one byte of its build id changed) is not used. */
    size_t dlen = 0;
    unsigned char *d = (unsigned char *)sp_unit_read_file(dbg, &dlen);
    ck_assert_ptr_nonnull(d);
    unsigned char *at = memmem(d, dlen, id, n);
    ck_assert_ptr_nonnull(at);
    at[n - 1] ^= 0xff;
    write_file(dbg, d, dlen);
    free(d);
    elf = sp_elfsym_open(stripped, dir);
    ck_assert_ptr_nonnull(elf);
    ck_assert(sp_elfsym_to_vaddr(elf, m, addr, &v));
    name = sp_elfsym_lookup(elf, v, NULL);
    ck_assert_msg(!name || strcmp(name, "sp_fixture_static") != 0,
                  "expected a debug file with another build id to be ignored, saw %s", name);
    sp_elfsym_free(elf);

    sp_procmaps_free(maps);
    remove_fake_maps(dir, pid);
    sp_unit_rmtree(dir);
    free(dir);
    free(out);
}
END_TEST

/* A .symtab spells versioned definitions "pthread_cond_signal@@GLIBC_2.3.2" (libc's debug
 * file, when installed, is where libc's names then come from): names stop before the '@'. */
START_TEST(test_versioned_names)
{
    void *fn = dlsym(RTLD_DEFAULT, "pthread_cond_signal");
    ck_assert_ptr_nonnull(fn);
    sp_procmaps_t *maps = sp_procmaps_read(NULL, 0);
    ck_assert_ptr_nonnull(maps);
    sp_elfsym_t *elf = NULL;
    const char *name = resolve_self(maps, (uint64_t)(uintptr_t)fn, &elf, NULL);
    ck_assert_msg(name && strstr(name, "pthread_cond_signal") && !strchr(name, '@'),
                  "expected pthread_cond_signal named without a symbol version, saw %s",
                  name ? name : "(none)");
    sp_elfsym_free(elf);
    sp_procmaps_free(maps);
}
END_TEST

START_TEST(test_self_symbols)
{
    sp_procmaps_t *maps = sp_procmaps_read(NULL, 0);
    ck_assert_ptr_nonnull(maps);
    uint64_t addr = (uint64_t)(uintptr_t)&sp_test_self_marker, st = 0;
    sp_elfsym_t *elf = NULL;
    const char *name = resolve_self(maps, addr, &elf, &st);
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name, "sp_test_self_marker");
    uint64_t v;
    ck_assert(sp_elfsym_to_vaddr(elf, sp_procmaps_find(maps, addr), addr, &v));
    ck_assert_uint_eq(st, v);
    /* Inside the function, too. */
    uint64_t st2 = 0;
    ck_assert_str_eq(sp_elfsym_lookup(elf, v + 4, &st2), "sp_test_self_marker");
    ck_assert_uint_eq(st2, v);
    sp_elfsym_free(elf);
    sp_procmaps_free(maps);
}
END_TEST

/* A data object of this test binary, for sp_elfsym_find_object (not static: it keeps its
 * own name in .symtab). */
extern const uint8_t sp_test_data_marker[600];
const uint8_t sp_test_data_marker[600] = {1, 2, 3};

START_TEST(test_find_object)
{
    uint64_t vaddr = 0, size = 0;
    ck_assert(
        sp_elfsym_find_object("/proc/self/exe", "sp_test_data_marker", 500, 700, &vaddr, &size));
    ck_assert_uint_eq(size, 600);
    /* The runtime address less the file's vaddr is the load bias: a multiple of the page. */
    uintptr_t at = (uintptr_t)sp_test_data_marker;
    ck_assert_msg(((at - vaddr) & 4095) == 0, "runtime %#lx, file vaddr %#llx: not one page bias",
                  (unsigned long)at, (unsigned long long)vaddr);
    ck_assert(!sp_elfsym_find_object("/proc/self/exe", "sp_test_data_marker", 601, 700, &vaddr,
                                     &size)); /* outside the size bounds */
    ck_assert(!sp_elfsym_find_object("/proc/self/exe", "sp_test_data_marke", 1, 1 << 20, &vaddr,
                                     &size)); /* a prefix of the name */
    ck_assert(!sp_elfsym_find_object("/proc/self/exe", "sp_test_self_marker", 0, 1 << 20, &vaddr,
                                     &size)); /* a function, not data */
    ck_assert(!sp_elfsym_find_object("/nonexistent/file", "x", 0, 1, &vaddr, &size));
    ck_assert(!sp_elfsym_find_object("/dev/null", "x", 0, 1, &vaddr, &size));
    /* V8's bytecode sizes in node: three rows of one byte per bytecode. */
    if (access(NODE_PATH, R_OK) == 0) {
        ck_assert_msg(sp_elfsym_find_object(
                          NODE_PATH, "_ZN2v88internal11interpreter9Bytecodes14kBytecodeSizesE", 450,
                          1536, &vaddr, &size),
                      "no kBytecodeSizes in %s", NODE_PATH);
        ck_assert_uint_eq(size % 3, 0);
    }
}
END_TEST

/* A label of this test binary (STT_NOTYPE, size 0), as V8's embedded.S defines them. */
__asm__(".text\nsp_test_label_marker:\n\tnop\n");

START_TEST(test_find_label)
{
    uint64_t vaddr = 0, size = 0;
    ck_assert(sp_elfsym_find_label("/proc/self/exe", "sp_test_label_marker", &vaddr));
    ck_assert_uint_ne(vaddr, 0);
    ck_assert(!sp_elfsym_find_label("/proc/self/exe", "sp_test_label_marke", &vaddr));
    /* a function, not a label */
    ck_assert(!sp_elfsym_find_label("/proc/self/exe", "sp_test_self_marker", &vaddr));
    ck_assert(!sp_elfsym_find_object("/proc/self/exe", "sp_test_label_marker", 0, 1 << 20, &vaddr,
                                     &size)); /* not data */
    ck_assert(!sp_elfsym_find_label("/nonexistent/file", "x", &vaddr));
    /* V8's embedded builtins in node (V8 >= 11 names the code ..._code_, 10 ..._code_data_). */
    if (access(NODE_PATH, R_OK) == 0)
        ck_assert_msg(
            sp_elfsym_find_label(NODE_PATH, "v8_Default_embedded_blob_code_", &vaddr) ||
                sp_elfsym_find_label(NODE_PATH, "v8_Default_embedded_blob_code_data_", &vaddr),
            "no embedded builtins label in %s", NODE_PATH);
}
END_TEST

START_TEST(test_libc_getpid)
{
    void *fn = dlsym(RTLD_DEFAULT, "getpid"); /* libc's own address, not a PLT stub */
    ck_assert_ptr_nonnull(fn);
    sp_procmaps_t *maps = sp_procmaps_read(NULL, 0);
    ck_assert_ptr_nonnull(maps);
    const sp_mapping_t *m = sp_procmaps_find(maps, (uint64_t)(uintptr_t)fn);
    ck_assert_ptr_nonnull(m);
    ck_assert(m->exec);
    ck_assert_msg(strstr(m->path, "libc") != NULL, "getpid lives in %s", m->path);
    sp_elfsym_t *elf = NULL;
    uint64_t st = 0;
    const char *name = resolve_self(maps, (uint64_t)(uintptr_t)fn, &elf, &st);
    ck_assert_uint_gt(sp_elfsym_count(elf), 500);
    ck_assert_ptr_nonnull(name);
    ck_assert_msg(strstr(name, "getpid") != NULL, "getpid resolved to %s", name);
    sp_elfsym_free(elf);
    sp_procmaps_free(maps);
}
END_TEST

START_TEST(test_node_binary)
{
    if (access(NODE_PATH, R_OK) != 0) {
        fprintf(stderr, "test_node_binary: %s not present, skipped\n", NODE_PATH);
        return;
    }
    size_t before = sp_mem_in_use();
    double t0 = now_s();
    sp_elfsym_t *elf = sp_elfsym_open(NODE_PATH, NULL);
    double t1 = now_s();
    ck_assert_ptr_nonnull(elf);
    size_t mem = sp_mem_in_use() - before;
    fprintf(stderr, "sp_elfsym_open(%s): %.1f ms, %zu symbols, %zu bytes (%.1f per symbol)\n",
            NODE_PATH, (t1 - t0) * 1e3, sp_elfsym_count(elf), mem,
            (double)mem / (double)(sp_elfsym_count(elf) ? sp_elfsym_count(elf) : 1));
    ck_assert_uint_gt(sp_elfsym_count(elf), 10000);
    ck_assert_msg(t1 - t0 < NODE_OPEN_LIMIT_S, "open took %.3f s", t1 - t0);
    ck_assert_uint_le(mem, sp_elfsym_count(elf) * 24 + 4096);

    /* Builtins_JSEntry by the address nm gives (node is not PIE: vaddr == runtime address). */
    char *nm_argv[] = {"nm", NODE_PATH, NULL};
    int status;
    char *out = run_capture(nm_argv, NULL, &status);
    if (status == 127) {
        fprintf(stderr, "test_node_binary: nm not found, Builtins_JSEntry check skipped\n");
    } else {
        ck_assert_int_eq(status, 0);
        uint64_t jsentry = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            size_t l = strlen(line);
            if (l > 17 && strcmp(line + l - 17, " Builtins_JSEntry") == 0) {
                jsentry = strtoull(line, NULL, 16);
                break;
            }
        }
        ck_assert_msg(jsentry != 0, "nm shows no Builtins_JSEntry in %s", NODE_PATH);
        uint64_t st = 0;
        const char *name = sp_elfsym_lookup(elf, jsentry, &st);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_eq(name, "Builtins_JSEntry");
        ck_assert_uint_eq(st, jsentry);
        ck_assert_str_eq(sp_elfsym_lookup(elf, jsentry + 1, NULL), "Builtins_JSEntry");
    }
    free(out);

    /* In a running node, the executable's image translates to itself. V8 may also map a
     * second copy of the embedded builtins from the file at a high address (near its code
     * range, for short builtin calls): that copy must translate to the Builtins_* symbols. */
    char nodereal[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(NODE_PATH, nodereal));
    char *node_argv[] = {NODE_PATH, "-e",
                         "process.stdout.write(require('fs').readFileSync('/proc/self/maps'))",
                         NULL};
    pid_t pid;
    out = run_capture(node_argv, &pid, &status);
    ck_assert_msg(status == 0, "node exited with %d", status);
    char *dir = make_tmpdir();
    write_fake_maps(dir, pid, out);
    sp_procmaps_t *maps = sp_procmaps_read(dir, pid);
    ck_assert_ptr_nonnull(maps);
    int image = 0, remapped = 0;
    for (size_t i = 0; i < sp_procmaps_count(maps); i++) {
        const sp_mapping_t *m = sp_procmaps_at(maps, i);
        if (strcmp(m->path, nodereal) != 0) continue;
        uint64_t v = 0, v_end = 0;
        ck_assert_msg(sp_elfsym_to_vaddr(elf, m, m->start, &v), "no segment for 0x%" PRIx64,
                      m->start);
        ck_assert(sp_elfsym_to_vaddr(elf, m, m->end - 1, &v_end));
        ck_assert_uint_eq(v_end - v, m->end - 1 - m->start);
        if (m->start < (1ull << 32)) { /* the executable's own image (non-PIE, low address) */
            ck_assert_uint_eq(v, m->start);
            image++;
            continue;
        }
        ck_assert(m->exec);
        const char *name = NULL;
        for (uint64_t a = v; a < v_end && !name; a += 16) name = sp_elfsym_lookup(elf, a, NULL);
        ck_assert_ptr_nonnull(name);
        ck_assert_msg(strncmp(name, "Builtins_", 9) == 0, "remapped code holds %s", name);
        remapped++;
    }
    fprintf(stderr, "node: %d image mappings, %d remapped builtins mappings\n", image, remapped);
    ck_assert_int_ge(image, 3);
    sp_procmaps_free(maps);
    remove_fake_maps(dir, pid);
    rmdir(dir);
    free(dir);
    free(out);
    sp_elfsym_free(elf);
    ck_assert_uint_eq(sp_mem_in_use(), before);
}
END_TEST

/* ------------------------------------------------------------------ suite */

SP_UNIT_SUITE(elfsym)
{
    /* Inside node, libstdc++ is already there; make it so here before any test forks. */
    have_demangler = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL) != NULL;
    Suite *s = suite_create("elfsym");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_procmaps_fake_root);
    tcase_add_test(tc, test_procmaps_empty_missing);
    tcase_add_test(tc, test_procmaps_self);
    tcase_add_test(tc, test_demangle);
    tcase_add_test(tc, test_synthetic_symbols);
    tcase_add_test(tc, test_truncated_while_open);
    tcase_add_test(tc, test_synthetic_to_vaddr);
    tcase_add_test(tc, test_synthetic_demangle_cache);
    tcase_add_test(tc, test_hostile_files);
    tcase_add_test(tc, test_hostile_fixture_mutations);
    tcase_add_test(tc, test_fixture_symbols);
    tcase_add_test(tc, test_self_symbols);
    tcase_add_test(tc, test_find_object);
    tcase_add_test(tc, test_find_label);
    tcase_add_test(tc, test_libc_getpid);
    tcase_add_test(tc, test_node_binary);
    suite_add_tcase(s, tc);
    tc = tcase_create("buildid"); /* build ids and debug files */
    tcase_add_test(tc, test_build_id);
    tcase_add_test(tc, test_debug_file);
    tcase_add_test(tc, test_versioned_names);
    suite_add_tcase(s, tc);
    return s;
}
