/*
 * Identity, ownership, sharing, Credentials and the audit trail, against the real kmipd over mutual TLS
 * with two client identities (kmip-client, kmip-client-2) and an administrator (kmip-admin).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

struct fx {
	struct h_server srv;
	SSL_CTX *c1, *c2, *admin;
	struct kmip_client *k1, *k2, *ka;
	char audit[400];
	/* Key material the tests saw, to search the logs for afterwards. */
	uint8_t secrets[8][512];
	size_t secret_len[8];
	size_t nsecrets;
};

static struct kmip_client *
connect_as(struct fx *f, SSL_CTX **ctx, const char *name)
{
	char crt[64], key[64];

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	*ctx = h_client_ctx(h_cert(crt), h_cert(key), NULL, 0, 0);
	return h_connect(&f->srv, *ctx);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char opt[512];
	const char *opts[] = { "access.admins=kmip-admin", "access.shares=kmip-client:shared:kmip-client-2",
	    "keygen.pool_size=1", opt, NULL };

	if (f == NULL)
		return -1;
	/* The audit file lives outside the server folder, which h_start creates. */
	snprintf(f->audit, sizeof(f->audit), "%s/audit-%d.log", h_certs(), (int)getpid());
	snprintf(opt, sizeof(opt), "audit.file=%s", f->audit);
	h_start(&f->srv, opts);
	f->k1 = connect_as(f, &f->c1, "client");
	f->k2 = connect_as(f, &f->c2, "client2");
	f->ka = connect_as(f, &f->admin, "admin");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	SSL_CTX_free(f->c1);
	SSL_CTX_free(f->c2);
	SSL_CTX_free(f->admin);
	h_cleanup(&f->srv);
	unlink(f->audit);
	free(f);
	return 0;
}

/* Sends req (freed) and returns the response. */
static struct ttlv *
call(struct kmip_client *cl, struct ttlv_enc *req, struct ttlv_arena **a)
{
	struct ttlv *resp = h_call(cl, req, a);

	ttlv_enc_free(req);
	return resp;
}

/* Creates an AES-256 key, optionally in an Object Group; returns its uid in uid. */
static void
create_key(struct kmip_client *cl, const char *group, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 256);
	if (group != NULL)
		h_attr_text(&req, "Object Group", group);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	ttlv_arena_free(a);
}

/*
 * Sends op on uid and returns the Result Status; *reason and msg receive the Result Reason and Message of a
 * failure. A successful Get's key material is remembered for the log search.
 */
static int
op_on(struct fx *f, struct kmip_client *cl, uint32_t op, const char *uid, int *reason, char *msg, size_t msgsize)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	int status;

	h_uid_request(&req, op, uid, KMIP_REVOCATION_REASON_CODE_SUPERSEDED);
	resp = call(cl, &req, &a);
	status = h_item_status(resp, 0);
	if (reason != NULL)
		*reason = h_result_reason(resp);
	m = ttlv_find(h_batch_item(resp, 0), KMIP_TAG_RESULT_MESSAGE);
	if (msg != NULL)
		snprintf(msg, msgsize, "%s", m != NULL ? (const char *)m->v.bytes.data : "");
	if (op == KMIP_OPERATION_GET && status == KMIP_RESULT_STATUS_SUCCESS && f->nsecrets < 8) {
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SYMMETRIC_KEY),
		    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		assert_non_null(m);
		assert_true(m->length <= sizeof(f->secrets[0]));
		memcpy(f->secrets[f->nsecrets], m->v.bytes.data, m->length);
		f->secret_len[f->nsecrets++] = m->length;
	}
	ttlv_arena_free(a);
	return status;
}

/* Locate with no filter: every object the caller may see; returns how many, and whether uid is one. */
static int
locate_all(struct kmip_client *cl, const char *uid, bool *found)
{
	const struct ttlv *u;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	int n = 0;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_LOCATE);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	*found = false;
	for (u = ttlv_find(h_payload(resp, 0), KMIP_TAG_UNIQUE_IDENTIFIER); u != NULL; u = ttlv_find_next(u)) {
		n++;
		if (strcmp((const char *)u->v.bytes.data, uid) == 0)
			*found = true;
	}
	ttlv_arena_free(a);
	return n;
}

/* True when Get Attributes or (list) Get Attribute List on uid shows an x-kmipd-shared-with attribute. */
static bool
sees_share(struct kmip_client *cl, const char *uid, bool list)
{
	const struct ttlv *c, *n;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	bool seen = false;

	h_uid_request(&req, list ? KMIP_OPERATION_GET_ATTRIBUTE_LIST : KMIP_OPERATION_GET_ATTRIBUTES, uid, 0);
	resp = call(cl, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	for (c = h_payload(resp, 0)->v.s.first; c != NULL; c = c->next) {
		n = list ? c : ttlv_find(c, KMIP_TAG_ATTRIBUTE_NAME);
		if (n != NULL && n->tag == KMIP_TAG_ATTRIBUTE_NAME &&
		    strcmp((const char *)n->v.bytes.data, "x-kmipd-shared-with") == 0)
			seen = true;
	}
	ttlv_arena_free(a);
	return seen;
}

/* Replaces the first occurrence of uid in msg by "<uid>", so two messages can be compared. */
static void
mask_uid(char *msg, const char *uid)
{
	char *p = strstr(msg, uid), rest[256];

	if (p == NULL)
		return;
	snprintf(rest, sizeof(rest), "%s", p + strlen(uid));
	sprintf(p, "<uid>%s", rest);
}

static void
test_isolation_sharing_and_no_oracle(void **state)
{
	struct fx *f = *state;
	char k_private[64], k_shared[64], k_two[64], msg_other[256], msg_missing[256];
	int reason, reason_missing, n1, n2, na;
	bool found;
	static const uint32_t writes[] = { KMIP_OPERATION_ACTIVATE, KMIP_OPERATION_REVOKE, KMIP_OPERATION_DESTROY,
	    KMIP_OPERATION_GET_ATTRIBUTES };

	create_key(f->k1, "private", k_private);
	create_key(f->k1, "shared", k_shared);
	create_key(f->k2, NULL, k_two);

	/* Another identity's object looks exactly like a missing one, whatever the operation. */
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, k_private, &reason, msg_other, sizeof(msg_other)),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, "987654", &reason_missing, msg_missing,
	    sizeof(msg_missing)), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	assert_int_equal(reason, reason_missing);
	mask_uid(msg_other, k_private);
	mask_uid(msg_missing, "987654");
	assert_string_equal(msg_other, msg_missing);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		assert_int_equal(op_on(f, f->k2, writes[i], k_private, &reason, NULL, 0),
		    KMIP_RESULT_STATUS_OPERATION_FAILED);
		assert_int_equal(reason, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	}
	/* Shared through access.shares (group "shared"): readable, not changeable. */
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, k_shared, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET_ATTRIBUTES, k_shared, NULL, NULL, 0),
	    KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_ACTIVATE, k_shared, &reason, NULL, 0),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_DESTROY, k_shared, &reason, NULL, 0),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);

	/* Locate: each client its own (and what is shared with it); the administrator everything. */
	n1 = locate_all(f->k1, k_two, &found);
	assert_false(found);
	assert_int_equal(n1, 2);
	n2 = locate_all(f->k2, k_private, &found);
	assert_false(found);
	assert_int_equal(n2, 2);			/* its own key and the shared one */
	(void)locate_all(f->k2, k_shared, &found);
	assert_true(found);
	na = locate_all(f->ka, k_private, &found);
	assert_true(found);
	assert_int_equal(na, 3);

	/* The owner shares one object through KMIP: an x-kmipd-shared-with attribute. */
	{
		struct ttlv_arena *a;
		struct ttlv_enc req;
		struct ttlv *resp;

		h_request_begin(&req, 1, 4, 1);
		h_item_begin(&req, KMIP_OPERATION_ADD_ATTRIBUTE);
		ttlv_enc_cstr(&req, KMIP_TAG_UNIQUE_IDENTIFIER, k_private);
		h_attr_text(&req, "x-kmipd-shared-with", "kmip-client-2");
		h_item_end(&req);
		h_request_end(&req);
		resp = call(f->k1, &req, &a);
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
		ttlv_arena_free(a);
	}
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, k_private, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_DESTROY, k_private, &reason, NULL, 0),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	/* Who else an object is shared with is for its owner (and administrators), not for the sharers. */
	assert_true(sees_share(f->k1, k_private, false));
	assert_true(sees_share(f->k1, k_private, true));
	assert_true(sees_share(f->ka, k_private, false));
	assert_false(sees_share(f->k2, k_private, false));
	assert_false(sees_share(f->k2, k_private, true));

	/* The administrator acts on anyone's objects. */
	assert_int_equal(op_on(f, f->ka, KMIP_OPERATION_GET, k_two, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->ka, KMIP_OPERATION_DESTROY, k_two, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_GET, k_private, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);

	/* An administrator re-keying a client's key leaves the replacement with that client. */
	{
		struct ttlv_arena *a;
		struct ttlv_enc req;
		struct ttlv *resp;
		char k_new[64];

		h_uid_request(&req, KMIP_OPERATION_RE_KEY, k_private, 0);
		resp = call(f->ka, &req, &a);
		assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, k_new, sizeof(k_new));
		ttlv_arena_free(a);
		assert_string_not_equal(k_new, k_private);
		assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_GET_ATTRIBUTES, k_new, NULL, NULL, 0),
		    KMIP_RESULT_STATUS_SUCCESS);
		assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_DESTROY, k_new, NULL, NULL, 0),
		    KMIP_RESULT_STATUS_SUCCESS);
	}
}

/* True when needle (raw bytes, or their hex in either case) occurs in hay. */
static bool
contains_secret(const char *hay, size_t hlen, const uint8_t *needle, size_t nlen)
{
	char hex[2 * 512 + 1], upper[2 * 512 + 1];
	size_t i;

	if (memmem(hay, hlen, needle, nlen) != NULL)
		return true;
	for (i = 0; i < nlen; i++) {
		snprintf(hex + 2 * i, 3, "%02x", needle[i]);
		snprintf(upper + 2 * i, 3, "%02X", needle[i]);
	}
	/* Half the key is enough to count as a leak. */
	return memmem(hay, hlen, hex, nlen) != NULL || memmem(hay, hlen, upper, nlen) != NULL;
}

static void
test_audit_lines_and_no_key_material_in_logs(void **state)
{
	struct fx *f = *state;
	char uid[64], needle[400];
	char *audit, *log, logpath[400];
	size_t alen, llen, i;

	create_key(f->k1, NULL, uid);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_GET, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_ACTIVATE, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_REVOKE, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_DESTROY, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_true(f->nsecrets > 0);

	audit = util_read_file(f->audit, &alen);
	assert_non_null(audit);
	/* One line per operation, naming who did what to which object, and how it ended. */
	snprintf(needle, sizeof(needle), "\"identity\":\"kmip-client\",\"version\":\"1.4\",\"operation\":\"Create\","
	    "\"uids\":[\"%s\"],\"result\":\"success\",\"reason\":null", uid);
	assert_non_null(strstr(audit, needle));
	for (i = 0; i < 4; i++) {
		static const char *const ops[] = { "Get", "Activate", "Revoke", "Destroy" };

		snprintf(needle, sizeof(needle), "\"identity\":\"kmip-client\",\"version\":\"1.4\",\"operation\":\"%s\","
		    "\"uids\":[\"%s\"],\"result\":\"success\"", ops[i], uid);
		if (strstr(audit, needle) == NULL)
			fail_msg("no audit line %s in:\n%s", needle, audit);
	}
	snprintf(needle, sizeof(needle), "\"identity\":\"kmip-client-2\",\"version\":\"1.4\",\"operation\":\"Get\","
	    "\"uids\":[\"%s\"],\"result\":\"failure\",\"reason\":\"Item Not Found\"", uid);
	assert_non_null(strstr(audit, needle));
	assert_non_null(strstr(audit, "\"peer\":\"127.0.0.1:"));
	assert_non_null(strstr(audit, "\"duration_ms\":"));

	/* Neither trail nor log (at debug level) holds any key the tests saw. */
	snprintf(logpath, sizeof(logpath), "%s", f->srv.log);
	log = util_read_file(logpath, &llen);
	assert_non_null(log);
	for (i = 0; i < f->nsecrets; i++) {
		assert_false(contains_secret(audit, alen, f->secrets[i], f->secret_len[i]));
		assert_false(contains_secret(log, llen, f->secrets[i], f->secret_len[i]));
	}
	free(audit);
	free(log);
}

static void
test_credentials(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *user, *password;
		int status;
	} cases[] = {
		{ NULL, NULL, KMIP_RESULT_STATUS_OPERATION_FAILED },
		{ "appliance", "not-the-password", KMIP_RESULT_STATUS_OPERATION_FAILED },
		{ "nobody", "Pa55-w0rd!", KMIP_RESULT_STATUS_OPERATION_FAILED },
		{ "appliance", "Pa55-w0rd!", KMIP_RESULT_STATUS_SUCCESS },
		{ "appliance", "Pa55-w0rd!", KMIP_RESULT_STATUS_SUCCESS },	/* from the cache */
		{ "appliance", "Second-Guess-9", KMIP_RESULT_STATUS_OPERATION_FAILED },	/* third wrong one */
		{ "appliance", "Pa55-w0rd!", KMIP_RESULT_STATUS_OPERATION_FAILED },	/* no tries left */
		{ NULL, NULL, -1 },						/* reconnect */
		{ "appliance", "Pa55-w0rd!", KMIP_RESULT_STATUS_SUCCESS },
	};
	struct h_server s;
	char opt[640], line[512], *log;
	const char *opts[] = { opt, "access.require_credential=true", "keygen.pool_size=0", NULL };
	struct kmip_client *cl;
	SSL_CTX *ctx;
	FILE *p;
	size_t i, llen;

	(void)f;
	/* The entry comes from the real tool, so the test covers kmipctl hash-password too. */
	snprintf(line, sizeof(line), "printf 'Pa55-w0rd!\\n' | %s hash-password appliance",
	    getenv("KMIPCTL_BIN") != NULL ? getenv("KMIPCTL_BIN") : "build/kmipctl");
	p = popen(line, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	assert_non_null(strstr(line, "appliance:pbkdf2-sha256$"));
	snprintf(opt, sizeof(opt), "access.credentials=%s", line);
	h_start(&s, opts);
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	cl = h_connect(&s, ctx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ttlv_arena *a;
		struct ttlv_enc req;
		struct ttlv *resp;

		if (cases[i].status < 0) {
			kmip_client_close(cl);
			cl = h_connect(&s, ctx);
			continue;
		}
		h_credential_query(&req, 1, 2, cases[i].user, cases[i].password,
		    KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
		resp = call(cl, &req, &a);
		assert_int_equal(h_item_status(resp, 0), cases[i].status);
		if (cases[i].status != KMIP_RESULT_STATUS_SUCCESS)
			assert_int_equal(h_result_reason(resp), KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL);
		ttlv_arena_free(a);
	}
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	assert_int_equal(h_stop(&s, 10000), 0);
	log = util_read_file(s.log, &llen);
	assert_non_null(log);
	assert_null(strstr(log, "Pa55-w0rd!"));
	assert_null(strstr(log, "not-the-password"));
	assert_null(strstr(log, "Second-Guess-9"));
	assert_non_null(strstr(log, "request refused"));
	assert_non_null(strstr(log, "too many wrong Credentials on this connection"));
	free(log);
	h_cleanup(&s);
}

/* Starts kmipd with the shim in mode, its failures switched on while flag exists, and the overrides. */
static void
start_failing(struct h_server *s, const char *const *overrides, const char *mode, const char *flag,
    const char *fail_write)
{
	char preload[600], modeenv[64], flagenv[600], writeenv[600], asan[600], path[500];
	const char *asan_now = getenv("ASAN_OPTIONS");
	const char *env[] = { preload, modeenv, flagenv, asan, writeenv, NULL };

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", h_shim_path(path, sizeof(path)));
	snprintf(modeenv, sizeof(modeenv), "KMIPD_SHIM_SYNC_MODE=%s", mode);
	snprintf(flagenv, sizeof(flagenv), "KMIPD_SHIM_FAIL_FLAG=%s", flag);
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan_now != NULL ? asan_now : "",
	    asan_now != NULL && asan_now[0] != '\0' ? ":" : "");
	snprintf(writeenv, sizeof(writeenv), "KMIPD_SHIM_FAIL_WRITE=%s", fail_write != NULL ? fail_write : "");
	if (fail_write == NULL)
		env[4] = NULL;
	h_start_env(s, overrides, env);
}

/* Creates (or removes) the flag file that switches the shim's failures on. */
static void
set_flag(const char *flag, bool on)
{
	int fd;

	if (!on) {
		assert_int_equal(unlink(flag), 0);
		return;
	}
	assert_true((fd = open(flag, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	close(fd);
}

/* The audit file's text (malloc'd), waiting up to 5 s for needle to appear in it (NULL: not at all). */
static char *
audit_wait(const char *path, const char *needle)
{
	size_t len;
	char *text = NULL;
	int i;

	for (i = 0; i < 500; i++) {
		free(text);
		text = util_read_file(path, &len);
		if (text != NULL && (needle == NULL || strstr(text, needle) != NULL))
			return text;
		h_sleep_ms(10);
	}
	if (text == NULL)
		fail_msg("no audit file %s", path);
	fail_msg("no audit line with %s in:\n%s", needle, text);
	return NULL;
}

/* The line of text that holds both a and b, copied into buf; fails the test when there is none. */
static const char *
audit_line_with(const char *text, const char *a, const char *b, char *buf, size_t size)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		size_t n;

		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		snprintf(buf, size, "%.*s", (int)n, p);
		if (strstr(buf, a) != NULL && (b == NULL || strstr(buf, b) != NULL))
			return buf;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	fail_msg("no audit line with %s and %s in:\n%s", a, b != NULL ? b : "", text);
	return NULL;
}

/*
 * With the store's fdatasync failing (the shim), a Destroy is answered with a failure, and its audit line
 * says failure too: a write's line is written with the outcome of its commit, not when its handler returns.
 */
static void
test_audit_destroy_commit_fails(void **state)
{
	struct h_server s;
	char audit[400], flag[400], opt[460], uid[65], line[8192], needle[120];
	const char *opts[] = { opt, NULL };
	struct ttlv_arena *a;
	struct kmip_client *cl;
	struct ttlv_enc req;
	struct ttlv *resp;
	SSL_CTX *ctx;
	char *text;

	(void)state;
	snprintf(audit, sizeof(audit), "%s/audit-fsync-%d.log", h_certs(), (int)getpid());
	snprintf(flag, sizeof(flag), "%s/fsync-fails-%d", h_certs(), (int)getpid());
	unlink(audit);
	unlink(flag);
	snprintf(opt, sizeof(opt), "audit.file=%s", audit);
	start_failing(&s, opts, "fail", flag, NULL);
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	cl = h_connect(&s, ctx);
	create_key(cl, NULL, uid);
	set_flag(flag, true);
	h_uid_request(&req, KMIP_OPERATION_DESTROY, uid, 0);
	resp = call(cl, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	ttlv_arena_free(a);
	set_flag(flag, false);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	snprintf(needle, sizeof(needle), "\"uids\":[\"%s\"]", uid);
	text = audit_wait(audit, "\"operation\":\"Destroy\"");
	audit_line_with(text, "\"operation\":\"Destroy\"", needle, line, sizeof(line));
	if (strstr(line, "\"result\":\"failure\"") == NULL || strstr(line, "durable") == NULL)
		fail_msg("the failed Destroy is audited as: %s", line);
	free(text);
	h_stop(&s, 10000);
	h_cleanup(&s);
	unlink(audit);
}

/*
 * A client whose DN is about 4,000 bytes (access.identity = dn): its audit lines are valid JSON, the
 * identity cut with a marker, not the line; h_stop checks every line parses.
 */
static void
test_audit_long_dn_identity(void **state)
{
	struct h_server s;
	char audit[460], opt[500], dir[400], cmd[8192], subj[5000], uid[65], line[16384];
	const char *opts[] = { opt, "access.identity=dn", NULL };
	struct kmip_client *cl;
	size_t n = 0, i;
	SSL_CTX *ctx;
	char *text;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/longdn-%d", h_certs(), (int)getpid());
	n += (size_t)snprintf(subj + n, sizeof(subj) - n, "/O=kmipd development/OU=quote \\\"here\\\" and \303\251t\303\251");
	for (i = 0; i < 61; i++)
		n += (size_t)snprintf(subj + n, sizeof(subj) - n, "/OU=unit-%02zu-%s", i,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	snprintf(subj + n, sizeof(subj) - n, "/CN=long-dn-client");
	snprintf(cmd, sizeof(cmd), "set -e; mkdir -p '%s'; cd '%s'; "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout c.key -out c.csr "
	    "-subj \"%s\" 2>/dev/null; "
	    "printf 'extendedKeyUsage=clientAuth\\n' > ext.cnf; "
	    "openssl x509 -req -in c.csr -CA '%s' -CAkey '%s' -set_serial 4242 -days 2 -extfile ext.cnf "
	    "-out c.crt 2>/dev/null", dir, dir, subj, h_cert("ca.crt"), h_cert("ca.key"));
	assert_int_equal(system(cmd), 0);
	snprintf(audit, sizeof(audit), "%s/audit.log", dir);
	snprintf(opt, sizeof(opt), "audit.file=%s", audit);
	h_start(&s, opts);
	snprintf(cmd, sizeof(cmd), "%s/c.crt", dir);
	snprintf(subj, sizeof(subj), "%s/c.key", dir);
	ctx = h_client_ctx(cmd, subj, NULL, 0, 0);
	cl = h_connect(&s, ctx);
	create_key(cl, NULL, uid);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	text = audit_wait(audit, "\"operation\":\"Create\"");
	audit_line_with(text, "\"operation\":\"Create\"", "\"result\":\"success\"", line, sizeof(line));
	assert_non_null(strstr(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_non_null(strstr(line, "more bytes]\""));
	free(text);
	assert_int_equal(h_audit_valid(audit), 0);
	h_stop(&s, 10000);
	h_cleanup(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Failed handshakes are audited with the peer and the reason: a client with a certificate from another CA
 * (with its subject and fingerprint) and a client without one.
 */
static void
test_audit_handshake_failures(void **state)
{
	struct h_server s;
	char audit[400], opt[460], line[8192];
	const char *opts[] = { opt, NULL };
	struct kmip_client *cl;
	SSL_CTX *ctx;
	char *text;
	int fd;

	(void)state;
	snprintf(audit, sizeof(audit), "%s/audit-hs-%d.log", h_certs(), (int)getpid());
	unlink(audit);
	snprintf(opt, sizeof(opt), "audit.file=%s", audit);
	h_start(&s, opts);
	/* A TCP health check that sends nothing is no client: neither audited nor counted as a failure. */
	fd = h_tcp_connect(&s);
	close(fd);
	h_sleep_ms(200);
	ctx = h_client_ctx(h_cert("other-client.crt"), h_cert("other-client.key"), NULL, 0, 0);
	cl = h_try_connect(&s, ctx, NULL, NULL, 0);
	if (cl != NULL)
		kmip_client_close(cl);
	SSL_CTX_free(ctx);
	text = audit_wait(audit, "\"event\":\"tls_handshake_failed\"");
	audit_line_with(text, "\"event\":\"tls_handshake_failed\"", "\"peer\":\"127.0.0.1:", line, sizeof(line));
	assert_non_null(strstr(line, "\"reason\":\""));
	assert_non_null(strstr(line, "\"subject\":\""));
	assert_null(strstr(line, "\"fingerprint\":null"));
	assert_null(strstr(strstr(text, "tls_handshake_failed") + 1, "tls_handshake_failed"));
	free(text);
	ctx = h_client_ctx(NULL, NULL, NULL, 0, 0);
	cl = h_try_connect(&s, ctx, NULL, NULL, 0);
	if (cl != NULL)
		kmip_client_close(cl);
	SSL_CTX_free(ctx);
	text = audit_wait(audit, "\"subject\":null");
	audit_line_with(text, "\"event\":\"tls_handshake_failed\"", "\"subject\":null", line, sizeof(line));
	assert_non_null(strstr(line, "\"peer\":\"127.0.0.1:"));
	assert_non_null(strstr(line, "\"reason\":\""));
	free(text);
	h_stop(&s, 10000);
	h_cleanup(&s);
	unlink(audit);
}

/*
 * audit.required: while the audit file cannot be written (the shim fails its writes), requests are refused
 * with a message that says why, the log says so once, and they are served again once it can.
 */
static void
test_audit_required_refuses_until_writable(void **state)
{
	struct h_server s;
	char audit[400], flag[400], opt[460], uid[65], msg[300];
	const char *opts[] = { opt, "audit.required=true", NULL };
	struct kmip_client *cl;
	int reason, i;
	SSL_CTX *ctx;

	(void)state;
	snprintf(audit, sizeof(audit), "%s/audit-req-%d.log", h_certs(), (int)getpid());
	snprintf(flag, sizeof(flag), "%s/audit-fails-%d", h_certs(), (int)getpid());
	unlink(audit);
	unlink(flag);
	snprintf(opt, sizeof(opt), "audit.file=%s", audit);
	start_failing(&s, opts, "real", flag, strrchr(audit, '/'));
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	cl = h_connect(&s, ctx);
	create_key(cl, NULL, uid);
	set_flag(flag, true);
	for (i = 0; i < 3; i++) {
		assert_int_equal(op_on(NULL, cl, KMIP_OPERATION_GET_ATTRIBUTES, uid, &reason, msg, sizeof(msg)),
		    KMIP_RESULT_STATUS_OPERATION_FAILED);
		assert_int_equal(reason, KMIP_RESULT_REASON_GENERAL_FAILURE);
		if (strstr(msg, "audit") == NULL)
			fail_msg("refusal without saying why: %s", msg);
	}
	assert_int_equal(op_on(NULL, cl, KMIP_OPERATION_DESTROY, uid, &reason, msg, sizeof(msg)),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(h_log_count(&s, "requests are refused until it works again"), 1);
	set_flag(flag, false);
	assert_int_equal(op_on(NULL, cl, KMIP_OPERATION_GET_ATTRIBUTES, uid, &reason, msg, sizeof(msg)),
	    KMIP_RESULT_STATUS_SUCCESS);
	assert_true(h_log_wait(&s, "works again", 5000));
	/* The Destroy refused while the trail was down did nothing: the key is still there to destroy. */
	assert_int_equal(op_on(NULL, cl, KMIP_OPERATION_DESTROY, uid, &reason, msg, sizeof(msg)),
	    KMIP_RESULT_STATUS_SUCCESS);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
	h_stop(&s, 10000);
	h_cleanup(&s);
	unlink(audit);
}

/* The operations Query (Query Operations) lists to cl, as a bit mask of Operation values below 64. */
static uint64_t
query_operations(struct kmip_client *cl)
{
	const struct ttlv *o;
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	uint64_t mask = 0;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&req, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OPERATIONS);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	for (o = ttlv_find(h_payload(resp, 0), KMIP_TAG_OPERATION); o != NULL; o = ttlv_find_next(o)) {
		assert_true(o->v.u32 < 64);
		mask |= UINT64_C(1) << o->v.u32;
	}
	ttlv_arena_free(a);
	return mask;
}

/* Creates an AES key as cl and returns the Result Status (Result Reason in *reason); uid set on success. */
static int
try_create(struct kmip_client *cl, char *uid, int *reason)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	int status;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 256);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = call(cl, &req, &a);
	status = h_item_status(resp, 0);
	*reason = h_result_reason(resp);
	if (status == KMIP_RESULT_STATUS_SUCCESS)
		h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	ttlv_arena_free(a);
	return status;
}

#define OPBIT(op) (UINT64_C(1) << KMIP_OPERATION_##op)

/*
 * Roles: a read-only role (granted by identity) cannot Get material but can Locate and read attributes,
 * and Query lists exactly its operations; a role granted by OU and one by SAN pattern combine; an
 * identity no grant names keeps every operation; administrators keep every operation.
 */
static void
test_roles_by_identity_ou_and_san(void **state)
{
	const char *opts[] = { "access.admins=kmip-admin", "access.shares=kmip-client:*:kmip-client-2",
	    "keygen.pool_size=0",
	    "access.roles=[\"backup: Locate, Get, Create, CreateKeyPair, Activate, Revoke, Destroy\","
	    " \"readonly: Locate, Get Attributes, GetAttributeList\", \"lister: Get Attribute List\"]",
	    "access.grants=[\"readonly:identity:kmip-client-2\", \"backup:ou:Backup Servers\","
	    " \"lister:san:URI:spiffe://example.com/backup/*\", \"readonly:san:DNS:*.elsewhere.example.com\"]",
	    NULL };
	struct kmip_client *cb;
	struct h_server s;
	char uid[64], buid[64], msg[512];
	SSL_CTX *cbx;
	struct fx *f = *state;
	bool found;
	int reason;

	/* The fixture's server has no roles: this test runs its own. */
	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	h_start(&s, opts);
	f->k1 = h_connect(&s, f->c1);
	f->k2 = h_connect(&s, f->c2);
	f->ka = h_connect(&s, f->admin);
	cbx = h_client_ctx(h_cert("backup.crt"), h_cert("backup.key"), NULL, 0, 0);
	cb = h_connect(&s, cbx);

	/* No grant, no default role: every operation, as before roles. */
	create_key(f->k1, NULL, uid);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_ACTIVATE, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_GET, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_true((query_operations(f->k1) & (OPBIT(CREATE) | OPBIT(REGISTER) | OPBIT(ADD_ATTRIBUTE))) ==
	    (OPBIT(CREATE) | OPBIT(REGISTER) | OPBIT(ADD_ATTRIBUTE)));

	/* readonly: Locate finds the shared key, attributes are readable, Get is Permission Denied. */
	assert_true(locate_all(f->k2, uid, &found) >= 1);
	assert_true(found);
	assert_false(sees_share(f->k2, uid, false));
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, uid, &reason, msg, sizeof(msg)),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_non_null(strstr(msg, "Get"));
	assert_non_null(strstr(msg, "readonly"));
	assert_int_equal(try_create(f->k2, buid, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	/* Query lists exactly its operations, Discover Versions and Query included, and both work. */
	assert_true(query_operations(f->k2) == (OPBIT(LOCATE) | OPBIT(GET_ATTRIBUTES) | OPBIT(GET_ATTRIBUTE_LIST) |
	    OPBIT(DISCOVER_VERSIONS) | OPBIT(QUERY)));
	h_discover_ok(f->k2);

	/* The backup certificate: backup by its OU, lister by its URI SAN; readonly's DNS pattern misses. */
	assert_true(query_operations(cb) == (OPBIT(LOCATE) | OPBIT(GET) | OPBIT(CREATE) | OPBIT(CREATE_KEY_PAIR) |
	    OPBIT(ACTIVATE) | OPBIT(REVOKE) | OPBIT(DESTROY) | OPBIT(GET_ATTRIBUTE_LIST) |
	    OPBIT(DISCOVER_VERSIONS) | OPBIT(QUERY)));
	assert_int_equal(try_create(cb, buid, &reason), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, cb, KMIP_OPERATION_GET, buid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, cb, KMIP_OPERATION_GET_ATTRIBUTE_LIST, buid, NULL, NULL, 0),
	    KMIP_RESULT_STATUS_SUCCESS);
	assert_int_equal(op_on(f, cb, KMIP_OPERATION_GET_ATTRIBUTES, buid, &reason, NULL, 0),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_int_equal(op_on(f, cb, KMIP_OPERATION_DESTROY, buid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);

	/* Administrators keep everything. */
	assert_int_equal(op_on(f, f->ka, KMIP_OPERATION_GET, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);

	kmip_client_close(cb);
	SSL_CTX_free(cbx);
	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	f->k1 = f->k2 = f->ka = NULL;
	assert_int_equal(h_stop(&s, 10000), 0);
	assert_true(h_log_count(&s, "permission denied: Get is in none of the roles readonly") >= 1);
	h_cleanup(&s);
}

/*
 * access.default_role applies to identities no grant names, and a role with "material = no" may Locate
 * and Get a certificate-less key's attributes but not its material.
 */
static void
test_default_role_and_material(void **state)
{
	const char *opts[] = { "access.admins=kmip-admin", "access.shares=kmip-client:*:kmip-client-2",
	    "keygen.pool_size=0",
	    "access.roles=[\"reader: Locate, Get, Get Attributes; material = no\", \"maker: Create, Get, Activate\"]",
	    "access.grants=[\"maker:identity:kmip-client\"]", "access.default_role=reader", NULL };
	struct h_server s;
	char uid[64], other[64], msg[512];
	struct fx *f = *state;
	bool found;
	int reason;

	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	h_start(&s, opts);
	f->k1 = h_connect(&s, f->c1);
	f->k2 = h_connect(&s, f->c2);
	f->ka = h_connect(&s, f->admin);

	create_key(f->k1, NULL, uid);
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_GET, uid, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);
	/* maker lacks Destroy and Locate. */
	assert_int_equal(op_on(f, f->k1, KMIP_OPERATION_DESTROY, uid, &reason, NULL, 0),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	/* kmip-client-2 has no grant: the default role, reader. */
	assert_int_equal(try_create(f->k2, other, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_true(locate_all(f->k2, uid, &found) >= 1);
	assert_true(found);
	assert_false(sees_share(f->k2, uid, false));
	assert_int_equal(op_on(f, f->k2, KMIP_OPERATION_GET, uid, &reason, msg, sizeof(msg)),
	    KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	assert_non_null(strstr(msg, "key material"));
	/* Administrators are not held to the default role. */
	create_key(f->ka, NULL, other);
	assert_int_equal(op_on(f, f->ka, KMIP_OPERATION_DESTROY, other, NULL, NULL, 0), KMIP_RESULT_STATUS_SUCCESS);

	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	f->k1 = f->k2 = f->ka = NULL;
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

/*
 * access.identity = san:dns and san:uri name one certificate (carrying both) as two identities that do not
 * see each other's objects; plain san takes the first SAN (the URI here) as before; a certificate without
 * a DNS SAN is refused under san:dns, with a log line.
 */
static void
test_identity_typed_san(void **state)
{
	const char *dns[] = { "access.identity=san:dns", "keygen.pool_size=0", NULL };
	const char *uri[] = { "access.identity=san:uri", "keygen.pool_size=0", NULL };
	const char *any[] = { "access.identity=san", "keygen.pool_size=0", NULL };
	struct kmip_client *cb, *cl;
	struct h_server s;
	char duid[64], uuid[64], why[256];
	struct fx *f = *state;
	SSL_CTX *cbx;
	bool found;
	int reason;

	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	f->k1 = f->k2 = f->ka = NULL;
	cbx = h_client_ctx(h_cert("backup.crt"), h_cert("backup.key"), NULL, 0, 0);

	h_start(&s, dns);
	cb = h_connect(&s, cbx);
	assert_int_equal(try_create(cb, duid, &reason), KMIP_RESULT_STATUS_SUCCESS);
	kmip_client_close(cb);
	/* kmip-client's certificate has no SAN at all. */
	if ((cl = h_try_connect(&s, f->c1, NULL, why, sizeof(why))) != NULL)
		kmip_client_close(cl);
	assert_true(h_log_wait(&s, "lacks the identity field access.identity names (san:dns", 5000));
	assert_int_equal(h_stop(&s, 10000), 0);
	assert_true(h_log_count(&s, "vault1.backup.example.com") >= 1);

	h_restart(&s, uri);
	cb = h_connect(&s, cbx);
	assert_int_equal(locate_all(cb, duid, &found), 0);
	assert_int_equal(op_on(f, cb, KMIP_OPERATION_GET, duid, &reason, NULL, 0), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_ITEM_NOT_FOUND);
	assert_int_equal(try_create(cb, uuid, &reason), KMIP_RESULT_STATUS_SUCCESS);
	kmip_client_close(cb);
	assert_int_equal(h_stop(&s, 10000), 0);

	/* Plain san: the first SAN whatever its type, the URI for this certificate, as before. */
	h_restart(&s, any);
	cb = h_connect(&s, cbx);
	assert_int_equal(locate_all(cb, uuid, &found), 1);
	assert_true(found);
	kmip_client_close(cb);
	assert_int_equal(h_stop(&s, 10000), 0);
	SSL_CTX_free(cbx);
	h_cleanup(&s);
}

/* Writes s's config (text, 4096 bytes): the test certificates, its store, and access settings. */
static void
roles_config(struct h_server *s, const char *access, char *text)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/kmipd.conf", s->dir);
	snprintf(text, 4096, "tls: { cert_file = \"%s\"; key_file = \"%s\"; clients_ca_cert_file = \"%s\"; };\n"
	    "store: { path = \"%s/store\"; };\nkeygen: { pool_size = 0; };\naccess: { %s };\n", h_cert("server.crt"),
	    h_cert("server.key"), h_cert("ca.crt"), s->dir, access);
	h_write_file(path, text);
}

/* A reload that changes the grants changes what an open session may do, at its next request. */
static void
test_roles_reload(void **state)
{
	static const char *const restricted = "roles = [ \"ro: Locate\" ]; grants = [ \"ro:identity:kmip-client\" ];";
	static const char *const open_ = "roles = [ \"ro: Locate\" ]; grants = [ ];";
	struct h_server s;
	char uid[64], text[4096];
	struct fx *f = *state;
	int i, reason;

	kmip_client_close(f->k1);
	kmip_client_close(f->k2);
	kmip_client_close(f->ka);
	f->k2 = f->ka = NULL;
	memset(&s, 0, sizeof(s));
	h_make_dir(&s);
	roles_config(&s, restricted, text);
	h_start_config_raw(&s, text, NULL);
	f->k1 = h_connect(&s, f->c1);
	assert_int_equal(try_create(f->k1, uid, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);

	roles_config(&s, open_, text);
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "reload done", 5000));
	assert_int_equal(try_create(f->k1, uid, &reason), KMIP_RESULT_STATUS_SUCCESS);

	roles_config(&s, restricted, text);
	h_signal(&s, SIGHUP);
	for (i = 0; i < 100 && h_log_count(&s, "reload done") < 2; i++)
		h_sleep_ms(50);
	assert_int_equal(h_log_count(&s, "reload done"), 2);
	assert_int_equal(try_create(f->k1, uid, &reason), KMIP_RESULT_STATUS_OPERATION_FAILED);
	assert_int_equal(reason, KMIP_RESULT_REASON_PERMISSION_DENIED);
	kmip_client_close(f->k1);
	f->k1 = NULL;
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_isolation_sharing_and_no_oracle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_lines_and_no_key_material_in_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
		cmocka_unit_test(test_audit_destroy_commit_fails),
		cmocka_unit_test(test_audit_long_dn_identity),
		cmocka_unit_test(test_audit_handshake_failures),
		cmocka_unit_test(test_audit_required_refuses_until_writable),
		cmocka_unit_test_setup_teardown(test_roles_by_identity_ou_and_san, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_role_and_material, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_typed_san, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles_reload, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
