/*
 * The TTLV encoder: appends items to a growable buffer and fills in a Structure's length when it closes.
 * Errors are sticky, so a message is written straight through and checked once in ttlv_enc_finish().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/encode.h"
#include "proto/ttlv.h"

#define ENC_MAX_SIZE	((size_t)1 << 30)	/* no KMIP message comes near this */
#define ENC_MAX_DEPTH	(sizeof(((struct ttlv_enc *)0)->open) / sizeof(size_t))

/* Starts an empty encoder. */
void
ttlv_enc_init(struct ttlv_enc *e)
{
	memset(e, 0, sizeof(*e));
}

/* Caps the message's length; see encode.h. */
void
ttlv_enc_set_limit(struct ttlv_enc *e, size_t limit)
{
	e->limit = limit;
}

/* The room left under the limit; see encode.h. */
size_t
ttlv_enc_room(const struct ttlv_enc *e)
{
	size_t max = e->limit != 0 && e->limit < ENC_MAX_SIZE ? e->limit : ENC_MAX_SIZE;

	if (e->error != 0 || e->len >= max)
		return 0;
	return max - e->len;
}

/* Fails the encoder as an over-long write would; see encode.h. */
void
ttlv_enc_overflow(struct ttlv_enc *e)
{
	if (e->error == 0)
		e->error = EMSGSIZE;
}

/* Wipes and frees the buffer; the encoder may be initialised again. */
void
ttlv_enc_free(struct ttlv_enc *e)
{
	if (e->buf != NULL) {
		explicit_bzero(e->buf, e->len);
		free(e->buf);
	}
	memset(e, 0, sizeof(*e));
}

/* Empties the buffer (wiping it) for the next message, keeping its memory. */
void
ttlv_enc_reset(struct ttlv_enc *e)
{
	if (e->buf != NULL)
		explicit_bzero(e->buf, e->len);
	e->len = 0;
	e->depth = 0;
	e->error = 0;
}

/* Makes room for n more bytes; false (and a sticky error) when that is not possible. */
static bool
reserve(struct ttlv_enc *e, size_t n)
{
	size_t cap, max = e->limit != 0 && e->limit < ENC_MAX_SIZE ? e->limit : ENC_MAX_SIZE;
	uint8_t *nb;

	if (e->error != 0)
		return false;
	if (e->len > max || n > max - e->len) {
		e->error = EMSGSIZE;
		return false;
	}
	if (e->len + n <= e->cap)
		return true;
	cap = e->cap == 0 ? 512 : e->cap;
	while (cap < e->len + n)
		cap *= 2;
	/* Doubling past the limit would reserve memory that no write may use. */
	if (e->limit != 0 && cap > e->limit && e->limit >= e->len + n)
		cap = e->limit;
	/* Not realloc: the old buffer may hold key material and must be wiped, not left in the heap. */
	if ((nb = malloc(cap)) == NULL) {
		e->error = ENOMEM;
		return false;
	}
	if (e->buf != NULL) {
		memcpy(nb, e->buf, e->len);
		explicit_bzero(e->buf, e->len);
		free(e->buf);
	}
	e->buf = nb;
	e->cap = cap;
	return true;
}

/* Appends a header and a value of len bytes (copied from p, or sign-filled) padded to 8 bytes. */
static void
put_item(struct ttlv_enc *e, uint32_t tag, uint8_t type, const void *p, size_t len)
{
	size_t padded = (len + 7) & ~(size_t)7;
	uint8_t *w;

	if (len > UINT32_MAX) {
		if (e->error == 0)
			e->error = EMSGSIZE;
		return;
	}
	if (!reserve(e, TTLV_HEADER_SIZE + padded))
		return;
	w = e->buf + e->len;
	w[0] = tag >> 16;
	w[1] = tag >> 8;
	w[2] = tag;
	w[3] = type;
	ttlv_put32(w + 4, (uint32_t)len);
	if (len > 0)
		memcpy(w + 8, p, len);
	memset(w + 8 + len, 0, padded - len);
	e->len += TTLV_HEADER_SIZE + padded;
}

/* Opens a Structure; its length is written by ttlv_enc_end(). */
void
ttlv_enc_begin(struct ttlv_enc *e, uint32_t tag)
{
	if (e->error != 0)
		return;
	if (e->depth >= ENC_MAX_DEPTH) {
		e->error = E2BIG;
		return;
	}
	e->open[e->depth] = e->len;
	put_item(e, tag, TTLV_STRUCTURE, NULL, 0);
	if (e->error == 0)
		e->depth++;
}

/* Closes the innermost open Structure, writing its length. */
void
ttlv_enc_end(struct ttlv_enc *e)
{
	size_t start, len;

	if (e->error != 0)
		return;
	if (e->depth == 0) {
		e->error = EINVAL;
		return;
	}
	start = e->open[--e->depth];
	len = e->len - start - TTLV_HEADER_SIZE;
	if (len > UINT32_MAX) {
		e->error = EMSGSIZE;
		return;
	}
	ttlv_put32(e->buf + start + 4, (uint32_t)len);
}

/* Appends an Integer. */
void
ttlv_enc_int(struct ttlv_enc *e, uint32_t tag, int32_t v)
{
	uint8_t b[4];

	ttlv_put32(b, (uint32_t)v);
	put_item(e, tag, TTLV_INTEGER, b, 4);
}

/* Appends a Long Integer. */
void
ttlv_enc_long(struct ttlv_enc *e, uint32_t tag, int64_t v)
{
	uint8_t b[8];

	ttlv_put64(b, (uint64_t)v);
	put_item(e, tag, TTLV_LONG_INTEGER, b, 8);
}

/* Appends an Enumeration. */
void
ttlv_enc_enum(struct ttlv_enc *e, uint32_t tag, uint32_t v)
{
	uint8_t b[4];

	ttlv_put32(b, v);
	put_item(e, tag, TTLV_ENUMERATION, b, 4);
}

/* Appends a Boolean. */
void
ttlv_enc_bool(struct ttlv_enc *e, uint32_t tag, bool v)
{
	uint8_t b[8];

	ttlv_put64(b, v ? 1 : 0);
	put_item(e, tag, TTLV_BOOLEAN, b, 8);
}

/* Appends a Text String of len bytes. */
void
ttlv_enc_text(struct ttlv_enc *e, uint32_t tag, const char *s, size_t len)
{
	put_item(e, tag, TTLV_TEXT_STRING, s, len);
}

/* Appends a Text String from a C string. */
void
ttlv_enc_cstr(struct ttlv_enc *e, uint32_t tag, const char *s)
{
	put_item(e, tag, TTLV_TEXT_STRING, s, strlen(s));
}

/* Appends a Byte String. */
void
ttlv_enc_bytes(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len)
{
	put_item(e, tag, TTLV_BYTE_STRING, p, len);
}

/* Appends a Big Integer, sign-extending big-endian two's complement bytes to a multiple of 8 (0 for none). */
void
ttlv_enc_bigint(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len)
{
	const uint8_t *in = p;
	size_t padded = len == 0 ? 8 : (len + 7) & ~(size_t)7;
	uint8_t fill = (len > 0 && (in[0] & 0x80)) ? 0xff : 0x00;
	uint8_t *w;

	if (len > UINT32_MAX - 8) {
		if (e->error == 0)
			e->error = EMSGSIZE;
		return;
	}
	if (!reserve(e, TTLV_HEADER_SIZE + padded))
		return;
	w = e->buf + e->len;
	w[0] = tag >> 16;
	w[1] = tag >> 8;
	w[2] = tag;
	w[3] = TTLV_BIG_INTEGER;
	ttlv_put32(w + 4, (uint32_t)padded);
	memset(w + 8, fill, padded - len);
	if (len > 0)
		memcpy(w + 8 + padded - len, in, len);
	e->len += TTLV_HEADER_SIZE + padded;
}

/* Appends a Date-Time (seconds since the epoch). */
void
ttlv_enc_datetime(struct ttlv_enc *e, uint32_t tag, int64_t seconds)
{
	uint8_t b[8];

	ttlv_put64(b, (uint64_t)seconds);
	put_item(e, tag, TTLV_DATE_TIME, b, 8);
}

/* Appends an Interval (seconds). */
void
ttlv_enc_interval(struct ttlv_enc *e, uint32_t tag, uint32_t seconds)
{
	uint8_t b[4];

	ttlv_put32(b, seconds);
	put_item(e, tag, TTLV_INTERVAL, b, 4);
}

/* Appends a Date-Time Extended (microseconds since the epoch). */
void
ttlv_enc_datetime_ext(struct ttlv_enc *e, uint32_t tag, int64_t usec)
{
	uint8_t b[8];

	ttlv_put64(b, (uint64_t)usec);
	put_item(e, tag, TTLV_DATE_TIME_EXTENDED, b, 8);
}

/* Appends an item and everything under it. */
void
ttlv_enc_item(struct ttlv_enc *e, const struct ttlv *t)
{
	const struct ttlv *c;

	switch (t->type) {
	case TTLV_STRUCTURE:
		ttlv_enc_begin(e, t->tag);
		for (c = t->v.s.first; c != NULL; c = c->next)
			ttlv_enc_item(e, c);
		ttlv_enc_end(e);
		break;
	case TTLV_INTEGER:
		ttlv_enc_int(e, t->tag, t->v.i32);
		break;
	case TTLV_LONG_INTEGER:
		ttlv_enc_long(e, t->tag, t->v.i64);
		break;
	case TTLV_ENUMERATION:
		ttlv_enc_enum(e, t->tag, t->v.u32);
		break;
	case TTLV_BOOLEAN:
		ttlv_enc_bool(e, t->tag, t->v.b);
		break;
	case TTLV_DATE_TIME:
		ttlv_enc_datetime(e, t->tag, t->v.i64);
		break;
	case TTLV_INTERVAL:
		ttlv_enc_interval(e, t->tag, t->v.u32);
		break;
	case TTLV_DATE_TIME_EXTENDED:
		ttlv_enc_datetime_ext(e, t->tag, t->v.i64);
		break;
	case TTLV_TEXT_STRING:
	case TTLV_BYTE_STRING:
	case TTLV_BIG_INTEGER:
		/* A decoded Big Integer is already a multiple of 8 and is written as it came. */
		put_item(e, t->tag, t->type, t->v.bytes.data, t->length);
		break;
	default:
		if (e->error == 0)
			e->error = EINVAL;
		break;
	}
}

/* Appends pre-encoded items. */
void
ttlv_enc_raw(struct ttlv_enc *e, const void *p, size_t len)
{
	if (len == 0 || len % 8 != 0) {
		if (len != 0 && e->error == 0)
			e->error = EINVAL;
		return;
	}
	if (!reserve(e, len))
		return;
	memcpy(e->buf + e->len, p, len);
	e->len += len;
}

/* Returns 0 when the message is complete and well-formed, else -1 with errno set to the first error. */
int
ttlv_enc_finish(struct ttlv_enc *e)
{
	if (e->error == 0 && e->depth != 0)
		e->error = EINVAL;
	if (e->error != 0) {
		errno = e->error;
		return -1;
	}
	return 0;
}

/* Returns the current end of the output, to rewind to if what follows must be dropped. */
struct ttlv_enc_mark
ttlv_enc_mark(const struct ttlv_enc *e)
{
	struct ttlv_enc_mark m = { e->len, e->depth, e->error };

	return m;
}

/* Drops and wipes everything written after m; an error raised after m is cleared with it. */
void
ttlv_enc_rewind(struct ttlv_enc *e, struct ttlv_enc_mark m)
{
	if (m.len > e->len || m.depth > e->depth)
		return;
	if (e->len > m.len)
		explicit_bzero(e->buf + m.len, e->len - m.len);
	e->len = m.len;
	e->depth = m.depth;
	e->error = m.error;
}

/* Gives the buffer to the caller and leaves the encoder empty. */
uint8_t *
ttlv_enc_detach(struct ttlv_enc *e, size_t *len)
{
	uint8_t *buf = e->buf;

	*len = e->len;
	e->buf = NULL;
	e->len = 0;
	e->cap = 0;
	e->depth = 0;
	e->error = 0;
	return buf;
}
