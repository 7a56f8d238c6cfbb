/*
 * TTLV items: building trees in an arena, navigating, comparing, copying and pruning them.
 */
#include <string.h>

#include "proto/ttlv.h"

/* ttlv_copy() refuses a tree deeper than this below the item copied: it recurses, and no attribute comes near. */
#define COPY_MAX_DEPTH	32

/* Returns a new item of the given tag and type with no value, or NULL when out of memory. */
static struct ttlv *
item_new(struct ttlv_arena *a, uint32_t tag, uint8_t type, uint32_t length)
{
	struct ttlv *t = ttlv_arena_alloc(a, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->tag = tag;
	t->type = type;
	t->length = length;
	return t;
}

/* Returns a new, empty Structure. */
struct ttlv *
ttlv_new_struct(struct ttlv_arena *a, uint32_t tag)
{
	return item_new(a, tag, TTLV_STRUCTURE, 0);
}

/* Returns a new Integer. */
struct ttlv *
ttlv_new_int(struct ttlv_arena *a, uint32_t tag, int32_t v)
{
	struct ttlv *t = item_new(a, tag, TTLV_INTEGER, 4);

	if (t != NULL)
		t->v.i32 = v;
	return t;
}

/* Returns a new Long Integer. */
struct ttlv *
ttlv_new_long(struct ttlv_arena *a, uint32_t tag, int64_t v)
{
	struct ttlv *t = item_new(a, tag, TTLV_LONG_INTEGER, 8);

	if (t != NULL)
		t->v.i64 = v;
	return t;
}

/* Returns a new Enumeration. */
struct ttlv *
ttlv_new_enum(struct ttlv_arena *a, uint32_t tag, uint32_t v)
{
	struct ttlv *t = item_new(a, tag, TTLV_ENUMERATION, 4);

	if (t != NULL)
		t->v.u32 = v;
	return t;
}

/* Returns a new Boolean. */
struct ttlv *
ttlv_new_bool(struct ttlv_arena *a, uint32_t tag, bool v)
{
	struct ttlv *t = item_new(a, tag, TTLV_BOOLEAN, 8);

	if (t != NULL)
		t->v.b = v;
	return t;
}

/* Returns a new byte-like item holding a copy of p, NUL-terminated for convenience. */
static struct ttlv *
bytes_new(struct ttlv_arena *a, uint32_t tag, uint8_t type, const void *p, size_t len)
{
	struct ttlv *t;
	uint8_t *data;

	if (len > UINT32_MAX - 8)
		return NULL;
	if ((t = item_new(a, tag, type, (uint32_t)len)) == NULL)
		return NULL;
	if ((data = ttlv_arena_alloc(a, len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(data, p, len);
	t->v.bytes.data = data;
	return t;
}

/* Returns a new Text String (len bytes of s, which need not be NUL-terminated). */
struct ttlv *
ttlv_new_text(struct ttlv_arena *a, uint32_t tag, const char *s, size_t len)
{
	return bytes_new(a, tag, TTLV_TEXT_STRING, s, len);
}

/* Returns a new Byte String. */
struct ttlv *
ttlv_new_bytes(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len)
{
	return bytes_new(a, tag, TTLV_BYTE_STRING, p, len);
}

/*
 * Returns a new Big Integer from big-endian two's complement bytes, sign-extended on the left to a multiple
 * of eight bytes as the wire requires (an empty input is zero).
 */
struct ttlv *
ttlv_new_bigint(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len)
{
	const uint8_t *in = p;
	size_t padded = len == 0 ? 8 : (len + 7) & ~(size_t)7;
	uint8_t fill = (len > 0 && (in[0] & 0x80)) ? 0xff : 0x00;
	struct ttlv *t;
	uint8_t *data;

	if (len > UINT32_MAX - 8)
		return NULL;
	if ((t = item_new(a, tag, TTLV_BIG_INTEGER, (uint32_t)padded)) == NULL)
		return NULL;
	if ((data = ttlv_arena_alloc(a, padded + 1)) == NULL)
		return NULL;
	memset(data, fill, padded - len);
	if (len > 0)
		memcpy(data + padded - len, in, len);
	t->v.bytes.data = data;
	return t;
}

/* Returns a new Date-Time (seconds since the epoch). */
struct ttlv *
ttlv_new_datetime(struct ttlv_arena *a, uint32_t tag, int64_t seconds)
{
	struct ttlv *t = item_new(a, tag, TTLV_DATE_TIME, 8);

	if (t != NULL)
		t->v.i64 = seconds;
	return t;
}

/* Returns a new Interval (seconds). */
struct ttlv *
ttlv_new_interval(struct ttlv_arena *a, uint32_t tag, uint32_t seconds)
{
	struct ttlv *t = item_new(a, tag, TTLV_INTERVAL, 4);

	if (t != NULL)
		t->v.u32 = seconds;
	return t;
}

/* Returns a new Date-Time Extended (microseconds since the epoch). */
struct ttlv *
ttlv_new_datetime_ext(struct ttlv_arena *a, uint32_t tag, int64_t usec)
{
	struct ttlv *t = item_new(a, tag, TTLV_DATE_TIME_EXTENDED, 8);

	if (t != NULL)
		t->v.i64 = usec;
	return t;
}

/* Appends child as the last child of parent. The wire length is computed when encoding. */
void
ttlv_append(struct ttlv *parent, struct ttlv *child)
{
	child->next = NULL;
	if (parent->v.s.last != NULL)
		parent->v.s.last->next = child;
	else
		parent->v.s.first = child;
	parent->v.s.last = child;
	parent->v.s.count++;
}

/* Returns the first child of parent with this tag, or NULL. */
struct ttlv *
ttlv_find(const struct ttlv *parent, uint32_t tag)
{
	struct ttlv *c;

	if (parent == NULL || parent->type != TTLV_STRUCTURE)
		return NULL;
	for (c = parent->v.s.first; c != NULL; c = c->next)
		if (c->tag == tag)
			return c;
	return NULL;
}

/* Returns the next sibling after prev that has prev's tag, or NULL. */
struct ttlv *
ttlv_find_next(const struct ttlv *prev)
{
	struct ttlv *c;

	for (c = prev->next; c != NULL; c = c->next)
		if (c->tag == prev->tag)
			return c;
	return NULL;
}

/* Returns the number of direct children of parent with this tag. */
unsigned
ttlv_count(const struct ttlv *parent, uint32_t tag)
{
	const struct ttlv *c;
	unsigned n = 0;

	if (parent == NULL || parent->type != TTLV_STRUCTURE)
		return 0;
	for (c = parent->v.s.first; c != NULL; c = c->next)
		if (c->tag == tag)
			n++;
	return n;
}

/* Returns true when both trees carry the same tags, types and values, children in the same order. */
bool
ttlv_equal(const struct ttlv *a, const struct ttlv *b)
{
	const struct ttlv *x, *y;

	if (a->tag != b->tag || a->type != b->type)
		return false;
	switch (a->type) {
	case TTLV_STRUCTURE:
		if (a->v.s.count != b->v.s.count)
			return false;
		for (x = a->v.s.first, y = b->v.s.first; x != NULL && y != NULL; x = x->next, y = y->next)
			if (!ttlv_equal(x, y))
				return false;
		return x == NULL && y == NULL;
	case TTLV_INTEGER:
		return a->v.i32 == b->v.i32;
	case TTLV_ENUMERATION:
	case TTLV_INTERVAL:
		return a->v.u32 == b->v.u32;
	case TTLV_LONG_INTEGER:
	case TTLV_DATE_TIME:
	case TTLV_DATE_TIME_EXTENDED:
		return a->v.i64 == b->v.i64;
	case TTLV_BOOLEAN:
		return a->v.b == b->v.b;
	default:
		return a->length == b->length &&
		    (a->length == 0 || memcmp(a->v.bytes.data, b->v.bytes.data, a->length) == 0);
	}
}

/* Deep copy with a depth bound, so a cyclic or absurd tree cannot recurse forever. */
static struct ttlv *
copy_item(struct ttlv_arena *a, const struct ttlv *src, int depth)
{
	struct ttlv *t, *c;
	const struct ttlv *sc;
	uint8_t *p;

	if (depth > COPY_MAX_DEPTH)
		return NULL;
	if ((t = ttlv_arena_alloc(a, sizeof(*t))) == NULL)
		return NULL;
	*t = *src;
	t->next = NULL;
	switch (src->type) {
	case TTLV_STRUCTURE:
		t->v.s.first = t->v.s.last = NULL;
		t->v.s.count = 0;
		for (sc = src->v.s.first; sc != NULL; sc = sc->next) {
			if ((c = copy_item(a, sc, depth + 1)) == NULL)
				return NULL;
			ttlv_append(t, c);
		}
		break;
	case TTLV_TEXT_STRING:
	case TTLV_BYTE_STRING:
	case TTLV_BIG_INTEGER:
		if ((p = ttlv_arena_alloc(a, (size_t)src->length + 1)) == NULL)
			return NULL;
		if (src->length > 0)
			memcpy(p, src->v.bytes.data, src->length);
		p[src->length] = 0;
		t->v.bytes.data = p;
		break;
	default:
		break;
	}
	return t;
}

/* Deep copy of an item (and its subtree) into an arena; NULL on ENOMEM or a tree deeper than 32. */
struct ttlv *
ttlv_copy(struct ttlv_arena *a, const struct ttlv *item)
{
	if (a == NULL || item == NULL)
		return NULL;
	return copy_item(a, item, 0);
}

/* ttlv_remove()'s test: the child has the tag arg points to. */
static bool
has_tag(const struct ttlv *c, const void *arg)
{
	return c->tag == *(const uint32_t *)arg;
}

/* Unlinks the index-th child with this tag (all when index < 0); returns the number removed. */
unsigned
ttlv_remove(struct ttlv *parent, uint32_t tag, int index)
{
	return ttlv_remove_if(parent, has_tag, &tag, index);
}

/* Unlinks the index-th child that match() accepts (all when index < 0); returns the number removed. */
unsigned
ttlv_remove_if(struct ttlv *parent, bool (*match)(const struct ttlv *child, const void *arg), const void *arg,
    int index)
{
	struct ttlv *c, *prev = NULL, *next;
	unsigned removed = 0;
	int i = 0;

	if (parent == NULL || parent->type != TTLV_STRUCTURE)
		return 0;
	for (c = parent->v.s.first; c != NULL; c = next) {
		next = c->next;
		if (match(c, arg) && (index < 0 || i++ == index)) {
			if (prev == NULL)
				parent->v.s.first = next;
			else
				prev->next = next;
			if (parent->v.s.last == c)
				parent->v.s.last = prev;
			parent->v.s.count--;
			c->next = NULL;
			removed++;
			if (index >= 0)
				break;
		} else
			prev = c;
	}
	return removed;
}
