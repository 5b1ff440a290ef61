/* arch_aarch64: arm64's registers for the stack walk (src/arch.h says what each gives).
 * Included by arch.h only. */
#ifndef SP_ARCH_AARCH64_H
#define SP_ARCH_AARCH64_H

#define SP_ARCH_NAME "arm64"

/* x29 is the frame pointer, x30 the link register (AAPCS64 §6.1.1). */
static inline void sp_arch_regs(const ucontext_t *uc, sp_arch_regs_t *r)
{
    r->pc = (uintptr_t)uc->uc_mcontext.pc;
    r->sp = (uintptr_t)uc->uc_mcontext.sp;
    r->fp = (uintptr_t)uc->uc_mcontext.regs[29];
    r->lr = (uintptr_t)uc->uc_mcontext.regs[30];
}

static inline void sp_arch_set_regs(ucontext_t *uc, uintptr_t pc, uintptr_t sp, uintptr_t fp,
                                    uintptr_t lr)
{
    uc->uc_mcontext.pc = pc;
    uc->uc_mcontext.sp = sp;
    uc->uc_mcontext.regs[29] = fp;
    uc->uc_mcontext.regs[30] = lr;
}

/* bl puts the return address in x30; a function saves it in its frame record (stp x29, x30)
 * only when it calls something, so in a leaf, or in a prologue before the stp, the caller is
 * known from lr alone. Once the function has made a call of its own, lr points into the
 * function itself: whoever uses this value must check it against pc's function (off the
 * signal path, with symbols). No memory read. */
static inline uint64_t sp_arch_leaf_ret(const sp_arch_regs_t *r)
{
    return r->lr;
}

/* Signal frames are not walked through on arm64 yet (the kernel returns through the vDSO's
 * __kernel_rt_sigreturn, found from x30 at a handler's entry, not from sa_restorer): no
 * trampoline, so the walk stops at another handler's frames as before. */
static inline uintptr_t sp_arch_restorer(const struct sigaction *sa)
{
    (void)sa;
    return 0;
}

static inline bool sp_arch_sigframe_regs(uintptr_t slot, uintptr_t hi, sp_arch_regs_t *r)
{
    (void)slot, (void)hi, (void)r;
    return false;
}

#endif
