/*
 * Attributes between the wire (1.x Attribute structures, 2.x tagged items) and the store's Attributes
 * structure; see attrs.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/engine/attrs.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

#define T(name) KMIP_TAG_##name

/* Attributes kmipd knows, with the type of their value and what clients may do with them. */
static const struct attr_def defs[] = {
	{ T(ACTIVATION_DATE), TTLV_DATE_TIME, ATTR_INIT | ATTR_EDIT },
	{ T(APPLICATION_SPECIFIC_INFORMATION), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(ARCHIVE_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(ATTRIBUTE), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(CERTIFICATE_TYPE), TTLV_ENUMERATION, ATTR_SERVER },
	{ T(COMPROMISE_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(COMPROMISE_OCCURRENCE_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(CONTACT_INFORMATION), TTLV_TEXT_STRING, ATTR_INIT | ATTR_EDIT },
	{ T(CRYPTOGRAPHIC_ALGORITHM), TTLV_ENUMERATION, ATTR_INIT },
	{ T(CRYPTOGRAPHIC_DOMAIN_PARAMETERS), TTLV_STRUCTURE, ATTR_INIT },
	{ T(CRYPTOGRAPHIC_LENGTH), TTLV_INTEGER, ATTR_INIT },
	{ T(CRYPTOGRAPHIC_PARAMETERS), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(CRYPTOGRAPHIC_USAGE_MASK), TTLV_INTEGER, ATTR_INIT | ATTR_EDIT },
	{ T(DEACTIVATION_DATE), TTLV_DATE_TIME, ATTR_INIT | ATTR_EDIT },
	{ T(DESTROY_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(DIGEST), TTLV_STRUCTURE, ATTR_MULTI | ATTR_SERVER },
	{ T(FRESH), TTLV_BOOLEAN, ATTR_SERVER },
	{ T(INITIAL_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(LAST_CHANGE_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(LEASE_TIME), TTLV_INTERVAL, ATTR_SERVER },
	{ T(LINK), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(NAME), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(OBJECT_GROUP), TTLV_TEXT_STRING, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(OBJECT_TYPE), TTLV_ENUMERATION, ATTR_SERVER },
	{ T(OPERATION_POLICY_NAME), TTLV_TEXT_STRING, ATTR_INIT | ATTR_EDIT },
	{ T(PROCESS_START_DATE), TTLV_DATE_TIME, ATTR_INIT | ATTR_EDIT },
	{ T(PROTECT_STOP_DATE), TTLV_DATE_TIME, ATTR_INIT | ATTR_EDIT },
	{ T(REVOCATION_REASON), TTLV_STRUCTURE, ATTR_SERVER },
	{ T(STATE), TTLV_ENUMERATION, ATTR_SERVER },
	{ T(UNIQUE_IDENTIFIER), TTLV_TEXT_STRING, ATTR_SERVER },
	{ T(USAGE_LIMITS), TTLV_STRUCTURE, ATTR_INIT | ATTR_EDIT },
	{ T(CERTIFICATE_LENGTH), TTLV_INTEGER, ATTR_SERVER },
	{ T(KEY_VALUE_PRESENT), TTLV_BOOLEAN, ATTR_SERVER },
	{ T(ALTERNATIVE_NAME), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT | ATTR_EDIT },
	{ T(ORIGINAL_CREATION_DATE), TTLV_DATE_TIME, ATTR_SERVER },
	{ T(RANDOM_NUMBER_GENERATOR), TTLV_STRUCTURE, ATTR_SERVER },
	{ T(PKCS_12_FRIENDLY_NAME), TTLV_TEXT_STRING, ATTR_INIT | ATTR_EDIT },
	{ T(DESCRIPTION), TTLV_TEXT_STRING, ATTR_INIT | ATTR_EDIT },
	{ T(COMMENT), TTLV_TEXT_STRING, ATTR_INIT | ATTR_EDIT },
	{ T(SENSITIVE), TTLV_BOOLEAN, ATTR_INIT | ATTR_EDIT },
	{ T(ALWAYS_SENSITIVE), TTLV_BOOLEAN, ATTR_SERVER },
	{ T(EXTRACTABLE), TTLV_BOOLEAN, ATTR_INIT | ATTR_EDIT },
	{ T(NEVER_EXTRACTABLE), TTLV_BOOLEAN, ATTR_SERVER },
	{ T(SHORT_UNIQUE_IDENTIFIER), TTLV_BYTE_STRING, ATTR_SERVER },
	{ T(PROTECTION_LEVEL), TTLV_ENUMERATION, ATTR_INIT | ATTR_EDIT },
	{ T(PROTECTION_PERIOD), TTLV_INTERVAL, ATTR_INIT | ATTR_EDIT },
	{ T(QUANTUM_SAFE), TTLV_BOOLEAN, ATTR_INIT },
	{ T(KEY_FORMAT_TYPE), TTLV_ENUMERATION, ATTR_SERVER },
	/* What a registered X.509 certificate says about itself (KMIP 1.4). */
	{ T(CERTIFICATE_SUBJECT_CN), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_O), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_OU), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_EMAIL), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_C), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_ST), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_L), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_UID), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_SERIAL_NUMBER), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_TITLE), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_DC), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_SUBJECT_DN_QUALIFIER), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_CN), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_O), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_OU), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_EMAIL), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_C), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_ST), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_L), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_UID), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_SERIAL_NUMBER), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_TITLE), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_DC), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
	{ T(CERTIFICATE_ISSUER_DN_QUALIFIER), TTLV_TEXT_STRING, ATTR_SERVER | ATTR_MULTI },
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* Returns the definition of tag, or NULL. */
const struct attr_def *
attr_def(uint32_t tag)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (defs[i].tag == tag)
			return &defs[i];
	return NULL;
}

/* Returns true when a client speaking version knows the attribute with this tag. */
bool
attr_visible(uint32_t tag, unsigned version)
{
	unsigned since;

	if (tag == KMIP_TAG_ATTRIBUTE)
		return true;	/* custom attributes exist in every version, spelled differently */
	/* In 1.x, Key Format Type is a Key Block field, not an attribute. */
	if (KMIP_VERSION_MAJOR(version) < 2 && tag == KMIP_TAG_KEY_FORMAT_TYPE)
		return false;
	/* KMIP 2.0 removed these; a 1.x client's Operation Policy Name is kept and echoed to 1.x only. */
	if (KMIP_VERSION_MAJOR(version) >= 2 && (tag == KMIP_TAG_OPERATION_POLICY_NAME ||
	    tag == KMIP_TAG_CERTIFICATE_IDENTIFIER || tag == KMIP_TAG_CERTIFICATE_SUBJECT ||
	    tag == KMIP_TAG_CERTIFICATE_ISSUER || tag == KMIP_TAG_CUSTOM_ATTRIBUTE))
		return false;
	since = ttlv_tag_version(tag);
	return since != 0 && since <= version;
}

/* The vendor and name of a custom attribute item; false when item is not one. */
static bool
custom_parts(const struct ttlv *item, const struct ttlv **vendor, const struct ttlv **name)
{
	if (item->tag != KMIP_TAG_ATTRIBUTE || item->type != TTLV_STRUCTURE)
		return false;
	*vendor = ttlv_find(item, KMIP_TAG_VENDOR_IDENTIFICATION);
	*name = ttlv_find(item, KMIP_TAG_ATTRIBUTE_NAME);
	return *vendor != NULL && *name != NULL && (*vendor)->type == TTLV_TEXT_STRING &&
	    (*name)->type == TTLV_TEXT_STRING;
}

/* Writes the 1.x name of an item into buf and returns buf (or a static name). */
const char *
attr_name(const struct ttlv *item, char *buf, size_t size)
{
	const struct ttlv *vendor, *name;
	const char *n;

	if (custom_parts(item, &vendor, &name)) {
		snprintf(buf, size, "%s-%s", (const char *)vendor->v.bytes.data, (const char *)name->v.bytes.data);
		return buf;
	}
	n = ttlv_tag_name(item->tag);
	snprintf(buf, size, "%s", n != NULL ? n : "?");
	return buf;
}

/* True when item is the attribute named by a 1.x Attribute Name. */
bool
attr_matches_name(const struct ttlv *item, const char *name)
{
	const struct ttlv *vendor, *cname;
	uint32_t tag;
	size_t vlen;

	if (custom_parts(item, &vendor, &cname)) {
		vlen = vendor->length;
		return strlen(name) > vlen && memcmp(name, vendor->v.bytes.data, vlen) == 0 && name[vlen] == '-' &&
		    strcmp(name + vlen + 1, (const char *)cname->v.bytes.data) == 0;
	}
	return ttlv_tag_by_name(name, &tag) == 0 && tag == item->tag;
}

/* True when a and b are instances of the same attribute. */
bool
attr_same_kind(const struct ttlv *a, const struct ttlv *b)
{
	const struct ttlv *va, *na, *vb, *nb;

	if (a->tag != b->tag)
		return false;
	if (!custom_parts(a, &va, &na) || !custom_parts(b, &vb, &nb))
		return true;
	return ttlv_equal(va, vb) && ttlv_equal(na, nb);
}

/* Checks the shape of the fields of structured attributes that kmipd indexes or interprets. */
static int
check_fields(const struct ttlv *item, struct kmip_error *err)
{
	const struct ttlv *f;

	switch (item->tag) {
	case KMIP_TAG_NAME:
		f = ttlv_find(item, KMIP_TAG_NAME_VALUE);
		if (f == NULL || f->type != TTLV_TEXT_STRING)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Name without a Name Value");
		f = ttlv_find(item, KMIP_TAG_NAME_TYPE);
		if (f != NULL && f->type != TTLV_ENUMERATION)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Name Type is not an Enumeration");
		break;
	case KMIP_TAG_LINK:
		f = ttlv_find(item, KMIP_TAG_LINK_TYPE);
		if (f == NULL || f->type != TTLV_ENUMERATION)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Link without a Link Type");
		f = ttlv_find(item, KMIP_TAG_LINKED_OBJECT_IDENTIFIER);
		if (f == NULL || f->type != TTLV_TEXT_STRING || f->length == 0 || f->length > STORE_UID_MAX)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "Link without a valid Linked Object Identifier");
		break;
	case KMIP_TAG_USAGE_LIMITS:
		for (f = item->v.s.first; f != NULL; f = f->next) {
			if ((f->tag == KMIP_TAG_USAGE_LIMITS_TOTAL || f->tag == KMIP_TAG_USAGE_LIMITS_COUNT) &&
			    (f->type != TTLV_LONG_INTEGER || f->v.i64 < 0))
				return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
				    "Usage Limits Total and Count are non-negative Long Integers");
			if (f->tag == KMIP_TAG_USAGE_LIMITS_UNIT && f->type != TTLV_ENUMERATION)
				return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
				    "Usage Limits Unit is an Enumeration");
		}
		break;
	case KMIP_TAG_ATTRIBUTE: {
		const struct ttlv *vendor, *name;

		if (!custom_parts(item, &vendor, &name) || ttlv_find(item, KMIP_TAG_ATTRIBUTE_VALUE) == NULL ||
		    vendor->length == 0 || name->length == 0)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "custom attribute needs Vendor Identification, Attribute Name and Attribute Value");
		break;
	}
	default:
		break;
	}
	return 0;
}

/* Checks an internal attribute item; see attrs.h. */
int
attr_check(const struct ttlv *item, struct kmip_error *err)
{
	const struct attr_def *d = attr_def(item->tag);
	const char *n = ttlv_tag_name(item->tag);

	if (d == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "%s (0x%06x) is not an attribute kmipd "
		    "supports", n != NULL ? n : "unknown tag", item->tag);
	if (item->type != d->type)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attribute %s: value is a %s, expected "
		    "a %s", n, ttlv_type_name(item->type), ttlv_type_name(d->type));
	return check_fields(item, err);
}

/* Converts a 1.x Attribute into an internal item; see attrs.h. */
struct ttlv *
attr_from_v1(struct ttlv_arena *arena, const struct ttlv *attribute, int32_t *index, struct kmip_error *err)
{
	const struct ttlv *name = ttlv_find(attribute, KMIP_TAG_ATTRIBUTE_NAME);
	const struct ttlv *idx = ttlv_find(attribute, KMIP_TAG_ATTRIBUTE_INDEX);
	const struct ttlv *value = ttlv_find(attribute, KMIP_TAG_ATTRIBUTE_VALUE);
	const char *s, *dash;
	struct ttlv *item;
	uint32_t tag;

	*index = 0;
	if (attribute->type != TTLV_STRUCTURE || name == NULL || name->type != TTLV_TEXT_STRING) {
		kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "Attribute without an Attribute Name");
		return NULL;
	}
	s = (const char *)name->v.bytes.data;
	if (idx != NULL) {
		if (idx->type != TTLV_INTEGER || idx->v.i32 < 0) {
			kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attribute %s: invalid Attribute Index", s);
			return NULL;
		}
		*index = idx->v.i32;
	}
	if (value == NULL) {
		kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attribute %s: no Attribute Value", s);
		return NULL;
	}
	if ((s[0] == 'x' || s[0] == 'y') && s[1] == '-' && s[2] != '\0') {
		/* Custom attribute: kept as a 2.x Attribute of vendor "x" or "y". */
		dash = s + 1;
		if ((item = ttlv_new_struct(arena, KMIP_TAG_ATTRIBUTE)) == NULL)
			goto nomem;
		struct ttlv *v = ttlv_new_text(arena, KMIP_TAG_VENDOR_IDENTIFICATION, s, (size_t)(dash - s));
		struct ttlv *n = ttlv_new_text(arena, KMIP_TAG_ATTRIBUTE_NAME, dash + 1, strlen(dash + 1));
		struct ttlv *val = ttlv_copy(arena, value);

		if (v == NULL || n == NULL || val == NULL)
			goto nomem;
		ttlv_append(item, v);
		ttlv_append(item, n);
		ttlv_append(item, val);
		return item;
	}
	if (ttlv_tag_by_name(s, &tag) != 0 || attr_def(tag) == NULL) {
		kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "unknown attribute \"%s\"", s);
		return NULL;
	}
	/* The value takes the attribute's tag; a structured value keeps its fields. */
	if ((item = ttlv_copy(arena, value)) == NULL)
		goto nomem;
	item->tag = tag;
	if (attr_check(item, err) != 0)
		return NULL;
	return item;
nomem:
	kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	return NULL;
}

/* Appends one client attribute to dst, skipping server-set ones. */
static int
take(struct ttlv *dst, struct ttlv *item, struct kmip_error *err)
{
	const struct attr_def *d = attr_def(item->tag);

	if (attr_check(item, err) != 0)
		return -1;
	if (d->flags & ATTR_SERVER)
		return 0;	/* clients echo these back sometimes; the server sets them itself */
	if (!(d->flags & ATTR_MULTI) && attrs_get_like(dst, item, 0) != NULL) {
		char name[128];

		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attribute %s given twice",
		    attr_name(item, name, sizeof(name)));
	}
	ttlv_append(dst, item);
	return 0;
}

/* Reads client attributes from an internal attribute set; see attrs.h. */
int
attrs_from_request(struct ttlv_arena *arena, const struct ttlv *src, struct ttlv *dst, struct kmip_error *err)
{
	const struct ttlv *c;
	struct ttlv *item;

	if (src == NULL)
		return 0;
	if (src->type != TTLV_STRUCTURE)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attributes are not a Structure");
	for (c = src->v.s.first; c != NULL; c = c->next) {
		if ((item = ttlv_copy(arena, c)) == NULL)
			return kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
		if (take(dst, item, err) != 0)
			return -1;
	}
	return 0;
}

/* Reads client attributes from a 1.x Template-Attribute; see attrs.h. */
int
attrs_from_v1(struct ttlv_arena *arena, const struct ttlv *src, struct ttlv *dst, struct kmip_error *err)
{
	const struct ttlv *c;
	struct ttlv *item;
	int32_t index;

	if (src == NULL)
		return 0;
	if (src->type != TTLV_STRUCTURE)
		return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD, "attributes are not a Structure");
	for (c = src->v.s.first; c != NULL; c = c->next) {
		if (c->tag == KMIP_TAG_NAME)
			return kmip_error_set(err, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED,
			    "templates (Name in a Template-Attribute) are not supported");
		if (c->tag != KMIP_TAG_ATTRIBUTE)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "unexpected item 0x%06x among attributes", c->tag);
		if ((item = attr_from_v1(arena, c, &index, err)) == NULL || take(dst, item, err) != 0)
			return -1;
	}
	return 0;
}

/* Writes one attribute in the client's version. */
void
attr_encode(struct ttlv_enc *e, unsigned version, const struct ttlv *item, int32_t index)
{
	const struct ttlv *c;
	char name[256];

	if (KMIP_VERSION_MAJOR(version) >= 2) {
		ttlv_enc_item(e, item);
		return;
	}
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, attr_name(item, name, sizeof(name)));
	if (index > 0)
		ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_INDEX, index);
	if (item->tag == KMIP_TAG_ATTRIBUTE) {
		ttlv_enc_item(e, ttlv_find(item, KMIP_TAG_ATTRIBUTE_VALUE));
	} else if (item->type == TTLV_STRUCTURE) {
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
		for (c = item->v.s.first; c != NULL; c = c->next)
			ttlv_enc_item(e, c);
		ttlv_enc_end(e);
	} else {
		struct ttlv v = *item;

		v.tag = KMIP_TAG_ATTRIBUTE_VALUE;
		v.next = NULL;
		ttlv_enc_item(e, &v);
	}
	ttlv_enc_end(e);
}

/* Writes the attributes the client's version knows and keep accepts; see attrs.h. */
void
attrs_encode(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	const struct ttlv *c;

	if (KMIP_VERSION_MAJOR(version) >= 2)
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTES);
	for (c = attrs != NULL ? attrs->v.s.first : NULL; c != NULL; c = c->next) {
		const struct ttlv *p;
		int32_t index = 0;

		if (!attr_visible(c->tag, version) || (keep != NULL && !keep(c, arg)))
			continue;
		for (p = attrs->v.s.first; p != c; p = p->next)
			if (attr_same_kind(p, c))
				index++;
		attr_encode(e, version, c, index);
	}
	if (KMIP_VERSION_MAJOR(version) >= 2)
		ttlv_enc_end(e);
}

/* Writes one reference per attribute the client's version knows and keep accepts; see attrs.h. */
void
attrs_encode_refs(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	const struct ttlv *c, *p, *vendor, *name;
	char buf[256];

	for (c = attrs != NULL ? attrs->v.s.first : NULL; c != NULL; c = c->next) {
		bool seen = false;

		if (!attr_visible(c->tag, version) || (keep != NULL && !keep(c, arg)))
			continue;
		for (p = attrs->v.s.first; p != c && !seen; p = p->next)
			seen = attr_same_kind(p, c);
		if (seen)
			continue;
		if (KMIP_VERSION_MAJOR(version) < 2) {
			ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, attr_name(c, buf, sizeof(buf)));
		} else if (c->tag == KMIP_TAG_ATTRIBUTE) {
			vendor = ttlv_find(c, KMIP_TAG_VENDOR_IDENTIFICATION);
			name = ttlv_find(c, KMIP_TAG_ATTRIBUTE_NAME);
			ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_REFERENCE);
			ttlv_enc_item(e, vendor);
			ttlv_enc_item(e, name);
			ttlv_enc_end(e);
		} else {
			ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_REFERENCE, c->tag);
		}
	}
}

struct ttlv *
attrs_get(const struct ttlv *attrs, uint32_t tag, int32_t index)
{
	struct ttlv *c;

	for (c = ttlv_find(attrs, tag); c != NULL; c = ttlv_find_next(c))
		if (index-- == 0)
			return c;
	return NULL;
}

struct ttlv *
attrs_get_like(const struct ttlv *attrs, const struct ttlv *like, int32_t index)
{
	struct ttlv *c;

	for (c = ttlv_find(attrs, like->tag); c != NULL; c = ttlv_find_next(c))
		if (attr_same_kind(c, like) && index-- == 0)
			return c;
	return NULL;
}

struct ttlv *
attrs_get_named(const struct ttlv *attrs, const char *name, int32_t index)
{
	struct ttlv *c;

	for (c = attrs != NULL ? attrs->v.s.first : NULL; c != NULL; c = c->next)
		if (attr_matches_name(c, name) && index-- == 0)
			return c;
	return NULL;
}

unsigned
attrs_count_like(const struct ttlv *attrs, const struct ttlv *like)
{
	const struct ttlv *c;
	unsigned n = 0;

	for (c = ttlv_find(attrs, like->tag); c != NULL; c = ttlv_find_next(c))
		if (attr_same_kind(c, like))
			n++;
	return n;
}

/* attrs_remove_like()'s test: c is an instance of the attribute like points to. */
static bool
same_kind_as(const struct ttlv *c, const void *like)
{
	return attr_same_kind(c, like);
}

/*
 * Unlinks the children of attrs that are instances of like (only the index-th when index >= 0): the children
 * with its tag, and for a custom attribute only those with its vendor and name.
 */
unsigned
attrs_remove_like(struct ttlv *attrs, const struct ttlv *like, int32_t index)
{
	return ttlv_remove_if(attrs, same_kind_as, like, index);
}

/* Replaces every instance of item's attribute in attrs with item. */
int
attrs_set(struct ttlv_arena *arena, struct ttlv *attrs, const struct ttlv *item)
{
	struct ttlv *copy = ttlv_copy(arena, item);

	if (copy == NULL)
		return -1;
	(void)attrs_remove_like(attrs, item, -1);
	ttlv_append(attrs, copy);
	return 0;
}

int
attrs_set_enum(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, uint32_t v)
{
	struct ttlv *t = ttlv_new_enum(arena, tag, v);

	return t == NULL ? -1 : attrs_set(arena, attrs, t);
}

int
attrs_set_int(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, int32_t v)
{
	struct ttlv *t = ttlv_new_int(arena, tag, v);

	return t == NULL ? -1 : attrs_set(arena, attrs, t);
}

int
attrs_set_bool(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, bool v)
{
	struct ttlv *t = ttlv_new_bool(arena, tag, v);

	return t == NULL ? -1 : attrs_set(arena, attrs, t);
}

int
attrs_set_date(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, int64_t when)
{
	struct ttlv *t = ttlv_new_datetime(arena, tag, when);

	return t == NULL ? -1 : attrs_set(arena, attrs, t);
}

int
attrs_set_text(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, const char *s)
{
	struct ttlv *t = ttlv_new_text(arena, tag, s, strlen(s));

	return t == NULL ? -1 : attrs_set(arena, attrs, t);
}

int
attrs_add_link(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t link_type, const char *target)
{
	struct ttlv *l = ttlv_new_struct(arena, KMIP_TAG_LINK);
	struct ttlv *t = ttlv_new_enum(arena, KMIP_TAG_LINK_TYPE, link_type);
	struct ttlv *id = ttlv_new_text(arena, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, target, strlen(target));

	if (l == NULL || t == NULL || id == NULL)
		return -1;
	ttlv_append(l, t);
	ttlv_append(l, id);
	ttlv_append(attrs, l);
	return 0;
}
