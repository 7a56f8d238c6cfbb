/*
 * Unit tests for algs: the table of random-bytes algorithms is consistent (one row per algorithm, defaults
 * among the allowed lengths, nothing past ALGS_MAX_BITS), the key bytes of each length, Register's byte
 * check, the words of the Result Message, and algorithms that are not random bytes staying out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine/algs.h"
#include "proto/names.h"
#include "test/util.h"

#define ALG(name) KMIP_CRYPTOGRAPHIC_ALGORITHM_##name

/* Every row: its algorithm once, a list or a range that fits, a default it allows, a mask. */
static void
test_table_consistent(void **state)
{
	const struct algs_symmetric *a, *b;
	size_t i, j;

	(void)state;
	for (i = 0; (a = algs_symmetric_row(i)) != NULL; i++) {
		assert_ptr_equal(algs_symmetric(a->alg), a);
		for (j = 0; j < i; j++) {
			b = algs_symmetric_row(j);
			assert_int_not_equal(a->alg, b->alg);
		}
		if (a->lengths[0] == 0) {
			assert_true(a->min_bits >= 8 && a->min_bits % 8 == 0);
			assert_true(a->max_bits >= a->min_bits && a->max_bits <= ALGS_MAX_BITS);
			assert_true(a->step_bits > 0 && a->step_bits % 8 == 0);
			assert_int_equal((a->max_bits - a->min_bits) % a->step_bits, 0);
		} else {
			for (j = 0; j < 4 && a->lengths[j] != 0; j++)
				assert_true(a->lengths[j] > 0 && a->lengths[j] <= ALGS_MAX_BITS && a->lengths[j] % 8 == 0);
		}
		if (a->default_bits != 0)
			assert_true(algs_key_bytes(a, a->default_bits) > 0);
		/* Quantum safe from a length the algorithm has, and never below 256 bits. */
		if (a->quantum_bits != 0)
			assert_true(a->quantum_bits >= 256 && algs_key_bytes(a, a->quantum_bits) > 0);
		assert_int_not_equal(a->mask, 0);
	}
	assert_true(i >= 30);
	assert_null(algs_symmetric_row(i));
}

/* Lengths to key bytes: Triple DES's 168 bits are 24 bytes; a length an algorithm does not have is 0. */
static void
test_key_bytes(void **state)
{
	static const struct {
		uint32_t alg;
		int32_t bits;
		size_t bytes;
	} cases[] = {
		{ ALG(AES), 128, 16 }, { ALG(AES), 256, 32 }, { ALG(AES), 160, 0 }, { ALG(AES), 0, 0 }, { ALG(AES), -128, 0 },
		{ ALG(3DES), 168, 24 }, { ALG(3DES), 192, 24 }, { ALG(3DES), 112, 0 }, { ALG(DES), 64, 8 }, { ALG(DES), 56, 8 }, { ALG(DES), 48, 0 },
		{ ALG(BLOWFISH), 32, 4 }, { ALG(BLOWFISH), 448, 56 }, { ALG(BLOWFISH), 456, 0 }, { ALG(BLOWFISH), 36, 0 },
		{ ALG(CAST5), 40, 5 }, { ALG(CAST5), 136, 0 }, { ALG(MARS), 160, 20 }, { ALG(MARS), 136, 0 },
		{ ALG(HMAC_SHA256), 8, 1 }, { ALG(HMAC_SHA256), ALGS_MAX_BITS, ALGS_MAX_BITS / 8 },
		{ ALG(HMAC_SHA256), ALGS_MAX_BITS + 8, 0 }, { ALG(HMAC_SHA256), 12, 0 }, { ALG(HMAC_SHA256), INT32_MAX, 0 },
		{ ALG(SKIPJACK), 80, 10 }, { ALG(CHACHA20), 256, 32 }, { ALG(CHACHA20), 128, 0 }, { ALG(SM4), 128, 16 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(algs_key_bytes(algs_symmetric(cases[i].alg), cases[i].bits), cases[i].bytes);
	assert_int_equal(algs_key_bytes(NULL, 128), 0);
}

/* Register's check: the bytes of some allowed length; Triple DES 24, or 16 (two keys). */
static void
test_bytes_ok(void **state)
{
	(void)state;
	assert_true(algs_bytes_ok(algs_symmetric(ALG(AES)), 16));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(AES)), 20));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(AES)), 0));
	assert_true(algs_bytes_ok(algs_symmetric(ALG(3DES)), 24));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(3DES)), 21));
	assert_true(algs_bytes_ok(algs_symmetric(ALG(3DES)), 16));	/* two-key, kept, never made */
	assert_true(algs_bytes_ok(algs_symmetric(ALG(RC4)), 256));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(RC4)), 257));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(HMAC_SHA1)), ALGS_MAX_BITS / 8 + 1));
	assert_false(algs_bytes_ok(algs_symmetric(ALG(HMAC_SHA1)), SIZE_MAX));
	assert_false(algs_bytes_ok(NULL, 16));
}

/* The words of a Result Message, and what a short buffer keeps. */
static void
test_describe(void **state)
{
	char buf[96], small[8];

	(void)state;
	assert_string_equal(algs_describe(algs_symmetric(ALG(AES)), buf, sizeof(buf)), "128, 192 or 256 bits");
	assert_string_equal(algs_describe(algs_symmetric(ALG(3DES)), buf, sizeof(buf)), "168 or 192 bits");
	assert_string_equal(algs_describe(algs_symmetric(ALG(IDEA)), buf, sizeof(buf)), "128 bits");
	assert_string_equal(algs_describe(algs_symmetric(ALG(BLOWFISH)), buf, sizeof(buf)),
	    "32 to 448 bits in steps of 8");
	assert_string_equal(algs_describe(algs_symmetric(ALG(AES)), small, sizeof(small)), "128, 19");
}

/* Key pairs, hashes and what the enumeration does not have are not random-bytes keys. */
static void
test_not_random_bytes(void **state)
{
	static const uint32_t none[] = { ALG(RSA), ALG(DSA), ALG(ECDSA), ALG(DH), ALG(ECDH), ALG(ECMQV), ALG(EC),
	    ALG(SHA3_256), ALG(SHAKE_128), ALG(SM2), ALG(SM3), ALG(ED25519), ALG(ED448), ALG(XMSS), 0, 0xffffffff };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_null(algs_symmetric(none[i]));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_consistent),
		cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_bytes_ok),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_not_random_bytes),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests_name("algs", tests, NULL, NULL);
}
