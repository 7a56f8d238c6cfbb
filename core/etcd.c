/*
 * The etcd client: a FIFO queue of requests run one at a time on one keep-alive evhttp connection, a state
 * machine per request (authenticate when needed, send, wait, fail over), and watches on connections of their
 * own. Every evhttp connection lives in a struct http that is never freed from inside one of libevent's
 * callbacks: a connection that failed or is dropped is detached from its owner (its late callbacks are
 * ignored) and freed by the reaper, which runs from an event of its own.
 *
 * Whether a request was sent: a callback on the request's output buffer sees evhttp move the body into the
 * connection (which evhttp does only once connected, TLS handshake included). A body never moved was never
 * sent; one moved may have been, which is what makes a write's outcome UNKNOWN when no answer follows.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/etcd.h"

#define MAX_BACKOFF_MS		1000
#define ATTEMPTS_PER_ENDPOINT	2
#define MAX_HEADERS_BYTES	(16 * 1024)
#define MAX_PASSWORD		1024
#define MAX_TOKEN		4096
#define WATCH_NO_TIMEOUT_S	(7 * 24 * 3600)	/* evhttp's own read timeout on a watch: the liveness acts first */
#define IDLE_TIMEOUT_S		120	/* evhttp's on a request connection: it also closes an idle one then */

struct endpoint {
	char *url;		/* as given */
	bool tls;
	char *host;		/* as in the URL, without brackets: checked against the certificate */
	bool host_is_ip;
	char addr[INET6_ADDRSTRLEN];	/* the address connected to */
	uint16_t port;
	char *host_header;	/* host:port */
};

struct http;
typedef void (*http_done_fn)(struct http *h, struct evhttp_request *req);

/* One evhttp connection to one endpoint, and who uses it. */
struct http {
	struct etcd *e;
	struct evhttp_connection *evcon;
	size_t ep;
	bool drained;		/* the current request's body went into the connection: it may have been sent */
	bool established;	/* some body went into it: connected (and TLS done) at least once */
	bool dead;		/* failed, closed or dropped: never used again, freed by the reaper */
	bool too_long;		/* evhttp refused the reply: larger than its bound */
	bool answered;		/* an HTTP answer came on it: its TLS handshake was accepted */
	http_done_fn done;	/* NULL once detached */
	http_done_fn chunk;
	void *owner;
	evutil_socket_t nodelay_fd;	/* the socket TCP_NODELAY was set on (-1: none yet) */
	TAILQ_ENTRY(http) reap_link;
};

enum req_kind {
	REQ_READ,	/* retried anywhere until it gets an answer */
	REQ_WRITE,	/* retried only while it was never sent */
	REQ_AUTH_ONLY,	/* no request of its own: done once the client holds a token (a watch waits on it) */
};

struct req {
	TAILQ_ENTRY(req) link;
	enum req_kind kind;
	const char *path;
	char *body;
	size_t body_len;
	etcd_cb cb;
	void *arg;
	unsigned attempts;
	bool renewed;		/* the token was renewed once for it */
	bool in_backoff;
	bool connect_phase;	/* the timer is the connection's, not yet the request's */
	int http_status;
};

struct etcd {
	struct event_base *base;
	struct etcd_options o;
	struct endpoint ep[ETCD_MAX_ENDPOINTS];
	size_t n_ep;
	size_t cur_ep;
	SSL_CTX *ssl;
	char *server_name;
	char *user;
	char *password;
	char *token;
	bool authing;		/* the attempt in flight is /v3/auth/authenticate */
	struct http *unary;
	TAILQ_HEAD(, req) queue;
	size_t n_queued;	/* in the queue, the current one included */
	struct req *cur;
	struct event *timer;	/* the current attempt's deadline, or its back-off */
	struct event *kick;	/* runs pump() from the loop: the next request, the reaper */
	TAILQ_HEAD(, http) reap;
	struct etcdj_decoder *dec;
	LIST_HEAD(, etcd_watch) watches;
};

struct etcd_watch {
	struct etcd *e;
	LIST_ENTRY(etcd_watch) link;
	etcd_watch_cb cb;
	void *arg;
	char *body;
	size_t body_len;
	int liveness_ms;
	struct http *h;
	struct etcdj_decoder *dec;
	struct event *live;
	struct event *kickoff;	/* connects from the loop when no authentication is needed */
	struct req *auth;	/* the AUTH_ONLY request it waits on, or NULL */
	bool closed;		/* a final report was made */
	bool in_cb;
	bool free_pending;
	bool got_item;
};

/* A growing JSON text bounded by max. */
struct jbuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	bool over;		/* max was hit or memory was short: the text is unusable */
};

static void pump(struct etcd *e);
static void start_attempt(struct etcd *e);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void watch_connect(struct etcd_watch *w);

/* A printf into a malloc'd *cause. */
static void __attribute__((format(printf, 2, 3)))
set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
}

/* The defaults etcd.h gives, with decoder limits that hold a 1.5 MiB value. */
void
etcd_options_default(struct etcd_options *o)
{
	memset(o, 0, sizeof(*o));
	o->request_timeout_ms = 5000;
	o->connect_timeout_ms = 2000;
	o->backoff_ms = 50;
	o->max_reply_bytes = 4u << 20;
	o->max_request_bytes = 3u << 20;
	o->max_queue = 1024;
	o->max_events_per_call = 128;
	o->limits.json.max_value_size = 4u << 20;
	o->limits.json.max_depth = 16;
	o->limits.json.max_string = 3u << 20;
	/*
	 * A watch catching up gets up to 1000 revisions per item (etcd's watchBatchMaxRevs), each of up to 128
	 * writes; with fragment, etcd cuts an item at --max-request-bytes (1.5 MiB), which holds at most about
	 * 20,000 of the smallest events. The byte bounds above bound the memory; these only the counts.
	 */
	o->limits.json.max_members = 32768;
	o->limits.max_kvs = 32768;
	o->limits.max_responses = 256;
	o->limits.max_events = 32768;
	o->limits.max_key = 4096;
	o->limits.max_value = 2u << 20;
}

/* Makes room for n more bytes; false (and over set) past max or when memory is short. */
static bool
jb_room(struct jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->over || b->len > b->max || n > b->max - b->len) {
		b->over = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap == 0 ? 256 : b->cap;
	while (cap < b->len + n + 1)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->over = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

/* Appends a NUL-terminated text. */
static void
jb_add(struct jbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (!jb_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends printf-formatted text (short: numbers and names). */
static void __attribute__((format(printf, 2, 3)))
jb_fmt(struct jbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->over = true;
		return;
	}
	jb_add(b, tmp);
}

/* Appends "name":"base64 of the bytes". */
static void
jb_b64(struct jbuf *b, const char *name, const uint8_t *p, size_t len)
{
	size_t enc;

	if (len > SIZE_MAX / 2) {
		b->over = true;
		return;
	}
	enc = (len + 2) / 3 * 4;
	jb_fmt(b, "\"%s\":\"", name);
	if (len > INT_MAX / 2 || !jb_room(b, enc + 1)) {
		b->over = true;
		return;
	}
	if (len > 0)
		b->len += (size_t)EVP_EncodeBlock((unsigned char *)b->p + b->len, p, (int)len);
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

/* Appends s as a JSON string ("..." with '"' and '\\' escaped); over when s holds a control character. */
static void
jb_str(struct jbuf *b, const char *s)
{
	jb_add(b, "\"");
	for (; *s != '\0' && !b->over; s++) {
		char c[3] = { *s, '\0', '\0' };

		if ((unsigned char)*s < 0x20) {
			b->over = true;
			return;
		}
		if (*s == '"' || *s == '\\') {
			c[0] = '\\';
			c[1] = *s;
		}
		jb_add(b, c);
	}
	jb_add(b, "\"");
}

/*
 * The end of the range of every key starting with prefix: the prefix with its last byte below 0xff
 * incremented and what follows it dropped; "\0" (every key from prefix on) when there is no such byte.
 * Writes into out (prefix_len bytes at least, 1 for an empty prefix); returns its length.
 */
static size_t
prefix_end(const uint8_t *prefix, size_t prefix_len, uint8_t *out)
{
	size_t i = prefix_len;

	while (i > 0 && prefix[i - 1] == 0xff)
		i--;
	if (i == 0) {
		out[0] = 0;
		return 1;
	}
	memcpy(out, prefix, i);
	out[i - 1]++;
	return i;
}

/* Appends "key":...,"range_end":... for a key or, with prefix, every key that starts with it. */
static void
jb_key_range(struct jbuf *b, const uint8_t *key, size_t key_len, bool prefix)
{
	uint8_t *end;
	size_t n;

	if (prefix && key_len == 0) {
		/* Every key: etcd's "\0" to "\0" (an empty key is refused). */
		jb_add(b, "\"key\":\"AA==\",\"range_end\":\"AA==\"");
		return;
	}
	jb_b64(b, "key", key, key_len);
	if (!prefix)
		return;
	if ((end = malloc(key_len + 1)) == NULL) {
		b->over = true;
		return;
	}
	n = prefix_end(key, key_len, end);
	jb_add(b, ",");
	jb_b64(b, "range_end", end, n);
	free(end);
}

/* Appends a RangeRequest's members. */
static void
jb_range(struct jbuf *b, const struct etcd_range *r)
{
	if (r->range_end != NULL) {
		jb_b64(b, "key", r->key, r->key_len);
		jb_add(b, ",");
		jb_b64(b, "range_end", r->range_end, r->range_end_len);
	} else
		jb_key_range(b, r->key, r->key_len, r->prefix);
	if (r->limit > 0)
		jb_fmt(b, ",\"limit\":\"%lld\"", (long long)r->limit);
	if (r->revision > 0)
		jb_fmt(b, ",\"revision\":\"%lld\"", (long long)r->revision);
	if (r->keys_only)
		jb_add(b, ",\"keys_only\":true");
	if (r->count_only)
		jb_add(b, ",\"count_only\":true");
	if (r->serializable)
		jb_add(b, ",\"serializable\":true");
}

/* Parses "http://host:port" or "https://host:port" ([v6] allowed) into ep. Returns 0, or -1 with *cause. */
static int
endpoint_parse(struct endpoint *ep, const char *url, char **cause)
{
	const char *p, *host, *hend, *colon;
	unsigned long port;
	char *end;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		ep->tls = true;
	} else {
		set_cause(cause, "etcd endpoint \"%s\": not http:// or https://", url);
		return -1;
	}
	if (*p == '[') {
		host = p + 1;
		if ((hend = strchr(host, ']')) == NULL || hend[1] != ':') {
			set_cause(cause, "etcd endpoint \"%s\": a bracketed address needs ]:port", url);
			return -1;
		}
		colon = hend + 1;
	} else {
		host = p;
		if ((colon = strrchr(host, ':')) == NULL) {
			set_cause(cause, "etcd endpoint \"%s\": no port", url);
			return -1;
		}
		hend = colon;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (hend == host || errno != 0 || end == colon + 1 || (*end != '\0' && strcmp(end, "/") != 0) ||
	    port == 0 || port > 65535) {
		set_cause(cause, "etcd endpoint \"%s\": not host:port", url);
		return -1;
	}
	ep->port = (uint16_t)port;
	if ((ep->url = strdup(url)) == NULL || (ep->host = strndup(host, (size_t)(hend - host))) == NULL ||
	    asprintf(&ep->host_header, "%s:%u", ep->host, ep->port) == -1) {
		ep->host_header = NULL;
		set_cause(cause, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Resolves ep's host once (numeric or by getaddrinfo, IPv4 first), so that connections never wait on DNS.
 * Returns 0, or -1 with *cause.
 */
static int
endpoint_resolve(struct endpoint *ep, char **cause)
{
	struct addrinfo hints, *res, *ai, *pick = NULL;
	unsigned char tmp[sizeof(struct in6_addr)];
	int rc;

	if (inet_pton(AF_INET, ep->host, tmp) == 1 || inet_pton(AF_INET6, ep->host, tmp) == 1) {
		ep->host_is_ip = true;
		snprintf(ep->addr, sizeof(ep->addr), "%s", ep->host);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(ep->host, NULL, &hints, &res)) != 0) {
		set_cause(cause, "etcd endpoint %s: %s", ep->url, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (pick == NULL || (ai->ai_family == AF_INET && pick->ai_family != AF_INET))
			pick = ai;
	rc = -1;
	if (pick != NULL && pick->ai_family == AF_INET)
		rc = inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)pick->ai_addr)->sin_addr, ep->addr,
		    sizeof(ep->addr)) != NULL ? 0 : -1;
	else if (pick != NULL && pick->ai_family == AF_INET6)
		rc = inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)pick->ai_addr)->sin6_addr, ep->addr,
		    sizeof(ep->addr)) != NULL ? 0 : -1;
	freeaddrinfo(res);
	if (rc != 0)
		set_cause(cause, "etcd endpoint %s: no address", ep->url);
	return rc;
}

/* Reads the password file: one line, the final newline cut. Returns a malloc'd string, or NULL with *cause. */
static char *
read_password(const char *path, char **cause)
{
	char buf[MAX_PASSWORD + 2], *pw;
	struct stat st;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		set_cause(cause, "etcd password file %s: %s", path, strerror(errno));
		return NULL;
	}
	/* Like the master key file: a secret others can read is refused, not used. */
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		set_cause(cause, "etcd password file %s: %s", path, S_ISREG(st.st_mode) ? "its group or others may "
		    "read it: make it mode 0600 or stricter" : "not a regular file");
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0 || n > MAX_PASSWORD || strlen(buf) != n || strchr(buf, '\n') != NULL) {
		OPENSSL_cleanse(buf, sizeof(buf));
		set_cause(cause, "etcd password file %s: not one line of 1 to %d bytes", path, MAX_PASSWORD);
		return NULL;
	}
	pw = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (pw == NULL)
		set_cause(cause, "out of memory");
	return pw;
}

/* The TLS context of https endpoints: our certificate, etcd's CA, peer verification. NULL with *cause. */
static SSL_CTX *
tls_context(const struct etcd_options *o, char **cause)
{
	SSL_CTX *ctx;
	unsigned long err;

	if (o->ca_file == NULL || o->cert_file == NULL || o->key_file == NULL) {
		set_cause(cause, "an https etcd endpoint needs the CA, certificate and key files");
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
fail:
	err = ERR_get_error();
	set_cause(cause, "etcd TLS files (%s, %s, %s): %s", o->ca_file, o->cert_file, o->key_file,
	    err != 0 ? ERR_reason_error_string(err) : "cannot make a context");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* Runs pump() from the loop, soon. */
static void
kick(struct etcd *e)
{
	event_active(e->kick, EV_TIMEOUT, 0);
}

/* The kick event. */
static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pump(arg);
}

/* A client: options checked, password read, host names resolved, TLS loaded (see etcd.h). */
struct etcd *
etcd_new(struct event_base *base, const struct etcd_options *o, char **cause)
{
	struct etcd *e;
	bool tls = false;
	size_t i;

	if (o->n_endpoints == 0 || o->n_endpoints > ETCD_MAX_ENDPOINTS || o->endpoints == NULL) {
		set_cause(cause, "etcd: 1 to %d endpoints", ETCD_MAX_ENDPOINTS);
		return NULL;
	}
	if (o->request_timeout_ms <= 0 || o->connect_timeout_ms <= 0 || o->backoff_ms < 0 ||
	    o->max_reply_bytes == 0 || o->max_request_bytes == 0 || o->max_queue == 0 ||
	    o->max_events_per_call == 0 || (o->user == NULL) != (o->password_file == NULL)) {
		set_cause(cause, "etcd: a timeout, bound or the user and password file pair is missing");
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		set_cause(cause, "out of memory");
		return NULL;
	}
	e->base = base;
	e->o = *o;
	e->o.endpoints = NULL;
	e->o.ca_file = e->o.cert_file = e->o.key_file = e->o.server_name = NULL;
	e->o.user = e->o.password_file = NULL;
	TAILQ_INIT(&e->queue);
	TAILQ_INIT(&e->reap);
	LIST_INIT(&e->watches);
	for (i = 0; i < o->n_endpoints; i++) {
		e->n_ep++;
		if (endpoint_parse(&e->ep[i], o->endpoints[i], cause) != 0 || endpoint_resolve(&e->ep[i], cause) != 0)
			goto fail;
		tls = tls || e->ep[i].tls;
	}
	if (tls && (e->ssl = tls_context(o, cause)) == NULL)
		goto fail;
	if (o->server_name != NULL && (e->server_name = strdup(o->server_name)) == NULL) {
		set_cause(cause, "out of memory");
		goto fail;
	}
	if (o->user != NULL && ((e->user = strdup(o->user)) == NULL ||
	    (e->password = read_password(o->password_file, cause)) == NULL)) {
		if (e->user == NULL)
			set_cause(cause, "out of memory");
		goto fail;
	}
	if ((e->dec = etcdj_decoder_new(ETCDJ_UNARY, &o->limits)) == NULL) {
		set_cause(cause, "etcd: decoder limits out of range");
		goto fail;
	}
	if ((e->timer = evtimer_new(base, on_timer, e)) == NULL ||
	    (e->kick = event_new(base, -1, 0, on_kick, e)) == NULL) {
		set_cause(cause, "out of memory");
		goto fail;
	}
	return e;
fail:
	etcd_free(e);
	return NULL;
}

/* The URL requests go to now. */
const char *
etcd_endpoint(const struct etcd *e)
{
	return e->ep[e->cur_ep].url;
}

static void watch_destroy(struct etcd_watch *w);

/* Frees a connection now: only from the reaper or etcd_free, never inside one of its callbacks. */
static void
http_destroy(struct http *h)
{
	if (h->evcon != NULL) {
		evhttp_connection_set_closecb(h->evcon, NULL, NULL);
		evhttp_connection_free(h->evcon);
	}
	free(h);
}

/* Marks h dead, never to be used again: the reaper frees it (what evhttp still reports now is heard). */
static void
http_retire(struct http *h)
{
	if (h == NULL || h->dead)
		return;
	h->dead = true;
	if (h->e->unary == h)
		h->e->unary = NULL;
	TAILQ_INSERT_TAIL(&h->e->reap, h, reap_link);
	kick(h->e);
}

/* Retires h and detaches it from its owner: its late callbacks are ignored. */
static void
http_drop(struct http *h)
{
	if (h == NULL)
		return;
	h->done = NULL;
	h->chunk = NULL;
	h->owner = NULL;
	http_retire(h);
}

/* Frees the client, its watches and connections without calling back; wipes the password and token. */
void
etcd_free(struct etcd *e)
{
	struct http *h;
	struct req *r;
	size_t i;

	if (e == NULL)
		return;
	while (!LIST_EMPTY(&e->watches))
		watch_destroy(LIST_FIRST(&e->watches));
	if (e->unary != NULL)
		http_drop(e->unary);
	while ((h = TAILQ_FIRST(&e->reap)) != NULL) {
		TAILQ_REMOVE(&e->reap, h, reap_link);
		http_destroy(h);
	}
	while ((r = TAILQ_FIRST(&e->queue)) != NULL) {
		TAILQ_REMOVE(&e->queue, r, link);
		free(r->body);
		free(r);
	}
	if (e->cur != NULL) {
		free(e->cur->body);
		free(e->cur);
	}
	if (e->timer != NULL)
		event_free(e->timer);
	if (e->kick != NULL)
		event_free(e->kick);
	etcdj_decoder_free(e->dec);
	SSL_CTX_free(e->ssl);
	for (i = 0; i < e->n_ep; i++) {
		free(e->ep[i].url);
		free(e->ep[i].host);
		free(e->ep[i].host_header);
	}
	if (e->password != NULL) {
		OPENSSL_cleanse(e->password, strlen(e->password));
		free(e->password);
	}
	if (e->token != NULL) {
		OPENSSL_cleanse(e->token, strlen(e->token));
		free(e->token);
	}
	free(e->server_name);
	free(e->user);
	free(e);
}

/* Forgets the token (etcd no longer knows it, or authentication failed). */
static void
token_clear(struct etcd *e)
{
	if (e->token == NULL)
		return;
	OPENSSL_cleanse(e->token, strlen(e->token));
	free(e->token);
	e->token = NULL;
}

/*
 * evhttp's close callback: the connection will not be reused (evhttp would reconnect it, which a TLS
 * connection cannot do with its spent SSL object). A request on it still hears how it ended.
 */
static void
on_http_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	http_retire(arg);
}

/* The output buffer callback of a request: evhttp moved the body into the connection, which is up. */
static void
on_body_moved(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http *h = arg;

	(void)buf;
	if (info->n_deleted > 0)
		h->drained = h->established = true;
}

/* evhttp's completion callback: handed to the owner while attached. */
static void
on_http_done(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;

	if (h->done != NULL)
		h->done(h, req);
}

/* evhttp's error callback, called before the completion: notes a reply over the size bound. */
static void
on_http_error(enum evhttp_request_error err, void *arg)
{
	struct http *h = arg;

	if (err == EVREQ_HTTP_DATA_TOO_LONG)
		h->too_long = true;
}

/* evhttp's chunk callback (watches). */
static void
on_http_chunk(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;

	if (h->chunk != NULL)
		h->chunk(h, req);
}

/*
 * A new connection to endpoint i (TLS when it is https: SNI and the host checked against the
 * certificate). max_body bounds the reply's HTTP body, timeout_s is evhttp's own I/O timeout. NULL when
 * memory is short or TLS cannot be set up.
 */
static struct http *
http_new(struct etcd *e, size_t i, size_t max_body, int timeout_s)
{
	const struct endpoint *ep = &e->ep[i];
	const char *name = e->server_name != NULL ? e->server_name : ep->host;
	struct bufferevent *bev = NULL;
	struct http *h;
	SSL *ssl;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->e = e;
	h->ep = i;
	h->nodelay_fd = -1;
	if (ep->tls) {
		if ((ssl = SSL_new(e->ssl)) == NULL)
			goto fail;
		if (e->server_name == NULL && ep->host_is_ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep->host) != 1) {
				SSL_free(ssl);
				goto fail;
			}
		} else if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1) {
			SSL_free(ssl);
			goto fail;
		}
		/* Frees ssl when it fails. */
		if ((bev = bufferevent_openssl_socket_new(e->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
			goto fail;
		/* etcd (Go) may close without close_notify: an EOF, as over plain TCP. */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	if ((h->evcon = evhttp_connection_base_bufferevent_new(e->base, NULL, bev, ep->addr, ep->port)) == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		goto fail;
	}
	evhttp_connection_set_timeout(h->evcon, timeout_s);
	evhttp_connection_set_max_body_size(h->evcon, max_body > (size_t)INT64_MAX ? INT64_MAX : (ev_ssize_t)max_body);
	evhttp_connection_set_max_headers_size(h->evcon, MAX_HEADERS_BYTES);
	evhttp_connection_set_closecb(h->evcon, on_http_close, h);
	return h;
fail:
	ERR_clear_error();
	free(h);
	return NULL;
}

/*
 * Turns Nagle's algorithm off on h's socket (once it has one: evhttp makes it when it connects). evhttp
 * writes the headers and the body of a request apart; with Nagle the body waits for the ACK of the headers,
 * which etcd delays by up to 40 ms: a transaction took 45 ms instead of 3.
 */
static void
nodelay(struct http *h)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(h->evcon);
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	int one = 1;

	if (fd >= 0 && fd != h->nodelay_fd && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
		h->nodelay_fd = fd;
}

/*
 * POSTs body to path on h, with the token when withtoken; done (and chunk) get the outcome. Returns 0, or -1
 * when the request could not be made (nothing was sent).
 */
static int
http_post(struct http *h, const char *path, const char *body, size_t len, bool withtoken, http_done_fn done,
    http_done_fn chunk, void *owner)
{
	struct evhttp_request *req;
	struct evkeyvalq *hd;
	struct evbuffer *out;

	if ((req = evhttp_request_new(on_http_done, h)) == NULL)
		return -1;
	if (chunk != NULL)
		evhttp_request_set_chunked_cb(req, on_http_chunk);
	evhttp_request_set_error_cb(req, on_http_error);
	hd = evhttp_request_get_output_headers(req);
	out = evhttp_request_get_output_buffer(req);
	if (evhttp_add_header(hd, "Host", h->e->ep[h->ep].host_header) != 0 ||
	    evhttp_add_header(hd, "Content-Type", "application/json") != 0 ||
	    (withtoken && h->e->token != NULL && evhttp_add_header(hd, "Authorization", h->e->token) != 0) ||
	    evbuffer_add(out, body, len) != 0 || evbuffer_add_cb(out, on_body_moved, h) == NULL) {
		evhttp_request_free(req);
		return -1;
	}
	h->drained = false;
	h->too_long = false;
	h->done = done;
	h->chunk = chunk;
	h->owner = owner;
	/* On failure evhttp has freed req. */
	if (evhttp_make_request(h->evcon, req, EVHTTP_REQ_POST, path) != 0) {
		h->done = h->chunk = NULL;
		return -1;
	}
	nodelay(h);
	return 0;
}

/* Moves the client to the next endpoint, when it is still at the one that failed. */
static void
next_endpoint(struct etcd *e, size_t failed)
{
	if (e->cur_ep == failed)
		e->cur_ep = (e->cur_ep + 1) % e->n_ep;
}

/* Ends the current request: its callback gets the result; the next request starts from the loop. */
static void
finish(struct etcd *e, enum etcd_status st, const struct etcdj_reply *reply, int64_t revision, const char *fmt,
    ...) __attribute__((format(printf, 5, 6)));
static void
finish(struct etcd *e, enum etcd_status st, const struct etcdj_reply *reply, int64_t revision, const char *fmt,
    ...)
{
	struct req *r = e->cur;
	struct etcd_result res;
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	evtimer_del(e->timer);
	e->cur = NULL;
	e->authing = false;
	e->n_queued--;
	memset(&res, 0, sizeof(res));
	res.status = st;
	res.reply = reply;
	res.http_status = r->http_status;
	res.reason = reason;
	res.endpoint = e->ep[e->cur_ep].url;
	res.revision = revision;
	kick(e);
	if (r->cb != NULL)
		r->cb(&res, r->arg);
	free(r->body);
	free(r);
}

/* Arms the current request's timer for ms milliseconds. */
static void
arm(struct etcd *e, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(e->timer, &tv);
}

/*
 * An attempt failed without a usable answer: the connection is dropped and the client moves to the next
 * endpoint. A write that may have been sent ends UNKNOWN; anything else is tried again after a back-off,
 * until its attempts run out (UNAVAILABLE).
 */
static void
attempt_failed(struct etcd *e, struct http *h, bool sent, const char *why)
{
	struct req *r = e->cur;
	size_t ep = e->cur_ep;
	int ms;

	if (h == NULL)
		h = e->unary;
	if (h != NULL) {
		ep = h->ep;
		http_drop(h);
	}
	if (e->unary != NULL)
		http_drop(e->unary);
	next_endpoint(e, ep);
	if (sent && r->kind == REQ_WRITE && !e->authing) {
		finish(e, ETCD_UNKNOWN, NULL, 0, "etcd %s: %s after the write was sent: it may have committed",
		    e->ep[ep].url, why);
		return;
	}
	e->authing = false;
	if (++r->attempts >= ATTEMPTS_PER_ENDPOINT * e->n_ep) {
		finish(e, ETCD_UNAVAILABLE, NULL, 0, "etcd: no endpoint answered in %u attempts (last %s: %s)",
		    r->attempts, e->ep[ep].url, why);
		return;
	}
	r->in_backoff = true;
	ms = e->o.backoff_ms * (int)r->attempts;
	arm(e, ms > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : ms);
}

/* The timer of the current request: its deadline, or the end of its back-off. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct etcd *e = arg;
	struct req *r = e->cur;
	bool sent;

	(void)fd, (void)what;
	if (r == NULL)
		return;
	if (r->in_backoff) {
		r->in_backoff = false;
		start_attempt(e);
		return;
	}
	sent = e->unary != NULL && e->unary->drained;
	if (r->connect_phase && sent) {
		/* Connected in time: now the request's own deadline. */
		r->connect_phase = false;
		arm(e, e->o.request_timeout_ms);
		return;
	}
	attempt_failed(e, NULL, sent, r->connect_phase ? "no connection within the connect timeout" :
	    "no answer within the request timeout");
}

/* The state of the token parser: the top-level "token" member of an authenticate reply. */
struct token_parse {
	bool want;
	char *token;
	bool bad;
};

/* jstream callback for the authenticate reply. */
static int
token_cb(void *arg, enum jstream_token tok, const char *s, size_t len, unsigned depth)
{
	struct token_parse *t = arg;

	if (depth == 1 && tok == JSTREAM_NAME) {
		t->want = strcmp(s, "token") == 0;
		return 0;
	}
	if (t->want && depth == 1) {
		t->want = false;
		if (tok != JSTREAM_STRING || len == 0 || len > MAX_TOKEN || strlen(s) != len || t->token != NULL) {
			t->bad = true;
			return -1;
		}
		/* It goes into an HTTP header: visible ASCII only. */
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
				t->bad = true;
				return -1;
			}
		if ((t->token = strdup(s)) == NULL)
			return -1;
	}
	return 0;
}

/* Reads the token from an authenticate reply's body; NULL when there is none. */
static char *
parse_token(struct etcd *e, const uint8_t *p, size_t len)
{
	struct token_parse t = { .want = false };
	struct jstream *j = jstream_new(&e->o.limits.json, token_cb, &t);
	enum jstream_status st;
	size_t used;
	char *ret = NULL;

	if (j == NULL)
		return NULL;
	st = jstream_feed(j, p, len, &used);
	if (st == JSTREAM_VALUE && !t.bad)
		ret = t.token;
	else
		free(t.token);
	jstream_free(j);
	return ret;
}

/*
 * A reply that is not JSON, as etcd's gateway sends some refusals (HTTP 400 "CommonName of client sending a
 * request against gateway will be ignored..."): its first line into why, printable bytes only.
 */
static void
plain_text(const uint8_t *p, size_t len, char *why, size_t whysize)
{
	char text[161];
	size_t i, n = 0;

	for (i = 0; i < len && n < sizeof(text) - 1 && p[i] != '\n'; i++)
		text[n++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	text[n] = '\0';
	snprintf(why, whysize, "etcd answered in plain text: \"%s%s\"", text, i < len && p[i] != '\n' ? "..." : "");
}

/* Decodes a unary reply body; NULL with the decoder's reason in why when it is not one whole reply. */
static struct etcdj_reply *
decode(struct etcd *e, struct evbuffer *body, char *why, size_t whysize)
{
	size_t len = evbuffer_get_length(body), used = 0;
	uint8_t *p = evbuffer_pullup(body, -1);
	struct etcdj_reply *r = NULL;
	enum jstream_status st;
	uint64_t off;

	etcdj_decoder_reset(e->dec);
	st = etcdj_decoder_feed(e->dec, p, len, &used);
	if (st == JSTREAM_VALUE)
		r = etcdj_decoder_take(e->dec);
	if (st == JSTREAM_ERROR && (len == 0 || p[0] != '{'))
		plain_text(p, len, why, whysize);
	else if (st == JSTREAM_ERROR)
		snprintf(why, whysize, "%s", etcdj_decoder_error(e->dec, &off));
	else if (r == NULL)
		snprintf(why, whysize, "a reply cut short (%zu bytes)", len);
	/* Only whitespace may follow. */
	for (; r != NULL && used < len; used++)
		if (p[used] != ' ' && p[used] != '\n' && p[used] != '\r' && p[used] != '\t') {
			snprintf(why, whysize, "bytes after the reply");
			etcdj_reply_free(r);
			r = NULL;
		}
	return r;
}

/* The answer to an authenticate request: the token, or why not. */
static void
auth_done(struct etcd *e, struct http *h, int code, struct evbuffer *body)
{
	struct etcdj_reply *rep;
	char why[256] = "";
	char *tok;

	if (code == 200 && (tok = parse_token(e, evbuffer_pullup(body, -1), evbuffer_get_length(body))) != NULL) {
		token_clear(e);
		e->token = tok;
		e->authing = false;
		if (e->cur->kind == REQ_AUTH_ONLY) {
			finish(e, ETCD_OK, NULL, 0, "authenticated");
			return;
		}
		start_attempt(e);
		return;
	}
	if (code == 503) {
		attempt_failed(e, h, true, "unavailable (HTTP 503)");
		return;
	}
	rep = code != 200 ? decode(e, body, why, sizeof(why)) : NULL;
	finish(e, ETCD_AUTH, rep, 0, "etcd refused the authentication of user \"%s\" (HTTP %d): %s", e->user, code,
	    rep != NULL && rep->message != NULL ? rep->message : code == 200 ? "no token in the reply" : why);
	etcdj_reply_free(rep);
}

/*
 * Why a connection failed: what, and OpenSSL's reason on a TLS connection (a certificate refused...) into
 * buf. Returns whether TLS failed on a connection that never carried an answer: etcd's TLS layer refused us
 * (with TLS 1.3 the client's handshake ends before the server has checked its certificate, so the body may
 * have left; it never reached etcd's HTTP handler).
 */
static bool
http_error(struct http *h, const char *what, char *buf, size_t size)
{
	struct bufferevent *bev = h->e->ep[h->ep].tls ? evhttp_connection_get_bufferevent(h->evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	unsigned long err = 0, last;
	const char *s;
	long v;

	while (bev != NULL && (last = bufferevent_get_openssl_error(bev)) != 0)
		err = last;
	s = err != 0 ? ERR_reason_error_string(err) : NULL;
	/* A certificate of etcd's this client refused. */
	if (ssl != NULL && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		s = X509_verify_cert_error_string(v);
	snprintf(buf, size, "%s%s%s%s", what, s != NULL ? " (TLS: " : "", s != NULL ? s : "", s != NULL ? ")" : "");
	return s != NULL && !h->answered;
}

/* evhttp's completion of the current request's attempt. */
static void
unary_done(struct http *h, struct evhttp_request *req)
{
	struct etcd *e = h->e;
	struct req *r = e->cur;
	struct etcdj_reply *rep;
	struct evbuffer *body;
	char why[256] = "";
	int code;

	h->done = NULL;
	if (r == NULL)
		return;
	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	r->http_status = code;
	if (code == 0 && h->too_long) {
		/* Another endpoint would send the same: an answer, too large to take. */
		http_drop(h);
		if (r->kind == REQ_WRITE)
			finish(e, ETCD_UNKNOWN, NULL, 0, "etcd %s: a reply over %zu bytes: the write may have committed",
			    e->ep[h->ep].url, e->o.max_reply_bytes);
		else
			finish(e, ETCD_REFUSED, NULL, 0, "etcd %s: a reply over %zu bytes (max_reply_bytes)",
			    e->ep[h->ep].url, e->o.max_reply_bytes);
		return;
	}
	if (code == 0) {
		bool refused = http_error(h, h->drained ? "the connection failed" : "cannot connect", why,
		    sizeof(why));

		attempt_failed(e, h, h->drained && !refused, why);
		return;
	}
	h->answered = true;
	body = evhttp_request_get_input_buffer(req);
	if (e->authing) {
		auth_done(e, h, code, body);
		return;
	}
	if (code == 503) {
		rep = decode(e, body, why, sizeof(why));
		snprintf(why, sizeof(why), "unavailable (HTTP 503: %s)", rep != NULL && rep->message != NULL ?
		    rep->message : "no reason");
		etcdj_reply_free(rep);
		attempt_failed(e, h, true, why);
		return;
	}
	if ((rep = decode(e, body, why, sizeof(why))) == NULL) {
		http_drop(h);
		if (code == 200 && r->kind == REQ_WRITE)
			finish(e, ETCD_UNKNOWN, NULL, 0, "etcd %s: HTTP 200 with an undecodable reply (%s): the write "
			    "may have committed", e->ep[h->ep].url, why);
		else
			finish(e, ETCD_REFUSED, NULL, 0, "etcd %s: HTTP %d with an undecodable reply (%s)",
			    e->ep[h->ep].url, code, why);
		return;
	}
	if (code == 401 && rep->is_error && rep->code == 16 && e->user != NULL && !r->renewed) {
		/* The token expired or etcd restarted: a new one, once; etcd refused before proposing. */
		etcdj_reply_free(rep);
		token_clear(e);
		r->renewed = true;
		evtimer_del(e->timer);
		start_attempt(e);
		return;
	}
	if (code == 200 && !rep->is_error)
		finish(e, ETCD_OK, rep, 0, "ok");
	else
		finish(e, ETCD_REFUSED, rep, 0, "etcd %s refused it (HTTP %d, code %d): %s", e->ep[h->ep].url, code,
		    rep->code, rep->message != NULL ? rep->message : rep->error != NULL ? rep->error : "no reason");
	etcdj_reply_free(rep);
}

/* Sends the current request (or the authentication it needs first) on the current endpoint. */
static void
start_attempt(struct etcd *e)
{
	struct req *r = e->cur;
	struct jbuf b = { .max = MAX_PASSWORD * 2 + 1024 };
	const char *path = r->path, *body = r->body;
	size_t len = r->body_len;
	int ms;

	if (r->kind == REQ_AUTH_ONLY && (e->user == NULL || e->token != NULL)) {
		finish(e, ETCD_OK, NULL, 0, "ok");
		return;
	}
	e->authing = e->user != NULL && e->token == NULL;
	if (e->authing) {
		jb_add(&b, "{\"name\":");
		jb_str(&b, e->user);
		jb_add(&b, ",\"password\":");
		jb_str(&b, e->password);
		jb_add(&b, "}");
		if (b.over) {
			if (b.p != NULL)
				OPENSSL_cleanse(b.p, b.cap);
			free(b.p);
			finish(e, ETCD_AUTH, NULL, 0, "etcd: the user or password holds a control character");
			return;
		}
		path = "/v3/auth/authenticate";
		body = b.p;
		len = b.len;
	}
	if (e->unary != NULL && (e->unary->ep != e->cur_ep || e->unary->dead))
		http_drop(e->unary);
	if (e->unary == NULL)
		e->unary = http_new(e, e->cur_ep, e->o.max_reply_bytes, IDLE_TIMEOUT_S);
	if (e->unary == NULL || http_post(e->unary, path, body, len, !e->authing, unary_done, NULL, r) != 0) {
		if (b.p != NULL)
			OPENSSL_cleanse(b.p, b.cap);
		free(b.p);
		attempt_failed(e, NULL, false, "cannot make the request");
		return;
	}
	if (b.p != NULL)
		OPENSSL_cleanse(b.p, b.cap);
	free(b.p);
	r->connect_phase = !e->unary->established;
	ms = e->o.request_timeout_ms;
	if (r->connect_phase && e->o.connect_timeout_ms < ms)
		ms = e->o.connect_timeout_ms;
	arm(e, ms);
}

/* The loop's turn: frees dropped connections, then starts the next request when none is in flight. */
static void
pump(struct etcd *e)
{
	struct http *h;

	while ((h = TAILQ_FIRST(&e->reap)) != NULL) {
		TAILQ_REMOVE(&e->reap, h, reap_link);
		http_destroy(h);
	}
	if (e->cur != NULL || (e->cur = TAILQ_FIRST(&e->queue)) == NULL)
		return;
	TAILQ_REMOVE(&e->queue, e->cur, link);
	start_attempt(e);
}

/* Queues a request whose body is b (taken). Returns 0, or -1 (b freed) when full or too large. */
static int
enqueue(struct etcd *e, enum req_kind kind, const char *path, struct jbuf *b, etcd_cb cb, void *arg,
    struct req **out)
{
	struct req *r;

	if (b->over || e->n_queued >= e->o.max_queue || (r = calloc(1, sizeof(*r))) == NULL) {
		free(b->p);
		return -1;
	}
	r->kind = kind;
	r->path = path;
	r->body = b->p;
	r->body_len = b->len;
	r->cb = cb;
	r->arg = arg;
	TAILQ_INSERT_TAIL(&e->queue, r, link);
	e->n_queued++;
	kick(e);
	if (out != NULL)
		*out = r;
	return 0;
}

/* Queues a Range (a read: tried on every endpoint until answered). */
int
etcd_range(struct etcd *e, const struct etcd_range *r, etcd_cb cb, void *arg)
{
	struct jbuf b = { .max = e->o.max_request_bytes };

	jb_add(&b, "{");
	jb_range(&b, r);
	jb_add(&b, "}");
	return enqueue(e, REQ_READ, "/v3/kv/range", &b, cb, arg, NULL);
}

/* Queues a Put (a write: UNKNOWN when sent without an answer). */
int
etcd_put(struct etcd *e, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len, etcd_cb cb,
    void *arg)
{
	struct jbuf b = { .max = e->o.max_request_bytes };

	jb_add(&b, "{");
	jb_b64(&b, "key", key, key_len);
	jb_add(&b, ",");
	jb_b64(&b, "value", value, value_len);
	jb_add(&b, "}");
	return enqueue(e, REQ_WRITE, "/v3/kv/put", &b, cb, arg, NULL);
}

/* Queues a DeleteRange of a key or a prefix (a write). */
int
etcd_delete(struct etcd *e, const uint8_t *key, size_t key_len, bool prefix, etcd_cb cb, void *arg)
{
	struct jbuf b = { .max = e->o.max_request_bytes };

	jb_add(&b, "{");
	jb_key_range(&b, key, key_len, prefix);
	jb_add(&b, "}");
	return enqueue(e, REQ_WRITE, "/v3/kv/deleterange", &b, cb, arg, NULL);
}

/* Queues a Compaction up to revision (a write). */
int
etcd_compact(struct etcd *e, int64_t revision, bool physical, etcd_cb cb, void *arg)
{
	struct jbuf b = { .max = e->o.max_request_bytes };

	jb_fmt(&b, "{\"revision\":\"%lld\"%s}", (long long)revision, physical ? ",\"physical\":true" : "");
	return enqueue(e, REQ_WRITE, "/v3/kv/compaction", &b, cb, arg, NULL);
}

/* The binary search of etcd_compacted: the smallest readable revision lies in [lo, hi]. */
struct compacted {
	struct etcd *e;
	etcd_cb cb;
	void *arg;
	int64_t lo;
	int64_t hi;
	bool started;
	uint8_t key[256];
	size_t key_len;
};

/* Reports the search's end to its caller. */
static void
compacted_end(struct compacted *c, const struct etcd_result *res, enum etcd_status st, int64_t rev)
{
	struct etcd_result out = *res;

	out.status = st;
	out.revision = rev;
	if (st == ETCD_OK)
		out.reason = "ok";
	c->cb(&out, c->arg);
	free(c);
}

/* One step of the search: a count of the key at the middle revision (at the latest, first). */
static void
compacted_step(const struct etcd_result *res, void *arg)
{
	struct compacted *c = arg;
	struct etcd_range r = { .key = c->key, .key_len = c->key_len, .count_only = true };
	int64_t mid;

	if (!c->started) {
		if (res->status != ETCD_OK) {
			compacted_end(c, res, res->status, 0);
			return;
		}
		c->started = true;
		c->lo = 1;
		c->hi = res->reply->header.revision > 0 ? res->reply->header.revision : 1;
	} else {
		mid = c->lo + (c->hi - c->lo) / 2;
		if (res->status == ETCD_OK)
			c->hi = mid;
		else if (res->status == ETCD_REFUSED && res->reply != NULL && res->reply->code == 11 &&
		    res->reply->message != NULL && strstr(res->reply->message, "compacted") != NULL)
			c->lo = mid + 1;
		else {
			compacted_end(c, res, res->status == ETCD_OK ? ETCD_REFUSED : res->status, 0);
			return;
		}
	}
	if (c->lo >= c->hi) {
		compacted_end(c, res, ETCD_OK, c->lo);
		return;
	}
	r.revision = c->lo + (c->hi - c->lo) / 2;
	if (etcd_range(c->e, &r, compacted_step, c) != 0) {
		struct etcd_result full = *res;

		full.reason = "etcd: the request queue is full";
		compacted_end(c, &full, ETCD_UNAVAILABLE, 0);
	}
}

/* Starts the binary search for the oldest readable revision (see etcd.h). */
int
etcd_compacted(struct etcd *e, const uint8_t *key, size_t key_len, etcd_cb cb, void *arg)
{
	struct etcd_range r = { .key = key, .key_len = key_len, .count_only = true };
	struct compacted *c;

	if (key_len == 0 || key_len > sizeof(c->key) || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	memcpy(c->key, key, key_len);
	c->key_len = key_len;
	c->e = e;
	c->cb = cb;
	c->arg = arg;
	if (etcd_range(e, &r, compacted_step, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

struct etcd_txn {
	struct etcd *e;
	struct jbuf cmp;
	struct jbuf ops[2];	/* failure, success */
};

/* A new, empty Txn of e; NULL when memory is short. */
struct etcd_txn *
etcd_txn_new(struct etcd *e)
{
	struct etcd_txn *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->e = e;
	t->cmp.max = t->ops[0].max = t->ops[1].max = e->o.max_request_bytes;
	return t;
}

/* Frees a Txn that was not sent. */
void
etcd_txn_free(struct etcd_txn *t)
{
	if (t == NULL)
		return;
	free(t->cmp.p);
	free(t->ops[0].p);
	free(t->ops[1].p);
	free(t);
}

/* -1 when any part of the Txn outgrew its bound. */
static int
txn_state(const struct etcd_txn *t)
{
	return t->cmp.over || t->ops[0].over || t->ops[1].over ? -1 : 0;
}

/* Adds a compare of key's version, create or mod revision; 0, or -1 past the size bound. */
int
etcd_txn_compare(struct etcd_txn *t, const uint8_t *key, size_t key_len, enum etcd_cmp_target target,
    enum etcd_cmp_result result, int64_t value)
{
	static const char *const targets[] = { "VERSION", "CREATE", "MOD" };
	static const char *const fields[] = { "version", "create_revision", "mod_revision" };
	static const char *const results[] = { "EQUAL", "NOT_EQUAL", "LESS", "GREATER" };

	if ((unsigned)target > ETCD_CMP_MOD || (unsigned)result > ETCD_CMP_GREATER) {
		t->cmp.over = true;
		return -1;
	}
	jb_add(&t->cmp, t->cmp.len > 0 ? ",{" : "{");
	jb_b64(&t->cmp, "key", key, key_len);
	jb_fmt(&t->cmp, ",\"target\":\"%s\",\"result\":\"%s\",\"%s\":\"%lld\"}", targets[target], results[result],
	    fields[target], (long long)value);
	return txn_state(t);
}

/* Adds a Put to the success (or failure) branch; 0, or -1 past the size bound. */
int
etcd_txn_put(struct etcd_txn *t, bool success, const uint8_t *key, size_t key_len, const uint8_t *value,
    size_t value_len)
{
	struct jbuf *b = &t->ops[success];

	jb_add(b, b->len > 0 ? ",{\"request_put\":{" : "{\"request_put\":{");
	jb_b64(b, "key", key, key_len);
	jb_add(b, ",");
	jb_b64(b, "value", value, value_len);
	jb_add(b, "}}");
	return txn_state(t);
}

/* Adds a DeleteRange to a branch; 0, or -1 past the size bound. */
int
etcd_txn_delete(struct etcd_txn *t, bool success, const uint8_t *key, size_t key_len, bool prefix)
{
	struct jbuf *b = &t->ops[success];

	jb_add(b, b->len > 0 ? ",{\"request_delete_range\":{" : "{\"request_delete_range\":{");
	jb_key_range(b, key, key_len, prefix);
	jb_add(b, "}}");
	return txn_state(t);
}

/* Adds a Range to a branch (its kvs come back in the reply's responses); 0, or -1. */
int
etcd_txn_range(struct etcd_txn *t, bool success, const struct etcd_range *r)
{
	struct jbuf *b = &t->ops[success];

	jb_add(b, b->len > 0 ? ",{\"request_range\":{" : "{\"request_range\":{");
	jb_range(b, r);
	jb_add(b, "}}");
	return txn_state(t);
}

/* Queues the Txn as a write and frees t; 0, or -1 (t freed all the same). */
int
etcd_txn_send(struct etcd_txn *t, etcd_cb cb, void *arg)
{
	struct jbuf b = { .max = t->e->o.max_request_bytes };
	struct etcd *e = t->e;

	if (txn_state(t) != 0) {
		etcd_txn_free(t);
		return -1;
	}
	jb_add(&b, "{\"compare\":[");
	jb_add(&b, t->cmp.p != NULL ? t->cmp.p : "");
	jb_add(&b, "],\"success\":[");
	jb_add(&b, t->ops[1].p != NULL ? t->ops[1].p : "");
	jb_add(&b, "],\"failure\":[");
	jb_add(&b, t->ops[0].p != NULL ? t->ops[0].p : "");
	jb_add(&b, "]}");
	etcd_txn_free(t);
	return enqueue(e, REQ_WRITE, "/v3/kv/txn", &b, cb, arg, NULL);
}

/* Frees a watch now (its connection through the reaper). */
static void
watch_destroy(struct etcd_watch *w)
{
	LIST_REMOVE(w, link);
	if (w->auth != NULL) {
		w->auth->cb = NULL;
		w->auth->arg = NULL;
	}
	if (w->h != NULL)
		http_drop(w->h);
	if (w->live != NULL)
		event_free(w->live);
	if (w->kickoff != NULL)
		event_free(w->kickoff);
	etcdj_decoder_free(w->dec);
	free(w->body);
	free(w);
}

/* Closes and frees a watch; from its own callback, once the callback returns. */
void
etcd_watch_free(struct etcd_watch *w)
{
	if (w == NULL)
		return;
	if (w->in_cb) {
		w->free_pending = true;
		return;
	}
	watch_destroy(w);
}

/* Calls the watch's callback; returns false when the callback freed the watch (it is gone then). */
static bool
watch_report(struct etcd_watch *w, struct etcd_watch_report *rep)
{
	if (rep->endpoint == NULL)
		rep->endpoint = w->h != NULL ? w->e->ep[w->h->ep].url : etcd_endpoint(w->e);
	if (rep->reason == NULL)
		rep->reason = "";
	w->in_cb = true;
	w->cb(rep, w->arg);
	w->in_cb = false;
	if (w->free_pending) {
		watch_destroy(w);
		return false;
	}
	return true;
}

/* Closes the stream and makes the final report. Returns false when the callback freed the watch. */
static bool
watch_close(struct etcd_watch *w, struct etcd_watch_report *rep, bool move_on)
{
	if (w->closed)
		return true;
	w->closed = true;
	evtimer_del(w->live);
	if (w->h != NULL) {
		if (move_on)
			next_endpoint(w->e, w->h->ep);
		rep->endpoint = w->e->ep[w->h->ep].url;
		http_drop(w->h);
		w->h = NULL;
	}
	return watch_report(w, rep);
}

/* Closes the watch with an ERROR report made of fmt. */
static void __attribute__((format(printf, 3, 4)))
watch_fail(struct etcd_watch *w, bool move_on, const char *fmt, ...)
{
	struct etcd_watch_report rep = { .what = ETCD_WATCH_ERROR };
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	rep.reason = reason;
	(void)watch_close(w, &rep, move_on);
}

/* Restarts the liveness deadline. */
static void
watch_alive(struct etcd_watch *w)
{
	struct timeval tv = { w->liveness_ms / 1000, (w->liveness_ms % 1000) * 1000 };

	evtimer_add(w->live, &tv);
}

/* The liveness deadline passed: no item, not even a progress notification. */
static void
on_watch_live(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_watch *w = arg;

	(void)fd, (void)what;
	watch_fail(w, true, "etcd watch: no item within %d ms%s", w->liveness_ms,
	    w->h != NULL && !w->h->established ? " (no connection)" : "");
}

/* Delivers one decoded item; returns false when the watch was freed or closed. */
static bool
watch_item(struct etcd_watch *w, const struct etcdj_reply *it)
{
	struct etcd_watch_report rep = { .item = it, .revision = it->header.revision };
	size_t i, n;

	if (it->is_error) {
		if (it->code == 16)
			token_clear(w->e);
		rep.what = ETCD_WATCH_ERROR;
		rep.reason = it->message != NULL ? it->message : it->error != NULL ? it->error : "an error item";
		(void)watch_close(w, &rep, false);
		return false;
	}
	if (it->created) {
		rep.what = ETCD_WATCH_CREATED;
		if (!watch_report(w, &rep))
			return false;
	}
	for (i = 0; i < it->n_events; i += n) {
		n = it->n_events - i < w->e->o.max_events_per_call ? it->n_events - i : w->e->o.max_events_per_call;
		rep.what = ETCD_WATCH_EVENTS;
		rep.first = i;
		rep.n = n;
		if (!watch_report(w, &rep) || w->closed)
			return false;
	}
	rep.first = rep.n = 0;
	if (it->canceled) {
		rep.what = it->compact_revision > 0 ? ETCD_WATCH_COMPACTED : ETCD_WATCH_CANCELED;
		rep.compact_revision = it->compact_revision;
		rep.reason = it->cancel_reason != NULL ? it->cancel_reason : it->compact_revision > 0 ?
		    "the start revision was compacted" : "canceled by etcd";
		if (it->cancel_reason != NULL && strstr(it->cancel_reason, "auth token") != NULL)
			token_clear(w->e);
		(void)watch_close(w, &rep, false);
		return false;
	}
	if (etcdj_is_progress(it)) {
		rep.what = ETCD_WATCH_PROGRESS;
		if (!watch_report(w, &rep))
			return false;
	}
	return !w->closed;
}

/* A chunk of the stream: every item it completes is delivered. */
static void
watch_chunk(struct http *h, struct evhttp_request *req)
{
	struct etcd_watch *w = h->owner;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), pos = 0, used;
	uint8_t *p;

	if (w == NULL || w->closed || evhttp_request_get_response_code(req) != 200)
		return;
	p = evbuffer_pullup(in, -1);
	while (pos < len) {
		enum jstream_status st = etcdj_decoder_feed(w->dec, p + pos, len - pos, &used);
		struct etcdj_reply *it;
		uint64_t off;
		bool go;

		pos += used;
		if (st == JSTREAM_ERROR) {
			watch_fail(w, false, "etcd watch: an undecodable item: %s", etcdj_decoder_error(w->dec, &off));
			return;
		}
		if (st != JSTREAM_VALUE)
			continue;
		watch_alive(w);
		it = etcdj_decoder_take(w->dec);
		go = watch_item(w, it);
		etcdj_reply_free(it);
		if (!go)
			return;
	}
	evbuffer_drain(in, len);
}

/* The stream ended (etcd or the connection closed it, or it never started). */
static void
watch_done(struct http *h, struct evhttp_request *req)
{
	struct etcd_watch *w = h->owner;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[256];

	h->done = NULL;
	if (w == NULL || w->closed)
		return;
	if (code == 401)
		token_clear(w->e);
	if (code == 0) {
		(void)http_error(h, h->established ? "the connection was lost" : "cannot connect", why, sizeof(why));
		watch_fail(w, true, "etcd watch: %s", why);
	} else
		watch_fail(w, code == 503, "etcd watch: the stream ended (HTTP %d)", code);
}

/* The AUTH_ONLY request a watch waited on is done: connect, or report why not. */
static void
watch_auth_done(const struct etcd_result *res, void *arg)
{
	struct etcd_watch *w = arg;

	w->auth = NULL;
	if (res->status != ETCD_OK) {
		watch_fail(w, false, "%s", res->reason);
		return;
	}
	watch_connect(w);
}

/* The watch's first turn of the loop, when it needs no authentication. */
static void
on_watch_kickoff(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	watch_connect(arg);
}

/* Opens the watch's stream on the current endpoint. */
static void
watch_connect(struct etcd_watch *w)
{
	struct etcd *e = w->e;
	struct bufferevent *bev;

	if ((w->h = http_new(e, e->cur_ep, SIZE_MAX, WATCH_NO_TIMEOUT_S)) == NULL) {
		watch_fail(w, false, "etcd watch: out of memory");
		return;
	}
	/* A chunk is buffered whole before it is handed over: bound it (a larger one stalls until liveness). */
	if ((bev = evhttp_connection_get_bufferevent(w->h->evcon)) != NULL)
		bufferevent_setwatermark(bev, EV_READ, 0, e->o.limits.json.max_value_size + 64);
	if (http_post(w->h, "/v3/watch", w->body, w->body_len, true, watch_done, watch_chunk, w) != 0) {
		watch_fail(w, false, "etcd watch: cannot make the request");
		return;
	}
	watch_alive(w);
}

/* Starts a watch: its request built now, its connection from the loop (see etcd.h). */
struct etcd_watch *
etcd_watch_start(struct etcd *e, const struct etcd_watch_options *o, etcd_watch_cb cb, void *arg, char **cause)
{
	struct jbuf b = { .max = e->o.max_request_bytes };
	struct etcd_watch *w;

	if (o->liveness_ms <= 0) {
		set_cause(cause, "etcd watch: a liveness deadline is needed");
		return NULL;
	}
	jb_add(&b, "{\"create_request\":{");
	jb_key_range(&b, o->key, o->key_len, o->prefix);
	if (o->start_revision > 0)
		jb_fmt(&b, ",\"start_revision\":\"%lld\"", (long long)o->start_revision);
	if (o->prev_kv)
		jb_add(&b, ",\"prev_kv\":true");
	if (o->progress_notify)
		jb_add(&b, ",\"progress_notify\":true");
	if (o->fragment)
		jb_add(&b, ",\"fragment\":true");
	jb_add(&b, "}}");
	if (b.over || (w = calloc(1, sizeof(*w))) == NULL) {
		free(b.p);
		set_cause(cause, "etcd watch: the key is too long or memory is short");
		return NULL;
	}
	w->e = e;
	w->cb = cb;
	w->arg = arg;
	w->body = b.p;
	w->body_len = b.len;
	w->liveness_ms = o->liveness_ms;
	LIST_INSERT_HEAD(&e->watches, w, link);
	if ((w->dec = etcdj_decoder_new(ETCDJ_WATCH, &e->o.limits)) == NULL ||
	    (w->live = evtimer_new(e->base, on_watch_live, w)) == NULL) {
		watch_destroy(w);
		set_cause(cause, "etcd watch: out of memory");
		return NULL;
	}
	/* Never from inside this call; through the queue when it must wait for a token. */
	if (e->user == NULL || e->token != NULL) {
		if ((w->kickoff = evtimer_new(e->base, on_watch_kickoff, w)) == NULL) {
			watch_destroy(w);
			set_cause(cause, "etcd watch: out of memory");
			return NULL;
		}
		event_active(w->kickoff, EV_TIMEOUT, 0);
		return w;
	}
	b.p = NULL;
	b.len = 0;
	b.over = false;
	if (enqueue(e, REQ_AUTH_ONLY, NULL, &b, watch_auth_done, w, &w->auth) != 0) {
		watch_destroy(w);
		set_cause(cause, "etcd watch: the request queue is full");
		return NULL;
	}
	return w;
}
