/*
 * workers: server.workers > 1. The process that loaded the config becomes the master: it binds the
 * listening sockets, admin.socket and metrics.listen, maps one shared slot per worker, and forks the
 * workers. Each worker is a whole kmipd loop (server.c) serving the listening sockets it inherited; the
 * master accepts nothing, opens no store (except to clear a dead worker's reader slots) and runs no TLS.
 *
 * The master supervises: a worker that dies is logged, its LMDB reader slots cleared, and another forked
 * (with back-off when workers die soon after their start); a worker whose heartbeat stops for
 * server.worker_heartbeat_timeout is killed and replaced. SIGHUP reloads every worker all or none over a socketpair per
 * worker ("P" prepare, then "C" commit or "A" abort to all); SIGTERM and SIGINT stop every worker, and the
 * master exits when they have, with the worst of their statuses. admin.socket and /metrics are served by
 * the master from the workers' slots: the sums, plus a row per worker.
 *
 * With server.workers = 1 none of this runs: the single process is what it always was. Symbol prefix:
 * workers_ (the master side) and worker_ (one worker).
 */
#ifndef KMIPD_WORKERS_H
#define KMIPD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/config.h"
#include "core/cluster.h"
#include "core/keygen.h"
#include "core/metrics.h"
#include "core/server.h"
#include "store/store.h"

struct evbuffer;
struct event;
struct status_snap;
struct tls_shared;

#define WORKER_HEARTBEAT_MS	1000	/* a worker publishes its figures and heartbeat this often */
#define WORKER_QUICK_DEATH_SEC	10	/* a worker dying sooner after its start counts towards back-off */
#define WORKER_BACKOFF_MAX_SEC	60	/* the longest wait before forking a worker that keeps dying */
#define WORKER_RELOAD_SEC	60	/* a worker that has not answered a reload's prepare by then fails it */
#define WORKER_KILL_GRACE_SEC	5	/* past server.shutdown_timeout, a worker still running is killed */
#define WORKER_LINE_MAX		512	/* one line on the control socket, newline included */
#define WORKER_NAME_MAX		64	/* a listening socket's name, "[::1]:5696" */

/*
 * What one worker publishes for the master, in the shared mapping: written by the worker only, every
 * WORKER_HEARTBEAT_MS and after a start or reload, under a sequence lock (seq odd while writing), so the
 * master reads a consistent copy or retries.
 */
struct worker_slot {
	uint32_t seq;
	pid_t pid;
	int64_t heartbeat_ms;		/* clock_ms() (CLOCK_MONOTONIC, the same in every process) */
	bool ready;			/* serving: store open, TLS loaded, not draining */
	unsigned conns_open;
	unsigned handshaking;
	struct server_stats stats;
	struct metrics metrics;
	bool have_keygen;
	struct keygen_stats kg;
	unsigned kg_workers;		/* this worker's share of keygen.workers */
	unsigned kg_pool_size;		/* and of keygen.pool_size */
	bool have_store;
	struct store_stats st;
	bool have_cluster;
	struct cluster_status cl;
	bool have_certs;
	long server_days;
	long ca_days;
	char server_not_after[64];
	char server_serial[80];
	long ecdsa_days;		/* LONG_MAX: no tls.ecdsa_cert_file */
	char ecdsa_not_after[64];
	char ecdsa_serial[80];		/* "none" when not set */
};

/* A worker's place, held by its struct server (srv->worker). */
struct server_worker {
	unsigned index;			/* 0 .. count - 1 */
	unsigned count;			/* server.workers */
	int ctl;			/* this worker's end of the control socketpair */
	struct worker_slot *slot;	/* its figures, in the master's shared mapping */
	const int *listen_fds;		/* the master's listening sockets, inherited */
	const char (*listen_names)[WORKER_NAME_MAX];
	size_t nlisteners;
	struct tls_shared *tls_shared;	/* the master's (srv->tls_shared), mapped before the fork */
	unsigned kg_workers;		/* its share of keygen.workers, as started (keygen_share) */
	unsigned kg_pool_size;		/* and of keygen.pool_size */
	struct event *ctl_ev;		/* the master's requests */
	struct event *heartbeat;	/* every WORKER_HEARTBEAT_MS: publish */
	char line[WORKER_LINE_MAX];
	size_t len;
};

struct workers;

/*
 * The master's start: binds the listeners, admin.socket and metrics.listen, maps the slots, forks worker
 * 0 (which migrates a clear store alone) and waits until it serves, then the others, and waits for them.
 * cfg and the strings are the master's from then on (they must outlive it). ready_fd (-1: none) is the
 * daemon's start report, which no worker may hold. Returns 0 with *out, or -1 after logging the cause of
 * the failure (a worker's own cause when one failed to start): the caller says "cannot start" with it.
 */
int workers_start(struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides, int ready_fd, struct workers **out)
    __attribute__((warn_unused_result));
/* The master's loop: supervision, reloads, status, until every worker has stopped. Returns the exit status. */
int workers_run(struct workers *w);
/* The master's running configuration (a reload replaces it: do not keep the pointer across the loop). */
const struct kmipd_config *workers_config(const struct workers *w);
/* Stops what is left and frees the master (its config too); NULL is ignored. */
void workers_free(struct workers *w);

/* In a worker, from server_init_worker(): the control socket's event and the heartbeat. 0, or -1 logged. */
int workers_attach(struct server *srv) __attribute__((warn_unused_result));
/* In a worker, from server_free(): stops both. */
void workers_detach(struct server *srv);
/* In a worker: writes its figures and heartbeat to its slot (certs: the certificate fields too). */
void worker_publish(struct server *srv, bool certs);

/* In the master: whether every worker serves; when not, *why says which does not (a constant string). */
bool workers_ready(const struct workers *w, const char **why);
/* In the master: fills s with the workers' figures summed (status_gather). */
void workers_gather(const struct workers *w, struct status_snap *s);
/* In the master: a line per worker for kmipctl status, a JSON array ("workers":[...]), Prometheus rows. */
void workers_write_text(const struct workers *w, struct evbuffer *out);
void workers_write_json(const struct workers *w, struct evbuffer *out);
void workers_write_prometheus(const struct workers *w, struct evbuffer *out);

#endif
