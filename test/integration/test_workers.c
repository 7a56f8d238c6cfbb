/*
 * server.workers = 2 against the real kmipd over mutual TLS: a master and two worker processes serving
 * one listening socket. Requests from many connections are answered and counted by kmipctl status (the
 * workers' figures summed, and a row each) and /metrics (checked by promtool); a worker SIGKILLed in the
 * middle of writes is replaced and every acknowledged object is still there; SIGHUP applies in every
 * worker or in none; SIGTERM leaves no process behind; a worker whose loop stops is killed and replaced.
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
#include <pwd.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define CONNS		12	/* connections of the counting test */
#define WRITERS		6	/* connections writing during the SIGKILL test */
#define BURST		8	/* pipelined Registers per writer per turn */
#define MAX_ACKED	20000
#define SECRET_LEN	24

struct acked {
	char uid[64];
	uint8_t secret[SECRET_LEN];
};

static struct acked acked[MAX_ACKED];
static size_t nacked;

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

/* GET path from 127.0.0.1:port; the whole answer in buf. Returns the HTTP status, or -1. */
static int
http_get(unsigned port, const char *path, char *buf, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = h_slow(10000) / 1000, .tv_usec = 0 };
	char req[256];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), code = -1, rl;

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	assert_int_equal(send(fd, req, (size_t)rl, MSG_NOSIGNAL), rl);
	while (len + 1 < size && (n = read(fd, buf + len, size - len - 1)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = -1;
	return code;
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
 * Asks `kmipctl status --json` on sock until the python3 expression check (over the parsed JSON `j`) holds,
 * at most timeout_ms (the workers publish their figures every second). Returns true when it did.
 */
static bool
status_until(struct h_server *s, const char *sock, const char *check, int timeout_ms)
{
	char json[400], py[400], cmd[1400];
	int waited;

	snprintf(json, sizeof(json), "%s/status.json", s->dir);
	snprintf(py, sizeof(py), "%s/check.py", s->dir);
	h_write_file(py, "");
	{
		FILE *f = fopen(py, "w");

		assert_non_null(f);
		fprintf(f, "import json, sys\nj = json.load(open(sys.argv[1]))\nsys.exit(0 if (%s) else 1)\n", check);
		assert_int_equal(fclose(f), 0);
	}
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", py, json);
	for (waited = 0; waited <= timeout_ms; waited += 200) {
		if (kmipctl_to_file(json, (const char *const[]){ "status", "-S", sock, "--json", NULL }) == 0 &&
		    system(cmd) == 0)
			return true;
		h_sleep_ms(200);
	}
	snprintf(cmd, sizeof(cmd), "cat '%s'", json);
	print_message("last status (wanted %s):\n", check);
	(void)system(cmd);
	return false;
}

/* The pids of the master's worker processes (its children), sorted; fails unless there are n. */
static void
worker_pids(struct h_server *s, pid_t *pids, size_t n)
{
	pid_t found[16];
	size_t k, i, j;

	k = h_children(s, found, 16);
	if (k != n)
		fail_msg("the master has %zu children, not %zu workers", k, n);
	for (i = 0; i < k; i++)
		for (j = i + 1; j < k; j++)
			if (found[j] < found[i]) {
				pid_t t = found[i];

				found[i] = found[j];
				found[j] = t;
			}
	memcpy(pids, found, n * sizeof(*pids));
}

/*
 * 1. Two workers serve requests from many connections, and kmipctl status (and /metrics, clean under
 * promtool) shows two workers whose request counts add up to what was sent.
 */
static void
test_two_workers_count(void **state)
{
	struct h_server s = { 0 };
	struct kmip_client *cl[CONNS];
	char sock[400], ov_sock[440], ov_metrics[64], check[600], buf[65536], path[400], cmd[900];
	unsigned mport = free_port();
	SSL_CTX *ctx;
	pid_t pids[2];
	int i, j, sent = 0;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	snprintf(ov_metrics, sizeof(ov_metrics), "metrics.listen=127.0.0.1:%u", mport);
	/* keygen.workers 2 and pool_size 3 for the whole server: 1 + 1 generators, pools of 2 + 1. */
	h_start(&s, (const char *const[]){ "server.workers=2", ov_sock, ov_metrics, "keygen.workers=2",
	    "keygen.pool_size=3", NULL });
	worker_pids(&s, pids, 2);
	assert_int_not_equal(pids[0], pids[1]);
	/* One key generation process each: the split of keygen.workers = 2. */
	for (i = 0; i < 2; i++) {
		struct h_server w = { .pid = pids[i] };
		pid_t gen[8];

		assert_int_equal(h_children(&w, gen, 8), 1);
	}
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	for (i = 0; i < CONNS; i++)
		cl[i] = h_connect(&s, ctx);
	for (j = 0; j < 3; j++)
		for (i = 0; i < CONNS; i++) {
			h_discover_ok(cl[i]);
			sent++;
		}
	snprintf(check, sizeof(check),
	    "len(j['workers']) == 2 and all(w['state'] == 'serving' for w in j['workers']) and "
	    "sorted(w['pid'] for w in j['workers']) == [%ld, %ld] and j['master_pid'] == %ld and "
	    "sum(w['requests'] for w in j['workers']) == %d and j['requests']['total'] == %d and "
	    "j['operations']['Discover Versions']['requests'] == %d and "
	    "sum(w['connections_open'] for w in j['workers']) == %d and j['connections']['open'] == %d and "
	    "j['ready'] is True and j['keygen']['workers'] == 2 and j['keygen']['pool_size'] == 3",
	    (long)pids[0], (long)pids[1], (long)s.pid, sent, sent, sent, CONNS, CONNS);
	assert_true(status_until(&s, sock, check, h_slow(10000)));
	/* The text form has a line per worker. */
	assert_int_equal(h_run_kmipctl((const char *const[]){ "status", "-S", sock, NULL }, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "worker 0: pid"));
	assert_non_null(strstr(buf, "worker 1: pid"));
	/* /metrics from the master: the sums, a worker label on the per-worker rows, and promtool content. */
	assert_int_equal(http_get(mport, "/metrics", buf, sizeof(buf)), 200);
	assert_non_null(strstr(buf, "kmipd_worker_up{worker=\"0\"} 1"));
	assert_non_null(strstr(buf, "kmipd_worker_up{worker=\"1\"} 1"));
	snprintf(cmd, sizeof(cmd), "kmipd_requests_total %d\n", sent);
	assert_non_null(strstr(buf, cmd));
	snprintf(path, sizeof(path), "%s/scrape.txt", s.dir);
	h_write_file(path, strstr(buf, "\r\n\r\n") + 4);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(http_get(mport, "/ready", buf, sizeof(buf)), 200);
	for (i = 0; i < CONNS; i++)
		kmip_client_close(cl[i]);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/* Registers a burst on cl and reads the answers, recording each acknowledged object. False once cl fails. */
static bool
write_burst(struct kmip_client *cl)
{
	uint8_t pending[BURST][SECRET_LEN];
	uint8_t *all = NULL;
	size_t len = 0;
	char *cause = NULL;
	int j;

	for (j = 0; j < BURST; j++) {
		struct ttlv_enc e;

		for (size_t b = 0; b < SECRET_LEN; b++)
			pending[j][b] = (uint8_t)rand();
		h_register_secret_request(&e, pending[j], SECRET_LEN);
		assert_non_null(all = realloc(all, len + e.len));
		memcpy(all + len, e.buf, e.len);
		len += e.len;
		ttlv_enc_free(&e);
	}
	if (kmip_client_write(cl, all, len, &cause) != 0) {
		free(cause);
		free(all);
		return false;
	}
	free(all);
	for (j = 0; j < BURST; j++) {
		struct ttlv_arena *a;
		struct ttlv *resp;
		char uid[64];

		if (kmip_client_read(cl, &resp, &a, &cause) != 0) {
			free(cause);
			return false;
		}
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
		assert_true(uid[0] != '\0' && nacked < MAX_ACKED);
		snprintf(acked[nacked].uid, sizeof(acked[nacked].uid), "%s", uid);
		memcpy(acked[nacked].secret, pending[j], SECRET_LEN);
		nacked++;
		ttlv_arena_free(a);
	}
	return true;
}

/* True when acknowledged object i is on cl with its exact bytes. */
static bool
get_acked(struct kmip_client *cl, size_t i)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	bool found;

	h_uid_request(&e, KMIP_OPERATION_GET, acked[i].uid, 0);
	resp = h_call(cl, &e, &a);
	found = h_item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS;
	if (found) {
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA),
		    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		assert_non_null(m);
		assert_int_equal(m->length, SECRET_LEN);
		if (memcmp(m->v.bytes.data, acked[i].secret, SECRET_LEN) != 0)
			fail_msg("object %s holds another object's bytes", acked[i].uid);
	}
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
	return found;
}

/*
 * 2. A worker SIGKILLed while its connections write: it is logged and replaced, every acknowledged object
 * (from both workers' connections) is there afterwards, and new connections are served.
 */
static void
test_worker_sigkill_mid_load(void **state)
{
	struct h_server s = { 0 };
	struct kmip_client *cl[WRITERS];
	bool alive[WRITERS];
	char sock[400], ov_sock[440], check[400], needle[128], jpath[400], buf[8192];
	SSL_CTX *ctx;
	pid_t pids[2], victim, after[2];
	int i, round, dead = 0, victim_index = -1;
	size_t k;
	FILE *f;

	(void)state;
	srand((unsigned)time(NULL));
	nacked = 0;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	h_start(&s, (const char *const[]){ "server.workers=2", ov_sock, "keygen.pool_size=0", "log.level=info",
	    NULL });
	worker_pids(&s, pids, 2);
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	for (i = 0; i < WRITERS; i++) {
		cl[i] = h_connect(&s, ctx);
		alive[i] = true;
		assert_true(write_burst(cl[i]));
	}
	/* The victim: the worker holding the most of the writers' connections, so the kill cuts some of them. */
	snprintf(check, sizeof(check), "sum(w['connections_open'] for w in j['workers']) == %d", WRITERS);
	assert_true(status_until(&s, sock, check, h_slow(10000)));
	snprintf(jpath, sizeof(jpath), "%s/status.json", s.dir);
	assert_non_null(f = fopen(jpath, "r"));
	k = fread(buf, 1, sizeof(buf) - 1, f);
	buf[k] = '\0';
	fclose(f);
	{
		/* "index":N,"pid":P,...,"connections_open":C for each worker, in order. */
		const char *p = strstr(buf, "\"workers\":[");
		unsigned most = 0;

		assert_non_null(p);
		for (i = 0; i < 2; i++) {
			const char *c = strstr(p, "\"connections_open\":");
			unsigned n;

			assert_non_null(c);
			n = (unsigned)strtoul(c + 19, NULL, 10);
			if (victim_index < 0 || n > most) {
				most = n;
				victim_index = i;
			}
			p = c + 19;
		}
	}
	{
		const char *p = strstr(buf, "\"workers\":[");
		int idx = 0;

		while ((p = strstr(p, "\"pid\":")) != NULL && idx < victim_index) {
			p += 6;
			idx++;
		}
		assert_non_null(p);
		victim = (pid_t)strtol(p + 6, NULL, 10);
	}
	assert_true(victim == pids[0] || victim == pids[1]);
	print_message("killing worker %d (pid %ld) in the middle of the writes\n", victim_index, (long)victim);
	/* Writes on every connection, the kill between two turns of them, then more turns on the survivors. */
	for (round = 0; round < 12; round++) {
		if (round == 4)
			assert_int_equal(kill(victim, SIGKILL), 0);
		for (i = 0; i < WRITERS; i++)
			if (alive[i] && !write_burst(cl[i])) {
				alive[i] = false;
				dead++;
			}
	}
	print_message("%zu writes acknowledged; %d of %d connections cut by the kill\n", nacked, dead, WRITERS);
	assert_true(dead > 0);
	snprintf(needle, sizeof(needle), "(pid %ld) was killed by signal 9", (long)victim);
	assert_true(h_log_wait(&s, needle, h_slow(10000)));
	/* Replaced: two serving workers again, one of them new, with a restart counted for its slot. */
	/* The writes reached the store through both workers: their writer-lock takes are summed too. */
	snprintf(check, sizeof(check), "len(j['workers']) == 2 and all(w['state'] == 'serving' for w in j['workers'])"
	    " and %ld not in [w['pid'] for w in j['workers']] and sum(w['restarts'] for w in j['workers']) == 1"
	    " and j['store']['write_lock']['taken'] >= 1 and j['store']['write_lock']['waits'] >= 0",
	    (long)victim);
	assert_true(status_until(&s, sock, check, h_slow(15000)));
	worker_pids(&s, after, 2);
	assert_true(after[0] != victim && after[1] != victim);
	for (i = 0; i < WRITERS; i++)
		kmip_client_close(cl[i]);
	/* Every acknowledged object, read on new connections (served by whichever worker takes them). */
	for (i = 0; i < 4; i++) {
		struct kmip_client *c = h_connect(&s, ctx);

		for (k = (size_t)i; k < nacked; k += 4)
			if (!get_acked(c, k))
				fail_msg("acknowledged object %s is missing after its worker was killed", acked[k].uid);
		kmip_client_close(c);
	}
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/*
 * Sends a request of two Discover Versions items on each of n new connections (open at once, so both
 * workers take some) and returns how many were refused whole (server.max_batch_items below 2).
 */
static int
two_item_refusals(struct h_server *s, SSL_CTX *ctx, int n)
{
	struct kmip_client *cl[8];
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	int i, refused = 0;

	assert_true(n <= 8);
	for (i = 0; i < n; i++)
		cl[i] = h_connect(s, ctx);
	for (i = 0; i < n; i++) {
		h_request_begin(&e, 1, 4, 2);
		h_item_begin(&e, KMIP_OPERATION_DISCOVER_VERSIONS);
		h_item_end(&e);
		h_item_begin(&e, KMIP_OPERATION_DISCOVER_VERSIONS);
		h_item_end(&e);
		h_request_end(&e);
		resp = h_call(cl[i], &e, &a);
		if (h_result_status(resp) != KMIP_RESULT_STATUS_SUCCESS) {
			assert_int_equal(h_result_reason(resp), KMIP_RESULT_REASON_INVALID_MESSAGE);
			refused++;
		}
		ttlv_arena_free(a);
		ttlv_enc_free(&e);
	}
	for (i = 0; i < n; i++)
		kmip_client_close(cl[i]);
	return refused;
}

/*
 * 3. SIGHUP with two workers: a good reload (server.max_batch_items 1) is applied by both (each counts it,
 * and no connection gets two items through); one that also sets it back to 64 but whose access policy
 * names a role that does not exist is applied by neither, and the status says why.
 */
static void
test_reload_all_or_none(void **state)
{
	struct h_server s = { 0 };
	char sock[400], conf[400], text[2048], check[600];
	SSL_CTX *ctx;
	const char *base =
	    "server: { workers = 2; };\n"
	    "keygen: { pool_size = 0; };\n";

	(void)state;
	/* h_start_config makes the server's folder: the socket, named in the file, lives outside it. */
	snprintf(sock, sizeof(sock), "/tmp/kmipd-workers-%ld.sock", (long)getpid());
	snprintf(text, sizeof(text), "%sadmin: { socket = \"%s\"; };\n", base, sock);
	h_start_config(&s, text, NULL);
	snprintf(conf, sizeof(conf), "%s/kmipd.conf", s.dir);
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	assert_int_equal(two_item_refusals(&s, ctx, 8), 0);

	/* A good one: both workers apply it. */
	snprintf(text, sizeof(text), "server: { workers = 2; max_batch_items = 1; };\nkeygen: { pool_size = 0; };\n"
	    "admin: { socket = \"%s\"; };\n", sock);
	h_write_file(conf, text);
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload done in every worker", h_slow(10000)));
	snprintf(check, sizeof(check), "[w['reloads'] for w in j['workers']] == [{'ok': 1, 'failed': 0}] * 2 and "
	    "j['reload']['ok'] == 1 and j['reload']['last_ok'] is True");
	assert_true(status_until(&s, sock, check, h_slow(10000)));
	assert_int_equal(two_item_refusals(&s, ctx, 8), 8);

	/* A bad one: a grant naming no role. The master loads it; the workers' access policies refuse it. */
	snprintf(text, sizeof(text), "%sadmin: { socket = \"%s\"; };\n"
	    "access: { grants = [ \"nosuchrole:identity:client\" ]; };\n", base, sock);
	h_write_file(conf, text);
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload failed, keeping the running configuration in every worker",
	    h_slow(10000)));
	snprintf(check, sizeof(check), "[w['reloads'] for w in j['workers']] == [{'ok': 1, 'failed': 1}] * 2 and "
	    "j['reload']['ok'] == 1 and j['reload']['failed'] == 1 and j['reload']['last_ok'] is False and "
	    "'nosuchrole' in j['reload']['last_error']");
	assert_true(status_until(&s, sock, check, h_slow(10000)));
	/* Neither applied it: max_batch_items is still 1 everywhere. */
	assert_int_equal(two_item_refusals(&s, ctx, 8), 8);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/* 4. SIGTERM: the master and both workers (and their key generators) exit, status 0, nothing left behind. */
static void
test_sigterm_exits_all(void **state)
{
	struct h_server s = { 0 };
	pid_t pids[2], gen[16], all[20];
	size_t ngen = 0, nall = 0, i;
	struct h_server child = { 0 };
	SSL_CTX *ctx;
	struct kmip_client *cl;
	int waited;

	(void)state;
	h_start(&s, (const char *const[]){ "server.workers=2", "keygen.pool_size=0", "keygen.workers=2", NULL });
	worker_pids(&s, pids, 2);
	/* Each worker's key generation process (keygen.workers = 2: one each). */
	for (i = 0; i < 2; i++) {
		child.pid = pids[i];
		ngen += h_children(&child, gen + ngen, 16 - ngen);
	}
	assert_true(ngen >= 2);
	all[nall++] = s.pid;
	for (i = 0; i < 2; i++)
		all[nall++] = pids[i];
	for (i = 0; i < ngen; i++)
		all[nall++] = gen[i];
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	cl = h_connect(&s, ctx);
	h_discover_ok(cl);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(15000)), 0);
	assert_true(h_log_count(&s, "master: every worker has stopped") == 1);
	for (waited = 0; waited < h_slow(5000); waited += 50) {
		for (i = 0; i < nall && !h_proc_alive(all[i]); i++)
			;
		if (i == nall)
			break;
		h_sleep_ms(50);
	}
	for (i = 0; i < nall; i++)
		if (h_proc_alive(all[i]))
			fail_msg("process %ld is still running after the master exited", (long)all[i]);
	h_cleanup(&s);
}

/*
 * 5. A worker whose loop stops (SIGSTOP) is seen by its heartbeat: past server.worker_heartbeat_timeout the
 * master logs why, kills it and starts another, and new connections are served by two workers again.
 */
static void
test_stalled_worker_replaced(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], check[400], needle[128];
	SSL_CTX *ctx;
	struct kmip_client *cl;
	pid_t pids[2], after[2];
	int i;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	h_start(&s, (const char *const[]){ "server.workers=2", ov_sock, "keygen.pool_size=0",
	    "server.worker_heartbeat_timeout=3", NULL });
	worker_pids(&s, pids, 2);
	assert_int_equal(kill(pids[1], SIGSTOP), 0);
	snprintf(needle, sizeof(needle), "(pid %ld): no heartbeat for", (long)pids[1]);
	assert_true(h_log_wait(&s, needle, h_slow(15000)));
	snprintf(needle, sizeof(needle), "(pid %ld) was killed by signal 9", (long)pids[1]);
	assert_true(h_log_wait(&s, needle, h_slow(10000)));
	snprintf(check, sizeof(check), "all(w['state'] == 'serving' for w in j['workers']) and "
	    "%ld not in [w['pid'] for w in j['workers']] and j['workers'][1]['restarts'] == 1 and "
	    "j['workers'][0]['pid'] == %ld", (long)pids[1], (long)pids[0]);
	assert_true(status_until(&s, sock, check, h_slow(10000)));
	worker_pids(&s, after, 2);
	assert_true(after[0] != pids[1] && after[1] != pids[1]);
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	for (i = 0; i < 4; i++) {
		cl = h_connect(&s, ctx);
		h_discover_ok(cl);
		kmip_client_close(cl);
	}
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/*
 * 6. A worker that cannot start again (its certificate file is gone) is retried with back-off, never in a
 * fork loop: a few attempts in several seconds, each logged; once the file is back, the next one serves.
 */
static void
test_restart_backoff(void **state)
{
	struct h_server s = { 0 };
	char sock[400], ov_sock[440], ov_cert[440], cert[400], check[300], needle[128];
	pid_t pids[2];
	int forks;

	(void)state;
	h_make_dir(&s);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s.dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	snprintf(cert, sizeof(cert), "%s/server.crt", s.dir);
	h_copy_file(h_cert("server.crt"), cert);
	snprintf(ov_cert, sizeof(ov_cert), "tls.cert_file=%s", cert);
	h_start(&s, (const char *const[]){ "server.workers=2", ov_sock, ov_cert, "keygen.pool_size=0", NULL });
	worker_pids(&s, pids, 2);
	assert_int_equal(unlink(cert), 0);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	assert_true(h_log_wait(&s, "worker 0 died 2 times in a row", h_slow(15000)));
	h_sleep_ms(3000);
	/* 1 s, 2 s, 4 s... between attempts: a handful in these seconds, not hundreds. */
	forks = h_log_count(&s, "worker 0: forked");
	print_message("%d forks of worker 0 (the first included)\n", forks);
	assert_true(forks >= 3 && forks <= 6);
	assert_true(h_log_count(&s, "worker 0 (pid") >= 2);
	snprintf(needle, sizeof(needle), "could not start");
	assert_true(h_log_count(&s, needle) >= 2);
	h_copy_file(h_cert("server.crt"), cert);
	snprintf(check, sizeof(check), "all(w['state'] == 'serving' for w in j['workers']) and "
	    "j['workers'][0]['restarts'] >= 2 and j['workers'][1]['pid'] == %ld", (long)pids[1]);
	assert_true(status_until(&s, sock, check, h_slow(20000)));
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/* Registers n random secrets on a connection of its own (records for the re-encryption to go through). */
static void
register_some(struct h_server *s, SSL_CTX *ctx, int n)
{
	struct kmip_client *cl = h_connect(s, ctx);
	int i;

	for (i = 0; i < n; i += BURST)
		assert_true(write_burst(cl));
	kmip_client_close(cl);
}

/*
 * 7. A data key rotation with two workers: both take the new keyring at SIGHUP, worker 0 alone re-encrypts
 * the records in the background, and every object reads back afterwards.
 */
static void
test_reseal_in_worker_zero(void **state)
{
	struct h_server s = { 0 };
	char extra[600], out[4096];
	const char *config;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	size_t k;

	(void)state;
	nacked = 0;
	h_start(&s, (const char *const[]){ "server.workers=2", "keygen.pool_size=0", "log.level=info",
	    "store.reseal_batch=4", NULL });
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	register_some(&s, ctx, 64);
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", h_master_key(&s));
	config = h_write_config(&s, extra);
	if (h_run_kmipctl((const char *const[]){ "data-key", "rotate", "-c", config, NULL }, out, sizeof(out)) != 0)
		fail_msg("kmipctl data-key rotate: %s", out);
	assert_non_null(strstr(out, "data key 2 is current"));
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload done in every worker", h_slow(10000)));
	assert_true(h_log_wait(&s, "every record is sealed under the current data key", h_slow(30000)));
	assert_int_equal(h_log_count(&s, "re-encrypting records under data key 2"), 1);
	assert_int_equal(h_log_count(&s, "every record is sealed under the current data key"), 1);
	cl = h_connect(&s, ctx);
	for (k = 0; k < nacked; k++)
		if (!get_acked(cl, k))
			fail_msg("object %s is missing after the re-encryption", acked[k].uid);
	kmip_client_close(cl);
	if (h_run_kmipctl((const char *const[]){ "keys", "-c", config, NULL }, out, sizeof(out)) != 0)
		fail_msg("kmipctl keys: %s", out);
	assert_non_null(strstr(out, "data keys: 1"));
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/*
 * 8. A worker that cannot start fails the daemon's start: the command exits 1 with the worker's own cause
 * as its one error line (the access policy is only checked by the workers).
 */
static void
test_worker_start_failure(void **state)
{
	struct h_server s = { 0 };
	char o[8][600], out[8192], *line, *save = NULL;
	int rc, errors = 0;

	(void)state;
	h_make_dir(&s);
	snprintf(o[0], sizeof(o[0]), "tls.cert_file=%s", h_cert("server.crt"));
	snprintf(o[1], sizeof(o[1]), "tls.key_file=%s", h_cert("server.key"));
	snprintf(o[2], sizeof(o[2]), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	snprintf(o[3], sizeof(o[3]), "store.path=%s/store", s.dir);
	snprintf(o[4], sizeof(o[4]), "store.master_key_file=%s", h_master_key(&s));
	snprintf(s.log, sizeof(s.log), "%s/kmipd.log", s.dir);
	snprintf(o[5], sizeof(o[5]), "log.file=%s", s.log);
	snprintf(o[6], sizeof(o[6]), "server.port=%u", free_port());
	rc = h_run_kmipd((const char *const[]){ "-c", "/dev/null", "-o", "server.listen=127.0.0.1", "-o", o[6],
	    "-o", o[0], "-o", o[1], "-o", o[2], "-o", o[3], "-o", o[4], "-o", o[5], "-o", "server.workers=2",
	    "-o", "access.grants=nosuchrole:identity:client", "-o", "keygen.pool_size=0", NULL }, out, sizeof(out));
	print_message("%s", out);
	assert_int_equal(rc, 1);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		errors++;
		assert_non_null(strstr(line, "kmipd: cannot start: access.grants: \"nosuchrole:identity:client\""));
	}
	assert_int_equal(errors, 1);
	/* The master started worker 0, which said why it could not start. */
	assert_true(h_log_wait(&s, "worker 0: forked", 1000));
	assert_true(h_log_wait(&s, "[worker 0] access.grants", 1000));
	h_cleanup(&s);
}

/*
 * 10. The first Gets of new objects, from connections spread over four workers at once: each ends the
 * object's freshness, and every worker but the first finds it ended by another. That must fail no Get
 * (the mark is best effort at the group commit), and every Get returns the registered bytes.
 */
static void
test_first_gets_from_all_workers(void **state)
{
	enum { READERS = 16 };
	struct kmip_client *w, *cl[READERS];
	struct h_server s = { 0 };
	size_t i, k, failed = 0;
	uint8_t *all = NULL;
	size_t len = 0;
	char *cause = NULL;
	SSL_CTX *ctx;

	(void)state;
	h_start(&s, (const char *const[]){ "server.workers=4", NULL });
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	nacked = 0;
	w = h_connect(&s, ctx);
	assert_true(write_burst(w) && write_burst(w));
	kmip_client_close(w);
	for (k = 0; k < nacked; k++) {
		struct ttlv_enc e;

		h_uid_request(&e, KMIP_OPERATION_GET, acked[k].uid, 0);
		assert_non_null(all = realloc(all, len + e.len));
		memcpy(all + len, e.buf, e.len);
		len += e.len;
		ttlv_enc_free(&e);
	}
	for (i = 0; i < READERS; i++)
		cl[i] = h_connect(&s, ctx);
	/* Every connection's Gets of every object are on their way before any answer is read. */
	for (i = 0; i < READERS; i++)
		assert_int_equal(kmip_client_write(cl[i], all, len, &cause), 0);
	free(all);
	for (i = 0; i < READERS; i++) {
		for (k = 0; k < nacked; k++) {
			const struct ttlv *m;
			struct ttlv_arena *a;
			struct ttlv *resp;

			assert_int_equal(kmip_client_read(cl[i], &resp, &a, &cause), 0);
			if (h_item_status(resp, 0) != KMIP_RESULT_STATUS_SUCCESS) {
				failed++;
				ttlv_arena_free(a);
				continue;
			}
			m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA),
			    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
			assert_non_null(m);
			assert_memory_equal(m->v.bytes.data, acked[k].secret, SECRET_LEN);
			ttlv_arena_free(a);
		}
		kmip_client_close(cl[i]);
	}
	if (failed > 0)
		fail_msg("%zu of %zu first Gets failed", failed, (size_t)READERS * nacked);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

/* The real uid of process pid, from /proc; fails the test when it cannot be read. */
static uid_t
proc_uid(pid_t pid)
{
	char path[64], line[256];
	unsigned long uid = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "Uid: %lu", &uid) == 1;
	fclose(f);
	if (!found)
		fail_msg("no Uid line in %s", path);
	return (uid_t)uid;
}

/*
 * 9. server.user with workers: the master switches before it forks, so that no process of kmipd (the
 * master answers admin.socket and /metrics) stays root, and the workers, which read the TLS files as that
 * user, serve. Started as root, everything runs as nobody; not as root, the switch is refused at start.
 */
static void
test_user_switch(void **state)
{
	struct h_server s = { 0 };
	struct passwd *pw = getpwnam("nobody");
	char certs[400], ov[3][460], cmd[900], cert[440], key[440], ca[440];
	pid_t pids[2];
	SSL_CTX *ctx;
	struct kmip_client *cl;
	size_t i;

	(void)state;
	assert_non_null(pw);
	h_make_dir(&s);
	snprintf(certs, sizeof(certs), "%s/certs", s.dir);
	h_mkcerts(certs, NULL);
	snprintf(ov[0], sizeof(ov[0]), "tls.cert_file=%s/server.crt", certs);
	snprintf(ov[1], sizeof(ov[1]), "tls.key_file=%s/server.key", certs);
	snprintf(ov[2], sizeof(ov[2]), "tls.clients_ca_cert_file=%s/ca.crt", certs);
	if (getuid() != 0) {
		char out[4096], port[32], store[440];

		snprintf(port, sizeof(port), "server.port=%u", free_port());
		snprintf(store, sizeof(store), "store.path=%s/store", s.dir);
		assert_int_not_equal(h_run_kmipd((const char *const[]){ "-f", "-c", "/dev/null", "-o",
		    "server.workers=2", "-o", "server.user=nobody", "-o", "store.encryption=false", "-o", ov[0], "-o",
		    ov[1], "-o", ov[2], "-o", port, "-o", store, "-o", "server.listen=127.0.0.1", NULL }, out,
		    sizeof(out)), 0);
		assert_non_null(strstr(out, "cannot switch to"));
		h_cleanup(&s);
		return;
	}
	/* The files belong to nobody, as a package's would to kmipd. */
	snprintf(cmd, sizeof(cmd), "chown -R nobody '%s'", s.dir);
	assert_int_equal(system(cmd), 0);
	h_restart(&s, (const char *const[]){ "server.workers=2", "server.user=nobody", "store.encryption=false",
	    ov[0], ov[1], ov[2], NULL });
	worker_pids(&s, pids, 2);
	assert_int_equal(proc_uid(s.pid), pw->pw_uid);
	for (i = 0; i < 2; i++)
		assert_int_equal(proc_uid(pids[i]), pw->pw_uid);
	snprintf(cert, sizeof(cert), "%s/client.crt", certs);
	snprintf(key, sizeof(key), "%s/client.key", certs);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	ctx = h_client_ctx(cert, key, ca, TLS1_2_VERSION, 0);
	for (i = 0; i < 4; i++) {
		cl = h_connect(&s, ctx);
		h_discover_ok(cl);
		kmip_client_close(cl);
	}
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, h_slow(10000)), 0);
	h_cleanup(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_workers_count),
		cmocka_unit_test(test_worker_sigkill_mid_load),
		cmocka_unit_test(test_reload_all_or_none),
		cmocka_unit_test(test_sigterm_exits_all),
		cmocka_unit_test(test_stalled_worker_replaced),
		cmocka_unit_test(test_restart_backoff),
		cmocka_unit_test(test_reseal_in_worker_zero),
		cmocka_unit_test(test_worker_start_failure),
		cmocka_unit_test(test_user_switch),
		cmocka_unit_test(test_first_gets_from_all_workers),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
