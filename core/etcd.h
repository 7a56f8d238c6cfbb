/*
 * core/etcd.h: an asynchronous client of etcd's v3 HTTP/JSON gateway (issue 19), on the caller's libevent
 * base, with libevent's HTTP client: no threads, no blocking call after etcd_new. Replies are decoded by
 * proto/jstream.h's etcdj_ decoder.
 *
 * Requests (Range, Put, DeleteRange, Txn, Compaction, the compaction readback) go through one FIFO queue of at
 * most max_queue requests, one at a time on one keep-alive connection to the current endpoint, so writes
 * reach etcd in the order they were made. Failover: a connection error, a timeout or HTTP 503 moves the client
 * to the next endpoint (round-robin) after a back-off; a request that was not sent, and any read, is tried
 * there again (at most 2 attempts per endpoint); a write that was sent and got no answer (a timeout, a lost
 * connection, 503 "request timed out") is reported ETCD_UNKNOWN and never retried: it may have committed, so
 * the caller must find out (a Txn guarded by a revision compare can be resubmitted safely). A write is never
 * reported refused unless etcd said so or it never left this process.
 *
 * Authentication (options.user and password_file): the first request gets a token from
 * /v3/auth/authenticate and sends it in the Authorization header; a token etcd no longer knows (gRPC code 16,
 * "invalid auth token", e.g. after --auth-token-ttl) is renewed once and the request tried again (etcd checks
 * the token before it proposes anything, so the retry cannot write twice).
 *
 * TLS (https:// endpoints): the client certificate and key, the CA that must have signed etcd's certificate,
 * and the endpoint's host checked against the certificate (a DNS name, or an IP address literal against its
 * IP subjectAltNames). Host names are resolved once, by etcd_new (IPv4 first): the loop never waits on DNS.
 *
 * Watches: each on a connection of its own, with no read timeout but a liveness deadline: when no item at
 * all (not even a progress notification) comes within it, the stream is closed and reported, so the caller
 * restarts from its last revision (on the next endpoint: a stream that failed moves the client on).
 *
 * Bounds: max_queue requests; each request body at most max_request_bytes; each reply at most
 * max_reply_bytes (HTTP body); a watch item at most limits.json.max_value_size, the bytes buffered for one
 * HTTP chunk of the stream as much (a larger chunk stalls the stream until the liveness deadline closes it);
 * at most max_events_per_call events handed to the watch callback at once.
 *
 * Callbacks run from the event loop, never from within the call that made the request. Caveats: etcd_free
 * calls no callback (requests in flight are dropped: a write among them is, for the caller, UNKNOWN); a
 * watch may be freed from its own callback; the client may not be freed from any of its callbacks.
 *
 * Symbol prefix: etcd_.
 */
#ifndef KMIPD_CORE_ETCD_H
#define KMIPD_CORE_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/jstream.h"

#define ETCD_WUR __attribute__((warn_unused_result))

#define ETCD_MAX_ENDPOINTS	16

struct event_base;

struct etcd_options {
	const char *const *endpoints;	/* "http://127.0.0.1:2379", "https://etcd1.example:2379", ... */
	size_t n_endpoints;		/* 1 to ETCD_MAX_ENDPOINTS */
	/* TLS, required when an endpoint is https: PEM files. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *server_name;	/* checked in etcd's certificates instead of each endpoint's host, or NULL */
	/* etcd authentication: both or neither. The file holds the password (one line; a final newline is cut). */
	const char *user;
	const char *password_file;
	int request_timeout_ms;		/* one attempt of one request, once connected (default 5000) */
	int connect_timeout_ms;		/* TCP and TLS handshake of a new connection (default 2000) */
	int backoff_ms;			/* before trying the next endpoint, times the attempt, at most 1 s (50) */
	size_t max_reply_bytes;		/* HTTP body of one reply (default 4 MiB) */
	size_t max_request_bytes;	/* JSON body of one request (default 3 MiB: etcd takes 1.5 MiB decoded) */
	size_t max_queue;		/* requests queued or in flight (default 1024) */
	size_t max_events_per_call;	/* events handed to a watch callback at once (default 128) */
	struct etcdj_limits limits;	/* the decoder's, for replies and watch items */
};

/* The defaults above, with decoder limits that hold etcd's largest request (1.5 MiB values). */
void etcd_options_default(struct etcd_options *o);

enum etcd_status {
	ETCD_OK,		/* etcd answered (HTTP 200): reply holds it; a Txn's reply->succeeded tells its compares */
	ETCD_REFUSED,		/* etcd answered with an error (reply->code, reply->message): nothing was written */
	ETCD_UNAVAILABLE,	/* no endpoint took the request in the attempts allowed: it was never sent */
	ETCD_UNKNOWN,		/* a write sent without an answer: it may have committed */
	ETCD_AUTH,		/* authentication refused (a wrong user or password): nothing was sent */
};

/* The outcome of one request; valid only during the callback. */
struct etcd_result {
	enum etcd_status status;
	const struct etcdj_reply *reply;	/* ETCD_OK, and ETCD_REFUSED / ETCD_AUTH when etcd sent a reason */
	int http_status;			/* the last HTTP status, 0 when none came */
	const char *reason;			/* a sentence for the log, never NULL */
	const char *endpoint;			/* where the last attempt went */
	int64_t revision;			/* etcd_compacted: the oldest revision still readable */
};

typedef void (*etcd_cb)(const struct etcd_result *res, void *arg);

struct etcd;
struct etcd_txn;
struct etcd_watch;

/*
 * A client on base. Checks the options, reads the password file, resolves the endpoints' host names and
 * loads the TLS files; connects only with the first request. Returns NULL with a malloc'd *cause.
 */
struct etcd *etcd_new(struct event_base *base, const struct etcd_options *o, char **cause) ETCD_WUR;
/* Drops every request and connection without calling back (see the caveats above), wipes the password. */
void etcd_free(struct etcd *e);
/* The endpoint requests go to now (as given in the options). */
const char *etcd_endpoint(const struct etcd *e);

/*
 * The requests. Each returns 0 when queued (cb will be called exactly once, from the loop), or -1 when the
 * queue is full or the request is larger than max_request_bytes (cb is not called). Keys and values are
 * bytes (base64 on the wire). prefix: every key that starts with key (an empty key with prefix: all keys).
 */
struct etcd_range {
	const uint8_t *key;
	size_t key_len;
	bool prefix;
	const uint8_t *range_end;	/* non-NULL: the keys from key up to range_end, excluded (prefix ignored) */
	size_t range_end_len;
	int64_t limit;		/* 0: no limit */
	int64_t revision;	/* 0: the latest */
	bool keys_only;
	bool count_only;
	bool serializable;	/* the member's own copy, without a quorum round: may be stale */
};
int etcd_range(struct etcd *e, const struct etcd_range *r, etcd_cb cb, void *arg) ETCD_WUR;
int etcd_put(struct etcd *e, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len,
    etcd_cb cb, void *arg) ETCD_WUR;
int etcd_delete(struct etcd *e, const uint8_t *key, size_t key_len, bool prefix, etcd_cb cb, void *arg) ETCD_WUR;
/* Compacts etcd's history up to revision (physical: the reply waits until the space is freed). */
int etcd_compact(struct etcd *e, int64_t revision, bool physical, etcd_cb cb, void *arg) ETCD_WUR;
/*
 * Finds the oldest revision a Range or a watch may still start from (result.revision: etcd's compaction
 * revision, or 1 when nothing was compacted), by a binary search of counts of key (1 to 256 bytes, one the
 * user may read; whether it exists does not matter) at past revisions: about log2(current revision)
 * requests, for a start or a catch-up, not for every write. -1 also for a key out of bounds.
 */
int etcd_compacted(struct etcd *e, const uint8_t *key, size_t key_len, etcd_cb cb, void *arg) ETCD_WUR;

/*
 * A Txn: compares, then the success or the failure branch of puts, deletes and ranges. Built with the calls
 * below (each returns 0, or -1 when the Txn outgrew max_request_bytes: then only etcd_txn_free is
 * allowed), sent with etcd_txn_send, which takes it whatever it returns. etcd itself allows 128 operations
 * per branch and one key once (--max-txn-ops): the caller splits.
 */
enum etcd_cmp_target {
	ETCD_CMP_VERSION,	/* the key's version (0: the key does not exist) */
	ETCD_CMP_CREATE,	/* its create_revision */
	ETCD_CMP_MOD,		/* its mod_revision */
};
enum etcd_cmp_result {
	ETCD_CMP_EQUAL,
	ETCD_CMP_NOT_EQUAL,
	ETCD_CMP_LESS,
	ETCD_CMP_GREATER,
};
struct etcd_txn *etcd_txn_new(struct etcd *e) ETCD_WUR;
int etcd_txn_compare(struct etcd_txn *t, const uint8_t *key, size_t key_len, enum etcd_cmp_target target,
    enum etcd_cmp_result result, int64_t value) ETCD_WUR;
int etcd_txn_put(struct etcd_txn *t, bool success, const uint8_t *key, size_t key_len, const uint8_t *value,
    size_t value_len) ETCD_WUR;
int etcd_txn_delete(struct etcd_txn *t, bool success, const uint8_t *key, size_t key_len, bool prefix) ETCD_WUR;
int etcd_txn_range(struct etcd_txn *t, bool success, const struct etcd_range *r) ETCD_WUR;
/* Queues the Txn as etcd_put does (a write: ETCD_UNKNOWN when sent without an answer) and frees t. */
int etcd_txn_send(struct etcd_txn *t, etcd_cb cb, void *arg) ETCD_WUR;
void etcd_txn_free(struct etcd_txn *t);

/* What a watch reports. After ETCD_WATCH_CANCELED, _COMPACTED or _ERROR the stream is closed. */
enum etcd_watch_what {
	ETCD_WATCH_CREATED,	/* etcd accepted the watch */
	ETCD_WATCH_EVENTS,	/* events (item->events[first .. first + n)), in revision order */
	ETCD_WATCH_PROGRESS,	/* a progress notification: nothing changed up to revision */
	ETCD_WATCH_COMPACTED,	/* start_revision was compacted: compact_revision is the oldest one left */
	ETCD_WATCH_CANCELED,	/* etcd canceled it (reason) */
	ETCD_WATCH_ERROR,	/* the stream broke: a connection error, no item within the liveness, bad data */
};

struct etcd_watch_report {
	enum etcd_watch_what what;
	const struct etcdj_reply *item;	/* the item (EVENTS, PROGRESS, CREATED, CANCELED, COMPACTED), else NULL */
	size_t first;			/* EVENTS: the events delivered */
	size_t n;
	int64_t revision;		/* the item's header revision */
	int64_t compact_revision;	/* COMPACTED */
	const char *reason;		/* CANCELED, ERROR: a sentence for the log */
	const char *endpoint;
};

typedef void (*etcd_watch_cb)(const struct etcd_watch_report *rep, void *arg);

struct etcd_watch_options {
	const uint8_t *key;
	size_t key_len;
	bool prefix;
	int64_t start_revision;	/* 0: from now */
	bool prev_kv;
	bool progress_notify;	/* etcd sends one every --experimental-watch-progress-notify-interval */
	bool fragment;		/* etcd cuts items larger than its request limit (item->fragment on all but the last) */
	int liveness_ms;	/* no item within it: ETCD_WATCH_ERROR; must exceed etcd's progress interval */
};

/*
 * Starts a watch (after authenticating when the client has a user) and reports to cb until it is closed.
 * Returns NULL with a malloc'd *cause when the options are wrong or memory is short.
 */
struct etcd_watch *etcd_watch_start(struct etcd *e, const struct etcd_watch_options *o, etcd_watch_cb cb,
    void *arg, char **cause) ETCD_WUR;
/* Closes the watch (etcd drops it with the connection) without calling back. Allowed from its callback. */
void etcd_watch_free(struct etcd_watch *w);

#endif
