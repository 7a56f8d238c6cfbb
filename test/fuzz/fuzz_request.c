/*
 * libFuzzer target for the whole request path: bytes are decoded with the server's limits, each complete
 * Request Message is answered by the engine (engine_request(), the same API the connections use) against a
 * real LMDB store, the response is decoded again and checked, and the group commit runs after each message
 * as the server's loop does (engine_commit(), which releases the held response). No TLS, no event loop and
 * no connection: one engine session per client identity. Key-pair generation is off (no keygen in the
 * engine's environment), so CreateKeyPair answers a Cryptographic Failure instead of waiting for a worker.
 *
 * Input: the first byte chooses who sends the messages (see identity_for), the rest is a stream of TTLV
 * messages handled in order, as on one connection; a malformed one ends the input the way the server ends
 * a connection (an Invalid Message response, then nothing more is read). Each input starts from an empty
 * store, so an input behaves the same alone as in a run (a crash reproduces from its file). (An input that
 * committed nothing leaves the store empty, so the next one reuses it.) Object identifiers are random
 * UUIDs, which no input could spell: a request names the n-th identifier the input's responses showed by
 * the decimal text "n" in a field that holds an identifier (Unique Identifier, Private and Public Key
 * Unique Identifier, Linked Object Identifier), replaced before the engine sees it. The seed corpus
 * relies on that ("1" is the first object an input made).
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
#include "core/engine/access.h"
#include "core/engine/engine.h"
#include "core/log.h"
#include "proto/decode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGES	64		/* messages answered per input at most */
#define FUZZ_MAX_UIDS		256		/* identifiers remembered per input */
#define FUZZ_MAP_SIZE		(1024 * 1024)
#define FUZZ_MAX_MAP_SIZE	(64 * 1024 * 1024)

static const char *const identities[] = { "fuzz-alice", "fuzz-bob", "fuzz-admin" };

static struct kmipd_config *cfg;
static struct access_policy *policy;
static struct store *store;
static struct engine *engine;
static struct session *sessions[3];	/* one per identity, for the current input */
static uint8_t *delivered;		/* a response the engine handed to a session's callback */
static size_t delivered_len;
static bool commit_asked;		/* the engine asked for a group commit */
static char store_dir[256];
static FILE *diag;		/* the real stderr, for this file's own messages */
static bool dirty = true;	/* the store holds committed writes: the next input needs a fresh one */
static char uids[FUZZ_MAX_UIDS][STORE_UID_MAX + 1];	/* identifiers the input's responses showed, in order */
static size_t nuids;

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
	engine_free(engine);
	if (store != NULL)
		store_close(store);
	store = NULL;
	access_policy_free(policy);
	config_free(cfg);
}

/* The engine holds a response until the group commit: remember to run it, as the server's loop does. */
static void
schedule_commit(void *arg)
{
	(void)arg;
	commit_asked = true;
}

/* A session's callback: keeps the response for the checks. */
static void
take_response(void *arg, uint8_t *buf, size_t len)
{
	(void)arg;
	if (delivered != NULL)
		abort();	/* one request at a time per session, one response each */
	if (buf == NULL) {
		fprintf(diag, "fuzz_request: the engine delivered no response\n");
		abort();
	}
	delivered = buf;
	delivered_len = len;
}


/* A master key made once per process (its file removed at once): the store is encrypted, as in kmipd. */
static const struct store_kek *
fuzz_master_key(void)
{
	static struct store_kek *key;
	struct store_kek_source src = { .kind = STORE_KEY_FILE };
	char path[300], *cause = NULL;

	if (key != NULL)
		return key;
	snprintf(path, sizeof(path), "%s.key", store_dir);
	(void)unlink(path);
	src.path = path;
	if (store_master_key_create(path, &cause) != 0 || store_kek_load(&src, &key, &cause) != 0) {
		fprintf(diag, "fuzz_request: master key: %s\n", cause != NULL ? cause : "?");
		abort();
	}
	(void)unlink(path);
	return key;
}

/* Opens an empty store in store_dir and an engine over it; aborts if it cannot (the target would test nothing). */
static void
store_fresh(void)
{
	struct engine_env env;
	struct store_options o;
	char *cause = NULL;

	engine_free(engine);
	engine = NULL;
	if (store != NULL)
		store_close(store);
	store = NULL;
	clear_dir(false);
	store_options_init(&o);
	o.path = store_dir;
	o.map_size = FUZZ_MAP_SIZE;
	o.max_map_size = FUZZ_MAX_MAP_SIZE;
	o.sync = STORE_SYNC_RELAXED;
	o.group_commit = true;
	o.master = fuzz_master_key();
	if (store_open(&o, &store, &cause) != 0) {
		fprintf(diag, "fuzz_request: store %s: %s\n", store_dir, cause != NULL ? cause : "?");
		abort();
	}
	/*
	 * The open store keeps its files through their descriptors and mapping: remove the names now, so that
	 * nothing is left in /dev/shm when libFuzzer ends the process without running atexit handlers (after
	 * -max_total_time, or on a crash). store_open makes the folder again next time.
	 */
	clear_dir(true);
	memset(&env, 0, sizeof(env));
	env.cfg = cfg;
	env.policy = policy;
	env.store = store;
	env.schedule_commit = schedule_commit;
	if ((engine = engine_new(&env)) == NULL)
		abort();
}

/* Builds the configuration and access policy the engine works with, and the store folder. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("KMIPD_FUZZ_DIR");
	char *cause = NULL;

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
	if (access_policy_new(cfg, &policy, &cause) != 0) {
		fprintf(diag, "fuzz_request: %s\n", cause != NULL ? cause : "access policy");
		abort();
	}
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

/*
 * Who sends message i (an index of identities): mode 0 one client, 1 the administrator, 2 two clients in
 * turn, 3 client and admin.
 */
static unsigned
identity_for(unsigned mode, unsigned i)
{
	switch (mode & 3) {
	case 0:
		return 0;
	case 1:
		return 2;
	case 2:
		return i % 2;
	default:
		return i % 2 == 0 ? 0 : 2;
	}
}

/* True for the fields that name an object by its identifier. */
static bool
uid_field(const struct ttlv *t)
{
	return t->type == TTLV_TEXT_STRING && (t->tag == KMIP_TAG_UNIQUE_IDENTIFIER ||
	    t->tag == KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER || t->tag == KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER ||
	    t->tag == KMIP_TAG_LINKED_OBJECT_IDENTIFIER);
}

/* Notes, in order and once each, the identifiers a response shows (its tree is as deep as the decoder let it). */
static void
note_uids(const struct ttlv *t)
{
	const struct ttlv *c;
	size_t i;

	if (t->type == TTLV_STRUCTURE) {
		for (c = t->v.s.first; c != NULL; c = c->next)
			note_uids(c);
		return;
	}
	if (!uid_field(t) || t->length == 0 || t->length > STORE_UID_MAX || nuids == FUZZ_MAX_UIDS)
		return;
	for (i = 0; i < nuids; i++)
		if (strlen(uids[i]) == t->length && memcmp(uids[i], t->v.bytes.data, t->length) == 0)
			return;
	memcpy(uids[nuids], t->v.bytes.data, t->length);
	uids[nuids++][t->length] = '\0';
}

/* Replaces each identifier field of a request that says "n" with the n-th identifier noted (see the top). */
static void
map_uids(struct ttlv *t, struct ttlv_arena *arena)
{
	struct ttlv *c;
	unsigned long n = 0;
	size_t i, len;
	char *copy;

	if (t->type == TTLV_STRUCTURE) {
		for (c = t->v.s.first; c != NULL; c = c->next)
			map_uids(c, arena);
		return;
	}
	if (!uid_field(t) || t->length == 0 || t->length > 3 || t->v.bytes.data[0] == '0')
		return;
	for (i = 0; i < t->length; i++) {
		if (t->v.bytes.data[i] < '0' || t->v.bytes.data[i] > '9')
			return;
		n = n * 10 + (unsigned long)(t->v.bytes.data[i] - '0');
	}
	if (n > nuids)
		return;
	len = strlen(uids[n - 1]);
	if ((copy = ttlv_arena_alloc(arena, len + 1)) == NULL)
		return;
	memcpy(copy, uids[n - 1], len + 1);
	t->v.bytes.data = (const uint8_t *)copy;
	t->length = (uint32_t)len;
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
 * Status (and a Result Reason when it is Operation Failed). Aborts otherwise. Notes the identifiers it shows.
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
	note_uids(root);
	ttlv_arena_free(arena);
}

/*
 * Answers one decoded message through the engine and checks the response. A response that waits for the
 * group commit is released by running it, as the server's commit event does; a full map is not a finding
 * (the engine answers the held requests with a failure then, which is checked like any response).
 */
static void
answer(struct session *s, struct ttlv *root, struct ttlv_arena *arena)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (engine_request(s, root, arena, &buf, &len) == ENGINE_PENDING) {
		/* Only the group commit makes a response wait here: there is no key generation. */
		if (!commit_asked || engine_held(engine) != 1)
			abort();
		commit_asked = false;
		dirty = true;
		rc = engine_commit(engine);
		if (rc != 0 && rc != STORE_E_FULL) {
			fprintf(diag, "fuzz_request: group commit: %s (%s)\n", store_strerror(rc),
			    store_last_error(store));
			abort();
		}
		if (delivered == NULL)
			abort();
		buf = delivered;
		len = delivered_len;
		delivered = NULL;
	} else if (buf == NULL) {
		fprintf(diag, "fuzz_request: no response: %s\n", strerror(errno));
		abort();
	}
	check_response(buf, len);
	explicit_bzero(buf, len);
	free(buf);
}

/* Undecodable bytes: the Invalid Message response the server sends before closing must encode. */
static void
bad_message(struct ttlv_decoder *d)
{
	const char *what;
	uint8_t *buf;
	size_t len;

	(void)ttlv_decoder_error(d, NULL, &what);
	engine_bad_message(what, &buf, &len);
	if (buf == NULL)
		abort();
	check_response(buf, len);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttlv_limits lim = { 0 };
	struct ttlv_decoder *d;
	unsigned mode, messages = 0, i;
	size_t off = 0, used;

	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	/* Reopening costs a millisecond: inputs that wrote nothing leave the store as they found it. */
	if (dirty || engine == NULL)
		store_fresh();
	dirty = false;
	nuids = 0;
	for (i = 0; i < 3; i++)
		if ((sessions[i] = session_new(engine, i + 1, "127.0.0.1:5696", identities[i], take_response,
		    NULL)) == NULL)
			abort();
	lim.max_message_size = (uint32_t)cfg->server.max_message_size;
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
		map_uids(root, arena);
		answer(sessions[identity_for(mode, messages)], root, arena);
		messages++;
	}
	ttlv_decoder_free(d);
	/* Sessions (and their multi-part cipher contexts) end with the input, as connections would. */
	for (i = 0; i < 3; i++)
		session_free(sessions[i]);
	if (store_group_pending(store) || engine_held(engine) != 0)
		abort();	/* every message's writes were committed above */
	return 0;
}
