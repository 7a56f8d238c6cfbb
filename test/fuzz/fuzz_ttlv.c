/*
 * libFuzzer target for the TTLV decoder. The first input byte chooses how the rest is split into feeds, so
 * the fuzzer explores the state machine's resumption points as well as the bytes. Every decoded tree is
 * re-encoded and decoded again, and must come back equal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/ttlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ttlv_limits lim = { .max_message_size = 64 * 1024, .max_depth = 16 };
	struct ttlv_decoder *d;
	size_t chunk, off = 0, used;
	enum ttlv_status st = TTLV_NEED_MORE;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++, size--;
	if ((d = ttlv_decoder_new(&lim)) == NULL)
		abort();
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		st = ttlv_decoder_feed(d, data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (st == TTLV_ERROR)
			break;
		if (st == TTLV_DONE) {
			struct ttlv_arena *a, *b;
			struct ttlv *t = ttlv_decoder_take(d, &a), *u;
			struct ttlv_enc e;
			enum ttlv_err err;

			ttlv_enc_init(&e);
			ttlv_enc_item(&e, t);
			if (ttlv_enc_finish(&e) != 0)
				abort();
			if (ttlv_decode(e.buf, e.len, &lim, &u, &b, &err, NULL) != TTLV_DONE)
				abort();
			if (!ttlv_equal(t, u))
				abort();
			ttlv_arena_free(b);
			ttlv_enc_free(&e);
			ttlv_arena_free(a);
		}
	}
	ttlv_decoder_free(d);
	return 0;
}
