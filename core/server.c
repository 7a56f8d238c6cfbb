/*
 * The server: listeners, signals, reload and shutdown around one libevent loop.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/clock.h"
#include "core/budget.h"
#include "core/cluster.h"
#include "core/conn.h"
#include "core/engine/access.h"
#include "core/engine/audit.h"
#include "core/engine/engine.h"
#include "core/keygen.h"
#include "core/log.h"
#include "core/server.h"
#include "core/status.h"
#include "core/sources.h"
#include "core/workers.h"
#include "store/store.h"
#include "tls/tls.h"

#define ACCEPT_BACKOFF_SEC	1	/* after EMFILE/ENFILE, pause accepting this long */
/*
 * libevent's listener accepts until the queue is empty; under a flood of connections (each refused at
 * once, or each starting a handshake) that could take the loop for seconds. After this many accepts the
 * listeners pause for one loop turn, so every ready connection runs in between.
 */
#define ACCEPTS_PER_TURN	32
#define CLOSING_TIMEOUT_SEC	5	/* time to flush a last response before closing */
#define LISTEN_BACKLOG		1024
#define CRL_WARN_EVERY_MS	(3600 * 1000)	/* an expired CRL is reported at most this often */
#define CERT_WARN_DAYS		30	/* certificates expiring sooner are warned of, daily */
#define NOFILE_RESERVE		64	/* descriptors besides connections: listeners, store, audit, logs */
#define REFUSE_LOG_SEC		10	/* refusals under a flood: one summary line per this many seconds */
/* Event priorities: I/O and timers run at the default (middle); the group commit runs last. */
#define PRIORITIES		3
#define PRIORITY_COMMIT		2

static void server_update_accepting(struct server *srv);

/* Switches to server.user / server.group; see server.h. */
int
server_drop_privileges(const struct kmipd_config *cfg)
{
	struct passwd *pw = NULL;
	struct group *gr;
	gid_t gid;

	if (cfg->server.user == NULL && cfg->server.group == NULL)
		return 0;
	if (cfg->server.user != NULL && (pw = getpwnam(cfg->server.user)) == NULL) {
		log_warnx("server.user: no user \"%s\"", cfg->server.user);
		return -1;
	}
	gid = pw != NULL ? pw->pw_gid : getgid();
	if (cfg->server.group != NULL) {
		if ((gr = getgrnam(cfg->server.group)) == NULL) {
			log_warnx("server.group: no group \"%s\"", cfg->server.group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	/* A worker whose master switched before forking it: already there, and no longer allowed to switch. */
	if (getgid() == gid && getegid() == gid && (pw == NULL || (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)))
		return 0;
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0) {
		log_warn("cannot switch to group %u", (unsigned)gid);
		return -1;
	}
	if (pw != NULL && setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		log_warn("cannot switch to user %s", cfg->server.user);
		return -1;
	}
	log_info("running as uid %u gid %u", (unsigned)getuid(), (unsigned)getgid());
	return 0;
}

/* What every struct server starts from, a worker's, the single process's and the master's; see server.h. */
void
server_set_origin(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides)
{
	srv->cfg = cfg;
	srv->config_path = config_path;
	srv->base_dir = base_dir;
	srv->overrides = overrides;
	srv->noverrides = noverrides;
	srv->metrics.started = time(NULL);
	srv->metrics.started_ms = clock_ms();
	srv->notify.fd = -1;
}

/* Fills a tls_config that borrows the strings of cfg (nothing to free); see server.h. */
void
tls_config_from(struct tls_config *t, const struct kmipd_config *cfg)
{
	tls_config_init(t);
	t->cert_file = cfg->tls.cert_file;
	t->key_file = cfg->tls.key_file;
	t->p12_file = cfg->tls.p12_file;
	t->p12_password = cfg->tls.p12_password;
	t->ecdsa_cert_file = cfg->tls.ecdsa_cert_file;
	t->ecdsa_key_file = cfg->tls.ecdsa_key_file;
	t->clients_ca_cert_file = cfg->tls.clients_ca_cert_file;
	t->min_version = cfg->tls.min_version == CONFIG_TLS_1_3 ? "1.3" : "1.2";
	t->ciphers = cfg->tls.ciphers;
	t->ciphersuites = cfg->tls.ciphersuites;
	t->session_cache_size = cfg->tls.session_cache_size;
	t->session_timeout = cfg->tls.session_timeout;
	t->session_tickets = cfg->tls.session_tickets;
	t->session_max_size = (long)cfg->tls.session_max_size;
	t->ticket_key_file = cfg->tls.ticket_key_file;
	t->ticket_key_rotation = cfg->tls.ticket_key_rotation;
	t->verify_depth = (int)cfg->tls.verify_depth;
	t->crl_file = cfg->tls.crl_file;
	t->crl_refuse_expired = cfg->tls.crl_expired == CONFIG_CRL_EXPIRED_REFUSE;
}

/* True when list holds s. The lists are short (at most 1024 entries) and read once per handshake. */
static bool
list_has(const struct config_list *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

int
server_admit(struct server *srv, struct ssl_st *ssl, const char *who, char *why, size_t whysize)
{
	char *cause = NULL;

	if (tls_server_peer_check(srv->tls, ssl, &cause) != 0) {
		snprintf(why, whysize, "%s", cause != NULL ? cause : "certificate refused by tls.crl_file");
		free(cause);
		return -1;
	}
	if (list_has(&srv->cfg->access.deny, who)) {
		snprintf(why, whysize, "in access.deny");
		return -1;
	}
	if (srv->cfg->access.allow.count > 0 && !list_has(&srv->cfg->access.allow, who)) {
		snprintf(why, whysize, "not in access.allow");
		return -1;
	}
	return 0;
}

/* Reads what identifies the current version of tls.crl_file: inode, size, mtime (or that it is missing). */
static void
crl_sig_read(const struct kmipd_config *cfg, struct crl_sig *sig)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	if (cfg->tls.crl_file == NULL || stat(cfg->tls.crl_file, &st) != 0)
		return;
	sig->exists = true;
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
}

/* True when two signatures differ. */
static bool
crl_sig_changed(const struct crl_sig *a, const struct crl_sig *b)
{
	return a->exists != b->exists || a->dev != b->dev || a->ino != b->ino || a->size != b->size ||
	    a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec;
}

/* Says how many CRLs the running context holds, and warns (at most hourly) about those past their next update. */
static void
server_crl_report(struct server *srv, bool loaded)
{
	int count, expired;
	int64_t now = clock_ms();

	tls_server_crl_info(srv->tls, &count, &expired);
	if (loaded && count > 0)
		log_info("tls.crl_file %s: %d CRLs loaded", srv->cfg->tls.crl_file, count);
	if (expired == 0)
		return;
	if (!loaded && srv->crl_expired_warned_ms != 0 && now - srv->crl_expired_warned_ms < CRL_WARN_EVERY_MS)
		return;
	srv->crl_expired_warned_ms = now;
	log_warnx("tls.crl_file %s: %d of %d CRLs are past their next update; %s until a new CRL is installed",
	    srv->cfg->tls.crl_file, expired, count, srv->cfg->tls.crl_expired == CONFIG_CRL_EXPIRED_REFUSE ?
	    "their CAs' clients are refused (tls.crl_expired = refuse)" :
	    "they still revoke what they list and clients are accepted (tls.crl_expired = warn)");
}

/* After the TLS context or the lists changed: closes the open connections no longer admitted. */
static void
server_recheck_conns(struct server *srv)
{
	struct conn *c, *next;
	unsigned closed = 0;

	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (conn_recheck(c))
			closed++;
	}
	if (closed > 0)
		log_info("reload: closed %u connections whose clients are no longer admitted", closed);
}

/* (Re)arms the timer that looks at tls.crl_file, at the running interval. */
static void
server_arm_crl_timer(struct server *srv)
{
	struct timeval tv = { .tv_sec = srv->cfg->tls.crl_check_interval, .tv_usec = 0 };

	evtimer_del(srv->crl_timer);
	if (srv->cfg->tls.crl_file != NULL)
		evtimer_add(srv->crl_timer, &tv);
}

static void server_audit_tls(struct server *srv, const char *event);

/*
 * Every tls.crl_check_interval: when tls.crl_file changed since it was last read, rebuilds the TLS context
 * from the running configuration (build-check-swap: a bad file keeps the running CRLs and says why) and
 * closes the connections of certificates it now revokes.
 */
static void
crl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct tls_config t;
	struct crl_sig sig;
	char *cause = NULL;

	(void)fd;
	(void)what;
	crl_sig_read(srv->cfg, &sig);
	if (crl_sig_changed(&sig, &srv->crl_sig)) {
		/* Recorded whatever the outcome, so a bad file is reported once, not every interval. */
		srv->crl_sig = sig;
		log_info("tls.crl_file %s changed: reloading it", srv->cfg->tls.crl_file);
		tls_config_from(&t, srv->cfg);
		if (tls_server_reload(srv->tls, &t, &cause) != 0) {
			log_warnx("CRL reload failed, keeping the running CRLs: %s", cause ? cause : "?");
			free(cause);
		} else {
			server_crl_report(srv, true);
			server_audit_tls(srv, "crl_reload");
			server_recheck_conns(srv);
		}
	} else
		server_crl_report(srv, false);
	server_arm_crl_timer(srv);
}

/*
 * Logs the server certificate the TLS context serves (subject, serial, expiry) when loaded is set, and
 * warns when it or a client CA certificate expires within CERT_WARN_DAYS: at start, after each reload and
 * once a day (cert_timer), so the warning keeps coming until someone replaces the certificate.
 */
static void
server_cert_report(const struct tls_server *tls, bool loaded)
{
	static struct tls_server_desc d;	/* 2 KiB: not on the stack; one thread */

	tls_server_describe(tls, &d);
	if (loaded && strcmp(d.ecdsa_serial, "none") == 0)
		log_info("server certificate %s, serial %s, expires %s", d.server_subject, d.server_serial,
		    d.server_not_after);
	else if (loaded)
		log_info("server certificate %s, serial %s, expires %s; ECDSA certificate %s, serial %s, expires %s",
		    d.server_subject, d.server_serial, d.server_not_after, d.ecdsa_subject, d.ecdsa_serial,
		    d.ecdsa_not_after);
	if (d.server_days < CERT_WARN_DAYS)
		log_warnx("the server certificate %s (serial %s) expires in %ld day%s, on %s: replace it and "
		    "reload", d.server_subject, d.server_serial, d.server_days, d.server_days == 1 ? "" : "s",
		    d.server_not_after);
	if (d.ecdsa_days < CERT_WARN_DAYS)
		log_warnx("the ECDSA server certificate %s (serial %s) of tls.ecdsa_cert_file expires in %ld day%s, "
		    "on %s: replace it and reload", d.ecdsa_subject, d.ecdsa_serial, d.ecdsa_days,
		    d.ecdsa_days == 1 ? "" : "s", d.ecdsa_not_after);
	if (d.ca_days < CERT_WARN_DAYS)
		log_warnx("a client CA certificate of tls.clients_ca_cert_file expires in %ld day%s: clients "
		    "it signed will be refused then", d.ca_days, d.ca_days == 1 ? "" : "s");
}

/* Checks that the TLS files of cfg make a working context (for kmipd -t). */
int
server_check_tls(const struct kmipd_config *cfg, char **cause)
{
	struct tls_server *tls;
	struct tls_config t;

	tls_config_from(&t, cfg);
	if (tls_server_new(&t, NULL, &tls, cause) != 0)
		return -1;
	server_cert_report(tls, false);
	tls_server_free(tls);
	return 0;
}

/* See server.h. */
void
server_check_nofile(const struct kmipd_config *cfg, bool raise)
{
	rlim_t reserve = NOFILE_RESERVE + 2 * (rlim_t)cfg->keygen.workers, lim;
	rlim_t need = (rlim_t)cfg->server.max_connections + reserve;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (raise && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("setrlimit(RLIMIT_NOFILE, %llu)", (unsigned long long)rl.rlim_cur);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* -t looks at the hard limit: a start raises the soft one up to it. */
	lim = raise ? rl.rlim_cur : rl.rlim_max;
	if (lim != RLIM_INFINITY && lim < need)
		log_warnx("the open-files limit (%llu) is below server.max_connections (%u) plus %llu for the "
		    "server itself: connections past %llu will be refused; raise LimitNOFILE= in the unit (or "
		    "ulimit -n), or lower server.max_connections", (unsigned long long)lim,
		    cfg->server.max_connections, (unsigned long long)reserve,
		    (unsigned long long)(lim > reserve ? lim - reserve : 0));
}

/* (Re)creates the shared timer queues from the configured deadlines. */
static void
server_set_timeouts(struct server *srv)
{
	const struct config_server *s = &srv->cfg->server;
	struct timeval tv = { 0, 0 };

	tv.tv_sec = s->handshake_timeout;
	srv->tv_handshake = event_base_init_common_timeout(srv->base, &tv);
	tv.tv_sec = s->request_timeout;
	srv->tv_request = event_base_init_common_timeout(srv->base, &tv);
	tv.tv_sec = s->idle_timeout;
	srv->tv_idle = s->idle_timeout > 0 ? event_base_init_common_timeout(srv->base, &tv) : NULL;
	tv.tv_sec = CLOSING_TIMEOUT_SEC;
	srv->tv_closing = event_base_init_common_timeout(srv->base, &tv);
}

/* The log level a log.level setting means; see server.h. */
enum log_level
server_log_level(enum config_log_level l)
{
	switch (l) {
	case CONFIG_LOG_ERROR:
		return LOG_LEVEL_ERROR;
	case CONFIG_LOG_WARN:
		return LOG_LEVEL_WARN;
	case CONFIG_LOG_DEBUG:
		return LOG_LEVEL_DEBUG;
	default:
		return LOG_LEVEL_INFO;
	}
}

/* Why a connection was refused or closed at accept; indexes srv->refusals. */
enum server_refusal {
	REFUSE_PER_SOURCE,	/* server.max_connections_per_source */
	REFUSE_RATE,		/* server.handshake_rate_per_source */
	REFUSE_TABLE_FULL,	/* server.max_sources */
	REFUSE_FULL,		/* server.max_connections, none of them handshaking */
	REFUSE_EVICTED,		/* a handshaking connection closed to make room */
	REFUSE_NO_MEMORY,	/* no memory to track the address */
	REFUSE_NREASONS
};
_Static_assert(REFUSE_NREASONS == sizeof(((struct server *)0)->refusals) / sizeof(uint64_t), "refusals");
_Static_assert(REFUSE_NREASONS <= METRICS_REFUSE_STOPPING, "metrics.refused");

/* The refusal's name in the status and metrics; see server.h. */
const char *
server_refusal_name(unsigned r)
{
	static const char *const names[REFUSE_NREASONS] = { [REFUSE_PER_SOURCE] = "per_source",
	    [REFUSE_RATE] = "rate", [REFUSE_TABLE_FULL] = "sources_full", [REFUSE_FULL] = "max_connections",
	    [REFUSE_EVICTED] = "evicted", [REFUSE_NO_MEMORY] = "no_memory" };

	return r < REFUSE_NREASONS ? names[r] : NULL;
}

/* What a refusal means, with the limit that made it, for the log. */
static void
refusal_text(const struct server *srv, enum server_refusal r, char *buf, size_t size)
{
	const struct config_server *cs = &srv->cfg->server;

	switch (r) {
	case REFUSE_PER_SOURCE:
		snprintf(buf, size, "refused: that address holds server.max_connections_per_source (%u) "
		    "connections", cs->max_connections_per_source);
		break;
	case REFUSE_RATE:
		snprintf(buf, size, "refused: over server.handshake_rate_per_source (%u/s, burst %u)",
		    cs->handshake_rate_per_source, cs->handshake_burst_per_source);
		break;
	case REFUSE_TABLE_FULL:
		snprintf(buf, size, "refused: server.max_sources (%u) other addresses hold connections",
		    cs->max_sources);
		break;
	case REFUSE_FULL:
		snprintf(buf, size, "refused: server.max_connections (%u) open, none of them handshaking",
		    cs->max_connections);
		break;
	case REFUSE_NO_MEMORY:
		snprintf(buf, size, "refused: out of memory tracking client addresses");
		break;
	default:
		snprintf(buf, size, "handshaking connection closed to make room: server.max_handshakes (%u) or "
		    "server.max_connections (%u) reached, and that address holds the most handshakes",
		    cs->max_handshakes, cs->max_connections);
		break;
	}
}

/*
 * Notes a refused (or evicted) connection from addr. The first of a quiet period is logged at once; while
 * they go on, they are counted and refuse_timer_cb logs the counts every REFUSE_LOG_SEC.
 */
static void
server_refused(struct server *srv, enum server_refusal r, const char *addr)
{
	struct timeval tv = { REFUSE_LOG_SEC, 0 };
	char text[256];

	srv->metrics.refused[r]++;
	if (r == REFUSE_EVICTED)
		srv->stats.evicted++;
	else
		srv->stats.refused++;
	if (evtimer_pending(srv->refuse_timer, NULL)) {
		srv->refusals[r]++;
		snprintf(srv->refuse_last[r], sizeof(srv->refuse_last[r]), "%s", addr);
		return;
	}
	refusal_text(srv, r, text, sizeof(text));
	log_warnx("connection from %s %s; more are counted and logged every %d s", addr, text, REFUSE_LOG_SEC);
	evtimer_add(srv->refuse_timer, &tv);
}

/* Logs what was refused in the last interval, and goes on counting while refusals continue. */
static void
refuse_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { REFUSE_LOG_SEC, 0 };
	char text[256];
	bool any = false;
	int r;

	(void)fd;
	(void)what;
	for (r = 0; r < REFUSE_NREASONS; r++) {
		if (srv->refusals[r] == 0)
			continue;
		refusal_text(srv, (enum server_refusal)r, text, sizeof(text));
		log_warnx("in the last %d s: %llu connections %s (the last from %s)", REFUSE_LOG_SEC,
		    (unsigned long long)srv->refusals[r], text, srv->refuse_last[r]);
		srv->refusals[r] = 0;
		any = true;
	}
	/* Quiet for a whole interval: the next refusal is logged at once again. */
	if (any)
		evtimer_add(srv->refuse_timer, &tv);
}

/*
 * A new socket: refused when its address is over a per-source limit; when max_handshakes or
 * max_connections is reached, the oldest handshaking connection of the address holding the most handshakes
 * is closed to make room, so that handshakes never crowd out authenticated clients and one address's idle
 * sockets cannot keep another's handshake waiting.
 */
static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	const struct config_server *cs = &srv->cfg->server;
	struct source *src;
	struct conn *c;
	char addr[48];

	(void)evl;
	srv->stats.accepted++;
	if (++srv->accept_burst >= ACCEPTS_PER_TURN && !srv->accept_yield) {
		static const struct timeval now = { 0, 0 };

		/* libevent's accept loop stops once the listener is disabled: the rest waits a turn. */
		srv->accept_yield = true;
		server_update_accepting(srv);
		evtimer_add(srv->accept_resume, &now);
	}
	if (srv->stopping) {
		srv->stats.refused++;
		srv->metrics.refused[METRICS_REFUSE_STOPPING]++;
		close(fd);
		return;
	}
	switch (sources_admit(srv->sources, sa, cs, clock_ms(), &src)) {
	case SOURCE_OK:
		break;
	case SOURCE_TOO_MANY:
		server_refused(srv, REFUSE_PER_SOURCE, source_name(src));
		close(fd);
		return;
	case SOURCE_RATE:
		server_refused(srv, REFUSE_RATE, source_name(src));
		close(fd);
		return;
	case SOURCE_TABLE_FULL:
		sources_addr_name(sa, addr, sizeof(addr));
		server_refused(srv, REFUSE_TABLE_FULL, addr);
		close(fd);
		return;
	default:
		sources_addr_name(sa, addr, sizeof(addr));
		server_refused(srv, REFUSE_NO_MEMORY, addr);
		close(fd);
		return;
	}
	if (srv->nconns >= cs->max_connections || sources_handshaking(srv->sources) >= cs->max_handshakes) {
		struct conn *victim = sources_victim(srv->sources);

		if (victim == NULL) {
			/* Accepted before the listener was paused: refuse rather than exceed the limit. */
			server_refused(srv, REFUSE_FULL, source_name(src));
			close(fd);
			server_update_accepting(srv);
			return;
		}
		server_refused(srv, REFUSE_EVICTED, source_name(victim->src));
		victim->tls_failed = true;
		conn_close_now(victim, LOG_LEVEL_DEBUG, "closed to make room for a new connection: %u handshakes in "
		    "progress, %u of them from this address, the most (server.max_handshakes %u)",
		    sources_handshaking(srv->sources), source_handshakes(victim->src), cs->max_handshakes);
	}
	if ((c = conn_new(srv, fd, sa, salen)) != NULL)
		sources_attach(src, c);
	server_update_accepting(srv);
}

/* accept() failed: on descriptor exhaustion pause accepting and retry on a timer, else log and go on. */
static void
accept_error_cb(struct evconnlistener *evl, void *arg)
{
	struct server *srv = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { ACCEPT_BACKOFF_SEC, 0 };

	(void)evl;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		if (!srv->accept_backoff)
			log_warnx("accept: %s; pausing accepts for %d s (%u connections open)", strerror(err),
			    ACCEPT_BACKOFF_SEC, srv->nconns);
		srv->accept_backoff = true;
		server_update_accepting(srv);
		evtimer_add(srv->accept_retry, &tv);
		return;
	}
	log_warnx("accept: %s", strerror(err));
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->accept_backoff = false;
	server_update_accepting(srv);
}

/*
 * Enables the listeners when a connection may be accepted, disables them otherwise. At max_connections
 * they stay enabled while a connection is handshaking: a new one takes its place (accept_cb).
 */
static void
server_update_accepting(struct server *srv)
{
	bool want = !srv->stopping && !srv->accept_backoff && !srv->accept_yield &&
	    (srv->nconns < srv->cfg->server.max_connections || sources_handshaking(srv->sources) > 0);
	size_t i;

	if (want == srv->accepting)
		return;
	for (i = 0; i < srv->nlisteners; i++) {
		if (want)
			evconnlistener_enable(srv->listeners[i].evl);
		else
			evconnlistener_disable(srv->listeners[i].evl);
	}
	if (!want && !srv->stopping && !srv->accept_backoff && !srv->accept_yield)
		log_warnx("max_connections (%u) reached, all past their handshake: not accepting until one closes",
		    srv->cfg->server.max_connections);
	else if (want && srv->accept_burst > 0)	/* not the end of a one-turn yield */
		log_debug("accepting connections again (%u open)", srv->nconns);
	srv->accepting = want;
}

/* The loop turn after a burst of accepts: accept again. */
static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->accept_yield = false;
	srv->accept_burst = 0;
	server_update_accepting(srv);
}

/* A connection closed: accept again if that was what held us back, or finish a shutdown. */
void
server_conn_closed(struct server *srv)
{
	if (srv->stopping) {
		if (srv->nconns == 0)
			event_base_loopexit(srv->base, NULL);
		return;
	}
	server_update_accepting(srv);
}

/* A handshake ended: with max_connections open and none handshaking any more, stop accepting. */
void
server_handshake_ended(struct server *srv)
{
	if (!srv->stopping)
		server_update_accepting(srv);
}

/* Opens a bound, listening socket on addr:port; see server.h. */
int
server_bind(const char *addr, unsigned port, char *name, size_t namesize)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd = -1, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			goto bad_addr;
		sslen = sizeof(*s6);
		snprintf(name, namesize, "[%s]:%u", addr, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			goto bad_addr;
		sslen = sizeof(*s4);
		snprintf(name, namesize, "%s:%u", addr, port);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", name);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" and "0.0.0.0" may both be listed: keep IPv6 sockets to IPv6 so both can bind. */
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		log_warn("listen %s: bind", name);
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		log_warn("listen %s", name);
		goto fail;
	}
	log_debug("bound %s", name);
	return fd;
bad_addr:
	log_warnx("listen: \"%s\" is not an IPv4 or IPv6 address", addr);
	return -1;
fail:
	close(fd);
	return -1;
}

/*
 * Serves the listening socket fd (named name) from the loop; it is closed when the listener is freed, or
 * here on failure. Returns 0, or -1 after logging why.
 */
static int
server_listen_fd(struct server *srv, int fd, const char *name, struct listener *l)
{
	snprintf(l->name, sizeof(l->name), "%s", name);
	/* A backlog of 0: the socket listens already (server_bind), libevent does not call listen() again. */
	l->evl = evconnlistener_new(srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
	    fd);
	if (l->evl == NULL) {
		log_warn("listen %s", l->name);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l->evl, accept_error_cb);
	return 0;
}

/* Opens one listening socket on addr:port. Returns 0, or -1 after logging why. */
static int
server_listen_one(struct server *srv, const char *addr, unsigned port, struct listener *l)
{
	char name[sizeof(l->name)];
	int fd;

	if ((fd = server_bind(addr, port, name, sizeof(name))) == -1)
		return -1;
	return server_listen_fd(srv, fd, name, l);
}

/* SIGTERM/SIGINT: stop accepting, close idle connections, let busy ones finish within shutdown_timeout. */
static void
server_stop(struct server *srv, int sig)
{
	struct timeval tv = { srv->cfg->server.shutdown_timeout, 0 };
	struct conn *c, *next;
	size_t i;

	if (srv->stopping) {
		log_info("signal %d: already stopping (%u connections left)", sig, srv->nconns);
		return;
	}
	log_info("signal %d: stopping; %u connections open", sig, srv->nconns);
	srv->stopping = true;
	notify_send(&srv->notify, "STOPPING=1");
	server_update_accepting(srv);
	for (i = 0; i < srv->nlisteners; i++) {
		evconnlistener_free(srv->listeners[i].evl);
		srv->listeners[i].evl = NULL;
	}
	srv->nlisteners = 0;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_drain(c);
	}
	if (srv->nconns == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	evtimer_add(srv->shutdown_timer, &tv);
}

static void
shutdown_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	(void)fd;
	(void)what;
	log_warnx("shutdown: %u connections still busy after %u s; closing them", srv->nconns,
	    srv->cfg->server.shutdown_timeout);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close_now(c, LOG_LEVEL_WARN, "server shutdown deadline");
	event_base_loopexit(srv->base, NULL);
}

static void server_check_reseal(struct server *srv);

/*
 * Reads the keyring again with the master key of the new config: a new master key (with the previous one
 * named) re-wraps the data keys; a data or recovery key added by kmipctl is picked up. The store then uses
 * the new keys, whatever happens to the rest of the reload.
 */
static int
server_reload_keys(struct server *srv, const struct kmipd_config *next, char **cause)
{
	struct masterkey nk;

	if (!masterkey_changed(&srv->cfg->store, &next->store)) {
		if (store_keys_reload(srv->store, srv->keys.master, srv->keys.previous, cause) != 0)
			return -1;
		server_check_reseal(srv);
		return 0;
	}
	if (masterkey_load(&next->store, NULL, &nk, cause) != 0)
		return -1;
	if (store_keys_reload(srv->store, nk.master, nk.previous, cause) != 0) {
		masterkey_free(&nk);
		return -1;
	}
	masterkey_free(&srv->keys);
	srv->keys = nk;
	if (nk.master != NULL)
		log_warnx("store: master key now %s%s%s", store_kek_describe(nk.master),
		    nk.previous != NULL ? "; the data keys are no longer wrapped under " : "",
		    nk.previous != NULL ? store_kek_describe(nk.previous) : "");
	server_check_reseal(srv);
	return 0;
}

/* Once a day: the certificate expiry warnings of server_cert_report. */
static void
cert_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	const struct timeval day = { .tv_sec = 24 * 3600, .tv_usec = 0 };

	(void)fd;
	(void)what;
	server_cert_report(srv->tls, false);
	evtimer_add(srv->cert_timer, &day);
}

/*
 * Records a start, a reload or a CRL reload (event) in the audit trail with what the TLS context loaded:
 * the server certificate's serial, the client CA certificates' serials, each CRL's issuer, CRL Number and
 * Next Update (bounded by tls), and the context generation.
 */
static void
server_audit_tls(struct server *srv, const char *event)
{
	static struct tls_server_desc d;	/* 2 KiB: not on the stack; one thread */
	char gen[32];
	struct audit_field f[6];

	if (srv->audit == NULL)
		return;
	tls_server_describe(srv->tls, &d);
	snprintf(gen, sizeof(gen), "%lu", tls_server_generation(srv->tls));
	f[0].key = "config";
	f[0].value = srv->config_path != NULL ? srv->config_path : "(defaults)";
	f[1].key = "server_cert_serial";
	f[1].value = d.server_serial;
	f[2].key = "client_ca_serials";
	f[2].value = d.ca_serials;
	f[3].key = "crls";
	f[3].value = srv->cfg->tls.crl_file != NULL ? d.crls : NULL;
	f[4].key = "tls_generation";
	f[4].value = gen;
	f[5].key = "ecdsa_cert_serial";
	f[5].value = strcmp(d.ecdsa_serial, "none") != 0 ? d.ecdsa_serial : NULL;
	if (audit_note(srv->audit, event, f, 6) != 0)
		log_debug("audit: the %s was not recorded", event);
}

/* A reload built and checked whole, not yet applied (server_reload_prepare). */
struct server_pending {
	struct kmipd_config *next;
	struct access_policy *policy;
	struct audit *audit;
	struct tls_server_pending *tls;	/* the new context and ticket keys (tls_server_prepare) */
	struct crl_sig crl_sig;
};

/* Frees a prepared reload that was not applied; NULL is ignored. */
static void
server_pending_free(struct server_pending *p)
{
	if (p == NULL)
		return;
	tls_server_abort(p->tls);
	audit_close(p->audit);
	access_policy_free(p->policy);
	config_free(p->next);
	free(p);
}

/*
 * The build step of a reload: loads the config again and builds the access policy, the audit trail and the
 * TLS context from it, keeping them pending in srv until server_reload_finish(). Keys that need a restart
 * keep their running values. Returns 0, or -1 with a cause after logging why.
 */
int
server_reload_prepare(struct server *srv, char **cause)
{
	struct server_pending *p;
	struct tls_config t;

	server_pending_free(srv->pending);
	if ((srv->pending = p = calloc(1, sizeof(*p))) == NULL) {
		*cause = strdup("out of memory");
		log_warnx("reload failed, keeping the running configuration: out of memory");
		return -1;
	}
	if (config_load(srv->config_path, srv->overrides, srv->noverrides, &p->next, cause) != 0 ||
	    config_resolve_paths(p->next, srv->base_dir, cause) != 0) {
		log_warnx("reload failed, keeping the running configuration: %s", *cause ? *cause : "?");
		return -1;
	}
	if (config_reload_check(srv->cfg, p->next, cause) != 0) {
		log_warnx("reload: %s; those keep their running values until a restart", *cause ? *cause : "?");
		free(*cause);
		*cause = NULL;
		if (config_keep_restart_keys(p->next, srv->cfg, cause) != 0) {
			log_warnx("reload failed, keeping the running configuration: %s", *cause ? *cause : "?");
			return -1;
		}
	}
	if (access_policy_new(p->next, &p->policy, cause) != 0) {
		log_warnx("reload failed, keeping the running configuration: %s", *cause ? *cause : "?");
		return -1;
	}
	/* Reopened even when unchanged, so logrotate can move the file away before SIGHUP. */
	if (audit_open(p->next->audit.file, p->next->audit.syslog, &p->audit, cause) != 0) {
		log_warnx("reload failed, keeping the running configuration: %s", *cause ? *cause : "?");
		return -1;
	}
	audit_set_required(p->audit, p->next->audit.required);
	if (srv->store != NULL && server_reload_keys(srv, p->next, cause) != 0) {
		log_warnx("reload failed, keeping the running configuration and master key: %s", *cause ? *cause : "?");
		return -1;
	}
	tls_config_from(&t, p->next);
	/* Read before the file is, so a change made while it loads is seen at the next look. */
	crl_sig_read(p->next, &p->crl_sig);
	if (tls_server_prepare(srv->tls, &t, &p->tls, cause) != 0) {
		log_warnx("reload failed, keeping the running configuration and certificates: %s",
		    *cause ? *cause : "?");
		return -1;
	}
	return 0;
}

/*
 * The swap step of a reload: with commit set, applies everything server_reload_prepare() built, all at
 * once; otherwise drops it (cause: why, for the status). Existing connections keep their TLS context.
 */
void
server_reload_finish(struct server *srv, bool commit, const char *cause)
{
	struct server_pending *p = srv->pending;
	char *why = NULL;

	srv->pending = NULL;
	if (!commit || p == NULL) {
		server_pending_free(p);
		metrics_reload(&srv->metrics, cause != NULL ? cause : "?");
		notify_send(&srv->notify, "READY=1\nSTATUS=reload failed, running as before");
		return;
	}
	if (srv->engine != NULL)
		engine_reload(srv->engine, p->next, p->policy, p->audit);
	if (srv->cluster != NULL)
		cluster_reload(srv->cluster, p->next);
	if (srv->keygen != NULL)
		keygen_set_max_per_owner(srv->keygen, p->next->keygen.max_per_identity);
	audit_close(srv->audit);
	srv->audit = p->audit;
	access_policy_free(srv->policy);
	srv->policy = p->policy;
	config_free(srv->cfg);
	srv->cfg = p->next;
	tls_server_commit(srv->tls, p->tls);
	srv->crl_sig = p->crl_sig;
	free(p);
	log_set_level(server_log_level(srv->cfg->log.level));
	log_set_json(srv->cfg->log.format == CONFIG_LOG_JSON);
	/* Reopened even when unchanged: a log rotation renamed the file and sent this SIGHUP. */
	if (log_open_file(srv->cfg->log.file, &why) != 0) {
		log_warnx("reload: %s; logging where it did", why != NULL ? why : "log.file");
		free(why);
	}
	server_set_timeouts(srv);
	server_update_accepting(srv);
	server_arm_crl_timer(srv);
	log_info("reload done: TLS context generation %lu", tls_server_generation(srv->tls));
	server_cert_report(srv->tls, true);
	server_crl_report(srv, true);
	server_recheck_conns(srv);
	server_audit_tls(srv, "reload");
	metrics_reload(&srv->metrics, NULL);
	notify_send(&srv->notify, "READY=1\nSTATUS=reloaded");
}

/*
 * SIGHUP in the single process: loads the config again and rebuilds the TLS context. Nothing is applied
 * unless all of it succeeded (build, then swap).
 */
static void
server_reload(struct server *srv)
{
	char *cause = NULL;

	notify_reloading(&srv->notify);
	log_info("SIGHUP: reloading %s", srv->config_path ? srv->config_path : "the embedded defaults");
	if (server_reload_prepare(srv, &cause) == 0)
		server_reload_finish(srv, true, NULL);
	else
		server_reload_finish(srv, false, cause);
	free(cause);
}

/* End of a loop iteration's I/O: make the group durable, then release the responses that waited for it. */
static void
commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	(void)engine_commit(srv->engine);
}

/* The engine holds a response: make sure the group commit runs at the end of this loop iteration. */
static void
schedule_commit(void *arg)
{
	struct server *srv = arg;

	event_active(srv->commit_ev, EV_TIMEOUT, 0);
}

/* Logs the progress of a migration about every 5%. */
static void
migrate_progress(void *arg, uint64_t done, uint64_t total)
{
	uint64_t *last = arg;

	if (total == 0 || (done < total && (done - *last) * 20 < total))
		return;
	*last = done;
	log_info("store: encrypting records: %llu of %llu", (unsigned long long)done, (unsigned long long)total);
}

/*
 * One batch of re-encryption after a data key rotation, then again at the next loop iteration until done.
 * It has the group commit's low priority: it runs once the connections' events of the iteration are
 * handled, and its writes join the group like a request's.
 */
static void
reseal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct store_reseal_progress p;
	struct timeval next = { 0, 0 };
	char *cause = NULL;

	(void)fd;
	(void)what;
	if (srv->stopping) {
		srv->resealing = false;
		return;
	}
	if (store_reseal(srv->store, srv->cfg->store.reseal_batch, &p, &cause) != 0) {
		/* Nothing is lost: records stay readable under their old data key. Try again in a second. */
		log_warnx("store: re-encryption paused: %s", cause ? cause : "?");
		free(cause);
		next.tv_sec = 1;
		event_add(srv->reseal_ev, &next);
		return;
	}
	if (p.resealed > 0)
		schedule_commit(srv);
	if (p.done) {
		srv->resealing = false;
		log_info("store: every record is sealed under the current data key; older data keys retired");
		return;
	}
	/* Again next iteration, after the connections' I/O (same low priority as the group commit). */
	event_active(srv->reseal_ev, EV_TIMEOUT, 0);
}

/* Starts the background re-encryption when the keyring holds more than one data key. */
static void
server_check_reseal(struct server *srv)
{
	struct store_key_status ks;

	/* With several workers, worker 0 alone re-encrypts: the others would only contend for the writer. */
	if (srv->worker != NULL && srv->worker->index != 0)
		return;
	/* A cluster node's records are rewritten only through etcd: no re-encryption there (yet). */
	if (srv->cfg->store.backend == CONFIG_BACKEND_ETCD)
		return;
	if (srv->resealing || store_key_status(srv->store, &ks) != 0 || ks.data_keys <= 1)
		return;
	log_info("store: %u data keys: re-encrypting records under data key %u in the background", ks.data_keys,
	    (unsigned)ks.current_data_key);
	srv->resealing = true;
	event_active(srv->reseal_ev, EV_TIMEOUT, 0);
}

/* The clustered store must stop this node (etcd went backwards): no drain, nothing more is served. */
static void
cluster_fatal(void *arg)
{
	struct server *srv = arg;

	srv->exit_status = 1;
	event_base_loopbreak(srv->base);
}

/*
 * store.backend = etcd: catches up from etcd before anything is served (on a private event base), then
 * starts the node's watch and heartbeat on the server's loop.
 */
static int
server_open_cluster(struct server *srv)
{
	char *cause = NULL;

	if (cluster_catch_up(srv->cfg, srv->store, &cause) != 0 ||
	    (srv->cluster = cluster_new(srv->base, srv->cfg, srv->store, cluster_fatal, srv, &cause)) == NULL) {
		log_warnx("cluster: %s", cause != NULL ? cause : "cannot start");
		free(cause);
		return -1;
	}
	return 0;
}

/* Opens the store described by the config: keys, migration of a clear store, then the engine. */
int
server_open_store(struct server *srv)
{
	const struct config_store *c = &srv->cfg->store;
	struct engine_env env;
	struct store_options o;
	struct store_stats st;
	struct store_key_status ks;
	uint64_t last = 0;
	unsigned kg_workers, kg_pool;
	char *cause = NULL;

	if (masterkey_load(c, NULL, &srv->keys, &cause) != 0) {
		log_warnx("store %s: master key: %s", c->path, cause ? cause : "?");
		free(cause);
		return -1;
	}
	masterkey_store_options(c, &srv->keys, &o);
	/*
	 * The store always stages: the engine makes the group durable once per loop iteration, or after each
	 * request item when store.group_commit is off, so that a failed item's writes can always be dropped.
	 */
	o.group_commit = true;
	o.replica = c->backend == CONFIG_BACKEND_ETCD;
	if (store_open(&o, &srv->store, &cause) != 0) {
		log_warnx("store %s: %s", c->path, cause ? cause : "?");
		free(cause);
		return -1;
	}
	if (o.replica && server_open_cluster(srv) != 0)
		return -1;
	if (store_key_status(srv->store, &ks) != 0) {
		log_warnx("store %s: %s", c->path, store_last_error(srv->store));
		return -1;
	}
	if (ks.clear_pages) {
		log_warnx("store %s: encrypting the records of a store kept in clear until now, before serving",
		    c->path);
		if (store_migrate(&srv->store, &o, migrate_progress, &last, &cause) != 0) {
			log_warnx("store %s: encryption stopped: %s; nothing is lost, start again to go on", c->path,
			    cause ? cause : "?");
			free(cause);
			return -1;
		}
		log_warnx("store %s: encrypted and compacted; backups made before still hold keys in clear: "
		    "destroy them", c->path);
	}
	if (ks.encrypted && !ks.recovery)
		log_warnx("store %s: no recovery key: if the master key is lost, so are the keys (kmipctl "
		    "recovery-key create)", c->path);
	if (store_stat(srv->store, &st) == 0)
		log_info("store %s: %llu objects, map %llu MiB (max %llu MiB), sync %s%s, %s", c->path,
		    (unsigned long long)st.objects, (unsigned long long)(st.map_size >> 20),
		    (unsigned long long)(st.max_map_size >> 20), c->sync == CONFIG_SYNC_RELAXED ? "relaxed" : "full",
		    c->group_commit ? ", group commit" : "",
		    ks.encrypted ? "key material encrypted" : "key material in clear (store.encryption = false)");
	if (ks.encrypted)
		log_info("store %s: master key: %s", c->path, store_kek_describe(srv->keys.master));
	if ((srv->reseal_ev = event_new(srv->base, -1, 0, reseal_cb, srv)) == NULL ||
	    event_priority_set(srv->reseal_ev, PRIORITY_COMMIT) != 0) {
		log_warnx("cannot set up the re-encryption event");
		return -1;
	}
	server_check_reseal(srv);
	kg_workers = srv->cfg->keygen.workers;
	kg_pool = srv->cfg->keygen.pool_size;
	if (srv->worker != NULL) {
		/* Worker i of N runs its share, so that the totals keep the meaning the keys give them. */
		kg_workers = keygen_share(kg_workers, srv->worker->index, srv->worker->count, 1);
		kg_pool = keygen_share(kg_pool, srv->worker->index, srv->worker->count, 0);
		srv->worker->kg_workers = kg_workers;
		srv->worker->kg_pool_size = kg_pool;
	}
	if (keygen_start(srv->base, kg_workers, kg_pool, srv->cfg->keygen.timeout, &srv->keygen, &cause) != 0) {
		log_warnx("key generation workers: %s", cause ? cause : "?");
		free(cause);
		return -1;
	}
	keygen_set_max_per_owner(srv->keygen, srv->cfg->keygen.max_per_identity);
	log_info("%u key generation workers, pool of %u RSA-2048 key pairs", kg_workers, kg_pool);
	memset(&env, 0, sizeof(env));
	env.cfg = srv->cfg;
	env.policy = srv->policy;
	env.audit = srv->audit;
	env.store = srv->store;
	env.keygen = srv->keygen;
	env.schedule_commit = schedule_commit;
	env.schedule_arg = srv;
	env.item_done = metrics_item_done;
	env.item_arg = &srv->metrics;
	if (srv->cluster != NULL) {
		env.replicate = cluster_replicate;
		env.replicate_arg = srv->cluster;
		env.unavailable = cluster_unavailable;
		env.unavailable_arg = srv->cluster;
	}
	if ((srv->engine = engine_new(&env)) == NULL) {
		log_warnx("out of memory starting the engine");
		return -1;
	}
	if (srv->cluster != NULL)
		cluster_set_engine(srv->cluster, srv->engine);
	/* Serving from here: the store is open (a migration done), so this is the line to wait for. With
	 * workers, the master says it once all of them serve. */
	for (size_t i = 0; srv->worker == NULL && i < srv->nlisteners; i++)
		log_info("listening on %s", srv->listeners[i].name);
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (sig == SIGHUP && srv->worker != NULL)
		log_debug("SIGHUP ignored: a worker reloads when the master asks (send SIGHUP to the master)");
	else if (sig == SIGHUP)
		server_reload(srv);
	else
		server_stop(srv, (int)sig);
}

/* Sets up the single process's server (w NULL) or a worker's (w set); see server.h. */
static int
server_setup(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides, struct server_worker *w)
{
	const struct timeval day = { .tv_sec = 24 * 3600, .tv_usec = 0 };
	struct tls_config t;
	char *cause = NULL;
	size_t i;

	memset(srv, 0, sizeof(*srv));
	TAILQ_INIT(&srv->conns);
	server_set_origin(srv, cfg, config_path, base_dir, overrides, noverrides);
	srv->worker = w;
	/* tls_shared: a worker's comes from the master (workers.c); the single process makes its own. */
	srv->tls_shared = w != NULL ? w->tls_shared : NULL;
	signal(SIGPIPE, SIG_IGN);
	server_check_nofile(cfg, true);

	if ((srv->base = event_base_new()) == NULL || event_base_priority_init(srv->base, PRIORITIES) != 0) {
		log_warnx("event_base_new failed");
		return -1;
	}
	if ((srv->commit_ev = event_new(srv->base, -1, 0, commit_cb, srv)) == NULL ||
	    event_priority_set(srv->commit_ev, PRIORITY_COMMIT) != 0) {
		log_warnx("cannot set up the group commit event");
		return -1;
	}
	if ((srv->budget = budget_new(srv)) == NULL) {
		log_warnx("out of memory setting up the buffer budget");
		return -1;
	}
	tls_config_from(&t, cfg);
	crl_sig_read(cfg, &srv->crl_sig);
	/* A worker's shared TLS state was made by the master before it forked; the single process makes its own. */
	if ((w == NULL && tls_shared_new(&t, &srv->tls_shared, &cause) != 0) ||
	    tls_server_new(&t, srv->tls_shared, &srv->tls, &cause) != 0) {
		log_warnx("TLS: %s", cause ? cause : "?");
		free(cause);
		return -1;
	}
	if (audit_open(cfg->audit.file, cfg->audit.syslog, &srv->audit, &cause) != 0) {
		log_warnx("%s", cause ? cause : "audit");
		free(cause);
		return -1;
	}
	audit_set_required(srv->audit, cfg->audit.required);
	if (access_policy_new(cfg, &srv->policy, &cause) != 0) {
		log_warnx("%s", cause ? cause : "access policy");
		free(cause);
		return -1;
	}
	server_audit_tls(srv, "start");
	server_set_timeouts(srv);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, signal_cb, srv);
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	srv->accept_resume = evtimer_new(srv->base, accept_resume_cb, srv);
	srv->shutdown_timer = evtimer_new(srv->base, shutdown_timer_cb, srv);
	srv->refuse_timer = evtimer_new(srv->base, refuse_timer_cb, srv);
	srv->crl_timer = evtimer_new(srv->base, crl_timer_cb, srv);
	if (srv->crl_timer == NULL) {
		log_warnx("out of memory for the CRL timer");
		return -1;
	}
	server_arm_crl_timer(srv);
	server_crl_report(srv, true);
	if ((srv->cert_timer = evtimer_new(srv->base, cert_timer_cb, srv)) == NULL) {
		log_warnx("out of memory for the certificate timer");
		return -1;
	}
	server_cert_report(srv->tls, true);
	if (evtimer_add(srv->cert_timer, &day) != 0) {
		log_warnx("cannot arm the certificate timer");
		return -1;
	}
	if (srv->refuse_timer == NULL || sources_new(cfg->server.max_sources, &srv->sources) != 0) {
		log_warnx("out of memory for the table of client addresses");
		return -1;
	}
	if (srv->sig_term == NULL || srv->sig_int == NULL || srv->sig_hup == NULL ||
	    srv->accept_retry == NULL || srv->accept_resume == NULL || srv->shutdown_timer == NULL ||
	    evsignal_add(srv->sig_term, NULL) != 0 || evsignal_add(srv->sig_int, NULL) != 0 ||
	    evsignal_add(srv->sig_hup, NULL) != 0) {
		log_warnx("cannot set up signal handling");
		return -1;
	}

	srv->listeners = calloc(cfg->server.listen.count, sizeof(*srv->listeners));
	if (srv->listeners == NULL) {
		log_warn("listeners");
		return -1;
	}
	if (w != NULL) {
		/* The master's sockets: every worker polls them, and one accept() wins each connection. */
		for (i = 0; i < w->nlisteners && i < cfg->server.listen.count; i++) {
			if (server_listen_fd(srv, w->listen_fds[i], w->listen_names[i], &srv->listeners[i]) != 0)
				return -1;
			srv->nlisteners++;
		}
		srv->accepting = true;
		/* admin.socket, metrics.listen and systemd's notify socket are the master's. */
		return workers_attach(srv);
	}
	for (i = 0; i < cfg->server.listen.count; i++) {
		if (server_listen_one(srv, cfg->server.listen.items[i], cfg->server.port,
		    &srv->listeners[srv->nlisteners]) != 0)
			return -1;
		srv->nlisteners++;
	}
	srv->accepting = true;
	/* Bound here, before privileges are dropped, like the listeners; served once the loop runs. */
	if (status_admin_open(srv, &srv->admin) != 0 || metrics_http_open(srv, &srv->http) != 0 ||
	    notify_init(&srv->notify, srv->base) != 0)
		return -1;
	return 0;
}

/* Sets up the single process's server; see server.h. */
int
server_init(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides)
{
	return server_setup(srv, cfg, config_path, base_dir, overrides, noverrides, NULL);
}

/* Sets up a worker's server; see server.h. */
int
server_init_worker(struct server *srv, struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides, struct server_worker *w)
{
	return server_setup(srv, cfg, config_path, base_dir, overrides, noverrides, w);
}

/* Runs the loop; see server.h. */
int
server_run(struct server *srv)
{
	notify_send(&srv->notify, "READY=1\nSTATUS=serving\nMAINPID=%ld", (long)getpid());
	if (event_base_dispatch(srv->base) < 0) {
		log_warnx("event loop failed");
		return 1;
	}
	log_info("stopped: %llu connections accepted, %llu handshakes (%llu resumed), %llu requests",
	    (unsigned long long)srv->stats.accepted, (unsigned long long)srv->stats.handshakes,
	    (unsigned long long)srv->stats.resumed, (unsigned long long)srv->stats.requests);
	return srv->exit_status;
}

/* Frees everything; connections still open are closed. */
void
server_free(struct server *srv)
{
	struct conn *c;
	size_t i;

	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close_now(c, LOG_LEVEL_DEBUG, "server exiting");
	server_pending_free(srv->pending);
	if (srv->worker != NULL)
		workers_detach(srv);
	status_admin_free(srv->admin);
	metrics_http_free(srv->http);
	notify_free(&srv->notify);
	for (i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i].evl != NULL)
			evconnlistener_free(srv->listeners[i].evl);
	free(srv->listeners);
	if (srv->sig_term != NULL)
		event_free(srv->sig_term);
	if (srv->sig_int != NULL)
		event_free(srv->sig_int);
	if (srv->sig_hup != NULL)
		event_free(srv->sig_hup);
	if (srv->accept_retry != NULL)
		event_free(srv->accept_retry);
	if (srv->accept_resume != NULL)
		event_free(srv->accept_resume);
	if (srv->shutdown_timer != NULL)
		event_free(srv->shutdown_timer);
	if (srv->refuse_timer != NULL)
		event_free(srv->refuse_timer);
	if (srv->crl_timer != NULL)
		event_free(srv->crl_timer);
	if (srv->cert_timer != NULL)
		event_free(srv->cert_timer);
	sources_free(srv->sources);
	cluster_free(srv->cluster);	/* a group still in flight is dropped: nobody was answered */
	engine_free(srv->engine);
	if (srv->keygen != NULL)
		keygen_free(srv->keygen);
	if (srv->commit_ev != NULL)
		event_free(srv->commit_ev);
	budget_free(srv->budget);
	if (srv->reseal_ev != NULL)
		event_free(srv->reseal_ev);
	if (srv->store != NULL) {
		/* Connections are gone, so nothing waits for a pending group: make it durable anyway (a cluster
		 * node's goes to etcd or nowhere: unanswered, it is dropped). */
		if (srv->cfg->store.backend == CONFIG_BACKEND_ETCD)
			store_group_abandon(srv->store);
		else if (store_group_commit(srv->store, NULL, NULL) != 0)
			log_warnx("store: final commit failed: %s", store_last_error(srv->store));
		store_close(srv->store);
	}
	masterkey_free(&srv->keys);
	tls_server_free(srv->tls);
	tls_shared_free(srv->tls_shared);
	audit_close(srv->audit);
	access_policy_free(srv->policy);
	if (srv->base != NULL)
		event_base_free(srv->base);
	config_free(srv->cfg);
	memset(srv, 0, sizeof(*srv));
}
