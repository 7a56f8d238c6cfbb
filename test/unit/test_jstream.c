/*
 * Unit tests for the incremental JSON parser and the etcd decoder (proto/jstream.h): every token and error
 * kind, every limit at and past its value, each case fed whole, in chunks of every size and split at every
 * byte; then etcd's replies as etcd 3.4's gateway sends them (captured from it), field by field, and every
 * refusal of the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/jstream.h"
#include "test/util.h"

#define TRACE_MAX 4096

/* What one run of the parser saw: its tokens as text, values separated by '|', and how it ended. */
struct run {
	char trace[TRACE_MAX];
	size_t tlen;
	const char *refuse;		/* the callback refuses a string or name equal to this */
	enum jstream_err err;		/* JSTREAM_ERR_NONE when the input ran out without error */
	uint64_t off;
	size_t values;
	bool busy;			/* a value was under way at the end */
};

/* Appends text to the trace. */
static void
trace_add(struct run *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->trace + r->tlen, sizeof(r->trace) - r->tlen, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(r->trace) - r->tlen);
	r->tlen += (size_t)n;
}

/* The recording callback: one word per token, non-printable bytes of strings as \xHH. */
static int
record(void *arg, enum jstream_token tok, const char *s, size_t len, unsigned depth)
{
	struct run *r = arg;
	static const char *const word[] = { "{", "}", "[", "]", "n:", "s:", "#", "t", "f", "z" };
	size_t i;

	(void)depth;
	if (r->tlen > 0 && r->trace[r->tlen - 1] != '|')
		trace_add(r, " ");
	trace_add(r, "%s", word[tok]);
	if (s != NULL) {
		assert_int_equal(s[len], '\0');
		for (i = 0; i < len; i++) {
			uint8_t c = (uint8_t)s[i];

			if (c >= 0x20 && c < 0x7F && c != '\\')
				trace_add(r, "%c", c);
			else
				trace_add(r, "\\x%02x", c);
		}
		if (r->refuse != NULL && strlen(r->refuse) == len && memcmp(r->refuse, s, len) == 0)
			return -1;
	}
	return 0;
}

/*
 * Runs the parser over in, fed in chunks of chunk bytes (0: whole) or, when split is not SIZE_MAX, as two
 * feeds split there. Fills r.
 */
static void
run_parser(const struct jstream_limits *lim, const char *in, size_t len, size_t chunk, size_t split,
    const char *refuse, struct run *r)
{
	struct jstream *j;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->refuse = refuse;
	j = jstream_new(lim, record, r);
	assert_non_null(j);
	while (pos < len) {
		size_t n = len - pos, used;
		enum jstream_status st;

		if (split != SIZE_MAX)
			n = pos < split ? split - pos : len - pos;
		else if (chunk != 0 && n > chunk)
			n = chunk;
		/* Feed the chunk until it is used up: a value may end in its middle. */
		while (n > 0) {
			st = jstream_feed(j, (const uint8_t *)in + pos, n, &used);
			assert_true(used <= n);
			pos += used;
			n -= used;
			if (st == JSTREAM_ERROR) {
				r->err = jstream_error(j, &r->off);
				assert_int_not_equal(r->err, JSTREAM_ERR_NONE);
				/* Fed again, it stays in error and consumes nothing. */
				assert_int_equal(jstream_feed(j, (const uint8_t *)"{", 1, &used), JSTREAM_ERROR);
				assert_int_equal(used, 0);
				assert_false(jstream_busy(j));
				jstream_free(j);
				return;
			}
			if (st == JSTREAM_VALUE) {
				r->values++;
				trace_add(r, "|");
			} else
				assert_int_equal(n, 0);
		}
	}
	r->busy = jstream_busy(j);
	jstream_free(j);
}

static const struct jstream_limits big = {
	.max_value_size = 65536, .max_depth = 32, .max_string = 4096, .max_members = 1000,
};

/*
 * Checks that in gives the same trace and the same ending whole, byte by byte, in chunks of every size and
 * split at every byte: want_trace, and want_err at want_off (JSTREAM_ERR_NONE: no error).
 */
static void
check_case(const struct jstream_limits *lim, const char *in, size_t len, const char *want_trace,
    enum jstream_err want_err, uint64_t want_off, const char *refuse)
{
	struct run r;
	size_t k;

	for (k = 0; k <= 2 * len + 1; k++) {
		if (k <= len)
			run_parser(lim, in, len, k, SIZE_MAX, refuse, &r);		/* chunks of k (0: whole) */
		else
			run_parser(lim, in, len, 0, k - len - 1, refuse, &r);	/* split at k - len - 1 */
		if (strcmp(r.trace, want_trace) != 0 || r.err != want_err || (want_err && r.off != want_off))
			fail_msg("input %.*s (run %zu): trace \"%s\" err %s at %llu; want \"%s\" err %s at %llu",
			    (int)len, in, k, r.trace, jstream_err_str(r.err), (unsigned long long)r.off, want_trace,
			    jstream_err_str(want_err), (unsigned long long)want_off);
	}
}

/* check_case on a NUL-terminated input with the big limits. */
static void
ok(const char *in, const char *want_trace)
{
	check_case(&big, in, strlen(in), want_trace, JSTREAM_ERR_NONE, 0, NULL);
}

/* A case that must fail with err at off (after emitting want_trace). */
static void
bad(const struct jstream_limits *lim, const char *in, size_t len, enum jstream_err err, uint64_t off,
    const char *want_trace)
{
	check_case(lim == NULL ? &big : lim, in, len, want_trace, err, off, NULL);
}

static void
test_tokens(void **state)
{
	(void)state;
	ok("{}", "{ }|");
	ok("[]", "[ ]|");
	ok(" \t\r\n{ \"a\" : 1 , \"b\":[ true,false ,null, \"x\" ], \"c\":{}}\n",
	    "{ n:a #1 n:b [ t f z s:x ] n:c { } }|");
	ok("[0,-0,12,-3.25,1e5,1E+2,2e-3,0.5,-0.0e0]", "[ #0 #-0 #12 #-3.25 #1e5 #1E+2 #2e-3 #0.5 #-0.0e0 ]|");
	ok("[\"\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[ s: s:\"\\x5c/\\x08\\x0c\\x0a\\x0d\\x09 ]|");
	/* \u escapes become UTF-8; a surrogate pair one 4-byte character; \u0000 a NUL inside the string. */
	ok("[\"\\u00e9\\u20AC\\ud83d\\ude00\\u0000x\"]", "[ s:\\xc3\\xa9\\xe2\\x82\\xac\\xf0\\x9f\\x98\\x80\\x00x ]|");
	/* Raw UTF-8 at each length's bounds passes as it is. */
	ok("[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]",
	    "[ s:\\xc2\\x80\\xdf\\xbf\\xe0\\xa0\\x80\\xed\\x9f\\xbf\\xef\\xbf\\xbf\\xf0\\x90\\x80\\x80"
	    "\\xf4\\x8f\\xbf\\xbf ]|");
	ok("[[[]],{\"a\":{\"b\":[{}]}}]", "[ [ [ ] ] { n:a { n:b [ { } ] } } ]|");
}

static void
test_value_stream(void **state)
{
	(void)state;
	/* Values one after the other, with newlines, spaces or nothing between them: one VALUE each. */
	ok("{\"a\":1}{\"b\":2}\n[3]  {}\r\n", "{ n:a #1 }|{ n:b #2 }|[ #3 ]|{ }|");
	ok("\n\n", "");
}

static void
test_busy_and_reset(void **state)
{
	struct run r;
	struct jstream *j;
	size_t used;
	uint64_t off;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_non_null(j = jstream_new(&big, record, &r));
	assert_false(jstream_busy(j));
	assert_int_equal(jstream_feed(j, (const uint8_t *)"  {\"a\"", 6, &used), JSTREAM_NEED_MORE);
	assert_int_equal(used, 6);
	assert_true(jstream_busy(j));
	assert_int_equal(jstream_feed(j, (const uint8_t *)":1}{", 4, &used), JSTREAM_VALUE);
	assert_int_equal(used, 3);
	assert_false(jstream_busy(j));
	assert_int_equal(jstream_feed(j, (const uint8_t *)"x", 1, &used), JSTREAM_ERROR);
	assert_int_equal(jstream_error(j, &off), JSTREAM_ERR_SYNTAX);
	assert_int_equal(off, 9);
	jstream_reset(j);
	assert_int_equal(jstream_error(j, &off), JSTREAM_ERR_NONE);
	assert_int_equal(jstream_feed(j, (const uint8_t *)"[1]", 3, &used), JSTREAM_VALUE);
	assert_int_equal(used, 3);
	jstream_free(j);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	bad(NULL, "{\"a\" 1}", 7, JSTREAM_ERR_SYNTAX, 5, "{ n:a");
	bad(NULL, "{,}", 3, JSTREAM_ERR_SYNTAX, 1, "{");
	bad(NULL, "[1,]", 4, JSTREAM_ERR_SYNTAX, 3, "[ #1");
	bad(NULL, "{\"a\":1,}", 8, JSTREAM_ERR_SYNTAX, 7, "{ n:a #1");
	bad(NULL, "[1 2]", 5, JSTREAM_ERR_SYNTAX, 3, "[ #1");
	bad(NULL, "{\"a\":1]", 7, JSTREAM_ERR_SYNTAX, 6, "{ n:a #1");
	bad(NULL, "[}", 2, JSTREAM_ERR_SYNTAX, 1, "[");
	bad(NULL, "}", 1, JSTREAM_ERR_SYNTAX, 0, "");
	bad(NULL, "{1:2}", 5, JSTREAM_ERR_SYNTAX, 1, "{");
	bad(NULL, "{\"a\"::1}", 8, JSTREAM_ERR_SYNTAX, 5, "{ n:a");
	bad(NULL, "[,1]", 4, JSTREAM_ERR_SYNTAX, 1, "[");
	bad(NULL, "[+1]", 4, JSTREAM_ERR_SYNTAX, 1, "[");
	bad(NULL, "{}x", 3, JSTREAM_ERR_SYNTAX, 2, "{ }|");
	bad(NULL, "[\"a\"\"b\"]", 8, JSTREAM_ERR_SYNTAX, 4, "[ s:a");
	bad(NULL, "[true false]", 12, JSTREAM_ERR_SYNTAX, 6, "[ t");
}

static void
test_toplevel_errors(void **state)
{
	(void)state;
	bad(NULL, "\"x\"", 3, JSTREAM_ERR_TOPLEVEL, 0, "");
	bad(NULL, " 12", 3, JSTREAM_ERR_TOPLEVEL, 1, "");
	bad(NULL, "{}true", 6, JSTREAM_ERR_TOPLEVEL, 2, "{ }|");
	bad(NULL, "null", 4, JSTREAM_ERR_TOPLEVEL, 0, "");
	bad(NULL, "-1", 2, JSTREAM_ERR_TOPLEVEL, 0, "");
}

static void
test_string_errors(void **state)
{
	(void)state;
	bad(NULL, "[\"x\ny\"]", 7, JSTREAM_ERR_CONTROL, 3, "[");
	bad(NULL, "[\"\x01\"]", 5, JSTREAM_ERR_CONTROL, 2, "[");
	bad(NULL, "[\"\\x\"]", 6, JSTREAM_ERR_ESCAPE, 3, "[");
	bad(NULL, "[\"\\u12g4\"]", 10, JSTREAM_ERR_ESCAPE, 6, "[");
	bad(NULL, "[\"\\udc00\"]", 10, JSTREAM_ERR_ESCAPE, 7, "[");	/* a lone low surrogate */
	bad(NULL, "[\"\\ud800x\"]", 11, JSTREAM_ERR_ESCAPE, 8, "[");	/* a high one alone */
	bad(NULL, "[\"\\ud800\\n\"]", 12, JSTREAM_ERR_ESCAPE, 9, "[");
	bad(NULL, "[\"\\ud800\\u0041\"]", 16, JSTREAM_ERR_ESCAPE, 13, "[");	/* paired with no low one */
	bad(NULL, "[\"\xff\"]", 5, JSTREAM_ERR_UTF8, 2, "[");
	bad(NULL, "[\"\xc0\x80\"]", 6, JSTREAM_ERR_UTF8, 2, "[");		/* overlong NUL */
	bad(NULL, "[\"\xe0\x9f\xbf\"]", 7, JSTREAM_ERR_UTF8, 3, "[");	/* overlong 3 bytes */
	bad(NULL, "[\"\xed\xa0\x80\"]", 7, JSTREAM_ERR_UTF8, 3, "[");	/* a surrogate */
	bad(NULL, "[\"\xf0\x8f\xbf\xbf\"]", 8, JSTREAM_ERR_UTF8, 3, "[");	/* overlong 4 bytes */
	bad(NULL, "[\"\xf4\x90\x80\x80\"]", 8, JSTREAM_ERR_UTF8, 3, "[");	/* past U+10FFFF */
	bad(NULL, "[\"\xf5\x80\x80\x80\"]", 8, JSTREAM_ERR_UTF8, 2, "[");
	bad(NULL, "[\"\xe2\x82\"]", 6, JSTREAM_ERR_UTF8, 4, "[");		/* cut by the quote */
	bad(NULL, "[\"\x80\"]", 5, JSTREAM_ERR_UTF8, 2, "[");		/* a lone continuation byte */
}

static void
test_number_and_literal_errors(void **state)
{
	(void)state;
	bad(NULL, "[01]", 4, JSTREAM_ERR_NUMBER, 2, "[");
	bad(NULL, "[-]", 3, JSTREAM_ERR_NUMBER, 2, "[");
	bad(NULL, "[-a]", 4, JSTREAM_ERR_NUMBER, 2, "[");
	bad(NULL, "[1.]", 4, JSTREAM_ERR_NUMBER, 3, "[");
	bad(NULL, "[1.e5]", 6, JSTREAM_ERR_NUMBER, 3, "[");
	bad(NULL, "[1e]", 4, JSTREAM_ERR_NUMBER, 3, "[");
	bad(NULL, "[1e+]", 5, JSTREAM_ERR_NUMBER, 4, "[");
	bad(NULL, "[1.5.2]", 7, JSTREAM_ERR_NUMBER, 4, "[");
	bad(NULL, "[1x]", 4, JSTREAM_ERR_NUMBER, 2, "[");
	bad(NULL, "[12-3]", 6, JSTREAM_ERR_NUMBER, 3, "[");
	bad(NULL, "[tru]", 5, JSTREAM_ERR_LITERAL, 4, "[");
	bad(NULL, "[nul1]", 6, JSTREAM_ERR_LITERAL, 4, "[");
	bad(NULL, "[fals3]", 7, JSTREAM_ERR_LITERAL, 5, "[");
	bad(NULL, "[True]", 6, JSTREAM_ERR_SYNTAX, 1, "[");
	bad(NULL, "[truex]", 7, JSTREAM_ERR_SYNTAX, 5, "[ t");
}

static void
test_limits(void **state)
{
	struct jstream_limits lim = big;

	(void)state;
	/* max_value_size: a value of exactly the limit passes; one byte more fails at that byte. */
	lim.max_value_size = 13;
	check_case(&lim, "{\"a\":\"12345\"}", 13, "{ n:a s:12345 }|", JSTREAM_ERR_NONE, 0, NULL);
	check_case(&lim, " \n{\"a\":\"12345\"}\n\n{\"b\":\"67890\"}", 30, "{ n:a s:12345 }|{ n:b s:67890 }|",
	    JSTREAM_ERR_NONE, 0, NULL);	/* whitespace between values does not count */
	bad(&lim, "{\"a\":\"1234567\"}", 15, JSTREAM_ERR_VALUE_SIZE, 13, "{ n:a");
	bad(&lim, "{\"a\":\"1234\" }", 13, JSTREAM_ERR_NONE, 0, "{ n:a s:1234 }|");
	bad(&lim, "{\"a\":\"1234\"  }", 14, JSTREAM_ERR_VALUE_SIZE, 13, "{ n:a s:1234");
	/* max_depth */
	lim = big;
	lim.max_depth = 3;
	check_case(&lim, "[[[1]]]", 7, "[ [ [ #1 ] ] ]|", JSTREAM_ERR_NONE, 0, NULL);
	bad(&lim, "[[[[1]]]]", 9, JSTREAM_ERR_DEPTH, 3, "[ [ [");
	bad(&lim, "{\"a\":{\"b\":{\"c\":{}}}}", 20, JSTREAM_ERR_DEPTH, 15, "{ n:a { n:b { n:c");
	/* max_string: strings, member names and numbers, counted decoded */
	lim = big;
	lim.max_string = 4;
	check_case(&lim, "{\"abcd\":\"efgh\",\"x\":1234}", 24, "{ n:abcd s:efgh n:x #1234 }|", JSTREAM_ERR_NONE,
	    0, NULL);
	bad(&lim, "[\"abcde\"]", 9, JSTREAM_ERR_STRING_SIZE, 6, "[");
	bad(&lim, "{\"abcde\":1}", 11, JSTREAM_ERR_STRING_SIZE, 6, "{");
	bad(&lim, "[12345]", 7, JSTREAM_ERR_STRING_SIZE, 5, "[");
	bad(&lim, "[\"\\u00e9\\u00e9\\u00e9\"]", 21, JSTREAM_ERR_STRING_SIZE, 19, "[");
	check_case(&lim, "[\"\\u00e9\\u00e9\"]", 16, "[ s:\\xc3\\xa9\\xc3\\xa9 ]|", JSTREAM_ERR_NONE, 0, NULL);
	/* max_members: of an object at its name, of an array at the comma before the element */
	lim = big;
	lim.max_members = 2;
	check_case(&lim, "[[2,3],{\"a\":1,\"b\":[]}]", 22, "[ [ #2 #3 ] { n:a #1 n:b [ ] } ]|",
	    JSTREAM_ERR_NONE, 0, NULL);
	bad(&lim, "[1,2,3]", 7, JSTREAM_ERR_MEMBERS, 4, "[ #1 #2");
	bad(&lim, "{\"a\":1,\"b\":2,\"c\":3}", 19, JSTREAM_ERR_MEMBERS, 13, "{ n:a #1 n:b #2");
	bad(&lim, "[[],[],[]]", 10, JSTREAM_ERR_MEMBERS, 6, "[ [ ] [ ]");
}

static void
test_callback_refusal(void **state)
{
	(void)state;
	check_case(&big, "{\"a\":[\"x\",\"stop\",\"y\"]}", 22, "{ n:a [ s:x s:stop", JSTREAM_ERR_CALLBACK, 15,
	    "stop");
	check_case(&big, "{\"stop\":1}", 10, "{ n:stop", JSTREAM_ERR_CALLBACK, 6, "stop");
}

static void
test_bad_limits(void **state)
{
	struct jstream_limits lim = big;
	struct run r;

	(void)state;
	lim.max_depth = 0;
	assert_null(jstream_new(&lim, record, &r));
	lim.max_depth = JSTREAM_MAX_DEPTH + 1;
	assert_null(jstream_new(&lim, record, &r));
	lim = big;
	lim.max_value_size = 0;
	assert_null(jstream_new(&lim, record, &r));
	lim = big;
	lim.max_string = 0;
	assert_null(jstream_new(&lim, record, &r));
	lim = big;
	lim.max_members = 0;
	assert_null(jstream_new(&lim, record, &r));
	assert_null(jstream_new(&big, NULL, &r));
}

/* The etcd decoder. */

static const struct etcdj_limits elim = {
	.json = { .max_value_size = 65536, .max_depth = 16, .max_string = 8192, .max_members = 256 },
	.max_kvs = 64, .max_responses = 16, .max_events = 16, .max_key = 256, .max_value = 4096,
};

#define HDR "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\"," \
	"\"revision\":\"3\",\"raft_term\":\"2\"}"

/*
 * Decodes in (NUL-terminated) whole, then byte by byte and split at every byte, requiring the same reply
 * each time (compared field by field with the first); returns the first. want_why: NULL for success, else a
 * part of the decoder's reason for refusing it.
 */
static struct etcdj_reply *decode_all(enum etcdj_kind kind, const struct etcdj_limits *lim, const char *in,
    const char *want_why);

/* Compares two replies field by field. */
static void
assert_same_reply(const struct etcdj_reply *a, const struct etcdj_reply *b)
{
	size_t i;

	assert_int_equal(a->is_error, b->is_error);
	assert_int_equal(a->code, b->code);
	assert_int_equal(a->http_code, b->http_code);
	assert_int_equal(a->error == NULL, b->error == NULL);
	if (a->error != NULL)
		assert_string_equal(a->error, b->error);
	assert_int_equal(a->message == NULL, b->message == NULL);
	if (a->message != NULL)
		assert_string_equal(a->message, b->message);
	assert_memory_equal(&a->header, &b->header, sizeof(a->header));
	assert_int_equal(a->n_kvs, b->n_kvs);
	for (i = 0; i < a->n_kvs; i++) {
		assert_int_equal(a->kvs[i].key_len, b->kvs[i].key_len);
		assert_memory_equal(a->kvs[i].key, b->kvs[i].key, a->kvs[i].key_len);
		assert_int_equal(a->kvs[i].value_len, b->kvs[i].value_len);
		assert_memory_equal(a->kvs[i].value, b->kvs[i].value, a->kvs[i].value_len);
		assert_int_equal(a->kvs[i].create_revision, b->kvs[i].create_revision);
		assert_int_equal(a->kvs[i].mod_revision, b->kvs[i].mod_revision);
		assert_int_equal(a->kvs[i].version, b->kvs[i].version);
		assert_int_equal(a->kvs[i].lease, b->kvs[i].lease);
	}
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->more, b->more);
	assert_int_equal(a->deleted, b->deleted);
	assert_int_equal(a->succeeded, b->succeeded);
	assert_int_equal(a->n_responses, b->n_responses);
	if (a->n_responses > 0)
		assert_memory_equal(a->responses, b->responses, a->n_responses * sizeof(*a->responses));
	assert_int_equal(a->has_result, b->has_result);
	assert_int_equal(a->watch_id, b->watch_id);
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->canceled, b->canceled);
	assert_int_equal(a->fragment, b->fragment);
	assert_int_equal(a->compact_revision, b->compact_revision);
	assert_int_equal(a->cancel_reason == NULL, b->cancel_reason == NULL);
	if (a->cancel_reason != NULL)
		assert_string_equal(a->cancel_reason, b->cancel_reason);
	assert_int_equal(a->n_events, b->n_events);
	if (a->n_events > 0)
		assert_memory_equal(a->events, b->events, a->n_events * sizeof(*a->events));
}

/* Decodes in, fed in chunks of chunk (0: whole) or split at split; the reply, or NULL with *why set. */
static struct etcdj_reply *
decode_once(enum etcdj_kind kind, const struct etcdj_limits *lim, const char *in, size_t chunk, size_t split,
    char *why, size_t whysize)
{
	struct etcdj_decoder *d = etcdj_decoder_new(kind, lim);
	struct etcdj_reply *r = NULL;
	size_t len = strlen(in), pos = 0;

	assert_non_null(d);
	why[0] = '\0';
	while (pos < len) {
		size_t n = len - pos, used;
		enum jstream_status st;
		uint64_t off;

		if (split != SIZE_MAX)
			n = pos < split ? split - pos : len - pos;
		else if (chunk != 0 && n > chunk)
			n = chunk;
		st = etcdj_decoder_feed(d, (const uint8_t *)in + pos, n, &used);
		pos += used;
		if (st == JSTREAM_ERROR) {
			snprintf(why, whysize, "%s", etcdj_decoder_error(d, &off));
			break;
		}
		if (st == JSTREAM_VALUE) {
			assert_null(r);
			assert_non_null(r = etcdj_decoder_take(d));
			assert_null(etcdj_decoder_take(d));
		}
	}
	if (why[0] == '\0' && r == NULL)
		snprintf(why, whysize, "no reply");
	if (why[0] != '\0' && r != NULL) {
		etcdj_reply_free(r);
		r = NULL;
	}
	etcdj_decoder_free(d);
	return r;
}

static struct etcdj_reply *
decode_all(enum etcdj_kind kind, const struct etcdj_limits *lim, const char *in, const char *want_why)
{
	struct etcdj_reply *first, *r;
	char why[256];
	size_t len = strlen(in), k;

	first = decode_once(kind, lim, in, 0, SIZE_MAX, why, sizeof(why));
	if (want_why == NULL && first == NULL)
		fail_msg("%s: refused: %s", in, why);
	if (want_why != NULL && (first != NULL || strstr(why, want_why) == NULL))
		fail_msg("%s: want refusal \"%s\", got \"%s\"", in, want_why, first != NULL ? "a reply" : why);
	for (k = 0; k <= len; k++) {
		r = decode_once(kind, lim, in, 0, k, why, sizeof(why));
		assert_int_equal(r == NULL, first == NULL);
		if (r != NULL) {
			assert_same_reply(first, r);
			etcdj_reply_free(r);
		} else
			assert_non_null(strstr(why, want_why));
	}
	r = decode_once(kind, lim, in, 1, SIZE_MAX, why, sizeof(why));
	assert_int_equal(r == NULL, first == NULL);
	if (r != NULL) {
		assert_same_reply(first, r);
		etcdj_reply_free(r);
	}
	return first;
}

/* Asserts that kv holds key and value (NUL-terminated texts). */
static void
assert_kv(const struct etcdj_kv *kv, const char *key, const char *value)
{
	assert_int_equal(kv->key_len, strlen(key));
	assert_memory_equal(kv->key, key, kv->key_len);
	assert_int_equal(kv->value_len, strlen(value));
	assert_memory_equal(kv->value, value, kv->value_len);
}

static void
test_etcd_range(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
	    "\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"YmF6\"},{\"key\":\"YjE=\",\"create_revision\":\"8\","
	    "\"mod_revision\":\"9\",\"version\":\"1\",\"value\":\"AP88Pibp\",\"lease\":\"7587869\"}],\"more\":true,"
	    "\"count\":\"5\"}", NULL);
	assert_false(r->is_error);
	assert_int_equal(r->kind, ETCDJ_UNARY);
	assert_true(r->header.cluster_id == 324952591200643719ULL);
	assert_true(r->header.member_id == 3319814642761637952ULL);
	assert_int_equal(r->header.revision, 3);
	assert_int_equal(r->header.raft_term, 2);
	assert_int_equal(r->n_kvs, 2);
	assert_kv(&r->kvs[0], "foo", "baz");
	assert_int_equal(r->kvs[0].create_revision, 2);
	assert_int_equal(r->kvs[0].mod_revision, 3);
	assert_int_equal(r->kvs[0].version, 2);
	assert_int_equal(r->kvs[0].lease, 0);
	assert_int_equal(r->kvs[1].key_len, 2);
	assert_memory_equal(r->kvs[1].key, "b1", 2);
	assert_int_equal(r->kvs[1].value_len, 6);
	assert_memory_equal(r->kvs[1].value, "\x00\xff<>&\xe9", 6);
	assert_int_equal(r->kvs[1].create_revision, 8);
	assert_int_equal(r->kvs[1].mod_revision, 9);
	assert_int_equal(r->kvs[1].lease, 7587869);
	assert_true(r->more);
	assert_int_equal(r->count, 5);
	etcdj_reply_free(r);

	/* Nothing found: the gateway leaves kvs and count out (proto3 defaults). */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR "}", NULL);
	assert_int_equal(r->n_kvs, 0);
	assert_int_equal(r->count, 0);
	assert_false(r->more);
	assert_int_equal(r->header.revision, 3);
	etcdj_reply_free(r);

	/* keys_only: no value; an empty key and value decode to empty, never NULL. */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"kvs\":[{\"key\":\"dW5p\",\"create_revision\":\"9\","
	    "\"mod_revision\":\"9\",\"version\":\"1\"},{\"key\":\"\",\"value\":\"\"}],\"count\":\"2\"}", NULL);
	assert_int_equal(r->n_kvs, 2);
	assert_kv(&r->kvs[0], "uni", "");
	assert_non_null(r->kvs[0].value);
	assert_kv(&r->kvs[1], "", "");
	assert_non_null(r->kvs[1].key);
	etcdj_reply_free(r);
}

static void
test_etcd_put_delete_compaction(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	/* Put with prev_kv (not decoded at the top: skipped like any other field). */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"prev_kv\":{\"key\":\"Zm9v\",\"value\":\"YmFy\"}}", NULL);
	assert_int_equal(r->header.revision, 3);
	assert_int_equal(r->n_kvs, 0);
	etcdj_reply_free(r);
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"deleted\":\"4\"}", NULL);
	assert_int_equal(r->deleted, 4);
	etcdj_reply_free(r);
}

static void
test_etcd_txn(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	/* A failed compare: no "succeeded" (false is left out), the failure branch's range. */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"responses\":[{\"response_range\":{\"header\":"
	    "{\"revision\":\"3\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\","
	    "\"version\":\"2\",\"value\":\"YmF6\"}],\"count\":\"1\"}}]}", NULL);
	assert_false(r->succeeded);
	assert_int_equal(r->n_responses, 1);
	assert_int_equal(r->responses[0].op, ETCDJ_OP_RANGE);
	assert_int_equal(r->responses[0].header.revision, 3);
	assert_int_equal(r->responses[0].first_kv, 0);
	assert_int_equal(r->responses[0].n_kvs, 1);
	assert_int_equal(r->responses[0].count, 1);
	assert_kv(&r->kvs[0], "foo", "baz");
	assert_int_equal(r->kvs[0].mod_revision, 3);
	etcdj_reply_free(r);

	/* Success with a put, a delete, two ranges and a nested txn (not decoded further). */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"succeeded\":true,\"responses\":["
	    "{\"response_put\":{\"header\":{\"revision\":\"4\"}}},"
	    "{\"response_delete_range\":{\"header\":{\"revision\":\"4\"},\"deleted\":\"1\"}},"
	    "{\"response_range\":{\"header\":{\"revision\":\"4\"},\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg==\"}],"
	    "\"more\":true,\"count\":\"3\"}},"
	    "{\"response_range\":{\"header\":{\"revision\":\"4\"},\"kvs\":[{\"key\":\"Yw==\",\"value\":\"eA==\"}]}},"
	    "{\"response_txn\":{\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}}]}", NULL);
	assert_true(r->succeeded);
	assert_int_equal(r->n_responses, 5);
	assert_int_equal(r->responses[0].op, ETCDJ_OP_PUT);
	assert_int_equal(r->responses[0].header.revision, 4);
	assert_int_equal(r->responses[1].op, ETCDJ_OP_DELETE_RANGE);
	assert_int_equal(r->responses[1].deleted, 1);
	assert_int_equal(r->responses[2].op, ETCDJ_OP_RANGE);
	assert_int_equal(r->responses[2].first_kv, 0);
	assert_int_equal(r->responses[2].n_kvs, 2);
	assert_true(r->responses[2].more);
	assert_int_equal(r->responses[2].count, 3);
	assert_int_equal(r->responses[3].first_kv, 2);
	assert_int_equal(r->responses[3].n_kvs, 1);
	assert_kv(&r->kvs[2], "c", "x");
	assert_int_equal(r->responses[4].op, ETCDJ_OP_TXN);
	assert_int_equal(r->n_kvs, 3);
	assert_kv(&r->kvs[0], "a", "");
	assert_kv(&r->kvs[1], "b", "");
	assert_false(r->more);	/* the top-level one, not the range's */
	etcdj_reply_free(r);
}

static void
test_etcd_watch(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	r = decode_all(ETCDJ_WATCH, &elim, "{\"result\":{" HDR ",\"created\":true}}", NULL);
	assert_true(r->has_result);
	assert_true(r->created);
	assert_int_equal(r->watch_id, 0);
	assert_int_equal(r->n_events, 0);
	assert_false(etcdj_is_progress(r));
	etcdj_reply_free(r);

	/* A PUT ("type" left out) with prev_kv, a DELETE, another PUT. */
	r = decode_all(ETCDJ_WATCH, &elim, "{\"result\":{" HDR ",\"watch_id\":\"7\",\"events\":["
	    "{\"kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"5\",\"version\":\"4\"},"
	    "\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"4\",\"version\":\"3\","
	    "\"value\":\"eA==\"}},"
	    "{\"type\":\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"7\"}},"
	    "{\"type\":\"PUT\",\"kv\":{\"key\":\"YjE=\",\"create_revision\":\"8\",\"mod_revision\":\"8\","
	    "\"version\":\"1\",\"value\":\"eQ==\"}}]}}", NULL);
	assert_int_equal(r->watch_id, 7);
	assert_int_equal(r->header.revision, 3);
	assert_int_equal(r->n_events, 3);
	assert_int_equal(r->events[0].type, ETCDJ_PUT);
	assert_kv(&r->kvs[r->events[0].kv], "foo", "");
	assert_int_equal(r->kvs[r->events[0].kv].mod_revision, 5);
	assert_true(r->events[0].has_prev_kv);
	assert_kv(&r->kvs[r->events[0].prev_kv], "foo", "x");
	assert_int_equal(r->kvs[r->events[0].prev_kv].version, 3);
	assert_int_equal(r->events[1].type, ETCDJ_DELETE);
	assert_false(r->events[1].has_prev_kv);
	assert_kv(&r->kvs[r->events[1].kv], "foo", "");
	assert_int_equal(r->kvs[r->events[1].kv].mod_revision, 7);
	assert_int_equal(r->events[2].type, ETCDJ_PUT);
	assert_kv(&r->kvs[r->events[2].kv], "b1", "y");
	assert_false(etcdj_is_progress(r));
	etcdj_reply_free(r);

	/* A progress notification: the header alone. */
	r = decode_all(ETCDJ_WATCH, &elim, "{\"result\":{" HDR "}}", NULL);
	assert_true(etcdj_is_progress(r));
	assert_int_equal(r->header.revision, 3);
	etcdj_reply_free(r);

	/* Canceled for compaction: the header has no revision then; a reason; a fragment. */
	r = decode_all(ETCDJ_WATCH, &elim, "{\"result\":{\"header\":{\"cluster_id\":\"1\",\"raft_term\":\"2\"},"
	    "\"watch_id\":\"7\",\"canceled\":true,\"compact_revision\":\"6\",\"cancel_reason\":\"compacted\\n\","
	    "\"fragment\":true}}", NULL);
	assert_true(r->canceled);
	assert_int_equal(r->compact_revision, 6);
	assert_string_equal(r->cancel_reason, "compacted\n");
	assert_true(r->fragment);
	assert_int_equal(r->header.revision, 0);
	assert_false(etcdj_is_progress(r));
	etcdj_reply_free(r);
}

static void
test_etcd_errors(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	r = decode_all(ETCDJ_UNARY, &elim, "{\"error\":\"etcdserver: mvcc: required revision has been compacted\","
	    "\"message\":\"etcdserver: mvcc: required revision has been compacted\",\"code\":11}", NULL);
	assert_true(r->is_error);
	assert_int_equal(r->code, 11);
	assert_string_equal(r->error, "etcdserver: mvcc: required revision has been compacted");
	assert_string_equal(r->message, "etcdserver: mvcc: required revision has been compacted");
	etcdj_reply_free(r);
	r = decode_all(ETCDJ_UNARY, &elim, "{\"error\":\"unexpected EOF\",\"code\":3,\"message\":\"unexpected EOF\","
	    "\"details\":[]}", NULL);
	assert_true(r->is_error);
	assert_int_equal(r->code, 3);
	etcdj_reply_free(r);
	/* grpc-gateway's stream error. */
	r = decode_all(ETCDJ_WATCH, &elim, "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"transport "
	    "is closing\",\"http_status\":\"Service Unavailable\",\"details\":[]}}", NULL);
	assert_true(r->is_error);
	assert_int_equal(r->code, 14);
	assert_int_equal(r->http_code, 503);
	assert_string_equal(r->message, "transport is closing");
	assert_null(r->error);
	assert_false(etcdj_is_progress(r));
	etcdj_reply_free(r);
	r = decode_all(ETCDJ_WATCH, &elim, "{\"error\":\"x\",\"code\":2,\"message\":\"y\"}", NULL);
	assert_true(r->is_error);
	assert_int_equal(r->code, 2);
	etcdj_reply_free(r);
}

static void
test_etcd_unknown_fields(void **state)
{
	struct etcdj_reply *r;

	(void)state;
	/* Fields a newer etcd may add, of every JSON type and nested, are skipped. */
	r = decode_all(ETCDJ_UNARY, &elim, "{\"future\":[{\"kvs\":[1,{\"key\":5}]},null,\"x\"],\"header\":"
	    "{\"revision\":\"12\",\"new\":{\"a\":[true]}},\"kvs\":[{\"key\":\"YQ==\",\"extra\":\"1\"}],"
	    "\"n\":-1.5e3,\"t\":true,\"z\":null}", NULL);
	assert_int_equal(r->header.revision, 12);
	assert_int_equal(r->n_kvs, 1);
	assert_kv(&r->kvs[0], "a", "");
	etcdj_reply_free(r);
	/* null for a known field is its default. */
	r = decode_all(ETCDJ_UNARY, &elim, "{" HDR ",\"kvs\":null,\"count\":null,\"more\":null}", NULL);
	assert_int_equal(r->n_kvs, 0);
	etcdj_reply_free(r);
}

/* A reply the decoder must refuse with a reason containing why. */
static void
refused(enum etcdj_kind kind, const struct etcdj_limits *lim, const char *in, const char *why)
{
	assert_null(decode_all(kind, lim == NULL ? &elim : lim, in, why));
}

static void
test_etcd_numbers(void **state)
{
	struct etcdj_reply *r;
	int64_t i;
	uint64_t u;

	(void)state;
	assert_int_equal(etcdj_parse_i64("0", 1, &i), 0);
	assert_int_equal(i, 0);
	assert_int_equal(etcdj_parse_i64("9223372036854775807", 19, &i), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(etcdj_parse_i64("9223372036854775808", 19, &i), -1);
	assert_int_equal(etcdj_parse_u64("18446744073709551615", 20, &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(etcdj_parse_u64("18446744073709551616", 20, &u), -1);
	assert_int_equal(etcdj_parse_u64("99999999999999999999", 20, &u), -1);
	assert_int_equal(etcdj_parse_i64("", 0, &i), -1);
	assert_int_equal(etcdj_parse_i64("01", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64("00", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64("-1", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64("+1", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64(" 1", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64("1 ", 2, &i), -1);
	assert_int_equal(etcdj_parse_i64("1a", 2, &i), -1);

	r = decode_all(ETCDJ_UNARY, &elim, "{\"header\":{\"cluster_id\":\"18446744073709551615\",\"revision\":"
	    "\"9223372036854775807\"}}", NULL);
	assert_true(r->header.cluster_id == UINT64_MAX);
	assert_true(r->header.revision == INT64_MAX);
	etcdj_reply_free(r);
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":\"9223372036854775808\"}}", "revision: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"cluster_id\":\"18446744073709551616\"}}", "cluster_id: not a");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":\"-1\"}}", "revision: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":\"01\"}}", "revision: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":\"\"}}", "revision: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":5}}", "revision: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"count\":\"1e3\"}", "count: not a decimal");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"member_id\":\"+3\"}}", "member_id: not a");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"raft_term\":true}}", "raft_term: not a");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"version\":\"1.0\"}]}", "version: not a");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"lease\":\"x\"}]}", "lease: not a");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":1}]}",
	    "create_revision: not a");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"mod_revision\":\" 1\"}]}",
	    "mod_revision: not a");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"deleted\":\"-2\"}", "deleted: not a");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"watch_id\":\"-1\"}}", "watch_id: not a");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"compact_revision\":\"x\"}}", "compact_revision: not a");
	/* "code" is an int32 JSON number. */
	refused(ETCDJ_UNARY, NULL, "{\"error\":\"x\",\"code\":\"3\"}", "code: not an integer");
	refused(ETCDJ_UNARY, NULL, "{\"error\":\"x\",\"code\":3.0}", "code: not an integer");
	refused(ETCDJ_UNARY, NULL, "{\"error\":\"x\",\"code\":-1}", "code: not an integer");
	refused(ETCDJ_UNARY, NULL, "{\"error\":\"x\",\"code\":2147483648}", "code: not an integer");
	refused(ETCDJ_WATCH, NULL, "{\"error\":{\"grpc_code\":1e1}}", "grpc_code: not an integer");
	refused(ETCDJ_WATCH, NULL, "{\"error\":{\"http_code\":\"503\"}}", "http_code: not an integer");
}

static void
test_etcd_base64(void **state)
{
	uint8_t out[8];
	size_t n;

	(void)state;
	assert_int_equal(etcdj_base64_decode("Zg==", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(out, "f", 1);
	assert_int_equal(etcdj_base64_decode("Zm8=", 4, out, sizeof(out), &n), 0);
	assert_memory_equal(out, "fo", 2);
	assert_int_equal(etcdj_base64_decode("Zm9vYmFy", 8, out, sizeof(out), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(etcdj_base64_decode("+/+/", 4, out, sizeof(out), &n), 0);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	assert_int_equal(etcdj_base64_decode("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(etcdj_base64_decode("Zm9", 3, out, sizeof(out), &n), -1);	/* unpadded */
	assert_int_equal(etcdj_base64_decode("Zm9v=", 5, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("Zh==", 4, out, sizeof(out), &n), -1);	/* bits after the byte */
	assert_int_equal(etcdj_base64_decode("Zm9=", 4, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("Zm=v", 4, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("Z===", 4, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("====", 4, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("Zg==Zg==", 8, out, sizeof(out), &n), -1);	/* padding inside */
	assert_int_equal(etcdj_base64_decode("Z m9", 4, out, sizeof(out), &n), -1);
	assert_int_equal(etcdj_base64_decode("Zm-_", 4, out, sizeof(out), &n), -1);	/* URL alphabet */
	assert_int_equal(etcdj_base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);		/* over cap */
	assert_int_equal(etcdj_base64_max(8), 6);

	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"Zm9\"}]}", "key: not base64");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"Zh==\"}]}", "key: not base64");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"Zm=v\"}]}", "value: not base64");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"====\"}]}", "value: not base64");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"Zm9v\\n\"}]}", "value: not");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":1}]}", "key: not a string");
}

static void
test_etcd_limits(void **state)
{
	struct etcdj_limits lim = elim;
	struct etcdj_reply *r;

	(void)state;
	/* Keys and values up to their limits pass; one byte more is refused before it is decoded. */
	lim.max_key = 3;
	lim.max_value = 4;
	r = decode_all(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"value\":\"YWJjZA==\"}]}", NULL);
	assert_kv(&r->kvs[0], "foo", "abcd");
	etcdj_reply_free(r);
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"Zm9vYg==\"}]}", "key: 4 bytes, more than the limit");
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"value\":\"YWJjZGU=\"}]}",
	    "value: 5 bytes, more than the limit");
	/* max_kvs counts every kv of a reply: a Range's, a Txn's ranges', events' kv and prev_kv. */
	lim = elim;
	lim.max_kvs = 2;
	r = decode_all(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg==\"}]}", NULL);
	etcdj_reply_free(r);
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"Yg==\"},{\"key\":\"Yw==\"}]}",
	    "more key-values than the limit (2)");
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":\"YQ==\"}]}},"
	    "{\"response_range\":{\"kvs\":[{\"key\":\"YQ==\"},{\"key\":\"YQ==\"}]}}]}", "more key-values");
	refused(ETCDJ_WATCH, &lim, "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"YQ==\"},\"prev_kv\":"
	    "{\"key\":\"YQ==\"}},{\"kv\":{\"key\":\"YQ==\"}}]}}", "more key-values");
	lim = elim;
	lim.max_responses = 1;
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"responses\":[{\"response_put\":{}},{\"response_put\":{}}]}",
	    "more Txn responses than the limit (1)");
	lim = elim;
	lim.max_events = 1;
	r = decode_all(ETCDJ_WATCH, &lim, "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"YQ==\"}}]}}", NULL);
	etcdj_reply_free(r);
	refused(ETCDJ_WATCH, &lim, "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"YQ==\"}},{\"kv\":"
	    "{\"key\":\"YQ==\"}}]}}", "more events than the limit (1)");
	/* The parser's own limits come back as its reasons. */
	lim = elim;
	lim.json.max_value_size = 40;
	refused(ETCDJ_UNARY, &lim, "{" HDR "}", "a value longer than the limit");
	lim = elim;
	lim.json.max_depth = 2;
	refused(ETCDJ_UNARY, &lim, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\"}]}", "nesting deeper than the limit");
	lim = elim;
	lim.json.max_string = 8;
	refused(ETCDJ_UNARY, &lim, "{" HDR "}", "a string or number longer than the limit");
	lim = elim;
	lim.json.max_members = 3;
	refused(ETCDJ_UNARY, &lim, "{" HDR "}", "more members or elements than the limit");
	lim = elim;
	lim.max_kvs = 0;
	assert_null(etcdj_decoder_new(ETCDJ_UNARY, &lim));
}

static void
test_etcd_shape_errors(void **state)
{
	struct etcdj_decoder *d;
	struct etcdj_reply *r;
	size_t used;
	uint64_t off;
	const char *two = "{" HDR "}{" HDR "}";

	(void)state;
	refused(ETCDJ_UNARY, NULL, "[]", "the reply is not an object");
	refused(ETCDJ_UNARY, NULL, "{}", "a reply without a header");
	refused(ETCDJ_WATCH, NULL, "{}", "a watch item with neither result nor error");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{}}", "a watch result without a header");
	refused(ETCDJ_UNARY, NULL, "{" HDR "," HDR "}", "header: twice in one object");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"key\":\"YQ==\",\"key\":\"YQ==\"}]}", "key: twice");
	refused(ETCDJ_UNARY, NULL, "{\"header\":\"x\"}", "header: not");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":{}}", "kvs: not the JSON type");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":\"x\"}", "kvs: not an array");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[\"x\"]}", "an element of an array of etcd's is not an object");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[[]]}", "an element of an array of etcd's is not an object");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"more\":\"true\"}", "more: not true or false");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"succeeded\":1}", "succeeded: not true or false");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"kvs\":[{\"value\":\"YQ==\"}]}", "a key-value without a key");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"responses\":[{}]}", "a Txn response without an operation");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"responses\":[{\"response_put\":{},\"response_range\":{}}]}",
	    "a Txn response with two operations");
	refused(ETCDJ_UNARY, NULL, "{" HDR ",\"responses\":[{\"response_put\":[]}]}", "response_put: not the");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"events\":[{\"type\":\"DELETE\"}]}}", "an event without a kv");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"events\":[{\"type\":\"PATCH\",\"kv\":{\"key\":\"\"}}]}}",
	    "type: not PUT or DELETE");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"events\":[{\"type\":0,\"kv\":{\"key\":\"\"}}]}}",
	    "type: not PUT or DELETE");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"cancel_reason\":\"a\\u0000b\"}}", "cancel_reason: not a");
	refused(ETCDJ_WATCH, NULL, "{\"result\":{" HDR ",\"cancel_reason\":5}}", "cancel_reason: not a string");
	refused(ETCDJ_WATCH, NULL, "{\"result\":[]}", "result: not the JSON type");
	refused(ETCDJ_WATCH, NULL, "{\"error\":[]}", "error: not the JSON type");
	refused(ETCDJ_WATCH, NULL, "{\"error\":{\"http_status\":1}}", "http_status: not a string");
	refused(ETCDJ_UNARY, NULL, "{\"error\":\"x\",\"message\":true}", "message: not a string");
	refused(ETCDJ_UNARY, NULL, "{\"header\":{\"revision\":\"1\"", "no reply");	/* truncated */
	refused(ETCDJ_UNARY, NULL, "{\"a\":\"\xff\"}", "a string that is not UTF-8");

	/* Two replies in one feed: the second waits until the first is taken. */
	assert_non_null(d = etcdj_decoder_new(ETCDJ_UNARY, &elim));
	assert_int_equal(etcdj_decoder_feed(d, (const uint8_t *)two, strlen(two), &used), JSTREAM_VALUE);
	assert_int_equal(used, strlen(two) / 2);
	assert_false(etcdj_decoder_busy(d));
	assert_int_equal(etcdj_decoder_feed(d, (const uint8_t *)two + used, strlen(two) - used, &used), JSTREAM_ERROR);
	assert_int_equal(used, 0);
	assert_non_null(strstr(etcdj_decoder_error(d, &off), "before the previous reply was taken"));
	assert_non_null(r = etcdj_decoder_take(d));
	etcdj_reply_free(r);
	assert_int_equal(etcdj_decoder_feed(d, (const uint8_t *)two + strlen(two) / 2, 5, &used), JSTREAM_NEED_MORE);
	assert_true(etcdj_decoder_busy(d));
	/* Reset drops the partial reply; a whole one decodes after it. */
	etcdj_decoder_reset(d);
	assert_false(etcdj_decoder_busy(d));
	assert_int_equal(etcdj_decoder_feed(d, (const uint8_t *)two, strlen(two) / 2, &used), JSTREAM_VALUE);
	assert_non_null(r = etcdj_decoder_take(d));
	assert_int_equal(r->header.revision, 3);
	etcdj_reply_free(r);
	/* An error's offset is the stream's: the second reply's bad byte. */
	assert_int_equal(etcdj_decoder_feed(d, (const uint8_t *)"{\"header\":{\"revision\":\"x\"}}", 28, &used),
	    JSTREAM_ERROR);
	assert_non_null(strstr(etcdj_decoder_error(d, &off), "revision: not a decimal"));
	assert_int_equal(off, strlen(two) / 2 + 24);	/* the quote that ends "x" */
	etcdj_decoder_free(d);
}

/* A watch stream as etcd 3.4's gateway sent it (one object per line), fed in every chunk size. */
static void
test_etcd_watch_stream(void **state)
{
	static const char stream[] =
	    "{\"result\":{" HDR ",\"created\":true}}\n"
	    "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\","
	    "\"mod_revision\":\"5\",\"version\":\"4\"}}]}}\n"
	    "{\"result\":{" HDR ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"7\"}}]}}\n"
	    "{\"result\":{" HDR "}}"	/* no separator at all before the next */
	    "{\"result\":{" HDR ",\"watch_id\":\"1\",\"canceled\":true,\"compact_revision\":\"6\"}}\n";
	size_t len = strlen(stream), chunk;

	(void)state;
	for (chunk = 1; chunk <= len; chunk++) {
		struct etcdj_decoder *d = etcdj_decoder_new(ETCDJ_WATCH, &elim);
		size_t pos = 0, n_items = 0, used;
		bool kinds[5] = { false };

		assert_non_null(d);
		while (pos < len) {
			size_t n = len - pos < chunk ? len - pos : chunk;
			size_t end = pos + n;

			while (pos < end) {
				enum jstream_status st = etcdj_decoder_feed(d, (const uint8_t *)stream + pos, end - pos,
				    &used);
				struct etcdj_reply *r;

				assert_int_not_equal(st, JSTREAM_ERROR);
				pos += used;
				if (st != JSTREAM_VALUE)
					continue;
				assert_non_null(r = etcdj_decoder_take(d));
				assert_true(n_items < 5);
				switch (n_items) {
				case 0:
					kinds[0] = r->created;
					break;
				case 1:
					kinds[1] = r->n_events == 1 && r->events[0].type == ETCDJ_PUT;
					break;
				case 2:
					kinds[2] = r->n_events == 1 && r->events[0].type == ETCDJ_DELETE;
					break;
				case 3:
					kinds[3] = etcdj_is_progress(r);
					break;
				default:
					kinds[4] = r->canceled && r->compact_revision == 6 && r->watch_id == 1;
					break;
				}
				n_items++;
				etcdj_reply_free(r);
			}
		}
		assert_int_equal(n_items, 5);
		assert_true(kinds[0] && kinds[1] && kinds[2] && kinds[3] && kinds[4]);
		assert_false(etcdj_decoder_busy(d));
		etcdj_decoder_free(d);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_value_stream),
		cmocka_unit_test(test_busy_and_reset),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_toplevel_errors),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_number_and_literal_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_callback_refusal),
		cmocka_unit_test(test_bad_limits),
		cmocka_unit_test(test_etcd_range),
		cmocka_unit_test(test_etcd_put_delete_compaction),
		cmocka_unit_test(test_etcd_txn),
		cmocka_unit_test(test_etcd_watch),
		cmocka_unit_test(test_etcd_errors),
		cmocka_unit_test(test_etcd_unknown_fields),
		cmocka_unit_test(test_etcd_numbers),
		cmocka_unit_test(test_etcd_base64),
		cmocka_unit_test(test_etcd_limits),
		cmocka_unit_test(test_etcd_shape_errors),
		cmocka_unit_test(test_etcd_watch_stream),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
