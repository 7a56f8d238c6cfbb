/*
 * The KMIP engine: turns one decoded Request Message into one encoded Response Message. It never sees the
 * transport: a connection (or a test, or a fuzz target) opens a session for one client identity and hands
 * it requests; the engine answers each one at once or later, through the session's completion callback.
 *
 * Two things make an answer late: the worker processes (a Credential the cache does not know waits for its
 * PBKDF2 derivation, CreateKeyPair for its key pair, Register of an RSA key sent without its primes for their
 * recovery; the loop does not wait) and durability (a request that wrote is answered only once the group
 * commit has made its writes durable). The caller of engine_request() does not need to know which: ENGINE_DONE means "send this now",
 * ENGINE_PENDING means "the callback will bring the response".
 *
 * Everything runs in the loop's one thread. Symbol prefixes: engine_, session_.
 */
#ifndef KMIPD_ENGINE_H
#define KMIPD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

struct access_policy;
struct audit;
struct keygen;
struct kmipd_config;
struct store;
struct ttlv;
struct ttlv_arena;

/*
 * What the engine works with. The config, the access policy and the audit trail are replaced whole on a
 * reload (engine_reload); the store and the key-generation workers live as long as the engine.
 */
struct store_rgroup;

struct engine_env {
	const struct kmipd_config *cfg;
	struct access_policy *policy;	/* admins, shares, Credentials (and the cache of verified ones) */
	struct audit *audit;		/* NULL: no audit trail */
	struct store *store;
	struct keygen *keygen;		/* NULL: CreateKeyPair and Re-key Key Pair answer a failure */
	/* Called when a response waits for the group commit: arrange an engine_commit() once the loop's
	 * pending I/O has run (the server does it at the lowest event priority). */
	void (*schedule_commit)(void *arg);
	void *schedule_arg;
	/* NULL, or called after each batch item with its Operation, whether it succeeded and its run time (us). */
	void (*item_done)(void *arg, uint32_t operation, bool ok, uint64_t us);
	void *item_arg;
	/*
	 * NULL, or the clustered store (core/cluster.h): engine_commit takes the group out of the store
	 * (store_repl_take) and hands it over; the responses that waited for it stay held until the callee gives
	 * it back through engine_replicated. One group at a time: what is answered meanwhile waits for the next.
	 */
	void (*replicate)(void *arg, struct store_rgroup *g);
	void *replicate_arg;
	/*
	 * NULL, or whether object requests are refused (a cluster node out of touch with etcd for longer than
	 * store.max_staleness): true with the reason in msg. Query and Discover Versions are always answered.
	 */
	bool (*unavailable)(void *arg, char *msg, size_t size);
	void *unavailable_arg;
};

struct engine;
struct session;

/* A new engine working with env (copied). NULL when out of memory. */
struct engine *engine_new(const struct engine_env *env) __attribute__((warn_unused_result));
/* Frees the engine; every session must be freed first. Does not free what env points to. */
void engine_free(struct engine *e);
/* Swaps in a reloaded config, policy and audit trail; the caller frees the old ones after this returns. */
void engine_reload(struct engine *e, const struct kmipd_config *cfg, struct access_policy *policy,
    struct audit *audit);
/*
 * Makes the group of writes durable (one commit, one fsync) and delivers every response that waited for
 * it through its session's callback: as answered when the commit succeeded, else as a failure of each of
 * its batch items (nothing of it was kept). Returns 0, or a store error (already logged).
 */
int engine_commit(struct engine *e);
/* Responses waiting for engine_commit() (or for a group on its way to etcd). */
unsigned engine_held(const struct engine *e);
/*
 * The group given to env.replicate is decided (store_repl_committed, _conflict, _refused): reports the change
 * sets that failed, releases the responses that waited for it, writes their audit lines, and frees g.
 */
void engine_replicated(struct engine *e, struct store_rgroup *g);

/*
 * Delivers the response to a request that engine_request() answered ENGINE_PENDING: buf (len bytes,
 * malloc'd) now belongs to the callee, which wipes and frees it (it may carry key material). buf NULL:
 * not even an error response could be written; the client must not take silence for success, so close.
 * Called from the loop, never from inside an engine_* or session_* call of the same session.
 */
typedef void (*session_done_fn)(void *arg, uint8_t *buf, size_t len);

/*
 * A session: the KMIP state of one client connection. identity is who the client is (from its
 * certificate: owner of what it creates); id and peer name the connection in logs and the audit trail.
 * Strings are copied. NULL when out of memory.
 */
struct session *session_new(struct engine *e, uint64_t id, const char *peer, const char *identity,
    session_done_fn done, void *done_arg) __attribute__((warn_unused_result));
/*
 * Gives the session the certificate attributes access.grants may name: the subject's OUs and its
 * subjectAltNames as "TYPE:value" (TYPE DNS, URI, email or IP). Copied. 0, or -1 when out of memory.
 */
int session_set_attributes(struct session *s, const char *const *ous, size_t nous, const char *const *sans,
    size_t nsans) __attribute__((warn_unused_result));
/* Frees a session: a request it has pending is dropped (its key generation cancelled, a held response
 * wiped; its writes stay in the group: they were made). NULL is accepted. */
void session_free(struct session *s);
/* Logs a line prefixed with the session's connection id, peer and identity. */
void session_log(const struct session *s, enum log_level level, const char *fmt, ...) LOG_PRINTF(3, 4);

enum engine_status {
	ENGINE_DONE,		/* *resp holds the response (NULL when it could not be encoded: close) */
	ENGINE_PENDING,		/* the session's callback will deliver the response */
};

/*
 * Answers the request in root (a decoded Request Message in arena). The engine takes the arena either way
 * and frees it when done. ENGINE_DONE: *resp (malloc'd, *resp_len bytes) is the caller's to send, wipe
 * and free. ENGINE_PENDING: nothing more may be submitted on this session until the callback has run.
 */
/*
 * Bytes of the response the engine holds for s until the group commit makes it durable (0 when none, or
 * when the request waits for a worker instead): the transport counts them against its memory budgets.
 */
size_t session_held_bytes(const struct session *s);

enum engine_status engine_request(struct session *s, struct ttlv *root, struct ttlv_arena *arena,
    uint8_t **resp, size_t *resp_len);
/*
 * The response to bytes that did not decode as TTLV (the stream cannot be resynchronised: the caller
 * closes after sending it). Malloc'd into *resp, or NULL when out of memory.
 */
void engine_bad_message(const char *why, uint8_t **resp, size_t *resp_len);

#endif
