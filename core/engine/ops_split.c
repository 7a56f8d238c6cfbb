/*
 * Split keys: Create Split Key and Join Split Key (KMIP 1.2 and later), and the Split Key object's own fields
 * for Register and Get. The secret sharing itself is splitkey.c.
 *
 * A Split Key object keeps its share as material (Key Format Type Raw) and its fields (Split Key Parts, Key
 * Part Identifier, Split Key Threshold, Split Key Method, Prime Field Size) with its attributes, under
 * their own tags: attrs.c knows them as fields (ATTR_FIELD), which are never written or listed as
 * attributes and which clients cannot set or edit.
 *
 * Links (KMIP 1.4 section 3.35's Parent, Child, Previous and Next Links):
 *   a part made from an existing key      Parent Link to that key, which gets a Child Link to each part
 *   the parts of one Create Split Key     Previous Link to the part before, Next Link to the one after
 *   the object Join Split Key makes       a Parent Link to each part it was joined from (the parts are read,
 *                                         not changed: joining needs only the right to read them)
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/config.h"
#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "core/engine/splitkey.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

/* Largest symmetric key Create Split Key makes when it splits a new one, in bits (as Create). */
#define SPLIT_NEW_MAX_BITS	4096
/*
 * Parts one Join Split Key may name: the most any split kmipd accepts can have (server.max_split_key_parts
 * is at most 255), so that lowering the limit never strands a split made under a higher one. The join's
 * work is bounded apart (splitkey.h).
 */
#define SPLIT_MAX_JOIN		255

/* A split's parameters as read from a request or a stored part, with the Prime Field Size's bytes. */
struct split_fields {
	struct splitkey_params p;
	int32_t part;			/* Key Part Identifier (Register, stored parts); 0 in Create Split Key */
	uint8_t prime[SPLITKEY_PRIME_MAX_BITS / 8 + 8];
};

/* An Integer field of src that must be present and positive; 0, or -1 with ctx->err set. */
static int
positive(struct op_ctx *ctx, const struct ttlv *src, uint32_t tag, int32_t *v)
{
	const struct ttlv *t = ttlv_find(src, tag);

	if (t == NULL || t->type != TTLV_INTEGER || t->v.i32 < 1)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s must be a positive Integer",
		    ttlv_tag_name(tag));
	*v = t->v.i32;
	return 0;
}

/*
 * Reads the split fields of src (a Create Split Key payload, a registered Split Key, a stored part's
 * attributes) into f and checks them against each other; what a client gives (given) against
 * server.max_split_key_parts and its Prime Field Size for primality too, a stored part's having been checked
 * so when it was made. with_part: src has a Key Part Identifier. 0, or -1 with ctx->err set.
 */
static int
read_fields(struct op_ctx *ctx, const struct ttlv *src, bool with_part, bool given, struct split_fields *f)
{
	const struct ttlv *method = ttlv_find(src, KMIP_TAG_SPLIT_KEY_METHOD);
	const struct ttlv *prime = ttlv_find(src, KMIP_TAG_PRIME_FIELD_SIZE);
	unsigned max = ctx->env->cfg->server.max_split_key_parts;
	int32_t parts, threshold;
	size_t skip = 0;

	memset(f, 0, sizeof(*f));
	if (positive(ctx, src, KMIP_TAG_SPLIT_KEY_PARTS, &parts) != 0 ||
	    positive(ctx, src, KMIP_TAG_SPLIT_KEY_THRESHOLD, &threshold) != 0 ||
	    (with_part && positive(ctx, src, KMIP_TAG_KEY_PART_IDENTIFIER, &f->part) != 0))
		return -1;
	if (method == NULL || method->type != TTLV_ENUMERATION)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "a Split Key Method is needed");
	/* A stored part was within the limit when it was made: lowering the limit must not strand its split. */
	if (given && (unsigned)parts > max)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Split Key Parts %d is over this "
		    "server's limit of %u (server.max_split_key_parts)", parts, max);
	if (with_part && f->part > parts)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Key Part Identifier %d is over "
		    "Split Key Parts (%d)", f->part, parts);
	f->p.method = method->v.u32;
	f->p.parts = (unsigned)parts;
	f->p.threshold = (unsigned)threshold;
	if (prime != NULL) {
		/* A positive Big Integer: its sign byte and padding are leading zeros. */
		if (prime->type != TTLV_BIG_INTEGER || prime->length == 0 || (prime->v.bytes.data[0] & 0x80))
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size must be a "
			    "positive Big Integer");
		while (skip < prime->length && prime->v.bytes.data[skip] == 0)
			skip++;
		if (prime->length - skip > sizeof(f->prime) || skip == prime->length)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Prime Field Size must be a "
			    "prime of at most %d bits", SPLITKEY_PRIME_MAX_BITS);
		memcpy(f->prime, prime->v.bytes.data + skip, prime->length - skip);
		f->p.prime = f->prime;
		f->p.prime_len = prime->length - skip;
	}
	if (splitkey_check(&f->p, 0, &ctx->err) != 0)
		return -1;
	return given ? splitkey_check_prime(&f->p, &ctx->err) : 0;
}

/* Stores f (Key Part Identifier part) with o's attributes, as fields. 0, or -1 with ctx->err set. */
static int
set_fields(struct op_ctx *ctx, struct store_object *o, const struct split_fields *f, int32_t part)
{
	uint8_t buf[sizeof(f->prime) + 8];
	size_t padded;
	struct ttlv *t;

	if (attrs_set_int(o->arena, o->attrs, KMIP_TAG_SPLIT_KEY_PARTS, (int32_t)f->p.parts) != 0 ||
	    attrs_set_int(o->arena, o->attrs, KMIP_TAG_KEY_PART_IDENTIFIER, part) != 0 ||
	    attrs_set_int(o->arena, o->attrs, KMIP_TAG_SPLIT_KEY_THRESHOLD, (int32_t)f->p.threshold) != 0 ||
	    attrs_set_enum(o->arena, o->attrs, KMIP_TAG_SPLIT_KEY_METHOD, f->p.method) != 0)
		return ops_nomem(ctx);
	if (f->p.prime != NULL) {
		/* A zero sign byte, then padding to KMIP's multiple of 8. */
		padded = (f->p.prime_len + 1 + 7) / 8 * 8;
		memset(buf, 0, padded - f->p.prime_len);
		memcpy(buf + padded - f->p.prime_len, f->p.prime, f->p.prime_len);
		if ((t = ttlv_new_bigint(o->arena, KMIP_TAG_PRIME_FIELD_SIZE, buf, padded)) == NULL ||
		    attrs_set(o->arena, o->attrs, t) != 0)
			return ops_nomem(ctx);
	}
	return 0;
}

/* Checks a registered Split Key's fields and keeps them with o (the new object); see ops.h. */
int
ops_split_register(struct op_ctx *ctx, const struct ttlv *obj, struct store_object *o)
{
	const struct ttlv *len = ttlv_find(ttlv_find(obj, KMIP_TAG_KEY_BLOCK), KMIP_TAG_CRYPTOGRAPHIC_LENGTH);
	struct split_fields f;

	if (read_fields(ctx, obj, true, true, &f) != 0)
		return -1;
	if (f.p.prime != NULL && o->material_len > f.p.prime_len)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the part is longer than the Prime "
		    "Field Size");
	/* The Key Block's length is the key's (a prime field join needs it), not the part's. */
	if (len != NULL && len->type == TTLV_INTEGER && ttlv_find(o->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH) == NULL &&
	    attrs_set_int(o->arena, o->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, len->v.i32) != 0)
		return ops_nomem(ctx);
	return set_fields(ctx, o, &f, f.part);
}

/* Writes a Split Key's fields (all but its Key Block) into the response, in the order of the spec. */
void
ops_split_encode(struct op_ctx *ctx, const struct store_object *o)
{
	static const uint32_t tags[] = { KMIP_TAG_SPLIT_KEY_PARTS, KMIP_TAG_KEY_PART_IDENTIFIER,
	    KMIP_TAG_SPLIT_KEY_THRESHOLD, KMIP_TAG_SPLIT_KEY_METHOD, KMIP_TAG_PRIME_FIELD_SIZE };
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const struct ttlv *t = ttlv_find(o->attrs, tags[i]);

		if (t != NULL)
			ttlv_enc_item(ctx->out, t);
	}
}

/* The attribute set of the request (1.x Template-Attribute normalised into it), read into a new set. */
static struct ttlv *
given_attrs(struct op_ctx *ctx)
{
	struct ttlv *attrs = ttlv_new_struct(ctx->arena, KMIP_TAG_ATTRIBUTES);

	if (attrs == NULL) {
		ops_nomem(ctx);
		return NULL;
	}
	if (attrs_from_request(ctx->arena, ttlv_find(ctx->item->payload, KMIP_TAG_ATTRIBUTES), attrs, &ctx->err) != 0)
		return NULL;
	return attrs;
}

/* Copies o's attribute tag into attrs, replacing the request's (the key's own attributes win). */
static int
take_attr(struct op_ctx *ctx, struct ttlv *attrs, const struct store_object *o, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(o->attrs, tag);

	return t == NULL || attrs_set(ctx->arena, attrs, t) == 0 ? 0 : ops_nomem(ctx);
}

/* A Boolean attribute's value, or dflt when absent. */
static bool
flag(const struct ttlv *attrs, uint32_t tag, bool dflt)
{
	const struct ttlv *a = ttlv_find(attrs, tag);

	return a != NULL && a->type == TTLV_BOOLEAN ? a->v.b : dflt;
}

/*
 * What no part or joined key may undo of its source: Sensitive stays so, not Extractable stays so, or
 * splitting and joining would give out what Get refuses.
 */
static int
keep_protection(struct op_ctx *ctx, struct ttlv *attrs, const struct ttlv *source)
{
	if (flag(source, KMIP_TAG_SENSITIVE, false) && attrs_set_bool(ctx->arena, attrs, KMIP_TAG_SENSITIVE, true) != 0)
		return ops_nomem(ctx);
	if (!flag(source, KMIP_TAG_EXTRACTABLE, true) &&
	    attrs_set_bool(ctx->arena, attrs, KMIP_TAG_EXTRACTABLE, false) != 0)
		return ops_nomem(ctx);
	return 0;
}

/* True when the caller's roles let it read key material (splitting and joining read it as Get does). */
static int
may_read_material(struct op_ctx *ctx, const char *what)
{
	if (session_rights(ctx->session)->material)
		return 0;
	session_log(ctx->session, LOG_LEVEL_WARN, "permission denied: %s, key material, by roles %s", what,
	    ctx->session->rights.roles);
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_PERMISSION_DENIED, "this client's roles (%s) may not "
	    "read key material: %s refused", ctx->session->rights.roles, what);
}

/*
 * The secret a Create Split Key without a Unique Identifier splits: a new symmetric key of the request's
 * Cryptographic Algorithm and Length, from the private random generator. 0, or -1 with ctx->err set.
 */
static int
new_secret(struct op_ctx *ctx, const struct ttlv *attrs, uint8_t *key, size_t *len)
{
	const struct ttlv *alg = ttlv_find(attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);
	const struct ttlv *bits = ttlv_find(attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH);

	if (alg == NULL || bits == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Create Split Key of a new key "
		    "needs its Cryptographic Algorithm and Cryptographic Length");
	if (bits->v.i32 < 8 || bits->v.i32 > SPLIT_NEW_MAX_BITS || bits->v.i32 % 8 != 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Cryptographic Length %d is not a "
		    "multiple of 8 between 8 and %d", bits->v.i32, SPLIT_NEW_MAX_BITS);
	if (alg->v.u32 == KMIP_CRYPTOGRAPHIC_ALGORITHM_AES && bits->v.i32 != 128 && bits->v.i32 != 192 &&
	    bits->v.i32 != 256)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "AES keys are 128, 192 or 256 bits, "
		    "not %d", bits->v.i32);
	*len = (size_t)bits->v.i32 / 8;
	if (RAND_priv_bytes(key, (int)*len) != 1)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "random generator failed");
	return 0;
}

/*
 * Loads the key a Create Split Key splits (with OPS_WRITE: it gets a Child Link to each part) and makes the
 * parts' attributes take its algorithm, length, usage and protection. 0, or -1 with ctx->err set.
 */
static int
load_source(struct op_ctx *ctx, struct store_txn *txn, const char *uid, uint32_t type, struct ttlv *attrs,
    struct store_object **orig)
{
	struct store_object *o;

	if (ops_load(ctx, txn, uid, OPS_MATERIAL | OPS_WRITE, orig) != 0)
		return -1;
	o = *orig;
	if (o->object_type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && o->object_type != KMIP_OBJECT_TYPE_SECRET_DATA &&
	    o->object_type != KMIP_OBJECT_TYPE_PRIVATE_KEY)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, "%s is a %s: kmipd splits "
		    "symmetric keys, private keys and Secret Data", uid, ttlv_enum_name(KMIP_TAG_OBJECT_TYPE,
		    o->object_type));
	if (type != KMIP_OBJECT_TYPE_SPLIT_KEY && type != o->object_type)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Object Type names neither Split "
		    "Key nor the type of %s", uid);
	if (o->state == KMIP_STATE_DESTROYED || o->state == KMIP_STATE_DESTROYED_COMPROMISED || o->material == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_DESTROYED, "object %s has been destroyed",
		    uid);
	if (take_attr(ctx, attrs, o, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM) != 0 ||
	    take_attr(ctx, attrs, o, KMIP_TAG_CRYPTOGRAPHIC_LENGTH) != 0 ||
	    (ttlv_find(attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK) == NULL &&
	    take_attr(ctx, attrs, o, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK) != 0) ||
	    keep_protection(ctx, attrs, o->attrs) != 0)
		return -1;
	return may_read_material(ctx, "Create Split Key");
}

/* Links the parts to each other and to the key they split (NULL for a new one); 0, or -1 with ctx->err set. */
static int
link_parts(struct op_ctx *ctx, struct store_object **parts, unsigned n, struct store_object *orig)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct store_object *o = parts[i];

		if ((orig != NULL && (attrs_add_link(o->arena, o->attrs, KMIP_LINK_TYPE_PARENT_LINK, orig->uid) != 0 ||
		    attrs_add_link(orig->arena, orig->attrs, KMIP_LINK_TYPE_CHILD_LINK, o->uid) != 0)) ||
		    (i > 0 && attrs_add_link(o->arena, o->attrs, KMIP_LINK_TYPE_PREVIOUS_LINK, parts[i - 1]->uid) != 0) ||
		    (i + 1 < n && attrs_add_link(o->arena, o->attrs, KMIP_LINK_TYPE_NEXT_LINK, parts[i + 1]->uid) != 0))
			return ops_nomem(ctx);
	}
	return orig != NULL ? ops_check_attr_limits(ctx, orig->attrs) : 0;
}

/*
 * Create Split Key: splits the key the Unique Identifier names, or a new symmetric key, into Split Key Parts
 * Split Key objects, answered in the order of their Key Part Identifiers; the first is the ID Placeholder.
 */
int
op_create_split_key(struct op_ctx *ctx)
{
	const struct ttlv *p = ctx->item->payload, *type = ttlv_find(p, KMIP_TAG_OBJECT_TYPE);
	const struct ttlv *uid = ttlv_find(p, KMIP_TAG_UNIQUE_IDENTIFIER);
	struct store_object *orig = NULL, **parts = NULL;
	struct ops_held held;
	struct store_txn *txn = NULL;
	struct split_fields f;
	struct ttlv *attrs;
	uint8_t fresh[SPLIT_NEW_MAX_BITS / 8], *shares = NULL;
	const uint8_t *secret = fresh;
	size_t len = 0, share_len = 0, i;
	int rc = -1;

	if (type == NULL || type->type != TTLV_ENUMERATION)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Create Split Key needs an Object Type");
	if (uid != NULL && uid->type != TTLV_TEXT_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Unique Identifier is not a Text String");
	if (uid == NULL && type->v.u32 != KMIP_OBJECT_TYPE_SPLIT_KEY && type->v.u32 != KMIP_OBJECT_TYPE_SYMMETRIC_KEY)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Create Split Key makes new "
		    "symmetric keys; give the Unique Identifier of another object to split it");
	if (read_fields(ctx, p, false, true, &f) != 0 || (attrs = given_attrs(ctx)) == NULL)
		return -1;
	if (ops_begin(ctx, true, &txn) != 0)
		return -1;
	if (ops_quota_full(ctx, txn, ops_identity(ctx)))
		goto out;
	if (uid != NULL) {
		if (load_source(ctx, txn, (const char *)uid->v.bytes.data, type->v.u32, attrs, &orig) != 0)
			goto out;
		/* A key kept as registered splits in its canonical form; a wrapped one cannot be read. */
		if (ops_held_open(orig, &held) != 0 || held.canon == NULL) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT, "%s is kept wrapped as "
			    "registered: kmipd cannot read it to split it", orig->uid);
			goto out;
		}
		secret = held.canon;
		len = held.canon_len;
		ops_audit_uid(ctx, orig->uid);
	} else if (new_secret(ctx, attrs, fresh, &len) != 0) {
		goto out;
	}
	if (len == 0) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the object has no bytes to split");
		goto out;
	}
	/* The work and the lengths are bounded here: at most SPLITKEY_MAX_WORK bytes of shares. */
	if (splitkey_check(&f.p, len, &ctx->err) != 0)
		goto out;
	share_len = splitkey_share_len(&f.p, len);
	if ((shares = OPENSSL_secure_malloc(share_len * f.p.parts)) == NULL ||
	    (parts = calloc(f.p.parts, sizeof(*parts))) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	if (splitkey_split(&f.p, secret, len, shares, &ctx->err) != 0)
		goto out;
	for (i = 0; i < f.p.parts; i++) {
		if ((parts[i] = ops_new_object(ctx, txn, KMIP_OBJECT_TYPE_SPLIT_KEY, attrs)) == NULL)
			goto out;
		if (store_object_set_material(parts[i], shares + i * share_len, share_len, KMIP_KEY_FORMAT_TYPE_RAW) != 0 ||
		    attrs_set_enum(parts[i]->arena, parts[i]->attrs, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW) != 0) {
			ops_nomem(ctx);
			goto out;
		}
		if (set_fields(ctx, parts[i], &f, (int32_t)i + 1) != 0)
			goto out;
	}
	if (link_parts(ctx, parts, f.p.parts, orig) != 0)
		goto out;
	for (i = 0; i < f.p.parts; i++)
		if (ops_set_digest(ctx, parts[i]) != 0 || ops_save(ctx, txn, parts[i]) != 0)
			goto out;
	if (orig != NULL && ops_save(ctx, txn, orig) != 0)
		goto out;
	if ((rc = ops_commit(ctx, &txn)) != 0)
		goto out;
	for (i = 0; i < f.p.parts; i++)
		ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, parts[i]->uid);
	ops_set_placeholder(ctx, parts[0]->uid);
	session_log(ctx->session, LOG_LEVEL_INFO, "split %s into %u parts (%s, threshold %u), the first %s",
	    orig != NULL ? orig->uid : "a new key", f.p.parts, ttlv_enum_name(KMIP_TAG_SPLIT_KEY_METHOD, f.p.method),
	    f.p.threshold, parts[0]->uid);
out:
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (shares != NULL)
		OPENSSL_secure_clear_free(shares, share_len * f.p.parts);
	for (i = 0; parts != NULL && i < f.p.parts; i++)
		store_object_free(parts[i]);
	free(parts);
	store_txn_abort(txn);
	store_object_free(orig);
	return rc;
}

/* True when two parts belong to one split: the same fields but the Key Part Identifier, the same length. */
static bool
same_split(const struct store_object *a, const struct store_object *b)
{
	static const uint32_t tags[] = { KMIP_TAG_SPLIT_KEY_PARTS, KMIP_TAG_SPLIT_KEY_THRESHOLD,
	    KMIP_TAG_SPLIT_KEY_METHOD, KMIP_TAG_PRIME_FIELD_SIZE, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM,
	    KMIP_TAG_CRYPTOGRAPHIC_LENGTH };
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		const struct ttlv *x = ttlv_find(a->attrs, tags[i]), *y = ttlv_find(b->attrs, tags[i]);

		if ((x == NULL) != (y == NULL) || (x != NULL && !ttlv_equal(x, y)))
			return false;
	}
	return a->material_len == b->material_len;
}

/*
 * Loads the parts a Join Split Key names (at most SPLIT_MAX_JOIN, each a live Split Key of one
 * split) into parts[0..*n) and their fields into f. 0, or -1 with ctx->err set.
 */
static int
load_parts(struct op_ctx *ctx, struct store_txn *txn, struct store_object **parts, size_t *n, unsigned *xs,
    struct split_fields *f)
{
	const struct ttlv *c;
	unsigned max = SPLIT_MAX_JOIN;
	struct split_fields g;

	*n = 0;
	for (c = ctx->item->payload->v.s.first; c != NULL; c = c->next) {
		struct store_object *o;

		if (c->tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		if (c->type != TTLV_TEXT_STRING)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "a Unique Identifier is not a "
			    "Text String");
		if (*n == max)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "more than %u parts named "
			    "(no split has more)", max);
		if (ops_load(ctx, txn, (const char *)c->v.bytes.data, OPS_MATERIAL, &parts[*n]) != 0)
			return -1;
		o = parts[(*n)++];
		if (o->object_type != KMIP_OBJECT_TYPE_SPLIT_KEY)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, "%s is not a Split Key",
			    o->uid);
		if (o->state == KMIP_STATE_DESTROYED || o->state == KMIP_STATE_DESTROYED_COMPROMISED ||
		    o->material == NULL)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_DESTROYED, "split key %s has been "
			    "destroyed", o->uid);
		if (read_fields(ctx, o->attrs, true, false, *n == 1 ? f : &g) != 0)
			return -1;
		if (*n > 1 && !same_split(parts[0], o))
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s and %s are not parts of one "
			    "split", parts[0]->uid, o->uid);
		xs[*n - 1] = (unsigned)(*n == 1 ? f->part : g.part);
		ops_audit_uid(ctx, o->uid);
	}
	if (*n == 0)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Join Split Key needs the Unique "
		    "Identifiers of the parts");
	return 0;
}

/*
 * The material and its store format of the object a join makes (type: the request's Object Type) from the
 * joined secret; into key (keyfmt's canonical form, with its algorithm and length). 0, or -1 with ctx->err set.
 */
static int
joined_material(struct op_ctx *ctx, uint32_t type, const uint8_t *secret, size_t len, struct keyfmt_key *key,
    uint32_t *format)
{
	const struct ttlv *sdt = ttlv_find(ctx->item->payload, KMIP_TAG_SECRET_DATA_TYPE);
	struct keyfmt_error kerr;
	struct ttlv *item;
	uint32_t kft;

	switch (type) {
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
		kft = KMIP_KEY_FORMAT_TYPE_RAW;
		break;
	case KMIP_OBJECT_TYPE_SECRET_DATA:
		kft = KMIP_KEY_FORMAT_TYPE_RAW;
		if (sdt != NULL && (sdt->type != TTLV_ENUMERATION || sdt->v.u32 > 0xffff))
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Secret Data Type is not a "
			    "Secret Data Type");
		break;
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
		kft = KMIP_KEY_FORMAT_TYPE_PKCS_8;
		break;
	default:
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Join Split Key makes symmetric "
		    "keys, private keys or Secret Data");
	}
	if ((item = ttlv_new_bytes(ctx->arena, KMIP_TAG_KEY_MATERIAL, secret, len)) == NULL)
		return ops_nomem(ctx);
	/* The arena's copy is wiped below, whatever the import made of it. */
	if (keyfmt_import(type, kft, item, key, &kerr) != 0) {
		OPENSSL_cleanse((void *)item->v.bytes.data, item->length);
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the joined parts do not make %s: "
		    "%s", ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type), kerr.message);
	}
	OPENSSL_cleanse((void *)item->v.bytes.data, item->length);
	if (type == KMIP_OBJECT_TYPE_SECRET_DATA)
		*format = OPS_SECRET_FORMAT(sdt != NULL ? sdt->v.u32 : KMIP_SECRET_DATA_TYPE_PASSWORD, kft);
	else
		*format = kft;
	return 0;
}

/* True when a part's Cryptographic Algorithm is an asymmetric one (a private key was split). */
static bool
asymmetric(const struct store_object *part)
{
	const struct ttlv *alg = ttlv_find(part->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM);

	if (alg == NULL || alg->type != TTLV_ENUMERATION)
		return false;
	switch (alg->v.u32) {
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_DSA:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_EC:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDSA:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_ECDH:
	case KMIP_CRYPTOGRAPHIC_ALGORITHM_ECMQV:
		return true;
	default:
		return false;
	}
}

/*
 * Join Split Key: a new object of the Object Type asked for from at least Split Key Threshold parts of one
 * split, linked to them; it keeps what the parts had of Sensitive and not Extractable.
 */
int
op_join_split_key(struct op_ctx *ctx)
{
	const struct ttlv *type = ttlv_find(ctx->item->payload, KMIP_TAG_OBJECT_TYPE), *bits;
	unsigned max = SPLIT_MAX_JOIN, *xs = NULL;
	struct store_object **parts = NULL, *o = NULL;
	const uint8_t **shares = NULL;
	struct store_txn *txn = NULL;
	struct keyfmt_key key;
	struct split_fields f;
	struct ttlv *attrs;
	uint8_t *secret = NULL;
	size_t n = 0, len = 0, i;
	uint32_t format = 0;
	int rc = -1;

	memset(&key, 0, sizeof(key));
	if (type == NULL || type->type != TTLV_ENUMERATION)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Join Split Key needs an Object Type");
	if ((attrs = given_attrs(ctx)) == NULL)
		return -1;
	if ((parts = calloc(max, sizeof(*parts))) == NULL || (xs = calloc(max, sizeof(*xs))) == NULL ||
	    (shares = calloc(max, sizeof(*shares))) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	if (ops_begin(ctx, true, &txn) != 0)
		goto out;
	if (ops_quota_full(ctx, txn, ops_identity(ctx)) || load_parts(ctx, txn, parts, &n, xs, &f) != 0 ||
	    may_read_material(ctx, "Join Split Key") != 0)
		goto out;
	len = parts[0]->material_len;
	if (f.p.prime != NULL) {
		/* An integer's length is not in its value: the parts' Cryptographic Length says it. */
		bits = ttlv_find(parts[0]->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH);
		if (bits == NULL || bits->v.i32 < 8 || bits->v.i32 % 8 != 0 || (size_t)bits->v.i32 / 8 >= f.p.prime_len + 1) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "prime field parts need a Cryptographic "
			    "Length (a multiple of 8 below the Prime Field Size) to join");
			goto out;
		}
		len = (size_t)bits->v.i32 / 8;
	}
	for (i = 0; i < n; i++) {
		shares[i] = parts[i]->material;
		if (keep_protection(ctx, attrs, parts[i]->attrs) != 0)
			goto out;
	}
	if ((secret = OPENSSL_secure_malloc(len > 0 ? len : 1)) == NULL) {
		ops_nomem(ctx);
		goto out;
	}
	if (type->v.u32 == KMIP_OBJECT_TYPE_SYMMETRIC_KEY && asymmetric(parts[0])) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the parts are of a %s key: they join "
		    "into a Private Key or Secret Data", ttlv_enum_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM,
		    ttlv_find(parts[0]->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32));
		goto out;
	}
	if (splitkey_join(&f.p, xs, shares, n, parts[0]->material_len, secret, len, &ctx->err) != 0 ||
	    joined_material(ctx, type->v.u32, secret, len, &key, &format) != 0)
		goto out;
	/* The parts' algorithm and length stand for the key's unless the request or its bytes say them. */
	if ((ttlv_find(attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM) == NULL &&
	    take_attr(ctx, attrs, parts[0], KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM) != 0) ||
	    (ttlv_find(attrs, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK) == NULL &&
	    take_attr(ctx, attrs, parts[0], KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK) != 0))
		goto out;
	if (type->v.u32 == KMIP_OBJECT_TYPE_SECRET_DATA) {
		(void)ttlv_remove(attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, -1);
		(void)ttlv_remove(attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, -1);
	}
	if ((o = ops_new_object(ctx, txn, type->v.u32, attrs)) == NULL)
		goto out;
	if (store_object_set_material(o, key.der, key.der_len, format) != 0 ||
	    (key.alg != 0 && attrs_set_enum(o->arena, o->attrs, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, key.alg) != 0) ||
	    (type->v.u32 != KMIP_OBJECT_TYPE_SECRET_DATA && key.bits != 0 &&
	    attrs_set_int(o->arena, o->attrs, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int32_t)key.bits) != 0) ||
	    (type->v.u32 != KMIP_OBJECT_TYPE_SECRET_DATA &&
	    attrs_set_enum(o->arena, o->attrs, KMIP_TAG_KEY_FORMAT_TYPE, format) != 0)) {
		ops_nomem(ctx);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (attrs_add_link(o->arena, o->attrs, KMIP_LINK_TYPE_PARENT_LINK, parts[i]->uid) != 0) {
			ops_nomem(ctx);
			goto out;
		}
	if (ops_check_attr_limits(ctx, o->attrs) != 0 || ops_set_digest(ctx, o) != 0 || ops_save(ctx, txn, o) != 0)
		goto out;
	if ((rc = ops_commit(ctx, &txn)) != 0)
		goto out;
	ttlv_enc_cstr(ctx->out, KMIP_TAG_UNIQUE_IDENTIFIER, o->uid);
	ops_set_placeholder(ctx, o->uid);
	session_log(ctx->session, LOG_LEVEL_INFO, "joined %zu parts (%s) into %s %s", n,
	    ttlv_enum_name(KMIP_TAG_SPLIT_KEY_METHOD, f.p.method), ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type->v.u32),
	    o->uid);
out:
	if (secret != NULL)
		OPENSSL_secure_clear_free(secret, len > 0 ? len : 1);
	keyfmt_key_clear(&key);
	for (i = 0; parts != NULL && i < n; i++)
		store_object_free(parts[i]);
	free(parts);
	free(xs);
	free(shares);
	store_txn_abort(txn);
	store_object_free(o);
	return rc;
}
