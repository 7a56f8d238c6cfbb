/*
 * Unit tests of the store's replication (store/replica.c, issue 19): the transactions a group becomes, what
 * a failed compare fails, applying etcd's writes and resynchronising. Two or three real stores play cluster
 * nodes; the ordered log between them is a small in-memory model of etcd's Txn semantics (every compare is
 * evaluated before the success branch runs; each transaction that writes gets the next revision; each write
 * is an event of that revision). The real etcd is in test/cluster.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define OT_SYMMETRIC	2u
#define ST_PREACTIVE	1u
#define ST_ACTIVE	2u
#define MAX_KEYS	64
#define MAX_EVENTS	256

/* The ordered log: the newest value of each key and every event. */
struct log_kv {
	char uid[STORE_UID_MAX + 1];
	uint8_t *value;
	size_t len;
	uint64_t mod_rev;
	bool live;
};

struct log_event {
	char uid[STORE_UID_MAX + 1];
	uint8_t *value;
	size_t len;
	bool deleted;
	uint64_t rev;
};

struct model {
	uint64_t rev;
	struct log_kv kv[MAX_KEYS];
	size_t nkv;
	struct log_event ev[MAX_EVENTS];
	size_t nev;
	size_t txns;
};

struct node {
	char dir[64];
	struct store *s;
	size_t applied_ev;	/* events of the model applied */
};

struct fx {
	struct model m;
	struct node n[3];
};

static struct log_kv *
kv_find(struct model *m, const char *uid, size_t len)
{
	for (size_t i = 0; i < m->nkv; i++)
		if (strlen(m->kv[i].uid) == len && memcmp(m->kv[i].uid, uid, len) == 0)
			return &m->kv[i];
	return NULL;
}

/* Runs one transaction: true when its compares held (its writes are then events of a new revision). */
static bool
model_txn(struct model *m, const struct store_rtxn *t, struct store_rcur *cur, size_t *ncur)
{
	struct log_kv *k;
	bool ok = true;
	size_t i;

	m->txns++;
	*ncur = 0;
	for (i = 0; i < t->ncmps; i++) {
		k = kv_find(m, t->cmps[i].uid, t->cmps[i].uid_len);
		if (t->cmps[i].absent ? k != NULL && k->live : k == NULL || !k->live || k->mod_rev != t->cmps[i].rev)
			ok = false;
		cur[*ncur].uid = t->cmps[i].uid;
		cur[*ncur].uid_len = t->cmps[i].uid_len;
		cur[*ncur].exists = k != NULL && k->live;
		cur[*ncur].mod_rev = k != NULL && k->live ? k->mod_rev : 0;
		(*ncur)++;
	}
	if (!ok)
		return false;
	m->rev++;
	for (i = 0; i < t->nops; i++) {
		const struct store_rop *o = &t->ops[i];
		struct log_event *e = &m->ev[m->nev++];

		assert_true(m->nev <= MAX_EVENTS);
		if ((k = kv_find(m, o->uid, o->uid_len)) == NULL) {
			assert_true(m->nkv < MAX_KEYS);
			k = &m->kv[m->nkv++];
			memcpy(k->uid, o->uid, o->uid_len);
		}
		free(k->value);
		k->value = NULL;
		k->live = o->rec != NULL;
		k->mod_rev = m->rev;
		k->len = o->rec_len;
		if (o->rec != NULL) {
			k->value = malloc(o->rec_len);
			assert_non_null(k->value);
			memcpy(k->value, o->rec, o->rec_len);
		}
		memcpy(e->uid, o->uid, o->uid_len);
		e->deleted = o->rec == NULL;
		e->rev = m->rev;
		e->len = o->rec_len;
		e->value = NULL;
		if (o->rec != NULL) {
			e->value = malloc(o->rec_len);
			assert_non_null(e->value);
			memcpy(e->value, o->rec, o->rec_len);
		}
	}
	return true;
}

/* What a failed change set reported. */
struct report {
	unsigned n;
	uint64_t owners[16];
	char uids[16][STORE_UID_MAX + 1];
	const char *reasons[16];
};

static void
on_fail(void *arg, uint64_t owner, uint32_t item, const char *uid, const char *reason)
{
	struct report *r = arg;

	(void)item;
	assert_true(r->n < 16);
	r->owners[r->n] = owner;
	snprintf(r->uids[r->n], sizeof(r->uids[0]), "%s", uid);
	r->reasons[r->n] = reason;
	r->n++;
}

/* Sends node's group through the model with limits; the failures go into r. */
static void
replicate(struct fx *f, int node, size_t max_ops, size_t max_bytes, struct report *r)
{
	struct store_rgroup *g;
	struct store_rtxn t;
	struct store_rcur cur[256];
	size_t ncur;

	memset(r, 0, sizeof(*r));
	assert_int_equal(store_repl_take(f->n[node].s, &g), STORE_OK);
	if (g == NULL)
		return;
	for (;;) {
		assert_int_equal(store_repl_next(g, max_ops, max_bytes, &t), STORE_OK);
		if (t.nops == 0)
			break;
		assert_true(t.nops <= max_ops && t.ncmps <= max_ops);
		if (model_txn(&f->m, &t, cur, &ncur))
			store_repl_committed(g, f->m.rev);
		else
			store_repl_conflict(g, cur, ncur);
	}
	store_repl_finish(f->n[node].s, g, on_fail, r);
}

/* Applies the model's events a node has not seen, in batches of batch (0: all at once). */
static void
catch_up(struct fx *f, int node, size_t batch)
{
	struct store_revent ev[MAX_EVENTS];
	struct node *n = &f->n[node];
	uint64_t bad = 0, through, applied;
	size_t i, k;

	while (n->applied_ev < f->m.nev) {
		k = 0;
		for (i = n->applied_ev; i < f->m.nev && (batch == 0 || k < batch); i++, k++) {
			memset(&ev[k], 0, sizeof(ev[k]));
			ev[k].kind = STORE_R_OBJECT;
			ev[k].uid = f->m.ev[i].uid;
			ev[k].uid_len = strlen(f->m.ev[i].uid);
			ev[k].value = f->m.ev[i].value;
			ev[k].value_len = f->m.ev[i].len;
			ev[k].deleted = f->m.ev[i].deleted;
			ev[k].mod_rev = f->m.ev[i].rev;
		}
		/* Every revision below the next event's is complete (the watch's rule). */
		through = i < f->m.nev ? f->m.ev[i].rev - 1 : f->m.ev[i - 1].rev;
		assert_int_equal(store_repl_apply(n->s, ev, k, through, &bad), STORE_OK);
		assert_int_equal(bad, 0);
		n->applied_ev = i;
	}
	assert_int_equal(store_repl_applied(n->s, &applied), STORE_OK);
	assert_int_equal(applied, f->m.rev);
}

static int
open_node(struct node *n, bool replica, char **cause)
{
	struct store_options o;
	char path[96];

	snprintf(path, sizeof(path), "%s/db", n->dir);
	store_options_init(&o);
	o.master = util_store_master_key();
	o.path = path;
	o.replica = replica;
	return store_open(&o, &n->s, cause);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *cause = NULL;

	if (f == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (util_mkdtemp(f->n[i].dir, sizeof(f->n[i].dir), NULL, "test_replica") != 0 ||
		    open_node(&f->n[i], true, &cause) != STORE_OK) {
			fprintf(stderr, "setup: %s\n", cause != NULL ? cause : "mkdtemp");
			free(cause);
			return -1;
		}
	}
	/* Revision 1: node 0's keyring, which every node adopts (their own data key 1 is another key). */
	{
		struct store_revent ev = { .kind = STORE_R_KEYRING, .mod_rev = 1 };
		uint8_t *kr = NULL;
		uint64_t bad = 0;
		size_t len = 0;

		if (store_repl_keyring(f->n[0].s, &kr, &len) != STORE_OK)
			return -1;
		ev.value = kr;
		ev.value_len = len;
		for (int i = 0; i < 3; i++)
			if (store_repl_apply(f->n[i].s, &ev, 1, 1, &bad) != STORE_OK)
				return -1;
		free(kr);
		f->m.rev = 1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 3; i++) {
		store_close(f->n[i].s);
		util_rmtree(f->n[i].dir);
	}
	for (size_t i = 0; i < f->m.nkv; i++)
		free(f->m.kv[i].value);
	for (size_t i = 0; i < f->m.nev; i++)
		free(f->m.ev[i].value);
	free(f);
	return 0;
}

/* Stages one change set on a node for owner: a new object (uid) or a new state of an existing one. */
static void
stage(struct fx *f, int node, uint64_t owner, const char *uid, uint32_t state, size_t material)
{
	struct store *s = f->n[node].s;
	struct store_object *o = store_object_new();
	struct store_txn *t;
	uint8_t *mat = NULL;

	assert_non_null(o);
	assert_int_equal(store_object_set(o, uid, "alice", OT_SYMMETRIC, state), STORE_OK);
	if (material > 0) {
		assert_non_null(mat = calloc(1, material));
		o->material = mat;
		o->material_len = material;
	}
	store_set_owner(s, owner, 0);
	assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	store_set_owner(s, 0, 0);
	store_object_free(o);
	free(mat);
}

/* The state of uid on a node (0: absent). */
static uint32_t
state_of(struct fx *f, int node, const char *uid)
{
	struct store_object *o = NULL;
	struct store_txn *t;
	uint32_t st = 0;
	int rc;

	assert_int_equal(store_txn_begin(f->n[node].s, false, &t), STORE_OK);
	rc = store_get(t, uid, &o);
	if (rc == STORE_OK)
		st = o->state;
	else if (rc != STORE_E_NOTFOUND)
		fail_msg("store_get %s on node %d: %s (%s)", uid, node, store_strerror(rc), store_last_error(f->n[node].s));
	store_object_free(o);
	store_txn_abort(t);
	return st;
}

/* Writes made on one node reach another through the log, and the other's changes come back. */
static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	struct report r;

	stage(f, 0, 1, "k1", ST_PREACTIVE, 32);
	stage(f, 0, 2, "k2", ST_PREACTIVE, 32);
	/* Nothing reaches LMDB before etcd committed it. */
	assert_int_equal(store_group_commit(f->n[0].s, NULL, NULL), STORE_E_INVALID);
	replicate(f, 0, 128, 1 << 20, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(f->m.txns, 1);
	assert_int_equal(state_of(f, 0, "k1"), 0);	/* applied only from the log */
	catch_up(f, 0, 0);
	catch_up(f, 1, 0);
	assert_int_equal(state_of(f, 0, "k1"), ST_PREACTIVE);
	assert_int_equal(state_of(f, 1, "k2"), ST_PREACTIVE);
	/* Node 1 changes k1 on top of what it applied; node 0 sees it. */
	stage(f, 1, 3, "k1", ST_ACTIVE, 32);
	replicate(f, 1, 128, 1 << 20, &r);
	assert_int_equal(r.n, 0);
	catch_up(f, 0, 0);
	catch_up(f, 1, 0);
	assert_int_equal(state_of(f, 0, "k1"), ST_ACTIVE);
	assert_int_equal(state_of(f, 1, "k1"), ST_ACTIVE);
}

/* Two nodes change one object from the same revision: one wins; the loser's other change set still goes. */
static void
test_conflict_one_winner(void **state)
{
	struct fx *f = *state;
	struct report r;

	stage(f, 0, 1, "x", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 0, 0);
	catch_up(f, 1, 0);
	stage(f, 0, 10, "x", ST_ACTIVE, 16);
	stage(f, 1, 20, "x", ST_ACTIVE, 16);
	stage(f, 1, 21, "y", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	assert_int_equal(r.n, 0);
	replicate(f, 1, 128, 1 << 20, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.owners[0], 20);
	assert_string_equal(r.uids[0], "x");
	assert_null(r.reasons[0]);		/* a conflict: "changed by another writer" */
	catch_up(f, 0, 0);
	catch_up(f, 1, 0);
	assert_int_equal(state_of(f, 1, "y"), ST_PREACTIVE);
	assert_int_equal(state_of(f, 0, "y"), ST_PREACTIVE);
}

/* A change set built on a write that lost fails with it; an independent one does not. */
static void
test_dependent_fails(void **state)
{
	struct fx *f = *state;
	struct report r;

	stage(f, 0, 1, "x", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 0, 0);
	catch_up(f, 1, 0);
	stage(f, 0, 10, "x", ST_ACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	/* Node 1 has not applied that: its first change of x conflicts, the second builds on the first. */
	stage(f, 1, 20, "x", ST_ACTIVE, 16);
	stage(f, 1, 21, "x", ST_PREACTIVE, 24);
	stage(f, 1, 22, "z", ST_PREACTIVE, 16);
	replicate(f, 1, 128, 1 << 20, &r);
	/* 20 and 21 (21 twice: its own change set, and as a reader of 20's write), never 22. */
	{
		bool saw20 = false, saw21 = false;

		for (unsigned i = 0; i < r.n; i++) {
			assert_true(r.owners[i] == 20 || r.owners[i] == 21);
			saw20 |= r.owners[i] == 20;
			saw21 |= r.owners[i] == 21;
		}
		assert_true(saw20 && saw21);
	}
	catch_up(f, 1, 0);
	assert_int_equal(state_of(f, 1, "x"), ST_ACTIVE);	/* node 0's write, not a silent overwrite */
	assert_int_equal(state_of(f, 1, "z"), ST_PREACTIVE);
}

/* A group larger than a transaction goes in several, in order; a change set too large alone fails. */
static void
test_split_and_too_large(void **state)
{
	struct fx *f = *state;
	struct report r;
	char uid[16];

	for (int i = 0; i < 10; i++) {
		snprintf(uid, sizeof(uid), "s%d", i);
		stage(f, 0, (uint64_t)(100 + i), uid, ST_PREACTIVE, 16);
	}
	stage(f, 0, 200, "s0", ST_ACTIVE, 16);		/* on top of s0, staged in the first transaction */
	stage(f, 0, 300, "big", ST_PREACTIVE, 64 * 1024);
	replicate(f, 0, 4, 32 * 1024, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.owners[0], 300);
	assert_string_equal(r.reasons[0], STORE_REPL_TOO_LARGE);
	assert_true(f->m.txns >= 3);
	catch_up(f, 2, 3);	/* in batches that cut revisions */
	for (int i = 0; i < 10; i++) {
		snprintf(uid, sizeof(uid), "s%d", i);
		assert_int_equal(state_of(f, 2, uid), i == 0 ? ST_ACTIVE : ST_PREACTIVE);
	}
	assert_int_equal(state_of(f, 2, "big"), 0);
}

/* Events at or below the applied revision change nothing: an older copy never replaces a newer one. */
static void
test_apply_idempotent(void **state)
{
	struct fx *f = *state;
	struct report r;
	struct store_revent ev;
	uint64_t bad = 0;

	stage(f, 0, 1, "x", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 0, 0);
	stage(f, 0, 2, "x", ST_ACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	assert_int_equal(r.n, 0);
	catch_up(f, 1, 0);
	assert_int_equal(state_of(f, 1, "x"), ST_ACTIVE);
	/* The first event again (a watch started over): x stays Active. */
	memset(&ev, 0, sizeof(ev));
	ev.kind = STORE_R_OBJECT;
	ev.uid = f->m.ev[0].uid;
	ev.uid_len = strlen(ev.uid);
	ev.value = f->m.ev[0].value;
	ev.value_len = f->m.ev[0].len;
	ev.mod_rev = f->m.ev[0].rev;
	assert_int_equal(store_repl_apply(f->n[1].s, &ev, 1, ev.mod_rev, &bad), STORE_OK);
	assert_int_equal(state_of(f, 1, "x"), ST_ACTIVE);
	/* A record under another object's key is not applied. */
	ev.uid = "y";
	ev.uid_len = 1;
	ev.mod_rev = f->m.rev + 1;
	assert_int_equal(store_repl_apply(f->n[1].s, &ev, 1, ev.mod_rev, &bad), STORE_OK);
	assert_int_equal(bad, 1);
	assert_int_equal(state_of(f, 1, "y"), 0);
}

/* A resynchronisation removes what the range lacks, replaces what is older, keeps what is newer. */
static void
test_resync(void **state)
{
	struct fx *f = *state;
	struct store_revent kv[8];
	struct report r;
	uint64_t bad = 0, applied;
	size_t n = 0;

	stage(f, 0, 1, "a", ST_PREACTIVE, 16);
	stage(f, 0, 2, "b", ST_PREACTIVE, 16);
	stage(f, 0, 3, "c", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 1, 0);
	/* etcd moves on without node 1: b changes, c goes, d comes (etcd's history compacted meanwhile). */
	catch_up(f, 0, 0);
	stage(f, 0, 4, "b", ST_ACTIVE, 16);
	stage(f, 0, 5, "d", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 0, 0);
	{
		struct store_txn *t;

		assert_int_equal(store_txn_begin(f->n[0].s, true, &t), STORE_OK);
		assert_int_equal(store_delete(t, "c"), STORE_OK);
		assert_int_equal(store_txn_commit(t), STORE_OK);
	}
	replicate(f, 0, 128, 1 << 20, &r);
	assert_int_equal(r.n, 0);
	/* The range at the current revision, in two pages: {a, b} then {d}. */
	for (size_t i = 0; i < f->m.nkv; i++) {
		if (!f->m.kv[i].live)
			continue;
		memset(&kv[n], 0, sizeof(kv[n]));
		kv[n].kind = STORE_R_OBJECT;
		kv[n].uid = f->m.kv[i].uid;
		kv[n].uid_len = strlen(f->m.kv[i].uid);
		kv[n].value = f->m.kv[i].value;
		kv[n].value_len = f->m.kv[i].len;
		kv[n].mod_rev = f->m.kv[i].mod_rev;
		n++;
	}
	assert_int_equal(n, 3);		/* a, b, d in key order */
	assert_int_equal(store_repl_resync(f->n[1].s, kv, 2, "", 0, false, f->m.rev, &bad), STORE_OK);
	assert_int_equal(store_repl_applied(f->n[1].s, &applied), STORE_OK);
	assert_int_not_equal(applied, f->m.rev);	/* not before the last page */
	assert_int_equal(store_repl_resync(f->n[1].s, kv + 2, 1, "b", 1, true, f->m.rev, &bad), STORE_OK);
	assert_int_equal(store_repl_applied(f->n[1].s, &applied), STORE_OK);
	assert_int_equal(applied, f->m.rev);
	assert_int_equal(state_of(f, 1, "a"), ST_PREACTIVE);
	assert_int_equal(state_of(f, 1, "b"), ST_ACTIVE);
	assert_int_equal(state_of(f, 1, "c"), 0);
	assert_int_equal(state_of(f, 1, "d"), ST_PREACTIVE);
}

/* A cluster node's store opens writable only as one, and a store with objects of its own never becomes one. */
static void
test_replica_store_kind(void **state)
{
	struct fx *f = *state;
	struct report r;
	char *cause = NULL;

	stage(f, 0, 1, "a", ST_PREACTIVE, 16);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 0, 0);
	store_close(f->n[0].s);
	f->n[0].s = NULL;
	assert_int_not_equal(open_node(&f->n[0], false, &cause), STORE_OK);
	assert_non_null(strstr(cause, "cluster node's copy"));
	free(cause);
	cause = NULL;
	assert_int_equal(open_node(&f->n[0], true, &cause), STORE_OK);
	/* Node 2 as a single machine's store with an object: refused as a replica. */
	store_close(f->n[2].s);
	f->n[2].s = NULL;
	util_rmtree(f->n[2].dir);
	assert_int_equal(util_mkdtemp(f->n[2].dir, sizeof(f->n[2].dir), NULL, "test_replica"), 0);
	assert_int_equal(open_node(&f->n[2], false, &cause), STORE_OK);
	{
		struct store_object *o = store_object_new();
		struct store_txn *t;

		assert_non_null(o);
		assert_int_equal(store_object_set(o, "own", "bob", OT_SYMMETRIC, ST_PREACTIVE), STORE_OK);
		assert_int_equal(store_txn_begin(f->n[2].s, true, &t), STORE_OK);
		assert_int_equal(store_put(t, o), STORE_OK);
		assert_int_equal(store_txn_commit(t), STORE_OK);
		assert_int_equal(store_group_commit(f->n[2].s, NULL, NULL), STORE_OK);
		store_object_free(o);
	}
	store_close(f->n[2].s);
	f->n[2].s = NULL;
	assert_int_not_equal(open_node(&f->n[2], true, &cause), STORE_OK);
	assert_non_null(strstr(cause, "holds objects of its own"));
	free(cause);
	cause = NULL;
	assert_int_equal(open_node(&f->n[2], false, &cause), STORE_OK);
}

/* A cluster node's backup restores as a single machine's store: writable without etcd, every object there. */
static void
test_backup_restores_single(void **state)
{
	struct fx *f = *state;
	struct store_backup_info info;
	struct report r;
	char file[160], restored[160], *cause = NULL;
	uint64_t present = 0;
	struct node single;

	stage(f, 0, 1, "a", ST_PREACTIVE, 32);
	stage(f, 0, 2, "b", ST_PREACTIVE, 32);
	replicate(f, 0, 128, 1 << 20, &r);
	catch_up(f, 1, 0);
	snprintf(file, sizeof(file), "%s/backup.mdb", f->n[2].dir);
	snprintf(restored, sizeof(restored), "%s/db", f->n[2].dir);
	store_close(f->n[2].s);		/* node 2's folder takes the restore */
	f->n[2].s = NULL;
	util_rmtree(restored);
	{
		char path[96];

		snprintf(path, sizeof(path), "%s/db", f->n[1].dir);
		if (store_backup_file(path, file, NULL, NULL, &info, &cause) != STORE_OK)
			fail_msg("backup: %s", cause);
	}
	assert_int_equal(info.objects, 2);
	if (store_restore(file, restored, NULL, NULL, &present, &info, &cause) != STORE_OK)
		fail_msg("restore: %s", cause);
	assert_true(info.was_replica);
	memset(&single, 0, sizeof(single));
	snprintf(single.dir, sizeof(single.dir), "%s", f->n[2].dir);
	if (open_node(&single, false, &cause) != STORE_OK)
		fail_msg("a single machine's open of the restored store: %s", cause);
	f->n[2].s = single.s;
	assert_int_equal(state_of(f, 2, "a"), ST_PREACTIVE);
	assert_int_equal(state_of(f, 2, "b"), ST_PREACTIVE);
	/* and it writes, as a single machine does */
	stage(f, 2, 3, "c", ST_PREACTIVE, 32);
	assert_int_equal(store_group_commit(f->n[2].s, NULL, NULL), STORE_OK);
	assert_int_equal(state_of(f, 2, "c"), ST_PREACTIVE);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_one_winner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dependent_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_and_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replica_store_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restores_single, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
