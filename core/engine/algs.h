/*
 * algs: the symmetric algorithms of the KMIP Cryptographic Algorithm enumeration whose keys are random bytes,
 * with the key lengths each allows. One table that Create (what it makes), Re-key (the replacement's bytes),
 * Register (the lengths it accepts) and Query (what the server lists) read; an algorithm that is not in it
 * (RSA, DSA, the EC family, DH, the hashes...) is not a random-bytes key. Pure: no I/O, no state.
 *
 * Symbol prefix: algs_.
 */
#ifndef KMIPD_ALGS_H
#define KMIPD_ALGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest key of an algorithm with an open range (HMAC, RC4, One Time Pad), and of Secret Data Create. */
#define ALGS_MAX_BITS		4096

/* One algorithm: its lengths in bits, a list or a range, and what Create gives a key without them. */
struct algs_symmetric {
	uint32_t alg;			/* KMIP Cryptographic Algorithm */
	int32_t lengths[4];		/* the lengths allowed (0-terminated), or none: the range below */
	int32_t min_bits, max_bits, step_bits;	/* the range, when lengths[0] is 0 */
	int32_t default_bits;		/* Create without a Cryptographic Length (0: it must be given) */
	uint32_t key_bytes;		/* bytes of every key whatever its length in bits (3DES), else 0: bits / 8 */
	uint32_t mask;			/* Cryptographic Usage Mask of a created key when the client gives none */
	int32_t quantum_bits;		/* from this length on a key is Quantum Safe (0: never) */
	uint32_t also_bytes;		/* another size of key Register keeps (two-key Triple DES: 16), else 0 */
};

/* The row of alg, or NULL when its keys are not random bytes (or kmipd does not know it). */
const struct algs_symmetric *algs_symmetric(uint32_t alg);
/* Row i of the table, or NULL past the last: for Query and tests. */
const struct algs_symmetric *algs_symmetric_row(size_t i);
/*
 * The number of key bytes a key of bits bits of algorithm a has: 0 when a does not allow that length.
 */
size_t algs_key_bytes(const struct algs_symmetric *a, int32_t bits);
/* True when len bytes of material are a key of algorithm a (Register): some length's bytes, or also_bytes. */
bool algs_bytes_ok(const struct algs_symmetric *a, size_t len);
/* The lengths a allows in words ("128, 192 or 256", "32 to 448 in steps of 8"), for a Result Message. */
const char *algs_describe(const struct algs_symmetric *a, char *buf, size_t size);

#endif
