/*
 * store internals shared by the store sources: the environment handle, transactions, the staged writes of a
 * group, the record format and index entries. Not for other modules.
 */
#ifndef KMIPD_STORE_INT_H
#define KMIPD_STORE_INT_H

#include <lmdb.h>

#include "store/store.h"

/* Sub-databases. The index databases are DUPSORT: key -> (8-byte big-endian creation sequence, uid). */
enum store_db {
	DB_OBJ,			/* uid -> record */
	DB_SEQ,			/* 8-byte big-endian creation sequence -> uid */
	DB_META,		/* "format", "seq", "rev", "usage" counters ("uid": the identifier counter of old stores) */
	DB_USAGE,		/* owner key -> objects, bytes, destroyed (usage.c) */
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
#define STORE_REC_VERSION	2	/* record version written (record.c) */
#define STORE_REC_HDR		48	/* its fixed header */
#define STORE_REC_V1_HDR	8	/* 'K' 'S' 1 8, 4 bytes reserved: the first records, read only */
#define REC_F_SEALED		0x01u	/* the secret part is sealed */

/*
 * The store's own tags in the record structure, private extension tags (0x54FFxx); the record's other items
 * carry KMIP's tags (proto/names.h).
 */
#define STAG_RECORD		0x54FF00u
#define STAG_OWNER		0x54FF01u
#define STAG_SEQ		0x54FF02u
#define STAG_MATERIAL_FORMAT	0x54FF03u
#define STAG_MATERIAL		0x54FF04u
#define STAG_REV		0x54FF05u

/* Keys (kek.c, keys.c). */
#define STORE_IV_BYTES		12
#define STORE_TAG_BYTES		16
#define STORE_KEK_ID_BYTES	16
#define STORE_DEKS_MAX		64	/* data keys in one keyring */
#define STORE_WRAPS_MAX		16	/* wraps of one data key */

struct store_p11_key;

enum kek_kind {
	KEK_RAW = 1,			/* 32 bytes from a file or a credential */
	KEK_P11 = 2,			/* an AES key on a PKCS#11 token */
	KEK_RECOVERY = 3,		/* X25519: the private half offline, the public half in the keyring */
};

struct store_kek {
	enum kek_kind kind;
	uint8_t key[STORE_KEY_BYTES];	/* RAW: the key; RECOVERY: the private half */
	uint8_t pub[STORE_KEY_BYTES];	/* RECOVERY: the public half */
	uint8_t id[STORE_KEK_ID_BYTES];
	struct store_p11_key *p11;
	char name[320];
};

/* A data key wrapped under one key-encryption key: 112 bytes in the keyring. */
struct store_wrap {
	uint8_t kind;			/* enum kek_kind */
	uint8_t kek_id[STORE_KEK_ID_BYTES];
	uint8_t eph[STORE_KEY_BYTES];	/* RECOVERY: the ephemeral public key */
	uint8_t iv[STORE_IV_BYTES];
	uint8_t sealed[STORE_KEY_BYTES + STORE_TAG_BYTES];
};

/* What a record's ciphertext is bound to (record.c fills it; keys.c feeds it to GCM). */
struct store_aad {
	const char *uid;
	size_t uid_len;
	const char *owner;
	size_t owner_len;
	uint32_t object_type, format, algorithm;
	uint32_t dek_id;		/* set by store_seal */
};

struct store_keyring;
struct store_udelta;

#define STORE_UDELTA_BUCKETS	256

/* Where the re-encryption of records stands (store_reseal). */
struct store_reseal {
	char pos[STORE_UID_MAX + 1];	/* the uid after which the next batch starts ("" from the start) */
	uint64_t pass_found;		/* records of the current pass that needed it */
	bool pass_from_start;		/* the current pass began at the first record */
	uint32_t target;		/* the data key the pass re-encrypts under: another one restarts it */
	uint64_t stale_gen;		/* "stale_seals" as the pass began: moved, the pass is out of date */
};


/*
 * Staged writes. A write transaction records what it writes (encoded records, or deletions) and what it
 * saw of each object it read or wrote (absent, a revision, or another staged write): a change set. Its
 * commit adds the change set to the group; store_group_commit() applies every change set of the group in
 * order in one short LMDB write transaction, skipping (and reporting) those whose objects changed since
 * they were seen. Until then the staged records form an overlay that every read consults first.
 */
struct store_cs;

/* What one staged write changes in one owner's usage (usage.c). */
struct store_ueffect {
	char *owner;			/* malloc'd, NUL-terminated */
	size_t len;
	int64_t objects, bytes, destroyed;
};

/* One staged write of a change set. */
struct store_staged {
	struct store_staged *hnext;	/* next in its hash bucket (the bucket holds the newest of each uid) */
	struct store_staged *older;	/* the staged write of the same uid it hides, or NULL */
	struct store_staged *next;	/* next write of its change set, in order */
	struct store_staged *prev;
	struct store_cs *cs;
	bool deleted;
	bool create;			/* no record existed: its creation sequence is provisional */
	uint8_t *rec;			/* the encoded record (NULL for a deletion), wiped when freed */
	size_t rec_len;
	uint64_t seq;			/* creation sequence (provisional until applied when create) */
	uint32_t dek_id;		/* the data key its material is sealed under (0: none, or no material) */
	uint64_t applied_rev;		/* revision written at the group commit; 0 until then, or if skipped */
	struct store_ueffect effects[2];	/* on the record's owner, and on the replaced one's if it differs */
	unsigned neffects;
	size_t uid_len;
	char uid[STORE_UID_MAX + 1];
};

/* What a change set saw of an object when it first looked at it. */
enum store_seen {
	SEEN_ABSENT,			/* no record */
	SEEN_REV,			/* a durable record of that revision */
	SEEN_STAGED,			/* a write staged earlier in the group */
};

struct store_check {
	struct store_check *next;
	enum store_seen seen;
	uint64_t rev;
	const struct store_staged *staged;
	size_t uid_len;
	char uid[STORE_UID_MAX + 1];
};

/*
 * A quota the change set was admitted under (store_txn_usage_limit): checked again at the group commit
 * against the durable counters, which count every process's writes.
 */
struct store_limit {
	struct store_limit *next;
	uint64_t max_objects, max_bytes;	/* 0: not held to it */
	size_t len;
	char owner[];
};

/* Someone who read a change set's writes before they were durable: answered as failed if it is. */
struct store_reader {
	struct store_reader *next;
	uint64_t owner;
	uint32_t item;
};

struct store_cs {
	struct store_cs *next;		/* the group's change sets, in commit order */
	struct store_cs *prev;
	uint64_t owner;			/* whom it was staged for (store_set_owner) */
	uint32_t item;
	unsigned unit;			/* nonzero: one Undo batch's change sets, applied all or none */
	struct store_staged *first, *last;
	struct store_check *checks;
	struct store_limit *limits;
	struct store_reader *readers;
	bool failed;			/* skipped at the group commit: something it saw had changed */
	bool poisoned;			/* a reader could not be noted (no memory): skip it rather than risk it */
	bool best_effort;		/* store_txn_best_effort: dropped quietly when its checks fail */
	const char *reason;		/* replication: why it failed when not a conflict (a static sentence) */
	char conflict_uid[STORE_UID_MAX + 1];
	size_t bytes;			/* estimate of the map space its writes take */
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;			/* the read snapshot; while applying, the LMDB write transaction */
	bool write;
	bool applying;			/* internal: a group commit writing to LMDB */
	int failed;			/* first error of a write: the commit fails with it */
	struct store_cs *cs;		/* a write transaction's change set */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *path;
	bool group_commit;
	bool replica;			/* store_options.replica: the group goes to etcd (replica.c), never to LMDB */
	enum store_sync sync;
	size_t map_size, max_map_size, page_size;
	size_t maxkey;			/* LMDB's key (and DUPSORT value) size limit */
	MDB_txn *rtxn;			/* reset read transaction kept for renewal */
	struct store_txn slot;		/* the one transaction handle */
	bool open;			/* slot in use */
	/* The group: change sets committed since the last group commit, and the overlay of their writes. */
	struct store_cs *cs_first, *cs_last;
	struct store_staged **hash;	/* by uid: the newest staged write of each */
	size_t hash_size;		/* a power of two (0: no table yet) */
	size_t nstaged;
	size_t group_bytes;
	/*
	 * Last provisional creation sequence handed out: above every durable one the process has seen (another
	 * process may hand out the same numbers: they are never written, see store_put).
	 */
	uint64_t seq_last;
	/* Savepoint of an Undo batch (store_batch_begin): change sets after batch_mark are the batch's. */
	bool batch;
	struct store_mark batch_mark;
	unsigned batch_unit, next_unit;
	uint64_t owner;			/* store_set_owner() */
	uint32_t owner_item;
	bool want_grow;			/* the map was found full */
	uint64_t n_group_commits, n_grows, n_replays, n_conflicts, n_dropped;
	struct store_lock_stats lock;	/* waits for LMDB's writer lock (store_begin) */
	/* Encryption at rest (keys.c): NULL keys when the store keeps material in clear. */
	bool encryption;
	bool read_only;
	struct store_keyring *keys;
	uint8_t *kr_raw;		/* the keyring value keys was read from (wrapped keys only), to see changes */
	size_t kr_len;
	bool keys_stale;		/* another process's keyring could not be opened here (store_key_status) */
	const struct store_kek *master;	/* not owned: the caller keeps it while the store is open */
	struct store_reseal reseal;
	/* Usage per owner (usage.c). */
	bool usage_valid;		/* the usage table counts the records */
	bool usage_drift;		/* a counter would have gone below 0, or another writer did not count */
	bool no_usage_db;		/* read-only open of a store that never had the table */
	struct store_udelta *udelta[STORE_UDELTA_BUCKETS];	/* the group's staged effects per owner */
	char err[256];
};

/* Raw view of a stored record; pointers into the record bytes. */
struct store_rec {
	uint8_t version;
	bool sealed;			/* the material is IV, ciphertext and tag under data key dek_id */
	uint32_t dek_id;
	const char *uid;
	size_t uid_len;
	const char *owner;
	size_t owner_len;
	uint32_t object_type, state, material_format;
	uint32_t sharing;
	uint64_t seq;
	uint64_t rev;			/* 0 when the record predates revisions */
	size_t seq_off, rev_off;	/* where their 8-byte values sit in the record (rev_off 0: absent) */
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
int store_meta_get(struct store_txn *t, const char *key, uint64_t *v) STORE_WUR;
int store_meta_put(struct store_txn *t, const char *key, uint64_t v) STORE_WUR;
bool store_no_room(struct store *s, size_t pending);
bool store_grow(struct store *s, bool force);
int store_begin(struct store *s, MDB_txn *parent, unsigned flags, MDB_txn **txn);
int store_read_begin(struct store *s);
/*
 * A store transaction handle t around txn, an LMDB transaction the store opened for itself (opening, the
 * keyring): with write, store_db_put and store_meta_put write straight into txn, staging nothing.
 */
void store_txn_wrap(struct store *s, MDB_txn *txn, bool write, struct store_txn *t);
void store_read_end(struct store *s);
/* Reads the durable record of uid in t (NULL data when absent): its revision and sequence. */
int store_peek(struct store_txn *t, const char *uid, size_t uid_len, bool *found, uint64_t *rev, uint64_t *seq)
    STORE_WUR;
/* Writes a staged record (creation sequence and revision filled in) or deletion to LMDB, with its indexes. */
int store_apply_write(struct store_txn *w, struct store_staged *e, uint64_t rev) STORE_WUR;
/*
 * The same for a write etcd committed (replica.c): rev is its mod_revision; the creation sequence is this
 * node's own (the order it applied the creations in); a deletion of a record that is not there is no error.
 */
int store_apply_remote(struct store_txn *w, struct store_staged *e, uint64_t rev) STORE_WUR;

/* group.c */
void store_group_free(struct store *s);
/*
 * Takes the group's change sets out of the store (returned in commit order, linked by next), leaving an
 * empty group: the overlay no longer shows their writes. The caller frees them with store_cs_free_list.
 */
struct store_cs *store_group_detach(struct store *s);
void store_cs_free_list(struct store_cs *cs);
/*
 * Whether the usage counters count every record as of revision rev (meta "usage" == rev); when not, notes
 * the drift for the next open to count again. In the applying transaction w.
 */
int store_usage_counted(struct store_txn *w, uint64_t rev, bool *counted) STORE_WUR;
/* The durable usage check of store_group_commit for one change set, in t (a read transaction will do). */
int store_limits_hold(struct store_txn *t, struct store_cs *cs, bool *hold) STORE_WUR;
/* The newest staged write of uid, or NULL; notes the current owner as a reader of it. */
const struct store_staged *store_staged_find(struct store_txn *t, const char *uid, size_t uid_len);
/* The same without noting anything: whether the overlay decides about uid. */
const struct store_staged *store_staged_get(const struct store *s, const char *uid, size_t uid_len);
/* Calls fn for the newest staged write of every uid (deletions included); stops when fn returns nonzero. */
int store_staged_each(struct store *s, int (*fn)(const struct store_staged *e, void *arg), void *arg);
/* Notes the current owner as a reader of a staged write it was shown (Locate results). */
void store_staged_read(struct store_txn *t, const struct store_staged *e);
int store_db_get(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v) STORE_WUR;
int store_db_put(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v, unsigned flags) STORE_WUR;
int store_db_del(struct store_txn *t, enum store_db db, MDB_val *k, MDB_val *v) STORE_WUR;
int store_set_cause(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Room for one more element in the array v of *cap elements of size bytes, n of them used: returns v when
 * there is room, else a larger copy (16, then doubling) with *cap updated, or NULL with v left as it was.
 */
void *store_array_room(void *v, size_t n, size_t *cap, size_t size);

/* record.c */
int store_rec_encode(struct store *s, const struct store_object *o, uint64_t seq, uint8_t **buf, size_t *len)
    STORE_WUR;
int store_rec_parse(const void *data, size_t len, struct store_rec *r) STORE_WUR;
int store_rec_to_object(struct store *s, const struct store_rec *r, bool with_material,
    const struct store_select *sel, struct store_object **out) STORE_WUR;
int store_rec_decode_attrs(const struct store_rec *r, struct ttlv **attrs, struct ttlv_arena **arena) STORE_WUR;
int store_rec_ientries(const struct store_rec *r, size_t maxkey, struct store_ientry **out, size_t *n) STORE_WUR;
void store_ientry_val(const struct store_ientry *e, MDB_val *v);
int store_ientry_cmp(const void *a, const void *b);
size_t store_text_key(const char *s, size_t len, size_t maxkey, const uint8_t **key);

/* usage.c */
/* Counts in the applying transaction w a record replaced by another (old NULL: created; nw NULL: deleted). */
int store_usage_change(struct store_txn *w, const struct store_rec *old, size_t old_len, const struct store_rec *nw,
    size_t new_len) STORE_WUR;
/* Sets e's effects on usage from the record it replaces (NULL: none) and its own (NULL: a deletion). */
int store_usage_effect(struct store_staged *e, const struct store_rec *old, size_t old_len,
    const struct store_rec *nw, size_t new_len) STORE_WUR;
void store_usage_effect_free(struct store_staged *e);
/* Makes the group's table entries e's effects need, so that store_usage_group_add cannot fail. */
int store_usage_group_reserve(struct store *s, const struct store_staged *e) STORE_WUR;
/* Adds (sign 1) or takes back (sign -1) e's effects in the group's table. */
void store_usage_group_add(struct store *s, const struct store_staged *e, int sign);
void store_usage_group_free(struct store *s);
/* An owner's durable usage as t (or the applying transaction) sees it, without the group's writes. */
int store_usage_durable(struct store_txn *t, const char *owner, size_t len, struct store_usage *u) STORE_WUR;
/*
 * At open: whether the usage table is current; when it is not and the store is writable, counts it again
 * from the records (*counted records) in one write transaction.
 */
int store_usage_open(struct store *s, uint64_t *counted, char **cause) STORE_WUR;

/* kek.c */
int store_gcm(const uint8_t key[STORE_KEY_BYTES], bool enc, const uint8_t iv[STORE_IV_BYTES], const uint8_t *aad,
    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[STORE_TAG_BYTES]) STORE_WUR;
int store_kek_wrap(const struct store_kek *k, const uint8_t rec_pub[STORE_KEY_BYTES], uint32_t dek_id,
    const uint8_t dek[STORE_KEY_BYTES], struct store_wrap *w, char **cause) STORE_WUR;
int store_kek_unwrap(const struct store_kek *k, uint32_t dek_id, const struct store_wrap *w,
    uint8_t dek[STORE_KEY_BYTES], char **cause) STORE_WUR;
void store_wrap_aad(uint8_t kind, uint32_t dek_id, uint8_t aad[8]);
int store_recovery_new(char *text, size_t size, uint8_t pub[STORE_KEY_BYTES], uint8_t id[STORE_KEK_ID_BYTES])
    STORE_WUR;
void store_kek_id_hex(const uint8_t id[STORE_KEK_ID_BYTES], char out[2 * STORE_KEK_ID_BYTES + 1]);

/* keys.c */
/* Whether new records are sealed. */
bool store_sealing(const struct store *s);
/* Seals len bytes into out (IV, ciphertext, tag: len + 28 bytes) under the current data key; sets a->dek_id. */
int store_seal(struct store *s, struct store_aad *a, const uint8_t *in, size_t len, uint8_t *out) STORE_WUR;
/* Opens what store_seal wrote (len includes IV and tag) into out; STORE_E_CORRUPT when it does not verify. */
int store_unseal(struct store *s, const struct store_aad *a, const uint8_t *in, size_t len, uint8_t *out)
    STORE_WUR;
/* Reads the keyring at open: creates it, opens the data keys, rotates the master key (store_open). */
int store_keys_open(struct store *s, const struct store_options *o, char **cause) STORE_WUR;
void store_keys_free(struct store_keyring *k);
/*
 * Makes s->keys the keyring as txn sees it when another process changed it (a data key added or retired,
 * a recovery key, a master key rotation): the data keys already open are kept, new ones are unwrapped under
 * the master key. Cheap when nothing changed (one read, one comparison). On failure the keys stay as they
 * were and s->err says why.
 */
int store_keys_refresh(struct store *s, MDB_txn *txn) STORE_WUR;
/* The data keys of the keyring as txn sees it, for the group commit's check (no keyring: current 0). */
struct store_dek_ids {
	uint32_t current;
	size_t n;
	uint32_t id[STORE_DEKS_MAX];
};
int store_keys_ids(struct store *s, MDB_txn *txn, struct store_dek_ids *ids) STORE_WUR;
int store_clear_pages_done(struct store *s, char **cause) STORE_WUR;

#endif
