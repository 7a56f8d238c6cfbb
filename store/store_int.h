/*
 * store internals shared by the store sources: the environment handle, transactions, the replay log of a group,
 * the record format and index entries. Not for other modules.
 */
#ifndef KMIPD_STORE_INT_H
#define KMIPD_STORE_INT_H

#include <lmdb.h>

#include "store/store.h"

/* Sub-databases. The index databases are DUPSORT: key -> (8-byte big-endian creation sequence, uid). */
enum store_db {
	DB_OBJ,			/* uid -> record */
	DB_SEQ,			/* 8-byte big-endian creation sequence -> uid */
	DB_META,		/* "format", "uid", "seq" counters */
	DB_IDX_FIRST,
	DB_IDX_NAME = DB_IDX_FIRST,
	DB_IDX_OWNER,
	DB_IDX_TYPE,
	DB_IDX_STATE,
	DB_IDX_GROUP,
	DB_IDX_LINK,
	DB_COUNT
};

#define STORE_FORMAT		1	/* layout of the databases */
#define STORE_REC_VERSION	1	/* record header version written */
#define STORE_REC_HDR		8	/* 'K' 'S' version header-length, 4 bytes reserved */

/*
 * The store's own tags in the record structure, private extension tags (0x54FFxx); the record's other items
 * carry KMIP's tags (proto/names.h).
 */
#define STAG_RECORD		0x54FF00u
#define STAG_OWNER		0x54FF01u
#define STAG_SEQ		0x54FF02u
#define STAG_MATERIAL_FORMAT	0x54FF03u
#define STAG_MATERIAL		0x54FF04u

/* One logged change of a group's child transaction, replayed if the group's commit finds the map full. */
struct store_op {
	struct store_op *next;
	uint8_t del;		/* 1: delete (with value when has_val) */
	uint8_t has_val;
	uint8_t db;
	unsigned flags;
	size_t klen, vlen;
	uint8_t data[];		/* key, then value */
};

struct store_oplog {
	struct store_op *head, *tail;
	size_t count;
};

enum store_txn_kind {
	TXN_READ,		/* plain read-only transaction (the store's reusable one) */
	TXN_READ_CHILD,		/* read through a child of the group, so pending writes are visible */
	TXN_WRITE_CHILD,	/* write in a child of the group */
	TXN_WRITE_TOP,		/* write committed durably on its own (no group commit) */
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;
	enum store_txn_kind kind;
	bool write;
	int failed;		/* first error of a write: the commit fails with it */
	struct store_oplog log;
	size_t bytes;		/* estimate of the map space this write transaction's changes take */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *path;
	bool group_commit;
	enum store_sync sync;
	size_t map_size, max_map_size, page_size;
	size_t maxkey;			/* LMDB's key (and DUPSORT value) size limit */
	MDB_txn *parent;		/* open group, or NULL */
	bool group_dirty;		/* a child has been committed into the group */
	struct store_oplog group_log;
	size_t group_bytes;		/* estimate of the map space the open group's changes take */
	MDB_txn *batch;			/* open savepoint inside the group (store_batch_begin), or NULL */
	bool batch_dirty;		/* a child has been committed into the savepoint */
	struct store_oplog batch_log;
	size_t batch_bytes;
	MDB_txn *rtxn;			/* reset read transaction kept for renewal */
	struct store_txn slot;		/* the one transaction handle */
	bool open;			/* slot in use */
	bool want_grow;			/* the map was found full */
	uint64_t n_group_commits, n_grows, n_replays;
	char err[256];
};

/* Raw view of a stored record; pointers into the record bytes. */
struct store_rec {
	uint8_t version;
	const char *uid;
	size_t uid_len;
	const char *owner;
	size_t owner_len;
	uint32_t object_type, state, material_format;
	uint64_t seq;
	const uint8_t *material;
	size_t material_len;
	const uint8_t *attrs;		/* the whole Attributes item, header included, or NULL */
	size_t attrs_len;
};

/* One index entry of a record. */
struct store_ientry {
	uint8_t db;
	uint8_t inline_key;		/* key in num (Object Type, State) */
	uint8_t num[4];
	const uint8_t *key;
	size_t len;
};

/* store.c */
int store_fail(struct store *s, int mdb_rc, const char *what);
int store_db_get(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v) STORE_WUR;
int store_db_put(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v, unsigned flags) STORE_WUR;
int store_db_del(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v) STORE_WUR;
int store_set_cause(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* record.c */
int store_rec_encode(const struct store_object *o, uint64_t seq, uint8_t **buf, size_t *len) STORE_WUR;
int store_rec_parse(const void *data, size_t len, struct store_rec *r) STORE_WUR;
int store_rec_to_object(const struct store_rec *r, bool with_material, struct store_object **out) STORE_WUR;
int store_rec_decode_attrs(const struct store_rec *r, struct ttlv **attrs, struct ttlv_arena **arena) STORE_WUR;
int store_rec_ientries(const struct store_rec *r, size_t maxkey, struct store_ientry **out, size_t *n) STORE_WUR;
void store_ientry_val(const struct store_ientry *e, MDB_val *v);
int store_ientry_cmp(const void *a, const void *b);
size_t store_text_key(const char *s, size_t len, size_t maxkey, const uint8_t **key);

#endif
