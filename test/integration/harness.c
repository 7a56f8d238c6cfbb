/*
 * Integration test harness; see harness.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/rand.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"
#include "tls/tls.h"

static char certs_dir[256];
static unsigned next_nofile;	/* RLIMIT_NOFILE for the next start only; 0 leaves it alone */
static const char *const *next_env;	/* "NAME=value" added to the next start's environment only */
static bool next_nowait;	/* the next start returns once forked, without waiting for "listening on" */

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

void
h_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool
h_valgrind(void)
{
	const char *v = getenv("KMIPD_VALGRIND");

	return v != NULL && strcmp(v, "1") == 0;
}

int
h_slow(int ms)
{
	return h_valgrind() ? ms * 10 : ms;
}

/* Removes the certificate folder when the test binary exits. */
static void
remove_certs(void)
{
	if (certs_dir[0] != '\0' && util_rmtree(certs_dir) != 0)
		fprintf(stderr, "harness: could not remove %s\n", certs_dir);
}

const char *
h_certs(void)
{
	char cmd[1024];

	if (certs_dir[0] != '\0')
		return certs_dir;
	if (util_mkdtemp(certs_dir, sizeof(certs_dir), NULL, "kmipd-certs") != 0)
		fail_msg("mkdtemp: %s", strerror(errno));
	atexit(remove_certs);
	snprintf(cmd, sizeof(cmd), "%s/etc/mkcerts.sh '%s' >/dev/null", env_or("KMIPD_SRCDIR", "."), certs_dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	return certs_dir;
}

const char *
h_cert(const char *name)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", h_certs(), name);
	return b;
}

/* Returns a TCP port that was free a moment ago on 127.0.0.1. */
static unsigned
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int
h_tcp_connect(struct h_server *s)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The server's master key file (s->dir/master.key), made on first use: every test server encrypts its
 * store, as production does, unless the test's overrides name other keys or switch encryption off.
 */
const char *
h_master_key(struct h_server *s)
{
	static char path[320];
	unsigned char key[32];
	int fd;

	snprintf(path, sizeof(path), "%s/master.key", s->dir);
	if (access(path, F_OK) == 0)
		return path;
	assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	return path;
}

/* True when the overrides choose the store's keys themselves. */
static bool
overrides_keys(const char *const *overrides)
{
	size_t i;

	for (i = 0; overrides != NULL && overrides[i] != NULL; i++)
		if (strncmp(overrides[i], "store.master_key", 16) == 0 ||
		    strncmp(overrides[i], "store.pkcs11_module", 19) == 0 ||
		    strncmp(overrides[i], "store.encryption", 16) == 0)
			return true;
	return false;
}

/*
 * Starts the binary with the common arguments plus a config file and overrides; tls_opts adds the test
 * certificates as -o overrides.
 */
static void
start(struct h_server *s, const char *config_path, const char *const *overrides, bool tls_opts)
{
	char *argv[96], opts[40][600];
	size_t argc = 0, o = 0, i;
	unsigned nofile = next_nofile;
	const char *const *env = next_env;
	bool nowait = next_nowait;
	int fd, waited;
	pid_t parent;

	s->port = free_port();
	s->audit[0] = '\0';
	snprintf(s->log, sizeof(s->log), "%s/kmipd.log", s->dir);
#define OPT(...) do {						\
		snprintf(opts[o], sizeof(opts[o]), __VA_ARGS__);	\
		argv[argc++] = "-o";				\
		argv[argc++] = opts[o++];			\
	} while (0)
	next_nofile = 0;
	next_env = NULL;
	next_nowait = false;
	if (h_valgrind()) {
		/* Definite leaks and memory errors make kmipd exit 99, which h_stop and h_cleanup report. */
		argv[argc++] = "/usr/bin/valgrind";
		argv[argc++] = "--leak-check=full";
		argv[argc++] = "--error-exitcode=99";
		argv[argc++] = "--errors-for-leak-kinds=definite";
		argv[argc++] = "--show-leak-kinds=definite";
	}
	argv[argc++] = (char *)env_or("KMIPD_BIN", "build/kmipd");
	argv[argc++] = "-f";
	/* Never the machine's /etc/kmipd/kmipd.conf (an installed package): the embedded defaults, or the test's. */
	argv[argc++] = "-c";
	argv[argc++] = (char *)(config_path != NULL ? config_path : "/dev/null");
	OPT("server.listen=127.0.0.1");
	OPT("server.port=%u", s->port);
	if (tls_opts) {
		OPT("tls.cert_file=%s", h_cert("server.crt"));
		OPT("tls.key_file=%s", h_cert("server.key"));
		OPT("tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	}
	OPT("store.path=%s/store", s->dir);
	if (!overrides_keys(overrides))
		OPT("store.master_key_file=%s", h_master_key(s));
	OPT("log.level=debug");
	/* Key generation under valgrind takes minutes, not the default 30 s deadline; a test may still lower it. */
	if (h_valgrind())
		OPT("keygen.timeout=900");
	for (i = 0; overrides != NULL && overrides[i] != NULL; i++) {
		assert_true(o < 40);
		OPT("%s", overrides[i]);
		if (strncmp(overrides[i], "audit.file=", 11) == 0)
			snprintf(s->audit, sizeof(s->audit), "%s", overrides[i] + 11);
	}
#undef OPT
	argv[argc] = NULL;

	/* A restart must not mistake the previous run's "listening on" for its own. */
	(void)unlink(s->log);
	parent = getpid();
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* A test that fails before h_stop must not leave its kmipd running: it goes with the test. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(125);
		fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(127);
		dup2(fd, 2);
		dup2(fd, 1);
		if (nofile > 0) {
			struct rlimit rl = { nofile, nofile };

			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				_exit(126);
		}
		for (i = 0; env != NULL && env[i] != NULL; i++)
			if (putenv((char *)env[i]) != 0)
				_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (nowait)
		return;
	/* Ready once it logs that it listens; fail early if it exits. */
	for (waited = 0; waited < h_slow(15000); waited += 20) {
		int status;

		if (h_log_count(s, "listening on") > 0)
			return;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			char cmd[400];

			snprintf(cmd, sizeof(cmd), "cat '%s' >&2", s->log);
			if (system(cmd) != 0)
				fprintf(stderr, "(no log)\n");
			s->pid = 0;
			fail_msg("kmipd exited at start-up (status %d)", status);
		}
		h_sleep_ms(20);
	}
	fail_msg("kmipd did not start within %d s", h_slow(15000) / 1000);
}

void
h_make_dir(struct h_server *s)
{
	memset(s, 0, sizeof(*s));
	if (util_mkdtemp(s->dir, sizeof(s->dir), NULL, "kmipd-test") != 0)
		fail_msg("mkdtemp: %s", strerror(errno));
}

void
h_start(struct h_server *s, const char *const *overrides)
{
	h_make_dir(s);
	start(s, NULL, overrides, true);
}

void
h_start_daemon(struct h_server *s, const char *const *overrides)
{
	char opts[40][600], out[4096], path[400];
	const char *argv[96];
	size_t argc = 0, o = 0, i;
	long pid = 0;
	int status;
	FILE *f;

	h_make_dir(s);
	s->port = free_port();
	snprintf(s->log, sizeof(s->log), "%s/kmipd.log", s->dir);
	/* The daemon's parent exits: it comes back to us, to be waited for like any child. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	argv[argc++] = "-c";
	argv[argc++] = "/dev/null";
#define OPT(...) do {						\
		snprintf(opts[o], sizeof(opts[o]), __VA_ARGS__);	\
		argv[argc++] = "-o";				\
		argv[argc++] = opts[o++];			\
	} while (0)
	OPT("server.listen=127.0.0.1");
	OPT("server.port=%u", s->port);
	OPT("tls.cert_file=%s", h_cert("server.crt"));
	OPT("tls.key_file=%s", h_cert("server.key"));
	OPT("tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	OPT("store.path=%s/store", s->dir);
	if (!overrides_keys(overrides))
		OPT("store.master_key_file=%s", h_master_key(s));
	OPT("server.pid_file=%s/kmipd.pid", s->dir);
	for (i = 0; overrides != NULL && overrides[i] != NULL; i++) {
		assert_true(o < 40);
		OPT("%s", overrides[i]);
		if (strncmp(overrides[i], "audit.file=", 11) == 0)
			snprintf(s->audit, sizeof(s->audit), "%s", overrides[i] + 11);
	}
#undef OPT
	argv[argc] = NULL;
	status = h_run_kmipd(argv, out, sizeof(out));
	if (status != 0)
		fail_msg("kmipd did not start as a daemon (status %d): %s", status, out);
	snprintf(path, sizeof(path), "%s/kmipd.pid", s->dir);
	if ((f = fopen(path, "r")) == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		fail_msg("no pid in %s", path);
	fclose(f);
	s->pid = (pid_t)pid;
}

/* Starts kmipd again on the same folder (and store) after it stopped or was killed; the port may change. */
void
h_restart(struct h_server *s, const char *const *overrides)
{
	assert_true(s->dir[0] != '\0');
	s->pid = 0;
	start(s, NULL, overrides, true);
}

static void
start_config(struct h_server *s, const char *config_text, const char *const *overrides, bool tls_opts)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/kmipd.conf", s->dir);
	h_write_file(path, config_text);
	start(s, path, overrides, tls_opts);
}

void
h_start_config(struct h_server *s, const char *config_text, const char *const *overrides)
{
	h_make_dir(s);
	start_config(s, config_text, overrides, true);
}

void
h_start_config_raw(struct h_server *s, const char *config_text, const char *const *overrides)
{
	if (s->dir[0] == '\0')
		h_make_dir(s);
	start_config(s, config_text, overrides, false);
}

static void check_audit(struct h_server *s);

int
h_wait_exit(struct h_server *s, int timeout_ms)
{
	int status, waited, rc;

	if (s->pid <= 0)
		return -1;
	for (waited = 0; waited <= timeout_ms; waited += 10) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			check_audit(s);
			return rc;
		}
		h_sleep_ms(10);
	}
	return -1;
}

long
h_rss_kb(struct h_server *s)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)s->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Runs bin with args, its output into out: see h_run_kmipd. */
static int
run_bin(const char *bin, const char *const *args, char *out, size_t outsize)
{
	const char *argv[64];
	size_t argc = 0, len = 0;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;
	char sink[512];

	argv[argc++] = bin;
	while (*args != NULL) {
		assert_true(argc < 63);
		argv[argc++] = *args++;
	}
	argv[argc] = NULL;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		/* Only 1 and 2: a daemon it starts must not keep the pipe open past the command's exit. */
		if (pfd[1] > 2)
			close(pfd[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 1 < outsize)
			n = read(pfd[0], out + len, outsize - len - 1);
		else
			n = read(pfd[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < outsize)
			len += (size_t)n;
	}
	close(pfd[0]);
	if (outsize > 0)
		out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
h_run_kmipd(const char *const *args, char *out, size_t outsize)
{
	return run_bin(env_or("KMIPD_BIN", "build/kmipd"), args, out, outsize);
}

int
h_run_kmipctl(const char *const *args, char *out, size_t outsize)
{
	return run_bin(env_or("KMIPCTL_BIN", "build/kmipctl"), args, out, outsize);
}

pid_t
h_start_kmipctl(const char *log, int out_fd, const char *const *args)
{
	const char *bin = env_or("KMIPCTL_BIN", "build/kmipctl");
	const char *argv[32];
	size_t n = 0;
	pid_t pid;
	int fd;

	argv[n++] = bin;
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if ((fd = open(log != NULL ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			_exit(126);
		dup2(fd, 2);
		dup2(out_fd != -1 ? out_fd : fd, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void
h_mkcerts(const char *dir, const char *key_type)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s%s %s/etc/mkcerts.sh '%s' >/dev/null", key_type != NULL ?
	    "KMIPD_KEY_TYPE=" : "", key_type != NULL ? key_type : "", env_or("KMIPD_SRCDIR", "."), dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

const char *
h_write_config(struct h_server *s, const char *extra)
{
	static char path[400];
	char text[4096];

	snprintf(path, sizeof(path), "%s/kmipd.conf", s->dir);
	snprintf(text, sizeof(text), "tls: { cert_file = \"%s\"; key_file = \"%s\"; clients_ca_cert_file = \"%s\"; };\n"
	    "store: { path = \"%s/store\"; %s };\n", h_cert("server.crt"), h_cert("server.key"), h_cert("ca.crt"),
	    s->dir, extra);
	h_write_file(path, text);
	return path;
}

void
h_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

void
h_copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "r"), *out;
	char buf[4096];
	size_t n;

	if (in == NULL)
		fail_msg("%s: %s", from, strerror(errno));
	if ((out = fopen(to, "w")) == NULL)
		fail_msg("%s: %s", to, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

void
h_signal(struct h_server *s, int sig)
{
	if (s->pid > 0)
		kill(s->pid, sig);
}

int
h_audit_valid(const char *path)
{
	char cmd[700];

	if (access(path, F_OK) != 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import json,sys\n"
	    "for n, l in enumerate(open(sys.argv[1], encoding=\"utf-8\"), 1):\n"
	    "  try: json.loads(l)\n"
	    "  except Exception as e: sys.exit(\"audit line %%d is not JSON (%%s): %%.300s\" %% (n, e, l))' '%s'", path);
	return system(cmd) == 0 ? 0 : -1;
}

/* Every audit line a test's server wrote must parse as JSON, whatever the test checks itself. */
static void
check_audit(struct h_server *s)
{
	if (s->audit[0] != '\0' && h_audit_valid(s->audit) != 0)
		fail_msg("audit file %s has a line that is not JSON", s->audit);
}

int
h_stop(struct h_server *s, int timeout_ms)
{
	int status, waited, rc;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	timeout_ms = h_slow(timeout_ms);
	for (waited = 0; waited < timeout_ms; waited += 10) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			check_audit(s);
			return rc;
		}
		h_sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
	return -1;
}

/* Prints the last lines of the server log to stderr, to explain a bad exit status. */
static void
show_log_tail(struct h_server *s, int lines)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, s->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

void
h_cleanup(struct h_server *s)
{
	char cmd[400];
	int status = 0;

	if (s->pid > 0)
		status = h_stop(s, 5000);
	if (status == -1)
		fprintf(stderr, "harness: kmipd did not exit after SIGTERM and was killed\n");
	if (status > 0) {
		/*
		 * A server that a test left running must still stop cleanly: a non-zero status here is a crash,
		 * a sanitizer's leak report (make asan) or valgrind's errors (KMIPD_VALGRIND=1, status 99).
		 */
		fprintf(stderr, "harness: kmipd exited with status %d; end of its log:\n", status);
		show_log_tail(s, 60);
	}
	if (s->dir[0] != '\0') {
		/* Keep the log of a failed run visible: print it when asked to. */
		if (getenv("KMIPD_TEST_SHOWLOG") != NULL) {
			snprintf(cmd, sizeof(cmd), "cat '%s' >&2", s->log);
			if (system(cmd) != 0)
				fprintf(stderr, "(no log)\n");
		}
		if (util_rmtree(s->dir) != 0)
			fprintf(stderr, "harness: could not remove %s\n", s->dir);
		s->dir[0] = '\0';
	}
	if (status > 0)
		fail_msg("kmipd exited with status %d when stopped", status);
}

void
h_start_nofile(struct h_server *s, const char *const *overrides, unsigned nofile)
{
	next_nofile = nofile;
	h_start(s, overrides);
}

void
h_start_env(struct h_server *s, const char *const *overrides, const char *const *env)
{
	next_env = env;
	h_start(s, overrides);
}

size_t
h_children(struct h_server *s, pid_t *pids, size_t n)
{
	char path[300], buf[512], *p;
	struct dirent *e;
	size_t found = 0;
	DIR *d;

	if (s->pid <= 0 || (d = opendir("/proc")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && found < n) {
		long pid, ppid;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) state ppid ...": comm may hold spaces and brackets, so parse after the last ')'. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
			continue;
		pid = strtol(e->d_name, NULL, 10);
		if (ppid == (long)s->pid)
			pids[found++] = (pid_t)pid;
	}
	closedir(d);
	return found;
}

int
h_count_fds(struct h_server *s)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)s->pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The sync shim's absolute path; see harness.h. */
const char *
h_shim_path(char *buf, size_t size)
{
	const char *bin = getenv("KMIPD_BIN") != NULL ? getenv("KMIPD_BIN") : "build/kmipd";
	char rel[400], *abs;
	const char *slash = strrchr(bin, '/');

	snprintf(rel, sizeof(rel), "%.*s/test/shim_sync.so", slash != NULL ? (int)(slash - bin) : 1,
	    slash != NULL ? bin : ".");
	if ((abs = realpath(rel, NULL)) == NULL)
		fail_msg("no sync shim at %s (make builds it with test_durability)", rel);
	snprintf(buf, size, "%s", abs);
	free(abs);
	return buf;
}

/* Whether the server refuses ctx; see harness.h. */
bool
h_refused(struct h_server *s, SSL_CTX *ctx, SSL_SESSION *session)
{
	struct kmip_client *cl;
	struct ttlv_arena *a = NULL;
	struct ttlv_enc req;
	struct ttlv *resp;
	char why[512], *cause = NULL;
	int rc;

	if ((cl = h_try_connect(s, ctx, session, why, sizeof(why))) == NULL)
		return true;
	h_discover_request(&req, 1, 4, "refused?");
	rc = kmip_client_call(cl, &req, &resp, &a, &cause);
	ttlv_arena_free(a);
	free(cause);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	return rc != 0;
}

/* A Query request with a username/password Credential; see harness.h. */
void
h_credential_query(struct ttlv_enc *e, int major, int minor, const char *user, const char *password,
    uint32_t query_function)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(major, minor));
	if (user != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_AUTHENTICATION);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL);
		ttlv_enc_enum(e, KMIP_TAG_CREDENTIAL_TYPE, KMIP_CREDENTIAL_TYPE_USERNAME_AND_PASSWORD);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL_VALUE);
		ttlv_enc_cstr(e, KMIP_TAG_USERNAME, user);
		ttlv_enc_cstr(e, KMIP_TAG_PASSWORD, password);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(e);
	h_item_begin(e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(e, KMIP_TAG_QUERY_FUNCTION, query_function);
	h_item_end(e);
	h_request_end(e);
}

/* Reads the whole log into a malloc'd string. */
static char *
read_log(struct h_server *s)
{
	FILE *f = fopen(s->log, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	char chunk[4096];
	size_t n;

	if (f == NULL)
		return strdup("");
	m = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

int
h_log_count(struct h_server *s, const char *needle)
{
	char *log = read_log(s), *p = log;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return n;
}

bool
h_log_wait(struct h_server *s, const char *needle, int timeout_ms)
{
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 20) {
		if (h_log_count(s, needle) > 0)
			return true;
		h_sleep_ms(20);
	}
	return false;
}

SSL_CTX *
h_client_ctx(const char *cert, const char *key, const char *ca, int min_version, int max_version)
{
	SSL_CTX *ctx = NULL;
	char *cause = NULL;

	if (tls_client_ctx_new(ca != NULL ? ca : h_cert("ca.crt"), cert, key, &ctx, &cause) != 0)
		fail_msg("client context: %s", cause);
	if ((min_version != 0 || max_version != 0) &&
	    tls_client_ctx_set_versions(ctx, min_version ? min_version : TLS1_2_VERSION,
	    max_version ? max_version : TLS1_3_VERSION, &cause) != 0)
		fail_msg("client versions: %s", cause);
	return ctx;
}

struct kmip_client *
h_try_connect(struct h_server *s, SSL_CTX *ctx, SSL_SESSION *session, char *why, size_t whysize)
{
	struct kmip_client *cl = NULL;
	char *cause = NULL;

	if (kmip_client_connect(ctx, "127.0.0.1", s->port, session, h_slow(10000), &cl, &cause) != 0) {
		if (why != NULL)
			snprintf(why, whysize, "%s", cause != NULL ? cause : "?");
		free(cause);
		return NULL;
	}
	return cl;
}

struct kmip_client *
h_connect(struct h_server *s, SSL_CTX *ctx)
{
	char why[512];
	struct kmip_client *cl = h_try_connect(s, ctx, NULL, why, sizeof(why));

	if (cl == NULL)
		fail_msg("connect: %s", why);
	return cl;
}

void
h_discover_request(struct ttlv_enc *e, int major, int minor, const char *id)
{
	h_request_begin(e, major, minor, 1);
	h_item_begin_id(e, KMIP_OPERATION_DISCOVER_VERSIONS, id);
	h_item_end(e);
	h_request_end(e);
}

void
h_discover_ok(struct kmip_client *cl)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_discover_request(&req, 1, 4, "ok");
	resp = h_call(cl, &req, &a);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(1, 4));
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
}

void
h_expect_close(struct kmip_client *cl, bool reset_ok)
{
	struct ttlv_arena *a;
	struct ttlv *resp;
	char *cause = NULL;

	if (kmip_client_read(cl, &resp, &a, &cause) == 0) {
		ttlv_arena_free(a);
		fail_msg("expected the server to close the connection, got a message");
	}
	if (!kmip_client_eof(cl) && !(reset_ok && cause != NULL && strstr(cause, "reset") != NULL))
		fail_msg("expected the server to close the connection: %s", cause != NULL ? cause : "?");
	free(cause);
}

struct ttlv *
h_call(struct kmip_client *cl, const struct ttlv_enc *req, struct ttlv_arena **arena)
{
	struct ttlv *root = NULL;
	char *cause = NULL;

	if (kmip_client_call(cl, req, &root, arena, &cause) != 0)
		fail_msg("request failed: %s", cause);
	assert_int_equal(root->tag, KMIP_TAG_RESPONSE_MESSAGE);
	return root;
}

int
h_result_status(const struct ttlv *resp)
{
	const struct ttlv *t = ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_RESULT_STATUS);

	return t != NULL ? (int)t->v.u32 : -1;
}

int
h_result_reason(const struct ttlv *resp)
{
	const struct ttlv *t = ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_RESULT_REASON);

	return t != NULL ? (int)t->v.u32 : -1;
}

unsigned
h_response_version(const struct ttlv *resp)
{
	const struct ttlv *pv = ttlv_find(ttlv_find(resp, KMIP_TAG_RESPONSE_HEADER), KMIP_TAG_PROTOCOL_VERSION);
	const struct ttlv *major = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR);
	const struct ttlv *minor = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR);

	if (major == NULL || minor == NULL)
		return 0;
	return KMIP_VERSION(major->v.i32, minor->v.i32);
}

void
h_request_begin(struct ttlv_enc *e, int major, int minor, int nitems)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(major, minor));
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, nitems);
	ttlv_enc_end(e);
}

void
h_item_begin(struct ttlv_enc *e, uint32_t operation)
{
	h_item_begin_id(e, operation, NULL);
}

void
h_item_begin_id(struct ttlv_enc *e, uint32_t operation, const char *id)
{
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, operation);
	if (id != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, id, strlen(id));
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

void
h_item_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

void
h_request_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	assert_int_equal(ttlv_enc_finish(e), 0);
}

/* Opens a 1.x Attribute and writes its Attribute Name; the value and the closing are the caller's. */
static void
attr_begin(struct ttlv_enc *e, const char *name)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
}

void
h_attr_text(struct ttlv_enc *e, const char *name, const char *value)
{
	attr_begin(e, name);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

void
h_attr_enum(struct ttlv_enc *e, const char *name, uint32_t value)
{
	attr_begin(e, name);
	ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

void
h_attr_int(struct ttlv_enc *e, const char *name, int32_t value)
{
	attr_begin(e, name);
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

void
h_attr_name(struct ttlv_enc *e, const char *name)
{
	attr_begin(e, "Name");
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, name);
	ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

void
h_uid_request(struct ttlv_enc *e, uint32_t op, const char *uid, uint32_t revocation_reason)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, op);
	if (uid != NULL)
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (op == KMIP_OPERATION_REVOKE && revocation_reason != 0) {
		ttlv_enc_begin(e, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(e, KMIP_TAG_REVOCATION_REASON_CODE, revocation_reason);
		ttlv_enc_end(e);
		if (revocation_reason == KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE)
			ttlv_enc_datetime(e, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, 1);
	}
	h_item_end(e);
	h_request_end(e);
}

void
h_register_secret_request(struct ttlv_enc *e, const uint8_t *secret, size_t len)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, secret, len);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

const struct ttlv *
h_batch_item(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *b = ttlv_find(resp, KMIP_TAG_BATCH_ITEM);

	while (b != NULL && i-- > 0)
		b = ttlv_find_next(b);
	return b;
}

const struct ttlv *
h_payload(const struct ttlv *resp, unsigned i)
{
	return ttlv_find(h_batch_item(resp, i), KMIP_TAG_RESPONSE_PAYLOAD);
}

int
h_item_status(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *t = ttlv_find(h_batch_item(resp, i), KMIP_TAG_RESULT_STATUS);

	return t != NULL ? (int)t->v.u32 : -1;
}

const char *
h_payload_text(const struct ttlv *resp, uint32_t tag, char *buf, size_t size)
{
	const struct ttlv *t = ttlv_find(h_payload(resp, 0), tag);

	snprintf(buf, size, "%s", t != NULL && t->type == TTLV_TEXT_STRING ? (const char *)t->v.bytes.data : "");
	return buf;
}

void
h_expect_ok(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *msg = ttlv_find(h_batch_item(resp, i), KMIP_TAG_RESULT_MESSAGE);

	if (h_item_status(resp, i) != KMIP_RESULT_STATUS_SUCCESS && msg != NULL)
		print_error("unexpected failure: %s\n", (const char *)msg->v.bytes.data);
	assert_int_equal(h_item_status(resp, i), KMIP_RESULT_STATUS_SUCCESS);
}

void
h_expect_fail(const struct ttlv *resp, unsigned i, uint32_t reason, const char *needle)
{
	const struct ttlv *item = h_batch_item(resp, i);
	const struct ttlv *r = ttlv_find(item, KMIP_TAG_RESULT_REASON);
	const struct ttlv *msg = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);

	assert_non_null(item);
	assert_int_equal(h_item_status(resp, i), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_non_null(r);
	assert_non_null(msg);
	assert_int_equal(msg->type, TTLV_TEXT_STRING);
	if (r->v.u32 != reason || (needle != NULL && strstr((const char *)msg->v.bytes.data, needle) == NULL))
		print_error("reason 0x%x, message: %s\n", r->v.u32, (const char *)msg->v.bytes.data);
	assert_int_equal(r->v.u32, reason);
	assert_true(msg->length > 0);
	if (needle != NULL)
		assert_non_null(strstr((const char *)msg->v.bytes.data, needle));
}

void
h_restart_nowait(struct h_server *s, const char *const *overrides)
{
	assert_true(s->dir[0] != '\0');
	s->pid = 0;
	next_nowait = true;
	start(s, NULL, overrides, true);
}

/* See harness.h. */
void
h_create_aes_request(struct ttlv_enc *e, int major, int minor, int bits, const char *name)
{
	h_request_begin(e, major, minor, 1);
	h_item_begin(e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(e, "Cryptographic Length", bits);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (name != NULL)
		h_attr_name(e, name);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

/* See harness.h. */
void
h_create_ec_pair_request(struct ttlv_enc *e, const char *priv_name, const char *pub_name)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(e, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	h_attr_enum(e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
	h_attr_int(e, "Cryptographic Length", 256);
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Domain Parameters");
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_enc_enum(e, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_P_256);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	if (priv_name != NULL)
		h_attr_name(e, priv_name);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	if (pub_name != NULL)
		h_attr_name(e, pub_name);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

/* See harness.h. */
bool
h_proc_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}
