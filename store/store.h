/*
 * store: the LMDB object store.
 *
 * One LMDB environment holds the managed objects, their indexes and a few counters. A record is a
 * version-neutral managed object: identifier, owner identity, object type, state, key material (an opaque
 * blob the store does not interpret) and the attribute set as a KMIP 2.x Attributes structure (tag
 * 0x420125) whose direct children are the attributes, multi-valued ones simply repeated.
 *
 * Writes are staged, not held: a write transaction records its writes in memory, with what it saw of each
 * object it read or wrote (a change set), and its commit hands them to the group. store_group_commit()
 * applies the whole group in one short LMDB write transaction and one fsync; the caller releases the
 * responses of the group's requests only after that. So no LMDB write transaction stays open while the
 * event loop runs, and another process writing the same store waits for a commit, not for a loop
 * iteration. Transactions opened while a group holds writes see them (a request reads what an earlier one
 * of the group wrote). A change set whose objects changed since it saw them (another process wrote them)
 * is skipped at the group commit, with what was built on it, and reported to the caller; the rest of the
 * group is kept.
 *
 * Only one store transaction is open at a time (the server is single-threaded and a request uses one).
 *
 * Several processes (kmipd's workers, kmipctl) may have one store open at once, each with its own
 * store_open made after any fork (an LMDB environment must never cross a fork). What each keeps in memory
 * follows the others: every transaction reads a fresh snapshot (other processes' commits included); a
 * change set whose objects another process changed is skipped at the group commit (never a silent
 * overwrite); creation sequences are drawn from the durable counter inside the commit's write transaction
 * (unique); quotas are checked again at the commit against the durable usage counters
 * (store_txn_usage_limit); a keyring changed by another process (a data key rotated, a recovery key, a
 * master key rotation) is read again when a write begins and when a record names a data key not yet
 * loaded, every keyring change is read, changed and written inside one write transaction, and a record
 * sealed under a data key that is no longer the current one at the commit is skipped as a conflict (so a
 * rotation never strands a record under a retired key); a map another process grew is adopted
 * (MDB_MAP_RESIZED) wherever a transaction begins. LMDB lets one process write at a time: the others wait
 * for that commit and its fsync in store_group_commit (store_lock_stats), never on a read. The lock file
 * (lock.mdb, 0600 beside data.mdb) holds the reader table; a process killed inside a read leaves its slot
 * until store_reader_check or the next store_open clears it. MDB_NOLOCK is only ever used for a backup
 * file opened read-only.
 *
 * Encryption at rest: the key material of every record is sealed with AES-256-GCM under a data key, bound
 * to its object (uid, owner, object type, algorithm); the data keys are kept in the store wrapped under the
 * master key (a file, a systemd credential or a PKCS#11 token key) and, when one was made, for an offline
 * recovery key. What stays in clear: identifiers, owners, object types, states and every attribute (names,
 * dates, digests, links...). A store opened without encryption keeps material in clear; one that was ever
 * encrypted cannot be opened so.
 *
 * Caveats:
 * - LMDB does not zero freed pages: the sealed material of a deleted or replaced record stays in the file
 *   until its page is reused (harmless: it is ciphertext). A store migrated from clear ends with a
 *   compacting copy (store_migrate), so that no page holds clear material afterwards.
 * - A record is bound to its object, not to its version: an attacker who can write the files can put back
 *   an older copy of a whole record (or of the whole store). Protecting against rollback is out of scope.
 * - STORE_SYNC_RELAXED (MDB_NOMETASYNC) keeps the store consistent after any crash, but an operating
 *   system crash or power loss may undo the last committed group; a killed process loses nothing.
 * - If store_group_commit() fails, no write of the group is kept: the caller must answer every request
 *   of the group with an error.
 * - The staged writes of a group are in memory until the group commit: at most 256 MiB of records, beyond
 *   which a write is refused (STORE_E_TXNFULL) until the next commit.
 *
 * Symbol prefix: store_.
 */
#ifndef KMIPD_STORE_H
#define KMIPD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_WUR __attribute__((warn_unused_result))

struct ttlv;
struct ttlv_arena;

/* Errors: every int-returning function here returns 0 (STORE_OK) or one of these. */
enum store_err {
	STORE_OK = 0,
	STORE_E_NOTFOUND,	/* no object with that identifier */
	STORE_E_FULL,		/* the map is full; it grows at the next commit point unless at max_map_size */
	STORE_E_TXNFULL,	/* too many changes in one group: commit the group and retry */
	STORE_E_INVALID,	/* bad argument or object (too long, missing field, inconsistent) */
	STORE_E_CORRUPT,	/* a record or the environment cannot be read */
	STORE_E_NOMEM,		/* out of memory */
	STORE_E_BUSY,		/* another transaction is open, or a group is open where none may be */
	STORE_E_READONLY,	/* a write through a read transaction */
	STORE_E_IO,		/* an LMDB or system error; store_last_error() says which */
	STORE_E_CONFLICT,	/* without group commit: another process changed an object this write read */
};

const char *store_strerror(int err);

enum store_sync {
	STORE_SYNC_FULL = 0,	/* fsync data and meta page at every durable commit */
	STORE_SYNC_RELAXED,	/* MDB_NOMETASYNC: see the caveat above */
};

struct store_kek;

struct store_options {
	const char *path;	/* folder: created 0700 when missing; files are 0600 */
	bool encryption;	/* seal key material (the default); needs master */
	const struct store_kek *master;		/* opens the data keys; the caller keeps it while the store is open */
	const struct store_kek *previous;	/* rotation: the key the data keys are wrapped under until now */
	bool read_only;		/* write nothing (checks, verification): what opening would write is refused */
	bool single_file;	/* path is a backup file, not a folder: opened read-only, without a lock file */
	size_t map_size;	/* initial map size in bytes */
	size_t max_map_size;	/* the map doubles up to this when full; below map_size means map_size */
	enum store_sync sync;
	unsigned max_readers;	/* LMDB reader slots, shared by every process with the store open: each
				 * uses one, two for a moment (store_stat), each backup one more; so with N
				 * worker processes at least 2 N + a few (kmipctl, backups) */
	bool group_commit;	/* false: every write transaction commits durably on its own */
	bool replica;		/* a cluster node's copy of etcd's records (store_repl_*): written only from etcd */
};

/* Defaults: 256 MiB map growing up to 64 GiB, full sync, 126 readers, group commit on, encryption on, no
 * master key, path NULL. */
void store_options_init(struct store_options *o);

struct store;
struct store_txn;

/* Opens (creating when missing) the store. On failure *cause is a malloc'd sentence. */
int store_open(const struct store_options *o, struct store **out, char **cause) STORE_WUR;
/* Closes the store. An open transaction is aborted, and so is an uncommitted group: its writes are lost. */
void store_close(struct store *s);
/* Detail of the last failure (LMDB's message with context); "" when none. */
const char *store_last_error(const struct store *s);

/*
 * Begins a transaction. A write transaction stages its writes; committing it hands them to the group,
 * aborting it drops them. STORE_E_BUSY while another transaction is open.
 */
int store_txn_begin(struct store *s, bool write, struct store_txn **out) STORE_WUR;
/*
 * Commits and frees the transaction. Without group commit a write transaction is applied on return and
 * durable (STORE_E_CONFLICT when an object it read had changed: nothing of it was kept). After any failed
 * operation in the transaction the commit fails with that error (and aborts).
 */
int store_txn_commit(struct store_txn *t) STORE_WUR;
/* Aborts and frees the transaction; NULL is accepted. */
void store_txn_abort(struct store_txn *t);

/*
 * Who the following transactions work for: an owner (nonzero, chosen by the caller, e.g. a request) and an
 * item of it. A conflict at the group commit names them. 0 for nobody.
 */
void store_set_owner(struct store *s, uint64_t owner, uint32_t item);
/*
 * Called by store_group_commit() for each owner and item whose writes were not kept, or who read writes
 * that were not kept, because an object (uid) changed since they saw it. The rest of the group was kept.
 */
typedef void (*store_conflict_fn)(void *arg, uint64_t owner, uint32_t item, const char *uid);
/*
 * Applies the group (one LMDB write transaction, one fsync) and grows the map when it was found full or is
 * over 80% used. Call it with no transaction open, once per event-loop iteration, then release the
 * responses of the group's requests. Change sets whose objects changed underneath are skipped and reported
 * through conflict (NULL: by no one; only for callers that acknowledged nothing of the group). When it
 * fails, none of the group's writes are kept. With nothing pending it only does the growth check.
 */
int store_group_commit(struct store *s, store_conflict_fn conflict, void *arg) STORE_WUR;
/*
 * Replication (store/replica.c, issue 19). With store_options.replica the store is a cluster node's copy of
 * the records in etcd: store_group_commit refuses to write LMDB. Instead the caller (core/cluster.c) takes
 * the group, sends the transactions store_repl_next builds, one at a time, tells the outcome of each, and
 * finally reports the change sets that failed. What etcd committed reaches LMDB only by store_repl_apply
 * (the watch, in revision order) and store_repl_resync (after etcd compacted past this node). A record's
 * revision is the etcd mod_revision that wrote it. Keys in etcd are the caller's: an object's is a prefix and
 * its uid (at most STORE_REPL_KEY_EXTRA bytes before the uid).
 */
#define STORE_REPL_KEY_EXTRA	80
#define STORE_REPL_TOO_LARGE	"the write is too large for one etcd transaction (etcd's request size limit)"
#define STORE_REPL_QUOTA	"the owner's quota (access.quotas) would be exceeded: nothing of this item was kept"

struct store_rgroup;

/* A compare: the object's key is absent (absent), or its mod_revision is rev. */
struct store_rcmp {
	const char *uid;
	size_t uid_len;
	bool absent;
	uint64_t rev;
};
/* A put (rec) or a delete (rec NULL) of an object's key. */
struct store_rop {
	const char *uid;
	size_t uid_len;
	const uint8_t *rec;
	size_t rec_len;
};
/* A transaction to send: the compares, the success branch's operations; the failure branch reads every compared key. */
struct store_rtxn {
	const struct store_rcmp *cmps;
	size_t ncmps;
	const struct store_rop *ops;
	size_t nops;
};
/* What a compared key is now (from the failure branch's reads). */
struct store_rcur {
	const char *uid;
	size_t uid_len;
	bool exists;
	uint64_t mod_rev;
};

/*
 * Takes the group out of the store (*g NULL when empty): its writes leave the overlay. Quotas are checked
 * here against what this node applied; change sets over them fail. STORE_E_BUSY with a transaction or an
 * Undo batch open.
 */
int store_repl_take(struct store *s, struct store_rgroup **g) STORE_WUR;
/* Drops the group's change sets unsent (their requests were answered as failed). */
void store_group_abandon(struct store *s);
/*
 * The next transaction, of at most max_ops compares and operations and about max_bytes of request JSON;
 * t->nops == 0 when nothing is left to send. Valid until the next call about g. A change set that cannot fit
 * one transaction fails (STORE_REPL_TOO_LARGE).
 */
int store_repl_next(struct store_rgroup *g, size_t max_ops, size_t max_bytes, struct store_rtxn *t) STORE_WUR;
/* The transaction committed at revision rev. */
void store_repl_committed(struct store_rgroup *g, uint64_t rev);
/* Its compares failed; cur: every compared key as the failure branch read it. The change sets they decide fail. */
void store_repl_conflict(struct store_rgroup *g, const struct store_rcur *cur, size_t n);
/* It was refused, or its outcome is unknown: its change sets fail with reason (a static sentence); all: the rest too. */
void store_repl_refused(struct store_rgroup *g, const char *reason, bool all);
/* The highest revision a transaction of g committed at (0: none). */
uint64_t store_repl_revision(const struct store_rgroup *g);
/* Reports each failed change set's owner and readers (reason NULL: a conflict) and frees g. */
typedef void (*store_repl_fail_fn)(void *arg, uint64_t owner, uint32_t item, const char *uid, const char *reason);
void store_repl_finish(struct store *s, struct store_rgroup *g, store_repl_fail_fn fn, void *arg);

enum store_rkind {
	STORE_R_OBJECT,
	STORE_R_KEYRING,
};
/* One write etcd committed (a watch event), or one key of a resynchronising range. */
struct store_revent {
	enum store_rkind kind;
	const char *uid;		/* STORE_R_OBJECT */
	size_t uid_len;
	const uint8_t *value;
	size_t value_len;
	bool deleted;
	uint64_t mod_rev;
};
/*
 * Applies events in one LMDB transaction, skipping those at or below the applied revision (another process
 * applied them), and moves the applied revision up to through when it is above (0: it stays; through may be
 * below some events when the rest of their revision comes in a later call). A record that is not kmipd's for
 * its key is skipped and counted in *bad (store_last_error says which). A keyring the master key does not
 * open is STORE_E_INVALID, and nothing of the batch is kept.
 */
int store_repl_apply(struct store *s, const struct store_revent *ev, size_t n, uint64_t through, uint64_t *bad)
    STORE_WUR;
/* A malloc'd copy of the keyring (wrapped data keys only) as LMDB holds it; STORE_E_NOTFOUND without one. */
int store_repl_keyring(struct store *s, uint8_t **buf, size_t *len) STORE_WUR;
/*
 * The id of the etcd cluster the store is a copy of, in *id (0: none yet); with set nonzero and none noted,
 * notes set (and *id is set).
 */
int store_repl_cluster(struct store *s, uint64_t *id, uint64_t set) STORE_WUR;
/* The etcd revision this store applied through (0: none). */
int store_repl_applied(struct store *s, uint64_t *rev) STORE_WUR;
/*
 * One page of a resynchronisation from etcd's range at revision at_rev: kv, the page's objects sorted by uid,
 * cover the uids after from (from_len 0: from the start) up to the page's last (to the end when last). Local
 * records in that span that kv lacks are removed and older ones replaced, unless newer than at_rev (applied
 * meanwhile from the watch). The last page moves the applied revision to at_rev.
 */
int store_repl_resync(struct store *s, const struct store_revent *kv, size_t n, const char *from, size_t from_len,
    bool last, uint64_t at_rev, uint64_t *bad) STORE_WUR;

/*
 * A savepoint inside the group, for a batch that must be undone as a whole (KMIP's Batch Error
 * Continuation Option Undo): between store_batch_begin() and store_batch_end(), write transactions commit
 * into the savepoint, and store_batch_end(s, false) drops all of them while keeping the rest of the
 * group; kept, they are applied all or none at the group commit. Only with group commit; no transaction
 * may be open at either call. 0, or a store error.
 */
int store_batch_begin(struct store *s) STORE_WUR;
int store_batch_end(struct store *s, bool keep) STORE_WUR;
/*
 * A point in the group to come back to: store_rollback() drops every write committed into the group
 * since store_mark(), keeping what came before. For a request item that fails after it wrote (its writes
 * must not outlive its failure). A mark holds until the next group commit; no transaction may be open at
 * store_rollback(), and a mark taken inside an Undo batch must be used before the batch ends.
 */
struct store_mark {
	const void *cs;
};
void store_mark(const struct store *s, struct store_mark *m);
int store_rollback(struct store *s, const struct store_mark *m) STORE_WUR;
/*
 * True when the group holds committed writes not yet durable. Taking an identifier (store_new_uid) is
 * not a write: a transaction that only took one leaves nothing to commit.
 */
bool store_group_pending(const struct store *s);
/*
 * Whether owner (store_set_owner) staged a change set of the group or read the writes of one: its answer
 * depends on the group commit. An answer that read only durable records does not, and need not wait for it.
 * Linear in the group's change sets and their readers.
 */
bool store_group_touched(const struct store *s, uint64_t owner);

/* A managed object. Strings are NUL-terminated. */
struct store_object {
	const char *uid;		/* unique identifier, at most STORE_UID_MAX bytes */
	const char *owner;		/* owner identity, at most STORE_OWNER_MAX bytes */
	uint32_t object_type;		/* KMIP Object Type */
	uint32_t state;			/* KMIP State */
	const uint8_t *material;	/* opaque key material, or NULL */
	size_t material_len;
	uint32_t material_format;	/* chosen by the operations layer (e.g. a Key Format Type) */
	struct ttlv *attrs;		/* Attributes structure (0x420125); NULL stores an empty one */
	struct ttlv_arena *arena;	/* owns the object when it came from the store or store_object_new */
	uint32_t sharing;		/* the caller's flags (STORE_SHARED...), kept in the record's fixed header */
	uint32_t record_version;	/* format version of the record read (set by store_get) */
	uint64_t created_seq;		/* creation order (set by the store, kept across replaces) */
	bool partial;			/* attrs holds only the attributes a read selected: never written back */
};

#define STORE_UID_MAX		64
#define STORE_OWNER_MAX		4096
#define STORE_RECORD_MAX	(16u * 1024 * 1024)

/*
 * Inserts or replaces the object with this uid, re-indexing it in the same transaction. The attributes
 * must not carry a State or Object Type different from the object's fields (STORE_E_INVALID).
 */
int store_put(struct store_txn *t, const struct store_object *o) STORE_WUR;
/* sharing: the object may be visible to others than its owner (the caller decides what that means). */
#define STORE_SHARED		0x1u

/* A record's fixed header, read before anything else of the record is decoded. */
struct store_header {
	const char *owner;		/* not NUL-terminated; valid during the call only */
	size_t owner_len;
	uint32_t object_type, state;
	uint32_t sharing;		/* STORE_SHARED...; records of version 1 read as STORE_SHARED (unknown) */
	size_t material_len;		/* bytes of key material once opened (sealed: without IV and tag); 0: none */
};

/*
 * Decides from a record's fixed header whether to read it: 0 goes on, any store error stops the read
 * with that error (STORE_E_NOTFOUND to answer as for a missing object). Constant work for the store: the
 * record is found and its header read, nothing decoded.
 */
typedef int (*store_header_fn)(void *arg, const struct store_header *h);
/*
 * store_get (material) or store_get_meta (!material), asking check first; with check NULL, the same as
 * they.
 */
int store_get_checked(struct store_txn *t, const char *uid, bool material, store_header_fn check, void *arg,
    struct store_object **out) STORE_WUR;
/*
 * Which attributes a read decodes from the record: tags, ntags name the top-level attributes wanted (every
 * instance of each); the object then holds only those (partial) and store_put refuses it. The header check
 * may set all, to have every attribute decoded after all (when they decide who may read, say).
 */
struct store_select {
	const uint32_t *tags;
	size_t ntags;
	bool all;
};
/* store_get_checked decoding only the attributes sel names, unless sel->all is set by then. */
int store_get_select(struct store_txn *t, const char *uid, bool material, store_header_fn check, void *arg,
    struct store_select *sel, struct store_object **out) STORE_WUR;
/* Reads an object into a fresh arena the caller frees with store_object_free (STORE_E_NOTFOUND). */
int store_get(struct store_txn *t, const char *uid, struct store_object **out) STORE_WUR;
/* The same without key material (material NULL, material_len 0), for attribute-only reads. */
int store_get_meta(struct store_txn *t, const char *uid, struct store_object **out) STORE_WUR;
/*
 * The creation sequence of an object (its created_seq) without reading the object: for ordering objects
 * newest first, which their identifiers do not tell (STORE_E_NOTFOUND).
 */
int store_created_seq(struct store_txn *t, const char *uid, uint64_t *seq) STORE_WUR;
/* Removes the object and its index entries (STORE_E_NOTFOUND). */
int store_delete(struct store_txn *t, const char *uid) STORE_WUR;
/*
 * Writes a new identifier into buf: a UUID (RFC 9562 version 7: the Unix time in milliseconds, then 74
 * bits from OpenSSL's RAND_bytes) in lowercase text, STORE_UUID_LEN characters and a NUL
 * ("0193a4f2-8c1e-7a4d-b5c2-0d6e8f1a2b3c"). No counter: nothing the store holds decides it, so neither an
 * aborted write, a restart nor a restored older copy of the store brings one back (a client holding an
 * identifier from before never gets another object by it; a repeat of 74 random bits within the same
 * millisecond is not a practical possibility, even with the clock set back). Time-ordered, so inserts go
 * to the end of the object table; the creation time it shows is in clear anyway (Initial Date). Locate's
 * order is the creation sequence, not the identifier. Stores written before keep their
 * counted identifiers ("1", "2", ...), which stay valid. Only in a write transaction (STORE_E_READONLY);
 * STORE_E_INVALID when size is below STORE_UUID_LEN + 1; STORE_E_IO when the random generator fails
 * (store_last_error() says why), with no fallback. buf is "" on failure.
 */
#define STORE_UUID_LEN		36
int store_new_uid(struct store_txn *t, char *buf, size_t size) STORE_WUR;

/* A new object in its own arena with an empty Attributes structure, or NULL on ENOMEM. */
struct store_object *store_object_new(void) STORE_WUR;
/* Copies uid and owner into the object's arena and sets type and state. */
int store_object_set(struct store_object *o, const char *uid, const char *owner, uint32_t object_type,
    uint32_t state) STORE_WUR;
/* Copies key material into the object's arena. */
int store_object_set_material(struct store_object *o, const void *p, size_t len, uint32_t format) STORE_WUR;
/* Wipes and frees an object from store_get or store_object_new; NULL is accepted. */
void store_object_free(struct store_object *o);

/* Storage Status Mask bits (KMIP 1.x; Destroyed is 2.x). */
#define STORE_STATUS_ONLINE	0x1u
#define STORE_STATUS_ARCHIVAL	0x2u
#define STORE_STATUS_DESTROYED	0x4u

/*
 * A Locate query. Every filter attribute must match (AND):
 * - an attribute matches when the object has an instance of it equal to the filter's; a Structure
 *   filter needs only the fields it gives (a Link with only a Linked Object Identifier matches any Link
 *   Type), so unknown and vendor attributes match by (partial) deep equality, never ignored;
 * - several instances of one attribute must all be found (two Names: the object has both);
 * - a Date-Time attribute given twice is the range [first, second]; given once, an exact date;
 *   more than twice is STORE_E_INVALID;
 * - Cryptographic Usage Mask: the object's mask has every bit of the filter's;
 * - Unique Identifier, Object Type and State compare with the object's fields;
 * - Object Group Member "Group Member Fresh" needs the object's Fresh attribute true; "Group Member
 *   Default" adds no condition (with results newest first, Maximum Items 1 gives the newest member).
 * Results are in descending order of creation (newest first), as KMIP requires. A caller who is not an
 * administrator only ever sees objects whose owner equals its identity. Archived objects do not exist,
 * so STORE_STATUS_ARCHIVAL alone matches nothing.
 */
struct store_query {
	const char *identity;		/* the caller; NULL matches nothing unless is_admin */
	bool is_admin;			/* sees every owner's objects */
	const struct ttlv *filter;	/* Attributes structure (2.x style children), or NULL */
	uint32_t object_type;		/* 0: any; else ANDed with the filter */
	uint32_t maximum_items;		/* 0: no limit */
	uint32_t offset_items;		/* matches skipped before the first returned */
	uint32_t storage_status_mask;	/* STORE_STATUS_*; 0 means on-line objects only */
	size_t *located_items;		/* when not NULL: receives the number of matches counted (all of them,
					 * unless the scan budget cut the scan short) */
	/*
	 * Work the query may do: stored records examined, each counting 1 plus 1 per STORE_SCAN_BYTES of
	 * attributes it had to decode (0: no limit). Staged writes of the group are always examined and not
	 * counted: there are at most a group's worth of them.
	 */
	size_t scan_budget;
	size_t *scanned;		/* when not NULL: receives the work done, in the budget's units */
	bool *cut_short;		/* when not NULL: set true when the budget stopped the scan before the
					 * end (the matches returned are the newest found so far, and
					 * *located_items counts only those seen) */
};

#define STORE_SCAN_BYTES	4096	/* attribute bytes decoded that cost as much as one record examined */

#define STORE_FILTER_MAX	256	/* attributes in one Locate filter (STORE_E_INVALID beyond) */

/*
 * Runs a query; *uids is a malloc'd array of malloc'd strings freed with store_uids_free. With
 * maximum_items 0 every match is returned: the caller should impose its own limit.
 */
int store_locate(struct store_txn *t, const struct store_query *q, char ***uids, size_t *n,
    char **cause) STORE_WUR;
void store_uids_free(char **uids, size_t n);

/* The indexes, for store_index_uids (tools, tests, and "who links to X" questions). */
enum store_index {
	STORE_IDX_NAME,		/* Name Value */
	STORE_IDX_OWNER,
	STORE_IDX_TYPE,		/* Object Type (value) */
	STORE_IDX_STATE,	/* State (value) */
	STORE_IDX_GROUP,	/* Object Group */
	STORE_IDX_LINK,		/* Linked Object Identifier */
	STORE_IDX_COUNT
};

/*
 * The uids under one index key, newest first, without owner checks: text for the text indexes, value for
 * Object Type and State. With text NULL on a text index, every entry of the index is listed.
 */
int store_index_uids(struct store_txn *t, enum store_index idx, const char *text, uint32_t value,
    char ***uids, size_t *n) STORE_WUR;

/*
 * Usage per owner, for quotas: the records an owner identity has in the store, their bytes (records as
 * stored: attributes, sealed material, header) and how many of them are Destroyed or Destroyed
 * Compromised (counted in the other two as well: they stay in the store until purged). Kept in the store
 * by the group commit in the same LMDB transaction as the records, so they never drift, also when several
 * processes write; a store written before the counters existed (or by an older kmipd since) is counted
 * once from its records at the next writable open: one pass over the records in one write transaction
 * (store_usage_rebuild does the same on demand). Reading one owner's usage costs O(1) in the store's size.
 */
struct store_usage {
	uint64_t objects;
	uint64_t bytes;
	uint64_t destroyed;
};

struct store_usage_delta {
	int64_t objects, bytes, destroyed;
};

/*
 * An owner's usage as t sees it: the durable counters plus every write staged in the group, t's own
 * included. STORE_E_INVALID when the store has no counters (a read-only open of a store never opened
 * writable by this version).
 */
int store_usage_get(struct store_txn *t, const char *owner, struct store_usage *u) STORE_WUR;
/* What t's own writes (its change set) change in an owner's usage; zeros for a read. */
int store_txn_usage_delta(struct store_txn *t, const char *owner, struct store_usage_delta *d) STORE_WUR;
/*
 * Calls fn once for each owner whose usage t's writes change (owner NUL-terminated, valid during the call),
 * with the change; the first nonzero return of fn stops and is returned. O(writes^2) of t, a few.
 */
typedef int (*store_delta_fn)(void *arg, const char *owner, const struct store_usage_delta *d);
int store_txn_usage_each(struct store_txn *t, store_delta_fn fn, void *arg) STORE_WUR;
/*
 * Holds t's writes to a quota at the group commit as well: t was admitted under it (store_usage_get
 * counts the durable counters and this process's group only), and another process may have written for
 * the same owner meanwhile. At the group commit the change set is applied only when, after it, owner owns
 * at most max_objects objects and max_bytes bytes (0: no limit) as the durable counters, which count every
 * process's commits, say; otherwise it is skipped and reported as a conflict (sent again, the request
 * meets the quota). Only for a write transaction (STORE_E_READONLY); STORE_E_INVALID for an owner longer
 * than STORE_OWNER_MAX, STORE_E_NOMEM.
 */
/*
 * Makes t's writes best effort: a bookkeeping write a read makes on the side (Get ending an object's
 * freshness). When at the group commit what t read no longer holds (another process changed the object
 * meanwhile), its writes are dropped quietly: neither its request nor those that read them fail for it,
 * and the rest of the group (of an Undo batch too) is applied. A write that built on them is still a
 * conflict. Only for a write transaction (STORE_E_READONLY).
 */
int store_txn_best_effort(struct store_txn *t) STORE_WUR;
int store_txn_usage_limit(struct store_txn *t, const char *owner, uint64_t max_objects, uint64_t max_bytes)
    STORE_WUR;
/* Called for each owner (owner_len bytes, not NUL-terminated) with its usage; nonzero stops. */
typedef int (*store_usage_fn)(void *arg, const char *owner, size_t owner_len, const struct store_usage *u);
/* Lists every owner's durable usage (the group's pending writes aside). No transaction may be open. */
int store_usage_each(struct store *s, store_usage_fn fn, void *arg) STORE_WUR;
/*
 * Counts every owner's usage again from the records, in one write transaction (*records counted), and
 * replaces the counters with the result. Nothing may be pending; not for read-only stores.
 */
int store_usage_rebuild(struct store *s, uint64_t *records, char **cause) STORE_WUR;

/*
 * LMDB's writer lock, shared by every process that has the store open (one writer at a time): how often
 * this process took it (every group commit, keyring change, usage count) and how long it was blocked in
 * mdb_txn_begin waiting for it, in microseconds. Uncontended, taking it costs a few microseconds; with
 * several processes writing, a wait lasts about one other process's commit and fsync. Per process: add
 * the figures of every process for the whole server (plain sums; max is the largest of them).
 */
#define STORE_LOCK_WAIT_US	100	/* a take that lasted this long or more counts as a wait */
struct store_lock_stats {
	uint64_t taken;			/* write transactions begun */
	uint64_t waits;			/* those blocked STORE_LOCK_WAIT_US or more */
	uint64_t wait_us;		/* time blocked in total, all takes */
	uint64_t max_wait_us;		/* the longest one */
	uint64_t last_wait_us;		/* the last one (a benchmark samples it after each group commit) */
};

/* Copies the writer-lock figures; no LMDB call, so a benchmark may read them after every commit. */
void store_lock_stats(const struct store *s, struct store_lock_stats *ls);

/*
 * Clears the reader slots of processes that died inside a read transaction (a worker killed by a signal):
 * LMDB's mdb_reader_check on the store folder path, *dead set to the slots cleared. Until cleared, such a
 * slot pins the snapshot it read, so pages freed since cannot be reused and the file grows. For a process
 * that does not have this store open (the master of the workers, after a worker died): opening an LMDB
 * environment twice in one process breaks the locks of the first. Every store_open runs the same check, so
 * a replacement worker also clears what its predecessor left. Run it as the user the store's files
 * belong to, or root (the lock file is opened read-write, never created: without one there is nothing to
 * clear). 0, or a store error with *cause.
 */
int store_reader_check(const char *path, int *dead, char **cause) STORE_WUR;

struct store_stats {
	uint64_t objects;		/* records */
	uint64_t map_size;		/* bytes mapped now */
	uint64_t max_map_size;
	uint64_t used_bytes;		/* pages up to the last one in use (free pages included) */
	uint64_t file_bytes;		/* disk blocks of the data file */
	uint64_t page_size;
	uint64_t group_commits;		/* durable group commits since open */
	uint64_t grows;			/* map growths since open */
	uint64_t replays;		/* groups re-applied after a growth at commit time */
	uint64_t conflicts;		/* change sets skipped at commit: an object had changed underneath, a
					 * quota was reached by another process's writes, or the data key changed */
	uint64_t dropped;		/* best-effort change sets dropped at commit (store_txn_best_effort) */
	struct store_lock_stats lock;	/* LMDB's writer lock, this process's takes (store_lock_stats) */
};

int store_stat(struct store *s, struct store_stats *st) STORE_WUR;

/*
 * Keys. A master key, or the recovery key, comes from one source. Key files must not be readable by group
 * or others; a credential is read from $CREDENTIALS_DIRECTORY (systemd's LoadCredential= and
 * LoadCredentialEncrypted=); a token key is used through the PKCS#11 module, its PIN read from a file or
 * "credential:NAME".
 */
#define STORE_KEY_BYTES		32
#define STORE_RECOVERY_TEXT	96	/* room for a recovery key's printed text */

enum store_key_source {
	STORE_KEY_FILE = 1,		/* path: a file of 32 random bytes (or 64 hexadecimal digits) */
	STORE_KEY_CREDENTIAL,		/* path: the credential's name */
	STORE_KEY_PKCS11,		/* p11_*: module, token label, key label, PIN file or credential:NAME */
	STORE_KEY_RECOVERY,		/* path: a file holding the recovery key's text */
};

struct store_kek_source {
	enum store_key_source kind;
	const char *path;
	const char *p11_module, *p11_token, *p11_key, *p11_pin;
};

/* Loads a key (a token key stays open until freed). On failure *cause is a malloc'd sentence. */
int store_kek_load(const struct store_kek_source *src, struct store_kek **out, char **cause) STORE_WUR;
/* Wipes and frees a key; NULL is accepted. */
void store_kek_free(struct store_kek *k);
/* What a key is, for messages ("file /etc/kmipd/master.key"). */
const char *store_kek_describe(const struct store_kek *k);
/* Writes a new random master key into a new file (mode 0600); an existing file is never replaced. */
int store_master_key_create(const char *path, char **cause) STORE_WUR;

/*
 * Reads the keyring again, with the master key (and the previous one, to rotate: the data keys wrapped
 * under previous only are wrapped under master, and previous opens nothing afterwards). Picks up data and
 * recovery keys added by another process. On failure the keys in use stay as they were. No transaction
 * may be open. master must outlive its use by the store.
 */
int store_keys_reload(struct store *s, const struct store_kek *master, const struct store_kek *previous,
    char **cause) STORE_WUR;
/*
 * Adds a new data key, wrapped under the master key (and for the recovery key), and makes it current: new
 * writes are sealed under it, and store_reseal() re-encrypts the older records. No transaction may be open.
 */
int store_data_key_new(struct store *s, char **cause) STORE_WUR;
/*
 * Makes a new recovery key, wraps every data key for it and replaces any earlier one (which opens nothing
 * afterwards); its text (STORE_RECOVERY_TEXT bytes) is for the operator to keep offline: the store holds
 * only its public half.
 */
int store_recovery_key_new(struct store *s, char *text, size_t size, char **cause) STORE_WUR;

struct store_key_status {
	bool encrypted;
	unsigned data_keys;		/* in the keyring: more than one while a rotation re-encrypts */
	uint32_t current_data_key;
	bool recovery;			/* a recovery key is set */
	bool clear_pages;		/* migrated from clear: the file may hold clear material until compacted */
	bool keyring_unopened;		/* another process changed the keyring and this one cannot open the
					 * change (a data key wrapped only under a master key it has not loaded):
					 * it works on with the keys it has until reloaded with that master key */
};

int store_key_status(struct store *s, struct store_key_status *st) STORE_WUR;

struct store_reseal_progress {
	uint64_t scanned;		/* records looked at by this batch */
	uint64_t resealed;		/* records written again by this batch */
	bool done;			/* a whole pass found nothing to do: old data keys retired */
};

/*
 * One batch of re-encryption: up to max records still in clear (migration) or sealed under an older data
 * key are written again under the current one, into the group (commit it as usual), looking at no more
 * than 16 * max records. Call it again until done. No transaction may be open. Returns 0 or a store error
 * with *cause.
 */
int store_reseal(struct store *s, size_t max, struct store_reseal_progress *p, char **cause) STORE_WUR;

typedef void (*store_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Re-encrypts the whole store in batches, each durable (a kill loses nothing and the next run goes on),
 * then, when the store was migrated from clear, replaces its data file with a compacted copy so that no
 * freed page keeps clear material, and reopens it with o into *sp. For a start before serving, and kmipctl.
 */
int store_migrate(struct store **sp, const struct store_options *o, store_progress_fn progress, void *arg,
    char **cause) STORE_WUR;
/*
 * Replaces the store's data file with a compacted copy of itself and reopens it with o into *sp (NULL on
 * failure). Nothing may be pending, and no other process may have the store open.
 */
int store_compact(struct store **sp, const struct store_options *o, char **cause) STORE_WUR;

/* What a backup holds. */
struct store_backup_info {
	uint64_t objects;		/* records */
	uint64_t clear;			/* records whose key material is in clear */
	uint64_t unreadable;		/* records that do not parse (kmipctl verify names them) */
	bool encrypted;			/* the store has a keyring: key material is sealed */
	bool counted_at_start;		/* a stream: counted in a snapshot taken as the copy began */
	uint64_t bytes;			/* bytes written */
	bool was_replica;		/* store_restore: a cluster node's copy, restored as a single machine's store */
};

/*
 * Hot, consistent, compacted copy of the store folder store_path written to fd (an empty file, or a pipe:
 * the caller should ignore SIGPIPE), with progress in bytes against an estimate (progress may be NULL).
 * Opens the environment read-only and copies one read snapshot, so it runs in another process while the
 * server writes. A stream cannot be read back: the counts come from a snapshot taken as the copy began.
 * Call it only from a process that does not have this store open (kmipctl, or a forked child): LMDB must
 * not open one environment twice in a process, closing the second drops the first one's locks.
 */
int store_backup(const char *store_path, int fd, store_progress_fn progress, void *arg,
    struct store_backup_info *info, char **cause) STORE_WUR;
/*
 * The same into the new file dest (mode 0600), refused when dest exists: written under a temporary name
 * beside it, synced, opened to count what it holds, then linked into place, so that dest is a whole backup
 * or nothing. The counts are the copy's own.
 */
int store_backup_file(const char *store_path, const char *dest, store_progress_fn progress, void *arg,
    struct store_backup_info *info, char **cause) STORE_WUR;
/*
 * Writes the backup file as the data file of the store folder store_path (created 0700 when missing),
 * through a synced temporary file renamed into place (mode 0600; run as root, the files take the owner of
 * the folder, a new folder that of its parent). Refused (STORE_E_BUSY) when a process has the store open:
 * every process with an LMDB environment open holds a shared fcntl lock on its lock file, which the kernel
 * drops when it exits, and the restore holds the exclusive lock while it writes, so a kmipd started
 * meanwhile waits. Refused (STORE_E_INVALID, *present set) when the store holds objects, or when its data
 * file cannot be read. The backup is copied, not checked: open it with single_file first. info counts the
 * restored copy.
 */
int store_restore(const char *backup, const char *store_path, store_progress_fn progress, void *arg,
    uint64_t *present, struct store_backup_info *info, char **cause) STORE_WUR;

#endif
