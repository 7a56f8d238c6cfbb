/*
 * Query, leases and Locate paging end to end against the real kmipd over mutual TLS, at KMIP 1.4 and 2.1
 * (and 1.2 where an older client must not see what came later): the Query Functions of KMIP 1.3 and 2.x
 * answered for what kmipd does, the Lease Time attribute and Obtain Lease with their refusals, and which
 * identifiers and Located Items a Locate answers for Offset Items and Maximum Items.
 * One server with leases of an hour (server.lease_time=3600, as the OASIS cases run) and one with the
 * defaults (no leases).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

struct fx {
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	bool leases;		/* the server grants leases of 3600 s */
};

/* A protocol version of a request. */
struct ver {
	int major, minor;
};

static const struct ver V12 = { 1, 2 }, V14 = { 1, 4 }, V21 = { 2, 1 };

/* Starts one kmipd with the given overrides and connects client.crt. */
static int
group_start(void **state, const char *const *overrides, bool leases)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	h_start(&f->srv, overrides);
	f->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	f->cl = h_connect(&f->srv, f->ctx);
	f->leases = leases;
	return 0;
}

static int
setup_leases(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0", "server.lease_time=3600", NULL },
	    true);
}

static int
setup_defaults(void **state)
{
	return group_start(state, (const char *const[]){ "keygen.pool_size=0", NULL }, false);
}

static int
group_teardown(void **state)
{
	struct fx *f = *state;

	if (f == NULL)
		return 0;
	kmip_client_close(f->cl);
	SSL_CTX_free(f->ctx);
	h_cleanup(&f->srv);
	free(f);
	return 0;
}

static bool
is_v2(struct ver v)
{
	return v.major >= 2;
}

/* Sends req (freed here) and returns the response, checking that it answers in the request's version. */
static struct ttlv *
call(struct fx *f, struct ttlv_enc *req, struct ver v, struct ttlv_arena **a)
{
	struct ttlv *resp = h_call(f->cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(v.major, v.minor));
	return resp;
}

/* Asserts batch item i failed with reason (a 2.x reason: what versions.c answers 1.x with) and a Result Message. */
static void
expect_fail(const struct ttlv *resp, unsigned i, uint32_t reason)
{
	if (h_response_version(resp) < KMIP_VERSION(2, 0)) {
		if (reason == KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE)
			reason = KMIP_RESULT_REASON_PERMISSION_DENIED;
		else if (reason == KMIP_RESULT_REASON_OBJECT_NOT_FOUND)
			reason = KMIP_RESULT_REASON_ITEM_NOT_FOUND;
	}
	h_expect_fail(resp, i, reason, NULL);
}

/* Creates an AES-128 key named name in version v; copies its identifier into uid (64 bytes). */
static void
create_key(struct fx *f, struct ver v, const char *name, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, v.major, v.minor, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	if (is_v2(v)) {
		ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTES);
		ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
		ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
		ttlv_enc_begin(&req, KMIP_TAG_NAME);
		ttlv_enc_cstr(&req, KMIP_TAG_NAME_VALUE, name);
		ttlv_enc_enum(&req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
	} else {
		ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		h_attr_int(&req, "Cryptographic Length", 128);
		h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
		h_attr_name(&req, name);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, &a);
	h_expect_ok(resp, 0);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
	ttlv_arena_free(a);
}

/* Sends operation op on uid (NULL: none) in version v and returns the response. */
static struct ttlv *
uid_op(struct fx *f, struct ver v, uint32_t op, const char *uid, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, v.major, v.minor, 1);
	h_item_begin(&req, op);
	if (uid != NULL)
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (op == KMIP_OPERATION_REVOKE) {
		ttlv_enc_begin(&req, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(&req, KMIP_TAG_REVOCATION_REASON_CODE, KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	return call(f, &req, v, a);
}

/* Runs op on uid and asserts that it succeeded. */
static void
uid_op_ok(struct fx *f, struct ver v, uint32_t op, const char *uid)
{
	struct ttlv_arena *a;

	h_expect_ok(uid_op(f, v, op, uid, &a), 0);
	ttlv_arena_free(a);
}

/* True when the Get Attribute List answer names the attribute (1.x: by name; 2.x: by reference). */
static bool
lists_attribute(const struct ttlv *resp, struct ver v, uint32_t tag)
{
	const struct ttlv *t;
	const char *name = ttlv_tag_name(tag);

	if (is_v2(v)) {
		for (t = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE_REFERENCE); t != NULL; t = ttlv_find_next(t))
			if (t->type == TTLV_ENUMERATION && t->v.u32 == tag)
				return true;
		return false;
	}
	for (t = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE_NAME); t != NULL; t = ttlv_find_next(t))
		if (strcmp((const char *)t->v.bytes.data, name) == 0)
			return true;
	return false;
}

/* The value of the attribute tag in a Get Attributes of uid naming it, or NULL when not answered. */
static const struct ttlv *
get_attribute(struct fx *f, struct ver v, const char *uid, uint32_t tag, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;
	const struct ttlv *t;

	h_request_begin(&req, v.major, v.minor, 1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (is_v2(v))
		ttlv_enc_enum(&req, KMIP_TAG_ATTRIBUTE_REFERENCE, tag);
	else
		ttlv_enc_cstr(&req, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(tag));
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, a);
	h_expect_ok(resp, 0);
	if (is_v2(v)) {
		t = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTES);
		return t != NULL ? ttlv_find(t, tag) : NULL;
	}
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	return t != NULL ? ttlv_find(t, KMIP_TAG_ATTRIBUTE_VALUE) : NULL;
}

/* Registers an Opaque Object in version v; copies its identifier into uid (64 bytes). */
static void
register_opaque(struct fx *f, struct ver v, char *uid)
{
	static const uint8_t data[] = "opaque bytes";
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, v.major, v.minor, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_OPAQUE_OBJECT);
	ttlv_enc_begin(&req, is_v2(v) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_OPAQUE_OBJECT);
	ttlv_enc_enum(&req, KMIP_TAG_OPAQUE_DATA_TYPE, 0x80000001);
	ttlv_enc_bytes(&req, KMIP_TAG_OPAQUE_DATA_VALUE, data, sizeof(data) - 1);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, &a);
	h_expect_ok(resp, 0);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	ttlv_arena_free(a);
}

/*
 * Leases at one version: a key lists Lease Time (3600 s) among its attributes in every state, and 2.x
 * also its Protection Storage Mask (Software); Obtain Lease answers the lease and the Last Change Date on
 * an Active key and is refused for a Pre-Active or revoked key, an Opaque Object, an unknown identifier.
 */
static void
leases_at(struct fx *f, struct ver v, const char *name)
{
	struct ttlv_arena *a;
	struct ttlv *resp;
	const struct ttlv *t;
	char uid[64], opaque[64];

	create_key(f, v, name, uid);
	resp = uid_op(f, v, KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid, &a);
	h_expect_ok(resp, 0);
	assert_true(lists_attribute(resp, v, KMIP_TAG_LEASE_TIME));
	assert_int_equal(lists_attribute(resp, v, KMIP_TAG_PROTECTION_STORAGE_MASK), is_v2(v));
	ttlv_arena_free(a);
	t = get_attribute(f, v, uid, KMIP_TAG_LEASE_TIME, &a);
	assert_non_null(t);
	assert_int_equal(t->type, TTLV_INTERVAL);
	assert_int_equal(t->v.u32, 3600);
	ttlv_arena_free(a);
	if (is_v2(v)) {
		t = get_attribute(f, v, uid, KMIP_TAG_PROTECTION_STORAGE_MASK, &a);
		assert_non_null(t);
		assert_int_equal(t->v.i32, KMIP_PROTECTION_STORAGE_MASK_SOFTWARE);
		ttlv_arena_free(a);
	}

	/* No lease on a key not yet Active. */
	resp = uid_op(f, v, KMIP_OPERATION_OBTAIN_LEASE, uid, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE);
	ttlv_arena_free(a);
	uid_op_ok(f, v, KMIP_OPERATION_ACTIVATE, uid);
	resp = uid_op(f, v, KMIP_OPERATION_OBTAIN_LEASE, uid, &a);
	h_expect_ok(resp, 0);
	assert_string_equal((const char *)ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data, uid);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_LEASE_TIME);
	assert_non_null(t);
	assert_int_equal(t->type, TTLV_INTERVAL);
	assert_int_equal(t->v.u32, 3600);
	t = ttlv_find(h_payload(resp, 0), KMIP_TAG_LAST_CHANGE_DATE);
	assert_non_null(t);
	assert_int_equal(t->type, TTLV_DATE_TIME);
	assert_true(t->v.i64 > 1700000000);
	ttlv_arena_free(a);

	/* Revoked: no new lease, and the attribute is still listed (the OASIS cases list it on a compromised key). */
	uid_op_ok(f, v, KMIP_OPERATION_REVOKE, uid);
	resp = uid_op(f, v, KMIP_OPERATION_OBTAIN_LEASE, uid, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE);
	ttlv_arena_free(a);
	resp = uid_op(f, v, KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid, &a);
	h_expect_ok(resp, 0);
	assert_true(lists_attribute(resp, v, KMIP_TAG_LEASE_TIME));
	ttlv_arena_free(a);

	resp = uid_op(f, v, KMIP_OPERATION_OBTAIN_LEASE, "no-such-object", &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND);
	ttlv_arena_free(a);

	/* An Opaque Object is not a cryptographic object: no Lease Time, no lease. */
	register_opaque(f, v, opaque);
	resp = uid_op(f, v, KMIP_OPERATION_GET_ATTRIBUTE_LIST, opaque, &a);
	h_expect_ok(resp, 0);
	assert_false(lists_attribute(resp, v, KMIP_TAG_LEASE_TIME));
	ttlv_arena_free(a);
	uid_op_ok(f, v, KMIP_OPERATION_ACTIVATE, opaque);
	resp = uid_op(f, v, KMIP_OPERATION_OBTAIN_LEASE, opaque, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_ILLEGAL_OPERATION);
	ttlv_arena_free(a);
}

static void
test_leases_1_4(void **state)
{
	leases_at(*state, V14, "query-lease-14");
}

static void
test_leases_2_1(void **state)
{
	leases_at(*state, V21, "query-lease-21");
}

/*
 * Without server.lease_time (the default) nothing changes for clients that never ask for leases: no Lease
 * Time attribute; one that asks gets a Lease Time of 0, which KMIP reads as no limit.
 */
static void
test_leases_off(void **state)
{
	struct fx *f = *state;
	const struct ver vs[] = { V14, V21 };
	struct ttlv_arena *a;
	struct ttlv *resp;
	const struct ttlv *t;
	char uid[64];
	size_t i;

	for (i = 0; i < 2; i++) {
		create_key(f, vs[i], i == 0 ? "query-nolease-14" : "query-nolease-21", uid);
		resp = uid_op(f, vs[i], KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid, &a);
		h_expect_ok(resp, 0);
		assert_false(lists_attribute(resp, vs[i], KMIP_TAG_LEASE_TIME));
		ttlv_arena_free(a);
		assert_null(get_attribute(f, vs[i], uid, KMIP_TAG_LEASE_TIME, &a));
		ttlv_arena_free(a);
		uid_op_ok(f, vs[i], KMIP_OPERATION_ACTIVATE, uid);
		resp = uid_op(f, vs[i], KMIP_OPERATION_OBTAIN_LEASE, uid, &a);
		h_expect_ok(resp, 0);
		t = ttlv_find(h_payload(resp, 0), KMIP_TAG_LEASE_TIME);
		assert_non_null(t);
		assert_int_equal(t->v.u32, 0);
		assert_non_null(ttlv_find(h_payload(resp, 0), KMIP_TAG_LAST_CHANGE_DATE));
		ttlv_arena_free(a);
	}
}

/* Sends a Query of the given functions in version v. */
static struct ttlv *
query(struct fx *f, struct ver v, const uint32_t *functions, size_t n, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;
	size_t i;

	h_request_begin(&req, v.major, v.minor, 1);
	h_item_begin(&req, KMIP_OPERATION_QUERY);
	for (i = 0; i < n; i++)
		ttlv_enc_enum(&req, KMIP_TAG_QUERY_FUNCTION, functions[i]);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, a);
	h_expect_ok(resp, 0);
	return resp;
}

/* True when payload p has a child tag holding value v (an Enumeration or Integer), or a structure with one. */
static bool
has_value(const struct ttlv *p, uint32_t parent, uint32_t tag, uint32_t v)
{
	const struct ttlv *s, *t;

	for (s = ttlv_find(p, parent); s != NULL; s = ttlv_find_next(s)) {
		t = parent == tag ? s : ttlv_find(s, tag);
		if (t != NULL && t->v.u32 == v)
			return true;
	}
	return false;
}

/* A Boolean field of Capability Information, as 0 or 1, or -1 when absent. */
static int
capability(const struct ttlv *p, uint32_t tag)
{
	const struct ttlv *c = ttlv_find(p, KMIP_TAG_CAPABILITY_INFORMATION), *t;

	assert_non_null(c);
	t = ttlv_find(c, tag);
	return t == NULL ? -1 : t->v.b;
}

static const uint32_t every_function[] = {
	KMIP_QUERY_FUNCTION_QUERY_OPERATIONS, KMIP_QUERY_FUNCTION_QUERY_OBJECTS,
	KMIP_QUERY_FUNCTION_QUERY_SERVER_INFORMATION, KMIP_QUERY_FUNCTION_QUERY_APPLICATION_NAMESPACES,
	KMIP_QUERY_FUNCTION_QUERY_EXTENSION_LIST, KMIP_QUERY_FUNCTION_QUERY_EXTENSION_MAP,
	KMIP_QUERY_FUNCTION_QUERY_ATTESTATION_TYPES, KMIP_QUERY_FUNCTION_QUERY_RNGS,
	KMIP_QUERY_FUNCTION_QUERY_VALIDATIONS, KMIP_QUERY_FUNCTION_QUERY_PROFILES,
	KMIP_QUERY_FUNCTION_QUERY_CAPABILITIES, KMIP_QUERY_FUNCTION_QUERY_CLIENT_REGISTRATION_METHODS,
	KMIP_QUERY_FUNCTION_QUERY_DEFAULTS_INFORMATION, KMIP_QUERY_FUNCTION_QUERY_STORAGE_PROTECTION_MASKS,
};

#define NFUNCTIONS (sizeof(every_function) / sizeof(every_function[0]))

/* What every version from 1.3 answers alike: RNGs, capabilities, registration, and the "none" answers. */
static void
query_common(const struct ttlv *p)
{
	const struct ttlv *rng = ttlv_find(p, KMIP_TAG_RNG_PARAMETERS);

	assert_true(has_value(p, KMIP_TAG_OPERATION, KMIP_TAG_OPERATION, KMIP_OPERATION_OBTAIN_LEASE));
	assert_true(has_value(p, KMIP_TAG_OPERATION, KMIP_TAG_OPERATION, KMIP_OPERATION_LOCATE));
	assert_true(has_value(p, KMIP_TAG_OBJECT_TYPE, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY));
	assert_true(has_value(p, KMIP_TAG_OBJECT_TYPE, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_CERTIFICATE));
	assert_non_null(rng);
	assert_int_equal(ttlv_find(rng, KMIP_TAG_RNG_ALGORITHM)->v.u32, KMIP_RNG_ALGORITHM_DRBG);
	assert_int_equal(ttlv_find(rng, KMIP_TAG_DRBG_ALGORITHM)->v.u32, KMIP_DRBG_ALGORITHM_CTR);
	assert_int_equal(ttlv_count(p, KMIP_TAG_CAPABILITY_INFORMATION), 1);
	assert_int_equal(capability(p, KMIP_TAG_STREAMING_CAPABILITY), 1);
	assert_int_equal(capability(p, KMIP_TAG_ASYNCHRONOUS_CAPABILITY), 0);
	assert_int_equal(capability(p, KMIP_TAG_ATTESTATION_CAPABILITY), 0);
	assert_true(has_value(p, KMIP_TAG_CAPABILITY_INFORMATION, KMIP_TAG_DESTROY_ACTION,
	    KMIP_DESTROY_ACTION_KEY_MATERIAL_DELETED));
	assert_true(has_value(p, KMIP_TAG_CLIENT_REGISTRATION_METHOD, KMIP_TAG_CLIENT_REGISTRATION_METHOD,
	    KMIP_CLIENT_REGISTRATION_METHOD_CLIENT_GENERATED));
	/* kmipd has no validations, attestation, extensions or application namespaces: nothing listed. */
	assert_null(ttlv_find(p, KMIP_TAG_VALIDATION_INFORMATION));
	assert_null(ttlv_find(p, KMIP_TAG_ATTESTATION_TYPE));
	assert_null(ttlv_find(p, KMIP_TAG_EXTENSION_INFORMATION));
	assert_null(ttlv_find(p, KMIP_TAG_APPLICATION_NAMESPACE));
	assert_string_equal((const char *)ttlv_find(p, KMIP_TAG_VENDOR_IDENTIFICATION)->v.bytes.data, "kmipd");
}

/* Query at 1.4: the 1.4 profile names, Batch Undo and Continue, and nothing of 2.x. */
static void
test_query_1_4(void **state)
{
	struct fx *f = *state;
	struct ttlv_arena *a;
	const struct ttlv *p;

	p = h_payload(query(f, V14, every_function, NFUNCTIONS, &a), 0);
	query_common(p);
	assert_true(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4));
	assert_true(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4));
	assert_true(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_4));
	/* The Foundry profile's cases list a Lease Time: claimed only while leases are on. */
	assert_int_equal(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_4), f->leases);
	/* Not claimed: what kmipd does not pass or speak. */
	assert_false(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_COMPLETE_SERVER_BASIC_KMIP_V1_4));
	assert_false(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_JSON_SERVER_KMIP_V1_4));
	/* No 2.x names at 1.4. */
	assert_false(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_SYMMETRIC_KEY_LIFECYCLE_SERVER));
	assert_int_equal(capability(p, KMIP_TAG_BATCH_UNDO_CAPABILITY), 1);
	assert_int_equal(capability(p, KMIP_TAG_BATCH_CONTINUE_CAPABILITY), 1);
	assert_int_equal(capability(p, KMIP_TAG_QUANTUM_SAFE_CAPABILITY), -1);
	assert_null(ttlv_find(p, KMIP_TAG_DEFAULTS_INFORMATION));
	assert_null(ttlv_find(p, KMIP_TAG_PROTECTION_STORAGE_MASKS));
	ttlv_arena_free(a);
}

/* Query at 2.1: the 2.x profile names and Defaults Information. */
static void
test_query_2_1(void **state)
{
	struct fx *f = *state;
	struct ttlv_arena *a;
	const struct ttlv *p, *d, *od, *attrs;
	bool found = false;

	p = h_payload(query(f, V21, every_function, NFUNCTIONS, &a), 0);
	query_common(p);
	assert_true(has_value(p, KMIP_TAG_OPERATION, KMIP_TAG_OPERATION, KMIP_OPERATION_SET_ATTRIBUTE));
	assert_true(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_SYMMETRIC_KEY_LIFECYCLE_SERVER));
	assert_true(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_AES_XTS_SERVER));
	assert_int_equal(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_TAPE_LIBRARY_SERVER), f->leases);
	assert_false(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4));
	assert_false(has_value(p, KMIP_TAG_PROFILE_INFORMATION, KMIP_TAG_PROFILE_NAME,
	    KMIP_PROFILE_NAME_PKCS_11_SERVER));
	/* Optional, and left out: PyKMIP 0.10 cannot read it. */
	assert_int_equal(capability(p, KMIP_TAG_QUANTUM_SAFE_CAPABILITY), -1);
	d = ttlv_find(p, KMIP_TAG_DEFAULTS_INFORMATION);
	assert_non_null(d);
	for (od = ttlv_find(d, KMIP_TAG_OBJECT_DEFAULTS); od != NULL; od = ttlv_find_next(od)) {
		if (ttlv_find(od, KMIP_TAG_OBJECT_TYPE)->v.u32 != KMIP_OBJECT_TYPE_SYMMETRIC_KEY)
			continue;
		attrs = ttlv_find(od, KMIP_TAG_ATTRIBUTES);
		assert_non_null(attrs);
		assert_false(ttlv_find(attrs, KMIP_TAG_SENSITIVE)->v.b);
		assert_true(ttlv_find(attrs, KMIP_TAG_EXTRACTABLE)->v.b);
		found = true;
	}
	assert_true(found);
	ttlv_arena_free(a);
}

/*
 * Query at 1.2: none of what came with 1.3 (Profile, Capability, RNG, Client Registration), though the
 * client asks for it, and a Query Function kmipd does not know is answered with nothing rather than
 * refused; a Query Function that is not an Enumeration is refused.
 */
static void
test_query_1_2_and_errors(void **state)
{
	struct fx *f = *state;
	const uint32_t unknown[] = { KMIP_QUERY_FUNCTION_QUERY_OBJECTS, 0x7777 };
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	const struct ttlv *p;

	p = h_payload(query(f, V12, every_function, NFUNCTIONS, &a), 0);
	assert_true(has_value(p, KMIP_TAG_OPERATION, KMIP_TAG_OPERATION, KMIP_OPERATION_OBTAIN_LEASE));
	assert_null(ttlv_find(p, KMIP_TAG_PROFILE_INFORMATION));
	assert_null(ttlv_find(p, KMIP_TAG_CAPABILITY_INFORMATION));
	assert_null(ttlv_find(p, KMIP_TAG_RNG_PARAMETERS));
	assert_null(ttlv_find(p, KMIP_TAG_CLIENT_REGISTRATION_METHOD));
	assert_null(ttlv_find(p, KMIP_TAG_DEFAULTS_INFORMATION));
	ttlv_arena_free(a);

	p = h_payload(query(f, V21, unknown, 2, &a), 0);
	assert_true(has_value(p, KMIP_TAG_OBJECT_TYPE, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY));
	assert_null(ttlv_find(p, KMIP_TAG_OPERATION));
	ttlv_arena_free(a);

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_QUERY);
	ttlv_enc_int(&req, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_PROFILES);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, V14, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_arena_free(a);
}

/* One Locate item: objects named name, with Maximum Items and Offset Items unless -1 (any other is sent). */
static void
enc_locate(struct ttlv_enc *req, struct ver v, const char *name, int max, int offset)
{
	h_item_begin(req, KMIP_OPERATION_LOCATE);
	if (max != -1)
		ttlv_enc_int(req, KMIP_TAG_MAXIMUM_ITEMS, max);
	if (offset != -1)
		ttlv_enc_int(req, KMIP_TAG_OFFSET_ITEMS, offset);
	if (is_v2(v)) {
		ttlv_enc_begin(req, KMIP_TAG_ATTRIBUTES);
		ttlv_enc_begin(req, KMIP_TAG_NAME);
		ttlv_enc_cstr(req, KMIP_TAG_NAME_VALUE, name);
		ttlv_enc_enum(req, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(req);
		ttlv_enc_end(req);
	} else {
		h_attr_name(req, name);
	}
	h_item_end(req);
}

/* A Locate of objects named name; the response. */
static struct ttlv *
locate(struct fx *f, struct ver v, const char *name, int max, int offset, struct ttlv_arena **a)
{
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, v.major, v.minor, 1);
	enc_locate(&req, v, name, max, offset);
	h_request_end(&req);
	resp = call(f, &req, v, a);
	h_expect_ok(resp, 0);
	return resp;
}

/* The identifiers a Locate answered, comma-separated, in order. */
static const char *
ids(const struct ttlv *resp, unsigned item, char *buf, size_t size)
{
	const struct ttlv *t;
	size_t len = 0;

	buf[0] = '\0';
	for (t = ttlv_find(h_payload(resp, item), KMIP_TAG_UNIQUE_IDENTIFIER); t != NULL; t = ttlv_find_next(t))
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len > 0 ? "," : "", (const char *)t->v.bytes.data);
	return buf;
}

/* Located Items of item's answer, or -1 when absent. */
static int
located_items(const struct ttlv *resp, unsigned item)
{
	const struct ttlv *t = ttlv_find(h_payload(resp, item), KMIP_TAG_LOCATED_ITEMS);

	return t != NULL ? t->v.i32 : -1;
}

/*
 * Paging at one version, over three keys of one name (newest first): Maximum Items alone trims the list
 * and is not paging (no Located Items); with Offset Items the answer is the page, and Located Items counts
 * every match; past the end, no identifiers and still the count. A negative count is refused.
 */
static void
paging_at(struct fx *f, struct ver v, const char *name)
{
	char k[3][64], want[256], buf[512];
	struct ttlv_arena *a;
	struct ttlv *resp;
	int i;

	for (i = 0; i < 3; i++)
		create_key(f, v, name, k[i]);
	resp = locate(f, v, name, -1, -1, &a);
	snprintf(want, sizeof(want), "%s,%s,%s", k[2], k[1], k[0]);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), want);
	assert_int_equal(located_items(resp, 0), -1);
	ttlv_arena_free(a);

	resp = locate(f, v, name, 2, -1, &a);
	snprintf(want, sizeof(want), "%s,%s", k[2], k[1]);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), want);
	assert_int_equal(located_items(resp, 0), -1);
	ttlv_arena_free(a);

	resp = locate(f, v, name, 2, 0, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), want);
	assert_int_equal(located_items(resp, 0), 3);
	ttlv_arena_free(a);

	resp = locate(f, v, name, 1, 1, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), k[1]);
	assert_int_equal(located_items(resp, 0), 3);
	ttlv_arena_free(a);

	resp = locate(f, v, name, -1, 2, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), k[0]);
	assert_int_equal(located_items(resp, 0), 3);
	ttlv_arena_free(a);

	resp = locate(f, v, name, 5, 3, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), "");
	assert_int_equal(located_items(resp, 0), 3);
	ttlv_arena_free(a);

	resp = locate(f, v, "query-paging-nothing", 5, 0, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), "");
	assert_int_equal(located_items(resp, 0), 0);
	ttlv_arena_free(a);
}

static void
test_paging_1_4(void **state)
{
	paging_at(*state, V14, "query-paging-14");
}

static void
test_paging_2_1(void **state)
{
	paging_at(*state, V21, "query-paging-21");
}

/* Located Items came with 1.3: a 1.2 client is answered identifiers alone. Negative counts are refused. */
static void
test_paging_1_2_and_errors(void **state)
{
	struct fx *f = *state;
	char k[64], buf[256];
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	create_key(f, V12, "query-paging-12", k);
	resp = locate(f, V12, "query-paging-12", 1, -1, &a);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), k);
	assert_int_equal(located_items(resp, 0), -1);
	ttlv_arena_free(a);

	h_request_begin(&req, 1, 4, 1);
	enc_locate(&req, V14, "query-paging-12", 1, -2);
	h_request_end(&req);
	resp = call(f, &req, V14, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_arena_free(a);
	h_request_begin(&req, 2, 1, 1);
	enc_locate(&req, V21, "query-paging-12", -5, 0);
	h_request_end(&req);
	resp = call(f, &req, V21, &a);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_arena_free(a);
}

/*
 * The ID Placeholder after a Locate: set when one identifier came back (a following Get of no identifier
 * gets that key), emptied when several did, so that the Get fails instead of acting on one of them.
 */
static void
placeholder_at(struct fx *f, struct ver v, const char *name)
{
	char k[2][64], buf[256];
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	create_key(f, v, name, k[0]);
	create_key(f, v, name, k[1]);
	h_request_begin(&req, v.major, v.minor, 2);
	enc_locate(&req, v, name, 1, -1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, &a);
	h_expect_ok(resp, 0);
	h_expect_ok(resp, 1);
	assert_string_equal(ids(resp, 0, buf, sizeof(buf)), k[1]);
	assert_string_equal((const char *)ttlv_find(h_payload(resp, 1), KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data,
	    k[1]);
	ttlv_arena_free(a);

	/* Both keys found: the placeholder is emptied, and the Get that names nothing fails. */
	h_request_begin(&req, v.major, v.minor, 2);
	enc_locate(&req, v, name, -1, -1);
	h_item_begin(&req, KMIP_OPERATION_GET_ATTRIBUTES);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(f, &req, v, &a);
	h_expect_ok(resp, 0);
	assert_int_equal(ttlv_count(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER), 2);
	expect_fail(resp, 1, KMIP_RESULT_REASON_INVALID_FIELD);
	ttlv_arena_free(a);
}

static void
test_placeholder(void **state)
{
	placeholder_at(*state, V14, "query-placeholder-14");
	placeholder_at(*state, V21, "query-placeholder-21");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest with_leases[] = {
		cmocka_unit_test(test_leases_1_4),
		cmocka_unit_test(test_leases_2_1),
		cmocka_unit_test(test_query_1_4),
		cmocka_unit_test(test_query_2_1),
		cmocka_unit_test(test_query_1_2_and_errors),
		cmocka_unit_test(test_paging_1_4),
		cmocka_unit_test(test_paging_2_1),
		cmocka_unit_test(test_paging_1_2_and_errors),
		cmocka_unit_test(test_placeholder),
	};
	const struct CMUnitTest defaults[] = {
		cmocka_unit_test(test_leases_off),
		cmocka_unit_test(test_query_1_4),
		cmocka_unit_test(test_query_2_1),
	};
	int failed;

	util_test_start(argc, argv);
	failed = cmocka_run_group_tests_name("query_leases", with_leases, setup_leases, group_teardown);
	failed += cmocka_run_group_tests_name("query_defaults", defaults, setup_defaults, group_teardown);
	return failed;
}
