/*
 * Reading and editing objects: Get, Get Attributes, Get Attribute List, and the attribute edits of KMIP 1.x
 * (Add, Modify, Delete Attribute) and 2.x (Set, Add, Modify, Delete Attribute).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/engine/access.h"
#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

/*
 * Wraps plain (a Key Value) as a Key Wrapping Specification asks: Wrapping Method Encrypt with an AES key
 * of the caller's (NIST Key Wrap, RFC 3394, or its padded form RFC 5649). *out is malloc'd. Returns 0, or
 * -1 with ctx->err set.
 */
static int
wrap_value(struct op_ctx *ctx, const struct ttlv *spec, const uint8_t *plain, size_t len, uint8_t **out,
    size_t *outlen)
{
	const struct ttlv *method = ttlv_find(spec, KMIP_TAG_WRAPPING_METHOD);
	const struct ttlv *eki = ttlv_find(spec, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
	const struct ttlv *wuid = ttlv_find(eki, KMIP_TAG_UNIQUE_IDENTIFIER);
	const struct ttlv *mode = ttlv_find(ttlv_find(eki, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), KMIP_TAG_BLOCK_CIPHER_MODE);
	const struct ttlv *mask, *alg;
	struct store_object *k = NULL;
	struct store_txn *txn;
	EVP_CIPHER_CTX *c = NULL;
	EVP_CIPHER *cipher = NULL;
	char name[32];
	int n = 0, fin = 0, rc;
	bool pad;

	*out = NULL;
	if (method == NULL || method->type != TTLV_ENUMERATION || method->v.u32 != KMIP_WRAPPING_METHOD_ENCRYPT ||
	    ttlv_find(spec, KMIP_TAG_MAC_SIGNATURE_KEY_INFORMATION) != NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
		    "only the Encrypt wrapping method is supported");
	if (wuid == NULL || wuid->type != TTLV_TEXT_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Encryption Key Information needs the wrapping key's Unique Identifier");
	pad = mode != NULL && mode->type == TTLV_ENUMERATION && mode->v.u32 == KMIP_BLOCK_CIPHER_MODE_AESKEYWRAPPADDING;
	if (mode != NULL && (mode->type != TTLV_ENUMERATION || (!pad && mode->v.u32 != KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP)))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
		    "keys are wrapped with NIST Key Wrap or AES Key Wrap with Padding");
	if (ops_begin(ctx, false, &txn) != 0)
		return -1;
	/* Wrapping uses the key: only who may change it (its owner, an administrator), not whoever may read it. */
	rc = ops_load(ctx, txn, (const char *)wuid->v.bytes.data, OPS_MATERIAL | OPS_WRITE, &k);
	store_txn_abort(txn);
	if (rc != 0)
		return -1;
	rc = -1;
	mask = ttlv_find(k->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK);
	alg = ttlv_find(k->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	/* 16 to 32 bytes of Camellia, ARIA or SM4 are not an AES key, whatever their length. */
	if (k->object_type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY || k->state != KMIP_STATE_ACTIVE || k->material == NULL ||
	    (alg != NULL && alg->type == TTLV_ENUMERATION && alg->v.u32 != KMIP_CRYPTOGRAPHIC_ALGORITHM_AES) ||
	    (k->material_len != 16 && k->material_len != 24 && k->material_len != 32) || mask == NULL ||
	    !((uint32_t)mask->v.i32 & (KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY | KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "key %s cannot wrap: it must be "
		    "an Active AES key allowed to wrap or encrypt", k->uid);
		goto out;
	}
	if (!pad && (len < 16 || len % 8 != 0)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "NIST Key Wrap needs a multiple of 8 bytes "
		    "(use AES Key Wrap with Padding)");
		goto out;
	}
	snprintf(name, sizeof(name), "AES-%zu-WRAP%s", k->material_len * 8, pad ? "-PAD" : "");
	if ((cipher = EVP_CIPHER_fetch(NULL, name, NULL)) == NULL || (c = EVP_CIPHER_CTX_new()) == NULL ||
	    (*out = malloc(len + 16)) == NULL || !EVP_EncryptInit_ex2(c, cipher, k->material, NULL, NULL) ||
	    !EVP_EncryptUpdate(c, *out, &n, plain, (int)len) || !EVP_EncryptFinal_ex(c, *out + n, &fin)) {
		ERR_clear_error();
		free(*out);
		*out = NULL;
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "key wrapping failed");
		goto out;
	}
	*outlen = (size_t)(n + fin);
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_free(cipher);
	store_object_free(k);
	return rc;
}

/*
 * Writes a wrapped Key Value (a Byte String, KMIP 1.4 section 2.1.4) of len bytes; under
 * compat.wrapped_key_value_structure, inside a Key Value structure as its Key Material, the one place
 * PyKMIP 0.10's client reads it.
 */
static void
encode_wrapped_value(struct op_ctx *ctx, const uint8_t *bytes, size_t len)
{
	if (ctx->env->cfg->compat.wrapped_key_value_structure) {
		ttlv_enc_begin(ctx->out, KMIP_TAG_KEY_VALUE);
		ttlv_enc_bytes(ctx->out, KMIP_TAG_KEY_MATERIAL, bytes, len);
		ttlv_enc_end(ctx->out);
	} else
		ttlv_enc_bytes(ctx->out, KMIP_TAG_KEY_VALUE, bytes, len);
}

/*
 * Writes the Key Block of a key registered wrapped, as registered: its Key Format Type, Key Value and Key
 * Wrapping Data. kmipd cannot open it, so it is given in no other format and under no other wrapping.
 */
static int
encode_held_wrapped(struct op_ctx *ctx, const struct store_object *o, const struct ops_held *h, uint32_t want,
    const struct ttlv *wrap)
{
	const struct ttlv *alg = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	const struct ttlv *len = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH);

	if (wrap != NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_WRAP_TYPE_NOT_SUPPORTED, "object %s was "
		    "registered wrapped, and kmipd cannot unwrap it: Get it without a Key Wrapping Specification", o->uid);
	if (want != 0 && want != h->kft)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED, "object %s was "
		    "registered wrapped in Key Format Type %s, and kmipd cannot unwrap it to convert it", o->uid,
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, h->kft));
	ttlv_enc_begin(ctx->out, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(ctx->out, KMIP_TAG_KEY_FORMAT_TYPE, h->kft);
	if (h->value[3] == TTLV_BYTE_STRING && ttlv_get32(h->value + 4) <= h->value_len - 8)
		encode_wrapped_value(ctx, h->value + 8, ttlv_get32(h->value + 4));
	else
		ttlv_enc_raw(ctx->out, h->value, h->value_len);
	if (alg != NULL && alg->type == TTLV_ENUMERATION)
		ttlv_enc_enum(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg->v.u32);
	if (len != NULL && len->type == TTLV_INTEGER)
		ttlv_enc_int(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, len->v.i32);
	ttlv_enc_raw(ctx->out, h->wrapping, h->wrapping_len);
	ttlv_enc_end(ctx->out);
	return 0;
}

/*
 * Writes a Key Block for material in the requested format (0: the key's default) into ctx->out, wrapped
 * when the request has a Key Wrapping Specification. A key kept as registered (OPS_HELD) is given as
 * registered when no format is asked (or the one declared, which kmipd cannot write itself: Raw), else
 * converted from its canonical form.
 */
static int
encode_key_block(struct op_ctx *ctx, const struct store_object *o, uint32_t want, const struct ttlv *wrap)
{
	const struct ttlv *alg = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	const struct ttlv *len = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH);
	const struct ttlv *kft, *enc = ttlv_find(wrap, KMIP_TAG_ENCODING_OPTION);
	struct keyfmt_error kerr;
	struct ttlv_enc plain;
	uint32_t used = 0;
	uint8_t *wrapped = NULL;
	size_t wrapped_len = 0;
	bool no_encoding = enc != NULL && enc->type == TTLV_ENUMERATION && enc->v.u32 == KMIP_ENCODING_OPTION_NO_ENCODING;
	bool as_registered;
	struct ops_held h;
	int rc = -1;

	if (ops_held_open(o, &h) != 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the stored material of %s is "
		    "damaged", o->uid);
	if (h.held && h.canon == NULL)
		return encode_held_wrapped(ctx, o, &h, want, wrap);
	as_registered = h.held && (want == 0 || (want == h.kft && !keyfmt_format_applies(o->object_type,
	    alg != NULL ? alg->v.u32 : 0, want)));

	/*
	 * No format asked: where the rules say so (2.x), the object's Key Format Type attribute (the format it
	 * was registered in); otherwise the key's default in the client's version (2.x defaults may not exist
	 * in 1.x).
	 */
	kft = ttlv_find(o->attrs, KMIP_TAG_KEY_FORMAT_TYPE);
	if (want == 0 && ctx->rules.get_registered_format && kft != NULL && kft->type == TTLV_ENUMERATION &&
	    keyfmt_format_applies(o->object_type, alg != NULL ? alg->v.u32 : 0, kft->v.u32))
		want = kft->v.u32;
	if (want == 0)
		want = o->object_type == KMIP_OBJECT_TYPE_SECRET_DATA || o->object_type == KMIP_OBJECT_TYPE_PGP_KEY ?
		    OPS_SECRET_KFT(o->material_format) : ops_default_format(ctx, o->object_type, alg != NULL ? alg->v.u32 : 0);
	/* The Key Value, on its own: KMIP 1.x clients (Veeam first) take only key material inside it. */
	ttlv_enc_init(&plain);
	if (as_registered) {
		/* The Key Value as registered; without encoding, its Key Material alone (its first field). */
		used = h.kft;
		if (!no_encoding)
			ttlv_enc_raw(&plain, h.value, h.value_len);
		else if (h.value_len >= 16 && ttlv_get32(h.value + 8) >> 8 == KMIP_TAG_KEY_MATERIAL &&
		    ((size_t)ttlv_get32(h.value + 12) + 7) / 8 * 8 <= h.value_len - 16)
			ttlv_enc_raw(&plain, h.value + 8, 8 + ((size_t)ttlv_get32(h.value + 12) + 7) / 8 * 8);
	} else {
		if (!no_encoding)
			ttlv_enc_begin(&plain, KMIP_TAG_KEY_VALUE);
		if (want == KMIP_KEY_FORMAT_TYPE_PKCS_12 && o->object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY) {
			/* Not a conversion of the key alone: its certificates and password come from the store too. */
			uint8_t *p12;
			size_t p12_len;

			if (ops_pkcs12_export(ctx, o, h.canon, h.canon_len, &p12, &p12_len) != 0)
				goto out;
			ttlv_enc_bytes(&plain, KMIP_TAG_KEY_MATERIAL, p12, p12_len);
			OPENSSL_clear_free(p12, p12_len);
			used = want;
		} else if (keyfmt_export(o->object_type, h.canon, h.canon_len, want, &plain, &used, &kerr) != 0) {
			kmip_error_set(&ctx->err, kerr.reason, "%s", kerr.message);
			goto out;
		}
		if (!no_encoding)
			ttlv_enc_end(&plain);
	}
	if (ttlv_enc_finish(&plain) != 0) {
		ops_nomem(ctx);
		goto out;
	}
	if (wrap != NULL) {
		/* No Encoding wraps the key material's bytes alone; the default wraps the TTLV of the Key Value. */
		if (no_encoding && (plain.len < 8 || plain.buf[3] != TTLV_BYTE_STRING)) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ENCODING_OPTION_ERROR,
			    "this Key Format Type has no plain byte form to wrap without encoding");
			goto out;
		}
		const uint8_t *in = no_encoding ? plain.buf + 8 : plain.buf;
		size_t inlen = no_encoding ? ttlv_get32(plain.buf + 4) : plain.len;

		if (wrap_value(ctx, wrap, in, inlen, &wrapped, &wrapped_len) != 0)
			goto out;
	}
	ttlv_enc_begin(ctx->out, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(ctx->out, KMIP_TAG_KEY_FORMAT_TYPE, used);
	if (wrapped != NULL) {
		encode_wrapped_value(ctx, wrapped, wrapped_len);
	} else {
		ttlv_enc_raw(ctx->out, plain.buf, plain.len);
	}
	if (alg != NULL && alg->type == TTLV_ENUMERATION)
		ttlv_enc_enum(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg->v.u32);
	if (len != NULL && len->type == TTLV_INTEGER)
		ttlv_enc_int(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, len->v.i32);
	if (wrapped != NULL) {
		ttlv_enc_begin(ctx->out, KMIP_TAG_KEY_WRAPPING_DATA);
		ttlv_enc_enum(ctx->out, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAPPING_METHOD_ENCRYPT);
		ttlv_enc_item(ctx->out, ttlv_find(wrap, KMIP_TAG_ENCRYPTION_KEY_INFORMATION));
		if (enc != NULL)
			ttlv_enc_item(ctx->out, enc);
		ttlv_enc_end(ctx->out);
	}
	ttlv_enc_end(ctx->out);
	rc = 0;
out:
	if (wrapped != NULL) {
		explicit_bzero(wrapped, wrapped_len);
		free(wrapped);
	}
	ttlv_enc_free(&plain);
	return rc;
}

/*
 * The first Get of an object ends its freshness (the Fresh attribute). A failure here (a full store, say)
 * is logged and does not fail the Get: reading a key must not depend on room to write.
 */
static void
mark_retrieved(struct op_ctx *ctx, const char *uid)
{
	struct store_object *o = NULL;
	struct store_txn *txn = NULL;
	int rc = -1;

	/*
	 * Best effort at the group commit too: another worker process may end the same freshness (or change
	 * the object) first, and that must not fail this Get, which read the object as it was.
	 */
	if (ops_begin(ctx, true, &txn) == 0 && store_txn_best_effort(txn) == STORE_OK &&
	    ops_load(ctx, txn, uid, OPS_MATERIAL, &o) == 0 &&
	    attrs_set_bool(o->arena, o->attrs, KMIP_TAG_FRESH, false) == 0 && ops_save(ctx, txn, o) == 0) {
		rc = ops_commit(ctx, &txn);
	}
	if (rc != 0) {
		session_log(ctx->session, LOG_LEVEL_WARN, "could not clear Fresh on %s: %s", uid, ctx->err.message);
		memset(&ctx->err, 0, sizeof(ctx->err));
	}
	store_txn_abort(txn);
	store_object_free(o);
}

/* True when a Key Wrapping Specification names uid itself as the wrapping key. */
static bool
wrapped_by_itself(const struct ttlv *wrap, const char *uid)
{
	const struct ttlv *w = ttlv_find(ttlv_find(wrap, KMIP_TAG_ENCRYPTION_KEY_INFORMATION), KMIP_TAG_UNIQUE_IDENTIFIER);

	return w != NULL && w->type == TTLV_TEXT_STRING && strcmp((const char *)w->v.bytes.data, uid) == 0;
}

/*
 * The attributes a Get reads (its checks, the Key Block, a Split Key's fields, a PKCS#12 export's links and
 * friendly name): decoding the object's others, on every Get, was about a fifth of its instructions.
 */
static const uint32_t get_attrs[] = {
	KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, KMIP_TAG_KEY_FORMAT_TYPE,
	KMIP_TAG_EXTRACTABLE, KMIP_TAG_SENSITIVE, KMIP_TAG_FRESH,
	KMIP_TAG_SPLIT_KEY_PARTS, KMIP_TAG_KEY_PART_IDENTIFIER, KMIP_TAG_SPLIT_KEY_THRESHOLD,
	KMIP_TAG_SPLIT_KEY_METHOD, KMIP_TAG_PRIME_FIELD_SIZE,
	KMIP_TAG_LINK, KMIP_TAG_PKCS_12_FRIENDLY_NAME,
};

/* Get: the object with its key material, in the Key Format Type asked for or the key's default. */
int
op_get(struct op_ctx *ctx)
{
	const struct ttlv *p = ctx->item->payload, *fmt, *comp;
	struct store_object *o = NULL;
	struct store_txn *txn = NULL;
	const struct ttlv *t, *wrap;
	const char *uid;
	uint32_t want = 0;
	bool too_large;
	int rc = -1;

	if ((uid = ops_uid(ctx)) == NULL)
		return -1;
	if ((fmt = ttlv_find(p, KMIP_TAG_KEY_FORMAT_TYPE)) != NULL) {
		if (fmt->type != TTLV_ENUMERATION)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Key Format Type is not an Enumeration");
		want = fmt->v.u32;
	}
	if ((wrap = ttlv_find(p, KMIP_TAG_KEY_WRAPPING_SPECIFICATION)) != NULL && wrap->type != TTLV_STRUCTURE)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "malformed Key Wrapping Specification");
	if ((comp = ttlv_find(p, KMIP_TAG_KEY_COMPRESSION_TYPE)) != NULL &&
	    (comp->type != TTLV_ENUMERATION || comp->v.u32 != KMIP_KEY_COMPRESSION_TYPE_EC_PUBLIC_KEY_TYPE_UNCOMPRESSED))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_COMPRESSION_TYPE_NOT_SUPPORTED,
		    "only uncompressed EC public keys are supported");
	if (ops_begin(ctx, false, &txn) != 0)
		return -1;
	rc = ops_load_export(ctx, txn, uid, get_attrs, sizeof(get_attrs) / sizeof(get_attrs[0]), &o, &too_large);
	store_txn_abort(txn);
	if (rc != 0)
		return -1;
	rc = -1;
	/* A role with "material = no" may Get public objects (certificates, public keys), never secrets. */
	if (!session_rights(ctx->session)->material && o->object_type != KMIP_OBJECT_TYPE_CERTIFICATE &&
	    o->object_type != KMIP_OBJECT_TYPE_PUBLIC_KEY) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_PERMISSION_DENIED, "this client's roles (%s) may not "
		    "read key material: Get of %s refused", ctx->session->rights.roles, uid);
		session_log(ctx->session, LOG_LEVEL_WARN, "permission denied: Get of %s, key material, by roles %s",
		    uid, ctx->session->rights.roles);
		goto out;
	}
	/*
	 * KMIP 1.4 sections 3.48 and 3.50 (2.1: 4.52, 4.19): a key that is not Extractable never leaves, wrapped
	 * or not; a Sensitive one leaves only wrapped by another key. Operations with them still work.
	 */
	if ((t = ttlv_find(o->attrs, KMIP_TAG_EXTRACTABLE)) != NULL && t->type == TTLV_BOOLEAN && !t->v.b) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_NOT_EXTRACTABLE, "object %s is not Extractable", uid);
		goto out;
	}
	if ((t = ttlv_find(o->attrs, KMIP_TAG_SENSITIVE)) != NULL && t->type == TTLV_BOOLEAN && t->v.b &&
	    (wrap == NULL || wrapped_by_itself(wrap, o->uid))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SENSITIVE,
		    "object %s is Sensitive: its key material leaves only wrapped (give a Key Wrapping Specification)",
		    uid);
		goto out;
	}
	if (o->state == KMIP_STATE_DESTROYED || o->state == KMIP_STATE_DESTROYED_COMPROMISED ||
	    (o->material == NULL && !too_large)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_DESTROYED,
		    "object %s has been destroyed; only its attributes remain", uid);
		goto out;
	}
	if (too_large) {
		/* Answered as the encoder's limit would answer it, without opening material that is thrown away. */
		session_log(ctx->session, LOG_LEVEL_DEBUG, "get %s: its key material cannot fit in the response; "
		    "not opened", o->uid);
		ttlv_enc_overflow(ctx->out);
		goto out;
	}
	ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, o->object_type);
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	switch (o->object_type) {
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
		ttlv_enc_begin(ctx->out, kmip_object_tag(o->object_type));
		if (encode_key_block(ctx, o, want, wrap) != 0)
			goto out;
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_SPLIT_KEY:
		ttlv_enc_begin(ctx->out, KMIP_TAG_SPLIT_KEY);
		ops_split_encode(ctx, o);
		if (encode_key_block(ctx, o, want, wrap) != 0)
			goto out;
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_SECRET_DATA:
		ttlv_enc_begin(ctx->out, KMIP_TAG_SECRET_DATA);
		ttlv_enc_enum(ctx->out, KMIP_TAG_SECRET_DATA_TYPE, OPS_SECRET_TYPE(o->material_format));
		if (encode_key_block(ctx, o, want, wrap) != 0)
			goto out;
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_PGP_KEY:
		ttlv_enc_begin(ctx->out, KMIP_TAG_PGP_KEY);
		ttlv_enc_int(ctx->out, KMIP_TAG_PGP_KEY_VERSION, (int32_t)OPS_SECRET_TYPE(o->material_format));
		if (encode_key_block(ctx, o, want, wrap) != 0)
			goto out;
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_TEMPLATE:
		/* Its Attributes as registered: a Template has no key material to convert or wrap. */
		if (!ctx->rules.templates) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE,
			    "object %s is a Template, which KMIP 2.0 removed", uid);
			goto out;
		}
		ttlv_enc_begin(ctx->out, KMIP_TAG_TEMPLATE);
		ttlv_enc_raw(ctx->out, o->material, o->material_len);
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_OPAQUE_OBJECT:
		ttlv_enc_begin(ctx->out, KMIP_TAG_OPAQUE_OBJECT);
		ttlv_enc_enum(ctx->out, KMIP_TAG_OPAQUE_DATA_TYPE, o->material_format);
		ttlv_enc_bytes(ctx->out, KMIP_TAG_OPAQUE_DATA_VALUE, o->material, o->material_len);
		ttlv_enc_end(ctx->out);
		break;
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		ttlv_enc_begin(ctx->out, KMIP_TAG_CERTIFICATE);
		ttlv_enc_enum(ctx->out, KMIP_TAG_CERTIFICATE_TYPE, o->material_format);
		ttlv_enc_bytes(ctx->out, KMIP_TAG_CERTIFICATE_VALUE, o->material, o->material_len);
		ttlv_enc_end(ctx->out);
		break;
	default:
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "object %s has an unknown type", uid);
		goto out;
	}
	session_log(ctx->session, LOG_LEVEL_DEBUG, "get %s (%s)", o->uid, ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, o->object_type));
	rc = 0;
	/* Only the owner's (or an administrator's) first Get ends freshness: a share reads, it never writes. */
	if ((t = ttlv_find(o->attrs, KMIP_TAG_FRESH)) != NULL && t->type == TTLV_BOOLEAN && t->v.b &&
	    (strcmp(o->owner, ops_identity(ctx)) == 0 || ops_is_admin(ctx)))
		mark_retrieved(ctx, o->uid);
out:
	store_object_free(o);
	return rc;
}

/* Loads the object a read-only attribute operation names, with the server's own attributes (ops_attach_virtual). */
static struct store_object *
load_meta(struct op_ctx *ctx)
{
	struct store_object *o = NULL;
	struct store_txn *txn;
	const char *uid;
	int rc;

	if ((uid = ops_uid(ctx)) == NULL || ops_begin(ctx, false, &txn) != 0)
		return NULL;
	rc = ops_load(ctx, txn, uid, 0, &o);
	store_txn_abort(txn);
	if (rc == 0 && ops_attach_virtual(ctx, o) != 0) {
		store_object_free(o);
		return NULL;
	}
	return rc == 0 ? o : NULL;
}

/* The object an attribute read is about, and (for Get Attributes) the attributes the request names. */
struct reading {
	const struct op_ctx *ctx;
	const struct store_object *o;
	const struct attr_selection *wanted;
};

/* True when the caller may see attribute c of the object: share attributes only to those who may change it. */
static bool
shared_shown(const struct ttlv *c, void *arg)
{
	const struct reading *r = arg;

	return !access_is_share_attribute(c) ||
	    access_allowed(r->ctx->env->policy, ops_identity(r->ctx), r->o->owner, r->o->attrs, true);
}

/*
 * True when the caller may see attribute c and the request asks for it: it lists no attributes, or names
 * this one by Attribute Reference or, where the normaliser left one (see versions.c), by 1.x Attribute Name.
 */
static bool
shown_requested(const struct ttlv *c, void *arg)
{
	const struct reading *r = arg;

	return shared_shown(c, arg) && attr_selection_has(r->wanted, c, true);
}

/* Get Attributes: the object's attributes the request names (all when it names none). */
int
op_get_attributes(struct op_ctx *ctx)
{
	struct store_object *o;
	struct attr_selection *wanted;
	struct reading r;

	/* Looked up once each, so that the work is O(n log n) in the names and the object's attributes. */
	if ((wanted = attr_selection_named(ctx->item->payload)) == NULL)
		return ops_nomem(ctx);
	if ((o = load_meta(ctx)) == NULL) {
		attr_selection_free(wanted);
		return -1;
	}
	r.ctx = ctx;
	r.o = o;
	r.wanted = wanted;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ops_encode_attrs(ctx, o->attrs, shown_requested, &r);
	store_object_free(o);
	attr_selection_free(wanted);
	return 0;
}

/* Get Attribute List: a reference to each of the object's attributes (1.x: a name), each once. */
int
op_get_attribute_list(struct op_ctx *ctx)
{
	struct store_object *o = load_meta(ctx);
	struct reading r = { ctx, o, NULL };

	if (o == NULL)
		return -1;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ops_encode_attr_refs(ctx, o->attrs, shared_shown, &r);
	store_object_free(o);
	return 0;
}

enum edit {
	EDIT_ADD,		/* 1.x and 2.x Add Attribute */
	EDIT_SET,		/* 2.x Set Attribute: single-valued, create or replace */
	EDIT_MODIFY,		/* replace an existing instance */
	EDIT_DELETE,
};

/* Checks that a client may change this attribute at all. */
static int
editable(struct op_ctx *ctx, const struct ttlv *item)
{
	const struct attr_def *d = attr_def(item->tag);
	char name[256];

	if (attr_check(item, &ctx->err) != 0)
		return -1;
	if (!(d->flags & ATTR_EDIT))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY,
		    "attribute %s cannot be changed by clients", attr_name(item, name, sizeof(name)));
	return 0;
}

/*
 * The lifecycle dates a client sets drive the state: the dates of a phase that has begun are history and
 * stay as they are (an Active key keeps its Activation Date; a Deactivated one its Deactivation Date).
 */
static bool
date_editable(uint32_t tag, uint32_t state)
{
	switch (tag) {
	case KMIP_TAG_ACTIVATION_DATE:
	case KMIP_TAG_PROCESS_START_DATE:
		return state == KMIP_STATE_PRE_ACTIVE;
	case KMIP_TAG_DEACTIVATION_DATE:
	case KMIP_TAG_PROTECT_STOP_DATE:
		return state == KMIP_STATE_PRE_ACTIVE || state == KMIP_STATE_ACTIVE;
	default:
		return true;
	}
}

/* True when o has a Name with the Name Value of name. */
static bool
has_name(const struct store_object *o, const struct ttlv *name)
{
	const struct ttlv *v = ttlv_find(name, KMIP_TAG_NAME_VALUE), *n;

	for (n = ttlv_find(o->attrs, KMIP_TAG_NAME); v != NULL && n != NULL; n = ttlv_find_next(n)) {
		const struct ttlv *nv = ttlv_find(n, KMIP_TAG_NAME_VALUE);

		if (nv != NULL && ttlv_equal(nv, v))
			return true;
	}
	return false;
}

/* True when another object of the same owner has the Name item (where the rules want unique names). */
static bool
name_taken(struct op_ctx *ctx, struct store_txn *txn, const struct store_object *o, const struct ttlv *name)
{
	const struct ttlv *value = ttlv_find(name, KMIP_TAG_NAME_VALUE);
	char **uids = NULL;
	size_t n = 0, i;
	bool taken = false;

	(void)ctx;
	if (value == NULL || store_index_uids(txn, STORE_IDX_NAME, (const char *)value->v.bytes.data, 0, &uids,
	    &n) != 0)
		return false;
	for (i = 0; i < n && !taken; i++) {
		struct store_object *other = NULL;

		if (strcmp(uids[i], o->uid) == 0 || store_get_meta(txn, uids[i], &other) != 0)
			continue;
		taken = strcmp(other->owner, o->owner) == 0 && other->state != KMIP_STATE_DESTROYED &&
		    other->state != KMIP_STATE_DESTROYED_COMPROMISED;
		store_object_free(other);
	}
	store_uids_free(uids, n);
	return taken;
}

/* A Boolean attribute's value, or dflt when absent. */
static bool
flag_of(const struct ttlv *attrs, uint32_t tag, bool dflt)
{
	const struct ttlv *a = ttlv_find(attrs, tag);

	return a != NULL && a->type == TTLV_BOOLEAN ? a->v.b : dflt;
}

/*
 * Applies one edit to the object named by the request and writes the response (the Unique Identifier, and
 * where the rules say so the attribute as it now is, or as it was for a delete). item is the new value (add,
 * set, modify) or NULL for a delete; current the instance to change or delete, if the request names one;
 * index the instance otherwise (the payload's Attribute Index; 0 without one).
 */
static int
apply_edit(struct op_ctx *ctx, enum edit kind, struct ttlv *item, const struct ttlv *current, int32_t index,
    const struct ttlv *like)
{
	struct store_object *o = NULL;
	struct store_txn *txn = NULL;
	struct ttlv *target = NULL, *copy;
	const char *uid;
	char name[256];
	int32_t at = index;
	int rc = -1;
	bool multi, unchanged = false, sensitive, extractable;

	if ((uid = ops_uid(ctx)) == NULL || ops_begin(ctx, true, &txn) != 0)
		return -1;
	if (ops_load(ctx, txn, uid, OPS_MATERIAL | OPS_WRITE, &o) != 0)
		goto out;
	sensitive = flag_of(o->attrs, KMIP_TAG_SENSITIVE, false);
	extractable = flag_of(o->attrs, KMIP_TAG_EXTRACTABLE, true);
	if (!date_editable(like->tag, o->state)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "%s of object %s cannot change "
		    "while it is %s", attr_name(like, name, sizeof(name)), uid, ttlv_enum_name(KMIP_TAG_STATE, o->state));
		goto out;
	}
	multi = (attr_def(like->tag)->flags & ATTR_MULTI) != 0;
	if (item != NULL && item->tag == KMIP_TAG_NAME && ctx->rules.unique_names &&
	    (name_taken(ctx, txn, o, item) || (kind == EDIT_ADD && has_name(o, item)))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_NON_UNIQUE_NAME_ATTRIBUTE,
		    "another of your objects already has this Name");
		goto out;
	}
	if (kind != EDIT_ADD) {
		if (current != NULL) {
			for (target = ttlv_find(o->attrs, like->tag), at = 0; target != NULL;
			    target = ttlv_find_next(target)) {
				if (attr_same_kind(target, like) && ttlv_equal(target, current))
					break;
				if (attr_same_kind(target, like))
					at++;
			}
		} else if (kind != EDIT_SET || !multi) {
			target = attrs_get_like(o->attrs, like, index);
		}
		if (target == NULL && kind != EDIT_SET) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND,
			    "object %s has no attribute %s at index %d", uid, attr_name(like, name, sizeof(name)), index);
			goto out;
		}
	}
	switch (kind) {
	case EDIT_ADD:
		if (!multi && (target = attrs_get_like(o->attrs, like, 0)) != NULL) {
			/* Adding back the very value it holds changes nothing (storage arrays re-add what Create set). */
			if (ttlv_equal(target, item)) {
				unchanged = true;
				at = 0;
				break;
			}
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ATTRIBUTE_SINGLE_VALUED,
			    "attribute %s has a value already and takes only one", attr_name(like, name, sizeof(name)));
			goto out;
		}
		at = (int32_t)attrs_count_like(o->attrs, like);
		if ((copy = ttlv_copy(o->arena, item)) == NULL)
			goto nomem;
		ttlv_append(o->attrs, copy);
		break;
	case EDIT_SET:
		if (multi) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_MULTI_VALUED_ATTRIBUTE,
			    "attribute %s takes several values: use Add or Modify Attribute",
			    attr_name(like, name, sizeof(name)));
			goto out;
		}
		/* FALLTHROUGH */
	case EDIT_MODIFY:
		if ((copy = ttlv_copy(o->arena, item)) == NULL)
			goto nomem;
		if (target != NULL) {
			/* Replace in place, so the instance keeps its index. */
			copy->next = target->next;
			*target = *copy;
		} else {
			ttlv_append(o->attrs, copy);
			at = 0;
		}
		break;
	case EDIT_DELETE:
		item = ttlv_copy(ctx->arena, target);
		if (item == NULL)
			goto nomem;
		/* An Attribute Reference without an Attribute Index names every instance. */
		if (current != NULL)
			(void)attrs_remove_like(o->attrs, like, at);
		else if (ttlv_find(ctx->item->payload, KMIP_TAG_ATTRIBUTE_INDEX) != NULL)
			(void)attrs_remove_like(o->attrs, like, index);
		else
			(void)attrs_remove_like(o->attrs, like, -1);
		break;
	}
	/*
	 * One way only, as in PKCS#11: a Sensitive key stays so, a non-extractable one stays so (Always Sensitive
	 * and Never Extractable would lie otherwise).
	 */
	if ((sensitive && !flag_of(o->attrs, KMIP_TAG_SENSITIVE, false)) ||
	    (!extractable && flag_of(o->attrs, KMIP_TAG_EXTRACTABLE, true))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY, "object %s is %s: that cannot be "
		    "undone", uid, sensitive ? "Sensitive" : "not Extractable");
		goto out;
	}
	/* Deleting always works, so that an object over a lowered limit can be brought back under it. */
	if (!unchanged && kind != EDIT_DELETE && ops_check_attr_limits(ctx, o->attrs) != 0)
		goto out;
	if (!unchanged && ops_save(ctx, txn, o) != 0)
		goto out;
	if ((rc = ops_commit(ctx, &txn)) != 0)
		goto out;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	/* 1.x answers with the attribute; clients such as Synology check that it echoes the new value. */
	if (ctx->rules.echo_edited_attribute)
		ops_encode_attr(ctx, item, at);
	session_log(ctx->session, LOG_LEVEL_INFO, "attribute %s of %s: %s", attr_name(like, name, sizeof(name)), o->uid,
	    unchanged ? "already so" : kind == EDIT_ADD ? "added" : kind == EDIT_DELETE ? "deleted" : "changed");
	goto out;
nomem:
	ops_nomem(ctx);
out:
	store_txn_abort(txn);
	store_object_free(o);
	return rc;
}

/* Reads a New Attribute or Current Attribute: a structure wrapping one attribute item. */
static struct ttlv *
wrapped_attribute(struct op_ctx *ctx, uint32_t tag, bool required)
{
	const struct ttlv *w = ttlv_find(ctx->item->payload, tag);

	if (w == NULL || w->type != TTLV_STRUCTURE || w->v.s.count != 1) {
		if (required || w != NULL)
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s must hold exactly one attribute",
			    ttlv_tag_name(tag));
		return NULL;
	}
	return w->v.s.first;
}

/* The instance an edit names by position: the Attribute Index a 1.x request carries in the internal form. */
static int32_t
attribute_index(const struct op_ctx *ctx)
{
	const struct ttlv *idx = ttlv_find(ctx->item->payload, KMIP_TAG_ATTRIBUTE_INDEX);

	return idx != NULL && idx->type == TTLV_INTEGER && idx->v.i32 > 0 ? idx->v.i32 : 0;
}

/* Add Attribute: a new instance, the New Attribute. */
int
op_add_attribute(struct op_ctx *ctx)
{
	struct ttlv *item = wrapped_attribute(ctx, KMIP_TAG_NEW_ATTRIBUTE, true);

	if (item == NULL || editable(ctx, item) != 0)
		return -1;
	return apply_edit(ctx, EDIT_ADD, item, NULL, 0, item);
}

/* Set Attribute (2.x): the value of a single-valued attribute, created if absent. */
int
op_set_attribute(struct op_ctx *ctx)
{
	struct ttlv *item = wrapped_attribute(ctx, KMIP_TAG_NEW_ATTRIBUTE, true);

	if (item == NULL || editable(ctx, item) != 0)
		return -1;
	return apply_edit(ctx, EDIT_SET, item, NULL, 0, item);
}

/* Modify Attribute: replaces the Current Attribute, or the instance at the Attribute Index (0: the first). */
int
op_modify_attribute(struct op_ctx *ctx)
{
	struct ttlv *item, *current;

	item = wrapped_attribute(ctx, KMIP_TAG_NEW_ATTRIBUTE, true);
	current = wrapped_attribute(ctx, KMIP_TAG_CURRENT_ATTRIBUTE, false);
	if (ctx->err.reason != 0)
		return -1;
	if (current != NULL && item != NULL && !attr_same_kind(current, item))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Current Attribute and New Attribute are different attributes");
	if (item == NULL || editable(ctx, item) != 0)
		return -1;
	return apply_edit(ctx, EDIT_MODIFY, item, current, attribute_index(ctx), item);
}

/* A value-less custom attribute item naming vendor and name, to find instances with; NULL on ENOMEM. */
static struct ttlv *
custom_like(struct op_ctx *ctx, const char *vendor, size_t vlen, const char *name, size_t nlen)
{
	struct ttlv *like = ttlv_new_struct(ctx->arena, KMIP_TAG_ATTRIBUTE);
	struct ttlv *v = ttlv_new_text(ctx->arena, KMIP_TAG_VENDOR_IDENTIFICATION, vendor, vlen);
	struct ttlv *n = ttlv_new_text(ctx->arena, KMIP_TAG_ATTRIBUTE_NAME, name, nlen);

	if (like == NULL || v == NULL || n == NULL) {
		ops_nomem(ctx);
		return NULL;
	}
	ttlv_append(like, v);
	ttlv_append(like, n);
	return like;
}

/*
 * Delete Attribute: the Current Attribute instance, or of the attribute an Attribute Reference names the
 * instance at the Attribute Index, or every instance when there is none.
 */
int
op_delete_attribute(struct op_ctx *ctx)
{
	const struct ttlv *ref, *v, *n;
	struct ttlv *current, *like;

	current = wrapped_attribute(ctx, KMIP_TAG_CURRENT_ATTRIBUTE, false);
	ref = ttlv_find(ctx->item->payload, KMIP_TAG_ATTRIBUTE_REFERENCE);
	if (ctx->err.reason != 0)
		return -1;
	if (current != NULL) {
		if (attr_check(current, &ctx->err) != 0)
			return -1;
		like = current;
	} else if (ref != NULL && ref->type == TTLV_ENUMERATION && attr_def(ref->v.u32) != NULL) {
		like = ttlv_new_struct(ctx->arena, ref->v.u32);
	} else if (ref != NULL && ref->type == TTLV_STRUCTURE && (v = ttlv_find(ref,
	    KMIP_TAG_VENDOR_IDENTIFICATION)) != NULL && (n = ttlv_find(ref, KMIP_TAG_ATTRIBUTE_NAME)) != NULL &&
	    v->type == TTLV_TEXT_STRING && n->type == TTLV_TEXT_STRING) {
		like = custom_like(ctx, (const char *)v->v.bytes.data, v->length, (const char *)n->v.bytes.data,
		    n->length);
	} else {
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Delete Attribute needs a Current Attribute or an Attribute Reference");
	}
	if (like == NULL)
		return ops_nomem(ctx);
	if (attr_def(like->tag) == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "not an attribute kmipd supports");
	if (!(attr_def(like->tag)->flags & ATTR_EDIT))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY,
		    "attribute %s cannot be deleted", ttlv_tag_name(like->tag));
	return apply_edit(ctx, EDIT_DELETE, NULL, current, attribute_index(ctx), like);
}
