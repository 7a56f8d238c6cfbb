/*
 * Inside the engine: the engine and session structures, what a handler sees of one batch item, the table
 * of operations, and what handlers share: finding the object a request names, checking that the caller
 * may see it, opening store transactions; and the edges between the protocol versions and the handlers
 * (versions.c): the request normaliser, the rules, the Result Reason table. Not for use outside core/engine/.
 */
#ifndef KMIPD_OPS_H
#define KMIPD_OPS_H

#include <stdbool.h>
#include <sys/queue.h>

#include "core/engine/access.h"
#include "core/engine/attrs.h"
#include "core/engine/engine.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/ttlv.h"
#include "store/store.h"

struct crypto_streams;
struct crypto_owners;
struct access_guard;
struct keygen_result;
struct pending;
struct cred_derivation;

#define OP_UID_MAX	64	/* = STORE_UID_MAX */
#define OP_AUDIT_UIDS	4	/* unique identifiers an audit line names (Locate: the first ones) */

/*
 * The audit line of a batch item whose answer waits for the group commit (it wrote, or read what is not
 * durable yet): written by dispatch_audit_commit() with the commit's outcome, or earlier by
 * dispatch_audit_settle() when the request ends with nothing left to commit. Kept by the engine, not the
 * session, so a client that hangs up still has its writes recorded.
 */
struct audit_deferred {
	TAILQ_ENTRY(audit_deferred) entry;
	uint64_t owner;			/* the request's serial (the store's owner) */
	uint32_t item;
	uint64_t conn;
	char peer[64];
	char *who;
	unsigned version;
	const char *operation;		/* a static name */
	char uids[OP_AUDIT_UIDS][OP_UID_MAX + 1];
	size_t nuids;
	int64_t started_us;
	char failed[200];		/* what the client was told when it lost this item's writes, else "" */
};

struct engine {
	struct engine_env env;
	TAILQ_HEAD(, audit_deferred) deferred;	/* audit lines waiting for the commit's outcome */
	TAILQ_HEAD(, session) held;	/* responses waiting for the group commit */
	unsigned nheld;
	/* A clustered store (env.replicate): the group on its way to etcd, with its responses and audit lines. */
	struct store_rgroup *flight;
	TAILQ_HEAD(, session) flight_held;
	TAILQ_HEAD(, audit_deferred) flight_deferred;
	unsigned nflight;
	uint64_t next_serial;		/* requests answered, numbering them as the store's owners */
	struct access_guard *guard;	/* Credential derivations under way and back-off (survives reloads) */
	unsigned policy_gen;		/* bumped when a reload replaces the policy */
	TAILQ_HEAD(, cred_derivation) derivations;	/* Credential derivations on the workers */
	struct crypto_owners *crypto_owners;	/* multi-part operations open per identity, or NULL */
};

/* The store owner item that stands for every item of a request (an Undo batch is all or none). */
#define ENGINE_ITEM_ALL		UINT32_MAX

struct session {
	struct engine *eng;
	uint64_t id;
	char peer[64];
	char *who;			/* the client's identity: owner of what it creates */
	bool admin;			/* who is an administrator (set per request, from the current policy) */
	/* The certificate's subject OUs and "TYPE:value" subjectAltNames, which access.grants may name. */
	char **ous, **sans;
	size_t nous, nsans;
	struct access_rights rights;	/* what its roles allow, computed once per policy */
	unsigned rights_gen;		/* the policy_gen rights were computed under */
	bool rights_known;
	unsigned credential_failures;	/* wrong Credentials sent; at ACCESS_CREDENTIAL_TRIES none is checked */
	struct crypto_streams *crypto_streams;	/* multi-part Encrypt/Decrypt in progress, or NULL */
	struct pending *pending;	/* the request waiting for the workers (Credential, keys), or NULL */
	uint64_t serial;		/* the request being answered (or held): its store owner */
	TAILQ_ENTRY(session) held_entry;	/* on eng->held while held_buf waits for the group commit */
	uint8_t *held_buf;		/* (wiped when freed) */
	size_t held_len;
	/* Batch items of the held request whose writes the group commit skipped (see store_conflict_fn). */
	uint32_t *conflicts;
	size_t nconflicts, conflicts_cap;
	bool conflict_all;
	bool in_flight;			/* held_entry is on eng->flight_held, not eng->held */
	const char *conflict_reason;	/* why its writes were not kept when not a conflict (static), or NULL */
	char conflict_uid[OP_UID_MAX + 1];
	session_done_fn done;
	void *done_arg;
};


/*
 * What differs between the protocol versions and is not a matter of spelling (payloads are normalised on
 * the way in, Result Reasons and attributes spelled for the client on the way out). versions.c decides it
 * once per request, from the version the response is written in; handlers test a rule by name, never a
 * version number.
 */
struct op_rules {
	bool echo_edited_attribute;	/* Add, Modify and Delete Attribute answer with the attribute (1.x) */
	bool unique_names;		/* a Name added or changed must not be another of the owner's objects' (2.x) */
	bool get_registered_format;	/* Get without a Key Format Type answers in the key's own (2.x) */
	bool located_items;		/* Locate answers Located Items when asked for paging (1.3 and later) */
	bool templates;			/* the Template object type exists (1.x; 2.0 removed it) */
	/*
	 * Which Profile Name values Query answers with: those of KMIP Profiles 1.3 (0x0103) or 1.4 (0x0104),
	 * the 2.x names (0x0200), or none (0: Profile Information came with 1.3).
	 */
	unsigned profile_names;
};

/* The session's rights under access.roles, recomputed when the policy changed (dispatch.c). */
const struct access_rights *session_rights(struct session *s);

/* What a handler sees of one batch item. */
struct op_ctx {
	struct session *session;
	const struct engine_env *env;
	const struct kmip_request *req;
	const struct kmip_batch_item *item;	/* its payload in the internal form (versions.c) */
	unsigned version;		/* the version the response is written in: for the edges, versions.c */
	struct op_rules rules;		/* what that version changes */
	struct ttlv_enc *out;		/* the Response Payload's contents go here */
	struct ttlv_arena *arena;	/* the request's arena, for scratch items */
	char *placeholder;		/* ID Placeholder shared by the batch's items (STORE_UID_MAX + 1) */
	struct keygen_result *key;	/* the key pair generated for this item, if its op asked for one */
	bool undo;			/* the batch is undone whole if an item fails */
	size_t scanned;			/* work the request's Locates did, against server.locate_scan_budget */
	int64_t now;
	struct kmip_error err;		/* set by a failing handler */
	char audit_uids[OP_AUDIT_UIDS][OP_UID_MAX + 1];	/* what the item acted on, for the audit trail */
	size_t naudit;
};

/* A handler writes its payload to ctx->out and returns 0, or sets ctx->err and returns -1. */
typedef int (*op_fn)(struct op_ctx *ctx);

struct keygen_spec;

struct op_desc {
	uint32_t operation;
	const char *name;
	op_fn fn;
	/*
	 * Optional: 1 with spec filled when the item needs work of the worker processes before it runs (a key
	 * pair generated, an RSA key's primes recovered); the handler finds the result in ctx->key.
	 */
	int (*keyspec)(struct op_ctx *ctx, struct keygen_spec *spec);
	unsigned since;			/* the protocol version that introduced the operation */
};

/* The operations kmipd implements, terminated by an entry with fn NULL. */
extern const struct op_desc dispatch_ops[];
/* The versions kmipd speaks, newest first, and how many. */
extern const unsigned dispatch_versions[];
extern const size_t dispatch_nversions;

/* The current time, in seconds since the epoch, for Time Stamps and dates. */
int64_t engine_now(void);
/* Drops the session's request that waits for key generation, if any. */
void dispatch_cancel(struct session *s);
/* The engine is going away: drops the Credential derivations still running for clients that left. */
void dispatch_free_derivations(struct engine *e);
/* A held or pending response is ready: hands it to the session's callback (buf NULL: none could be made). */
void session_deliver(struct session *s, uint8_t *buf, size_t len);


/*
 * Secret Data keeps two things in the store's material_format: its Secret Data Type and the Key Format Type
 * it was registered in (Raw or Opaque), which Get answers with.
 */
#define OPS_SECRET_FORMAT(type, kft)	((((uint32_t)(kft) & 0xffff) << 16) | ((uint32_t)(type) & 0xffff))
#define OPS_SECRET_TYPE(format)		((format) & 0xffff)
#define OPS_SECRET_KFT(format)		(((format) >> 16) & 0x3fff)

/*
 * Key material kept as the client registered it (material_format has OPS_HELD set; the rest of it is what
 * it would be otherwise): a key whose bytes are not in the Key Format Type it was declared in (Raw for an
 * RSA or EC key, PKCS#1 bytes declared PKCS#8 and the like), and a wrapped key (its Key Block carried Key
 * Wrapping Data), which kmipd cannot open. The material is then an envelope (ops_held_pack):
 *   4 bytes: n, the length of the canonical form (keyfmt.h), 0 for a wrapped key; n bytes: that form;
 *   4 bytes: m; m bytes: the Key Value item (TTLV) as registered; the rest: the Key Wrapping Data item
 *   (TTLV) as registered, or nothing.
 * The Key Format Type the client declared is kept in the low 14 bits of OPS_HELD_KFT(material_format), the
 * object's usual material_format (a Secret Data Type) in the low 16 bits.
 */
#define OPS_HELD			0x40000000u
#define OPS_HELD_FORMAT(base, kft)	(OPS_HELD | (((uint32_t)(kft) & 0x3fff) << 16) | ((uint32_t)(base) & 0xffff))
#define OPS_HELD_KFT(format)		(((format) >> 16) & 0x3fff)
#define OPS_HELD_BASE(format)		((format) & 0xffff)

/* What an object's material holds once its envelope is opened (ops_held_open). */
struct ops_held {
	bool held;			/* kept as registered; false: material is the canonical form itself */
	const uint8_t *canon;		/* the canonical form: for conversions and cryptography; NULL if wrapped */
	size_t canon_len;
	const uint8_t *value;		/* held: the Key Value item as registered */
	size_t value_len;
	const uint8_t *wrapping;	/* held: the Key Wrapping Data item as registered; NULL when none */
	size_t wrapping_len;
	uint32_t kft;			/* held: the Key Format Type declared */
};

/* True for the object types whose material comes in a Key Block (the only ones whose material is held). */
bool ops_has_key_block(uint32_t object_type);
/*
 * Opens the material of o (with its material loaded) into h. Returns 0, or -1 when a held envelope is
 * malformed (a damaged store: the caller answers General Failure).
 */
int ops_held_open(const struct store_object *o, struct ops_held *h) __attribute__((warn_unused_result));
/*
 * Packs an envelope (see OPS_HELD) into a malloc'd *out (the caller wipes and frees it): canon may be NULL
 * (canon_len 0), wrapping NULL (wrapping_len 0). Returns 0, or -1 when it would be too large or memory ran
 * out.
 */
int ops_held_pack(const uint8_t *canon, size_t canon_len, const uint8_t *value, size_t value_len,
    const uint8_t *wrapping, size_t wrapping_len, uint8_t **out, size_t *out_len)
    __attribute__((warn_unused_result));

/*
 * The edges between the protocol versions and the handlers (versions.c). Handlers read payloads in the
 * internal form (KMIP 2.x plus Attribute Index; see versions.c), set 2.x Result Reasons, test ctx->rules and
 * write attributes through the ops_encode_* helpers.
 */
/* The rules of the protocol version a response is written in. */
struct op_rules versions_rules(unsigned version);
/*
 * Rewrites the Request Payload of each batch item of req (a request in version) into the internal form, in
 * place. Returns an array (in arena) of one error per item: reason 0 when its payload was rewritten or
 * needed no rewriting, else why it could not be read, which the item is answered with when its turn comes
 * (the Result Reason and Message its handler gave before payloads were normalised). NULL when out of memory.
 */
struct kmip_error *versions_normalise(struct kmip_request *req, unsigned version, struct ttlv_arena *arena)
    __attribute__((warn_unused_result));
/* The Result Reason a client of version is answered with for the reason a handler set. */
uint32_t versions_reason(unsigned version, uint32_t reason);
/* Row i of the Result Reason table (a 2.x reason and what 1.x clients get instead); false past the last. */
bool versions_reason_row(size_t i, uint32_t *internal, uint32_t *v1);
/* Writes one attribute, the index-th instance of its kind, in the client's spelling. */
void ops_encode_attr(struct op_ctx *ctx, const struct ttlv *item, int32_t index);
/* Writes the attributes of attrs the client's version knows and keep accepts (NULL: all); see attrs_encode. */
void ops_encode_attrs(struct op_ctx *ctx, const struct ttlv *attrs, attr_filter_fn keep, void *arg);
/* Writes one reference to each attribute the client's version knows and keep accepts; see attrs_encode_refs. */
void ops_encode_attr_refs(struct op_ctx *ctx, const struct ttlv *attrs, attr_filter_fn keep, void *arg);
/* The Key Format Type that keys of object_type and alg default to in the client's version (0: none). */
uint32_t ops_default_format(const struct op_ctx *ctx, uint32_t object_type, uint32_t alg);
/* True when the client's version defines the operation. */
bool ops_client_knows_op(const struct op_ctx *ctx, const struct op_desc *d);
/* True when the client's version defines the tag (a field Query may answer with). */
bool ops_client_knows_tag(const struct op_ctx *ctx, uint32_t tag);

/* The caller's identity, and whether it is an administrator (sees every owner's objects). */
const char *ops_identity(const struct op_ctx *ctx);
bool ops_is_admin(const struct op_ctx *ctx);
/*
 * Notes that the writes of request owner's item (ENGINE_ITEM_ALL: of all its items) were not kept, message
 * being what its client is told.
 */
void dispatch_audit_conflict(struct engine *e, uint64_t owner, uint32_t item, const char *message);
/* Writes the deferred audit lines of request owner now (nothing of it waits for a commit). */
void dispatch_audit_settle(struct engine *e, uint64_t owner);
/* Writes every deferred audit line with the outcome of the group commit (rc 0, or its error why). */
void dispatch_audit_commit(struct engine *e, int rc, const char *why);
/* Frees the deferred audit lines unwritten (the engine is going away). */
void dispatch_audit_free(struct engine *e);
/* Names uid in the item's audit line. */
void ops_audit_uid(struct op_ctx *ctx, const char *uid);

/* ops_load() flags. */
#define OPS_MATERIAL	0x1	/* with the key material */
#define OPS_WRITE	0x2	/* the caller will change the object: owner or administrator only */

/*
 * The Unique Identifier of the request payload, or the ID Placeholder left by an earlier item of the
 * batch when the payload has none. NULL with ctx->err set when there is neither.
 */
const char *ops_uid(struct op_ctx *ctx);
/* Opens a store transaction; -1 with ctx->err set on failure. */
int ops_begin(struct op_ctx *ctx, bool write, struct store_txn **txn) __attribute__((warn_unused_result));
/*
 * Commits *txn and sets it to NULL: the transaction is gone whether the commit worked or not. Returns 0, or -1
 * with ctx->err set (a full store is reported as such).
 */
int ops_commit(struct op_ctx *ctx, struct store_txn **txn) __attribute__((warn_unused_result));
/*
 * True when owner is at (or past) one of its quotas already, with ctx->err set: an operation that would add
 * an object asks this before it has a key generated for it, so that a tenant at its quota costs no key
 * generation. txn: the item's transaction, or NULL to read in one of its own.
 */
bool ops_quota_full(struct op_ctx *ctx, struct store_txn *txn, const char *owner);
/* Sets ctx->err to the out-of-memory failure; returns -1. */
int ops_nomem(struct op_ctx *ctx);
/* Sets ctx->err from a store error; returns -1. */
int ops_store_error(struct op_ctx *ctx, int err, const char *what);
/*
 * Loads the object uid if it exists and the caller may read it (or, with OPS_WRITE, change it); one the
 * caller may not touch answers exactly like one that does not exist.
 */
int ops_load(struct op_ctx *ctx, struct store_txn *txn, const char *uid, unsigned flags,
    struct store_object **obj) __attribute__((warn_unused_result));
/*
 * ops_load with the material, for an operation that writes it into the response (Get): material that
 * cannot fit in the room ctx->out has left is not opened (decrypted), and the object comes without it
 * (material NULL) with *too_large set, so that the caller answers Response Too Large after the checks that
 * come first. The test is a lower bound (the stored length less OPS_EXPORT_SLACK): a fitting item is never
 * refused by it, and one that does not fit and slips through is still refused by the encoder's limit.
 * Only the attributes tags names (ntags of them) are read, unless the object may be shared (then all, for
 * the access check); the object cannot be written back (store_put refuses it).
 */
int ops_load_export(struct op_ctx *ctx, struct store_txn *txn, const char *uid, const uint32_t *tags,
    size_t ntags, struct store_object **obj, bool *too_large) __attribute__((warn_unused_result));
/*
 * How many bytes an exported form of key material may be smaller than the form the store keeps (keyfmt.h).
 * The most a conversion saves is a few hundred bytes: PKCS#8 to PKCS#1 drops the algorithm header (about 26
 * bytes); an EC private key exported transparent keeps D and the curve but not the public point and the
 * DER around it (under 200 bytes for P-521). Transparent RSA, wrapping and the raw forms never shrink.
 */
#define OPS_EXPORT_SLACK	1024
/* Records uid as the ID Placeholder for later items of the batch. */
void ops_set_placeholder(struct op_ctx *ctx, const char *uid);
/*
 * Checks an object's attributes against server.max_attributes, max_attribute_values and
 * max_attribute_bytes, as Create, Register, Re-key and the attribute edits leave them. 0, or -1 with
 * ctx->err set (Server Limit Exceeded).
 */
int ops_check_attr_limits(struct op_ctx *ctx, const struct ttlv *attrs) __attribute__((warn_unused_result));
/* Stamps Last Change Date and writes obj back; -1 with ctx->err set. */
int ops_save(struct op_ctx *ctx, struct store_txn *txn, struct store_object *obj)
    __attribute__((warn_unused_result));

/* True for the object types that hold leases (Lease Time, Obtain Lease). */
bool ops_lease_applies(uint32_t object_type);
/*
 * Shows the attributes that describe the server (Lease Time, Protection Storage Mask) among o's, for reading;
 * never stored. 0, or -1 with ctx->err set when out of memory.
 */
int ops_attach_virtual(struct op_ctx *ctx, struct store_object *o) __attribute__((warn_unused_result));

/* Handlers (see op_fn above for the contract). */
int op_discover_versions(struct op_ctx *ctx);
int op_query(struct op_ctx *ctx);
int op_create(struct op_ctx *ctx);
int op_create_key_pair(struct op_ctx *ctx);
int op_register(struct op_ctx *ctx);
int op_get(struct op_ctx *ctx);
int op_get_attributes(struct op_ctx *ctx);
int op_get_attribute_list(struct op_ctx *ctx);
int op_add_attribute(struct op_ctx *ctx);
int op_set_attribute(struct op_ctx *ctx);
int op_modify_attribute(struct op_ctx *ctx);
int op_delete_attribute(struct op_ctx *ctx);
int op_activate(struct op_ctx *ctx);
int op_revoke(struct op_ctx *ctx);
int op_destroy(struct op_ctx *ctx);
int op_locate(struct op_ctx *ctx);
int op_rekey(struct op_ctx *ctx);
int op_encrypt(struct op_ctx *ctx);
int op_decrypt(struct op_ctx *ctx);
int op_sign(struct op_ctx *ctx);
int op_signature_verify(struct op_ctx *ctx);
int op_mac(struct op_ctx *ctx);
int op_mac_verify(struct op_ctx *ctx);
int op_hash(struct op_ctx *ctx);
int op_rng_retrieve(struct op_ctx *ctx);
int op_rng_seed(struct op_ctx *ctx);
int op_interop(struct op_ctx *ctx);
int op_log(struct op_ctx *ctx);
int op_check(struct op_ctx *ctx);
/* Frees the multi-part cipher contexts a closing session left open; NULL is accepted. */
void ops_crypto_streams_free(struct crypto_streams *st);
/*
 * Discards the session's multi-part operations idle past crypto.stream_idle_timeout at now (seconds):
 * run at each request, so that a connection busy with other requests gives them back too.
 */
void ops_crypto_expire(struct session *s, int64_t now);
/* Frees the engine's count of multi-part operations per identity, once every session is freed. */
void ops_crypto_owners_free(struct crypto_owners *t);
int op_rekey_key_pair(struct op_ctx *ctx);
int op_obtain_lease(struct op_ctx *ctx);

int op_derive_key(struct op_ctx *ctx);

/*
 * Helpers of one family for another's handlers (Derive Key, ops_derive.c, makes objects as ops_create.c
 * does and uses the digests and ciphers of ops_crypto.c).
 */
/* The client attributes of an attribute set of the payload (NULL src: none), checked; NULL with ctx->err. */
struct ttlv *ops_request_attrs(struct op_ctx *ctx, const struct ttlv *src);
/* A new object of type owned by the caller with the client's attributes and the server's; NULL with ctx->err. */
struct store_object *ops_new_object(struct op_ctx *ctx, struct store_txn *txn, uint32_t type,
    const struct ttlv *client);
/* Once its material is set: the usage mask default_usage (0: none) unless the client gave one, and the Digest. */
int ops_new_object_finish(struct op_ctx *ctx, struct store_object *o, uint32_t default_usage)
    __attribute__((warn_unused_result));
/* The OpenSSL name of a KMIP Hashing Algorithm, or NULL. */
const char *ops_digest_name(uint32_t hash);
/* The OpenSSL cipher for a symmetric key of alg, keylen bytes, in mode (0: CBC), or NULL. */
const char *ops_cipher_name(uint32_t alg, size_t keylen, uint32_t mode, char *buf, size_t size);

int op_create_split_key(struct op_ctx *ctx);
int op_join_split_key(struct op_ctx *ctx);

/*
 * What Create Split Key and Join Split Key (ops_split.c) share with Create and Register (ops_create.c):
 * ops_new_object() above, ops_set_digest() sets an object's Digest. The Split Key object's fields:
 * ops_split_register() checks a registered one's (obj: its Split Key structure) and keeps them with o,
 * ops_split_encode() writes them (Get, before the Key Block).
 */
int ops_set_digest(struct op_ctx *ctx, struct store_object *o) __attribute__((warn_unused_result));
int ops_split_register(struct op_ctx *ctx, const struct ttlv *obj, struct store_object *o)
    __attribute__((warn_unused_result));
void ops_split_encode(struct op_ctx *ctx, const struct store_object *o);
/*
 * Get as PKCS#12 (ops_pkcs12.c): the file of private key o (key: its canonical PKCS#8 form, ops_held_open)
 * with its certificate chain, protected by the password of its PKCS#12 Password Link. *der is the caller's
 * to OPENSSL_free. 0, or -1 with ctx->err set.
 */
int ops_pkcs12_export(struct op_ctx *ctx, const struct store_object *o, const uint8_t *key, size_t key_len,
    uint8_t **der, size_t *len)
    __attribute__((warn_unused_result));

/* Key generation a batch item needs before it runs: 1 with spec filled, 0 for none. */
int op_create_key_pair_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);
int op_rekey_key_pair_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);
int op_register_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);
int op_derive_key_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);

#endif
