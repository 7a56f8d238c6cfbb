/*
 * Tests of the tls module: server contexts from configuration, real handshakes between a client and a
 * server context over an in-memory BIO pair (one thread, non-blocking), session resumption, client
 * identities, reload. Certificates come from etc/mkcerts.sh, run from the repository root into a
 * temporary folder at the start; a few odd client certificates are made here with the same CA.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"
#include "test/util.h"

#define P12_PASSWORD "kmipd-dev"

/*
 * Seconds added to the clock: time() is defined here so that a test can move the clock of the shared
 * ticket keys (and of OpenSSL, which calls it too) forward; 0 outside test_ticket_key_rotation.
 */
static time_t clock_offset;

time_t time(time_t *t);

time_t
time(time_t *t)
{
	struct timespec ts;
	time_t now;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec + clock_offset;
	if (t != NULL)
		*t = now;
	return now;
}

static char tmpdir[256];
static char certdir[300];
static char mkcerts_out[4096];

/* Everything one test may hold; the teardown frees whatever is set, so a failed assert leaks nothing. */
struct pair {
	SSL	*c;
	SSL	*s;
};

struct fx {
	struct tls_config	 cfg;
	SSL_CTX			*sctx;
	SSL_CTX			*sctx2;
	SSL_CTX			*cctx;
	struct pair		 p1;
	struct pair		 p2;
	SSL_SESSION		*sess;
	struct tls_identity	*id;
	struct tls_identity	*id2;
	struct tls_server	*ts;
	char			*cause;
};

/* Path of a file in the certificate folder, in one of a few rotating buffers. */
static const char *
cp(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", certdir, name);
	return b;
}

/* Replaces a malloc'd string field. */
static void
set(char **field, const char *value)
{
	free(*field);
	*field = value != NULL ? strdup(value) : NULL;
	if (value != NULL)
		assert_non_null(*field);
}

/* Runs a shell command, returning its exit status and first line of output (without the newline). */
static int
run(const char *cmd, char *line, size_t size)
{
	FILE *f;
	int st;

	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (line != NULL) {
		line[0] = '\0';
		if (fgets(line, (int)size, f) != NULL)
			line[strcspn(line, "\n")] = '\0';
		while (fgetc(f) != EOF)
			;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Makes the certificates once for every test: RSA keys take a couple of seconds. */
static int
group_setup(void **state)
{
	char cmd[PATH_MAX + 64];
	FILE *f;
	size_t n;
	int st;

	(void)state;
	if (util_mkdtemp(tmpdir, sizeof(tmpdir), getenv("TMPDIR"), "kmipd-test-tls") != 0) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(certdir, sizeof(certdir), "%s/certs", tmpdir);
	if (access("etc/mkcerts.sh", R_OK) != 0) {
		fprintf(stderr, "etc/mkcerts.sh not found: run the test from the repository root\n");
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh %s", certdir);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(mkcerts_out, 1, sizeof(mkcerts_out) - 1, f);
	mkcerts_out[n] = '\0';
	st = pclose(f);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "etc/mkcerts.sh failed\n");
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (tmpdir[0] != '\0')
		(void)util_rmtree(tmpdir);
	return 0;
}

/* A server configuration with the PEM identity and the development CA. */
static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	tls_config_init(&fx->cfg);
	fx->cfg.cert_file = strdup(cp("server.crt"));
	fx->cfg.key_file = strdup(cp("server.key"));
	fx->cfg.clients_ca_cert_file = strdup(cp("ca.crt"));
	ERR_clear_error();
	*state = fx;
	return 0;
}

static void
pair_free(struct pair *p)
{
	SSL_free(p->c);
	SSL_free(p->s);
	p->c = NULL;
	p->s = NULL;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	pair_free(&fx->p1);
	pair_free(&fx->p2);
	SSL_SESSION_free(fx->sess);
	tls_identity_free(fx->id);
	tls_identity_free(fx->id2);
	tls_server_free(fx->ts);
	SSL_CTX_free(fx->sctx);
	SSL_CTX_free(fx->sctx2);
	SSL_CTX_free(fx->cctx);
	free(fx->cause);
	tls_config_clear(&fx->cfg);
	free(fx);
	clock_offset = 0;
	/* A test that passes leaves no stray OpenSSL error behind for the next one. */
	ERR_clear_error();
	return 0;
}

/* A client context trusting the development CA, presenting NAME.crt/NAME.key (none if NULL). */
static SSL_CTX *
client_ctx(const char *name, int min, int max)
{
	char crt[64], key[64];
	SSL_CTX *ctx = NULL;
	char *cause = NULL;
	int rc;

	if (name != NULL) {
		snprintf(crt, sizeof(crt), "%s.crt", name);
		snprintf(key, sizeof(key), "%s.key", name);
	}
	rc = tls_client_ctx_new(cp("ca.crt"), name != NULL ? cp(crt) : NULL, name != NULL ? cp(key) : NULL, &ctx,
	    &cause);
	if (rc != 0)
		fprintf(stderr, "client ctx: %s\n", cause);
	assert_int_equal(rc, 0);
	free(cause);
	cause = NULL;
	rc = tls_client_ctx_set_versions(ctx, min, max, &cause);
	if (rc != 0)
		fprintf(stderr, "client versions: %s\n", cause);
	free(cause);
	assert_int_equal(rc, 0);
	return ctx;
}

/* Builds the server context of fx->cfg into fx->sctx, failing the test with the cause if it fails. */
static void
server_ctx(struct fx *fx)
{
	int rc;

	SSL_CTX_free(fx->sctx);
	fx->sctx = NULL;
	rc = tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause);
	if (rc != 0)
		fprintf(stderr, "server ctx: %s\n", fx->cause);
	assert_int_equal(rc, 0);
	assert_non_null(fx->sctx);
}

/* One non-blocking step of a handshake: 1 done, 0 wants more, -1 failed. */
static int
step(SSL *ssl)
{
	int r, e;

	r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	e = SSL_get_error(ssl, r);
	return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
}

/*
 * Connects a client from cctx (offering sess if not NULL, checking host if not NULL) to a server from
 * sctx over a BIO pair, then sends one message each way so that TLS 1.3 tickets reach the client.
 * Returns 1 when both sides finished and the messages went through, 0 when the handshake failed.
 */
static int
handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess, const char *host, struct pair *p)
{
	BIO *sb = NULL, *cb = NULL;
	char buf[8];
	char *cause = NULL;
	int cdone = 0, sdone = 0, i;

	pair_free(p);
	p->s = SSL_new(sctx);
	p->c = SSL_new(cctx);
	assert_non_null(p->s);
	assert_non_null(p->c);
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(p->s, sb, sb);
	SSL_set_bio(p->c, cb, cb);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(p->c, sess), 1);
	if (host != NULL) {
		assert_int_equal(tls_client_set_host(p->c, host, &cause), 0);
		free(cause);
	}
	for (i = 0; i < 64 && !(cdone && sdone); i++) {
		if (!cdone && (cdone = step(p->c)) == -1)
			break;
		if (!sdone && (sdone = step(p->s)) == -1)
			break;
	}
	ERR_clear_error();
	if (cdone != 1 || sdone != 1)
		return 0;
	if (SSL_write(p->c, "ping", 4) != 4 || SSL_read(p->s, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4))
		goto fail;
	if (SSL_write(p->s, "pong", 4) != 4 || SSL_read(p->c, buf, sizeof(buf)) != 4 || memcmp(buf, "pong", 4))
		goto fail;
	return 1;
fail:
	ERR_clear_error();
	return 0;
}

/* Ends both sides cleanly (so sessions stay resumable) and frees them. */
static void
pair_close(struct pair *p)
{
	tls_shutdown(p->s);
	if (p->c != NULL && SSL_is_init_finished(p->c))
		(void)SSL_shutdown(p->c);
	ERR_clear_error();
	pair_free(p);
}

/* Makes a connection, keeps the client's session in fx->sess and closes it cleanly. */
static void
first_connection(struct fx *fx)
{
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	assert_int_equal(SSL_session_reused(fx->p1.s), 0);
	SSL_SESSION_free(fx->sess);
	fx->sess = SSL_get1_session(fx->p1.c);
	assert_non_null(fx->sess);
	assert_int_equal(SSL_SESSION_is_resumable(fx->sess), 1);
	pair_close(&fx->p1);
}

/* The SHA-256 fingerprint openssl(1) prints for a certificate file, as lowercase hex without colons. */
static void
cli_fingerprint(const char *path, char *out, size_t size)
{
	char cmd[PATH_MAX + 64], line[256], *p, *o = out;

	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s", path);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	p = strchr(line, '=');
	assert_non_null(p);
	for (p++; *p != '\0' && (size_t)(o - out) + 1 < size; p++)
		if (*p != ':')
			*o++ = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	*o = '\0';
}

/* Writes a PEM file into the certificate folder. */
static void
write_pem(const char *name, X509 *x, EVP_PKEY *key)
{
	FILE *f = fopen(cp(name), "w");

	assert_non_null(f);
	if (x != NULL)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

/* Adds an extension given in openssl.cnf syntax. */
static void
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * Issues NAME.crt/NAME.key (P-256) from the CA CA.crt/CA.key with the given subject, subjectAltName (NULL
 * for none) and extended key usage, valid from now + not_before to now + not_after seconds.
 */
static void
issue_cert(const char *ca_name, const char *name, X509_NAME *subject, const char *san, const char *eku,
    long not_before, long not_after)
{
	static long serial = 1000;
	EVP_PKEY *cakey = NULL, *key;
	X509 *ca = NULL, *x;
	X509V3_CTX v3;
	FILE *f;
	char file[64];

	snprintf(file, sizeof(file), "%s.crt", ca_name);
	f = fopen(cp(file), "r");
	assert_non_null(f);
	ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(file, sizeof(file), "%s.key", ca_name);
	f = fopen(cp(file), "r");
	assert_non_null(f);
	cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(ca);
	assert_non_null(cakey);
	key = EVP_EC_gen("P-256");
	assert_non_null(key);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), not_before));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), not_after));
	assert_int_equal(X509_set_subject_name(x, subject), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
	add_ext(x, &v3, NID_ext_key_usage, eku);
	if (san != NULL)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, cakey, EVP_sha256()) > 0);
	snprintf(file, sizeof(file), "%s.crt", name);
	write_pem(file, x, NULL);
	snprintf(file, sizeof(file), "%s.key", name);
	write_pem(file, NULL, key);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

/* A client certificate NAME.crt/NAME.key valid for an hour: see issue_cert(). */
static void
issue(const char *name, X509_NAME *subject, const char *san)
{
	issue_cert("ca", name, subject, san, "clientAuth", -60, 3600);
}

/* A subject "O=kmipd development, CN=cn" (cn NULL: no CN). */
static X509_NAME *
subject(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"kmipd development",
	    -1, -1, 0), 1);
	if (cn != NULL)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
		    0), 1);
	return n;
}

/* Connects with NAME.crt as the client certificate and reads the identity the server sees. */
static int
identity_of(struct fx *fx, const char *name, struct tls_identity **out)
{
	SSL_CTX_free(fx->cctx);
	fx->cctx = client_ctx(name, TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	free(fx->cause);
	fx->cause = NULL;
	return tls_identity_get(fx->p1.s, out, &fx->cause);
}

/* ---- the certificate script ---- */

static void
test_mkcerts_made_everything(void **state)
{
	static const char *const files[] = {
		"ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key", "admin.crt",
		"admin.key", "client.p12", "server.p12", "other-ca.crt", "other-ca.key", "other-client.crt",
		"other-client.key", "expired-client.crt", "expired-client.key", "server-ec.crt", "server-ec.key",
		"client-ec.crt", "client-ec.key",
	};
	struct stat st;
	size_t i;

	(void)state;
	assert_int_equal(stat(certdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		assert_int_equal(stat(cp(files[i]), &st), 0);
		assert_true(strstr(mkcerts_out, cp(files[i])) != NULL);
		if (strstr(files[i], ".key") != NULL || strstr(files[i], ".p12") != NULL)
			assert_int_equal(st.st_mode & 0077, 0);
	}
}

static void
test_mkcerts_idempotent(void **state)
{
	char cmd[PATH_MAX + 64], line[256], before[128], after[128];

	(void)state;
	cli_fingerprint(cp("ca.crt"), before, sizeof(before));
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh %s", certdir);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	assert_string_equal(line, "");
	cli_fingerprint(cp("ca.crt"), after, sizeof(after));
	assert_string_equal(before, after);
}

/*
 * The production flow: the key server makes its key and a request (csr), the CA machine signs it (sign),
 * and the CA key never reaches the key server. With -g, the service's group can read what kmipd reads.
 */
static void
test_mkcerts_csr_sign(void **state)
{
	char srv[PATH_MAX], cmd[5 * PATH_MAX], line[512], path[PATH_MAX + 32];
	struct group *gr = getgrgid(getgid());
	struct fx *fx = *state;
	struct stat st;

	assert_non_null(gr);
	snprintf(srv, sizeof(srv), "%s/prod-server", certdir);
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh -g %s csr %s kms.example.com", gr->gr_name, srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	snprintf(path, sizeof(path), "%s/server.key", srv);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_gid, getgid());
	snprintf(path, sizeof(path), "%s/ca.key", srv);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh sign %s %s/server.csr 2>/dev/null", certdir, srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	snprintf(path, sizeof(path), "%s/server.crt", srv);
	assert_string_equal(line, path);
	snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslserver -CAfile %s %s/server.crt", cp("ca.crt"), srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server.crt -noout -ext subjectAltName | tail -1", srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "DNS:kms.example.com"));
	/* kmipd takes the pair. */
	snprintf(path, sizeof(path), "%s/server.crt", srv);
	set(&fx->cfg.cert_file, path);
	snprintf(path, sizeof(path), "%s/server.key", srv);
	set(&fx->cfg.key_file, path);
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), 0);
	/* A request without names is refused: the CA sets the usages, the names come from the request. */
	snprintf(cmd, sizeof(cmd), "openssl req -new -key %s/server.key -subj /CN=x -out %s/bare.csr 2>/dev/null && "
	    "sh etc/mkcerts.sh sign %s %s/bare.csr 2>&1", srv, srv, certdir, srv);
	assert_int_not_equal(run(cmd, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "no subjectAltName"));
}

/*
 * The ECDSA pair in production: -a ec csr makes server-ec.key and server-ec.csr beside the RSA pair, sign
 * gives the EC request digitalSignature alone, and kmipd takes the result as tls.ecdsa_cert_file beside
 * the RSA identity, describing both (the RSA one stays the context's current certificate).
 */
static void
test_mkcerts_ec_csr_sign(void **state)
{
	char srv[PATH_MAX], cmd[5 * PATH_MAX], line[512], path[PATH_MAX + 32], serial[128];
	struct tls_server_desc d;
	struct tls_server *ts;
	struct fx *fx = *state;

	snprintf(srv, sizeof(srv), "%s/prod-ec", certdir);
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh -a ec csr %s kms.example.com", srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	snprintf(path, sizeof(path), "%s/server.key", srv);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "sh etc/mkcerts.sh sign %s %s/server-ec.csr 2>/dev/null", certdir, srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server-ec.crt -noout -ext keyUsage | tail -1", srv);
	assert_int_equal(run(cmd, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "Digital Signature"));
	assert_null(strstr(line, "Key Encipherment"));
	snprintf(path, sizeof(path), "%s/server-ec.crt", srv);
	set(&fx->cfg.ecdsa_cert_file, path);
	snprintf(path, sizeof(path), "%s/server-ec.key", srv);
	set(&fx->cfg.ecdsa_key_file, path);
	assert_int_equal(tls_server_new(&fx->cfg, NULL, &ts, &fx->cause), 0);
	tls_server_describe(ts, &d);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/server-ec.crt -noout -serial | sed 's/serial=//'", srv);
	assert_int_equal(run(cmd, serial, sizeof(serial)), 0);
	assert_string_equal(d.ecdsa_serial, serial);
	assert_true(d.ecdsa_days > 800 && d.ecdsa_days < 830);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -serial | sed 's/serial=//'", cp("server.crt"));
	assert_int_equal(run(cmd, serial, sizeof(serial)), 0);
	assert_string_equal(d.server_serial, serial);
	/* Describing walked the certificates and put the RSA one back as the current one. */
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(SSL_CTX_get0_certificate(tls_server_ctx(ts))), "RSA"));
	tls_server_free(ts);
	/* Without the pair: "none". */
	set(&fx->cfg.ecdsa_cert_file, NULL);
	set(&fx->cfg.ecdsa_key_file, NULL);
	assert_int_equal(tls_server_new(&fx->cfg, NULL, &ts, &fx->cause), 0);
	tls_server_describe(ts, &d);
	assert_string_equal(d.ecdsa_serial, "none");
	assert_true(d.ecdsa_days == LONG_MAX);
	tls_server_free(ts);
}

static void
test_mkcerts_client_p12(void **state)
{
	STACK_OF(X509) *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	PKCS12 *p12;
	FILE *f;
	char cn[64];
	int ok;

	(void)state;
	f = fopen(cp("client.p12"), "rb");
	assert_non_null(f);
	p12 = d2i_PKCS12_fp(f, NULL);
	fclose(f);
	assert_non_null(p12);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong", -1), 0);
	ok = PKCS12_parse(p12, P12_PASSWORD, &key, &cert, &ca);
	PKCS12_free(p12);
	assert_int_equal(ok, 1);
	assert_non_null(key);
	assert_non_null(cert);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "kmip-client");
	assert_non_null(ca);
	assert_int_equal(sk_X509_num(ca), 1);
	sk_X509_pop_free(ca, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
}

/* ---- building server contexts ---- */

static void
test_pem_identity_builds(void **state)
{
	struct fx *fx = *state;
	unsigned int mode;

	server_ctx(fx);
	assert_int_equal(SSL_CTX_get_min_proto_version(fx->sctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(fx->sctx), TLS1_3_VERSION);
	mode = (unsigned int)SSL_CTX_get_verify_mode(fx->sctx);
	assert_int_equal(mode, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	assert_int_equal(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(fx->sctx)), 1);
	assert_true(SSL_CTX_get_options(fx->sctx) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(fx->sctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(fx->sctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_false(SSL_CTX_get_options(fx->sctx) & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_session_cache_mode(fx->sctx), SSL_SESS_CACHE_SERVER);
	assert_int_equal(SSL_CTX_sess_get_cache_size(fx->sctx), TLS_DEFAULT_SESSION_CACHE_SIZE);
	assert_int_equal(SSL_CTX_get_timeout(fx->sctx), TLS_DEFAULT_SESSION_TIMEOUT);
	assert_int_equal(SSL_CTX_get_verify_depth(fx->sctx), TLS_DEFAULT_VERIFY_DEPTH);
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), 0);
}

static void
test_cipher_lists(void **state)
{
	struct fx *fx = *state;
	STACK_OF(SSL_CIPHER) *ciphers;
	const SSL_CIPHER *c;
	SSL *ssl;
	int i, kx;

	server_ctx(fx);
	ssl = SSL_new(fx->sctx);
	assert_non_null(ssl);
	ciphers = SSL_get_ciphers(ssl);
	assert_true(sk_SSL_CIPHER_num(ciphers) > 0);
	for (i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
		c = sk_SSL_CIPHER_value(ciphers, i);
		if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
			continue;
		/* Forward secrecy and AEAD only. */
		kx = SSL_CIPHER_get_kx_nid(c);
		assert_true(kx == NID_kx_ecdhe || kx == NID_kx_dhe);
		assert_true(SSL_CIPHER_is_aead(c));
	}
	SSL_free(ssl);
	/* The suites Windows SChannel (Veeam) needs are there. */
	assert_non_null(strstr(TLS_DEFAULT_CIPHERS, "ECDHE-RSA-AES256-GCM-SHA384"));
	assert_non_null(strstr(TLS_DEFAULT_CIPHERS, "ECDHE-RSA-AES128-GCM-SHA256"));

	set(&fx->cfg.ciphers, "NOTACIPHER");
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx2, &fx->cause), -1);
	assert_null(fx->sctx2);
	assert_non_null(strstr(fx->cause, "ciphers"));
	free(fx->cause);
	set(&fx->cfg.ciphers, NULL);
	set(&fx->cfg.ciphersuites, "TLS_NOPE");
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx2, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "ciphersuites"));
}

static void
test_p12_identity_builds(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.cert_file, NULL);
	set(&fx->cfg.key_file, NULL);
	set(&fx->cfg.p12_file, cp("server.p12"));
	set(&fx->cfg.p12_password, P12_PASSWORD);
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "localhost", &fx->p1), 1);
}

/*
 * The ECDSA pair beside a PKCS#12 identity: a client offering ECDSA signatures gets the ECDSA certificate,
 * one offering RSA only the one of the PKCS#12 file; an identity that is EC already refuses the pair.
 */
static void
test_ecdsa_beside_p12(void **state)
{
	struct fx *fx = *state;
	X509 *peer;

	set(&fx->cfg.cert_file, NULL);
	set(&fx->cfg.key_file, NULL);
	set(&fx->cfg.p12_file, cp("server.p12"));
	set(&fx->cfg.p12_password, P12_PASSWORD);
	set(&fx->cfg.ecdsa_cert_file, cp("server-ec.crt"));
	set(&fx->cfg.ecdsa_key_file, cp("server-ec.key"));
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_3_VERSION, TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_set1_sigalgs_list(fx->cctx, "ECDSA+SHA256:rsa_pss_rsae_sha256"), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "localhost", &fx->p1), 1);
	peer = SSL_get0_peer_certificate(fx->p1.c);
	assert_non_null(peer);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(peer), "EC"));
	pair_free(&fx->p1);
	assert_int_equal(SSL_CTX_set1_sigalgs_list(fx->cctx, "rsa_pss_rsae_sha256"), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "localhost", &fx->p1), 1);
	peer = SSL_get0_peer_certificate(fx->p1.c);
	assert_non_null(peer);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(peer), "RSA"));
	/* An EC identity (PEM here): the pair would replace it. */
	set(&fx->cfg.p12_file, NULL);
	set(&fx->cfg.p12_password, NULL);
	set(&fx->cfg.cert_file, cp("server-ec.crt"));
	set(&fx->cfg.key_file, cp("server-ec.key"));
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "already holds an EC key"));
}

static void
test_p12_wrong_password(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.cert_file, NULL);
	set(&fx->cfg.key_file, NULL);
	set(&fx->cfg.p12_file, cp("server.p12"));
	set(&fx->cfg.p12_password, "not-the-password");
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_null(fx->sctx);
	assert_non_null(fx->cause);
	assert_non_null(strstr(fx->cause, "password"));
	assert_non_null(strstr(fx->cause, cp("server.p12")));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_p12_not_p12(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.cert_file, NULL);
	set(&fx->cfg.key_file, NULL);
	set(&fx->cfg.p12_file, cp("server.crt"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "PKCS#12"));
	assert_non_null(strstr(fx->cause, cp("server.crt")));
}

static void
test_missing_files(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.cert_file, cp("nope.crt"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, cp("nope.crt")));
	assert_non_null(strstr(fx->cause, "cert_file"));
	assert_non_null(strstr(fx->cause, strerror(ENOENT)));
	free(fx->cause);

	set(&fx->cfg.cert_file, cp("server.crt"));
	set(&fx->cfg.key_file, cp("nope.key"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, cp("nope.key")));
	free(fx->cause);

	set(&fx->cfg.key_file, cp("server.key"));
	set(&fx->cfg.clients_ca_cert_file, cp("nope-ca.crt"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, cp("nope-ca.crt")));
	assert_non_null(strstr(fx->cause, "clients_ca_cert_file"));
	free(fx->cause);

	/* A folder is not a certificate. */
	set(&fx->cfg.clients_ca_cert_file, certdir);
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "not a regular file"));
}

static void
test_not_a_certificate(void **state)
{
	struct fx *fx = *state;

	/* A key where a certificate should be. */
	set(&fx->cfg.cert_file, cp("server.key"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "no PEM certificate"));
	free(fx->cause);
	/* A certificate where a key should be. */
	set(&fx->cfg.cert_file, cp("server.crt"));
	set(&fx->cfg.key_file, cp("server.crt"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "key_file"));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_key_mismatch(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.key_file, cp("client.key"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_null(fx->sctx);
	assert_non_null(strstr(fx->cause, "does not match"));
	assert_non_null(strstr(fx->cause, cp("client.key")));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_encrypted_key(void **state)
{
	struct fx *fx = *state;
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -aes256 -passout pass:secret -out %s", cp("server.key"),
	    cp("encrypted.key"));
	assert_int_equal(run(cmd, NULL, 0), 0);
	set(&fx->cfg.key_file, cp("encrypted.key"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "encrypted"));
}

static void
test_chain_in_cert_file(void **state)
{
	struct fx *fx = *state;
	char cmd[3 * PATH_MAX];
	STACK_OF(X509) *chain = NULL;

	snprintf(cmd, sizeof(cmd), "cat %s %s > %s", cp("server.crt"), cp("ca.crt"), cp("server-chain.crt"));
	assert_int_equal(run(cmd, NULL, 0), 0);
	set(&fx->cfg.cert_file, cp("server-chain.crt"));
	server_ctx(fx);
	assert_int_equal(SSL_CTX_get0_chain_certs(fx->sctx, &chain), 1);
	assert_non_null(chain);
	assert_int_equal(sk_X509_num(chain), 1);
}

/*
 * A server certificate no client would accept is refused when the context is built (start, reload,
 * kmipd -t): expired, not valid yet, or not for TLS servers. One that expires soon is taken, and the
 * description says how many days it has left.
 */
static void
test_server_cert_checks(void **state)
{
	static struct tls_server_desc d;
	struct tls_server *ts = NULL;
	struct fx *fx = *state;
	char file[64];
	X509_NAME *n;
	const struct { const char *name, *eku; long from, to; const char *want; } bad[] = {
		{ "expired", "serverAuth", -2 * 86400, -86400, "expired" },
		{ "future", "serverAuth", 86400, 2 * 86400, "not valid yet" },
		{ "clientonly", "clientAuth", -60, 86400, "not for a TLS server" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = subject(bad[i].name);
		issue_cert("ca", bad[i].name, n, "DNS:localhost", bad[i].eku, bad[i].from, bad[i].to);
		X509_NAME_free(n);
		snprintf(file, sizeof(file), "%s.crt", bad[i].name);
		set(&fx->cfg.cert_file, cp(file));
		snprintf(file, sizeof(file), "%s.key", bad[i].name);
		set(&fx->cfg.key_file, cp(file));
		assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
		if (strstr(fx->cause, bad[i].want) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].name, fx->cause, bad[i].want);
		free(fx->cause);
		fx->cause = NULL;
	}
	n = subject("soon");
	issue_cert("ca", "soon", n, "DNS:localhost", "serverAuth", -60, 10 * 86400 + 600);
	X509_NAME_free(n);
	set(&fx->cfg.cert_file, cp("soon.crt"));
	set(&fx->cfg.key_file, cp("soon.key"));
	assert_int_equal(tls_server_new(&fx->cfg, NULL, &ts, &fx->cause), 0);
	tls_server_describe(ts, &d);
	assert_int_equal(d.server_days, 10);
	assert_non_null(strstr(d.server_subject, "CN=soon"));
	assert_true(d.ca_days > 365);
	tls_server_free(ts);
}

static void
test_missing_client_ca(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.clients_ca_cert_file, NULL);
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_null(fx->sctx);
	assert_non_null(strstr(fx->cause, "clients_ca_cert_file"));
}

static void
test_identity_options(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.p12_file, cp("server.p12"));
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "not both"));
	free(fx->cause);
	set(&fx->cfg.p12_file, NULL);
	set(&fx->cfg.key_file, NULL);
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "key_file"));
	free(fx->cause);
	set(&fx->cfg.cert_file, NULL);
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "no server identity"));
}

static void
test_numeric_options(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.min_version, "1.1");
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "min_version"));
	free(fx->cause);
	set(&fx->cfg.min_version, "1.3");
	fx->cfg.verify_depth = 0;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "verify_depth"));
	free(fx->cause);
	fx->cfg.verify_depth = 4;
	fx->cfg.session_timeout = 0;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "session_timeout"));
	free(fx->cause);
	fx->cfg.session_timeout = 300;
	fx->cfg.session_cache_size = -1;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "session_cache_size"));
	free(fx->cause);
	fx->cause = NULL;
	fx->cfg.session_cache_size = 100;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), 0);
}

/* ---- handshakes ---- */

static void
test_min13_refuses_12_client(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.min_version, "1.3");
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 0);
	SSL_CTX_free(fx->cctx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	assert_string_equal(tls_version_str(fx->p1.s), "TLSv1.3");
}

static void
test_handshake_tls12(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "localhost", &fx->p1), 1);
	assert_string_equal(tls_version_str(fx->p1.s), "TLSv1.2");
	/* Server preference picks the first suite of the default list an RSA certificate can use. */
	assert_string_equal(SSL_CIPHER_get_name(SSL_get_current_cipher(fx->p1.s)), "ECDHE-RSA-AES256-GCM-SHA384");
	assert_int_equal(SSL_get_verify_result(fx->p1.s), X509_V_OK);
}

static void
test_handshake_tls13(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_3_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "localhost", &fx->p1), 1);
	assert_string_equal(tls_version_str(fx->p1.s), "TLSv1.3");
	assert_non_null(SSL_get0_peer_certificate(fx->p1.s));
}

/* A Windows client with only ECDHE-RSA-AES-GCM (what SChannel offers) agrees with the default list. */
static void
test_handshake_schannel_suites(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_set_cipher_list(fx->cctx, "ECDHE-RSA-AES128-GCM-SHA256"), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	assert_string_equal(SSL_CIPHER_get_name(SSL_get_current_cipher(fx->p1.s)), "ECDHE-RSA-AES128-GCM-SHA256");
	/* ... and a client with only DHE-RSA-AES-GCM (Windows Server 2012 R2). */
	assert_int_equal(SSL_CTX_set_cipher_list(fx->cctx, "DHE-RSA-AES256-GCM-SHA384"), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	/* ... but not one that only knows static RSA key exchange or CBC. */
	assert_int_equal(SSL_CTX_set_cipher_list(fx->cctx, "AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA"), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 0);
}

static void
test_client_checks_server_name(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "127.0.0.1", &fx->p1), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "::1", &fx->p1), 1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "wrong.example", &fx->p1), 0);
	assert_int_equal(SSL_get_verify_result(fx->p1.c), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, "10.1.2.3", &fx->p1), 0);
	assert_int_equal(SSL_get_verify_result(fx->p1.c), X509_V_ERR_IP_ADDRESS_MISMATCH);
}

static void
test_client_rejects_other_server(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject("other-server");

	/* A server whose certificate the client's CA did not sign. */
	issue_cert("other-ca", "other-server", n, "DNS:localhost", "serverAuth", -60, 3600);
	X509_NAME_free(n);
	set(&fx->cfg.cert_file, cp("other-server.crt"));
	set(&fx->cfg.key_file, cp("other-server.key"));
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 0);
	assert_int_equal(SSL_get_verify_result(fx->p1.c), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

/* Runs a refused-client handshake at both versions and checks the server's reason. */
static void
refused(struct fx *fx, const char *name, long verify)
{
	int v;

	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		SSL_CTX_free(fx->cctx);
		fx->cctx = client_ctx(name, v, v);
		assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 0);
		assert_int_equal(SSL_get_verify_result(fx->p1.s), verify);
		assert_int_equal(tls_identity_get(fx->p1.s, &fx->id, &fx->cause), -1);
		assert_null(fx->id);
		free(fx->cause);
		fx->cause = NULL;
	}
}

static void
test_no_client_cert_fails(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	refused(fx, NULL, X509_V_OK);
}

static void
test_other_ca_fails(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	refused(fx, "other-client", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

static void
test_expired_fails(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	refused(fx, "expired-client", X509_V_ERR_CERT_HAS_EXPIRED);
}

static void
test_server_cert_as_client_fails(void **state)
{
	struct fx *fx = *state;

	/* Signed by the right CA but only for serverAuth. */
	server_ctx(fx);
	refused(fx, "server", X509_V_ERR_INVALID_PURPOSE);
}

/* ---- resumption ---- */

/* Connects twice, the second time offering the first session; returns whether it was resumed. */
static int
resumed(struct fx *fx)
{
	first_connection(fx);
	assert_int_equal(handshake(fx->sctx, fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.c), SSL_session_reused(fx->p2.s));
	return SSL_session_reused(fx->p2.s);
}

static void
test_resume_tls12_session_id(void **state)
{
	struct fx *fx = *state;
	struct tls_stats st;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	/* A client without tickets, like a session-id-only TLS stack. */
	SSL_CTX_set_options(fx->cctx, SSL_OP_NO_TICKET);
	assert_int_equal(resumed(fx), 1);
	tls_ctx_stats(fx->sctx, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.cached, 1);
	assert_int_equal(st.accept_good, 2);
}

static void
test_resume_tls12_tickets_off(void **state)
{
	struct fx *fx = *state;

	fx->cfg.session_tickets = false;
	server_ctx(fx);
	assert_true(SSL_CTX_get_options(fx->sctx) & SSL_OP_NO_TICKET);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(resumed(fx), 1);
	/* Resumed from the cache by session id: the session was never sent as a ticket. */
	assert_int_equal(SSL_SESSION_has_ticket(fx->sess), 0);
}

static void
test_resume_tls12_ticket(void **state)
{
	struct fx *fx = *state;
	struct tls_stats st;

	/* A ticket needs no cache at all. */
	fx->cfg.session_cache_size = 0;
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(resumed(fx), 1);
	assert_int_equal(SSL_SESSION_has_ticket(fx->sess), 1);
	tls_ctx_stats(fx->sctx, &st);
	assert_int_equal(st.cached, 0);
}

static void
test_resume_tls13_ticket(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_3_VERSION, TLS1_3_VERSION);
	assert_int_equal(resumed(fx), 1);
	assert_string_equal(tls_version_str(fx->p2.s), "TLSv1.3");
}

static void
test_resume_tls13_tickets_off(void **state)
{
	struct fx *fx = *state;
	struct tls_stats st;

	/* Stateful TLS 1.3 tickets: the ticket only names a cache entry. */
	fx->cfg.session_tickets = false;
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_3_VERSION, TLS1_3_VERSION);
	assert_int_equal(resumed(fx), 1);
	tls_ctx_stats(fx->sctx, &st);
	assert_int_equal(st.hits, 1);
}

static void
test_no_resumption_without_cache_or_tickets(void **state)
{
	struct fx *fx = *state;

	fx->cfg.session_tickets = false;
	fx->cfg.session_cache_size = 0;
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	fx->sess = SSL_get1_session(fx->p1.c);
	pair_close(&fx->p1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 0);
}

static void
test_session_expires(void **state)
{
	struct fx *fx = *state;

	fx->cfg.session_timeout = 1;
	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	SSL_CTX_set_options(fx->cctx, SSL_OP_NO_TICKET);
	first_connection(fx);
	sleep(2);
	assert_int_equal(handshake(fx->sctx, fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 0);
}

/* Why tls_shutdown exists: a session whose SSL is freed without one leaves the cache. */
static void
test_session_lost_without_shutdown(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	SSL_CTX_set_options(fx->cctx, SSL_OP_NO_TICKET);
	assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
	fx->sess = SSL_get1_session(fx->p1.c);
	(void)SSL_shutdown(fx->p1.c);
	SSL_free(fx->p1.s);	/* no tls_shutdown */
	fx->p1.s = NULL;
	pair_free(&fx->p1);
	assert_int_equal(handshake(fx->sctx, fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 0);
}

/* The session id context is what lets a verified session resume at all; one context per server. */
static void
test_no_resumption_across_contexts(void **state)
{
	struct fx *fx = *state;

	server_ctx(fx);
	assert_int_equal(tls_server_ctx_new(&fx->cfg, &fx->sctx2, &fx->cause), 0);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	first_connection(fx);
	/* Another context has another cache and other ticket keys: a full handshake, not an error. */
	assert_int_equal(handshake(fx->sctx2, fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 0);
}

/* ---- identity ---- */

static void
test_identity(void **state)
{
	struct fx *fx = *state;
	char fp[128], serial[256], cmd[PATH_MAX + 64], *p;

	server_ctx(fx);
	assert_int_equal(identity_of(fx, "client", &fx->id), 0);
	assert_string_equal(fx->id->cn, "kmip-client");
	assert_string_equal(fx->id->subject, "CN=kmip-client,O=kmipd development");
	assert_string_equal(fx->id->issuer, "CN=kmipd development CA,O=kmipd development");
	cli_fingerprint(cp("client.crt"), fp, sizeof(fp));
	assert_string_equal(fx->id->fingerprint, fp);
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -serial -in %s", cp("client.crt"));
	assert_int_equal(run(cmd, serial, sizeof(serial)), 0);
	for (p = serial; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	p = strchr(serial, '=') + 1;
	while (p[0] == '0' && p[1] != '\0')
		p++;
	assert_string_equal(fx->id->serial, p);
	assert_true(fx->id->not_before < time(NULL));
	assert_true(fx->id->not_after > time(NULL) + 800L * 86400);
	assert_int_equal(fx->id->nsans, 0);

	assert_int_equal(identity_of(fx, "admin", &fx->id2), 0);
	assert_string_equal(fx->id2->cn, "kmip-admin");
	assert_string_not_equal(fx->id2->fingerprint, fx->id->fingerprint);
}

/* The identity survives resumption: the certificate and its verification are kept with the session. */
static void
test_identity_after_resumption(void **state)
{
	struct fx *fx = *state;
	int v;

	server_ctx(fx);
	for (v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
		SSL_CTX_free(fx->cctx);
		fx->cctx = client_ctx("client", v, v);
		assert_int_equal(handshake(fx->sctx, fx->cctx, NULL, NULL, &fx->p1), 1);
		assert_int_equal(tls_identity_get(fx->p1.s, &fx->id, &fx->cause), 0);
		SSL_SESSION_free(fx->sess);
		fx->sess = SSL_get1_session(fx->p1.c);
		pair_close(&fx->p1);
		assert_int_equal(handshake(fx->sctx, fx->cctx, fx->sess, NULL, &fx->p2), 1);
		assert_int_equal(SSL_session_reused(fx->p2.s), 1);
		assert_int_equal(tls_identity_get(fx->p2.s, &fx->id2, &fx->cause), 0);
		assert_string_equal(fx->id2->fingerprint, fx->id->fingerprint);
		assert_string_equal(fx->id2->subject, fx->id->subject);
		tls_identity_free(fx->id);
		tls_identity_free(fx->id2);
		fx->id = fx->id2 = NULL;
	}
}

static void
test_identity_sans(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject("veeam-backup-01");

	issue("sans", n, "DNS:backup01.example.com,email:ops@example.com,URI:urn:kmip:veeam,IP:192.0.2.7,"
	    "IP:2001:db8::1,otherName:1.2.3.4;UTF8:skipped");
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "sans", &fx->id), 0);
	assert_string_equal(fx->id->cn, "veeam-backup-01");
	assert_int_equal(fx->id->nsans, 5);
	assert_int_equal(fx->id->sans[0].type, TLS_SAN_DNS);
	assert_string_equal(fx->id->sans[0].value, "backup01.example.com");
	assert_int_equal(fx->id->sans[1].type, TLS_SAN_EMAIL);
	assert_string_equal(fx->id->sans[1].value, "ops@example.com");
	assert_int_equal(fx->id->sans[2].type, TLS_SAN_URI);
	assert_string_equal(fx->id->sans[2].value, "urn:kmip:veeam");
	assert_int_equal(fx->id->sans[3].type, TLS_SAN_IP);
	assert_string_equal(fx->id->sans[3].value, "192.0.2.7");
	assert_int_equal(fx->id->sans[4].type, TLS_SAN_IP);
	assert_string_equal(fx->id->sans[4].value, "2001:db8::1");
}

static void
test_identity_no_cn(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject(NULL);

	issue("nocn", n, "DNS:nocn.example");
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "nocn", &fx->id), 0);
	assert_null(fx->id->cn);
	assert_string_equal(fx->id->subject, "O=kmipd development");
}

static void
test_identity_utf8_cn(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject("sauvegarde-\xc3\xa9t\xc3\xa9");

	issue("utf8", n, NULL);
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "utf8", &fx->id), 0);
	assert_string_equal(fx->id->cn, "sauvegarde-\xc3\xa9t\xc3\xa9");
	/* RFC 2253 escapes the non-ASCII bytes in the DN. */
	assert_null(strchr(fx->id->subject, '\xc3'));
}

static void
test_identity_refuses_two_cns(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject("first");

	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"second", -1, -1,
	    0), 1);
	issue("twocn", n, NULL);
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "twocn", &fx->id), -1);
	assert_null(fx->id);
	assert_non_null(strstr(fx->cause, "more than one commonName"));
}

static void
test_identity_refuses_control_cn(void **state)
{
	struct fx *fx = *state;
	X509_NAME *n = subject("evil\nadmin");

	issue("ctlcn", n, NULL);
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "ctlcn", &fx->id), -1);
	assert_non_null(strstr(fx->cause, "control"));
}

static void
test_identity_refuses_many_sans(void **state)
{
	struct fx *fx = *state;
	char san[65 * 32], one[32];
	X509_NAME *n;
	int i;

	san[0] = '\0';
	for (i = 0; i <= TLS_IDENTITY_MAX_SANS; i++) {
		snprintf(one, sizeof(one), "%sDNS:h%d.example", i > 0 ? "," : "", i);
		strcat(san, one);
	}
	n = subject("many");
	issue("many", n, san);
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "many", &fx->id), -1);
	assert_non_null(strstr(fx->cause, "subjectAltNames"));

	/* Exactly the limit is fine. */
	strrchr(san, ',')[0] = '\0';
	n = subject("many");
	issue("many64", n, san);
	X509_NAME_free(n);
	assert_int_equal(identity_of(fx, "many64", &fx->id), 0);
	assert_int_equal(fx->id->nsans, TLS_IDENTITY_MAX_SANS);
}

static void
test_identity_refuses_long_dn(void **state)
{
	struct fx *fx = *state;
	char ou[61];
	X509_NAME *n = subject("long");
	int i;

	memset(ou, 'x', sizeof(ou) - 1);
	ou[sizeof(ou) - 1] = '\0';
	/* 80 OUs of 60 bytes: about 4.9 KB once printed. The UTF8String type skips OpenSSL's length table. */
	for (i = 0; i < 80; i++)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", V_ASN1_UTF8STRING, (const unsigned char *)ou, -1,
		    -1, 0), 1);
	issue("longdn", n, NULL);
	X509_NAME_free(n);
	server_ctx(fx);
	assert_int_equal(identity_of(fx, "longdn", &fx->id), -1);
	assert_non_null(strstr(fx->cause, "longer than"));
}

/* ---- the reloadable holder ---- */

static void
test_reload(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *old, *now;

	assert_int_equal(tls_server_new(&fx->cfg, NULL, &fx->ts, &fx->cause), 0);
	assert_int_equal(tls_server_generation(fx->ts), 1);
	old = tls_server_ctx(fx->ts);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_3_VERSION);
	/* A connection made before the reload... */
	assert_int_equal(handshake(old, fx->cctx, NULL, NULL, &fx->p1), 1);

	assert_int_equal(tls_server_reload(fx->ts, &fx->cfg, &fx->cause), 0);
	now = tls_server_ctx(fx->ts);
	assert_ptr_not_equal(now, old);
	assert_int_equal(tls_server_generation(fx->ts), 2);
	/* ...still works on the context it holds, and new ones use the new context. */
	assert_ptr_equal(SSL_get_SSL_CTX(fx->p1.s), old);
	assert_int_equal(SSL_write(fx->p1.c, "late", 4), 4);
	assert_int_equal(handshake(now, fx->cctx, NULL, NULL, &fx->p2), 1);
	pair_free(&fx->p1);

	/* A reload that fails keeps the current context. */
	set(&fx->cfg.key_file, cp("client.key"));
	assert_int_equal(tls_server_reload(fx->ts, &fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "does not match"));
	assert_ptr_equal(tls_server_ctx(fx->ts), now);
	assert_int_equal(tls_server_generation(fx->ts), 2);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p2), 1);
}

static void
test_reload_applies_new_client_ca(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(tls_server_new(&fx->cfg, NULL, &fx->ts, &fx->cause), 0);
	fx->cctx = client_ctx("other-client", TLS1_2_VERSION, TLS1_3_VERSION);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 0);
	set(&fx->cfg.clients_ca_cert_file, cp("other-ca.crt"));
	assert_int_equal(tls_server_reload(fx->ts, &fx->cfg, &fx->cause), 0);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
}

static void
test_server_new_fails(void **state)
{
	struct fx *fx = *state;

	set(&fx->cfg.cert_file, cp("nope.crt"));
	assert_int_equal(tls_server_new(&fx->cfg, NULL, &fx->ts, &fx->cause), -1);
	assert_null(fx->ts);
	assert_non_null(strstr(fx->cause, cp("nope.crt")));
}

/* ---- helpers ---- */

static void
test_errors_string(void **state)
{
	struct fx *fx = *state;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_cipher_list(ctx, "NOTACIPHER"), 0);
	SSL_CTX_free(ctx);
	fx->cause = tls_errors("ciphers");
	assert_non_null(fx->cause);
	assert_int_equal(strncmp(fx->cause, "ciphers: ", 9), 0);
	assert_non_null(strstr(fx->cause, "no cipher match"));
	assert_int_equal(ERR_peek_error(), 0);
	free(fx->cause);
	fx->cause = tls_errors("empty");
	assert_string_equal(fx->cause, "empty: unknown error");
}

static void
test_client_ctx_errors(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(tls_client_ctx_new(NULL, NULL, NULL, &fx->cctx, &fx->cause), -1);
	free(fx->cause);
	assert_int_equal(tls_client_ctx_new(cp("ca.crt"), cp("client.crt"), NULL, &fx->cctx, &fx->cause), -1);
	free(fx->cause);
	assert_int_equal(tls_client_ctx_new(cp("ca.crt"), cp("client.crt"), cp("admin.key"), &fx->cctx, &fx->cause),
	    -1);
	assert_non_null(strstr(fx->cause, "does not match"));
	free(fx->cause);
	assert_int_equal(tls_client_ctx_new(cp("ca.crt"), cp("client.crt"), cp("client.key"), &fx->cctx, &fx->cause),
	    0);
	fx->cause = NULL;
	assert_int_equal(tls_client_ctx_set_versions(fx->cctx, TLS1_3_VERSION, TLS1_2_VERSION, &fx->cause), -1);
	free(fx->cause);
	assert_int_equal(tls_client_ctx_set_versions(fx->cctx, TLS1_1_VERSION, TLS1_3_VERSION, &fx->cause), -1);
	free(fx->cause);
	fx->cause = NULL;
}

/*
 * Resumption through the shared cache (tls_server_new with a struct tls_shared): TLS 1.2 by session id and
 * TLS 1.3 stateful tickets, with the mkcerts client certificates, whose sessions must fit the default
 * tls.session_max_size (each size printed: what a cache slot holds).
 */
static void
test_shared_cache_resumes(void **state)
{
	static const char *const names[] = { "client", "backup", "admin" };
	struct fx *fx = *state;
	struct tls_shared *sh = NULL;
	struct tls_shared_stats st;
	int version, len;
	size_t i;

	fx->cfg.session_tickets = false;
	assert_int_equal(tls_shared_new(&fx->cfg, &sh, &fx->cause), 0);
	assert_int_equal(tls_server_new(&fx->cfg, sh, &fx->ts, &fx->cause), 0);
	for (version = TLS1_2_VERSION; version <= TLS1_3_VERSION; version++) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			SSL_CTX_free(fx->cctx);
			fx->cctx = client_ctx(names[i], version, version);
			assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
			len = i2d_SSL_SESSION(SSL_get_session(fx->p1.s), NULL);
			print_message("TLS %s, %s.crt: server session %d bytes of DER\n",
			    version == TLS1_2_VERSION ? "1.2" : "1.3", names[i], len);
			assert_true(len > 0 && len <= TLS_DEFAULT_SESSION_MAX_SIZE);
			SSL_SESSION_free(fx->sess);
			fx->sess = SSL_get1_session(fx->p1.c);
			pair_close(&fx->p1);
			assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, fx->sess, NULL, &fx->p2), 1);
			assert_int_equal(SSL_session_reused(fx->p2.s), 1);
			pair_close(&fx->p2);
		}
	}
	tls_shared_stats(sh, &st);
	assert_int_equal(st.hits, 6);
	assert_int_equal(st.too_large, 0);

	/* What kmipd does for a refused client: its session is dropped from the shared cache, and not resumed. */
	SSL_CTX_free(fx->cctx);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
	SSL_SESSION_free(fx->sess);
	fx->sess = SSL_get1_session(fx->p1.c);
	SSL_CTX_remove_session(tls_server_ctx(fx->ts), SSL_get_session(fx->p1.s));
	pair_close(&fx->p1);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.removed, 1);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, fx->sess, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 0);
	pair_close(&fx->p2);
	/* OpenSSL's own cache of the context stays empty: one code path, the shared one. */
	assert_int_equal(SSL_CTX_sess_number(tls_server_ctx(fx->ts)), 0);
	tls_server_free(fx->ts);
	fx->ts = NULL;
	tls_shared_free(sh);
}

/*
 * Random ticket keys with tls.ticket_key_rotation 3600 and session_timeout 7200: the first ticket issued
 * past an hour makes a new key, a ticket of the old key still resumes (and gets a new one), and once the
 * old key has been retired for session_timeout it is dropped: 1 + ceil(7200 / 3600) keys at most.
 */
static void
test_ticket_key_rotation(void **state)
{
	struct fx *fx = *state;
	struct tls_shared *sh = NULL;
	struct tls_shared_stats st;
	const unsigned char *t1, *t2;
	SSL_SESSION *old;
	size_t l1, l2;

	fx->cfg.ticket_key_rotation = 3600;
	fx->cfg.session_timeout = 7200;
	assert_int_equal(tls_shared_new(&fx->cfg, &sh, &fx->cause), 0);
	assert_int_equal(tls_server_new(&fx->cfg, sh, &fx->ts, &fx->cause), 0);
	fx->cctx = client_ctx("client", TLS1_2_VERSION, TLS1_2_VERSION);
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
	old = SSL_get1_session(fx->p1.c);
	assert_true(SSL_SESSION_has_ticket(old));
	pair_close(&fx->p1);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.ticket_keys, 1);
	assert_int_equal(st.rotations, 0);

	clock_offset = 3601;
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
	pair_close(&fx->p1);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.ticket_keys, 2);
	assert_int_equal(st.rotations, 1);
	/* The old key decrypts; the client is sent a ticket of the new one. */
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, old, NULL, &fx->p2), 1);
	assert_int_equal(SSL_session_reused(fx->p2.s), 1);
	SSL_SESSION_get0_ticket(old, &t1, &l1);
	SSL_SESSION_get0_ticket(SSL_get_session(fx->p2.c), &t2, &l2);
	assert_true(l2 > 0 && (l1 != l2 || memcmp(t1, t2, l1) != 0));
	pair_close(&fx->p2);

	/* The first key was retired 7,300 s ago: dropped at the next rotation; the second is kept. */
	clock_offset = 3601 + 7300;
	assert_int_equal(handshake(tls_server_ctx(fx->ts), fx->cctx, NULL, NULL, &fx->p1), 1);
	pair_close(&fx->p1);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.ticket_keys, 2);
	assert_int_equal(st.rotations, 2);
	clock_offset = 0;
	SSL_SESSION_free(old);
	tls_server_free(fx->ts);
	fx->ts = NULL;
	tls_shared_free(sh);
}

/* The shared state's limits are checked with the rest of the config (kmipd -t), each naming its option. */
static void
test_shared_limits(void **state)
{
	struct fx *fx = *state;

	fx->cfg.ticket_key_rotation = 114;	/* 1 + ceil(7200 / 114) = 65 keys */
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "ticket_key_rotation 114"));
	free(fx->cause);
	fx->cause = NULL;
	fx->cfg.ticket_key_rotation = 115;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), 0);
	fx->cfg.session_max_size = TLS_MIN_SESSION_MAX_SIZE - 1;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "session_max_size"));
	free(fx->cause);
	fx->cause = NULL;
	fx->cfg.session_max_size = TLS_MAX_SESSION_MAX_SIZE;
	fx->cfg.session_cache_size = TLS_MAX_SESSION_CACHE_SIZE;
	assert_int_equal(tls_config_check(&fx->cfg, &fx->cause), -1);
	assert_non_null(strstr(fx->cause, "GiB"));
}

/* Writes a ticket key file of n random keys (mode 0600) at path. */
static void
write_ticket_keys(const char *path, int n)
{
	unsigned char raw[80];
	char line[120];
	FILE *f;
	int i;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(chmod(path, 0600), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(RAND_bytes(raw, sizeof(raw)), 1);
		assert_int_equal(EVP_EncodeBlock((unsigned char *)line, raw, sizeof(raw)), 108);
		fprintf(f, "%s\n", line);
	}
	assert_int_equal(fclose(f), 0);
}

/*
 * A reload in two halves: prepare reads the new ticket key file but changes nothing (abort leaves the
 * running keys); commit installs it. A file that cannot be read fails prepare.
 */
static void
test_reload_prepare_commit(void **state)
{
	struct fx *fx = *state;
	struct tls_server_pending *p = NULL;
	struct tls_shared *sh = NULL;
	struct tls_shared_stats st;
	char one[PATH_MAX], three[PATH_MAX];

	snprintf(one, sizeof(one), "%s/one.keys", tmpdir);
	snprintf(three, sizeof(three), "%s/three.keys", tmpdir);
	write_ticket_keys(one, 1);
	write_ticket_keys(three, 3);
	assert_int_equal(tls_shared_new(&fx->cfg, &sh, &fx->cause), 0);
	fx->cfg.ticket_key_file = strdup(one);
	assert_int_equal(tls_server_new(&fx->cfg, sh, &fx->ts, &fx->cause), 0);
	tls_shared_stats(sh, &st);
	assert_true(st.ticket_file);
	assert_int_equal(st.ticket_keys, 1);

	free(fx->cfg.ticket_key_file);
	fx->cfg.ticket_key_file = strdup(three);
	assert_int_equal(tls_server_prepare(fx->ts, &fx->cfg, &p, &fx->cause), 0);
	tls_server_abort(p);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.ticket_keys, 1);
	assert_int_equal(tls_server_generation(fx->ts), 1);
	assert_int_equal(tls_server_prepare(fx->ts, &fx->cfg, &p, &fx->cause), 0);
	tls_server_commit(fx->ts, p);
	tls_shared_stats(sh, &st);
	assert_int_equal(st.ticket_keys, 3);
	assert_int_equal(tls_server_generation(fx->ts), 2);

	/* No file any more: back to one random key. A missing file fails and changes nothing. */
	free(fx->cfg.ticket_key_file);
	fx->cfg.ticket_key_file = NULL;
	assert_int_equal(tls_server_reload(fx->ts, &fx->cfg, &fx->cause), 0);
	tls_shared_stats(sh, &st);
	assert_false(st.ticket_file);
	assert_int_equal(st.ticket_keys, 1);
	fx->cfg.ticket_key_file = strdup("/nonexistent/ticket.keys");
	assert_int_equal(tls_server_prepare(fx->ts, &fx->cfg, &p, &fx->cause), -1);
	assert_null(p);
	assert_non_null(strstr(fx->cause, "ticket_key_file /nonexistent/ticket.keys"));
	tls_shared_stats(sh, &st);
	assert_false(st.ticket_file);
	tls_server_free(fx->ts);
	fx->ts = NULL;
	tls_shared_free(sh);
	unlink(one);
	unlink(three);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mkcerts_made_everything),
		T(test_mkcerts_idempotent),
		T(test_mkcerts_client_p12),
		T(test_mkcerts_csr_sign),
		T(test_mkcerts_ec_csr_sign),
		T(test_pem_identity_builds),
		T(test_cipher_lists),
		T(test_p12_identity_builds),
		T(test_ecdsa_beside_p12),
		T(test_p12_wrong_password),
		T(test_p12_not_p12),
		T(test_missing_files),
		T(test_not_a_certificate),
		T(test_key_mismatch),
		T(test_encrypted_key),
		T(test_chain_in_cert_file),
		T(test_missing_client_ca),
		T(test_server_cert_checks),
		T(test_identity_options),
		T(test_numeric_options),
		T(test_min13_refuses_12_client),
		T(test_handshake_tls12),
		T(test_handshake_tls13),
		T(test_handshake_schannel_suites),
		T(test_client_checks_server_name),
		T(test_client_rejects_other_server),
		T(test_no_client_cert_fails),
		T(test_other_ca_fails),
		T(test_expired_fails),
		T(test_server_cert_as_client_fails),
		T(test_resume_tls12_session_id),
		T(test_resume_tls12_tickets_off),
		T(test_resume_tls12_ticket),
		T(test_resume_tls13_ticket),
		T(test_resume_tls13_tickets_off),
		T(test_no_resumption_without_cache_or_tickets),
		T(test_session_expires),
		T(test_session_lost_without_shutdown),
		T(test_no_resumption_across_contexts),
		T(test_identity),
		T(test_identity_after_resumption),
		T(test_identity_sans),
		T(test_identity_no_cn),
		T(test_identity_utf8_cn),
		T(test_identity_refuses_two_cns),
		T(test_identity_refuses_control_cn),
		T(test_identity_refuses_many_sans),
		T(test_identity_refuses_long_dn),
		T(test_reload),
		T(test_reload_applies_new_client_ca),
		T(test_server_new_fails),
		T(test_errors_string),
		T(test_client_ctx_errors),
		T(test_shared_cache_resumes),
		T(test_ticket_key_rotation),
		T(test_reload_prepare_commit),
		T(test_shared_limits),
	};

	return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
