/*
 * Locate: candidates come from the most selective index the query allows (the one with the fewest entries
 * under the query's key, LMDB counts duplicates in constant time), walked newest first; every candidate
 * is then checked against the owner rule, the storage status mask and every filter attribute, including
 * the one the index came from (index keys may be truncated).
 *
 * Writes staged in the group (not yet in LMDB, nor in its indexes) are checked one by one against the
 * query (a group is small), and merged into the durable results in creation order; a durable candidate
 * the group wrote or removed is judged by its staged version only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store_int.h"

#define MATCH_MAX_DEPTH	32

struct results {
	char **v;
	size_t n, cap;
};

/* The candidate source. */
struct plan {
	int db;			/* an index database, or DB_SEQ for every object */
	MDB_val key;
	uint8_t num[4];
	size_t count;
};

/* Appends a copy of a uid; -1 on ENOMEM. */
static int
results_add(struct results *r, const void *uid, size_t len)
{
	char **nv, *s;

	if ((nv = store_array_room(r->v, r->n, &r->cap, sizeof(*nv))) == NULL)
		return -1;
	r->v = nv;
	if ((s = strndup(uid, len)) == NULL)
		return -1;
	r->v[r->n++] = s;
	return 0;
}

/* Frees a uid list from store_locate or store_index_uids. */
void
store_uids_free(char **uids, size_t n)
{
	size_t i;

	if (uids == NULL)
		return;
	for (i = 0; i < n; i++)
		free(uids[i]);
	free(uids);
}

/*
 * A filter item matches an object item of the same tag when the values are equal, or, for structures,
 * when every field of the filter matches some field of the object (fields the filter omits are free).
 */
static bool
item_matches(const struct ttlv *f, const struct ttlv *o, int depth)
{
	const struct ttlv *fc, *oc;

	if (f->tag != o->tag || f->type != o->type || depth > MATCH_MAX_DEPTH)
		return false;
	if (f->type != TTLV_STRUCTURE)
		return ttlv_equal(f, o);
	for (fc = f->v.s.first; fc != NULL; fc = fc->next) {
		for (oc = o->v.s.first; oc != NULL; oc = oc->next)
			if (item_matches(fc, oc, depth + 1))
				break;
		if (oc == NULL)
			return false;
	}
	return true;
}

/* True when some attribute of the object matches the filter item. */
static bool
attr_present(const struct ttlv *attrs, const struct ttlv *f)
{
	const struct ttlv *c;

	for (c = attrs->v.s.first; c != NULL; c = c->next)
		if (item_matches(f, c, 0))
			return true;
	return false;
}

/* Cryptographic Usage Mask: some mask of the object holds every bit of the filter's. */
static bool
mask_matches(const struct ttlv *attrs, const struct ttlv *f)
{
	const struct ttlv *c;
	uint32_t want = (uint32_t)f->v.i32;

	if (f->type != TTLV_INTEGER)
		return false;
	for (c = attrs->v.s.first; c != NULL; c = c->next)
		if (c->tag == f->tag && c->type == TTLV_INTEGER && ((uint32_t)c->v.i32 & want) == want)
			return true;
	return false;
}

/* A date attribute given twice: some instance of the object lies in [lo, hi]. */
static bool
date_in_range(const struct ttlv *attrs, const struct ttlv *lo, const struct ttlv *hi)
{
	const struct ttlv *c;

	if (lo->type != hi->type)
		return false;
	for (c = attrs->v.s.first; c != NULL; c = c->next)
		if (c->tag == lo->tag && c->type == lo->type && c->v.i64 >= lo->v.i64 && c->v.i64 <= hi->v.i64)
			return true;
	return false;
}

static bool
is_date(const struct ttlv *f)
{
	return f->type == TTLV_DATE_TIME || f->type == TTLV_DATE_TIME_EXTENDED;
}

/* Filter attributes answered by the record's fixed fields, without decoding its attributes. */
static bool
is_field_attr(uint32_t tag)
{
	return tag == KMIP_TAG_UNIQUE_IDENTIFIER || tag == KMIP_TAG_OBJECT_TYPE || tag == KMIP_TAG_STATE;
}

/* Checks a filter's shape before any candidate is read. */
static int
filter_valid(const struct ttlv *filter, char **cause)
{
	const struct ttlv *f, *g;
	unsigned n;

	if (filter == NULL)
		return STORE_OK;
	if (filter->type != TTLV_STRUCTURE) {
		store_set_cause(cause, "the Locate filter is not a structure");
		return STORE_E_INVALID;
	}
	/* Matching is linear in the filter per candidate and its checks quadratic: bound it. */
	if (filter->v.s.count > STORE_FILTER_MAX) {
		store_set_cause(cause, "a Locate filter of %u attributes (at most %u)", filter->v.s.count,
		    STORE_FILTER_MAX);
		return STORE_E_INVALID;
	}
	for (f = filter->v.s.first; f != NULL; f = f->next) {
		if (!is_date(f))
			continue;
		n = 0;
		for (g = filter->v.s.first; g != NULL; g = g->next)
			if (g->tag == f->tag)
				n++;
		if (n > 2) {
			store_set_cause(cause, "date attribute 0x%06X given %u times in a Locate filter (at most "
			    "two: a range)", f->tag, n);
			return STORE_E_INVALID;
		}
	}
	return STORE_OK;
}

/* The fixed-field filters: Unique Identifier, Object Type, State. */
static bool
fields_match(const struct store_rec *r, const struct ttlv *filter)
{
	const struct ttlv *f;

	if (filter == NULL)
		return true;
	for (f = filter->v.s.first; f != NULL; f = f->next) {
		switch (f->tag) {
		case KMIP_TAG_UNIQUE_IDENTIFIER:
			if (f->type != TTLV_TEXT_STRING || f->length != r->uid_len ||
			    memcmp(f->v.bytes.data, r->uid, r->uid_len) != 0)
				return false;
			break;
		case KMIP_TAG_OBJECT_TYPE:
			if (f->type != TTLV_ENUMERATION || f->v.u32 != r->object_type)
				return false;
			break;
		case KMIP_TAG_STATE:
			if (f->type != TTLV_ENUMERATION || f->v.u32 != r->state)
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Every other filter attribute against the decoded attributes. */
static bool
attrs_match(const struct ttlv *attrs, const struct ttlv *filter)
{
	const struct ttlv *f, *g, *second;
	const struct ttlv *fresh;

	for (f = filter->v.s.first; f != NULL; f = f->next) {
		if (is_field_attr(f->tag))
			continue;
		if (f->tag == KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK) {
			if (!mask_matches(attrs, f))
				return false;
		} else if (f->tag == KMIP_TAG_OBJECT_GROUP_MEMBER) {
			if (f->type != TTLV_ENUMERATION)
				return false;
			if (f->v.u32 == KMIP_OBJECT_GROUP_MEMBER_GROUP_MEMBER_FRESH) {
				for (fresh = attrs->v.s.first; fresh != NULL; fresh = fresh->next)
					if (fresh->tag == KMIP_TAG_FRESH && fresh->type == TTLV_BOOLEAN && fresh->v.b)
						break;
				if (fresh == NULL)
					return false;
			} else if (f->v.u32 != KMIP_OBJECT_GROUP_MEMBER_GROUP_MEMBER_DEFAULT)
				return false;
		} else if (is_date(f)) {
			/* Handled at its first instance: one is an exact date, two a range. */
			for (g = filter->v.s.first; g != f; g = g->next)
				if (g->tag == f->tag)
					break;
			if (g != f)
				continue;
			for (second = f->next; second != NULL; second = second->next)
				if (second->tag == f->tag)
					break;
			if (second != NULL ? !date_in_range(attrs, f, second) : !attr_present(attrs, f))
				return false;
		} else if (!attr_present(attrs, f))
			return false;
	}
	return true;
}

/* True when the filter needs the object's attributes (anything beyond the fixed fields). */
static bool
needs_attrs(const struct ttlv *filter)
{
	const struct ttlv *f;

	if (filter == NULL)
		return false;
	for (f = filter->v.s.first; f != NULL; f = f->next)
		if (!is_field_attr(f->tag))
			return true;
	return false;
}

/* Number of entries under a key of a DUPSORT index (0 when absent). */
static int
index_count(struct store_txn *t, int db, MDB_val *key, size_t *count)
{
	MDB_cursor *c;
	MDB_val k = *key, v;
	size_t n = 0;
	int rc;

	*count = 0;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c)) != 0)
		return store_fail(t->s, rc, "locate");
	rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (rc == 0)
		rc = mdb_cursor_count(c, &n);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_fail(t->s, rc, "locate");
	*count = (size_t)n;
	return STORE_OK;
}

/* Offers an index key as a plan; keeps it when it has fewer entries than the current one. */
static int
plan_offer(struct store_txn *t, struct plan *best, int db, const void *key, size_t len, bool num,
    uint32_t value)
{
	struct plan p;
	const uint8_t *kp;
	int rc;

	memset(&p, 0, sizeof(p));
	p.db = db;
	if (num) {
		ttlv_put32(p.num, value);
		p.key.mv_data = p.num;
		p.key.mv_size = 4;
	} else {
		p.key.mv_size = store_text_key(key, len, t->s->maxkey, &kp);
		p.key.mv_data = (void *)kp;
	}
	if ((rc = index_count(t, db, &p.key, &p.count)) != STORE_OK)
		return rc;
	/* Ties keep the earlier offer: name, link, group, state, type, owner. */
	if (best->db == DB_SEQ || p.count < best->count) {
		*best = p;
		if (num)
			best->key.mv_data = best->num;
	}
	return STORE_OK;
}

/* Chooses where candidates come from. */
static int
plan_choose(struct store_txn *t, const struct store_query *q, struct plan *best)
{
	const struct ttlv *f, *c;
	int rc = STORE_OK;
	bool name = false, link = false, group = false, state = false, type = false;

	memset(best, 0, sizeof(*best));
	best->db = DB_SEQ;
	for (f = q->filter != NULL ? q->filter->v.s.first : NULL; f != NULL && rc == STORE_OK; f = f->next) {
		if (f->tag == KMIP_TAG_NAME && f->type == TTLV_STRUCTURE && !name) {
			if ((c = ttlv_find(f, KMIP_TAG_NAME_VALUE)) != NULL && c->type == TTLV_TEXT_STRING) {
				name = true;
				rc = plan_offer(t, best, DB_IDX_NAME, c->v.bytes.data, c->length, false, 0);
			}
		} else if (f->tag == KMIP_TAG_LINK && f->type == TTLV_STRUCTURE && !link) {
			if ((c = ttlv_find(f, KMIP_TAG_LINKED_OBJECT_IDENTIFIER)) != NULL &&
			    c->type == TTLV_TEXT_STRING) {
				link = true;
				rc = plan_offer(t, best, DB_IDX_LINK, c->v.bytes.data, c->length, false, 0);
			}
		} else if (f->tag == KMIP_TAG_OBJECT_GROUP && f->type == TTLV_TEXT_STRING && !group) {
			group = true;
			rc = plan_offer(t, best, DB_IDX_GROUP, f->v.bytes.data, f->length, false, 0);
		} else if (f->tag == KMIP_TAG_STATE && f->type == TTLV_ENUMERATION && !state) {
			state = true;
			rc = plan_offer(t, best, DB_IDX_STATE, NULL, 0, true, f->v.u32);
		} else if (f->tag == KMIP_TAG_OBJECT_TYPE && f->type == TTLV_ENUMERATION && !type) {
			type = true;
			rc = plan_offer(t, best, DB_IDX_TYPE, NULL, 0, true, f->v.u32);
		}
		if (best->db != DB_SEQ && best->count == 0)
			return rc;	/* nothing can match */
	}
	if (rc == STORE_OK && q->object_type != 0 && !type)
		rc = plan_offer(t, best, DB_IDX_TYPE, NULL, 0, true, q->object_type);
	if (rc == STORE_OK && !q->is_admin)
		rc = plan_offer(t, best, DB_IDX_OWNER, q->identity, strlen(q->identity), false, 0);
	return rc;
}

/* Checks one record against the query; *match set. */
static int
record_matches(struct store_txn *t, const struct store_query *q, const struct store_rec *rp, uint32_t mask,
    bool decode, bool *match)
{
	const struct store_rec r = *rp;
	struct ttlv_arena *arena;
	struct ttlv *attrs;
	bool destroyed;
	int rc;

	*match = false;
	if (!q->is_admin &&
	    (r.owner_len != strlen(q->identity) || memcmp(r.owner, q->identity, r.owner_len) != 0))
		return STORE_OK;
	destroyed = r.state == KMIP_STATE_DESTROYED || r.state == KMIP_STATE_DESTROYED_COMPROMISED;
	if (!(mask & (destroyed ? STORE_STATUS_DESTROYED : STORE_STATUS_ONLINE)))
		return STORE_OK;
	if (q->object_type != 0 && r.object_type != q->object_type)
		return STORE_OK;
	if (!fields_match(&r, q->filter))
		return STORE_OK;
	if (!decode) {
		*match = true;
		return STORE_OK;
	}
	if ((rc = store_rec_decode_attrs(&r, &attrs, &arena)) != STORE_OK) {
		snprintf(t->s->err, sizeof(t->s->err), "record %.*s has corrupt attributes", (int)r.uid_len, r.uid);
		return rc;
	}
	*match = attrs_match(attrs, q->filter);
	ttlv_arena_free(arena);
	return STORE_OK;
}

/*
 * Checks one durable candidate; *match set, *seq its creation sequence, *cost increased by its attribute
 * bytes decoded (see STORE_SCAN_BYTES). Staged ones are not looked at.
 */
static int
candidate(struct store_txn *t, const struct store_query *q, const MDB_val *uid, uint32_t mask,
    bool decode, bool *match, uint64_t *seq, size_t *cost)
{
	struct store_rec r;
	MDB_val k = *uid, v;
	int rc;

	*match = false;
	if (store_staged_get(t->s, uid->mv_data, uid->mv_size) != NULL)
		return STORE_OK;	/* the group changed it: judged in its staged form */
	if ((rc = store_db_get(t, DB_OBJ, &k, &v)) == STORE_E_NOTFOUND)
		return STORE_OK;	/* an index entry without record cannot match */
	if (rc != STORE_OK)
		return rc;
	if ((rc = store_rec_parse(v.mv_data, v.mv_size, &r)) != STORE_OK) {
		snprintf(t->s->err, sizeof(t->s->err), "record %.*s is corrupt", (int)uid->mv_size,
		    (const char *)uid->mv_data);
		return rc;
	}
	*seq = r.seq;
	/* Decoding is what costs with large attribute sets: it counts against the budget by size. */
	if (decode && r.attrs != NULL)
		*cost += r.attrs_len / STORE_SCAN_BYTES;
	return record_matches(t, q, &r, mask, decode, match);
}

/* Staged writes a lookup keeps, to merge with the durable ones. */
struct staged_list {
	const struct store_staged **v;
	size_t n, cap;
};

/* Appends e to l. Returns STORE_OK, or STORE_E_NOMEM when the list cannot grow. */
static int
staged_list_add(struct staged_list *l, const struct store_staged *e)
{
	const struct store_staged **nv;

	if ((nv = store_array_room(l->v, l->n, &l->cap, sizeof(*nv))) == NULL)
		return STORE_E_NOMEM;
	l->v = nv;
	l->v[l->n++] = e;
	return STORE_OK;
}

/* qsort order of staged writes: the newest first. */
static int
newest_first(const void *a, const void *b)
{
	const struct store_staged *x = *(const struct store_staged *const *)a;
	const struct store_staged *y = *(const struct store_staged *const *)b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Sorts l newest first, the order in which the durable index entries are walked. */
static void
staged_list_sort(struct staged_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), newest_first);
}

/* The staged writes a query matches, newest first. */
struct staged_matches {
	struct store_txn *t;
	const struct store_query *q;
	uint32_t mask;
	bool decode;
	struct staged_list l;
	size_t next;			/* the first not yet merged into the results */
	int rc;
};

/* Keeps e when its record matches the query; -1 stops the walk, with m->rc saying why. */
static int
staged_match_one(const struct store_staged *e, void *arg)
{
	struct staged_matches *m = arg;
	struct store_rec r;
	bool match;

	/* What it leaves out depends on the staged writes as much as what it finds: note them all. */
	store_staged_read(m->t, e);
	if (e->deleted)
		return 0;
	if ((m->rc = store_rec_parse(e->rec, e->rec_len, &r)) != STORE_OK ||
	    (m->rc = record_matches(m->t, m->q, &r, m->mask, m->decode, &match)) != STORE_OK)
		return -1;
	if (!match)
		return 0;
	return (m->rc = staged_list_add(&m->l, e)) == STORE_OK ? 0 : -1;
}

/* Collects the staged writes that match, sorted newest first. */
static int
staged_matches(struct staged_matches *m)
{
	if (store_staged_each(m->t->s, staged_match_one, m) != 0)
		return m->rc;
	staged_list_sort(&m->l);
	return STORE_OK;
}

/* Where the results of a query go, counted against Offset Items and Maximum Items. */
struct emit {
	const struct store_query *q;
	struct results res;
	size_t matched;
};

/* Takes one match; -1 on ENOMEM, 1 when nothing more is wanted, else 0. */
static int
emit(struct emit *em, const void *uid, size_t len)
{
	em->matched++;
	if (em->matched <= em->q->offset_items)
		return 0;
	if (em->q->maximum_items == 0 || em->res.n < em->q->maximum_items)
		return results_add(&em->res, uid, len) != 0 ? -1 : 0;
	return em->q->located_items == NULL ? 1 : 0;
}

/* Emits the staged matches newer than seq (all of them when all); same returns as emit(). */
static int
emit_staged(struct emit *em, struct staged_matches *m, uint64_t seq, bool all)
{
	int rc;

	for (; m->next < m->l.n && (all || m->l.v[m->next]->seq > seq); m->next++)
		if ((rc = emit(em, m->l.v[m->next]->uid, m->l.v[m->next]->uid_len)) != 0)
			return rc;
	return 0;
}

/* Runs a query: see store.h. */
int
store_locate(struct store_txn *t, const struct store_query *q, char ***uids, size_t *n, char **cause)
{
	struct staged_matches sm;
	struct emit em;
	struct plan plan;
	MDB_cursor *c = NULL;
	MDB_val k, v, uid;
	uint32_t mask;
	uint64_t seq;
	size_t work = 0;
	bool decode, match, cut = false;
	int rc, mrc, erc = 0;
	MDB_cursor_op first, next;

	*uids = NULL;
	*n = 0;
	memset(&em, 0, sizeof(em));
	memset(&sm, 0, sizeof(sm));
	em.q = q;
	if (q != NULL && q->located_items != NULL)
		*q->located_items = 0;
	if (q != NULL && q->scanned != NULL)
		*q->scanned = 0;
	if (q != NULL && q->cut_short != NULL)
		*q->cut_short = false;
	if (t == NULL || q == NULL) {
		store_set_cause(cause, "no transaction or query");
		return STORE_E_INVALID;
	}
	if ((rc = filter_valid(q->filter, cause)) != STORE_OK)
		return rc;
	if (!q->is_admin && q->identity == NULL)
		return STORE_OK;	/* no identity sees nothing */
	mask = q->storage_status_mask != 0 ? q->storage_status_mask : STORE_STATUS_ONLINE;
	if (!(mask & (STORE_STATUS_ONLINE | STORE_STATUS_DESTROYED)))
		return STORE_OK;	/* archive is not supported: no archived objects */
	decode = needs_attrs(q->filter);
	sm.t = t;
	sm.q = q;
	sm.mask = mask;
	sm.decode = decode;
	if ((rc = staged_matches(&sm)) != STORE_OK)
		goto fail;
	if ((rc = plan_choose(t, q, &plan)) != STORE_OK)
		goto fail;
	if (plan.db != DB_SEQ && plan.count == 0)
		goto done;
	if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[plan.db], &c)) != 0) {
		rc = store_fail(t->s, mrc, "locate");
		goto fail;
	}
	if (plan.db == DB_SEQ) {
		first = MDB_LAST;
		next = MDB_PREV;
	} else {
		k = plan.key;
		if ((mrc = mdb_cursor_get(c, &k, &v, MDB_SET)) != 0)
			goto done;
		first = MDB_LAST_DUP;
		next = MDB_PREV_DUP;
	}
	for (mrc = mdb_cursor_get(c, &k, &v, first); mrc == 0 && erc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, next)) {
		if (plan.db == DB_SEQ)
			uid = v;
		else {
			if (v.mv_size <= 8) {
				rc = STORE_E_CORRUPT;
				snprintf(t->s->err, sizeof(t->s->err), "index entry is corrupt");
				goto fail;
			}
			uid.mv_data = (uint8_t *)v.mv_data + 8;
			uid.mv_size = v.mv_size - 8;
		}
		/* Another candidate is there: past the budget, answer with what was found (see store.h). */
		if (q->scan_budget != 0 && work >= q->scan_budget) {
			cut = true;
			break;
		}
		work++;
		if ((rc = candidate(t, q, &uid, mask, decode, &match, &seq, &work)) != STORE_OK)
			goto fail;
		if (!match)
			continue;
		/* Staged matches created after this one come first: results are newest first. */
		if ((erc = emit_staged(&em, &sm, seq, false)) == 0)
			erc = emit(&em, uid.mv_data, uid.mv_size);
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = store_fail(t->s, mrc, "locate");
		goto fail;
	}
done:
	if (erc == 0)
		erc = emit_staged(&em, &sm, 0, true);
	if (erc < 0) {
		rc = STORE_E_NOMEM;
		goto fail;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	free(sm.l.v);
	if (q->located_items != NULL)
		*q->located_items = em.matched;
	if (q->scanned != NULL)
		*q->scanned = work;
	if (q->cut_short != NULL)
		*q->cut_short = cut;
	*uids = em.res.v;
	*n = em.res.n;
	return STORE_OK;
fail:
	if (c != NULL)
		mdb_cursor_close(c);
	free(sm.l.v);
	store_uids_free(em.res.v, em.res.n);
	if (cause != NULL && *cause == NULL)
		store_set_cause(cause, "locate failed: %s (%s)", store_strerror(rc), t->s->err);
	return rc;
}

static const int idx_db[STORE_IDX_COUNT] = {
	[STORE_IDX_NAME] = DB_IDX_NAME,
	[STORE_IDX_OWNER] = DB_IDX_OWNER,
	[STORE_IDX_TYPE] = DB_IDX_TYPE,
	[STORE_IDX_STATE] = DB_IDX_STATE,
	[STORE_IDX_GROUP] = DB_IDX_GROUP,
	[STORE_IDX_LINK] = DB_IDX_LINK,
};

/* What store_index_uids() looks for among the staged writes. */
struct staged_keys {
	struct store_txn *t;
	int db;
	const MDB_val *key;		/* NULL: any key of the index */
	struct staged_list l;
	int rc;
};

/* Keeps e when its record has an entry under the key in the index. */
static int
staged_key_one(const struct store_staged *e, void *arg)
{
	struct staged_keys *m = arg;
	struct store_ientry *ie = NULL;
	struct store_rec r;
	MDB_val kv;
	size_t n = 0, i;
	bool hit = false;

	/* An index list depends on what the staged writes took out of it as much as on what they put in. */
	store_staged_read(m->t, e);
	if (e->deleted)
		return 0;
	if ((m->rc = store_rec_parse(e->rec, e->rec_len, &r)) != STORE_OK ||
	    (m->rc = store_rec_ientries(&r, m->t->s->maxkey, &ie, &n)) != STORE_OK)
		return -1;
	for (i = 0; i < n && !hit; i++) {
		if (ie[i].db != m->db)
			continue;
		store_ientry_val(&ie[i], &kv);
		hit = m->key == NULL ||
		    (kv.mv_size == m->key->mv_size && memcmp(kv.mv_data, m->key->mv_data, kv.mv_size) == 0);
	}
	free(ie);
	if (!hit)
		return 0;
	return (m->rc = staged_list_add(&m->l, e)) == STORE_OK ? 0 : -1;
}

/* Adds the staged entries from *next on that are newer than seq (all when seq is 0); -1 on ENOMEM. */
static int
add_staged(struct results *res, struct staged_keys *sk, size_t *next, uint64_t seq)
{
	for (; *next < sk->l.n && (seq == 0 || sk->l.v[*next]->seq > seq); ++*next)
		if (results_add(res, sk->l.v[*next]->uid, sk->l.v[*next]->uid_len) != 0)
			return -1;
	return 0;
}

/* Lists uids under an index key, or the whole index: see store.h. */
int
store_index_uids(struct store_txn *t, enum store_index idx, const char *text, uint32_t value,
    char ***uids, size_t *n)
{
	struct results res = { 0 };
	struct staged_keys sk;
	MDB_cursor *c;
	MDB_val k, v;
	const uint8_t *kp;
	uint8_t num[4];
	bool numeric, all;
	size_t next = 0;
	int rc, mrc;

	*uids = NULL;
	*n = 0;
	if (t == NULL || (unsigned)idx >= STORE_IDX_COUNT)
		return STORE_E_INVALID;
	numeric = idx == STORE_IDX_TYPE || idx == STORE_IDX_STATE;
	all = !numeric && text == NULL;
	if (numeric) {
		ttlv_put32(num, value);
		k.mv_data = num;
		k.mv_size = 4;
	} else if (!all) {
		k.mv_size = store_text_key(text, strlen(text), t->s->maxkey, &kp);
		k.mv_data = (void *)kp;
	}
	/* The group's staged writes under the key, newest first; durable entries they replace are skipped. */
	memset(&sk, 0, sizeof(sk));
	sk.t = t;
	sk.db = idx_db[idx];
	sk.key = all ? NULL : &k;
	if (store_staged_each(t->s, staged_key_one, &sk) != 0) {
		free(sk.l.v);
		return sk.rc;
	}
	staged_list_sort(&sk.l);
	if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[idx_db[idx]], &c)) != 0) {
		free(sk.l.v);
		return store_fail(t->s, mrc, "index");
	}
	if (all)
		mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	else if ((mrc = mdb_cursor_get(c, &k, &v, MDB_SET)) == 0)
		mrc = mdb_cursor_get(c, &k, &v, MDB_LAST_DUP);
	for (; mrc == 0; mrc = mdb_cursor_get(c, &k, &v, all ? MDB_NEXT : MDB_PREV_DUP)) {
		if (v.mv_size <= 8) {
			mrc = MDB_CORRUPTED;
			break;
		}
		if (store_staged_get(t->s, (const char *)v.mv_data + 8, v.mv_size - 8) != NULL)
			continue;
		/* Keyed lists are newest first: staged entries created after this one go before it. */
		if ((!all && add_staged(&res, &sk, &next, ttlv_get64(v.mv_data)) != 0) ||
		    results_add(&res, (uint8_t *)v.mv_data + 8, v.mv_size - 8) != 0) {
			mrc = ENOMEM;
			break;
		}
	}
	mdb_cursor_close(c);
	if (mrc == MDB_NOTFOUND && add_staged(&res, &sk, &next, 0) != 0)
		mrc = ENOMEM;
	free(sk.l.v);
	if (mrc != MDB_NOTFOUND) {
		rc = store_fail(t->s, mrc, "index");
		store_uids_free(res.v, res.n);
		return rc;
	}
	*uids = res.v;
	*n = res.n;
	return STORE_OK;
}
