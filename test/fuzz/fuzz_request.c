/*
 * libFuzzer target for the whole request path: bytes are decoded with the server's limits, each complete
 * Request Message is answered by dispatch_request() against a real LMDB store, the response is encoded,
 * decoded again and checked, and the store's group commit runs after each message as the server's loop
 * does. No TLS and no event loop: a struct server and a struct conn are built here with only the fields the
 * dispatcher and the operations read. Key-pair generation is off (srv.keygen NULL), so CreateKeyPair
 * answers a Cryptographic Failure instead of waiting for a worker.
 *
 * Input: the first byte chooses who sends the messages (see identity_for), the rest is a stream of TTLV
 * messages handled in order, as on one connection; a malformed one ends the input the way the server ends
 * a connection (an Invalid Message response, then nothing more is read). Each input starts from an empty
 * store, so an input behaves the same alone as in a run (a crash reproduces from its file) and object
 * identifiers are predictable ("1", "2", ... in creation order), which the seed corpus relies on. (An
 * input that committed nothing leaves the store empty, so the next one reuses it.)
 *
 * Environment: KMIPD_FUZZ_LOG=1 keeps the server's log lines (off by default: formatting still runs, the
 * lines go to /dev/null); KMIPD_FUZZ_DIR sets where the temporary store lives (default /dev/shm, else /tmp).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/ops.h"
#include "core/dispatch.h"
#include "core/log.h"
#include "core/server.h"
#include "proto/proto.h"
#include "store/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGES	64		/* messages answered per input at most */
#define FUZZ_MAP_SIZE		(1024 * 1024)
#define FUZZ_MAX_MAP_SIZE	(64 * 1024 * 1024)

static const char *const identities[] = { "fuzz-alice", "fuzz-bob", "fuzz-admin" };

static struct server srv;
static struct conn conn;
static char store_dir[256];
static FILE *diag;		/* the real stderr, for this file's own messages */
static bool dirty = true;	/* the store holds committed writes: the next input needs a fresh one */

/* Removes the files of the store folder (LMDB's data and lock files), and the folder when rmdir_too. */
static void
clear_dir(bool rmdir_too)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	if (store_dir[0] == '\0' || (d = opendir(store_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", store_dir, e->d_name);
		(void)unlink(path);
	}
	closedir(d);
	if (rmdir_too)
		(void)rmdir(store_dir);
}

/* Closes the store when the fuzzer exits normally (its files are already unlinked). */
static void
at_exit(void)
{
	if (srv.store != NULL)
		store_close(srv.store);
	srv.store = NULL;
	config_free(srv.cfg);
}

/* Opens an empty store in store_dir; aborts if it cannot (the target would test nothing). */
static void
store_fresh(void)
{
	struct store_options o;
	char *cause = NULL;

	if (srv.store != NULL)
		store_close(srv.store);
	srv.store = NULL;
	clear_dir(false);
	store_options_init(&o);
	o.path = store_dir;
	o.map_size = FUZZ_MAP_SIZE;
	o.max_map_size = FUZZ_MAX_MAP_SIZE;
	o.sync = STORE_SYNC_RELAXED;
	o.group_commit = true;
	if (store_open(&o, &srv.store, &cause) != 0) {
		fprintf(diag, "fuzz_request: store %s: %s\n", store_dir, cause != NULL ? cause : "?");
		abort();
	}
	/*
	 * The open store keeps its files through their descriptors and mapping: remove the names now, so that
	 * nothing is left in /dev/shm when libFuzzer ends the process without running atexit handlers (after
	 * -max_total_time, or on a crash). store_open makes the folder again next time.
	 */
	clear_dir(true);
}

/* Builds the server and connection the dispatcher sees, and the store folder. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("KMIPD_FUZZ_DIR");
	struct kmipd_config *cfg;

	(void)argc;
	(void)argv;
	diag = stderr;
	if (base == NULL)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(store_dir, sizeof(store_dir), "%s/kmipd-fuzz-XXXXXX", base);
	if (mkdtemp(store_dir) == NULL) {
		fprintf(diag, "fuzz_request: mkdtemp %s: %s\n", store_dir, strerror(errno));
		abort();
	}
	if ((cfg = config_defaults()) == NULL)
		abort();
	/* One administrator, so Locate and ownership checks take both paths. */
	cfg->access.admins.items = calloc(1, sizeof(char *));
	if (cfg->access.admins.items == NULL || (cfg->access.admins.items[0] = strdup(identities[2])) == NULL)
		abort();
	cfg->access.admins.count = 1;
	srv.cfg = cfg;
	srv.keygen = NULL;
	TAILQ_INIT(&srv.conns);
	TAILQ_INIT(&srv.held);
	conn.srv = &srv;
	conn.id = 1;
	conn.state = CONN_PROCESSING;
	snprintf(conn.peer, sizeof(conn.peer), "127.0.0.1:5696");
	atexit(at_exit);
	/*
	 * Every log line is formatted (format bugs are findings too) but, unless asked for, written to
	 * /dev/null: log.c writes to stderr, while libFuzzer keeps its own handle on the original stream and
	 * the sanitizers write to descriptor 2, so their reports still show.
	 */
	log_init(LOG_LEVEL_DEBUG, false, 0);
	if (getenv("KMIPD_FUZZ_LOG") == NULL) {
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL)
			stderr = null;
	}
	return 0;
}

/* Who sends message i: mode 0 one client, 1 the administrator, 2 two clients in turn, 3 client and admin. */
static const char *
identity_for(unsigned mode, unsigned i)
{
	switch (mode & 3) {
	case 0:
		return identities[0];
	case 1:
		return identities[2];
	case 2:
		return identities[i % 2];
	default:
		return identities[i % 2 == 0 ? 0 : 2];
	}
}

/* Reports why a response is not well-formed, prints it, and aborts (the finding). */
static void __attribute__((noreturn))
bad_response(const uint8_t *buf, size_t len, const char *why)
{
	struct ttlv_arena *arena;
	struct ttlv *root;

	fprintf(diag, "fuzz_request: bad response: %s\n", why);
	if (ttlv_decode(buf, len, NULL, &root, &arena, NULL, NULL) == TTLV_DONE) {
		ttlv_print(diag, root);
		ttlv_arena_free(arena);
	}
	abort();
}

/*
 * Checks that an encoded response is one well-formed Response Message: it decodes, its header has a
 * Protocol Version and a Batch Count equal to the number of Batch Items, and every Batch Item has a Result
 * Status (and a Result Reason when it is Operation Failed). Aborts otherwise.
 */
static void
check_response(const uint8_t *buf, size_t len)
{
	static const struct ttlv_limits lim = { .max_message_size = 64u * 1024 * 1024, .max_depth = TTLV_MAX_DEPTH };
	const struct ttlv *hdr, *count, *item, *status, *reason;
	struct ttlv_arena *arena;
	struct ttlv *root;
	enum ttlv_err err;
	uint64_t off;
	unsigned n = 0;

	if (ttlv_decode(buf, len, &lim, &root, &arena, &err, &off) != TTLV_DONE) {
		fprintf(diag, "fuzz_request: response does not decode: %s at %llu\n", ttlv_err_str(err),
		    (unsigned long long)off);
		abort();
	}
	if (root->tag != KMIP_TAG_RESPONSE_MESSAGE || root->type != TTLV_STRUCTURE)
		bad_response(buf, len, "not a Response Message");
	hdr = ttlv_find(root, KMIP_TAG_RESPONSE_HEADER);
	count = ttlv_find(hdr, KMIP_TAG_BATCH_COUNT);
	if (hdr == NULL || ttlv_find(hdr, KMIP_TAG_PROTOCOL_VERSION) == NULL || count == NULL ||
	    count->type != TTLV_INTEGER)
		bad_response(buf, len, "Response Header without Protocol Version or Batch Count");
	for (item = ttlv_find(root, KMIP_TAG_BATCH_ITEM); item != NULL; item = ttlv_find_next(item)) {
		n++;
		status = ttlv_find(item, KMIP_TAG_RESULT_STATUS);
		reason = ttlv_find(item, KMIP_TAG_RESULT_REASON);
		if (status == NULL || status->type != TTLV_ENUMERATION)
			bad_response(buf, len, "Batch Item without a Result Status");
		/* Only a failure needs a reason: Operation Undone items come without (OASIS BL-M-2-21). */
		if (status->v.u32 == KMIP_RESULT_STATUS_OPERATION_FAILED &&
		    (reason == NULL || reason->type != TTLV_ENUMERATION))
			bad_response(buf, len, "failed Batch Item without a Result Reason");
	}
	if (n == 0)
		bad_response(buf, len, "no Batch Item");
	if (count->v.i32 != (int32_t)n)
		bad_response(buf, len, "Batch Count differs from the number of Batch Items");
	ttlv_arena_free(arena);
}

/* Makes the message's writes durable as the server's commit event does; a full map is not a finding. */
static void
group_commit(void)
{
	int rc;

	if (!store_group_pending(srv.store))
		return;
	dirty = true;
	rc = store_group_commit(srv.store);
	if (rc != 0 && rc != STORE_E_FULL) {
		fprintf(diag, "fuzz_request: group commit: %s (%s)\n", store_strerror(rc),
		    store_last_error(srv.store));
		abort();
	}
}

/* Answers one decoded message and checks the response. */
static void
answer(struct ttlv *root, struct ttlv_arena *arena)
{
	struct ttlv_enc out;
	size_t len;
	uint8_t *buf;

	ttlv_enc_init(&out);
	if (dispatch_request(&conn, root, arena, &out) != DISPATCH_DONE)
		abort();	/* only key generation waits, and there is none here */
	ttlv_arena_free(arena);
	if (ttlv_enc_finish(&out) != 0) {
		fprintf(diag, "fuzz_request: response encoding failed: %s\n", strerror(errno));
		abort();
	}
	buf = ttlv_enc_detach(&out, &len);
	group_commit();
	check_response(buf, len);
	explicit_bzero(buf, len);
	free(buf);
	ttlv_enc_free(&out);
}

/* Undecodable bytes: the Invalid Message response the server sends before closing must encode. */
static void
bad_message(struct ttlv_decoder *d)
{
	struct ttlv_enc out;
	const char *what;

	(void)ttlv_decoder_error(d, NULL, &what);
	ttlv_enc_init(&out);
	dispatch_bad_message(&out, what);
	if (ttlv_enc_finish(&out) != 0)
		abort();
	check_response(out.buf, out.len);
	ttlv_enc_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttlv_limits lim = { 0 };
	struct ttlv_decoder *d;
	unsigned mode, messages = 0;
	size_t off = 0, used;

	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	/* Reopening costs a millisecond: inputs that wrote nothing leave the store as they found it. */
	if (dirty)
		store_fresh();
	dirty = false;
	lim.max_message_size = (uint32_t)srv.cfg->server.max_message_size;
	if ((d = ttlv_decoder_new(&lim)) == NULL)
		abort();
	while (off < size && messages < FUZZ_MAX_MESSAGES) {
		enum ttlv_status st = ttlv_decoder_feed(d, data + off, size - off, &used);
		struct ttlv_arena *arena;
		struct ttlv *root;

		if (used > size - off)
			abort();
		off += used;
		if (st == TTLV_NEED_MORE)
			break;
		if (st == TTLV_ERROR) {
			bad_message(d);
			break;
		}
		root = ttlv_decoder_take(d, &arena);
		if (root == NULL)
			abort();
		conn.who = identity_for(mode, messages);
		answer(root, arena);
		messages++;
	}
	ttlv_decoder_free(d);
	/* Multi-part cipher contexts live on the connection, which ends with the input. */
	ops_crypto_streams_free(conn.crypto_streams);
	conn.crypto_streams = NULL;
	if (store_group_pending(srv.store))
		abort();	/* every message's writes were committed above */
	return 0;
}
