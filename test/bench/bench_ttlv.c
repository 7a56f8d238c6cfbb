/*
 * Micro-benchmark of the TTLV codec: decode and encode of a KMIP 1.4 Get request and of a Get response
 * carrying an RSA-2048 private key (PKCS#1 DER, 1192 bytes). Prints messages per second as the median of
 * several timed rounds. Not a test: figures depend on the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/ttlv.h"
#include "test/util.h"

#define ROUNDS 7

/* Writes a Get request (with_key false) or a Get response with a private key (true) into e. */
static void
build(struct ttlv_enc *e, bool with_key)
{
	static uint8_t key[1192];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 31 + 7);
	ttlv_enc_begin(e, with_key ? 0x42007B : 0x420078);
	ttlv_enc_begin(e, with_key ? 0x42007A : 0x420077);
	ttlv_enc_begin(e, 0x420069);
	ttlv_enc_int(e, 0x42006A, 1);
	ttlv_enc_int(e, 0x42006B, 4);
	ttlv_enc_end(e);
	if (with_key)
		ttlv_enc_datetime(e, 0x420092, 1700000000);
	ttlv_enc_int(e, 0x42000D, 1);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, 0x42000F);
	ttlv_enc_enum(e, 0x42005C, 0x0A);
	if (!with_key) {
		ttlv_enc_begin(e, 0x420079);
		ttlv_enc_cstr(e, 0x420094, "1048576");
		ttlv_enc_enum(e, 0x420042, 3);
		ttlv_enc_end(e);
	} else {
		ttlv_enc_enum(e, 0x42007F, 0);
		ttlv_enc_begin(e, 0x42007C);
		ttlv_enc_enum(e, 0x420057, 4);
		ttlv_enc_cstr(e, 0x420094, "1048576");
		ttlv_enc_begin(e, 0x420064);
		ttlv_enc_begin(e, 0x420040);
		ttlv_enc_enum(e, 0x420042, 3);
		ttlv_enc_begin(e, 0x420045);
		ttlv_enc_bytes(e, 0x420043, key, sizeof(key));
		ttlv_enc_end(e);
		ttlv_enc_enum(e, 0x420028, 4);
		ttlv_enc_int(e, 0x42002A, 2048);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

/* Returns the median messages per second of decoding msg n times per round. */
static double
bench_decode(const uint8_t *msg, size_t len, long n)
{
	struct ttlv_decoder *d = ttlv_decoder_new(NULL);
	double rates[ROUNDS];
	int r;
	long i;

	for (r = 0; r < ROUNDS; r++) {
		double t0 = util_now();

		for (i = 0; i < n; i++) {
			struct ttlv_arena *a;
			size_t used;

			if (ttlv_decoder_feed(d, msg, len, &used) != TTLV_DONE)
				abort();
			(void)ttlv_decoder_take(d, &a);
			ttlv_arena_free(a);
		}
		rates[r] = n / (util_now() - t0);
	}
	ttlv_decoder_free(d);
	util_sort_doubles(rates, ROUNDS);
	return rates[ROUNDS / 2];
}

/* Returns the median messages per second of encoding the message n times per round, reusing one buffer. */
static double
bench_encode(bool with_key, long n)
{
	struct ttlv_enc e;
	double rates[ROUNDS];
	int r;
	long i;

	ttlv_enc_init(&e);
	for (r = 0; r < ROUNDS; r++) {
		double t0 = util_now();

		for (i = 0; i < n; i++) {
			ttlv_enc_reset(&e);
			build(&e, with_key);
			if (ttlv_enc_finish(&e) != 0)
				abort();
		}
		rates[r] = n / (util_now() - t0);
	}
	ttlv_enc_free(&e);
	util_sort_doubles(rates, ROUNDS);
	return rates[ROUNDS / 2];
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct ttlv_enc req, resp;

	ttlv_enc_init(&req);
	ttlv_enc_init(&resp);
	build(&req, false);
	build(&resp, true);
	if (ttlv_enc_finish(&req) != 0 || ttlv_enc_finish(&resp) != 0)
		abort();
	printf("%-44s %8s %14s\n", "TTLV codec (median of 7 rounds)", "bytes", "messages/s");
	printf("%-44s %8zu %14.0f\n", "decode Get request", req.len, bench_decode(req.buf, req.len, n));
	printf("%-44s %8zu %14.0f\n", "encode Get request", req.len, bench_encode(false, n));
	printf("%-44s %8zu %14.0f\n", "decode Get response, RSA-2048 private key", resp.len,
	    bench_decode(resp.buf, resp.len, n));
	printf("%-44s %8zu %14.0f\n", "encode Get response, RSA-2048 private key", resp.len,
	    bench_encode(true, n));
	ttlv_enc_free(&req);
	ttlv_enc_free(&resp);
	return 0;
}
