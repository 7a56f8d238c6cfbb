/*
 * The incremental TTLV decoder: a pure state machine. It is fed whatever bytes arrived, in any split, keeps
 * its place between calls (a header or value split across reads needs no re-buffering by the caller), and
 * yields NEED_MORE, DONE with a tree, or ERROR with a reason and an offset. Every length is checked against
 * the message limit and the enclosing structure before anything is allocated for it.
 *
 * A message being received costs its size and no more: its bytes go, once, into one buffer of the length
 * the top-level header announced (mapped on demand when large, so only the pages received are used), and
 * each header and value is checked there as it completes. The tree, whose items take several times the
 * wire size of small items, is built only when the message is whole, with values pointing into the buffer,
 * which the tree's arena then owns. A client that sends part of a message and stops holds no more memory
 * than it sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/ttlv.h"

#define DEFAULT_MAX_MESSAGE	(1024 * 1024)
#define DEFAULT_MAX_DEPTH	16

enum dec_state {
	D_HEADER,	/* collecting the 8 header bytes of the next item */
	D_VALUE,	/* collecting a leaf's value bytes */
	D_PAD,		/* skipping a leaf's padding */
	D_DONE,		/* a message is complete, waiting for take() */
	D_ERROR,	/* malformed input, waiting for reset() */
};

struct frame {
	struct ttlv *item;	/* an open Structure (while building the tree) */
	uint64_t end;		/* message offset where its value ends */
};

struct ttlv_decoder {
	struct ttlv_limits lim;
	enum dec_state state;
	uint64_t off;			/* bytes of the current message consumed */
	uint64_t announced;		/* total length from the top-level header */
	uint8_t hdr[TTLV_HEADER_SIZE];
	uint32_t hdr_have;
	uint8_t *msg;			/* the message's bytes as received, announced bytes long */
	uint8_t cur_type;		/* leaf being received: its type, length and where its value starts */
	uint32_t cur_length;
	uint64_t cur_at;
	uint32_t val_have;
	uint32_t pad_left;
	struct ttlv *root;
	struct ttlv_arena *arena;
	unsigned depth;
	enum ttlv_err err;
	uint64_t err_off;
	const char *err_what;
	struct frame stack[];		/* lim.max_depth open structures */
};

static const char *const err_strings[] = {
	[TTLV_ERR_NONE] = "no error",
	[TTLV_ERR_NOT_STRUCTURE] = "top-level item is not a Structure",
	[TTLV_ERR_TOO_LONG] = "message longer than the maximum message size",
	[TTLV_ERR_TOO_DEEP] = "structures nested deeper than the limit",
	[TTLV_ERR_OVERRUN] = "item runs past the end of its enclosing structure",
	[TTLV_ERR_BAD_LENGTH] = "length not valid for the item's type",
	[TTLV_ERR_BAD_TYPE] = "unknown item type",
	[TTLV_ERR_BAD_TAG] = "tag outside the KMIP ranges 0x42xxxx and 0x54xxxx",
	[TTLV_ERR_BAD_VALUE] = "value not valid for the item's type",
	[TTLV_ERR_NOMEM] = "out of memory for the message's items",
	[TTLV_ERR_STATE] = "decoder fed after the end of a message",
	[TTLV_ERR_TRUNCATED] = "message ends early",
	[TTLV_ERR_TRAILING] = "bytes follow the end of the message",
};

/* Returns a sentence describing an error code. */
const char *
ttlv_err_str(enum ttlv_err e)
{
	if ((unsigned)e >= sizeof(err_strings) / sizeof(err_strings[0]) || err_strings[e] == NULL)
		return "unknown error";
	return err_strings[e];
}

/* Returns a decoder with the given limits (NULL: defaults), or NULL when out of memory. */
struct ttlv_decoder *
ttlv_decoder_new(const struct ttlv_limits *limits)
{
	struct ttlv_limits lim = { 0 };
	struct ttlv_decoder *d;

	if (limits != NULL)
		lim = *limits;
	if (lim.max_message_size == 0)
		lim.max_message_size = DEFAULT_MAX_MESSAGE;
	if (lim.max_depth == 0)
		lim.max_depth = DEFAULT_MAX_DEPTH;
	if (lim.max_depth > TTLV_MAX_DEPTH)
		lim.max_depth = TTLV_MAX_DEPTH;
	if (lim.max_arena == 0)
		lim.max_arena = (size_t)lim.max_message_size * 16;
	d = calloc(1, sizeof(*d) + lim.max_depth * sizeof(struct frame));
	if (d == NULL)
		return NULL;
	d->lim = lim;
	return d;
}

/* Drops any partial message, wiping it, and waits for a new one. */
void
ttlv_decoder_reset(struct ttlv_decoder *d)
{
	ttlv_arena_free(d->arena);
	d->arena = NULL;
	/* Only what was received was written: wiping the rest would only make its pages resident. */
	if (d->msg != NULL)
		ttlv_buffer_free(d->msg, d->announced, d->off);
	d->msg = NULL;
	d->root = NULL;
	d->cur_type = 0;
	d->cur_length = 0;
	d->cur_at = 0;
	d->state = D_HEADER;
	d->off = 0;
	d->announced = 0;
	d->hdr_have = 0;
	d->val_have = 0;
	d->pad_left = 0;
	d->depth = 0;
	d->err = TTLV_ERR_NONE;
	d->err_off = 0;
	d->err_what = NULL;
	explicit_bzero(d->hdr, sizeof(d->hdr));
}

/* Frees the decoder and any partial message. */
void
ttlv_decoder_free(struct ttlv_decoder *d)
{
	if (d == NULL)
		return;
	ttlv_decoder_reset(d);
	free(d);
}

/* Returns true while a message has started and is not yet complete. */
bool
ttlv_decoder_busy(const struct ttlv_decoder *d)
{
	return d->off > 0 && d->state != D_DONE;
}

/* Returns the total length announced by the top-level header, or 0 before it is known. */
uint64_t
ttlv_decoder_announced(const struct ttlv_decoder *d)
{
	return d->announced;
}

/* Returns the bytes the message being received holds; see decode.h. */
uint64_t
ttlv_decoder_held(const struct ttlv_decoder *d)
{
	return d->off;
}

/* Returns the last error, its message offset and a sentence. */
enum ttlv_err
ttlv_decoder_error(const struct ttlv_decoder *d, uint64_t *offset, const char **what)
{
	if (offset != NULL)
		*offset = d->err_off;
	if (what != NULL)
		*what = d->err_what != NULL ? d->err_what : ttlv_err_str(d->err);
	return d->err;
}

/* Hands the finished tree and its arena to the caller and resets the decoder; NULL if none is finished. */
struct ttlv *
ttlv_decoder_take(struct ttlv_decoder *d, struct ttlv_arena **arena)
{
	struct ttlv *root = NULL;

	*arena = NULL;
	if (d->state == D_DONE) {
		root = d->root;
		*arena = d->arena;
		d->arena = NULL;
		d->msg = NULL;		/* the arena owns it now */
	}
	ttlv_decoder_reset(d);
	return root;
}

/* Records an error at a message offset; returns TTLV_ERROR for the caller to pass on. */
static enum ttlv_status
fail(struct ttlv_decoder *d, enum ttlv_err err, uint64_t offset, const char *what)
{
	d->state = D_ERROR;
	d->err = err;
	d->err_off = offset;
	d->err_what = what;
	return TTLV_ERROR;
}

/* Returns true when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool
utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		uint8_t c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Returns the length of a fixed-size type's value, 0 for variable-size types, -1 for unknown types. */
static int
fixed_length(uint8_t type)
{
	switch (type) {
	case TTLV_INTEGER:
	case TTLV_ENUMERATION:
	case TTLV_INTERVAL:
		return 4;
	case TTLV_LONG_INTEGER:
	case TTLV_BOOLEAN:
	case TTLV_DATE_TIME:
	case TTLV_DATE_TIME_EXTENDED:
		return 8;
	case TTLV_STRUCTURE:
	case TTLV_BIG_INTEGER:
	case TTLV_TEXT_STRING:
	case TTLV_BYTE_STRING:
		return 0;
	default:
		return -1;
	}
}

/*
 * Closes every open structure that ends at the current offset. Returns true when the whole message is
 * complete.
 */
static bool
item_complete(struct ttlv_decoder *d)
{
	while (d->depth > 0 && d->stack[d->depth - 1].end == d->off)
		d->depth--;
	if (d->depth == 0) {
		d->state = D_DONE;
		return true;
	}
	d->state = D_HEADER;
	return false;
}

/* Checks the received value of the current leaf; TTLV_ERROR when it is not valid for its type. */
static enum ttlv_status
leaf_check(struct ttlv_decoder *d)
{
	const uint8_t *v = d->msg + d->cur_at;

	switch (d->cur_type) {
	case TTLV_BOOLEAN:
		if (ttlv_get64(v) > 1)
			return fail(d, TTLV_ERR_BAD_VALUE, d->cur_at, "Boolean value other than 0 or 1");
		break;
	case TTLV_TEXT_STRING:
		if (memchr(v, 0, d->cur_length) != NULL)
			return fail(d, TTLV_ERR_BAD_VALUE, d->cur_at, "Text String holds a NUL character");
		if (!utf8_valid(v, d->cur_length))
			return fail(d, TTLV_ERR_BAD_VALUE, d->cur_at, "Text String is not valid UTF-8");
		break;
	default:
		break;
	}
	return TTLV_NEED_MORE;
}

/*
 * Acts on a complete header: checks tag, type and length against the limits and the enclosing structure,
 * then allocates the item. Returns TTLV_NEED_MORE to go on, TTLV_DONE when the item completed the message
 * (an empty top-level structure), or TTLV_ERROR.
 */
static enum ttlv_status
header_finish(struct ttlv_decoder *d)
{
	uint64_t start = d->off - TTLV_HEADER_SIZE;
	uint32_t tag = (uint32_t)d->hdr[0] << 16 | (uint32_t)d->hdr[1] << 8 | d->hdr[2];
	uint8_t type = d->hdr[3];
	uint32_t length = ttlv_get32(d->hdr + 4);
	uint64_t padded = ((uint64_t)length + 7) & ~(uint64_t)7;
	uint64_t end = d->off + padded;
	int fixed;

	if ((tag >> 16) != 0x42 && (tag >> 16) != 0x54)
		return fail(d, TTLV_ERR_BAD_TAG, start, NULL);
	if ((fixed = fixed_length(type)) < 0)
		return fail(d, TTLV_ERR_BAD_TYPE, start + 3, NULL);
	if (d->depth == 0) {
		if (type != TTLV_STRUCTURE && !d->lim.any_toplevel)
			return fail(d, TTLV_ERR_NOT_STRUCTURE, start, NULL);
		if (end > d->lim.max_message_size)
			return fail(d, TTLV_ERR_TOO_LONG, start + 4, NULL);
		d->announced = end;
	} else if (end > d->stack[d->depth - 1].end) {
		return fail(d, TTLV_ERR_OVERRUN, start, NULL);
	}
	if (fixed > 0 && length != (uint32_t)fixed)
		return fail(d, TTLV_ERR_BAD_LENGTH, start + 4, "fixed-size item with the wrong length");
	if (type == TTLV_STRUCTURE && length % 8 != 0)
		return fail(d, TTLV_ERR_BAD_LENGTH, start + 4, "Structure length not a multiple of 8");
	if (type == TTLV_BIG_INTEGER && (length == 0 || length % 8 != 0))
		return fail(d, TTLV_ERR_BAD_LENGTH, start + 4, "Big Integer length not a positive multiple of 8");
	if (type == TTLV_STRUCTURE && d->depth >= d->lim.max_depth)
		return fail(d, TTLV_ERR_TOO_DEEP, start, NULL);

	/* The first header: the message's buffer, of the length it announces. */
	if (d->depth == 0) {
		if ((d->msg = ttlv_buffer_new(end)) == NULL)
			return fail(d, TTLV_ERR_NOMEM, start, NULL);
		memcpy(d->msg, d->hdr, TTLV_HEADER_SIZE);
	} else {
		memcpy(d->msg + start, d->hdr, TTLV_HEADER_SIZE);
	}
	if (type == TTLV_STRUCTURE) {
		d->stack[d->depth].item = NULL;
		d->stack[d->depth].end = end;
		d->depth++;
		if (length == 0 && item_complete(d))
			return TTLV_DONE;
		d->state = D_HEADER;
		return TTLV_NEED_MORE;
	}
	d->cur_type = type;
	d->cur_length = length;
	d->cur_at = d->off;
	d->val_have = 0;
	d->pad_left = (uint32_t)(padded - length);
	d->state = D_VALUE;
	return TTLV_NEED_MORE;
}

/*
 * The message is whole and checked: builds its tree in a new arena, values pointing into the message's
 * buffer, which the arena then owns. Returns TTLV_DONE, or TTLV_ERROR (TTLV_ERR_NOMEM at the item that did
 * not fit under max_arena).
 */
static enum ttlv_status
build_tree(struct ttlv_decoder *d)
{
	uint8_t *m = d->msg;
	uint64_t pos = 0, start;
	unsigned depth = 0;
	struct ttlv *t;

	if ((d->arena = ttlv_arena_new()) == NULL)
		return fail(d, TTLV_ERR_NOMEM, 0, NULL);
	ttlv_arena_set_cap(d->arena, d->lim.max_arena);
	while (pos < d->announced) {
		start = pos;
		if ((t = ttlv_arena_alloc(d->arena, sizeof(*t))) == NULL)
			return fail(d, TTLV_ERR_NOMEM, start, NULL);
		t->tag = (uint32_t)m[pos] << 16 | (uint32_t)m[pos + 1] << 8 | m[pos + 2];
		t->type = m[pos + 3];
		t->length = ttlv_get32(m + pos + 4);
		pos += TTLV_HEADER_SIZE;
		if (depth == 0)
			d->root = t;
		else
			ttlv_append(d->stack[depth - 1].item, t);
		if (t->type == TTLV_STRUCTURE) {
			d->stack[depth].item = t;
			d->stack[depth].end = pos + t->length;
			depth++;
		} else {
			switch (t->type) {
			case TTLV_INTEGER:
				t->v.i32 = (int32_t)ttlv_get32(m + pos);
				break;
			case TTLV_ENUMERATION:
			case TTLV_INTERVAL:
				t->v.u32 = ttlv_get32(m + pos);
				break;
			case TTLV_LONG_INTEGER:
			case TTLV_DATE_TIME:
			case TTLV_DATE_TIME_EXTENDED:
				t->v.i64 = (int64_t)ttlv_get64(m + pos);
				break;
			case TTLV_BOOLEAN:
				t->v.b = ttlv_get64(m + pos) == 1;
				break;
			case TTLV_TEXT_STRING:
				/* NUL-terminated in place, over the first byte of padding; a copy when there is none. */
				if (t->length % 8 != 0) {
					m[pos + t->length] = '\0';
					t->v.bytes.data = m + pos;
				} else {
					uint8_t *copy = ttlv_arena_alloc(d->arena, (size_t)t->length + 1);

					if (copy == NULL)
						return fail(d, TTLV_ERR_NOMEM, start, NULL);
					memcpy(copy, m + pos, t->length);
					t->v.bytes.data = copy;
				}
				break;
			default:
				t->v.bytes.data = m + pos;
				break;
			}
			pos += ((uint64_t)t->length + 7) & ~(uint64_t)7;
		}
		while (depth > 0 && d->stack[depth - 1].end == pos)
			depth--;
	}
	if (ttlv_arena_adopt(d->arena, m, d->announced) != 0)
		return fail(d, TTLV_ERR_NOMEM, 0, NULL);
	d->msg = NULL;
	return TTLV_DONE;
}

/*
 * Copies into dst, after the *have bytes already there, as many of the avail bytes at p as it still lacks to
 * hold want; returns how many it took.
 */
static size_t
gather(struct ttlv_decoder *d, uint8_t *dst, uint32_t *have, uint32_t want, const uint8_t *p, size_t avail)
{
	size_t n = want - *have;

	if (n > avail)
		n = avail;
	memcpy(dst + *have, p, n);
	*have += (uint32_t)n;
	d->off += n;
	return n;
}

/* Feeds bytes to the state machine; see decode.h. */
enum ttlv_status
ttlv_decoder_feed(struct ttlv_decoder *d, const uint8_t *buf, size_t len, size_t *consumed)
{
	enum ttlv_status st;
	size_t i = 0, n;

	*consumed = 0;
	if (d->state == D_ERROR)
		return TTLV_ERROR;	/* keep the first error: it is the one worth reporting */
	if (d->state == D_DONE)
		return fail(d, TTLV_ERR_STATE, d->off, NULL);
	while (i < len) {
		switch (d->state) {
		case D_HEADER:
			i += gather(d, d->hdr, &d->hdr_have, TTLV_HEADER_SIZE, buf + i, len - i);
			if (d->hdr_have < TTLV_HEADER_SIZE)
				break;
			d->hdr_have = 0;
			st = header_finish(d);
			if (st == TTLV_DONE)
				st = build_tree(d);
			if (st != TTLV_NEED_MORE) {
				*consumed = i;
				return st;
			}
			if (d->state == D_VALUE && d->cur_length == 0 && d->pad_left == 0)
				goto leaf_done;
			break;
		case D_VALUE:
			i += gather(d, d->msg + d->cur_at, &d->val_have, d->cur_length, buf + i, len - i);
			if (d->val_have < d->cur_length)
				break;
			if (leaf_check(d) == TTLV_ERROR) {
				*consumed = i;
				return TTLV_ERROR;
			}
			if (d->pad_left > 0) {
				d->state = D_PAD;
				break;
			}
			goto leaf_done;
		case D_PAD:
			/* Padding content is not checked: some clients leave garbage there. */
			n = d->pad_left;
			if (n > len - i)
				n = len - i;
			memcpy(d->msg + d->off, buf + i, n);
			d->pad_left -= n;
			d->off += n;
			i += n;
			if (d->pad_left > 0)
				break;
			goto leaf_done;
		default:
			*consumed = i;
			return TTLV_ERROR;
		}
		continue;
leaf_done:
		if (item_complete(d)) {
			*consumed = i;
			return build_tree(d);
		}
	}
	*consumed = i;
	return TTLV_NEED_MORE;
}

/* Decodes exactly one message from a whole buffer. */
enum ttlv_status
ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *limits, struct ttlv **root,
    struct ttlv_arena **arena, enum ttlv_err *err, uint64_t *offset)
{
	struct ttlv_decoder *d;
	enum ttlv_status st;
	size_t used;
	enum ttlv_err e = TTLV_ERR_NONE;
	uint64_t at = 0;

	*root = NULL;
	*arena = NULL;
	if ((d = ttlv_decoder_new(limits)) == NULL) {
		e = TTLV_ERR_NOMEM;
		st = TTLV_ERROR;
		goto out;
	}
	st = ttlv_decoder_feed(d, buf, len, &used);
	if (st == TTLV_ERROR) {
		e = ttlv_decoder_error(d, &at, NULL);
	} else if (st == TTLV_NEED_MORE) {
		e = TTLV_ERR_TRUNCATED;
		at = len;
		st = TTLV_ERROR;
	} else if (used != len) {
		e = TTLV_ERR_TRAILING;
		at = used;
		st = TTLV_ERROR;
	} else {
		*root = ttlv_decoder_take(d, arena);
	}
	ttlv_decoder_free(d);
out:
	if (err != NULL)
		*err = e;
	if (offset != NULL)
		*offset = at;
	return st;
}
