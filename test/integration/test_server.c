/*
 * Integration tests of the server core against the real kmipd binary over mutual TLS on loopback:
 * handshakes, refusals, session resumption, pipelining, malformed input, deadlines, config checks,
 * reload and shutdown. Each test starts its own server.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

static int
setup(void **state)
{
	struct h_server *s = calloc(1, sizeof(*s));

	*state = s;
	return s == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	h_cleanup(*state);
	free(*state);
	return 0;
}

/* Discover Versions answered over the given TLS version, in the request's protocol version. */
static void
discover_over(struct h_server *s, int tls_version)
{
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, tls_version, tls_version);
	struct kmip_client *cl = h_connect(s, ctx);
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	assert_int_equal(SSL_version(kmip_client_ssl(cl)), tls_version);
	h_discover_request(&req, 1, 4, "A");
	resp = h_call(cl, &req, &a);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(1, 4));
	assert_int_equal(ttlv_count(ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_RESPONSE_PAYLOAD),
	    KMIP_TAG_PROTOCOL_VERSION), 7);
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

static void
test_handshake_tls12_and_tls13(void **state)
{
	struct h_server *s = *state;

	h_start(s, NULL);
	discover_over(s, TLS1_2_VERSION);
	discover_over(s, TLS1_3_VERSION);
	assert_int_equal(h_stop(s, 5000), 0);
}

static void
test_refuses_client_without_certificate(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = h_client_ctx(NULL, NULL, NULL, TLS1_2_VERSION, TLS1_2_VERSION);
	char why[512];

	h_start(s, NULL);
	assert_null(h_try_connect(s, ctx, NULL, why, sizeof(why)));
	assert_true(h_log_wait(s, "TLS handshake failed", 5000));
	/* The server still serves a good client. */
	discover_over(s, TLS1_3_VERSION);
	SSL_CTX_free(ctx);
}

static void
test_pipelined_requests_answered_in_order(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct kmip_client *cl;
	struct ttlv_enc reqs[5];
	uint8_t *all = NULL;
	size_t len = 0, i;
	char *cause = NULL;
	char id[8];

	h_start(s, (const char *const[]){ "server.max_requests_per_event=2", NULL });
	cl = h_connect(s, ctx);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "req-%zu", i);
		h_discover_request(&reqs[i], 1, (int)i, id);
		all = realloc(all, len + reqs[i].len);
		memcpy(all + len, reqs[i].buf, reqs[i].len);
		len += reqs[i].len;
	}
	/* All five in one write: more than max_requests_per_event, so the server must come back for the rest. */
	assert_int_equal(kmip_client_write(cl, all, len, &cause), 0);
	for (i = 0; i < 5; i++) {
		struct ttlv_arena *a;
		struct ttlv *resp;
		const struct ttlv *bid;

		assert_int_equal(kmip_client_read(cl, &resp, &a, &cause), 0);
		snprintf(id, sizeof(id), "req-%zu", i);
		bid = ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
		assert_non_null(bid);
		assert_int_equal(bid->length, strlen(id));
		assert_memory_equal(bid->v.bytes.data, id, strlen(id));
		assert_int_equal(h_response_version(resp), KMIP_VERSION(1, i));
		ttlv_arena_free(a);
		ttlv_enc_free(&reqs[i]);
	}
	free(all);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}


/* Sets the receive and send timeouts of a blocking socket, so a test waits seconds, not the client's 10 s. */
static void
set_timeouts(int fd, int rcv_ms, int snd_ms)
{
	struct timeval r = { rcv_ms / 1000, (rcv_ms % 1000) * 1000 };
	struct timeval w = { snd_ms / 1000, (snd_ms % 1000) * 1000 };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof(r)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &w, sizeof(w)), 0);
}

/* Waits up to timeout_ms for needle to occur at least n times in the server log. */
static bool
log_wait_count(struct h_server *s, const char *needle, int n, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms;

	while (h_log_count(s, needle) < n) {
		if (util_now_ms() > end)
			return false;
		h_sleep_ms(20);
	}
	return true;
}

/* A context with the development client certificate; version 0 allows TLS 1.2 and 1.3. */
static SSL_CTX *
good_ctx(int version)
{
	return h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, version, version);
}

/* A new well-behaved client is served: it connects, gets an answer and leaves. */
static void
served(struct h_server *s)
{
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl = h_connect(s, ctx);

	h_discover_ok(cl);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* Reads one response, which must be Operation Failed with the given Result Reason. */
static void
expect_reason(struct kmip_client *cl, int reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp;
	char *cause = NULL;

	if (kmip_client_read(cl, &resp, &a, &cause) != 0)
		fail_msg("expected a response, got: %s", cause != NULL ? cause : "?");
	assert_int_equal(resp->tag, KMIP_TAG_RESPONSE_MESSAGE);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(h_result_reason(resp), reason);
	ttlv_arena_free(a);
}

/* Writes raw bytes on cl, failing the test on error. */
static void
send_raw(struct kmip_client *cl, const void *buf, size_t len)
{
	char *cause = NULL;

	if (kmip_client_write(cl, buf, len, &cause) != 0)
		fail_msg("write: %s", cause != NULL ? cause : "?");
}

/* Waits up to ms for the server to close a plain TCP socket (EOF or reset); bytes it sends are skipped. */
static bool
tcp_closed_within(int fd, int ms)
{
	int64_t end = util_now_ms() + ms;
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - util_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			fail_msg("recv: %s", strerror(errno));
	}
}

/* A request with a header saying batch_count, holding one batch item of operation op and batch item id id. */
static void
build_request(struct ttlv_enc *e, int batch_count, uint32_t op, const char *id)
{
	h_request_begin(e, 1, 4, batch_count);
	h_item_begin_id(e, op, id);
	h_item_end(e);
	h_request_end(e);
}

/*
 * A TLS client on a non-blocking socket, driven with poll, for a connection whose handshake is expected
 * to wait (the blocking proto client would give up and free it).
 */
struct raw_tls {
	int fd;
	SSL *ssl;
};

/* Connects TCP and prepares the TLS client, leaving the handshake to raw_handshake(). */
static void
raw_tls_start(struct h_server *s, SSL_CTX *ctx, struct raw_tls *r)
{
	r->fd = h_tcp_connect(s);
	assert_true(r->fd >= 0);
	assert_int_equal(fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK), 0);
	r->ssl = SSL_new(ctx);
	assert_non_null(r->ssl);
	assert_int_equal(SSL_set_fd(r->ssl, r->fd), 1);
}

/* Sends close_notify if it can, and frees. */
static void
raw_tls_close(struct raw_tls *r)
{
	(void)SSL_shutdown(r->ssl);
	SSL_free(r->ssl);
	close(r->fd);
}

/* After an SSL call returned rc: waits until it may be retried. 1: retry, 0: deadline passed, -1: failed. */
static int
raw_wait(struct raw_tls *r, int rc, int64_t deadline)
{
	struct pollfd p = { .fd = r->fd };
	int left = (int)(deadline - util_now_ms());

	switch (SSL_get_error(r->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		p.events = POLLIN;
		break;
	case SSL_ERROR_WANT_WRITE:
		p.events = POLLOUT;
		break;
	default:
		return -1;
	}
	if (left <= 0 || poll(&p, 1, left) <= 0)
		return 0;
	return 1;
}

/* Drives the handshake for up to ms. Returns 1 when done, 0 when still waiting, -1 when it failed. */
static int
raw_handshake(struct raw_tls *r, int ms)
{
	int64_t deadline = util_now_ms() + ms;
	int rc, w;

	while ((rc = SSL_connect(r->ssl)) != 1)
		if ((w = raw_wait(r, rc, deadline)) != 1)
			return w;
	return 1;
}

/* Sends Discover Versions and reads the answer within ms; returns its Result Status, or -1. */
static int
raw_discover(struct raw_tls *r, int ms)
{
	struct ttlv_limits lim = { 0 };
	struct ttlv_decoder *d = ttlv_decoder_new(&lim);
	int64_t deadline = util_now_ms() + ms;
	struct ttlv_enc req;
	uint8_t buf[4096];
	size_t off = 0, used;
	int rc, status = -1;

	assert_non_null(d);
	h_discover_request(&req, 1, 4, "raw");
	while (off < req.len) {
		rc = SSL_write(r->ssl, req.buf + off, (int)(req.len - off));
		if (rc > 0)
			off += (size_t)rc;
		else if (raw_wait(r, rc, deadline) != 1)
			goto out;
	}
	for (;;) {
		rc = SSL_read(r->ssl, buf, sizeof(buf));
		if (rc > 0) {
			enum ttlv_status st = ttlv_decoder_feed(d, buf, (size_t)rc, &used);

			if (st == TTLV_DONE) {
				struct ttlv_arena *a;
				struct ttlv *root = ttlv_decoder_take(d, &a);

				status = h_result_status(root);
				ttlv_arena_free(a);
				break;
			}
			if (st == TTLV_ERROR)
				break;
		} else if (raw_wait(r, rc, deadline) != 1) {
			break;
		}
	}
out:
	ttlv_enc_free(&req);
	ttlv_decoder_free(d);
	return status;
}

/* 1. Client certificates from another CA, or expired, are refused over TLS 1.2 and 1.3; others are served. */
static void
test_refuses_other_ca_and_expired(void **state)
{
	struct h_server *s = *state;
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	SSL_CTX *good = good_ctx(0);
	struct kmip_client *meanwhile;
	size_t i;

	h_start(s, NULL);
	meanwhile = h_connect(s, good);
	for (i = 0; i < 2; i++) {
		SSL_CTX *other = h_client_ctx(h_cert("other-client.crt"), h_cert("other-client.key"), NULL,
		    versions[i], versions[i]);
		SSL_CTX *expired = h_client_ctx(h_cert("expired-client.crt"), h_cert("expired-client.key"), NULL,
		    versions[i], versions[i]);

		assert_true(h_refused(s, other, NULL));
		assert_true(log_wait_count(s, "TLS handshake failed", (int)(2 * i + 1), 5000));
		assert_true(h_refused(s, expired, NULL));
		assert_true(log_wait_count(s, "TLS handshake failed", (int)(2 * i + 2), 5000));
		h_discover_ok(meanwhile);
		SSL_CTX_free(other);
		SSL_CTX_free(expired);
	}
	/*
	 * The log says why, precisely enough for an operator: not just "certificate verify failed" but the
	 * X.509 verification error (OpenSSL's wording), for each refusal.
	 */
	assert_int_equal(h_log_count(s, "certificate verify failed"), 4);
	if (h_log_count(s, "unable to get local issuer certificate") != 2 ||
	    h_log_count(s, "certificate has expired") != 2)
		fail_msg("the log does not name the X.509 verification error of each refusal (want \"unable to "
		    "get local issuer certificate\" twice and \"certificate has expired\" twice)");
	served(s);
	kmip_client_close(meanwhile);
	SSL_CTX_free(good);
}

/*
 * Connects, makes a request, saves the session after the response (a TLS 1.3 ticket arrives after the
 * handshake), closes cleanly and reconnects offering the session: the handshake must be a resumption.
 */
static void
resume_over(struct h_server *s, int version, bool ticket)
{
	SSL_CTX *ctx = good_ctx(version);
	struct kmip_client *cl = h_connect(s, ctx);
	SSL_SESSION *sess;
	unsigned idlen = 0;
	char why[512];

	assert_false(SSL_session_reused(kmip_client_ssl(cl)));
	h_discover_ok(cl);
	sess = SSL_get1_session(kmip_client_ssl(cl));
	assert_non_null(sess);
	assert_int_equal(SSL_SESSION_has_ticket(sess), ticket);
	if (!ticket) {
		(void)SSL_SESSION_get_id(sess, &idlen);
		assert_true(idlen > 0);
	}
	kmip_client_close(cl);

	cl = h_try_connect(s, ctx, sess, why, sizeof(why));
	if (cl == NULL)
		fail_msg("reconnect: %s", why);
	assert_int_equal(SSL_version(kmip_client_ssl(cl)), version);
	assert_true(SSL_session_reused(kmip_client_ssl(cl)));
	h_discover_ok(cl);
	kmip_client_close(cl);
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
	assert_true(h_log_wait(s, "handshake done (resumed)", 5000));
}

/* 2a. TLS 1.2 session-id resumption from the server's session cache, tickets off. */
static void
test_resume_tls12_session_id(void **state)
{
	struct h_server *s = *state;

	h_start(s, (const char *const[]){ "tls.session_tickets=false", NULL });
	resume_over(s, TLS1_2_VERSION, false);
	assert_true(h_log_wait(s, "TLSv1.2 handshake done (resumed)", 1000));
}

/* 2b. TLS 1.3 ticket resumption with tickets on (the default). */
static void
test_resume_tls13_ticket(void **state)
{
	struct h_server *s = *state;

	h_start(s, NULL);
	resume_over(s, TLS1_3_VERSION, true);
	assert_true(h_log_wait(s, "TLSv1.3 handshake done (resumed)", 1000));
}

/* 3. Bytes that are not TTLV after the handshake: Invalid Message, then EOF; another client is served. */
static void
test_garbage_after_handshake(void **state)
{
	struct h_server *s = *state;
	static const char http[] = "GET / HTTP/1.1\r\n\r\n";
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl, *other;

	h_start(s, NULL);
	other = h_connect(s, ctx);
	cl = h_connect(s, ctx);
	send_raw(cl, http, sizeof(http) - 1);
	expect_reason(cl, KMIP_RESULT_REASON_INVALID_MESSAGE);
	h_expect_close(cl, false);
	assert_true(h_log_wait(s, "malformed message", 5000));
	h_discover_ok(other);
	served(s);
	kmip_client_close(cl);
	kmip_client_close(other);
	SSL_CTX_free(ctx);
}

/* 4. A Request Message announcing 0x7FFFFFF0 bytes: Invalid Message and close, without waiting for them. */
static void
test_oversized_length(void **state)
{
	struct h_server *s = *state;
	static const uint8_t hdr[8] = { 0x42, 0x00, 0x78, 0x01, 0x7F, 0xFF, 0xFF, 0xF0 };
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl, *other;

	h_start(s, NULL);
	other = h_connect(s, ctx);
	cl = h_connect(s, ctx);
	send_raw(cl, hdr, sizeof(hdr));
	h_discover_ok(other);
	expect_reason(cl, KMIP_RESULT_REASON_INVALID_MESSAGE);
	h_expect_close(cl, false);
	assert_true(h_log_wait(s, "maximum message size", 5000));
	h_discover_ok(other);
	served(s);
	kmip_client_close(cl);
	kmip_client_close(other);
	SSL_CTX_free(ctx);
}

/* 5a. A TCP connection that never starts TLS is closed at the handshake deadline; others are served. */
static void
test_stalled_handshake(void **state)
{
	struct h_server *s = *state;
	int64_t t0, elapsed;
	int fd;

	h_start(s, (const char *const[]){ "server.handshake_timeout=1", NULL });
	fd = h_tcp_connect(s);
	assert_true(fd >= 0);
	t0 = util_now_ms();
	served(s);
	assert_true(tcp_closed_within(fd, 5000));
	elapsed = util_now_ms() - t0;
	assert_true(elapsed >= 700);
	assert_true(h_log_wait(s, "TLS handshake not finished", 1000));
	close(fd);
	served(s);
}

/* 5b. Plain HTTP on the TLS port: the handshake fails at once, is logged, and the connection closes. */
static void
test_plain_http_on_tls_port(void **state)
{
	struct h_server *s = *state;
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	int fd;

	h_start(s, NULL);
	fd = h_tcp_connect(s);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, http, sizeof(http) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(http) - 1));
	/* Well before the 10 s handshake deadline: the failure itself closes it. */
	assert_true(tcp_closed_within(fd, 3000));
	assert_true(h_log_wait(s, "TLS handshake failed", 1000));
	close(fd);
	served(s);
}

/* 6a. Half a request and then nothing: closed at the request deadline; others are served meanwhile. */
static void
test_request_timeout_mid_message(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	struct ttlv_enc req;
	int64_t t0, elapsed;

	h_start(s, (const char *const[]){ "server.request_timeout=1", NULL });
	cl = h_connect(s, ctx);
	h_discover_request(&req, 1, 4, "half");
	send_raw(cl, req.buf, req.len / 2);
	t0 = util_now_ms();
	served(s);
	set_timeouts(kmip_client_fd(cl), 5000, 5000);
	h_expect_close(cl, false);
	elapsed = util_now_ms() - t0;
	assert_true(elapsed >= 700);
	assert_true(h_log_wait(s, "request not complete", 1000));
	served(s);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* 6b. Half a request and then a clean close: logged as a close in the middle of a request. */
static void
test_peer_closes_mid_message(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	struct ttlv_enc req;

	h_start(s, NULL);
	cl = h_connect(s, ctx);
	h_discover_request(&req, 1, 4, "half");
	send_raw(cl, req.buf, req.len / 2);
	kmip_client_close(cl);
	assert_true(h_log_wait(s, "in the middle of a request", 5000));
	served(s);
	ttlv_enc_free(&req);
	SSL_CTX_free(ctx);
}

/* 7. kmipd -t: a good file passes; an unknown key, a syntax error and a missing certificate do not. */
static void
test_check_config(void **state)
{
	struct h_server *s = *state;
	char good[400], bad[400], syntax[400], missing[400], text[3072], out[4096], want[1024], cmd[2048];
	FILE *p;
	size_t n;
	const char *tls_fmt = "tls: {\n\tcert_file = \"%s\";\n\tkey_file = \"%s\";\n"
	    "\tclients_ca_cert_file = \"%s\";\n};\n";
	char tls[1200];

	h_make_dir(s);
	snprintf(tls, sizeof(tls), tls_fmt, h_cert("server.crt"), h_cert("server.key"), h_cert("ca.crt"));
	snprintf(good, sizeof(good), "%s/good.conf", s->dir);
	snprintf(bad, sizeof(bad), "%s/bad.conf", s->dir);
	snprintf(syntax, sizeof(syntax), "%s/syntax.conf", s->dir);
	snprintf(missing, sizeof(missing), "%s/missing.conf", s->dir);

	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\n%sstore: {\n\tpath = \"%s/store\";\n"
	    "\tmaster_key_file = \"%s\";\n};\n", tls, s->dir, h_master_key(s));
	h_write_file(good, text);
	assert_int_equal(h_run_kmipd((const char *const[]){ "-t", "-c", good, NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "configuration OK"));
	assert_int_equal(h_run_kmipd((const char *const[]){ "-h", NULL }, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: kmipd"));
	assert_int_equal(h_run_kmipd((const char *const[]){ "-x", NULL }, out, sizeof(out)), 2);

	/* The unknown key is on line 3. */
	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n\tno_such_key = 1;\n};\n%s", tls);
	h_write_file(bad, text);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", bad, NULL }, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s:3:", bad);
	if (strstr(out, want) == NULL || strstr(out, "no_such_key") == NULL)
		fail_msg("expected \"%s\" and the key in: %s", want, out);

	/* A syntax error on line 2. */
	snprintf(text, sizeof(text), "server: {\n\tlisten = ;\n};\n%s", tls);
	h_write_file(syntax, text);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", syntax, NULL }, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s:2", syntax);
	if (strstr(out, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, out);

	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\n" "tls: {\n"
	    "\tcert_file = \"%s/no-such.crt\";\n\tkey_file = \"%s\";\n\tclients_ca_cert_file = \"%s\";\n};\n",
	    s->dir, h_cert("server.key"), h_cert("ca.crt"));
	h_write_file(missing, text);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", missing, NULL }, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s/no-such.crt", s->dir);
	if (strstr(out, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, out);

	/* A client certificate as the server's: no client would accept it, so -t (and a start) refuses it. */
	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\n" "tls: {\n"
	    "\tcert_file = \"%s\";\n\tkey_file = \"%s\";\n\tclients_ca_cert_file = \"%s\";\n};\n"
	    "store: {\n\tpath = \"%s/store\";\n\tmaster_key_file = \"%s\";\n};\n",
	    h_cert("client.crt"), h_cert("client.key"), h_cert("ca.crt"), s->dir, h_master_key(s));
	h_write_file(bad, text);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", bad, NULL }, out, sizeof(out)), 0);
	if (strstr(out, "not for a TLS server") == NULL)
		fail_msg("expected the certificate's purpose refused: %s", out);

	/* A server certificate that expires in 10 days: accepted, with a warning naming it. */
	snprintf(cmd, sizeof(cmd), "cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-subj /CN=soon -keyout soon.key -out soon.csr 2>/dev/null && printf "
	    "'extendedKeyUsage = serverAuth\\nkeyUsage = critical,digitalSignature\\n' >soon.ext && "
	    "openssl x509 -req -in soon.csr -CA %s -CAkey %s -days 10 -extfile soon.ext -out soon.crt "
	    "2>/dev/null", s->dir, h_cert("ca.crt"), h_cert("ca.key"));
	assert_int_equal(system(cmd), 0);
	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\n" "tls: {\n"
	    "\tcert_file = \"%s/soon.crt\";\n\tkey_file = \"%s/soon.key\";\n\tclients_ca_cert_file = \"%s\";\n};\n"
	    "store: {\n\tpath = \"%s/store\";\n\tmaster_key_file = \"%s\";\n};\n",
	    s->dir, s->dir, h_cert("ca.crt"), s->dir, h_master_key(s));
	h_write_file(good, text);
	assert_int_equal(h_run_kmipd((const char *const[]){ "-t", "-c", good, NULL }, out, sizeof(out)), 0);
	if (strstr(out, "configuration OK") == NULL || strstr(out, "/CN=soon") == NULL ||
	    (strstr(out, "expires in 9 days") == NULL && strstr(out, "expires in 10 days") == NULL))
		fail_msg("expected OK and a warning that /CN=soon expires in 10 days: %s", out);

	/* What the start needs of the file system, each reported where its key was set. */
	snprintf(text, sizeof(text), "%sstore: {\n\tmaster_key_file = \"%s\";\n\tpath = \"%s/no/such/store\";\n};\n",
	    tls, h_master_key(s), s->dir);
	h_write_file(bad, text);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", bad, NULL }, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "%s:8: folder %s/no/such/store does not exist", bad, s->dir);
	if (strstr(out, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, out);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", good, "-o", "store.path=", NULL }, out,
	    sizeof(out)), 0);
	if (strstr(out, "-o store.path=: store.path is empty") == NULL)
		fail_msg("expected the empty store.path refused: %s", out);
	snprintf(want, sizeof(want), "audit.file=%s/no-such-dir/audit.log", s->dir);
	assert_int_not_equal(h_run_kmipd((const char *const[]){ "-t", "-c", good, "-o", want, NULL }, out,
	    sizeof(out)), 0);
	if (strstr(out, "audit.file") == NULL || strstr(out, "no-such-dir: No such file") == NULL)
		fail_msg("expected the audit folder refused: %s", out);

	/* An open-files limit below max_connections: a warning, not a failure. */
	snprintf(cmd, sizeof(cmd), "ulimit -n 300 && %s -t -c %s -o server.max_connections=1000 2>&1",
	    getenv("KMIPD_BIN") != NULL ? getenv("KMIPD_BIN") : "build/kmipd", good);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	if (strstr(out, "open-files limit (300) is below server.max_connections (1000)") == NULL ||
	    strstr(out, "configuration OK") == NULL)
		fail_msg("expected a warning about the open-files limit: %s", out);
}

/*
 * 8. SIGHUP with new certificates: a broken certificate file is refused and the old identity kept; a new
 * certificate set from another CA is taken, its clients served, the old set's clients refused, and a
 * connection opened before both reloads keeps working.
 */
static void
test_sighup_new_certificate(void **state)
{
	struct h_server *s = *state;
	char crt[400], key[400], ca[400], set2[400], text[2048], p1[500], p2[500], p3[500];
	SSL_CTX *ctx1 = good_ctx(0), *ctx2, *old_client_new_ca;
	struct kmip_client *a, *cl;

	h_make_dir(s);
	snprintf(crt, sizeof(crt), "%s/server.crt", s->dir);
	snprintf(key, sizeof(key), "%s/server.key", s->dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", s->dir);
	snprintf(set2, sizeof(set2), "%s/set2", s->dir);
	h_copy_file(h_cert("server.crt"), crt);
	h_copy_file(h_cert("server.key"), key);
	h_copy_file(h_cert("ca.crt"), ca);
	h_mkcerts(set2, "ec");
	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\ntls: {\n\tcert_file = \"%s\";\n"
	    "\tkey_file = \"%s\";\n\tclients_ca_cert_file = \"%s\";\n};\n", crt, key, ca);
	h_start_config_raw(s, text, NULL);

	a = h_connect(s, ctx1);
	h_discover_ok(a);

	/* A broken certificate: the reload fails and everything goes on as before. */
	h_write_file(crt, "this is not a certificate\n");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload failed", 5000));
	served(s);
	h_discover_ok(a);

	/* A certificate set from another CA. */
	snprintf(p1, sizeof(p1), "%s/server.crt", set2);
	snprintf(p2, sizeof(p2), "%s/server.key", set2);
	snprintf(p3, sizeof(p3), "%s/ca.crt", set2);
	h_copy_file(p1, crt);
	h_copy_file(p2, key);
	h_copy_file(p3, ca);
	assert_int_equal(h_log_count(s, "reload done"), 0);
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", 5000));

	snprintf(p1, sizeof(p1), "%s/client.crt", set2);
	snprintf(p2, sizeof(p2), "%s/client.key", set2);
	ctx2 = h_client_ctx(p1, p2, p3, 0, 0);
	cl = h_connect(s, ctx2);
	h_discover_ok(cl);
	kmip_client_close(cl);
	/* The first set's client: refused whether it trusts the old CA or the new one. */
	assert_true(h_refused(s, ctx1, NULL));
	old_client_new_ca = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), p3, TLS1_2_VERSION,
	    TLS1_2_VERSION);
	assert_true(h_refused(s, old_client_new_ca, NULL));
	assert_true(h_log_wait(s, "TLS handshake failed", 5000));
	/* The connection from before the reloads keeps its context. */
	h_discover_ok(a);
	kmip_client_close(a);
	SSL_CTX_free(old_client_new_ca);
	SSL_CTX_free(ctx2);
	SSL_CTX_free(ctx1);
}

/* 9a. SIGTERM with an idle client: the server closes it and exits 0 at once. */
static void
test_sigterm_idle_client(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	int64_t t0;

	h_start(s, (const char *const[]){ "server.shutdown_timeout=5", NULL });
	cl = h_connect(s, ctx);
	h_discover_ok(cl);
	t0 = util_now_ms();
	assert_int_equal(h_stop(s, 5000), 0);
	/* An idle connection does not hold up the stop. */
	assert_true(util_now_ms() - t0 < 2000);
	assert_true(h_log_count(s, "stopping") > 0);
	set_timeouts(kmip_client_fd(cl), 2000, 2000);
	h_expect_close(cl, false);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* 9b. SIGTERM while a request is half sent: the server waits for it, answers, closes and exits 0. */
static void
test_sigterm_mid_request(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char *cause = NULL;
	size_t half;

	h_start(s, (const char *const[]){ "server.shutdown_timeout=5", NULL });
	cl = h_connect(s, ctx);
	h_discover_request(&req, 1, 4, "last");
	half = req.len / 2;
	send_raw(cl, req.buf, half);
	h_sleep_ms(200);	/* let the server read the first half */
	h_signal(s, SIGTERM);
	assert_true(h_log_wait(s, "stopping", 5000));
	/* Still running, and no longer accepting. */
	assert_int_equal(h_wait_exit(s, 300), -1);
	assert_int_equal(h_tcp_connect(s), -1);
	send_raw(cl, req.buf + half, req.len - half);
	set_timeouts(kmip_client_fd(cl), 5000, 5000);
	if (kmip_client_read(cl, &resp, &a, &cause) != 0)
		fail_msg("no response to the request in flight: %s", cause);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_SUCCESS);
	ttlv_arena_free(a);
	h_expect_close(cl, false);
	assert_int_equal(h_wait_exit(s, 5000), 0);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/*
 * 10. max_connections=2: a third client's TCP connect completes in the kernel's queue but its handshake
 * waits until one of the two closes.
 */
static void
test_max_connections(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *a, *b, *d;
	struct raw_tls c;

	h_start(s, (const char *const[]){ "server.max_connections=2", NULL });
	a = h_connect(s, ctx);
	b = h_connect(s, ctx);
	h_discover_ok(a);
	h_discover_ok(b);
	assert_true(h_log_wait(s, "max_connections (2) reached", 2000));
	raw_tls_start(s, ctx, &c);
	assert_int_equal(raw_handshake(&c, 1000), 0);
	h_discover_ok(b);
	kmip_client_close(a);
	assert_int_equal(raw_handshake(&c, 5000), 1);
	assert_int_equal(raw_discover(&c, 5000), KMIP_RESULT_STATUS_SUCCESS);
	raw_tls_close(&c);
	/* With the third gone, a new one gets in. */
	d = h_connect(s, ctx);
	h_discover_ok(d);
	kmip_client_close(d);
	kmip_client_close(b);
	SSL_CTX_free(ctx);
}

/*
 * 11. Protocol versions: 3.0 is refused in 3.0; a newer 1.x minor is answered in 1.4; others as asked.
 * Discover Versions came with KMIP 1.1; kmipd answers it in a 1.0 request too (as PyKMIP's server does),
 * since a client asking which versions exist may well start at 1.0.
 */
static void
test_protocol_versions(void **state)
{
	struct h_server *s = *state;
	static const struct {
		int major, minor;
		int status, reason;
		unsigned answered;
	} cases[] = {
		{ 3, 0, KMIP_RESULT_STATUS_OPERATION_FAILED, KMIP_RESULT_REASON_INVALID_MESSAGE, KMIP_VERSION(3, 0) },
		{ 1, 7, KMIP_RESULT_STATUS_SUCCESS, -1, KMIP_VERSION(1, 4) },
		{ 2, 1, KMIP_RESULT_STATUS_SUCCESS, -1, KMIP_VERSION(2, 1) },
		{ 1, 0, KMIP_RESULT_STATUS_SUCCESS, -1, KMIP_VERSION(1, 0) },
		{ 1, 1, KMIP_RESULT_STATUS_SUCCESS, -1, KMIP_VERSION(1, 1) },
	};
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	size_t i;

	h_start(s, NULL);
	cl = h_connect(s, ctx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ttlv_arena *a;
		struct ttlv_enc req;
		struct ttlv *resp;

		h_discover_request(&req, cases[i].major, cases[i].minor, "v");
		resp = h_call(cl, &req, &a);
		assert_int_equal(h_result_status(resp), cases[i].status);
		assert_int_equal(h_response_version(resp), cases[i].answered);
		assert_int_equal(h_result_reason(resp), cases[i].reason);
		ttlv_arena_free(a);
		ttlv_enc_free(&req);
	}
	assert_true(h_log_wait(s, "protocol version 3.0 is not supported", 1000));
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* 12a. A Batch Count that disagrees with the items: Invalid Message, and the connection stays usable. */
static void
test_envelope_error_keeps_connection(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	struct ttlv_enc req;

	h_start(s, NULL);
	cl = h_connect(s, ctx);
	build_request(&req, 2, KMIP_OPERATION_DISCOVER_VERSIONS, "bc");
	send_raw(cl, req.buf, req.len);
	expect_reason(cl, KMIP_RESULT_REASON_INVALID_MESSAGE);
	assert_true(h_log_wait(s, "invalid request", 1000));
	h_discover_ok(cl);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* 12b. An unknown operation: Operation Not Supported with a Result Message, batch item id echoed. */
static void
test_unknown_operation(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	const struct ttlv *item, *t;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_start(s, NULL);
	cl = h_connect(s, ctx);
	build_request(&req, 1, 0x99, "op-99");
	resp = h_call(cl, &req, &a);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(h_result_reason(resp), KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED);
	item = ttlv_find(resp, KMIP_TAG_BATCH_ITEM);
	t = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);
	assert_non_null(t);
	assert_true(t->length > 0);
	t = ttlv_find(item, KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
	assert_non_null(t);
	assert_int_equal(t->length, 5);
	assert_memory_equal(t->v.bytes.data, "op-99", 5);
	ttlv_arena_free(a);
	/* Still open. */
	h_discover_ok(cl);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/*
 * 13. A client that pipelines requests and never reads: the server stops reading it (state "writing"), its
 * memory stays bounded, others are served, and the idle deadline closes the connection.
 */
static void
test_backpressure(void **state)
{
	struct h_server *s = *state;
	const size_t total = 20 * 1024 * 1024;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	struct ttlv_enc one;
	uint8_t *chunk;
	size_t n, i, sent = 0, chunk_len;
	long rss0, rss1;
	int fd;
	char *cause = NULL, *saved = NULL, opts[512];
	const char *asan;

	/*
	 * Under AddressSanitizer (make asan) freed memory sits in a quarantine that RSS counts, so measure this
	 * server without one; the rest of the suite keeps it.
	 */
	asan = getenv("ASAN_OPTIONS");
	if (asan != NULL) {
		saved = strdup(asan);
		snprintf(opts, sizeof(opts), "%s:quarantine_size_mb=0", asan);
		setenv("ASAN_OPTIONS", opts, 1);
	}
	h_start(s, (const char *const[]){ "server.write_high_water=4096", "server.idle_timeout=2", NULL });
	if (saved != NULL) {
		setenv("ASAN_OPTIONS", saved, 1);
		free(saved);
	}
	cl = h_connect(s, ctx);
	h_discover_ok(cl);
	fd = kmip_client_fd(cl);
	/*
	 * Not shrinking SO_RCVBUF here: after the window was advertised, loopback TCP then drops segments and
	 * backs off for seconds, which stalls the sender rather than the server.
	 */
	set_timeouts(fd, 2000, 300);
	h_discover_request(&one, 1, 4, "bp");
	n = 65536 / one.len;
	chunk_len = n * one.len;
	chunk = malloc(chunk_len);
	assert_non_null(chunk);
	for (i = 0; i < n; i++)
		memcpy(chunk + i * one.len, one.buf, one.len);
	rss0 = h_rss_kb(s);
	assert_true(rss0 > 0);
	/* Send until the server stops taking requests (the write times out) or 20 MB went out. */
	while (sent < total) {
		if (kmip_client_write(cl, chunk, chunk_len, &cause) != 0) {
			free(cause);
			cause = NULL;
			break;
		}
		sent += chunk_len;
	}
	rss1 = h_rss_kb(s);
	print_message("sent %zu KiB of requests; server RSS %ld -> %ld KiB\n", sent / 1024, rss0, rss1);
	assert_true(sent > 0);
	assert_true(rss1 - rss0 < 4096);
	assert_true(h_log_count(s, "-> writing") > 0);
	served(s);
	assert_true(h_log_wait(s, "did not read its responses", 6000));
	served(s);
	free(chunk);
	ttlv_enc_free(&one);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* 14. idle_timeout=1 closes a connection that sends nothing. */
static void
test_idle_timeout(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = good_ctx(0);
	struct kmip_client *cl;
	int64_t t0, elapsed;

	h_start(s, (const char *const[]){ "server.idle_timeout=1", NULL });
	cl = h_connect(s, ctx);
	h_discover_ok(cl);
	t0 = util_now_ms();
	set_timeouts(kmip_client_fd(cl), 5000, 5000);
	h_expect_close(cl, false);
	elapsed = util_now_ms() - t0;
	assert_true(elapsed >= 700);
	assert_true(h_log_wait(s, "idle for 1 s", 1000));
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/* Runs cmd through the shell; its output goes to out. Returns its exit status. */
static int
shell(const char *cmd, char *out, size_t outsize)
{
	FILE *p;
	size_t n;
	int status;

	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, outsize - 1, p);
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A loopback TCP port nothing listens on now. */
static unsigned
unused_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * A daemon started in a folder with a relative -c and relative paths in the file (certificates, store,
 * pid file, audit file) finds them at start and again at SIGHUP, although it runs in /.
 */
static void
test_daemon_relative_paths(void **state)
{
	struct h_server *s = *state;
	char bin[4096], text[3072], cmd[8192], out[4096], path[600];
	long pid = 0;
	FILE *f;

	h_make_dir(s);
	assert_non_null(realpath(getenv("KMIPD_BIN") != NULL ? getenv("KMIPD_BIN") : "build/kmipd", bin));
	s->port = unused_port();
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/c && cp %s %s %s %s/c/", s->dir, h_cert("server.crt"),
	    h_cert("server.key"), h_cert("ca.crt"), s->dir);
	assert_int_equal(shell(cmd, out, sizeof(out)), 0);
	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n\tport = %u;\n\tpid_file = \"kmipd.pid\";\n"
	    "};\ntls: {\n\tcert_file = \"c/server.crt\";\n\tkey_file = \"c/server.key\";\n"
	    "\tclients_ca_cert_file = \"c/ca.crt\";\n};\nstore: {\n\tpath = \"store\";\n\tmaster_key_file = \"%s\";\n"
	    "};\naudit: {\n\tfile = \"audit.log\";\n};\n", s->port, h_master_key(s));
	snprintf(path, sizeof(path), "%s/k.conf", s->dir);
	h_write_file(path, text);
	/* The daemon's parent exits: the daemon comes back to this process, to be stopped like any child. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	snprintf(cmd, sizeof(cmd), "cd %s && %s -c k.conf 2>&1", s->dir, bin);
	if (shell(cmd, out, sizeof(out)) != 0)
		fail_msg("the daemon did not start: %s", out);
	snprintf(path, sizeof(path), "%s/kmipd.pid", s->dir);
	if ((f = fopen(path, "r")) == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		fail_msg("no pid in %s", path);
	fclose(f);
	s->pid = (pid_t)pid;
	snprintf(path, sizeof(path), "%s/store/data.mdb", s->dir);
	assert_int_equal(access(path, F_OK), 0);
	/* The audit file is what a daemon without a log file shows of itself. */
	snprintf(s->audit, sizeof(s->audit), "%s/audit.log", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/audit.log", s->dir);
	assert_true(h_log_wait(s, "\"tls_generation\":\"1\"", 5000));
	assert_int_equal(kill(s->pid, SIGHUP), 0);
	if (!h_log_wait(s, "\"tls_generation\":\"2\"", 5000))
		fail_msg("no reload with the relative certificate paths in %s", s->audit);
	assert_int_equal(h_stop(s, 10000), 0);
}

/*
 * A start that fails says why at error level, on the terminal of whoever started it: in the foreground
 * and as a daemon, even with log.level = error.
 */
static void
test_fatal_start_error(void **state)
{
	struct h_server *s = *state;
	char opts[6][600], out[4096];

	h_start(s, NULL);
	snprintf(opts[0], sizeof(opts[0]), "server.port=%u", s->port);
	snprintf(opts[1], sizeof(opts[1]), "tls.cert_file=%s", h_cert("server.crt"));
	snprintf(opts[2], sizeof(opts[2]), "tls.key_file=%s", h_cert("server.key"));
	snprintf(opts[3], sizeof(opts[3]), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	snprintf(opts[4], sizeof(opts[4]), "store.path=%s/other-store", s->dir);
	snprintf(opts[5], sizeof(opts[5]), "store.master_key_file=%s", h_master_key(s));
	for (int daemon = 0; daemon <= 1; daemon++) {
		const char *argv[] = { "-o", "server.listen=127.0.0.1", "-o", "log.level=error", "-o", opts[0],
		    "-o", opts[1], "-o", opts[2], "-o", opts[3], "-o", opts[4], "-o", opts[5],
		    daemon ? NULL : "-f", NULL };

		assert_int_equal(h_run_kmipd(argv, out, sizeof(out)), 1);
		if (strstr(out, "cannot start:") == NULL || strstr(out, "in use") == NULL)
			fail_msg("%s: expected the reason of the failed start: %s", daemon ? "daemon" : "foreground",
			    out);
	}
}

/*
 * log.file with log.format = json and log.connections: a daemon writes its log there, one JSON object per
 * line (a client's closed connection with its figures and identity), and SIGHUP reopens the file after a
 * rotation.
 */
static void
test_log_file_json(void **state)
{
	struct h_server *s = *state;
	char file[280], opt[300], rotated[290];
	const char *opts[] = { opt, "log.format=json", "log.connections=true", NULL };
	struct kmip_client *cl;
	SSL_CTX *ctx;

	/* Outside the server's folder, which h_start_daemon makes. */
	snprintf(file, sizeof(file), "%s/kmipd-log-%d.log", h_certs(), (int)getpid());
	snprintf(rotated, sizeof(rotated), "%s.1", file);
	unlink(file);
	unlink(rotated);
	snprintf(opt, sizeof(opt), "log.file=%s", file);
	h_start_daemon(s, opts);
	snprintf(s->log, sizeof(s->log), "%s", file);
	assert_true(h_log_wait(s, "\"level\":\"info\",\"msg\":\"kmipd ", 5000));
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	cl = h_connect(s, ctx);
	h_discover_ok(cl);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	if (!h_log_wait(s, "\"identity\":\"kmip-client\",\"msg\":\"closed after ", 5000) ||
	    !h_log_wait(s, "1 requests, ", 1) || !h_log_wait(s, "bytes in, ", 1) || !h_log_wait(s, "TLS session new", 1))
		fail_msg("no connection line with its figures in %s", file);
	assert_int_equal(h_audit_valid(file), 0);
	/* A rotation: the file is renamed, SIGHUP makes a new one. */
	assert_int_equal(rename(file, rotated), 0);
	assert_int_equal(kill(s->pid, SIGHUP), 0);
	if (!h_log_wait(s, "reload done", 5000))
		fail_msg("SIGHUP did not reopen %s", file);
	assert_int_equal(h_audit_valid(file), 0);
	assert_int_equal(h_stop(s, 10000), 0);
	unlink(file);
	unlink(rotated);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_tls12_and_tls13, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_client_without_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_answered_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_other_ca_and_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_tls12_session_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_tls13_ticket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_after_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_http_on_tls_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_timeout_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_mid_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_new_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_idle_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_mid_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_error_keeps_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_start_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file_json, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
