/*
 * kmip-bench: an event-driven KMIP load generator.
 *
 * One process and one libevent loop drive any number of mutual-TLS connections (bufferevent_openssl in
 * client mode), spread over loopback source addresses 127.0.0.x so that more connections fit than one
 * address has ephemeral ports. Each connection keeps up to --depth requests in flight, their operations
 * drawn from --mix; the Veeam flow and the handshake-only modes run one step at a time per connection.
 * Every response is decoded and checked: a batch item that did not succeed is an error, never a figure.
 *
 * Optionally it first builds and holds a set of idle connections (--idle), resuming one TLS session after
 * the first full handshake, and reads the server's memory before and after (--server-pid), so the server's
 * cost per held connection and the throughput with them present come out of one run.
 *
 * Output: a table, one line of key=value pairs (--format line) or JSON (--json). Exit status 0 when the run
 * had no error, 3 when it completed with errors, 1 when it could not run, 2 on bad usage.
 * test/bench/README.md describes the options, the scripts around it and the figures.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proto/client.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "tls/tls.h"
#include "test/util.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24	/* Linux 4.2: pick the port at connect(), per destination */
#endif

#define MAX_DEPTH		1024	/* requests in flight per connection */
#define MAX_CONNS		2000000
#define MAX_KEYS		4096
#define MAX_SOURCES		254
#define PORTS_PER_SOURCE	28000	/* ephemeral ports of one source address toward one server port */
#define RECONNECT_MS		20	/* pause before a failed connection is opened again */
#define SHOW_ERRORS		5	/* errors described on stderr; later ones are only counted */

/* What is measured. The Veeam flow's steps are counted under their own operations as well. */
enum op {
	OP_GET,
	OP_LOCATE,
	OP_CREATE,
	OP_CREATE_KEY_PAIR,
	OP_ACTIVATE,
	OP_REVOKE,
	OP_DESTROY,
	OP_VEEAM,
	OP_HANDSHAKE_FULL,
	OP_HANDSHAKE_RESUMED,
	OP_DISCOVER,
	N_OPS
};

/* Each measured operation: its name in the reports, and the KMIP operation its requests carry (0: none). */
static const struct {
	const char *name;
	uint32_t code;
} op_table[N_OPS] = {
	[OP_GET] = { "get", KMIP_OPERATION_GET },
	[OP_LOCATE] = { "locate", KMIP_OPERATION_LOCATE },
	[OP_CREATE] = { "create", KMIP_OPERATION_CREATE },
	[OP_CREATE_KEY_PAIR] = { "create-key-pair", KMIP_OPERATION_CREATE_KEY_PAIR },
	[OP_ACTIVATE] = { "activate", KMIP_OPERATION_ACTIVATE },
	[OP_REVOKE] = { "revoke", KMIP_OPERATION_REVOKE },
	[OP_DESTROY] = { "destroy", KMIP_OPERATION_DESTROY },
	[OP_VEEAM] = { "veeam-flow", 0 },
	[OP_HANDSHAKE_FULL] = { "handshake-full", 0 },
	[OP_HANDSHAKE_RESUMED] = { "handshake-resumed", 0 },
	[OP_DISCOVER] = { "discover-versions", KMIP_OPERATION_DISCOVER_VERSIONS },
};

enum err_kind {
	ERR_STATUS,		/* a batch item did not succeed, or the result was not what the flow expects */
	ERR_PROTOCOL,		/* a response that does not decode, or that nothing asked for */
	ERR_IO,			/* a connection broke with requests in flight */
	ERR_CONNECT,		/* connect() or the TLS handshake failed */
	ERR_TIMEOUT,		/* no response (or handshake) within --timeout */
	ERR_IDLE_DROPPED,	/* a held idle connection was closed by the server */
	N_ERRS
};

static const char *const err_names[N_ERRS] = {
	[ERR_STATUS] = "status",
	[ERR_PROTOCOL] = "protocol",
	[ERR_IO] = "io",
	[ERR_CONNECT] = "connect",
	[ERR_TIMEOUT] = "timeout",
	[ERR_IDLE_DROPPED] = "idle_dropped",
};

enum mode {
	MODE_REQUESTS,		/* get, locate, create, create-key-pair, mixed by weight */
	MODE_VEEAM,		/* the Veeam Backup & Replication key flow, one flow after another */
	MODE_HANDSHAKE,		/* connect, handshake, close, again */
};

/* What the keys of Get and Locate are. */
enum objects {
	OBJ_AES,		/* AES-256 keys made with Create */
	OBJ_RSA,		/* the private halves of RSA-2048 key pairs made with CreateKeyPair */
};

enum format {
	FMT_HUMAN,
	FMT_LINE,
	FMT_JSON,
};

struct opts {
	const char *host;
	unsigned port;
	const char *ca, *cert, *key;
	unsigned conns;
	unsigned depth;
	unsigned idle;
	unsigned sources;	/* 0: chosen from the connection count */
	unsigned source_base;	/* the first source address is 127.0.0.source_base (default 1) */
	unsigned parallel;	/* handshakes in flight at most while connections are opened */
	unsigned nkeys;
	enum objects objects;
	const char *names;	/* NULL: fresh names each run; else PREFIX-i, reused when they exist */
	double duration, warmup, timeout;
	unsigned version;	/* KMIP_VERSION(major, minor) */
	int tls_min, tls_max;
	const char *sigalgs;	/* signature algorithms offered (OpenSSL list syntax); NULL: OpenSSL's */
	bool no_tickets;	/* TLS 1.2 resumption by session id only (as SChannel), no tickets asked */
	const char *mix;
	bool resume;		/* request connections and the idle set resume the seed session */
	bool idle_full;		/* build the idle set with full handshakes */
	long server_pid;
	enum format format;
	const char *label;
};

/*
 * Latency histogram in nanoseconds: exact below 128, then 64 sub-buckets per power of two (under 1.6 %
 * error), so memory is fixed whatever the sample count.
 */
#define HIST_SUB	64
#define HIST_BUCKETS	(2 * HIST_SUB + 42 * HIST_SUB)

struct hist {
	uint64_t n;
	uint64_t max;
	uint64_t b[HIST_BUCKETS];
};

struct opstat {
	uint64_t ok;
	struct hist h;
};

/* A request encoded once and sent many times. */
struct req {
	uint8_t *p;
	size_t len;
};

struct pending {
	uint64_t t0;
	uint8_t op;
};

enum role {
	ROLE_IDLE,		/* part of the held idle set: handshake, then nothing */
	ROLE_ACTIVE,		/* carries the measured workload */
};

enum cstate {
	CS_DOWN,
	CS_HANDSHAKING,
	CS_READY,
	CS_WAIT_TICKET,		/* TLS 1.3 seed connection waiting for a session ticket before closing */
};

struct bconn {
	struct bench *b;
	unsigned idx;
	enum role role;
	enum cstate state;
	bool resumed;
	struct bufferevent *bev;
	struct ttlv_decoder *dec;	/* active connections only */
	struct event *retry;		/* reconnect timer (active connections only) */
	uint64_t t_connect;
	struct pending *q;		/* ring of depth entries (active connections only) */
	unsigned qhead, qlen;
	/* Veeam flow state. */
	unsigned step;
	uint64_t flow_t0;
	unsigned long flow_seq;
	char priv[128], pub[128];
};

enum phase {
	PH_SETUP,
	PH_IDLE,	/* building the idle set */
	PH_SETTLE,	/* letting the server finish before reading its memory */
	PH_CONNECT,	/* opening the active connections */
	PH_WARMUP,
	PH_RUN,
	PH_DRAIN,	/* waiting for responses to requests sent before the end */
	PH_DONE,
};

struct proc_usage {
	double cpu_s;		/* user + system time of the process and its descendants */
	long rss_kb;		/* VmRSS of the process */
	long hwm_kb;		/* VmHWM of the process */
	long tree_rss_kb;	/* VmRSS summed over the process and its descendants */
	unsigned nprocs;
};

struct bench {
	struct opts o;
	enum mode mode;
	unsigned weight[N_OPS];
	unsigned wtotal;
	struct event_base *base;
	SSL_CTX *ctx;
	SSL_SESSION *session;		/* newest resumable session (the seed for resumption) */
	struct sockaddr_in dst;
	unsigned nsources;
	uint64_t rng;

	/* Prebuilt requests. */
	char **uids;
	char **names;
	unsigned nkeys;
	struct req *get_req, *locate_req;
	struct req create_req, ckp_req;

	enum phase phase;
	struct event *phase_timer;
	struct event *tick;
	struct bconn *active;
	unsigned nactive;
	struct bconn *idle;
	unsigned idle_next, idle_ready, idle_failed, idle_alive;
	unsigned active_next, active_ready;
	unsigned connecting;		/* handshakes in flight */
	uint64_t outstanding;		/* requests in flight over all connections */

	uint64_t t_idle0, t_idle1, t_connect0, t_run0, t_warm_end, t_end;
	struct opstat stats[N_OPS];
	uint64_t errors[N_ERRS];
	uint64_t errors_shown;
	uint64_t unexpected_full;	/* resumption offered but refused (counted, not an error) */

	struct proc_usage srv_before_idle, srv_after_idle, srv_run0, srv_run1;
	bool have_srv;
	double client_cpu0, client_cpu1;
	char tls_desc[128];
	char server_key[32];		/* the server certificate's key: "EC-256", "RSA-2048" */
	char first_error[320];
};

static struct bench *g_bench;	/* for OpenSSL's new-session callback */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void error_count(struct bench *b, enum err_kind kind, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kmip-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* xorshift64*: cheap and good enough to pick operations and keys. */
static uint64_t
rnd(struct bench *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 2685821657736338717ull;
}

/* Histogram bucket of a value. */
static unsigned
hist_index(uint64_t v)
{
	unsigned shift, i;

	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	shift = (unsigned)(63 - __builtin_clzll(v)) - 6;	/* v >> shift is in [64, 128) */
	i = 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* Middle of a bucket's range. */
static uint64_t
hist_value(unsigned i)
{
	unsigned shift;
	uint64_t top;

	if (i < 2 * HIST_SUB)
		return i;
	shift = (i - 2 * HIST_SUB) / HIST_SUB + 1;
	top = (i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	return (top << shift) + ((1ull << shift) >> 1);
}

static void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static void
hist_merge(struct hist *into, const struct hist *from)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

/* The q-quantile (0 < q <= 1) in nanoseconds; 0 for an empty histogram. */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0, v;
	unsigned i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* True while responses and handshakes count toward the figures. */
static bool
measuring(const struct bench *b, uint64_t t)
{
	return b->phase >= PH_WARMUP && b->t_warm_end != 0 && t >= b->t_warm_end &&
	    (b->t_end == 0 || t < b->t_end);
}

static void
record(struct bench *b, enum op op, uint64_t t0, uint64_t t1)
{
	if (!measuring(b, t1))
		return;
	b->stats[op].ok++;
	hist_add(&b->stats[op].h, t1 - t0);
}

/* Counts an error and describes the first few on stderr. */
static void
error_count(struct bench *b, enum err_kind kind, uint64_t n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (n == 0)
		return;
	b->errors[kind] += n;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->first_error[0] == '\0')
		snprintf(b->first_error, sizeof(b->first_error), "%s: %s", err_names[kind], msg);
	if (b->errors_shown++ < SHOW_ERRORS)
		fprintf(stderr, "kmip-bench: %s error: %s\n", err_names[kind], msg);
	else if (b->errors_shown == SHOW_ERRORS + 1)
		fprintf(stderr, "kmip-bench: further errors are only counted\n");
}

/* Process accounting from /proc, for the server under test. */

/* Reads utime + stime (ticks) and the parent of one process; -1 when it is gone. */
static int
proc_stat(long pid, long *ppid, unsigned long long *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields resume after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", ppid, &ut, &st) != 3)
		return -1;
	*ticks = ut + st;
	return 0;
}

/* Reads one "Key: N kB" line of /proc/PID/status; -1 when absent. */
static long
proc_status_kb(long pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* CPU time and memory of a process and all its descendants. Returns 0, or -1 if the process is gone. */
static int
proc_tree_usage(long root, struct proc_usage *u)
{
	struct ent {
		long pid, ppid;
		unsigned long long ticks;
		bool in;
	} *e = NULL;
	size_t n = 0, cap = 0, i;
	unsigned long long ticks = 0;
	bool changed;
	struct dirent *d;
	DIR *dir;

	memset(u, 0, sizeof(*u));
	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		long pid, ppid;
		unsigned long long t;
		char *end;

		pid = strtol(d->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || proc_stat(pid, &ppid, &t) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 512;
			if ((e = realloc(e, cap * sizeof(*e))) == NULL)
				die("out of memory");
		}
		e[n].pid = pid;
		e[n].ppid = ppid;
		e[n].ticks = t;
		e[n].in = pid == root;
		n++;
	}
	closedir(dir);
	do {
		changed = false;
		for (i = 0; i < n; i++) {
			size_t j;

			if (e[i].in)
				continue;
			for (j = 0; j < n; j++) {
				if (e[j].in && e[j].pid == e[i].ppid) {
					e[i].in = changed = true;
					break;
				}
			}
		}
	} while (changed);
	for (i = 0; i < n; i++) {
		long kb;

		if (!e[i].in)
			continue;
		u->nprocs++;
		ticks += e[i].ticks;
		if ((kb = proc_status_kb(e[i].pid, "VmRSS")) > 0)
			u->tree_rss_kb += kb;
	}
	free(e);
	if (u->nprocs == 0)
		return -1;
	u->cpu_s = (double)ticks / (double)sysconf(_SC_CLK_TCK);
	u->rss_kb = proc_status_kb(root, "VmRSS");
	u->hwm_kb = proc_status_kb(root, "VmHWM");
	return 0;
}

static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	    ru.ru_stime.tv_usec / 1e6;
}

/* Reads the server's usage into u when --server-pid was given. */
static void
server_usage(struct bench *b, struct proc_usage *u)
{
	if (b->o.server_pid <= 0)
		return;
	if (proc_tree_usage(b->o.server_pid, u) != 0)
		fprintf(stderr, "kmip-bench: server process %ld not found\n", b->o.server_pid);
	else
		b->have_srv = true;
}

/* Request encoding, in the KMIP version of the run: 1.x Template-Attribute and Attribute items, 2.x tags. */

static void
req_begin(struct ttlv_enc *e, unsigned version, uint32_t operation)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, version);
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, operation);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

/* Closes the payload, the batch item and the message, and hands the bytes over. */
static struct req
req_finish(struct ttlv_enc *e)
{
	struct req r;

	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	if (ttlv_enc_finish(e) != 0)
		die("cannot encode a request: %s", strerror(errno));
	r.p = ttlv_enc_detach(e, &r.len);
	ttlv_enc_free(e);
	return r;
}

static bool
v2(unsigned version)
{
	return KMIP_VERSION_MAJOR(version) >= 2;
}

/* Opens a 1.x Attribute and writes its Attribute Name; its value and ttlv_enc_end() are the caller's. */
static void
attr1_begin(struct ttlv_enc *e, const char *name)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
}

/* An Enumeration attribute: the tag itself in 2.x, an Attribute named name in 1.x. */
static void
attr_enum(struct ttlv_enc *e, unsigned version, uint32_t tag, const char *name, uint32_t v)
{
	if (v2(version)) {
		ttlv_enc_enum(e, tag, v);
		return;
	}
	attr1_begin(e, name);
	ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, v);
	ttlv_enc_end(e);
}

/* An Integer attribute, likewise. */
static void
attr_int(struct ttlv_enc *e, unsigned version, uint32_t tag, const char *name, int32_t v)
{
	if (v2(version)) {
		ttlv_enc_int(e, tag, v);
		return;
	}
	attr1_begin(e, name);
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, v);
	ttlv_enc_end(e);
}

/* A Name (Uninterpreted Text String), likewise. */
static void
attr_name(struct ttlv_enc *e, unsigned version, const char *name)
{
	if (v2(version)) {
		ttlv_enc_begin(e, KMIP_TAG_NAME);
	} else {
		attr1_begin(e, "Name");
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	}
	ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, name);
	ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(e);
	if (!v2(version))
		ttlv_enc_end(e);
}

/* Create of an AES-256 key, named when name is not NULL. */
static struct req
build_create(unsigned version, const char *name)
{
	struct ttlv_enc e;

	req_begin(&e, version, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, v2(version) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
	attr_enum(&e, version, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm",
	    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	attr_int(&e, version, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", 256);
	attr_int(&e, version, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (name != NULL)
		attr_name(&e, version, name);
	ttlv_enc_end(&e);
	return req_finish(&e);
}

/* CreateKeyPair RSA-2048 as Veeam sends it: names (when given) and a usage mask on each half. */
static struct req
build_ckp(unsigned version, const char *name)
{
	struct ttlv_enc e;
	char pubname[160];

	req_begin(&e, version, KMIP_OPERATION_CREATE_KEY_PAIR);
	ttlv_enc_begin(&e, v2(version) ? KMIP_TAG_COMMON_ATTRIBUTES : KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	attr_enum(&e, version, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, "Cryptographic Algorithm",
	    KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	attr_int(&e, version, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "Cryptographic Length", 2048);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, v2(version) ? KMIP_TAG_PRIVATE_KEY_ATTRIBUTES : KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	if (name != NULL)
		attr_name(&e, version, name);
	attr_int(&e, version, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, v2(version) ? KMIP_TAG_PUBLIC_KEY_ATTRIBUTES : KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	if (name != NULL) {
		snprintf(pubname, sizeof(pubname), "%s-public", name);
		attr_name(&e, version, pubname);
	}
	attr_int(&e, version, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, "Cryptographic Usage Mask",
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	ttlv_enc_end(&e);
	return req_finish(&e);
}

static struct req
build_locate(unsigned version, const char *name)
{
	struct ttlv_enc e;

	req_begin(&e, version, KMIP_OPERATION_LOCATE);
	if (v2(version))
		ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
	attr_name(&e, version, name);
	if (v2(version))
		ttlv_enc_end(&e);
	return req_finish(&e);
}

/* Get, Activate, Destroy and Revoke: requests that name one object. */
static struct req
build_uid_op(unsigned version, uint32_t operation, const char *uid)
{
	struct ttlv_enc e;

	req_begin(&e, version, operation);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (operation == KMIP_OPERATION_REVOKE) {
		ttlv_enc_begin(&e, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(&e, KMIP_TAG_REVOCATION_REASON_CODE,
		    KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION);
		ttlv_enc_end(&e);
	}
	return req_finish(&e);
}

static struct req
build_discover(unsigned version)
{
	struct ttlv_enc e;

	req_begin(&e, version, KMIP_OPERATION_DISCOVER_VERSIONS);
	return req_finish(&e);
}

static void
req_free(struct req *r)
{
	if (r->p != NULL) {
		OPENSSL_cleanse(r->p, r->len);
		free(r->p);
	}
	r->p = NULL;
	r->len = 0;
}

/*
 * Checks a response: a Response Message whose every batch item has Result Status Success and, when it
 * says, the operation that was asked. Returns the first item's payload (possibly NULL), or NULL with *why
 * set to what was wrong.
 */
static const struct ttlv *
check_response(const struct ttlv *root, uint32_t operation, char *why, size_t whysize, bool *failed)
{
	const struct ttlv *item, *st, *opn, *payload = NULL;
	unsigned n = 0;

	*failed = true;
	if (root == NULL || root->tag != KMIP_TAG_RESPONSE_MESSAGE || root->type != TTLV_STRUCTURE) {
		snprintf(why, whysize, "not a Response Message");
		return NULL;
	}
	for (item = ttlv_find(root, KMIP_TAG_BATCH_ITEM); item != NULL; item = ttlv_find_next(item), n++) {
		st = ttlv_find(item, KMIP_TAG_RESULT_STATUS);
		if (st == NULL || st->type != TTLV_ENUMERATION) {
			snprintf(why, whysize, "batch item without a Result Status");
			return NULL;
		}
		if (st->v.u32 != KMIP_RESULT_STATUS_SUCCESS) {
			const struct ttlv *reason = ttlv_find(item, KMIP_TAG_RESULT_REASON);
			const struct ttlv *msg = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);
			const char *rs = reason != NULL ? ttlv_enum_name(KMIP_TAG_RESULT_REASON, reason->v.u32) : NULL;

			snprintf(why, whysize, "%s: %s (%s)", ttlv_enum_name(KMIP_TAG_OPERATION, operation),
			    ttlv_enum_name(KMIP_TAG_RESULT_STATUS, st->v.u32) ? ttlv_enum_name(KMIP_TAG_RESULT_STATUS,
			    st->v.u32) : "failed", rs != NULL ? rs : "no reason");
			if (msg != NULL && msg->type == TTLV_TEXT_STRING) {
				size_t l = strlen(why);

				snprintf(why + l, whysize - l, ": %s", (const char *)msg->v.bytes.data);
			}
			return NULL;
		}
		opn = ttlv_find(item, KMIP_TAG_OPERATION);
		if (opn != NULL && opn->v.u32 != operation) {
			snprintf(why, whysize, "response to %s where %s was asked",
			    ttlv_enum_name(KMIP_TAG_OPERATION, opn->v.u32), ttlv_enum_name(KMIP_TAG_OPERATION, operation));
			return NULL;
		}
		if (n == 0)
			payload = ttlv_find(item, KMIP_TAG_RESPONSE_PAYLOAD);
	}
	if (n == 0) {
		snprintf(why, whysize, "no Batch Item");
		return NULL;
	}
	*failed = false;
	return payload;
}

/* Copies a Text String child of a payload; false when absent. */
static bool
payload_text(const struct ttlv *payload, uint32_t tag, char *buf, size_t size)
{
	const struct ttlv *t = ttlv_find(payload, tag);

	if (t == NULL || t->type != TTLV_TEXT_STRING || t->length + 1 > size)
		return false;
	memcpy(buf, t->v.bytes.data, t->length);
	buf[t->length] = '\0';
	return true;
}

/* Set-up over one blocking connection: the keys that Get and Locate use, and the seed TLS session. */

/*
 * Describes a connection in b->tls_desc: TLS version, cipher, and the server certificate's key ("server
 * EC-256", "server RSA-2048"), which tells which of kmipd's certificates the handshakes are made with.
 */
static void
describe_tls(struct bench *b, SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *pk = peer != NULL ? X509_get0_pubkey(peer) : NULL;

	snprintf(b->server_key, sizeof(b->server_key), "%s-%d", pk == NULL ? "none" : EVP_PKEY_is_a(pk, "EC") ?
	    "EC" : EVP_PKEY_get0_type_name(pk) != NULL ? EVP_PKEY_get0_type_name(pk) : "?",
	    pk != NULL ? EVP_PKEY_get_bits(pk) : 0);
	snprintf(b->tls_desc, sizeof(b->tls_desc), "%s %s server %s", tls_version_str(ssl),
	    SSL_get_cipher_name(ssl), b->server_key);
}

static struct kmip_client *
setup_connect(struct bench *b)
{
	struct kmip_client *cl;
	char *cause = NULL;

	if (kmip_client_connect(b->ctx, b->o.host, b->o.port, NULL, (int)(b->o.timeout * 1000), &cl, &cause) != 0)
		die("cannot connect to %s:%u: %s", b->o.host, b->o.port, cause ? cause : "?");
	describe_tls(b, kmip_client_ssl(cl));
	return cl;
}

/* Sends r and checks its response; returns the response (caller frees the arena) or exits. */
static struct ttlv *
setup_call(struct kmip_client *cl, const struct req *r, uint32_t operation, struct ttlv_arena **arena,
    const struct ttlv **payload)
{
	struct ttlv *root;
	char *cause = NULL, why[512];
	bool failed;

	if (kmip_client_write(cl, r->p, r->len, &cause) != 0 || kmip_client_read(cl, &root, arena, &cause) != 0)
		die("set-up: %s", cause ? cause : "?");
	*payload = check_response(root, operation, why, sizeof(why), &failed);
	if (failed)
		die("set-up: %s", why);
	return root;
}

/*
 * Finds the key named name when --names asks to reuse keys: its identifier into uid, true; false when there is
 * none. A Locate that finds more than one is an error, since Get and Locate must each name one object.
 */
static bool
setup_find(struct bench *b, struct kmip_client *cl, const char *name, char *uid, size_t size)
{
	const struct ttlv *payload;
	struct ttlv_arena *a;
	struct req r;
	unsigned found;

	r = build_locate(b->o.version, name);
	(void)setup_call(cl, &r, KMIP_OPERATION_LOCATE, &a, &payload);
	req_free(&r);
	found = ttlv_count(payload, KMIP_TAG_UNIQUE_IDENTIFIER);
	if (found > 1)
		die("set-up: %u objects are named %s", found, name);
	if (found == 1 && !payload_text(payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, size))
		die("set-up: Locate answered with a malformed Unique Identifier");
	ttlv_arena_free(a);
	return found == 1;
}

/* Makes the key named name, AES-256 or an RSA-2048 key pair (--objects); its (private half's) identifier into uid. */
static void
setup_make(struct bench *b, struct kmip_client *cl, const char *name, char *uid, size_t size)
{
	bool rsa = b->o.objects == OBJ_RSA;
	const struct ttlv *payload;
	struct ttlv_arena *a;
	struct req r;

	r = rsa ? build_ckp(b->o.version, name) : build_create(b->o.version, name);
	(void)setup_call(cl, &r, rsa ? KMIP_OPERATION_CREATE_KEY_PAIR : KMIP_OPERATION_CREATE, &a, &payload);
	req_free(&r);
	if (!payload_text(payload, rsa ? KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER : KMIP_TAG_UNIQUE_IDENTIFIER, uid,
	    size))
		die("set-up: %s answered without a Unique Identifier", rsa ? "CreateKeyPair" : "Create");
	ttlv_arena_free(a);
}

static void
setup(struct bench *b)
{
	struct kmip_client *cl = setup_connect(b);
	const struct ttlv *payload;
	struct ttlv_arena *a;
	struct req r;
	bool need_keys = b->mode == MODE_REQUESTS && (b->weight[OP_GET] > 0 || b->weight[OP_LOCATE] > 0);
	unsigned i;

	b->create_req = build_create(b->o.version, NULL);
	b->ckp_req = build_ckp(b->o.version, NULL);
	if (need_keys) {
		b->nkeys = b->o.nkeys;
		b->uids = xcalloc(b->nkeys, sizeof(*b->uids));
		b->names = xcalloc(b->nkeys, sizeof(*b->names));
		b->get_req = xcalloc(b->nkeys, sizeof(*b->get_req));
		b->locate_req = xcalloc(b->nkeys, sizeof(*b->locate_req));
		for (i = 0; i < b->nkeys; i++) {
			char name[128], uid[256];

			if (b->o.names != NULL)
				snprintf(name, sizeof(name), "%s-%u", b->o.names, i);
			else
				snprintf(name, sizeof(name), "kmip-bench-%ld-%lx-key-%u", (long)getpid(),
				    (unsigned long)time(NULL), i);
			if (b->o.names == NULL || !setup_find(b, cl, name, uid, sizeof(uid)))
				setup_make(b, cl, name, uid, sizeof(uid));
			if ((b->uids[i] = strdup(uid)) == NULL || (b->names[i] = strdup(name)) == NULL)
				die("out of memory");
			b->get_req[i] = build_uid_op(b->o.version, KMIP_OPERATION_GET, uid);
			b->locate_req[i] = build_locate(b->o.version, name);
		}
	} else {
		/* One request, so that a TLS 1.3 session ticket is read and a seed session exists. */
		r = build_discover(b->o.version);
		(void)setup_call(cl, &r, KMIP_OPERATION_DISCOVER_VERSIONS, &a, &payload);
		req_free(&r);
		ttlv_arena_free(a);
	}
	kmip_client_close(cl);
}

/* Keeps the newest session that can be resumed, for connections that resume. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct bench *b = g_bench;
	struct bconn *c = SSL_get_app_data(ssl);

	if (c != NULL && c->state == CS_WAIT_TICKET)
		event_active(c->retry, EV_TIMEOUT, 0);	/* its ticket is here: close it from the loop */
	/* TLS 1.2 sessions resume any number of times; a TLS 1.3 ticket once, so take the newest. */
	if (b->session != NULL && SSL_SESSION_is_resumable(b->session) &&
	    SSL_SESSION_get_protocol_version(sess) < TLS1_3_VERSION)
		return 0;
	if (b->session != NULL)
		SSL_SESSION_free(b->session);
	b->session = sess;
	return 1;	/* we keep the reference */
}

/* Connections. */

static void conn_start(struct bconn *c);
static void conn_fill(struct bconn *c);
static void phase_next(struct bench *b);
static void idle_continue(struct bench *b);

/* After the end: stop the loop once nothing is in flight. */
static void
drain_check(struct bench *b)
{
	if (b->phase == PH_DRAIN && b->outstanding == 0 && b->connecting == 0)
		event_base_loopbreak(b->base);
}

/* Closes the connection; clean closes send close_notify so the server keeps the session resumable. */
static void
conn_down(struct bconn *c, bool clean)
{
	struct bench *b = c->b;

	if (c->bev != NULL) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		if (clean && ssl != NULL && c->state != CS_HANDSHAKING)
			(void)SSL_shutdown(ssl);
		ERR_clear_error();
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->state == CS_HANDSHAKING)
		b->connecting--;
	if (c->state != CS_DOWN && c->role == ROLE_IDLE && c->state != CS_HANDSHAKING)
		b->idle_alive--;
	if (c->q != NULL) {
		b->outstanding -= c->qlen;
		c->qhead = c->qlen = 0;
	}
	if (c->dec != NULL)
		ttlv_decoder_reset(c->dec);
	c->state = CS_DOWN;
	c->step = 0;
	drain_check(b);
}

/* A broken active connection: counts what was in flight and opens it again after a pause. */
static void
conn_fail(struct bconn *c, enum err_kind kind, const char *why)
{
	struct bench *b = c->b;
	struct timeval tv = { 0, RECONNECT_MS * 1000 };

	if (c->state == CS_HANDSHAKING)
		error_count(b, kind == ERR_TIMEOUT ? ERR_TIMEOUT : ERR_CONNECT, 1, "connection %u: %s", c->idx, why);
	else if (c->qlen > 0)
		error_count(b, kind, c->qlen, "connection %u: %s (%u requests in flight)", c->idx, why, c->qlen);
	else if (b->phase < PH_DRAIN)
		error_count(b, kind, 1, "connection %u: %s", c->idx, why);
	conn_down(c, false);
	if (b->phase < PH_DRAIN)
		evtimer_add(c->retry, &tv);
}

/* Describes the TLS errors a bufferevent collected. */
static void
bev_errors(struct bufferevent *bev, char *buf, size_t size)
{
	unsigned long e;
	size_t n = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(bev)) != 0 && n + 1 < size) {
		char one[200];

		if (ERR_GET_LIB(e) == 0)
			continue;
		ERR_error_string_n(e, one, sizeof(one));
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "; " : "", one);
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "%s", errno != 0 ? strerror(errno) : "connection closed");
}

/* The handshake finished. */
static void
conn_connected(struct bconn *c)
{
	struct bench *b = c->b;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	uint64_t t = util_now_ns();

	b->connecting--;
	c->state = CS_READY;
	c->resumed = SSL_session_reused(ssl) == 1;
	if (b->tls_desc[0] == '\0')
		describe_tls(b, ssl);
	if (c->role == ROLE_IDLE) {
		b->idle_ready++;
		b->idle_alive++;
		idle_continue(b);
		return;
	}
	if (b->mode == MODE_HANDSHAKE) {
		bool wanted = b->weight[OP_HANDSHAKE_RESUMED] > 0;

		record(b, c->resumed ? OP_HANDSHAKE_RESUMED : OP_HANDSHAKE_FULL, c->t_connect, t);
		if (wanted && !c->resumed && measuring(b, t))
			b->unexpected_full++;
		if (wanted && SSL_version(ssl) >= TLS1_3_VERSION) {
			/* TLS 1.3 tickets come after the handshake and are used once: read this one first. */
			c->state = CS_WAIT_TICKET;
			c->t_connect = t;
			return;
		}
		conn_down(c, true);
		if (b->phase >= PH_WARMUP && b->phase < PH_DRAIN)
			conn_start(c);
		return;
	}
	b->active_ready++;
	if (b->phase == PH_CONNECT) {
		if (b->active_next < b->nactive)
			conn_start(&b->active[b->active_next++]);
		if (b->active_ready >= b->nactive)
			phase_next(b);
		return;
	}
	if (b->phase == PH_WARMUP || b->phase == PH_RUN)
		conn_fill(c);
}

/* Sends one request and remembers when, for its latency. */
static void
conn_send(struct bconn *c, const struct req *r, enum op op)
{
	struct bench *b = c->b;
	struct pending *p;

	if (bufferevent_write(c->bev, r->p, r->len) != 0)
		die("out of memory queueing a request");
	p = &c->q[(c->qhead + c->qlen) % b->o.depth];
	p->t0 = util_now_ns();
	p->op = (uint8_t)op;
	c->qlen++;
	b->outstanding++;
}

/* Sends the next step of this connection's Veeam flow. */
static void
veeam_send(struct bconn *c)
{
	struct bench *b = c->b;
	unsigned v = b->o.version;
	char name[128];
	struct req r;
	enum op op;

	snprintf(name, sizeof(name), "kmip-bench-%ld-veeam-%u-%lu", (long)getpid(), c->idx, c->flow_seq);
	switch (c->step) {
	case 0:		/* "Test connection" and a job that has no key yet: nothing found */
	case 4:		/* the job's key, found by its name */
		r = build_locate(v, name);
		op = OP_LOCATE;
		break;
	case 1:
		r = build_ckp(v, name);
		op = OP_CREATE_KEY_PAIR;
		break;
	case 2:
		r = build_uid_op(v, KMIP_OPERATION_ACTIVATE, c->priv);
		op = OP_ACTIVATE;
		break;
	case 3:
		r = build_uid_op(v, KMIP_OPERATION_ACTIVATE, c->pub);
		op = OP_ACTIVATE;
		break;
	case 5:
		r = build_uid_op(v, KMIP_OPERATION_GET, c->pub);
		op = OP_GET;
		break;
	case 6:
		r = build_uid_op(v, KMIP_OPERATION_GET, c->priv);
		op = OP_GET;
		break;
	case 7:
		r = build_uid_op(v, KMIP_OPERATION_REVOKE, c->priv);
		op = OP_REVOKE;
		break;
	case 8:
		r = build_uid_op(v, KMIP_OPERATION_DESTROY, c->priv);
		op = OP_DESTROY;
		break;
	case 9:
		r = build_uid_op(v, KMIP_OPERATION_REVOKE, c->pub);
		op = OP_REVOKE;
		break;
	default:
		r = build_uid_op(v, KMIP_OPERATION_DESTROY, c->pub);
		op = OP_DESTROY;
		break;
	}
	if (c->step == 0)
		c->flow_t0 = util_now_ns();
	conn_send(c, &r, op);
	req_free(&r);
}

#define VEEAM_STEPS 11

/* Picks an operation by weight and sends it. */
static void
requests_send(struct bconn *c)
{
	struct bench *b = c->b;
	unsigned w = (unsigned)(rnd(b) % b->wtotal), k;
	enum op op;

	for (op = 0; op < N_OPS; op++) {
		if (w < b->weight[op])
			break;
		w -= b->weight[op];
	}
	switch (op) {
	case OP_GET:
		k = (unsigned)(rnd(b) % b->nkeys);
		conn_send(c, &b->get_req[k], OP_GET);
		break;
	case OP_LOCATE:
		k = (unsigned)(rnd(b) % b->nkeys);
		conn_send(c, &b->locate_req[k], OP_LOCATE);
		break;
	case OP_CREATE:
		conn_send(c, &b->create_req, OP_CREATE);
		break;
	default:
		conn_send(c, &b->ckp_req, OP_CREATE_KEY_PAIR);
		break;
	}
}

/* Keeps depth requests in flight (one for the Veeam flow) while the run lasts. */
static void
conn_fill(struct bconn *c)
{
	struct bench *b = c->b;

	if (c->state != CS_READY || (b->phase != PH_WARMUP && b->phase != PH_RUN))
		return;
	if (b->mode == MODE_VEEAM) {
		if (c->qlen == 0)
			veeam_send(c);
		return;
	}
	while (c->qlen < b->o.depth)
		requests_send(c);
}

/* Checks what a step of the Veeam flow returned and moves the flow on. Returns -1 on a wrong result. */
static int
veeam_result(struct bconn *c, const struct ttlv *payload, uint64_t t, char *why, size_t whysize)
{
	struct bench *b = c->b;
	unsigned found;

	switch (c->step) {
	case 0:
	case 4:
		found = ttlv_count(payload, KMIP_TAG_UNIQUE_IDENTIFIER);
		if (found != (c->step == 0 ? 0u : 1u)) {
			snprintf(why, whysize, "Veeam flow: Locate by name found %u objects, expected %u", found,
			    c->step == 0 ? 0u : 1u);
			return -1;
		}
		if (c->step == 4) {
			char uid[128];

			if (!payload_text(payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid)) ||
			    strcmp(uid, c->priv) != 0) {
				snprintf(why, whysize, "Veeam flow: Locate by name found another object than the "
				    "private key");
				return -1;
			}
		}
		break;
	case 1:
		if (!payload_text(payload, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, c->priv, sizeof(c->priv)) ||
		    !payload_text(payload, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, c->pub, sizeof(c->pub))) {
			snprintf(why, whysize, "Veeam flow: CreateKeyPair answered without both identifiers");
			return -1;
		}
		break;
	case 5:
	case 6:
		if (ttlv_find(payload, c->step == 5 ? KMIP_TAG_PUBLIC_KEY : KMIP_TAG_PRIVATE_KEY) == NULL) {
			snprintf(why, whysize, "Veeam flow: Get returned no %s key", c->step == 5 ? "public" : "private");
			return -1;
		}
		break;
	default:
		break;
	}
	if (++c->step == VEEAM_STEPS) {
		record(b, OP_VEEAM, c->flow_t0, t);
		c->step = 0;
		c->flow_seq++;
	}
	return 0;
}

/* One whole response arrived: match it to the oldest request in flight, check it and record it. */
static int
conn_response(struct bconn *c, struct ttlv *root)
{
	struct bench *b = c->b;
	const struct ttlv *payload;
	struct pending p;
	uint64_t t = util_now_ns();
	char why[512];
	bool failed;

	if (c->qlen == 0) {
		error_count(b, ERR_PROTOCOL, 1, "connection %u: a response nothing asked for", c->idx);
		return -1;
	}
	p = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % b->o.depth;
	c->qlen--;
	b->outstanding--;
	payload = check_response(root, op_table[p.op].code, why, sizeof(why), &failed);
	if (!failed && p.op == OP_GET && b->mode == MODE_REQUESTS && ttlv_find(payload, b->o.objects == OBJ_RSA ?
	    KMIP_TAG_PRIVATE_KEY : KMIP_TAG_SYMMETRIC_KEY) == NULL) {
		snprintf(why, sizeof(why), "Get returned no %s", b->o.objects == OBJ_RSA ? "Private Key" :
		    "Symmetric Key");
		failed = true;
	}
	if (!failed && p.op == OP_LOCATE && b->mode == MODE_REQUESTS &&
	    ttlv_count(payload, KMIP_TAG_UNIQUE_IDENTIFIER) != 1) {
		snprintf(why, sizeof(why), "Locate by a unique name found %u objects",
		    ttlv_count(payload, KMIP_TAG_UNIQUE_IDENTIFIER));
		failed = true;
	}
	if (!failed && b->mode == MODE_VEEAM && veeam_result(c, payload, t, why, sizeof(why)) != 0)
		failed = true;
	if (failed) {
		error_count(b, ERR_STATUS, 1, "%s", why);
		if (b->mode == MODE_VEEAM)
			c->step = 0;	/* start a new flow with fresh names */
		if (b->mode == MODE_VEEAM)
			c->flow_seq++;
		return 0;
	}
	record(b, (enum op)p.op, p.t0, t);
	return 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct bconn *c = arg;
	struct bench *b = c->b;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->role == ROLE_IDLE || c->dec == NULL) {
		error_count(b, ERR_PROTOCOL, 1, "connection %u: data on a connection that sent nothing", c->idx);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		struct ttlv_arena *arena;
		struct ttlv *root;
		enum ttlv_status st;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = ttlv_decoder_feed(c->dec, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (st == TTLV_NEED_MORE)
			continue;
		if (st == TTLV_ERROR) {
			const char *what;
			uint64_t off;

			(void)ttlv_decoder_error(c->dec, &off, &what);
			error_count(b, ERR_PROTOCOL, 1, "connection %u: malformed response at byte %" PRIu64 ": %s",
			    c->idx, off, what);
			conn_fail(c, ERR_IO, "closed after a malformed response");
			return;
		}
		root = ttlv_decoder_take(c->dec, &arena);
		if (conn_response(c, root) != 0) {
			ttlv_arena_free(arena);
			conn_fail(c, ERR_IO, "closed after an unexpected response");
			return;
		}
		ttlv_arena_free(arena);
	}
	if (b->phase == PH_DRAIN) {
		drain_check(b);
		return;
	}
	conn_fill(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bconn *c = arg;
	struct bench *b = c->b;
	char errs[512];

	if (what & BEV_EVENT_CONNECTED) {
		conn_connected(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		bev_errors(bev, errs, sizeof(errs));
	else
		snprintf(errs, sizeof(errs), "server closed the connection");
	if (c->role == ROLE_IDLE) {
		if (c->state == CS_HANDSHAKING) {
			b->idle_failed++;
			error_count(b, ERR_CONNECT, 1, "idle connection %u: %s", c->idx, errs);
			conn_down(c, false);
			idle_continue(b);
		} else {
			error_count(b, ERR_IDLE_DROPPED, 1, "idle connection %u: %s", c->idx, errs);
			conn_down(c, false);
		}
		return;
	}
	conn_fail(c, ERR_IO, errs);
	if (b->phase == PH_CONNECT && b->active_next < b->nactive)
		conn_start(&b->active[b->active_next++]);
}

/* Reconnect timer of an active connection, also used to close a TLS 1.3 seed once its ticket came. */
static void
conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *c = arg;
	struct bench *b = c->b;

	(void)fd;
	(void)what;
	if (c->state == CS_WAIT_TICKET)
		conn_down(c, true);
	if (c->state == CS_DOWN && (b->phase == PH_CONNECT || b->phase == PH_WARMUP || b->phase == PH_RUN))
		conn_start(c);
}

/*
 * The source address of connection i: 127.0.0.(base + i % sources) toward a loopback server. Several
 * kmip-bench processes holding connections at once take distinct bases, so that no source address runs out
 * of ephemeral ports.
 */
static void
conn_bind(struct bench *b, int fd, unsigned i)
{
	struct sockaddr_in sa;
	unsigned host = b->o.source_base + i % b->nsources;
	int one = 1;

	if (b->nsources <= 1 && b->o.source_base == 1)
		return;
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(0x7f000000u + host);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("bind to 127.0.0.%u: %s", host, strerror(errno));
}

/* Opens the connection: non-blocking connect, then a TLS handshake driven by the bufferevent. */
static void
conn_start(struct bconn *c)
{
	struct bench *b = c->b;
	bool resume;
	char *cause = NULL;
	SSL *ssl;
	int fd, one = 1;

	if (b->mode == MODE_HANDSHAKE && c->role == ROLE_ACTIVE)
		resume = b->weight[OP_HANDSHAKE_RESUMED] > 0;
	else if (c->role == ROLE_IDLE)
		resume = !b->o.idle_full;
	else
		resume = b->o.resume;
	c->t_connect = util_now_ns();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error_count(b, ERR_CONNECT, 1, "socket: %s", strerror(errno));
		goto fail;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_bind(b, fd, c->idx);
	if (connect(fd, (struct sockaddr *)&b->dst, sizeof(b->dst)) != 0 && errno != EINPROGRESS) {
		error_count(b, ERR_CONNECT, 1, "connect to %s:%u: %s", b->o.host, b->o.port, strerror(errno));
		close(fd);
		goto fail;
	}
	if ((ssl = SSL_new(b->ctx)) == NULL)
		die("SSL_new: out of memory");
	if (tls_client_set_host(ssl, b->o.host, &cause) != 0)
		die("%s", cause ? cause : "cannot set the server name");
	if (resume && b->session != NULL && SSL_SESSION_is_resumable(b->session))
		SSL_set_session(ssl, b->session);
	SSL_set_app_data(ssl, c);
	c->bev = bufferevent_openssl_socket_new(b->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		die("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = CS_HANDSHAKING;
	b->connecting++;
	return;
fail:
	if (c->role == ROLE_IDLE) {
		b->idle_failed++;
		return;		/* idle_continue() is called by the caller's loop */
	}
	{
		struct timeval tv = { 0, RECONNECT_MS * 1000 };

		evtimer_add(c->retry, &tv);
	}
}

/* Opens idle connections while fewer than --parallel handshakes are in flight; moves on when all are done. */
static void
idle_continue(struct bench *b)
{
	while (b->idle_next < b->o.idle && b->connecting < b->o.parallel) {
		struct bconn *c = &b->idle[b->idle_next++];

		/* The first connection makes the session the others resume: let it finish alone. */
		if (b->idle_next > 1 && b->session == NULL && !b->o.idle_full && b->idle_ready == 0) {
			b->idle_next--;
			break;
		}
		conn_start(c);
		if (b->idle_failed > 1000 && b->idle_ready == 0)
			die("cannot open idle connections: %s", b->first_error);
	}
	if (b->phase == PH_IDLE && b->idle_ready + b->idle_failed == b->o.idle)
		phase_next(b);
}

/* Once a second: requests or handshakes older than --timeout fail their connection. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	uint64_t t = util_now_ns(), limit = (uint64_t)(b->o.timeout * 1e9);
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < b->nactive; i++) {
		struct bconn *c = &b->active[i];

		if (c->state == CS_HANDSHAKING && t - c->t_connect > limit)
			conn_fail(c, ERR_TIMEOUT, "handshake timed out");
		else if (c->state == CS_WAIT_TICKET && t - c->t_connect > 1000000000u)
			event_active(c->retry, EV_TIMEOUT, 0);	/* no ticket came: close anyway */
		else if (c->qlen > 0 && t - c->q[c->qhead].t0 > limit)
			conn_fail(c, ERR_TIMEOUT, "no response within the timeout");
	}
	if (b->phase == PH_CONNECT && t - b->t_connect0 > limit) {
		if (b->active_ready == 0)
			die("no connection could be opened: %s", b->first_error);
		fprintf(stderr, "kmip-bench: %u of %u connections open after %.0f s; running with them\n",
		    b->active_ready, b->nactive, b->o.timeout);
		phase_next(b);
	}
	if (b->phase == PH_IDLE) {
		for (i = 0; i < b->idle_next; i++) {
			struct bconn *c = &b->idle[i];

			if (c->state == CS_HANDSHAKING && t - c->t_connect > limit) {
				b->idle_failed++;
				error_count(b, ERR_TIMEOUT, 1, "idle connection %u: handshake timed out", c->idx);
				conn_down(c, false);
			}
		}
		idle_continue(b);
	}
}

static void
phase_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	phase_next(arg);
}

static void
phase_at(struct bench *b, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(b->phase_timer, &tv);
}

/* Starts measuring (after the warm-up, or at once). */
static void
run_begin(struct bench *b)
{
	unsigned i;

	for (i = 0; i < N_OPS; i++)
		memset(&b->stats[i], 0, sizeof(b->stats[i]));
	b->unexpected_full = 0;
	server_usage(b, &b->srv_run0);
	b->client_cpu0 = self_cpu();
	b->t_warm_end = util_now_ns();
	b->phase = PH_RUN;
	phase_at(b, b->o.duration);
}

/* Moves the run from one phase to the next. */
static void
phase_next(struct bench *b)
{
	unsigned i;

	switch (b->phase) {
	case PH_SETUP:
		if (b->o.idle > 0) {
			b->phase = PH_IDLE;
			server_usage(b, &b->srv_before_idle);
			b->t_idle0 = util_now_ns();
			idle_continue(b);
			return;
		}
		/* FALLTHROUGH */
	case PH_SETTLE:
		if (b->phase == PH_SETTLE)
			server_usage(b, &b->srv_after_idle);
		if (b->mode != MODE_HANDSHAKE && b->nactive > 0) {
			b->phase = PH_CONNECT;
			b->t_connect0 = util_now_ns();
			b->active_next = 0;
			while (b->active_next < b->nactive && b->connecting < b->o.parallel)
				conn_start(&b->active[b->active_next++]);
			return;
		}
		/* FALLTHROUGH */
	case PH_CONNECT:
		b->phase = PH_WARMUP;
		b->t_run0 = util_now_ns();
		for (i = 0; i < b->nactive; i++) {
			struct bconn *c = &b->active[i];

			if (b->mode == MODE_HANDSHAKE)
				conn_start(c);
			else
				conn_fill(c);
		}
		if (b->o.warmup > 0)
			phase_at(b, b->o.warmup);
		else
			run_begin(b);
		return;
	case PH_IDLE:
		b->t_idle1 = util_now_ns();
		b->phase = PH_SETTLE;
		phase_at(b, 1.0);	/* let the server finish its side of the last handshakes */
		return;
	case PH_WARMUP:
		run_begin(b);
		return;
	case PH_RUN:
		b->t_end = util_now_ns();
		b->client_cpu1 = self_cpu();
		server_usage(b, &b->srv_run1);
		b->phase = PH_DRAIN;
		if (b->outstanding == 0 && b->connecting == 0) {
			event_base_loopbreak(b->base);
			return;
		}
		phase_at(b, b->o.timeout);
		return;
	case PH_DRAIN:
		error_count(b, ERR_TIMEOUT, b->outstanding, "%" PRIu64 " requests unanswered at the end",
		    b->outstanding);
		event_base_loopbreak(b->base);
		return;
	case PH_DONE:
		return;
	}
}

/* Options. */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kmip-bench [options]\n"
	    "  -H, --host ADDR          server address (IPv4), default 127.0.0.1\n"
	    "  -p, --port N             server port, default 5696\n"
	    "      --certs DIR          ca.crt, client.crt and client.key from DIR (etc/mkcerts.sh)\n"
	    "      --ca/--cert/--key F  the same files one by one\n"
	    "  -c, --connections N      connections carrying the workload, default 1\n"
	    "  -d, --depth N            requests in flight per connection (pipelining), default 1\n"
	    "  -m, --mix SPEC           get, locate, create, create-key-pair, weighted as\n"
	    "                           \"get:80,locate:15,create:5\"; or alone: veeam, handshake,\n"
	    "                           handshake-resume. Default get\n"
	    "  -t, --duration S         measured seconds, default 5\n"
	    "  -w, --warmup S           seconds before measuring, default 1\n"
	    "  -V, --kmip-version X.Y   1.0 to 1.4, 2.0, 2.1; default 1.4\n"
	    "      --tls 1.2|1.3|any    TLS version, default 1.2\n"
	    "      --sigalgs LIST       signature algorithms offered, e.g. ECDSA+SHA256 (a server with\n"
	    "                           tls.ecdsa_cert_file then shows its ECDSA certificate) or\n"
	    "                           rsa_pss_rsae_sha256:RSA+SHA256; default OpenSSL's\n"
	    "      --no-tickets         ask for no session ticket: TLS 1.2 resumes by session id\n"
	    "      --idle N             first open and hold N idle connections\n"
	    "      --idle-full          build the idle set with full handshakes (default: resumed)\n"
	    "      --no-resume          workload connections make full handshakes\n"
	    "      --sources N          source addresses 127.0.0.1..N (default: one per 20000 connections)\n"
	    "      --source-base B      the first source address is 127.0.0.B (default 1)\n"
	    "      --parallel N         handshakes in flight while connecting, default 64\n"
	    "      --keys N             keys made for get and locate, default 16\n"
	    "      --objects aes|rsa    those keys: AES-256 (Create), or the private halves of RSA-2048\n"
	    "                           key pairs (CreateKeyPair); default aes\n"
	    "      --names PREFIX       name them PREFIX-0, PREFIX-1...; those that exist are used as\n"
	    "                           they are, so later runs Get the same objects\n"
	    "      --timeout S          per request and handshake, default 30\n"
	    "      --server-pid PID     report the server's CPU time and memory (process and children)\n"
	    "      --label TEXT         name of the run in the output\n"
	    "      --format human|line|json, --json\n"
	    "Exit status: 0 no error, 3 completed with errors, 1 could not run, 2 usage.\n");
}

static unsigned
parse_uint(const char *s, const char *what, unsigned min, unsigned max)
{
	unsigned long v;

	if (util_parse_ulong(s, min, max, &v) != 0) {
		fprintf(stderr, "kmip-bench: %s must be an integer from %u to %u\n", what, min, max);
		exit(2);
	}
	return (unsigned)v;
}

static double
parse_seconds(const char *s, const char *what, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !(v >= min) || v > 86400) {
		fprintf(stderr, "kmip-bench: %s must be a number of seconds from %g\n", what, min);
		exit(2);
	}
	return v;
}

/* Reads --mix into weights and a mode. */
static void
parse_mix(struct bench *b, const char *spec)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	unsigned nmodes = 0;

	if (copy == NULL)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		unsigned w = 1;
		enum op op;

		if (colon != NULL) {
			*colon = '\0';
			w = parse_uint(colon + 1, "a --mix weight", 0, 1000000);
		}
		if (strcmp(tok, "get") == 0)
			op = OP_GET;
		else if (strcmp(tok, "locate") == 0)
			op = OP_LOCATE;
		else if (strcmp(tok, "create") == 0)
			op = OP_CREATE;
		else if (strcmp(tok, "create-key-pair") == 0 || strcmp(tok, "ckp") == 0)
			op = OP_CREATE_KEY_PAIR;
		else if (strcmp(tok, "veeam") == 0) {
			b->mode = MODE_VEEAM;
			nmodes++;
			continue;
		} else if (strcmp(tok, "handshake") == 0 || strcmp(tok, "handshake-full") == 0) {
			b->mode = MODE_HANDSHAKE;
			b->weight[OP_HANDSHAKE_FULL] = 1;
			nmodes++;
			continue;
		} else if (strcmp(tok, "handshake-resume") == 0 || strcmp(tok, "handshake-resumed") == 0) {
			b->mode = MODE_HANDSHAKE;
			b->weight[OP_HANDSHAKE_RESUMED] = 1;
			nmodes++;
			continue;
		} else {
			fprintf(stderr, "kmip-bench: unknown operation \"%s\" in --mix\n", tok);
			exit(2);
		}
		b->weight[op] += w;
		b->wtotal += w;
	}
	free(copy);
	if (nmodes > 1 || (nmodes == 1 && b->wtotal > 0)) {
		fprintf(stderr, "kmip-bench: veeam, handshake and handshake-resume run alone, not in a mix\n");
		exit(2);
	}
	if (nmodes == 0 && b->wtotal == 0) {
		fprintf(stderr, "kmip-bench: --mix names no operation with a weight\n");
		exit(2);
	}
}

static unsigned
parse_version(const char *s)
{
	unsigned major, minor;
	char extra;

	if (sscanf(s, "%u.%u%c", &major, &minor, &extra) != 2 || !kmip_version_supported(KMIP_VERSION(major, minor))) {
		fprintf(stderr, "kmip-bench: KMIP version \"%s\" is not one of 1.0-1.4, 2.0, 2.1\n", s);
		exit(2);
	}
	return KMIP_VERSION(major, minor);
}

static char *
path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("out of memory");
	return p;
}

static void
parse_args(struct bench *b, int argc, char **argv)
{
	enum {
		O_CERTS = 256, O_CA, O_CERT, O_KEY, O_TLS, O_IDLE, O_IDLE_FULL, O_NO_RESUME, O_SOURCES, O_SOURCE_BASE,
		O_PARALLEL, O_KEYS, O_OBJECTS, O_NAMES, O_TIMEOUT, O_SERVER_PID, O_LABEL, O_FORMAT, O_JSON, O_SIGALGS, O_NO_TICKETS,
	};
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "certs", required_argument, NULL, O_CERTS },
		{ "ca", required_argument, NULL, O_CA },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "connections", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "mix", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "kmip-version", required_argument, NULL, 'V' },
		{ "tls", required_argument, NULL, O_TLS },
		{ "sigalgs", required_argument, NULL, O_SIGALGS },
		{ "no-tickets", no_argument, NULL, O_NO_TICKETS },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "idle-full", no_argument, NULL, O_IDLE_FULL },
		{ "no-resume", no_argument, NULL, O_NO_RESUME },
		{ "sources", required_argument, NULL, O_SOURCES },
		{ "source-base", required_argument, NULL, O_SOURCE_BASE },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "keys", required_argument, NULL, O_KEYS },
		{ "objects", required_argument, NULL, O_OBJECTS },
		{ "names", required_argument, NULL, O_NAMES },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "server-pid", required_argument, NULL, O_SERVER_PID },
		{ "label", required_argument, NULL, O_LABEL },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &b->o;
	int ch;

	o->host = "127.0.0.1";
	o->port = 5696;
	o->conns = 1;
	o->depth = 1;
	o->parallel = 64;
	o->source_base = 1;
	o->nkeys = 16;
	o->duration = 5;
	o->warmup = 1;
	o->timeout = 30;
	o->version = KMIP_VERSION(1, 4);
	o->tls_min = o->tls_max = TLS1_2_VERSION;
	o->mix = "get";
	o->resume = true;
	o->format = FMT_HUMAN;
	while ((ch = getopt_long(argc, argv, "H:p:c:d:m:t:w:V:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			o->host = optarg;
			break;
		case 'p':
			o->port = parse_uint(optarg, "--port", 1, 65535);
			break;
		case O_CERTS:
			o->ca = path_in(optarg, "ca.crt");
			o->cert = path_in(optarg, "client.crt");
			o->key = path_in(optarg, "client.key");
			break;
		case O_CA:
			o->ca = optarg;
			break;
		case O_CERT:
			o->cert = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case 'c':
			o->conns = parse_uint(optarg, "--connections", 0, MAX_CONNS);
			break;
		case 'd':
			o->depth = parse_uint(optarg, "--depth", 1, MAX_DEPTH);
			break;
		case 'm':
			o->mix = optarg;
			break;
		case 't':
			o->duration = parse_seconds(optarg, "--duration", 0.1);
			break;
		case 'w':
			o->warmup = parse_seconds(optarg, "--warmup", 0);
			break;
		case 'V':
			o->version = parse_version(optarg);
			break;
		case O_TLS:
			if (strcmp(optarg, "1.2") == 0)
				o->tls_min = o->tls_max = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				o->tls_min = o->tls_max = TLS1_3_VERSION;
			else if (strcmp(optarg, "any") == 0)
				o->tls_min = TLS1_2_VERSION, o->tls_max = TLS1_3_VERSION;
			else {
				fprintf(stderr, "kmip-bench: --tls is 1.2, 1.3 or any\n");
				exit(2);
			}
			break;
		case O_SIGALGS:
			o->sigalgs = optarg;
			break;
		case O_NO_TICKETS:
			o->no_tickets = true;
			break;
		case O_IDLE:
			o->idle = parse_uint(optarg, "--idle", 0, MAX_CONNS);
			break;
		case O_IDLE_FULL:
			o->idle_full = true;
			break;
		case O_NO_RESUME:
			o->resume = false;
			break;
		case O_SOURCES:
			o->sources = parse_uint(optarg, "--sources", 1, MAX_SOURCES);
			break;
		case O_SOURCE_BASE:
			o->source_base = parse_uint(optarg, "--source-base", 1, MAX_SOURCES);
			break;
		case O_PARALLEL:
			o->parallel = parse_uint(optarg, "--parallel", 1, 100000);
			break;
		case O_KEYS:
			o->nkeys = parse_uint(optarg, "--keys", 1, MAX_KEYS);
			break;
		case O_OBJECTS:
			if (strcmp(optarg, "aes") == 0)
				o->objects = OBJ_AES;
			else if (strcmp(optarg, "rsa") == 0)
				o->objects = OBJ_RSA;
			else {
				fprintf(stderr, "kmip-bench: --objects is aes or rsa\n");
				exit(2);
			}
			break;
		case O_NAMES:
			if (optarg[0] == '\0' || strlen(optarg) > 100) {
				fprintf(stderr, "kmip-bench: --names takes a prefix of 1 to 100 characters\n");
				exit(2);
			}
			o->names = optarg;
			break;
		case O_TIMEOUT:
			o->timeout = parse_seconds(optarg, "--timeout", 0.1);
			break;
		case O_SERVER_PID:
			o->server_pid = (long)parse_uint(optarg, "--server-pid", 1, 0x7fffffff);
			break;
		case O_LABEL:
			o->label = optarg;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "human") == 0)
				o->format = FMT_HUMAN;
			else if (strcmp(optarg, "line") == 0)
				o->format = FMT_LINE;
			else if (strcmp(optarg, "json") == 0)
				o->format = FMT_JSON;
			else {
				fprintf(stderr, "kmip-bench: --format is human, line or json\n");
				exit(2);
			}
			break;
		case O_JSON:
			o->format = FMT_JSON;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	if (o->ca == NULL || o->cert == NULL || o->key == NULL) {
		fprintf(stderr, "kmip-bench: give --certs DIR, or --ca, --cert and --key\n");
		exit(2);
	}
	parse_mix(b, o->mix);
	if (b->mode != MODE_REQUESTS)
		o->depth = 1;
	if (o->conns == 0 && o->idle == 0) {
		fprintf(stderr, "kmip-bench: nothing to do with no connection\n");
		exit(2);
	}
}

/* Raises the descriptor limit to what the connections need (root may raise the hard limit too). */
static void
raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("cannot raise the open file limit to %llu: %s (run as root, or raise `ulimit -Hn`)",
		    (unsigned long long)need, strerror(errno));
}

/* Output. */

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double
rate(uint64_t n, uint64_t t0, uint64_t t1)
{
	return t1 > t0 ? (double)n / ((double)(t1 - t0) / 1e9) : 0;
}

/* The operations shown: those the run measured. */
static bool
shown(const struct bench *b, enum op op)
{
	return b->stats[op].ok > 0 || (b->mode == MODE_REQUESTS && b->weight[op] > 0) ||
	    (b->mode == MODE_VEEAM && op == OP_VEEAM) || (b->mode == MODE_HANDSHAKE &&
	    b->weight[op] > 0);
}

/* The figure the run is about: all requests, Veeam flows, or handshakes. */
static void
headline(const struct bench *b, uint64_t *ops, struct hist *h)
{
	enum op op;

	*ops = 0;
	memset(h, 0, sizeof(*h));
	for (op = 0; op < N_OPS; op++) {
		bool in;

		if (b->mode == MODE_VEEAM)
			in = op == OP_VEEAM;
		else if (b->mode == MODE_HANDSHAKE)
			in = op == OP_HANDSHAKE_FULL || op == OP_HANDSHAKE_RESUMED;
		else
			in = op != OP_VEEAM && op != OP_HANDSHAKE_FULL && op != OP_HANDSHAKE_RESUMED;
		if (!in)
			continue;
		*ops += b->stats[op].ok;
		hist_merge(h, &b->stats[op].h);
	}
}

static uint64_t
total_errors(const struct bench *b)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < N_ERRS; i++)
		n += b->errors[i];
	return n;
}

static const char *
version_str(unsigned v)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%u.%u", KMIP_VERSION_MAJOR(v), KMIP_VERSION_MINOR(v));
	return buf;
}

struct summary {
	uint64_t ops;
	double secs, ops_per_s;
	struct hist h;
	uint64_t errors;
	double client_cpu, server_cpu;
	unsigned idle_held;
	double idle_secs, idle_rate, idle_bytes_per_conn;
	long idle_rss_delta_kb;
};

static void
summarize(struct bench *b, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	headline(b, &s->ops, &s->h);
	s->secs = b->t_warm_end != 0 && b->t_end > b->t_warm_end ? (double)(b->t_end - b->t_warm_end) / 1e9 : 0;
	s->ops_per_s = rate(s->ops, b->t_warm_end, b->t_end);
	s->errors = total_errors(b);
	s->client_cpu = b->client_cpu1 - b->client_cpu0;
	s->server_cpu = b->have_srv ? b->srv_run1.cpu_s - b->srv_run0.cpu_s : 0;
	s->idle_held = b->idle_alive;
	s->idle_secs = (double)(b->t_idle1 - b->t_idle0) / 1e9;
	s->idle_rate = rate(b->idle_ready, b->t_idle0, b->t_idle1);
	if (b->have_srv && b->o.idle > 0 && b->idle_ready > 0) {
		s->idle_rss_delta_kb = b->srv_after_idle.rss_kb - b->srv_before_idle.rss_kb;
		s->idle_bytes_per_conn = (double)s->idle_rss_delta_kb * 1024.0 / b->idle_ready;
	}
}

static void
print_human(struct bench *b, const struct summary *s)
{
	enum op op;

	printf("kmip-bench%s%s: %s:%u, KMIP %s, %s, %u connection%s, depth %u, mix %s, %.1f s after %.1f s warm-up\n",
	    b->o.label ? " " : "", b->o.label ? b->o.label : "", b->o.host, b->o.port, version_str(b->o.version),
	    b->tls_desc, b->nactive, b->nactive == 1 ? "" : "s", b->o.depth, b->o.mix, s->secs, b->o.warmup);
	if (b->o.idle > 0) {
		printf("idle connections: %u held of %u asked (%u failed), opened in %.1f s (%.0f/s)", s->idle_held,
		    b->o.idle, b->idle_failed, s->idle_secs, s->idle_rate);
		if (b->have_srv)
			printf("; server RSS %.1f -> %.1f MiB, %.0f bytes (%.1f KiB) per connection",
			    b->srv_before_idle.rss_kb / 1024.0, b->srv_after_idle.rss_kb / 1024.0,
			    s->idle_bytes_per_conn, s->idle_bytes_per_conn / 1024);
		printf("\n");
	}
	printf("%-18s %10s %11s %9s %9s %9s %9s %9s\n", "operation", "count", "per s", "p50 ms", "p90 ms", "p99 ms",
	    "p99.9 ms", "max ms");
	for (op = 0; op < N_OPS; op++) {
		const struct hist *h = &b->stats[op].h;

		if (!shown(b, op))
			continue;
		printf("%-18s %10" PRIu64 " %11.1f %9.3f %9.3f %9.3f %9.3f %9.3f\n", op_table[op].name, b->stats[op].ok,
		    rate(b->stats[op].ok, b->t_warm_end, b->t_end), ms(hist_quantile(h, 0.5)),
		    ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)), ms(h->max));
	}
	if (b->mode == MODE_REQUESTS)
		printf("%-18s %10" PRIu64 " %11.1f %9.3f %9.3f %9.3f %9.3f %9.3f\n", "all requests", s->ops,
		    s->ops_per_s, ms(hist_quantile(&s->h, 0.5)), ms(hist_quantile(&s->h, 0.9)),
		    ms(hist_quantile(&s->h, 0.99)), ms(hist_quantile(&s->h, 0.999)), ms(s->h.max));
	if (b->unexpected_full > 0)
		printf("resumption refused: %" PRIu64 " full handshakes where a resumption was offered\n",
		    b->unexpected_full);
	printf("errors: %" PRIu64, s->errors);
	if (s->errors > 0) {
		unsigned i;

		printf(" (");
		for (i = 0; i < N_ERRS; i++)
			printf("%s%s %" PRIu64, i ? ", " : "", err_names[i], b->errors[i]);
		printf("); first: %s", b->first_error);
	}
	printf("\nclient CPU %.2f s (%.0f %% of one core)", s->client_cpu, s->secs > 0 ? 100 * s->client_cpu / s->secs : 0);
	if (b->have_srv)
		printf("; server CPU %.2f s (%.0f %% of one core, %u processes), RSS %.1f MiB, peak %.1f MiB, "
		    "with children %.1f MiB", s->server_cpu, s->secs > 0 ? 100 * s->server_cpu / s->secs : 0,
		    b->srv_run1.nprocs, b->srv_run1.rss_kb / 1024.0, b->srv_run1.hwm_kb / 1024.0,
		    b->srv_run1.tree_rss_kb / 1024.0);
	printf("\n");
}

/* One line of key=value pairs, for shell scripts. */
static void
print_line(struct bench *b, const struct summary *s)
{
	printf("label=%s ops=%" PRIu64 " seconds=%.3f ops_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
	    "p999_ms=%.3f max_ms=%.3f errors=%" PRIu64 " client_cpu_s=%.3f", b->o.label ? b->o.label : "-", s->ops,
	    s->secs, s->ops_per_s, ms(hist_quantile(&s->h, 0.5)), ms(hist_quantile(&s->h, 0.9)),
	    ms(hist_quantile(&s->h, 0.99)), ms(hist_quantile(&s->h, 0.999)), ms(s->h.max), s->errors, s->client_cpu);
	if (b->have_srv)
		printf(" server_cpu_s=%.3f server_rss_kb=%ld server_hwm_kb=%ld server_tree_rss_kb=%ld", s->server_cpu,
		    b->srv_run1.rss_kb, b->srv_run1.hwm_kb, b->srv_run1.tree_rss_kb);
	if (b->o.idle > 0)
		printf(" idle_held=%u idle_failed=%u idle_secs=%.2f idle_per_s=%.1f idle_rss_before_kb=%ld "
		    "idle_rss_after_kb=%ld idle_bytes_per_conn=%.0f", s->idle_held, b->idle_failed, s->idle_secs,
		    s->idle_rate, b->srv_before_idle.rss_kb, b->srv_after_idle.rss_kb, s->idle_bytes_per_conn);
	printf(" server_key=%s", b->server_key[0] != '\0' ? b->server_key : "-");
	if (b->mode == MODE_HANDSHAKE)
		printf(" full=%" PRIu64 " resumed=%" PRIu64, b->stats[OP_HANDSHAKE_FULL].ok,
		    b->stats[OP_HANDSHAKE_RESUMED].ok);
	printf("\n");
}

static void
json_hist(const struct hist *h)
{
	printf("{\"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, \"p99.9\": %.4f, \"max\": %.4f}", ms(hist_quantile(h, 0.5)),
	    ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)), ms(hist_quantile(h, 0.999)), ms(h->max));
}

/* Writes s as a JSON string (the labels and messages are ours, but may hold quotes). */
static void
json_str(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
print_json(struct bench *b, const struct summary *s)
{
	enum op op;
	unsigned i;
	bool first = true;

	printf("{\n  \"label\": ");
	json_str(b->o.label ? b->o.label : "");
	printf(",\n  \"address\": \"%s:%u\", \"kmip_version\": \"%s\", \"tls\": ", b->o.host, b->o.port,
	    version_str(b->o.version));
	json_str(b->tls_desc);
	printf(",\n  \"mix\": ");
	json_str(b->o.mix);
	printf(", \"connections\": %u, \"depth\": %u, \"warmup_s\": %.3f, \"duration_s\": %.3f,\n", b->nactive,
	    b->o.depth, b->o.warmup, s->secs);
	printf("  \"ops\": %" PRIu64 ", \"ops_per_s\": %.2f, \"latency_ms\": ", s->ops, s->ops_per_s);
	json_hist(&s->h);
	printf(",\n  \"operations\": {");
	for (op = 0; op < N_OPS; op++) {
		if (!shown(b, op))
			continue;
		printf("%s\n    \"%s\": {\"count\": %" PRIu64 ", \"per_s\": %.2f, \"latency_ms\": ", first ? "" : ",",
		    op_table[op].name, b->stats[op].ok, rate(b->stats[op].ok, b->t_warm_end, b->t_end));
		json_hist(&b->stats[op].h);
		printf("}");
		first = false;
	}
	printf("\n  },\n  \"errors\": {\"total\": %" PRIu64, s->errors);
	for (i = 0; i < N_ERRS; i++)
		printf(", \"%s\": %" PRIu64, err_names[i], b->errors[i]);
	printf(", \"first\": ");
	json_str(b->first_error);
	printf("},\n  \"resumption_refused\": %" PRIu64 ",\n", b->unexpected_full);
	printf("  \"client_cpu_s\": %.3f", s->client_cpu);
	if (b->have_srv)
		printf(",\n  \"server\": {\"pid\": %ld, \"cpu_s\": %.3f, \"rss_kb\": %ld, \"hwm_kb\": %ld, "
		    "\"tree_rss_kb\": %ld, \"processes\": %u}", b->o.server_pid, s->server_cpu, b->srv_run1.rss_kb,
		    b->srv_run1.hwm_kb, b->srv_run1.tree_rss_kb, b->srv_run1.nprocs);
	if (b->o.idle > 0)
		printf(",\n  \"idle\": {\"asked\": %u, \"held\": %u, \"failed\": %u, \"seconds\": %.3f, \"per_s\": %.1f, "
		    "\"server_rss_before_kb\": %ld, \"server_rss_after_kb\": %ld, \"bytes_per_connection\": %.0f}",
		    b->o.idle, s->idle_held, b->idle_failed, s->idle_secs, s->idle_rate, b->srv_before_idle.rss_kb,
		    b->srv_after_idle.rss_kb, s->idle_bytes_per_conn);
	printf("\n}\n");
}

int
main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	struct event_config *cfg;
	struct summary s;
	struct timeval one = { 1, 0 };
	char *cause = NULL;
	unsigned i;

	g_bench = b;
	signal(SIGPIPE, SIG_IGN);
	parse_args(b, argc, argv);
	b->rng = (uint64_t)util_now_ns() | 1;
	b->nsources = b->o.sources ? b->o.sources : 1 + (b->o.conns + b->o.idle) / 20000;
	if (b->nsources > MAX_SOURCES)
		b->nsources = MAX_SOURCES;
	if (b->o.source_base - 1 + b->nsources > MAX_SOURCES)
		die("--source-base %u with %u source addresses passes 127.0.0.%u", b->o.source_base, b->nsources,
		    MAX_SOURCES);
	memset(&b->dst, 0, sizeof(b->dst));
	b->dst.sin_family = AF_INET;
	b->dst.sin_port = htons((uint16_t)b->o.port);
	if (inet_pton(AF_INET, b->o.host, &b->dst.sin_addr) != 1)
		die("--host must be an IPv4 address, not \"%s\"", b->o.host);
	if (b->nsources > 1 && (ntohl(b->dst.sin_addr.s_addr) >> 24) != 127)
		die("several source addresses (--sources) need a loopback server address");
	if ((b->o.conns + b->o.idle) / b->nsources > PORTS_PER_SOURCE)
		fprintf(stderr, "kmip-bench: %u connections over %u source addresses may run out of ephemeral ports; "
		    "see --sources\n", b->o.conns + b->o.idle, b->nsources);
	raise_nofile((rlim_t)b->o.conns + b->o.idle + 256);

	if (tls_client_ctx_new(b->o.ca, b->o.cert, b->o.key, &b->ctx, &cause) != 0 ||
	    tls_client_ctx_set_versions(b->ctx, b->o.tls_min, b->o.tls_max, &cause) != 0)
		die("%s", cause ? cause : "cannot make the TLS context");
	if (b->o.sigalgs != NULL && SSL_CTX_set1_sigalgs_list(b->ctx, b->o.sigalgs) != 1)
		die("--sigalgs %s: not a signature algorithm list OpenSSL knows", b->o.sigalgs);
	if (b->o.no_tickets)
		SSL_CTX_set_options(b->ctx, SSL_OP_NO_TICKET);
	/* Idle connections hold no 16 KiB record buffers. */
	SSL_CTX_set_mode(b->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_sess_set_new_cb(b->ctx, new_session_cb);

	setup(b);

	if ((cfg = event_config_new()) == NULL)
		die("event_config_new failed");
	/* One thread; and a write event enabled and disabled within one loop iteration costs no epoll_ctl. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	if ((b->base = event_base_new_with_config(cfg)) == NULL)
		die("event_base_new failed");
	event_config_free(cfg);
	b->phase_timer = evtimer_new(b->base, phase_timer_cb, b);
	b->tick = event_new(b->base, -1, EV_PERSIST, tick_cb, b);
	if (b->phase_timer == NULL || b->tick == NULL)
		die("out of memory");
	evtimer_add(b->tick, &one);

	b->nactive = b->o.conns;
	b->active = xcalloc(b->nactive ? b->nactive : 1, sizeof(*b->active));
	for (i = 0; i < b->nactive; i++) {
		struct bconn *c = &b->active[i];
		struct ttlv_limits lim = { .max_message_size = 16u << 20 };

		c->b = b;
		c->idx = i;
		c->role = ROLE_ACTIVE;
		c->q = xcalloc(b->o.depth, sizeof(*c->q));
		if ((c->dec = ttlv_decoder_new(&lim)) == NULL || (c->retry = evtimer_new(b->base, conn_retry_cb, c)) == NULL)
			die("out of memory");
	}
	if (b->o.idle > 0) {
		b->idle = xcalloc(b->o.idle, sizeof(*b->idle));
		for (i = 0; i < b->o.idle; i++) {
			b->idle[i].b = b;
			b->idle[i].idx = b->nactive + i;	/* spread over the sources after the active ones */
			b->idle[i].role = ROLE_IDLE;
		}
	}

	b->phase = PH_SETUP;
	phase_next(b);
	if (event_base_dispatch(b->base) < 0)
		die("event loop failed");
	b->phase = PH_DONE;
	if (b->t_end == 0) {
		b->t_end = util_now_ns();
		b->client_cpu1 = self_cpu();
	}

	summarize(b, &s);
	switch (b->o.format) {
	case FMT_JSON:
		print_json(b, &s);
		break;
	case FMT_LINE:
		print_line(b, &s);
		break;
	default:
		print_human(b, &s);
		break;
	}
	fflush(stdout);

	for (i = 0; i < b->nactive; i++) {
		conn_down(&b->active[i], true);
		event_free(b->active[i].retry);
		ttlv_decoder_free(b->active[i].dec);
		free(b->active[i].q);
	}
	for (i = 0; i < b->o.idle; i++)
		conn_down(&b->idle[i], true);
	for (i = 0; i < b->nkeys; i++) {
		req_free(&b->get_req[i]);
		req_free(&b->locate_req[i]);
		free(b->uids[i]);
		free(b->names[i]);
	}
	req_free(&b->create_req);
	req_free(&b->ckp_req);
	free(b->get_req);
	free(b->locate_req);
	free(b->uids);
	free(b->names);
	free(b->active);
	free(b->idle);
	event_free(b->phase_timer);
	event_free(b->tick);
	event_base_free(b->base);
	if (b->session != NULL)
		SSL_SESSION_free(b->session);
	SSL_CTX_free(b->ctx);
	return s.errors > 0 ? 3 : 0;
}
