/*
 * keyfmt: key material conversions between the KMIP Key Format Types and the canonical forms the store keeps
 * (see keyfmt.h). Facts used here: KMIP 1.4 section 2.1.7 (Transparent key structures), 9.1.3.2.3 (Key
 * Format Type), the KMIP 2.x table of default Key Format Types, RFC 8017 (PKCS#1), RFC 5208 (PKCS#8),
 * RFC 5915 (ECPrivateKey), RFC 5280 (SubjectPublicKeyInfo) and NIST SP 800-56B appendix C (recovering the
 * primes of an RSA key from its exponents).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "core/engine/keyfmt.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define R_NOT_SUPPORTED		KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED
#define R_INVALID		KMIP_RESULT_REASON_INVALID_FIELD
#define R_CRYPTO		KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE
#define R_NOMEM			KMIP_RESULT_REASON_GENERAL_FAILURE

/* DER tags of the first two elements that tell the key structures apart. */
#define DER_INTEGER		0x02
#define DER_BIT_STRING		0x03
#define DER_OCTET_STRING	0x04
#define DER_SEQUENCE		0x30

/* Recovering RSA primes from (n, e, d): bounded, since it runs in the event loop (see rsa_recover). */
#define RECOVER_MAX_BITS	4096
#define RECOVER_TRIALS		16
#define RECOVER_MAX_SQUARINGS	256
/*
 * Public exponents above 2^256 are refused: SP 800-56B caps e there, OpenSSL itself refuses more than 64
 * bits with a modulus above 3072 bits, and a long e makes every public operation (and e d - 1 in prime
 * recovery) as costly as a private one.
 */
#define RSA_PUBEXP_MAX_BITS	256
/* Primes below this are tried as factors of a modulus whose primes must be recovered (see rsa_check_sizes). */
#define RSA_SMALL_PRIME_MAX	1024

#define EC_POINT_MAX		(1 + 2 * 66)	/* an uncompressed P-521 point */

/* The named prime curves keyfmt handles. */
static const struct curve {
	uint32_t kmip;		/* Recommended Curve */
	int nid;
	unsigned bits;
} curves[] = {
	{ KMIP_RECOMMENDED_CURVE_P_192, NID_X9_62_prime192v1, 192 },
	{ KMIP_RECOMMENDED_CURVE_P_224, NID_secp224r1, 224 },
	{ KMIP_RECOMMENDED_CURVE_P_256, NID_X9_62_prime256v1, 256 },
	{ KMIP_RECOMMENDED_CURVE_P_384, NID_secp384r1, 384 },
	{ KMIP_RECOMMENDED_CURVE_P_521, NID_secp521r1, 521 },
	{ KMIP_RECOMMENDED_CURVE_SECP256K1, NID_secp256k1, 256 },
	{ KMIP_RECOMMENDED_CURVE_BRAINPOOLP256R1, NID_brainpoolP256r1, 256 },
	{ KMIP_RECOMMENDED_CURVE_BRAINPOOLP384R1, NID_brainpoolP384r1, 384 },
	{ KMIP_RECOMMENDED_CURVE_BRAINPOOLP512R1, NID_brainpoolP512r1, 512 },
};

/* The components of an RSA key; absent ones are NULL. Private ones live in secure (wiped) BIGNUMs. */
struct rsa_parts {
	BIGNUM *n, *e, *d, *p, *q, *dp, *dq, *qinv;
};

/* Sets *err (when err is not NULL) and returns -1. */
static int __attribute__((format(printf, 3, 4)))
fail(struct keyfmt_error *err, uint32_t reason, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->reason = reason;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Cryptographic Failure naming what failed and OpenSSL's last reason; returns -1. */
static int
fail_ssl(struct keyfmt_error *err, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	return fail(err, R_CRYPTO, "%s failed%s%s", what, why != NULL ? ": " : "", why != NULL ? why : "");
}

/* The spec name of a Key Format Type, for messages. */
static const char *
format_name(uint32_t format)
{
	const char *s = ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, format);

	return s != NULL ? s : "unknown";
}

/* The spec name of an Object Type, for messages. */
static const char *
type_name(uint32_t object_type)
{
	const char *s = ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, object_type);

	return s != NULL ? s : "unknown object type";
}

/* True for the algorithms whose keys are EC keys. */
static bool
alg_is_ec(uint32_t alg)
{
	return alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_EC || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA ||
	    alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDH || alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_ECMQV;
}

/* Frees a BIGNUM that may hold a secret. */
static void
bn_wipe(BIGNUM **bn)
{
	BN_clear_free(*bn);
	*bn = NULL;
}

/* Wipes and frees every component of an RSA key. */
static void
rsa_parts_free(struct rsa_parts *r)
{
	bn_wipe(&r->n);
	bn_wipe(&r->e);
	bn_wipe(&r->d);
	bn_wipe(&r->p);
	bn_wipe(&r->q);
	bn_wipe(&r->dp);
	bn_wipe(&r->dq);
	bn_wipe(&r->qinv);
}

/* Wipes and frees a key's canonical bytes and zeroes it. */
void
keyfmt_key_clear(struct keyfmt_key *k)
{
	if (k == NULL)
		return;
	if (k->der != NULL) {
		OPENSSL_cleanse(k->der, k->der_len);
		free(k->der);
	}
	memset(k, 0, sizeof(*k));
}

/* A malloc'd copy of len bytes (len > 0), or NULL. */
static uint8_t *
copy_bytes(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len);

	if (c != NULL)
		memcpy(c, p, len);
	return c;
}

/* Wipes and frees a malloc'd buffer. */
static void
wipe_free(uint8_t *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

/*
 * Reads one DER header (a low tag number, a definite length of up to four bytes) at p. Returns the header's
 * length with *tag and *vlen set, or 0 when it is malformed or its value runs past avail.
 */
static size_t
der_header(const uint8_t *p, size_t avail, uint8_t *tag, size_t *vlen)
{
	size_t hl, l = 0, i, k;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return 0;
	*tag = p[0];
	if (p[1] < 0x80) {
		l = p[1];
		hl = 2;
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 4 || avail < 2 + k)
			return 0;
		for (i = 0; i < k; i++)
			l = l << 8 | p[2 + i];
		hl = 2 + k;
	}
	if (l > avail - hl)
		return 0;
	*vlen = l;
	return hl;
}

/*
 * The tags of the first two elements of the DER SEQUENCE that spans all of der (*t2 is 0 when there is only
 * one). OpenSSL's decoders unwrap PKCS#8 when asked for a type-specific key, so this is what tells PKCS#1,
 * PKCS#8, ECPrivateKey and SubjectPublicKeyInfo apart. Returns 0, or -1 when der is not one SEQUENCE.
 */
static int
der_shape(const uint8_t *der, size_t len, uint8_t *t1, uint8_t *t2)
{
	uint8_t tag;
	size_t hl, vl;

	if ((hl = der_header(der, len, &tag, &vl)) == 0 || tag != DER_SEQUENCE || hl + vl != len)
		return -1;
	der += hl;
	len = vl;
	if ((hl = der_header(der, len, t1, &vl)) == 0)
		return -1;
	der += hl + vl;
	len -= hl + vl;
	*t2 = 0;
	if (len > 0 && der_header(der, len, t2, &vl) == 0)
		return -1;
	return 0;
}

/* The DER of the rsaEncryption and id-ecPublicKey object identifiers (RFC 8017, RFC 5480). */
static const uint8_t oid_rsa[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const uint8_t oid_ec[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
/* id-dsa (RFC 3279) */
static const uint8_t oid_dsa[] = { 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01 };

/*
 * Reads a canonical PKCS#8 PrivateKeyInfo or SubjectPublicKeyInfo just far enough to name its algorithm
 * (RSA, EC or DSA) and find the key inside: the privateKey OCTET STRING's contents, or the subjectPublicKey BIT
 * STRING's bits. For RSA those are the PKCS#1 structures themselves, so the usual Get (PKCS#1, the default)
 * needs no decoder at all. Returns 0, or -1 when der does not have that shape.
 */
static int
canon_peek(const uint8_t *der, size_t len, bool private, uint32_t *alg, const uint8_t **inner, size_t *inner_len)
{
	const uint8_t *p, *end, *algid;
	size_t hl, vl, al;
	uint8_t tag;

	if ((hl = der_header(der, len, &tag, &vl)) == 0 || tag != DER_SEQUENCE || hl + vl != len)
		return -1;
	p = der + hl;
	end = p + vl;
	if (private) {
		/* version INTEGER */
		if ((hl = der_header(p, (size_t)(end - p), &tag, &vl)) == 0 || tag != DER_INTEGER)
			return -1;
		p += hl + vl;
	}
	/* AlgorithmIdentifier: its OID comes first. */
	if ((hl = der_header(p, (size_t)(end - p), &tag, &vl)) == 0 || tag != DER_SEQUENCE)
		return -1;
	algid = p + hl;
	al = vl;
	p += hl + vl;
	if (al >= sizeof(oid_rsa) && memcmp(algid, oid_rsa, sizeof(oid_rsa)) == 0)
		*alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
	else if (al >= sizeof(oid_ec) && memcmp(algid, oid_ec, sizeof(oid_ec)) == 0)
		*alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
	else if (al >= sizeof(oid_dsa) && memcmp(algid, oid_dsa, sizeof(oid_dsa)) == 0)
		*alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA;
	else
		return -1;
	if ((hl = der_header(p, (size_t)(end - p), &tag, &vl)) == 0 ||
	    tag != (private ? DER_OCTET_STRING : DER_BIT_STRING))
		return -1;
	p += hl;
	if (!private) {
		/* the count of unused bits, always 0 for a key */
		if (vl < 2 || *p != 0)
			return -1;
		p++;
		vl--;
	}
	*inner = p;
	*inner_len = vl;
	return 0;
}

/*
 * Decodes a whole DER buffer into a key: structure is an OpenSSL decoder structure ("PrivateKeyInfo",
 * "SubjectPublicKeyInfo", "type-specific"), keytype "RSA", "EC" or NULL for any. NULL when it does not
 * decode or bytes are left over.
 */
static EVP_PKEY *
der_decode(const uint8_t *der, size_t len, const char *structure, const char *keytype, int selection)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = der;
	size_t left = len;

	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", structure, keytype, selection, NULL, NULL);
	if (dctx == NULL)
		return NULL;
	if (!OSSL_DECODER_from_data(dctx, &p, &left) || left != 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	return pkey;
}

/*
 * Encodes a key as DER into a malloc'd buffer (the caller wipes and frees it). The encoder writes into a
 * secure-memory BIO, which wipes its buffer when it grows and when it is freed. Returns 0 or -1.
 */
static int
der_encode(EVP_PKEY *pkey, int selection, const char *structure, uint8_t **der, size_t *len)
{
	OSSL_ENCODER_CTX *ectx;
	BIO *bio = NULL;
	BUF_MEM *bm = NULL;
	int rc = -1;

	*der = NULL;
	*len = 0;
	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "DER", structure, NULL);
	if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0)
		goto fail;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto fail;
	if (!OSSL_ENCODER_to_bio(ectx, bio) || BIO_get_mem_ptr(bio, &bm) <= 0 || bm == NULL || bm->length == 0 ||
	    bm->length > KEYFMT_MAX_DER)
		goto fail;
	if ((*der = copy_bytes((const uint8_t *)bm->data, bm->length)) == NULL)
		goto fail;
	*len = bm->length;
	rc = 0;
fail:
	BIO_free(bio);
	OSSL_ENCODER_CTX_free(ectx);
	return rc;
}

static const struct curve *
curve_by_kmip(uint32_t v)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].kmip == v)
			return &curves[i];
	return NULL;
}

/* The curve of an EC key, or NULL for explicit parameters or a curve not in the table. */
static const struct curve *
curve_of(const EVP_PKEY *pkey)
{
	char name[80];
	size_t i, len = 0;
	int nid;

	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len))
		return NULL;
	if ((nid = OBJ_sn2nid(name)) == NID_undef && (nid = EC_curve_nist2nid(name)) == NID_undef)
		return NULL;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].nid == nid)
			return &curves[i];
	return NULL;
}

/*
 * Reads a Big Integer field into a fresh secure BIGNUM. The value must be positive (two's complement, top
 * bit clear) and at most max_bytes long once leading zeros are dropped. Returns 0 or -1 with *err set.
 */
static int
bn_from_item(const struct ttlv *t, const char *name, size_t max_bytes, BIGNUM **out, struct keyfmt_error *err)
{
	const uint8_t *p = t->v.bytes.data;
	size_t n = t->length;

	*out = NULL;
	if (t->type != TTLV_BIG_INTEGER)
		return fail(err, R_INVALID, "%s must be a Big Integer", name);
	if (n == 0 || p == NULL)
		return fail(err, R_INVALID, "%s is empty", name);
	if (p[0] & 0x80)
		return fail(err, R_INVALID, "%s is negative", name);
	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	if (n > max_bytes)
		return fail(err, R_INVALID, "%s is too large (%zu bytes)", name, n);
	if ((*out = BN_secure_new()) == NULL || BN_bin2bn(p, (int)n, *out) == NULL) {
		bn_wipe(out);
		return fail(err, R_NOMEM, "out of memory");
	}
	return 0;
}

/*
 * Writes a non-negative BIGNUM as a Big Integer, with a leading zero byte when its top bit is set so that
 * it stays positive. The scratch copy is wiped. Returns 0 or -1.
 */
static int
enc_bn(struct ttlv_enc *e, uint32_t tag, const BIGNUM *bn)
{
	uint8_t buf[KEYFMT_RSA_MAX_BITS / 8 + 8];
	int n;

	if (bn == NULL || BN_is_negative(bn) || (n = BN_num_bytes(bn)) < 0 || (size_t)n + 1 > sizeof(buf))
		return -1;
	buf[0] = 0;
	if (BN_bn2binpad(bn, buf + 1, n) != n)
		return -1;
	if (n > 0 && (buf[1] & 0x80))
		ttlv_enc_bigint(e, tag, buf, (size_t)n + 1);
	else
		ttlv_enc_bigint(e, tag, buf + 1, (size_t)n);
	OPENSSL_cleanse(buf, (size_t)n + 1);
	return 0;
}

/* Fetches the RSA components of a key (private ones only when private). Returns 0 or -1. */
static int
rsa_parts_get(const EVP_PKEY *pkey, bool private, struct rsa_parts *r)
{
	memset(r, 0, sizeof(*r));
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &r->n) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &r->e))
		goto fail;
	if (private && (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &r->d) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &r->p) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &r->q) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, &r->dp) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, &r->dq) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &r->qinv)))
		goto fail;
	return 0;
fail:
	rsa_parts_free(r);
	return -1;
}

/* Checks an RSA public key: modulus size and parity, exponent odd and in (1, n). Sets *bits. */
static int
rsa_check_public(const BIGNUM *n, const BIGNUM *e, uint32_t *bits, struct keyfmt_error *err)
{
	int nb = BN_num_bits(n);

	if (nb < KEYFMT_RSA_MIN_BITS || nb > KEYFMT_RSA_MAX_BITS)
		return fail(err, R_INVALID, "RSA modulus of %d bits (%d to %d are accepted)", nb,
		    KEYFMT_RSA_MIN_BITS, KEYFMT_RSA_MAX_BITS);
	if (!BN_is_odd(n))
		return fail(err, R_INVALID, "the RSA modulus is even");
	if (!BN_is_odd(e) || BN_is_one(e) || BN_cmp(e, n) >= 0)
		return fail(err, R_INVALID, "the RSA public exponent is not odd and between 1 and the modulus");
	if (BN_num_bits(e) > RSA_PUBEXP_MAX_BITS)
		return fail(err, R_INVALID, "the RSA public exponent has %d bits (at most %d)", BN_num_bits(e),
		    RSA_PUBEXP_MAX_BITS);
	*bits = (uint32_t)nb;
	return 0;
}

/*
 * Checks the sizes of the private components of an RSA key sent as numbers, before any costly arithmetic
 * on them (prime recovery is up to RECOVER_TRIALS modular exponentiations with e d - 1 as exponent, so an
 * unchecked d of 16,000 bits costs a second in the loop): d, P and Q below the modulus, the CRT values below
 * their primes, P Q = n when both are given (one multiplication), and without them a modulus free of
 * small factors, which no two-prime key has (a cheap sign of a forged modulus; a prime one is caught by
 * recovery itself). The rest (e d = 1 and the like) rsa_check_private checks with multiplications only.
 * Returns 0 or -1 with *err set.
 */
static int
rsa_check_sizes(const struct rsa_parts *r, struct keyfmt_error *err)
{
	const BIGNUM *p = r->p != NULL ? r->p : r->n, *q = r->q != NULL ? r->q : r->n;
	BN_CTX *ctx;
	BIGNUM *t;
	BN_ULONG w, rem;
	int rc = -1;

	if (r->d != NULL && BN_cmp(r->d, r->n) >= 0)
		return fail(err, R_INVALID, "the RSA private exponent is not below the modulus");
	if ((r->p != NULL && (BN_cmp(r->p, BN_value_one()) <= 0 || BN_cmp(r->p, r->n) >= 0)) ||
	    (r->q != NULL && (BN_cmp(r->q, BN_value_one()) <= 0 || BN_cmp(r->q, r->n) >= 0)))
		return fail(err, R_INVALID, "an RSA prime is not between 1 and the modulus");
	if ((r->dp != NULL && BN_cmp(r->dp, p) >= 0) || (r->dq != NULL && BN_cmp(r->dq, q) >= 0) ||
	    (r->qinv != NULL && BN_cmp(r->qinv, p) >= 0))
		return fail(err, R_INVALID, "an RSA prime exponent or CRT coefficient is not below its prime");
	if (r->p != NULL && r->q != NULL) {
		if ((ctx = BN_CTX_secure_new()) == NULL)
			return fail(err, R_NOMEM, "out of memory");
		BN_CTX_start(ctx);
		if ((t = BN_CTX_get(ctx)) == NULL || !BN_mul(t, r->p, r->q, ctx))
			fail_ssl(err, "checking the RSA primes");
		else if (BN_cmp(t, r->n) != 0)
			fail(err, R_INVALID, "inconsistent RSA private key: P times Q is not the modulus");
		else
			rc = 0;
		BN_CTX_end(ctx);
		BN_CTX_free(ctx);
		return rc;
	}
	for (w = 3; w < RSA_SMALL_PRIME_MAX; w += 2) {
		if ((rem = BN_mod_word(r->n, w)) == (BN_ULONG)-1)
			return fail_ssl(err, "checking the RSA modulus");
		if (rem == 0)
			return fail(err, R_INVALID, "the RSA modulus has a small factor: it is not a key's");
	}
	return 0;
}

/*
 * Checks that the components of an RSA private key agree: n = p q, e d = 1 mod (p-1) and mod (q-1),
 * dP = d mod (p-1), dQ = d mod (q-1), qInv q = 1 mod p. No primality test: that costs tens of
 * milliseconds in the event loop and proves little more than these identities already do.
 */
static int
rsa_check_private(const struct rsa_parts *r, struct keyfmt_error *err)
{
	BN_CTX *ctx;
	BIGNUM *t, *p1, *q1;
	const char *bad = NULL;
	int rc = -1;

	if ((ctx = BN_CTX_secure_new()) == NULL)
		return fail(err, R_NOMEM, "out of memory");
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	p1 = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	if (q1 == NULL) {
		fail(err, R_NOMEM, "out of memory");
		goto out;
	}
	if (BN_cmp(r->p, BN_value_one()) <= 0 || BN_cmp(r->q, BN_value_one()) <= 0)
		bad = "P or Q is not greater than 1";
	else if (!BN_mul(t, r->p, r->q, ctx) || BN_cmp(t, r->n) != 0)
		bad = "P times Q is not the modulus";
	else if (BN_is_zero(r->d) || BN_cmp(r->d, r->n) >= 0)
		bad = "the private exponent is not between 0 and the modulus";
	else if (!BN_sub(p1, r->p, BN_value_one()) || !BN_sub(q1, r->q, BN_value_one()))
		bad = "arithmetic failed";
	else if (!BN_mod_mul(t, r->e, r->d, p1, ctx) || !BN_is_one(t) ||
	    !BN_mod_mul(t, r->e, r->d, q1, ctx) || !BN_is_one(t))
		bad = "the private exponent does not invert the public exponent";
	else if (!BN_nnmod(t, r->d, p1, ctx) || BN_cmp(t, r->dp) != 0 ||
	    !BN_nnmod(t, r->d, q1, ctx) || BN_cmp(t, r->dq) != 0)
		bad = "a prime exponent is not the private exponent reduced";
	else if (BN_cmp(r->qinv, r->p) >= 0 || !BN_mod_mul(t, r->qinv, r->q, r->p, ctx) || !BN_is_one(t))
		bad = "the CRT coefficient is not the inverse of Q modulo P";
	if (bad != NULL)
		fail(err, R_INVALID, "inconsistent RSA private key: %s", bad);
	else
		rc = 0;
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rc;
}

/*
 * Recovers the primes of an RSA key from n, e and d (NIST SP 800-56B appendix C): with e d - 1 = 2^t r,
 * r odd, a base g gives y = g^r, whose repeated squares reach 1; the square root of 1 met on the way that is
 * not -1 shares a prime with n. Each base succeeds with probability at least 1/2 for a real key; the number
 * of bases, squarings and the modulus size are bounded so that forged numbers cannot stall the loop.
 * Sets r->p > r->q. Returns 0 or -1 with *err set.
 */
static int
rsa_recover(struct rsa_parts *r, struct keyfmt_error *err)
{
	static const unsigned bases[RECOVER_TRIALS] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53 };
	BN_CTX *ctx;
	BIGNUM *k, *g, *y, *x, *n1, *rem;
	unsigned i, j, t = 0;
	int rc = -1;

	if (BN_num_bits(r->n) > RECOVER_MAX_BITS)
		return fail(err, R_INVALID, "an RSA private key of more than %d bits needs P and Q",
		    RECOVER_MAX_BITS);
	if ((ctx = BN_CTX_secure_new()) == NULL)
		return fail(err, R_NOMEM, "out of memory");
	BN_CTX_start(ctx);
	k = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	y = BN_CTX_get(ctx);
	x = BN_CTX_get(ctx);
	n1 = BN_CTX_get(ctx);
	rem = BN_CTX_get(ctx);
	r->p = BN_secure_new();
	r->q = BN_secure_new();
	if (rem == NULL || r->p == NULL || r->q == NULL) {
		fail(err, R_NOMEM, "out of memory");
		goto out;
	}
	BN_set_flags(k, BN_FLG_CONSTTIME);
	if (!BN_mul(k, r->e, r->d, ctx) || !BN_sub_word(k, 1) || !BN_sub(n1, r->n, BN_value_one()))
		goto crypto;
	if (BN_is_zero(k) || BN_is_odd(k))
		goto invalid;
	while (!BN_is_odd(k)) {
		if (!BN_rshift1(k, k))
			goto crypto;
		t++;
	}
	for (i = 0; i < RECOVER_TRIALS; i++) {
		if (!BN_set_word(g, bases[i]) || !BN_mod_exp(y, g, k, r->n, ctx))
			goto crypto;
		if (BN_is_one(y) || BN_cmp(y, n1) == 0)
			continue;
		for (j = 0; j < t && j < RECOVER_MAX_SQUARINGS; j++) {
			if (!BN_mod_sqr(x, y, r->n, ctx))
				goto crypto;
			if (BN_is_one(x)) {
				/* y is a square root of 1 other than 1 and -1: gcd(y - 1, n) is a prime. */
				if (!BN_sub_word(y, 1) || !BN_gcd(r->p, y, r->n, ctx) ||
				    !BN_div(r->q, rem, r->n, r->p, ctx))
					goto crypto;
				if (!BN_is_zero(rem) || BN_is_one(r->p) || BN_is_one(r->q))
					goto invalid;
				if (BN_cmp(r->p, r->q) < 0)
					BN_swap(r->p, r->q);
				rc = 0;
				goto out;
			}
			if (BN_cmp(x, n1) == 0)
				break;
			if (!BN_copy(y, x))
				goto crypto;
		}
		/* For a real key, g^(e d - 1) is 1: never reaching 1 means the exponents are not a key's. */
		if (j == t || j == RECOVER_MAX_SQUARINGS)
			goto invalid;
	}
invalid:
	fail(err, R_INVALID, "the RSA private exponent does not match the modulus and public exponent");
	goto out;
crypto:
	fail_ssl(err, "recovering the RSA primes");
out:
	if (rc != 0) {
		bn_wipe(&r->p);
		bn_wipe(&r->q);
	}
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rc;
}

/*
 * Completes the components of a Transparent RSA Private Key: the spec requires the modulus and one of the
 * private exponent, P and Q, or the prime exponents; keyfmt needs the public exponent and either the
 * private exponent or P and Q, and derives the rest. Components that were sent are checked later.
 */
static int
rsa_complete(struct rsa_parts *r, struct keyfmt_error *err)
{
	BN_CTX *ctx = NULL;
	BIGNUM *p1, *q1, *l, *g;
	int rc = -1;

	if (r->e == NULL)
		return fail(err, R_INVALID, "Transparent RSA Private Key without a Public Exponent");
	if ((r->p == NULL) != (r->q == NULL))
		return fail(err, R_INVALID, "Transparent RSA Private Key with only one of P and Q");
	if (r->p == NULL && r->d == NULL)
		return fail(err, R_INVALID, "Transparent RSA Private Key needs a Private Exponent, or P and Q");
	if (BN_is_zero(r->n) || BN_is_zero(r->e) || (r->d != NULL && BN_is_zero(r->d)))
		return fail(err, R_INVALID, "Transparent RSA Private Key with a zero component");
	if (r->p == NULL && rsa_recover(r, err) != 0)
		return -1;
	if ((ctx = BN_CTX_secure_new()) == NULL)
		return fail(err, R_NOMEM, "out of memory");
	BN_CTX_start(ctx);
	p1 = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	l = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	if (g == NULL || !BN_sub(p1, r->p, BN_value_one()) || !BN_sub(q1, r->q, BN_value_one()))
		goto crypto;
	if (BN_is_zero(p1) || BN_is_zero(q1)) {
		fail(err, R_INVALID, "Transparent RSA Private Key with P or Q equal to 1");
		goto out;
	}
	if (r->d == NULL) {
		/* d = e^-1 mod lcm(p - 1, q - 1) */
		if ((r->d = BN_secure_new()) == NULL || !BN_gcd(g, p1, q1, ctx) || !BN_div(l, NULL, p1, g, ctx) ||
		    !BN_mul(l, l, q1, ctx))
			goto crypto;
		if (BN_mod_inverse(r->d, r->e, l, ctx) == NULL) {
			fail(err, R_INVALID, "the RSA public exponent has no inverse for these primes");
			goto out;
		}
	}
	if (r->dp == NULL && ((r->dp = BN_secure_new()) == NULL || !BN_nnmod(r->dp, r->d, p1, ctx)))
		goto crypto;
	if (r->dq == NULL && ((r->dq = BN_secure_new()) == NULL || !BN_nnmod(r->dq, r->d, q1, ctx)))
		goto crypto;
	if (r->qinv == NULL) {
		if ((r->qinv = BN_secure_new()) == NULL)
			goto crypto;
		if (BN_mod_inverse(r->qinv, r->q, r->p, ctx) == NULL) {
			fail(err, R_INVALID, "Q has no inverse modulo P");
			goto out;
		}
	}
	rc = 0;
	goto out;
crypto:
	fail_ssl(err, "completing the RSA key");
out:
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rc;
}

/* Builds an RSA key (public, or the whole key pair) from its components; NULL on failure. */
static EVP_PKEY *
rsa_from_parts(const struct rsa_parts *r, bool private)
{
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, r->n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, r->e))
		goto out;
	/* Secure BIGNUMs land in the params' secure block, which OSSL_PARAM_free() wipes. */
	if (private && (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, r->d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, r->p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, r->q) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, r->dp) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, r->dq) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, r->qinv)))
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/*
 * Converts an encoded EC point of the curve (any form) to the uncompressed form in out (EC_POINT_MAX
 * bytes). Fails for a point that is not on the curve or is at infinity. Returns 0 or -1.
 */
static int
ec_point_uncompressed(const struct curve *c, const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	EC_GROUP *group;
	EC_POINT *pt = NULL;
	int rc = -1;

	if ((group = EC_GROUP_new_by_curve_name_ex(NULL, NULL, c->nid)) == NULL ||
	    (pt = EC_POINT_new(group)) == NULL)
		goto out;
	if (!EC_POINT_oct2point(group, pt, in, inlen, NULL) || EC_POINT_is_at_infinity(group, pt) ||
	    EC_POINT_is_on_curve(group, pt, NULL) != 1)
		goto out;
	if ((*outlen = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, out, EC_POINT_MAX, NULL)) == 0)
		goto out;
	rc = 0;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return rc;
}

/* Computes the public point d G (uncompressed) of a private scalar, checked to lie in [1, order). */
static int
ec_public_of(const struct curve *c, const BIGNUM *d, uint8_t *out, size_t *outlen, struct keyfmt_error *err)
{
	EC_GROUP *group;
	EC_POINT *pt = NULL;
	int rc = -1;

	if ((group = EC_GROUP_new_by_curve_name_ex(NULL, NULL, c->nid)) == NULL ||
	    (pt = EC_POINT_new(group)) == NULL) {
		fail_ssl(err, "loading the curve");
		goto out;
	}
	if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
		fail(err, R_INVALID, "D is not between 0 and the order of the curve");
		goto out;
	}
	if (!EC_POINT_mul(group, pt, d, NULL, NULL, NULL) ||
	    (*outlen = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, out, EC_POINT_MAX,
	    NULL)) == 0) {
		fail_ssl(err, "computing the EC public key");
		goto out;
	}
	rc = 0;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return rc;
}

/* Builds an EC key from its curve, public point and (for a private key) scalar; NULL on failure. */
static EVP_PKEY *
ec_from_parts(const struct curve *c, const BIGNUM *d, const uint8_t *pub, size_t publen)
{
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(c->nid), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen) ||
	    (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* Sets the canonical EC encoding choices: named curve, uncompressed point, public key in private keys. */
static int
ec_normalize(EVP_PKEY *pkey)
{
	if (!EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) ||
	    !EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_GROUP) ||
	    !EVP_PKEY_set_int_param(pkey, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 1))
		return -1;
	return 0;
}

/* The components of a DSA key; absent ones are NULL. x lives in a secure (wiped) BIGNUM. */
struct dsa_parts {
	BIGNUM *p, *q, *g, *x, *y;
};

/* Wipes and frees every component of a DSA key. */
static void
dsa_parts_free(struct dsa_parts *d)
{
	bn_wipe(&d->p);
	bn_wipe(&d->q);
	bn_wipe(&d->g);
	bn_wipe(&d->x);
	bn_wipe(&d->y);
}

/*
 * Checks the components of a DSA key, sizes first so that no arithmetic runs on numbers that would be
 * refused anyway: p odd of KEYFMT_DSA_MIN_BITS to KEYFMT_DSA_MAX_BITS, q odd of 160, 224 or 256 bits,
 * 1 < g < p, 0 < x < q, 1 < y < p. Then the identities that cost one exponentiation each with an exponent of
 * at most 256 bits (about 0.3 ms for a 3072-bit p): q divides p - 1, g^q = 1 and y^q = 1 mod p, and with x,
 * y = g^x mod p. A private key sent without y (the Transparent DSA Private Key has none) gets y = g^x. No
 * primality test: tens of milliseconds in the loop, for little these identities do not already show.
 * Sets *bits to the size of p. Returns 0 or -1 with *err set.
 */
static int
dsa_check(struct dsa_parts *d, uint32_t *bits, struct keyfmt_error *err)
{
	int pb = BN_num_bits(d->p), qb = BN_num_bits(d->q);
	BN_CTX *ctx;
	BIGNUM *t, *p1;
	const char *bad = NULL;
	int rc = -1;

	if (pb < KEYFMT_DSA_MIN_BITS || pb > KEYFMT_DSA_MAX_BITS || !BN_is_odd(d->p))
		return fail(err, R_INVALID, "DSA prime p of %d bits (an odd number of %d to %d bits is accepted)", pb,
		    KEYFMT_DSA_MIN_BITS, KEYFMT_DSA_MAX_BITS);
	if ((qb != 160 && qb != 224 && qb != 256) || !BN_is_odd(d->q))
		return fail(err, R_INVALID, "DSA subprime q of %d bits (an odd number of 160, 224 or 256 bits)", qb);
	if (BN_cmp(d->g, BN_value_one()) <= 0 || BN_cmp(d->g, d->p) >= 0)
		return fail(err, R_INVALID, "the DSA generator g is not between 1 and p");
	if (d->x != NULL && (BN_is_zero(d->x) || BN_is_negative(d->x) || BN_cmp(d->x, d->q) >= 0))
		return fail(err, R_INVALID, "the DSA private key x is not between 0 and q");
	if (d->y != NULL && (BN_cmp(d->y, BN_value_one()) <= 0 || BN_cmp(d->y, d->p) >= 0))
		return fail(err, R_INVALID, "the DSA public key y is not between 1 and p");
	if (d->x == NULL && d->y == NULL)
		return fail(err, R_INVALID, "a DSA key needs x or y");
	if ((ctx = BN_CTX_secure_new()) == NULL)
		return fail(err, R_NOMEM, "out of memory");
	BN_CTX_start(ctx);
	t = BN_CTX_get(ctx);
	p1 = BN_CTX_get(ctx);
	if (p1 == NULL || !BN_sub(p1, d->p, BN_value_one()) || !BN_mod(t, p1, d->q, ctx))
		bad = "";
	else if (!BN_is_zero(t))
		bad = "q does not divide p - 1";
	else if (!BN_mod_exp(t, d->g, d->q, d->p, ctx))
		bad = "";
	else if (!BN_is_one(t))
		bad = "g is not of order q";
	else if (d->x != NULL) {
		if (!BN_mod_exp(t, d->g, d->x, d->p, ctx))
			bad = "";
		else if (d->y != NULL && BN_cmp(t, d->y) != 0)
			bad = "y is not g^x";
		else if (d->y == NULL && (d->y = BN_dup(t)) == NULL)
			bad = "";
	} else if (!BN_mod_exp(t, d->y, d->q, d->p, ctx))
		bad = "";
	else if (!BN_is_one(t))
		bad = "y is not of order q";
	if (bad == NULL) {
		*bits = (uint32_t)pb;
		rc = 0;
	} else if (bad[0] == '\0')
		fail_ssl(err, "checking the DSA key");
	else
		fail(err, R_INVALID, "inconsistent DSA key: %s", bad);
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	return rc;
}

/* Fetches the DSA components of a key (x only when private). Returns 0 or -1. */
static int
dsa_parts_get(const EVP_PKEY *pkey, bool private, struct dsa_parts *d)
{
	memset(d, 0, sizeof(*d));
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_FFC_P, &d->p) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_FFC_Q, &d->q) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_FFC_G, &d->g) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, &d->y) ||
	    (private && !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d->x))) {
		dsa_parts_free(d);
		return -1;
	}
	return 0;
}

/* Builds a DSA key from checked components (x NULL for a public key); NULL on failure. */
static EVP_PKEY *
dsa_from_parts(const struct dsa_parts *d)
{
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, d->p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, d->q) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, d->g) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, d->y) ||
	    (d->x != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d->x)))
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, d->x != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/*
 * Checks that a key is one kmipd keeps (two-prime RSA within the size limits, EC on a supported named curve,
 * DSA within its limits) and that it is sound, and fills info's alg, bits and curve. Returns 0 or -1 with
 * *err set.
 */
static int
pkey_validate(EVP_PKEY *pkey, bool private, struct keyfmt_key *info, struct keyfmt_error *err)
{
	struct rsa_parts r;
	const struct curve *c;
	EVP_PKEY_CTX *cctx;
	BIGNUM *extra = NULL;
	int ok;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (private && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR3, &extra)) {
			bn_wipe(&extra);
			return fail(err, R_INVALID, "multi-prime RSA keys are not supported");
		}
		if (rsa_parts_get(pkey, private, &r) != 0)
			return fail(err, R_INVALID, "the RSA key lacks some of its components");
		if (rsa_check_public(r.n, r.e, &info->bits, err) != 0 ||
		    (private && rsa_check_private(&r, err) != 0)) {
			rsa_parts_free(&r);
			return -1;
		}
		rsa_parts_free(&r);
		info->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
		info->curve = 0;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if ((c = curve_of(pkey)) == NULL)
			return fail(err, R_INVALID, "EC keys on this curve are not supported (named prime curves only)");
		if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
			return fail_ssl(err, "checking the EC key");
		ok = private ? EVP_PKEY_check(cctx) : EVP_PKEY_public_check(cctx);
		EVP_PKEY_CTX_free(cctx);
		if (ok != 1)
			return fail(err, R_INVALID, "the EC key fails its consistency check");
		info->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
		info->bits = c->bits;
		info->curve = c->kmip;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "DSA")) {
		struct dsa_parts d;
		int rc;

		if (dsa_parts_get(pkey, private, &d) != 0)
			return fail(err, R_INVALID, "the DSA key lacks some of its components");
		rc = dsa_check(&d, &info->bits, err);
		dsa_parts_free(&d);
		if (rc != 0)
			return -1;
		info->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA;
		info->curve = 0;
		return 0;
	}
	return fail(err, R_INVALID, "%s keys are not supported (RSA, EC and DSA only)", EVP_PKEY_get0_type_name(pkey));
}

/* Validates a key and encodes its canonical form (PKCS#8 or SubjectPublicKeyInfo) into *out. */
static int
pkey_canon(EVP_PKEY *pkey, bool private, uint32_t format, struct keyfmt_key *out, struct keyfmt_error *err)
{
	struct keyfmt_key k;

	memset(&k, 0, sizeof(k));
	if (pkey_validate(pkey, private, &k, err) != 0)
		return -1;
	if (k.alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_EC && ec_normalize(pkey) != 0)
		return fail_ssl(err, "setting the EC encoding");
	if (der_encode(pkey, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
	    private ? "PrivateKeyInfo" : "SubjectPublicKeyInfo", &k.der, &k.der_len) != 0)
		return fail_ssl(err, "encoding the canonical key");
	k.format = format;
	*out = k;
	return 0;
}

/* Checks that item is a Byte String of 1 to max bytes. */
static int
check_bytes(const struct ttlv *item, const char *what, size_t max, struct keyfmt_error *err)
{
	if (item->type != TTLV_BYTE_STRING)
		return fail(err, R_INVALID, "%s must be a Byte String", what);
	if (item->length == 0)
		return fail(err, R_INVALID, "%s is empty", what);
	if (item->length > max)
		return fail(err, R_INVALID, "%s is too long (%u bytes, at most %zu)", what, item->length, max);
	return 0;
}

/* A DER key structure: how OpenSSL decodes it, and the tags der_shape() must find in it. */
struct der_form {
	const char *structure;	/* an OpenSSL decoder structure */
	const char *keytype;	/* "RSA", "EC", or NULL for any */
	uint8_t t1, t2;		/* the tags of its first two elements */
	const char *what;	/* for messages */
};

static const struct der_form der_pkcs1_private = {
	"type-specific", "RSA", DER_INTEGER, DER_INTEGER, "a PKCS#1 RSAPrivateKey",
};
static const struct der_form der_pkcs1_public = {
	"type-specific", "RSA", DER_INTEGER, DER_INTEGER, "a PKCS#1 RSAPublicKey",
};
static const struct der_form der_pkcs8 = {
	"PrivateKeyInfo", NULL, DER_INTEGER, DER_SEQUENCE, "an unencrypted PKCS#8 PrivateKeyInfo",
};
static const struct der_form der_ecprivatekey = {
	"type-specific", "EC", DER_INTEGER, DER_OCTET_STRING, "an ECPrivateKey",
};
static const struct der_form der_spki = {
	"SubjectPublicKeyInfo", NULL, DER_SEQUENCE, DER_BIT_STRING, "an X.509 SubjectPublicKeyInfo",
};

/*
 * Reads one DER element of the expected tag at *p (bounded by end): *val and *vlen its contents, *p past
 * it. -1 when it is not there or malformed.
 */
static int
der_take(const uint8_t **p, const uint8_t *end, uint8_t want, const uint8_t **val, size_t *vlen)
{
	uint8_t tag;
	size_t hl;

	if ((hl = der_header(*p, (size_t)(end - *p), &tag, vlen)) == 0 || tag != want)
		return -1;
	*val = *p + hl;
	*p += hl + *vlen;
	return 0;
}

/* True when the DER INTEGER contents v (vlen bytes) hold at most max_bytes once a leading zero is dropped. */
static bool
der_int_fits(const uint8_t *v, size_t vlen, size_t max_bytes)
{
	if (vlen > 0 && v[0] == 0)
		vlen--;
	return vlen <= max_bytes;
}

/*
 * Checks a PKCS#8 PrivateKeyInfo or SubjectPublicKeyInfo before OpenSSL decodes it: its algorithm must be
 * RSA, EC or DSA, and a DSA key's p, q, g and x or y within the DSA limits. OpenSSL's decoder computes a
 * DSA (or DH) private key's public key, g^x mod p, as it decodes: with a p and an x of 30,000 bytes each,
 * which a 64 KiB key allows, that is hours of the loop. Returns 0, or -1 with *err set.
 */
static int
der_key_precheck(const uint8_t *der, size_t len, bool private, struct keyfmt_error *err)
{
	const uint8_t *p = der, *end = der + len, *seq, *alg, *v, *key, *ap, *aend;
	size_t vl, al, kl, i;
	const size_t max[3] = { KEYFMT_DSA_MAX_BITS / 8, KEYFMT_DSA_MAX_Q_BITS / 8, KEYFMT_DSA_MAX_BITS / 8 };

	if (der_take(&p, end, DER_SEQUENCE, &seq, &vl) != 0)
		return fail(err, R_INVALID, "the Key Material is not a DER key");
	p = seq;
	end = seq + vl;
	if (private && der_take(&p, end, DER_INTEGER, &v, &vl) != 0)
		return fail(err, R_INVALID, "the Key Material is not a PKCS#8 PrivateKeyInfo");
	if (der_take(&p, end, DER_SEQUENCE, &alg, &al) != 0)
		return fail(err, R_INVALID, "the Key Material has no algorithm identifier");
	if (der_take(&p, end, private ? DER_OCTET_STRING : DER_BIT_STRING, &key, &kl) != 0)
		return fail(err, R_INVALID, "the Key Material has no key");
	if ((al >= sizeof(oid_rsa) && memcmp(alg, oid_rsa, sizeof(oid_rsa)) == 0) ||
	    (al >= sizeof(oid_ec) && memcmp(alg, oid_ec, sizeof(oid_ec)) == 0))
		return 0;
	if (al < sizeof(oid_dsa) || memcmp(alg, oid_dsa, sizeof(oid_dsa)) != 0)
		return fail(err, R_INVALID, "keys of this algorithm are not supported (RSA, EC and DSA only)");
	/* Dss-Parms ::= SEQUENCE { p, q, g INTEGER }, then the key: INTEGER x, or a BIT STRING holding INTEGER y. */
	ap = alg + sizeof(oid_dsa);
	aend = alg + al;
	if (der_take(&ap, aend, DER_SEQUENCE, &v, &vl) != 0)
		return fail(err, R_INVALID, "a DSA key without its parameters p, q and g");
	ap = v;
	aend = v + vl;
	for (i = 0; i < 3; i++)
		if (der_take(&ap, aend, DER_INTEGER, &v, &vl) != 0 || !der_int_fits(v, vl, max[i]))
			return fail(err, R_INVALID, "DSA parameters out of bounds (p and g of at most %d bits, q of at "
			    "most %d)", KEYFMT_DSA_MAX_BITS, KEYFMT_DSA_MAX_Q_BITS);
	if (!private) {
		/* the count of unused bits, then the INTEGER */
		if (kl < 1 || key[0] != 0)
			return fail(err, R_INVALID, "the DSA public key is malformed");
		key++;
		kl--;
	}
	ap = key;
	aend = key + kl;
	if (der_take(&ap, aend, DER_INTEGER, &v, &vl) != 0 ||
	    !der_int_fits(v, vl, private ? KEYFMT_DSA_MAX_Q_BITS / 8 : KEYFMT_DSA_MAX_BITS / 8))
		return fail(err, R_INVALID, "the DSA %s is malformed or out of bounds", private ? "private key x" :
		    "public key y");
	return 0;
}

/* Imports a DER key of the given form (a private key for a Private Key object, else a public key). */
static int
import_der(uint32_t object_type, uint32_t format, const struct ttlv *item, const struct der_form *form,
    struct keyfmt_key *out, struct keyfmt_error *err)
{
	bool private = object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY;
	uint8_t t1, t2;
	EVP_PKEY *pkey;
	int rc;

	if (check_bytes(item, "the Key Material", KEYFMT_MAX_DER, err) != 0)
		return -1;
	if (der_shape(item->v.bytes.data, item->length, &t1, &t2) != 0 || t1 != form->t1 || t2 != form->t2)
		return fail(err, R_INVALID, "the Key Material is not %s", form->what);
	/* The forms whose algorithm OpenSSL reads from the DER: only those kmipd keeps, within their limits. */
	if (form->keytype == NULL && der_key_precheck(item->v.bytes.data, item->length, private, err) != 0)
		return -1;
	pkey = der_decode(item->v.bytes.data, item->length, form->structure, form->keytype,
	    private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
	if (pkey == NULL)
		return fail(err, R_INVALID, "the Key Material is not %s", form->what);
	rc = pkey_canon(pkey, private, format, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Imports a PKCS#1 RSAPrivateKey or RSAPublicKey. */
static int
import_pkcs1(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	return import_der(object_type, format, item,
	    object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY ? &der_pkcs1_private : &der_pkcs1_public, out, err);
}

/* Imports an unencrypted PKCS#8 PrivateKeyInfo. */
static int
import_pkcs8(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	return import_der(object_type, format, item, &der_pkcs8, out, err);
}

/* Imports an ECPrivateKey (RFC 5915). */
static int
import_ecprivatekey(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	return import_der(object_type, format, item, &der_ecprivatekey, out, err);
}

/* Imports an X.509 SubjectPublicKeyInfo. */
static int
import_spki(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	return import_der(object_type, format, item, &der_spki, out, err);
}

/* One field of a Transparent structure: which tag, and the item found for it. */
struct field {
	uint32_t tag;
	const char *name;
	const struct ttlv *item;
};

/* Sorts the children of a Transparent structure into fields; unknown or repeated fields are refused. */
static int
collect(const struct ttlv *st, struct field *f, size_t nf, const char *what, struct keyfmt_error *err)
{
	const struct ttlv *c;
	const char *name;
	size_t i;

	if (st->type != TTLV_STRUCTURE)
		return fail(err, R_INVALID, "the Key Material of a %s must be a Structure", what);
	for (c = st->v.s.first; c != NULL; c = c->next) {
		for (i = 0; i < nf; i++)
			if (f[i].tag == c->tag)
				break;
		if (i == nf) {
			name = ttlv_tag_name(c->tag);
			return fail(err, R_INVALID, "unexpected field %s (0x%06x) in a %s", name != NULL ? name : "",
			    c->tag, what);
		}
		if (f[i].item != NULL)
			return fail(err, R_INVALID, "%s appears twice in a %s", f[i].name, what);
		f[i].item = c;
	}
	return 0;
}

/* Imports a Transparent RSA Private Key or Public Key. */
static int
import_transparent_rsa(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	struct field f[] = {
		{ KMIP_TAG_MODULUS, "Modulus", NULL },
		{ KMIP_TAG_PUBLIC_EXPONENT, "Public Exponent", NULL },
		{ KMIP_TAG_PRIVATE_EXPONENT, "Private Exponent", NULL },
		{ KMIP_TAG_P, "P", NULL },
		{ KMIP_TAG_Q, "Q", NULL },
		{ KMIP_TAG_PRIME_EXPONENT_P, "Prime Exponent P", NULL },
		{ KMIP_TAG_PRIME_EXPONENT_Q, "Prime Exponent Q", NULL },
		{ KMIP_TAG_CRT_COEFFICIENT, "CRT Coefficient", NULL },
	};
	bool private = object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY;
	const char *what = private ? "Transparent RSA Private Key" : "Transparent RSA Public Key";
	const size_t maxb = KEYFMT_RSA_MAX_BITS / 8;
	struct rsa_parts r;
	BIGNUM **slot[8];
	EVP_PKEY *pkey = NULL;
	uint32_t bits;
	size_t i;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	slot[0] = &r.n, slot[1] = &r.e, slot[2] = &r.d, slot[3] = &r.p;
	slot[4] = &r.q, slot[5] = &r.dp, slot[6] = &r.dq, slot[7] = &r.qinv;
	if (collect(item, f, private ? 8 : 2, what, err) != 0)
		return -1;
	if (f[0].item == NULL)
		return fail(err, R_INVALID, "%s without a Modulus", what);
	if (!private && f[1].item == NULL)
		return fail(err, R_INVALID, "%s without a Public Exponent", what);
	for (i = 0; i < (private ? 8u : 2u); i++)
		if (f[i].item != NULL && bn_from_item(f[i].item, f[i].name, maxb, slot[i], err) != 0)
			goto out;
	/* Size first, so no arithmetic runs on a modulus that would be refused anyway. */
	if (r.e != NULL && rsa_check_public(r.n, r.e, &bits, err) != 0)
		goto out;
	if (private && (rsa_check_sizes(&r, err) != 0 || rsa_complete(&r, err) != 0))
		goto out;
	if ((pkey = rsa_from_parts(&r, private)) == NULL) {
		fail(err, R_INVALID, "the %s components do not make an RSA key", what);
		goto out;
	}
	rc = pkey_canon(pkey, private, format, out, err);
out:
	EVP_PKEY_free(pkey);
	rsa_parts_free(&r);
	return rc;
}

/* Reads the Recommended Curve field of a Transparent EC structure. */
static const struct curve *
curve_field(const struct ttlv *t, const char *what, struct keyfmt_error *err)
{
	const struct curve *c;

	if (t == NULL) {
		fail(err, R_INVALID, "%s without a Recommended Curve", what);
		return NULL;
	}
	if (t->type != TTLV_ENUMERATION) {
		fail(err, R_INVALID, "the Recommended Curve must be an Enumeration");
		return NULL;
	}
	if ((c = curve_by_kmip(t->v.u32)) == NULL)
		fail(err, R_INVALID, "Recommended Curve 0x%x is not supported (named prime curves only)", t->v.u32);
	return c;
}

/* Imports a Transparent EC (or ECDSA, ECDH, ECMQV) Private Key: Recommended Curve and D. */
static int
import_transparent_ec_private(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	struct field f[] = {
		{ KMIP_TAG_RECOMMENDED_CURVE, "Recommended Curve", NULL },
		{ KMIP_TAG_D, "D", NULL },
	};
	const char *what = format_name(format);
	const struct curve *c;
	uint8_t pub[EC_POINT_MAX];
	size_t publen;
	BIGNUM *d = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = -1;

	(void)object_type;
	if (collect(item, f, 2, what, err) != 0 || (c = curve_field(f[0].item, what, err)) == NULL)
		return -1;
	if (f[1].item == NULL)
		return fail(err, R_INVALID, "%s without D", what);
	if (bn_from_item(f[1].item, "D", (c->bits + 7) / 8, &d, err) != 0 ||
	    ec_public_of(c, d, pub, &publen, err) != 0)
		goto out;
	if ((pkey = ec_from_parts(c, d, pub, publen)) == NULL) {
		fail(err, R_INVALID, "the %s does not make an EC key", what);
		goto out;
	}
	rc = pkey_canon(pkey, true, format, out, err);
out:
	EVP_PKEY_free(pkey);
	bn_wipe(&d);
	return rc;
}

/* Imports a Transparent EC (or ECDSA, ECDH, ECMQV) Public Key: Recommended Curve and Q String. */
static int
import_transparent_ec_public(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	struct field f[] = {
		{ KMIP_TAG_RECOMMENDED_CURVE, "Recommended Curve", NULL },
		{ KMIP_TAG_Q_STRING, "Q String", NULL },
	};
	const char *what = format_name(format);
	const struct curve *c;
	uint8_t pub[EC_POINT_MAX];
	size_t publen;
	EVP_PKEY *pkey;
	int rc;

	(void)object_type;
	if (collect(item, f, 2, what, err) != 0 || (c = curve_field(f[0].item, what, err)) == NULL)
		return -1;
	if (f[1].item == NULL)
		return fail(err, R_INVALID, "%s without a Q String", what);
	if (check_bytes(f[1].item, "the Q String", EC_POINT_MAX, err) != 0)
		return -1;
	if (ec_point_uncompressed(c, f[1].item->v.bytes.data, f[1].item->length, pub, &publen) != 0)
		return fail(err, R_INVALID, "the Q String is not a point of the curve");
	if ((pkey = ec_from_parts(c, NULL, pub, publen)) == NULL)
		return fail(err, R_INVALID, "the %s does not make an EC key", what);
	rc = pkey_canon(pkey, false, format, out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Imports a Transparent DSA Private Key (P, Q, G, X) or Public Key (P, Q, G, Y). */
static int
import_transparent_dsa(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	bool private = object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY;
	struct field f[] = {
		{ KMIP_TAG_P, "P", NULL },
		{ KMIP_TAG_Q, "Q", NULL },
		{ KMIP_TAG_G, "G", NULL },
		{ private ? KMIP_TAG_X : KMIP_TAG_Y, private ? "X" : "Y", NULL },
	};
	/* The most bytes each may have: checked on the wire's length, before any BIGNUM is made. */
	const size_t max[4] = { KEYFMT_DSA_MAX_BITS / 8, KEYFMT_DSA_MAX_Q_BITS / 8, KEYFMT_DSA_MAX_BITS / 8,
	    private ? KEYFMT_DSA_MAX_Q_BITS / 8 : KEYFMT_DSA_MAX_BITS / 8 };
	const char *what = format_name(format);
	struct dsa_parts d;
	BIGNUM **slot[4];
	EVP_PKEY *pkey = NULL;
	uint32_t bits;
	size_t i;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	slot[0] = &d.p, slot[1] = &d.q, slot[2] = &d.g, slot[3] = private ? &d.x : &d.y;
	if (collect(item, f, 4, what, err) != 0)
		return -1;
	for (i = 0; i < 4; i++)
		if (f[i].item == NULL)
			return fail(err, R_INVALID, "%s without %s", what, f[i].name);
	for (i = 0; i < 4; i++)
		if (bn_from_item(f[i].item, f[i].name, max[i], slot[i], err) != 0)
			goto out;
	if (dsa_check(&d, &bits, err) != 0)
		goto out;
	if ((pkey = dsa_from_parts(&d)) == NULL) {
		fail(err, R_INVALID, "the %s does not make a DSA key", what);
		goto out;
	}
	rc = pkey_canon(pkey, private, format, out, err);
out:
	EVP_PKEY_free(pkey);
	dsa_parts_free(&d);
	return rc;
}

/* Copies raw bytes (a Byte String of 1 to max bytes) into *out. */
static int
import_raw(const struct ttlv *item, const char *what, size_t max, uint32_t format, uint32_t bits_per_byte,
    struct keyfmt_key *out, struct keyfmt_error *err)
{
	if (check_bytes(item, what, max, err) != 0)
		return -1;
	if ((out->der = copy_bytes(item->v.bytes.data, item->length)) == NULL)
		return fail(err, R_NOMEM, "out of memory");
	out->der_len = item->length;
	out->format = format;
	out->bits = bits_per_byte * item->length;
	return 0;
}

/* Imports a Symmetric Key sent Raw: its bytes. */
static int
import_symmetric(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	(void)object_type;
	return import_raw(item, "the Key Material", KEYFMT_MAX_SYMMETRIC, format, 8, out, err);
}

/* Imports a Transparent Symmetric Key: its one Key field. */
static int
import_transparent_symmetric(uint32_t object_type, uint32_t format, const struct ttlv *item,
    struct keyfmt_key *out, struct keyfmt_error *err)
{
	struct field f[] = { { KMIP_TAG_KEY, "Key", NULL } };

	(void)object_type;
	if (collect(item, f, 1, "Transparent Symmetric Key", err) != 0)
		return -1;
	if (f[0].item == NULL)
		return fail(err, R_INVALID, "Transparent Symmetric Key without a Key");
	return import_raw(f[0].item, "the Key", KEYFMT_MAX_SYMMETRIC, format, 8, out, err);
}

/* Imports Secret Data, Raw or Opaque: its bytes as they are. */
static int
import_secret(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	(void)object_type;
	return import_raw(item, "the Key Material", KEYFMT_MAX_DATA, format, 0, out, err);
}

/* Imports an Opaque Object's Opaque Data Value. */
static int
import_opaque(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	(void)object_type;
	return import_raw(item, "the Opaque Data Value", KEYFMT_MAX_DATA, format, 0, out, err);
}

/* Fills alg, bits and curve from a certificate's public key when it is RSA or EC (else leaves them 0). */
static void
cert_key_info(X509 *x, struct keyfmt_key *info)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const struct curve *c;

	if (pk == NULL)
		return;
	if (EVP_PKEY_is_a(pk, "RSA")) {
		info->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
		info->bits = (uint32_t)EVP_PKEY_get_bits(pk);
	} else if (EVP_PKEY_is_a(pk, "EC") && (c = curve_of(pk)) != NULL) {
		info->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
		info->bits = c->bits;
		info->curve = c->kmip;
	}
}

/* Parses a whole DER X.509 certificate; NULL when it does not parse or bytes are left over. */
static X509 *
cert_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len == 0 || len > KEYFMT_MAX_DER)
		return NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Imports a certificate: parsed to validate it, kept byte for byte (its signature covers those bytes). */
static int
import_certificate(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	X509 *x;

	(void)object_type;
	if (check_bytes(item, "the Certificate Value", KEYFMT_MAX_DER, err) != 0)
		return -1;
	if ((x = cert_parse(item->v.bytes.data, item->length)) == NULL)
		return fail(err, R_INVALID, "the Certificate Value is not a DER X.509 certificate");
	cert_key_info(x, out);
	X509_free(x);
	if ((out->der = copy_bytes(item->v.bytes.data, item->length)) == NULL) {
		memset(out, 0, sizeof(*out));
		return fail(err, R_NOMEM, "out of memory");
	}
	out->der_len = item->length;
	out->format = format;
	return 0;
}

/* Loads a canonical key (PKCS#8 or SubjectPublicKeyInfo) of a supported type, without the soundness checks. */
static EVP_PKEY *
load_canon(const uint8_t *der, size_t len, bool private, struct keyfmt_error *err)
{
	EVP_PKEY *pkey;

	if (der == NULL || len == 0 || len > KEYFMT_MAX_DER) {
		fail(err, R_INVALID, "the stored key is empty or too long");
		return NULL;
	}
	pkey = der_decode(der, len, private ? "PrivateKeyInfo" : "SubjectPublicKeyInfo", NULL,
	    private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
	if (pkey == NULL) {
		fail(err, R_INVALID, "the stored key is not %s", private ? "a PKCS#8 private key" :
		    "a SubjectPublicKeyInfo");
		return NULL;
	}
	if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "DSA") &&
	    !(EVP_PKEY_is_a(pkey, "EC") && curve_of(pkey) != NULL)) {
		fail(err, R_INVALID, "the stored key is neither RSA, DSA nor EC on a supported curve");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/* Stored material on its way out, with what export() found in it. */
struct stored {
	const uint8_t *canon;	/* the canonical bytes */
	size_t len;
	uint32_t tag;		/* the item they go in: Key Material, Certificate Value, Opaque Data Value */
	bool private;		/* keys: a private key */
	uint32_t alg;		/* keys: RSA, EC or DSA, as canon_peek() read it */
	const uint8_t *inner;	/* keys: the key structure inside the canonical one (canon_peek) */
	size_t inner_len;
};

/* Loads a stored key for the formats that need OpenSSL, an EC key set to the canonical encoding choices. */
static EVP_PKEY *
load_stored(const struct stored *s, struct keyfmt_error *err)
{
	EVP_PKEY *pkey;

	if ((pkey = load_canon(s->canon, s->len, s->private, err)) == NULL)
		return NULL;
	if (s->alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_EC && ec_normalize(pkey) != 0) {
		fail_ssl(err, "setting the EC encoding");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/*
 * Writes the canonical bytes as they are: PKCS#8 and X.509 keys (kmipd's canonical forms), Secret Data,
 * an Opaque Object's value, a Certificate.
 */
static int
export_bytes(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	(void)err;
	ttlv_enc_bytes(out, s->tag, s->canon, s->len);
	return 0;
}

/* Writes an RSA key as PKCS#1: the structure inside its canonical bytes, so no decoder runs. */
static int
export_pkcs1(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	(void)err;
	ttlv_enc_bytes(out, KMIP_TAG_KEY_MATERIAL, s->inner, s->inner_len);
	return 0;
}

/* Writes a Symmetric Key Raw. */
static int
export_symmetric(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	if (s->len > KEYFMT_MAX_SYMMETRIC)
		return fail(err, R_INVALID, "the stored key is too long");
	ttlv_enc_bytes(out, KMIP_TAG_KEY_MATERIAL, s->canon, s->len);
	return 0;
}

/* Writes a Transparent Symmetric Key: the key's bytes in its Key field. */
static int
export_transparent_symmetric(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	if (s->len > KEYFMT_MAX_SYMMETRIC)
		return fail(err, R_INVALID, "the stored key is too long");
	ttlv_enc_begin(out, KMIP_TAG_KEY_MATERIAL);
	ttlv_enc_bytes(out, KMIP_TAG_KEY, s->canon, s->len);
	ttlv_enc_end(out);
	return 0;
}

/* Writes a DER encoding of pkey as a Byte String Key Material, wiping the temporary copy. */
static int
export_der(EVP_PKEY *pkey, bool private, const char *structure, struct ttlv_enc *out, struct keyfmt_error *err)
{
	uint8_t *der;
	size_t len;

	if (der_encode(pkey, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, structure, &der, &len) != 0)
		return fail_ssl(err, "encoding the key");
	ttlv_enc_bytes(out, KMIP_TAG_KEY_MATERIAL, der, len);
	wipe_free(der, len);
	return 0;
}

/* Writes an EC private key as an ECPrivateKey (RFC 5915). */
static int
export_ecprivatekey(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	EVP_PKEY *pkey;
	int rc;

	if ((pkey = load_stored(s, err)) == NULL)
		return -1;
	rc = export_der(pkey, s->private, "type-specific", out, err);
	EVP_PKEY_free(pkey);
	return rc;
}

/* Writes the Transparent RSA Private or Public Key structure of a stored RSA key. */
static int
export_transparent_rsa(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	struct rsa_parts r;
	EVP_PKEY *pkey;
	int bad;

	if ((pkey = load_stored(s, err)) == NULL)
		return -1;
	bad = rsa_parts_get(pkey, s->private, &r);
	EVP_PKEY_free(pkey);
	if (bad)
		return fail(err, R_INVALID, "the stored RSA key lacks some of its components");
	ttlv_enc_begin(out, KMIP_TAG_KEY_MATERIAL);
	bad = enc_bn(out, KMIP_TAG_MODULUS, r.n);
	if (s->private) {
		bad |= enc_bn(out, KMIP_TAG_PRIVATE_EXPONENT, r.d);
		bad |= enc_bn(out, KMIP_TAG_PUBLIC_EXPONENT, r.e);
		bad |= enc_bn(out, KMIP_TAG_P, r.p);
		bad |= enc_bn(out, KMIP_TAG_Q, r.q);
		bad |= enc_bn(out, KMIP_TAG_PRIME_EXPONENT_P, r.dp);
		bad |= enc_bn(out, KMIP_TAG_PRIME_EXPONENT_Q, r.dq);
		bad |= enc_bn(out, KMIP_TAG_CRT_COEFFICIENT, r.qinv);
	} else
		bad |= enc_bn(out, KMIP_TAG_PUBLIC_EXPONENT, r.e);
	ttlv_enc_end(out);
	rsa_parts_free(&r);
	if (bad)
		return fail(err, R_CRYPTO, "converting the RSA components failed");
	return 0;
}

/*
 * Writes the Transparent EC Private Key (curve and D) or Public Key (curve and Q String) of a stored EC key;
 * the KMIP 1.0 Transparent ECDSA, ECDH and ECMQV structures are the same.
 */
static int
export_transparent_ec(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	const struct curve *c;
	uint8_t raw[EC_POINT_MAX + 8], pub[EC_POINT_MAX];
	size_t rawlen = 0, publen;
	BIGNUM *d = NULL;
	EVP_PKEY *pkey;
	int bad = 0;

	if ((pkey = load_stored(s, err)) == NULL)
		return -1;
	if ((c = curve_of(pkey)) == NULL)
		bad = fail(err, R_INVALID, "the stored EC key is on an unsupported curve");
	else if (s->private) {
		if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d))
			bad = fail(err, R_INVALID, "the stored EC key has no private scalar");
	} else if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw), &rawlen) ||
	    ec_point_uncompressed(c, raw, rawlen, pub, &publen) != 0)
		bad = fail(err, R_INVALID, "the stored EC key has no valid public point");
	EVP_PKEY_free(pkey);
	if (bad)
		return -1;
	ttlv_enc_begin(out, KMIP_TAG_KEY_MATERIAL);
	ttlv_enc_enum(out, KMIP_TAG_RECOMMENDED_CURVE, c->kmip);
	if (s->private)
		bad = enc_bn(out, KMIP_TAG_D, d);
	else
		ttlv_enc_bytes(out, KMIP_TAG_Q_STRING, pub, publen);
	ttlv_enc_end(out);
	bn_wipe(&d);
	if (bad)
		return fail(err, R_CRYPTO, "converting the EC private scalar failed");
	return 0;
}

/* Writes the Transparent DSA Private Key (P, Q, G, X) or Public Key (P, Q, G, Y) of a stored DSA key. */
static int
export_transparent_dsa(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err)
{
	struct dsa_parts d;
	EVP_PKEY *pkey;
	int bad;

	if ((pkey = load_stored(s, err)) == NULL)
		return -1;
	bad = dsa_parts_get(pkey, s->private, &d);
	EVP_PKEY_free(pkey);
	if (bad)
		return fail(err, R_INVALID, "the stored DSA key lacks some of its components");
	ttlv_enc_begin(out, KMIP_TAG_KEY_MATERIAL);
	bad = enc_bn(out, KMIP_TAG_P, d.p);
	bad |= enc_bn(out, KMIP_TAG_Q, d.q);
	bad |= enc_bn(out, KMIP_TAG_G, d.g);
	bad |= s->private ? enc_bn(out, KMIP_TAG_X, d.x) : enc_bn(out, KMIP_TAG_Y, d.y);
	ttlv_enc_end(out);
	dsa_parts_free(&d);
	if (bad)
		return fail(err, R_CRYPTO, "converting the DSA components failed");
	return 0;
}

/*
 * The object types keyfmt handles. Keys and Secret Data carry their material in the Key Material of a Key
 * Block, in any Key Format Type of their rows in the codec table; a Certificate or an Opaque Object has no
 * Key Block, only its value, in the one format of its row, which Register may leave out.
 */
static const struct otype {
	uint32_t object_type;
	uint32_t tag;		/* the item that holds the material */
	bool key_pair;		/* a private or public key: the algorithm in its canonical bytes picks its rows */
	const char *a_name;	/* for messages */
} otypes[] = {
	{ KMIP_OBJECT_TYPE_SYMMETRIC_KEY, KMIP_TAG_KEY_MATERIAL, false, "a Symmetric Key" },
	{ KMIP_OBJECT_TYPE_SECRET_DATA, KMIP_TAG_KEY_MATERIAL, false, "a Secret Data" },
	{ KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_TAG_KEY_MATERIAL, true, "a Private Key" },
	{ KMIP_OBJECT_TYPE_PUBLIC_KEY, KMIP_TAG_KEY_MATERIAL, true, "a Public Key" },
	{ KMIP_OBJECT_TYPE_CERTIFICATE, KMIP_TAG_CERTIFICATE_VALUE, false, "a Certificate" },
	{ KMIP_OBJECT_TYPE_OPAQUE_OBJECT, KMIP_TAG_OPAQUE_DATA_VALUE, false, "an Opaque Object" },
	{ KMIP_OBJECT_TYPE_PGP_KEY, KMIP_TAG_KEY_MATERIAL, false, "a PGP Key" },
	{ KMIP_OBJECT_TYPE_SPLIT_KEY, KMIP_TAG_KEY_MATERIAL, false, "a Split Key" },
};

/* Register: reads item (the object type's item, tag checked) in the row's format; 0, or -1 with *err set. */
typedef int import_fn(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err);
/* Get: writes stored material in the row's format into out; 0, or -1 with *err set (keyfmt_export rewinds out). */
typedef int export_fn(const struct stored *s, struct ttlv_enc *out, struct keyfmt_error *err);

/* The KMIP versions (first to last, both included) in which a row is the default, and for which algorithms. */
struct dflt {
	unsigned first, last;
	uint32_t alg[2];	/* when not 0: only for keys of these algorithms, else for any of the row's class */
};

#define NEVER		{ 1, 0, { 0, 0 } }		/* no version is in the range */
#define ALWAYS		{ 0, ~0u, { 0, 0 } }
/* KMIP 1.3 brought the Transparent EC formats; before it, each EC algorithm had a Transparent format of its own. */
#define SINCE_1_3	{ KMIP_VERSION(1, 3), ~0u, { 0, 0 } }
#define BEFORE_1_3(...)	{ 0, KMIP_VERSION(1, 3) - 1, { __VA_ARGS__ } }

#define OT(x)		KMIP_OBJECT_TYPE_##x
#define KF(x)		KMIP_KEY_FORMAT_TYPE_##x
#define ALG(x)		KMIP_CRYPTOGRAPHIC_ALGORITHM_##x

/*
 * The codec table: one row per object type, Key Format Type and class of algorithm. A key's material does
 * not say its class until it is read, so the rows of one object type and format share their import function.
 * Adding a format is adding its rows.
 */
static const struct codec {
	uint32_t object_type;
	uint32_t format;
	enum keyfmt_class cls;
	import_fn *import;	/* NULL: Register refuses the format */
	export_fn *export;	/* NULL: Get refuses it (keyfmt_format_applies is false) */
	struct dflt dflt;	/* when Get without a format picks this one */
} codecs[] = {
	{ OT(SYMMETRIC_KEY), KF(RAW), KEYFMT_CLASS_SYMMETRIC,
	  import_symmetric, export_symmetric, ALWAYS },
	{ OT(SYMMETRIC_KEY), KF(TRANSPARENT_SYMMETRIC_KEY), KEYFMT_CLASS_SYMMETRIC,
	  import_transparent_symmetric, export_transparent_symmetric, NEVER },

	{ OT(SECRET_DATA), KF(RAW), KEYFMT_CLASS_NONE,
	  import_secret, export_bytes, ALWAYS },
	{ OT(SECRET_DATA), KF(OPAQUE), KEYFMT_CLASS_NONE,
	  import_secret, export_bytes, NEVER },

	/* A PGP Key's Key Block holds an OpenPGP transferable key, kept as its bytes (KMIP 1.4 section 2.2.9). */
	{ OT(PGP_KEY), KF(RAW), KEYFMT_CLASS_NONE,
	  import_secret, export_bytes, ALWAYS },
	{ OT(PGP_KEY), KF(OPAQUE), KEYFMT_CLASS_NONE,
	  import_secret, export_bytes, NEVER },

	{ OT(OPAQUE_OBJECT), KF(OPAQUE), KEYFMT_CLASS_NONE,
	  import_opaque, export_bytes, ALWAYS },

	/* A Split Key's share: bytes as they are (splitkey.h says what they are for each method). */
	{ OT(SPLIT_KEY), KF(RAW), KEYFMT_CLASS_NONE,
	  import_secret, export_bytes, ALWAYS },

	{ OT(CERTIFICATE), KF(X_509), KEYFMT_CLASS_NONE,
	  import_certificate, export_bytes, ALWAYS },

	{ OT(PRIVATE_KEY), KF(PKCS_1), KEYFMT_CLASS_RSA,
	  import_pkcs1, export_pkcs1, ALWAYS },
	{ OT(PRIVATE_KEY), KF(PKCS_8), KEYFMT_CLASS_RSA,
	  import_pkcs8, export_bytes, NEVER },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_RSA_PRIVATE_KEY), KEYFMT_CLASS_RSA,
	  import_transparent_rsa, export_transparent_rsa, NEVER },
	{ OT(PRIVATE_KEY), KF(PKCS_8), KEYFMT_CLASS_EC,
	  import_pkcs8, export_bytes, NEVER },
	{ OT(PRIVATE_KEY), KF(ECPRIVATEKEY), KEYFMT_CLASS_EC,
	  import_ecprivatekey, export_ecprivatekey, NEVER },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_EC_PRIVATE_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_private, export_transparent_ec, SINCE_1_3 },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_ECDSA_PRIVATE_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_private, export_transparent_ec, BEFORE_1_3(ALG(ECDSA), ALG(EC)) },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_ECDH_PRIVATE_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_private, export_transparent_ec, BEFORE_1_3(ALG(ECDH)) },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_ECMQV_PRIVATE_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_private, export_transparent_ec, BEFORE_1_3(ALG(ECMQV)) },

	{ OT(PRIVATE_KEY), KF(PKCS_8), KEYFMT_CLASS_DSA,
	  import_pkcs8, export_bytes, NEVER },
	{ OT(PRIVATE_KEY), KF(TRANSPARENT_DSA_PRIVATE_KEY), KEYFMT_CLASS_DSA,
	  import_transparent_dsa, export_transparent_dsa, ALWAYS },

	{ OT(PUBLIC_KEY), KF(PKCS_1), KEYFMT_CLASS_RSA,
	  import_pkcs1, export_pkcs1, ALWAYS },
	{ OT(PUBLIC_KEY), KF(X_509), KEYFMT_CLASS_RSA,
	  import_spki, export_bytes, NEVER },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_RSA_PUBLIC_KEY), KEYFMT_CLASS_RSA,
	  import_transparent_rsa, export_transparent_rsa, NEVER },
	{ OT(PUBLIC_KEY), KF(X_509), KEYFMT_CLASS_EC,
	  import_spki, export_bytes, NEVER },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_EC_PUBLIC_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_public, export_transparent_ec, SINCE_1_3 },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_ECDSA_PUBLIC_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_public, export_transparent_ec, BEFORE_1_3(ALG(ECDSA), ALG(EC)) },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_ECDH_PUBLIC_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_public, export_transparent_ec, BEFORE_1_3(ALG(ECDH)) },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_ECMQV_PUBLIC_KEY), KEYFMT_CLASS_EC,
	  import_transparent_ec_public, export_transparent_ec, BEFORE_1_3(ALG(ECMQV)) },
	{ OT(PUBLIC_KEY), KF(X_509), KEYFMT_CLASS_DSA,
	  import_spki, export_bytes, NEVER },
	{ OT(PUBLIC_KEY), KF(TRANSPARENT_DSA_PUBLIC_KEY), KEYFMT_CLASS_DSA,
	  import_transparent_dsa, export_transparent_dsa, ALWAYS },
};

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* See keyfmt.h. */
bool
keyfmt_object_type(size_t i, uint32_t *object_type)
{
	if (i >= sizeof(otypes) / sizeof(otypes[0]))
		return false;
	*object_type = otypes[i].object_type;
	return true;
}

/* The entry of an object type keyfmt handles, or NULL. */
static const struct otype *
otype_of(uint32_t object_type)
{
	size_t i;

	for (i = 0; i < sizeof(otypes) / sizeof(otypes[0]); i++)
		if (otypes[i].object_type == object_type)
			return &otypes[i];
	return NULL;
}

/*
 * True when a key of Cryptographic Algorithm alg is of class cls. The formats of symmetric keys and of
 * objects that are not keys do not depend on the algorithm, so those classes take any.
 */
static bool
class_has(enum keyfmt_class cls, uint32_t alg)
{
	switch (cls) {
	case KEYFMT_CLASS_RSA:
		return alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
	case KEYFMT_CLASS_EC:
		return alg_is_ec(alg);
	case KEYFMT_CLASS_DSA:
		return alg == KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA;
	default:
		return true;
	}
}

/* True when row c is what a Get without a format returns for a key of alg in KMIP version. */
static bool
codec_is_default(const struct codec *c, uint32_t alg, unsigned version)
{
	if (!class_has(c->cls, alg) || version < c->dflt.first || version > c->dflt.last)
		return false;
	return c->dflt.alg[0] == 0 || (alg != 0 && (alg == c->dflt.alg[0] || alg == c->dflt.alg[1]));
}

/* The row that reads format for object_type on Register, or NULL. */
static const struct codec *
codec_import(uint32_t object_type, uint32_t format)
{
	size_t i;

	for (i = 0; i < NCODECS; i++)
		if (codecs[i].object_type == object_type && codecs[i].format == format && codecs[i].import != NULL)
			return &codecs[i];
	return NULL;
}

/* The row that writes format for a key of object_type and alg on Get, or NULL. */
static const struct codec *
codec_export(uint32_t object_type, uint32_t alg, uint32_t format)
{
	size_t i;

	for (i = 0; i < NCODECS; i++)
		if (codecs[i].object_type == object_type && codecs[i].format == format &&
		    class_has(codecs[i].cls, alg) && codecs[i].export != NULL)
			return &codecs[i];
	return NULL;
}

/* True for the formats keyfmt reads for some object type. */
static bool
format_known(uint32_t format)
{
	size_t i;

	for (i = 0; i < NCODECS; i++)
		if (codecs[i].format == format && codecs[i].import != NULL)
			return true;
	return false;
}

/* The import proper, without the error-queue bracket. */
static int
import(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	const struct otype *ot;
	const struct codec *c;
	uint32_t only;
	bool key_block;

	if (item == NULL)
		return fail(err, R_INVALID, "no key material");
	if ((ot = otype_of(object_type)) == NULL)
		return fail(err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, "%s objects have no key formats here",
		    type_name(object_type));
	key_block = ot->tag == KMIP_TAG_KEY_MATERIAL;
	if (!key_block) {
		/* The object's one format, which Register may leave out. */
		only = keyfmt_default_format(object_type, 0, KMIP_VERSION(2, 1));
		if (format == 0)
			format = only;
		if (codec_import(object_type, format) == NULL)
			return fail(err, R_INVALID, "%s is registered as %s, not %s", ot->a_name, format_name(only),
			    format_name(format));
	} else if (!format_known(format))
		return fail(err, R_NOT_SUPPORTED, "Key Format Type %s (0x%x) is not supported", format_name(format),
		    format);
	if (item->tag != ot->tag) {
		if (key_block)
			return fail(err, R_INVALID, "the key material must be a Key Material item");
		return fail(err, R_INVALID, "%s's material is its %s", ot->a_name, ttlv_tag_name(ot->tag));
	}
	if ((c = codec_import(object_type, format)) == NULL)
		return fail(err, R_INVALID, "Key Format Type %s does not fit %s", format_name(format), ot->a_name);
	return c->import(object_type, format, item, out, err);
}

/* The DER structure a private (or public) key's first two element tags show, or NULL. */
static const struct der_form *
der_form_of(bool private, uint8_t t1, uint8_t t2)
{
	static const struct der_form *const priv[] = { &der_pkcs1_private, &der_pkcs8, &der_ecprivatekey };
	static const struct der_form *const pub[] = { &der_pkcs1_public, &der_spki };
	const struct der_form *const *f = private ? priv : pub;
	size_t i, n = private ? 3 : 2;

	for (i = 0; i < n; i++)
		if (f[i]->t1 == t1 && f[i]->t2 == t2)
			return f[i];
	return NULL;
}

/* The DER structure a Key Format Type names for a private or public key, or NULL for the others. */
static const struct der_form *
der_form_named(bool private, uint32_t format)
{
	switch (format) {
	case KMIP_KEY_FORMAT_TYPE_PKCS_1:
		return private ? &der_pkcs1_private : &der_pkcs1_public;
	case KMIP_KEY_FORMAT_TYPE_PKCS_8:
		return private ? &der_pkcs8 : NULL;
	case KMIP_KEY_FORMAT_TYPE_ECPRIVATEKEY:
		return private ? &der_ecprivatekey : NULL;
	case KMIP_KEY_FORMAT_TYPE_X_509:
		return private ? NULL : &der_spki;
	default:
		return NULL;
	}
}

/* Imports a public EC point sent Raw: on the first supported curve of its length that it lies on. */
static int
import_raw_point(uint32_t format, const struct ttlv *item, struct keyfmt_key *out, struct keyfmt_error *err)
{
	uint8_t pub[EC_POINT_MAX];
	size_t i, publen, flen, len = item->length;
	EVP_PKEY *pkey;
	int rc;

	if (len > EC_POINT_MAX || (item->v.bytes.data[0] != 0x04 && item->v.bytes.data[0] != 0x02 &&
	    item->v.bytes.data[0] != 0x03))
		return fail(err, R_INVALID, "the Raw Key Material is neither a DER public key nor an EC point");
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		flen = (curves[i].bits + 7) / 8;
		if (len != (item->v.bytes.data[0] == 0x04 ? 1 + 2 * flen : 1 + flen))
			continue;
		if (ec_point_uncompressed(&curves[i], item->v.bytes.data, len, pub, &publen) != 0)
			continue;
		if ((pkey = ec_from_parts(&curves[i], NULL, pub, publen)) == NULL)
			return fail_ssl(err, "building the EC public key");
		rc = pkey_canon(pkey, false, format, out, err);
		EVP_PKEY_free(pkey);
		return rc;
	}
	return fail(err, R_INVALID, "the Raw Key Material is not a point of a supported curve");
}

/*
 * Reads a private or public key's Byte String material in whatever DER structure it is (or as an EC point),
 * for keyfmt_import_as. Sets *kept when that is not the declared format. Returns 0, or -1 with *err set.
 */
static int
import_sniffed(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    bool *kept, struct keyfmt_error *err)
{
	bool private = object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY;
	const struct der_form *form, *named = der_form_named(private, format);
	uint8_t t1, t2;
	EVP_PKEY *pkey;
	int rc;

	*kept = false;
	/* Byte formats only: a Transparent one holds a Structure, which import() reads (or refuses). */
	if (format != KMIP_KEY_FORMAT_TYPE_RAW && format != KMIP_KEY_FORMAT_TYPE_PKCS_1 &&
	    format != KMIP_KEY_FORMAT_TYPE_PKCS_8 && format != KMIP_KEY_FORMAT_TYPE_X_509 &&
	    format != KMIP_KEY_FORMAT_TYPE_ECPRIVATEKEY)
		return import(object_type, format, item, out, err);
	if (check_bytes(item, "the Key Material", KEYFMT_MAX_DER, err) != 0)
		return -1;
	if (der_shape(item->v.bytes.data, item->length, &t1, &t2) != 0 || (form = der_form_of(private, t1, t2)) == NULL) {
		if (!private && format == KMIP_KEY_FORMAT_TYPE_RAW) {
			*kept = true;
			return import_raw_point(format, item, out, err);
		}
		if (named != NULL)
			return fail(err, R_INVALID, "the Key Material is not %s, nor another DER %s key", named->what,
			    private ? "private" : "public");
		return fail(err, R_INVALID, "the %s Key Material is not a DER %s key%s", format_name(format),
		    private ? "private" : "public", private && format == KMIP_KEY_FORMAT_TYPE_RAW ?
		    " (a bare EC scalar does not name its curve: send an ECPrivateKey or PKCS#8)" : "");
	}
	if (form == named)
		return import(object_type, format, item, out, err);
	pkey = der_decode(item->v.bytes.data, item->length, form->structure, form->keytype,
	    private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY);
	if (pkey == NULL)
		return fail(err, R_INVALID, "the Key Material is not %s%s%s", named != NULL ? named->what : "a DER key",
		    named != NULL ? ", and does not parse as " : "", named != NULL ? form->what : "");
	rc = pkey_canon(pkey, private, format, out, err);
	EVP_PKEY_free(pkey);
	*kept = rc == 0;
	return rc;
}

/* Register as clients send keys: see keyfmt.h. */
int
keyfmt_import_as(uint32_t object_type, uint32_t format, uint32_t alg, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	bool kept = false;
	int rc;

	memset(out, 0, sizeof(*out));
	ERR_set_mark();
	if ((object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY || object_type == KMIP_OBJECT_TYPE_PUBLIC_KEY) &&
	    item != NULL && item->tag == KMIP_TAG_KEY_MATERIAL && item->type == TTLV_BYTE_STRING)
		rc = import_sniffed(object_type, format, item, out, &kept, err);
	else
		rc = import(object_type, format, item, out, err);
	if (rc == 0 && alg != 0 && out->alg != 0 && !(out->alg == alg || (alg_is_ec(alg) && alg_is_ec(out->alg))))
		rc = fail(err, R_INVALID, "the Key Material is an %s key, not %s as declared",
		    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, out->alg),
		    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg) != NULL ?
		    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg) : "the algorithm");
	ERR_pop_to_mark();
	if (rc != 0)
		keyfmt_key_clear(out);
	else
		out->kept = kept;
	return rc;
}

/* Register: material in a Key Format Type to canonical form; 0, or -1 with *err set and *out zeroed. */
int
keyfmt_import(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	ERR_set_mark();
	rc = import(object_type, format, item, out, err);
	ERR_pop_to_mark();
	if (rc != 0)
		keyfmt_key_clear(out);
	return rc;
}

/* The Key Format Type of a Get without one (the KMIP 2.x defaults); 0 when there is none. */
uint32_t
keyfmt_default_format(uint32_t object_type, uint32_t alg, unsigned version)
{
	size_t i;

	for (i = 0; i < NCODECS; i++)
		if (codecs[i].object_type == object_type && codec_is_default(&codecs[i], alg, version))
			return codecs[i].format;
	return 0;
}

/* True when keyfmt_export() can write a key of this object type and algorithm in format. */
bool
keyfmt_format_applies(uint32_t object_type, uint32_t alg, uint32_t format)
{
	return codec_export(object_type, alg, format) != NULL;
}

/* Row i of the codec table, its default for a key of alg in version; false past the last row. */
bool
keyfmt_codec_row(size_t i, uint32_t alg, unsigned version, struct keyfmt_codec *row)
{
	const struct codec *c;

	if (i >= NCODECS)
		return false;
	c = &codecs[i];
	row->object_type = c->object_type;
	row->format = c->format;
	row->alg_class = c->cls;
	row->imports = c->import != NULL;
	row->applies = c->export != NULL;
	row->is_default = codec_is_default(c, alg, version);
	return true;
}

/* The export proper, without the error-queue bracket and the rewind. */
static int
export(uint32_t object_type, const uint8_t *canon, size_t len, uint32_t format, struct ttlv_enc *out,
    uint32_t *format_used, struct keyfmt_error *err)
{
	struct stored s = { .canon = canon, .len = len, .private = object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY };
	const struct otype *ot;
	const struct codec *c;

	if ((ot = otype_of(object_type)) == NULL)
		return fail(err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, "%s objects have no key formats here",
		    type_name(object_type));
	s.tag = ot->tag;
	/* A key's formats depend on its algorithm, which its canonical bytes say. */
	if (ot->key_pair && (canon == NULL || len == 0 || len > KEYFMT_MAX_DER ||
	    canon_peek(canon, len, s.private, &s.alg, &s.inner, &s.inner_len) != 0))
		return fail(err, R_INVALID, "the stored key is not %s of an RSA, EC or DSA key",
		    s.private ? "a PKCS#8 PrivateKeyInfo" : "a SubjectPublicKeyInfo");
	if (format == 0)
		format = keyfmt_default_format(object_type, s.alg, KMIP_VERSION(2, 1));
	if ((c = codec_export(object_type, s.alg, format)) == NULL && ot->key_pair)
		return fail(err, R_NOT_SUPPORTED, "Key Format Type %s does not apply to an %s %s", format_name(format),
		    ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, s.alg), s.private ? "private key" : "public key");
	if (c == NULL)
		return fail(err, R_NOT_SUPPORTED, "Key Format Type %s does not apply to a %s", format_name(format),
		    type_name(object_type));
	if (canon == NULL || len == 0)
		return fail(err, R_INVALID, "the stored %s is empty", type_name(object_type));
	if (c->export(&s, out, err) != 0)
		return -1;
	*format_used = format;
	return 0;
}

/* Get: canonical material to a Key Material (or value) item in out; 0, or -1 with nothing written. */
int
keyfmt_export(uint32_t object_type, const uint8_t *canon, size_t len, uint32_t format, struct ttlv_enc *out,
    uint32_t *format_used, struct keyfmt_error *err)
{
	struct ttlv_enc_mark mark = ttlv_enc_mark(out);
	int rc;

	ERR_set_mark();
	rc = export(object_type, canon, len, format, out, format_used, err);
	ERR_pop_to_mark();
	if (rc != 0)
		ttlv_enc_rewind(out, mark);
	return rc;
}

/* The bytes of a positive Big Integer without leading zeros; false when it is not one. */
static bool
bigint_bytes(const struct ttlv *t, const uint8_t **p, size_t *len)
{
	if (t == NULL || t->type != TTLV_BIG_INTEGER || t->length == 0 || (t->v.bytes.data[0] & 0x80))
		return false;
	*p = t->v.bytes.data;
	*len = t->length;
	while (*len > 0 && **p == 0) {
		(*p)++;
		(*len)--;
	}
	return *len > 0;
}

/*
 * The cheap checks import runs before recovering primes (sizes, d below n, no small factor of n): true when
 * they pass, so that only a plausible key costs a worker's time. One that fails is left to keyfmt_import(),
 * which refuses it at once with the reason.
 */
static bool
rsa_ned_plausible(const struct keyfmt_rsa_ned *ned)
{
	struct keyfmt_error err;
	struct rsa_parts r;
	uint32_t bits;
	bool ok;

	memset(&r, 0, sizeof(r));
	r.n = BN_bin2bn(ned->n, (int)ned->n_len, NULL);
	r.e = BN_bin2bn(ned->e, (int)ned->e_len, NULL);
	r.d = BN_secure_new();
	ok = r.n != NULL && r.e != NULL && r.d != NULL && BN_bin2bn(ned->d, (int)ned->d_len, r.d) != NULL &&
	    rsa_check_public(r.n, r.e, &bits, &err) == 0 && rsa_check_sizes(&r, &err) == 0;
	rsa_parts_free(&r);
	return ok;
}

/* Whether Register must recover the primes of a Transparent RSA Private Key; see keyfmt.h. */
bool
keyfmt_rsa_needs_recovery(uint32_t object_type, uint32_t format, const struct ttlv *item, size_t max_bits,
    struct keyfmt_rsa_ned *out)
{
	memset(out, 0, sizeof(*out));
	if (object_type != KMIP_OBJECT_TYPE_PRIVATE_KEY || format != KMIP_KEY_FORMAT_TYPE_TRANSPARENT_RSA_PRIVATE_KEY ||
	    item == NULL || item->type != TTLV_STRUCTURE || ttlv_find(item, KMIP_TAG_P) != NULL ||
	    ttlv_find(item, KMIP_TAG_Q) != NULL)
		return false;
	if (!bigint_bytes(ttlv_find(item, KMIP_TAG_MODULUS), &out->n, &out->n_len) ||
	    !bigint_bytes(ttlv_find(item, KMIP_TAG_PUBLIC_EXPONENT), &out->e, &out->e_len) ||
	    !bigint_bytes(ttlv_find(item, KMIP_TAG_PRIVATE_EXPONENT), &out->d, &out->d_len) ||
	    out->n_len > max_bits / 8 || out->e_len > KEYFMT_RSA_MAX_BITS / 8 || out->d_len > KEYFMT_RSA_MAX_BITS / 8 ||
	    !rsa_ned_plausible(out)) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}

/* The canonical public key of a canonical private key; 0, or -1 with *err set. */
int
keyfmt_public_from_private(const uint8_t *pkcs8, size_t len, uint8_t **spki, size_t *spki_len,
    struct keyfmt_error *err)
{
	EVP_PKEY *pkey;
	int rc = -1;

	*spki = NULL;
	*spki_len = 0;
	ERR_set_mark();
	if ((pkey = load_canon(pkcs8, len, true, err)) == NULL)
		goto out;
	if (EVP_PKEY_is_a(pkey, "EC") && ec_normalize(pkey) != 0)
		fail_ssl(err, "setting the EC encoding");
	else if (der_encode(pkey, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", spki, spki_len) != 0)
		fail_ssl(err, "encoding the public key");
	else
		rc = 0;
	EVP_PKEY_free(pkey);
out:
	ERR_pop_to_mark();
	return rc;
}

/* Algorithm and length of canonical material; 0, or -1 with *err set. */
int
keyfmt_key_info(uint32_t object_type, const uint8_t *canon, size_t len, uint32_t *alg, uint32_t *bits,
    struct keyfmt_error *err)
{
	struct keyfmt_key info;
	EVP_PKEY *pkey;
	X509 *x;
	int rc = 0;

	*alg = 0;
	*bits = 0;
	memset(&info, 0, sizeof(info));
	ERR_set_mark();
	switch (object_type) {
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
		if ((pkey = load_canon(canon, len, object_type == KMIP_OBJECT_TYPE_PRIVATE_KEY, err)) == NULL) {
			rc = -1;
			break;
		}
		if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "DSA")) {
			*alg = EVP_PKEY_is_a(pkey, "RSA") ? KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA :
			    KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA;
			*bits = (uint32_t)EVP_PKEY_get_bits(pkey);
		} else {
			*alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
			*bits = curve_of(pkey)->bits;
		}
		EVP_PKEY_free(pkey);
		break;
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
		*bits = (uint32_t)(8 * len);
		break;
	case KMIP_OBJECT_TYPE_SECRET_DATA:
	case KMIP_OBJECT_TYPE_OPAQUE_OBJECT:
	case KMIP_OBJECT_TYPE_PGP_KEY:
		break;
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		if ((x = cert_parse(canon, len)) == NULL) {
			rc = fail(err, R_INVALID, "the stored certificate does not parse");
			break;
		}
		cert_key_info(x, &info);
		X509_free(x);
		*alg = info.alg;
		*bits = info.bits;
		break;
	default:
		rc = fail(err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, "%s objects have no key formats here",
		    type_name(object_type));
		break;
	}
	ERR_pop_to_mark();
	return rc;
}

/* True when a canonical private and public key are one key pair. */
bool
keyfmt_private_public_match(const uint8_t *pkcs8, size_t pkcs8_len, const uint8_t *spki, size_t spki_len)
{
	EVP_PKEY *priv = NULL, *pub = NULL;
	bool match = false;

	ERR_set_mark();
	if ((priv = load_canon(pkcs8, pkcs8_len, true, NULL)) != NULL &&
	    (pub = load_canon(spki, spki_len, false, NULL)) != NULL)
		match = EVP_PKEY_eq(priv, pub) == 1;
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	ERR_pop_to_mark();
	return match;
}

/* The canonical public key of a DER certificate; 0, or -1 with *err set. */
int
keyfmt_cert_public_key(const uint8_t *der, size_t len, uint8_t **spki, size_t *spki_len,
    struct keyfmt_error *err)
{
	struct keyfmt_key k;
	EVP_PKEY *pk;
	X509 *x;
	int rc = -1;

	*spki = NULL;
	*spki_len = 0;
	memset(&k, 0, sizeof(k));
	ERR_set_mark();
	if ((x = cert_parse(der, len)) == NULL)
		fail(err, R_INVALID, "the certificate is not a DER X.509 certificate");
	else if ((pk = X509_get0_pubkey(x)) == NULL)
		fail(err, R_INVALID, "the certificate's public key cannot be read");
	else if (pkey_canon(pk, false, KMIP_KEY_FORMAT_TYPE_X_509, &k, err) == 0) {
		*spki = k.der;
		*spki_len = k.der_len;
		rc = 0;
	}
	X509_free(x);
	ERR_pop_to_mark();
	return rc;
}

/* Canonical private and public forms of a generated key; 0, or -1 with *err set. */
int
keyfmt_from_pkey(EVP_PKEY *pkey, struct keyfmt_key *priv, struct keyfmt_key *pub, struct keyfmt_error *err)
{
	int rc = -1;

	if (priv != NULL)
		memset(priv, 0, sizeof(*priv));
	if (pub != NULL)
		memset(pub, 0, sizeof(*pub));
	ERR_set_mark();
	if (priv != NULL && pkey_canon(pkey, true, KMIP_KEY_FORMAT_TYPE_PKCS_8, priv, err) != 0)
		goto out;
	if (pub != NULL && pkey_canon(pkey, false, KMIP_KEY_FORMAT_TYPE_X_509, pub, err) != 0)
		goto out;
	rc = 0;
out:
	ERR_pop_to_mark();
	if (rc != 0) {
		keyfmt_key_clear(priv);
		keyfmt_key_clear(pub);
	}
	return rc;
}

/* Loads a canonical private key for a cryptographic operation; NULL with *err set. */
EVP_PKEY *
keyfmt_load_private(const uint8_t *pkcs8, size_t len, struct keyfmt_error *err)
{
	EVP_PKEY *pkey;

	ERR_set_mark();
	pkey = load_canon(pkcs8, len, true, err);
	ERR_pop_to_mark();
	return pkey;
}

/* Loads a canonical public key for a cryptographic operation; NULL with *err set. */
EVP_PKEY *
keyfmt_load_public(const uint8_t *spki, size_t len, struct keyfmt_error *err)
{
	EVP_PKEY *pkey;

	ERR_set_mark();
	pkey = load_canon(spki, len, false, err);
	ERR_pop_to_mark();
	return pkey;
}
