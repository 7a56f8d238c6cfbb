/*
 * splitkey: the secret sharing of KMIP's Split Key objects (KMIP 1.4 section 2.2.5, 2.1 section 2.2.6), as
 * pure functions over bytes: no store, no I/O, no logging. Create Split Key and Join Split Key (ops_split.c)
 * call them; Register checks a client's Split Key with splitkey_check().
 *
 * The methods, share x being the Key Part Identifier (1..parts):
 *   XOR                      parts - 1 random shares, the last the XOR of the secret and all of them;
 *                            the threshold is the number of parts. Shares are as long as the secret.
 *   Polynomial Sharing GF(2^8)   Shamir's scheme byte by byte in GF(2^8) = GF(2)[x]/(x^8+x^4+x^3+x^2+1);
 *                            shares as long as the secret.
 *   Polynomial Sharing GF(2^16)  Shamir's scheme in GF(2^16) = GF(2^8)[y]/(y^2+y+m), m = x^5+x^4+x^3+x
 *                            (the byte 0x3A), piece by piece of 16 bits (uy+v as the bytes u, v); the secret
 *                            is whole pieces (an even number of bytes); shares as long as the secret.
 *   Polynomial Sharing Prime Field   Shamir's scheme in GF(p), p the Prime Field Size, a prime above
 *                            2^(8 * secret length); the secret is the big-endian integer of its bytes;
 *                            shares are big-endian integers as long as p.
 *
 * Constant time where secrets are involved: a secret field element is only ever added to another or
 * multiplied by a public constant (the evaluation points and the Lagrange coefficients depend on the Key
 * Part Identifiers alone), and that product branches on the constant's bits, never on the secret's; the
 * binary fields work on eight bytes at once in a 64-bit word (no table lookups). The prime field uses OpenSSL's BIGNUMs flagged constant-time (modular multiplication is not strictly so).
 * Random coefficients come from RAND_priv_bytes (or BN_priv_rand_range); every intermediate secret is
 * wiped before return.
 *
 * The work of a split is share length x parts x threshold field operations, all in the loop: bounded below
 * (and the parts by the caller's server.max_split_key_parts).
 */
#ifndef KMIPD_SPLITKEY_H
#define KMIPD_SPLITKEY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/message.h"

/*
 * Largest Prime Field Size, in bits: its primality check (64 Miller-Rabin rounds) runs in the loop and
 * costs about 1.6 ms at 384 bits (4 ms at 521, 17 ms at 1024). A prime field splits secrets of up to 47
 * bytes so (AES-256 keys and shorter); longer ones are split in GF(2^8) or GF(2^16).
 */
#define SPLITKEY_PRIME_MAX_BITS	384
/* Largest secret that is split or joined, in bytes (an RSA-4096 private key's PKCS#8 DER is about 2400). */
#define SPLITKEY_MAX_SECRET	4096
/*
 * Most field operations (share bytes x parts x threshold) one split may cost: 1 to 3 ms on the test machine,
 * eight bytes at a time (test_splitkey prints it). An AES-256 key may be split into 64 parts of threshold 64,
 * an RSA-2048 private key (1218 bytes of PKCS#8) into 29 of 29 or 64 of 13.
 */
#define SPLITKEY_MAX_WORK	(1024u * 1024)

struct splitkey_params {
	uint32_t method;		/* KMIP Split Key Method */
	unsigned parts;			/* Split Key Parts */
	unsigned threshold;		/* Split Key Threshold */
	const uint8_t *prime;		/* Prime Field Size, big-endian (Prime Field only), else NULL */
	size_t prime_len;
};

/*
 * Checks the parameters (a known method, 1 < threshold <= parts, threshold = parts for XOR, parts within
 * the field, a Prime Field Size of at most SPLITKEY_PRIME_MAX_BITS exactly for the Prime Field method) and,
 * when secret_len is not 0, that a secret of that length can be split so (work, length, p > 2^(8 len)).
 * Not whether the Prime Field Size is prime: see splitkey_check_prime. 0, or -1 with err set (Invalid
 * Field; Server Limit Exceeded for the work bound).
 */
int splitkey_check(const struct splitkey_params *p, size_t secret_len, struct kmip_error *err)
    __attribute__((warn_unused_result));
/*
 * Checks that the Prime Field Size of p (checked by splitkey_check) is prime: once, where a client gives
 * it (Create Split Key, Register), not for parts the store holds. 0, or -1 with err set (Invalid Field).
 */
int splitkey_check_prime(const struct splitkey_params *p, struct kmip_error *err)
    __attribute__((warn_unused_result));

/* The length of each share of a secret of secret_len bytes (p checked). */
size_t splitkey_share_len(const struct splitkey_params *p, size_t secret_len);

/*
 * Splits secret into p->parts shares written one after the other in out (p->parts x share_len bytes):
 * share i (from 0) is the one of Key Part Identifier i + 1. 0, or -1 with err set.
 */
int splitkey_split(const struct splitkey_params *p, const uint8_t *secret, size_t secret_len, uint8_t *out,
    struct kmip_error *err) __attribute__((warn_unused_result));

/*
 * Joins k shares (xs: their distinct Key Part Identifiers; shares: share_len bytes each; k >= threshold, the
 * first threshold used; XOR uses them all) into secret (secret_len bytes; for the Prime Field method the
 * integer is written big-endian in that length, and must fit). 0, or -1 with err set.
 */
int splitkey_join(const struct splitkey_params *p, const unsigned *xs, const uint8_t *const *shares, size_t k,
    size_t share_len, uint8_t *secret, size_t secret_len, struct kmip_error *err)
    __attribute__((warn_unused_result));

#endif
