/*
 * One client connection: the transport only. A bufferevent_openssl, an incremental TTLV decoder, an
 * explicit state that changes only through conn_set_state() (which checks the transition and arms the
 * phase's deadline), and, once the handshake has named the client, one engine session that answers its
 * requests.
 */
#ifndef KMIPD_CONN_H
#define KMIPD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "core/log.h"

struct server;
struct source;
struct budget_ident;
struct bufferevent;
struct evbuffer_cb_entry;
struct session;
struct ttlv_decoder;
struct tls_identity;

enum conn_state {
	CONN_HANDSHAKING,	/* TLS handshake under way; handshake deadline */
	CONN_READING,		/* waiting for or receiving a request; idle or request deadline */
	CONN_WAITING,		/* the engine has the request and will call back (conn_engine_done); not read */
	CONN_WRITING,		/* unsent output above the high-water mark; reading paused until it drains */
	CONN_CLOSING,		/* last output flushing, then close; short deadline */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct server *srv;
	uint64_t id;
	enum conn_state state;
	struct bufferevent *bev;
	struct event *timer;
	struct ttlv_decoder *dec;
	struct tls_identity *identity;
	const char *who;		/* the identity used for ownership and logs (points into identity) */
	struct session *session;	/* the client's KMIP state, from the end of the handshake */
	struct source *src;		/* what its address holds (core/sources.h); NULL until attached */
	TAILQ_ENTRY(conn) src_entry;	/* on src's list of handshaking connections, while src_handshaking */
	bool src_handshaking;
	bool request_timer;		/* the armed deadline is the request deadline */
	bool resumed;			/* TLS session resumed */
	int64_t started_us;		/* when it was accepted (clock_us) */
	uint64_t requests;
	int64_t req_started_us;		/* clock_us() when the request being answered went to the engine */
	/* The server-wide budget (budget.c): bytes this connection holds, and whether it is paused for it. */
	uint64_t held;			/* unsent output + unread input + the partial request in the decoder */
	uint64_t dec_held;		/* the decoder's part of held */
	uint64_t engine_held;		/* the response the engine holds for the group commit, part of held */
	bool paused;			/* not read until the budget allows (on the budget's paused list) */
	bool moving;			/* input going to the decoder: its drain is charged with the decoder */
	int64_t moved;			/* what the input buffer gave up meanwhile */
	TAILQ_ENTRY(conn) paused_entry;
	struct budget_ident *ident;	/* what its identity holds, from the end of the handshake */
	bool id_paused;			/* not read nor dispatched: its identity is over its share */
	TAILQ_ENTRY(conn) id_entry;	/* on its identity's list of those, while id_paused */
	/*
	 * Whether it reads what it is sent, as the budget last saw it: bytes its TLS layer had written to the
	 * socket then, when (ms), and the budget run that last acted on it.
	 */
	uint64_t budget_sent;
	int64_t budget_seen_ms;
	unsigned budget_run;
	struct evbuffer_cb_entry *in_cb, *out_cb;	/* report changes of the bufferevent's buffers */
	bool tls_failed;		/* no close_notify: the session must not be resumed */
	enum log_level close_level;
	char close_reason[160];
	char peer[64];			/* "addr:port" or "[addr]:port" */
	/* The certificate a client sent during the handshake, for the audit line of a failed one. */
	char *hs_subject;		/* its subject (malloc'd), or NULL */
	char hs_fingerprint[65];	/* its SHA-256, lowercase hex, or "" */
};

/* Takes over an accepted socket; returns the connection, or NULL after closing fd and logging why. */
struct conn *conn_new(struct server *srv, int fd, const struct sockaddr *sa, int salen);
/*
 * Closes the connection at once, logging why at level, freeing everything in reverse order of acquisition.
 * Only for callers at the top of a libevent callback, which hold no other reference to c: anything deeper
 * uses conn_close_deferred().
 */
void conn_close_now(struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
/*
 * Stops reading, lets the output already queued flush, then closes from the loop: never frees c under its
 * caller. The first reason given is the one logged.
 */
void conn_close_deferred(struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
/*
 * After a reload: closes the connection (at once; call it only from the top of a libevent callback) if its
 * client is no longer admitted (server_admit), logging its identity and certificate serial. Returns true
 * if it was closed.
 */
bool conn_recheck(struct conn *c);
/* Asks a connection to stop after its current request (server shutdown). */
void conn_drain(struct conn *c);
/* Has c's TLS records that OpenSSL already holds read now, when c reads (after a pause, say). */
void conn_read_buffered(struct conn *c);
/* Logs a line prefixed with the connection id, peer and identity. */
void conn_log(const struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
const char *conn_state_name(enum conn_state s);

#endif
