/* arch_x86_64: x86_64's registers for the stack walk (src/arch.h says what each gives).
 * Included by arch.h only. */
#ifndef SP_ARCH_X86_64_H
#define SP_ARCH_X86_64_H

#define SP_ARCH_NAME "x64"

SP_NO_ASAN static inline void sp_arch_regs(const ucontext_t *uc, sp_arch_regs_t *r)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    r->pc = (uintptr_t)g[REG_RIP];
    r->sp = (uintptr_t)g[REG_RSP];
    r->fp = (uintptr_t)g[REG_RBP];
    r->lr = 0;
}

static inline void sp_arch_set_regs(ucontext_t *uc, uintptr_t pc, uintptr_t sp, uintptr_t fp,
                                    uintptr_t lr)
{
    (void)lr; /* no link register: a call pushes the return address */
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc->uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
}

/* call pushed the return address at sp; until the function's push rbp it is still the word
 * at sp (and in a function that never builds a frame, until its ret). The caller has
 * checked that sp lies on the stack. */
SP_NO_ASAN static inline uint64_t sp_arch_leaf_ret(const sp_arch_regs_t *r)
{
    return sp_arch_stack_word(r->sp);
}

/* The sigreturn trampoline a handler installed through the C library returns to: its
 * sa_restorer, when that code is rt_sigreturn (`mov $15,%rax; syscall`, glibc's and musl's
 * __restore_rt); 0 otherwise. Setup only (reads code). */
static inline uintptr_t sp_arch_restorer(const struct sigaction *sa)
{
    static const unsigned char rt_sigreturn[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    const unsigned char *c = (const unsigned char *)sa->sa_restorer;
    if (!c) return 0;
    for (size_t i = 0; i < sizeof rt_sigreturn; i++)
        if (c[i] != rt_sigreturn[i]) return 0;
    return (uintptr_t)c;
}

/* The registers the kernel saved in the signal frame (rt_sigframe: {pretcode, ucontext,
 * siginfo, FPU state}) whose pretcode (the trampoline's address) is the word at slot:
 * false unless the ucontext reads as one the kernel wrote (uc_link 0, uc_flags within
 * UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, the FPU state pointer 0 or just
 * above it and below the saved sp). Reads words of [slot, hi) only. */
#define SP_ARCH_UC_WORD(f) (offsetof(ucontext_t, f) / 8)
#define SP_ARCH_SIGFRAME_FP_MAX (64 * 1024) /* the xsave area: ~11 KiB with AMX */
SP_NO_ASAN static inline bool sp_arch_sigframe_regs(uintptr_t slot, uintptr_t hi, sp_arch_regs_t *r)
{
    const size_t len = offsetof(ucontext_t, uc_mcontext.fpregs) + 8; /* what is read */
    if (hi < slot || hi - slot < 8 + len) return false;
    uintptr_t uc = slot + 8;
#define SP_ARCH_UC_READ(f) sp_arch_stack_word(uc + 8 * SP_ARCH_UC_WORD(f))
    uint64_t fpu = SP_ARCH_UC_READ(uc_mcontext.fpregs);
    if ((SP_ARCH_UC_READ(uc_flags) & ~7ull) || SP_ARCH_UC_READ(uc_link)) return false;
    if (fpu && (fpu < uc + len || fpu - uc > SP_ARCH_SIGFRAME_FP_MAX)) return false;
    r->pc = (uintptr_t)SP_ARCH_UC_READ(uc_mcontext.gregs[REG_RIP]);
    r->sp = (uintptr_t)SP_ARCH_UC_READ(uc_mcontext.gregs[REG_RSP]);
    r->fp = (uintptr_t)SP_ARCH_UC_READ(uc_mcontext.gregs[REG_RBP]);
#undef SP_ARCH_UC_READ
    r->lr = 0;
    return r->sp > uc + len && (!fpu || r->sp > fpu);
}

#endif
