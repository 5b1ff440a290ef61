/* arch_x86_64: x86_64's registers for the stack walk (src/arch.h says what each gives).
 * Included by arch.h only. */
#ifndef SP_ARCH_X86_64_H
#define SP_ARCH_X86_64_H

#define SP_ARCH_NAME "x64"

static inline void sp_arch_regs(const ucontext_t *uc, sp_arch_regs_t *r)
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
static inline uint64_t sp_arch_leaf_ret(const sp_arch_regs_t *r)
{
    return *(const uint64_t *)r->sp;
}

#endif
