/*
 * Nothing acknowledged is lost: clients pipeline Register requests from several connections (so writes share
 * group commits) while the server is killed with SIGKILL at random moments; after each restart on the same
 * store, every object whose response reached a client is there with its exact bytes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test/integration/harness.h"

#define CLIENTS		3
#define BURST		16	/* pipelined requests per client per turn */
#define ROUNDS		8
#define MAX_ACKED	20000
#define SECRET_LEN	24

struct acked {
	char uid[64];
	uint8_t secret[SECRET_LEN];
};

static struct acked acked[MAX_ACKED];
static size_t nacked;

/* A Register of Secret Data (a password of SECRET_LEN bytes) at KMIP 1.4. */
static void
register_request(struct ttlv_enc *e, const uint8_t *secret)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, secret, SECRET_LEN);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

/* Kills pid with SIGKILL after a random delay, from a child process, so the parent keeps sending. */
static pid_t
kill_later(pid_t pid, unsigned seed)
{
	pid_t k = fork();

	assert_true(k >= 0);
	if (k == 0) {
		struct timespec ts = { 0, (long)(50 + seed % 400) * 1000000L };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		_exit(0);
	}
	return k;
}

/* Sends bursts from every client until the server dies; records what was acknowledged. */
static void
write_until_killed(struct h_server *s, SSL_CTX *ctx)
{
	struct kmip_client *cl[CLIENTS];
	uint8_t pending[CLIENTS][BURST][SECRET_LEN];
	bool alive = true;
	int i, j;

	for (i = 0; i < CLIENTS; i++)
		cl[i] = h_connect(s, ctx);
	while (alive && nacked + CLIENTS * BURST < MAX_ACKED) {
		for (i = 0; i < CLIENTS && alive; i++) {
			uint8_t *all = NULL;
			size_t len = 0;
			char *cause = NULL;

			for (j = 0; j < BURST; j++) {
				struct ttlv_enc e;

				for (size_t b = 0; b < SECRET_LEN; b++)
					pending[i][j][b] = (uint8_t)rand();
				register_request(&e, pending[i][j]);
				all = realloc(all, len + e.len);
				memcpy(all + len, e.buf, e.len);
				len += e.len;
				ttlv_enc_free(&e);
			}
			if (kmip_client_write(cl[i], all, len, &cause) != 0) {
				alive = false;
				free(cause);
			}
			free(all);
		}
		for (i = 0; i < CLIENTS && alive; i++) {
			for (j = 0; j < BURST; j++) {
				struct ttlv_arena *a;
				struct ttlv *resp;
				char *cause = NULL;
				char uid[64];

				if (kmip_client_read(cl[i], &resp, &a, &cause) != 0) {
					alive = false;
					free(cause);
					break;
				}
				assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
				h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
				assert_true(uid[0] != '\0');
				snprintf(acked[nacked].uid, sizeof(acked[nacked].uid), "%s", uid);
				memcpy(acked[nacked].secret, pending[i][j], SECRET_LEN);
				nacked++;
				ttlv_arena_free(a);
			}
		}
	}
	for (i = 0; i < CLIENTS; i++)
		kmip_client_close(cl[i]);
}

/* Gets every acknowledged object and compares its bytes. */
static void
verify_all(struct h_server *s, SSL_CTX *ctx)
{
	struct kmip_client *cl = h_connect(s, ctx);
	size_t i;

	for (i = 0; i < nacked; i++) {
		const struct ttlv *m;
		struct ttlv_arena *a;
		struct ttlv_enc e;
		struct ttlv *resp;

		h_request_begin(&e, 1, 4, 1);
		h_item_begin(&e, KMIP_OPERATION_GET);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, acked[i].uid);
		h_item_end(&e);
		h_request_end(&e);
		resp = h_call(cl, &e, &a);
		if (h_item_status(resp, 0) != KMIP_RESULT_STATUS_SUCCESS)
			fail_msg("acknowledged object %s is missing after a restart", acked[i].uid);
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA),
		    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		assert_non_null(m);
		assert_int_equal(m->length, SECRET_LEN);
		assert_memory_equal(m->v.bytes.data, acked[i].secret, SECRET_LEN);
		ttlv_arena_free(a);
		ttlv_enc_free(&e);
	}
	kmip_client_close(cl);
}

static void
test_sigkill_loses_nothing_acknowledged(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "log.level=info", NULL };
	struct h_server s;
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	int round, status;

	(void)state;
	srand((unsigned)time(NULL));
	h_start(&s, opts);
	for (round = 0; round < ROUNDS; round++) {
		size_t before = nacked;
		pid_t killer = kill_later(s.pid, (unsigned)rand());

		write_until_killed(&s, ctx);
		waitpid(killer, &status, 0);
		waitpid(s.pid, &status, 0);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		print_message("round %d: %zu writes acknowledged before SIGKILL\n", round, nacked - before);
		h_restart(&s, opts);
		verify_all(&s, ctx);
	}
	assert_true(nacked > 0);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_loses_nothing_acknowledged),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
