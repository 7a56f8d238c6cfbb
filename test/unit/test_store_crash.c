/*
 * Crash test of the store: a child process writes objects in groups with full sync and, after each group
 * commit, reports the acknowledged uids through a pipe; the parent kills it with SIGKILL at a random
 * moment, then reopens the store and checks that it opens cleanly, that every object reads back, that
 * every acknowledged uid is present and intact, and that no identifier is issued twice. Many rounds.
 * Identifiers are random: each object's material and attributes derive from its uid.
 * KMIPD_CRASH_ROUNDS overrides the number of rounds (default 30).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define OWNER		"crash-owner"
#define MATERIAL_LEN	48
#define GROUP_MAX	32	/* objects per group */

/* A group's uids go through the pipe as one write of fixed-size records: atomic, whole or not at all. */
_Static_assert(GROUP_MAX * STORE_UUID_LEN <= PIPE_BUF, "one group's report fits one atomic pipe write");

struct fx {
	char dir[64];
	char path[96];
	char (*acked)[STORE_UUID_LEN + 1];
	size_t nacked, cap;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_store_crash") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	(void)util_rmtree(f->dir);
	free(f->acked);
	free(f);
	return 0;
}

static void
options(struct store_options *o, const char *path)
{
	store_options_init(o);
	o->master = util_store_master_key();
	o->path = path;
	o->map_size = 1 << 20;	/* small, so the map also grows while the child is being killed */
	o->sync = STORE_SYNC_FULL;
	o->group_commit = true;
}

/* A number only this uid gives (FNV-1a), from which the object's material and attributes derive. */
static uint64_t
uid_number(const char *uid)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *uid != '\0'; uid++) {
		h ^= (uint8_t)*uid;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The key material of object n: a pattern only n produces. */
static void
material(uint64_t n, uint8_t *m)
{
	size_t i;

	for (i = 0; i < MATERIAL_LEN; i++)
		m[i] = (uint8_t)(n * 31 + i * 7 + (n >> 8));
}

/* The child: writes groups forever, reporting each durable group's uids. Never returns. */
static void
child(const char *path, int wfd, unsigned seed)
{
	struct store_options o;
	struct store *s;
	struct store_txn *t;
	struct store_object *obj;
	struct ttlv *nm;
	char ids[GROUP_MAX][STORE_UUID_LEN];
	uint8_t m[MATERIAL_LEN];
	char uid[STORE_UID_MAX + 1], name[48], *cause = NULL;
	uint64_t k;
	int i, n;

	options(&o, path);
	if (store_open(&o, &s, &cause) != STORE_OK) {
		fprintf(stderr, "child: store_open: %s\n", cause);
		_exit(2);
	}
	for (;;) {
		n = 1 + (int)(rand_r(&seed) % GROUP_MAX);
		for (i = 0; i < n; i++) {
			if (store_txn_begin(s, true, &t) != STORE_OK ||
			    store_new_uid(t, uid, sizeof(uid)) != STORE_OK || strlen(uid) != STORE_UUID_LEN)
				_exit(3);
			memcpy(ids[i], uid, STORE_UUID_LEN);
			k = uid_number(uid);
			snprintf(name, sizeof(name), "name-%s", uid);
			material(k, m);
			if ((obj = store_object_new()) == NULL ||
			    store_object_set(obj, uid, OWNER, 2, 2) != STORE_OK ||
			    store_object_set_material(obj, m, sizeof(m), 1) != STORE_OK)
				_exit(4);
			nm = ttlv_new_struct(obj->arena, KMIP_TAG_NAME);
			ttlv_append(nm, ttlv_new_text(obj->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
			ttlv_append(nm, ttlv_new_enum(obj->arena, KMIP_TAG_NAME_TYPE, 1));
			ttlv_append(obj->attrs, nm);
			ttlv_append(obj->attrs, ttlv_new_int(obj->arena, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)(k % 100000)));
			if (store_put(t, obj) != STORE_OK || store_txn_commit(t) != STORE_OK)
				_exit(5);
			store_object_free(obj);
		}
		if (store_group_commit(s, NULL, NULL) != STORE_OK)
			_exit(6);
		if (write(wfd, ids, (size_t)n * sizeof(ids[0])) != (ssize_t)((size_t)n * sizeof(ids[0])))
			_exit(7);
	}
}

/* Reads every acknowledged uid the dead child left in the pipe. */
static void
collect(struct fx *f, int rfd)
{
	char buf[64][STORE_UUID_LEN];
	ssize_t r;
	size_t i;

	while ((r = read(rfd, buf, sizeof(buf))) > 0) {
		assert_int_equal(r % STORE_UUID_LEN, 0);
		for (i = 0; i < (size_t)r / STORE_UUID_LEN; i++) {
			if (f->nacked == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 1024;
				f->acked = realloc(f->acked, f->cap * sizeof(*f->acked));
				assert_non_null(f->acked);
			}
			memcpy(f->acked[f->nacked], buf[i], STORE_UUID_LEN);
			f->acked[f->nacked++][STORE_UUID_LEN] = '\0';
		}
	}
	assert_int_equal(r, 0);
}

/* Reopens the store and checks everything acknowledged so far. */
static void
verify(struct fx *f)
{
	struct store_options o;
	struct store *s;
	struct store_txn *t;
	struct store_object *obj;
	struct store_query q = { .is_admin = true, .storage_status_mask = STORE_STATUS_ONLINE };
	uint8_t m[MATERIAL_LEN];
	char uid[STORE_UID_MAX + 1], name[48], **uids, *cause = NULL;
	const struct ttlv *nv;
	const char *acked;
	uint64_t k;
	size_t i, n;

	options(&o, f->path);
	assert_int_equal(store_open(&o, &s, &cause), STORE_OK);
	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	/* Every object in the store reads back whole. */
	assert_int_equal(store_locate(t, &q, &uids, &n, &cause), STORE_OK);
	assert_true(n >= f->nacked);
	for (i = 0; i < n; i++) {
		assert_int_equal(store_get(t, uids[i], &obj), STORE_OK);
		store_object_free(obj);
	}
	store_uids_free(uids, n);
	/* Every acknowledged one is present and intact. */
	for (i = 0; i < f->nacked; i++) {
		acked = f->acked[i];
		if (store_get(t, acked, &obj) != STORE_OK)
			fail_msg("acknowledged uid %s is missing", acked);
		k = uid_number(acked);
		material(k, m);
		assert_int_equal(obj->material_len, MATERIAL_LEN);
		assert_memory_equal(obj->material, m, MATERIAL_LEN);
		assert_string_equal(obj->owner, OWNER);
		snprintf(name, sizeof(name), "name-%s", acked);
		nv = ttlv_find(ttlv_find(obj->attrs, KMIP_TAG_NAME), KMIP_TAG_NAME_VALUE);
		assert_non_null(nv);
		assert_string_equal((const char *)nv->v.bytes.data, name);
		assert_int_equal(ttlv_find(obj->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, (int32_t)(k % 100000));
		store_object_free(obj);
	}
	store_txn_abort(t);
	/* A new identifier is none of the store's objects'. */
	assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, uid, sizeof(uid)), STORE_OK);
	assert_int_equal(store_get(t, uid, &obj), STORE_E_NOTFOUND);
	store_txn_abort(t);
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
	store_close(s);
}

/* qsort order of the acknowledged uids. */
static int
uid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_sigkill_rounds(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("KMIPD_CRASH_ROUNDS");
	int rounds = env != NULL ? atoi(env) : 30;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	struct timespec ts;
	int round, p[2], status;
	size_t i;
	pid_t pid;
	long ms;

	fprintf(stderr, "crash test: %d rounds, seed %u\n", rounds, seed);
	for (round = 0; round < rounds; round++) {
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child(f->path, p[1], seed + (unsigned)round);
		}
		close(p[1]);
		/* Random moment: 20 to 400 ms, sometimes right at the start. */
		ms = round % 7 == 3 ? (long)(rand_r(&seed) % 5) : 20 + (long)(rand_r(&seed) % 380);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* Killed, not exited on an error of its own. */
		if (!WIFSIGNALED(status))
			fail_msg("writer exited with status %d before being killed", WEXITSTATUS(status));
		collect(f, p[0]);
		close(p[0]);
		verify(f);
	}
	fprintf(stderr, "crash test: %zu acknowledged writes survived %d kills\n", f->nacked, rounds);
	assert_true(f->nacked > 0);
	/* Every acknowledged write had an identifier of its own, across all the restarts. */
	qsort(f->acked, f->nacked, sizeof(*f->acked), uid_cmp);
	for (i = 1; i < f->nacked; i++)
		if (strcmp(f->acked[i - 1], f->acked[i]) == 0)
			fail_msg("identifier %s was issued twice", f->acked[i]);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigkill_rounds, setup, teardown),
	};

	(void)util_store_master_key();	/* made here, so that every child process shares it */

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
