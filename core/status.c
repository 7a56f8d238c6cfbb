/*
 * status: the live status gathered from the running server, written as text or JSON, and the
 * administration socket (admin.socket) that `kmipctl status` asks it on.
 *
 * The socket is a Unix stream socket served by the loop like any other: whoever may open the file (its
 * mode and group, admin.socket_mode and admin.socket_group) may ask. The asking process's uid and pid
 * (SO_PEERCRED) are logged. A request is one line of at most STATUS_MAX_REQUEST bytes; the answer's size
 * is bounded by the fixed tables it is made of; admin.max_connections are served at once, each within
 * admin.timeout.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/clock.h"
#include "core/keygen.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/server.h"
#include "core/sources.h"
#include "core/status.h"
#include "core/workers.h"
#include "store/store.h"
#include "tls/tls.h"

#define ADMIN_BACKLOG		16
#define STATUS_MAX_ANSWER	(1024 * 1024)	/* far above what the fixed tables can produce */

struct admin_conn;

struct status_admin {
	struct server *srv;
	struct evconnlistener *evl;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;			/* the socket file made, removed at the end only if still the same */
	ino_t ino;
	unsigned open;			/* connections open */
	TAILQ_HEAD(, admin_conn) conns;
};

/* The clustered store's lines of the text status. */
static void
cluster_write_text(const struct cluster_status *c, struct evbuffer *out)
{
	size_t i;

	evbuffer_add_printf(out, "cluster: node %s, %s; etcd revision %llu applied, last proof of being current "
	    "%.1f s ago; via %s\n", c->node, cluster_state_name(c->state), (unsigned long long)c->applied,
	    c->staleness_ms / 1e3, c->endpoint);
	evbuffer_add_printf(out, "cluster writes: %llu etcd transactions, %llu with a conflict, %llu unanswered, "
	    "%llu refused; %llu records skipped, %llu resynchronisations\n", (unsigned long long)c->txns,
	    (unsigned long long)c->conflicts, (unsigned long long)c->unknown, (unsigned long long)c->refused,
	    (unsigned long long)c->bad_records, (unsigned long long)c->resyncs);
	evbuffer_add_printf(out, "cluster policy: sha256 %.16s...%s\n", c->policy, c->mismatches > 0 ?
	    "; DIFFERS on some nodes (below)" : ", the same on every node");
	for (i = 0; i < c->npeers; i++)
		evbuffer_add_printf(out, "  node %-24s applied %llu, policy %.16s...%s\n", c->peers[i].name,
		    (unsigned long long)c->peers[i].applied, c->peers[i].policy,
		    strcmp(c->peers[i].policy, c->policy) != 0 ? " (DIFFERENT)" : "");
}

static void json_str(struct evbuffer *out, const char *s);

/* The "cluster" member of the JSON status. */
static void
cluster_write_json(const struct cluster_status *c, struct evbuffer *out)
{
	size_t i;
	bool first = true;

	evbuffer_add_printf(out, ",\"cluster\":{\"backend\":\"etcd\",\"node\":");
	json_str(out, c->node);
	evbuffer_add_printf(out, ",\"state\":");
	json_str(out, cluster_state_name(c->state));
	evbuffer_add_printf(out, ",\"endpoint\":");
	json_str(out, c->endpoint);
	evbuffer_add_printf(out, ",\"applied_revision\":%llu,\"staleness_ms\":%llu,\"txns\":%llu,\"conflicts\":%llu,"
	    "\"unknown\":%llu,\"refused\":%llu,\"bad_records\":%llu,\"resyncs\":%llu,\"policy_sha256\":",
	    (unsigned long long)c->applied, (unsigned long long)c->staleness_ms, (unsigned long long)c->txns,
	    (unsigned long long)c->conflicts, (unsigned long long)c->unknown, (unsigned long long)c->refused,
	    (unsigned long long)c->bad_records, (unsigned long long)c->resyncs);
	json_str(out, c->policy);
	evbuffer_add_printf(out, ",\"policy_mismatch\":[");
	for (i = 0; i < c->npeers; i++) {
		if (c->peers[i].policy[0] == '\0' || strcmp(c->peers[i].policy, c->policy) == 0)
			continue;
		evbuffer_add_printf(out, first ? "" : ",");
		json_str(out, c->peers[i].name);
		first = false;
	}
	evbuffer_add_printf(out, "],\"nodes\":[");
	for (i = 0; i < c->npeers; i++) {
		evbuffer_add_printf(out, "%s{\"name\":", i > 0 ? "," : "");
		json_str(out, c->peers[i].name);
		evbuffer_add_printf(out, ",\"policy_sha256\":");
		json_str(out, c->peers[i].policy);
		evbuffer_add_printf(out, ",\"applied\":%llu,\"time\":%lld}", (unsigned long long)c->peers[i].applied,
		    (long long)c->peers[i].time);
	}
	evbuffer_add_printf(out, "]}");
}

/* Whether the server can serve; see status.h. */
bool
status_ready(const struct server *srv, const char **why)
{
	if (srv->stopping)
		*why = "draining: stopping";
	else if (srv->workers != NULL)
		return workers_ready(srv->workers, why);
	else if (srv->store == NULL || srv->engine == NULL)
		*why = "the store is not open";
	else if (srv->tls == NULL)
		*why = "no TLS context";
	else
		return true;
	return false;
}

/* Gathers what the status shows; see status.h. */
void
status_gather(struct server *srv, struct status_snap *s)
{
	static struct tls_server_desc d;	/* 2 KiB: not on the stack; one thread */

	memset(s, 0, sizeof(*s));
	s->now = time(NULL);
	s->uptime_s = (double)(clock_ms() - srv->metrics.started_ms) / 1000.0;
	/* One cache for the whole server: the master reads the figures every worker counts in it. */
	if (srv->tls_shared != NULL) {
		tls_shared_stats(srv->tls_shared, &s->tsh);
		s->have_tls_shared = true;
	}
	if (srv->workers != NULL) {
		/* The master: its workers' figures summed, its own start and reloads. */
		workers_gather(srv->workers, s);
		s->stats = &s->stats_sum;
		s->m_sum.started = srv->metrics.started;
		s->m_sum.started_ms = srv->metrics.started_ms;
		s->m_sum.reloads = srv->metrics.reloads;
		s->m_sum.reload_failures = srv->metrics.reload_failures;
		s->m_sum.last_reload = srv->metrics.last_reload;
		s->m_sum.last_reload_ok = srv->metrics.last_reload_ok;
		memcpy(s->m_sum.last_reload_error, srv->metrics.last_reload_error, sizeof(s->m_sum.last_reload_error));
		s->m = &s->m_sum;
		s->ready = status_ready(srv, &s->not_ready);
		return;
	}
	s->conns_open = srv->nconns;
	s->handshaking = srv->sources != NULL ? sources_handshaking(srv->sources) : 0;
	s->stats = &srv->stats;
	s->m = &srv->metrics;
	if (srv->keygen != NULL) {
		keygen_stats(srv->keygen, &s->kg);
		s->have_keygen = true;
		s->kg_workers = srv->cfg->keygen.workers;
		s->kg_pool_size = srv->cfg->keygen.pool_size;
	}
	if (srv->store != NULL && store_stat(srv->store, &s->st) == 0)
		s->have_store = true;
	if (srv->cluster != NULL) {
		cluster_status(srv->cluster, &s->cl);
		s->have_cluster = true;
	}
	if (srv->tls != NULL) {
		tls_server_describe(srv->tls, &d);
		s->have_certs = true;
		s->server_days = d.server_days;
		s->ca_days = d.ca_days;
		s->server_not_after = d.server_not_after;
		s->server_serial = d.server_serial;
		s->ecdsa_days = d.ecdsa_days;
		s->ecdsa_not_after = d.ecdsa_not_after;
		s->ecdsa_serial = d.ecdsa_serial;
	}
	s->ready = status_ready(srv, &s->not_ready);
}

/* "1.2 ms" or "340 us" or "2.5 s". */
static void
fmt_us(double us, char *buf, size_t size)
{
	if (us >= 1e6)
		snprintf(buf, size, "%.2f s", us / 1e6);
	else if (us >= 1000)
		snprintf(buf, size, "%.2f ms", us / 1000);
	else
		snprintf(buf, size, "%.0f us", us);
}

/* "YYYY-MM-DD HH:MM:SS UTC" of t, or "never" for 0. */
static void
fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "never");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The three percentiles of h, as text. */
static void
fmt_percentiles(const struct metrics_hist *h, char *buf, size_t size)
{
	char a[24], b[24], c[24];

	fmt_us(metrics_quantile_us(h, 0.5), a, sizeof(a));
	fmt_us(metrics_quantile_us(h, 0.9), b, sizeof(b));
	fmt_us(metrics_quantile_us(h, 0.99), c, sizeof(c));
	snprintf(buf, size, "p50 %s, p90 %s, p99 %s", a, b, c);
}

/* The text answer (kmipctl status); see status.h. */
int
status_write_text(struct server *srv, struct evbuffer *out)
{
	static const char *const hs_names[METRICS_HS_NREASONS] = { "protocol", "certificate", "timeout",
	    "peer closed", "identity refused" };
	struct status_snap s;
	const struct metrics *m;
	char t1[64], p[96];
	uint64_t failed = 0;
	unsigned i;

	status_gather(srv, &s);
	m = s.m;
	fmt_time(m->started, t1, sizeof(t1));
	evbuffer_add_printf(out, "kmipd: %s; up %.0f s (since %s)\n", s.ready ? "ready" : s.not_ready, s.uptime_s,
	    t1);
	evbuffer_add_printf(out, "connections: %u open (%u handshaking), %llu accepted, %llu refused",
	    s.conns_open, s.handshaking, (unsigned long long)s.stats->accepted,
	    (unsigned long long)(s.stats->refused + s.stats->evicted));
	for (i = 0; i < 8; i++) {
		const char *r = i == METRICS_REFUSE_STOPPING ? "stopping" : server_refusal_name(i);

		if (r != NULL && m->refused[i] > 0)
			evbuffer_add_printf(out, "; %s %llu", r, (unsigned long long)m->refused[i]);
	}
	for (i = 0; i < METRICS_HS_NREASONS; i++)
		failed += m->hs_failed[i];
	evbuffer_add_printf(out, "\nhandshakes: %llu full, %llu resumed, %llu failed",
	    (unsigned long long)(s.stats->handshakes - s.stats->resumed), (unsigned long long)s.stats->resumed,
	    (unsigned long long)failed);
	for (i = 0; i < METRICS_HS_NREASONS; i++)
		if (m->hs_failed[i] > 0)
			evbuffer_add_printf(out, "; %s %llu", hs_names[i], (unsigned long long)m->hs_failed[i]);
	if (s.have_tls_shared)
		evbuffer_add_printf(out, "\ntls sessions: %lu cached of %lu; %llu hits, %llu misses (%llu expired), "
		    "%llu stored, %llu evicted, %llu too large, %llu removed; ticket keys: %lu %s (%llu rotations)",
		    s.tsh.cached, s.tsh.slots, s.tsh.hits, s.tsh.misses, s.tsh.expired, s.tsh.stored, s.tsh.evictions,
		    s.tsh.too_large, s.tsh.removed, s.tsh.ticket_keys, s.tsh.ticket_file ? "from tls.ticket_key_file" :
		    "random", s.tsh.rotations);
	fmt_percentiles(&m->request_latency, p, sizeof(p));
	evbuffer_add_printf(out, "\nrequests: %llu (%llu malformed); latency %s\n",
	    (unsigned long long)s.stats->requests, (unsigned long long)s.stats->bad_messages, p);
	evbuffer_add_printf(out, "operations:\n");
	for (i = 0; i < METRICS_NOPS; i++) {
		const struct metrics_op *op = &m->ops[i];

		if (op->requests == 0 || metrics_op_name(i) == NULL)
			continue;
		fmt_percentiles(&op->latency, p, sizeof(p));
		evbuffer_add_printf(out, "  %-20s %10llu requests %8llu errors  %s\n", metrics_op_name(i),
		    (unsigned long long)op->requests, (unsigned long long)op->errors, p);
	}
	if (s.have_keygen)
		evbuffer_add_printf(out, "key pairs: pool %u of %u ready; workers %u (%u busy), %llu queued jobs, "
		    "%llu generated, %llu restarts\n", s.kg.pool_ready, s.kg_pool_size, s.kg_workers,
		    s.kg.busy_workers, (unsigned long long)s.kg.queued, (unsigned long long)s.kg.generated,
		    (unsigned long long)s.kg.worker_restarts);
	if (s.have_store)
		evbuffer_add_printf(out, "store: %llu objects; map %llu MiB used of %llu MiB mapped (max %llu MiB)\n",
		    (unsigned long long)s.st.objects, (unsigned long long)(s.st.used_bytes >> 20),
		    (unsigned long long)(s.st.map_size >> 20), (unsigned long long)(s.st.max_map_size >> 20));
	if (s.have_store)
		evbuffer_add_printf(out, "store writes: %llu group commits, %llu conflicts; writer lock waited %llu "
		    "times (%.1f ms in all, longest %.1f ms)\n", (unsigned long long)s.st.group_commits,
		    (unsigned long long)s.st.conflicts, (unsigned long long)s.st.lock.waits, s.st.lock.wait_us / 1e3,
		    s.st.lock.max_wait_us / 1e3);
	if (s.have_cluster)
		cluster_write_text(&s.cl, out);
	if (s.have_certs) {
		evbuffer_add_printf(out, "certificates: server (serial %s) expires in %ld days (%s)", s.server_serial,
		    s.server_days, s.server_not_after);
		if (strcmp(s.ecdsa_serial, "none") != 0)
			evbuffer_add_printf(out, "; ECDSA server (serial %s) in %ld days (%s)", s.ecdsa_serial,
			    s.ecdsa_days, s.ecdsa_not_after);
		if (s.ca_days != LONG_MAX)
			evbuffer_add_printf(out, "; first client CA in %ld days", s.ca_days);
		evbuffer_add_printf(out, "\n");
	}
	if (srv->workers != NULL)
		workers_write_text(srv->workers, out);
	fmt_time(m->last_reload, t1, sizeof(t1));
	if (m->last_reload == 0)
		evbuffer_add_printf(out, "last reload: none since start\n");
	else
		evbuffer_add_printf(out, "last reload: %s at %s%s%s (%llu ok, %llu failed)\n",
		    m->last_reload_ok ? "ok" : "FAILED", t1, m->last_reload_ok ? "" : ": ", m->last_reload_error,
		    (unsigned long long)m->reloads, (unsigned long long)m->reload_failures);
	return evbuffer_get_length(out) > STATUS_MAX_ANSWER ? -1 : 0;
}

/* Writes s as a JSON string (quotes included), escaping what JSON requires. */
static void
json_str(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			evbuffer_add_printf(out, "\\u%04x", c);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* {"count":N,"sum_seconds":S,"p50_seconds":...,"buckets":[...]} of h. */
static void
json_hist(struct evbuffer *out, const struct metrics_hist *h)
{
	unsigned i;

	evbuffer_add_printf(out, "{\"count\":%llu,\"sum_seconds\":%.6f,\"p50_seconds\":%.6f,\"p90_seconds\":%.6f,"
	    "\"p99_seconds\":%.6f,\"buckets\":[", (unsigned long long)h->count, (double)h->sum_us / 1e6,
	    metrics_quantile_us(h, 0.5) / 1e6, metrics_quantile_us(h, 0.9) / 1e6, metrics_quantile_us(h, 0.99) / 1e6);
	for (i = 0; i < METRICS_NBUCKETS; i++)
		evbuffer_add_printf(out, "%s%llu", i > 0 ? "," : "", (unsigned long long)h->bucket[i]);
	evbuffer_add_printf(out, "]}");
}

/* The JSON answer (kmipctl status --json); see status.h. */
int
status_write_json(struct server *srv, struct evbuffer *out)
{
	static const char *const hs_names[METRICS_HS_NREASONS] = { "protocol", "certificate", "timeout",
	    "peer_closed", "identity_refused" };
	struct status_snap s;
	const struct metrics *m;
	bool first = true;
	unsigned i;

	status_gather(srv, &s);
	m = s.m;
	evbuffer_add_printf(out, "{\"ready\":%s,\"not_ready\":", s.ready ? "true" : "false");
	json_str(out, s.ready ? "" : s.not_ready);
	evbuffer_add_printf(out, ",\"uptime_seconds\":%.3f,\"started\":%lld,\"pid\":%ld,", s.uptime_s,
	    (long long)m->started, (long)getpid());
	evbuffer_add_printf(out, "\"connections\":{\"open\":%u,\"handshaking\":%u,\"accepted\":%llu,\"refused\":{",
	    s.conns_open, s.handshaking, (unsigned long long)s.stats->accepted);
	for (i = 0; i < 8; i++) {
		const char *r = i == METRICS_REFUSE_STOPPING ? "stopping" : server_refusal_name(i);

		if (r == NULL)
			continue;
		evbuffer_add_printf(out, "%s\"%s\":%llu", first ? "" : ",", r, (unsigned long long)m->refused[i]);
		first = false;
	}
	evbuffer_add_printf(out, "}},\"handshakes\":{\"full\":%llu,\"resumed\":%llu,\"failed\":{",
	    (unsigned long long)(s.stats->handshakes - s.stats->resumed), (unsigned long long)s.stats->resumed);
	for (i = 0; i < METRICS_HS_NREASONS; i++)
		evbuffer_add_printf(out, "%s\"%s\":%llu", i > 0 ? "," : "", hs_names[i],
		    (unsigned long long)m->hs_failed[i]);
	evbuffer_add_printf(out, "}}");
	if (s.have_tls_shared)
		evbuffer_add_printf(out, ",\"tls_sessions\":{\"cached\":%lu,\"slots\":%lu,\"hits\":%llu,"
		    "\"misses\":%llu,\"expired\":%llu,\"stored\":%llu,\"evicted\":%llu,\"too_large\":%llu,"
		    "\"removed\":%llu,\"lock_recoveries\":%llu,\"ticket_keys\":%lu,\"ticket_key_file\":%s,"
		    "\"ticket_key_rotations\":%llu}", s.tsh.cached, s.tsh.slots, s.tsh.hits, s.tsh.misses,
		    s.tsh.expired, s.tsh.stored, s.tsh.evictions, s.tsh.too_large, s.tsh.removed, s.tsh.recovered,
		    s.tsh.ticket_keys, s.tsh.ticket_file ? "true" : "false", s.tsh.rotations);
	evbuffer_add_printf(out, ",\"requests\":{\"total\":%llu,\"malformed\":%llu,\"latency\":",
	    (unsigned long long)s.stats->requests, (unsigned long long)s.stats->bad_messages);
	json_hist(out, &m->request_latency);
	evbuffer_add_printf(out, "},\"latency_buckets_seconds\":[");
	for (i = 0; i < METRICS_NBUCKETS - 1; i++)
		evbuffer_add_printf(out, "%s%g", i > 0 ? "," : "", (double)metrics_bucket_us[i] / 1e6);
	evbuffer_add_printf(out, "],\"operations\":{");
	first = true;
	for (i = 0; i < METRICS_NOPS; i++) {
		const struct metrics_op *op = &m->ops[i];

		if (op->requests == 0 || metrics_op_name(i) == NULL)
			continue;
		evbuffer_add_printf(out, "%s", first ? "" : ",");
		json_str(out, metrics_op_name(i));
		evbuffer_add_printf(out, ":{\"requests\":%llu,\"errors\":%llu,\"latency\":",
		    (unsigned long long)op->requests, (unsigned long long)op->errors);
		json_hist(out, &op->latency);
		evbuffer_add_printf(out, "}");
		first = false;
	}
	evbuffer_add_printf(out, "}");
	if (s.have_keygen)
		evbuffer_add_printf(out, ",\"keygen\":{\"workers\":%u,\"busy_workers\":%u,\"queued\":%u,"
		    "\"pool_ready\":%u,\"pool_size\":%u,\"generated\":%llu,\"pool_hits\":%llu,\"pool_misses\":%llu,"
		    "\"worker_restarts\":%llu,\"failures\":%llu}", s.kg_workers, s.kg.busy_workers, s.kg.queued,
		    s.kg.pool_ready, s.kg_pool_size, (unsigned long long)s.kg.generated,
		    (unsigned long long)s.kg.pool_hits, (unsigned long long)s.kg.pool_misses,
		    (unsigned long long)s.kg.worker_restarts, (unsigned long long)s.kg.failures);
	if (s.have_store)
		evbuffer_add_printf(out, ",\"store\":{\"objects\":%llu,\"map_bytes\":%llu,\"max_map_bytes\":%llu,"
		    "\"used_bytes\":%llu,\"group_commits\":%llu,\"conflicts\":%llu,\"write_lock\":{\"taken\":%llu,"
		    "\"waits\":%llu,\"wait_us\":%llu,\"max_wait_us\":%llu}}", (unsigned long long)s.st.objects,
		    (unsigned long long)s.st.map_size, (unsigned long long)s.st.max_map_size,
		    (unsigned long long)s.st.used_bytes, (unsigned long long)s.st.group_commits,
		    (unsigned long long)s.st.conflicts, (unsigned long long)s.st.lock.taken,
		    (unsigned long long)s.st.lock.waits, (unsigned long long)s.st.lock.wait_us,
		    (unsigned long long)s.st.lock.max_wait_us);
	if (s.have_cluster)
		cluster_write_json(&s.cl, out);
	if (s.have_certs) {
		evbuffer_add_printf(out, ",\"certificates\":{\"server_serial\":");
		json_str(out, s.server_serial);
		evbuffer_add_printf(out, ",\"server_not_after\":");
		json_str(out, s.server_not_after);
		if (s.server_days != LONG_MAX)
			evbuffer_add_printf(out, ",\"server_days\":%ld", s.server_days);
		if (strcmp(s.ecdsa_serial, "none") != 0) {
			evbuffer_add_printf(out, ",\"ecdsa_serial\":");
			json_str(out, s.ecdsa_serial);
			evbuffer_add_printf(out, ",\"ecdsa_not_after\":");
			json_str(out, s.ecdsa_not_after);
			if (s.ecdsa_days != LONG_MAX)
				evbuffer_add_printf(out, ",\"ecdsa_days\":%ld", s.ecdsa_days);
		}
		if (s.ca_days != LONG_MAX)
			evbuffer_add_printf(out, ",\"ca_days\":%ld", s.ca_days);
		evbuffer_add_printf(out, "}");
	}
	if (srv->workers != NULL)
		workers_write_json(srv->workers, out);
	evbuffer_add_printf(out, ",\"reload\":{\"ok\":%llu,\"failed\":%llu,\"last\":%lld,\"last_ok\":%s,\"last_error\":",
	    (unsigned long long)m->reloads, (unsigned long long)m->reload_failures, (long long)m->last_reload,
	    m->last_reload == 0 ? "null" : m->last_reload_ok ? "true" : "false");
	json_str(out, m->last_reload_error);
	evbuffer_add_printf(out, "}}\n");
	return evbuffer_get_length(out) > STATUS_MAX_ANSWER ? -1 : 0;
}

/* One connection to the administration socket. */
struct admin_conn {
	TAILQ_ENTRY(admin_conn) entry;
	struct status_admin *a;
	struct bufferevent *bev;
	uid_t uid;
	pid_t pid;
	bool answered;
};

/* Frees an administration connection. */
static void
admin_conn_free(struct admin_conn *ac)
{
	ac->a->open--;
	TAILQ_REMOVE(&ac->a->conns, ac, entry);
	bufferevent_free(ac->bev);
	free(ac);
}

/* The answer has gone out: close. */
static void
admin_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_conn *ac = arg;

	if (ac->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		admin_conn_free(ac);
}

/* EOF, an error, or admin.timeout: close. */
static void
admin_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct admin_conn *ac = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("admin: uid %u pid %ld: no request within admin.timeout; closed", (unsigned)ac->uid,
		    (long)ac->pid);
	admin_conn_free(ac);
}

/* Reads the request line and answers it. */
static void
admin_read_cb(struct bufferevent *bev, void *arg)
{
	struct admin_conn *ac = arg;
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
	struct evbuffer_ptr eol;
	char line[STATUS_MAX_REQUEST + 1];
	size_t len;
	int rc = 0;

	if (ac->answered) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	eol = evbuffer_search(in, "\n", 1, NULL);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) < STATUS_MAX_REQUEST)
			return;		/* more to come, within admin.timeout */
		evbuffer_add_printf(out, "error: request longer than %d bytes\n", STATUS_MAX_REQUEST);
		goto done;
	}
	len = (size_t)eol.pos;
	if (len >= STATUS_MAX_REQUEST) {
		evbuffer_add_printf(out, "error: request longer than %d bytes\n", STATUS_MAX_REQUEST);
		goto done;
	}
	evbuffer_remove(in, line, len + 1);
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	/* Whatever a local user sent is logged below: one line of printable characters. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] >= 0x7f)
			line[i] = '?';
	log_info("admin: \"%s\" from uid %u pid %ld", line, (unsigned)ac->uid, (long)ac->pid);
	if (strcmp(line, "status") == 0)
		rc = status_write_text(ac->a->srv, out);
	else if (strcmp(line, "status json") == 0)
		rc = status_write_json(ac->a->srv, out);
	else
		evbuffer_add_printf(out, "error: unknown request; ask \"status\" or \"status json\"\n");
	if (rc != 0) {
		evbuffer_drain(out, evbuffer_get_length(out));
		evbuffer_add_printf(out, "error: the answer would be too large\n");
	}
done:
	ac->answered = true;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(bev, EV_READ);
}

/* A local process connected: note who (SO_PEERCRED), and wait for its request. */
static void
admin_accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct status_admin *a = arg;
	struct timeval tv = { .tv_sec = a->srv->cfg->admin.timeout, .tv_usec = 0 };
	struct admin_conn *ac;
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	(void)evl;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || clen != sizeof(cred)) {
		log_warn("admin: SO_PEERCRED");
		close(fd);
		return;
	}
	if (a->open >= a->srv->cfg->admin.max_connections) {
		log_warnx("admin: uid %u pid %ld refused: admin.max_connections (%u) open", (unsigned)cred.uid,
		    (long)cred.pid, a->srv->cfg->admin.max_connections);
		close(fd);
		return;
	}
	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (ac->bev = bufferevent_socket_new(a->srv->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warn("admin: connection");
		free(ac);
		close(fd);
		return;
	}
	ac->a = a;
	ac->uid = cred.uid;
	ac->pid = cred.pid;
	a->open++;
	TAILQ_INSERT_TAIL(&a->conns, ac, entry);
	bufferevent_setcb(ac->bev, admin_read_cb, admin_write_cb, admin_event_cb, ac);
	bufferevent_setwatermark(ac->bev, EV_READ, 0, STATUS_MAX_REQUEST);
	bufferevent_set_timeouts(ac->bev, &tv, &tv);
	if (bufferevent_enable(ac->bev, EV_READ | EV_WRITE) != 0)
		admin_conn_free(ac);
}

/* Opens admin.socket; see status.h. */
int
status_admin_open(struct server *srv, struct status_admin **out)
{
	const struct config_admin *c = &srv->cfg->admin;
	struct sockaddr_un sun;
	struct status_admin *a;
	struct stat st;
	mode_t mode = (mode_t)strtoul(c->socket_mode, NULL, 8);
	gid_t gid = (gid_t)-1;
	int fd = -1;

	*out = NULL;
	if (c->socket == NULL)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (c->socket[0] != '/' || strlen(c->socket) >= sizeof(sun.sun_path)) {
		log_warnx("admin.socket %s: not an absolute path of at most %zu bytes", c->socket,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, c->socket, strlen(c->socket));
	if (c->socket_group != NULL) {
		struct group *gr = getgrnam(c->socket_group);

		if (gr == NULL) {
			log_warnx("admin.socket_group: no group \"%s\"", c->socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("admin.socket %s: socket", c->socket);
		return -1;
	}
	/* A socket file left by a kmipd that died is replaced; one a running kmipd answers on is not. */
	if (lstat(c->socket, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("admin.socket %s: exists and is not a socket", c->socket);
			goto fail;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
			int rc = connect(probe, (struct sockaddr *)&sun, sizeof(sun));

			close(probe);
			if (rc == 0) {
				log_warnx("admin.socket %s: another process answers on it", c->socket);
				goto fail;
			}
		}
		if (unlink(c->socket) != 0) {
			log_warn("admin.socket %s: removing the stale socket", c->socket);
			goto fail;
		}
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		log_warn("admin.socket %s: bind", c->socket);
		goto fail;
	}
	/* Made under kmipd's umask (0077): widened to the configured mode only once it has its group. */
	if ((gid != (gid_t)-1 && chown(c->socket, (uid_t)-1, gid) != 0) || chmod(c->socket, mode) != 0 ||
	    stat(c->socket, &st) != 0) {
		log_warn("admin.socket %s: setting its group and mode", c->socket);
		(void)unlink(c->socket);
		goto fail;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("admin.socket");
		(void)unlink(c->socket);
		goto fail;
	}
	a->srv = srv;
	TAILQ_INIT(&a->conns);
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	snprintf(a->path, sizeof(a->path), "%s", c->socket);
	a->evl = evconnlistener_new(srv->base, admin_accept_cb, a, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    ADMIN_BACKLOG, fd);
	if (a->evl == NULL) {
		log_warn("admin.socket %s: listen", c->socket);
		(void)unlink(c->socket);
		free(a);
		goto fail;
	}
	log_info("admin: status on %s (mode %04o%s%s)", c->socket, (unsigned)mode, c->socket_group ? ", group " :
	    "", c->socket_group ? c->socket_group : "");
	*out = a;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Closes the administration socket; see status.h. */
void
status_admin_free(struct status_admin *a)
{
	struct stat st;

	if (a == NULL)
		return;
	evconnlistener_free(a->evl);
	while (!TAILQ_EMPTY(&a->conns))
		admin_conn_free(TAILQ_FIRST(&a->conns));
	if (lstat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		(void)unlink(a->path);
	free(a);
}

/* The listening socket's descriptor; see status.h. */
int
status_admin_fd(const struct status_admin *a)
{
	return a != NULL ? evconnlistener_get_fd(a->evl) : -1;
}
