/*
 * The live status of the server: gathered from the loop's counters (core/metrics.h), the key-generation
 * workers, the store and the TLS context, and served on the administration socket (admin.socket, a Unix
 * socket that only local users with file permission reach) to `kmipctl status`, as text or JSON.
 *
 * The socket is served by the loop: one short request line ("status" or "status json"), one answer of
 * bounded size, then the connection closes. Symbol prefix: status_.
 */
#ifndef KMIPD_STATUS_H
#define KMIPD_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/cluster.h"
#include "core/keygen.h"
#include "core/metrics.h"
#include "core/server.h"
#include "store/store.h"
#include "tls/tls.h"

struct evbuffer;
struct metrics;
struct server;
struct server_stats;
struct status_admin;

#define STATUS_MAX_REQUEST	64	/* bytes of a request line on admin.socket, newline included */

/* One look at everything the status shows. Pointers point into the server; valid until the loop runs on. */
struct status_snap {
	time_t now;
	double uptime_s;
	unsigned conns_open;
	unsigned handshaking;
	const struct server_stats *stats;
	const struct metrics *m;
	bool have_keygen;
	struct keygen_stats kg;
	unsigned kg_workers;		/* configured */
	unsigned kg_pool_size;		/* configured */
	bool have_store;
	struct store_stats st;
	bool have_cluster;
	struct cluster_status cl;	/* store.backend = etcd (with workers: worker 0's view, counts summed) */
	bool have_tls_shared;
	struct tls_shared_stats tsh;	/* the shared session cache and ticket keys (all processes) */
	bool have_certs;
	long server_days;		/* LONG_MAX: no certificate */
	long ca_days;
	const char *server_not_after;
	const char *server_serial;
	long ecdsa_days;		/* LONG_MAX: no tls.ecdsa_cert_file */
	const char *ecdsa_not_after;
	const char *ecdsa_serial;	/* "none" when not set */
	bool ready;
	const char *not_ready;		/* why not, when !ready */
	/* The master of server.workers > 1: its workers' figures summed here; stats and m point at them. */
	struct server_stats stats_sum;
	struct metrics m_sum;
	char cert_not_after[64];
	char cert_serial[80];
	char ecdsa_cert_not_after[64];
	char ecdsa_cert_serial[80];
};

/* Fills s from the running server. */
void status_gather(struct server *srv, struct status_snap *s);
/*
 * Whether the server can serve: the store open, the TLS context loaded, not draining for a stop. When not,
 * *why says which (a constant string).
 */
bool status_ready(const struct server *srv, const char **why);
/* Writes the status for people (kmipctl status) or as one JSON object (--json). 0, or -1 out of memory. */
int status_write_text(struct server *srv, struct evbuffer *out) __attribute__((warn_unused_result));
int status_write_json(struct server *srv, struct evbuffer *out) __attribute__((warn_unused_result));

/*
 * Creates admin.socket when it is set (mode admin.socket_mode, group admin.socket_group) and serves it
 * from the loop. A stale socket file is replaced, a socket another process answers on is not. Returns 0
 * (also when unset), or -1 after logging why.
 */
int status_admin_open(struct server *srv, struct status_admin **out) __attribute__((warn_unused_result));
/* Closes the socket and its connections and removes the socket file; NULL is ignored. */
void status_admin_free(struct status_admin *a);
/* The listening socket's descriptor (-1 for NULL): a forked worker closes its copy. */
int status_admin_fd(const struct status_admin *a);

#endif
