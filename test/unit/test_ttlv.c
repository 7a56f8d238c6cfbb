/*
 * Unit tests for the TTLV codec: the KMIP 1.4 specification examples, round trips of whole messages, every
 * split point, and one test per rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/ttlv.h"
#include "test/util.h"

struct example {
	char name[64];
	uint8_t bytes[256];
	size_t len;
};

/* Returns the value of hex digit c, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a compact hex string into out; returns its length. */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] != '\0' && s[1] != '\0' && hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
		assert_true(n < cap);
		out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
		s += 2;
	}
	return n;
}

/* Reads the section 9.1.2 examples from the vectors folder; the test fails if the file is missing. */
static size_t
load_examples(struct example *ex, size_t max)
{
	const char *dir = getenv("KMIP_VECTORS");
	char path[512], line[1024];
	size_t n = 0;
	FILE *f;

	if (dir == NULL)
		dir = "../shared/kmip-vectors";
	snprintf(path, sizeof(path), "%s/ttlv-hex/spec-v1.4-section-9.1.2-examples.tsv", dir);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s (set KMIP_VECTORS)", path);
	while (fgets(line, sizeof(line), f) != NULL && n < max) {
		char *name, *pretty, *compact, *save;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		name = strtok_r(line, "\t", &save);
		pretty = strtok_r(NULL, "\t", &save);
		compact = strtok_r(NULL, "\t\n", &save);
		assert_non_null(pretty);
		assert_non_null(compact);
		snprintf(ex[n].name, sizeof(ex[n].name), "%s", name);
		ex[n].len = unhex(compact, ex[n].bytes, sizeof(ex[n].bytes));
		n++;
	}
	fclose(f);
	return n;
}

static const struct ttlv_limits any_top = { .any_toplevel = true };

/* Decodes a whole buffer that must be valid and returns its root (arena in *a). */
static struct ttlv *
must_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *lim, struct ttlv_arena **a)
{
	struct ttlv *root;
	enum ttlv_err err;
	uint64_t off;

	if (ttlv_decode(buf, len, lim, &root, a, &err, &off) != TTLV_DONE)
		fail_msg("decode failed: %s at %llu", ttlv_err_str(err), (unsigned long long)off);
	assert_non_null(root);
	return root;
}

/* Encodes an item and asserts the output equals want. */
static void
assert_encodes_to(const struct ttlv *t, const uint8_t *want, size_t len)
{
	struct ttlv_enc e;

	ttlv_enc_init(&e);
	ttlv_enc_item(&e, t);
	assert_int_equal(ttlv_enc_finish(&e), 0);
	assert_int_equal(e.len, len);
	assert_memory_equal(e.buf, want, len);
	ttlv_enc_free(&e);
}

static void
test_spec_examples(void **state)
{
	struct example ex[16];
	size_t n, i;

	(void)state;
	n = load_examples(ex, 16);
	assert_int_equal(n, 10);
	for (i = 0; i < n; i++) {
		struct ttlv_arena *a;
		struct ttlv *t = must_decode(ex[i].bytes, ex[i].len, &any_top, &a);
		const char *name = ex[i].name;

		assert_int_equal(t->tag, 0x420020);
		if (strcmp(name, "integer_8") == 0) {
			assert_int_equal(t->type, TTLV_INTEGER);
			assert_int_equal(t->v.i32, 8);
		} else if (strcmp(name, "long_integer_123456789000000000") == 0) {
			assert_int_equal(t->type, TTLV_LONG_INTEGER);
			assert_true(t->v.i64 == 123456789000000000LL);
		} else if (strcmp(name, "big_integer_1234567890000000000000000000") == 0) {
			static const uint8_t want[16] = { 0, 0, 0, 0, 0x03, 0xfd, 0x35, 0xeb, 0x6b, 0xc2, 0xdf,
			    0x46, 0x18, 0x08, 0, 0 };
			assert_int_equal(t->type, TTLV_BIG_INTEGER);
			assert_int_equal(t->length, 16);
			assert_memory_equal(t->v.bytes.data, want, 16);
		} else if (strcmp(name, "enumeration_255") == 0) {
			assert_int_equal(t->type, TTLV_ENUMERATION);
			assert_int_equal(t->v.u32, 255);
		} else if (strcmp(name, "boolean_true") == 0) {
			assert_int_equal(t->type, TTLV_BOOLEAN);
			assert_true(t->v.b);
		} else if (strcmp(name, "text_string_Hello_World") == 0) {
			assert_int_equal(t->type, TTLV_TEXT_STRING);
			assert_int_equal(t->length, 11);
			assert_string_equal((const char *)t->v.bytes.data, "Hello World");
		} else if (strcmp(name, "byte_string_010203") == 0) {
			assert_int_equal(t->type, TTLV_BYTE_STRING);
			assert_int_equal(t->length, 3);
			assert_memory_equal(t->v.bytes.data, "\x01\x02\x03", 3);
		} else if (strcmp(name, "date_time_2008-03-14T11:56:40Z") == 0) {
			assert_int_equal(t->type, TTLV_DATE_TIME);
			assert_true(t->v.i64 == 1205495800);
		} else if (strcmp(name, "interval_10_days") == 0) {
			assert_int_equal(t->type, TTLV_INTERVAL);
			assert_int_equal(t->v.u32, 864000);
		} else if (strcmp(name, "structure_enum254_int255") == 0) {
			assert_int_equal(t->type, TTLV_STRUCTURE);
			assert_int_equal(t->v.s.count, 2);
			assert_int_equal(t->v.s.first->tag, 0x420004);
			assert_int_equal(t->v.s.first->v.u32, 254);
			assert_int_equal(t->v.s.last->tag, 0x420005);
			assert_int_equal(t->v.s.last->v.i32, 255);
		} else {
			fail_msg("unexpected example %s", name);
		}
		assert_encodes_to(t, ex[i].bytes, ex[i].len);
		ttlv_arena_free(a);
	}
}

/* Builds a KMIP 1.4 Get request for a unique identifier. */
static void
build_get_request(struct ttlv_enc *e, const char *uid)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, 0x420078);		/* Request Message */
	ttlv_enc_begin(e, 0x420077);		/* Request Header */
	ttlv_enc_begin(e, 0x420069);		/* Protocol Version */
	ttlv_enc_int(e, 0x42006A, 1);
	ttlv_enc_int(e, 0x42006B, 4);
	ttlv_enc_end(e);
	ttlv_enc_int(e, 0x42000D, 1);		/* Batch Count */
	ttlv_enc_end(e);
	ttlv_enc_begin(e, 0x42000F);		/* Batch Item */
	ttlv_enc_enum(e, 0x42005C, 0x0A);	/* Operation: Get */
	ttlv_enc_bytes(e, 0x420093, "\x00\x01", 2);	/* Unique Batch Item ID */
	ttlv_enc_begin(e, 0x420079);		/* Request Payload */
	ttlv_enc_cstr(e, 0x420094, uid);
	ttlv_enc_enum(e, 0x420042, 3);		/* Key Format Type: PKCS#1 */
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	assert_int_equal(ttlv_enc_finish(e), 0);
}

/* Builds a Get response carrying a private key of keylen bytes, with every item type present. */
static void
build_get_response(struct ttlv_enc *e, size_t keylen)
{
	uint8_t *key = malloc(keylen);
	size_t i;

	assert_non_null(key);
	for (i = 0; i < keylen; i++)
		key[i] = (uint8_t)(i * 7 + 3);
	ttlv_enc_init(e);
	ttlv_enc_begin(e, 0x42007B);		/* Response Message */
	ttlv_enc_begin(e, 0x42007A);		/* Response Header */
	ttlv_enc_begin(e, 0x420069);
	ttlv_enc_int(e, 0x42006A, 1);
	ttlv_enc_int(e, 0x42006B, 4);
	ttlv_enc_end(e);
	ttlv_enc_datetime(e, 0x420092, 1700000000);
	ttlv_enc_int(e, 0x42000D, 1);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, 0x42000F);
	ttlv_enc_enum(e, 0x42005C, 0x0A);
	ttlv_enc_enum(e, 0x42007F, 0);		/* Result Status: Success */
	ttlv_enc_begin(e, 0x42007C);		/* Response Payload */
	ttlv_enc_enum(e, 0x420057, 4);		/* Object Type: Private Key */
	ttlv_enc_cstr(e, 0x420094, "42");
	ttlv_enc_begin(e, 0x420064);		/* Private Key */
	ttlv_enc_begin(e, 0x420040);		/* Key Block */
	ttlv_enc_enum(e, 0x420042, 3);
	ttlv_enc_begin(e, 0x420045);		/* Key Value */
	ttlv_enc_bytes(e, 0x420043, key, keylen);	/* Key Material */
	ttlv_enc_end(e);
	ttlv_enc_enum(e, 0x420028, 4);		/* Cryptographic Algorithm: RSA */
	ttlv_enc_int(e, 0x42002A, 2048);
	ttlv_enc_long(e, 0x420020, -5);
	ttlv_enc_bigint(e, 0x420020, "\x80\x01", 2);
	ttlv_enc_bool(e, 0x420020, true);
	ttlv_enc_interval(e, 0x420020, 864000);
	ttlv_enc_datetime_ext(e, 0x420020, 1700000000123456LL);
	ttlv_enc_text(e, 0x420020, "", 0);
	ttlv_enc_bytes(e, 0x420020, "", 0);
	ttlv_enc_begin(e, 0x420020);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	assert_int_equal(ttlv_enc_finish(e), 0);
	explicit_bzero(key, keylen);
	free(key);
}

static void
test_message_round_trip(void **state)
{
	struct ttlv_enc req, resp;
	struct ttlv_arena *a;
	struct ttlv *t, *hdr, *pv, *item, *key;

	(void)state;
	build_get_request(&req, "1234");
	t = must_decode(req.buf, req.len, NULL, &a);
	assert_int_equal(t->tag, 0x420078);
	assert_int_equal(t->length, req.len - 8);
	hdr = ttlv_find(t, 0x420077);
	pv = ttlv_find(hdr, 0x420069);
	assert_int_equal(ttlv_find(pv, 0x42006A)->v.i32, 1);
	assert_int_equal(ttlv_find(pv, 0x42006B)->v.i32, 4);
	item = ttlv_find(t, 0x42000F);
	assert_int_equal(ttlv_find(item, 0x42005C)->v.u32, 0x0A);
	assert_string_equal((const char *)ttlv_find(ttlv_find(item, 0x420079), 0x420094)->v.bytes.data, "1234");
	assert_encodes_to(t, req.buf, req.len);
	ttlv_arena_free(a);

	build_get_response(&resp, 1193);
	t = must_decode(resp.buf, resp.len, NULL, &a);
	key = ttlv_find(ttlv_find(ttlv_find(ttlv_find(ttlv_find(ttlv_find(t, 0x42000F), 0x42007C), 0x420064),
	    0x420040), 0x420045), 0x420043);
	assert_non_null(key);
	assert_int_equal(key->length, 1193);
	assert_int_equal(key->v.bytes.data[10], (uint8_t)(10 * 7 + 3));
	assert_encodes_to(t, resp.buf, resp.len);
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
	ttlv_enc_free(&resp);
}

/* Feeds buf in two pieces split at k (and, when k is 0, one byte at a time) and returns the tree. */
static struct ttlv *
decode_split(const uint8_t *buf, size_t len, size_t k, struct ttlv_arena **a)
{
	struct ttlv_decoder *d = ttlv_decoder_new(NULL);
	enum ttlv_status st = TTLV_NEED_MORE;
	size_t used, i;
	struct ttlv *t;

	assert_non_null(d);
	if (k == 0) {
		for (i = 0; i < len; i++) {
			st = ttlv_decoder_feed(d, buf + i, 1, &used);
			assert_int_equal(used, 1);
			if (i + 1 < len)
				assert_int_equal(st, TTLV_NEED_MORE);
		}
	} else {
		st = ttlv_decoder_feed(d, buf, k, &used);
		assert_int_equal(st, TTLV_NEED_MORE);
		assert_int_equal(used, k);
		assert_true(ttlv_decoder_busy(d));
		st = ttlv_decoder_feed(d, buf + k, len - k, &used);
		assert_int_equal(used, len - k);
	}
	assert_int_equal(st, TTLV_DONE);
	t = ttlv_decoder_take(d, a);
	assert_false(ttlv_decoder_busy(d));
	ttlv_decoder_free(d);
	return t;
}

static void
test_every_split_point(void **state)
{
	struct ttlv_enc msgs[2];
	size_t m, k;

	(void)state;
	build_get_request(&msgs[0], "a-long-unique-identifier-0001");
	build_get_response(&msgs[1], 37);
	for (m = 0; m < 2; m++) {
		struct ttlv_arena *ref_a;
		struct ttlv *ref = must_decode(msgs[m].buf, msgs[m].len, NULL, &ref_a);

		for (k = 0; k < msgs[m].len; k++) {
			struct ttlv_arena *a;
			struct ttlv *t = decode_split(msgs[m].buf, msgs[m].len, k, &a);

			assert_true(ttlv_equal(ref, t));
			ttlv_arena_free(a);
		}
		ttlv_arena_free(ref_a);
		ttlv_enc_free(&msgs[m]);
	}
}

static void
test_pipelined_messages(void **state)
{
	struct ttlv_enc a, b;
	uint8_t buf[1024];
	struct ttlv_decoder *d = ttlv_decoder_new(NULL);
	struct ttlv_arena *ar;
	struct ttlv *t;
	size_t used;

	(void)state;
	build_get_request(&a, "first");
	build_get_request(&b, "second");
	memcpy(buf, a.buf, a.len);
	memcpy(buf + a.len, b.buf, b.len);
	assert_int_equal(ttlv_decoder_feed(d, buf, a.len + b.len, &used), TTLV_DONE);
	assert_int_equal(used, a.len);
	/* Feeding again before taking the message is a caller error, reported as such. */
	t = ttlv_decoder_take(d, &ar);
	assert_string_equal((const char *)ttlv_find(ttlv_find(ttlv_find(t, 0x42000F), 0x420079),
	    0x420094)->v.bytes.data, "first");
	ttlv_arena_free(ar);
	assert_int_equal(ttlv_decoder_feed(d, buf + used, b.len, &used), TTLV_DONE);
	assert_int_equal(used, b.len);
	t = ttlv_decoder_take(d, &ar);
	assert_string_equal((const char *)ttlv_find(ttlv_find(ttlv_find(t, 0x42000F), 0x420079),
	    0x420094)->v.bytes.data, "second");
	ttlv_arena_free(ar);
	ttlv_decoder_free(d);
	ttlv_enc_free(&a);
	ttlv_enc_free(&b);
}

/* Feeds buf whole and asserts the decoder fails with err at offset, without reading past the bad header. */
static void
assert_rejects(const uint8_t *buf, size_t len, const struct ttlv_limits *lim, enum ttlv_err err,
    uint64_t offset)
{
	struct ttlv_decoder *d = ttlv_decoder_new(lim);
	uint64_t at;
	const char *what;
	size_t used;

	assert_non_null(d);
	assert_int_equal(ttlv_decoder_feed(d, buf, len, &used), TTLV_ERROR);
	assert_int_equal(ttlv_decoder_error(d, &at, &what), err);
	assert_int_equal(at, offset);
	assert_non_null(what);
	assert_true(used <= len);
	/* Further input is refused until a reset. */
	assert_int_equal(ttlv_decoder_feed(d, buf, len, &used), TTLV_ERROR);
	ttlv_decoder_reset(d);
	assert_false(ttlv_decoder_busy(d));
	ttlv_decoder_free(d);
}

static void
test_reject_not_structure(void **state)
{
	static const uint8_t b[] = { 0x42, 0x00, 0x20, 0x02, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 0 };

	(void)state;
	assert_rejects(b, sizeof(b), NULL, TTLV_ERR_NOT_STRUCTURE, 0);
}

static void
test_reject_too_long(void **state)
{
	/* A 2 GB length is refused from its header alone, before any allocation. */
	static const uint8_t b[] = { 0x42, 0x00, 0x78, 0x01, 0x80, 0, 0, 0 };
	struct ttlv_limits lim = { .max_message_size = 4096 };
	static const uint8_t small[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0x10, 0 };

	(void)state;
	assert_rejects(b, sizeof(b), NULL, TTLV_ERR_TOO_LONG, 4);
	assert_rejects(small, sizeof(small), &lim, TTLV_ERR_TOO_LONG, 4);
}

static void
test_reject_too_deep(void **state)
{
	uint8_t b[8 * 20];
	struct ttlv_limits lim = { .max_depth = 16 };
	size_t i;

	(void)state;
	/* Twenty nested structures, each claiming all the remaining bytes. */
	for (i = 0; i < 20; i++) {
		uint32_t len = (uint32_t)(8 * (20 - i - 1));

		b[8 * i] = 0x42, b[8 * i + 1] = 0x00, b[8 * i + 2] = 0x01, b[8 * i + 3] = 0x01;
		b[8 * i + 4] = len >> 24, b[8 * i + 5] = len >> 16, b[8 * i + 6] = len >> 8, b[8 * i + 7] = len;
	}
	assert_rejects(b, sizeof(b), &lim, TTLV_ERR_TOO_DEEP, 8 * 16);
}

static void
test_reject_overrun(void **state)
{
	/* A structure of 16 bytes whose child claims 16 bytes of value (24 with its header). */
	static const uint8_t b[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x94, 0x07, 0, 0, 0, 16 };
	/* A structure of 8 bytes holding the first 8 bytes of a 16-byte child. */
	static const uint8_t c[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 8, 0x42, 0x00, 0x6A, 0x02, 0, 0, 0, 4 };

	(void)state;
	assert_rejects(b, sizeof(b), NULL, TTLV_ERR_OVERRUN, 8);
	assert_rejects(c, sizeof(c), NULL, TTLV_ERR_OVERRUN, 8);
}

static void
test_reject_bad_length(void **state)
{
	/* An Integer of length 8. */
	static const uint8_t i8[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x6A, 0x02, 0, 0, 0, 8 };
	/* A Structure of length 12. */
	static const uint8_t s12[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 12 };
	/* A Big Integer of length 5. */
	static const uint8_t b5[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x20, 0x04, 0, 0, 0, 5 };
	/* A Boolean of length 4. */
	static const uint8_t bo[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x20, 0x06, 0, 0, 0, 4 };

	(void)state;
	assert_rejects(i8, sizeof(i8), NULL, TTLV_ERR_BAD_LENGTH, 12);
	assert_rejects(s12, sizeof(s12), NULL, TTLV_ERR_BAD_LENGTH, 4);
	assert_rejects(b5, sizeof(b5), NULL, TTLV_ERR_BAD_LENGTH, 12);
	assert_rejects(bo, sizeof(bo), NULL, TTLV_ERR_BAD_LENGTH, 12);
}

static void
test_reject_bad_type(void **state)
{
	static const uint8_t b[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16, 0x42, 0x00, 0x20, 0x0C, 0, 0, 0, 4 };
	static const uint8_t z[] = { 0x42, 0x00, 0x78, 0x00, 0, 0, 0, 0 };

	(void)state;
	assert_rejects(b, sizeof(b), NULL, TTLV_ERR_BAD_TYPE, 11);
	assert_rejects(z, sizeof(z), NULL, TTLV_ERR_BAD_TYPE, 3);
}

static void
test_reject_bad_tag(void **state)
{
	static const uint8_t top[] = { 0x16, 0x03, 0x01, 0x01, 0, 0, 0, 0 };	/* a TLS record, say */
	static const uint8_t child[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x43, 0x00, 0x20, 0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0 };
	static const uint8_t ext[] = { 0x54, 0x00, 0x01, 0x01, 0, 0, 0, 16,
	    0x54, 0xFF, 0xFF, 0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0 };
	struct ttlv_arena *a;
	struct ttlv *t;

	(void)state;
	assert_rejects(top, sizeof(top), NULL, TTLV_ERR_BAD_TAG, 0);
	assert_rejects(child, sizeof(child), NULL, TTLV_ERR_BAD_TAG, 8);
	/* Extension tags 0x54xxxx are accepted. */
	t = must_decode(ext, sizeof(ext), NULL, &a);
	assert_int_equal(t->v.s.first->tag, 0x54FFFF);
	ttlv_arena_free(a);
}

static void
test_reject_bad_values(void **state)
{
	static const uint8_t boolean2[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x42, 0x00, 0x20, 0x06, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2 };
	static const uint8_t bad_utf8[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x42, 0x00, 0x20, 0x07, 0, 0, 0, 2, 0xC0, 0x80, 0, 0, 0, 0, 0, 0 };
	static const uint8_t surrogate[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x42, 0x00, 0x20, 0x07, 0, 0, 0, 3, 0xED, 0xA0, 0x80, 0, 0, 0, 0, 0 };
	static const uint8_t nul[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x42, 0x00, 0x20, 0x07, 0, 0, 0, 3, 'a', 0, 'b', 0, 0, 0, 0, 0 };
	static const uint8_t good[] = { 0x42, 0x00, 0x78, 0x01, 0, 0, 0, 16,
	    0x42, 0x00, 0x20, 0x07, 0, 0, 0, 4, 0xF0, 0x9F, 0x94, 0x91, 0, 0, 0, 0 };
	struct ttlv_arena *a;

	(void)state;
	assert_rejects(boolean2, sizeof(boolean2), NULL, TTLV_ERR_BAD_VALUE, 16);
	assert_rejects(bad_utf8, sizeof(bad_utf8), NULL, TTLV_ERR_BAD_VALUE, 16);
	assert_rejects(surrogate, sizeof(surrogate), NULL, TTLV_ERR_BAD_VALUE, 16);
	assert_rejects(nul, sizeof(nul), NULL, TTLV_ERR_BAD_VALUE, 16);
	ttlv_arena_free((must_decode(good, sizeof(good), NULL, &a), a));
}

static void
test_reject_arena_cap(void **state)
{
	/* 128 empty structures: 1 KiB on the wire, far more as items; a small cap stops it cleanly. */
	uint8_t b[8 + 8 * 128];
	struct ttlv_limits lim = { .max_arena = 1024 };
	size_t i;

	(void)state;
	memset(b, 0, sizeof(b));
	b[0] = 0x42, b[2] = 0x78, b[3] = 0x01, b[6] = (8 * 128) >> 8;
	for (i = 1; i <= 128; i++)
		b[8 * i] = 0x42, b[8 * i + 2] = 0x01, b[8 * i + 3] = 0x01;
	/* The root and as many children as fit in 1 KiB decode; the next one fails where it starts. */
	assert_rejects(b, sizeof(b), &lim, TTLV_ERR_NOMEM, 8 * (1024 / ((sizeof(struct ttlv) + 7) & ~7UL)));
}

static void
test_one_shot_truncated_and_trailing(void **state)
{
	struct ttlv_enc e;
	struct ttlv_arena *a;
	struct ttlv *t;
	enum ttlv_err err;
	uint64_t off;
	uint8_t buf[512];

	(void)state;
	build_get_request(&e, "x");
	assert_int_equal(ttlv_decode(e.buf, e.len - 1, NULL, &t, &a, &err, &off), TTLV_ERROR);
	assert_int_equal(err, TTLV_ERR_TRUNCATED);
	assert_null(t);
	memcpy(buf, e.buf, e.len);
	buf[e.len] = 0x42;
	assert_int_equal(ttlv_decode(buf, e.len + 1, NULL, &t, &a, &err, &off), TTLV_ERROR);
	assert_int_equal(err, TTLV_ERR_TRAILING);
	assert_int_equal(off, e.len);
	ttlv_enc_free(&e);
}

static void
test_encoder_errors_and_bigint(void **state)
{
	struct ttlv_enc e;
	static const uint8_t neg[] = { 0x42, 0x00, 0x20, 0x04, 0, 0, 0, 8,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0x01 };
	static const uint8_t zero[] = { 0x42, 0x00, 0x20, 0x04, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0 };

	(void)state;
	ttlv_enc_init(&e);
	ttlv_enc_begin(&e, 0x420078);
	assert_int_equal(ttlv_enc_finish(&e), -1);	/* unclosed */
	ttlv_enc_reset(&e);
	ttlv_enc_end(&e);
	ttlv_enc_int(&e, 0x420020, 1);			/* ignored: the error is sticky */
	assert_int_equal(ttlv_enc_finish(&e), -1);
	ttlv_enc_reset(&e);
	ttlv_enc_bigint(&e, 0x420020, "\x80\x01", 2);
	assert_int_equal(ttlv_enc_finish(&e), 0);
	assert_int_equal(e.len, sizeof(neg));
	assert_memory_equal(e.buf, neg, sizeof(neg));
	ttlv_enc_reset(&e);
	ttlv_enc_bigint(&e, 0x420020, NULL, 0);
	assert_int_equal(ttlv_enc_finish(&e), 0);
	assert_memory_equal(e.buf, zero, sizeof(zero));
	ttlv_enc_free(&e);
}

static void
test_tree_building(void **state)
{
	struct ttlv_arena *a = ttlv_arena_new(), *b;
	struct ttlv *root, *t;
	struct ttlv_enc e;

	(void)state;
	root = ttlv_new_struct(a, 0x420078);
	ttlv_append(root, ttlv_new_text(a, 0x420055, "name-1", 6));
	ttlv_append(root, ttlv_new_text(a, 0x420055, "name-2", 6));
	ttlv_append(root, ttlv_new_enum(a, 0x420057, 2));
	ttlv_append(root, ttlv_new_bigint(a, 0x420020, "\x01", 1));
	assert_int_equal(ttlv_count(root, 0x420055), 2);
	t = ttlv_find(root, 0x420055);
	assert_string_equal((const char *)ttlv_find_next(t)->v.bytes.data, "name-2");
	assert_null(ttlv_find_next(ttlv_find_next(t)));
	assert_null(ttlv_find(root, 0x420094));
	ttlv_enc_init(&e);
	ttlv_enc_item(&e, root);
	assert_int_equal(ttlv_enc_finish(&e), 0);
	t = must_decode(e.buf, e.len, NULL, &b);
	assert_true(ttlv_equal(root, t));
	t->v.s.last->v.bytes.data = (const uint8_t *)"\0\0\0\0\0\0\0\2";
	assert_false(ttlv_equal(root, t));
	ttlv_arena_free(b);
	ttlv_enc_free(&e);
	ttlv_arena_free(a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest vector_tests[] = {
		cmocka_unit_test(test_spec_examples),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_round_trip),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_pipelined_messages),
		cmocka_unit_test(test_reject_not_structure),
		cmocka_unit_test(test_reject_too_long),
		cmocka_unit_test(test_reject_too_deep),
		cmocka_unit_test(test_reject_overrun),
		cmocka_unit_test(test_reject_bad_length),
		cmocka_unit_test(test_reject_bad_type),
		cmocka_unit_test(test_reject_bad_tag),
		cmocka_unit_test(test_reject_bad_values),
		cmocka_unit_test(test_reject_arena_cap),
		cmocka_unit_test(test_one_shot_truncated_and_trailing),
		cmocka_unit_test(test_encoder_errors_and_bigint),
		cmocka_unit_test(test_tree_building),
	};

	util_test_start(argc, argv);
	if (util_vector_run())
		return cmocka_run_group_tests_name("ttlv: the OASIS files", vector_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
