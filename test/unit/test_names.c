/*
 * Unit tests for the name tables and the tree printer: known tags, enumerations and masks both ways, the
 * version that introduced a tag, unknown values, every name used by the OASIS XML test cases, and the
 * exact text ttlv_print() writes.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/util.h"

/* Asserts that name resolves to tag. */
static void
expect_tag(const char *name, uint32_t tag)
{
	uint32_t t = 0;

	if (ttlv_tag_by_name(name, &t) != 0)
		fail_msg("tag name \"%s\" not found", name);
	assert_int_equal(t, tag);
}

/* Asserts that name resolves to value under tag. */
static void
expect_enum(uint32_t tag, const char *name, uint32_t value)
{
	uint32_t v = 0;

	if (ttlv_enum_by_name(tag, name, &v) != 0)
		fail_msg("enumeration name \"%s\" not found under 0x%06X", name, (unsigned)tag);
	assert_int_equal(v, value);
}

static void
test_constants(void **state)
{
	(void)state;
	assert_int_equal(KMIP_TAG_UNIQUE_IDENTIFIER, 0x420094);
	assert_int_equal(KMIP_TAG_IV_COUNTER_NONCE, 0x42003D);
	assert_int_equal(KMIP_TAG_PKCS_12_FRIENDLY_NAME, 0x4200FB);
	assert_int_equal(KMIP_TAG_X_509_CERTIFICATE_IDENTIFIER, 0x4200B5);
	assert_int_equal(KMIP_OBJECT_TYPE_SYMMETRIC_KEY, 2);
	assert_int_equal(KMIP_OPERATION_GET, 0x0A);
	assert_int_equal(KMIP_OPERATION_PING, 0x3B);
	assert_int_equal(KMIP_RESULT_REASON_ITEM_NOT_FOUND, 1);
	assert_int_equal(KMIP_RESULT_STATUS_OPERATION_FAILED, 1);
	assert_int_equal(KMIP_KEY_FORMAT_TYPE_PKCS_1, 3);
	assert_int_equal(KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES, 2);
	assert_int_equal(KMIP_HASHING_ALGORITHM_SHA_256, 6);
	assert_int_equal(KMIP_RECOMMENDED_CURVE_P_256, 7);
	assert_int_equal(KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT, 4);
	assert_int_equal(KMIP_STORAGE_STATUS_MASK_ON_LINE_STORAGE, 1);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(ttlv_type_name(TTLV_STRUCTURE), "Structure");
	assert_string_equal(ttlv_type_name(TTLV_BIG_INTEGER), "Big Integer");
	assert_string_equal(ttlv_type_name(TTLV_DATE_TIME_EXTENDED), "Date-Time Extended");
	assert_null(ttlv_type_name(0));
	assert_null(ttlv_type_name(0x0C));
}

static void
test_tags_both_ways(void **state)
{
	uint32_t t = 0;

	(void)state;
	assert_string_equal(ttlv_tag_name(0x420094), "Unique Identifier");
	assert_string_equal(ttlv_tag_xml_name(0x420094), "UniqueIdentifier");
	assert_string_equal(ttlv_tag_name(KMIP_TAG_ATTRIBUTES), "Attributes");
	assert_string_equal(ttlv_tag_name(0x420020), "Compromise Date");
	assert_string_equal(ttlv_tag_xml_name(KMIP_TAG_IV_COUNTER_NONCE), "IVCounterNonce");
	assert_string_equal(ttlv_tag_xml_name(KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE), "CommonTemplateAttribute");
	assert_string_equal(ttlv_tag_xml_name(KMIP_TAG_PKCS_11_FUNCTION), "PKCS_11Function");
	expect_tag("Unique Identifier", 0x420094);
	expect_tag("UniqueIdentifier", 0x420094);
	expect_tag("IV/Counter/Nonce", 0x42003D);
	expect_tag("IVCounterNonce", 0x42003D);
	expect_tag("Common Template-Attribute", 0x42001F);
	expect_tag("CommonTemplateAttribute", 0x42001F);
	expect_tag("Common Template-Attribute", KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	expect_tag("X.509 Certificate Identifier", 0x4200B5);
	expect_tag("X_509CertificateIdentifier", 0x4200B5);
	expect_tag("PKCS#11 Function", 0x42015A);
	expect_tag("Object Groups", 0x420166);
	expect_tag("AsynchronousCorrelationValues", 0x420176);
	/* unknown */
	assert_null(ttlv_tag_name(0x420000));
	assert_null(ttlv_tag_name(0x42013E));
	assert_null(ttlv_tag_name(0x540001));
	assert_null(ttlv_tag_xml_name(0x420177));
	assert_int_equal(ttlv_tag_by_name("Unique identifier", &t), -1);	/* case-sensitive */
	assert_int_equal(ttlv_tag_by_name("uniqueidentifier", &t), -1);
	assert_int_equal(ttlv_tag_by_name("No Such Tag", &t), -1);
	assert_int_equal(ttlv_tag_by_name("", &t), -1);
	assert_int_equal(ttlv_tag_by_name(NULL, &t), -1);
}

static void
test_tag_versions(void **state)
{
	(void)state;
	assert_int_equal(ttlv_tag_version(KMIP_TAG_UNIQUE_IDENTIFIER), 0x0100);
	assert_int_equal(ttlv_tag_version(KMIP_TAG_PASSWORD), 0x0100);		/* 0x4200A1, last of 1.0 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_DEVICE_IDENTIFIER), 0x0101);	/* 0x4200A2 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_X_509_CERTIFICATE_SUBJECT), 0x0101);
	assert_int_equal(ttlv_tag_version(KMIP_TAG_KEY_VALUE_LOCATION), 0x0102);	/* 0x4200B8 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_ATTESTATION_CAPABLE_INDICATOR), 0x0102);
	assert_int_equal(ttlv_tag_version(KMIP_TAG_OFFSET_ITEMS), 0x0103);		/* 0x4200D4 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_CAPABILITY_INFORMATION), 0x0103);
	assert_int_equal(ttlv_tag_version(KMIP_TAG_KEY_WRAP_TYPE), 0x0104);		/* 0x4200F8 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_REPLACE_EXISTING), 0x0104);
	assert_int_equal(ttlv_tag_version(0x420125), 0x0200);			/* Attributes */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_PUBLIC_PROTECTION_STORAGE_MASKS), 0x0200);
	assert_int_equal(ttlv_tag_version(KMIP_TAG_OBJECT_GROUPS), 0x0201);	/* 0x420166 */
	assert_int_equal(ttlv_tag_version(KMIP_TAG_ASYNCHRONOUS_CORRELATION_VALUES), 0x0201);
	assert_int_equal(ttlv_tag_version(0x42013E), 0);
	assert_int_equal(ttlv_tag_version(0x420177), 0);
	assert_int_equal(ttlv_tag_version(0x540000), 0);
}

static void
test_enums_both_ways(void **state)
{
	uint32_t v = 0;

	(void)state;
	assert_string_equal(ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, 2), "Symmetric Key");
	assert_string_equal(ttlv_enum_xml_name(KMIP_TAG_OBJECT_TYPE, 2), "SymmetricKey");
	assert_string_equal(ttlv_enum_name(KMIP_TAG_OPERATION, KMIP_OPERATION_GET), "Get");
	assert_string_equal(ttlv_enum_name(KMIP_TAG_RESULT_REASON, 1), "Item Not Found");
	assert_string_equal(ttlv_enum_name(KMIP_TAG_KEY_FORMAT_TYPE, 3), "PKCS#1");
	assert_string_equal(ttlv_enum_xml_name(KMIP_TAG_KEY_FORMAT_TYPE, 3), "PKCS_1");
	assert_string_equal(ttlv_enum_xml_name(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 2), "DES3");
	/* Mask Generator Hashing Algorithm shares the Hashing Algorithm values */
	assert_string_equal(ttlv_enum_name(KMIP_TAG_MASK_GENERATOR_HASHING_ALGORITHM, 6), "SHA-256");
	expect_enum(KMIP_TAG_OBJECT_TYPE, "Symmetric Key", 2);
	expect_enum(KMIP_TAG_OBJECT_TYPE, "SymmetricKey", 2);
	expect_enum(KMIP_TAG_KEY_FORMAT_TYPE, "PKCS#1", 3);
	expect_enum(KMIP_TAG_KEY_FORMAT_TYPE, "PKCS_1", 3);
	expect_enum(KMIP_TAG_KEY_FORMAT_TYPE, "X_509", 5);
	expect_enum(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "3DES", 2);
	expect_enum(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "DES3", 2);
	expect_enum(KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "HMAC_SHA256", 9);
	expect_enum(KMIP_TAG_HASHING_ALGORITHM, "SHA_256", 6);
	expect_enum(KMIP_TAG_STATE, "Pre-Active", 1);
	expect_enum(KMIP_TAG_STATE, "PreActive", 1);
	expect_enum(KMIP_TAG_OPERATION, "Re-key", 4);
	expect_enum(KMIP_TAG_OPERATION, "ReKey", 4);
	expect_enum(KMIP_TAG_RNG_ALGORITHM, "ANSIX9_31", 5);
	expect_enum(KMIP_TAG_RECOMMENDED_CURVE, "P-256", 7);
	expect_enum(KMIP_TAG_RESULT_STATUS, "OperationFailed", 1);
	/* 2.1 additions */
	expect_enum(KMIP_TAG_OPERATION, "Query Asynchronous Requests", 0x39);
	expect_enum(KMIP_TAG_OPERATION, "SetConstraints", 0x37);
	expect_enum(KMIP_TAG_RESULT_REASON, "Constraint Violation", 0x4B);
	expect_enum(KMIP_TAG_PROCESSING_STAGE, "InProcess", 2);
	expect_enum(KMIP_TAG_PKCS_11_FUNCTION, "C_Initialize", 1);
	expect_enum(KMIP_TAG_PKCS_11_RETURN_CODE, "OK", 0);
	/* enumerations whose values are tags */
	assert_string_equal(ttlv_enum_name(KMIP_TAG_ATTRIBUTE_REFERENCE, 0x420001), "Activation Date");
	assert_string_equal(ttlv_enum_xml_name(KMIP_TAG_TAG, 0x420094), "UniqueIdentifier");
	expect_enum(KMIP_TAG_ATTRIBUTE_REFERENCE, "CryptographicUsageMask", 0x42002C);
	/* unknown */
	assert_null(ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, 0x77));
	assert_null(ttlv_enum_name(KMIP_TAG_ACTIVATION_DATE, 1));
	assert_null(ttlv_enum_name(0x540001, 1));
	assert_null(ttlv_enum_xml_name(KMIP_TAG_OBJECT_TYPE, 0));
	assert_null(ttlv_enum_name(KMIP_TAG_ATTRIBUTE_REFERENCE, 0x420177));
	assert_int_equal(ttlv_enum_by_name(KMIP_TAG_OBJECT_TYPE, "Symmetric key", &v), -1);
	assert_int_equal(ttlv_enum_by_name(KMIP_TAG_OBJECT_TYPE, "Get", &v), -1);
	assert_int_equal(ttlv_enum_by_name(KMIP_TAG_ACTIVATION_DATE, "Get", &v), -1);
	assert_int_equal(ttlv_enum_by_name(KMIP_TAG_OBJECT_TYPE, NULL, &v), -1);
}

static void
test_enum_by_attribute(void **state)
{
	uint32_t v = 0;

	(void)state;
	assert_string_equal(ttlv_enum_name_for_attribute("Cryptographic Algorithm", 3), "AES");
	assert_string_equal(ttlv_enum_name_for_attribute("Object Type", 4), "Private Key");
	assert_int_equal(ttlv_enum_by_attribute_name("Object Type", "SymmetricKey", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(ttlv_enum_by_attribute_name("State", "PreActive", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ttlv_enum_by_attribute_name("Cryptographic Algorithm", "DES3", &v), 0);
	assert_int_equal(v, 2);
	assert_null(ttlv_enum_name_for_attribute("x-Custom", 1));
	assert_null(ttlv_enum_name_for_attribute("Cryptographic Length", 1));
	assert_int_equal(ttlv_enum_by_attribute_name("x-Custom", "AES", &v), -1);
	assert_int_equal(ttlv_enum_by_attribute_name("Object Type", "AES", &v), -1);
}

static void
test_masks(void **state)
{
	static const uint32_t values[] = { 1, 0x0C, 0x0C | 0x80 | 0x100, 0x00FFFFFF, 0x80000004, 0, 0xFFFFFFFF };
	const uint32_t cum = KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK;
	char buf[512];
	uint32_t v = 0;
	size_t i;

	(void)state;
	assert_true(ttlv_is_mask(cum));
	assert_true(ttlv_is_mask(KMIP_TAG_STORAGE_STATUS_MASK));
	assert_true(ttlv_is_mask(KMIP_TAG_PROTECTION_STORAGE_MASK));
	assert_false(ttlv_is_mask(KMIP_TAG_OBJECT_TYPE));
	assert_false(ttlv_is_mask(0x540001));

	assert_string_equal(ttlv_mask_str(cum, 0x0C, buf, sizeof(buf)), "Encrypt | Decrypt");
	assert_string_equal(ttlv_mask_str(cum, 0x180, buf, sizeof(buf)), "MAC Generate | MAC Verify");
	assert_string_equal(ttlv_mask_str(cum, 0x80000004, buf, sizeof(buf)), "Encrypt | 0x80000000");
	assert_string_equal(ttlv_mask_str(cum, 0, buf, sizeof(buf)), "0");
	assert_string_equal(ttlv_mask_str(KMIP_TAG_OBJECT_TYPE, 5, buf, sizeof(buf)), "0x00000005");
	assert_string_equal(ttlv_mask_xml_str(cum, 0x18C, buf, sizeof(buf)), "Encrypt Decrypt MACGenerate MACVerify");
	assert_string_equal(ttlv_mask_str(KMIP_TAG_STORAGE_STATUS_MASK, 3, buf, sizeof(buf)),
	    "On-line storage | Archival storage");

	/* round trips, both spellings */
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_int_equal(ttlv_mask_by_names(cum, ttlv_mask_str(cum, values[i], buf, sizeof(buf)), &v), 0);
		assert_int_equal(v, values[i]);
		assert_int_equal(ttlv_mask_by_names(cum, ttlv_mask_xml_str(cum, values[i], buf, sizeof(buf)),
		    &v), 0);
		assert_int_equal(v, values[i]);
	}
	assert_int_equal(ttlv_mask_by_names(cum, "Encrypt Decrypt", &v), 0);
	assert_int_equal(v, 0x0C);
	assert_int_equal(ttlv_mask_by_names(cum, "Encrypt|Decrypt", &v), 0);
	assert_int_equal(v, 0x0C);
	assert_int_equal(ttlv_mask_by_names(cum, "MAC Generate | WrapKey Encrypt", &v), 0);
	assert_int_equal(v, 0x80 | 0x10 | 0x04);
	assert_int_equal(ttlv_mask_by_names(cum, "12", &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(ttlv_mask_by_names(KMIP_TAG_PROTECTION_STORAGE_MASK, "Software Hardware", &v), 0);
	assert_int_equal(v, 3);

	/* refusals */
	assert_int_equal(ttlv_mask_by_names(cum, "Encrypt Bogus", &v), -1);
	assert_int_equal(ttlv_mask_by_names(cum, "encrypt", &v), -1);
	assert_int_equal(ttlv_mask_by_names(cum, "", &v), -1);
	assert_int_equal(ttlv_mask_by_names(cum, " | Encrypt", &v), -1);
	assert_int_equal(ttlv_mask_by_names(cum, "0x1FFFFFFFF", &v), -1);
	assert_int_equal(ttlv_mask_by_names(KMIP_TAG_OBJECT_TYPE, "Encrypt", &v), -1);

	/* a short buffer is truncated and stays terminated; size 0 leaves it alone */
	assert_string_equal(ttlv_mask_str(cum, 0x0C, buf, 8), "Encrypt");
	buf[0] = 'X';
	assert_ptr_equal(ttlv_mask_str(cum, 0x0C, buf, 0), buf);
	assert_int_equal(buf[0], 'X');
}

static void
test_selfcheck(void **state)
{
	const char *what = "unset";

	(void)state;
	if (ttlv_names_selfcheck(&what) != 0)
		fail_msg("name tables: %s", what != NULL ? what : "?");
	assert_null(what);
}

/*
 * XML walk: every element name, enumeration value and mask word in the OASIS test cases must resolve.
 */
struct xml_walk {
	const char *file;
	char stack[64][80];		/* open element names */
	char attr_name[64][128];	/* last Attribute Name value seen among the children of each level */
	int depth;
	unsigned elements, enums, masks, failures;
};

/* Records a failure, printing the first ones. */
static void
walk_fail(struct xml_walk *w, const char *what, const char *elem, const char *value)
{
	if (w->failures++ < 25)
		print_error("%s: %s <%s> \"%s\" does not resolve\n", w->file, what, elem, value);
}

/* Copies the value of attribute attr from the attribute text of a start tag into out; false if absent. */
static bool
xml_attr(const char *attrs, size_t len, const char *attr, char *out, size_t size)
{
	size_t alen = strlen(attr), i, n;

	for (i = 0; i + alen + 2 <= len; i++) {
		if ((i == 0 || attrs[i - 1] == ' ' || attrs[i - 1] == '\t' || attrs[i - 1] == '\n') &&
		    strncmp(attrs + i, attr, alen) == 0 && attrs[i + alen] == '=' && attrs[i + alen + 1] == '"') {
			const char *v = attrs + i + alen + 2;
			const char *end = memchr(v, '"', len - (size_t)(v - attrs));

			if (end == NULL)
				return false;
			n = (size_t)(end - v);
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* True when s is "0x" followed by hex digits (the XML encoding's numeric form). */
static bool
is_hex_number(const char *s)
{
	if (s[0] != '0' || s[1] != 'x' || s[2] == '\0')
		return false;
	for (s += 2; *s != '\0'; s++)
		if (strchr("0123456789abcdefABCDEF", *s) == NULL)
			return false;
	return true;
}

/* True when s is a decimal number. */
static bool
is_decimal(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Checks one start tag: its element name, and its value when it is an Enumeration or a named mask. */
static void
walk_element(struct xml_walk *w, const char *name, const char *attrs, size_t alen)
{
	char type[32], value[512];
	const char *attr_name = NULL;
	uint32_t tag, v;
	bool by_attr;

	w->elements++;
	if (w->depth == 0 && strcmp(name, "KMIP") == 0)
		return;
	if (ttlv_tag_by_name(name, &tag) != 0) {
		walk_fail(w, "element", name, name);
		return;
	}
	if (!xml_attr(attrs, alen, "value", value, sizeof(value)))
		value[0] = '\0';
	if (strcmp(name, "AttributeName") == 0 && w->depth > 0)
		(void)snprintf(w->attr_name[w->depth - 1], sizeof(w->attr_name[0]), "%s", value);
	if (!xml_attr(attrs, alen, "type", type, sizeof(type)))
		return;
	/* 1.x: an Attribute Value is named by its sibling Attribute Name */
	by_attr = strcmp(name, "AttributeValue") == 0 && w->depth > 1 && w->attr_name[w->depth - 1][0] != '\0';
	if (by_attr) {
		attr_name = w->attr_name[w->depth - 1];
		if (ttlv_tag_by_name(attr_name, &tag) != 0)
			tag = 0;	/* custom attribute: its values are not named */
	}
	if (strcmp(type, "Enumeration") == 0) {
		w->enums++;
		if (is_hex_number(value))
			return;
		if (by_attr ? ttlv_enum_by_attribute_name(attr_name, value, &v) != 0 :
		    ttlv_enum_by_name(tag, value, &v) != 0)
			walk_fail(w, "enumeration", by_attr ? attr_name : name, value);
	} else if (strcmp(type, "Integer") == 0 && !is_decimal(value) && !is_hex_number(value)) {
		w->masks++;
		if (ttlv_mask_by_names(tag, value, &v) != 0)
			walk_fail(w, "mask", by_attr ? attr_name : name, value);
	}
}

/* Walks one XML file: a small tag scanner, enough for the test cases (no CDATA, no entities in names). */
static void
walk_file(struct xml_walk *w, const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL, *p, *end;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		fail_msg("%s: cannot open", path);
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	w->file = path;
	w->depth = 0;
	for (p = text; (p = strchr(p, '<')) != NULL; p = end + 1) {
		char name[80];
		size_t len;
		bool closing = false, empty;

		if (strncmp(p, "<!--", 4) == 0) {
			if ((end = strstr(p, "-->")) == NULL)
				break;
			end += 2;
			continue;
		}
		if ((end = strchr(p, '>')) == NULL)
			break;
		if (p[1] == '?' || p[1] == '!')
			continue;
		p++;
		if (*p == '/') {
			closing = true;
			p++;
		}
		for (len = 0; p[len] != '\0' && strchr(" \t\r\n/>", p[len]) == NULL; len++)
			;
		assert_true(len > 0 && len < sizeof(name));
		memcpy(name, p, len);
		name[len] = '\0';
		if (closing) {
			assert_true(w->depth > 0);
			if (strcmp(w->stack[w->depth - 1], name) != 0)
				fail_msg("%s: </%s> closes <%s>", path, name, w->stack[w->depth - 1]);
			w->depth--;
			continue;
		}
		empty = end[-1] == '/';
		walk_element(w, name, p + len, (size_t)(end - (p + len)));
		if (!empty) {
			assert_true(w->depth < 64);
			(void)snprintf(w->stack[w->depth], sizeof(w->stack[0]), "%s", name);
			w->attr_name[w->depth][0] = '\0';
			w->depth++;
		}
	}
	assert_int_equal(w->depth, 0);
	free(text);
}

static void
test_xml_names_resolve(void **state)
{
	static const char *const dirs[] = {
		"oasis-profiles-v1.4-os/mandatory", "oasis-profiles-v1.4-os/optional",
		"oasis-profiles-v2.1-os/mandatory", "oasis-profiles-v2.1-os/optional",
	};
	const char *base = getenv("KMIP_VECTORS");
	struct xml_walk *w = calloc(1, sizeof(*w));
	unsigned files = 0;
	size_t i;

	(void)state;
	assert_non_null(w);
	if (base == NULL)
		base = "../shared/kmip-vectors";
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char dir[1024], path[2048];
		struct dirent *de;
		DIR *d;

		(void)snprintf(dir, sizeof(dir), "%s/%s", base, dirs[i]);
		if ((d = opendir(dir)) == NULL)
			fail_msg("%s: missing (set KMIP_VECTORS to the kmip-vectors folder)", dir);
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);

			if (len < 5 || strcmp(de->d_name + len - 4, ".xml") != 0)
				continue;
			(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			walk_file(w, path);
			files++;
		}
		closedir(d);
	}
	/* the walk must really have looked at the test cases */
	assert_true(files >= 150);
	assert_true(w->elements > 20000);
	assert_true(w->enums > 5000);
	assert_true(w->masks > 100);
	if (w->failures != 0)
		fail_msg("%u names in the XML test cases do not resolve", w->failures);
	free(w);
}

/*
 * Printer.
 */
static int
setup_arena(void **state)
{
	*state = ttlv_arena_new();
	return *state == NULL ? -1 : 0;
}

static int
teardown_arena(void **state)
{
	ttlv_arena_free(*state);
	return 0;
}

/* Appends child to parent and returns child; fails the test on ENOMEM. */
static struct ttlv *
add(struct ttlv *parent, struct ttlv *child)
{
	assert_non_null(child);
	ttlv_append(parent, child);
	return child;
}

/* Prints item into a string (caller frees). */
static char *
print_to_string(const struct ttlv *item, unsigned flags)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	assert_non_null(f);
	ttlv_print_opts(f, item, flags);
	assert_int_equal(fclose(f), 0);
	return s;
}

/* A response batch item with one item of each type, key material and a password. */
static struct ttlv *
sample_tree(struct ttlv_arena *a)
{
	static const uint8_t key[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	static const uint8_t modulus[8] = { 0x00, 0xc3, 0x55, 0x01, 0x02, 0x03, 0x04, 0x05 };
	static const char text[] = "a\"b\\c\n\x01\xc2\x85z";
	uint8_t nonce[40];
	struct ttlv *bi, *kb, *kv, *cred;
	size_t i;

	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)i;
	bi = ttlv_new_struct(a, KMIP_TAG_BATCH_ITEM);
	assert_non_null(bi);
	add(bi, ttlv_new_enum(a, KMIP_TAG_OPERATION, KMIP_OPERATION_GET));
	add(bi, ttlv_new_enum(a, KMIP_TAG_RESULT_STATUS, KMIP_RESULT_STATUS_OPERATION_FAILED));
	add(bi, ttlv_new_enum(a, KMIP_TAG_RESULT_REASON, 0x7777));
	add(bi, ttlv_new_text(a, KMIP_TAG_UNIQUE_IDENTIFIER, text, sizeof(text) - 1));
	add(bi, ttlv_new_int(a, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 12));
	add(bi, ttlv_new_int(a, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, -1));
	add(bi, ttlv_new_long(a, KMIP_TAG_USAGE_LIMITS_TOTAL, 123456789000LL));
	add(bi, ttlv_new_bool(a, KMIP_TAG_FRESH, true));
	add(bi, ttlv_new_datetime(a, KMIP_TAG_ACTIVATION_DATE, 1205495800));
	add(bi, ttlv_new_datetime_ext(a, KMIP_TAG_INITIAL_DATE, 1205495800000001LL));
	add(bi, ttlv_new_interval(a, KMIP_TAG_LEASE_TIME, 864000));
	add(bi, ttlv_new_bytes(a, KMIP_TAG_NONCE_VALUE, nonce, sizeof(nonce)));
	add(bi, ttlv_new_bytes(a, KMIP_TAG_CORRELATION_VALUE, nonce, 0));
	add(bi, ttlv_new_enum(a, KMIP_TAG_ATTRIBUTE_REFERENCE, KMIP_TAG_STATE));
	add(bi, ttlv_new_int(a, 0x540001, 5));
	add(bi, ttlv_new_int(a, 0x420177, 6));
	kb = add(bi, ttlv_new_struct(a, KMIP_TAG_KEY_BLOCK));
	add(kb, ttlv_new_enum(a, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW));
	kv = add(kb, ttlv_new_struct(a, KMIP_TAG_KEY_VALUE));
	add(kv, ttlv_new_bytes(a, KMIP_TAG_KEY_MATERIAL, key, sizeof(key)));
	add(kv, ttlv_new_bigint(a, KMIP_TAG_MODULUS, modulus, sizeof(modulus)));
	cred = add(bi, ttlv_new_struct(a, KMIP_TAG_CREDENTIAL_VALUE));
	add(cred, ttlv_new_text(a, KMIP_TAG_USERNAME, "alice", 5));
	add(cred, ttlv_new_text(a, KMIP_TAG_PASSWORD, "s3cret", 6));
	return bi;
}

static const char sample_head[] =
	"Batch Item (0x42000F) Structure: 18 items\n"
	"  Operation (0x42005C) Enumeration: Get (0x0000000A)\n"
	"  Result Status (0x42007F) Enumeration: Operation Failed (0x00000001)\n"
	"  Result Reason (0x42007E) Enumeration: 0x00007777\n"
	"  Unique Identifier (0x420094) Text String: \"a\\\"b\\\\c\\n\\x01\\u0085z\"\n"
	"  Cryptographic Usage Mask (0x42002C) Integer: 12 (Encrypt | Decrypt)\n"
	"  Cryptographic Length (0x42002A) Integer: -1\n"
	"  Usage Limits Total (0x420097) Long Integer: 123456789000\n"
	"  Fresh (0x4200A8) Boolean: true\n"
	"  Activation Date (0x420001) Date-Time: 2008-03-14T11:56:40Z (1205495800)\n"
	"  Initial Date (0x420039) Date-Time Extended: 2008-03-14T11:56:40.000001Z (1205495800000001)\n"
	"  Lease Time (0x420049) Interval: 864000\n"
	"  Nonce Value (0x4200CA) Byte String: "
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f... (40 bytes)\n"
	"  Correlation Value (0x4200D6) Byte String: (0 bytes)\n"
	"  Attribute Reference (0x42013B) Enumeration: State (0x0042008D)\n"
	"  Extension (0x540001) Integer: 5\n"
	"  Unknown (0x420177) Integer: 6\n"
	"  Key Block (0x420040) Structure: 2 items\n"
	"    Key Format Type (0x420042) Enumeration: Raw (0x00000001)\n"
	"    Key Value (0x420045) Structure: 2 items\n";

static void
test_print_redacts(void **state)
{
	struct ttlv *bi = sample_tree(*state);
	char *s = print_to_string(bi, 0);
	char expect[4096];

	(void)snprintf(expect, sizeof(expect), "%s%s", sample_head,
	    "      Key Material (0x420043) Byte String: <16 bytes redacted>\n"
	    "      Modulus (0x420052) Big Integer: <8 bytes redacted>\n"
	    "  Credential Value (0x420025) Structure: 2 items\n"
	    "    Username (0x420099) Text String: \"alice\"\n"
	    "    Password (0x4200A1) Text String: <6 bytes redacted>\n");
	assert_string_equal(s, expect);
	free(s);
}

static void
test_print_secrets(void **state)
{
	struct ttlv *bi = sample_tree(*state);
	char *s = print_to_string(bi, TTLV_PRINT_SECRETS);
	char expect[4096];

	(void)snprintf(expect, sizeof(expect), "%s%s", sample_head,
	    "      Key Material (0x420043) Byte String: 000102030405060708090a0b0c0d0e0f (16 bytes)\n"
	    "      Modulus (0x420052) Big Integer: 00c3550102030405 (8 bytes)\n"
	    "  Credential Value (0x420025) Structure: 2 items\n"
	    "    Username (0x420099) Text String: \"alice\"\n"
	    "    Password (0x4200A1) Text String: \"s3cret\"\n");
	assert_string_equal(s, expect);
	free(s);
}

static void
test_print_plain_and_null(void **state)
{
	struct ttlv_arena *a = *state;
	struct ttlv *kv = ttlv_new_bytes(a, KMIP_TAG_KEY_VALUE, "\x01\x02", 2);
	struct ttlv *e = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTES);
	char *s;

	assert_non_null(kv);
	assert_non_null(e);
	/* a wrapped Key Value is a Byte String: redacted too */
	s = print_to_string(kv, 0);
	assert_string_equal(s, "Key Value (0x420045) Byte String: <2 bytes redacted>\n");
	free(s);
	s = print_to_string(e, 0);
	assert_string_equal(s, "Attributes (0x420125) Structure: 0 items\n");
	free(s);
	/* Opaque Data and the Data of cryptographic operations: what the client keeps secret */
	s = print_to_string(ttlv_new_bytes(a, KMIP_TAG_OPAQUE_DATA_VALUE, "secret", 6), 0);
	assert_string_equal(s, "Opaque Data Value (0x42005A) Byte String: <6 bytes redacted>\n");
	free(s);
	s = print_to_string(ttlv_new_bytes(a, KMIP_TAG_DATA, "plain", 5), 0);
	assert_string_equal(s, "Data (0x4200C2) Byte String: <5 bytes redacted>\n");
	free(s);
	s = print_to_string(ttlv_new_bytes(a, KMIP_TAG_DATA, "plain", 5), TTLV_PRINT_SECRETS);
	assert_string_equal(s, "Data (0x4200C2) Byte String: 706c61696e (5 bytes)\n");
	free(s);
	s = print_to_string(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest vector_tests[] = {
		cmocka_unit_test(test_xml_names_resolve),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_tags_both_ways),
		cmocka_unit_test(test_tag_versions),
		cmocka_unit_test(test_enums_both_ways),
		cmocka_unit_test(test_enum_by_attribute),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_selfcheck),
		cmocka_unit_test_setup_teardown(test_print_redacts, setup_arena, teardown_arena),
		cmocka_unit_test_setup_teardown(test_print_secrets, setup_arena, teardown_arena),
		cmocka_unit_test_setup_teardown(test_print_plain_and_null, setup_arena, teardown_arena),
	};

	if (util_vector_run())
		return cmocka_run_group_tests_name("names: the OASIS files", vector_tests, NULL, NULL);
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
