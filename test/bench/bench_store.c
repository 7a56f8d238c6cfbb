/*
 * bench_store: figures for the LMDB store (not a test).
 *
 *   bench_store [-n objects] [-q queries] [-t seconds] [-g group] [-d dir] [-k] [-E]
 *
 * Fills a fresh store with n objects (default 1,000,000; one nested write transaction per object, as
 * the server does, 1000 per group commit), then measures Locate by name and Get by id (p50/p99, each in
 * its own read transaction, as a request would), durable writes per second with group commit (g writes
 * per commit, default 64) and without (one commit per write), both with full sync, and bytes on disk
 * per object, before and after a compacting backup, and the time to open the filled store (the keyring
 * unwrapped under the master key included). The store is encrypted under a master key made in dir, as
 * kmipd's is; -E keeps material in clear (store.encryption = false), for a side-by-side run. The store
 * lives in dir (default a new folder under /var/tmp), removed at the end unless -k.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define OWNERS		1000
#define FILL_GROUP	1000

/* The identifiers of the fill in order (they are random): Get picks among them, a link names one. */
struct fill_uids {
	char (*v)[STORE_UID_MAX + 1];
	uint64_t n;
};

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, store_strerror(rc));
	exit(1);
}

/* Percentile (0-100) of sorted samples, in microseconds. */
static double
pct(double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return v[i] * 1e6;
}

/*
 * Object number i of the fill: owner client-(i % OWNERS), name key-i, AES-256, for one in four a link to
 * prev (the previous object's uid, NULL for none).
 */
static struct store_object *
make_object(const char *uid, uint64_t i, const char *prev, unsigned *seed)
{
	struct store_object *o = store_object_new();
	struct ttlv *n, *l;
	uint8_t key[32];
	char owner[32], name[32];
	size_t k;
	int rc;

	if (o == NULL)
		die("object", STORE_E_NOMEM);
	snprintf(owner, sizeof(owner), "client-%" PRIu64, i % OWNERS);
	snprintf(name, sizeof(name), "key-%" PRIu64, i);
	for (k = 0; k < sizeof(key); k++)
		key[k] = (uint8_t)rand_r(seed);
	if ((rc = store_object_set(o, uid, owner, 2, 2)) != STORE_OK ||
	    (rc = store_object_set_material(o, key, sizeof(key), 1)) != STORE_OK)
		die("object", rc);
	explicit_bzero(key, sizeof(key));
	n = ttlv_new_struct(o->arena, KMIP_TAG_NAME);
	ttlv_append(n, ttlv_new_text(o->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(n, ttlv_new_enum(o->arena, KMIP_TAG_NAME_TYPE, 1));
	ttlv_append(o->attrs, n);
	ttlv_append(o->attrs, ttlv_new_enum(o->arena, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 3));
	ttlv_append(o->attrs, ttlv_new_int(o->arena, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256));
	ttlv_append(o->attrs, ttlv_new_int(o->arena, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 12));
	ttlv_append(o->attrs, ttlv_new_datetime(o->arena, KMIP_TAG_INITIAL_DATE, 1700000000 + (int64_t)i));
	if (i % 4 == 1 && prev != NULL) {
		l = ttlv_new_struct(o->arena, KMIP_TAG_LINK);
		ttlv_append(l, ttlv_new_enum(o->arena, KMIP_TAG_LINK_TYPE, 258));
		ttlv_append(l, ttlv_new_text(o->arena, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, prev, strlen(prev)));
		ttlv_append(o->attrs, l);
	}
	return o;
}

/* One write as a request makes it: a transaction, a new uid, a put, a commit. Object i < ids->n notes its uid. */
static void
write_one(struct store *s, uint64_t i, struct fill_uids *ids, unsigned *seed)
{
	struct store_txn *t;
	struct store_object *o;
	char uid[STORE_UID_MAX + 1];
	int rc;

	if ((rc = store_txn_begin(s, true, &t)) != STORE_OK || (rc = store_new_uid(t, uid, sizeof(uid))) != STORE_OK)
		die("write", rc);
	if (i < ids->n)
		memcpy(ids->v[i], uid, strlen(uid) + 1);
	o = make_object(uid, i, i > 0 && i - 1 < ids->n ? ids->v[i - 1] : NULL, seed);
	if ((rc = store_put(t, o)) != STORE_OK)
		die("put", rc);
	store_object_free(o);
	if ((rc = store_txn_commit(t)) != STORE_OK)
		die("commit", rc);
}

static uint64_t
disk_bytes(const char *dir)
{
	char p[4200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	if (stat(p, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/* The master key of the run (NULL: no encryption), made by main in the bench folder. */
static struct store_kek *master;

static struct store *
open_store(const char *path, bool group)
{
	struct store_options o;
	struct store *s;
	char *cause = NULL;

	store_options_init(&o);
	o.encryption = master != NULL;
	o.master = master;
	o.path = path;
	o.group_commit = group;
	o.sync = STORE_SYNC_FULL;
	if (store_open(&o, &s, &cause) != STORE_OK) {
		fprintf(stderr, "bench_store: %s\n", cause);
		exit(1);
	}
	return s;
}

/* Times Locate by name for random objects, as their owner would ask; fills lat[]. */
static void
bench_locate(struct store *s, uint64_t n, size_t q, double *lat, unsigned *seed)
{
	struct ttlv_arena *a;
	struct ttlv *filter, *nm;
	struct store_query query = { 0 };
	struct store_txn *t;
	char name[32], owner[32], **uids, *cause = NULL;
	size_t i, got;
	uint64_t k;
	double t0;
	int rc;

	for (i = 0; i < q; i++) {
		k = (uint64_t)rand_r(seed) * 65536 % n;
		snprintf(name, sizeof(name), "key-%" PRIu64, k);
		snprintf(owner, sizeof(owner), "client-%" PRIu64, k % OWNERS);
		if ((a = ttlv_arena_new()) == NULL)
			die("arena", STORE_E_NOMEM);
		filter = ttlv_new_struct(a, 0x420125);
		nm = ttlv_new_struct(a, KMIP_TAG_NAME);
		ttlv_append(nm, ttlv_new_text(a, KMIP_TAG_NAME_VALUE, name, strlen(name)));
		ttlv_append(filter, nm);
		query.identity = owner;
		query.filter = filter;
		t0 = util_now();
		if ((rc = store_txn_begin(s, false, &t)) != STORE_OK)
			die("locate", rc);
		if ((rc = store_locate(t, &query, &uids, &got, &cause)) != STORE_OK)
			die("locate", rc);
		store_txn_abort(t);
		lat[i] = util_now() - t0;
		if (got != 1) {
			fprintf(stderr, "bench_store: locate %s found %zu objects\n", name, got);
			exit(1);
		}
		store_uids_free(uids, got);
		ttlv_arena_free(a);
	}
}

/* Times Get by id for random objects of the fill; fills lat[]. */
static void
bench_get(struct store *s, const struct fill_uids *ids, size_t q, double *lat, unsigned *seed)
{
	struct store_txn *t;
	struct store_object *o;
	const char *uid;
	size_t i;
	double t0;
	int rc;

	for (i = 0; i < q; i++) {
		uid = ids->v[(uint64_t)rand_r(seed) * 65536 % ids->n];
		t0 = util_now();
		if ((rc = store_txn_begin(s, false, &t)) != STORE_OK || (rc = store_get(t, uid, &o)) != STORE_OK)
			die("get", rc);
		store_object_free(o);
		store_txn_abort(t);
		lat[i] = util_now() - t0;
	}
}

static void
report_lat(const char *what, double *lat, size_t q)
{
	util_sort_doubles(lat, q);
	printf("| %-38s | p50 %7.1f us | p99 %7.1f us |\n", what, pct(lat, q, 50), pct(lat, q, 99));
}

int
main(int argc, char **argv)
{
	uint64_t n = 1000000, i, written, base, before, after;
	size_t q = 100000, group = 64;
	double seconds = 3, t0, t1, *lat;
	char dir[4096] = "", path[4200], bpath[4200], bfile[4300], *cause = NULL;
	struct store_backup_info binfo;
	struct store_stats st, sf;
	struct fill_uids ids;
	struct store *s;
	unsigned seed = 12345;
	bool keep = false, made = false, clear = false;
	int c, rc;

	while ((c = getopt(argc, argv, "n:q:t:g:d:kE")) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'q':
			q = strtoull(optarg, NULL, 10);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'g':
			group = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		case 'k':
			keep = true;
			break;
		case 'E':
			clear = true;
			break;
		default:
			fprintf(stderr, "usage: bench_store [-n objects] [-q queries] [-t seconds] [-g group] "
			    "[-d dir] [-k] [-E]\n");
			return 2;
		}
	}
	if (n < 1 || q < 1 || group < 1 || seconds <= 0) {
		fprintf(stderr, "bench_store: counts must be positive\n");
		return 2;
	}
	if (dir[0] == '\0') {
		if (util_mkdtemp(dir, sizeof(dir), "/var/tmp", "bench_store") != 0) {
			perror("mkdtemp");
			return 1;
		}
		made = true;
	}
	snprintf(path, sizeof(path), "%s/store", dir);
	snprintf(bpath, sizeof(bpath), "%s/backup", dir);
	ids.n = n;
	if ((lat = calloc(q, sizeof(*lat))) == NULL || (ids.v = calloc(n, sizeof(*ids.v))) == NULL)
		return 1;

	if (!clear) {
		struct store_kek_source src = { .kind = STORE_KEY_FILE };
		char kpath[4200];

		snprintf(kpath, sizeof(kpath), "%s/master.key", dir);
		src.path = kpath;
		if (store_master_key_create(kpath, &cause) != STORE_OK || store_kek_load(&src, &master, &cause) != 0) {
			fprintf(stderr, "bench_store: %s\n", cause);
			return 1;
		}
	}
	printf("bench_store: %" PRIu64 " objects in %s, %zu queries, %.0f s per write test, material %s\n\n",
	    n, path, q, seconds, clear ? "in clear (-E)" : "encrypted");
	printf("| %-38s | %-14s | %-14s |\n", "measure", "", "");
	printf("|%s|%s|%s|\n", "----------------------------------------", "----------------",
	    "----------------");

	/* Fill. */
	s = open_store(path, true);
	t0 = util_now();
	for (i = 0; i < n; i++) {
		write_one(s, i, &ids, &seed);
		if ((i + 1) % FILL_GROUP == 0 && (rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
			die("group commit", rc);
	}
	if ((rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
		die("group commit", rc);
	t1 = util_now();
	printf("| %-38s | %9.1f s    | %8.0f /s    |\n", "fill (1000 writes per group commit)", t1 - t0,
	    (double)n / (t1 - t0));
	if ((rc = store_stat(s, &sf)) != STORE_OK)
		die("stat", rc);
	before = disk_bytes(path);

	/* Opening the filled store: what a start costs before serving. */
	store_close(s);
	t0 = util_now();
	s = open_store(path, true);
	t1 = util_now();
	printf("| %-38s | %9.3f s    | %-14s |\n", "open the filled store", t1 - t0, "");

	/* Reads. */
	bench_locate(s, n, q, lat, &seed);
	report_lat("Locate by name (owner, read txn)", lat, q);
	bench_get(s, &ids, q, lat, &seed);
	report_lat("Get by id (read txn)", lat, q);
	/* The same Get while the group holds a staged write: reads look at the staged writes first. */
	write_one(s, n, &ids, &seed);
	bench_get(s, &ids, q < 20000 ? q : 20000, lat, &seed);
	report_lat("Get by id, group pending (staged)", lat, q < 20000 ? q : 20000);
	if ((rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
		die("group commit", rc);

	/* Durable writes with group commit. */
	written = 0;
	base = n + 1;
	t0 = util_now();
	do {
		for (i = 0; i < group; i++)
			write_one(s, base + written + i, &ids, &seed);
		if ((rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
			die("group commit", rc);
		written += group;
	} while (util_now() - t0 < seconds);
	t1 = util_now();
	printf("| durable writes, group commit (%3zu/grp) | %8.0f /s    | %6.0f commit/s |\n", group,
	    (double)written / (t1 - t0), (double)written / (double)group / (t1 - t0));
	store_close(s);

	/* Durable writes, one commit each. */
	s = open_store(path, false);
	base += written;
	written = 0;
	t0 = util_now();
	do {
		write_one(s, base + written, &ids, &seed);
		written++;
	} while (util_now() - t0 < seconds);
	t1 = util_now();
	printf("| %-38s | %8.0f /s    | %-14s |\n", "durable writes, one commit per write", (double)written / (t1 - t0),
	    "");
	if ((rc = store_stat(s, &st)) != STORE_OK)
		die("stat", rc);
	store_close(s);

	/* Size on disk, then after a compacting backup (a file, put in a folder to be measured like the store). */
	snprintf(bfile, sizeof(bfile), "%s/data.mdb", bpath);
	if ((mkdir(bpath, 0700) != 0 && errno != EEXIST) ||
	    (rc = store_backup_file(path, bfile, NULL, NULL, &binfo, &cause)) != STORE_OK) {
		fprintf(stderr, "bench_store: backup: %s\n", cause != NULL ? cause : strerror(errno));
		return 1;
	}
	after = disk_bytes(bpath);
	printf("| %-38s | %8.0f B     | %8.0f B     |\n", "bytes on disk per object (after fill)",
	    (double)before / (double)n, (double)after / (double)st.objects);
	printf("| %-38s | %-14s | %-14s |\n", "", "live store", "compact backup");
	printf("\nmap %" PRIu64 " MiB after %" PRIu64 " growths; %" PRIu64 " objects; data file %" PRIu64
	    " MiB, compact copy %" PRIu64 " MiB\n", st.map_size >> 20, sf.grows, st.objects, disk_bytes(path) >> 20,
	    after >> 20);
	free(lat);
	free(ids.v);
	store_kek_free(master);
	if (!keep) {
		(void)util_rmtree(made ? dir : path);
		if (!made) {
			(void)util_rmtree(bpath);
			snprintf(path, sizeof(path), "%s/master.key", dir);
			(void)unlink(path);
		}
	}
	return 0;
}
