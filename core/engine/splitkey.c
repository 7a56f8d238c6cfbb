/*
 * The secret sharing of KMIP Split Keys; see splitkey.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/engine/splitkey.h"
#include "proto/names.h"

#define GF8_POLY	0x1d	/* x^8 = x^4 + x^3 + x^2 + 1 */
#define GF16_M		0x3a	/* y^2 = y + m in GF(2^16) over GF(2^8) */

/* x times a in GF(2^8), without a branch on a. */
static uint8_t
gf8_xtime(uint8_t a)
{
	return (uint8_t)((a << 1) ^ (GF8_POLY & (uint8_t)-(a >> 7)));
}

/* a times c in GF(2^8): branches on the bits of c (public) only, never on a (which may be secret). */
static uint8_t
gf8_mul(uint8_t a, uint8_t c)
{
	uint8_t r = 0;

	for (; c != 0; c >>= 1) {
		if (c & 1)
			r ^= a;
		a = gf8_xtime(a);
	}
	return r;
}

/* The inverse of a public a != 0 in GF(2^8): a^254. */
static uint8_t
gf8_inv(uint8_t a)
{
	uint8_t r = 1;
	int i;

	for (i = 0; i < 254; i++)
		r = gf8_mul(r, a);
	return r;
}

/* An element uy + v of GF(2^16) = GF(2^8)[y]/(y^2 + y + m). */
struct gf16 {
	uint8_t u, v;
};

/*
 * a times c in GF(2^16), c public: (u1 y + v1)(u2 y + v2) = (u1u2 + u1v2 + v1u2) y + (v1v2 + m u1u2), each
 * product a secret byte times a public one (m u1u2 as u1u2 times the constant m).
 */
static struct gf16
gf16_mul(struct gf16 a, struct gf16 c)
{
	uint8_t uu = gf8_mul(a.u, c.u);
	struct gf16 r;

	r.u = (uint8_t)(uu ^ gf8_mul(a.u, c.v) ^ gf8_mul(a.v, c.u));
	r.v = (uint8_t)(gf8_mul(a.v, c.v) ^ gf8_mul(uu, GF16_M));
	return r;
}

/* The inverse of a public a != 0 in GF(2^16): a^(2^16 - 2), by square and multiply. */
static struct gf16
gf16_inv(struct gf16 a)
{
	struct gf16 r = { 0, 1 };
	unsigned e = 0xfffe;

	for (; e != 0; e >>= 1) {
		if (e & 1)
			r = gf16_mul(r, a);
		a = gf16_mul(a, a);
	}
	return r;
}

/* The Key Part Identifier x as an element of GF(2^16): its high byte u, its low byte v. */
static struct gf16
gf16_of(unsigned x)
{
	struct gf16 r = { (uint8_t)(x >> 8), (uint8_t)x };

	return r;
}

/*
 * Eight bytes at a time: a word holds 8 bytes of a secret or a share (byte k of the run in bits 8k..8k+7,
 * whatever the machine's byte order), each multiplied by the same public constant without a branch on any
 * of them. For GF(2^16) the bytes pair up as u, v (even, odd bytes), elements never straddling a word.
 */
#define BYTES_LOW7	0x7f7f7f7f7f7f7f7fULL
#define BYTES_ONE	0x0101010101010101ULL
#define BYTES_EVEN	0x00ff00ff00ff00ffULL	/* bytes 0, 2, 4, 6: the u of each element */
#define BYTES_ODD	0xff00ff00ff00ff00ULL	/* bytes 1, 3, 5, 7: the v */

/* Up to 8 bytes of p as a word (missing ones 0). */
static uint64_t
load8(const uint8_t *p, size_t n)
{
	uint64_t w = 0;
	size_t k;

	for (k = 0; k < n; k++)
		w |= (uint64_t)p[k] << (8 * k);
	return w;
}

/* The first n bytes of w into p. */
static void
store8(uint8_t *p, uint64_t w, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		p[k] = (uint8_t)(w >> (8 * k));
}

/* x times each byte of w in GF(2^8): the top bits become the reduction, byte by byte, with no carry. */
static uint64_t
gf8_xtime8(uint64_t w)
{
	return ((w & BYTES_LOW7) << 1) ^ (((w >> 7) & BYTES_ONE) * GF8_POLY);
}

/* Each byte of w times c in GF(2^8); branches on the bits of c (public) only. */
static uint64_t
gf8_mul8(uint64_t w, uint8_t c)
{
	uint64_t r = 0;

	for (; c != 0; c >>= 1) {
		if (c & 1)
			r ^= w;
		w = gf8_xtime8(w);
	}
	return r;
}

/*
 * Each of the four GF(2^16) elements of w times c (public), as gf16_mul: with A = w c.u and B = w c.v
 * bytewise, u' = u c.u + u c.v + v c.u (A's and B's even bytes, A's odd ones moved down) and v' = v c.v +
 * m u c.u (B's odd bytes, m times A's even ones moved up).
 */
static uint64_t
gf16_mul8(uint64_t w, struct gf16 c)
{
	uint64_t a = gf8_mul8(w, c.u), b = gf8_mul8(w, c.v);

	return ((a ^ b ^ (a >> 8)) & BYTES_EVEN) | ((b & BYTES_ODD) ^ gf8_mul8((a & BYTES_EVEN) << 8, GF16_M));
}

/* The parts a method's field can tell apart: its non-zero elements (the Prime Field's are bounded by p). */
static unsigned
field_parts(uint32_t method)
{
	switch (method) {
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8:
		return 255;
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16:
		return 65535;
	default:
		return ~0u;
	}
}

/* Checks the parameters and a secret's length; see splitkey.h. */
int
splitkey_check(const struct splitkey_params *p, size_t secret_len, struct kmip_error *err)
{
	BIGNUM *prime = NULL;
	int bits = 0, rc = -1;
	size_t work;

	switch (p->method) {
	case KMIP_SPLIT_KEY_METHOD_XOR:
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8:
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16:
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD:
		break;
	default:
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Split Key Method 0x%x is not one "
		    "kmipd knows", p->method);
	if (p->parts < 2)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Split Key Parts must be at least 2");
	}
	if (p->threshold < 2 || p->threshold > p->parts)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Split Key Threshold %u: it must be at "
		    "least 2 and at most Split Key Parts (%u)", p->threshold, p->parts);
	if (p->method == KMIP_SPLIT_KEY_METHOD_XOR && p->threshold != p->parts)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "an XOR split needs every part: Split "
		    "Key Threshold must equal Split Key Parts");
	if (p->parts > field_parts(p->method))
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "this Split Key Method has room for %u "
		    "parts, not %u", field_parts(p->method), p->parts);
	if ((p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD) != (p->prime != NULL))
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "a Prime Field Size goes with the "
		    "Polynomial Sharing Prime Field method, and only with it");
	if (p->prime != NULL) {
		if (p->prime_len == 0 || p->prime_len > SPLITKEY_PRIME_MAX_BITS / 8 + 8 ||
		    (prime = BN_bin2bn(p->prime, (int)p->prime_len, NULL)) == NULL ||
		    (bits = BN_num_bits(prime)) > SPLITKEY_PRIME_MAX_BITS || bits < 9) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size must be a prime of 9 to "
			    "%d bits", SPLITKEY_PRIME_MAX_BITS);
			goto out;
		}
		/* Every Key Part Identifier is a distinct non-zero element: p > parts (p has 9 bits or more). */
		if (bits <= 32 && BN_get_word(prime) <= p->parts) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size is too small for %u parts",
			    p->parts);
			goto out;
		}
	}
	if (secret_len != 0) {
		if (secret_len > SPLITKEY_MAX_SECRET) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "kmipd splits secrets of %d bytes at most, "
			    "not %zu", SPLITKEY_MAX_SECRET, secret_len);
			goto out;
		}
		if (p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16 && secret_len % 2 != 0) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "GF(2^16) sharing splits whole 16-bit pieces: "
			    "the secret has an odd number of bytes");
			goto out;
		}
		if (prime != NULL && (size_t)bits <= secret_len * 8) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size must exceed 2^%zu for a "
			    "secret of %zu bytes", secret_len * 8, secret_len);
			goto out;
		}
		/* The share lengths are at most SPLITKEY_MAX_SECRET + 8 bytes: no overflow in the product. */
		work = splitkey_share_len(p, secret_len) * p->parts * p->threshold;
		if (work / p->threshold / p->parts != splitkey_share_len(p, secret_len) || work > SPLITKEY_MAX_WORK) {
			kmip_error_set(err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "splitting %zu bytes into %u parts "
			    "of threshold %u is more work than kmipd does in one request", secret_len, p->parts,
			    p->threshold);
			goto out;
		}
	}
	rc = 0;
out:
	BN_free(prime);
	return rc;
}

/* Checks that the Prime Field Size is prime; see splitkey.h. */
int
splitkey_check_prime(const struct splitkey_params *p, struct kmip_error *err)
{
	BIGNUM *prime;
	BN_CTX *bctx = NULL;
	int is_prime = -1;

	if (p->prime == NULL || p->prime_len > SPLITKEY_PRIME_MAX_BITS / 8 + 8)
		return 0;
	if ((prime = BN_bin2bn(p->prime, (int)p->prime_len, NULL)) != NULL && (bctx = BN_CTX_new()) != NULL)
		is_prime = BN_check_prime(prime, bctx, NULL);
	BN_free(prime);
	BN_CTX_free(bctx);
	ERR_clear_error();
	if (is_prime < 0)
		return kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "the primality test failed");
	if (is_prime == 0)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size is not a prime");
	return 0;
}

/* The length of each share; see splitkey.h. */
size_t
splitkey_share_len(const struct splitkey_params *p, size_t secret_len)
{
	size_t n = p->prime_len;

	if (p->method != KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD)
		return secret_len;
	/* The prime's bytes without leading zeros. */
	for (size_t i = 0; i < p->prime_len && p->prime[i] == 0; i++)
		n--;
	return n;
}

/* Fills buf with len random bytes of the private generator; 0, or -1 with err set. */
static int
random_bytes(uint8_t *buf, size_t len, struct kmip_error *err)
{
	if (len > 0 && RAND_priv_bytes(buf, (int)len) != 1) {
		ERR_clear_error();
		return kmip_error_set(err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "random generator failed");
	}
	return 0;
}

/* XOR: parts - 1 random shares and the XOR of the secret with them. */
static int
split_xor(const struct splitkey_params *p, const uint8_t *secret, size_t len, uint8_t *out, struct kmip_error *err)
{
	uint8_t *last = out + (size_t)(p->parts - 1) * len;
	unsigned i;

	if (random_bytes(out, (size_t)(p->parts - 1) * len, err) != 0)
		return -1;
	memcpy(last, secret, len);
	for (i = 0; i + 1 < p->parts; i++)
		for (size_t b = 0; b < len; b++)
			last[b] ^= out[(size_t)i * len + b];
	return 0;
}

/*
 * GF(2^8) and GF(2^16): for each field element of the secret, a polynomial of degree threshold - 1 with that
 * element as its constant term and random others, evaluated at each Key Part Identifier by Horner's rule,
 * eight bytes at a time. coef holds the random coefficients of every element, (threshold - 1) x len bytes,
 * wiped by the caller. The accumulator ends as the share itself (which is written out).
 */
static void
split_gf(const struct splitkey_params *p, const uint8_t *secret, size_t len, const uint8_t *coef, uint8_t *out)
{
	bool wide = p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16;
	unsigned i, j, t = p->threshold;
	size_t b, n;

	for (i = 0; i < p->parts; i++) {
		uint8_t *share = out + (size_t)i * len;
		struct gf16 x16 = gf16_of(i + 1);

		for (b = 0; b < len; b += 8) {
			uint64_t acc;

			n = len - b < 8 ? len - b : 8;
			acc = load8(coef + (size_t)(t - 2) * len + b, n);
			for (j = t - 1; j-- > 0;) {
				uint64_t c = load8(j == 0 ? secret + b : coef + (size_t)(j - 1) * len + b, n);

				acc = (wide ? gf16_mul8(acc, x16) : gf8_mul8(acc, (uint8_t)(i + 1))) ^ c;
			}
			store8(share + b, acc, n);
		}
	}
}

/* A new BIGNUM for secret values: constant-time operations, wiped when freed (BN_clear_free). */
static BIGNUM *
secret_bn(void)
{
	BIGNUM *b = BN_secure_new();

	if (b != NULL)
		BN_set_flags(b, BN_FLG_CONSTTIME);
	return b;
}

/* Prime Field: Shamir's scheme over the integers mod p, Horner's rule with public points. */
static int
split_prime(const struct splitkey_params *p, const uint8_t *secret, size_t len, uint8_t *out, size_t share_len,
    struct kmip_error *err)
{
	BN_CTX *bctx = BN_CTX_secure_new();
	BIGNUM *prime = BN_bin2bn(p->prime, (int)p->prime_len, NULL), *x = BN_new();
	BIGNUM **coef = calloc(p->threshold, sizeof(*coef)), *acc = secret_bn();
	unsigned i, j;
	int rc = -1;

	if (bctx == NULL || prime == NULL || x == NULL || coef == NULL || acc == NULL)
		goto nomem;
	for (j = 0; j < p->threshold; j++)
		if ((coef[j] = secret_bn()) == NULL)
			goto nomem;
	if (BN_bin2bn(secret, (int)len, coef[0]) == NULL)
		goto nomem;
	for (j = 1; j < p->threshold; j++)
		if (BN_priv_rand_range(coef[j], prime) != 1)
			goto crypto;
	for (i = 0; i < p->parts; i++) {
		if (BN_set_word(x, i + 1) != 1 || BN_copy(acc, coef[p->threshold - 1]) == NULL)
			goto crypto;
		for (j = p->threshold - 1; j-- > 0;)
			if (BN_mod_mul(acc, acc, x, prime, bctx) != 1 || BN_mod_add(acc, acc, coef[j], prime, bctx) != 1)
				goto crypto;
		if (BN_bn2binpad(acc, out + (size_t)i * share_len, (int)share_len) < 0)
			goto crypto;
	}
	rc = 0;
	goto out;
nomem:
	kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	goto out;
crypto:
	kmip_error_set(err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "prime field arithmetic failed");
out:
	ERR_clear_error();
	for (j = 0; coef != NULL && j < p->threshold; j++)
		BN_clear_free(coef[j]);
	free(coef);
	BN_clear_free(acc);
	BN_free(x);
	BN_free(prime);
	BN_CTX_free(bctx);
	return rc;
}

/* Splits a secret; see splitkey.h. */
int
splitkey_split(const struct splitkey_params *p, const uint8_t *secret, size_t len, uint8_t *out,
    struct kmip_error *err)
{
	size_t ncoef;
	uint8_t *coef;
	int rc;

	if (splitkey_check(p, len, err) != 0)
		return -1;
	switch (p->method) {
	case KMIP_SPLIT_KEY_METHOD_XOR:
		return split_xor(p, secret, len, out, err);
	case KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD:
		return split_prime(p, secret, len, out, splitkey_share_len(p, len), err);
	default:
		break;
	}
	ncoef = (size_t)(p->threshold - 1) * len;	/* bounded by SPLITKEY_MAX_WORK */
	if ((coef = OPENSSL_secure_malloc(ncoef)) == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	if ((rc = random_bytes(coef, ncoef, err)) == 0)
		split_gf(p, secret, len, coef, out);
	OPENSSL_secure_clear_free(coef, ncoef);
	return rc;
}

/* Checks the Key Part Identifiers of a join: distinct, from 1 to parts. */
static int
check_points(const struct splitkey_params *p, const unsigned *xs, size_t k, struct kmip_error *err)
{
	size_t i, j;

	for (i = 0; i < k; i++) {
		if (xs[i] < 1 || xs[i] > p->parts)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Key Part Identifier %u is not "
			    "between 1 and Split Key Parts (%u)", xs[i], p->parts);
		for (j = 0; j < i; j++)
			if (xs[j] == xs[i])
				return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Key Part Identifier %u is "
				    "given twice", xs[i]);
	}
	return 0;
}

/* Lagrange coefficient of point i at 0 over the first t points, GF(2^8) (public values only). */
static uint8_t
lagrange8(const unsigned *xs, unsigned t, unsigned i)
{
	uint8_t num = 1, den = 1;
	unsigned j;

	for (j = 0; j < t; j++) {
		if (j == i)
			continue;
		num = gf8_mul(num, (uint8_t)xs[j]);
		den = gf8_mul(den, (uint8_t)(xs[j] ^ xs[i]));
	}
	return gf8_mul(num, gf8_inv(den));
}

/* Lagrange coefficient of point i at 0 over the first t points, GF(2^16) (public values only). */
static struct gf16
lagrange16(const unsigned *xs, unsigned t, unsigned i)
{
	struct gf16 num = { 0, 1 }, den = { 0, 1 };
	unsigned j;

	for (j = 0; j < t; j++) {
		if (j == i)
			continue;
		num = gf16_mul(num, gf16_of(xs[j]));
		den = gf16_mul(den, gf16_of(xs[j] ^ xs[i]));
	}
	return gf16_mul(num, gf16_inv(den));
}

/* Prime Field join: the sum of y_i times the public Lagrange coefficients, mod p. */
static int
join_prime(const struct splitkey_params *p, const unsigned *xs, const uint8_t *const *shares, size_t share_len,
    uint8_t *secret, size_t len, struct kmip_error *err)
{
	BN_CTX *bctx = BN_CTX_secure_new();
	BIGNUM *prime = BN_bin2bn(p->prime, (int)p->prime_len, NULL), *num = BN_new(), *den = BN_new();
	BIGNUM *t = BN_new(), *y = secret_bn(), *sum = secret_bn();
	unsigned i, j, n = p->threshold;
	int rc = -1;

	if (bctx == NULL || prime == NULL || num == NULL || den == NULL || t == NULL || y == NULL || sum == NULL)
		goto nomem;
	BN_zero(sum);
	for (i = 0; i < n; i++) {
		if (!BN_one(num) || !BN_one(den))
			goto crypto;
		for (j = 0; j < n; j++) {
			if (j == i)
				continue;
			/* x_j / (x_j - x_i), the points being small integers below p. */
			if (!BN_set_word(t, xs[j]) || !BN_mod_mul(num, num, t, prime, bctx) ||
			    !BN_set_word(t, xs[j]) || !BN_sub_word(t, xs[i]) || !BN_nnmod(t, t, prime, bctx) ||
			    !BN_mod_mul(den, den, t, prime, bctx))
				goto crypto;
		}
		if (BN_mod_inverse(den, den, prime, bctx) == NULL || !BN_mod_mul(num, num, den, prime, bctx))
			goto crypto;
		if (BN_bin2bn(shares[i], (int)share_len, y) == NULL || BN_cmp(y, prime) >= 0) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "a part's value is not below the Prime "
			    "Field Size");
			goto out;
		}
		if (!BN_mod_mul(y, y, num, prime, bctx) || !BN_mod_add(sum, sum, y, prime, bctx))
			goto crypto;
	}
	if (BN_bn2binpad(sum, secret, (int)len) < 0) {
		kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "the parts do not join into a secret of %zu "
		    "bytes: they are not parts of one secret", len);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	goto out;
crypto:
	kmip_error_set(err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "prime field arithmetic failed");
out:
	ERR_clear_error();
	BN_clear_free(y);
	BN_clear_free(sum);
	BN_free(t);
	BN_free(num);
	BN_free(den);
	BN_free(prime);
	BN_CTX_free(bctx);
	return rc;
}

/* Joins shares; see splitkey.h. */
int
splitkey_join(const struct splitkey_params *p, const unsigned *xs, const uint8_t *const *shares, size_t k,
    size_t share_len, uint8_t *secret, size_t len, struct kmip_error *err)
{
	unsigned i, t = p->threshold;
	size_t b;

	if (splitkey_check(p, 0, err) != 0 || check_points(p, xs, k, err) != 0)
		return -1;
	if (k < t)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "%zu parts given; joining needs the Split "
		    "Key Threshold, %u", k, t);
	if (p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD)
		return join_prime(p, xs, shares, share_len, secret, len, err);
	if (share_len != len || len > SPLITKEY_MAX_SECRET || (size_t)t * len > SPLITKEY_MAX_WORK ||
	    (p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16 && len % 2 != 0))
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "parts of %zu bytes cannot join into a "
		    "secret of %zu", share_len, len);
	memset(secret, 0, len);
	switch (p->method) {
	case KMIP_SPLIT_KEY_METHOD_XOR:
		for (i = 0; i < t; i++)
			for (b = 0; b < len; b++)
				secret[b] ^= shares[i][b];
		break;
	default: {
		/* The sum of each part times its public Lagrange coefficient, eight bytes at a time. */
		bool wide = p->method == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16;
		uint64_t w = 0;

		for (i = 0; i < t; i++) {
			uint8_t l8 = wide ? 0 : lagrange8(xs, t, i);
			struct gf16 l16 = { 0, 0 };
			size_t n;

			if (wide)
				l16 = lagrange16(xs, t, i);
			for (b = 0; b < len; b += 8) {
				n = len - b < 8 ? len - b : 8;
				w = load8(shares[i] + b, n);
				w = load8(secret + b, n) ^ (wide ? gf16_mul8(w, l16) : gf8_mul8(w, l8));
				store8(secret + b, w, n);
			}
		}
		/* Not a dead store the compiler may drop: no part of the secret stays on the stack. */
		OPENSSL_cleanse(&w, sizeof(w));
		break;
	}
	}
	return 0;
}
