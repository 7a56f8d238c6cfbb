/*
 * Derive Key and DSA keys end to end against the real kmipd over mutual TLS, at KMIP 1.4 and 2.1: every
 * derivation method checked against a computation of its own here (OpenSSL's primitives, SP 800-108's modes
 * written out), the links both ways, the refusals (usage mask, state, every client-chosen size over its
 * limit), PBKDF2 on a worker while the loop answers others; DSA key pairs made on a worker, registered as
 * Transparent DSA and DER, given back, signing and verifying.
 * One server for the whole binary with small derivation limits, so that their refusals are cheap to reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

/* The limits the server runs with (see group_setup). */
#define MAX_ITERATIONS	3000000
#define MAX_DATA	1024
#define MAX_LENGTH	2048
/* How long a worker's PBKDF2 should take in the cases that need one running (see long_iterations). */
#define LONG_MS		700

struct fx {
	struct h_server srv;
	SSL_CTX *ctx, *ctx2;
	struct kmip_client *cl;		/* client.crt */
	struct kmip_client *cl2;	/* client2.crt: another tenant */
};

static int
group_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	h_start(&f->srv, (const char *const[]){ "keygen.pool_size=0", "keygen.workers=2",
	    "server.max_derive_iterations=3000000", "server.max_derive_data=1024", "server.max_derive_length=2048",
	    NULL });
	f->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	f->ctx2 = h_client_ctx(h_cert("client2.crt"), h_cert("client2.key"), NULL, TLS1_2_VERSION, 0);
	f->cl = h_connect(&f->srv, f->ctx);
	f->cl2 = h_connect(&f->srv, f->ctx2);
	return 0;
}

static int
group_teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	kmip_client_close(f->cl);
	kmip_client_close(f->cl2);
	SSL_CTX_free(f->ctx);
	SSL_CTX_free(f->ctx2);
	h_cleanup(&f->srv);
	free(f);
	return 0;
}

/* Sends req (freed here) and returns the response, checking it is in version v (14 or 21). */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, int v)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(v / 10, v % 10));
	return resp;
}

/* The reason a 1.x client gets for a 2.x reason kmipd maps (versions.c). */
static uint32_t
reason_for(int v, uint32_t reason)
{
	if (v >= 20)
		return reason;
	switch (reason) {
	case KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK:
	case KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE:
	case KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED:
		return KMIP_RESULT_REASON_PERMISSION_DENIED;
	case KMIP_RESULT_REASON_OBJECT_NOT_FOUND:
		return KMIP_RESULT_REASON_ITEM_NOT_FOUND;
	default:
		return reason;
	}
}

/* Attribute sets and attributes in either version's spelling. */
static void
attrs_begin(struct ttlv_enc *e, int v)
{
	ttlv_enc_begin(e, v >= 20 ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
}

static void
attr_enum(struct ttlv_enc *e, int v, uint32_t tag, const char *name, uint32_t val)
{
	if (v >= 20)
		ttlv_enc_enum(e, tag, val);
	else
		h_attr_enum(e, name, val);
}

static void
attr_int(struct ttlv_enc *e, int v, uint32_t tag, const char *name, int32_t val)
{
	if (v >= 20)
		ttlv_enc_int(e, tag, val);
	else
		h_attr_int(e, name, val);
}

/* A Unique Identifier from a successful response into uid (64 bytes). */
static void
take_uid(const struct ttlv *resp, uint32_t tag, char *uid)
{
	const struct ttlv *t = ttlv_find(h_payload(resp, 0), tag);

	assert_non_null(t);
	snprintf(uid, 64, "%s", (const char *)t->v.bytes.data);
}

/* One item naming uid (Activate, Destroy, ...) in version v, expecting success. */
static void
uid_ok(struct kmip_client *cl, int v, uint32_t op, const char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, op);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, v);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
}

/*
 * Registers a Symmetric Key (AES) or Secret Data (type Secret Data) of the given bytes with usage mask and
 * activates it unless pre_active; its identifier into uid.
 */
static void
register_source(struct kmip_client *cl, int v, uint32_t type, const uint8_t *bytes, size_t len, uint32_t mask,
    bool pre_active, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, type);
	attrs_begin(&e, v);
	attr_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask", (int32_t)mask);
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY) {
		attr_enum(&e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm",
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		attr_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", (int32_t)len * 8);
	}
	ttlv_enc_end(&e);
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY) {
		ttlv_enc_begin(&e, KMIP_TAG_SYMMETRIC_KEY);
	} else {
		ttlv_enc_begin(&e, KMIP_TAG_SECRET_DATA);
		ttlv_enc_enum(&e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	}
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY ?
	    KMIP_KEY_FORMAT_TYPE_RAW : KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, bytes, len);
	ttlv_enc_end(&e);
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY) {
		ttlv_enc_enum(&e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)len * 8);
	}
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, v);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_arena_free(a);
	if (!pre_active)
		uid_ok(cl, v, KMIP_OPERATION_ACTIVATE, uid);
}

/* What a Derive Key request carries (fields left 0 or NULL are not sent). */
struct dreq {
	uint32_t object_type;		/* 0: Symmetric Key */
	const char *uids[3];
	uint32_t method;
	uint32_t hash, cipher, mode;
	const uint8_t *data, *iv, *salt;
	size_t data_len, iv_len, salt_len;
	int32_t iterations;
	int32_t bits;			/* Cryptographic Length, 0: none */
	uint32_t alg;			/* of the new Symmetric Key, 0: AES */
	bool no_alg;			/* leave the Cryptographic Algorithm out */
};

/* Writes a whole Derive Key request in version v. */
static void
enc_derive(struct ttlv_enc *e, int v, const struct dreq *d)
{
	uint32_t type = d->object_type != 0 ? d->object_type : KMIP_OBJECT_TYPE_SYMMETRIC_KEY;
	size_t i;

	h_request_begin(e, v / 10, v % 10, 1);
	h_item_begin(e, KMIP_OPERATION_DERIVE_KEY);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, type);
	for (i = 0; i < 3 && d->uids[i] != NULL; i++)
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, d->uids[i]);
	ttlv_enc_enum(e, KMIP_TAG_DERIVATION_METHOD, d->method);
	ttlv_enc_begin(e, KMIP_TAG_DERIVATION_PARAMETERS);
	if (d->hash != 0 || d->cipher != 0 || d->mode != 0) {
		ttlv_enc_begin(e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		if (d->mode != 0)
			ttlv_enc_enum(e, KMIP_TAG_BLOCK_CIPHER_MODE, d->mode);
		if (d->hash != 0)
			ttlv_enc_enum(e, KMIP_TAG_HASHING_ALGORITHM, d->hash);
		if (d->cipher != 0)
			ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, d->cipher);
		ttlv_enc_end(e);
	}
	if (d->iv != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_INITIALIZATION_VECTOR, d->iv, d->iv_len);
	if (d->data != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_DERIVATION_DATA, d->data, d->data_len);
	if (d->salt != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_SALT, d->salt, d->salt_len);
	if (d->iterations != 0)
		ttlv_enc_int(e, KMIP_TAG_ITERATION_COUNT, d->iterations);
	ttlv_enc_end(e);
	attrs_begin(e, v);
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY && !d->no_alg)
		attr_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm",
		    d->alg != 0 ? d->alg : KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	if (d->bits != 0)
		attr_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", d->bits);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

static struct ttlv *
derive(struct kmip_client *cl, int v, const struct dreq *d, struct ttlv_arena **a)
{
	struct ttlv_enc e;

	enc_derive(&e, v, d);
	return call(cl, &e, a, v);
}

/* Derives, expecting success; the new object's identifier into uid. */
static void
derive_ok(struct kmip_client *cl, int v, const struct dreq *d, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv *resp = derive(cl, v, d, &a);

	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_arena_free(a);
}

/* Derives, expecting failure with reason (the 2.x one; mapped for 1.x) and a message containing needle. */
static void
derive_fails(struct kmip_client *cl, int v, const struct dreq *d, uint32_t reason, const char *needle)
{
	struct ttlv_arena *a;
	struct ttlv *resp = derive(cl, v, d, &a);

	h_expect_fail(resp, 0, reason_for(v, reason), needle);
	ttlv_arena_free(a);
}

/* Gets uid (an object of tag obj_tag) in version v and compares its Key Material with want. */
static void
expect_material(struct kmip_client *cl, int v, const char *uid, uint32_t obj_tag, const uint8_t *want, size_t len)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, v);
	h_expect_ok(resp, 0);
	m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), obj_tag), KMIP_TAG_KEY_BLOCK),
	    KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	assert_int_equal(m->type, TTLV_BYTE_STRING);
	assert_int_equal(m->length, len);
	assert_memory_equal(m->v.bytes.data, want, len);
	ttlv_arena_free(a);
}

/* True when uid has a Link of link_type to other (Get Attributes in version v). */
static bool
has_link(struct kmip_client *cl, int v, const char *uid, uint32_t link_type, const char *other)
{
	const struct ttlv *c, *lt, *id, *link, *p;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	bool found = false;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, v);
	h_expect_ok(resp, 0);
	p = h_payload(resp, 0);
	if (v >= 20)
		p = ttlv_find(p, KMIP_TAG_ATTRIBUTES);
	for (c = p != NULL ? p->v.s.first : NULL; c != NULL; c = c->next) {
		if (v >= 20)
			link = c->tag == KMIP_TAG_LINK ? c : NULL;
		else {
			const struct ttlv *n = ttlv_find(c, KMIP_TAG_ATTRIBUTE_NAME);

			link = c->tag == KMIP_TAG_ATTRIBUTE && n != NULL &&
			    strcmp((const char *)n->v.bytes.data, "Link") == 0 ? ttlv_find(c, KMIP_TAG_ATTRIBUTE_VALUE) : NULL;
		}
		if (link == NULL)
			continue;
		lt = ttlv_find(link, KMIP_TAG_LINK_TYPE);
		id = ttlv_find(link, KMIP_TAG_LINKED_OBJECT_IDENTIFIER);
		if (lt != NULL && id != NULL && lt->v.u32 == link_type && strcmp((const char *)id->v.bytes.data, other) == 0)
			found = true;
	}
	ttlv_arena_free(a);
	return found;
}

/* HMAC-SHA256 of a || b || c under key, written out so that the test does not trust the server's composition. */
static void
hmac_sha256(const uint8_t *key, size_t kl, const uint8_t *a, size_t al, const uint8_t *b, size_t bl,
    const uint8_t *c, size_t cl, uint8_t out[32])
{
	uint8_t buf[2048];
	unsigned len = 32;

	assert_true(al + bl + cl <= sizeof(buf));
	if (al > 0)
		memcpy(buf, a, al);
	if (bl > 0)
		memcpy(buf + al, b, bl);
	if (cl > 0)
		memcpy(buf + al + bl, c, cl);
	assert_non_null(HMAC(EVP_sha256(), key, (int)kl, buf, al + bl + cl, out, &len));
}

/* SP 800-108 with HMAC-SHA256 and a 32-bit counter before the fixed input: counter, feedback, double pipeline. */
enum kdf_mode { KDF_COUNTER, KDF_FEEDBACK, KDF_DPI };

static void
sp800_108(enum kdf_mode mode, const uint8_t *key, size_t kl, const uint8_t *fixed, size_t fl, const uint8_t *iv,
    size_t ivl, uint8_t *out, size_t outlen)
{
	uint8_t k[32], a[32], prev[64], ctr[4];
	size_t prevlen = ivl, done = 0, n;
	uint32_t i;

	if (ivl > 0)
		memcpy(prev, iv, ivl);
	for (i = 1; done < outlen; i++) {
		ctr[0] = (uint8_t)(i >> 24), ctr[1] = (uint8_t)(i >> 16), ctr[2] = (uint8_t)(i >> 8), ctr[3] = (uint8_t)i;
		if (mode == KDF_COUNTER) {
			hmac_sha256(key, kl, ctr, 4, fixed, fl, NULL, 0, k);
		} else if (mode == KDF_FEEDBACK) {
			hmac_sha256(key, kl, prev, prevlen, ctr, 4, fixed, fl, k);
			memcpy(prev, k, 32);
			prevlen = 32;
		} else {
			hmac_sha256(key, kl, i == 1 ? fixed : a, i == 1 ? fl : 32, NULL, 0, NULL, 0, a);
			hmac_sha256(key, kl, a, 32, ctr, 4, fixed, fl, k);
		}
		n = outlen - done < 32 ? outlen - done : 32;
		memcpy(out + done, k, n);
		done += n;
	}
}

static const uint8_t key32[32] = {
	0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
	0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};
static const uint8_t data32[32] = "kmipd derive key test: 32 bytes";
static const uint8_t iv16[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t salt16[16] = "NaCl and pepper";

/*
 * Every method from a Symmetric Key in version v, each result compared with what it must be, and the links
 * both ways on each.
 */
static void
methods_in(struct fx *f, int v)
{
	uint8_t want[64];
	char src[64], uid[64];
	struct dreq d;
	size_t i;
	int outl = 0, fl = 0;
	EVP_CIPHER_CTX *c;
	EVP_MD_CTX *mc;
	unsigned ml = 32;

	register_source(f->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT, false, src);
	for (i = 0; i < 7; i++) {
		memset(&d, 0, sizeof(d));
		d.uids[0] = src;
		d.bits = 256;
		/* An HMAC key takes any length: the SP 800-108 cases make 512 bits, over one PRF block. */
		d.alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA512;
		d.hash = KMIP_HASHING_ALGORITHM_SHA_256;
		d.data = data32;
		d.data_len = 32;
		switch (i) {
		case 0:
			d.method = KMIP_DERIVATION_METHOD_HASH;
			mc = EVP_MD_CTX_new();
			assert_true(EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(mc, key32, 32) == 1 &&
			    EVP_DigestUpdate(mc, data32, 32) == 1 && EVP_DigestFinal_ex(mc, want, &ml) == 1);
			EVP_MD_CTX_free(mc);
			break;
		case 1:
			d.method = KMIP_DERIVATION_METHOD_HMAC;
			hmac_sha256(key32, 32, data32, 32, NULL, 0, NULL, 0, want);
			break;
		case 2:
			d.method = KMIP_DERIVATION_METHOD_ENCRYPT;
			d.hash = 0;
			d.mode = KMIP_BLOCK_CIPHER_MODE_CBC;
			d.iv = iv16;
			d.iv_len = 16;
			c = EVP_CIPHER_CTX_new();
			assert_true(EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, key32, iv16) == 1 &&
			    EVP_CIPHER_CTX_set_padding(c, 0) == 1 && EVP_EncryptUpdate(c, want, &outl, data32, 32) == 1 &&
			    EVP_EncryptFinal_ex(c, want + outl, &fl) == 1);
			EVP_CIPHER_CTX_free(c);
			break;
		case 3:
			d.method = KMIP_DERIVATION_METHOD_NIST800_108_C;
			d.bits = 512;
			sp800_108(KDF_COUNTER, key32, 32, data32, 32, NULL, 0, want, 64);
			break;
		case 4:
			d.method = KMIP_DERIVATION_METHOD_NIST800_108_F;
			d.bits = 512;
			d.iv = key32;	/* K(0): one HMAC-SHA256 output */
			d.iv_len = 32;
			sp800_108(KDF_FEEDBACK, key32, 32, data32, 32, key32, 32, want, 64);
			break;
		case 5:
			d.method = KMIP_DERIVATION_METHOD_NIST800_108_DPI;
			d.bits = 512;
			sp800_108(KDF_DPI, key32, 32, data32, 32, NULL, 0, want, 64);
			break;
		default:
			d.method = KMIP_DERIVATION_METHOD_PBKDF2;
			d.data = NULL;
			d.salt = salt16;
			d.salt_len = 16;
			d.iterations = 1000;
			d.hash = KMIP_HASHING_ALGORITHM_SHA_512;
			assert_int_equal(PKCS5_PBKDF2_HMAC((const char *)key32, 32, salt16, 16, 1000, EVP_sha512(), 32,
			    want), 1);
			break;
		}
		derive_ok(f->cl, v, &d, uid);
		expect_material(f->cl, v, uid, KMIP_TAG_SYMMETRIC_KEY, want, (size_t)d.bits / 8);
		assert_true(has_link(f->cl, v, uid, KMIP_LINK_TYPE_DERIVATION_BASE_OBJECT_LINK, src));
		assert_true(has_link(f->cl, v, src, KMIP_LINK_TYPE_DERIVED_KEY_LINK, uid));
	}
}

static void
test_methods_14(void **state)
{
	methods_in(*state, 14);
}

static void
test_methods_21(void **state)
{
	methods_in(*state, 21);
}

/*
 * Secret Data in and out: a password (Secret Data) through PBKDF2 into Secret Data, and a key with a
 * second object, a Secret Data, as the Derivation Data of an HMAC.
 */
static void
secret_data_in(struct fx *f, int v)
{
	static const uint8_t pw[] = "correct horse battery staple";
	static const uint8_t label[] = "context from a Secret Data";
	uint8_t want[32];
	char pwid[64], key[64], lab[64], uid[64];
	struct dreq d;

	register_source(f->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, pw, sizeof(pw) - 1,
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY, false, pwid);
	memset(&d, 0, sizeof(d));
	d.object_type = KMIP_OBJECT_TYPE_SECRET_DATA;
	d.uids[0] = pwid;
	d.method = KMIP_DERIVATION_METHOD_PBKDF2;
	d.salt = salt16;
	d.salt_len = 16;
	d.iterations = 2000;
	d.bits = 256;
	/* No Hashing Algorithm: SHA-256. */
	assert_int_equal(PKCS5_PBKDF2_HMAC((const char *)pw, (int)sizeof(pw) - 1, salt16, 16, 2000, EVP_sha256(), 32,
	    want), 1);
	derive_ok(f->cl, v, &d, uid);
	expect_material(f->cl, v, uid, KMIP_TAG_SECRET_DATA, want, 32);
	assert_true(has_link(f->cl, v, uid, KMIP_LINK_TYPE_DERIVATION_BASE_OBJECT_LINK, pwid));
	assert_true(has_link(f->cl, v, pwid, KMIP_LINK_TYPE_DERIVED_KEY_LINK, uid));

	register_source(f->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, key);
	register_source(f->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, label, sizeof(label) - 1,
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY, false, lab);
	memset(&d, 0, sizeof(d));
	d.uids[0] = key;
	d.uids[1] = lab;
	d.method = KMIP_DERIVATION_METHOD_HMAC;
	d.hash = KMIP_HASHING_ALGORITHM_SHA_256;
	d.bits = 128;
	hmac_sha256(key32, 32, label, sizeof(label) - 1, NULL, 0, NULL, 0, want);
	derive_ok(f->cl, v, &d, uid);
	expect_material(f->cl, v, uid, KMIP_TAG_SYMMETRIC_KEY, want, 16);
	assert_true(has_link(f->cl, v, uid, KMIP_LINK_TYPE_DERIVATION_BASE_OBJECT_LINK, key));
	assert_true(has_link(f->cl, v, uid, KMIP_LINK_TYPE_DERIVATION_BASE_OBJECT_LINK, lab));
	assert_true(has_link(f->cl, v, lab, KMIP_LINK_TYPE_DERIVED_KEY_LINK, uid));
}

static void
test_secret_data_14(void **state)
{
	secret_data_in(*state, 14);
}

static void
test_secret_data_21(void **state)
{
	secret_data_in(*state, 21);
}

/* Every refusal, in version v: the sources' masks, states and owners, then each bound a client chooses. */
static void
errors_in(struct fx *f, int v)
{
	static uint8_t big[MAX_DATA + 1];
	char good[64], nomask[64], pre[64], theirs[64], bigdata[64];
	struct dreq d, base;

	register_source(f->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, good);
	register_source(f->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT,
	    false, nomask);
	register_source(f->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    true, pre);
	register_source(f->cl2, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, theirs);
	memset(&base, 0, sizeof(base));
	base.uids[0] = good;
	base.method = KMIP_DERIVATION_METHOD_HMAC;
	base.hash = KMIP_HASHING_ALGORITHM_SHA_256;
	base.data = data32;
	base.data_len = 32;
	base.bits = 128;

	d = base, d.uids[0] = nomask;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, "Derive Key");
	d = base, d.uids[0] = pre;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, "Active");
	d = base, d.uids[0] = theirs;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_OBJECT_NOT_FOUND, NULL);
	d = base, d.uids[0] = "no-such-object";
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_OBJECT_NOT_FOUND, NULL);
	/* A second source without the Derive Key bit refuses the whole derivation. */
	d = base, d.uids[1] = nomask;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, nomask);
	/* The bounds a client chooses. */
	d = base, d.data = big, d.data_len = sizeof(big);
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "server.max_derive_data");
	d = base, d.bits = MAX_LENGTH + 8, d.method = KMIP_DERIVATION_METHOD_NIST800_108_C;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "server.max_derive_length");
	d = base, d.method = KMIP_DERIVATION_METHOD_PBKDF2, d.salt = salt16, d.salt_len = 16,
	    d.iterations = MAX_ITERATIONS + 1;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "server.max_derive_iterations");
	d = base, d.method = KMIP_DERIVATION_METHOD_PBKDF2, d.iterations = 10;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Salt");
	d = base, d.bits = 0;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Cryptographic Length");
	d = base, d.bits = 100;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "multiple of 8");
	d = base, d.no_alg = true;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Cryptographic Algorithm");
	/* An HMAC gives one digest: 512 bits of SHA-256 cannot be made. */
	d = base, d.bits = 512, d.alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA512;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "longer");
	d = base, d.object_type = KMIP_OBJECT_TYPE_PRIVATE_KEY;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Object Type");
	d = base, d.method = KMIP_DERIVATION_METHOD_ASYMMETRIC_KEY;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "not supported");
	d = base, d.hash = 0x7777;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Hashing Algorithm");
	d = base, d.method = KMIP_DERIVATION_METHOD_ENCRYPT, d.mode = KMIP_BLOCK_CIPHER_MODE_CBC;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "Initialization Vector");
	d = base, d.uids[1] = good;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "named twice");
	d = base, d.method = KMIP_DERIVATION_METHOD_NIST800_108_C, d.bits = 512;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_INVALID_FIELD, "AES keys are 128, 192 or 256 bits");
	/* A Secret Data used as the Derivation Data is bounded as the request's own. */
	register_source(f->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, big, sizeof(big), KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, bigdata);
	d = base, d.data = NULL, d.data_len = 0, d.uids[1] = bigdata;
	derive_fails(f->cl, v, &d, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "server.max_derive_data");
	/* The source was not changed by any of these: no Derived Key Link. */
	assert_false(has_link(f->cl, v, nomask, KMIP_LINK_TYPE_DERIVED_KEY_LINK, good));
}

static void
test_errors_14(void **state)
{
	errors_in(*state, 14);
}

static void
test_errors_21(void **state)
{
	errors_in(*state, 21);
}

/*
 * Derive Key in a batch after the Register that made its source, which it names through the ID Placeholder:
 * HMAC works; PBKDF2, whose worker job is queued before the batch runs, is refused saying why.
 */
static void
placeholder_in(struct fx *f, uint32_t method)
{
	static const uint8_t pw[] = "batch secret";
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, 2, 1, 3);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(&e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, pw, sizeof(pw) - 1);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_item_begin(&e, KMIP_OPERATION_ACTIVATE);
	h_item_end(&e);
	h_item_begin(&e, KMIP_OPERATION_DERIVE_KEY);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_enum(&e, KMIP_TAG_DERIVATION_METHOD, method);
	ttlv_enc_begin(&e, KMIP_TAG_DERIVATION_PARAMETERS);
	ttlv_enc_begin(&e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	ttlv_enc_enum(&e, KMIP_TAG_HASHING_ALGORITHM, KMIP_HASHING_ALGORITHM_SHA_256);
	ttlv_enc_end(&e);
	ttlv_enc_bytes(&e, KMIP_TAG_DERIVATION_DATA, data32, 32);
	ttlv_enc_bytes(&e, KMIP_TAG_SALT, salt16, 16);
	ttlv_enc_int(&e, KMIP_TAG_ITERATION_COUNT, 1000);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(f->cl, &e, &a, 21);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(h_item_status(resp, 1), KMIP_RESULT_STATUS_SUCCESS);
	if (method == KMIP_DERIVATION_METHOD_PBKDF2) {
		const struct ttlv *item = h_batch_item(resp, 2);

		assert_int_equal(h_item_status(resp, 2), KMIP_RESULT_STATUS_OPERATION_FAILED);
		assert_int_equal(ttlv_find(item, KMIP_TAG_RESULT_REASON)->v.u32, KMIP_RESULT_REASON_INVALID_FIELD);
		assert_non_null(strstr((const char *)ttlv_find(item, KMIP_TAG_RESULT_MESSAGE)->v.bytes.data,
		    "ID Placeholder"));
	} else {
		assert_int_equal(h_item_status(resp, 2), KMIP_RESULT_STATUS_SUCCESS);
		assert_non_null(ttlv_find(h_payload(resp, 2), KMIP_TAG_UNIQUE_IDENTIFIER));
	}
	ttlv_arena_free(a);
}

static void
test_id_placeholder(void **state)
{
	placeholder_in(*state, KMIP_DERIVATION_METHOD_HMAC);
	placeholder_in(*state, KMIP_DERIVATION_METHOD_PBKDF2);
}

/* Milliseconds of the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The PBKDF2-SHA512 Iteration Count that takes this process about ms milliseconds, measured here: the
 * server's workers run the same OpenSSL, built the same way (a sanitizer build makes it ten times slower,
 * a loaded machine several), so the derivation is long enough to be seen running and short enough for the
 * client's 10 s.
 */
static int32_t
long_iterations(int ms)
{
	uint8_t out[32];
	int64_t t0 = now_ms(), dt;
	double n;

	assert_int_equal(PKCS5_PBKDF2_HMAC("k", 1, salt16, 16, 20000, EVP_sha512(), 32, out), 1);
	dt = now_ms() - t0;
	n = 20000.0 * ms / (double)(dt > 0 ? dt : 1);
	return n < 20000 ? 20000 : n > MAX_ITERATIONS ? MAX_ITERATIONS : (int32_t)n;
}

/*
 * A long PBKDF2 runs on a worker: while it runs, another client is answered within a second and in less than
 * half the derivation's time, and the derivation is answered with the right bytes.
 */
static void
test_pbkdf2_on_worker(void **state)
{
	struct fx *f = *state;
	struct ttlv_arena *a, *a2;
	struct ttlv_enc e, e2;
	struct ttlv *resp, *resp2;
	char *cause = NULL;
	uint8_t want[32];
	char src[64], uid[64], other[64];
	struct dreq d;
	int64_t t0, t_other, t_derive;

	register_source(f->cl, 21, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, src);
	register_source(f->cl2, 21, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT,
	    false, other);
	memset(&d, 0, sizeof(d));
	d.uids[0] = src;
	d.method = KMIP_DERIVATION_METHOD_PBKDF2;
	d.hash = KMIP_HASHING_ALGORITHM_SHA_512;
	d.salt = salt16;
	d.salt_len = 16;
	d.iterations = long_iterations(LONG_MS);
	d.bits = 256;
	enc_derive(&e, 21, &d);
	t0 = now_ms();
	assert_int_equal(kmip_client_write(f->cl, e.buf, e.len, &cause), 0);
	ttlv_enc_free(&e);
	h_sleep_ms(50);
	/* The other client's Get, while the derivation runs. */
	h_request_begin(&e2, 2, 1, 1);
	h_item_begin(&e2, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e2, KMIP_TAG_UNIQUE_IDENTIFIER, other);
	h_item_end(&e2);
	h_request_end(&e2);
	resp2 = call(f->cl2, &e2, &a2, 21);
	t_other = now_ms() - t0;
	h_expect_ok(resp2, 0);
	ttlv_arena_free(a2);
	if (kmip_client_read(f->cl, &resp, &a, &cause) != 0)
		fail_msg("no answer to the derivation: %s", cause);
	t_derive = now_ms() - t0;
	print_message("PBKDF2-SHA512 of %d iterations answered in %lld ms; the other client in %lld ms\n",
	    d.iterations, (long long)t_derive, (long long)t_other);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_arena_free(a);
	/* Had it run in the loop, the other client would have waited for all of it. */
	assert_true(t_other < 1000);
	assert_true(t_other * 2 < t_derive);
	assert_int_equal(PKCS5_PBKDF2_HMAC((const char *)key32, 32, salt16, 16, d.iterations, EVP_sha512(), 32,
	    want), 1);
	expect_material(f->cl, 21, uid, KMIP_TAG_SYMMETRIC_KEY, want, 32);
}

/*
 * PBKDF2 jobs count against keygen.max_per_identity like key generations (here 1, with two workers): while
 * one identity's long derivation runs, its second one is refused at once naming the key, and another
 * identity's derivation runs on the other worker and is answered within a second.
 */
static void
test_pbkdf2_per_identity(void **state)
{
	struct h_server srv;
	struct kmip_client *a, *b, *c;
	struct ttlv_arena *ar;
	struct ttlv_enc e;
	struct ttlv *resp;
	char *cause = NULL, src[64], src2[64], uid[64];
	struct dreq d;
	int64_t t0;

	(void)state;
	h_start(&srv, (const char *const[]){ "keygen.pool_size=0", "keygen.workers=2", "keygen.max_per_identity=1",
	    "server.max_derive_iterations=3000000", NULL });
	a = h_connect(&srv, ((struct fx *)*state)->ctx);
	b = h_connect(&srv, ((struct fx *)*state)->ctx);
	c = h_connect(&srv, ((struct fx *)*state)->ctx2);
	register_source(a, 21, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, src);
	register_source(c, 21, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, src2);
	memset(&d, 0, sizeof(d));
	d.uids[0] = src;
	d.method = KMIP_DERIVATION_METHOD_PBKDF2;
	d.hash = KMIP_HASHING_ALGORITHM_SHA_512;
	d.salt = salt16;
	d.salt_len = 16;
	d.iterations = long_iterations(LONG_MS);
	d.bits = 256;
	enc_derive(&e, 21, &d);
	t0 = now_ms();
	assert_int_equal(kmip_client_write(a, e.buf, e.len, &cause), 0);
	ttlv_enc_free(&e);
	h_sleep_ms(100);
	d.iterations = 1000;
	resp = derive(b, 21, &d, &ar);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "keygen.max_per_identity");
	ttlv_arena_free(ar);
	assert_true(now_ms() - t0 < 1000);
	d.uids[0] = src2;
	derive_ok(c, 21, &d, uid);
	assert_true(now_ms() - t0 < 1000);
	if (kmip_client_read(a, &resp, &ar, &cause) != 0)
		fail_msg("no answer to the long derivation: %s", cause);
	h_expect_ok(resp, 0);
	ttlv_arena_free(ar);
	kmip_client_close(a);
	kmip_client_close(b);
	kmip_client_close(c);
	h_cleanup(&srv);
}

/*
 * The cheap methods run in the loop: 200 double-pipeline derivations of the most data and length allowed
 * here (1 KiB, 2048 bits: 8 blocks) each; prints the time per derivation, and asserts only a generous
 * ceiling.
 */
static void
test_cheap_in_loop(void **state)
{
	struct fx *f = *state;
	static uint8_t data[MAX_DATA];
	struct ttlv_arena *a;
	struct ttlv *resp;
	char src[64];
	struct dreq d;
	int64_t t0, dt;
	int i;

	register_source(f->cl, 21, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, key32, 32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY,
	    false, src);
	memset(&d, 0, sizeof(d));
	d.uids[0] = src;
	d.method = KMIP_DERIVATION_METHOD_NIST800_108_DPI;
	d.data = data;
	d.data_len = sizeof(data);
	d.bits = MAX_LENGTH;
	d.alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256;
	t0 = now_ms();
	for (i = 0; i < 200; i++) {
		resp = derive(f->cl, 21, &d, &a);
		h_expect_ok(resp, 0);
		ttlv_arena_free(a);
	}
	dt = now_ms() - t0;
	print_message("200 derivations (double pipeline, 1 KiB data, 2048 bits) in %lld ms, round trips and "
	    "commits included\n", (long long)dt);
	assert_true(dt < 20000);
}

/* ---- DSA ---- */

/* The 512-bit DSA key of the OASIS test cases BL-M-12 and BL-M-13 (p, q, g, x, y). */
static const char *const oasis_dsa[5] = {
	"fca682ce8e12caba26efccf7110e526db078b05edecbcd1eb4a208f3ae1617ae01f35b91a47e6df63413c5e12ed0899bcd132acd50d99151bdc43ee737592e17",
	"962eddcc369cba8ebb260ee6b6a126d9346e38c5",
	"678471b27a9cf44ee91a49c5147db1a9aaf244f05a434d6486931d2d14271b9e35030b71fd73da179069b32e2935630e1c2062354d0da20a6c416e50be794ca4",
	"095411d740d2443fa3f97d1ed9a0411bb45e7131",
	"b3cb74d988dea7160a64a4edbb7f70404fa4c08a4208c19d76357a6a9df200cce79faecb22e3419be9b01128cbd998a2d9307101705e4a952462f34728ac5fcf",
};

/* Writes hex as a positive Big Integer under tag. */
static void
enc_hex_bigint(struct ttlv_enc *e, uint32_t tag, const char *hex)
{
	uint8_t buf[1024];
	BIGNUM *bn = NULL;
	int n;

	assert_true(BN_hex2bn(&bn, hex) > 0);
	n = BN_num_bytes(bn);
	buf[0] = 0;
	assert_int_equal(BN_bn2binpad(bn, buf + 1, n), n);
	ttlv_enc_bigint(e, tag, buf, (size_t)n + 1);
	BN_free(bn);
}

/*
 * Registers a Transparent DSA key (private: p q g x; public: p q g y) with the given hex parts (NULL: the
 * OASIS key's) in version v; returns the response, the caller frees *a.
 */
static struct ttlv *
register_dsa(struct kmip_client *cl, int v, bool private, const char *const parts[5], struct ttlv_arena **a)
{
	struct ttlv_enc e;

	if (parts == NULL)
		parts = oasis_dsa;
	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, private ? KMIP_OBJECT_TYPE_PRIVATE_KEY : KMIP_OBJECT_TYPE_PUBLIC_KEY);
	attrs_begin(&e, v);
	attr_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask", private ?
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN : KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, private ? KMIP_TAG_PRIVATE_KEY : KMIP_TAG_PUBLIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, private ? KMIP_KEY_FORMAT_TYPE_TRANSPARENT_DSA_PRIVATE_KEY :
	    KMIP_KEY_FORMAT_TYPE_TRANSPARENT_DSA_PUBLIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_MATERIAL);
	enc_hex_bigint(&e, KMIP_TAG_P, parts[0]);
	enc_hex_bigint(&e, KMIP_TAG_Q, parts[1]);
	enc_hex_bigint(&e, KMIP_TAG_G, parts[2]);
	enc_hex_bigint(&e, private ? KMIP_TAG_X : KMIP_TAG_Y, parts[private ? 3 : 4]);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	ttlv_enc_enum(&e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 512);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	return call(cl, &e, a, v);
}

/* Signs (or verifies sig) data with uid using DSA with SHA-256; returns the response, the caller frees *a. */
static struct ttlv *
sign_req(struct kmip_client *cl, int v, const char *uid, const uint8_t *data, size_t len, const struct ttlv *sig,
    struct ttlv_arena **a)
{
	struct ttlv_enc e;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, sig != NULL ? KMIP_OPERATION_SIGNATURE_VERIFY : KMIP_OPERATION_SIGN);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	ttlv_enc_enum(&e, KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM, KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA256);
	ttlv_enc_end(&e);
	ttlv_enc_bytes(&e, KMIP_TAG_DATA, data, len);
	if (sig != NULL)
		ttlv_enc_bytes(&e, KMIP_TAG_SIGNATURE_DATA, sig->v.bytes.data, sig->length);
	h_item_end(&e);
	h_request_end(&e);
	return call(cl, &e, a, v);
}

/* Gets uid in format (0: the default) in version v; returns the response, the caller frees *a. */
static struct ttlv *
get_fmt(struct kmip_client *cl, int v, const char *uid, uint32_t format, struct ttlv_arena **a)
{
	struct ttlv_enc e;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, format);
	h_item_end(&e);
	h_request_end(&e);
	return call(cl, &e, a, v);
}

/* The Key Block of the Get response's object under tag. */
static const struct ttlv *
block_of(const struct ttlv *resp, uint32_t tag)
{
	const struct ttlv *b = ttlv_find(ttlv_find(h_payload(resp, 0), tag), KMIP_TAG_KEY_BLOCK);

	assert_non_null(b);
	return b;
}

/*
 * Create Key Pair DSA-2048 in version v (made on a worker: another client is answered within a second
 * meanwhile), then Sign and Signature Verify through kmipd, the signature checked by OpenSSL against the
 * public key Get gives as X.509, and the private key given back as Transparent DSA.
 */
static void
dsa_pair_in(struct fx *f, int v)
{
	static const uint8_t msg[] = "signed by a DSA key kmipd made";
	const struct ttlv *sig, *km, *fmt, *vi;
	struct ttlv_arena *a, *a2, *a3;
	struct ttlv_enc e;
	struct ttlv *resp, *resp2, *resp3;
	char priv[64], pub[64], *cause = NULL;
	const unsigned char *p;
	EVP_PKEY *pk;
	EVP_MD_CTX *mc;
	int64_t t0, t_other;

	h_request_begin(&e, v / 10, v % 10, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&e, v >= 20 ? KMIP_TAG_COMMON_ATTRIBUTES : KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	attr_enum(&e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA);
	attr_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", 2048);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	t0 = now_ms();
	assert_int_equal(kmip_client_write(f->cl, e.buf, e.len, &cause), 0);
	ttlv_enc_free(&e);
	h_discover_ok(f->cl2);
	t_other = now_ms() - t0;
	assert_true(t_other < 1000);
	assert_int_equal(kmip_client_read(f->cl, &resp, &a, &cause), 0);
	print_message("DSA-2048 key pair in %lld ms; the other client answered in %lld ms\n",
	    (long long)(now_ms() - t0), (long long)t_other);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv);
	take_uid(resp, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub);
	ttlv_arena_free(a);
	uid_ok(f->cl, v, KMIP_OPERATION_ACTIVATE, priv);
	uid_ok(f->cl, v, KMIP_OPERATION_ACTIVATE, pub);

	resp = sign_req(f->cl, v, priv, msg, sizeof(msg), NULL, &a);
	h_expect_ok(resp, 0);
	sig = ttlv_find(h_payload(resp, 0), KMIP_TAG_SIGNATURE_DATA);
	assert_non_null(sig);
	resp2 = sign_req(f->cl, v, pub, msg, sizeof(msg), sig, &a2);
	h_expect_ok(resp2, 0);
	vi = ttlv_find(h_payload(resp2, 0), KMIP_TAG_VALIDITY_INDICATOR);
	assert_non_null(vi);
	assert_int_equal(vi->v.u32, KMIP_VALIDITY_INDICATOR_VALID);
	ttlv_arena_free(a2);
	/* OpenSSL agrees, with the public key as X.509. */
	resp3 = get_fmt(f->cl, v, pub, KMIP_KEY_FORMAT_TYPE_X_509, &a3);
	h_expect_ok(resp3, 0);
	km = ttlv_find(ttlv_find(block_of(resp3, KMIP_TAG_PUBLIC_KEY), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(km);
	p = km->v.bytes.data;
	assert_non_null(pk = d2i_PUBKEY(NULL, &p, km->length));
	assert_true(EVP_PKEY_is_a(pk, "DSA"));
	assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
	mc = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(mc, sig->v.bytes.data, sig->length, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	ttlv_arena_free(a3);
	ttlv_arena_free(a);
	/* The private key by default (1.x, and 2.x for a key kmipd made): Transparent DSA, P Q G X. */
	resp = get_fmt(f->cl, v, priv, 0, &a);
	h_expect_ok(resp, 0);
	fmt = ttlv_find(block_of(resp, KMIP_TAG_PRIVATE_KEY), KMIP_TAG_KEY_FORMAT_TYPE);
	assert_int_equal(fmt->v.u32, KMIP_KEY_FORMAT_TYPE_TRANSPARENT_DSA_PRIVATE_KEY);
	ttlv_arena_free(a);
	resp = get_fmt(f->cl, v, priv, KMIP_KEY_FORMAT_TYPE_TRANSPARENT_DSA_PRIVATE_KEY, &a);
	h_expect_ok(resp, 0);
	km = ttlv_find(ttlv_find(block_of(resp, KMIP_TAG_PRIVATE_KEY), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(ttlv_find(km, KMIP_TAG_P));
	assert_non_null(ttlv_find(km, KMIP_TAG_Q));
	assert_non_null(ttlv_find(km, KMIP_TAG_G));
	assert_non_null(ttlv_find(km, KMIP_TAG_X));
	assert_null(ttlv_find(km, KMIP_TAG_Y));
	ttlv_arena_free(a);
	/* A DSA key does not encrypt. */
	resp = get_fmt(f->cl, v, priv, KMIP_KEY_FORMAT_TYPE_PKCS_1, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED, NULL);
	ttlv_arena_free(a);
}

static void
test_dsa_pair_14(void **state)
{
	dsa_pair_in(*state, 14);
}

static void
test_dsa_pair_21(void **state)
{
	dsa_pair_in(*state, 21);
}

/*
 * Registered DSA keys: the OASIS 512-bit key signs and verifies; its parts come back as sent; each
 * malformed key is refused with Invalid Field before any arithmetic a client could make costly.
 */
static void
dsa_register_in(struct fx *f, int v)
{
	static const uint8_t msg[] = "abc";
	char priv[64], pub[64];
	char bigp[3 * 1024 / 4 + 2], badq[41];
	const char *parts[5];
	const struct ttlv *sig, *km, *vi;
	struct ttlv_arena *a, *a2;
	struct ttlv *resp, *resp2;
	size_t i;

	resp = register_dsa(f->cl, v, true, NULL, &a);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, priv);
	ttlv_arena_free(a);
	resp = register_dsa(f->cl, v, false, NULL, &a);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, pub);
	ttlv_arena_free(a);
	uid_ok(f->cl, v, KMIP_OPERATION_ACTIVATE, priv);
	uid_ok(f->cl, v, KMIP_OPERATION_ACTIVATE, pub);
	resp = sign_req(f->cl, v, priv, msg, sizeof(msg), NULL, &a);
	h_expect_ok(resp, 0);
	sig = ttlv_find(h_payload(resp, 0), KMIP_TAG_SIGNATURE_DATA);
	resp2 = sign_req(f->cl, v, pub, msg, sizeof(msg), sig, &a2);
	h_expect_ok(resp2, 0);
	vi = ttlv_find(h_payload(resp2, 0), KMIP_TAG_VALIDITY_INDICATOR);
	assert_int_equal(vi->v.u32, KMIP_VALIDITY_INDICATOR_VALID);
	ttlv_arena_free(a2);
	ttlv_arena_free(a);
	/* The public key, by default Transparent DSA Public Key, with the Y sent. */
	resp = get_fmt(f->cl, v, pub, 0, &a);
	h_expect_ok(resp, 0);
	km = ttlv_find(ttlv_find(block_of(resp, KMIP_TAG_PUBLIC_KEY), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(ttlv_find(km, KMIP_TAG_Y));
	assert_int_equal(ttlv_find(block_of(resp, KMIP_TAG_PUBLIC_KEY), KMIP_TAG_KEY_FORMAT_TYPE)->v.u32,
	    KMIP_KEY_FORMAT_TYPE_TRANSPARENT_DSA_PUBLIC_KEY);
	ttlv_arena_free(a);

	/* p of 3076 bits: over the bound, refused on its length before it is even read as a number. */
	memset(bigp, 'f', sizeof(bigp) - 1);
	bigp[sizeof(bigp) - 1] = '\0';
	bigp[sizeof(bigp) - 2] = 'b';
	for (i = 0; i < 5; i++)
		parts[i] = oasis_dsa[i];
	parts[0] = bigp;
	resp = register_dsa(f->cl, v, true, parts, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "P is too large");
	ttlv_arena_free(a);
	/* q of 128 bits. */
	parts[0] = oasis_dsa[0];
	memset(badq, 'e', 32);
	badq[31] = 'f';
	badq[32] = '\0';
	parts[1] = badq;
	resp = register_dsa(f->cl, v, true, parts, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "subprime q");
	ttlv_arena_free(a);
	/* x not below q. */
	parts[1] = oasis_dsa[1];
	parts[3] = "962eddcc369cba8ebb260ee6b6a126d9346e38c6";
	resp = register_dsa(f->cl, v, true, parts, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "x");
	ttlv_arena_free(a);
	/* A y that is not of order q. */
	parts[3] = oasis_dsa[3];
	parts[4] = "1234";
	resp = register_dsa(f->cl, v, false, parts, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "inconsistent DSA key");
	ttlv_arena_free(a);
	/* A g that is not of order q. */
	parts[4] = oasis_dsa[4];
	parts[2] = "02";
	resp = register_dsa(f->cl, v, true, parts, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "g is not of order q");
	ttlv_arena_free(a);
}

static void
test_dsa_register_14(void **state)
{
	dsa_register_in(*state, 14);
}

static void
test_dsa_register_21(void **state)
{
	dsa_register_in(*state, 21);
}

/* A DSA key registered as PKCS#8 comes back byte for byte; Create Key Pair refuses sizes outside 1024..3072. */
static void
test_dsa_der_and_sizes(void **state)
{
	struct fx *f = *state;
	EVP_PKEY_CTX *pc;
	EVP_PKEY *params = NULL, *key = NULL;
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *der = NULL;
	const struct ttlv *km;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	char uid[64];
	int len;

	pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL);
	assert_true(EVP_PKEY_paramgen_init(pc) > 0 && EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, 1024) > 0 &&
	    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pc, 160) > 0 && EVP_PKEY_paramgen(pc, &params) > 0);
	EVP_PKEY_CTX_free(pc);
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
	assert_true(EVP_PKEY_keygen_init(pc) > 0 && EVP_PKEY_keygen(pc, &key) > 0);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(params);
	p8 = EVP_PKEY2PKCS8(key);
	assert_non_null(p8);
	assert_true((len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) > 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(key);

	h_request_begin(&e, 2, 1, 1);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PRIVATE_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_PRIVATE_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_PKCS_8);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, der, (size_t)len);
	ttlv_enc_end(&e);
	ttlv_enc_enum(&e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 1024);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(f->cl, &e, &a, 21);
	h_expect_ok(resp, 0);
	take_uid(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_arena_free(a);
	resp = get_fmt(f->cl, 21, uid, 0, &a);
	h_expect_ok(resp, 0);
	km = ttlv_find(ttlv_find(block_of(resp, KMIP_TAG_PRIVATE_KEY), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_int_equal(km->type, TTLV_BYTE_STRING);
	assert_int_equal(km->length, (unsigned)len);
	assert_memory_equal(km->v.bytes.data, der, (size_t)len);
	ttlv_arena_free(a);
	OPENSSL_free(der);

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&e, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA);
	h_attr_int(&e, "Cryptographic Length", 4096);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(f->cl, &e, &a, 14);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "DSA key pairs are 1024, 2048 or 3072 bits");
	ttlv_arena_free(a);
}

/* Appends a DER header (tag, definite length) at *off of buf. */
static void
der_put_header(uint8_t *buf, size_t *off, uint8_t tag, size_t len)
{
	buf[(*off)++] = tag;
	if (len < 0x80) {
		buf[(*off)++] = (uint8_t)len;
	} else if (len < 0x100) {
		buf[(*off)++] = 0x81;
		buf[(*off)++] = (uint8_t)len;
	} else {
		buf[(*off)++] = 0x82;
		buf[(*off)++] = (uint8_t)(len >> 8);
		buf[(*off)++] = (uint8_t)len;
	}
}

/* The length of a DER header for contents of len bytes. */
static size_t
der_hlen(size_t len)
{
	return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

/* Appends a positive INTEGER of n bytes (0x7f then 0x5a...: odd, top bit clear). */
static void
der_put_int(uint8_t *buf, size_t *off, size_t n)
{
	der_put_header(buf, off, 0x02, n);
	memset(buf + *off, 0x5a, n);
	buf[*off] = 0x7f;
	buf[*off + n - 1] |= 1;
	*off += n;
}

/*
 * A PKCS#8 "DSA" private key whose p, q, g and x are n bytes each (n = 15000: 120,000 bits): OpenSSL's
 * decoder computes g^x mod p while decoding, hours of one core at this size, so kmipd must refuse it from
 * the DER's sizes first. Refused within a second, and the server answers others meanwhile.
 */
static void
test_dsa_der_bounded(void **state)
{
	static const uint8_t oid_dsa[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };
	const size_t n = 15000, ilen = der_hlen(n) + n;
	struct fx *f = *state;
	size_t params = 3 * ilen, algid = sizeof(oid_dsa) + der_hlen(params) + params;
	size_t key = ilen, body = 3 + der_hlen(algid) + algid + der_hlen(key) + key, off = 0;
	uint8_t *der = malloc(der_hlen(body) + body);
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	int64_t t0;

	assert_non_null(der);
	der_put_header(der, &off, 0x30, body);
	der[off++] = 0x02, der[off++] = 0x01, der[off++] = 0x00;
	der_put_header(der, &off, 0x30, algid);
	memcpy(der + off, oid_dsa, sizeof(oid_dsa));
	off += sizeof(oid_dsa);
	der_put_header(der, &off, 0x30, params);
	der_put_int(der, &off, n);
	der_put_int(der, &off, n);
	der_put_int(der, &off, n);
	der_put_header(der, &off, 0x04, key);
	der_put_int(der, &off, n);
	assert_int_equal(off, der_hlen(body) + body);

	h_request_begin(&e, 2, 1, 1);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PRIVATE_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_PRIVATE_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_PKCS_8);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, der, off);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	free(der);
	t0 = now_ms();
	resp = call(f->cl, &e, &a, 21);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, "DSA parameters out of bounds");
	ttlv_arena_free(a);
	assert_true(now_ms() - t0 < 1000);
	h_discover_ok(f->cl2);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_methods_14),
		cmocka_unit_test(test_methods_21),
		cmocka_unit_test(test_secret_data_14),
		cmocka_unit_test(test_secret_data_21),
		cmocka_unit_test(test_errors_14),
		cmocka_unit_test(test_errors_21),
		cmocka_unit_test(test_id_placeholder),
		cmocka_unit_test(test_pbkdf2_on_worker),
		cmocka_unit_test(test_pbkdf2_per_identity),
		cmocka_unit_test(test_cheap_in_loop),
		cmocka_unit_test(test_dsa_register_14),
		cmocka_unit_test(test_dsa_register_21),
		cmocka_unit_test(test_dsa_der_and_sizes),
		cmocka_unit_test(test_dsa_der_bounded),
		cmocka_unit_test(test_dsa_pair_14),
		cmocka_unit_test(test_dsa_pair_21),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("derive", tests, group_setup, group_teardown);
}
