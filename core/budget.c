/*
 * The server-wide budget of buffered bytes; see budget.h.
 *
 * Accounting is O(1) per change. Enforcement runs from a zero timer armed when the total passes the limit
 * (or, with connections paused, falls under three quarters of it), so never under the caller that reported
 * the change, which may hold the connection. Finding the largest holder is a scan of the connections; it
 * happens only while over the budget, at most BUDGET_MAX_ACTIONS times per run, and the run goes on from
 * the next loop iteration when more is needed. A run closes the largest holders that do not read their
 * responses (which gives their bytes back) and pauses the others until the paused bytes cover the excess;
 * "do not read" is judged by the bytes of the TLS stream the peer acknowledged, not by the output buffer,
 * which OpenSSL drains only once a whole response is written: a holder found sending is paused and looked at
 * again after BUDGET_STALL_MS, and closed only if it read nothing meanwhile, so that a slow reader of a large
 * response (a restore over a slow link) is not closed because others filled the budget;
 * a run starts again whenever bytes arrive while over, so growth past the budget is paused holder by holder,
 * largest first.
 *
 * Each client identity also has a share (server.max_buffered_per_identity): the bytes of its connections
 * summed in a hash table keyed by identity (an entry per identity with a connection, so at most
 * max_connections of them), also O(1) per change. Past its share an identity's connections are neither read
 * nor given another request for the engine (budget_may_dispatch(), asked before each one) until its bytes
 * are back under three quarters of the share: one tenant holds about its share and one response, whatever
 * its number of connections, and the others are not paused for what it holds.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "core/clock.h"
#include "core/budget.h"
#include "core/conn.h"
#include "core/server.h"
#include "core/siphash.h"

#define BUDGET_MAX_ACTIONS	16	/* connections paused or closed per run */
#define BUDGET_STALL_MS		1000	/* a holder with unsent output that read nothing this long is closed */
#define BUDGET_LOG_MS		10000	/* one line per identity's pauses per this many ms, the rest counted */
#define BUDGET_MAX_IDENT	4096	/* bytes of an identity name kept (tls_identity bounds them anyway) */

/* What one client identity holds over all its connections (those past their handshake). */
struct budget_ident {
	struct budget_ident *hnext;		/* hash chain */
	uint64_t hash;
	uint64_t held;
	unsigned conns;
	bool over;				/* past its share: its connections wait on the list below */
	bool queued;				/* on the budget's list of identities to resume */
	TAILQ_ENTRY(budget_ident) resume_entry;
	TAILQ_HEAD(, conn) waiting;		/* its connections paused for its share */
	int64_t logged_ms;			/* when its last pause was logged */
	unsigned unlogged;			/* pauses since, not logged */
	char name[];
};

struct budget {
	struct server *srv;
	struct event *ev;
	struct event *recheck;		/* a run after BUDGET_STALL_MS, for holders found sending */
	unsigned run;			/* runs so far: a connection acted on in this one is not picked again */
	uint64_t total;
	uint64_t high;			/* the total the last run left: only growth past it needs another */
	TAILQ_HEAD(, conn) paused;
	unsigned npaused;
	/* The identities: a hash table under a random key (clients choose their certificates' names). */
	struct budget_ident **buckets;
	size_t mask;				/* buckets - 1, a power of two minus one */
	size_t nident;
	uint64_t key[2];
	struct event *resume_ev;		/* resumes the identities back under their share, from the loop */
	TAILQ_HEAD(, budget_ident) resume;
};

static void budget_cb(evutil_socket_t fd, short what, void *arg);
static void budget_resume_cb(evutil_socket_t fd, short what, void *arg);
static void ident_charge(struct budget *b, struct conn *c, int64_t delta);

/* Returns a new budget for srv, or NULL when out of memory. */
struct budget *
budget_new(struct server *srv)
{
	struct budget *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->srv = srv;
	TAILQ_INIT(&b->paused);
	TAILQ_INIT(&b->resume);
	b->mask = 15;
	if (siphash_key(b->key) != 0 || (b->buckets = calloc(b->mask + 1, sizeof(*b->buckets))) == NULL ||
	    (b->ev = evtimer_new(srv->base, budget_cb, b)) == NULL ||
	    (b->recheck = evtimer_new(srv->base, budget_cb, b)) == NULL ||
	    (b->resume_ev = evtimer_new(srv->base, budget_resume_cb, b)) == NULL) {
		if (b->ev != NULL)
			event_free(b->ev);
		if (b->recheck != NULL)
			event_free(b->recheck);
		free(b->buckets);
		free(b);
		return NULL;
	}
	return b;
}

/* Frees the budget. */
void
budget_free(struct budget *b)
{
	if (b == NULL)
		return;
	event_free(b->ev);
	event_free(b->recheck);
	event_free(b->resume_ev);
	free(b->buckets);	/* empty: entries go with their last connection */
	free(b);
}

/* Returns the bytes all connections hold. */
uint64_t
budget_total(const struct budget *b)
{
	return b->total;
}

/* Arranges one run of budget_cb() from the loop's next iteration, after the I/O it polls. */
static void
budget_schedule(struct budget *b)
{
	static const struct timeval now = { 0, 0 };

	if (!evtimer_pending(b->ev, NULL))
		evtimer_add(b->ev, &now);
}

/* Returns the entry of identity name, or NULL. */
static struct budget_ident *
ident_find(struct budget *b, const char *name, uint64_t hash)
{
	struct budget_ident *id;

	for (id = b->buckets[hash & b->mask]; id != NULL; id = id->hnext)
		if (id->hash == hash && strcmp(id->name, name) == 0)
			return id;
	return NULL;
}

/* Doubles the table when it holds more entries than buckets, keeping chains short. Returns 0, or -1. */
static int
ident_grow(struct budget *b)
{
	struct budget_ident **nb, *id, *next;
	size_t n = (b->mask + 1) * 2, i;

	if (b->nident < b->mask + 1)
		return 0;
	if (n > SIZE_MAX / sizeof(*nb) || (nb = calloc(n, sizeof(*nb))) == NULL)
		return -1;
	for (i = 0; i <= b->mask; i++)
		for (id = b->buckets[i]; id != NULL; id = next) {
			next = id->hnext;
			id->hnext = nb[id->hash & (n - 1)];
			nb[id->hash & (n - 1)] = id;
		}
	free(b->buckets);
	b->buckets = nb;
	b->mask = n - 1;
	return 0;
}

/* Counts c, whose handshake named it c->who, under its identity; see budget.h. */
int
budget_conn_identified(struct budget *b, struct conn *c)
{
	size_t len = strnlen(c->who, BUDGET_MAX_IDENT);
	uint64_t hash = siphash24(b->key, c->who, len);
	struct budget_ident *id;

	if (len == BUDGET_MAX_IDENT)
		return -1;
	if ((id = ident_find(b, c->who, hash)) == NULL) {
		if (ident_grow(b) != 0 || (id = calloc(1, sizeof(*id) + len + 1)) == NULL)
			return -1;
		memcpy(id->name, c->who, len + 1);
		id->hash = hash;
		id->logged_ms = INT64_MIN / 2;
		TAILQ_INIT(&id->waiting);
		id->hnext = b->buckets[hash & b->mask];
		b->buckets[hash & b->mask] = id;
		b->nident++;
	}
	id->conns++;
	c->ident = id;
	/* What it read during the handshake counts from now: a handshaking connection has no identity yet. */
	if (c->held > 0)
		ident_charge(b, c, (int64_t)c->held);
	return 0;
}

/* Takes c off its identity's list of connections paused for the share. */
static void
ident_unpause(struct conn *c)
{
	if (!c->id_paused)
		return;
	TAILQ_REMOVE(&c->ident->waiting, c, id_entry);
	c->id_paused = false;
}

/* The identity's connection c closes: its bytes and itself no longer count; the entry goes with the last. */
static void
ident_conn_gone(struct budget *b, struct conn *c)
{
	struct budget_ident *id = c->ident, **pp;

	ident_charge(b, c, -(int64_t)(c->held <= id->held ? c->held : id->held));
	ident_unpause(c);
	c->ident = NULL;
	if (--id->conns > 0)
		return;
	if (id->queued)
		TAILQ_REMOVE(&b->resume, id, resume_entry);
	for (pp = &b->buckets[id->hash & b->mask]; *pp != id; pp = &(*pp)->hnext)
		;
	*pp = id->hnext;
	b->nident--;
	free(id);
}

/*
 * Adds delta to the bytes of c's identity. Past the share, the identity is marked over (its connections
 * pause themselves in budget_may_dispatch(), which holds no caller's state); back under three quarters of it,
 * its paused connections are resumed from the loop (budget_resume_cb), not under the caller reporting the
 * change, which may be inside a buffer's callback.
 */
static void
ident_charge(struct budget *b, struct conn *c, int64_t delta)
{
	static const struct timeval now = { 0, 0 };
	struct budget_ident *id = c->ident;
	uint64_t share = config_max_buffered_per_identity(b->srv->cfg);
	int64_t ms;

	if (delta < 0 && (uint64_t)-delta > id->held)
		delta = -(int64_t)id->held;
	id->held += (uint64_t)delta;
	if (delta > 0 && !id->over && id->held > share) {
		id->over = true;
		ms = clock_ms();
		if (ms - id->logged_ms < BUDGET_LOG_MS) {
			id->unlogged++;
			return;
		}
		conn_log(c, LOG_LEVEL_WARN, "paused: identity %s holds %" PRIu64 " bytes, over its share "
		    "server.max_buffered_per_identity (%" PRIu64 "): its connections wait (%u pauses not logged in "
		    "the last %d s)", id->name, id->held, share, id->unlogged, BUDGET_LOG_MS / 1000);
		id->logged_ms = ms;
		id->unlogged = 0;
	} else if (delta < 0 && id->over && id->held <= share / 4 * 3) {
		id->over = false;
		if (!id->queued && !TAILQ_EMPTY(&id->waiting)) {
			id->queued = true;
			TAILQ_INSERT_TAIL(&b->resume, id, resume_entry);
			if (!evtimer_pending(b->resume_ev, NULL))
				evtimer_add(b->resume_ev, &now);
		}
	}
}

/* See budget.h. */
bool
budget_may_dispatch(struct budget *b, struct conn *c)
{
	(void)b;
	if (c->ident == NULL || !c->ident->over)
		return true;
	if (!c->id_paused) {
		TAILQ_INSERT_TAIL(&c->ident->waiting, c, id_entry);
		c->id_paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
	return false;
}

/*
 * Resumes the connections of the identities that went back under their share: read again (unless the
 * server-wide budget holds them) and given a turn at the requests they have buffered.
 */
static void
budget_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct budget *b = arg;
	struct budget_ident *id;
	struct conn *c;

	(void)fd;
	(void)what;
	while ((id = TAILQ_FIRST(&b->resume)) != NULL) {
		TAILQ_REMOVE(&b->resume, id, resume_entry);
		id->queued = false;
		/* Over again meanwhile: its connections stay where they are. */
		while (!id->over && (c = TAILQ_FIRST(&id->waiting)) != NULL) {
			ident_unpause(c);
			if (c->state != CONN_READING)
				continue;
			if (!c->paused)
				bufferevent_enable(c->bev, EV_READ);
			bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		}
	}
}

/* Accounts for a change of c's buffers; see budget.h. */
void
budget_charge(struct budget *b, struct conn *c, int64_t delta)
{
	uint64_t limit;

	if (delta == 0)
		return;
	if (delta < 0 && (uint64_t)-delta > c->held)
		delta = -(int64_t)c->held;	/* never below zero, whatever the order of the reports */
	c->held += (uint64_t)delta;
	b->total += (uint64_t)delta;
	if (c->ident != NULL)
		ident_charge(b, c, delta);
	limit = config_max_buffered(b->srv->cfg);
	/* Past the limit, a run is due for growth beyond what the last run left, not for every change. */
	if (delta < 0 && b->high > b->total)
		b->high = b->total;
	if (delta > 0 ? b->total > limit && b->total > b->high : b->npaused > 0 && b->total <= limit / 4 * 3)
		budget_schedule(b);
}

/* Stops a paused connection from being resumed: it is going away. */
static void
unpause(struct budget *b, struct conn *c)
{
	if (!c->paused)
		return;
	TAILQ_REMOVE(&b->paused, c, paused_entry);
	b->npaused--;
	c->paused = false;
}

/* Releases a closing connection's share. */
void
budget_conn_gone(struct budget *b, struct conn *c)
{
	if (c->ident != NULL)
		ident_conn_gone(b, c);
	b->total -= c->held <= b->total ? c->held : b->total;
	c->held = 0;
	if (b->high > b->total)
		b->high = b->total;
	unpause(b, c);
	/* Closes report no change of a buffer: without this, the others stay paused until something else moves. */
	if (b->npaused > 0 && b->total <= config_max_buffered(b->srv->cfg) / 4 * 3)
		budget_schedule(b);
}

/*
 * The connection holding the most that can still be acted on: not closing, not acted on in this run, not
 * already paused unless it has responses to send (then it is to be closed if it stopped reading them, looked
 * at once BUDGET_STALL_MS after it was last found reading), and holding at least BUDGET_FLOOR.
 */
static struct conn *
largest_holder(struct budget *b, int64_t now)
{
	struct conn *c, *best = NULL;

	TAILQ_FOREACH(c, &b->srv->conns, entry) {
		if (c->held < BUDGET_FLOOR || c->state == CONN_CLOSING || (c->paused && c->state != CONN_WRITING) ||
		    c->budget_run == b->run)
			continue;
		/* Found sending a moment ago: nothing to decide about it before BUDGET_STALL_MS. */
		if (c->paused && now - c->budget_seen_ms < BUDGET_STALL_MS)
			continue;
		if (best == NULL || c->held > best->held)
			best = c;
	}
	return best;
}

/*
 * Bytes of c's TLS stream the peer has acknowledged: written to the socket by the TLS layer less what the
 * socket still holds unacknowledged. They grow while the client reads, in steps of a TCP window rather
 * than of the socket buffer (what the TLS layer writes alone moves only when megabytes have drained).
 */
static uint64_t
conn_sent(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	BIO *wbio = ssl != NULL ? SSL_get_wbio(ssl) : NULL;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	uint64_t sent = wbio != NULL ? BIO_number_written(wbio) : 0;
	int queued = 0;

	if (fd >= 0 && ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0 && (uint64_t)queued <= sent)
		sent -= (uint64_t)queued;
	return sent;
}

/* Takes c off the read side until the budget resumes it. */
static void
pause_conn(struct budget *b, struct conn *c)
{
	c->paused = true;
	TAILQ_INSERT_TAIL(&b->paused, c, paused_entry);
	b->npaused++;
	bufferevent_disable(c->bev, EV_READ);
}

/*
 * Over the budget: closes the largest holders that do not read their responses and pauses the others, until
 * the total is under the limit. Under three quarters of it: resumes every paused connection.
 */
static void
budget_cb(evutil_socket_t fd, short what, void *arg)
{
	struct budget *b = arg;
	uint64_t limit = config_max_buffered(b->srv->cfg);
	struct conn *c;
	unsigned actions = 0, spared = 0;
	uint64_t covered = 0, sent;
	int64_t now = clock_ms();
	bool sending = false;

	(void)fd;
	(void)what;
	b->run++;
	/*
	 * A close gives its bytes back; a pause only stops them from growing, so pausing stops once the paused
	 * bytes cover the excess. If more arrives while still over, the next run pauses the next largest.
	 */
	while (b->total > limit && covered < b->total - limit && actions < BUDGET_MAX_ACTIONS &&
	    spared < BUDGET_MAX_ACTIONS &&
	    (c = largest_holder(b, now)) != NULL) {
		c->budget_run = b->run;
		if (c->state == CONN_WRITING && (sent = conn_sent(c), !c->paused || sent != c->budget_sent ||
		    now - c->budget_seen_ms < BUDGET_STALL_MS)) {
			/* It may be reading a large response slowly: paused, and closed later only if it stops. */
			if (!c->paused || sent != c->budget_sent) {
				c->budget_sent = sent;
				c->budget_seen_ms = now;
			}
			if (!c->paused) {
				conn_log(c, LOG_LEVEL_WARN, "paused: over server.max_buffered (%" PRIu64 " of %" PRIu64
				    " bytes held by all connections), this one holds %" PRIu64 " in responses it is sent",
				    b->total, limit, c->held);
				pause_conn(b, c);
			}
			/*
			 * Not counted as covering the excess: it does not grow, and shrinks only as fast as it reads.
			 * Until BUDGET_STALL_MS have passed, runs look past it (largest_holder).
			 */
			spared++;
			sending = true;
			continue;
		}
		actions++;
		if (c->state == CONN_WRITING) {
			c->tls_failed = true;
			conn_close_now(c, LOG_LEVEL_WARN, "over server.max_buffered (%" PRIu64 " of %" PRIu64 " bytes "
			    "held by all connections): this one holds %" PRIu64 " and does not read its responses",
			    b->total, limit, c->held);
			continue;
		}
		conn_log(c, LOG_LEVEL_WARN, "paused: over server.max_buffered (%" PRIu64 " of %" PRIu64 " bytes "
		    "held by all connections), this one holds %" PRIu64, b->total, limit, c->held);
		covered += c->held;
		pause_conn(b, c);
	}
	b->high = b->total;
	/* Those found sending are looked at again, whether or not anything grows meanwhile. */
	if (sending && b->total > limit) {
		struct timeval tv = { BUDGET_STALL_MS / 1000, (BUDGET_STALL_MS % 1000) * 1000 };

		evtimer_add(b->recheck, &tv);
	}
	if (b->total > limit && covered < b->total - limit &&
	    (actions == BUDGET_MAX_ACTIONS || spared == BUDGET_MAX_ACTIONS)) {
		budget_schedule(b);
		return;
	}
	if (b->total > limit / 4 * 3)
		return;
	while ((c = TAILQ_FIRST(&b->paused)) != NULL) {
		unpause(b, c);
		conn_log(c, LOG_LEVEL_INFO, "resumed: all connections hold %" PRIu64 " bytes, under server.max_buffered",
		    b->total);
		if (c->state == CONN_READING && !c->id_paused) {
			bufferevent_enable(c->bev, EV_READ);
			conn_read_buffered(c);	/* records read ahead before the pause wait for no socket event */
		}
	}
}
