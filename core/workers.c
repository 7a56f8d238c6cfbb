/*
 * workers: the master process and its worker processes (server.workers > 1); see workers.h.
 *
 * Forking a process that holds a libevent base: the master forks its workers (and their replacements)
 * from inside its loop. A child must never touch the master's epoll instance or signal pipe, which it
 * shares after fork(): it calls event_reinit() on the master's base (a new epoll instance and signal pipe
 * of its own, the master's untouched) and then frees it, before it makes its own base. An LMDB environment
 * is never inherited: the master opens none while workers run, except briefly in store_reader_check().
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/server.h"
#include "core/sources.h"
#include "core/status.h"
#include "core/workers.h"
#include "tls/tls.h"

#define WATCH_SEC		1	/* the master looks at the heartbeats this often */
#define SLOT_READ_TRIES		1000	/* a slot being written is read again this many times at most */

enum wstate {
	W_NONE,		/* no process: not started yet, or waiting for its back-off */
	W_STARTING,	/* forked, not yet serving */
	W_RUNNING,	/* serving */
	W_EXITED,	/* gone while stopping: not replaced */
};

/* The master's view of one worker. */
struct wproc {
	struct workers *w;
	unsigned index;
	enum wstate state;
	pid_t pid;
	int ctl;			/* the master's end of the control socketpair; -1: none */
	struct event *ctl_ev;
	struct event *restart_ev;	/* the back-off before forking it again */
	char line[WORKER_LINE_MAX];
	size_t len;
	time_t started;
	int64_t started_ms;
	uint64_t restarts;		/* replacements forked for this slot */
	unsigned quick_deaths;		/* deaths in a row within WORKER_QUICK_DEATH_SEC of the start */
	bool stall_killed;		/* killed by the master for a stale heartbeat */
	int reload_answer;		/* 0: none yet, 1: prepared, -1: failed */
};

struct workers {
	struct server srv;		/* the master's: loop, config, admin.socket, metrics.listen, notify */
	unsigned n;
	pid_t master_pid;
	int ready_fd;
	struct worker_slot *slots;	/* n slots, MAP_SHARED, made before the first fork */
	size_t slots_size;
	int fds[64];			/* the listening sockets, never polled here */
	char names[64][WORKER_NAME_MAX];
	size_t nfds;
	struct wproc w[CONFIG_WORKERS_MAX];
	struct event *sig_term, *sig_int, *sig_hup, *sig_chld;
	struct event *watch;		/* heartbeats */
	struct event *kill_timer;	/* the stop's deadline */
	struct event *reload_timer;	/* the prepare's deadline */
	bool stopping;
	int exit_status;		/* the worst of the workers' */
	bool reloading;
	struct kmipd_config *next;	/* the config a reload in progress would apply */
	char reload_cause[WORKER_LINE_MAX + 32];	/* the first failure */
};

static void worker_ctl_cb(evutil_socket_t fd, short what, void *arg);
static void master_ctl_cb(evutil_socket_t fd, short what, void *arg);
static void reload_settle(struct workers *w);

/* Writes all of len bytes of buf to fd (blocking or not: a control line is short). Returns 0 or -1. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends one control line: a letter, then optionally a text (its newlines made spaces, cut to fit). */
static int
ctl_send(int fd, char what, const char *text)
{
	char line[WORKER_LINE_MAX];
	size_t i, len;

	if (fd == -1)
		return -1;
	len = (size_t)snprintf(line, sizeof(line) - 1, "%c%s%s", what, text != NULL ? " " : "",
	    text != NULL ? text : "");
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	for (i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	return write_all(fd, line, len);
}

/*
 * Takes one line out of buf (len bytes held): copies it, without its newline, into out and moves the rest
 * down. Returns true when a whole line was there.
 */
static bool
take_line(char *buf, size_t *len, char *out, size_t outsize)
{
	char *nl = memchr(buf, '\n', *len);
	size_t n;

	if (nl == NULL)
		return false;
	n = (size_t)(nl - buf);
	snprintf(out, outsize, "%.*s", (int)n, buf);
	memmove(buf, nl + 1, *len - n - 1);
	*len -= n + 1;
	return true;
}

/* ---- The worker's side ---- */

/* Writes the worker's figures to its slot; see workers.h. */
void
worker_publish(struct server *srv, bool certs)
{
	static struct tls_server_desc d;	/* 2 KiB: not on the stack; one thread */
	struct worker_slot *s = srv->worker->slot;
	const char *why;

	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
	s->pid = getpid();
	s->ready = status_ready(srv, &why);
	s->conns_open = srv->nconns;
	s->handshaking = srv->sources != NULL ? sources_handshaking(srv->sources) : 0;
	s->stats = srv->stats;
	s->metrics = srv->metrics;
	if (srv->keygen != NULL) {
		keygen_stats(srv->keygen, &s->kg);
		s->have_keygen = true;
		s->kg_workers = srv->worker->kg_workers;
		s->kg_pool_size = srv->worker->kg_pool_size;
	}
	s->have_store = srv->store != NULL && store_stat(srv->store, &s->st) == 0;
	if ((s->have_cluster = srv->cluster != NULL))
		cluster_status(srv->cluster, &s->cl);
	if (certs && srv->tls != NULL) {
		tls_server_describe(srv->tls, &d);
		s->have_certs = true;
		s->server_days = d.server_days;
		s->ca_days = d.ca_days;
		snprintf(s->server_not_after, sizeof(s->server_not_after), "%s", d.server_not_after);
		snprintf(s->server_serial, sizeof(s->server_serial), "%s", d.server_serial);
		s->ecdsa_days = d.ecdsa_days;
		snprintf(s->ecdsa_not_after, sizeof(s->ecdsa_not_after), "%s", d.ecdsa_not_after);
		snprintf(s->ecdsa_serial, sizeof(s->ecdsa_serial), "%s", d.ecdsa_serial);
	}
	s->heartbeat_ms = clock_ms();
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);
}

/* Every WORKER_HEARTBEAT_MS: the loop turns, so the figures go out and the master sees it alive. */
static void
heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_publish(arg, false);
}

/* Sets up the worker's control socket and heartbeat; see workers.h. */
int
workers_attach(struct server *srv)
{
	struct server_worker *sw = srv->worker;
	struct timeval tv = { WORKER_HEARTBEAT_MS / 1000, (WORKER_HEARTBEAT_MS % 1000) * 1000 };

	if (evutil_make_socket_nonblocking(sw->ctl) != 0 ||
	    (sw->ctl_ev = event_new(srv->base, sw->ctl, EV_READ | EV_PERSIST, worker_ctl_cb, srv)) == NULL ||
	    (sw->heartbeat = event_new(srv->base, -1, EV_PERSIST, heartbeat_cb, srv)) == NULL ||
	    event_add(sw->ctl_ev, NULL) != 0 || event_add(sw->heartbeat, &tv) != 0) {
		log_warnx("cannot set up the control socket and heartbeat");
		return -1;
	}
	return 0;
}

/* Stops the control socket's event and the heartbeat; see workers.h. */
void
workers_detach(struct server *srv)
{
	struct server_worker *sw = srv->worker;

	if (sw->ctl_ev != NULL)
		event_free(sw->ctl_ev);
	if (sw->heartbeat != NULL)
		event_free(sw->heartbeat);
	sw->ctl_ev = sw->heartbeat = NULL;
}

/* One request of the master: prepare a reload, commit it, or abort it. */
static void
worker_request(struct server *srv, const char *line)
{
	struct server_worker *sw = srv->worker;
	char *cause = NULL;

	switch (line[0]) {
	case 'P':
		log_info("reload: preparing %s, as the master asks", srv->config_path != NULL ? srv->config_path :
		    "the embedded defaults");
		if (server_reload_prepare(srv, &cause) == 0)
			(void)ctl_send(sw->ctl, 'O', NULL);
		else
			(void)ctl_send(sw->ctl, 'F', cause != NULL ? cause : "?");
		free(cause);
		break;
	case 'C':
		server_reload_finish(srv, true, NULL);
		worker_publish(srv, true);
		break;
	case 'A':
		server_reload_finish(srv, false, line[1] == ' ' ? line + 2 : "aborted by the master");
		worker_publish(srv, true);
		break;
	default:
		log_warnx("unknown request from the master: \"%.40s\"", line);
		break;
	}
}

/* The master wrote, or went away (then this worker stops as on SIGTERM). */
static void
worker_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct server_worker *sw = srv->worker;
	char line[WORKER_LINE_MAX];
	ssize_t n;

	(void)what;
	n = read(fd, sw->line + sw->len, sizeof(sw->line) - sw->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		log_warnx("the master is gone: stopping");
		event_del(sw->ctl_ev);
		(void)raise(SIGTERM);
		return;
	}
	sw->len += (size_t)n;
	while (take_line(sw->line, &sw->len, line, sizeof(line)))
		worker_request(srv, line);
	if (sw->len == sizeof(sw->line))
		sw->len = 0;	/* a line longer than any the master sends: drop it */
}

/* Closes the descriptors of the master that a worker must not hold. */
static void
worker_close_master_fds(struct workers *w, unsigned self)
{
	unsigned j;
	int fd;

	if (w->ready_fd != -1)
		close(w->ready_fd);
	if ((fd = status_admin_fd(w->srv.admin)) != -1)
		close(fd);
	if ((fd = metrics_http_fd(w->srv.http)) != -1)
		close(fd);
	if (w->srv.notify.fd != -1)
		close(w->srv.notify.fd);
	for (j = 0; j < w->n; j++)
		if (j != self && w->w[j].ctl != -1)
			close(w->w[j].ctl);
}

/*
 * The child side of a fork: becomes worker i and never returns. The master's loop is detached and freed
 * first (see the top of the file); then the worker's own server, as the single process does: TLS (as
 * server.user: the master switched before forking), the store, the key generators, the engine. It says "R" when it
 * serves, or "F cause" when it could not start.
 */
static void __attribute__((noreturn))
worker_child(struct workers *w, unsigned i, int ctl)
{
	struct server srv;
	struct server_worker sw;
	struct kmipd_config *cfg = w->srv.cfg;
	int status;

	/* A worker outlives no master: it stops as on SIGTERM when the master dies. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != w->master_pid)
		_exit(1);
	log_set_tee(-1);
	log_set_worker((int)i);
	if (event_reinit(w->srv.base) != 0)
		_exit(1);
	event_base_free(w->srv.base);
	w->srv.base = NULL;
	worker_close_master_fds(w, i);
	memset(&sw, 0, sizeof(sw));
	sw.index = i;
	sw.count = w->n;
	sw.ctl = ctl;
	sw.slot = &w->slots[i];
	sw.listen_fds = w->fds;
	sw.listen_names = (const char (*)[WORKER_NAME_MAX])w->names;
	sw.nlisteners = w->nfds;
	sw.tls_shared = w->srv.tls_shared;	/* tls_shared: made by the master before the fork */
	/* The config is this worker's now: its server frees it, and swaps it at a reload. */
	if (server_init_worker(&srv, cfg, w->srv.config_path, w->srv.base_dir, w->srv.overrides,
	    w->srv.noverrides, &sw) != 0 || server_drop_privileges(srv.cfg) != 0 || server_open_store(&srv) != 0) {
		(void)ctl_send(ctl, 'F', log_last_problem());
		server_free(&srv);
		exit(1);
	}
	worker_publish(&srv, true);
	log_info("serving (pid %ld)", (long)getpid());
	if (ctl_send(ctl, 'R', NULL) != 0)
		log_warn("telling the master it serves");
	status = server_run(&srv);
	server_free(&srv);
	exit(status);
}

/* ---- The master's side ---- */

/* Forks worker i. Returns 0, or -1 after logging why. */
static int
worker_spawn(struct workers *w, unsigned i)
{
	struct wproc *p = &w->w[i];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("worker %u: socketpair", i);
		return -1;
	}
	memset(&w->slots[i], 0, sizeof(w->slots[i]));
	if ((pid = fork()) == -1) {
		log_warn("worker %u: fork", i);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_child(w, i, sv[1]);
	}
	close(sv[1]);
	p->pid = pid;
	p->ctl = sv[0];
	p->len = 0;
	p->state = W_STARTING;
	p->started = time(NULL);
	p->started_ms = clock_ms();
	p->stall_killed = false;
	p->reload_answer = 0;
	log_info("worker %u: forked, pid %ld", i, (long)pid);
	return 0;
}

/* Serves worker i's control socket from the loop. Returns 0, or -1 after logging why. */
static int
worker_watch_ctl(struct workers *w, unsigned i)
{
	struct wproc *p = &w->w[i];

	if (evutil_make_socket_nonblocking(p->ctl) != 0 ||
	    (p->ctl_ev = event_new(w->srv.base, p->ctl, EV_READ | EV_PERSIST, master_ctl_cb, p)) == NULL ||
	    event_add(p->ctl_ev, NULL) != 0) {
		log_warnx("worker %u: cannot watch its control socket", i);
		return -1;
	}
	return 0;
}

/* Closes the master's end of worker p's control socket. */
static void
worker_ctl_close(struct wproc *p)
{
	if (p->ctl_ev != NULL)
		event_free(p->ctl_ev);
	p->ctl_ev = NULL;
	if (p->ctl != -1)
		close(p->ctl);
	p->ctl = -1;
	p->len = 0;
}

/*
 * At start, before the loop runs: waits (blocking) for worker i's first answer. Returns 0 when it serves,
 * or -1 after logging its cause as a warning (the caller's error line repeats it).
 */
static int
worker_wait_started(struct workers *w, unsigned i)
{
	struct wproc *p = &w->w[i];
	char line[WORKER_LINE_MAX];
	ssize_t n;

	for (;;) {
		if (take_line(p->line, &p->len, line, sizeof(line))) {
			if (line[0] == 'R') {
				p->state = W_RUNNING;
				return 0;
			}
			if (line[0] == 'F') {
				log_warnx("%s", line[1] == ' ' ? line + 2 : "worker failed");
				return -1;
			}
			continue;
		}
		if (p->len == sizeof(p->line))
			p->len = 0;
		n = read(p->ctl, p->line + p->len, sizeof(p->line) - p->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warnx("worker %u (pid %ld) exited before it could serve; the log says why", i, (long)p->pid);
			return -1;
		}
		p->len += (size_t)n;
	}
}

/* Reads a consistent copy of slot i into out (a slot being written is read again). */
static void
slot_read(const struct workers *w, unsigned i, struct worker_slot *out)
{
	const struct worker_slot *s = &w->slots[i];
	uint32_t a, b;
	int tries;

	for (tries = 0; tries < SLOT_READ_TRIES; tries++) {
		a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (a & 1)
			continue;
		memcpy(out, s, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (a == b)
			return;
	}
	/* A worker killed in the middle of writing: its last figures, maybe torn; it is being replaced. */
	memcpy(out, s, sizeof(*out));
}

/* Describes a wait status: "exited with status 1", "was killed by signal 9 (Killed)". */
static void
describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended (wait status %#x)", (unsigned)status);
}

/* The back-off timer of worker p ran out: fork it again. */
static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wproc *p = arg;
	struct workers *w = p->w;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	/* Not while a reload is being decided: the replacement must start with the config that wins. */
	if (w->reloading) {
		struct timeval soon = { 0, 100 * 1000 };

		evtimer_add(p->restart_ev, &soon);
		return;
	}
	p->restarts++;
	if (worker_spawn(w, p->index) != 0 || worker_watch_ctl(w, p->index) != 0) {
		/* fork() failed (memory, a process limit): try again in a second. */
		if (p->pid > 0)
			(void)kill(p->pid, SIGKILL);
		else
			evtimer_add(p->restart_ev, &tv);
	}
}

/* Worker p died while serving: schedule another, at once or after a back-off if it keeps dying young. */
static void
worker_schedule_restart(struct workers *w, struct wproc *p)
{
	int64_t lived_ms = clock_ms() - p->started_ms;
	struct timeval tv = { 0, 0 };
	unsigned shift;

	if (lived_ms < WORKER_QUICK_DEATH_SEC * 1000)
		p->quick_deaths++;
	else
		p->quick_deaths = 0;
	if (p->quick_deaths > 0) {
		shift = p->quick_deaths - 1 < 6 ? p->quick_deaths - 1 : 6;
		tv.tv_sec = (time_t)1 << shift;
		if (tv.tv_sec > WORKER_BACKOFF_MAX_SEC)
			tv.tv_sec = WORKER_BACKOFF_MAX_SEC;
		log_warnx("worker %u died %u time%s in a row within %d s of its start: starting another in %ld s",
		    p->index, p->quick_deaths, p->quick_deaths == 1 ? "" : "s", WORKER_QUICK_DEATH_SEC,
		    (long)tv.tv_sec);
	}
	p->state = W_NONE;
	evtimer_add(p->restart_ev, &tv);
	(void)w;
}

/* How many workers still have a process. */
static unsigned
workers_alive(const struct workers *w)
{
	unsigned i, n = 0;

	for (i = 0; i < w->n; i++)
		if (w->w[i].pid > 0)
			n++;
	return n;
}

/*
 * SIGCHLD: collects every dead worker, logs how it ended, clears the LMDB reader slots it may have left,
 * and (unless stopping) forks another. A reload waiting for it fails.
 */
static void
sigchld(struct workers *w)
{
	char how[96], *cause = NULL;
	struct wproc *p;
	int status, cleared;
	unsigned i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0, p = NULL; i < w->n; i++)
			if (w->w[i].pid == pid)
				p = &w->w[i];
		if (p == NULL)
			continue;
		describe_status(status, how, sizeof(how));
		p->pid = 0;
		worker_ctl_close(p);
		if (w->stopping) {
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;

			log_info("worker %u (pid %ld) %s", p->index, (long)pid, how);
			if (code > w->exit_status)
				w->exit_status = code;
			p->state = W_EXITED;
			continue;
		}
		log_warnx("worker %u (pid %ld) %s%s; starting another", p->index, (long)pid, how,
		    p->stall_killed ? " after its heartbeat stopped" : "");
		if (store_reader_check(w->srv.cfg->store.path, &cleared, &cause) != 0) {
			log_warnx("store: %s", cause != NULL ? cause : "reader check failed");
			free(cause);
			cause = NULL;
		} else if (cleared > 0)
			log_info("store: cleared %d reader slot%s of dead processes", cleared, cleared == 1 ? "" : "s");
		if (w->reloading && p->reload_answer == 0) {
			p->reload_answer = -1;
			if (w->reload_cause[0] == '\0')
				snprintf(w->reload_cause, sizeof(w->reload_cause), "worker %u %s during the reload",
				    p->index, how);
		}
		worker_schedule_restart(w, p);
	}
	if (w->reloading)
		reload_settle(w);
	if (w->stopping && workers_alive(w) == 0)
		event_base_loopexit(w->srv.base, NULL);
}

/* One line from worker p: it serves ("R"), could not start ("F ..."), or answers a reload's prepare. */
static void
master_line(struct workers *w, struct wproc *p, const char *line)
{
	const char *text = line[1] == ' ' ? line + 2 : "";

	if (p->state == W_STARTING) {
		if (line[0] == 'R') {
			p->state = W_RUNNING;
			log_info("worker %u (pid %ld) serves again", p->index, (long)p->pid);
		} else if (line[0] == 'F')
			log_warnx("worker %u (pid %ld) could not start: %s", p->index, (long)p->pid, text);
		return;
	}
	if (!w->reloading || p->reload_answer != 0 || (line[0] != 'O' && line[0] != 'F'))
		return;
	p->reload_answer = line[0] == 'O' ? 1 : -1;
	if (line[0] == 'F' && w->reload_cause[0] == '\0')
		snprintf(w->reload_cause, sizeof(w->reload_cause), "worker %u: %s", p->index, text);
	reload_settle(w);
}

/* Worker p's control socket is readable: its lines, or its end (its death comes through SIGCHLD). */
static void
master_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wproc *p = arg;
	char line[WORKER_LINE_MAX];
	ssize_t n;

	(void)what;
	n = read(fd, p->line + p->len, sizeof(p->line) - p->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		event_del(p->ctl_ev);
		return;
	}
	p->len += (size_t)n;
	while (p->ctl != -1 && take_line(p->line, &p->len, line, sizeof(line)))
		master_line(p->w, p, line);
	if (p->len == sizeof(p->line))
		p->len = 0;
}

/*
 * Every WATCH_SEC: a serving worker whose heartbeat is older than server.worker_heartbeat_timeout is killed
 * (and replaced): its loop is stuck, and its connections with it.
 */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;
	int64_t now = clock_ms(), hb;
	unsigned i;

	(void)fd;
	(void)what;
	if (w->stopping)
		return;
	for (i = 0; i < w->n; i++) {
		struct wproc *p = &w->w[i];

		if (p->state != W_RUNNING || p->pid <= 0 || p->stall_killed)
			continue;
		hb = __atomic_load_n(&w->slots[i].heartbeat_ms, __ATOMIC_ACQUIRE);
		if (now - hb <= (int64_t)w->srv.cfg->server.worker_heartbeat_timeout * 1000)
			continue;
		log_warnx("worker %u (pid %ld): no heartbeat for %lld s (its loop is stuck): killing it", i,
		    (long)p->pid, (long long)((now - hb) / 1000));
		p->stall_killed = true;
		(void)kill(p->pid, SIGKILL);
	}
}

/* Sends a reload's outcome to every worker that prepared, and applies it in the master. */
static void
reload_end(struct workers *w, bool commit)
{
	struct server *srv = &w->srv;
	char *why = NULL;
	unsigned i;

	evtimer_del(w->reload_timer);
	w->reloading = false;
	for (i = 0; i < w->n; i++) {
		struct wproc *p = &w->w[i];

		if (p->reload_answer != 0 && p->ctl != -1 &&
		    ctl_send(p->ctl, commit ? 'C' : 'A', commit ? NULL : w->reload_cause) != 0)
			log_warn("worker %u: sending the reload's outcome", i);
		p->reload_answer = 0;
	}
	if (!commit) {
		config_free(w->next);
		w->next = NULL;
		log_warnx("reload failed, keeping the running configuration in every worker: %s", w->reload_cause);
		metrics_reload(&srv->metrics, w->reload_cause);
		notify_send(&srv->notify, "READY=1\nSTATUS=reload failed, running as before");
		return;
	}
	/* What the master itself uses: the log settings, admin.* and metrics.*, and the next workers' config. */
	config_free(srv->cfg);
	srv->cfg = w->next;
	w->next = NULL;
	log_set_level(server_log_level(srv->cfg->log.level));
	log_set_json(srv->cfg->log.format == CONFIG_LOG_JSON);
	if (log_open_file(srv->cfg->log.file, &why) != 0) {
		log_warnx("reload: %s; logging where it did", why != NULL ? why : "log.file");
		free(why);
	}
	log_info("reload done in every worker");
	metrics_reload(&srv->metrics, NULL);
	notify_send(&srv->notify, "READY=1\nSTATUS=reloaded");
}

/* Ends the reload once every worker asked has answered (commit only if all prepared). */
static void
reload_settle(struct workers *w)
{
	bool all_ok = true;
	unsigned i;

	for (i = 0; i < w->n; i++) {
		if (w->w[i].reload_answer == 0 && w->w[i].state == W_RUNNING && w->w[i].pid > 0)
			return;		/* still waiting for it */
		if (w->w[i].reload_answer < 0)
			all_ok = false;
	}
	reload_end(w, all_ok && w->reload_cause[0] == '\0');
}

/* A worker did not answer the prepare in WORKER_RELOAD_SEC: the reload fails everywhere. */
static void
reload_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;

	(void)fd;
	(void)what;
	if (w->reload_cause[0] == '\0')
		snprintf(w->reload_cause, sizeof(w->reload_cause), "a worker did not prepare within %d s",
		    WORKER_RELOAD_SEC);
	reload_end(w, false);
}

/*
 * SIGHUP: loads the config in the master (what it checks alone fails the reload at once), then asks every
 * worker to prepare it; reload_settle() commits or aborts it in all of them.
 */
static void
master_reload(struct workers *w)
{
	struct server *srv = &w->srv;
	struct timeval tv = { WORKER_RELOAD_SEC, 0 };
	struct kmipd_config *next = NULL;
	char *cause = NULL;
	unsigned i, asked = 0;

	notify_reloading(&srv->notify);
	log_info("SIGHUP: reloading %s in %u workers", srv->config_path ? srv->config_path :
	    "the embedded defaults", w->n);
	if (w->reloading || w->stopping) {
		log_warnx("SIGHUP: %s; this reload is ignored", w->stopping ? "stopping" : "a reload is in progress");
		notify_send(&srv->notify, "READY=1");
		return;
	}
	w->reload_cause[0] = '\0';
	if (config_load(srv->config_path, srv->overrides, srv->noverrides, &next, &cause) != 0 ||
	    config_resolve_paths(next, srv->base_dir, &cause) != 0)
		goto fail;
	if (config_reload_check(srv->cfg, next, &cause) != 0) {
		free(cause);
		cause = NULL;
		if (config_keep_restart_keys(next, srv->cfg, &cause) != 0)
			goto fail;
	}
	for (i = 0; i < w->n; i++)
		if (w->w[i].state == W_STARTING) {
			if (asprintf(&cause, "worker %u is starting; reload again once it serves", i) == -1)
				cause = NULL;
			goto fail;
		}
	w->next = next;
	w->reloading = true;
	for (i = 0; i < w->n; i++) {
		struct wproc *p = &w->w[i];

		p->reload_answer = 0;
		if (p->state != W_RUNNING || p->pid <= 0)
			continue;	/* waiting for its back-off: it starts with whatever config wins */
		if (ctl_send(p->ctl, 'P', NULL) != 0) {
			p->reload_answer = -1;
			snprintf(w->reload_cause, sizeof(w->reload_cause), "worker %u cannot be asked", i);
			continue;
		}
		asked++;
	}
	evtimer_add(w->reload_timer, &tv);
	reload_settle(w);
	return;
fail:
	log_warnx("reload failed, keeping the running configuration: %s", cause != NULL ? cause : "?");
	metrics_reload(&srv->metrics, cause != NULL ? cause : "?");
	notify_send(&srv->notify, "READY=1\nSTATUS=reload failed, running as before");
	free(cause);
	config_free(next);
	(void)asked;
}

/* The stop's deadline: workers still running are killed. */
static void
kill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < w->n; i++)
		if (w->w[i].pid > 0) {
			log_warnx("worker %u (pid %ld) still running %u s after the stop: killing it", i,
			    (long)w->w[i].pid, w->srv.cfg->server.shutdown_timeout + WORKER_KILL_GRACE_SEC);
			(void)kill(w->w[i].pid, SIGKILL);
		}
}

/*
 * SIGTERM/SIGINT: the master closes its listening sockets (so that nothing waits in their queues once the
 * workers stop accepting) and forwards SIGTERM; each worker drains as the single process does, and the
 * master exits when all have.
 */
static void
master_stop(struct workers *w, int sig)
{
	struct timeval tv = { w->srv.cfg->server.shutdown_timeout + WORKER_KILL_GRACE_SEC, 0 };
	unsigned i;

	if (w->stopping) {
		log_info("signal %d: already stopping (%u workers left)", sig, workers_alive(w));
		return;
	}
	log_info("signal %d: stopping %u workers", sig, workers_alive(w));
	w->stopping = true;
	w->srv.stopping = true;
	notify_send(&w->srv.notify, "STOPPING=1");
	for (i = 0; i < w->nfds; i++)
		close(w->fds[i]);
	w->nfds = 0;
	for (i = 0; i < w->n; i++) {
		evtimer_del(w->w[i].restart_ev);
		if (w->w[i].pid > 0)
			(void)kill(w->w[i].pid, SIGTERM);
		else
			w->w[i].state = W_EXITED;
	}
	if (workers_alive(w) == 0) {
		event_base_loopexit(w->srv.base, NULL);
		return;
	}
	evtimer_add(w->kill_timer, &tv);
}

/* The master's signals. */
static void
master_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct workers *w = arg;

	(void)what;
	if (sig == SIGCHLD)
		sigchld(w);
	else if (sig == SIGHUP)
		master_reload(w);
	else
		master_stop(w, (int)sig);
}

/* Starts the master and its workers; see workers.h. */
int
workers_start(struct kmipd_config *cfg, const char *config_path, const char *base_dir,
    char *const *overrides, size_t noverrides, int ready_fd, struct workers **out)
{
	struct timeval watch = { WATCH_SEC, 0 };
	struct tls_config t;
	struct workers *w;
	struct server *srv;
	char *cause = NULL;
	unsigned i;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("workers");
		config_free(cfg);
		return -1;
	}
	*out = w;
	srv = &w->srv;
	server_set_origin(srv, cfg, config_path, base_dir, overrides, noverrides);
	srv->workers = w;
	w->n = config_workers(cfg);
	w->master_pid = getpid();
	w->ready_fd = ready_fd;
	for (i = 0; i < CONFIG_WORKERS_MAX; i++) {
		w->w[i].w = w;
		w->w[i].index = i;
		w->w[i].ctl = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* The workers inherit the raised limit. */
	server_check_nofile(cfg, true);
	for (i = 0; i < cfg->server.listen.count && i < sizeof(w->fds) / sizeof(w->fds[0]); i++) {
		if ((w->fds[i] = server_bind(cfg->server.listen.items[i], cfg->server.port, w->names[i],
		    sizeof(w->names[i]))) == -1)
			return -1;
		w->nfds++;
	}
	/* Before any fork: every worker writes its own slot here, the master reads them all. */
	w->slots_size = (size_t)w->n * sizeof(*w->slots);
	w->slots = mmap(NULL, w->slots_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w->slots == MAP_FAILED) {
		w->slots = NULL;
		log_warn("workers: mapping %zu bytes of shared figures", w->slots_size);
		return -1;
	}
	/*
	 * The TLS session cache and ticket keys every worker shares (tls/shcache.c): mapped here, before any
	 * fork, so that a client resumes on whichever worker accepts its next connection.
	 */
	tls_config_from(&t, cfg);
	if (tls_shared_new(&t, &srv->tls_shared, &cause) != 0) {
		log_warnx("TLS: %s", cause != NULL ? cause : "shared session cache");
		free(cause);
		return -1;
	}
	if ((srv->base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	w->sig_term = evsignal_new(srv->base, SIGTERM, master_signal_cb, w);
	w->sig_int = evsignal_new(srv->base, SIGINT, master_signal_cb, w);
	w->sig_hup = evsignal_new(srv->base, SIGHUP, master_signal_cb, w);
	w->sig_chld = evsignal_new(srv->base, SIGCHLD, master_signal_cb, w);
	w->watch = event_new(srv->base, -1, EV_PERSIST, watch_cb, w);
	w->kill_timer = evtimer_new(srv->base, kill_timer_cb, w);
	w->reload_timer = evtimer_new(srv->base, reload_timer_cb, w);
	if (w->sig_term == NULL || w->sig_int == NULL || w->sig_hup == NULL || w->sig_chld == NULL ||
	    w->watch == NULL || w->kill_timer == NULL || w->reload_timer == NULL ||
	    evsignal_add(w->sig_term, NULL) != 0 || evsignal_add(w->sig_int, NULL) != 0 ||
	    evsignal_add(w->sig_hup, NULL) != 0 || evsignal_add(w->sig_chld, NULL) != 0 ||
	    event_add(w->watch, &watch) != 0) {
		log_warnx("cannot set up the master's signals and timers");
		return -1;
	}
	for (i = 0; i < w->n; i++)
		if ((w->w[i].restart_ev = evtimer_new(srv->base, restart_cb, &w->w[i])) == NULL) {
			log_warnx("out of memory for the workers' timers");
			return -1;
		}
	/* Bound before any worker starts, so a start fails here as the single process's does. */
	if (status_admin_open(srv, &srv->admin) != 0 || metrics_http_open(srv, &srv->http) != 0 ||
	    notify_init(&srv->notify, srv->base) != 0)
		return -1;
	/*
	 * Everything privileged is bound: the master switches to server.user before it forks, so that neither
	 * it (which answers admin.socket and /metrics) nor any worker runs as root. A worker then reads the TLS
	 * files as that user, as any reload does.
	 */
	if (server_drop_privileges(cfg) != 0)
		return -1;
	log_info("master (pid %ld): starting %u workers", (long)w->master_pid, w->n);
	/* Worker 0 first and alone: it opens the store first, and encrypts a clear one before serving. */
	if (worker_spawn(w, 0) != 0 || worker_wait_started(w, 0) != 0)
		return -1;
	for (i = 1; i < w->n; i++)
		if (worker_spawn(w, i) != 0)
			return -1;
	for (i = 1; i < w->n; i++)
		if (worker_wait_started(w, i) != 0)
			return -1;
	for (i = 0; i < w->n; i++)
		if (worker_watch_ctl(w, i) != 0)
			return -1;
	for (i = 0; i < w->nfds; i++)
		log_info("listening on %s (%u workers)", w->names[i], w->n);
	return 0;
}

/* Runs the master's loop; see workers.h. */
int
workers_run(struct workers *w)
{
	struct server *srv = &w->srv;

	notify_send(&srv->notify, "READY=1\nSTATUS=serving with %u workers\nMAINPID=%ld", w->n, (long)getpid());
	/* Deaths before the loop ran (SIGCHLD came while the start waited) are collected now. */
	sigchld(w);
	if (event_base_dispatch(srv->base) < 0) {
		log_warnx("event loop failed");
		return 1;
	}
	log_info("master: every worker has stopped");
	return w->exit_status;
}

/* The master's configuration; see workers.h. */
const struct kmipd_config *
workers_config(const struct workers *w)
{
	return w->srv.cfg;
}

/* Frees the master; see workers.h. */
void
workers_free(struct workers *w)
{
	struct server *srv;
	unsigned i;
	int status;

	if (w == NULL)
		return;
	srv = &w->srv;
	/* A failed start: the workers forked so far go too. */
	for (i = 0; i < w->n; i++)
		if (w->w[i].pid > 0) {
			(void)kill(w->w[i].pid, SIGTERM);
			while (waitpid(w->w[i].pid, &status, 0) == -1 && errno == EINTR)
				;
			w->w[i].pid = 0;
		}
	for (i = 0; i < CONFIG_WORKERS_MAX; i++) {
		worker_ctl_close(&w->w[i]);
		if (w->w[i].restart_ev != NULL)
			event_free(w->w[i].restart_ev);
	}
	status_admin_free(srv->admin);
	metrics_http_free(srv->http);
	notify_free(&srv->notify);
	if (w->sig_term != NULL)
		event_free(w->sig_term);
	if (w->sig_int != NULL)
		event_free(w->sig_int);
	if (w->sig_hup != NULL)
		event_free(w->sig_hup);
	if (w->sig_chld != NULL)
		event_free(w->sig_chld);
	if (w->watch != NULL)
		event_free(w->watch);
	if (w->kill_timer != NULL)
		event_free(w->kill_timer);
	if (w->reload_timer != NULL)
		event_free(w->reload_timer);
	for (i = 0; i < w->nfds; i++)
		close(w->fds[i]);
	if (w->slots != NULL)
		munmap(w->slots, w->slots_size);
	tls_shared_free(srv->tls_shared);	/* the creator: the sessions and ticket keys are wiped */
	if (srv->base != NULL)
		event_base_free(srv->base);
	config_free(w->next);
	config_free(srv->cfg);
	free(w);
}

/* ---- The master's status ---- */

/* Adds to sum what one process counted in its own store stats: commits, conflicts, writer-lock waits. */
static void
store_stats_add_process(struct store_stats *sum, const struct store_stats *one)
{
	sum->group_commits += one->group_commits;
	sum->grows += one->grows;
	sum->replays += one->replays;
	sum->conflicts += one->conflicts;
	sum->dropped += one->dropped;
	sum->lock.taken += one->lock.taken;
	sum->lock.waits += one->lock.waits;
	sum->lock.wait_us += one->lock.wait_us;
	if (one->lock.max_wait_us > sum->lock.max_wait_us)
		sum->lock.max_wait_us = one->lock.max_wait_us;
}

/* Whether every worker serves; see workers.h. */
bool
workers_ready(const struct workers *w, const char **why)
{
	int64_t now = clock_ms();
	unsigned i;

	for (i = 0; i < w->n; i++) {
		const struct wproc *p = &w->w[i];

		if (p->state != W_RUNNING || p->pid <= 0) {
			*why = "a worker is starting";
			return false;
		}
		if (now - __atomic_load_n(&w->slots[i].heartbeat_ms, __ATOMIC_ACQUIRE) >
		    (int64_t)w->srv.cfg->server.worker_heartbeat_timeout * 1000) {
			*why = "a worker's heartbeat stopped";
			return false;
		}
	}
	return true;
}

/* Adds the keygen figures of b to a. */
static void
kg_add(struct keygen_stats *a, const struct keygen_stats *b)
{
	a->generated += b->generated;
	a->pool_hits += b->pool_hits;
	a->pool_misses += b->pool_misses;
	a->worker_restarts += b->worker_restarts;
	a->failures += b->failures;
	a->refused += b->refused;
	a->bad_answers += b->bad_answers;
	a->pool_ready += b->pool_ready;
	a->queued += b->queued;
	a->busy_workers += b->busy_workers;
}

/* Sums the workers' slots into s; see workers.h. */
void
workers_gather(const struct workers *w, struct status_snap *s)
{
	static struct worker_slot slot;	/* 13 KiB: not on the stack; one thread */
	struct server_stats *st = &s->stats_sum;
	int64_t newest = 0;
	unsigned i;

	for (i = 0; i < w->n; i++) {
		if (w->w[i].state == W_NONE)
			continue;
		slot_read(w, i, &slot);
		s->conns_open += slot.conns_open;
		s->handshaking += slot.handshaking;
		st->accepted += slot.stats.accepted;
		st->refused += slot.stats.refused;
		st->evicted += slot.stats.evicted;
		st->handshakes += slot.stats.handshakes;
		st->resumed += slot.stats.resumed;
		st->handshake_failures += slot.stats.handshake_failures;
		st->probes += slot.stats.probes;
		st->requests += slot.stats.requests;
		st->bad_messages += slot.stats.bad_messages;
		metrics_add(&s->m_sum, &slot.metrics);
		if (slot.have_keygen) {
			s->have_keygen = true;
			kg_add(&s->kg, &slot.kg);
			s->kg_workers += slot.kg_workers;
			s->kg_pool_size += slot.kg_pool_size;
		}
		if (slot.have_store && slot.heartbeat_ms >= newest) {
			struct store_stats sum = s->st;

			/* The store is one: its size from the freshest look, the commits and lock waits of all. */
			newest = slot.heartbeat_ms;
			s->have_store = true;
			s->st = slot.st;
			store_stats_add_process(&s->st, &sum);
		} else if (slot.have_store)
			store_stats_add_process(&s->st, &slot.st);
		if (slot.have_cluster && !s->have_cluster) {
			s->have_cluster = true;
			s->cl = slot.cl;
		} else if (slot.have_cluster) {
			s->cl.txns += slot.cl.txns;
			s->cl.conflicts += slot.cl.conflicts;
			s->cl.unknown += slot.cl.unknown;
			s->cl.refused += slot.cl.refused;
			if (slot.cl.staleness_ms > s->cl.staleness_ms) {
				/* The least current worker's view: what a client of that worker sees. */
				s->cl.state = slot.cl.state;
				s->cl.staleness_ms = slot.cl.staleness_ms;
			}
		}
		if (slot.have_certs && !s->have_certs) {
			s->have_certs = true;
			s->server_days = slot.server_days;
			s->ca_days = slot.ca_days;
			snprintf(s->cert_not_after, sizeof(s->cert_not_after), "%s", slot.server_not_after);
			snprintf(s->cert_serial, sizeof(s->cert_serial), "%s", slot.server_serial);
			s->server_not_after = s->cert_not_after;
			s->server_serial = s->cert_serial;
			s->ecdsa_days = slot.ecdsa_days;
			snprintf(s->ecdsa_cert_not_after, sizeof(s->ecdsa_cert_not_after), "%s", slot.ecdsa_not_after);
			snprintf(s->ecdsa_cert_serial, sizeof(s->ecdsa_cert_serial), "%s", slot.ecdsa_serial);
			s->ecdsa_not_after = s->ecdsa_cert_not_after;
			s->ecdsa_serial = s->ecdsa_cert_serial;
		}
	}
}

/* What a worker row says of its state. */
static const char *
wstate_name(const struct workers *w, const struct wproc *p, const struct worker_slot *slot, int64_t now)
{
	switch (p->state) {
	case W_NONE:
		return "restarting";
	case W_STARTING:
		return "starting";
	case W_EXITED:
		return "exited";
	default:
		break;
	}
	if (now - slot->heartbeat_ms > (int64_t)w->srv.cfg->server.worker_heartbeat_timeout * 1000)
		return "stalled";
	return slot->ready ? "serving" : "draining";
}

/* A line per worker; see workers.h. */
void
workers_write_text(const struct workers *w, struct evbuffer *out)
{
	static struct worker_slot slot;
	int64_t now = clock_ms();
	unsigned i;

	evbuffer_add_printf(out, "workers: %u (master pid %ld)\n", w->n, (long)w->master_pid);
	for (i = 0; i < w->n; i++) {
		const struct wproc *p = &w->w[i];

		slot_read(w, i, &slot);
		evbuffer_add_printf(out, "  worker %u: pid %ld, %s, up %.0f s, %llu restarts, heartbeat %.1f s ago; "
		    "%u connections (%u handshaking), %llu accepted, %llu requests\n", i, (long)p->pid,
		    wstate_name(w, p, &slot, now), p->pid > 0 ? (double)(now - p->started_ms) / 1000.0 : 0.0,
		    (unsigned long long)p->restarts, slot.heartbeat_ms > 0 ? (double)(now - slot.heartbeat_ms) / 1000.0 :
		    0.0, slot.conns_open, slot.handshaking, (unsigned long long)slot.stats.accepted,
		    (unsigned long long)slot.stats.requests);
	}
}

/* The JSON array of workers; see workers.h. */
void
workers_write_json(const struct workers *w, struct evbuffer *out)
{
	static struct worker_slot slot;
	int64_t now = clock_ms();
	unsigned i;

	evbuffer_add_printf(out, ",\"master_pid\":%ld,\"workers\":[", (long)w->master_pid);
	for (i = 0; i < w->n; i++) {
		const struct wproc *p = &w->w[i];

		slot_read(w, i, &slot);
		evbuffer_add_printf(out, "%s{\"index\":%u,\"pid\":%ld,\"state\":\"%s\",\"started\":%lld,"
		    "\"restarts\":%llu,\"heartbeat_age_seconds\":%.3f,\"connections_open\":%u,\"handshaking\":%u,"
		    "\"accepted\":%llu,\"handshakes\":%llu,\"requests\":%llu,\"reloads\":{\"ok\":%llu,"
		    "\"failed\":%llu}}", i > 0 ? "," : "", i, (long)p->pid,
		    wstate_name(w, p, &slot, now), (long long)p->started, (unsigned long long)p->restarts,
		    slot.heartbeat_ms > 0 ? (double)(now - slot.heartbeat_ms) / 1000.0 : -1.0, slot.conns_open,
		    slot.handshaking, (unsigned long long)slot.stats.accepted,
		    (unsigned long long)slot.stats.handshakes, (unsigned long long)slot.stats.requests,
		    (unsigned long long)slot.metrics.reloads, (unsigned long long)slot.metrics.reload_failures);
	}
	evbuffer_add_printf(out, "]");
}

/* Per-worker gauges and counters with a worker label; see workers.h. */
void
workers_write_prometheus(const struct workers *w, struct evbuffer *out)
{
	static struct worker_slot slot;
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "kmipd_worker_up", "gauge", "1 while the worker process serves (0: starting, restarting, stalled)." },
		{ "kmipd_worker_heartbeat_age_seconds", "gauge", "Seconds since the worker's loop last published." },
		{ "kmipd_worker_restarts_total", "counter", "Replacement processes forked for this worker." },
		{ "kmipd_worker_connections_open", "gauge", "Client connections the worker holds now." },
		{ "kmipd_worker_requests_total", "counter", "KMIP requests the worker's current process answered." },
	};
	int64_t now = clock_ms();
	unsigned f, i;

	for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
		    fam[f].type);
		for (i = 0; i < w->n; i++) {
			const struct wproc *p = &w->w[i];

			slot_read(w, i, &slot);
			switch (f) {
			case 0:
				evbuffer_add_printf(out, "%s{worker=\"%u\"} %d\n", fam[f].name, i,
				    strcmp(wstate_name(w, p, &slot, now), "serving") == 0 ? 1 : 0);
				break;
			case 1:
				evbuffer_add_printf(out, "%s{worker=\"%u\"} %.3f\n", fam[f].name, i,
				    slot.heartbeat_ms > 0 ? (double)(now - slot.heartbeat_ms) / 1000.0 : 0.0);
				break;
			case 2:
				evbuffer_add_printf(out, "%s{worker=\"%u\"} %llu\n", fam[f].name, i,
				    (unsigned long long)p->restarts);
				break;
			case 3:
				evbuffer_add_printf(out, "%s{worker=\"%u\"} %u\n", fam[f].name, i, slot.conns_open);
				break;
			default:
				evbuffer_add_printf(out, "%s{worker=\"%u\"} %llu\n", fam[f].name, i,
				    (unsigned long long)slot.stats.requests);
				break;
			}
		}
	}
}
