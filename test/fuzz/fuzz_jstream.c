/*
 * libFuzzer target for the JSON parser and the etcd decoder (proto/jstream.h). The first input byte chooses
 * how the rest is split into feeds (its low 6 bits plus one: bytes per feed) and which decoder reads it (its
 * top bit: a watch stream or unary replies), so the fuzzer explores every resumption point. The rest goes
 * through the etcd decoder in those feeds, and through a bare parser whole: both must agree on where the
 * values end and where an error is, each reply must hold only indices inside its own arrays, and the parser
 * must never report a token deeper than its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct etcdj_limits lim = {
	.json = { .max_value_size = 16384, .max_depth = 12, .max_string = 2048, .max_members = 64 },
	.max_kvs = 32, .max_responses = 8, .max_events = 8, .max_key = 64, .max_value = 1024,
};

/* Counts tokens and checks what the parser promises each callback: depth within the limit, NUL after text. */
static int
check_token(void *arg, enum jstream_token tok, const char *s, size_t len, unsigned depth)
{
	size_t *tokens = arg;

	if (depth > lim.json.max_depth)
		abort();
	if ((tok == JSTREAM_NAME || tok == JSTREAM_STRING || tok == JSTREAM_NUMBER) &&
	    (s == NULL || len > lim.json.max_string || s[len] != '\0'))
		abort();
	(*tokens)++;
	return 0;
}

/* Aborts unless every index in r points inside its arrays and every length is within the limits. */
static void
check_reply(const struct etcdj_reply *r)
{
	size_t i, k, sum = 0;

	if (r->n_kvs > lim.max_kvs || r->n_responses > lim.max_responses || r->n_events > lim.max_events)
		abort();
	for (i = 0; i < r->n_kvs; i++) {
		if (r->kvs[i].key == NULL || r->kvs[i].value == NULL || r->kvs[i].key_len > lim.max_key ||
		    r->kvs[i].value_len > lim.max_value)
			abort();
		/* Read every byte, so that the sanitizer sees any read past the arena. */
		for (k = 0; k < r->kvs[i].key_len; k++)
			sum += r->kvs[i].key[k];
		for (k = 0; k < r->kvs[i].value_len; k++)
			sum += r->kvs[i].value[k];
		if (r->kvs[i].create_revision < 0 || r->kvs[i].mod_revision < 0)
			abort();
	}
	for (i = 0; i < r->n_responses; i++)
		if (r->responses[i].first_kv > r->n_kvs || r->responses[i].n_kvs > r->n_kvs - r->responses[i].first_kv)
			abort();
	for (i = 0; i < r->n_events; i++)
		if (r->events[i].kv >= r->n_kvs || (r->events[i].has_prev_kv && r->events[i].prev_kv >= r->n_kvs))
			abort();
	if ((r->error != NULL && strlen(r->error) > lim.json.max_string) ||
	    (r->message != NULL && strlen(r->message) > lim.json.max_string) ||
	    (r->cancel_reason != NULL && strlen(r->cancel_reason) > lim.json.max_string))
		abort();
	if (sum == SIZE_MAX)	/* never: keeps the reads */
		abort();
	(void)etcdj_is_progress(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcdj_decoder *d;
	struct jstream *j;
	size_t chunk, off = 0, used, values = 0, whole_values = 0, tokens = 0, pos = 0;
	enum jstream_status st = JSTREAM_NEED_MORE, wst = JSTREAM_NEED_MORE;
	bool failed = false;
	uint64_t eoff = 0, woff = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x3F) + 1;
	if ((d = etcdj_decoder_new(data[0] & 0x80 ? ETCDJ_WATCH : ETCDJ_UNARY, &lim)) == NULL)
		abort();
	data++, size--;
	while (off < size && !failed) {
		size_t n = size - off < chunk ? size - off : chunk, end = off + n;

		while (off < end) {
			st = etcdj_decoder_feed(d, data + off, end - off, &used);
			if (used > end - off)
				abort();
			off += used;
			if (st == JSTREAM_ERROR) {
				if (etcdj_decoder_error(d, &eoff) == NULL || eoff != off)
					abort();
				failed = true;
				break;
			}
			if (st == JSTREAM_VALUE) {
				struct etcdj_reply *r = etcdj_decoder_take(d);

				if (r == NULL)
					abort();
				check_reply(r);
				etcdj_reply_free(r);
				values++;
			} else if (off != end)
				abort();
		}
	}
	etcdj_decoder_free(d);

	/* The bare parser over the same bytes, whole: it must find the same value ends, or an error no later. */
	if ((j = jstream_new(&lim.json, check_token, &tokens)) == NULL)
		abort();
	while (pos < size) {
		wst = jstream_feed(j, data + pos, size - pos, &used);
		if (used > size - pos)
			abort();
		pos += used;
		if (wst == JSTREAM_ERROR) {
			(void)jstream_error(j, &woff);
			if (woff != pos)
				abort();
			break;
		}
		if (wst == JSTREAM_VALUE)
			whole_values++;
	}
	/* The decoder refuses what the parser accepts (shapes), never the reverse, and never later. */
	if (wst == JSTREAM_ERROR && (!failed || eoff > woff))
		abort();
	if (!failed && whole_values != values)
		abort();
	if (whole_values < values)
		abort();
	jstream_free(j);
	return 0;
}
