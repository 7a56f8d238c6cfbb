/*
 * The key lifecycle (Activate, Revoke, Destroy), Locate, and what a client asks of the server itself
 * (Query, Discover Versions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/attrs.h"
#include "core/conn.h"
#include "core/ops.h"
#include "core/server.h"

#define LOCATE_MAX_ITEMS 10000	/* uids in one Locate response when the client sets no Maximum Items */

/* Loads the object of a lifecycle request inside a write transaction. */
static int
lifecycle_load(struct op_ctx *ctx, struct store_txn **txn, struct store_object **o)
{
	const char *uid;

	*txn = NULL;
	*o = NULL;
	if ((uid = ops_uid(ctx)) == NULL || ops_begin(ctx, true, txn) != 0)
		return -1;
	if (ops_load(ctx, *txn, uid, OPS_MATERIAL | OPS_WRITE, o) != 0) {
		store_txn_abort(*txn);
		*txn = NULL;
		return -1;
	}
	return 0;
}

/* Saves, commits and answers with the Unique Identifier; frees both. */
static int
lifecycle_finish(struct op_ctx *ctx, struct store_txn *txn, struct store_object *o, const char *what)
{
	int rc = -1;

	if (ops_save(ctx, txn, o) == 0) {
		rc = ops_commit(ctx, txn);
		txn = NULL;
	}
	if (rc == 0) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
		ops_set_placeholder(ctx, o->uid);
		conn_log(ctx->conn, LOG_LEVEL_INFO, "%s %s", what, o->uid);
	}
	store_txn_abort(txn);
	store_object_free(o);
	return rc;
}

static const char *
state_name(uint32_t state)
{
	const char *n = ttlv_enum_name(KMIP_TAG_STATE, state);

	return n != NULL ? n : "unknown";
}

/* Activate: Pre-Active becomes Active, with the Activation Date now. */
int
op_activate(struct op_ctx *ctx)
{
	struct store_object *o;
	struct store_txn *txn;

	if (lifecycle_load(ctx, &txn, &o) != 0)
		return -1;
	if (o->state != KMIP_STATE_PRE_ACTIVE) {
		kmip_error_set(&ctx->err, ops_reason_wrong_state(ctx->version),
		    "object %s is %s; only a Pre-Active object can be activated", o->uid, state_name(o->state));
		goto fail;
	}
	o->state = KMIP_STATE_ACTIVE;
	if (attrs_set_date(o->arena, o->attrs, KMIP_TAG_ACTIVATION_DATE, ctx->now) != 0) {
		ops_nomem(ctx);
		goto fail;
	}
	return lifecycle_finish(ctx, txn, o, "activated");
fail:
	store_txn_abort(txn);
	store_object_free(o);
	return -1;
}

/*
 * Revoke: a compromise (Key Compromise, CA Compromise) makes any live object Compromised and records when;
 * any other reason deactivates a Pre-Active or Active object.
 */
int
op_revoke(struct op_ctx *ctx)
{
	const struct ttlv *reason = ttlv_find(ctx->item->payload, KMIP_TAG_REVOCATION_REASON);
	const struct ttlv *code = ttlv_find(reason, KMIP_TAG_REVOCATION_REASON_CODE);
	const struct ttlv *occurred = ttlv_find(ctx->item->payload, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE);
	struct store_object *o;
	struct store_txn *txn;
	struct ttlv *copy;
	bool compromise;

	if (reason == NULL || reason->type != TTLV_STRUCTURE || code == NULL || code->type != TTLV_ENUMERATION)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Revoke needs a Revocation Reason with a Revocation Reason Code");
	if (occurred != NULL && occurred->type != TTLV_DATE_TIME)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Compromise Occurrence Date is not a Date-Time");
	compromise = code->v.u32 == KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE ||
	    code->v.u32 == KMIP_REVOCATION_REASON_CODE_CA_COMPROMISE;
	if (lifecycle_load(ctx, &txn, &o) != 0)
		return -1;
	/* A compromise may be learnt after destruction: Destroyed becomes Destroyed Compromised. */
	if (o->state == KMIP_STATE_DESTROYED_COMPROMISED || o->state == KMIP_STATE_COMPROMISED ||
	    (!compromise && o->state != KMIP_STATE_ACTIVE && o->state != KMIP_STATE_PRE_ACTIVE)) {
		kmip_error_set(&ctx->err, ops_reason_wrong_state(ctx->version), "object %s is %s and cannot be revoked %s",
		    o->uid, state_name(o->state), compromise ? "as compromised" : "for this reason");
		goto fail;
	}
	if ((copy = store_ttlv_copy(o->arena, reason)) == NULL || attrs_set(o->arena, o->attrs, copy) != 0)
		goto nomem;
	if (compromise) {
		o->state = o->state == KMIP_STATE_DESTROYED ? KMIP_STATE_DESTROYED_COMPROMISED : KMIP_STATE_COMPROMISED;
		if (attrs_set_date(o->arena, o->attrs, KMIP_TAG_COMPROMISE_DATE, ctx->now) != 0 ||
		    attrs_set_date(o->arena, o->attrs, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE,
		    occurred != NULL ? occurred->v.i64 : ctx->now) != 0)
			goto nomem;
	} else {
		o->state = KMIP_STATE_DEACTIVATED;
		if (attrs_set_date(o->arena, o->attrs, KMIP_TAG_DEACTIVATION_DATE, ctx->now) != 0)
			goto nomem;
	}
	return lifecycle_finish(ctx, txn, o, compromise ? "revoked as compromised" : "revoked");
nomem:
	ops_nomem(ctx);
fail:
	store_txn_abort(txn);
	store_object_free(o);
	return -1;
}

/*
 * Destroy: the key material goes; the object's attributes stay, in state Destroyed (or Destroyed
 * Compromised). As the spec asks, only Pre-Active, Deactivated or Compromised objects can be destroyed;
 * compat.destroy_active lets clients that skip Revoke destroy Active ones.
 */
int
op_destroy(struct op_ctx *ctx)
{
	struct store_object *o;
	struct store_txn *txn;
	bool allow_active = ctx->conn->srv->cfg->compat.destroy_active;

	if (lifecycle_load(ctx, &txn, &o) != 0)
		return -1;
	switch (o->state) {
	case KMIP_STATE_PRE_ACTIVE:
	case KMIP_STATE_DEACTIVATED:
		o->state = KMIP_STATE_DESTROYED;
		break;
	case KMIP_STATE_COMPROMISED:
		o->state = KMIP_STATE_DESTROYED_COMPROMISED;
		break;
	case KMIP_STATE_ACTIVE:
		if (allow_active) {
			o->state = KMIP_STATE_DESTROYED;
			break;
		}
		kmip_error_set(&ctx->err, ops_reason_wrong_state(ctx->version), "object %s is Active: revoke it "
		    "before destroying it (or set compat.destroy_active)", o->uid);
		goto fail;
	default:
		kmip_error_set(&ctx->err, ops_reason_wrong_state(ctx->version), "object %s is %s already", o->uid,
		    state_name(o->state));
		goto fail;
	}
	if (store_object_set_material(o, NULL, 0, o->material_format) != 0 ||
	    attrs_set_date(o->arena, o->attrs, KMIP_TAG_DESTROY_DATE, ctx->now) != 0) {
		ops_nomem(ctx);
		goto fail;
	}
	return lifecycle_finish(ctx, txn, o, "destroyed");
fail:
	store_txn_abort(txn);
	store_object_free(o);
	return -1;
}

/*
 * Reads Locate's filter: 1.x Attribute items (bare, or wrapped in a Template-Attribute as some clients
 * send them), 2.x an Attributes structure. Server-set attributes (State, Object Type, ...) are valid
 * filters here.
 */
static int
locate_filter(struct op_ctx *ctx, struct ttlv *filter)
{
	const struct ttlv *p = ctx->item->payload, *c, *src;
	struct ttlv *item;
	int32_t index;

	if (KMIP_VERSION_MAJOR(ctx->version) >= 2) {
		src = ttlv_find(p, KMIP_TAG_ATTRIBUTES);
		for (c = src != NULL && src->type == TTLV_STRUCTURE ? src->v.s.first : NULL; c != NULL; c = c->next) {
			if ((item = store_ttlv_copy(ctx->arena, c)) == NULL)
				return ops_nomem(ctx);
			if (attr_check(item, &ctx->err) != 0)
				return -1;
			ttlv_append(filter, item);
		}
		return 0;
	}
	for (c = p != NULL ? p->v.s.first : NULL; c != NULL; c = c->next) {
		const struct ttlv *a, *first = c;

		if (c->tag == KMIP_TAG_TEMPLATE_ATTRIBUTE && c->type == TTLV_STRUCTURE)
			first = c->v.s.first;
		else if (c->tag != KMIP_TAG_ATTRIBUTE)
			continue;
		for (a = first; a != NULL; a = a == c ? NULL : a->next) {
			if (a->tag != KMIP_TAG_ATTRIBUTE)
				continue;
			if ((item = attr_from_v1(ctx->arena, a, &index, &ctx->err)) == NULL)
				return -1;
			ttlv_append(filter, item);
		}
	}
	return 0;
}

/* Reads an optional Integer field that must not be negative; -1 with ctx->err set when malformed. */
static int
optional_count(struct op_ctx *ctx, uint32_t tag, uint32_t *out)
{
	const struct ttlv *t = ttlv_find(ctx->item->payload, tag);

	*out = 0;
	if (t == NULL)
		return 0;
	if (t->type != TTLV_INTEGER || t->v.i32 < 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s must be a non-negative Integer",
		    ttlv_tag_name(tag));
	*out = (uint32_t)t->v.i32;
	return 0;
}

/* Uids gathered by the queries of one Locate. */
struct found {
	char **uids;
	size_t n;
	size_t cap;
	size_t located;		/* matches counted by the store, all queries together */
	int rc;
	char *cause;
};

struct share_query {
	struct op_ctx *ctx;
	struct store_txn *txn;
	const struct store_query *base;
	struct found *found;
};

/* Runs one store query and appends its uids to found. */
static void
locate_run(struct store_txn *txn, const struct store_query *q, struct found *found)
{
	char **uids = NULL, *cause = NULL;
	size_t n = 0, located = 0, i;
	struct store_query copy = *q;
	int rc;

	if (found->rc != 0)
		return;
	copy.located_items = &located;
	if ((rc = store_locate(txn, &copy, &uids, &n, &cause)) != 0) {
		found->rc = rc;
		found->cause = cause;
		return;
	}
	free(cause);
	found->located += located;
	if (found->n + n > found->cap) {
		size_t cap = found->n + n;
		char **more = realloc(found->uids, cap * sizeof(*more));

		if (more == NULL) {
			store_uids_free(uids, n);
			found->rc = STORE_E_NOMEM;
			return;
		}
		found->uids = more;
		found->cap = cap;
	}
	for (i = 0; i < n; i++)
		found->uids[found->n++] = uids[i];
	free(uids);	/* the strings moved to found */
}

/* Newest first: identifiers are a counter, so longer is newer, then larger. */
static int
uid_newest_first(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	if (lx != ly)
		return lx < ly ? 1 : -1;
	return -strcmp(x, y);
}

/* Counts the share entries that apply to the caller. */
static void
count_share(const char *owner, const char *group, size_t group_len, void *arg)
{
	(void)owner;
	(void)group;
	(void)group_len;
	(*(size_t *)arg)++;
}

/* A query over an owner's objects shared with the caller through access.shares. */
static void
locate_share(const char *owner, const char *group, size_t group_len, void *arg)
{
	struct share_query *sq = arg;
	struct store_query q = *sq->base;
	struct ttlv *filter = ttlv_new_struct(sq->ctx->arena, KMIP_TAG_ATTRIBUTES), *g, *copy;
	const struct ttlv *c;

	if (filter == NULL) {
		sq->found->rc = STORE_E_NOMEM;
		return;
	}
	for (c = q.filter->v.s.first; c != NULL; c = c->next) {
		if ((copy = store_ttlv_copy(sq->ctx->arena, c)) == NULL) {
			sq->found->rc = STORE_E_NOMEM;
			return;
		}
		ttlv_append(filter, copy);
	}
	if (!(group_len == 1 && group[0] == '*')) {
		if ((g = ttlv_new_text(sq->ctx->arena, KMIP_TAG_OBJECT_GROUP, group, group_len)) == NULL) {
			sq->found->rc = STORE_E_NOMEM;
			return;
		}
		ttlv_append(filter, g);
	}
	q.identity = owner;
	q.is_admin = false;
	q.filter = filter;
	locate_run(sq->txn, &q, sq->found);
}

/*
 * Locate: the caller's objects (every owner's for an administrator), plus those shared with it through
 * access.shares, that match every filter. Objects shared one by one (x-kmipd-shared-with) are reached by
 * their identifier, not found by Locate: finding them would take a scan of every object.
 */
int
op_locate(struct op_ctx *ctx)
{
	struct store_query q;
	struct store_txn *txn;
	struct ttlv *filter = ttlv_new_struct(ctx->arena, KMIP_TAG_ATTRIBUTES);
	const struct ttlv *member = ttlv_find(ctx->item->payload, KMIP_TAG_OBJECT_GROUP_MEMBER);
	struct found found;
	struct share_query sq;
	size_t i, first, n, shares;
	uint32_t mask, max, offset;

	if (filter == NULL)
		return ops_nomem(ctx);
	memset(&q, 0, sizeof(q));
	memset(&found, 0, sizeof(found));
	if (locate_filter(ctx, filter) != 0 || optional_count(ctx, KMIP_TAG_MAXIMUM_ITEMS, &max) != 0 ||
	    optional_count(ctx, KMIP_TAG_OFFSET_ITEMS, &offset) != 0 ||
	    optional_count(ctx, KMIP_TAG_STORAGE_STATUS_MASK, &mask) != 0)
		return -1;
	if (member != NULL) {
		struct ttlv *copy = store_ttlv_copy(ctx->arena, member);

		if (copy == NULL)
			return ops_nomem(ctx);
		ttlv_append(filter, copy);
	}
	if (max == 0 || max > LOCATE_MAX_ITEMS)
		max = LOCATE_MAX_ITEMS;
	q.identity = ops_identity(ctx);
	q.is_admin = ops_is_admin(ctx);
	q.filter = filter;
	q.storage_status_mask = mask;
	q.maximum_items = max;
	q.offset_items = offset;
	shares = 0;
	if (!q.is_admin)
		access_shares_for(ctx->conn->srv->cfg, ops_identity(ctx), count_share, &shares);
	if (shares > 0) {
		/* Shared objects merge with the caller's own: every query runs from the start, paging after. */
		q.maximum_items = offset + max > LOCATE_MAX_ITEMS ? LOCATE_MAX_ITEMS : offset + max;
		q.offset_items = 0;
	}
	if (ops_begin(ctx, false, &txn) != 0)
		return -1;
	locate_run(txn, &q, &found);
	if (shares > 0) {
		sq.ctx = ctx;
		sq.txn = txn;
		sq.base = &q;
		sq.found = &found;
		access_shares_for(ctx->conn->srv->cfg, ops_identity(ctx), locate_share, &sq);
	}
	store_txn_abort(txn);
	first = 0;
	n = found.n;
	if (found.rc == 0 && shares > 0) {
		qsort(found.uids, found.n, sizeof(char *), uid_newest_first);
		for (i = 1, n = found.n > 0 ? 1 : 0; i < found.n; i++) {
			if (strcmp(found.uids[i], found.uids[n - 1]) == 0) {
				free(found.uids[i]);
				found.located--;	/* counted twice: the caller's own and shared */
			} else {
				found.uids[n++] = found.uids[i];
			}
		}
		found.n = n;
		first = offset < found.n ? offset : found.n;
		n = found.n - first < max ? found.n - first : max;
	}
	if (found.rc != 0) {
		int rc = found.rc;

		store_uids_free(found.uids, found.n);
		if (rc == STORE_E_INVALID) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Locate: %s",
			    found.cause ? found.cause : "bad filter");
			free(found.cause);
			return -1;
		}
		free(found.cause);
		return ops_store_error(ctx, rc, "Locate");
	}
	/* Located Items (1.3+) answers paging: sent when the client asked for Maximum or Offset Items. */
	if (ctx->version >= KMIP_VERSION(1, 3) && (ttlv_find(ctx->item->payload, KMIP_TAG_MAXIMUM_ITEMS) != NULL ||
	    ttlv_find(ctx->item->payload, KMIP_TAG_OFFSET_ITEMS) != NULL))
		ttlv_enc_int(ctx->out, KMIP_TAG_LOCATED_ITEMS, found.located > INT32_MAX ? INT32_MAX :
		    (int32_t)found.located);
	for (i = first; i < first + n; i++) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, found.uids[i]);
		ops_audit_uid(ctx, found.uids[i]);
	}
	if (n > 0)
		ops_set_placeholder(ctx, found.uids[first]);
	conn_log(ctx->conn, LOG_LEVEL_DEBUG, "locate: %zu of %zu matches returned", n, found.located);
	store_uids_free(found.uids, found.n);
	return 0;
}

/*
 * Interop (2.x): the OASIS interoperability tests bracket each test case with Begin and End; the server
 * only acknowledges them.
 */
int
op_interop(struct op_ctx *ctx)
{
	const struct ttlv *f = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_FUNCTION);
	const struct ttlv *id = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_IDENTIFIER);

	if (f == NULL || f->type != TTLV_ENUMERATION || f->v.u32 < KMIP_INTEROP_FUNCTION_BEGIN ||
	    f->v.u32 > KMIP_INTEROP_FUNCTION_RESET)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Interop needs an Interop Function");
	conn_log(ctx->conn, LOG_LEVEL_INFO, "interop %s %s", ttlv_enum_name(KMIP_TAG_INTEROP_FUNCTION, f->v.u32),
	    id != NULL && id->type == TTLV_TEXT_STRING ? (const char *)id->v.bytes.data : "");
	return 0;
}

/*
 * Check: would the object allow this use? The asked Cryptographic Usage Mask must be within the object's,
 * and an asked Usage Limits Count within what its Usage Limits leave.
 */
int
op_check(struct op_ctx *ctx)
{
	const struct ttlv *p = ctx->item->payload, *mask, *count, *have, *ul;
	struct store_object *o = NULL;
	struct store_txn *txn;
	const char *uid;
	int rc = -1;

	if ((uid = ops_uid(ctx)) == NULL || ops_begin(ctx, false, &txn) != 0)
		return -1;
	rc = ops_load(ctx, txn, uid, 0, &o);
	store_txn_abort(txn);
	if (rc != 0)
		return -1;
	rc = -1;
	mask = ttlv_find(p, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK);
	have = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK);
	if (mask != NULL && (mask->type != TTLV_INTEGER || have == NULL ||
	    ((uint32_t)mask->v.i32 & ~(uint32_t)have->v.i32) != 0)) {
		kmip_error_set(&ctx->err, KMIP_VERSION_MAJOR(ctx->version) >= 2 ?
		    KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK : KMIP_RESULT_REASON_PERMISSION_DENIED,
		    "object %s does not allow that use (Cryptographic Usage Mask)", uid);
		goto out;
	}
	count = ttlv_find(p, KMIP_TAG_USAGE_LIMITS_COUNT);
	ul = ttlv_find(o->attrs, KMIP_TAG_USAGE_LIMITS);
	if (count != NULL && ul != NULL) {
		const struct ttlv *left = ttlv_find(ul, KMIP_TAG_USAGE_LIMITS_COUNT);
		const struct ttlv *total = ttlv_find(ul, KMIP_TAG_USAGE_LIMITS_TOTAL);
		int64_t remaining = left != NULL && left->type == TTLV_LONG_INTEGER ? left->v.i64 :
		    total != NULL && total->type == TTLV_LONG_INTEGER ? total->v.i64 : 0;

		if (count->type != TTLV_LONG_INTEGER || count->v.i64 > remaining) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_PERMISSION_DENIED,
			    "object %s has not that much use left (Usage Limits)", uid);
			goto out;
		}
	}
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ops_set_placeholder(ctx, o->uid);
	rc = 0;
out:
	store_object_free(o);
	return rc;
}

/* Log (2.x): a client's message for the server's log, kept to one bounded, quoted line. */
int
op_log(struct op_ctx *ctx)
{
	const struct ttlv *m = ttlv_find(ctx->item->payload, KMIP_TAG_LOG_MESSAGE);

	if (m == NULL || m->type != TTLV_TEXT_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Log needs a Log Message");
	conn_log(ctx->conn, LOG_LEVEL_INFO, "client log: \"%.200s\"", (const char *)m->v.bytes.data);
	return 0;
}

/* Query: the operations and object types kmipd supports, and who it is. */
int
op_query(struct op_ctx *ctx)
{
	static const uint32_t objects[] = { KMIP_OBJECT_TYPE_SYMMETRIC_KEY, KMIP_OBJECT_TYPE_PUBLIC_KEY,
	    KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_OBJECT_TYPE_SECRET_DATA, KMIP_OBJECT_TYPE_OPAQUE_OBJECT,
	    KMIP_OBJECT_TYPE_CERTIFICATE };
	const struct ttlv *f;
	const struct op_desc *d;
	bool ops = false, objs = false, info = false;
	size_t i;

	for (f = ttlv_find(ctx->item->payload, KMIP_TAG_QUERY_FUNCTION); f != NULL; f = ttlv_find_next(f)) {
		if (f->type != TTLV_ENUMERATION)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Query Function is not an Enumeration");
		ops |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_OPERATIONS;
		objs |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_OBJECTS;
		info |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_SERVER_INFORMATION;
	}
	if (ops)
		for (d = dispatch_ops; d->fn != NULL; d++)
			if (d->since <= ctx->version)
				ttlv_enc_enum(ctx->out, KMIP_TAG_OPERATION, d->operation);
	if (objs)
		for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
			ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, objects[i]);
	if (info) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_VENDOR_IDENTIFICATION, "kmipd");
		ttlv_enc_begin(ctx->out, KMIP_TAG_SERVER_INFORMATION);
		ttlv_enc_end(ctx->out);
	}
	return 0;
}

/*
 * Discover Versions: with no list, every version kmipd speaks, newest first; with a list, those of the
 * client's versions that kmipd speaks, in the client's order.
 */
int
op_discover_versions(struct op_ctx *ctx)
{
	const struct ttlv *payload = ctx->item->payload, *pv;
	size_t i;

	if (ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION) != NULL) {
		for (pv = ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION); pv != NULL; pv = ttlv_find_next(pv)) {
			const struct ttlv *major = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR);
			const struct ttlv *minor = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR);

			if (major == NULL || minor == NULL || major->type != TTLV_INTEGER ||
			    minor->type != TTLV_INTEGER)
				return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE,
				    "malformed Protocol Version in Discover Versions");
			if (major->v.i32 < 0 || major->v.i32 > 255 || minor->v.i32 < 0 || minor->v.i32 > 255 ||
			    !kmip_version_supported(KMIP_VERSION(major->v.i32, minor->v.i32)))
				continue;
			ttlv_enc_item(ctx->out, pv);
		}
		return 0;
	}
	for (i = 0; i < dispatch_nversions; i++) {
		ttlv_enc_begin(ctx->out, KMIP_TAG_PROTOCOL_VERSION);
		ttlv_enc_int(ctx->out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, (int32_t)KMIP_VERSION_MAJOR(dispatch_versions[i]));
		ttlv_enc_int(ctx->out, KMIP_TAG_PROTOCOL_VERSION_MINOR, (int32_t)KMIP_VERSION_MINOR(dispatch_versions[i]));
		ttlv_enc_end(ctx->out);
	}
	return 0;
}
