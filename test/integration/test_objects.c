/*
 * Objects Create makes and what Get gives of them, end to end against the real kmipd over mutual TLS, at
 * KMIP 1.4 and 2.1 (and 1.3 where a version changes the answer): a symmetric key of every algorithm whose
 * keys are random bytes, at each length the algorithm allows and refused at others; Secret Data; Register's
 * length check; Sensitive and Extractable on Get (Result Reasons Sensitive, Not Extractable) while the keys
 * still encrypt; the Key Value Location attribute. One server for the whole binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define V13	KMIP_VERSION(1, 3)
#define V14	KMIP_VERSION(1, 4)
#define V21	KMIP_VERSION(2, 1)
#define V2(v)	(KMIP_VERSION_MAJOR(v) >= 2)
#define ALG(name) KMIP_CRYPTOGRAPHIC_ALGORITHM_##name
#define ENC_DEC (KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT)

static const unsigned versions[] = { V14, V21 };
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

struct objs {
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
};

static int
group_setup(void **state)
{
	struct objs *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return -1;
	*state = o;
	h_start(&o->srv, (const char *const[]){ "keygen.pool_size=0", NULL });
	o->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	o->cl = h_connect(&o->srv, o->ctx);
	return 0;
}

static int
group_teardown(void **state)
{
	struct objs *o = *state;

	if (o == NULL)
		return 0;
	kmip_client_close(o->cl);
	SSL_CTX_free(o->ctx);
	h_cleanup(&o->srv);
	free(o);
	return 0;
}

/* Sends req (freed here) and returns the response, answered in version v. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, unsigned v)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), v);
	return resp;
}

/* Opens a 1.x Attribute named after tag. */
static void
attr_begin_v1(struct ttlv_enc *e, uint32_t tag)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(tag));
}

/* One Enumeration, Integer or Boolean attribute, as version v writes it. */
static void
attr_enum(struct ttlv_enc *e, unsigned v, uint32_t tag, uint32_t value)
{
	if (V2(v)) {
		ttlv_enc_enum(e, tag, value);
		return;
	}
	attr_begin_v1(e, tag);
	ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

static void
attr_int(struct ttlv_enc *e, unsigned v, uint32_t tag, int32_t value)
{
	if (V2(v)) {
		ttlv_enc_int(e, tag, value);
		return;
	}
	attr_begin_v1(e, tag);
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

static void
attr_bool(struct ttlv_enc *e, unsigned v, uint32_t tag, bool value)
{
	if (V2(v)) {
		ttlv_enc_bool(e, tag, value);
		return;
	}
	attr_begin_v1(e, tag);
	ttlv_enc_bool(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

/* A Key Value Location attribute; type 0 leaves its Key Value Location Type out. */
static void
attr_location(struct ttlv_enc *e, unsigned v, const char *where, uint32_t type)
{
	if (V2(v))
		ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE_LOCATION);
	else {
		attr_begin_v1(e, KMIP_TAG_KEY_VALUE_LOCATION);
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	}
	ttlv_enc_cstr(e, KMIP_TAG_KEY_VALUE_LOCATION_VALUE, where);
	if (type != 0)
		ttlv_enc_enum(e, KMIP_TAG_KEY_VALUE_LOCATION_TYPE, type);
	ttlv_enc_end(e);
	if (!V2(v))
		ttlv_enc_end(e);
}

/* What a Create asks for. */
struct cr {
	uint32_t type;		/* Object Type; 0: Symmetric Key */
	uint32_t alg;		/* Cryptographic Algorithm; 0: none */
	int32_t bits;		/* Cryptographic Length; 0: none */
	uint32_t mask;		/* Cryptographic Usage Mask; 0: none */
	int sensitive, extractable;	/* ON or OFF; 0: not given */
	uint32_t secret_type;	/* Secret Data Type in the payload; 0: none */
	const char *location;	/* Key Value Location Value; NULL: none */
	uint32_t location_type;
	bool quantum_safe;	/* ask for a Quantum Safe key (KMIP 2.1) */
};
#define ON 1
#define OFF 2
#define CR(...) (&(struct cr){ __VA_ARGS__ })

/* Sends a Create in version v; the caller frees *a. */
static struct ttlv *
create_req(struct kmip_client *cl, unsigned v, const struct cr *c, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, c->type != 0 ? c->type : KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	if (c->secret_type != 0)
		ttlv_enc_enum(&req, KMIP_TAG_SECRET_DATA_TYPE, c->secret_type);
	ttlv_enc_begin(&req, V2(v) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
	if (c->alg != 0)
		attr_enum(&req, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, c->alg);
	if (c->bits != 0)
		attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, c->bits);
	if (c->mask != 0)
		attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)c->mask);
	if (c->sensitive != 0)
		attr_bool(&req, v, KMIP_TAG_SENSITIVE, c->sensitive == ON);
	if (c->extractable != 0)
		attr_bool(&req, v, KMIP_TAG_EXTRACTABLE, c->extractable == ON);
	if (c->location != NULL)
		attr_location(&req, v, c->location, c->location_type);
	if (c->quantum_safe)
		attr_bool(&req, v, KMIP_TAG_QUANTUM_SAFE, true);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/* Creates what c asks for in version v and copies the identifier into uid (64 bytes). */
static void
create_ok(struct kmip_client *cl, unsigned v, const struct cr *c, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv *resp = create_req(cl, v, c, &a);
	const struct ttlv *t;

	h_expect_ok(resp, 0);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE);
	assert_non_null(t);
	assert_int_equal(t->v.u32, c->type != 0 ? c->type : KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
	ttlv_arena_free(a);
}

/* Creates what c asks for in version v, expecting failure with reason. */
static void
create_fail(struct kmip_client *cl, unsigned v, const struct cr *c, uint32_t reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp = create_req(cl, v, c, &a);

	h_expect_fail(resp, 0, reason, NULL);
	ttlv_arena_free(a);
}

/* One item naming uid in version v; wrap_by, when not NULL, adds a Key Wrapping Specification (Get). */
static struct ttlv *
uid_req(struct kmip_client *cl, unsigned v, uint32_t op, const char *uid, const char *wrap_by,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
	h_item_begin(&req, op);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (wrap_by != NULL) {
		ttlv_enc_begin(&req, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
		ttlv_enc_enum(&req, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAPPING_METHOD_ENCRYPT);
		ttlv_enc_begin(&req, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, wrap_by);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

static void
uid_ok(struct kmip_client *cl, unsigned v, uint32_t op, const char *uid)
{
	struct ttlv_arena *a;

	h_expect_ok(uid_req(cl, v, op, uid, NULL, &a), 0);
	ttlv_arena_free(a);
}

/* Get in version v: the bytes of the object's Key Material (asserted present), their length in *len. */
static const struct ttlv *
get_material(struct kmip_client *cl, unsigned v, const char *uid, uint32_t obj_tag, struct ttlv_arena **a)
{
	struct ttlv *resp = uid_req(cl, v, KMIP_OPERATION_GET, uid, NULL, a);
	const struct ttlv *obj, *m;

	h_expect_ok(resp, 0);
	obj = ttlv_find(h_payload(resp, 0), obj_tag);
	assert_non_null(obj);
	m = ttlv_find(ttlv_find(ttlv_find(obj, KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	assert_int_equal(m->type, TTLV_BYTE_STRING);
	return m;
}

/* Get Attributes of one attribute (tag) in version v: its first instance's value, or NULL. */
static const struct ttlv *
get_attr(struct kmip_client *cl, unsigned v, const char *uid, uint32_t tag, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;
	const struct ttlv *at;

	h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (V2(v))
		ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, tag);
	else
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(tag));
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, a, v);
	h_expect_ok(resp, 0);
	if (V2(v))
		return ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTES), tag);
	at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	return at != NULL ? ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE) : NULL;
}

/* A symmetric algorithm, lengths Create must make (0-terminated) with their key bytes, lengths it refuses. */
struct alg_case {
	uint32_t alg;
	int32_t ok[6];
	size_t bytes[6];	/* 0: ok[i] / 8 */
	int32_t bad[6];
	int32_t dflt;		/* length without one given (0: it must be given) */
};

/* Every random-bytes algorithm of the enumeration, from each one's definition. */
static const struct alg_case alg_cases[] = {
	{ ALG(AES), { 128, 192, 256 }, { 0 }, { 64, 129, 512 }, 0 },
	{ ALG(3DES), { 168, 192 }, { 24, 24 }, { 112, 128, 64 }, 168 },
	{ ALG(DES), { 56, 64 }, { 8, 8 }, { 48, 128 }, 64 },
	{ ALG(BLOWFISH), { 32, 40, 128, 448 }, { 0 }, { 24, 456, 33 }, 128 },
	{ ALG(CAMELLIA), { 128, 192, 256 }, { 0 }, { 64, 160 }, 0 },
	{ ALG(CAST5), { 40, 48, 128 }, { 0 }, { 32, 136 }, 128 },
	{ ALG(IDEA), { 128 }, { 0 }, { 64, 256 }, 128 },
	{ ALG(MARS), { 128, 160, 448 }, { 0 }, { 136, 480 }, 0 },
	{ ALG(RC2), { 8, 128, 1024 }, { 0 }, { 1032 }, 128 },
	{ ALG(RC4), { 40, 128, 2048 }, { 0 }, { 32, 2056 }, 128 },
	{ ALG(RC5), { 8, 128, 2040 }, { 0 }, { 2048 }, 128 },
	{ ALG(SKIPJACK), { 80 }, { 0 }, { 64, 128 }, 80 },
	{ ALG(TWOFISH), { 128, 192, 256 }, { 0 }, { 64, 512 }, 0 },
	{ ALG(ONE_TIME_PAD), { 8, 1024, 4096 }, { 0 }, { 4104, 12 }, 0 },
	{ ALG(CHACHA20), { 256 }, { 0 }, { 128 }, 256 },
	{ ALG(POLY1305), { 256 }, { 0 }, { 128 }, 256 },
	{ ALG(CHACHA20POLY1305), { 256 }, { 0 }, { 512 }, 256 },
	{ ALG(ARIA), { 128, 192, 256 }, { 0 }, { 64 }, 0 },
	{ ALG(SEED), { 128 }, { 0 }, { 256 }, 128 },
	{ ALG(SM4), { 128 }, { 0 }, { 256 }, 128 },
	{ ALG(HMAC_SHA1), { 8, 160, 4096 }, { 0 }, { 0 - 8, 4104, 12 }, 160 },
	{ ALG(HMAC_SHA224), { 224, 512 }, { 0 }, { 4104 }, 224 },
	{ ALG(HMAC_SHA256), { 256, 8 }, { 0 }, { 4104 }, 256 },
	{ ALG(HMAC_SHA384), { 384 }, { 0 }, { 4104 }, 384 },
	{ ALG(HMAC_SHA512), { 512 }, { 0 }, { 4104 }, 512 },
	{ ALG(HMAC_MD5), { 128 }, { 0 }, { 4104 }, 128 },
	{ ALG(HMAC_SHA3_224), { 224 }, { 0 }, { 4 }, 224 },
	{ ALG(HMAC_SHA3_256), { 256 }, { 0 }, { 4104 }, 256 },
	{ ALG(HMAC_SHA3_384), { 384 }, { 0 }, { 4104 }, 384 },
	{ ALG(HMAC_SHA3_512), { 512 }, { 0 }, { 4104 }, 512 },
	{ ALG(GOST_R_34_13_2015), { 256 }, { 0 }, { 128 }, 256 },
	{ ALG(GOST_28147_89), { 256 }, { 0 }, { 128 }, 256 },
};

/*
 * Create of every random-bytes algorithm at each length it allows gives a key of that many bytes with
 * that Cryptographic Length and Algorithm; other lengths are Invalid Field; without a length, the
 * algorithm's default or Invalid Field where it has none. At 1.4 and 2.1.
 */
static void
test_create_every_algorithm(void **state)
{
	struct objs *o = *state;
	const struct ttlv *t;
	struct ttlv_arena *a;
	char uid[64];
	size_t i, j, k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		for (i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
			const struct alg_case *c = &alg_cases[i];

			for (j = 0; j < 6 && c->ok[j] != 0; j++) {
				size_t bytes = c->bytes[j] != 0 ? c->bytes[j] : (size_t)c->ok[j] / 8;

				create_ok(o->cl, v, CR(.alg = c->alg, .bits = c->ok[j]), uid);
				t = get_material(o->cl, v, uid, KMIP_TAG_SYMMETRIC_KEY, &a);
				if (t->length != bytes)
					print_error("%s %d: %u bytes\n", ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM,
					    c->alg), c->ok[j], t->length);
				assert_int_equal(t->length, bytes);
				ttlv_arena_free(a);
				t = get_attr(o->cl, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &a);
				assert_non_null(t);
				assert_int_equal(t->v.i32, c->ok[j]);
				ttlv_arena_free(a);
				t = get_attr(o->cl, v, uid, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, &a);
				assert_non_null(t);
				assert_int_equal(t->v.u32, c->alg);
				ttlv_arena_free(a);
			}
			for (j = 0; j < 6 && c->bad[j] != 0; j++)
				create_fail(o->cl, v, CR(.alg = c->alg, .bits = c->bad[j]), KMIP_RESULT_REASON_INVALID_FIELD);
			if (c->dflt == 0) {
				create_fail(o->cl, v, CR(.alg = c->alg), KMIP_RESULT_REASON_INVALID_FIELD);
				continue;
			}
			create_ok(o->cl, v, CR(.alg = c->alg), uid);
			t = get_attr(o->cl, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &a);
			assert_non_null(t);
			assert_int_equal(t->v.i32, c->dflt);
			ttlv_arena_free(a);
		}
	}
}

/* Algorithms whose keys are not random bytes (key pairs, hashes) and no algorithm: Invalid Field. */
static void
test_create_not_random_bytes(void **state)
{
	static const uint32_t refused[] = { ALG(RSA), ALG(DSA), ALG(ECDSA), ALG(EC), ALG(DH), ALG(ECDH),
	    ALG(ED25519), ALG(SHA3_256), ALG(SHAKE_128), ALG(SM2), 0x7fffffff };
	struct objs *o = *state;
	size_t i, k;

	for (k = 0; k < NVERSIONS; k++) {
		for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			create_fail(o->cl, versions[k], CR(.alg = refused[i], .bits = 256),
			    KMIP_RESULT_REASON_INVALID_FIELD);
		create_fail(o->cl, versions[k], CR(.bits = 256), KMIP_RESULT_REASON_INVALID_FIELD);
		/* Other object types are Registered, or made by CreateKeyPair. */
		create_fail(o->cl, versions[k], CR(.type = KMIP_OBJECT_TYPE_PRIVATE_KEY, .alg = ALG(RSA), .bits = 2048),
		    KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/*
 * Keys kmipd stores but does no cryptography with are refused by the operations, with Invalid Field, and
 * the server goes on: a Camellia key can neither Encrypt, Decrypt nor serve as an AES CMAC key, Poly1305 and
 * Blowfish keys cannot MAC; AES keys still Encrypt and CMAC.
 */
static void
test_unsupported_algorithm_operations(void **state)
{
	struct objs *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	char cam[64], cammac[64], poly[64], bf[64], aes[64], aesmac[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];
		const struct {
			const char *uid;
			uint32_t op;
			bool cmac;	/* Cryptographic Parameters asking for CMAC */
			uint32_t reason;
		} ops[] = {
			{ cam, KMIP_OPERATION_ENCRYPT, false, KMIP_RESULT_REASON_INVALID_FIELD },
			{ cam, KMIP_OPERATION_DECRYPT, false, KMIP_RESULT_REASON_INVALID_FIELD },
			{ cammac, KMIP_OPERATION_MAC, true, KMIP_RESULT_REASON_INVALID_FIELD },
			{ poly, KMIP_OPERATION_MAC, false, KMIP_RESULT_REASON_INVALID_FIELD },
			{ bf, KMIP_OPERATION_MAC, false, KMIP_RESULT_REASON_INVALID_FIELD },
			{ bf, KMIP_OPERATION_MAC, true, KMIP_RESULT_REASON_INVALID_FIELD },
			{ aes, KMIP_OPERATION_ENCRYPT, false, 0 },
			{ aesmac, KMIP_OPERATION_MAC, true, 0 },
		};
		const uint32_t mac = KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE | KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_VERIFY;

		create_ok(o->cl, v, CR(.alg = ALG(CAMELLIA), .bits = 256), cam);
		create_ok(o->cl, v, CR(.alg = ALG(CAMELLIA), .bits = 128, .mask = mac), cammac);
		create_ok(o->cl, v, CR(.alg = ALG(POLY1305)), poly);
		create_ok(o->cl, v, CR(.alg = ALG(BLOWFISH), .bits = 128, .mask = mac), bf);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128), aes);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .mask = mac), aesmac);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, cam);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, cammac);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, poly);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, bf);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, aes);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, aesmac);
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			struct ttlv *resp;

			h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
			h_item_begin(&req, ops[i].op);
			ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, ops[i].uid);
			if (ops[i].cmac) {
				ttlv_enc_begin(&req, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
				ttlv_enc_enum(&req, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BLOCK_CIPHER_MODE_CMAC);
				ttlv_enc_end(&req);
			}
			ttlv_enc_bytes(&req, KMIP_TAG_DATA, "sixteen bytes...", 16);
			h_item_end(&req);
			h_request_end(&req);
			resp = call(o->cl, &req, &a, v);
			if (ops[i].reason == 0)
				h_expect_ok(resp, 0);
			else
				h_expect_fail(resp, 0, ops[i].reason, NULL);
			ttlv_arena_free(a);
		}
	}
}

/*
 * Create of Secret Data: 256 random bits of Secret Data Type Seed by default; the length and the Password
 * type when asked; lengths that are not whole bytes, or beyond 4096 bits, refused. Two never repeat.
 */
static void
test_create_secret_data(void **state)
{
	struct objs *o = *state;
	const struct ttlv *t, *sd;
	struct ttlv_arena *a, *b;
	struct ttlv *resp;
	char uid[64], uid2[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		create_ok(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA), uid);
		resp = uid_req(o->cl, v, KMIP_OPERATION_GET, uid, NULL, &a);
		h_expect_ok(resp, 0);
		sd = ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA);
		assert_non_null(sd);
		assert_int_equal(ttlv_find(sd, KMIP_TAG_SECRET_DATA_TYPE)->v.u32, KMIP_SECRET_DATA_TYPE_SEED);
		t = get_material(o->cl, v, uid, KMIP_TAG_SECRET_DATA, &b);
		assert_int_equal(t->length, 32);
		ttlv_arena_free(a);
		create_ok(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA), uid2);
		assert_memory_not_equal(t->v.bytes.data, get_material(o->cl, v, uid2, KMIP_TAG_SECRET_DATA, &a)->v.bytes.data,
		    32);
		ttlv_arena_free(a);
		ttlv_arena_free(b);
		t = get_attr(o->cl, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, &a);
		assert_non_null(t);
		assert_int_equal(t->v.i32, 256);
		ttlv_arena_free(a);

		create_ok(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .bits = 128,
		    .secret_type = KMIP_SECRET_DATA_TYPE_PASSWORD), uid);
		resp = uid_req(o->cl, v, KMIP_OPERATION_GET, uid, NULL, &a);
		h_expect_ok(resp, 0);
		sd = ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA);
		assert_int_equal(ttlv_find(sd, KMIP_TAG_SECRET_DATA_TYPE)->v.u32, KMIP_SECRET_DATA_TYPE_PASSWORD);
		ttlv_arena_free(a);
		assert_int_equal(get_material(o->cl, v, uid, KMIP_TAG_SECRET_DATA, &a)->length, 16);
		ttlv_arena_free(a);
		create_ok(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .bits = 4096), uid);
		assert_int_equal(get_material(o->cl, v, uid, KMIP_TAG_SECRET_DATA, &a)->length, 512);
		ttlv_arena_free(a);

		create_fail(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .bits = 12), KMIP_RESULT_REASON_INVALID_FIELD);
		create_fail(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .bits = 4104), KMIP_RESULT_REASON_INVALID_FIELD);
		create_fail(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .bits = -8), KMIP_RESULT_REASON_INVALID_FIELD);
		create_fail(o->cl, v, CR(.type = KMIP_OBJECT_TYPE_SECRET_DATA, .secret_type = 7),
		    KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/*
 * Register in version v of a Raw symmetric key of len bytes of algorithm alg, with the attributes extra
 * writes (NULL: none) after its usage mask; the caller frees *a.
 */
static struct ttlv *
register_with(struct kmip_client *cl, unsigned v, uint32_t alg, size_t len, void (*extra)(struct ttlv_enc *,
    unsigned), struct ttlv_arena **a)
{
	static const uint8_t material[64] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
	struct ttlv_enc req;

	h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, V2(v) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
	attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, ENC_DEC);
	if (extra != NULL)
		extra(&req, v);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&req, KMIP_TAG_KEY_MATERIAL, material, len);
	ttlv_enc_end(&req);
	ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)len * 8);
	ttlv_enc_end(&req);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

static struct ttlv *
register_key(struct kmip_client *cl, unsigned v, uint32_t alg, size_t len, struct ttlv_arena **a)
{
	return register_with(cl, v, alg, len, NULL, a);
}

/*
 * Register checks a key's bytes against its algorithm's lengths: a 20-byte AES key and a 1-byte ChaCha20
 * key are Invalid Field; 16 bytes of AES or Camellia and 24 of Triple DES are kept, and 16 of two-key
 * Triple DES (which Create does not make).
 */
static void
test_register_length_checked(void **state)
{
	static const struct {
		uint32_t alg;
		size_t len;
		bool ok;
	} cases[] = {
		{ ALG(AES), 16, true }, { ALG(AES), 20, false }, { ALG(CHACHA20), 1, false }, { ALG(CHACHA20), 32, true },
		{ ALG(CAMELLIA), 16, true }, { ALG(CAMELLIA), 17, false }, { ALG(3DES), 24, true }, { ALG(3DES), 21, false }, { ALG(3DES), 16, true },
		{ ALG(BLOWFISH), 5, true }, { ALG(BLOWFISH), 60, false }, { ALG(HMAC_SHA256), 64, true },
	};
	struct objs *o = *state;
	struct ttlv_arena *a;
	size_t i, k;

	for (k = 0; k < NVERSIONS; k++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct ttlv *resp = register_key(o->cl, versions[k], cases[i].alg, cases[i].len, &a);

			if (cases[i].ok)
				h_expect_ok(resp, 0);
			else
				h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
			ttlv_arena_free(a);
		}
	}
}

/* Re-key of a 168-bit Triple DES key gives a key of 24 bytes, as Create does. */
static void
test_rekey_3des(void **state)
{
	struct objs *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64], rekeyed[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		create_ok(o->cl, v, CR(.alg = ALG(3DES), .bits = 168), uid);
		resp = uid_req(o->cl, v, KMIP_OPERATION_RE_KEY, uid, NULL, &a);
		h_expect_ok(resp, 0);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, rekeyed, sizeof(rekeyed));
		ttlv_arena_free(a);
		assert_int_equal(get_material(o->cl, v, rekeyed, KMIP_TAG_SYMMETRIC_KEY, &a)->length, 24);
		ttlv_arena_free(a);
	}
}

/* Get in version v of uid (wrapped by wrap_by when not NULL), expecting failure with reason (0: success). */
static void
get_expect(struct kmip_client *cl, unsigned v, const char *uid, const char *wrap_by, uint32_t reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp = uid_req(cl, v, KMIP_OPERATION_GET, uid, wrap_by, &a);

	if (reason == 0)
		h_expect_ok(resp, 0);
	else
		h_expect_fail(resp, 0, reason, NULL);
	ttlv_arena_free(a);
}

/* Sends Modify Attribute (Set Attribute at 2.x) of a Boolean attribute in version v; the caller frees *a. */
static struct ttlv *
set_bool(struct kmip_client *cl, unsigned v, const char *uid, uint32_t tag, bool value, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
	h_item_begin(&req, V2(v) ? KMIP_OPERATION_SET_ATTRIBUTE : KMIP_OPERATION_MODIFY_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (V2(v)) {
		ttlv_enc_begin(&req, KMIP_TAG_NEW_ATTRIBUTE);
		ttlv_enc_bool(&req, tag, value);
		ttlv_enc_end(&req);
	} else
		attr_bool(&req, v, tag, value);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/*
 * Sensitive and Extractable, set at Create: Get of a Sensitive key answers Sensitive unless another key
 * wraps it (not itself); Get of a non-Extractable key answers Not Extractable even wrapped. Both still
 * Encrypt. KMIP 1.4 has both Result Reasons; 1.3, which lacks them, gets Permission Denied. Sensitive goes
 * false to true only, Extractable true to false only.
 */
static void
test_sensitive_extractable(void **state)
{
	struct objs *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char sens[64], noext[64], kek[64], plain[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 256, .mask = ENC_DEC, .sensitive = ON), sens);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .mask = ENC_DEC, .extractable = OFF), noext);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 256, .mask = ENC_DEC | KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY),
		    kek);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .mask = ENC_DEC, .sensitive = OFF, .extractable = ON),
		    plain);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, kek);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, sens);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, noext);

		get_expect(o->cl, v, sens, NULL, KMIP_RESULT_REASON_SENSITIVE);
		get_expect(o->cl, v, sens, kek, 0);
		get_expect(o->cl, v, sens, sens, KMIP_RESULT_REASON_SENSITIVE);
		get_expect(o->cl, v, noext, NULL, KMIP_RESULT_REASON_NOT_EXTRACTABLE);
		get_expect(o->cl, v, noext, kek, KMIP_RESULT_REASON_NOT_EXTRACTABLE);
		get_expect(o->cl, v, plain, NULL, 0);
		/* A 1.3 client has neither reason. */
		get_expect(o->cl, V13, sens, NULL, KMIP_RESULT_REASON_PERMISSION_DENIED);
		get_expect(o->cl, V13, noext, NULL, KMIP_RESULT_REASON_PERMISSION_DENIED);

		/* They still encrypt: that is what such keys are for. */
		for (int i = 0; i < 2; i++) {
			h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
			h_item_begin(&req, KMIP_OPERATION_ENCRYPT);
			ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, i == 0 ? sens : noext);
			ttlv_enc_bytes(&req, KMIP_TAG_DATA, "sixteen bytes...", 16);
			h_item_end(&req);
			h_request_end(&req);
			resp = call(o->cl, &req, &a, v);
			h_expect_ok(resp, 0);
			assert_non_null(ttlv_find(h_payload(resp, 0), KMIP_TAG_DATA));
			ttlv_arena_free(a);
		}

		/* One way only. */
		h_expect_fail(set_bool(o->cl, v, sens, KMIP_TAG_SENSITIVE, false, &a), 0, V2(v) ?
		    KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY : KMIP_RESULT_REASON_PERMISSION_DENIED, NULL);
		ttlv_arena_free(a);
		h_expect_fail(set_bool(o->cl, v, noext, KMIP_TAG_EXTRACTABLE, true, &a), 0, V2(v) ?
		    KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY : KMIP_RESULT_REASON_PERMISSION_DENIED, NULL);
		ttlv_arena_free(a);
		h_expect_ok(set_bool(o->cl, v, plain, KMIP_TAG_SENSITIVE, true, &a), 0);
		ttlv_arena_free(a);
		get_expect(o->cl, v, plain, NULL, KMIP_RESULT_REASON_SENSITIVE);
		h_expect_ok(set_bool(o->cl, v, plain, KMIP_TAG_EXTRACTABLE, false, &a), 0);
		ttlv_arena_free(a);
		get_expect(o->cl, v, plain, kek, KMIP_RESULT_REASON_NOT_EXTRACTABLE);
		get_expect(o->cl, v, sens, kek, 0);
	}
}

/*
 * Key Value Location, given at Create: Get Attributes gives it back, field by field; several instances are
 * kept; without a Key Value Location Type, or with one outside the enumeration, it is Invalid Field; it
 * cannot be changed afterwards.
 */
static void
test_key_value_location(void **state)
{
	struct objs *o = *state;
	const struct ttlv *t;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .location = "hsm://vault-7/slot/3",
		    .location_type = KMIP_KEY_VALUE_LOCATION_TYPE_URI), uid);
		t = get_attr(o->cl, v, uid, KMIP_TAG_KEY_VALUE_LOCATION, &a);
		assert_non_null(t);
		assert_string_equal((const char *)ttlv_find(t, KMIP_TAG_KEY_VALUE_LOCATION_VALUE)->v.bytes.data,
		    "hsm://vault-7/slot/3");
		assert_int_equal(ttlv_find(t, KMIP_TAG_KEY_VALUE_LOCATION_TYPE)->v.u32, KMIP_KEY_VALUE_LOCATION_TYPE_URI);
		ttlv_arena_free(a);

		create_fail(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .location = "nowhere"),
		    KMIP_RESULT_REASON_INVALID_FIELD);
		create_fail(o->cl, v, CR(.alg = ALG(AES), .bits = 128, .location = "nowhere", .location_type = 3),
		    KMIP_RESULT_REASON_INVALID_FIELD);

		/* Set by the client at creation only. */
		h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
		h_item_begin(&req, KMIP_OPERATION_ADD_ATTRIBUTE);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		if (V2(v)) {
			ttlv_enc_begin(&req, KMIP_TAG_NEW_ATTRIBUTE);
			attr_location(&req, v, "elsewhere", KMIP_KEY_VALUE_LOCATION_TYPE_UNINTERPRETED_TEXT_STRING);
			ttlv_enc_end(&req);
		} else
			attr_location(&req, v, "elsewhere", KMIP_KEY_VALUE_LOCATION_TYPE_UNINTERPRETED_TEXT_STRING);
		h_item_end(&req);
		h_request_end(&req);
		resp = call(o->cl, &req, &a, v);
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
		ttlv_arena_free(a);
		t = get_attr(o->cl, v, uid, KMIP_TAG_KEY_VALUE_LOCATION, &a);
		assert_string_equal((const char *)ttlv_find(t, KMIP_TAG_KEY_VALUE_LOCATION_VALUE)->v.bytes.data,
		    "hsm://vault-7/slot/3");
		ttlv_arena_free(a);
	}
}

/* Attributes of a registered key: Sensitive, and a Key Value Location. */
static void
reg_sensitive(struct ttlv_enc *e, unsigned v)
{
	attr_bool(e, v, KMIP_TAG_SENSITIVE, true);
	attr_location(e, v, "vault 7, drawer 2", KMIP_KEY_VALUE_LOCATION_TYPE_UNINTERPRETED_TEXT_STRING);
	attr_location(e, v, "https://keys.example/7", KMIP_KEY_VALUE_LOCATION_TYPE_URI);
}

static void
reg_not_extractable(struct ttlv_enc *e, unsigned v)
{
	attr_bool(e, v, KMIP_TAG_EXTRACTABLE, false);
}

/*
 * Sensitive, Extractable and Key Value Location given at Register hold as at Create: Get answers Sensitive
 * or Not Extractable, and both Key Value Locations are kept, in order.
 */
static void
test_register_flags_and_location(void **state)
{
	struct objs *o = *state;
	const struct ttlv *t, *attrs;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char sens[64], noext[64];
	size_t k;
	int n;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		resp = register_with(o->cl, v, ALG(AES), 16, reg_sensitive, &a);
		h_expect_ok(resp, 0);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, sens, sizeof(sens));
		ttlv_arena_free(a);
		resp = register_with(o->cl, v, ALG(AES), 32, reg_not_extractable, &a);
		h_expect_ok(resp, 0);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, noext, sizeof(noext));
		ttlv_arena_free(a);
		get_expect(o->cl, v, sens, NULL, KMIP_RESULT_REASON_SENSITIVE);
		get_expect(o->cl, v, noext, NULL, KMIP_RESULT_REASON_NOT_EXTRACTABLE);

		/* Every instance of Key Value Location. */
		h_request_begin(&req, (int)KMIP_VERSION_MAJOR(v), (int)KMIP_VERSION_MINOR(v), 1);
		h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, sens);
		if (V2(v))
			ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, KMIP_TAG_KEY_VALUE_LOCATION);
		else
			ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Key Value Location");
		h_item_end(&req);
		h_request_end(&req);
		resp = call(o->cl, &req, &a, v);
		h_expect_ok(resp, 0);
		attrs = V2(v) ? ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTES) : h_payload(resp, 0);
		n = 0;
		for (t = ttlv_find(attrs, V2(v) ? KMIP_TAG_KEY_VALUE_LOCATION : KMIP_TAG_ATTRIBUTE); t != NULL;
		    t = ttlv_find_next(t)) {
			const struct ttlv *val = V2(v) ? t : ttlv_find(t, KMIP_TAG_ATTRIBUTE_VALUE);

			assert_string_equal((const char *)ttlv_find(val, KMIP_TAG_KEY_VALUE_LOCATION_VALUE)->v.bytes.data,
			    n == 0 ? "vault 7, drawer 2" : "https://keys.example/7");
			assert_int_equal(ttlv_find(val, KMIP_TAG_KEY_VALUE_LOCATION_TYPE)->v.u32, n == 0 ?
			    KMIP_KEY_VALUE_LOCATION_TYPE_UNINTERPRETED_TEXT_STRING : KMIP_KEY_VALUE_LOCATION_TYPE_URI);
			n++;
		}
		assert_int_equal(n, 2);
		ttlv_arena_free(a);
	}
}

/*
 * A wrapping key must be an AES key: 32 bytes of Camellia allowed to wrap do not wrap a key with AES Key
 * Wrap; an AES key does.
 */
static void
test_wrap_needs_aes(void **state)
{
	struct objs *o = *state;
	char cam[64], aes[64], key[64];
	size_t k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		create_ok(o->cl, v, CR(.alg = ALG(CAMELLIA), .bits = 256, .mask = ENC_DEC |
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY), cam);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 256, .mask = ENC_DEC | KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY),
		    aes);
		create_ok(o->cl, v, CR(.alg = ALG(AES), .bits = 128), key);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, cam);
		uid_ok(o->cl, v, KMIP_OPERATION_ACTIVATE, aes);
		get_expect(o->cl, v, key, cam, V2(v) ? KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE :
		    KMIP_RESULT_REASON_PERMISSION_DENIED);
		get_expect(o->cl, v, key, aes, 0);
	}
}

/*
 * Quantum Safe (KMIP 2.1): a 256-bit key of a cipher with 128-bit blocks or of ChaCha20, an HMAC key of 256
 * bits over a digest of 256 or more, Secret Data of 256 bits or more; not a 128-bit key, a 64-bit-block
 * cipher of any length, HMAC-SHA1, or 128 bits of Secret Data (General Failure).
 */
static void
test_quantum_safe(void **state)
{
	static const struct {
		uint32_t type, alg;
		int32_t bits;
		bool safe;
	} cases[] = {
		{ 0, ALG(AES), 256, true }, { 0, ALG(CAMELLIA), 256, true }, { 0, ALG(CHACHA20), 256, true },
		{ 0, ALG(HMAC_SHA3_512), 256, true }, { KMIP_OBJECT_TYPE_SECRET_DATA, 0, 256, true },
		{ 0, ALG(AES), 128, false }, { 0, ALG(BLOWFISH), 448, false }, { 0, ALG(HMAC_SHA1), 512, false },
		{ 0, ALG(3DES), 192, false }, { KMIP_OBJECT_TYPE_SECRET_DATA, 0, 128, false },
	};
	struct objs *o = *state;
	char uid[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cr *c = CR(.type = cases[i].type, .alg = cases[i].alg, .bits = cases[i].bits,
		    .quantum_safe = true);

		if (cases[i].safe)
			create_ok(o->cl, V21, c, uid);
		else
			create_fail(o->cl, V21, c, KMIP_RESULT_REASON_GENERAL_FAILURE);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_every_algorithm),
		cmocka_unit_test(test_create_not_random_bytes),
		cmocka_unit_test(test_unsupported_algorithm_operations),
		cmocka_unit_test(test_create_secret_data),
		cmocka_unit_test(test_register_length_checked),
		cmocka_unit_test(test_rekey_3des),
		cmocka_unit_test(test_sensitive_extractable),
		cmocka_unit_test(test_key_value_location),
		cmocka_unit_test(test_register_flags_and_location),
		cmocka_unit_test(test_wrap_needs_aes),
		cmocka_unit_test(test_quantum_safe),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("objects", tests, group_setup, group_teardown);
}
