/*
 * Unit tests for splitkey (the secret sharing of Split Keys): known answers for each field, computed apart
 * from the code under test (a Python model of the fields splitkey.h describes: GF(2^8) modulo
 * x^8+x^4+x^3+x^2+1, GF(2^16) as GF(2^8)[y]/(y^2+y+0x3A), integers modulo 2^130-5); every subset of
 * threshold parts of random splits joining back; the refusals; and the time of the largest split.
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
#include <openssl/rand.h>

#include "core/engine/splitkey.h"
#include "proto/message.h"
#include "proto/names.h"
#include "test/util.h"

#define M(x) KMIP_SPLIT_KEY_METHOD_##x

/* 2^130 - 5, big-endian. */
static const uint8_t prime130[17] = { 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xfb };

/* Joins the shares of points xs (k of them) and compares with want. */
static void
join_expect(const struct splitkey_params *p, const unsigned *xs, const uint8_t *const *shares, size_t k,
    size_t share_len, const uint8_t *want, size_t len)
{
	struct kmip_error err = { 0, "" };
	uint8_t got[64];

	assert_true(len <= sizeof(got));
	if (splitkey_join(p, xs, shares, k, share_len, got, len, &err) != 0)
		fail_msg("join: %s", err.message);
	assert_memory_equal(got, want, len);
}

/* GF(2^8): s + a x with s = 11 ab 00 ff, a = 5c 03 80 01; parts 2 and 3 (and 3 and 1) give s back. */
static void
test_gf8_known(void **state)
{
	static const uint8_t s[4] = { 0x11, 0xab, 0x00, 0xff };
	static const uint8_t y1[4] = { 0x4d, 0xa8, 0x80, 0xfe }, y2[4] = { 0xa9, 0xad, 0x1d, 0xfd },
	    y3[4] = { 0xf5, 0xae, 0x9d, 0xfc };
	struct splitkey_params p = { M(POLYNOMIAL_SHARING_GF_2_8), 3, 2, NULL, 0 };

	(void)state;
	join_expect(&p, (const unsigned[]){ 2, 3 }, (const uint8_t *const[]){ y2, y3 }, 2, 4, s, 4);
	join_expect(&p, (const unsigned[]){ 3, 1 }, (const uint8_t *const[]){ y3, y1 }, 2, 4, s, 4);
}

/* GF(2^16): s = 1234 beef, a = 0f0f 8001; points 1, 2, 3 and 258 (a high byte in the point). */
static void
test_gf16_known(void **state)
{
	static const uint8_t s[4] = { 0x12, 0x34, 0xbe, 0xef };
	static const uint8_t y1[4] = { 0x1d, 0x3b, 0x3e, 0xee }, y2[4] = { 0x0c, 0x2a, 0xa3, 0xed },
	    y3[4] = { 0x03, 0x25, 0x23, 0xec }, y258[4] = { 0x0c, 0x41, 0x22, 0xa1 };
	struct splitkey_params p = { M(POLYNOMIAL_SHARING_GF_2_16), 300, 2, NULL, 0 };

	(void)state;
	join_expect(&p, (const unsigned[]){ 1, 2 }, (const uint8_t *const[]){ y1, y2 }, 2, 4, s, 4);
	join_expect(&p, (const unsigned[]){ 3, 258 }, (const uint8_t *const[]){ y3, y258 }, 2, 4, s, 4);
}

/* Prime field 2^130 - 5: s = 01 02 .. 10, a = 123456789abcdef0 x 2; shares are 17 bytes. */
static void
test_prime_known(void **state)
{
	static const uint8_t s[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t y1[17] = { 0x00, 0x13, 0x36, 0x59, 0x7c, 0x9f, 0xc2, 0xe5, 0xf8, 0x1b, 0x3e, 0x61,
	    0x84, 0xa7, 0xca, 0xee, 0x00 };
	static const uint8_t y3[17] = { 0x00, 0x37, 0x9f, 0x06, 0x6d, 0xd5, 0x3c, 0xa3, 0xd8, 0x3f, 0xa7, 0x0e,
	    0x75, 0xdd, 0x44, 0xab, 0xe0 };
	struct splitkey_params p = { M(POLYNOMIAL_SHARING_PRIME_FIELD), 3, 2, prime130, sizeof(prime130) };

	(void)state;
	join_expect(&p, (const unsigned[]){ 3, 1 }, (const uint8_t *const[]){ y3, y1 }, 2, 17, s, 16);
}

/* Random splits of every method, n and t up to 6: every subset of t parts joins back; the shares differ. */
static void
test_round_trips(void **state)
{
	static const uint32_t methods[] = { M(XOR), M(POLYNOMIAL_SHARING_GF_2_8), M(POLYNOMIAL_SHARING_GF_2_16),
	    M(POLYNOMIAL_SHARING_PRIME_FIELD) };
	struct kmip_error err = { 0, "" };
	uint8_t secret[16], shares[6 * 17];
	size_t m;
	unsigned n, t, mask;

	(void)state;
	for (m = 0; m < 4; m++) {
		for (n = 2; n <= 6; n++) {
			for (t = 2; t <= n; t++) {
				struct splitkey_params p = { methods[m], n, t, NULL, 0 };
				size_t sl;

				if (methods[m] == M(XOR) && t != n)
					continue;
				if (methods[m] == M(POLYNOMIAL_SHARING_PRIME_FIELD)) {
					p.prime = prime130;
					p.prime_len = sizeof(prime130);
				}
				assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
				sl = splitkey_share_len(&p, sizeof(secret));
				if (splitkey_split(&p, secret, sizeof(secret), shares, &err) != 0)
					fail_msg("split: %s", err.message);
				assert_memory_not_equal(shares, shares + sl, sl);
				for (mask = 0; mask < (1u << n); mask++) {
					const uint8_t *sh[6];
					unsigned xs[6], k = 0, i;

					if ((unsigned)__builtin_popcount(mask) != t)
						continue;
					for (i = 0; i < n; i++)
						if (mask & (1u << i)) {
							xs[k] = i + 1;
							sh[k++] = shares + i * sl;
						}
					join_expect(&p, xs, sh, k, sl, secret, sizeof(secret));
				}
			}
		}
	}
}

/* Parameters that cannot work are refused with Invalid Field; too much work with Server Limit Exceeded. */
static void
test_refusals(void **state)
{
	static const uint8_t composite[17] = { 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xfc };
	const struct {
		struct splitkey_params p;
		size_t len;
		uint32_t reason;
	} cases[] = {
		{ { M(XOR), 3, 2, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_8), 3, 1, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_8), 3, 4, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_8), 256, 2, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_16), 3, 2, NULL, 0 }, 15, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_PRIME_FIELD), 3, 2, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_PRIME_FIELD), 3, 2, prime130, sizeof(prime130) }, 17,
		    KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(XOR), 2, 2, prime130, sizeof(prime130) }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { 9, 2, 2, NULL, 0 }, 16, KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_8), 2, 2, NULL, 0 }, SPLITKEY_MAX_SECRET + 1,
		    KMIP_RESULT_REASON_INVALID_FIELD },
		{ { M(POLYNOMIAL_SHARING_GF_2_8), 255, 255, NULL, 0 }, 4096, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kmip_error err = { 0, "" };

		if (splitkey_check(&cases[i].p, cases[i].len, &err) == 0)
			fail_msg("case %zu accepted", i);
		assert_int_equal(err.reason, cases[i].reason);
		assert_true(err.message[0] != '\0');
	}
	{
		/* 2^130 - 4 has the right size and is not prime: only the primality check sees it. */
		struct splitkey_params p = { M(POLYNOMIAL_SHARING_PRIME_FIELD), 3, 2, composite, sizeof(composite) };
		struct kmip_error err = { 0, "" };

		assert_int_equal(splitkey_check(&p, 16, &err), 0);
		assert_int_equal(splitkey_check_prime(&p, &err), -1);
		assert_int_equal(err.reason, KMIP_RESULT_REASON_INVALID_FIELD);
		p.prime = prime130;
		assert_int_equal(splitkey_check_prime(&p, &err), 0);
	}
}

/* Milliseconds since an arbitrary start. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * The most work a split may cost, for each method: printed (the figure splitkey.h quotes) and held under a
 * generous ceiling; and the largest Prime Field Size's primality check.
 */
static void
test_work_bound_time(void **state)
{
	static const uint32_t methods[] = { M(XOR), M(POLYNOMIAL_SHARING_GF_2_8), M(POLYNOMIAL_SHARING_GF_2_16) };
	struct kmip_error err = { 0, "" };
	uint8_t *secret = calloc(1, 4096), *shares = malloc(64u * 4096);
	uint8_t prime[SPLITKEY_PRIME_MAX_BITS / 8];
	size_t m;

	(void)state;
	assert_non_null(secret);
	assert_non_null(shares);
	for (m = 0; m < 3; m++) {
		/* 256 bytes x 64 parts x 64 threshold = SPLITKEY_MAX_WORK */
		struct splitkey_params p = { methods[m], 64, 64, NULL, 0 };
		double t0 = now_ms(), ms;

		if (splitkey_split(&p, secret, 256, shares, &err) != 0)
			fail_msg("split: %s", err.message);
		ms = now_ms() - t0;
		print_message("split of 256 bytes into 64 parts, threshold 64, %s: %.1f ms\n",
		    ttlv_enum_name(KMIP_TAG_SPLIT_KEY_METHOD, methods[m]), ms);
		assert_true(ms < 2000);
	}
	{
		/* A prime of the largest size passes every round of the test: its check is the costliest. */
		struct splitkey_params p = { M(POLYNOMIAL_SHARING_PRIME_FIELD), 3, 2, prime, sizeof(prime) };
		BIGNUM *bn = BN_new();
		double t0, ms;

		assert_non_null(bn);
		assert_int_equal(BN_generate_prime_ex(bn, SPLITKEY_PRIME_MAX_BITS, 0, NULL, NULL, NULL), 1);
		assert_int_equal(BN_bn2binpad(bn, prime, sizeof(prime)), (int)sizeof(prime));
		BN_free(bn);
		t0 = now_ms();
		if (splitkey_check(&p, 16, &err) != 0 || splitkey_check_prime(&p, &err) != 0)
			fail_msg("check: %s", err.message);
		ms = now_ms() - t0;
		print_message("primality check of a %d-bit prime: %.2f ms\n", SPLITKEY_PRIME_MAX_BITS, ms);
		assert_true(ms < 2000);
	}
	free(secret);
	free(shares);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gf8_known),
		cmocka_unit_test(test_gf16_known),
		cmocka_unit_test(test_prime_known),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_work_bound_time),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("splitkey", tests, NULL, NULL);
}
