/*
 * The bounded incremental JSON parser: a table of states driven one byte at a time, which keeps its place
 * between calls (a string, number, escape or UTF-8 sequence split across reads needs no re-buffering by the
 * caller), with an explicit stack of open containers instead of recursion. What it holds: that stack, sized
 * at creation from max_depth, and the buffer of the string or number being read, which grows up to
 * max_string. A value that breaks a limit is refused at the byte that breaks it, before any memory is taken
 * for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jstream.h"
#include "proto/ttlv.h"

#define STRING_FIRST_CAP	64

enum js_state {
	JS_TOP,			/* between top-level values: whitespace, or the next value's first byte */
	JS_VALUE,		/* after ':' in an object or ',' in an array: a value must come */
	JS_ARRAY_FIRST,		/* after '[': a value or ']' */
	JS_OBJECT_FIRST,	/* after '{': a member name or '}' */
	JS_NAME,		/* after ',' in an object: a member name */
	JS_COLON,		/* after a member name */
	JS_AFTER,		/* after a value in a container: ',' or the container's end */
	JS_STRING,		/* inside a string or member name */
	JS_ESCAPE,		/* after a backslash */
	JS_HEX,			/* inside the four digits of \u */
	JS_LOW_BACKSLASH,	/* after a high surrogate: the backslash of its low half */
	JS_LOW_U,		/* ... then its 'u' */
	JS_NUMBER,
	JS_LITERAL,		/* inside true, false or null */
	JS_ERROR,
};

/* Where a number is in JSON's grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
enum js_num {
	NUM_MINUS,	/* after '-': a digit must come */
	NUM_ZERO,	/* a leading 0: no digit may follow */
	NUM_INT,
	NUM_DOT,	/* after '.': a digit must come */
	NUM_FRAC,
	NUM_E,		/* after 'e': a sign or a digit */
	NUM_ESIGN,	/* after the exponent's sign: a digit */
	NUM_EXP,
};

/* What one step did with the byte it was given. */
enum js_step {
	STEP_OK,	/* consumed */
	STEP_END,	/* consumed, and it ended a top-level value */
	STEP_AGAIN,	/* not consumed: it ended a number, give it again in the new state */
	STEP_ERR,
};

struct jstream {
	struct jstream_limits lim;
	jstream_cb cb;
	void *arg;
	enum js_state state;
	uint8_t *kinds;		/* per open container: '{' or '[' */
	size_t *members;	/* per open container: members or elements begun */
	unsigned depth;		/* containers open */
	uint64_t off;		/* stream offset of the next byte */
	size_t vsize;		/* bytes of the current top-level value so far */
	/* The string, member name or number being read. */
	char *buf;
	size_t len;
	size_t cap;
	bool is_name;
	unsigned utf8_need;	/* continuation bytes still due */
	uint8_t utf8_lo;	/* range of the next continuation byte (stricter after E0, ED, F0, F4) */
	uint8_t utf8_hi;
	unsigned hex_n;		/* digits of \u read */
	uint32_t hex;
	uint32_t high;		/* a high surrogate waiting for its low half, else 0 */
	enum js_num num;
	const char *lit;	/* the literal being matched, and how much of it has been */
	unsigned lit_pos;
	enum jstream_token lit_tok;
	enum jstream_err err;
	uint64_t err_off;
};

/* Returns a new parser with these limits calling cb, or NULL when a limit is out of range or memory short. */
struct jstream *
jstream_new(const struct jstream_limits *limits, jstream_cb cb, void *arg)
{
	struct jstream *j;

	if (limits->max_value_size == 0 || limits->max_depth == 0 || limits->max_depth > JSTREAM_MAX_DEPTH ||
	    limits->max_string == 0 || limits->max_string > SIZE_MAX / 4 || limits->max_members == 0 ||
	    cb == NULL)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->lim = *limits;
	j->cb = cb;
	j->arg = arg;
	j->kinds = calloc(limits->max_depth, sizeof(*j->kinds));
	j->members = calloc(limits->max_depth, sizeof(*j->members));
	if (j->kinds == NULL || j->members == NULL) {
		jstream_free(j);
		return NULL;
	}
	return j;
}

/* Frees the parser and its buffers. */
void
jstream_free(struct jstream *j)
{
	if (j == NULL)
		return;
	free(j->kinds);
	free(j->members);
	free(j->buf);
	free(j);
}

/* Drops any partial value and error; offsets count from 0 again. The string buffer is kept for reuse. */
void
jstream_reset(struct jstream *j)
{
	j->state = JS_TOP;
	j->depth = 0;
	j->off = 0;
	j->vsize = 0;
	j->len = 0;
	j->err = JSTREAM_ERR_NONE;
	j->err_off = 0;
}

/* Returns whether a top-level value is under way (an end of stream there truncates it). */
bool
jstream_busy(const struct jstream *j)
{
	return j->state != JS_TOP && j->state != JS_ERROR;
}

/* Returns the error kept after ERROR, and its stream offset in *offset when offset is not NULL. */
enum jstream_err
jstream_error(const struct jstream *j, uint64_t *offset)
{
	if (offset != NULL)
		*offset = j->err_off;
	return j->err;
}

/* Returns a sentence for an error kind. */
const char *
jstream_err_str(enum jstream_err e)
{
	switch (e) {
	case JSTREAM_ERR_NONE:
		return "no error";
	case JSTREAM_ERR_SYNTAX:
		return "unexpected character";
	case JSTREAM_ERR_TOPLEVEL:
		return "a top-level value that is not an object or an array";
	case JSTREAM_ERR_CONTROL:
		return "a control character in a string";
	case JSTREAM_ERR_ESCAPE:
		return "a bad escape in a string";
	case JSTREAM_ERR_UTF8:
		return "a string that is not UTF-8";
	case JSTREAM_ERR_NUMBER:
		return "a malformed number";
	case JSTREAM_ERR_LITERAL:
		return "a misspelt true, false or null";
	case JSTREAM_ERR_VALUE_SIZE:
		return "a value longer than the limit";
	case JSTREAM_ERR_DEPTH:
		return "nesting deeper than the limit";
	case JSTREAM_ERR_STRING_SIZE:
		return "a string or number longer than the limit";
	case JSTREAM_ERR_MEMBERS:
		return "more members or elements than the limit";
	case JSTREAM_ERR_NOMEM:
		return "out of memory";
	case JSTREAM_ERR_CALLBACK:
		return "the reader refused a value";
	}
	return "unknown error";
}

/* Keeps the first error with the offset of the byte being looked at; returns STEP_ERR. */
static enum js_step
js_fail(struct jstream *j, enum jstream_err e)
{
	j->err = e;
	j->err_off = j->off;
	j->state = JS_ERROR;
	return STEP_ERR;
}

/* Returns whether c is JSON whitespace. */
static bool
js_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Returns the value of hex digit c, or -1. */
static int
js_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hands a token to the callback; STEP_OK, or STEP_ERR when it refused. */
static enum js_step
js_emit(struct jstream *j, enum jstream_token tok, const char *s, size_t len)
{
	if (j->cb(j->arg, tok, s, len, j->depth) != 0)
		return js_fail(j, JSTREAM_ERR_CALLBACK);
	return STEP_OK;
}

/* Appends n bytes to the string buffer within max_string, growing it by doubling; STEP_OK or STEP_ERR. */
static enum js_step
js_append(struct jstream *j, const uint8_t *p, size_t n)
{
	if (n > j->lim.max_string - j->len || j->len > j->lim.max_string)
		return js_fail(j, JSTREAM_ERR_STRING_SIZE);
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap == 0 ? STRING_FIRST_CAP : j->cap;
		char *nb;

		while (cap < j->len + n + 1)
			cap *= 2;
		if (cap > j->lim.max_string + 1)
			cap = j->lim.max_string + 1;
		if ((nb = realloc(j->buf, cap)) == NULL)
			return js_fail(j, JSTREAM_ERR_NOMEM);
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, p, n);
	j->len += n;
	return STEP_OK;
}

/* Appends code point cp (not a surrogate, at most 0x10FFFF) as UTF-8. */
static enum js_step
js_append_cp(struct jstream *j, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return js_append(j, u, n);
}

/* Opens an object or array ('{' or '['), within max_depth, and tells the callback. */
static enum js_step
js_open(struct jstream *j, uint8_t c)
{
	enum js_step r;

	if (j->depth >= j->lim.max_depth)
		return js_fail(j, JSTREAM_ERR_DEPTH);
	r = js_emit(j, c == '{' ? JSTREAM_OBJECT_BEGIN : JSTREAM_ARRAY_BEGIN, NULL, 0);
	if (r != STEP_OK)
		return r;
	j->kinds[j->depth] = c;
	j->members[j->depth] = 0;
	j->depth++;
	j->state = c == '{' ? JS_OBJECT_FIRST : JS_ARRAY_FIRST;
	return STEP_OK;
}

/* Closes the innermost container with c ('}' or ']', which must match it); STEP_END when it was the top. */
static enum js_step
js_close(struct jstream *j, uint8_t c)
{
	enum js_step r;

	if ((c == '}') != (j->kinds[j->depth - 1] == '{'))
		return js_fail(j, JSTREAM_ERR_SYNTAX);
	j->depth--;
	r = js_emit(j, c == '}' ? JSTREAM_OBJECT_END : JSTREAM_ARRAY_END, NULL, 0);
	if (r != STEP_OK)
		return r;
	if (j->depth == 0) {
		j->state = JS_TOP;
		return STEP_END;
	}
	j->state = JS_AFTER;
	return STEP_OK;
}

/* Counts one more member or element in the innermost container, within max_members. */
static enum js_step
js_count(struct jstream *j)
{
	if (j->members[j->depth - 1] >= j->lim.max_members)
		return js_fail(j, JSTREAM_ERR_MEMBERS);
	j->members[j->depth - 1]++;
	return STEP_OK;
}

/* Starts a string or a member name. */
static enum js_step
js_string_start(struct jstream *j, bool is_name)
{
	j->len = 0;
	j->is_name = is_name;
	j->utf8_need = 0;
	j->high = 0;
	j->state = JS_STRING;
	return STEP_OK;
}

/* Starts the value whose first byte is c, inside a container. */
static enum js_step
js_value_start(struct jstream *j, uint8_t c)
{
	switch (c) {
	case '{':
	case '[':
		return js_open(j, c);
	case '"':
		return js_string_start(j, false);
	case 't':
		j->lit = "true";
		j->lit_tok = JSTREAM_TRUE;
		break;
	case 'f':
		j->lit = "false";
		j->lit_tok = JSTREAM_FALSE;
		break;
	case 'n':
		j->lit = "null";
		j->lit_tok = JSTREAM_NULL;
		break;
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return js_fail(j, JSTREAM_ERR_SYNTAX);
		j->len = 0;
		j->num = c == '-' ? NUM_MINUS : c == '0' ? NUM_ZERO : NUM_INT;
		j->state = JS_NUMBER;
		return js_append(j, &c, 1);
	}
	j->lit_pos = 1;
	j->state = JS_LITERAL;
	return STEP_OK;
}

/* Ends the string or member name being read: hands it over, then a ':' or what follows a value is due. */
static enum js_step
js_string_end(struct jstream *j)
{
	enum js_step r;

	if (j->buf == NULL && js_append(j, (const uint8_t *)"", 0) != STEP_OK)
		return STEP_ERR;
	j->buf[j->len] = '\0';
	r = js_emit(j, j->is_name ? JSTREAM_NAME : JSTREAM_STRING, j->buf, j->len);
	if (r != STEP_OK)
		return r;
	j->state = j->is_name ? JS_COLON : JS_AFTER;
	return STEP_OK;
}

/* One byte of a string: UTF-8 checked sequence by sequence, control characters refused. */
static enum js_step
js_string_byte(struct jstream *j, uint8_t c)
{
	if (j->utf8_need > 0) {
		if (c < j->utf8_lo || c > j->utf8_hi)
			return js_fail(j, JSTREAM_ERR_UTF8);
		j->utf8_need--;
		j->utf8_lo = 0x80;
		j->utf8_hi = 0xBF;
		return js_append(j, &c, 1);
	}
	if (c == '"')
		return js_string_end(j);
	if (c == '\\') {
		j->state = JS_ESCAPE;
		return STEP_OK;
	}
	if (c < 0x20)
		return js_fail(j, JSTREAM_ERR_CONTROL);
	if (c >= 0x80) {
		/* The ranges of RFC 3629 section 4: no overlong forms, no surrogates, nothing past U+10FFFF. */
		j->utf8_lo = 0x80;
		j->utf8_hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			j->utf8_need = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			j->utf8_need = 2;
			if (c == 0xE0)
				j->utf8_lo = 0xA0;
			else if (c == 0xED)
				j->utf8_hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			j->utf8_need = 3;
			if (c == 0xF0)
				j->utf8_lo = 0x90;
			else if (c == 0xF4)
				j->utf8_hi = 0x8F;
		} else
			return js_fail(j, JSTREAM_ERR_UTF8);
	}
	return js_append(j, &c, 1);
}

/* The byte after a backslash. */
static enum js_step
js_escape_byte(struct jstream *j, uint8_t c)
{
	uint8_t out;

	switch (c) {
	case '"':
	case '\\':
	case '/':
		out = c;
		break;
	case 'b':
		out = '\b';
		break;
	case 'f':
		out = '\f';
		break;
	case 'n':
		out = '\n';
		break;
	case 'r':
		out = '\r';
		break;
	case 't':
		out = '\t';
		break;
	case 'u':
		j->hex_n = 0;
		j->hex = 0;
		j->state = JS_HEX;
		return STEP_OK;
	default:
		return js_fail(j, JSTREAM_ERR_ESCAPE);
	}
	j->state = JS_STRING;
	return js_append(j, &out, 1);
}

/* One hex digit of \uXXXX; at the fourth, the code unit is paired (surrogates) and appended as UTF-8. */
static enum js_step
js_hex_byte(struct jstream *j, uint8_t c)
{
	int v = js_hexval(c);
	uint32_t cp;

	if (v < 0)
		return js_fail(j, JSTREAM_ERR_ESCAPE);
	j->hex = j->hex << 4 | (uint32_t)v;
	if (++j->hex_n < 4)
		return STEP_OK;
	if (j->high != 0) {
		if (j->hex < 0xDC00 || j->hex > 0xDFFF)
			return js_fail(j, JSTREAM_ERR_ESCAPE);
		cp = 0x10000 + ((j->high - 0xD800) << 10) + (j->hex - 0xDC00);
		j->high = 0;
	} else if (j->hex >= 0xD800 && j->hex <= 0xDBFF) {
		j->high = j->hex;
		j->state = JS_LOW_BACKSLASH;
		return STEP_OK;
	} else if (j->hex >= 0xDC00 && j->hex <= 0xDFFF)
		return js_fail(j, JSTREAM_ERR_ESCAPE);
	else
		cp = j->hex;
	j->state = JS_STRING;
	return js_append_cp(j, cp);
}

/* One byte of a number; a byte that cannot continue it ends it (STEP_AGAIN) if its grammar is complete. */
static enum js_step
js_number_byte(struct jstream *j, uint8_t c)
{
	bool digit = c >= '0' && c <= '9';
	enum js_step r;

	switch (j->num) {
	case NUM_MINUS:
		if (!digit)
			return js_fail(j, JSTREAM_ERR_NUMBER);
		j->num = c == '0' ? NUM_ZERO : NUM_INT;
		return js_append(j, &c, 1);
	case NUM_ZERO:
	case NUM_INT:
		if (digit && j->num == NUM_ZERO)
			return js_fail(j, JSTREAM_ERR_NUMBER);
		if (digit)
			return js_append(j, &c, 1);
		if (c == '.') {
			j->num = NUM_DOT;
			return js_append(j, &c, 1);
		}
		if (c == 'e' || c == 'E') {
			j->num = NUM_E;
			return js_append(j, &c, 1);
		}
		break;
	case NUM_DOT:
		if (!digit)
			return js_fail(j, JSTREAM_ERR_NUMBER);
		j->num = NUM_FRAC;
		return js_append(j, &c, 1);
	case NUM_FRAC:
		if (digit)
			return js_append(j, &c, 1);
		if (c == 'e' || c == 'E') {
			j->num = NUM_E;
			return js_append(j, &c, 1);
		}
		break;
	case NUM_E:
		if (c == '+' || c == '-') {
			j->num = NUM_ESIGN;
			return js_append(j, &c, 1);
		}
		if (!digit)
			return js_fail(j, JSTREAM_ERR_NUMBER);
		j->num = NUM_EXP;
		return js_append(j, &c, 1);
	case NUM_ESIGN:
		if (!digit)
			return js_fail(j, JSTREAM_ERR_NUMBER);
		j->num = NUM_EXP;
		return js_append(j, &c, 1);
	case NUM_EXP:
		if (digit)
			return js_append(j, &c, 1);
		break;
	}
	/* A letter or a second '.' glued to a number is no separator. */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-')
		return js_fail(j, JSTREAM_ERR_NUMBER);
	j->buf[j->len] = '\0';
	r = js_emit(j, JSTREAM_NUMBER, j->buf, j->len);
	if (r != STEP_OK)
		return r;
	j->state = JS_AFTER;
	return STEP_AGAIN;
}

/* Runs the state machine on one byte. */
static enum js_step
js_step(struct jstream *j, uint8_t c)
{
	enum js_step r;

	switch (j->state) {
	case JS_TOP:
		if (js_space(c))
			return STEP_OK;
		if (c != '{' && c != '[') {
			bool value = c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';

			return js_fail(j, value ? JSTREAM_ERR_TOPLEVEL : JSTREAM_ERR_SYNTAX);
		}
		j->vsize = 0;
		return js_open(j, c);
	case JS_ARRAY_FIRST:
		if (js_space(c))
			return STEP_OK;
		if (c == ']')
			return js_close(j, c);
		if ((r = js_count(j)) != STEP_OK)
			return r;
		return js_value_start(j, c);
	case JS_VALUE:
		if (js_space(c))
			return STEP_OK;
		return js_value_start(j, c);
	case JS_OBJECT_FIRST:
	case JS_NAME:
		if (js_space(c))
			return STEP_OK;
		if (c == '}' && j->state == JS_OBJECT_FIRST)
			return js_close(j, c);
		if (c != '"')
			return js_fail(j, JSTREAM_ERR_SYNTAX);
		if ((r = js_count(j)) != STEP_OK)
			return r;
		return js_string_start(j, true);
	case JS_COLON:
		if (js_space(c))
			return STEP_OK;
		if (c != ':')
			return js_fail(j, JSTREAM_ERR_SYNTAX);
		j->state = JS_VALUE;
		return STEP_OK;
	case JS_AFTER:
		if (js_space(c))
			return STEP_OK;
		if (c == '}' || c == ']')
			return js_close(j, c);
		if (c != ',')
			return js_fail(j, JSTREAM_ERR_SYNTAX);
		if (j->kinds[j->depth - 1] == '{') {
			j->state = JS_NAME;
			return STEP_OK;
		}
		/* The next element is counted at its comma, so a long array stops at the first one too many. */
		if ((r = js_count(j)) != STEP_OK)
			return r;
		j->state = JS_VALUE;
		return STEP_OK;
	case JS_STRING:
		return js_string_byte(j, c);
	case JS_ESCAPE:
		return js_escape_byte(j, c);
	case JS_HEX:
		return js_hex_byte(j, c);
	case JS_LOW_BACKSLASH:
		if (c != '\\')
			return js_fail(j, JSTREAM_ERR_ESCAPE);
		j->state = JS_LOW_U;
		return STEP_OK;
	case JS_LOW_U:
		if (c != 'u')
			return js_fail(j, JSTREAM_ERR_ESCAPE);
		j->hex_n = 0;
		j->hex = 0;
		j->state = JS_HEX;
		return STEP_OK;
	case JS_NUMBER:
		return js_number_byte(j, c);
	case JS_LITERAL:
		if (c != (uint8_t)j->lit[j->lit_pos])
			return js_fail(j, JSTREAM_ERR_LITERAL);
		if (j->lit[++j->lit_pos] != '\0')
			return STEP_OK;
		if ((r = js_emit(j, j->lit_tok, NULL, 0)) != STEP_OK)
			return r;
		j->state = JS_AFTER;
		return STEP_OK;
	case JS_ERROR:
		break;
	}
	return STEP_ERR;
}

/*
 * Returns how many of the n bytes at p are plain string bytes (printable ASCII but the quote and the
 * backslash) that can be appended at once, within what is left of max_string and max_value_size: a base64
 * value is all such bytes, so it costs one copy instead of a state-machine step per byte. The byte that
 * breaks a limit is left to js_step, which reports its exact offset.
 */
static size_t
js_plain_run(const struct jstream *j, const uint8_t *p, size_t n)
{
	size_t max = j->lim.max_string - j->len, i;

	if (max > j->lim.max_value_size - j->vsize)
		max = j->lim.max_value_size - j->vsize;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x80 || p[i] == '"' || p[i] == '\\')
			break;
	return i;
}

/* Feeds len bytes (see jstream.h): NEED_MORE, VALUE after the last byte of a top-level value, or ERROR. */
enum jstream_status
jstream_feed(struct jstream *j, const uint8_t *buf, size_t len, size_t *consumed)
{
	size_t i = 0;

	*consumed = 0;
	if (j->state == JS_ERROR)
		return JSTREAM_ERROR;
	while (i < len) {
		bool in_value = j->state != JS_TOP;
		enum js_step r;

		/* Every byte from a value's first to its last counts, whitespace inside it included. */
		if (in_value && j->vsize >= j->lim.max_value_size) {
			js_fail(j, JSTREAM_ERR_VALUE_SIZE);
			*consumed = i;
			return JSTREAM_ERROR;
		}
		if (j->state == JS_STRING && j->utf8_need == 0) {
			size_t run = js_plain_run(j, buf + i, len - i);

			if (run > 0) {
				if (js_append(j, buf + i, run) != STEP_OK) {
					*consumed = i;
					return JSTREAM_ERROR;
				}
				i += run;
				j->off += run;
				j->vsize += run;
				continue;
			}
		}
		r = js_step(j, buf[i]);
		if (r == STEP_ERR) {
			*consumed = i;
			return JSTREAM_ERROR;
		}
		if (r == STEP_AGAIN)
			continue;
		if (in_value || j->state != JS_TOP)
			j->vsize++;
		i++;
		j->off++;
		if (r == STEP_END) {
			*consumed = i;
			return JSTREAM_VALUE;
		}
	}
	*consumed = i;
	return JSTREAM_NEED_MORE;
}

/*
 * The etcd decoder. A table names the fields of each object etcd's gateway sends and what JSON each must be;
 * a stack of frames, one per open container, says which object or array the next token belongs to and
 * which kv, response or event it fills. Containers under a name the table does not know are skipped whole
 * (still parsed and bounded by the parser).
 */
/* Objects and arrays of etcd's replies. */
enum ef_type {
	EF_SKIP,	/* under a name the table does not know */
	EF_UNARY,	/* the top of a unary reply */
	EF_WATCH_TOP,	/* the top of a watch stream item */
	EF_WATCH,	/* "result" */
	EF_HEADER,
	EF_KV,
	EF_RESP_WRAP,	/* one element of a Txn's "responses": {"response_range":{...}} */
	EF_OP_RANGE,
	EF_OP_PUT,
	EF_OP_DELETE,
	EF_EVENT,
	EF_ERROR,	/* a stream error: {"error":{"grpc_code":...}} */
	EF_KVS,		/* arrays from here on */
	EF_RESPONSES,
	EF_EVENTS,
};

enum ef_field {
	F_UNKNOWN = 0, F_HEADER, F_KVS, F_MORE, F_COUNT, F_SUCCEEDED, F_RESPONSES, F_DELETED, F_ERROR, F_CODE,
	F_MESSAGE, F_RESULT, F_WATCH_ID, F_CREATED, F_CANCELED, F_COMPACT_REVISION, F_CANCEL_REASON, F_FRAGMENT,
	F_EVENTS, F_CLUSTER_ID, F_MEMBER_ID, F_REVISION, F_RAFT_TERM, F_KEY, F_VALUE, F_CREATE_REVISION,
	F_MOD_REVISION, F_VERSION, F_LEASE, F_RESPONSE_RANGE, F_RESPONSE_PUT, F_RESPONSE_DELETE_RANGE,
	F_RESPONSE_TXN, F_TYPE, F_KV, F_PREV_KV, F_GRPC_CODE, F_HTTP_CODE, F_HTTP_STATUS,
};

/* What JSON a field must be. */
enum ef_want {
	W_OBJECT,	/* child: the frame it opens */
	W_ARRAY,
	W_BOOL,
	W_I64,		/* a decimal string, 0 to INT64_MAX */
	W_U64,		/* a decimal string, 0 to UINT64_MAX */
	W_INT32,	/* a JSON number, 0 to INT32_MAX */
	W_TEXT,		/* a string without NUL */
	W_B64,		/* a base64 string */
	W_EVTYPE,	/* "PUT" or "DELETE" */
	W_ERROR,	/* a string (unary replies) or an object (stream errors) */
	W_IGNORE,	/* a string, read and dropped */
};

struct ef_def {
	uint8_t frame;
	uint8_t field;
	uint8_t want;
	uint8_t child;
	const char *name;
};

static const struct ef_def ef_defs[] = {
	{ EF_UNARY, F_HEADER, W_OBJECT, EF_HEADER, "header" },
	{ EF_UNARY, F_KVS, W_ARRAY, EF_KVS, "kvs" },
	{ EF_UNARY, F_MORE, W_BOOL, 0, "more" },
	{ EF_UNARY, F_COUNT, W_I64, 0, "count" },
	{ EF_UNARY, F_SUCCEEDED, W_BOOL, 0, "succeeded" },
	{ EF_UNARY, F_RESPONSES, W_ARRAY, EF_RESPONSES, "responses" },
	{ EF_UNARY, F_DELETED, W_I64, 0, "deleted" },
	{ EF_UNARY, F_ERROR, W_ERROR, EF_ERROR, "error" },
	{ EF_UNARY, F_CODE, W_INT32, 0, "code" },
	{ EF_UNARY, F_MESSAGE, W_TEXT, 0, "message" },
	{ EF_WATCH_TOP, F_RESULT, W_OBJECT, EF_WATCH, "result" },
	{ EF_WATCH_TOP, F_ERROR, W_ERROR, EF_ERROR, "error" },
	{ EF_WATCH_TOP, F_CODE, W_INT32, 0, "code" },
	{ EF_WATCH_TOP, F_MESSAGE, W_TEXT, 0, "message" },
	{ EF_WATCH, F_HEADER, W_OBJECT, EF_HEADER, "header" },
	{ EF_WATCH, F_WATCH_ID, W_I64, 0, "watch_id" },
	{ EF_WATCH, F_CREATED, W_BOOL, 0, "created" },
	{ EF_WATCH, F_CANCELED, W_BOOL, 0, "canceled" },
	{ EF_WATCH, F_COMPACT_REVISION, W_I64, 0, "compact_revision" },
	{ EF_WATCH, F_CANCEL_REASON, W_TEXT, 0, "cancel_reason" },
	{ EF_WATCH, F_FRAGMENT, W_BOOL, 0, "fragment" },
	{ EF_WATCH, F_EVENTS, W_ARRAY, EF_EVENTS, "events" },
	{ EF_HEADER, F_CLUSTER_ID, W_U64, 0, "cluster_id" },
	{ EF_HEADER, F_MEMBER_ID, W_U64, 0, "member_id" },
	{ EF_HEADER, F_REVISION, W_I64, 0, "revision" },
	{ EF_HEADER, F_RAFT_TERM, W_U64, 0, "raft_term" },
	{ EF_KV, F_KEY, W_B64, 0, "key" },
	{ EF_KV, F_VALUE, W_B64, 0, "value" },
	{ EF_KV, F_CREATE_REVISION, W_I64, 0, "create_revision" },
	{ EF_KV, F_MOD_REVISION, W_I64, 0, "mod_revision" },
	{ EF_KV, F_VERSION, W_I64, 0, "version" },
	{ EF_KV, F_LEASE, W_I64, 0, "lease" },
	{ EF_RESP_WRAP, F_RESPONSE_RANGE, W_OBJECT, EF_OP_RANGE, "response_range" },
	{ EF_RESP_WRAP, F_RESPONSE_PUT, W_OBJECT, EF_OP_PUT, "response_put" },
	{ EF_RESP_WRAP, F_RESPONSE_DELETE_RANGE, W_OBJECT, EF_OP_DELETE, "response_delete_range" },
	{ EF_RESP_WRAP, F_RESPONSE_TXN, W_OBJECT, EF_SKIP, "response_txn" },
	{ EF_OP_RANGE, F_HEADER, W_OBJECT, EF_HEADER, "header" },
	{ EF_OP_RANGE, F_KVS, W_ARRAY, EF_KVS, "kvs" },
	{ EF_OP_RANGE, F_MORE, W_BOOL, 0, "more" },
	{ EF_OP_RANGE, F_COUNT, W_I64, 0, "count" },
	{ EF_OP_PUT, F_HEADER, W_OBJECT, EF_HEADER, "header" },
	{ EF_OP_DELETE, F_HEADER, W_OBJECT, EF_HEADER, "header" },
	{ EF_OP_DELETE, F_DELETED, W_I64, 0, "deleted" },
	{ EF_EVENT, F_TYPE, W_EVTYPE, 0, "type" },
	{ EF_EVENT, F_KV, W_OBJECT, EF_KV, "kv" },
	{ EF_EVENT, F_PREV_KV, W_OBJECT, EF_KV, "prev_kv" },
	{ EF_ERROR, F_GRPC_CODE, W_INT32, 0, "grpc_code" },
	{ EF_ERROR, F_HTTP_CODE, W_INT32, 0, "http_code" },
	{ EF_ERROR, F_MESSAGE, W_TEXT, 0, "message" },
	{ EF_ERROR, F_HTTP_STATUS, W_IGNORE, 0, "http_status" },
};

#define NO_INDEX SIZE_MAX	/* a frame that fills the reply itself, not one of its kvs, responses, events */

struct eframe {
	uint8_t type;
	const struct ef_def *pending;	/* the field whose name was just read, NULL for one not in the table */
	uint64_t seen;			/* fields read in this object, by enum ef_field */
	size_t index;			/* the kv, response or event it fills, or NO_INDEX */
};

/* A reply and what owns its memory. */
struct reply_box {
	struct etcdj_reply r;		/* first: etcdj_reply_free gets the box back from it */
	struct ttlv_arena *arena;	/* keys, values, texts */
	size_t kv_cap;
	size_t resp_cap;
	size_t ev_cap;
};

struct etcdj_decoder {
	enum etcdj_kind kind;
	struct etcdj_limits lim;
	struct jstream *js;
	struct eframe *frames;	/* as deep as the parser may go */
	unsigned n_frames;
	struct reply_box *box;	/* the reply being filled, or a finished one not yet taken */
	bool done;
	char why[160];		/* the reason of a refusal by the decoder itself */
};

static const uint8_t ef_empty[1];

/* One more than the 6-bit value of each base64 character, 0 for any other byte (values are megabytes). */
static const uint8_t b64_table[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8, ['I'] = 9,
	['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
	['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33,
	['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* Returns the 6-bit value of base64 character c, or -1. */
static int
b64val(uint8_t c)
{
	return (int)b64_table[c] - 1;
}

/* Returns the decoded length of len base64 characters, at most (padding not known). */
size_t
etcdj_base64_max(size_t len)
{
	return len / 4 * 3;
}

/* Strict base64 (see jstream.h): writes at most cap bytes to out, their count to *outlen; 0 or -1. */
int
etcdj_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i, n = 0;

	*outlen = 0;
	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		int a = b64val(p[i]), b = b64val(p[i + 1]), c, d;
		bool last = i + 4 == len;

		if (a < 0 || b < 0)
			return -1;
		if (last && p[i + 2] == '=') {
			/* One byte: its 8 bits and 4 zero bits, then two '='. */
			if (p[i + 3] != '=' || (b & 0x0F) != 0 || n + 1 > cap)
				return -1;
			out[n++] = (uint8_t)(a << 2 | b >> 4);
			break;
		}
		if ((c = b64val(p[i + 2])) < 0)
			return -1;
		if (last && p[i + 3] == '=') {
			if ((c & 0x03) != 0 || n + 2 > cap)
				return -1;
			out[n++] = (uint8_t)(a << 2 | b >> 4);
			out[n++] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
			break;
		}
		if ((d = b64val(p[i + 3])) < 0 || n + 3 > cap)
			return -1;
		out[n++] = (uint8_t)(a << 2 | b >> 4);
		out[n++] = (uint8_t)((b & 0x0F) << 4 | c >> 2);
		out[n++] = (uint8_t)((c & 0x03) << 6 | d);
	}
	*outlen = n;
	return 0;
}

/* A whole decimal string to UINT64_MAX ("0" or no leading zero, no sign); 0 or -1. */
int
etcdj_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned dig;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		dig = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - dig) / 10)
			return -1;
		v = v * 10 + dig;
	}
	*out = v;
	return 0;
}

/* A whole decimal string from 0 to INT64_MAX (revisions and counts are never negative); 0 or -1. */
int
etcdj_parse_i64(const char *s, size_t len, int64_t *out)
{
	uint64_t v;

	if (etcdj_parse_u64(s, len, &v) != 0 || v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Keeps a reason for refusing the reply (the parser then stops with JSTREAM_ERR_CALLBACK); returns -1. */
static int __attribute__((format(printf, 2, 3)))
ed_fail(struct etcdj_decoder *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Makes room for one more element of a reply array of n (cap *cap, at most max); 0, or -1 with a reason. */
static int
ed_grow(struct etcdj_decoder *d, void **arr, size_t *cap, size_t n, size_t max, size_t elem, const char *what)
{
	size_t ncap;
	void *p;

	if (n >= max)
		return ed_fail(d, "more %s than the limit (%zu)", what, max);
	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	if (ncap > max)
		ncap = max;
	if (ncap > SIZE_MAX / elem || (p = realloc(*arr, ncap * elem)) == NULL)
		return ed_fail(d, "out of memory");
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Appends an empty kv to the reply; its index in *idx. 0, or -1 at the limit. */
static int
ed_new_kv(struct etcdj_decoder *d, size_t *idx)
{
	struct reply_box *b = d->box;
	struct etcdj_kv *kv;

	if (ed_grow(d, (void **)&b->r.kvs, &b->kv_cap, b->r.n_kvs, d->lim.max_kvs, sizeof(*kv), "key-values") != 0)
		return -1;
	kv = &b->r.kvs[b->r.n_kvs];
	memset(kv, 0, sizeof(*kv));
	kv->key = ef_empty;
	kv->value = ef_empty;
	*idx = b->r.n_kvs++;
	return 0;
}

/* Frees a reply, its arrays and its arena (wiped). */
void
etcdj_reply_free(struct etcdj_reply *r)
{
	struct reply_box *b = (struct reply_box *)r;

	if (b == NULL)
		return;
	ttlv_arena_free(b->arena);
	free(b->r.kvs);
	free(b->r.responses);
	free(b->r.events);
	free(b);
}

/* Returns whether a watch item carries nothing but its header: a progress notification. */
bool
etcdj_is_progress(const struct etcdj_reply *r)
{
	return r->kind == ETCDJ_WATCH && r->has_result && !r->is_error && r->n_events == 0 && !r->created &&
	    !r->canceled && r->compact_revision == 0 && r->cancel_reason == NULL;
}

/* Returns the header a EF_HEADER frame fills. */
static struct etcdj_header *
ed_header(struct etcdj_decoder *d, const struct eframe *f)
{
	if (f->index == NO_INDEX)
		return &d->box->r.header;
	return &d->box->r.responses[f->index].header;
}

/* Copies a string into the arena with a NUL; NULL when out of memory. */
static const char *
ed_text(struct etcdj_decoder *d, const char *s, size_t len)
{
	char *p = ttlv_arena_alloc(d->box->arena, len + 1);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

/* Decodes a base64 key or value within its limit into the arena; 0, or -1 with a reason. */
static int
ed_b64(struct etcdj_decoder *d, const char *name, const char *s, size_t len, size_t max, const uint8_t **out,
    size_t *outlen)
{
	size_t want;
	uint8_t *p;

	if (len % 4 != 0)
		return ed_fail(d, "%s: not base64", name);
	want = etcdj_base64_max(len);
	if (len > 0 && s[len - 1] == '=')
		want -= s[len - 2] == '=' ? 2 : 1;
	if (want > max)
		return ed_fail(d, "%s: %zu bytes, more than the limit (%zu)", name, want, max);
	if (want == 0) {
		if (len != 0)
			return ed_fail(d, "%s: not base64", name);
		*out = ef_empty;
		*outlen = 0;
		return 0;
	}
	if ((p = ttlv_arena_alloc(d->box->arena, want)) == NULL)
		return ed_fail(d, "out of memory");
	if (etcdj_base64_decode(s, len, p, want, outlen) != 0 || *outlen != want)
		return ed_fail(d, "%s: not base64", name);
	*out = p;
	return 0;
}

/* Stores a scalar of field def in the object of frame f. 0, or -1 with a reason. */
static int
ed_scalar(struct etcdj_decoder *d, struct eframe *f, const struct ef_def *def, enum jstream_token tok,
    const char *s, size_t len)
{
	struct etcdj_reply *r = &d->box->r;
	struct etcdj_response *resp = f->index != NO_INDEX && (f->type == EF_OP_RANGE || f->type == EF_OP_DELETE) ?
	    &r->responses[f->index] : NULL;
	struct etcdj_kv *kv = f->type == EF_KV ? &r->kvs[f->index] : NULL;
	bool b = tok == JSTREAM_TRUE;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	const char *text = NULL;

	if (tok == JSTREAM_NULL)
		return 0;	/* proto3's JSON: null is the field's default */
	switch (def->want) {
	case W_BOOL:
		if (tok != JSTREAM_TRUE && tok != JSTREAM_FALSE)
			return ed_fail(d, "%s: not true or false", def->name);
		break;
	case W_I64:
		if (tok != JSTREAM_STRING || etcdj_parse_i64(s, len, &i64) != 0)
			return ed_fail(d, "%s: not a decimal string from 0 to 2^63-1", def->name);
		break;
	case W_U64:
		if (tok != JSTREAM_STRING || etcdj_parse_u64(s, len, &u64) != 0)
			return ed_fail(d, "%s: not a decimal string from 0 to 2^64-1", def->name);
		break;
	case W_INT32:
		if (tok != JSTREAM_NUMBER || etcdj_parse_i64(s, len, &i64) != 0 || i64 > INT32_MAX)
			return ed_fail(d, "%s: not an integer from 0 to 2^31-1", def->name);
		break;
	case W_TEXT:
	case W_ERROR:
		if (tok != JSTREAM_STRING || memchr(s, '\0', len) != NULL)
			return ed_fail(d, "%s: not a string", def->name);
		if ((text = ed_text(d, s, len)) == NULL)
			return ed_fail(d, "out of memory");
		break;
	case W_IGNORE:
		if (tok != JSTREAM_STRING)
			return ed_fail(d, "%s: not a string", def->name);
		return 0;
	case W_B64:
		if (tok != JSTREAM_STRING)
			return ed_fail(d, "%s: not a string", def->name);
		if (def->field == F_KEY)
			return ed_b64(d, "key", s, len, d->lim.max_key, &kv->key, &kv->key_len);
		return ed_b64(d, "value", s, len, d->lim.max_value, &kv->value, &kv->value_len);
	case W_EVTYPE:
		if (tok != JSTREAM_STRING || (strcmp(s, "PUT") != 0 && strcmp(s, "DELETE") != 0))
			return ed_fail(d, "type: not PUT or DELETE");
		r->events[f->index].type = strcmp(s, "PUT") == 0 ? ETCDJ_PUT : ETCDJ_DELETE;
		return 0;
	default:
		return ed_fail(d, "%s: not an %s", def->name, def->want == W_OBJECT ? "object" : "array");
	}
	switch (def->field) {
	case F_MORE:
		*(resp != NULL ? &resp->more : &r->more) = b;
		break;
	case F_COUNT:
		*(resp != NULL ? &resp->count : &r->count) = i64;
		break;
	case F_DELETED:
		*(resp != NULL ? &resp->deleted : &r->deleted) = i64;
		break;
	case F_SUCCEEDED:
		r->succeeded = b;
		break;
	case F_ERROR:
		r->is_error = true;
		r->error = text;
		break;
	case F_CODE:
	case F_GRPC_CODE:
		r->is_error = true;
		r->code = (int32_t)i64;
		break;
	case F_HTTP_CODE:
		r->http_code = (int32_t)i64;
		break;
	case F_MESSAGE:
		r->message = text;
		break;
	case F_WATCH_ID:
		r->watch_id = i64;
		break;
	case F_CREATED:
		r->created = b;
		break;
	case F_CANCELED:
		r->canceled = b;
		break;
	case F_FRAGMENT:
		r->fragment = b;
		break;
	case F_COMPACT_REVISION:
		r->compact_revision = i64;
		break;
	case F_CANCEL_REASON:
		r->cancel_reason = text;
		break;
	case F_CLUSTER_ID:
		ed_header(d, f)->cluster_id = u64;
		break;
	case F_MEMBER_ID:
		ed_header(d, f)->member_id = u64;
		break;
	case F_REVISION:
		ed_header(d, f)->revision = i64;
		break;
	case F_RAFT_TERM:
		ed_header(d, f)->raft_term = u64;
		break;
	case F_CREATE_REVISION:
		kv->create_revision = i64;
		break;
	case F_MOD_REVISION:
		kv->mod_revision = i64;
		break;
	case F_VERSION:
		kv->version = i64;
		break;
	case F_LEASE:
		kv->lease = i64;
		break;
	default:
		return ed_fail(d, "%s: unexpected", def->name);
	}
	return 0;
}

/*
 * Opens the frame of a container: the top of the reply, a field's object or array, or an array's element.
 * Appends the kv, response or event it stands for. 0, or -1 with a reason.
 */
static int
ed_open(struct etcdj_decoder *d, enum jstream_token tok)
{
	struct reply_box *b = d->box;
	struct eframe *parent = d->n_frames > 0 ? &d->frames[d->n_frames - 1] : NULL;
	struct eframe nf = { .type = EF_SKIP, .index = NO_INDEX };
	bool is_object = tok == JSTREAM_OBJECT_BEGIN;

	if (d->n_frames >= d->lim.json.max_depth)
		return ed_fail(d, "nesting deeper than the limit");	/* the parser stops it first */
	if (parent == NULL) {
		if (!is_object)
			return ed_fail(d, "the reply is not an object");
		nf.type = d->kind == ETCDJ_WATCH ? EF_WATCH_TOP : EF_UNARY;
	} else if (parent->type == EF_SKIP) {
		nf.type = EF_SKIP;
	} else if (parent->type >= EF_KVS) {
		/* An element of one of etcd's arrays: always an object. */
		if (!is_object)
			return ed_fail(d, "an element of an array of etcd's is not an object");
		if (parent->type == EF_KVS) {
			nf.type = EF_KV;
			if (ed_new_kv(d, &nf.index) != 0)
				return -1;
			if (parent->index != NO_INDEX)
				b->r.responses[parent->index].n_kvs++;
		} else if (parent->type == EF_RESPONSES) {
			nf.type = EF_RESP_WRAP;
			if (ed_grow(d, (void **)&b->r.responses, &b->resp_cap, b->r.n_responses, d->lim.max_responses,
			    sizeof(struct etcdj_response), "Txn responses") != 0)
				return -1;
			memset(&b->r.responses[b->r.n_responses], 0, sizeof(struct etcdj_response));
			nf.index = b->r.n_responses++;
		} else {
			nf.type = EF_EVENT;
			if (ed_grow(d, (void **)&b->r.events, &b->ev_cap, b->r.n_events, d->lim.max_events,
			    sizeof(struct etcdj_event), "events") != 0)
				return -1;
			memset(&b->r.events[b->r.n_events], 0, sizeof(struct etcdj_event));
			nf.index = b->r.n_events++;
		}
	} else if (parent->pending == NULL) {
		nf.type = EF_SKIP;	/* a field etcd added after this table was written */
	} else {
		const struct ef_def *def = parent->pending;

		if (def->want == W_ERROR && is_object) {
			b->r.is_error = true;
		} else if (def->want != (is_object ? W_OBJECT : W_ARRAY))
			return ed_fail(d, "%s: not the JSON type etcd sends", def->name);
		nf.type = def->child;
		switch (def->field) {
		case F_RESULT:
			b->r.has_result = true;
			break;
		case F_HEADER:
			nf.index = parent->type == EF_UNARY || parent->type == EF_WATCH ? NO_INDEX : parent->index;
			break;
		case F_KVS:
			nf.index = parent->type == EF_OP_RANGE ? parent->index : NO_INDEX;
			if (nf.index != NO_INDEX)
				b->r.responses[nf.index].first_kv = b->r.n_kvs;
			break;
		case F_RESPONSE_RANGE:
		case F_RESPONSE_PUT:
		case F_RESPONSE_DELETE_RANGE:
		case F_RESPONSE_TXN:
			if (b->r.responses[parent->index].op != ETCDJ_OP_NONE)
				return ed_fail(d, "a Txn response with two operations");
			b->r.responses[parent->index].op = def->field == F_RESPONSE_RANGE ? ETCDJ_OP_RANGE :
			    def->field == F_RESPONSE_PUT ? ETCDJ_OP_PUT : def->field == F_RESPONSE_DELETE_RANGE ?
			    ETCDJ_OP_DELETE_RANGE : ETCDJ_OP_TXN;
			nf.index = parent->index;
			break;
		case F_KV:
		case F_PREV_KV:
			if (ed_new_kv(d, &nf.index) != 0)
				return -1;
			if (def->field == F_KV)
				b->r.events[parent->index].kv = nf.index;
			else {
				b->r.events[parent->index].has_prev_kv = true;
				b->r.events[parent->index].prev_kv = nf.index;
			}
			break;
		default:
			break;
		}
	}
	d->frames[d->n_frames++] = nf;
	return 0;
}

/* Closes the innermost frame after checking what its object must hold. 0, or -1 with a reason. */
static int
ed_close(struct etcdj_decoder *d)
{
	struct eframe *f = &d->frames[d->n_frames - 1];
	const struct etcdj_reply *r = &d->box->r;

	switch (f->type) {
	case EF_KV:
		if (!(f->seen & (1ULL << F_KEY)))
			return ed_fail(d, "a key-value without a key");
		break;
	case EF_EVENT:
		if (!(f->seen & (1ULL << F_KV)))
			return ed_fail(d, "an event without a kv");
		break;
	case EF_RESP_WRAP:
		if (r->responses[f->index].op == ETCDJ_OP_NONE)
			return ed_fail(d, "a Txn response without an operation");
		break;
	case EF_UNARY:
	case EF_WATCH_TOP:
		if (r->is_error)
			break;
		if (f->type == EF_WATCH_TOP && !r->has_result)
			return ed_fail(d, "a watch item with neither result nor error");
		if (f->type == EF_UNARY && !(f->seen & (1ULL << F_HEADER)))
			return ed_fail(d, "a reply without a header");
		break;
	case EF_WATCH:
		if (!(f->seen & (1ULL << F_HEADER)))
			return ed_fail(d, "a watch result without a header");
		break;
	default:
		break;
	}
	d->n_frames--;
	return 0;
}

/* The parser's callback: routes each token of a reply to its frame. 0, or -1 with a reason. */
static int
ed_token(void *arg, enum jstream_token tok, const char *s, size_t len, unsigned depth)
{
	struct etcdj_decoder *d = arg;
	struct eframe *f;
	const struct ef_def *def;
	size_t i;

	(void)depth;
	if (d->box == NULL) {
		if ((d->box = calloc(1, sizeof(*d->box))) == NULL || (d->box->arena = ttlv_arena_new()) == NULL)
			return ed_fail(d, "out of memory");
		d->box->r.kind = d->kind;
	}
	if (tok == JSTREAM_OBJECT_BEGIN || tok == JSTREAM_ARRAY_BEGIN)
		return ed_open(d, tok);
	if (tok == JSTREAM_OBJECT_END || tok == JSTREAM_ARRAY_END)
		return ed_close(d);
	f = &d->frames[d->n_frames - 1];
	if (f->type == EF_SKIP)
		return 0;
	if (f->type >= EF_KVS)
		return ed_fail(d, "an element of an array of etcd's is not an object");
	if (tok == JSTREAM_NAME) {
		f->pending = NULL;
		for (i = 0; i < sizeof(ef_defs) / sizeof(ef_defs[0]); i++) {
			def = &ef_defs[i];
			if (def->frame == f->type && strlen(def->name) == len && memcmp(def->name, s, len) == 0) {
				if (f->seen & (1ULL << def->field))
					return ed_fail(d, "%s: twice in one object", def->name);
				f->seen |= 1ULL << def->field;
				f->pending = def;
				break;
			}
		}
		return 0;
	}
	if (f->pending == NULL)
		return 0;	/* the scalar value of a field not in the table */
	return ed_scalar(d, f, f->pending, tok, s, len);
}

/* Returns a decoder of kind with these limits, or NULL when a limit is out of range or memory short. */
struct etcdj_decoder *
etcdj_decoder_new(enum etcdj_kind kind, const struct etcdj_limits *limits)
{
	struct etcdj_decoder *d;

	if (limits->max_kvs == 0 || limits->max_responses == 0 || limits->max_events == 0 ||
	    limits->max_key == 0 || limits->max_value == 0)
		return NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->kind = kind;
	d->lim = *limits;
	if ((d->js = jstream_new(&limits->json, ed_token, d)) == NULL ||
	    (d->frames = calloc(limits->json.max_depth, sizeof(*d->frames))) == NULL) {
		etcdj_decoder_free(d);
		return NULL;
	}
	return d;
}

/* Frees the decoder and any reply it holds. */
void
etcdj_decoder_free(struct etcdj_decoder *d)
{
	if (d == NULL)
		return;
	jstream_free(d->js);
	free(d->frames);
	if (d->box != NULL)
		etcdj_reply_free(&d->box->r);
	free(d);
}

/* Drops a partial or untaken reply and any error. */
void
etcdj_decoder_reset(struct etcdj_decoder *d)
{
	jstream_reset(d->js);
	if (d->box != NULL)
		etcdj_reply_free(&d->box->r);
	d->box = NULL;
	d->n_frames = 0;
	d->done = false;
	d->why[0] = '\0';
}

/* Feeds bytes to the decoder (see jstream.h). */
enum jstream_status
etcdj_decoder_feed(struct etcdj_decoder *d, const uint8_t *buf, size_t len, size_t *consumed)
{
	enum jstream_status st;

	*consumed = 0;
	if (d->done) {
		/* The previous reply was not taken: refuse rather than lose it. */
		snprintf(d->why, sizeof(d->why), "fed before the previous reply was taken");
		return JSTREAM_ERROR;
	}
	st = jstream_feed(d->js, buf, len, consumed);
	if (st == JSTREAM_VALUE)
		d->done = true;
	return st;
}

/* After VALUE: hands the reply over (the caller frees it); else NULL. */
struct etcdj_reply *
etcdj_decoder_take(struct etcdj_decoder *d)
{
	struct reply_box *b = d->box;

	if (!d->done || b == NULL)
		return NULL;
	d->box = NULL;
	d->done = false;
	d->n_frames = 0;
	return &b->r;
}

/* Returns whether a reply has been started and not finished. */
bool
etcdj_decoder_busy(const struct etcdj_decoder *d)
{
	return jstream_busy(d->js);
}

/* After ERROR: the reason, and the stream offset of the offending byte in *offset (when not NULL). */
const char *
etcdj_decoder_error(const struct etcdj_decoder *d, uint64_t *offset)
{
	enum jstream_err e = jstream_error(d->js, offset);

	if (e == JSTREAM_ERR_CALLBACK || (e == JSTREAM_ERR_NONE && d->why[0] != '\0'))
		return d->why;
	return jstream_err_str(e);
}
