/*
 * KMIP versions at the engine's edges. Handlers work in one internal form, KMIP 2.x, and never test a
 * version number; what differs between 1.x and 2.x is decided here, once per request:
 *
 *   rules           versions_rules() names the behaviour that differs by version and is not a matter of
 *                   spelling (1.x echoes an edited attribute, 2.x wants unique Names, ...): ctx->rules;
 *   on the way out  versions_reason() maps the Result Reasons handlers set (2.x) to those kmipd answers 1.x
 *                   clients with, and the ops_encode_* helpers write attributes in the client's spelling
 *                   through attrs.c (attr_encode, attrs_encode), the way out for attribute forms.
 */
#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "proto/message.h"
#include "proto/names.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define V1(version) (KMIP_VERSION_MAJOR(version) < 2)

/*
 * The rules, newest version first: a request is answered by the first row whose since it has reached.
 */
static const struct {
	unsigned since;
	struct op_rules rules;
} rules_by_version[] = {
	{ KMIP_VERSION(2, 0), {
		.unique_names = true,
		.get_registered_format = true,
		.located_items = true,
	} },
	{ KMIP_VERSION(1, 3), {
		.echo_edited_attribute = true,
		.located_items = true,
	} },
	{ KMIP_VERSION(1, 0), {
		.echo_edited_attribute = true,
	} },
};

/* Returns the rules of the protocol version a response is written in. */
struct op_rules
versions_rules(unsigned version)
{
	size_t i;

	for (i = 0; i < NELEM(rules_by_version) - 1; i++)
		if (version >= rules_by_version[i].since)
			break;
	return rules_by_version[i].rules;
}

/*
 * Result Reasons that handlers set and KMIP 1.x does not have (2.0 added them), with the reason kmipd
 * answers 1.x clients with instead.
 */
static const struct {
	uint32_t internal, v1;
} reasons_v1[] = {
	{ KMIP_RESULT_REASON_OBJECT_NOT_FOUND, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
	{ KMIP_RESULT_REASON_OBJECT_DESTROYED, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
	{ KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_SENSITIVE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_NOT_EXTRACTABLE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND, KMIP_RESULT_REASON_INVALID_FIELD },
	{ KMIP_RESULT_REASON_ATTRIBUTE_SINGLE_VALUED, KMIP_RESULT_REASON_INVALID_FIELD },
};

/* Returns the Result Reason a client of version gets for the internal reason. */
uint32_t
versions_reason(unsigned version, uint32_t reason)
{
	size_t i;

	if (!V1(version))
		return reason;
	for (i = 0; i < NELEM(reasons_v1); i++)
		if (reasons_v1[i].internal == reason)
			return reasons_v1[i].v1;
	return reason;
}

/* The Result Reason table, for tests: false past the last row. */
bool
versions_reason_row(size_t i, uint32_t *internal, uint32_t *v1)
{
	if (i >= NELEM(reasons_v1))
		return false;
	*internal = reasons_v1[i].internal;
	*v1 = reasons_v1[i].v1;
	return true;
}

/* Writes one attribute in the client's spelling. */
void
ops_encode_attr(struct op_ctx *ctx, const struct ttlv *item, int32_t index)
{
	attr_encode(ctx->out, ctx->version, item, index);
}

/* Writes the attributes the client's version knows and keep accepts, in its spelling. */
void
ops_encode_attrs(struct op_ctx *ctx, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	attrs_encode(ctx->out, ctx->version, attrs, keep, arg);
}

/* Writes a reference to each attribute the client's version knows and keep accepts, in its spelling. */
void
ops_encode_attr_refs(struct op_ctx *ctx, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	attrs_encode_refs(ctx->out, ctx->version, attrs, keep, arg);
}

/* The Key Format Type a key of this type and algorithm defaults to in the client's version. */
uint32_t
ops_default_format(const struct op_ctx *ctx, uint32_t object_type, uint32_t alg)
{
	return keyfmt_default_format(object_type, alg, ctx->version);
}

/* True when the client's version defines the operation (Query lists no other). */
bool
ops_client_knows_op(const struct op_ctx *ctx, const struct op_desc *d)
{
	return d->since <= ctx->version;
}
