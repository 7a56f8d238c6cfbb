/*
 * Replication (issue 19): a cluster node's store is a copy of the records in etcd.
 *
 * The group commit does not write LMDB. core/cluster.c takes the group (store_repl_take) and sends it to etcd
 * as transactions built here: each change set's checks become compares (absent: the key's version is 0; a
 * durable revision: its mod_revision equals it; a write staged earlier in the group: nothing when it travels
 * in the same transaction, else the revision that transaction committed at), its writes become puts and
 * deletes (the newest write of each object in a transaction), and the failure branch reads every compared key
 * back, so that when one compare fails the change sets it decides can be found, failed, and the rest sent
 * again. A change set that built on a failed one fails with it; an Undo batch's change sets travel together.
 *
 * What etcd committed reaches LMDB only through store_repl_apply (the node's watch, in revision order, its
 * own writes included): a record's revision is the mod_revision that wrote it, so the next compare of that
 * object is exact. "rev" in the meta database is the etcd revision applied through. Applying is idempotent
 * (events at or below it are skipped), so several processes may apply the same stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ttlv.h"
#include "store/store_int.h"

/* Bytes a key or value takes in the JSON of a request: base64 plus quotes and a field name. */
#define B64(n)			(((n) + 2) / 3 * 4)
#define OP_OVERHEAD		96
#define CMP_OVERHEAD		128

enum unit_state {
	U_PENDING,		/* not sent, or sent again after a conflict of another unit */
	U_INFLIGHT,		/* in the transaction last built */
	U_DONE,			/* committed */
	U_FAILED,
};

struct unit {
	struct store_cs *first, *last;
	enum unit_state state;
};

struct store_rgroup {
	struct store *s;
	struct store_cs *list;		/* the change sets, in commit order */
	struct unit *units;
	size_t nunits;
	size_t next;			/* units before it are decided */
	struct store_rcmp *cmps;
	size_t ncmps, cmps_cap;
	struct store_rop *ops;
	size_t nops, ops_cap;
	uint64_t last_rev;
};

/* Fails a unit's change sets, naming uid (reason NULL: a conflict). */
static void
unit_fail(struct unit *u, const char *uid, size_t uid_len, const char *reason)
{
	struct store_cs *cs;

	u->state = U_FAILED;
	for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next) {
		cs->failed = true;
		cs->reason = reason;
		if (cs->conflict_uid[0] == '\0' && uid != NULL) {
			if (uid_len > STORE_UID_MAX)
				uid_len = STORE_UID_MAX;
			memcpy(cs->conflict_uid, uid, uid_len);
			cs->conflict_uid[uid_len] = '\0';
		}
	}
}

/* Takes the group for replication; see store.h. */
int
store_repl_take(struct store *s, struct store_rgroup **out)
{
	struct store_rgroup *g;
	struct store_cs *cs, *last;
	struct store_txn *t = NULL;
	size_t n = 0, i = 0;
	bool hold;
	int rc;

	*out = NULL;
	if (s->open || s->batch)
		return STORE_E_BUSY;
	if (s->cs_first == NULL)
		return STORE_OK;
	for (cs = s->cs_first; cs != NULL; cs = last->next, n++)
		for (last = cs; cs->unit != 0 && last->next != NULL && last->next->unit == cs->unit; last = last->next)
			;
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->units = calloc(n, sizeof(*g->units))) == NULL) {
		free(g);
		return STORE_E_NOMEM;
	}
	g->s = s;
	g->nunits = n;
	/* Quotas are held against what this node has applied: the durable counters (limits_hold). */
	if ((rc = store_txn_begin(s, false, &t)) != STORE_OK) {
		free(g->units);
		free(g);
		return rc;
	}
	for (cs = s->cs_first; cs != NULL; cs = last->next, i++) {
		for (last = cs; cs->unit != 0 && last->next != NULL && last->next->unit == cs->unit; last = last->next)
			;
		g->units[i].first = cs;
		g->units[i].last = last;
	}
	for (i = 0; i < n; i++) {
		for (cs = g->units[i].first; cs != NULL; cs = cs == g->units[i].last ? NULL : cs->next) {
			if (cs->poisoned) {
				unit_fail(&g->units[i], cs->first != NULL ? cs->first->uid : "", cs->first != NULL ?
				    cs->first->uid_len : 0, NULL);
				break;
			}
			if (store_limits_hold(t, cs, &hold) != STORE_OK || !hold) {
				unit_fail(&g->units[i], cs->conflict_uid, strlen(cs->conflict_uid), STORE_REPL_QUOTA);
				break;
			}
		}
	}
	store_txn_abort(t);
	g->list = store_group_detach(s);
	*out = g;
	return STORE_OK;
}

/* Drops the group unsent; see store.h. */
void
store_group_abandon(struct store *s)
{
	if (!s->open)
		store_group_free(s);
}

/* Whether a unit built on a write of a failed unit (it must fail too). */
static const struct store_check *
depends_failed(const struct unit *u)
{
	const struct store_check *c;
	const struct store_cs *cs;

	for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next)
		for (c = cs->checks; c != NULL; c = c->next)
			if (c->seen == SEEN_STAGED && c->staged->cs->failed)
				return c;
	return NULL;
}

/*
 * What a check expects of its key in etcd: *skip when nothing (a write of the same transaction), else
 * absent, or a mod_revision.
 */
static void
expect(const struct store_check *c, bool *skip, bool *absent, uint64_t *rev)
{
	*skip = false;
	*absent = false;
	*rev = 0;
	switch (c->seen) {
	case SEEN_ABSENT:
		*absent = true;
		break;
	case SEEN_REV:
		*rev = c->rev;
		break;
	default:
		if (c->staged->applied_rev == 0)
			*skip = true;		/* staged in a unit of this transaction */
		else if (c->staged->deleted)
			*absent = true;
		else
			*rev = c->staged->applied_rev;
		break;
	}
}

/* Adds a compare to the transaction being built, once; -1 on ENOMEM. */
static int
add_cmp(struct store_rgroup *g, const struct store_check *c, bool absent, uint64_t rev)
{
	struct store_rcmp *v;
	size_t i;

	for (i = 0; i < g->ncmps; i++)
		if (g->cmps[i].uid_len == c->uid_len && memcmp(g->cmps[i].uid, c->uid, c->uid_len) == 0 &&
		    g->cmps[i].absent == absent && g->cmps[i].rev == rev)
			return 0;
	if ((v = store_array_room(g->cmps, g->ncmps, &g->cmps_cap, sizeof(*v))) == NULL)
		return -1;
	g->cmps = v;
	v[g->ncmps].uid = c->uid;
	v[g->ncmps].uid_len = c->uid_len;
	v[g->ncmps].absent = absent;
	v[g->ncmps].rev = rev;
	g->ncmps++;
	return 0;
}

/* Adds a write to the transaction being built (the newest of its object replaces an older); -1 on ENOMEM. */
static int
add_op(struct store_rgroup *g, const struct store_staged *e)
{
	struct store_rop *v;
	size_t i;

	for (i = 0; i < g->nops; i++) {
		if (g->ops[i].uid_len == e->uid_len && memcmp(g->ops[i].uid, e->uid, e->uid_len) == 0) {
			/* A later write of the same object in the transaction: only the newest goes. */
			g->ops[i].rec = e->deleted ? NULL : e->rec;
			g->ops[i].rec_len = e->deleted ? 0 : e->rec_len;
			return 0;
		}
	}
	if ((v = store_array_room(g->ops, g->nops, &g->ops_cap, sizeof(*v))) == NULL)
		return -1;
	g->ops = v;
	v[g->nops].uid = e->uid;
	v[g->nops].uid_len = e->uid_len;
	v[g->nops].rec = e->deleted ? NULL : e->rec;
	v[g->nops].rec_len = e->deleted ? 0 : e->rec_len;
	g->nops++;
	return 0;
}

/* Whether uid is written by the transaction being built. */
static bool
written(const struct store_rgroup *g, const char *uid, size_t len)
{
	size_t i;

	for (i = 0; i < g->nops; i++)
		if (g->ops[i].uid_len == len && memcmp(g->ops[i].uid, uid, len) == 0)
			return true;
	return false;
}

/*
 * Whether unit u must wait for the next transaction: it saw an object as durable (or absent) that an earlier
 * unit of this one writes. In one transaction its compare would still hold (compares see etcd before the
 * transaction) and its write would hide the earlier one; in the next its compare decides.
 */
static bool
unit_waits(const struct store_rgroup *g, const struct unit *u)
{
	const struct store_check *c;
	const struct store_cs *cs;

	for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next)
		for (c = cs->checks; c != NULL; c = c->next)
			if (c->seen != SEEN_STAGED && written(g, c->uid, c->uid_len))
				return true;
	return false;
}

/* An upper bound of what unit u adds to a transaction: compares, operations, request bytes. */
static void
unit_size(const struct unit *u, size_t *ncmps, size_t *nops, size_t *bytes)
{
	const struct store_check *c;
	const struct store_staged *e;
	const struct store_cs *cs;

	*ncmps = *nops = *bytes = 0;
	for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next) {
		for (c = cs->checks; c != NULL; c = c->next) {
			(*ncmps)++;
			*bytes += CMP_OVERHEAD + 2 * B64(c->uid_len + STORE_REPL_KEY_EXTRA);
		}
		for (e = cs->first; e != NULL; e = e->next) {
			(*nops)++;
			*bytes += OP_OVERHEAD + B64(e->uid_len + STORE_REPL_KEY_EXTRA) + B64(e->rec_len);
		}
	}
}

/* Builds the next transaction; see store.h. */
int
store_repl_next(struct store_rgroup *g, size_t max_ops, size_t max_bytes, struct store_rtxn *t)
{
	const struct store_check *c;
	const struct store_staged *e;
	struct store_cs *cs;
	size_t i, uc, uo, ub, bytes = 0, units = 0;
	uint64_t rev;
	bool skip, absent;

	memset(t, 0, sizeof(*t));
	g->ncmps = g->nops = 0;
	while (g->next < g->nunits && (g->units[g->next].state == U_DONE || g->units[g->next].state == U_FAILED))
		g->next++;
	for (i = g->next; i < g->nunits; i++) {
		struct unit *u = &g->units[i];

		if (u->state != U_PENDING)
			continue;
		if ((c = depends_failed(u)) != NULL) {
			unit_fail(u, c->uid, c->uid_len, NULL);
			continue;
		}
		unit_size(u, &uc, &uo, &ub);
		if (uc > max_ops || uo > max_ops || ub > max_bytes) {
			unit_fail(u, u->first->first != NULL ? u->first->first->uid : "", u->first->first != NULL ?
			    u->first->first->uid_len : 0, STORE_REPL_TOO_LARGE);
			continue;
		}
		if (g->ncmps + uc > max_ops || g->nops + uo > max_ops || bytes + ub > max_bytes)
			break;		/* the next transaction takes it */
		if (units > 0 && unit_waits(g, u))
			break;
		for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next) {
			for (c = cs->checks; c != NULL; c = c->next) {
				expect(c, &skip, &absent, &rev);
				if (!skip && add_cmp(g, c, absent, rev) != 0)
					return STORE_E_NOMEM;
			}
			for (e = cs->first; e != NULL; e = e->next)
				if (add_op(g, e) != 0)
					return STORE_E_NOMEM;
		}
		bytes += ub;
		u->state = U_INFLIGHT;
		units++;
	}
	t->cmps = g->cmps;
	t->ncmps = g->ncmps;
	t->ops = g->ops;
	t->nops = g->nops;
	return STORE_OK;
}

/* Iterates u over the units of the last transaction built (those in flight), in order. */
#define EACH_INFLIGHT(g, u) \
	for ((u) = &(g)->units[(g)->next]; (u) < &(g)->units[(g)->nunits]; (u)++) \
		if ((u)->state == U_INFLIGHT)

/* The last transaction committed at revision rev; see store.h. */
void
store_repl_committed(struct store_rgroup *g, uint64_t rev)
{
	struct store_staged *e;
	struct store_cs *cs;
	struct unit *u;

	EACH_INFLIGHT(g, u) {
		u->state = U_DONE;
		for (cs = u->first; cs != NULL; cs = cs == u->last ? NULL : cs->next)
			for (e = cs->first; e != NULL; e = e->next)
				e->applied_rev = rev;
	}
	if (rev > g->last_rev)
		g->last_rev = rev;
}

/* What the failure branch read of uid, or NULL. */
static const struct store_rcur *
find_cur(const struct store_rcur *cur, size_t n, const char *uid, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cur[i].uid_len == len && memcmp(cur[i].uid, uid, len) == 0)
			return &cur[i];
	return NULL;
}

/* The last transaction's compares failed: see store.h. */
void
store_repl_conflict(struct store_rgroup *g, const struct store_rcur *cur, size_t n)
{
	const struct store_check *c;
	const struct store_rcur *k;
	const struct store_cs *cs;
	struct unit *u;
	uint64_t rev;
	bool skip, absent, ok, any = false;

	EACH_INFLIGHT(g, u) {
		ok = true;
		for (cs = u->first; cs != NULL && ok; cs = cs == u->last ? NULL : cs->next) {
			for (c = cs->checks; c != NULL && ok; c = c->next) {
				expect(c, &skip, &absent, &rev);
				if (skip)
					continue;
				k = find_cur(cur, n, c->uid, c->uid_len);
				ok = k != NULL && (absent ? !k->exists : k->exists && k->mod_rev == rev);
				if (!ok) {
					unit_fail(u, c->uid, c->uid_len, NULL);
					any = true;
				}
			}
		}
	}
	EACH_INFLIGHT(g, u) {
		if (!any)	/* no compare explains it: fail them all rather than loop */
			unit_fail(u, u->first->first != NULL ? u->first->first->uid : "", u->first->first != NULL ?
			    u->first->first->uid_len : 0, NULL);
		else
			u->state = U_PENDING;
	}
}

/* The last transaction was refused or its outcome is unknown; see store.h. */
void
store_repl_refused(struct store_rgroup *g, const char *reason, bool all)
{
	struct unit *u;

	for (u = &g->units[g->next]; u < &g->units[g->nunits]; u++) {
		if (u->state == U_INFLIGHT || (all && u->state == U_PENDING))
			unit_fail(u, u->first->first != NULL ? u->first->first->uid : "", u->first->first != NULL ?
			    u->first->first->uid_len : 0, reason);
	}
}

/* See store.h. */
uint64_t
store_repl_revision(const struct store_rgroup *g)
{
	return g->last_rev;
}

/* Reports the failed change sets and frees the group; see store.h. */
void
store_repl_finish(struct store *s, struct store_rgroup *g, store_repl_fail_fn fn, void *arg)
{
	struct store_reader *r;
	struct store_cs *cs;

	if (g == NULL)
		return;
	s->n_group_commits++;
	for (cs = g->list; cs != NULL; cs = cs->next) {
		if (!cs->failed)
			continue;
		if (cs->best_effort) {
			s->n_dropped++;		/* its writes go, and nothing fails for them (store_txn_best_effort) */
			continue;
		}
		if (cs->reason == NULL)
			s->n_conflicts++;
		if (fn == NULL)
			continue;
		if (cs->owner != 0)
			fn(arg, cs->owner, cs->item, cs->conflict_uid, cs->reason);
		for (r = cs->readers; r != NULL; r = r->next)
			fn(arg, r->owner, r->item, cs->conflict_uid, cs->reason);
	}
	store_cs_free_list(g->list);
	free(g->units);
	free(g->cmps);
	free(g->ops);
	free(g);
}

/* Begins the one LMDB write transaction of an apply or a resync step, wrapped as w. */
static int
apply_begin(struct store *s, struct store_txn *w)
{
	MDB_txn *txn;
	int rc;

	if ((rc = store_begin(s, NULL, 0, &txn)) != 0)
		return store_fail(s, rc, "beginning to apply etcd's writes");
	store_txn_wrap(s, txn, true, w);
	return STORE_OK;
}

/* Ends it: commits with the applied revision moved to through (0: left), or aborts when rc is an error. */
static int
apply_end(struct store_txn *w, uint64_t through, bool counted, int rc)
{
	struct store *s = w->s;

	if (rc == STORE_OK && through != 0 && (rc = store_meta_put(w, "rev", through)) == STORE_OK && counted &&
	    !s->usage_drift)
		rc = store_meta_put(w, "usage", through);
	if (rc != STORE_OK) {
		mdb_txn_abort(w->txn);
		return rc;
	}
	if ((rc = mdb_txn_commit(w->txn)) != 0)
		return store_fail(s, rc, "committing etcd's writes");
	return STORE_OK;
}

/* A record etcd holds for uid, checked: it parses and names uid. STORE_E_CORRUPT otherwise. */
static int
remote_record(struct store *s, const struct store_revent *ev, struct store_staged *e)
{
	struct store_rec r;

	memset(e, 0, sizeof(*e));
	if (ev->uid_len == 0 || ev->uid_len > STORE_UID_MAX) {
		snprintf(s->err, sizeof(s->err), "etcd holds an object key of %zu bytes", ev->uid_len);
		return STORE_E_CORRUPT;
	}
	memcpy(e->uid, ev->uid, ev->uid_len);
	e->uid_len = ev->uid_len;
	e->deleted = ev->deleted;
	if (ev->deleted)
		return STORE_OK;
	if (store_rec_parse(ev->value, ev->value_len, &r) != STORE_OK || r.rev_off == 0 ||
	    r.uid_len != ev->uid_len || memcmp(r.uid, ev->uid, ev->uid_len) != 0) {
		snprintf(s->err, sizeof(s->err), "etcd holds a record for %.*s that is not one kmipd wrote for it",
		    (int)ev->uid_len, ev->uid);
		return STORE_E_CORRUPT;
	}
	if ((e->rec = malloc(ev->value_len)) == NULL)
		return STORE_E_NOMEM;
	memcpy(e->rec, ev->value, ev->value_len);
	e->rec_len = ev->value_len;
	return STORE_OK;
}

/* Wipes and frees remote_record's copy. */
static void
remote_free(struct store_staged *e)
{
	if (e->rec != NULL) {
		explicit_bzero(e->rec, e->rec_len);
		free(e->rec);
		e->rec = NULL;
	}
}

/* Applies one event in w; a record that is not kmipd's is skipped (counted, *bad). */
static int
apply_event(struct store_txn *w, const struct store_revent *ev, bool *keyring, uint64_t *bad)
{
	MDB_val k = { 7, "keyring" }, v;
	struct store_staged e;
	int rc;

	if (ev->kind == STORE_R_KEYRING) {
		if (ev->deleted || ev->value_len == 0)
			return STORE_OK;	/* the keyring stays: records may be sealed under it */
		v.mv_size = ev->value_len;
		v.mv_data = (void *)ev->value;
		*keyring = true;
		return store_db_put(w, DB_META, &k, &v, 0);
	}
	if ((rc = remote_record(w->s, ev, &e)) == STORE_E_CORRUPT) {
		(*bad)++;
		return STORE_OK;
	}
	if (rc == STORE_OK)
		rc = store_apply_remote(w, &e, ev->mod_rev);
	remote_free(&e);
	return rc;
}

/* One attempt of store_repl_apply. */
static int
apply_once(struct store *s, const struct store_revent *ev, size_t n, uint64_t through, bool *keyring,
    uint64_t *bad)
{
	struct store_txn w;
	uint64_t applied;
	bool counted;
	size_t i;
	int rc;

	*keyring = false;
	*bad = 0;
	if ((rc = apply_begin(s, &w)) != STORE_OK)
		return rc;
	if ((rc = store_meta_get(&w, "rev", &applied)) != STORE_OK)
		return apply_end(&w, 0, false, rc);
	if ((rc = store_usage_counted(&w, applied, &counted)) != STORE_OK)
		return apply_end(&w, 0, false, rc);
	/* Events at or below the applied revision are in already (this process's, or another's). */
	for (i = 0; i < n && rc == STORE_OK; i++)
		if (ev[i].mod_rev > applied)
			rc = apply_event(&w, &ev[i], keyring, bad);
	/*
	 * A keyring this node's master key does not open must not be kept: the node would go on sealing under
	 * its own data key, and the others could not open what it writes. Checked before the commit.
	 */
	if (rc == STORE_OK && *keyring && s->keys != NULL && (rc = store_keys_refresh(s, w.txn)) != STORE_OK &&
	    rc != STORE_E_NOMEM)
		rc = STORE_E_INVALID;
	return apply_end(&w, through > applied ? through : 0, counted, rc);
}

/* Applies events etcd committed; see store.h. */
int
store_repl_apply(struct store *s, const struct store_revent *ev, size_t n, uint64_t through, uint64_t *bad)
{
	bool keyring = false;
	int rc;

	if (s->open)
		return STORE_E_BUSY;
	rc = apply_once(s, ev, n, through, &keyring, bad);
	while (rc == STORE_E_FULL && store_grow(s, true)) {
		s->n_replays++;
		rc = apply_once(s, ev, n, through, &keyring, bad);
	}
	if (rc == STORE_OK)
		(void)store_grow(s, false);
	return rc;
}

/* The etcd revision applied through; see store.h. */
int
store_repl_applied(struct store *s, uint64_t *rev)
{
	struct store_txn *t;
	int rc;

	*rev = 0;
	if ((rc = store_txn_begin(s, false, &t)) != STORE_OK)
		return rc;
	rc = store_meta_get(t, "rev", rev);
	store_txn_abort(t);
	return rc;
}

/* Byte order of keys, as LMDB and etcd sort them. */
static int
uid_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : alen < blen ? -1 : alen > blen;
}

#define RESYNC_DELETE_BATCH	1024

/*
 * The local records after from (all when from_len is 0) up to upto (to the end when NULL) that are not in
 * kv and not newer than at_rev: up to RESYNC_DELETE_BATCH of them into del (uids), *n set; *more when the
 * batch filled before the range ended.
 */
static int
resync_stale(struct store_txn *w, const struct store_revent *kv, size_t nkv, const char *from, size_t from_len,
    const char *upto, size_t upto_len, uint64_t at_rev, char (*del)[STORE_UID_MAX + 1], size_t *dlen, size_t *n,
    bool *more)
{
	struct store *s = w->s;
	MDB_cursor *cur;
	MDB_val k = { from_len, (void *)from }, v;
	struct store_rec r;
	size_t j = 0;
	int rc;

	*n = 0;
	*more = false;
	if ((rc = mdb_cursor_open(w->txn, s->dbi[DB_OBJ], &cur)) != 0)
		return store_fail(s, rc, "reading the records to resynchronise");
	rc = from_len == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && from_len != 0 && uid_cmp(k.mv_data, k.mv_size, from, from_len) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (upto != NULL && uid_cmp(k.mv_data, k.mv_size, upto, upto_len) > 0)
			break;
		while (j < nkv && uid_cmp(kv[j].uid, kv[j].uid_len, k.mv_data, k.mv_size) < 0)
			j++;
		if (j < nkv && uid_cmp(kv[j].uid, kv[j].uid_len, k.mv_data, k.mv_size) == 0)
			continue;
		if (k.mv_size > STORE_UID_MAX || store_rec_parse(v.mv_data, v.mv_size, &r) != STORE_OK ||
		    r.rev > at_rev)
			continue;	/* newer than the range (another process applied it), or not a record */
		if (*n == RESYNC_DELETE_BATCH) {
			*more = true;
			break;
		}
		memcpy(del[*n], k.mv_data, k.mv_size);
		dlen[*n] = k.mv_size;
		(*n)++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND && !*more && rc != 0)
		return store_fail(s, rc, "reading the records to resynchronise");
	return STORE_OK;
}

/* One attempt of store_repl_resync. */
static int
resync_once(struct store *s, const struct store_revent *kv, size_t n, const char *from, size_t from_len, bool last,
    uint64_t at_rev, uint64_t *bad)
{
	char (*del)[STORE_UID_MAX + 1] = NULL;
	size_t *dlen = NULL;
	const char *upto = last || n == 0 ? NULL : kv[n - 1].uid;
	size_t upto_len = upto != NULL ? kv[n - 1].uid_len : 0, nd, i;
	struct store_staged e;
	struct store_txn w;
	uint64_t applied, rev, seq;
	bool counted, more, found, keyring = false;
	int rc;

	*bad = 0;
	if ((del = calloc(RESYNC_DELETE_BATCH, sizeof(*del))) == NULL ||
	    (dlen = calloc(RESYNC_DELETE_BATCH, sizeof(*dlen))) == NULL) {
		free(del);
		return STORE_E_NOMEM;
	}
	if ((rc = apply_begin(s, &w)) != STORE_OK)
		goto out;
	if ((rc = store_meta_get(&w, "rev", &applied)) != STORE_OK ||
	    (rc = store_usage_counted(&w, applied, &counted)) != STORE_OK) {
		rc = apply_end(&w, 0, false, rc);
		goto out;
	}
	/* Records etcd's range did not hold: removed (in batches of the cursor's). */
	do {
		if ((rc = resync_stale(&w, kv, n, from, from_len, upto, upto_len, at_rev, del, dlen, &nd, &more)) !=
		    STORE_OK)
			break;
		for (i = 0; i < nd && rc == STORE_OK; i++) {
			memset(&e, 0, sizeof(e));
			memcpy(e.uid, del[i], dlen[i]);
			e.uid_len = dlen[i];
			e.deleted = true;
			rc = store_apply_remote(&w, &e, 0);
		}
	} while (rc == STORE_OK && more);
	/* Records older here than in the range: replaced. */
	for (i = 0; i < n && rc == STORE_OK; i++) {
		if ((rc = store_peek(&w, kv[i].uid, kv[i].uid_len, &found, &rev, &seq)) != STORE_OK)
			break;
		if (!found || rev < kv[i].mod_rev)
			rc = apply_event(&w, &kv[i], &keyring, bad);
	}
	rc = apply_end(&w, last && at_rev > applied ? at_rev : 0, counted, rc);
out:
	if (del != NULL)
		explicit_bzero(del, RESYNC_DELETE_BATCH * sizeof(*del));
	free(del);
	free(dlen);
	return rc;
}

/* One page of a resynchronisation; see store.h. */
int
store_repl_resync(struct store *s, const struct store_revent *kv, size_t n, const char *from, size_t from_len,
    bool last, uint64_t at_rev, uint64_t *bad)
{
	int rc;

	if (s->open)
		return STORE_E_BUSY;
	rc = resync_once(s, kv, n, from, from_len, last, at_rev, bad);
	while (rc == STORE_E_FULL && store_grow(s, true)) {
		s->n_replays++;
		rc = resync_once(s, kv, n, from, from_len, last, at_rev, bad);
	}
	return rc;
}

/* A copy of the keyring as LMDB holds it; see store.h. */
int
store_repl_keyring(struct store *s, uint8_t **buf, size_t *len)
{
	MDB_val k = { 7, "keyring" }, v;
	struct store_txn *t;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = store_txn_begin(s, false, &t)) != STORE_OK)
		return rc;
	if ((rc = store_db_get(t, DB_META, &k, &v)) == STORE_OK) {
		if ((*buf = malloc(v.mv_size)) == NULL)
			rc = STORE_E_NOMEM;
		else {
			memcpy(*buf, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	store_txn_abort(t);
	return rc;
}

/* The etcd cluster id the store copies from; see store.h. */
int
store_repl_cluster(struct store *s, uint64_t *id, uint64_t set)
{
	struct store_txn w;
	int rc;

	*id = 0;
	if (s->open)
		return STORE_E_BUSY;
	if ((rc = apply_begin(s, &w)) != STORE_OK)
		return rc;
	if ((rc = store_meta_get(&w, "etcd_cluster", id)) != STORE_OK || *id != 0 || set == 0) {
		mdb_txn_abort(w.txn);
		return rc;
	}
	if ((rc = store_meta_put(&w, "etcd_cluster", set)) != STORE_OK)
		return apply_end(&w, 0, false, rc);
	if ((rc = apply_end(&w, 0, false, STORE_OK)) == STORE_OK)
		*id = set;
	return rc;
}
