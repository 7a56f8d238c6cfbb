/*
 * The LMDB environment, transactions and the commit policy.
 *
 * Group commit: the first write transaction of a group opens a top-level LMDB write transaction (the
 * group) and every store write transaction is a nested transaction of it, so a failing request undoes
 * only its own writes, and store_group_commit() makes the whole group durable with one fsync. LMDB read
 * transactions cannot see a pending group, so while a group holds writes a read transaction is a nested
 * transaction too, aborted when done.
 *
 * A full map: LMDB answers MDB_MAP_FULL inside a transaction, the request fails with STORE_E_FULL, and the
 * map doubles (up to max_map_size) at the next point where no transaction is open, since LMDB can only
 * resize then. The group's own commit may also need pages (its free list); if it finds the map full, the
 * group is re-applied from a log of its changes after growing, so earlier requests of the group survive.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#define DEFAULT_MAP_SIZE	((size_t)256 << 20)
#define DEFAULT_MAX_MAP_SIZE	((size_t)64 << 30)
#define DEFAULT_MAX_READERS	126
#define GROW_PERCENT		80

static const char *const db_names[DB_COUNT] = {
	[DB_OBJ] = "objects",
	[DB_SEQ] = "created",
	[DB_META] = "meta",
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
}

/* Rounds up to a multiple of the page size, saturating. */
static size_t
round_page(size_t v, size_t page)
{
	if (v > SIZE_MAX - page)
		return SIZE_MAX / page * page;
	return (v + page - 1) / page * page;
}

/* Frees (wiping: values hold key material) every entry of a log. */
static void
oplog_free(struct store_oplog *l)
{
	struct store_op *op, *next;

	for (op = l->head; op != NULL; op = next) {
		next = op->next;
		explicit_bzero(op->data, op->klen + op->vlen);
		free(op);
	}
	l->head = l->tail = NULL;
	l->count = 0;
}

/* Appends src's entries to dst and empties src. */
static void
oplog_splice(struct store_oplog *dst, struct store_oplog *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail != NULL)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	dst->count += src->count;
	src->head = src->tail = NULL;
	src->count = 0;
}

/* Logs one change of a group's child; -1 on ENOMEM. */
static int
oplog_add(struct store_oplog *l, bool del, enum store_db db, const MDB_val *k, const MDB_val *v,
    unsigned flags)
{
	struct store_op *op;
	size_t vlen = v != NULL ? v->mv_size : 0;

	if ((op = malloc(sizeof(*op) + k->mv_size + vlen)) == NULL)
		return -1;
	op->next = NULL;
	op->del = del;
	op->has_val = v != NULL;
	op->db = db;
	op->flags = flags;
	op->klen = k->mv_size;
	op->vlen = vlen;
	memcpy(op->data, k->mv_data, k->mv_size);
	if (vlen > 0)
		memcpy(op->data + k->mv_size, v->mv_data, vlen);
	if (l->tail != NULL)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
	l->count++;
	return 0;
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

/* Checks that a write may go through this transaction. */
static int
writable(struct store_txn *t)
{
	if (!t->write)
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
	MDB_val kc = *k, vc = *v;
	int rc;

	if ((rc = writable(t)) != STORE_OK)
		return rc;
	rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
	if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA))
		return STORE_OK;
	if (rc != 0)
		return t->failed = store_fail(t->s, rc, "write");
	if (t->kind == TXN_WRITE_CHILD && oplog_add(&t->log, false, db, &kc, &vc, flags) != 0)
		return t->failed = STORE_E_NOMEM;
	return STORE_OK;
}

/* Deletes a key (or one duplicate when v is given); STORE_E_NOTFOUND when absent, without failing. */
int
store_db_del(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v)
{
	MDB_val kc = *k, vc;
	int rc;

	if ((rc = writable(t)) != STORE_OK)
		return rc;
	if (v != NULL)
		vc = *v;
	rc = mdb_del(t->txn, t->s->dbi[db], k, v);
	if (rc == MDB_NOTFOUND)
		return STORE_E_NOTFOUND;
	if (rc != 0)
		return t->failed = store_fail(t->s, rc, "delete");
	if (t->kind == TXN_WRITE_CHILD && oplog_add(&t->log, true, db, &kc, v != NULL ? &vc : NULL, 0) != 0)
		return t->failed = STORE_E_NOMEM;
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
static bool
no_room_at_cap(struct store *s, size_t pending)
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
static bool
grow_maybe(struct store *s, bool force)
{
	size_t used, want;
	int rc;

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

/* Begins an LMDB transaction, adopting a map another process grew. */
static int
begin(struct store *s, MDB_txn *parent, unsigned flags, MDB_txn **txn)
{
	int rc;

	rc = mdb_txn_begin(s->env, parent, flags, txn);
	if (rc == MDB_MAP_RESIZED && parent == NULL) {
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0) {
			(void)map_usage(s);
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
		}
	}
	return rc;
}

/* Drops a group that holds no committed child, releasing LMDB's writer lock. */
static void
group_drop_if_clean(struct store *s)
{
	if (s->parent != NULL && !s->group_dirty && s->batch == NULL) {
		mdb_txn_abort(s->parent);
		s->parent = NULL;
	}
}

/* Grows when asked to, at a point where no transaction is open. */
static void
idle_point(struct store *s)
{
	if (!s->open && s->parent == NULL && s->want_grow)
		(void)grow_maybe(s, false);
}

/* Begins a transaction: see store.h. */
int
store_txn_begin(struct store *s, bool write, struct store_txn **out)
{
	struct store_txn *t = &s->slot;
	MDB_txn *txn = NULL;
	enum store_txn_kind kind;
	int rc;

	*out = NULL;
	if (s->open)
		return STORE_E_BUSY;
	idle_point(s);
	if (write && s->group_commit) {
		if (s->parent == NULL) {
			if ((rc = begin(s, NULL, 0, &s->parent)) != 0) {
				s->parent = NULL;
				return store_fail(s, rc, "beginning a group");
			}
		}
		if ((rc = begin(s, s->batch != NULL ? s->batch : s->parent, 0, &txn)) != 0) {
			rc = store_fail(s, rc, "beginning a write");
			group_drop_if_clean(s);
			return rc;
		}
		kind = TXN_WRITE_CHILD;
	} else if (write) {
		if ((rc = begin(s, NULL, 0, &txn)) != 0)
			return store_fail(s, rc, "beginning a write");
		kind = TXN_WRITE_TOP;
	} else if (s->batch != NULL) {
		/* The savepoint is the parent's open child: reads go through it (LMDB allows one child). */
		if ((rc = begin(s, s->batch, 0, &txn)) != 0)
			return store_fail(s, rc, "beginning a read in the batch");
		kind = TXN_READ_CHILD;
	} else if (s->parent != NULL && s->group_dirty) {
		if ((rc = begin(s, s->parent, 0, &txn)) != 0)
			return store_fail(s, rc, "beginning a read in the group");
		kind = TXN_READ_CHILD;
	} else {
		if (s->rtxn != NULL) {
			rc = mdb_txn_renew(s->rtxn);
			if (rc == MDB_MAP_RESIZED) {
				mdb_txn_abort(s->rtxn);
				s->rtxn = NULL;
			} else if (rc != 0)
				return store_fail(s, rc, "beginning a read");
		}
		if (s->rtxn == NULL && (rc = begin(s, NULL, MDB_RDONLY, &s->rtxn)) != 0) {
			s->rtxn = NULL;
			return store_fail(s, rc, "beginning a read");
		}
		txn = s->rtxn;
		kind = TXN_READ;
	}
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->txn = txn;
	t->kind = kind;
	t->write = write;
	s->open = true;
	*out = t;
	return STORE_OK;
}

/* Ends a transaction without keeping its writes. */
static void
txn_end(struct store_txn *t)
{
	struct store *s = t->s;

	switch (t->kind) {
	case TXN_READ:
		mdb_txn_reset(t->txn);
		break;
	case TXN_READ_CHILD:
	case TXN_WRITE_TOP:
		mdb_txn_abort(t->txn);
		break;
	case TXN_WRITE_CHILD:
		mdb_txn_abort(t->txn);
		group_drop_if_clean(s);
		break;
	}
	oplog_free(&t->log);
	t->txn = NULL;
	s->open = false;
}

/* Aborts a transaction. */
void
store_txn_abort(struct store_txn *t)
{
	struct store *s;

	if (t == NULL || t->txn == NULL)
		return;
	s = t->s;
	txn_end(t);
	idle_point(s);
}

/* Commits a transaction: see store.h. */
int
store_txn_commit(struct store_txn *t)
{
	struct store *s;
	int rc;

	if (t == NULL || t->txn == NULL)
		return STORE_E_INVALID;
	s = t->s;
	if (t->kind == TXN_READ || t->kind == TXN_READ_CHILD) {
		txn_end(t);
		return STORE_OK;
	}
	if (t->failed != STORE_OK) {
		rc = t->failed;
		store_txn_abort(t);
		return rc;
	}
	rc = mdb_txn_commit(t->txn);	/* frees the LMDB transaction, even on failure */
	t->txn = NULL;
	s->open = false;
	if (rc != 0) {
		oplog_free(&t->log);
		rc = store_fail(s, rc, "commit");
		group_drop_if_clean(s);
		idle_point(s);
		return rc;
	}
	if (t->kind == TXN_WRITE_CHILD && s->batch != NULL) {
		oplog_splice(&s->batch_log, &t->log);
		s->batch_bytes += t->bytes;
		s->batch_dirty = true;
	} else if (t->kind == TXN_WRITE_CHILD) {
		oplog_splice(&s->group_log, &t->log);
		s->group_bytes += t->bytes;
		s->group_dirty = true;
		return STORE_OK;
	}
	(void)grow_maybe(s, false);
	return STORE_OK;
}

/* Re-applies the group's logged changes in a new transaction and commits it; an LMDB code. */
static int
replay(struct store *s)
{
	struct store_op *op;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if ((rc = begin(s, NULL, 0, &txn)) != 0)
		return rc;
	for (op = s->group_log.head; op != NULL; op = op->next) {
		k.mv_data = op->data;
		k.mv_size = op->klen;
		v.mv_data = op->data + op->klen;
		v.mv_size = op->vlen;
		if (op->del)
			rc = mdb_del(txn, s->dbi[op->db], &k, op->has_val ? &v : NULL);
		else
			rc = mdb_put(txn, s->dbi[op->db], &k, &v, op->flags);
		if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
			rc = 0;
		if (rc != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	}
	s->n_replays++;
	return mdb_txn_commit(txn);
}

/* Commits the group durably: see store.h. */
int
store_group_commit(struct store *s)
{
	int rc;

	if (s->open || s->batch != NULL)
		return STORE_E_BUSY;
	if (s->parent == NULL) {
		(void)grow_maybe(s, false);
		return STORE_OK;
	}
	if (!s->group_dirty) {
		group_drop_if_clean(s);
		(void)grow_maybe(s, false);
		return STORE_OK;
	}
	rc = mdb_txn_commit(s->parent);
	s->parent = NULL;
	s->group_dirty = false;
	s->group_bytes = 0;
	while (rc == MDB_MAP_FULL) {
		/* The group's own commit needed pages: grow and apply the group again. */
		if (!grow_maybe(s, true))
			break;
		rc = replay(s);
	}
	if (rc != 0) {
		oplog_free(&s->group_log);
		rc = store_fail(s, rc, "group commit");
		return rc;
	}
	oplog_free(&s->group_log);
	s->n_group_commits++;
	(void)grow_maybe(s, false);
	return STORE_OK;
}

/* Opens a savepoint in the group: see store.h. */
int
store_batch_begin(struct store *s)
{
	int rc;

	if (s->open || s->batch != NULL)
		return STORE_E_BUSY;
	if (!s->group_commit)
		return STORE_E_INVALID;
	idle_point(s);
	if (s->parent == NULL && (rc = begin(s, NULL, 0, &s->parent)) != 0) {
		s->parent = NULL;
		return store_fail(s, rc, "beginning a group");
	}
	if ((rc = begin(s, s->parent, 0, &s->batch)) != 0) {
		s->batch = NULL;
		rc = store_fail(s, rc, "beginning a savepoint");
		group_drop_if_clean(s);
		return rc;
	}
	s->batch_dirty = false;
	s->batch_bytes = 0;
	return STORE_OK;
}

/* Closes the savepoint, keeping its writes in the group (keep) or undoing them all. */
int
store_batch_end(struct store *s, bool keep)
{
	int rc = STORE_OK;

	if (s->open || s->batch == NULL)
		return STORE_E_BUSY;
	if (keep && s->batch_dirty) {
		rc = mdb_txn_commit(s->batch);
		s->batch = NULL;
		if (rc != 0) {
			oplog_free(&s->batch_log);
			rc = store_fail(s, rc, "savepoint");
		} else {
			oplog_splice(&s->group_log, &s->batch_log);
			s->group_bytes += s->batch_bytes;
			s->group_dirty = true;
		}
	} else {
		mdb_txn_abort(s->batch);
		s->batch = NULL;
		oplog_free(&s->batch_log);
	}
	s->batch_dirty = false;
	s->batch_bytes = 0;
	group_drop_if_clean(s);
	return rc;
}

bool
store_group_pending(const struct store *s)
{
	return s->parent != NULL && s->group_dirty;
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
static int
meta_get(struct store_txn *t, const char *key, uint64_t *v)
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
static int
meta_put(struct store_txn *t, const char *key, uint64_t v)
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

	if ((rc = meta_get(t, key, v)) != STORE_OK)
		return rc;
	if (*v == UINT64_MAX)
		return t->failed = STORE_E_FULL;
	++*v;
	return meta_put(t, key, *v);
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

	if ((rc = begin(s, NULL, 0, &txn)) != 0) {
		store_set_cause(cause, "%s: cannot begin a transaction: %s", s->path, mdb_strerror(rc));
		return -1;
	}
	for (i = 0; i < DB_COUNT; i++) {
		flags = MDB_CREATE | (i >= DB_IDX_FIRST ? MDB_DUPSORT : 0);
		if ((rc = mdb_dbi_open(txn, db_names[i], flags, &s->dbi[i])) != 0) {
			store_set_cause(cause, "%s: cannot open database %s: %s", s->path, db_names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}
	memset(&t, 0, sizeof(t));
	t.s = s;
	t.txn = txn;
	t.kind = TXN_WRITE_TOP;
	t.write = true;
	if (meta_get(&t, "format", &format) != STORE_OK) {
		store_set_cause(cause, "%s: cannot read the store format", s->path);
		goto fail;
	}
	if (format > STORE_FORMAT) {
		store_set_cause(cause, "%s: store format %" PRIu64 " is newer than this program's (%d)",
		    s->path, format, STORE_FORMAT);
		goto fail;
	}
	if (format == 0 && meta_put(&t, "format", STORE_FORMAT) != STORE_OK) {
		store_set_cause(cause, "%s: cannot write the store format: %s", s->path, s->err);
		goto fail;
	}
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
	int dead, rc, err = STORE_E_IO;

	*out = NULL;
	if (o == NULL || o->path == NULL || o->path[0] == '\0') {
		store_set_cause(cause, "store path is not set");
		return STORE_E_INVALID;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(o->path)) == NULL) {
		free(s);
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	s->group_commit = o->group_commit;
	s->sync = o->sync;
	s->page_size = (size_t)sysconf(_SC_PAGESIZE);
	s->map_size = round_page(o->map_size != 0 ? o->map_size : DEFAULT_MAP_SIZE, s->page_size);
	s->max_map_size = round_page(o->max_map_size, s->page_size);
	if (s->max_map_size < s->map_size)
		s->max_map_size = s->map_size;

	if (mkdir(s->path, 0700) != 0 && errno != EEXIST) {
		store_set_cause(cause, "%s: cannot create the store folder: %s", s->path, strerror(errno));
		goto fail;
	}
	if (stat(s->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_set_cause(cause, "%s: not a folder", s->path);
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
	if (asprintf(&data, "%s/data.mdb", s->path) < 0) {
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
	/* MDB_NOTLS: read transactions are not tied to a thread, so the store can reuse one. */
	flags = MDB_NOTLS | (s->sync == STORE_SYNC_RELAXED ? MDB_NOMETASYNC : 0);
	if ((rc = mdb_env_open(s->env, s->path, flags, 0600)) != 0) {
		store_set_cause(cause, "%s: cannot open the store: %s", s->path, mdb_strerror(rc));
		err = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ?
		    STORE_E_CORRUPT : STORE_E_IO;
		goto fail;
	}
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
	(void)grow_maybe(s, false);
	*out = s;
	return STORE_OK;
fail:
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
		txn_end(&s->slot);
	if (s->batch != NULL) {
		mdb_txn_abort(s->batch);
		s->batch = NULL;
		oplog_free(&s->batch_log);
	}
	if (s->parent != NULL) {
		mdb_txn_abort(s->parent);
		s->parent = NULL;
	}
	oplog_free(&s->group_log);
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	if (s->sync == STORE_SYNC_RELAXED)
		(void)mdb_env_sync(s->env, 1);	/* a clean shutdown loses nothing */
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
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
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

/* Inserts or replaces an object: see store.h. */
int
store_put(struct store_txn *t, const struct store_object *o)
{
	struct store_ientry *oldi = NULL, *newi = NULL;
	size_t oldn = 0, newn = 0, oldlen = 0, newlen = 0, uid_len;
	uint8_t *old = NULL, *rec = NULL, sb[8];
	struct store_rec orec, nrec;
	uint64_t seq;
	MDB_val k, v;
	int rc;

	if (t == NULL || o == NULL || o->uid == NULL)
		return STORE_E_INVALID;
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	uid_len = strlen(o->uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_INVALID;
	rc = get_copy(t, o->uid, uid_len, &old, &oldlen, &orec);
	if (rc == STORE_OK) {
		seq = orec.seq;
		if ((rc = store_rec_ientries(&orec, t->s->maxkey, &oldi, &oldn)) != STORE_OK)
			goto fail;
	} else if (rc == STORE_E_NOTFOUND) {
		if ((rc = meta_next(t, "seq", &seq)) != STORE_OK)
			goto fail;
	} else
		goto fail;
	if ((rc = store_rec_encode(o, seq, &rec, &newlen)) != STORE_OK)
		goto fail;
	if ((rc = store_rec_parse(rec, newlen, &nrec)) != STORE_OK ||
	    (rc = store_rec_ientries(&nrec, t->s->maxkey, &newi, &newn)) != STORE_OK)
		goto fail;
	/* The record, an index entry per key, and a page the change copies. */
	t->bytes += newlen + newn * 64 + t->s->page_size;
	if (no_room_at_cap(t->s, t->s->group_bytes + t->s->batch_bytes + t->bytes)) {
		rc = t->failed = STORE_E_FULL;
		goto fail;
	}
	if (old != NULL &&
	    (rc = apply_ientries(t, true, oldi, oldn, newi, newn, seq, o->uid, uid_len)) != STORE_OK)
		goto fail;
	k.mv_data = (void *)o->uid;
	k.mv_size = uid_len;
	v.mv_data = rec;
	v.mv_size = newlen;
	if ((rc = store_db_put(t, DB_OBJ, &k, &v, 0)) != STORE_OK)
		goto fail;
	if (old == NULL) {
		seq_bytes(seq, sb);
		k.mv_data = sb;
		k.mv_size = 8;
		v.mv_data = (void *)o->uid;
		v.mv_size = uid_len;
		if ((rc = store_db_put(t, DB_SEQ, &k, &v, 0)) != STORE_OK)
			goto fail;
	}
	rc = apply_ientries(t, false, newi, newn, old != NULL ? oldi : NULL, old != NULL ? oldn : 0, seq,
	    o->uid, uid_len);
fail:
	free(oldi);
	free(newi);
	wipe_free(old, oldlen);
	wipe_free(rec, newlen);
	return rc;
}

/* Removes an object and its index entries: see store.h. */
int
store_delete(struct store_txn *t, const char *uid)
{
	struct store_ientry *ie = NULL;
	struct store_rec r;
	uint8_t *old = NULL, sb[8];
	size_t n = 0, len = 0, uid_len;
	MDB_val k;
	int rc;

	if (t == NULL || uid == NULL)
		return STORE_E_INVALID;
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_NOTFOUND;
	if ((rc = get_copy(t, uid, uid_len, &old, &len, &r)) != STORE_OK)
		return rc;
	if ((rc = store_rec_ientries(&r, t->s->maxkey, &ie, &n)) != STORE_OK)
		goto fail;
	if ((rc = apply_ientries(t, true, ie, n, NULL, 0, r.seq, uid, uid_len)) != STORE_OK)
		goto fail;
	seq_bytes(r.seq, sb);
	k.mv_data = sb;
	k.mv_size = 8;
	if ((rc = store_db_del(t, DB_SEQ, &k, NULL)) != STORE_OK && rc != STORE_E_NOTFOUND)
		goto fail;
	k.mv_data = (void *)uid;
	k.mv_size = uid_len;
	rc = store_db_del(t, DB_OBJ, &k, NULL);
fail:
	free(ie);
	wipe_free(old, len);
	return rc;
}

/* Reads an object with or without its material. */
static int
get_object(struct store_txn *t, const char *uid, bool material, struct store_object **out)
{
	struct store_rec r;
	MDB_val k, v;
	size_t uid_len;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || uid == NULL || out == NULL)
		return STORE_E_INVALID;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_NOTFOUND;
	k.mv_data = (void *)uid;
	k.mv_size = uid_len;
	if ((rc = store_db_get(t, DB_OBJ, &k, &v)) != STORE_OK)
		return rc;
	if ((rc = store_rec_parse(v.mv_data, v.mv_size, &r)) != STORE_OK) {
		snprintf(t->s->err, sizeof(t->s->err), "record %s is corrupt", uid);
		return rc;
	}
	return store_rec_to_object(&r, material, out);
}

int
store_get(struct store_txn *t, const char *uid, struct store_object **out)
{
	return get_object(t, uid, true, out);
}

int
store_get_meta(struct store_txn *t, const char *uid, struct store_object **out)
{
	return get_object(t, uid, false, out);
}

/* Issues the next identifier: see store.h. */
int
store_new_uid(struct store_txn *t, char *buf, size_t size)
{
	uint64_t v;
	int rc, n;

	if (t == NULL || buf == NULL || size == 0)
		return STORE_E_INVALID;
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	if ((rc = meta_next(t, "uid", &v)) != STORE_OK)
		return rc;
	n = snprintf(buf, size, "%" PRIu64, v);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return STORE_E_INVALID;
	}
	return STORE_OK;
}
