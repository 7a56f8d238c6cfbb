/*
 * metrics: the loop's counters and histograms, and their Prometheus exposition over libevent's evhttp on
 * metrics.listen, with /ready for load balancers.
 *
 * What a scraper can make the server spend is bounded: GET and HEAD only, request headers of at most
 * METRICS_MAX_HEADERS bytes and no body, metrics.timeout for the whole exchange, one request per
 * connection (every answer says Connection: close), at most metrics.max_connections connections open
 * (the listener pauses at that many; more wait in a backlog of METRICS_BACKLOG), and one answer whose size
 * is bounded by the operation table (a few tens of KiB).
 *
 * libevent 2.1's evhttp has no connection limit and tells nothing when it closes a connection that never
 * sent a request, so the connections are counted through the bufferevents it asks us for
 * (evhttp_set_bevcb): each gets an extra reference, and once evhttp has freed it (its callbacks cleared)
 * a sweep on the loop drops that reference, which closes the socket (evhttp has already shut its sending
 * side down, so the client sees the end at once).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/server.h"
#include "core/status.h"
#include "core/workers.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define METRICS_MAX_HEADERS	8192	/* bytes of request line and headers: a scraper sends a few hundred */
#define METRICS_BACKLOG		16	/* connections waiting in the kernel while the listener is paused */
#define METRICS_MAX_ANSWER	(1024 * 1024)	/* far above what the fixed tables can produce */
#define METRICS_MAX_CONNS	64	/* the largest metrics.max_connections */
#define METRICS_SWEEP_MS	250	/* connections evhttp closed without a request are released this late */

const uint64_t metrics_bucket_us[METRICS_NBUCKETS - 1] = {
	10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 10000000,
};

struct metrics_http {
	struct server *srv;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evconnlistener *evl;	/* owned by bound */
	struct event *sweep;		/* releases the connections evhttp is done with */
	struct bufferevent *bevs[METRICS_MAX_CONNS];	/* every connection open, with our reference */
	unsigned open;
	bool paused;
	char name[72];
};

/* Adds one observation to h; see metrics.h. */
void
metrics_observe(struct metrics_hist *h, uint64_t us)
{
	unsigned i;

	for (i = 0; i < METRICS_NBUCKETS - 1 && us > metrics_bucket_us[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum_us += us;
}

/* One batch item done; see metrics.h. */
void
metrics_item_done(void *arg, uint32_t operation, bool ok, uint64_t us)
{
	struct metrics *m = arg;
	struct metrics_op *op = &m->ops[operation < METRICS_NOPS ? operation : 0];

	op->requests++;
	if (!ok)
		op->errors++;
	metrics_observe(&op->latency, us);
}

/*
 * The q-quantile of h as Prometheus's histogram_quantile() estimates it: linear within the bucket where
 * the rank falls (the +Inf bucket answers its lower bound).
 */
double
metrics_quantile_us(const struct metrics_hist *h, double q)
{
	double rank, below = 0, lo = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	rank = q * (double)h->count;
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		double n = (double)h->bucket[i];

		if (below + n >= rank && n > 0) {
			if (i == METRICS_NBUCKETS - 1)
				return lo;
			return lo + ((double)metrics_bucket_us[i] - lo) * (rank - below) / n;
		}
		below += n;
		if (i < METRICS_NBUCKETS - 1)
			lo = (double)metrics_bucket_us[i];
	}
	return lo;
}

/* The operation's KMIP name, see metrics.h. */
const char *
metrics_op_name(unsigned i)
{
	if (i == 0)
		return "other";
	return i < METRICS_NOPS ? ttlv_enum_name(KMIP_TAG_OPERATION, i) : NULL;
}

/* Adds the buckets, count and sum of histogram b to a. */
static void
hist_add(struct metrics_hist *a, const struct metrics_hist *b)
{
	unsigned i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		a->bucket[i] += b->bucket[i];
	a->count += b->count;
	a->sum_us += b->sum_us;
}

/* Sums b into a; see metrics.h. */
void
metrics_add(struct metrics *a, const struct metrics *b)
{
	unsigned i;

	for (i = 0; i < METRICS_HS_NREASONS; i++)
		a->hs_failed[i] += b->hs_failed[i];
	for (i = 0; i < sizeof(a->refused) / sizeof(a->refused[0]); i++)
		a->refused[i] += b->refused[i];
	for (i = 0; i < METRICS_NOPS; i++) {
		a->ops[i].requests += b->ops[i].requests;
		a->ops[i].errors += b->ops[i].errors;
		hist_add(&a->ops[i].latency, &b->ops[i].latency);
	}
	hist_add(&a->request_latency, &b->request_latency);
}

/* A reload's outcome; see metrics.h. */
void
metrics_reload(struct metrics *m, const char *error)
{
	m->last_reload = time(NULL);
	m->last_reload_ok = error == NULL;
	if (error == NULL) {
		m->reloads++;
		m->last_reload_error[0] = '\0';
	} else {
		m->reload_failures++;
		snprintf(m->last_reload_error, sizeof(m->last_reload_error), "%s", error);
	}
}

/* The operation's name as a label value: "Create Key Pair" becomes "CreateKeyPair". */
static void
label_name(const char *name, char *buf, size_t size)
{
	size_t n = 0;

	for (; *name != '\0' && n + 1 < size; name++)
		if (*name != ' ' && *name != '"' && *name != '\\')
			buf[n++] = *name;
	buf[n] = '\0';
}

/* Writes the HELP and TYPE lines of a family. */
static void
family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes one sample without labels. */
static void
sample_u(struct evbuffer *out, const char *name, const char *type, const char *help, uint64_t v)
{
	family(out, name, type, help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* Writes the samples of one histogram of a family already introduced (labels: "" or `k="v",`). */
static void
histogram(struct evbuffer *out, const char *name, const char *labels, const struct metrics_hist *h)
{
	uint64_t cum = 0;
	size_t llen = strlen(labels);
	unsigned i;

	for (i = 0; i < METRICS_NBUCKETS - 1; i++) {
		cum += h->bucket[i];
		evbuffer_add_printf(out, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels,
		    (double)metrics_bucket_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += h->bucket[i];
	evbuffer_add_printf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
	/* The labels without their trailing comma, in braces, or nothing. */
	if (llen > 0)
		evbuffer_add_printf(out, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %llu\n", name, (int)(llen - 1), labels,
		    (double)h->sum_us / 1e6, name, (int)(llen - 1), labels, (unsigned long long)h->count);
	else
		evbuffer_add_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, (double)h->sum_us / 1e6, name,
		    (unsigned long long)h->count);
}

static const char *const hs_reasons[METRICS_HS_NREASONS] = {
	[METRICS_HS_PROTOCOL] = "protocol", [METRICS_HS_CERTIFICATE] = "certificate",
	[METRICS_HS_TIMEOUT] = "timeout", [METRICS_HS_PEER_CLOSED] = "peer_closed",
	[METRICS_HS_IDENTITY] = "identity_refused",
};

/* Writes the Prometheus exposition; see metrics.h. */
int
metrics_write_prometheus(struct server *srv, struct evbuffer *out)
{
	struct status_snap s;
	const struct metrics *m;
	char label[64], labels[96];
	unsigned i;

	status_gather(srv, &s);
	m = s.m;
	family(out, "kmipd_up", "gauge", "1: the process answers (with ready: whether it can serve).");
	evbuffer_add_printf(out, "kmipd_up 1\n");
	sample_u(out, "kmipd_ready", "gauge", "1 when the store is open, TLS loaded and the server not draining.",
	    s.ready ? 1 : 0);
	sample_u(out, "kmipd_start_time_seconds", "gauge", "Start of the process, seconds since the epoch.",
	    (uint64_t)m->started);
	family(out, "kmipd_uptime_seconds", "gauge", "Seconds since the process started.");
	evbuffer_add_printf(out, "kmipd_uptime_seconds %.3f\n", s.uptime_s);
	sample_u(out, "kmipd_connections_open", "gauge", "Client connections open now.", s.conns_open);
	sample_u(out, "kmipd_connections_handshaking", "gauge", "Client connections in their TLS handshake now.",
	    s.handshaking);
	sample_u(out, "kmipd_connections_accepted_total", "counter", "Client connections accepted by the kernel.",
	    s.stats->accepted);
	family(out, "kmipd_connections_refused_total", "counter",
	    "Client connections closed at accept (or evicted during their handshake), by reason.");
	for (i = 0; i < 8; i++) {
		const char *r = i == METRICS_REFUSE_STOPPING ? "stopping" : server_refusal_name(i);

		if (r != NULL)
			evbuffer_add_printf(out, "kmipd_connections_refused_total{reason=\"%s\"} %llu\n", r,
			    (unsigned long long)m->refused[i]);
	}
	family(out, "kmipd_handshakes_total", "counter", "TLS handshakes completed, full or resumed.");
	evbuffer_add_printf(out, "kmipd_handshakes_total{type=\"full\"} %llu\n"
	    "kmipd_handshakes_total{type=\"resumed\"} %llu\n",
	    (unsigned long long)(s.stats->handshakes - s.stats->resumed), (unsigned long long)s.stats->resumed);
	family(out, "kmipd_handshake_failures_total", "counter", "TLS handshakes that failed, by reason.");
	for (i = 0; i < METRICS_HS_NREASONS; i++)
		evbuffer_add_printf(out, "kmipd_handshake_failures_total{reason=\"%s\"} %llu\n", hs_reasons[i],
		    (unsigned long long)m->hs_failed[i]);
	if (s.have_tls_shared) {
		family(out, "kmipd_tls_session_cache_total", "counter",
		    "The TLS session-id cache shared by the server's processes, by event.");
		evbuffer_add_printf(out, "kmipd_tls_session_cache_total{event=\"hit\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"miss\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"expired\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"stored\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"evicted\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"too_large\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"removed\"} %llu\n"
		    "kmipd_tls_session_cache_total{event=\"lock_recovered\"} %llu\n",
		    s.tsh.hits, s.tsh.misses, s.tsh.expired, s.tsh.stored, s.tsh.evictions, s.tsh.too_large,
		    s.tsh.removed, s.tsh.recovered);
		sample_u(out, "kmipd_tls_sessions_cached", "gauge", "Slots of the shared TLS session cache in use.",
		    s.tsh.cached);
		sample_u(out, "kmipd_tls_session_cache_slots", "gauge", "Slots of the shared TLS session cache.",
		    s.tsh.slots);
		sample_u(out, "kmipd_tls_ticket_keys", "gauge", "TLS session ticket keys held (the first encrypts).",
		    s.tsh.ticket_keys);
		sample_u(out, "kmipd_tls_ticket_key_rotations_total", "counter",
		    "Random TLS ticket keys made after the first (tls.ticket_key_rotation).", s.tsh.rotations);
	}
	sample_u(out, "kmipd_requests_total", "counter", "KMIP requests answered.", s.stats->requests);
	sample_u(out, "kmipd_bad_messages_total", "counter", "Requests that were not valid TTLV (connection closed).",
	    s.stats->bad_messages);
	family(out, "kmipd_request_duration_seconds", "histogram",
	    "Whole requests, from complete in the input to response queued (worker and group commit waits included).");
	histogram(out, "kmipd_request_duration_seconds", "", &m->request_latency);
	family(out, "kmipd_operations_total", "counter", "Batch items answered, by operation.");
	for (i = 0; i < METRICS_NOPS; i++)
		if (m->ops[i].requests > 0 && metrics_op_name(i) != NULL) {
			label_name(metrics_op_name(i), label, sizeof(label));
			evbuffer_add_printf(out, "kmipd_operations_total{operation=\"%s\"} %llu\n", label,
			    (unsigned long long)m->ops[i].requests);
		}
	family(out, "kmipd_operation_errors_total", "counter", "Batch items answered with a failure, by operation.");
	for (i = 0; i < METRICS_NOPS; i++)
		if (m->ops[i].requests > 0 && metrics_op_name(i) != NULL) {
			label_name(metrics_op_name(i), label, sizeof(label));
			evbuffer_add_printf(out, "kmipd_operation_errors_total{operation=\"%s\"} %llu\n", label,
			    (unsigned long long)m->ops[i].errors);
		}
	family(out, "kmipd_operation_duration_seconds", "histogram",
	    "Run time of one batch item in the engine, by operation.");
	for (i = 0; i < METRICS_NOPS; i++)
		if (m->ops[i].requests > 0 && metrics_op_name(i) != NULL) {
			label_name(metrics_op_name(i), label, sizeof(label));
			snprintf(labels, sizeof(labels), "operation=\"%s\",", label);
			histogram(out, "kmipd_operation_duration_seconds", labels, &m->ops[i].latency);
		}
	if (s.have_keygen) {
		sample_u(out, "kmipd_keygen_workers", "gauge", "Key generation worker processes.", s.kg_workers);
		sample_u(out, "kmipd_keygen_workers_busy", "gauge", "Workers running a job now.", s.kg.busy_workers);
		sample_u(out, "kmipd_keygen_queued", "gauge", "Jobs waiting for a worker.", s.kg.queued);
		sample_u(out, "kmipd_keygen_pool_ready", "gauge", "Pre-generated RSA-2048 key pairs ready.",
		    s.kg.pool_ready);
		sample_u(out, "kmipd_keygen_pool_size", "gauge", "keygen.pool_size: key pairs kept ready at most.",
		    s.kg_pool_size);
		sample_u(out, "kmipd_keygen_generated_total", "counter", "Key pairs the workers made.",
		    s.kg.generated);
		sample_u(out, "kmipd_keygen_pool_hits_total", "counter", "RSA-2048 jobs answered from the pool.",
		    s.kg.pool_hits);
		sample_u(out, "kmipd_keygen_pool_misses_total", "counter", "RSA-2048 jobs that found the pool empty.",
		    s.kg.pool_misses);
		sample_u(out, "kmipd_keygen_worker_restarts_total", "counter", "Workers restarted after a death or "
		    "timeout.", s.kg.worker_restarts);
		sample_u(out, "kmipd_keygen_failures_total", "counter", "Jobs answered with an error.", s.kg.failures);
	}
	if (s.have_store) {
		sample_u(out, "kmipd_store_objects", "gauge", "Records in the store.", s.st.objects);
		sample_u(out, "kmipd_store_map_bytes", "gauge", "LMDB map size now.", s.st.map_size);
		sample_u(out, "kmipd_store_max_map_bytes", "gauge", "store.max_map_size: what the map may grow to.",
		    s.st.max_map_size);
		sample_u(out, "kmipd_store_used_bytes", "gauge", "Pages up to the last one in use.", s.st.used_bytes);
		sample_u(out, "kmipd_store_group_commits_total", "counter", "Durable group commits.",
		    s.st.group_commits);
		sample_u(out, "kmipd_store_conflicts_total", "counter", "Change sets skipped at commit: another "
		    "writer changed the object, or a quota was reached.", s.st.conflicts);
		sample_u(out, "kmipd_store_write_lock_taken_total", "counter", "LMDB write transactions begun.",
		    s.st.lock.taken);
		sample_u(out, "kmipd_store_write_lock_waits_total", "counter", "Write transactions that waited "
		    "100 us or more for LMDB's writer lock (another process held it).", s.st.lock.waits);
		family(out, "kmipd_store_write_lock_wait_seconds_total", "counter", "Time spent waiting for LMDB's "
		    "writer lock.");
		evbuffer_add_printf(out, "kmipd_store_write_lock_wait_seconds_total %.6f\n", s.st.lock.wait_us / 1e6);
	}
	if (s.have_cluster) {
		sample_u(out, "kmipd_cluster_applied_revision", "gauge", "The etcd revision this node applied through.",
		    s.cl.applied);
		family(out, "kmipd_cluster_staleness_seconds", "gauge", "Time since this node last proved it had "
		    "applied everything etcd committed.");
		evbuffer_add_printf(out, "kmipd_cluster_staleness_seconds %.3f\n", s.cl.staleness_ms / 1e3);
		sample_u(out, "kmipd_cluster_current", "gauge", "1 while the node is current with etcd, 0 when cut off "
		    "or stale.", s.cl.state == CLUSTER_CURRENT);
		sample_u(out, "kmipd_cluster_policy_mismatch", "gauge", "Other nodes whose access policy differs from "
		    "this node's.", s.cl.mismatches);
		sample_u(out, "kmipd_cluster_txns_total", "counter", "etcd transactions answered.", s.cl.txns);
		sample_u(out, "kmipd_cluster_conflicts_total", "counter", "etcd transactions whose compares failed "
		    "(another node wrote an object first).", s.cl.conflicts);
		sample_u(out, "kmipd_cluster_unknown_total", "counter", "etcd transactions sent without an answer "
		    "(their writes may or may not be made).", s.cl.unknown);
	}
	if (s.have_certs && s.server_days != LONG_MAX) {
		family(out, "kmipd_tls_server_cert_expiry_seconds", "gauge", "Time until the server certificate "
		    "expires, in whole days (negative once expired).");
		evbuffer_add_printf(out, "kmipd_tls_server_cert_expiry_seconds %lld\n", (long long)s.server_days * 86400);
	}
	if (s.have_certs && s.ecdsa_days != LONG_MAX) {
		family(out, "kmipd_tls_ecdsa_cert_expiry_seconds", "gauge", "Time until the ECDSA server certificate "
		    "(tls.ecdsa_cert_file) expires, in whole days (negative once expired).");
		evbuffer_add_printf(out, "kmipd_tls_ecdsa_cert_expiry_seconds %lld\n", (long long)s.ecdsa_days * 86400);
	}
	if (s.have_certs && s.ca_days != LONG_MAX) {
		family(out, "kmipd_tls_ca_cert_expiry_seconds", "gauge", "Time until the first client CA certificate "
		    "expires, in whole days (negative once expired).");
		evbuffer_add_printf(out, "kmipd_tls_ca_cert_expiry_seconds %lld\n", (long long)s.ca_days * 86400);
	}
	family(out, "kmipd_reloads_total", "counter", "SIGHUP reloads, by result.");
	evbuffer_add_printf(out, "kmipd_reloads_total{result=\"ok\"} %llu\nkmipd_reloads_total{result=\"failed\"} "
	    "%llu\n", (unsigned long long)m->reloads, (unsigned long long)m->reload_failures);
	sample_u(out, "kmipd_last_reload_timestamp_seconds", "gauge", "Time of the last reload (0: none since "
	    "start).", (uint64_t)m->last_reload);
	sample_u(out, "kmipd_last_reload_success", "gauge", "1 when the last reload (if any) succeeded.",
	    m->last_reload == 0 || m->last_reload_ok ? 1 : 0);
	if (srv->workers != NULL)
		workers_write_prometheus(srv->workers, out);
	return evbuffer_get_length(out) > METRICS_MAX_ANSWER ? -1 : 0;
}

/* Pauses the listener at metrics.max_connections connections open, resumes it below. */
static void
metrics_http_update(struct metrics_http *h)
{
	bool full = h->open >= h->srv->cfg->metrics.max_connections;

	if (full == h->paused)
		return;
	if (full)
		evconnlistener_disable(h->evl);
	else
		evconnlistener_enable(h->evl);
	h->paused = full;
}

/* Drops our reference on the connections evhttp has freed (bufferevent_free clears the callbacks). */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http *h = arg;
	struct timeval tv = { 0, METRICS_SWEEP_MS * 1000 };
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;
	void *cbarg;
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < h->open; ) {
		bufferevent_getcb(h->bevs[i], &rcb, &wcb, &ecb, &cbarg);
		if (ecb != NULL) {
			i++;
			continue;
		}
		bufferevent_decref(h->bevs[i]);
		h->bevs[i] = h->bevs[--h->open];
	}
	metrics_http_update(h);
	if (h->open > 0)
		evtimer_add(h->sweep, &tv);
}

/*
 * evhttp accepted a connection and asks for its bufferevent: counted (with a reference of ours, see the
 * top of the file), and at metrics.max_connections the listener pauses, which stops libevent's accept loop
 * before the next accept.
 */
static struct bufferevent *
new_conn_cb(struct event_base *base, void *arg)
{
	struct metrics_http *h = arg;
	struct timeval tv = { 0, METRICS_SWEEP_MS * 1000 };
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (bev == NULL || h->open >= METRICS_MAX_CONNS)
		return bev;	/* out of memory: evhttp tries on its own; full: cannot happen (paused) */
	bufferevent_incref(bev);
	h->bevs[h->open++] = bev;
	metrics_http_update(h);
	if (!evtimer_pending(h->sweep, NULL))
		evtimer_add(h->sweep, &tv);
	return bev;
}

/* A request's connection is being freed: release it at once rather than at the next sweep. */
static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct metrics_http *h = arg;

	(void)evcon;
	event_active(h->sweep, EV_TIMEOUT, 0);
}

/* Sends code with a one-line plain text body (or out, when given). */
static void
reply(struct evhttp_request *req, int code, const char *reason, const char *text, struct evbuffer *out)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	struct evbuffer *body = out;

	evhttp_add_header(hdr, "Connection", "close");
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (out == NULL) {
		evhttp_add_header(hdr, "Content-Type", "text/plain; charset=utf-8");
		if ((body = evbuffer_new()) != NULL)
			evbuffer_add_printf(body, "%s\n", text);
	}
	evhttp_send_reply(req, code, reason, body);
	if (out == NULL && body != NULL)
		evbuffer_free(body);
}

/* One HTTP request: /metrics, /ready, or 404. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics_http *h = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *why;
	struct evbuffer *out;

	if (evcon == NULL) {
		reply(req, 500, "Internal Server Error", "no connection", NULL);
		return;
	}
	/* One request per connection (Connection: close): it is released right after this answer is sent. */
	evhttp_connection_set_closecb(evcon, conn_closed_cb, h);
	if (path != NULL && strcmp(path, "/metrics") == 0) {
		if ((out = evbuffer_new()) == NULL) {
			reply(req, 500, "Internal Server Error", "out of memory", NULL);
			return;
		}
		if (metrics_write_prometheus(h->srv, out) != 0) {
			evbuffer_free(out);
			reply(req, 500, "Internal Server Error", "the answer would be too large", NULL);
			return;
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "text/plain; version=0.0.4; charset=utf-8");
		reply(req, 200, "OK", NULL, out);
		evbuffer_free(out);
	} else if (path != NULL && strcmp(path, "/ready") == 0) {
		if (status_ready(h->srv, &why))
			reply(req, 200, "OK", "ready", NULL);
		else
			reply(req, 503, "Service Unavailable", why, NULL);
	} else {
		reply(req, 404, "Not Found", "not found: GET /metrics or /ready", NULL);
	}
}

/* Opens metrics.listen; see metrics.h. */
int
metrics_http_open(struct server *srv, struct metrics_http **out)
{
	const char *listen = srv->cfg->metrics.listen;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct metrics_http *h;
	const char *colon;
	char host[64];
	size_t hl;
	int fd = -1, one = 1;
	unsigned port;

	*out = NULL;
	if (listen == NULL)
		return 0;
	/* The config checked the form: ADDRESS:PORT or [V6]:PORT. */
	colon = strrchr(listen, ':');
	hl = (size_t)(colon - listen);
	port = (unsigned)strtoul(colon + 1, NULL, 10);
	memset(&ss, 0, sizeof(ss));
	if (listen[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), listen + 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		snprintf(host, sizeof(host), "%.*s", (int)hl, listen);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		sslen = sizeof(*s4);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warn("metrics.listen");
		return -1;
	}
	h->srv = srv;
	snprintf(h->name, sizeof(h->name), "%s", listen);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("metrics.listen %s: socket", listen);
		goto fail;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		log_warn("metrics.listen %s: bind", listen);
		goto fail;
	}
	if ((h->http = evhttp_new(srv->base)) == NULL || (h->sweep = evtimer_new(srv->base, sweep_cb, h)) == NULL) {
		log_warnx("metrics.listen %s: out of memory", listen);
		goto fail;
	}
	h->evl = evconnlistener_new(srv->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    METRICS_BACKLOG, fd);
	if (h->evl == NULL) {
		log_warn("metrics.listen %s: listen", listen);
		goto fail;
	}
	fd = -1;	/* the listener's now */
	if ((h->bound = evhttp_bind_listener(h->http, h->evl)) == NULL) {
		evconnlistener_free(h->evl);
		log_warnx("metrics.listen %s: cannot serve HTTP on it", listen);
		goto fail;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, (int)srv->cfg->metrics.timeout);
	evhttp_set_gencb(h->http, request_cb, h);
	evhttp_set_bevcb(h->http, new_conn_cb, h);
	log_info("metrics: serving /metrics and /ready on http://%s", listen);
	*out = h;
	return 0;
bad:
	log_warnx("metrics.listen: \"%s\" is not ADDRESS:PORT", listen);
	return -1;
fail:
	if (fd != -1)
		close(fd);
	metrics_http_free(h);
	return -1;
}

/* Frees the listener; see metrics.h. */
void
metrics_http_free(struct metrics_http *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);	/* its bound sockets and connections too (our references stay) */
	while (h->open > 0)
		bufferevent_decref(h->bevs[--h->open]);
	if (h->sweep != NULL)
		event_free(h->sweep);
	free(h);
}

/* The listening socket's descriptor; see metrics.h. */
int
metrics_http_fd(const struct metrics_http *h)
{
	return h != NULL && h->evl != NULL ? evconnlistener_get_fd(h->evl) : -1;
}
