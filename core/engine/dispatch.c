/*
 * The request dispatcher: envelope checks, protocol version, batch handling, then one handler per
 * operation. What costs real CPU runs in the worker processes (keygen.h) while the request waits and the loop
 * does not: the derivation of a Credential's password the cache does not know (then the request goes on),
 * the key pairs CreateKeyPair items need and the primes of a registered RSA key sent without them (then the
 * whole batch runs in order with the results in hand). One struct pending carries a request through both.
 * Payloads are normalised into the internal form before anything reads them, and Result Reasons mapped to
 * the client's version where a failed item is written (versions.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/engine/access.h"
#include "core/engine/audit.h"
#include "core/engine/ops.h"
#include "core/keygen.h"
#include "core/log.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

const unsigned dispatch_versions[] = {
	KMIP_VERSION(2, 1), KMIP_VERSION(2, 0), KMIP_VERSION(1, 4), KMIP_VERSION(1, 3), KMIP_VERSION(1, 2),
	KMIP_VERSION(1, 1), KMIP_VERSION(1, 0),
};
const size_t dispatch_nversions = sizeof(dispatch_versions) / sizeof(dispatch_versions[0]);

#define V(major, minor) KMIP_VERSION(major, minor)

const struct op_desc dispatch_ops[] = {
	{ KMIP_OPERATION_CREATE, "Create", op_create, NULL, V(1, 0) },
	{ KMIP_OPERATION_CREATE_KEY_PAIR, "CreateKeyPair", op_create_key_pair, op_create_key_pair_keyspec, V(1, 0) },
	{ KMIP_OPERATION_REGISTER, "Register", op_register, op_register_keyspec, V(1, 0) },
	{ KMIP_OPERATION_RE_KEY, "ReKey", op_rekey, NULL, V(1, 0) },
	{ KMIP_OPERATION_RE_KEY_KEY_PAIR, "ReKeyKeyPair", op_rekey_key_pair, op_rekey_key_pair_keyspec, V(1, 1) },
	{ KMIP_OPERATION_LOCATE, "Locate", op_locate, NULL, V(1, 0) },
	{ KMIP_OPERATION_GET, "Get", op_get, NULL, V(1, 0) },
	{ KMIP_OPERATION_GET_ATTRIBUTES, "GetAttributes", op_get_attributes, NULL, V(1, 0) },
	{ KMIP_OPERATION_GET_ATTRIBUTE_LIST, "GetAttributeList", op_get_attribute_list, NULL, V(1, 0) },
	{ KMIP_OPERATION_ADD_ATTRIBUTE, "AddAttribute", op_add_attribute, NULL, V(1, 0) },
	{ KMIP_OPERATION_MODIFY_ATTRIBUTE, "ModifyAttribute", op_modify_attribute, NULL, V(1, 0) },
	{ KMIP_OPERATION_DELETE_ATTRIBUTE, "DeleteAttribute", op_delete_attribute, NULL, V(1, 0) },
	{ KMIP_OPERATION_SET_ATTRIBUTE, "SetAttribute", op_set_attribute, NULL, V(2, 0) },
	{ KMIP_OPERATION_ACTIVATE, "Activate", op_activate, NULL, V(1, 0) },
	{ KMIP_OPERATION_REVOKE, "Revoke", op_revoke, NULL, V(1, 0) },
	{ KMIP_OPERATION_DESTROY, "Destroy", op_destroy, NULL, V(1, 0) },
	{ KMIP_OPERATION_QUERY, "Query", op_query, NULL, V(1, 0) },
	{ KMIP_OPERATION_DISCOVER_VERSIONS, "DiscoverVersions", op_discover_versions, NULL, V(1, 1) },
	{ KMIP_OPERATION_ENCRYPT, "Encrypt", op_encrypt, NULL, V(1, 2) },
	{ KMIP_OPERATION_DECRYPT, "Decrypt", op_decrypt, NULL, V(1, 2) },
	{ KMIP_OPERATION_SIGN, "Sign", op_sign, NULL, V(1, 2) },
	{ KMIP_OPERATION_SIGNATURE_VERIFY, "SignatureVerify", op_signature_verify, NULL, V(1, 2) },
	{ KMIP_OPERATION_MAC, "MAC", op_mac, NULL, V(1, 2) },
	{ KMIP_OPERATION_MAC_VERIFY, "MACVerify", op_mac_verify, NULL, V(1, 2) },
	{ KMIP_OPERATION_RNG_RETRIEVE, "RNGRetrieve", op_rng_retrieve, NULL, V(1, 2) },
	{ KMIP_OPERATION_RNG_SEED, "RNGSeed", op_rng_seed, NULL, V(1, 2) },
	{ KMIP_OPERATION_HASH, "Hash", op_hash, NULL, V(1, 2) },
	{ KMIP_OPERATION_INTEROP, "Interop", op_interop, NULL, V(2, 0) },
	{ KMIP_OPERATION_LOG, "Log", op_log, NULL, V(2, 0) },
	{ KMIP_OPERATION_CHECK, "Check", op_check, NULL, V(1, 0) },
	{ KMIP_OPERATION_OBTAIN_LEASE, "ObtainLease", op_obtain_lease, NULL, V(1, 0) },
	{ KMIP_OPERATION_DERIVE_KEY, "DeriveKey", op_derive_key, op_derive_key_keyspec, V(1, 0) },
	{ KMIP_OPERATION_CREATE_SPLIT_KEY, "CreateSplitKey", op_create_split_key, NULL, V(1, 2) },
	{ KMIP_OPERATION_JOIN_SPLIT_KEY, "JoinSplitKey", op_join_split_key, NULL, V(1, 2) },
	{ 0, NULL, NULL, NULL, 0 },
};

/* A request waiting for the workers: for its Credential's derivation, or for what some of its items need. */
struct pending {
	struct session *session;
	struct ttlv_arena *arena;	/* owns the request tree */
	struct kmip_request req;
	unsigned version;
	struct kmip_error *faults;	/* per item, from versions_normalise() (in arena); NULL for a Credential */
	unsigned outstanding;		/* results not yet delivered */
	struct keygen_job **jobs;	/* per item, NULL when none (the array NULL for a Credential) */
	struct keygen_result **keys;	/* per item, NULL when none */
	struct cred_derivation *deriv;	/* the derivation its Credential waits for, or NULL */
	TAILQ_ENTRY(pending) dentry;	/* on deriv->waiters */
};

/*
 * One PBKDF2 derivation of a Credential on a worker, shared by every request that sent the same Credential
 * (the same cache key) while it runs: a client opening several sessions at once pays one derivation and
 * holds one slot of the guard. It holds that slot until the worker is done, even when every waiter left.
 */
struct cred_derivation {
	TAILQ_ENTRY(cred_derivation) entry;	/* on eng->derivations */
	struct engine *eng;
	struct keygen_job *job;
	struct access_derivation cred;	/* what it is checked against, its password pointer cleared (wiped) */
	unsigned policy_gen;		/* the policy the Credential was looked up in */
	char *identity;			/* whose guard slot it holds */
	char source[64];		/* and from which address */
	TAILQ_HEAD(, pending) waiters;
	unsigned nwaiters;
	bool done;			/* its result is being handed to the waiters */
};

#define DERIVATION_WAITERS_MAX	64	/* requests sharing one derivation; more start their own */

struct pending_slot {
	struct pending *p;
	size_t index;
};

/*
 * Returns the handler for an operation, or NULL. Any 1.x request may use an operation of a later 1.x
 * version (a 1.0 client sending Discover Versions or Re-key Key Pair means it, and PyKMIP's server accepts
 * it too); 2.x operations need a 2.x request. Query still lists only what the client's version defines.
 */
static const struct op_desc *
find_op(uint32_t operation, unsigned version)
{
	const struct op_desc *d;

	for (d = dispatch_ops; d->fn != NULL; d++)
		if (d->operation == operation)
			return d->since <= version || KMIP_VERSION_MAJOR(d->since) == KMIP_VERSION_MAJOR(version) ?
			    d : NULL;
	return NULL;
}

/*
 * The session's rights under its roles (access.roles, access.grants), computed the first time and again
 * after a reload replaced the policy; O(1) otherwise.
 */
const struct access_rights *
session_rights(struct session *s)
{
	const struct engine *e = s->eng;

	if (!s->rights_known || s->rights_gen != e->policy_gen) {
		access_rights(e->env.policy, s->who, (const char *const *)s->ous, s->nous,
		    (const char *const *)s->sans, s->nsans, &s->rights);
		s->rights_gen = e->policy_gen;
		s->rights_known = true;
	}
	return &s->rights;
}

/*
 * Chooses the version to answer in. A newer minor version of a major we speak is answered in our newest
 * minor of that major, as KMIP asks of servers; an unknown major cannot be answered meaningfully.
 */
static bool
response_version(unsigned requested, unsigned *answer)
{
	if (kmip_version_supported(requested)) {
		*answer = requested;
		return true;
	}
	switch (KMIP_VERSION_MAJOR(requested)) {
	case 1:
		*answer = KMIP_VERSION(1, 4);
		return true;
	case 2:
		*answer = KMIP_VERSION(2, 1);
		return true;
	default:
		*answer = requested;
		return false;
	}
}

/* Fills the parts of a handler's context that do not depend on the item. */
static void
ctx_init(struct op_ctx *ctx, struct session *s, const struct kmip_request *req, unsigned version,
    struct ttlv_arena *arena, char *placeholder, int64_t now)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->session = s;
	ctx->env = &s->eng->env;
	ctx->req = req;
	ctx->version = version;
	ctx->rules = versions_rules(version);
	ctx->arena = arena;
	ctx->placeholder = placeholder;
	ctx->now = now;
}

/* Returns the current time in seconds since the epoch. */
int64_t
engine_now(void)
{
	return (int64_t)time(NULL);
}

static double
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int64_t
wall_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Writes the audit line of one operation (or of a request refused as a whole, with ctx->naudit 0): on
 * failure with the reason and message the client is answered; phase NULL, "intent" or "outcome".
 * 0, or -1 when the line could not be written (see audit_log()).
 */
static int
audit_item(struct session *s, unsigned version, const char *operation, const struct op_ctx *ctx, bool ok,
    double started_ms, const char *phase)
{
	struct audit_event ev;
	const char *uids[OP_AUDIT_UIDS];
	size_t i;

	if (s->eng->env.audit == NULL)
		return 0;
	for (i = 0; i < ctx->naudit; i++)
		uids[i] = ctx->audit_uids[i];
	memset(&ev, 0, sizeof(ev));
	ev.when_usec = wall_usec();
	ev.conn = s->id;
	ev.peer = s->peer;
	ev.identity = s->who;
	ev.version = version;
	ev.operation = operation;
	ev.uids = uids;
	ev.nuids = ctx->naudit;
	ev.success = ok;
	ev.reason = ok ? NULL : ttlv_enum_name(KMIP_TAG_RESULT_REASON, ctx->err.reason);
	ev.message = ok || ctx->err.message[0] == '\0' ? NULL : ctx->err.message;
	ev.phase = phase;
	ev.duration_ms = monotonic_ms() - started_ms;
	return audit_log(s->eng->env.audit, &ev);
}

/*
 * Keeps the audit line of item (of the session's current request) until the group commit says whether its
 * writes were kept; see struct audit_deferred. 0, or -1 when out of memory.
 */
static int
audit_defer(struct op_ctx *ctx, const char *operation, uint32_t item, double started_ms)
{
	struct session *s = ctx->session;
	struct audit_deferred *d;
	size_t i;

	if (s->eng->env.audit == NULL)
		return 0;
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->who = strdup(s->who)) == NULL) {
		free(d);
		return -1;
	}
	d->owner = s->serial;
	d->item = item;
	d->conn = s->id;
	memcpy(d->peer, s->peer, sizeof(d->peer));
	d->version = ctx->version;
	d->operation = operation;
	for (i = 0; i < ctx->naudit && i < OP_AUDIT_UIDS; i++)
		memcpy(d->uids[i], ctx->audit_uids[i], sizeof(d->uids[i]));
	d->nuids = i;
	d->started_us = (int64_t)(started_ms * 1000);
	TAILQ_INSERT_TAIL(&s->eng->deferred, d, entry);
	return 0;
}

/* Writes a deferred line as the item's outcome (failure: commit_why, else what its own record says) and frees it. */
static void
audit_deferred_write(struct engine *e, struct audit_deferred *d, const char *commit_why)
{
	struct audit_event ev;
	const char *uids[OP_AUDIT_UIDS];
	char msg[200];
	size_t i;

	TAILQ_REMOVE(&e->deferred, d, entry);
	for (i = 0; i < d->nuids; i++)
		uids[i] = d->uids[i];
	if (commit_why != NULL)
		snprintf(msg, sizeof(msg), "the key store could not make this durable (%s); nothing was changed",
		    commit_why);
	else
		snprintf(msg, sizeof(msg), "%s", d->failed);
	memset(&ev, 0, sizeof(ev));
	ev.when_usec = wall_usec();
	ev.conn = d->conn;
	ev.peer = d->peer;
	ev.identity = d->who;
	ev.version = d->version;
	ev.operation = d->operation;
	ev.uids = uids;
	ev.nuids = d->nuids;
	ev.success = msg[0] == '\0';
	ev.reason = ev.success ? NULL : ttlv_enum_name(KMIP_TAG_RESULT_REASON, KMIP_RESULT_REASON_GENERAL_FAILURE);
	ev.message = ev.success ? NULL : msg;
	ev.phase = audit_required(e->env.audit) ? "outcome" : NULL;
	ev.duration_ms = monotonic_ms() - (double)d->started_us / 1000;
	/* A failure here is logged by audit_log(); the answer already went (or goes) out as it is. */
	if (audit_log(e->env.audit, &ev) != 0)
		log_debug("audit: the outcome of %s was not recorded", d->operation);
	free(d->who);
	free(d);
}

/* See ops.h. */
void
dispatch_audit_conflict(struct engine *e, uint64_t owner, uint32_t item, const char *message)
{
	struct audit_deferred *d;

	TAILQ_FOREACH(d, &e->deferred, entry)
		if (d->owner == owner && (item == ENGINE_ITEM_ALL || d->item == item) && d->failed[0] == '\0')
			snprintf(d->failed, sizeof(d->failed), "%s", message);
}

/* See ops.h. */
void
dispatch_audit_settle(struct engine *e, uint64_t owner)
{
	struct audit_deferred *d, *next;

	for (d = TAILQ_FIRST(&e->deferred); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->owner == owner)
			audit_deferred_write(e, d, NULL);
	}
}

/* See ops.h. */
void
dispatch_audit_commit(struct engine *e, int rc, const char *why)
{
	struct audit_deferred *d;

	while ((d = TAILQ_FIRST(&e->deferred)) != NULL)
		audit_deferred_write(e, d, rc == 0 ? NULL : why != NULL ? why : "commit failed");
}

/* See ops.h. */
void
dispatch_audit_free(struct engine *e)
{
	struct audit_deferred *d;

	while ((d = TAILQ_FIRST(&e->deferred)) != NULL) {
		TAILQ_REMOVE(&e->deferred, d, entry);
		free(d->who);
		free(d);
	}
}

/* A conflict while an item is committed on its own: keeps the object's identifier for the message. */
static void
item_conflict(void *arg, uint64_t owner, uint32_t item, const char *uid)
{
	(void)owner;
	(void)item;
	snprintf(arg, OP_UID_MAX + 1, "%s", uid);
}

/* Makes one item's writes durable now (store.group_commit off); -1 with ctx->err set when they are not. */
static int
item_commit(struct op_ctx *ctx)
{
	char uid[OP_UID_MAX + 1] = "";
	int rc = store_group_commit(ctx->env->store, item_conflict, uid);

	if (rc != STORE_OK)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the key store could not make "
		    "this durable (%s); nothing was changed", store_strerror(rc));
	if (uid[0] != '\0')
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "object %s was changed by "
		    "another writer while this request ran; nothing of this item was kept: send it again", uid);
	return 0;
}

/*
 * The most bytes a response may take: server.max_response_size, or the request's Maximum Response Size when
 * it is smaller. *whose names the limit that applies, for the Result Message.
 */
static size_t
response_cap(const struct op_ctx *ctx, const char **whose)
{
	size_t cap = (size_t)config_max_response_size(ctx->env->cfg);

	*whose = "the server's maximum response size";
	if (ctx->req->max_response_size > 0 && (size_t)ctx->req->max_response_size < cap) {
		cap = (size_t)ctx->req->max_response_size;
		*whose = "the request's Maximum Response Size";
	}
	return cap;
}

/*
 * Writes the response to one batch item; returns 0 on success (*status_at: where its Result Status sits),
 * -1 when the item failed. fault: why its payload could not be normalised (reason 0: it could).
 *
 * The response never passes response_cap(): the handler writes under an encoder limit of the room left, so
 * an item too large stops at the cap instead of growing the buffer past it, and is dropped and answered
 * Response Too Large; a failed item whose Result Message would pass the server's cap is answered without
 * one (a response of error items alone is at most about twice its request, and the cap is at least that).
 */
static int
dispatch_item(struct op_ctx *ctx, const struct kmip_batch_item *item, const struct kmip_error *fault,
    struct kmip_response *r, size_t *status_at)
{
	struct ttlv_enc *out = r->enc;
	struct ttlv_enc_mark mark = ttlv_enc_mark(out);
	const struct kmip_request *req = ctx->req;
	struct store *store = ctx->env->store;
	char placeholder[STORE_UID_MAX + 1];
	struct store_mark written;
	const struct op_desc *d;
	const char *name = NULL, *whose;
	double started = monotonic_ms();
	size_t cap = response_cap(ctx, &whose);
	bool ran = false, wrote;
	int rc;

	ctx->item = item;
	ctx->out = out;
	ctx->naudit = 0;
	memset(&ctx->err, 0, sizeof(ctx->err));
	if (item->operation == 0) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "batch item without a valid Operation, Unique Batch Item ID or Request Payload");
		goto fail;
	}
	name = ttlv_enum_name(KMIP_TAG_OPERATION, item->operation);
	if ((d = find_op(item->operation, ctx->version)) == NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED,
		    "operation %s (0x%02x) is not supported", name != NULL ? name : "unknown", item->operation);
		goto fail;
	}
	/* The one place roles are checked: before the handler, from the session's precomputed mask. */
	if (!access_rights_allow(session_rights(ctx->session), item->operation)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_PERMISSION_DENIED,
		    "operation %s is not allowed to this client's roles (%s)", d->name, ctx->session->rights.roles);
		session_log(ctx->session, LOG_LEVEL_WARN, "permission denied: %s is in none of the roles %s",
		    d->name, ctx->session->rights.roles);
		goto fail;
	}
	if (req->async_indicator) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
		    "asynchronous operations are not supported; send the request without Asynchronous Indicator");
		goto fail;
	}
	if (item->payload == NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE, "%s without a Request Payload", d->name);
		goto fail;
	}
	*status_at = kmip_response_item_begin(r, item);
	if (fault->reason != 0) {
		ttlv_enc_rewind(out, mark);
		ctx->err = *fault;
		goto fail;
	}
	/*
	 * An item answered as failed changes nothing: what it wrote before failing (a Usage Limits charge, an
	 * object whose response turned out too large) is dropped with it, and so is its ID Placeholder. The
	 * store names this item in a conflict; an Undo batch's items stand or fall together.
	 */
	/* A cluster node that has not proven itself current for store.max_staleness answers from nothing. */
	if (ctx->env->unavailable != NULL && item->operation != KMIP_OPERATION_QUERY &&
	    item->operation != KMIP_OPERATION_DISCOVER_VERSIONS &&
	    ctx->env->unavailable(ctx->env->unavailable_arg, ctx->err.message, sizeof(ctx->err.message))) {
		ttlv_enc_rewind(out, mark);
		ctx->err.reason = KMIP_RESULT_REASON_GENERAL_FAILURE;
		goto fail;
	}
	memcpy(placeholder, ctx->placeholder, sizeof(placeholder));
	if (store != NULL) {
		store_mark(store, &written);
		store_set_owner(store, ctx->session->serial, ctx->undo ? ENGINE_ITEM_ALL : (uint32_t)(item - req->items));
	}
	ran = true;
	ttlv_enc_set_limit(out, cap);
	rc = d->fn(ctx);
	if (store != NULL)
		store_set_owner(store, 0, 0);
	if (rc == 0)
		kmip_response_item_end(r);
	ttlv_enc_set_limit(out, 0);
	if (out->error == EMSGSIZE || out->len > cap) {
		ttlv_enc_rewind(out, mark);
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE, "the response would exceed %s "
		    "(%zu bytes) with this item", whose, cap);
		goto fail;
	}
	if (rc != 0) {
		ttlv_enc_rewind(out, mark);
		if (ctx->err.reason == 0)
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "%s failed", d->name);
		goto fail;
	}
	/* audit.required: a write is on record (flushed) before it can become durable, or it is not made. */
	wrote = store != NULL && store_group_pending(store);
	if (wrote && audit_required(ctx->env->audit) &&
	    audit_item(ctx->session, ctx->version, d->name, ctx, true, started, "intent") != 0) {
		ttlv_enc_rewind(out, mark);
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the audit trail cannot be written "
		    "(audit.required); nothing was changed");
		goto fail;
	}
	/* Without store.group_commit each item is made durable on its own, before it is answered. */
	if (wrote && !ctx->env->cfg->store.group_commit && item_commit(ctx) != 0) {
		ttlv_enc_rewind(out, mark);
		goto fail;
	}
	session_log(ctx->session, LOG_LEVEL_DEBUG, "%s: success", d->name);
	/* An item that waits for the group commit is recorded with its outcome, once the commit has one. */
	if (store != NULL && store_group_pending(store)) {
		if (audit_defer(ctx, d->name, (uint32_t)(item - req->items), started) != 0) {
			ttlv_enc_rewind(out, mark);
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory recording "
			    "this item in the audit trail");
			goto fail;
		}
		return 0;
	}
	if (audit_item(ctx->session, ctx->version, d->name, ctx, true, started, wrote &&
	    audit_required(ctx->env->audit) ? "outcome" : NULL) != 0 && !wrote && audit_required(ctx->env->audit)) {
		/* A read that cannot be recorded is not answered (nothing of it is kept to roll back). */
		ttlv_enc_rewind(out, mark);
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the audit trail cannot be written "
		    "(audit.required)");
		goto fail;
	}
	return 0;
fail:
	if (ran) {
		if (store != NULL && store_rollback(store, &written) != STORE_OK)
			session_log(ctx->session, LOG_LEVEL_ERROR, "bug: a failed item's writes could not be dropped");
		memcpy(ctx->placeholder, placeholder, sizeof(placeholder));
	}
	ctx->err.reason = versions_reason(ctx->version, ctx->err.reason);
	session_log(ctx->session, LOG_LEVEL_INFO, "%s failed: %s", name != NULL ? name : "batch item",
	    ctx->err.message);
	if (audit_item(ctx->session, ctx->version, name != NULL ? name : "unknown", ctx, false, started, NULL) != 0)
		session_log(ctx->session, LOG_LEVEL_DEBUG, "the failure's audit line was not written");
	kmip_response_item_error(r, item, KMIP_RESULT_STATUS_OPERATION_FAILED, &ctx->err);
	/* The server's cap holds even for error items; a client's smaller one is not worth losing the why. */
	if (out->len > config_max_response_size(ctx->env->cfg) && ctx->err.message[0] != '\0') {
		ttlv_enc_rewind(out, mark);
		ctx->err.message[0] = '\0';
		kmip_response_item_error(r, item, KMIP_RESULT_STATUS_OPERATION_FAILED, &ctx->err);
	}
	return -1;
}

/* Runs every batch item in order (keys[i] is item i's generated key pair, if any; faults[i] its fault). */
static void
dispatch_execute(struct session *s, const struct kmip_request *req, unsigned version, struct ttlv_arena *arena,
    struct keygen_result **keys, const struct kmip_error *faults, struct ttlv_enc *out)
{
	const struct engine_env *env = &s->eng->env;
	char placeholder[STORE_UID_MAX + 1] = "";
	struct kmip_response r;
	struct op_ctx ctx;
	uint32_t answered = 0;
	size_t i;

	size_t *done = NULL, ndone = 0;
	bool undo = req->batch_error_option == KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO && req->nitems > 1 &&
	    env->store != NULL;

	ctx_init(&ctx, s, req, version, arena, placeholder, engine_now());
	ctx.undo = undo;
	/*
	 * Undo: the batch's writes go to a savepoint, dropped whole if an item fails. Savepoints live in the
	 * group commit; without one (store.group_commit = false: each item is durable on its own, or no
	 * memory) the batch is refused before any item runs, rather than quietly stopping at a failure with
	 * earlier items kept.
	 */
	if (undo && (!env->cfg->store.group_commit || (done = calloc(req->nitems, sizeof(*done))) == NULL ||
	    store_batch_begin(env->store) != 0)) {
		struct kmip_error err;

		free(done);
		kmip_error_set(&err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, "%s",
		    env->cfg->store.group_commit ? "cannot open a savepoint for this Undo batch; nothing was done" :
		    "Batch Error Continuation Option Undo needs store.group_commit = true; nothing was done");
		session_log(s, LOG_LEVEL_WARN, "request refused: %s", err.message);
		kmip_response_error_message(out, version, ctx.now, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
		return;
	}
	kmip_response_begin(&r, out, version, ctx.now, (uint32_t)req->nitems);
	for (i = 0; i < req->nitems; i++) {
		size_t status_at = 0;
		double t0 = monotonic_ms();
		int rc;

		ctx.key = keys != NULL ? keys[i] : NULL;
		rc = dispatch_item(&ctx, &req->items[i], &faults[i], &r, &status_at);
		if (env->item_done != NULL)
			env->item_done(env->item_arg, req->items[i].operation, rc == 0,
			    (uint64_t)((monotonic_ms() - t0) * 1000));
		answered++;
		if (rc == 0 && undo)
			done[ndone++] = status_at;
		/* Stop (the default) and Undo end the batch at the first failure; Continue runs every item. */
		if (rc != 0 && req->batch_error_option != KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE)
			break;
	}
	if (undo) {
		bool failed = answered < req->nitems || ndone < answered;

		if (store_batch_end(env->store, !failed) != 0) {
			/* The batch's writes are lost: say so rather than report them done. */
			session_log(s, LOG_LEVEL_ERROR, "keeping the writes of an Undo batch failed; it is answered as "
			    "undone");
			failed = true;
		}
		for (i = 0; failed && i < ndone; i++)
			kmip_response_set_status(&r, done[i], KMIP_RESULT_STATUS_OPERATION_UNDONE);
		if (failed)
			dispatch_audit_conflict(s->eng, s->serial, ENGINE_ITEM_ALL, "the Undo batch failed: this item "
			    "was undone");
		free(done);
	}
	kmip_response_set_count(&r, answered);
	kmip_response_end(&r);
}

/* The address part of a session's peer ("a.b.c.d:port" or "[v6]:port"), for per-source limits. */
static void
peer_source(const char *peer, char *buf, size_t size)
{
	const char *colon = strrchr(peer, ':');
	size_t len = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

	if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
		peer++;
		len -= 2;
	}
	snprintf(buf, size, "%.*s", (int)len, peer);
}

/* Frees a derivation nobody waits for and whose job is over or cancelled (its guard slot already given back). */
static void
derivation_free(struct cred_derivation *dv)
{
	TAILQ_REMOVE(&dv->eng->derivations, dv, entry);
	access_derivation_wipe(&dv->cred);
	free(dv->identity);
	free(dv);
}

/*
 * A request stops waiting for a derivation. When it was the last one: a derivation still queued is taken
 * back (counted as a wrong Credential, as before: a client that leaves before its Credential is checked has
 * asked for a derivation); one already running is left to finish, still holding its guard slot, so that
 * hanging up and reconnecting does not start another while the worker is busy.
 */
static void
derivation_leave(struct pending *p)
{
	struct cred_derivation *dv = p->deriv;
	struct engine *e;

	if (dv == NULL)
		return;
	p->deriv = NULL;
	TAILQ_REMOVE(&dv->waiters, p, dentry);
	dv->nwaiters--;
	if (dv->done || dv->nwaiters > 0 || (dv->job != NULL && keygen_job_running(dv->job)))
		return;
	e = dv->eng;
	if (dv->job != NULL)
		keygen_cancel(dv->job);
	dv->job = NULL;
	access_guard_end(e->guard, &e->env.cfg->access, dv->identity, dv->source, false, clock_ms());
	derivation_free(dv);
}

/* Frees a pending request: cancels its jobs, wipes its keys and its arena. */
static void
pending_free(struct pending *p)
{
	size_t i;

	for (i = 0; p->jobs != NULL && i < p->req.nitems; i++) {
		if (p->jobs[i] != NULL)
			keygen_cancel(p->jobs[i]);
		if (p->keys[i] != NULL)
			keygen_result_free(p->keys[i]);
	}
	derivation_leave(p);
	free(p->jobs);
	free(p->keys);
	ttlv_arena_free(p->arena);
	free(p);
}

/* Drops the derivations left running for clients that left; see ops.h. */
void
dispatch_free_derivations(struct engine *e)
{
	struct cred_derivation *dv;

	while ((dv = TAILQ_FIRST(&e->derivations)) != NULL) {
		if (dv->job != NULL)
			keygen_cancel(dv->job);
		derivation_free(dv);
	}
}

/* The session is going away: drops its pending request, cancelling its key generation. */
void
dispatch_cancel(struct session *s)
{
	if (s->pending != NULL)
		pending_free(s->pending);
	s->pending = NULL;
}

/*
 * Finishes an answered request: ENGINE_DONE with the encoded response in *resp (NULL when it cannot be
 * encoded), or ENGINE_PENDING when it must wait for the group commit that makes its writes (or the writes
 * it read) durable: the engine holds it and delivers it after engine_commit().
 */
static enum engine_status
respond(struct session *s, struct ttlv_enc *out, uint8_t **resp, size_t *resp_len)
{
	struct engine *e = s->eng;

	*resp = NULL;
	*resp_len = 0;
	if (ttlv_enc_finish(out) != 0) {
		session_log(s, LOG_LEVEL_ERROR, "could not encode a response: %s", strerror(errno));
		/* Its writes (if any) still wait for the commit, which records them. */
		if (e->env.store == NULL || !store_group_touched(e->env.store, s->serial))
			dispatch_audit_settle(e, s->serial);
		return ENGINE_DONE;
	}
	/* Held when it wrote or read staged writes: then it stands or falls with the group commit. */
	if (e->env.store != NULL && store_group_pending(e->env.store) &&
	    store_group_touched(e->env.store, s->serial)) {
		s->held_buf = ttlv_enc_detach(out, &s->held_len);
		TAILQ_INSERT_TAIL(&e->held, s, held_entry);
		e->nheld++;
		if (e->nheld == 1 && e->env.schedule_commit != NULL)
			e->env.schedule_commit(e->env.schedule_arg);
		return ENGINE_PENDING;
	}
	dispatch_audit_settle(e, s->serial);
	*resp = ttlv_enc_detach(out, resp_len);
	return ENGINE_DONE;
}

static enum engine_status proceed(struct session *s, struct kmip_request *req, unsigned version,
    struct ttlv_arena *arena, struct ttlv_enc *out);
static void refuse_credential(struct session *s, unsigned version, const struct kmip_error *err,
    struct ttlv_enc *out);

/* How a derivation's result went for one waiting request. */
enum cred_outcome {
	CRED_OK,		/* the request goes on */
	CRED_WRONG,		/* not accepted: counts as a wrong Credential */
	CRED_FAILED,		/* the check could not be made: err says why, and it counts as nothing */
};

/*
 * The verdict of the derivation dv for the request p: compared in constant time with the configured hash
 * (derived NULL: the worker failed). When a reload replaced the policy meanwhile, the Credential is looked
 * up again in the current one and compared with its current hash: a username removed by the reload is
 * refused (Authentication Not Successful), and one whose entry's salt or iterations changed is answered General Failure ("send it again"), its derivation being
 * of the old entry.
 */
static enum cred_outcome
derivation_verdict(struct pending *p, const struct cred_derivation *dv, const uint8_t *derived, size_t len,
    struct kmip_error *err)
{
	struct engine *e = p->session->eng;
	struct access_derivation now;
	enum cred_outcome out;

	if (derived == NULL) {
		kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE,
		    "the Credential could not be checked (password derivation failed); send it again");
		return CRED_FAILED;
	}
	if (dv->policy_gen == e->policy_gen)	/* cached once, by derivation_done */
		return access_credential_finish(NULL, &dv->cred, derived, len) ? CRED_OK : CRED_WRONG;
	switch (access_credential_begin(e->env.policy, p->req.authentication, &now, err)) {
	case ACCESS_CREDENTIAL_OK:
		return CRED_OK;
	case ACCESS_CREDENTIAL_REFUSED:
		return CRED_WRONG;
	case ACCESS_CREDENTIAL_DERIVE:
		break;
	}
	if (!now.known) {
		out = CRED_WRONG;	/* the reload removed the username */
	} else if (now.salt_len != dv->cred.salt_len || memcmp(now.salt, dv->cred.salt, now.salt_len) != 0 ||
	    now.iterations != dv->cred.iterations) {
		kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE,
		    "the Credentials were reloaded while this one was being checked; send it again");
		out = CRED_FAILED;
	} else {
		out = access_credential_finish(e->env.policy, &now, derived, len) ? CRED_OK : CRED_WRONG;
	}
	access_derivation_wipe(&now);
	return out;
}

/* Answers a request that waited for a Credential's derivation: refused, or on its way (see derivation_done). */
static void
pending_credential_done(struct pending *p, const struct cred_derivation *dv, const uint8_t *derived, size_t len)
{
	struct session *s = p->session;
	struct ttlv_arena *arena = p->arena;
	struct kmip_request req = p->req;
	unsigned version = p->version;
	enum engine_status st = ENGINE_DONE;
	enum cred_outcome outcome;
	struct kmip_error err;
	struct ttlv_enc out;
	uint8_t *resp;
	size_t rlen;

	kmip_error_set(&err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL, "username or password not accepted");
	outcome = derivation_verdict(p, dv, derived, len, &err);
	p->arena = NULL;	/* the request goes on in it */
	s->pending = NULL;
	pending_free(p);
	ttlv_enc_init(&out);
	if (outcome != CRED_OK) {
		if (outcome == CRED_WRONG)
			s->credential_failures++;
		refuse_credential(s, version, &err, &out);
	} else if ((st = proceed(s, &req, version, arena, &out)) == ENGINE_PENDING) {
		ttlv_enc_free(&out);
		return;		/* waiting for keys now, in a pending request that owns the arena */
	}
	ttlv_arena_free(arena);
	if (respond(s, &out, &resp, &rlen) == ENGINE_DONE)
		session_deliver(s, resp, rlen);
	ttlv_enc_free(&out);
}

/*
 * A Credential's derivation is done: the guard hears whether it was right (a worker failure is neither),
 * then every request waiting for it is answered or goes on. The derived bytes are wiped.
 */
static void
derivation_done(struct keygen_result *res, void *arg)
{
	struct cred_derivation *dv = arg;
	struct engine *e = dv->eng;
	const uint8_t *derived = NULL;
	struct pending *p;
	size_t len = 0;

	dv->job = NULL;
	dv->done = true;
	if (res->status != 0)
		log_warnx("password derivation for %s failed: %s", dv->identity, res->message);
	else {
		derived = res->private_der;
		len = res->private_len;
	}
	if (derived == NULL)
		access_guard_release(e->guard, dv->identity, dv->source, clock_ms());
	else
		access_guard_end(e->guard, &e->env.cfg->access, dv->identity, dv->source,
		    access_credential_finish(dv->policy_gen == e->policy_gen ? e->env.policy : NULL, &dv->cred,
		    derived, len), clock_ms());
	/* One at a time: answering one request may end another session, which leaves the list. */
	while ((p = TAILQ_FIRST(&dv->waiters)) != NULL)
		pending_credential_done(p, dv, derived, len);
	keygen_result_free(res);
	derivation_free(dv);
}

/* A worker's result arrived; when it was the last one the request needed, answer it. */
static void
pending_job_cb(struct keygen_result *res, void *arg)
{
	struct pending_slot *slot = arg;
	struct pending *p = slot->p;
	struct session *s = p->session;
	struct ttlv_enc out;
	uint8_t *resp;
	size_t len;

	p->jobs[slot->index] = NULL;
	p->keys[slot->index] = res;
	if (res->status != 0)
		session_log(s, LOG_LEVEL_INFO, "worker job failed: %s", res->message);
	if (--p->outstanding > 0)
		return;
	ttlv_enc_init(&out);
	dispatch_execute(s, &p->req, p->version, p->arena, p->keys, p->faults, &out);
	s->pending = NULL;
	pending_free(p);
	if (respond(s, &out, &resp, &len) == ENGINE_DONE)
		session_deliver(s, resp, len);
	ttlv_enc_free(&out);
}

/*
 * Starts the key generation a request needs. Returns ENGINE_PENDING when jobs were queued (the pending
 * request owns the arena from then on), ENGINE_DONE when none were needed.
 */
static enum engine_status
request_keys(struct session *s, const struct kmip_request *req, unsigned version, struct ttlv_arena *arena,
    struct kmip_error *faults)
{
	struct keygen *kg = s->eng->env.keygen;
	char placeholder[STORE_UID_MAX + 1] = "";
	struct pending *p = NULL;
	struct keygen_spec spec;
	struct op_ctx ctx;
	size_t i;

	if (kg == NULL)
		return ENGINE_DONE;
	ctx_init(&ctx, s, req, version, arena, placeholder, engine_now());
	for (i = 0; i < req->nitems; i++) {
		const struct op_desc *d = find_op(req->items[i].operation, version);
		struct pending_slot *slot;

		/* An item its roles refuse generates nothing: dispatch_item answers it Permission Denied. */
		if (d == NULL || d->keyspec == NULL || req->items[i].payload == NULL || req->async_indicator ||
		    faults[i].reason != 0 || !access_rights_allow(session_rights(s), req->items[i].operation))
			continue;
		ctx.item = &req->items[i];
		if (d->keyspec(&ctx, &spec) != 1)
			continue;
		spec.owner = s->who;	/* the workers serve identities in turn */
		if (p == NULL) {
			if ((p = calloc(1, sizeof(*p))) == NULL ||
			    (p->jobs = calloc(req->nitems, sizeof(*p->jobs))) == NULL ||
			    (p->keys = calloc(req->nitems, sizeof(*p->keys))) == NULL)
				goto nomem;
			p->session = s;
			p->req = *req;
			p->version = version;
			p->faults = faults;
		}
		if ((slot = ttlv_arena_alloc(arena, sizeof(*slot))) == NULL)
			goto nomem;
		slot->p = p;
		slot->index = i;
		if ((p->jobs[i] = keygen_submit(kg, &spec, pending_job_cb, slot)) == NULL)
			goto nomem;
		p->outstanding++;
	}
	if (p == NULL)
		return ENGINE_DONE;
	p->arena = arena;
	s->pending = p;
	session_log(s, LOG_LEVEL_DEBUG, "waiting for %u worker job(s)", p->outstanding);
	return ENGINE_PENDING;
nomem:
	/* Without memory for the jobs, the items run without keys and report the failure themselves. */
	if (p != NULL) {
		p->arena = NULL;
		pending_free(p);
	}
	session_log(s, LOG_LEVEL_ERROR, "out of memory queueing key generation");
	return ENGINE_DONE;
}

/* Writes the refusal of a request for its Credential (logged and audited). */
static void
refuse_credential(struct session *s, unsigned version, const struct kmip_error *err, struct ttlv_enc *out)
{
	struct op_ctx actx;

	session_log(s, LOG_LEVEL_WARN, "request refused: %s", err->message);
	memset(&actx, 0, sizeof(actx));
	actx.err = *err;
	if (audit_item(s, version, "Authentication", &actx, false, monotonic_ms(), NULL) != 0)
		session_log(s, LOG_LEVEL_DEBUG, "the refusal's audit line was not written");
	kmip_response_error_message(out, version, engine_now(), NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, err);
}

/* The derivation under way of the Credential d (its cache key, in the current policy) with room for a waiter. */
static struct cred_derivation *
derivation_find(struct engine *e, const struct access_derivation *d)
{
	struct cred_derivation *dv;

	TAILQ_FOREACH(dv, &e->derivations, entry)
		if (!dv->done && dv->policy_gen == e->policy_gen && dv->nwaiters < DERIVATION_WAITERS_MAX &&
		    CRYPTO_memcmp(dv->cred.cache_key, d->cache_key, sizeof(d->cache_key)) == 0)
			return dv;
	return NULL;
}

/*
 * Has the Credential d derived on a worker: the request waits in a pending request that owns the arena,
 * sharing the derivation of the same Credential when one is under way (then it takes no slot of the guard).
 * ENGINE_PENDING, or ENGINE_DONE with the refusal written to out: the guard said no (which is not a wrong
 * Credential: none was checked), or no memory (General Failure).
 */
static enum engine_status
request_credential(struct session *s, const struct kmip_request *req, unsigned version, struct ttlv_arena *arena,
    struct access_derivation *d, struct ttlv_enc *out)
{
	struct engine *e = s->eng;
	struct cred_derivation *dv;
	struct keygen_spec spec;
	struct kmip_error err;
	struct pending *p;
	char source[64];

	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->session = s;
	p->req = *req;
	p->version = version;
	if ((dv = derivation_find(e, d)) != NULL) {
		session_log(s, LOG_LEVEL_DEBUG, "the same Credential is being checked; waiting for that");
		goto wait;
	}
	peer_source(s->peer, source, sizeof(source));
	if (access_guard_begin(e->guard, &e->env.cfg->access, s->who, source, clock_ms(), &err) != 0) {
		free(p);
		refuse_credential(s, version, &err, out);
		return ENGINE_DONE;
	}
	if ((dv = calloc(1, sizeof(*dv))) == NULL || (dv->identity = strdup(s->who)) == NULL) {
		free(dv);
		access_guard_release(e->guard, s->who, source, clock_ms());
		goto nomem;
	}
	dv->eng = e;
	dv->cred = *d;
	dv->cred.password = NULL;	/* in the arena of the first request, which may leave first */
	dv->cred.password_len = 0;
	dv->policy_gen = e->policy_gen;
	snprintf(dv->source, sizeof(dv->source), "%s", source);
	TAILQ_INIT(&dv->waiters);
	memset(&spec, 0, sizeof(spec));
	spec.alg = KEYGEN_PBKDF2;
	spec.owner = s->who;
	spec.iterations = d->iterations;
	spec.salt = d->salt;
	spec.salt_len = d->salt_len;
	spec.password = d->password;
	spec.password_len = d->password_len;
	if ((dv->job = keygen_submit(e->env.keygen, &spec, derivation_done, dv)) == NULL) {
		access_guard_release(e->guard, s->who, source, clock_ms());
		access_derivation_wipe(&dv->cred);
		free(dv->identity);
		free(dv);
		goto nomem;
	}
	TAILQ_INSERT_TAIL(&e->derivations, dv, entry);
wait:
	p->deriv = dv;
	TAILQ_INSERT_TAIL(&dv->waiters, p, dentry);
	dv->nwaiters++;
	p->arena = arena;
	s->pending = p;
	session_log(s, LOG_LEVEL_DEBUG, "waiting for the Credential's derivation");
	return ENGINE_PENDING;
nomem:
	/* Nothing was checked: General Failure, neither a wrong Credential nor a step of the back-off. */
	free(p);
	kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory checking the Credential");
	refuse_credential(s, version, &err, out);
	return ENGINE_DONE;
}

/*
 * Checks what applies to the request as a whole: the envelope, the protocol version and the Credential.
 * 0 with *version set to the version to answer in, 1 when the Credential needs a derivation (d filled), or
 * -1 with the error response written to out.
 */
static int
admit(struct session *s, const struct ttlv *root, struct ttlv_arena *arena, struct kmip_request *req,
    unsigned *version, struct access_derivation *d, struct ttlv_enc *out)
{
	const struct engine_env *env = &s->eng->env;
	struct kmip_error err;
	int64_t now = engine_now();
	int refused = 0;

	memset(&err, 0, sizeof(err));
	if (kmip_request_parse(root, arena, env->cfg->server.max_batch_items, req, &err) != 0) {
		if (!req->version_known || !response_version(req->version, version))
			*version = KMIP_VERSION(1, 0);
		session_log(s, LOG_LEVEL_WARN, "invalid request: %s", err.message);
		kmip_response_error_message(out, *version, now, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
		return -1;
	}
	if (!response_version(req->version, version)) {
		kmip_error_set(&err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "protocol version %u.%u is not supported; kmipd speaks 1.0-1.4, 2.0 and 2.1",
		    KMIP_VERSION_MAJOR(req->version), KMIP_VERSION_MINOR(req->version));
		session_log(s, LOG_LEVEL_WARN, "%s", err.message);
		kmip_response_error_message(out, *version, now, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
		return -1;
	}
	/*
	 * A wrong Credential costs a key derivation (in a worker; in the loop only without workers): after a few
	 * in one session, refuse without checking. Across sessions the engine's guard bounds derivations per
	 * identity and per address, and backs off after wrong ones.
	 */
	if (s->credential_failures >= ACCESS_CREDENTIAL_TRIES)
		refused = kmip_error_set(&err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "too many wrong Credentials on this connection; reconnect to try again");
	else if (env->keygen == NULL) {
		if ((refused = access_check_credential(env->policy, req->authentication, &err)) != 0 &&
		    req->authentication != NULL)
			s->credential_failures++;
	} else {
		switch (access_credential_begin(env->policy, req->authentication, d, &err)) {
		case ACCESS_CREDENTIAL_OK:
			break;
		case ACCESS_CREDENTIAL_DERIVE:
			return 1;
		case ACCESS_CREDENTIAL_REFUSED:
			refused = -1;
			if (req->authentication != NULL)
				s->credential_failures++;
			break;
		}
	}
	if (refused != 0) {
		refuse_credential(s, *version, &err, out);
		return -1;
	}
	return 0;
}

/*
 * Runs an admitted request: normalises its payloads, then starts the worker jobs its items need
 * (ENGINE_PENDING: a pending request owns the arena now) or runs the batch into out (ENGINE_DONE: the arena
 * is still the caller's).
 */
static enum engine_status
proceed(struct session *s, struct kmip_request *req, unsigned version, struct ttlv_arena *arena,
    struct ttlv_enc *out)
{
	struct kmip_error *faults;

	/* audit.required: nothing runs while the audit file cannot be written (each request tries it again). */
	if (!audit_usable(s->eng->env.audit) && audit_required(s->eng->env.audit)) {
		struct kmip_error err;
		struct op_ctx actx;

		kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the audit trail cannot be written "
		    "(audit.required): requests are refused until it can");
		session_log(s, LOG_LEVEL_WARN, "request refused: %s", err.message);
		memset(&actx, 0, sizeof(actx));
		actx.err = err;
		if (audit_item(s, version, "Request", &actx, false, monotonic_ms(), NULL) != 0)
			session_log(s, LOG_LEVEL_DEBUG, "the refusal's audit line was not written");
		kmip_response_error_message(out, version, engine_now(), NULL, KMIP_RESULT_STATUS_OPERATION_FAILED,
		    &err);
		return ENGINE_DONE;
	}
	if ((faults = versions_normalise(req, version, arena)) == NULL) {
		struct kmip_error err;

		kmip_error_set(&err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
		session_log(s, LOG_LEVEL_ERROR, "request refused: %s", err.message);
		kmip_response_error_message(out, version, engine_now(), NULL, KMIP_RESULT_STATUS_OPERATION_FAILED,
		    &err);
		return ENGINE_DONE;
	}
	if (request_keys(s, req, version, arena, faults) == ENGINE_PENDING)
		return ENGINE_PENDING;
	dispatch_execute(s, req, version, arena, NULL, faults, out);
	return ENGINE_DONE;
}

/* Answers one request, or starts waiting for the workers; see engine.h. */
enum engine_status
engine_request(struct session *s, struct ttlv *root, struct ttlv_arena *arena, uint8_t **resp,
    size_t *resp_len)
{
	struct access_derivation d;
	struct kmip_request req;
	struct ttlv_enc out;
	enum engine_status st;
	unsigned version;
	int admitted;

	*resp = NULL;
	*resp_len = 0;
	s->admin = access_is_admin(s->eng->env.policy, s->who);
	s->serial = ++s->eng->next_serial;
	ops_crypto_expire(s, engine_now());
	ttlv_enc_init(&out);
	memset(&d, 0, sizeof(d));
	admitted = admit(s, root, arena, &req, &version, &d, &out);
	if ((admitted == 1 && request_credential(s, &req, version, arena, &d, &out) == ENGINE_PENDING) ||
	    (admitted == 0 && proceed(s, &req, version, arena, &out) == ENGINE_PENDING)) {
		access_derivation_wipe(&d);
		ttlv_enc_free(&out);
		return ENGINE_PENDING;	/* the pending request owns the arena now */
	}
	access_derivation_wipe(&d);
	ttlv_arena_free(arena);
	st = respond(s, &out, resp, resp_len);
	ttlv_enc_free(&out);
	return st;
}

/* Writes the response to bytes that did not decode as TTLV. */
void
engine_bad_message(const char *why, uint8_t **resp, size_t *resp_len)
{
	struct kmip_error err;
	struct ttlv_enc out;

	*resp = NULL;
	*resp_len = 0;
	ttlv_enc_init(&out);
	kmip_error_set(&err, KMIP_RESULT_REASON_INVALID_MESSAGE, "malformed TTLV: %s", why);
	kmip_response_error_message(&out, KMIP_VERSION(1, 0), engine_now(), NULL,
	    KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
	if (ttlv_enc_finish(&out) == 0)
		*resp = ttlv_enc_detach(&out, resp_len);
	ttlv_enc_free(&out);
}
