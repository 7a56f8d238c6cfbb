/*
 * Get latency with and without a CreateKeyPair storm: the loop must keep answering while RSA key pairs are
 * generated. One connection Gets an AES key back to back for SECONDS (idle); then child processes run
 * CreateKeyPair RSA-2048 back to back on their own connections while the Gets are timed for SECONDS again.
 * Prints p50, p99 and max of both, and key pairs per second during the storm. Not a test: figures depend
 * on the machine.
 *
 * Usage: bench_latency HOST PORT CA CERT KEY [SECONDS] [STORMERS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <openssl/ssl.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "tls/tls.h"
#include "test/util.h"

static void
request_begin(struct ttlv_enc *e, uint32_t op)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(1, 4));
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, op);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

static void
request_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	if (ttlv_enc_finish(e) != 0)
		abort();
}

static void
attr(struct ttlv_enc *e, const char *name, uint8_t type, uint32_t v)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	if (type == TTLV_ENUMERATION)
		ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, v);
	else
		ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, (int32_t)v);
	ttlv_enc_end(e);
}

/* Sends a request and checks the response succeeded; exits on any failure (an error is never a figure). */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a)
{
	struct ttlv *resp;
	const struct ttlv *st;
	char *cause = NULL;

	if (kmip_client_call(cl, req, &resp, a, &cause) != 0) {
		fprintf(stderr, "bench_latency: %s\n", cause);
		exit(1);
	}
	st = ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM), KMIP_TAG_RESULT_STATUS);
	if (st == NULL || st->v.u32 != KMIP_RESULT_STATUS_SUCCESS) {
		fprintf(stderr, "bench_latency: operation failed\n");
		ttlv_print(stderr, resp);
		exit(1);
	}
	return resp;
}

static struct kmip_client *
connect_or_die(SSL_CTX *ctx, const char *host, unsigned port)
{
	struct kmip_client *cl;
	char *cause = NULL;

	if (kmip_client_connect(ctx, host, port, NULL, 30000, &cl, &cause) != 0) {
		fprintf(stderr, "bench_latency: %s\n", cause);
		exit(1);
	}
	return cl;
}

#define MAX_SAMPLES (4u << 20)

/* Times Gets of uid for seconds; writes sorted latencies (seconds) into lat and returns how many. */
static size_t
time_gets(struct kmip_client *cl, const char *uid, double seconds, double *lat)
{
	struct ttlv_enc req;
	double end = util_now() + seconds;
	size_t n = 0;

	request_begin(&req, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	request_end(&req);
	while (n < MAX_SAMPLES && util_now() < end) {
		struct ttlv_arena *a;
		double t0 = util_now();

		(void)call(cl, &req, &a);
		lat[n++] = util_now() - t0;
		ttlv_arena_free(a);
	}
	ttlv_enc_free(&req);
	util_sort_doubles(lat, n);
	return n;
}

/* A child that creates RSA-2048 key pairs until killed, counting them in *count. */
static void
storm(SSL_CTX *ctx, const char *host, unsigned port, volatile unsigned long *count)
{
	struct kmip_client *cl = connect_or_die(ctx, host, port);
	struct ttlv_enc req;

	request_begin(&req, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&req, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	attr(&req, "Cryptographic Algorithm", TTLV_ENUMERATION, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	attr(&req, "Cryptographic Length", TTLV_INTEGER, 2048);
	ttlv_enc_end(&req);
	request_end(&req);
	for (;;) {
		struct ttlv_arena *a;

		(void)call(cl, &req, &a);
		ttlv_arena_free(a);
		__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
	}
}

static void
report(const char *what, const double *lat, size_t n)
{
	printf("%-36s %8zu Gets   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms\n", what, n, lat[n / 2] * 1e3,
	    lat[(size_t)(n * 0.99)] * 1e3, lat[n - 1] * 1e3);
}

int
main(int argc, char **argv)
{
	const char *host, *ca, *cert, *key;
	unsigned port, stormers, i;
	size_t nidle, nbusy;
	double seconds;
	SSL_CTX *ctx = NULL;
	struct kmip_client *cl;
	struct ttlv_enc req;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char *cause = NULL, uid[80];
	double *idle, *busy, t0, elapsed;
	volatile unsigned long *count;
	pid_t pids[64];

	if (argc < 6) {
		fprintf(stderr, "usage: bench_latency HOST PORT CA CERT KEY [SECONDS] [STORMERS]\n");
		return 2;
	}
	host = argv[1], port = (unsigned)atoi(argv[2]), ca = argv[3], cert = argv[4], key = argv[5];
	seconds = argc > 6 ? atof(argv[6]) : 5;
	stormers = argc > 7 ? (unsigned)atoi(argv[7]) : 4;
	if (stormers > 64 || seconds <= 0)
		return 2;
	if (tls_client_ctx_new(ca, cert, key, &ctx, &cause) != 0) {
		fprintf(stderr, "bench_latency: %s\n", cause);
		return 1;
	}
	idle = calloc(MAX_SAMPLES, sizeof(double));
	busy = calloc(MAX_SAMPLES, sizeof(double));
	count = mmap(NULL, sizeof(*count), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (idle == NULL || busy == NULL || count == MAP_FAILED)
		return 1;
	*count = 0;

	cl = connect_or_die(ctx, host, port);
	request_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	attr(&req, "Cryptographic Algorithm", TTLV_ENUMERATION, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	attr(&req, "Cryptographic Length", TTLV_INTEGER, 256);
	ttlv_enc_end(&req);
	request_end(&req);
	resp = call(cl, &req, &a);
	snprintf(uid, sizeof(uid), "%s", (const char *)ttlv_find(ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM),
	    KMIP_TAG_RESPONSE_PAYLOAD), KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data);
	ttlv_arena_free(a);
	ttlv_enc_free(&req);

	nidle = time_gets(cl, uid, seconds, idle);
	for (i = 0; i < stormers; i++) {
		if ((pids[i] = fork()) == 0)
			storm(ctx, host, port, count);
	}
	sleep(1);	/* let the storm reach the workers */
	*count = 0;
	t0 = util_now();
	nbusy = time_gets(cl, uid, seconds, busy);
	elapsed = util_now() - t0;
	for (i = 0; i < stormers; i++)
		kill(pids[i], SIGKILL);
	for (i = 0; i < stormers; i++)
		waitpid(pids[i], NULL, 0);

	printf("Get of an AES-256 key over one persistent TLS connection, %.0f s per phase\n", seconds);
	report("idle", idle, nidle);
	report("during a CreateKeyPair storm", busy, nbusy);
	printf("%-36s %lu RSA-2048 key pairs in %.1f s (%.1f/s) from %u connections\n", "storm",
	    (unsigned long)*count, elapsed, *count / elapsed, stormers);
	printf("%-36s p99 %+.3f ms\n", "p99 during the storm - p99 idle", (busy[(size_t)(nbusy * 0.99)] -
	    idle[(size_t)(nidle * 0.99)]) * 1e3);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	return 0;
}
