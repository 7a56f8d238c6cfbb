/*
 * The etcd decoder (proto/jstream.h) against a real etcd (Debian's etcd-server, started by
 * test/etcd/cluster.sh with its data on /dev/shm) through its v3 HTTP/JSON gateway, spoken with libevent's
 * HTTP client as kmipd will speak it: a Put, Ranges, a Txn whose compare fails and one whose compare holds,
 * an error, and a watch stream with several events and a progress notification, all decoded by our code;
 * etcd's own limits (request size, operations per Txn) and compaction (a Range and a watch from before it);
 * then a three-member cluster: a write on one member read on another, one member killed and restarted.
 * Prints what the gateway sent (how the watch stream is framed) for the next steps of issue 19.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "proto/jstream.h"
#include "test/util.h"

#define MAX_MEMBERS	3
#define MAX_ITEMS	64
#define CALL_SECONDS	10.0

/* An etcd cluster started for one test, and the event loop that talks to it. */
struct etcd {
	char dir[512];			/* the cluster's folder (cluster.sh's first line) */
	int port[MAX_MEMBERS];		/* client ports */
	int n;
	struct event_base *base;
	struct event *tick;		/* wakes the loop so that deadlines are seen */
	struct evhttp_connection *conn[MAX_MEMBERS];
};

static const struct etcdj_limits lim = {
	.json = { .max_value_size = 4 << 20, .max_depth = 16, .max_string = 3 << 20, .max_members = 1024 },
	.max_kvs = 256, .max_responses = 128, .max_events = 256, .max_key = 1024, .max_value = 2 << 20,
};

/* The path of cluster.sh: KMIPD_ETCD_CLUSTER, else where it is in the tree (tests run from its top). */
static const char *
cluster_sh(void)
{
	const char *p = getenv("KMIPD_ETCD_CLUSTER");

	return p != NULL ? p : "test/etcd/cluster.sh";
}

/* Does nothing: its only use is to end each turn of the loop within 50 ms. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

/* Starts an n-member cluster with cluster.sh (its flags after --) and connects to each member. */
static void
etcd_start(struct etcd *e, int n)
{
	char cmd[1024], line[2048], *p;
	struct timeval tv = { 0, 50 * 1000 };
	FILE *f;
	int i;

	memset(e, 0, sizeof(*e));
	snprintf(cmd, sizeof(cmd), "%s start -n %d -- --experimental-watch-progress-notify-interval=1s",
	    cluster_sh(), n);
	assert_non_null(f = popen(cmd, "r"));
	assert_non_null(fgets(e->dir, sizeof(e->dir), f));
	e->dir[strcspn(e->dir, "\n")] = '\0';
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(pclose(f), 0);
	/* http://127.0.0.1:PORT,... */
	for (p = line; e->n < n && (p = strstr(p, "127.0.0.1:")) != NULL; p += 10)
		e->port[e->n++] = atoi(p + 10);
	assert_int_equal(e->n, n);
	assert_non_null(e->base = event_base_new());
	assert_non_null(e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, NULL));
	assert_int_equal(event_add(e->tick, &tv), 0);
	for (i = 0; i < n; i++)
		assert_non_null(e->conn[i] = evhttp_connection_base_new(e->base, NULL, "127.0.0.1",
		    (uint16_t)e->port[i]));
}

/* Stops the cluster and removes its folder. */
static void
etcd_stop(struct etcd *e)
{
	char cmd[1024];
	int i;

	for (i = 0; i < e->n; i++)
		if (e->conn[i] != NULL)
			evhttp_connection_free(e->conn[i]);
	if (e->tick != NULL)
		event_free(e->tick);
	if (e->base != NULL)
		event_base_free(e->base);
	if (e->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "%s stop '%s'", cluster_sh(), e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_etcd: %s failed\n", cmd);
	}
	memset(e, 0, sizeof(*e));
}

/* Runs the loop until *flag is set or seconds pass; returns whether the flag was set. */
static bool
run_until(struct etcd *e, const bool *flag, double seconds)
{
	double end = util_now() + seconds;

	while (!*flag && util_now() < end)
		event_base_loop(e->base, EVLOOP_ONCE);
	return *flag;
}

/* Base64 of len bytes into out (NUL-terminated). */
static const char *
b64(const void *p, size_t len, char *out, size_t size)
{
	assert_true(size >= (len + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* One unary call: its status and body. */
struct call {
	bool done;
	int status;		/* HTTP status, or -1 when the connection failed */
	struct evbuffer *body;
};

/* Completion of a unary call: keeps its status and body. */
static void
on_call_done(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;

	c->done = true;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		c->status = -1;
		return;
	}
	c->status = evhttp_request_get_response_code(req);
	evbuffer_add_buffer(c->body, evhttp_request_get_input_buffer(req));
}

/* Makes a POST request of json to path on a connection; its callbacks get arg. Returns the request. */
static struct evhttp_request *
post(struct evhttp_connection *conn, const char *path, const char *json, void (*done)(struct evhttp_request *,
    void *), void (*chunk)(struct evhttp_request *, void *), void *arg)
{
	struct evhttp_request *req = evhttp_request_new(done, arg);

	assert_non_null(req);
	if (chunk != NULL)
		evhttp_request_set_chunked_cb(req, chunk);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	assert_int_equal(evbuffer_add(evhttp_request_get_output_buffer(req), json, strlen(json)), 0);
	assert_int_equal(evhttp_make_request(conn, req, EVHTTP_REQ_POST, path), 0);
	return req;
}

/*
 * POSTs json to path on member m and decodes the reply, fed in 5-byte pieces: exactly one JSON value,
 * nothing but whitespace after it. Its HTTP status goes to *status when status is not NULL (else it must be
 * 200).
 */
static struct etcdj_reply *
call_body(struct etcd *e, int m, int *status, const char *path, const char *json)
{
	struct call c = { .done = false };
	struct etcdj_decoder *d;
	struct etcdj_reply *r = NULL;
	uint8_t *body;
	size_t len, pos = 0, used;

	assert_non_null(c.body = evbuffer_new());
	(void)post(e->conn[m], path, json, on_call_done, NULL, &c);
	if (!run_until(e, &c.done, CALL_SECONDS))
		fail_msg("%s on member %d: no answer in %.0f s", path, m, CALL_SECONDS);
	assert_int_not_equal(c.status, -1);
	if (status != NULL)
		*status = c.status;
	else if (c.status != 200)
		fail_msg("%s %.200s: HTTP %d", path, json, c.status);
	len = evbuffer_get_length(c.body);
	body = evbuffer_pullup(c.body, -1);
	assert_non_null(d = etcdj_decoder_new(ETCDJ_UNARY, &lim));
	while (pos < len) {
		size_t n = len - pos < 5 ? len - pos : 5;
		enum jstream_status st = etcdj_decoder_feed(d, body + pos, n, &used);
		uint64_t off;

		if (st == JSTREAM_ERROR)
			fail_msg("%s: undecodable reply %.*s: %s", path, (int)(len < 300 ? len : 300), (const char *)body,
			    etcdj_decoder_error(d, &off));
		pos += used;
		if (st == JSTREAM_VALUE) {
			assert_null(r);
			assert_non_null(r = etcdj_decoder_take(d));
		}
	}
	assert_non_null(r);
	assert_false(etcdj_decoder_busy(d));
	etcdj_decoder_free(d);
	evbuffer_free(c.body);
	return r;
}

/* call_body with the request made from fmt (printf-style, up to 8 KiB). */
static struct etcdj_reply * __attribute__((format(printf, 5, 6)))
call(struct etcd *e, int m, int *status, const char *path, const char *fmt, ...)
{
	char json[8192];
	va_list ap;

	va_start(ap, fmt);
	assert_true((size_t)vsnprintf(json, sizeof(json), fmt, ap) < sizeof(json));
	va_end(ap);
	return call_body(e, m, status, path, json);
}

/* A Put of key=value on member m; returns the revision it made. */
static int64_t
put(struct etcd *e, int m, const char *key, const void *value, size_t vlen)
{
	char k[256], v[1024];
	struct etcdj_reply *r;
	int64_t rev;

	r = call(e, m, NULL, "/v3/kv/put", "{\"key\":\"%s\",\"value\":\"%s\"}", b64(key, strlen(key), k, sizeof(k)),
	    b64(value, vlen, v, sizeof(v)));
	assert_false(r->is_error);
	rev = r->header.revision;
	assert_true(rev > 1);
	assert_true(r->header.cluster_id != 0 && r->header.member_id != 0 && r->header.raft_term != 0);
	etcdj_reply_free(r);
	return rev;
}

/* A Range of one key on member m. */
static struct etcdj_reply *
get(struct etcd *e, int m, const char *key)
{
	char k[256];

	return call(e, m, NULL, "/v3/kv/range", "{\"key\":\"%s\"}", b64(key, strlen(key), k, sizeof(k)));
}

/* Asserts that kv is key=value. */
static void
assert_kv(const struct etcdj_kv *kv, const char *key, const void *value, size_t vlen)
{
	assert_int_equal(kv->key_len, strlen(key));
	assert_memory_equal(kv->key, key, kv->key_len);
	assert_int_equal(kv->value_len, vlen);
	if (vlen > 0)
		assert_memory_equal(kv->value, value, vlen);
}

static int
setup_one(void **state)
{
	struct etcd *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	etcd_start(e, 1);
	*state = e;
	return 0;
}

static int
setup_three(void **state)
{
	struct etcd *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	etcd_start(e, 3);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct etcd *e = *state;

	if (e != NULL) {
		etcd_stop(e);
		free(e);
	}
	return 0;
}

static void
test_put_range_txn(void **state)
{
	struct etcd *e = *state;
	static const uint8_t v1[] = { 0x00, 0xFF, 'k', 'e', 'y', 0x80, '"', '\\' };
	char k[128], ke[128], kb[128], vx[64];
	struct etcdj_reply *r;
	int64_t r1, r2, r3;
	int status;

	r1 = put(e, 0, "kmipd/a", v1, sizeof(v1));
	r = get(e, 0, "kmipd/a");
	assert_int_equal(r->header.revision, r1);
	assert_int_equal(r->n_kvs, 1);
	assert_kv(&r->kvs[0], "kmipd/a", v1, sizeof(v1));
	assert_int_equal(r->kvs[0].create_revision, r1);
	assert_int_equal(r->kvs[0].mod_revision, r1);
	assert_int_equal(r->kvs[0].version, 1);
	assert_int_equal(r->kvs[0].lease, 0);
	assert_int_equal(r->count, 1);
	assert_false(r->more);
	etcdj_reply_free(r);

	r2 = put(e, 0, "kmipd/a", "second", 6);
	assert_int_equal(r2, r1 + 1);
	r3 = put(e, 0, "kmipd/b", "", 0);
	r = get(e, 0, "kmipd/a");
	assert_kv(&r->kvs[0], "kmipd/a", "second", 6);
	assert_int_equal(r->kvs[0].create_revision, r1);
	assert_int_equal(r->kvs[0].mod_revision, r2);
	assert_int_equal(r->kvs[0].version, 2);
	etcdj_reply_free(r);

	/* A prefix range with a limit: more, and the count of all. An empty value comes back empty. */
	r = call(e, 0, NULL, "/v3/kv/range", "{\"key\":\"%s\",\"range_end\":\"%s\",\"limit\":\"1\"}",
	    b64("kmipd/", 6, k, sizeof(k)), b64("kmipd0", 6, ke, sizeof(ke)));
	assert_int_equal(r->n_kvs, 1);
	assert_true(r->more);
	assert_int_equal(r->count, 2);
	etcdj_reply_free(r);
	r = get(e, 0, "kmipd/b");
	assert_kv(&r->kvs[0], "kmipd/b", "", 0);
	assert_int_equal(r->kvs[0].mod_revision, r3);
	etcdj_reply_free(r);
	r = get(e, 0, "kmipd/none");
	assert_int_equal(r->n_kvs, 0);
	assert_int_equal(r->count, 0);
	assert_int_equal(r->header.revision, r3);
	etcdj_reply_free(r);

	/* A Txn guarded by a stale revision: the compare fails, the failure branch's range comes back. */
	b64("kmipd/a", 7, k, sizeof(k));
	b64("kmipd/b", 7, kb, sizeof(kb));
	b64("x", 1, vx, sizeof(vx));
	r = call(e, 0, NULL, "/v3/kv/txn", "{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\",\"result\":\"EQUAL\","
	    "\"mod_revision\":\"%lld\"}],\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}", k, (long long)r1, k, vx, k);
	assert_false(r->is_error);
	assert_false(r->succeeded);
	assert_int_equal(r->header.revision, r3);
	assert_int_equal(r->n_responses, 1);
	assert_int_equal(r->responses[0].op, ETCDJ_OP_RANGE);
	assert_int_equal(r->responses[0].n_kvs, 1);
	assert_int_equal(r->responses[0].count, 1);
	assert_kv(&r->kvs[r->responses[0].first_kv], "kmipd/a", "second", 6);
	assert_int_equal(r->kvs[r->responses[0].first_kv].mod_revision, r2);
	etcdj_reply_free(r);

	/* Guarded by the right one: it succeeds, a put and a delete in one revision. */
	r = call(e, 0, NULL, "/v3/kv/txn", "{\"compare\":[{\"key\":\"%s\",\"target\":\"MOD\",\"result\":\"EQUAL\","
	    "\"mod_revision\":\"%lld\"}],\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
	    "{\"request_delete_range\":{\"key\":\"%s\"}}]}", k, (long long)r2, k, vx, kb);
	assert_true(r->succeeded);
	assert_int_equal(r->header.revision, r3 + 1);
	assert_int_equal(r->n_responses, 2);
	assert_int_equal(r->responses[0].op, ETCDJ_OP_PUT);
	assert_int_equal(r->responses[0].header.revision, r3 + 1);
	assert_int_equal(r->responses[1].op, ETCDJ_OP_DELETE_RANGE);
	assert_int_equal(r->responses[1].deleted, 1);
	etcdj_reply_free(r);

	/* An error: a revision in the future (gRPC OutOfRange, HTTP 400). */
	r = call(e, 0, &status, "/v3/kv/range", "{\"key\":\"%s\",\"revision\":\"%lld\"}", k, (long long)r3 + 100);
	assert_int_equal(status, 400);
	assert_true(r->is_error);
	assert_int_equal(r->code, 11);
	assert_non_null(r->message);
	assert_non_null(strstr(r->message, "future revision"));
	etcdj_reply_free(r);
	/* A request the gateway cannot read (gRPC InvalidArgument). */
	r = call(e, 0, &status, "/v3/kv/range", "{\"key\":1");
	assert_int_equal(status, 400);
	assert_true(r->is_error);
	assert_int_equal(r->code, 3);
	etcdj_reply_free(r);
}

/* The watch stream as it arrives: every chunk fed to the decoder, and kept raw. */
struct watch {
	struct etcdj_decoder *d;
	struct etcdj_reply *items[MAX_ITEMS];
	size_t n_items;
	size_t n_events;
	size_t chunks;
	size_t chunks_ending_items;	/* chunks whose last byte ended an item (or the newline after one) */
	bool created;
	bool progress_after;		/* a progress notification after the last event expected */
	int64_t progress_rev;
	int64_t want_rev;		/* the revision progress must report; 0 until the writes are done */
	bool failed;
	char why[256];
	uint8_t raw[65536];
	size_t raw_len;
};

/* A chunk of the watch stream: decodes what it completes. */
static void
on_watch_chunk(struct evhttp_request *req, void *arg)
{
	struct watch *w = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), pos = 0, used;
	uint8_t *p = evbuffer_pullup(in, -1);
	bool ended = false;

	w->chunks++;
	if (len > sizeof(w->raw) - w->raw_len) {
		w->failed = true;
		snprintf(w->why, sizeof(w->why), "more than %zu bytes of stream", sizeof(w->raw));
		return;
	}
	memcpy(w->raw + w->raw_len, p, len);
	w->raw_len += len;
	while (pos < len && !w->failed) {
		enum jstream_status st = etcdj_decoder_feed(w->d, p + pos, len - pos, &used);
		struct etcdj_reply *r;
		uint64_t off;

		pos += used;
		if (st == JSTREAM_ERROR) {
			w->failed = true;
			snprintf(w->why, sizeof(w->why), "%s", etcdj_decoder_error(w->d, &off));
			break;
		}
		if (st != JSTREAM_VALUE)
			continue;
		ended = true;
		r = etcdj_decoder_take(w->d);
		if (r->created)
			w->created = true;
		w->n_events += r->n_events;
		if (etcdj_is_progress(r) && w->want_rev != 0 && r->header.revision == w->want_rev) {
			w->progress_after = true;
			w->progress_rev = r->header.revision;
		}
		if (w->n_items < MAX_ITEMS)
			w->items[w->n_items++] = r;
		else
			etcdj_reply_free(r);
	}
	if (ended && !etcdj_decoder_busy(w->d))
		w->chunks_ending_items++;
	evbuffer_drain(in, len);
}

/* The end of the watch request: only when etcd or the connection closes it. */
static void
on_watch_done(struct evhttp_request *req, void *arg)
{
	struct watch *w = arg;

	(void)req;
	if (!w->failed) {
		w->failed = true;
		snprintf(w->why, sizeof(w->why), "the watch stream ended");
	}
}

/* The end of a watch request that the test cancels itself. */
static void
on_watch_done_ignore(struct evhttp_request *req, void *arg)
{
	(void)req, (void)arg;
}

/* Feeds a raw stream to a new decoder one byte at a time; returns the items and events it found. */
static void
refeed_bytewise(const uint8_t *raw, size_t len, size_t *items, size_t *events)
{
	struct etcdj_decoder *d = etcdj_decoder_new(ETCDJ_WATCH, &lim);
	size_t i, used;

	assert_non_null(d);
	*items = *events = 0;
	for (i = 0; i < len; i++) {
		enum jstream_status st = etcdj_decoder_feed(d, raw + i, 1, &used);

		assert_int_not_equal(st, JSTREAM_ERROR);
		assert_int_equal(used, 1);
		if (st == JSTREAM_VALUE) {
			struct etcdj_reply *r = etcdj_decoder_take(d);

			(*items)++;
			*events += r->n_events;
			etcdj_reply_free(r);
		}
	}
	etcdj_decoder_free(d);
}

static void
test_watch_stream(void **state)
{
	struct etcd *e = *state;
	struct watch *w = calloc(1, sizeof(*w));
	struct evhttp_connection *wc;
	struct evhttp_request *req;
	char k[128], ke[128], json[512], va[64], vb[64];
	int64_t rp1, rp2, rdel, rtxn;
	size_t i, n_ev = 0, items, events, newline_items = 0;
	const struct etcdj_event *ev[8];
	const struct etcdj_reply *evr[8];
	struct etcdj_reply *r;

	assert_non_null(w);
	assert_non_null(w->d = etcdj_decoder_new(ETCDJ_WATCH, &lim));
	/* Its own connection: the stream never ends, unary calls go on the other one. */
	assert_non_null(wc = evhttp_connection_base_new(e->base, NULL, "127.0.0.1", (uint16_t)e->port[0]));
	snprintf(json, sizeof(json), "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"progress_notify\":true,"
	    "\"prev_kv\":true}}", b64("kmipd/", 6, k, sizeof(k)), b64("kmipd0", 6, ke, sizeof(ke)));
	req = post(wc, "/v3/watch", json, on_watch_done, on_watch_chunk, w);
	if (!run_until(e, &w->created, CALL_SECONDS))
		fail_msg("no created item from the watch: %s", w->failed ? w->why : "nothing came");

	/* Writes: a put, a put over it (prev_kv), a delete, and a Txn of two puts (one revision). */
	rp1 = put(e, 0, "kmipd/w", "one", 3);
	rp2 = put(e, 0, "kmipd/w", "two", 3);
	r = call(e, 0, NULL, "/v3/kv/deleterange", "{\"key\":\"%s\"}", b64("kmipd/w", 7, k, sizeof(k)));
	assert_int_equal(r->deleted, 1);
	rdel = r->header.revision;
	etcdj_reply_free(r);
	b64("A", 1, va, sizeof(va));
	b64("B", 1, vb, sizeof(vb));
	r = call(e, 0, NULL, "/v3/kv/txn", "{\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
	    "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}]}", b64("kmipd/x", 7, k, sizeof(k)), va,
	    b64("kmipd/y", 7, ke, sizeof(ke)), vb);
	assert_true(r->succeeded);
	rtxn = r->header.revision;
	etcdj_reply_free(r);
	/* Then a progress notification at the last revision (etcd sends one each second here). */
	w->want_rev = rtxn;
	if (!run_until(e, &w->progress_after, 3 * CALL_SECONDS))
		fail_msg("no progress notification at revision %lld: %s (%zu items, %zu events)", (long long)rtxn,
		    w->failed ? w->why : "none came", w->n_items, w->n_events);
	assert_false(w->failed);
	assert_int_equal(w->progress_rev, rtxn);

	/* The events in order, with their kvs and revisions. */
	for (i = 0; i < w->n_items; i++) {
		size_t j;

		for (j = 0; j < w->items[i]->n_events && n_ev < 8; j++) {
			evr[n_ev] = w->items[i];
			ev[n_ev++] = &w->items[i]->events[j];
		}
	}
	assert_int_equal(n_ev, 5);
	assert_int_equal(ev[0]->type, ETCDJ_PUT);
	assert_kv(&evr[0]->kvs[ev[0]->kv], "kmipd/w", "one", 3);
	assert_int_equal(evr[0]->kvs[ev[0]->kv].mod_revision, rp1);
	assert_int_equal(evr[0]->kvs[ev[0]->kv].version, 1);
	assert_false(ev[0]->has_prev_kv);
	assert_int_equal(ev[1]->type, ETCDJ_PUT);
	assert_kv(&evr[1]->kvs[ev[1]->kv], "kmipd/w", "two", 3);
	assert_int_equal(evr[1]->kvs[ev[1]->kv].mod_revision, rp2);
	assert_true(ev[1]->has_prev_kv);
	assert_kv(&evr[1]->kvs[ev[1]->prev_kv], "kmipd/w", "one", 3);
	assert_int_equal(evr[1]->kvs[ev[1]->prev_kv].mod_revision, rp1);
	assert_int_equal(ev[2]->type, ETCDJ_DELETE);
	assert_kv(&evr[2]->kvs[ev[2]->kv], "kmipd/w", "", 0);
	assert_int_equal(evr[2]->kvs[ev[2]->kv].mod_revision, rdel);
	assert_true(ev[2]->has_prev_kv);
	assert_kv(&evr[2]->kvs[ev[2]->prev_kv], "kmipd/w", "two", 3);
	assert_int_equal(ev[3]->type, ETCDJ_PUT);
	assert_kv(&evr[3]->kvs[ev[3]->kv], "kmipd/x", "A", 1);
	assert_int_equal(evr[3]->kvs[ev[3]->kv].mod_revision, rtxn);
	assert_int_equal(ev[4]->type, ETCDJ_PUT);
	assert_kv(&evr[4]->kvs[ev[4]->kv], "kmipd/y", "B", 1);
	assert_int_equal(evr[4]->kvs[ev[4]->kv].mod_revision, rtxn);
	assert_ptr_equal(evr[3], evr[4]);	/* one revision, one item */
	assert_int_equal(evr[3]->header.revision, rtxn);

	/* The same bytes one at a time give the same items. */
	refeed_bytewise(w->raw, w->raw_len, &items, &events);
	assert_int_equal(items, w->n_items);
	assert_int_equal(events, w->n_events);
	for (i = 0; i + 1 < w->raw_len; i++)
		if (w->raw[i] == '}' && w->raw[i + 1] == '\n')
			newline_items++;
	printf("# etcd gateway watch stream: %zu bytes, %zu items (%zu events) in %zu chunks, %zu chunks ending at "
	    "an item's end, %zu items followed by a newline\n", w->raw_len, w->n_items, w->n_events, w->chunks,
	    w->chunks_ending_items, newline_items);

	evhttp_cancel_request(req);
	evhttp_connection_free(wc);
	for (i = 0; i < w->n_items; i++)
		etcdj_reply_free(w->items[i]);
	etcdj_decoder_free(w->d);
	free(w);
}

/*
 * A Put on member m retried while etcd answers that it cannot commit now (a killed member was the leader:
 * HTTP 503, gRPC Unavailable, until a new leader is elected); at most 10 s. Returns the revision it made.
 */
static int64_t
put_retry(struct etcd *e, int m, const char *key, const char *value, size_t vlen)
{
	char k[256], v[1024];
	double end = util_now() + CALL_SECONDS;
	struct etcdj_reply *r;
	int64_t rev;
	int status;

	for (;;) {
		r = call(e, m, &status, "/v3/kv/put", "{\"key\":\"%s\",\"value\":\"%s\"}",
		    b64(key, strlen(key), k, sizeof(k)), b64(value, vlen, v, sizeof(v)));
		if (status == 200)
			break;
		assert_int_equal(status, 503);
		assert_true(r->is_error);
		assert_int_equal(r->code, 14);
		printf("# etcd gateway during an election: HTTP %d, code %d, \"%s\"\n", status, r->code,
		    r->message != NULL ? r->message : "");
		etcdj_reply_free(r);
		assert_true(util_now() < end);
		usleep(200 * 1000);
	}
	assert_false(r->is_error);
	rev = r->header.revision;
	etcdj_reply_free(r);
	return rev;
}

/* Waits until cluster.sh health passes (at most 30 s); returns whether it did. */
static bool
wait_healthy(const struct etcd *e)
{
	char cmd[1024];
	int i;

	snprintf(cmd, sizeof(cmd), "%s health '%s'", cluster_sh(), e->dir);
	for (i = 0; i < 60; i++) {
		if (system(cmd) == 0)
			return true;
		usleep(500 * 1000);
	}
	return false;
}

static void
test_three_members(void **state)
{
	struct etcd *e = *state;
	struct etcdj_reply *r;
	char cmd[1024];
	int64_t rev, rev2;
	int m;

	/* A write on member 0 is read on each member (linearizable reads). */
	rev = put(e, 0, "kmipd/c", "clustered", 9);
	for (m = 0; m < 3; m++) {
		r = get(e, m, "kmipd/c");
		assert_int_equal(r->n_kvs, 1);
		assert_kv(&r->kvs[0], "kmipd/c", "clustered", 9);
		assert_int_equal(r->kvs[0].mod_revision, rev);
		assert_true(r->header.revision >= rev);
		etcdj_reply_free(r);
	}
	/* One member killed: the two others still commit and read. */
	snprintf(cmd, sizeof(cmd), "%s kill '%s' 1", cluster_sh(), e->dir);
	assert_int_equal(system(cmd), 0);
	rev2 = put_retry(e, 0, "kmipd/c", "two of three", 12);
	assert_true(rev2 > rev);
	r = get(e, 2, "kmipd/c");
	assert_kv(&r->kvs[0], "kmipd/c", "two of three", 12);
	etcdj_reply_free(r);
	/* Restarted with its data, it catches up. */
	snprintf(cmd, sizeof(cmd), "%s restart '%s' 1", cluster_sh(), e->dir);
	assert_int_equal(system(cmd), 0);
	assert_true(wait_healthy(e));
	evhttp_connection_free(e->conn[1]);
	assert_non_null(e->conn[1] = evhttp_connection_base_new(e->base, NULL, "127.0.0.1", (uint16_t)e->port[1]));
	r = get(e, 1, "kmipd/c");
	assert_kv(&r->kvs[0], "kmipd/c", "two of three", 12);
	assert_int_equal(r->kvs[0].mod_revision, rev2);
	/* 2, or 3 when a Put that timed out during the election was committed all the same before its retry. */
	assert_true(r->kvs[0].version >= 2 && r->kvs[0].version <= 3);
	etcdj_reply_free(r);
}

/* A Put of kmipd/big with vlen bytes 0xA5, on member 0: its reply (HTTP status in *status). */
static struct etcdj_reply *
put_big(struct etcd *e, size_t vlen, int *status)
{
	uint8_t *v = malloc(vlen);
	char *json = malloc(vlen / 3 * 4 + 256), k[64];
	struct etcdj_reply *r;
	size_t n;

	assert_non_null(v);
	assert_non_null(json);
	memset(v, 0xA5, vlen);
	n = (size_t)sprintf(json, "{\"key\":\"%s\",\"value\":\"", b64("kmipd/big", 9, k, sizeof(k)));
	n += (size_t)EVP_EncodeBlock((unsigned char *)json + n, v, (int)vlen);
	strcpy(json + n, "\"}");
	r = call_body(e, 0, status, "/v3/kv/put", json);
	free(json);
	free(v);
	return r;
}

/*
 * etcd's own limits, as the clustered store must split its groups for them (issue 19): a request of at most
 * 1.5 MiB (--max-request-bytes), 128 operations in a Txn (--max-txn-ops), one key once in a Txn.
 */
static void
test_etcd_limits(void **state)
{
	struct etcd *e = *state;
	struct etcdj_reply *r;
	char ops[129 * 64], k[64], v[16];
	size_t n = 0, i;
	int status;

	/* A value just under the request limit goes in and comes back whole (2 MB of JSON). */
	r = put_big(e, 1536 * 1024 - 100, &status);
	assert_int_equal(status, 200);
	etcdj_reply_free(r);
	r = get(e, 0, "kmipd/big");
	assert_int_equal(r->n_kvs, 1);
	assert_int_equal(r->kvs[0].value_len, 1536 * 1024 - 100);
	assert_int_equal(r->kvs[0].value[0], 0xA5);
	assert_int_equal(r->kvs[0].value[r->kvs[0].value_len - 1], 0xA5);
	etcdj_reply_free(r);
	/* Just over it: refused by etcd (InvalidArgument); past 2 MiB by gRPC itself (ResourceExhausted). */
	r = put_big(e, 1536 * 1024 + 10, &status);
	assert_int_equal(status, 400);
	assert_int_equal(r->code, 3);
	assert_string_equal(r->message, "etcdserver: request is too large");
	etcdj_reply_free(r);
	r = put_big(e, 2 << 20, &status);
	assert_int_equal(status, 429);
	assert_int_equal(r->code, 8);
	etcdj_reply_free(r);

	/* 128 operations in a Txn pass, 129 do not; nor does one key twice. */
	b64("v", 1, v, sizeof(v));
	for (i = 0; i < 129; i++) {
		char key[32];

		snprintf(key, sizeof(key), "kmipd/t%03zu", i);
		n += (size_t)snprintf(ops + n, sizeof(ops) - n, "%s{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}",
		    i == 0 ? "" : ",", b64(key, strlen(key), k, sizeof(k)), v);
		assert_true(n < sizeof(ops));
		if (i == 127) {
			r = call(e, 0, NULL, "/v3/kv/txn", "{\"success\":[%s]}", ops);
			assert_true(r->succeeded);
			assert_int_equal(r->n_responses, 128);
			etcdj_reply_free(r);
		}
	}
	r = call(e, 0, &status, "/v3/kv/txn", "{\"success\":[%s]}", ops);
	assert_int_equal(status, 400);
	assert_int_equal(r->code, 3);
	assert_string_equal(r->message, "etcdserver: too many operations in txn request");
	etcdj_reply_free(r);
	b64("kmipd/t000", 10, k, sizeof(k));
	r = call(e, 0, &status, "/v3/kv/txn", "{\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
	    "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}]}", k, v, k, v);
	assert_int_equal(status, 400);
	assert_int_equal(r->code, 3);
	assert_string_equal(r->message, "etcdserver: duplicate key given in txn request");
	etcdj_reply_free(r);
}

/* The first items of a watch stream: created, then canceled. */
struct first_item {
	struct etcdj_decoder *d;
	struct etcdj_reply *items[4];
	size_t n;
	bool got2;
};

/* Keeps the first items of a watch stream. */
static void
on_first_chunk(struct evhttp_request *req, void *arg)
{
	struct first_item *fi = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), pos = 0, used;
	uint8_t *p = evbuffer_pullup(in, -1);

	while (pos < len) {
		enum jstream_status st = etcdj_decoder_feed(fi->d, p + pos, len - pos, &used);

		assert_int_not_equal(st, JSTREAM_ERROR);
		pos += used;
		if (st == JSTREAM_VALUE && fi->n < 4)
			fi->items[fi->n++] = etcdj_decoder_take(fi->d);
		else if (st == JSTREAM_VALUE)
			etcdj_reply_free(etcdj_decoder_take(fi->d));
	}
	fi->got2 = fi->n >= 2;
	evbuffer_drain(in, len);
}

/* Compaction: a Range or a watch from before it is refused, as a node that was cut off too long sees it. */
static void
test_compacted(void **state)
{
	struct etcd *e = *state;
	struct first_item fi = { .n = 0 };
	struct evhttp_connection *wc;
	struct evhttp_request *req;
	struct etcdj_reply *r;
	char k[64], ke[64], json[256];
	int64_t r1, r3;
	int status;
	size_t i;

	r1 = put(e, 0, "kmipd/c", "1", 1);
	(void)put(e, 0, "kmipd/c", "2", 1);
	r3 = put(e, 0, "kmipd/c", "3", 1);
	r = call(e, 0, NULL, "/v3/kv/compaction", "{\"revision\":\"%lld\",\"physical\":true}", (long long)r3);
	assert_false(r->is_error);
	etcdj_reply_free(r);
	r = call(e, 0, &status, "/v3/kv/range", "{\"key\":\"%s\",\"revision\":\"%lld\"}",
	    b64("kmipd/c", 7, k, sizeof(k)), (long long)r1);
	assert_int_equal(status, 400);
	assert_int_equal(r->code, 11);
	assert_string_equal(r->message, "etcdserver: mvcc: required revision has been compacted");
	etcdj_reply_free(r);

	/* The watch is created, then canceled with the compaction's revision; the stream stays open. */
	assert_non_null(fi.d = etcdj_decoder_new(ETCDJ_WATCH, &lim));
	assert_non_null(wc = evhttp_connection_base_new(e->base, NULL, "127.0.0.1", (uint16_t)e->port[0]));
	snprintf(json, sizeof(json), "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"start_revision\":"
	    "\"%lld\"}}", b64("kmipd/", 6, k, sizeof(k)), b64("kmipd0", 6, ke, sizeof(ke)), (long long)r1);
	req = post(wc, "/v3/watch", json, on_watch_done_ignore, on_first_chunk, &fi);
	if (!run_until(e, &fi.got2, CALL_SECONDS))
		fail_msg("the watch from a compacted revision sent %zu items", fi.n);
	assert_true(fi.items[0]->created);
	assert_true(fi.items[1]->canceled);
	assert_int_equal(fi.items[1]->compact_revision, r3);
	assert_int_equal(fi.items[1]->n_events, 0);
	assert_false(etcdj_is_progress(fi.items[1]));
	evhttp_cancel_request(req);
	evhttp_connection_free(wc);
	for (i = 0; i < fi.n; i++)
		etcdj_reply_free(fi.items[i]);
	etcdj_decoder_free(fi.d);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_range_txn, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_watch_stream, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_etcd_limits, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_compacted, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_three_members, setup_three, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
