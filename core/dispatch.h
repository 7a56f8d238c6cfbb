/*
 * The dispatcher: turns one decoded request into one encoded response. It reads the envelope, checks the
 * protocol version and the batch, and hands each batch item to its operation's handler. This is the seam
 * where operations plug in.
 */
#ifndef KMIPD_DISPATCH_H
#define KMIPD_DISPATCH_H

#include "proto/proto.h"

struct conn;
struct keygen_result;
struct keygen_spec;

#define OP_UID_MAX	64	/* = STORE_UID_MAX */
#define OP_AUDIT_UIDS	4	/* unique identifiers an audit line names (Locate: the first ones) */

/* What a handler sees of one batch item. */
struct op_ctx {
	struct conn *conn;
	const struct kmip_request *req;
	const struct kmip_batch_item *item;
	unsigned version;		/* the version the response is written in */
	struct ttlv_enc *out;		/* the Response Payload's contents go here */
	struct ttlv_arena *arena;	/* the request's arena, for scratch items */
	char *placeholder;		/* ID Placeholder shared by the batch's items (STORE_UID_MAX + 1) */
	struct keygen_result *key;	/* the key pair generated for this item, if its op asked for one */
	int64_t now;
	struct kmip_error err;		/* set by a failing handler */
	char audit_uids[OP_AUDIT_UIDS][OP_UID_MAX + 1];	/* what the item acted on, for the audit trail */
	size_t naudit;
};

/* A handler writes its payload to ctx->out and returns 0, or sets ctx->err and returns -1. */
typedef int (*op_fn)(struct op_ctx *ctx);

struct op_desc {
	uint32_t operation;
	const char *name;
	op_fn fn;
	/* Optional: 1 with spec filled when the item needs a key pair generated before it runs. */
	int (*keyspec)(struct op_ctx *ctx, struct keygen_spec *spec);
	unsigned since;			/* the protocol version that introduced the operation */
};

enum dispatch_status {
	DISPATCH_DONE,			/* out holds the response */
	DISPATCH_PENDING,		/* waiting for key generation; conn_request_done() follows */
};

struct dispatch_pending;

/*
 * Answers the request in root: DISPATCH_DONE with exactly one Response Message in out (the caller frees
 * the arena), or DISPATCH_PENDING when items wait for generated keys: the dispatcher then owns the arena,
 * sets c->pending, and calls conn_request_done() with the response later.
 */
enum dispatch_status dispatch_request(struct conn *c, const struct ttlv *root, struct ttlv_arena *arena,
    struct ttlv_enc *out);
/* The connection is closing: drops a pending request, cancelling its key generation. */
void dispatch_cancel(struct dispatch_pending *p);
/* Writes the Invalid Message response sent for undecodable input. */
void dispatch_bad_message(struct ttlv_enc *out, const char *why);
/* The operations kmipd implements, terminated by an entry with fn NULL. */
extern const struct op_desc dispatch_ops[];
/* The versions kmipd speaks, newest first, and how many. */
extern const unsigned dispatch_versions[];
extern const size_t dispatch_nversions;

#endif
