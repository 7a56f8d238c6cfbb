/*
 * Usage per owner: how many records and how many record bytes each owner identity has in the store, for
 * quotas that cost O(1) to check.
 *
 * The durable counters live in the "usage" database (owner key -> objects, bytes, destroyed), written by
 * the group commit in the same LMDB write transaction as the records they count (store_usage_change, from
 * apply_put and apply_delete): a commit keeps both or neither, so they cannot drift, and another process
 * writing the store (kmipctl purge) keeps them as well. The meta counter "usage" holds the "rev" counter as
 * of the last commit that kept them; a store whose "usage" differs from its "rev" (one written before
 * the table existed, or by an older kmipd since) is counted again from its records at the next writable
 * open, in one pass of one write transaction (store_usage_open).
 *
 * The group's staged writes are counted in memory on top of the durable counters: each staged write
 * carries its effect (objects, bytes, destroyed for up to two owners: the record's, and the one it
 * replaces when the owner changed), summed per owner in a table while it is staged and taken back out
 * when its change set is dropped (an aborted transaction, a rollback). The table goes with the group at
 * the group commit, when the durable counters hold what it held.
 *
 * Bytes are those of the records as stored (attributes, sealed material, header), not of LMDB's pages.
 * Destroyed objects are counted (they stay in the store until purged) and their number is kept apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store_int.h"

#define UVAL_BYTES	24	/* objects, bytes, destroyed: little-endian 64-bit each */
#define UKEY_HASHED	(1 + SHA256_DIGEST_LENGTH)

/* One owner's sum of the group's staged effects. */
struct store_udelta {
	struct store_udelta *next;
	int64_t objects, bytes, destroyed;
	size_t len;
	char owner[];
};

/* True for the states whose records stay only as a trace (kmipctl purge removes them). */
static bool
destroyed_state(uint32_t state)
{
	return state == KMIP_STATE_DESTROYED || state == KMIP_STATE_DESTROYED_COMPROMISED;
}

/*
 * The usage key of an owner: the owner itself when LMDB takes it as a key, else a NUL byte and its
 * SHA-256 (an owner never holds a NUL, so the two kinds cannot meet); an empty owner is a lone NUL.
 */
static void
usage_key(const struct store *s, const char *owner, size_t len, uint8_t buf[UKEY_HASHED], MDB_val *k)
{
	if (len > 0 && len <= s->maxkey) {
		k->mv_data = (void *)owner;
		k->mv_size = len;
		return;
	}
	buf[0] = 0;
	if (len == 0) {
		k->mv_size = 1;
	} else {
		SHA256((const unsigned char *)owner, len, buf + 1);
		k->mv_size = UKEY_HASHED;
	}
	k->mv_data = buf;
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Adds d to v, clamping at 0 and UINT64_MAX; *drift set when it would have gone below 0. */
static uint64_t
add_clamped(uint64_t v, int64_t d, bool *drift)
{
	if (d < 0 && (uint64_t)-(d + 1) + 1 > v) {
		*drift = true;
		return 0;
	}
	if (d > 0 && (uint64_t)d > UINT64_MAX - v)
		return UINT64_MAX;
	return d < 0 ? v - ((uint64_t)-(d + 1) + 1) : v + (uint64_t)d;
}

/* Reads the durable usage under key k in t (zeros when absent). */
static int
durable_get(struct store_txn *t, MDB_val *k, struct store_usage *u)
{
	MDB_val v;
	int rc;

	memset(u, 0, sizeof(*u));
	if ((rc = store_db_get(t, DB_USAGE, k, &v)) == STORE_E_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (v.mv_size < UVAL_BYTES)
		return STORE_E_CORRUPT;
	u->objects = get64(v.mv_data);
	u->bytes = get64((const uint8_t *)v.mv_data + 8);
	u->destroyed = get64((const uint8_t *)v.mv_data + 16);
	return STORE_OK;
}

/* Adds a change to one owner's durable counters in the applying transaction w. */
static int
durable_add(struct store_txn *w, const char *owner, size_t len, int64_t objects, int64_t bytes, int64_t destroyed)
{
	uint8_t kb[UKEY_HASHED], *val;
	struct store_usage u;
	bool drift = false;
	MDB_val k, v;
	size_t vlen;
	int rc;

	if (objects == 0 && bytes == 0 && destroyed == 0)
		return STORE_OK;
	usage_key(w->s, owner, len, kb, &k);
	if ((rc = durable_get(w, &k, &u)) != STORE_OK)
		return rc;
	u.objects = add_clamped(u.objects, objects, &drift);
	u.bytes = add_clamped(u.bytes, bytes, &drift);
	u.destroyed = add_clamped(u.destroyed, destroyed, &drift);
	if (drift)
		w->s->usage_drift = true;	/* cannot happen unless the table was wrong: rebuilt at next open */
	if (u.objects == 0 && u.bytes == 0 && u.destroyed == 0) {
		rc = store_db_del(w, DB_USAGE, &k, NULL);
		return rc == STORE_E_NOTFOUND ? STORE_OK : rc;
	}
	/* A hashed key keeps the owner in its value, for listings. */
	vlen = UVAL_BYTES + (k.mv_data == kb ? len : 0);
	if ((val = malloc(vlen)) == NULL)
		return w->failed = STORE_E_NOMEM;
	put64(val, u.objects);
	put64(val + 8, u.bytes);
	put64(val + 16, u.destroyed);
	if (vlen > UVAL_BYTES)
		memcpy(val + UVAL_BYTES, owner, len);
	v.mv_data = val;
	v.mv_size = vlen;
	rc = store_db_put(w, DB_USAGE, &k, &v, 0);
	free(val);
	return rc;
}

/* Counts a record replaced by another (old NULL: created; new NULL: deleted); see store_int.h. */
int
store_usage_change(struct store_txn *w, const struct store_rec *old, size_t old_len, const struct store_rec *nw,
    size_t new_len)
{
	int rc;

	if (old != NULL && nw != NULL && old->owner_len == nw->owner_len &&
	    memcmp(old->owner, nw->owner, nw->owner_len) == 0)
		return durable_add(w, nw->owner, nw->owner_len, 0, (int64_t)new_len - (int64_t)old_len,
		    (int64_t)destroyed_state(nw->state) - (int64_t)destroyed_state(old->state));
	if (old != NULL && (rc = durable_add(w, old->owner, old->owner_len, -1, -(int64_t)old_len,
	    destroyed_state(old->state) ? -1 : 0)) != STORE_OK)
		return rc;
	if (nw != NULL && (rc = durable_add(w, nw->owner, nw->owner_len, 1, (int64_t)new_len,
	    destroyed_state(nw->state) ? 1 : 0)) != STORE_OK)
		return rc;
	return STORE_OK;
}

/* Fills one effect of a staged write, copying the owner. */
static int
effect_set(struct store_ueffect *ef, const char *owner, size_t len, int64_t objects, int64_t bytes,
    int64_t destroyed)
{
	if ((ef->owner = malloc(len + 1)) == NULL)
		return STORE_E_NOMEM;
	memcpy(ef->owner, owner, len);
	ef->owner[len] = '\0';
	ef->len = len;
	ef->objects = objects;
	ef->bytes = bytes;
	ef->destroyed = destroyed;
	return STORE_OK;
}

/* Sets what a staged write changes in the usage of owners; see store_int.h. */
int
store_usage_effect(struct store_staged *e, const struct store_rec *old, size_t old_len, const struct store_rec *nw,
    size_t new_len)
{
	int rc;

	e->neffects = 0;
	if (old != NULL && nw != NULL && old->owner_len == nw->owner_len &&
	    memcmp(old->owner, nw->owner, nw->owner_len) == 0) {
		if ((rc = effect_set(&e->effects[0], nw->owner, nw->owner_len, 0, (int64_t)new_len - (int64_t)old_len,
		    (int64_t)destroyed_state(nw->state) - (int64_t)destroyed_state(old->state))) != STORE_OK)
			return rc;
		e->neffects = 1;
		return STORE_OK;
	}
	if (old != NULL) {
		if ((rc = effect_set(&e->effects[e->neffects], old->owner, old->owner_len, -1, -(int64_t)old_len,
		    destroyed_state(old->state) ? -1 : 0)) != STORE_OK)
			return rc;
		e->neffects++;
	}
	if (nw != NULL) {
		if ((rc = effect_set(&e->effects[e->neffects], nw->owner, nw->owner_len, 1, (int64_t)new_len,
		    destroyed_state(nw->state) ? 1 : 0)) != STORE_OK)
			return rc;
		e->neffects++;
	}
	return STORE_OK;
}

void
store_usage_effect_free(struct store_staged *e)
{
	unsigned i;

	for (i = 0; i < e->neffects; i++)
		free(e->effects[i].owner);
	e->neffects = 0;
}

/* FNV-1a of an owner, for the group's table. */
static size_t
owner_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h % STORE_UDELTA_BUCKETS);
}

/* The group's entry of an owner, made when create (NULL when absent, or out of memory). */
static struct store_udelta *
udelta(struct store *s, const char *owner, size_t len, bool create)
{
	struct store_udelta **b = &s->udelta[owner_hash(owner, len)], *d;

	for (d = *b; d != NULL; d = d->next)
		if (d->len == len && memcmp(d->owner, owner, len) == 0)
			return d;
	if (!create || (d = calloc(1, sizeof(*d) + len)) == NULL)
		return NULL;
	memcpy(d->owner, owner, len);
	d->len = len;
	d->next = *b;
	*b = d;
	return d;
}

/* Makes the group's entries for e's effects (before it is staged, so that adding cannot fail). */
int
store_usage_group_reserve(struct store *s, const struct store_staged *e)
{
	unsigned i;

	for (i = 0; i < e->neffects; i++)
		if (udelta(s, e->effects[i].owner, e->effects[i].len, true) == NULL)
			return STORE_E_NOMEM;
	return STORE_OK;
}

/* Adds (sign 1) or takes back (sign -1) e's effects in the group's table; the entries exist. */
void
store_usage_group_add(struct store *s, const struct store_staged *e, int sign)
{
	struct store_udelta *d;
	unsigned i;

	for (i = 0; i < e->neffects; i++) {
		if ((d = udelta(s, e->effects[i].owner, e->effects[i].len, false)) == NULL)
			continue;
		d->objects += sign * e->effects[i].objects;
		d->bytes += sign * e->effects[i].bytes;
		d->destroyed += sign * e->effects[i].destroyed;
	}
}

void
store_usage_group_free(struct store *s)
{
	struct store_udelta *d, *next;
	size_t i;

	for (i = 0; i < STORE_UDELTA_BUCKETS; i++) {
		for (d = s->udelta[i]; d != NULL; d = next) {
			next = d->next;
			free(d);
		}
		s->udelta[i] = NULL;
	}
}

/* An owner's durable usage; see store_int.h. */
int
store_usage_durable(struct store_txn *t, const char *owner, size_t len, struct store_usage *u)
{
	uint8_t kb[UKEY_HASHED];
	MDB_val k;

	usage_key(t->s, owner, len, kb, &k);
	return durable_get(t, &k, u);
}

/* An owner's usage as t sees it: the durable counters and the group's staged writes; see store.h. */
int
store_usage_get(struct store_txn *t, const char *owner, struct store_usage *u)
{
	const struct store_udelta *d;
	uint8_t kb[UKEY_HASHED];
	bool drift = false;
	size_t len;
	MDB_val k;
	int rc;

	if (u != NULL)
		memset(u, 0, sizeof(*u));
	if (t == NULL || owner == NULL || u == NULL)
		return STORE_E_INVALID;
	if (!t->s->usage_valid) {
		snprintf(t->s->err, sizeof(t->s->err), "the store has no usage counters yet: open it writable once");
		return STORE_E_INVALID;
	}
	len = strlen(owner);
	usage_key(t->s, owner, len, kb, &k);
	if ((rc = durable_get(t, &k, u)) != STORE_OK)
		return rc;
	if ((d = udelta(t->s, owner, len, false)) != NULL) {
		u->objects = add_clamped(u->objects, d->objects, &drift);
		u->bytes = add_clamped(u->bytes, d->bytes, &drift);
		u->destroyed = add_clamped(u->destroyed, d->destroyed, &drift);
	}
	return STORE_OK;
}

/* What t's own writes change in an owner's usage; see store.h. */
int
store_txn_usage_delta(struct store_txn *t, const char *owner, struct store_usage_delta *d)
{
	const struct store_staged *e;
	size_t len;
	unsigned i;

	if (d != NULL)
		memset(d, 0, sizeof(*d));
	if (t == NULL || owner == NULL || d == NULL)
		return STORE_E_INVALID;
	if (t->cs == NULL)
		return STORE_OK;
	len = strlen(owner);
	for (e = t->cs->first; e != NULL; e = e->next) {
		for (i = 0; i < e->neffects; i++) {
			if (e->effects[i].len != len || memcmp(e->effects[i].owner, owner, len) != 0)
				continue;
			d->objects += e->effects[i].objects;
			d->bytes += e->effects[i].bytes;
			d->destroyed += e->effects[i].destroyed;
		}
	}
	return STORE_OK;
}

/* True when an effect before (e, i) in t's change set names the same owner. */
static bool
seen_before(const struct store_cs *cs, const struct store_staged *e, unsigned i)
{
	const struct store_ueffect *ef = &e->effects[i];
	const struct store_staged *p;
	unsigned j;

	for (p = cs->first; p != NULL; p = p->next) {
		for (j = 0; j < p->neffects && (p != e || j < i); j++)
			if (p->effects[j].len == ef->len && memcmp(p->effects[j].owner, ef->owner, ef->len) == 0)
				return true;
		if (p == e)
			break;
	}
	return false;
}

/* Calls fn once for each owner t's writes change; see store.h. */
int
store_txn_usage_each(struct store_txn *t, store_delta_fn fn, void *arg)
{
	const struct store_staged *e;
	struct store_usage_delta d;
	unsigned i;
	int rc;

	if (t == NULL || fn == NULL)
		return STORE_E_INVALID;
	if (t->cs == NULL)
		return STORE_OK;
	for (e = t->cs->first; e != NULL; e = e->next) {
		for (i = 0; i < e->neffects; i++) {
			if (seen_before(t->cs, e, i))
				continue;
			if ((rc = store_txn_usage_delta(t, e->effects[i].owner, &d)) != STORE_OK)
				return rc;
			if ((rc = fn(arg, e->effects[i].owner, &d)) != 0)
				return rc;
		}
	}
	return STORE_OK;
}

/* Calls fn for every owner's durable usage, in key order; see store.h. */
int
store_usage_each(struct store *s, store_usage_fn fn, void *arg)
{
	struct store_usage u;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	const char *owner;
	size_t len;
	int rc, mrc;

	if (s == NULL || fn == NULL)
		return STORE_E_INVALID;
	if (s->open)
		return STORE_E_BUSY;
	if (!s->usage_valid) {
		snprintf(s->err, sizeof(s->err), "the store has no usage counters yet: open it writable once "
		    "(kmipd, or kmipctl usage --rebuild)");
		return STORE_E_INVALID;
	}
	if ((rc = store_read_begin(s)) != STORE_OK)
		return rc;
	if ((mrc = mdb_cursor_open(s->rtxn, s->dbi[DB_USAGE], &c)) != 0) {
		rc = store_fail(s, mrc, "listing usage");
		goto out;
	}
	rc = STORE_OK;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (v.mv_size < UVAL_BYTES) {
			rc = STORE_E_CORRUPT;
			break;
		}
		u.objects = get64(v.mv_data);
		u.bytes = get64((const uint8_t *)v.mv_data + 8);
		u.destroyed = get64((const uint8_t *)v.mv_data + 16);
		if (k.mv_size > 0 && ((const uint8_t *)k.mv_data)[0] == 0) {
			owner = (const char *)v.mv_data + UVAL_BYTES;
			len = v.mv_size - UVAL_BYTES;
		} else {
			owner = k.mv_data;
			len = k.mv_size;
		}
		if ((rc = fn(arg, owner, len, &u)) != 0)
			break;
	}
	if (rc == STORE_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store_fail(s, mrc, "listing usage");
out:
	if (c != NULL)
		mdb_cursor_close(c);
	store_read_end(s);
	return rc;
}

/* Counts every record again into an emptied usage table, in the LMDB write transaction txn. */
static int
rebuild(struct store *s, MDB_txn *txn, uint64_t *records)
{
	struct store_txn w;
	struct store_rec r;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint64_t rev;
	int rc, mrc;

	*records = 0;
	store_txn_wrap(s, txn, true, &w);
	if ((mrc = mdb_drop(txn, s->dbi[DB_USAGE], 0)) != 0)
		return store_fail(s, mrc, "emptying the usage table");
	if ((mrc = mdb_cursor_open(txn, s->dbi[DB_OBJ], &c)) != 0)
		return store_fail(s, mrc, "counting usage");
	rc = STORE_OK;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (store_rec_parse(v.mv_data, v.mv_size, &r) != STORE_OK) {
			snprintf(s->err, sizeof(s->err), "record %.*s is corrupt", (int)k.mv_size,
			    (const char *)k.mv_data);
			rc = STORE_E_CORRUPT;
			break;
		}
		/* Writes go to the usage table only: the object table's pages, and r, stay as they are. */
		if ((rc = store_usage_change(&w, NULL, 0, &r, v.mv_size)) != STORE_OK)
			break;
		++*records;
	}
	mdb_cursor_close(c);
	if (rc == STORE_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = store_fail(s, mrc, "counting usage");
	if (rc == STORE_OK && (rc = store_meta_get(&w, "rev", &rev)) == STORE_OK)
		rc = store_meta_put(&w, "usage", rev);
	return rc;
}

/* Whether the usage table counts what the records hold: written by the last commit ("usage" == "rev"). */
static int
usage_current(struct store_txn *t, bool *current)
{
	MDB_val k = { 5, (void *)"usage" }, v;
	uint64_t rev, urev;
	int rc;

	*current = false;
	if ((rc = store_db_get(t, DB_META, &k, &v)) == STORE_E_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if ((rc = store_meta_get(t, "usage", &urev)) != STORE_OK ||
	    (rc = store_meta_get(t, "rev", &rev)) != STORE_OK)
		return rc;
	*current = urev == rev;
	return STORE_OK;
}

/*
 * Counts the usage again from the records in one write transaction; only_stale: unless the counters are
 * current as that transaction sees them (several processes opening at once: the first one counts).
 */
static int
usage_rebuild(struct store *s, bool only_stale, uint64_t *records, char **cause)
{
	struct store_txn w;
	bool current = false;
	MDB_txn *txn;
	uint64_t n = 0;
	int rc;

	if (records != NULL)
		*records = 0;
	if (s->open || store_group_pending(s))
		return STORE_E_BUSY;
	if (s->read_only || s->no_usage_db)
		return STORE_E_READONLY;
	if ((rc = store_begin(s, NULL, 0, &txn)) != 0) {
		rc = store_fail(s, rc, "beginning the usage count");
		store_set_cause(cause, "%s: %s", s->path, s->err);
		return rc;
	}
	store_txn_wrap(s, txn, true, &w);
	if (only_stale && ((rc = usage_current(&w, &current)) != STORE_OK || current)) {
		mdb_txn_abort(txn);
		if (rc != STORE_OK) {
			store_set_cause(cause, "%s: reading the usage counters: %s", s->path, store_strerror(rc));
			return rc;
		}
		s->usage_valid = true;
		s->usage_drift = false;
		return STORE_OK;
	}
	if ((rc = rebuild(s, txn, &n)) != STORE_OK) {
		mdb_txn_abort(txn);
		store_set_cause(cause, "%s: counting usage: %s", s->path, s->err);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		rc = store_fail(s, rc, "committing the usage count");
		store_set_cause(cause, "%s: %s", s->path, s->err);
		return rc;
	}
	s->usage_valid = true;
	s->usage_drift = false;
	if (records != NULL)
		*records = n;
	return STORE_OK;
}

/* Counts the usage again from the records; see store.h. */
int
store_usage_rebuild(struct store *s, uint64_t *records, char **cause)
{
	return usage_rebuild(s, false, records, cause);
}

/* At open: whether the counters are current, counting them again when writable and not; see store_int.h. */
int
store_usage_open(struct store *s, uint64_t *counted, char **cause)
{
	struct store_txn t;
	bool current = false;
	int rc;

	*counted = 0;
	s->usage_valid = false;
	if (s->no_usage_db)
		return STORE_OK;
	if ((rc = store_read_begin(s)) != STORE_OK) {
		store_set_cause(cause, "%s: %s", s->path, s->err);
		return rc;
	}
	store_txn_wrap(s, s->rtxn, false, &t);
	rc = usage_current(&t, &current);
	store_read_end(s);
	if (rc != STORE_OK) {
		store_set_cause(cause, "%s: reading the usage counters: %s", s->path, store_strerror(rc));
		return rc;
	}
	if (current || s->read_only) {
		s->usage_valid = current;
		return STORE_OK;
	}
	return usage_rebuild(s, true, counted, cause);
}
