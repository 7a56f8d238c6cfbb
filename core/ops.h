/*
 * Operation handlers, one file per family, and what they share: finding the object a request names,
 * checking that the caller may see it, opening store transactions, and the Result Reasons that differ
 * between KMIP 1.x and 2.x.
 */
#ifndef KMIPD_OPS_H
#define KMIPD_OPS_H

#include <stdbool.h>

#include "core/dispatch.h"
#include "store/store.h"

struct keygen_spec;

/*
 * Secret Data keeps two things in the store's material_format: its Secret Data Type and the Key Format Type
 * it was registered in (Raw or Opaque), which Get answers with.
 */
#define OPS_SECRET_FORMAT(type, kft)	((((uint32_t)(kft) & 0xffff) << 16) | ((uint32_t)(type) & 0xffff))
#define OPS_SECRET_TYPE(format)		((format) & 0xffff)
#define OPS_SECRET_KFT(format)		((format) >> 16)

/* Result Reasons whose value changed between 1.x and 2.x. */
uint32_t ops_reason_not_found(unsigned version);
uint32_t ops_reason_wrong_state(unsigned version);
uint32_t ops_reason_read_only(unsigned version);

/* The caller's identity, and whether it is an administrator (sees every owner's objects). */
const char *ops_identity(const struct op_ctx *ctx);
bool ops_is_admin(const struct op_ctx *ctx);
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
/* Commits; -1 with ctx->err set (a full store is reported as such). */
int ops_commit(struct op_ctx *ctx, struct store_txn *txn) __attribute__((warn_unused_result));
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
/* Records uid as the ID Placeholder for later items of the batch. */
void ops_set_placeholder(struct op_ctx *ctx, const char *uid);
/* Stamps Last Change Date and writes obj back; -1 with ctx->err set. */
int ops_save(struct op_ctx *ctx, struct store_txn *txn, struct store_object *obj)
    __attribute__((warn_unused_result));

/* Handlers (see dispatch.h for the contract). */
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
/* Frees the multi-part cipher contexts a closing connection left open; NULL is accepted. */
struct crypto_streams;
void ops_crypto_streams_free(struct crypto_streams *st);
int op_rekey_key_pair(struct op_ctx *ctx);

/* Key generation a batch item needs before it runs: 1 with spec filled, 0 for none. */
int op_create_key_pair_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);
int op_rekey_key_pair_keyspec(struct op_ctx *ctx, struct keygen_spec *spec);

#endif
