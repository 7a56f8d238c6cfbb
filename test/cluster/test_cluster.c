/*
 * Issue 19's cluster suite: real etcd members (test/etcd/cluster.sh, their data on /dev/shm) and real kmipd
 * nodes with store.backend = etcd, on loopback over mutual TLS (test/integration/harness.h).
 *
 * 1. Keys created on one node are read (same identifiers, same bytes), located and destroyed on the other.
 * 2. Under continuous writes on both nodes: an etcd member killed and restarted, a node kill -9'ed and
 *    restarted, a node cut off from etcd (its TCP forwarders stopped) and healed; afterwards every
 *    acknowledged write is on both nodes with the same bytes, and in etcd.
 * 3. Activate of one Pre-Active key sent to both nodes at once, 40 times: exactly one wins each time.
 * 4. A node whose store is ahead of etcd (a fresh etcd, as after a restore from an old snapshot) exits 1.
 * 5. kmipctl status --json: the cluster section, its applied revision and its staleness.
 *
 * Every process a case starts (etcd members, kmipd nodes, forwarders, writers) is stopped by the case's
 * teardown, even when an assertion fails, and the etcd folder on /dev/shm is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/rand.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"
#include "tls/tls.h"

#define NODES		2
#define MAX_MEMBERS	3
#define MAX_OV		16	/* -o overrides of one node */
#define WRITERS		4	/* writer processes of the fault test: two per node */
#define SECRET_LEN	24	/* bytes of each registered secret */
#define CONFLICT_KEYS	40
#define POLL_MS		10000	/* the longest a replicated change may take to show on the other node */
#define PREFIX		"/kmipd/"

/* What a case started, for its teardown to stop. */
struct cl {
	char dir[256];			/* this case's folder: the master key, writer logs, admin sockets */
	char key[320];			/* the master key file every node shares */
	char etcd_dir[256];		/* cluster.sh's folder, "" when none runs */
	char endpoints[512];		/* the members' client URLs, comma-separated */
	struct h_server node[NODES];
	char ov[NODES][MAX_OV][600];	/* each node's -o overrides, kept for restarts */
	const char *ovp[NODES][MAX_OV + 1];
	char sock[NODES][320];		/* each node's admin.socket */
	pid_t fwd;			/* the TCP forwarder, 0 when none */
	char fwd_endpoints[512];	/* its listening URLs, one per member */
	pid_t writer[WRITERS];
	SSL_CTX *ctx;
	struct kmip_client *conn[NODES];
};

/* The result of one batch item, copied out of its response. */
struct res {
	int status;
	int reason;		/* -1 when absent */
	char msg[512];
	char uid[64];
};

/* An acknowledged write of the fault test, as a writer recorded it. */
struct ack {
	char kind;		/* 'R' Register, 'C' Create, 'A' Activate */
	int writer;
	int64_t ms;		/* monotonic clock when the answer came */
	char uid[64];
	uint8_t secret[SECRET_LEN];	/* 'R': the registered bytes */
};

/* The case running, for the exit handler that stops its etcd members if the binary ends abnormally. */
static struct cl *running;

/* The source tree, where cluster.sh is (KMIPD_SRCDIR, as for the harness; "." by default). */
static const char *
srcdir(void)
{
	const char *v = getenv("KMIPD_SRCDIR");

	return v != NULL && v[0] != '\0' ? v : ".";
}

/* Runs cmd with sh, its stdout (and stderr) into out; returns the exit status, -1 when it did not exit. */
static int
run_sh(const char *cmd, char *out, size_t size)
{
	char full[4096];
	size_t len = 0, n;
	FILE *p;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	if ((p = popen(full, "r")) == NULL)
		fail_msg("popen %s: %s", cmd, strerror(errno));
	while (len + 1 < size && (n = fread(out + len, 1, size - len - 1, p)) > 0)
		len += n;
	out[len] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Starts an etcd cluster of n members on /dev/shm (cluster.sh), recording its folder and endpoints. */
static void
etcd_start(struct cl *c, int n)
{
	char cmd[600], out[16384], *nl;

	snprintf(cmd, sizeof(cmd), "%s/test/etcd/cluster.sh start -n %d -- "
	    "--experimental-watch-progress-notify-interval=1s", srcdir(), n);
	if (run_sh(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed:\n%s", cmd, out);
	if ((nl = strchr(out, '\n')) == NULL)
		fail_msg("cluster.sh printed no folder: %s", out);
	*nl = '\0';
	if (strlen(out) >= sizeof(c->etcd_dir) || strlen(nl + 1) >= sizeof(c->endpoints))
		fail_msg("cluster.sh printed a folder or endpoints too long: %s", out);
	memcpy(c->etcd_dir, out, strlen(out) + 1);
	memcpy(c->endpoints, nl + 1, strlen(nl + 1) + 1);
	if ((nl = strchr(c->endpoints, '\n')) != NULL)
		*nl = '\0';
	assert_true(strncmp(c->etcd_dir, "/dev/shm/", 9) == 0);
	assert_true(strncmp(c->endpoints, "http://127.0.0.1:", 17) == 0);
}

/* Stops the etcd members and removes their folder; the folder must be gone afterwards. Returns 0 or -1. */
static int
etcd_stop(struct cl *c)
{
	char cmd[600], out[4096];
	int rc;

	if (c->etcd_dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "%s/test/etcd/cluster.sh stop '%s'", srcdir(), c->etcd_dir);
	rc = run_sh(cmd, out, sizeof(out));
	if (rc != 0 || access(c->etcd_dir, F_OK) == 0) {
		fprintf(stderr, "test_cluster: %s: status %d, %s\n", cmd, rc, out);
		return -1;
	}
	c->etcd_dir[0] = '\0';
	return 0;
}

/* cluster.sh VERB DIR I (kill, restart); fails the test unless it exits 0. */
static void
etcd_member(struct cl *c, const char *verb, int i)
{
	char cmd[600], out[4096];

	snprintf(cmd, sizeof(cmd), "%s/test/etcd/cluster.sh %s '%s' %d", srcdir(), verb, c->etcd_dir, i);
	if (run_sh(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed: %s", cmd, out);
}

/* Waits until every member answers etcdctl endpoint health, at most timeout_ms. */
static void
etcd_healthy(struct cl *c, int timeout_ms)
{
	char cmd[600], out[4096];
	int64_t end = util_now_ms() + timeout_ms;

	snprintf(cmd, sizeof(cmd), "%s/test/etcd/cluster.sh health '%s'", srcdir(), c->etcd_dir);
	while (run_sh(cmd, out, sizeof(out)) != 0)
		if (util_now_ms() > end)
			fail_msg("the etcd cluster is not healthy after %d ms", timeout_ms);
}

/* The exit handler: etcd members are not children that die with the test binary. */
static void
stop_running(void)
{
	if (running != NULL)
		(void)etcd_stop(running);
}

/* Makes the case's folder and the master key file the nodes share. */
static int
setup(void **state)
{
	struct cl *c = calloc(1, sizeof(*c));
	unsigned char key[32];
	int fd;

	if (c == NULL)
		return -1;
	*state = c;
	if (util_mkdtemp(c->dir, sizeof(c->dir), NULL, "kmipd-cluster") != 0)
		return -1;
	snprintf(c->key, sizeof(c->key), "%s/master.key", c->dir);
	if (RAND_bytes(key, sizeof(key)) != 1)
		return -1;
	fd = open(c->key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	running = c;
	return 0;
}

/* Kills and reaps a helper process (a writer, the forwarder); a stopped one too. */
static void
reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

/*
 * Stops everything the case started, whatever state it was left in: writers, the forwarder, the nodes
 * (each must exit 0 on SIGTERM), the etcd members and their /dev/shm folder, the case's folder.
 */
static int
teardown(void **state)
{
	struct cl *c = *state;
	char cmd[400];
	int i, rc = 0, st;

	if (c == NULL)
		return 0;
	for (i = 0; i < WRITERS; i++)
		reap(&c->writer[i]);
	reap(&c->fwd);
	for (i = 0; i < NODES; i++)
		kmip_client_close(c->conn[i]);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	for (i = 0; i < NODES; i++) {
		if (c->node[i].pid > 0 && (st = h_stop(&c->node[i], 15000)) != 0) {
			fprintf(stderr, "test_cluster: node %d exited with status %d when stopped; its log's end:\n", i,
			    st);
			snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", c->node[i].log);
			(void)system(cmd);
			rc = -1;
		}
		if (c->node[i].dir[0] != '\0') {
			if (getenv("KMIPD_TEST_SHOWLOG") != NULL) {
				snprintf(cmd, sizeof(cmd), "cat '%s/node-%c-earlier.log' '%s' >&2 2>/dev/null", c->dir,
				    'a' + i, c->node[i].log);
				(void)system(cmd);
			}
			if (util_rmtree(c->node[i].dir) != 0)
				rc = -1;
		}
	}
	if (etcd_stop(c) != 0)
		rc = -1;
	if (c->dir[0] != '\0' && util_rmtree(c->dir) != 0)
		rc = -1;
	running = NULL;
	free(c);
	return rc;
}

/*
 * Starts node i (0: "node-a", 1: "node-b") on endpoints with the shared master key, its admin socket in the
 * case's folder and the extra overrides (NULL-terminated, may be NULL), and waits until it has caught up.
 */
static void
node_start(struct cl *c, int i, const char *endpoints, const char *const *extra)
{
	char ep[512], sock[320];
	size_t n = 0, k;

	/* Copies: endpoints may be one of c's own fields. */
	snprintf(ep, sizeof(ep), "%s", endpoints);
	snprintf(sock, sizeof(sock), "%s/admin-%c.sock", c->dir, 'a' + i);
	memcpy(c->sock[i], sock, sizeof(sock));
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "store.backend=etcd");
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "store.etcd_endpoints=%s", ep);
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "store.etcd_node_name=node-%c", 'a' + i);
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "store.master_key_file=%s", c->key);
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "admin.socket=%s", sock);
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "keygen.pool_size=0");
	snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "log.level=info");
	for (k = 0; extra != NULL && extra[k] != NULL; k++) {
		assert_true(n < MAX_OV);
		snprintf(c->ov[i][n++], sizeof(c->ov[i][0]), "%s", extra[k]);
	}
	for (k = 0; k < n; k++)
		c->ovp[i][k] = c->ov[i][k];
	c->ovp[i][n] = NULL;
	h_start(&c->node[i], c->ovp[i]);
	if (!h_log_wait(&c->node[i], "cluster: caught up at revision", h_slow(30000)))
		fail_msg("node %c did not log that it caught up", 'a' + i);
}

/* Starts node i again on its store with the overrides it had; waits until it has caught up. */
static void
node_restart(struct cl *c, int i)
{
	char cmd[800];

	/* The restart truncates the log: keep the earlier run's, for KMIPD_TEST_SHOWLOG. */
	snprintf(cmd, sizeof(cmd), "cat '%s' >> '%s/node-%c-earlier.log'", c->node[i].log, c->dir, 'a' + i);
	assert_int_equal(system(cmd), 0);
	h_restart(&c->node[i], c->ovp[i]);
	if (!h_log_wait(&c->node[i], "cluster: caught up at revision", h_slow(30000)))
		fail_msg("node %c did not log that it caught up after its restart", 'a' + i);
}

/* A client context for client.crt, made once per case. */
static SSL_CTX *
ctx_of(struct cl *c)
{
	if (c->ctx == NULL)
		c->ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, TLS1_2_VERSION, 0);
	return c->ctx;
}

/*
 * The case's connection to node i (made again if closed), with 30 s socket timeouts: a write held while
 * a node finds etcd gone must be answered, not cut by the client.
 */
static struct kmip_client *
conn(struct cl *c, int i)
{
	char *cause = NULL;

	if (c->conn[i] == NULL && kmip_client_connect(ctx_of(c), "127.0.0.1", c->node[i].port, NULL,
	    h_slow(30000), &c->conn[i], &cause) != 0)
		fail_msg("connect to node %c: %s", 'a' + i, cause);
	return c->conn[i];
}

/* Copies batch item 0's status, reason, message and Unique Identifier out of resp. */
static void
result_of(const struct ttlv *resp, struct res *r)
{
	const struct ttlv *item = h_batch_item(resp, 0);
	const struct ttlv *t;

	memset(r, 0, sizeof(*r));
	r->status = h_item_status(resp, 0);
	t = ttlv_find(item, KMIP_TAG_RESULT_REASON);
	r->reason = t != NULL ? (int)t->v.u32 : -1;
	t = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);
	if (t != NULL && t->type == TTLV_TEXT_STRING)
		snprintf(r->msg, sizeof(r->msg), "%.*s", (int)t->length, (const char *)t->v.bytes.data);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, r->uid, sizeof(r->uid));
}

/* Sends req (freed here) on cl; returns the response (the caller frees *a) and its result in r. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a, struct res *r)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	result_of(resp, r);
	return resp;
}

/* Fails the test unless r is a success, printing the failure's reason and message. */
static void
expect_ok(const struct res *r, const char *what)
{
	if (r->status != KMIP_RESULT_STATUS_SUCCESS)
		fail_msg("%s: status %d, reason 0x%x: %s", what, r->status, r->reason, r->msg);
}

/* Writes a 1.4 Register of Secret Data (a password) of len bytes named name (NULL: none). */
static void
enc_register_secret(struct ttlv_enc *e, const uint8_t *secret, size_t len, const char *name)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
	if (name != NULL)
		h_attr_name(e, name);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
	ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, secret, len);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	h_item_end(e);
	h_request_end(e);
}

/* Creates an AES key named name on cl; its identifier into uid (64 bytes). */
static void
create_aes(struct kmip_client *cl, const char *name, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct res r;

	h_create_aes_request(&e, 1, 4, 128, name);
	call(cl, &e, &a, &r);
	ttlv_arena_free(a);
	expect_ok(&r, "Create");
	assert_true(r.uid[0] != '\0');
	snprintf(uid, 64, "%s", r.uid);
}

/* Registers len bytes of Secret Data named name on cl; returns the result (identifier in r->uid). */
static void
register_secret(struct kmip_client *cl, const uint8_t *secret, size_t len, const char *name, struct res *r)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;

	enc_register_secret(&e, secret, len, name);
	call(cl, &e, &a, r);
	ttlv_arena_free(a);
}

/* An EC P-256 key pair, each half named; their identifiers into priv and pub (64 bytes each). */
static void
create_pair(struct kmip_client *cl, const char *priv_name, const char *pub_name, char *priv, char *pub)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	struct res r;
	char buf[64];

	h_create_ec_pair_request(&e, priv_name, pub_name);
	resp = call(cl, &e, &a, &r);
	expect_ok(&r, "Create Key Pair");
	snprintf(priv, 64, "%s", h_payload_text(resp, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, buf, sizeof(buf)));
	snprintf(pub, 64, "%s", h_payload_text(resp, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, buf, sizeof(buf)));
	ttlv_arena_free(a);
	assert_true(priv[0] != '\0' && pub[0] != '\0' && strcmp(priv, pub) != 0);
}

/* One 1.4 item naming uid (Activate, Destroy, Revoke with reason code when not 0); its result in r. */
static void
uid_op(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t reason, struct res *r)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;

	h_uid_request(&e, op, uid, reason);
	call(cl, &e, &a, r);
	ttlv_arena_free(a);
}

/*
 * Appends t to buf (*len bytes used, cap in all) as bytes to compare: its tag, type and value, a structure's
 * children in order (the Key Material of a transparent key is a structure of Big Integers). False when it
 * does not fit.
 */
static bool
flatten(const struct ttlv *t, uint8_t *buf, size_t *len, size_t cap)
{
	const struct ttlv *k;
	size_t n = 0;
	const void *v = NULL;

	if (*len + 9 > cap)
		return false;
	memcpy(buf + *len, &t->tag, 4);
	buf[*len + 4] = t->type;
	memcpy(buf + *len + 5, &t->length, 4);
	*len += 9;
	switch (t->type) {
	case TTLV_STRUCTURE:
		for (k = t->v.s.first; k != NULL; k = k->next)
			if (!flatten(k, buf, len, cap))
				return false;
		return true;
	case TTLV_BYTE_STRING:
	case TTLV_TEXT_STRING:
	case TTLV_BIG_INTEGER:
		v = t->v.bytes.data;
		n = t->length;
		break;
	default:
		v = &t->v;
		n = sizeof(t->v.i64);
		break;
	}
	if (*len + n > cap)
		return false;
	memcpy(buf + *len, v, n);
	*len += n;
	return true;
}

/*
 * Get of uid on cl: on success the Key Material into mat (at most *len bytes, *len set): its bytes when it
 * is a Byte String, else flattened (see flatten) so that two Gets compare; returns 0. Else -1 with the
 * result in r (r may be NULL).
 */
static int
get_bytes(struct kmip_client *cl, const char *uid, uint8_t *mat, size_t *len, struct res *r)
{
	const struct ttlv *p, *m = NULL;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	struct res mine;
	size_t used = 0;
	int rc = -1;

	if (r == NULL)
		r = &mine;
	h_uid_request(&e, KMIP_OPERATION_GET, uid, 0);
	resp = call(cl, &e, &a, r);
	if (r->status == KMIP_RESULT_STATUS_SUCCESS) {
		p = h_payload(resp, 0);
		for (p = p != NULL ? p->v.s.first : NULL; p != NULL && m == NULL; p = p->next)
			if (p->type == TTLV_STRUCTURE)
				m = ttlv_find(ttlv_find(ttlv_find(p, KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE),
				    KMIP_TAG_KEY_MATERIAL);
		if (m == NULL)
			fail_msg("Get %s: no Key Material", uid);
		if (m->type == TTLV_BYTE_STRING && m->length <= *len) {
			memcpy(mat, m->v.bytes.data, m->length);
			used = m->length;
		} else if (m->type == TTLV_BYTE_STRING || !flatten(m, mat, &used, *len)) {
			fail_msg("Get %s: a Key Material larger than %zu bytes", uid, *len);
		}
		*len = used;
		rc = 0;
	}
	ttlv_arena_free(a);
	return rc;
}

/* The State of uid on cl, or -1 when Get Attributes fails. */
static int
state_of(struct kmip_client *cl, const char *uid)
{
	const struct ttlv *at;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	struct res r;
	int state = -1;

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, "State");
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, &r);
	if (r.status == KMIP_RESULT_STATUS_SUCCESS)
		for (at = ttlv_find(h_payload(resp, 0), KMIP_TAG_ATTRIBUTE); at != NULL; at = ttlv_find_next(at)) {
			const struct ttlv *v = ttlv_find(at, KMIP_TAG_ATTRIBUTE_VALUE);

			if (v != NULL && v->type == TTLV_ENUMERATION)
				state = (int)v->v.u32;
		}
	ttlv_arena_free(a);
	return state;
}

/* Locate by Name on cl: the identifiers found (at most n, 64 bytes each) into uids; returns how many. */
static size_t
locate_name(struct kmip_client *cl, const char *name, char (*uids)[64], size_t n)
{
	const struct ttlv *t;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	struct res r;
	size_t found = 0;

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_LOCATE);
	h_attr_name(&e, name);
	h_item_end(&e);
	h_request_end(&e);
	resp = call(cl, &e, &a, &r);
	expect_ok(&r, "Locate");
	for (t = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); t != NULL; t = ttlv_find_next(t))
		if (found < n)
			snprintf(uids[found++], 64, "%.*s", (int)t->length, (const char *)t->v.bytes.data);
	ttlv_arena_free(a);
	return found;
}

/* Waits until Get of uid on cl succeeds (POLL_MS at most); its bytes into mat, *len. False when it never did. */
static bool
get_eventually(struct kmip_client *cl, const char *uid, uint8_t *mat, size_t *len)
{
	int64_t end = util_now_ms() + h_slow(POLL_MS);
	size_t cap = *len;
	struct res r;

	for (;;) {
		*len = cap;
		if (get_bytes(cl, uid, mat, len, &r) == 0)
			return true;
		if (util_now_ms() > end) {
			print_error("Get %s: reason 0x%x: %s\n", uid, r.reason, r.msg);
			return false;
		}
		h_sleep_ms(50);
	}
}

/* Waits until the State of uid on cl is state (POLL_MS at most); false when it never was. */
static bool
state_eventually(struct kmip_client *cl, const char *uid, int state)
{
	int64_t end = util_now_ms() + h_slow(POLL_MS);

	while (state_of(cl, uid) != state)
		if (util_now_ms() > end)
			return false;
		else
			h_sleep_ms(50);
	return true;
}

/*
 * 1. Three etcd members, nodes A and B: symmetric keys and a key pair created on A are read on B with the
 * same identifiers and bytes and located there by Name; an Activate on A shows on B; Revoke and Destroy on
 * B show on A (Get: Item Not Found); a secret registered on B is read on A byte for byte.
 */
static void
test_replicate(void **state)
{
	struct cl *c = *state;
	struct kmip_client *a, *b;
	char uid[5][64], name[5][32], found[4][64];
	uint8_t mat[5][512], other[512], secret[SECRET_LEN];
	size_t len[5], olen;
	struct res r;
	int i;

	etcd_start(c, 3);
	node_start(c, 0, c->endpoints, NULL);
	/* B with two worker processes, each applying the watch to the one store. */
	node_start(c, 1, c->endpoints, (const char *const[]){ "server.workers=2", NULL });
	a = conn(c, 0);
	b = conn(c, 1);
	for (i = 0; i < 3; i++) {
		snprintf(name[i], sizeof(name[i]), "cluster-sym-%d", i);
		create_aes(a, name[i], uid[i]);
	}
	snprintf(name[3], sizeof(name[3]), "cluster-priv");
	snprintf(name[4], sizeof(name[4]), "cluster-pub");
	create_pair(a, name[3], name[4], uid[3], uid[4]);
	/* Read-your-writes on the node that wrote: no waiting. */
	for (i = 0; i < 5; i++) {
		len[i] = sizeof(mat[i]);
		if (get_bytes(a, uid[i], mat[i], &len[i], &r) != 0)
			fail_msg("Get %s on the node that created it: %s", uid[i], r.msg);
		assert_true(len[i] > 0);
	}
	assert_int_equal(len[0], 16);
	for (i = 0; i < 5; i++) {
		olen = sizeof(other);
		if (!get_eventually(b, uid[i], other, &olen))
			fail_msg("%s created on A is not readable on B within %d ms", uid[i], POLL_MS);
		assert_int_equal(olen, len[i]);
		assert_memory_equal(other, mat[i], olen);
		assert_int_equal(locate_name(b, name[i], found, 4), 1);
		assert_string_equal(found[0], uid[i]);
	}
	/* A state change on A reaches B; B then revokes it and destroys everything. */
	uid_op(a, KMIP_OPERATION_ACTIVATE, uid[0], 0, &r);
	expect_ok(&r, "Activate on A");
	assert_true(state_eventually(b, uid[0], KMIP_STATE_ACTIVE));
	uid_op(b, KMIP_OPERATION_REVOKE, uid[0], KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION, &r);
	expect_ok(&r, "Revoke on B");
	for (i = 0; i < 5; i++) {
		uid_op(b, KMIP_OPERATION_DESTROY, uid[i], 0, &r);
		expect_ok(&r, "Destroy on B");
	}
	for (i = 0; i < 5; i++) {
		int64_t end = util_now_ms() + h_slow(POLL_MS);

		for (;;) {
			olen = sizeof(other);
			if (get_bytes(a, uid[i], other, &olen, &r) != 0 && r.reason == KMIP_RESULT_REASON_ITEM_NOT_FOUND)
				break;
			if (util_now_ms() > end)
				fail_msg("%s destroyed on B is still readable on A (reason 0x%x)", uid[i], r.reason);
			h_sleep_ms(50);
		}
		assert_int_equal(state_of(a, uid[i]), KMIP_STATE_DESTROYED);
		assert_int_equal(locate_name(a, name[i], found, 4), 0);
	}
	/* The other way: registered on B, read on A. */
	assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
	register_secret(b, secret, sizeof(secret), "cluster-secret", &r);
	expect_ok(&r, "Register on B");
	snprintf(uid[0], sizeof(uid[0]), "%s", r.uid);
	olen = sizeof(other);
	if (!get_eventually(a, uid[0], other, &olen))
		fail_msg("%s registered on B is not readable on A within %d ms", uid[0], POLL_MS);
	assert_int_equal(olen, sizeof(secret));
	assert_memory_equal(other, secret, sizeof(secret));
	assert_int_equal(locate_name(a, "cluster-secret", found, 4), 1);
	assert_string_equal(found[0], uid[0]);
}

/* ---- The TCP forwarder that stands between node B and etcd in the fault test. ---- */

#define FWD_CONNS	128
#define FWD_BUF		16384

/* One forwarded connection: fd[0] the client's, fd[1] etcd's; buf[d] holds bytes read from fd[d]. */
struct fwd_pair {
	int fd[2];
	char buf[2][FWD_BUF];
	size_t len[2], off[2];
};

/* Closes both ends of a forwarded connection. */
static void
fwd_close(struct fwd_pair *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
	p->fd[0] = p->fd[1] = -1;
}

/* Connects to 127.0.0.1:port, blocking (loopback), then makes the socket nonblocking; -1 on failure. */
static int
fwd_connect(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The forwarder's loop (a child process, never returns): each listener i relays to 127.0.0.1:target[i],
 * one poll loop for every connection. A connection whose member is down is closed at once, as etcd's would be.
 */
static void
fwd_main(const int *listener, const unsigned *target, size_t n)
{
	static struct fwd_pair pairs[FWD_CONNS];
	struct pollfd pfd[MAX_MEMBERS + 2 * FWD_CONNS];
	int map[MAX_MEMBERS + 2 * FWD_CONNS];
	size_t i, np;
	int d;

	for (i = 0; i < FWD_CONNS; i++)
		pairs[i].fd[0] = pairs[i].fd[1] = -1;
	for (;;) {
		np = 0;
		for (i = 0; i < n; i++) {
			pfd[np] = (struct pollfd){ .fd = listener[i], .events = POLLIN };
			map[np++] = -1;
		}
		for (i = 0; i < FWD_CONNS; i++) {
			if (pairs[i].fd[0] < 0)
				continue;
			for (d = 0; d < 2; d++) {
				short ev = 0;

				if (pairs[i].len[d] == 0)
					ev |= POLLIN;
				if (pairs[i].len[1 - d] > 0)
					ev |= POLLOUT;
				pfd[np] = (struct pollfd){ .fd = pairs[i].fd[d], .events = ev };
				map[np++] = (int)i * 2 + d;
			}
		}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (i = 0; i < np; i++) {
			struct fwd_pair *p;
			ssize_t k;

			if (pfd[i].revents == 0)
				continue;
			if (map[i] < 0) {
				int cfd = accept4(pfd[i].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), efd, slot;

				if (cfd < 0)
					continue;
				for (slot = 0; slot < FWD_CONNS && pairs[slot].fd[0] >= 0; slot++)
					;
				if (slot == FWD_CONNS || (efd = fwd_connect(target[i])) < 0) {
					close(cfd);
					continue;
				}
				pairs[slot].fd[0] = cfd;
				pairs[slot].fd[1] = efd;
				pairs[slot].len[0] = pairs[slot].len[1] = 0;
				continue;
			}
			p = &pairs[map[i] / 2];
			d = map[i] % 2;
			if (p->fd[0] < 0)
				continue;
			if ((pfd[i].revents & POLLOUT) && p->len[1 - d] > 0) {
				k = write(p->fd[d], p->buf[1 - d] + p->off[1 - d], p->len[1 - d] - p->off[1 - d]);
				if (k < 0 && errno != EAGAIN && errno != EINTR) {
					fwd_close(p);
					continue;
				}
				if (k > 0 && (p->off[1 - d] += (size_t)k) == p->len[1 - d])
					p->len[1 - d] = p->off[1 - d] = 0;
			}
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && p->len[d] == 0) {
				k = read(p->fd[d], p->buf[d], FWD_BUF);
				if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
					fwd_close(p);
					continue;
				}
				if (k > 0) {
					p->len[d] = (size_t)k;
					p->off[d] = 0;
				}
			}
		}
	}
}

/*
 * Starts the forwarder: one listener on a free loopback port per member of c->endpoints, its URLs into
 * c->fwd_endpoints (same order). It runs until teardown; SIGSTOP cuts every connection through it, SIGCONT
 * heals them.
 */
static void
fwd_start(struct cl *c)
{
	int listener[MAX_MEMBERS];
	unsigned target[MAX_MEMBERS];
	const char *p = c->endpoints;
	size_t n = 0, i, len = 0;
	pid_t parent = getpid();

	while (p != NULL && *p != '\0') {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);

		assert_true(n < MAX_MEMBERS);
		assert_true(strncmp(p, "http://127.0.0.1:", 17) == 0);
		target[n] = (unsigned)strtoul(p + 17, NULL, 10);
		assert_true(target[n] > 0);
		listener[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(listener[n] >= 0);
		assert_int_equal(bind(listener[n], (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(listener[n], 64), 0);
		assert_int_equal(getsockname(listener[n], (struct sockaddr *)&sa, &sl), 0);
		len += (size_t)snprintf(c->fwd_endpoints + len, sizeof(c->fwd_endpoints) - len, "%shttp://127.0.0.1:%u",
		    n > 0 ? "," : "", ntohs(sa.sin_port));
		assert_true(len < sizeof(c->fwd_endpoints));
		n++;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	c->fwd = fork();
	assert_true(c->fwd >= 0);
	if (c->fwd == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(125);
		fwd_main(listener, target, n);
	}
	for (i = 0; i < n; i++)
		close(listener[i]);
}

/* ---- The writers of the fault test: forked processes, no cmocka in them. ---- */

/* Reads the node's current port from the file path (the test rewrites it after a restart); 0 if none. */
static unsigned
read_port(const char *path)
{
	unsigned port = 0;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		if (fscanf(f, "%u", &port) != 1)
			port = 0;
		fclose(f);
	}
	return port;
}

/* Writes the text of one line to fd in one write (a SIGKILL leaves whole lines only). */
static void
log_line(int fd, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(fd, line, (size_t)n);
}

/* Sends req (freed here) and reads its answer; 0 with r filled, -1 when the connection failed. */
static int
writer_call(struct kmip_client *cl, struct ttlv_enc *req, struct res *r)
{
	struct ttlv_arena *a = NULL;
	struct ttlv *resp = NULL;
	char *cause = NULL;
	int rc = kmip_client_call(cl, req, &resp, &a, &cause);

	ttlv_enc_free(req);
	free(cause);
	if (rc != 0)
		return -1;
	result_of(resp, r);
	ttlv_arena_free(a);
	return 0;
}

/*
 * A writer (child process, never returns): on the node whose port is in portfile, Register a random
 * secret, Create an AES key, Activate it, over and over; every acknowledged write is a line in the file
 * out ("R ms uid hex", "C ms uid", "A ms uid"), every refusal "F ms op message". Reconnects (reading the
 * port again) when the connection breaks.
 */
static void
writer_main(const char *portfile, const char *out, SSL_CTX *ctx)
{
	struct kmip_client *cl = NULL;
	int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		_exit(126);
	for (;;) {
		uint8_t secret[SECRET_LEN];
		char hex[2 * SECRET_LEN + 1], created[64];
		struct ttlv_enc e;
		struct res r;
		size_t i;

		if (cl == NULL) {
			unsigned port = read_port(portfile);
			char *cause = NULL;

			if (port == 0 || kmip_client_connect(ctx, "127.0.0.1", port, NULL, 15000, &cl, &cause) != 0) {
				free(cause);
				cl = NULL;
				h_sleep_ms(100);
				continue;
			}
		}
		if (RAND_bytes(secret, sizeof(secret)) != 1)
			_exit(126);
		for (i = 0; i < SECRET_LEN; i++)
			snprintf(hex + 2 * i, 3, "%02x", secret[i]);
		enc_register_secret(&e, secret, sizeof(secret), NULL);
		if (writer_call(cl, &e, &r) != 0)
			goto broken;
		if (r.status == KMIP_RESULT_STATUS_SUCCESS)
			log_line(fd, "R %lld %s %s\n", (long long)util_now_ms(), r.uid, hex);
		else
			log_line(fd, "F %lld Register %s\n", (long long)util_now_ms(), r.msg);
		h_create_aes_request(&e, 1, 4, 128, NULL);
		if (writer_call(cl, &e, &r) != 0)
			goto broken;
		if (r.status != KMIP_RESULT_STATUS_SUCCESS) {
			log_line(fd, "F %lld Create %s\n", (long long)util_now_ms(), r.msg);
			continue;
		}
		log_line(fd, "C %lld %s\n", (long long)util_now_ms(), r.uid);
		snprintf(created, sizeof(created), "%s", r.uid);
		h_uid_request(&e, KMIP_OPERATION_ACTIVATE, created, 0);
		if (writer_call(cl, &e, &r) != 0)
			goto broken;
		if (r.status == KMIP_RESULT_STATUS_SUCCESS)
			log_line(fd, "A %lld %s\n", (long long)util_now_ms(), created);
		else
			log_line(fd, "F %lld Activate %s\n", (long long)util_now_ms(), r.msg);
		continue;
broken:
		kmip_client_close(cl);
		cl = NULL;
		h_sleep_ms(50);
	}
}

/* Writes node i's port into the case's port file for it (the writers read it when they reconnect). */
static void
write_port(struct cl *c, int i)
{
	char path[400], text[32];

	snprintf(path, sizeof(path), "%s/port-%d", c->dir, i);
	snprintf(text, sizeof(text), "%u\n", c->node[i].port);
	h_write_file(path, text);
}

/* Forks writer w on node w % NODES. */
static void
writer_start(struct cl *c, int w)
{
	char portfile[400], out[400];
	pid_t parent = getpid();

	snprintf(portfile, sizeof(portfile), "%s/port-%d", c->dir, w % NODES);
	snprintf(out, sizeof(out), "%s/writer-%d", c->dir, w);
	c->writer[w] = fork();
	assert_true(c->writer[w] >= 0);
	if (c->writer[w] == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(125);
		writer_main(portfile, out, ctx_of(c));
	}
}

/* Appends writer w's acknowledged writes to *acks (*n of them); counts its refusals containing needle. */
static void
read_acks(struct cl *c, int w, struct ack **acks, size_t *n, size_t *cap, const char *needle, size_t *refusals)
{
	char path[400], *text, *line, *save = NULL;

	snprintf(path, sizeof(path), "%s/writer-%d", c->dir, w);
	if ((text = util_read_file(path, NULL)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		struct ack *k;
		char hex[64] = "";
		long long ms;
		size_t i;

		if (line[0] == 'F') {
			if (needle != NULL && strstr(line, needle) != NULL)
				(*refusals)++;
			continue;
		}
		if (*n == *cap) {
			*cap = *cap > 0 ? *cap * 2 : 1024;
			assert_non_null(*acks = realloc(*acks, *cap * sizeof(**acks)));
		}
		k = &(*acks)[*n];
		memset(k, 0, sizeof(*k));
		k->kind = line[0];
		k->writer = w;
		if (sscanf(line + 2, "%lld %63s %63s", &ms, k->uid, hex) < 2)
			fail_msg("writer %d wrote a bad line: %s", w, line);
		k->ms = ms;
		if (k->kind == 'R') {
			assert_int_equal(strlen(hex), 2 * SECRET_LEN);
			for (i = 0; i < SECRET_LEN; i++) {
				unsigned v;

				assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
				k->secret[i] = (uint8_t)v;
			}
		}
		(*n)++;
	}
	free(text);
}

/* How many of acks (n) came from writers of node `node` within (from, to) on the monotonic clock. */
static size_t
acks_between(const struct ack *acks, size_t n, int node, int64_t from, int64_t to)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (acks[i].writer % NODES == node && acks[i].ms > from && acks[i].ms < to)
			k++;
	return k;
}

/*
 * Waits until a writer of node has recorded a write acknowledged after from (monotonic ms), at most
 * timeout_ms; returns when it was acknowledged, or -1.
 */
static int64_t
acked_after(struct cl *c, int node, int64_t from, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms, first = -1;
	char path[400], *text, *line, *save;
	int w;

	for (;;) {
		for (w = node; w < WRITERS; w += NODES) {
			snprintf(path, sizeof(path), "%s/writer-%d", c->dir, w);
			if ((text = util_read_file(path, NULL)) == NULL)
				continue;
			save = NULL;
			for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
				long long ms;

				if (line[0] != 'F' && sscanf(line + 2, "%lld", &ms) == 1 && ms > from &&
				    (first < 0 || ms < first))
					first = ms;
			}
			free(text);
		}
		if (first >= 0 || util_now_ms() > end)
			return first;
		h_sleep_ms(100);
	}
}

/* Prints (at most 8 of) the refusals node's writers recorded within (from, to), to explain a failure. */
static void
show_refusals(struct cl *c, int node, int64_t from, int64_t to)
{
	char path[400], *text, *line, *save = NULL;
	int w, shown = 0;

	for (w = node; w < WRITERS; w += NODES) {
		snprintf(path, sizeof(path), "%s/writer-%d", c->dir, w);
		if ((text = util_read_file(path, NULL)) == NULL)
			continue;
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			long long ms;

			if (line[0] == 'F' && sscanf(line + 2, "%lld", &ms) == 1 && ms > from && ms < to &&
			    shown++ < 8)
				print_message("writer %d, %+lld ms: %s\n", w, ms - (long long)from, line);
		}
		free(text);
	}
}

/*
 * Prints how node's writers' requests were refused, by kind of refusal; returns how many were refused for
 * none of these reasons (the first of them printed).
 */
static size_t
refusal_summary(struct cl *c, int node)
{
	static const char *const kinds[] = { "did not answer", "cannot be reached", "store.max_staleness",
	    "changed by another writer", "refused this write" };
	size_t counts[6] = { 0 }, k;
	char path[400], *text, *line, *save;
	int w;

	for (w = node; w < WRITERS; w += NODES) {
		snprintf(path, sizeof(path), "%s/writer-%d", c->dir, w);
		if ((text = util_read_file(path, NULL)) == NULL)
			continue;
		save = NULL;
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			if (line[0] != 'F')
				continue;
			for (k = 0; k < 5 && strstr(line, kinds[k]) == NULL; k++)
				;
			if (k == 5 && counts[5] == 0)
				print_message("node %c: writer %d: %s\n", 'a' + node, w, line);
			counts[k]++;
		}
		free(text);
	}
	print_message("node %c's writers were refused: %zu \"did not answer\", %zu \"cannot be reached\", %zu "
	    "\"store.max_staleness\", %zu \"changed by another writer\", %zu \"refused this write\", %zu other\n",
	    'a' + node, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
	return counts[5];
}

/* Counts the lines of every writer's file (acknowledged writes and refusals alike). */
static size_t
writer_lines(struct cl *c)
{
	char path[400], *text, *p;
	size_t n = 0;
	int w;

	for (w = 0; w < WRITERS; w++) {
		snprintf(path, sizeof(path), "%s/writer-%d", c->dir, w);
		if ((text = util_read_file(path, NULL)) == NULL)
			continue;
		for (p = text; (p = strchr(p, '\n')) != NULL; p++)
			n++;
		free(text);
	}
	return n;
}

/* Lets the writers run until they have acknowledged (or refused) at least more writes, 20 s at most. */
static void
writes_go_on(struct cl *c, size_t more, const char *when)
{
	size_t start = writer_lines(c);
	int64_t end = util_now_ms() + h_slow(20000);

	while (writer_lines(c) < start + more)
		if (util_now_ms() > end)
			fail_msg("%s: the writers answered fewer than %zu requests in 20 s", when, more);
		else
			h_sleep_ms(100);
}

/* qsort and bsearch order of an array of strings. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The identifiers of every object record in etcd (keys under PREFIX "o/", as etcdctl lists them), sorted,
 * into *ids (*n of them), pointing into *text; the caller frees *text and *ids.
 */
static void
etcd_object_ids(struct cl *c, char **text, char ***ids, size_t *n)
{
	char cmd[1400], path[400], *line, *save = NULL;
	size_t cap = 0;

	snprintf(path, sizeof(path), "%s/etcd-keys", c->dir);
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s --command-timeout=20s get --prefix "
	    "'" PREFIX "o/' --keys-only > '%s' 2>&1", c->endpoints, path);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", path);
		(void)system(cmd);
		fail_msg("etcdctl get --prefix " PREFIX "o/ failed");
	}
	assert_non_null(*text = util_read_file(path, NULL));
	*ids = NULL;
	*n = 0;
	for (line = strtok_r(*text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, PREFIX "o/", strlen(PREFIX "o/")) != 0)
			continue;
		if (*n == cap) {
			cap = cap > 0 ? cap * 2 : 1024;
			assert_non_null(*ids = realloc(*ids, cap * sizeof(**ids)));
		}
		(*ids)[(*n)++] = line + strlen(PREFIX "o/");
	}
	if (*n > 0)
		qsort(*ids, *n, sizeof(**ids), cmp_str);
}

/*
 * 2. Faults under load. Two writers per node write (Register, Create, Activate) all along and record every
 * acknowledged write; node B reaches etcd through forwarders. One etcd member is killed (writes go on on
 * both nodes) and restarted; node A is killed with SIGKILL and restarted (once caught up it has what B
 * wrote meanwhile; its writers go on); B's forwarders are stopped: B logs that it is cut off, refuses
 * writes ("cluster store") and, past store.max_staleness (3 s), reads ("store.max_staleness"), and
 * acknowledges nothing until healed; healed, it is current again with what A wrote meanwhile, and serves. Then every acknowledged object is on both nodes with the same bytes (the
 * registered ones for Register), every acknowledged Activate left the key Active on both, and every one
 * is in etcd: nothing was acknowledged that etcd did not commit.
 */
static void
test_faults_under_load(void **state)
{
	struct cl *c = *state;
	struct ack *acks = NULL;
	size_t nacks = 0, cap = 0, refusals = 0, i, nids = 0;
	char *etcd_text = NULL, **ids = NULL, probe_uid[64], missed_uid[64];
	int64_t t_member, t_member_back, t_restart_a, t_cut, cut_logged, t_heal;
	uint8_t secret[SECRET_LEN], missed[SECRET_LEN], mat[512], other[512];
	pid_t workers[8];
	size_t len, olen, nworkers;
	struct res r;
	int w, n;

	etcd_start(c, 3);
	fwd_start(c);
	/* A with two worker processes: its SIGKILL takes the master, and the workers go with it. */
	node_start(c, 0, c->endpoints, (const char *const[]){ "server.workers=2", NULL });
	node_start(c, 1, c->fwd_endpoints, (const char *const[]){ "store.max_staleness=3",
	    "store.etcd_request_timeout=1500", "store.etcd_connect_timeout=500", NULL });
	write_port(c, 0);
	write_port(c, 1);
	/* An object B knows, for the reads during the cut. */
	assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
	register_secret(conn(c, 0), secret, sizeof(secret), NULL, &r);
	expect_ok(&r, "Register of the probe on A");
	snprintf(probe_uid, sizeof(probe_uid), "%s", r.uid);
	len = sizeof(mat);
	assert_true(get_eventually(conn(c, 1), probe_uid, mat, &len));
	for (w = 0; w < WRITERS; w++)
		writer_start(c, w);
	writes_go_on(c, 40, "at the start");

	/* One etcd member of three killed: both nodes go on writing. */
	etcd_member(c, "kill", 0);
	t_member = util_now_ms();
	h_sleep_ms(1000);
	/* Past the answers that were on their way when the member died: a write sent to a cluster of two. */
	for (n = 0; n < NODES; n++) {
		int64_t first = acked_after(c, n, t_member + 500, h_slow(20000));

		if (first < 0) {
			show_refusals(c, n, t_member, util_now_ms());
			fail_msg("node %c acknowledged no write within 20 s of etcd member 0's kill", 'a' + n);
		}
		print_message("node %c: a write acknowledged %.1f s after etcd member 0 was killed\n", 'a' + n,
		    (double)(first - t_member) / 1000);
	}
	t_member_back = util_now_ms();
	etcd_member(c, "restart", 0);
	etcd_healthy(c, h_slow(30000));
	print_message("etcd member 0 restarted\n");

	/* Node A killed with SIGKILL in the middle of its writers' requests, then restarted on its store. */
	nworkers = h_children(&c->node[0], workers, 8);
	assert_true(nworkers >= 2);
	h_signal(&c->node[0], SIGKILL);
	assert_int_equal(h_wait_exit(&c->node[0], h_slow(10000)), 128 + SIGKILL);
	for (i = 0; i < nworkers; i++) {
		int64_t end = util_now_ms() + h_slow(10000);

		while (h_proc_alive(workers[i]))
			if (util_now_ms() > end)
				fail_msg("process %ld of node A still runs 10 s after its master was killed",
				    (long)workers[i]);
			else
				h_sleep_ms(50);
	}
	kmip_client_close(c->conn[0]);
	c->conn[0] = NULL;
	/* Written on B while A is down: A has it once it says it caught up, without waiting more. */
	assert_int_equal(RAND_bytes(missed, sizeof(missed)), 1);
	register_secret(conn(c, 1), missed, sizeof(missed), NULL, &r);
	expect_ok(&r, "Register on B while A is down");
	snprintf(missed_uid, sizeof(missed_uid), "%s", r.uid);
	h_sleep_ms(1000);
	node_restart(c, 0);
	write_port(c, 0);
	t_restart_a = util_now_ms();
	print_message("node A restarted\n");
	len = sizeof(mat);
	if (get_bytes(conn(c, 0), missed_uid, mat, &len, &r) != 0)
		fail_msg("node A caught up without %s, written on B while A was down: %s", missed_uid, r.msg);
	assert_int_equal(len, sizeof(missed));
	assert_memory_equal(mat, missed, sizeof(missed));
	writes_go_on(c, 40, "after node A's restart");

	/*
	 * Node B cut off from etcd: its forwarders stopped. A read at once is still served (its last proof of
	 * being current is about a heartbeat old); a write is refused, never queued; B says it is cut off; past
	 * store.max_staleness its reads are refused too.
	 */
	assert_int_equal(kill(c->fwd, SIGSTOP), 0);
	t_cut = util_now_ms();
	len = sizeof(mat);
	if (get_bytes(conn(c, 1), probe_uid, mat, &len, &r) != 0)
		fail_msg("node B refused a read at once after the cut: %s", r.msg);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(mat, secret, sizeof(secret));
	register_secret(conn(c, 1), secret, sizeof(secret), NULL, &r);
	if (r.status == KMIP_RESULT_STATUS_SUCCESS)
		fail_msg("node B acknowledged a Register while cut off from etcd (%s)", r.uid);
	assert_int_equal(r.reason, KMIP_RESULT_REASON_GENERAL_FAILURE);
	if (strstr(r.msg, "cluster store") == NULL)
		fail_msg("a write on node B cut off was refused with: %s", r.msg);
	print_message("node B refused a write %.1f s after the cut: %s\n", (double)(util_now_ms() - t_cut) / 1000,
	    r.msg);
	if (!h_log_wait(&c->node[1], "cluster: cut off from etcd", h_slow(20000)))
		fail_msg("node B did not log that it is cut off within 20 s");
	cut_logged = util_now_ms();
	for (;;) {
		len = sizeof(mat);
		if (get_bytes(conn(c, 1), probe_uid, mat, &len, &r) != 0 && strstr(r.msg, "store.max_staleness") != NULL)
			break;
		if (util_now_ms() > t_cut + h_slow(20000))
			fail_msg("node B still serves reads 20 s after it was cut off (last: %s)",
			    r.status == KMIP_RESULT_STATUS_SUCCESS ? "success" : r.msg);
		h_sleep_ms(100);
	}
	assert_int_equal(r.reason, KMIP_RESULT_REASON_GENERAL_FAILURE);
	print_message("node B refuses reads %.1f s after the cut\n", (double)(util_now_ms() - t_cut) / 1000);
	/* Written on A during the cut: B has it once it says it is current again. */
	assert_int_equal(RAND_bytes(missed, sizeof(missed)), 1);
	register_secret(conn(c, 0), missed, sizeof(missed), NULL, &r);
	expect_ok(&r, "Register on A while B is cut off");
	snprintf(missed_uid, sizeof(missed_uid), "%s", r.uid);
	assert_int_equal(kill(c->fwd, SIGCONT), 0);
	t_heal = util_now_ms();
	if (!h_log_wait(&c->node[1], "cluster: current again", h_slow(20000)))
		fail_msg("node B did not log that it is current again within 20 s of the heal");
	print_message("node B is current again %.1f s after the heal\n", (double)(util_now_ms() - t_heal) / 1000);
	len = sizeof(mat);
	if (get_bytes(conn(c, 1), probe_uid, mat, &len, &r) != 0)
		fail_msg("node B healed does not serve a read: %s", r.msg);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(mat, secret, sizeof(secret));
	len = sizeof(mat);
	if (get_bytes(conn(c, 1), missed_uid, mat, &len, &r) != 0)
		fail_msg("node B is current again without %s, written on A during the cut: %s", missed_uid, r.msg);
	assert_int_equal(len, sizeof(missed));
	assert_memory_equal(mat, missed, sizeof(missed));
	writes_go_on(c, 40, "after the heal");

	for (w = 0; w < WRITERS; w++)
		reap(&c->writer[w]);
	for (w = 0; w < WRITERS; w++)
		read_acks(c, w, &acks, &nacks, &cap, "cluster store", &refusals);
	print_message("%zu writes acknowledged, %zu refused for the cluster store\n", nacks, refusals);
	/* Every refusal is the cluster's (a Create's key not found by its Activate would be no such thing). */
	for (n = 0; n < NODES; n++)
		if (refusal_summary(c, n) != 0)
			fail_msg("node %c refused writes for other reasons", 'a' + n);
	/* Writes went on through each fault, and nothing was acknowledged on B while it was cut off. */
	for (n = 0; n < NODES; n++)
		if (acks_between(acks, nacks, n, t_member, t_member_back) == 0) {
			show_refusals(c, n, t_member, t_member_back);
			fail_msg("node %c acknowledged no write with etcd member 0 down", 'a' + n);
		}
	if (acks_between(acks, nacks, 0, t_restart_a, INT64_MAX) == 0)
		fail_msg("node A acknowledged no write after its restart");
	if (acks_between(acks, nacks, 1, t_heal, INT64_MAX) == 0)
		fail_msg("node B acknowledged no write after the heal");
	if ((i = acks_between(acks, nacks, 1, cut_logged, t_heal)) != 0)
		fail_msg("node B acknowledged %zu writes while cut off from etcd", i);
	assert_true(refusals > 0);

	/* Every acknowledged write on both nodes, with the same bytes, and in etcd. */
	etcd_object_ids(c, &etcd_text, &ids, &nids);
	for (i = 0; i < nacks; i++) {
		const struct ack *k = &acks[i];
		const char *key = k->uid;

		if (bsearch(&key, ids, nids, sizeof(*ids), cmp_str) == NULL)
			fail_msg("%s was acknowledged (%c by writer %d) but etcd has no " PREFIX "o/%s", k->uid, k->kind,
			    k->writer, k->uid);
		if (k->kind == 'A') {
			for (n = 0; n < NODES; n++)
				if (!state_eventually(conn(c, n), k->uid, KMIP_STATE_ACTIVE))
					fail_msg("the acknowledged Activate of %s is not seen on node %c", k->uid, 'a' + n);
			continue;
		}
		len = sizeof(mat);
		if (!get_eventually(conn(c, 0), k->uid, mat, &len))
			fail_msg("acknowledged %s (%c by writer %d) is missing on node A", k->uid, k->kind, k->writer);
		olen = sizeof(other);
		if (!get_eventually(conn(c, 1), k->uid, other, &olen))
			fail_msg("acknowledged %s (%c by writer %d) is missing on node B", k->uid, k->kind, k->writer);
		assert_int_equal(len, olen);
		if (memcmp(mat, other, len) != 0)
			fail_msg("%s has other bytes on node A than on node B", k->uid);
		if (k->kind == 'R') {
			assert_int_equal(len, SECRET_LEN);
			if (memcmp(mat, k->secret, SECRET_LEN) != 0)
				fail_msg("%s does not hold the bytes registered", k->uid);
		} else {
			assert_int_equal(len, 16);
		}
	}
	free(ids);
	free(etcd_text);
	free(acks);
}

/*
 * 3. Conflicting writes: 40 Pre-Active keys, each activated from A and from B at once (both requests sent
 * before either answer is read). Exactly one of each pair succeeds; the other is refused as changed by
 * another writer or as no longer Pre-Active; both nodes end with every key Active.
 */
static void
test_conflicting_activates(void **state)
{
	struct cl *c = *state;
	char uid[CONFLICT_KEYS][64];
	size_t conflicts = 0, lifecycle = 0, wins[NODES] = { 0 };
	struct kmip_client *cl[NODES];
	int i, n;

	etcd_start(c, 3);
	node_start(c, 0, c->endpoints, NULL);
	node_start(c, 1, c->endpoints, NULL);
	cl[0] = conn(c, 0);
	cl[1] = conn(c, 1);
	for (i = 0; i < CONFLICT_KEYS; i++)
		create_aes(cl[i % 2], NULL, uid[i]);
	for (i = 0; i < CONFLICT_KEYS; i++)
		for (n = 0; n < NODES; n++)
			if (!state_eventually(cl[n], uid[i], KMIP_STATE_PRE_ACTIVE))
				fail_msg("%s is not Pre-Active on node %c", uid[i], 'a' + n);
	for (i = 0; i < CONFLICT_KEYS; i++) {
		struct res r[NODES];
		struct ttlv_enc e;
		char *cause = NULL;
		int ok = 0;

		h_uid_request(&e, KMIP_OPERATION_ACTIVATE, uid[i], 0);
		for (n = 0; n < NODES; n++)
			if (kmip_client_write(cl[n], e.buf, e.len, &cause) != 0)
				fail_msg("write to node %c: %s", 'a' + n, cause);
		ttlv_enc_free(&e);
		for (n = 0; n < NODES; n++) {
			struct ttlv_arena *a;
			struct ttlv *resp;

			if (kmip_client_read(cl[n], &resp, &a, &cause) != 0)
				fail_msg("read from node %c: %s", 'a' + n, cause);
			result_of(resp, &r[n]);
			ttlv_arena_free(a);
			if (r[n].status == KMIP_RESULT_STATUS_SUCCESS) {
				ok++;
				wins[n]++;
			}
		}
		if (ok != 1)
			fail_msg("Activate of %s from both nodes: %d succeeded (A: %s, B: %s)", uid[i], ok,
			    r[0].status == KMIP_RESULT_STATUS_SUCCESS ? "success" : r[0].msg,
			    r[1].status == KMIP_RESULT_STATUS_SUCCESS ? "success" : r[1].msg);
		for (n = 0; n < NODES; n++) {
			if (r[n].status == KMIP_RESULT_STATUS_SUCCESS)
				continue;
			if (r[n].reason == KMIP_RESULT_REASON_GENERAL_FAILURE &&
			    strstr(r[n].msg, "changed by another writer") != NULL)
				conflicts++;
			/* 1.4 has no Wrong Key Lifecycle State: kmipd answers it as Permission Denied. */
			else if (r[n].reason == KMIP_RESULT_REASON_PERMISSION_DENIED &&
			    strstr(r[n].msg, "Pre-Active") != NULL)
				lifecycle++;
			else
				fail_msg("the losing Activate of %s on node %c: reason 0x%x: %s", uid[i], 'a' + n,
				    r[n].reason, r[n].msg);
		}
	}
	print_message("%d pairs: %zu won on A, %zu on B; losers: %zu changed by another writer, %zu no longer "
	    "Pre-Active\n", CONFLICT_KEYS, wins[0], wins[1], conflicts, lifecycle);
	for (i = 0; i < CONFLICT_KEYS; i++)
		for (n = 0; n < NODES; n++)
			if (!state_eventually(cl[n], uid[i], KMIP_STATE_ACTIVE))
				fail_msg("%s is not Active on node %c", uid[i], 'a' + n);
}

/* The value after flag in cluster.sh's saved arguments of a member (one line, no spaces in values). */
static void
member_arg(const char *args, const char *flag, char *out, size_t size)
{
	const char *p = strstr(args, flag);
	size_t n;

	if (p == NULL || p[strlen(flag)] != ' ')
		fail_msg("no %s in the member's arguments: %s", flag, args);
	p += strlen(flag) + 1;
	n = strcspn(p, " \n");
	if (n == 0 || n >= size)
		fail_msg("%s has no usable value in: %s", flag, args);
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * Restores member 0 of the cluster (one member) from the snapshot file snap, as an operator restoring etcd
 * would: the member stopped, its data replaced by `etcdctl snapshot restore` with the same name, token and
 * peer URLs (so the same cluster id), started again with cluster.sh restart.
 */
static void
etcd_restore(struct cl *c, const char *snap)
{
	char path[400], *args, cluster[600], token[200], peer[200], cmd[2400], out[8192];
	long pid;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/member-0.pid", c->etcd_dir);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	etcd_member(c, "kill", 0);
	for (i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++)
		h_sleep_ms(10);
	snprintf(path, sizeof(path), "%s/member-0.args", c->etcd_dir);
	assert_non_null(args = util_read_file(path, NULL));
	member_arg(args, "--initial-cluster", cluster, sizeof(cluster));
	member_arg(args, "--initial-cluster-token", token, sizeof(token));
	member_arg(args, "--initial-advertise-peer-urls", peer, sizeof(peer));
	free(args);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/member-0' && ETCDCTL_API=3 etcdctl snapshot restore '%s' --name m0 "
	    "--data-dir '%s/member-0' --initial-cluster %s --initial-cluster-token %s "
	    "--initial-advertise-peer-urls %s", c->etcd_dir, snap, c->etcd_dir, cluster, token, peer);
	if (run_sh(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed: %s", cmd, out);
	etcd_member(c, "restart", 0);
	etcd_healthy(c, h_slow(30000));
}

/*
 * 4. The restore guard: nodes A and B on a one-member etcd; A writes, a snapshot of etcd is taken, A writes
 * more and stops; etcd is restored from the snapshot (the same cluster, its revision back where the
 * snapshot was). B, running all along, stops by itself: exit status 1, a log line saying that the revision
 * went backwards. A, started on its store, refuses to serve the same way and never says it caught up.
 */
static void
test_restore_guard(void **state)
{
	struct cl *c = *state;
	uint8_t secret[SECRET_LEN];
	char snap[400], cmd[1400], out[4096];
	struct res r;
	int i, n, st;

	etcd_start(c, 1);
	node_start(c, 0, c->endpoints, NULL);
	node_start(c, 1, c->endpoints, NULL);
	for (i = 0; i < 20; i++) {
		if (i == 5) {
			snprintf(snap, sizeof(snap), "%s/snap.db", c->etcd_dir);
			snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s snapshot save '%s'", c->endpoints,
			    snap);
			if (run_sh(cmd, out, sizeof(out)) != 0)
				fail_msg("%s failed: %s", cmd, out);
		}
		assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
		register_secret(conn(c, 0), secret, sizeof(secret), NULL, &r);
		expect_ok(&r, "Register");
	}
	/* B has applied every write: it is ahead of the snapshot too. */
	{
		uint8_t mat[64];
		size_t len = sizeof(mat);

		assert_true(get_eventually(conn(c, 1), r.uid, mat, &len));
	}
	kmip_client_close(c->conn[0]);
	c->conn[0] = NULL;
	kmip_client_close(c->conn[1]);
	c->conn[1] = NULL;
	assert_int_equal(h_stop(&c->node[0], h_slow(15000)), 0);
	etcd_restore(c, snap);
	for (n = 1; n >= 0; n--) {
		if (n == 0)
			h_restart_nowait(&c->node[0], c->ovp[0]);
		st = h_wait_exit(&c->node[n], h_slow(30000));
		if (st != 1 || h_log_count(&c->node[n], "went backwards") == 0) {
			snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", c->node[n].log);
			(void)system(cmd);
			fail_msg("node %c ahead of etcd: exit status %d (-1: still running after 30 s), wanted 1 and a log "
			    "line saying that etcd's revision went backwards", 'a' + n, st);
		}
	}
	assert_int_equal(h_log_count(&c->node[0], "cluster: caught up at revision"), 0);
}

/* Runs kmipctl status --json on sock into path; returns its exit status. */
static int
status_json(const char *sock, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), st;
	pid_t pid;

	assert_true(fd >= 0);
	pid = h_start_kmipctl(NULL, fd, (const char *const[]){ "status", "-S", sock, "--json", NULL });
	close(fd);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Asks node i's kmipctl status --json until the python3 expression check holds over it (as `j`, with `c` =
 * j['cluster'] and `rev`, a number the caller gives), at most timeout_ms. Returns true when it did.
 */
static bool
status_until(struct cl *c, int i, const char *check, long long rev, int timeout_ms)
{
	char json[400], py[400], cmd[1400];
	int64_t end = util_now_ms() + timeout_ms;
	FILE *f;

	snprintf(json, sizeof(json), "%s/status-%d.json", c->dir, i);
	snprintf(py, sizeof(py), "%s/check.py", c->dir);
	assert_non_null(f = fopen(py, "w"));
	fprintf(f, "import json, sys\nj = json.load(open(sys.argv[1]))\nc = j['cluster']\nrev = int(sys.argv[2])\n"
	    "sys.exit(0 if (%s) else 1)\n", check);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' %lld 2>/dev/null", py, json, rev);
	for (;;) {
		if (status_json(c->sock[i], json) == 0 && system(cmd) == 0)
			return true;
		if (util_now_ms() > end)
			break;
		h_sleep_ms(200);
	}
	print_message("node %c's last status (wanted %s, rev %lld):\n", 'a' + i, check, rev);
	snprintf(cmd, sizeof(cmd), "cat '%s' >&2", json);
	(void)system(cmd);
	return false;
}

/* The mod_revision etcd holds for the object uid (etcdctl get -w json), or -1. */
static long long
etcd_mod_revision(struct cl *c, const char *uid)
{
	char cmd[1400], out[8192], *p;

	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get '" PREFIX "o/%s' -w json", c->endpoints,
	    uid);
	if (run_sh(cmd, out, sizeof(out)) != 0 || (p = strstr(out, "\"mod_revision\":")) == NULL)
		return -1;
	return strtoll(p + 15, NULL, 10);
}

/* A TCP port free now on 127.0.0.1. */
static unsigned
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/*
 * GET /metrics from 127.0.0.1:port into buf (the body, NUL-terminated); checks it with promtool (its copy
 * in the case's folder). Fails the test unless the answer is 200 and promtool accepts it.
 */
static void
metrics(struct cl *c, unsigned port, char *buf, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10, .tv_usec = 0 };
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	char path[400], cmd[900], *body = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = -1;

	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	while (len + 1 < size && (n = read(fd, buf + len, size - len - 1)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1 || code != 200 || (body = strstr(buf, "\r\n\r\n")) == NULL)
		fail_msg("GET /metrics: %.200s", buf);
	memmove(buf, body + 4, strlen(body + 4) + 1);
	snprintf(path, sizeof(path), "%s/metrics.txt", c->dir);
	h_write_file(path, buf);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* The value of the unlabelled sample name in a /metrics body, or -1 when absent. */
static double
metric(const char *body, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = body; (p = strstr(p, name)) != NULL; p += n)
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/*
 * 5. The cluster in kmipctl status --json: backend etcd, the node's name, state current, a small
 * staleness, both nodes listed with the same policy hash and no mismatch; right after a write is
 * acknowledged, the writer's applied_revision has reached the revision etcd gave it (read-your-writes),
 * and the other node's soon does; /metrics (checked by promtool) agrees. With its etcd member killed, node A (store.max_staleness 10 s) says it is
 * cut off: a write is refused at once ("cluster store", within 1 s), a read is served (a first Get, whose
 * freshness mark cannot be written, included); past store.max_staleness it says stale and refuses reads
 * ("store.max_staleness"); with the member back, current again, and it serves.
 */
static void
test_status(void **state)
{
	struct cl *c = *state;
	uint8_t secret[SECRET_LEN], mat[512];
	char uid[64], ov_metrics[64], body[65536];
	unsigned mport = free_port();
	struct res r;
	long long rev;
	int64_t t;
	size_t len;

	snprintf(ov_metrics, sizeof(ov_metrics), "metrics.listen=127.0.0.1:%u", mport);
	etcd_start(c, 1);
	node_start(c, 0, c->endpoints, (const char *const[]){ "store.max_staleness=10",
	    "store.etcd_request_timeout=1000", "store.etcd_connect_timeout=500", ov_metrics, NULL });
	node_start(c, 1, c->endpoints, NULL);
	assert_true(status_until(c, 0, "c['backend'] == 'etcd' and c['node'] == 'node-a' and "
	    "c['state'] == 'current' and c['applied_revision'] >= 1 and 0 <= c['staleness_ms'] < 3000 and "
	    "c['policy_mismatch'] == [] and len(c['policy_sha256']) == 64 and "
	    "sorted(n['name'] for n in c['nodes']) == ['node-a', 'node-b'] and "
	    "all(n['policy_sha256'] == c['policy_sha256'] for n in c['nodes'])", 0, h_slow(10000)));
	assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
	register_secret(conn(c, 0), secret, sizeof(secret), NULL, &r);
	expect_ok(&r, "Register");
	snprintf(uid, sizeof(uid), "%s", r.uid);
	rev = etcd_mod_revision(c, uid);
	assert_true(rev > 0);
	/* Read-your-writes: applied on A before A answered. */
	assert_true(status_until(c, 0, "c['state'] == 'current' and c['applied_revision'] >= rev", rev, 0));
	metrics(c, mport, body, sizeof(body));
	assert_true(metric(body, "kmipd_cluster_applied_revision") >= (double)rev);
	assert_true(metric(body, "kmipd_cluster_current") == 1);
	assert_true(metric(body, "kmipd_cluster_policy_mismatch") == 0);
	assert_true(metric(body, "kmipd_cluster_txns_total") >= 1);
	assert_true(metric(body, "kmipd_cluster_staleness_seconds") >= 0 &&
	    metric(body, "kmipd_cluster_staleness_seconds") < 10);
	assert_true(status_until(c, 1, "c['backend'] == 'etcd' and c['node'] == 'node-b' and "
	    "c['state'] == 'current' and c['applied_revision'] >= rev", rev, h_slow(POLL_MS)));

	/* etcd gone: A says it is cut off, refuses writes at once and serves reads. */
	etcd_member(c, "kill", 0);
	assert_true(status_until(c, 0, "c['state'] == 'cut off' and c['staleness_ms'] > 1000", 0, h_slow(10000)));
	t = util_now_ms();
	register_secret(conn(c, 0), secret, sizeof(secret), NULL, &r);
	t = util_now_ms() - t;
	if (r.status == KMIP_RESULT_STATUS_SUCCESS)
		fail_msg("node A cut off acknowledged a Register (%s)", r.uid);
	if (r.reason != KMIP_RESULT_REASON_GENERAL_FAILURE || strstr(r.msg, "cluster store") == NULL)
		fail_msg("a write on node A cut off: reason 0x%x: %s", r.reason, r.msg);
	if (t > 1000)
		fail_msg("node A cut off took %lld ms to refuse a write", (long long)t);
	len = sizeof(mat);
	if (get_bytes(conn(c, 0), uid, mat, &len, &r) != 0)
		fail_msg("node A cut off refused a read before store.max_staleness: %s", r.msg);
	assert_int_equal(len, sizeof(secret));
	assert_memory_equal(mat, secret, sizeof(secret));
	/* Past store.max_staleness: stale, and reads refused. */
	assert_true(status_until(c, 0, "c['state'] == 'stale' and c['staleness_ms'] > 10000", 0, h_slow(20000)));
	metrics(c, mport, body, sizeof(body));
	assert_true(metric(body, "kmipd_cluster_current") == 0);
	assert_true(metric(body, "kmipd_cluster_staleness_seconds") > 10);
	len = sizeof(mat);
	if (get_bytes(conn(c, 0), uid, mat, &len, &r) == 0)
		fail_msg("node A stale served a read");
	if (r.reason != KMIP_RESULT_REASON_GENERAL_FAILURE || strstr(r.msg, "store.max_staleness") == NULL)
		fail_msg("a read on node A stale: reason 0x%x: %s", r.reason, r.msg);

	/* The member back: current again, and serving. */
	etcd_member(c, "restart", 0);
	assert_true(status_until(c, 0, "c['state'] == 'current' and c['staleness_ms'] < 3000 and "
	    "c['applied_revision'] >= rev", rev, h_slow(20000)));
	len = sizeof(mat);
	if (get_bytes(conn(c, 0), uid, mat, &len, &r) != 0)
		fail_msg("node A current again refused a read: %s", r.msg);
	register_secret(conn(c, 0), secret, sizeof(secret), NULL, &r);
	expect_ok(&r, "Register on A current again");
}

/* The revision etcd is at now. */
static long long
etcd_revision(struct cl *c)
{
	char cmd[900], out[4096];

	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s get x -w json | /usr/bin/python3 -c "
	    "'import json,sys; print(json.load(sys.stdin)[\"header\"][\"revision\"])'", c->endpoints);
	if (run_sh(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed: %s", cmd, out);
	return atoll(out);
}

/*
 * A node that joins after etcd compacted its history copies it from a Range, the keyring with it: it reads
 * the first node's keys byte for byte, and the first node reads the keys it makes. A node whose master key
 * is not the cluster's stops before serving (exit 1) instead of sealing what no other node could open.
 */
static void
test_late_node(void **state)
{
	struct cl *c = *state;
	char uids[3][64], mine[64], cmd[900], out[4096], ovs[8][600];
	const char *ov[9];
	uint8_t a[256], b[256];
	size_t alen, blen, i;
	struct h_server x;
	int st;

	etcd_start(c, 1);
	node_start(c, 0, c->endpoints, NULL);
	for (i = 0; i < 3; i++)
		create_aes(conn(c, 0), NULL, uids[i]);
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints=%s compact %lld", c->endpoints,
	    etcd_revision(c));
	if (run_sh(cmd, out, sizeof(out)) != 0)
		fail_msg("%s failed: %s", cmd, out);
	node_start(c, 1, c->endpoints, NULL);
	if (h_log_count(&c->node[1], "copying every record again from a Range") == 0)
		fail_msg("node b did not resynchronise from a Range (etcd was compacted before it joined)");
	for (i = 0; i < 3; i++) {
		alen = blen = sizeof(a);
		assert_int_equal(get_bytes(conn(c, 0), uids[i], a, &alen, NULL), 0);
		if (!get_eventually(conn(c, 1), uids[i], b, &blen))
			fail_msg("node b does not read %s", uids[i]);
		assert_int_equal(alen, blen);
		assert_memory_equal(a, b, alen);
	}
	create_aes(conn(c, 1), NULL, mine);
	alen = blen = sizeof(a);
	assert_int_equal(get_bytes(conn(c, 1), mine, b, &blen, NULL), 0);
	if (!get_eventually(conn(c, 0), mine, a, &alen))
		fail_msg("node a does not read %s, which node b made", mine);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);

	/* Another master key: its own (the harness makes one in its folder when none is given). */
	h_make_dir(&x);
	snprintf(ovs[0], sizeof(ovs[0]), "store.backend=etcd");
	snprintf(ovs[1], sizeof(ovs[1]), "store.etcd_endpoints=%s", c->endpoints);
	snprintf(ovs[2], sizeof(ovs[2]), "store.etcd_node_name=node-x");
	snprintf(ovs[3], sizeof(ovs[3]), "admin.socket=%s/admin.sock", x.dir);
	snprintf(ovs[4], sizeof(ovs[4]), "keygen.pool_size=0");
	for (i = 0; i < 5; i++)
		ov[i] = ovs[i];
	ov[i] = NULL;
	h_restart_nowait(&x, ov);
	st = h_wait_exit(&x, h_slow(30000));
	if (st != 1 || h_log_count(&x, "does not open with this node's master key") == 0) {
		snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", x.log);
		(void)system(cmd);
		if (st == -1)
			(void)h_stop(&x, 5000);
		h_cleanup(&x);
		fail_msg("a node with another master key: exit status %d, wanted 1 and a line saying why", st);
	}
	assert_int_equal(h_log_count(&x, "cluster: caught up at revision"), 0);
	h_cleanup(&x);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicting_activates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_node, setup, teardown),
	};

	util_test_start(argc, argv);
	atexit(stop_running);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
