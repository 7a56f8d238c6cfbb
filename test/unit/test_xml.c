/*
 * Unit tests for the KMIP XML encoding: every message of the OASIS 1.4 and 2.1 profile test cases parses and
 * survives XML -> TTLV -> XML -> TTLV (and the wire encoding) unchanged, each value syntax gives the right
 * item, placeholders are kept, and malformed documents are refused with the line at fault.
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

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "proto/xml.h"
#include "test/util.h"

struct fixture {
	struct ttlv_xml_doc *doc;
	struct ttlv_xml_doc *doc2;
	char *cause;
	char *text;
	size_t textlen;
};

/* A fresh fixture per test. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

/* Frees whatever the test left in the fixture. */
static int
teardown(void **state)
{
	struct fixture *f = *state;

	ttlv_xml_doc_free(f->doc);
	ttlv_xml_doc_free(f->doc2);
	free(f->cause);
	free(f->text);
	free(f);
	return 0;
}

/* Parses s into f->doc, failing the test with the cause when it does not parse. */
static void
parse_ok(struct fixture *f, const char *s)
{
	ttlv_xml_doc_free(f->doc);
	f->doc = NULL;
	if (ttlv_xml_parse(s, strlen(s), &f->doc, &f->cause) != 0)
		fail_msg("parse failed: %s", f->cause != NULL ? f->cause : "(no cause)");
}

/* Asserts that s is refused with a cause containing want. */
static void
parse_bad(struct fixture *f, const char *s, const char *want)
{
	struct ttlv_xml_doc *doc = NULL;

	free(f->cause);
	f->cause = NULL;
	if (ttlv_xml_parse(s, strlen(s), &doc, &f->cause) == 0) {
		ttlv_xml_doc_free(doc);
		fail_msg("parsed, expected an error containing \"%s\": %s", want, s);
	}
	assert_null(doc);
	assert_non_null(f->cause);
	if (strstr(f->cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", f->cause, want);
}

/* Parses one leaf element and returns its item. */
static struct ttlv *
leaf(struct fixture *f, const char *xml)
{
	parse_ok(f, xml);
	assert_int_equal(f->doc->nitems, 1);
	return f->doc->items[0];
}

/* Prints every item of doc inside <KMIP> into f->text. */
static void
print_doc(struct fixture *f, const struct ttlv_xml_doc *doc)
{
	FILE *out;
	size_t i;

	free(f->text);
	f->text = NULL;
	out = open_memstream(&f->text, &f->textlen);
	assert_non_null(out);
	fputs("<KMIP>\n", out);
	for (i = 0; i < doc->nitems; i++)
		assert_int_equal(ttlv_xml_print(out, doc->items[i], doc, 1), 0);
	fputs("</KMIP>\n", out);
	assert_int_equal(fclose(out), 0);
}

/* Asserts that the trees of a and b hold the same placeholders at the same places. */
static void
same_placeholders(const struct ttlv_xml_doc *da, const struct ttlv *a,
    const struct ttlv_xml_doc *db, const struct ttlv *b)
{
	const char *pa = ttlv_xml_placeholder(da, a), *pb = ttlv_xml_placeholder(db, b);
	const struct ttlv *x, *y;

	if (pa == NULL || pb == NULL)
		assert_true(pa == pb);
	else
		assert_string_equal(pa, pb);
	if (a->type != TTLV_STRUCTURE)
		return;
	for (x = a->v.s.first, y = b->v.s.first; x != NULL && y != NULL; x = x->next, y = y->next)
		same_placeholders(da, x, db, y);
}

/* Counts the items of a tree that carry a placeholder. */
static size_t
count_placeholders(const struct ttlv_xml_doc *doc, const struct ttlv *t)
{
	const struct ttlv *c;
	size_t n = ttlv_xml_placeholder(doc, t) != NULL;

	if (t->type == TTLV_STRUCTURE)
		for (c = t->v.s.first; c != NULL; c = c->next)
			n += count_placeholders(doc, c);
	return n;
}

/* Encodes item to TTLV and decodes it again: the tree must come back equal. */
static void
wire_round_trip(const struct ttlv *item)
{
	struct ttlv_limits lim = { .max_message_size = 4 * 1024 * 1024, .max_depth = 32 };
	struct ttlv_arena *arena = NULL;
	struct ttlv *root = NULL;
	struct ttlv_enc enc;
	enum ttlv_err err;
	uint64_t off;

	ttlv_enc_init(&enc);
	ttlv_enc_item(&enc, item);
	assert_int_equal(ttlv_enc_finish(&enc), 0);
	assert_int_equal(ttlv_decode(enc.buf, enc.len, &lim, &root, &arena, &err, &off), TTLV_DONE);
	assert_true(ttlv_equal(item, root));
	ttlv_arena_free(arena);
	ttlv_enc_free(&enc);
}

/* Round-trips one OASIS file; returns the number of messages in it. */
static size_t
check_file(struct fixture *f, const char *path)
{
	size_t i, nph = 0;

	ttlv_xml_doc_free(f->doc);
	ttlv_xml_doc_free(f->doc2);
	f->doc = f->doc2 = NULL;
	if (ttlv_xml_parse_file(path, &f->doc, &f->cause) != 0)
		fail_msg("%s", f->cause);
	assert_true(f->doc->nitems >= 2);
	assert_int_equal(f->doc->nitems % 2, 0);
	for (i = 0; i < f->doc->nitems; i++) {
		const struct ttlv *m = f->doc->items[i];

		assert_int_equal(m->tag, i % 2 == 0 ? KMIP_TAG_REQUEST_MESSAGE : KMIP_TAG_RESPONSE_MESSAGE);
		assert_int_equal(m->type, TTLV_STRUCTURE);
		wire_round_trip(m);
		nph += count_placeholders(f->doc, m);
	}
	assert_int_equal(nph, f->doc->nplaceholders);
	print_doc(f, f->doc);
	if (ttlv_xml_parse(f->text, f->textlen, &f->doc2, &f->cause) != 0)
		fail_msg("%s: printed form does not parse: %s", path, f->cause);
	assert_int_equal(f->doc2->nitems, f->doc->nitems);
	assert_int_equal(f->doc2->nplaceholders, f->doc->nplaceholders);
	for (i = 0; i < f->doc->nitems; i++) {
		if (!ttlv_equal(f->doc->items[i], f->doc2->items[i]))
			fail_msg("%s: message %zu differs after XML -> TTLV -> XML -> TTLV", path, i + 1);
		same_placeholders(f->doc, f->doc->items[i], f->doc2, f->doc2->items[i]);
	}
	return f->doc->nitems;
}

/* Round-trips every file of one folder of the vectors; returns the number of files. */
static size_t
check_folder(struct fixture *f, const char *sub)
{
	const char *vectors = getenv("KMIP_VECTORS");
	char dir[1024], path[2048];
	struct dirent **names;
	size_t files = 0;
	int n, i;

	if (vectors == NULL)
		vectors = "../shared/kmip-vectors";
	snprintf(dir, sizeof(dir), "%s/%s", vectors, sub);
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
		fail_msg("cannot read %s (set KMIP_VECTORS)", dir);
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 4 && strcmp(names[i]->d_name + len - 4, ".xml") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			check_file(f, path);
			files++;
		}
		free(names[i]);
	}
	free(names);
	return files;
}

/* Every 1.4 test case, mandatory and optional. */
static void
test_oasis_14(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(check_folder(f, "oasis-profiles-v1.4-os/mandatory"), 68);
	assert_int_equal(check_folder(f, "oasis-profiles-v1.4-os/optional"), 7);
}

/* Every 2.1 test case, mandatory and optional. */
static void
test_oasis_21(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(check_folder(f, "oasis-profiles-v2.1-os/mandatory"), 86);
	assert_int_equal(check_folder(f, "oasis-profiles-v2.1-os/optional"), 7);
}

/*
 * The KMIP 1.0-1.2 profile documents wrap their messages in <KmipTestCase> instead of <KMIP>: the same
 * messages, in the same order, whichever the root.
 */
static void
test_kmip_test_case_root(void **state)
{
	struct fixture *f = *state;
	char *kmip = NULL, *printed;

	parse_ok(f, "<KMIP>\n<RequestHeader><BatchCount type=\"Integer\" value=\"1\"/></RequestHeader>\n"
	    "<ResponseHeader><BatchCount type=\"Integer\" value=\"2\"/></ResponseHeader>\n</KMIP>");
	assert_int_equal(f->doc->nitems, 2);
	print_doc(f, f->doc);
	kmip = f->text;
	f->text = NULL;
	parse_ok(f, "<!-- KMIP 1.0 -->\n<KmipTestCase>\n"
	    "<RequestHeader><BatchCount type=\"Integer\" value=\"1\"/></RequestHeader>\n"
	    "<ResponseHeader><BatchCount type=\"Integer\" value=\"2\"/></ResponseHeader>\n</KmipTestCase>\n");
	assert_int_equal(f->doc->nitems, 2);
	print_doc(f, f->doc);
	printed = f->text;
	assert_string_equal(printed, kmip);
	free(kmip);
	parse_bad(f, "<KmipTestCase id=\"x\"><RequestHeader/></KmipTestCase>", "unknown attribute id on <KmipTestCase>");
	parse_bad(f, "<KmipTestCase><Frobnicate/></KmipTestCase>", "unknown element <Frobnicate>");
}

/* Integer (decimal, hex, mask names), Long Integer and Interval. */
static void
test_integers(void **state)
{
	struct fixture *f = *state;
	struct ttlv *t;

	t = leaf(f, "<BatchCount type=\"Integer\" value=\"-12\"/>");
	assert_int_equal(t->tag, KMIP_TAG_BATCH_COUNT);
	assert_int_equal(t->type, TTLV_INTEGER);
	assert_int_equal(t->v.i32, -12);
	assert_int_equal(leaf(f, "<BatchCount type=\"Integer\" value=\"0xFFFFFFFF\"/>")->v.i32, -1);
	assert_int_equal(leaf(f, "<CryptographicUsageMask type=\"Integer\" value=\"Encrypt Decrypt\"/>")->v.i32,
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	assert_int_equal(leaf(f, "<CryptographicUsageMask type=\"Integer\" value=\"MACGenerate\"/>")->v.i32,
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE);
	t = leaf(f, "<UsageLimitsTotal type=\"LongInteger\" value=\"-9223372036854775808\"/>");
	assert_int_equal(t->type, TTLV_LONG_INTEGER);
	assert_true(t->v.i64 == INT64_MIN);
	assert_true(leaf(f, "<UsageLimitsTotal type=\"LongInteger\" value=\"0x0000000100000000\"/>")->v.i64 ==
	    (int64_t)1 << 32);
	t = leaf(f, "<LeaseTime type=\"Interval\" value=\"4294967295\"/>");
	assert_int_equal(t->type, TTLV_INTERVAL);
	assert_int_equal(t->v.u32, UINT32_MAX);
	parse_bad(f, "<BatchCount type=\"Integer\" value=\"2147483648\"/>", "bad Integer value");
	parse_bad(f, "<BatchCount type=\"Integer\" value=\"Encrypt\"/>", "bad Integer value");
	parse_bad(f, "<BatchCount type=\"Integer\" value=\"0x100000000\"/>", "bad Integer value");
	parse_bad(f, "<BatchCount type=\"Integer\" value=\"\"/>", "bad Integer value");
	parse_bad(f, "<CryptographicUsageMask type=\"Integer\" value=\"Encrypt Frobnicate\"/>", "line 1: bad");
	parse_bad(f, "<LeaseTime type=\"Interval\" value=\"-1\"/>", "bad Interval value");
}

/* Big Integers are sign-extended to whole 8-byte words. */
static void
test_big_integer(void **state)
{
	struct fixture *f = *state;
	static const uint8_t pos[8] = { 0, 0, 0, 0, 0, 1, 0, 1 };
	static const uint8_t neg[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80 };
	struct ttlv *t;

	t = leaf(f, "<PublicExponent type=\"BigInteger\" value=\"010001\"/>");
	assert_int_equal(t->type, TTLV_BIG_INTEGER);
	assert_int_equal(t->length, 8);
	assert_memory_equal(t->v.bytes.data, pos, 8);
	t = leaf(f, "<PublicExponent type=\"BigInteger\" value=\"0x80\"/>");
	assert_int_equal(t->length, 8);
	assert_memory_equal(t->v.bytes.data, neg, 8);
	parse_bad(f, "<PublicExponent type=\"BigInteger\" value=\"123\"/>", "bad BigInteger value");
}

/* Enumerations by name, hex, tag name (2.x), and through a 1.x Attribute Name. */
static void
test_enumerations(void **state)
{
	struct fixture *f = *state;
	struct ttlv *t, *c;

	t = leaf(f, "<ObjectType type=\"Enumeration\" value=\"SymmetricKey\"/>");
	assert_int_equal(t->type, TTLV_ENUMERATION);
	assert_int_equal(t->v.u32, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	assert_int_equal(leaf(f, "<ObjectType type=\"Enumeration\" value=\"0x00000007\"/>")->v.u32, 7);
	assert_int_equal(leaf(f, "<State type=\"Enumeration\" value=\"PreActive\"/>")->v.u32,
	    KMIP_STATE_PRE_ACTIVE);
	/* 2.x Attribute Reference carries a tag. */
	assert_int_equal(leaf(f, "<AttributeReference type=\"Enumeration\" value=\"ObjectGroup\"/>")->v.u32,
	    KMIP_TAG_OBJECT_GROUP);
	/* 1.x: named after the sibling Attribute Name, which may come after it. */
	parse_ok(f, "<Attribute><AttributeValue type=\"Enumeration\" value=\"RSA\"/>"
	    "<AttributeName type=\"TextString\" value=\"Cryptographic Algorithm\"/></Attribute>");
	c = f->doc->items[0]->v.s.first;
	assert_int_equal(c->tag, KMIP_TAG_ATTRIBUTE_VALUE);
	assert_int_equal(c->v.u32, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	parse_ok(f, "<Attribute><AttributeName type=\"TextString\" value=\"Cryptographic Usage Mask\"/>"
	    "<AttributeValue type=\"Integer\" value=\"Sign Verify\"/></Attribute>");
	c = f->doc->items[0]->v.s.last;
	assert_int_equal(c->v.i32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN | KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	parse_bad(f, "<ObjectType type=\"Enumeration\" value=\"Symmetric Key\"/>", "bad Enumeration value");
	parse_bad(f, "<ObjectType type=\"Enumeration\" value=\"Frob\"/>", "bad Enumeration value");
	parse_bad(f, "<Attribute>\n<AttributeName type=\"TextString\" value=\"x-custom\"/>\n"
	    "<AttributeValue type=\"Enumeration\" value=\"RSA\"/></Attribute>", "line 3: bad Enumeration");
}

/* Text and Byte Strings, references, white space, UTF-8 checks, Booleans. */
static void
test_strings_and_booleans(void **state)
{
	struct fixture *f = *state;
	static const uint8_t bytes[3] = { 0x01, 0xab, 0xff };
	struct ttlv *t;

	t = leaf(f, "<NameValue type=\"TextString\" value=\"a&amp;b&lt;&gt;&quot;&apos;&#65;&#x263A;\"/>");
	assert_int_equal(t->type, TTLV_TEXT_STRING);
	assert_string_equal((const char *)t->v.bytes.data, "a&b<>\"'A\xe2\x98\xba");
	assert_int_equal(t->length, strlen("a&b<>\"'A\xe2\x98\xba"));
	/* Literal white space in an attribute value is normalized; references keep it. */
	t = leaf(f, "<NameValue type=\"TextString\" value=\"a\tb\nc&#10;\"/>");
	assert_string_equal((const char *)t->v.bytes.data, "a b c\n");
	assert_int_equal(leaf(f, "<NameValue type=\"TextString\" value=\"\"/>")->length, 0);
	t = leaf(f, "<IVCounterNonce type=\"ByteString\" value=\"01aBFf\"/>");
	assert_int_equal(t->type, TTLV_BYTE_STRING);
	assert_int_equal(t->length, 3);
	assert_memory_equal(t->v.bytes.data, bytes, 3);
	assert_true(leaf(f, "<Sensitive type=\"Boolean\" value=\"true\"/>")->v.b);
	assert_false(leaf(f, "<Sensitive type=\"Boolean\" value=\"false\"/>")->v.b);
	assert_true(leaf(f, "<Sensitive type=\"Boolean\" value=\"0x0000000000000001\"/>")->v.b);
	parse_bad(f, "<Sensitive type=\"Boolean\" value=\"yes\"/>", "bad Boolean value");
	parse_bad(f, "<IVCounterNonce type=\"ByteString\" value=\"abc\"/>", "bad ByteString value");
	parse_bad(f, "<IVCounterNonce type=\"ByteString\" value=\"zz\"/>", "bad ByteString value");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"&#0;\"/>", "not an XML character");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"&#xD800;\"/>", "not an XML character");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"&nbsp;\"/>", "unknown entity");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"a & b\"/>", "unknown entity");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"a<b\"/>", "'<' in an attribute value");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"\xc3\x28\"/>", "invalid UTF-8");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"\xc0\xaf\"/>", "invalid UTF-8");
	parse_bad(f, "<NameValue type=\"TextString\" value=\"\x01\"/>", "control character");
}

/* ISO 8601 dates with zones, fractions for Date-Time Extended, and refused forms. */
static void
test_dates(void **state)
{
	struct fixture *f = *state;
	struct ttlv *t;

	t = leaf(f, "<ActivationDate type=\"DateTime\" value=\"1970-01-01T00:00:06+00:00\"/>");
	assert_int_equal(t->type, TTLV_DATE_TIME);
	assert_int_equal(t->v.i64, 6);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"2000-02-01T00:00:00+10:00\"/>")->v.i64,
	    949327200);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"2000-01-31T14:00:00Z\"/>")->v.i64,
	    949327200);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"2000-01-31T09:30:00-04:30\"/>")->v.i64,
	    949327200);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"2024-02-29T00:00:00Z\"/>")->v.i64,
	    1709164800);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"1969-12-31T23:59:59Z\"/>")->v.i64, -1);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTime\" value=\"0x0000000000000010\"/>")->v.i64, 16);
	t = leaf(f, "<ActivationDate type=\"DateTimeExtended\" value=\"1970-01-01T00:00:01.5Z\"/>");
	assert_int_equal(t->type, TTLV_DATE_TIME_EXTENDED);
	assert_int_equal(t->v.i64, 1500000);
	assert_int_equal(leaf(f, "<ActivationDate type=\"DateTimeExtended\" "
	    "value=\"1970-01-01T00:00:00.000001+00:00\"/>")->v.i64, 1);
	parse_bad(f, "<ActivationDate type=\"DateTime\" value=\"2000-01-31T14:00:00\"/>", "bad DateTime");
	parse_bad(f, "<ActivationDate type=\"DateTime\" value=\"2023-02-29T00:00:00Z\"/>", "bad DateTime");
	parse_bad(f, "<ActivationDate type=\"DateTime\" value=\"2000-13-01T00:00:00Z\"/>", "bad DateTime");
	parse_bad(f, "<ActivationDate type=\"DateTime\" value=\"2000-01-01T00:00:00.5Z\"/>", "bad DateTime");
	parse_bad(f, "<ActivationDate type=\"DateTime\" value=\"2000-01-01T00:00:00Zjunk\"/>", "bad DateTime");
	parse_bad(f, "<ActivationDate type=\"DateTimeExtended\" value=\"2000-01-01T00:00:00.1234567Z\"/>",
	    "bad DateTimeExtended");
}

/* Placeholders keep their text in the side table and a neutral value in the item. */
static void
test_placeholders(void **state)
{
	struct fixture *f = *state;
	const struct ttlv *uid, *when, *data, *lit;

	parse_ok(f, "<KMIP><RequestPayload>\n"
	    "  <UniqueIdentifier type=\"TextString\" value=\"$UNIQUE_IDENTIFIER_3\"/>\n"
	    "  <ActivationDate type=\"DateTime\" value=\"$NOW-3600\"/>\n"
	    "  <Data type=\"ByteString\" value=\"$DATA_0\"/>\n"
	    "  <NameValue type=\"TextString\" value=\"$not-one\"/>\n"
	    "</RequestPayload></KMIP>");
	assert_int_equal(f->doc->nitems, 1);
	assert_int_equal(f->doc->nplaceholders, 3);
	uid = f->doc->items[0]->v.s.first;
	when = uid->next;
	data = when->next;
	lit = data->next;
	assert_string_equal(ttlv_xml_placeholder(f->doc, uid), "$UNIQUE_IDENTIFIER_3");
	assert_string_equal(ttlv_xml_placeholder(f->doc, when), "$NOW-3600");
	assert_string_equal(ttlv_xml_placeholder(f->doc, data), "$DATA_0");
	assert_null(ttlv_xml_placeholder(f->doc, lit));
	assert_null(ttlv_xml_placeholder(NULL, uid));
	/* Neutral values of their types. */
	assert_int_equal(when->type, TTLV_DATE_TIME);
	assert_int_equal(when->v.i64, 0);
	assert_int_equal(data->type, TTLV_BYTE_STRING);
	assert_int_equal(data->length, 0);
	assert_string_equal((const char *)lit->v.bytes.data, "$not-one");
	print_doc(f, f->doc);
	assert_non_null(strstr(f->text, "<ActivationDate type=\"DateTime\" value=\"$NOW-3600\"/>"));
	assert_non_null(strstr(f->text, "<Data type=\"ByteString\" value=\"$DATA_0\"/>"));
}

/* The printed form of each type, unknown tags and values, and reading it back. */
static void
test_print(void **state)
{
	struct fixture *f = *state;
	static const char *want =
	    "  <RequestPayload>\n"
	    "    <TTLV tag=\"0x540001\" type=\"TextString\" value=\"x&amp;&lt;&#xA;\"/>\n"
	    "    <TTLV tag=\"0x540002\"/>\n"
	    "    <ObjectType type=\"Enumeration\" value=\"0x00000099\"/>\n"
	    "    <CryptographicUsageMask type=\"Integer\" value=\"Encrypt 0x80000000\"/>\n"
	    "    <Attribute>\n"
	    "      <AttributeName type=\"TextString\" value=\"State\"/>\n"
	    "      <AttributeValue type=\"Enumeration\" value=\"Deactivated\"/>\n"
	    "    </Attribute>\n"
	    "    <ActivationDate type=\"DateTime\" value=\"2000-01-31T14:00:00+00:00\"/>\n"
	    "    <ActivationDate type=\"DateTimeExtended\" value=\"1969-12-31T23:59:59.999999+00:00\"/>\n"
	    "    <ActivationDate type=\"DateTime\" value=\"0x7FFFFFFFFFFFFFFF\"/>\n"
	    "    <PublicExponent type=\"BigInteger\" value=\"0000000000010001\"/>\n"
	    "  </RequestPayload>\n";
	struct ttlv_arena *a = ttlv_arena_new();
	struct ttlv *p, *at;
	FILE *out;

	assert_non_null(a);
	p = ttlv_new_struct(a, KMIP_TAG_REQUEST_PAYLOAD);
	ttlv_append(p, ttlv_new_text(a, 0x540001, "x&<\n", 4));
	ttlv_append(p, ttlv_new_struct(a, 0x540002));
	ttlv_append(p, ttlv_new_enum(a, KMIP_TAG_OBJECT_TYPE, 0x99));
	ttlv_append(p, ttlv_new_int(a, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)0x80000004u));
	at = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTE);
	ttlv_append(at, ttlv_new_text(a, KMIP_TAG_ATTRIBUTE_NAME, "State", 5));
	ttlv_append(at, ttlv_new_enum(a, KMIP_TAG_ATTRIBUTE_VALUE, KMIP_STATE_DEACTIVATED));
	ttlv_append(p, at);
	ttlv_append(p, ttlv_new_datetime(a, KMIP_TAG_ACTIVATION_DATE, 949327200));
	ttlv_append(p, ttlv_new_datetime_ext(a, KMIP_TAG_ACTIVATION_DATE, -1));
	ttlv_append(p, ttlv_new_datetime(a, KMIP_TAG_ACTIVATION_DATE, INT64_MAX));
	ttlv_append(p, ttlv_new_bigint(a, KMIP_TAG_PUBLIC_EXPONENT, "\x01\x00\x01", 3));
	out = open_memstream(&f->text, &f->textlen);
	assert_non_null(out);
	assert_int_equal(ttlv_xml_print(out, p, NULL, 1), 0);
	assert_int_equal(fclose(out), 0);
	assert_string_equal(f->text, want);
	/* And it reads back to the same tree. */
	parse_ok(f, f->text);
	assert_true(ttlv_equal(f->doc->items[0], p));
	ttlv_arena_free(a);
}

/* What the XML reader accepts and what it refuses, with the line. */
static void
test_xml_syntax(void **state)
{
	struct fixture *f = *state;

	parse_ok(f, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<KMIP >\n"
	    "<!-- a comment - with a dash -->\n<RequestPayload ><ObjectType type = \"Enumeration\"\n"
	    "  value=\"Certificate\" /></RequestPayload  >\n</KMIP>\n<!-- after -->\n");
	assert_int_equal(f->doc->nitems, 1);
	assert_int_equal(f->doc->items[0]->v.s.first->v.u32, KMIP_OBJECT_TYPE_CERTIFICATE);
	parse_ok(f, "<KMIP/>");
	assert_int_equal(f->doc->nitems, 0);
	parse_ok(f, "<Attributes/>");
	assert_int_equal(f->doc->items[0]->type, TTLV_STRUCTURE);
	assert_int_equal(f->doc->items[0]->v.s.count, 0);

	parse_bad(f, "<KMIP>\n\n<Frobnicate/>\n</KMIP>", "line 3: unknown element <Frobnicate>");
	parse_bad(f, "<KMIP>\n<RequestPayload>\n</ResponsePayload>\n</KMIP>", "line 3: </ResponsePayload> closes");
	parse_bad(f, "<KMIP>\n<!-- open", "line 2: unterminated comment");
	parse_bad(f, "<KMIP><!-- a -- b --></KMIP>", "'--' inside a comment");
	parse_bad(f, "<KMIP>text</KMIP>", "character data");
	parse_bad(f, "<KMIP><![CDATA[x]]></KMIP>", "CDATA");
	parse_bad(f, "<!DOCTYPE KMIP><KMIP/>", "expected the root element");
	parse_bad(f, "<KMIP/><KMIP/>", "content after the root element");
	parse_bad(f, "<KMIP>", "not closed");
	parse_bad(f, "", "expected the root element");
	parse_bad(f, "<ObjectType type='Enumeration' value='Certificate'/>", "double quotes");
	parse_bad(f, "<ObjectType type=\"Enumeration\"value=\"Certificate\"/>", "white space");
	parse_bad(f, "<ObjectType type=\"Enumeration\" type=\"Enumeration\"/>", "duplicate attribute");
	parse_bad(f, "<ObjectType type=\"Enumeration\" value=\"Certificate\" foo=\"1\"/>", "unknown attribute");
	parse_bad(f, "<ObjectType type=\"Enumeration\"/>", "has no value");
	parse_bad(f, "<ObjectType type=\"Frob\" value=\"1\"/>", "unknown type");
	parse_bad(f, "<ObjectType type=\"Enumeration\" value=\"Certificate\"><Name/></ObjectType>",
	    "has child elements");
	parse_bad(f, "<Attributes value=\"1\"/>", "has a value");
	parse_bad(f, "<TTLV type=\"Integer\" value=\"1\"/>", "without a tag");
	parse_bad(f, "<TTLV tag=\"0x330001\" type=\"Integer\" value=\"1\"/>", "outside");
	parse_bad(f, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><KMIP/>", "UTF-8");
	parse_bad(f, "<KMIP><?pi x?></KMIP>", "processing instructions");
}

/* Nesting and size limits. */
static void
test_limits(void **state)
{
	struct fixture *f = *state;
	char *deep;
	size_t i, n = 0, depth = TTLV_XML_MAX_DEPTH + 1;
	struct ttlv_xml_doc *doc = NULL;

	deep = malloc(depth * 40 + 1);
	assert_non_null(deep);
	for (i = 0; i < depth; i++)
		n += (size_t)sprintf(deep + n, "<Attributes>");
	for (i = 0; i < depth; i++)
		n += (size_t)sprintf(deep + n, "</Attributes>");
	parse_bad(f, deep, "nested deeper than");
	/* One level less is fine. */
	n = 0;
	for (i = 0; i + 1 < depth; i++)
		n += (size_t)sprintf(deep + n, "<Attributes>");
	for (i = 0; i + 1 < depth; i++)
		n += (size_t)sprintf(deep + n, "</Attributes>");
	parse_ok(f, deep);
	free(deep);
	/* The size is checked before anything is read. */
	free(f->cause);
	f->cause = NULL;
	assert_int_equal(ttlv_xml_parse("<KMIP/>", (size_t)TTLV_XML_MAX_SIZE + 1, &doc, &f->cause), -1);
	assert_null(doc);
	assert_non_null(strstr(f->cause, "more than"));
	free(f->cause);
	f->cause = NULL;
	assert_int_equal(ttlv_xml_parse_file("/nonexistent/x.xml", &doc, &f->cause), -1);
	assert_non_null(strstr(f->cause, "/nonexistent/x.xml"));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest vector_tests[] = {
		cmocka_unit_test_setup_teardown(test_oasis_14, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oasis_21, setup, teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_integer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enumerations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strings_and_booleans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xml_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kmip_test_case_root, setup, teardown),
	};

	util_test_start(argc, argv);
	if (util_vector_run())
		return cmocka_run_group_tests_name("xml: the OASIS files", vector_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
