/*
 * Derive Key (KMIP 1.4 section 4.6, 2.1 section 6.1.13): a new Symmetric Key or Secret Data made from the
 * bytes of existing Symmetric Keys or Secret Data, stored as Create stores a key and linked both ways to
 * what it came from (Derivation Base Object Link on the new object, Derived Key Link on each source).
 *
 * The sources: the first Unique Identifier is the keying material; when the request has no Derivation Data,
 * the first Secret Data among the others is used as it. Every source must be Active and have the Derive Key
 * bit in its Cryptographic Usage Mask; deriving is using a key, so it is for the owner and administrators.
 * The length of the result is the Cryptographic Length of the request's attributes (a multiple of 8).
 *
 * The methods:
 *   PBKDF2          PBKDF2-HMAC (SP 800-132) of the key with Salt and Iteration Count; the Hashing Algorithm
 *                   of the Cryptographic Parameters (SHA-256 when absent). Run on a key-generation worker.
 *   HASH            the digest of the key followed by the Derivation Data, truncated.
 *   HMAC            HMAC of the Derivation Data under the key, truncated.
 *   ENCRYPT         the Derivation Data encrypted under the key (Cryptographic Parameters, Initialization
 *                   Vector), truncated.
 *   NIST800-108-C   SP 800-108 KDF in counter mode, HMAC as PRF, 32-bit counter before the fixed input
 *                   (the Derivation Data) and neither a separator nor L (OpenSSL's KBKDF).
 *   NIST800-108-F   the same in feedback mode, 32-bit counter after K(i-1), the Initialization Vector as
 *                   K(0): absent or one PRF output (OpenSSL's KBKDF).
 *   NIST800-108-DPI double-pipeline mode (SP 800-108 5.3), which OpenSSL lacks: A(0) = fixed input,
 *                   A(i) = PRF(A(i-1)), K(i) = PRF(A(i) || [i]32 || fixed input), HMAC as PRF.
 * Every method but PBKDF2 runs in the loop: each is bounded by server.max_derive_data and
 * server.max_derive_length. The costliest, the double pipeline, makes two HMACs over the data per block of
 * output: at the defaults (4 KiB of data, 4096 bits, SHA-256: 16 blocks) 0.27 ms on these machines, at the
 * maxima (64 KiB, 32768 bits: 128 blocks) 28 ms (measured with a loop of EVP_MAC HMAC-SHA256 calls of
 * those sizes, 1000 and 10 runs). The maxima are for operators who accept that cost; PBKDF2, whose
 * Iteration Count makes its cost a client's choice, never runs here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/config.h"
#include "core/engine/attrs.h"
#include "core/engine/engine.h"
#include "core/engine/ops.h"
#include "core/keygen.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

#define DERIVE_MAX_SOURCES	8		/* Unique Identifiers in one request */
#define DERIVE_MAX_IV		64		/* bytes of Initialization Vector */
#define DERIVE_MAX_OUT		(32768 / 8)	/* server.max_derive_length's maximum, in bytes */

/* What a Derive Key request asks, read and bounded by derive_read(). */
struct derive_req {
	uint32_t object_type;		/* of the new object: Symmetric Key or Secret Data */
	uint32_t method;		/* Derivation Method */
	const char *uids[DERIVE_MAX_SOURCES];
	size_t nuids;
	const char *digest;		/* OpenSSL name of the Hashing Algorithm */
	uint32_t cipher_alg, mode, padding;	/* ENCRYPT's Cryptographic Parameters (0: absent) */
	const struct ttlv *data;	/* Derivation Data, or NULL */
	const struct ttlv *iv;		/* Initialization Vector, or NULL */
	const struct ttlv *salt;	/* Salt, or NULL */
	int32_t iterations;		/* Iteration Count, 0 when absent */
	struct ttlv *attrs;		/* the client's attributes for the new object */
	int32_t bits;			/* its Cryptographic Length */
	uint32_t alg;			/* its Cryptographic Algorithm (Symmetric Key), else 0 */
};

/* A Byte String field of the Derivation Parameters of at most max bytes; -1 with ctx->err when malformed. */
static int
param_bytes(struct op_ctx *ctx, const struct ttlv *params, uint32_t tag, size_t max, uint32_t over,
    const char *limit, const struct ttlv **out)
{
	const struct ttlv *t = ttlv_find(params, tag);

	*out = NULL;
	if (t == NULL)
		return 0;
	if (t->type != TTLV_BYTE_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s must be a Byte String",
		    ttlv_tag_name(tag));
	if (t->length > max)
		return kmip_error_set(&ctx->err, over, "%s of %u bytes: at most %zu%s", ttlv_tag_name(tag), t->length,
		    max, limit);
	*out = t;
	return 0;
}

/* The Cryptographic Parameters of the Derivation Parameters: the digest and ENCRYPT's cipher. */
static int
read_cparams(struct op_ctx *ctx, const struct ttlv *params, struct derive_req *r)
{
	const struct ttlv *cp = ttlv_find(params, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), *c;
	uint32_t hash = KMIP_HASHING_ALGORITHM_SHA_256;

	for (c = cp != NULL && cp->type == TTLV_STRUCTURE ? cp->v.s.first : NULL; c != NULL; c = c->next) {
		if (c->type != TTLV_ENUMERATION)
			continue;
		if (c->tag == KMIP_TAG_HASHING_ALGORITHM)
			hash = c->v.u32;
		else if (c->tag == KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)
			r->cipher_alg = c->v.u32;
		else if (c->tag == KMIP_TAG_BLOCK_CIPHER_MODE)
			r->mode = c->v.u32;
		else if (c->tag == KMIP_TAG_PADDING_METHOD)
			r->padding = c->v.u32;
	}
	if ((r->digest = ops_digest_name(hash)) == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Hashing Algorithm %s is not "
		    "supported for key derivation", ttlv_enum_name(KMIP_TAG_HASHING_ALGORITHM, hash));
	return 0;
}

/*
 * Reads a Derive Key payload (the internal form: 1.x Template-Attribute normalised into Attributes) and
 * checks every size the client chose against its limit before anything is loaded or computed. 0, or -1
 * with ctx->err set.
 */
static int
derive_read(struct op_ctx *ctx, struct derive_req *r)
{
	const struct config_server *cfg = &ctx->env->cfg->server;
	const struct ttlv *p = ctx->item->payload, *c, *params, *len, *alg;
	const char *uid;
	size_t i;

	memset(r, 0, sizeof(*r));
	if ((c = ttlv_find(p, KMIP_TAG_OBJECT_TYPE)) == NULL || c->type != TTLV_ENUMERATION ||
	    (c->v.u32 != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && c->v.u32 != KMIP_OBJECT_TYPE_SECRET_DATA))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Derive Key makes a Symmetric Key or Secret Data (Object Type)");
	r->object_type = c->v.u32;
	for (c = p->v.s.first; c != NULL; c = c->next) {
		if (c->tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		if (c->type != TTLV_TEXT_STRING || c->length == 0 || c->length > STORE_UID_MAX)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "bad Unique Identifier");
		if (r->nuids == DERIVE_MAX_SOURCES)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "Derive Key takes at most %d objects", DERIVE_MAX_SOURCES);
		/* Each source once: it gets one Derived Key Link, saved once. */
		for (i = 0; i < r->nuids; i++)
			if (strcmp(r->uids[i], (const char *)c->v.bytes.data) == 0)
				return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
				    "object %s is named twice", r->uids[i]);
		r->uids[r->nuids++] = (const char *)c->v.bytes.data;
	}
	if (r->nuids == 0) {
		/* An earlier item's new object, through the ID Placeholder. */
		if ((uid = ops_uid(ctx)) == NULL)
			return -1;
		r->uids[r->nuids++] = uid;
	}
	if ((c = ttlv_find(p, KMIP_TAG_DERIVATION_METHOD)) == NULL || c->type != TTLV_ENUMERATION)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Derive Key needs a Derivation Method");
	r->method = c->v.u32;
	switch (r->method) {
	case KMIP_DERIVATION_METHOD_PBKDF2:
	case KMIP_DERIVATION_METHOD_HASH:
	case KMIP_DERIVATION_METHOD_HMAC:
	case KMIP_DERIVATION_METHOD_ENCRYPT:
	case KMIP_DERIVATION_METHOD_NIST800_108_C:
	case KMIP_DERIVATION_METHOD_NIST800_108_F:
	case KMIP_DERIVATION_METHOD_NIST800_108_DPI:
		break;
	default:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Derivation Method %s is not "
		    "supported", ttlv_enum_name(KMIP_TAG_DERIVATION_METHOD, r->method));
	}
	if ((params = ttlv_find(p, KMIP_TAG_DERIVATION_PARAMETERS)) == NULL || params->type != TTLV_STRUCTURE)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Derive Key needs Derivation Parameters");
	if (read_cparams(ctx, params, r) != 0 ||
	    param_bytes(ctx, params, KMIP_TAG_DERIVATION_DATA, cfg->max_derive_data,
	    KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, " (server.max_derive_data)", &r->data) != 0 ||
	    param_bytes(ctx, params, KMIP_TAG_INITIALIZATION_VECTOR, DERIVE_MAX_IV, KMIP_RESULT_REASON_INVALID_FIELD,
	    "", &r->iv) != 0 ||
	    param_bytes(ctx, params, KMIP_TAG_SALT, KEYGEN_DERIVE_MAX_SALT, KMIP_RESULT_REASON_INVALID_FIELD, "",
	    &r->salt) != 0)
		return -1;
	if ((c = ttlv_find(params, KMIP_TAG_ITERATION_COUNT)) != NULL) {
		if (c->type != TTLV_INTEGER || c->v.i32 < 1)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "the Iteration Count must be a positive Integer");
		if ((uint32_t)c->v.i32 > cfg->max_derive_iterations)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "Iteration Count %d: "
			    "at most %u (server.max_derive_iterations)", c->v.i32, cfg->max_derive_iterations);
		r->iterations = c->v.i32;
	}
	if (r->method == KMIP_DERIVATION_METHOD_PBKDF2 && (r->iterations == 0 || r->salt == NULL))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "PBKDF2 needs a Salt and an Iteration Count");
	if ((r->attrs = ops_request_attrs(ctx, ttlv_find(p, KMIP_TAG_ATTRIBUTES))) == NULL)
		return -1;
	len = ttlv_find(r->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH);
	if (len == NULL || len->type != TTLV_INTEGER || len->v.i32 < 8 || len->v.i32 % 8 != 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Derive Key needs a Cryptographic Length, a positive multiple of 8");
	if ((uint32_t)len->v.i32 > cfg->max_derive_length || len->v.i32 > DERIVE_MAX_OUT * 8)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "Cryptographic Length %d: "
		    "at most %u bits (server.max_derive_length)", len->v.i32, cfg->max_derive_length);
	r->bits = len->v.i32;
	alg = ttlv_find(r->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	if (r->object_type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY && (alg == NULL || alg->type != TTLV_ENUMERATION))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "a derived Symmetric Key needs a Cryptographic Algorithm");
	r->alg = alg != NULL && alg->type == TTLV_ENUMERATION ? alg->v.u32 : 0;
	/* An AES key of another length could be stored but never used: refused as Create refuses it. */
	if (r->object_type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY && r->alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_AES &&
	    r->bits != 128 && r->bits != 192 && r->bits != 256)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "AES keys are 128, 192 or 256 bits, not %d", r->bits);
	return 0;
}

/*
 * Loads the source uid for a derivation (its material, owner or administrator only) and checks it: a
 * Symmetric Key or Secret Data, Active, with Derive Key in its usage mask. NULL with ctx->err set.
 */
static struct store_object *
load_source(struct op_ctx *ctx, struct store_txn *txn, const char *uid)
{
	struct store_object *o = NULL;
	const struct ttlv *mask;

	if (ops_load(ctx, txn, uid, OPS_MATERIAL | OPS_WRITE, &o) != 0)
		return NULL;
	if (o->object_type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && o->object_type != KMIP_OBJECT_TYPE_SECRET_DATA) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "object %s is a %s: keys are derived from "
		    "Symmetric Keys and Secret Data", uid, ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, o->object_type));
		goto fail;
	}
	if (o->state != KMIP_STATE_ACTIVE || o->material == NULL || o->material_len == 0) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "object %s is %s; deriving "
		    "from it needs it Active", uid, ttlv_enum_name(KMIP_TAG_STATE, o->state));
		goto fail;
	}
	mask = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK);
	if (mask == NULL || mask->type != TTLV_INTEGER ||
	    !((uint32_t)mask->v.i32 & KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
		    "object %s is not for Derive Key (Cryptographic Usage Mask)", uid);
		goto fail;
	}
	return o;
fail:
	store_object_free(o);
	return NULL;
}

/* The OpenSSL error as a Cryptographic Failure naming what failed; returns -1. */
static int
derive_fail(struct op_ctx *ctx, const char *what)
{
	ERR_clear_error();
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "%s failed", what);
}

/* An output longer than the method makes is refused, as the spec's Cryptographic Length is what is asked. */
static int
too_long(struct op_ctx *ctx, size_t want, size_t have)
{
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Cryptographic Length %zu is longer "
	    "than this method's output (%zu bits)", want * 8, have * 8);
}

/* HMAC (digest) of the concatenation of up to three byte strings under key; 0 or -1. *len: the MAC's size. */
static int
hmac3(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *a, size_t al, const uint8_t *b,
    size_t bl, const uint8_t *c, size_t cl, uint8_t *out, unsigned *len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *m = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM ps[2];
	size_t outl = 0;
	int ok;

	ps[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	ps[1] = OSSL_PARAM_construct_end();
	/* OpenSSL refuses an empty HMAC key; a source always has material (load_source). */
	ok = m != NULL && EVP_MAC_init(m, key, keylen, ps) == 1 && (al == 0 || EVP_MAC_update(m, a, al) == 1) &&
	    (bl == 0 || EVP_MAC_update(m, b, bl) == 1) && (cl == 0 || EVP_MAC_update(m, c, cl) == 1) &&
	    EVP_MAC_final(m, out, &outl, EVP_MAX_MD_SIZE) == 1;
	EVP_MAC_CTX_free(m);
	EVP_MAC_free(mac);
	*len = (unsigned)outl;
	return ok ? 0 : -1;
}

/* SP 800-108 double-pipeline mode with HMAC (OpenSSL has no such mode): out gets outlen bytes; 0 or -1. */
static int
kdf_double_pipeline(const EVP_MD *md, const char *digest, const uint8_t *key, size_t keylen, const uint8_t *fixed,
    size_t fixlen, uint8_t *out, size_t outlen)
{
	uint8_t a[EVP_MAX_MD_SIZE], k[EVP_MAX_MD_SIZE], ctr[4];
	unsigned alen = 0, klen, hl = (unsigned)EVP_MD_get_size(md);
	size_t done = 0;
	uint32_t i;
	int rc = -1;

	for (i = 1; done < outlen; i++) {
		/* A(i) = PRF(K, A(i-1)), A(0) the fixed input. */
		if (hmac3(digest, key, keylen, i == 1 ? fixed : a, i == 1 ? fixlen : alen, NULL, 0, NULL, 0, a, &alen) != 0)
			goto out;
		ctr[0] = (uint8_t)(i >> 24), ctr[1] = (uint8_t)(i >> 16), ctr[2] = (uint8_t)(i >> 8), ctr[3] = (uint8_t)i;
		if (hmac3(digest, key, keylen, a, alen, ctr, sizeof(ctr), fixed, fixlen, k, &klen) != 0 || klen != hl)
			goto out;
		memcpy(out + done, k, outlen - done < klen ? outlen - done : klen);
		done += outlen - done < klen ? outlen - done : klen;
	}
	rc = 0;
out:
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

/* SP 800-108 counter or feedback mode through OpenSSL's KBKDF, HMAC as PRF; 0 or -1. */
static int
kdf_kbkdf(const char *digest, bool feedback, const uint8_t *key, size_t keylen, const uint8_t *fixed, size_t fixlen,
    const uint8_t *iv, size_t ivlen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM ps[10], *p = ps;
	int no = 0, rc;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, feedback ? "feedback" : "counter", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	/* The Derivation Data is the whole fixed input: no separator, no L appended. */
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)fixed, fixlen);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &no);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &no);
	if (feedback && ivlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)iv, ivlen);
	*p = OSSL_PARAM_construct_end();
	rc = kctx != NULL && EVP_KDF_derive(kctx, out, outlen, ps) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ENCRYPT: the data encrypted under the key, its first outlen bytes; 0, or -1 with ctx->err set. */
static int
derive_encrypt(struct op_ctx *ctx, const struct derive_req *r, const struct store_object *src, const uint8_t *data,
    size_t datalen, uint8_t *out, size_t outlen)
{
	const struct ttlv *a = ttlv_find(src->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	uint32_t alg = r->cipher_alg != 0 ? r->cipher_alg : a != NULL && a->type == TTLV_ENUMERATION ? a->v.u32 : 0;
	uint8_t buf[DERIVE_MAX_OUT + 2 * 16];
	EVP_CIPHER_CTX *c = NULL;
	EVP_CIPHER *cipher = NULL;
	const char *name;
	char nbuf[48];
	int n1 = 0, n2 = 0, rc = -1, pad = r->padding == KMIP_PADDING_METHOD_PKCS5;
	size_t ivlen, bs;

	if ((name = ops_cipher_name(alg, src->material_len, r->mode, nbuf, sizeof(nbuf))) == NULL ||
	    (cipher = EVP_CIPHER_fetch(NULL, name, NULL)) == NULL || EVP_CIPHER_get_mode(cipher) == EVP_CIPH_GCM_MODE ||
	    EVP_CIPHER_get_mode(cipher) == EVP_CIPH_WRAP_MODE || EVP_CIPHER_get_mode(cipher) == EVP_CIPH_XTS_MODE) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "ENCRYPT derivation: a %u-byte key of "
		    "algorithm %s cannot encrypt in that mode (AES or Triple DES in ECB, CBC, CTR, CFB or OFB)",
		    (unsigned)src->material_len, alg != 0 ? ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg) : "none");
		goto out;
	}
	ivlen = (size_t)EVP_CIPHER_get_iv_length(cipher);
	if (ivlen > 0 && (r->iv == NULL || r->iv->length != ivlen)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "ENCRYPT derivation in this mode needs an "
		    "Initialization Vector of %zu bytes", ivlen);
		goto out;
	}
	/*
	 * In these modes the first outlen bytes of ciphertext depend only on the data's first outlen bytes
	 * rounded up to a block: no more is encrypted (without padding, which would only follow it), so buf,
	 * outlen and two blocks, always has room.
	 */
	bs = (size_t)EVP_CIPHER_get_block_size(cipher);
	if (bs == 0 || bs > 16) {
		derive_fail(ctx, "ENCRYPT derivation");
		goto out;
	}
	if (datalen > (outlen + bs - 1) / bs * bs) {
		datalen = (outlen + bs - 1) / bs * bs;
		pad = 0;
	}
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(c, cipher, src->material, ivlen > 0 ? r->iv->v.bytes.data : NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, pad) != 1 ||
	    EVP_EncryptUpdate(c, buf, &n1, data, (int)datalen) != 1 || EVP_EncryptFinal_ex(c, buf + n1, &n2) != 1) {
		derive_fail(ctx, "ENCRYPT derivation (the data must fill whole blocks without padding)");
		goto out;
	}
	if ((size_t)(n1 + n2) < outlen) {
		too_long(ctx, outlen, (size_t)(n1 + n2));
		goto out;
	}
	memcpy(out, buf, outlen);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_free(cipher);
	return rc;
}

/*
 * Runs a derivation that is cheap enough for the loop (every method but PBKDF2; see the top of the file):
 * outlen bytes from the key src and the derivation data. 0, or -1 with ctx->err set.
 */
static int
derive_in_loop(struct op_ctx *ctx, const struct derive_req *r, const struct store_object *src, const uint8_t *data,
    size_t datalen, uint8_t *out, size_t outlen)
{
	uint8_t md_out[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD *md = NULL;
	EVP_MD_CTX *mc = NULL;
	int rc = -1;

	if (r->method == KMIP_DERIVATION_METHOD_ENCRYPT) {
		if (datalen == 0)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "ENCRYPT derivation needs Derivation Data");
		return derive_encrypt(ctx, r, src, data, datalen, out, outlen);
	}
	if ((md = EVP_MD_fetch(NULL, r->digest, NULL)) == NULL)
		return derive_fail(ctx, "fetching the digest");
	switch (r->method) {
	case KMIP_DERIVATION_METHOD_HASH:
	case KMIP_DERIVATION_METHOD_HMAC:
		if (outlen > (size_t)EVP_MD_get_size(md)) {
			too_long(ctx, outlen, (size_t)EVP_MD_get_size(md));
			goto out;
		}
		if (r->method == KMIP_DERIVATION_METHOD_HMAC) {
			if (hmac3(r->digest, src->material, src->material_len, data, datalen, NULL, 0, NULL, 0, md_out, &mdlen) != 0) {
				derive_fail(ctx, "HMAC derivation");
				goto out;
			}
		} else if ((mc = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(mc, md, NULL) != 1 ||
		    EVP_DigestUpdate(mc, src->material, src->material_len) != 1 ||
		    (datalen > 0 && EVP_DigestUpdate(mc, data, datalen) != 1) || EVP_DigestFinal_ex(mc, md_out, &mdlen) != 1) {
			derive_fail(ctx, "HASH derivation");
			goto out;
		}
		memcpy(out, md_out, outlen);
		break;
	case KMIP_DERIVATION_METHOD_NIST800_108_C:
	case KMIP_DERIVATION_METHOD_NIST800_108_F:
		/* Feedback mode's IV is K(0): none, or one PRF output. */
		if (r->method == KMIP_DERIVATION_METHOD_NIST800_108_F && r->iv != NULL &&
		    r->iv->length != (uint32_t)EVP_MD_get_size(md)) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the Initialization Vector of a "
			    "feedback-mode derivation is %d bytes (one output of the PRF) or absent", EVP_MD_get_size(md));
			goto out;
		}
		if (kdf_kbkdf(r->digest, r->method == KMIP_DERIVATION_METHOD_NIST800_108_F, src->material,
		    src->material_len, data, datalen, r->iv != NULL ? r->iv->v.bytes.data : NULL,
		    r->iv != NULL ? r->iv->length : 0, out, outlen) != 0) {
			derive_fail(ctx, "NIST SP 800-108 derivation");
			goto out;
		}
		break;
	case KMIP_DERIVATION_METHOD_NIST800_108_DPI:
		if (kdf_double_pipeline(md, r->digest, src->material, src->material_len, data, datalen, out, outlen) != 0) {
			derive_fail(ctx, "NIST SP 800-108 double-pipeline derivation");
			goto out;
		}
		break;
	default:
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "this Derivation Method runs elsewhere");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(md_out, sizeof(md_out));
	EVP_MD_CTX_free(mc);
	EVP_MD_free(md);
	return rc;
}

/*
 * The derivation data: the request's, else the first Secret Data among the other sources (may be none).
 * Returns the index of the source it came from, or 0 when it is the request's or none.
 */
static size_t
derivation_data(const struct derive_req *r, struct store_object *const src[], size_t nsrc, const uint8_t **data,
    size_t *len)
{
	size_t i;

	*data = NULL;
	*len = 0;
	if (r->data != NULL) {
		*data = r->data->v.bytes.data;
		*len = r->data->length;
		return 0;
	}
	for (i = 1; i < nsrc; i++)
		if (src[i]->object_type == KMIP_OBJECT_TYPE_SECRET_DATA) {
			*data = src[i]->material;
			*len = src[i]->material_len;
			return i;
		}
	return 0;
}

/*
 * The PBKDF2 job a Derive Key item needs from the workers: 1 with spec set (its password copied into the
 * request's arena, which wipes it when freed), 0 for another method or a request the handler refuses.
 */
int
op_derive_key_keyspec(struct op_ctx *ctx, struct keygen_spec *spec)
{
	struct store_object *src = NULL;
	struct store_txn *txn = NULL;
	struct derive_req r;
	uint8_t *pass;
	int rc = 0;

	if (derive_read(ctx, &r) != 0 || r.method != KMIP_DERIVATION_METHOD_PBKDF2 ||
	    ops_quota_full(ctx, NULL, ops_identity(ctx)))
		return 0;
	if (ops_begin(ctx, false, &txn) != 0)
		return 0;
	src = load_source(ctx, txn, r.uids[0]);
	store_txn_abort(txn);
	if (src == NULL || src->material_len > KEYGEN_DERIVE_MAX_PASSWORD ||
	    (pass = ttlv_arena_alloc(ctx->arena, src->material_len)) == NULL)
		goto out;
	memcpy(pass, src->material, src->material_len);
	memset(spec, 0, sizeof(*spec));
	spec->alg = KEYGEN_DERIVE;
	spec->digest = r.digest;
	spec->out_len = (size_t)r.bits / 8;
	spec->iterations = (unsigned)r.iterations;
	spec->salt = r.salt->v.bytes.data;
	spec->salt_len = r.salt->length;
	spec->password = pass;
	spec->password_len = src->material_len;
	rc = 1;
out:
	store_object_free(src);
	return rc;
}

/*
 * Derive Key: derives, stores the new object with the client's attributes and links it to its sources both
 * ways, in one transaction. PBKDF2's bytes come from the worker (ctx->key, op_derive_key_keyspec); the
 * request and the sources are checked again here, as they may have changed while it ran.
 */
int
op_derive_key(struct op_ctx *ctx)
{
	struct store_object *src[DERIVE_MAX_SOURCES] = { NULL }, *o = NULL;
	struct store_txn *txn = NULL;
	struct derive_req r;
	uint8_t out[DERIVE_MAX_OUT];
	const uint8_t *data;
	size_t i, nsrc = 0, datalen, outlen = 0;
	int rc = -1;

	if (derive_read(ctx, &r) != 0)
		return -1;
	outlen = (size_t)r.bits / 8;
	if (ops_begin(ctx, true, &txn) != 0)
		return -1;
	if (ops_quota_full(ctx, txn, ops_identity(ctx)))
		goto out;
	for (nsrc = 0; nsrc < r.nuids; nsrc++)
		if ((src[nsrc] = load_source(ctx, txn, r.uids[nsrc])) == NULL)
			goto out;
	i = derivation_data(&r, src, nsrc, &data, &datalen);
	/* The request's own was checked by derive_read; a Secret Data's is checked here. */
	if (datalen > ctx->env->cfg->server.max_derive_data) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "Secret Data %s, the derivation "
		    "data, has %zu bytes: at most %llu (server.max_derive_data)", src[i]->uid, datalen,
		    (unsigned long long)ctx->env->cfg->server.max_derive_data);
		goto out;
	}
	if (r.method == KMIP_DERIVATION_METHOD_PBKDF2) {
		if (src[0]->material_len > KEYGEN_DERIVE_MAX_PASSWORD) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "PBKDF2 derives from at most %d "
			    "bytes of key", KEYGEN_DERIVE_MAX_PASSWORD);
			goto out;
		}
		/* The workers' job is queued before any item runs, when an ID Placeholder names nothing yet. */
		if (ctx->key == NULL && ttlv_find(ctx->item->payload, KMIP_TAG_UNIQUE_IDENTIFIER) == NULL) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "a PBKDF2 derivation names its source "
			    "by Unique Identifier, not through an earlier batch item's ID Placeholder");
			goto out;
		}
		if (ctx->key == NULL || ctx->key->status != 0 || ctx->key->private_len != outlen) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "PBKDF2 derivation failed: %s",
			    ctx->key != NULL ? ctx->key->message : "no worker derived it");
			goto out;
		}
		memcpy(out, ctx->key->private_der, outlen);
	} else if (derive_in_loop(ctx, &r, src[0], data, datalen, out, outlen) != 0)
		goto out;
	if ((o = ops_new_object(ctx, txn, r.object_type, r.attrs)) == NULL)
		goto out;
	if (store_object_set_material(o, out, outlen, r.object_type == KMIP_OBJECT_TYPE_SECRET_DATA ?
	    OPS_SECRET_FORMAT(KMIP_SECRET_DATA_TYPE_SEED, KMIP_KEY_FORMAT_TYPE_RAW) : KMIP_KEY_FORMAT_TYPE_RAW) != 0 ||
	    attrs_set_enum(o->arena, o->attrs, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW) != 0) {
		ops_nomem(ctx);
		goto out;
	}
	for (i = 0; i < nsrc; i++) {
		if (attrs_add_link(o->arena, o->attrs, KMIP_LINK_TYPE_DERIVATION_BASE_OBJECT_LINK, src[i]->uid) != 0 ||
		    attrs_add_link(src[i]->arena, src[i]->attrs, KMIP_LINK_TYPE_DERIVED_KEY_LINK, o->uid) != 0) {
			ops_nomem(ctx);
			goto out;
		}
		if (ops_check_attr_limits(ctx, src[i]->attrs) != 0 || ops_save(ctx, txn, src[i]) != 0)
			goto out;
	}
	if (ops_new_object_finish(ctx, o, r.object_type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY ?
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT : 0) != 0 ||
	    ops_check_attr_limits(ctx, o->attrs) != 0 || ops_save(ctx, txn, o) != 0)
		goto out;
	if ((rc = ops_commit(ctx, &txn)) != 0)
		goto out;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ops_set_placeholder(ctx, o->uid);
	for (i = 0; i < nsrc; i++)
		ops_audit_uid(ctx, src[i]->uid);
	session_log(ctx->session, LOG_LEVEL_INFO, "derived %s %s (%d bits, %s) from %s", ttlv_enum_name(
	    KMIP_TAG_OBJECT_TYPE, r.object_type), o->uid, r.bits, ttlv_enum_name(KMIP_TAG_DERIVATION_METHOD, r.method),
	    src[0]->uid);
	rc = 0;
out:
	OPENSSL_cleanse(out, sizeof(out));
	store_txn_abort(txn);
	store_object_free(o);
	for (i = 0; i < DERIVE_MAX_SOURCES; i++)
		store_object_free(src[i]);
	return rc;
}
