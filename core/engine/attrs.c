/*
 * Attributes between the wire (1.x Attribute structures, 2.x tagged items) and the store's Attributes
 * structure; see attrs.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* Where a key held outside the server is (KMIP 1.2 section 3.42, 2.1 section 4.31): set by the client when
	 * it creates or registers the object, neither modified nor deleted later; several allowed. */
	{ T(KEY_VALUE_LOCATION), TTLV_STRUCTURE, ATTR_MULTI | ATTR_INIT },
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
	{ T(PROTECTION_STORAGE_MASK), TTLV_INTEGER, ATTR_SERVER },
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
	/* A Split Key's fields (ops_split.c): kept with the attributes, shown only in its Split Key structure. */
	{ T(SPLIT_KEY_PARTS), TTLV_INTEGER, ATTR_SERVER | ATTR_FIELD },
	{ T(KEY_PART_IDENTIFIER), TTLV_INTEGER, ATTR_SERVER | ATTR_FIELD },
	{ T(SPLIT_KEY_THRESHOLD), TTLV_INTEGER, ATTR_SERVER | ATTR_FIELD },
	{ T(SPLIT_KEY_METHOD), TTLV_ENUMERATION, ATTR_SERVER | ATTR_FIELD },
	{ T(PRIME_FIELD_SIZE), TTLV_BIG_INTEGER, ATTR_SERVER | ATTR_FIELD },
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
	const struct attr_def *d = attr_def(tag);
	unsigned since;

	if (tag == KMIP_TAG_ATTRIBUTE)
		return true;	/* custom attributes exist in every version, spelled differently */
	if (d != NULL && (d->flags & ATTR_FIELD))
		return false;
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
	case KMIP_TAG_KEY_VALUE_LOCATION:
		f = ttlv_find(item, KMIP_TAG_KEY_VALUE_LOCATION_VALUE);
		if (f == NULL || f->type != TTLV_TEXT_STRING)
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "Key Value Location without a Key Value Location Value");
		f = ttlv_find(item, KMIP_TAG_KEY_VALUE_LOCATION_TYPE);
		if (f == NULL || f->type != TTLV_ENUMERATION ||
		    (f->v.u32 != KMIP_KEY_VALUE_LOCATION_TYPE_UNINTERPRETED_TEXT_STRING &&
		    f->v.u32 != KMIP_KEY_VALUE_LOCATION_TYPE_URI))
			return kmip_error_set(err, KMIP_RESULT_REASON_INVALID_FIELD,
			    "Key Value Location needs a Key Value Location Type (Uninterpreted Text String or URI)");
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

/* The number of children of a structure, counted (not taken from a count that a builder may not keep). */
static size_t
children(const struct ttlv *st)
{
	const struct ttlv *c;
	size_t n = 0;

	if (st == NULL || st->type != TTLV_STRUCTURE)
		return 0;
	for (c = st->v.s.first; c != NULL; c = c->next)
		n++;
	return n;
}

/*
 * The order of attribute kinds: by tag, custom attributes then by vendor and name. Items that are not
 * well-formed custom attributes sort before those that are, as one kind per tag (attr_same_kind's view).
 */
static int
kind_cmp(const struct ttlv *a, const struct ttlv *b)
{
	const struct ttlv *va, *na, *vb, *nb;
	bool ca, cb;
	int d;

	if (a->tag != b->tag)
		return a->tag < b->tag ? -1 : 1;
	ca = custom_parts(a, &va, &na);
	cb = custom_parts(b, &vb, &nb);
	if (!ca || !cb)
		return ca == cb ? 0 : ca ? 1 : -1;
	if (va->length != vb->length)
		return va->length < vb->length ? -1 : 1;
	if ((d = memcmp(va->v.bytes.data, vb->v.bytes.data, va->length)) != 0)
		return d;
	if (na->length != nb->length)
		return na->length < nb->length ? -1 : 1;
	return memcmp(na->v.bytes.data, nb->v.bytes.data, na->length);
}

/* An attribute and its position in its set. */
struct kind_ref {
	const struct ttlv *item;
	size_t pos;
};

/* qsort order: by kind, then by position (so instances of a kind keep their order). */
static int
kind_ref_cmp(const void *a, const void *b)
{
	const struct kind_ref *x = a, *y = b;
	int d = kind_cmp(x->item, y->item);

	if (d != 0)
		return d;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The children of attrs sorted by kind and position, in a malloc'd array of *n (NULL and 0 for an empty
 * set). O(n log n) so that nothing about an object's attributes is quadratic in their number. Returns 0, or
 * -1 when out of memory.
 */
static int
sorted_by_kind(const struct ttlv *attrs, struct kind_ref **out, size_t *n)
{
	const struct ttlv *c;
	struct kind_ref *v;
	size_t count, i = 0;

	*out = NULL;
	*n = 0;
	if ((count = children(attrs)) == 0)
		return 0;
	if ((v = calloc(count, sizeof(*v))) == NULL)
		return -1;
	for (c = attrs->v.s.first; c != NULL && i < count; c = c->next, i++) {
		v[i].item = c;
		v[i].pos = i;
	}
	if (i > 1)
		qsort(v, i, sizeof(*v), kind_ref_cmp);
	*out = v;
	*n = i;
	return 0;
}

/* Computes the instance index of every child of attrs; see attrs.h. */
int
attrs_instance_indexes(const struct ttlv *attrs, int32_t **index, size_t *n)
{
	struct kind_ref *v;
	int32_t *idx;
	size_t count, i;
	int32_t at = 0;

	*index = NULL;
	*n = 0;
	if (sorted_by_kind(attrs, &v, &count) != 0)
		return -1;
	if (count == 0)
		return 0;
	if ((idx = calloc(count, sizeof(*idx))) == NULL) {
		free(v);
		return -1;
	}
	for (i = 0; i < count; i++) {
		at = i > 0 && kind_cmp(v[i - 1].item, v[i].item) == 0 ? at + 1 : 0;
		idx[v[i].pos] = at;
	}
	free(v);
	*index = idx;
	*n = count;
	return 0;
}

/* qsort and bsearch order of attribute pointers: by kind. */
static int
kind_ptr_cmp(const void *a, const void *b)
{
	return kind_cmp(*(const struct ttlv *const *)a, *(const struct ttlv *const *)b);
}

/*
 * strcmp() of s against the 1.x name of a custom attribute, vendor "-" name, without building that name
 * (which may be longer than any buffer).
 */
static int
custom_name_cmp(const char *s, const struct ttlv *vendor, const struct ttlv *name)
{
	const struct ttlv *parts[2] = { vendor, name };
	const uint8_t *p;
	size_t i, j, k = 0;
	int d;

	for (i = 0; i < 2; i++) {
		if (i == 1) {
			if ((d = (unsigned char)s[k] - '-') != 0)
				return d;
			k++;
		}
		for (j = 0, p = parts[i]->v.bytes.data; j < parts[i]->length; j++, k++)
			if ((d = (unsigned char)s[k] - p[j]) != 0 || s[k] == '\0')
				return d != 0 ? d : -1;
	}
	return s[k] == '\0' ? 0 : 1;
}

/* qsort order of C strings. */
static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* bsearch of a custom attribute (the key) among sorted 1.x names. */
static int
custom_vs_name(const void *key, const void *elem)
{
	const struct ttlv *vendor, *name;

	(void)custom_parts(key, &vendor, &name);
	return -custom_name_cmp(*(const char *const *)elem, vendor, name);
}

struct attr_selection {
	const struct ttlv **kinds;	/* sorted by kind: attributes, or stand-ins for references */
	size_t nkinds;
	struct ttlv *refs;		/* the stand-ins */
	const char **names;		/* 1.x names of custom attributes, sorted */
	size_t nnames;
	bool all_custom;		/* a reference to the tag Attribute: every custom attribute */
	bool empty;			/* nothing named: everything is selected */
};

/* Frees a selection. */
void
attr_selection_free(struct attr_selection *sel)
{
	if (sel == NULL)
		return;
	free(sel->kinds);
	free(sel->refs);
	free(sel->names);
	free(sel);
}

/* Builds a selection from attributes, or a payload's names and references; see attrs.h. */
static struct attr_selection *
selection_new(const struct ttlv *src, bool refs)
{
	struct attr_selection *sel = calloc(1, sizeof(*sel));
	const struct ttlv *c;
	size_t count = children(src), i = 0;
	uint32_t tag;

	if (sel == NULL)
		return NULL;
	sel->empty = true;
	if (count == 0)
		return sel;
	if ((sel->kinds = calloc(count, sizeof(*sel->kinds))) == NULL ||
	    (refs && ((sel->refs = calloc(count, sizeof(*sel->refs))) == NULL ||
	    (sel->names = calloc(count, sizeof(*sel->names))) == NULL))) {
		attr_selection_free(sel);
		return NULL;
	}
	for (c = src->v.s.first; c != NULL && i < count; c = c->next, i++) {
		if (!refs) {
			sel->kinds[sel->nkinds++] = c;
			sel->empty = false;
		} else if (c->tag == KMIP_TAG_ATTRIBUTE_NAME && c->type == TTLV_TEXT_STRING) {
			sel->empty = false;
			/* A tag's name selects that tag; any other name can only be a custom attribute's. */
			if (ttlv_tag_by_name((const char *)c->v.bytes.data, &tag) == 0 && tag != KMIP_TAG_ATTRIBUTE) {
				sel->refs[i].tag = tag;
				sel->refs[i].type = TTLV_INTEGER;
				sel->kinds[sel->nkinds++] = &sel->refs[i];
			} else {
				sel->names[sel->nnames++] = (const char *)c->v.bytes.data;
			}
		} else if (c->tag == KMIP_TAG_ATTRIBUTE_REFERENCE) {
			sel->empty = false;
			if (c->type == TTLV_ENUMERATION) {
				if (c->v.u32 == KMIP_TAG_ATTRIBUTE)
					sel->all_custom = true;
				sel->refs[i].tag = c->v.u32;
				sel->refs[i].type = TTLV_ENUMERATION;
				sel->kinds[sel->nkinds++] = &sel->refs[i];
			} else if (c->type == TTLV_STRUCTURE) {
				/* Vendor and name: stands for a custom attribute of that vendor and name. */
				sel->refs[i] = *c;
				sel->refs[i].tag = KMIP_TAG_ATTRIBUTE;
				sel->refs[i].next = NULL;
				if (ttlv_find(c, KMIP_TAG_VENDOR_IDENTIFICATION) != NULL &&
				    ttlv_find(c, KMIP_TAG_ATTRIBUTE_NAME) != NULL)
					sel->kinds[sel->nkinds++] = &sel->refs[i];
			}
		}
	}
	if (sel->nkinds > 1)
		qsort(sel->kinds, sel->nkinds, sizeof(*sel->kinds), kind_ptr_cmp);
	if (sel->nnames > 1)
		qsort(sel->names, sel->nnames, sizeof(*sel->names), str_ptr_cmp);
	return sel;
}

/* The kinds of the attributes of attrs; see attrs.h. */
struct attr_selection *
attr_selection_of(const struct ttlv *attrs)
{
	return selection_new(attrs, false);
}

/* The attributes a request's payload names; see attrs.h. */
struct attr_selection *
attr_selection_named(const struct ttlv *payload)
{
	return selection_new(payload, true);
}

/* True when the selection holds item's kind; see attrs.h. */
bool
attr_selection_has(const struct attr_selection *sel, const struct ttlv *item, bool empty_is_all)
{
	const struct ttlv *vendor, *name;

	if (sel->empty)
		return empty_is_all;
	if (custom_parts(item, &vendor, &name)) {
		if (sel->all_custom)
			return true;
		if (sel->nnames > 0 && bsearch(item, sel->names, sel->nnames, sizeof(*sel->names), custom_vs_name))
			return true;
	}
	return sel->nkinds > 0 && bsearch(&item, sel->kinds, sel->nkinds, sizeof(*sel->kinds), kind_ptr_cmp) != NULL;
}

/* The encoded size of an item, header and padding included. */
static uint64_t
item_size(const struct ttlv *item)
{
	const struct ttlv *c;
	uint64_t n = 8;

	if (item->type != TTLV_STRUCTURE)
		return n + (((uint64_t)item->length + 7) & ~(uint64_t)7);
	for (c = item->v.s.first; c != NULL; c = c->next)
		n += item_size(c);
	return n;
}

/* Checks an object's attributes against the limits; see attrs.h. */
int
attrs_check_limits(const struct ttlv *attrs, const struct attrs_limits *lim, struct kmip_error *err)
{
	const struct ttlv *c;
	struct kind_ref *v;
	uint64_t bytes = 0;
	size_t n, i, run;
	char name[128];

	if ((n = children(attrs)) == 0)
		return 0;
	if (lim->max_attributes != 0 && n > lim->max_attributes)
		return kmip_error_set(err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "an object has at most %u "
		    "attribute instances (server.max_attributes); this one would have %zu", lim->max_attributes, n);
	for (c = attrs->v.s.first; c != NULL; c = c->next)
		bytes += item_size(c);
	if (lim->max_attribute_bytes != 0 && bytes > lim->max_attribute_bytes)
		return kmip_error_set(err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "an object's attributes take "
		    "at most %llu bytes (server.max_attribute_bytes); these would take %llu",
		    (unsigned long long)lim->max_attribute_bytes, (unsigned long long)bytes);
	if (lim->max_attribute_values == 0)
		return 0;
	if (sorted_by_kind(attrs, &v, &n) != 0)
		return kmip_error_set(err, KMIP_RESULT_REASON_GENERAL_FAILURE, "out of memory");
	for (i = 0, run = 0; i < n; i++) {
		run = i > 0 && kind_cmp(v[i - 1].item, v[i].item) == 0 ? run + 1 : 1;
		if (run > lim->max_attribute_values) {
			attr_name(v[i].item, name, sizeof(name));
			free(v);
			return kmip_error_set(err, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED, "attribute %s has at "
			    "most %u values (server.max_attribute_values)", name, lim->max_attribute_values);
		}
	}
	free(v);
	return 0;
}

/* Writes the attributes the client's version knows and keep accepts; see attrs.h. */
void
attrs_encode(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	const struct ttlv *c;
	int32_t *index;
	size_t n, i;

	if (attrs_instance_indexes(attrs, &index, &n) != 0) {
		if (e->error == 0)
			e->error = ENOMEM;
		return;
	}
	if (KMIP_VERSION_MAJOR(version) >= 2)
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTES);
	for (c = n > 0 ? attrs->v.s.first : NULL, i = 0; c != NULL && i < n; c = c->next, i++) {
		if (!attr_visible(c->tag, version) || (keep != NULL && !keep(c, arg)))
			continue;
		attr_encode(e, version, c, index[i]);
	}
	if (KMIP_VERSION_MAJOR(version) >= 2)
		ttlv_enc_end(e);
	free(index);
}

/* Writes one reference per attribute the client's version knows and keep accepts; see attrs.h. */
void
attrs_encode_refs(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep, void *arg)
{
	const struct ttlv *c, *vendor, *name;
	char buf[256];
	int32_t *index;
	size_t n, i;

	if (attrs_instance_indexes(attrs, &index, &n) != 0) {
		if (e->error == 0)
			e->error = ENOMEM;
		return;
	}
	/* Each kind once: at its first instance. */
	for (c = n > 0 ? attrs->v.s.first : NULL, i = 0; c != NULL && i < n; c = c->next, i++) {
		if (index[i] != 0 || !attr_visible(c->tag, version) || (keep != NULL && !keep(c, arg)))
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
	free(index);
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
