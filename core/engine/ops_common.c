/*
 * What operation handlers share; see ops.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/access.h"
#include "core/engine/attrs.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

const char *
ops_identity(const struct op_ctx *ctx)
{
	return ctx->session->who;
}

_Static_assert(OP_UID_MAX == STORE_UID_MAX, "op_ctx uid buffers match the store's identifiers");

/* True when the caller is listed in access.admins (looked up once per request). */
bool
ops_is_admin(const struct op_ctx *ctx)
{
	return ctx->session->admin;
}

/* Adds uid to the identifiers the item's audit line names (once each, the first few). */
void
ops_audit_uid(struct op_ctx *ctx, const char *uid)
{
	size_t i;

	for (i = 0; i < ctx->naudit; i++)
		if (strcmp(ctx->audit_uids[i], uid) == 0)
			return;
	if (ctx->naudit < OP_AUDIT_UIDS) {
		size_t n = strnlen(uid, OP_UID_MAX);

		memcpy(ctx->audit_uids[ctx->naudit], uid, n);
		ctx->audit_uids[ctx->naudit++][n] = '\0';
	}
}

/* Returns the payload's Unique Identifier or the batch's ID Placeholder. */
const char *
ops_uid(struct op_ctx *ctx)
{
	const struct ttlv *u = ttlv_find(ctx->item->payload, KMIP_TAG_UNIQUE_IDENTIFIER);

	if (u != NULL) {
		if (u->type != TTLV_TEXT_STRING || u->length == 0 || u->length > STORE_UID_MAX) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "invalid Unique Identifier");
			return NULL;
		}
		ops_audit_uid(ctx, (const char *)u->v.bytes.data);
		return (const char *)u->v.bytes.data;
	}
	if (ctx->placeholder[0] != '\0') {
		ops_audit_uid(ctx, ctx->placeholder);
		return ctx->placeholder;
	}
	kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
	    "no Unique Identifier, and no earlier batch item left an ID Placeholder");
	return NULL;
}

void
ops_set_placeholder(struct op_ctx *ctx, const char *uid)
{
	snprintf(ctx->placeholder, STORE_UID_MAX + 1, "%s", uid);
	ops_audit_uid(ctx, uid);
}

int
ops_nomem(struct op_ctx *ctx)
{
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
}

/* Maps a store error onto a Result Reason and message. */
int
ops_store_error(struct op_ctx *ctx, int err, const char *what)
{
	switch (err) {
	case STORE_E_NOTFOUND:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_NOT_FOUND, "%s: object not found", what);
	case STORE_E_FULL:
		session_log(ctx->session, LOG_LEVEL_ERROR, "store full at store.max_map_size: %s refused", what);
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE,
		    "%s: the key store is full; the operator must raise store.max_map_size", what);
	case STORE_E_INVALID:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s: %s", what,
		    store_strerror(err));
	case STORE_E_CONFLICT:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "%s: an object was changed by "
		    "another writer while this request ran; nothing was kept: send it again", what);
	case STORE_E_TXNFULL:
		session_log(ctx->session, LOG_LEVEL_WARN, "store: %s refused: %s", what, store_last_error(ctx->env->store));
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "%s: too many writes are waiting "
		    "for the store's next commit; send it again", what);
	default:
		session_log(ctx->session, LOG_LEVEL_ERROR, "store: %s: %s (%s)", what, store_strerror(err),
		    store_last_error(ctx->env->store));
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "%s: internal store error", what);
	}
}

int
ops_begin(struct op_ctx *ctx, bool write, struct store_txn **txn)
{
	int rc = store_txn_begin(ctx->env->store, write, txn);

	return rc == 0 ? 0 : ops_store_error(ctx, rc, "transaction");
}

/* What quota_one needs. */
struct quota_check {
	struct op_ctx *ctx;
	struct store_txn *txn;
	bool edit;			/* an attribute edit: growing bytes is checked without a new object */
};

/* True for the operations that edit attributes, which could grow one object without bound. */
static bool
edits_attributes(uint32_t op)
{
	return op == KMIP_OPERATION_ADD_ATTRIBUTE || op == KMIP_OPERATION_MODIFY_ATTRIBUTE ||
	    op == KMIP_OPERATION_SET_ATTRIBUTE || op == KMIP_OPERATION_ADJUST_ATTRIBUTE;
}

/* Logs and answers a refusal for a quota (objects, else bytes); returns -1. */
static int
quota_refuse(struct op_ctx *ctx, const char *owner, const char *verb, uint64_t have, uint64_t max, bool objects)
{
	session_log(ctx->session, LOG_LEVEL_WARN, "quota: %s %s %" PRIu64 " %s, its quota is %" PRIu64 ": refused",
	    owner, verb, have, objects ? "objects" : "bytes", max);
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "%s quota exceeded: the owner "
	    "may keep %" PRIu64 " %s (destroyed ones count until purged); destroy and have them purged, or ask "
	    "for a larger quota", objects ? "object" : "storage", max, objects ? "objects" : "bytes of objects");
}

/*
 * Refuses a write that takes an owner past its quota (store_delta_fn): -1 with ctx->err set, or 0. Only
 * writes that add an object (Create, Register, Create Key Pair, Re-key: whatever adds one) or grow one through
 * its attributes are held to it: lifecycle changes (Activate, Revoke, Destroy) and Get's Fresh flag add a
 * few bounded attributes and must keep working at the limit, Destroy above all.
 */
static int
quota_one(void *arg, const char *owner, const struct store_usage_delta *d)
{
	const struct quota_check *qc = arg;
	struct op_ctx *ctx = qc->ctx;
	struct store_usage u;
	uint64_t max_objects, max_bytes;
	int rc;

	if (d->objects <= 0 && (!qc->edit || d->bytes <= 0))
		return 0;
	access_quota(ctx->env->policy, owner, &max_objects, &max_bytes);
	if (max_objects == 0 && max_bytes == 0)
		return 0;
	if ((rc = store_usage_get(qc->txn, owner, &u)) != 0) {
		ops_store_error(ctx, rc, "usage");
		return -1;
	}
	if (max_objects != 0 && d->objects > 0 && u.objects > max_objects)
		return quota_refuse(ctx, owner, "would own", u.objects, max_objects, true);
	if (max_bytes != 0 && d->bytes > 0 && u.bytes > max_bytes)
		return quota_refuse(ctx, owner, "would own", u.bytes, max_bytes, false);
	/*
	 * u counts this process's writes; another worker may be writing for the same owner: the group commit
	 * checks the quota again against the counters every process's commits keep.
	 */
	if ((rc = store_txn_usage_limit(qc->txn, owner, d->objects > 0 ? max_objects : 0,
	    d->bytes > 0 ? max_bytes : 0)) != 0) {
		ops_store_error(ctx, rc, "usage");
		return -1;
	}
	return 0;
}

/* True when owner is at its quota already; see ops.h. */
bool
ops_quota_full(struct op_ctx *ctx, struct store_txn *txn, const char *owner)
{
	struct store_txn *own = NULL;
	struct store_usage u;
	uint64_t max_objects, max_bytes;
	int rc;

	access_quota(ctx->env->policy, owner, &max_objects, &max_bytes);
	if (max_objects == 0 && max_bytes == 0)
		return false;
	if (txn == NULL) {
		if (ops_begin(ctx, false, &own) != 0)
			return true;
		txn = own;
	}
	rc = store_usage_get(txn, owner, &u);
	store_txn_abort(own);
	if (rc != 0) {
		ops_store_error(ctx, rc, "usage");
		return true;
	}
	if (max_objects != 0 && u.objects >= max_objects)
		return quota_refuse(ctx, owner, "owns", u.objects, max_objects, true) != 0;
	if (max_bytes != 0 && u.bytes >= max_bytes)
		return quota_refuse(ctx, owner, "owns", u.bytes, max_bytes, false) != 0;
	return false;
}

/*
 * Commits the item's writes into the group, unless they take an owner past its quota (then aborts them).
 * The usage is read from the store's counters plus the group's staged writes: O(1) in the objects stored.
 */
int
ops_commit(struct op_ctx *ctx, struct store_txn **txn)
{
	struct quota_check qc = { ctx, *txn, ctx->item != NULL && edits_attributes(ctx->item->operation) };
	int rc;

	if ((rc = store_txn_usage_each(*txn, quota_one, &qc)) != 0) {
		store_txn_abort(*txn);
		*txn = NULL;
		return rc == -1 ? -1 : ops_store_error(ctx, rc, "usage");
	}
	rc = store_txn_commit(*txn);

	*txn = NULL;
	return rc == 0 ? 0 : ops_store_error(ctx, rc, "commit");
}

/* What ops_load's header check needs. */
struct load_check {
	struct op_ctx *ctx;
	unsigned flags;
	size_t room;		/* the material must fit in this, less OPS_EXPORT_SLACK (SIZE_MAX: no test) */
	bool too_large;		/* set when it does not */
	struct store_select *sel;	/* the attributes the caller reads, or NULL: all */
};

/*
 * Refuses another identity's object from the record's header, before anything of it is decoded; then, for
 * an export, material too large for the response, before it is opened.
 */
static int
load_check(void *arg, const struct store_header *h)
{
	struct load_check *lc = arg;

	enum access_verdict v = access_by_owner(lc->ctx->env->policy, ops_identity(lc->ctx), h->owner,
	    h->owner_len, (h->sharing & STORE_SHARED) != 0, (lc->flags & OPS_WRITE) != 0);

	if (v == ACCESS_NO)
		return STORE_E_NOTFOUND;
	/* Perhaps shared: access_allowed() reads the attributes that share it, so all are decoded. */
	if (v != ACCESS_YES && lc->sel != NULL)
		lc->sel->all = true;
	if (h->material_len > OPS_EXPORT_SLACK && h->material_len - OPS_EXPORT_SLACK > lc->room) {
		lc->too_large = true;
		return STORE_E_NOTFOUND;	/* stops this read; load() reads the object again without it */
	}
	return STORE_OK;
}

/*
 * ops_load, and ops_load_export when room is not SIZE_MAX. The owner is checked from the record's fixed
 * header first, so another tenant's object costs what a missing one does (nothing is decoded); the
 * attributes decide only for objects that may be shared. With sel, only the attributes it names are
 * decoded for the owner or an administrator (all of them when the object may be shared).
 */
static int
load(struct op_ctx *ctx, struct store_txn *txn, const char *uid, unsigned flags, size_t room,
    struct store_select *sel, struct store_object **obj, bool *too_large)
{
	struct load_check lc = { ctx, flags, room, false, sel };
	int rc = store_get_select(txn, uid, (flags & OPS_MATERIAL) != 0, load_check, &lc, sel, obj);

	if (lc.too_large) {
		/* The attributes still decide access and what the caller answers first (Sensitive, say). */
		lc.room = SIZE_MAX;
		rc = store_get_select(txn, uid, false, load_check, &lc, sel, obj);
	}
	ops_audit_uid(ctx, uid);
	if (rc == 0 && !access_allowed(ctx->env->policy, ops_identity(ctx), (*obj)->owner, (*obj)->attrs,
	    (flags & OPS_WRITE) != 0)) {
		store_object_free(*obj);
		*obj = NULL;
		rc = STORE_E_NOTFOUND;
	}
	if (rc == STORE_E_NOTFOUND)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_NOT_FOUND, "object %s not found", uid);
	if (rc != 0)
		return ops_store_error(ctx, rc, "read");
	if (too_large != NULL)
		*too_large = lc.too_large;
	return 0;
}

/* Loads an object the caller may see (or change); others' objects are reported as not found. */
int
ops_load(struct op_ctx *ctx, struct store_txn *txn, const char *uid, unsigned flags, struct store_object **obj)
{
	return load(ctx, txn, uid, flags, SIZE_MAX, NULL, obj, NULL);
}

/* Loads an object to export, leaving material that cannot fit in the response sealed; see ops.h. */
int
ops_load_export(struct op_ctx *ctx, struct store_txn *txn, const char *uid, const uint32_t *tags,
    size_t ntags, struct store_object **obj, bool *too_large)
{
	struct store_select sel = { tags, ntags, false };

	*too_large = false;
	return load(ctx, txn, uid, OPS_MATERIAL, ttlv_enc_room(ctx->out), &sel, obj, too_large);
}

/* Checks an object's attributes against the configured limits; see ops.h. */
int
ops_check_attr_limits(struct op_ctx *ctx, const struct ttlv *attrs)
{
	const struct config_server *c = &ctx->env->cfg->server;
	struct attrs_limits lim = { c->max_attributes, c->max_attribute_values, c->max_attribute_bytes };

	return attrs_check_limits(attrs, &lim, &ctx->err);
}

/* Writes an object back after a change. */
int
ops_save(struct op_ctx *ctx, struct store_txn *txn, struct store_object *obj)
{
	struct ttlv state = { .tag = KMIP_TAG_STATE };
	int rc;

	/* State applies to cryptographic objects (KMIP 1.4 section 3.22): a Template has none to show. */
	if (obj->object_type == KMIP_OBJECT_TYPE_TEMPLATE)
		(void)attrs_remove_like(obj->attrs, &state, -1);
	if (attrs_set_date(obj->arena, obj->attrs, KMIP_TAG_LAST_CHANGE_DATE, ctx->now) != 0 ||
	    (obj->object_type != KMIP_OBJECT_TYPE_TEMPLATE &&
	    attrs_set_enum(obj->arena, obj->attrs, KMIP_TAG_STATE, obj->state) != 0))
		return ops_nomem(ctx);
	/* Kept in the record's header, so that ops_load can refuse others without decoding the record. */
	obj->sharing = access_object_shared(obj->attrs) ? STORE_SHARED : 0;
	if ((rc = store_put(txn, obj)) != 0)
		return ops_store_error(ctx, rc, "write");
	return 0;
}

/* True for the object types whose material comes in a Key Block. */
bool
ops_has_key_block(uint32_t object_type)
{
	switch (object_type) {
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
	case KMIP_OBJECT_TYPE_SECRET_DATA:
	case KMIP_OBJECT_TYPE_PGP_KEY:
		return true;
	default:
		return false;
	}
}

/* Reads a 4-byte big-endian length at *p (within end) and steps over it; false when it does not fit. */
static bool
held_len(const uint8_t **p, const uint8_t *end, size_t *len)
{
	if (end - *p < 4)
		return false;
	*len = (size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 | (size_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	return *len <= (size_t)(end - *p);
}

/* Opens a held envelope, or takes the material as the canonical form; see ops.h. */
int
ops_held_open(const struct store_object *o, struct ops_held *h)
{
	const uint8_t *p = o->material, *end;
	size_t n;

	memset(h, 0, sizeof(*h));
	/* Only objects with a Key Block are held; the others' material_format is a type of their own. */
	if (!(o->material_format & OPS_HELD) || o->material == NULL || !ops_has_key_block(o->object_type)) {
		h->canon = o->material;
		h->canon_len = o->material_len;
		return 0;
	}
	end = o->material + o->material_len;
	h->held = true;
	h->kft = OPS_HELD_KFT(o->material_format);
	if (!held_len(&p, end, &n))
		return -1;
	h->canon = n > 0 ? p : NULL;
	h->canon_len = n;
	p += n;
	if (!held_len(&p, end, &n) || n < 8)
		return -1;
	h->value = p;
	h->value_len = n;
	p += n;
	if (p < end) {
		h->wrapping = p;
		h->wrapping_len = (size_t)(end - p);
	}
	return 0;
}

/* Writes a 4-byte big-endian length. */
static void
put_len(uint8_t *p, size_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

/* Packs a held envelope; see ops.h. */
int
ops_held_pack(const uint8_t *canon, size_t canon_len, const uint8_t *value, size_t value_len,
    const uint8_t *wrapping, size_t wrapping_len, uint8_t **out, size_t *out_len)
{
	const size_t cap = (size_t)1 << 30;
	uint8_t *p;

	*out = NULL;
	*out_len = 0;
	if (canon_len > cap || value_len > cap || wrapping_len > cap || value == NULL || value_len < 8)
		return -1;
	if ((p = malloc(8 + canon_len + value_len + wrapping_len)) == NULL)
		return -1;
	*out = p;
	*out_len = 8 + canon_len + value_len + wrapping_len;
	put_len(p, canon_len);
	p += 4;
	if (canon_len > 0)
		memcpy(p, canon, canon_len);
	p += canon_len;
	put_len(p, value_len);
	p += 4;
	memcpy(p, value, value_len);
	p += value_len;
	if (wrapping_len > 0)
		memcpy(p, wrapping, wrapping_len);
	return 0;
}

/* True for the objects KMIP leases: the cryptographic objects, not Opaque Objects or Templates. */
bool
ops_lease_applies(uint32_t object_type)
{
	return object_type != KMIP_OBJECT_TYPE_OPAQUE_OBJECT && object_type != KMIP_OBJECT_TYPE_TEMPLATE;
}

/*
 * Shows among o's attributes, for a reading operation, those that describe the server rather than the
 * object: its Lease Time (server.lease_time, when leases are on, for the objects that hold leases) and its
 * Protection Storage Mask (KMIP 2.x: Software, where the store keeps every object, sealed under the master
 * key; 1.x clients never see it, attr_visible). Neither is stored: a reload that changes the lease changes
 * it for every object. 0, or -1 with ctx->err set when out of memory.
 */
int
ops_attach_virtual(struct op_ctx *ctx, struct store_object *o)
{
	unsigned lease = ctx->env->cfg->server.lease_time;
	struct ttlv *t;

	if (o->attrs == NULL)
		return 0;
	if (lease > 0 && ops_lease_applies(o->object_type) && ttlv_find(o->attrs, KMIP_TAG_LEASE_TIME) == NULL) {
		if ((t = ttlv_new_interval(o->arena, KMIP_TAG_LEASE_TIME, lease)) == NULL)
			return ops_nomem(ctx);
		ttlv_append(o->attrs, t);
	}
	if (ttlv_find(o->attrs, KMIP_TAG_PROTECTION_STORAGE_MASK) == NULL) {
		if ((t = ttlv_new_int(o->arena, KMIP_TAG_PROTECTION_STORAGE_MASK,
		    KMIP_PROTECTION_STORAGE_MASK_SOFTWARE)) == NULL)
			return ops_nomem(ctx);
		ttlv_append(o->attrs, t);
	}
	return 0;
}
