/*
 * Multi-part cryptography end to end against the real kmipd over mutual TLS, with kmipd's own client, at
 * KMIP 1.4 and 2.1: Hash, MAC and MAC Verify (HMAC, CMAC), Sign and Signature Verify (RSA PKCS#1 v1.5
 * and PSS, ECDSA) sent in parts under a Correlation Value, each checked against the single-part answer
 * (or the local digest); Sign and Signature Verify of Digested Data; and the refusals: a Correlation Value
 * unknown, finished, of another operation, key or connection, idle too long; more streams than
 * crypto.max_streams or crypto.max_streams_per_identity; a key revoked between parts; Digested Data of the wrong length or in parts. Also
 * RNG Seed's Data Length under crypto.rng_seed_max, and the memory one client's streams can hold.
 * One server for most tests (keygen pool of 2); the bound tests start their own with small limits.
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
#include <openssl/evp.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define CORR_MAX 64

struct mp {
	struct h_server srv;
	SSL_CTX *ctx;		/* client.crt, CN kmip-client */
	struct kmip_client *cl;
	struct kmip_client *cl2;	/* a second connection of the same identity */
	char hmac[64], cmac[64];	/* MAC keys: HMAC-SHA256, AES-256 (CMAC) */
	char rsa[64], rsa_pub[64];	/* RSA-2048 signing pair */
	char ec[64], ec_pub[64];	/* P-256 signing pair */
};

/* The two versions every test runs at. */
static const struct {
	int major, minor;
} versions[] = { { 1, 4 }, { 2, 1 } };
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

/* One request: what a crypto operation's payload carries (absent when 0, NULL or -1). */
struct req {
	uint32_t op;
	const char *uid;
	uint32_t hash, dsa, padding, mode;	/* Cryptographic Parameters */
	const void *data;
	size_t len;
	bool has_data;
	const void *digested;
	size_t dlen;
	const void *check;	/* Signature Data (Signature Verify) or MAC Data (MAC Verify) */
	size_t check_len;
	const uint8_t *corr;
	size_t corr_len;
	int init, final;
};

/* A request's answer, copied out of the response. */
struct ans {
	int status, reason;
	uint8_t out[1024];	/* Signature Data, MAC Data or Data */
	size_t out_len;
	bool has_out;
	uint8_t corr[CORR_MAX];
	size_t corr_len;
	int validity;		/* -1: none */
	char message[256];
};

/* Sends r at version (major, minor) on cl and copies the answer of its one batch item into *an. */
static void
send_req(struct kmip_client *cl, int major, int minor, const struct req *r, struct ans *an)
{
	const struct ttlv *item, *pl, *t;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	uint32_t out_tag;

	h_request_begin(&e, major, minor, 1);
	h_item_begin(&e, r->op);
	if (r->uid != NULL)
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, r->uid);
	if (r->hash != 0 || r->dsa != 0 || r->padding != 0 || r->mode != 0) {
		ttlv_enc_begin(&e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		if (r->mode != 0)
			ttlv_enc_enum(&e, KMIP_TAG_BLOCK_CIPHER_MODE, r->mode);
		if (r->padding != 0)
			ttlv_enc_enum(&e, KMIP_TAG_PADDING_METHOD, r->padding);
		if (r->hash != 0)
			ttlv_enc_enum(&e, KMIP_TAG_HASHING_ALGORITHM, r->hash);
		if (r->dsa != 0)
			ttlv_enc_enum(&e, KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM, r->dsa);
		ttlv_enc_end(&e);
	}
	if (r->has_data)
		ttlv_enc_bytes(&e, KMIP_TAG_DATA, r->data, r->len);
	if (r->digested != NULL)
		ttlv_enc_bytes(&e, KMIP_TAG_DIGESTED_DATA, r->digested, r->dlen);
	if (r->check != NULL)
		ttlv_enc_bytes(&e, r->op == KMIP_OPERATION_MAC_VERIFY ? KMIP_TAG_MAC_DATA : KMIP_TAG_SIGNATURE_DATA,
		    r->check, r->check_len);
	if (r->corr != NULL)
		ttlv_enc_bytes(&e, KMIP_TAG_CORRELATION_VALUE, r->corr, r->corr_len);
	if (r->init >= 0)
		ttlv_enc_bool(&e, KMIP_TAG_INIT_INDICATOR, r->init);
	if (r->final >= 0)
		ttlv_enc_bool(&e, KMIP_TAG_FINAL_INDICATOR, r->final);
	h_item_end(&e);
	h_request_end(&e);
	resp = h_call(cl, &e, &a);
	ttlv_enc_free(&e);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(major, minor));
	memset(an, 0, sizeof(*an));
	an->validity = -1;
	item = h_batch_item(resp, 0);
	assert_non_null(item);
	an->status = h_item_status(resp, 0);
	t = ttlv_find(item, KMIP_TAG_RESULT_REASON);
	an->reason = t != NULL ? (int)t->v.u32 : 0;
	t = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);
	if (t != NULL)
		snprintf(an->message, sizeof(an->message), "%s", (const char *)t->v.bytes.data);
	pl = h_payload(resp, 0);
	out_tag = r->op == KMIP_OPERATION_SIGN ? KMIP_TAG_SIGNATURE_DATA : r->op == KMIP_OPERATION_MAC ?
	    KMIP_TAG_MAC_DATA : KMIP_TAG_DATA;
	if (pl != NULL && (t = ttlv_find(pl, out_tag)) != NULL) {
		assert_true(t->length <= sizeof(an->out));
		memcpy(an->out, t->v.bytes.data, t->length);
		an->out_len = t->length;
		an->has_out = true;
	}
	if (pl != NULL && (t = ttlv_find(pl, KMIP_TAG_CORRELATION_VALUE)) != NULL) {
		assert_true(t->length > 0 && t->length <= CORR_MAX);
		memcpy(an->corr, t->v.bytes.data, t->length);
		an->corr_len = t->length;
	}
	if (pl != NULL && (t = ttlv_find(pl, KMIP_TAG_VALIDITY_INDICATOR)) != NULL)
		an->validity = (int)t->v.u32;
	ttlv_arena_free(a);
}

/* Asserts the answer succeeded. */
static void
ok(const struct ans *an)
{
	if (an->status != KMIP_RESULT_STATUS_SUCCESS)
		print_error("unexpected failure 0x%x: %s\n", an->reason, an->message);
	assert_int_equal(an->status, KMIP_RESULT_STATUS_SUCCESS);
}

/* Asserts the answer failed with reason and a Result Message. */
static void
failed(const struct ans *an, int reason)
{
	if (an->status != KMIP_RESULT_STATUS_OPERATION_FAILED || an->reason != reason)
		print_error("status %d reason 0x%x (wanted 0x%x): %s\n", an->status, an->reason, reason, an->message);
	assert_int_equal(an->status, KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(an->reason, reason);
	assert_true(an->message[0] != '\0');
}

/* The reason a Correlation Value naming nothing gets at version major. */
static int
bad_corr(int major)
{
	return major >= 2 ? KMIP_RESULT_REASON_INVALID_CORRELATION_VALUE : KMIP_RESULT_REASON_INVALID_FIELD;
}

/*
 * Runs op r over msg in three parts (first, middle, last: Init, Correlation Value, Final) and copies
 * the last answer into *last; the first two must answer a Correlation Value and no result yet.
 */
static void
in_parts(struct kmip_client *cl, int major, int minor, const struct req *r, const uint8_t *msg, size_t len,
    struct ans *last)
{
	size_t cut1 = len / 3, cut2 = 2 * len / 3;
	struct req p = *r;
	struct ans a1, a2;

	p.has_data = true;
	p.data = msg;
	p.len = cut1;
	p.init = 1;
	p.final = 0;
	p.check = NULL;
	send_req(cl, major, minor, &p, &a1);
	ok(&a1);
	assert_int_equal(a1.corr_len, 16);
	assert_false(a1.has_out);
	if (r->op == KMIP_OPERATION_SIGNATURE_VERIFY || r->op == KMIP_OPERATION_MAC_VERIFY)
		assert_int_equal(a1.validity, KMIP_VALIDITY_INDICATOR_UNKNOWN);
	/* Later parts name the key (or not: the stream knows it), with no parameters. */
	p.hash = p.dsa = p.padding = p.mode = 0;
	p.data = msg + cut1;
	p.len = cut2 - cut1;
	p.init = -1;
	p.corr = a1.corr;
	p.corr_len = a1.corr_len;
	p.uid = NULL;
	send_req(cl, major, minor, &p, &a2);
	ok(&a2);
	assert_memory_equal(a2.corr, a1.corr, 16);
	assert_false(a2.has_out);
	p.uid = r->uid;
	p.data = msg + cut2;
	p.len = len - cut2;
	p.final = 1;
	p.check = r->check;
	send_req(cl, major, minor, &p, last);
	if (last->status == KMIP_RESULT_STATUS_SUCCESS) {
		assert_int_equal(last->corr_len, 0);
		/* Finished: its Correlation Value names nothing now. */
		p.final = 1;
		send_req(cl, major, minor, &p, &a2);
		failed(&a2, bad_corr(major));
	}
}

/* Runs r over msg in one request. */
static void
whole(struct kmip_client *cl, int major, int minor, const struct req *r, const uint8_t *msg, size_t len,
    struct ans *an)
{
	struct req p = *r;

	p.has_data = true;
	p.data = msg;
	p.len = len;
	send_req(cl, major, minor, &p, an);
}

/* Sends a 1.4 request of one item naming uid (Activate, Revoke) and asserts it succeeded. */
static void
uid_op_ok(struct kmip_client *cl, uint32_t op, const char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_uid_request(&e, op, uid, op == KMIP_OPERATION_REVOKE ? KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION :
	    0);
	resp = h_call(cl, &e, &a);
	ttlv_enc_free(&e);
	assert_non_null(resp);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	ttlv_arena_free(a);
}

/* Creates and activates a symmetric key of alg and bits for MAC at 1.4; its identifier into uid. */
static void
create_mac_key(struct kmip_client *cl, uint32_t alg, int bits, char *uid)
{
	const struct ttlv *t;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&e, "Cryptographic Algorithm", alg);
	h_attr_int(&e, "Cryptographic Length", bits);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_VERIFY);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = h_call(cl, &e, &a);
	ttlv_enc_free(&e);
	assert_non_null(resp);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER);
	assert_non_null(t);
	snprintf(uid, 64, "%s", (const char *)t->v.bytes.data);
	ttlv_arena_free(a);
	uid_op_ok(cl, KMIP_OPERATION_ACTIVATE, uid);
}

/* Creates and activates a signing key pair at 1.4 (RSA-2048, or EC P-256 when curve is set). */
static void
create_pair(struct kmip_client *cl, uint32_t alg, int bits, uint32_t curve, char *priv, char *pub)
{
	const struct ttlv *t;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&e, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&e, "Cryptographic Algorithm", alg);
	h_attr_int(&e, "Cryptographic Length", bits);
	if (curve != 0) {
		ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Domain Parameters");
		ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTE_VALUE);
		ttlv_enc_enum(&e, KMIP_TAG_RECOMMENDED_CURVE, curve);
		ttlv_enc_end(&e);
		ttlv_enc_end(&e);
	}
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	resp = h_call(cl, &e, &a);
	ttlv_enc_free(&e);
	assert_non_null(resp);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER);
	snprintf(priv, 64, "%s", (const char *)t->v.bytes.data);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER);
	snprintf(pub, 64, "%s", (const char *)t->v.bytes.data);
	ttlv_arena_free(a);
	uid_op_ok(cl, KMIP_OPERATION_ACTIVATE, priv);
	uid_op_ok(cl, KMIP_OPERATION_ACTIVATE, pub);
}

/* Starts one kmipd with the given overrides and connects client.crt twice. */
static struct mp *
mp_start(const char *const *overrides)
{
	struct mp *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	h_start(&m->srv, overrides);
	m->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	m->cl = h_connect(&m->srv, m->ctx);
	m->cl2 = h_connect(&m->srv, m->ctx);
	return m;
}

static void
mp_stop(struct mp *m)
{
	if (m == NULL)
		return;
	kmip_client_close(m->cl);
	kmip_client_close(m->cl2);
	SSL_CTX_free(m->ctx);
	h_cleanup(&m->srv);
	free(m);
}

/* The main server, with the keys the tests use. */
static int
group_setup(void **state)
{
	struct mp *m = mp_start((const char *const[]){ "keygen.pool_size=2", NULL });

	create_mac_key(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, 256, m->hmac);
	create_mac_key(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, m->cmac);
	create_pair(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, 0, m->rsa, m->rsa_pub);
	create_pair(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, 256, KMIP_RECOMMENDED_CURVE_P_256, m->ec, m->ec_pub);
	*state = m;
	return 0;
}

static int
group_teardown(void **state)
{
	mp_stop(*state);
	return 0;
}

/* A message of n bytes, not all alike. */
static void
message(uint8_t *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
}

static void open_stream(struct kmip_client *cl, int maj, int min, const struct req *r, uint8_t *corr);

/*
 * Hash in parts gives the digest of the whole message (SHA-256 and SHA-512), at 1.4 and 2.1; a last part
 * without Data closes the stream.
 */
static void
test_hash_parts(void **state)
{
	struct mp *m = *state;
	uint8_t msg[1000], want[64], corr[16];
	unsigned int wlen;
	struct ans an;
	size_t v;

	message(msg, sizeof(msg));
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		assert_int_equal(EVP_Digest(msg, sizeof(msg), want, &wlen, EVP_sha256(), NULL), 1);
		in_parts(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH,
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = -1, .final = -1 }, msg, sizeof(msg), &an);
		ok(&an);
		assert_int_equal(an.out_len, wlen);
		assert_memory_equal(an.out, want, wlen);
		assert_int_equal(EVP_Digest(msg, sizeof(msg), want, &wlen, EVP_sha512(), NULL), 1);
		in_parts(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH,
		    .hash = KMIP_HASHING_ALGORITHM_SHA_512, .init = -1, .final = -1 }, msg, sizeof(msg), &an);
		ok(&an);
		assert_int_equal(an.out_len, 64);
		assert_memory_equal(an.out, want, 64);
		/* The last part may carry no Data: the digest of what came before. */
		open_stream(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH,
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = -1, .final = -1 }, corr);
		send_req(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH, .corr = corr, .corr_len = 16,
		    .init = -1, .final = 1 }, &an);
		ok(&an);
		assert_int_equal(EVP_Digest("abc", 3, want, &wlen, EVP_sha256(), NULL), 1);
		assert_int_equal(an.out_len, 32);
		assert_memory_equal(an.out, want, 32);
	}
}

/* MAC in parts equals the single-part MAC (HMAC-SHA256, AES CMAC); MAC Verify in parts checks it. */
static void
test_mac_parts(void **state)
{
	struct mp *m = *state;
	const char *keys[2] = { m->hmac, m->cmac };
	uint8_t msg[777];
	struct ans one, parts;
	size_t v, k;

	message(msg, sizeof(msg));
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		for (k = 0; k < 2; k++) {
			struct req r = { .op = KMIP_OPERATION_MAC, .uid = keys[k], .init = -1, .final = -1 };

			whole(m->cl, maj, min, &r, msg, sizeof(msg), &one);
			ok(&one);
			assert_int_equal(one.out_len, k == 0 ? 32 : 16);
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &parts);
			ok(&parts);
			assert_int_equal(parts.out_len, one.out_len);
			assert_memory_equal(parts.out, one.out, one.out_len);
			r.op = KMIP_OPERATION_MAC_VERIFY;
			r.check = one.out;
			r.check_len = one.out_len;
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &parts);
			ok(&parts);
			assert_int_equal(parts.validity, KMIP_VALIDITY_INDICATOR_VALID);
			one.out[0] ^= 1;
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &parts);
			ok(&parts);
			assert_int_equal(parts.validity, KMIP_VALIDITY_INDICATOR_INVALID);
		}
	}
}

/*
 * Sign in parts and Signature Verify in parts, RSA PKCS#1 v1.5 (deterministic: the same signature as in
 * one request), RSA PSS and ECDSA (checked by the other side: a signature made in parts verifies in one
 * request and the reverse; a corrupted one does not).
 */
static void
test_sign_parts(void **state)
{
	struct mp *m = *state;
	uint8_t msg[2000];
	struct ans one, parts;
	size_t v, s;
	const struct {
		const char *priv, *pub;
		uint32_t hash, dsa, padding;
		bool deterministic;
	} schemes[] = {
		{ m->rsa, m->rsa_pub, 0, KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_256_WITH_RSA_ENCRYPTION, 0, true },
		{ m->rsa, m->rsa_pub, KMIP_HASHING_ALGORITHM_SHA_384, 0, KMIP_PADDING_METHOD_PKCS1_V1_5, true },
		{ m->rsa, m->rsa_pub, KMIP_HASHING_ALGORITHM_SHA_256, 0, KMIP_PADDING_METHOD_PSS, false },
		{ m->ec, m->ec_pub, 0, KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256, 0, false },
		{ m->ec, m->ec_pub, KMIP_HASHING_ALGORITHM_SHA_384, 0, 0, false },
	};

	message(msg, sizeof(msg));
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		for (s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
			struct req r = { .op = KMIP_OPERATION_SIGN, .uid = schemes[s].priv, .hash = schemes[s].hash,
			    .dsa = schemes[s].dsa, .padding = schemes[s].padding, .init = -1, .final = -1 };
			struct ans chk;

			whole(m->cl, maj, min, &r, msg, sizeof(msg), &one);
			ok(&one);
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &parts);
			ok(&parts);
			assert_true(parts.out_len > 0);
			if (schemes[s].deterministic) {
				assert_int_equal(parts.out_len, one.out_len);
				assert_memory_equal(parts.out, one.out, one.out_len);
			}
			/* The signature made in parts verifies in one request... */
			r.op = KMIP_OPERATION_SIGNATURE_VERIFY;
			r.uid = schemes[s].pub;
			r.check = parts.out;
			r.check_len = parts.out_len;
			whole(m->cl, maj, min, &r, msg, sizeof(msg), &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_VALID);
			/* ...and the one made in one request verifies in parts; corrupted, it does not. */
			r.check = one.out;
			r.check_len = one.out_len;
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_VALID);
			one.out[one.out_len / 2] ^= 0x40;
			in_parts(m->cl, maj, min, &r, msg, sizeof(msg), &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_INVALID);
		}
	}
}

/*
 * Sign and Signature Verify of Digested Data: RSA PKCS#1 v1.5 of the SHA-256 digest is the signature of
 * the message (the DigestInfo names SHA-256), and of a SHA-512 digest too; PSS and ECDSA signatures of
 * the digest verify as the message's and the reverse. A digest of another length than the hash's, and
 * Digested Data in parts, are Invalid Field.
 */
static void
test_digested(void **state)
{
	struct mp *m = *state;
	uint8_t msg[300], d256[32], d512[64];
	unsigned int n;
	struct ans one, dig, chk;
	size_t v, s;
	const struct {
		const char *priv, *pub;
		uint32_t hash, padding;
		const uint8_t *digest;
		size_t dlen;
		bool deterministic;
	} schemes[] = {
		{ m->rsa, m->rsa_pub, KMIP_HASHING_ALGORITHM_SHA_256, KMIP_PADDING_METHOD_PKCS1_V1_5, d256, 32, true },
		{ m->rsa, m->rsa_pub, KMIP_HASHING_ALGORITHM_SHA_512, KMIP_PADDING_METHOD_PKCS1_V1_5, d512, 64, true },
		{ m->rsa, m->rsa_pub, KMIP_HASHING_ALGORITHM_SHA_256, KMIP_PADDING_METHOD_PSS, d256, 32, false },
		{ m->ec, m->ec_pub, KMIP_HASHING_ALGORITHM_SHA_256, 0, d256, 32, false },
		{ m->ec, m->ec_pub, KMIP_HASHING_ALGORITHM_SHA_512, 0, d512, 64, false },
	};

	message(msg, sizeof(msg));
	assert_int_equal(EVP_Digest(msg, sizeof(msg), d256, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_Digest(msg, sizeof(msg), d512, &n, EVP_sha512(), NULL), 1);
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		for (s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
			struct req r = { .op = KMIP_OPERATION_SIGN, .uid = schemes[s].priv, .hash = schemes[s].hash,
			    .padding = schemes[s].padding, .init = -1, .final = -1 };
			struct req rd = r;

			whole(m->cl, maj, min, &r, msg, sizeof(msg), &one);
			ok(&one);
			rd.digested = schemes[s].digest;
			rd.dlen = schemes[s].dlen;
			send_req(m->cl, maj, min, &rd, &dig);
			ok(&dig);
			if (schemes[s].deterministic) {
				assert_int_equal(dig.out_len, one.out_len);
				assert_memory_equal(dig.out, one.out, one.out_len);
			}
			/* The digest's signature verifies as the message's... */
			r.op = KMIP_OPERATION_SIGNATURE_VERIFY;
			r.uid = schemes[s].pub;
			r.check = dig.out;
			r.check_len = dig.out_len;
			whole(m->cl, maj, min, &r, msg, sizeof(msg), &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_VALID);
			/* ...and the message's verifies on the digest; not on another digest. */
			rd.op = KMIP_OPERATION_SIGNATURE_VERIFY;
			rd.uid = schemes[s].pub;
			rd.check = one.out;
			rd.check_len = one.out_len;
			send_req(m->cl, maj, min, &rd, &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_VALID);
			rd.digested = schemes[s].digest == d256 ? d512 : d256;
			rd.dlen = schemes[s].digest == d256 ? 64 : 32;
			rd.hash = schemes[s].digest == d256 ? KMIP_HASHING_ALGORITHM_SHA_512 : KMIP_HASHING_ALGORITHM_SHA_256;
			send_req(m->cl, maj, min, &rd, &chk);
			ok(&chk);
			assert_int_equal(chk.validity, KMIP_VALIDITY_INDICATOR_INVALID);

			/* A digest whose length is not the hash's: refused, signing and verifying. */
			rd = r;
			rd.op = KMIP_OPERATION_SIGN;
			rd.uid = schemes[s].priv;
			rd.check = NULL;
			rd.digested = d256;
			rd.dlen = schemes[s].dlen == 32 ? 20 : 32;
			send_req(m->cl, maj, min, &rd, &chk);
			failed(&chk, KMIP_RESULT_REASON_INVALID_FIELD);
			rd.op = KMIP_OPERATION_SIGNATURE_VERIFY;
			rd.uid = schemes[s].pub;
			rd.check = one.out;
			rd.check_len = one.out_len;
			send_req(m->cl, maj, min, &rd, &chk);
			failed(&chk, KMIP_RESULT_REASON_INVALID_FIELD);
			/* Digested Data is whole: never the first part of a stream. */
			rd.op = KMIP_OPERATION_SIGN;
			rd.uid = schemes[s].priv;
			rd.check = NULL;
			rd.dlen = schemes[s].dlen;
			rd.digested = schemes[s].digest;
			rd.init = 1;
			rd.final = 0;
			send_req(m->cl, maj, min, &rd, &chk);
			failed(&chk, KMIP_RESULT_REASON_INVALID_FIELD);
		}
	}
}

/* Opens a stream of r's operation over data "abc" and copies its Correlation Value into corr (16 bytes). */
static void
open_stream(struct kmip_client *cl, int maj, int min, const struct req *r, uint8_t *corr)
{
	struct req p = *r;
	struct ans an;

	p.has_data = true;
	p.data = "abc";
	p.len = 3;
	p.init = 1;
	p.final = 0;
	send_req(cl, maj, min, &p, &an);
	ok(&an);
	assert_int_equal(an.corr_len, 16);
	memcpy(corr, an.corr, 16);
}

/* Sends the last part of a stream: op over "def" with the Correlation Value corr (and uid, if set). */
static void
close_stream(struct kmip_client *cl, int maj, int min, uint32_t op, const char *uid, const uint8_t *corr,
    struct ans *an)
{
	send_req(cl, maj, min, &(struct req){ .op = op, .uid = uid, .has_data = true, .data = "def", .len = 3,
	    .corr = corr, .corr_len = 16, .init = -1, .final = 1, .check = op == KMIP_OPERATION_SIGNATURE_VERIFY ||
	    op == KMIP_OPERATION_MAC_VERIFY ? "xxxx" : NULL, .check_len = 4 }, an);
}

/*
 * Opens a stream as open_stream does once the server has seen an earlier hang-up give the identity's
 * streams back: it reads the connection's end in its own time, so allow 2 s (generously).
 */
static void
open_after_hangup(struct kmip_client *cl, const struct req *r, uint8_t *corr)
{
	struct req p = *r;
	struct ans an;
	int i;

	p.has_data = true;
	p.data = "abc";
	p.len = 3;
	p.init = 1;
	p.final = 0;
	for (i = 0; i < 40; i++) {
		send_req(cl, 2, 1, &p, &an);
		if (an.status == KMIP_RESULT_STATUS_SUCCESS)
			break;
		failed(&an, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED);
		h_sleep_ms(50);
	}
	ok(&an);
	assert_int_equal(an.corr_len, 16);
	memcpy(corr, an.corr, 16);
}

/*
 * A Correlation Value that names no stream of this connection, operation and key: unknown, of another
 * connection (same identity), of another operation, with another key, or a later part without one.
 * None of these ends the stream for its owner, who still finishes it.
 */
static void
test_bad_correlation(void **state)
{
	struct mp *m = *state;
	static const uint8_t unknown[16] = { 0x55, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t corr[16], hcorr[16];
	struct ans an;
	size_t v;

	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		close_stream(m->cl, maj, min, KMIP_OPERATION_MAC, m->hmac, unknown, &an);
		failed(&an, bad_corr(maj));
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, unknown, &an);
		failed(&an, bad_corr(maj));
		/* A value of the wrong length is no Correlation Value either. */
		send_req(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH, .has_data = true, .data = "x",
		    .len = 1, .corr = unknown, .corr_len = 5, .init = -1, .final = 1 }, &an);
		failed(&an, bad_corr(maj));

		open_stream(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_MAC, .uid = m->hmac, .init = -1,
		    .final = -1 }, corr);
		open_stream(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH,
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = -1, .final = -1 }, hcorr);
		/* Another connection of the same identity. */
		close_stream(m->cl2, maj, min, KMIP_OPERATION_MAC, m->hmac, corr, &an);
		failed(&an, bad_corr(maj));
		/* Another operation: MAC Verify, Sign, Hash with the MAC's value; MAC with the Hash's. */
		close_stream(m->cl, maj, min, KMIP_OPERATION_MAC_VERIFY, m->hmac, corr, &an);
		failed(&an, bad_corr(maj));
		close_stream(m->cl, maj, min, KMIP_OPERATION_SIGN, m->rsa, corr, &an);
		failed(&an, bad_corr(maj));
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, corr, &an);
		failed(&an, bad_corr(maj));
		close_stream(m->cl, maj, min, KMIP_OPERATION_MAC, m->hmac, hcorr, &an);
		failed(&an, bad_corr(maj));
		/* Another key. */
		close_stream(m->cl, maj, min, KMIP_OPERATION_MAC, m->cmac, corr, &an);
		failed(&an, bad_corr(maj));
		/* A later part without its Correlation Value. */
		send_req(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_MAC, .uid = m->hmac, .has_data = true,
		    .data = "def", .len = 3, .init = 0, .final = 1 }, &an);
		failed(&an, KMIP_RESULT_REASON_INVALID_FIELD);
		/* The owner finishes both. */
		close_stream(m->cl, maj, min, KMIP_OPERATION_MAC, m->hmac, corr, &an);
		ok(&an);
		assert_int_equal(an.out_len, 32);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, hcorr, &an);
		ok(&an);
		assert_int_equal(an.out_len, 32);
	}
}

/* A key revoked between two parts ends its stream: the next part is refused (Wrong Key Lifecycle State). */
static void
test_revoked_between_parts(void **state)
{
	struct mp *m = *state;
	uint8_t corr[16];
	char key[64];
	struct ans an;

	create_mac_key(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, 256, key);
	open_stream(m->cl, 2, 1, &(struct req){ .op = KMIP_OPERATION_MAC, .uid = key, .init = -1, .final = -1 },
	    corr);
	uid_op_ok(m->cl, KMIP_OPERATION_REVOKE, key);
	close_stream(m->cl, 2, 1, KMIP_OPERATION_MAC, key, corr, &an);
	failed(&an, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE);
	/* and the stream is gone. */
	close_stream(m->cl, 2, 1, KMIP_OPERATION_MAC, key, corr, &an);
	failed(&an, KMIP_RESULT_REASON_INVALID_CORRELATION_VALUE);
}

/*
 * crypto.max_streams bounds the streams of one connection (2 here): the third is Server Limit Exceeded
 * (1.4: Permission Denied), another connection has its own, and finishing one makes room.
 * crypto.stream_idle_timeout (1 s here) discards a stream that waits: its Correlation Value then
 * names nothing, and it no longer counts.
 */
static void
test_stream_bounds(void **state)
{
	struct mp *m = mp_start((const char *const[]){ "keygen.pool_size=0", "crypto.max_streams=2",
	    "crypto.stream_idle_timeout=1", NULL });
	struct req hash = { .op = KMIP_OPERATION_HASH, .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = 1,
	    .final = 0, .has_data = true, .data = "abc", .len = 3 };
	uint8_t c1[16], c2[16], c3[16];
	struct ans an;
	size_t v;

	(void)state;
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;

		open_stream(m->cl, maj, min, &hash, c1);
		open_stream(m->cl, maj, min, &hash, c2);
		send_req(m->cl, maj, min, &hash, &an);
		failed(&an, maj >= 2 ? KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED : KMIP_RESULT_REASON_PERMISSION_DENIED);
		/* A single-part request is no stream: still answered. */
		send_req(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_HASH,
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .has_data = true, .data = "abc", .len = 3, .init = -1,
		    .final = -1 }, &an);
		ok(&an);
		open_stream(m->cl2, maj, min, &hash, c3);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c1, &an);
		ok(&an);
		open_stream(m->cl, maj, min, &hash, c1);
		/* Idle longer than 1 s: discarded, and room for two new ones. */
		h_sleep_ms(2300);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c2, &an);
		failed(&an, bad_corr(maj));
		close_stream(m->cl2, maj, min, KMIP_OPERATION_HASH, NULL, c3, &an);
		failed(&an, bad_corr(maj));
		open_stream(m->cl, maj, min, &hash, c1);
		open_stream(m->cl, maj, min, &hash, c2);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c1, &an);
		ok(&an);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c2, &an);
		ok(&an);
	}
	mp_stop(m);
}

/*
 * crypto.max_streams_per_identity (3 here, with 2 per connection) bounds one identity's streams over all
 * its connections: a third connection of kmip-client is refused where another identity (kmip-admin) is
 * not, and it gets room once one of the identity's streams ends (or its connection closes).
 */
static void
test_stream_bounds_identity(void **state)
{
	struct mp *m = mp_start((const char *const[]){ "keygen.pool_size=0", "crypto.max_streams=2",
	    "crypto.max_streams_per_identity=3", NULL });
	struct req hash = { .op = KMIP_OPERATION_HASH, .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = 1,
	    .final = 0, .has_data = true, .data = "abc", .len = 3 };
	SSL_CTX *admin_ctx = h_client_ctx(h_cert("admin.crt"), h_cert("admin.key"), NULL, TLS1_2_VERSION, 0);
	struct kmip_client *cl3 = h_connect(&m->srv, m->ctx), *admin = h_connect(&m->srv, admin_ctx);
	uint8_t c[4][16];
	struct ans an;
	size_t v;

	(void)state;
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;
		int limit = maj >= 2 ? KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED : KMIP_RESULT_REASON_PERMISSION_DENIED;

		open_stream(m->cl, maj, min, &hash, c[0]);
		open_stream(m->cl, maj, min, &hash, c[1]);
		open_stream(m->cl2, maj, min, &hash, c[2]);
		send_req(m->cl2, maj, min, &hash, &an);
		failed(&an, limit);
		send_req(cl3, maj, min, &hash, &an);
		failed(&an, limit);
		open_stream(admin, maj, min, &hash, c[3]);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c[0], &an);
		ok(&an);
		open_stream(cl3, maj, min, &hash, c[0]);
		close_stream(cl3, maj, min, KMIP_OPERATION_HASH, NULL, c[0], &an);
		ok(&an);
		close_stream(m->cl, maj, min, KMIP_OPERATION_HASH, NULL, c[1], &an);
		ok(&an);
		close_stream(m->cl2, maj, min, KMIP_OPERATION_HASH, NULL, c[2], &an);
		ok(&an);
		close_stream(admin, maj, min, KMIP_OPERATION_HASH, NULL, c[3], &an);
		ok(&an);
	}
	/* A connection that closes gives its streams back. */
	open_stream(cl3, 2, 1, &hash, c[0]);
	open_stream(cl3, 2, 1, &hash, c[1]);
	open_stream(m->cl, 2, 1, &hash, c[2]);
	send_req(m->cl2, 2, 1, &hash, &an);
	failed(&an, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED);
	kmip_client_close(cl3);
	open_after_hangup(m->cl2, &hash, c[3]);
	open_stream(m->cl2, 2, 1, &hash, c[0]);
	kmip_client_close(admin);
	SSL_CTX_free(admin_ctx);
	mp_stop(m);
}

/*
 * A connection busy with other requests gives its idle streams back to its identity: after
 * crypto.stream_idle_timeout (1 s), a single-part request on it is enough for another of its connections
 * to open streams under crypto.max_streams_per_identity (2) again.
 */
static void
test_idle_streams_released(void **state)
{
	struct mp *m = mp_start((const char *const[]){ "keygen.pool_size=0", "crypto.max_streams_per_identity=2",
	    "crypto.stream_idle_timeout=1", NULL });
	struct req hash = { .op = KMIP_OPERATION_HASH, .hash = KMIP_HASHING_ALGORITHM_SHA_256, .init = 1,
	    .final = 0, .has_data = true, .data = "abc", .len = 3 };
	uint8_t c1[16], c2[16];
	struct ans an;

	(void)state;
	open_stream(m->cl, 2, 1, &hash, c1);
	open_stream(m->cl, 2, 1, &hash, c2);
	send_req(m->cl2, 2, 1, &hash, &an);
	failed(&an, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED);
	h_sleep_ms(2300);
	send_req(m->cl, 1, 4, &(struct req){ .op = KMIP_OPERATION_HASH, .hash = KMIP_HASHING_ALGORITHM_SHA_256,
	    .has_data = true, .data = "abc", .len = 3, .init = -1, .final = -1 }, &an);
	ok(&an);
	open_stream(m->cl2, 2, 1, &hash, c1);
	open_stream(m->cl2, 2, 1, &hash, c2);
	mp_stop(m);
}

/*
 * Memory: one client's 10 connections try to hold 10 RSA-2048 signing streams each, fed 512 KB apiece:
 * each connection gets crypto.max_streams (8) until the identity holds crypto.max_streams_per_identity
 * (64), every further one is refused, and the server grows by less than 32 MB (the streams keep a
 * digest state and the key, not the data). A server of its own, so that make asan can measure it.
 */
static void
test_stream_memory(void **state)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char *saved = NULL, opts[512];
	struct mp *m;
	enum { NCONN = 10, TRY = 10 };
	struct kmip_client *cls[NCONN];
	static uint8_t big[512 * 1024];
	struct req open = { .op = KMIP_OPERATION_SIGN, .has_data = true, .data = "abc", .len = 3,
	    .dsa = KMIP_DIGITAL_SIGNATURE_ALGORITHM_SHA_256_WITH_RSA_ENCRYPTION, .init = 1, .final = 0 };
	uint8_t corr[16];
	long before, after;
	struct ans an;
	size_t i, j, held = 0;

	(void)state;
	/* Under make asan freed memory waits in a quarantine that RSS counts: this kmipd runs without one. */
	if (asan != NULL) {
		assert_non_null(saved = strdup(asan));
		snprintf(opts, sizeof(opts), "%s:quarantine_size_mb=0", asan);
		setenv("ASAN_OPTIONS", opts, 1);
	}
	m = mp_start((const char *const[]){ "keygen.pool_size=0", NULL });
	if (saved != NULL) {
		setenv("ASAN_OPTIONS", saved, 1);
		free(saved);
	}
	create_pair(m->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, 0, m->rsa, m->rsa_pub);
	open.uid = m->rsa;
	message(big, sizeof(big));
	before = h_rss_kb(&m->srv);
	for (i = 0; i < NCONN; i++) {
		cls[i] = h_connect(&m->srv, m->ctx);
		for (j = 0; j < TRY; j++) {
			send_req(cls[i], 2, 1, &open, &an);
			if (j >= 8 || held >= 64) {
				failed(&an, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED);
				continue;
			}
			ok(&an);
			held++;
			send_req(cls[i], 2, 1, &(struct req){ .op = KMIP_OPERATION_SIGN, .has_data = true,
			    .data = big, .len = sizeof(big), .corr = an.corr, .corr_len = 16, .init = -1, .final = 0 },
			    &an);
			ok(&an);
		}
	}
	assert_int_equal(held, 64);
	after = h_rss_kb(&m->srv);
	print_message("kmipd RSS %ld KB before, %ld KB with %zu signing streams fed 512 KB each\n", before, after,
	    held);
	assert_true(after - before < 32 * 1024);
	for (i = 0; i < NCONN; i++)
		kmip_client_close(cls[i]);
	/* The hang-ups gave the identity's streams back. */
	open_after_hangup(m->cl, &open, corr);
	close_stream(m->cl, 2, 1, KMIP_OPERATION_SIGN, m->rsa, corr, &an);
	ok(&an);
	in_parts(m->cl, 2, 1, &(struct req){ .op = KMIP_OPERATION_HASH, .hash = KMIP_HASHING_ALGORITHM_SHA_256,
	    .init = -1, .final = -1 }, big, 999, &an);
	ok(&an);
	mp_stop(m);
}

/*
 * RNG Seed answers the bytes it took: all of a seed up to crypto.rng_seed_max (64 by default), that many
 * of a longer one; with crypto.rng_seed_max 16 and 0 (another server), 16 and none. No Data is Invalid
 * Field.
 */
static void
test_rng_seed(void **state)
{
	struct mp *m = *state, *small;
	uint8_t seed[200];
	struct ans an;
	size_t v;

	message(seed, sizeof(seed));
	for (v = 0; v < NVERSIONS; v++) {
		int maj = versions[v].major, min = versions[v].minor;
		struct ttlv_arena *a;
		struct ttlv_enc e;
		struct ttlv *resp;
		size_t k;
		static const struct {
			size_t given;
			int32_t taken;
		} cases[] = { { 32, 32 }, { 64, 64 }, { 200, 64 }, { 1, 1 } };

		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			h_request_begin(&e, maj, min, 1);
			h_item_begin(&e, KMIP_OPERATION_RNG_SEED);
			ttlv_enc_bytes(&e, KMIP_TAG_DATA, seed, cases[k].given);
			h_item_end(&e);
			h_request_end(&e);
			resp = h_call(m->cl, &e, &a);
			ttlv_enc_free(&e);
			assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
			assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_DATA_LENGTH)->v.i32, cases[k].taken);
			ttlv_arena_free(a);
		}
		send_req(m->cl, maj, min, &(struct req){ .op = KMIP_OPERATION_RNG_SEED, .init = -1, .final = -1 }, &an);
		failed(&an, KMIP_RESULT_REASON_INVALID_FIELD);
	}
	for (v = 0; v < 2; v++) {
		struct ttlv_arena *a;
		struct ttlv_enc e;
		struct ttlv *resp;

		small = mp_start((const char *const[]){ "keygen.pool_size=0",
		    v == 0 ? "crypto.rng_seed_max=16" : "crypto.rng_seed_max=0", NULL });
		h_request_begin(&e, 2, 1, 1);
		h_item_begin(&e, KMIP_OPERATION_RNG_SEED);
		ttlv_enc_bytes(&e, KMIP_TAG_DATA, seed, 32);
		h_item_end(&e);
		h_request_end(&e);
		resp = h_call(small->cl, &e, &a);
		ttlv_enc_free(&e);
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
		assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_DATA_LENGTH)->v.i32, v == 0 ? 16 : 0);
		ttlv_arena_free(a);
		mp_stop(small);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_parts),
		cmocka_unit_test(test_mac_parts),
		cmocka_unit_test(test_sign_parts),
		cmocka_unit_test(test_digested),
		cmocka_unit_test(test_bad_correlation),
		cmocka_unit_test(test_revoked_between_parts),
		cmocka_unit_test(test_stream_bounds),
		cmocka_unit_test(test_stream_bounds_identity),
		cmocka_unit_test(test_idle_streams_released),
		cmocka_unit_test(test_stream_memory),
		cmocka_unit_test(test_rng_seed),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("multipart", tests, group_setup, group_teardown);
}
