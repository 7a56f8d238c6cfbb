/*
 * Nothing acknowledged is lost: clients pipeline Register requests from several connections (so writes share
 * group commits) while the server is killed with SIGKILL at random moments; after each restart on the same
 * store, every object whose response reached a client is there with its exact bytes. And kmipd as a daemon
 * holds its store's locks, so hot backups taken while it writes are consistent and leave it unharmed; a
 * restored backup never makes it hand out an identifier again.
 *
 * A killed process loses nothing the kernel has, synced or not, so the SIGKILL test cannot see a missing
 * sync: the last tests watch kmipd's system calls through an LD_PRELOAD shim instead (see below).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define CLIENTS		3
#define BURST		16	/* pipelined requests per client per turn */
#define ROUNDS		8
#define MAX_ACKED	20000
#define SECRET_LEN	24

struct acked {
	char uid[64];
	uint8_t secret[SECRET_LEN];
};

static struct acked acked[MAX_ACKED];
static size_t nacked;

/* Kills pid with SIGKILL after a random delay, from a child process, so the parent keeps sending. */
static pid_t
kill_later(pid_t pid, unsigned seed)
{
	pid_t k = fork();

	assert_true(k >= 0);
	if (k == 0) {
		struct timespec ts = { 0, (long)(50 + seed % 400) * 1000000L };

		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		_exit(0);
	}
	return k;
}

/*
 * Connects every client, then has the server killed at a random moment (*killer) while they send bursts
 * until it dies; records what was acknowledged.
 */
static void
write_until_killed(struct h_server *s, SSL_CTX *ctx, pid_t *killer)
{
	struct kmip_client *cl[CLIENTS];
	uint8_t pending[CLIENTS][BURST][SECRET_LEN];
	bool alive = true;
	int i, j;

	/* Connected first: a kill during the handshakes (slow under a sanitizer) would test nothing. */
	for (i = 0; i < CLIENTS; i++)
		cl[i] = h_connect(s, ctx);
	*killer = kill_later(s->pid, (unsigned)rand());
	while (alive && nacked + CLIENTS * BURST < MAX_ACKED) {
		for (i = 0; i < CLIENTS && alive; i++) {
			uint8_t *all = NULL;
			size_t len = 0;
			char *cause = NULL;

			for (j = 0; j < BURST; j++) {
				struct ttlv_enc e;

				for (size_t b = 0; b < SECRET_LEN; b++)
					pending[i][j][b] = (uint8_t)rand();
				h_register_secret_request(&e, pending[i][j], SECRET_LEN);
				all = realloc(all, len + e.len);
				memcpy(all + len, e.buf, e.len);
				len += e.len;
				ttlv_enc_free(&e);
			}
			if (kmip_client_write(cl[i], all, len, &cause) != 0) {
				alive = false;
				free(cause);
			}
			free(all);
		}
		for (i = 0; i < CLIENTS && alive; i++) {
			for (j = 0; j < BURST; j++) {
				struct ttlv_arena *a;
				struct ttlv *resp;
				char *cause = NULL;
				char uid[64];

				if (kmip_client_read(cl[i], &resp, &a, &cause) != 0) {
					alive = false;
					free(cause);
					break;
				}
				assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
				h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid));
				assert_true(uid[0] != '\0');
				snprintf(acked[nacked].uid, sizeof(acked[nacked].uid), "%s", uid);
				memcpy(acked[nacked].secret, pending[i][j], SECRET_LEN);
				nacked++;
				ttlv_arena_free(a);
			}
		}
	}
	for (i = 0; i < CLIENTS; i++)
		kmip_client_close(cl[i]);
}

/* Registers a random secret on cl and records it as acknowledged. */
static void
register_secret(struct kmip_client *cl)
{
	struct acked *k = &acked[nacked];
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	assert_true(nacked < MAX_ACKED);
	for (size_t b = 0; b < SECRET_LEN; b++)
		k->secret[b] = (uint8_t)rand();
	h_register_secret_request(&e, k->secret, SECRET_LEN);
	resp = h_call(cl, &e, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, k->uid, sizeof(k->uid));
	assert_true(k->uid[0] != '\0');
	nacked++;
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
}

/*
 * Gets acknowledged object i on cl: true when it is there with its exact bytes, false when it is not found.
 * Anything else (another object's bytes under its identifier) fails the test.
 */
static bool
get_acked(struct kmip_client *cl, size_t i)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	bool found;

	h_uid_request(&e, KMIP_OPERATION_GET, acked[i].uid, 0);
	resp = h_call(cl, &e, &a);
	found = h_item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS;
	if (found) {
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA),
		    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		assert_non_null(m);
		assert_int_equal(m->length, SECRET_LEN);
		if (memcmp(m->v.bytes.data, acked[i].secret, SECRET_LEN) != 0)
			fail_msg("object %s holds another object's bytes", acked[i].uid);
	} else {
		assert_int_equal(h_result_reason(resp), KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	}
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
	return found;
}

/* Gets every acknowledged object and compares its bytes. */
static void
verify_all(struct h_server *s, SSL_CTX *ctx)
{
	struct kmip_client *cl = h_connect(s, ctx);
	size_t i;

	for (i = 0; i < nacked; i++)
		if (!get_acked(cl, i))
			fail_msg("acknowledged object %s is missing after a restart", acked[i].uid);
	kmip_client_close(cl);
}

static void
test_sigkill_loses_nothing_acknowledged(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "log.level=info", NULL };
	struct h_server s;
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	int round, status;

	(void)state;
	srand((unsigned)time(NULL));
	h_start(&s, opts);
	for (round = 0; round < ROUNDS; round++) {
		size_t before = nacked;
		pid_t killer;

		write_until_killed(&s, ctx, &killer);
		waitpid(killer, &status, 0);
		waitpid(s.pid, &status, 0);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		print_message("round %d: %zu writes acknowledged before SIGKILL\n", round, nacked - before);
		h_restart(&s, opts);
		verify_all(&s, ctx);
	}
	assert_true(nacked > 0);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/* True when process pid holds a POSIX lock on the file with inode ino (/proc/locks). */
static bool
holds_lock(pid_t pid, ino_t ino)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/locks", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char kind[16], dev[64];
		long lpid;
		unsigned long long lino;

		/* "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a blocked waiter's line starts "1: ->") */
		if (sscanf(line, "%*d: %15s %*s %*s %ld %63[0-9a-f:]", kind, &lpid, dev) != 3 ||
		    strcmp(kind, "POSIX") != 0)
			continue;
		lino = strtoull(strrchr(dev, ':') + 1, NULL, 10);
		found = lpid == (long)pid && lino == (unsigned long long)ino;
	}
	fclose(f);
	return found;
}

/* Starts kmipctl backup --store STORE FILE without waiting. */
static pid_t
backup_start(const char *store, const char *dest)
{
	const char *bin = getenv("KMIPCTL_BIN") != NULL ? getenv("KMIPCTL_BIN") : "build/kmipctl";
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execl(bin, bin, "backup", "--store", store, dest, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * Opens a backup file as a store (read-only) with the server's master key and returns how many objects it
 * holds; fails the test if it does not open.
 */
static uint64_t
backup_objects(struct h_server *s, const char *dest)
{
	struct store_kek_source src = { .kind = STORE_KEY_FILE, .path = h_master_key(s) };
	struct store_options o;
	struct store_stats st;
	struct store_kek *k = NULL;
	struct store *b = NULL;
	char *cause = NULL;

	if (store_kek_load(&src, &k, &cause) != STORE_OK)
		fail_msg("master key: %s", cause != NULL ? cause : "?");
	store_options_init(&o);
	o.master = k;
	o.path = dest;
	o.read_only = true;
	o.single_file = true;
	if (store_open(&o, &b, &cause) != 0)
		fail_msg("backup %s does not open: %s", dest, cause != NULL ? cause : "?");
	assert_int_equal(store_stat(b, &st), 0);
	store_close(b);
	store_kek_free(k);
	return st.objects;
}

/*
 * kmipd started as a daemon (no -f) holds the locks of its store: the daemon is the process that opened
 * it, not a parent that exited after. So kmipctl backup, run again and again while clients write, finds a
 * running server and leaves its lock table alone: every backup opens with at least the objects
 * acknowledged before it started, the server goes on acknowledging, and after a stop and a restart every
 * acknowledged object is there. Its key-generation workers are its own children, fresh images of kmipd.
 */
static void
test_daemon_backup_while_writing(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "keygen.workers=1", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct kmip_client *cl;
	struct h_server s;
	struct stat st;
	char path[400], dest[400], argv0[64];
	pid_t workers[4];
	int round, status;

	(void)state;
	nacked = 0;
	h_start_daemon(&s, opts);
	snprintf(path, sizeof(path), "%s/store/lock.mdb", s.dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(holds_lock(s.pid, st.st_ino));
	assert_int_equal(h_children(&s, workers, 4), 1);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)workers[0]);
	/* The worker execs right after its fork, which may come after the daemon says it serves: wait 2 s. */
	for (round = 0; round < 200; round++) {
		FILE *f = fopen(path, "r");

		assert_non_null(f);
		argv0[0] = '\0';
		if (fgets(argv0, sizeof(argv0), f) == NULL)
			argv0[0] = '\0';
		fclose(f);
		if (strcmp(argv0, "kmipd-keygen") == 0)
			break;
		usleep(10000);
	}
	assert_string_equal(argv0, "kmipd-keygen");

	cl = h_connect(&s, ctx);
	snprintf(path, sizeof(path), "%s/store", s.dir);
	for (round = 0; round < 6; round++) {
		size_t before = nacked;
		pid_t bk;
		int i;

		snprintf(dest, sizeof(dest), "%s/backup%d.mdb", s.dir, round);
		bk = backup_start(path, dest);
		/* Writes while the backup runs, a few bursts at least. */
		for (i = 0; i < 4 || waitpid(bk, &status, WNOHANG) == 0; i++)
			register_secret(cl);
		if (i <= 4)
			(void)waitpid(bk, &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_true(backup_objects(&s, dest) >= before);
	}
	kmip_client_close(cl);
	print_message("%zu writes acknowledged across 6 hot backups of the daemon's store\n", nacked);
	verify_all(&s, ctx);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_restart(&s, NULL);
	verify_all(&s, ctx);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/*
 * Restoring an older backup never makes kmipd hand out an identifier again. Objects are registered, kmipctl
 * backup copies the store, more are registered; kmipd stops, the backup file replaces the store's data.mdb
 * (what kmipctl restore writes: test_backup) and kmipd starts on it. The objects of before the backup read
 * back, those of after are not found, and the objects registered now have identifiers none of the earlier ones had: a
 * client holding one of those is told it does not exist, never handed another key by it.
 */
static void
test_restore_never_reuses_identifiers(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct kmip_client *cl;
	struct h_server s;
	char store[300], dest[300], to[320];
	size_t backed_up, restored_over, i, j;
	int status;
	pid_t bk;

	(void)state;
	nacked = 0;
	h_start(&s, opts);
	cl = h_connect(&s, ctx);
	for (i = 0; i < 4; i++)
		register_secret(cl);
	backed_up = nacked;
	snprintf(store, sizeof(store), "%s/store", s.dir);
	snprintf(dest, sizeof(dest), "%s/backup.mdb", s.dir);
	bk = backup_start(store, dest);
	assert_int_equal(waitpid(bk, &status, 0), bk);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < 4; i++)
		register_secret(cl);
	restored_over = nacked;
	kmip_client_close(cl);
	assert_int_equal(h_stop(&s, 10000), 0);
	snprintf(to, sizeof(to), "%s/data.mdb", store);
	h_copy_file(dest, to);
	h_restart(&s, opts);
	cl = h_connect(&s, ctx);
	for (i = 0; i < 4; i++)
		register_secret(cl);
	for (i = restored_over; i < nacked; i++)
		for (j = 0; j < restored_over; j++)
			if (strcmp(acked[i].uid, acked[j].uid) == 0)
				fail_msg("identifier %s handed out again after the restore", acked[i].uid);
	for (i = 0; i < nacked; i++)
		if (get_acked(cl, i) != (i < backed_up || i >= restored_over))
			fail_msg("object %zu (%s) is %s after the restore", i, acked[i].uid,
			    i < backed_up || i >= restored_over ? "missing" : "there");
	kmip_client_close(cl);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/*
 * No response acknowledges a write before the store made it durable. kmipd runs with the LD_PRELOAD shim
 * of test/integration/shim_sync.c, which logs in order every write to and sync of the store's data file
 * and every read from and write to a client's TCP socket. What LMDB 0.9.24 (Debian 12) calls, seen with
 * strace -f: at each commit writev (pwrite for one page) of the dirty pages on the data file's read-write
 * descriptor, fdatasync of it, then pwrite of the 120-byte meta page through a second descriptor opened
 * O_DSYNC (store.sync = "full"); with "relaxed" (MDB_NOMETASYNC) the meta page goes through the first
 * descriptor after the fdatasync, unsynced until the next commit. No fsync, msync or sync_file_range.
 *
 * Clients send every kind of write (Create, Register, Add / Modify / Delete Attribute, Activate, the first
 * Get of an object, which ends its freshness, Re-key, Revoke, Destroy, CreateKeyPair) one at a time, then
 * several clients one Register each while the server is stopped (SIGSTOP), so that it finds them in one
 * loop iteration and commits them as one group. For each acknowledged write the log must show, between
 * the last read of its request and the first byte of its response, a write and a sync of the data file,
 * and no write of it left unsynced at that first byte. A later Get of the same object waits for no sync.
 * The same check must report every write when the syncs are no-ops (the shim's noop mode) and with
 * store.sync = "relaxed": so it can fail. (It also fails when the engine answers a write without holding
 * it for the group commit, or when LMDB runs with MDB_NOSYNC.)
 */
#define SHIM_CLIENTS	4	/* clients whose writes share group commits */
#define SHIM_ROUNDS	6
#define SHIM_MAX_REQ	32	/* requests per connection */
#define SHIM_WRITES	12	/* writes of shim_every_write() */

/* One line of the shim's log (see shim_sync.c) of the server's own process. */
struct shim_ev {
	unsigned long seq;
	char kind;
	unsigned port;
};

/* A client connection and what it asked, in order: true for a write the response acknowledges. */
struct shim_conn {
	struct kmip_client *cl;
	unsigned port;		/* its local port: the peer port in the server's log */
	size_t n;
	bool write[SHIM_MAX_REQ];
	const char *what[SHIM_MAX_REQ];
};

/* What the check found. */
struct shim_verdict {
	size_t writes;		/* write responses checked */
	size_t violations;	/* of those, answered before their write was durable */
	size_t syncs;		/* durable syncs of the data file ('S') */
	size_t noop_syncs;	/* sync calls the noop mode dropped ('N') */
	size_t gets_synced;	/* read responses that waited for a sync */
	size_t shared;		/* most write answers made durable by one sync (group commit) */
	char first[400];	/* the first violation, described */
};

/*
 * Starts kmipd with the shim logging to log, in mode ("real" or "noop"), and the overrides. A sanitizer
 * build's runtime accepts the shim before it in the library list.
 */
static void
start_shimmed(struct h_server *s, const char *const *overrides, const char *mode, const char *log)
{
	char preload[600], logenv[400], modeenv[64], asan[600], path[500];
	const char *asan_now = getenv("ASAN_OPTIONS");
	const char *env[] = { preload, logenv, modeenv, asan, NULL };

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", h_shim_path(path, sizeof(path)));
	snprintf(logenv, sizeof(logenv), "KMIPD_SHIM_SYNC_LOG=%s", log);
	snprintf(modeenv, sizeof(modeenv), "KMIPD_SHIM_SYNC_MODE=%s", mode);
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan_now != NULL ? asan_now : "",
	    asan_now != NULL && asan_now[0] != '\0' ? ":" : "");
	h_start_env(s, overrides, env);
}

/* Connects a client and records its local port. */
static void
shim_connect(struct h_server *s, SSL_CTX *ctx, struct shim_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(c, 0, sizeof(*c));
	c->cl = h_connect(s, ctx);
	assert_int_equal(getsockname(kmip_client_fd(c->cl), (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	c->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * Sends req on c without waiting, and records whether it writes. Returns false (and says why) when it could
 * not be sent: the caller fails the test once the server runs again.
 */
static bool
shim_send(struct shim_conn *c, struct ttlv_enc *req, bool write, const char *what)
{
	char *cause = NULL;
	bool sent = c->n < SHIM_MAX_REQ && kmip_client_write(c->cl, req->buf, req->len, &cause) == 0;

	if (!sent)
		print_error("%s not sent: %s\n", what, cause != NULL ? cause : "too many requests");
	free(cause);
	if (sent) {
		c->write[c->n] = write;
		c->what[c->n++] = what;
	}
	ttlv_enc_free(req);
	return sent;
}

/* Reads the next response on c, checks it succeeded and copies tag's text into out (when not NULL). */
static void
shim_recv(struct shim_conn *c, uint32_t tag, char *out, size_t size)
{
	struct ttlv_arena *a;
	struct ttlv *resp;
	char *cause = NULL;

	if (kmip_client_read(c->cl, &resp, &a, &cause) != 0)
		fail_msg("response to %s: %s", c->what[c->n - 1], cause);
	if (h_item_status(resp, 0) != KMIP_RESULT_STATUS_SUCCESS)
		fail_msg("%s failed (reason %d)", c->what[c->n - 1], h_result_reason(resp));
	if (out != NULL) {
		h_payload_text(resp, tag, out, size);
		assert_true(out[0] != '\0');
	}
	ttlv_arena_free(a);
}

/* One request on c, answered before the next: the response's text under tag goes to out (may be NULL). */
static void
shim_call(struct shim_conn *c, struct ttlv_enc *req, bool write, const char *what, uint32_t tag, char *out)
{
	assert_true(shim_send(c, req, write, what));
	shim_recv(c, tag, out, 64);
}

/* A whole 1.4 request of op on uid editing attribute Name (index -1: none; value NULL: none). */
static void
name_request(struct ttlv_enc *e, uint32_t op, const char *uid, int index, const char *value)
{
	h_request_begin(e, 1, 4, 1);
	h_item_begin(e, op);
	ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (op == KMIP_OPERATION_DELETE_ATTRIBUTE) {
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Name");
		ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_INDEX, index);
	} else {
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Name");
		if (index >= 0)
			ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_INDEX, index);
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
		ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, value);
		ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	h_item_end(e);
	h_request_end(e);
}

/* Every kind of write, one at a time on c (SHIM_WRITES of them), and Gets of objects committed earlier. */
static void
shim_every_write(struct shim_conn *c)
{
	uint8_t secret[SECRET_LEN];
	struct ttlv_enc e;
	char key[64], sec[64], pair[64];

	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&e, "Cryptographic Length", 256);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	shim_call(c, &e, true, "Create", KMIP_TAG_UNIQUE_IDENTIFIER, key);
	for (size_t b = 0; b < SECRET_LEN; b++)
		secret[b] = (uint8_t)rand();
	h_register_secret_request(&e, secret, SECRET_LEN);
	shim_call(c, &e, true, "Register", KMIP_TAG_UNIQUE_IDENTIFIER, sec);
	name_request(&e, KMIP_OPERATION_ADD_ATTRIBUTE, key, -1, "durable-name");
	shim_call(c, &e, true, "Add Attribute", 0, NULL);
	name_request(&e, KMIP_OPERATION_MODIFY_ATTRIBUTE, key, 0, "durable-renamed");
	shim_call(c, &e, true, "Modify Attribute", 0, NULL);
	name_request(&e, KMIP_OPERATION_DELETE_ATTRIBUTE, key, 0, NULL);
	shim_call(c, &e, true, "Delete Attribute", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_ACTIVATE, key, 0);
	shim_call(c, &e, true, "Activate", 0, NULL);
	/* The owner's first Get ends the object's freshness (a write); the second only reads. */
	h_uid_request(&e, KMIP_OPERATION_GET, sec, 0);
	shim_call(c, &e, true, "first Get", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_GET, sec, 0);
	shim_call(c, &e, false, "Get", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_RE_KEY, key, 0);
	shim_call(c, &e, true, "Re-key", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_REVOKE, key, KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION);
	shim_call(c, &e, true, "Revoke", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_DESTROY, sec, 0);
	shim_call(c, &e, true, "Destroy", 0, NULL);
	h_create_ec_pair_request(&e, NULL, NULL);
	shim_call(c, &e, true, "CreateKeyPair", KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pair);
	h_uid_request(&e, KMIP_OPERATION_GET, pair, 0);
	shim_call(c, &e, true, "first Get", 0, NULL);
	h_uid_request(&e, KMIP_OPERATION_GET, pair, 0);
	shim_call(c, &e, false, "Get", 0, NULL);
}

/*
 * Rounds of one Register from each client at once, then their answers: writes that share group commits.
 * The server is stopped while they are sent, so that it finds them all in one loop iteration.
 */
static void
shim_group_writes(struct h_server *s, struct shim_conn *c, size_t nc)
{
	for (int round = 0; round < SHIM_ROUNDS; round++) {
		bool sent = true;
		size_t i;

		h_signal(s, SIGSTOP);
		for (i = 0; i < nc; i++) {
			uint8_t secret[SECRET_LEN];
			struct ttlv_enc e;

			for (size_t b = 0; b < SECRET_LEN; b++)
				secret[b] = (uint8_t)rand();
			h_register_secret_request(&e, secret, SECRET_LEN);
			sent &= shim_send(&c[i], &e, true, "Register (group)");
		}
		h_sleep_ms(20);	/* for loopback to deliver them; a request missing a round only shares less */
		h_signal(s, SIGCONT);
		assert_true(sent);
		for (i = 0; i < nc; i++)
			shim_recv(&c[i], 0, NULL, 0);
	}
}

/* Reads the shim's log: the events of process pid, in order. The caller frees *out. */
static size_t
read_shim_log(const char *path, pid_t pid, struct shim_ev **out)
{
	size_t n = 0, cap = 0;
	struct shim_ev *ev = NULL;
	char line[128];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		fail_msg("no shim log at %s: the shim was not loaded", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long seq, epid;
		unsigned port;
		char kind;
		int fd;

		if (sscanf(line, "%lu %lu %c %d %u", &seq, &epid, &kind, &fd, &port) != 5)
			fail_msg("bad shim log line: %s", line);
		if ((pid_t)epid != pid)
			continue;	/* a key-generation worker */
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 256;
			assert_non_null(ev = realloc(ev, cap * sizeof(*ev)));
		}
		assert_true(n == 0 || seq > ev[n - 1].seq);
		ev[n++] = (struct shim_ev){ seq, kind, port };
	}
	fclose(f);
	*out = ev;
	return n;
}

/*
 * Checks the responses of every connection against the log (see the comment above the tests): fills v.
 * A response starts at a socket write that follows a read on the same connection; a connection's last
 * c->n such starts are the answers to its requests (the earlier ones belong to the TLS handshake).
 */
static void
check_durable_answers(const struct shim_ev *ev, size_t n, const struct shim_conn *conns, size_t nc,
    struct shim_verdict *v)
{
	size_t *starts, *covered, i, k;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < n; i++) {
		v->syncs += ev[i].kind == 'S';
		v->noop_syncs += ev[i].kind == 'N';
	}
	assert_non_null(starts = calloc(n + 1, sizeof(*starts)));
	assert_non_null(covered = calloc(n + 1, sizeof(*covered)));
	for (k = 0; k < nc; k++) {
		const struct shim_conn *c = &conns[k];
		size_t nstarts = 0, j;
		char last = 0;

		for (i = 0; i < n; i++) {
			if (ev[i].port != c->port || (ev[i].kind != 'R' && ev[i].kind != 'W'))
				continue;
			if (ev[i].kind == 'W' && last == 'R')
				starts[nstarts++] = i;
			last = ev[i].kind;
		}
		if (nstarts < c->n)
			fail_msg("port %u: %zu responses in the shim log, %zu requests sent", c->port, nstarts, c->n);
		for (j = 0; j < c->n; j++) {
			size_t w = starts[nstarts - c->n + j], r = w, last_sync = n;
			bool stored = false, synced = false, dirty = false;
			const char *why = NULL;

			while (r > 0 && !(ev[r].port == c->port && ev[r].kind == 'R'))
				r--;
			for (i = r + 1; i < w; i++) {
				stored |= ev[i].kind == 'w' || ev[i].kind == 'D';
				synced |= ev[i].kind == 'S';
			}
			/* Dirty: a write of the data file after its last durable sync, before this answer. */
			for (i = 0; i < w; i++) {
				if (ev[i].kind == 'S') {
					last_sync = i;
					dirty = false;
				} else if (ev[i].kind == 'w') {
					dirty = true;
				}
			}
			if (!c->write[j]) {
				v->gets_synced += synced;
				continue;
			}
			v->writes++;
			if (last_sync < n && ++covered[last_sync] > v->shared)
				v->shared = covered[last_sync];
			if (!stored)
				why = "the data file was not written between its request and its answer";
			else if (!synced)
				why = "no sync of the data file between its request and its answer";
			else if (dirty)
				why = "data written after the last sync was not synced before its answer";
			if (why == NULL)
				continue;
			if (v->violations++ == 0)
				snprintf(v->first, sizeof(v->first), "%s (request %zu on port %u, read at event %lu, "
				    "answered at event %lu, last sync at event %lu): %s", c->what[j], j, c->port,
				    ev[r].seq, ev[w].seq, last_sync < n ? ev[last_sync].seq : 0, why);
		}
	}
	free(starts);
	free(covered);
}

/*
 * Runs kmipd with the shim in mode and the overrides, drives every kind of write and the group commits,
 * and returns the check's verdict.
 */
static void
run_sync_check(const char *mode, const char *const *overrides, struct shim_verdict *v)
{
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct shim_conn one, group[SHIM_CLIENTS], all[SHIM_CLIENTS + 1];
	struct shim_ev *ev;
	struct h_server s;
	char dir[256], log[300];
	size_t n, i;

	assert_int_equal(util_mkdtemp(dir, sizeof(dir), NULL, "kmipd-shim"), 0);
	snprintf(log, sizeof(log), "%s/sync.log", dir);
	start_shimmed(&s, overrides, mode, log);
	shim_connect(&s, ctx, &one);
	shim_every_write(&one);
	for (i = 0; i < SHIM_CLIENTS; i++)
		shim_connect(&s, ctx, &group[i]);
	shim_group_writes(&s, group, SHIM_CLIENTS);
	/* Read while the connections are open: closing them adds close_notify writes to the log. */
	n = read_shim_log(log, s.pid, &ev);
	all[0] = one;
	memcpy(all + 1, group, sizeof(group));
	check_durable_answers(ev, n, all, SHIM_CLIENTS + 1, v);
	print_message("%s, %s: %zu write answers, %zu syncs of the data file (%zu dropped), up to %zu answers "
	    "per sync, %zu violations%s%s\n", mode, overrides[1], v->writes, v->syncs, v->noop_syncs, v->shared,
	    v->violations,
	    v->violations > 0 ? "; first: " : "", v->first);
	for (i = 0; i < SHIM_CLIENTS + 1; i++)
		kmip_client_close(all[i].cl);
	free(ev);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	assert_int_equal(util_rmtree(dir), 0);
	SSL_CTX_free(ctx);
}

/* With real syncs and store.sync = "full", every write is durable before its answer; Gets wait for none. */
static void
test_answers_follow_their_sync(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "store.sync=full", NULL };
	struct shim_verdict v;

	(void)state;
	run_sync_check("real", opts, &v);
	assert_int_equal(v.writes, SHIM_WRITES + SHIM_CLIENTS * SHIM_ROUNDS);
	if (v.violations != 0)
		fail_msg("%zu of %zu writes answered before they were durable; first: %s", v.violations, v.writes,
		    v.first);
	assert_int_equal(v.noop_syncs, 0);
	/* Group commit: the writes of a round, found in one loop iteration, share a sync. */
	assert_true(v.shared >= 2);
	assert_int_equal(v.gets_synced, 0);
}

/* The check fails when the syncs are no-ops: it reports every write answer. */
static void
test_sync_check_sees_dropped_syncs(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "store.sync=full", NULL };
	struct shim_verdict v;

	(void)state;
	run_sync_check("noop", opts, &v);
	assert_int_equal(v.writes, SHIM_WRITES + SHIM_CLIENTS * SHIM_ROUNDS);
	assert_int_equal(v.syncs, 0);
	assert_true(v.noop_syncs > 0);
	assert_int_equal(v.violations, v.writes);
}

/*
 * The check fails with store.sync = "relaxed", which does not sync the meta page before answering (the
 * documented trade: an operating system crash may undo the last group): every write answer is reported.
 */
static void
test_sync_check_sees_relaxed_sync(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", "store.sync=relaxed", NULL };
	struct shim_verdict v;

	(void)state;
	run_sync_check("real", opts, &v);
	assert_int_equal(v.writes, SHIM_WRITES + SHIM_CLIENTS * SHIM_ROUNDS);
	assert_true(v.syncs > 0);
	assert_int_equal(v.violations, v.writes);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_loses_nothing_acknowledged),
		cmocka_unit_test(test_daemon_backup_while_writing),
		cmocka_unit_test(test_restore_never_reuses_identifiers),
		cmocka_unit_test(test_answers_follow_their_sync),
		cmocka_unit_test(test_sync_check_sees_dropped_syncs),
		cmocka_unit_test(test_sync_check_sees_relaxed_sync),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
