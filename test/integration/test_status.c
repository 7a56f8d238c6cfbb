/*
 * Live status, metrics and health against the real kmipd over mutual TLS: `kmipctl status` (text and
 * --json, parsed by python3) on admin.socket, the Prometheus endpoint on metrics.listen (scraped with a
 * small HTTP client here and checked by `promtool check metrics`), /ready while serving and while
 * draining, and systemd's notify protocol (READY, RELOADING, STOPPING, WATCHDOG) on a datagram socket the
 * test binds, by path and by abstract name.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

/* A TCP port free now on 127.0.0.1. */
static unsigned
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/*
 * Sends the raw HTTP request text to 127.0.0.1:port and reads the answer to EOF into buf (NUL-ended).
 * Returns the status code, 0 when the server closed without one, -1 when it could not connect.
 */
static int
http_raw(unsigned port, const char *req, size_t reqlen, char *buf, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = h_slow(10000) / 1000, .tv_usec = 0 };
	size_t len = 0, off = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), code = 0;

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	while (off < reqlen && (n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	while (len + 1 < size && (n = read(fd, buf + len, size - len - 1)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	return code;
}

/* GET path over HTTP/1.1; the body (after the blank line) in *body. Returns the status code, or -1/0. */
static int
http_get(unsigned port, const char *path, char *buf, size_t size, const char **body)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n", path);
	int code = http_raw(port, req, (size_t)n, buf, size);
	char *b = strstr(buf, "\r\n\r\n");

	*body = b != NULL ? b + 4 : "";
	return code;
}

/* The value of the sample line that starts with prefix ("name{labels} "), or -1 when absent. */
static double
sample(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);
	const char *p = text;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == text || p[-1] == '\n')
			return strtod(p + len, NULL);
		p += len;
	}
	return -1;
}

/* Writes text to path and runs `promtool check metrics` on it; its exit status (output printed on failure). */
static int
promtool_check(const char *dir, const char *text)
{
	char path[512], cmd[1200], out[4096];
	FILE *p;
	size_t n;
	int status;

	snprintf(path, sizeof(path), "%s/scrape.txt", dir);
	h_write_file(path, text);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	if (status != 0)
		print_message("promtool check metrics: %s\n", out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Sends a Get of an object that does not exist and checks that it fails. */
static void
get_missing(struct kmip_client *cl)
{
	struct ttlv_arena *a = NULL;
	struct ttlv_enc req;
	struct ttlv *resp;

	ttlv_enc_init(&req);
	h_uid_request(&req, KMIP_OPERATION_GET, "no-such-object", 0);
	resp = h_call(cl, &req, &a);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_OPERATION_FAILED);
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
}

/* Runs kmipctl with args, its stdout into the file path; returns its exit status. */
static int
kmipctl_to_file(const char *path, const char *const *args)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), status;
	pid_t pid;

	assert_true(fd >= 0);
	pid = h_start_kmipctl(NULL, fd, args);
	close(fd);
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * kmipctl status, as text and as JSON, shows counters that moved: requests and errors per operation,
 * connections, handshakes (a failed one too), the pool and the store; the socket has the configured mode
 * and the asking uid is logged.
 */
static void
test_kmipctl_status(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], out[16384], json[512], py[512], cmd[1400], needle[64];
	SSL_CTX *ctx, *nocert;
	struct kmip_client *cl;
	struct group *gr;
	struct stat st;
	int i, rc;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	/* A group other than ours, so that the change shows: "daemon" (gid 1 on Debian). */
	assert_non_null(gr = getgrnam("daemon"));
	assert_int_not_equal(gr->gr_gid, getgid());
	h_start(&s, (const char *const[]){ ov_sock, "admin.socket_mode=0640", "admin.socket_group=daemon",
	    "keygen.pool_size=2", NULL });
	/* The configured mode and group, not the default 0660 nor kmipd's umask and group. */
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_gid, gr->gr_gid);

	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	cl = h_connect(&s, ctx);
	for (i = 0; i < 3; i++)
		h_discover_ok(cl);
	get_missing(cl);
	/* A client without a certificate: one failed handshake. */
	nocert = h_client_ctx(NULL, NULL, NULL, TLS1_2_VERSION, 0);
	assert_true(h_refused(&s, nocert, NULL));

	rc = h_run_kmipctl((const char *const[]){ "status", "-S", sock, NULL }, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "kmipd: ready"));
	assert_non_null(strstr(out, "Discover Versions"));
	assert_non_null(strstr(out, "requests: 4 "));
	assert_non_null(strstr(out, "1 open"));
	assert_non_null(strstr(out, "key pairs: pool"));
	assert_non_null(strstr(out, "store: 0 objects"));
	assert_non_null(strstr(out, "certificates: server"));
	snprintf(needle, sizeof(needle), "admin: \"status\" from uid %u", (unsigned)getuid());
	assert_true(h_log_wait(&s, needle, h_slow(2000)));

	snprintf(json, sizeof(json), "%s/status.json", s.dir);
	assert_int_equal(kmipctl_to_file(json, (const char *const[]){ "status", "-S", sock, "--json", NULL }), 0);
	snprintf(py, sizeof(py), "%s/check.py", s.dir);
	h_write_file(py,
	    "import json, sys\n"
	    "j = json.load(open(sys.argv[1]))\n"
	    "ops = j['operations']\n"
	    "assert j['ready'] is True, j\n"
	    "assert ops['Discover Versions']['requests'] == 3, ops\n"
	    "assert ops['Discover Versions']['errors'] == 0, ops\n"
	    "assert ops['Get']['requests'] == 1 and ops['Get']['errors'] == 1, ops\n"
	    "assert ops['Get']['latency']['count'] == 1, ops\n"
	    "assert j['requests']['total'] == 4, j['requests']\n"
	    "assert j['requests']['latency']['count'] == 4, j['requests']\n"
	    "assert sum(j['requests']['latency']['buckets']) == 4, j['requests']\n"
	    "assert j['connections']['open'] == 1, j['connections']\n"
	    "assert j['connections']['accepted'] >= 2, j['connections']\n"
	    "assert j['handshakes']['full'] >= 1, j['handshakes']\n"
	    "assert j['handshakes']['failed']['certificate'] == 1, j['handshakes']\n"
	    "assert j['keygen']['workers'] >= 1 and j['keygen']['pool_size'] == 2, j['keygen']\n"
	    "assert j['store']['objects'] == 0 and j['store']['max_map_bytes'] > 0, j['store']\n"
	    "assert j['certificates']['server_days'] > 0, j['certificates']\n"
	    "assert j['reload']['last'] == 0, j['reload']\n");
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", py, json);
	assert_int_equal(system(cmd), 0);

	/* A reload shows in the status: its result and time. */
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload done", h_slow(5000)));
	assert_int_equal(kmipctl_to_file(json, (const char *const[]){ "status", "-S", sock, "--json", NULL }), 0);
	h_write_file(py,
	    "import json, sys\n"
	    "j = json.load(open(sys.argv[1]))\n"
	    "assert j['reload']['ok'] == 1 and j['reload']['last_ok'] is True and j['reload']['last'] > 0, j['reload']\n");
	assert_int_equal(system(cmd), 0);

	/* A request the socket does not know is answered with an error, and kmipctl exits 1 without a socket. */
	rc = h_run_kmipctl((const char *const[]){ "status", "-S", "/nonexistent/admin.sock", NULL }, out,
	    sizeof(out));
	assert_int_equal(rc, 1);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	SSL_CTX_free(nocert);
	assert_int_equal(h_stop(&s, 10000), 0);
	/* The socket file goes with the server. */
	assert_int_not_equal(stat(sock, &st), 0);
	h_cleanup(&s);
}

/*
 * The metrics endpoint: a scrape passes promtool check metrics, its counters move with requests, the
 * latency histograms are per operation, and what it does not serve it refuses.
 */
static void
test_metrics_scrape(void **state)
{
	static char buf[262144], first[262144];
	struct h_server s = { 0 };
	char ov[64], big[20000];
	const char *body;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	unsigned port = free_port();
	int i, n;

	(void)state;
	snprintf(ov, sizeof(ov), "metrics.listen=127.0.0.1:%u", port);
	h_start(&s, (const char *const[]){ ov, "keygen.pool_size=2", NULL });
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	cl = h_connect(&s, ctx);
	h_discover_ok(cl);

	assert_int_equal(http_get(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	snprintf(first, sizeof(first), "%s", body);
	assert_int_equal(promtool_check(s.dir, first), 0);
	assert_true(sample(first, "kmipd_operations_total{operation=\"DiscoverVersions\"} ") == 1);
	assert_true(sample(first, "kmipd_requests_total ") == 1);
	assert_true(sample(first, "kmipd_connections_open ") == 1);
	assert_true(sample(first, "kmipd_ready ") == 1);
	assert_non_null(strstr(first, "# TYPE kmipd_operation_duration_seconds histogram"));
	assert_true(sample(first, "kmipd_operation_duration_seconds_count{operation=\"DiscoverVersions\"} ") == 1);
	assert_true(sample(first, "kmipd_operation_duration_seconds_bucket{operation=\"DiscoverVersions\","
	    "le=\"+Inf\"} ") == 1);
	assert_true(sample(first, "kmipd_keygen_pool_size ") == 2);

	for (i = 0; i < 4; i++)
		h_discover_ok(cl);
	get_missing(cl);
	assert_int_equal(http_get(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_int_equal(promtool_check(s.dir, body), 0);
	assert_true(sample(body, "kmipd_operations_total{operation=\"DiscoverVersions\"} ") == 5);
	assert_true(sample(body, "kmipd_operations_total{operation=\"Get\"} ") == 1);
	assert_true(sample(body, "kmipd_operation_errors_total{operation=\"Get\"} ") == 1);
	assert_true(sample(body, "kmipd_operation_errors_total{operation=\"DiscoverVersions\"} ") == 0);
	assert_true(sample(body, "kmipd_requests_total ") == 6);
	assert_true(sample(body, "kmipd_request_duration_seconds_count ") == 6);

	/* Only GET /metrics and /ready; no bodies, no huge headers. */
	assert_int_equal(http_get(port, "/nothing", buf, sizeof(buf), &body), 404);
	n = snprintf(big, sizeof(big), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	assert_int_equal(http_raw(port, big, (size_t)n, buf, sizeof(buf)) / 100, 4);
	n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 5);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 4);
	big[sizeof(big) - 1] = '\0';
	i = http_raw(port, big, sizeof(big) - 1, buf, sizeof(buf));
	assert_true(i == 0 || i / 100 == 4);
	/* Still serving after all that. */
	assert_int_equal(http_get(port, "/ready", buf, sizeof(buf), &body), 200);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

/* /ready is 200 while serving, 503 once a stop is draining a busy connection. */
static void
test_ready_draining(void **state)
{
	static const uint8_t partial[8] = { 0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x01, 0x00 };
	struct h_server s = { 0 };
	char ov[64], buf[4096];
	const char *body;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	unsigned port = free_port();
	char *cause = NULL;
	int i, code = 0;

	(void)state;
	snprintf(ov, sizeof(ov), "metrics.listen=127.0.0.1:%u", port);
	h_start(&s, (const char *const[]){ ov, "server.shutdown_timeout=30", NULL });
	assert_int_equal(http_get(port, "/ready", buf, sizeof(buf), &body), 200);
	assert_string_equal(body, "ready\n");
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	cl = h_connect(&s, ctx);
	h_discover_ok(cl);
	/* The start of a request: the connection is busy, so a stop waits for it. */
	assert_int_equal(kmip_client_write(cl, partial, sizeof(partial), &cause), 0);
	h_sleep_ms(h_slow(200));
	h_signal(&s, SIGTERM);
	assert_true(h_log_wait(&s, "stopping", h_slow(5000)));
	for (i = 0; i < 50 && code != 503; i++) {
		code = http_get(port, "/ready", buf, sizeof(buf), &body);
		if (code != 503)
			h_sleep_ms(100);
	}
	assert_int_equal(code, 503);
	assert_non_null(strstr(body, "draining"));
	/* The metrics say so too. */
	assert_int_equal(http_get(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_true(sample(body, "kmipd_ready ") == 0);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	assert_int_equal(h_wait_exit(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/* Binds a datagram socket at path, or at the abstract name path+1 when path starts with '@'. */
static int
notify_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(len < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '@' ? 0 : 1))), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * Waits up to ms for a datagram holding want (other messages are skipped, WATCHDOG=1 among them unless
 * asked for); the message in msg. True when it came.
 */
static bool
notify_wait(int fd, const char *want, int ms, char *msg, size_t size)
{
	struct timespec t0, t;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = recv(fd, msg, size - 1, 0);
		if (n > 0) {
			msg[n] = '\0';
			if (strstr(msg, want) != NULL)
				return true;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return false;
	}
}

/* READY=1 once serving, RELOADING=1 (with MONOTONIC_USEC) then READY=1 at SIGHUP, STOPPING=1 at SIGTERM. */
static void
test_notify(void **state)
{
	struct h_server s = { 0 };
	char path[400], env[440], msg[512];
	int fd;

	(void)state;
	h_make_dir(&s);
	snprintf(path, sizeof(path), "%s/notify.sock", s.dir);
	fd = notify_bind(path);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", path);
	h_start_env(&s, NULL, (const char *const[]){ env, NULL });
	assert_true(notify_wait(fd, "READY=1", h_slow(5000), msg, sizeof(msg)));
	assert_non_null(strstr(msg, "MAINPID="));
	h_signal(&s, SIGHUP);
	assert_true(notify_wait(fd, "RELOADING=1", h_slow(5000), msg, sizeof(msg)));
	assert_non_null(strstr(msg, "MONOTONIC_USEC="));
	assert_true(strtoll(strstr(msg, "MONOTONIC_USEC=") + 15, NULL, 10) > 0);
	assert_true(notify_wait(fd, "READY=1", h_slow(5000), msg, sizeof(msg)));
	h_signal(&s, SIGTERM);
	assert_true(notify_wait(fd, "STOPPING=1", h_slow(5000), msg, sizeof(msg)));
	assert_int_equal(h_wait_exit(&s, h_slow(10000)), 0);
	close(fd);
	h_cleanup(&s);
}

/* With WATCHDOG_USEC, WATCHDOG=1 comes every half of it; an abstract '@' NOTIFY_SOCKET works too. */
static void
test_notify_watchdog(void **state)
{
	struct h_server s = { 0 };
	char path[64], env[100], msg[512];
	struct timespec t0, t;
	int fd, beats = 0;
	long ms;

	(void)state;
	snprintf(path, sizeof(path), "@kmipd-test-notify-%ld", (long)getpid());
	fd = notify_bind(path);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", path);
	h_start_env(&s, NULL, (const char *const[]){ env, "WATCHDOG_USEC=400000", NULL });
	assert_true(notify_wait(fd, "READY=1", h_slow(5000), msg, sizeof(msg)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (beats < 3 && notify_wait(fd, "WATCHDOG=1", h_slow(3000), msg, sizeof(msg)))
		beats++;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	print_message("3 WATCHDOG=1 in %ld ms (WATCHDOG_USEC 400000)\n", ms);
	assert_int_equal(beats, 3);
	/* About 200 ms apart: three within a generous ceiling. */
	assert_true(ms < h_slow(3000));
	assert_int_equal(h_stop(&s, 10000), 0);
	close(fd);
	h_cleanup(&s);
}

/* Connects to the Unix socket at path; the descriptor (receive timeout 10 s), or -1. */
static int
unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = h_slow(10000) / 1000, .tv_usec = 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends text (may be NULL) on fd and reads the answer to EOF into buf; returns the bytes read, -1 on a timeout. */
static ssize_t
ask(int fd, const char *text, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	/* A connection kmipd refused may already be closed: the read below tells. */
	if (text != NULL && write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		assert_true(errno == EPIPE || errno == ECONNRESET);
	while (len + 1 < size && (n = read(fd, buf + len, size - len - 1)) != 0) {
		if (n < 0)
			return errno == ECONNRESET ? (ssize_t)len : -1;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/*
 * What a local client can make the administration socket and the metrics listener spend: requests are
 * one short line, connections beyond admin.max_connections are closed at once, idle ones after
 * admin.timeout / metrics.timeout, and both go on answering.
 */
static void
test_listener_bounds(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], ov_metrics[64], buf[8192], line[200];
	const char *body;
	unsigned port = free_port();
	int idle[6], extra, fd, fds, i;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	snprintf(ov_metrics, sizeof(ov_metrics), "metrics.listen=127.0.0.1:%u", port);
	h_start(&s, (const char *const[]){ ov_sock, ov_metrics, "admin.max_connections=2", "admin.timeout=1",
	    "metrics.timeout=1", "metrics.max_connections=2", NULL });

	assert_true((fd = unix_connect(sock)) >= 0);
	assert_true(ask(fd, "bogus\n", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "error: unknown request"));
	close(fd);
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_true(ask(fd, line, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "error: request longer than 64 bytes"));
	close(fd);

	/* Two idle connections hold admin.max_connections: a third is closed at once, unanswered. */
	for (i = 0; i < 2; i++)
		assert_true((idle[i] = unix_connect(sock)) >= 0);
	h_sleep_ms(h_slow(100));
	assert_true((extra = unix_connect(sock)) >= 0);
	assert_int_equal(ask(extra, "status\n", buf, sizeof(buf)), 0);
	close(extra);
	assert_true(h_log_wait(&s, "refused: admin.max_connections (2) open", h_slow(2000)));
	/* admin.timeout closes the idle ones, and the socket answers again. */
	for (i = 0; i < 2; i++) {
		assert_int_equal(ask(idle[i], NULL, buf, sizeof(buf)), 0);
		close(idle[i]);
	}
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_true(ask(fd, "status\n", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "kmipd: ready"));
	close(fd);

	/*
	 * Six idle HTTP connections: kmipd takes metrics.max_connections (2) of them, the others wait in the
	 * kernel; each is closed after metrics.timeout, and the listener keeps answering.
	 */
	fds = h_count_fds(&s);
	assert_true(fds > 0);
	for (i = 0; i < 6; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { .tv_sec = h_slow(10000) / 1000, .tv_usec = 0 };

		assert_true((idle[i] = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		assert_int_equal(connect(idle[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		(void)setsockopt(idle[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	h_sleep_ms(h_slow(300));
	print_message("server descriptors: %d before, %d with 6 idle HTTP connections\n", fds, h_count_fds(&s));
	assert_true(h_count_fds(&s) <= fds + 2);
	for (i = 0; i < 6; i++) {
		assert_true(ask(idle[i], NULL, buf, sizeof(buf)) >= 0);
		close(idle[i]);
	}
	assert_int_equal(http_get(port, "/ready", buf, sizeof(buf), &body), 200);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

/*
 * admin.socket in use by a running kmipd is not taken over (a second kmipd refuses to start); one left by
 * a kmipd that was killed is replaced at the next start.
 */
static void
test_admin_socket_in_use(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], o_port[32], o_store[420], o_key[420], o_cert[400], o_skey[400], o_ca[400];
	char out[8192];
	struct stat st;
	int rc, fd;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	h_start(&s, (const char *const[]){ ov_sock, NULL });
	snprintf(o_port, sizeof(o_port), "server.port=%u", free_port());
	snprintf(o_store, sizeof(o_store), "store.path=%s/store2", s.dir);
	snprintf(o_key, sizeof(o_key), "store.master_key_file=%s", h_master_key(&s));
	snprintf(o_cert, sizeof(o_cert), "tls.cert_file=%s", h_cert("server.crt"));
	snprintf(o_skey, sizeof(o_skey), "tls.key_file=%s", h_cert("server.key"));
	snprintf(o_ca, sizeof(o_ca), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	rc = h_run_kmipd((const char *const[]){ "-f", "-o", "server.listen=127.0.0.1", "-o", o_port, "-o", o_store,
	    "-o", o_key, "-o", o_cert, "-o", o_skey, "-o", o_ca, "-o", ov_sock, NULL }, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "another process answers on it"));
	/* The first one still answers on it. */
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_true(ask(fd, "status\n", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "kmipd: ready"));
	close(fd);

	/* Killed: the socket file stays behind, and the next start replaces it. */
	h_signal(&s, SIGKILL);
	assert_int_equal(h_wait_exit(&s, h_slow(5000)), 128 + SIGKILL);
	assert_int_equal(stat(sock, &st), 0);
	h_restart(&s, (const char *const[]){ ov_sock, NULL });
	assert_true((fd = unix_connect(sock)) >= 0);
	assert_true(ask(fd, "status\n", out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "kmipd: ready"));
	close(fd);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

/* A reload that fails shows in the status as failed, with why, and in the metrics. */
static void
test_reload_failure_shown(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], path[400], out[16384], ov_metrics[64], buf[65536];
	const char *body;
	unsigned port = free_port();
	int rc;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	snprintf(ov_metrics, sizeof(ov_metrics), "metrics.listen=127.0.0.1:%u", port);
	h_start_config(&s, "log: { level = \"info\"; };\n", (const char *const[]){ ov_sock, ov_metrics, NULL });
	snprintf(path, sizeof(path), "%s/kmipd.conf", s.dir);
	h_write_file(path, "log: { level = \"loud\"; };\n");
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload failed", h_slow(5000)));
	rc = h_run_kmipctl((const char *const[]){ "status", "-S", sock, NULL }, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "last reload: FAILED at "));
	assert_non_null(strstr(out, "log.level"));
	assert_non_null(strstr(out, "(0 ok, 1 failed)"));
	assert_int_equal(http_get(port, "/metrics", buf, sizeof(buf), &body), 200);
	assert_true(sample(body, "kmipd_reloads_total{result=\"failed\"} ") == 1);
	assert_true(sample(body, "kmipd_last_reload_success ") == 0);
	assert_true(sample(body, "kmipd_last_reload_timestamp_seconds ") > 0);
	/* Still serving on the running configuration. */
	assert_int_equal(http_get(port, "/ready", buf, sizeof(buf), &body), 200);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kmipctl_status),
		cmocka_unit_test(test_metrics_scrape),
		cmocka_unit_test(test_ready_draining),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_notify_watchdog),
		cmocka_unit_test(test_listener_bounds),
		cmocka_unit_test(test_admin_socket_in_use),
		cmocka_unit_test(test_reload_failure_shown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
