/*
 * names: the tag, type, enumeration and mask name tables of KMIP 1.0 to 2.1.
 *
 * Every table is a const array built at compile time from the X-macro lists tags.def, enums.def and
 * masks.def, which keep their entries sorted by value, so a lookup by value is a binary search. Lookups by
 * name are linear: they serve tools, tests and the XML encoding, not the request path. Nothing here
 * allocates or keeps state.
 *
 * A name is accepted in three spellings, all case-sensitive: the spec name ("Unique Identifier"), the XML
 * encoding name ("UniqueIdentifier", "PKCS_1") and the spec name with its spaces removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/names.h"
#include "proto/ttlv.h"

struct tag_info {
	uint32_t tag;
	unsigned version;
	const char *name;
	const char *xml;
};

struct value_info {
	uint32_t value;
	const char *name;
	const char *xml;
};

/* One enumeration or mask: its values sorted by value. */
struct value_set {
	const char *name;
	const struct value_info *v;
	size_t n;
};

/* A tag and the enumeration or mask it carries; sorted by tag. */
struct tag_set {
	uint32_t tag;
	const struct value_set *set;
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct tag_info tags[] = {
#define KMIP_TAG(id, value, name, xml, version) { value, version, name, xml },
#include "proto/tags.def"
#undef KMIP_TAG
};

/* The values of each enumeration, then one descriptor per enumeration. */
#define KMIP_ENUM_BEGIN(type, name) static const struct value_info enum_values_##type[] = {
#define KMIP_ENUM_VALUE(type, id, value, name, xml) { value, name, xml },
#define KMIP_ENUM_END(type) };
#define KMIP_ENUM_TAG(tag, type)
#define KMIP_ENUM_TAG_VALUED(tag)
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_VALUE
#undef KMIP_ENUM_END

#define KMIP_ENUM_BEGIN(type, name) \
	static const struct value_set enum_set_##type = { name, enum_values_##type, NELEM(enum_values_##type) };
#define KMIP_ENUM_VALUE(type, id, value, name, xml)
#define KMIP_ENUM_END(type)
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_TAG

static const struct value_set *const enum_sets[] = {
#define KMIP_ENUM_BEGIN(type, name) &enum_set_##type,
#define KMIP_ENUM_TAG(tag, type)
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_TAG
};

static const struct tag_set enum_tags[] = {
#define KMIP_ENUM_BEGIN(type, name)
#define KMIP_ENUM_TAG(tag, type) { KMIP_TAG_##tag, &enum_set_##type },
#include "proto/enums.def"
#undef KMIP_ENUM_TAG
#undef KMIP_ENUM_TAG_VALUED
};

/* Tags whose Enumeration holds a tag value (KMIP 2.x Tag, Attribute Reference). */
static const uint32_t tag_valued[] = {
#define KMIP_ENUM_TAG(tag, type)
#define KMIP_ENUM_TAG_VALUED(tag) KMIP_TAG_##tag,
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_VALUE
#undef KMIP_ENUM_END
#undef KMIP_ENUM_TAG
#undef KMIP_ENUM_TAG_VALUED
};

#define KMIP_MASK_BEGIN(type, name) static const struct value_info mask_bits_##type[] = {
#define KMIP_MASK_BIT(type, id, value, name, xml) { value, name, xml },
#define KMIP_MASK_END(type) };
#define KMIP_MASK_TAG(tag, type)
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_BIT
#undef KMIP_MASK_END

#define KMIP_MASK_BEGIN(type, name) \
	static const struct value_set mask_set_##type = { name, mask_bits_##type, NELEM(mask_bits_##type) };
#define KMIP_MASK_BIT(type, id, value, name, xml)
#define KMIP_MASK_END(type)
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_TAG

static const struct value_set *const mask_sets[] = {
#define KMIP_MASK_BEGIN(type, name) &mask_set_##type,
#define KMIP_MASK_TAG(tag, type)
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_TAG
};

static const struct tag_set mask_tags[] = {
#define KMIP_MASK_BEGIN(type, name)
#define KMIP_MASK_TAG(tag, type) { KMIP_TAG_##tag, &mask_set_##type },
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_BIT
#undef KMIP_MASK_END
#undef KMIP_MASK_TAG
};

/* Returns the tag's entry, by binary search, or NULL. */
static const struct tag_info *
find_tag(uint32_t tag)
{
	size_t lo = 0, hi = NELEM(tags);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tags[mid].tag == tag)
			return &tags[mid];
		if (tags[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Returns the value's entry in set, by binary search, or NULL. */
static const struct value_info *
find_value(const struct value_set *set, uint32_t value)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->v[mid].value == value)
			return &set->v[mid];
		if (set->v[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Returns the enumeration or mask that tag carries in map (sorted by tag), or NULL. */
static const struct value_set *
find_set(const struct tag_set *map, size_t n, uint32_t tag)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (map[mid].tag == tag)
			return map[mid].set;
		if (map[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* True when the Enumeration under tag holds tag values. */
static bool
is_tag_valued(uint32_t tag)
{
	size_t i;

	for (i = 0; i < NELEM(tag_valued); i++)
		if (tag_valued[i] == tag)
			return true;
	return false;
}

/* True when s equals spec with the spaces of spec skipped ("UniqueIdentifier" vs "Unique Identifier"). */
static bool
eq_nospace(const char *spec, const char *s)
{
	for (;;) {
		while (*spec == ' ')
			spec++;
		if (*spec != *s)
			return false;
		if (*spec == '\0')
			return true;
		spec++;
		s++;
	}
}

/* True when name is one of the accepted spellings of an entry. */
static bool
name_matches(const char *spec, const char *xml, const char *name)
{
	return strcmp(name, spec) == 0 || strcmp(name, xml) == 0 || eq_nospace(spec, name);
}

/* Returns the value in set named name, in any accepted spelling, or NULL. */
static const struct value_info *
find_value_by_name(const struct value_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (name_matches(set->v[i].name, set->v[i].xml, name))
			return &set->v[i];
	return NULL;
}

/* Spec name of an item type, as in the KMIP 1.x tables. */
const char *
ttlv_type_name(uint8_t type)
{
	switch (type) {
	case TTLV_STRUCTURE:
		return "Structure";
	case TTLV_INTEGER:
		return "Integer";
	case TTLV_LONG_INTEGER:
		return "Long Integer";
	case TTLV_BIG_INTEGER:
		return "Big Integer";
	case TTLV_ENUMERATION:
		return "Enumeration";
	case TTLV_BOOLEAN:
		return "Boolean";
	case TTLV_TEXT_STRING:
		return "Text String";
	case TTLV_BYTE_STRING:
		return "Byte String";
	case TTLV_DATE_TIME:
		return "Date-Time";
	case TTLV_INTERVAL:
		return "Interval";
	case TTLV_DATE_TIME_EXTENDED:
		return "Date-Time Extended";
	default:
		return NULL;
	}
}

/* Spec name of a tag, or NULL. */
const char *
ttlv_tag_name(uint32_t tag)
{
	const struct tag_info *t = find_tag(tag);

	return t != NULL ? t->name : NULL;
}

/* XML element name of a tag, or NULL. */
const char *
ttlv_tag_xml_name(uint32_t tag)
{
	const struct tag_info *t = find_tag(tag);

	return t != NULL ? t->xml : NULL;
}

/* KMIP version that introduced a tag, (major << 8) | minor, or 0. */
unsigned
ttlv_tag_version(uint32_t tag)
{
	const struct tag_info *t = find_tag(tag);

	return t != NULL ? t->version : 0;
}

/* Finds a tag by name in any accepted spelling: 0 and *tag set, or -1. */
int
ttlv_tag_by_name(const char *name, uint32_t *tag)
{
	size_t i;

	if (name == NULL || *name == '\0')
		return -1;
	for (i = 0; i < NELEM(tags); i++) {
		if (name_matches(tags[i].name, tags[i].xml, name)) {
			*tag = tags[i].tag;
			return 0;
		}
	}
	return -1;
}

/* Spec name of an Enumeration value under tag, or NULL. */
const char *
ttlv_enum_name(uint32_t tag, uint32_t value)
{
	const struct value_set *set;
	const struct value_info *v;

	if (is_tag_valued(tag))
		return ttlv_tag_name(value);
	if ((set = find_set(enum_tags, NELEM(enum_tags), tag)) == NULL)
		return NULL;
	v = find_value(set, value);
	return v != NULL ? v->name : NULL;
}

/* XML name of an Enumeration value under tag, or NULL. */
const char *
ttlv_enum_xml_name(uint32_t tag, uint32_t value)
{
	const struct value_set *set;
	const struct value_info *v;

	if (is_tag_valued(tag))
		return ttlv_tag_xml_name(value);
	if ((set = find_set(enum_tags, NELEM(enum_tags), tag)) == NULL)
		return NULL;
	v = find_value(set, value);
	return v != NULL ? v->xml : NULL;
}

/* Finds an Enumeration value under tag by name: 0 and *value set, or -1. */
int
ttlv_enum_by_name(uint32_t tag, const char *name, uint32_t *value)
{
	const struct value_set *set;
	const struct value_info *v;

	if (name == NULL)
		return -1;
	if (is_tag_valued(tag))
		return ttlv_tag_by_name(name, value);
	if ((set = find_set(enum_tags, NELEM(enum_tags), tag)) == NULL)
		return -1;
	if ((v = find_value_by_name(set, name)) == NULL)
		return -1;
	*value = v->value;
	return 0;
}

/* Enumeration name of value for the 1.x attribute called attr_name, or NULL. */
const char *
ttlv_enum_name_for_attribute(const char *attr_name, uint32_t value)
{
	uint32_t tag;

	if (ttlv_tag_by_name(attr_name, &tag) == -1)
		return NULL;
	return ttlv_enum_name(tag, value);
}

/* Enumeration value named name for the 1.x attribute called attr_name: 0 and *value set, or -1. */
int
ttlv_enum_by_attribute_name(const char *attr_name, const char *name, uint32_t *value)
{
	uint32_t tag;

	if (ttlv_tag_by_name(attr_name, &tag) == -1)
		return -1;
	return ttlv_enum_by_name(tag, name, value);
}

/* True when tag carries a bit mask. */
bool
ttlv_is_mask(uint32_t tag)
{
	return find_set(mask_tags, NELEM(mask_tags), tag) != NULL;
}

/* Appends s to buf (size bytes, *len used), truncating; buf stays NUL-terminated. */
static void
append(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

/*
 * Writes the names of the bits set in value, separated by sep, then any bits without a name as one hex
 * number; "0" when no bit is set. A tag without a mask gets the plain hex value.
 */
static const char *
mask_str(uint32_t tag, uint32_t value, char *buf, size_t size, bool xml, const char *sep)
{
	const struct value_set *set = find_set(mask_tags, NELEM(mask_tags), tag);
	uint32_t rest = value;
	size_t len = 0, i;
	char hex[16];

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (set == NULL) {
		(void)snprintf(hex, sizeof(hex), "0x%08X", (unsigned)value);
		append(buf, size, &len, hex);
		return buf;
	}
	if (value == 0) {
		append(buf, size, &len, "0");
		return buf;
	}
	for (i = 0; i < set->n; i++) {
		if ((value & set->v[i].value) == 0 || set->v[i].value == 0)
			continue;
		if (len > 0)
			append(buf, size, &len, sep);
		append(buf, size, &len, xml ? set->v[i].xml : set->v[i].name);
		rest &= ~set->v[i].value;
	}
	if (rest != 0) {
		if (len > 0)
			append(buf, size, &len, sep);
		(void)snprintf(hex, sizeof(hex), "0x%08X", (unsigned)rest);
		append(buf, size, &len, hex);
	}
	return buf;
}

/* Mask as spec names separated by " | "; returns buf. */
const char *
ttlv_mask_str(uint32_t tag, uint32_t value, char *buf, size_t size)
{
	return mask_str(tag, value, buf, size, false, " | ");
}

/* Mask as XML names separated by spaces; returns buf. */
const char *
ttlv_mask_xml_str(uint32_t tag, uint32_t value, char *buf, size_t size)
{
	return mask_str(tag, value, buf, size, true, " ");
}

/* Parses one word: a bit name or a number. 0 and *bits set, or -1. */
static int
mask_word(const struct value_set *set, const char *w, uint32_t *bits)
{
	const struct value_info *v;
	unsigned long n;
	char *end;

	if ((v = find_value_by_name(set, w)) != NULL) {
		*bits = v->value;
		return 0;
	}
	if (*w < '0' || *w > '9')
		return -1;
	errno = 0;
	n = strtoul(w, &end, 0);
	if (errno != 0 || *end != '\0' || n > UINT32_MAX)
		return -1;
	*bits = (uint32_t)n;
	return 0;
}

/*
 * Parses a mask: '|'-separated parts, each either one bit name with spaces ("MAC Generate") or
 * space-separated words ("Encrypt Decrypt", "MACGenerate"), where a word may also be a number.
 * 0 and *value set when everything named a bit, else -1.
 */
int
ttlv_mask_by_names(uint32_t tag, const char *names, uint32_t *value)
{
	const struct value_set *set = find_set(mask_tags, NELEM(mask_tags), tag);
	char word[256];
	const char *p, *q;
	uint32_t acc = 0, bits;
	bool any = false;

	if (set == NULL || names == NULL)
		return -1;
	for (p = names; *p != '\0'; p = *q == '|' ? q + 1 : q) {
		size_t a, b, n;

		for (q = p; *q != '\0' && *q != '|'; q++)
			;
		for (a = 0; p + a < q && (p[a] == ' ' || p[a] == '\t'); a++)
			;
		for (b = (size_t)(q - p); b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'); b--)
			;
		n = b - a;
		if (n == 0) {
			if (*q == '|')
				return -1;	/* empty part between separators */
			continue;
		}
		if (n < sizeof(word)) {
			memcpy(word, p + a, n);
			word[n] = '\0';
			if (mask_word(set, word, &bits) == 0) {
				acc |= bits;
				any = true;
				continue;
			}
		}
		/* Not one name: each space-separated word must be one. */
		for (b = a + n; a < b;) {
			size_t s;

			while (a < b && (p[a] == ' ' || p[a] == '\t'))
				a++;
			for (s = a; a < b && p[a] != ' ' && p[a] != '\t'; a++)
				;
			if (a == s)
				break;
			if (a - s >= sizeof(word))
				return -1;
			memcpy(word, p + s, a - s);
			word[a - s] = '\0';
			if (mask_word(set, word, &bits) == -1)
				return -1;
			acc |= bits;
			any = true;
		}
	}
	if (!any)
		return -1;
	*value = acc;
	return 0;
}

/* Checks one value set: values strictly increasing and no two entries sharing a spelling. */
static int
check_set(const struct value_set *set, const char **what)
{
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		if (i > 0 && set->v[i].value <= set->v[i - 1].value) {
			*what = set->name;
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (name_matches(set->v[j].name, set->v[j].xml, set->v[i].name) ||
			    name_matches(set->v[j].name, set->v[j].xml, set->v[i].xml)) {
				*what = set->v[i].name;
				return -1;
			}
		}
	}
	return 0;
}

/* Verifies the invariants the lookups rely on; 0, or -1 with *what naming the offending table or entry. */
int
ttlv_names_selfcheck(const char **what)
{
	size_t i;

	*what = NULL;
	for (i = 1; i < NELEM(tags); i++) {
		if (tags[i].tag <= tags[i - 1].tag || tags[i].version < tags[i - 1].version) {
			*what = tags[i].name;
			return -1;
		}
	}
	for (i = 0; i < NELEM(tags); i++) {
		uint32_t t;

		/* Every spelling must lead back to its own tag. */
		if (ttlv_tag_by_name(tags[i].name, &t) == -1 || t != tags[i].tag ||
		    ttlv_tag_by_name(tags[i].xml, &t) == -1 || t != tags[i].tag) {
			*what = tags[i].name;
			return -1;
		}
	}
	for (i = 1; i < NELEM(enum_tags); i++) {
		if (enum_tags[i].tag <= enum_tags[i - 1].tag) {
			*what = "enumeration tag map";
			return -1;
		}
	}
	for (i = 1; i < NELEM(mask_tags); i++) {
		if (mask_tags[i].tag <= mask_tags[i - 1].tag) {
			*what = "mask tag map";
			return -1;
		}
	}
	for (i = 0; i < NELEM(mask_tags); i++) {
		if (find_set(enum_tags, NELEM(enum_tags), mask_tags[i].tag) != NULL ||
		    is_tag_valued(mask_tags[i].tag)) {
			*what = "a tag carries both a mask and an enumeration";
			return -1;
		}
	}
	for (i = 0; i < NELEM(enum_sets); i++)
		if (check_set(enum_sets[i], what) == -1)
			return -1;
	for (i = 0; i < NELEM(mask_sets); i++)
		if (check_set(mask_sets[i], what) == -1)
			return -1;
	return 0;
}
