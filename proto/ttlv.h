/*
 * proto/ttlv.h: TTLV items, the unit of the KMIP wire, and the arena that owns them.
 *
 * Item types, struct ttlv, an arena that owns every item of one message, and building, navigating,
 * comparing, copying and pruning trees of items. The codec (decode.h, encode.h), the name tables (names.h),
 * the message model (message.h), the client (client.h) and the XML encoding (xml.h) all work on these items.
 *
 * Symbol prefix: ttlv_.
 */
#ifndef KMIPD_PROTO_TTLV_H
#define KMIPD_PROTO_TTLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTLV_WUR __attribute__((warn_unused_result))

/* Item types (KMIP 1.4 section 9.1.1.2, 2.1 section 9.1.1.2). */
enum ttlv_type {
	TTLV_STRUCTURE = 0x01,
	TTLV_INTEGER = 0x02,
	TTLV_LONG_INTEGER = 0x03,
	TTLV_BIG_INTEGER = 0x04,
	TTLV_ENUMERATION = 0x05,
	TTLV_BOOLEAN = 0x06,
	TTLV_TEXT_STRING = 0x07,
	TTLV_BYTE_STRING = 0x08,
	TTLV_DATE_TIME = 0x09,
	TTLV_INTERVAL = 0x0A,
	TTLV_DATE_TIME_EXTENDED = 0x0B,
};

#define TTLV_HEADER_SIZE 8

/*
 * One decoded item. Children of a structure are a singly linked list in wire order. Byte-like values
 * (Text String, Byte String, Big Integer) point into the arena and are not NUL-terminated, except that a
 * Text String always has a NUL after its last byte, so it can be printed as a C string (a Text String that
 * itself holds a NUL is refused by the decoder).
 */
struct ttlv {
	uint32_t tag;
	uint8_t type;		/* enum ttlv_type */
	uint32_t length;	/* value length as on the wire, without padding */
	struct ttlv *next;	/* next sibling, or NULL */
	union {
		int32_t i32;	/* Integer */
		uint32_t u32;	/* Enumeration, Interval */
		int64_t i64;	/* Long Integer, Date-Time (seconds), Date-Time Extended (microseconds) */
		bool b;		/* Boolean */
		struct {
			const uint8_t *data;	/* Text String, Byte String, Big Integer (two's complement) */
		} bytes;
		struct {
			struct ttlv *first;
			struct ttlv *last;
			uint32_t count;
		} s;		/* Structure */
	} v;
};

/*
 * Arena: every item and value of one message lives in one arena, freed (and wiped, since messages carry
 * key material) in one call.
 */
struct ttlv_arena;

struct ttlv_arena *ttlv_arena_new(void) TTLV_WUR;
/* Wipes and frees every block; NULL is accepted. */
void ttlv_arena_free(struct ttlv_arena *a);
/* Zeroed, 8-byte aligned memory owned by the arena, or NULL when out of memory or over the arena's cap. */
void *ttlv_arena_alloc(struct ttlv_arena *a, size_t size) TTLV_WUR;
/* Caps the block memory the arena may reserve (0: no cap); later allocations past it return NULL. */
void ttlv_arena_set_cap(struct ttlv_arena *a, size_t cap);
/* Bytes handed out so far (for limits and tests). */
size_t ttlv_arena_used(const struct ttlv_arena *a);
/*
 * A buffer for a message being received: uninitialised, size bytes, and when large mapped on demand, so
 * only the pages written cost memory. ttlv_buffer_free() wipes its first written bytes and frees it;
 * ttlv_arena_adopt() hands it to an arena instead (one per arena; -1 if it has one), which wipes and frees
 * it whole with its items.
 */
uint8_t *ttlv_buffer_new(size_t size) TTLV_WUR;
void ttlv_buffer_free(uint8_t *p, size_t size, size_t written);
int ttlv_arena_adopt(struct ttlv_arena *a, uint8_t *p, size_t size) TTLV_WUR;

/* Building trees in an arena (used by tests, the XML encoding and the message model). NULL on ENOMEM. */
struct ttlv *ttlv_new_struct(struct ttlv_arena *a, uint32_t tag) TTLV_WUR;
struct ttlv *ttlv_new_int(struct ttlv_arena *a, uint32_t tag, int32_t v) TTLV_WUR;
struct ttlv *ttlv_new_long(struct ttlv_arena *a, uint32_t tag, int64_t v) TTLV_WUR;
struct ttlv *ttlv_new_enum(struct ttlv_arena *a, uint32_t tag, uint32_t v) TTLV_WUR;
struct ttlv *ttlv_new_bool(struct ttlv_arena *a, uint32_t tag, bool v) TTLV_WUR;
struct ttlv *ttlv_new_text(struct ttlv_arena *a, uint32_t tag, const char *s, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_bytes(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_bigint(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_datetime(struct ttlv_arena *a, uint32_t tag, int64_t seconds) TTLV_WUR;
struct ttlv *ttlv_new_interval(struct ttlv_arena *a, uint32_t tag, uint32_t seconds) TTLV_WUR;
struct ttlv *ttlv_new_datetime_ext(struct ttlv_arena *a, uint32_t tag, int64_t usec) TTLV_WUR;
/* Appends child to parent (a Structure). */
void ttlv_append(struct ttlv *parent, struct ttlv *child);

/* Navigation. NULL when absent or when parent is not a Structure. */
struct ttlv *ttlv_find(const struct ttlv *parent, uint32_t tag);
/* The next sibling after prev with the same tag as prev. */
struct ttlv *ttlv_find_next(const struct ttlv *prev);
/* Number of direct children with this tag. */
unsigned ttlv_count(const struct ttlv *parent, uint32_t tag);
/* Deep equality: tags, types, lengths, values and children in order. */
bool ttlv_equal(const struct ttlv *a, const struct ttlv *b);

/*
 * Deep copy of an item and its subtree into an arena (to move request attributes into a stored object), with
 * byte-like values NUL-terminated. NULL on ENOMEM, or for a tree more than 32 levels deep below item.
 */
struct ttlv *ttlv_copy(struct ttlv_arena *a, const struct ttlv *item) TTLV_WUR;
/*
 * Unlinks the index-th child of parent with this tag (index < 0: all of them) and returns how many were
 * removed (0 when parent is NULL or not a Structure). A removed item stays in the arena, its next cleared.
 */
unsigned ttlv_remove(struct ttlv *parent, uint32_t tag, int index);
/* The same for the children for which match(child, arg) is true, whatever their tags. */
unsigned ttlv_remove_if(struct ttlv *parent, bool (*match)(const struct ttlv *child, const void *arg),
    const void *arg, int index);

/*
 * The big-endian integers TTLV is made of, for the codecs and for whatever else reads or patches encoded
 * items (response envelopes, the store's records and index keys).
 */

/* Reads 4 bytes at p. */
static inline uint32_t
ttlv_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads 8 bytes at p. */
static inline uint64_t
ttlv_get64(const uint8_t *p)
{
	return (uint64_t)ttlv_get32(p) << 32 | ttlv_get32(p + 4);
}

/* Writes v into the 4 bytes at p. */
static inline void
ttlv_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Writes v into the 8 bytes at p. */
static inline void
ttlv_put64(uint8_t *p, uint64_t v)
{
	ttlv_put32(p, (uint32_t)(v >> 32));
	ttlv_put32(p + 4, (uint32_t)v);
}

#endif
