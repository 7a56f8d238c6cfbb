/*
 * The LMDB environment, the record writes of a group commit, and the map's growth.
 *
 * Transactions and the group live in group.c: store transactions stage their writes in memory, and only
 * store_group_commit() opens an LMDB write transaction, briefly, to apply them with the functions here.
 *
 * A full map: LMDB answers MDB_MAP_FULL inside the commit's write transaction; the map doubles (up to
 * max_map_size) once it is closed, and the group, still in memory, is written again. At max_map_size a
 * write is refused when staged (STORE_E_FULL) while the map keeps room for the pending group and a
 * reserve, so that a group commit does not fail for want of pages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/ttlv.h"
#include "store/store_int.h"

#define DEFAULT_MAP_SIZE	((size_t)256 << 20)
#define DEFAULT_MAX_MAP_SIZE	((size_t)64 << 30)
#define DEFAULT_MAX_READERS	126
#define GROW_PERCENT		80

static const char *const db_names[DB_COUNT] = {
	[DB_OBJ] = "objects",
	[DB_SEQ] = "created",
	[DB_META] = "meta",
	[DB_USAGE] = "usage",
	[DB_IDX_NAME] = "idx_name",
	[DB_IDX_OWNER] = "idx_owner",
	[DB_IDX_TYPE] = "idx_type",
	[DB_IDX_STATE] = "idx_state",
	[DB_IDX_GROUP] = "idx_group",
	[DB_IDX_LINK] = "idx_link",
};

/* Returns a sentence for a store error. */
const char *
store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "success";
	case STORE_E_NOTFOUND:
		return "object not found";
	case STORE_E_FULL:
		return "store is full";
	case STORE_E_TXNFULL:
		return "too many changes in one group";
	case STORE_E_INVALID:
		return "invalid argument or object";
	case STORE_E_CORRUPT:
		return "store record is corrupt";
	case STORE_E_NOMEM:
		return "out of memory";
	case STORE_E_BUSY:
		return "another store transaction is open";
	case STORE_E_READONLY:
		return "write in a read-only transaction";
	case STORE_E_IO:
		return "store I/O error";
	case STORE_E_CONFLICT:
		return "an object changed while this write was made";
	default:
		return "unknown store error";
	}
}

/* Sets *cause (when cause is not NULL) to a malloc'd formatted sentence; returns 0. */
int
store_set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return 0;
	free(*cause);
	*cause = NULL;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
	return 0;
}

/* Makes room for one more element in a growing array: see store_int.h. */
void *
store_array_room(void *v, size_t n, size_t *cap, size_t size)
{
	size_t ncap;

	if (n < *cap)
		return v;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if ((v = reallocarray(v, ncap, size)) != NULL)
		*cap = ncap;
	return v;
}

/* Maps an LMDB or errno code to a store error, remembering the detail; MAP_FULL asks for growth. */
int
store_fail(struct store *s, int rc, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what, mdb_strerror(rc));
	switch (rc) {
	case 0:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_E_NOTFOUND;
	case MDB_MAP_FULL:
		s->want_grow = true;
		return STORE_E_FULL;
	case MDB_TXN_FULL:
		return STORE_E_TXNFULL;
	case ENOMEM:
		return STORE_E_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return STORE_E_CORRUPT;
	case MDB_BAD_VALSIZE:
	case EINVAL:
		return STORE_E_INVALID;
	default:
		return STORE_E_IO;
	}
}

const char *
store_last_error(const struct store *s)
{
	return s->err;
}

/* Fills the defaults. */
void
store_options_init(struct store_options *o)
{
	memset(o, 0, sizeof(*o));
	o->map_size = DEFAULT_MAP_SIZE;
	o->max_map_size = DEFAULT_MAX_MAP_SIZE;
	o->sync = STORE_SYNC_FULL;
	o->max_readers = DEFAULT_MAX_READERS;
	o->group_commit = true;
	o->encryption = true;
}

/* Rounds up to a multiple of the page size, saturating. */
static size_t
round_page(size_t v, size_t page)
{
	if (v > SIZE_MAX - page)
		return SIZE_MAX / page * page;
	return (v + page - 1) / page * page;
}

/* Reads one value in the transaction. */
int
store_db_get(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v)
{
	int rc;

	if ((rc = mdb_get(t->txn, t->s->dbi[db], k, v)) == 0)
		return STORE_OK;
	if (rc == MDB_NOTFOUND)
		return STORE_E_NOTFOUND;
	return store_fail(t->s, rc, "read");
}

/* Checks that a write may go to LMDB through this transaction: only while a group commit applies. */
static int
writable(struct store_txn *t)
{
	if (!t->applying)
		return STORE_E_READONLY;
	return t->failed;
}

/*
 * Writes one value. An existing pair under MDB_NODUPDATA is not an error. Any failure marks the
 * transaction failed, since LMDB may have left it unusable.
 */
int
store_db_put(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v, unsigned flags)
{
	int rc;

	if ((rc = writable(t)) != STORE_OK)
		return rc;
	rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
	if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA))
		return STORE_OK;
	if (rc != 0)
		return t->failed = store_fail(t->s, rc, "write");
	return STORE_OK;
}

/* Deletes a key (or one duplicate when v is given); STORE_E_NOTFOUND when absent, without failing. */
int
store_db_del(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v)
{
	int rc;

	if ((rc = writable(t)) != STORE_OK)
		return rc;
	rc = mdb_del(t->txn, t->s->dbi[db], k, v);
	if (rc == MDB_NOTFOUND)
		return STORE_E_NOTFOUND;
	if (rc != 0)
		return t->failed = store_fail(t->s, rc, "delete");
	return STORE_OK;
}

/* Refreshes s->map_size from LMDB; returns the bytes of pages in use. */
static size_t
map_usage(struct store *s)
{
	MDB_envinfo info;

	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	s->map_size = info.me_mapsize;
	return (info.me_last_pgno + 1) * s->page_size;
}

/*
 * At max_map_size the map cannot grow, and a group whose own commit finds no free page loses every write
 * in it. So there, a write is refused (STORE_E_FULL, a clean error for its request) while the map still
 * has room for the pending group and a reserve: the page copies a commit makes (copy-on-write, free list)
 * need space beyond the records themselves.
 */
bool
store_no_room(struct store *s, size_t pending)
{
	size_t reserve = s->map_size / 16 > 4 * s->page_size ? s->map_size / 16 : 4 * s->page_size;

	if (s->map_size < s->max_map_size)
		return false;	/* a full map grows at the next commit point; the group is replayed */
	return map_usage(s) + pending + reserve > s->map_size;
}

/*
 * Doubles the map (capped at max_map_size) when it was found full or is over GROW_PERCENT used. Only
 * called with no transaction open. Returns true when it grew.
 */
bool
store_grow(struct store *s, bool force)
{
	size_t used, want;
	int rc;

	if (s->read_only)
		return false;
	used = map_usage(s);
	if (!force && !s->want_grow && used / GROW_PERCENT < s->map_size / 100)
		return false;
	s->want_grow = false;
	if (s->map_size >= s->max_map_size)
		return false;
	want = s->map_size > s->max_map_size / 2 ? s->max_map_size : s->map_size * 2;
	if ((rc = mdb_env_set_mapsize(s->env, want)) != 0) {
		(void)store_fail(s, rc, "growing the map");
		return false;
	}
	s->n_grows++;
	(void)map_usage(s);
	return true;
}

/* Microseconds on the monotonic clock. */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Counts one take of the writer lock that began at t0 (store_lock_stats). */
static void
lock_taken(struct store *s, uint64_t t0)
{
	uint64_t us = now_us() - t0;

	s->lock.taken++;
	s->lock.wait_us += us;
	s->lock.last_wait_us = us;
	if (us > s->lock.max_wait_us)
		s->lock.max_wait_us = us;
	if (us >= STORE_LOCK_WAIT_US)
		s->lock.waits++;
}

/*
 * Begins an LMDB transaction, adopting a map another process grew (MDB_MAP_RESIZED: the data now reaches
 * past this process's map). A top-level write transaction takes the writer lock every process of the store
 * shares: the time blocked is counted. No other transaction of the process may be active when the map is
 * adopted (every caller holds at most the reset read transaction).
 */
int
store_begin(struct store *s, MDB_txn *parent, unsigned flags, MDB_txn **txn)
{
	bool lock = parent == NULL && (flags & MDB_RDONLY) == 0;
	uint64_t t0 = lock ? now_us() : 0;
	int rc;

	rc = mdb_txn_begin(s->env, parent, flags, txn);
	if (rc == MDB_MAP_RESIZED && parent == NULL && !s->open) {
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0) {
			(void)map_usage(s);
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
		}
	}
	if (lock && rc == 0)
		lock_taken(s, t0);
	return rc;
}

void
store_lock_stats(const struct store *s, struct store_lock_stats *ls)
{
	*ls = s->lock;
}

/* Clears the reader slots of dead processes: see store.h. */
int
store_reader_check(const char *path, int *dead, char **cause)
{
	MDB_env *env = NULL;
	struct stat st;
	char *lock;
	int rc;

	*dead = 0;
	if (path == NULL || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_set_cause(cause, "%s: not a store folder", path != NULL ? path : "(null)");
		return STORE_E_INVALID;
	}
	/*
	 * No lock file: no process ever had the store open, so no reader to clear. Opening would create it,
	 * owned by whoever runs this (the master may be root, the workers not).
	 */
	if (asprintf(&lock, "%s/lock.mdb", path) < 0) {
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	rc = stat(lock, &st);
	free(lock);
	if (rc != 0)
		return STORE_OK;
	/*
	 * Read-only: nothing of the data file is written, and no map size is set (a read-only environment
	 * maps what the meta page says). The reader table lives in the lock file, which this opens read-write
	 * as any LMDB process does; never MDB_NOLOCK, which would skip the very table to clean.
	 */
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_reader_check(env, dead)) != 0) {
		store_set_cause(cause, "%s: checking the reader table: %s", path, mdb_strerror(rc));
		if (env != NULL)
			mdb_env_close(env);
		return rc == ENOENT ? STORE_E_INVALID : STORE_E_IO;
	}
	mdb_env_close(env);
	return STORE_OK;
}

/* A store transaction handle around an LMDB transaction of the store's own: see store_int.h. */
void
store_txn_wrap(struct store *s, MDB_txn *txn, bool write, struct store_txn *t)
{
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->txn = txn;
	t->write = write;
	t->applying = write;
}

/* Renews the store's read transaction (a snapshot of the last durable state). */
int
store_read_begin(struct store *s)
{
	int rc;

	if (s->rtxn != NULL) {
		rc = mdb_txn_renew(s->rtxn);
		if (rc == MDB_MAP_RESIZED) {
			mdb_txn_abort(s->rtxn);
			s->rtxn = NULL;
		} else if (rc != 0)
			return store_fail(s, rc, "beginning a read");
	}
	if (s->rtxn == NULL && (rc = store_begin(s, NULL, MDB_RDONLY, &s->rtxn)) != 0) {
		s->rtxn = NULL;
		return store_fail(s, rc, "beginning a read");
	}
	return STORE_OK;
}

/* Releases the read snapshot, keeping the transaction handle for the next renewal. */
void
store_read_end(struct store *s)
{
	if (s->rtxn != NULL)
		mdb_txn_reset(s->rtxn);
}

/* Makes the store's own files private when they were created or left with wider modes. */
static void
tighten_modes(const char *path)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	struct stat st;
	char *p;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (asprintf(&p, "%s/%s", path, files[i]) < 0)
			continue;
		if (stat(p, &st) == 0 && (st.st_mode & 077) != 0)
			(void)chmod(p, st.st_mode & 0700);
		free(p);
	}
}

/* Reads a little-endian counter from the meta database (0 when absent). */
int
store_meta_get(struct store_txn *t, const char *key, uint64_t *v)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	uint8_t b[8];
	int rc, i;

	*v = 0;
	if ((rc = store_db_get(t, DB_META, &k, &d)) == STORE_E_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (d.mv_size != 8)
		return STORE_E_CORRUPT;
	memcpy(b, d.mv_data, 8);
	for (i = 7; i >= 0; i--)
		*v = *v << 8 | b[i];
	return STORE_OK;
}

/* Writes a little-endian counter to the meta database. */
int
store_meta_put(struct store_txn *t, const char *key, uint64_t v)
{
	MDB_val k = { strlen(key), (void *)key }, d;
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	d.mv_size = 8;
	d.mv_data = b;
	return store_db_put(t, DB_META, &k, &d, 0);
}

/* Increments a counter and returns its new value. */
static int
meta_next(struct store_txn *t, const char *key, uint64_t *v)
{
	int rc;

	if ((rc = store_meta_get(t, key, v)) != STORE_OK)
		return rc;
	if (*v == UINT64_MAX)
		return t->failed = STORE_E_FULL;
	++*v;
	return store_meta_put(t, key, *v);
}

/*
 * A cluster node's store (meta "replica" 1) is written only from etcd: a writable open without
 * store_options.replica is refused, and so is making a store that holds records of its own a replica.
 */
static int
replica_check(struct store_txn *t, char **cause)
{
	struct store *s = t->s;
	uint64_t replica;
	MDB_stat st;

	if (store_meta_get(t, "replica", &replica) != STORE_OK) {
		store_set_cause(cause, "%s: cannot read the store's kind", s->path);
		return -1;
	}
	if (s->read_only || replica == (s->replica ? 1 : 0))
		return 0;
	if (replica != 0) {
		store_set_cause(cause, "%s is a cluster node's copy of the records in etcd (store.backend = etcd): it "
		    "is written only through etcd; open it read-only, or start kmipd with store.backend = etcd", s->path);
		return -1;
	}
	if (mdb_stat(t->txn, s->dbi[DB_OBJ], &st) != 0 || st.ms_entries != 0) {
		store_set_cause(cause, "%s holds objects of its own: a cluster node starts with an empty store.path and "
		    "copies the cluster's records from etcd (to bring these objects into a cluster, see README, "
		    "\"Several nodes\")", s->path);
		return -1;
	}
	if (store_meta_put(t, "replica", 1) != STORE_OK) {
		store_set_cause(cause, "%s: cannot mark the store as a cluster node's: %s", s->path, s->err);
		return -1;
	}
	return 0;
}

/* Opens every sub-database (creating them) and checks the store's format; an LMDB code or -1. */
static int
open_dbs(struct store *s, char **cause)
{
	struct store_txn t;
	MDB_txn *txn;
	uint64_t format;
	unsigned flags;
	int rc, i;

	if ((rc = store_begin(s, NULL, s->read_only ? MDB_RDONLY : 0, &txn)) != 0) {
		store_set_cause(cause, "%s: cannot begin a transaction: %s", s->path, mdb_strerror(rc));
		return -1;
	}
	for (i = 0; i < DB_COUNT; i++) {
		flags = (s->read_only ? 0 : MDB_CREATE) | (i >= DB_IDX_FIRST ? MDB_DUPSORT : 0);
		rc = mdb_dbi_open(txn, db_names[i], flags, &s->dbi[i]);
		if (rc == MDB_NOTFOUND && i == DB_USAGE && s->read_only) {
			s->no_usage_db = true;	/* never opened writable since the table came: no counters */
			continue;
		}
		if (rc != 0) {
			store_set_cause(cause, "%s: cannot open database %s: %s", s->path, db_names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}
	store_txn_wrap(s, txn, !s->read_only, &t);
	if (store_meta_get(&t, "format", &format) != STORE_OK) {
		store_set_cause(cause, "%s: cannot read the store format", s->path);
		goto fail;
	}
	if (format > STORE_FORMAT) {
		store_set_cause(cause, "%s: store format %" PRIu64 " is newer than this program's (%d)",
		    s->path, format, STORE_FORMAT);
		goto fail;
	}
	if (format == 0 && !s->read_only && store_meta_put(&t, "format", STORE_FORMAT) != STORE_OK) {
		store_set_cause(cause, "%s: cannot write the store format: %s", s->path, s->err);
		goto fail;
	}
	if (replica_check(&t, cause) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		store_set_cause(cause, "%s: cannot commit: %s", s->path, mdb_strerror(rc));
		return -1;
	}
	return 0;
fail:
	mdb_txn_abort(txn);
	return -1;
}

/* Opens the store: see store.h. */
int
store_open(const struct store_options *o, struct store **out, char **cause)
{
	struct store *s;
	struct stat st;
	char *data;
	size_t want;
	unsigned flags;
	bool existing;
	uint64_t counted;
	int dead, rc, err = STORE_E_IO;

	*out = NULL;
	if (o == NULL || o->path == NULL || o->path[0] == '\0') {
		store_set_cause(cause, "store path is not set");
		return STORE_E_INVALID;
	}
	if (o->single_file && !o->read_only) {
		store_set_cause(cause, "%s: a backup file opens read-only", o->path);
		return STORE_E_INVALID;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(o->path)) == NULL) {
		free(s);
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	s->group_commit = o->group_commit;
	s->replica = o->replica;
	s->sync = o->sync;
	s->read_only = o->read_only;
	s->page_size = (size_t)sysconf(_SC_PAGESIZE);
	s->map_size = round_page(o->map_size != 0 ? o->map_size : DEFAULT_MAP_SIZE, s->page_size);
	s->max_map_size = round_page(o->max_map_size, s->page_size);
	if (s->max_map_size < s->map_size)
		s->max_map_size = s->map_size;

	if (!s->read_only && mkdir(s->path, 0700) != 0 && errno != EEXIST) {
		store_set_cause(cause, "%s: cannot create the store folder: %s", s->path, strerror(errno));
		goto fail;
	}
	if (stat(s->path, &st) != 0 || (o->single_file ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))) {
		store_set_cause(cause, "%s: not a %s", s->path, o->single_file ? "file" : "folder");
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) != 0) {
		store_set_cause(cause, "cannot create an LMDB environment: %s", mdb_strerror(rc));
		goto fail;
	}
	/*
	 * An existing store keeps the map it grew to (LMDB persists it in the meta page, and adopts it when
	 * no size is configured); the configured size applies when it is larger.
	 */
	if (asprintf(&data, o->single_file ? "%s" : "%s/data.mdb", s->path) < 0) {
		store_set_cause(cause, "out of memory");
		err = STORE_E_NOMEM;
		goto fail;
	}
	existing = stat(data, &st) == 0 && st.st_size > 0;
	free(data);
	if ((rc = mdb_env_set_maxdbs(s->env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, o->max_readers != 0 ? o->max_readers :
	    DEFAULT_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, existing ? 0 : s->map_size)) != 0) {
		store_set_cause(cause, "%s: cannot configure LMDB: %s", s->path, mdb_strerror(rc));
		goto fail;
	}
	/*
	 * MDB_NOTLS: a reader slot belongs to its transaction, not to the thread, so the store can keep one
	 * read transaction for renewal and open a second one meanwhile (store_stat during a request). The
	 * processes are single-threaded, so it changes nothing else; slots stay per process either way.
	 */
	flags = MDB_NOTLS | (s->sync == STORE_SYNC_RELAXED ? MDB_NOMETASYNC : 0) | (s->read_only ? MDB_RDONLY : 0);
	/* A backup is nobody's store: no lock file beside it, and nothing writes it. */
	if (o->single_file)
		flags |= MDB_NOSUBDIR | MDB_NOLOCK;
	if ((rc = mdb_env_open(s->env, s->path, flags, 0600)) != 0) {
		store_set_cause(cause, "%s: cannot open the store: %s", s->path, mdb_strerror(rc));
		err = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ?
		    STORE_E_CORRUPT : STORE_E_IO;
		goto fail;
	}
	if (!s->read_only)
		tighten_modes(s->path);
	(void)mdb_reader_check(s->env, &dead);	/* slots of a killed process */
	s->maxkey = (size_t)mdb_env_get_maxkeysize(s->env);
	want = s->map_size;
	(void)map_usage(s);
	if (s->map_size < want) {
		if ((rc = mdb_env_set_mapsize(s->env, want)) != 0) {
			store_set_cause(cause, "%s: cannot set the map size: %s", s->path, mdb_strerror(rc));
			goto fail;
		}
		(void)map_usage(s);
	}
	if (s->max_map_size < s->map_size)
		s->max_map_size = s->map_size;
	if (open_dbs(s, cause) != 0)
		goto fail;
	if ((rc = store_keys_open(s, o, cause)) != STORE_OK) {
		err = rc;
		goto fail;
	}
	if ((rc = store_usage_open(s, &counted, cause)) != STORE_OK) {
		err = rc;
		goto fail;
	}
	if (!s->read_only)
		(void)store_grow(s, false);
	*out = s;
	return STORE_OK;
fail:
	store_keys_free(s->keys);
	free(s->kr_raw);
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s->path);
	free(s);
	return err;
}

/* Closes the store: see store.h. */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->open)
		store_txn_abort(&s->slot);
	store_group_free(s);	/* what was not committed is lost, as the caveat says */
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	if (s->sync == STORE_SYNC_RELAXED && !s->read_only)
		(void)mdb_env_sync(s->env, 1);	/* a clean shutdown loses nothing */
	store_keys_free(s->keys);
	free(s->kr_raw);
	mdb_env_close(s->env);
	free(s->path);
	free(s);
}

/* Fills the statistics from the last durable state. */
int
store_stat(struct store *s, struct store_stats *st)
{
	MDB_txn *txn;
	MDB_stat ms;
	struct stat fst;
	mdb_filehandle_t fd;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = store_begin(s, NULL, MDB_RDONLY, &txn)) != 0)
		return store_fail(s, rc, "stat");
	rc = mdb_stat(txn, s->dbi[DB_OBJ], &ms);
	mdb_txn_abort(txn);
	if (rc != 0)
		return store_fail(s, rc, "stat");
	st->objects = ms.ms_entries;
	st->used_bytes = map_usage(s);
	st->map_size = s->map_size;
	st->max_map_size = s->max_map_size;
	st->page_size = s->page_size;
	if (mdb_env_get_fd(s->env, &fd) == 0 && fstat(fd, &fst) == 0)
		st->file_bytes = (uint64_t)fst.st_blocks * 512;
	st->group_commits = s->n_group_commits;
	st->grows = s->n_grows;
	st->replays = s->n_replays;
	st->conflicts = s->n_conflicts;
	st->dropped = s->n_dropped;
	st->lock = s->lock;
	return STORE_OK;
}

/* Encodes a creation sequence as 8 big-endian bytes, so byte order is creation order. */
static void
seq_bytes(uint64_t seq, uint8_t b[8])
{
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* Builds an index value (sequence, uid) into buf (at least 8 + STORE_UID_MAX bytes). */
static void
ival(uint64_t seq, const char *uid, size_t uid_len, uint8_t *buf, MDB_val *v)
{
	seq_bytes(seq, buf);
	memcpy(buf + 8, uid, uid_len);
	v->mv_data = buf;
	v->mv_size = 8 + uid_len;
}

/* True when e is in the sorted list. */
static bool
ientry_in(const struct store_ientry *e, const struct store_ientry *list, size_t n)
{
	return n > 0 && bsearch(e, list, n, sizeof(*list), store_ientry_cmp) != NULL;
}

/* Removes (del) or adds the index entries of list that are not in other (both sorted, no duplicates). */
static int
apply_ientries(struct store_txn *t, bool del, const struct store_ientry *list, size_t n,
    const struct store_ientry *other, size_t on, uint64_t seq, const char *uid, size_t uid_len)
{
	uint8_t buf[8 + STORE_UID_MAX];
	MDB_val k, v;
	size_t i;
	int rc;

	ival(seq, uid, uid_len, buf, &v);
	for (i = 0; i < n; i++) {
		if (ientry_in(&list[i], other, on))
			continue;
		store_ientry_val(&list[i], &k);
		if (del)
			rc = store_db_del(t, list[i].db, &k, &v);
		else
			rc = store_db_put(t, list[i].db, &k, &v, MDB_NODUPDATA);
		if (rc == STORE_E_NOTFOUND)
			continue;	/* already gone (two entries sharing a truncated key) */
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* A copy of the record stored under uid (caller wipes and frees *copy), or STORE_E_NOTFOUND. */
static int
get_copy(struct store_txn *t, const char *uid, size_t uid_len, uint8_t **copy, size_t *len,
    struct store_rec *r)
{
	MDB_val k = { uid_len, (void *)uid }, v;
	int rc;

	*copy = NULL;
	*len = 0;
	if ((rc = store_db_get(t, DB_OBJ, &k, &v)) != STORE_OK)
		return rc;
	if ((*copy = malloc(v.mv_size)) == NULL)
		return STORE_E_NOMEM;
	memcpy(*copy, v.mv_data, v.mv_size);
	*len = v.mv_size;
	if ((rc = store_rec_parse(*copy, *len, r)) != STORE_OK) {
		snprintf(t->s->err, sizeof(t->s->err), "record %.*s is corrupt", (int)uid_len, uid);
		explicit_bzero(*copy, *len);
		free(*copy);
		*copy = NULL;
	}
	return rc;
}

/* Wipes and frees a buffer. */
static void
wipe_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

/* Reads the durable record of uid as t sees it: whether there is one, its revision and sequence. */
int
store_peek(struct store_txn *t, const char *uid, size_t uid_len, bool *found, uint64_t *rev, uint64_t *seq)
{
	MDB_val k = { uid_len, (void *)uid }, v;
	struct store_rec r;
	int rc;

	*found = false;
	*rev = *seq = 0;
	if ((rc = store_db_get(t, DB_OBJ, &k, &v)) == STORE_E_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if ((rc = store_rec_parse(v.mv_data, v.mv_size, &r)) != STORE_OK) {
		snprintf(t->s->err, sizeof(t->s->err), "record %.*s is corrupt", (int)uid_len, uid);
		return rc;
	}
	*found = true;
	*rev = r.rev;
	*seq = r.seq;
	return STORE_OK;
}

/* Writes a staged record into LMDB with revision rev, replacing the old one and its index entries. */
static int
apply_put(struct store_txn *w, struct store_staged *e, uint64_t rev)
{
	struct store_ientry *oldi = NULL, *newi = NULL;
	size_t oldn = 0, newn = 0, oldlen = 0;
	uint8_t *old = NULL, sb[8];
	struct store_rec orec, nrec;
	uint64_t seq;
	MDB_val k, v;
	int rc;

	rc = get_copy(w, e->uid, e->uid_len, &old, &oldlen, &orec);
	if (rc == STORE_OK) {
		seq = orec.seq;
		if ((rc = store_rec_ientries(&orec, w->s->maxkey, &oldi, &oldn)) != STORE_OK)
			goto fail;
	} else if (rc == STORE_E_NOTFOUND) {
		/* Its creation sequence is final now; a staged one was provisional. */
		if ((rc = meta_next(w, "seq", &seq)) != STORE_OK)
			goto fail;
	} else
		goto fail;
	if ((rc = store_rec_parse(e->rec, e->rec_len, &nrec)) != STORE_OK || nrec.rev_off == 0) {
		rc = STORE_E_CORRUPT;
		goto fail;
	}
	ttlv_put64(e->rec + nrec.seq_off, seq);
	ttlv_put64(e->rec + nrec.rev_off, rev);
	e->seq = seq;
	if ((rc = store_rec_parse(e->rec, e->rec_len, &nrec)) != STORE_OK ||
	    (rc = store_rec_ientries(&nrec, w->s->maxkey, &newi, &newn)) != STORE_OK)
		goto fail;
	if (old != NULL &&
	    (rc = apply_ientries(w, true, oldi, oldn, newi, newn, seq, e->uid, e->uid_len)) != STORE_OK)
		goto fail;
	k.mv_data = e->uid;
	k.mv_size = e->uid_len;
	v.mv_data = e->rec;
	v.mv_size = e->rec_len;
	if ((rc = store_db_put(w, DB_OBJ, &k, &v, 0)) != STORE_OK)
		goto fail;
	if (old == NULL) {
		seq_bytes(seq, sb);
		k.mv_data = sb;
		k.mv_size = 8;
		v.mv_data = e->uid;
		v.mv_size = e->uid_len;
		if ((rc = store_db_put(w, DB_SEQ, &k, &v, 0)) != STORE_OK)
			goto fail;
	}
	if ((rc = apply_ientries(w, false, newi, newn, old != NULL ? oldi : NULL, old != NULL ? oldn : 0, seq,
	    e->uid, e->uid_len)) != STORE_OK)
		goto fail;
	rc = store_usage_change(w, old != NULL ? &orec : NULL, oldlen, &nrec, e->rec_len);
fail:
	free(oldi);
	free(newi);
	wipe_free(old, oldlen);
	return rc;
}

/* Removes a record and its index entries from LMDB. */
static int
apply_delete(struct store_txn *w, const struct store_staged *e)
{
	struct store_ientry *ie = NULL;
	struct store_rec r;
	uint8_t *old = NULL, sb[8];
	size_t n = 0, len = 0;
	MDB_val k;
	int rc;

	if ((rc = get_copy(w, e->uid, e->uid_len, &old, &len, &r)) != STORE_OK)
		return rc;
	if ((rc = store_rec_ientries(&r, w->s->maxkey, &ie, &n)) != STORE_OK)
		goto fail;
	if ((rc = apply_ientries(w, true, ie, n, NULL, 0, r.seq, e->uid, e->uid_len)) != STORE_OK)
		goto fail;
	seq_bytes(r.seq, sb);
	k.mv_data = sb;
	k.mv_size = 8;
	if ((rc = store_db_del(w, DB_SEQ, &k, NULL)) != STORE_OK && rc != STORE_E_NOTFOUND)
		goto fail;
	k.mv_data = (void *)e->uid;
	k.mv_size = e->uid_len;
	if ((rc = store_db_del(w, DB_OBJ, &k, NULL)) != STORE_OK)
		goto fail;
	rc = store_usage_change(w, &r, len, NULL, 0);
fail:
	free(ie);
	wipe_free(old, len);
	return rc;
}

/* Writes a remote record or deletion; see store_int.h. */
int
store_apply_remote(struct store_txn *w, struct store_staged *e, uint64_t rev)
{
	int rc;

	if (e->deleted) {
		rc = apply_delete(w, e);
		return rc == STORE_E_NOTFOUND ? STORE_OK : rc;
	}
	return apply_put(w, e, rev);
}

/* Writes one staged write into the group commit's transaction; see store_int.h. */
int
store_apply_write(struct store_txn *w, struct store_staged *e, uint64_t rev)
{
	int rc = e->deleted ? apply_delete(w, e) : apply_put(w, e, rev);

	if (rc == STORE_OK)
		e->applied_rev = rev;
	return rc;
}

