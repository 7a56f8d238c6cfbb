/*
 * What a client asks of the server itself rather than of an object: Query, Discover Versions, and the
 * 2.x Interop and Log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/access.h"
#include "core/engine/attrs.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"


/*
 * Interop (2.x): the OASIS interoperability tests bracket each test case with Begin and End; the server
 * only acknowledges them.
 */
int
op_interop(struct op_ctx *ctx)
{
	const struct ttlv *f = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_FUNCTION);
	const struct ttlv *id = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_IDENTIFIER);

	if (f == NULL || f->type != TTLV_ENUMERATION || f->v.u32 < KMIP_INTEROP_FUNCTION_BEGIN ||
	    f->v.u32 > KMIP_INTEROP_FUNCTION_RESET)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Interop needs an Interop Function");
	session_log(ctx->session, LOG_LEVEL_INFO, "interop %s %s", ttlv_enum_name(KMIP_TAG_INTEROP_FUNCTION, f->v.u32),
	    id != NULL && id->type == TTLV_TEXT_STRING ? (const char *)id->v.bytes.data : "");
	return 0;
}

/* Log (2.x): a client's message for the server's log, kept to one bounded, quoted line. */
int
op_log(struct op_ctx *ctx)
{
	const struct ttlv *m = ttlv_find(ctx->item->payload, KMIP_TAG_LOG_MESSAGE);

	if (m == NULL || m->type != TTLV_TEXT_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Log needs a Log Message");
	session_log(ctx->session, LOG_LEVEL_INFO, "client log: \"%.200s\"", (const char *)m->v.bytes.data);
	return 0;
}

/* Query: the operations and object types kmipd supports, and who it is. */
int
op_query(struct op_ctx *ctx)
{
	static const uint32_t objects[] = { KMIP_OBJECT_TYPE_SYMMETRIC_KEY, KMIP_OBJECT_TYPE_PUBLIC_KEY,
	    KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_OBJECT_TYPE_SECRET_DATA, KMIP_OBJECT_TYPE_OPAQUE_OBJECT,
	    KMIP_OBJECT_TYPE_CERTIFICATE, KMIP_OBJECT_TYPE_PGP_KEY };
	const struct ttlv *f;
	const struct op_desc *d;
	bool ops = false, objs = false, info = false;
	size_t i;

	for (f = ttlv_find(ctx->item->payload, KMIP_TAG_QUERY_FUNCTION); f != NULL; f = ttlv_find_next(f)) {
		if (f->type != TTLV_ENUMERATION)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Query Function is not an Enumeration");
		ops |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_OPERATIONS;
		objs |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_OBJECTS;
		info |= f->v.u32 == KMIP_QUERY_FUNCTION_QUERY_SERVER_INFORMATION;
	}
	/* Only the operations the caller's roles allow: what it may use, not what the server has. */
	if (ops)
		for (d = dispatch_ops; d->fn != NULL; d++)
			if (ops_client_knows_op(ctx, d) && access_rights_allow(session_rights(ctx->session), d->operation))
				ttlv_enc_enum(ctx->out, KMIP_TAG_OPERATION, d->operation);
	if (objs) {
		for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
			ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, objects[i]);
		/* Templates exist in KMIP 1.x only. */
		if (ctx->rules.templates)
			ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_TEMPLATE);
	}
	if (info) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_VENDOR_IDENTIFICATION, "kmipd");
		ttlv_enc_begin(ctx->out, KMIP_TAG_SERVER_INFORMATION);
		ttlv_enc_end(ctx->out);
	}
	return 0;
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

	if (ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION) != NULL) {
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
	for (i = 0; i < dispatch_nversions; i++)
		kmip_version_encode(ctx->out, dispatch_versions[i]);
	return 0;
}
