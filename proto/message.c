/*
 * The KMIP message envelope: reading a Request Message's header and batch items from a decoded tree, and
 * writing the Response Message around the operations' payloads, in the protocol version of the request.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

/* Returns true for 1.0 to 1.4, 2.0 and 2.1. */
bool
kmip_version_supported(unsigned version)
{
	switch (KMIP_VERSION_MAJOR(version)) {
	case 1:
		return KMIP_VERSION_MINOR(version) <= 4;
	case 2:
		return KMIP_VERSION_MINOR(version) <= 1;
	default:
		return false;
	}
}

/* Writes a Protocol Version structure (major and minor Integers) for version. */
void
kmip_version_encode(struct ttlv_enc *enc, unsigned version)
{
	ttlv_enc_begin(enc, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_enc_int(enc, KMIP_TAG_PROTOCOL_VERSION_MAJOR, (int32_t)KMIP_VERSION_MAJOR(version));
	ttlv_enc_int(enc, KMIP_TAG_PROTOCOL_VERSION_MINOR, (int32_t)KMIP_VERSION_MINOR(version));
	ttlv_enc_end(enc);
}

/* Returns the object structure tag of an object type, or 0. */
uint32_t
kmip_object_tag(uint32_t object_type)
{
	switch (object_type) {
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
		return KMIP_TAG_SYMMETRIC_KEY;
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
		return KMIP_TAG_PUBLIC_KEY;
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
		return KMIP_TAG_PRIVATE_KEY;
	case KMIP_OBJECT_TYPE_SECRET_DATA:
		return KMIP_TAG_SECRET_DATA;
	case KMIP_OBJECT_TYPE_OPAQUE_OBJECT:
		return KMIP_TAG_OPAQUE_OBJECT;
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		return KMIP_TAG_CERTIFICATE;
	case KMIP_OBJECT_TYPE_TEMPLATE:
		return KMIP_TAG_TEMPLATE;
	case KMIP_OBJECT_TYPE_PGP_KEY:
		return KMIP_TAG_PGP_KEY;
	case KMIP_OBJECT_TYPE_SPLIT_KEY:
		return KMIP_TAG_SPLIT_KEY;
	default:
		return 0;
	}
}

/* Records a Result Reason and message; returns -1. */
int
kmip_error_set(struct kmip_error *err, uint32_t reason, const char *fmt, ...)
{
	va_list ap;

	err->reason = reason;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Returns the child of parent with tag if it has the expected type; NULL when absent; sets *bad if mistyped. */
static const struct ttlv *
child(const struct ttlv *parent, uint32_t tag, uint8_t type, bool *bad)
{
	const struct ttlv *c = ttlv_find(parent, tag);

	if (c != NULL && c->type != type) {
		*bad = true;
		return NULL;
	}
	return c;
}

/* Reads the Protocol Version structure into *version; -1 when it is missing or malformed. */
static int
read_version(const struct ttlv *header, unsigned *version)
{
	bool bad = false;
	const struct ttlv *pv = child(header, KMIP_TAG_PROTOCOL_VERSION, TTLV_STRUCTURE, &bad);
	const struct ttlv *major, *minor;

	if (pv == NULL)
		return -1;
	major = child(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR, TTLV_INTEGER, &bad);
	minor = child(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR, TTLV_INTEGER, &bad);
	if (bad || major == NULL || minor == NULL || major->v.i32 < 0 || major->v.i32 > 255 ||
	    minor->v.i32 < 0 || minor->v.i32 > 255)
		return -1;
	*version = KMIP_VERSION(major->v.i32, minor->v.i32);
	return 0;
}

/* Reads a Request Message; see message.h. */
int
kmip_request_parse(const struct ttlv *root, struct ttlv_arena *arena, uint32_t max_items,
    struct kmip_request *req, struct kmip_error *err)
{
	const struct ttlv *hdr, *c, *t;
	bool bad = false;
	size_t n = 0;

	memset(req, 0, sizeof(*req));
	req->batch_error_option = KMIP_BATCH_ERROR_CONTINUATION_OPTION_STOP;
	if (root->tag != KMIP_TAG_REQUEST_MESSAGE || root->type != TTLV_STRUCTURE)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "message is not a Request Message (tag 0x%06x)", root->tag);
	hdr = child(root, KMIP_TAG_REQUEST_HEADER, TTLV_STRUCTURE, &bad);
	if (hdr == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE, "Request Header missing");
	req->header = hdr;
	if (read_version(hdr, &req->version) != 0)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "Protocol Version missing or malformed");
	req->version_known = true;

	if ((t = child(hdr, KMIP_TAG_MAXIMUM_RESPONSE_SIZE, TTLV_INTEGER, &bad)) != NULL)
		req->max_response_size = t->v.i32;
	if ((t = child(hdr, KMIP_TAG_ASYNCHRONOUS_INDICATOR, TTLV_BOOLEAN, &bad)) != NULL)
		req->async_indicator = t->v.b;
	if ((t = child(hdr, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION, TTLV_ENUMERATION, &bad)) != NULL)
		req->batch_error_option = t->v.u32;
	if ((t = child(hdr, KMIP_TAG_BATCH_ORDER_OPTION, TTLV_BOOLEAN, &bad)) != NULL)
		req->batch_order = t->v.b;
	req->authentication = child(hdr, KMIP_TAG_AUTHENTICATION, TTLV_STRUCTURE, &bad);
	t = child(hdr, KMIP_TAG_BATCH_COUNT, TTLV_INTEGER, &bad);
	if (bad)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "a Request Header field has the wrong type");
	if (t == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE, "Batch Count missing");
	if (t->v.i32 < 1)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE, "Batch Count %d is not positive",
		    t->v.i32);
	req->batch_count = (uint32_t)t->v.i32;
	if (req->batch_error_option < KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE ||
	    req->batch_error_option > KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "Batch Error Continuation Option %u is not defined", req->batch_error_option);

	/* Count before allocating: the limit applies to what arrived, whatever the header claims. */
	for (c = root->v.s.first; c != NULL; c = c->next) {
		if (c == hdr)
			continue;
		if (c->tag != KMIP_TAG_BATCH_ITEM || c->type != TTLV_STRUCTURE)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
			    "unexpected item 0x%06x in the Request Message", c->tag);
		n++;
	}
	if (n != req->batch_count)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "Batch Count is %u but the message holds %zu batch items", req->batch_count, n);
	if (n > max_items)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "%zu batch items exceed the limit of %u", n, max_items);
	if ((req->items = ttlv_arena_alloc(arena, n * sizeof(*req->items))) == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	n = 0;
	for (c = root->v.s.first; c != NULL; c = c->next) {
		struct kmip_batch_item *it;

		if (c == hdr)
			continue;
		it = &req->items[n++];
		it->item = c;
		bad = false;
		if ((t = child(c, KMIP_TAG_OPERATION, TTLV_ENUMERATION, &bad)) != NULL)
			it->operation = t->v.u32;
		it->id = child(c, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, TTLV_BYTE_STRING, &bad);
		it->payload = child(c, KMIP_TAG_REQUEST_PAYLOAD, TTLV_STRUCTURE, &bad);
		/* A malformed item fails alone, in its own batch item response; see the dispatcher. */
		if (bad)
			it->operation = 0;
	}
	req->nitems = n;
	return 0;
}

/* Opens the Response Message and writes its header. */
void
kmip_response_begin(struct kmip_response *r, struct ttlv_enc *enc, unsigned version, int64_t now,
    uint32_t nitems)
{
	r->enc = enc;
	r->version = version;
	ttlv_enc_begin(enc, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_enc_begin(enc, KMIP_TAG_RESPONSE_HEADER);
	kmip_version_encode(enc, version);
	ttlv_enc_datetime(enc, KMIP_TAG_TIME_STAMP, now);
	r->count_offset = enc->len + TTLV_HEADER_SIZE;
	ttlv_enc_int(enc, KMIP_TAG_BATCH_COUNT, (int32_t)nitems);
	ttlv_enc_end(enc);
}

/* Rewrites the 4-byte value written earlier at offset, unless encoding failed. */
static void
rewrite32(struct kmip_response *r, size_t offset, uint32_t v)
{
	if (r->enc->error != 0 || offset + 4 > r->enc->len)
		return;
	ttlv_put32(r->enc->buf + offset, v);
}

/* Rewrites the Batch Count written by kmip_response_begin(). */
void
kmip_response_set_count(struct kmip_response *r, uint32_t nitems)
{
	rewrite32(r, r->count_offset, nitems);
}

/* Writes the fields every response Batch Item starts with; returns where the Result Status value is. */
static size_t
item_head(struct kmip_response *r, const struct kmip_batch_item *item, uint32_t status)
{
	size_t at;

	ttlv_enc_begin(r->enc, KMIP_TAG_BATCH_ITEM);
	if (item != NULL && item->operation != 0)
		ttlv_enc_enum(r->enc, KMIP_TAG_OPERATION, item->operation);
	if (item != NULL && item->id != NULL)
		ttlv_enc_bytes(r->enc, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, item->id->v.bytes.data, item->id->length);
	at = r->enc->len + TTLV_HEADER_SIZE;
	ttlv_enc_enum(r->enc, KMIP_TAG_RESULT_STATUS, status);
	return at;
}

/* Opens a successful Batch Item and its Response Payload. */
size_t
kmip_response_item_begin(struct kmip_response *r, const struct kmip_batch_item *item)
{
	size_t at = item_head(r, item, KMIP_RESULT_STATUS_SUCCESS);

	ttlv_enc_begin(r->enc, KMIP_TAG_RESPONSE_PAYLOAD);
	return at;
}

/* Rewrites the Result Status value at offset. */
void
kmip_response_set_status(struct kmip_response *r, size_t offset, uint32_t status)
{
	rewrite32(r, offset, status);
}

/* Closes the Response Payload and the Batch Item. */
void
kmip_response_item_end(struct kmip_response *r)
{
	ttlv_enc_end(r->enc);
	ttlv_enc_end(r->enc);
}

/* Writes a failed Batch Item with its Result Reason and Result Message. */
void
kmip_response_item_error(struct kmip_response *r, const struct kmip_batch_item *item, uint32_t status,
    const struct kmip_error *err)
{
	(void)item_head(r, item, status);
	ttlv_enc_enum(r->enc, KMIP_TAG_RESULT_REASON, err->reason);
	if (err->message[0] != '\0')
		ttlv_enc_cstr(r->enc, KMIP_TAG_RESULT_MESSAGE, err->message);
	ttlv_enc_end(r->enc);
}

/* Closes the Response Message. */
void
kmip_response_end(struct kmip_response *r)
{
	ttlv_enc_end(r->enc);
}

/* Writes a complete response holding one failed Batch Item. */
void
kmip_response_error_message(struct ttlv_enc *enc, unsigned version, int64_t now,
    const struct kmip_batch_item *item, uint32_t status, const struct kmip_error *err)
{
	struct kmip_response r;

	kmip_response_begin(&r, enc, version, now, 1);
	kmip_response_item_error(&r, item, status, err);
	kmip_response_end(&r);
}
