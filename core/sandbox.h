/*
 * The worker processes' sandbox: after a worker has loaded what it needs (OpenSSL's configuration and
 * providers), sandbox_enter() takes away everything a computation does not need. The process may still read
 * and write descriptors it holds, allocate memory that is never executable, draw random bytes and exit; it
 * can no longer open a file, make a socket or a process, execute, map code, trace, or change its own limits.
 * A worker that a crafted key or password drove into running code of an attacker's choosing holds only its
 * socket to the server and the key it is computing.
 *
 * Linux seccomp with a filter written here (linux/seccomp.h, linux/filter.h: kernel headers, no library),
 * and PR_SET_NO_NEW_PRIVS, which seccomp requires of an unprivileged process and which also makes set-id
 * binaries pointless. A denied call fails with EPERM rather than killing the process: a computation that
 * meets one fails and says so, and the server answers its job with an error. Supported on x86-64 and arm64;
 * on other architectures sandbox_enter() fails, so a worker there refuses to run rather than run unconfined.
 */
#ifndef KMIPD_SANDBOX_H
#define KMIPD_SANDBOX_H

#include <stddef.h>

/*
 * Confines the calling process for good (and every thread it would make). Lowers the open-files limit to
 * the descriptors below nfds first, so nothing new could be opened even through a call the filter allows.
 * Returns 0, or -1 with a short reason in why (not confined then: the caller should exit).
 */
int sandbox_enter(unsigned nfds, char *why, size_t size) __attribute__((warn_unused_result));

#endif
