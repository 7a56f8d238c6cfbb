/*
 * The key lifecycle: Activate, Revoke and Destroy move an object through its states; Check asks whether
 * an object allows a use.
 */
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

/*
 * A Template has no lifecycle: State and its dates apply to cryptographic objects (KMIP 1.4 sections 3.22
 * to 3.27), while a Template only holds attributes for others. Returns 0, or -1 with ctx->err set.
 */
static int
check_has_lifecycle(struct op_ctx *ctx, const struct store_object *o, const char *what)
{
	if (o->object_type != KMIP_OBJECT_TYPE_TEMPLATE)
		return 0;
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ILLEGAL_OPERATION, "object %s is a Template, which has "
	    "no lifecycle to %s", o->uid, what);
}

/* Saves, commits and answers with the Unique Identifier; frees both. */
static int
lifecycle_finish(struct op_ctx *ctx, struct store_txn *txn, struct store_object *o, const char *what)
{
	int rc = -1;

	if (ops_save(ctx, txn, o) == 0)
		rc = ops_commit(ctx, &txn);
	if (rc == 0) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
		ops_set_placeholder(ctx, o->uid);
		session_log(ctx->session, LOG_LEVEL_INFO, "%s %s", what, o->uid);
	}
	store_txn_abort(txn);
	store_object_free(o);
	return rc;
}

/* Gives up a lifecycle change: aborts txn and frees o. Returns -1, for the caller to pass on. */
static int
lifecycle_abort(struct store_txn *txn, struct store_object *o)
{
	store_txn_abort(txn);
	store_object_free(o);
	return -1;
}

/* The name of a State, for messages. */
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
	if (check_has_lifecycle(ctx, o, "activate") != 0)
		return lifecycle_abort(txn, o);
	if (o->state != KMIP_STATE_PRE_ACTIVE) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE,
		    "object %s is %s; only a Pre-Active object can be activated", o->uid, state_name(o->state));
		return lifecycle_abort(txn, o);
	}
	o->state = KMIP_STATE_ACTIVE;
	if (attrs_set_date(o->arena, o->attrs, KMIP_TAG_ACTIVATION_DATE, ctx->now) != 0) {
		ops_nomem(ctx);
		return lifecycle_abort(txn, o);
	}
	return lifecycle_finish(ctx, txn, o, "activated");
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
	if (check_has_lifecycle(ctx, o, "revoke") != 0)
		return lifecycle_abort(txn, o);
	/* A compromise may be learnt after destruction: Destroyed becomes Destroyed Compromised. */
	if (o->state == KMIP_STATE_DESTROYED_COMPROMISED || o->state == KMIP_STATE_COMPROMISED ||
	    (!compromise && o->state != KMIP_STATE_ACTIVE && o->state != KMIP_STATE_PRE_ACTIVE)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE,
		    "object %s is %s and cannot be revoked %s", o->uid, state_name(o->state),
		    compromise ? "as compromised" : "for this reason");
		return lifecycle_abort(txn, o);
	}
	if ((copy = ttlv_copy(o->arena, reason)) == NULL || attrs_set(o->arena, o->attrs, copy) != 0)
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
	return lifecycle_abort(txn, o);
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
	bool allow_active = ctx->env->cfg->compat.destroy_active;

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
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "object %s is Active: revoke "
		    "it before destroying it (or set compat.destroy_active)", o->uid);
		return lifecycle_abort(txn, o);
	default:
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "object %s is %s already", o->uid,
		    state_name(o->state));
		return lifecycle_abort(txn, o);
	}
	if (store_object_set_material(o, NULL, 0, o->material_format) != 0 ||
	    attrs_set_date(o->arena, o->attrs, KMIP_TAG_DESTROY_DATE, ctx->now) != 0) {
		ops_nomem(ctx);
		return lifecycle_abort(txn, o);
	}
	return lifecycle_finish(ctx, txn, o, "destroyed");
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
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
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

/*
 * Obtain Lease: the lease kmipd grants on a cryptographic object that is Active, server.lease_time seconds
 * (0: leases are off, and KMIP reads a Lease Time of 0 as "no limit"), and the object's Last Change Date,
 * by which the client knows whether what it cached is stale. kmipd keeps no per-client lease: Lease Time
 * is what a client may rely on from now, and an object that left Active is refused a new lease.
 */
int
op_obtain_lease(struct op_ctx *ctx)
{
	struct store_object *o = NULL;
	struct store_txn *txn;
	const struct ttlv *changed;
	const char *uid;
	int64_t when;
	int rc;

	if ((uid = ops_uid(ctx)) == NULL || ops_begin(ctx, false, &txn) != 0)
		return -1;
	rc = ops_load(ctx, txn, uid, 0, &o);
	store_txn_abort(txn);
	if (rc != 0)
		return -1;
	rc = -1;
	if (!ops_lease_applies(o->object_type)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ILLEGAL_OPERATION, "object %s is %s: only "
		    "cryptographic objects are leased", o->uid, ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, o->object_type));
		goto out;
	}
	if (o->state != KMIP_STATE_ACTIVE) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "object %s is %s: a lease "
		    "is granted only on an Active object", o->uid, state_name(o->state));
		goto out;
	}
	/* Every object has a Last Change Date from its creation on; an older record falls back to its Initial Date. */
	if ((changed = attrs_get(o->attrs, KMIP_TAG_LAST_CHANGE_DATE, 0)) == NULL)
		changed = attrs_get(o->attrs, KMIP_TAG_INITIAL_DATE, 0);
	when = changed != NULL && changed->type == TTLV_DATE_TIME ? changed->v.i64 : ctx->now;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ttlv_enc_interval(ctx->out, KMIP_TAG_LEASE_TIME, ctx->env->cfg->server.lease_time);
	ttlv_enc_datetime(ctx->out, KMIP_TAG_LAST_CHANGE_DATE, when);
	session_log(ctx->session, LOG_LEVEL_DEBUG, "lease of %u s on %s", ctx->env->cfg->server.lease_time, o->uid);
	rc = 0;
out:
	store_object_free(o);
	return rc;
}
