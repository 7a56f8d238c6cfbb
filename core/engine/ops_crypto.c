/*
 * Cryptographic operations with managed keys, on OpenSSL EVP: Encrypt and Decrypt (AES in ECB, CBC, CTR,
 * GCM, XTS and key wrap; 3DES; ChaCha20 and ChaCha20-Poly1305; RSA with PKCS#1 v1.5 or OAEP), Sign and
 * Signature Verify (RSA PKCS#1 v1.5 and PSS, ECDSA), MAC and MAC Verify (HMAC, CMAC), Hash, RNG Retrieve
 * and RNG Seed. The key never leaves the server: only the operation's result does.
 *
 * Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify and Hash may also run in parts: Init Indicator
 * opens a context (cipher, digest-and-sign, MAC or digest) kept on the connection under a random
 * Correlation Value, later requests carry the value and more data, and Final Indicator closes it (with the
 * tag, signature, MAC or digest). A connection holds at most crypto.max_streams of them, each discarded
 * after crypto.stream_idle_timeout without a part and all when the connection closes; one request carries
 * at most CRYPTO_MAX_DATA bytes. A Correlation Value names one operation of one connection (so of one
 * identity), with one key: anything else is answered Invalid Correlation Value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "core/config.h"
#include "core/siphash.h"
#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define CRYPTO_MAX_DATA		(1024 * 1024)	/* bytes of Data in one request */
#define RNG_MAX_LENGTH		(64 * 1024)	/* bytes one RNG Retrieve may ask for */
#define STREAM_ID_LEN		16

#define OWNER_BUCKETS		1024		/* of the table of identities holding multi-part operations */

/* One client identity holding multi-part operations, on all its connections together. */
struct crypto_owner {
	struct crypto_owner *next;	/* in its bucket */
	unsigned n;			/* its open operations; the entry goes when it drops to 0 */
	char who[];
};

/* The identities holding multi-part operations (the engine's, for crypto.max_streams_per_identity). */
struct crypto_owners {
	uint64_t key[2];		/* SipHash key: identities are the certificates', chosen by clients */
	struct crypto_owner *b[OWNER_BUCKETS];
};

/* A multi-part operation in progress on a connection. */
struct crypto_stream {
	uint8_t id[STREAM_ID_LEN];	/* the Correlation Value */
	uint32_t operation;		/* KMIP_OPERATION_*; 0: the slot is free */
	EVP_CIPHER_CTX *c;		/* Encrypt, Decrypt */
	EVP_MD_CTX *md;			/* Hash, Sign, Signature Verify (with the key, for the last two) */
	EVP_MAC_CTX *mac;		/* MAC, MAC Verify (with the key) */
	bool aead;
	size_t taglen;
	int64_t used;			/* when its last part came, for crypto.stream_idle_timeout */
	struct crypto_owner *owner;	/* the identity it counts for */
	char uid[OP_UID_MAX + 1];	/* the key it runs with; "" for Hash */
};

struct crypto_streams {
	struct crypto_owners *owners;	/* the engine's table its streams count in */
	struct crypto_stream *s;
	size_t n;			/* slots in s, free or not */
};

/* The bucket of identity who. */
static struct crypto_owner **
owner_bucket(struct crypto_owners *t, const char *who)
{
	return &t->b[siphash24(t->key, who, strlen(who)) % OWNER_BUCKETS];
}

/* The entry of who, added (with no operation) when absent; NULL when out of memory. */
static struct crypto_owner *
owner_get(struct crypto_owners *t, const char *who)
{
	struct crypto_owner **b = owner_bucket(t, who), *o;
	size_t len = strlen(who);

	for (o = *b; o != NULL; o = o->next)
		if (strcmp(o->who, who) == 0)
			return o;
	if ((o = calloc(1, sizeof(*o) + len + 1)) == NULL)
		return NULL;
	memcpy(o->who, who, len + 1);
	o->next = *b;
	*b = o;
	return o;
}

/* Removes o from t once it holds no operation. */
static void
owner_drop(struct crypto_owners *t, struct crypto_owner *o)
{
	struct crypto_owner **p;

	if (o->n > 0)
		return;
	for (p = owner_bucket(t, o->who); *p != NULL; p = &(*p)->next)
		if (*p == o) {
			*p = o->next;
			free(o);
			return;
		}
}

/* Frees the table; every session (whose streams count in it) is gone. */
void
ops_crypto_owners_free(struct crypto_owners *t)
{
	struct crypto_owner *o, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < OWNER_BUCKETS; i++)
		for (o = t->b[i]; o != NULL; o = next) {
			next = o->next;
			free(o);
		}
	free(t);
}

/* Frees a stream's contexts (which cleanse the keys they hold), uncounts it and frees its slot. */
static void
stream_close(struct crypto_streams *st, struct crypto_stream *s)
{
	if (s->operation != 0 && s->owner != NULL) {
		s->owner->n--;
		owner_drop(st->owners, s->owner);
	}
	EVP_CIPHER_CTX_free(s->c);
	EVP_MD_CTX_free(s->md);
	EVP_MAC_CTX_free(s->mac);
	OPENSSL_cleanse(s, sizeof(*s));
}

/* Frees the multi-part contexts a closing connection left open. */
void
ops_crypto_streams_free(struct crypto_streams *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n; i++)
		stream_close(st, &st->s[i]);
	free(st->s);
	free(st);
}

/* Discards a session's streams that waited longer than crypto.stream_idle_timeout for a part. */
void
ops_crypto_expire(struct session *s, int64_t now)
{
	struct crypto_streams *st = s->crypto_streams;
	int64_t idle = (int64_t)s->eng->env.cfg->crypto.stream_idle_timeout;
	size_t i;

	for (i = 0; st != NULL && i < st->n; i++)
		if (st->s[i].operation != 0 && now - st->s[i].used > idle)
			stream_close(st, &st->s[i]);
}

static void
streams_expire(struct op_ctx *ctx)
{
	ops_crypto_expire(ctx->session, ctx->now);
}

/*
 * The open stream a continuing request names: its Correlation Value, for the same operation and, when
 * the request names a key (uid not NULL), that key. NULL with ctx->err set (Invalid Correlation Value)
 * when there is none: unknown, closed, expired, another connection's, or another operation's or key's.
 */
static struct crypto_stream *
stream_find(struct op_ctx *ctx, const struct ttlv *corr, uint32_t operation, const struct ttlv *uid)
{
	struct crypto_streams *st = ctx->session->crypto_streams;
	struct crypto_stream *s = NULL;
	size_t i;

	streams_expire(ctx);
	for (i = 0; st != NULL && corr->type == TTLV_BYTE_STRING && corr->length == STREAM_ID_LEN && i < st->n; i++)
		if (st->s[i].operation != 0 && CRYPTO_memcmp(st->s[i].id, corr->v.bytes.data, STREAM_ID_LEN) == 0)
			s = &st->s[i];
	if (s == NULL || s->operation != operation || (uid != NULL && (uid->type != TTLV_TEXT_STRING ||
	    strcmp((const char *)uid->v.bytes.data, s->uid) != 0))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_CORRELATION_VALUE, "no multi-part %s%s with this "
		    "Correlation Value on this connection (unknown, finished, idle longer than "
		    "crypto.stream_idle_timeout, or another operation's)", ttlv_enum_name(KMIP_TAG_OPERATION, operation),
		    uid != NULL ? " and key" : "");
		return NULL;
	}
	s->used = ctx->now;
	return s;
}

/*
 * Keeps the contexts of proto (a first part's operation, uid and contexts) open on the connection under a
 * new Correlation Value, which it returns; the contexts then belong to the stream. NULL with ctx->err set
 * (contexts not taken) when the connection holds crypto.max_streams already or memory runs out.
 */
static struct crypto_stream *
stream_keep(struct op_ctx *ctx, const struct crypto_stream *proto)
{
	struct crypto_streams *st = ctx->session->crypto_streams;
	struct engine *e = ctx->session->eng;
	unsigned max = ctx->env->cfg->crypto.max_streams;
	unsigned max_who = ctx->env->cfg->crypto.max_streams_per_identity;
	struct crypto_stream *s = NULL, *grown;
	struct crypto_owner *owner;
	size_t i, open = 0, n;

	streams_expire(ctx);
	if (e->crypto_owners == NULL) {
		if ((e->crypto_owners = calloc(1, sizeof(*e->crypto_owners))) == NULL)
			return ops_nomem(ctx), NULL;
		if (siphash_key(e->crypto_owners->key) != 0) {
			free(e->crypto_owners);
			e->crypto_owners = NULL;
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "random generator failed");
			return NULL;
		}
	}
	if (st == NULL) {
		if ((st = ctx->session->crypto_streams = calloc(1, sizeof(*st))) == NULL)
			return ops_nomem(ctx), NULL;
		st->owners = e->crypto_owners;
	}
	for (i = 0; i < st->n; i++) {
		if (st->s[i].operation != 0)
			open++;
		else if (s == NULL)
			s = &st->s[i];
	}
	if (open >= max) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "this connection has %zu multi-part "
		    "operations open, as many as crypto.max_streams allows: finish one first", open);
		return NULL;
	}
	if ((owner = owner_get(st->owners, ctx->session->who)) == NULL)
		return ops_nomem(ctx), NULL;
	if (owner->n >= max_who) {
		owner_drop(st->owners, owner);
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "this client identity has %u "
		    "multi-part operations open on its connections, as many as crypto.max_streams_per_identity allows: "
		    "finish one first", owner->n);
		return NULL;
	}
	if (s == NULL) {
		/* Grown a few slots at a time: most connections never hold more than one or two. */
		n = st->n + 4 < max ? st->n + 4 : max;
		if (n <= st->n || (grown = realloc(st->s, n * sizeof(*grown))) == NULL) {
			owner_drop(st->owners, owner);
			return ops_nomem(ctx), NULL;
		}
		memset(grown + st->n, 0, (n - st->n) * sizeof(*grown));
		s = &grown[st->n];
		st->s = grown;
		st->n = n;
	}
	*s = *proto;
	if (RAND_bytes(s->id, STREAM_ID_LEN) != 1) {
		memset(s, 0, sizeof(*s));
		owner_drop(st->owners, owner);
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "random generator failed");
		return NULL;
	}
	s->used = ctx->now;
	s->owner = owner;
	owner->n++;
	return s;
}

/* What a later part of Sign, Signature Verify, MAC or Hash without Data adds: nothing. */
static const struct ttlv no_data = { .tag = KMIP_TAG_DATA, .type = TTLV_BYTE_STRING, .length = 0,
    .v.bytes.data = (const uint8_t *)"" };

/* Where a request stands in a multi-part operation. */
struct part {
	bool init;			/* it opens one (or is single-part: init and final) */
	bool final;			/* it closes it (or is single-part) */
	struct crypto_stream *st;	/* the open operation it continues, or NULL */
	struct crypto_streams *set;	/* the connection's streams, when st is set */
};

/* Init and Final Indicators of a request (absent: a single-part request, both true). */
static void
indicators(const struct op_ctx *ctx, bool *init, bool *final)
{
	const struct ttlv *i = ttlv_find(ctx->item->payload, KMIP_TAG_INIT_INDICATOR);
	const struct ttlv *f = ttlv_find(ctx->item->payload, KMIP_TAG_FINAL_INDICATOR);
	bool cont = ttlv_find(ctx->item->payload, KMIP_TAG_CORRELATION_VALUE) != NULL;

	*init = i != NULL && i->type == TTLV_BOOLEAN ? i->v.b : !cont;
	*final = f != NULL && f->type == TTLV_BOOLEAN ? f->v.b : !(i != NULL && i->type == TTLV_BOOLEAN && i->v.b);
}

/*
 * Reads a request's Init and Final Indicators and Correlation Value into pt, finding the stream a
 * continuing request names (a request with a Correlation Value continues, whatever its Init Indicator
 * says). 0, or -1 with ctx->err set: a later part without a Correlation Value, or one naming no stream.
 */
static int
part_read(struct op_ctx *ctx, uint32_t operation, struct part *pt)
{
	const struct ttlv *corr = ttlv_find(ctx->item->payload, KMIP_TAG_CORRELATION_VALUE);

	memset(pt, 0, sizeof(*pt));
	indicators(ctx, &pt->init, &pt->final);
	if (corr == NULL) {
		if (!pt->init)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "a multi-part operation continues with its Correlation Value");
		return 0;
	}
	pt->init = false;
	pt->set = ctx->session->crypto_streams;
	pt->st = stream_find(ctx, corr, operation, ttlv_find(ctx->item->payload, KMIP_TAG_UNIQUE_IDENTIFIER));
	return pt->st == NULL ? -1 : 0;
}

/* Ends a stream when its operation is over: after its last part or a failure (which ends it too). */
static void
part_done(struct part *pt, int rc)
{
	if (pt->st != NULL && (rc != 0 || pt->final))
		stream_close(pt->set, pt->st);
	pt->st = NULL;
}

/* Cryptographic Parameters, from the request or else from the key's attribute. */
struct cparams {
	uint32_t mode;		/* Block Cipher Mode, 0 when absent */
	uint32_t padding;	/* Padding Method, 0 when absent */
	uint32_t hash;		/* Hashing Algorithm, 0 when absent */
	uint32_t dsa;		/* Digital Signature Algorithm, 0 when absent */
	uint32_t alg;		/* Cryptographic Algorithm, 0 when absent */
	uint32_t mgf_hash;	/* Mask Generator Hashing Algorithm, 0 when absent */
	int32_t tag_len;	/* Tag Length, -1 when absent */
	int32_t iv_len;		/* IV Length in bits, -1 when absent */
	int32_t salt_len;	/* Salt Length in bits, -1 when absent */
	bool random_iv;
	const struct ttlv *p_source;	/* OAEP label (P Source), or NULL */
};

static void
params_read(const struct ttlv *cp, struct cparams *p)
{
	const struct ttlv *c;

	for (c = cp != NULL && cp->type == TTLV_STRUCTURE ? cp->v.s.first : NULL; c != NULL; c = c->next) {
		if (c->type == TTLV_ENUMERATION) {
			switch (c->tag) {
			case KMIP_TAG_BLOCK_CIPHER_MODE:
				p->mode = c->v.u32;
				break;
			case KMIP_TAG_PADDING_METHOD:
				p->padding = c->v.u32;
				break;
			case KMIP_TAG_HASHING_ALGORITHM:
				p->hash = c->v.u32;
				break;
			case KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM:
				p->dsa = c->v.u32;
				break;
			case KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM:
				p->alg = c->v.u32;
				break;
			case KMIP_TAG_MASK_GENERATOR_HASHING_ALGORITHM:
				p->mgf_hash = c->v.u32;
				break;
			default:
				break;
			}
		} else if (c->type == TTLV_INTEGER) {
			if (c->tag == KMIP_TAG_TAG_LENGTH)
				p->tag_len = c->v.i32;
			else if (c->tag == KMIP_TAG_IV_LENGTH)
				p->iv_len = c->v.i32;
			else if (c->tag == KMIP_TAG_SALT_LENGTH)
				p->salt_len = c->v.i32;
		} else if (c->type == TTLV_BOOLEAN && c->tag == KMIP_TAG_RANDOM_IV) {
			p->random_iv = c->v.b;
		} else if (c->type == TTLV_BYTE_STRING && c->tag == KMIP_TAG_P_SOURCE) {
			p->p_source = c;
		}
	}
}

/* The request's Cryptographic Parameters, falling back to the key's own. */
static void
params_get(const struct op_ctx *ctx, const struct store_object *o, struct cparams *p)
{
	memset(p, 0, sizeof(*p));
	p->tag_len = p->iv_len = p->salt_len = -1;
	params_read(ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), p);
	params_read(ttlv_find(ctx->item->payload, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), p);
}

/* The digest named by a Hashing Algorithm, or NULL. */
static const char *
digest_name(uint32_t hash)
{
	switch (hash) {
	case KMIP_HASHING_ALGORITHM_SHA_1:
		return "SHA1";
	case KMIP_HASHING_ALGORITHM_SHA_224:
		return "SHA224";
	case KMIP_HASHING_ALGORITHM_SHA_256:
		return "SHA256";
	case KMIP_HASHING_ALGORITHM_SHA_384:
		return "SHA384";
	case KMIP_HASHING_ALGORITHM_SHA_512:
		return "SHA512";
	case KMIP_HASHING_ALGORITHM_SHA_512_224:
		return "SHA512-224";
	case KMIP_HASHING_ALGORITHM_SHA_512_256:
		return "SHA512-256";
	case KMIP_HASHING_ALGORITHM_SHA_3_224:
		return "SHA3-224";
	case KMIP_HASHING_ALGORITHM_SHA_3_256:
		return "SHA3-256";
	case KMIP_HASHING_ALGORITHM_SHA_3_384:
		return "SHA3-384";
	case KMIP_HASHING_ALGORITHM_SHA_3_512:
		return "SHA3-512";
	case KMIP_HASHING_ALGORITHM_MD5:
		return "MD5";
	default:
		return NULL;
	}
}

/* A Byte String field of the payload; NULL when absent, with ctx->err set when malformed or too large. */
static const struct ttlv *
payload_bytes(struct op_ctx *ctx, uint32_t tag, bool required)
{
	const struct ttlv *t = ttlv_find(ctx->item->payload, tag);

	if (t == NULL) {
		if (required)
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s is missing", ttlv_tag_name(tag));
		return NULL;
	}
	if (t->type != TTLV_BYTE_STRING || t->length > CRYPTO_MAX_DATA) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s must be a Byte String of at most %d bytes",
		    ttlv_tag_name(tag), CRYPTO_MAX_DATA);
		return NULL;
	}
	return t;
}

/* Refuses multi-part requests; 0 for a single-part one. */
static int
single_part(struct op_ctx *ctx)
{
	const struct ttlv *init = ttlv_find(ctx->item->payload, KMIP_TAG_INIT_INDICATOR);
	const struct ttlv *final = ttlv_find(ctx->item->payload, KMIP_TAG_FINAL_INDICATOR);

	if (ttlv_find(ctx->item->payload, KMIP_TAG_CORRELATION_VALUE) != NULL ||
	    (init != NULL && init->type == TTLV_BOOLEAN && init->v.b &&
	    (final == NULL || final->type != TTLV_BOOLEAN || !final->v.b)) ||
	    (final != NULL && final->type == TTLV_BOOLEAN && !final->v.b && init != NULL))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
		    "multi-part cryptographic operations are not supported: send all the data in one request");
	return 0;
}

/*
 * Loads the key an operation uses: it must be Active and allow the operation in its Cryptographic Usage
 * Mask. A later part of a multi-part operation (pt->st set) uses the stream's key, checked again (it may
 * have been revoked since), without its material: the stream's context holds what it needs. Returns the
 * object, or NULL with ctx->err set.
 */
static struct store_object *
crypto_key(struct op_ctx *ctx, uint32_t usage, bool protect, const struct part *pt)
{
	struct store_object *o = NULL;
	const struct ttlv *mask, *date;
	struct store_txn *txn;
	struct ops_held h;
	const char *uid;
	int rc;

	if (pt != NULL && pt->st != NULL)
		ops_audit_uid(ctx, uid = pt->st->uid);
	else if ((uid = ops_uid(ctx)) == NULL)
		return NULL;
	if (ops_begin(ctx, false, &txn) != 0)
		return NULL;
	/* Using a key is for its owner and the administrators: a share only reads (Get, Locate). */
	rc = ops_load(ctx, txn, uid, (pt != NULL && pt->st != NULL ? 0 : OPS_MATERIAL) | OPS_WRITE, &o);
	store_txn_abort(txn);
	if (rc != 0)
		return NULL;
	if (o->state != KMIP_STATE_ACTIVE || (o->material == NULL && (pt == NULL || pt->st == NULL))) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE,
		    "key %s is %s; cryptographic operations need an Active key", uid, ttlv_enum_name(KMIP_TAG_STATE, o->state));
		goto fail;
	}
	/* A key kept as registered is used through its canonical form; a wrapped one kmipd cannot open. */
	if (ops_held_open(o, &h) != 0) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the stored material of %s is damaged", uid);
		goto fail;
	}
	if (h.held && h.canon == NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT, "key %s was registered wrapped: "
		    "kmipd holds no plain Key Value to use", uid);
		goto fail;
	}
	o->material = h.canon;
	o->material_len = h.canon_len;
	mask = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK);
	if (mask == NULL || mask->type != TTLV_INTEGER || !((uint32_t)mask->v.i32 & usage)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
		    "key %s is not for %s (Cryptographic Usage Mask)", uid,
		    ttlv_mask_str(KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, usage, (char[64]){ 0 }, 64));
		goto fail;
	}
	/* Protecting (encrypt, sign, MAC) ends at the Protect Stop Date; processing starts at Process Start. */
	date = ttlv_find(o->attrs, protect ? KMIP_TAG_PROTECT_STOP_DATE : KMIP_TAG_PROCESS_START_DATE);
	if (date != NULL && date->type == TTLV_DATE_TIME && (protect ? date->v.i64 <= ctx->now : date->v.i64 > ctx->now)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "key %s may not be used to %s %s "
		    "its %s", uid, protect ? "protect data" : "process protected data", protect ? "after" : "before",
		    protect ? "Protect Stop Date" : "Process Start Date");
		goto fail;
	}
	return o;
fail:
	store_object_free(o);
	return NULL;
}

static uint32_t
key_alg(const struct store_object *o)
{
	const struct ttlv *a = ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);

	return a != NULL && a->type == TTLV_ENUMERATION ? a->v.u32 : 0;
}

/* Sets ctx->err to a Cryptographic Failure naming what failed and clears OpenSSL's queue; returns -1. */
static int
crypto_fail(struct op_ctx *ctx, const char *what)
{
	ERR_clear_error();
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "%s", what);
}

/* The EVP cipher name for a symmetric key of algorithm alg, keylen bytes, in mode; NULL if unsupported. */
static const char *
cipher_name(uint32_t alg, size_t keylen, uint32_t mode, char *buf, size_t size)
{
	const char *m;

	switch (alg) {
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_AES:
		switch (mode) {
		case KMIP_BLOCK_CIPHER_MODE_ECB:
			m = "ECB";
			break;
		case 0:
		case KMIP_BLOCK_CIPHER_MODE_CBC:
			m = "CBC";
			break;
		case KMIP_BLOCK_CIPHER_MODE_CTR:
			m = "CTR";
			break;
		case KMIP_BLOCK_CIPHER_MODE_GCM:
			m = "GCM";
			break;
		case KMIP_BLOCK_CIPHER_MODE_CFB:
			m = "CFB";
			break;
		case KMIP_BLOCK_CIPHER_MODE_OFB:
			m = "OFB";
			break;
		case KMIP_BLOCK_CIPHER_MODE_XTS:
			/* An XTS key is two AES keys. */
			if (keylen != 32 && keylen != 64)
				return NULL;
			snprintf(buf, size, "AES-%zu-XTS", keylen * 4);
			return buf;
		case KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP:
			snprintf(buf, size, "AES-%zu-WRAP", keylen * 8);
			return buf;
		case KMIP_BLOCK_CIPHER_MODE_AESKEYWRAPPADDING:
			snprintf(buf, size, "AES-%zu-WRAP-PAD", keylen * 8);
			return buf;
		default:
			return NULL;
		}
		if (keylen != 16 && keylen != 24 && keylen != 32)
			return NULL;
		snprintf(buf, size, "AES-%zu-%s", keylen * 8, m);
		return buf;
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES:
		if (keylen != 24)
			return NULL;
		if (mode == KMIP_BLOCK_CIPHER_MODE_ECB)
			return "DES-EDE3-ECB";
		if (mode == 0 || mode == KMIP_BLOCK_CIPHER_MODE_CBC)
			return "DES-EDE3-CBC";
		return NULL;
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20POLY1305:
		/* OpenSSL takes 32 key bytes whatever the length it is given: a shorter key would be padded with
		 * whatever follows it in memory. */
		if (keylen != 32)
			return NULL;
		return alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20 ? "ChaCha20" : "ChaCha20-Poly1305";
	default:
		return NULL;
	}
}

/* A later part of a multi-part Encrypt or Decrypt: more data through the open context, closed when final. */
static int
stream_continue(struct op_ctx *ctx, const struct store_object *o, bool enc, struct part *pt,
    const struct ttlv *data, const struct ttlv *tagt)
{
	struct crypto_stream *st = pt->st;
	uint8_t *out = NULL, tag[16];
	int n = 0, fin = 0, rc = -1;

	if ((out = malloc(data->length + 64)) == NULL) {
		part_done(pt, -1);
		return ops_nomem(ctx);
	}
	if (!EVP_CipherUpdate(st->c, out, &n, data->v.bytes.data, (int)data->length))
		goto crypto;
	if (pt->final) {
		if (st->aead && !enc && (tagt == NULL || tagt->length < 4 || tagt->length > 16 ||
		    !EVP_CIPHER_CTX_ctrl(st->c, EVP_CTRL_AEAD_SET_TAG, (int)tagt->length, (void *)tagt->v.bytes.data))) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "the last part of an authenticated decryption needs the Authenticated Encryption Tag");
			goto out;
		}
		if (!EVP_CipherFinal_ex(st->c, out + n, &fin)) {
			crypto_fail(ctx, st->aead && !enc ? "authentication failed: the tag does not match" :
			    "the data does not fit the cipher (length or padding)");
			goto out;
		}
		if (st->aead && enc && !EVP_CIPHER_CTX_ctrl(st->c, EVP_CTRL_AEAD_GET_TAG, (int)st->taglen, tag))
			goto crypto;
	}
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, out, (size_t)(n + fin));
	if (pt->final && st->aead && enc)
		ttlv_enc_bytes(ctx->out, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, st->taglen);
	if (!pt->final)
		ttlv_enc_bytes(ctx->out, KMIP_TAG_CORRELATION_VALUE, st->id, STREAM_ID_LEN);
	rc = 0;
	goto out;
crypto:
	crypto_fail(ctx, enc ? "encryption failed" : "decryption failed");
out:
	part_done(pt, rc);
	OPENSSL_cleanse(out, data->length + 64);
	free(out);
	return rc;
}

/*
 * Symmetric Encrypt or Decrypt of data with key o. Writes Data (and on encryption the generated IV and the
 * Authenticated Encryption Tag) into ctx->out.
 */
static int
symmetric(struct op_ctx *ctx, const struct store_object *o, const struct cparams *p, bool enc,
    const struct ttlv *data, struct part *pt)
{
	const struct ttlv *ivt = payload_bytes(ctx, KMIP_TAG_IV_COUNTER_NONCE, false);
	const struct ttlv *aad = payload_bytes(ctx, KMIP_TAG_AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, false);
	const struct ttlv *tagt = payload_bytes(ctx, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, false);
	uint32_t alg = p->alg != 0 ? p->alg : key_alg(o);
	char namebuf[32];
	const char *name = cipher_name(alg, o->material_len, p->mode, namebuf, sizeof(namebuf));
	bool aead = p->mode == KMIP_BLOCK_CIPHER_MODE_GCM || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20POLY1305;
	bool wrap = p->mode == KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP || p->mode == KMIP_BLOCK_CIPHER_MODE_AESKEYWRAPPADDING;
	uint8_t iv[64], tag[16], *out = NULL;
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *c = NULL;
	size_t ivlen = 0, taglen;
	int n = 0, fin = 0, rc = -1;
	bool gen_iv = false;

	bool final = pt->final;

	if (ctx->err.reason != 0) {
		part_done(pt, -1);
		return -1;
	}
	if (pt->st != NULL)
		return stream_continue(ctx, o, enc, pt, data, tagt);
	if (p->alg != 0 && key_alg(o) != 0 && p->alg != key_alg(o))
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the Cryptographic Parameters "
		    "name another algorithm than the key's own");
	if (name == NULL || (cipher = EVP_CIPHER_fetch(NULL, name, NULL)) == NULL) {
		ERR_clear_error();
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "this key (%s, %zu bytes) cannot be "
		    "used in Block Cipher Mode %s", ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg),
		    o->material_len, p->mode ? ttlv_enum_name(KMIP_TAG_BLOCK_CIPHER_MODE, p->mode) : "(none)");
	}
	ivlen = (size_t)EVP_CIPHER_get_iv_length(cipher);
	if (aead && p->iv_len > 0)
		ivlen = (size_t)p->iv_len / 8;
	if (ivlen > sizeof(iv)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "IV Length too large");
		goto out;
	}
	if (ivt != NULL && alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20 && (ivt->length == 8 || ivt->length == 12)) {
		/* OpenSSL's ChaCha20 IV is counter || nonce in 16 bytes; a 64-bit (original) or 96-bit (RFC 8439)
		 * nonce starts its block counter at zero. */
		memset(iv, 0, 16 - ivt->length);
		memcpy(iv + 16 - ivt->length, ivt->v.bytes.data, ivt->length);
		ivlen = 16;
	} else if (ivt != NULL) {
		if (!aead && !wrap && ivt->length != ivlen) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "IV/Counter/Nonce must be %zu bytes",
			    ivlen);
			goto out;
		}
		if (ivt->length > sizeof(iv)) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "IV/Counter/Nonce too long");
			goto out;
		}
		ivlen = ivt->length;
		memcpy(iv, ivt->v.bytes.data, ivlen);
	} else if (ivlen > 0 && !wrap) {
		if (!enc) {
			/* The OASIS cases (CS-BC-M-11..13) expect Invalid Message for this. */
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE, "decryption needs the IV/Counter/Nonce");
			goto out;
		}
		/* The server chooses the IV and returns it with the ciphertext. */
		if (RAND_bytes(iv, (int)ivlen) != 1) {
			crypto_fail(ctx, "random generator failed");
			goto out;
		}
		gen_iv = true;
	}
	taglen = p->tag_len > 0 ? (size_t)p->tag_len : 16;
	if (aead && (taglen < 4 || taglen > 16)) {
		/* General Failure, as the OASIS cases (CS-BC-M-GCM-1) expect. */
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "Tag Length %zu is not between 4 and 16",
		    taglen);
		goto out;
	}
	if (aead && !enc && final) {
		if (tagt == NULL || tagt->length < 4 || tagt->length > 16) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "authenticated decryption needs the Authenticated Encryption Tag");
			goto out;
		}
		taglen = tagt->length;
	}
	if ((c = EVP_CIPHER_CTX_new()) == NULL || (out = malloc(data->length + 64)) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	if (!EVP_CipherInit_ex2(c, cipher, NULL, NULL, enc, NULL))
		goto crypto;
	if (aead && ivlen != (size_t)EVP_CIPHER_CTX_get_iv_length(c)) {
		OSSL_PARAM prm[2] = { OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen),
		    OSSL_PARAM_construct_end() };

		if (!EVP_CIPHER_CTX_set_params(c, prm))
			goto crypto;
	}
	if (!EVP_CipherInit_ex2(c, NULL, o->material, ivlen > 0 ? iv : NULL, enc, NULL))
		goto crypto;
	/* Block modes pad with PKCS#5 only when asked to: KMIP's default is no padding. */
	if (p->mode == KMIP_BLOCK_CIPHER_MODE_ECB || p->mode == KMIP_BLOCK_CIPHER_MODE_CBC || p->mode == 0)
		EVP_CIPHER_CTX_set_padding(c, p->padding == KMIP_PADDING_METHOD_PKCS5);
	if (aead && !enc && final &&
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)taglen, (void *)tagt->v.bytes.data))
		goto crypto;
	if (aead && aad != NULL && !EVP_CipherUpdate(c, NULL, &n, aad->v.bytes.data, (int)aad->length))
		goto crypto;
	if (!EVP_CipherUpdate(c, out, &n, data->v.bytes.data, (int)data->length))
		goto crypto;
	if (!final) {
		/* The first part of a multi-part operation: the context waits on the connection. */
		struct crypto_stream proto = { .operation = enc ? KMIP_OPERATION_ENCRYPT : KMIP_OPERATION_DECRYPT,
		    .c = c, .aead = aead, .taglen = taglen }, *st;

		snprintf(proto.uid, sizeof(proto.uid), "%s", o->uid);
		if ((st = stream_keep(ctx, &proto)) == NULL)
			goto out;
		c = NULL;
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
		ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, out, (size_t)n);
		if (gen_iv)
			ttlv_enc_bytes(ctx->out, KMIP_TAG_IV_COUNTER_NONCE, iv, ivlen);
		ttlv_enc_bytes(ctx->out, KMIP_TAG_CORRELATION_VALUE, st->id, STREAM_ID_LEN);
		rc = 0;
		goto out;
	}
	if (!EVP_CipherFinal_ex(c, out + n, &fin)) {
		crypto_fail(ctx, aead && !enc ? "authentication failed: the tag does not match" :
		    "the data does not fit the cipher (length or padding)");
		goto out;
	}
	if (aead && enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)taglen, tag))
		goto crypto;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, out, (size_t)(n + fin));
	if (gen_iv)
		ttlv_enc_bytes(ctx->out, KMIP_TAG_IV_COUNTER_NONCE, iv, ivlen);
	if (aead && enc)
		ttlv_enc_bytes(ctx->out, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, taglen);
	rc = 0;
	goto out;
crypto:
	crypto_fail(ctx, enc ? "encryption failed" : "decryption failed");
out:
	if (out != NULL) {
		OPENSSL_cleanse(out, data->length + 64);
		free(out);
	}
	OPENSSL_cleanse(iv, sizeof(iv));
	EVP_CIPHER_CTX_free(c);
	EVP_CIPHER_free(cipher);
	return rc;
}

/* Loads the EVP key of an asymmetric object. */
static EVP_PKEY *
load_pkey(struct op_ctx *ctx, const struct store_object *o)
{
	struct keyfmt_error kerr;
	EVP_PKEY *k;

	if (o->object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY)
		k = keyfmt_load_private(o->material, o->material_len, &kerr);
	else if (o->object_type == KMIP_OBJECT_TYPE_PUBLIC_KEY)
		k = keyfmt_load_public(o->material, o->material_len, &kerr);
	else
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "key %s is not an asymmetric key",
		    o->uid), NULL;
	if (k == NULL)
		kmip_error_set(&ctx->err, kerr.reason, "%s", kerr.message);
	return k;
}

/* Sets RSA padding (PKCS#1 v1.5 or OAEP with its digests) on an encryption context. */
static int
rsa_cipher_padding(struct op_ctx *ctx, EVP_PKEY_CTX *pc, const struct cparams *p)
{
	const char *md;

	if (p->padding == 0 || p->padding == KMIP_PADDING_METHOD_PKCS1_V1_5)
		return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0 ? 0 : crypto_fail(ctx, "RSA padding");
	if (p->padding != KMIP_PADDING_METHOD_OAEP)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "RSA encryption uses PKCS1 v1.5 or OAEP padding");
	md = digest_name(p->hash != 0 ? p->hash : KMIP_HASHING_ALGORITHM_SHA_1);
	if (md == NULL || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(pc, md, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, p->mgf_hash != 0 && digest_name(p->mgf_hash) != NULL ?
	    digest_name(p->mgf_hash) : md, NULL) <= 0)
		return crypto_fail(ctx, "OAEP parameters not usable");
	if (p->p_source != NULL && p->p_source->length > 0) {
		/* OpenSSL takes ownership of the label. */
		void *label = OPENSSL_memdup(p->p_source->v.bytes.data, p->p_source->length);

		if (label == NULL || EVP_PKEY_CTX_set0_rsa_oaep_label(pc, label, (int)p->p_source->length) <= 0) {
			OPENSSL_free(label);
			return crypto_fail(ctx, "OAEP label not usable");
		}
	}
	return 0;
}

/* RSA Encrypt (public key) or Decrypt (private key). */
static int
asymmetric(struct op_ctx *ctx, const struct store_object *o, const struct cparams *p, bool enc,
    const struct ttlv *data)
{
	EVP_PKEY *k = load_pkey(ctx, o);
	EVP_PKEY_CTX *pc = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc = -1;

	if (k == NULL)
		return -1;
	if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL ||
	    (enc ? EVP_PKEY_encrypt_init(pc) : EVP_PKEY_decrypt_init(pc)) <= 0) {
		crypto_fail(ctx, "this key cannot encrypt or decrypt");
		goto out;
	}
	if (rsa_cipher_padding(ctx, pc, p) != 0)
		goto out;
	if ((enc ? EVP_PKEY_encrypt(pc, NULL, &outlen, data->v.bytes.data, data->length) :
	    EVP_PKEY_decrypt(pc, NULL, &outlen, data->v.bytes.data, data->length)) <= 0 ||
	    (out = malloc(outlen)) == NULL ||
	    (enc ? EVP_PKEY_encrypt(pc, out, &outlen, data->v.bytes.data, data->length) :
	    EVP_PKEY_decrypt(pc, out, &outlen, data->v.bytes.data, data->length)) <= 0) {
		crypto_fail(ctx, enc ? "RSA encryption failed (data too long for the key?)" : "RSA decryption failed");
		goto out;
	}
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, out, outlen);
	rc = 0;
out:
	if (out != NULL) {
		OPENSSL_cleanse(out, outlen);
		free(out);
	}
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(k);
	return rc;
}

/*
 * Usage Limits: a key limited to a number of bytes (or objects) it may protect is charged before it is
 * used, and refused once the limit is reached. The count is kept in the object's Usage Limits Count.
 */
static int
consume_usage(struct op_ctx *ctx, const char *uid, size_t bytes)
{
	struct store_object *o = NULL;
	struct store_txn *txn;
	struct ttlv *ul, *count, *copy;
	const struct ttlv *total, *unit;
	int64_t left, need;
	int rc = -1;

	if (ops_begin(ctx, true, &txn) != 0)
		return -1;
	if (ops_load(ctx, txn, uid, OPS_MATERIAL | OPS_WRITE, &o) != 0)
		goto out;
	if ((ul = ttlv_find(o->attrs, KMIP_TAG_USAGE_LIMITS)) == NULL) {
		rc = 0;
		goto out;
	}
	total = ttlv_find(ul, KMIP_TAG_USAGE_LIMITS_TOTAL);
	count = ttlv_find(ul, KMIP_TAG_USAGE_LIMITS_COUNT);
	unit = ttlv_find(ul, KMIP_TAG_USAGE_LIMITS_UNIT);
	left = count != NULL && count->type == TTLV_LONG_INTEGER ? count->v.i64 :
	    total != NULL && total->type == TTLV_LONG_INTEGER ? total->v.i64 : 0;
	need = unit != NULL && unit->type == TTLV_ENUMERATION && unit->v.u32 == KMIP_USAGE_LIMITS_UNIT_OBJECT ? 1 :
	    (int64_t)bytes;
	if (need > left) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_PERMISSION_DENIED, "key %s has reached its Usage Limits "
		    "(%lld left, %lld needed)", uid, (long long)left, (long long)need);
		goto out;
	}
	if ((copy = ttlv_copy(o->arena, ul)) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	/* Only a Long Integer count is updated in place (attr_check keeps the stored one so). */
	if ((count = ttlv_find(copy, KMIP_TAG_USAGE_LIMITS_COUNT)) != NULL && count->type != TTLV_LONG_INTEGER) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "key %s has a malformed Usage Limits", uid);
		goto out;
	}
	if (count == NULL) {
		if ((count = ttlv_new_long(o->arena, KMIP_TAG_USAGE_LIMITS_COUNT, 0)) == NULL) {
			ops_nomem(ctx);
			goto out;
		}
		ttlv_append(copy, count);
	}
	count->v.i64 = left - need;
	if (attrs_set(o->arena, o->attrs, copy) != 0) {
		ops_nomem(ctx);
		goto out;
	}
	if (ops_save(ctx, txn, o) != 0)
		goto out;
	rc = ops_commit(ctx, &txn);
out:
	store_txn_abort(txn);
	store_object_free(o);
	return rc;
}

/* Encrypt or Decrypt with the key the request names. */
static int
encrypt_decrypt(struct op_ctx *ctx, bool enc)
{
	const struct ttlv *data;
	struct store_object *o;
	struct cparams p;
	struct part pt;
	int rc;

	if ((data = payload_bytes(ctx, KMIP_TAG_DATA, true)) == NULL ||
	    part_read(ctx, enc ? KMIP_OPERATION_ENCRYPT : KMIP_OPERATION_DECRYPT, &pt) != 0)
		return -1;
	if ((o = crypto_key(ctx, enc ? KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT : KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT,
	    enc, &pt)) == NULL) {
		part_done(&pt, -1);
		return -1;
	}
	if ((o->object_type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && single_part(ctx) != 0) ||
	    (enc && consume_usage(ctx, o->uid, data->length) != 0)) {
		part_done(&pt, -1);
		store_object_free(o);
		return -1;
	}
	params_get(ctx, o, &p);
	if (o->object_type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY)
		rc = symmetric(ctx, o, &p, enc, data, &pt);
	else
		rc = asymmetric(ctx, o, &p, enc, data);
	store_object_free(o);
	return rc;
}

int
op_encrypt(struct op_ctx *ctx)
{
	return encrypt_decrypt(ctx, true);
}

int
op_decrypt(struct op_ctx *ctx)
{
	return encrypt_decrypt(ctx, false);
}

/* The digest and padding a signature uses, from a Digital Signature Algorithm or the parameters. */
static int
signature_scheme(struct op_ctx *ctx, const struct cparams *p, const char **md, int *padding)
{
	*padding = p->padding == KMIP_PADDING_METHOD_PSS ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
	*md = digest_name(p->hash != 0 ? p->hash : KMIP_HASHING_ALGORITHM_SHA_256);
	switch (p->dsa) {
	case 0:
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_1_WITH_RSA_ENCRYPTION:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA_1:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA_1:
		*md = "SHA1";
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_224_WITH_RSA_ENCRYPTION:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA224:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA224:
		*md = "SHA224";
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_256_WITH_RSA_ENCRYPTION:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA256:
		*md = "SHA256";
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_384_WITH_RSA_ENCRYPTION:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA384:
		*md = "SHA384";
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_512_WITH_RSA_ENCRYPTION:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA512:
		*md = "SHA512";
		break;
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_RSASSA_PSS:
		*padding = RSA_PKCS1_PSS_PADDING;
		break;
	default:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Digital Signature Algorithm %s is "
		    "not supported", ttlv_enum_name(KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM, p->dsa));
	}
	if (*md == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Hashing Algorithm not supported");
	return 0;
}

/* True when a Digital Signature Algorithm (0: none named) is one the key's type makes. */
static bool
signature_fits_key(uint32_t dsa, EVP_PKEY *k)
{
	switch (dsa) {
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA_1:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA224:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA256:
		return EVP_PKEY_is_a(k, "DSA");
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA_1:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA224:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA384:
	case KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA512:
		return EVP_PKEY_is_a(k, "EC");
	case 0:
		return true;
	default:
		return EVP_PKEY_is_a(k, "RSA");
	}
}

/* Configures an RSA signing or verification context (padding, PSS salt and MGF1 digest). */
static int
rsa_sign_padding(EVP_PKEY_CTX *pc, EVP_PKEY *k, const struct cparams *p, int padding, const char *md, bool verify)
{
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
		return 0;
	if (EVP_PKEY_CTX_set_rsa_padding(pc, padding) <= 0)
		return -1;
	if (padding == RSA_PKCS1_PSS_PADDING) {
		/* Without a Salt Length, sign with the digest's length and accept any length when verifying. */
		int salt = p->salt_len >= 0 ? p->salt_len / 8 : verify ? RSA_PSS_SALTLEN_AUTO : RSA_PSS_SALTLEN_DIGEST;

		if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, p->mgf_hash != 0 && digest_name(p->mgf_hash) != NULL ?
		    digest_name(p->mgf_hash) : md, NULL) <= 0)
			return -1;
	}
	return 0;
}

/*
 * Writes a part's answer that is not the last of its operation: the key (unless Hash), for a verification
 * the Validity Indicator Unknown (the signature or MAC is checked with the last part), the Correlation Value.
 */
static void
part_answer(struct op_ctx *ctx, const char *uid, bool verify, const struct crypto_stream *st)
{
	if (uid != NULL)
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (verify)
		ttlv_enc_enum(ctx->out, KMIP_TAG_VALIDITY_INDICATOR, KMIP_VALIDITY_INDICATOR_UNKNOWN);
	ttlv_enc_bytes(ctx->out, KMIP_TAG_CORRELATION_VALUE, st->id, STREAM_ID_LEN);
}

/*
 * Checks Digested Data against the digest the signature names: its length must be that digest's, or the
 * signature would encode another DigestInfo (RSA) or silently sign a truncated value (ECDSA). 0, or -1
 * with ctx->err set (Invalid Field).
 */
static int
digested_check(struct op_ctx *ctx, const struct ttlv *digested, const EVP_MD *md, const char *mdname)
{
	int size = EVP_MD_get_size(md);

	if (size <= 0 || digested->length != (size_t)size)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Digested Data is %zu bytes, but a "
		    "%s digest is %d: the Cryptographic Parameters name another Hashing Algorithm", (size_t)digested->length,
		    mdname, size);
	return 0;
}

/*
 * Sign (verify false) or Signature Verify (verify true): of Data, in one request or in parts (the digest
 * and signing context waits on the connection between them), or of Digested Data (one request).
 */
static int
sign_verify(struct op_ctx *ctx, bool verify)
{
	const struct ttlv *data, *digested, *sig = NULL;
	struct store_object *o = NULL;
	struct crypto_stream *st;
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	EVP_MD *md = NULL;
	struct cparams p;
	struct part pt;
	const char *mdname;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int padding, rc = -1, ok;
	bool own = true;	/* mc is ours to free (not a stream's) */

	data = payload_bytes(ctx, KMIP_TAG_DATA, false);
	digested = payload_bytes(ctx, KMIP_TAG_DIGESTED_DATA, false);
	if (ctx->err.reason != 0 ||
	    part_read(ctx, verify ? KMIP_OPERATION_SIGNATURE_VERIFY : KMIP_OPERATION_SIGN, &pt) != 0)
		return -1;
	if (verify && pt.final && (sig = payload_bytes(ctx, KMIP_TAG_SIGNATURE_DATA, true)) == NULL)
		goto out;
	if (pt.st != NULL && data == NULL && digested == NULL)
		data = &no_data;	/* a later part may carry only the Final Indicator (and the signature) */
	if ((data == NULL) == (digested == NULL)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "give either Data or Digested Data");
		goto out;
	}
	if (digested != NULL && !(pt.init && pt.final)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Digested Data is the whole message's digest: it comes in one request, not in parts");
		goto out;
	}
	if ((o = crypto_key(ctx, verify ? KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY : KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN,
	    !verify, &pt)) == NULL)
		goto out;
	if (pt.st != NULL) {
		mc = pt.st->md;
		own = false;
		goto update;
	}
	params_get(ctx, o, &p);
	if (signature_scheme(ctx, &p, &mdname, &padding) != 0 || (k = load_pkey(ctx, o)) == NULL)
		goto out;
	if (!signature_fits_key(p.dsa, k)) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Digital Signature Algorithm %s does not "
		    "fit a %s key", ttlv_enum_name(KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM, p.dsa), EVP_PKEY_get0_type_name(k));
		goto out;
	}
	if ((md = EVP_MD_fetch(NULL, mdname, NULL)) == NULL) {
		crypto_fail(ctx, "digest not available");
		goto out;
	}
	if (digested != NULL) {
		if (digested_check(ctx, digested, md, mdname) != 0)
			goto out;
		if ((pc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL ||
		    (verify ? EVP_PKEY_verify_init(pc) : EVP_PKEY_sign_init(pc)) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(pc, md) <= 0 || rsa_sign_padding(pc, k, &p, padding, mdname, verify) != 0) {
			crypto_fail(ctx, "this key cannot sign or verify with these parameters");
			goto out;
		}
		if (verify) {
			ok = EVP_PKEY_verify(pc, sig->v.bytes.data, sig->length, digested->v.bytes.data, digested->length);
			ERR_clear_error();
			ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
			ttlv_enc_enum(ctx->out, KMIP_TAG_VALIDITY_INDICATOR, ok == 1 ? KMIP_VALIDITY_INDICATOR_VALID :
			    KMIP_VALIDITY_INDICATOR_INVALID);
			rc = 0;
			goto out;
		}
		if (EVP_PKEY_sign(pc, NULL, &outlen, digested->v.bytes.data, digested->length) <= 0 ||
		    (out = malloc(outlen)) == NULL ||
		    EVP_PKEY_sign(pc, out, &outlen, digested->v.bytes.data, digested->length) <= 0) {
			crypto_fail(ctx, "signing failed");
			goto out;
		}
		goto signed_;
	}
	if ((mc = EVP_MD_CTX_new()) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	if ((verify ? EVP_DigestVerifyInit_ex(mc, &pc, mdname, NULL, NULL, k, NULL) :
	    EVP_DigestSignInit_ex(mc, &pc, mdname, NULL, NULL, k, NULL)) <= 0 ||
	    rsa_sign_padding(pc, k, &p, padding, mdname, verify) != 0) {
		crypto_fail(ctx, "this key cannot sign or verify with these parameters");
		goto out;
	}
update:
	if ((verify ? EVP_DigestVerifyUpdate(mc, data->v.bytes.data, data->length) :
	    EVP_DigestSignUpdate(mc, data->v.bytes.data, data->length)) <= 0) {
		crypto_fail(ctx, verify ? "verification failed" : "signing failed");
		goto out;
	}
	if (!pt.final) {
		if ((st = pt.st) == NULL) {
			/* The first part: the context (which holds the key) waits on the connection. */
			struct crypto_stream proto = { .operation = verify ? KMIP_OPERATION_SIGNATURE_VERIFY :
			    KMIP_OPERATION_SIGN, .md = mc };

			snprintf(proto.uid, sizeof(proto.uid), "%s", o->uid);
			if ((st = stream_keep(ctx, &proto)) == NULL)
				goto out;
			own = false;
		}
		part_answer(ctx, o->uid, verify, st);
		rc = 0;
		goto out;
	}
	if (verify) {
		ok = EVP_DigestVerifyFinal(mc, sig->v.bytes.data, sig->length);
		ERR_clear_error();
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
		ttlv_enc_enum(ctx->out, KMIP_TAG_VALIDITY_INDICATOR, ok == 1 ? KMIP_VALIDITY_INDICATOR_VALID :
		    KMIP_VALIDITY_INDICATOR_INVALID);
		rc = 0;
		goto out;
	}
	if (EVP_DigestSignFinal(mc, NULL, &outlen) <= 0 || (out = malloc(outlen)) == NULL ||
	    EVP_DigestSignFinal(mc, out, &outlen) <= 0) {
		crypto_fail(ctx, "signing failed");
		goto out;
	}
signed_:
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ttlv_enc_bytes(ctx->out, KMIP_TAG_SIGNATURE_DATA, out, outlen);
	rc = 0;
out:
	part_done(&pt, rc);
	free(out);
	if (mc != NULL) {
		if (own)
			EVP_MD_CTX_free(mc);	/* frees pc with it */
	} else {
		EVP_PKEY_CTX_free(pc);
	}
	EVP_MD_free(md);
	EVP_PKEY_free(k);
	store_object_free(o);
	return rc;
}

int
op_sign(struct op_ctx *ctx)
{
	return sign_verify(ctx, false);
}

int
op_signature_verify(struct op_ctx *ctx)
{
	return sign_verify(ctx, true);
}

/* The HMAC digest of a key's algorithm, or NULL. */
static const char *
hmac_digest(uint32_t alg)
{
	switch (alg) {
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA1:
		return "SHA1";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA224:
		return "SHA224";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256:
		return "SHA256";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA384:
		return "SHA384";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA512:
		return "SHA512";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_MD5:
		return "MD5";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA3_224:
		return "SHA3-224";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA3_256:
		return "SHA3-256";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA3_384:
		return "SHA3-384";
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA3_512:
		return "SHA3-512";
	default:
		return NULL;
	}
}

/*
 * MAC (verify false) or MAC Verify (verify true): HMAC from the key's algorithm, or AES CMAC; in one
 * request or in parts (the keyed MAC context waits on the connection between them).
 */
static int
mac(struct op_ctx *ctx, bool verify)
{
	const struct ttlv *data, *given = NULL;
	struct store_object *o = NULL;
	struct crypto_stream *st;
	struct cparams p;
	struct part pt;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *mc = NULL;
	OSSL_PARAM prm[2];
	uint8_t out[EVP_MAX_MD_SIZE];
	const char *digest;
	char cipher[32];
	size_t outlen = 0;
	uint32_t alg;
	int rc = -1;
	bool own = true;	/* mc is ours to free (not a stream's) */

	if (part_read(ctx, verify ? KMIP_OPERATION_MAC_VERIFY : KMIP_OPERATION_MAC, &pt) != 0)
		return -1;
	/* A later part may carry no Data (only the Final Indicator, and the MAC to verify). */
	if ((data = payload_bytes(ctx, KMIP_TAG_DATA, pt.st == NULL)) == NULL) {
		if (ctx->err.reason != 0)
			goto out;
		data = &no_data;
	}
	if (verify && pt.final && (given = payload_bytes(ctx, KMIP_TAG_MAC_DATA, true)) == NULL)
		goto out;
	if ((o = crypto_key(ctx, verify ? KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_VERIFY :
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE, !verify, &pt)) == NULL)
		goto out;
	if (pt.st != NULL) {
		mc = pt.st->mac;
		own = false;
	} else {
		params_get(ctx, o, &p);
		alg = p.alg != 0 ? p.alg : key_alg(o);
		/* CMAC is AES CMAC here: the bytes of a Camellia or Blowfish key are no AES key. */
		if (p.mode == KMIP_BLOCK_CIPHER_MODE_CMAC && key_alg(o) != 0 &&
		    key_alg(o) != KMIP_CRYPTOGRAPHIC_ALGORITHM_AES) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "CMAC needs an AES key; %s is a %s key",
			    o->uid, ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, key_alg(o)));
			goto out;
		}
		if (p.mode == KMIP_BLOCK_CIPHER_MODE_CMAC || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_AES) {
			snprintf(cipher, sizeof(cipher), "AES-%zu-CBC", o->material_len * 8);
			m = EVP_MAC_fetch(NULL, "CMAC", NULL);
			prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0);
		} else {
			if ((digest = hmac_digest(alg)) == NULL && (digest = digest_name(p.hash)) == NULL) {
				kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "key %s is not a MAC key",
				    o->uid);
				goto out;
			}
			m = EVP_MAC_fetch(NULL, "HMAC", NULL);
			prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
		}
		prm[1] = OSSL_PARAM_construct_end();
		if (m == NULL || (mc = EVP_MAC_CTX_new(m)) == NULL ||
		    !EVP_MAC_init(mc, o->material, o->material_len, prm)) {
			crypto_fail(ctx, "MAC computation failed");
			goto out;
		}
	}
	if (!EVP_MAC_update(mc, data->v.bytes.data, data->length)) {
		crypto_fail(ctx, "MAC computation failed");
		goto out;
	}
	if (!pt.final) {
		if ((st = pt.st) == NULL) {
			/* The first part: the keyed context waits on the connection. */
			struct crypto_stream proto = { .operation = verify ? KMIP_OPERATION_MAC_VERIFY :
			    KMIP_OPERATION_MAC, .mac = mc };

			snprintf(proto.uid, sizeof(proto.uid), "%s", o->uid);
			if ((st = stream_keep(ctx, &proto)) == NULL)
				goto out;
			own = false;
		}
		part_answer(ctx, o->uid, verify, st);
		rc = 0;
		goto out;
	}
	if (!EVP_MAC_final(mc, out, &outlen, sizeof(out))) {
		crypto_fail(ctx, "MAC computation failed");
		goto out;
	}
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	if (verify)
		ttlv_enc_enum(ctx->out, KMIP_TAG_VALIDITY_INDICATOR, given->length == outlen &&
		    CRYPTO_memcmp(given->v.bytes.data, out, outlen) == 0 ? KMIP_VALIDITY_INDICATOR_VALID :
		    KMIP_VALIDITY_INDICATOR_INVALID);
	else
		ttlv_enc_bytes(ctx->out, KMIP_TAG_MAC_DATA, out, outlen);
	rc = 0;
out:
	part_done(&pt, rc);
	OPENSSL_cleanse(out, sizeof(out));
	if (own)
		EVP_MAC_CTX_free(mc);
	EVP_MAC_free(m);
	store_object_free(o);
	return rc;
}

int
op_mac(struct op_ctx *ctx)
{
	return mac(ctx, false);
}

int
op_mac_verify(struct op_ctx *ctx)
{
	return mac(ctx, true);
}

/*
 * Hash: the digest of Data with the Hashing Algorithm of the Cryptographic Parameters, in one request or
 * in parts (the digest context waits on the connection; later parts need no parameters).
 */
int
op_hash(struct op_ctx *ctx)
{
	const struct ttlv *data;
	struct crypto_stream *st;
	struct cparams p;
	struct part pt;
	uint8_t out[EVP_MAX_MD_SIZE];
	unsigned int outlen = 0;
	EVP_MD *md = NULL;
	EVP_MD_CTX *mc = NULL;
	const char *name;
	int rc = -1;
	bool own = true;	/* mc is ours to free (not a stream's) */

	if (part_read(ctx, KMIP_OPERATION_HASH, &pt) != 0)
		return -1;
	/* A later part may carry no Data (only the Final Indicator). */
	if ((data = payload_bytes(ctx, KMIP_TAG_DATA, pt.st == NULL)) == NULL) {
		if (ctx->err.reason != 0)
			goto out;
		data = &no_data;
	}
	if (pt.st != NULL) {
		mc = pt.st->md;
		own = false;
	} else {
		memset(&p, 0, sizeof(p));
		params_read(ttlv_find(ctx->item->payload, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), &p);
		if ((name = digest_name(p.hash)) == NULL) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "Hash needs a supported Hashing Algorithm in its Cryptographic Parameters");
			goto out;
		}
		if ((md = EVP_MD_fetch(NULL, name, NULL)) == NULL || (mc = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex2(mc, md, NULL) != 1) {
			crypto_fail(ctx, "hashing failed");
			goto out;
		}
	}
	if (EVP_DigestUpdate(mc, data->v.bytes.data, data->length) != 1) {
		crypto_fail(ctx, "hashing failed");
		goto out;
	}
	if (!pt.final) {
		if ((st = pt.st) == NULL) {
			struct crypto_stream proto = { .operation = KMIP_OPERATION_HASH, .md = mc };

			if ((st = stream_keep(ctx, &proto)) == NULL)
				goto out;
			own = false;
		}
		part_answer(ctx, NULL, false, st);
		rc = 0;
		goto out;
	}
	if (EVP_DigestFinal_ex(mc, out, &outlen) != 1) {
		crypto_fail(ctx, "hashing failed");
		goto out;
	}
	ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, out, outlen);
	rc = 0;
out:
	part_done(&pt, rc);
	if (own)
		EVP_MD_CTX_free(mc);
	EVP_MD_free(md);
	return rc;
}

/* RNG Retrieve: Data Length random bytes from the server's generator. */
int
op_rng_retrieve(struct op_ctx *ctx)
{
	const struct ttlv *len = ttlv_find(ctx->item->payload, KMIP_TAG_DATA_LENGTH);
	uint8_t *buf;
	int rc = 0;

	if (len == NULL || len->type != TTLV_INTEGER || len->v.i32 <= 0 || len->v.i32 > RNG_MAX_LENGTH)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD,
		    "Data Length must be an Integer between 1 and %d", RNG_MAX_LENGTH);
	if ((buf = malloc((size_t)len->v.i32)) == NULL)
		return ops_nomem(ctx);
	if (RAND_bytes(buf, len->v.i32) != 1)
		rc = crypto_fail(ctx, "random generator failed");
	else
		ttlv_enc_bytes(ctx->out, KMIP_TAG_DATA, buf, (size_t)len->v.i32);
	OPENSSL_cleanse(buf, (size_t)len->v.i32);
	free(buf);
	return rc;
}

/*
 * RNG Seed: mixes at most crypto.rng_seed_max bytes of the client's data into the generator and answers
 * how many it took (Data Length); the rest is ignored, as the specification allows.
 */
int
op_rng_seed(struct op_ctx *ctx)
{
	const struct ttlv *data = payload_bytes(ctx, KMIP_TAG_DATA, true);
	size_t take;

	if (data == NULL)
		return -1;
	if (data->length == 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "RNG Seed needs Data");
	take = data->length < ctx->env->cfg->crypto.rng_seed_max ? data->length : ctx->env->cfg->crypto.rng_seed_max;
	/*
	 * Never the generator's only source: with an operating system entropy source (always, in kmipd's
	 * builds), OpenSSL 3 turns RAND_add into a reseed of its primary generator that draws fresh entropy
	 * and takes these bytes as additional input, whatever entropy they are credited with (none here).
	 */
	if (take > 0)
		RAND_add(data->v.bytes.data, (int)take, 0.0);
	ttlv_enc_int(ctx->out, KMIP_TAG_DATA_LENGTH, (int32_t)take);
	return 0;
}

/* The OpenSSL digest of a Hashing Algorithm, for other families' handlers; see ops.h. */
const char *
ops_digest_name(uint32_t hash)
{
	return digest_name(hash);
}

/* The OpenSSL cipher of a symmetric key, for other families' handlers; see ops.h. */
const char *
ops_cipher_name(uint32_t alg, size_t keylen, uint32_t mode, char *buf, size_t size)
{
	return cipher_name(alg, keylen, mode, buf, size);
}
