/*
 * Unit tests of one store opened by several processes at once, as kmipd's workers will: each process
 * opens the LMDB environment itself after the fork, stages writes and applies them at its group commit.
 * Creations interleaved, one object edited by both, a quota, a map growth, a data key rotation, a
 * process killed inside a read. Each test gets its own temporary folder; the parent opens its store
 * before forking and never lets the child touch it (a child opens its own). A child reports through its
 * exit status (0: every check held, else the number of the check that failed) and its pipes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define OT_SYMMETRIC	2u
#define ST_ACTIVE	2u
#define CREATES		150	/* per process, in the interleaved test */

struct fx {
	char dir[64];
	char path[96];
	struct store *s;
	struct store_options o;
};

/* A child process and the pipes to it: to_child (parent writes), from_child (parent reads). */
struct child {
	pid_t pid;
	int to_child, from_child;
};

static int
setup_map(void **state, size_t map, size_t max)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *cause = NULL;

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_store_procs") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	store_options_init(&f->o);
	f->o.master = util_store_master_key();
	f->o.path = f->path;
	if (map != 0) {
		f->o.map_size = map;
		f->o.max_map_size = max;
	}
	if (store_open(&f->o, &f->s, &cause) != STORE_OK) {
		fprintf(stderr, "store_open: %s\n", cause != NULL ? cause : "?");
		free(cause);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_map(state, 0, 0);
}

/* A 1 MiB map that may grow to 64 MiB: the other process's growth reaches past this one's map. */
static int
setup_small(void **state)
{
	return setup_map(state, (size_t)1 << 20, (size_t)64 << 20);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	util_rmtree(f->dir);
	free(f);
	return 0;
}

/* Writes one byte (a step of the choreography). */
static void
say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		abort();
}

/* Reads one byte; -1 at end of file. */
static int
hear(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? (unsigned char)c : -1;
}

/* Forks a child running fn(f, from_parent, to_parent); fn's return is its exit status. */
static void
spawn(struct fx *f, int (*fn)(struct fx *f, int in, int out), struct child *c)
{
	int down[2], up[2];

	assert_int_equal(pipe(down), 0);
	assert_int_equal(pipe(up), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		/* A child stuck on the writer lock or a pipe must not hang the suite. */
		alarm(20);
		signal(SIGALRM, SIG_DFL);
		close(down[1]);
		close(up[0]);
		_exit(fn(f, down[0], up[1]));
	}
	close(down[0]);
	close(up[1]);
	c->to_child = down[1];
	c->from_child = up[0];
}

/* Waits for the child; its exit status (128 + signal when killed). */
static int
reap(struct child *c)
{
	int status;

	close(c->to_child);
	close(c->from_child);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The child's own store, opened after the fork with the parent's options; NULL on failure. */
static struct store *
child_open(struct fx *f)
{
	struct store *s = NULL;
	char *cause = NULL;

	if (store_open(&f->o, &s, &cause) != STORE_OK) {
		fprintf(stderr, "child store_open: %s\n", cause != NULL ? cause : "?");
		free(cause);
		return NULL;
	}
	return s;
}

/* An object of owner named name with 32 bytes of material (sealed under the current data key). */
static struct store_object *
object(const char *uid, const char *owner, const char *name)
{
	struct store_object *o = store_object_new();
	uint8_t key[32];
	struct ttlv *n;

	if (o == NULL)
		return NULL;
	memset(key, 0x5a, sizeof(key));
	if (store_object_set(o, uid, owner, OT_SYMMETRIC, ST_ACTIVE) != STORE_OK ||
	    store_object_set_material(o, key, sizeof(key), 1) != STORE_OK) {
		store_object_free(o);
		return NULL;
	}
	n = ttlv_new_struct(o->arena, KMIP_TAG_NAME);
	ttlv_append(n, ttlv_new_text(o->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(n, ttlv_new_enum(o->arena, KMIP_TAG_NAME_TYPE, 1));
	ttlv_append(o->attrs, n);
	return o;
}

/*
 * Stages a new object (a write transaction committed into the group) and, with limit, holds it to a quota
 * of limit objects for owner as ops_commit does; its uid in uid (uid given: that one). 0 or a store error.
 */
static int
stage_create(struct store *s, const char *owner, const char *name, uint64_t limit, char uid[STORE_UID_MAX + 1])
{
	struct store_object *o;
	struct store_txn *t;
	int rc;

	store_set_owner(s, 1, 0);	/* a conflict is reported to an owner: "request 1" */
	if ((rc = store_txn_begin(s, true, &t)) != STORE_OK)
		return rc;
	if (uid[0] == '\0' && (rc = store_new_uid(t, uid, STORE_UID_MAX + 1)) != STORE_OK)
		goto fail;
	if ((o = object(uid, owner, name)) == NULL) {
		rc = STORE_E_NOMEM;
		goto fail;
	}
	rc = store_put(t, o);
	store_object_free(o);
	if (rc != STORE_OK || (limit != 0 && (rc = store_txn_usage_limit(t, owner, limit, 0)) != STORE_OK))
		goto fail;
	return store_txn_commit(t);
fail:
	store_txn_abort(t);
	return rc;
}

/*
 * Stages a new name for uid (read, changed, written back in one write transaction); best_effort makes the
 * write one that is dropped quietly if the object changed meanwhile (store_txn_best_effort).
 */
static int
stage_rename_as(struct store *s, const char *uid, const char *name, bool best_effort)
{
	struct store_object *o = NULL;
	struct store_txn *t;
	struct ttlv *n;
	int rc;

	store_set_owner(s, 1, 0);
	if ((rc = store_txn_begin(s, true, &t)) != STORE_OK)
		return rc;
	if (best_effort && (rc = store_txn_best_effort(t)) != STORE_OK)
		goto fail;
	if ((rc = store_get(t, uid, &o)) != STORE_OK)
		goto fail;
	(void)ttlv_remove(o->attrs, KMIP_TAG_NAME, -1);
	n = ttlv_new_struct(o->arena, KMIP_TAG_NAME);
	ttlv_append(n, ttlv_new_text(o->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(n, ttlv_new_enum(o->arena, KMIP_TAG_NAME_TYPE, 1));
	ttlv_append(o->attrs, n);
	if ((rc = store_put(t, o)) != STORE_OK)
		goto fail;
	store_object_free(o);
	return store_txn_commit(t);
fail:
	store_object_free(o);
	store_txn_abort(t);
	return rc;
}

static int
stage_rename(struct store *s, const char *uid, const char *name)
{
	return stage_rename_as(s, uid, name, false);
}

/* The name of uid with its material opened ("" when absent or unreadable). */
static const char *
name_of(struct store *s, const char *uid)
{
	static char buf[128];
	const struct ttlv *n, *v;
	struct store_object *o = NULL;
	struct store_txn *t;

	buf[0] = '\0';
	if (store_txn_begin(s, false, &t) != STORE_OK)
		return buf;
	if (store_get(t, uid, &o) == STORE_OK && o->material_len == 32 &&
	    (n = ttlv_find(o->attrs, KMIP_TAG_NAME)) != NULL && (v = ttlv_find(n, KMIP_TAG_NAME_VALUE)) != NULL)
		snprintf(buf, sizeof(buf), "%.*s", (int)v->length, (const char *)v->v.bytes.data);
	store_txn_abort(t);
	store_object_free(o);
	return buf;
}

/* Counts the change sets a group commit skipped. */
static void
count_conflict(void *arg, uint64_t owner, uint32_t item, const char *uid)
{
	(void)owner;
	(void)item;
	(void)uid;
	++*(unsigned *)arg;
}

/* The uids one process created, in a file the other reads. */
static int
creates(struct store *s, const char *who, FILE *out)
{
	char uid[STORE_UID_MAX + 1], name[32];
	int i;

	for (i = 0; i < CREATES; i++) {
		uid[0] = '\0';
		snprintf(name, sizeof(name), "%s-%d", who, i);
		if (stage_create(s, who, name, 0, uid) != STORE_OK)
			return 1;
		fprintf(out, "%s %s\n", uid, name);
		/* Groups of 1 to 3 writes, so that the two processes' commits interleave finely. */
		if (i % 3 == 2 && store_group_commit(s, NULL, NULL) != STORE_OK)
			return 2;
	}
	return store_group_commit(s, NULL, NULL) == STORE_OK ? 0 : 3;
}

static int
child_creates(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char path[160];
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/child.uids", f->dir);
	if (s == NULL || (fp = fopen(path, "w")) == NULL)
		return 10;
	say(out, 'r');			/* open: go */
	if (hear(in) != 'g')
		return 11;
	rc = creates(s, "child", fp);
	fclose(fp);
	store_close(s);
	return rc;
}

/*
 * Two processes create at once, in small groups: every object of both is there once, under the name its
 * creator gave, with its own creation sequence (no two alike), and the usage counters count them all.
 */
static void
test_interleaved_creates(void **state)
{
	struct fx *f = *state;
	uint64_t seqs[2 * CREATES], seq;
	char path[160], line[256], uid[STORE_UID_MAX + 1], name[64];
	struct store_usage u;
	struct store_txn *t;
	struct child c;
	FILE *fp;
	size_t n = 0, i, j;

	snprintf(path, sizeof(path), "%s/parent.uids", f->dir);
	spawn(f, child_creates, &c);
	assert_int_equal(hear(c.from_child), 'r');
	assert_non_null(fp = fopen(path, "w"));
	say(c.to_child, 'g');
	assert_int_equal(creates(f->s, "parent", fp), 0);
	fclose(fp);
	assert_int_equal(reap(&c), 0);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.uids", f->dir, i == 0 ? "parent" : "child");
		assert_non_null(fp = fopen(path, "r"));
		while (fgets(line, sizeof(line), fp) != NULL) {
			assert_int_equal(sscanf(line, "%64s %63s", uid, name), 2);
			assert_int_equal(store_created_seq(t, uid, &seq), STORE_OK);
			assert_true(n < 2 * CREATES);
			seqs[n++] = seq;
		}
		fclose(fp);
	}
	assert_int_equal(n, 2 * CREATES);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			assert_true(seqs[i] != seqs[j]);
	assert_int_equal(store_usage_get(t, "parent", &u), STORE_OK);
	assert_int_equal(u.objects, CREATES);
	assert_int_equal(store_usage_get(t, "child", &u), STORE_OK);
	assert_int_equal(u.objects, CREATES);
	store_txn_abort(t);
	/* Every one readable by name from this process (the child's sealed under the same data key). */
	snprintf(path, sizeof(path), "%s/child.uids", f->dir);
	assert_non_null(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		assert_int_equal(sscanf(line, "%64s %63s", uid, name), 2);
		assert_string_equal(name_of(f->s, uid), name);
	}
	fclose(fp);
}

static int
child_creates_three(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char uid[STORE_UID_MAX + 1];
	int i;

	(void)in;
	if (s == NULL)
		return 10;
	for (i = 0; i < 3; i++) {
		uid[0] = '\0';
		if (stage_create(s, "child", "c", 0, uid) != STORE_OK)
			return 11;
	}
	if (store_group_commit(s, NULL, NULL) != STORE_OK)
		return 12;
	say(out, 'd');
	store_close(s);
	return 0;
}

/*
 * A creation staged after another process committed some sorts above them (newest first) while it waits
 * for its group commit: its provisional sequence is above every durable one its snapshot holds.
 */
static void
test_provisional_sequence_above_others(void **state)
{
	struct fx *f = *state;
	char a[STORE_UID_MAX + 1] = "", b[STORE_UID_MAX + 1] = "";
	struct store_query q;
	struct store_txn *t;
	struct child c;
	uint64_t sa, sb;
	char **uids = NULL;
	size_t n = 0;

	assert_int_equal(stage_create(f->s, "parent", "first", 0, a), STORE_OK);
	spawn(f, child_creates_three, &c);
	assert_int_equal(hear(c.from_child), 'd');
	assert_int_equal(reap(&c), 0);
	assert_int_equal(stage_create(f->s, "parent", "second", 0, b), STORE_OK);
	memset(&q, 0, sizeof(q));
	q.is_admin = true;
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_created_seq(t, a, &sa), STORE_OK);
	assert_int_equal(store_created_seq(t, b, &sb), STORE_OK);
	assert_true(sb > sa);
	assert_true(sb > 3);	/* the child's three hold 1 to 3 */
	assert_int_equal(store_locate(t, &q, &uids, &n, NULL), STORE_OK);
	assert_int_equal(n, 5);
	assert_string_equal(uids[0], b);
	store_uids_free(uids, n);
	store_txn_abort(t);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_created_seq(t, a, &sa), STORE_OK);
	assert_int_equal(store_created_seq(t, b, &sb), STORE_OK);
	assert_true(sa == 4 && sb == 5);	/* final: drawn at the commit, after the child's */
	store_txn_abort(t);
}

static int
child_edits(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	unsigned conflicts = 0;
	char uid[STORE_UID_MAX + 1];
	ssize_t r;

	if (s == NULL)
		return 10;
	if ((r = read(in, uid, sizeof(uid))) <= 0 || uid[r - 1] != '\0')
		return 11;
	if (stage_rename(s, uid, "child") != STORE_OK)
		return 12;
	say(out, 's');			/* staged */
	if (hear(in) != 'c')		/* both commit now */
		return 13;
	if (store_group_commit(s, count_conflict, &conflicts) != STORE_OK)
		return 14;
	say(out, conflicts == 0 ? 'w' : 'l');
	store_close(s);
	return 0;
}

/*
 * Both processes read one object, change it and commit at once: exactly one wins, the other's change is
 * a conflict reported at its group commit (never a silent overwrite), whichever commits first.
 */
static void
test_concurrent_edits_one_wins(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1] = "";
	unsigned conflicts, round, parent_wins = 0, child_wins = 0;
	struct child c;
	int verdict;

	assert_int_equal(stage_create(f->s, "alice", "start", 0, uid), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	for (round = 0; round < 6; round++) {
		spawn(f, child_edits, &c);
		assert_int_equal(write(c.to_child, uid, strlen(uid) + 1), (ssize_t)strlen(uid) + 1);
		assert_int_equal(stage_rename(f->s, uid, "parent"), STORE_OK);
		assert_int_equal(hear(c.from_child), 's');
		/* Rounds alternate who commits first; the last two commit at the same moment. */
		conflicts = 0;
		if (round % 3 == 0) {
			assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
			say(c.to_child, 'c');
			verdict = hear(c.from_child);
		} else if (round % 3 == 1) {
			say(c.to_child, 'c');
			verdict = hear(c.from_child);
			assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
		} else {
			say(c.to_child, 'c');
			assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
			verdict = hear(c.from_child);
		}
		assert_int_equal(reap(&c), 0);
		assert_true(verdict == 'w' || verdict == 'l');
		/* Exactly one won, and the object holds the winner's change. */
		assert_true((conflicts == 0) != (verdict == 'w'));
		assert_string_equal(name_of(f->s, uid), conflicts == 0 ? "parent" : "child");
		parent_wins += conflicts == 0;
		child_wins += verdict == 'w';
	}
	assert_true(parent_wins >= 2 && child_wins >= 2);	/* first committer wins: 2 each at least */
}

static int
child_quota(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char uid[STORE_UID_MAX + 1] = "";
	unsigned conflicts = 0;
	struct store_usage u;
	struct store_txn *t;

	if (s == NULL)
		return 10;
	/* Admitted as the engine would: the owner has 9, the quota is 10. */
	if (store_txn_begin(s, false, &t) != STORE_OK || store_usage_get(t, "alice", &u) != STORE_OK)
		return 11;
	store_txn_abort(t);
	if (u.objects != 9 || stage_create(s, "alice", "child", 10, uid) != STORE_OK)
		return 12;
	say(out, 's');
	if (hear(in) != 'c')
		return 13;
	if (store_group_commit(s, count_conflict, &conflicts) != STORE_OK)
		return 14;
	say(out, conflicts == 0 ? 'w' : 'l');
	store_close(s);
	return 0;
}

/*
 * A quota of 10 objects, 9 owned: both processes admit one more (each sees 9 plus its own), both commit.
 * The counters of the whole store end at 10: the second commit finds the quota reached and skips its
 * creation as a conflict (sent again, the request is refused by the quota).
 */
static void
test_quota_across_processes(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1];
	unsigned conflicts = 0;
	struct store_usage u;
	struct store_txn *t;
	struct child c;
	int i, verdict;

	for (i = 0; i < 9; i++) {
		uid[0] = '\0';
		assert_int_equal(stage_create(f->s, "alice", "old", 10, uid), STORE_OK);
	}
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	spawn(f, child_quota, &c);
	uid[0] = '\0';
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_usage_get(t, "alice", &u), STORE_OK);
	store_txn_abort(t);
	assert_int_equal(u.objects, 9);
	assert_int_equal(stage_create(f->s, "alice", "parent", 10, uid), STORE_OK);
	assert_int_equal(hear(c.from_child), 's');
	say(c.to_child, 'c');
	verdict = hear(c.from_child);
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(reap(&c), 0);
	assert_int_equal(verdict, 'w');		/* the child committed first */
	assert_int_equal(conflicts, 1);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_usage_get(t, "alice", &u), STORE_OK);
	store_txn_abort(t);
	assert_int_equal(u.objects, 10);
	assert_string_equal(name_of(f->s, uid), "");
}

static int
child_grows(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char uid[STORE_UID_MAX + 1], name[32];
	struct store_stats st;
	int i;

	(void)in;
	if (s == NULL)
		return 10;
	/* About 4 MiB of records in a 1 MiB map: it grows (doubling) at the commits. */
	for (i = 0; i < 1000; i++) {
		static uint8_t fill[4000];
		struct store_object *o;
		struct store_txn *t;

		snprintf(name, sizeof(name), "grow-%d", i);
		if (store_txn_begin(s, true, &t) != STORE_OK || store_new_uid(t, uid, sizeof(uid)) != STORE_OK ||
		    (o = object(uid, "child", name)) == NULL)
			return 11;
		if (store_object_set_material(o, fill, sizeof(fill), 1) != STORE_OK)
			return 12;
		if (store_put(t, o) != STORE_OK || store_txn_commit(t) != STORE_OK)
			return 13;
		store_object_free(o);
		if (i % 50 == 49 && store_group_commit(s, NULL, NULL) != STORE_OK)
			return 14;
	}
	if (store_group_commit(s, NULL, NULL) != STORE_OK || store_stat(s, &st) != STORE_OK)
		return 15;
	if (st.grows == 0 || st.map_size < ((size_t)4 << 20))
		return 16;
	say(out, 'd');
	store_close(s);
	return 0;
}

/*
 * The other process grows the map far past this one's: everything this process does next (statistics,
 * key status, reads, a write and its commit) adopts the larger map instead of failing on MDB_MAP_RESIZED.
 */
static void
test_map_growth_seen_by_other(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1] = "";
	struct store_key_status ks;
	struct store_stats st;
	struct store_usage u;
	struct store_txn *t;
	struct child c;

	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_true(st.map_size <= ((size_t)1 << 20));
	spawn(f, child_grows, &c);
	assert_int_equal(hear(c.from_child), 'd');
	assert_int_equal(reap(&c), 0);
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_int_equal(st.objects, 1000);
	assert_true(st.map_size >= ((size_t)4 << 20));
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_usage_get(t, "child", &u), STORE_OK);
	assert_int_equal(u.objects, 1000);
	store_txn_abort(t);
	assert_int_equal(stage_create(f->s, "parent", "after", 0, uid), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_string_equal(name_of(f->s, uid), "after");
}

static int
child_rotates(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char uid[STORE_UID_MAX + 1] = "", *cause = NULL;
	struct store_key_status ks;

	(void)in;
	if (s == NULL)
		return 10;
	if (store_data_key_new(s, &cause) != STORE_OK)
		return 11;
	if (stage_create(s, "child", "under-2", 0, uid) != STORE_OK || store_group_commit(s, NULL, NULL) != STORE_OK)
		return 12;
	if (store_key_status(s, &ks) != STORE_OK || ks.current_data_key != 2)
		return 13;
	if (write(out, uid, strlen(uid) + 1) != (ssize_t)strlen(uid) + 1)
		return 14;
	store_close(s);
	return 0;
}

/*
 * Another process rotates the data key and seals a record under the new one: this process opens that
 * record, seals its own next writes under the new key, and a data key it adds then comes after the other's
 * (before, it wrote its own copy of the keyring back: the other's key 2 replaced by a different key 2, and
 * the other's record lost).
 */
static void
test_data_key_rotation_seen_by_other(void **state)
{
	struct fx *f = *state;
	char theirs[STORE_UID_MAX + 1], mine[STORE_UID_MAX + 1] = "", *cause = NULL;
	struct store_key_status ks;
	struct child c;
	ssize_t r;

	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_int_equal(ks.current_data_key, 1);
	spawn(f, child_rotates, &c);
	r = read(c.from_child, theirs, sizeof(theirs));
	assert_int_equal(reap(&c), 0);
	assert_true(r > 0 && theirs[r - 1] == '\0');
	/* A data key added here next is added to the keyring as it is now: key 3. */
	assert_int_equal(store_data_key_new(f->s, &cause), STORE_OK);
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_int_equal(ks.current_data_key, 3);
	assert_int_equal(ks.data_keys, 3);
	assert_string_equal(name_of(f->s, theirs), "under-2");
	assert_int_equal(stage_create(f->s, "parent", "under-3", 0, mine), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	/* And from a fresh open, which reads only what the store holds. */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(&f->o, &f->s, &cause), STORE_OK);
	assert_string_equal(name_of(f->s, theirs), "under-2");
	assert_string_equal(name_of(f->s, mine), "under-3");
}

static int
child_reads_a_rotation(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	char uid[STORE_UID_MAX + 1];
	ssize_t r;

	if (s == NULL)
		return 10;
	/* Open before the rotation: the record the parent seals under key 2 names a key it never loaded. */
	say(out, 'o');
	if ((r = read(in, uid, sizeof(uid))) <= 0 || uid[r - 1] != '\0')
		return 11;
	if (strcmp(name_of(s, uid), "under-2") != 0)
		return 12;
	store_close(s);
	return 0;
}

/* A record sealed under a data key another process added after this one opened is opened, not refused. */
static void
test_record_under_unknown_key_opened(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1] = "", *cause = NULL;
	struct child c;

	spawn(f, child_reads_a_rotation, &c);
	assert_int_equal(hear(c.from_child), 'o');
	assert_int_equal(store_data_key_new(f->s, &cause), STORE_OK);
	assert_int_equal(stage_create(f->s, "parent", "under-2", 0, uid), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(write(c.to_child, uid, strlen(uid) + 1), (ssize_t)strlen(uid) + 1);
	assert_int_equal(reap(&c), 0);
}

static int
child_rotates_and_reseals(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	struct store_reseal_progress p;
	char *cause = NULL;
	int rounds = 0;

	(void)in;
	if (s == NULL)
		return 10;
	if (store_data_key_new(s, &cause) != STORE_OK)
		return 11;
	do {
		if (store_reseal(s, 100, &p, &cause) != STORE_OK || store_group_commit(s, NULL, NULL) != STORE_OK)
			return 12;
	} while (!p.done && ++rounds < 100);
	if (!p.done)
		return 13;
	say(out, 'd');
	store_close(s);
	return 0;
}

/*
 * A write staged under data key 1 while another process rotates to key 2, re-encrypts everything and
 * retires key 1: at this process's group commit the record would be sealed under a key the keyring no
 * longer holds, so it is skipped as a conflict (sent again, it is sealed under key 2), never stored
 * unreadable.
 */
static void
test_write_under_retired_key_is_a_conflict(void **state)
{
	struct fx *f = *state;
	char old[STORE_UID_MAX + 1] = "", late[STORE_UID_MAX + 1] = "", again[STORE_UID_MAX + 1] = "";
	struct store_key_status ks;
	unsigned conflicts = 0;
	struct child c;

	assert_int_equal(stage_create(f->s, "parent", "old", 0, old), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(stage_create(f->s, "parent", "late", 0, late), STORE_OK);
	spawn(f, child_rotates_and_reseals, &c);
	assert_int_equal(hear(c.from_child), 'd');
	assert_int_equal(reap(&c), 0);
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 1);
	assert_string_equal(name_of(f->s, late), "");
	assert_string_equal(name_of(f->s, old), "old");
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_int_equal(ks.data_keys, 1);
	assert_int_equal(ks.current_data_key, 2);
	/* Sent again: sealed under key 2 and kept. */
	assert_int_equal(stage_create(f->s, "parent", "again", 0, again), STORE_OK);
	conflicts = 0;
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 0);
	assert_string_equal(name_of(f->s, again), "again");
}

static int
child_reseals_in_steps(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	struct store_reseal_progress p;
	char *cause = NULL;
	bool told = false;
	int rounds = 0;

	if (s == NULL)
		return 10;
	if (store_data_key_new(s, &cause) != STORE_OK)
		return 11;
	/* One record per batch, 16 looked at: the passes take many batches. */
	do {
		if (store_reseal(s, 1, &p, &cause) != STORE_OK || store_group_commit(s, NULL, NULL) != STORE_OK)
			return 12;
		/* The first batch of the second pass (nothing left to reseal): the parent commits now. */
		if (!told && p.resealed == 0 && p.scanned > 0) {
			say(out, 'p');
			if (hear(in) != 'c')
				return 13;
			told = true;
		}
	} while (!p.done && ++rounds < 1000);
	if (!p.done || !told)
		return 14;
	say(out, 'd');
	store_close(s);
	return 0;
}

/*
 * A record staged under data key 1 before another process rotated, committed while that process's
 * re-encryption pass is under way, at a place the pass has gone by: the pass that found nothing is out of
 * date, so key 1 is not retired until a later pass has re-encrypted that record too (before, key 1 was
 * retired and the record could never be opened again).
 */
static void
test_reseal_pass_sees_late_old_key_writes(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1], name[16];
	struct store_key_status ks;
	unsigned conflicts = 0;
	struct child c;
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(uid, sizeof(uid), "b%02d", i);
		snprintf(name, sizeof(name), "b%02d", i);
		assert_int_equal(stage_create(f->s, "parent", name, 0, uid), STORE_OK);
	}
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	snprintf(uid, sizeof(uid), "a0");	/* before every other: the pass goes by it first */
	assert_int_equal(stage_create(f->s, "parent", "a0", 0, uid), STORE_OK);
	spawn(f, child_reseals_in_steps, &c);
	assert_int_equal(hear(c.from_child), 'p');
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 0);		/* key 1 is still in the keyring: kept */
	say(c.to_child, 'c');
	assert_int_equal(hear(c.from_child), 'd');
	assert_int_equal(reap(&c), 0);
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_int_equal(ks.data_keys, 1);
	assert_int_equal(ks.current_data_key, 2);
	assert_string_equal(name_of(f->s, "a0"), "a0");
	assert_string_equal(name_of(f->s, "b39"), "b39");
}

/* A second master key, made in the test's folder and loaded (before any fork: the child inherits it). */
static struct store_kek *
second_master(struct fx *f)
{
	struct store_kek_source src;
	struct store_kek *k = NULL;
	char path[160], *cause = NULL;

	snprintf(path, sizeof(path), "%s/master2.key", f->dir);
	assert_int_equal(store_master_key_create(path, &cause), STORE_OK);
	memset(&src, 0, sizeof(src));
	src.kind = STORE_KEY_FILE;
	src.path = path;
	assert_int_equal(store_kek_load(&src, &k, &cause), STORE_OK);
	return k;
}

/* The child's master key in f->o: the second one, the first named as previous (a rotation). */
static const struct store_kek *rotated_master;

static int
child_rotates_master_then_data_key(struct fx *f, int in, int out)
{
	struct store *s;
	char *cause = NULL;

	(void)in;
	f->o.previous = f->o.master;
	f->o.master = rotated_master;
	if ((s = child_open(f)) == NULL)
		return 10;
	if (store_data_key_new(s, &cause) != STORE_OK)
		return 11;
	say(out, 'd');
	store_close(s);
	return 0;
}

/*
 * The master key rotated by another process (a worker that reloaded first), which then added data key 2
 * under the new master key only: this process, still on the old master key, opens data key 1 as before
 * (kept by its id), cannot open data key 2 and says so (keyring_unopened), and its writes go on under key 1,
 * which the keyring still holds. Reloaded with the new master key, it opens everything.
 */
static void
test_master_rotated_by_other_process(void **state)
{
	struct fx *f = *state;
	char before[STORE_UID_MAX + 1] = "", during[STORE_UID_MAX + 1] = "", after[STORE_UID_MAX + 1] = "";
	struct store_key_status ks;
	unsigned conflicts = 0;
	struct store_kek *m2 = second_master(f);
	char *cause = NULL;
	struct child c;

	assert_int_equal(stage_create(f->s, "parent", "before", 0, before), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	rotated_master = m2;
	spawn(f, child_rotates_master_then_data_key, &c);
	assert_int_equal(hear(c.from_child), 'd');
	assert_int_equal(reap(&c), 0);
	assert_int_equal(stage_create(f->s, "parent", "during", 0, during), STORE_OK);
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 0);
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_true(ks.keyring_unopened);
	assert_string_equal(name_of(f->s, before), "before");
	assert_string_equal(name_of(f->s, during), "during");
	/* The reload (SIGHUP with the new master key): everything opens, and writes go under key 2. */
	assert_int_equal(store_keys_reload(f->s, m2, NULL, &cause), STORE_OK);
	f->o.master = m2;
	assert_int_equal(store_key_status(f->s, &ks), STORE_OK);
	assert_false(ks.keyring_unopened);
	assert_int_equal(ks.current_data_key, 2);
	assert_int_equal(stage_create(f->s, "parent", "after", 0, after), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(&f->o, &f->s, &cause), STORE_OK);
	assert_string_equal(name_of(f->s, before), "before");
	assert_string_equal(name_of(f->s, during), "during");
	assert_string_equal(name_of(f->s, after), "after");
	store_close(f->s);
	f->s = NULL;
	/* The old master key opens nothing any more: the rotation dropped its wraps. */
	f->o.master = util_store_master_key();
	assert_int_equal(store_open(&f->o, &f->s, &cause), STORE_E_INVALID);
	assert_null(f->s);
	free(cause);
	store_kek_free(m2);
}

static int
child_holds_writer_lock(struct fx *f, int in, int out)
{
	MDB_env *env;
	MDB_txn *txn;

	(void)in;
	/* LMDB itself, as a worker in the middle of its group commit: the writer lock taken, then killed. */
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
	    mdb_env_open(env, f->path, MDB_NOTLS, 0600) != 0 || mdb_txn_begin(env, NULL, 0, &txn) != 0)
		return 10;
	say(out, 'w');
	pause();
	return 11;
}

/*
 * A process killed while it holds the writer lock (SIGKILL in the middle of a group commit) does not wedge
 * the others: LMDB's lock is a robust mutex, the next writer takes it over (what it had written is gone,
 * never half-applied), and its commit goes through, counted as a wait.
 */
static void
test_writer_killed_holding_the_lock(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1] = "";
	struct store_lock_stats ls;
	unsigned conflicts = 0;
	struct child c;

	assert_int_equal(stage_create(f->s, "parent", "mine", 0, uid), STORE_OK);
	spawn(f, child_holds_writer_lock, &c);
	assert_int_equal(hear(c.from_child), 'w');
	assert_int_equal(kill(c.pid, SIGKILL), 0);
	assert_int_equal(reap(&c), 128 + SIGKILL);
	alarm(10);		/* a wedged lock would hang here: fail instead */
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	alarm(0);
	assert_int_equal(conflicts, 0);
	assert_string_equal(name_of(f->s, uid), "mine");
	store_lock_stats(f->s, &ls);
	assert_true(ls.taken >= 1);
}

static int
child_reads_forever(struct fx *f, int in, int out)
{
	struct store *s = child_open(f);
	struct store_txn *t;

	(void)in;
	if (s == NULL || store_txn_begin(s, false, &t) != STORE_OK)
		return 10;
	say(out, 'r');
	pause();
	return 11;
}

/* As the master: a process without the store open checks it; the slots it cleared go up the pipe. */
static int
child_checks_readers(struct fx *f, int in, int out)
{
	char *cause = NULL;
	int dead = -1, again = -1;

	(void)in;
	if (store_reader_check(f->path, &dead, &cause) != STORE_OK ||
	    store_reader_check(f->path, &again, &cause) != STORE_OK || dead < 0 || dead > 9 || again != 0)
		return 10;
	say(out, (char)('0' + dead));
	if (store_reader_check("/nonexistent/store", &dead, &cause) != STORE_E_INVALID || cause == NULL)
		return 11;
	free(cause);
	return 0;
}

/*
 * A process killed inside a read transaction leaves its reader slot; store_reader_check, run as the master
 * runs it after a worker died (in a process that does not have the store open, while another one does:
 * this one), clears that slot and only that one (this process's stays), and a second check finds nothing.
 */
static void
test_reader_check_clears_killed_reader(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct child c;

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);	/* this process's slot, alive */
	spawn(f, child_reads_forever, &c);
	assert_int_equal(hear(c.from_child), 'r');
	assert_int_equal(kill(c.pid, SIGKILL), 0);
	assert_int_equal(reap(&c), 128 + SIGKILL);
	spawn(f, child_checks_readers, &c);
	assert_int_equal(hear(c.from_child), '1');
	assert_int_equal(reap(&c), 0);
	store_txn_abort(t);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
}

/* A child renames uid to "child" and commits it, before anything this process staged. */
static void
child_renames_first(struct fx *f, const char *uid)
{
	struct child c;

	spawn(f, child_edits, &c);
	assert_int_equal(write(c.to_child, uid, strlen(uid) + 1), (ssize_t)strlen(uid) + 1);
	assert_int_equal(hear(c.from_child), 's');
	say(c.to_child, 'c');
	assert_int_equal(hear(c.from_child), 'w');
	assert_int_equal(reap(&c), 0);
}

/*
 * A best-effort write (a Get ending freshness) on an object another process changed first is dropped at
 * the group commit without a conflict for its request, and the rest of the group is applied; the other
 * process's change stays. Without store_txn_best_effort the same write is a conflict.
 */
static void
test_best_effort_write_dropped_quietly(void **state)
{
	struct fx *f = *state;
	char uid[STORE_UID_MAX + 1] = "", other[STORE_UID_MAX + 1] = "";
	struct store_stats st;
	unsigned conflicts = 0;

	assert_int_equal(stage_create(f->s, "alice", "start", 0, uid), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	/* Staged here, best effort, beside an ordinary create in the same group. */
	assert_int_equal(stage_rename_as(f->s, uid, "parent", true), STORE_OK);
	assert_int_equal(stage_create(f->s, "alice", "beside", 0, other), STORE_OK);
	/* The child changes the object and commits first. */
	child_renames_first(f, uid);
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 0);
	assert_string_equal(name_of(f->s, uid), "child");
	assert_string_equal(name_of(f->s, other), "beside");
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.conflicts, 0);
	/* The same without best effort: a conflict, as test_concurrent_edits_one_wins shows in full. */
	assert_int_equal(stage_rename_as(f->s, uid, "parent", false), STORE_OK);
	child_renames_first(f, uid);
	assert_int_equal(store_group_commit(f->s, count_conflict, &conflicts), STORE_OK);
	assert_int_equal(conflicts, 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_interleaved_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provisional_sequence_above_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_edits_one_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_across_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth_seen_by_other, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_data_key_rotation_seen_by_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_under_unknown_key_opened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_under_retired_key_is_a_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reseal_pass_sees_late_old_key_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_rotated_by_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_killed_holding_the_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_check_clears_killed_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_best_effort_write_dropped_quietly, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
