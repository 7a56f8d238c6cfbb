/*
 * KMIP versions at the engine's edges. Handlers work in one internal form, KMIP 2.x, and never test a
 * version number; what differs between 1.x and 2.x is decided here, once per request:
 *
 *   on the way in   versions_normalise() rewrites each batch item's Request Payload into the internal form
 *                   before anything (a handler, a key-generation spec) reads it;
 *   rules           versions_rules() names the behaviour that differs by version and is not a matter of
 *                   spelling (1.x echoes an edited attribute, 2.x wants unique Names, ...): ctx->rules;
 *   on the way out  versions_reason() maps the Result Reasons handlers set (2.x) to those kmipd answers 1.x
 *                   clients with, and the ops_encode_* helpers write attributes in the client's spelling
 *                   through attrs.c (attr_encode, attrs_encode), the way out for attribute forms.
 *
 * The internal form of a payload is KMIP 2.x plus what cannot be resolved without the object:
 *   - Attribute Index (Integer), in Modify and Delete Attribute: the instance a 1.x client picked, by
 *     position among the object's instances. A Delete Attribute with an Attribute Reference and no Current
 *     Attribute deletes that instance, or every instance when there is no Attribute Index (2.x).
 *   - Attribute Name (Text String), in Get Attributes: a 1.x name that does not stand for Attribute
 *     References on its own, matched by its 1.x spelling: one with several dashes ("a-b-c": which dash
 *     parts a vendor attribute's vendor from its name depends on the object's attributes), or one that
 *     names nothing.
 * A 2.x client's Attribute Index is not the internal one (2.x has none): it is dropped.
 */
#include <string.h>

#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define T(name) KMIP_TAG_##name
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
		.profile_names = 0x0200,
	} },
	{ KMIP_VERSION(1, 4), {
		.echo_edited_attribute = true,
		.located_items = true,
		.templates = true,
		.profile_names = 0x0104,
	} },
	{ KMIP_VERSION(1, 3), {
		.echo_edited_attribute = true,
		.located_items = true,
		.templates = true,
		.profile_names = 0x0103,
	} },
	{ KMIP_VERSION(1, 0), {
		.echo_edited_attribute = true,
		.templates = true,
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
	/* A multi-part operation's Correlation Value that names none: 1.x names no reason for it. */
	{ KMIP_RESULT_REASON_INVALID_CORRELATION_VALUE, KMIP_RESULT_REASON_INVALID_FIELD },
	/* 1.x has no reason for a server's limit (a quota, a cap): refused by policy; the Result Message names it. */
	{ KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_KEY_WRAP_TYPE_NOT_SUPPORTED, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED },
	{ KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, KMIP_RESULT_REASON_INVALID_FIELD },
};

/*
 * Reasons of the table above that a later 1.x version added: clients of that version and later get them as
 * they are. KMIP 1.4 added Sensitive and Not Extractable (0x16, 0x17) with the attributes.
 */
static const struct {
	uint32_t reason;
	unsigned since;
} reasons_since[] = {
	{ KMIP_RESULT_REASON_SENSITIVE, KMIP_VERSION(1, 4) },
	{ KMIP_RESULT_REASON_NOT_EXTRACTABLE, KMIP_VERSION(1, 4) },
};

/* Returns the Result Reason a client of version gets for the internal reason. */
uint32_t
versions_reason(unsigned version, uint32_t reason)
{
	size_t i;

	if (!V1(version))
		return reason;
	for (i = 0; i < NELEM(reasons_since); i++)
		if (reasons_since[i].reason == reason && version >= reasons_since[i].since)
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

/*
 * Request normalisation. Each operation whose payload differs between the versions has a row: which
 * versions' payloads it rewrites, the fields of the client's payload it replaces, and the function that
 * writes their internal form (the other fields are kept). Fields of the other version are replaced as
 * well: a handler reads only the internal ones, as it read only its own version's before.
 */

/* One batch item's payload being rewritten. */
struct rewrite {
	struct ttlv_arena *arena;
	const struct ttlv *in;		/* the client's Request Payload */
	struct ttlv *out;		/* its internal form */
	struct kmip_error *err;
};

/* A 1.x attribute set and the internal one it becomes. */
struct set_pair {
	uint32_t v1, internal;
};

struct normaliser;
typedef int (*normalise_fn)(struct rewrite *rw, const struct normaliser *n);

#define MAX_REPLACED 6

struct normaliser {
	uint32_t operation;
	bool v1, v2;			/* the versions whose payloads it rewrites */
	normalise_fn fn;
	uint32_t replaced[MAX_REPLACED];	/* fields it replaces, 0-terminated */
	const struct set_pair *sets;	/* attribute sets, for v1_sets(); 0-terminated */
};

/* Sets rw->err to the out-of-memory failure (as a handler reports it); returns -1. */
static int
nomem(struct rewrite *rw)
{
	return kmip_error_set(rw->err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
}

/* True when tag is one of the 0-terminated list. */
static bool
listed(const uint32_t *tags, size_t n, uint32_t tag)
{
	size_t i;

	for (i = 0; i < n && tags[i] != 0; i++)
		if (tags[i] == tag)
			return true;
	return false;
}

/* Appends to out the client's fields that n does not replace (copies of the items; their values are shared). */
static int
keep_fields(struct rewrite *rw, const struct normaliser *n)
{
	const struct ttlv *c;
	struct ttlv *copy;

	for (c = rw->in->v.s.first; c != NULL; c = c->next) {
		if (listed(n->replaced, MAX_REPLACED, c->tag))
			continue;
		if ((copy = ttlv_arena_alloc(rw->arena, sizeof(*copy))) == NULL)
			return nomem(rw);
		*copy = *c;
		ttlv_append(rw->out, copy);
	}
	return 0;
}

/* Appends a structure tag wrapping item to out. */
static int
append_wrapped(struct rewrite *rw, uint32_t tag, struct ttlv *item)
{
	struct ttlv *w = ttlv_new_struct(rw->arena, tag);

	if (w == NULL)
		return nomem(rw);
	ttlv_append(w, item);
	ttlv_append(rw->out, w);
	return 0;
}

/* Appends an Attribute Index to out. */
static int
append_index(struct rewrite *rw, int32_t index)
{
	struct ttlv *t = ttlv_new_int(rw->arena, T(ATTRIBUTE_INDEX), index);

	if (t == NULL)
		return nomem(rw);
	ttlv_append(rw->out, t);
	return 0;
}

/* Create, Register, Re-key, CreateKeyPair, Re-key Key Pair: Template-Attributes become attribute sets. */
static int
v1_sets(struct rewrite *rw, const struct normaliser *n)
{
	const struct set_pair *p;
	const struct ttlv *src;
	struct ttlv *set;

	if (keep_fields(rw, n) != 0)
		return -1;
	for (p = n->sets; p->v1 != 0; p++) {
		if ((src = ttlv_find(rw->in, p->v1)) == NULL)
			continue;
		if ((set = ttlv_new_struct(rw->arena, p->internal)) == NULL)
			return nomem(rw);
		if (attrs_from_v1(rw->arena, src, set, rw->err) != 0)
			return -1;
		ttlv_append(rw->out, set);
	}
	return 0;
}

/*
 * Locate: the filter, Attribute items (bare, or wrapped in a Template-Attribute as some clients send them),
 * becomes an Attributes structure. Server-set attributes (State, Object Type, ...) are valid filters here.
 */
static int
v1_locate(struct rewrite *rw, const struct normaliser *n)
{
	const struct ttlv *c, *a, *first;
	struct ttlv *filter, *item;
	int32_t index;

	if (keep_fields(rw, n) != 0)
		return -1;
	if ((filter = ttlv_new_struct(rw->arena, T(ATTRIBUTES))) == NULL)
		return nomem(rw);
	for (c = rw->in->v.s.first; c != NULL; c = c->next) {
		first = c;
		if (c->tag == T(TEMPLATE_ATTRIBUTE) && c->type == TTLV_STRUCTURE)
			first = c->v.s.first;
		else if (c->tag != T(ATTRIBUTE))
			continue;
		for (a = first; a != NULL; a = a == c ? NULL : a->next) {
			if (a->tag != T(ATTRIBUTE))
				continue;
			if ((item = attr_from_v1(rw->arena, a, &index, rw->err)) == NULL)
				return -1;
			ttlv_append(filter, item);
		}
	}
	ttlv_append(rw->out, filter);
	return 0;
}

/* The internal item of an edit's 1.x Attribute (name, index, value); NULL with rw->err set. */
static struct ttlv *
edit_attribute(struct rewrite *rw, int32_t *index)
{
	const struct ttlv *a = ttlv_find(rw->in, T(ATTRIBUTE));

	if (a == NULL) {
		kmip_error_set(rw->err, KMIP_RESULT_REASON_INVALID_FIELD, "the request has no Attribute");
		return NULL;
	}
	return attr_from_v1(rw->arena, a, index, rw->err);
}

/* Add Attribute: the Attribute becomes a New Attribute (an added instance goes last: no index). */
static int
v1_add(struct rewrite *rw, const struct normaliser *n)
{
	struct ttlv *item;
	int32_t index;

	if ((item = edit_attribute(rw, &index)) == NULL || keep_fields(rw, n) != 0)
		return -1;
	return append_wrapped(rw, T(NEW_ATTRIBUTE), item);
}

/* Modify Attribute: the Attribute becomes a New Attribute and the instance it replaces an Attribute Index. */
static int
v1_modify(struct rewrite *rw, const struct normaliser *n)
{
	struct ttlv *item;
	int32_t index;

	if ((item = edit_attribute(rw, &index)) == NULL || keep_fields(rw, n) != 0 ||
	    append_wrapped(rw, T(NEW_ATTRIBUTE), item) != 0)
		return -1;
	return append_index(rw, index);
}

/*
 * The Attribute Reference of a 1.x Attribute Name in Delete Attribute: a custom "x-name" or "y-name" is
 * vendor x's or y's attribute name, any other name the attribute kmipd knows by it. NULL with rw->err set.
 */
static struct ttlv *
reference_from_name(struct rewrite *rw, const char *s)
{
	struct ttlv *ref, *v, *n;
	uint32_t tag;

	if ((s[0] == 'x' || s[0] == 'y') && s[1] == '-' && s[2] != '\0') {
		ref = ttlv_new_struct(rw->arena, T(ATTRIBUTE_REFERENCE));
		v = ttlv_new_text(rw->arena, T(VENDOR_IDENTIFICATION), s, 1);
		n = ttlv_new_text(rw->arena, T(ATTRIBUTE_NAME), s + 2, strlen(s + 2));
		if (ref == NULL || v == NULL || n == NULL) {
			nomem(rw);
			return NULL;
		}
		ttlv_append(ref, v);
		ttlv_append(ref, n);
		return ref;
	}
	if (ttlv_tag_by_name(s, &tag) != 0 || attr_def(tag) == NULL) {
		kmip_error_set(rw->err, KMIP_RESULT_REASON_INVALID_FIELD, "unknown attribute \"%s\"", s);
		return NULL;
	}
	if ((ref = ttlv_new_enum(rw->arena, T(ATTRIBUTE_REFERENCE), tag)) == NULL)
		nomem(rw);
	return ref;
}

/* Delete Attribute: Attribute Name and Index become an Attribute Reference and the internal Attribute Index. */
static int
v1_delete(struct rewrite *rw, const struct normaliser *n)
{
	const struct ttlv *name = ttlv_find(rw->in, T(ATTRIBUTE_NAME));
	const struct ttlv *idx = ttlv_find(rw->in, T(ATTRIBUTE_INDEX));
	struct ttlv *ref;

	if (name == NULL || name->type != TTLV_TEXT_STRING)
		return kmip_error_set(rw->err, KMIP_RESULT_REASON_INVALID_FIELD, "Delete Attribute needs an Attribute Name");
	if (idx != NULL && (idx->type != TTLV_INTEGER || idx->v.i32 < 0))
		return kmip_error_set(rw->err, KMIP_RESULT_REASON_INVALID_FIELD, "invalid Attribute Index");
	if ((ref = reference_from_name(rw, (const char *)name->v.bytes.data)) == NULL || keep_fields(rw, n) != 0)
		return -1;
	ttlv_append(rw->out, ref);
	return append_index(rw, idx != NULL ? idx->v.i32 : 0);
}

/* Modify and Delete Attribute in 2.x: the client's Attribute Index (not a 2.x field) is dropped. */
static int
v2_edit(struct rewrite *rw, const struct normaliser *n)
{
	return keep_fields(rw, n);
}

/*
 * Appends to out the Attribute References a 1.x Attribute Name stands for: the attribute it names (not
 * Attribute: that name names no attribute of its own), and for a name with one dash the vendor attribute
 * on either side of it ("x-name"). Returns how many: 0 when the name stays a name (several dashes, or a
 * name of nothing), -1 when out of memory.
 */
static int
name_references(struct rewrite *rw, const struct ttlv *name)
{
	const char *s = (const char *)name->v.bytes.data, *dash = strchr(s, '-');
	struct ttlv *ref, *v, *n;
	uint32_t tag;
	int count = 0;

	if (dash != NULL && strchr(dash + 1, '-') != NULL)
		return 0;
	if (ttlv_tag_by_name(s, &tag) == 0 && tag != T(ATTRIBUTE)) {
		if ((ref = ttlv_new_enum(rw->arena, T(ATTRIBUTE_REFERENCE), tag)) == NULL)
			return nomem(rw);
		ttlv_append(rw->out, ref);
		count++;
	}
	if (dash != NULL && dash != s && dash[1] != '\0') {
		ref = ttlv_new_struct(rw->arena, T(ATTRIBUTE_REFERENCE));
		v = ttlv_new_text(rw->arena, T(VENDOR_IDENTIFICATION), s, (size_t)(dash - s));
		n = ttlv_new_text(rw->arena, T(ATTRIBUTE_NAME), dash + 1, strlen(dash + 1));
		if (ref == NULL || v == NULL || n == NULL)
			return nomem(rw);
		ttlv_append(ref, v);
		ttlv_append(ref, n);
		ttlv_append(rw->out, ref);
		count++;
	}
	return count;
}

/*
 * Get Attributes (every version: kmipd has always taken 1.x names from 2.x clients too): each Attribute Name
 * becomes the Attribute References it stands for, or stays when it stands for none on its own.
 */
static int
any_get_attributes(struct rewrite *rw, const struct normaliser *n)
{
	const struct ttlv *c;
	struct ttlv *copy;
	int refs;

	(void)n;
	for (c = rw->in->v.s.first; c != NULL; c = c->next) {
		if (c->tag == T(ATTRIBUTE_NAME) && c->type == TTLV_TEXT_STRING) {
			if ((refs = name_references(rw, c)) < 0)
				return -1;
			if (refs > 0)
				continue;
		}
		if ((copy = ttlv_arena_alloc(rw->arena, sizeof(*copy))) == NULL)
			return nomem(rw);
		*copy = *c;
		ttlv_append(rw->out, copy);
	}
	return 0;
}

static const struct set_pair template_sets[] = {
	{ T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) },
	{ 0, 0 },
};

static const struct set_pair key_pair_sets[] = {
	{ T(COMMON_TEMPLATE_ATTRIBUTE), T(COMMON_ATTRIBUTES) },
	{ T(PRIVATE_KEY_TEMPLATE_ATTRIBUTE), T(PRIVATE_KEY_ATTRIBUTES) },
	{ T(PUBLIC_KEY_TEMPLATE_ATTRIBUTE), T(PUBLIC_KEY_ATTRIBUTES) },
	{ 0, 0 },
};

#define OP(name) KMIP_OPERATION_##name

static const struct normaliser normalisers[] = {
	{ OP(CREATE), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(REGISTER), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(RE_KEY), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(DERIVE_KEY), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(CREATE_SPLIT_KEY), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(JOIN_SPLIT_KEY), true, false, v1_sets, { T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, template_sets },
	{ OP(CREATE_KEY_PAIR), true, false, v1_sets, { T(COMMON_TEMPLATE_ATTRIBUTE), T(PRIVATE_KEY_TEMPLATE_ATTRIBUTE),
	    T(PUBLIC_KEY_TEMPLATE_ATTRIBUTE), T(COMMON_ATTRIBUTES), T(PRIVATE_KEY_ATTRIBUTES), T(PUBLIC_KEY_ATTRIBUTES) },
	    key_pair_sets },
	{ OP(RE_KEY_KEY_PAIR), true, false, v1_sets, { T(COMMON_TEMPLATE_ATTRIBUTE), T(PRIVATE_KEY_TEMPLATE_ATTRIBUTE),
	    T(PUBLIC_KEY_TEMPLATE_ATTRIBUTE), T(COMMON_ATTRIBUTES), T(PRIVATE_KEY_ATTRIBUTES), T(PUBLIC_KEY_ATTRIBUTES) },
	    key_pair_sets },
	{ OP(LOCATE), true, false, v1_locate, { T(ATTRIBUTE), T(TEMPLATE_ATTRIBUTE), T(ATTRIBUTES) }, NULL },
	{ OP(ADD_ATTRIBUTE), true, false, v1_add, { T(ATTRIBUTE), T(NEW_ATTRIBUTE) }, NULL },
	{ OP(MODIFY_ATTRIBUTE), true, false, v1_modify, { T(ATTRIBUTE), T(NEW_ATTRIBUTE), T(CURRENT_ATTRIBUTE),
	    T(ATTRIBUTE_INDEX) }, NULL },
	{ OP(MODIFY_ATTRIBUTE), false, true, v2_edit, { T(ATTRIBUTE_INDEX) }, NULL },
	{ OP(DELETE_ATTRIBUTE), true, false, v1_delete, { T(ATTRIBUTE_NAME), T(ATTRIBUTE_INDEX), T(CURRENT_ATTRIBUTE),
	    T(ATTRIBUTE_REFERENCE) }, NULL },
	{ OP(DELETE_ATTRIBUTE), false, true, v2_edit, { T(ATTRIBUTE_INDEX) }, NULL },
	{ OP(GET_ATTRIBUTES), true, true, any_get_attributes, { T(ATTRIBUTE_NAME) }, NULL },
};

/* The row for an operation in a version, or NULL when its payload needs no rewriting. */
static const struct normaliser *
find_normaliser(uint32_t operation, unsigned version)
{
	size_t i;

	for (i = 0; i < NELEM(normalisers); i++)
		if (normalisers[i].operation == operation && (V1(version) ? normalisers[i].v1 : normalisers[i].v2))
			return &normalisers[i];
	return NULL;
}

/* Rewrites every batch item's payload into the internal form; see ops.h. */
struct kmip_error *
versions_normalise(struct kmip_request *req, unsigned version, struct ttlv_arena *arena)
{
	struct kmip_error *faults;
	size_t i;

	if ((faults = ttlv_arena_alloc(arena, (req->nitems > 0 ? req->nitems : 1) * sizeof(*faults))) == NULL)
		return NULL;
	for (i = 0; i < req->nitems; i++) {
		struct kmip_batch_item *item = &req->items[i];
		const struct normaliser *n = find_normaliser(item->operation, version);
		struct rewrite rw = { arena, item->payload, NULL, &faults[i] };

		if (n == NULL || item->payload == NULL)
			continue;
		if ((rw.out = ttlv_new_struct(arena, T(REQUEST_PAYLOAD))) == NULL) {
			nomem(&rw);
			continue;
		}
		if (n->fn(&rw, n) == 0)
			item->payload = rw.out;
	}
	return faults;
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

/* See ops.h. */
bool
ops_client_knows_tag(const struct op_ctx *ctx, uint32_t tag)
{
	unsigned since = ttlv_tag_version(tag);

	return since != 0 && since <= ctx->version;
}
