/*
 * Unit tests of the store: records, indexes, Locate, owner isolation, map growth, group commit, backup.
 * Each test gets its own temporary folder (mkdtemp), removed in teardown.
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
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define OT_SYMMETRIC	2u
#define OT_PUBLIC	3u
#define OT_PRIVATE	4u
#define ST_PREACTIVE	1u
#define ST_ACTIVE	2u
#define ST_DEACTIVATED	3u
#define ST_DESTROYED	5u
#define LT_PUBLIC	258u
#define LT_PRIVATE	259u
#define USAGE_ENCRYPT	4
#define USAGE_DECRYPT	8
#define USAGE_SIGN	1

struct fx {
	char dir[64];
	char path[96];
	struct store *s;
	struct store_options o;
};

static int
open_store(struct fx *f)
{
	char *cause = NULL;
	int rc;

	rc = store_open(&f->o, &f->s, &cause);
	if (rc != STORE_OK)
		fprintf(stderr, "store_open: %s\n", cause ? cause : "?");
	free(cause);
	return rc;
}

static int
setup_opts(void **state, bool group, size_t map, size_t max)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_store") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	store_options_init(&f->o);
	f->o.master = util_store_master_key();
	f->o.path = f->path;
	f->o.group_commit = group;
	if (map != 0) {
		f->o.map_size = map;
		f->o.max_map_size = max;
	}
	if (open_store(f) != STORE_OK) {
		(void)util_rmtree(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_opts(state, true, 0, 0);
}

static int
setup_nogroup(void **state)
{
	return setup_opts(state, false, 0, 0);
}

static int
setup_tiny(void **state)
{
	return setup_opts(state, true, 128 * 1024, 128 * 1024);
}

static int
setup_tiny_growing(void **state)
{
	return setup_opts(state, true, 64 * 1024, 16 * 1024 * 1024);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	(void)util_rmtree(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fx *f)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(open_store(f), STORE_OK);
}

/* Object builders. */

static struct store_object *
obj_new(const char *uid, const char *owner, uint32_t type, uint32_t state)
{
	struct store_object *o = store_object_new();

	assert_non_null(o);
	assert_int_equal(store_object_set(o, uid, owner, type, state), STORE_OK);
	return o;
}

static void
add_name(struct store_object *o, const char *name)
{
	struct ttlv *n = ttlv_new_struct(o->arena, KMIP_TAG_NAME);

	assert_non_null(n);
	ttlv_append(n, ttlv_new_text(o->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(n, ttlv_new_enum(o->arena, KMIP_TAG_NAME_TYPE, 1));
	ttlv_append(o->attrs, n);
}

static void
add_text(struct store_object *o, uint32_t tag, const char *v)
{
	ttlv_append(o->attrs, ttlv_new_text(o->arena, tag, v, strlen(v)));
}

static void
add_int(struct store_object *o, uint32_t tag, int32_t v)
{
	ttlv_append(o->attrs, ttlv_new_int(o->arena, tag, v));
}

static void
add_enum(struct store_object *o, uint32_t tag, uint32_t v)
{
	ttlv_append(o->attrs, ttlv_new_enum(o->arena, tag, v));
}

static void
add_date(struct store_object *o, uint32_t tag, int64_t v)
{
	ttlv_append(o->attrs, ttlv_new_datetime(o->arena, tag, v));
}

static void
add_link(struct store_object *o, uint32_t type, const char *target)
{
	struct ttlv *l = ttlv_new_struct(o->arena, KMIP_TAG_LINK);

	assert_non_null(l);
	ttlv_append(l, ttlv_new_enum(o->arena, KMIP_TAG_LINK_TYPE, type));
	ttlv_append(l, ttlv_new_text(o->arena, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, target, strlen(target)));
	ttlv_append(o->attrs, l);
}

static void
add_vendor(struct store_object *o, const char *vendor, const char *name, const char *value)
{
	struct ttlv *a = ttlv_new_struct(o->arena, KMIP_TAG_ATTRIBUTE);

	assert_non_null(a);
	ttlv_append(a, ttlv_new_text(o->arena, KMIP_TAG_VENDOR_IDENTIFICATION, vendor, strlen(vendor)));
	ttlv_append(a, ttlv_new_text(o->arena, KMIP_TAG_ATTRIBUTE_NAME, name, strlen(name)));
	ttlv_append(a, ttlv_new_text(o->arena, KMIP_TAG_ATTRIBUTE_VALUE, value, strlen(value)));
	ttlv_append(o->attrs, a);
}

/* Writes an object in its own transaction and makes it durable. */
static void
put_durable(struct store *s, const struct store_object *o)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(s, NULL, NULL), STORE_OK);
}

/* Builds, stores and frees a simple object. */
static void
put_simple(struct store *s, const char *uid, const char *owner, uint32_t type, uint32_t state,
    const char *name)
{
	struct store_object *o = obj_new(uid, owner, type, state);

	if (name != NULL)
		add_name(o, name);
	put_durable(s, o);
	store_object_free(o);
}

/* Joins uids with commas, for compact assertions. */
static char *
join(char **uids, size_t n)
{
	static char buf[4096];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? "," : "", uids[i]);
	return buf;
}

/* Runs a Locate in a read transaction; returns the uids joined. */
static const char *
locate(struct store *s, const struct store_query *q)
{
	static char out[4096];
	struct store_txn *t;
	char **uids = NULL, *cause = NULL;
	size_t n = 0;
	int rc;

	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	rc = store_locate(t, q, &uids, &n, &cause);
	if (rc != STORE_OK)
		fprintf(stderr, "locate: %s\n", cause ? cause : "?");
	assert_int_equal(rc, STORE_OK);
	store_txn_abort(t);
	snprintf(out, sizeof(out), "%s", join(uids, n));
	store_uids_free(uids, n);
	free(cause);
	return out;
}

/* Lists an index key's uids joined ("" when none). */
static const char *
index_list(struct store *s, enum store_index idx, const char *text, uint32_t value)
{
	static char out[4096];
	struct store_txn *t;
	char **uids = NULL;
	size_t n = 0;

	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	assert_int_equal(store_index_uids(t, idx, text, value, &uids, &n), STORE_OK);
	store_txn_abort(t);
	snprintf(out, sizeof(out), "%s", join(uids, n));
	store_uids_free(uids, n);
	return out;
}

/* Filter builder: an Attributes structure in its own arena. */
struct filter {
	struct ttlv_arena *a;
	struct ttlv *f;
};

static void
filter_init(struct filter *fl)
{
	fl->a = ttlv_arena_new();
	assert_non_null(fl->a);
	fl->f = ttlv_new_struct(fl->a, KMIP_TAG_ATTRIBUTES);
	assert_non_null(fl->f);
}

static void
filter_name(struct filter *fl, const char *name)
{
	struct ttlv *n = ttlv_new_struct(fl->a, KMIP_TAG_NAME);

	ttlv_append(n, ttlv_new_text(fl->a, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(fl->f, n);
}

static void
filter_enum(struct filter *fl, uint32_t tag, uint32_t v)
{
	ttlv_append(fl->f, ttlv_new_enum(fl->a, tag, v));
}

static void
filter_int(struct filter *fl, uint32_t tag, int32_t v)
{
	ttlv_append(fl->f, ttlv_new_int(fl->a, tag, v));
}

static void
filter_text(struct filter *fl, uint32_t tag, const char *v)
{
	ttlv_append(fl->f, ttlv_new_text(fl->a, tag, v, strlen(v)));
}

static void
filter_date(struct filter *fl, uint32_t tag, int64_t v)
{
	ttlv_append(fl->f, ttlv_new_datetime(fl->a, tag, v));
}

static void
filter_link(struct filter *fl, int type, const char *target)
{
	struct ttlv *l = ttlv_new_struct(fl->a, KMIP_TAG_LINK);

	if (type != 0)
		ttlv_append(l, ttlv_new_enum(fl->a, KMIP_TAG_LINK_TYPE, (uint32_t)type));
	if (target != NULL)
		ttlv_append(l, ttlv_new_text(fl->a, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, target, strlen(target)));
	ttlv_append(fl->f, l);
}

static void
filter_free(struct filter *fl)
{
	ttlv_arena_free(fl->a);
}

/* Tests. */

static void
test_crud(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o, *g;
	static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	char uid[STORE_UID_MAX + 1];

	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, uid, sizeof(uid)), STORE_OK);
	assert_int_equal(strlen(uid), STORE_UUID_LEN);
	o = obj_new(uid, "alice", OT_SYMMETRIC, ST_PREACTIVE);
	add_name(o, "key-one");
	add_enum(o, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 3);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT | USAGE_DECRYPT);
	assert_int_equal(store_object_set_material(o, key, sizeof(key), 1), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, uid, &g), STORE_OK);
	assert_string_equal(g->uid, uid);
	assert_string_equal(g->owner, "alice");
	assert_int_equal(g->object_type, OT_SYMMETRIC);
	assert_int_equal(g->state, ST_PREACTIVE);
	assert_int_equal(g->material_format, 1);
	assert_int_equal(g->material_len, sizeof(key));
	assert_memory_equal(g->material, key, sizeof(key));
	assert_int_equal(g->record_version, 2);
	assert_true(ttlv_equal(g->attrs, o->attrs));
	store_object_free(g);
	assert_int_equal(store_get_meta(t, uid, &g), STORE_OK);
	assert_null(g->material);
	assert_int_equal(g->material_len, 0);
	assert_true(ttlv_equal(g->attrs, o->attrs));
	store_object_free(g);
	assert_int_equal(store_get(t, "2", &g), STORE_E_NOTFOUND);
	assert_null(g);
	store_txn_abort(t);

	/* Replace: new state, material removed, one attribute fewer. */
	o->state = ST_ACTIVE;
	assert_int_equal(store_object_set_material(o, NULL, 0, 0), STORE_OK);
	assert_int_equal(ttlv_remove(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, -1), 1);
	put_durable(f->s, o);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, uid, &g), STORE_OK);
	assert_int_equal(g->state, ST_ACTIVE);
	assert_int_equal(g->material_len, 0);
	assert_null(ttlv_find(g->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK));
	assert_true(ttlv_equal(g->attrs, o->attrs));
	store_object_free(g);
	store_txn_abort(t);

	/* Delete. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, uid), STORE_OK);
	assert_int_equal(store_delete(t, uid), STORE_E_NOTFOUND);
	assert_int_equal(store_get(t, uid, &g), STORE_E_NOTFOUND);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, uid, &g), STORE_E_NOTFOUND);
	store_txn_abort(t);
	store_object_free(o);
}

static void
test_invalid_objects(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o;
	char longuid[STORE_UID_MAX + 2];
	char small[STORE_UUID_LEN + 1];

	memset(longuid, '7', sizeof(longuid) - 1);
	longuid[sizeof(longuid) - 1] = '\0';
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	/* A State attribute contradicting the state field is refused. */
	o = obj_new("1", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_enum(o, KMIP_TAG_STATE, ST_DEACTIVATED);
	assert_int_equal(store_put(t, o), STORE_E_INVALID);
	store_object_free(o);
	/* A consistent one is accepted. */
	o = obj_new("1", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_enum(o, KMIP_TAG_STATE, ST_ACTIVE);
	add_enum(o, KMIP_TAG_OBJECT_TYPE, OT_SYMMETRIC);
	assert_int_equal(store_put(t, o), STORE_OK);
	o->uid = longuid;
	assert_int_equal(store_put(t, o), STORE_E_INVALID);
	o->uid = "";
	assert_int_equal(store_put(t, o), STORE_E_INVALID);
	store_object_free(o);
	o = store_object_new();
	assert_non_null(o);
	assert_int_equal(store_object_set(o, longuid, "x", 1, 1), STORE_E_INVALID);
	store_object_free(o);
	/* An identifier needs STORE_UUID_LEN characters and the NUL. */
	assert_int_equal(store_new_uid(t, small, sizeof(small) - 1), STORE_E_INVALID);
	assert_string_equal(small, "");
	assert_int_equal(store_new_uid(t, small, sizeof(small)), STORE_OK);
	assert_int_equal(strlen(small), STORE_UUID_LEN);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	/* Writes through a read transaction are refused. */
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_E_READONLY);
	assert_int_equal(store_delete(t, "1"), STORE_E_READONLY);
	assert_int_equal(store_new_uid(t, longuid, sizeof(longuid)), STORE_E_READONLY);
	store_object_free(o);
	store_txn_abort(t);
}

/*
 * True when s is a version 7 UUID in lowercase text: 8-4-4-4-12 hex digits, version 7, variant 10xx, and a
 * time within a minute of now.
 */
static bool
is_uuid_v7(const char *s)
{
	size_t i;

	if (strlen(s) != STORE_UUID_LEN)
		return false;
	for (i = 0; i < STORE_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	if (s[14] != '7' || !(s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b'))
		return false;
	{
		char hex[13];
		long long ms, now = (long long)time(NULL) * 1000;

		memcpy(hex, s, 8);
		memcpy(hex + 8, s + 9, 4);
		hex[12] = '\0';
		ms = strtoll(hex, NULL, 16);
		return ms > now - 60000 && ms < now + 60000;
	}
}

/* Fails the test when two of the n identifiers are equal. */
static void
assert_all_distinct(char (*uids)[STORE_UID_MAX + 1], size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(uids[i], uids[j]) == 0)
				fail_msg("identifier %s handed out twice (%zu and %zu)", uids[i], i, j);
}

/*
 * Identifiers are version 7 UUIDs (RFC 9562): 1000 taken in groups of 100, across group commits and a
 * reopen, are well-formed, carry the time, and are all different.
 */
static void
test_new_uids_are_uuids(void **state)
{
	static char uids[1000][STORE_UID_MAX + 1];
	struct fx *f = *state;
	struct store_txn *t = NULL;
	size_t i;

	for (i = 0; i < 1000; i++) {
		if (i % 100 == 0) {
			if (t != NULL) {
				assert_int_equal(store_txn_commit(t), STORE_OK);
				assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
			}
			if (i == 500)
				reopen(f);
			assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
		}
		assert_int_equal(store_new_uid(t, uids[i], sizeof(uids[i])), STORE_OK);
		if (!is_uuid_v7(uids[i]))
			fail_msg("identifier %zu is not a version 7 UUID of now: \"%s\"", i, uids[i]);
	}
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_all_distinct(uids, 1000);
}

static void
test_multivalued(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o, *g;
	struct ttlv *alt, *c;
	unsigned n;

	o = obj_new("10", "alice", OT_PRIVATE, ST_ACTIVE);
	add_name(o, "first");
	add_name(o, "second");
	add_link(o, LT_PUBLIC, "11");
	add_link(o, 265, "12");
	add_link(o, 264, "13");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "g1");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "g2");
	add_vendor(o, "x", "Product", "vSphere");
	add_vendor(o, "x", "Vendor", "VMware");
	add_vendor(o, "y", "Owner", "ops");
	alt = ttlv_new_struct(o->arena, KMIP_TAG_ALTERNATIVE_NAME);
	ttlv_append(alt, ttlv_new_text(o->arena, KMIP_TAG_ALTERNATIVE_NAME_VALUE, "alt", 3));
	ttlv_append(alt, ttlv_new_enum(o->arena, KMIP_TAG_ALTERNATIVE_NAME_TYPE, 1));
	ttlv_append(o->attrs, alt);
	put_durable(f->s, o);

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "10", &g), STORE_OK);
	assert_true(ttlv_equal(g->attrs, o->attrs));
	assert_int_equal(ttlv_count(g->attrs, KMIP_TAG_NAME), 2);
	assert_int_equal(ttlv_count(g->attrs, KMIP_TAG_LINK), 3);
	assert_int_equal(ttlv_count(g->attrs, KMIP_TAG_OBJECT_GROUP), 2);
	assert_int_equal(ttlv_count(g->attrs, KMIP_TAG_ATTRIBUTE), 3);
	/* Order of repeated attributes is kept. */
	n = 0;
	for (c = ttlv_find(g->attrs, KMIP_TAG_NAME); c != NULL; c = ttlv_find_next(c), n++)
		assert_string_equal((const char *)ttlv_find(c, KMIP_TAG_NAME_VALUE)->v.bytes.data,
		    n == 0 ? "first" : "second");
	store_object_free(g);
	store_txn_abort(t);

	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "first", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "second", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "11", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "12", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "13", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g1", 0), "10");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g2", 0), "10");
	store_object_free(o);
}

/*
 * Issue 18: a read that selects attributes decodes those (every instance, in order) and no other; the
 * object it gives is marked partial and cannot be written back, so no attribute is lost by a caller that
 * saves it. A check that sets all has every attribute decoded.
 */
static int
select_all(void *arg, const struct store_header *h)
{
	(void)h;
	((struct store_select *)arg)->all = true;
	return STORE_OK;
}

static void
test_get_selected_attributes(void **state)
{
	static const uint32_t tags[] = { KMIP_TAG_LINK, KMIP_TAG_CRYPTOGRAPHIC_LENGTH };
	struct fx *f = *state;
	struct store_select sel = { tags, 2, false };
	struct store_txn *t;
	struct store_object *o, *g;
	static uint8_t key[100000];	/* larger than the selected attributes: the arena holds both */
	struct ttlv *c;

	memset(key, 0x33, sizeof(key));
	o = obj_new("20", "alice", OT_PRIVATE, ST_ACTIVE);
	assert_int_equal(store_object_set_material(o, key, sizeof(key), 1), STORE_OK);
	add_name(o, "selected");
	add_link(o, LT_PUBLIC, "21");
	add_link(o, 264, "22");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "g1");
	ttlv_append(o->attrs, ttlv_new_int(o->arena, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 2048));
	put_durable(f->s, o);

	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_get_select(t, "20", true, NULL, NULL, &sel, &g), STORE_OK);
	assert_true(g->partial);
	assert_int_equal(ttlv_count(g->attrs, KMIP_TAG_LINK), 2);
	c = ttlv_find(g->attrs, KMIP_TAG_LINK);
	assert_string_equal((const char *)ttlv_find(c, KMIP_TAG_LINKED_OBJECT_IDENTIFIER)->v.bytes.data, "21");
	assert_int_equal(ttlv_find(g->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, 2048);
	assert_null(ttlv_find(g->attrs, KMIP_TAG_NAME));
	assert_null(ttlv_find(g->attrs, KMIP_TAG_OBJECT_GROUP));
	assert_int_equal(g->material_len, sizeof(key));
	assert_memory_equal(g->material, key, sizeof(key));
	/* Written back, it would drop the Name and the Object Group. */
	assert_int_equal(store_put(t, g), STORE_E_INVALID);
	store_object_free(g);

	assert_int_equal(store_get_select(t, "20", false, select_all, &sel, &sel, &g), STORE_OK);
	assert_false(g->partial);
	assert_true(ttlv_equal(g->attrs, o->attrs));
	store_object_free(g);
	store_txn_abort(t);
	store_object_free(o);
}

/* Every index entry of the store, as "index:uid" lines, to check nothing stale is left. */
static size_t
index_total(struct store *s)
{
	static const enum store_index text_idx[] = { STORE_IDX_NAME, STORE_IDX_OWNER, STORE_IDX_GROUP,
	    STORE_IDX_LINK };
	struct store_txn *t;
	char **uids;
	size_t n, total = 0, i;
	uint32_t v;

	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	for (i = 0; i < sizeof(text_idx) / sizeof(text_idx[0]); i++) {
		assert_int_equal(store_index_uids(t, text_idx[i], NULL, 0, &uids, &n), STORE_OK);
		total += n;
		store_uids_free(uids, n);
	}
	for (v = 0; v < 16; v++) {
		assert_int_equal(store_index_uids(t, STORE_IDX_TYPE, NULL, v, &uids, &n), STORE_OK);
		total += n;
		store_uids_free(uids, n);
		assert_int_equal(store_index_uids(t, STORE_IDX_STATE, NULL, v, &uids, &n), STORE_OK);
		total += n;
		store_uids_free(uids, n);
	}
	store_txn_abort(t);
	return total;
}

static void
test_indexes_follow_updates(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;

	o = obj_new("1", "alice", OT_SYMMETRIC, ST_PREACTIVE);
	add_name(o, "n1");
	add_name(o, "n2");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "g1");
	add_link(o, LT_PUBLIC, "L1");
	put_durable(f->s, o);
	store_object_free(o);
	put_simple(f->s, "2", "bob", OT_PUBLIC, ST_ACTIVE, "n2");

	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n1", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n2", 0), "2,1");
	assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "alice", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "bob", 0), "2");
	assert_string_equal(index_list(f->s, STORE_IDX_TYPE, NULL, OT_SYMMETRIC), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_STATE, NULL, ST_PREACTIVE), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_STATE, NULL, ST_ACTIVE), "2");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g1", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "L1", 0), "1");
	/* owner, type, state per object, plus n1, n2, g1, L1 and n2 of object 2 */
	assert_int_equal(index_total(f->s), 2 * 3 + 4 + 1);

	/* Replace object 1: other names, group, link, state and owner. */
	o = obj_new("1", "carol", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "n2");
	add_name(o, "n3");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "g2");
	add_link(o, LT_PRIVATE, "L2");
	add_link(o, LT_PUBLIC, "L2");	/* two links to one target: one index entry */
	put_durable(f->s, o);
	store_object_free(o);

	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n1", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n2", 0), "2,1");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n3", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "alice", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "carol", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_STATE, NULL, ST_PREACTIVE), "");
	assert_string_equal(index_list(f->s, STORE_IDX_STATE, NULL, ST_ACTIVE), "2,1");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g1", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g2", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "L1", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "L2", 0), "1");
	assert_int_equal(index_total(f->s), 2 * 3 + 4 + 1);

	/* Delete object 1 and nothing of it is left in any index. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "1"), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n2", 0), "2");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n3", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "carol", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_LINK, "L2", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_GROUP, "g2", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_STATE, NULL, ST_ACTIVE), "2");
	assert_int_equal(index_total(f->s), 3 + 1);

	/* A replace aborted with its transaction leaves the indexes as they were. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	o = obj_new("2", "bob", OT_PUBLIC, ST_ACTIVE);
	add_name(o, "other");
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "other", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n2", 0), "2");
}

static void
test_long_and_empty_names(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct filter fl;
	char a[1200], b[1200];

	/* Two names equal over their first 1000 bytes: the index key is truncated, the match is not. */
	memset(a, 'n', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(a));
	b[1100] = 'X';
	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, a);
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_ACTIVE, b);
	put_simple(f->s, "3", "alice", OT_SYMMETRIC, ST_ACTIVE, "");
	filter_init(&fl);
	filter_name(&fl, a);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "1");
	filter_free(&fl);
	filter_init(&fl);
	filter_name(&fl, b);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "2");
	filter_free(&fl);
	filter_init(&fl);
	filter_name(&fl, "");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3");
	filter_free(&fl);
}

static void
test_many_names(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	char name[32];
	int i;

	/* Thousands of names on one object: indexed, re-indexed and removed (and in n log n, not n^2). */
	o = obj_new("1", "alice", OT_SYMMETRIC, ST_ACTIVE);
	for (i = 0; i < 4000; i++) {
		snprintf(name, sizeof(name), "n%d", i % 3000);	/* 1000 repeated */
		add_name(o, name);
	}
	put_durable(f->s, o);
	store_object_free(o);
	assert_int_equal(index_total(f->s), 3 + 3000);
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n2999", 0), "1");
	o = obj_new("1", "alice", OT_SYMMETRIC, ST_ACTIVE);
	for (i = 1500; i < 4500; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		add_name(o, name);
	}
	put_durable(f->s, o);
	store_object_free(o);
	assert_int_equal(index_total(f->s), 3 + 3000);
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n0", 0), "");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n1500", 0), "1");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "n4499", 0), "1");
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "1"), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(index_total(f->s), 0);
}

/* A small population for the Locate tests. */
static void
populate(struct store *s)
{
	struct store_object *o;

	/* 1: alice, AES key "db-key", group backups, encrypt|decrypt, created day 100 */
	o = obj_new("1", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "db-key");
	add_enum(o, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 3);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT | USAGE_DECRYPT);
	add_text(o, KMIP_TAG_OBJECT_GROUP, "backups");
	add_date(o, KMIP_TAG_INITIAL_DATE, 100 * 86400);
	add_vendor(o, "x", "Product", "vSphere");
	ttlv_append(o->attrs, ttlv_new_bool(o->arena, KMIP_TAG_FRESH, true));
	put_durable(s, o);
	store_object_free(o);
	/* 2: alice, public key "job-1" linked to 3 */
	o = obj_new("2", "alice", OT_PUBLIC, ST_ACTIVE);
	add_name(o, "job-1");
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT);
	add_link(o, LT_PRIVATE, "3");
	add_date(o, KMIP_TAG_INITIAL_DATE, 200 * 86400);
	put_durable(s, o);
	store_object_free(o);
	/* 3: alice, private key "job-1" linked to 2, pre-active */
	o = obj_new("3", "alice", OT_PRIVATE, ST_PREACTIVE);
	add_name(o, "job-1");
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_SIGN | USAGE_DECRYPT);
	add_link(o, LT_PUBLIC, "2");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "backups");
	add_date(o, KMIP_TAG_INITIAL_DATE, 300 * 86400);
	put_durable(s, o);
	store_object_free(o);
	/* 4: bob, AES "db-key" in group backups */
	o = obj_new("4", "bob", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "db-key");
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT | USAGE_DECRYPT);
	add_text(o, KMIP_TAG_OBJECT_GROUP, "backups");
	add_date(o, KMIP_TAG_INITIAL_DATE, 400 * 86400);
	put_durable(s, o);
	store_object_free(o);
	/* 5: alice, destroyed AES "old-key" */
	o = obj_new("5", "alice", OT_SYMMETRIC, ST_DESTROYED);
	add_name(o, "old-key");
	add_text(o, KMIP_TAG_OBJECT_GROUP, "backups");
	put_durable(s, o);
	store_object_free(o);
	/* 6: alice, AES "db-key" 128 bits, not fresh */
	o = obj_new("6", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "db-key");
	add_name(o, "db-key-alias");
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
	add_int(o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT);
	add_text(o, KMIP_TAG_OBJECT_GROUP, "backups");
	ttlv_append(o->attrs, ttlv_new_bool(o->arena, KMIP_TAG_FRESH, false));
	put_durable(s, o);
	store_object_free(o);
}

static void
test_locate_basic(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct filter fl;

	populate(f->s);
	/* No filter: every on-line object of the caller, newest first. */
	assert_string_equal(locate(f->s, &q), "6,3,2,1");
	/* Name + object type. */
	filter_init(&fl);
	filter_name(&fl, "job-1");
	filter_enum(&fl, KMIP_TAG_OBJECT_TYPE, OT_PRIVATE);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3");
	filter_free(&fl);
	/* Name alone: both of alice's job-1 keys. */
	filter_init(&fl);
	filter_name(&fl, "job-1");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3,2");
	filter_free(&fl);
	/* Object type from the query field. */
	q.object_type = OT_SYMMETRIC;
	q.filter = NULL;
	assert_string_equal(locate(f->s, &q), "6,1");
	q.object_type = 0;
	/* State. */
	filter_init(&fl);
	filter_enum(&fl, KMIP_TAG_STATE, ST_PREACTIVE);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3");
	filter_free(&fl);
	/* Group + state. */
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_OBJECT_GROUP, "backups");
	filter_enum(&fl, KMIP_TAG_STATE, ST_ACTIVE);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "6,1");
	filter_free(&fl);
	/* Two names: the object must carry both. */
	filter_init(&fl);
	filter_name(&fl, "db-key");
	filter_name(&fl, "db-key-alias");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "6");
	filter_free(&fl);
	/* Unique Identifier. */
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_UNIQUE_IDENTIFIER, "2");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "2");
	filter_free(&fl);
	/* A name nobody has. */
	filter_init(&fl);
	filter_name(&fl, "nothing");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
}

static void
test_locate_links_masks_dates(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct filter fl;

	populate(f->s);
	/* Link by target only: any link type. */
	filter_init(&fl);
	filter_link(&fl, 0, "3");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "2");
	filter_free(&fl);
	/* Link with the right type, then the wrong one. */
	filter_init(&fl);
	filter_link(&fl, LT_PRIVATE, "3");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "2");
	filter_free(&fl);
	filter_init(&fl);
	filter_link(&fl, LT_PUBLIC, "3");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	/* Link type only (no index): objects with a Public Key Link. */
	filter_init(&fl);
	filter_link(&fl, LT_PUBLIC, NULL);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3");
	filter_free(&fl);
	/* Usage mask: every bit of the filter. */
	filter_init(&fl);
	filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "6,2,1");
	filter_free(&fl);
	filter_init(&fl);
	filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_ENCRYPT | USAGE_DECRYPT);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "1");
	filter_free(&fl);
	filter_init(&fl);
	filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, USAGE_DECRYPT);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3,1");
	filter_free(&fl);
	/* Dates: one value is exact, two a range. */
	filter_init(&fl);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 200 * 86400);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "2");
	filter_free(&fl);
	filter_init(&fl);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 150 * 86400);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 300 * 86400);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "3,2");
	filter_free(&fl);
	filter_init(&fl);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 301 * 86400);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 999 * 86400);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	/* A date the objects do not have matches nothing. */
	filter_init(&fl);
	filter_date(&fl, KMIP_TAG_ACTIVATION_DATE, 0);
	filter_date(&fl, KMIP_TAG_ACTIVATION_DATE, 999 * 86400);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
}

static void
test_locate_bad_dates(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct store_txn *t;
	struct filter fl;
	char **uids, *cause = NULL;
	size_t n;
	int i;

	populate(f->s);
	filter_init(&fl);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 1);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 2);
	filter_date(&fl, KMIP_TAG_INITIAL_DATE, 3);
	q.filter = fl.f;
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_locate(t, &q, &uids, &n, &cause), STORE_E_INVALID);
	assert_non_null(cause);
	assert_null(uids);
	assert_int_equal(n, 0);
	store_txn_abort(t);
	free(cause);
	cause = NULL;
	filter_free(&fl);
	/* An oversized filter is refused before any candidate is read. */
	filter_init(&fl);
	for (i = 0; i <= STORE_FILTER_MAX; i++)
		filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, i);
	q.filter = fl.f;
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_locate(t, &q, &uids, &n, &cause), STORE_E_INVALID);
	assert_non_null(cause);
	store_txn_abort(t);
	free(cause);
	filter_free(&fl);
}

static void
test_locate_unknown_attributes(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct filter fl;
	struct ttlv *a;

	populate(f->s);
	/* An attribute the store has no rule for is compared, never ignored. */
	filter_init(&fl);
	filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "6");
	filter_free(&fl);
	filter_init(&fl);
	filter_int(&fl, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 192);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	/* Same tag, other type: no match. */
	filter_init(&fl);
	filter_enum(&fl, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	/* A vendor attribute: whole, with a wrong value, and by name only. */
	filter_init(&fl);
	a = ttlv_new_struct(fl.a, KMIP_TAG_ATTRIBUTE);
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_VENDOR_IDENTIFICATION, "x", 1));
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_ATTRIBUTE_NAME, "Product", 7));
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_ATTRIBUTE_VALUE, "vSphere", 7));
	ttlv_append(fl.f, a);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "1");
	filter_free(&fl);
	filter_init(&fl);
	a = ttlv_new_struct(fl.a, KMIP_TAG_ATTRIBUTE);
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_VENDOR_IDENTIFICATION, "x", 1));
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_ATTRIBUTE_NAME, "Product", 7));
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_ATTRIBUTE_VALUE, "vCenter", 7));
	ttlv_append(fl.f, a);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	filter_init(&fl);
	a = ttlv_new_struct(fl.a, KMIP_TAG_ATTRIBUTE);
	ttlv_append(a, ttlv_new_text(fl.a, KMIP_TAG_ATTRIBUTE_NAME, "Product", 7));
	ttlv_append(fl.f, a);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "1");
	filter_free(&fl);
	/* Object Group Member Fresh: only objects whose Fresh is true. */
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_OBJECT_GROUP, "backups");
	filter_enum(&fl, KMIP_TAG_OBJECT_GROUP_MEMBER, 1);
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "1");
	filter_free(&fl);
	/* Group Member Default adds no condition; with Maximum Items 1 it is the newest. */
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_OBJECT_GROUP, "backups");
	filter_enum(&fl, KMIP_TAG_OBJECT_GROUP_MEMBER, 2);
	q.filter = fl.f;
	q.maximum_items = 1;
	assert_string_equal(locate(f->s, &q), "6");
	filter_free(&fl);
}

static void
test_locate_paging_and_status(void **state)
{
	struct fx *f = *state;
	struct store_query q = { .identity = "alice" };
	struct filter fl;
	size_t located = 0;

	populate(f->s);
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_OBJECT_GROUP, "backups");
	q.filter = fl.f;
	/* On-line only by default: destroyed object 5 is left out. */
	assert_string_equal(locate(f->s, &q), "6,3,1");
	q.storage_status_mask = STORE_STATUS_DESTROYED;
	assert_string_equal(locate(f->s, &q), "5");
	q.storage_status_mask = STORE_STATUS_ONLINE | STORE_STATUS_DESTROYED;
	assert_string_equal(locate(f->s, &q), "6,5,3,1");
	q.storage_status_mask = STORE_STATUS_ARCHIVAL;
	assert_string_equal(locate(f->s, &q), "");
	q.storage_status_mask = STORE_STATUS_ONLINE | STORE_STATUS_ARCHIVAL;
	assert_string_equal(locate(f->s, &q), "6,3,1");
	q.storage_status_mask = 0;
	/* Maximum Items and Offset Items. */
	q.maximum_items = 2;
	assert_string_equal(locate(f->s, &q), "6,3");
	q.offset_items = 1;
	assert_string_equal(locate(f->s, &q), "3,1");
	q.offset_items = 2;
	assert_string_equal(locate(f->s, &q), "1");
	q.offset_items = 3;
	assert_string_equal(locate(f->s, &q), "");
	/* Located Items counts every match whatever the page. */
	q.offset_items = 1;
	q.maximum_items = 1;
	q.located_items = &located;
	assert_string_equal(locate(f->s, &q), "3");
	assert_int_equal(located, 3);
	filter_free(&fl);
}

static void
test_owner_isolation(void **state)
{
	struct fx *f = *state;
	struct store_query q = { 0 };
	struct filter fl;
	size_t located = 0;

	populate(f->s);
	/* bob sees only object 4, even by alice's names, groups and identifiers. */
	q.identity = "bob";
	assert_string_equal(locate(f->s, &q), "4");
	filter_init(&fl);
	filter_name(&fl, "db-key");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "4");
	filter_free(&fl);
	filter_init(&fl);
	filter_name(&fl, "job-1");
	q.filter = fl.f;
	q.located_items = &located;
	assert_string_equal(locate(f->s, &q), "");
	assert_int_equal(located, 0);
	q.located_items = NULL;
	filter_free(&fl);
	filter_init(&fl);
	filter_text(&fl, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	filter_init(&fl);
	filter_link(&fl, 0, "3");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "");
	filter_free(&fl);
	/* An identity that owns nothing, a prefix of another, and none at all. */
	q.filter = NULL;
	q.identity = "ali";
	assert_string_equal(locate(f->s, &q), "");
	q.identity = "mallory";
	q.storage_status_mask = STORE_STATUS_ONLINE | STORE_STATUS_DESTROYED;
	assert_string_equal(locate(f->s, &q), "");
	q.identity = NULL;
	assert_string_equal(locate(f->s, &q), "");
	/* The administrator sees everyone's. */
	q.is_admin = true;
	assert_string_equal(locate(f->s, &q), "6,5,4,3,2,1");
	filter_init(&fl);
	filter_name(&fl, "db-key");
	q.filter = fl.f;
	assert_string_equal(locate(f->s, &q), "6,4,1");
	filter_free(&fl);
}

/* Builds an object with material of size len. */
static struct store_object *
big_obj(const char *uid, size_t len)
{
	struct store_object *o = obj_new(uid, "alice", OT_SYMMETRIC, ST_ACTIVE);
	uint8_t *m = malloc(len);

	assert_non_null(m);
	memset(m, 0xA5, len);
	assert_int_equal(store_object_set_material(o, m, len, 1), STORE_OK);
	free(m);
	add_name(o, uid);
	return o;
}

/* Counts the objects readable through a read transaction, checking each one decodes. */
static size_t
count_readable(struct store *s)
{
	struct store_query q = { .is_admin = true,
	    .storage_status_mask = STORE_STATUS_ONLINE | STORE_STATUS_DESTROYED };
	struct store_txn *t;
	struct store_object *o;
	char **uids, *cause = NULL;
	size_t n, i;

	assert_int_equal(store_txn_begin(s, false, &t), STORE_OK);
	assert_int_equal(store_locate(t, &q, &uids, &n, &cause), STORE_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(store_get(t, uids[i], &o), STORE_OK);
		store_object_free(o);
	}
	store_txn_abort(t);
	store_uids_free(uids, n);
	return n;
}

static void
test_map_full_at_cap(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct store_stats st;
	char uid[16];
	int i, rc = STORE_OK, acked = 0, full = 0;

	/* 128 KiB, no room to grow: writes end in STORE_E_FULL, never a crash. */
	for (i = 0; i < 200 && full < 5; i++) {
		snprintf(uid, sizeof(uid), "%d", i + 1);
		o = big_obj(uid, 1500);
		assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
		rc = store_put(t, o);
		if (rc == STORE_OK)
			rc = store_txn_commit(t);
		else	/* a transaction whose write failed refuses to commit */
			assert_int_equal(store_txn_commit(t), rc);
		if (rc == STORE_OK)
			rc = store_group_commit(f->s, NULL, NULL);
		store_object_free(o);
		if (rc == STORE_OK)
			acked++;
		else {
			assert_int_equal(rc, STORE_E_FULL);
			full++;
		}
	}
	assert_int_equal(full, 5);
	assert_true(acked > 0);
	/* It still reads everything acknowledged, and keeps refusing writes cleanly. */
	assert_int_equal(count_readable(f->s), acked);
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_int_equal(st.map_size, 128 * 1024);
	assert_int_equal(st.grows, 0);
	assert_int_equal(st.objects, acked);
	/* After a restart it still opens, reads everything and answers writes with STORE_E_FULL. */
	reopen(f);
	assert_int_equal(count_readable(f->s), acked);
	o = big_obj("new", 1500);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	rc = store_put(t, o);
	if (rc == STORE_OK)
		rc = store_txn_commit(t);
	else
		store_txn_abort(t);
	if (rc == STORE_OK)
		rc = store_group_commit(f->s, NULL, NULL);
	assert_int_equal(rc, STORE_E_FULL);
	store_object_free(o);
	assert_int_equal(count_readable(f->s), acked);
}

/*
 * A group larger than the map: writes are staged in memory, so none is refused while the map can still
 * grow; the group commit finds the map full, grows it and writes the group again.
 */
static void
test_map_full_then_growth(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct store_stats st;
	char uid[16];
	uint64_t grown;
	int i;

	/* Each object is 4 KiB; a group of 40 cannot fit in 64 KiB. */
	for (i = 0; i < 40; i++) {
		snprintf(uid, sizeof(uid), "%d", i + 1);
		o = big_obj(uid, 4000);
		assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
		assert_int_equal(store_put(t, o), STORE_OK);
		assert_int_equal(store_txn_commit(t), STORE_OK);
		store_object_free(o);
	}
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_true(st.grows > 0);
	assert_true(st.replays > 0);
	assert_true(st.map_size > 64 * 1024);
	assert_true(st.map_size <= 16 * 1024 * 1024);
	assert_int_equal(st.objects, 40);
	grown = st.map_size;
	/* A restart keeps the grown map instead of going back to the configured 64 KiB. */
	reopen(f);
	assert_int_equal(count_readable(f->s), 40);
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_int_equal(st.map_size, grown);
}

static void
test_group_commit_replays_after_growth(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;
	struct store_stats st;
	char uid[16];
	int i, rc, ok = 0;

	/*
	 * Children that fit keep their writes even when the group's own commit finds the map full: the
	 * store grows and applies the group again. Fill one group to the brim.
	 */
	for (i = 0; i < 60; i++) {
		snprintf(uid, sizeof(uid), "%d", i + 1);
		o = big_obj(uid, 700);
		assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
		rc = store_put(t, o);
		if (rc == STORE_OK)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		store_object_free(o);
		if (rc == STORE_OK)
			ok++;
		else
			assert_int_equal(rc, STORE_E_FULL);
	}
	assert_true(ok > 0);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(store_stat(f->s, &st), STORE_OK);
	assert_int_equal(st.objects, ok);
	reopen(f);
	assert_int_equal(count_readable(f->s), ok);
}

static void
test_group_visibility_and_durability(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	assert_false(store_group_pending(f->s));
	/* A child committed into the group is seen by later reads and writes of the group. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_true(store_group_pending(f->s));
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "2", &o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_get(t, "2", &o), STORE_OK);
	store_object_free(o);
	o = obj_new("3", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	/* Closing without the group commit loses the group. */
	reopen(f);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "1", &o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_get(t, "2", &o), STORE_E_NOTFOUND);
	assert_int_equal(store_get(t, "3", &o), STORE_E_NOTFOUND);
	store_txn_abort(t);
	/* With the commit the group survives a reopen. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_false(store_group_pending(f->s));
	reopen(f);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "2", &o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
}

/* Puts one object in its own write transaction. */
static void
put_one(struct fx *f, const char *uid)
{
	struct store_object *o = obj_new(uid, "alice", OT_SYMMETRIC, ST_ACTIVE);
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	store_object_free(o);
}

/* True when uid can be read. */
static bool
present(struct fx *f, const char *uid)
{
	struct store_object *o = NULL;
	struct store_txn *t;
	int rc;

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	rc = store_get(t, uid, &o);
	store_txn_abort(t);
	store_object_free(o);
	return rc == STORE_OK;
}

/* A savepoint drops all of a batch's writes, or keeps them in the group; the rest of the group stays. */
static void
test_batch_savepoint(void **state)
{
	struct fx *f = *state;

	put_one(f, "before");
	assert_int_equal(store_batch_begin(f->s), STORE_OK);
	assert_int_equal(store_batch_begin(f->s), STORE_E_BUSY);
	put_one(f, "undone-1");
	put_one(f, "undone-2");
	assert_true(present(f, "undone-1"));		/* visible inside the batch */
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_E_BUSY);
	assert_int_equal(store_batch_end(f->s, false), STORE_OK);
	assert_false(present(f, "undone-1"));
	assert_false(present(f, "undone-2"));
	assert_true(present(f, "before"));
	assert_int_equal(store_batch_begin(f->s), STORE_OK);
	put_one(f, "kept");
	assert_int_equal(store_batch_end(f->s, true), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	reopen(f);
	assert_true(present(f, "before"));
	assert_true(present(f, "kept"));
	assert_false(present(f, "undone-1"));
}

/*
 * Creates an object of alice's (named name, unless NULL) under a new identifier, copied to uid
 * (STORE_UID_MAX + 1 bytes), in a write transaction of its own; durable makes the group durable after.
 */
static void
create_new(struct fx *f, const char *name, bool durable, char *uid)
{
	struct store_object *o;
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, uid, STORE_UID_MAX + 1), STORE_OK);
	o = obj_new(uid, "alice", OT_SYMMETRIC, ST_ACTIVE);
	if (name != NULL)
		add_name(o, name);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	if (durable)
		assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
}

static void
test_failed_child_keeps_siblings(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o;
	char first[STORE_UID_MAX + 1], failed[STORE_UID_MAX + 1], third[STORE_UID_MAX + 1];

	create_new(f, NULL, false, first);
	/* A request that fails halfway: its object goes away, nothing else does. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, failed, sizeof(failed)), STORE_OK);
	o = obj_new(failed, "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_delete(t, first), STORE_OK);
	store_txn_abort(t);
	assert_true(store_group_pending(f->s));
	/* Not found is an answer, not a failure of the transaction. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "99"), STORE_E_NOTFOUND);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	create_new(f, NULL, true, third);
	assert_string_not_equal(third, failed);
	reopen(f);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, first, &o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_get(t, failed, &o), STORE_E_NOTFOUND);
	assert_int_equal(store_get(t, third, &o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
	assert_int_equal(count_readable(f->s), 2);
}

/* Takes a new identifier (into uid) in a write transaction of its own and ends it (commit, else abort). */
static void
next_uid(struct fx *f, bool commit, char *uid)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_new_uid(t, uid, STORE_UID_MAX + 1), STORE_OK);
	if (commit)
		assert_int_equal(store_txn_commit(t), STORE_OK);
	else
		store_txn_abort(t);
}

/*
 * An identifier is never handed out twice, though what it was taken for was dropped: an aborted
 * transaction, a rollback, an undone batch, and across a restart (with a counter, an abort right after a
 * restart once put back a counter read before the restart and the next create took "1" again, replacing
 * that object). Taking one is not a write: it leaves nothing for the group commit to make durable.
 */
static void
test_uids_never_reused(void **state)
{
	struct fx *f = *state;
	struct store_mark mark;
	struct store_object *o;
	struct store_txn *t;
	char uids[7][STORE_UID_MAX + 1];

	create_new(f, NULL, true, uids[0]);
	reopen(f);
	next_uid(f, false, uids[1]);
	store_mark(f->s, &mark);
	next_uid(f, true, uids[2]);
	assert_int_equal(store_rollback(f->s, &mark), STORE_OK);
	assert_int_equal(store_batch_begin(f->s), STORE_OK);
	next_uid(f, true, uids[3]);
	assert_int_equal(store_batch_end(f->s, false), STORE_OK);
	next_uid(f, false, uids[4]);
	assert_false(store_group_pending(f->s));
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	reopen(f);
	next_uid(f, false, uids[5]);
	create_new(f, NULL, true, uids[6]);
	assert_all_distinct(uids, 7);
	/* And the first is still alice's first object. */
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, uids[0], &o), STORE_OK);
	assert_string_equal(o->owner, "alice");
	store_object_free(o);
	store_txn_abort(t);
	assert_int_equal(count_readable(f->s), 2);
}

static void
test_one_txn_at_a_time(void **state)
{
	struct fx *f = *state;
	struct store_txn *t, *t2;

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, false, &t2), STORE_E_BUSY);
	assert_null(t2);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_E_BUSY);
	store_txn_abort(t);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, true, &t2), STORE_E_BUSY);
	store_txn_abort(t);
	assert_false(store_group_pending(f->s));
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
}

static void
test_no_group_mode(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_object *o;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_false(store_group_pending(f->s));
	/* Durable without any group commit. */
	reopen(f);
	assert_int_equal(count_readable(f->s), 2);
	/* An aborted write leaves nothing. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "1"), STORE_OK);
	store_txn_abort(t);
	assert_int_equal(count_readable(f->s), 2);
}

/* Stages (without the group commit) a renamed copy of uid for owner/item, as a request would. */
static void
stage_rename(struct fx *f, uint64_t owner, uint32_t item, const char *uid, const char *name)
{
	struct store_object *o;
	struct store_txn *t;

	store_set_owner(f->s, owner, item);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_get(t, uid, &o), STORE_OK);
	(void)ttlv_remove(o->attrs, KMIP_TAG_NAME, -1);
	add_name(o, name);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	store_object_free(o);
	store_set_owner(f->s, 0, 0);
}

/* What rename_elsewhere() does to an object in another process. */
struct rename_args {
	const char *uid;
	const char *name;
	bool create;			/* make a new object instead of changing the stored one */
};

/* Gives *obj the name in arg (a struct rename_args), making the object first when asked to. */
static int
rename_elsewhere(struct store_object **obj, void *arg)
{
	const struct rename_args *r = arg;

	if (r->create) {
		store_object_free(*obj);
		*obj = obj_new(r->uid, "mallory", OT_SYMMETRIC, ST_ACTIVE);
	}
	if (*obj == NULL)
		return -1;
	(void)ttlv_remove((*obj)->attrs, KMIP_TAG_NAME, -1);
	add_name(*obj, r->name);
	return 0;
}

/*
 * In another process, opens the store, renames uid (or creates it when create) in its own group and commits.
 * Returns the child's exit status: 0 when done, 3 when it did not finish within 5 s (it was waiting for a
 * writer lock).
 */
static int
other_process_writes(struct fx *f, const char *uid, const char *name, bool create)
{
	struct rename_args r = { uid, name, create };

	return util_store_write_elsewhere(&f->o, uid, rename_elsewhere, &r);
}

/* The name of uid as a read sees it now ("" when it has none or does not exist). */
static const char *
name_of(struct fx *f, const char *uid)
{
	static char buf[128];
	const struct ttlv *n, *v;
	struct store_object *o = NULL;
	struct store_txn *t;

	buf[0] = '\0';
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	if (store_get(t, uid, &o) == STORE_OK && (n = ttlv_find(o->attrs, KMIP_TAG_NAME)) != NULL &&
	    (v = ttlv_find(n, KMIP_TAG_NAME_VALUE)) != NULL)
		snprintf(buf, sizeof(buf), "%.*s", (int)v->length, (const char *)v->v.bytes.data);
	store_txn_abort(t);
	store_object_free(o);
	return buf;
}

struct conflicts {
	unsigned n;
	uint64_t owner[8];
	uint32_t item[8];
	char uid[8][STORE_UID_MAX + 1];
};

/* Notes each (owner, item) reported, once: one may be named twice (as a writer and as a reader). */
static void
note_conflict(void *arg, uint64_t owner, uint32_t item, const char *uid)
{
	struct conflicts *c = arg;
	unsigned i;

	for (i = 0; i < c->n; i++)
		if (c->owner[i] == owner && c->item[i] == item)
			return;
	assert_true(c->n < 8);
	c->owner[c->n] = owner;
	c->item[c->n] = item;
	snprintf(c->uid[c->n], sizeof(c->uid[c->n]), "%s", uid);
	c->n++;
}

/*
 * Writes are staged, not held: while the group holds committed writes, no LMDB write transaction is open,
 * so another process writes the same store at once instead of waiting for this group's commit.
 */
static void
test_staged_group_holds_no_lock(void **state)
{
	struct fx *f = *state;
	struct conflicts c = { 0 };

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	stage_rename(f, 7, 0, "1", "one-renamed");
	assert_true(store_group_pending(f->s));
	assert_int_equal(other_process_writes(f, "2", "two", true), 0);
	assert_int_equal(store_group_commit(f->s, note_conflict, &c), STORE_OK);
	assert_int_equal(c.n, 0);
	assert_string_equal(name_of(f, "1"), "one-renamed");
	assert_string_equal(name_of(f, "2"), "two");
}

/*
 * An object another process changed after a change set read it: that change set is skipped and reported
 * (owner, item, uid), and so is whoever read its staged write; everything else of the group is kept.
 */
static void
test_conflict_skips_one_change_set(void **state)
{
	struct fx *f = *state;
	struct conflicts c = { 0 };
	struct store_object *o;
	struct store_txn *t;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_ACTIVE, "two");
	stage_rename(f, 7, 0, "1", "mine");		/* request 7 changes 1 */
	stage_rename(f, 8, 1, "2", "also-mine");	/* request 8 changes 2: untouched by anyone else */
	/* Request 9 reads 1 as staged by 7: it depends on it. */
	store_set_owner(f->s, 9, 0);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "1", &o), STORE_OK);
	store_object_free(o);
	store_txn_abort(t);
	store_set_owner(f->s, 0, 0);
	assert_int_equal(other_process_writes(f, "1", "theirs", false), 0);
	assert_int_equal(store_group_commit(f->s, note_conflict, &c), STORE_OK);
	assert_int_equal(c.n, 2);
	assert_true((c.owner[0] == 7 && c.owner[1] == 9) || (c.owner[0] == 9 && c.owner[1] == 7));
	assert_string_equal(c.uid[0], "1");
	assert_string_equal(c.uid[1], "1");
	assert_string_equal(name_of(f, "1"), "theirs");		/* never silently overwritten */
	assert_string_equal(name_of(f, "2"), "also-mine");
	reopen(f);
	assert_string_equal(name_of(f, "1"), "theirs");
	assert_string_equal(name_of(f, "2"), "also-mine");
}

/* A change set built on another's staged write falls with it; an Undo batch falls whole. */
static void
test_conflict_follows_dependencies_and_batches(void **state)
{
	struct fx *f = *state;
	struct conflicts c = { 0 };

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_ACTIVE, "two");
	put_simple(f->s, "3", "alice", OT_SYMMETRIC, ST_ACTIVE, "three");
	stage_rename(f, 7, 0, "1", "a");
	stage_rename(f, 8, 0, "1", "b");		/* built on 7's write */
	/* An Undo batch: item 0 changes 3 (nobody else does), item 1 changes 2 (someone else will). */
	assert_int_equal(store_batch_begin(f->s), STORE_OK);
	stage_rename(f, 9, 0, "3", "batch-3");
	stage_rename(f, 9, 1, "2", "batch-2");
	assert_int_equal(store_batch_end(f->s, true), STORE_OK);
	assert_int_equal(other_process_writes(f, "1", "theirs-1", false), 0);
	assert_int_equal(other_process_writes(f, "2", "theirs-2", false), 0);
	assert_int_equal(store_group_commit(f->s, note_conflict, &c), STORE_OK);
	assert_int_equal(c.n, 4);			/* 7, 8, and both items of 9 */
	assert_string_equal(name_of(f, "1"), "theirs-1");
	assert_string_equal(name_of(f, "2"), "theirs-2");
	assert_string_equal(name_of(f, "3"), "three");	/* the batch's other write went with it */
}

/* Without group commit a write transaction is applied at its commit: a conflict is its commit's answer. */
static void
test_conflict_without_group_commit(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_get(t, "1", &o), STORE_OK);
	(void)ttlv_remove(o->attrs, KMIP_TAG_NAME, -1);
	add_name(o, "mine");
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(other_process_writes(f, "1", "theirs", false), 0);
	assert_int_equal(store_txn_commit(t), STORE_E_CONFLICT);
	assert_string_equal(name_of(f, "1"), "theirs");
	assert_false(store_group_pending(f->s));
}

/* Locate and the index lists see the group's staged writes: creations, renames and removals. */
static void
test_locate_sees_staged_writes(void **state)
{
	struct fx *f = *state;
	struct store_query q;
	struct store_object *o;
	struct store_txn *t;
	struct filter fl;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "k");
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_ACTIVE, "k");
	put_simple(f->s, "3", "alice", OT_SYMMETRIC, ST_ACTIVE, "other");
	/* Staged: 4 created as "k", 3 renamed to "k", 2 removed. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	o = obj_new("4", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "k");
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_delete(t, "2"), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	stage_rename(f, 0, 0, "3", "k");
	filter_init(&fl);
	filter_name(&fl, "k");
	memset(&q, 0, sizeof(q));
	q.identity = "alice";
	q.filter = fl.f;
	/* Newest first: 4 (created last), 3, 1; 2 is gone. */
	assert_string_equal(locate(f->s, &q), "4,3,1");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "k", 0), "4,3,1");
	q.maximum_items = 1;
	q.offset_items = 1;
	assert_string_equal(locate(f->s, &q), "3");
	q.maximum_items = 0;
	q.offset_items = 0;
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_string_equal(locate(f->s, &q), "4,3,1");
	reopen(f);
	assert_string_equal(locate(f->s, &q), "4,3,1");
	assert_string_equal(index_list(f->s, STORE_IDX_NAME, "k", 0), "4,3,1");
	filter_free(&fl);
}

/*
 * Locate and the index lists answer newest first by creation sequence, never by identifier: objects
 * created one after the other, durable or still staged, come back in reverse order of creation although
 * their random identifiers sort any which way.
 */
static void
test_newest_first_by_creation(void **state)
{
	struct fx *f = *state;
	char uids[20][STORE_UID_MAX + 1], want[20 * (STORE_UID_MAX + 1)];
	struct store_query q;
	struct filter fl;
	bool ascending = true, descending = true;
	size_t i, off = 0;
	int pass;

	for (i = 0; i < 20; i++)
		create_new(f, "same", i < 14, uids[i]);	/* the last six stay staged */
	for (i = 20; i-- > 0;)
		off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%s", off > 0 ? "," : "", uids[i]);
	/* The identifiers themselves are in no order: sorting them would not give the answer. */
	for (i = 1; i < 20; i++) {
		ascending = ascending && strcmp(uids[i - 1], uids[i]) < 0;
		descending = descending && strcmp(uids[i - 1], uids[i]) > 0;
	}
	assert_false(ascending || descending);
	filter_init(&fl);
	filter_name(&fl, "same");
	memset(&q, 0, sizeof(q));
	q.identity = "alice";
	for (pass = 0; pass < 2; pass++) {
		q.filter = fl.f;
		assert_string_equal(locate(f->s, &q), want);
		assert_string_equal(index_list(f->s, STORE_IDX_NAME, "same", 0), want);
		assert_string_equal(index_list(f->s, STORE_IDX_OWNER, "alice", 0), want);
		q.filter = NULL;	/* every object: the creation-sequence table */
		assert_string_equal(locate(f->s, &q), want);
		/* The same once all of them are durable, after a restart. */
		assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
		reopen(f);
	}
	filter_free(&fl);
}

/*
 * Runs store_backup_file (or, with restore, store_restore of the file path into the folder dest) in a child
 * process, as kmipctl does: LMDB must not have one environment open twice in a process. Returns its
 * result (40 when what it copied does not count objects); *cause_set tells whether it gave a cause.
 */
static int
backup_in_child(const char *path, const char *dest, bool restore, uint64_t objects, bool *cause_set)
{
	struct store_backup_info info;
	char *cause = NULL;
	uint64_t present;
	int status, rc;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (restore)
			rc = store_restore(path, dest, NULL, NULL, &present, &info, &cause);
		else
			rc = store_backup_file(path, dest, NULL, NULL, &info, &cause);
		/* The copy's own counts: the objects, none in clear. */
		if (rc == STORE_OK && (info.objects != objects || info.clear != 0 || !info.encrypted ||
		    info.bytes == 0))
			rc = 40;
		_exit(rc * 2 + (cause != NULL));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	*cause_set = WEXITSTATUS(status) & 1;
	return WEXITSTATUS(status) / 2;
}

/* Opens a backup file, or a store folder, read-only with the test master key; checks what it holds. */
static void
check_copy(const char *path, bool single_file)
{
	struct store_options o;
	struct store *b;
	struct store_txn *t;
	struct store_object *obj;
	char *cause = NULL;

	store_options_init(&o);
	o.master = util_store_master_key();
	o.path = path;
	o.read_only = true;
	o.single_file = single_file;
	if (store_open(&o, &b, &cause) != STORE_OK)
		fail_msg("%s does not open: %s", path, cause);
	assert_int_equal(count_readable(b), 6);
	assert_int_equal(store_txn_begin(b, false, &t), STORE_OK);
	assert_int_equal(store_get(t, "99", &obj), STORE_E_NOTFOUND);
	assert_int_equal(store_get(t, "1", &obj), STORE_OK);
	assert_string_equal(obj->owner, "alice");
	store_object_free(obj);
	store_txn_abort(t);
	store_close(b);
}

static void
test_backup(void **state)
{
	struct fx *f = *state;
	struct store_options o;
	struct store *b;
	struct store_txn *t;
	struct store_object *obj;
	char dest[128], restored[128], *cause = NULL;
	struct stat st;
	bool cause_set;

	populate(f->s);
	/* A pending group is not in the copy: only durable state is. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	obj = obj_new("99", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, obj), STORE_OK);
	store_object_free(obj);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	snprintf(dest, sizeof(dest), "%s/backup.mdb", f->dir);
	assert_int_equal(backup_in_child(f->path, dest, false, 6, &cause_set), STORE_OK);
	assert_false(cause_set);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(stat(dest, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Refuses to overwrite a file, or to copy what is not a store. */
	assert_int_equal(backup_in_child(f->path, dest, false, 6, &cause_set), STORE_E_INVALID);
	assert_true(cause_set);
	snprintf(restored, sizeof(restored), "%s/other.mdb", f->dir);
	assert_int_equal(backup_in_child("/nonexistent/store", restored, false, 6, &cause_set), STORE_E_INVALID);
	assert_true(cause_set);
	assert_int_equal(access(restored, F_OK), -1);
	/* The file opens read-only as a store with the same objects, and only read-only. */
	check_copy(dest, true);
	store_options_init(&o);
	o.master = util_store_master_key();
	o.path = dest;
	o.single_file = true;
	assert_int_equal(store_open(&o, &b, &cause), STORE_E_INVALID);
	free(cause);
	cause = NULL;

	/* Restored: not into a store that is open (here, by this process), nor one that holds objects. */
	assert_int_equal(backup_in_child(dest, f->path, true, 6, &cause_set), STORE_E_BUSY);
	assert_true(cause_set);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(backup_in_child(dest, f->path, true, 6, &cause_set), STORE_E_INVALID);
	assert_true(cause_set);
	/* Into a new folder it is a store folder again, private to its owner. */
	snprintf(restored, sizeof(restored), "%s/restored", f->dir);
	assert_int_equal(backup_in_child(dest, restored, true, 6, &cause_set), STORE_OK);
	assert_false(cause_set);
	assert_int_equal(stat(restored, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(restored, sizeof(restored), "%s/restored/data.mdb", f->dir);
	assert_int_equal(stat(restored, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(restored, sizeof(restored), "%s/restored", f->dir);
	check_copy(restored, false);
}

/*
 * A restored older copy of the store never hands out an identifier again. Objects are created, the store is
 * backed up (by another process, as kmipctl backup does), more objects are created and an identifier is
 * taken for a write that is dropped; then the copy is opened in place of the store, as an operator restores
 * a backup, and objects are created there: none of their identifiers is one handed out before. (A counter
 * kept in the store went back with the copy and handed the later objects' identifiers out again.)
 */
static void
test_uids_unique_after_restore(void **state)
{
	struct fx *f = *state;
	char uids[12][STORE_UID_MAX + 1], dest[sizeof(((struct fx *)0)->path)], file[sizeof(dest) + 8];
	struct store_object *o;
	struct store_txn *t;
	bool cause_set;
	size_t n = 0, i;

	for (i = 0; i < 3; i++)
		create_new(f, NULL, true, uids[n++]);
	snprintf(file, sizeof(file), "%s/backup.mdb", f->dir);
	assert_int_equal(backup_in_child(f->path, file, false, 3, &cause_set), STORE_OK);
	for (i = 0; i < 3; i++)
		create_new(f, NULL, true, uids[n++]);
	next_uid(f, false, uids[n++]);
	store_close(f->s);
	f->s = NULL;
	/* Restored: the store is now the copy, which knows nothing of what came after it. */
	snprintf(dest, sizeof(dest), "%s/restored", f->dir);
	assert_int_equal(backup_in_child(file, dest, true, 3, &cause_set), STORE_OK);
	snprintf(f->path, sizeof(f->path), "%s", dest);
	assert_int_equal(open_store(f), STORE_OK);
	assert_int_equal(count_readable(f->s), 3);
	for (i = 0; i < 5; i++)
		create_new(f, NULL, true, uids[n++]);
	assert_all_distinct(uids, n);
	/* The objects of before the backup are the copy's, untouched by the new ones. */
	assert_int_equal(count_readable(f->s), 8);
	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_get(t, uids[i], &o), STORE_OK);
		store_object_free(o);
	}
	store_txn_abort(t);
}

static void
test_files_private(void **state)
{
	struct fx *f = *state;
	char p[160];
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/data.mdb", f->path);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
	snprintf(p, sizeof(p), "%s/lock.mdb", f->path);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
}

static void
test_relaxed_sync(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	f->s = NULL;
	f->o.sync = STORE_SYNC_RELAXED;
	assert_int_equal(open_store(f), STORE_OK);
	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	reopen(f);
	assert_int_equal(count_readable(f->s), 1);
}

static void
test_open_errors(void **state)
{
	struct store_options o;
	struct store *s = NULL;
	char *cause = NULL;

	(void)state;
	store_options_init(&o);
	o.master = util_store_master_key();
	assert_int_equal(store_open(&o, &s, &cause), STORE_E_INVALID);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	o.path = "/proc/version/store";
	assert_int_not_equal(store_open(&o, &s, &cause), STORE_OK);
	assert_null(s);
	assert_non_null(cause);
	free(cause);
	assert_string_equal(store_strerror(STORE_E_FULL), "store is full");
}

static void
test_ttlv_copy(void **state)
{
	struct store_object *o = store_object_new(), *p = store_object_new();
	struct ttlv *c;

	(void)state;
	assert_non_null(o);
	assert_non_null(p);
	assert_int_equal(store_object_set(o, "1", "a", 1, 1), STORE_OK);
	add_name(o, "copied");
	add_vendor(o, "x", "k", "v");
	c = ttlv_copy(p->arena, o->attrs);
	assert_non_null(c);
	store_object_free(o);	/* the copy does not share memory with the original */
	assert_int_equal(ttlv_count(c, KMIP_TAG_NAME), 1);
	assert_string_equal((const char *)ttlv_find(ttlv_find(c, KMIP_TAG_NAME), KMIP_TAG_NAME_VALUE)->v.bytes.data,
	    "copied");
	assert_int_equal(ttlv_remove(c, KMIP_TAG_NAME, 0), 1);
	assert_int_equal(ttlv_remove(c, KMIP_TAG_NAME, 0), 0);
	assert_int_equal(c->v.s.count, 1);
	assert_ptr_equal(c->v.s.first, c->v.s.last);
	store_object_free(p);
}

/* Usage per owner. */

/* An owner's usage as a fresh transaction sees it (staged writes included). */
static struct store_usage
usage_of(struct fx *f, const char *owner)
{
	struct store_usage u;
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
	assert_int_equal(store_usage_get(t, owner, &u), STORE_OK);
	store_txn_abort(t);
	return u;
}

struct usage_list {
	size_t n;
	char owner[8][64];
	struct store_usage u[8];
};

static int
note_usage(void *arg, const char *owner, size_t len, const struct store_usage *u)
{
	struct usage_list *l = arg;

	if (l->n >= 8 || len >= sizeof(l->owner[0]))
		return -1;
	memcpy(l->owner[l->n], owner, len);
	l->owner[l->n][len] = '\0';
	l->u[l->n++] = *u;
	return 0;
}

/* What the durable counters say equals what counting the records again gives. */
static void
assert_usage_recounts(struct fx *f)
{
	struct usage_list before = { 0 }, after = { 0 };
	char *cause = NULL;
	uint64_t n;

	assert_int_equal(store_usage_each(f->s, note_usage, &before), STORE_OK);
	assert_int_equal(store_usage_rebuild(f->s, &n, &cause), STORE_OK);
	assert_int_equal(store_usage_each(f->s, note_usage, &after), STORE_OK);
	assert_int_equal(before.n, after.n);
	assert_memory_equal(before.owner, after.owner, sizeof(before.owner));
	assert_memory_equal(before.u, after.u, sizeof(before.u));
}

/* Counted per owner as the records are written, replaced, destroyed and deleted, kept across a reopen. */
static void
test_usage_counts(void **state)
{
	struct fx *f = *state;
	struct store_usage a, a2, b;
	struct usage_list l = { 0 };
	struct store_object *o;
	struct store_txn *t;
	char longowner[1200];

	a = usage_of(f, "alice");
	assert_int_equal(a.objects, 0);
	assert_int_equal(a.bytes, 0);
	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_ACTIVE, "two");
	put_simple(f->s, "3", "bob", OT_SYMMETRIC, ST_ACTIVE, "three");
	a = usage_of(f, "alice");
	b = usage_of(f, "bob");
	assert_int_equal(a.objects, 2);
	assert_int_equal(b.objects, 1);
	assert_true(b.bytes > 0 && a.bytes > b.bytes);
	assert_int_equal(a.destroyed, 0);
	/* Staged, not yet durable: counted already. */
	o = obj_new("4", "alice", OT_SYMMETRIC, ST_ACTIVE);
	add_name(o, "a rather longer name than the others have");
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	store_object_free(o);
	a2 = usage_of(f, "alice");
	assert_int_equal(a2.objects, 3);
	assert_true(a2.bytes > a.bytes);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(usage_of(f, "alice").bytes, a2.bytes);
	/* Destroyed: still counted, and counted apart. */
	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_DESTROYED, "one");
	a = usage_of(f, "alice");
	assert_int_equal(a.objects, 3);
	assert_int_equal(a.destroyed, 1);
	/* Deleted: gone from the counts. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "1"), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	a2 = usage_of(f, "alice");
	assert_int_equal(a2.objects, 2);
	assert_int_equal(a2.destroyed, 0);
	assert_true(a2.bytes < a.bytes);
	/* An owner longer than an LMDB key is counted under a hash and listed by name. */
	memset(longowner, 'x', sizeof(longowner) - 1);
	longowner[sizeof(longowner) - 1] = '\0';
	put_simple(f->s, "5", longowner, OT_SYMMETRIC, ST_ACTIVE, NULL);
	assert_int_equal(usage_of(f, longowner).objects, 1);
	reopen(f);
	a = usage_of(f, "alice");
	assert_int_equal(a.objects, 2);
	assert_int_equal(a.bytes, a2.bytes);
	assert_int_equal(usage_of(f, "bob").objects, 1);
	assert_int_equal(usage_of(f, "carol").objects, 0);
	assert_int_equal(store_usage_each(f->s, note_usage, &l), -1);	/* the long owner does not fit the list */
	/* Empty again: the owner's entry goes. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_delete(t, "3"), STORE_OK);
	assert_int_equal(store_delete(t, "5"), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_usage_each(f->s, note_usage, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.owner[0], "alice");
	assert_int_equal(l.u[0].objects, 2);
	assert_usage_recounts(f);
}

/* An aborted transaction, a rollback and an undone batch leave the counters as they were. */
static void
test_usage_abort(void **state)
{
	struct fx *f = *state;
	struct store_usage before, u;
	struct store_usage_delta d;
	struct store_object *o;
	struct store_mark m;
	struct store_txn *t;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	before = usage_of(f, "alice");
	/* Inside the transaction its own writes count; aborted, they do not. */
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_delete(t, "1"), STORE_OK);
	assert_int_equal(store_txn_usage_delta(t, "alice", &d), STORE_OK);
	assert_int_equal(d.objects, 0);		/* one in, one out */
	assert_int_equal(store_usage_get(t, "alice", &u), STORE_OK);
	assert_int_equal(u.objects, before.objects);
	store_txn_abort(t);
	u = usage_of(f, "alice");
	assert_int_equal(u.objects, before.objects);
	assert_int_equal(u.bytes, before.bytes);
	/* Committed into the group, then rolled back. */
	store_mark(f->s, &m);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_usage_delta(t, "alice", &d), STORE_OK);
	assert_int_equal(d.objects, 1);
	assert_true(d.bytes > 0);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(usage_of(f, "alice").objects, before.objects + 1);
	assert_int_equal(store_rollback(f->s, &m), STORE_OK);
	assert_int_equal(usage_of(f, "alice").objects, before.objects);
	assert_int_equal(usage_of(f, "alice").bytes, before.bytes);
	/* An Undo batch dropped. */
	assert_int_equal(store_batch_begin(f->s), STORE_OK);
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_put(t, o), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_batch_end(f->s, false), STORE_OK);
	assert_int_equal(usage_of(f, "alice").objects, before.objects);
	store_object_free(o);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	reopen(f);
	u = usage_of(f, "alice");
	assert_int_equal(u.objects, before.objects);
	assert_int_equal(u.bytes, before.bytes);
	assert_usage_recounts(f);
}

/* Renames uid to the name given as arg (another process's write). */
static int
rename_to(struct store_object **obj, void *arg)
{
	if (*obj == NULL)
		return -1;
	(void)ttlv_remove((*obj)->attrs, KMIP_TAG_NAME, -1);
	add_name(*obj, arg);
	return 0;
}

/* A change set skipped at the group commit (another process wrote its object) is not counted. */
static void
test_usage_skipped_change_set(void **state)
{
	struct fx *f = *state;
	struct store_object *o;
	struct store_txn *t;

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	/* A replace that grows "1", and a new object built in the same change set. */
	assert_int_equal(store_txn_begin(f->s, true, &t), STORE_OK);
	assert_int_equal(store_get(t, "1", &o), STORE_OK);
	add_name(o, "a much longer name that grows the record by a good number of bytes");
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	o = obj_new("2", "alice", OT_SYMMETRIC, ST_ACTIVE);
	assert_int_equal(store_put(t, o), STORE_OK);
	store_object_free(o);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(util_store_write_elsewhere(&f->o, "1", rename_to, "theirs-and-quite-long-too"), 0);
	assert_int_equal(store_group_commit(f->s, NULL, NULL), STORE_OK);
	assert_int_equal(usage_of(f, "alice").objects, 1);	/* "2" was not kept */
	assert_usage_recounts(f);
}

/* A store without counters (written before them) is counted at its next writable open. */
static void
test_usage_counted_at_open(void **state)
{
	struct fx *f = *state;
	struct store_usage u;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, usage;
	MDB_val k = { 5, (void *)"usage" };

	put_simple(f->s, "1", "alice", OT_SYMMETRIC, ST_ACTIVE, "one");
	put_simple(f->s, "2", "alice", OT_SYMMETRIC, ST_DESTROYED, "two");
	put_simple(f->s, "3", "bob", OT_SYMMETRIC, ST_ACTIVE, "three");
	u = usage_of(f, "alice");
	store_close(f->s);
	f->s = NULL;
	/* What an older kmipd's store looks like: no usage table, no marker. */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "usage", 0, &usage), 0);
	assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
	assert_int_equal(mdb_drop(txn, usage, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	/* Read-only, nothing is written: no counters to read. */
	f->o.read_only = true;
	assert_int_equal(open_store(f), STORE_OK);
	{
		struct store_txn *t;

		assert_int_equal(store_txn_begin(f->s, false, &t), STORE_OK);
		assert_int_equal(store_usage_get(t, "alice", &u), STORE_E_INVALID);
		store_txn_abort(t);
	}
	store_close(f->s);
	f->s = NULL;
	f->o.read_only = false;
	assert_int_equal(open_store(f), STORE_OK);
	u = usage_of(f, "alice");
	assert_int_equal(u.objects, 2);
	assert_int_equal(u.destroyed, 1);
	assert_int_equal(usage_of(f, "bob").objects, 1);
	assert_usage_recounts(f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_uids_are_uuids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multivalued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indexes_follow_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_and_empty_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_links_masks_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_bad_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_unknown_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_paging_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full_at_cap, setup_tiny, teardown),
		cmocka_unit_test_setup_teardown(test_map_full_then_growth, setup_tiny_growing, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_replays_after_growth, setup_tiny_growing,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_visibility_and_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_child_keeps_siblings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_savepoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uids_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_txn_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_group_mode, setup_nogroup, teardown),
		cmocka_unit_test_setup_teardown(test_staged_group_holds_no_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_skips_one_change_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_follows_dependencies_and_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_without_group_commit, setup_nogroup, teardown),
		cmocka_unit_test_setup_teardown(test_locate_sees_staged_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_first_by_creation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uids_unique_after_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relaxed_sync, setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_ttlv_copy),
		cmocka_unit_test_setup_teardown(test_usage_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_skipped_change_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_counted_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_selected_attributes, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
