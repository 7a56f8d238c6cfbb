/*
 * Live figures of the server: plain counters that the loop increments (one thread, no locks), fixed-bucket
 * latency histograms, and the Prometheus exposition of all of them on metrics.listen (libevent's evhttp,
 * with /ready for load balancers). core/status.c serves the same figures as text or JSON on the
 * administration socket; both read them through status_gather() (core/status.h).
 *
 * The buckets are fixed (METRICS_BUCKET_US) so that the histograms of several processes (issue 18's
 * workers) add up bucket by bucket. Symbol prefix: metrics_.
 */
#ifndef KMIPD_METRICS_H
#define KMIPD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct evbuffer;
struct server;
struct metrics_http;

#define METRICS_NBUCKETS	19	/* 18 bounds and +Inf */
#define METRICS_NOPS		64	/* operation codes below this have their own row; others share row 0 */

/* Upper bounds of the latency buckets, microseconds (the last, +Inf, is not listed). */
extern const uint64_t metrics_bucket_us[METRICS_NBUCKETS - 1];

/* One latency histogram: counts per bucket (not cumulative), their number and sum. */
struct metrics_hist {
	uint64_t bucket[METRICS_NBUCKETS];
	uint64_t count;
	uint64_t sum_us;
};

/* Why a TLS handshake failed; indexes metrics.hs_failed. */
enum metrics_hs_failure {
	METRICS_HS_PROTOCOL,		/* a TLS error other than the certificate's */
	METRICS_HS_CERTIFICATE,		/* the client certificate did not verify */
	METRICS_HS_TIMEOUT,		/* not finished within server.handshake_timeout */
	METRICS_HS_PEER_CLOSED,		/* the peer hung up during the handshake */
	METRICS_HS_IDENTITY,		/* done, then refused: identity unusable, revoked, denied */
	METRICS_HS_NREASONS
};

/* What one batch item operation did since start. */
struct metrics_op {
	uint64_t requests;		/* batch items of this operation answered */
	uint64_t errors;		/* of which answered with a failure */
	struct metrics_hist latency;	/* the item's run in the engine */
};

/* The counters; struct server holds one. Zeroed at start, never reset. */
struct metrics {
	time_t started;			/* wall clock at start */
	int64_t started_ms;		/* clock_ms() at start */
	uint64_t hs_failed[METRICS_HS_NREASONS];
	uint64_t refused[8];		/* by enum server_refusal (server.c), since start; 7: server stopping */
	struct metrics_op ops[METRICS_NOPS];
	struct metrics_hist request_latency;	/* whole requests: read to response queued */
	uint64_t reloads, reload_failures;
	time_t last_reload;		/* 0: none since start */
	bool last_reload_ok;
	char last_reload_error[200];
};

#define METRICS_REFUSE_STOPPING	7

/* Adds one observation of us microseconds to h. */
void metrics_observe(struct metrics_hist *h, uint64_t us);
/*
 * The engine finished one batch item of operation (the KMIP code): counted as answered, as an error unless
 * ok, and its run time. Matches engine_env.item_done; arg is the struct metrics.
 */
void metrics_item_done(void *arg, uint32_t operation, bool ok, uint64_t us);
/* The latency under which a fraction q (0..1) of h's observations fall, estimated from the buckets; 0 if empty. */
double metrics_quantile_us(const struct metrics_hist *h, double q);
/* The KMIP name of row i of metrics.ops ("Get"), "other" for row 0, or NULL for a code with no name. */
const char *metrics_op_name(unsigned i);
/* Adds the counters and histograms of b to a (the master summing its workers); the rest of a stays. */
void metrics_add(struct metrics *a, const struct metrics *b);
/* Notes the outcome of a reload (error: why it failed, NULL when it succeeded). */
void metrics_reload(struct metrics *m, const char *error);

/*
 * Opens metrics.listen when it is set: an evhttp server on the loop answering GET /metrics (the text
 * exposition format) and GET /ready (200 or 503). Returns 0 (also when off), or -1 after logging why.
 */
int metrics_http_open(struct server *srv, struct metrics_http **out) __attribute__((warn_unused_result));
/* Closes the listener and its connections; NULL is ignored. */
void metrics_http_free(struct metrics_http *h);
/* The listening socket's descriptor (-1 for NULL): a forked worker closes its copy. */
int metrics_http_fd(const struct metrics_http *h);
/* Writes every figure in the Prometheus text exposition format (version 0.0.4). 0, or -1 out of memory. */
int metrics_write_prometheus(struct server *srv, struct evbuffer *out) __attribute__((warn_unused_result));

#endif
