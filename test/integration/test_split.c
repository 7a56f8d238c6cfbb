/*
 * Split keys and PKCS#12 end to end against the real kmipd over mutual TLS, at KMIP 1.4 and 2.1: the Split
 * Key object (Register, Get, its attributes, Locate, Destroy), Create Split Key and Join Split Key with each
 * Split Key Method, their links and their errors, and Get of a private key as PKCS#12 with its certificate
 * chain and the password its links name. One server for the binary (server.max_split_key_parts = 16).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define MAX_PARTS	16

struct split {
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
};

/* The versions every case runs at. */
static const struct ver {
	int major, minor;
} versions[] = { { 1, 4 }, { 2, 1 } };

#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))
#define V2(v)		((v)->major >= 2)

static int
group_setup(void **state)
{
	struct split *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	*state = s;
	h_start(&s->srv, (const char *const[]){ "keygen.pool_size=0", "server.max_split_key_parts=16", NULL });
	s->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	s->cl = h_connect(&s->srv, s->ctx);
	return 0;
}

static int
group_teardown(void **state)
{
	struct split *s = *state;

	if (s == NULL)
		return 0;
	kmip_client_close(s->cl);
	SSL_CTX_free(s->ctx);
	h_cleanup(&s->srv);
	free(s);
	return 0;
}

/* Sends req (freed here) and returns the response, checking its protocol version. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, const struct ver *v)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	assert_non_null(resp);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(v->major, v->minor));
	return resp;
}

/* Opens the attribute set of a request: a Template-Attribute in 1.x, Attributes in 2.x. */
static void
attrs_begin(struct ttlv_enc *e, const struct ver *v)
{
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
}

/* An Enumeration or Integer attribute in the version's spelling (name: its 1.x Attribute Name). */
static void
attr_enum(struct ttlv_enc *e, const struct ver *v, uint32_t tag, const char *name, uint32_t value)
{
	if (V2(v))
		ttlv_enc_enum(e, tag, value);
	else
		h_attr_enum(e, name, value);
}

static void
attr_int(struct ttlv_enc *e, const struct ver *v, uint32_t tag, const char *name, int32_t value)
{
	if (V2(v))
		ttlv_enc_int(e, tag, value);
	else
		h_attr_int(e, name, value);
}

static void
attr_bool(struct ttlv_enc *e, const struct ver *v, uint32_t tag, const char *name, bool value)
{
	if (V2(v)) {
		ttlv_enc_bool(e, tag, value);
		return;
	}
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	ttlv_enc_bool(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

/* A Link attribute of link_type to target. */
static void
attr_link(struct ttlv_enc *e, const struct ver *v, uint32_t link_type, const char *target)
{
	if (!V2(v)) {
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Link");
	}
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_LINK : KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_enc_enum(e, KMIP_TAG_LINK_TYPE, link_type);
	ttlv_enc_cstr(e, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, target);
	ttlv_enc_end(e);
	if (!V2(v))
		ttlv_enc_end(e);
}

/* The Unique Identifier of a response's first item into uid (64 bytes). */
static void
response_uid(const struct ttlv *resp, char *uid)
{
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(uid[0] != '\0');
}

/* Creates an AES key of bits bits (extractable unless told), at v; its identifier into uid. */
static void
create_aes(struct kmip_client *cl, const struct ver *v, int bits, bool extractable, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(&req, v);
	attr_enum(&req, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", bits);
	attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (!extractable)
		attr_bool(&req, v, KMIP_TAG_EXTRACTABLE, "Extractable", false);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, v);
	h_expect_ok(resp, 0);
	response_uid(resp, uid);
	ttlv_arena_free(a);
}

/* What a Create Split Key asks. */
struct split_req {
	const char *uid;		/* the key to split, or NULL for a new AES key of bits */
	int bits;
	uint32_t type;			/* Object Type */
	uint32_t method;
	int parts, threshold;
	const uint8_t *prime;		/* Prime Field Size as a Big Integer's bytes (a multiple of 8), or NULL */
	size_t prime_len;
};

/* Sends a Create Split Key at v; the caller frees *a. */
static struct ttlv *
create_split(struct kmip_client *cl, const struct ver *v, const struct split_req *r, struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE_SPLIT_KEY);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, r->type != 0 ? r->type : KMIP_OBJECT_TYPE_SPLIT_KEY);
	if (r->uid != NULL)
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, r->uid);
	ttlv_enc_int(&req, KMIP_TAG_SPLIT_KEY_PARTS, r->parts);
	ttlv_enc_int(&req, KMIP_TAG_SPLIT_KEY_THRESHOLD, r->threshold);
	ttlv_enc_enum(&req, KMIP_TAG_SPLIT_KEY_METHOD, r->method);
	if (r->prime != NULL)
		ttlv_enc_bigint(&req, KMIP_TAG_PRIME_FIELD_SIZE, r->prime, r->prime_len);
	if (r->uid == NULL) {
		attrs_begin(&req, v);
		attr_enum(&req, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm",
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", r->bits);
		ttlv_enc_end(&req);
	}
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/* Create Split Key expected to work: the parts' identifiers into uids (r->parts of 64 bytes). */
static void
create_split_ok(struct kmip_client *cl, const struct ver *v, const struct split_req *r, char uids[][64])
{
	const struct ttlv *u;
	struct ttlv_arena *a;
	struct ttlv *resp = create_split(cl, v, r, &a);
	int n = 0;

	h_expect_ok(resp, 0);
	for (u = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); u != NULL; u = ttlv_find_next(u)) {
		assert_true(n < r->parts);
		snprintf(uids[n++], 64, "%s", (const char *)u->v.bytes.data);
	}
	assert_int_equal(n, r->parts);
	ttlv_arena_free(a);
}

/* Sends a Join Split Key of the n parts uids[idx[i]] at v, asking for type; the caller frees *a. */
static struct ttlv *
join(struct kmip_client *cl, const struct ver *v, uint32_t type, char uids[][64], const int *idx, int n,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;
	int i;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, KMIP_OPERATION_JOIN_SPLIT_KEY);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, type);
	for (i = 0; i < n; i++)
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uids[idx[i]]);
	if (type == KMIP_OBJECT_TYPE_SECRET_DATA)
		ttlv_enc_enum(&req, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_SEED);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/* Join expected to work: the new object's identifier into uid. */
static void
join_ok(struct kmip_client *cl, const struct ver *v, uint32_t type, char uids[][64], const int *idx, int n,
    char *uid)
{
	struct ttlv_arena *a;
	struct ttlv *resp = join(cl, v, type, uids, idx, n, &a);

	h_expect_ok(resp, 0);
	response_uid(resp, uid);
	ttlv_arena_free(a);
}

/* Sends one item naming uid at v (Get with format when not 0); the caller frees *a. */
static struct ttlv *
uid_op(struct kmip_client *cl, const struct ver *v, uint32_t op, const char *uid, uint32_t format,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, op);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, format);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/* The Key Material of a Get response's object (tag object_tag) into buf; returns its length. */
static size_t
get_material(struct kmip_client *cl, const struct ver *v, const char *uid, uint32_t object_tag, uint8_t *buf,
    size_t size)
{
	const struct ttlv *block, *m;
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, v, KMIP_OPERATION_GET, uid, 0, &a);
	size_t len;

	h_expect_ok(resp, 0);
	block = ttlv_find(ttlv_find(h_payload(resp, 0), object_tag), KMIP_TAG_KEY_BLOCK);
	assert_non_null(block);
	m = ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	assert_true(m->length <= size);
	memcpy(buf, m->v.bytes.data, m->length);
	len = m->length;
	ttlv_arena_free(a);
	return len;
}

/* An Integer or Enumeration child of a structure. */
static uint32_t
field(const struct ttlv *s, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(s, tag);

	assert_non_null(t);
	return t->v.u32;
}

/* True when some structure under t holds a Link Type link_type next to a Linked Object Identifier target. */
static bool
has_link_under(const struct ttlv *t, uint32_t link_type, const char *target)
{
	const struct ttlv *c, *lt, *id;

	if (t == NULL || t->type != TTLV_STRUCTURE)
		return false;
	lt = ttlv_find(t, KMIP_TAG_LINK_TYPE);
	id = ttlv_find(t, KMIP_TAG_LINKED_OBJECT_IDENTIFIER);
	if (lt != NULL && id != NULL && lt->v.u32 == link_type && strcmp((const char *)id->v.bytes.data, target) == 0)
		return true;
	for (c = t->v.s.first; c != NULL; c = c->next)
		if (has_link_under(c, link_type, target))
			return true;
	return false;
}

/* True when some item under t has tag. */
static bool
has_tag_under(const struct ttlv *t, uint32_t tag)
{
	const struct ttlv *c;

	if (t == NULL)
		return false;
	if (t->tag == tag)
		return true;
	if (t->type != TTLV_STRUCTURE)
		return false;
	for (c = t->v.s.first; c != NULL; c = c->next)
		if (has_tag_under(c, tag))
			return true;
	return false;
}

/* Get Attributes (all) of uid at v; the caller frees *a. */
static struct ttlv *
all_attrs(struct kmip_client *cl, const struct ver *v, const char *uid, struct ttlv_arena **a)
{
	struct ttlv *resp = uid_op(cl, v, KMIP_OPERATION_GET_ATTRIBUTES, uid, 0, a);

	h_expect_ok(resp, 0);
	return resp;
}

/* Asserts uid has (or not) a Link of link_type to target. */
static void
expect_link(struct kmip_client *cl, const struct ver *v, const char *uid, uint32_t link_type, const char *target,
    bool present)
{
	struct ttlv_arena *a;
	struct ttlv *resp = all_attrs(cl, v, uid, &a);

	if (has_link_under(h_payload(resp, 0), link_type, target) != present)
		print_error("%s: link 0x%x to %s %s\n", uid, link_type, target, present ? "missing" : "present");
	assert_true(has_link_under(h_payload(resp, 0), link_type, target) == present);
	ttlv_arena_free(a);
}

/* Get of a Split Key part: checks its fields; returns its material's length, the bytes into buf. */
static size_t
get_part(struct kmip_client *cl, const struct ver *v, const char *uid, const struct split_req *r, int part,
    uint8_t *buf, size_t size)
{
	const struct ttlv *sk, *block, *m;
	struct ttlv_arena *a;
	struct ttlv *resp = uid_op(cl, v, KMIP_OPERATION_GET, uid, 0, &a);
	size_t len;

	h_expect_ok(resp, 0);
	assert_int_equal(field(h_payload(resp, 0), KMIP_TAG_OBJECT_TYPE), KMIP_OBJECT_TYPE_SPLIT_KEY);
	sk = ttlv_find(h_payload(resp, 0), KMIP_TAG_SPLIT_KEY);
	assert_non_null(sk);
	assert_int_equal(field(sk, KMIP_TAG_SPLIT_KEY_PARTS), r->parts);
	assert_int_equal(field(sk, KMIP_TAG_KEY_PART_IDENTIFIER), part);
	assert_int_equal(field(sk, KMIP_TAG_SPLIT_KEY_THRESHOLD), r->threshold);
	assert_int_equal(field(sk, KMIP_TAG_SPLIT_KEY_METHOD), r->method);
	assert_true((ttlv_find(sk, KMIP_TAG_PRIME_FIELD_SIZE) != NULL) == (r->prime != NULL));
	block = ttlv_find(sk, KMIP_TAG_KEY_BLOCK);
	assert_non_null(block);
	assert_int_equal(field(block, KMIP_TAG_KEY_FORMAT_TYPE), KMIP_KEY_FORMAT_TYPE_RAW);
	assert_int_equal(field(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM), KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	m = ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	assert_true(m->length <= size);
	memcpy(buf, m->v.bytes.data, m->length);
	len = m->length;
	ttlv_arena_free(a);
	return len;
}

/*
 * XOR: splitting an existing AES key gives parts whose XOR is the key, linked to it (Parent and Child
 * Links) and to each other (Previous, Next); joining all of them gives the key back as a new object linked
 * to its parts.
 */
static void
test_split_xor_existing(void **state)
{
	struct split *s = *state;
	size_t i, b;

	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		struct split_req r = { .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 3, .threshold = 3 };
		uint8_t key[32], part[32], x[32] = { 0 }, joined[32];
		char orig[64], uids[3][64], out[64];
		int p;

		create_aes(s->cl, v, 256, true, orig);
		r.uid = orig;
		assert_int_equal(get_material(s->cl, v, orig, KMIP_TAG_SYMMETRIC_KEY, key, sizeof(key)), 32);
		create_split_ok(s->cl, v, &r, uids);
		for (p = 0; p < 3; p++) {
			assert_int_equal(get_part(s->cl, v, uids[p], &r, p + 1, part, sizeof(part)), 32);
			for (b = 0; b < 32; b++)
				x[b] ^= part[b];
			expect_link(s->cl, v, uids[p], KMIP_LINK_TYPE_PARENT_LINK, orig, true);
			expect_link(s->cl, v, orig, KMIP_LINK_TYPE_CHILD_LINK, uids[p], true);
			if (p > 0)
				expect_link(s->cl, v, uids[p], KMIP_LINK_TYPE_PREVIOUS_LINK, uids[p - 1], true);
			if (p < 2)
				expect_link(s->cl, v, uids[p], KMIP_LINK_TYPE_NEXT_LINK, uids[p + 1], true);
		}
		assert_memory_equal(x, key, 32);
		join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 2, 0, 1 }, 3, out);
		assert_int_equal(get_material(s->cl, v, out, KMIP_TAG_SYMMETRIC_KEY, joined, sizeof(joined)), 32);
		assert_memory_equal(joined, key, 32);
		for (p = 0; p < 3; p++)
			expect_link(s->cl, v, out, KMIP_LINK_TYPE_PARENT_LINK, uids[p], true);
	}
}

/* The prime 2^130 - 5 as a Big Integer (16 bytes of value under a sign byte, padded to 24). */
static const uint8_t prime130[24] = { 0, 0, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb };

/*
 * Each polynomial method: a new AES-128 key split 5 ways with threshold 3; any 3 parts (in any order) join
 * into one and the same key, of the right length, and so do all 5.
 */
static void
test_split_polynomial(void **state)
{
	static const uint32_t methods[] = { KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8,
	    KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16, KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD };
	struct split *s = *state;
	size_t i, m;

	for (i = 0; i < NVERSIONS; i++) {
		for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			const struct ver *v = &versions[i];
			bool prime = methods[m] == KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD;
			struct split_req r = { .bits = 128, .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .method = methods[m],
			    .parts = 5, .threshold = 3, .prime = prime ? prime130 : NULL, .prime_len = sizeof(prime130) };
			uint8_t k1[64], k2[64], k3[64], part[64];
			char uids[5][64], j1[64], j2[64], j3[64];
			int p;

			create_split_ok(s->cl, v, &r, uids);
			for (p = 0; p < 5; p++)
				assert_int_equal(get_part(s->cl, v, uids[p], &r, p + 1, part, sizeof(part)), prime ? 17 : 16);
			join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 4, 1, 3 }, 3, j1);
			join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 2 }, 3, j2);
			join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 2, 3, 4 }, 5, j3);
			assert_int_equal(get_material(s->cl, v, j1, KMIP_TAG_SYMMETRIC_KEY, k1, sizeof(k1)), 16);
			assert_int_equal(get_material(s->cl, v, j2, KMIP_TAG_SYMMETRIC_KEY, k2, sizeof(k2)), 16);
			assert_int_equal(get_material(s->cl, v, j3, KMIP_TAG_SYMMETRIC_KEY, k3, sizeof(k3)), 16);
			assert_memory_equal(k1, k2, 16);
			assert_memory_equal(k1, k3, 16);
		}
	}
}

/*
 * Asserts a Get failed because the object is not Extractable: Not Extractable, which 1.x clients get as
 * the version table spells it for them (Permission Denied where it has no Not Extractable).
 */
static void
expect_not_extractable(const struct ttlv *resp, const struct ver *v)
{
	const struct ttlv *r = ttlv_find(h_batch_item(resp, 0), KMIP_TAG_RESULT_REASON);

	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_non_null(r);
	if (V2(v))
		assert_int_equal(r->v.u32, KMIP_RESULT_REASON_NOT_EXTRACTABLE);
	else
		assert_true(r->v.u32 == KMIP_RESULT_REASON_NOT_EXTRACTABLE ||
		    r->v.u32 == KMIP_RESULT_REASON_PERMISSION_DENIED);
}

/*
 * An existing key split by GF(2^16) sharing joins back to its own bytes, here as Secret Data; a key that
 * is not Extractable gives parts that are not either, and so is what they join into.
 */
static void
test_split_existing_polynomial(void **state)
{
	struct split *s = *state;
	size_t i;

	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		struct split_req r = { .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_16, .parts = 4,
		    .threshold = 2 };
		uint8_t key[32], joined[32];
		char orig[64], uids[4][64], out[64], locked[64];
		struct ttlv_arena *a;
		struct ttlv *resp;

		create_aes(s->cl, v, 256, true, orig);
		get_material(s->cl, v, orig, KMIP_TAG_SYMMETRIC_KEY, key, sizeof(key));
		r.uid = orig;
		create_split_ok(s->cl, v, &r, uids);
		join_ok(s->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, uids, (const int[]){ 3, 1 }, 2, out);
		assert_int_equal(get_material(s->cl, v, out, KMIP_TAG_SECRET_DATA, joined, sizeof(joined)), 32);
		assert_memory_equal(joined, key, 32);

		create_aes(s->cl, v, 128, false, locked);
		r.uid = locked;
		create_split_ok(s->cl, v, &r, uids);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, uids[0], 0, &a);
		expect_not_extractable(resp, v);
		ttlv_arena_free(a);
		join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 2 }, 2, out);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, out, 0, &a);
		expect_not_extractable(resp, v);
		ttlv_arena_free(a);
	}
}

/* Create Split Key fails as the spec says for parameters that cannot work, and for objects it cannot split. */
static void
test_create_split_errors(void **state)
{
	static const uint8_t composite[24] = { 0, 0, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc };
	static const uint8_t small_prime[8] = { 0, 0, 0, 0, 0, 0, 0x01, 0x01 };	/* 257 */
	struct split *s = *state;
	size_t i, c;

	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		const struct {
			struct split_req r;
			int reason;
		} cases[] = {
			/* threshold 1, above the parts, XOR below the parts */
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8, .parts = 3,
			    .threshold = 1 }, KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8, .parts = 3,
			    .threshold = 4 }, KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 3, .threshold = 2 },
			    KMIP_RESULT_REASON_INVALID_FIELD },
			/* more parts than server.max_split_key_parts */
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8, .parts = MAX_PARTS + 1,
			    .threshold = 2 }, KMIP_RESULT_REASON_INVALID_FIELD },
			/* prime field: no Prime Field Size, a composite one, one too small for the key */
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD, .parts = 3,
			    .threshold = 2 }, KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD, .parts = 3,
			    .threshold = 2, .prime = composite, .prime_len = sizeof(composite) },
			    KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD, .parts = 3,
			    .threshold = 2, .prime = small_prime, .prime_len = sizeof(small_prime) },
			    KMIP_RESULT_REASON_INVALID_FIELD },
			/* a Prime Field Size with another method; an unknown method */
			{ { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 2, .threshold = 2,
			    .prime = prime130, .prime_len = sizeof(prime130) }, KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .bits = 128, .method = 0x77, .parts = 2, .threshold = 2 }, KMIP_RESULT_REASON_INVALID_FIELD },
			/* a new key of no valid AES length; an existing object that does not exist */
			{ { .bits = 100, .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 2, .threshold = 2 },
			    KMIP_RESULT_REASON_INVALID_FIELD },
			{ { .uid = "no-such-key", .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 2, .threshold = 2 },
			    V2(v) ? KMIP_RESULT_REASON_OBJECT_NOT_FOUND : KMIP_RESULT_REASON_ITEM_NOT_FOUND },
		};

		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct ttlv_arena *a;
			struct ttlv *resp = create_split(s->cl, v, &cases[c].r, &a);

			if (h_item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS)
				print_error("case %zu at %d.%d succeeded\n", c, v->major, v->minor);
			h_expect_fail(resp, 0, cases[c].reason, NULL);
			ttlv_arena_free(a);
		}
	}
}

/* Join Split Key refuses too few parts, parts of two splits, objects that are not parts, and odd types. */
static void
test_join_errors(void **state)
{
	struct split *s = *state;
	size_t i;

	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		struct split_req r = { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8,
		    .parts = 4, .threshold = 3 };
		char uids[8][64], key[64];
		struct ttlv_arena *a;
		struct ttlv *resp;

		create_split_ok(s->cl, v, &r, uids);
		create_split_ok(s->cl, v, &r, uids + 4);
		create_aes(s->cl, v, 128, true, key);
		/* below the threshold */
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1 }, 2, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
		/* one part twice */
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 1 }, 3, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
		/* parts of two splits (same parameters, different secrets: caught by Key Part Identifier 1 twice) */
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 4 }, 3, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
		/* a symmetric key is no part */
		snprintf(uids[7], 64, "%s", key);
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 7 }, 3, &a);
		h_expect_fail(resp, 0, V2(v) ? KMIP_RESULT_REASON_INVALID_OBJECT_TYPE : KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
		/* a certificate cannot come out of a join; a missing part */
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_CERTIFICATE, uids, (const int[]){ 0, 1, 2 }, 3, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
		snprintf(uids[7], 64, "no-such-part");
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 7 }, 3, &a);
		h_expect_fail(resp, 0, V2(v) ? KMIP_RESULT_REASON_OBJECT_NOT_FOUND : KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
		ttlv_arena_free(a);
		/* a destroyed part */
		resp = uid_op(s->cl, v, KMIP_OPERATION_DESTROY, uids[2], 0, &a);
		h_expect_ok(resp, 0);
		ttlv_arena_free(a);
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 2 }, 3, &a);
		h_expect_fail(resp, 0, V2(v) ? KMIP_RESULT_REASON_OBJECT_DESTROYED : KMIP_RESULT_REASON_ITEM_NOT_FOUND, NULL);
		ttlv_arena_free(a);
	}
}

/* Register of a Split Key at v: part part of parts (threshold 2, XOR when parts is 2, else GF(2^8)). */
static struct ttlv *
register_part(struct kmip_client *cl, const struct ver *v, int parts, int part, const uint8_t *bytes, size_t len,
    struct ttlv_arena **a)
{
	struct ttlv_enc req;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SPLIT_KEY);
	attrs_begin(&req, v);
	attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_SPLIT_KEY);
	ttlv_enc_int(&req, KMIP_TAG_SPLIT_KEY_PARTS, parts);
	ttlv_enc_int(&req, KMIP_TAG_KEY_PART_IDENTIFIER, part);
	ttlv_enc_int(&req, KMIP_TAG_SPLIT_KEY_THRESHOLD, 2);
	ttlv_enc_enum(&req, KMIP_TAG_SPLIT_KEY_METHOD, parts == 2 ? KMIP_SPLIT_KEY_METHOD_XOR :
	    KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW);
	ttlv_enc_begin(&req, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&req, KMIP_TAG_KEY_MATERIAL, bytes, len);
	ttlv_enc_end(&req);
	ttlv_enc_enum(&req, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	ttlv_enc_int(&req, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, (int)len * 8);
	ttlv_enc_end(&req);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	return call(cl, &req, a, v);
}

/*
 * A registered Split Key: Get gives its fields and bytes back, its attributes are a key's (Cryptographic
 * Algorithm, Length, Usage Mask, State, Digest) and do not list its fields, Locate by Object Type finds it,
 * two registered XOR parts join, Destroy works; a Key Part Identifier above Split Key Parts is refused.
 */
static void
test_register_split_key(void **state)
{
	static const uint8_t p1[16] = "0123456789abcdef", p2[16] = "fedcba9876543210";
	struct split *s = *state;
	size_t i, b;

	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		struct split_req r = { .method = KMIP_SPLIT_KEY_METHOD_XOR, .parts = 2, .threshold = 2 };
		const struct ttlv *u, *payload;
		struct ttlv_arena *a;
		struct ttlv_enc req;
		struct ttlv *resp;
		uint8_t got[16], joined[16];
		char uids[2][64], out[64];
		bool found = false;

		resp = register_part(s->cl, v, 2, 1, p1, sizeof(p1), &a);
		h_expect_ok(resp, 0);
		response_uid(resp, uids[0]);
		ttlv_arena_free(a);
		resp = register_part(s->cl, v, 2, 2, p2, sizeof(p2), &a);
		h_expect_ok(resp, 0);
		response_uid(resp, uids[1]);
		ttlv_arena_free(a);
		assert_int_equal(get_part(s->cl, v, uids[0], &r, 1, got, sizeof(got)), 16);
		assert_memory_equal(got, p1, 16);

		resp = all_attrs(s->cl, v, uids[0], &a);
		payload = h_payload(resp, 0);
		if (V2(v)) {
			assert_true(has_tag_under(payload, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM));
			assert_true(has_tag_under(payload, KMIP_TAG_CRYPTOGRAPHIC_LENGTH));
			assert_true(has_tag_under(payload, KMIP_TAG_DIGEST));
			assert_false(has_tag_under(payload, KMIP_TAG_SPLIT_KEY_PARTS));
			assert_false(has_tag_under(payload, KMIP_TAG_KEY_PART_IDENTIFIER));
		} else {
			const struct ttlv *at;
			int seen = 0;

			for (at = ttlv_find(payload, KMIP_TAG_ATTRIBUTE); at != NULL; at = ttlv_find_next(at)) {
				const char *n = (const char *)ttlv_find(at, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data;

				assert_true(strncmp(n, "Split Key", 9) != 0 && strcmp(n, "Key Part Identifier") != 0);
				seen += strcmp(n, "Cryptographic Algorithm") == 0 || strcmp(n, "Cryptographic Length") == 0 ||
				    strcmp(n, "Digest") == 0 || strcmp(n, "State") == 0;
			}
			assert_int_equal(seen, 4);
		}
		ttlv_arena_free(a);

		/* Locate by Object Type */
		h_request_begin(&req, v->major, v->minor, 1);
		h_item_begin(&req, KMIP_OPERATION_LOCATE);
		if (V2(v)) {
			ttlv_enc_begin(&req, KMIP_TAG_ATTRIBUTES);
			ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SPLIT_KEY);
			ttlv_enc_end(&req);
		} else {
			h_attr_enum(&req, "Object Type", KMIP_OBJECT_TYPE_SPLIT_KEY);
		}
		h_item_end(&req);
		h_request_end(&req);
		resp = call(s->cl, &req, &a, v);
		h_expect_ok(resp, 0);
		for (u = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); u != NULL; u = ttlv_find_next(u))
			found |= strcmp((const char *)u->v.bytes.data, uids[1]) == 0;
		assert_true(found);
		ttlv_arena_free(a);

		join_ok(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1 }, 2, out);
		assert_int_equal(get_material(s->cl, v, out, KMIP_TAG_SYMMETRIC_KEY, joined, sizeof(joined)), 16);
		for (b = 0; b < 16; b++)
			assert_int_equal(joined[b], p1[b] ^ p2[b]);

		resp = uid_op(s->cl, v, KMIP_OPERATION_DESTROY, uids[0], 0, &a);
		h_expect_ok(resp, 0);
		ttlv_arena_free(a);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, uids[0], 0, &a);
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
		ttlv_arena_free(a);

		/* Key Part Identifier 3 of 2 parts */
		resp = register_part(s->cl, v, 2, 3, p1, sizeof(p1), &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
	}
}

/*
 * Reads a PEM file's certificate, or its private key as PKCS#8 (public: the key's SubjectPublicKeyInfo),
 * as DER (malloc'd) into *der.
 */
static size_t
pem_der_ex(const char *path, bool key, bool public, uint8_t **der)
{
	FILE *f = fopen(path, "r");
	unsigned char *out = NULL;
	int n;

	assert_non_null(f);
	if (key) {
		EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		PKCS8_PRIV_KEY_INFO *p8;

		assert_non_null(pk);
		p8 = EVP_PKEY2PKCS8(pk);
		assert_non_null(p8);
		n = public ? i2d_PUBKEY(pk, &out) : i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
		PKCS8_PRIV_KEY_INFO_free(p8);
		EVP_PKEY_free(pk);
	} else {
		X509 *x = PEM_read_X509(f, NULL, NULL, NULL);

		assert_non_null(x);
		n = i2d_X509(x, &out);
		X509_free(x);
	}
	fclose(f);
	assert_true(n > 0);
	*der = malloc((size_t)n);
	assert_non_null(*der);
	memcpy(*der, out, (size_t)n);
	OPENSSL_free(out);
	return (size_t)n;
}

/* A certificate, or a private key as PKCS#8. */
static size_t
pem_der(const char *path, bool key, uint8_t **der)
{
	return pem_der_ex(path, key, false, der);
}

/* Registers a certificate, key or password at v with the given Links (types[i] to targets[i]); its uid. */
static void
register_linked(struct kmip_client *cl, const struct ver *v, uint32_t type, const uint8_t *bytes, size_t len,
    const uint32_t *types, const char *const *targets, size_t nlinks, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	size_t i;

	h_request_begin(&req, v->major, v->minor, 1);
	h_item_begin(&req, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, type);
	attrs_begin(&req, v);
	if (type != KMIP_OBJECT_TYPE_CERTIFICATE)
		attr_int(&req, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
		    type == KMIP_OBJECT_TYPE_PRIVATE_KEY ? KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN :
		    type == KMIP_OBJECT_TYPE_PUBLIC_KEY ? KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY :
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
	for (i = 0; i < nlinks; i++)
		attr_link(&req, v, types[i], targets[i]);
	ttlv_enc_end(&req);
	switch (type) {
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		ttlv_enc_begin(&req, KMIP_TAG_CERTIFICATE);
		ttlv_enc_enum(&req, KMIP_TAG_CERTIFICATE_TYPE, KMIP_CERTIFICATE_TYPE_X_509);
		ttlv_enc_bytes(&req, KMIP_TAG_CERTIFICATE_VALUE, bytes, len);
		ttlv_enc_end(&req);
		break;
	default:
		ttlv_enc_begin(&req, type == KMIP_OBJECT_TYPE_PRIVATE_KEY ? KMIP_TAG_PRIVATE_KEY :
		    type == KMIP_OBJECT_TYPE_PUBLIC_KEY ? KMIP_TAG_PUBLIC_KEY : KMIP_TAG_SECRET_DATA);
		if (type == KMIP_OBJECT_TYPE_SECRET_DATA)
			ttlv_enc_enum(&req, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
		ttlv_enc_begin(&req, KMIP_TAG_KEY_BLOCK);
		ttlv_enc_enum(&req, KMIP_TAG_KEY_FORMAT_TYPE, type == KMIP_OBJECT_TYPE_PRIVATE_KEY ?
		    KMIP_KEY_FORMAT_TYPE_PKCS_8 : type == KMIP_OBJECT_TYPE_PUBLIC_KEY ? KMIP_KEY_FORMAT_TYPE_X_509 :
		    KMIP_KEY_FORMAT_TYPE_OPAQUE);
		ttlv_enc_begin(&req, KMIP_TAG_KEY_VALUE);
		ttlv_enc_bytes(&req, KMIP_TAG_KEY_MATERIAL, bytes, len);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
		ttlv_enc_end(&req);
		break;
	}
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a, v);
	h_expect_ok(resp, 0);
	response_uid(resp, uid);
	ttlv_arena_free(a);
}

/*
 * Gets key as PKCS#12 at v and checks the file: it opens with pw (and not another password; the MAC is
 * SHA-256) and holds the key, its certificate and the CA certificate.
 */
static void
expect_pkcs12(struct kmip_client *cl, const struct ver *v, const char *key, const char *pw)
{
	const struct ttlv *block, *m;
	const unsigned char *p;
	STACK_OF(X509) *chain = NULL;
	const X509_ALGOR *macalg;
	const ASN1_OBJECT *obj;
	struct ttlv_arena *a;
	struct ttlv *resp;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	PKCS12 *p12;

	resp = uid_op(cl, v, KMIP_OPERATION_GET, key, KMIP_KEY_FORMAT_TYPE_PKCS_12, &a);
	h_expect_ok(resp, 0);
	block = ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_PRIVATE_KEY), KMIP_TAG_KEY_BLOCK);
	assert_non_null(block);
	assert_int_equal(field(block, KMIP_TAG_KEY_FORMAT_TYPE), KMIP_KEY_FORMAT_TYPE_PKCS_12);
	m = ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
	assert_non_null(m);
	p = m->v.bytes.data;
	p12 = d2i_PKCS12(NULL, &p, (long)m->length);
	assert_non_null(p12);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong password", -1), 0);
	assert_int_equal(PKCS12_verify_mac(p12, pw, -1), 1);
	PKCS12_get0_mac(NULL, &macalg, NULL, NULL, p12);
	X509_ALGOR_get0(&obj, NULL, NULL, macalg);
	assert_int_equal(OBJ_obj2nid(obj), NID_sha256);
	assert_int_equal(PKCS12_parse(p12, pw, &pk, &x, &chain), 1);
	assert_non_null(pk);
	assert_non_null(x);
	assert_int_equal(X509_check_private_key(x, pk), 1);
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(sk_X509_value(chain, 0)), X509_get_issuer_name(x)), 0);
	EVP_PKEY_free(pk);
	X509_free(x);
	sk_X509_pop_free(chain, X509_free);
	PKCS12_free(p12);
	ttlv_arena_free(a);
}

/*
 * Get as PKCS#12. The key linked as KMIP 2.1's Get says (Public Key Link to its public key, whose PKCS#12
 * Certificate Link names the certificate, whose Certificate Link names the CA's; PKCS#12 Password Link to a
 * password), and one linked to its certificate directly (its own PKCS#12 Certificate Link), both come back
 * as PKCS#12 files that open with the password, holding the key, its certificate and the CA certificate,
 * under a SHA-256 MAC. A key without the password link, or without a certificate, fails with Missing Data;
 * a certificate with two issuers (more than one chain) with Invalid Field; a symmetric key cannot be had
 * as PKCS#12.
 */
static void
test_get_pkcs12(void **state)
{
	static const char pw[] = "pkcs12 test password";
	struct split *s = *state;
	uint8_t *key_der, *cert_der, *ca_der, *pub_der;
	size_t key_len, cert_len, ca_len, pub_len, i;

	key_len = pem_der(h_cert("client.key"), true, &key_der);
	pub_len = pem_der_ex(h_cert("client.key"), true, true, &pub_der);
	cert_len = pem_der(h_cert("client.crt"), false, &cert_der);
	ca_len = pem_der(h_cert("ca.crt"), false, &ca_der);
	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		char ca[64], ca2[64], cert[64], pass[64], key[64], nopass[64], nocert[64], aes[64], pub[64], spec[64];
		char twochains[64], amb[64];
		struct ttlv_arena *a;
		struct ttlv *resp;

		register_linked(s->cl, v, KMIP_OBJECT_TYPE_CERTIFICATE, ca_der, ca_len, NULL, NULL, 0, ca);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_CERTIFICATE, cert_der, cert_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_CERTIFICATE_LINK }, (const char *const[]){ ca }, 1, cert);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, (const uint8_t *)pw, strlen(pw), NULL, NULL, 0,
		    pass);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_PKCS_12_CERTIFICATE_LINK, KMIP_LINK_TYPE_PKCS_12_PASSWORD_LINK },
		    (const char *const[]){ cert, pass }, 2, key);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_CERTIFICATE_LINK }, (const char *const[]){ cert }, 1, nopass);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_PKCS_12_PASSWORD_LINK }, (const char *const[]){ pass }, 1, nocert);

		expect_pkcs12(s->cl, v, key, pw);
		/* KMIP 2.1's way: through the public key. */
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PUBLIC_KEY, pub_der, pub_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_PKCS_12_CERTIFICATE_LINK }, (const char *const[]){ cert }, 1, pub);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_PUBLIC_KEY_LINK, KMIP_LINK_TYPE_PKCS_12_PASSWORD_LINK },
		    (const char *const[]){ pub, pass }, 2, spec);
		expect_pkcs12(s->cl, v, spec, pw);
		/* A certificate with two issuers: more than one chain. */
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_CERTIFICATE, ca_der, ca_len, NULL, NULL, 0, ca2);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_CERTIFICATE, cert_der, cert_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_CERTIFICATE_LINK, KMIP_LINK_TYPE_CERTIFICATE_LINK },
		    (const char *const[]){ ca, ca2 }, 2, twochains);
		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len,
		    (const uint32_t[]){ KMIP_LINK_TYPE_PKCS_12_CERTIFICATE_LINK, KMIP_LINK_TYPE_PKCS_12_PASSWORD_LINK },
		    (const char *const[]){ twochains, pass }, 2, amb);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, amb, KMIP_KEY_FORMAT_TYPE_PKCS_12, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);

		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, nopass, KMIP_KEY_FORMAT_TYPE_PKCS_12, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_MISSING_DATA, NULL);
		ttlv_arena_free(a);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, nocert, KMIP_KEY_FORMAT_TYPE_PKCS_12, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_MISSING_DATA, NULL);
		ttlv_arena_free(a);
		create_aes(s->cl, v, 128, true, aes);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, aes, KMIP_KEY_FORMAT_TYPE_PKCS_12, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED, NULL);
		ttlv_arena_free(a);
	}
	free(key_der);
	free(cert_der);
	free(ca_der);
	free(pub_der);
}

/*
 * A private key (the test client's, registered as PKCS#8) split in GF(2^8), 3 parts of threshold 2, joins
 * back as a Private Key whose PKCS#8 is the one registered, with the key's algorithm and length; asked to
 * join as Secret Data, the same parts give the PKCS#8 bytes, and as a Symmetric Key they are refused; a
 * Prime Field split of it is refused (its
 * length is over what a 384-bit prime can hold).
 */
static void
test_split_private_key(void **state)
{
	struct split *s = *state;
	uint8_t *key_der, got[4096];
	size_t key_len, i;

	key_len = pem_der(h_cert("client.key"), true, &key_der);
	for (i = 0; i < NVERSIONS; i++) {
		const struct ver *v = &versions[i];
		struct split_req r = { .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8, .parts = 3,
		    .threshold = 2 };
		char key[64], uids[3][64], out[64];
		const struct ttlv *block;
		struct ttlv_arena *a;
		struct ttlv *resp;

		register_linked(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, key_der, key_len, NULL, NULL, 0, key);
		r.uid = key;
		r.type = KMIP_OBJECT_TYPE_PRIVATE_KEY;
		create_split_ok(s->cl, v, &r, uids);
		join_ok(s->cl, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, uids, (const int[]){ 2, 0 }, 2, out);
		resp = uid_op(s->cl, v, KMIP_OPERATION_GET, out, KMIP_KEY_FORMAT_TYPE_PKCS_8, &a);
		h_expect_ok(resp, 0);
		block = ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_PRIVATE_KEY), KMIP_TAG_KEY_BLOCK);
		assert_non_null(block);
		assert_int_equal(field(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM), KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
		assert_int_equal(field(block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH), 2048);
		assert_int_equal(ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL)->length, key_len);
		assert_memory_equal(ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL)->v.bytes.data,
		    key_der, key_len);
		ttlv_arena_free(a);
		join_ok(s->cl, v, KMIP_OBJECT_TYPE_SECRET_DATA, uids, (const int[]){ 1, 2 }, 2, out);
		assert_int_equal(get_material(s->cl, v, out, KMIP_TAG_SECRET_DATA, got, sizeof(got)), key_len);
		assert_memory_equal(got, key_der, key_len);
		/* not into a symmetric key */
		resp = join(s->cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1 }, 2, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);

		r.method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_PRIME_FIELD;
		r.prime = prime130;
		r.prime_len = sizeof(prime130);
		resp = create_split(s->cl, v, &r, &a);
		h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
		ttlv_arena_free(a);
	}
	free(key_der);
}

/*
 * server.max_split_key_parts is reloadable and bounds what a client asks for, not what the store holds:
 * after a SIGHUP lowers it from 8 to 4, a split into 5 parts is refused, and the 8 parts made before
 * still join.
 */
static void
test_split_limit_reload(void **state)
{
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
	struct split_req r = { .bits = 128, .method = KMIP_SPLIT_KEY_METHOD_POLYNOMIAL_SHARING_GF_2_8, .parts = 8,
	    .threshold = 8 };
	const struct ver *v = &versions[0];
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uids[8][64], out[64], path[400];

	(void)state;
	memset(&srv, 0, sizeof(srv));
	h_start_config(&srv, "server: { max_split_key_parts = 8; };\n", (const char *const[]){ "keygen.pool_size=0",
	    NULL });
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	cl = h_connect(&srv, ctx);
	create_split_ok(cl, v, &r, uids);

	snprintf(path, sizeof(path), "%s/kmipd.conf", srv.dir);
	h_write_file(path, "server: { max_split_key_parts = 4; };\n");
	h_signal(&srv, SIGHUP);
	assert_true(h_log_wait(&srv, "reload done", 5000));
	r.parts = r.threshold = 5;
	resp = create_split(cl, v, &r, &a);
	h_expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_FIELD, NULL);
	ttlv_arena_free(a);
	join_ok(cl, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, uids, (const int[]){ 0, 1, 2, 3, 4, 5, 6, 7 }, 8, out);

	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	h_cleanup(&srv);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_xor_existing),
		cmocka_unit_test(test_split_polynomial),
		cmocka_unit_test(test_split_existing_polynomial),
		cmocka_unit_test(test_create_split_errors),
		cmocka_unit_test(test_join_errors),
		cmocka_unit_test(test_register_split_key),
		cmocka_unit_test(test_get_pkcs12),
		cmocka_unit_test(test_split_private_key),
	};

	const struct CMUnitTest own_server[] = {
		cmocka_unit_test(test_split_limit_reload),
	};
	int failed;

	util_test_start(argc, argv);
	failed = cmocka_run_group_tests_name("split", tests, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("split_limit", own_server, NULL, NULL);
	return failed;
}
