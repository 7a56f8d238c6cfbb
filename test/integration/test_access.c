/*
 * Identity, ownership, sharing, Credentials and the audit trail, against the real kmipd over mutual TLS
 * with two client identities (kmip-client, kmip-client-2) and an administrator (kmip-admin).
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

/* A request with a username/password Credential, or none when user is NULL. */
static void
credential_request(struct ttlv_enc *e, const char *user, const char *password)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(1, 2));
	if (user != NULL) {
		ttlv_enc_begin(e, KMIP_TAG_AUTHENTICATION);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL);
		ttlv_enc_enum(e, KMIP_TAG_CREDENTIAL_TYPE, KMIP_CREDENTIAL_TYPE_USERNAME_AND_PASSWORD);
		ttlv_enc_begin(e, KMIP_TAG_CREDENTIAL_VALUE);
		ttlv_enc_cstr(e, KMIP_TAG_USERNAME, user);
		ttlv_enc_cstr(e, KMIP_TAG_PASSWORD, password);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
		ttlv_enc_end(e);
	}
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_enc_end(e);
	h_item_begin(e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
	h_item_end(e);
	h_request_end(e);
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
		credential_request(&req, cases[i].user, cases[i].password);
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

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_isolation_sharing_and_no_oracle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_lines_and_no_key_material_in_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
