/*
 * Register what clients hand over, against the real kmipd over mutual TLS, at KMIP 1.4 and 2.1: RSA and EC
 * keys in Raw format or in a DER structure other than the declared one (kept and given back as registered,
 * converted when a format is asked, used by Sign and Signature Verify), wrapped keys (Key Wrapping Data kept,
 * given back wrapped as registered; what Get with another format or wrapping and the cryptographic
 * operations answer), Template (1.x only), PGP Key and Opaque Object, and the error paths of each.
 * One server for the binary, and one with compat.wrapped_key_value_structure for PyKMIP 0.10's reading.
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

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

struct reg {
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	/* One RSA-2048 and one P-256 key, in each DER structure */
	uint8_t *rsa_pkcs1, *rsa_pkcs8, *rsa_spki, *rsa_pub1, *ec_pkcs8, *ec_spki, *ec_point;
	int rsa_pkcs1_len, rsa_pkcs8_len, rsa_spki_len, rsa_pub1_len, ec_pkcs8_len, ec_spki_len, ec_point_len;
};

static const int versions[][2] = { { 1, 4 }, { 2, 1 } };

/* DER of a key: i2d into a malloc'd buffer. */
static uint8_t *
der_of(int (*i2d)(const EVP_PKEY *, unsigned char **), const EVP_PKEY *k, int *len)
{
	unsigned char *p = NULL;

	*len = i2d(k, &p);
	assert_true(*len > 0);
	return p;
}

/* PKCS#8 PrivateKeyInfo DER of a key. */
static uint8_t *
pkcs8_of(EVP_PKEY *k, int *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *p = NULL;

	assert_non_null(p8);
	*len = i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
	PKCS8_PRIV_KEY_INFO_free(p8);
	assert_true(*len > 0);
	return p;
}

static int
group_start(void **state, const char *const *overrides)
{
	struct reg *r = calloc(1, sizeof(*r));
	EVP_PKEY *rsa, *ec;
	size_t n;

	if (r == NULL)
		return -1;
	*state = r;
	rsa = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	assert_non_null(rsa);
	assert_non_null(ec);
	r->rsa_pkcs1 = der_of(i2d_PrivateKey, rsa, &r->rsa_pkcs1_len);
	r->rsa_pkcs8 = pkcs8_of(rsa, &r->rsa_pkcs8_len);
	r->rsa_spki = der_of(i2d_PUBKEY, rsa, &r->rsa_spki_len);
	r->rsa_pub1 = der_of(i2d_PublicKey, rsa, &r->rsa_pub1_len);
	r->ec_pkcs8 = pkcs8_of(ec, &r->ec_pkcs8_len);
	r->ec_spki = der_of(i2d_PUBKEY, ec, &r->ec_spki_len);
	n = EVP_PKEY_get1_encoded_public_key(ec, &r->ec_point);
	assert_int_equal(n, 65);
	r->ec_point_len = (int)n;
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	h_start(&r->srv, overrides);
	r->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	r->cl = h_connect(&r->srv, r->ctx);
	return 0;
}

static int
group_setup(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0", NULL });
}

static int
group_setup_compat(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0",
	    "compat.wrapped_key_value_structure=true", NULL });
}

static int
group_teardown(void **state)
{
	struct reg *r = *state;

	if (r == NULL)
		return 0;
	kmip_client_close(r->cl);
	SSL_CTX_free(r->ctx);
	h_cleanup(&r->srv);
	OPENSSL_free(r->rsa_pkcs1);
	OPENSSL_free(r->rsa_pkcs8);
	OPENSSL_free(r->rsa_spki);
	OPENSSL_free(r->rsa_pub1);
	OPENSSL_free(r->ec_pkcs8);
	OPENSSL_free(r->ec_spki);
	OPENSSL_free(r->ec_point);
	free(r);
	return 0;
}

/* Sends req (freed here) and returns the response, checking its version. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, int major, int minor)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(major, minor));
	return resp;
}

/* The attributes of a Register: Cryptographic Usage Mask mask and a Name, in the version's form. */
static void
enc_attrs(struct ttlv_enc *e, int major, uint32_t mask, const char *name)
{
	if (major < 2) {
		ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		if (mask != 0)
			h_attr_int(e, "Cryptographic Usage Mask", (int32_t)mask);
		if (name != NULL)
			h_attr_name(e, name);
		ttlv_enc_end(e);
		return;
	}
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTES);
	if (mask != 0)
		ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)mask);
	if (name != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_NAME);
		ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, name);
		ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(e);
	}
	ttlv_enc_end(e);
}

/* A key to register: its Key Block's fields. */
struct kb {
	uint32_t format;
	uint32_t alg;		/* 0: none in the Key Block */
	int bits;
	const uint8_t *bytes;
	size_t len;
	int wrapped;		/* 0: plain; 1: wrapped, Key Value a Byte String; 2: PyKMIP's Key Value structure */
	const char *wrapping_uid;	/* NULL: Key Wrapping Data without a Wrapping Method (refused) */
};

/* Writes a Key Block. */
static void
enc_block(struct ttlv_enc *e, const struct kb *k)
{
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, k->format);
	if (k->wrapped == 1)
		ttlv_enc_bytes(e, KMIP_TAG_KEY_VALUE, k->bytes, k->len);
	else {
		ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
		ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, k->bytes, k->len);
		ttlv_enc_end(e);
	}
	if (k->alg != 0)
		ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, k->alg);
	if (k->bits != 0)
		ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, k->bits);
	if (k->wrapped) {
		ttlv_enc_begin(e, KMIP_TAG_KEY_WRAPPING_DATA);
		if (k->wrapping_uid != NULL)
			ttlv_enc_enum(e, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAPPING_METHOD_ENCRYPT);
		ttlv_enc_begin(e, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, k->wrapping_uid != NULL ? k->wrapping_uid : "x");
		ttlv_enc_begin(e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		ttlv_enc_enum(e, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	ttlv_enc_end(e);
}

/* Register of a key of type (Symmetric, Private, Public Key, Secret Data) at major.minor. */
static struct ttlv *
register_key(struct kmip_client *cl, int major, int minor, uint32_t type, const struct kb *k, uint32_t mask,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, type);
	enc_attrs(&req, major, mask, NULL);
	ttlv_enc_begin(&req, kmip_object_tag(type));
	if (type == KMIP_OBJECT_TYPE_SECRET_DATA)
		ttlv_enc_enum(&req, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	enc_block(&req, k);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, major, minor);
}

/* Registers, expecting success; copies the identifier into uid (64 bytes). */
static void
register_ok(struct kmip_client *cl, int major, int minor, uint32_t type, const struct kb *k, uint32_t mask,
    char *uid)
{
	struct ttlv_arena *a;
	struct ttlv *resp = register_key(cl, major, minor, type, k, mask, &a);

	h_expect_ok(resp, 0);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
	ttlv_arena_free(a);
}

/* Registers, expecting failure with reason. */
static void
register_fail(struct kmip_client *cl, int major, int minor, uint32_t type, const struct kb *k, int reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp = register_key(cl, major, minor, type, k, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, &a);

	h_expect_fail(resp, 0, reason, NULL);
	ttlv_arena_free(a);
}

/*
 * Get at major.minor with a Key Format Type (0: none) and, when wrap_uid is not NULL, a Key Wrapping
 * Specification naming that key.
 */
static struct ttlv *
get(struct kmip_client *cl, int major, int minor, const char *uid, uint32_t format, const char *wrap_uid,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, format);
	if (wrap_uid != NULL) {
		ttlv_enc_begin(&req, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
		ttlv_enc_enum(&req, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAPPING_METHOD_ENCRYPT);
		ttlv_enc_begin(&req, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, wrap_uid);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, major, minor);
}

/* The Key Block of a successful Get of an object of type. */
static const struct ttlv *
key_block(const struct ttlv *resp, uint32_t type)
{
	const struct ttlv *b = ttlv_find(ttlv_find(h_payload(resp, 0), kmip_object_tag(type)), KMIP_TAG_KEY_BLOCK);

	assert_non_null(b);
	return b;
}

/* Asserts a Get (no format, or format) of uid answers format kft with exactly the Key Material bytes. */
static void
expect_material(struct kmip_client *cl, int major, int minor, const char *uid, uint32_t type, uint32_t ask,
    uint32_t kft, const uint8_t *bytes, size_t len)
{
	const struct ttlv *b, *m;
	struct ttlv_arena *a;
	struct ttlv *resp = get(cl, major, minor, uid, ask, NULL, &a);

	h_expect_ok(resp, 0);
	b = key_block(resp, type);
	assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, kft);
	m = ttlv_find(ttlv_find(b, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	assert_int_equal(m->type, TTLV_BYTE_STRING);
	assert_int_equal(m->length, len);
	assert_memory_equal(m->v.bytes.data, bytes, len);
	assert_null(ttlv_find(b, KMIP_TAG_KEY_WRAPPING_DATA));
	ttlv_arena_free(a);
}

/* Sends one item naming uid (Activate, Destroy, ...) at major.minor, expecting success. */
static void
uid_ok(struct kmip_client *cl, int major, int minor, uint32_t op, const char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, op);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, major, minor);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
}

/* Sign (verify false) or Signature Verify of data with uid, RSA PKCS#1 v1.5 or ECDSA, SHA-256. */
static struct ttlv *
sign_req(struct kmip_client *cl, int major, int minor, const char *uid, bool verify, const uint8_t *sig,
    size_t siglen, struct ttlv_arena **a)
{
	static const char data[] = "what kmipd signs with a registered key";
	struct ttlv_enc req;

	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, verify ? KMIP_OPERATION_SIGNATURE_VERIFY : KMIP_OPERATION_SIGN);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	ttlv_enc_enum(&req, KMIP_TAG_HASHING_ALGORITHM, KMIP_HASHING_ALGORITHM_SHA_256);
	ttlv_enc_end(&req);
	ttlv_enc_bytes(&req, KMIP_TAG_DATA, data, sizeof(data) - 1);
	if (verify)
		ttlv_enc_bytes(&req, KMIP_TAG_SIGNATURE_DATA, sig, siglen);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, major, minor);
}

/* Signs with priv and verifies with pub, both Activated first: the parsed keys work. */
static void
expect_sign_verify(struct kmip_client *cl, int major, int minor, const char *priv, const char *pub)
{
	struct ttlv_arena *a, *b;
	const struct ttlv *sig, *valid;
	struct ttlv *resp, *vresp;

	uid_ok(cl, major, minor, KMIP_OPERATION_ACTIVATE, priv);
	uid_ok(cl, major, minor, KMIP_OPERATION_ACTIVATE, pub);
	resp = sign_req(cl, major, minor, priv, false, NULL, 0, &a);
	h_expect_ok(resp, 0);
	sig = ttlv_find(h_payload(resp, 0), KMIP_TAG_SIGNATURE_DATA);
	assert_non_null(sig);
	vresp = sign_req(cl, major, minor, pub, true, sig->v.bytes.data, sig->length, &b);
	h_expect_ok(vresp, 0);
	valid = ttlv_find(h_payload(vresp, 0), KMIP_TAG_VALIDITY_INDICATOR);
	assert_non_null(valid);
	assert_int_equal(valid->v.u32, KMIP_VALIDITY_INDICATOR_VALID);
	ttlv_arena_free(a);
	ttlv_arena_free(b);
}

/*
 * RSA keys in another DER structure than declared, and Raw: each is registered, given back byte for byte
 * with its declared label when no format is asked, converted when one is, and usable for Sign and Verify.
 */
static void
test_rsa_mislabelled(void **state)
{
	struct reg *r = *state;
	const uint32_t S = KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, V = KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY;
	const uint32_t RSA = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
	struct {
		uint32_t priv_kft, pub_kft;
		const uint8_t *priv, *pub;
		size_t priv_len, pub_len;
	} cases[] = {
		{ KMIP_KEY_FORMAT_TYPE_PKCS_8, KMIP_KEY_FORMAT_TYPE_PKCS_1, r->rsa_pkcs1, r->rsa_spki,
		  (size_t)r->rsa_pkcs1_len, (size_t)r->rsa_spki_len },
		{ KMIP_KEY_FORMAT_TYPE_PKCS_1, KMIP_KEY_FORMAT_TYPE_X_509, r->rsa_pkcs8, r->rsa_pub1,
		  (size_t)r->rsa_pkcs8_len, (size_t)r->rsa_pub1_len },
		{ KMIP_KEY_FORMAT_TYPE_RAW, KMIP_KEY_FORMAT_TYPE_RAW, r->rsa_pkcs1, r->rsa_pub1,
		  (size_t)r->rsa_pkcs1_len, (size_t)r->rsa_pub1_len },
		{ KMIP_KEY_FORMAT_TYPE_RAW, KMIP_KEY_FORMAT_TYPE_RAW, r->rsa_pkcs8, r->rsa_spki,
		  (size_t)r->rsa_pkcs8_len, (size_t)r->rsa_spki_len },
	};
	char priv[64], pub[64];
	size_t v, i;

	for (v = 0; v < 2; v++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct kb kp = { cases[i].priv_kft, RSA, 2048, cases[i].priv, cases[i].priv_len, 0, NULL };
			struct kb ku = { cases[i].pub_kft, RSA, 2048, cases[i].pub, cases[i].pub_len, 0, NULL };
			int M = versions[v][0], m = versions[v][1];

			register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PRIVATE_KEY, &kp, S, priv);
			register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PUBLIC_KEY, &ku, V, pub);
			expect_material(r->cl, M, m, priv, KMIP_OBJECT_TYPE_PRIVATE_KEY, 0, cases[i].priv_kft,
			    cases[i].priv, cases[i].priv_len);
			expect_material(r->cl, M, m, pub, KMIP_OBJECT_TYPE_PUBLIC_KEY, 0, cases[i].pub_kft,
			    cases[i].pub, cases[i].pub_len);
			/* Asked for a format: converted, as for any key. */
			expect_material(r->cl, M, m, priv, KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_KEY_FORMAT_TYPE_PKCS_8,
			    KMIP_KEY_FORMAT_TYPE_PKCS_8, r->rsa_pkcs8, (size_t)r->rsa_pkcs8_len);
			expect_material(r->cl, M, m, priv, KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_KEY_FORMAT_TYPE_PKCS_1,
			    KMIP_KEY_FORMAT_TYPE_PKCS_1, r->rsa_pkcs1, (size_t)r->rsa_pkcs1_len);
			expect_material(r->cl, M, m, pub, KMIP_OBJECT_TYPE_PUBLIC_KEY, KMIP_KEY_FORMAT_TYPE_X_509,
			    KMIP_KEY_FORMAT_TYPE_X_509, r->rsa_spki, (size_t)r->rsa_spki_len);
			expect_material(r->cl, M, m, pub, KMIP_OBJECT_TYPE_PUBLIC_KEY, KMIP_KEY_FORMAT_TYPE_PKCS_1,
			    KMIP_KEY_FORMAT_TYPE_PKCS_1, r->rsa_pub1, (size_t)r->rsa_pub1_len);
			expect_sign_verify(r->cl, M, m, priv, pub);
		}
	}
}

/* EC keys: PKCS#8 declared ECPrivateKey, and the public key as a Raw point (what EC clients send). */
static void
test_ec_raw_point(void **state)
{
	struct reg *r = *state;
	const uint32_t EC = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
	struct kb kp = { KMIP_KEY_FORMAT_TYPE_ECPRIVATEKEY, EC, 256, r->ec_pkcs8, (size_t)r->ec_pkcs8_len, 0, NULL };
	struct kb ku = { KMIP_KEY_FORMAT_TYPE_RAW, EC, 256, r->ec_point, (size_t)r->ec_point_len, 0, NULL };
	char priv[64], pub[64];
	size_t v;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PRIVATE_KEY, &kp, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, priv);
		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PUBLIC_KEY, &ku, KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY, pub);
		expect_material(r->cl, M, m, priv, KMIP_OBJECT_TYPE_PRIVATE_KEY, 0, KMIP_KEY_FORMAT_TYPE_ECPRIVATEKEY,
		    r->ec_pkcs8, (size_t)r->ec_pkcs8_len);
		expect_material(r->cl, M, m, pub, KMIP_OBJECT_TYPE_PUBLIC_KEY, 0, KMIP_KEY_FORMAT_TYPE_RAW,
		    r->ec_point, (size_t)r->ec_point_len);
		expect_material(r->cl, M, m, pub, KMIP_OBJECT_TYPE_PUBLIC_KEY, KMIP_KEY_FORMAT_TYPE_X_509,
		    KMIP_KEY_FORMAT_TYPE_X_509, r->ec_spki, (size_t)r->ec_spki_len);
		expect_sign_verify(r->cl, M, m, priv, pub);
	}
}

/* Bytes that are no key, or a key of another algorithm than declared, stay refused with Invalid Field. */
static void
test_mislabelled_refused(void **state)
{
	static const uint8_t junk[] = { 0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05 };
	static const uint8_t scalar[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
	struct reg *r = *state;
	const uint32_t RSA = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, EC = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
	const uint32_t PRIV = KMIP_OBJECT_TYPE_PRIVATE_KEY, PUB = KMIP_OBJECT_TYPE_PUBLIC_KEY;
	const int IF = KMIP_RESULT_REASON_INVALID_FIELD;
	size_t v;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		/* A DER SEQUENCE of two small integers is no RSA key, in any label. */
		register_fail(r->cl, M, m, PRIV, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW, RSA, 2048, junk, sizeof(junk), 0,
		    NULL }, IF);
		register_fail(r->cl, M, m, PUB, &(struct kb){ KMIP_KEY_FORMAT_TYPE_X_509, RSA, 2048, junk, sizeof(junk),
		    0, NULL }, IF);
		/* A key of the other algorithm than declared. */
		register_fail(r->cl, M, m, PRIV, &(struct kb){ KMIP_KEY_FORMAT_TYPE_PKCS_8, RSA, 256, r->ec_pkcs8,
		    (size_t)r->ec_pkcs8_len, 0, NULL }, IF);
		register_fail(r->cl, M, m, PRIV, &(struct kb){ KMIP_KEY_FORMAT_TYPE_PKCS_1, EC, 2048, r->rsa_pkcs1,
		    (size_t)r->rsa_pkcs1_len, 0, NULL }, IF);
		register_fail(r->cl, M, m, PUB, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW, RSA, 256, r->ec_point,
		    (size_t)r->ec_point_len, 0, NULL }, IF);
		/* A private key declared as a public one, and a bare EC scalar (it names no curve). */
		register_fail(r->cl, M, m, PUB, &(struct kb){ KMIP_KEY_FORMAT_TYPE_X_509, RSA, 2048, r->rsa_pkcs8,
		    (size_t)r->rsa_pkcs8_len, 0, NULL }, IF);
		register_fail(r->cl, M, m, PRIV, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW, EC, 256, scalar, sizeof(scalar),
		    0, NULL }, IF);
	}
}

/* The Key Wrapping Data of a Key Block names the wrapping key uid, with NIST Key Wrap. */
static void
expect_wrapping(const struct ttlv *block, const char *uid)
{
	const struct ttlv *kwd = ttlv_find(block, KMIP_TAG_KEY_WRAPPING_DATA), *eki;

	assert_non_null(kwd);
	assert_int_equal(ttlv_find(kwd, KMIP_TAG_WRAPPING_METHOD)->v.u32, KMIP_WRAPPING_METHOD_ENCRYPT);
	eki = ttlv_find(kwd, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
	assert_non_null(eki);
	assert_string_equal((const char *)ttlv_find(eki, KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data, uid);
	assert_int_equal(ttlv_find(ttlv_find(eki, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS), KMIP_TAG_BLOCK_CIPHER_MODE)->v.u32,
	    KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP);
}

/* Returns the wrapped bytes of a Get's Key Block: a Byte String Key Value (structure: inside it). */
static const struct ttlv *
wrapped_value(const struct ttlv *block, bool structure)
{
	const struct ttlv *kv = ttlv_find(block, KMIP_TAG_KEY_VALUE);

	assert_non_null(kv);
	if (structure) {
		assert_int_equal(kv->type, TTLV_STRUCTURE);
		kv = ttlv_find(kv, KMIP_TAG_KEY_MATERIAL);
		assert_non_null(kv);
	}
	assert_int_equal(kv->type, TTLV_BYTE_STRING);
	return kv;
}

/*
 * A key wrapped under a key kmipd does not hold: registered (the spec's Byte String, and PyKMIP's Key
 * Value structure), given back wrapped as registered; another format or wrapping, and using it, refused.
 */
static void
test_wrapped_key(void **state)
{
	static const uint8_t wrapped[40] = { 0x1f, 0xa6, 0x8b, 0x0a, 0x81, 0x12, 0xb4, 0x47, 0xae, 0xf3, 0x4b, 0xd8,
	    0xfb, 0x5a, 0x7b, 0x82, 0x9d, 0x3e, 0x86, 0x23, 0x71, 0xd2, 0xcf, 0xe5 };
	struct reg *r = *state;
	const struct ttlv *b, *kv;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];
	size_t v;
	int form;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		for (form = 1; form <= 2; form++) {
			struct kb k = { KMIP_KEY_FORMAT_TYPE_RAW, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, wrapped,
			    sizeof(wrapped), form, "wrapping-key-kmipd-does-not-hold" };

			register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, &k, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT,
			    uid);
			resp = get(r->cl, M, m, uid, 0, NULL, &a);
			h_expect_ok(resp, 0);
			b = key_block(resp, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
			assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
			/* As registered: PyKMIP's structure stays one; the spec's Byte String stays one. */
			kv = wrapped_value(b, form == 2);
			assert_int_equal(kv->length, sizeof(wrapped));
			assert_memory_equal(kv->v.bytes.data, wrapped, sizeof(wrapped));
			assert_int_equal(ttlv_find(b, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32,
			    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
			assert_int_equal(ttlv_find(b, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, 256);
			expect_wrapping(b, "wrapping-key-kmipd-does-not-hold");
			ttlv_arena_free(a);
			/* The format it was registered in, asked for: the same. */
			resp = get(r->cl, M, m, uid, KMIP_KEY_FORMAT_TYPE_RAW, NULL, &a);
			h_expect_ok(resp, 0);
			ttlv_arena_free(a);
			/* Another format, or another wrapping: kmipd cannot unwrap it. */
			resp = get(r->cl, M, m, uid, KMIP_KEY_FORMAT_TYPE_TRANSPARENT_SYMMETRIC_KEY, NULL, &a);
			h_expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED, NULL);
			ttlv_arena_free(a);
			resp = get(r->cl, M, m, uid, 0, "some-other-key", &a);
			h_expect_fail(resp, 0, M < 2 ? KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED :
			    KMIP_RESULT_REASON_KEY_WRAP_TYPE_NOT_SUPPORTED, NULL);
			ttlv_arena_free(a);
			/* Encrypting with it: there is no plain Key Value to use. */
			uid_ok(r->cl, M, m, KMIP_OPERATION_ACTIVATE, uid);
			{
				struct ttlv_enc req;

				h_request_begin(&req, M, m, 1);
				h_item_begin(&req, KMIP_OPERATION_ENCRYPT);
				ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
				ttlv_enc_begin(&req, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
				ttlv_enc_enum(&req, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BLOCK_CIPHER_MODE_ECB);
				ttlv_enc_end(&req);
				ttlv_enc_bytes(&req, KMIP_TAG_DATA, wrapped, 16);
				h_item_end(&req);
				h_request_end(&req);
				resp = call(r->cl, &req, &a, M, m);
				h_expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT, NULL);
				ttlv_arena_free(a);
			}
		}
		/* Wrapped Secret Data and private keys are kept the same way. */
		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_SECRET_DATA, &(struct kb){ KMIP_KEY_FORMAT_TYPE_OPAQUE, 0, 0,
		    wrapped, sizeof(wrapped), 1, "k" }, 0, uid);
		resp = get(r->cl, M, m, uid, 0, NULL, &a);
		h_expect_ok(resp, 0);
		b = key_block(resp, KMIP_OBJECT_TYPE_SECRET_DATA);
		assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_OPAQUE);
		assert_memory_equal(wrapped_value(b, false)->v.bytes.data, wrapped, sizeof(wrapped));
		expect_wrapping(b, "k");
		ttlv_arena_free(a);
		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PRIVATE_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_PKCS_8,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, wrapped, sizeof(wrapped), 1, "k" },
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, uid);
		resp = get(r->cl, M, m, uid, 0, NULL, &a);
		h_expect_ok(resp, 0);
		b = key_block(resp, KMIP_OBJECT_TYPE_PRIVATE_KEY);
		assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_PKCS_8);
		assert_memory_equal(wrapped_value(b, false)->v.bytes.data, wrapped, sizeof(wrapped));
		ttlv_arena_free(a);
		/* Key Wrapping Data without a Wrapping Method, and an empty wrapped value: refused. */
		register_fail(r->cl, M, m, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, wrapped, sizeof(wrapped), 1, NULL },
		    KMIP_RESULT_REASON_INVALID_FIELD);
		register_fail(r->cl, M, m, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, wrapped, 0, 1, "k" }, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Unwraps AES Key Wrap with Padding (RFC 5649) under kek (32 bytes); returns the length written to out. */
static size_t
unwrap_pad(const uint8_t *kek, const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;

	assert_non_null(c);
	assert_non_null(x);
	assert_int_equal(EVP_DecryptInit_ex2(x, c, kek, NULL, NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(x, out, &n, in, (int)len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(x, out + n, &fin), 1);
	EVP_CIPHER_CTX_free(x);
	EVP_CIPHER_free(c);
	return (size_t)(n + fin);
}

/*
 * A key kept as registered, Get wrapped (No Encoding) under a key kmipd holds: what is wrapped is the Key
 * Material as registered, under its declared label.
 */
static void
test_kept_key_wrapped_on_get(void **state)
{
	static const uint8_t kek[32] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	    0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
	    0x1f };
	struct reg *r = *state;
	const struct ttlv *b, *kv;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char kuid[64], uid[64];
	uint8_t plain[4096];
	size_t v, n;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, kek, sizeof(kek), 0, NULL }, KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY,
		    kuid);
		uid_ok(r->cl, M, m, KMIP_OPERATION_ACTIVATE, kuid);
		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_PRIVATE_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_PKCS_8,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, r->rsa_pkcs1, (size_t)r->rsa_pkcs1_len, 0, NULL },
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, uid);
		h_request_begin(&req, M, m, 1);
		h_item_begin(&req, KMIP_OPERATION_GET);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		ttlv_enc_begin(&req, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
		ttlv_enc_enum(&req, KMIP_TAG_WRAPPING_METHOD, KMIP_WRAPPING_METHOD_ENCRYPT);
		ttlv_enc_begin(&req, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, kuid);
		ttlv_enc_begin(&req, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		ttlv_enc_enum(&req, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BLOCK_CIPHER_MODE_AESKEYWRAPPADDING);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
		ttlv_enc_enum(&req, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_OPTION_NO_ENCODING);
		ttlv_enc_end(&req);
		h_item_end(&req);
		h_request_end(&req);
		resp = call(r->cl, &req, &a, M, m);
		h_expect_ok(resp, 0);
		b = key_block(resp, KMIP_OBJECT_TYPE_PRIVATE_KEY);
		assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_PKCS_8);
		kv = wrapped_value(b, false);
		assert_true(kv->length <= sizeof(plain));
		n = unwrap_pad(kek, kv->v.bytes.data, kv->length, plain);
		assert_int_equal(n, (size_t)r->rsa_pkcs1_len);
		assert_memory_equal(plain, r->rsa_pkcs1, n);
		assert_string_equal((const char *)ttlv_find(ttlv_find(ttlv_find(b, KMIP_TAG_KEY_WRAPPING_DATA),
		    KMIP_TAG_ENCRYPTION_KEY_INFORMATION), KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data, kuid);
		ttlv_arena_free(a);
	}
}

/* compat.wrapped_key_value_structure: a wrapped Key Value registered as a Byte String comes in a structure. */
static void
test_compat_wrapped_structure(void **state)
{
	static const uint8_t wrapped[24] = { 0x64, 0xe8, 0xc3, 0xf9, 0xce, 0x0f, 0x5b, 0xa2, 0x63, 0xe9, 0x77, 0x79 };
	struct reg *r = *state;
	const struct ttlv *b, *kv;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];
	size_t v;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		register_ok(r->cl, M, m, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, wrapped, sizeof(wrapped), 1, "k" },
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT, uid);
		resp = get(r->cl, M, m, uid, 0, NULL, &a);
		h_expect_ok(resp, 0);
		b = key_block(resp, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
		kv = wrapped_value(b, true);
		assert_int_equal(kv->length, sizeof(wrapped));
		assert_memory_equal(kv->v.bytes.data, wrapped, sizeof(wrapped));
		expect_wrapping(b, "k");
		ttlv_arena_free(a);
	}
}

/* Register of a Template at 1.4 (a list of Attributes) and Get; KMIP 2.x removed it: refused there. */
static void
test_template(void **state)
{
	struct reg *r = *state;
	const struct ttlv *t, *at;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];
	int n;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_TEMPLATE);
	enc_attrs(&req, 1, 0, "register-template");
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 128);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(r->cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
	ttlv_arena_free(a);

	resp = get(r->cl, 1, 4, uid, 0, NULL, &a);
	h_expect_ok(resp, 0);
	assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32, KMIP_OBJECT_TYPE_TEMPLATE);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_TEMPLATE);
	assert_non_null(t);
	n = 0;
	for (at = ttlv_find(t, KMIP_TAG_ATTRIBUTE); at != NULL; at = ttlv_find_next(at), n++) {
		const char *name = (const char *)ttlv_find(at, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data;
		const struct ttlv *val = ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE);

		if (n == 0) {
			assert_string_equal(name, "Cryptographic Algorithm");
			assert_int_equal(val->v.u32, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		} else {
			assert_string_equal(name, "Cryptographic Length");
			assert_int_equal(val->v.i32, 128);
		}
	}
	assert_int_equal(n, 2);
	ttlv_arena_free(a);

	/* Its own attributes: its Name and Object Type, and no State (it has no lifecycle to activate). */
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(r->cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	n = 0;
	for (at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE); at != NULL; at = ttlv_find_next(at)) {
		const char *name = (const char *)ttlv_find(at, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data;

		assert_string_not_equal(name, "State");
		assert_string_not_equal(name, "Cryptographic Algorithm");
		if (strcmp(name, "Object Type") == 0) {
			assert_int_equal(ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE)->v.u32, KMIP_OBJECT_TYPE_TEMPLATE);
			n++;
		}
		if (strcmp(name, "Name") == 0) {
			assert_string_equal((const char *)ttlv_find(ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE),
			    KMIP_TAG_NAME_VALUE)->v.bytes.data, "register-template");
			n++;
		}
	}
	assert_int_equal(n, 2);
	ttlv_arena_free(a);
	h_uid_request(&req, KMIP_OPERATION_ACTIVATE, uid, 0);
	resp = call(r->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_ILLEGAL_OPERATION, NULL);
	ttlv_arena_free(a);

	/* KMIP 2.x: no Template object, to get or to register. */
	resp = get(r->cl, 2, 1, uid, 0, NULL, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, NULL);
	ttlv_arena_free(a);
	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_TEMPLATE);
	enc_attrs(&req, 2, 0, NULL);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE);
	h_attr_int(&req, "Cryptographic Length", 128);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(r->cl, &req, &a, 2, 1);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, NULL);
	ttlv_arena_free(a);

	/* An empty Template, or one holding something else than Attributes. */
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_TEMPLATE);
	enc_attrs(&req, 1, 0, NULL);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(r->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);

	/* A Template is destroyed like any object. */
	uid_ok(r->cl, 1, 4, KMIP_OPERATION_DESTROY, uid);
}

/* A PGP Key: its PGP Key Version and Key Block, given back as registered, at 1.4 and 2.1. */
static void
test_pgp_key(void **state)
{
	static const uint8_t pgp[] = { 0x99, 0x01, 0x0d, 0x04, 0x5f, 0x3a, 0x1b, 0x2c, 0x01, 0x08, 0x00, 0xc1, 0x2e };
	struct reg *r = *state;
	const struct ttlv *obj, *b, *mat;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];
	size_t v;
	int with_version;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		for (with_version = 1; with_version >= 0; with_version--) {
			h_request_begin(&req, M, m, 1);
			h_item_begin(&req, KMIP_OPERATION_REGISTER);
			ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PGP_KEY);
			enc_attrs(&req, M, KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY, NULL);
			ttlv_enc_begin(&req, KMIP_TAG_PGP_KEY);
			if (with_version)
				ttlv_enc_int(&req, KMIP_TAG_PGP_KEY_VERSION, 4);
			enc_block(&req, &(struct kb){ KMIP_KEY_FORMAT_TYPE_RAW, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048,
			    pgp, sizeof(pgp), 0, NULL });
			ttlv_enc_end(&req);
			h_item_end(&req);
			h_request_end(&req);
			resp = call(r->cl, &req, &a, M, m);
			if (!with_version) {
				h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
				ttlv_arena_free(a);
				continue;
			}
			h_expect_ok(resp, 0);
			h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
			ttlv_arena_free(a);
			resp = get(r->cl, M, m, uid, 0, NULL, &a);
			h_expect_ok(resp, 0);
			assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32, KMIP_OBJECT_TYPE_PGP_KEY);
			obj = ttlv_find(h_payload(resp, 0), KMIP_TAG_PGP_KEY);
			assert_non_null(obj);
			assert_int_equal(ttlv_find(obj, KMIP_TAG_PGP_KEY_VERSION)->v.i32, 4);
			b = ttlv_find(obj, KMIP_TAG_KEY_BLOCK);
			assert_int_equal(ttlv_find(b, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
			assert_int_equal(ttlv_find(b, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
			mat = ttlv_find(ttlv_find(b, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
			assert_int_equal(mat->length, sizeof(pgp));
			assert_memory_equal(mat->v.bytes.data, pgp, sizeof(pgp));
			ttlv_arena_free(a);
		}
	}
}

/* Asserts the Digest attribute of uid is the SHA-256 of bytes. */
static void
expect_digest(struct kmip_client *cl, int major, int minor, const char *uid, const uint8_t *bytes, size_t len)
{
	const struct ttlv *d = NULL, *at, *value;
	uint8_t md[32];
	unsigned int mdlen = sizeof(md);
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	assert_int_equal(EVP_Digest(bytes, len, md, &mdlen, EVP_sha256(), NULL), 1);
	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (major < 2)
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Digest");
	else
		ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, KMIP_TAG_DIGEST);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, major, minor);
	h_expect_ok(resp, 0);
	if (major < 2) {
		at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
		d = ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE);
	} else
		d = ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTES), KMIP_TAG_DIGEST);
	assert_non_null(d);
	value = ttlv_find(d, KMIP_TAG_DIGEST_VALUE);
	assert_non_null(value);
	assert_int_equal(value->length, 32);
	assert_memory_equal(value->v.bytes.data, md, 32);
	ttlv_arena_free(a);
}

/* An Opaque Object: its Opaque Data Type and value, as registered, at 1.4 and 2.1. */
static void
test_opaque_object(void **state)
{
	static const char blob[] = "an application's own bytes";
	struct reg *r = *state;
	const struct ttlv *obj;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];
	size_t v;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];

		h_request_begin(&req, M, m, 1);
		h_item_begin(&req, KMIP_OPERATION_REGISTER);
		ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_OPAQUE_OBJECT);
		enc_attrs(&req, M, 0, "register-opaque");
		ttlv_enc_begin(&req, KMIP_TAG_OPAQUE_OBJECT);
		ttlv_enc_enum(&req, KMIP_TAG_OPAQUE_DATA_TYPE, 0xc0000001);
		ttlv_enc_bytes(&req, KMIP_TAG_OPAQUE_DATA_VALUE, blob, sizeof(blob) - 1);
		ttlv_enc_end(&req);
		h_item_end(&req);
		h_request_end(&req);
		resp = call(r->cl, &req, &a, M, m);
		h_expect_ok(resp, 0);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
		ttlv_arena_free(a);
		resp = get(r->cl, M, m, uid, 0, NULL, &a);
		h_expect_ok(resp, 0);
		obj = ttlv_find(h_payload(resp, 0), KMIP_TAG_OPAQUE_OBJECT);
		assert_non_null(obj);
		assert_int_equal(ttlv_find(obj, KMIP_TAG_OPAQUE_DATA_TYPE)->v.u32, 0xc0000001);
		assert_int_equal(ttlv_find(obj, KMIP_TAG_OPAQUE_DATA_VALUE)->length, sizeof(blob) - 1);
		assert_memory_equal(ttlv_find(obj, KMIP_TAG_OPAQUE_DATA_VALUE)->v.bytes.data, blob, sizeof(blob) - 1);
		ttlv_arena_free(a);
		/* Its Digest (which applies to Opaque Objects) is of its bytes, whatever its Opaque Data Type. */
		expect_digest(r->cl, M, m, uid, (const uint8_t *)blob, sizeof(blob) - 1);
	}
}

/* Query lists the object types Register takes: PGP Key at every version, Template at 1.x only. */
static void
test_query_objects(void **state)
{
	struct reg *r = *state;
	const struct ttlv *t;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	size_t v;

	for (v = 0; v < 2; v++) {
		int M = versions[v][0], m = versions[v][1];
		bool pgp = false, tmpl = false;

		h_request_begin(&req, M, m, 1);
		h_item_begin(&req, KMIP_OPERATION_QUERY);
		ttlv_enc_enum(&req, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
		h_item_end(&req);
		h_request_end(&req);
		resp = call(r->cl, &req, &a, M, m);
		h_expect_ok(resp, 0);
		for (t = ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE); t != NULL; t = ttlv_find_next(t)) {
			pgp |= t->v.u32 == KMIP_OBJECT_TYPE_PGP_KEY;
			tmpl |= t->v.u32 == KMIP_OBJECT_TYPE_TEMPLATE;
		}
		assert_true(pgp);
		assert_int_equal(tmpl, M < 2);
		ttlv_arena_free(a);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_mislabelled),
		cmocka_unit_test(test_ec_raw_point),
		cmocka_unit_test(test_mislabelled_refused),
		cmocka_unit_test(test_wrapped_key),
		cmocka_unit_test(test_kept_key_wrapped_on_get),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_pgp_key),
		cmocka_unit_test(test_opaque_object),
		cmocka_unit_test(test_query_objects),
	};
	const struct CMUnitTest compat[] = {
		cmocka_unit_test(test_compat_wrapped_structure),
	};
	int failed;

	util_test_start(argc, argv);
	failed = cmocka_run_group_tests_name("register", tests, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("register_compat", compat, group_setup_compat, group_teardown);
	return failed;
}
