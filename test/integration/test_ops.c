/*
 * KMIP operations end to end against the real kmipd over mutual TLS: Create, Get, Activate, Revoke and
 * Destroy at KMIP 1.4, with the Result Status, Result Reason and Result Message of each failure.
 * One server for the whole binary (keygen pool of 2, kmip-admin as administrator), one connection as
 * the normal client (client.crt) and one as the administrator (admin.crt).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test/integration/harness.h"

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
	if (o->ctx != NULL)
		SSL_CTX_free(o->ctx);
	if (o->admin_ctx != NULL)
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

/* Asserts batch item i succeeded. */
static void
expect_ok(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *msg = ttlv_find(h_batch_item(resp, i), KMIP_TAG_RESULT_MESSAGE);

	if (h_item_status(resp, i) != KMIP_RESULT_STATUS_SUCCESS && msg != NULL)
		print_error("unexpected failure: %s\n", (const char *)msg->v.bytes.data);
	assert_int_equal(h_item_status(resp, i), KMIP_RESULT_STATUS_SUCCESS);
}

/* Asserts batch item i failed with reason, and carries a non-empty Result Message. */
static void
expect_fail(const struct ttlv *resp, unsigned i, int reason)
{
	const struct ttlv *item = h_batch_item(resp, i);
	const struct ttlv *r = ttlv_find(item, KMIP_TAG_RESULT_REASON);
	const struct ttlv *msg = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);

	assert_non_null(item);
	assert_int_equal(h_item_status(resp, i), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_non_null(r);
	if ((int)r->v.u32 != reason && msg != NULL)
		print_error("reason 0x%x, message: %s\n", r->v.u32, (const char *)msg->v.bytes.data);
	assert_int_equal(r->v.u32, reason);
	assert_non_null(msg);
	assert_int_equal(msg->type, TTLV_TEXT_STRING);
	assert_true(msg->length > 0);
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
	expect_ok(resp, 0);
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

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, op);
	if (uid != NULL)
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (op == KMIP_OPERATION_REVOKE && arg != 0) {
		ttlv_enc_begin(&req, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(&req, KMIP_TAG_REVOCATION_REASON_CODE, arg);
		ttlv_enc_end(&req);
		if (arg == KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE)
			ttlv_enc_datetime(&req, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, 1);
	}
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, 1, 4);
}

/* Like uid_op, expecting success (and the identifier echoed); frees the response. */
static void
uid_op_ok(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t arg)
{
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, op, uid, arg, &a);
	char got[64];

	expect_ok(resp, 0);
	assert_string_equal(item_text(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
	ttlv_arena_free(a);
}

/* Like uid_op, expecting failure with reason; frees the response. */
static void
uid_op_fail(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t arg, int reason)
{
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, op, uid, arg, &a);

	expect_fail(resp, 0, reason);
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
		expect_ok(resp, 0);
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
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_arena_free(a);

	/* AES of 100 bits. */
	h_request_begin(&req, 1, 4, 1);
	enc_create_aes(&req, 100, NULL);
	h_request_end(&req);
	resp = call(o->cl, &req, &a, 1, 4);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
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
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
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
	expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
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
	expect_ok(resp, 0);
	v = attr_value(h_payload(resp, 0), "State", 0);
	assert_non_null(v);
	assert_int_equal(v->v.u32, KMIP_STATE_DESTROYED);
	v = attr_value(h_payload(resp, 0), "Destroy Date", 0);
	assert_non_null(v);
	assert_int_equal(v->type, TTLV_DATE_TIME);
	assert_true(v->v.i64 > 0);
	ttlv_arena_free(a);
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
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("ops_1_4", tests, group_setup, group_teardown);
}
