/*
 * proto/names.h: the names of KMIP 1.0 to 2.1, and a tree printer that uses them.
 *
 * The tag, enumeration and mask constants generated from tags.def, enums.def and masks.def; lookups of the
 * type, tag, enumeration and mask names both ways, in the specification's and the XML encoding's spellings;
 * the version that introduced a tag; and ttlv_print(), which writes an item as an indented tree of names.
 *
 * Symbol prefixes: KMIP_ for the constants, ttlv_ for the functions.
 */
#ifndef KMIPD_PROTO_NAMES_H
#define KMIPD_PROTO_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/ttlv.h"

/*
 * Tag, enumeration and mask constants, generated as X-macros (see the .def files for their formats):
 * KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094, KMIP_OBJECT_TYPE_SYMMETRIC_KEY = 2, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT = 4.
 */
enum kmip_tag {
#define KMIP_TAG(id, value, name, xml, version) KMIP_TAG_##id = value,
#include "proto/tags.def"
#undef KMIP_TAG
};

/* Enumeration values, KMIP_<TYPE>_<VALUE> (KMIP_OBJECT_TYPE_SYMMETRIC_KEY), and mask bits. */
enum kmip_enum_value {
#define KMIP_ENUM_BEGIN(type, name)
#define KMIP_ENUM_VALUE(type, id, value, name, xml) KMIP_##type##_##id = value,
#define KMIP_ENUM_END(type)
#define KMIP_ENUM_TAG(tag, type)
#define KMIP_ENUM_TAG_VALUED(tag)
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_VALUE
#undef KMIP_ENUM_END
#undef KMIP_ENUM_TAG
#undef KMIP_ENUM_TAG_VALUED
};

enum kmip_mask_bit {
#define KMIP_MASK_BEGIN(type, name)
#define KMIP_MASK_BIT(type, id, value, name, xml) KMIP_##type##_##id = value,
#define KMIP_MASK_END(type)
#define KMIP_MASK_TAG(tag, type)
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_BIT
#undef KMIP_MASK_END
#undef KMIP_MASK_TAG
};

/* Name tables (KMIP 1.0 to 2.1). NULL when unknown. */
const char *ttlv_type_name(uint8_t type);
/* "Unique Identifier" for 0x420094. */
const char *ttlv_tag_name(uint32_t tag);
/* 0 and *tag set when found; accepts the spec name or the name without spaces ("UniqueIdentifier"). */
int ttlv_tag_by_name(const char *name, uint32_t *tag) TTLV_WUR;
/* Name of an Enumeration value carried under tag, e.g. ttlv_enum_name(0x420057, 2) = "Symmetric Key". */
const char *ttlv_enum_name(uint32_t tag, uint32_t value);
/* 0 and *value set when found; same name rules as ttlv_tag_by_name. */
int ttlv_enum_by_name(uint32_t tag, const char *name, uint32_t *value) TTLV_WUR;
/* True when tag carries a bit mask (Cryptographic Usage Mask, Storage Status Mask, ...). */
bool ttlv_is_mask(uint32_t tag);
/* Writes the mask as names separated by " | " (unknown bits in hex) into buf; returns buf. */
const char *ttlv_mask_str(uint32_t tag, uint32_t value, char *buf, size_t size);
/* 0 and *value set when every space- or '|'-separated word names a bit of the tag's mask. */
int ttlv_mask_by_names(uint32_t tag, const char *names, uint32_t *value) TTLV_WUR;

/* The KMIP version that introduced tag, (major << 8) | minor (0x0100 for 1.0, 0x0201 for 2.1); 0 if unknown. */
unsigned ttlv_tag_version(uint32_t tag);
/* XML encoding spellings ("UniqueIdentifier", "SymmetricKey", "PKCS_1"); NULL when unknown. */
const char *ttlv_tag_xml_name(uint32_t tag);
const char *ttlv_enum_xml_name(uint32_t tag, uint32_t value);
/* Like ttlv_mask_str() with XML names separated by single spaces ("Encrypt Decrypt"). */
const char *ttlv_mask_xml_str(uint32_t tag, uint32_t value, char *buf, size_t size);
/*
 * KMIP 1.x carries attribute values under Attribute Value, named by the sibling Attribute Name: these
 * resolve an enumeration through the attribute's name ("Cryptographic Algorithm", any spelling that
 * ttlv_tag_by_name() accepts). NULL / -1 when the attribute or the value is unknown.
 */
const char *ttlv_enum_name_for_attribute(const char *attr_name, uint32_t value);
int ttlv_enum_by_attribute_name(const char *attr_name, const char *name, uint32_t *value) TTLV_WUR;
/* Checks that the tables are sorted and without duplicates (for tests): 0, or -1 with *what set. */
int ttlv_names_selfcheck(const char **what) TTLV_WUR;

/* Prints an item as an indented tree: tag name (or hex), type, value, enumeration and mask names. */
void ttlv_print(FILE *out, const struct ttlv *item);
/* ttlv_print_opts() flags: print key material and passwords instead of "<N bytes redacted>". */
#define TTLV_PRINT_SECRETS 0x1u
void ttlv_print_opts(FILE *out, const struct ttlv *item, unsigned flags);

#endif
