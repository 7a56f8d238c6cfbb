/*
 * Unit tests of the KMIP engine (core/engine) through its public API: engine_new, session_new,
 * engine_request, engine_commit, engine_reload, session_free and engine_bad_message. No socket, no TLS,
 * no connection and no mock: each test gets a fresh LMDB store in a temporary folder, the real access
 * policy (config_defaults() with "engine-admin" as administrator) and, where key pairs are made, the real
 * key-generation workers on an event base the test owns (they exec this binary: see main()).
 *
 * Requests are built with the TTLV encoder, decoded as the server would and handed to engine_request();
 * call() waits for the response however it comes (at once, after the group commit the engine asked for,
 * or after key generation) and returns the decoded tree, freed at teardown. Tests assert what a client
 * sees: Result Status, Result Reason, payloads, attributes read back with Get Attributes, the audit trail.
 * Where KMIP 1.x and 2.x differ (request shapes, Result Reasons) a test runs at 1.4 and at 2.1.
 *
 * Three identities: alice and bob (plain clients, each the owner of what it makes) and engine-admin.
 *
 * Usage: test_engine [FILTER]                 (runs the tests whose name matches FILTER)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/config.h"
#include "core/engine/access.h"
#include "core/engine/audit.h"
#include "core/engine/engine.h"
#include "core/keygen.h"
#include "core/log.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define V10	KMIP_VERSION(1, 0)
#define V14	KMIP_VERSION(1, 4)
#define V20	KMIP_VERSION(2, 0)
#define V21	KMIP_VERSION(2, 1)
#define V2(v)	(KMIP_VERSION_MAJOR(v) >= 2)

#define UIDLEN		(STORE_UID_MAX + 1)
#define ADMIN		"engine-admin"
#define MISSING_UID	"999999"	/* an identifier no test reaches */
#define WAIT_SECONDS	60		/* for a response the engine holds */

/* The two versions most tests run at: the last of each major. */
static const unsigned versions[] = { V14, V21 };
#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))

#define ENC_DECRYPT	(KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT)
#define WRAP_MASK	(KMIP_CRYPTOGRAPHIC_USAGE_MASK_WRAP_KEY | KMIP_CRYPTOGRAPHIC_USAGE_MASK_UNWRAP_KEY)
#define MAC_MASK	(KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_GENERATE | KMIP_CRYPTOGRAPHIC_USAGE_MASK_MAC_VERIFY)

struct fx;

/* One client identity: its engine session and the response its callback was handed. */
struct client {
	struct fx *f;
	struct session *s;
	const char *who;
	uint8_t *buf;			/* delivered through the callback and not yet taken */
	size_t len;
	unsigned delivered;		/* callbacks run, NULL deliveries included */
	unsigned lost;			/* NULL deliveries: no response could be written */
};

/* One test's engine and everything it works with. */
struct fx {
	char dir[64];			/* the store folder (and the audit file) */
	char audit_file[96];		/* "" while the audit trail is off */
	struct kmipd_config *cfg;
	struct access_policy *policy;
	struct audit *audit;
	struct store *store;
	struct event_base *base;	/* only with key generation */
	struct keygen *kg;
	struct engine *eng;
	struct client alice, bob, admin;
	bool commit_due;		/* the engine asked for a group commit */
	bool in_request;		/* inside engine_request() */
	unsigned inside_calls;		/* callbacks run from inside engine_request(): must stay 0 */
	struct ttlv_arena **arenas;	/* decoded responses, freed at teardown */
	size_t narenas;
	EVP_PKEY *pkeys[32];		/* keys the test made locally, freed at teardown */
	size_t npkeys;
	void *blobs[32];		/* their encodings (OPENSSL_malloc'd), freed at teardown */
	size_t nblobs;
};

/* How a test wants the engine set up. */
struct fx_opts {
	bool keygen;			/* start the key-generation workers */
	bool no_group_commit;		/* every write durable on its own: no savepoints */
};

/* What a reload changes in the access policy, the audit trail and the compat keys. */
struct policy_opts {
	const char *user;		/* one access.credentials entry for user and password, NULL: none */
	const char *password;
	bool require_credential;
	const char *shares[4];		/* access.shares entries, NULL-terminated */
	bool destroy_active;
	bool audit;			/* an audit file in the store folder */
};

/* The engine holds a response until the group commit: note that one is due, as the server's loop would. */
static void
schedule_commit(void *arg)
{
	struct fx *f = arg;

	f->commit_due = true;
}

/* A session's callback: keeps the response for call() (which counts deliveries, so a second one shows). */
static void
take_response(void *arg, uint8_t *buf, size_t len)
{
	struct client *c = arg;

	if (c->f->in_request)
		c->f->inside_calls++;
	c->delivered++;
	if (buf == NULL) {
		c->lost++;
		return;
	}
	if (c->buf != NULL) {
		explicit_bzero(c->buf, c->len);
		free(c->buf);
	}
	c->buf = buf;
	c->len = len;
}

/* A config from the defaults with ADMIN as administrator and the options of o; NULL on failure. */
static struct kmipd_config *
make_config(const struct policy_opts *o)
{
	struct kmipd_config *cfg = config_defaults();
	size_t n = 0;
	char *hash;

	if (cfg == NULL || (cfg->access.admins.items = calloc(1, sizeof(char *))) == NULL ||
	    (cfg->access.admins.items[0] = strdup(ADMIN)) == NULL)
		goto fail;
	cfg->access.admins.count = 1;
	cfg->access.require_credential = o->require_credential;
	cfg->compat.destroy_active = o->destroy_active;
	if (o->user != NULL) {
		/* Few iterations: the tests check the protocol, not the key derivation's cost. */
		if ((hash = access_hash_password(o->password, 1000)) == NULL ||
		    (cfg->access.credentials.items = calloc(1, sizeof(char *))) == NULL ||
		    asprintf(&cfg->access.credentials.items[0], "%s:%s", o->user, hash) < 0) {
			free(hash);
			goto fail;
		}
		free(hash);
		cfg->access.credentials.count = 1;
	}
	while (n < 4 && o->shares[n] != NULL)
		n++;
	if (n > 0) {
		if ((cfg->access.shares.items = calloc(n, sizeof(char *))) == NULL)
			goto fail;
		for (cfg->access.shares.count = 0; cfg->access.shares.count < n; cfg->access.shares.count++)
			if ((cfg->access.shares.items[cfg->access.shares.count] =
			    strdup(o->shares[cfg->access.shares.count])) == NULL)
				goto fail;
	}
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

/* Builds the policy (and audit trail) of o; 0, or -1 with nothing allocated. */
static int
make_policy(struct fx *f, const struct policy_opts *o, struct kmipd_config **cfg, struct access_policy **policy,
    struct audit **audit)
{
	char *cause = NULL;

	*policy = NULL;
	*audit = NULL;
	if ((*cfg = make_config(o)) == NULL)
		return -1;
	if (access_policy_new(*cfg, policy, &cause) != 0) {
		fprintf(stderr, "access_policy_new: %s\n", cause != NULL ? cause : "?");
		free(cause);
		config_free(*cfg);
		return -1;
	}
	if (o->audit) {
		snprintf(f->audit_file, sizeof(f->audit_file), "%s/audit.log", f->dir);
		if (audit_open(f->audit_file, false, audit, &cause) != 0) {
			fprintf(stderr, "audit_open: %s\n", cause != NULL ? cause : "?");
			free(cause);
			access_policy_free(*policy);
			config_free(*cfg);
			return -1;
		}
	}
	return 0;
}

/* Opens a client's session. */
static int
client_open(struct fx *f, struct client *c, uint64_t id, const char *who)
{
	c->f = f;
	c->who = who;
	c->s = session_new(f->eng, id, "192.0.2.1:5696", who, take_response, c);
	return c->s != NULL ? 0 : -1;
}

/* Frees what a fixture holds, in reverse order; fails when the engine broke its callback contract. */
static int
fx_free(struct fx *f)
{
	struct client *cs[3] = { &f->alice, &f->bob, &f->admin };
	int rc = 0;
	size_t i;

	for (i = 0; i < 3; i++) {
		session_free(cs[i]->s);
		if (cs[i]->buf != NULL) {
			fprintf(stderr, "%s: a response was delivered that nobody asked for\n", cs[i]->who);
			rc = -1;
			free(cs[i]->buf);
		}
	}
	if (f->eng != NULL && engine_held(f->eng) != 0) {
		fprintf(stderr, "responses still held at teardown\n");
		rc = -1;
	}
	if (f->inside_calls != 0) {
		fprintf(stderr, "a session callback ran inside engine_request\n");
		rc = -1;
	}
	engine_free(f->eng);
	keygen_free(f->kg);
	if (f->base != NULL)
		event_base_free(f->base);
	if (f->store != NULL)
		store_close(f->store);
	audit_close(f->audit);
	access_policy_free(f->policy);
	config_free(f->cfg);
	for (i = 0; i < f->narenas; i++)
		ttlv_arena_free(f->arenas[i]);
	free(f->arenas);
	for (i = 0; i < f->npkeys; i++)
		EVP_PKEY_free(f->pkeys[i]);
	for (i = 0; i < f->nblobs; i++)
		OPENSSL_free(f->blobs[i]);
	if (f->dir[0] != '\0')
		(void)util_rmtree(f->dir);
	free(f);
	return rc;
}

/* Makes the store, policy, workers (if asked), engine and the three sessions of one test. */
static int
fx_setup(void **state, const struct fx_opts *opts)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct fx *f = calloc(1, sizeof(*f));
	struct store_options so;
	struct engine_env env;
	char *cause = NULL;

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), base, "test_engine") != 0)
		goto fail;
	if (make_policy(f, &(struct policy_opts){ 0 }, &f->cfg, &f->policy, &f->audit) != 0)
		goto fail;
	store_options_init(&so);
	so.master = util_store_master_key();
	so.path = f->dir;
	so.map_size = 1024 * 1024;
	so.max_map_size = 64 * 1024 * 1024;
	so.sync = STORE_SYNC_RELAXED;
	/* As kmipd opens it: the store stages, and the engine commits per loop iteration or per item. */
	so.group_commit = true;
	f->cfg->store.group_commit = !opts->no_group_commit;
	if (store_open(&so, &f->store, &cause) != 0)
		goto fail;
	if (opts->keygen) {
		if ((f->base = event_base_new()) == NULL ||
		    keygen_start(f->base, 2, 0, 30, &f->kg, &cause) != 0)
			goto fail;
	}
	memset(&env, 0, sizeof(env));
	env.cfg = f->cfg;
	env.policy = f->policy;
	env.audit = f->audit;
	env.store = f->store;
	env.keygen = f->kg;
	env.schedule_commit = schedule_commit;
	env.schedule_arg = f;
	if ((f->eng = engine_new(&env)) == NULL || client_open(f, &f->alice, 1, "alice") != 0 ||
	    client_open(f, &f->bob, 2, "bob") != 0 || client_open(f, &f->admin, 3, ADMIN) != 0)
		goto fail;
	*state = f;
	return 0;
fail:
	if (cause != NULL)
		fprintf(stderr, "setup: %s\n", cause);
	free(cause);
	(void)fx_free(f);
	return -1;
}

/* The usual fixture: group commit, no key generation (CreateKeyPair answers a failure). */
static int
setup(void **state)
{
	return fx_setup(state, &(struct fx_opts){ 0 });
}

/* With the key-generation workers, for CreateKeyPair and Re-key Key Pair. */
static int
setup_keygen(void **state)
{
	return fx_setup(state, &(struct fx_opts){ .keygen = true });
}

/* Without group commit, so without the savepoints Undo needs. */
static int
setup_no_group_commit(void **state)
{
	return fx_setup(state, &(struct fx_opts){ .no_group_commit = true });
}

/* Frees the fixture; fails the test when the engine broke its callback contract. */
static int
teardown(void **state)
{
	return fx_free(*state);
}

/* Swaps in a new config, policy and audit trail through engine_reload(), as a SIGHUP does. */
static void
reload(struct fx *f, const struct policy_opts *o)
{
	struct kmipd_config *cfg;
	struct access_policy *policy;
	struct audit *audit;

	assert_int_equal(make_policy(f, o, &cfg, &policy, &audit), 0);
	cfg->store.group_commit = f->cfg->store.group_commit;
	engine_reload(f->eng, cfg, policy, audit);
	audit_close(f->audit);
	access_policy_free(f->policy);
	config_free(f->cfg);
	f->cfg = cfg;
	f->policy = policy;
	f->audit = audit;
}

/* Keeps an arena until teardown. */
static void
keep_arena(struct fx *f, struct ttlv_arena *a)
{
	struct ttlv_arena **more = realloc(f->arenas, (f->narenas + 1) * sizeof(*more));

	assert_non_null(more);
	f->arenas = more;
	f->arenas[f->narenas++] = a;
}

/*
 * Decodes a response (buf is wiped and freed) and checks that it is one well-formed Response Message:
 * a header with Protocol Version and a Batch Count equal to its Batch Items, each with a Result Status,
 * and a Result Reason when it failed. Returns the tree, kept until teardown.
 */
static struct ttlv *
take(struct fx *f, uint8_t *buf, size_t len)
{
	static const struct ttlv_limits lim = { .max_message_size = 64u * 1024 * 1024, .max_depth = TTLV_MAX_DEPTH };
	const struct ttlv *hdr, *count, *it, *st;
	struct ttlv_arena *a;
	struct ttlv *root;
	unsigned n = 0;

	assert_non_null(buf);
	assert_int_equal(ttlv_decode(buf, len, &lim, &root, &a, NULL, NULL), TTLV_DONE);
	explicit_bzero(buf, len);
	free(buf);
	keep_arena(f, a);
	assert_int_equal(root->tag, KMIP_TAG_RESPONSE_MESSAGE);
	hdr = ttlv_find(root, KMIP_TAG_RESPONSE_HEADER);
	assert_non_null(ttlv_find(hdr, KMIP_TAG_PROTOCOL_VERSION));
	assert_non_null(ttlv_find(hdr, KMIP_TAG_TIME_STAMP));
	count = ttlv_find(hdr, KMIP_TAG_BATCH_COUNT);
	assert_non_null(count);
	for (it = ttlv_find(root, KMIP_TAG_BATCH_ITEM); it != NULL; it = ttlv_find_next(it), n++) {
		st = ttlv_find(it, KMIP_TAG_RESULT_STATUS);
		assert_non_null(st);
		if (st->v.u32 == KMIP_RESULT_STATUS_OPERATION_FAILED)
			assert_non_null(ttlv_find(it, KMIP_TAG_RESULT_REASON));
	}
	assert_int_equal(count->v.i32, n);
	return root;
}

/*
 * Waits for the response to a request the engine answered ENGINE_PENDING: runs the group commit when the
 * engine asked for one, else the event loop (key generation), until the session's callback ran.
 */
static void
wait_response(struct fx *f, struct client *c, unsigned before)
{
	time_t end = time(NULL) + WAIT_SECONDS;

	while (c->delivered == before) {
		if (f->commit_due) {
			f->commit_due = false;
			assert_int_equal(engine_commit(f->eng), 0);
			continue;
		}
		if (f->base == NULL)
			fail_msg("a pending response with no commit due and no key generation");
		assert_int_not_equal(event_base_loop(f->base, EVLOOP_ONCE), -1);
		if (time(NULL) > end)
			fail_msg("no response after %d s", WAIT_SECONDS);
	}
	assert_int_equal(c->delivered, before + 1);
	assert_int_equal(c->lost, 0);
}

/*
 * Sends the request encoded in e (freed here) as client c and returns the decoded response, however the
 * engine answers it: at once, after the group commit or after key generation.
 */
static struct ttlv *
call(struct fx *f, struct client *c, struct ttlv_enc *e)
{
	enum engine_status st;
	struct ttlv_arena *a;
	struct ttlv *root;
	unsigned before = c->delivered;
	uint8_t *buf;
	size_t len;

	assert_int_equal(ttlv_enc_finish(e), 0);
	assert_int_equal(ttlv_decode(e->buf, e->len, NULL, &root, &a, NULL, NULL), TTLV_DONE);
	ttlv_enc_free(e);
	f->in_request = true;
	st = engine_request(c->s, root, a, &buf, &len);
	f->in_request = false;
	assert_int_equal(f->inside_calls, 0);
	if (st == ENGINE_DONE) {
		assert_non_null(buf);
		assert_int_equal(c->delivered, before);
		return take(f, buf, len);
	}
	assert_int_equal(st, ENGINE_PENDING);
	assert_null(buf);
	wait_response(f, c, before);
	buf = c->buf;
	c->buf = NULL;
	return take(f, buf, c->len);
}

/* Response accessors. */

/* Batch item i of a response (asserted present). */
static const struct ttlv *
bitem(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *it = ttlv_find(resp, KMIP_TAG_BATCH_ITEM);

	while (it != NULL && i-- > 0)
		it = ttlv_find_next(it);
	assert_non_null(it);
	return it;
}

/* The number of Batch Items in a response. */
static unsigned
nitems(const struct ttlv *resp)
{
	return ttlv_count(resp, KMIP_TAG_BATCH_ITEM);
}

/* The Protocol Version of a response's header. */
static unsigned
rversion(const struct ttlv *resp)
{
	const struct ttlv *pv = ttlv_find(ttlv_find(resp, KMIP_TAG_RESPONSE_HEADER), KMIP_TAG_PROTOCOL_VERSION);

	return KMIP_VERSION(ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR)->v.i32,
	    ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR)->v.i32);
}

/* The Result Status of item i. */
static uint32_t
rstatus(const struct ttlv *resp, unsigned i)
{
	return ttlv_find(bitem(resp, i), KMIP_TAG_RESULT_STATUS)->v.u32;
}

/* The Result Reason of item i, 0 when it has none. */
static uint32_t
rreason(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *r = ttlv_find(bitem(resp, i), KMIP_TAG_RESULT_REASON);

	return r != NULL ? r->v.u32 : 0;
}

/* The Result Message of item i, "" when it has none. */
static const char *
rmessage(const struct ttlv *resp, unsigned i)
{
	const struct ttlv *m = ttlv_find(bitem(resp, i), KMIP_TAG_RESULT_MESSAGE);

	return m != NULL ? (const char *)m->v.bytes.data : "";
}

/* The Response Payload of item i, or NULL. */
static const struct ttlv *
payload(const struct ttlv *resp, unsigned i)
{
	return ttlv_find(bitem(resp, i), KMIP_TAG_RESPONSE_PAYLOAD);
}

/*
 * Asserts item i succeeded (printing the failure's message when it did not). A macro passes the caller's
 * line, so that a failure points at the test, not at this helper.
 */
static void
expect_ok_at(const struct ttlv *resp, unsigned i, const char *file, int line)
{
	if (rstatus(resp, i) != KMIP_RESULT_STATUS_SUCCESS)
		print_error("KMIP %u.%u item %u failed: %s (%s)\n", KMIP_VERSION_MAJOR(rversion(resp)),
		    KMIP_VERSION_MINOR(rversion(resp)), i, ttlv_enum_name(KMIP_TAG_RESULT_REASON, rreason(resp, i)),
		    rmessage(resp, i));
	_assert_int_equal(rstatus(resp, i), KMIP_RESULT_STATUS_SUCCESS, file, line);
}
#define expect_ok(resp, i)	expect_ok_at((resp), (i), __FILE__, __LINE__)

/* Asserts item i failed with reason, with a Result Message and without a payload (at the caller's line). */
static void
expect_fail_at(const struct ttlv *resp, unsigned i, uint32_t reason, const char *file, int line)
{
	if (rstatus(resp, i) != KMIP_RESULT_STATUS_OPERATION_FAILED || rreason(resp, i) != reason)
		print_error("KMIP %u.%u item %u: expected %s, got status %u reason %s (%s)\n",
		    KMIP_VERSION_MAJOR(rversion(resp)), KMIP_VERSION_MINOR(rversion(resp)), i,
		    ttlv_enum_name(KMIP_TAG_RESULT_REASON, reason), rstatus(resp, i),
		    ttlv_enum_name(KMIP_TAG_RESULT_REASON, rreason(resp, i)), rmessage(resp, i));
	_assert_int_equal(rstatus(resp, i), KMIP_RESULT_STATUS_OPERATION_FAILED, file, line);
	_assert_int_equal(rreason(resp, i), reason, file, line);
	_assert_true(rmessage(resp, i)[0] != '\0', "a Result Message", file, line);
	_assert_true(payload(resp, i) == NULL, "no Response Payload", file, line);
}
#define expect_fail(resp, i, reason)	expect_fail_at((resp), (i), (reason), __FILE__, __LINE__)

/* The Text String tag of item i's payload (asserted present). */
static const char *
ptext(const struct ttlv *resp, unsigned i, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(payload(resp, i), tag);

	assert_non_null(t);
	assert_int_equal(t->type, TTLV_TEXT_STRING);
	return (const char *)t->v.bytes.data;
}

/* The Byte String tag of item i's payload (asserted present). */
static const struct ttlv *
pbytes(const struct ttlv *resp, unsigned i, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(payload(resp, i), tag);

	assert_non_null(t);
	assert_int_equal(t->type, TTLV_BYTE_STRING);
	return t;
}

/* Copies a text field of item i's payload into uid (UIDLEN bytes). */
static void
copy_uid(const struct ttlv *resp, unsigned i, uint32_t tag, char *uid)
{
	const char *s = ptext(resp, i, tag);

	assert_true(strlen(s) < UIDLEN);
	strcpy(uid, s);
}

/* The Result Reasons that differ between 1.x and 2.x. */
static uint32_t
not_found(unsigned v)
{
	return V2(v) ? KMIP_RESULT_REASON_OBJECT_NOT_FOUND : KMIP_RESULT_REASON_ITEM_NOT_FOUND;
}

/* An operation in the wrong lifecycle state: Permission Denied in 1.x. */
static uint32_t
wrong_state(unsigned v)
{
	return V2(v) ? KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE : KMIP_RESULT_REASON_PERMISSION_DENIED;
}

/* A change of an attribute clients may not change: Permission Denied in 1.x. */
static uint32_t
read_only(unsigned v)
{
	return V2(v) ? KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY : KMIP_RESULT_REASON_PERMISSION_DENIED;
}

/* A use the Cryptographic Usage Mask does not allow: Permission Denied in 1.x. */
static uint32_t
bad_mask(unsigned v)
{
	return V2(v) ? KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK : KMIP_RESULT_REASON_PERMISSION_DENIED;
}

/* Request builders. */

/* Request Header options. */
struct hdr {
	int32_t max_response_size;	/* 0: absent */
	bool async;
	uint32_t continuation;		/* Batch Error Continuation Option, 0: absent */
	const char *user;		/* a username and password Credential, NULL: none */
	const char *password;
	int batch_count;		/* written instead of the number of items when not 0; -1: absent */
};

/* Starts a Request Message at version v announcing nitems batch items, with the options of h. */
static void
req_begin_hdr(struct ttlv_enc *e, unsigned v, int nitems, const struct hdr *h)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, v);
	if (h->max_response_size != 0)
		ttlv_enc_int(e, KMIP_TAG_MAXIMUM_RESPONSE_SIZE, h->max_response_size);
	if (h->async)
		ttlv_enc_bool(e, KMIP_TAG_ASYNCHRONOUS_INDICATOR, true);
	if (h->user != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_AUTHENTICATION);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL);
		ttlv_enc_enum(e, KMIP_TAG_CREDENTIAL_TYPE, KMIP_CREDENTIAL_TYPE_USERNAME_AND_PASSWORD);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL_VALUE);
		ttlv_enc_cstr(e, KMIP_TAG_USERNAME, h->user);
		ttlv_enc_cstr(e, KMIP_TAG_PASSWORD, h->password);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	if (h->continuation != 0)
		ttlv_enc_enum(e, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION, h->continuation);
	if (h->batch_count != -1)
		ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, h->batch_count != 0 ? h->batch_count : nitems);
	ttlv_enc_end(e);
}

/* Starts a Request Message with a plain header. */
static void
req_begin(struct ttlv_enc *e, unsigned v, int nitems)
{
	req_begin_hdr(e, v, nitems, &(struct hdr){ 0 });
}

/* Opens a Batch Item and its Request Payload. */
static void
item_begin(struct ttlv_enc *e, uint32_t op)
{
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, op);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

/* The same with a Unique Batch Item ID. */
static void
item_begin_id(struct ttlv_enc *e, uint32_t op, const char *id)
{
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, op);
	ttlv_enc_bytes(e, KMIP_TAG_UNIQUE_BATCH_ITEM_ID, id, strlen(id));
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

/* Closes the Request Payload and the Batch Item. */
static void
item_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

/* Closes the Request Message. */
static void
req_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
}

/* Writes an item of op naming uid (NULL: none, for the ID Placeholder). */
static void
enc_uid_item(struct ttlv_enc *e, uint32_t op, const char *uid)
{
	item_begin(e, op);
	if (uid != NULL)
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	item_end(e);
}

/* Sends one item of op naming uid (NULL: none) at version v. */
static struct ttlv *
uid_op(struct fx *f, struct client *c, unsigned v, uint32_t op, const char *uid)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	enc_uid_item(&e, op, uid);
	req_end(&e);
	return call(f, c, &e);
}

/*
 * Attributes in a request: in 1.x an Attribute structure (Attribute Name, Attribute Value) per attribute
 * inside a Template-Attribute; in 2.x the attribute items themselves inside an Attributes structure.
 */

/* Opens the attribute set of Create, Register, ... (the 1.x Template-Attribute or 2.x Attributes). */
static void
attrs_begin(struct ttlv_enc *e, unsigned v)
{
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_ATTRIBUTES : KMIP_TAG_TEMPLATE_ATTRIBUTE);
}

/* Opens one attribute: in 1.x its Attribute and name; the caller writes the value under vtag(). */
static void
attr_open(struct ttlv_enc *e, unsigned v, uint32_t tag)
{
	if (V2(v))
		return;
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(tag));
}

/* The tag an attribute's value goes under: Attribute Value in 1.x, the attribute's own in 2.x. */
static uint32_t
vtag(unsigned v, uint32_t tag)
{
	return V2(v) ? tag : KMIP_TAG_ATTRIBUTE_VALUE;
}

/* Closes what attr_open() opened. */
static void
attr_close(struct ttlv_enc *e, unsigned v)
{
	if (!V2(v))
		ttlv_enc_end(e);
}

/* One Enumeration attribute. */
static void
a_enum(struct ttlv_enc *e, unsigned v, uint32_t tag, uint32_t value)
{
	attr_open(e, v, tag);
	ttlv_enc_enum(e, vtag(v, tag), value);
	attr_close(e, v);
}

/* One Integer attribute. */
static void
a_int(struct ttlv_enc *e, unsigned v, uint32_t tag, int32_t value)
{
	attr_open(e, v, tag);
	ttlv_enc_int(e, vtag(v, tag), value);
	attr_close(e, v);
}

/* One Text String attribute. */
static void
a_text(struct ttlv_enc *e, unsigned v, uint32_t tag, const char *value)
{
	attr_open(e, v, tag);
	ttlv_enc_cstr(e, vtag(v, tag), value);
	attr_close(e, v);
}

/* One Boolean attribute. */
static void
a_bool(struct ttlv_enc *e, unsigned v, uint32_t tag, bool value)
{
	attr_open(e, v, tag);
	ttlv_enc_bool(e, vtag(v, tag), value);
	attr_close(e, v);
}

/* One Date-Time attribute. */
static void
a_date(struct ttlv_enc *e, unsigned v, uint32_t tag, int64_t when)
{
	attr_open(e, v, tag);
	ttlv_enc_datetime(e, vtag(v, tag), when);
	attr_close(e, v);
}

/* A Name (Uninterpreted Text String). */
static void
a_name(struct ttlv_enc *e, unsigned v, const char *name)
{
	attr_open(e, v, KMIP_TAG_NAME);
	ttlv_enc_begin(e, vtag(v, KMIP_TAG_NAME));
	ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, name);
	ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(e);
	attr_close(e, v);
}

/* A Link of link_type to target. */
static void
a_link(struct ttlv_enc *e, unsigned v, uint32_t link_type, const char *target)
{
	attr_open(e, v, KMIP_TAG_LINK);
	ttlv_enc_begin(e, vtag(v, KMIP_TAG_LINK));
	ttlv_enc_enum(e, KMIP_TAG_LINK_TYPE, link_type);
	ttlv_enc_cstr(e, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, target);
	ttlv_enc_end(e);
	attr_close(e, v);
}

/* A custom text attribute: "x-name" in 1.x, vendor "x" and name in 2.x. */
static void
a_custom(struct ttlv_enc *e, unsigned v, const char *name, const char *value)
{
	char n1[128];

	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	if (V2(v)) {
		ttlv_enc_cstr(e, KMIP_TAG_VENDOR_IDENTIFICATION, "x");
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	} else {
		snprintf(n1, sizeof(n1), "x-%s", name);
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, n1);
	}
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

/* Reading attributes back. */

/*
 * The nth instance of attribute tag of uid, as client c reads it with Get Attributes at version v: the 1.x
 * Attribute Value or the 2.x item (either way the value, or a structure with the attribute's fields).
 * NULL when the object has fewer instances; the Get Attributes itself must succeed.
 */
static const struct ttlv *
get_attr(struct fx *f, struct client *c, unsigned v, const char *uid, uint32_t tag, unsigned nth)
{
	const struct ttlv *p, *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (V2(v))
		ttlv_enc_enum(&e, KMIP_TAG_ATTRIBUTE_REFERENCE, tag);
	else
		ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(tag));
	item_end(&e);
	req_end(&e);
	resp = call(f, c, &e);
	expect_ok(resp, 0);
	p = payload(resp, 0);
	assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
	if (V2(v)) {
		for (a = ttlv_find(ttlv_find(p, KMIP_TAG_ATTRIBUTES), tag); a != NULL; a = ttlv_find_next(a))
			if (nth-- == 0)
				return a;
		return NULL;
	}
	for (a = ttlv_find(p, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a)) {
		const struct ttlv *n = ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME);

		assert_non_null(n);
		/* Get Attributes answers only what was asked. */
		assert_string_equal((const char *)n->v.bytes.data, ttlv_tag_name(tag));
		if (nth-- == 0)
			return ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE);
	}
	return NULL;
}

/* The State of uid as c reads it. */
static uint32_t
state_of(struct fx *f, struct client *c, unsigned v, const char *uid)
{
	const struct ttlv *s = get_attr(f, c, v, uid, KMIP_TAG_STATE, 0);

	assert_non_null(s);
	assert_int_equal(s->type, TTLV_ENUMERATION);
	return s->v.u32;
}

/* The Name Value of the nth Name of uid, or "" when it has fewer Names. */
static const char *
name_of(struct fx *f, struct client *c, unsigned v, const char *uid, unsigned nth)
{
	const struct ttlv *n = get_attr(f, c, v, uid, KMIP_TAG_NAME, nth);

	return n != NULL ? (const char *)ttlv_find(n, KMIP_TAG_NAME_VALUE)->v.bytes.data : "";
}

/* True when uid has a Link of link_type to target. */
static bool
has_link(struct fx *f, struct client *c, unsigned v, const char *uid, uint32_t link_type, const char *target)
{
	const struct ttlv *l;
	unsigned i;

	for (i = 0; (l = get_attr(f, c, v, uid, KMIP_TAG_LINK, i)) != NULL; i++)
		if (ttlv_find(l, KMIP_TAG_LINK_TYPE)->v.u32 == link_type &&
		    strcmp((const char *)ttlv_find(l, KMIP_TAG_LINKED_OBJECT_IDENTIFIER)->v.bytes.data, target) == 0)
			return true;
	return false;
}

/* Making objects. */

/* Writes a Create item for a symmetric key (bits 0: no length; mask 0: none; name NULL: none). */
static void
enc_create(struct ttlv_enc *e, unsigned v, uint32_t alg, int bits, uint32_t mask, const char *name)
{
	item_begin(e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(e, v);
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, alg);
	if (bits != 0)
		a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, bits);
	if (mask != 0)
		a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)mask);
	if (name != NULL)
		a_name(e, v, name);
	ttlv_enc_end(e);
	item_end(e);
}

/* Creates a symmetric key as c and copies its identifier into uid. */
static void
create_key(struct fx *f, struct client *c, unsigned v, uint32_t alg, int bits, uint32_t mask, const char *name,
    char *uid)
{
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, v, 1);
	enc_create(&e, v, alg, bits, mask, name);
	req_end(&e);
	resp = call(f, c, &e);
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/* Sends op on uid and asserts it succeeded and named uid. */
static void
uid_op_ok(struct fx *f, struct client *c, unsigned v, uint32_t op, const char *uid)
{
	struct ttlv *resp = uid_op(f, c, v, op, uid);

	expect_ok(resp, 0);
	assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
}

/* An Active AES-256 key for encryption, owned by c. */
static void
active_aes(struct fx *f, struct client *c, unsigned v, char *uid)
{
	create_key(f, c, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, ENC_DECRYPT, NULL, uid);
	uid_op_ok(f, c, v, KMIP_OPERATION_ACTIVATE, uid);
}

/* The request envelope. */

/* Sends a Query for the operations at version v as alice. */
static struct ttlv *
query_ops(struct fx *f, unsigned v)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OPERATIONS);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/*
 * Versions: each one kmipd speaks is answered in itself; a later minor version of a known major in the
 * newest minor kmipd has of it; an unknown major is refused with Invalid Message.
 */
static void
test_envelope_versions(void **state)
{
	static const unsigned spoken[] = { V10, KMIP_VERSION(1, 1), KMIP_VERSION(1, 2), KMIP_VERSION(1, 3), V14,
	    V20, V21 };
	struct fx *f = *state;
	struct ttlv *resp;
	size_t i;

	for (i = 0; i < sizeof(spoken) / sizeof(spoken[0]); i++) {
		resp = query_ops(f, spoken[i]);
		assert_int_equal(rversion(resp), spoken[i]);
		expect_ok(resp, 0);
	}
	resp = query_ops(f, KMIP_VERSION(1, 9));
	assert_int_equal(rversion(resp), V14);
	expect_ok(resp, 0);
	resp = query_ops(f, KMIP_VERSION(2, 7));
	assert_int_equal(rversion(resp), V21);
	expect_ok(resp, 0);
	resp = query_ops(f, KMIP_VERSION(3, 0));
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	resp = query_ops(f, KMIP_VERSION(0, 9));
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
}

/* Sends a request whose header is h, holding `items` Query items. */
static struct ttlv *
query_with(struct fx *f, const struct hdr *h, int items)
{
	struct ttlv_enc e;
	int i;

	req_begin_hdr(&e, V14, items, h);
	for (i = 0; i < items; i++) {
		item_begin(&e, KMIP_OPERATION_QUERY);
		ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
		item_end(&e);
	}
	req_end(&e);
	return call(f, &f->alice, &e);
}

/*
 * A Batch Count that is missing, not positive or different from the items sent, more items than
 * server.max_batch_items, an undefined Batch Error Continuation Option: the whole request is refused with
 * one Invalid Message item, and no item runs.
 */
static void
test_envelope_batch_count(void **state)
{
	struct fx *f = *state;
	struct ttlv *resp;

	resp = query_with(f, &(struct hdr){ .batch_count = 2 }, 1);
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	assert_null(ttlv_find(bitem(resp, 0), KMIP_TAG_OPERATION));
	resp = query_with(f, &(struct hdr){ .batch_count = 1 }, 2);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	resp = query_with(f, &(struct hdr){ .batch_count = -1 }, 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	/* Batch Count 0 with no item at all. */
	resp = query_with(f, &(struct hdr){ .batch_count = 0 }, 0);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	resp = query_with(f, &(struct hdr){ .continuation = 7 }, 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	/* The default limit is 64 items. */
	resp = query_with(f, &(struct hdr){ 0 }, (int)f->cfg->server.max_batch_items);
	assert_int_equal(nitems(resp), f->cfg->server.max_batch_items);
	expect_ok(resp, 0);
	resp = query_with(f, &(struct hdr){ 0 }, (int)f->cfg->server.max_batch_items + 1);
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
}

/* Messages that are not Request Messages, or whose header is missing or mistyped. */
static void
test_envelope_malformed(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;

	/* A Response Message sent as a request. */
	ttlv_enc_init(&e);
	ttlv_enc_begin(&e, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_enc_end(&e);
	resp = call(f, &f->alice, &e);
	assert_int_equal(rversion(resp), V10);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	/* No Request Header. */
	ttlv_enc_init(&e);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_MESSAGE);
	item_begin(&e, KMIP_OPERATION_QUERY);
	item_end(&e);
	ttlv_enc_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	/* A Protocol Version whose major is a Text String. */
	ttlv_enc_init(&e);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_HEADER);
	ttlv_enc_begin(&e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_enc_cstr(&e, KMIP_TAG_PROTOCOL_VERSION_MAJOR, "1");
	ttlv_enc_int(&e, KMIP_TAG_PROTOCOL_VERSION_MINOR, 4);
	ttlv_enc_end(&e);
	ttlv_enc_int(&e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(&e);
	enc_uid_item(&e, KMIP_OPERATION_QUERY, NULL);
	ttlv_enc_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	/* Something else than a Batch Item next to the header. */
	req_begin(&e, V14, 1);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
}

/*
 * Batch items the dispatcher refuses on their own: an unknown operation, a 2.x operation in a 1.x request,
 * no Request Payload, no Operation; and an Asynchronous Indicator, which kmipd does not support. A 1.x
 * operation of a later minor version is accepted from a 1.0 client.
 */
static void
test_envelope_items(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;

	resp = uid_op(f, &f->alice, V14, 0xfe, NULL);
	expect_fail(resp, 0, KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED);
	assert_int_equal(ttlv_find(bitem(resp, 0), KMIP_TAG_OPERATION)->v.u32, 0xfe);
	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_SET_ATTRIBUTE, "1");
	expect_fail(resp, 0, KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED);
	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_LOG, NULL);
	expect_fail(resp, 0, KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED);
	resp = uid_op(f, &f->alice, V10, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	assert_int_equal(rversion(resp), V10);
	expect_ok(resp, 0);

	req_begin(&e, V14, 1);
	ttlv_enc_begin(&e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(&e, KMIP_TAG_OPERATION, KMIP_OPERATION_GET);
	ttlv_enc_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);

	req_begin(&e, V14, 1);
	ttlv_enc_begin(&e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_PAYLOAD);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);

	req_begin_hdr(&e, V14, 1, &(struct hdr){ .async = true });
	enc_uid_item(&e, KMIP_OPERATION_QUERY, NULL);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_fail(resp, 0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
}

/* Bytes that did not decode: one failed item, Invalid Message at 1.0, naming why. */
static void
test_bad_message(void **state)
{
	struct fx *f = *state;
	struct ttlv *resp;
	uint8_t *buf;
	size_t len;

	engine_bad_message("an item runs past the end of its parent", &buf, &len);
	resp = take(f, buf, len);
	assert_int_equal(rversion(resp), V10);
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
	assert_null(ttlv_find(bitem(resp, 0), KMIP_TAG_OPERATION));
	assert_non_null(strstr(rmessage(resp, 0), "an item runs past the end of its parent"));
}

/* Server operations. */

/* True when a Query response lists op. */
static bool
lists_op(const struct ttlv *resp, uint32_t op)
{
	const struct ttlv *t;

	for (t = ttlv_find(payload(resp, 0), KMIP_TAG_OPERATION); t != NULL; t = ttlv_find_next(t))
		if (t->v.u32 == op)
			return true;
	return false;
}

/*
 * Query lists the operations the client's version defines (every one of them runs), the object types
 * and the vendor; a Query Function that is not an Enumeration is an Invalid Field.
 */
static void
test_query(void **state)
{
	static const uint32_t common[] = { KMIP_OPERATION_CREATE, KMIP_OPERATION_CREATE_KEY_PAIR,
	    KMIP_OPERATION_REGISTER, KMIP_OPERATION_RE_KEY, KMIP_OPERATION_LOCATE, KMIP_OPERATION_GET,
	    KMIP_OPERATION_GET_ATTRIBUTES, KMIP_OPERATION_GET_ATTRIBUTE_LIST, KMIP_OPERATION_ADD_ATTRIBUTE,
	    KMIP_OPERATION_MODIFY_ATTRIBUTE, KMIP_OPERATION_DELETE_ATTRIBUTE, KMIP_OPERATION_ACTIVATE,
	    KMIP_OPERATION_REVOKE, KMIP_OPERATION_DESTROY, KMIP_OPERATION_QUERY, KMIP_OPERATION_CHECK,
	    KMIP_OPERATION_OBTAIN_LEASE, KMIP_OPERATION_DERIVE_KEY };
	static const uint32_t since_12[] = { KMIP_OPERATION_ENCRYPT, KMIP_OPERATION_DECRYPT, KMIP_OPERATION_SIGN,
	    KMIP_OPERATION_SIGNATURE_VERIFY, KMIP_OPERATION_MAC, KMIP_OPERATION_MAC_VERIFY,
	    KMIP_OPERATION_RNG_RETRIEVE, KMIP_OPERATION_RNG_SEED, KMIP_OPERATION_HASH,
	    KMIP_OPERATION_DISCOVER_VERSIONS, KMIP_OPERATION_RE_KEY_KEY_PAIR, KMIP_OPERATION_CREATE_SPLIT_KEY,
	    KMIP_OPERATION_JOIN_SPLIT_KEY };
	static const uint32_t since_20[] = { KMIP_OPERATION_SET_ATTRIBUTE, KMIP_OPERATION_INTEROP,
	    KMIP_OPERATION_LOG };
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *r10, *r14, *r21, *resp;
	size_t i;

	r10 = query_ops(f, V10);
	r14 = query_ops(f, V14);
	r21 = query_ops(f, V21);
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		assert_true(lists_op(r10, common[i]) && lists_op(r14, common[i]) && lists_op(r21, common[i]));
	for (i = 0; i < sizeof(since_12) / sizeof(since_12[0]); i++)
		assert_true(!lists_op(r10, since_12[i]) && lists_op(r14, since_12[i]) && lists_op(r21, since_12[i]));
	for (i = 0; i < sizeof(since_20) / sizeof(since_20[0]); i++)
		assert_true(!lists_op(r14, since_20[i]) && lists_op(r21, since_20[i]));
	assert_int_equal(ttlv_count(payload(r21, 0), KMIP_TAG_OPERATION), 34);
	assert_null(ttlv_find(payload(r21, 0), KMIP_TAG_OBJECT_TYPE));

	req_begin(&e, V21, 1);
	item_begin(&e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_SERVER_INFORMATION);
	item_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_ok(resp, 0);
	/* The keys, Secret Data, Opaque Object, Certificate, PGP Key and Split Key; no Template at 2.x. */
	assert_int_equal(ttlv_count(payload(resp, 0), KMIP_TAG_OBJECT_TYPE), 8);
	assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_OPERATION));
	assert_string_equal(ptext(resp, 0, KMIP_TAG_VENDOR_IDENTIFICATION), "kmipd");

	req_begin(&e, V14, 1);
	item_begin(&e, KMIP_OPERATION_QUERY);
	ttlv_enc_int(&e, KMIP_TAG_QUERY_FUNCTION, 1);
	item_end(&e);
	req_end(&e);
	expect_fail(call(f, &f->alice, &e), 0, KMIP_RESULT_REASON_INVALID_FIELD);
}

/* Reads the nth Protocol Version of a Discover Versions payload. */
static unsigned
nth_version(const struct ttlv *p, unsigned nth)
{
	const struct ttlv *pv = ttlv_find(p, KMIP_TAG_PROTOCOL_VERSION);

	while (pv != NULL && nth-- > 0)
		pv = ttlv_find_next(pv);
	assert_non_null(pv);
	return KMIP_VERSION(ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR)->v.i32,
	    ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR)->v.i32);
}

/*
 * Discover Versions: every version newest first; with a list, the client's versions kmipd speaks in the
 * client's order; a malformed entry is an Invalid Message.
 */
static void
test_discover_versions(void **state)
{
	static const unsigned all[] = { V21, V20, V14, KMIP_VERSION(1, 3), KMIP_VERSION(1, 2), KMIP_VERSION(1, 1),
	    V10 };
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;
	size_t i;

	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	expect_ok(resp, 0);
	assert_int_equal(ttlv_count(payload(resp, 0), KMIP_TAG_PROTOCOL_VERSION), 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(nth_version(payload(resp, 0), (unsigned)i), all[i]);

	req_begin(&e, V21, 1);
	item_begin(&e, KMIP_OPERATION_DISCOVER_VERSIONS);
	kmip_version_encode(&e, KMIP_VERSION(1, 2));
	kmip_version_encode(&e, KMIP_VERSION(3, 0));
	kmip_version_encode(&e, KMIP_VERSION(2, 1));
	kmip_version_encode(&e, KMIP_VERSION(1, 7));
	item_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_ok(resp, 0);
	assert_int_equal(ttlv_count(payload(resp, 0), KMIP_TAG_PROTOCOL_VERSION), 2);
	assert_int_equal(nth_version(payload(resp, 0), 0), KMIP_VERSION(1, 2));
	assert_int_equal(nth_version(payload(resp, 0), 1), V21);

	req_begin(&e, V14, 1);
	item_begin(&e, KMIP_OPERATION_DISCOVER_VERSIONS);
	ttlv_enc_begin(&e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_enc_int(&e, KMIP_TAG_PROTOCOL_VERSION_MAJOR, 1);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	expect_fail(call(f, &f->alice, &e), 0, KMIP_RESULT_REASON_INVALID_MESSAGE);
}

/* Keys made outside the server, for Register. */

/* Keeps a local key until teardown. */
static EVP_PKEY *
keep_pkey(struct fx *f, EVP_PKEY *k)
{
	assert_non_null(k);
	assert_true(f->npkeys < sizeof(f->pkeys) / sizeof(f->pkeys[0]));
	f->pkeys[f->npkeys++] = k;
	return k;
}

/* Keeps an OpenSSL allocation until teardown. */
static uint8_t *
keep_blob(struct fx *f, uint8_t *p)
{
	assert_non_null(p);
	assert_true(f->nblobs < sizeof(f->blobs) / sizeof(f->blobs[0]));
	f->blobs[f->nblobs++] = p;
	return p;
}

/* A local P-256 key: its PKCS#8 and SubjectPublicKeyInfo DER (kept until teardown). */
static EVP_PKEY *
local_ec(struct fx *f, uint8_t **pkcs8, size_t *pkcs8_len, uint8_t **spki, size_t *spki_len)
{
	EVP_PKEY *k = keep_pkey(f, EVP_EC_gen("P-256"));
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	int n;

	assert_non_null(p8);
	*pkcs8 = NULL;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, pkcs8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	assert_true(n > 0);
	keep_blob(f, *pkcs8);
	*pkcs8_len = (size_t)n;
	*spki = NULL;
	n = i2d_PUBKEY(k, spki);
	assert_true(n > 0);
	keep_blob(f, *spki);
	*spki_len = (size_t)n;
	return k;
}

/* A self-signed X.509 certificate (CN engine-test) for key k, DER kept until teardown. */
static uint8_t *
local_cert(struct fx *f, EVP_PKEY *k, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t *der = NULL;
	int n;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"engine-test",
	    -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	X509_free(x);
	assert_true(n > 0);
	*len = (size_t)n;
	return keep_blob(f, der);
}

/* What a Register of a key (or Secret Data) carries. */
struct reg {
	uint32_t type;			/* Object Type */
	uint32_t format;		/* Key Format Type */
	uint32_t alg;			/* Cryptographic Algorithm in the Key Block, 0: none */
	int bits;
	const void *material;		/* Key Material bytes */
	size_t len;
	uint32_t mask;			/* Cryptographic Usage Mask, 0: none */
	uint32_t secret_type;		/* Secret Data Type, for Secret Data */
	const char *link_public;	/* a Public Key Link to this object, NULL: none */
	const char *name;		/* NULL: none */
};

/* Writes a Register item for r. */
static void
enc_register(struct ttlv_enc *e, unsigned v, const struct reg *r)
{
	item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, r->type);
	attrs_begin(e, v);
	if (r->mask != 0)
		a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)r->mask);
	if (r->link_public != NULL)
		a_link(e, v, KMIP_LINK_TYPE_PUBLIC_KEY_LINK, r->link_public);
	if (r->name != NULL)
		a_name(e, v, r->name);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, kmip_object_tag(r->type));
	if (r->secret_type != 0)
		ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, r->secret_type);
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, r->format);
	ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, r->material, r->len);
	ttlv_enc_end(e);
	if (r->alg != 0)
		ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, r->alg);
	if (r->bits != 0)
		ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, r->bits);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
	item_end(e);
}

/* Sends a Register of r as c; returns the response. */
static struct ttlv *
register_req(struct fx *f, struct client *c, unsigned v, const struct reg *r)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	enc_register(&e, v, r);
	req_end(&e);
	return call(f, c, &e);
}

/* Registers r as c and copies the new identifier into uid. */
static void
register_ok(struct fx *f, struct client *c, unsigned v, const struct reg *r, char *uid)
{
	struct ttlv *resp = register_req(f, c, v, r);

	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/*
 * Registers a local P-256 pair as c: the public key (Verify) and the private key (Sign) linked to it, both
 * Active. Returns the local key (for checks with OpenSSL).
 */
static EVP_PKEY *
ec_pair(struct fx *f, struct client *c, unsigned v, char *priv, char *pub)
{
	uint8_t *pkcs8, *spki;
	size_t pkcs8_len, spki_len;
	EVP_PKEY *k = local_ec(f, &pkcs8, &pkcs8_len, &spki, &spki_len);

	register_ok(f, c, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_PUBLIC_KEY, .format = KMIP_KEY_FORMAT_TYPE_X_509,
	    .material = spki, .len = spki_len, .mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY }, pub);
	register_ok(f, c, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_PRIVATE_KEY,
	    .format = KMIP_KEY_FORMAT_TYPE_PKCS_8, .material = pkcs8, .len = pkcs8_len,
	    .mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, .link_public = pub }, priv);
	uid_op_ok(f, c, v, KMIP_OPERATION_ACTIVATE, pub);
	uid_op_ok(f, c, v, KMIP_OPERATION_ACTIVATE, priv);
	return k;
}

/* Get. */

/* Sends a Get of uid in format (0: the default). */
static struct ttlv *
get_req(struct fx *f, struct client *c, unsigned v, const char *uid, uint32_t format)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, format);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* The Key Block of item i of a successful Get of an object under object_tag. */
static const struct ttlv *
key_block_at(const struct ttlv *resp, unsigned i, uint32_t object_tag_)
{
	const struct ttlv *b = ttlv_find(ttlv_find(payload(resp, i), object_tag_), KMIP_TAG_KEY_BLOCK);

	assert_non_null(b);
	return b;
}

/* The Key Block of item 0 of a successful Get of an object under object_tag. */
static const struct ttlv *
key_block(const struct ttlv *resp, uint32_t object_tag_)
{
	const struct ttlv *b = key_block_at(resp, 0, object_tag_);

	assert_non_null(b);
	return b;
}

/* The Key Material of a Key Block (Byte String or Structure). */
static const struct ttlv *
key_material(const struct ttlv *block)
{
	const struct ttlv *m = ttlv_find(ttlv_find(block, KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);

	assert_non_null(m);
	return m;
}

/* The raw bytes of a symmetric key, read with Get by c; *len receives their length. */
static const uint8_t *
raw_key(struct fx *f, struct client *c, unsigned v, const char *uid, size_t *len)
{
	struct ttlv *resp = get_req(f, c, v, uid, 0);
	const struct ttlv *block, *m;

	expect_ok(resp, 0);
	block = key_block(resp, KMIP_TAG_SYMMETRIC_KEY);
	assert_int_equal(ttlv_find(block, KMIP_TAG_KEY_FORMAT_TYPE)->v.u32, KMIP_KEY_FORMAT_TYPE_RAW);
	m = key_material(block);
	assert_int_equal(m->type, TTLV_BYTE_STRING);
	*len = m->length;
	return m->v.bytes.data;
}

/* Create and Register. */

/*
 * Create makes AES, Triple DES and HMAC keys of the asked (or default) length, Pre-Active, with the
 * attributes the client gave and those the server sets; an Activation Date not in the future makes the key
 * Active; server-set attributes in the request are ignored.
 */
static void
test_create(void **state)
{
	static const int aes[] = { 128, 192, 256 };
	struct fx *f = *state;
	const struct ttlv *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	char uid[UIDLEN];
	size_t i, len;
	unsigned k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		for (i = 0; i < 3; i++) {
			req_begin(&e, v, 1);
			enc_create(&e, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, aes[i], 0, "engine-aes");
			req_end(&e);
			resp = call(f, &f->alice, &e);
			expect_ok(resp, 0);
			assert_int_equal(ttlv_find(payload(resp, 0), KMIP_TAG_OBJECT_TYPE)->v.u32,
			    KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
			copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
			assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32,
			    aes[i]);
			assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 0)->v.u32,
			    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
			/* No mask asked: an AES key encrypts and decrypts. */
			assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 0)->v.i32,
			    ENC_DECRYPT);
			assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_PRE_ACTIVE);
			assert_string_equal(name_of(f, &f->alice, v, uid, 0), "engine-aes");
			assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_OBJECT_TYPE, 0)->v.u32,
			    KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
			assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_INITIAL_DATE, 0)->type,
			    TTLV_DATE_TIME);
			assert_non_null(get_attr(f, &f->alice, v, uid, KMIP_TAG_DIGEST, 0));
			assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_FRESH, 0)->v.b);
			assert_non_null(raw_key(f, &f->alice, v, uid, &len));
			assert_int_equal(len, (size_t)aes[i] / 8);
			/* The first Get by the owner ends freshness. */
			assert_false(get_attr(f, &f->alice, v, uid, KMIP_TAG_FRESH, 0)->v.b);
		}
		/* Key Format Type and Short Unique Identifier are 2.x attributes; 1.x clients do not see them. */
		a = get_attr(f, &f->alice, v, uid, KMIP_TAG_KEY_FORMAT_TYPE, 0);
		assert_true(V2(v) ? a != NULL && a->v.u32 == KMIP_KEY_FORMAT_TYPE_RAW : a == NULL);
		a = get_attr(f, &f->alice, v, uid, KMIP_TAG_SHORT_UNIQUE_IDENTIFIER, 0);
		assert_true(V2(v) ? a != NULL && a->length == 32 : a == NULL);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES, 168, 0, NULL, uid);
		raw_key(f, &f->alice, v, uid, &len);
		assert_int_equal(len, 24);
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, 0, 0, NULL, uid);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 256);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 0)->v.i32, MAC_MASK);

		/* Activation Date in the past: Active at once. State and Unique Identifier given are ignored. */
		req_begin(&e, v, 1);
		item_begin(&e, KMIP_OPERATION_CREATE);
		ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
		attrs_begin(&e, v);
		a_enum(&e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		a_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
		a_date(&e, v, KMIP_TAG_ACTIVATION_DATE, time(NULL) - 60);
		a_enum(&e, v, KMIP_TAG_STATE, KMIP_STATE_DESTROYED);
		a_text(&e, v, KMIP_TAG_UNIQUE_IDENTIFIER, "chosen-by-client");
		a_text(&e, v, KMIP_TAG_CONTACT_INFORMATION, "alice@example.org");
		ttlv_enc_end(&e);
		item_end(&e);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		assert_string_not_equal(uid, "chosen-by-client");
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_ACTIVE);
		assert_string_equal((const char *)get_attr(f, &f->alice, v, uid, KMIP_TAG_CONTACT_INFORMATION,
		    0)->v.bytes.data,
		    "alice@example.org");
	}
}

/* Sends a Create whose attribute set fn writes (after an Object Type of type, 0: none). */
static struct ttlv *
create_with(struct fx *f, unsigned v, uint32_t type, void (*fn)(struct ttlv_enc *, unsigned))
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CREATE);
	if (type != 0)
		ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, type);
	attrs_begin(&e, v);
	fn(&e, v);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* Attributes of an AES-128 key. */
static void
attrs_aes128(struct ttlv_enc *e, unsigned v)
{
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
}

/* A length without an algorithm. */
static void
attrs_no_alg(struct ttlv_enc *e, unsigned v)
{
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 128);
}

/* An AES key of a length AES does not have. */
static void
attrs_aes100(struct ttlv_enc *e, unsigned v)
{
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 100);
}

/* An RSA key, which Create does not make. */
static void
attrs_rsa(struct ttlv_enc *e, unsigned v)
{
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 2048);
}

/* A single-valued attribute given twice. */
static void
attrs_length_twice(struct ttlv_enc *e, unsigned v)
{
	attrs_aes128(e, v);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
}

/* An Integer attribute sent as a Text String. */
static void
attrs_length_text(struct ttlv_enc *e, unsigned v)
{
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	a_text(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, "128");
}

/* An attribute kmipd does not know: a 1.x name it has no tag for, a 2.x tag that is no attribute. */
static void
attrs_unknown(struct ttlv_enc *e, unsigned v)
{
	attrs_aes128(e, v);
	if (V2(v)) {
		ttlv_enc_cstr(e, KMIP_TAG_DATA, "not an attribute");
	} else {
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Frobnication Level");
		ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, 11);
		ttlv_enc_end(e);
	}
}

/* A quantum-safe AES-128 key, which does not exist. */
static void
attrs_quantum_128(struct ttlv_enc *e, unsigned v)
{
	attrs_aes128(e, v);
	a_bool(e, v, KMIP_TAG_QUANTUM_SAFE, true);
}

/* A quantum-safe AES-256 key. */
static void
attrs_quantum_256(struct ttlv_enc *e, unsigned v)
{
	a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	a_bool(e, v, KMIP_TAG_QUANTUM_SAFE, true);
}

/* A 1.x template reference (a bare Name in the Template-Attribute), which kmipd does not support. */
static void
attrs_template_name(struct ttlv_enc *e, unsigned v)
{
	attrs_aes128(e, v);
	ttlv_enc_begin(e, KMIP_TAG_NAME);
	ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, "a-template");
	ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(e);
}

/* Create's refusals, at 1.4 and 2.1. */
static void
test_create_errors(void **state)
{
	struct fx *f = *state;
	unsigned k;

	for (k = 0; k < NVERSIONS; k++) {
		unsigned v = versions[k];

		expect_fail(create_with(f, v, 0, attrs_aes128), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_PRIVATE_KEY, attrs_aes128), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_no_alg), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_aes100), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_rsa), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_length_twice), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_length_text), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_unknown), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_quantum_128), 0,
		    KMIP_RESULT_REASON_GENERAL_FAILURE);
		expect_ok(create_with(f, v, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_quantum_256), 0);
	}
	expect_fail(create_with(f, V14, KMIP_OBJECT_TYPE_SYMMETRIC_KEY, attrs_template_name), 0,
	    KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
}

/*
 * Register keeps what a client brings and gives it back: a raw AES key, Secret Data, a private key in
 * PKCS#8 and a public key in X.509 (back in the same bytes), and a certificate whose subject becomes
 * attributes.
 */
static void
test_register(void **state)
{
	static const uint8_t aes[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
	    21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	static const char password[] = "correct horse battery staple";
	struct fx *f = *state;
	uint8_t *pkcs8, *spki, *cert;
	size_t pkcs8_len, spki_len, cert_len, len;
	const struct ttlv *m, *o;
	struct ttlv_enc e;
	struct ttlv *resp;
	char uid[UIDLEN];
	EVP_PKEY *k;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_RAW, .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, .bits = 256,
		    .material = aes, .len = sizeof(aes), .mask = ENC_DECRYPT, .name = "registered-aes" }, uid);
		assert_memory_equal(raw_key(f, &f->alice, v, uid, &len), aes, sizeof(aes));
		assert_int_equal(len, sizeof(aes));
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 0)->v.u32,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 256);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_PRE_ACTIVE);

		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_SECRET_DATA,
		    .format = KMIP_KEY_FORMAT_TYPE_OPAQUE, .material = password, .len = strlen(password),
		    .secret_type = KMIP_SECRET_DATA_TYPE_PASSWORD }, uid);
		resp = get_req(f, &f->alice, v, uid, 0);
		expect_ok(resp, 0);
		o = ttlv_find(payload(resp, 0), KMIP_TAG_SECRET_DATA);
		assert_int_equal(ttlv_find(o, KMIP_TAG_SECRET_DATA_TYPE)->v.u32, KMIP_SECRET_DATA_TYPE_PASSWORD);
		assert_int_equal(ttlv_find(ttlv_find(o, KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_FORMAT_TYPE)->v.u32,
		    KMIP_KEY_FORMAT_TYPE_OPAQUE);
		m = key_material(ttlv_find(o, KMIP_TAG_KEY_BLOCK));
		assert_int_equal(m->length, strlen(password));
		assert_memory_equal(m->v.bytes.data, password, strlen(password));
		/* No Digest of a password: attributes stay in clear at rest, and it would let guesses be tested. */
		assert_null(get_attr(f, &f->alice, v, uid, KMIP_TAG_DIGEST, 0));

		k = local_ec(f, &pkcs8, &pkcs8_len, &spki, &spki_len);
		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_PRIVATE_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_PKCS_8, .material = pkcs8, .len = pkcs8_len }, uid);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 0)->v.u32,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 256);
		resp = get_req(f, &f->alice, v, uid, KMIP_KEY_FORMAT_TYPE_PKCS_8);
		expect_ok(resp, 0);
		m = key_material(key_block(resp, KMIP_TAG_PRIVATE_KEY));
		assert_int_equal(m->length, pkcs8_len);
		assert_memory_equal(m->v.bytes.data, pkcs8, pkcs8_len);
		/* A private key has no Raw form. */
		expect_fail(get_req(f, &f->alice, v, uid, KMIP_KEY_FORMAT_TYPE_RAW), 0,
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);

		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_PUBLIC_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_X_509, .material = spki, .len = spki_len }, uid);
		resp = get_req(f, &f->alice, v, uid, KMIP_KEY_FORMAT_TYPE_X_509);
		expect_ok(resp, 0);
		m = key_material(key_block(resp, KMIP_TAG_PUBLIC_KEY));
		assert_int_equal(m->length, spki_len);
		assert_memory_equal(m->v.bytes.data, spki, spki_len);

		cert = local_cert(f, k, &cert_len);
		req_begin(&e, v, 1);
		item_begin(&e, KMIP_OPERATION_REGISTER);
		ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_CERTIFICATE);
		attrs_begin(&e, v);
		ttlv_enc_end(&e);
		ttlv_enc_begin(&e, KMIP_TAG_CERTIFICATE);
		ttlv_enc_enum(&e, KMIP_TAG_CERTIFICATE_TYPE, KMIP_CERTIFICATE_TYPE_X_509);
		ttlv_enc_bytes(&e, KMIP_TAG_CERTIFICATE_VALUE, cert, cert_len);
		ttlv_enc_end(&e);
		item_end(&e);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		resp = get_req(f, &f->alice, v, uid, 0);
		expect_ok(resp, 0);
		o = ttlv_find(payload(resp, 0), KMIP_TAG_CERTIFICATE);
		assert_int_equal(ttlv_find(o, KMIP_TAG_CERTIFICATE_TYPE)->v.u32, KMIP_CERTIFICATE_TYPE_X_509);
		m = ttlv_find(o, KMIP_TAG_CERTIFICATE_VALUE);
		assert_int_equal(m->length, cert_len);
		assert_memory_equal(m->v.bytes.data, cert, cert_len);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_CERTIFICATE_LENGTH, 0)->v.i32,
		    (int32_t)cert_len);
		if (!V2(v))
			assert_string_equal((const char *)get_attr(f, &f->alice, v, uid,
			    KMIP_TAG_CERTIFICATE_SUBJECT_CN,
			    0)->v.bytes.data, "engine-test");

		/* An Opaque Object. */
		req_begin(&e, v, 1);
		item_begin(&e, KMIP_OPERATION_REGISTER);
		ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_OPAQUE_OBJECT);
		ttlv_enc_begin(&e, KMIP_TAG_OPAQUE_OBJECT);
		ttlv_enc_enum(&e, KMIP_TAG_OPAQUE_DATA_TYPE, 0x80000001);
		ttlv_enc_bytes(&e, KMIP_TAG_OPAQUE_DATA_VALUE, "opaque!", 7);
		ttlv_enc_end(&e);
		item_end(&e);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		resp = get_req(f, &f->alice, v, uid, 0);
		expect_ok(resp, 0);
		o = ttlv_find(payload(resp, 0), KMIP_TAG_OPAQUE_OBJECT);
		assert_int_equal(ttlv_find(o, KMIP_TAG_OPAQUE_DATA_TYPE)->v.u32, 0x80000001);
		assert_memory_equal(ttlv_find(o, KMIP_TAG_OPAQUE_DATA_VALUE)->v.bytes.data, "opaque!", 7);
	}
}

/* Sends a Register whose payload fn writes. */
static struct ttlv *
register_with(struct fx *f, unsigned v, void (*fn)(struct ttlv_enc *))
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_REGISTER);
	fn(&e);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/*
 * A Key Block with the given format and material, wrapped (Key Wrapping Data without its Wrapping Method)
 * when wrapped, no Key Value when material NULL.
 */
static void
enc_key_block(struct ttlv_enc *e, uint32_t format, const char *material, bool wrapped)
{
	ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, format);
	if (material != NULL && wrapped) {
		ttlv_enc_bytes(e, KMIP_TAG_KEY_VALUE, material, strlen(material));
		/* No Wrapping Method: the one field Key Wrapping Data must have. */
		ttlv_enc_begin(e, KMIP_TAG_KEY_WRAPPING_DATA);
		ttlv_enc_begin(e, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, "some-key");
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	} else if (material != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
		ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, material, strlen(material));
		ttlv_enc_end(e);
	}
	ttlv_enc_end(e);
}

/* A Register without Object Type. */
static void
reg_no_type(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_SYMMETRIC_KEY);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_RAW, "0123456789abcdef", false);
	ttlv_enc_end(e);
}

/* A Register of an Object Type that does not exist. */
static void
reg_unknown_type(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, 0x99);
}

/* The Object Type says Symmetric Key, the payload holds Secret Data. */
static void
reg_type_mismatch(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_OPAQUE, "secret", false);
	ttlv_enc_end(e);
}

/* Secret Data without its Secret Data Type. */
static void
reg_secret_without_type(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
	ttlv_enc_begin(e, KMIP_TAG_SECRET_DATA);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_OPAQUE, "secret", false);
	ttlv_enc_end(e);
}

/* A private key whose bytes are no PKCS#8. */
static void
reg_garbage_private(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_PRIVATE_KEY);
	ttlv_enc_begin(e, KMIP_TAG_PRIVATE_KEY);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_PKCS_8, "this is no PKCS#8 structure", false);
	ttlv_enc_end(e);
}

/* A symmetric key said to be PKCS#1, a format for RSA keys only: material that does not fit. */
static void
reg_symmetric_pkcs1(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_SYMMETRIC_KEY);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_PKCS_1, "0123456789abcdef", false);
	ttlv_enc_end(e);
}

/* A Key Format Type kmipd does not know at all (an extension value). */
static void
reg_unknown_format(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_SYMMETRIC_KEY);
	enc_key_block(e, 0x80000010, "0123456789abcdef", false);
	ttlv_enc_end(e);
}

/* A wrapped key whose Key Wrapping Data lacks its Wrapping Method. */
static void
reg_wrapped(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_SYMMETRIC_KEY);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_RAW, "0123456789abcdef01234567", true);
	ttlv_enc_end(e);
}

/* A Key Block without Key Value. */
static void
reg_no_key_value(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(e, KMIP_TAG_SYMMETRIC_KEY);
	enc_key_block(e, KMIP_KEY_FORMAT_TYPE_RAW, NULL, false);
	ttlv_enc_end(e);
}

/* A PGP certificate: only X.509 ones are kept. */
static void
reg_pgp_certificate(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_CERTIFICATE);
	ttlv_enc_begin(e, KMIP_TAG_CERTIFICATE);
	ttlv_enc_enum(e, KMIP_TAG_CERTIFICATE_TYPE, KMIP_CERTIFICATE_TYPE_PGP);
	ttlv_enc_bytes(e, KMIP_TAG_CERTIFICATE_VALUE, "pgp", 3);
	ttlv_enc_end(e);
}

/* An X.509 certificate that does not parse. */
static void
reg_garbage_certificate(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_CERTIFICATE);
	ttlv_enc_begin(e, KMIP_TAG_CERTIFICATE);
	ttlv_enc_enum(e, KMIP_TAG_CERTIFICATE_TYPE, KMIP_CERTIFICATE_TYPE_X_509);
	ttlv_enc_bytes(e, KMIP_TAG_CERTIFICATE_VALUE, "not DER", 7);
	ttlv_enc_end(e);
}

/* Register's refusals: nothing is stored (Locate finds nothing afterwards). */
static void
test_register_errors(void **state)
{
	struct fx *f = *state;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		expect_fail(register_with(f, v, reg_no_type), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_unknown_type), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_type_mismatch), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_secret_without_type), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_garbage_private), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_symmetric_pkcs1), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_unknown_format), 0,
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
		expect_fail(register_with(f, v, reg_wrapped), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_no_key_value), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_pgp_certificate), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(register_with(f, v, reg_garbage_certificate), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
	resp = uid_op(f, &f->alice, V21, KMIP_OPERATION_LOCATE, NULL);
	expect_ok(resp, 0);
	assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER));
}

/* Get. */

/* Sends a Get of uid with one extra field fn writes. */
static struct ttlv *
get_with(struct fx *f, unsigned v, const char *uid, void (*fn)(struct ttlv_enc *))
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	fn(&e);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* Asks for a compressed EC point form. */
static void
get_compressed(struct ttlv_enc *e)
{
	ttlv_enc_enum(e, KMIP_TAG_KEY_COMPRESSION_TYPE, KMIP_KEY_COMPRESSION_TYPE_EC_PUBLIC_KEY_TYPE_X9_62_HYBRID);
}

/* A Key Format Type sent as an Integer. */
static void
get_format_int(struct ttlv_enc *e)
{
	ttlv_enc_int(e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW);
}

/* A Key Wrapping Specification that is no Structure. */
static void
get_wrap_not_structure(struct ttlv_enc *e)
{
	ttlv_enc_cstr(e, KMIP_TAG_KEY_WRAPPING_SPECIFICATION, "wrap it");
}

/* Creates a key whose template sets one Boolean attribute. */
static void
create_flagged(struct fx *f, unsigned v, uint32_t tag, bool value, char *uid)
{
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(&e, v);
	attrs_aes128(&e, v);
	a_bool(&e, v, tag, value);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/*
 * Get in another format (Transparent Symmetric Key holds the same bytes), and its refusals: a format that
 * does not apply, an unknown or malformed object identifier, a compressed EC form, malformed fields, a
 * Sensitive or non-Extractable key, a destroyed one (a 2.x reason of its own).
 */
static void
test_get(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], long_uid[STORE_UID_MAX + 2];
	const uint8_t *raw;
	const struct ttlv *m;
	struct ttlv *resp;
	size_t len;
	unsigned i;

	memset(long_uid, '7', sizeof(long_uid) - 1);
	long_uid[sizeof(long_uid) - 1] = '\0';
	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, 0, NULL, uid);
		raw = raw_key(f, &f->alice, v, uid, &len);
		resp = get_req(f, &f->alice, v, uid, KMIP_KEY_FORMAT_TYPE_TRANSPARENT_SYMMETRIC_KEY);
		expect_ok(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		m = key_material(key_block(resp, KMIP_TAG_SYMMETRIC_KEY));
		assert_int_equal(m->type, TTLV_STRUCTURE);
		assert_int_equal(ttlv_find(m, KMIP_TAG_KEY)->length, len);
		assert_memory_equal(ttlv_find(m, KMIP_TAG_KEY)->v.bytes.data, raw, len);

		expect_fail(get_req(f, &f->alice, v, uid, KMIP_KEY_FORMAT_TYPE_PKCS_1), 0,
		    KMIP_RESULT_REASON_KEY_FORMAT_TYPE_NOT_SUPPORTED);
		expect_fail(get_req(f, &f->alice, v, MISSING_UID, 0), 0, not_found(v));
		expect_fail(get_req(f, &f->alice, v, "", 0), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(get_req(f, &f->alice, v, long_uid, 0), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_GET, NULL), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(get_with(f, v, uid, get_compressed), 0,
		    KMIP_RESULT_REASON_KEY_COMPRESSION_TYPE_NOT_SUPPORTED);
		expect_fail(get_with(f, v, uid, get_format_int), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(get_with(f, v, uid, get_wrap_not_structure), 0, KMIP_RESULT_REASON_INVALID_FIELD);

		create_flagged(f, v, KMIP_TAG_SENSITIVE, true, uid);
		expect_fail(get_req(f, &f->alice, v, uid, 0), 0, KMIP_RESULT_REASON_SENSITIVE);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_ALWAYS_SENSITIVE, 0)->v.b);
		assert_null(get_attr(f, &f->alice, v, uid, KMIP_TAG_DIGEST, 0));	/* nothing of it in clear */
		create_flagged(f, v, KMIP_TAG_EXTRACTABLE, false, uid);
		expect_fail(get_req(f, &f->alice, v, uid, 0), 0, KMIP_RESULT_REASON_NOT_EXTRACTABLE);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_NEVER_EXTRACTABLE, 0)->v.b);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		expect_fail(get_req(f, &f->alice, v, uid, 0), 0, V2(v) ? KMIP_RESULT_REASON_OBJECT_DESTROYED :
		    KMIP_RESULT_REASON_ITEM_NOT_FOUND);
		/* Its attributes stay. */
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_DESTROYED);
	}
}

/* What a Key Wrapping Specification asks for. */
struct wrap {
	const char *kek;		/* the wrapping key, NULL: no Encryption Key Information */
	uint32_t method;		/* Wrapping Method */
	uint32_t mode;			/* Block Cipher Mode, 0: none */
	bool no_encoding;		/* Encoding Option No Encoding */
};

/* Sends a Get of uid wrapped as w asks, as c. */
static struct ttlv *
get_wrapped_as(struct fx *f, struct client *c, unsigned v, const char *uid, const struct wrap *w)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_WRAPPING_SPECIFICATION);
	ttlv_enc_enum(&e, KMIP_TAG_WRAPPING_METHOD, w->method);
	if (w->kek != NULL) {
		ttlv_enc_begin(&e, KMIP_TAG_ENCRYPTION_KEY_INFORMATION);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, w->kek);
		if (w->mode != 0) {
			ttlv_enc_begin(&e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
			ttlv_enc_enum(&e, KMIP_TAG_BLOCK_CIPHER_MODE, w->mode);
			ttlv_enc_end(&e);
		}
		ttlv_enc_end(&e);
	}
	if (w->no_encoding)
		ttlv_enc_enum(&e, KMIP_TAG_ENCODING_OPTION, KMIP_ENCODING_OPTION_NO_ENCODING);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* The same as alice. */
static struct ttlv *
get_wrapped(struct fx *f, unsigned v, const char *uid, const struct wrap *w)
{
	return get_wrapped_as(f, &f->alice, v, uid, w);
}

/* Unwraps (AES Key Wrap, RFC 3394) with kek; returns the length. */
static size_t
unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, keklen == 32 ? "AES-256-WRAP" : "AES-128-WRAP", NULL);
	int n = 0, fin = 0;

	assert_non_null(c);
	assert_non_null(cipher);
	assert_int_equal(EVP_DecryptInit_ex2(c, cipher, kek, NULL, NULL), 1);
	assert_int_equal(EVP_DecryptUpdate(c, out, &n, in, (int)len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, out + n, &fin), 1);
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(c);
	return (size_t)(n + fin);
}

/*
 * Get with a Key Wrapping Specification: the key comes back wrapped with an Active AES key of the caller's
 * (NIST Key Wrap), either its bare bytes (No Encoding) or its TTLV Key Value; a wrapping key that is not
 * Active, a method other than Encrypt, no wrapping key, a missing one are refused.
 */
static void
test_get_wrapped(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], kek[UIDLEN], idle[UIDLEN];
	const uint8_t *raw, *kraw;
	const struct ttlv *block, *wd, *m;
	struct ttlv_arena *a;
	struct ttlv *resp, *kv;
	uint8_t out[256];
	size_t len, klen, n;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, 0, NULL, uid);
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, WRAP_MASK, NULL, kek);
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, WRAP_MASK, NULL, idle);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, kek);
		raw = raw_key(f, &f->alice, v, uid, &len);
		kraw = raw_key(f, &f->alice, v, kek, &klen);

		resp = get_wrapped(f, v, uid, &(struct wrap){ .kek = kek, .method = KMIP_WRAPPING_METHOD_ENCRYPT,
		    .mode = KMIP_BLOCK_CIPHER_MODE_NISTKEYWRAP, .no_encoding = true });
		expect_ok(resp, 0);
		block = key_block(resp, KMIP_TAG_SYMMETRIC_KEY);
		wd = ttlv_find(block, KMIP_TAG_KEY_WRAPPING_DATA);
		assert_non_null(wd);
		assert_int_equal(ttlv_find(wd, KMIP_TAG_WRAPPING_METHOD)->v.u32, KMIP_WRAPPING_METHOD_ENCRYPT);
		assert_string_equal((const char *)ttlv_find(ttlv_find(wd, KMIP_TAG_ENCRYPTION_KEY_INFORMATION),
		    KMIP_TAG_UNIQUE_IDENTIFIER)->v.bytes.data, kek);
		m = ttlv_find(block, KMIP_TAG_KEY_VALUE);
		assert_int_equal(m->type, TTLV_BYTE_STRING);
		assert_int_equal(m->length, len + 8);
		n = unwrap(kraw, klen, m->v.bytes.data, m->length, out);
		assert_int_equal(n, len);
		assert_memory_equal(out, raw, len);

		/* The default encoding wraps the Key Value's TTLV. */
		resp = get_wrapped(f, v, uid, &(struct wrap){ .kek = kek, .method = KMIP_WRAPPING_METHOD_ENCRYPT });
		expect_ok(resp, 0);
		m = ttlv_find(key_block(resp, KMIP_TAG_SYMMETRIC_KEY), KMIP_TAG_KEY_VALUE);
		n = unwrap(kraw, klen, m->v.bytes.data, m->length, out);
		assert_int_equal(ttlv_decode(out, n, NULL, &kv, &a, NULL, NULL), TTLV_DONE);
		keep_arena(f, a);
		assert_int_equal(kv->tag, KMIP_TAG_KEY_VALUE);
		assert_int_equal(ttlv_find(kv, KMIP_TAG_KEY_MATERIAL)->length, len);
		assert_memory_equal(ttlv_find(kv, KMIP_TAG_KEY_MATERIAL)->v.bytes.data, raw, len);

		expect_fail(get_wrapped(f, v, uid, &(struct wrap){ .kek = idle,
		    .method = KMIP_WRAPPING_METHOD_ENCRYPT }),
		    0, wrong_state(v));
		expect_fail(get_wrapped(f, v, uid, &(struct wrap){ .kek = kek,
		    .method = KMIP_WRAPPING_METHOD_MAC_SIGN }),
		    0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
		expect_fail(get_wrapped(f, v, uid, &(struct wrap){ .kek = kek, .method = KMIP_WRAPPING_METHOD_ENCRYPT,
		    .mode = KMIP_BLOCK_CIPHER_MODE_CBC }), 0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
		expect_fail(get_wrapped(f, v, uid, &(struct wrap){ .method = KMIP_WRAPPING_METHOD_ENCRYPT }), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(get_wrapped(f, v, uid, &(struct wrap){ .kek = MISSING_UID,
		    .method = KMIP_WRAPPING_METHOD_ENCRYPT }), 0, not_found(v));
	}
}

/* Attributes. */

/* Creates an AES key with two Names, a custom attribute and two Object Groups; returns its uid. */
static void
rich_key(struct fx *f, struct client *c, unsigned v, const char *name, char *uid)
{
	char second[64];
	struct ttlv_enc e;
	struct ttlv *resp;

	snprintf(second, sizeof(second), "%s-alias", name);
	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(&e, v);
	attrs_aes128(&e, v);
	a_name(&e, v, name);
	a_name(&e, v, second);
	a_custom(&e, v, "note", "kept as written");
	a_text(&e, v, KMIP_TAG_OBJECT_GROUP, "group-a");
	a_text(&e, v, KMIP_TAG_OBJECT_GROUP, "group-b");
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	resp = call(f, c, &e);
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/* Counts the 1.x Attributes named name in a payload, and checks their Attribute Index runs 0, 1, ... */
static unsigned
count_v1(const struct ttlv *p, const char *name)
{
	const struct ttlv *a, *idx;
	unsigned n = 0;

	for (a = ttlv_find(p, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a)) {
		if (strcmp((const char *)ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data, name) != 0)
			continue;
		idx = ttlv_find(a, KMIP_TAG_ATTRIBUTE_INDEX);
		assert_int_equal(idx != NULL ? idx->v.i32 : 0, (int32_t)n);
		n++;
	}
	return n;
}

/* How many times a payload lists the 1.x Attribute Name name (Get Attribute List). */
static unsigned
count_names(const struct ttlv *p, const char *name)
{
	const struct ttlv *n;
	unsigned count = 0;

	for (n = ttlv_find(p, KMIP_TAG_ATTRIBUTE_NAME); n != NULL; n = ttlv_find_next(n))
		if (strcmp((const char *)n->v.bytes.data, name) == 0)
			count++;
	return count;
}

/* True when a payload lists the 1.x Attribute Name name. */
static bool
lists_name(const struct ttlv *p, const char *name)
{
	return count_names(p, name) > 0;
}

/* Counts the 2.x Attribute References to tag in a payload (Get Attribute List). */
static unsigned
count_refs(const struct ttlv *p, uint32_t tag)
{
	const struct ttlv *r;
	unsigned n = 0;

	for (r = ttlv_find(p, KMIP_TAG_ATTRIBUTE_REFERENCE); r != NULL; r = ttlv_find_next(r))
		if (r->type == TTLV_ENUMERATION && r->v.u32 == tag)
			n++;
	return n;
}

/*
 * Get Attributes without names answers every attribute the client's version knows (1.x: Attribute
 * structures with Attribute Index; 2.x: the items); Get Attribute List names each attribute once (1.x by
 * name, 2.x by reference, vendor attributes by vendor and name). Both answer a missing object as not found.
 */
static void
test_get_attributes(void **state)
{
	struct fx *f = *state;
	const struct ttlv *p, *attrs, *r;
	struct ttlv *resp;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		rich_key(f, &f->alice, v, "rich", uid);
		resp = uid_op(f, &f->alice, v, KMIP_OPERATION_GET_ATTRIBUTES, uid);
		expect_ok(resp, 0);
		p = payload(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		if (V2(v)) {
			attrs = ttlv_find(p, KMIP_TAG_ATTRIBUTES);
			assert_non_null(attrs);
			assert_int_equal(ttlv_count(attrs, KMIP_TAG_NAME), 2);
			assert_int_equal(ttlv_count(attrs, KMIP_TAG_OBJECT_GROUP), 2);
			assert_int_equal(ttlv_count(attrs, KMIP_TAG_KEY_FORMAT_TYPE), 1);
			assert_int_equal(ttlv_count(attrs, KMIP_TAG_SHORT_UNIQUE_IDENTIFIER), 1);
			r = ttlv_find(attrs, KMIP_TAG_ATTRIBUTE);
			assert_non_null(r);
			assert_string_equal((const char *)ttlv_find(r, KMIP_TAG_VENDOR_IDENTIFICATION)->v.bytes.data,
			    "x");
			assert_string_equal((const char *)ttlv_find(r, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data, "note");
			assert_string_equal((const char *)ttlv_find(r, KMIP_TAG_ATTRIBUTE_VALUE)->v.bytes.data,
			    "kept as written");
		} else {
			assert_null(ttlv_find(p, KMIP_TAG_ATTRIBUTES));
			assert_int_equal(count_v1(p, "Name"), 2);
			assert_int_equal(count_v1(p, "Object Group"), 2);
			assert_int_equal(count_v1(p, "x-note"), 1);
			assert_int_equal(count_v1(p, "State"), 1);
			assert_int_equal(count_v1(p, "Key Format Type"), 0);
			assert_int_equal(count_v1(p, "Short Unique Identifier"), 0);
		}
		assert_string_equal(name_of(f, &f->alice, v, uid, 1), "rich-alias");

		resp = uid_op(f, &f->alice, v, KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid);
		expect_ok(resp, 0);
		p = payload(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		if (V2(v)) {
			assert_int_equal(count_refs(p, KMIP_TAG_NAME), 1);
			assert_int_equal(count_refs(p, KMIP_TAG_OBJECT_GROUP), 1);
			assert_int_equal(count_refs(p, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM), 1);
			assert_int_equal(count_refs(p, KMIP_TAG_STATE), 1);
			for (r = ttlv_find(p, KMIP_TAG_ATTRIBUTE_REFERENCE); r != NULL && r->type != TTLV_STRUCTURE;
			    r = ttlv_find_next(r))
				;
			assert_non_null(r);
			assert_string_equal((const char *)ttlv_find(r, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data, "note");
			assert_null(ttlv_find(p, KMIP_TAG_ATTRIBUTE_NAME));
		} else {
			assert_true(lists_name(p, "Name") && lists_name(p, "Object Group") && lists_name(p, "x-note"));
			assert_true(lists_name(p, "Cryptographic Algorithm") && lists_name(p, "State"));
			assert_false(lists_name(p, "Key Format Type"));
			assert_int_equal(count_names(p, "Name"), 1);
			assert_int_equal(count_names(p, "Object Group"), 1);
		}
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_GET_ATTRIBUTES, MISSING_UID), 0, not_found(v));
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_GET_ATTRIBUTE_LIST, MISSING_UID), 0, not_found(v));
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_GET_ATTRIBUTES, NULL), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* An attribute edit: the request shapes of 1.x (Attribute, Attribute Index) and 2.x (New / Current). */
struct edit {
	uint32_t op;
	uint32_t tag;			/* the attribute */
	const char *value;		/* new value (Name Value for a Name); NULL: none */
	int64_t num;			/* the value of an Enumeration, Integer or Date-Time attribute */
	const char *current;		/* 2.x Current Attribute (text or Name Value); NULL: none */
	int index;			/* 1.x Attribute Index; -1: none */
	bool reference;			/* 2.x Delete by Attribute Reference */
};

/* Writes one attribute value under tag `under`: a Name structure, a number or a text. */
static void
enc_value(struct ttlv_enc *e, uint32_t under, uint32_t tag, const char *text, int64_t num)
{
	switch (tag) {
	case KMIP_TAG_NAME:
		ttlv_enc_begin(e, under);
		ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, text);
		ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
		ttlv_enc_end(e);
		break;
	case KMIP_TAG_STATE:
	case KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM:
	case KMIP_TAG_OBJECT_TYPE:
		ttlv_enc_enum(e, under, (uint32_t)num);
		break;
	case KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK:
	case KMIP_TAG_CRYPTOGRAPHIC_LENGTH:
		ttlv_enc_int(e, under, (int32_t)num);
		break;
	case KMIP_TAG_SENSITIVE:
	case KMIP_TAG_EXTRACTABLE:
		ttlv_enc_bool(e, under, num != 0);
		break;
	case KMIP_TAG_ACTIVATION_DATE:
	case KMIP_TAG_DEACTIVATION_DATE:
	case KMIP_TAG_PROTECT_STOP_DATE:
	case KMIP_TAG_PROCESS_START_DATE:
		ttlv_enc_datetime(e, under, num);
		break;
	default:
		ttlv_enc_cstr(e, under, text);
		break;
	}
}

/* Sends the edit x of uid as c at version v. */
static struct ttlv *
edit(struct fx *f, struct client *c, unsigned v, const char *uid, const struct edit *x)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, x->op);
	if (uid != NULL)
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (!V2(v) && x->op == KMIP_OPERATION_DELETE_ATTRIBUTE) {
		ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(x->tag));
		if (x->index >= 0)
			ttlv_enc_int(&e, KMIP_TAG_ATTRIBUTE_INDEX, x->index);
	} else if (!V2(v)) {
		ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTE);
		ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, ttlv_tag_name(x->tag));
		if (x->index >= 0)
			ttlv_enc_int(&e, KMIP_TAG_ATTRIBUTE_INDEX, x->index);
		enc_value(&e, KMIP_TAG_ATTRIBUTE_VALUE, x->tag, x->value, x->num);
		ttlv_enc_end(&e);
	} else {
		if (x->current != NULL) {
			ttlv_enc_begin(&e, KMIP_TAG_CURRENT_ATTRIBUTE);
			enc_value(&e, x->tag, x->tag, x->current, x->num);
			ttlv_enc_end(&e);
		}
		if (x->reference)
			ttlv_enc_enum(&e, KMIP_TAG_ATTRIBUTE_REFERENCE, x->tag);
		if (x->op != KMIP_OPERATION_DELETE_ATTRIBUTE) {
			ttlv_enc_begin(&e, KMIP_TAG_NEW_ATTRIBUTE);
			enc_value(&e, x->tag, x->tag, x->value, x->num);
			ttlv_enc_end(&e);
		}
	}
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* Sends x and asserts success and, in 1.x, that the response echoes the attribute at index `at`. */
static void
edit_ok(struct fx *f, unsigned v, const char *uid, const struct edit *x, int at)
{
	struct ttlv *resp = edit(f, &f->alice, v, uid, x);
	const struct ttlv *a, *idx;

	expect_ok(resp, 0);
	assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
	a = ttlv_find(payload(resp, 0), KMIP_TAG_ATTRIBUTE);
	if (V2(v)) {
		assert_null(a);
		return;
	}
	assert_non_null(a);
	assert_string_equal((const char *)ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME)->v.bytes.data, ttlv_tag_name(x->tag));
	idx = ttlv_find(a, KMIP_TAG_ATTRIBUTE_INDEX);
	assert_int_equal(idx != NULL ? idx->v.i32 : 0, at);
}

/* The text of the nth instance of a text attribute of alice's uid, "" when absent. */
static const char *
text_attr(struct fx *f, unsigned v, const char *uid, uint32_t tag, unsigned nth)
{
	const struct ttlv *a = get_attr(f, &f->alice, v, uid, tag, nth);

	return a != NULL ? (const char *)a->v.bytes.data : "";
}

/*
 * Sensitive and Extractable go one way only, as in PKCS#11: a Sensitive key is never made readable again,
 * a non-extractable one never extractable (Always Sensitive and Never Extractable would lie otherwise).
 */
static void
test_one_way_flags(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		uint32_t ro = V2(v) ? KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY : KMIP_RESULT_REASON_PERMISSION_DENIED;

		create_flagged(f, v, KMIP_TAG_SENSITIVE, true, uid);
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_SENSITIVE, .num = 0, .index = -1 }), 0, ro);
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE,
		    .tag = KMIP_TAG_SENSITIVE, .index = -1, .reference = true }), 0, ro);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_SENSITIVE, 0)->v.b);
		create_flagged(f, v, KMIP_TAG_EXTRACTABLE, false, uid);
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_EXTRACTABLE, .num = 1, .index = -1 }), 0, ro);
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE,
		    .tag = KMIP_TAG_EXTRACTABLE, .index = -1, .reference = true }), 0, ro);
		/* The other way is allowed: a key made Sensitive later. */
		create_flagged(f, v, KMIP_TAG_SENSITIVE, false, uid);
		expect_ok(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_SENSITIVE, .num = 1, .index = -1 }), 0);
		expect_fail(get_req(f, &f->alice, v, uid, 0), 0, KMIP_RESULT_REASON_SENSITIVE);
	}
}

/*
 * Add, Modify and Delete Attribute at 1.4 and 2.1 on multi-valued (Name, Object Group) and single-valued
 * (Contact Information) attributes, read back with Get Attributes; and their refusals: a second value of a
 * single-valued attribute, attributes clients may not change, an instance that does not exist, a
 * lifecycle date of a phase already begun, a missing object.
 */
static void
test_attribute_edits(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], active[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		uint32_t missing_instance = V2(v) ? KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND :
		    KMIP_RESULT_REASON_INVALID_FIELD;

		rich_key(f, &f->alice, v, V2(v) ? "edit-21" : "edit-14", uid);
		/* A third Name, at index 2 (2.x Names are unique among alice's objects: one per version). */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE, .tag = KMIP_TAG_NAME,
		    .value = V2(v) ? "third-21" : "third-14", .index = -1 }, 2);
		assert_string_equal(name_of(f, &f->alice, v, uid, 2), V2(v) ? "third-21" : "third-14");

		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_CONTACT_INFORMATION, .value = "alice@example.org", .index = -1 }, 0);
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_CONTACT_INFORMATION, .value = "again@example.org", .index = -1 }), 0,
		    V2(v) ? KMIP_RESULT_REASON_ATTRIBUTE_SINGLE_VALUED : KMIP_RESULT_REASON_INVALID_FIELD);
		/* Adding back the value it holds is no error (storage arrays re-add what Create set). */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_CONTACT_INFORMATION, .value = "alice@example.org", .index = -1 }, 0);
		assert_string_equal(text_attr(f, v, uid, KMIP_TAG_CONTACT_INFORMATION, 0), "alice@example.org");

		/* Modify: 1.x by index, 2.x by Current Attribute. */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE, .tag = KMIP_TAG_NAME,
		    .value = V2(v) ? "renamed-21" : "renamed-14", .current = V2(v) ? "edit-21-alias" : NULL,
		    .index = 1 },
		    1);
		assert_string_equal(name_of(f, &f->alice, v, uid, 1), V2(v) ? "renamed-21" : "renamed-14");
		assert_string_equal(name_of(f, &f->alice, v, uid, 2), V2(v) ? "third-21" : "third-14");
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_NAME, .value = "x", .current = V2(v) ? "no-such-name" : NULL, .index = 7 }), 0,
		    missing_instance);
		/* Modify without Current Attribute (2.x) or index (1.x): the first instance. */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_CONTACT_INFORMATION, .value = "security@example.org", .index = -1 }, 0);
		assert_string_equal(text_attr(f, v, uid, KMIP_TAG_CONTACT_INFORMATION, 0), "security@example.org");

		/* Delete: the first Object Group; the second takes index 0. */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE, .tag = KMIP_TAG_OBJECT_GROUP,
		    .current = V2(v) ? "group-a" : NULL, .index = 0 }, 0);
		assert_string_equal(text_attr(f, v, uid, KMIP_TAG_OBJECT_GROUP, 0), "group-b");
		assert_string_equal(text_attr(f, v, uid, KMIP_TAG_OBJECT_GROUP, 1), "");
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE,
		    .tag = KMIP_TAG_OBJECT_GROUP, .current = V2(v) ? "group-z" : NULL, .index = 3 }), 0,
		    missing_instance);
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE,
		    .tag = KMIP_TAG_CONTACT_INFORMATION, .reference = true, .index = -1 }, 0);
		assert_string_equal(text_attr(f, v, uid, KMIP_TAG_CONTACT_INFORMATION, 0), "");

		/* What clients may not change: server attributes and those fixed at creation. */
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_STATE, .num = KMIP_STATE_ACTIVE, .index = -1 }), 0, read_only(v));
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, .num = KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES, .index = -1 }),
		    0,
		    read_only(v));
		expect_fail(edit(f, &f->alice, v, uid, &(struct edit){ .op = KMIP_OPERATION_DELETE_ATTRIBUTE,
		    .tag = KMIP_TAG_OBJECT_TYPE, .reference = true, .index = -1 }), 0, read_only(v));
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_PRE_ACTIVE);

		/* A Pre-Active key's Activation Date may change; an Active key's may not. */
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE, .tag = KMIP_TAG_ACTIVATION_DATE,
		    .num = time(NULL) + 3600, .index = -1 }, 0);
		active_aes(f, &f->alice, v, active);
		expect_fail(edit(f, &f->alice, v, active, &(struct edit){ .op = KMIP_OPERATION_MODIFY_ATTRIBUTE,
		    .tag = KMIP_TAG_ACTIVATION_DATE, .num = time(NULL) + 3600, .index = -1 }), 0, wrong_state(v));
		edit_ok(f, v, active, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_DEACTIVATION_DATE, .num = time(NULL) + 3600, .index = -1 }, 0);

		expect_fail(edit(f, &f->alice, v, MISSING_UID, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_DESCRIPTION, .value = "d", .index = -1 }), 0, not_found(v));
		expect_fail(edit(f, &f->alice, v, NULL, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
		    .tag = KMIP_TAG_DESCRIPTION, .value = "d", .index = -1 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Sends a 1.4 item whose payload after uid fn writes. */
static struct ttlv *
v14_with(struct fx *f, uint32_t op, const char *uid, void (*fn)(struct ttlv_enc *))
{
	struct ttlv_enc e;

	req_begin(&e, V14, 1);
	item_begin(&e, op);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	fn(&e);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* Writes nothing: the request lacks what the operation needs. */
static void
no_attribute(struct ttlv_enc *e)
{
	(void)e;
}

/* A 1.x Attribute of a name kmipd does not know. */
static void
unknown_attribute_name(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Frobnication Level");
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, 3);
	ttlv_enc_end(e);
}

/* A 1.x Delete Attribute of a name kmipd does not know. */
static void
delete_unknown_name(struct ttlv_enc *e)
{
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Frobnication Level");
}

/* A 1.x Delete Attribute at a negative Attribute Index. */
static void
negative_index(struct ttlv_enc *e)
{
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_INDEX, -1);
}

/* 1.4 edits of custom attributes ("x-" names), and malformed 1.4 edits. */
static void
test_attribute_edits_v14(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;
	char uid[UIDLEN];

	create_key(f, &f->alice, V14, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
	req_begin(&e, V14, 1);
	item_begin(&e, KMIP_OPERATION_ADD_ATTRIBUTE);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	a_custom(&e, V14, "ticket", "KMS-42");
	item_end(&e);
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);
	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_GET_ATTRIBUTES, uid);
	assert_int_equal(count_v1(payload(resp, 0), "x-ticket"), 1);
	/* Read at 2.1, the same attribute is vendor "x", name "ticket". */
	resp = uid_op(f, &f->alice, V21, KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid);
	expect_ok(resp, 0);
	assert_non_null(ttlv_find(payload(resp, 0), KMIP_TAG_ATTRIBUTE_REFERENCE));

	req_begin(&e, V14, 1);
	item_begin(&e, KMIP_OPERATION_DELETE_ATTRIBUTE);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, "x-ticket");
	item_end(&e);
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);
	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_GET_ATTRIBUTES, uid);
	assert_int_equal(count_v1(payload(resp, 0), "x-ticket"), 0);

	expect_fail(v14_with(f, KMIP_OPERATION_ADD_ATTRIBUTE, uid, no_attribute), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v14_with(f, KMIP_OPERATION_ADD_ATTRIBUTE, uid, unknown_attribute_name), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v14_with(f, KMIP_OPERATION_DELETE_ATTRIBUTE, uid, no_attribute), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v14_with(f, KMIP_OPERATION_DELETE_ATTRIBUTE, uid, delete_unknown_name), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v14_with(f, KMIP_OPERATION_DELETE_ATTRIBUTE, uid, negative_index), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
}

/* Sends a 2.1 item whose payload after uid fn writes. */
static struct ttlv *
v21_with(struct fx *f, uint32_t op, const char *uid, void (*fn)(struct ttlv_enc *))
{
	struct ttlv_enc e;

	req_begin(&e, V21, 1);
	item_begin(&e, op);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	fn(&e);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* A 2.x New Attribute holding two attributes. */
static void
new_attribute_two_items(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_NEW_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_DESCRIPTION, "one");
	ttlv_enc_cstr(e, KMIP_TAG_COMMENT, "two");
	ttlv_enc_end(e);
}

/* A 2.x Modify Attribute whose Current and New Attribute are different attributes. */
static void
current_and_new_differ(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_CURRENT_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_DESCRIPTION, "described");
	ttlv_enc_end(e);
	ttlv_enc_begin(e, KMIP_TAG_NEW_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_COMMENT, "commented");
	ttlv_enc_end(e);
}

/* A 2.x Delete Attribute of vendor attribute x/note by reference. */
static void
delete_custom_reference(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_REFERENCE);
	ttlv_enc_cstr(e, KMIP_TAG_VENDOR_IDENTIFICATION, "x");
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "note");
	ttlv_enc_end(e);
}

/*
 * 2.x only: Set Attribute (create or replace a single-valued attribute; refused for multi-valued and
 * read-only ones), Names unique among an owner's objects, New Attribute holding exactly one attribute,
 * Current and New Attribute of the same kind, Delete of a vendor attribute by reference.
 */
static void
test_attribute_edits_v21(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], other[UIDLEN], bobs[UIDLEN];

	rich_key(f, &f->alice, V21, "unique", uid);
	edit_ok(f, V21, uid, &(struct edit){ .op = KMIP_OPERATION_SET_ATTRIBUTE, .tag = KMIP_TAG_DESCRIPTION,
	    .value = "first", .index = -1 }, 0);
	edit_ok(f, V21, uid, &(struct edit){ .op = KMIP_OPERATION_SET_ATTRIBUTE, .tag = KMIP_TAG_DESCRIPTION,
	    .value = "second", .index = -1 }, 0);
	assert_string_equal(text_attr(f, V21, uid, KMIP_TAG_DESCRIPTION, 0), "second");
	assert_string_equal(text_attr(f, V21, uid, KMIP_TAG_DESCRIPTION, 1), "");
	expect_fail(edit(f, &f->alice, V21, uid, &(struct edit){ .op = KMIP_OPERATION_SET_ATTRIBUTE,
	    .tag = KMIP_TAG_NAME, .value = "set-name", .index = -1 }), 0, KMIP_RESULT_REASON_MULTI_VALUED_ATTRIBUTE);
	expect_fail(edit(f, &f->alice, V21, uid, &(struct edit){ .op = KMIP_OPERATION_SET_ATTRIBUTE,
	    .tag = KMIP_TAG_STATE, .num = KMIP_STATE_ACTIVE, .index = -1 }), 0, KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY);

	/* Another of alice's objects may not take a Name alice already uses; bob's may, and 1.x clients may. */
	create_key(f, &f->alice, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, other);
	expect_fail(edit(f, &f->alice, V21, other, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
	    .tag = KMIP_TAG_NAME, .value = "unique", .index = -1 }), 0, KMIP_RESULT_REASON_NON_UNIQUE_NAME_ATTRIBUTE);
	expect_fail(edit(f, &f->alice, V21, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
	    .tag = KMIP_TAG_NAME, .value = "unique", .index = -1 }), 0, KMIP_RESULT_REASON_NON_UNIQUE_NAME_ATTRIBUTE);
	create_key(f, &f->bob, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, bobs);
	expect_ok(edit(f, &f->bob, V21, bobs, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE,
	    .tag = KMIP_TAG_NAME, .value = "unique", .index = -1 }), 0);
	edit_ok(f, V14, other, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE, .tag = KMIP_TAG_NAME,
	    .value = "unique", .index = -1 }, 0);

	expect_fail(v21_with(f, KMIP_OPERATION_SET_ATTRIBUTE, uid, new_attribute_two_items), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v21_with(f, KMIP_OPERATION_ADD_ATTRIBUTE, uid, no_attribute), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v21_with(f, KMIP_OPERATION_MODIFY_ATTRIBUTE, uid, current_and_new_differ), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(v21_with(f, KMIP_OPERATION_DELETE_ATTRIBUTE, uid, no_attribute), 0,
	    KMIP_RESULT_REASON_INVALID_FIELD);
	expect_ok(v21_with(f, KMIP_OPERATION_DELETE_ATTRIBUTE, uid, delete_custom_reference), 0);
	assert_null(ttlv_find(ttlv_find(payload(uid_op(f, &f->alice, V21, KMIP_OPERATION_GET_ATTRIBUTES, uid), 0),
	    KMIP_TAG_ATTRIBUTES), KMIP_TAG_ATTRIBUTE));
}

/* The lifecycle: Activate, Revoke, Destroy, Check. */

/* Activate: Pre-Active to Active with an Activation Date, once only. */
static void
test_activate(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		assert_null(get_attr(f, &f->alice, v, uid, KMIP_TAG_ACTIVATION_DATE, 0));
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_ACTIVE);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_ACTIVATION_DATE, 0)->v.i64 > 0);
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid), 0, wrong_state(v));
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, MISSING_UID), 0, not_found(v));
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, NULL), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid), 0, wrong_state(v));
	}
}

/* Sends a Revoke of uid with reason code (0: no Revocation Reason) and a Compromise Occurrence Date (0: none). */
static struct ttlv *
revoke_req(struct fx *f, unsigned v, const char *uid, uint32_t code, int64_t occurred)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_REVOKE);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (code != 0) {
		ttlv_enc_begin(&e, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(&e, KMIP_TAG_REVOCATION_REASON_CODE, code);
		ttlv_enc_cstr(&e, KMIP_TAG_REVOCATION_MESSAGE, "engine test");
		ttlv_enc_end(&e);
	}
	if (occurred != 0)
		ttlv_enc_datetime(&e, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, occurred);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* A Revocation Reason without its code. */
static void
reason_without_code(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_REVOCATION_REASON);
	ttlv_enc_cstr(e, KMIP_TAG_REVOCATION_MESSAGE, "why not");
	ttlv_enc_end(e);
}

/* A Compromise Occurrence Date sent as a Text String. */
static void
occurrence_as_text(struct ttlv_enc *e)
{
	ttlv_enc_begin(e, KMIP_TAG_REVOCATION_REASON);
	ttlv_enc_enum(e, KMIP_TAG_REVOCATION_REASON_CODE, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE);
	ttlv_enc_end(e);
	ttlv_enc_cstr(e, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, "yesterday");
}

/*
 * Revoke: a compromise makes a live object Compromised (and a Destroyed one Destroyed Compromised), any
 * other reason deactivates a Pre-Active or Active one; the reason and dates are recorded; what is already
 * Compromised, or Deactivated for a reason that is no compromise, is in the wrong state.
 */
static void
test_revoke(void **state)
{
	struct fx *f = *state;
	const struct ttlv *rr;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		active_aes(f, &f->alice, v, uid);
		expect_fail(revoke_req(f, v, uid, 0, 0), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(v == V14 ? v14_with(f, KMIP_OPERATION_REVOKE, uid, reason_without_code) :
		    v21_with(f, KMIP_OPERATION_REVOKE, uid, reason_without_code), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(v == V14 ? v14_with(f, KMIP_OPERATION_REVOKE, uid, occurrence_as_text) :
		    v21_with(f, KMIP_OPERATION_REVOKE, uid, occurrence_as_text), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_ACTIVE);

		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_SUPERSEDED, 0), 0);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_DEACTIVATED);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_DEACTIVATION_DATE, 0)->v.i64 > 0);
		rr = get_attr(f, &f->alice, v, uid, KMIP_TAG_REVOCATION_REASON, 0);
		assert_non_null(rr);
		assert_int_equal(ttlv_find(rr, KMIP_TAG_REVOCATION_REASON_CODE)->v.u32,
		    KMIP_REVOCATION_REASON_CODE_SUPERSEDED);
		expect_fail(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_UNSPECIFIED, 0), 0, wrong_state(v));
		/* A compromise learnt later still counts. */
		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE, 1000000000), 0);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_COMPROMISED);
		assert_int_equal(get_attr(f, &f->alice, v, uid, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, 0)->v.i64,
		    1000000000);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_COMPROMISE_DATE, 0)->v.i64 > 1000000000);
		expect_fail(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_CA_COMPROMISE, 0), 0, wrong_state(v));

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE, 0), 0);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_COMPROMISED);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		expect_fail(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION, 0), 0,
		    wrong_state(v));
		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE, 0), 0);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_DESTROYED_COMPROMISED);

		expect_fail(revoke_req(f, v, MISSING_UID, KMIP_REVOCATION_REASON_CODE_UNSPECIFIED, 0), 0, not_found(v));
	}
}

/*
 * Destroy: Pre-Active, Deactivated and Compromised objects lose their key material and keep their
 * attributes; an Active one is refused unless compat.destroy_active (applied by a reload); a destroyed one
 * cannot be destroyed again.
 */
static void
test_destroy(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], active[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_DESTROYED);
		assert_true(get_attr(f, &f->alice, v, uid, KMIP_TAG_DESTROY_DATE, 0)->v.i64 > 0);
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid), 0, wrong_state(v));

		active_aes(f, &f->alice, v, active);
		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_DESTROY, active), 0, wrong_state(v));
		assert_int_equal(state_of(f, &f->alice, v, active), KMIP_STATE_ACTIVE);
		expect_ok(revoke_req(f, v, active, KMIP_REVOCATION_REASON_CODE_UNSPECIFIED, 0), 0);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, active);
		assert_int_equal(state_of(f, &f->alice, v, active), KMIP_STATE_DESTROYED);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE, 0), 0);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_DESTROYED_COMPROMISED);

		expect_fail(uid_op(f, &f->alice, v, KMIP_OPERATION_DESTROY, MISSING_UID), 0, not_found(v));
	}
	reload(f, &(struct policy_opts){ .destroy_active = true });
	active_aes(f, &f->alice, V21, active);
	uid_op_ok(f, &f->alice, V21, KMIP_OPERATION_DESTROY, active);
	assert_int_equal(state_of(f, &f->alice, V21, active), KMIP_STATE_DESTROYED);
}

/* A Usage Limits attribute: total units of unit. */
static void
a_usage_limits(struct ttlv_enc *e, unsigned v, int64_t total, uint32_t unit)
{
	attr_open(e, v, KMIP_TAG_USAGE_LIMITS);
	ttlv_enc_begin(e, vtag(v, KMIP_TAG_USAGE_LIMITS));
	ttlv_enc_long(e, KMIP_TAG_USAGE_LIMITS_TOTAL, total);
	ttlv_enc_enum(e, KMIP_TAG_USAGE_LIMITS_UNIT, unit);
	ttlv_enc_end(e);
	attr_close(e, v);
}

/* Creates an Active AES-128 key for Encrypt and Decrypt limited to total bytes. */
static void
limited_key(struct fx *f, unsigned v, int64_t total, char *uid)
{
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(&e, v);
	attrs_aes128(&e, v);
	a_int(&e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, ENC_DECRYPT);
	a_usage_limits(&e, v, total, KMIP_USAGE_LIMITS_UNIT_BYTE);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid);
}

/* Sends a Check of uid for usage mask (0: none) and count units of use (0: none). */
static struct ttlv *
check(struct fx *f, unsigned v, const char *uid, uint32_t mask, int64_t count)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CHECK);
	if (uid != NULL)
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (count != 0)
		ttlv_enc_long(&e, KMIP_TAG_USAGE_LIMITS_COUNT, count);
	if (mask != 0)
		ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, (int32_t)mask);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* Check: a use within the key's Cryptographic Usage Mask and Usage Limits passes, others are refused. */
static void
test_check(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		limited_key(f, v, 100, uid);
		resp = check(f, v, uid, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT, 0);
		expect_ok(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		expect_ok(check(f, v, uid, 0, 0), 0);
		expect_ok(check(f, v, uid, ENC_DECRYPT, 100), 0);
		expect_fail(check(f, v, uid, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, 0), 0, bad_mask(v));
		expect_fail(check(f, v, uid, 0, 101), 0, KMIP_RESULT_REASON_PERMISSION_DENIED);
		expect_fail(check(f, v, MISSING_UID, 0, 0), 0, not_found(v));
		expect_fail(check(f, v, NULL, 0, 0), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Re-key. */

/* Sends a Re-key of uid (NULL: the ID Placeholder) with an Offset (-1: none) and a Contact Information. */
static struct ttlv *
rekey(struct fx *f, struct client *c, unsigned v, const char *uid, int64_t offset, const char *contact)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_RE_KEY);
	if (uid != NULL)
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (offset >= 0)
		ttlv_enc_interval(&e, KMIP_TAG_OFFSET, (uint32_t)offset);
	if (contact != NULL) {
		attrs_begin(&e, v);
		a_text(&e, v, KMIP_TAG_CONTACT_INFORMATION, contact);
		ttlv_enc_end(&e);
	}
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* The value of the Date-Time attribute tag of uid as alice reads it (asserted present). */
static int64_t
date_attr(struct fx *f, unsigned v, const char *uid, uint32_t tag)
{
	const struct ttlv *d = get_attr(f, &f->alice, v, uid, tag, 0);

	assert_non_null(d);
	assert_int_equal(d->type, TTLV_DATE_TIME);
	return d->v.i64;
}

/* Sets the Date-Time attribute tag of uid with Set Attribute (2.x) or Add Attribute (1.x). */
static void
set_date(struct fx *f, unsigned v, const char *uid, uint32_t tag, int64_t when)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, V2(v) ? KMIP_OPERATION_SET_ATTRIBUTE : KMIP_OPERATION_ADD_ATTRIBUTE);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (V2(v))
		ttlv_enc_begin(&e, KMIP_TAG_NEW_ATTRIBUTE);
	a_date(&e, v, tag, when);
	if (V2(v))
		ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);
}

/*
 * Re-key's dates (KMIP 1.4 section 4.4): without an Offset the replacement copies the Activation, Process
 * Start, Protect Stop and Deactivation Dates, so it is Active when its predecessor was (and Deactivated
 * when that one's deactivation is past too); with an Offset it is activated Offset after now and every
 * other date keeps its distance from the activation.
 */
static void
test_rekey_dates(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], nuid[UIDLEN], late[UIDLEN];
	const uint32_t tags[] = { KMIP_TAG_ACTIVATION_DATE, KMIP_TAG_PROCESS_START_DATE, KMIP_TAG_PROTECT_STOP_DATE,
	    KMIP_TAG_DEACTIVATION_DATE };
	struct ttlv *resp;
	int64_t act, now;
	unsigned i, j;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, ENC_DECRYPT, NULL, uid);
		set_date(f, v, uid, KMIP_TAG_PROCESS_START_DATE, time(NULL) + 60);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid);
		set_date(f, v, uid, KMIP_TAG_PROTECT_STOP_DATE, time(NULL) + 3600);
		set_date(f, v, uid, KMIP_TAG_DEACTIVATION_DATE, time(NULL) + 7200);
		act = date_attr(f, v, uid, KMIP_TAG_ACTIVATION_DATE);

		resp = rekey(f, &f->alice, v, uid, -1, NULL);
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, nuid);
		assert_int_equal(state_of(f, &f->alice, v, nuid), KMIP_STATE_ACTIVE);
		for (j = 0; j < sizeof(tags) / sizeof(tags[0]); j++)
			assert_int_equal(date_attr(f, v, nuid, tags[j]), date_attr(f, v, uid, tags[j]));

		now = time(NULL);	/* the engine reads the same clock, through time() too */
		resp = rekey(f, &f->alice, v, uid, 600, NULL);
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, nuid);
		assert_int_equal(state_of(f, &f->alice, v, nuid), KMIP_STATE_PRE_ACTIVE);
		assert_true(date_attr(f, v, nuid, KMIP_TAG_ACTIVATION_DATE) >= now + 600);
		assert_true(date_attr(f, v, nuid, KMIP_TAG_ACTIVATION_DATE) <= time(NULL) + 600);
		for (j = 1; j < sizeof(tags) / sizeof(tags[0]); j++)
			assert_int_equal(date_attr(f, v, nuid, tags[j]) - date_attr(f, v, nuid, KMIP_TAG_ACTIVATION_DATE),
			    date_attr(f, v, uid, tags[j]) - act);

		/* A key whose deactivation is past: its replacement is Deactivated too. */
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, ENC_DECRYPT, NULL, late);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, late);
		set_date(f, v, late, KMIP_TAG_DEACTIVATION_DATE, time(NULL) - 1);
		resp = rekey(f, &f->alice, v, late, -1, NULL);
		expect_ok(resp, 0);
		assert_int_equal(state_of(f, &f->alice, v, ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER)),
		    KMIP_STATE_DEACTIVATED);
	}
}

/* An Offset sent as an Integer instead of an Interval. */
static void
offset_as_integer(struct ttlv_enc *e)
{
	ttlv_enc_int(e, KMIP_TAG_OFFSET, 10);
}

/*
 * Re-key: a new key of the same algorithm and length with new bytes, linked both ways to the one it
 * replaces, taking over its Names and inheriting its other attributes (the request's own override them)
 * and, without an Offset, its lifecycle dates: re-keying an Active key gives an Active key. Active at once
 * with an Offset of 0. Refused for a destroyed key or one that is no symmetric key.
 */
static void
test_rekey(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], priv[UIDLEN], pub[UIDLEN], nuid[UIDLEN];
	const uint8_t *old_raw, *new_raw;
	uint8_t old_copy[32];
	struct ttlv_enc e;
	struct ttlv *resp;
	size_t len;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *name = V2(v) ? "rekeyed-21" : "rekeyed-14";

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, ENC_DECRYPT, name, uid);
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE, .tag = KMIP_TAG_DESCRIPTION,
		    .value = "inherited", .index = -1 }, 0);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid);
		old_raw = raw_key(f, &f->alice, v, uid, &len);
		memcpy(old_copy, old_raw, sizeof(old_copy));

		resp = rekey(f, &f->alice, v, uid, -1, "new-contact");
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, nuid);
		assert_string_not_equal(nuid, uid);
		assert_int_equal(state_of(f, &f->alice, v, nuid), KMIP_STATE_ACTIVE);
		assert_int_equal(date_attr(f, v, nuid, KMIP_TAG_ACTIVATION_DATE), date_attr(f, v, uid,
		    KMIP_TAG_ACTIVATION_DATE));
		assert_int_equal(get_attr(f, &f->alice, v, nuid, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 256);
		assert_int_equal(get_attr(f, &f->alice, v, nuid, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 0)->v.u32,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		assert_string_equal(name_of(f, &f->alice, v, nuid, 0), name);
		assert_string_equal(name_of(f, &f->alice, v, uid, 0), "");
		assert_string_equal(text_attr(f, v, nuid, KMIP_TAG_DESCRIPTION, 0), "inherited");
		assert_string_equal(text_attr(f, v, nuid, KMIP_TAG_CONTACT_INFORMATION, 0), "new-contact");
		assert_true(has_link(f, &f->alice, v, nuid, KMIP_LINK_TYPE_REPLACED_OBJECT_LINK, uid));
		assert_true(has_link(f, &f->alice, v, uid, KMIP_LINK_TYPE_REPLACEMENT_OBJECT_LINK, nuid));
		new_raw = raw_key(f, &f->alice, v, nuid, &len);
		assert_int_equal(len, 32);
		assert_memory_not_equal(new_raw, old_copy, 32);
		/* The old key stays usable as it was. */
		assert_int_equal(state_of(f, &f->alice, v, uid), KMIP_STATE_ACTIVE);

		resp = rekey(f, &f->alice, v, nuid, 0, NULL);
		expect_ok(resp, 0);
		assert_int_equal(state_of(f, &f->alice, v, ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER)),
		    KMIP_STATE_ACTIVE);

		expect_fail(rekey(f, &f->alice, v, MISSING_UID, -1, NULL), 0, not_found(v));
		expect_fail(rekey(f, &f->alice, v, NULL, -1, NULL), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, uid);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, uid);
		expect_fail(rekey(f, &f->alice, v, uid, -1, NULL), 0, wrong_state(v));
		ec_pair(f, &f->alice, v, priv, pub);
		expect_fail(rekey(f, &f->alice, v, priv, -1, NULL), 0, KMIP_RESULT_REASON_INVALID_FIELD);

		req_begin(&e, v, 1);
		item_begin(&e, KMIP_OPERATION_RE_KEY);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, nuid);
		offset_as_integer(&e);
		item_end(&e);
		req_end(&e);
		expect_fail(call(f, &f->alice, &e), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Locate and who sees what. */

/* Locate criteria. */
struct locate_q {
	const char *name;		/* a Name, NULL: none */
	const char *group;		/* an Object Group, NULL: none */
	uint32_t type;			/* Object Type, 0: none */
	uint32_t state;			/* State, 0: none */
	int max;			/* Maximum Items, -1: none */
	int offset;			/* Offset Items, -1: none */
	int status_mask;		/* Storage Status Mask, -1: none */
	bool wrapped;			/* 1.x criteria inside a Template-Attribute */
};

/* Sends a Locate of q as c at version v. */
static struct ttlv *
locate(struct fx *f, struct client *c, unsigned v, const struct locate_q *q)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_LOCATE);
	if (q->max >= 0)
		ttlv_enc_int(&e, KMIP_TAG_MAXIMUM_ITEMS, q->max);
	if (q->offset >= 0)
		ttlv_enc_int(&e, KMIP_TAG_OFFSET_ITEMS, q->offset);
	if (q->status_mask >= 0)
		ttlv_enc_int(&e, KMIP_TAG_STORAGE_STATUS_MASK, q->status_mask);
	if (V2(v) || q->wrapped)
		attrs_begin(&e, v);
	if (q->type != 0)
		a_enum(&e, v, KMIP_TAG_OBJECT_TYPE, q->type);
	if (q->state != 0)
		a_enum(&e, v, KMIP_TAG_STATE, q->state);
	if (q->name != NULL)
		a_name(&e, v, q->name);
	if (q->group != NULL)
		a_text(&e, v, KMIP_TAG_OBJECT_GROUP, q->group);
	if (V2(v) || q->wrapped)
		ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* The identifiers a Locate response lists, comma-separated in order, into buf. */
static const char *
located(const struct ttlv *resp, char *buf, size_t size)
{
	const struct ttlv *u;
	size_t n = 0;

	expect_ok(resp, 0);
	buf[0] = '\0';
	for (u = ttlv_find(payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); u != NULL; u = ttlv_find_next(u))
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n > 0 ? "," : "", (const char *)u->v.bytes.data);
	return buf;
}

/* Located Items of a Locate response, -1 when absent. */
static int
located_items(const struct ttlv *resp)
{
	const struct ttlv *t = ttlv_find(payload(resp, 0), KMIP_TAG_LOCATED_ITEMS);

	return t != NULL ? t->v.i32 : -1;
}

/* Creates an AES-128 key as c in group (and named name, NULL: none). */
static void
grouped_key(struct fx *f, struct client *c, unsigned v, const char *group, const char *name, char *uid)
{
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(&e, v);
	attrs_aes128(&e, v);
	a_text(&e, v, KMIP_TAG_OBJECT_GROUP, group);
	if (name != NULL)
		a_name(&e, v, name);
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	resp = call(f, c, &e);
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
}

/* A negative Maximum Items. */
static void
locate_negative_max(struct ttlv_enc *e, unsigned v)
{
	(void)v;
	ttlv_enc_int(e, KMIP_TAG_MAXIMUM_ITEMS, -1);
}

/* A criterion that names no attribute kmipd knows (1.x by name, 2.x by tag). */
static void
locate_unknown_filter(struct ttlv_enc *e, unsigned v)
{
	if (V2(v)) {
		ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTES);
		ttlv_enc_cstr(e, KMIP_TAG_DATA, "not an attribute");
		ttlv_enc_end(e);
		return;
	}
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Frobnication Level");
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, 1);
	ttlv_enc_end(e);
}

/* Sends a Locate whose payload fn writes. */
static struct ttlv *
locate_with(struct fx *f, unsigned v, void (*fn)(struct ttlv_enc *, unsigned))
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_LOCATE);
	fn(&e, v);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/*
 * Locate: the caller's objects matching every criterion, newest first, paged by Maximum and Offset Items
 * with Located Items counting every match (1.3 and later, when paging was asked); another owner's objects
 * are not found, an administrator's Locate finds everyone's; malformed criteria are Invalid Field.
 */
static void
test_locate(void **state)
{
	struct fx *f = *state;
	char k1[UIDLEN], k2[UIDLEN], k3[UIDLEN], b1[UIDLEN], newest14[UIDLEN], buf[512], want[512];
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *group = V2(v) ? "locate-21" : "locate-14";

		grouped_key(f, &f->alice, v, group, V2(v) ? "loc-one-21" : "loc-one-14", k1);
		grouped_key(f, &f->alice, v, group, NULL, k2);
		grouped_key(f, &f->alice, v, group, NULL, k3);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, k2);
		if (!V2(v))
			strcpy(newest14, k3);
		grouped_key(f, &f->bob, v, group, V2(v) ? "loc-one-21" : "loc-one-14", b1);

		snprintf(want, sizeof(want), "%s,%s,%s", k3, k2, k1);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .max = -1, .offset = -1,
		    .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		assert_int_equal(located_items(resp), -1);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group,
		    .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY,
		    .max = -1, .offset = -1, .status_mask = -1, .wrapped = true });
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .type = KMIP_OBJECT_TYPE_SECRET_DATA,
		    .max = -1, .offset = -1, .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), "");

		resp = locate(f, &f->alice, v, &(struct locate_q){ .name = V2(v) ? "loc-one-21" : "loc-one-14",
		    .max = -1, .offset = -1, .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), k1);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .state = KMIP_STATE_ACTIVE,
		    .max = -1,
		    .offset = -1, .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), k2);

		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .max = 2, .offset = -1,
		    .status_mask = -1 });
		snprintf(want, sizeof(want), "%s,%s", k3, k2);
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		assert_int_equal(located_items(resp), -1);	/* Maximum Items alone is not paging */
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .max = 2, .offset = 0,
		    .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		assert_int_equal(located_items(resp), 3);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .max = 1, .offset = 2,
		    .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), k1);
		assert_int_equal(located_items(resp), 3);
		resp = locate(f, &f->alice, v, &(struct locate_q){ .group = group, .max = -1, .offset = -1,
		    .status_mask = STORE_STATUS_ARCHIVAL });
		assert_string_equal(located(resp, buf, sizeof(buf)), "");

		/* The administrator finds bob's key too. */
		resp = locate(f, &f->admin, v, &(struct locate_q){ .group = group, .max = -1, .offset = -1,
		    .status_mask = -1 });
		snprintf(want, sizeof(want), "%s,%s,%s,%s", b1, k3, k2, k1);
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		resp = locate(f, &f->bob, v, &(struct locate_q){ .group = group, .max = -1, .offset = -1,
		    .status_mask = -1 });
		assert_string_equal(located(resp, buf, sizeof(buf)), b1);
	}
	/* Located Items came with 1.3: a 1.2 client asking for one item does not get it. */
	resp = locate(f, &f->alice, KMIP_VERSION(1, 2), &(struct locate_q){ .group = "locate-14", .max = 1,
	    .offset = -1, .status_mask = -1 });
	assert_string_equal(located(resp, buf, sizeof(buf)), newest14);
	assert_int_equal(located_items(resp), -1);
	expect_fail(locate_with(f, V14, locate_negative_max), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(locate_with(f, V14, locate_unknown_filter), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(locate_with(f, V21, locate_unknown_filter), 0, KMIP_RESULT_REASON_INVALID_FIELD);
}

/* Cryptographic requests. */

/* The fields of an Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify or Hash request. */
struct cx {
	uint32_t mode;			/* Cryptographic Parameters (all 0: none) */
	uint32_t padding;
	uint32_t hash;
	uint32_t alg;
	uint32_t dsa;			/* Digital Signature Algorithm */
	int tag_len;			/* 0: none */
	const void *data;		/* Data, NULL: none */
	size_t len;
	const void *digested;		/* Digested Data, NULL: none */
	size_t digested_len;
	const void *iv;			/* IV/Counter/Nonce, NULL: none */
	size_t iv_len;
	const void *aad;		/* Authenticated Encryption Additional Data */
	size_t aad_len;
	const void *tag;		/* Authenticated Encryption Tag */
	size_t tag_bytes;
	const void *signature;		/* Signature Data */
	size_t sig_len;
	const void *mac;		/* MAC Data */
	size_t mac_len;
	const struct ttlv *corr;	/* Correlation Value, NULL: none */
	int init;			/* Init Indicator: 1, 0, or -1 for none */
	int final;			/* Final Indicator: 1, 0, or -1 for none */
};

/* Writes the payload fields of x after the Unique Identifier (uid NULL: none). */
static void
enc_cx(struct ttlv_enc *e, const char *uid, const struct cx *x)
{
	if (uid != NULL)
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (x->mode != 0 || x->padding != 0 || x->hash != 0 || x->alg != 0 || x->dsa != 0 || x->tag_len != 0) {
		ttlv_enc_begin(e, KMIP_TAG_CRYPTOGRAPHIC_PARAMETERS);
		if (x->mode != 0)
			ttlv_enc_enum(e, KMIP_TAG_BLOCK_CIPHER_MODE, x->mode);
		if (x->padding != 0)
			ttlv_enc_enum(e, KMIP_TAG_PADDING_METHOD, x->padding);
		if (x->hash != 0)
			ttlv_enc_enum(e, KMIP_TAG_HASHING_ALGORITHM, x->hash);
		if (x->dsa != 0)
			ttlv_enc_enum(e, KMIP_TAG_DIGITAL_SIGNATURE_ALGORITHM, x->dsa);
		if (x->alg != 0)
			ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, x->alg);
		if (x->tag_len != 0)
			ttlv_enc_int(e, KMIP_TAG_TAG_LENGTH, x->tag_len);
		ttlv_enc_end(e);
	}
	if (x->data != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_DATA, x->data, x->len);
	if (x->digested != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_DIGESTED_DATA, x->digested, x->digested_len);
	if (x->signature != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_SIGNATURE_DATA, x->signature, x->sig_len);
	if (x->mac != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_MAC_DATA, x->mac, x->mac_len);
	if (x->iv != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_IV_COUNTER_NONCE, x->iv, x->iv_len);
	if (x->corr != NULL)
		ttlv_enc_item(e, x->corr);
	if (x->init >= 0)
		ttlv_enc_bool(e, KMIP_TAG_INIT_INDICATOR, x->init);
	if (x->final >= 0)
		ttlv_enc_bool(e, KMIP_TAG_FINAL_INDICATOR, x->final);
	if (x->aad != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, x->aad, x->aad_len);
	if (x->tag != NULL)
		ttlv_enc_bytes(e, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, x->tag, x->tag_bytes);
}

/* Sends op on uid with the fields of x as c. */
static struct ttlv *
crypto_req(struct fx *f, struct client *c, unsigned v, uint32_t op, const char *uid, const struct cx *x)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, op);
	enc_cx(&e, uid, x);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* A single-part request: no indicators. */
#define CX(...)	((struct cx){ .init = -1, .final = -1, __VA_ARGS__ })

static const uint8_t plain16[16] = "sixteen bytes!!";
static const uint8_t iv16[16] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac,
    0xad, 0xae, 0xaf };

/* Another owner's objects. */

/* What a request for an operation needs, written for the object uid. */
static void
enc_any(struct ttlv_enc *e, unsigned v, uint32_t op, const char *uid)
{
	switch (op) {
	case KMIP_OPERATION_ADD_ATTRIBUTE:
	case KMIP_OPERATION_MODIFY_ATTRIBUTE:
	case KMIP_OPERATION_SET_ATTRIBUTE:
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		if (V2(v))
			ttlv_enc_begin(e, KMIP_TAG_NEW_ATTRIBUTE);
		a_text(e, v, KMIP_TAG_DESCRIPTION, "written by someone else");
		if (V2(v))
			ttlv_enc_end(e);
		break;
	case KMIP_OPERATION_DELETE_ATTRIBUTE:
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		if (V2(v))
			ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_REFERENCE, KMIP_TAG_DESCRIPTION);
		else
			ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Description");
		break;
	case KMIP_OPERATION_REVOKE:
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		ttlv_enc_begin(e, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(e, KMIP_TAG_REVOCATION_REASON_CODE, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE);
		ttlv_enc_end(e);
		break;
	case KMIP_OPERATION_RE_KEY_KEY_PAIR:
		ttlv_enc_cstr(e, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, uid);
		break;
	case KMIP_OPERATION_ENCRYPT:
	case KMIP_OPERATION_SIGN:
	case KMIP_OPERATION_MAC:
		enc_cx(e, uid, &CX(.data = plain16, .len = 16));
		break;
	case KMIP_OPERATION_DECRYPT:
		enc_cx(e, uid, &CX(.data = plain16, .len = 16, .iv = iv16, .iv_len = 16));
		break;
	case KMIP_OPERATION_SIGNATURE_VERIFY:
		enc_cx(e, uid, &CX(.data = plain16, .len = 16, .signature = plain16, .sig_len = 16));
		break;
	case KMIP_OPERATION_MAC_VERIFY:
		enc_cx(e, uid, &CX(.data = plain16, .len = 16, .mac = plain16, .mac_len = 16));
		break;
	case KMIP_OPERATION_CHECK:
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
		break;
	default:
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		break;
	}
}

/* Sends op on uid as c, with what the operation needs. */
static struct ttlv *
any_op(struct fx *f, struct client *c, unsigned v, uint32_t op, const char *uid)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, op);
	enc_any(&e, v, op, uid);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* Copies s into out with every occurrence of from replaced by to. */
static void
replace_all(const char *s, const char *from, const char *to, char *out, size_t size)
{
	size_t n = 0, flen = strlen(from);
	const char *hit;

	while ((hit = strstr(s, from)) != NULL && n < size) {
		n += (size_t)snprintf(out + n, size - n, "%.*s%s", (int)(hit - s), s, to);
		s = hit + flen;
	}
	if (n < size)
		snprintf(out + n, size - n, "%s", s);
}

/* Asserts that a failed response about uid reads exactly like the one about MISSING_UID. */
static void
expect_like_missing(const struct ttlv *theirs, const struct ttlv *missing, const char *uid)
{
	const struct ttlv *a = bitem(theirs, 0), *b = bitem(missing, 0);
	char msg[512];

	assert_int_equal(rstatus(theirs, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(rreason(theirs, 0), rreason(missing, 0));
	assert_int_equal(ttlv_find(a, KMIP_TAG_OPERATION)->v.u32, ttlv_find(b, KMIP_TAG_OPERATION)->v.u32);
	assert_null(payload(theirs, 0));
	assert_int_equal(ttlv_count(a, KMIP_TAG_RESULT_MESSAGE), ttlv_count(b, KMIP_TAG_RESULT_MESSAGE));
	replace_all(rmessage(theirs, 0), uid, MISSING_UID, msg, sizeof(msg));
	assert_string_equal(msg, rmessage(missing, 0));
}

/*
 * Every operation on an object of another owner (Get, attributes, lifecycle, Re-key, Re-key Key Pair,
 * cryptographic use, Check) is answered exactly like one on an object that does not exist, at 1.4 and
 * 2.1; the owner's object is untouched, and the administrator does see it.
 */
static void
test_other_owner_like_missing(void **state)
{
	static const uint32_t ops[] = { KMIP_OPERATION_GET, KMIP_OPERATION_GET_ATTRIBUTES,
	    KMIP_OPERATION_GET_ATTRIBUTE_LIST, KMIP_OPERATION_ADD_ATTRIBUTE, KMIP_OPERATION_MODIFY_ATTRIBUTE,
	    KMIP_OPERATION_DELETE_ATTRIBUTE, KMIP_OPERATION_SET_ATTRIBUTE, KMIP_OPERATION_ACTIVATE,
	    KMIP_OPERATION_REVOKE, KMIP_OPERATION_DESTROY, KMIP_OPERATION_RE_KEY, KMIP_OPERATION_RE_KEY_KEY_PAIR,
	    KMIP_OPERATION_ENCRYPT, KMIP_OPERATION_DECRYPT, KMIP_OPERATION_SIGN, KMIP_OPERATION_SIGNATURE_VERIFY,
	    KMIP_OPERATION_MAC, KMIP_OPERATION_MAC_VERIFY, KMIP_OPERATION_CHECK };
	struct fx *f = *state;
	char aes[UIDLEN], idle[UIDLEN], hmac[UIDLEN], priv[UIDLEN], pub[UIDLEN], buf[64];
	struct ttlv *theirs, *missing;
	const char *target;
	size_t k;
	unsigned i;

	active_aes(f, &f->alice, V21, aes);
	create_key(f, &f->alice, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, "alice-private", idle);
	create_key(f, &f->alice, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, 256, 0, NULL, hmac);
	uid_op_ok(f, &f->alice, V21, KMIP_OPERATION_ACTIVATE, hmac);
	ec_pair(f, &f->alice, V21, priv, pub);
	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			if (ops[k] == KMIP_OPERATION_SET_ATTRIBUTE && !V2(v))
				continue;
			switch (ops[k]) {
			case KMIP_OPERATION_SIGN:
			case KMIP_OPERATION_RE_KEY_KEY_PAIR:
				target = priv;
				break;
			case KMIP_OPERATION_SIGNATURE_VERIFY:
				target = pub;
				break;
			case KMIP_OPERATION_MAC:
			case KMIP_OPERATION_MAC_VERIFY:
				target = hmac;
				break;
			case KMIP_OPERATION_ACTIVATE:
				target = idle;
				break;
			default:
				target = aes;
				break;
			}
			theirs = any_op(f, &f->bob, v, ops[k], target);
			missing = any_op(f, &f->bob, v, ops[k], MISSING_UID);
			if (rstatus(theirs, 0) == KMIP_RESULT_STATUS_SUCCESS)
				fail_msg("bob's %s of alice's %s succeeded at %u.%u",
				    ttlv_enum_name(KMIP_TAG_OPERATION, ops[k]), target, KMIP_VERSION_MAJOR(v),
				    KMIP_VERSION_MINOR(v));
			expect_fail(missing, 0, not_found(v));
			expect_like_missing(theirs, missing, target);
		}
	}
	/* Nothing of alice's changed. */
	assert_int_equal(state_of(f, &f->alice, V21, aes), KMIP_STATE_ACTIVE);
	assert_int_equal(state_of(f, &f->alice, V21, idle), KMIP_STATE_PRE_ACTIVE);
	assert_string_equal(text_attr(f, V21, aes, KMIP_TAG_DESCRIPTION, 0), "");
	assert_true(get_attr(f, &f->alice, V21, idle, KMIP_TAG_FRESH, 0)->v.b);
	assert_string_equal(located(locate(f, &f->bob, V21, &(struct locate_q){ .name = "alice-private", .max = -1,
	    .offset = -1, .status_mask = -1 }), buf, sizeof(buf)), "");
	/* The administrator sees and may change it. */
	expect_ok(get_req(f, &f->admin, V14, idle, 0), 0);
	uid_op_ok(f, &f->admin, V21, KMIP_OPERATION_ACTIVATE, idle);
	assert_int_equal(state_of(f, &f->alice, V21, idle), KMIP_STATE_ACTIVE);
}

/* Encrypt and Decrypt. */

/* Runs the cipher name locally (enc 1 or 0); returns the output length. */
static size_t
local_cipher(const char *name, const uint8_t *key, const uint8_t *iv, const uint8_t *in, size_t len, int enc,
    bool padding, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
	int n = 0, fin = 0;

	assert_non_null(c);
	assert_non_null(cipher);
	assert_int_equal(EVP_CipherInit_ex2(c, cipher, key, iv, enc, NULL), 1);
	EVP_CIPHER_CTX_set_padding(c, padding);
	assert_int_equal(EVP_CipherUpdate(c, out, &n, in, (int)len), 1);
	assert_int_equal(EVP_CipherFinal_ex(c, out + n, &fin), 1);
	EVP_CIPHER_free(cipher);
	EVP_CIPHER_CTX_free(c);
	return (size_t)(n + fin);
}

/* A payload's Byte String field, copied into out (at most size bytes); returns its length. */
static size_t
copy_bytes(const struct ttlv *resp, uint32_t tag, uint8_t *out, size_t size)
{
	const struct ttlv *t = pbytes(resp, 0, tag);

	assert_true(t->length <= size);
	memcpy(out, t->v.bytes.data, t->length);
	return t->length;
}

/*
 * Symmetric Encrypt and Decrypt: AES-CBC with PKCS#5 padding and a server-chosen IV (checked against
 * OpenSSL), AES-ECB, AES-GCM with additional data and tag, Triple DES, ChaCha20-Poly1305 (a registered key);
 * and the refusals: a tag that does not match, data that does not fit the mode, a missing or wrong-size IV,
 * a bad Tag Length, a mode the key cannot do, no Data.
 */
static void
test_encrypt_decrypt(void **state)
{
	static const uint8_t iv12[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const uint8_t chacha[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6,
	    5, 4, 3, 2, 1, 0, 9, 8 };
	static const char aad[] = "header";
	struct fx *f = *state;
	uint8_t ct[64], tag[16], iv[16], local[64], bad_tag[16];
	char uid[UIDLEN], des[UIDLEN], cc[UIDLEN];
	const uint8_t *key;
	struct ttlv *resp;
	size_t ct_len, n, keylen;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		active_aes(f, &f->alice, v, uid);
		key = raw_key(f, &f->alice, v, uid, &keylen);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .padding = KMIP_PADDING_METHOD_PKCS5, .data = plain16, .len = 16));
		expect_ok(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
		assert_int_equal(ct_len, 32);
		assert_int_equal(copy_bytes(resp, KMIP_TAG_IV_COUNTER_NONCE, iv, sizeof(iv)), 16);
		n = local_cipher("AES-256-CBC", key, iv, ct, ct_len, 0, true, local);
		assert_int_equal(n, 16);
		assert_memory_equal(local, plain16, 16);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .padding = KMIP_PADDING_METHOD_PKCS5, .data = ct, .len = ct_len, .iv = iv, .iv_len = 16));
		expect_ok(resp, 0);
		assert_int_equal(pbytes(resp, 0, KMIP_TAG_DATA)->length, 16);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain16, 16);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC, .data = ct, .len = ct_len)), 0,
		    KMIP_RESULT_REASON_INVALID_MESSAGE);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .data = plain16, .len = 15)), 0, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .data = plain16, .len = 16, .iv = iv12, .iv_len = 12)), 0, KMIP_RESULT_REASON_INVALID_FIELD);

		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_ECB,
		    .data = plain16, .len = 16));
		expect_ok(resp, 0);
		assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_IV_COUNTER_NONCE));
		n = local_cipher("AES-256-ECB", key, NULL, plain16, 16, 1, false, local);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, local, n);

		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
		    .data = plain16, .len = 16, .iv = iv12, .iv_len = 12, .aad = aad, .aad_len = 6));
		expect_ok(resp, 0);
		ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
		assert_int_equal(copy_bytes(resp, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, sizeof(tag)), 16);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
		    .data = ct, .len = ct_len, .iv = iv12, .iv_len = 12, .aad = aad, .aad_len = 6, .tag = tag,
		    .tag_bytes = 16));
		expect_ok(resp, 0);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain16, 16);
		memcpy(bad_tag, tag, 16);
		bad_tag[0] ^= 1;
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
		    .data = ct, .len = ct_len, .iv = iv12, .iv_len = 12, .aad = aad, .aad_len = 6, .tag = bad_tag,
		    .tag_bytes = 16)), 0, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
		    .data = ct, .len = ct_len, .iv = iv12, .iv_len = 12)), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
		    .tag_len = 3, .data = plain16, .len = 16, .iv = iv12, .iv_len = 12)), 0,
		    KMIP_RESULT_REASON_GENERAL_FAILURE);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CMAC,
		    .data = plain16, .len = 16)), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, MISSING_UID, &CX(.data = plain16,
		    .len = 16)), 0, not_found(v));

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_3DES, 168, ENC_DECRYPT, NULL, des);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, des);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, des, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .data = plain16, .len = 16, .iv = iv16, .iv_len = 8));
		expect_ok(resp, 0);
		ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, des, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC,
		    .data = ct, .len = ct_len, .iv = iv16, .iv_len = 8));
		expect_ok(resp, 0);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain16, 16);

		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_RAW, .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20POLY1305,
		    .bits = 256,
		    .material = chacha, .len = sizeof(chacha), .mask = ENC_DECRYPT }, cc);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, cc);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, cc, &CX(.data = plain16, .len = 16,
		    .iv = iv12, .iv_len = 12));
		expect_ok(resp, 0);
		ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
		copy_bytes(resp, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, sizeof(tag));
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, cc, &CX(.data = ct, .len = ct_len,
		    .iv = iv12, .iv_len = 12, .tag = tag, .tag_bytes = 16));
		expect_ok(resp, 0);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain16, 16);

		/*
		 * A ChaCha20 key of another length than 32 bytes is never handed to OpenSSL, which reads 32: Register
		 * refuses it (ChaCha20 keys are 256 bits).
		 */
		expect_fail(register_req(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_RAW, .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20, .bits = 8,
		    .material = chacha, .len = 1, .mask = ENC_DECRYPT }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		/* The request cannot make a key another algorithm's: the 3DES key stays 3DES. */
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, des, &CX(
		    .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_CHACHA20, .data = plain16, .len = 16, .iv = iv12, .iv_len = 12)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Creates an Active AES-256 key with mask and one lifecycle date attribute (tag 0: none) set to when. */
static void
dated_key(struct fx *f, unsigned v, uint32_t mask, uint32_t tag, int64_t when, char *uid)
{
	create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, mask, NULL, uid);
	if (tag != 0)
		edit_ok(f, v, uid, &(struct edit){ .op = KMIP_OPERATION_ADD_ATTRIBUTE, .tag = tag, .num = when,
		    .index = -1 }, 0);
	uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, uid);
}

/*
 * Which keys may be used: only Active ones, only for what their Cryptographic Usage Mask allows (a 2.x
 * reason of its own), protecting until the Protect Stop Date, processing from the Process Start Date.
 */
static void
test_crypto_key_rules(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	uint8_t ct[32];
	struct ttlv *resp;
	size_t ct_len;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		struct cx enc = CX(.mode = KMIP_BLOCK_CIPHER_MODE_ECB, .data = plain16, .len = 16);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, ENC_DECRYPT, NULL, uid);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0, wrong_state(v));
		dated_key(f, v, KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT, 0, 0, uid);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0, bad_mask(v));
		expect_ok(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &enc), 0);
		expect_ok(revoke_req(f, v, uid, KMIP_REVOCATION_REASON_CODE_UNSPECIFIED, 0), 0);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &enc), 0, wrong_state(v));

		dated_key(f, v, ENC_DECRYPT, KMIP_TAG_PROTECT_STOP_DATE, time(NULL) - 10, uid);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0, wrong_state(v));
		expect_ok(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &enc), 0);

		dated_key(f, v, ENC_DECRYPT, KMIP_TAG_PROCESS_START_DATE, time(NULL) + 3600, uid);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc);
		expect_ok(resp, 0);
		ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_ECB,
		    .data = ct, .len = ct_len)), 0, wrong_state(v));
	}
}

/*
 * Usage Limits: each Encrypt is charged (in bytes) before it runs, and once the limit is reached the key
 * is refused with Permission Denied; Check sees what is left.
 */
static void
test_usage_limits(void **state)
{
	struct fx *f = *state;
	struct cx enc = CX(.mode = KMIP_BLOCK_CIPHER_MODE_ECB, .data = plain16, .len = 16);
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		limited_key(f, v, 40, uid);
		expect_ok(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0);
		expect_ok(check(f, v, uid, 0, 24), 0);
		expect_ok(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0);
		expect_fail(check(f, v, uid, 0, 9), 0, KMIP_RESULT_REASON_PERMISSION_DENIED);
		expect_ok(check(f, v, uid, 0, 8), 0);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid, &enc), 0,
		    KMIP_RESULT_REASON_PERMISSION_DENIED);
		/* Decrypting is not charged. */
		expect_ok(crypto_req(f, &f->alice, v, KMIP_OPERATION_DECRYPT, uid, &enc), 0);
		expect_ok(check(f, v, uid, 0, 8), 0);
	}
}

/*
 * Multi-part Encrypt and Decrypt: Init Indicator opens a context under a Correlation Value, later parts
 * carry it, Final Indicator closes it (AES-GCM: the tag comes with the last part). A Correlation Value
 * that is unknown, closed, or used with another key is refused; a connection holds at most 8 contexts.
 */
static void
test_encrypt_multi_part(void **state)
{
	static const uint8_t iv12[12] = { 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	static const uint8_t plain[40] = "forty bytes of plain text in three parts";
	struct fx *f = *state;
	uint8_t ct[64], tag[16];
	char uid[UIDLEN], other[UIDLEN];
	const struct ttlv *corr, *c2;
	struct ttlv *resp;
	size_t n = 0;
	unsigned i;

	active_aes(f, &f->alice, V14, uid);
	active_aes(f, &f->alice, V14, other);
	resp = crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){
	    .mode = KMIP_BLOCK_CIPHER_MODE_GCM, .data = plain, .len = 10, .iv = iv12, .iv_len = 12, .init = 1,
	    .final = 0 });
	expect_ok(resp, 0);
	corr = pbytes(resp, 0, KMIP_TAG_CORRELATION_VALUE);
	assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG));
	n += copy_bytes(resp, KMIP_TAG_DATA, ct + n, sizeof(ct) - n);
	resp = crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){ .data = plain + 10, .len = 20,
	    .corr = corr, .init = -1, .final = 0 });
	expect_ok(resp, 0);
	c2 = pbytes(resp, 0, KMIP_TAG_CORRELATION_VALUE);
	assert_memory_equal(c2->v.bytes.data, corr->v.bytes.data, corr->length);
	n += copy_bytes(resp, KMIP_TAG_DATA, ct + n, sizeof(ct) - n);
	/* The context belongs to uid: another key cannot continue it. */
	expect_fail(crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, other, &(struct cx){ .data = plain,
	    .len = 1, .corr = corr, .init = -1, .final = 0 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	resp = crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){ .data = plain + 30,
	    .len = 10, .corr = corr, .init = -1, .final = 1 });
	expect_ok(resp, 0);
	n += copy_bytes(resp, KMIP_TAG_DATA, ct + n, sizeof(ct) - n);
	assert_int_equal(n, sizeof(plain));
	assert_int_equal(copy_bytes(resp, KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG, tag, sizeof(tag)), 16);
	resp = crypto_req(f, &f->alice, V14, KMIP_OPERATION_DECRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_GCM,
	    .data = ct, .len = n, .iv = iv12, .iv_len = 12, .tag = tag, .tag_bytes = 16));
	expect_ok(resp, 0);
	assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain, sizeof(plain));
	/* Closed now. */
	expect_fail(crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){ .data = plain, .len = 1,
	    .corr = corr, .init = -1, .final = 1 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	/* Not the first part and no Correlation Value. */
	expect_fail(crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){ .data = plain, .len = 16,
	    .init = 0, .final = 1 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	/* Eight contexts at most per session; session_free (at teardown) frees those left open. */
	for (i = 0; i < 8; i++)
		expect_ok(crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){
		    .mode = KMIP_BLOCK_CIPHER_MODE_ECB, .data = plain, .len = 16, .init = 1, .final = 0 }), 0);
	expect_fail(crypto_req(f, &f->alice, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){
	    .mode = KMIP_BLOCK_CIPHER_MODE_ECB, .data = plain, .len = 16, .init = 1, .final = 0 }), 0,
	    KMIP_RESULT_REASON_PERMISSION_DENIED);	/* 2.x: Server Limit Exceeded */
	/* Another session has its own. */
	expect_ok(crypto_req(f, &f->admin, V14, KMIP_OPERATION_ENCRYPT, uid, &(struct cx){
	    .mode = KMIP_BLOCK_CIPHER_MODE_ECB, .data = plain, .len = 16, .init = 1, .final = 0 }), 0);
}

/* Sign and Signature Verify. */

/* Verifies an ECDSA-SHA256 signature with a local key: 1 valid, 0 not. */
static int
local_verify(EVP_PKEY *k, const EVP_MD *md, const uint8_t *sig, size_t sig_len, const void *data, size_t len)
{
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	int rc;

	assert_non_null(mc);
	assert_int_equal(EVP_DigestVerifyInit(mc, NULL, md, NULL, k), 1);
	rc = EVP_DigestVerify(mc, sig, sig_len, data, len);
	EVP_MD_CTX_free(mc);
	return rc;
}

/* Sends a Signature Verify of sig over data with pub; returns the Validity Indicator. */
static uint32_t
verify(struct fx *f, unsigned v, const char *pub, const struct cx *x)
{
	struct ttlv *resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGNATURE_VERIFY, pub, x);

	expect_ok(resp, 0);
	assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), pub);
	return ttlv_find(payload(resp, 0), KMIP_TAG_VALIDITY_INDICATOR)->v.u32;
}

/*
 * Sign with a private key and Signature Verify with its public key (ECDSA with SHA-256, checked against
 * OpenSSL), of Data or of Digested Data; and the refusals: both or neither, Digested Data in parts or of
 * another digest's length, a key whose mask does not allow it, a key that is no asymmetric key, an
 * unsupported signature algorithm. A first part answers a Correlation Value and no signature.
 */
static void
test_sign_verify(void **state)
{
	static const char msg[] = "a message to sign";
	struct fx *f = *state;
	char priv[UIDLEN], pub[UIDLEN], aes[UIDLEN];
	uint8_t sig[128], digest[32];
	unsigned int dlen = sizeof(digest);
	struct ttlv *resp;
	size_t sig_len;
	EVP_PKEY *k;
	unsigned i;

	assert_int_equal(EVP_Digest(msg, strlen(msg), digest, &dlen, EVP_sha256(), NULL), 1);
	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		k = ec_pair(f, &f->alice, v, priv, pub);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &CX(
		    .dsa = KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256, .data = msg, .len = strlen(msg)));
		expect_ok(resp, 0);
		assert_string_equal(ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER), priv);
		sig_len = copy_bytes(resp, KMIP_TAG_SIGNATURE_DATA, sig, sizeof(sig));
		assert_int_equal(local_verify(k, EVP_sha256(), sig, sig_len, msg, strlen(msg)), 1);
		assert_int_equal(verify(f, v, pub, &CX(.dsa = KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256,
		    .data = msg, .len = strlen(msg), .signature = sig, .sig_len = sig_len)),
		    KMIP_VALIDITY_INDICATOR_VALID);
		assert_int_equal(verify(f, v, pub, &CX(.dsa = KMIP_DIGITAL_SIGNATURE_ALGORITHM_ECDSA_WITH_SHA256,
		    .data = msg, .len = strlen(msg) - 1, .signature = sig, .sig_len = sig_len)),
		    KMIP_VALIDITY_INDICATOR_INVALID);
		/* The digest signed directly verifies as the message's signature. */
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256,
		    .digested = digest, .digested_len = dlen));
		expect_ok(resp, 0);
		sig_len = copy_bytes(resp, KMIP_TAG_SIGNATURE_DATA, sig, sizeof(sig));
		assert_int_equal(verify(f, v, pub, &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = msg,
		    .len = strlen(msg), .signature = sig, .sig_len = sig_len)), KMIP_VALIDITY_INDICATOR_VALID);

		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &CX(.data = msg, .len = 3,
		    .digested = digest, .digested_len = dlen)), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		/* Digested Data comes whole, of the digest's length. */
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &(struct cx){
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .digested = digest, .digested_len = dlen, .init = 1,
		    .final = 0 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &CX(
		    .hash = KMIP_HASHING_ALGORITHM_SHA_384, .digested = digest, .digested_len = dlen)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		/* In parts: the first part answers a Correlation Value and no signature yet. */
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &(struct cx){ .data = msg, .len = 3,
		    .init = 1, .final = 0 });
		expect_ok(resp, 0);
		assert_non_null(pbytes(resp, 0, KMIP_TAG_CORRELATION_VALUE));
		assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_SIGNATURE_DATA));
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGNATURE_VERIFY, pub, &CX(.data = msg,
		    .len = 3)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, pub, &CX(.data = msg, .len = 3)), 0,
		    bad_mask(v));
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv, &CX(
		    .dsa = KMIP_DIGITAL_SIGNATURE_ALGORITHM_DSA_WITH_SHA256, .data = msg, .len = 3)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		dated_key(f, v, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN, 0, 0, aes);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, aes, &CX(.data = msg, .len = 3)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, MISSING_UID, &CX(.data = msg, .len = 3)),
		    0,
		    not_found(v));
	}
}

/* MAC, MAC Verify, Hash, RNG. */

/*
 * MAC and MAC Verify: HMAC by the key's algorithm and AES CMAC, both checked against OpenSSL; refused
 * for a key without the MAC usage, without Data or MAC Data; a first part answers a Correlation Value.
 */
static void
test_mac(void **state)
{
	struct fx *f = *state;
	char hmac[UIDLEN], cmac[UIDLEN], aes[UIDLEN];
	uint8_t local[64], wrong[32];
	const uint8_t *key;
	struct ttlv *resp;
	size_t keylen, n;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_HMAC_SHA256, 256, 0, NULL, hmac);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, hmac);
		key = raw_key(f, &f->alice, v, hmac, &keylen);
		assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, plain16, 16, local,
		    sizeof(local), &n));
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC, hmac, &CX(.data = plain16, .len = 16));
		expect_ok(resp, 0);
		assert_int_equal(pbytes(resp, 0, KMIP_TAG_MAC_DATA)->length, n);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_MAC_DATA)->v.bytes.data, local, n);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC_VERIFY, hmac, &CX(.data = plain16, .len = 16,
		    .mac = local, .mac_len = n));
		expect_ok(resp, 0);
		assert_int_equal(ttlv_find(payload(resp, 0), KMIP_TAG_VALIDITY_INDICATOR)->v.u32,
		    KMIP_VALIDITY_INDICATOR_VALID);
		memcpy(wrong, local, 32);
		wrong[31] ^= 0x80;
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC_VERIFY, hmac, &CX(.data = plain16, .len = 16,
		    .mac = wrong, .mac_len = 32));
		expect_ok(resp, 0);
		assert_int_equal(ttlv_find(payload(resp, 0), KMIP_TAG_VALIDITY_INDICATOR)->v.u32,
		    KMIP_VALIDITY_INDICATOR_INVALID);

		dated_key(f, v, MAC_MASK, 0, 0, cmac);
		key = raw_key(f, &f->alice, v, cmac, &keylen);
		assert_non_null(EVP_Q_mac(NULL, "CMAC", NULL, "AES-256-CBC", NULL, key, keylen, plain16, 16, local,
		    sizeof(local), &n));
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC, cmac, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CMAC,
		    .data = plain16, .len = 16));
		expect_ok(resp, 0);
		assert_int_equal(pbytes(resp, 0, KMIP_TAG_MAC_DATA)->length, n);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_MAC_DATA)->v.bytes.data, local, n);

		active_aes(f, &f->alice, v, aes);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC, aes, &CX(.data = plain16, .len = 16)), 0,
		    bad_mask(v));
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC, hmac,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC_VERIFY, hmac, &CX(.data = plain16,
		    .len = 16)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_MAC, hmac, &(struct cx){ .data = plain16,
		    .len = 16, .init = 1, .final = 0 });
		expect_ok(resp, 0);
		assert_non_null(pbytes(resp, 0, KMIP_TAG_CORRELATION_VALUE));
		assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_MAC_DATA));
	}
}

/* Hash: known digests; a Hashing Algorithm and Data are required; a first part answers a Correlation Value. */
static void
test_hash(void **state)
{
	static const uint8_t sha256_abc[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
	    0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2,
	    0x00, 0x15, 0xad };
	static const uint8_t sha1_abc[20] = { 0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71,
	    0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d };
	struct fx *f = *state;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_HASH, NULL,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256,
		    .data = "abc", .len = 3));
		expect_ok(resp, 0);
		assert_int_equal(pbytes(resp, 0, KMIP_TAG_DATA)->length, 32);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, sha256_abc, 32);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_HASH, NULL, &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_1,
		    .data = "abc", .len = 3));
		expect_ok(resp, 0);
		assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, sha1_abc, 20);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_HASH, NULL, &CX(.data = "abc", .len = 3)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_HASH, NULL,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256)),
		    0, KMIP_RESULT_REASON_INVALID_FIELD);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_HASH, NULL, &(struct cx){
		    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = "abc", .len = 3, .init = 1, .final = 0 });
		expect_ok(resp, 0);
		assert_non_null(pbytes(resp, 0, KMIP_TAG_CORRELATION_VALUE));
		assert_null(ttlv_find(payload(resp, 0), KMIP_TAG_DATA));
	}
}

/* Sends an RNG Retrieve of length bytes (0: no Data Length). */
static struct ttlv *
rng_retrieve(struct fx *f, unsigned v, int32_t length)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_RNG_RETRIEVE);
	if (length != 0)
		ttlv_enc_int(&e, KMIP_TAG_DATA_LENGTH, length);
	item_end(&e);
	req_end(&e);
	return call(f, &f->alice, &e);
}

/* RNG Retrieve (1 to 65536 bytes, different each time) and RNG Seed (answers how much it took). */
static void
test_rng(void **state)
{
	struct fx *f = *state;
	const struct ttlv *a, *b;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		a = pbytes(rng_retrieve(f, v, 32), 0, KMIP_TAG_DATA);
		b = pbytes(rng_retrieve(f, v, 32), 0, KMIP_TAG_DATA);
		assert_int_equal(a->length, 32);
		assert_int_equal(b->length, 32);
		assert_memory_not_equal(a->v.bytes.data, b->v.bytes.data, 32);
		assert_int_equal(pbytes(rng_retrieve(f, v, 65536), 0, KMIP_TAG_DATA)->length, 65536);
		expect_fail(rng_retrieve(f, v, 65537), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(rng_retrieve(f, v, -5), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(rng_retrieve(f, v, 0), 0, KMIP_RESULT_REASON_INVALID_FIELD);

		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_RNG_SEED, NULL, &CX(.data = plain16, .len = 16));
		expect_ok(resp, 0);
		assert_int_equal(ttlv_find(payload(resp, 0), KMIP_TAG_DATA_LENGTH)->v.i32, 16);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_RNG_SEED, NULL, &CX(.len = 0)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Interop and Log (2.x): acknowledged; malformed ones are Invalid Field. */
static void
test_interop_log(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	uint32_t fn;

	for (fn = KMIP_INTEROP_FUNCTION_BEGIN; fn <= KMIP_INTEROP_FUNCTION_RESET; fn++) {
		req_begin(&e, V21, 1);
		item_begin(&e, KMIP_OPERATION_INTEROP);
		ttlv_enc_enum(&e, KMIP_TAG_INTEROP_FUNCTION, fn);
		ttlv_enc_cstr(&e, KMIP_TAG_INTEROP_IDENTIFIER, "TC-ENGINE-1");
		item_end(&e);
		req_end(&e);
		expect_ok(call(f, &f->alice, &e), 0);
	}
	req_begin(&e, V21, 1);
	item_begin(&e, KMIP_OPERATION_INTEROP);
	ttlv_enc_enum(&e, KMIP_TAG_INTEROP_FUNCTION, 9);
	item_end(&e);
	req_end(&e);
	expect_fail(call(f, &f->alice, &e), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(uid_op(f, &f->alice, V21, KMIP_OPERATION_INTEROP, NULL), 0, KMIP_RESULT_REASON_INVALID_FIELD);

	req_begin(&e, V20, 1);
	item_begin(&e, KMIP_OPERATION_LOG);
	ttlv_enc_cstr(&e, KMIP_TAG_LOG_MESSAGE, "a client's \"message\"\nacross lines");
	item_end(&e);
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);
	expect_fail(uid_op(f, &f->alice, V21, KMIP_OPERATION_LOG, NULL), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	expect_fail(uid_op(f, &f->alice, V14, KMIP_OPERATION_INTEROP, NULL), 0,
	    KMIP_RESULT_REASON_OPERATION_NOT_SUPPORTED);
}

/* Batches. */

/* Writes a Create item of an AES-128 key named name (NULL: none), with a Unique Batch Item ID. */
static void
enc_create_id(struct ttlv_enc *e, unsigned v, const char *id, const char *name)
{
	item_begin_id(e, KMIP_OPERATION_CREATE, id);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	attrs_begin(e, v);
	attrs_aes128(e, v);
	if (name != NULL)
		a_name(e, v, name);
	ttlv_enc_end(e);
	item_end(e);
}

/* Writes an item of op with a Unique Batch Item ID naming uid (NULL: the ID Placeholder). */
static void
enc_uid_item_id(struct ttlv_enc *e, uint32_t op, const char *id, const char *uid)
{
	item_begin_id(e, op, id);
	if (uid != NULL)
		ttlv_enc_cstr(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	item_end(e);
}

/* Asserts batch item i echoes the Unique Batch Item ID id and the operation op. */
static void
expect_echo(const struct ttlv *resp, unsigned i, const char *id, uint32_t op)
{
	const struct ttlv *t = ttlv_find(bitem(resp, i), KMIP_TAG_UNIQUE_BATCH_ITEM_ID);

	assert_non_null(t);
	assert_int_equal(t->length, strlen(id));
	assert_memory_equal(t->v.bytes.data, id, t->length);
	assert_int_equal(ttlv_find(bitem(resp, i), KMIP_TAG_OPERATION)->v.u32, op);
}

/* The Batch Count of a response's header. */
static int
batch_count(const struct ttlv *resp)
{
	return ttlv_find(ttlv_find(resp, KMIP_TAG_RESPONSE_HEADER), KMIP_TAG_BATCH_COUNT)->v.i32;
}

/* True when c's Locate by name finds something. */
static bool
name_exists(struct fx *f, struct client *c, unsigned v, const char *name)
{
	struct ttlv *resp = locate(f, c, v, &(struct locate_q){ .name = name, .max = -1, .offset = -1,
	    .status_mask = -1 });

	expect_ok(resp, 0);
	return ttlv_find(payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER) != NULL;
}

/*
 * Continue: every item runs and is answered in order, failures included, with its Operation and Unique
 * Batch Item ID echoed; the ID Placeholder passes from a successful item to the next one needing it.
 */
static void
test_batch_continue(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		req_begin_hdr(&e, v, 3, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE });
		enc_uid_item_id(&e, KMIP_OPERATION_GET, "first", MISSING_UID);
		enc_create_id(&e, v, "second", NULL);
		enc_uid_item_id(&e, KMIP_OPERATION_ACTIVATE, "third", NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		assert_int_equal(batch_count(resp), 3);
		assert_int_equal(nitems(resp), 3);
		expect_fail(resp, 0, not_found(v));
		expect_ok(resp, 1);
		expect_ok(resp, 2);
		expect_echo(resp, 0, "first", KMIP_OPERATION_GET);
		expect_echo(resp, 1, "second", KMIP_OPERATION_CREATE);
		expect_echo(resp, 2, "third", KMIP_OPERATION_ACTIVATE);
		assert_string_equal(ptext(resp, 2, KMIP_TAG_UNIQUE_IDENTIFIER), ptext(resp, 1,
		    KMIP_TAG_UNIQUE_IDENTIFIER));
		assert_int_equal(state_of(f, &f->alice, v, ptext(resp, 1, KMIP_TAG_UNIQUE_IDENTIFIER)),
		    KMIP_STATE_ACTIVE);
	}
}

/* Stop (the default): the batch ends at the first failure; what ran before it is kept. */
static void
test_batch_stop(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *kept = V2(v) ? "stop-kept-21" : "stop-kept-14";
		const char *never = V2(v) ? "stop-never-21" : "stop-never-14";

		req_begin_hdr(&e, v, 3, &(struct hdr){ .continuation = i == 0 ? 0 :
		    KMIP_BATCH_ERROR_CONTINUATION_OPTION_STOP });
		enc_create_id(&e, v, "a1", kept);
		enc_uid_item_id(&e, KMIP_OPERATION_GET, "a2", MISSING_UID);
		enc_create_id(&e, v, "a3", never);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		assert_int_equal(batch_count(resp), 2);
		assert_int_equal(nitems(resp), 2);
		expect_ok(resp, 0);
		expect_fail(resp, 1, not_found(v));
		expect_echo(resp, 1, "a2", KMIP_OPERATION_GET);
		assert_true(name_exists(f, &f->alice, v, kept));
		assert_false(name_exists(f, &f->alice, v, never));
	}
}

/*
 * Undo: when an item fails, the items before it are rolled back and answered Operation Undone (with
 * their payloads, without a reason); the failing item is answered as it failed; nothing of the batch
 * stays. A batch that succeeds whole is kept.
 */
static void
test_batch_undo(void **state)
{
	struct fx *f = *state;
	char made[UIDLEN];
	struct ttlv_enc e;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *undone = V2(v) ? "undone-21" : "undone-14";
		const char *kept = V2(v) ? "undo-kept-21" : "undo-kept-14";

		req_begin_hdr(&e, v, 4, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
		enc_create_id(&e, v, "made", undone);
		enc_uid_item_id(&e, KMIP_OPERATION_ACTIVATE, "activated", NULL);
		enc_uid_item_id(&e, KMIP_OPERATION_GET, "fails", MISSING_UID);
		enc_uid_item_id(&e, KMIP_OPERATION_DESTROY, "never", NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		assert_int_equal(batch_count(resp), 3);
		assert_int_equal(nitems(resp), 3);
		assert_int_equal(rstatus(resp, 0), KMIP_RESULT_STATUS_OPERATION_UNDONE);
		assert_int_equal(rstatus(resp, 1), KMIP_RESULT_STATUS_OPERATION_UNDONE);
		assert_int_equal(rreason(resp, 0), 0);
		expect_echo(resp, 1, "activated", KMIP_OPERATION_ACTIVATE);
		expect_fail(resp, 2, not_found(v));
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, made);
		expect_fail(get_req(f, &f->alice, v, made, 0), 0, not_found(v));
		assert_false(name_exists(f, &f->alice, v, undone));

		req_begin_hdr(&e, v, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
		enc_create_id(&e, v, "made", kept);
		enc_uid_item_id(&e, KMIP_OPERATION_ACTIVATE, "activated", NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		expect_ok(resp, 1);
		assert_int_equal(state_of(f, &f->alice, v, ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER)),
		    KMIP_STATE_ACTIVE);
		assert_true(name_exists(f, &f->alice, v, kept));

		/* Undo keeps what earlier requests wrote. */
		req_begin_hdr(&e, v, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
		enc_uid_item_id(&e, KMIP_OPERATION_GET, "gone", MISSING_UID);
		enc_create_id(&e, v, "skipped", NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		assert_int_equal(nitems(resp), 1);
		expect_fail(resp, 0, not_found(v));
		assert_true(name_exists(f, &f->alice, v, kept));
	}
}

/*
 * Without group commit there are no savepoints: an Undo batch of several items is refused whole, before
 * any item runs; a one-item Undo batch needs none and runs.
 */
static void
test_batch_undo_refused(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin_hdr(&e, V14, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
	enc_create_id(&e, V14, "made", "refused-undo");
	enc_uid_item_id(&e, KMIP_OPERATION_GET, "fails", MISSING_UID);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
	assert_false(name_exists(f, &f->alice, V14, "refused-undo"));

	req_begin_hdr(&e, V14, 1, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
	enc_create_id(&e, V14, "alone", "lone-undo");
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);
	assert_true(name_exists(f, &f->alice, V14, "lone-undo"));
}

/*
 * The ID Placeholder across items: Create then Get in one batch returns the new key's material; Re-key
 * passes on the new key; Locate the first key it found; Register its object. Without an earlier item to
 * set it, an item without identifier is an Invalid Field.
 */
static void
test_batch_placeholder(void **state)
{
	static const uint8_t secret[8] = "12345678";
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		req_begin(&e, v, 4);
		enc_create(&e, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, 0, V2(v) ? "ph-21" : "ph-14");
		enc_uid_item(&e, KMIP_OPERATION_GET, NULL);
		enc_uid_item(&e, KMIP_OPERATION_RE_KEY, NULL);
		enc_uid_item(&e, KMIP_OPERATION_GET_ATTRIBUTE_LIST, NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		expect_ok(resp, 1);
		expect_ok(resp, 2);
		expect_ok(resp, 3);
		copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
		assert_string_equal(ptext(resp, 1, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		assert_int_equal(key_material(key_block_at(resp, 1, KMIP_TAG_SYMMETRIC_KEY))->length, 32);
		assert_string_not_equal(ptext(resp, 2, KMIP_TAG_UNIQUE_IDENTIFIER), uid);
		assert_string_equal(ptext(resp, 3, KMIP_TAG_UNIQUE_IDENTIFIER), ptext(resp, 2,
		    KMIP_TAG_UNIQUE_IDENTIFIER));

		req_begin(&e, v, 2);
		item_begin(&e, KMIP_OPERATION_LOCATE);
		attrs_begin(&e, v);
		a_name(&e, v, V2(v) ? "ph-21" : "ph-14");
		ttlv_enc_end(&e);
		item_end(&e);
		enc_uid_item(&e, KMIP_OPERATION_GET_ATTRIBUTES, NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 1);
		/* The Name moved to the replacement: that is what Locate finds now. */
		assert_string_equal(ptext(resp, 1, KMIP_TAG_UNIQUE_IDENTIFIER), ptext(resp, 0,
		    KMIP_TAG_UNIQUE_IDENTIFIER));
		assert_string_not_equal(ptext(resp, 1, KMIP_TAG_UNIQUE_IDENTIFIER), uid);

		req_begin(&e, v, 2);
		enc_register(&e, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_SECRET_DATA,
		    .format = KMIP_KEY_FORMAT_TYPE_OPAQUE, .material = secret, .len = sizeof(secret),
		    .secret_type = KMIP_SECRET_DATA_TYPE_SEED });
		enc_uid_item(&e, KMIP_OPERATION_DESTROY, NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 1);
		assert_int_equal(state_of(f, &f->alice, v, ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER)),
		    KMIP_STATE_DESTROYED);

		/* A failed item leaves no placeholder. */
		req_begin_hdr(&e, v, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE });
		enc_uid_item(&e, KMIP_OPERATION_GET, MISSING_UID);
		enc_uid_item(&e, KMIP_OPERATION_ACTIVATE, NULL);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_fail(resp, 0, not_found(v));
		expect_fail(resp, 1, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* The length of a response as the engine encoded it. */
static size_t
encoded_len(const struct ttlv *resp)
{
	struct ttlv_enc e;
	size_t len;

	ttlv_enc_init(&e);
	ttlv_enc_item(&e, resp);
	assert_int_equal(ttlv_enc_finish(&e), 0);
	len = e.len;
	ttlv_enc_free(&e);
	return len;
}

/*
 * Maximum Response Size: an item whose answer would make the response larger is answered Response Too
 * Large instead, without its payload; the limit is on the whole response.
 */
static void
test_max_response_size(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	struct ttlv_enc e;
	struct ttlv *resp;
	size_t one;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, 0, NULL, uid);
		resp = get_req(f, &f->alice, v, uid, 0);
		expect_ok(resp, 0);
		one = encoded_len(resp);

		req_begin_hdr(&e, v, 1, &(struct hdr){ .max_response_size = (int32_t)one - 1 });
		enc_uid_item(&e, KMIP_OPERATION_GET, uid);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_fail(resp, 0, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE);

		req_begin_hdr(&e, v, 1, &(struct hdr){ .max_response_size = (int32_t)one });
		enc_uid_item(&e, KMIP_OPERATION_GET, uid);
		req_end(&e);
		expect_ok(call(f, &f->alice, &e), 0);

		/* Two Gets fit alone, not together: the first is answered, the second refused. */
		req_begin_hdr(&e, v, 2, &(struct hdr){ .max_response_size = (int32_t)one + 100,
		    .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE });
		enc_uid_item(&e, KMIP_OPERATION_GET, uid);
		enc_uid_item(&e, KMIP_OPERATION_GET, uid);
		req_end(&e);
		resp = call(f, &f->alice, &e);
		expect_ok(resp, 0);
		expect_fail(resp, 1, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE);
	}
}

/* Key pairs: CreateKeyPair and Re-key Key Pair with the key-generation workers. */

/* What a CreateKeyPair asks for. */
struct pair_q {
	uint32_t alg;			/* Cryptographic Algorithm, 0: none */
	int bits;			/* Cryptographic Length, 0: none */
	uint32_t curve;			/* Recommended Curve, 0: none */
	const char *priv_name;		/* NULL: none */
	const char *pub_name;
};

/* Writes the attribute sets of a CreateKeyPair or Re-key Key Pair (1.x templates, 2.x attributes). */
static void
enc_pair_sets(struct ttlv_enc *e, unsigned v, const struct pair_q *q)
{
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_COMMON_ATTRIBUTES : KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
	if (q->alg != 0)
		a_enum(e, v, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, q->alg);
	if (q->bits != 0)
		a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, q->bits);
	if (q->curve != 0) {
		attr_open(e, v, KMIP_TAG_CRYPTOGRAPHIC_DOMAIN_PARAMETERS);
		ttlv_enc_begin(e, vtag(v, KMIP_TAG_CRYPTOGRAPHIC_DOMAIN_PARAMETERS));
		ttlv_enc_enum(e, KMIP_TAG_RECOMMENDED_CURVE, q->curve);
		ttlv_enc_end(e);
		attr_close(e, v);
	}
	ttlv_enc_end(e);
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_PRIVATE_KEY_ATTRIBUTES : KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	if (q->priv_name != NULL)
		a_name(e, v, q->priv_name);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, V2(v) ? KMIP_TAG_PUBLIC_KEY_ATTRIBUTES : KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
	a_int(e, v, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	if (q->pub_name != NULL)
		a_name(e, v, q->pub_name);
	ttlv_enc_end(e);
}

/* Writes a CreateKeyPair item for q. */
static void
enc_create_pair(struct ttlv_enc *e, unsigned v, const struct pair_q *q)
{
	item_begin(e, KMIP_OPERATION_CREATE_KEY_PAIR);
	enc_pair_sets(e, v, q);
	item_end(e);
}

/* Sends a CreateKeyPair of q as c. */
static struct ttlv *
create_pair_req(struct fx *f, struct client *c, unsigned v, const struct pair_q *q)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	enc_create_pair(&e, v, q);
	req_end(&e);
	return call(f, c, &e);
}

/* Makes a key pair as alice; copies the identifiers. */
static void
create_pair(struct fx *f, unsigned v, const struct pair_q *q, char *priv, char *pub)
{
	struct ttlv *resp = create_pair_req(f, &f->alice, v, q);

	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv);
	copy_uid(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, pub);
	assert_string_not_equal(priv, pub);
}

/* Reads a key of the pair back with Get in format and parses it with OpenSSL (kept until teardown). */
static EVP_PKEY *
fetch_pkey(struct fx *f, unsigned v, const char *uid, bool private, uint32_t format)
{
	struct ttlv *resp = get_req(f, &f->alice, v, uid, format);
	const struct ttlv *m;
	const uint8_t *p;
	EVP_PKEY *k;

	expect_ok(resp, 0);
	m = key_material(key_block(resp, private ? KMIP_TAG_PRIVATE_KEY : KMIP_TAG_PUBLIC_KEY));
	assert_int_equal(m->type, TTLV_BYTE_STRING);
	p = m->v.bytes.data;
	if (!private)
		k = d2i_PUBKEY(NULL, &p, m->length);
	else if (format == KMIP_KEY_FORMAT_TYPE_PKCS_1)
		k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, m->length);
	else
		k = d2i_AutoPrivateKey(NULL, &p, m->length);
	return keep_pkey(f, k);
}

/*
 * CreateKeyPair (EC P-256, by curve at 1.4 and by length at 2.1): two objects linked both ways, each with
 * its own attributes; the halves parse and match; the private key signs what the public key verifies;
 * another owner does not see them.
 */
static void
test_create_key_pair(void **state)
{
	struct fx *f = *state;
	char priv[UIDLEN], pub[UIDLEN];
	uint8_t sig[128];
	EVP_PKEY *kpriv, *kpub;
	struct ttlv *resp;
	size_t sig_len;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_pair(f, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC,
		    .curve = V2(v) ? 0 : KMIP_RECOMMENDED_CURVE_P_256, .bits = V2(v) ? 256 : 0,
		    .priv_name = V2(v) ? "pair-21" : "pair-14", .pub_name = V2(v) ? "pair-21-pub" : "pair-14-pub" },
		    priv, pub);
		assert_true(has_link(f, &f->alice, v, priv, KMIP_LINK_TYPE_PUBLIC_KEY_LINK, pub));
		assert_true(has_link(f, &f->alice, v, pub, KMIP_LINK_TYPE_PRIVATE_KEY_LINK, priv));
		assert_string_equal(name_of(f, &f->alice, v, priv, 0), V2(v) ? "pair-21" : "pair-14");
		assert_string_equal(name_of(f, &f->alice, v, pub, 0), V2(v) ? "pair-21-pub" : "pair-14-pub");
		assert_int_equal(get_attr(f, &f->alice, v, priv, KMIP_TAG_OBJECT_TYPE, 0)->v.u32,
		    KMIP_OBJECT_TYPE_PRIVATE_KEY);
		assert_int_equal(get_attr(f, &f->alice, v, pub, KMIP_TAG_OBJECT_TYPE, 0)->v.u32,
		    KMIP_OBJECT_TYPE_PUBLIC_KEY);
		assert_int_equal(get_attr(f, &f->alice, v, pub, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 0)->v.u32,
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		assert_int_equal(get_attr(f, &f->alice, v, pub, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 256);
		assert_int_equal(ttlv_find(get_attr(f, &f->alice, v, priv, KMIP_TAG_CRYPTOGRAPHIC_DOMAIN_PARAMETERS, 0),
		    KMIP_TAG_RECOMMENDED_CURVE)->v.u32, KMIP_RECOMMENDED_CURVE_P_256);
		assert_int_equal(get_attr(f, &f->alice, v, priv, KMIP_TAG_CRYPTOGRAPHIC_USAGE_MASK, 0)->v.i32,
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
		assert_int_equal(state_of(f, &f->alice, v, priv), KMIP_STATE_PRE_ACTIVE);
		assert_int_equal(state_of(f, &f->alice, v, pub), KMIP_STATE_PRE_ACTIVE);

		kpriv = fetch_pkey(f, v, priv, true, KMIP_KEY_FORMAT_TYPE_PKCS_8);
		kpub = fetch_pkey(f, v, pub, false, KMIP_KEY_FORMAT_TYPE_X_509);
		assert_int_equal(EVP_PKEY_get_base_id(kpub), EVP_PKEY_EC);
		assert_int_equal(EVP_PKEY_eq(kpriv, kpub), 1);

		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, priv);
		resp = crypto_req(f, &f->alice, v, KMIP_OPERATION_SIGN, priv,
		    &CX(.hash = KMIP_HASHING_ALGORITHM_SHA_256,
		    .data = plain16, .len = 16));
		expect_ok(resp, 0);
		sig_len = copy_bytes(resp, KMIP_TAG_SIGNATURE_DATA, sig, sizeof(sig));
		assert_int_equal(local_verify(kpub, EVP_sha256(), sig, sig_len, plain16, 16), 1);

		expect_fail(get_req(f, &f->bob, v, priv, 0), 0, not_found(v));
		expect_fail(get_req(f, &f->bob, v, pub, 0), 0, not_found(v));
	}
}

/*
 * One RSA-2048 pair (the slow kind, made once): PKCS#1 is its default format at 2.1, PSS signatures and
 * OAEP encryption work with it and agree with OpenSSL, and its operations are single-part.
 */
static void
test_create_key_pair_rsa(void **state)
{
	struct fx *f = *state;
	char priv[UIDLEN], pub[UIDLEN];
	uint8_t sig[512], ct[512];
	EVP_PKEY *kpub, *kpriv;
	EVP_MD_CTX *mc;
	EVP_PKEY_CTX *pc;
	struct ttlv *resp;
	size_t sig_len, ct_len;

	create_pair(f, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA, .bits = 2048 }, priv, pub);
	assert_int_equal(get_attr(f, &f->alice, V21, priv, KMIP_TAG_KEY_FORMAT_TYPE, 0)->v.u32,
	    KMIP_KEY_FORMAT_TYPE_PKCS_1);
	resp = get_req(f, &f->alice, V21, pub, 0);
	expect_ok(resp, 0);
	assert_int_equal(ttlv_find(key_block(resp, KMIP_TAG_PUBLIC_KEY), KMIP_TAG_KEY_FORMAT_TYPE)->v.u32,
	    KMIP_KEY_FORMAT_TYPE_PKCS_1);
	kpriv = fetch_pkey(f, V21, priv, true, KMIP_KEY_FORMAT_TYPE_PKCS_1);
	kpub = fetch_pkey(f, V21, pub, false, KMIP_KEY_FORMAT_TYPE_X_509);
	assert_int_equal(EVP_PKEY_get_bits(kpub), 2048);
	assert_int_equal(EVP_PKEY_eq(kpriv, kpub), 1);
	uid_op_ok(f, &f->alice, V21, KMIP_OPERATION_ACTIVATE, priv);
	uid_op_ok(f, &f->alice, V21, KMIP_OPERATION_ACTIVATE, pub);

	resp = crypto_req(f, &f->alice, V21, KMIP_OPERATION_SIGN, priv, &CX(.padding = KMIP_PADDING_METHOD_PSS,
	    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = plain16, .len = 16));
	expect_ok(resp, 0);
	sig_len = copy_bytes(resp, KMIP_TAG_SIGNATURE_DATA, sig, sizeof(sig));
	assert_int_equal(sig_len, 256);
	mc = EVP_MD_CTX_new();
	assert_non_null(mc);
	assert_int_equal(EVP_DigestVerifyInit(mc, &pc, EVP_sha256(), NULL, kpub), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
	assert_int_equal(EVP_DigestVerify(mc, sig, sig_len, plain16, 16), 1);
	EVP_MD_CTX_free(mc);
	assert_int_equal(verify(f, V21, pub, &CX(.padding = KMIP_PADDING_METHOD_PSS,
	    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = plain16, .len = 16, .signature = sig, .sig_len = sig_len)),
	    KMIP_VALIDITY_INDICATOR_VALID);

	resp = crypto_req(f, &f->alice, V21, KMIP_OPERATION_ENCRYPT, pub, &CX(.padding = KMIP_PADDING_METHOD_OAEP,
	    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = plain16, .len = 16));
	expect_ok(resp, 0);
	ct_len = copy_bytes(resp, KMIP_TAG_DATA, ct, sizeof(ct));
	assert_int_equal(ct_len, 256);
	resp = crypto_req(f, &f->alice, V21, KMIP_OPERATION_DECRYPT, priv, &CX(.padding = KMIP_PADDING_METHOD_OAEP,
	    .hash = KMIP_HASHING_ALGORITHM_SHA_256, .data = ct, .len = ct_len));
	expect_ok(resp, 0);
	assert_int_equal(pbytes(resp, 0, KMIP_TAG_DATA)->length, 16);
	assert_memory_equal(pbytes(resp, 0, KMIP_TAG_DATA)->v.bytes.data, plain16, 16);
	/* The wrong OAEP digest does not decrypt. */
	expect_fail(crypto_req(f, &f->alice, V21, KMIP_OPERATION_DECRYPT, priv, &CX(.padding = KMIP_PADDING_METHOD_OAEP,
	    .hash = KMIP_HASHING_ALGORITHM_SHA_1, .data = ct, .len = ct_len)), 0,
	    KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE);
	expect_fail(crypto_req(f, &f->alice, V21, KMIP_OPERATION_ENCRYPT, pub, &(struct cx){ .data = plain16, .len = 16,
	    .init = 1, .final = 0 }), 0, KMIP_RESULT_REASON_FEATURE_NOT_SUPPORTED);
	expect_fail(crypto_req(f, &f->alice, V21, KMIP_OPERATION_ENCRYPT, pub, &CX(.padding = KMIP_PADDING_METHOD_PSS,
	    .data = plain16, .len = 16)), 0, KMIP_RESULT_REASON_INVALID_FIELD);
}

/* CreateKeyPair's refusals (no key is generated for them). */
static void
test_create_key_pair_errors(void **state)
{
	struct fx *f = *state;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		expect_fail(create_pair_req(f, &f->alice, v, &(struct pair_q){ .bits = 2048 }), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_pair_req(f, &f->alice, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA,
		    .bits = 1000 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_pair_req(f, &f->alice, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC,
		    .curve = KMIP_RECOMMENDED_CURVE_P_192 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_pair_req(f, &f->alice, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC,
		    .bits = 200 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(create_pair_req(f, &f->alice, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_AES,
		    .bits = 256 }), 0, KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/* Without key-generation workers (no keygen in the engine's environment) CreateKeyPair fails cleanly. */
static void
test_create_key_pair_without_workers(void **state)
{
	struct fx *f = *state;
	struct ttlv *resp;

	resp = create_pair_req(f, &f->alice, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC,
	    .bits = 256, .priv_name = "never-made" });
	expect_fail(resp, 0, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE);
	assert_false(name_exists(f, &f->alice, V21, "never-made"));
}

/* Sends a Re-key Key Pair of priv (NULL: none) with the sets of q. */
static struct ttlv *
rekey_pair_req(struct fx *f, struct client *c, unsigned v, const char *priv, const struct pair_q *q)
{
	struct ttlv_enc e;

	req_begin(&e, v, 1);
	item_begin(&e, KMIP_OPERATION_RE_KEY_KEY_PAIR);
	if (priv != NULL)
		ttlv_enc_cstr(&e, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, priv);
	enc_pair_sets(&e, v, q);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/*
 * Re-key Key Pair: a new pair of the same algorithm and curve replacing the old one, each half linked to
 * its predecessor both ways and to its new other half, the Names moved over. Refused for an object that is
 * no private key, a private key without Public Key Link, a missing one, or none named.
 */
static void
test_rekey_key_pair(void **state)
{
	struct fx *f = *state;
	char priv[UIDLEN], pub[UIDLEN], npriv[UIDLEN], npub[UIDLEN], aes[UIDLEN], lone[UIDLEN];
	uint8_t *pkcs8, *spki;
	size_t pkcs8_len, spki_len;
	struct ttlv *resp;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *name = V2(v) ? "rekey-pair-21" : "rekey-pair-14";

		create_pair(f, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 256,
		    .priv_name = name }, priv, pub);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, priv);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_ACTIVATE, pub);
		resp = rekey_pair_req(f, &f->alice, v, priv, &(struct pair_q){ 0 });
		expect_ok(resp, 0);
		copy_uid(resp, 0, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, npriv);
		copy_uid(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER, npub);
		/* Without an Offset an Active pair's replacement is Active, with the same Activation Dates. */
		assert_int_equal(state_of(f, &f->alice, v, npriv), KMIP_STATE_ACTIVE);
		assert_int_equal(state_of(f, &f->alice, v, npub), KMIP_STATE_ACTIVE);
		assert_int_equal(date_attr(f, v, npriv, KMIP_TAG_ACTIVATION_DATE), date_attr(f, v, priv,
		    KMIP_TAG_ACTIVATION_DATE));
		assert_int_equal(date_attr(f, v, npub, KMIP_TAG_ACTIVATION_DATE), date_attr(f, v, pub,
		    KMIP_TAG_ACTIVATION_DATE));
		assert_string_not_equal(npriv, priv);
		assert_string_not_equal(npub, pub);
		assert_true(has_link(f, &f->alice, v, npriv, KMIP_LINK_TYPE_REPLACED_OBJECT_LINK, priv));
		assert_true(has_link(f, &f->alice, v, priv, KMIP_LINK_TYPE_REPLACEMENT_OBJECT_LINK, npriv));
		assert_true(has_link(f, &f->alice, v, npub, KMIP_LINK_TYPE_REPLACED_OBJECT_LINK, pub));
		assert_true(has_link(f, &f->alice, v, pub, KMIP_LINK_TYPE_REPLACEMENT_OBJECT_LINK, npub));
		assert_true(has_link(f, &f->alice, v, npriv, KMIP_LINK_TYPE_PUBLIC_KEY_LINK, npub));
		assert_false(has_link(f, &f->alice, v, npriv, KMIP_LINK_TYPE_PUBLIC_KEY_LINK, pub));
		assert_string_equal(name_of(f, &f->alice, v, npriv, 0), name);
		assert_string_equal(name_of(f, &f->alice, v, priv, 0), "");
		assert_int_equal(ttlv_find(get_attr(f, &f->alice, v, npub, KMIP_TAG_CRYPTOGRAPHIC_DOMAIN_PARAMETERS, 0),
		    KMIP_TAG_RECOMMENDED_CURVE)->v.u32, KMIP_RECOMMENDED_CURVE_P_256);
		assert_int_equal(EVP_PKEY_eq(fetch_pkey(f, v, npriv, true, KMIP_KEY_FORMAT_TYPE_PKCS_8),
		    fetch_pkey(f, v, npub, false, KMIP_KEY_FORMAT_TYPE_X_509)), 1);
		assert_int_equal(EVP_PKEY_eq(fetch_pkey(f, v, npub, false, KMIP_KEY_FORMAT_TYPE_X_509),
		    fetch_pkey(f, v, pub, false, KMIP_KEY_FORMAT_TYPE_X_509)), 0);

		create_key(f, &f->alice, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, aes);
		expect_fail(rekey_pair_req(f, &f->alice, v, aes, &(struct pair_q){ 0 }), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(rekey_pair_req(f, &f->alice, v, MISSING_UID, &(struct pair_q){ 0 }), 0, not_found(v));
		expect_fail(rekey_pair_req(f, &f->alice, v, NULL, &(struct pair_q){ 0 }), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		local_ec(f, &pkcs8, &pkcs8_len, &spki, &spki_len);
		register_ok(f, &f->alice, v, &(struct reg){ .type = KMIP_OBJECT_TYPE_PRIVATE_KEY,
		    .format = KMIP_KEY_FORMAT_TYPE_PKCS_8, .material = pkcs8, .len = pkcs8_len }, lone);
		expect_fail(rekey_pair_req(f, &f->alice, v, lone, &(struct pair_q){ 0 }), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
	}
}

/*
 * Key pairs in batches: two CreateKeyPair items are generated before the batch runs and the ID
 * Placeholder then names the second private key; in an Undo batch that fails later, the pair is undone.
 */
static void
test_key_pair_batches(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp;

	req_begin(&e, V21, 3);
	enc_create_pair(&e, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 256 });
	enc_create_pair(&e, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 384 });
	enc_uid_item(&e, KMIP_OPERATION_ACTIVATE, NULL);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	expect_ok(resp, 0);
	expect_ok(resp, 1);
	expect_ok(resp, 2);
	assert_string_equal(ptext(resp, 2, KMIP_TAG_UNIQUE_IDENTIFIER), ptext(resp, 1,
	    KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER));
	assert_int_equal(get_attr(f, &f->alice, V21, ptext(resp, 1, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER),
	    KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 0)->v.i32, 384);
	assert_int_equal(state_of(f, &f->alice, V21, ptext(resp, 1, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER)),
	    KMIP_STATE_ACTIVE);
	assert_int_equal(state_of(f, &f->alice, V21, ptext(resp, 0, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER)),
	    KMIP_STATE_PRE_ACTIVE);

	req_begin_hdr(&e, V14, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_UNDO });
	enc_create_pair(&e, V14, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 256,
	    .priv_name = "undone-pair" });
	enc_uid_item(&e, KMIP_OPERATION_GET, MISSING_UID);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	assert_int_equal(rstatus(resp, 0), KMIP_RESULT_STATUS_OPERATION_UNDONE);
	expect_fail(resp, 1, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	assert_false(name_exists(f, &f->alice, V14, "undone-pair"));
	expect_fail(get_req(f, &f->alice, V14, ptext(resp, 0, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER), 0), 0,
	    KMIP_RESULT_REASON_ITEM_NOT_FOUND);
}

/* Credentials. */

/* A Query sent by c with a Credential (user NULL: none). */
static struct ttlv *
query_as(struct fx *f, struct client *c, unsigned v, const char *user, const char *password)
{
	struct ttlv_enc e;

	req_begin_hdr(&e, v, 1, &(struct hdr){ .user = user, .password = password });
	item_begin(&e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
	item_end(&e);
	req_end(&e);
	return call(f, c, &e);
}

/* Asserts a request was refused as a whole for its Credential: one item, no Operation echoed. */
static void
expect_refused(const struct ttlv *resp)
{
	assert_int_equal(nitems(resp), 1);
	expect_fail(resp, 0, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL);
	assert_null(ttlv_find(bitem(resp, 0), KMIP_TAG_OPERATION));
}

/*
 * access.credentials: the right username and password pass, a wrong password and an unknown user get the
 * same refusal, a Credential of another type is not accepted; without access.require_credential a request
 * without Credential passes, with it (applied by a reload) it is refused.
 */
static void
test_credentials(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	struct ttlv *resp, *other;
	unsigned i;

	reload(f, &(struct policy_opts){ .user = "backup", .password = "s3cret pass" });
	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		resp = query_as(f, &f->alice, v, "backup", "s3cret pass");
		expect_ok(resp, 0);
		/* The verified Credential is cached: the same again passes. */
		expect_ok(query_as(f, &f->alice, v, "backup", "s3cret pass"), 0);
		resp = query_as(f, &f->bob, v, "backup", "wrong");
		assert_int_equal(rversion(resp), v);
		expect_refused(resp);
		other = query_as(f, &f->admin, v, "nobody", "s3cret pass");
		expect_refused(other);
		assert_string_equal(rmessage(resp, 0), rmessage(other, 0));
		expect_ok(query_as(f, &f->alice, v, NULL, NULL), 0);
	}
	/* A Credential that is not a username and password. */
	ttlv_enc_init(&e);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(&e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(&e, V14);
	ttlv_enc_begin(&e, KMIP_TAG_AUTHENTICATION);
	ttlv_enc_begin(&e, KMIP_TAG_CREDENTIAL);
	ttlv_enc_enum(&e, KMIP_TAG_CREDENTIAL_TYPE, KMIP_CREDENTIAL_TYPE_DEVICE);
	ttlv_enc_begin(&e, KMIP_TAG_CREDENTIAL_VALUE);
	ttlv_enc_cstr(&e, KMIP_TAG_DEVICE_IDENTIFIER, "backup");
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	ttlv_enc_int(&e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(&e);
	enc_uid_item(&e, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	req_end(&e);
	expect_refused(call(f, &f->admin, &e));

	reload(f, &(struct policy_opts){ .user = "backup", .password = "s3cret pass", .require_credential = true });
	expect_refused(query_as(f, &f->alice, V21, NULL, NULL));
	expect_ok(query_as(f, &f->alice, V21, "backup", "s3cret pass"), 0);
}

/*
 * Each wrong Credential costs a key derivation: after ACCESS_CREDENTIAL_TRIES wrong ones a session is
 * refused without checking, even the right Credential; other sessions, and a new one, are not affected.
 */
static void
test_credential_tries(void **state)
{
	struct fx *f = *state;
	unsigned i;

	reload(f, &(struct policy_opts){ .user = "backup", .password = "s3cret pass" });
	for (i = 0; i < ACCESS_CREDENTIAL_TRIES - 1; i++)
		expect_refused(query_as(f, &f->bob, V14, "backup", "guess"));
	/* A right one in between does not reset the count. */
	expect_ok(query_as(f, &f->bob, V14, "backup", "s3cret pass"), 0);
	expect_refused(query_as(f, &f->bob, V14, "backup", "guess"));
	expect_refused(query_as(f, &f->bob, V14, "backup", "s3cret pass"));
	expect_refused(query_as(f, &f->bob, V14, NULL, NULL));
	expect_ok(query_as(f, &f->alice, V14, "backup", "s3cret pass"), 0);
	/* A new connection starts again. */
	session_free(f->bob.s);
	assert_int_equal(client_open(f, &f->bob, 20, "bob"), 0);
	expect_ok(query_as(f, &f->bob, V14, "backup", "s3cret pass"), 0);
}

/*
 * The guard of Credential derivations: at most max_derivations_per_identity under way per identity and
 * max_derivations_per_source per address; three wrong Credentials in a row back the identity off (1 s,
 * doubling, capped at credential_backoff_max), refusing unchecked meanwhile; a right one ends it.
 */
static void
test_credential_guard(void **state)
{
	struct config_access cfg = { .max_derivations_per_identity = 2, .max_derivations_per_source = 3,
	    .credential_backoff_max = 3 };
	struct access_guard *g = access_guard_new();
	struct kmip_error err;
	int64_t t = 1000000;
	int i;

	(void)state;
	assert_non_null(g);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.2", t, &err), -1);
	assert_non_null(strstr(err.message, "access.max_derivations_per_identity"));
	assert_int_equal(err.reason, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL);
	assert_int_equal(access_guard_begin(g, &cfg, "bob", "10.0.0.1", t, &err), 0);
	assert_int_equal(access_guard_begin(g, &cfg, "carol", "10.0.0.1", t, &err), -1);
	assert_non_null(strstr(err.message, "access.max_derivations_per_source"));
	assert_int_equal(access_guard_begin(g, &cfg, "carol", "10.0.0.2", t, &err), 0);
	access_guard_end(g, &cfg, "bob", "10.0.0.1", true, t);
	access_guard_end(g, &cfg, "carol", "10.0.0.2", true, t);
	/* Two wrong ones: no back-off yet. */
	access_guard_end(g, &cfg, "alice", "10.0.0.1", false, t);
	access_guard_end(g, &cfg, "alice", "10.0.0.1", false, t);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	/* The third: 1 s, then 2 s, then capped at 3 s; other identities are not touched. */
	access_guard_end(g, &cfg, "alice", "10.0.0.1", false, t);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t + 900, &err), -1);
	assert_non_null(strstr(err.message, "none is checked"));
	assert_int_equal(access_guard_begin(g, &cfg, "bob", "10.0.0.1", t + 900, &err), 0);
	access_guard_end(g, &cfg, "bob", "10.0.0.1", true, t + 900);
	t += 1000;
	for (i = 1; i <= 3; i++) {
		int64_t wait = i == 1 ? 2000 : 3000;

		assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
		access_guard_end(g, &cfg, "alice", "10.0.0.1", false, t);
		assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t + wait - 1, &err), -1);
		t += wait;
	}
	/* A right Credential ends it: the next wrong one is free again. */
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	access_guard_end(g, &cfg, "alice", "10.0.0.1", true, t);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	access_guard_end(g, &cfg, "alice", "10.0.0.1", false, t);
	assert_int_equal(access_guard_begin(g, &cfg, "alice", "10.0.0.1", t, &err), 0);
	access_guard_end(g, &cfg, "alice", "10.0.0.1", true, t);
	access_guard_free(g);
}

/* The audit trail. */

/* Reads the audit file into buf and returns its lines (at most max, NUL-terminated in place). */
static size_t
audit_lines(struct fx *f, char *buf, size_t size, char **lines, size_t max)
{
	FILE *fp = fopen(f->audit_file, "r");
	size_t len, n = 0;
	char *p, *nl;

	assert_non_null(fp);
	len = fread(buf, 1, size - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	for (p = buf; *p != '\0' && n < max; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);	/* every line is whole */
		*nl = '\0';
		lines[n++] = p;
	}
	return n;
}

/* Asserts that an audit line holds each of the NULL-terminated JSON fragments. */
static void
expect_line(const char *line, ...)
{
	const char *frag;
	va_list ap;

	va_start(ap, line);
	while ((frag = va_arg(ap, const char *)) != NULL)
		if (strstr(line, frag) == NULL)
			fail_msg("audit line lacks %s: %s", frag, line);
	va_end(ap);
}

/*
 * One audit line per batch item that ran, with who, the version, the operation, the objects it named
 * and the result (the Result Reason's name on failure); items a Stop batch did not run have none; a
 * refused Credential has its own line.
 */
static void
test_audit(void **state)
{
	struct fx *f = *state;
	char buf[8192], *lines[16], uid_json[96];
	struct ttlv_enc e;
	struct ttlv *resp;
	size_t n;

	reload(f, &(struct policy_opts){ .user = "backup", .password = "s3cret pass", .audit = true });
	req_begin_hdr(&e, V14, 2, &(struct hdr){ .continuation = KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE });
	enc_create(&e, V14, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL);
	enc_uid_item(&e, KMIP_OPERATION_GET, MISSING_UID);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	snprintf(uid_json, sizeof(uid_json), "\"uids\":[\"%s\"]", ptext(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER));
	expect_fail(uid_op(f, &f->bob, V21, KMIP_OPERATION_GET, MISSING_UID), 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND);
	expect_refused(query_as(f, &f->admin, V14, "backup", "wrong"));
	req_begin(&e, V21, 3);
	enc_uid_item(&e, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	enc_uid_item(&e, KMIP_OPERATION_ACTIVATE, NULL);
	enc_uid_item(&e, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	req_end(&e);
	resp = call(f, &f->alice, &e);
	assert_int_equal(nitems(resp), 2);

	n = audit_lines(f, buf, sizeof(buf), lines, 16);
	assert_int_equal(n, 6);
	/* The Create's line comes once the group commit has kept it: after the Get that failed at once. */
	expect_line(lines[1], "\"conn\":1,", "\"identity\":\"alice\"", "\"version\":\"1.4\"",
	    "\"operation\":\"Create\"",
	    uid_json, "\"result\":\"success\"", "\"reason\":null", NULL);
	expect_line(lines[0], "\"identity\":\"alice\"", "\"operation\":\"Get\"", "\"uids\":[\"" MISSING_UID "\"]",
	    "\"result\":\"failure\"", "\"reason\":\"Item Not Found\"", NULL);
	expect_line(lines[2], "\"conn\":2,", "\"identity\":\"bob\"", "\"version\":\"2.1\"", "\"operation\":\"Get\"",
	    "\"reason\":\"Object Not Found\"", NULL);
	expect_line(lines[3], "\"identity\":\"" ADMIN "\"", "\"operation\":\"Authentication\"", "\"uids\":[]",
	    "\"result\":\"failure\"", "\"reason\":\"Authentication Not Successful\"", NULL);
	expect_line(lines[4], "\"operation\":\"DiscoverVersions\"", "\"result\":\"success\"", NULL);
	expect_line(lines[5], "\"operation\":\"Activate\"", "\"result\":\"failure\"", "\"reason\":\"Invalid Field\"",
	    NULL);
	/* Nothing secret goes there. */
	assert_null(strstr(buf, "s3cret"));
	assert_null(strstr(buf, "wrong"));
}

/* Sessions and the group commit. */

/* Submits the request in e (freed here) as c without waiting; a DONE response is left in c->buf. */
static enum engine_status
submit(struct fx *f, struct client *c, struct ttlv_enc *e)
{
	enum engine_status st;
	struct ttlv_arena *a;
	struct ttlv *root;
	uint8_t *buf;
	size_t len;

	assert_int_equal(ttlv_enc_finish(e), 0);
	assert_int_equal(ttlv_decode(e->buf, e->len, NULL, &root, &a, NULL, NULL), TTLV_DONE);
	ttlv_enc_free(e);
	f->in_request = true;
	st = engine_request(c->s, root, a, &buf, &len);
	f->in_request = false;
	assert_int_equal(f->inside_calls, 0);
	if (st == ENGINE_DONE) {
		assert_null(c->buf);
		c->buf = buf;
		c->len = len;
	}
	return st;
}

/* Takes the response c was handed (asserted there) and decodes it. */
static struct ttlv *
take_delivered(struct fx *f, struct client *c)
{
	uint8_t *buf = c->buf;

	assert_non_null(buf);
	c->buf = NULL;
	return take(f, buf, c->len);
}

/* Submits a Create of an AES-128 key named name as c. */
static enum engine_status
submit_create(struct fx *f, struct client *c, const char *name)
{
	struct ttlv_enc e;

	req_begin(&e, V21, 1);
	enc_create(&e, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, name);
	req_end(&e);
	return submit(f, c, &e);
}

/*
 * The group commit: a write is answered only after engine_commit(), through the session's callback, and
 * so is a read that came while writes were pending (it may have seen them); the engine asks for one
 * commit, which releases every held response at once. Requests after it wait for the next one.
 */
static void
test_group_commit(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;

	struct client alice2 = { 0 };

	assert_int_equal(submit_create(f, &f->alice, "held-1"), ENGINE_PENDING);
	assert_true(f->commit_due);
	assert_int_equal(engine_held(f->eng), 1);
	/* A request that reads nothing staged is answered at once: it does not depend on the commit. */
	req_begin(&e, V21, 1);
	enc_uid_item(&e, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	req_end(&e);
	assert_int_equal(submit(f, &f->bob, &e), ENGINE_DONE);
	expect_ok(take_delivered(f, &f->bob), 0);
	assert_int_equal(engine_held(f->eng), 1);
	/* One that reads the staged write (alice's other connection finds held-1) waits with it. */
	assert_int_equal(client_open(f, &alice2, 11, "alice"), 0);
	req_begin(&e, V21, 1);
	item_begin(&e, KMIP_OPERATION_LOCATE);
	attrs_begin(&e, V21);
	a_name(&e, V21, "held-1");
	ttlv_enc_end(&e);
	item_end(&e);
	req_end(&e);
	assert_int_equal(submit(f, &alice2, &e), ENGINE_PENDING);
	assert_int_equal(engine_held(f->eng), 2);
	assert_int_equal(f->alice.delivered + alice2.delivered, 0);

	f->commit_due = false;
	assert_int_equal(engine_commit(f->eng), 0);
	assert_int_equal(engine_held(f->eng), 0);
	assert_int_equal(f->alice.delivered, 1);
	assert_int_equal(alice2.delivered, 1);
	expect_ok(take_delivered(f, &f->alice), 0);
	{
		struct ttlv *resp = take_delivered(f, &alice2);

		expect_ok(resp, 0);
		assert_non_null(ttlv_find(payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER));
	}
	session_free(alice2.s);
	assert_false(f->commit_due);

	/* With nothing pending, a read is answered at once. */
	req_begin(&e, V21, 1);
	enc_uid_item(&e, KMIP_OPERATION_DISCOVER_VERSIONS, NULL);
	req_end(&e);
	assert_int_equal(submit(f, &f->bob, &e), ENGINE_DONE);
	expect_ok(take_delivered(f, &f->bob), 0);
	assert_true(name_exists(f, &f->alice, V21, "held-1"));
}

/*
 * A session that closes while its response waits for the group commit: the response is dropped (the
 * callback never runs) but the write was made and is kept.
 */
static void
test_session_free_held(void **state)
{
	struct fx *f = *state;

	assert_int_equal(submit_create(f, &f->alice, "orphan"), ENGINE_PENDING);
	assert_int_equal(engine_held(f->eng), 1);
	session_free(f->alice.s);
	f->alice.s = NULL;
	assert_int_equal(engine_held(f->eng), 0);
	f->commit_due = false;
	assert_int_equal(engine_commit(f->eng), 0);
	assert_int_equal(f->alice.delivered, 0);
	assert_int_equal(client_open(f, &f->alice, 10, "alice"), 0);
	assert_true(name_exists(f, &f->alice, V21, "orphan"));
}

/* Adds the custom attribute x-theirs to the object, as another process does in other_process_changes(). */
static int
add_theirs(struct store_object **obj, void *arg)
{
	struct ttlv *a;

	(void)arg;
	if (*obj == NULL || (a = ttlv_new_struct((*obj)->arena, KMIP_TAG_ATTRIBUTE)) == NULL)
		return -1;
	ttlv_append(a, ttlv_new_text((*obj)->arena, KMIP_TAG_VENDOR_IDENTIFICATION, "x", 1));
	ttlv_append(a, ttlv_new_text((*obj)->arena, KMIP_TAG_ATTRIBUTE_NAME, "theirs", 6));
	ttlv_append(a, ttlv_new_text((*obj)->arena, KMIP_TAG_ATTRIBUTE_VALUE, "1", 1));
	ttlv_append((*obj)->attrs, a);
	return 0;
}

/* In another process, opens the test's store and adds the custom attribute x-theirs to uid, durably. */
static void
other_process_changes(struct fx *f, const char *uid)
{
	struct store_options so;

	store_options_init(&so);
	so.master = util_store_master_key();
	so.path = f->dir;
	so.sync = STORE_SYNC_RELAXED;
	assert_int_equal(util_store_write_elsewhere(&so, uid, add_theirs, NULL), 0);
}

/* True when uid carries the custom attribute x-name, as c reads it at 2.1. */
static bool
has_custom(struct fx *f, struct client *c, const char *uid, const char *name)
{
	const struct ttlv *a, *n;
	unsigned i;

	for (i = 0; (a = get_attr(f, c, V21, uid, KMIP_TAG_ATTRIBUTE, i)) != NULL; i++)
		if ((n = ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME)) != NULL && strcmp((const char *)n->v.bytes.data, name) == 0)
			return true;
	return false;
}

/*
 * Another process (another kmipd on the same store) changes an object while this engine holds a request
 * that changed it too: at the group commit that batch item is answered General Failure, nothing of it
 * kept, and the other process's change stands; the request's other item, which touched another object, is
 * answered as it ran and kept. Never a silent overwrite.
 */
static void
test_conflict_with_another_process(void **state)
{
	struct fx *f = *state;
	char k[UIDLEN], l[UIDLEN];
	struct ttlv_enc e;
	struct ttlv *resp;
	unsigned i;

	create_key(f, &f->alice, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, "conflict-k", k);
	create_key(f, &f->alice, V21, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, "conflict-l", l);
	req_begin(&e, V21, 2);
	for (i = 0; i < 2; i++) {
		item_begin(&e, KMIP_OPERATION_ADD_ATTRIBUTE);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, i == 0 ? k : l);
		ttlv_enc_begin(&e, KMIP_TAG_NEW_ATTRIBUTE);
		a_custom(&e, V21, "mine", "1");
		ttlv_enc_end(&e);
		item_end(&e);
	}
	req_end(&e);
	assert_int_equal(submit(f, &f->alice, &e), ENGINE_PENDING);
	other_process_changes(f, k);
	assert_true(f->commit_due);
	f->commit_due = false;
	assert_int_equal(engine_commit(f->eng), 0);
	resp = take_delivered(f, &f->alice);
	expect_fail(resp, 0, KMIP_RESULT_REASON_GENERAL_FAILURE);
	assert_non_null(strstr(rmessage(resp, 0), "changed by another writer"));
	expect_ok(resp, 1);
	assert_true(has_custom(f, &f->alice, k, "theirs"));
	assert_false(has_custom(f, &f->alice, k, "mine"));
	assert_true(has_custom(f, &f->alice, l, "mine"));
}

/* Runs the event loop for ms milliseconds. */
static void
run_loop_for(struct fx *f, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	assert_int_equal(event_base_loopexit(f->base, &tv), 0);
	assert_int_not_equal(event_base_dispatch(f->base), -1);
}

/*
 * A session that closes while its CreateKeyPair waits for a worker: the key generation is cancelled, the
 * callback never runs and nothing is stored; the workers go on serving others.
 */
static void
test_session_free_keygen(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	char priv[UIDLEN], pub[UIDLEN];

	req_begin(&e, V21, 1);
	enc_create_pair(&e, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 521,
	    .priv_name = "cancelled-pair" });
	req_end(&e);
	assert_int_equal(submit(f, &f->alice, &e), ENGINE_PENDING);
	assert_false(f->commit_due);
	session_free(f->alice.s);
	f->alice.s = NULL;
	run_loop_for(f, 300);
	assert_int_equal(f->alice.delivered, 0);
	assert_false(f->commit_due);
	assert_int_equal(engine_held(f->eng), 0);
	assert_int_equal(client_open(f, &f->alice, 10, "alice"), 0);
	assert_false(name_exists(f, &f->alice, V21, "cancelled-pair"));
	create_pair(f, V21, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 256 }, priv, pub);
}

/* Sharing. */

/*
 * access.shares ("owner:group:identity", applied by a reload) lets an identity read an owner's objects:
 * Locate finds them, merged newest first with the caller's own (by creation, not by their random
 * identifiers), Get and Get Attributes work (without ending freshness), but using or changing them is
 * answered as for a missing object; a group share covers only the group's objects.
 */
static void
test_shares(void **state)
{
	struct fx *f = *state;
	char all[UIDLEN], grouped[UIDLEN], older[2][UIDLEN], mine[2][UIDLEN], buf[512], want[512];
	struct ttlv *resp;
	unsigned i;

	/* Alice's and bob's keys made in turns. */
	for (i = 0; i < 2; i++) {
		active_aes(f, &f->alice, V21, older[i]);
		active_aes(f, &f->bob, V21, mine[i]);
	}
	active_aes(f, &f->alice, V21, all);
	grouped_key(f, &f->alice, V21, "shared-grp", NULL, grouped);
	reload(f, &(struct policy_opts){ .shares = { "alice:*:bob", NULL } });
	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		resp = locate(f, &f->bob, v, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = -1,
		    .offset = -1, .status_mask = -1 });
		snprintf(want, sizeof(want), "%s,%s,%s,%s,%s,%s", grouped, all, mine[1], older[1], mine[0], older[0]);
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		/* Paged after the merge. */
		resp = locate(f, &f->bob, v, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = 2,
		    .offset = 2, .status_mask = -1 });
		snprintf(want, sizeof(want), "%s,%s", mine[1], older[1]);
		assert_string_equal(located(resp, buf, sizeof(buf)), want);
		expect_ok(get_req(f, &f->bob, v, all, 0), 0);
		assert_int_equal(state_of(f, &f->bob, v, all), KMIP_STATE_ACTIVE);
		expect_fail(any_op(f, &f->bob, v, KMIP_OPERATION_ENCRYPT, all), 0, not_found(v));
		expect_fail(any_op(f, &f->bob, v, KMIP_OPERATION_ADD_ATTRIBUTE, all), 0, not_found(v));
		expect_fail(any_op(f, &f->bob, v, KMIP_OPERATION_REVOKE, all), 0, not_found(v));
		/* Not the other way round. */
		expect_fail(get_req(f, &f->alice, v, MISSING_UID, 0), 0, not_found(v));
	}
	assert_true(get_attr(f, &f->alice, V21, all, KMIP_TAG_FRESH, 0)->v.b);

	reload(f, &(struct policy_opts){ .shares = { "alice:shared-grp:bob", NULL } });
	resp = locate(f, &f->bob, V21, &(struct locate_q){ .type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY, .max = -1,
	    .offset = -1, .status_mask = -1 });
	snprintf(want, sizeof(want), "%s,%s,%s", grouped, mine[1], mine[0]);
	assert_string_equal(located(resp, buf, sizeof(buf)), want);
	expect_ok(get_req(f, &f->bob, V21, grouped, 0), 0);
	expect_fail(get_req(f, &f->bob, V21, all, 0), 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND);
	/* Shares end with the reload that removes them. */
	reload(f, &(struct policy_opts){ 0 });
	expect_fail(get_req(f, &f->bob, V21, grouped, 0), 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND);
}

/*
 * An object shared one by one with its x-kmipd-shared-with attribute: the identity named may read it by
 * identifier (Locate does not find it), and does not see who else it is shared with; its owner does.
 */
static void
test_share_attribute(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], buf[64];
	const struct ttlv *p;
	struct ttlv_enc e;
	struct ttlv *resp;

	create_key(f, &f->alice, V14, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, "shared-one", uid);
	req_begin(&e, V14, 1);
	item_begin(&e, KMIP_OPERATION_ADD_ATTRIBUTE);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	a_custom(&e, V14, ACCESS_SHARE_ATTRIBUTE, "bob");
	item_end(&e);
	req_end(&e);
	expect_ok(call(f, &f->alice, &e), 0);

	expect_ok(get_req(f, &f->bob, V21, uid, 0), 0);
	resp = uid_op(f, &f->bob, V14, KMIP_OPERATION_GET_ATTRIBUTES, uid);
	expect_ok(resp, 0);
	assert_int_equal(count_v1(payload(resp, 0), "x-" ACCESS_SHARE_ATTRIBUTE), 0);
	assert_int_equal(count_v1(payload(resp, 0), "Name"), 1);
	resp = uid_op(f, &f->bob, V21, KMIP_OPERATION_GET_ATTRIBUTE_LIST, uid);
	expect_ok(resp, 0);
	for (p = ttlv_find(payload(resp, 0), KMIP_TAG_ATTRIBUTE_REFERENCE); p != NULL; p = ttlv_find_next(p))
		assert_int_not_equal(p->type, TTLV_STRUCTURE);
	resp = uid_op(f, &f->alice, V14, KMIP_OPERATION_GET_ATTRIBUTES, uid);
	assert_int_equal(count_v1(payload(resp, 0), "x-" ACCESS_SHARE_ATTRIBUTE), 1);
	assert_string_equal(located(locate(f, &f->bob, V14, &(struct locate_q){ .name = "shared-one", .max = -1,
	    .offset = -1, .status_mask = -1 }), buf, sizeof(buf)), "");
	expect_fail(uid_op(f, &f->bob, V14, KMIP_OPERATION_DESTROY, uid), 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	expect_ok(get_req(f, &f->admin, V14, uid, 0), 0);

	/*
	 * Reading a shared key is not using it: bob may not wrap his own keys under alice's wrapping key, which
	 * would make it an encryption oracle for whatever he registers.
	 */
	{
		char kek[UIDLEN], mine[UIDLEN];

		create_key(f, &f->alice, V14, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 256, WRAP_MASK, NULL, kek);
		uid_op_ok(f, &f->alice, V14, KMIP_OPERATION_ACTIVATE, kek);
		req_begin(&e, V14, 1);
		item_begin(&e, KMIP_OPERATION_ADD_ATTRIBUTE);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, kek);
		a_custom(&e, V14, ACCESS_SHARE_ATTRIBUTE, "bob");
		item_end(&e);
		req_end(&e);
		expect_ok(call(f, &f->alice, &e), 0);
		expect_ok(get_req(f, &f->bob, V14, kek, 0), 0);	/* shared: bob reads it */
		create_key(f, &f->bob, V14, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, NULL, mine);
		expect_fail(get_wrapped_as(f, &f->bob, V14, mine, &(struct wrap){ .kek = kek,
		    .method = KMIP_WRAPPING_METHOD_ENCRYPT }), 0, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
		expect_ok(get_wrapped_as(f, &f->alice, V14, kek, &(struct wrap){ .kek = kek,
		    .method = KMIP_WRAPPING_METHOD_ENCRYPT }), 0);	/* its owner may */
	}
}

/*
 * The administrator may read and change every owner's objects; what it makes by re-keying another
 * owner's key stays that owner's.
 */
static void
test_admin(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN], nuid[UIDLEN];
	struct ttlv *resp;

	active_aes(f, &f->alice, V21, uid);
	expect_ok(get_req(f, &f->admin, V21, uid, 0), 0);
	expect_ok(crypto_req(f, &f->admin, V21, KMIP_OPERATION_ENCRYPT, uid, &CX(.mode = KMIP_BLOCK_CIPHER_MODE_ECB,
	    .data = plain16, .len = 16)), 0);
	resp = rekey(f, &f->admin, V21, uid, 3600, NULL);	/* Pre-Active, so that it can be destroyed */
	expect_ok(resp, 0);
	copy_uid(resp, 0, KMIP_TAG_UNIQUE_IDENTIFIER, nuid);
	expect_ok(get_req(f, &f->alice, V21, nuid, 0), 0);
	expect_fail(get_req(f, &f->bob, V21, nuid, 0), 0, KMIP_RESULT_REASON_OBJECT_NOT_FOUND);
	/* The administrator's Get does end freshness: it counts as the owner's. */
	assert_false(get_attr(f, &f->alice, V21, uid, KMIP_TAG_FRESH, 0)->v.b);
	uid_op_ok(f, &f->admin, V21, KMIP_OPERATION_DESTROY, nuid);
	assert_int_equal(state_of(f, &f->alice, V21, nuid), KMIP_STATE_DESTROYED);
}

/*
 * A failed Encrypt charges nothing of the key's Usage Limits: encrypt_decrypt() charges the key before it
 * runs the cipher, and an item answered as failed has its writes dropped (dispatch_item), so an Encrypt
 * refused for its parameters (a Block Cipher Mode the key cannot do: Invalid Field) or failing in the
 * cipher (data that does not fit: Cryptographic Failure) leaves the allowance whole.
 */
static void
test_failed_encrypt_charges_nothing(void **state)
{
	struct fx *f = *state;
	char uid[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		limited_key(f, v, 32, uid);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CMAC, .data = plain16, .len = 16)), 0,
		    KMIP_RESULT_REASON_INVALID_FIELD);
		expect_fail(crypto_req(f, &f->alice, v, KMIP_OPERATION_ENCRYPT, uid,
		    &CX(.mode = KMIP_BLOCK_CIPHER_MODE_CBC, .data = plain16, .len = 15, .iv = iv16, .iv_len = 16)), 0,
		    KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE);
		expect_ok(check(f, v, uid, 0, 32), 0);
	}
}

/*
 * Re-key Key Pair refuses a destroyed pair, as Re-key refuses a destroyed key, before any key is generated
 * for it.
 */
static void
test_rekey_key_pair_destroyed(void **state)
{
	struct fx *f = *state;
	char priv[UIDLEN], pub[UIDLEN];
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];

		create_pair(f, v, &(struct pair_q){ .alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC, .bits = 256 }, priv, pub);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, priv);
		uid_op_ok(f, &f->alice, v, KMIP_OPERATION_DESTROY, pub);
		expect_fail(rekey_pair_req(f, &f->alice, v, priv, &(struct pair_q){ 0 }), 0, wrong_state(v));
	}
}

/*
 * An item refused for the Maximum Response Size keeps nothing of what it wrote: a Create answered Response
 * Too Large leaves no key behind (the client never learns its identifier), nor an ID Placeholder.
 */
static void
test_response_too_large_keeps_nothing(void **state)
{
	struct fx *f = *state;
	struct ttlv_enc e;
	unsigned i;

	for (i = 0; i < NVERSIONS; i++) {
		unsigned v = versions[i];
		const char *name = V2(v) ? "too-large-21" : "too-large-14";

		req_begin_hdr(&e, v, 1, &(struct hdr){ .max_response_size = 60 });
		enc_create(&e, v, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES, 128, 0, name);
		req_end(&e);
		expect_fail(call(f, &f->alice, &e), 0, KMIP_RESULT_REASON_RESPONSE_TOO_LARGE);
		assert_false(name_exists(f, &f->alice, v, name));
	}
}

/*
 * Without group commit each item is made durable on its own once it has succeeded, before its answer (the
 * answer comes at once, nothing waits), and a failed one still keeps nothing.
 */
static void
test_response_too_large_keeps_nothing_alone(void **state)
{
	struct fx *f = *state;

	test_response_too_large_keeps_nothing(state);
	assert_int_equal(submit_create(f, &f->alice, "alone"), ENGINE_DONE);
	expect_ok(take_delivered(f, &f->alice), 0);
	assert_false(store_group_pending(f->store));
	assert_false(f->commit_due);
	assert_true(name_exists(f, &f->alice, V21, "alone"));
}

/* Runs the tests (argv[1]: a name filter); as KEYGEN_WORKER_NAME, a key-generation worker. */
/* access.quotas: an identity's own entry (its name may hold colons), else the per-identity defaults. */
static void
test_access_quotas(void **state)
{
	static const char *const entries[] = { "CN=odd:name:5:1M", "b:0:0", "b:1:1" };
	struct kmipd_config *cfg = config_defaults();
	struct access_policy *p = NULL;
	char *cause = NULL;
	uint64_t mo, mb;
	size_t i;

	(void)state;
	assert_non_null(cfg);
	assert_non_null(cfg->access.quotas.items = calloc(3, sizeof(char *)));
	for (i = 0; i < 2; i++)
		assert_non_null(cfg->access.quotas.items[cfg->access.quotas.count++] = strdup(entries[i]));
	cfg->access.max_objects_per_identity = 7;
	assert_int_equal(access_policy_new(cfg, &p, &cause), 0);
	access_quota(p, "CN=odd:name", &mo, &mb);
	assert_int_equal(mo, 5);
	assert_int_equal(mb, 1 << 20);
	access_quota(p, "b", &mo, &mb);
	assert_int_equal(mo, 0);
	assert_int_equal(mb, 0);
	access_quota(p, "c", &mo, &mb);
	assert_int_equal(mo, 7);
	assert_int_equal(mb, 16ULL << 30);
	access_policy_free(p);
	/* An identity given twice is refused rather than one of them silently winning. */
	assert_non_null(cfg->access.quotas.items[cfg->access.quotas.count++] = strdup(entries[2]));
	assert_int_not_equal(access_policy_new(cfg, &p, &cause), 0);
	assert_non_null(strstr(cause, "given twice"));
	free(cause);
	config_free(cfg);
}

/* Adds the given strings to a config list. */
static void
list_add(struct config_list *l, const char *const *v, size_t n)
{
	size_t i;

	assert_non_null(l->items = calloc(n, sizeof(char *)));
	for (i = 0; i < n; i++)
		assert_non_null(l->items[l->count++] = strdup(v[i]));
}

/* Roles: a union of grants by identity, OU and SAN pattern, the default role, admins, and bad references. */
static void
test_access_roles(void **state)
{
	static const char *const roles[] = { "backup: Locate, Get, CreateKeyPair, Activate, Revoke, Destroy",
	    "readonly: Locate, Get Attributes, Get Attribute List; material = no", "reader: Get; material = no" };
	static const char *const grants[] = { "readonly:identity:CN=x:y", "backup:ou:Backup Servers",
	    "reader:san:DNS:*.backup.example.com" };
	static const char *const ous[] = { "Other", "Backup Servers" };
	static const char *const sans[] = { "URI:spiffe://x", "DNS:vault1.backup.example.com" };
	struct kmipd_config *cfg = config_defaults();
	struct access_policy *p = NULL;
	struct access_rights rt;
	char *cause = NULL;

	(void)state;
	assert_non_null(cfg);
	/* Without grants and a default role everyone keeps every operation. */
	list_add(&cfg->access.roles, roles, 3);
	list_add(&cfg->access.admins, (const char *const[]){ "root" }, 1);
	assert_int_equal(access_policy_new(cfg, &p, &cause), 0);
	access_rights(p, "CN=x:y", NULL, 0, NULL, 0, &rt);
	assert_false(rt.restricted);
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_REGISTER));
	access_policy_free(p);

	list_add(&cfg->access.grants, grants, 3);
	assert_int_equal(access_policy_new(cfg, &p, &cause), 0);
	access_rights(p, "CN=x:y", NULL, 0, NULL, 0, &rt);
	assert_true(rt.restricted);
	assert_false(rt.material);
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_LOCATE));
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_QUERY));
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_DISCOVER_VERSIONS));
	assert_false(access_rights_allow(&rt, KMIP_OPERATION_GET));
	assert_false(access_rights_allow(&rt, 200));
	assert_string_equal(rt.roles, "readonly");
	/* OU and SAN pattern: the union of backup and reader; backup's material = yes wins. */
	access_rights(p, "someone", ous, 2, sans, 2, &rt);
	assert_true(rt.restricted);
	assert_true(rt.material);
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_CREATE_KEY_PAIR));
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_GET));
	assert_false(access_rights_allow(&rt, KMIP_OPERATION_GET_ATTRIBUTES));
	assert_string_equal(rt.roles, "backup, reader");
	/* A SAN pattern of one type does not match another type's value. */
	access_rights(p, "someone", NULL, 0, (const char *const[]){ "URI:vault1.backup.example.com" }, 1, &rt);
	assert_false(rt.restricted);
	/* Administrators keep everything. */
	access_rights(p, "root", NULL, 0, sans, 2, &rt);
	assert_false(rt.restricted);
	access_policy_free(p);

	/* A default role covers identities no grant names. */
	cfg->access.default_role = strdup("readonly");
	assert_int_equal(access_policy_new(cfg, &p, &cause), 0);
	access_rights(p, "nobody", NULL, 0, NULL, 0, &rt);
	assert_true(rt.restricted);
	assert_false(access_rights_allow(&rt, KMIP_OPERATION_CREATE));
	assert_true(access_rights_allow(&rt, KMIP_OPERATION_GET_ATTRIBUTE_LIST));
	access_policy_free(p);

	/* Unknown roles and operations are refused, naming what is wrong. */
	free(cfg->access.default_role);
	cfg->access.default_role = strdup("missing");
	assert_int_not_equal(access_policy_new(cfg, &p, &cause), 0);
	assert_non_null(strstr(cause, "access.default_role"));
	free(cause);
	cause = NULL;
	free(cfg->access.default_role);
	cfg->access.default_role = NULL;
	free(cfg->access.roles.items[2]);
	assert_non_null(cfg->access.roles.items[2] = strdup("reader: Get, Fetch"));
	assert_int_not_equal(access_policy_new(cfg, &p, &cause), 0);
	assert_non_null(strstr(cause, "\"Fetch\" is not a KMIP operation"));
	free(cause);
	cause = NULL;
	free(cfg->access.roles.items[2]);
	assert_non_null(cfg->access.roles.items[2] = strdup("backup: Get"));
	assert_int_not_equal(access_policy_new(cfg, &p, &cause), 0);
	assert_non_null(strstr(cause, "defined twice"));
	free(cause);
	config_free(cfg);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_batch_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discover_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_way_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_wrapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attribute_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attribute_edits_v14, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attribute_edits_v21, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_owner_like_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypt_decrypt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto_key_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypt_multi_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interop_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_undo_refused, setup_no_group_commit, teardown),
		cmocka_unit_test_setup_teardown(test_batch_placeholder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_response_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_key_pair, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_create_key_pair_rsa, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_create_key_pair_errors, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_create_key_pair_without_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_key_pair, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_key_pair_batches, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential_tries, setup, teardown),
		cmocka_unit_test(test_credential_guard),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_free_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_with_another_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_free_keygen, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_shares, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_attribute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_encrypt_charges_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_key_pair_destroyed, setup_keygen, teardown),
		cmocka_unit_test_setup_teardown(test_response_too_large_keeps_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_too_large_keeps_nothing_alone, setup_no_group_commit,
		    teardown),
		cmocka_unit_test(test_access_quotas),
		cmocka_unit_test(test_access_roles),
	};

	/* The key-generation workers keygen_start() makes are this program again. */
	if (argc > 0 && strcmp(argv[0], KEYGEN_WORKER_NAME) == 0)
		keygen_worker_main();
	log_init(getenv("ENGINE_TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false, 0);
	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
