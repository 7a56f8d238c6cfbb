/*
 * Nothing acknowledged is lost: clients pipeline Register requests from several connections (so writes share
 * group commits) while the server is killed with SIGKILL at random moments; after each restart on the same
 * store, every object whose response reached a client is there with its exact bytes. And kmipd as a daemon
 * holds its store's locks, so hot backups taken while it writes are consistent and leave it unharmed; a
 * restored backup never makes it hand out an identifier again.
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
#include <sys/stat.h>
#include <sys/wait.h>

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

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_loses_nothing_acknowledged),
		cmocka_unit_test(test_daemon_backup_while_writing),
		cmocka_unit_test(test_restore_never_reuses_identifiers),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
