/*
 * The worker processes' seccomp filter; see sandbox.h. The filter is a short BPF program: check the
 * architecture (a call made through another ABI, such as x32 or 32-bit compat, is refused), then compare
 * the call number with each allowed call. mmap and mprotect are allowed only without PROT_EXEC, so no
 * memory can be made executable. Everything else fails with EPERM.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "core/sandbox.h"

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#endif

#ifdef SANDBOX_ARCH

/* Calls a computation needs: I/O on held descriptors, memory, time, random bytes, futexes, exit. */
static const int allowed[] = {
	SYS_read, SYS_readv, SYS_write, SYS_writev, SYS_sendto, SYS_recvfrom, SYS_ppoll,
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_close, SYS_fstat,
#ifdef SYS_newfstatat
	SYS_newfstatat,
#endif
	SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise,
	SYS_getrandom, SYS_getpid, SYS_gettid, SYS_futex,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_sigaltstack, SYS_restart_syscall,
	SYS_exit, SYS_exit_group,
};

/* Calls allowed only when their third argument (prot) has no PROT_EXEC. */
static const int no_exec[] = { SYS_mmap, SYS_mprotect };

#define LOAD(field)	(struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(action)	(struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (action))
#define NALLOWED	(sizeof(allowed) / sizeof(allowed[0]))
#define NNOEXEC		(sizeof(no_exec) / sizeof(no_exec[0]))
/* Header (4), one jump per allowed call and per no_exec call, the default, ALLOW, the prot check (4). */
#define FILTER_LEN	(4 + NALLOWED + NNOEXEC + 1 + 1 + 4)

/*
 * Writes the filter into f (FILTER_LEN instructions). Layout: arch check; load nr; for each allowed call a
 * jump to ALLOW; for each no_exec call a jump to CHECK; default EPERM; ALLOW; CHECK: load prot, test
 * PROT_EXEC, EPERM or ALLOW. Jump offsets are relative to the next instruction and fit in a byte.
 */
static void
filter_build(struct sock_filter *f)
{
	size_t n = 0, i, allow_at = 4 + NALLOWED + NNOEXEC + 1, check_at = allow_at + 1;

	f[n++] = LOAD(arch);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_ARCH, 1, 0);
	f[n++] = RET(SECCOMP_RET_KILL_PROCESS);
	f[n++] = LOAD(nr);
	for (i = 0; i < NALLOWED; i++, n++)
		f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[i],
		    (uint8_t)(allow_at - n - 1), 0);
	for (i = 0; i < NNOEXEC; i++, n++)
		f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)no_exec[i],
		    (uint8_t)(check_at - n - 1), 0);
	f[n++] = RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	f[n++] = RET(SECCOMP_RET_ALLOW);
	/* The low 32 bits of args[2]: both supported architectures are little-endian. */
	f[n++] = LOAD(args[2]);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1);
	f[n++] = RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	f[n++] = RET(SECCOMP_RET_ALLOW);
}

/* Confines the process; see sandbox.h. */
int
sandbox_enter(unsigned nfds, char *why, size_t size)
{
	struct sock_filter f[FILTER_LEN];
	struct sock_fprog prog;
	struct rlimit rl = { nfds, nfds };

	_Static_assert(FILTER_LEN < 256, "jump offsets must fit in a byte");
	filter_build(f);
	prog.len = (unsigned short)FILTER_LEN;
	prog.filter = f;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(why, size, "setrlimit(RLIMIT_NOFILE): errno %d", errno);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, size, "prctl(PR_SET_NO_NEW_PRIVS): errno %d", errno);
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		snprintf(why, size, "seccomp filter: errno %d", errno);
		return -1;
	}
	return 0;
}

#else

/* No filter for this architecture: refuse, so that a worker never runs unconfined. */
int
sandbox_enter(unsigned nfds, char *why, size_t size)
{
	(void)nfds;
	snprintf(why, size, "no seccomp filter for this architecture");
	return -1;
}

#endif
