/*
 * The Veeam Backup & Replication flow at KMIP 1.4 over mutual TLS, against the real kmipd: Locate by name,
 * CreateKeyPair RSA-2048, Activate, Locate, Get public and private key, Revoke and Destroy (and Destroy of
 * an Active key with compat.destroy_active), checking the wire rules Veeam depends on: nothing but key
 * material inside Key Value, and TLS session resumption on reconnect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

struct veeam {
	struct h_server srv;
	SSL_CTX *ctx;
	struct kmip_client *cl;
};

static int
setup(void **state)
{
	struct veeam *v = calloc(1, sizeof(*v));

	*state = v;
	return v == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	struct veeam *v = *state;

	kmip_client_close(v->cl);
	SSL_CTX_free(v->ctx);
	h_cleanup(&v->srv);
	free(v);
	return 0;
}

/* Starts kmipd and connects the Veeam client (client.crt) over TLS 1.2, as Windows SChannel does. */
static void
start(struct veeam *v, const char *const *overrides)
{
	h_start(&v->srv, overrides);
	v->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, TLS1_2_VERSION);
	v->cl = h_connect(&v->srv, v->ctx);
}

/* Sends req and returns the response, freeing req. */
static struct ttlv *
call(struct veeam *v, struct ttlv_enc *req, struct ttlv_arena **a)
{
	struct ttlv *resp = h_call(v->cl, req, a);

	ttlv_enc_free(req);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(1, 4));
	return resp;
}

/* Locate by Name; returns the number of identifiers and copies the first into uid. */
static int
locate_name(struct veeam *v, const char *name, char *uid, size_t size)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	int n;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_LOCATE);
	h_attr_name(&req, name);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(v, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	n = (int)ttlv_count(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER);
	/* No paging asked, so no Located Items (the OASIS cases expect none either). */
	assert_null(ttlv_find(h_payload(resp, 0), KMIP_TAG_LOCATED_ITEMS));
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, size);
	ttlv_arena_free(a);
	return n;
}

/* CreateKeyPair RSA-2048 with a name on each half, as Veeam does for a job. */
static void
create_pair(struct veeam *v, const char *name, char *priv, char *pub)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char n[128];

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&req, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	h_attr_int(&req, "Cryptographic Length", 2048);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	h_attr_name(&req, name);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	ttlv_enc_end(&req);
	ttlv_enc_begin(&req, KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	snprintf(n, sizeof(n), "%s-public", name);
	h_attr_name(&req, n);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(v, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	h_payload_text(resp, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv, 64);
	h_payload_text(resp, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub, 64);
	assert_true(priv[0] != '\0' && pub[0] != '\0' && strcmp(priv, pub) != 0);
	ttlv_arena_free(a);
}

/* Sends a one-item request naming uid (Activate, Destroy, ...) and returns the Result Status. */
static int
simple_op(struct veeam *v, uint32_t op, const char *uid, int *reason)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	int status;

	h_uid_request(&req, op, uid, KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION);
	resp = call(v, &req, &a);
	status = h_item_status(resp, 0);
	if (reason != NULL)
		*reason = h_result_reason(resp);
	if (status == KMIP_RESULT_STATUS_SUCCESS) {
		char got[64];

		assert_string_equal(h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
	}
	ttlv_arena_free(a);
	return status;
}

/*
 * Get without a Key Format Type and check what Veeam's decoder needs: the object holds a Key Block whose
 * Key Value has exactly one child, the Key Material (a Byte String), and no Attribute anywhere in the
 * Key Value. Returns the DER key material (malloc'd) and its format.
 */
static uint8_t *
get_key(struct veeam *v, const char *uid, uint32_t object_tag, size_t *len, uint32_t *format)
{
	const struct ttlv *obj, *block, *value, *material;
	struct ttlv_arena *a;
	struct ttlv_enc req, raw;
	struct ttlv *resp;
	uint8_t *out;
	size_t i;

	h_uid_request(&req, KMIP_OPERATION_GET, uid, 0);
	resp = call(v, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	obj = ttlv_find(h_payload(resp, 0), object_tag);
	block = ttlv_find(obj, KMIP_TAG_KEY_BLOCK);
	value = ttlv_find(block, KMIP_TAG_KEY_VALUE);
	assert_non_null(value);
	assert_int_equal(value->v.s.count, 1);
	material = value->v.s.first;
	assert_int_equal(material->tag, KMIP_TAG_KEY_MATERIAL);
	assert_int_equal(material->type, TTLV_BYTE_STRING);
	/* The same check on the bytes as they crossed the wire: no Attribute header inside Key Value. */
	ttlv_enc_init(&raw);
	ttlv_enc_item(&raw, value);
	assert_int_equal(ttlv_enc_finish(&raw), 0);
	for (i = 0; i + 4 <= raw.len; i += 8) {
		assert_false(raw.buf[i] == 0x42 && raw.buf[i + 1] == 0x00 && raw.buf[i + 2] == 0x08 &&
		    raw.buf[i + 3] == TTLV_STRUCTURE);
		if (i == 8)
			i += (size_t)((material->length + 7) & ~7u);	/* skip the material bytes themselves */
	}
	ttlv_enc_free(&raw);
	*format = ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32;
	assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM)->v.u32, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	assert_int_equal(ttlv_find(block, KMIP_TAG_CRYPTOGRAPHIC_LENGTH)->v.i32, 2048);
	*len = material->length;
	out = malloc(*len);
	memcpy(out, material->v.bytes.data, *len);
	ttlv_arena_free(a);
	return out;
}

static void
test_veeam_flow(void **state)
{
	struct veeam *v = *state;
	char priv[64], pub[64], found[64];
	uint8_t *pubder, *privder;
	const uint8_t *p;
	size_t publen, privlen;
	uint32_t fmt;
	EVP_PKEY *rsa_pub, *rsa_priv;
	int reason;

	start(v, (const char *const[]){ "keygen.pool_size=1", NULL });
	/* Test Connection and a job without a key yet: Locate finds nothing. */
	assert_int_equal(locate_name(v, "veeam-job-7", found, sizeof(found)), 0);
	create_pair(v, "veeam-job-7", priv, pub);
	assert_int_equal(simple_op(v, KMIP_OPERATION_ACTIVATE, priv, NULL), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(simple_op(v, KMIP_OPERATION_ACTIVATE, pub, NULL), KMIP_RESULT_STATUS_SUCCESS);
	/* Activating twice is a lifecycle error (Permission Denied in KMIP 1.4). */
	assert_int_equal(simple_op(v, KMIP_OPERATION_ACTIVATE, priv, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_int_equal(locate_name(v, "veeam-job-7", found, sizeof(found)), 1);
	assert_string_equal(found, priv);
	assert_int_equal(locate_name(v, "veeam-job-7-public", found, sizeof(found)), 1);
	assert_string_equal(found, pub);

	/* Public key, then private key, both PKCS#1 by default, and they belong together. */
	pubder = get_key(v, pub, KMIP_TAG_PUBLIC_KEY, &publen, &fmt);
	assert_int_equal(fmt, KMIP_KEY_FORMAT_TYPE_PKCS_1);
	privder = get_key(v, priv, KMIP_TAG_PRIVATE_KEY, &privlen, &fmt);
	assert_int_equal(fmt, KMIP_KEY_FORMAT_TYPE_PKCS_1);
	/* d2i_PublicKey / d2i_PrivateKey with EVP_PKEY_RSA read exactly PKCS#1. */
	p = pubder;
	rsa_pub = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)publen);
	assert_non_null(rsa_pub);
	p = privder;
	rsa_priv = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)privlen);
	assert_non_null(rsa_priv);
	assert_int_equal(EVP_PKEY_eq(rsa_pub, rsa_priv), 1);
	assert_int_equal(EVP_PKEY_get_bits(rsa_priv), 2048);
	EVP_PKEY_free(rsa_pub);
	EVP_PKEY_free(rsa_priv);
	explicit_bzero(privder, privlen);
	free(privder);
	free(pubder);

	/* Destroy follows the spec: an Active key must be revoked first. */
	assert_int_equal(simple_op(v, KMIP_OPERATION_DESTROY, priv, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_int_equal(simple_op(v, KMIP_OPERATION_REVOKE, priv, NULL), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(simple_op(v, KMIP_OPERATION_DESTROY, priv, NULL), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(simple_op(v, KMIP_OPERATION_GET, priv, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	/* A destroyed key is no longer found by its name (on-line objects only). */
	assert_int_equal(locate_name(v, "veeam-job-7", found, sizeof(found)), 0);
}

static void
test_veeam_destroy_active_with_compat(void **state)
{
	struct veeam *v = *state;
	char priv[64], pub[64];

	start(v, (const char *const[]){ "compat.destroy_active=true", "keygen.pool_size=0", NULL });
	create_pair(v, "veeam-job-9", priv, pub);
	assert_int_equal(simple_op(v, KMIP_OPERATION_ACTIVATE, priv, NULL), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(simple_op(v, KMIP_OPERATION_DESTROY, priv, NULL), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(simple_op(v, KMIP_OPERATION_DESTROY, pub, NULL), KMIP_RESULT_STATUS_SUCCESS);
}

static void
test_veeam_reconnect_resumes_session(void **state)
{
	struct veeam *v = *state;
	SSL_SESSION *sess;
	struct kmip_client *again;
	char found[64];

	start(v, (const char *const[]){ "keygen.pool_size=0", NULL });
	assert_int_equal(locate_name(v, "nothing", found, sizeof(found)), 0);
	sess = SSL_get1_session(kmip_client_ssl(v->cl));
	assert_non_null(sess);
	kmip_client_close(v->cl);
	v->cl = NULL;
	again = h_try_connect(&v->srv, v->ctx, sess, NULL, 0);
	assert_non_null(again);
	assert_true(SSL_session_reused(kmip_client_ssl(again)));
	v->cl = again;
	assert_int_equal(locate_name(v, "nothing", found, sizeof(found)), 0);
	SSL_SESSION_free(sess);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_veeam_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_veeam_destroy_active_with_compat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_veeam_reconnect_resumes_session, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
