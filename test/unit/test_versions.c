/*
 * Unit tests for the engine's version edges (core/engine/versions.c): the rules per protocol version, the
 * Result Reason table, and the request normaliser, which must turn each 1.x payload into the internal form
 * (2.x plus Attribute Index) or fail with the Result Reason and Message its handler gave before payloads
 * were normalised. Requests are written in the KMIP XML encoding (proto/xml.h) and parsed as kmipd parses a
 * request; the expected internal payloads likewise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/engine/attrs.h"
#include "core/engine/ops.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "proto/xml.h"
#include "test/util.h"

/* Per-test state: the documents parsed, freed at teardown. */
struct state {
	struct ttlv_xml_doc *docs[32];
	size_t ndocs;
};

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct state));
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	struct state *st = *state;
	size_t i;

	for (i = 0; i < st->ndocs; i++)
		ttlv_xml_doc_free(st->docs[i]);
	free(st);
	return 0;
}

/* Parses one XML element into a tree owned by the test's state. */
static struct ttlv_xml_doc *
parse(struct state *st, const char *xml)
{
	struct ttlv_xml_doc *doc = NULL;
	char *cause = NULL;

	if (ttlv_xml_parse(xml, strlen(xml), &doc, &cause) != 0) {
		fprintf(stderr, "bad XML in the test: %s\n%s\n", cause, xml);
		free(cause);
		fail();
	}
	assert_true(st->ndocs < sizeof(st->docs) / sizeof(st->docs[0]));
	st->docs[st->ndocs++] = doc;
	return doc;
}

/* The request in version major.minor with one batch item of operation (its XML name) and payload (XML). */
static void
request(struct state *st, unsigned major, unsigned minor, const char *operation, const char *payload,
    struct kmip_request *req, struct ttlv_arena **arena)
{
	struct ttlv_xml_doc *doc;
	struct kmip_error err;
	char *xml;

	assert_true(asprintf(&xml, "<RequestMessage><RequestHeader><ProtocolVersion>"
	    "<ProtocolVersionMajor type=\"Integer\" value=\"%u\"/><ProtocolVersionMinor type=\"Integer\" value=\"%u\"/>"
	    "</ProtocolVersion><BatchCount type=\"Integer\" value=\"1\"/></RequestHeader>"
	    "<BatchItem><Operation type=\"Enumeration\" value=\"%s\"/><RequestPayload>%s</RequestPayload></BatchItem>"
	    "</RequestMessage>", major, minor, operation, payload) > 0);
	doc = parse(st, xml);
	free(xml);
	assert_int_equal(kmip_request_parse(doc->items[0], doc->arena, 16, req, &err), 0);
	assert_int_equal(req->nitems, 1);
	*arena = doc->arena;
}

/* Prints a tree for a failed comparison. */
static void
show(const char *what, const struct ttlv *t)
{
	fprintf(stderr, "%s:\n", what);
	if (ttlv_xml_print(stderr, t, NULL, 2) != 0)
		fprintf(stderr, "  (could not print)\n");
}

/* Normalises a one-item request and checks that its payload became expected (an XML Request Payload). */
static void
check_normalised(struct state *st, unsigned major, unsigned minor, const char *operation, const char *payload,
    const char *expected)
{
	struct kmip_request req;
	struct ttlv_arena *arena;
	struct kmip_error *faults;
	const struct ttlv *want;
	char *xml;

	request(st, major, minor, operation, payload, &req, &arena);
	assert_true(asprintf(&xml, "<RequestPayload>%s</RequestPayload>", expected) > 0);
	want = parse(st, xml)->items[0];
	free(xml);
	faults = versions_normalise(&req, KMIP_VERSION(major, minor), arena);
	assert_non_null(faults);
	if (faults[0].reason != 0)
		fprintf(stderr, "fault: 0x%x %s\n", faults[0].reason, faults[0].message);
	assert_int_equal(faults[0].reason, 0);
	if (!ttlv_equal(req.items[0].payload, want)) {
		show("normalised", req.items[0].payload);
		show("expected", want);
		fail();
	}
}

/* Normalises a one-item request that must fail: with reason and message, its payload left as it came. */
static void
check_fault(struct state *st, unsigned major, unsigned minor, const char *operation, const char *payload,
    uint32_t reason, const char *message)
{
	struct kmip_request req;
	struct ttlv_arena *arena;
	struct kmip_error *faults;
	const struct ttlv *before;

	request(st, major, minor, operation, payload, &req, &arena);
	before = req.items[0].payload;
	faults = versions_normalise(&req, KMIP_VERSION(major, minor), arena);
	assert_non_null(faults);
	assert_int_equal(faults[0].reason, reason);
	assert_string_equal(faults[0].message, message);
	assert_ptr_equal(req.items[0].payload, before);
}

/* Normalises a one-item request whose payload is in the internal form already: it stays as it is. */
static void
check_untouched(struct state *st, unsigned major, unsigned minor, const char *operation, const char *payload)
{
	check_normalised(st, major, minor, operation, payload, payload);
}

#define UID "<UniqueIdentifier type=\"TextString\" value=\"7\"/>"
#define ATTR(name, value) "<Attribute><AttributeName type=\"TextString\" value=\"" name "\"/>" value "</Attribute>"
#define ATTR_AT(name, index, value) "<Attribute><AttributeName type=\"TextString\" value=\"" name "\"/>" \
	"<AttributeIndex type=\"Integer\" value=\"" #index "\"/>" value "</Attribute>"
#define AES "<AttributeValue type=\"Enumeration\" value=\"AES\"/>"
#define LEN128 "<AttributeValue type=\"Integer\" value=\"128\"/>"
#define NAME_VALUE(v) "<AttributeValue><NameValue type=\"TextString\" value=\"" v "\"/>" \
	"<NameType type=\"Enumeration\" value=\"UninterpretedTextString\"/></AttributeValue>"
#define TEXT_VALUE(v) "<AttributeValue type=\"TextString\" value=\"" v "\"/>"
#define NAME_ITEM(v) "<Name><NameValue type=\"TextString\" value=\"" v "\"/>" \
	"<NameType type=\"Enumeration\" value=\"UninterpretedTextString\"/></Name>"
#define CUSTOM(vendor, name, value) "<Attribute><VendorIdentification type=\"TextString\" value=\"" vendor "\"/>" \
	"<AttributeName type=\"TextString\" value=\"" name "\"/><AttributeValue type=\"TextString\" value=\"" value \
	"\"/></Attribute>"
#define REF(tag) "<AttributeReference type=\"Enumeration\" value=\"" tag "\"/>"
#define VREF(vendor, name) "<AttributeReference><VendorIdentification type=\"TextString\" value=\"" vendor "\"/>" \
	"<AttributeName type=\"TextString\" value=\"" name "\"/></AttributeReference>"
#define INDEX(i) "<AttributeIndex type=\"Integer\" value=\"" #i "\"/>"
#define SYMMETRIC "<ObjectType type=\"Enumeration\" value=\"SymmetricKey\"/>"

/* Each version's rules: 1.x echoes an edited attribute, 2.x checks Names and keeps registered formats. */
static void
test_rules(void **state)
{
	static const struct {
		unsigned version;
		bool echo, unique, registered, located;
	} want[] = {
		{ KMIP_VERSION(1, 0), true, false, false, false },
		{ KMIP_VERSION(1, 1), true, false, false, false },
		{ KMIP_VERSION(1, 2), true, false, false, false },
		{ KMIP_VERSION(1, 3), true, false, false, true },
		{ KMIP_VERSION(1, 4), true, false, false, true },
		{ KMIP_VERSION(2, 0), false, true, true, true },
		{ KMIP_VERSION(2, 1), false, true, true, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct op_rules r = versions_rules(want[i].version);

		assert_int_equal(r.echo_edited_attribute, want[i].echo);
		assert_int_equal(r.unique_names, want[i].unique);
		assert_int_equal(r.get_registered_format, want[i].registered);
		assert_int_equal(r.located_items, want[i].located);
	}
}

/* The Result Reason table maps reasons 1.x lacks to 1.x reasons, for the 1.x clients that lack them only. */
static void
test_reasons(void **state)
{
	/* Some reasons 1.x lacks, and what 1.x has, which is answered as it is. */
	static const struct {
		unsigned version;
		uint32_t reason, answered;
	} answers[] = {
		{ KMIP_VERSION(1, 4), KMIP_RESULT_REASON_OBJECT_NOT_FOUND, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
		{ KMIP_VERSION(1, 0), KMIP_RESULT_REASON_SENSITIVE, KMIP_RESULT_REASON_PERMISSION_DENIED },
		{ KMIP_VERSION(1, 3), KMIP_RESULT_REASON_NOT_EXTRACTABLE, KMIP_RESULT_REASON_PERMISSION_DENIED },
		/* 1.4 has Sensitive and Not Extractable. */
		{ KMIP_VERSION(1, 4), KMIP_RESULT_REASON_SENSITIVE, KMIP_RESULT_REASON_SENSITIVE },
		{ KMIP_VERSION(1, 4), KMIP_RESULT_REASON_NOT_EXTRACTABLE, KMIP_RESULT_REASON_NOT_EXTRACTABLE },
		{ KMIP_VERSION(1, 2), KMIP_RESULT_REASON_OBJECT_DESTROYED, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
		{ KMIP_VERSION(1, 3), KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND, KMIP_RESULT_REASON_INVALID_FIELD },
		{ KMIP_VERSION(1, 4), KMIP_RESULT_REASON_INVALID_FIELD, KMIP_RESULT_REASON_INVALID_FIELD },
		{ KMIP_VERSION(1, 4), KMIP_RESULT_REASON_GENERAL_FAILURE, KMIP_RESULT_REASON_GENERAL_FAILURE },
	};
	uint32_t internal, v1, other;
	unsigned minor;
	size_t i, j;

	(void)state;
	for (i = 0; versions_reason_row(i, &internal, &v1); i++) {
		/* 2.0 added every reason after Key Value Not Present (0x13) but General Failure. */
		assert_true(internal > KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT);
		assert_true(internal != KMIP_RESULT_REASON_GENERAL_FAILURE);
		assert_true(v1 <= KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT);
		for (j = 0; j < i; j++) {
			assert_true(versions_reason_row(j, &other, &v1));
			assert_int_not_equal(other, internal);
		}
		/* Every 1.x version before the one that added it (1.4 for Sensitive and Not Extractable). */
		for (minor = 0; minor <= 3; minor++)
			assert_int_not_equal(versions_reason(KMIP_VERSION(1, minor), internal), internal);
		if (internal != KMIP_RESULT_REASON_SENSITIVE && internal != KMIP_RESULT_REASON_NOT_EXTRACTABLE)
			assert_int_not_equal(versions_reason(KMIP_VERSION(1, 4), internal), internal);
		assert_int_equal(versions_reason(KMIP_VERSION(2, 0), internal), internal);
		assert_int_equal(versions_reason(KMIP_VERSION(2, 1), internal), internal);
	}
	assert_true(i >= 9);
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		assert_int_equal(versions_reason(answers[i].version, answers[i].reason), answers[i].answered);
}

/* A Template-Attribute becomes Attributes: 2.x items, custom ones as vendor x's, server-set ones left out. */
static void
test_v1_template(void **state)
{
	check_normalised(*state, 1, 4, "Create",
	    SYMMETRIC "<TemplateAttribute>" ATTR("Cryptographic Algorithm", AES) ATTR("Cryptographic Length", LEN128)
	    ATTR("Name", NAME_VALUE("k1")) ATTR("x-owner", TEXT_VALUE("ops"))
	    ATTR("Unique Identifier", TEXT_VALUE("99")) "</TemplateAttribute>"
	    /* a 2.x field in a 1.x request: ignored before, dropped now */
	    "<Attributes><CryptographicLength type=\"Integer\" value=\"256\"/></Attributes>",
	    SYMMETRIC "<Attributes><CryptographicAlgorithm type=\"Enumeration\" value=\"AES\"/>"
	    "<CryptographicLength type=\"Integer\" value=\"128\"/>" NAME_ITEM("k1") CUSTOM("x", "owner", "ops")
	    "</Attributes>");
	check_normalised(*state, 1, 0, "ReKey", UID "<TemplateAttribute>" ATTR("Name", NAME_VALUE("k2"))
	    "</TemplateAttribute>", UID "<Attributes>" NAME_ITEM("k2") "</Attributes>");
	check_normalised(*state, 1, 2, "CreateKeyPair",
	    "<CommonTemplateAttribute>" ATTR("Cryptographic Length", "<AttributeValue type=\"Integer\" value=\"2048\"/>")
	    "</CommonTemplateAttribute><PublicKeyTemplateAttribute>" ATTR("Name", NAME_VALUE("pub"))
	    "</PublicKeyTemplateAttribute>",
	    "<CommonAttributes><CryptographicLength type=\"Integer\" value=\"2048\"/></CommonAttributes>"
	    "<PublicKeyAttributes>" NAME_ITEM("pub") "</PublicKeyAttributes>");
	/* Nothing to rewrite: the same tree. */
	check_untouched(*state, 1, 4, "Create", SYMMETRIC);
	check_untouched(*state, 2, 1, "Create", SYMMETRIC "<Attributes><CryptographicLength type=\"Integer\" "
	    "value=\"128\"/></Attributes><TemplateAttribute/>");
}

/* A template kmipd cannot read fails as the handler failed before payloads were normalised. */
static void
test_v1_template_faults(void **state)
{
	check_fault(*state, 1, 4, "Create", SYMMETRIC "<TemplateAttribute>" ATTR("Colour", TEXT_VALUE("red"))
	    "</TemplateAttribute>", KMIP_RESULT_REASON_INVALID_FIELD, "unknown attribute \"Colour\"");
	check_fault(*state, 1, 4, "Register", SYMMETRIC "<TemplateAttribute>" NAME_ITEM("tpl") "</TemplateAttribute>",
	    KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, "templates (Name in a Template-Attribute) are not supported");
	check_fault(*state, 1, 4, "Create", SYMMETRIC "<TemplateAttribute>" ATTR("Cryptographic Length",
	    TEXT_VALUE("128")) "</TemplateAttribute>", KMIP_RESULT_REASON_INVALID_FIELD,
	    "attribute Cryptographic Length: value is a Text String, expected a Integer");
	check_fault(*state, 1, 4, "Create", SYMMETRIC "<TemplateAttribute>" ATTR("Cryptographic Length", LEN128)
	    ATTR("Cryptographic Length", LEN128) "</TemplateAttribute>", KMIP_RESULT_REASON_INVALID_FIELD,
	    "attribute Cryptographic Length given twice");
	check_fault(*state, 1, 1, "CreateKeyPair", "<PrivateKeyTemplateAttribute>" ATTR("Cryptographic Length",
	    "") "</PrivateKeyTemplateAttribute>", KMIP_RESULT_REASON_INVALID_FIELD,
	    "attribute Cryptographic Length: no Attribute Value");
}

/* Locate's Attribute items, bare or in a Template-Attribute, become one Attributes filter, in order. */
static void
test_v1_locate(void **state)
{
	check_normalised(*state, 1, 3, "Locate",
	    "<MaximumItems type=\"Integer\" value=\"2\"/>" ATTR("Object Type", "<AttributeValue type=\"Enumeration\" "
	    "value=\"SymmetricKey\"/>") "<TemplateAttribute>" ATTR("Name", NAME_VALUE("k1")) "</TemplateAttribute>"
	    ATTR("x-tag", TEXT_VALUE("t")),
	    "<MaximumItems type=\"Integer\" value=\"2\"/><Attributes>" SYMMETRIC NAME_ITEM("k1")
	    CUSTOM("x", "tag", "t") "</Attributes>");
	check_fault(*state, 1, 4, "Locate", ATTR("Colour", TEXT_VALUE("red")), KMIP_RESULT_REASON_INVALID_FIELD,
	    "unknown attribute \"Colour\"");
	check_untouched(*state, 2, 0, "Locate", "<Attributes>" SYMMETRIC "</Attributes>");
}

/* Add, Modify and Delete Attribute: New Attribute, Attribute Reference and the internal Attribute Index. */
static void
test_v1_edits(void **state)
{
	check_normalised(*state, 1, 4, "AddAttribute", UID ATTR("x-tag", TEXT_VALUE("t")),
	    UID "<NewAttribute>" CUSTOM("x", "tag", "t") "</NewAttribute>");
	check_normalised(*state, 1, 4, "ModifyAttribute", UID ATTR_AT("Name", 2, NAME_VALUE("n3")),
	    UID "<NewAttribute>" NAME_ITEM("n3") "</NewAttribute>" INDEX(2));
	check_normalised(*state, 1, 0, "ModifyAttribute", UID ATTR("Contact Information", TEXT_VALUE("me")),
	    UID "<NewAttribute><ContactInformation type=\"TextString\" value=\"me\"/></NewAttribute>" INDEX(0));
	check_normalised(*state, 1, 4, "DeleteAttribute",
	    UID "<AttributeName type=\"TextString\" value=\"x-tag\"/>" INDEX(1),
	    UID VREF("x", "tag") INDEX(1));
	check_normalised(*state, 1, 2, "DeleteAttribute", "<AttributeName type=\"TextString\" value=\"Name\"/>",
	    REF("Name") INDEX(0));
	check_fault(*state, 1, 4, "AddAttribute", UID, KMIP_RESULT_REASON_INVALID_FIELD, "the request has no Attribute");
	check_fault(*state, 1, 4, "ModifyAttribute", UID ATTR_AT("Name", -1, NAME_VALUE("n")),
	    KMIP_RESULT_REASON_INVALID_FIELD, "attribute Name: invalid Attribute Index");
	check_fault(*state, 1, 4, "DeleteAttribute", UID, KMIP_RESULT_REASON_INVALID_FIELD,
	    "Delete Attribute needs an Attribute Name");
	check_fault(*state, 1, 4, "DeleteAttribute", UID "<AttributeName type=\"TextString\" value=\"Name\"/>" INDEX(-2),
	    KMIP_RESULT_REASON_INVALID_FIELD, "invalid Attribute Index");
	check_fault(*state, 1, 4, "DeleteAttribute", UID "<AttributeName type=\"TextString\" value=\"acme-tag\"/>",
	    KMIP_RESULT_REASON_INVALID_FIELD, "unknown attribute \"acme-tag\"");
}

/* 2.x has no Attribute Index: a client's is dropped, so that it is not taken for the internal one. */
static void
test_v2_edits(void **state)
{
	check_normalised(*state, 2, 1, "DeleteAttribute", UID REF("Name") INDEX(3), UID REF("Name"));
	check_normalised(*state, 2, 0, "ModifyAttribute", UID "<NewAttribute>" NAME_ITEM("n") "</NewAttribute>" INDEX(1),
	    UID "<NewAttribute>" NAME_ITEM("n") "</NewAttribute>");
	check_untouched(*state, 2, 1, "DeleteAttribute", UID REF("Name"));
	check_untouched(*state, 2, 1, "AddAttribute", UID "<NewAttribute>" NAME_ITEM("n") "</NewAttribute>");
}

/*
 * Get Attributes' names (taken from every version) become the references they stand for; a name whose vendor
 * and name parts depend on the object, or that names nothing, stays a name.
 */
static void
test_get_attributes_names(void **state)
{
	static const char *names =
	    UID "<AttributeName type=\"TextString\" value=\"Cryptographic Algorithm\"/>"
	    "<AttributeName type=\"TextString\" value=\"x-tag\"/>"
	    "<AttributeName type=\"TextString\" value=\"acme-corp-tag\"/>"
	    "<AttributeName type=\"TextString\" value=\"Colour\"/>"
	    "<AttributeName type=\"TextString\" value=\"Attribute\"/>" REF("State");
	static const char *internal =
	    UID REF("CryptographicAlgorithm") VREF("x", "tag")
	    "<AttributeName type=\"TextString\" value=\"acme-corp-tag\"/>"
	    "<AttributeName type=\"TextString\" value=\"Colour\"/>"
	    "<AttributeName type=\"TextString\" value=\"Attribute\"/>" REF("State");

	check_normalised(*state, 1, 4, "GetAttributes", names, internal);
	check_normalised(*state, 2, 1, "GetAttributes", names, internal);
	check_untouched(*state, 1, 0, "GetAttributes", UID);
	check_untouched(*state, 2, 1, "GetAttributes", UID REF("State") VREF("x", "tag"));
}

/* Appends a custom attribute vendor-name with an Integer value to attrs. */
static void
add_custom(struct ttlv_arena *a, struct ttlv *attrs, const char *vendor, const char *name, int32_t v)
{
	struct ttlv *c = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTE);
	struct ttlv *vi = ttlv_new_text(a, KMIP_TAG_VENDOR_IDENTIFICATION, vendor, strlen(vendor));
	struct ttlv *n = ttlv_new_text(a, KMIP_TAG_ATTRIBUTE_NAME, name, strlen(name));
	struct ttlv *val = ttlv_new_int(a, KMIP_TAG_ATTRIBUTE_VALUE, v);

	assert_true(c != NULL && vi != NULL && n != NULL && val != NULL);
	ttlv_append(c, vi);
	ttlv_append(c, n);
	ttlv_append(c, val);
	ttlv_append(attrs, c);
}

/* Appends an Object Group text to attrs. */
static void
add_group(struct ttlv_arena *a, struct ttlv *attrs, const char *g)
{
	struct ttlv *t = ttlv_new_text(a, KMIP_TAG_OBJECT_GROUP, g, strlen(g));

	assert_non_null(t);
	ttlv_append(attrs, t);
}

/*
 * The sorted attribute helpers: instance indexes per kind (a custom attribute's kind is its vendor and
 * name), selections by 1.x name, 2.x reference and attribute set, and the limits on an object's attributes.
 */
static void
test_attribute_kinds(void **state)
{
	struct ttlv_arena *a = ttlv_arena_new();
	struct ttlv *attrs, *payload, *ref, *t;
	struct attr_selection *sel;
	struct attrs_limits lim;
	struct kmip_error err;
	int32_t *index;
	size_t n;
	const struct ttlv *c;
	static const int32_t expect[] = { 0, 0, 1, 0, 2, 1, 0, 0 };
	size_t i;

	(void)state;
	assert_non_null(a);
	attrs = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTES);
	assert_non_null(attrs);
	add_group(a, attrs, "g0");		/* 0 */
	add_custom(a, attrs, "x", "a", 1);	/* 0 */
	add_group(a, attrs, "g1");		/* 1 */
	add_custom(a, attrs, "y", "a", 2);	/* 0: another vendor */
	add_group(a, attrs, "g2");		/* 2 */
	add_custom(a, attrs, "x", "a", 3);	/* 1 */
	add_custom(a, attrs, "x", "ab", 4);	/* 0: another name */
	t = ttlv_new_int(a, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	assert_non_null(t);
	ttlv_append(attrs, t);			/* 0 */
	assert_int_equal(attrs_instance_indexes(attrs, &index, &n), 0);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++)
		assert_int_equal(index[i], expect[i]);
	free(index);

	/* 1.x names and 2.x references: Object Group by name, x-a by name, y's "a" by reference. */
	payload = ttlv_new_struct(a, KMIP_TAG_REQUEST_PAYLOAD);
	t = ttlv_new_text(a, KMIP_TAG_ATTRIBUTE_NAME, "Object Group", 12);
	assert_true(payload != NULL && t != NULL);
	ttlv_append(payload, t);
	t = ttlv_new_text(a, KMIP_TAG_ATTRIBUTE_NAME, "x-a", 3);
	assert_non_null(t);
	ttlv_append(payload, t);
	ref = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTE_REFERENCE);
	assert_non_null(ref);
	ttlv_append(ref, ttlv_new_text(a, KMIP_TAG_VENDOR_IDENTIFICATION, "y", 1));
	ttlv_append(ref, ttlv_new_text(a, KMIP_TAG_ATTRIBUTE_NAME, "a", 1));
	ttlv_append(payload, ref);
	assert_non_null(sel = attr_selection_named(payload));
	for (c = attrs->v.s.first, i = 0; c != NULL; c = c->next, i++)
		assert_int_equal(attr_selection_has(sel, c, true), i != 6 && i != 7);
	attr_selection_free(sel);
	/* Nothing named: everything, or nothing, as the caller says. */
	payload = ttlv_new_struct(a, KMIP_TAG_REQUEST_PAYLOAD);
	assert_non_null(sel = attr_selection_named(payload));
	assert_true(attr_selection_has(sel, attrs->v.s.first, true));
	assert_false(attr_selection_has(sel, attrs->v.s.first, false));
	attr_selection_free(sel);
	/* The kinds of an attribute set. */
	assert_non_null(sel = attr_selection_of(attrs));
	t = ttlv_new_text(a, KMIP_TAG_OBJECT_GROUP, "other", 5);
	assert_non_null(t);
	assert_true(attr_selection_has(sel, t, false));
	t = ttlv_new_text(a, KMIP_TAG_NAME, "n", 1);
	assert_non_null(t);
	assert_false(attr_selection_has(sel, t, false));
	attr_selection_free(sel);

	/* Limits: instances, values of one kind (x-a has 2, Object Group 3), bytes. */
	memset(&lim, 0, sizeof(lim));
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), 0);
	lim.max_attributes = 7;
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), -1);
	assert_int_equal(err.reason, KMIP_RESULT_REASON_SERVER_LIMIT_EXCEEDED);
	assert_non_null(strstr(err.message, "server.max_attributes"));
	lim.max_attributes = 8;
	lim.max_attribute_values = 3;
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), 0);
	lim.max_attribute_values = 2;
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), -1);
	assert_non_null(strstr(err.message, "Object Group"));
	lim.max_attribute_values = 0;
	/* 3 groups of 16 + 4 customs of 56 + an Integer of 16 bytes. */
	lim.max_attribute_bytes = 3 * 16 + 4 * 56 + 16;
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), 0);
	lim.max_attribute_bytes--;
	assert_int_equal(attrs_check_limits(attrs, &lim, &err), -1);
	assert_non_null(strstr(err.message, "server.max_attribute_bytes"));
	ttlv_arena_free(a);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test_setup_teardown(test_v1_template, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_template_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_locate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_attributes_names, setup, teardown),
		cmocka_unit_test(test_attribute_kinds),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
