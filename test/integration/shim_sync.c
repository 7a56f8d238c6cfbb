/*
 * An LD_PRELOAD shim for test_durability: it records, in order, what makes the store durable and what
 * reaches a client, so that a test can check that no response leaves before the sync of the write it
 * acknowledges. Loaded into the real kmipd (harness h_start_env), it writes one line per event to the file
 * named by KMIPD_SHIM_SYNC_LOG (without it the shim only passes calls through):
 *
 *   SEQ PID KIND FD PORT BYTES
 *
 * SEQ counts the events of one process (kmipd is single-threaded, so it orders them); PORT is the peer's
 * TCP port for a socket, 0 otherwise. KIND is one of:
 *   R  bytes read from a TCP socket (logged after the call, when it read some)
 *   W  a write to a TCP socket is about to be made (logged before the call, so a client can never have
 *      a byte before its line is in the log)
 *   w  a write to the store's data file through a descriptor without O_DSYNC: not durable yet
 *   D  a write through an O_DSYNC / O_SYNC descriptor of the data file: durable when it returns
 *   S  fsync, fdatasync, syncfs or msync(MS_SYNC) of the data file returned 0: what was written is durable
 *   N  the same call, turned into a no-op by KMIPD_SHIM_SYNC_MODE=noop: nothing became durable
 *   r  sync_file_range on the data file: logged, but not durable (it flushes no metadata and no disk cache)
 * The data file is the descriptor whose /proc/self/fd link ends in KMIPD_SHIM_SYNC_FILE (default
 * "/store/data.mdb"). Only TCP sockets are logged: the key-generation workers' socketpairs and libevent's
 * signal pipe are not.
 *
 * What LMDB 0.9.24 (Debian 12) calls, seen with strace -f on kmipd: at each commit it writes the dirty
 * pages with writev (pwrite for a single page) on the data file's read-write descriptor, then fdatasync on
 * it, then writes the 120-byte meta page with pwrite on a second descriptor of the same file opened
 * O_WRONLY|O_DSYNC (store.sync = "full"); with store.sync = "relaxed" (MDB_NOMETASYNC) the meta page goes
 * through the first descriptor after the fdatasync, so it is only synced by the next commit. No msync
 * (kmipd does not use MDB_WRITEMAP), no fsync, no sync_file_range.
 *
 * KMIPD_SHIM_SYNC_MODE=noop makes kmipd lose durability while everything else works: fsync, fdatasync,
 * syncfs, sync and msync return 0 without doing anything, and a pwrite through an O_DSYNC descriptor of the
 * data file goes through a fresh descriptor of the same file without O_DSYNC (logged "w"). A write on such
 * a descriptor through another call (LMDB makes none) is passed through and logged "D".
 *
 * KMIPD_SHIM_SYNC_MODE=fail makes the store's syncs fail while the file named by KMIPD_SHIM_FAIL_FLAG exists
 * (always, without it): fsync and fdatasync of the data file return -1 with EIO, as a failing disk does.
 * KMIPD_SHIM_FAIL_WRITE (a path suffix, any mode): while the flag file exists, write(2) and fdatasync on a
 * descriptor whose path ends with it return -1 with ENOSPC (a full disk under the audit file).
 *
 * Log lines are written with one raw write(2) each to an O_APPEND descriptor, without stdio or malloc; a
 * process forked and not yet exec'd logs nothing (it is not the server); after exec it logs under its own pid.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define LOG_FD_MIN	700	/* out of the way of the descriptors kmipd and its tests count */

static int log_fd = -1;
static pid_t log_pid;
static bool noop;
static bool fail_sync;
static char fail_flag[512];
static char fail_write[256];
static size_t fail_write_len;
static char data_suffix[256] = "/store/data.mdb";
static size_t data_suffix_len;
static unsigned long seq;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_syncfs)(int);
static void (*real_sync)(void);
static int (*real_msync)(void *, size_t, int);
static int (*real_sync_file_range)(int, __off64_t, __off64_t, unsigned int);

/* Looks up the next definition of name; aborts when there is none (the shim cannot pass the call on). */
static void *
next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return f;
}

/*
 * Resolves every real function before main, so that nothing calls dlsym later (a signal handler may
 * write), and opens the log.
 */
__attribute__((constructor)) static void
shim_init(void)
{
	const char *path = getenv("KMIPD_SHIM_SYNC_LOG"), *mode = getenv("KMIPD_SHIM_SYNC_MODE");
	const char *file = getenv("KMIPD_SHIM_SYNC_FILE");
	int fd;

	real_write = next("write");
	real_writev = next("writev");
	real_pwrite = next("pwrite");
	real_pwrite64 = next("pwrite64");
	real_pwritev = next("pwritev");
	real_pwritev2 = next("pwritev2");
	real_send = next("send");
	real_sendto = next("sendto");
	real_sendmsg = next("sendmsg");
	real_read = next("read");
	real_readv = next("readv");
	real_recv = next("recv");
	real_recvfrom = next("recvfrom");
	real_recvmsg = next("recvmsg");
	real_fsync = next("fsync");
	real_fdatasync = next("fdatasync");
	real_syncfs = next("syncfs");
	real_sync = next("sync");
	real_msync = next("msync");
	real_sync_file_range = next("sync_file_range");
	noop = mode != NULL && strcmp(mode, "noop") == 0;
	fail_sync = mode != NULL && strcmp(mode, "fail") == 0;
	if ((file = getenv("KMIPD_SHIM_FAIL_FLAG")) != NULL && strlen(file) < sizeof(fail_flag))
		memcpy(fail_flag, file, strlen(file) + 1);
	if ((file = getenv("KMIPD_SHIM_FAIL_WRITE")) != NULL && strlen(file) < sizeof(fail_write)) {
		memcpy(fail_write, file, strlen(file) + 1);
		fail_write_len = strlen(fail_write);
	}
	file = getenv("KMIPD_SHIM_SYNC_FILE");
	if (file != NULL && strlen(file) < sizeof(data_suffix))
		memcpy(data_suffix, file, strlen(file) + 1);
	data_suffix_len = strlen(data_suffix);
	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return;
	log_fd = fcntl(fd, F_DUPFD_CLOEXEC, LOG_FD_MIN);
	if (log_fd < 0)
		log_fd = fd;
	else
		(void)close(fd);
	log_pid = getpid();
}

/* Appends the decimal digits of v to p; returns the end. */
static char *
put_num(char *p, unsigned long v)
{
	char tmp[24];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Writes one event line (see the top of the file); a failed log write is ignored. */
static void
log_event(char kind, int fd, unsigned port, long bytes)
{
	char line[128], *p = line;
	int saved = errno;

	p = put_num(p, __atomic_add_fetch(&seq, 1, __ATOMIC_SEQ_CST));
	*p++ = ' ';
	p = put_num(p, (unsigned long)log_pid);
	*p++ = ' ';
	*p++ = kind;
	*p++ = ' ';
	p = put_num(p, (unsigned long)fd);
	*p++ = ' ';
	p = put_num(p, port);
	*p++ = ' ';
	p = put_num(p, bytes > 0 ? (unsigned long)bytes : 0);
	*p++ = '\n';
	(void)syscall(SYS_write, log_fd, line, (size_t)(p - line));
	errno = saved;
}

/* True when this process logs: the log is open and this is the process that opened it (not a fork). */
static bool
logging(void)
{
	return log_fd >= 0 && (pid_t)syscall(SYS_getpid) == log_pid;
}

/* The peer's TCP port when fd is a TCP socket (IPv4 or IPv6), else 0. */
static unsigned
tcp_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;

	if (fd < 0 || fd == log_fd || syscall(SYS_fstat, fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    syscall(SYS_getpeername, fd, &ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* True when path (len bytes) ends with the data file's suffix. */
static bool
is_data_path(const char *path, size_t len)
{
	return len >= data_suffix_len && memcmp(path + len - data_suffix_len, data_suffix, data_suffix_len) == 0;
}

/* True when fd is a descriptor of the store's data file. */
static bool
is_data_fd(int fd)
{
	char link[64], path[4096], *p = link;
	long n;

	if (fd < 0 || fd == log_fd)
		return false;
	memcpy(p, "/proc/self/fd/", 14);
	p = put_num(p + 14, (unsigned long)fd);
	*p = '\0';
	n = syscall(SYS_readlink, link, path, sizeof(path));
	return n > 0 && is_data_path(path, (size_t)n);
}

/* True while the failure modes apply: the flag file exists (or none was named). */
static bool
failing(void)
{
	return fail_flag[0] == '\0' || syscall(SYS_faccessat, AT_FDCWD, fail_flag, F_OK, 0) == 0;
}

/* True when writes and syncs on fd must fail (KMIPD_SHIM_FAIL_WRITE), now. */
static bool
is_fail_write_fd(int fd)
{
	char link[64], path[4096], *p = link;
	long n;

	if (fail_write_len == 0 || fd < 0 || fd == log_fd)
		return false;
	memcpy(p, "/proc/self/fd/", 14);
	p = put_num(p + 14, (unsigned long)fd);
	*p = '\0';
	n = syscall(SYS_readlink, link, path, sizeof(path));
	return n > 0 && (size_t)n >= fail_write_len && memcmp(path + n - fail_write_len, fail_write,
	    fail_write_len) == 0 && failing();
}

/* True when fd was opened with O_DSYNC (O_SYNC includes it): each write is durable when it returns. */
static bool
is_dsync(int fd)
{
	long fl = syscall(SYS_fcntl, fd, F_GETFL);

	return fl >= 0 && (fl & O_DSYNC) != 0;
}

/*
 * What a write on fd is: 'W' for a TCP socket (and its peer port in *port), 'w' or 'D' for the data file,
 * 0 for anything else or when not logging.
 */
static char
classify_write(int fd, unsigned *port)
{
	*port = 0;
	if (!logging())
		return 0;
	if ((*port = tcp_port(fd)) != 0)
		return 'W';
	if (is_data_fd(fd))
		return is_dsync(fd) ? 'D' : 'w';
	return 0;
}

/* Logs the result of a data-file write of kind k (after the call), when it wrote something. */
static ssize_t
after_write(char k, int fd, ssize_t r)
{
	if ((k == 'w' || k == 'D') && r > 0)
		log_event(k, fd, 0, (long)r);
	return r;
}

/* Logs a read of r bytes on fd when fd is a TCP socket. */
static ssize_t
after_read(int fd, ssize_t r)
{
	unsigned port;

	if (r > 0 && logging() && (port = tcp_port(fd)) != 0)
		log_event('R', fd, port, (long)r);
	return r;
}

/* Logs a socket write before it is made (see 'W'); returns the kind for after_write. */
static char
before_write(int fd)
{
	unsigned port;
	char k = classify_write(fd, &port);

	if (k == 'W')
		log_event('W', fd, port, 0);
	return k;
}

/*
 * The interposed calls below do what libc's do (through the next definition) and log what the top of this
 * file says; they return what libc's return.
 */
ssize_t
write(int fd, const void *buf, size_t n)
{
	char k = n > 0 ? before_write(fd) : 0;

	if (is_fail_write_fd(fd)) {
		errno = ENOSPC;
		return -1;
	}

	return after_write(k, fd, real_write(fd, buf, n));
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	char k = cnt > 0 ? before_write(fd) : 0;

	return after_write(k, fd, real_writev(fd, iov, cnt));
}

/*
 * A positional write to the data file through an O_DSYNC descriptor in noop mode: made through a fresh
 * descriptor without O_DSYNC, so that it is not durable; the others go to real.
 */
static ssize_t
pwrite_common(ssize_t (*real)(int, const void *, size_t, off_t), int fd, const void *buf, size_t n, off_t off)
{
	char k = n > 0 ? before_write(fd) : 0;
	char link[64], *p = link;
	ssize_t r;
	int plain;

	if (k == 'D' && noop) {
		memcpy(p, "/proc/self/fd/", 14);
		p = put_num(p + 14, (unsigned long)fd);
		*p = '\0';
		if ((plain = (int)syscall(SYS_open, link, O_WRONLY | O_CLOEXEC)) < 0)
			return -1;
		r = real(plain, buf, n, off);
		(void)syscall(SYS_close, plain);
		return after_write('w', fd, r);
	}
	return after_write(k, fd, real(fd, buf, n, off));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite_common(real_pwrite, fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite_common(real_pwrite64, fd, buf, n, off);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	char k = cnt > 0 ? before_write(fd) : 0;

	return after_write(k, fd, real_pwritev(fd, iov, cnt, off));
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	char k = cnt > 0 ? before_write(fd) : 0;

	/* RWF_DSYNC / RWF_SYNC make this one write durable, as O_DSYNC does. */
	if (k == 'w' && (flags & (RWF_DSYNC | RWF_SYNC)) != 0)
		k = 'D';
	return after_write(k, fd, real_pwritev2(fd, iov, cnt, off, flags));
}

ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	if (n > 0)
		(void)before_write(fd);
	return real_send(fd, buf, n, flags);
}

ssize_t
sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
	if (n > 0)
		(void)before_write(fd);
	return real_sendto(fd, buf, n, flags, to, tolen);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	(void)before_write(fd);
	return real_sendmsg(fd, msg, flags);
}

ssize_t
read(int fd, void *buf, size_t n)
{
	return after_read(fd, real_read(fd, buf, n));
}

ssize_t
readv(int fd, const struct iovec *iov, int cnt)
{
	return after_read(fd, real_readv(fd, iov, cnt));
}

ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
	return after_read(fd, real_recv(fd, buf, n, flags));
}

ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	return after_read(fd, real_recvfrom(fd, buf, n, flags, from, fromlen));
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	return after_read(fd, real_recvmsg(fd, msg, flags));
}

/* A sync call on fd: in noop mode nothing is done; logs 'S' or 'N' when fd is the data file. */
static int
sync_fd(int (*real)(int), int fd)
{
	int r;

	if (is_fail_write_fd(fd) || (fail_sync && is_data_fd(fd) && failing())) {
		errno = is_fail_write_fd(fd) ? ENOSPC : EIO;
		return -1;
	}
	r = noop ? 0 : real(fd);

	if (r == 0 && logging() && is_data_fd(fd))
		log_event(noop ? 'N' : 'S', fd, 0, 0);
	return r;
}

int
fsync(int fd)
{
	return sync_fd(real_fsync, fd);
}

int
fdatasync(int fd)
{
	return sync_fd(real_fdatasync, fd);
}

int
syncfs(int fd)
{
	return sync_fd(real_syncfs, fd);
}

/* sync(2) makes every file durable, the data file included: logged as its sync (fd -1). */
void
sync(void)
{
	if (!noop)
		real_sync();
	if (logging())
		log_event(noop ? 'N' : 'S', -1, 0, 0);
}

/*
 * True when addr lies in a mapping of the data file (/proc/self/maps, read with raw calls into a static
 * buffer; a process with more mappings than fit is checked on those that do).
 */
static bool
is_data_mapping(const void *addr)
{
	static char maps[1 << 18];
	size_t len = 0;
	long n;
	int fd = (int)syscall(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char *line, *end;

	if (fd < 0)
		return false;
	while (len < sizeof(maps) && (n = syscall(SYS_read, fd, maps + len, sizeof(maps) - len)) > 0)
		len += (size_t)n;
	(void)syscall(SYS_close, fd);
	for (line = maps; line < maps + len; line = end + 1) {
		uintptr_t lo, hi;
		char *p;

		if ((end = memchr(line, '\n', (size_t)(maps + len - line))) == NULL)
			break;
		lo = (uintptr_t)strtoull(line, &p, 16);
		hi = *p == '-' ? (uintptr_t)strtoull(p + 1, NULL, 16) : 0;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi)
			return is_data_path(line, (size_t)(end - line));
	}
	return false;
}

int
msync(void *addr, size_t len, int flags)
{
	int r = noop ? 0 : real_msync(addr, len, flags);

	if (r == 0 && (flags & MS_SYNC) != 0 && logging() && is_data_mapping(addr))
		log_event(noop ? 'N' : 'S', -1, 0, 0);
	return r;
}

int
sync_file_range(int fd, __off64_t off, __off64_t n, unsigned int flags)
{
	int r = noop ? 0 : real_sync_file_range(fd, off, n, flags);

	if (r == 0 && logging() && is_data_fd(fd))
		log_event('r', fd, 0, 0);
	return r;
}
