/*
 * Integration tests of TLS session resumption against the real kmipd: by session id from the shared
 * cache (TLS 1.2, what Veeam's stack does) and by ticket (TLS 1.2 and 1.3), the cache's figures in
 * kmipctl status, two kmipd processes sharing tls.ticket_key_file resuming each other's tickets (and not
 * with different files), a ticket key file refused for its mode or content with its file and line, and a
 * SIGHUP with a new key file: tickets of a dropped key no longer resume, those of a key still listed do;
 * a reload that changes the client CA bundle ends resumption of the sessions made before it; and with
 * server.workers = 2, a session made on one worker resumes on the other, by session id and by ticket.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/client.h"
#include "test/integration/harness.h"
#include "test/util.h"

/*
 * Up to three servers per test, and a folder for their ticket key files and admin sockets (h_start makes
 * each server's own folder); the teardown stops and removes everything.
 */
struct servers {
	struct h_server s[3];
	char dir[256];
};

static int
setup(void **state)
{
	struct servers *v = calloc(1, sizeof(*v));

	*state = v;
	if (v == NULL || util_mkdtemp(v->dir, sizeof(v->dir), NULL, "kmipd-test-resume") != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	struct servers *v = *state;
	int i;

	for (i = 0; i < 3; i++)
		if (v->s[i].dir[0] != '\0')
			h_cleanup(&v->s[i]);
	if (util_rmtree(v->dir) != 0)
		fprintf(stderr, "cannot remove %s\n", v->dir);
	free(v);
	return 0;
}

/* A client context for one TLS version; without tickets it resumes by session id only, as SChannel does. */
static SSL_CTX *
client(int version, bool tickets)
{
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, version, version);

	if (!tickets)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

/*
 * Connects offering offer (NULL: none), makes one request (so a TLS 1.3 ticket has arrived), closes
 * cleanly and returns the session to offer next time; *resumed says whether this one was resumed.
 */
static SSL_SESSION *
visit(struct h_server *s, SSL_CTX *ctx, SSL_SESSION *offer, bool *resumed)
{
	struct kmip_client *cl;
	SSL_SESSION *sess;
	char why[512];

	cl = h_try_connect(s, ctx, offer, why, sizeof(why));
	if (cl == NULL)
		fail_msg("connect to port %u: %s", s->port, why);
	h_discover_ok(cl);
	*resumed = SSL_session_reused(kmip_client_ssl(cl)) != 0;
	sess = SSL_get1_session(kmip_client_ssl(cl));
	assert_non_null(sess);
	kmip_client_close(cl);
	return sess;
}

/* Whether a session from one visit resumes at the next, to the same or another server. */
static bool
resumes(struct h_server *from, struct h_server *to, SSL_CTX *ctx)
{
	SSL_SESSION *first, *second;
	bool resumed;

	first = visit(from, ctx, NULL, &resumed);
	assert_false(resumed);
	second = visit(to, ctx, first, &resumed);
	SSL_SESSION_free(first);
	SSL_SESSION_free(second);
	return resumed;
}

/* The override that puts the first server's admin socket in the test's folder. */
static const char *
admin_sock(struct servers *v, char *ov, size_t size)
{
	snprintf(ov, size, "admin.socket=%s/admin.sock", v->dir);
	return ov;
}

/* A number of the "tls_sessions" object of kmipctl status --json, or -1 when absent. */
static long long
tls_figure(struct servers *v, const char *name)
{
	char out[65536], sock[400], key[64];
	const char *p;
	int rc;

	snprintf(sock, sizeof(sock), "%s/admin.sock", v->dir);
	rc = h_run_kmipctl((const char *const[]){ "status", "--json", "-S", sock, NULL }, out, sizeof(out));
	if (rc != 0)
		fail_msg("kmipctl status exited %d: %s", rc, out);
	if ((p = strstr(out, "\"tls_sessions\":{")) == NULL)
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", name);
	if ((p = strstr(p, key)) == NULL)
		return -1;
	return strtoll(p + strlen(key), NULL, 10);
}

/* One ticket key line: base64 of 80 random bytes. */
static void
key_line(char *buf, size_t size)
{
	unsigned char raw[80];

	assert_true(size > 110);
	assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)buf, raw, sizeof(raw)), 108);
}

/* Writes a ticket key file of the given lines (mode 0600, or mode). */
static void
write_keys(const char *path, mode_t mode, const char *text)
{
	h_write_file(path, text);
	assert_int_equal(chmod(path, mode), 0);
}

/* 1. TLS 1.2 by session id, tickets refused by the client: resumed from the shared cache, which says so. */
static void
test_session_id_tls12(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	char ov[400];
	SSL_CTX *ctx;

	h_start(s, (const char *const[]){ admin_sock(v, ov, sizeof(ov)), NULL });
	ctx = client(TLS1_2_VERSION, false);
	assert_true(resumes(s, s, ctx));
	assert_true(resumes(s, s, ctx));
	SSL_CTX_free(ctx);
	assert_true(h_log_wait(s, "TLSv1.2 handshake done (resumed)", 2000));
	assert_int_equal(tls_figure(v, "hits"), 2);
	assert_true(tls_figure(v, "stored") >= 2);
	assert_int_equal(tls_figure(v, "too_large"), 0);
}

/* 2. Tickets, TLS 1.2 and 1.3: resumed, with the server's random ticket keys (status: not from a file). */
static void
test_tickets_tls12_tls13(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	SSL_SESSION *first, *second;
	bool resumed;
	char ov[400];
	SSL_CTX *ctx;
	int version;

	h_start(s, (const char *const[]){ admin_sock(v, ov, sizeof(ov)), NULL });
	for (version = TLS1_2_VERSION; version <= TLS1_3_VERSION; version++) {
		ctx = client(version, true);
		first = visit(s, ctx, NULL, &resumed);
		assert_true(SSL_SESSION_has_ticket(first));
		second = visit(s, ctx, first, &resumed);
		assert_true(resumed);
		SSL_SESSION_free(first);
		SSL_SESSION_free(second);
		SSL_CTX_free(ctx);
	}
	assert_true(h_log_wait(s, "TLSv1.3 handshake done (resumed)", 2000));
	assert_int_equal(tls_figure(v, "ticket_keys"), 1);
	/* Resumed from tickets: the cache was not asked. */
	assert_int_equal(tls_figure(v, "hits"), 0);
}

/*
 * 3. Two kmipd processes (separate memory) started with the same tls.ticket_key_file resume each other's
 * tickets, TLS 1.2 and 1.3; a third with another file does not (a full handshake, no failure).
 */
static void
test_ticket_file_two_servers(void **state)
{
	struct servers *v = *state;
	char k1[128], k2[128], k3[128], text[512], file_ab[400], file_c[400], ov_ab[500], ov_c[500];
	SSL_CTX *ctx;
	int version;

	key_line(k1, sizeof(k1));
	key_line(k2, sizeof(k2));
	key_line(k3, sizeof(k3));
	snprintf(file_ab, sizeof(file_ab), "%s/ab.keys", v->dir);
	snprintf(text, sizeof(text), "# shared by a and b\n%s\n\n%s\n", k1, k2);
	write_keys(file_ab, 0600, text);
	snprintf(file_c, sizeof(file_c), "%s/c.keys", v->dir);
	snprintf(text, sizeof(text), "%s\n", k3);
	write_keys(file_c, 0600, text);
	snprintf(ov_ab, sizeof(ov_ab), "tls.ticket_key_file=%s", file_ab);
	snprintf(ov_c, sizeof(ov_c), "tls.ticket_key_file=%s", file_c);
	h_start(&v->s[0], (const char *const[]){ ov_ab, NULL });
	h_start(&v->s[1], (const char *const[]){ ov_ab, NULL });
	h_start(&v->s[2], (const char *const[]){ ov_c, NULL });
	for (version = TLS1_2_VERSION; version <= TLS1_3_VERSION; version++) {
		ctx = client(version, true);
		assert_true(resumes(&v->s[0], &v->s[1], ctx));
		assert_true(resumes(&v->s[1], &v->s[0], ctx));
		assert_false(resumes(&v->s[0], &v->s[2], ctx));
		assert_false(resumes(&v->s[2], &v->s[1], ctx));
		SSL_CTX_free(ctx);
	}
	assert_true(h_log_wait(&v->s[1], "TLSv1.3 handshake done (resumed)", 2000));
}

/*
 * Runs kmipd (-t, or -f to start) with the test certificates and one more override; it must fail with
 * every needle in its output.
 */
static void
refused(struct h_server *s, bool check, const char *opt, const char *needle1, const char *needle2)
{
	char out[8192], o[7][600];
	const char *argv[] = { check ? "-t" : "-f", "-o", o[0], "-o", o[1], "-o", o[2], "-o", o[3], "-o", o[4],
	    "-o", o[5], "-o", o[6], NULL };
	int status;

	snprintf(o[0], sizeof(o[0]), "tls.cert_file=%s", h_cert("server.crt"));
	snprintf(o[1], sizeof(o[1]), "tls.key_file=%s", h_cert("server.key"));
	snprintf(o[2], sizeof(o[2]), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	snprintf(o[3], sizeof(o[3]), "store.path=%s/store", s->dir);
	snprintf(o[4], sizeof(o[4]), "server.listen=127.0.0.1");
	snprintf(o[5], sizeof(o[5]), "server.port=1");
	snprintf(o[6], sizeof(o[6]), "%s", opt);
	status = h_run_kmipd(argv, out, sizeof(out));
	if (status == 0 || strstr(out, needle1) == NULL || strstr(out, needle2) == NULL)
		fail_msg("kmipd %s exited %d without \"%s\" and \"%s\":\n%s", argv[0], status, needle1, needle2,
		    out);
}

/*
 * 4. A ticket key file that group or others may read, or whose content is not keys, fails kmipd -t and a
 * start, naming the file (and the line).
 */
static void
test_ticket_file_refused(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	char k1[128], text[1024], path[400], opt[500], where[500];
	int check;

	h_make_dir(s);
	key_line(k1, sizeof(k1));
	snprintf(path, sizeof(path), "%s/ticket.keys", v->dir);
	snprintf(opt, sizeof(opt), "tls.ticket_key_file=%s", path);
	for (check = 1; check >= 0; check--) {
		snprintf(text, sizeof(text), "%s\n", k1);
		write_keys(path, 0640, text);
		refused(s, check, opt, path, "mode 0640");
		/* Line 3: 60 bytes, not 80. */
		snprintf(text, sizeof(text), "# keys\n%s\n%.80s\n", k1, k1);
		write_keys(path, 0600, text);
		snprintf(where, sizeof(where), "%s:3:", path);
		refused(s, check, opt, where, "base64 of 80 bytes");
		/* Line 2: not base64. */
		snprintf(text, sizeof(text), "%s\n%s\n", k1, k1);
		text[strlen(k1) + 1 + 5] = '*';
		write_keys(path, 0600, text);
		snprintf(where, sizeof(where), "%s:2:", path);
		refused(s, check, opt, where, "not base64");
		/* Line 2: the same key twice. */
		snprintf(text, sizeof(text), "%s\n%s\n", k1, k1);
		write_keys(path, 0600, text);
		refused(s, check, opt, where, "same key name");
		/* Comments only. */
		write_keys(path, 0600, "# nothing yet\n");
		refused(s, check, opt, path, "no key");
	}
	/* And a good one passes -t. */
	snprintf(text, sizeof(text), "%s\n", k1);
	write_keys(path, 0600, text);
	{
		char out[8192], o[4][600];
		const char *argv[] = { "-t", "-o", o[0], "-o", o[1], "-o", o[2], "-o", o[3], "-o", opt,
		    "-o", "store.encryption=false", NULL };

		snprintf(o[0], sizeof(o[0]), "tls.cert_file=%s", h_cert("server.crt"));
		snprintf(o[1], sizeof(o[1]), "tls.key_file=%s", h_cert("server.key"));
		snprintf(o[2], sizeof(o[2]), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
		snprintf(o[3], sizeof(o[3]), "store.path=%s/store", s->dir);
		if (h_run_kmipd(argv, out, sizeof(out)) != 0 || strstr(out, "configuration OK") == NULL)
			fail_msg("kmipd -t refuses a good ticket key file:\n%s", out);
	}
}

/*
 * 5. SIGHUP with a new ticket key file: a ticket of a key still listed (now second) resumes, one of a key
 * dropped does not; a bad file at a reload keeps the running keys.
 */
static void
test_ticket_file_sighup(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	char k1[128], k2[128], k3[128], text[512], path[400], opt[500];
	SSL_SESSION *t1[2], *t2[2], *again;
	SSL_CTX *ctx[2];
	bool resumed;
	int i;

	key_line(k1, sizeof(k1));
	key_line(k2, sizeof(k2));
	key_line(k3, sizeof(k3));
	snprintf(path, sizeof(path), "%s/ticket.keys", v->dir);
	snprintf(opt, sizeof(opt), "tls.ticket_key_file=%s", path);
	snprintf(text, sizeof(text), "%s\n", k1);
	write_keys(path, 0600, text);
	h_start(s, (const char *const[]){ opt, NULL });
	/* Tickets of k1, TLS 1.2 and 1.3. */
	for (i = 0; i < 2; i++) {
		ctx[i] = client(i == 0 ? TLS1_2_VERSION : TLS1_3_VERSION, true);
		t1[i] = visit(s, ctx[i], NULL, &resumed);
	}

	/* k2 first, k1 kept. */
	snprintf(text, sizeof(text), "%s\n%s\n", k2, k1);
	write_keys(path, 0600, text);
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", 5000));
	for (i = 0; i < 2; i++) {
		again = visit(s, ctx[i], t1[i], &resumed);
		assert_true(resumed);
		SSL_SESSION_free(again);
		/* A ticket of k2. */
		t2[i] = visit(s, ctx[i], NULL, &resumed);
	}

	/* A bad file: the reload fails, k2 and k1 stay. */
	write_keys(path, 0644, text);
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload failed", 5000));
	for (i = 0; i < 2; i++) {
		again = visit(s, ctx[i], t2[i], &resumed);
		assert_true(resumed);
		SSL_SESSION_free(again);
	}

	/* Only k3: neither k1's nor k2's tickets resume (full handshakes, served). */
	snprintf(text, sizeof(text), "%s\n", k3);
	write_keys(path, 0600, text);
	h_signal(s, SIGHUP);
	for (i = 0; i < 50 && h_log_count(s, "reload done") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(h_log_count(s, "reload done"), 2);
	for (i = 0; i < 2; i++) {
		again = visit(s, ctx[i], t1[i], &resumed);
		assert_false(resumed);
		SSL_SESSION_free(again);
		again = visit(s, ctx[i], t2[i], &resumed);
		assert_false(resumed);
		SSL_SESSION_free(again);
		/* k3's own tickets do. */
		assert_true(resumes(s, s, ctx[i]));
		SSL_SESSION_free(t1[i]);
		SSL_SESSION_free(t2[i]);
		SSL_CTX_free(ctx[i]);
	}
}

/*
 * 6. The shared cache and the ticket keys outlive a reload, but one that changes the client CA bundle
 * makes every client do one full handshake (a resumed one skips chain verification), by session id and by
 * ticket; a reload that leaves it as it was keeps resumption.
 */
static void
test_reload_new_client_cas(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	char cas[400], opt[500], *ca, *other, *both;
	SSL_SESSION *sess[3], *again;
	SSL_CTX *ctx[3];
	bool resumed;
	int i;

	snprintf(cas, sizeof(cas), "%s/cas.pem", v->dir);
	h_copy_file(h_cert("ca.crt"), cas);
	snprintf(opt, sizeof(opt), "tls.clients_ca_cert_file=%s", cas);
	h_start(s, (const char *const[]){ opt, NULL });
	ctx[0] = client(TLS1_2_VERSION, false);
	ctx[1] = client(TLS1_2_VERSION, true);
	ctx[2] = client(TLS1_3_VERSION, true);
	for (i = 0; i < 3; i++)
		sess[i] = visit(s, ctx[i], NULL, &resumed);

	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", 5000));
	for (i = 0; i < 3; i++) {
		again = visit(s, ctx[i], sess[i], &resumed);
		assert_true(resumed);
		SSL_SESSION_free(again);
	}

	assert_non_null(ca = util_read_file(h_cert("ca.crt"), NULL));
	assert_non_null(other = util_read_file(h_cert("other-ca.crt"), NULL));
	assert_true(asprintf(&both, "%s%s", ca, other) > 0);
	h_write_file(cas, both);
	free(ca);
	free(other);
	free(both);
	h_signal(s, SIGHUP);
	for (i = 0; i < 50 && h_log_count(s, "reload done") < 2; i++)
		h_sleep_ms(100);
	assert_int_equal(h_log_count(s, "reload done"), 2);
	for (i = 0; i < 3; i++) {
		again = visit(s, ctx[i], sess[i], &resumed);
		assert_false(resumed);
		SSL_SESSION_free(again);
		SSL_SESSION_free(sess[i]);
		SSL_CTX_free(ctx[i]);
	}
}

/*
 * 7. server.workers = 2: a session made on one worker resumes on the other, by session id (TLS 1.2, tickets
 * off on the client, as SChannel) and by ticket (TLS 1.2 and 1.3), with random ticket keys. Each side is
 * chosen by stopping the other worker (SIGSTOP) while the client connects: the accepting socket is shared,
 * so the one left running takes the connection.
 */
static void
test_across_workers(void **state)
{
	struct servers *v = *state;
	struct h_server *s = &v->s[0];
	static const struct { int version; bool tickets; } modes[] = {
		{ TLS1_2_VERSION, false }, { TLS1_2_VERSION, true }, { TLS1_3_VERSION, true },
	};
	SSL_SESSION *first, *second;
	pid_t w[4];
	bool resumed;
	char ov[400];
	SSL_CTX *ctx;
	size_t i;

	h_start(s, (const char *const[]){ "server.workers=2", admin_sock(v, ov, sizeof(ov)), NULL });
	assert_int_equal(h_children(s, w, 4), 2);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ctx = client(modes[i].version, modes[i].tickets);
		assert_int_equal(kill(w[1], SIGSTOP), 0);
		first = visit(s, ctx, NULL, &resumed);
		assert_int_equal(kill(w[1], SIGCONT), 0);
		assert_false(resumed);
		assert_int_equal(kill(w[0], SIGSTOP), 0);
		second = visit(s, ctx, first, &resumed);
		assert_int_equal(kill(w[0], SIGCONT), 0);
		if (!resumed)
			fail_msg("TLS 1.%d, %s: a session made on worker 0 did not resume on worker 1",
			    modes[i].version == TLS1_3_VERSION ? 3 : 2, modes[i].tickets ? "tickets" : "session id");
		SSL_SESSION_free(first);
		SSL_SESSION_free(second);
		SSL_CTX_free(ctx);
	}
	/* The session-id resumption was answered from the cache both workers share. */
	assert_true(tls_figure(v, "hits") >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_id_tls12, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tickets_tls12_tls13, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_file_two_servers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticket_file_sighup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_new_client_cas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_across_workers, setup, teardown),
	};

	return cmocka_run_group_tests_name("resume", tests, NULL, NULL);
}
