/*
 * Integration tests of the server's certificates against the real kmipd over mutual TLS on loopback: the
 * ECDSA certificate of tls.ecdsa_cert_file served beside the RSA one to the clients that offer ECDSA, the
 * RSA one to the others, over TLS 1.2 and 1.3; a bad ECDSA pair refused by kmipd -t and at start with the
 * file and line of the key at fault; a SIGHUP that adds the pair. Each test starts its own server.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
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

/* Reads the first certificate of a PEM file of the test set; fails the test if it cannot. */
static X509 *
read_cert(const char *name)
{
	FILE *f = fopen(h_cert(name), "r");
	X509 *x;

	if (f == NULL)
		fail_msg("%s: %s", h_cert(name), strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		fail_msg("%s: no certificate", h_cert(name));
	return x;
}

/*
 * A client context of TLS version v (both ends) with the named client certificate (NAME.crt, NAME.key)
 * that offers only the signature algorithms of sigalgs (OpenSSL's list syntax), for TLS 1.2 and 1.3 alike.
 */
static SSL_CTX *
sigalgs_ctx(const char *name, int v, const char *sigalgs)
{
	char crt[64], key[64];
	SSL_CTX *ctx;

	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	ctx = h_client_ctx(h_cert(crt), h_cert(key), NULL, v, v);
	if (SSL_CTX_set1_sigalgs_list(ctx, sigalgs) != 1)
		fail_msg("sigalgs %s refused by OpenSSL", sigalgs);
	return ctx;
}

/* Creates an AES-256 key at KMIP 1.4 on cl; its identifier goes to uid (64 bytes). */
static void
create_key(struct kmip_client *cl, char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	const char *got;

	h_request_begin(&req, 1, 4, 1);
	h_item_begin(&req, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&req, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&req, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&req, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&req, "Cryptographic Length", 256);
	h_attr_int(&req, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
	    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
	ttlv_enc_end(&req);
	h_item_end(&req);
	h_request_end(&req);
	resp = h_call(cl, &req, &a);
	h_expect_ok(resp, 0);
	got = h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, 64);
	assert_true(got[0] != '\0');
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
}

/* Gets uid on cl and checks that its key material comes back. */
static void
get_key(struct kmip_client *cl, const char *uid)
{
	struct ttlv_arena *a;
	struct ttlv_enc req;
	struct ttlv *resp;
	char got[64];

	h_uid_request(&req, KMIP_OPERATION_GET, uid, 0);
	resp = h_call(cl, &req, &a);
	h_expect_ok(resp, 0);
	assert_string_equal(h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, got, sizeof(got)), uid);
	assert_non_null(ttlv_find(h_payload(resp, 0), KMIP_TAG_SYMMETRIC_KEY));
	ttlv_arena_free(a);
	ttlv_enc_free(&req);
}

/*
 * Connects with ctx, checks the TLS version v and that the server presented want (key type key_type,
 * "EC" or "RSA") with marker among the chain certificates it sent exactly when marked (NULL: not looked
 * at), and creates a key and Gets it over the connection (objects belong to the identity that
 * made them, and the clients here are several).
 */
static void
served_with(struct h_server *s, SSL_CTX *ctx, int v, X509 *want, const char *key_type, X509 *marker,
    bool marked)
{
	struct kmip_client *cl = h_connect(s, ctx);
	SSL *ssl = kmip_client_ssl(cl);
	X509 *peer = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain;
	bool found = false;
	char uid[64];
	int i;

	assert_int_equal(SSL_version(ssl), v);
	assert_non_null(peer);
	if (!EVP_PKEY_is_a(X509_get0_pubkey(peer), key_type) || X509_cmp(peer, want) != 0)
		fail_msg("TLS %#x: the server presented a %s certificate, not the %s one expected", v,
		    EVP_PKEY_get0_type_name(X509_get0_pubkey(peer)), key_type);
	/* The client's view of what the server sent: the leaf, then the chain that goes with it. */
	chain = SSL_get_peer_cert_chain(ssl);
	for (i = 1; marker != NULL && i < sk_X509_num(chain); i++)
		found = found || X509_cmp(sk_X509_value(chain, i), marker) == 0;
	if (marker != NULL && found != marked)
		fail_msg("TLS %#x, %s certificate: the chain certificate of ecdsa_cert_file was %s", v, key_type,
		    marked ? "not sent" : "sent with the other certificate");
	create_key(cl, uid);
	get_key(cl, uid);
	kmip_client_close(cl);
}

/*
 * 1. With tls.ecdsa_cert_file beside the RSA pair: a client offering only ECDSA signature algorithms gets
 * the ECDSA certificate, one offering only RSA gets the RSA one, over TLS 1.2 and 1.3; both are served a
 * Get. A client offering both gets the ECDSA one (server preference: the cheaper signature). The ECDSA file
 * carries a chain certificate (another CA's, standing for an intermediate; the client ignores it, its
 * trust is ca.crt): it is sent with the ECDSA certificate only (the RSA one goes with what OpenSSL chains
 * from the store, ca.crt).
 */
static void
test_ecdsa_beside_rsa(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct h_server *s = *state;
	X509 *rsa = read_cert("server.crt"), *ec = read_cert("server-ec.crt"), *other = read_cert("other-ca.crt");
	char ov_crt[600], ov_key[600], chain[1800];
	SSL_CTX *ctx;
	size_t i;

	snprintf(chain, sizeof(chain), "cat '%s' '%s' >'%s'", h_cert("server-ec.crt"), h_cert("other-ca.crt"),
	    h_cert("server-ec-chain.crt"));
	assert_int_equal(system(chain), 0);
	snprintf(ov_crt, sizeof(ov_crt), "tls.ecdsa_cert_file=%s", h_cert("server-ec-chain.crt"));
	snprintf(ov_key, sizeof(ov_key), "tls.ecdsa_key_file=%s", h_cert("server-ec.key"));
	h_start(s, (const char *const[]){ ov_crt, ov_key, NULL });

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		/* An ECDSA client certificate: an RSA-only list would leave it nothing to sign with. */
		ctx = sigalgs_ctx("client-ec", versions[i], "ECDSA+SHA256");
		served_with(s, ctx, versions[i], ec, "EC", other, true);
		SSL_CTX_free(ctx);
		ctx = sigalgs_ctx("client", versions[i], "rsa_pss_rsae_sha256:RSA+SHA256");
		served_with(s, ctx, versions[i], rsa, "RSA", other, false);
		SSL_CTX_free(ctx);
		ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, versions[i], versions[i]);
		served_with(s, ctx, versions[i], ec, "EC", other, true);
		SSL_CTX_free(ctx);
	}
	assert_true(h_log_count(s, "ECDSA certificate") == 1);
	X509_free(other);
	X509_free(ec);
	X509_free(rsa);
}

/*
 * Runs KMIPD_BIN with args (NULL-terminated), its output into out (NUL-ended), and waits at most
 * timeout_ms: a kmipd that did start is killed, and -2 returned. Returns the exit status otherwise.
 */
static int
run_bounded(const char *const *args, char *out, size_t size, const char *logpath, int timeout_ms)
{
	const char *argv[16];
	int status, waited, fd;
	size_t n = 0, i;
	ssize_t got;
	pid_t pid;

	argv[n++] = getenv("KMIPD_BIN") != NULL ? getenv("KMIPD_BIN") : "build/kmipd";
	for (i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (waited = 0; waited < h_slow(timeout_ms); waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		h_sleep_ms(20);
	}
	if (waited >= h_slow(timeout_ms)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -2;
	} else
		status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	out[0] = '\0';
	if ((fd = open(logpath, O_RDONLY | O_CLOEXEC)) >= 0) {
		got = read(fd, out, size - 1);
		out[got > 0 ? (size_t)got : 0] = '\0';
		close(fd);
	}
	return status;
}

/*
 * Writes s->dir/NAME.conf naming the test set's files: cert_file and key_file (the files named), then
 * ecdsa_cert_file and ecdsa_key_file when not NULL, each on its own line. *ecdsa_crt_line and
 * *ecdsa_key_line get the lines they are on. Returns the path (static).
 */
static const char *
write_conf(struct h_server *s, const char *name, const char *crt, const char *key, const char *ecdsa_crt,
    const char *ecdsa_key, int *ecdsa_crt_line, int *ecdsa_key_line)
{
	static char path[400];
	char text[4096];
	int n = 0, line = 1;

	snprintf(path, sizeof(path), "%s/%s.conf", s->dir, name);
	n += snprintf(text + n, sizeof(text) - (size_t)n, "server: { listen = \"127.0.0.1\"; port = 1; };\n");
	line++;
	n += snprintf(text + n, sizeof(text) - (size_t)n, "tls: {\n\tcert_file = \"%s\";\n\tkey_file = \"%s\";\n",
	    h_cert(crt), h_cert(key));
	line += 3;
	*ecdsa_crt_line = *ecdsa_key_line = 0;
	if (ecdsa_crt != NULL) {
		n += snprintf(text + n, sizeof(text) - (size_t)n, "\tecdsa_cert_file = \"%s\";\n", h_cert(ecdsa_crt));
		*ecdsa_crt_line = line++;
	}
	if (ecdsa_key != NULL) {
		n += snprintf(text + n, sizeof(text) - (size_t)n, "\tecdsa_key_file = \"%s\";\n", h_cert(ecdsa_key));
		*ecdsa_key_line = line++;
	}
	n += snprintf(text + n, sizeof(text) - (size_t)n, "\tclients_ca_cert_file = \"%s\";\n};\n"
	    "store: { path = \"%s/store\"; master_key_file = \"%s\"; };\n", h_cert("ca.crt"), s->dir,
	    h_master_key(s));
	assert_true(n > 0 && (size_t)n < sizeof(text));
	h_write_file(path, text);
	return path;
}

/*
 * Checks that kmipd -t refuses conf with "CONF:LINE: " + reason, and that a start refuses it too with the
 * reason in its error (a start logs the cause without the file and line).
 */
static void
refused(struct h_server *s, const char *conf, int line, const char *reason)
{
	char out[8192], want[1200], logpath[400];
	int rc;

	snprintf(logpath, sizeof(logpath), "%s/run.log", s->dir);
	rc = run_bounded((const char *const[]){ "-t", "-c", conf, NULL }, out, sizeof(out), logpath, 15000);
	snprintf(want, sizeof(want), "%s:%d: %s", conf, line, reason);
	if (rc == 0 || strstr(out, want) == NULL)
		fail_msg("kmipd -t exited %d with:\n%s\nwanted 1 and \"%s\"", rc, out, want);
	rc = run_bounded((const char *const[]){ "-f", "-c", conf, NULL }, out, sizeof(out), logpath, 15000);
	if (rc <= 0 || strstr(out, reason) == NULL)
		fail_msg("kmipd -f exited %d with:\n%s\nwanted a refusal with \"%s\"", rc, out, reason);
}

/*
 * 2. A bad ECDSA pair fails kmipd -t and a start, naming the key and where it is set: a mismatched EC
 * pair, an RSA key as ecdsa_key_file, an RSA certificate as ecdsa_cert_file, half a pair (either half),
 * and an ECDSA pair beside a server identity that is EC already.
 */
static void
test_ecdsa_bad_pair(void **state)
{
	struct h_server *s = *state;
	char reason[1200], out[8192], logpath[400];
	const char *conf;
	int cl, kl;

	h_make_dir(s);
	conf = write_conf(s, "mismatch", "server.crt", "server.key", "server-ec.crt", "client-ec.key", &cl, &kl);
	snprintf(reason, sizeof(reason), "ecdsa_cert_file %s and ecdsa_key_file %s: the private key does not "
	    "match the certificate", h_cert("server-ec.crt"), h_cert("client-ec.key"));
	refused(s, conf, cl, reason);

	conf = write_conf(s, "rsakey", "server.crt", "server.key", "server-ec.crt", "server.key", &cl, &kl);
	snprintf(reason, sizeof(reason), "ecdsa_key_file %s: a key of type RSA, not an EC P-256 or P-384 key",
	    h_cert("server.key"));
	refused(s, conf, kl, reason);

	conf = write_conf(s, "rsacert", "server.crt", "server.key", "client.crt", "server-ec.key", &cl, &kl);
	snprintf(reason, sizeof(reason), "ecdsa_cert_file %s: the certificate holds a key of type RSA, not an "
	    "EC P-256 or P-384 key", h_cert("client.crt"));
	refused(s, conf, cl, reason);

	conf = write_conf(s, "halfcert", "server.crt", "server.key", "server-ec.crt", NULL, &cl, &kl);
	refused(s, conf, cl, "tls.ecdsa_cert_file is set but tls.ecdsa_key_file is not");
	conf = write_conf(s, "halfkey", "server.crt", "server.key", NULL, "server-ec.key", &cl, &kl);
	refused(s, conf, kl, "tls.ecdsa_key_file is set but tls.ecdsa_cert_file is not");

	conf = write_conf(s, "ecbeside", "server-ec.crt", "server-ec.key", "server-ec.crt", "server-ec.key",
	    &cl, &kl);
	snprintf(reason, sizeof(reason), "ecdsa_cert_file %s: the server identity (cert_file) already holds an "
	    "EC key", h_cert("server-ec.crt"));
	refused(s, conf, cl, reason);

	/* The good pair passes kmipd -t. */
	conf = write_conf(s, "good", "server.crt", "server.key", "server-ec.crt", "server-ec.key", &cl, &kl);
	snprintf(logpath, sizeof(logpath), "%s/run.log", s->dir);
	if (run_bounded((const char *const[]){ "-t", "-c", conf, NULL }, out, sizeof(out), logpath, 15000) != 0)
		fail_msg("kmipd -t refused the good pair:\n%s", out);
}

/*
 * 3. A SIGHUP that adds the ECDSA pair: before it, an ECDSA-only client gets no ECDSA certificate (the
 * handshake fails or it is shown the RSA one); after it, new handshakes get the ECDSA certificate, and the
 * audit "reload" record and kmipctl status name it.
 */
static void
test_sighup_adds_ecdsa(void **state)
{
	struct h_server *s = *state;
	char text[4096], base[2048], sock[400], ov_sock[450], ov_audit[450], out[8192], line[8192];
	char conf[400];
	X509 *ec = read_cert("server-ec.crt"), *peer;
	struct kmip_client *cl;
	SSL_CTX *ctx;
	FILE *f;
	int v, found = 0;

	h_make_dir(s);
	snprintf(base, sizeof(base), "server: {\n\tlisten = \"127.0.0.1\";\n};\ntls: {\n\tcert_file = \"%s\";\n"
	    "\tkey_file = \"%s\";\n\tclients_ca_cert_file = \"%s\";\n", h_cert("server.crt"), h_cert("server.key"),
	    h_cert("ca.crt"));
	snprintf(text, sizeof(text), "%s};\n", base);
	snprintf(sock, sizeof(sock), "%s/admin.sock", s->dir);
	snprintf(ov_sock, sizeof(ov_sock), "admin.socket=%s", sock);
	snprintf(ov_audit, sizeof(ov_audit), "audit.file=%s/audit.log", s->dir);
	h_start_config_raw(s, text, (const char *const[]){ ov_sock, ov_audit, NULL });

	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		ctx = sigalgs_ctx("client-ec", v, "ECDSA+SHA256");
		cl = h_try_connect(s, ctx, NULL, NULL, 0);
		if (cl != NULL) {
			peer = SSL_get0_peer_certificate(kmip_client_ssl(cl));
			assert_false(peer != NULL && EVP_PKEY_is_a(X509_get0_pubkey(peer), "EC"));
			kmip_client_close(cl);
		}
		SSL_CTX_free(ctx);
	}

	snprintf(text, sizeof(text), "%s\tecdsa_cert_file = \"%s\";\n\tecdsa_key_file = \"%s\";\n};\n", base,
	    h_cert("server-ec.crt"), h_cert("server-ec.key"));
	snprintf(conf, sizeof(conf), "%s/kmipd.conf", s->dir);
	h_write_file(conf, text);
	h_signal(s, SIGHUP);
	assert_true(h_log_wait(s, "reload done", h_slow(5000)));
	assert_true(h_log_count(s, "ECDSA certificate") >= 1);

	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		ctx = sigalgs_ctx("client-ec", v, "ECDSA+SHA256");
		served_with(s, ctx, v, ec, "EC", NULL, false);
		SSL_CTX_free(ctx);
	}

	assert_int_equal(h_run_kmipctl((const char *const[]){ "status", "-S", sock, NULL }, out, sizeof(out)), 0);
	if (strstr(out, "; ECDSA server (serial ") == NULL)
		fail_msg("kmipctl status names no ECDSA certificate:\n%s", out);
	snprintf(line, sizeof(line), "%s/audit.log", s->dir);
	f = fopen(line, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "\"event\":\"reload\"") != NULL && strstr(line, "\"ecdsa_cert_serial\":\"") != NULL)
			found = 1;
	fclose(f);
	assert_true(found);
	X509_free(ec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ecdsa_beside_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecdsa_bad_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sighup_adds_ecdsa, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
