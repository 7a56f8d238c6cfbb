/*
 * Locate: the caller's objects (and those shared with it) that match a filter, newest first.
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

/*
 * Reads Locate's filter, an Attributes structure (a 1.x client's Attribute items were normalised into one).
 * Server-set attributes (State, Object Type, ...) are valid filters here.
 */
static int
locate_filter(struct op_ctx *ctx, struct ttlv *filter)
{
	const struct ttlv *c, *src = ttlv_find(ctx->item->payload, KMIP_TAG_ATTRIBUTES);
	struct ttlv *item;

	for (c = src != NULL && src->type == TTLV_STRUCTURE ? src->v.s.first : NULL; c != NULL; c = c->next) {
		if ((item = ttlv_copy(ctx->arena, c)) == NULL)
			return ops_nomem(ctx);
		if (attr_check(item, &ctx->err) != 0)
			return -1;
		ttlv_append(filter, item);
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
	size_t *scanned;	/* the request's work so far (ctx->scanned) */
	size_t budget;		/* server.locate_scan_budget: for the whole request */
	bool count;		/* Located Items is wanted: count every match within the budget */
	bool cut_short;		/* the budget stopped a query: the count is not complete */
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
	size_t n = 0, located = 0, scanned = 0, i;
	struct store_query copy = *q;
	bool cut = false;
	int rc;

	if (found->rc != 0)
		return;
	/* The budget is the request's: a batch of Locates shares one. */
	if (*found->scanned >= found->budget) {
		found->cut_short = true;
		return;
	}
	copy.located_items = found->count ? &located : NULL;
	copy.scan_budget = found->budget - *found->scanned;
	copy.scanned = &scanned;
	copy.cut_short = &cut;
	rc = store_locate(txn, &copy, &uids, &n, &cause);
	*found->scanned += scanned;
	if (rc != 0) {
		found->rc = rc;
		found->cause = cause;
		return;
	}
	free(cause);
	found->located += located;
	found->cut_short |= cut;
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

/* A located uid and its creation sequence. */
struct aged {
	char *uid;
	uint64_t seq;
};

/* Newest first by creation sequence (identifiers are random); one object found twice lands side by side. */
static int
aged_newest_first(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? 1 : -1;
	return strcmp(x->uid, y->uid);
}

/*
 * Merges the results of the queries newest first and drops an object's second sighting (the caller's own
 * and shared). 0, or a store error with found left as it was.
 */
static int
merge_newest_first(struct store_txn *txn, struct found *found)
{
	struct aged *v;
	size_t i, n;
	int rc = 0;

	if (found->n == 0)
		return 0;
	if ((v = calloc(found->n, sizeof(*v))) == NULL)
		return STORE_E_NOMEM;
	for (i = 0; i < found->n && rc == 0; i++) {
		v[i].uid = found->uids[i];
		rc = store_created_seq(txn, v[i].uid, &v[i].seq);
	}
	if (rc == 0) {
		qsort(v, found->n, sizeof(*v), aged_newest_first);
		for (i = 1, n = 1; i < found->n; i++) {
			if (strcmp(v[i].uid, v[n - 1].uid) == 0) {
				free(v[i].uid);
				found->located--;	/* counted twice */
			} else {
				v[n++] = v[i];
			}
		}
		for (i = 0; i < n; i++)
			found->uids[i] = v[i].uid;
		found->n = n;
	}
	free(v);
	return rc;
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
		if ((copy = ttlv_copy(sq->ctx->arena, c)) == NULL) {
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
 * The work is bounded: at most server.locate_max_items identifiers (also without Maximum Items), and at
 * most server.locate_scan_budget records examined by all the Locates of the request together; a Locate
 * that reaches the budget answers the newest matches it found and no Located Items (see kmipd.conf(5)).
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
	uint32_t mask, max, offset, limit;
	bool want_located;

	if (filter == NULL)
		return ops_nomem(ctx);
	memset(&q, 0, sizeof(q));
	memset(&found, 0, sizeof(found));
	if (locate_filter(ctx, filter) != 0 || optional_count(ctx, KMIP_TAG_MAXIMUM_ITEMS, &max) != 0 ||
	    optional_count(ctx, KMIP_TAG_OFFSET_ITEMS, &offset) != 0 ||
	    optional_count(ctx, KMIP_TAG_STORAGE_STATUS_MASK, &mask) != 0)
		return -1;
	if (member != NULL) {
		struct ttlv *copy = ttlv_copy(ctx->arena, member);

		if (copy == NULL)
			return ops_nomem(ctx);
		ttlv_append(filter, copy);
	}
	limit = ctx->env->cfg->server.locate_max_items;
	if (max == 0 || max > limit)
		max = limit;
	/*
	 * Located Items answers paging, which Offset Items asks for (KMIP 1.3 and later): the count of every
	 * match, before Offset Items and Maximum Items apply. A Locate with only Maximum Items is not paging
	 * (1.0-1.2 clients send it as well), so its answer is identifiers alone, as the OASIS cases show it.
	 */
	want_located = ctx->rules.located_items && ttlv_find(ctx->item->payload, KMIP_TAG_OFFSET_ITEMS) != NULL;
	found.count = want_located;
	found.scanned = &ctx->scanned;
	found.budget = ctx->env->cfg->server.locate_scan_budget;
	q.identity = ops_identity(ctx);
	q.is_admin = ops_is_admin(ctx);
	q.filter = filter;
	q.storage_status_mask = mask;
	q.maximum_items = max;
	q.offset_items = offset;
	shares = 0;
	if (!q.is_admin)
		access_shares_for(ctx->env->policy, ops_identity(ctx), count_share, &shares);
	if (shares > 0) {
		/* Shared objects merge with the caller's own: every query runs from the start, paging after. */
		q.maximum_items = (uint64_t)offset + max > limit ? limit : offset + max;
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
		access_shares_for(ctx->env->policy, ops_identity(ctx), locate_share, &sq);
		if (found.rc == 0)
			found.rc = merge_newest_first(txn, &found);
	}
	store_txn_abort(txn);
	first = 0;
	n = found.n;
	if (found.rc == 0 && shares > 0) {
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
	/* Only a complete count: KMIP lets a server that did not count every match leave it out. */
	if (want_located && !found.cut_short)
		ttlv_enc_int(ctx->out, KMIP_TAG_LOCATED_ITEMS, found.located > INT32_MAX ? INT32_MAX :
		    (int32_t)found.located);
	for (i = first; i < first + n; i++) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, found.uids[i]);
		ops_audit_uid(ctx, found.uids[i]);
	}
	/*
	 * The ID Placeholder holds the identifier only when exactly one came back; otherwise KMIP has it
	 * emptied, so that a later item of the batch that names no object fails instead of using the wrong one.
	 */
	if (n == 1)
		ops_set_placeholder(ctx, found.uids[first]);
	else
		ctx->placeholder[0] = '\0';
	session_log(ctx->session, LOG_LEVEL_DEBUG, "locate: %zu of %zu matches returned%s", n, found.located,
	    found.cut_short ? " (server.locate_scan_budget reached)" : "");
	store_uids_free(found.uids, found.n);
	return 0;
}
