/*
 * The request dispatcher: envelope checks, protocol version, batch handling, then one handler per
 * operation. Handlers live in one file per family of operations and are listed in dispatch_ops[].
 */
#include <stdio.h>
#include <string.h>

#include "core/conn.h"
#include "core/dispatch.h"
#include "core/server.h"

/* The versions kmipd speaks, in order of preference. */
static const unsigned supported_versions[] = {
	KMIP_VERSION(2, 1), KMIP_VERSION(2, 0), KMIP_VERSION(1, 4), KMIP_VERSION(1, 3), KMIP_VERSION(1, 2),
	KMIP_VERSION(1, 1), KMIP_VERSION(1, 0),
};

const struct op_desc dispatch_ops[] = {
	{ KMIP_OPERATION_DISCOVER_VERSIONS, "Discover Versions", op_discover_versions },
	{ 0, NULL, NULL },
};

/* Returns the handler for an operation, or NULL. */
static const struct op_desc *
find_op(uint32_t operation)
{
	const struct op_desc *d;

	for (d = dispatch_ops; d->fn != NULL; d++)
		if (d->operation == operation)
			return d;
	return NULL;
}

/*
 * Chooses the version to answer in. A newer minor version of a major we speak is answered in our newest
 * minor of that major, as KMIP asks of servers; an unknown major cannot be answered meaningfully.
 */
static bool
response_version(unsigned requested, unsigned *answer)
{
	if (kmip_version_supported(requested)) {
		*answer = requested;
		return true;
	}
	switch (KMIP_VERSION_MAJOR(requested)) {
	case 1:
		*answer = KMIP_VERSION(1, 4);
		return true;
	case 2:
		*answer = KMIP_VERSION(2, 1);
		return true;
	default:
		*answer = requested;
		return false;
	}
}

/* Writes the response to one batch item; returns 0 on success, -1 when the item failed. */
static int
dispatch_item(struct conn *c, const struct kmip_request *req, const struct kmip_batch_item *item,
    unsigned version, struct kmip_response *r)
{
	struct ttlv_enc *out = r->enc;
	struct ttlv_enc_mark mark = ttlv_enc_mark(out);
	const struct op_desc *d;
	struct op_ctx ctx;
	const char *name;

	memset(&ctx, 0, sizeof(ctx));
	ctx.conn = c;
	ctx.req = req;
	ctx.item = item;
	ctx.version = version;
	ctx.out = out;
	if (item->operation == 0) {
		kmip_error_set(&ctx.err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "batch item without a valid Operation, Unique Batch Item ID or Request Payload");
		goto fail;
	}
	name = ttlv_enum_name(KMIP_TAG_OPERATION, item->operation);
	if ((d = find_op(item->operation)) == NULL) {
		kmip_error_set(&ctx.err, KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED,
		    "operation %s (0x%02x) is not supported", name != NULL ? name : "unknown", item->operation);
		goto fail;
	}
	if (req->async_indicator) {
		kmip_error_set(&ctx.err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
		    "asynchronous operations are not supported; send the request without Asynchronous Indicator");
		goto fail;
	}
	kmip_response_item_begin(r, item);
	if (d->fn(&ctx) != 0) {
		ttlv_enc_rewind(out, mark);
		goto fail;
	}
	kmip_response_item_end(r);
	if (req->max_response_size > 0 && out->len > (size_t)req->max_response_size) {
		ttlv_enc_rewind(out, mark);
		kmip_error_set(&ctx.err, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE,
		    "the response exceeds the Maximum Response Size of %d bytes", req->max_response_size);
		goto fail;
	}
	conn_log(c, LOG_LEVEL_DEBUG, "%s: success", d->name);
	return 0;
fail:
	conn_log(c, LOG_LEVEL_INFO, "batch item failed: %s", ctx.err.message);
	kmip_response_item_error(r, item, KMIP_RESULT_STATUS_OPERATION_FAILED, &ctx.err);
	return -1;
}

/* Answers one request; see dispatch.h. */
int
dispatch_request(struct conn *c, const struct ttlv *root, struct ttlv_arena *arena, struct ttlv_enc *out)
{
	struct kmip_request req;
	struct kmip_response r;
	struct kmip_error err;
	unsigned version;
	int64_t now = server_now();
	uint32_t answered = 0;
	size_t i;

	memset(&err, 0, sizeof(err));
	if (kmip_request_parse(root, arena, c->srv->cfg->server.max_batch_items, &req, &err) != 0) {
		if (!req.version_known || !response_version(req.version, &version))
			version = KMIP_VERSION(1, 0);
		conn_log(c, LOG_LEVEL_WARN, "invalid request: %s", err.message);
		kmip_response_error_message(out, version, now, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
		return 0;
	}
	if (!response_version(req.version, &version)) {
		kmip_error_set(&err, KMIP_RESULT_REASON_INVALID_MESSAGE,
		    "protocol version %u.%u is not supported; kmipd speaks 1.0-1.4, 2.0 and 2.1",
		    KMIP_VERSION_MAJOR(req.version), KMIP_VERSION_MINOR(req.version));
		conn_log(c, LOG_LEVEL_WARN, "%s", err.message);
		kmip_response_error_message(out, version, now, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
		return 0;
	}
	kmip_response_begin(&r, out, version, now, (uint32_t)req.nitems);
	for (i = 0; i < req.nitems; i++) {
		int rc = dispatch_item(c, &req, &req.items[i], version, &r);

		answered++;
		/*
		 * Stop (the default) ends the batch at the first failure. Undo would also roll back the items
		 * before it; until a batch's writes share one store transaction it stops like Stop.
		 */
		if (rc != 0 && req.batch_error_option != KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE)
			break;
	}
	kmip_response_set_count(&r, answered);
	kmip_response_end(&r);
	return 0;
}

/* Writes the response to bytes that did not decode as TTLV. */
void
dispatch_bad_message(struct ttlv_enc *out, const char *why)
{
	struct kmip_error err;

	kmip_error_set(&err, KMIP_RESULT_REASON_INVALID_MESSAGE, "malformed TTLV: %s", why);
	kmip_response_error_message(out, KMIP_VERSION(1, 0), server_now(), NULL,
	    KMIP_RESULT_STATUS_OPERATION_FAILED, &err);
}

/*
 * Discover Versions: with no list, every version kmipd speaks, newest first; with a list, those of the
 * client's versions that kmipd speaks, in the client's order.
 */
int
op_discover_versions(struct op_ctx *ctx)
{
	const struct ttlv *payload = ctx->item->payload, *pv;
	size_t i;

	if (payload != NULL && ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION) != NULL) {
		for (pv = ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION); pv != NULL; pv = ttlv_find_next(pv)) {
			const struct ttlv *major = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR);
			const struct ttlv *minor = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR);

			if (major == NULL || minor == NULL || major->type != TTLV_INTEGER ||
			    minor->type != TTLV_INTEGER)
				return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE,
				    "malformed Protocol Version in Discover Versions");
			if (major->v.i32 < 0 || major->v.i32 > 255 || minor->v.i32 < 0 || minor->v.i32 > 255 ||
			    !kmip_version_supported(KMIP_VERSION(major->v.i32, minor->v.i32)))
				continue;
			ttlv_enc_item(ctx->out, pv);
		}
		return 0;
	}
	for (i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++) {
		ttlv_enc_begin(ctx->out, KMIP_TAG_PROTOCOL_VERSION);
		ttlv_enc_int(ctx->out, KMIP_TAG_PROTOCOL_VERSION_MAJOR, (int32_t)KMIP_VERSION_MAJOR(supported_versions[i]));
		ttlv_enc_int(ctx->out, KMIP_TAG_PROTOCOL_VERSION_MINOR, (int32_t)KMIP_VERSION_MINOR(supported_versions[i]));
		ttlv_enc_end(ctx->out);
	}
	return 0;
}
