/*
 * Client connections. Each one is a bufferevent_openssl in server mode with its own incremental TTLV
 * decoder. Requests are answered one at a time in arrival order: the next pipelined request is decoded only
 * when the previous one has been answered. Every phase has a deadline, and a connection whose unsent output
 * is above the high-water mark is not read until the output drains.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/clock.h"
#include "core/budget.h"
#include "core/conn.h"
#include "core/engine/audit.h"
#include "core/engine/engine.h"
#include "core/server.h"
#include "core/sources.h"
#include "proto/decode.h"
#include "proto/ttlv.h"
#include "tls/tls.h"

#define CONN_READ_HIGH_WATER	(64 * 1024)	/* bytes read ahead per connection before we consume them */
#define CONN_SLICE_US		1000		/* loop time one connection's requests may take per event */
/*
 * Largest response written straight to the TLS connection (conn_write_now): one TLS record, and no more
 * than bufferevent_openssl hands SSL_write at once (its default max_single_write), so that when the socket
 * takes only part of it libevent's retry repeats the same call, as OpenSSL requires.
 */
#define CONN_WRITE_NOW_MAX	16384

static const char *const state_names[] = {
	[CONN_HANDSHAKING] = "handshaking",
	[CONN_READING] = "reading",
	[CONN_WAITING] = "waiting",
	[CONN_WRITING] = "writing",
	[CONN_CLOSING] = "closing",
};

/* Which state may follow which (rows: from, columns: to). */
static const bool transitions[5][5] = {
	[CONN_HANDSHAKING] = { [CONN_HANDSHAKING] = true, [CONN_READING] = true, [CONN_CLOSING] = true },
	[CONN_READING] = { [CONN_READING] = true, [CONN_WAITING] = true, [CONN_WRITING] = true,
	    [CONN_CLOSING] = true },
	[CONN_WAITING] = { [CONN_READING] = true, [CONN_CLOSING] = true },
	[CONN_WRITING] = { [CONN_READING] = true, [CONN_CLOSING] = true },
	[CONN_CLOSING] = { [CONN_CLOSING] = true },
};

static void conn_process_input(struct conn *c);
static void conn_check_backpressure(struct conn *c);
static void conn_engine_done(void *arg, uint8_t *buf, size_t len);

/* Returns the name of a state, for logs. */
const char *
conn_state_name(enum conn_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* Logs one line about c: "conn 12 127.0.0.1:40022 kmip-client: message". */
void
conn_log(const struct conn *c, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vconn(level, c->id, c->peer, c->who, fmt, ap);
	va_end(ap);
}

/* Arms the connection's one timer with a shared (common-timeout) duration; NULL disarms it. */
static void
conn_arm(struct conn *c, const struct timeval *tv)
{
	if (tv == NULL)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, tv);
}

/* While reading: the request deadline once a message has started, the idle deadline between messages. */
static void
conn_arm_reading_timer(struct conn *c)
{
	bool busy = ttlv_decoder_busy(c->dec);

	if (busy && c->request_timer)
		return;		/* the request deadline runs from the first byte; never extend it */
	c->request_timer = busy;
	conn_arm(c, busy ? c->srv->tv_request : c->srv->tv_idle);
}

/*
 * Changes state, checking that the transition is one the state machine allows, and sets what each state
 * implies: whether the socket is read, and which deadline runs.
 */
static void
conn_set_state(struct conn *c, enum conn_state to)
{
	enum conn_state from = c->state;

	if (!transitions[from][to]) {
		conn_log(c, LOG_LEVEL_ERROR, "bug: state change %s -> %s refused", conn_state_name(from),
		    conn_state_name(to));
		to = CONN_CLOSING;
	}
	c->state = to;
	/* Out of the handshake: it no longer takes one of server.max_handshakes. */
	if (from == CONN_HANDSHAKING && to != CONN_HANDSHAKING) {
		sources_handshake_done(c);
		server_handshake_ended(c->srv);
	}
	if (from != to)
		conn_log(c, LOG_LEVEL_DEBUG, "state %s -> %s", conn_state_name(from), conn_state_name(to));
	switch (to) {
	case CONN_HANDSHAKING:
		conn_arm(c, c->srv->tv_handshake);
		break;
	case CONN_READING:
		if (!c->paused && !c->id_paused)	/* the budget resumes it */
			bufferevent_enable(c->bev, EV_READ);
		c->request_timer = false;
		conn_arm_reading_timer(c);
		break;
	case CONN_WAITING:
		/* Key generation has its own deadline (keygen.timeout); a group commit ends this iteration. */
		bufferevent_disable(c->bev, EV_READ);
		conn_arm(c, NULL);
		break;
	case CONN_WRITING:
		/* A client that stops reading its responses gets the idle deadline to start again. */
		bufferevent_disable(c->bev, EV_READ);
		conn_arm(c, c->srv->tv_idle != NULL ? c->srv->tv_idle : c->srv->tv_request);
		break;
	case CONN_CLOSING:
		bufferevent_disable(c->bev, EV_READ);
		conn_arm(c, c->srv->tv_closing);
		break;
	}
}

/* Frees a response buffer that an evbuffer held by reference, wiping it: responses carry key material. */
static void
wipe_free(const void *data, size_t len, void *extra)
{
	(void)extra;
	explicit_bzero((void *)data, len);
	free((void *)data);
}

/*
 * Writes a response straight to the TLS connection when nothing is queued before it. Through the output
 * buffer, bufferevent_openssl writes it at once as well, but first arms the write event (the buffer stopped
 * being empty) and disarms it once written: two epoll_ctl per response, for a socket that nearly always
 * takes the response at once. True when the response is done with: written, or the connection failed
 * (then closing, as when libevent's own write fails). False leaves it to the output buffer as before: when
 * the socket is full OpenSSL keeps the record it started, and libevent's next SSL_write, of the same bytes
 * and length (CONN_WRITE_NOW_MAX), finishes it.
 */
static bool
conn_write_now(struct conn *c, const uint8_t *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long e;
	char why[256];
	int r, err;

	if (len == 0 || len > CONN_WRITE_NOW_MAX || ssl == NULL || c->state == CONN_HANDSHAKING ||
	    c->state == CONN_CLOSING || evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return false;
	ERR_clear_error();
	if ((r = SSL_write(ssl, buf, (int)len)) == (int)len)
		return true;
	err = SSL_get_error(ssl, r);
	if (r <= 0 && (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ))
		return false;
	/* No error may stay queued: SSL_get_error() on another connection would take it for its own. */
	if ((e = ERR_peek_error()) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", errno != 0 ? strerror(errno) : "connection reset");
	ERR_clear_error();
	c->tls_failed = true;
	conn_close_deferred(c, LOG_LEVEL_INFO, "connection error: %s", why);
	return true;
}

/*
 * Queues a response buffer for sending without copying it, or with now writes it at once when it can; the
 * buffer is consumed either way.
 */
static int
conn_send_buf(struct conn *c, uint8_t *buf, size_t len, bool now)
{
	if (buf == NULL)
		return 0;
	if (now && conn_write_now(c, buf, len)) {
		wipe_free(buf, len, NULL);
		return 0;
	}
	if (evbuffer_add_reference(bufferevent_get_output(c->bev), buf, len, wipe_free, NULL) != 0) {
		wipe_free(buf, len, NULL);
		return -1;
	}
	return 0;
}

/* Records why the connection ends and starts closing it; see conn.h. */
static void
conn_vclose_deferred(struct conn *c, enum log_level level, const char *fmt, va_list ap)
{
	static const struct timeval now = { 0, 0 };

	if (c->state == CONN_CLOSING)
		return;		/* the first reason is the one that matters */
	vsnprintf(c->close_reason, sizeof(c->close_reason), fmt, ap);
	c->close_level = level;
	conn_set_state(c, CONN_CLOSING);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	/* Nothing left to flush: close from the timer on the next loop iteration, not under our caller. */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		evtimer_add(c->timer, &now);
}

void
conn_close_deferred(struct conn *c, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conn_vclose_deferred(c, level, fmt, ap);
	va_end(ap);
}

/* Closes now; see conn.h. */
void
conn_close_now(struct conn *c, enum log_level level, const char *fmt, ...)
{
	struct server *srv = c->srv;
	char reason[256];
	va_list ap;
	SSL *ssl;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ssl = bufferevent_openssl_get_ssl(c->bev);
	/* log.connections: every client's close at info at least, with what the connection did. */
	if (srv->cfg->log.connections && c->identity != NULL && ssl != NULL)
		conn_log(c, level < LOG_LEVEL_INFO ? level : LOG_LEVEL_INFO, "closed after %.3f s, %llu requests, %llu bytes in, %llu out, TLS "
		    "session %s: %s", (double)(clock_us() - c->started_us) / 1e6, (unsigned long long)c->requests,
		    (unsigned long long)BIO_number_read(SSL_get_rbio(ssl)),
		    (unsigned long long)BIO_number_written(SSL_get_wbio(ssl)), c->resumed ? "resumed" : "new",
		    reason);
	else
		conn_log(c, level, "closed after %llu requests: %s", (unsigned long long)c->requests, reason);

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	sources_detach(c);
	/* The buffers are freed with the bufferevent, possibly later: they report nothing more. */
	if (c->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	budget_conn_gone(srv->budget, c);
	session_free(c->session);
	event_free(c->timer);
	/* A clean end keeps the TLS session resumable; a failed one must not. */
	if (ssl != NULL && !c->tls_failed && c->identity != NULL)
		tls_shutdown(ssl);
	ERR_clear_error();
	bufferevent_free(c->bev);
	ttlv_decoder_free(c->dec);
	tls_identity_free(c->identity);
	free(c->hs_subject);
	free(c);
	server_conn_closed(srv);
}

/* Formats the OpenSSL errors a bufferevent collected into buf. */
static void
conn_tls_errors(struct conn *c, char *buf, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e;
	size_t n = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0 && n + 1 < size) {
		char one[256];

		if (ERR_GET_LIB(e) == 0)
			continue;	/* libevent's own SSL_get_error() code, not an OpenSSL error */
		ERR_error_string_n(e, one, sizeof(one));
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "; " : "", one);
	}
	/* "certificate verify failed" alone does not tell an operator whether it expired or has another CA. */
	if (vr != X509_V_OK && n + 1 < size)
		n += (size_t)snprintf(buf + n, size - n, "%sclient certificate: %s", n > 0 ? "; " : "",
		    X509_verify_cert_error_string(vr));
	if (buf[0] == '\0')
		snprintf(buf, size, "%s", errno != 0 ? strerror(errno) : "connection reset");
}

/*
 * The SSL ex_data slot that points back to a connection, for conn_verify_cb (allocated once per process,
 * like OpenSSL's own indexes); -1 when OpenSSL could not give one.
 */
static int
conn_ex_index(void)
{
	static int idx = -2;

	if (idx == -2)
		idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return idx;
}

/*
 * Certificate verification of a client: keeps the subject and SHA-256 fingerprint of the certificate it
 * sent, so that a handshake that fails still says in the audit trail whose certificate it was; the result
 * is the context's own callback's (tls), or OpenSSL's.
 */
static int
conn_verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_verify_cb ctx_cb = ssl != NULL ? SSL_CTX_get_verify_callback(SSL_get_SSL_CTX(ssl)) : NULL;
	struct conn *c = ssl != NULL && conn_ex_index() >= 0 ? SSL_get_ex_data(ssl, conn_ex_index()) : NULL;
	X509 *cert = X509_STORE_CTX_get0_cert(x);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;

	if (ctx_cb != NULL)
		ok = ctx_cb(ok, x);
	if (c != NULL && cert != NULL && c->hs_subject == NULL) {
		c->hs_subject = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
		if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen * 2 < sizeof(c->hs_fingerprint))
			for (i = 0; i < mdlen; i++)
				snprintf(c->hs_fingerprint + 2 * i, 3, "%02x", md[i]);
	}
	return ok;
}

/* Records a client refused during or right after its TLS handshake in the audit trail. */
static void
conn_audit_refused(struct conn *c, const char *event, const char *reason)
{
	const struct tls_identity *id = c->identity;
	struct audit_field f[5];
	char conn_id[24];

	if (c->srv->audit == NULL)
		return;
	snprintf(conn_id, sizeof(conn_id), "%llu", (unsigned long long)c->id);
	f[0] = (struct audit_field){ "conn", conn_id };
	f[1] = (struct audit_field){ "peer", c->peer };
	f[2] = (struct audit_field){ "reason", reason };
	f[3] = (struct audit_field){ "subject", id != NULL ? id->subject : c->hs_subject };
	f[4] = (struct audit_field){ "fingerprint", id != NULL ? id->fingerprint :
	    c->hs_fingerprint[0] != '\0' ? c->hs_fingerprint : NULL };
	if (audit_note(c->srv->audit, event, f, 5) != 0)
		conn_log(c, LOG_LEVEL_DEBUG, "the refusal's audit line was not written");
}

/* The handshake finished: reads the client identity once, for access checks and logs. */
static void
conn_handshake_done(struct conn *c)
{
	struct server *srv = c->srv;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char *cause = NULL, why[256];
	const struct tls_identity *id;

	if (tls_identity_get(ssl, &c->identity, &cause) != 0) {
		srv->metrics.hs_failed[METRICS_HS_IDENTITY]++;
		c->tls_failed = true;
		conn_audit_refused(c, "tls_identity_refused", cause ? cause : "client certificate unusable");
		conn_close_deferred(c, LOG_LEVEL_WARN, "client certificate unusable: %s", cause ? cause : "?");
		free(cause);
		return;
	}
	id = c->identity;
	switch (srv->cfg->access.identity) {
	case CONFIG_IDENTITY_DN:
		c->who = id->subject;
		break;
	case CONFIG_IDENTITY_SAN:	/* any type: kept for the owners existing stores hold */
		c->who = id->nsans > 0 ? id->sans[0].value : NULL;
		break;
	case CONFIG_IDENTITY_SAN_DNS:	/* one type only, so "DNS:x" and "URI:x" are never one identity */
		c->who = tls_identity_first_san(id, TLS_SAN_DNS);
		break;
	case CONFIG_IDENTITY_SAN_URI:
		c->who = tls_identity_first_san(id, TLS_SAN_URI);
		break;
	case CONFIG_IDENTITY_SAN_EMAIL:
		c->who = tls_identity_first_san(id, TLS_SAN_EMAIL);
		break;
	case CONFIG_IDENTITY_FINGERPRINT:
		c->who = id->fingerprint;
		break;
	default:
		c->who = id->cn;
		break;
	}
	if (c->who == NULL || c->who[0] == '\0') {
		static const char *const field[] = { [CONFIG_IDENTITY_CN] = "cn", [CONFIG_IDENTITY_DN] = "dn",
		    [CONFIG_IDENTITY_SAN] = "san", [CONFIG_IDENTITY_FINGERPRINT] = "fingerprint",
		    [CONFIG_IDENTITY_SAN_DNS] = "san:dns: a DNS subjectAltName",
		    [CONFIG_IDENTITY_SAN_URI] = "san:uri: a URI subjectAltName",
		    [CONFIG_IDENTITY_SAN_EMAIL] = "san:email: an email subjectAltName" };

		srv->metrics.hs_failed[METRICS_HS_IDENTITY]++;
		conn_audit_refused(c, "tls_identity_refused", "the client certificate lacks the identity field "
		    "access.identity names");
		conn_close_deferred(c, LOG_LEVEL_WARN, "client certificate (%s) lacks the identity field "
		    "access.identity names (%s)", id->subject, field[srv->cfg->access.identity]);
		return;
	}
	if (server_admit(srv, ssl, c->who, why, sizeof(why)) != 0) {
		/* No close_notify: OpenSSL then drops the session, which must not be resumed either. */
		c->tls_failed = true;
		srv->metrics.hs_failed[METRICS_HS_IDENTITY]++;
		conn_audit_refused(c, "tls_identity_refused", why);
		conn_close_deferred(c, LOG_LEVEL_WARN, "identity %s (certificate serial %s) refused: %s", c->who,
		    id->serial, why);
		return;
	}
	if (budget_conn_identified(srv->budget, c) != 0) {
		conn_close_deferred(c, LOG_LEVEL_ERROR, "out of memory counting the identity's buffered bytes");
		return;
	}
	if ((c->session = session_new(srv->engine, c->id, c->peer, c->who, conn_engine_done, c)) == NULL ||
	    session_set_attributes(c->session, (const char *const *)id->ous, id->nous,
	    (const char *const *)id->tagged, id->nsans) != 0) {
		conn_close_deferred(c, LOG_LEVEL_ERROR, "out of memory opening a session");
		return;
	}
	/*
	 * From now on one read per TLS record or more, not two (header, then body); see conn_read_buffered.
	 * Not during the handshake, which gains nothing by it: a request sent with the client's Finished is read
	 * on its own, after the handshake's last read (the order test_durability's shim tells answers by).
	 */
	SSL_set_read_ahead(ssl, 1);
	c->resumed = SSL_session_reused(ssl);
	srv->stats.handshakes++;
	if (c->resumed)
		srv->stats.resumed++;
	conn_log(c, LOG_LEVEL_DEBUG, "%s handshake done%s, %s", tls_version_str(ssl),
	    c->resumed ? " (resumed)" : "", SSL_get_cipher_name(ssl));
	conn_set_state(c, CONN_READING);
}

/* Closes c, and audits why, when the current CRLs or identity lists refuse it (see conn.h). */
bool
conn_recheck(struct conn *c)
{
	char why[256];
	SSL *ssl;

	if (c->identity == NULL || c->who == NULL || c->session == NULL)
		return false;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (server_admit(c->srv, ssl, c->who, why, sizeof(why)) == 0)
		return false;
	/* Closed with close_notify (the client sees a clean end), but its session must not resume. */
	if (SSL_get_session(ssl) != NULL)
		SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), SSL_get_session(ssl));
	conn_audit_refused(c, "identity_refused_at_reload", why);
	conn_close_now(c, LOG_LEVEL_WARN, "identity %s (certificate serial %s) refused at reload: %s", c->who,
	    c->identity->serial, why);
	return true;
}

/* True when the peer has not sent a byte on the connection (not even the start of a TLS handshake). */
static bool
conn_sent_nothing(const struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	BIO *rbio = ssl != NULL ? SSL_get_rbio(ssl) : NULL;

	return rbio != NULL && BIO_number_read(rbio) == 0;
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char errs[512];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_handshake_done(c);
		if (c->state == CONN_READING)
			conn_process_input(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		conn_tls_errors(c, errs, sizeof(errs));
		c->tls_failed = true;
		if (c->state == CONN_HANDSHAKING) {
			c->srv->stats.handshake_failures++;
			/* No certificate, or one that did not verify (conn_tls_errors says which). */
			c->srv->metrics.hs_failed[strstr(errs, "certificate") != NULL ? METRICS_HS_CERTIFICATE :
			    METRICS_HS_PROTOCOL]++;
			conn_audit_refused(c, "tls_handshake_failed", errs);
			conn_close_now(c, log_limit_level(&c->srv->handshake_log, LOG_LEVEL_WARN, "failed handshakes"),
			    "TLS handshake failed: %s", errs);
		} else {
			conn_close_now(c, LOG_LEVEL_INFO, "connection error: %s", errs);
		}
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->state == CONN_HANDSHAKING && conn_sent_nothing(c)) {
			/* A load balancer's TCP health check: not a client, nothing to audit. */
			c->tls_failed = true;
			c->srv->stats.probes++;
			conn_close_now(c, LOG_LEVEL_DEBUG, "closed without sending anything (a TCP probe)");
		} else if (c->state == CONN_HANDSHAKING) {
			c->tls_failed = true;
			c->srv->stats.handshake_failures++;
			c->srv->metrics.hs_failed[METRICS_HS_PEER_CLOSED]++;
			conn_audit_refused(c, "tls_handshake_failed", "peer closed during the TLS handshake");
			conn_close_now(c, log_limit_level(&c->srv->handshake_log, LOG_LEVEL_INFO, "failed handshakes"),
			    "peer closed during the TLS handshake");
		} else if (ttlv_decoder_busy(c->dec)) {
			conn_close_now(c, LOG_LEVEL_WARN, "peer closed in the middle of a request");
		} else if (c->state == CONN_CLOSING) {
			conn_close_now(c, c->close_level, "%s", c->close_reason);
		} else {
			conn_close_now(c, LOG_LEVEL_DEBUG, "peer closed");
		}
	}
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	const struct kmipd_config *cfg = c->srv->cfg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_HANDSHAKING:
		c->tls_failed = true;
		c->srv->stats.handshake_failures++;
		c->srv->metrics.hs_failed[METRICS_HS_TIMEOUT]++;
		conn_audit_refused(c, "tls_handshake_failed", "TLS handshake not finished in time");
		conn_close_now(c, log_limit_level(&c->srv->handshake_log, LOG_LEVEL_WARN, "failed handshakes"),
		    "TLS handshake not finished within %u s",
		    cfg->server.handshake_timeout);
		break;
	case CONN_READING:
		if (c->request_timer)
			conn_close_now(c, LOG_LEVEL_WARN, "request not complete within %u s (%llu bytes announced)",
			    cfg->server.request_timeout, (unsigned long long)ttlv_decoder_announced(c->dec));
		else
			conn_close_now(c, LOG_LEVEL_DEBUG, "idle for %u s", cfg->server.idle_timeout);
		break;
	case CONN_WRITING:
		conn_close_now(c, LOG_LEVEL_WARN, "client did not read its responses (%zu bytes unsent)",
		    evbuffer_get_length(bufferevent_get_output(c->bev)));
		break;
	case CONN_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			c->tls_failed = true;
		conn_close_now(c, c->close_level, "%s", c->close_reason);
		break;
	case CONN_WAITING:
		conn_close_now(c, LOG_LEVEL_ERROR, "bug: timer fired while waiting for the engine");
		break;
	}
}

/*
 * With read-ahead (conn_new) one read takes every TLS record the socket holds into OpenSSL, and
 * bufferevent_openssl (libevent 2.1) decrypts only the first: it goes on while SSL_pending() counts
 * decrypted bytes, which a whole record not yet decrypted is not. The others would wait for the socket to
 * become readable again, which it never does when the client sent them all and waits for their answers;
 * and while reading is paused (backpressure, the budget), records can only pile up there. So whenever c
 * reads and OpenSSL holds bytes of its stream, libevent is made to read again, from that buffer (a partial
 * record reads the socket once more, finds nothing new and waits for it as usual).
 */
void
conn_read_buffered(struct conn *c)
{
	SSL *ssl;

	if (c->state != CONN_READING || c->paused || c->id_paused ||
	    !(bufferevent_get_enabled(c->bev) & EV_READ))
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl != NULL && SSL_has_pending(ssl))
		event_active(&c->bev->ev_read, EV_READ, 1);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process_input(arg);
}

/* Output drained to the low-water mark: finish a close, or resume reading after backpressure. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_close_now(c, c->close_level, "%s", c->close_reason);
		return;
	}
	if (c->state == CONN_WRITING) {
		conn_set_state(c, CONN_READING);
		conn_process_input(c);
	}
}

/*
 * Sends one response (buf NULL: the engine could not make one, and silence must not pass for success); now
 * as conn_send_buf.
 */
static void
conn_respond(struct conn *c, uint8_t *buf, size_t len, bool now)
{
	c->requests++;
	c->srv->stats.requests++;
	metrics_observe(&c->srv->metrics.request_latency, (uint64_t)(clock_us() - c->req_started_us));
	if (buf == NULL) {
		c->tls_failed = true;
		conn_close_deferred(c, LOG_LEVEL_ERROR, "no response could be made for a request");
		return;
	}
	if (conn_send_buf(c, buf, len, now) != 0) {
		conn_close_deferred(c, LOG_LEVEL_ERROR, "out of memory queueing a response");
		return;
	}
	conn_check_backpressure(c);
}

/* Hands one decoded request to the engine; its answer is sent now or arrives in conn_engine_done(). */
static void
conn_answer(struct conn *c, struct ttlv *root, struct ttlv_arena *arena)
{
	uint8_t *buf;
	size_t len;

	c->req_started_us = clock_us();
	if (engine_request(c->session, root, arena, &buf, &len) == ENGINE_PENDING) {
		/* A response held for the group commit is memory this connection made kmipd spend. */
		c->engine_held = session_held_bytes(c->session);
		budget_charge(c->srv->budget, c, (int64_t)c->engine_held);
		conn_set_state(c, CONN_WAITING);
		return;
	}
	/* Audited, and durable with what it read (the engine holds answers while writes are staged). */
	conn_respond(c, buf, len, true);
}

/* The engine's answer to the request c waited for: send it and go on with the requests queued behind it. */
static void
conn_engine_done(void *arg, uint8_t *buf, size_t len)
{
	struct conn *c = arg;

	budget_charge(c->srv->budget, c, -(int64_t)c->engine_held);
	c->engine_held = 0;
	conn_set_state(c, CONN_READING);
	/*
	 * Queued, not written now: the commit releases every held answer before it writes their audit lines,
	 * which must be on disk before a client has its answer.
	 */
	conn_respond(c, buf, len, false);
	conn_process_input(c);
}

/* Above the high-water mark of unsent output, stop reading until it drains. */
static void
conn_check_backpressure(struct conn *c)
{
	struct server *srv = c->srv;

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > srv->cfg->server.write_high_water) {
		bufferevent_setwatermark(c->bev, EV_WRITE, srv->cfg->server.write_high_water / 2, 0);
		conn_set_state(c, CONN_WRITING);
	}
}

/* A change of the input or output buffer: the budget counts what they hold. */
static void
conn_buf_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	int64_t delta = (int64_t)info->n_added - (int64_t)info->n_deleted;

	(void)buf;
	if (c->moving)
		c->moved += delta;
	else
		budget_charge(c->srv->budget, c, delta);
}

/*
 * The decoder's partial message changed size: the budget counts it too, together with what the input
 * buffer gave up for it, so that bytes moving from one to the other are not taken for growth.
 */
static void
conn_charge_decoder(struct conn *c)
{
	uint64_t now = ttlv_decoder_held(c->dec);

	budget_charge(c->srv->budget, c, (int64_t)now - (int64_t)c->dec_held + c->moved);
	c->dec_held = now;
	c->moved = 0;
}

/* Malformed TTLV: the stream cannot be resynchronised, so answer Invalid Message and close. */
static void
conn_bad_message(struct conn *c)
{
	const char *what;
	uint64_t off;
	enum ttlv_err err = ttlv_decoder_error(c->dec, &off, &what);
	uint8_t *buf;
	size_t len;

	c->srv->stats.bad_messages++;
	engine_bad_message(what, &buf, &len);
	if (buf == NULL || conn_send_buf(c, buf, len, true) != 0)
		c->tls_failed = true;
	conn_close_deferred(c, LOG_LEVEL_WARN, "malformed message: %s at byte %llu (%s)", what,
	    (unsigned long long)off, ttlv_err_str(err));
}

/*
 * Feeds buffered input to the decoder and answers each complete request, in order, at most
 * max_requests_per_event of them, and none more once CONN_SLICE_US have gone on this connection's
 * requests, before yielding to other connections: a client pipelining costly requests (Locates at their
 * scan budget, large batches) then delays the others by about one request each, not by its whole pipeline.
 */
static void
conn_process_input(struct conn *c)
{
	struct server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	unsigned handled = 0;
	int64_t start = 0;

	while (c->state == CONN_READING && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		struct ttlv_arena *arena;
		struct ttlv *root;
		enum ttlv_status st;
		size_t used;

		if (handled >= srv->cfg->server.max_requests_per_event ||
		    (handled > 0 && clock_us() - start >= CONN_SLICE_US)) {
			/* Let the other connections run; continue on the next loop iteration. */
			bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
			break;
		}
		/* Its identity is over its share: nothing more is read or run for it until it is back under. */
		if (!budget_may_dispatch(srv->budget, c))
			break;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = ttlv_decoder_feed(c->dec, v.iov_base, v.iov_len, &used);
		c->moving = true;
		evbuffer_drain(in, used);
		c->moving = false;
		conn_charge_decoder(c);
		if (st == TTLV_NEED_MORE)
			continue;
		if (st == TTLV_ERROR) {
			conn_bad_message(c);
			return;
		}
		if (handled++ == 0)
			start = clock_us();
		root = ttlv_decoder_take(c->dec, &arena);
		conn_charge_decoder(c);
		conn_answer(c, root, arena);
	}
	if (c->state != CONN_READING)
		return;
	if (srv->stopping && !ttlv_decoder_busy(c->dec)) {
		conn_close_deferred(c, LOG_LEVEL_DEBUG, "server shutting down");
		return;
	}
	conn_arm_reading_timer(c);
	conn_read_buffered(c);
}

/* Closes an idle connection now, or lets a busy one finish its request first. */
void
conn_drain(struct conn *c)
{
	if (c->state == CONN_HANDSHAKING) {
		c->tls_failed = true;
		conn_close_now(c, LOG_LEVEL_DEBUG, "server shutting down");
	} else if (c->state == CONN_READING && !ttlv_decoder_busy(c->dec)) {
		conn_close_now(c, LOG_LEVEL_DEBUG, "server shutting down");
	}
}

/* Formats a socket address as "a.b.c.d:port" or "[v6]:port". */
static void
format_peer(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, size, "?");
	}
}

/* Takes over an accepted socket; see conn.h. */
struct conn *
conn_new(struct server *srv, int fd, const struct sockaddr *sa, int salen)
{
	struct ttlv_limits lim = { 0 };
	struct conn *c;
	SSL *ssl = NULL;
	int one = 1;

	(void)salen;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: connection state");
		close(fd);
		return NULL;
	}
	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->started_us = clock_us();
	c->state = CONN_HANDSHAKING;	/* where conn_set_state() starts from */
	format_peer(sa, c->peer, sizeof(c->peer));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	lim.max_message_size = (uint32_t)srv->cfg->server.max_message_size;
	if ((c->dec = ttlv_decoder_new(&lim)) == NULL)
		goto fail;
	if ((c->timer = evtimer_new(srv->base, conn_timer_cb, c)) == NULL)
		goto fail;
	if ((ssl = SSL_new(tls_server_ctx(srv->tls))) == NULL)
		goto fail;
	/* The certificate a client sends is noted for the audit line of a handshake that fails. */
	if (srv->audit != NULL && conn_ex_index() >= 0 && SSL_set_ex_data(ssl, conn_ex_index(), c) == 1)
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), conn_verify_cb);
	/*
	 * Deferred callbacks: libevent may otherwise report a failed write from inside the call that queued
	 * the output (conn_send), and closing the connection there would free it under its callers.
	 */
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL)
		goto fail;
	ssl = NULL;	/* owned by the bufferevent now, and so is fd */
	fd = -1;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	if ((c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), conn_buf_cb, c)) == NULL ||
	    (c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), conn_buf_cb, c)) == NULL)
		goto fail;
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIGH_WATER);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0)
		goto fail;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	conn_set_state(c, CONN_HANDSHAKING);
	conn_log(c, LOG_LEVEL_DEBUG, "accepted (%u open)", srv->nconns);
	return c;
fail:
	log_warnx("conn %llu %s: out of memory setting up the connection", (unsigned long long)c->id, c->peer);
	if (c->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (ssl != NULL)
		SSL_free(ssl);
	if (fd != -1)
		close(fd);
	if (c->timer != NULL)
		event_free(c->timer);
	ttlv_decoder_free(c->dec);
	free(c);
	ERR_clear_error();
	return NULL;
}
