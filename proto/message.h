/*
 * proto/message.h: the KMIP message model.
 *
 * Protocol versions; a request's header and batch items, read from a decoded tree; the reason a request
 * cannot be processed; and the response envelope, written in the request's protocol version around the
 * payloads the operations encode.
 *
 * Symbol prefix: kmip_.
 */
#ifndef KMIPD_PROTO_MESSAGE_H
#define KMIPD_PROTO_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ttlv.h"

struct ttlv_enc;

#define KMIP_VERSION(major, minor) ((unsigned)(major) << 8 | (unsigned)(minor))
#define KMIP_VERSION_MAJOR(v) ((v) >> 8)
#define KMIP_VERSION_MINOR(v) ((v) & 0xff)

/* True for the protocol versions kmipd speaks: 1.0 to 1.4, 2.0 and 2.1. */
bool kmip_version_supported(unsigned version);
/* Writes a Protocol Version structure holding version: a message header's, or one Discover Versions lists. */
void kmip_version_encode(struct ttlv_enc *enc, unsigned version);
/*
 * The tag of the structure that carries a managed object of object_type (a KMIP Object Type) in Register and
 * Get: Symmetric Key, Public Key, Private Key, Secret Data, Opaque Object or Certificate; 0 for other types.
 */
uint32_t kmip_object_tag(uint32_t object_type);

struct kmip_batch_item {
	uint32_t operation;		/* 0 when absent */
	const struct ttlv *id;		/* Unique Batch Item ID (Byte String), or NULL */
	const struct ttlv *payload;	/* Request Payload, or NULL */
	const struct ttlv *item;	/* the whole Batch Item */
};

struct kmip_request {
	unsigned version;		/* KMIP_VERSION(major, minor) as sent, even when unsupported */
	bool version_known;		/* a Protocol Version could be read */
	int32_t max_response_size;	/* 0: none */
	bool async_indicator;
	uint32_t batch_error_option;	/* Batch Error Continuation Option; Stop when absent */
	bool batch_order;
	const struct ttlv *authentication;
	const struct ttlv *header;
	uint32_t batch_count;		/* as announced in the header */
	struct kmip_batch_item *items;	/* in the message's arena */
	size_t nitems;
};

/* Why a request cannot be processed: a Result Reason and a sentence for the Result Message. */
struct kmip_error {
	uint32_t reason;
	char message[256];
};

/* Sets a Result Reason and a printf-formatted Result Message; returns -1 for the caller to pass on. */
int kmip_error_set(struct kmip_error *err, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reads a Request Message tree into req (items allocated in arena). Returns 0, or -1 with err set: Invalid
 * Message for a malformed header or batch, Protocol version mismatch semantics are left to the caller
 * (req->version and version_known are filled in as far as they could be read).
 */
int kmip_request_parse(const struct ttlv *root, struct ttlv_arena *arena, uint32_t max_items,
    struct kmip_request *req, struct kmip_error *err) TTLV_WUR;

/*
 * Response envelope. kmip_response_begin() opens the Response Message and writes its header with a Batch
 * Count of nitems; the caller then writes each batch item (kmip_response_item_begin/end or
 * kmip_response_item_error) and calls kmip_response_end(). kmip_response_set_count() corrects the Batch
 * Count when fewer items were answered (Batch Error Continuation Option Stop).
 */
struct kmip_response {
	struct ttlv_enc *enc;
	unsigned version;
	size_t count_offset;		/* where the Batch Count value sits in enc->buf */
};

void kmip_response_begin(struct kmip_response *r, struct ttlv_enc *enc, unsigned version, int64_t now,
    uint32_t nitems);
void kmip_response_set_count(struct kmip_response *r, uint32_t nitems);
/*
 * Opens a successful Batch Item and its Response Payload: the operation's output goes in between. Returns
 * where its Result Status value sits in the buffer, for kmip_response_set_status().
 */
size_t kmip_response_item_begin(struct kmip_response *r, const struct kmip_batch_item *item);
/* Rewrites a Result Status written earlier (Operation Undone for the items of an undone batch). */
void kmip_response_set_status(struct kmip_response *r, size_t offset, uint32_t status);
void kmip_response_item_end(struct kmip_response *r);
/* Writes a failed Batch Item (operation and id echoed when the request had them). */
void kmip_response_item_error(struct kmip_response *r, const struct kmip_batch_item *item,
    uint32_t status, const struct kmip_error *err);
void kmip_response_end(struct kmip_response *r);
/*
 * Writes a whole response of one failed Batch Item, for a request that could not be processed at all;
 * item may be NULL (no Operation or Unique Batch Item ID is echoed then).
 */
void kmip_response_error_message(struct ttlv_enc *enc, unsigned version, int64_t now,
    const struct kmip_batch_item *item, uint32_t status, const struct kmip_error *err);

#endif
