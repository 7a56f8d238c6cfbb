/*
 * SipHash-2-4 (Aumasson and Bernstein), as the reference implementation computes it; see siphash.h.
 */
#include <sys/types.h>
#include <sys/random.h>

#include "core/siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* See siphash.h. */
uint64_t
siphash24(const uint64_t k[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k[0], v1 = UINT64_C(0x646f72616e646f6d) ^ k[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k[0], v3 = UINT64_C(0x7465646279746573) ^ k[1];
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, whole = len - len % 8;
	int j;

	for (i = 0; i < whole; i += 8) {
		m = 0;
		for (j = 7; j >= 0; j--)
			m = (m << 8) | p[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* The last 0-7 bytes go into the low bytes of the final word, under the length. */
	for (j = (int)(len % 8) - 1; j >= 0; j--)
		b |= (uint64_t)p[whole + (size_t)j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* See siphash.h. */
int
siphash_key(uint64_t k[2])
{
	return getrandom(k, 2 * sizeof(k[0]), 0) == (ssize_t)(2 * sizeof(k[0])) ? 0 : -1;
}
