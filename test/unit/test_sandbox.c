/*
 * Unit tests of core/sandbox: a process that entered the sandbox can still compute (allocate, draw random
 * bytes, generate and use a key, talk over the descriptors it holds) and can no longer open files, make
 * sockets or processes, execute, map executable memory or raise its own limits. Each check runs in a child
 * process, since the sandbox is for good.
 *
 * Usage: test_sandbox [FILTER]
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/sandbox.h"
#include "test/util.h"

/* What the child found; each field 0 when the check held, else the errno (or -1) it saw. */
struct outcome {
	int entered;
	int open_file;
	int socket;
	int fork;
	int exec;
	int mmap_exec;
	int mprotect_exec;
	int raise_limit;
	int ptrace;
	int big_alloc;
	int random;
	int keygen;
	int pipe_write;
	int new_fd;
};

/* 0 when a call failed with EPERM (what the sandbox answers), else errno or -1. */
static int
refused(long rc, int err)
{
	if (rc != -1)
		return -1;
	return err == EPERM ? 0 : err;
}

/* Runs inside the sandbox: fills o. */
static void
checks(struct outcome *o, int out_fd)
{
	struct rlimit rl = { 1024, 1024 };
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	unsigned char r[32];
	char *big;
	void *m;
	pid_t pid;
	int fds[2];

	o->open_file = refused(open("/etc/hostname", O_RDONLY), errno);
	o->socket = refused(socket(AF_INET, SOCK_STREAM, 0), errno);
	pid = fork();
	if (pid == 0)
		_exit(0);
	o->fork = refused(pid, errno);
	o->exec = refused(execl("/bin/true", "true", (char *)NULL), errno);
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o->mmap_exec = refused(m == MAP_FAILED ? -1 : 0, errno);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	o->mprotect_exec = m == MAP_FAILED ? errno : refused(mprotect(m, 4096, PROT_READ | PROT_EXEC), errno);
	o->raise_limit = refused(setrlimit(RLIMIT_NOFILE, &rl), errno);
	o->ptrace = refused(ptrace(PTRACE_TRACEME, 0, NULL, NULL), errno);
	o->new_fd = refused(pipe(fds), errno);
	/* What a job does: a large allocation, random bytes, a key made and used. */
	big = malloc(64 << 20);
	o->big_alloc = big == NULL ? -1 : 0;
	if (big != NULL)
		memset(big, 1, 64 << 20);
	free(big);
	o->random = RAND_bytes(r, sizeof(r)) == 1 ? 0 : -1;
	o->keygen = -1;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1 && EVP_PKEY_generate(ctx, &key) == 1)
		o->keygen = 0;
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	o->pipe_write = write(out_fd, "", 0) == 0 ? 0 : errno;
}

/* Forks a child that enters the sandbox with its descriptors below nfds and runs the checks. */
static void
run_child(struct outcome *o)
{
	char why[128] = "";
	int p[2], status;
	pid_t pid;

	memset(o, 0xff, sizeof(*o));
	assert_int_equal(pipe(p), 0);
	/* As the worker does: everything loaded before the door closes. */
	assert_int_equal(OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL), 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct outcome c;

		close(p[0]);
		memset(&c, 0xff, sizeof(c));
		c.entered = sandbox_enter((unsigned)p[1] + 1, why, sizeof(why)) == 0 ? 0 : -1;
		if (c.entered == 0)
			checks(&c, p[1]);
		else
			(void)dprintf(2, "sandbox_enter: %s\n", why);
		_exit(write(p[1], &c, sizeof(c)) == (ssize_t)sizeof(c) ? 0 : 1);
	}
	close(p[1]);
	assert_int_equal(read(p[0], o, sizeof(*o)), (ssize_t)sizeof(*o));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Inside: computing works, and the descriptors held still carry data. */
static void
test_computing_still_works(void **state)
{
	struct outcome o;

	(void)state;
	run_child(&o);
	assert_int_equal(o.entered, 0);
	assert_int_equal(o.big_alloc, 0);
	assert_int_equal(o.random, 0);
	assert_int_equal(o.keygen, 0);
	assert_int_equal(o.pipe_write, 0);
}

/* Inside: no file, socket, process, program, executable memory, tracing, new descriptor or higher limit. */
static void
test_everything_else_refused(void **state)
{
	struct outcome o;

	(void)state;
	run_child(&o);
	assert_int_equal(o.entered, 0);
	assert_int_equal(o.open_file, 0);
	assert_int_equal(o.socket, 0);
	assert_int_equal(o.fork, 0);
	assert_int_equal(o.exec, 0);
	assert_int_equal(o.mmap_exec, 0);
	assert_int_equal(o.mprotect_exec, 0);
	assert_int_equal(o.raise_limit, 0);
	assert_int_equal(o.ptrace, 0);
	assert_int_equal(o.new_fd, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_computing_still_works),
		cmocka_unit_test(test_everything_else_refused),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
