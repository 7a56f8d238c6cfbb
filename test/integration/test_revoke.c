/*
 * Integration tests of who may connect, against the real kmipd over mutual TLS on loopback: certificates
 * revoked in tls.crl_file (after SIGHUP and when the file changes), resumed sessions of a revoked client,
 * expired CRLs, and the access.allow and access.deny lists. Each test makes its own certificate set with
 * etc/mkcerts.sh, so revoking in it disturbs no other test.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

static int
setup(void **state)
{
	struct h_server *s = calloc(1, sizeof(*s));

	*state = s;
	return s == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	h_cleanup(*state);
	free(*state);
	return 0;
}

/* The path of a file of the test's certificate set (s->dir/certs/name); static buffer rotated over 8 calls. */
static const char *
cert(struct h_server *s, const char *name)
{
	static char buf[8][400];
	static unsigned n;
	char *p = buf[n++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/certs/%s", s->dir, name);
	return p;
}

/* Runs etc/mkcerts.sh with args on the test's set ("revoke ... client", "crl ..."), env first; must succeed. */
static void
mkcerts(struct h_server *s, const char *env, const char *verb, const char *arg)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "%s sh %s/etc/mkcerts.sh %s '%s/certs' %s >/dev/null", env,
	    getenv("KMIPD_SRCDIR") != NULL ? getenv("KMIPD_SRCDIR") : ".", verb, s->dir, arg);
	assert_int_equal(system(cmd), 0);
}

/*
 * Writes the config: the test's set with its crl.pem (when crl), then extra (whole groups or tls keys);
 * "@DIR@" in rest stands for the test's folder.
 */
static void
write_config(struct h_server *s, bool crl, const char *tls_extra, const char *rest_in)
{
	char text[4096], path[400], rest[2048];
	const char *at = strstr(rest_in, "@DIR@");

	if (at != NULL)
		snprintf(rest, sizeof(rest), "%.*s%s%s", (int)(at - rest_in), rest_in, s->dir, at + 5);
	else
		snprintf(rest, sizeof(rest), "%s", rest_in);

	snprintf(text, sizeof(text), "server: {\n\tlisten = \"127.0.0.1\";\n};\ntls: {\n\tcert_file = \"%s\";\n"
	    "\tkey_file = \"%s\";\n\tclients_ca_cert_file = \"%s\";\n%s%s%s%s};\n%s", cert(s, "server.crt"),
	    cert(s, "server.key"), cert(s, "ca.crt"), crl ? "\tcrl_file = \"" : "", crl ? cert(s, "crl.pem") : "",
	    crl ? "\";\n" : "", tls_extra, rest);
	/* The file h_start_config_raw writes and kmipd reads again on SIGHUP. */
	snprintf(path, sizeof(path), "%s/kmipd.conf", s->dir);
	h_write_file(path, text);
}

/* Makes the folder and a certificate set in it, writes the config and starts kmipd on it. */
static void
start(struct h_server *s, bool crl, const char *tls_extra, const char *rest)
{
	char path[400], text[8192];
	FILE *f;
	size_t n;

	h_make_dir(s);
	snprintf(path, sizeof(path), "%s/certs", s->dir);
	h_mkcerts(path, "ec");
	write_config(s, crl, tls_extra, rest);
	snprintf(path, sizeof(path), "%s/kmipd.conf", s->dir);
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	h_start_config_raw(s, text, NULL);
}

/* A client context of the set's name.crt; version 0 allows TLS 1.2 and 1.3. */
static SSL_CTX *
client_ctx(struct h_server *s, const char *name, int version)
{
	char crt[64], key[64];

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	return h_client_ctx(cert(s, crt), cert(s, key), cert(s, "ca.crt"), version, version);
}

/* A new connection of name is served. */
static void
served(struct h_server *s, const char *name)
{
	SSL_CTX *ctx = client_ctx(s, name, 0);
	struct kmip_client *cl = h_connect(s, ctx);

	h_discover_ok(cl);
	kmip_client_close(cl);
	SSL_CTX_free(ctx);
}

/*
 * (a) client revoked with mkcerts.sh revoke: after SIGHUP its open connection is closed and new ones are
 * refused while client2 keeps its connection and is served; then client2 revoked and the file only
 * replaced: the timer (tls.crl_check_interval) loads it and closes client2's connection too.
 */
static void
test_crl_revoked_after_sighup_and_timer(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *c1, *c2;
	struct kmip_client *a, *b;

	start(s, true, "\tcrl_check_interval = 1;\n", "");
	c1 = client_ctx(s, "client", 0);
	c2 = client_ctx(s, "client2", 0);
	a = h_connect(s, c1);
	b = h_connect(s, c2);
	h_discover_ok(a);
	h_discover_ok(b);

	/* The CRL changes under the same name; SIGHUP applies it at once (the timer might too: either way). */
	mkcerts(s, "", "revoke", "client");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "identity kmip-client (certificate serial", 5000));
	h_expect_close(a, true);
	kmip_client_close(a);
	h_discover_ok(b);
	assert_true(h_refused(s, c1, NULL));
	served(s, "client2");
	h_discover_ok(b);

	/* No SIGHUP: the changed file is seen within the check interval. */
	mkcerts(s, "", "revoke", "client2");
	assert_true(h_log_wait(s, "identity kmip-client-2 (certificate serial", 5000));
	h_expect_close(b, true);
	kmip_client_close(b);
	assert_true(h_refused(s, c2, NULL));
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
}

/* A session of client saved, client revoked and SIGHUP: offering the session again is refused. */
static void
resume_revoked(struct h_server *s, int version, bool ticket)
{
	SSL_CTX *ctx = client_ctx(s, "client", version);
	struct kmip_client *cl = h_connect(s, ctx);
	SSL_SESSION *sess;
	char why[512];

	h_discover_ok(cl);
	assert_non_null(sess = SSL_get1_session(kmip_client_ssl(cl)));
	assert_int_equal(SSL_SESSION_has_ticket(sess), ticket);
	kmip_client_close(cl);
	/* The session resumes while the client is in good standing. */
	if ((cl = h_try_connect(s, ctx, sess, why, sizeof(why))) == NULL)
		fail_msg("reconnect: %s", why);
	assert_true(SSL_session_reused(kmip_client_ssl(cl)));
	h_discover_ok(cl);
	kmip_client_close(cl);

	mkcerts(s, "", "revoke", "client");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", 5000));
	assert_true(h_refused(s, ctx, sess));
	served(s, "client2");
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
}

/* (b1) TLS 1.2 session id (tickets off) of a revoked client. */
static void
test_crl_resumed_tls12_session_id(void **state)
{
	struct h_server *s = *state;

	start(s, true, "\tsession_tickets = false;\n", "");
	resume_revoked(s, TLS1_2_VERSION, false);
}

/* (b2) TLS 1.3 ticket of a revoked client. */
static void
test_crl_resumed_tls13_ticket(void **state)
{
	struct h_server *s = *state;

	start(s, true, "", "");
	resume_revoked(s, TLS1_3_VERSION, true);
}

/*
 * (c) access.deny refuses kmip-client-2 with a log line; reloaded with access.allow = kmip-client-2 only:
 * client's open connection is closed, client is refused, client2 is served. Both refusals are audited.
 */
static void
test_allow_deny_lists(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *c1, *c2;
	struct kmip_client *a;

	char path[400], *log;

	start(s, false, "", "access: {\n\tdeny = [ \"kmip-client-2\" ];\n};\naudit: {\n\tfile = \"@DIR@/audit.log\";\n};\n");
	snprintf(path, sizeof(path), "%s/audit.log", s->dir);
	c1 = client_ctx(s, "client", 0);
	c2 = client_ctx(s, "client2", 0);
	assert_true(h_refused(s, c2, NULL));
	assert_true(h_log_wait(s, "identity kmip-client-2 (certificate serial", 5000));
	assert_true(h_log_wait(s, "refused: in access.deny", 1000));
	served(s, "client");
	a = h_connect(s, c1);
	h_discover_ok(a);

	write_config(s, false, "", "access: {\n\tallow = [ \"kmip-client-2\" ];\n};\naudit: {\n\tfile = \"@DIR@/audit.log\";\n};\n");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "refused at reload: not in access.allow", 5000));
	h_expect_close(a, true);
	kmip_client_close(a);
	/* Both refusals are in the audit trail, with their reasons. */
	assert_non_null(log = util_read_file(path, NULL));
	assert_non_null(strstr(log, "\"tls_identity_refused\""));
	assert_non_null(strstr(log, "in access.deny"));
	assert_non_null(strstr(log, "\"identity_refused_at_reload\""));
	assert_non_null(strstr(log, "not in access.allow"));
	free(log);
	assert_true(h_refused(s, c1, NULL));
	served(s, "client2");

	/* Both lists: deny wins. */
	write_config(s, false, "", "access: {\n\tallow = [ \"kmip-client-2\" ];\n\tdeny = [ \"kmip-client-2\" ];\n};\n");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done: TLS context generation 3", 5000));
	assert_true(h_refused(s, c2, NULL));
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
}

/* (d) A CRL past its next update: served with a warning by default; refused with crl_expired = refuse. */
static void
test_crl_expired(void **state)
{
	struct h_server *s = *state;
	SSL_CTX *c1;

	start(s, true, "", "");
	mkcerts(s, "KMIPD_CRL_LASTUPDATE=20200101000000Z KMIPD_CRL_NEXTUPDATE=20200201000000Z", "crl", "");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "past their next update", 5000));
	served(s, "client");
	served(s, "client2");

	write_config(s, true, "\tcrl_expired = \"refuse\";\n", "");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "(tls.crl_expired = refuse)", 5000));
	c1 = client_ctx(s, "client", 0);
	assert_true(h_refused(s, c1, NULL));
	assert_true(h_log_wait(s, "CRL has expired", 5000));
	SSL_CTX_free(c1);
}

/*
 * The audit trail names what a start and a reload loaded: the server and client CA certificates' serials
 * and each CRL's issuer, CRL Number and Next Update; a revocation's new CRL (number 02) shows at the reload.
 */
static void
test_audit_reload_names_crl_number(void **state)
{
	struct h_server *s = *state;
	char path[400], *log, *start_line, *reload_line;

	start(s, true, "", "audit: {\n\tfile = \"@DIR@/audit.log\";\n};\n");
	snprintf(path, sizeof(path), "%s/audit.log", s->dir);
	mkcerts(s, "", "revoke", "client");
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", 5000));
	assert_int_equal(h_audit_valid(path), 0);
	assert_non_null(log = util_read_file(path, NULL));
	assert_non_null(start_line = strstr(log, "\"event\":\"start\""));
	assert_non_null(reload_line = strstr(log, "\"event\":\"reload\""));
	assert_true(start_line < reload_line);
	/* The start loaded CRL number 01, the reload number 02; both name the issuer and the next update. */
	assert_non_null(strstr(start_line, "number=01 next_update="));
	assert_non_null(strstr(reload_line, "number=02 next_update="));
	assert_non_null(strstr(reload_line, "\"crls\":\"/"));
	assert_non_null(strstr(reload_line, "\"server_cert_serial\":\""));
	assert_null(strstr(reload_line, "\"client_ca_serials\":\"none\""));
	assert_non_null(strstr(reload_line, "\"client_ca_serials\":\""));
	free(log);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crl_revoked_after_sighup_and_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_resumed_tls12_session_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_resumed_tls13_ticket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allow_deny_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_reload_names_crl_number, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
