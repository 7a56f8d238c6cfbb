/*
 * Unit tests for keyfmt: every Key Format Type exported and imported back to the same canonical bytes, the
 * Transparent fields against OpenSSL's own values, the defaults, refusals of formats that do not apply and of
 * malformed material, the helpers, and three OASIS test-case keys (KMIP 2.1 BL-M-6, 8, 9 and 11) read from
 * the vectors folder.
 *
 * Keys are generated once for the whole group (RSA-2048 costs about 0.35 s); each test gets its own arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/engine/keyfmt.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/util.h"

#define NCURVES 3

#define KFT(x) KMIP_KEY_FORMAT_TYPE_##x
#define OT(x) KMIP_OBJECT_TYPE_##x

/* Keys shared by the whole group. */
static struct {
	EVP_PKEY *rsa, *rsa1024, *ec[NCURVES];
	struct keyfmt_key rsa_priv, rsa_pub, rsa1024_priv, rsa1024_pub, ec_priv[NCURVES], ec_pub[NCURVES];
	uint8_t *cert, *ec_cert;
	size_t cert_len, ec_cert_len;
} K;

static const char *curve_names[NCURVES] = { "P-256", "P-384", "P-521" };
static const uint32_t curve_enums[NCURVES] = {
	KMIP_RECOMMENDED_CURVE_P_256, KMIP_RECOMMENDED_CURVE_P_384, KMIP_RECOMMENDED_CURVE_P_521,
};
static const uint32_t curve_bits[NCURVES] = { 256, 384, 521 };

/* Per-test state: an arena for hand-built items and the arenas of decoded exports. */
struct state {
	struct ttlv_arena *a;
	struct ttlv_arena **decoded;
	size_t ndecoded;
};

/* Encodes a key with OpenSSL's encoder (for material keyfmt does not produce itself). */
static void
ossl_encode(EVP_PKEY *pkey, int selection, const char *structure, uint8_t **der, size_t *len)
{
	OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "DER", structure, NULL);

	assert_non_null(ectx);
	*der = NULL;
	assert_true(OSSL_ENCODER_to_data(ectx, der, len) == 1);
	OSSL_ENCODER_CTX_free(ectx);
}

/* A self-signed certificate for pkey, DER. */
static uint8_t *
make_cert(EVP_PKEY *pkey, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL;
	uint8_t *copy;
	int n;

	assert_non_null(x);
	assert_true(X509_set_version(x, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_true(X509_set_pubkey(x, pkey));
	name = X509_get_subject_name(x);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"keyfmt test", -1,
	    -1, 0));
	assert_true(X509_set_issuer_name(x, name));
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(x);
	*len = (size_t)n;
	return copy;
}

static int
group_setup(void **unused)
{
	struct keyfmt_error err;
	int i;

	(void)unused;
	K.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	if (K.rsa == NULL || K.rsa1024 == NULL)
		return -1;
	if (keyfmt_from_pkey(K.rsa, &K.rsa_priv, &K.rsa_pub, &err) != 0 ||
	    keyfmt_from_pkey(K.rsa1024, &K.rsa1024_priv, &K.rsa1024_pub, &err) != 0)
		return -1;
	for (i = 0; i < NCURVES; i++) {
		if ((K.ec[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve_names[i])) == NULL ||
		    keyfmt_from_pkey(K.ec[i], &K.ec_priv[i], &K.ec_pub[i], &err) != 0)
			return -1;
	}
	K.cert = make_cert(K.rsa, &K.cert_len);
	K.ec_cert = make_cert(K.ec[0], &K.ec_cert_len);
	return 0;
}

static int
group_teardown(void **unused)
{
	int i;

	(void)unused;
	EVP_PKEY_free(K.rsa);
	EVP_PKEY_free(K.rsa1024);
	keyfmt_key_clear(&K.rsa_priv);
	keyfmt_key_clear(&K.rsa_pub);
	keyfmt_key_clear(&K.rsa1024_priv);
	keyfmt_key_clear(&K.rsa1024_pub);
	for (i = 0; i < NCURVES; i++) {
		EVP_PKEY_free(K.ec[i]);
		keyfmt_key_clear(&K.ec_priv[i]);
		keyfmt_key_clear(&K.ec_pub[i]);
	}
	free(K.cert);
	free(K.ec_cert);
	return 0;
}

static int
setup(void **state)
{
	struct state *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->a = ttlv_arena_new()) == NULL)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct state *s = *state;
	size_t i;

	for (i = 0; i < s->ndecoded; i++)
		ttlv_arena_free(s->decoded[i]);
	free(s->decoded);
	ttlv_arena_free(s->a);
	free(s);
	return 0;
}

/* Exports and decodes the written item; asserts success and returns the item (format_used in *used). */
static struct ttlv *
export_ok(struct state *s, uint32_t ot, const uint8_t *canon, size_t len, uint32_t format, uint32_t *used)
{
	struct ttlv_limits lim = { .any_toplevel = true };
	struct keyfmt_error err = { 0, "" };
	struct ttlv_enc enc;
	struct ttlv *root = NULL;
	enum ttlv_err derr;
	uint64_t off;
	uint32_t u = 0;

	ttlv_enc_init(&enc);
	if (keyfmt_export(ot, canon, len, format, &enc, &u, &err) != 0)
		fail_msg("export of %s as %s failed: %s", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format), err.message);
	assert_int_equal(ttlv_enc_finish(&enc), 0);
	s->decoded = realloc(s->decoded, (s->ndecoded + 1) * sizeof(*s->decoded));
	assert_non_null(s->decoded);
	assert_int_equal(ttlv_decode(enc.buf, enc.len, &lim, &root, &s->decoded[s->ndecoded], &derr, &off),
	    TTLV_DONE);
	s->ndecoded++;
	ttlv_enc_free(&enc);
	if (format != 0)
		assert_int_equal(u, format);
	if (used != NULL)
		*used = u;
	return root;
}

/* Expects keyfmt_export to fail with reason, leaving the encoder untouched. */
static void
export_fails(uint32_t ot, const uint8_t *canon, size_t len, uint32_t format, uint32_t reason)
{
	struct keyfmt_error err = { 0, "" };
	struct ttlv_enc enc;
	uint32_t used = 0xdead;

	ttlv_enc_init(&enc);
	ttlv_enc_int(&enc, KMIP_TAG_BATCH_COUNT, 1);	/* something before, which must stay */
	if (keyfmt_export(ot, canon, len, format, &enc, &used, &err) == 0)
		fail_msg("export of %s as 0x%x succeeded", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot), format);
	assert_int_equal(err.reason, reason);
	assert_true(err.message[0] != '\0');
	assert_int_equal(enc.len, TTLV_HEADER_SIZE + 8);
	assert_int_equal(enc.depth, 0);
	assert_int_equal(used, 0xdead);
	ttlv_enc_free(&enc);
}

/* Imports and asserts success. */
static void
import_ok(uint32_t ot, uint32_t format, const struct ttlv *item, struct keyfmt_key *k)
{
	struct keyfmt_error err = { 0, "" };

	if (keyfmt_import(ot, format, item, k, &err) != 0)
		fail_msg("import of %s as %s failed: %s", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format), err.message);
	assert_non_null(k->der);
	assert_int_equal(k->format, format == 0 ? k->format : format);
}

/* Expects keyfmt_import to fail with reason and to leave the output zeroed. */
static void
import_fails(uint32_t ot, uint32_t format, const struct ttlv *item, uint32_t reason)
{
	struct keyfmt_error err = { 0, "" };
	struct keyfmt_key k;

	memset(&k, 0xa5, sizeof(k));
	if (keyfmt_import(ot, format, item, &k, &err) == 0)
		fail_msg("import of %s as %s succeeded", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format));
	if (err.reason != reason)
		fail_msg("import of %s as %s: reason 0x%x (%s), expected 0x%x", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format), err.reason, err.message, reason);
	if (getenv("KEYFMT_TEST_VERBOSE") != NULL)
		print_message("refused: %s\n", err.message);
	assert_true(err.message[0] != '\0');
	assert_null(k.der);
	assert_int_equal(k.der_len, 0);
}

static void
assert_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
}

/* A Byte String Key Material item. */
static struct ttlv *
km_bytes(struct state *s, const void *p, size_t len)
{
	struct ttlv *t = ttlv_new_bytes(s->a, KMIP_TAG_KEY_MATERIAL, p, len);

	assert_non_null(t);
	return t;
}

static struct ttlv *
new_struct(struct state *s, uint32_t tag)
{
	struct ttlv *t = ttlv_new_struct(s->a, tag);

	assert_non_null(t);
	return t;
}

/* Appends a Big Integer holding bn (positive, sign byte added when needed). */
static void
add_bn(struct state *s, struct ttlv *parent, uint32_t tag, const BIGNUM *bn)
{
	uint8_t buf[2100];
	int n = BN_num_bytes(bn);
	struct ttlv *t;

	assert_true(n + 1 <= (int)sizeof(buf));
	buf[0] = 0;
	assert_int_equal(BN_bn2binpad(bn, buf + 1, n), n);
	t = ttlv_new_bigint(s->a, tag, buf, (size_t)n + 1);
	assert_non_null(t);
	ttlv_append(parent, t);
}

/* Copies every child of src except the one with tag skip into a new Key Material structure. */
static struct ttlv *
copy_without(struct state *s, const struct ttlv *src, uint32_t skip)
{
	struct ttlv *dst = new_struct(s, KMIP_TAG_KEY_MATERIAL), *c, *n;

	for (c = src->v.s.first; c != NULL; c = c->next) {
		if (c->tag == skip)
			continue;
		n = ttlv_arena_alloc(s->a, sizeof(*n));
		assert_non_null(n);
		*n = *c;
		n->next = NULL;
		ttlv_append(dst, n);
	}
	return dst;
}

/* Big Integer bytes of a field as a BIGNUM (asserting the value is positive). */
static BIGNUM *
field_bn(const struct ttlv *st, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(st, tag);
	BIGNUM *bn;

	assert_non_null(t);
	assert_int_equal(t->type, TTLV_BIG_INTEGER);
	assert_int_equal(t->length % 8, 0);
	assert_false(t->v.bytes.data[0] & 0x80);
	bn = BN_bin2bn(t->v.bytes.data, (int)t->length, NULL);
	assert_non_null(bn);
	return bn;
}

/* Exports canon in every format of list, imports each back and checks the canonical bytes are the same. */
static void
round_trip_all(struct state *s, uint32_t ot, const struct keyfmt_key *canon, const uint32_t *formats,
    size_t nformats)
{
	struct keyfmt_key k1, k2;
	struct ttlv *item;
	size_t i, j;

	for (i = 0; i < nformats; i++) {
		item = export_ok(s, ot, canon->der, canon->der_len, formats[i], NULL);
		import_ok(ot, formats[i], item, &k1);
		assert_same_bytes(k1.der, k1.der_len, canon->der, canon->der_len);
		assert_int_equal(k1.alg, canon->alg);
		assert_int_equal(k1.bits, canon->bits);
		assert_int_equal(k1.curve, canon->curve);
		/* From what came back, every other format, and back again. */
		for (j = 0; j < nformats; j++) {
			item = export_ok(s, ot, k1.der, k1.der_len, formats[j], NULL);
			import_ok(ot, formats[j], item, &k2);
			assert_same_bytes(k2.der, k2.der_len, canon->der, canon->der_len);
			keyfmt_key_clear(&k2);
		}
		keyfmt_key_clear(&k1);
	}
}

static void
test_rsa_round_trips(void **state)
{
	static const uint32_t priv[] = { KFT(PKCS_1), KFT(PKCS_8), KFT(TRANSPARENT_RSA_PRIVATE_KEY) };
	static const uint32_t pub[] = { KFT(PKCS_1), KFT(X_509), KFT(TRANSPARENT_RSA_PUBLIC_KEY) };

	assert_int_equal(K.rsa_priv.alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	assert_int_equal(K.rsa_priv.bits, 2048);
	assert_int_equal(K.rsa_pub.bits, 2048);
	round_trip_all(*state, OT(PRIVATE_KEY), &K.rsa_priv, priv, 3);
	round_trip_all(*state, OT(PUBLIC_KEY), &K.rsa_pub, pub, 3);
	round_trip_all(*state, OT(PRIVATE_KEY), &K.rsa1024_priv, priv, 3);
}

static void
test_ec_round_trips(void **state)
{
	static const uint32_t priv[] = {
		KFT(PKCS_8), KFT(ECPRIVATEKEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), KFT(TRANSPARENT_ECDSA_PRIVATE_KEY),
		KFT(TRANSPARENT_ECDH_PRIVATE_KEY), KFT(TRANSPARENT_ECMQV_PRIVATE_KEY),
	};
	static const uint32_t pub[] = {
		KFT(X_509), KFT(TRANSPARENT_EC_PUBLIC_KEY), KFT(TRANSPARENT_ECDSA_PUBLIC_KEY),
		KFT(TRANSPARENT_ECDH_PUBLIC_KEY), KFT(TRANSPARENT_ECMQV_PUBLIC_KEY),
	};
	int i;

	for (i = 0; i < NCURVES; i++) {
		assert_int_equal(K.ec_priv[i].alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		assert_int_equal(K.ec_priv[i].bits, curve_bits[i]);
		assert_int_equal(K.ec_priv[i].curve, curve_enums[i]);
		assert_int_equal(K.ec_pub[i].curve, curve_enums[i]);
		round_trip_all(*state, OT(PRIVATE_KEY), &K.ec_priv[i], priv, sizeof(priv) / sizeof(priv[0]));
		round_trip_all(*state, OT(PUBLIC_KEY), &K.ec_pub[i], pub, sizeof(pub) / sizeof(pub[0]));
	}
}

/* The DER formats are the standard structures: what OpenSSL itself writes for the key. */
static void
test_der_formats_match_openssl(void **state)
{
	struct ttlv *item;
	uint8_t *der;
	size_t len;

	item = export_ok(*state, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(PKCS_1), NULL);
	ossl_encode(K.rsa, EVP_PKEY_KEYPAIR, "type-specific", &der, &len);
	assert_same_bytes(item->v.bytes.data, item->length, der, len);
	OPENSSL_clear_free(der, len);
	ossl_encode(K.rsa, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &der, &len);
	assert_same_bytes(K.rsa_priv.der, K.rsa_priv.der_len, der, len);
	OPENSSL_clear_free(der, len);
	item = export_ok(*state, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(PKCS_1), NULL);
	ossl_encode(K.rsa, EVP_PKEY_PUBLIC_KEY, "type-specific", &der, &len);
	assert_same_bytes(item->v.bytes.data, item->length, der, len);
	OPENSSL_free(der);
	ossl_encode(K.rsa, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &der, &len);
	assert_same_bytes(K.rsa_pub.der, K.rsa_pub.der_len, der, len);
	OPENSSL_free(der);
	item = export_ok(*state, OT(PRIVATE_KEY), K.ec_priv[1].der, K.ec_priv[1].der_len, KFT(ECPRIVATEKEY), NULL);
	ossl_encode(K.ec[1], EVP_PKEY_KEYPAIR, "type-specific", &der, &len);
	assert_same_bytes(item->v.bytes.data, item->length, der, len);
	OPENSSL_clear_free(der, len);
	ossl_encode(K.ec[1], EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &der, &len);
	assert_same_bytes(K.ec_pub[1].der, K.ec_pub[1].der_len, der, len);
	OPENSSL_free(der);
}

static void
test_rsa_transparent_fields(void **state)
{
	static const struct {
		uint32_t tag;
		const char *param;
	} fields[] = {
		{ KMIP_TAG_MODULUS, OSSL_PKEY_PARAM_RSA_N },
		{ KMIP_TAG_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D },
		{ KMIP_TAG_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E },
		{ KMIP_TAG_P, OSSL_PKEY_PARAM_RSA_FACTOR1 },
		{ KMIP_TAG_Q, OSSL_PKEY_PARAM_RSA_FACTOR2 },
		{ KMIP_TAG_PRIME_EXPONENT_P, OSSL_PKEY_PARAM_RSA_EXPONENT1 },
		{ KMIP_TAG_PRIME_EXPONENT_Q, OSSL_PKEY_PARAM_RSA_EXPONENT2 },
		{ KMIP_TAG_CRT_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
	};
	struct ttlv *st, *c;
	BIGNUM *want, *got;
	size_t i;

	st = export_ok(*state, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len,
	    KFT(TRANSPARENT_RSA_PRIVATE_KEY), NULL);
	assert_int_equal(st->tag, KMIP_TAG_KEY_MATERIAL);
	assert_int_equal(st->type, TTLV_STRUCTURE);
	assert_int_equal(st->v.s.count, 8);
	for (i = 0, c = st->v.s.first; i < 8; i++, c = c->next)
		assert_int_equal(c->tag, fields[i].tag);	/* the order of the spec's table */
	for (i = 0; i < 8; i++) {
		want = NULL;
		assert_true(EVP_PKEY_get_bn_param(K.rsa, fields[i].param, &want));
		got = field_bn(st, fields[i].tag);
		assert_int_equal(BN_cmp(want, got), 0);
		BN_clear_free(want);
		BN_clear_free(got);
	}
	/* The modulus has its top bit set: a sign byte keeps it positive, 264 bytes on the wire. */
	assert_int_equal(ttlv_find(st, KMIP_TAG_MODULUS)->length, 264);
	st = export_ok(*state, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(TRANSPARENT_RSA_PUBLIC_KEY), NULL);
	assert_int_equal(st->v.s.count, 2);
	assert_int_equal(st->v.s.first->tag, KMIP_TAG_MODULUS);
	assert_int_equal(st->v.s.first->next->tag, KMIP_TAG_PUBLIC_EXPONENT);
	got = field_bn(st, KMIP_TAG_PUBLIC_EXPONENT);
	assert_true(BN_is_word(got, 65537));
	BN_free(got);
}

static void
test_ec_transparent_fields(void **state)
{
	uint8_t q[200];
	size_t qlen;
	struct ttlv *st, *t;
	BIGNUM *want, *got;
	int i;

	for (i = 0; i < NCURVES; i++) {
		st = export_ok(*state, OT(PRIVATE_KEY), K.ec_priv[i].der, K.ec_priv[i].der_len,
		    KFT(TRANSPARENT_EC_PRIVATE_KEY), NULL);
		assert_int_equal(st->v.s.count, 2);
		t = ttlv_find(st, KMIP_TAG_RECOMMENDED_CURVE);
		assert_non_null(t);
		assert_int_equal(t->type, TTLV_ENUMERATION);
		assert_int_equal(t->v.u32, curve_enums[i]);
		want = NULL;
		assert_true(EVP_PKEY_get_bn_param(K.ec[i], OSSL_PKEY_PARAM_PRIV_KEY, &want));
		got = field_bn(st, KMIP_TAG_D);
		assert_int_equal(BN_cmp(want, got), 0);
		BN_clear_free(want);
		BN_clear_free(got);

		st = export_ok(*state, OT(PUBLIC_KEY), K.ec_pub[i].der, K.ec_pub[i].der_len,
		    KFT(TRANSPARENT_EC_PUBLIC_KEY), NULL);
		assert_int_equal(ttlv_find(st, KMIP_TAG_RECOMMENDED_CURVE)->v.u32, curve_enums[i]);
		t = ttlv_find(st, KMIP_TAG_Q_STRING);
		assert_non_null(t);
		assert_int_equal(t->type, TTLV_BYTE_STRING);
		assert_true(EVP_PKEY_get_octet_string_param(K.ec[i], OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, q, sizeof(q),
		    &qlen));
		assert_int_equal(q[0], 0x04);	/* uncompressed */
		assert_int_equal(qlen, 1 + 2 * ((curve_bits[i] + 7) / 8));
		assert_same_bytes(t->v.bytes.data, t->length, q, qlen);
	}
}

/* A compressed point or an ECPrivateKey without its public key still gives the canonical bytes. */
static void
test_ec_canonical_from_other_encodings(void **state)
{
	struct state *s = *state;
	struct keyfmt_key k;
	struct ttlv *st;
	EVP_PKEY *copy;
	uint8_t q[200], *der;
	size_t qlen, len;

	copy = EVP_PKEY_dup(K.ec[0]);
	assert_non_null(copy);
	assert_true(EVP_PKEY_set_utf8_string_param(copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    "compressed"));
	assert_true(EVP_PKEY_get_octet_string_param(copy, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof(q), &qlen));
	assert_int_equal(qlen, 33);
	st = new_struct(s, KMIP_TAG_KEY_MATERIAL);
	ttlv_append(st, ttlv_new_enum(s->a, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_P_256));
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_Q_STRING, q, qlen));
	import_ok(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), st, &k);
	assert_same_bytes(k.der, k.der_len, K.ec_pub[0].der, K.ec_pub[0].der_len);
	keyfmt_key_clear(&k);

	ossl_encode(copy, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &der, &len);
	assert_int_equal(len, 59);	/* the compressed point */
	import_ok(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, der, len), &k);
	assert_same_bytes(k.der, k.der_len, K.ec_pub[0].der, K.ec_pub[0].der_len);
	keyfmt_key_clear(&k);
	OPENSSL_free(der);

	assert_true(EVP_PKEY_set_int_param(copy, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 0));
	ossl_encode(copy, EVP_PKEY_KEYPAIR, "type-specific", &der, &len);
	assert_int_equal(len, 51);	/* no public key */
	import_ok(OT(PRIVATE_KEY), KFT(ECPRIVATEKEY), km_bytes(s, der, len), &k);
	assert_same_bytes(k.der, k.der_len, K.ec_priv[0].der, K.ec_priv[0].der_len);
	keyfmt_key_clear(&k);
	OPENSSL_clear_free(der, len);
	EVP_PKEY_free(copy);
}

static void
test_inapplicable_formats(void **state)
{
	static const uint32_t rsa_priv_bad[] = {
		KFT(RAW), KFT(OPAQUE), KFT(X_509), KFT(ECPRIVATEKEY), KFT(TRANSPARENT_SYMMETRIC_KEY),
		KFT(TRANSPARENT_RSA_PUBLIC_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), KFT(TRANSPARENT_DSA_PRIVATE_KEY),
		KFT(PKCS_12), 0x999,
	};
	static const uint32_t ec_priv_bad[] = {
		KFT(RAW), KFT(PKCS_1), KFT(X_509), KFT(TRANSPARENT_RSA_PRIVATE_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY),
	};
	static const uint32_t rsa_pub_bad[] = {
		KFT(RAW), KFT(PKCS_8), KFT(ECPRIVATEKEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY),
		KFT(TRANSPARENT_EC_PUBLIC_KEY),
	};
	static const uint32_t ec_pub_bad[] = {
		KFT(RAW), KFT(PKCS_1), KFT(PKCS_8), KFT(TRANSPARENT_RSA_PUBLIC_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY),
	};
	static const uint8_t aes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rsa_priv_bad) / sizeof(rsa_priv_bad[0]); i++)
		export_fails(OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, rsa_priv_bad[i],
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	for (i = 0; i < sizeof(ec_priv_bad) / sizeof(ec_priv_bad[0]); i++)
		export_fails(OT(PRIVATE_KEY), K.ec_priv[0].der, K.ec_priv[0].der_len, ec_priv_bad[i],
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	for (i = 0; i < sizeof(rsa_pub_bad) / sizeof(rsa_pub_bad[0]); i++)
		export_fails(OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, rsa_pub_bad[i],
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	for (i = 0; i < sizeof(ec_pub_bad) / sizeof(ec_pub_bad[0]); i++)
		export_fails(OT(PUBLIC_KEY), K.ec_pub[2].der, K.ec_pub[2].der_len, ec_pub_bad[i],
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(SYMMETRIC_KEY), aes, sizeof(aes), KFT(PKCS_1), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(SYMMETRIC_KEY), aes, sizeof(aes), KFT(OPAQUE), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(SECRET_DATA), aes, sizeof(aes), KFT(TRANSPARENT_SYMMETRIC_KEY),
	    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(OPAQUE_OBJECT), aes, sizeof(aes), KFT(RAW), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(CERTIFICATE), K.cert, K.cert_len, KFT(PKCS_1), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(CERTIFICATE), K.cert, K.cert_len, KFT(RAW), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(SPLIT_KEY), aes, sizeof(aes), KFT(PKCS_8), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	export_fails(OT(CERTIFICATE_REQUEST), aes, sizeof(aes), KFT(RAW), KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
	/* The public key's bytes are not a private key. */
	export_fails(OT(PRIVATE_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(PKCS_1), KMIP_RESULT_REASON_INVALID_FIELD);

	assert_false(keyfmt_format_applies(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, KFT(X_509)));
	assert_true(keyfmt_format_applies(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA, KFT(ECPRIVATEKEY)));
	assert_false(keyfmt_format_applies(OT(PUBLIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, KFT(X_509)));
}

static void
test_import_unsupported_formats(void **state)
{
	struct state *s = *state;
	struct ttlv *st = new_struct(s, KMIP_TAG_KEY_MATERIAL);

	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_DH_PRIVATE_KEY), st,
	    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_DH_PUBLIC_KEY), st, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_12), km_bytes(s, "x", 1), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	import_fails(OT(SYMMETRIC_KEY), 0x999, km_bytes(s, "x", 1), KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
	import_fails(OT(SPLIT_KEY), KFT(OPAQUE), km_bytes(s, "x", 1), KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(CERTIFICATE_REQUEST), KFT(RAW), km_bytes(s, "x", 1), KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
}

/* Truncated, padded, garbage and mislabelled DER. */
static void
test_malformed_der(void **state)
{
	static const char pem[] = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
	static const uint8_t garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef };
	const uint32_t inv = KMIP_RESULT_REASON_INVALID_FIELD;
	struct state *s = *state;
	struct ttlv *item;
	uint8_t *pkcs1, *pkcs1pub, *sec1, *buf, *enc_p8;
	size_t l1, l1pub, lsec1, lenc;
	OSSL_ENCODER_CTX *ectx;

	item = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(PKCS_1), NULL);
	pkcs1 = (uint8_t *)item->v.bytes.data, l1 = item->length;
	item = export_ok(s, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(PKCS_1), NULL);
	pkcs1pub = (uint8_t *)item->v.bytes.data, l1pub = item->length;
	item = export_ok(s, OT(PRIVATE_KEY), K.ec_priv[0].der, K.ec_priv[0].der_len, KFT(ECPRIVATEKEY), NULL);
	sec1 = (uint8_t *)item->v.bytes.data, lsec1 = item->length;

	/* Truncated. */
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, pkcs1, l1 - 1), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len / 2), inv);
	import_fails(OT(PRIVATE_KEY), KFT(ECPRIVATEKEY), km_bytes(s, sec1, lsec1 - 10), inv);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, K.ec_pub[0].der, K.ec_pub[0].der_len - 1), inv);
	import_fails(OT(PUBLIC_KEY), KFT(PKCS_1), km_bytes(s, pkcs1pub, 20), inv);
	/* A byte after the DER. */
	buf = malloc(K.rsa_priv.der_len + 1);
	assert_non_null(buf);
	memcpy(buf, K.rsa_priv.der, K.rsa_priv.der_len);
	buf[K.rsa_priv.der_len] = 0;
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, buf, K.rsa_priv.der_len + 1), inv);
	free(buf);
	/* Garbage, PEM text, empty. */
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, garbage, sizeof(garbage)), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, pem, sizeof(pem) - 1), inv);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, garbage, sizeof(garbage)), inv);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, "", 0), inv);
	/* One structure sent as another. */
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, pkcs1, l1), inv);
	import_fails(OT(PRIVATE_KEY), KFT(ECPRIVATEKEY), km_bytes(s, K.ec_priv[0].der, K.ec_priv[0].der_len), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, sec1, lsec1), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, pkcs1pub, l1pub), inv);
	import_fails(OT(PUBLIC_KEY), KFT(PKCS_1), km_bytes(s, pkcs1, l1), inv);
	import_fails(OT(PUBLIC_KEY), KFT(PKCS_1), km_bytes(s, K.rsa_pub.der, K.rsa_pub.der_len), inv);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, pkcs1pub, l1pub), inv);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, K.cert, K.cert_len), inv);
	/* Wrong object type for the format. */
	import_fails(OT(SYMMETRIC_KEY), KFT(PKCS_1), km_bytes(s, pkcs1, l1), inv);
	import_fails(OT(PUBLIC_KEY), KFT(PKCS_8), km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len), inv);
	import_fails(OT(PRIVATE_KEY), KFT(X_509), km_bytes(s, K.rsa_pub.der, K.rsa_pub.der_len), inv);
	import_fails(OT(PRIVATE_KEY), KFT(RAW), km_bytes(s, pkcs1, l1), inv);
	import_fails(OT(SECRET_DATA), KFT(PKCS_8), km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len), inv);
	/* A Structure where a Byte String belongs, and an item with the wrong tag. */
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), new_struct(s, KMIP_TAG_KEY_MATERIAL), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), ttlv_new_bytes(s->a, KMIP_TAG_KEY, K.rsa_priv.der,
	    K.rsa_priv.der_len), inv);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), NULL, inv);
	/* An encrypted PKCS#8 is not what PKCS#8 means here. */
	ectx = OSSL_ENCODER_CTX_new_for_pkey(K.ec[0], EVP_PKEY_KEYPAIR, "DER", "EncryptedPrivateKeyInfo", NULL);
	assert_non_null(ectx);
	assert_true(OSSL_ENCODER_CTX_set_cipher(ectx, "AES-128-CBC", NULL));
	assert_true(OSSL_ENCODER_CTX_set_passphrase(ectx, (const unsigned char *)"pw", 2));
	enc_p8 = NULL;
	assert_true(OSSL_ENCODER_to_data(ectx, &enc_p8, &lenc));
	OSSL_ENCODER_CTX_free(ectx);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, enc_p8, lenc), inv);
	OPENSSL_free(enc_p8);
}

/* Keys that parse but that kmipd does not keep. */
static void
test_unsupported_keys(void **state)
{
	struct state *s = *state;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;
	uint8_t *der;
	size_t len;

	/* Too small. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	assert_non_null(k);
	ossl_encode(k, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &der, &len);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_clear_free(der, len);
	ossl_encode(k, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &der, &len);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	/* Three primes. */
	k = NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	assert_non_null(ctx);
	assert_true(EVP_PKEY_keygen_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 1536) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_keygen_primes(ctx, 3) > 0);
	assert_true(EVP_PKEY_generate(ctx, &k) > 0);
	EVP_PKEY_CTX_free(ctx);
	ossl_encode(k, EVP_PKEY_KEYPAIR, "type-specific", &der, &len);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_1), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_clear_free(der, len);
	EVP_PKEY_free(k);
	/* Another algorithm. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	ossl_encode(k, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &der, &len);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_clear_free(der, len);
	ossl_encode(k, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &der, &len);
	import_fails(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	/* An EC curve outside the table. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp160r1");
	assert_non_null(k);
	ossl_encode(k, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &der, &len);
	import_fails(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, der, len), KMIP_RESULT_REASON_INVALID_FIELD);
	OPENSSL_clear_free(der, len);
	EVP_PKEY_free(k);
}

/* Transparent RSA structures with fields missing, negative, mistyped, repeated, unknown or inconsistent. */
static void
test_malformed_transparent_rsa(void **state)
{
	const uint32_t inv = KMIP_RESULT_REASON_INVALID_FIELD;
	struct state *s = *state;
	struct ttlv *priv, *pub, *st, *t;
	uint8_t neg[256];
	BIGNUM *bn;

	priv = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(TRANSPARENT_RSA_PRIVATE_KEY),
	    NULL);
	pub = export_ok(s, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(TRANSPARENT_RSA_PUBLIC_KEY), NULL);

	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), copy_without(s, priv, KMIP_TAG_MODULUS), inv);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), copy_without(s, priv, KMIP_TAG_PUBLIC_EXPONENT),
	    inv);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), copy_without(s, pub, KMIP_TAG_PUBLIC_EXPONENT),
	    inv);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), copy_without(s, pub, KMIP_TAG_MODULUS), inv);
	/* Only P of the pair; and neither the private exponent nor the primes. */
	st = copy_without(s, priv, KMIP_TAG_Q);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	st = copy_without(s, copy_without(s, copy_without(s, priv, KMIP_TAG_P), KMIP_TAG_Q), KMIP_TAG_PRIVATE_EXPONENT);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	/* A private structure for a public key, and the reverse. */
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), priv, inv);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), pub, inv);
	/* The public structure carries no private fields. */
	st = copy_without(s, pub, 0);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_P, "\x05", 1));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	/* A negative modulus: the same bytes without the sign byte. */
	t = ttlv_find(pub, KMIP_TAG_MODULUS);
	memcpy(neg, t->v.bytes.data + 8, 256);
	assert_true(neg[0] & 0x80);
	st = copy_without(s, pub, KMIP_TAG_MODULUS);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_MODULUS, neg, 256));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	/* The modulus as a Byte String. */
	st = copy_without(s, pub, KMIP_TAG_MODULUS);
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_MODULUS, t->v.bytes.data, t->length));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	/* Twice the exponent; an unknown field; a Byte String instead of a Structure. */
	st = copy_without(s, pub, 0);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_PUBLIC_EXPONENT, "\x01\x00\x01", 3));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	st = copy_without(s, pub, 0);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_D, "\x01", 1));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), km_bytes(s, K.rsa_pub.der, K.rsa_pub.der_len),
	    inv);
	/* An even exponent. */
	st = copy_without(s, pub, KMIP_TAG_PUBLIC_EXPONENT);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_PUBLIC_EXPONENT, "\x01\x00\x00", 3));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, inv);
	/* Inconsistent components: the CRT coefficient plus one, then Prime Exponent P plus one. */
	bn = field_bn(priv, KMIP_TAG_CRT_COEFFICIENT);
	assert_true(BN_add_word(bn, 1));
	st = copy_without(s, priv, KMIP_TAG_CRT_COEFFICIENT);
	add_bn(s, st, KMIP_TAG_CRT_COEFFICIENT, bn);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	BN_clear_free(bn);
	bn = field_bn(priv, KMIP_TAG_PRIME_EXPONENT_P);
	assert_true(BN_add_word(bn, 2));
	st = copy_without(s, priv, KMIP_TAG_PRIME_EXPONENT_P);
	add_bn(s, st, KMIP_TAG_PRIME_EXPONENT_P, bn);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	BN_clear_free(bn);
	/* P of another key. */
	bn = NULL;
	assert_true(EVP_PKEY_get_bn_param(K.rsa1024, OSSL_PKEY_PARAM_RSA_FACTOR1, &bn));
	st = copy_without(s, priv, KMIP_TAG_P);
	add_bn(s, st, KMIP_TAG_P, bn);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	BN_clear_free(bn);
	/* A private exponent that belongs to no key: nothing to recover the primes from. */
	st = copy_without(s, copy_without(s, copy_without(s, copy_without(s, copy_without(s, copy_without(s, priv,
	    KMIP_TAG_P), KMIP_TAG_Q), KMIP_TAG_PRIME_EXPONENT_P), KMIP_TAG_PRIME_EXPONENT_Q), KMIP_TAG_CRT_COEFFICIENT),
	    KMIP_TAG_PRIVATE_EXPONENT);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_PRIVATE_EXPONENT, "\x12\x34\x56\x78\x9a", 5));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
	/* Only the prime exponents: not enough to make a key. */
	st = copy_without(s, copy_without(s, copy_without(s, priv, KMIP_TAG_P), KMIP_TAG_Q), KMIP_TAG_PRIVATE_EXPONENT);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, inv);
}

/* A 4096-bit prime, 3 mod 4: as a modulus, every base of prime recovery gives 1 or -1 (the review's key). */
static const char prime4096[] =
	"cf83c6eeaacfe5e35e72af19fc62e816513ebe3f02aaceef39fb58066114e205b2c33c819ea825e9e0dc8acb547a3675"
	"4b9f506b2f0e2d68b9985cd5d88d83c5a17bd08b9f2af8f1f1dfe8b88defabaaa5456ad301c3cbae1d52291aea06f5c7"
	"7b6ea0054d516f5f2dd68d66e1687e34d20ca14104979557a110903f867f7b4fa24656d24d221b8a00f60ecad9300e75"
	"0ca14bd398e62c738525b86ecf89b0753943f0a684946a8a95bcf5fa9f3ff4656be46735fe3186909b27db6efa20a318"
	"1df0146107072f76abcb52ef7e6f22f1f1008a25e1db6fd1877f00065bbaf5c5d2953952677160f2910aa5f2fbdb7490"
	"2b5a50a7c79c87ee1aa50a6091c76a4d48b0b8818f7e78170a1f97d72fde30ccfb8d8df4f8a884fd440d1263ea75e9b4"
	"425b73fb5f1015339568642e725905b57aaa94cf0e845fd6f72bf18586db4327a821589795e20567b88216cc858f5aa4"
	"5d1667ba0f693e9cc30488b062350cc0b5d2fd344c2a3bc07483fdf966bbb049a451db76dad4caa192e0c3c3c03d4923"
	"3ea23a1567221cc483c15b0ca64a57a7772593aae6af3f23213f1d338656ea82cbd182c8b1d01da1a1b90d6ad1546c52"
	"1d27b081cd977e8900cc5b2e0b266610bdc7b385399c6bf23607e9dd53f6b26d0819d4a59a5fa48d93f182f616616a44"
	"62987c55f2e951d8c7bc1e86a1808865cfbb6cf50be1e878f888ef5d391d7a67";

/* Imports a Transparent RSA Private Key of n, e and d (no primes); returns the time taken in ms. */
static double
import_ned(struct state *s, const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const char *expect)
{
	struct ttlv *st = new_struct(s, KMIP_TAG_KEY_MATERIAL);
	struct keyfmt_error err = { 0, "" };
	struct keyfmt_key k;
	struct timespec t0, t1;
	int rc;

	add_bn(s, st, KMIP_TAG_MODULUS, n);
	add_bn(s, st, KMIP_TAG_PUBLIC_EXPONENT, e);
	add_bn(s, st, KMIP_TAG_PRIVATE_EXPONENT, d);
	memset(&k, 0, sizeof(k));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = keyfmt_import(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, &k, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(rc, -1);
	assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);
	if (strstr(err.message, expect) == NULL)
		fail_msg("refused for \"%s\", expected \"%s\"", err.message, expect);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/*
 * Untrusted RSA numbers are checked by size before any costly arithmetic: the review's key (a prime 4096-bit
 * modulus with a 16,000-bit private exponent that inverts e modulo n - 1) ran 16 exponentiations with a
 * 16,000-bit exponent, a second in the loop; a public exponent of more than 256 bits; a modulus with a
 * small factor; a prime exponent or CRT coefficient not below its prime.
 */
static void
test_transparent_rsa_checked_before_math(void **state)
{
	struct state *s = *state;
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *n = NULL, *e = BN_new(), *d = BN_new(), *n1 = BN_new(), *t = BN_new(), *bn;
	struct ttlv *priv, *pub, *st;
	double ms;

	assert_non_null(ctx);
	assert_true(e != NULL && d != NULL && n1 != NULL && t != NULL);
	assert_true(BN_hex2bn(&n, prime4096) > 0);
	assert_true(BN_set_word(e, 65537));
	assert_true(BN_sub(n1, n, BN_value_one()));
	assert_non_null(BN_mod_inverse(d, e, n1, ctx));
	/* d + (n - 1) 2^11894: still e d = 1 mod n - 1, now 15,990 bits. */
	assert_true(BN_lshift(t, n1, 11894));
	assert_true(BN_add(d, d, t));
	assert_int_equal(BN_num_bits(d), 15990);
	ms = import_ned(s, n, e, d, "not below the modulus");
	print_message("crafted 16,000-bit private exponent refused in %.1f ms\n", ms);
	/* A modulus with a small factor: 3 times a prime; d below it. */
	assert_true(BN_mul_word(n, 3));
	assert_true(BN_set_word(d, 12345));
	import_ned(s, n, e, d, "small factor");
	/* A public exponent of 257 bits. */
	pub = export_ok(s, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, KFT(TRANSPARENT_RSA_PUBLIC_KEY), NULL);
	assert_true(BN_set_bit(e, 256));
	st = copy_without(s, pub, KMIP_TAG_PUBLIC_EXPONENT);
	add_bn(s, st, KMIP_TAG_PUBLIC_EXPONENT, e);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, KMIP_RESULT_REASON_INVALID_FIELD);
	/* Prime Exponent P plus P: the same residue, but not below P. */
	priv = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(TRANSPARENT_RSA_PRIVATE_KEY),
	    NULL);
	bn = field_bn(priv, KMIP_TAG_PRIME_EXPONENT_P);
	BN_free(t);
	t = field_bn(priv, KMIP_TAG_P);
	assert_true(BN_add(bn, bn, t));
	st = copy_without(s, priv, KMIP_TAG_PRIME_EXPONENT_P);
	add_bn(s, st, KMIP_TAG_PRIME_EXPONENT_P, bn);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, KMIP_RESULT_REASON_INVALID_FIELD);
	BN_clear_free(bn);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_free(n1);
	BN_free(t);
	BN_CTX_free(ctx);
}

/* The spec lets a Transparent RSA Private Key carry only some components; the rest are derived. */
static void
test_partial_transparent_rsa(void **state)
{
	struct state *s = *state;
	struct ttlv *priv, *st;
	struct keyfmt_key k;
	BIGNUM *p = NULL, *q = NULL, *rp, *rq;
	EVP_PKEY *pk;

	priv = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(TRANSPARENT_RSA_PRIVATE_KEY),
	    NULL);
	/* Modulus, exponents and primes, without the CRT values: the canonical key is the same. */
	st = copy_without(s, copy_without(s, copy_without(s, priv, KMIP_TAG_PRIME_EXPONENT_P),
	    KMIP_TAG_PRIME_EXPONENT_Q), KMIP_TAG_CRT_COEFFICIENT);
	import_ok(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, &k);
	assert_same_bytes(k.der, k.der_len, K.rsa_priv.der, K.rsa_priv.der_len);
	keyfmt_key_clear(&k);
	/* Without the private exponent: d = e^-1 mod lcm(p-1, q-1), as OpenSSL computes it. */
	import_ok(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), copy_without(s, priv, KMIP_TAG_PRIVATE_EXPONENT),
	    &k);
	assert_same_bytes(k.der, k.der_len, K.rsa_priv.der, K.rsa_priv.der_len);
	keyfmt_key_clear(&k);
	/* Modulus and exponents only: the primes are recovered (larger first). */
	st = copy_without(s, copy_without(s, copy_without(s, copy_without(s, copy_without(s, priv, KMIP_TAG_P),
	    KMIP_TAG_Q), KMIP_TAG_PRIME_EXPONENT_P), KMIP_TAG_PRIME_EXPONENT_Q), KMIP_TAG_CRT_COEFFICIENT);
	assert_int_equal(st->v.s.count, 3);
	import_ok(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, &k);
	assert_int_equal(k.bits, 2048);
	assert_true(keyfmt_private_public_match(k.der, k.der_len, K.rsa_pub.der, K.rsa_pub.der_len));
	pk = keyfmt_load_private(k.der, k.der_len, NULL);
	assert_non_null(pk);
	rp = rq = NULL;
	assert_true(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, &rp));
	assert_true(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, &rq));
	assert_true(EVP_PKEY_get_bn_param(K.rsa, OSSL_PKEY_PARAM_RSA_FACTOR1, &p));
	assert_true(EVP_PKEY_get_bn_param(K.rsa, OSSL_PKEY_PARAM_RSA_FACTOR2, &q));
	assert_true(BN_cmp(rp, rq) > 0);
	if (BN_cmp(p, q) > 0)
		assert_true(BN_cmp(rp, p) == 0 && BN_cmp(rq, q) == 0);
	else
		assert_true(BN_cmp(rp, q) == 0 && BN_cmp(rq, p) == 0);
	if (BN_cmp(p, q) > 0)	/* then every component is the original one */
		assert_same_bytes(k.der, k.der_len, K.rsa_priv.der, K.rsa_priv.der_len);
	BN_clear_free(p);
	BN_clear_free(q);
	BN_clear_free(rp);
	BN_clear_free(rq);
	EVP_PKEY_free(pk);
	keyfmt_key_clear(&k);
}

static void
test_malformed_transparent_ec(void **state)
{
	const uint32_t inv = KMIP_RESULT_REASON_INVALID_FIELD;
	struct state *s = *state;
	struct ttlv *priv, *pub, *st, *t;
	uint8_t q[200];
	EC_GROUP *group;

	priv = export_ok(s, OT(PRIVATE_KEY), K.ec_priv[0].der, K.ec_priv[0].der_len, KFT(TRANSPARENT_EC_PRIVATE_KEY),
	    NULL);
	pub = export_ok(s, OT(PUBLIC_KEY), K.ec_pub[0].der, K.ec_pub[0].der_len, KFT(TRANSPARENT_EC_PUBLIC_KEY), NULL);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), copy_without(s, priv, KMIP_TAG_D), inv);
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY),
	    copy_without(s, priv, KMIP_TAG_RECOMMENDED_CURVE), inv);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), copy_without(s, pub, KMIP_TAG_Q_STRING), inv);
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), copy_without(s, pub, KMIP_TAG_RECOMMENDED_CURVE),
	    inv);
	/* A curve keyfmt does not handle, and the curve as an Integer. */
	st = copy_without(s, priv, KMIP_TAG_RECOMMENDED_CURVE);
	ttlv_append(st, ttlv_new_enum(s->a, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_K_163));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	st = copy_without(s, priv, KMIP_TAG_RECOMMENDED_CURVE);
	ttlv_append(st, ttlv_new_int(s->a, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_P_256));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	/* D of zero, D equal to the order, D negative. */
	st = copy_without(s, priv, KMIP_TAG_D);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_D, "", 0));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	assert_non_null(group);
	st = copy_without(s, priv, KMIP_TAG_D);
	add_bn(s, st, KMIP_TAG_D, EC_GROUP_get0_order(group));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	EC_GROUP_free(group);
	st = copy_without(s, priv, KMIP_TAG_D);
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_D, "\xff\x01", 2));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	/* A D longer than the curve's. */
	st = copy_without(s, priv, KMIP_TAG_D);
	memset(q, 0x11, sizeof(q));
	ttlv_append(st, ttlv_new_bigint(s->a, KMIP_TAG_D, q, 64));
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), st, inv);
	/* A point off the curve, a truncated point, the point of another curve. */
	t = ttlv_find(pub, KMIP_TAG_Q_STRING);
	memcpy(q, t->v.bytes.data, t->length);
	q[t->length - 1] ^= 1;
	st = copy_without(s, pub, KMIP_TAG_Q_STRING);
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_Q_STRING, q, t->length));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), st, inv);
	st = copy_without(s, pub, KMIP_TAG_Q_STRING);
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_Q_STRING, t->v.bytes.data, t->length - 1));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), st, inv);
	st = copy_without(s, pub, KMIP_TAG_RECOMMENDED_CURVE);
	ttlv_append(st, ttlv_new_enum(s->a, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_P_384));
	import_fails(OT(PUBLIC_KEY), KFT(TRANSPARENT_EC_PUBLIC_KEY), st, inv);
	/* The public structure for a private key. */
	import_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_EC_PRIVATE_KEY), pub, inv);
}

static void
test_symmetric(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcde";
	struct state *s = *state;
	struct keyfmt_key k, k2;
	struct ttlv *item, *st;
	uint32_t used;
	uint8_t big[KEYFMT_MAX_SYMMETRIC + 1];

	import_ok(OT(SYMMETRIC_KEY), KFT(RAW), km_bytes(s, key, sizeof(key)), &k);
	assert_same_bytes(k.der, k.der_len, key, sizeof(key));
	assert_int_equal(k.bits, 256);
	assert_int_equal(k.alg, 0);
	assert_int_equal(k.format, KFT(RAW));
	item = export_ok(s, OT(SYMMETRIC_KEY), k.der, k.der_len, 0, &used);
	assert_int_equal(used, KFT(RAW));
	assert_int_equal(item->tag, KMIP_TAG_KEY_MATERIAL);
	assert_int_equal(item->type, TTLV_BYTE_STRING);
	assert_same_bytes(item->v.bytes.data, item->length, key, sizeof(key));
	item = export_ok(s, OT(SYMMETRIC_KEY), k.der, k.der_len, KFT(TRANSPARENT_SYMMETRIC_KEY), NULL);
	assert_int_equal(item->type, TTLV_STRUCTURE);
	assert_int_equal(item->v.s.count, 1);
	assert_int_equal(item->v.s.first->tag, KMIP_TAG_KEY);
	import_ok(OT(SYMMETRIC_KEY), KFT(TRANSPARENT_SYMMETRIC_KEY), item, &k2);
	assert_same_bytes(k2.der, k2.der_len, key, sizeof(key));
	assert_int_equal(k2.bits, 256);
	keyfmt_key_clear(&k2);
	keyfmt_key_clear(&k);

	/* Empty, too long, mistyped, a Transparent structure without its Key or with another field. */
	import_fails(OT(SYMMETRIC_KEY), KFT(RAW), km_bytes(s, key, 0), KMIP_RESULT_REASON_INVALID_FIELD);
	memset(big, 7, sizeof(big));
	import_fails(OT(SYMMETRIC_KEY), KFT(RAW), km_bytes(s, big, sizeof(big)), KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(SYMMETRIC_KEY), KFT(RAW), new_struct(s, KMIP_TAG_KEY_MATERIAL),
	    KMIP_RESULT_REASON_INVALID_FIELD);
	st = new_struct(s, KMIP_TAG_KEY_MATERIAL);
	import_fails(OT(SYMMETRIC_KEY), KFT(TRANSPARENT_SYMMETRIC_KEY), st, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_KEY, key, 16));
	ttlv_append(st, ttlv_new_bytes(s->a, KMIP_TAG_Q_STRING, key, 16));
	import_fails(OT(SYMMETRIC_KEY), KFT(TRANSPARENT_SYMMETRIC_KEY), st, KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(SYMMETRIC_KEY), KFT(TRANSPARENT_SYMMETRIC_KEY), km_bytes(s, key, 16),
	    KMIP_RESULT_REASON_INVALID_FIELD);
	export_fails(OT(SYMMETRIC_KEY), big, sizeof(big), KFT(RAW), KMIP_RESULT_REASON_INVALID_FIELD);
	export_fails(OT(SYMMETRIC_KEY), key, 0, KFT(RAW), KMIP_RESULT_REASON_INVALID_FIELD);
}

static void
test_secret_data_and_opaque(void **state)
{
	static const uint8_t secret[] = "correct horse battery staple";
	struct state *s = *state;
	struct keyfmt_key k;
	struct ttlv *item;
	uint32_t used;

	import_ok(OT(SECRET_DATA), KFT(OPAQUE), km_bytes(s, secret, sizeof(secret)), &k);
	assert_int_equal(k.format, KFT(OPAQUE));	/* what a Get without a format should answer in */
	assert_int_equal(k.bits, 0);
	assert_int_equal(k.alg, 0);
	item = export_ok(s, OT(SECRET_DATA), k.der, k.der_len, k.format, &used);
	assert_same_bytes(item->v.bytes.data, item->length, secret, sizeof(secret));
	item = export_ok(s, OT(SECRET_DATA), k.der, k.der_len, 0, &used);
	assert_int_equal(used, KFT(RAW));
	assert_int_equal(item->tag, KMIP_TAG_KEY_MATERIAL);
	assert_same_bytes(item->v.bytes.data, item->length, secret, sizeof(secret));
	keyfmt_key_clear(&k);
	import_ok(OT(SECRET_DATA), KFT(RAW), km_bytes(s, secret, sizeof(secret)), &k);
	assert_int_equal(k.format, KFT(RAW));
	keyfmt_key_clear(&k);

	item = ttlv_new_bytes(s->a, KMIP_TAG_OPAQUE_DATA_VALUE, secret, sizeof(secret));
	import_ok(OT(OPAQUE_OBJECT), KFT(OPAQUE), item, &k);
	assert_same_bytes(k.der, k.der_len, secret, sizeof(secret));
	keyfmt_key_clear(&k);
	import_ok(OT(OPAQUE_OBJECT), 0, item, &k);
	item = export_ok(s, OT(OPAQUE_OBJECT), k.der, k.der_len, 0, &used);
	assert_int_equal(used, KFT(OPAQUE));
	assert_int_equal(item->tag, KMIP_TAG_OPAQUE_DATA_VALUE);
	assert_same_bytes(item->v.bytes.data, item->length, secret, sizeof(secret));
	keyfmt_key_clear(&k);
	import_fails(OT(OPAQUE_OBJECT), KFT(OPAQUE), km_bytes(s, secret, sizeof(secret)),
	    KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(OPAQUE_OBJECT), KFT(RAW), item, KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(SECRET_DATA), KFT(RAW), km_bytes(s, secret, 0), KMIP_RESULT_REASON_INVALID_FIELD);
}

static void
test_certificate(void **state)
{
	struct state *s = *state;
	struct keyfmt_key k;
	struct ttlv *item;
	uint8_t *spki, *buf;
	size_t spki_len;
	uint32_t used, alg, bits;
	struct keyfmt_error err;

	item = ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, K.cert, K.cert_len);
	import_ok(OT(CERTIFICATE), KFT(X_509), item, &k);
	assert_same_bytes(k.der, k.der_len, K.cert, K.cert_len);
	assert_int_equal(k.alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	assert_int_equal(k.bits, 2048);
	item = export_ok(s, OT(CERTIFICATE), k.der, k.der_len, 0, &used);
	assert_int_equal(used, KFT(X_509));
	assert_int_equal(item->tag, KMIP_TAG_CERTIFICATE_VALUE);
	assert_same_bytes(item->v.bytes.data, item->length, K.cert, K.cert_len);
	assert_int_equal(keyfmt_cert_public_key(k.der, k.der_len, &spki, &spki_len, &err), 0);
	assert_same_bytes(spki, spki_len, K.rsa_pub.der, K.rsa_pub.der_len);
	free(spki);
	assert_int_equal(keyfmt_key_info(OT(CERTIFICATE), k.der, k.der_len, &alg, &bits, &err), 0);
	assert_int_equal(alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	assert_int_equal(bits, 2048);
	keyfmt_key_clear(&k);

	item = ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, K.ec_cert, K.ec_cert_len);
	import_ok(OT(CERTIFICATE), 0, item, &k);
	assert_int_equal(k.alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
	assert_int_equal(k.curve, KMIP_RECOMMENDED_CURVE_P_256);
	assert_int_equal(keyfmt_cert_public_key(k.der, k.der_len, &spki, &spki_len, &err), 0);
	assert_same_bytes(spki, spki_len, K.ec_pub[0].der, K.ec_pub[0].der_len);
	free(spki);
	keyfmt_key_clear(&k);

	/* Garbage, truncated, a trailing byte, a key instead of a certificate, the wrong tag or format. */
	import_fails(OT(CERTIFICATE), KFT(X_509), ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, "garbage", 7),
	    KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(CERTIFICATE), KFT(X_509), ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, K.cert,
	    K.cert_len - 1), KMIP_RESULT_REASON_INVALID_FIELD);
	buf = malloc(K.cert_len + 1);
	assert_non_null(buf);
	memcpy(buf, K.cert, K.cert_len);
	buf[K.cert_len] = 0;
	import_fails(OT(CERTIFICATE), KFT(X_509), ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, buf,
	    K.cert_len + 1), KMIP_RESULT_REASON_INVALID_FIELD);
	free(buf);
	import_fails(OT(CERTIFICATE), KFT(X_509), ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, K.rsa_pub.der,
	    K.rsa_pub.der_len), KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(CERTIFICATE), KFT(X_509), km_bytes(s, K.cert, K.cert_len), KMIP_RESULT_REASON_INVALID_FIELD);
	import_fails(OT(CERTIFICATE), KFT(PKCS_1), ttlv_new_bytes(s->a, KMIP_TAG_CERTIFICATE_VALUE, K.cert,
	    K.cert_len), KMIP_RESULT_REASON_INVALID_FIELD);
	assert_int_equal(keyfmt_cert_public_key((const uint8_t *)"garbage", 7, &spki, &spki_len, &err), -1);
	assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);
	assert_null(spki);
}

static void
test_defaults(void **state)
{
	struct state *s = *state;
	struct ttlv *item, *explicit;
	uint32_t used;
	const unsigned v14 = KMIP_VERSION(1, 4), v12 = KMIP_VERSION(1, 2), v21 = KMIP_VERSION(2, 1);

	/* RSA: PKCS#1 both ways (the KMIP 2.x table; what Veeam and the BL-M-6 test case get). */
	item = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, 0, &used);
	assert_int_equal(used, KFT(PKCS_1));
	explicit = export_ok(s, OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, KFT(PKCS_1), NULL);
	assert_true(ttlv_equal(item, explicit));
	export_ok(s, OT(PUBLIC_KEY), K.rsa_pub.der, K.rsa_pub.der_len, 0, &used);
	assert_int_equal(used, KFT(PKCS_1));
	/* EC: the Transparent EC structures. */
	item = export_ok(s, OT(PRIVATE_KEY), K.ec_priv[1].der, K.ec_priv[1].der_len, 0, &used);
	assert_int_equal(used, KFT(TRANSPARENT_EC_PRIVATE_KEY));
	assert_int_equal(item->type, TTLV_STRUCTURE);
	export_ok(s, OT(PUBLIC_KEY), K.ec_pub[1].der, K.ec_pub[1].der_len, 0, &used);
	assert_int_equal(used, KFT(TRANSPARENT_EC_PUBLIC_KEY));

	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, v14), KFT(PKCS_1));
	assert_int_equal(keyfmt_default_format(OT(PUBLIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, v12), KFT(PKCS_1));
	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, v14),
	    KFT(TRANSPARENT_EC_PRIVATE_KEY));
	assert_int_equal(keyfmt_default_format(OT(PUBLIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA, v21),
	    KFT(TRANSPARENT_EC_PUBLIC_KEY));
	/* Before 1.3 there is no Transparent EC format. */
	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, v12),
	    KFT(TRANSPARENT_ECDSA_PRIVATE_KEY));
	assert_int_equal(keyfmt_default_format(OT(PUBLIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDH, v12),
	    KFT(TRANSPARENT_ECDH_PUBLIC_KEY));
	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_ECMQV, KMIP_VERSION(1, 0)),
	    KFT(TRANSPARENT_ECMQV_PRIVATE_KEY));
	assert_int_equal(keyfmt_default_format(OT(SYMMETRIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, v14), KFT(RAW));
	assert_int_equal(keyfmt_default_format(OT(SECRET_DATA), 0, v14), KFT(RAW));
	assert_int_equal(keyfmt_default_format(OT(OPAQUE_OBJECT), 0, v14), KFT(OPAQUE));
	assert_int_equal(keyfmt_default_format(OT(CERTIFICATE), 0, v14), KFT(X_509));
	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA, v14),
	    KFT(TRANSPARENT_DSA_PRIVATE_KEY));
	assert_int_equal(keyfmt_default_format(OT(PUBLIC_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA, v14),
	    KFT(TRANSPARENT_DSA_PUBLIC_KEY));
	assert_int_equal(keyfmt_default_format(OT(PRIVATE_KEY), KMIP_CRYPTOGRAPHIC_ALGORITHM_DH, v14), 0);
	/* A Split Key's part is bytes (splitkey.h), Raw like Secret Data's. */
	assert_int_equal(keyfmt_default_format(OT(SPLIT_KEY), 0, v14), KFT(RAW));
	assert_int_equal(keyfmt_default_format(OT(TEMPLATE), 0, v14), 0);
}

static void
test_public_from_private_and_match(void **state)
{
	struct keyfmt_error err;
	uint8_t *spki;
	size_t len;
	int i;

	(void)state;
	assert_int_equal(keyfmt_public_from_private(K.rsa_priv.der, K.rsa_priv.der_len, &spki, &len, &err), 0);
	assert_same_bytes(spki, len, K.rsa_pub.der, K.rsa_pub.der_len);
	free(spki);
	for (i = 0; i < NCURVES; i++) {
		assert_int_equal(keyfmt_public_from_private(K.ec_priv[i].der, K.ec_priv[i].der_len, &spki, &len, &err),
		    0);
		assert_same_bytes(spki, len, K.ec_pub[i].der, K.ec_pub[i].der_len);
		free(spki);
		assert_true(keyfmt_private_public_match(K.ec_priv[i].der, K.ec_priv[i].der_len, K.ec_pub[i].der,
		    K.ec_pub[i].der_len));
	}
	assert_true(keyfmt_private_public_match(K.rsa_priv.der, K.rsa_priv.der_len, K.rsa_pub.der, K.rsa_pub.der_len));
	assert_false(keyfmt_private_public_match(K.rsa_priv.der, K.rsa_priv.der_len, K.rsa1024_pub.der,
	    K.rsa1024_pub.der_len));
	assert_false(keyfmt_private_public_match(K.ec_priv[0].der, K.ec_priv[0].der_len, K.ec_pub[1].der,
	    K.ec_pub[1].der_len));
	assert_false(keyfmt_private_public_match(K.rsa_priv.der, K.rsa_priv.der_len, K.ec_pub[0].der,
	    K.ec_pub[0].der_len));
	assert_false(keyfmt_private_public_match(K.rsa_pub.der, K.rsa_pub.der_len, K.rsa_pub.der, K.rsa_pub.der_len));
	assert_int_equal(keyfmt_public_from_private(K.rsa_pub.der, K.rsa_pub.der_len, &spki, &len, &err), -1);
	assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);
	assert_null(spki);
}

static void
test_key_info_and_load(void **state)
{
	struct keyfmt_error err;
	uint32_t alg, bits;
	EVP_PKEY *pk;
	int i;

	(void)state;
	assert_int_equal(keyfmt_key_info(OT(PRIVATE_KEY), K.rsa_priv.der, K.rsa_priv.der_len, &alg, &bits, &err), 0);
	assert_int_equal(alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	assert_int_equal(bits, 2048);
	assert_int_equal(keyfmt_key_info(OT(PUBLIC_KEY), K.rsa1024_pub.der, K.rsa1024_pub.der_len, &alg, &bits, &err),
	    0);
	assert_int_equal(bits, 1024);
	for (i = 0; i < NCURVES; i++) {
		assert_int_equal(keyfmt_key_info(OT(PUBLIC_KEY), K.ec_pub[i].der, K.ec_pub[i].der_len, &alg, &bits,
		    &err), 0);
		assert_int_equal(alg, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		assert_int_equal(bits, curve_bits[i]);
	}
	assert_int_equal(keyfmt_key_info(OT(SYMMETRIC_KEY), (const uint8_t *)"0123456789abcdef", 16, &alg, &bits,
	    &err), 0);
	assert_int_equal(alg, 0);
	assert_int_equal(bits, 128);
	assert_int_equal(keyfmt_key_info(OT(SECRET_DATA), (const uint8_t *)"x", 1, &alg, &bits, &err), 0);
	assert_int_equal(bits, 0);
	assert_int_equal(keyfmt_key_info(OT(PRIVATE_KEY), (const uint8_t *)"x", 1, &alg, &bits, &err), -1);
	assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);

	pk = keyfmt_load_private(K.ec_priv[2].der, K.ec_priv[2].der_len, &err);
	assert_non_null(pk);
	assert_true(EVP_PKEY_eq(pk, K.ec[2]) == 1);
	EVP_PKEY_free(pk);
	pk = keyfmt_load_public(K.rsa_pub.der, K.rsa_pub.der_len, &err);
	assert_non_null(pk);
	assert_true(EVP_PKEY_eq(pk, K.rsa) == 1);
	EVP_PKEY_free(pk);
	assert_null(keyfmt_load_public(K.rsa_priv.der, K.rsa_priv.der_len, &err));
	assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);
	assert_null(keyfmt_load_private(NULL, 0, &err));
}

/* Damaged stored material (every truncation) is refused, never read past its end. */
static void
test_damaged_stored_material(void **state)
{
	const uint32_t inv = KMIP_RESULT_REASON_INVALID_FIELD;
	size_t n;

	(void)state;
	for (n = 0; n < K.rsa_priv.der_len; n += 7)
		export_fails(OT(PRIVATE_KEY), K.rsa_priv.der, n, KFT(PKCS_1), inv);
	for (n = 0; n < K.rsa_pub.der_len; n++)
		export_fails(OT(PUBLIC_KEY), K.rsa_pub.der, n, 0, inv);
	for (n = 0; n < K.ec_priv[2].der_len; n++)
		export_fails(OT(PRIVATE_KEY), K.ec_priv[2].der, n, KFT(TRANSPARENT_EC_PRIVATE_KEY), inv);
	for (n = 0; n < K.ec_pub[0].der_len; n++)
		export_fails(OT(PUBLIC_KEY), K.ec_pub[0].der, n, KFT(X_509), inv);
	/* A public key stored as a private one and the reverse. */
	export_fails(OT(PUBLIC_KEY), K.ec_priv[0].der, K.ec_priv[0].der_len, KFT(X_509), inv);
	export_fails(OT(PRIVATE_KEY), K.ec_pub[0].der, K.ec_pub[0].der_len, KFT(PKCS_8), inv);
	export_fails(OT(CERTIFICATE), K.cert, 0, 0, inv);
}

/* The OpenSSL error queue is left as keyfmt found it, so TLS code that reads it later is not misled. */
static void
test_error_queue_untouched(void **state)
{
	struct state *s = *state;
	struct keyfmt_key k;
	struct keyfmt_error err;

	ERR_clear_error();
	assert_int_equal(keyfmt_import(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, "\x30\x03\x02\x01\x00", 5), &k, &err),
	    -1);
	assert_int_equal(keyfmt_import(OT(PUBLIC_KEY), KFT(X_509), km_bytes(s, K.cert, K.cert_len), &k, &err), -1);
	assert_int_equal(ERR_peek_error(), 0);
}

/* Reads the hex value= of the first <name ...> element at or after from; fails the test if absent. */
static uint8_t *
vector_hex(const char *xml, const char *from, const char *name, size_t *len)
{
	char pat[64];
	const char *p = xml, *v = NULL;
	uint8_t *out;
	size_t n = 0, cap;

	snprintf(pat, sizeof(pat), "<%s ", name);
	if (from != NULL && (p = strstr(xml, from)) == NULL)
		fail_msg("no %s in the vector", from);
	if ((p = strstr(p, pat)) == NULL || (v = strstr(p, "value=\"")) == NULL)
		fail_msg("no <%s> in the vector", name);
	v += 7;
	cap = strcspn(v, "\"") / 2;
	out = malloc(cap + 1);
	assert_non_null(out);
	for (; n < cap; n++) {
		unsigned b;

		assert_int_equal(sscanf(v + 2 * n, "%2x", &b), 1);
		out[n] = (uint8_t)b;
	}
	*len = n;
	return out;
}

/* A whole vector file in memory; fails the test when it is missing. */
static char *
vector_file(const char *name)
{
	const char *dir = getenv("KMIP_VECTORS");
	char path[512];
	char *buf;
	size_t size;

	if (dir == NULL)
		dir = "../shared/kmip-vectors";
	snprintf(path, sizeof(path), "%s/oasis-profiles-v2.1-os/mandatory/%s", dir, name);
	if ((buf = util_read_file(path, &size)) == NULL)
		fail_msg("cannot open %s (set KMIP_VECTORS)", path);
	assert_true(size > 0);
	return buf;
}

/* Appends a Big Integer field with the exact bytes a vector gives. */
static void
add_vector_bigint(struct state *s, struct ttlv *st, const char *xml, uint32_t tag, const char *name)
{
	uint8_t *b;
	size_t n;

	b = vector_hex(xml, NULL, name, &n);
	assert_true(n % 8 == 0);
	ttlv_append(st, ttlv_new_bigint(s->a, tag, b, n));
	free(b);
}

/*
 * KMIP 2.1 test cases: BL-M-9 registers a Transparent RSA Private Key and BL-M-11 the same key as PKCS#8;
 * BL-M-8 registers a Transparent RSA Public Key whose Get in BL-M-6 (no format asked) returns PKCS#1 bytes.
 */
static void
test_oasis_vectors(void **state)
{
	struct state *s = *state;
	char *bl9 = vector_file("BL-M-9-21.xml"), *bl11 = vector_file("BL-M-11-21.xml");
	char *bl8 = vector_file("BL-M-8-21.xml"), *bl6 = vector_file("BL-M-6-21.xml");
	struct keyfmt_key k9, k11, k8;
	struct ttlv *st, *item;
	uint8_t *b;
	size_t n;
	uint32_t used;

	st = new_struct(s, KMIP_TAG_KEY_MATERIAL);
	add_vector_bigint(s, st, bl9, KMIP_TAG_MODULUS, "Modulus");
	add_vector_bigint(s, st, bl9, KMIP_TAG_PRIVATE_EXPONENT, "PrivateExponent");
	add_vector_bigint(s, st, bl9, KMIP_TAG_PUBLIC_EXPONENT, "PublicExponent");
	add_vector_bigint(s, st, bl9, KMIP_TAG_P, "P");
	add_vector_bigint(s, st, bl9, KMIP_TAG_Q, "Q");
	add_vector_bigint(s, st, bl9, KMIP_TAG_PRIME_EXPONENT_P, "PrimeExponentP");
	add_vector_bigint(s, st, bl9, KMIP_TAG_PRIME_EXPONENT_Q, "PrimeExponentQ");
	add_vector_bigint(s, st, bl9, KMIP_TAG_CRT_COEFFICIENT, "CRTCoefficient");
	import_ok(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), st, &k9);
	assert_int_equal(k9.bits, 1024);
	b = vector_hex(bl11, "<PrivateKey>", "KeyMaterial", &n);
	import_ok(OT(PRIVATE_KEY), KFT(PKCS_8), km_bytes(s, b, n), &k11);
	free(b);
	assert_same_bytes(k9.der, k9.der_len, k11.der, k11.der_len);

	st = new_struct(s, KMIP_TAG_KEY_MATERIAL);
	add_vector_bigint(s, st, bl8, KMIP_TAG_MODULUS, "Modulus");
	add_vector_bigint(s, st, bl8, KMIP_TAG_PUBLIC_EXPONENT, "PublicExponent");
	import_ok(OT(PUBLIC_KEY), KFT(TRANSPARENT_RSA_PUBLIC_KEY), st, &k8);
	assert_int_equal(k8.bits, 2048);
	item = export_ok(s, OT(PUBLIC_KEY), k8.der, k8.der_len, 0, &used);
	assert_int_equal(used, KFT(PKCS_1));
	b = vector_hex(bl6, "<ResponsePayload>\n      <ObjectType type=\"Enumeration\" value=\"PublicKey\"/>",
	    "KeyMaterial", &n);
	assert_same_bytes(item->v.bytes.data, item->length, b, n);
	free(b);
	/* And the Transparent export gives back the vector's Big Integers, sign padding included. */
	item = export_ok(s, OT(PUBLIC_KEY), k8.der, k8.der_len, KFT(TRANSPARENT_RSA_PUBLIC_KEY), NULL);
	assert_true(ttlv_equal(item, st));

	keyfmt_key_clear(&k9);
	keyfmt_key_clear(&k11);
	keyfmt_key_clear(&k8);
	free(bl9);
	free(bl11);
	free(bl8);
	free(bl6);
}

/*
 * The codec table that keyfmt looks formats up in: its rows are checked against the classes KMIP sorts keys
 * into, against the four functions that read it, and by running every row on keys made here, so that a row
 * added wrong fails one of the tests below.
 */
static const uint32_t table_types[] = {
	OT(SYMMETRIC_KEY), OT(SECRET_DATA), OT(OPAQUE_OBJECT), OT(CERTIFICATE), OT(PRIVATE_KEY), OT(PUBLIC_KEY),
	OT(SPLIT_KEY), OT(TEMPLATE),
};
static const uint32_t table_algs[] = {
	0, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA,
	KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDH, KMIP_CRYPTOGRAPHIC_ALGORITHM_ECMQV, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES,
	KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA, KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES, KMIP_CRYPTOGRAPHIC_ALGORITHM_DH,
	KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, KMIP_CRYPTOGRAPHIC_ALGORITHM_ED25519,
};
static const unsigned table_versions[] = {
	KMIP_VERSION(1, 0), KMIP_VERSION(1, 1), KMIP_VERSION(1, 2), KMIP_VERSION(1, 3), KMIP_VERSION(1, 4),
	KMIP_VERSION(2, 0), KMIP_VERSION(2, 1),
};
#define NTYPES (sizeof(table_types) / sizeof(table_types[0]))
#define NALGS (sizeof(table_algs) / sizeof(table_algs[0]))
#define NVERSIONS (sizeof(table_versions) / sizeof(table_versions[0]))
/* Every Key Format Type up to PKCS#10 is tried, and one that does not exist. */
#define LAST_FORMAT KFT(PKCS_10)
#define NO_FORMAT 0x999

/* The class KMIP's key formats put an object of type ot and Cryptographic Algorithm alg in; -1: none here. */
static int
class_of(uint32_t ot, uint32_t alg)
{
	switch (ot) {
	case OT(PRIVATE_KEY):
	case OT(PUBLIC_KEY):
		if (alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA)
			return KEYFMT_CLASS_RSA;
		if (alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_EC || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA ||
		    alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDH || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECMQV)
			return KEYFMT_CLASS_EC;
		if (alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA)
			return KEYFMT_CLASS_DSA;
		return -1;
	case OT(SYMMETRIC_KEY):
		return KEYFMT_CLASS_SYMMETRIC;
	case OT(SECRET_DATA):
	case OT(SPLIT_KEY):
	case OT(OPAQUE_OBJECT):
	case OT(CERTIFICATE):
	case OT(PGP_KEY):
		return KEYFMT_CLASS_NONE;
	default:
		return -1;
	}
}

/* The next format to try after f (from 0: 1 to LAST_FORMAT, then NO_FORMAT); 0 after the last. */
static uint32_t
next_format(uint32_t f)
{
	return f < LAST_FORMAT ? f + 1 : f == LAST_FORMAT ? NO_FORMAT : 0;
}

/* True when the table has a row for ot, format and class cls that applies (imports, when imports is set). */
static bool
table_has(uint32_t ot, uint32_t format, int cls, bool imports)
{
	struct keyfmt_codec r;
	size_t i;

	for (i = 0; keyfmt_codec_row(i, 0, KMIP_VERSION(2, 1), &r); i++)
		if (r.object_type == ot && r.format == format && (cls < 0 || (int)r.alg_class == cls) &&
		    (imports ? r.imports : r.applies))
			return true;
	return false;
}

/* The item that holds the material of an object type on Register and Get. */
static uint32_t
material_tag(uint32_t ot)
{
	return ot == OT(CERTIFICATE) ? KMIP_TAG_CERTIFICATE_VALUE : ot == OT(OPAQUE_OBJECT) ?
	    KMIP_TAG_OPAQUE_DATA_VALUE : KMIP_TAG_KEY_MATERIAL;
}

/* One row per object type, format and class; classes that fit the object type; every format reachable. */
static void
test_codec_table_shape(void **state)
{
	struct state *s = *state;
	struct keyfmt_codec r, q;
	size_t i, j, a, t, nrows;
	struct keyfmt_error err;
	struct keyfmt_key k;
	uint32_t f;
	bool fits;

	for (i = 0; keyfmt_codec_row(i, 0, KMIP_VERSION(2, 1), &r); i++) {
		for (a = 0, fits = false; a < NALGS; a++)
			fits |= class_of(r.object_type, table_algs[a]) == (int)r.alg_class;
		if (!fits)
			fail_msg("row %zu: class %d does not fit %s", i, r.alg_class,
			    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, r.object_type));
		if (!r.imports && !r.applies)
			fail_msg("row %zu: neither imports nor applies", i);
		for (j = 0; j < i; j++) {
			assert_true(keyfmt_codec_row(j, 0, KMIP_VERSION(2, 1), &q));
			if (q.object_type != r.object_type || q.format != r.format)
				continue;
			if (q.alg_class == r.alg_class)
				fail_msg("rows %zu and %zu: the same object type, format and class", j, i);
			/* Register reads the class out of the material, so the row it finds must not matter. */
			if (q.imports != r.imports)
				fail_msg("rows %zu and %zu: one object type and format, imported by one only", j, i);
		}
		/* Register knows every format a row imports: an empty item is refused as malformed. */
		if (r.imports) {
			memset(&err, 0, sizeof(err));
			assert_int_equal(keyfmt_import(r.object_type, r.format, ttlv_new_bytes(s->a,
			    material_tag(r.object_type), "", 0), &k, &err), -1);
			if (err.reason != KMIP_RESULT_REASON_INVALID_FIELD)
				fail_msg("row %zu: an empty item is refused with 0x%x (%s)", i, err.reason,
				    err.message);
		}
	}
	nrows = i;
	assert_true(nrows > 0);
	assert_false(keyfmt_codec_row(nrows + 1, 0, KMIP_VERSION(2, 1), &r));
	/* A Certificate and an Opaque Object have no Key Block: Register takes one format, which may be left out. */
	assert_true(table_has(OT(CERTIFICATE), KFT(X_509), -1, true));
	assert_true(table_has(OT(OPAQUE_OBJECT), KFT(OPAQUE), -1, true));
	for (f = next_format(0); f != 0; f = next_format(f)) {
		if (f != KFT(X_509))
			assert_false(table_has(OT(CERTIFICATE), f, -1, true));
		if (f != KFT(OPAQUE))
			assert_false(table_has(OT(OPAQUE_OBJECT), f, -1, true));
	}
	/* keyfmt_format_applies() says what the rows say, for every object type, algorithm and format. */
	for (t = 0; t < NTYPES; t++)
		for (a = 0; a < NALGS; a++)
			for (f = next_format(0); f != 0; f = next_format(f))
				if (keyfmt_format_applies(table_types[t], table_algs[a], f) !=
				    (class_of(table_types[t], table_algs[a]) >= 0 &&
				    table_has(table_types[t], f, class_of(table_types[t], table_algs[a]), false)))
					fail_msg("keyfmt_format_applies(%s, %s, %s) disagrees with the table",
					    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, table_types[t]),
					    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, table_algs[a]),
					    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, f));
}

/*
 * For every object type, algorithm and KMIP version, exactly one row of the class is the default (none when
 * the table has no row of that class), it applies, and keyfmt_default_format() returns it.
 */
static void
test_codec_one_default(void **state)
{
	struct keyfmt_codec r, dflt;
	size_t t, a, v, i, nclass, ndefault;
	uint32_t ot, alg;
	unsigned ver;
	int cls;

	(void)state;
	for (t = 0; t < NTYPES; t++)
		for (a = 0; a < NALGS; a++)
			for (v = 0; v < NVERSIONS; v++) {
				ot = table_types[t], alg = table_algs[a], ver = table_versions[v];
				cls = class_of(ot, alg);
				nclass = ndefault = 0;
				memset(&dflt, 0, sizeof(dflt));
				for (i = 0; keyfmt_codec_row(i, alg, ver, &r); i++) {
					if (r.object_type != ot)
						continue;
					if ((int)r.alg_class == cls)
						nclass++;
					if (r.is_default) {
						ndefault++;
						dflt = r;
					}
				}
				if (ndefault != (nclass > 0 ? 1u : 0u))
					fail_msg("%s, %s, KMIP %u.%u: %zu default formats",
					    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
					    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg),
					    KMIP_VERSION_MAJOR(ver), KMIP_VERSION_MINOR(ver), ndefault);
				if (ndefault == 0) {
					assert_int_equal(keyfmt_default_format(ot, alg, ver), 0);
					continue;
				}
				assert_int_equal(dflt.alg_class, cls);
				assert_true(dflt.applies);
				assert_int_equal(keyfmt_default_format(ot, alg, ver), dflt.format);
			}
}

/* Material of every object type and class, made for one test. */
struct fresh {
	EVP_PKEY *rsa, *ec, *dsa;
	struct keyfmt_key rsa_priv, rsa_pub, ec_priv, ec_pub, dsa_priv, dsa_pub;
	uint8_t bytes[32];
	uint8_t *cert;
	size_t cert_len;
};

/* A DSA key of 1024 bits, its parameters generated (well under a second at this size). */
static EVP_PKEY *
dsa_make(void)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL), *kc = NULL;
	EVP_PKEY *params = NULL, *key = NULL;

	if (pc != NULL && EVP_PKEY_paramgen_init(pc) > 0 && EVP_PKEY_CTX_set_dsa_paramgen_bits(pc, 1024) > 0 &&
	    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pc, 160) > 0 && EVP_PKEY_paramgen(pc, &params) > 0 &&
	    (kc = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL)) != NULL && EVP_PKEY_keygen_init(kc) > 0)
		(void)EVP_PKEY_keygen(kc, &key);
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(params);
	assert_non_null(key);
	return key;
}

static void
fresh_make(struct fresh *f)
{
	struct keyfmt_error err;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	f->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	f->dsa = dsa_make();
	assert_non_null(f->rsa);
	assert_non_null(f->ec);
	assert_int_equal(keyfmt_from_pkey(f->rsa, &f->rsa_priv, &f->rsa_pub, &err), 0);
	assert_int_equal(keyfmt_from_pkey(f->ec, &f->ec_priv, &f->ec_pub, &err), 0);
	if (keyfmt_from_pkey(f->dsa, &f->dsa_priv, &f->dsa_pub, &err) != 0)
		fail_msg("DSA key: %s", err.message);
	for (i = 0; i < sizeof(f->bytes); i++)
		f->bytes[i] = (uint8_t)(0x5a ^ (i * 37));
	f->cert = make_cert(f->ec, &f->cert_len);
}

static void
fresh_free(struct fresh *f)
{
	EVP_PKEY_free(f->rsa);
	EVP_PKEY_free(f->ec);
	EVP_PKEY_free(f->dsa);
	keyfmt_key_clear(&f->dsa_priv);
	keyfmt_key_clear(&f->dsa_pub);
	keyfmt_key_clear(&f->rsa_priv);
	keyfmt_key_clear(&f->rsa_pub);
	keyfmt_key_clear(&f->ec_priv);
	keyfmt_key_clear(&f->ec_pub);
	free(f->cert);
}

/*
 * The canonical material of a row's object type and class: *p and *len, and the key it came from (NULL for
 * material that is not an RSA or EC key).
 */
static const struct keyfmt_key *
fresh_material(const struct fresh *f, const struct keyfmt_codec *r, const uint8_t **p, size_t *len)
{
	const struct keyfmt_key *k = NULL;
	bool private = r->object_type == OT(PRIVATE_KEY);

	if (r->alg_class == KEYFMT_CLASS_RSA)
		k = private ? &f->rsa_priv : &f->rsa_pub;
	else if (r->alg_class == KEYFMT_CLASS_EC)
		k = private ? &f->ec_priv : &f->ec_pub;
	else if (r->alg_class == KEYFMT_CLASS_DSA)
		k = private ? &f->dsa_priv : &f->dsa_pub;
	if (k != NULL) {
		*p = k->der;
		*len = k->der_len;
	} else if (r->object_type == OT(CERTIFICATE)) {
		*p = f->cert;
		*len = f->cert_len;
	} else {
		*p = f->bytes;
		*len = sizeof(f->bytes);
	}
	return k;
}

/* Every row that applies writes its format, in the object type's item; every format without one is refused. */
static void
test_codec_rows_export(void **state)
{
	struct state *s = *state;
	const struct keyfmt_key *k;
	struct keyfmt_codec r;
	struct fresh fr;
	struct ttlv *item;
	const uint8_t *p;
	const uint32_t no = KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED;
	uint32_t used, f;
	size_t i, len;

	fresh_make(&fr);
	for (i = 0; keyfmt_codec_row(i, 0, KMIP_VERSION(2, 1), &r); i++) {
		k = fresh_material(&fr, &r, &p, &len);
		if (r.applies) {
			item = export_ok(s, r.object_type, p, len, r.format, &used);
			assert_int_equal(used, r.format);
			assert_int_equal(item->tag, material_tag(r.object_type));
			assert_true(keyfmt_format_applies(r.object_type, k != NULL ? k->alg : 0, r.format));
		}
		for (f = next_format(0); f != 0; f = next_format(f))
			if (!table_has(r.object_type, f, (int)r.alg_class, false))
				export_fails(r.object_type, p, len, f, no);
	}
	fresh_free(&fr);
}

/*
 * Every row that imports and applies takes back what it wrote, to the same canonical bytes; and what a Get
 * without a format writes comes back through Register in the format it reported.
 */
static void
test_codec_rows_round_trip(void **state)
{
	struct state *s = *state;
	const struct keyfmt_key *k;
	struct keyfmt_codec r;
	struct keyfmt_key back;
	struct fresh fr;
	struct ttlv *item;
	const uint8_t *p;
	uint32_t alg, used;
	size_t i, len;

	fresh_make(&fr);
	for (i = 0; keyfmt_codec_row(i, 0, KMIP_VERSION(2, 1), &r); i++) {
		k = fresh_material(&fr, &r, &p, &len);
		if (r.imports && r.applies) {
			item = export_ok(s, r.object_type, p, len, r.format, NULL);
			import_ok(r.object_type, r.format, item, &back);
			assert_same_bytes(back.der, back.der_len, p, len);
			assert_int_equal(back.format, r.format);
			if (k != NULL) {
				assert_int_equal(back.alg, k->alg);
				assert_int_equal(back.bits, k->bits);
				assert_int_equal(back.curve, k->curve);
			}
			keyfmt_key_clear(&back);
		}
		alg = k != NULL ? k->alg : 0;
		item = export_ok(s, r.object_type, p, len, 0, &used);
		assert_int_equal(used, keyfmt_default_format(r.object_type, alg, KMIP_VERSION(2, 1)));
		import_ok(r.object_type, used, item, &back);
		assert_same_bytes(back.der, back.der_len, p, len);
		keyfmt_key_clear(&back);
	}
	fresh_free(&fr);
}

/* keyfmt_import_as: imports and asserts success, kept as expected, with the canonical form of want. */
static void
import_as_ok(uint32_t ot, uint32_t format, uint32_t alg, const struct ttlv *item, bool kept,
    const struct keyfmt_key *want)
{
	struct keyfmt_error err = { 0, "" };
	struct keyfmt_key k;

	if (keyfmt_import_as(ot, format, alg, item, &k, &err) != 0)
		fail_msg("import of %s declared %s failed: %s", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format), err.message);
	assert_int_equal(k.kept, kept);
	assert_int_equal(k.format, format);
	assert_same_bytes(k.der, k.der_len, want->der, want->der_len);
	assert_int_equal(k.alg, want->alg);
	assert_int_equal(k.bits, want->bits);
	keyfmt_key_clear(&k);
}

/* keyfmt_import_as: expects failure with reason and a zeroed output. */
static void
import_as_fails(uint32_t ot, uint32_t format, uint32_t alg, const struct ttlv *item, uint32_t reason)
{
	struct keyfmt_error err = { 0, "" };
	struct keyfmt_key k;

	memset(&k, 0xa5, sizeof(k));
	if (keyfmt_import_as(ot, format, alg, item, &k, &err) == 0)
		fail_msg("import of %s declared %s succeeded", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, ot),
		    ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format));
	if (err.reason != reason)
		fail_msg("reason 0x%x (%s), expected 0x%x", err.reason, err.message, reason);
	assert_true(err.message[0] != '\0');
	assert_null(k.der);
	assert_false(k.kept);
}

/*
 * Keys as clients send them: DER in another structure than declared, or Raw, read by their shape and kept
 * (kept set, the declared format kept); in their declared structure, not kept; a key of another algorithm
 * than declared, or bytes that are no key, refused.
 */
static void
test_import_as_sniffed(void **state)
{
	const uint32_t RSA = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, EC = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
	const uint32_t ECDSA = KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA, R_INV = KMIP_RESULT_REASON_INVALID_FIELD;
	struct state *s = *state;
	uint8_t *pkcs1, *pub1, *ecpk, *point, cpoint[33], junk[] = { 0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x05 };
	size_t pkcs1_len, pub1_len, ecpk_len, point_len;
	EVP_PKEY *k1;
	struct keyfmt_key k1pub;
	struct keyfmt_error err;

	ossl_encode(K.rsa, EVP_PKEY_KEYPAIR, "type-specific", &pkcs1, &pkcs1_len);
	ossl_encode(K.rsa, EVP_PKEY_PUBLIC_KEY, "type-specific", &pub1, &pub1_len);
	ossl_encode(K.ec[0], EVP_PKEY_KEYPAIR, "type-specific", &ecpk, &ecpk_len);
	/* Declared right: not kept. Declared wrong, or Raw: kept, with the same canonical form. */
	import_as_ok(OT(PRIVATE_KEY), KFT(PKCS_1), RSA, km_bytes(s, pkcs1, pkcs1_len), false, &K.rsa_priv);
	import_as_ok(OT(PRIVATE_KEY), KFT(PKCS_8), RSA, km_bytes(s, pkcs1, pkcs1_len), true, &K.rsa_priv);
	import_as_ok(OT(PRIVATE_KEY), KFT(RAW), 0, km_bytes(s, pkcs1, pkcs1_len), true, &K.rsa_priv);
	import_as_ok(OT(PRIVATE_KEY), KFT(PKCS_1), RSA, km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len), true,
	    &K.rsa_priv);
	import_as_ok(OT(PRIVATE_KEY), KFT(PKCS_8), EC, km_bytes(s, ecpk, ecpk_len), true, &K.ec_priv[0]);
	import_as_ok(OT(PRIVATE_KEY), KFT(ECPRIVATEKEY), ECDSA, km_bytes(s, K.ec_priv[0].der, K.ec_priv[0].der_len),
	    true, &K.ec_priv[0]);
	import_as_ok(OT(PUBLIC_KEY), KFT(PKCS_1), RSA, km_bytes(s, K.rsa_pub.der, K.rsa_pub.der_len), true,
	    &K.rsa_pub);
	import_as_ok(OT(PUBLIC_KEY), KFT(X_509), RSA, km_bytes(s, pub1, pub1_len), true, &K.rsa_pub);
	import_as_ok(OT(PUBLIC_KEY), KFT(RAW), RSA, km_bytes(s, pub1, pub1_len), true, &K.rsa_pub);
	/* A label that is no public key format at all, on a public key. */
	import_as_ok(OT(PUBLIC_KEY), KFT(PKCS_8), RSA, km_bytes(s, K.rsa_pub.der, K.rsa_pub.der_len), true,
	    &K.rsa_pub);
	import_as_ok(OT(PUBLIC_KEY), KFT(ECPRIVATEKEY), EC, km_bytes(s, K.ec_pub[0].der, K.ec_pub[0].der_len), true,
	    &K.ec_pub[0]);
	import_as_ok(OT(PRIVATE_KEY), KFT(X_509), RSA, km_bytes(s, pkcs1, pkcs1_len), true, &K.rsa_priv);
	/* A Transparent format holds a Structure: bytes under its label stay refused. */
	import_as_fails(OT(PRIVATE_KEY), KFT(TRANSPARENT_RSA_PRIVATE_KEY), RSA, km_bytes(s, pkcs1, pkcs1_len), R_INV);
	/* EC points sent Raw, uncompressed or compressed, on the curve they lie on. */
	point_len = EVP_PKEY_get1_encoded_public_key(K.ec[0], &point);
	assert_int_equal(point_len, 65);
	import_as_ok(OT(PUBLIC_KEY), KFT(RAW), EC, km_bytes(s, point, point_len), true, &K.ec_pub[0]);
	cpoint[0] = (uint8_t)(0x02 | (point[64] & 1));
	memcpy(cpoint + 1, point + 1, 32);
	import_as_ok(OT(PUBLIC_KEY), KFT(RAW), EC, km_bytes(s, cpoint, sizeof(cpoint)), true, &K.ec_pub[0]);
	OPENSSL_free(point);
	k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k1);
	assert_int_equal(keyfmt_from_pkey(k1, NULL, &k1pub, &err), 0);
	point_len = EVP_PKEY_get1_encoded_public_key(k1, &point);
	import_as_ok(OT(PUBLIC_KEY), KFT(RAW), EC, km_bytes(s, point, point_len), true, &k1pub);
	/* Refused: another algorithm than declared, no key at all, a bare scalar, a private key as public. */
	import_as_fails(OT(PRIVATE_KEY), KFT(PKCS_8), RSA, km_bytes(s, ecpk, ecpk_len), R_INV);
	import_as_fails(OT(PRIVATE_KEY), KFT(PKCS_1), EC, km_bytes(s, pkcs1, pkcs1_len), R_INV);
	import_as_fails(OT(PUBLIC_KEY), KFT(RAW), RSA, km_bytes(s, point, point_len), R_INV);
	import_as_fails(OT(PRIVATE_KEY), KFT(RAW), RSA, km_bytes(s, junk, sizeof(junk)), R_INV);
	import_as_fails(OT(PUBLIC_KEY), KFT(X_509), RSA, km_bytes(s, junk, sizeof(junk)), R_INV);
	import_as_fails(OT(PRIVATE_KEY), KFT(RAW), EC, km_bytes(s, point + 1, 32), R_INV);
	import_as_fails(OT(PUBLIC_KEY), KFT(X_509), RSA, km_bytes(s, K.rsa_priv.der, K.rsa_priv.der_len), R_INV);
	point[10] ^= 1;		/* no longer on any curve */
	import_as_fails(OT(PUBLIC_KEY), KFT(RAW), EC, km_bytes(s, point, point_len), R_INV);
	OPENSSL_free(point);
	keyfmt_key_clear(&k1pub);
	EVP_PKEY_free(k1);
	OPENSSL_clear_free(pkcs1, pkcs1_len);
	OPENSSL_free(pub1);
	OPENSSL_clear_free(ecpk, ecpk_len);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest vector_tests[] = {
		cmocka_unit_test_setup_teardown(test_oasis_vectors, setup, teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rsa_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_der_formats_match_openssl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa_transparent_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec_transparent_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec_canonical_from_other_encodings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inapplicable_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_unsupported_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_der, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_transparent_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_transparent_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_transparent_ec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symmetric, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_data_and_opaque, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_from_private_and_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_info_and_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_stored_material, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_queue_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codec_table_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codec_one_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codec_rows_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codec_rows_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transparent_rsa_checked_before_math, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_as_sniffed, setup, teardown),
	};

	util_test_start(argc, argv);
	if (util_vector_run())
		return cmocka_run_group_tests_name("keyfmt: the OASIS files", vector_tests, group_setup, group_teardown);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
