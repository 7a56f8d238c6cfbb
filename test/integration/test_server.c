/*
 * Integration tests of the server core against the real kmipd binary over mutual TLS on loopback:
 * handshakes, refusals, session resumption, pipelining, malformed input, deadlines, config checks,
 * reload and shutdown. Each test starts its own server.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test/integration/harness.h"

static int
setup(void **state)
{
	struct h_server *s = calloc(1, sizeof(*s));

	*state = s;
	return s == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	h_cleanup(*state);
	free(*state);
	return 0;
}

/* Discover Versions answered over the given TLS version, in the request's protocol version. */
static void
discover_over(struct h_server *s, int tls_version)
{
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, tls_version, tls_version);
	struct kmip_client *cl = h_connect(s, ctx);
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	assert_int_equal(SSL_version(kmip_client_ssl(cl)), tls_version);
	h_discover_request(&req, 1, 4, "A");
	resp = h_call(cl, &req, &a);
	assert_int_equal(h_result_status(resp), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(h_response_version(resp), KMIP_VERSION(1, 4));
	assert_int_equal(ttlv_count(ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_RESPONSE_PAYLOAD),
	    KMIP_TAG_PROTOCOL_VERSION), 7);
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

static void
test_handshake_tls12_and_tls13(void **state)
{
	struct h_server *s = *state;

	h_start(s, NULL);
	discover_over(s, TLS1_2_VERSION);
	discover_over(s, TLS1_3_VERSION);
	assert_int_equal(h_stop(s, 5000), 0);
}

static void
test_refuses_client_without_certificate(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = h_client_ctx(NULL, NULL, NULL, TLS1_2_VERSION, TLS1_2_VERSION);
	char why[512];

	h_start(s, NULL);
	assert_null(h_try_connect(s, ctx, NULL, why, sizeof(why)));
	assert_true(h_log_wait(s, "TLS handshake failed", 5000));
	/* The server still serves a good client. */
	discover_over(s, TLS1_3_VERSION);
	SSL_CTX_free(ctx);
}

static void
test_pipelined_requests_answered_in_order(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct kmip_client *cl;
	struct ttlv_enc reqs[5];
	uint8_t *all = NULL;
	size_t len = 0, i;
	char *cause = NULL;
	char id[8];

	h_start(s, (const char *const[]){ "server.max_requests_per_event=2", NULL });
	cl = h_connect(s, ctx);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "req-%zu", i);
		h_discover_request(&reqs[i], 1, (int)i, id);
		all = realloc(all, len + reqs[i].len);
		memcpy(all + len, reqs[i].buf, reqs[i].len);
		len += reqs[i].len;
	}
	/* All five in one write: more than max_requests_per_event, so the server must come back for the rest. */
	assert_int_equal(kmip_client_write(cl, all, len, &cause), 0);
	for (i = 0; i < 5; i++) {
		struct ttlv_arena *a;
		struct ttlv *resp;
		const struct ttlv *bid;

		assert_int_equal(kmip_client_read(cl, &resp, &a, &cause), 0);
		snprintf(id, sizeof(id), "req-%zu", i);
		bid = ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_UNIQUE_BATCH_ITEM_ID);
		assert_non_null(bid);
		assert_int_equal(bid->length, strlen(id));
		assert_memory_equal(bid->v.bytes.data, id, strlen(id));
		assert_int_equal(h_response_version(resp), KMIP_VERSION(1, i));
		ttlv_arena_free(a);
		ttlv_enc_free(&reqs[i]);
	}
	free(all);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_tls12_and_tls13, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_client_without_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_answered_in_order, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
