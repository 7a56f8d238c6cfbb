/*
 * KMIP operations end to end against the real kmipd over mutual TLS: Create, Get, Activate, Revoke and
 * Destroy at KMIP 1.4, with the Result Status, Result Reason and Result Message of each failure.
 * One server for the whole binary (keygen pool of 2, kmip-admin as administrator), one connection as
 * the normal client (client.crt) and one as the administrator (admin.crt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

struct ops {
	struct h_server srv;
	SSL_CTX *ctx;		/* client.crt, CN kmip-client */
	SSL_CTX *admin_ctx;	/* admin.crt, CN kmip-admin */
	struct kmip_client *cl;
	struct kmip_client *admin;
};

/* Starts one kmipd with the given overrides and connects both identities. */
static int
group_start(void **state, const char *const *overrides)
{
	struct ops *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return -1;
	*state = o;
	h_start(&o->srv, overrides);
	o->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	o->admin_ctx = h_client_ctx(h_cert("admin.crt"), h_cert("admin.key"), NULL, TLS1_2_VERSION, 0);
	o->cl = h_connect(&o->srv, o->ctx);
	o->admin = h_connect(&o->srv, o->admin_ctx);
	return 0;
}

/* The main server: kmip-admin is an administrator. */
static int
group_setup(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=2", "access.admins=kmip-admin",
	    NULL });
}

static int
group_teardown(void **state)
{
	struct ops *o = *state;

	if (o == NULL)
		return 0;
	kmip_client_close(o->cl);
	kmip_client_close(o->admin);
	SSL_CTX_free(o->ctx);
	SSL_CTX_free(o->admin_ctx);
	h_cleanup(&o->srv);
	free(o);
	return 0;
}

/* Sends req (freed here) on cl and returns the response, checking its protocol version. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, int major, int minor)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(major, minor));
	return resp;
}

/* Text child tag of batch item i's payload into buf ("" when absent). */
static const char *
item_text(const struct ttlv *resp, unsigned i, uint32_t tag, char *buf, size_t size)
{
	const struct ttlv *t = ttlv_find(h_payload(resp, i), tag);

	snprintf(buf, size, "%s", t != NULL && t->type == TTLV_TEXT_STRING ? (const char *)t->v.bytes.data : "");
	return buf;
}

/* Writes the Create payload of a 1.4 AES key of bits bits (0: no length) named name (NULL: none). */
static void
enc_create_aes(struct ttlv_enc *e, int bits, const char *name)
{
	h_item_begin(e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	if (bits != 0)
		h_attr_int(e, "Cryptographic Length", bits);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (name != NULL)
		h_attr_name(e, name);
	ttlv_enc_end(e);
	h_item_end(e);
}

/* Creates an AES key at 1.4 on cl and copies its identifier into uid (64 bytes). */
static void
create_aes(struct kmip_client *cl, int bits, const char *name, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, 1, 4, 1);
	enc_create_aes(&req, bits, name);
	h_request_end(&req);
	resp = call(cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32,
	    KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
	ttlv_arena_free(a);
}

/*
 * Sends one 1.4 item naming uid (Get, Activate, Destroy, ...; Revoke with reason code arg when arg is
 * not 0) and returns the response; the caller frees *a.
 */
static struct ttlv *
uid_op(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t arg, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_uid_request(&req, op, uid, arg);
	return call(cl, &req, a, 1, 4);
}

/* Like uid_op, expecting success (and the identifier echoed); frees the response. */
static void
uid_op_ok(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t arg)
{
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, op, uid, arg, &a);
	char got[64];

	h_expect_ok(resp, 0);
	assert_string_equal(item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
	ttlv_arena_free(a);
}

/* Like uid_op, expecting failure with reason; frees the response. */
static void
uid_op_fail(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t arg, int reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, op, uid, arg, &a);

	h_expect_fail(resp, 0, reason, NULL);
	ttlv_arena_free(a);
}

/* Get at 1.4 with an optional Key Format Type (0: none); returns the response, the caller frees *a. */
static struct ttlv *
get(struct kmip_client *cl, const char *uid, uint32_t format, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, format);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* The Key Block of the object (tag object_tag) in a successful Get response. */
static const struct ttlv *
key_block(const struct ttlv *resp, uint32_t object_tag)
{
	const struct ttlv *obj = ttlv_find(h_payload(resp, 0), object_tag);
	const struct ttlv *block = ttlv_find(obj, KMIP_TAG_KEY_BLOCK);

	assert_non_null(block);
	return block;
}

/* The Key Material byte string of a Key Block. */
static const struct ttlv *
key_material(const struct ttlv *block)
{
	const struct ttlv *m = ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);

	assert_non_null(m);
	return m;
}

/* Get Attributes at 1.4 for the named attributes (NULL-terminated, NULL: all). */
static struct ttlv *
get_attrs(struct kmip_client *cl, const char *uid, const char *const *names, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	for (; names != NULL && *names != NULL; names++)
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, *names);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* The nth (from 0) 1.x Attribute called name in a payload, its Attribute Value, or NULL. */
static const struct ttlv *
attr_value(const struct ttlv *payload, const char *name, unsigned nth)
{
	const struct ttlv *at;

	for (at = ttlv_find(payload, KMIP_TAG_ATTRIBUTE); at != NULL; at = ttlv_find_next(at)) {
		const struct ttlv *n = ttlv_find(at, KMIP_TAG_ATTRIBUTE_NAME);

		if (n != NULL && strcmp((const char *)n->v.bytes.data, name) == 0 && nth-- == 0)
			return ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE);
	}
	return NULL;
}

/* Asserts the State of uid is state, and that attribute date_name (NULL: none) is a Date-Time. */
static void
expect_state(struct kmip_client *cl, const char *uid, uint32_t state, const char *date_name)
{
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv *resp;

	resp = get_attrs(cl, uid, (const char *const[]){ "State", date_name, NULL }, &a);
	h_expect_ok(resp, 0);
	v = attr_value(h_payload(resp, 0), "State", 0);
	assert_non_null(v);
	assert_int_equal(v->v.u32, state);
	if (date_name != NULL) {
		v = attr_value(h_payload(resp, 0), date_name, 0);
		assert_non_null(v);
		assert_int_equal(v->type, TTLV_DATE_TIME);
		assert_true(v->v.i64 > 0);
	}
	ttlv_arena_free(a);
}

/*
 * CreateKeyPair at 1.4 with algorithm alg of bits bits (curve: Recommended Curve in Cryptographic Domain
 * Parameters, 0: none); returns the response, the caller frees *a.
 */
static struct ttlv *
create_pair_req(struct kmip_client *cl, uint32_t alg, int bits, uint32_t curve, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&req, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", alg);
	h_attr_int(&req, "Cryptographic Length", bits);
	if (curve != 0) {
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Domain Parameters");
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE_VALUE);
		ttlv_enc_enum(&req, KMIP_TAG_RECOMMENDED_CURVE, curve);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
	}
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* Asserts uid has a Link of type link_type to other. */
static void
expect_link(struct kmip_client *cl, const char *uid, uint32_t link_type, const char *other)
{
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv *resp;
	unsigned i;
	bool found = false;

	resp = get_attrs(cl, uid, (const char *const[]){ "Link", NULL }, &a);
	h_expect_ok(resp, 0);
	for (i = 0; (v = attr_value(h_payload(resp, 0), "Link", i)) != NULL; i++) {
		const struct ttlv *t = ttlv_find(v, KMIP_TAG_LINK_TYPE);
		const struct ttlv *id = ttlv_find(v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER);

		assert_non_null(t);
		assert_non_null(id);
		if (t->v.u32 == link_type && strcmp((const char *)id->v.bytes.data, other) == 0)
			found = true;
	}
	assert_true(found);
	ttlv_arena_free(a);
}

/* Register at 1.4 of an object whose tag is obj_tag, with a Key Block in format, on cl. */
static struct ttlv *
register_req(struct kmip_client *cl, uint32_t type, uint32_t obj_tag, uint32_t secret_type, uint32_t format,
    uint32_t alg, int bits, const void *material, size_t len, const char *name, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, type);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(&req, "Cryptographic Usage Mask", type == KMIP_OBJECT_TYPE_PRIVATE_KEY ?
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN : KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	if (name != NULL)
		h_attr_name(&req, name);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, obj_tag);
	if (secret_type != 0)
		ttlv_enc_enum(&req, KMIP_TAG_SECRET_DATA_TYPE, secret_type);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, format);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&req, KMIP_TAG_KEY_MATERIAL, material, len);
	ttlv_enc_end(&req);
	if (alg != 0) {
		ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg);
		ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, bits);
	}
	ttlv_enc_end(&req);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* One Locate criterion, or paging. */
struct locate_q {
	const char *name;	/* Name, or NULL */
	uint32_t type;		/* Object Type, or 0 */
	int max;		/* Maximum Items, or -1 */
	int offset;		/* Offset Items, or -1 */
	bool wrapped;		/* criteria inside a Template-Attribute */
};

/* Locate at 1.4; returns the response (success asserted), the caller frees *a. */
static struct ttlv *
locate(struct kmip_client *cl, const struct locate_q *q, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_LOCATE);
	if (q->max >= 0)
		ttlv_enc_int(&req, KMIP_TAG_MAXIMUM_ITEMS, q->max);
	if (q->offset >= 0)
		ttlv_enc_int(&req, KMIP_TAG_OFFSET_ITEMS, q->offset);
	if (q->wrapped)
		ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	if (q->type != 0)
		h_attr_enum(&req, "Object Type", q->type);
	if (q->name != NULL)
		h_attr_name(&req, q->name);
	if (q->wrapped)
		ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, a, 1, 4);
	h_expect_ok(resp, 0);
	return resp;
}

/* Whether the Locate response lists uid. */
static bool
located(const struct ttlv *resp, const char *uid)
{
	const struct ttlv *t;

	for (t = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); t != NULL; t = ttlv_find_next(t))
		if (strcmp((const char *)t->v.bytes.data, uid) == 0)
			return true;
	return false;
}

/* Number of identifiers in a Locate response. */
static unsigned
located_count(const struct ttlv *resp)
{
	return ttlv_count(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER);
}

/* Located Items of a Locate response, or -1 when absent. */
static int
located_items(const struct ttlv *resp)
{
	const struct ttlv *t = ttlv_find(h_payload(resp, 0), KMIP_TAG_LOCATED_ITEMS);

	return t != NULL ? t->v.i32 : -1;
}

/* Request Header options for the batch tests. */
struct hdr {
	int max_response_size;	/* 0: absent */
	bool async;		/* Asynchronous Indicator true */
	uint32_t continuation;	/* Batch Error Continuation Option, 0: absent */
};

/* Like h_request_begin, with the header options of h. */
static void
request_begin_hdr(struct ttlv_enc *e, int major, int minor, int nitems, const struct hdr *h)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(major, minor));
	if (h->max_response_size > 0)
		ttlv_enc_int(e, KMIP_TAG_MAXIMUM_RESPONSE_SIZE, h->max_response_size);
	if (h->async)
		ttlv_enc_bool(e, KMIP_TAG_ASYNCHRONOUS_INDICATOR, true);
	if (h->continuation != 0)
		ttlv_enc_enum(e, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION, h->continuation);
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, nitems);
	ttlv_enc_end(e);
}

/* Batch Count of the response header. */
static int
response_batch_count(const struct ttlv *resp)
{
	const struct ttlv *t = ttlv_find(ttlv_find(resp, KMIP_TAG_RESPONSE_HEADER), KMIP_TAG_BATCH_COUNT);

	assert_non_null(t);
	return t->v.i32;
}

/*
 * A 1.x attribute edit (Add/Modify Attribute) at index (-1: none) of attribute attr with value: a Name, or
 * a text attribute. Returns the response.
 */
static struct ttlv *
attr_edit(struct kmip_client *cl, uint32_t op, const char *uid, int index, const char *attr, const char *value,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, op);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, attr);
	if (index >= 0)
		ttlv_enc_int(&req, KMIP_TAG_ATTRIBUTE_INDEX, index);
	if (strcmp(attr, "Name") == 0) {
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE_VALUE);
		ttlv_enc_cstr(&req, KMIP_TAG_NAME_VALUE, value);
		ttlv_enc_enum(&req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(&req);
	} else {
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_VALUE, value);
	}
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* A 1.x edit of a Name; see attr_edit(). */
static struct ttlv *
name_edit(struct kmip_client *cl, uint32_t op, const char *uid, int index, const char *name,
    struct ttlv_arena **a)
{
	return attr_edit(cl, op, uid, index, "Name", name, a);
}

/* The Name Value of the nth Name of uid, in buf ("" when it has fewer Names). */
static const char *
name_of(struct kmip_client *cl, const char *uid, unsigned nth, char *buf, size_t size)
{
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv *resp;

	resp = get_attrs(cl, uid, (const char *const[]){ "Name", NULL }, &a);
	h_expect_ok(resp, 0);
	v = ttlv_find(attr_value(h_payload(resp, 0), "Name", nth), KMIP_TAG_NAME_VALUE);
	snprintf(buf, size, "%s", v != NULL ? (const char *)v->v.bytes.data : "");
	ttlv_arena_free(a);
	return buf;
}

/* Creates AES keys of each valid length and reads them back as Raw keys of the right size. */
static void
test_create_get_aes(void **state)
{
	static const int bits[] = { 128, 192, 256 };
	struct ops *o = *state;
	size_t i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		const struct ttlv *block, *m;
		struct ttlv_arena *a;
		struct ttlv *resp;
		char uid[64], got[64];

		create_aes(o->cl, bits[i], NULL, uid);
		resp = get(o->cl, uid, 0, &a);
		h_expect_ok(resp, 0);
		assert_string_equal(item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
		assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32,
		    KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
		block = key_block(resp, KMIP_TAG_SYMMETRIC_KEY);
		assert_int_equal(ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
		assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, bits[i]);
		m = key_material(block);
		assert_int_equal(m->type, TTLV_BYTE_STRING);
		assert_int_equal(m->length, bits[i] / 8);
		ttlv_arena_free(a);
	}
}

/* Create requests the server must refuse with Invalid Field. */
static void
test_create_errors(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	/* No Cryptographic Algorithm. */
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(&req, "Cryptographic Length", 128);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);

	/* AES of 100 bits. */
	h_request_begin(&req, 1, 4, 1);
	enc_create_aes(&req, 100, NULL);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);

	/* Create makes symmetric keys only: a Private Key is CreateKeyPair's. */
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PRIVATE_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	h_attr_int(&req, "Cryptographic Length", 2048);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);
}

static void
test_get_unknown(void **state)
{
	struct ops *o = *state;

	uid_op_fail(o->cl, KMIP_OPERATION_GET, "no-such-object-4711", 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
}

/* PKCS#1 is an RSA format: asking for it on an AES key is refused. */
static void
test_get_wrong_format(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 128, NULL, uid);
	resp = get(o->cl, uid, KMIP_KEY_FORMAT_TYPE_PKCS_1, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED, NULL);
	ttlv_arena_free(a);
}

static void
test_activate_twice(void **state)
{
	struct ops *o = *state;
	char uid[64];

	create_aes(o->cl, 256, NULL, uid);
	uid_op_ok(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0);
	uid_op_fail(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0, KMIP_RESULT_REASON_PERMISSION_DENIED);
}

/* Revocation Reason is required in Revoke. */
static void
test_revoke_without_reason(void **state)
{
	struct ops *o = *state;
	char uid[64];

	create_aes(o->cl, 256, NULL, uid);
	uid_op_ok(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0);
	uid_op_fail(o->cl, KMIP_OPERATION_REVOKE, uid, 0, KMIP_RESULT_REASON_INVALID_FIELD);
}

/* A Pre-Active key may be destroyed; its attributes stay readable, its key material does not. */
static void
test_destroy_pre_active(void **state)
{
	struct ops *o = *state;
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 128, NULL, uid);
	uid_op_ok(o->cl, KMIP_OPERATION_DESTROY, uid, 0);
	uid_op_fail(o->cl, KMIP_OPERATION_GET, uid, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	resp = get_attrs(o->cl, uid, (const char *const[]){ "State", "Destroy Date", NULL }, &a);
	h_expect_ok(resp, 0);
	v = attr_value(h_payload(resp, 0), "State", 0);
	assert_non_null(v);
	assert_int_equal(v->v.u32, KMIP_STATE_DESTROYED);
	v = attr_value(h_payload(resp, 0), "Destroy Date", 0);
	assert_non_null(v);
	assert_int_equal(v->type, TTLV_DATE_TIME);
	assert_true(v->v.i64 > 0);
	ttlv_arena_free(a);
}

/* Key pairs: RSA-2048 and EC P-256, each half linked to the other. */
static void
test_create_key_pair(void **state)
{
	static const struct { uint32_t alg; int bits; uint32_t curve; } kinds[] = {
		{ KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, 0 },
		{ KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, 256, KMIP_RECOMMENDED_CURVE_P_256 },
	};
	struct ops *o = *state;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct ttlv *block;
		struct ttlv_arena *a;
		struct ttlv *resp;
		char priv[64], pub[64];

		resp = create_pair_req(o->cl, kinds[i].alg, kinds[i].bits, kinds[i].curve, &a);
		h_expect_ok(resp, 0);
		item_text(resp, 0, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv, sizeof(priv));
		item_text(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub, sizeof(pub));
		ttlv_arena_free(a);
		assert_true(priv[0] != '\0' && pub[0] != '\0' && strcmp(priv, pub) != 0);
		expect_link(o->cl, priv, KMIP_LINK_TYPE_PUBLIC_KEY_LINK, pub);
		expect_link(o->cl, pub, KMIP_LINK_TYPE_PRIVATE_KEY_LINK, priv);
		resp = get(o->cl, pub, 0, &a);
		h_expect_ok(resp, 0);
		block = key_block(resp, KMIP_TAG_PUBLIC_KEY);
		assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32, kinds[i].alg);
		assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, kinds[i].bits);
		assert_true(key_material(block)->length > 0);
		ttlv_arena_free(a);
	}
}

static void
test_create_key_pair_rsa_1000(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;

	resp = create_pair_req(o->cl, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 1000, 0, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);
}

/* A registered AES key comes back byte for byte. */
static void
test_register_symmetric(void **state)
{
	static const uint8_t key[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	    0xcc, 0xdd, 0xee, 0xff };
	struct ops *o = *state;
	const struct ttlv *block, *m;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	resp = register_req(o->cl, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, KMIP_TAG_SYMMETRIC_KEY, 0,
	    KMIP_KEY_FORMAT_TYPE_RAW, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, key, sizeof(key), NULL, &a);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
	ttlv_arena_free(a);
	assert_true(uid[0] != '\0');
	resp = get(o->cl, uid, 0, &a);
	h_expect_ok(resp, 0);
	block = key_block(resp, KMIP_TAG_SYMMETRIC_KEY);
	assert_int_equal(ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
	m = key_material(block);
	assert_int_equal(m->length, sizeof(key));
	assert_memory_equal(m->v.bytes.data, key, sizeof(key));
	ttlv_arena_free(a);
}

/* Secret Data (a password) comes back byte for byte, in Opaque format, with its Secret Data Type. */
static void
test_register_secret_data(void **state)
{
	static const char pw[] = "correct horse battery staple";
	struct ops *o = *state;
	const struct ttlv *obj, *block, *m;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	resp = register_req(o->cl, KMIP_OBJECT_TYPE_SECRET_DATA, KMIP_TAG_SECRET_DATA,
	    KMIP_SECRET_DATA_TYPE_PASSWORD, KMIP_KEY_FORMAT_TYPE_OPAQUE, 0, 0, pw, strlen(pw), NULL, &a);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
	ttlv_arena_free(a);
	resp = get(o->cl, uid, 0, &a);
	h_expect_ok(resp, 0);
	assert_int_equal(ttlv_find(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32, KMIP_OBJECT_TYPE_SECRET_DATA);
	obj = ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA);
	assert_non_null(obj);
	assert_int_equal(ttlv_find(obj, KMIP_TAG_SECRET_DATA_TYPE)->v.u32, KMIP_SECRET_DATA_TYPE_PASSWORD);
	block = key_block(resp, KMIP_TAG_SECRET_DATA);
	assert_int_equal(ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	m = key_material(block);
	assert_int_equal(m->length, strlen(pw));
	assert_memory_equal(m->v.bytes.data, pw, strlen(pw));
	ttlv_arena_free(a);
}

/* Bytes that are no PKCS#1 RSAPrivateKey are refused at Register. */
static void
test_register_garbage_private_key(void **state)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01 };
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;

	resp = register_req(o->cl, KMIP_OBJECT_TYPE_PRIVATE_KEY, KMIP_TAG_PRIVATE_KEY, 0,
	    KMIP_KEY_FORMAT_TYPE_PKCS_1, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, 2048, junk, sizeof(junk), NULL, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);
}

/* Locate by Name, by Object Type, with paging, and with the criteria in a Template-Attribute. */
static void
test_locate(void **state)
{
	static const uint8_t bytes[] = "some opaque secret";
	struct ops *o = *state;
	struct ttlv_arena *a, *a2;
	struct ttlv *resp, *all;
	char key1[64], key2[64], secret[64], second[64], last[64];
	const struct ttlv *t;
	unsigned n;

	create_aes(o->cl, 128, "ops-locate-key-1", key1);
	create_aes(o->cl, 128, "ops-locate-key-2", key2);
	resp = register_req(o->cl, KMIP_OBJECT_TYPE_SECRET_DATA, KMIP_TAG_SECRET_DATA, KMIP_SECRET_DATA_TYPE_SEED,
	    KMIP_KEY_FORMAT_TYPE_OPAQUE, 0, 0, bytes, sizeof(bytes), "ops-locate-secret", &a);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, secret, sizeof(secret));
	ttlv_arena_free(a);

	/* By Name: exactly the one object. */
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-locate-key-2", .max = -1, .offset = -1 }, &a);
	assert_int_equal(located_count(resp), 1);
	assert_true(located(resp, key2));
	ttlv_arena_free(a);
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-locate-nothing", .max = -1, .offset = -1 }, &a);
	assert_int_equal(located_count(resp), 0);
	ttlv_arena_free(a);

	/* Criteria wrapped in a Template-Attribute, as some 1.x clients send them. */
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-locate-secret", .max = -1, .offset = -1,
	    .wrapped = true }, &a);
	assert_int_equal(located_count(resp), 1);
	assert_true(located(resp, secret));
	ttlv_arena_free(a);

	/* By Object Type: the keys, not the secret. */
	all = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = -1, .offset = -1 },
	    &a2);
	n = located_count(all);
	assert_true(n >= 2);
	assert_true(located(all, key1) && located(all, key2));
	assert_false(located(all, secret));
	t = ttlv_find(h_payload(all, 0), KMIP_TAG_UNIQUE_IDENTIFIER);
	snprintf(second, sizeof(second), "%s", (const char *)ttlv_find_next(t)->v.bytes.data);
	while (ttlv_find_next(t) != NULL)
		t = ttlv_find_next(t);
	snprintf(last, sizeof(last), "%s", (const char *)t->v.bytes.data);
	ttlv_arena_free(a2);
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SECRET_DATA, .name = "ops-locate-secret",
	    .max = -1, .offset = -1 }, &a);
	assert_int_equal(located_count(resp), 1);
	ttlv_arena_free(a);

	/* Maximum Items 1 alone: one identifier, and no Located Items (not paging). */
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = 1, .offset = -1 },
	    &a);
	assert_int_equal(located_count(resp), 1);
	assert_int_equal(located_items(resp), -1);
	ttlv_arena_free(a);
	/* The first page of one: Located Items counts every match. */
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = 1, .offset = 0 },
	    &a);
	assert_int_equal(located_count(resp), 1);
	assert_int_equal(located_items(resp), (int)n);
	ttlv_arena_free(a);
	/* Offset Items skips from the front of the same order. */
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = 1, .offset = 1 },
	    &a);
	assert_int_equal(located_count(resp), 1);
	assert_true(located(resp, second));
	assert_int_equal(located_items(resp), (int)n);
	ttlv_arena_free(a);
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = -1,
	    .offset = (int)n - 1 }, &a);
	assert_int_equal(located_count(resp), 1);
	assert_true(located(resp, last));
	ttlv_arena_free(a);
	resp = locate(o->cl, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = -1,
	    .offset = (int)n }, &a);
	assert_int_equal(located_count(resp), 0);
	ttlv_arena_free(a);
}

/* Revoke for Key Compromise: Compromised with a Compromise Date, then Destroyed Compromised. */
static void
test_revoke_compromise(void **state)
{
	struct ops *o = *state;
	char uid[64];

	create_aes(o->cl, 256, NULL, uid);
	uid_op_ok(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0);
	uid_op_ok(o->cl, KMIP_OPERATION_REVOKE, uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE);
	expect_state(o->cl, uid, KMIP_STATE_COMPROMISED, "Compromise Date");
	uid_op_ok(o->cl, KMIP_OPERATION_DESTROY, uid, 0);
	expect_state(o->cl, uid, KMIP_STATE_DESTROYED_COMPROMISED, "Destroy Date");
}


/* Add, Modify and Delete Attribute on Names, by index. */
static void
test_attribute_edits(void **state)
{
	struct ops *o = *state;
	const struct ttlv *at, *idx;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64], buf[64];

	create_aes(o->cl, 128, "ops-attr-first", uid);
	/* A second Name gets index 1. */
	resp = name_edit(o->cl, KMIP_OPERATION_ADD_ATTRIBUTE, uid, -1, "ops-attr-second", &a);
	h_expect_ok(resp, 0);
	assert_string_equal(item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, buf, sizeof(buf)), uid);
	at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	assert_non_null(at);
	idx = ttlv_find(at, KMIP_TAG_ATTRIBUTE_INDEX);
	assert_non_null(idx);
	assert_int_equal(idx->v.i32, 1);
	ttlv_arena_free(a);
	assert_string_equal(name_of(o->cl, uid, 1, buf, sizeof(buf)), "ops-attr-second");

	/* Modify Name 0: the response carries the new value. */
	resp = name_edit(o->cl, KMIP_OPERATION_MODIFY_ATTRIBUTE, uid, 0, "ops-attr-renamed", &a);
	h_expect_ok(resp, 0);
	at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	assert_non_null(at);
	assert_string_equal((const char *)ttlv_find(ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE),
	    KMIP_TAG_NAME_VALUE)->v.bytes.data, "ops-attr-renamed");
	ttlv_arena_free(a);
	assert_string_equal(name_of(o->cl, uid, 0, buf, sizeof(buf)), "ops-attr-renamed");

	/* Delete Name 1: only the renamed one is left. */
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_DELETE_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_enc_int(&req, KMIP_TAG_ATTRIBUTE_INDEX, 1);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	assert_non_null(at);
	assert_string_equal((const char *)ttlv_find(ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE),
	    KMIP_TAG_NAME_VALUE)->v.bytes.data, "ops-attr-second");
	ttlv_arena_free(a);
	assert_string_equal(name_of(o->cl, uid, 0, buf, sizeof(buf)), "ops-attr-renamed");
	assert_string_equal(name_of(o->cl, uid, 1, buf, sizeof(buf)), "");
}

/*
 * A storage array's key rotation at 1.4: Operation Policy Name "default" set, then added again with the
 * same value (accepted: nothing changes; another value is still refused), Activate, then Re-key without an
 * Offset, after which the array checks that the replacement is Active.
 */
static void
test_storage_array_rotation(void **state)
{
	static const char *const values[] = { "default", "default", "restricted" };
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64], nuid[64];
	unsigned i;

	create_aes(o->cl, 256, NULL, uid);
	for (i = 0; i < 3; i++) {
		resp = attr_edit(o->cl, KMIP_OPERATION_ADD_ATTRIBUTE, uid, -1, "Operation Policy Name", values[i], &a);
		if (i < 2)
			h_expect_ok(resp, 0);
		else
			h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
	}
	uid_op_ok(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0);
	resp = uid_op(o->cl, KMIP_OPERATION_RE_KEY, uid, 0, &a);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, nuid, sizeof(nuid));
	assert_string_not_equal(nuid, uid);
	ttlv_arena_free(a);
	expect_state(o->cl, nuid, KMIP_STATE_ACTIVE, "Activation Date");
}

/* State is the server's to set; Activation Date is frozen once the key is Active. */
static void
test_attribute_edit_denied(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 128, NULL, uid);
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_ADD_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_attr_enum(&req, "State", KMIP_STATE_ACTIVE);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_PERMISSION_DENIED, NULL);
	ttlv_arena_free(a);
	expect_state(o->cl, uid, KMIP_STATE_PRE_ACTIVE, NULL);

	uid_op_ok(o->cl, KMIP_OPERATION_ACTIVATE, uid, 0);
	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_MODIFY_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Activation Date");
	ttlv_enc_datetime(&req, KMIP_TAG_ATTRIBUTE_VALUE, 4102444800);	/* 2100-01-01 */
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_PERMISSION_DENIED, NULL);
	ttlv_arena_free(a);
	expect_state(o->cl, uid, KMIP_STATE_ACTIVE, NULL);
}

/* With access.admins=kmip-admin, the administrator sees and may act on the client's objects. */
static void
test_admin_sees_all(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 128, "ops-owned-by-client", uid);
	resp = get(o->admin, uid, 0, &a);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
	resp = locate(o->admin, &(struct locate_q){ .name = "ops-owned-by-client", .max = -1, .offset = -1 }, &a);
	assert_true(located(resp, uid));
	ttlv_arena_free(a);
	uid_op_ok(o->admin, KMIP_OPERATION_DESTROY, uid, 0);
}

/* Continue: a failing first item does not stop the second; both are answered, in order. */
static void
test_batch_continue(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	request_begin_hdr(&req, 1, 4, 2, &(struct hdr){ .continuation =
	    KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE });
	h_item_begin_id(&req, KMIP_OPERATION_GET, "first");
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-object-batch");
	h_item_end(&req);
	h_item_begin_id(&req, KMIP_OPERATION_CREATE, "second");
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 128);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	assert_int_equal(response_batch_count(resp), 2);
	assert_int_equal(ttlv_count(resp, KMIP_TAG_BATCH_ITEM), 2);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
	h_expect_ok(resp, 1);
	assert_int_equal(ttlv_find(h_batch_item(resp, 0), KMIP_TAG_OPERATION)->v.u32, KMIP_OPERATION_GET);
	assert_int_equal(ttlv_find(h_batch_item(resp, 1), KMIP_TAG_OPERATION)->v.u32, KMIP_OPERATION_CREATE);
	/* Unique Batch Item IDs are echoed as sent. */
	assert_memory_equal(ttlv_find(h_batch_item(resp, 0), KMIP_TAG_UNIQUE_BATCH_ITEM_ID)->v.bytes.data,
	    "first", 5);
	assert_memory_equal(ttlv_find(h_batch_item(resp, 1), KMIP_TAG_UNIQUE_BATCH_ITEM_ID)->v.bytes.data,
	    "second", 6);
	assert_true(ttlv_find(h_payload(resp, 1), KMIP_TAG_UNIQUE_IDENTIFIER) != NULL);
	ttlv_arena_free(a);
}

/* One Encrypt or Decrypt part with AES-GCM; returns the response (its arena in *a). */
static struct ttlv *
gcm_part(struct kmip_client *cl, uint32_t op, const char *uid, const uint8_t *data, size_t len,
    const struct ttlv *corr, int init, int final, const struct ttlv *tag, struct ttlv_arena **a)
{
	static const uint8_t iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct ttlv_enc req;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, op);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
	ttlv_enc_enum(&req, KMIP_TAG_BLOCK_CIPHER_MODE, KMIP_BLOCK_CIPHER_MODE_GCM);
	ttlv_enc_end(&req);
	ttlv_enc_bytes(&req, KMIP_TAG_DATA, data, len);
	if (corr == NULL)
		ttlv_enc_bytes(&req, KMIP_TAG_IV_COUNTER_NONCE, iv, sizeof(iv));
	else
		ttlv_enc_item(&req, corr);
	if (init >= 0)
		ttlv_enc_bool(&req, KMIP_TAG_INIT_INDICATOR, init);
	if (final >= 0)
		ttlv_enc_bool(&req, KMIP_TAG_FINAL_INDICATOR, final);
	if (tag != NULL)
		ttlv_enc_item(&req, tag);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* Encrypt in two parts under a Correlation Value; a single-part Decrypt gets the plain text back. */
static void
test_multi_part_encrypt(void **state)
{
	struct ops *o = *state;
	uint8_t plain[48], cipher[64];
	struct ttlv_arena *a1, *a2, *a3;
	const struct ttlv *corr, *d1, *d2, *tag, *back;
	struct ttlv *r1, *r2, *r3;
	struct ttlv_enc act;
	struct ttlv_arena *aa;
	char uid[64];
	size_t i;

	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 5 + 1);
	create_aes(o->cl, 256, "ops-multi-part", uid);
	h_uid_request(&act, KMIP_OPERATION_ACTIVATE, uid, 0);
	h_expect_ok(call(o->cl, &act, &aa, 1, 4), 0);
	ttlv_arena_free(aa);
	r1 = gcm_part(o->cl, KMIP_OPERATION_ENCRYPT, uid, plain, 20, NULL, 1, 0, NULL, &a1);
	h_expect_ok(r1, 0);
	corr = ttlv_find(h_payload(r1, 0), KMIP_TAG_CORRELATION_VALUE);
	d1 = ttlv_find(h_payload(r1, 0), KMIP_TAG_DATA);
	assert_non_null(corr);
	assert_non_null(d1);
	assert_null(ttlv_find(h_payload(r1, 0), KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG));
	r2 = gcm_part(o->cl, KMIP_OPERATION_ENCRYPT, uid, plain + 20, sizeof(plain) - 20, corr, -1, 1, NULL, &a2);
	h_expect_ok(r2, 0);
	d2 = ttlv_find(h_payload(r2, 0), KMIP_TAG_DATA);
	tag = ttlv_find(h_payload(r2, 0), KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG);
	assert_non_null(d2);
	assert_non_null(tag);
	assert_int_equal(d1->length + d2->length, sizeof(plain));
	memcpy(cipher, d1->v.bytes.data, d1->length);
	memcpy(cipher + d1->length, d2->v.bytes.data, d2->length);
	r3 = gcm_part(o->cl, KMIP_OPERATION_DECRYPT, uid, cipher, sizeof(plain), NULL, -1, -1, tag, &a3);
	h_expect_ok(r3, 0);
	back = ttlv_find(h_payload(r3, 0), KMIP_TAG_DATA);
	assert_int_equal(back->length, sizeof(plain));
	assert_memory_equal(back->v.bytes.data, plain, sizeof(plain));
	/* The context is gone after the final part: its Correlation Value no longer works. */
	ttlv_arena_free(a3);
	r3 = gcm_part(o->cl, KMIP_OPERATION_ENCRYPT, uid, plain, 16, corr, -1, 1, NULL, &a3);
	h_expect_fail(r3, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a3);
	ttlv_arena_free(a2);
	ttlv_arena_free(a1);
}

/* An Undo batch: Create a key named name, then Get an object that does not exist. */
static void
undo_request(struct ttlv_enc *req, const char *name)
{
	request_begin_hdr(req, 1, 4, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
	h_item_begin_id(req, KMIP_OPERATION_CREATE, "made");
	ttlv_enc_enum(req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(req, "Cryptographic Length", 128);
	h_attr_name(req, name);
	ttlv_enc_end(req);
	h_item_end(req);
	h_item_begin_id(req, KMIP_OPERATION_GET, "fails");
	ttlv_enc_cstr(req, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-object-undo");
	h_item_end(req);
	h_request_end(req);
}

/* Undo: a failing item rolls back the items before it, which answer Operation Undone. */
static void
test_batch_undo(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	const struct ttlv *u;
	char uid[64];

	undo_request(&req, "ops-undone-key");
	resp = call(o->cl, &req, &a, 1, 4);
	assert_int_equal(response_batch_count(resp), 2);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_UNDONE);
	u = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER);
	assert_non_null(u);
	snprintf(uid, sizeof(uid), "%s", (const char *)u->v.bytes.data);
	h_expect_fail(resp, 1, KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
	ttlv_arena_free(a);
	/* The key the first item made is gone, as if the batch had not run. */
	resp = get(o->cl, uid, 0, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
	ttlv_arena_free(a);
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-undone-key", .max = -1, .offset = -1 }, &a);
	assert_false(located(resp, uid));
	ttlv_arena_free(a);
}

/* Stop, the default: the batch ends at the first failure. */
static void
test_batch_stop(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	request_begin_hdr(&req, 1, 4, 2, &(struct hdr){ 0 });
	h_item_begin_id(&req, KMIP_OPERATION_GET, "a1");
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-object-batch");
	h_item_end(&req);
	h_item_begin_id(&req, KMIP_OPERATION_GET, "a2");
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, "no-such-object-batch-2");
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	assert_int_equal(response_batch_count(resp), 1);
	assert_int_equal(ttlv_count(resp, KMIP_TAG_BATCH_ITEM), 1);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
	assert_int_equal(ttlv_find(h_batch_item(resp, 0), KMIP_TAG_UNIQUE_BATCH_ITEM_ID)->length, 2);
	assert_memory_equal(ttlv_find(h_batch_item(resp, 0), KMIP_TAG_UNIQUE_BATCH_ITEM_ID)->v.bytes.data,
	    "a1", 2);
	ttlv_arena_free(a);
}

/* A Get whose response cannot fit in 50 bytes is refused with Response Too Large. */
static void
test_max_response_size(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 256, NULL, uid);
	request_begin_hdr(&req, 1, 4, 1, &(struct hdr){ .max_response_size = 50 });
	h_item_begin(&req, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE, NULL);
	assert_null(ttlv_find(h_payload(resp, 0), KMIP_TAG_SYMMETRIC_KEY));
	ttlv_arena_free(a);
}

static void
test_async_refused(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	request_begin_hdr(&req, 1, 4, 1, &(struct hdr){ .async = true });
	enc_create_aes(&req, 128, NULL);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED, NULL);
	ttlv_arena_free(a);
}

/* ID Placeholder: Activate without a Unique Identifier acts on the key the Create before it made. */
static void
test_id_placeholder(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64], activated[64];

	h_request_begin(&req, 1, 4, 2);
	enc_create_aes(&req, 128, NULL);
	h_item_begin(&req, KMIP_OPERATION_ACTIVATE);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	assert_int_equal(response_batch_count(resp), 2);
	h_expect_ok(resp, 0);
	h_expect_ok(resp, 1);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
	item_text(resp, 1, KMIP_TAG_UNIQUE_IDENTIFIER, activated, sizeof(activated));
	assert_true(uid[0] != '\0');
	assert_string_equal(activated, uid);
	ttlv_arena_free(a);
	expect_state(o->cl, uid, KMIP_STATE_ACTIVE, "Activation Date");
}


/* KMIP 2.1 request shapes. */

/* Sends one 2.1 item naming uid (NULL: none) and returns the response; the caller frees *a. */
static struct ttlv *
uid_op21(struct kmip_client *cl, uint32_t op, const char *uid, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, op);
	if (uid != NULL)
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 2, 1);
}

/* Creates an AES key at 2.1 with an Attributes structure; copies its identifier into uid (64 bytes). */
static void
create_aes21(struct kmip_client *cl, int bits, const char *name, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTES);
	ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, bits);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (name != NULL) {
		ttlv_enc_begin(&req, KMIP_TAG_NAME);
		ttlv_enc_cstr(&req, KMIP_TAG_NAME_VALUE, name);
		ttlv_enc_enum(&req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(&req);
	}
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, 2, 1);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
	ttlv_arena_free(a);
}

/* Get Attributes at 2.1 for one attribute (by Attribute Reference); returns the Attributes structure's
 * first child with that tag, or NULL; the caller frees *a. */
static const struct ttlv *
get_attr21(struct kmip_client *cl, const char *uid, uint32_t tag, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;
	const struct ttlv *attrs;

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, tag);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, a, 2, 1);
	h_expect_ok(resp, 0);
	attrs = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTES);
	assert_non_null(attrs);
	return ttlv_find(attrs, tag);
}

/* Create with an Attributes structure, then Get: a Raw key of the asked length. */
static void
test_v21_create_get(void **state)
{
	struct ops *o = *state;
	const struct ttlv *block, *v;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes21(o->cl, 256, "ops-v21-key", uid);
	resp = uid_op21(o->cl, KMIP_OPERATION_GET, uid, &a);
	h_expect_ok(resp, 0);
	block = key_block(resp, KMIP_TAG_SYMMETRIC_KEY);
	assert_int_equal(ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
	assert_int_equal(key_material(block)->length, 32);
	ttlv_arena_free(a);
	v = get_attr21(o->cl, uid, KMIP_TAG_NAME, &a);
	assert_non_null(v);
	assert_string_equal((const char *)ttlv_find(v, KMIP_TAG_NAME_VALUE)->v.bytes.data, "ops-v21-key");
	ttlv_arena_free(a);
	v = get_attr21(o->cl, uid, KMIP_TAG_STATE, &a);
	assert_non_null(v);
	assert_int_equal(v->v.u32, KMIP_STATE_PRE_ACTIVE);
	ttlv_arena_free(a);
}

static void
test_v21_get_unknown(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;

	resp = uid_op21(o->cl, KMIP_OPERATION_GET, "no-such-object-v21", &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND, NULL);
	ttlv_arena_free(a);
}

static void
test_v21_activate_twice(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes21(o->cl, 128, NULL, uid);
	resp = uid_op21(o->cl, KMIP_OPERATION_ACTIVATE, uid, &a);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
	resp = uid_op21(o->cl, KMIP_OPERATION_ACTIVATE, uid, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, NULL);
	ttlv_arena_free(a);
}

/* A 2.1 Modify Attribute of uid's Contact Information from current to new; returns the response. */
static struct ttlv *
modify_contact21(struct kmip_client *cl, const char *uid, const char *current, const char *new,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_MODIFY_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_CURRENT_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_CONTACT_INFORMATION, current);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_NEW_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_CONTACT_INFORMATION, new);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 2, 1);
}

/* Set, Modify (Current Attribute to New Attribute) and Delete (by Attribute Reference) Contact Information. */
static void
test_v21_attribute_edits(void **state)
{
	struct ops *o = *state;
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64], got[64];

	create_aes21(o->cl, 128, NULL, uid);
	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_SET_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&req, KMIP_TAG_NEW_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_CONTACT_INFORMATION, "ops@example.org");
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 2, 1);
	h_expect_ok(resp, 0);
	assert_string_equal(item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
	ttlv_arena_free(a);
	v = get_attr21(o->cl, uid, KMIP_TAG_CONTACT_INFORMATION, &a);
	assert_non_null(v);
	assert_string_equal((const char *)v->v.bytes.data, "ops@example.org");
	ttlv_arena_free(a);

	resp = modify_contact21(o->cl, uid, "ops@example.org", "security@example.org", &a);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
	v = get_attr21(o->cl, uid, KMIP_TAG_CONTACT_INFORMATION, &a);
	assert_non_null(v);
	assert_string_equal((const char *)v->v.bytes.data, "security@example.org");
	ttlv_arena_free(a);

	/* A Current Attribute that does not match is not modified. */
	resp = modify_contact21(o->cl, uid, "nobody@example.org", "wrong@example.org", &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND, NULL);
	ttlv_arena_free(a);

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_DELETE_ATTRIBUTE);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, KMIP_TAG_CONTACT_INFORMATION);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 2, 1);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
	v = get_attr21(o->cl, uid, KMIP_TAG_CONTACT_INFORMATION, &a);
	assert_null(v);
	ttlv_arena_free(a);
}

/* CreateKeyPair with Common, Private and Public Key Attributes; each half links to the other. */
static void
test_v21_create_key_pair(void **state)
{
	struct ops *o = *state;
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char priv[64], pub[64];

	h_request_begin(&req, 2, 1, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&req, KMIP_TAG_COMMON_ATTRIBUTES);
	ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 2048);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PRIVATE_KEY_ATTRIBUTES);
	ttlv_enc_begin(&req, KMIP_TAG_NAME);
	ttlv_enc_cstr(&req, KMIP_TAG_NAME_VALUE, "ops-v21-private");
	ttlv_enc_enum(&req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(&req);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PUBLIC_KEY_ATTRIBUTES);
	ttlv_enc_begin(&req, KMIP_TAG_NAME);
	ttlv_enc_cstr(&req, KMIP_TAG_NAME_VALUE, "ops-v21-public");
	ttlv_enc_enum(&req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(&req);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 2, 1);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv, sizeof(priv));
	item_text(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub, sizeof(pub));
	ttlv_arena_free(a);
	assert_true(priv[0] != '\0' && pub[0] != '\0' && strcmp(priv, pub) != 0);

	v = get_attr21(o->cl, priv, KMIP_TAG_LINK, &a);
	assert_non_null(v);
	assert_int_equal(ttlv_find(v, KMIP_TAG_LINK_TYPE)->v.u32, KMIP_LINK_TYPE_PUBLIC_KEY_LINK);
	assert_string_equal((const char *)ttlv_find(v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER)->v.bytes.data, pub);
	ttlv_arena_free(a);
	v = get_attr21(o->cl, pub, KMIP_TAG_LINK, &a);
	assert_non_null(v);
	assert_int_equal(ttlv_find(v, KMIP_TAG_LINK_TYPE)->v.u32, KMIP_LINK_TYPE_PRIVATE_KEY_LINK);
	assert_string_equal((const char *)ttlv_find(v, KMIP_TAG_LINKED_OBJECT_IDENTIFIER)->v.bytes.data, priv);
	ttlv_arena_free(a);
	/* Each half got its own Name and Usage Mask. */
	v = get_attr21(o->cl, pub, KMIP_TAG_NAME, &a);
	assert_non_null(v);
	assert_string_equal((const char *)ttlv_find(v, KMIP_TAG_NAME_VALUE)->v.bytes.data, "ops-v21-public");
	ttlv_arena_free(a);
	v = get_attr21(o->cl, priv, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, &a);
	assert_non_null(v);
	assert_int_equal(v->v.i32, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
	ttlv_arena_free(a);
}

/* A server without access.admins: kmip-admin is just another client. */
static int
group_setup_no_admins(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0", NULL });
}

/* A server without group commit, so without savepoints. */
static int
group_setup_no_group_commit(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0", "store.group_commit=false", NULL });
}

/* Without savepoints Undo cannot be honoured: the batch is refused whole and none of it runs. */
static void
test_batch_undo_refused(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	undo_request(&req, "ops-undo-refused-key");
	resp = call(o->cl, &req, &a, 1, 4);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(h_result_reason(resp), KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
	ttlv_arena_free(a);
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-undo-refused-key", .max = -1, .offset = -1 }, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(located_count(resp), 0);
	ttlv_arena_free(a);
}

/* Objects belong to their creator: another identity cannot get, find or destroy them. */
static void
test_owner_isolation(void **state)
{
	struct ops *o = *state;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[64];

	create_aes(o->cl, 128, "ops-isolated", uid);
	uid_op_fail(o->admin, KMIP_OPERATION_GET, uid, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	resp = locate(o->admin, &(struct locate_q){ .name = "ops-isolated", .max = -1, .offset = -1 }, &a);
	assert_int_equal(located_count(resp), 0);
	ttlv_arena_free(a);
	uid_op_fail(o->admin, KMIP_OPERATION_DESTROY, uid, 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	/* The owner still has it, untouched. */
	resp = locate(o->cl, &(struct locate_q){ .name = "ops-isolated", .max = -1, .offset = -1 }, &a);
	assert_true(located(resp, uid));
	ttlv_arena_free(a);
	expect_state(o->cl, uid, KMIP_STATE_PRE_ACTIVE, NULL);
}

/* The dates Re-key and Re-key Key Pair set on a replacement (KMIP 1.4 sections 4.4 and 4.5), Initial first. */
enum { IT, AT, CT, TT, DT, NDATES };
static const char *const rekey_date_names[] = { "Initial Date", "Activation Date", "Process Start Date",
    "Protect Stop Date", "Deactivation Date" };

/* Reads uid's dates (0 when absent) into when at 1.4 and returns its State. */
static uint32_t
read_dates(struct kmip_client *cl, const char *uid, int64_t when[NDATES])
{
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv *resp;
	uint32_t st;
	unsigned i;

	resp = get_attrs(cl, uid, (const char *const[]){ "State", rekey_date_names[IT], rekey_date_names[AT],
	    rekey_date_names[CT], rekey_date_names[TT], rekey_date_names[DT], NULL }, &a);
	h_expect_ok(resp, 0);
	for (i = 0; i < NDATES; i++) {
		v = attr_value(h_payload(resp, 0), rekey_date_names[i], 0);
		when[i] = v != NULL ? v->v.i64 : 0;
	}
	v = attr_value(h_payload(resp, 0), "State", 0);
	assert_non_null(v);
	st = v->v.u32;
	ttlv_arena_free(a);
	return st;
}

/* A 1.x Date-Time attribute in a template. */
static void
enc_attr_date(struct ttlv_enc *e, const char *name, int64_t when)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	ttlv_enc_datetime(e, KMIP_TAG_ATTRIBUTE_VALUE, when);
	ttlv_enc_end(e);
}

/*
 * Creates at 1.4 an AES key, or an EC P-256 pair when pub is not NULL, Active since an hour ago, with a
 * Deactivation Date two days ahead and (the AES key) a Process Start Date and a Protect Stop Date around now.
 */
static void
create_dated(struct kmip_client *cl, char *uid, char *pub)
{
	int64_t now = (int64_t)time(NULL);
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, pub != NULL ? KMIP_OPERATION_CREATE_KEY_PAIR : KMIP_OPERATION_CREATE);
	if (pub == NULL)
		ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, pub != NULL ? KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE : KMIP_TAG_TEMPLATE_ATTRIBUTE);
	if (pub != NULL) {
		h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		h_attr_int(&req, "Cryptographic Length", 256);
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Domain Parameters");
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTE_VALUE);
		ttlv_enc_enum(&req, KMIP_TAG_RECOMMENDED_CURVE, KMIP_RECOMMENDED_CURVE_P_256);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
	} else {
		h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		h_attr_int(&req, "Cryptographic Length", 128);
		h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
		enc_attr_date(&req, "Process Start Date", now - 1800);
		enc_attr_date(&req, "Protect Stop Date", now + 86400);
	}
	enc_attr_date(&req, "Activation Date", now - 3600);
	enc_attr_date(&req, "Deactivation Date", now + 2 * 86400);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	item_text(resp, 0, pub != NULL ? KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER : KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	if (pub != NULL)
		item_text(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub, 64);
	ttlv_arena_free(a);
	assert_true(uid[0] != '\0' && (pub == NULL || pub[0] != '\0'));
}

/*
 * Like rekey_at(), giving Activation Date act (0: none) in the request's common attributes (a Re-key's own
 * Template-Attribute or Attributes).
 */
static void
rekey_at_dated(struct kmip_client *cl, int major, int minor, const char *uid, int64_t offset, int64_t act,
    char *nuid, char *npub)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, major, minor, 1);
	h_item_begin(&req, npub != NULL ? KMIP_OPERATION_RE_KEY_KEY_PAIR : KMIP_OPERATION_RE_KEY);
	ttlv_enc_cstr(&req, npub != NULL ? KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER : KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (offset >= 0)
		ttlv_enc_interval(&req, KMIP_TAG_OFFSET, (uint32_t)offset);
	if (act != 0 && major == 1) {
		ttlv_enc_begin(&req, npub != NULL ? KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE : KMIP_TAG_TEMPLATE_ATTRIBUTE);
		enc_attr_date(&req, "Activation Date", act);
		ttlv_enc_end(&req);
	} else if (act != 0) {
		ttlv_enc_begin(&req, npub != NULL ? KMIP_TAG_COMMON_ATTRIBUTES : KMIP_TAG_ATTRIBUTES);
		ttlv_enc_datetime(&req, KMIP_TAG_ACTIVATION_DATE, act);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, major, minor);
	h_expect_ok(resp, 0);
	item_text(resp, 0, npub != NULL ? KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER : KMIP_TAG_UNIQUE_IDENTIFIER, nuid, 64);
	if (npub != NULL)
		item_text(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, npub, 64);
	ttlv_arena_free(a);
	assert_true(nuid[0] != '\0' && strcmp(nuid, uid) != 0);
}

/*
 * Re-keys uid (a private key, its pair re-keyed with it, when npub is not NULL) at major.minor, with an
 * Offset of offset seconds (negative: none); the replacement's identifiers go to nuid and npub.
 */
static void
rekey_at(struct kmip_client *cl, int major, int minor, const char *uid, int64_t offset, char *nuid, char *npub)
{
	rekey_at_dated(cl, major, minor, uid, offset, 0, nuid, npub);
}

/*
 * Asserts the dates of new, the replacement of old made with an Offset of offset seconds (negative: none):
 * without one, old's Activation, Process Start, Protect Stop and Deactivation Dates, so an Active key's
 * replacement is Active; with one, Activation Date = Initial Date + Offset and each other date moved by
 * the same amount as the Activation Date (KMIP 1.4 section 4.4's table).
 */
static void
expect_rekey_dates(struct kmip_client *cl, const char *old, const char *new, int64_t offset)
{
	int64_t was[NDATES], now[NDATES];
	unsigned i;

	assert_int_equal(read_dates(cl, old, was), KMIP_STATE_ACTIVE);
	assert_int_equal(read_dates(cl, new, now), offset < 0 ? KMIP_STATE_ACTIVE : KMIP_STATE_PRE_ACTIVE);
	assert_true(was[AT] != 0 && was[DT] != 0 && now[IT] >= was[IT]);
	if (offset < 0) {
		for (i = AT; i < NDATES; i++)
			assert_int_equal(now[i], was[i]);
		return;
	}
	assert_int_equal(now[AT], now[IT] + offset);
	for (i = CT; i < NDATES; i++)
		assert_int_equal(now[i], was[i] == 0 ? 0 : was[i] + (now[AT] - was[AT]));
}

/* Re-key of an Active key at 1.4 and 2.1: without an Offset an Active replacement with the same dates. */
static void
test_rekey_dates(void **state)
{
	static const int versions[][2] = { { 1, 4 }, { 2, 1 } };
	static const int64_t offsets[] = { -1, 3600 };
	struct ops *o = *state;
	char uid[64], nuid[64];
	unsigned v, i;

	for (v = 0; v < 2; v++) {
		for (i = 0; i < 2; i++) {
			create_dated(o->cl, uid, NULL);
			rekey_at(o->cl, versions[v][0], versions[v][1], uid, offsets[i], nuid, NULL);
			expect_rekey_dates(o->cl, uid, nuid, offsets[i]);
		}
	}
}

/* Re-key Key Pair likewise, for both halves. */
static void
test_rekey_key_pair_dates(void **state)
{
	static const int versions[][2] = { { 1, 4 }, { 2, 1 } };
	static const int64_t offsets[] = { -1, 3600 };
	struct ops *o = *state;
	char priv[64], pub[64], npriv[64], npub[64];
	unsigned v, i;

	for (v = 0; v < 2; v++) {
		for (i = 0; i < 2; i++) {
			create_dated(o->cl, priv, pub);
			rekey_at(o->cl, versions[v][0], versions[v][1], priv, offsets[i], npriv, npub);
			expect_rekey_dates(o->cl, priv, npriv, offsets[i]);
			expect_rekey_dates(o->cl, pub, npub, offsets[i]);
		}
	}
}

/*
 * Operation Policy Name "default" given at Create and added again: accepted, nothing changes; another value
 * is refused as before (1.4: Invalid Field).
 */
static void
test_readd_policy_name(void **state)
{
	struct ops *o = *state;
	const struct ttlv *v;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char uid[64];

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 256);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	h_attr_text(&req, "Operation Policy Name", "default");
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	h_expect_ok(resp, 0);
	item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
	ttlv_arena_free(a);

	resp = attr_edit(o->cl, KMIP_OPERATION_ADD_ATTRIBUTE, uid, -1, "Operation Policy Name", "default", &a);
	h_expect_ok(resp, 0);
	ttlv_arena_free(a);
	resp = attr_edit(o->cl, KMIP_OPERATION_ADD_ATTRIBUTE, uid, -1, "Operation Policy Name", "other", &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);
	resp = get_attrs(o->cl, uid, (const char *const[]){ "Operation Policy Name", NULL }, &a);
	h_expect_ok(resp, 0);
	v = attr_value(h_payload(resp, 0), "Operation Policy Name", 0);
	assert_non_null(v);
	assert_string_equal((const char *)v->v.bytes.data, "default");
	assert_null(attr_value(h_payload(resp, 0), "Operation Policy Name", 1));
	ttlv_arena_free(a);
}

/*
 * An Activation Date given in the request (a pair's common attributes) wins over the old key's, at 1.4
 * and 2.1, for a key and for both halves of a pair; the other dates are still copied.
 */
static void
test_rekey_given_date(void **state)
{
	static const int versions[][2] = { { 1, 4 }, { 2, 1 } };
	struct ops *o = *state;
	int64_t act = (int64_t)time(NULL) + 7200, was[NDATES], now[NDATES];
	char uid[64], pub[64], nuid[64], npub[64];
	const char *olds[2], *news[2];
	unsigned v, pair, i;

	for (v = 0; v < 2; v++) {
		for (pair = 0; pair < 2; pair++) {
			create_dated(o->cl, uid, pair ? pub : NULL);
			rekey_at_dated(o->cl, versions[v][0], versions[v][1], uid, -1, act, nuid, pair ? npub : NULL);
			olds[0] = uid, olds[1] = pub, news[0] = nuid, news[1] = npub;
			for (i = 0; i <= pair; i++) {
				assert_int_equal(read_dates(o->cl, olds[i], was), KMIP_STATE_ACTIVE);
				assert_int_equal(read_dates(o->cl, news[i], now), KMIP_STATE_PRE_ACTIVE);
				assert_int_equal(now[AT], act);
				assert_int_equal(now[DT], was[DT]);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_aes),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_get_unknown),
		cmocka_unit_test(test_get_wrong_format),
		cmocka_unit_test(test_activate_twice),
		cmocka_unit_test(test_revoke_without_reason),
		cmocka_unit_test(test_destroy_pre_active),
		cmocka_unit_test(test_create_key_pair),
		cmocka_unit_test(test_create_key_pair_rsa_1000),
		cmocka_unit_test(test_register_symmetric),
		cmocka_unit_test(test_register_secret_data),
		cmocka_unit_test(test_register_garbage_private_key),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_revoke_compromise),
		cmocka_unit_test(test_attribute_edits),
		cmocka_unit_test(test_attribute_edit_denied),
		cmocka_unit_test(test_storage_array_rotation),
		cmocka_unit_test(test_admin_sees_all),
		cmocka_unit_test(test_batch_continue),
		cmocka_unit_test(test_batch_undo),
		cmocka_unit_test(test_multi_part_encrypt),
		cmocka_unit_test(test_batch_stop),
		cmocka_unit_test(test_max_response_size),
		cmocka_unit_test(test_async_refused),
		cmocka_unit_test(test_id_placeholder),
		cmocka_unit_test(test_v21_create_get),
		cmocka_unit_test(test_v21_get_unknown),
		cmocka_unit_test(test_v21_activate_twice),
		cmocka_unit_test(test_v21_attribute_edits),
		cmocka_unit_test(test_v21_create_key_pair),
		cmocka_unit_test(test_rekey_dates),
		cmocka_unit_test(test_rekey_key_pair_dates),
		cmocka_unit_test(test_readd_policy_name),
		cmocka_unit_test(test_rekey_given_date),
	};
	const struct CMUnitTest isolation[] = {
		cmocka_unit_test(test_owner_isolation),
	};
	const struct CMUnitTest no_group_commit[] = {
		cmocka_unit_test(test_batch_undo_refused),
	};
	int failed;

	util_test_start(argc, argv);
	failed = cmocka_run_group_tests_name("ops_1_4", tests, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("ops_no_admins", isolation, group_setup_no_admins,
	    group_teardown);
	failed += cmocka_run_group_tests_name("ops_no_group_commit", no_group_commit, group_setup_no_group_commit,
	    group_teardown);
	return failed;
}
