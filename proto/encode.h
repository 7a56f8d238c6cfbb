/*
 * proto/encode.h: the TTLV encoder, into a growable buffer.
 *
 * Errors are sticky: calls after a failure do nothing, and ttlv_enc_finish() reports it, so a response can be
 * written without checking every call. A mark lets a half-written payload be dropped when an operation fails.
 *
 * Symbol prefix: ttlv_enc_.
 */
#ifndef KMIPD_PROTO_ENCODE_H
#define KMIPD_PROTO_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ttlv.h"

struct ttlv_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t open[32];	/* offsets of open Structure headers */
	unsigned depth;
	int error;		/* 0, or an errno value */
	size_t limit;		/* bytes the buffer may hold (0: no limit of the caller's); past it EMSGSIZE */
};

void ttlv_enc_init(struct ttlv_enc *e);
/*
 * Caps the message at limit bytes (0: none but the encoder's own): a write that would pass it fails with a
 * sticky EMSGSIZE before anything is allocated or copied for it, so a response too large costs no more than
 * the limit. A mark and rewind drop the error like any other.
 */
void ttlv_enc_set_limit(struct ttlv_enc *e, size_t limit);
/* The bytes that may still be written: under the limit, or the encoder's own maximum; 0 after an error. */
size_t ttlv_enc_room(const struct ttlv_enc *e);
/*
 * Fails the encoder with the sticky EMSGSIZE a write past the limit gets: for a caller that knows, before
 * doing the work, that what it would write cannot fit.
 */
void ttlv_enc_overflow(struct ttlv_enc *e);
/* Wipes and frees the buffer. */
void ttlv_enc_free(struct ttlv_enc *e);
/* Empties the buffer for reuse, keeping its memory. */
void ttlv_enc_reset(struct ttlv_enc *e);
void ttlv_enc_begin(struct ttlv_enc *e, uint32_t tag);
void ttlv_enc_end(struct ttlv_enc *e);
void ttlv_enc_int(struct ttlv_enc *e, uint32_t tag, int32_t v);
void ttlv_enc_long(struct ttlv_enc *e, uint32_t tag, int64_t v);
void ttlv_enc_enum(struct ttlv_enc *e, uint32_t tag, uint32_t v);
void ttlv_enc_bool(struct ttlv_enc *e, uint32_t tag, bool v);
void ttlv_enc_text(struct ttlv_enc *e, uint32_t tag, const char *s, size_t len);
void ttlv_enc_cstr(struct ttlv_enc *e, uint32_t tag, const char *s);
void ttlv_enc_bytes(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len);
/* Big Integer from big-endian two's complement bytes, sign-extended on the left to a multiple of 8. */
void ttlv_enc_bigint(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len);
void ttlv_enc_datetime(struct ttlv_enc *e, uint32_t tag, int64_t seconds);
void ttlv_enc_interval(struct ttlv_enc *e, uint32_t tag, uint32_t seconds);
void ttlv_enc_datetime_ext(struct ttlv_enc *e, uint32_t tag, int64_t usec);
/* Encodes an item and everything under it. */
void ttlv_enc_item(struct ttlv_enc *e, const struct ttlv *item);
/* Appends items already encoded (by another encoder) as they are: len must be whole items. */
void ttlv_enc_raw(struct ttlv_enc *e, const void *p, size_t len);
/* 0 when every call succeeded and every Structure was closed, else -1 with errno set. */
int ttlv_enc_finish(struct ttlv_enc *e) TTLV_WUR;
/* Hands the buffer (malloc'd, *len bytes) to the caller, who must wipe and free it; the encoder is empty. */
uint8_t *ttlv_enc_detach(struct ttlv_enc *e, size_t *len);

/* A point in the output to return to, so a half-written payload can be dropped when an operation fails. */
struct ttlv_enc_mark {
	size_t len;
	unsigned depth;
	int error;
};
struct ttlv_enc_mark ttlv_enc_mark(const struct ttlv_enc *e);
/* Drops (and wipes) everything written after the mark, and any error raised after it. */
void ttlv_enc_rewind(struct ttlv_enc *e, struct ttlv_enc_mark m);

#endif
