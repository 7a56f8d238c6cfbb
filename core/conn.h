/*
 * One client connection: a bufferevent_openssl, an incremental TTLV decoder and an explicit state that
 * changes only through conn_set_state(), which checks the transition and arms the phase's deadline.
 */
#ifndef KMIPD_CONN_H
#define KMIPD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "core/log.h"

struct server;
struct bufferevent;
struct crypto_streams;
struct dispatch_pending;
struct ttlv_enc;
struct ttlv_decoder;
struct tls_identity;

enum conn_state {
	CONN_HANDSHAKING,	/* TLS handshake under way; handshake deadline */
	CONN_READING,		/* waiting for or receiving a request; idle or request deadline */
	CONN_PROCESSING,	/* a request is being answered (keygen, group commit); reading paused */
	CONN_WRITING,		/* unsent output above the high-water mark; reading paused until it drains */
	CONN_CLOSING,		/* last output flushing, then close; short deadline */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) held_entry;	/* on srv->held while its response waits for a group commit */
	struct server *srv;
	uint64_t id;
	enum conn_state state;
	struct bufferevent *bev;
	struct event *timer;
	struct ttlv_decoder *dec;
	struct tls_identity *identity;
	const char *who;		/* the identity used for ownership and logs (points into identity) */
	bool request_timer;		/* the armed deadline is the request deadline */
	bool resumed;			/* TLS session resumed */
	uint64_t requests;
	unsigned credential_failures;	/* wrong Credentials sent; at ACCESS_CREDENTIAL_TRIES no more are checked */
	struct dispatch_pending *pending;	/* a request waiting for key generation */
	struct crypto_streams *crypto_streams;	/* multi-part Encrypt/Decrypt in progress, or NULL */
	bool held;
	uint8_t *held_buf;		/* the response waiting for the commit (wiped when freed) */
	size_t held_len;
	bool tls_failed;		/* no close_notify: the session must not be resumed */
	enum log_level close_level;
	char close_reason[160];
	char peer[64];			/* "addr:port" or "[addr]:port" */
};

/* Takes over an accepted socket; returns the connection, or NULL after closing fd and logging why. */
struct conn *conn_new(struct server *srv, int fd, const struct sockaddr *sa, int salen);
/*
 * Closes the connection at once, logging why at level, freeing everything in reverse order of acquisition.
 * Only for callers at the top of a libevent callback: deeper code uses conn_closing().
 */
void conn_close(struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
/* Stops reading, lets the output already queued flush, then closes from the loop (never from the caller). */
void conn_closing(struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
/*
 * Releases a response held for a group commit: sent when committed is true; else (the request was not
 * made durable, so it must not be acknowledged) replaced by a General Failure of each batch item, or the
 * connection is closed when even that cannot be written.
 */
void conn_release(struct conn *c, bool committed, const char *why);
/* The response to a request that was pending (key generation) is ready: send it and go on reading. */
void conn_request_done(struct conn *c, struct ttlv_enc *out);
/* Asks a connection to stop after its current request (server shutdown). */
void conn_drain(struct conn *c);
/* Logs a line prefixed with the connection id, peer and identity. */
void conn_log(const struct conn *c, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);
const char *conn_state_name(enum conn_state s);

#endif
