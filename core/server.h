/*
 * The server: one libevent loop that owns the listeners, the TLS context, the configuration and every
 * connection. Nothing here is global; the struct is passed down.
 */
#ifndef KMIPD_SERVER_H
#define KMIPD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>
#include <sys/time.h>

#include <event2/event.h>

#include "core/config.h"
#include "core/masterkey.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"

struct access_policy;
struct audit;
struct budget;
struct conn;
struct engine;
struct keygen;
struct sources;
struct status_admin;
struct metrics_http;
struct store;
struct tls_server;
struct tls_shared;
struct evconnlistener;
struct ssl_st;
struct server_pending;
struct server_worker;
struct workers;

struct listener {
	struct evconnlistener *evl;
	char name[64];			/* "127.0.0.1:5696", "[::]:5696" */
};

struct server_stats {
	uint64_t accepted;
	uint64_t refused;		/* closed at accept: a per-source limit, or max_connections */
	uint64_t evicted;		/* handshaking connections closed to make room (max_handshakes) */
	uint64_t handshakes;		/* completed */
	uint64_t resumed;		/* of which resumed */
	uint64_t handshake_failures;
	uint64_t probes;		/* closed before sending a byte: TCP health checks, not handshake failures */
	uint64_t requests;
	uint64_t bad_messages;		/* malformed TTLV or envelope */
};

struct server {
	struct event_base *base;
	struct kmipd_config *cfg;
	const char *config_path;	/* NULL: embedded defaults */
	const char *base_dir;		/* relative paths of the config are under it (config_resolve_paths) */
	char *const *overrides;		/* -o arguments, applied again on reload */
	size_t noverrides;
	struct tls_server *tls;
	struct tls_shared *tls_shared;	/* session cache and ticket keys of every process; outlives reloads */
	struct listener *listeners;
	size_t nlisteners;
	bool accepting;			/* listeners enabled */
	bool accept_backoff;		/* paused after EMFILE/ENFILE until accept_retry fires */
	bool accept_yield;		/* paused for one loop turn after ACCEPTS_PER_TURN accepts */
	unsigned accept_burst;		/* accepts since the last yield */
	bool stopping;
	struct event *sig_term;
	struct event *sig_int;
	struct event *sig_hup;
	struct event *accept_retry;
	struct event *accept_resume;	/* zero timeout: ends an accept_yield on the next loop turn */
	struct event *shutdown_timer;
	struct store *store;
	struct masterkey keys;		/* the store's master key (and previous one), kept while it is open */
	struct event *reseal_ev;	/* re-encrypts a batch of records per loop iteration after a rotation */
	bool resealing;
	struct keygen *keygen;
	struct audit *audit;		/* NULL: no audit trail */
	struct access_policy *policy;	/* access.* parsed; rebuilt on reload */
	struct engine *engine;		/* answers the requests of every connection's session */
	struct cluster *cluster;	/* store.backend = etcd: the clustered store (core/cluster.h), else NULL */
	/*
	 * Group commit: responses produced while the store has an open group wait in the engine, and
	 * commit_ev (the lowest priority, so it runs after every I/O callback of the loop iteration) makes
	 * the group durable and releases them.
	 */
	struct event *commit_ev;
	/* Shared timer queues (libevent common timeouts): O(1) arming for many connections. */
	const struct timeval *tv_handshake;
	const struct timeval *tv_request;
	const struct timeval *tv_idle;
	const struct timeval *tv_closing;
	struct budget *budget;		/* unsent and unparsed bytes of all connections (server.max_buffered) */
	TAILQ_HEAD(, conn) conns;
	unsigned nconns;
	struct sources *sources;	/* per client address: counts, rate buckets, handshakes (sources.h) */
	/*
	 * Refusals are logged at once, then counted and summed up every REFUSE_LOG_SEC while they go on, so
	 * that a flood makes one line per interval, not one per connection.
	 */
	struct event *refuse_timer;
	/*
	 * tls.crl_file is looked at every tls.crl_check_interval: a change of inode, size or mtime since the
	 * last load (or failed load) rebuilds the TLS context.
	 */
	struct event *crl_timer;
	struct event *cert_timer;	/* daily: warns of certificates that expire soon (server_cert_report) */
	struct crl_sig { dev_t dev; ino_t ino; off_t size; struct timespec mtime; bool exists; } crl_sig;
	int64_t crl_expired_warned_ms;	/* last "past its next update" warning, rate-limited */
	struct log_limit handshake_log;	/* failed and unfinished handshakes: a scan is not logged line by line */
	uint64_t refusals[6];		/* by enum server_refusal (server.c) */
	char refuse_last[6][48];	/* the address of the last of each */
	uint64_t next_conn_id;
	struct server_stats stats;
	int exit_status;
	struct metrics metrics;		/* live counters (metrics.h), shown by kmipctl status and /metrics */
	struct status_admin *admin;	/* admin.socket, or NULL */
	struct metrics_http *http;	/* metrics.listen, or NULL */
	struct notify notify;		/* $NOTIFY_SOCKET (systemd Type=notify), WATCHDOG=1 */
	struct server_pending *pending;	/* a reload built by server_reload_prepare(), not applied yet */
	/*
	 * server.workers > 1 (core/workers.h). In a worker: its place (index, the master's control socket,
	 * its shared slot); NULL in the single process and the master. In the master: its workers, whose
	 * slots status.c and metrics.c sum; NULL elsewhere. The master's struct server has no listeners,
	 * TLS context, store or engine: only the loop, the config, admin.socket, metrics.listen and notify.
	 */
	struct server_worker *worker;
	struct workers *workers;
};

/*
 * Sets up listeners, TLS, signals and timers from cfg. A reload reads config_path again with the overrides,
 * relative paths under base_dir; all three must outlive srv. Returns 0, or -1 after logging why.
 */
int server_init(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides) __attribute__((warn_unused_result));
/*
 * The same for worker w of the master (core/workers.c): the listeners are the master's, inherited bound
 * and listening; admin.socket, metrics.listen and systemd notify stay with the master. Returns 0, or -1
 * after logging why.
 */
int server_init_worker(struct server *srv, struct kmipd_config *cfg, const char *config_path,
    const char *base_dir, char *const *overrides, size_t noverrides, struct server_worker *w)
    __attribute__((warn_unused_result));
/*
 * Opens a TCP socket bound to addr:port (an IPv4 or IPv6 literal) and listening, non-blocking and
 * close-on-exec; its name ("127.0.0.1:5696", "[::1]:5696") in name. Returns the descriptor, or -1 after
 * logging why.
 */
int server_bind(const char *addr, unsigned port, char *name, size_t namesize) __attribute__((warn_unused_result));
/* Switches to server.user / server.group after the listeners are bound. Returns 0, or -1 after logging. */
int server_drop_privileges(const struct kmipd_config *cfg) __attribute__((warn_unused_result));
/*
 * A reload in two steps (the SIGHUP reload of the single process runs both; the master runs them in every
 * worker, all or none): prepare loads the config and builds and checks everything from it, keeping it
 * pending (0, or -1 with a cause after logging why); finish applies it (commit) or drops it, noting the
 * outcome (cause when not committed) in the metrics.
 */
int server_reload_prepare(struct server *srv, char **cause) __attribute__((warn_unused_result));
void server_reload_finish(struct server *srv, bool commit, const char *cause);
/*
 * Opens the store, starts the key-generation workers (after privileges are dropped) and the engine.
 * 0, or -1 after logging.
 */
int server_open_store(struct server *srv) __attribute__((warn_unused_result));
/* Runs the loop until a stop signal has drained the connections; returns the exit status. */
int server_run(struct server *srv);
/* The log level a log.level setting means. */
enum log_level server_log_level(enum config_log_level l);
/*
 * Sets what a struct server starts from (zeroed before): its config (owned from then on), where the config
 * came from for reloads, the start time, no notify socket yet.
 */
void server_set_origin(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides);
struct tls_config;
/* Fills t with the tls.* settings of cfg; t borrows cfg's strings (nothing to free). */
void tls_config_from(struct tls_config *t, const struct kmipd_config *cfg);
/* Frees everything server_init() made; the config too. */
void server_free(struct server *srv);
/* Called by a closing connection so the server can resume accepting or finish a shutdown. */
void server_conn_closed(struct server *srv);
/* The name of refusal reason r (enum server_refusal in server.c) for the status, or NULL past the last. */
const char *server_refusal_name(unsigned r);
/* Called when a connection leaves its handshake: at max_connections, accepting may have to stop. */
void server_handshake_ended(struct server *srv);
/*
 * Whether a client whose handshake (full or resumed) completed may be served, or may stay at a reload: its
 * certificate against the current CRLs (tls.crl_file), then its identity against access.deny and
 * access.allow. Returns 0, or -1 with the reason in why.
 */
int server_admit(struct server *srv, struct ssl_st *ssl, const char *who, char *why, size_t whysize)
    __attribute__((warn_unused_result));
/*
 * Checks that the TLS files of cfg build a working context (kmipd -t) and warns, as a start does, of
 * certificates that expire within 30 days. Returns 0, or -1 and a cause.
 */
int server_check_tls(const struct kmipd_config *cfg, char **cause) __attribute__((warn_unused_result));
/*
 * Whether the open-files limit holds server.max_connections plus what the server itself opens. At start
 * (raise set) the soft limit is raised towards the hard one as far as needed; what still falls short is
 * logged as a warning, which is all kmipd -t (raise unset) does.
 */
void server_check_nofile(const struct kmipd_config *cfg, bool raise);

#endif
