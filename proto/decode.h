/*
 * proto/decode.h: the incremental TTLV decoder, a pure state machine (no I/O, no logging, no OpenSSL).
 *
 * Bytes in, in any split; NEED_MORE, DONE with a tree in its own arena, or ERROR with a reason and an offset
 * out. Every length, type and depth is checked against the limits before anything is allocated. Also a
 * one-shot decode of a whole buffer.
 *
 * Symbol prefix: ttlv_.
 */
#ifndef KMIPD_PROTO_DECODE_H
#define KMIPD_PROTO_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ttlv.h"

#define TTLV_MAX_DEPTH 64		/* hard cap on ttlv_limits.max_depth */

enum ttlv_status {
	TTLV_NEED_MORE = 0,	/* all input consumed, message not complete */
	TTLV_DONE = 1,		/* one complete message decoded; bytes after it were not consumed */
	TTLV_ERROR = 2,		/* input is malformed; see ttlv_decoder_error() */
};

enum ttlv_err {
	TTLV_ERR_NONE = 0,
	TTLV_ERR_NOT_STRUCTURE,		/* top-level item is not a Structure */
	TTLV_ERR_TOO_LONG,		/* message longer than max_message_size */
	TTLV_ERR_TOO_DEEP,		/* nesting deeper than max_depth */
	TTLV_ERR_OVERRUN,		/* an item runs past the end of its parent */
	TTLV_ERR_BAD_LENGTH,		/* a fixed-size type with the wrong length, or a misaligned Structure */
	TTLV_ERR_BAD_TYPE,		/* unknown type code */
	TTLV_ERR_BAD_TAG,		/* tag outside 0x42xxxx and 0x54xxxx */
	TTLV_ERR_BAD_VALUE,		/* Boolean not 0 or 1, Text String not UTF-8 or holding NUL */
	TTLV_ERR_NOMEM,			/* arena allocation failed (too many items for the arena cap) */
	TTLV_ERR_STATE,			/* fed after DONE or ERROR without a reset */
	TTLV_ERR_TRUNCATED,		/* one-shot decode: the input ends inside the message */
	TTLV_ERR_TRAILING,		/* one-shot decode: bytes follow the message */
};

struct ttlv_limits {
	uint32_t max_message_size;	/* bytes, header included; 0 means 1 MiB */
	uint32_t max_depth;		/* nesting levels, the top Structure is level 1; 0 means 16 */
	size_t max_arena;		/* bytes of item memory per message; 0 means 16 times max_message_size */
	bool any_toplevel;		/* accept a top-level item of any type (tools and tests only) */
};

struct ttlv_decoder;

struct ttlv_decoder *ttlv_decoder_new(const struct ttlv_limits *limits) TTLV_WUR;
void ttlv_decoder_free(struct ttlv_decoder *d);
/*
 * Feeds len bytes. *consumed is set to the number of bytes used: all of them on NEED_MORE, up to the end
 * of the message on DONE, and up to the end of the offending item's header on ERROR. Never reads past len.
 * After DONE, call ttlv_decoder_take(); after ERROR, ttlv_decoder_reset() (a stream cannot resynchronise, so
 * a server closes the connection).
 */
enum ttlv_status ttlv_decoder_feed(struct ttlv_decoder *d, const uint8_t *buf, size_t len,
    size_t *consumed) TTLV_WUR;
/* After DONE: the root item and its arena; the caller owns the arena. The decoder is reset. */
struct ttlv *ttlv_decoder_take(struct ttlv_decoder *d, struct ttlv_arena **arena);
/* Drops any partial message (wiping it) and starts over. */
void ttlv_decoder_reset(struct ttlv_decoder *d);
/* True while a message has been started but not finished (for request deadlines). */
bool ttlv_decoder_busy(const struct ttlv_decoder *d);
/* After ERROR: what was wrong, at which message offset, and a human-readable sentence. */
enum ttlv_err ttlv_decoder_error(const struct ttlv_decoder *d, uint64_t *offset, const char **what);
/* Bytes of memory the message being received holds (0 between messages), for memory budgets. */
uint64_t ttlv_decoder_held(const struct ttlv_decoder *d);
/* The total length announced by the top-level header, once 8 bytes have been seen (else 0). */
uint64_t ttlv_decoder_announced(const struct ttlv_decoder *d);
const char *ttlv_err_str(enum ttlv_err e);

/* One-shot decode of a whole buffer; ERROR if bytes remain after the message. */
enum ttlv_status ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *limits,
    struct ttlv **root, struct ttlv_arena **arena, enum ttlv_err *err, uint64_t *offset) TTLV_WUR;

#endif
