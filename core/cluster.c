/*
 * The clustered store: see cluster.h. One watch applies etcd's writes to LMDB in revision order; the group
 * commit's transactions go through the etcd client's one queue, one at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/cluster.h"
#include "core/config.h"
#include "core/engine/engine.h"
#include "core/etcd.h"
#include "core/log.h"
#include "store/store.h"

#define KEY_MAX			(64 + 8 + STORE_UID_MAX)	/* prefix, "nodes/" or "o/", a uid or a name */
#define TXN_MAX_OPS		128		/* etcd's --max-txn-ops default */
#define TXN_MAX_BYTES		(1536u * 1024)	/* request JSON: about 1.1 MiB of values, under etcd's 1.5 MiB */
#define RESYNC_PAGE		256		/* keys per Range page of a resynchronisation */
#define WATCH_RETRY_MS		200		/* before a broken watch starts again (doubling, at most 2 s) */
#define WATCH_LIVENESS_MS	(24 * 3600 * 1000)	/* the heartbeat proves liveness, not etcd's progress notify */
/* A write etcd acknowledged comes back on a working watch within milliseconds: past this, it is stuck. */
#define WATCH_STUCK_MS(hb)	(2 * (uint64_t)(hb) + 1000)

#define MSG_UNREACHABLE	"the cluster store (etcd) cannot be reached from this node: nothing was changed; send it " \
	"again later, or to another node"
#define MSG_UNKNOWN	"the cluster store (etcd) did not answer this write: it may or may not have been made; " \
	"read the object before sending it again"
#define MSG_REFUSED	"the cluster store (etcd) refused this write: nothing was changed (see the server log)"

struct cluster {
	struct event_base *base;
	const struct kmipd_config *cfg;
	struct store *store;
	struct etcd *etcd;
	struct engine *engine;
	cluster_fatal_fn fatal;
	void *fatal_arg;
	bool starting;			/* cluster_catch_up's: stops at ready */
	bool keyring_done;		/* starting: the keyring is in etcd */
	bool keyring_in_flight;
	bool ready;			/* caught up once */
	bool failed;			/* fatal, or a start that cannot go on */
	char *cause;			/* why (starting) */
	char node[65];
	char policy[65];
	uint8_t prefix[64];
	size_t prefix_len;
	uint64_t cluster_id;		/* etcd's, as the store noted it (0: not yet) */

	/* The watch, and how far this process applied etcd's log. */
	struct etcd_watch *watch;
	struct event *watch_ev;		/* restarts it */
	int watch_backoff_ms;
	uint64_t position;
	uint64_t start_beat;		/* starting: ready once the position reaches it */
	/* A resynchronisation (etcd compacted past the position): pages of a Range at resync_rev. */
	bool resyncing;
	bool resync_keyring;		/* its keyring is read and applied */
	uint64_t resync_rev;
	uint8_t resync_from[KEY_MAX];
	size_t resync_from_len;

	/* Freshness: the last proof, and the newest write of ours still to come back on the watch. */
	uint64_t fresh_at_ms;
	bool proof_pending;
	uint64_t proof_rev, proof_sent_ms;
	uint64_t proof_first_ms;	/* when the oldest write still to come back was sent */
	struct event *beat_ev;
	bool beat_in_flight;
	uint64_t beat_sent_ms;
	uint64_t beat_since;		/* the position when it was sent */
	enum cluster_state state;

	/* The group in flight. */
	struct store_rgroup *g;
	struct store_rtxn t;		/* its transaction being sent (valid until the next store_repl_next) */
	size_t *range_of;		/* the failure branch's ranges: index of their compare */
	size_t nranges, ranges_cap;
	uint64_t sent_ms;
	uint64_t sent_since;		/* the position when the transaction (or the keyring's) was sent */
	uint64_t watch_since;		/* the position when the watch started */
	uint64_t watch_restarted_ms;	/* the last restart of a stuck watch */
	uint64_t resync_since;
	struct event *done_ev;		/* hands the group back to the engine, from the loop */
	struct event *apply_ev;		/* the deadline of waiting for the watch to apply it */
	bool waiting_apply;

	struct cluster_peer peers[CLUSTER_MAX_PEERS];
	size_t npeers;
	uint64_t n_txns, n_conflicts, n_unknown, n_refused, n_bad, n_resyncs;
};

static void watch_start(struct cluster *c);
static void send_next(struct cluster *c);
static void group_done(struct cluster *c);
static void start_step(struct cluster *c);

/* Milliseconds on the monotonic clock. */
static uint64_t
now_ms(void)
{
	return (uint64_t)clock_ms();
}

/* Stops the node for good: logged once; the starting loop ends, a running node's server exits with 1. */
static void __attribute__((format(printf, 2, 3)))
fail(struct cluster *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = true;
	if (c->starting) {
		free(c->cause);
		c->cause = strdup(msg);
		event_base_loopbreak(c->base);
		return;
	}
	log_error("cluster: %s", msg);
	if (c->fatal != NULL)
		c->fatal(c->fatal_arg);
}

/*
 * Checks the etcd cluster a reply came from: the one this store copied from, noted by the first reply (a
 * cluster restored from a snapshot or built anew has another id, and maybe revisions above this node's).
 */
static bool
cluster_id_ok(struct cluster *c, uint64_t id)
{
	int rc;

	if (id == 0 || id == c->cluster_id)
		return true;
	if (c->cluster_id == 0) {
		if ((rc = store_repl_cluster(c->store, &c->cluster_id, id)) != STORE_OK) {
			fail(c, "cannot note etcd's cluster id in the store: %s", store_strerror(rc));
			return false;
		}
		if (c->cluster_id == id)
			return true;
	}
	fail(c, "etcd's cluster id is %016" PRIx64 ", not %016" PRIx64 " whose records this node holds: etcd was "
	    "restored from a snapshot or replaced. Stopping. To follow this etcd, empty store.path and start again "
	    "(the node copies everything)", id, c->cluster_id);
	return false;
}

/*
 * Checks a reply's revision against what was applied when its request was sent (since: a reply made after
 * that is at a revision at least as high): below it, etcd went backwards, which stops the node. Replies on
 * other connections may lag the watch, so only the position at sending time is a fair bound.
 */
static bool
revision_ok(struct cluster *c, int64_t revision, uint64_t since)
{
	if (revision <= 0 || (uint64_t)revision >= since)
		return true;
	fail(c, "etcd's revision %" PRId64 " went backwards: this node had applied up to %" PRIu64 ", so etcd was "
	    "restored from an older snapshot or replaced; this node's copy holds writes etcd no longer has. "
	    "Stopping. To follow this etcd, empty store.path and start again (the node copies everything)",
	    revision, since);
	return false;
}

/* prefix + part + name into key (KEY_MAX bytes); its length. */
static size_t
make_key(const struct cluster *c, const char *part, const char *name, size_t name_len, uint8_t *key)
{
	size_t pl = strlen(part);

	memcpy(key, c->prefix, c->prefix_len);
	memcpy(key + c->prefix_len, part, pl);
	memcpy(key + c->prefix_len + pl, name, name_len);
	return c->prefix_len + pl + name_len;
}

/* The part of key after prefix + part, or NULL when key is not one of those. */
static const char *
key_rest(const struct cluster *c, const uint8_t *key, size_t len, const char *part, size_t *rest_len)
{
	size_t pl = strlen(part);

	if (len < c->prefix_len + pl || memcmp(key, c->prefix, c->prefix_len) != 0 ||
	    memcmp(key + c->prefix_len, part, pl) != 0)
		return NULL;
	*rest_len = len - c->prefix_len - pl;
	return (const char *)key + c->prefix_len + pl;
}

/* ---- Freshness ---- */

/* The state from the last proof's age; logs the changes. */
static void
update_state(struct cluster *c)
{
	uint64_t age = now_ms() - c->fresh_at_ms;
	uint64_t cut = 3 * (uint64_t)c->cfg->store.etcd_heartbeat + c->cfg->store.etcd_request_timeout;
	enum cluster_state s;

	if (!c->ready)
		return;
	if (age > (uint64_t)c->cfg->store.max_staleness * 1000)
		s = CLUSTER_STALE;
	else if (age > cut)
		s = CLUSTER_CUT_OFF;
	else
		s = CLUSTER_CURRENT;
	if (s == c->state)
		return;
	if (s == CLUSTER_CURRENT)
		log_warnx("cluster: current again at revision %" PRIu64 " (applied from etcd through %s)", c->position,
		    etcd_endpoint(c->etcd));
	else if (c->state == CLUSTER_CURRENT)
		log_warnx("cluster: cut off from etcd: no proof of being current for %" PRIu64 " ms; writes are "
		    "refused, reads served until store.max_staleness (%u s)", age, c->cfg->store.max_staleness);
	if (s == CLUSTER_STALE)
		log_warnx("cluster: out of touch with etcd for more than store.max_staleness (%u s): object requests "
		    "are refused until this node has caught up", c->cfg->store.max_staleness);
	c->state = s;
}

/* A write of ours committed at rev, sent at sent_ms: a proof once the watch has applied rev. */
static void
note_proof(struct cluster *c, uint64_t rev, uint64_t sent_ms)
{
	if (c->position >= rev) {
		if (sent_ms > c->fresh_at_ms)
			c->fresh_at_ms = sent_ms;
		update_state(c);
		return;
	}
	if (!c->proof_pending)
		c->proof_first_ms = sent_ms;
	if (!c->proof_pending || rev > c->proof_rev) {
		c->proof_pending = true;
		c->proof_rev = rev;
		c->proof_sent_ms = sent_ms;
	}
}

/* The watch applied through c->position: proofs, the start, the group waiting for its writes. */
static void
position_moved(struct cluster *c)
{
	if (c->proof_pending && c->position >= c->proof_rev) {
		c->proof_pending = false;
		if (c->proof_sent_ms > c->fresh_at_ms)
			c->fresh_at_ms = c->proof_sent_ms;
		update_state(c);
	}
	if (c->starting && !c->ready && c->start_beat != 0 && c->position >= c->start_beat) {
		c->ready = true;
		event_base_loopbreak(c->base);
	}
	if (c->waiting_apply && c->g != NULL && c->position >= store_repl_revision(c->g))
		group_done(c);
}

/* ---- Peers ---- */

/* A node's heartbeat value: "policy=HEX applied=N time=N". */
static void
note_peer(struct cluster *c, const char *name, size_t name_len, const uint8_t *v, size_t vlen, bool deleted)
{
	struct cluster_peer *p = NULL;
	char text[256], before[65], *s;
	size_t i;

	if (name_len == 0 || name_len >= sizeof(p->name))
		return;
	for (i = 0; i < c->npeers; i++)
		if (strlen(c->peers[i].name) == name_len && memcmp(c->peers[i].name, name, name_len) == 0)
			p = &c->peers[i];
	if (deleted) {
		if (p != NULL)
			*p = c->peers[--c->npeers];
		return;
	}
	if (p == NULL) {
		if (c->npeers == CLUSTER_MAX_PEERS)
			return;
		p = &c->peers[c->npeers++];
		memset(p, 0, sizeof(*p));
		memcpy(p->name, name, name_len);
	}
	snprintf(before, sizeof(before), "%s", p->policy);
	snprintf(text, sizeof(text), "%.*s", (int)(vlen < sizeof(text) - 1 ? vlen : sizeof(text) - 1), (const char *)v);
	if ((s = strstr(text, "policy=")) != NULL && strspn(s + 7, "0123456789abcdef") == 64)
		snprintf(p->policy, sizeof(p->policy), "%.64s", s + 7);
	if ((s = strstr(text, "applied=")) != NULL)
		p->applied = strtoull(s + 8, NULL, 10);
	if ((s = strstr(text, "time=")) != NULL)
		p->time = strtoll(s + 5, NULL, 10);
	if (p->policy[0] != '\0' && strcmp(p->policy, c->policy) != 0 && strcmp(p->name, c->node) != 0 &&
	    strcmp(p->policy, before) != 0)
		log_warnx("cluster: node %s runs another access policy (sha256 %.12s..., this node %.12s...): the "
		    "nodes must share one", p->name, p->policy, c->policy);
}

/* ---- The watch ---- */

/* Converts a batch of watch events into the store's, noting heartbeats; n_out events written to out. */
static size_t
convert_events(struct cluster *c, const struct etcdj_reply *item, size_t first, size_t n, struct store_revent *out)
{
	const struct etcdj_event *ev;
	const struct etcdj_kv *kv;
	const char *rest;
	size_t i, k = 0, rl;

	for (i = first; i < first + n; i++) {
		ev = &item->events[i];
		kv = &item->kvs[ev->kv];
		memset(&out[k], 0, sizeof(out[k]));
		out[k].deleted = ev->type == ETCDJ_DELETE;
		out[k].mod_rev = (uint64_t)kv->mod_revision;
		out[k].value = kv->value;
		out[k].value_len = kv->value_len;
		if ((rest = key_rest(c, kv->key, kv->key_len, "o/", &rl)) != NULL) {
			out[k].kind = STORE_R_OBJECT;
			out[k].uid = rest;
			out[k].uid_len = rl;
			k++;
		} else if ((rest = key_rest(c, kv->key, kv->key_len, "keyring", &rl)) != NULL && rl == 0) {
			out[k].kind = STORE_R_KEYRING;
			k++;
		} else if ((rest = key_rest(c, kv->key, kv->key_len, "nodes/", &rl)) != NULL) {
			note_peer(c, rest, rl, kv->value, kv->value_len, out[k].deleted);
		}
	}
	return k;
}

/* Applies a watch batch; through: the revision every event up to which was delivered. */
static void
apply_events(struct cluster *c, const struct etcdj_reply *item, size_t first, size_t n)
{
	struct store_revent *evs;
	uint64_t through, bad = 0;
	size_t k;
	int rc;

	if (n == 0)
		return;
	if (first + n < item->n_events)
		through = (uint64_t)item->kvs[item->events[first + n].kv].mod_revision - 1;
	else if (item->fragment)	/* the next fragment may hold more of the last revision */
		through = (uint64_t)item->kvs[item->events[first + n - 1].kv].mod_revision - 1;
	else
		through = (uint64_t)item->kvs[item->events[first + n - 1].kv].mod_revision;
	if ((evs = calloc(n, sizeof(*evs))) == NULL) {
		log_error("cluster: out of memory applying etcd's writes; the watch starts again");
		etcd_watch_free(c->watch);
		c->watch = NULL;
		event_active(c->watch_ev, EV_TIMEOUT, 0);
		return;
	}
	k = convert_events(c, item, first, n, evs);
	rc = store_repl_apply(c->store, evs, k, through, &bad);
	free(evs);
	if (rc == STORE_E_INVALID) {
		fail(c, "the keyring in etcd does not open with this node's master key (%s): every node must hold the "
		    "same master key. Stopping before this node writes anything the others cannot read",
		    store_last_error(c->store));
		return;
	}
	if (rc != STORE_OK) {
		/* Nothing of the batch is kept: the watch starts again from the position and brings it back. */
		log_error("cluster: cannot apply etcd's writes up to revision %" PRIu64 ": %s (%s); trying again",
		    through, store_strerror(rc), store_last_error(c->store));
		etcd_watch_free(c->watch);
		c->watch = NULL;
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
		return;
	}
	if (bad > 0) {
		c->n_bad += bad;
		log_error("cluster: %" PRIu64 " record(s) in etcd up to revision %" PRIu64 " are not kmipd's and were "
		    "skipped: %s", bad, through, store_last_error(c->store));
	}
	if (through <= c->position)
		return;
	c->position = through;
	position_moved(c);
}

static void resync_page(struct cluster *c);

/* What the watch reports: events applied, progress, a compacted start (resynchronise), a broken stream. */
static void
watch_cb(const struct etcd_watch_report *rep, void *arg)
{
	struct cluster *c = arg;

	switch (rep->what) {
	case ETCD_WATCH_CREATED:
		c->watch_backoff_ms = 0;
		if (rep->item != NULL && cluster_id_ok(c, rep->item->header.cluster_id))
			(void)revision_ok(c, rep->revision, c->watch_since);
		break;
	case ETCD_WATCH_EVENTS:
		apply_events(c, rep->item, rep->first, rep->n);
		break;
	case ETCD_WATCH_PROGRESS:
		/* Everything up to its revision was delivered (etcd sends it only to a watcher in sync). */
		if (!revision_ok(c, rep->revision, c->watch_since))
			break;
		if ((uint64_t)rep->revision > c->position) {
			c->position = (uint64_t)rep->revision;
			position_moved(c);
		}
		note_proof(c, (uint64_t)rep->revision, now_ms());
		break;
	case ETCD_WATCH_COMPACTED:
		log_warnx("cluster: etcd compacted its history past revision %" PRIu64 " (oldest left %" PRId64 "): "
		    "copying every record again from a Range", c->position + 1, rep->compact_revision);
		etcd_watch_free(c->watch);
		c->watch = NULL;
		c->resyncing = true;
		c->resync_keyring = false;
		c->resync_rev = 0;
		c->resync_from_len = 0;
		c->n_resyncs++;
		resync_page(c);
		break;
	case ETCD_WATCH_CANCELED:
	case ETCD_WATCH_ERROR:
		log_warnx("cluster: the watch on %s stopped: %s; starting again from revision %" PRIu64,
		    rep->endpoint != NULL ? rep->endpoint : "etcd", rep->reason != NULL ? rep->reason : "?",
		    c->position + 1);
		etcd_watch_free(c->watch);
		c->watch = NULL;
		c->watch_backoff_ms = c->watch_backoff_ms == 0 ? WATCH_RETRY_MS : c->watch_backoff_ms * 2;
		if (c->watch_backoff_ms > 2000)
			c->watch_backoff_ms = 2000;
		event_add(c->watch_ev, &(struct timeval){ c->watch_backoff_ms / 1000,
		    (c->watch_backoff_ms % 1000) * 1000 });
		break;
	}
}

/* Starts the watch of every key under the prefix from the revision after the position. */
static void
watch_start(struct cluster *c)
{
	struct etcd_watch_options o;
	char *cause = NULL;

	if (c->watch != NULL || c->resyncing || c->failed)
		return;
	memset(&o, 0, sizeof(o));
	o.key = c->prefix;
	o.key_len = c->prefix_len;
	o.prefix = true;
	o.start_revision = (int64_t)c->position + 1;
	c->watch_since = c->position;
	o.progress_notify = true;
	o.fragment = true;
	o.liveness_ms = WATCH_LIVENESS_MS;
	if ((c->watch = etcd_watch_start(c->etcd, &o, watch_cb, c, &cause)) == NULL) {
		log_error("cluster: cannot start the watch: %s; trying again in a second", cause ? cause : "?");
		free(cause);
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
	}
}

/* Starts the watch again after a delay. */
static void
watch_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_start(arg);
}

/* ---- Resynchronisation ---- */

/* One page of the resynchronising Range: applied, then the next page, or the watch from its revision. */
static void
resync_cb(const struct etcd_result *res, void *arg)
{
	struct cluster *c = arg;
	const struct etcdj_reply *r = res->reply;
	struct store_revent *kvs = NULL;
	uint64_t bad = 0;
	const char *rest;
	size_t i, n = 0, rl;
	bool last;
	int rc;

	if (res->status != ETCD_OK) {
		log_warnx("cluster: resynchronising: %s; trying again", res->reason);
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });	/* watch_start is off while resyncing */
		c->resyncing = false;
		return;
	}
	if (!cluster_id_ok(c, r->header.cluster_id) || !revision_ok(c, r->header.revision, c->resync_since))
		return;
	if (c->resync_rev == 0)
		c->resync_rev = (uint64_t)r->header.revision;
	if (r->n_kvs > 0 && (kvs = calloc(r->n_kvs, sizeof(*kvs))) == NULL) {
		log_error("cluster: out of memory resynchronising; trying again");
		c->resyncing = false;
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
		return;
	}
	for (i = 0; i < r->n_kvs; i++) {
		if ((rest = key_rest(c, r->kvs[i].key, r->kvs[i].key_len, "o/", &rl)) == NULL)
			continue;
		kvs[n].kind = STORE_R_OBJECT;
		kvs[n].uid = rest;
		kvs[n].uid_len = rl;
		kvs[n].value = r->kvs[i].value;
		kvs[n].value_len = r->kvs[i].value_len;
		kvs[n].mod_rev = (uint64_t)r->kvs[i].mod_revision;
		n++;
	}
	last = !r->more || r->n_kvs == 0;
	rc = store_repl_resync(c->store, kvs, n, (const char *)c->resync_from, c->resync_from_len, last,
	    c->resync_rev, &bad);
	if (rc == STORE_OK && !last) {
		memcpy(c->resync_from, kvs[n - 1].uid, kvs[n - 1].uid_len);
		c->resync_from_len = kvs[n - 1].uid_len;
	}
	free(kvs);
	if (rc != STORE_OK) {
		log_error("cluster: resynchronising: %s (%s); starting over", store_strerror(rc),
		    store_last_error(c->store));
		c->resyncing = false;
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
		return;
	}
	c->n_bad += bad;
	if (!last) {
		resync_page(c);
		return;
	}
	log_warnx("cluster: resynchronised from etcd at revision %" PRIu64, c->resync_rev);
	c->resyncing = false;
	if (c->resync_rev > c->position)
		c->position = c->resync_rev;
	watch_start(c);
	position_moved(c);
}

/* The keyring read at the start of a resynchronisation: applied like a watch event, then the object pages. */
static void
resync_keyring_cb(const struct etcd_result *res, void *arg)
{
	struct cluster *c = arg;
	const struct etcdj_reply *r = res->reply;
	struct store_revent ev;
	uint64_t bad = 0;
	int rc;

	if (res->status != ETCD_OK) {
		log_warnx("cluster: resynchronising: %s; trying again", res->reason);
		c->resyncing = false;
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
		return;
	}
	if (!cluster_id_ok(c, r->header.cluster_id) || !revision_ok(c, r->header.revision, c->resync_since))
		return;
	if (r->n_kvs > 0) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = STORE_R_KEYRING;
		ev.value = r->kvs[0].value;
		ev.value_len = r->kvs[0].value_len;
		ev.mod_rev = (uint64_t)r->kvs[0].mod_revision;
		if ((rc = store_repl_apply(c->store, &ev, 1, 0, &bad)) == STORE_E_INVALID) {
			fail(c, "the keyring in etcd does not open with this node's master key (%s): every node must "
			    "hold the same master key. Stopping before this node writes anything the others cannot read",
			    store_last_error(c->store));
			return;
		}
		if (rc != STORE_OK) {
			log_error("cluster: resynchronising the keyring: %s (%s); starting over", store_strerror(rc),
			    store_last_error(c->store));
			c->resyncing = false;
			event_add(c->watch_ev, &(struct timeval){ 1, 0 });
			return;
		}
	}
	c->resync_keyring = true;
	resync_page(c);
}

/* Reads the next page: first the keyring (applied as an event), then the objects from resync_from on. */
static void
resync_page(struct cluster *c)
{
	uint8_t key[KEY_MAX], end[KEY_MAX];
	struct etcd_range r;
	size_t kl, el;

	memset(&r, 0, sizeof(r));
	if (!c->resync_keyring) {
		kl = make_key(c, "keyring", "", 0, key);
		r.key = key;
		r.key_len = kl;
		c->resync_since = c->position;
		if (etcd_range(c->etcd, &r, resync_keyring_cb, c) != 0) {
			log_error("cluster: resynchronising: the etcd queue is full; trying again");
			c->resyncing = false;
			event_add(c->watch_ev, &(struct timeval){ 1, 0 });
		}
		return;
	}
	kl = make_key(c, "o/", (const char *)c->resync_from, c->resync_from_len, key);
	if (c->resync_from_len > 0)
		key[kl++] = '\0';	/* the key right after the last one read */
	el = make_key(c, "o", "", 0, end);
	end[el++] = '/' + 1;
	r.key = key;
	r.key_len = kl;
	r.range_end = end;
	r.range_end_len = el;
	r.limit = RESYNC_PAGE;
	r.revision = (int64_t)c->resync_rev;
	c->resync_since = c->resync_rev != 0 ? c->resync_rev : c->position;
	if (etcd_range(c->etcd, &r, resync_cb, c) != 0) {
		log_error("cluster: resynchronising: the etcd queue is full; trying again");
		c->resyncing = false;
		event_add(c->watch_ev, &(struct timeval){ 1, 0 });
	}
}

/* ---- The heartbeat ---- */

/* etcd took the heartbeat: its revision proves the node current once the watch brings it back. */
static void
beat_cb(const struct etcd_result *res, void *arg)
{
	struct cluster *c = arg;

	c->beat_in_flight = false;
	if (res->status != ETCD_OK) {
		log_debug("cluster: heartbeat to %s: %s", res->endpoint != NULL ? res->endpoint : "etcd", res->reason);
		update_state(c);
		return;
	}
	if (!cluster_id_ok(c, res->reply->header.cluster_id) ||
	    !revision_ok(c, res->reply->header.revision, c->beat_since))
		return;
	if (c->starting && c->start_beat == 0) {
		c->start_beat = (uint64_t)res->reply->header.revision;
		position_moved(c);
		return;
	}
	note_proof(c, (uint64_t)res->reply->header.revision, c->beat_sent_ms);
}

/* Writes this node's key: its policy's hash, what it applied, the time. */
static int
beat_send(struct cluster *c)
{
	uint8_t key[KEY_MAX];
	char value[160];
	size_t kl = make_key(c, "nodes/", c->node, strlen(c->node), key);
	int n;

	n = snprintf(value, sizeof(value), "policy=%s applied=%" PRIu64 " time=%lld", c->policy, c->position,
	    (long long)time(NULL));
	if (etcd_put(c->etcd, key, kl, (const uint8_t *)value, (size_t)n, beat_cb, c) != 0)
		return -1;
	c->beat_in_flight = true;
	c->beat_sent_ms = now_ms();
	c->beat_since = c->position;
	return 0;
}

/* Every store.etcd_heartbeat: a heartbeat unless a write proved the node current meanwhile. */
static void
beat_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	unsigned hb = c->cfg->store.etcd_heartbeat;

	(void)fd;
	(void)what;
	update_state(c);
	/*
	 * A write of ours that etcd committed long ago and the watch has not brought back: the watch is stuck (a
	 * member stopped or cut off keeps the connection open and silent). Start it again, where the requests go.
	 */
	if (c->proof_pending && c->watch != NULL && !c->resyncing &&
	    now_ms() - c->proof_first_ms > WATCH_STUCK_MS(hb) && now_ms() - c->watch_restarted_ms > WATCH_STUCK_MS(hb)) {
		log_warnx("cluster: the watch has not brought back revision %" PRIu64 " committed %" PRIu64 " ms ago: "
		    "starting it again from revision %" PRIu64 " on %s", c->proof_rev, now_ms() - c->proof_first_ms,
		    c->position + 1, etcd_endpoint(c->etcd));
		etcd_watch_free(c->watch);
		c->watch = NULL;
		c->watch_restarted_ms = now_ms();	/* once per such period */
		watch_start(c);
	}
	if (!c->beat_in_flight && now_ms() - c->fresh_at_ms >= hb && !c->proof_pending)
		(void)beat_send(c);
	else if (!c->beat_in_flight && c->proof_pending && now_ms() - c->proof_sent_ms > 2 * (uint64_t)hb)
		(void)beat_send(c);	/* a proof that does not come back: try a newer one */
	event_add(c->beat_ev, &(struct timeval){ hb / 1000, (hb % 1000) * 1000 });
}

/* ---- Writes ---- */

/* The group is decided and applied (or waited for long enough): back to the engine, from the loop. */
static void
group_done(struct cluster *c)
{
	if (c->g != NULL)
		log_debug("cluster: group done at revision %" PRIu64 ", %" PRIu64 " ms after its last transaction "
		    "was sent", c->position, now_ms() - c->sent_ms);
	c->waiting_apply = false;
	event_del(c->apply_ev);
	event_active(c->done_ev, EV_TIMEOUT, 0);
}

/* From the loop: the group goes back to the engine. */
static void
done_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	struct store_rgroup *g = c->g;

	(void)fd;
	(void)what;
	if (g == NULL)
		return;
	c->g = NULL;
	if (c->engine != NULL)
		engine_replicated(c->engine, g);
	else
		store_repl_finish(c->store, g, NULL, NULL);
}

/* The watch did not bring the group's writes within the request timeout: they are committed all the same. */
static void
apply_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;

	(void)fd;
	(void)what;
	if (!c->waiting_apply)
		return;
	log_warnx("cluster: etcd committed a write at revision %" PRIu64 " that the watch has not brought back "
	    "within store.etcd_request_timeout; answering it as made (reads on this node may not show it yet)",
	    c->g != NULL ? store_repl_revision(c->g) : 0);
	group_done(c);
}

/* Every transaction is decided: wait until the watch applied the last one, then hand the group back. */
static void
wait_applied(struct cluster *c)
{
	uint64_t rev = store_repl_revision(c->g);
	unsigned t = c->cfg->store.etcd_request_timeout;

	if (rev == 0 || c->position >= rev) {
		group_done(c);
		return;
	}
	c->waiting_apply = true;
	event_add(c->apply_ev, &(struct timeval){ t / 1000, (t % 1000) * 1000 });
}

/* The outcome of the group's transaction: committed, a compare failed, refused, unknown, unreachable. */
static void
txn_cb(const struct etcd_result *res, void *arg)
{
	struct cluster *c = arg;
	const struct etcdj_reply *r = res->reply;
	const struct etcdj_response *rr;
	struct store_rcur *cur;
	size_t i, n;

	switch (res->status) {
	case ETCD_OK:
		if (!cluster_id_ok(c, r->header.cluster_id) || !revision_ok(c, r->header.revision, c->sent_since)) {
			store_repl_refused(c->g, MSG_UNKNOWN, true);
			wait_applied(c);
			return;
		}
		c->n_txns++;
		if (r->succeeded) {
			log_debug("cluster: transaction of %zu writes committed at revision %" PRId64 " in %" PRIu64 " ms",
			    c->t.nops, r->header.revision, now_ms() - c->sent_ms);
			store_repl_committed(c->g, (uint64_t)r->header.revision);
			note_proof(c, (uint64_t)r->header.revision, c->sent_ms);
			break;
		}
		/* A compare failed: the failure branch read every compared key, in order. */
		c->n_conflicts++;
		n = r->n_responses < c->nranges ? r->n_responses : c->nranges;
		if ((cur = calloc(n + 1, sizeof(*cur))) == NULL) {
			store_repl_refused(c->g, MSG_REFUSED, false);
			break;
		}
		for (i = 0; i < n; i++) {
			rr = &r->responses[i];
			cur[i].uid = c->t.cmps[c->range_of[i]].uid;
			cur[i].uid_len = c->t.cmps[c->range_of[i]].uid_len;
			cur[i].exists = rr->op == ETCDJ_OP_RANGE && rr->n_kvs > 0;
			cur[i].mod_rev = cur[i].exists ? (uint64_t)r->kvs[rr->first_kv].mod_revision : 0;
		}
		store_repl_conflict(c->g, cur, n);
		free(cur);
		break;
	case ETCD_REFUSED:
		c->n_refused++;
		log_error("cluster: etcd refused a transaction: %s", res->reason);
		store_repl_refused(c->g, MSG_REFUSED, false);
		break;
	case ETCD_UNKNOWN:
		c->n_unknown++;
		log_error("cluster: a transaction sent to %s got no answer (%s): its writes may or may not be made; "
		    "their clients are told so", res->endpoint != NULL ? res->endpoint : "etcd", res->reason);
		store_repl_refused(c->g, MSG_UNKNOWN, false);
		store_repl_refused(c->g, MSG_UNREACHABLE, true);
		break;
	default:
		log_error("cluster: etcd cannot be reached (%s): the group's writes are refused", res->reason);
		store_repl_refused(c->g, MSG_UNREACHABLE, true);
		break;
	}
	send_next(c);
}

/* Whether the compare at index i is the first of its key (the failure branch reads each key once). */
static bool
first_of_key(const struct store_rtxn *t, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (t->cmps[j].uid_len == t->cmps[i].uid_len && memcmp(t->cmps[j].uid, t->cmps[i].uid,
		    t->cmps[i].uid_len) == 0)
			return false;
	return true;
}

/* Builds the etcd transaction of c->t; -1 when it cannot be built (too large, no memory). */
static int
build_txn(struct cluster *c, struct etcd_txn **out)
{
	struct etcd_txn *x;
	struct etcd_range rg;
	uint8_t key[KEY_MAX];
	size_t i, kl, *v;

	*out = NULL;
	c->nranges = 0;
	if ((x = etcd_txn_new(c->etcd)) == NULL)
		return -1;
	for (i = 0; i < c->t.ncmps; i++) {
		const struct store_rcmp *m = &c->t.cmps[i];

		kl = make_key(c, "o/", m->uid, m->uid_len, key);
		if ((m->absent ? etcd_txn_compare(x, key, kl, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0) :
		    etcd_txn_compare(x, key, kl, ETCD_CMP_MOD, ETCD_CMP_EQUAL, (int64_t)m->rev)) != 0)
			goto fail;
		if (!first_of_key(&c->t, i))
			continue;
		if (c->nranges == c->ranges_cap) {
			size_t cap = c->ranges_cap == 0 ? 64 : c->ranges_cap * 2;

			if ((v = reallocarray(c->range_of, cap, sizeof(*v))) == NULL)
				goto fail;
			c->range_of = v;
			c->ranges_cap = cap;
		}
		memset(&rg, 0, sizeof(rg));
		rg.key = key;
		rg.key_len = kl;
		rg.keys_only = true;
		if (etcd_txn_range(x, false, &rg) != 0)
			goto fail;
		c->range_of[c->nranges++] = i;
	}
	for (i = 0; i < c->t.nops; i++) {
		const struct store_rop *o = &c->t.ops[i];

		kl = make_key(c, "o/", o->uid, o->uid_len, key);
		if ((o->rec != NULL ? etcd_txn_put(x, true, key, kl, o->rec, o->rec_len) :
		    etcd_txn_delete(x, true, key, kl, false)) != 0)
			goto fail;
	}
	*out = x;
	return 0;
fail:
	etcd_txn_free(x);
	return -1;
}

/* Sends the group's next transaction, or, when all are decided, waits for the watch to apply them. */
static void
send_next(struct cluster *c)
{
	struct etcd_txn *x;
	int rc;

	for (;;) {
		if ((rc = store_repl_next(c->g, TXN_MAX_OPS, TXN_MAX_BYTES, &c->t)) != STORE_OK) {
			log_error("cluster: building a transaction: %s", store_strerror(rc));
			store_repl_refused(c->g, MSG_REFUSED, true);
			continue;
		}
		if (c->t.nops == 0) {
			wait_applied(c);
			return;
		}
		if (build_txn(c, &x) != 0) {
			log_error("cluster: a transaction of %zu writes could not be built (too large, or out of memory)",
			    c->t.nops);
			store_repl_refused(c->g, MSG_REFUSED, false);
			continue;
		}
		c->sent_ms = now_ms();
		c->sent_since = c->position;
		if (etcd_txn_send(x, txn_cb, c) != 0) {
			log_error("cluster: the etcd request queue is full: the writes are refused");
			store_repl_refused(c->g, MSG_UNREACHABLE, false);
			continue;
		}
		return;
	}
}

/* Sends the engine's group; see cluster.h. */
void
cluster_replicate(void *arg, struct store_rgroup *g)
{
	struct cluster *c = arg;

	c->g = g;
	update_state(c);
	if (c->state != CLUSTER_CURRENT || c->failed) {
		/* Cut off: refused at once rather than queued behind a timeout. */
		store_repl_refused(g, MSG_UNREACHABLE, true);
		group_done(c);
		return;
	}
	send_next(c);
}

/* Whether object requests are refused; see cluster.h. */
bool
cluster_unavailable(void *arg, char *msg, size_t size)
{
	struct cluster *c = arg;

	update_state(c);
	if (c->state != CLUSTER_STALE && !c->failed)
		return false;
	snprintf(msg, size, "this node has been out of touch with the cluster store (etcd) for %" PRIu64 " s, longer "
	    "than store.max_staleness (%u s): it answers no object request until it has caught up; use another "
	    "node", (now_ms() - c->fresh_at_ms) / 1000, c->cfg->store.max_staleness);
	return true;
}

/* ---- Set-up ---- */

/* The hex SHA-256 of the access group of the config dump; see cluster.h. */
void
cluster_policy_hash(const struct kmipd_config *cfg, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *text = NULL, *start, *end;
	size_t len = 0;
	FILE *fp;
	int i;

	hex[0] = '\0';
	if ((fp = open_memstream(&text, &len)) == NULL)
		return;
	config_dump(fp, cfg);
	fclose(fp);
	if (text == NULL)
		return;
	if ((start = strstr(text, "access: {")) == NULL)
		start = text;
	if ((end = strstr(start, "};")) == NULL)
		end = start + strlen(start);
	if (EVP_Digest(start, (size_t)(end - start), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32)
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(text);
}

/* Splits store.etcd_endpoints and makes the etcd client. */
static struct etcd *
client_new(struct event_base *base, const struct kmipd_config *cfg, char **cause)
{
	const struct config_store *st = &cfg->store;
	const char *eps[ETCD_MAX_ENDPOINTS];
	char *copy, *p, *tok, *save = NULL;
	struct etcd_options o;
	struct etcd *e;
	size_t n = 0;

	if (st->etcd_endpoints == NULL || (copy = strdup(st->etcd_endpoints)) == NULL) {
		*cause = strdup("store.etcd_endpoints is not set");
		return NULL;
	}
	for (p = copy; (tok = strtok_r(p, ", ", &save)) != NULL && n < ETCD_MAX_ENDPOINTS; p = NULL)
		eps[n++] = tok;
	etcd_options_default(&o);
	o.endpoints = eps;
	o.n_endpoints = n;
	o.ca_file = st->etcd_ca_file;
	o.cert_file = st->etcd_cert_file;
	o.key_file = st->etcd_key_file;
	o.server_name = st->etcd_server_name;
	o.user = st->etcd_user;
	o.password_file = st->etcd_password_file;
	o.request_timeout_ms = (int)st->etcd_request_timeout;
	o.connect_timeout_ms = (int)st->etcd_connect_timeout;
	e = etcd_new(base, &o, cause);
	free(copy);
	return e;
}

/* The common part of both kinds of cluster objects. */
static struct cluster *
cluster_make(struct event_base *base, const struct kmipd_config *cfg, struct store *s, char **cause)
{
	struct cluster *c;
	char host[65];
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	c->base = base;
	c->cfg = cfg;
	c->store = s;
	c->state = CLUSTER_CATCHING_UP;
	if (cfg->store.etcd_node_name != NULL)
		snprintf(c->node, sizeof(c->node), "%s", cfg->store.etcd_node_name);
	else if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		snprintf(c->node, sizeof(c->node), "%s", host);
	} else
		snprintf(c->node, sizeof(c->node), "kmipd");
	c->prefix_len = strlen(cfg->store.etcd_prefix);
	memcpy(c->prefix, cfg->store.etcd_prefix, c->prefix_len);
	cluster_policy_hash(cfg, c->policy);
	if ((rc = store_repl_applied(s, &c->position)) != STORE_OK ||
	    (rc = store_repl_cluster(s, &c->cluster_id, 0)) != STORE_OK) {
		*cause = strdup("cannot read the revision the store applied");
		free(c);
		return NULL;
	}
	if ((c->etcd = client_new(base, cfg, cause)) == NULL ||
	    (c->watch_ev = evtimer_new(base, watch_ev_cb, c)) == NULL ||
	    (c->beat_ev = evtimer_new(base, beat_ev_cb, c)) == NULL ||
	    (c->done_ev = event_new(base, -1, 0, done_ev_cb, c)) == NULL ||
	    (c->apply_ev = evtimer_new(base, apply_ev_cb, c)) == NULL) {
		if (*cause == NULL)
			*cause = strdup("out of memory");
		cluster_free(c);
		return NULL;
	}
	return c;
}

/* Frees the node's cluster side; a group in flight is dropped (nobody was answered). */
void
cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	if (c->watch != NULL)
		etcd_watch_free(c->watch);
	if (c->g != NULL)
		store_repl_finish(c->store, c->g, NULL, NULL);
	etcd_free(c->etcd);
	if (c->watch_ev != NULL)
		event_free(c->watch_ev);
	if (c->beat_ev != NULL)
		event_free(c->beat_ev);
	if (c->done_ev != NULL)
		event_free(c->done_ev);
	if (c->apply_ev != NULL)
		event_free(c->apply_ev);
	free(c->range_of);
	free(c->cause);
	free(c);
}

/* The keyring: etcd's is applied like any write; when etcd has none, this node's goes there (first wins). */
static void
keyring_cb(const struct etcd_result *res, void *arg)
{
	struct cluster *c = arg;

	c->keyring_in_flight = false;
	if (res->status == ETCD_AUTH) {
		fail(c, "etcd refused this node's user or password: %s", res->reason);
		return;
	}
	if (res->status != ETCD_OK) {
		/* etcd may come up after kmipd (a whole site powered on): try again until the start timeout. */
		log_warnx("cluster: waiting for etcd: %s", res->reason);
		return;
	}
	if (!cluster_id_ok(c, res->reply->header.cluster_id) ||
	    !revision_ok(c, res->reply->header.revision, c->sent_since))
		return;
	/* Published, or another node's came first (the watch brings it): the start goes on. */
	c->keyring_done = true;
	start_step(c);
}

/* Puts this node's keyring in etcd unless one is there (first wins); 0 when sent. */
static int
keyring_publish(struct cluster *c)
{
	uint8_t key[KEY_MAX], *kr = NULL;
	struct etcd_txn *x;
	size_t kl = make_key(c, "keyring", "", 0, key), len = 0;
	int rc;

	if ((rc = store_repl_keyring(c->store, &kr, &len)) != STORE_OK) {
		fail(c, "reading this node's keyring: %s", store_strerror(rc));
		return -1;
	}
	if ((x = etcd_txn_new(c->etcd)) == NULL ||
	    etcd_txn_compare(x, key, kl, ETCD_CMP_VERSION, ETCD_CMP_EQUAL, 0) != 0 ||
	    etcd_txn_put(x, true, key, kl, kr, len) != 0) {
		etcd_txn_free(x);
		free(kr);
		fail(c, "out of memory");
		return -1;
	}
	free(kr);
	c->sent_since = c->position;
	if (etcd_txn_send(x, keyring_cb, c) != 0)
		return -1;	/* tried again in a second */
	return 0;
}

/* store.etcd_start_timeout: the start loop ends. */
static void
start_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/*
 * The start's next step, again every second until ready: the keyring published (or found), a heartbeat whose
 * revision the watch must reach, the watch itself.
 */
static void
start_step(struct cluster *c)
{
	if (c->failed || c->ready)
		return;
	if (!c->keyring_done) {
		if (!c->keyring_in_flight && keyring_publish(c) == 0)
			c->keyring_in_flight = true;
		return;
	}
	if (c->start_beat == 0 && !c->beat_in_flight)
		(void)beat_send(c);
	watch_start(c);
}

/* Every second of the start: its next step. */
static void
start_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;

	(void)fd;
	(void)what;
	start_step(c);
	event_add(c->beat_ev, &(struct timeval){ 1, 0 });
}

/* Catches up before serving; see cluster.h. */
int
cluster_catch_up(const struct kmipd_config *cfg, struct store *s, char **cause)
{
	struct event_base *base;
	struct cluster *c;
	struct timeval tv = { cfg->store.etcd_start_timeout, 0 };
	struct event *timer = NULL;
	uint64_t t0 = now_ms();
	int rc = -1;

	*cause = NULL;
	if ((base = event_base_new()) == NULL) {
		*cause = strdup("cannot make an event base");
		return -1;
	}
	if ((c = cluster_make(base, cfg, s, cause)) == NULL) {
		event_base_free(base);
		return -1;
	}
	c->starting = true;
	log_info("cluster: node %s catching up from etcd (%s) from revision %" PRIu64, c->node,
	    cfg->store.etcd_endpoints, c->position + 1);
	/* The heartbeat's timer runs the start's steps instead (the running node's comes with cluster_new). */
	event_free(c->beat_ev);
	if ((c->beat_ev = evtimer_new(base, start_ev_cb, c)) == NULL ||
	    (timer = evtimer_new(base, start_timeout_cb, base)) == NULL || evtimer_add(timer, &tv) != 0)
		goto out;
	start_step(c);
	event_add(c->beat_ev, &(struct timeval){ 1, 0 });
	while (!c->ready && !c->failed && now_ms() - t0 < (uint64_t)cfg->store.etcd_start_timeout * 1000)
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			break;
	if (c->ready && !c->failed) {
		log_info("cluster: caught up at revision %" PRIu64, c->position);
		rc = 0;
	}
out:
	if (rc != 0 && *cause == NULL) {
		char msg[512];

		snprintf(msg, sizeof(msg), "etcd (%s) did not let this node catch up within store.etcd_start_timeout "
		    "(%u s)", cfg->store.etcd_endpoints, cfg->store.etcd_start_timeout);
		*cause = strdup(c->cause != NULL ? c->cause : msg);
	}
	if (timer != NULL)
		event_free(timer);
	cluster_free(c);
	event_base_free(base);
	return rc;
}

/* The running node; see cluster.h. */
struct cluster *
cluster_new(struct event_base *base, const struct kmipd_config *cfg, struct store *s, cluster_fatal_fn fatal,
    void *fatal_arg, char **cause)
{
	struct cluster *c;
	unsigned hb = cfg->store.etcd_heartbeat;

	*cause = NULL;
	if ((c = cluster_make(base, cfg, s, cause)) == NULL)
		return NULL;
	c->fatal = fatal;
	c->fatal_arg = fatal_arg;
	/* cluster_catch_up proved the node current a moment ago. */
	c->ready = true;
	c->state = CLUSTER_CURRENT;
	c->fresh_at_ms = now_ms();
	watch_start(c);
	(void)beat_send(c);
	event_add(c->beat_ev, &(struct timeval){ hb / 1000, (hb % 1000) * 1000 });
	return c;
}

/* See cluster.h. */
void
cluster_set_engine(struct cluster *c, struct engine *e)
{
	c->engine = e;
}

/* See cluster.h: store.max_staleness and the policy hash follow a reload. */
void
cluster_reload(struct cluster *c, const struct kmipd_config *cfg)
{
	c->cfg = cfg;
	cluster_policy_hash(cfg, c->policy);
}

/* The state as status and the logs name it. */
const char *
cluster_state_name(enum cluster_state s)
{
	switch (s) {
	case CLUSTER_CATCHING_UP:
		return "catching up";
	case CLUSTER_CURRENT:
		return "current";
	case CLUSTER_CUT_OFF:
		return "cut off";
	case CLUSTER_STALE:
		return "stale";
	}
	return "?";
}

/* See cluster.h. */
void
cluster_status(const struct cluster *c, struct cluster_status *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->state = c->state;
	snprintf(st->node, sizeof(st->node), "%s", c->node);
	snprintf(st->endpoint, sizeof(st->endpoint), "%s", etcd_endpoint(c->etcd));
	snprintf(st->policy, sizeof(st->policy), "%s", c->policy);
	st->applied = c->position;
	st->staleness_ms = now_ms() - c->fresh_at_ms;
	st->txns = c->n_txns;
	st->conflicts = c->n_conflicts;
	st->unknown = c->n_unknown;
	st->refused = c->n_refused;
	st->bad_records = c->n_bad;
	st->resyncs = c->n_resyncs;
	st->npeers = c->npeers;
	for (i = 0; i < c->npeers; i++) {
		st->peers[i] = c->peers[i];
		if (strcmp(c->peers[i].name, c->node) != 0 && c->peers[i].policy[0] != '\0' &&
		    strcmp(c->peers[i].policy, c->policy) != 0)
			st->mismatches++;
	}
}
