/*
 * Encryption at rest in the store: material sealed on disk and bound to its object, master keys (wrong,
 * missing, unreadable, rotated, recovered), data key rotation, migration of a clear store, and SIGKILL at
 * any point of the migration and of both rotations.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/rand.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define MATERIAL_LEN	32
#define NOBJ		40

struct fx {
	char dir[256];
	char path[300];		/* the store */
	char key1[300], key2[300];
	struct store_kek *k1, *k2;
	uint8_t material[NOBJ][MATERIAL_LEN];
};

/* Loads a key file. */
static struct store_kek *
load_key(const char *path, enum store_key_source kind)
{
	struct store_kek_source src = { .kind = kind, .path = path };
	struct store_kek *k = NULL;
	char *cause = NULL;

	if (store_kek_load(&src, &k, &cause) != STORE_OK)
		fail_msg("%s: %s", path, cause != NULL ? cause : "?");
	return k;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *cause = NULL;

	assert_non_null(f);
	assert_int_equal(util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_store_keys"), 0);
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	snprintf(f->key1, sizeof(f->key1), "%s/master1.key", f->dir);
	snprintf(f->key2, sizeof(f->key2), "%s/master2.key", f->dir);
	assert_int_equal(store_master_key_create(f->key1, &cause), STORE_OK);
	assert_int_equal(store_master_key_create(f->key2, &cause), STORE_OK);
	f->k1 = load_key(f->key1, STORE_KEY_FILE);
	f->k2 = load_key(f->key2, STORE_KEY_FILE);
	assert_int_equal(RAND_bytes(&f->material[0][0], sizeof(f->material)), 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_kek_free(f->k1);
	store_kek_free(f->k2);
	(void)util_rmtree(f->dir);
	free(f);
	return 0;
}

/* Options for the fixture's store with a master key (NULL with encryption off) and a previous one. */
static void
options(struct fx *f, struct store_options *o, const struct store_kek *master, const struct store_kek *previous)
{
	store_options_init(o);
	o->path = f->path;
	o->encryption = master != NULL;
	o->master = master;
	o->previous = previous;
}

/* Opens the store; fails the test when it does not open. */
static struct store *
open_ok(struct fx *f, const struct store_kek *master, const struct store_kek *previous)
{
	struct store_options o;
	struct store *s = NULL;
	char *cause = NULL;

	options(f, &o, master, previous);
	if (store_open(&o, &s, &cause) != STORE_OK)
		fail_msg("store_open: %s", cause != NULL ? cause : "?");
	return s;
}

/* Opens the store expecting a refusal; returns the cause (malloc'd). */
static char *
open_refused(struct fx *f, const struct store_kek *master, const struct store_kek *previous, int want)
{
	struct store_options o;
	struct store *s = NULL;
	char *cause = NULL;

	options(f, &o, master, previous);
	assert_int_equal(store_open(&o, &s, &cause), want);
	assert_null(s);
	assert_non_null(cause);
	return cause;
}

/* Writes objects [from, to) with the fixture's material, committed and durable. */
static void
put_objects(struct fx *f, struct store *s, int from, int to)
{
	struct store_object *o;
	struct store_txn *t;
	char uid[32];
	int i;

	for (i = from; i < to; i++) {
		snprintf(uid, sizeof(uid), "obj-%03d", i);
		assert_non_null(o = store_object_new());
		assert_int_equal(store_object_set(o, uid, "alice", 2, 1), STORE_OK);
		assert_int_equal(store_object_set_material(o, f->material[i], MATERIAL_LEN, 1), STORE_OK);
		ttlv_append(o->attrs, ttlv_new_enum(o->arena, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 3));
		assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
		assert_int_equal(store_put(t, o), STORE_OK);
		assert_int_equal(store_txn_commit(t), STORE_OK);
		store_object_free(o);
	}
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
}

/* Adds n more objects (batch b) with random material, so that long work can be interrupted. */
static void
fill(struct store *s, int b, int n)
{
	struct store_object *o;
	struct store_txn *t;
	uint8_t m[MATERIAL_LEN];
	char uid[32];
	int i;

	assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
	for (i = 0; i < n; i++) {
		snprintf(uid, sizeof(uid), "fill-%03d-%03d", b, i);
		assert_int_equal(RAND_bytes(m, sizeof(m)), 1);
		assert_non_null(o = store_object_new());
		assert_int_equal(store_object_set(o, uid, "bob", 2, 1), STORE_OK);
		assert_int_equal(store_object_set_material(o, m, sizeof(m), 1), STORE_OK);
		assert_int_equal(store_put(t, o), STORE_OK);
		store_object_free(o);
	}
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
}

/* Every object [0, n) reads back with its material, byte for byte. */
static void
check_objects(struct fx *f, struct store *s, int n)
{
	struct store_object *o;
	struct store_txn *t;
	char uid[32];
	int i;

	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	for (i = 0; i < n; i++) {
		snprintf(uid, sizeof(uid), "obj-%03d", i);
		if (store_get(t, uid, &o) != STORE_OK)
			fail_msg("%s does not read back: %s", uid, store_last_error(s));
		assert_int_equal(o->material_len, MATERIAL_LEN);
		assert_memory_equal(o->material, f->material[i], MATERIAL_LEN);
		store_object_free(o);
	}
	store_txn_abort(t);
}

/* How many of the materials [0, n) appear byte for byte in the store's data file. */
static int
in_clear(struct fx *f, int n)
{
	char path[320];
	size_t len;
	char *data;
	int i, found = 0;

	snprintf(path, sizeof(path), "%s/data.mdb", f->path);
	assert_non_null(data = util_read_file(path, &len));
	for (i = 0; i < n; i++)
		if (memmem(data, len, f->material[i], MATERIAL_LEN) != NULL)
			found++;
	free(data);
	return found;
}

/* The material of a store with encryption is nowhere in its file; without, it is (the scan works). */
static void
test_sealed_on_disk(void **state)
{
	struct fx *f = *state;
	struct store_key_status ks;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, NOBJ);
	check_objects(f, s, NOBJ);
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_true(ks.encrypted);
	assert_int_equal(ks.data_keys, 1);
	store_close(s);
	assert_int_equal(in_clear(f, NOBJ), 0);

	/* The same in a store without encryption: every material is found. */
	assert_int_equal(util_rmtree(f->path), 0);
	s = open_ok(f, NULL, NULL);
	put_objects(f, s, 0, NOBJ);
	store_close(s);
	assert_int_equal(in_clear(f, NOBJ), NOBJ);
}

/* Rewrites one record's value in LMDB with fn (the store closed). */
static void
edit_record(struct fx *f, const char *uid, void (*fn)(MDB_val *v, void *arg), void *arg)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(uid), (void *)uid }, v, nv;
	uint8_t *copy;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "objects", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_non_null(copy = malloc(v.mv_size));
	memcpy(copy, v.mv_data, v.mv_size);
	nv.mv_data = copy;
	nv.mv_size = v.mv_size;
	fn(&nv, arg);
	assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

/* Takes the secret part (the record's last bytes) of one record, to put it into another. */
struct tail {
	uint8_t bytes[MATERIAL_LEN + 28];
	bool put;
};

static void
swap_tail(MDB_val *v, void *arg)
{
	struct tail *t = arg;
	uint8_t *p = (uint8_t *)v->mv_data + v->mv_size - sizeof(t->bytes);

	if (t->put)
		memcpy(p, t->bytes, sizeof(t->bytes));
	else
		memcpy(t->bytes, p, sizeof(t->bytes));
}

static void
flip_last(MDB_val *v, void *arg)
{
	(void)arg;
	((uint8_t *)v->mv_data)[v->mv_size - 20] ^= 0x01;
}

/* The owner is the first byte after the uid in the record's identity part. */
static void
change_owner(MDB_val *v, void *arg)
{
	size_t uid_len = strlen(arg);

	((uint8_t *)v->mv_data)[48 + uid_len] ^= 0x20;	/* "alice" -> "Alice" */
}

/*
 * Breaks the record's attributes inside: their first attribute (a 4-byte Enumeration) turns into a Boolean,
 * which needs 8 bytes, so decoding them fails.
 */
static void
break_attrs(MDB_val *v, void *arg)
{
	size_t uid_len = strlen(arg), off = (48 + uid_len + 5 + 7) & ~(size_t)7;	/* owner "alice" */

	((uint8_t *)v->mv_data)[off + 8 + 3] = 0x06;
}

/* Refuses alice's records to anyone else; counts its calls. */
static int
only_alice(void *arg, const struct store_header *h)
{
	(*(int *)arg)++;
	if (h->owner_len == 5 && memcmp(h->owner, "alice", 5) == 0)
		return STORE_OK;
	return STORE_E_NOTFOUND;
}

static int
refuse_all(void *arg, const struct store_header *h)
{
	(*(int *)arg)++;
	assert_int_equal(h->sharing, 0);
	assert_int_equal(h->object_type, 2);
	return STORE_E_NOTFOUND;
}

/*
 * The fixed header is read before anything else: a check that refuses stops a read before the record is
 * decoded (another tenant's object costs what a missing one does), even when the record could not be.
 */
static void
test_header_check_first(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct store *s;
	int calls = 0;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 2);
	store_close(s);
	edit_record(f, "obj-001", break_attrs, "obj-001");
	s = open_ok(f, f->k1, NULL);
	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	assert_int_equal(store_get_checked(t, "obj-000", true, only_alice, &calls, &o), STORE_OK);
	assert_memory_equal(o->material, f->material[0], MATERIAL_LEN);
	store_object_free(o);
	assert_int_equal(store_get_checked(t, "obj-001", false, refuse_all, &calls, &o), STORE_E_NOTFOUND);
	assert_null(o);
	assert_int_equal(store_get_checked(t, "obj-001", false, only_alice, &calls, &o), STORE_E_CORRUPT);
	assert_int_equal(store_get_checked(t, "missing", false, refuse_all, &calls, &o), STORE_E_NOTFOUND);
	assert_int_equal(calls, 3);	/* a missing object is not asked about */
	store_txn_abort(t);
	store_close(s);
}

/* A sealed part moved to another object, altered, or kept under another owner does not open. */
static void
test_bound_to_object(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct tail tl = { .put = false };
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 4);
	store_close(s);
	edit_record(f, "obj-000", swap_tail, &tl);	/* take 0's */
	tl.put = true;
	edit_record(f, "obj-001", swap_tail, &tl);	/* into 1 */
	edit_record(f, "obj-002", flip_last, NULL);
	edit_record(f, "obj-003", change_owner, "obj-003");
	s = open_ok(f, f->k1, NULL);
	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "obj-000", &o), STORE_OK);	/* untouched */
	store_object_free(o);
	assert_int_equal(store_get(t, "obj-001", &o), STORE_E_CORRUPT);
	assert_non_null(strstr(store_last_error(s), "does not verify"));
	assert_int_equal(store_get(t, "obj-002", &o), STORE_E_CORRUPT);
	assert_int_equal(store_get(t, "obj-003", &o), STORE_E_CORRUPT);
	/* Attributes alone still read: only the secret part is refused. */
	assert_int_equal(store_get_meta(t, "obj-001", &o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
	store_close(s);
}

/* Flips the last byte of the owner of a record whose uid and owner have these lengths. */
struct owner_end {
	size_t uid_len, owner_len;
};

static void
flip_owner_end(MDB_val *v, void *arg)
{
	struct owner_end *e = arg;

	((uint8_t *)v->mv_data)[48 + e->uid_len + e->owner_len - 1] ^= 0x01;
}

/*
 * Owners on either side of what the associated data takes in one GCM update (512 bytes in all), and the
 * longest a store takes, seal and open; the end of the longest owner is bound to the material too.
 */
static void
test_long_owner(void **state)
{
	static const size_t lens[] = { 475, 476, 477, STORE_OWNER_MAX };
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct owner_end e;
	struct store *s;
	char owner[STORE_OWNER_MAX + 1], uid[32];
	size_t i, j;

	s = open_ok(f, f->k1, NULL);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < lens[i]; j++)
			owner[j] = (char)('a' + (i + j) % 26);
		owner[lens[i]] = '\0';
		snprintf(uid, sizeof(uid), "own-%04zu", lens[i]);	/* 8 bytes */
		assert_non_null(o = store_object_new());
		assert_int_equal(store_object_set(o, uid, owner, 2, 1), STORE_OK);
		assert_int_equal(store_object_set_material(o, f->material[i], MATERIAL_LEN, 1), STORE_OK);
		assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
		assert_int_equal(store_put(t, o), STORE_OK);
		assert_int_equal(store_txn_commit(t), STORE_OK);
		store_object_free(o);
	}
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
	store_close(s);

	s = open_ok(f, f->k1, NULL);
	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(uid, sizeof(uid), "own-%04zu", lens[i]);
		if (store_get(t, uid, &o) != STORE_OK)
			fail_msg("%s does not read back: %s", uid, store_last_error(s));
		assert_int_equal(strlen(o->owner), lens[i]);
		assert_int_equal(o->material_len, MATERIAL_LEN);
		assert_memory_equal(o->material, f->material[i], MATERIAL_LEN);
		store_object_free(o);
	}
	store_txn_abort(t);
	store_close(s);

	e.uid_len = 8;
	e.owner_len = STORE_OWNER_MAX;
	edit_record(f, "own-4096", flip_owner_end, &e);
	s = open_ok(f, f->k1, NULL);
	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "own-4096", &o), STORE_E_CORRUPT);
	assert_non_null(strstr(store_last_error(s), "does not verify"));
	store_txn_abort(t);
	store_close(s);
}

/* Writes bytes into a new file with a mode. */
static void
write_file(const char *path, const void *p, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Loading a key expecting a refusal whose cause holds want. */
static void
load_refused(const char *path, enum store_key_source kind, const char *want)
{
	struct store_kek_source src = { .kind = kind, .path = path };
	struct store_kek *k = NULL;
	char *cause = NULL;

	assert_int_not_equal(store_kek_load(&src, &k, &cause), STORE_OK);
	assert_null(k);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" does not say \"%s\"", cause, want);
	free(cause);
}

/* Flips a byte of the first wrap of the keyring (the store closed). */
static void
damage_keyring(struct fx *f)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 7, "keyring" }, v, nv;
	uint8_t copy[4096];

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(copy));
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 1] ^= 0x80;	/* the last byte of the last wrap's tag */
	nv.mv_data = copy;
	nv.mv_size = v.mv_size;
	assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* No key, a wrong key, an unreadable or malformed key file: a clear refusal; the right key reads all. */
static void
test_master_key_refusals(void **state)
{
	struct fx *f = *state;
	char path[320], *cause;
	uint8_t bytes[32] = { 1 };
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 8);
	store_close(s);

	cause = open_refused(f, NULL, NULL, STORE_E_INVALID);
	assert_non_null(strstr(cause, "encrypted"));
	free(cause);
	{
		struct store_options o;
		struct store *none = NULL;

		options(f, &o, NULL, NULL);
		o.encryption = true;	/* on, but no key given */
		cause = NULL;
		assert_int_equal(store_open(&o, &none, &cause), STORE_E_INVALID);
		assert_non_null(strstr(cause, "no master key"));
		free(cause);
	}
	cause = open_refused(f, f->k2, NULL, STORE_E_INVALID);
	assert_non_null(strstr(cause, "is not a key this store"));
	free(cause);

	snprintf(path, sizeof(path), "%s/open.key", f->dir);
	write_file(path, bytes, sizeof(bytes), 0644);
	load_refused(path, STORE_KEY_FILE, "readable by group or others");
	write_file(path, bytes, sizeof(bytes), 0640);
	load_refused(path, STORE_KEY_FILE, "readable by group or others");
	write_file(path, bytes, 31, 0600);
	load_refused(path, STORE_KEY_FILE, "not a master key");
	snprintf(path, sizeof(path), "%s/missing.key", f->dir);
	load_refused(path, STORE_KEY_FILE, "No such file");
	/* A master key is never overwritten. */
	cause = NULL;
	assert_int_not_equal(store_master_key_create(f->key1, &cause), STORE_OK);
	assert_non_null(strstr(cause, "never overwritten"));
	free(cause);

	s = open_ok(f, f->k1, NULL);
	check_objects(f, s, 8);
	store_close(s);

	/* A wrap that does not authenticate is named as such, never decrypted into garbage. */
	damage_keyring(f);
	cause = open_refused(f, f->k1, NULL, STORE_E_INVALID);
	assert_non_null(strstr(cause, "GCM check failed"));
	free(cause);
}

/* The master key from $CREDENTIALS_DIRECTORY, as systemd's LoadCredential(Encrypted)= provides it. */
static void
test_credential(void **state)
{
	struct fx *f = *state;
	char dir[300], path[400], *key;
	size_t len;
	struct store_kek *k;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 4);
	store_close(s);
	snprintf(dir, sizeof(dir), "%s/creds", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/kmipd-master", dir);
	assert_non_null(key = util_read_file(f->key1, &len));
	write_file(path, key, len, 0400);
	free(key);

	unsetenv("CREDENTIALS_DIRECTORY");
	load_refused("kmipd-master", STORE_KEY_CREDENTIAL, "CREDENTIALS_DIRECTORY");
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	load_refused("../master1.key", STORE_KEY_CREDENTIAL, "not a credential name");
	k = load_key("kmipd-master", STORE_KEY_CREDENTIAL);
	assert_non_null(strstr(store_kek_describe(k), "credential kmipd-master"));
	s = open_ok(f, k, NULL);
	check_objects(f, s, 4);
	store_close(s);
	store_kek_free(k);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* A new master key with the previous one named: afterwards the new one opens the store, the old one not. */
static void
test_master_rotation(void **state)
{
	struct fx *f = *state;
	char *cause;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 8);
	store_close(s);
	s = open_ok(f, f->k2, f->k1);
	check_objects(f, s, 8);
	store_close(s);
	s = open_ok(f, f->k2, NULL);
	check_objects(f, s, 8);
	store_close(s);
	cause = open_refused(f, f->k1, NULL, STORE_E_INVALID);
	free(cause);
	/* Online: store_keys_reload with the new key and the previous one. */
	s = open_ok(f, f->k2, NULL);
	cause = NULL;
	assert_int_equal(store_keys_reload(s, f->k1, f->k2, &cause), STORE_OK);
	put_objects(f, s, 8, 10);
	check_objects(f, s, 10);
	store_close(s);
	s = open_ok(f, f->k1, NULL);
	check_objects(f, s, 10);
	store_close(s);
}

/* The recovery key opens the store (and its backups) where the master key is lost. */
static void
test_recovery_key(void **state)
{
	struct fx *f = *state;
	char text[STORE_RECOVERY_TEXT], old[STORE_RECOVERY_TEXT], path[320], *cause = NULL;
	struct store_key_status ks;
	struct store_kek *rec;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 8);
	assert_int_equal(store_recovery_key_new(s, old, sizeof(old), &cause), STORE_OK);
	assert_int_equal(store_recovery_key_new(s, text, sizeof(text), &cause), STORE_OK);	/* replaces it */
	assert_int_equal(strncmp(text, "kmipd-recovery-", 15), 0);
	/* A data key made afterwards is wrapped for the recovery key too, without its private half. */
	assert_int_equal(store_data_key_new(s, &cause), STORE_OK);
	put_objects(f, s, 8, 12);
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_true(ks.recovery);
	assert_int_equal(ks.data_keys, 2);
	store_close(s);

	snprintf(path, sizeof(path), "%s/recovery.txt", f->dir);
	write_file(path, old, strlen(old), 0600);
	rec = load_key(path, STORE_KEY_RECOVERY);
	cause = open_refused(f, f->k2, rec, STORE_E_INVALID);	/* the replaced one opens nothing */
	free(cause);
	store_kek_free(rec);

	write_file(path, text, strlen(text), 0600);
	rec = load_key(path, STORE_KEY_RECOVERY);
	s = open_ok(f, f->k2, rec);	/* master key 1 "lost": recovered under key 2 */
	check_objects(f, s, 12);
	store_close(s);
	s = open_ok(f, f->k2, NULL);
	check_objects(f, s, 12);
	store_close(s);
	store_kek_free(rec);
}

/* Runs store_reseal and group commits until done; returns the number of batches. */
static int
reseal_all(struct store *s, size_t batch)
{
	struct store_reseal_progress p;
	char *cause = NULL;
	int n = 0;

	do {
		if (store_reseal(s, batch, &p, &cause) != STORE_OK)
			fail_msg("reseal: %s", cause != NULL ? cause : "?");
		assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
		n++;
	} while (!p.done);
	return n;
}

/* A new data key: new writes under it, old records re-encrypted in bounded batches, the old key retired. */
static void
test_data_key_rotation(void **state)
{
	struct fx *f = *state;
	struct store_key_status ks;
	char *cause = NULL;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 30);
	assert_int_equal(store_data_key_new(s, &cause), STORE_OK);
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_int_equal(ks.data_keys, 2);
	assert_int_equal(ks.current_data_key, 2);
	put_objects(f, s, 30, NOBJ);
	check_objects(f, s, NOBJ);	/* both keys open records meanwhile */
	store_close(s);
	s = open_ok(f, f->k1, NULL);	/* the rotation survives a restart */
	check_objects(f, s, NOBJ);
	assert_true(reseal_all(s, 4) >= 30 / 4);	/* batches of 4: bounded work per call */
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_int_equal(ks.data_keys, 1);
	assert_int_equal(ks.current_data_key, 2);
	check_objects(f, s, NOBJ);
	store_close(s);
	s = open_ok(f, f->k1, NULL);
	check_objects(f, s, NOBJ);
	store_close(s);
}

/* A store kept in clear is encrypted on first open with a master key, then compacted: no clear material. */
static void
test_migration(void **state)
{
	struct fx *f = *state;
	struct store_key_status ks;
	struct store_options o;
	char *cause = NULL;
	struct store *s;

	s = open_ok(f, NULL, NULL);
	put_objects(f, s, 0, NOBJ);
	store_close(s);
	assert_int_equal(in_clear(f, NOBJ), NOBJ);

	s = open_ok(f, f->k1, NULL);
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_true(ks.encrypted);
	assert_true(ks.clear_pages);
	check_objects(f, s, NOBJ);	/* clear records read while they wait */
	options(f, &o, f->k1, NULL);
	assert_int_equal(store_migrate(&s, &o, NULL, NULL, &cause), STORE_OK);
	assert_int_equal(store_key_status(s, &ks), STORE_OK);
	assert_false(ks.clear_pages);
	check_objects(f, s, NOBJ);
	store_close(s);
	assert_int_equal(in_clear(f, NOBJ), 0);
	/* Once encrypted, a store is never opened in clear. */
	cause = open_refused(f, NULL, NULL, STORE_E_INVALID);
	free(cause);
}

/* A read-only open (kmipd -t, kmipctl verify) reads and writes nothing. */
static void
test_read_only(void **state)
{
	struct fx *f = *state;
	struct store_options o;
	struct store_txn *t;
	struct store *s = NULL;
	char *cause = NULL;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, 4);
	store_close(s);
	options(f, &o, f->k1, NULL);
	o.read_only = true;
	assert_int_equal(store_open(&o, &s, &cause), STORE_OK);
	check_objects(f, s, 4);
	assert_int_equal(store_txn_begin(s, true, &t), STORE_E_READONLY);
	store_close(s);
}

/*
 * SIGKILL during work: a child runs work() on the store and is killed after a random delay, round after
 * round; after each, the store opens with keys and every object reads back.
 */
static void
kill_rounds(struct fx *f, void (*work)(struct fx *f), const struct store_kek *master,
    const struct store_kek *previous, int rounds)
{
	struct timespec ts;
	struct store *s;
	int i, status, killed = 0;
	pid_t pid;

	for (i = 0; i < rounds; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			work(f);
			_exit(0);
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(random() % 40) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else
			assert_int_equal(WEXITSTATUS(status), 0);
		s = open_ok(f, master, previous);
		check_objects(f, s, NOBJ);
		store_close(s);
	}
	assert_true(killed > 0);	/* the work was really interrupted */
}

/* Child: opens with the master key and migrates or re-encrypts to the end. */
static void
work_migrate(struct fx *f)
{
	struct store_options o;
	struct store *s = NULL;
	char *cause = NULL;

	options(f, &o, f->k1, NULL);
	if (store_open(&o, &s, &cause) != STORE_OK || store_migrate(&s, &o, NULL, NULL, &cause) != STORE_OK)
		_exit(1);
	store_close(s);
}

/* Child: rotates the data key and re-encrypts, batch by batch. */
static void
work_data_key(struct fx *f)
{
	struct store_reseal_progress p;
	struct store_options o;
	struct store *s = NULL;
	char *cause = NULL;

	options(f, &o, f->k1, NULL);
	if (store_open(&o, &s, &cause) != STORE_OK || store_data_key_new(s, &cause) != STORE_OK)
		_exit(1);
	do {
		if (store_reseal(s, 2, &p, &cause) != STORE_OK || store_group_commit(s, NULL, NULL) != STORE_OK)
			_exit(1);
	} while (!p.done);
	store_close(s);
}

/* Child: rotates the master key back and forth. */
static void
work_master(struct fx *f)
{
	struct store *s = NULL;
	char *cause = NULL;
	int i;

	s = open_ok(f, f->k2, f->k1);
	for (i = 0; i < 1000; i++)
		if (store_keys_reload(s, i % 2 ? f->k2 : f->k1, i % 2 ? f->k1 : f->k2, &cause) != STORE_OK)
			_exit(1);
	store_close(s);
}

static void
test_kill_during_migration(void **state)
{
	struct fx *f = *state;
	struct store_options o;
	struct store *s;
	char *cause = NULL;
	int i;

	s = open_ok(f, NULL, NULL);
	put_objects(f, s, 0, NOBJ);
	for (i = 0; i < 40; i++)	/* enough records that a kill lands inside the migration */
		fill(s, i, 100);
	store_close(s);
	kill_rounds(f, work_migrate, f->k1, NULL, 6);
	s = open_ok(f, f->k1, NULL);
	options(f, &o, f->k1, NULL);
	assert_int_equal(store_migrate(&s, &o, NULL, NULL, &cause), STORE_OK);
	check_objects(f, s, NOBJ);
	store_close(s);
	assert_int_equal(in_clear(f, NOBJ), 0);
}

static void
test_kill_during_data_key_rotation(void **state)
{
	struct fx *f = *state;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, NOBJ);
	store_close(s);
	kill_rounds(f, work_data_key, f->k1, NULL, 8);
	s = open_ok(f, f->k1, NULL);
	(void)reseal_all(s, 16);
	check_objects(f, s, NOBJ);
	store_close(s);
}

static void
test_kill_during_master_rotation(void **state)
{
	struct fx *f = *state;
	struct store *s;

	s = open_ok(f, f->k1, NULL);
	put_objects(f, s, 0, NOBJ);
	store_close(s);
	/* Whichever key the last committed rotation left, the pair opens the store. */
	kill_rounds(f, work_master, f->k2, f->k1, 8);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sealed_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_to_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_check_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_key_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_data_key_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_during_master_rotation, setup, teardown),
	};

	util_test_start(argc, argv);
	srandom((unsigned)time(NULL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
