/*
 * Crash test of the store: a child process writes objects in groups with full sync and, after each group
 * commit, reports the acknowledged uids through a pipe; the parent kills it with SIGKILL at a random
 * moment, then reopens the store and checks that it opens cleanly, that every object reads back, that
 * every acknowledged uid is present and intact, and that no identifier is issued twice. Many rounds.
 * KMIPD_CRASH_ROUNDS overrides the number of rounds (default 30).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
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

struct fx {
	char dir[64];
	char path[96];
	uint64_t *acked;
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
	uint64_t ids[32];
	uint8_t m[MATERIAL_LEN];
	char uid[32], name[48], *cause = NULL;
	int i, n;

	options(&o, path);
	if (store_open(&o, &s, &cause) != STORE_OK) {
		fprintf(stderr, "child: store_open: %s\n", cause);
		_exit(2);
	}
	for (;;) {
		n = 1 + (int)(rand_r(&seed) % 32);
		for (i = 0; i < n; i++) {
			if (store_txn_begin(s, true, &t) != STORE_OK ||
			    store_new_uid(t, uid, sizeof(uid)) != STORE_OK)
				_exit(3);
			ids[i] = strtoull(uid, NULL, 10);
			snprintf(name, sizeof(name), "name-%s", uid);
			material(ids[i], m);
			if ((obj = store_object_new()) == NULL ||
			    store_object_set(obj, uid, OWNER, 2, 2) != STORE_OK ||
			    store_object_set_material(obj, m, sizeof(m), 1) != STORE_OK)
				_exit(4);
			nm = ttlv_new_struct(obj->arena, KMIP_TAG_NAME);
			ttlv_append(nm, ttlv_new_text(obj->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
			ttlv_append(nm, ttlv_new_enum(obj->arena, KMIP_TAG_NAME_TYPE, 1));
			ttlv_append(obj->attrs, nm);
			ttlv_append(obj->attrs, ttlv_new_int(obj->arena, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)(ids[i] % 100000)));
			if (store_put(t, obj) != STORE_OK || store_txn_commit(t) != STORE_OK)
				_exit(5);
			store_object_free(obj);
		}
		if (store_group_commit(s, NULL, NULL) != STORE_OK)
			_exit(6);
		/* At most 256 bytes: one atomic pipe write. */
		if (write(wfd, ids, (size_t)n * sizeof(ids[0])) != (ssize_t)((size_t)n * sizeof(ids[0])))
			_exit(7);
	}
}

/* Reads every acknowledged uid the dead child left in the pipe. */
static void
collect(struct fx *f, int rfd)
{
	uint64_t buf[64];
	ssize_t r;
	size_t i;

	while ((r = read(rfd, buf, sizeof(buf))) > 0) {
		assert_int_equal(r % 8, 0);
		for (i = 0; i < (size_t)r / 8; i++) {
			if (f->nacked == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 1024;
				f->acked = realloc(f->acked, f->cap * sizeof(*f->acked));
				assert_non_null(f->acked);
			}
			f->acked[f->nacked++] = buf[i];
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
	char uid[32], name[48], **uids, *cause = NULL;
	const struct ttlv *nv;
	uint64_t max = 0, next;
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
		snprintf(uid, sizeof(uid), "%" PRIu64, f->acked[i]);
		if (store_get(t, uid, &obj) != STORE_OK)
			fail_msg("acknowledged uid %s is missing", uid);
		material(f->acked[i], m);
		assert_int_equal(obj->material_len, MATERIAL_LEN);
		assert_memory_equal(obj->material, m, MATERIAL_LEN);
		assert_string_equal(obj->owner, OWNER);
		snprintf(name, sizeof(name), "name-%s", uid);
		nv = ttlv_find(ttlv_find(obj->attrs, KMIP_TAG_NAME), KMIP_TAG_NAME_VALUE);
		assert_non_null(nv);
		assert_string_equal((const char *)nv->v.bytes.data, name);
		assert_int_equal(ttlv_find(obj->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, (int32_t)(f->acked[i] % 100000));
		store_object_free(obj);
		if (f->acked[i] > max)
			max = f->acked[i];
	}
	store_txn_abort(t);
	/* Identifiers are never issued twice. */
	assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, uid, sizeof(uid)), STORE_OK);
	next = strtoull(uid, NULL, 10);
	assert_true(next > max);
	store_txn_abort(t);
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
	store_close(s);
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
