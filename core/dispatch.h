/*
 * The dispatcher: turns one decoded request into one encoded response. It reads the envelope, checks the
 * protocol version and the batch, and hands each batch item to its operation's handler. This is the seam
 * where operations plug in.
 */
#ifndef KMIPD_DISPATCH_H
#define KMIPD_DISPATCH_H

#include "proto/proto.h"

struct conn;

/* What a handler sees of one batch item. */
struct op_ctx {
	struct conn *conn;
	const struct kmip_request *req;
	const struct kmip_batch_item *item;
	unsigned version;		/* the version the response is written in */
	struct ttlv_enc *out;		/* the Response Payload's contents go here */
	struct kmip_error err;		/* set by a failing handler */
};

/* A handler writes its payload to ctx->out and returns 0, or sets ctx->err and returns -1. */
typedef int (*op_fn)(struct op_ctx *ctx);

struct op_desc {
	uint32_t operation;
	const char *name;
	op_fn fn;
};

/*
 * Answers the request in root: writes exactly one Response Message into out. Returns 0, or -1 when the
 * message was not a usable request (out still holds an error response to send before closing).
 */
int dispatch_request(struct conn *c, const struct ttlv *root, struct ttlv_arena *arena,
    struct ttlv_enc *out);
/* Writes the Invalid Message response sent for undecodable input. */
void dispatch_bad_message(struct ttlv_enc *out, const char *why);
/* The operations kmipd implements, terminated by an entry with fn NULL. */
extern const struct op_desc dispatch_ops[];
/* Discover Versions (KMIP 1.1+): the protocol versions kmipd speaks, newest first. */
int op_discover_versions(struct op_ctx *ctx);

#endif
