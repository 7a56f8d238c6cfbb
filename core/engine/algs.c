/*
 * The symmetric algorithms whose keys are random bytes, and their key lengths; see algs.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/engine/algs.h"
#include "proto/names.h"

#define A(name) KMIP_CRYPTOGRAPHIC_ALGORITHM_##name
#define ENC (KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT)
#define MAC (KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE | KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_VERIFY)
/* A list of lengths; a range from lo to hi in steps of step. */
#define LIST(...) { __VA_ARGS__ }, 0, 0, 0
#define RANGE(lo, hi, step) { 0 }, lo, hi, step
/*
 * An HMAC key: any whole number of bytes up to ALGS_MAX_BITS, the digest's length by default; quantum safe
 * from 256 bits when the digest has at least 256 (qs 256), never otherwise (qs 0).
 */
#define HMAC(name, dflt, qs) { A(name), RANGE(8, ALGS_MAX_BITS, 8), dflt, 0, MAC, qs, 0 }

/*
 * Lengths are those of each cipher's definition (FIPS 197, RFC 2144, RFC 2268...). Triple DES is three DES
 * keys of 56 bits each, parity bits included in its 24 bytes: KMIP's test cases call it 168 bits, and 192 is
 * accepted for those who count the parity; Create makes no two-key Triple DES (16 bytes, disallowed for
 * encryption by NIST SP 800-131A), but Register keeps one a client brings. DES likewise: 56 or 64 bits, 8
 * bytes. An algorithm of variable length
 * with no bound of its own (HMAC, RC4 to 2048, One Time Pad) stops at ALGS_MAX_BITS.
 *
 * Quantum safe: Grover halves a symmetric key's strength, so a 256-bit key of a modern 128-bit-block cipher
 * (AES, Camellia, ARIA, Twofish) or of ChaCha20 keeps 128 bits; so does an HMAC key of 256 bits over a digest
 * of at least 256. Ciphers with 64-bit blocks or weak keys never are, whatever their length.
 */
static const struct algs_symmetric table[] = {
	{ A(DES), LIST(56, 64), 64, 8, ENC, 0, 0 },
	{ A(3DES), LIST(168, 192), 168, 24, ENC, 0, 16 },
	{ A(AES), LIST(128, 192, 256), 0, 0, ENC, 256, 0 },
	HMAC(HMAC_SHA1, 160, 0),
	HMAC(HMAC_SHA224, 224, 0),
	HMAC(HMAC_SHA256, 256, 256),
	HMAC(HMAC_SHA384, 384, 256),
	HMAC(HMAC_SHA512, 512, 256),
	HMAC(HMAC_MD5, 128, 0),
	{ A(BLOWFISH), RANGE(32, 448, 8), 128, 0, ENC, 0, 0 },
	{ A(CAMELLIA), LIST(128, 192, 256), 0, 0, ENC, 256, 0 },
	{ A(CAST5), RANGE(40, 128, 8), 128, 0, ENC, 0, 0 },
	{ A(IDEA), LIST(128), 128, 0, ENC, 0, 0 },
	{ A(MARS), RANGE(128, 448, 32), 0, 0, ENC, 0, 0 },
	{ A(RC2), RANGE(8, 1024, 8), 128, 0, ENC, 0, 0 },
	{ A(RC4), RANGE(40, 2048, 8), 128, 0, ENC, 0, 0 },
	{ A(RC5), RANGE(8, 2040, 8), 128, 0, ENC, 0, 0 },
	{ A(SKIPJACK), LIST(80), 80, 0, ENC, 0, 0 },
	{ A(TWOFISH), LIST(128, 192, 256), 0, 0, ENC, 256, 0 },
	{ A(ONE_TIME_PAD), RANGE(8, ALGS_MAX_BITS, 8), 0, 0, ENC, 0, 0 },
	{ A(CHACHA20), LIST(256), 256, 0, ENC, 256, 0 },
	{ A(POLY1305), LIST(256), 256, 0, MAC, 0, 0 },
	{ A(CHACHA20POLY1305), LIST(256), 256, 0, ENC, 256, 0 },
	HMAC(HMAC_SHA3_224, 224, 0),
	HMAC(HMAC_SHA3_256, 256, 256),
	HMAC(HMAC_SHA3_384, 384, 256),
	HMAC(HMAC_SHA3_512, 512, 256),
	{ A(ARIA), LIST(128, 192, 256), 0, 0, ENC, 256, 0 },
	{ A(SEED), LIST(128), 128, 0, ENC, 0, 0 },
	{ A(SM4), LIST(128), 128, 0, ENC, 0, 0 },
	/* GOST R 34.12-2015's ciphers (Kuznyechik, Magma) as 34.13 uses them, and GOST 28147-89: 256-bit keys. */
	{ A(GOST_R_34_13_2015), LIST(256), 256, 0, ENC, 0, 0 },
	{ A(GOST_28147_89), LIST(256), 256, 0, ENC, 0, 0 },
};

#define NROWS (sizeof(table) / sizeof(table[0]))

/* Returns the row of alg, or NULL. */
const struct algs_symmetric *
algs_symmetric(uint32_t alg)
{
	size_t i;

	for (i = 0; i < NROWS; i++)
		if (table[i].alg == alg)
			return &table[i];
	return NULL;
}

/* Returns row i, or NULL past the last. */
const struct algs_symmetric *
algs_symmetric_row(size_t i)
{
	return i < NROWS ? &table[i] : NULL;
}

/* True when a allows bits. */
static bool
allows(const struct algs_symmetric *a, int32_t bits)
{
	size_t i;

	if (a->lengths[0] == 0)
		return bits >= a->min_bits && bits <= a->max_bits && (bits - a->min_bits) % a->step_bits == 0;
	for (i = 0; i < sizeof(a->lengths) / sizeof(a->lengths[0]) && a->lengths[i] != 0; i++)
		if (a->lengths[i] == bits)
			return true;
	return false;
}

/* Returns the bytes of a key of bits bits of a, or 0 when a does not allow bits. */
size_t
algs_key_bytes(const struct algs_symmetric *a, int32_t bits)
{
	if (a == NULL || bits <= 0 || bits % 8 != 0 || !allows(a, bits))
		return 0;
	return a->key_bytes != 0 ? a->key_bytes : (size_t)bits / 8;
}

/* Returns true when len bytes are a key of a: some allowed length has that many bytes. */
bool
algs_bytes_ok(const struct algs_symmetric *a, size_t len)
{
	if (a == NULL || len == 0 || len > ALGS_MAX_BITS / 8)
		return false;
	if (a->also_bytes != 0 && len == a->also_bytes)
		return true;
	if (a->key_bytes != 0)
		return len == a->key_bytes;
	return allows(a, (int32_t)len * 8);
}

/* Writes the lengths of a in words into buf; returns buf. */
const char *
algs_describe(const struct algs_symmetric *a, char *buf, size_t size)
{
	size_t i, n = 0, used = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (a->lengths[0] == 0) {
		snprintf(buf, size, "%d to %d bits in steps of %d", a->min_bits, a->max_bits, a->step_bits);
		return buf;
	}
	while (n < sizeof(a->lengths) / sizeof(a->lengths[0]) && a->lengths[n] != 0)
		n++;
	for (i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%d", i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    a->lengths[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used < size)
		snprintf(buf + used, size - used, " bits");
	return buf;
}
