/*
 * The engine and its sessions: what lives longer than one request. Responses that wait for the group
 * commit are held here, on the engine's list, and delivered through their session's callback once the
 * group is durable, or rewritten as failures when it is not.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/access.h"
#include "core/engine/ops.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

/* Makes an engine; see engine.h. */
struct engine *
engine_new(const struct engine_env *env)
{
	struct engine *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if ((e->guard = access_guard_new()) == NULL) {
		free(e);
		return NULL;
	}
	e->env = *env;
	TAILQ_INIT(&e->held);
	TAILQ_INIT(&e->deferred);
	TAILQ_INIT(&e->flight_held);
	TAILQ_INIT(&e->flight_deferred);
	TAILQ_INIT(&e->derivations);
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	dispatch_free_derivations(e);
	dispatch_audit_free(e);
	access_guard_free(e->guard);
	ops_crypto_owners_free(e->crypto_owners);
	free(e);
}

/* Swaps in what a reload rebuilt; see engine.h. */
void
engine_reload(struct engine *e, const struct kmipd_config *cfg, struct access_policy *policy,
    struct audit *audit)
{
	e->env.cfg = cfg;
	if (e->env.policy != policy)
		e->policy_gen++;
	e->env.policy = policy;
	e->env.audit = audit;
}

unsigned
engine_held(const struct engine *e)
{
	return e->nheld + e->nflight;
}

/* Frees a response buffer, wiping it: responses carry key material. */
static void
wipe_free(uint8_t *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/* True when batch item i of the held response must be answered as failed. */
static bool
item_failed(const struct session *s, bool all, uint32_t i)
{
	size_t k;

	if (all || s->conflict_all)
		return true;
	for (k = 0; k < s->nconflicts; k++)
		if (s->conflicts[k] == i)
			return true;
	return false;
}

/*
 * Rewrites a held response whose writes were not all kept: the batch items that lost theirs (every item
 * when all) become failures with err, in the same protocol version, echoing Operation and Unique Batch Item
 * ID; the others stay as they were. 0, or -1 when the held response cannot be read.
 */
static int
rewrite_failed(const struct session *s, bool all, const struct kmip_error *err, struct ttlv_enc *out)
{
	const struct ttlv *pv, *major, *minor, *it;
	struct kmip_response r;
	struct ttlv_arena *a;
	struct ttlv *root;
	uint32_t n, i;

	if (ttlv_decode(s->held_buf, s->held_len, NULL, &root, &a, NULL, NULL) != TTLV_DONE)
		return -1;
	pv = ttlv_find(ttlv_find(root, KMIP_TAG_RESPONSE_HEADER), KMIP_TAG_PROTOCOL_VERSION);
	major = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR);
	minor = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR);
	if (major == NULL || minor == NULL) {
		ttlv_arena_free(a);
		return -1;
	}
	n = ttlv_count(root, KMIP_TAG_BATCH_ITEM);
	kmip_response_begin(&r, out, KMIP_VERSION(major->v.i32 & 0xff, minor->v.i32 & 0xff), engine_now(), n);
	for (it = ttlv_find(root, KMIP_TAG_BATCH_ITEM), i = 0; it != NULL; it = ttlv_find_next(it), i++) {
		const struct ttlv *op = ttlv_find(it, KMIP_TAG_OPERATION);
		struct kmip_batch_item bi;

		if (!item_failed(s, all, i)) {
			ttlv_enc_item(out, it);
			continue;
		}
		memset(&bi, 0, sizeof(bi));
		bi.operation = op != NULL ? op->v.u32 : 0;
		bi.id = ttlv_find(it, KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
		kmip_response_item_error(&r, &bi, KMIP_RESULT_STATUS_OPERATION_FAILED, err);
	}
	kmip_response_end(&r);
	ttlv_arena_free(a);
	return ttlv_enc_finish(out);
}

/* Forgets the conflicts noted for a session's request. */
static void
conflicts_clear(struct session *s)
{
	free(s->conflicts);
	s->conflicts = NULL;
	s->nconflicts = s->conflicts_cap = 0;
	s->conflict_all = false;
	s->conflict_uid[0] = '\0';
}

/*
 * Delivers a held response: as it is when the group commit kept everything of it; with the items that
 * lost their writes to a conflict answered as failures; or, when the commit failed, as a failure of every
 * item (NULL when not even that can be written).
 */
static void
release(struct session *s, bool committed, const char *why)
{
	struct kmip_error err;
	struct ttlv_enc out;
	uint8_t *buf = s->held_buf, *fail;
	size_t flen;
	int rc;

	if (committed && s->nconflicts == 0 && !s->conflict_all) {
		s->held_buf = NULL;
		session_deliver(s, buf, s->held_len);
		return;
	}
	if (committed && s->conflict_reason != NULL)
		kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "%s", s->conflict_reason);
	else if (committed)
		kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "object %s was changed by another writer while "
		    "this request ran; nothing of this item was kept: send it again", s->conflict_uid);
	else
		kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the key store could not make this durable "
		    "(%s); nothing was changed", why != NULL ? why : "commit failed");
	ttlv_enc_init(&out);
	rc = rewrite_failed(s, !committed, &err, &out);
	wipe_free(s->held_buf, s->held_len);
	s->held_buf = NULL;
	conflicts_clear(s);
	fail = rc == 0 ? ttlv_enc_detach(&out, &flen) : NULL;
	ttlv_enc_free(&out);
	if (fail == NULL) {
		session_log(s, LOG_LEVEL_ERROR, "%s: the request was not acknowledged", err.message);
		session_deliver(s, NULL, 0);
		return;
	}
	session_log(s, LOG_LEVEL_ERROR, "%s: answered with a failure", err.message);
	session_deliver(s, fail, flen);
}

/*
 * The store skipped writes of request owner, batch item item (or every item, ENGINE_ITEM_ALL), or writes it
 * read: note it on the session holding that response, if it still waits.
 */
static void
replica_failed(void *arg, uint64_t owner, uint32_t item, const char *uid, const char *reason)
{
	struct engine *e = arg;
	struct session *s;
	uint32_t *nv;
	char msg[300];

	if (reason != NULL)
		snprintf(msg, sizeof(msg), "%s", reason);
	else
		snprintf(msg, sizeof(msg), "object %s was changed by another writer while this request ran; nothing "
		    "of this item was kept: send it again", uid);
	dispatch_audit_conflict(e, owner, item, msg);
	TAILQ_FOREACH(s, &e->held, held_entry)
		if (s->serial == owner)
			break;
	if (s == NULL)
		return;		/* its connection is gone: nothing was acknowledged */
	if (s->conflict_uid[0] == '\0')
		snprintf(s->conflict_uid, sizeof(s->conflict_uid), "%s", uid);
	if (reason != NULL && s->conflict_reason == NULL)
		s->conflict_reason = reason;
	if (item == ENGINE_ITEM_ALL || s->conflict_all) {
		s->conflict_all = true;
		return;
	}
	if (s->nconflicts == s->conflicts_cap) {
		size_t cap = s->conflicts_cap == 0 ? 4 : s->conflicts_cap * 2;

		if ((nv = reallocarray(s->conflicts, cap, sizeof(*nv))) == NULL) {
			s->conflict_all = true;		/* no memory to be precise: fail them all */
			return;
		}
		s->conflicts = nv;
		s->conflicts_cap = cap;
	}
	s->conflicts[s->nconflicts++] = item;
}

static void
conflict_cb(void *arg, uint64_t owner, uint32_t item, const char *uid)
{
	replica_failed(arg, owner, item, uid, NULL);
}

/* Hands the group to the clustered store (env.replicate); the responses wait in flight_held. */
static int
replicate(struct engine *e)
{
	struct store_rgroup *g;
	struct session *s;
	int rc;

	if (e->flight != NULL)
		return 0;	/* engine_replicated commits again */
	if ((rc = store_repl_take(e->env.store, &g)) == STORE_E_BUSY) {
		log_error("bug: group commit with a store transaction open; trying again");
		if (e->env.schedule_commit != NULL)
			e->env.schedule_commit(e->env.schedule_arg);
		return rc;
	}
	if (rc != STORE_OK) {
		/* Nothing left the store: answer the requests now, as failed. */
		log_error("store: the group cannot be sent to etcd: %s", store_strerror(rc));
		while ((s = TAILQ_FIRST(&e->held)) != NULL) {
			TAILQ_REMOVE(&e->held, s, held_entry);
			s->held_entry.tqe_prev = NULL;
			e->nheld--;
			release(s, false, store_strerror(rc));
		}
		store_group_abandon(e->env.store);
		dispatch_audit_commit(e, rc, store_strerror(rc));
		return rc;
	}
	TAILQ_CONCAT(&e->flight_held, &e->held, held_entry);
	TAILQ_FOREACH(s, &e->flight_held, held_entry)
		s->in_flight = true;
	e->nflight = e->nheld;
	e->nheld = 0;
	TAILQ_CONCAT(&e->flight_deferred, &e->deferred, entry);
	if (g == NULL) {
		engine_replicated(e, NULL);	/* reads alone waited: nothing to send */
		return 0;
	}
	e->flight = g;
	e->env.replicate(e->env.replicate_arg, g);
	return 0;
}

/* The group sent to etcd is decided; see engine.h. */
void
engine_replicated(struct engine *e, struct store_rgroup *g)
{
	TAILQ_HEAD(, session) later = TAILQ_HEAD_INITIALIZER(later);
	TAILQ_HEAD(, audit_deferred) later_audit = TAILQ_HEAD_INITIALIZER(later_audit);
	struct session *s;
	unsigned n = 0, nlater = e->nheld;

	/* What was answered since waits for the next group: set it aside while this one is settled. */
	TAILQ_CONCAT(&later, &e->held, held_entry);
	TAILQ_CONCAT(&later_audit, &e->deferred, entry);
	TAILQ_CONCAT(&e->held, &e->flight_held, held_entry);
	TAILQ_CONCAT(&e->deferred, &e->flight_deferred, entry);
	e->nheld = e->nflight;
	e->nflight = 0;
	e->flight = NULL;
	store_repl_finish(e->env.store, g, replica_failed, e);
	while ((s = TAILQ_FIRST(&e->held)) != NULL) {
		TAILQ_REMOVE(&e->held, s, held_entry);
		s->held_entry.tqe_prev = NULL;
		s->in_flight = false;
		n++;
		release(s, true, NULL);
	}
	dispatch_audit_commit(e, 0, NULL);
	TAILQ_CONCAT(&e->held, &later, held_entry);
	TAILQ_CONCAT(&e->deferred, &later_audit, entry);
	e->nheld = nlater;
	log_debug("etcd commit: %u responses released", n);
	if (e->nheld > 0 && e->env.schedule_commit != NULL)
		e->env.schedule_commit(e->env.schedule_arg);
}

/* Makes the group durable and releases what waited for it; see engine.h. */
int
engine_commit(struct engine *e)
{
	TAILQ_HEAD(, session) batch = TAILQ_HEAD_INITIALIZER(batch);
	struct session *s;
	unsigned n = 0;
	int rc;

	if (e->env.replicate != NULL)
		return replicate(e);
	rc = store_group_commit(e->env.store, conflict_cb, e);
	if (rc == STORE_E_BUSY) {
		/* A transaction or an Undo batch is still open: the writes stay staged, so do the answers. */
		log_error("bug: group commit with a store transaction open; trying again");
		if (e->env.schedule_commit != NULL)
			e->env.schedule_commit(e->env.schedule_arg);
		return rc;
	}
	if (rc != 0)
		log_error("store: group commit failed: %s (%s); the requests that waited for it are answered with "
		    "a failure", store_strerror(rc), store_last_error(e->env.store));
	/* Released sessions may answer more requests, which wait for the next commit, not this one. */
	TAILQ_CONCAT(&batch, &e->held, held_entry);
	e->nheld = 0;
	while ((s = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, s, held_entry);
		s->held_entry.tqe_prev = NULL;
		n++;
		release(s, rc == 0, rc == 0 ? NULL : store_strerror(rc));
	}
	/* The writes' audit lines, with what their clients were answered (also for those that hung up). */
	dispatch_audit_commit(e, rc, rc == 0 ? NULL : store_strerror(rc));
	log_debug("group commit: %u responses released", n);
	return rc;
}

/* Opens a session; see engine.h. */
struct session *
session_new(struct engine *e, uint64_t id, const char *peer, const char *identity, session_done_fn done,
    void *done_arg)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->who = strdup(identity)) == NULL) {
		free(s);
		return NULL;
	}
	s->eng = e;
	s->id = id;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->done = done;
	s->done_arg = done_arg;
	return s;
}

/* Frees n strings and their array; NULL is accepted. */
static void
free_strings(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Closes a session; see engine.h. */
void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	dispatch_cancel(s);
	if (s->held_entry.tqe_prev != NULL && s->in_flight) {
		TAILQ_REMOVE(&s->eng->flight_held, s, held_entry);
		s->eng->nflight--;
	} else if (s->held_entry.tqe_prev != NULL) {
		TAILQ_REMOVE(&s->eng->held, s, held_entry);
		s->eng->nheld--;
	}
	wipe_free(s->held_buf, s->held_len);
	conflicts_clear(s);
	ops_crypto_streams_free(s->crypto_streams);
	free_strings(s->ous, s->nous);
	free_strings(s->sans, s->nsans);
	free(s->who);
	free(s);
}

/* Copies n strings; NULL when out of memory (or n is 0). */
static char **
copy_strings(const char *const *v, size_t n)
{
	char **out;
	size_t i;

	if (n == 0 || n > 4096 || (out = calloc(n, sizeof(*out))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((out[i] = strdup(v[i])) == NULL) {
			free_strings(out, i);
			return NULL;
		}
	return out;
}

/* Records the certificate's OUs and SANs; see engine.h. */
int
session_set_attributes(struct session *s, const char *const *ous, size_t nous, const char *const *sans,
    size_t nsans)
{
	char **o = NULL, **a = NULL;

	if ((nous > 0 && (o = copy_strings(ous, nous)) == NULL) ||
	    (nsans > 0 && (a = copy_strings(sans, nsans)) == NULL)) {
		free_strings(o, nous);
		return -1;
	}
	free_strings(s->ous, s->nous);
	free_strings(s->sans, s->nsans);
	s->ous = o;
	s->nous = nous;
	s->sans = a;
	s->nsans = nsans;
	s->rights_known = false;	/* recomputed with them */
	return 0;
}

/* Hands a finished response to the session's owner. */
void
session_deliver(struct session *s, uint8_t *buf, size_t len)
{
	s->done(s->done_arg, buf, len);
}

void
session_log(const struct session *s, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vconn(level, s->id, s->peer, s->who, fmt, ap);
	va_end(ap);
}

/* The bytes of the response held for s; see engine.h. */
size_t
session_held_bytes(const struct session *s)
{
	return s->held_buf != NULL ? s->held_len : 0;
}
