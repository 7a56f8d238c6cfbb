/*
 * tls: server and client SSL_CTX construction, the reloadable holder, error strings.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

/*
 * A session is only resumed in a context with the same id context (and OpenSSL refuses resumption when
 * client verification is on and none is set). kmipd's is a digest of this label, verify_depth and the
 * client CA certificates the context trusts: the same in every process and machine built from the same
 * files, so they resume each other's sessions, and different once a reload changes whom the server
 * trusts, so that every client then makes one full handshake (a resumed one skips chain verification),
 * although the shared cache and ticket keys outlive the reload.
 */
static const unsigned char session_id_label[] = "kmipd";

struct tls_server {
	SSL_CTX		*ctx;
	struct tls_shared *sh;			/* NULL: the context's own cache and ticket keys */
	unsigned long	 generation;
	bool		 crl;			/* ctx checks CRLs */
	bool		 crl_refuse_expired;	/* as the config ctx was built from */
};

/* Formats a message into a malloc'd string, or NULL when out of memory. */
static char *
vformat(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) == -1)
		return NULL;
	return s;
}

void
tls_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	*cause = vformat(fmt, ap);
	va_end(ap);
}

void
tls_cause_ssl(char **cause, const char *fmt, ...)
{
	va_list ap;
	char *prefix;

	if (cause == NULL) {
		ERR_clear_error();
		return;
	}
	va_start(ap, fmt);
	prefix = vformat(fmt, ap);
	va_end(ap);
	*cause = tls_errors(prefix != NULL ? prefix : "tls");
	free(prefix);
}

/* Appends to buf (size bytes, always NUL-terminated) as far as it fits. */
static void
append(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);

	if (len + 1 < size)
		snprintf(buf + len, size - len, "%s", s);
}

char *
tls_errors(const char *prefix)
{
	char text[1024], one[400], last[400];
	const char *data, *lib, *reason;
	unsigned long e;
	int flags, shown = 0, more = 0;
	char *s;

	text[0] = '\0';
	last[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (shown >= 6) {
			more++;
			continue;
		}
		lib = ERR_lib_error_string(e);
		reason = ERR_reason_error_string(e);
		if (reason != NULL)
			snprintf(one, sizeof(one), "%s%s%s", lib != NULL ? lib : "", lib != NULL ? ": " : "",
			    reason);
		else
			ERR_error_string_n(e, one, sizeof(one));
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0') {
			append(one, sizeof(one), " (");
			append(one, sizeof(one), data);
			append(one, sizeof(one), ")");
		}
		/* The same reason raised at several levels says nothing new. */
		if (strcmp(one, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", one);
		if (shown > 0)
			append(text, sizeof(text), "; ");
		append(text, sizeof(text), one);
		shown++;
	}
	if (more > 0) {
		snprintf(one, sizeof(one), "; and %d more", more);
		append(text, sizeof(text), one);
	}
	if (asprintf(&s, "%s: %s", prefix != NULL ? prefix : "tls", shown > 0 ? text : "unknown error") == -1)
		return NULL;
	return s;
}

/* Reads a whole file into memory; see tls_int.h. */
int
tls_read_file(const char *what, const char *path, bool private, unsigned char **out, size_t *outlen, char **cause)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		tls_cause(cause, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		tls_cause(cause, "%s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		tls_cause(cause, "%s %s: not a regular file", what, path);
		goto fail;
	}
	if (private && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		tls_cause(cause, "%s %s: mode %04o lets group or others at the keys; chmod 600 it", what, path,
		    (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size == 0) {
		tls_cause(cause, "%s %s: empty file", what, path);
		goto fail;
	}
	if (st.st_size > TLS_MAX_FILE_SIZE) {
		tls_cause(cause, "%s %s: larger than %d bytes", what, path, TLS_MAX_FILE_SIZE);
		goto fail;
	}
	buf = malloc((size_t)st.st_size);
	if (buf == NULL) {
		tls_cause(cause, "%s %s: out of memory", what, path);
		goto fail;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			tls_cause(cause, "%s %s: %s", what, path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0) {
		tls_cause(cause, "%s %s: empty file", what, path);
		goto fail;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	return -1;
}

/* Frees a file buffer after wiping it. */
static void
free_file(unsigned char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

/* PEM password callback that never prompts; records that a password was wanted. */
static int
no_password_cb(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (arg != NULL)
		*(int *)arg = 1;
	return -1;
}

/*
 * Reads every PEM certificate of a file, in order (other PEM blocks, such as a key, are skipped).
 * Returns 0 and a stack of at least one and at most max certificates, or -1 and a cause.
 */
static int
load_certs(const char *what, const char *path, int max, STACK_OF(X509) **out, char **cause)
{
	STACK_OF(X509) *sk = NULL;
	unsigned char *buf = NULL;
	size_t len = 0;
	unsigned long e;
	BIO *bio = NULL;
	X509 *x;

	if (tls_read_file(what, path, false, &buf, &len, cause) == -1)
		return -1;
	ERR_clear_error();
	if (len > INT32_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (sk = sk_X509_new_null()) == NULL) {
		tls_cause_ssl(cause, "%s %s", what, path);
		goto fail;
	}
	for (;;) {
		x = PEM_read_bio_X509(bio, NULL, no_password_cb, NULL);
		if (x == NULL) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				/* The end of the file (or a file without any certificate). */
				ERR_clear_error();
				break;
			}
			tls_cause_ssl(cause, "%s %s: certificate %d", what, path, sk_X509_num(sk) + 1);
			goto fail;
		}
		if (sk_X509_num(sk) >= max) {
			X509_free(x);
			tls_cause(cause, "%s %s: more than %d certificates", what, path, max);
			goto fail;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			tls_cause_ssl(cause, "%s %s", what, path);
			goto fail;
		}
	}
	if (sk_X509_num(sk) == 0) {
		tls_cause(cause, "%s %s: no PEM certificate in the file", what, path);
		goto fail;
	}
	BIO_free(bio);
	free_file(buf, len);
	*out = sk;
	return 0;
fail:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	free_file(buf, len);
	return -1;
}

/* Reads an unencrypted PEM private key. Returns 0 and *out, or -1 and a cause. The file buffer is wiped. */
static int
load_key(const char *what, const char *path, EVP_PKEY **out, char **cause)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int asked = 0;

	if (tls_read_file(what, path, false, &buf, &len, cause) == -1)
		return -1;
	ERR_clear_error();
	if (len > INT32_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		tls_cause_ssl(cause, "%s %s", what, path);
		goto fail;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, &asked);
	if (key == NULL) {
		if (asked) {
			ERR_clear_error();
			tls_cause(cause, "%s %s: the key is encrypted; kmipd needs it unencrypted (and mode 0600)",
			    what, path);
		} else
			tls_cause_ssl(cause, "%s %s: no usable private key", what, path);
		goto fail;
	}
	BIO_free(bio);
	free_file(buf, len);
	*out = key;
	return 0;
fail:
	BIO_free(bio);
	free_file(buf, len);
	return -1;
}

/*
 * Reads a PKCS#12 identity: its key, the certificate that goes with it and any other certificates (the
 * chain). A wrong password is told apart from a damaged file. Returns 0, or -1 and a cause.
 */
static int
load_p12(const char *path, const char *password, EVP_PKEY **key, X509 **cert,
    STACK_OF(X509) **chain, char **cause)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	PKCS12 *p12 = NULL;
	BIO *bio = NULL;
	const char *pass = password != NULL ? password : "";
	int ok;

	*key = NULL;
	*cert = NULL;
	*chain = NULL;
	if (tls_read_file("p12_file", path, false, &buf, &len, cause) == -1)
		return -1;
	ERR_clear_error();
	if (len > INT32_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		tls_cause_ssl(cause, "p12_file %s", path);
		goto fail;
	}
	p12 = d2i_PKCS12_bio(bio, NULL);
	if (p12 == NULL) {
		tls_cause_ssl(cause, "p12_file %s: not a DER PKCS#12 file", path);
		goto fail;
	}
	if (PKCS12_mac_present(p12)) {
		ok = PKCS12_verify_mac(p12, pass, -1);
		/* An empty password may have been applied as "no password" (NULL) by the exporter. */
		if (!ok && *pass == '\0')
			ok = PKCS12_verify_mac(p12, NULL, 0);
		if (!ok) {
			ERR_clear_error();
			tls_cause(cause, "p12_file %s: wrong p12_password (MAC verification failed)", path);
			goto fail;
		}
	}
	if (!PKCS12_parse(p12, pass, key, cert, chain)) {
		tls_cause_ssl(cause, "p12_file %s: cannot decrypt its contents", path);
		goto fail;
	}
	if (*key == NULL || *cert == NULL) {
		tls_cause(cause, "p12_file %s: needs both a private key and its certificate", path);
		goto fail;
	}
	if (*chain != NULL && sk_X509_num(*chain) > TLS_MAX_CHAIN_CERTS) {
		tls_cause(cause, "p12_file %s: more than %d chain certificates", path, TLS_MAX_CHAIN_CERTS);
		goto fail;
	}
	PKCS12_free(p12);
	BIO_free(bio);
	free_file(buf, len);
	return 0;
fail:
	EVP_PKEY_free(*key);
	X509_free(*cert);
	sk_X509_pop_free(*chain, X509_free);
	*key = NULL;
	*cert = NULL;
	*chain = NULL;
	PKCS12_free(p12);
	BIO_free(bio);
	free_file(buf, len);
	return -1;
}

/* Writes an ASN1 time as text into buf ("none" when absent). */
static void
desc_time(const ASN1_TIME *t, char *buf, size_t size)
{
	BIO *bio;
	int n;

	snprintf(buf, size, "none");
	if (t == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (ASN1_TIME_print(bio, t) == 1 && (n = BIO_read(bio, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(bio);
}

/*
 * Checks what no client would accept of a server certificate, so that a start, a reload or `kmipd -t`
 * refuses it instead of serving handshakes that all fail: outside its validity period, or not for TLS
 * servers (an extended key usage without serverAuth, a key usage that allows no TLS server key exchange).
 * Returns 0, or -1 and a cause naming desc.
 */
static int
check_server_cert(X509 *cert, const char *desc, char **cause)
{
	char when[64];

	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		desc_time(X509_get0_notAfter(cert), when, sizeof(when));
		tls_cause(cause, "%s: the certificate expired (not after %s)", desc, when);
		return -1;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		desc_time(X509_get0_notBefore(cert), when, sizeof(when));
		tls_cause(cause, "%s: the certificate is not valid yet (not before %s)", desc, when);
		return -1;
	}
	if (X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1) {
		ERR_clear_error();
		tls_cause(cause, "%s: the certificate is not for a TLS server (its key usage or extended key "
		    "usage lacks serverAuth)", desc);
		return -1;
	}
	return 0;
}

/*
 * Installs a certificate, its private key and chain certificates into ctx and checks that the key
 * matches. desc names the source for the cause. Returns 0, or -1 and a cause.
 */
static int
use_identity(SSL_CTX *ctx, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain, const char *desc,
    char **cause)
{
	ERR_clear_error();
	if (!SSL_CTX_use_certificate(ctx, cert)) {
		tls_cause_ssl(cause, "%s: certificate refused", desc);
		return -1;
	}
	if (!SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx)) {
		tls_cause_ssl(cause, "%s: the private key does not match the certificate", desc);
		return -1;
	}
	if (chain != NULL && sk_X509_num(chain) > 0 && !SSL_CTX_set1_chain(ctx, chain)) {
		tls_cause_ssl(cause, "%s: chain certificates refused", desc);
		return -1;
	}
	return 0;
}

/*
 * The curve of an EC key when it is one kmipd serves an ECDSA certificate with (P-256 or P-384, what every
 * TLS stack verifies), else NID_undef; *name gets its key type or curve for a cause.
 */
static int
ecdsa_curve(EVP_PKEY *key, char *name, size_t size)
{
	char group[64];
	size_t len = 0;
	int nid;

	if (!EVP_PKEY_is_a(key, "EC")) {
		snprintf(name, size, "a key of type %s", EVP_PKEY_get0_type_name(key) != NULL ?
		    EVP_PKEY_get0_type_name(key) : "?");
		return NID_undef;
	}
	if (!EVP_PKEY_get_group_name(key, group, sizeof(group), &len) || len == 0 || len >= sizeof(group)) {
		ERR_clear_error();
		snprintf(name, size, "an EC key on explicit or unknown parameters");
		return NID_undef;
	}
	snprintf(name, size, "an EC key on %s", group);
	if ((nid = OBJ_sn2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 ? nid : NID_undef;
}

/*
 * Loads the ECDSA pair (ecdsa_cert_file, ecdsa_key_file) into ctx beside the identity already there,
 * whose key is primary_key: OpenSSL keeps one certificate per key type and picks, per handshake, the one
 * the client's signature algorithms allow. Refuses a certificate or key that is not EC P-256 or P-384, a
 * pair that does not match, and a primary identity that is already EC (the pair would replace it).
 * Returns 0, or -1 and a cause starting with the option at fault.
 */
static int
load_ecdsa_identity(SSL_CTX *ctx, const struct tls_config *cfg, EVP_PKEY *primary_key, char **cause)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	char *desc = NULL, kind[96];
	int rc = -1;

	if (EVP_PKEY_is_a(primary_key, "EC")) {
		tls_cause(cause, "ecdsa_cert_file %s: the server identity (%s) already holds an EC key; the ECDSA "
		    "pair goes beside an RSA one", cfg->ecdsa_cert_file, cfg->p12_file != NULL ? "p12_file" :
		    "cert_file");
		return -1;
	}
	if (load_certs("ecdsa_cert_file", cfg->ecdsa_cert_file, TLS_MAX_CHAIN_CERTS + 1, &certs, cause) == -1)
		goto out;
	if (load_key("ecdsa_key_file", cfg->ecdsa_key_file, &key, cause) == -1)
		goto out;
	if (ecdsa_curve(key, kind, sizeof(kind)) == NID_undef) {
		tls_cause(cause, "ecdsa_key_file %s: %s, not an EC P-256 or P-384 key", cfg->ecdsa_key_file, kind);
		goto out;
	}
	/* The first certificate is the server's; the rest, if any, its chain. */
	leaf = sk_X509_shift(certs);
	if (ecdsa_curve(X509_get0_pubkey(leaf), kind, sizeof(kind)) == NID_undef) {
		tls_cause(cause, "ecdsa_cert_file %s: the certificate holds %s, not an EC P-256 or P-384 key",
		    cfg->ecdsa_cert_file, kind);
		goto out;
	}
	if (asprintf(&desc, "ecdsa_cert_file %s and ecdsa_key_file %s", cfg->ecdsa_cert_file,
	    cfg->ecdsa_key_file) == -1) {
		desc = NULL;
		tls_cause(cause, "out of memory");
		goto out;
	}
	/* use_identity installs the chain for the certificate it just made current: this one's. */
	if (check_server_cert(leaf, desc, cause) == 0)
		rc = use_identity(ctx, leaf, key, certs, desc, cause);
out:
	free(desc);
	X509_free(leaf);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/*
 * Loads the PEM or PKCS#12 server identity of cfg into ctx, and the ECDSA pair beside it when set; the
 * first stays the context's current certificate (SSL_CTX_get0_certificate). Returns 0, or -1 and a cause.
 */
static int
load_server_identity(SSL_CTX *ctx, const struct tls_config *cfg, char **cause)
{
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *leaf;
	char *desc = NULL;
	int rc = -1;

	if (cfg->p12_file != NULL) {
		if (load_p12(cfg->p12_file, cfg->p12_password, &key, &cert, &chain, cause) == -1)
			goto out;
		if (asprintf(&desc, "p12_file %s", cfg->p12_file) == -1) {
			desc = NULL;
			tls_cause(cause, "out of memory");
			goto out;
		}
		if (check_server_cert(cert, desc, cause) == 0)
			rc = use_identity(ctx, cert, key, chain, desc, cause);
		goto ecdsa;
	}
	if (load_certs("cert_file", cfg->cert_file, TLS_MAX_CHAIN_CERTS + 1, &certs, cause) == -1)
		goto out;
	if (load_key("key_file", cfg->key_file, &key, cause) == -1)
		goto out;
	if (asprintf(&desc, "cert_file %s and key_file %s", cfg->cert_file, cfg->key_file) == -1) {
		desc = NULL;
		tls_cause(cause, "out of memory");
		goto out;
	}
	/* The first certificate is the server's; the rest, if any, its chain. */
	leaf = sk_X509_shift(certs);
	if (check_server_cert(leaf, desc, cause) == 0)
		rc = use_identity(ctx, leaf, key, certs, desc, cause);
	/* Freed at out (the context holds its own reference). */
	cert = leaf;
ecdsa:
	if (rc == 0 && cfg->ecdsa_cert_file != NULL) {
		rc = load_ecdsa_identity(ctx, cfg, key, cause);
		/* Loading made the ECDSA certificate current; describing and the audit start from the first. */
		if (rc == 0 && !SSL_CTX_select_current_cert(ctx, cert)) {
			tls_cause_ssl(cause, "cannot select the server certificate");
			rc = -1;
		}
	}
out:
	free(desc);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* Orders X509 names for de-duplication. */
static int
name_cmp(const X509_NAME *const *a, const X509_NAME *const *b)
{
	return X509_NAME_cmp(*a, *b);
}

/*
 * Trusts the CAs of a PEM bundle for verifying peers, and (on a server) announces their subjects as the
 * acceptable CA names, which Windows uses to pick a client certificate. Returns 0, or -1 and a cause.
 */
static int
load_trust(SSL_CTX *ctx, const char *what, const char *path, bool announce, char **cause)
{
	STACK_OF(X509) *cas = NULL;
	STACK_OF(X509_NAME) *names = NULL;
	X509_STORE *store;
	X509_NAME *name;
	X509 *x;
	int i, rc = -1;

	if (load_certs(what, path, TLS_MAX_CA_CERTS, &cas, cause) == -1)
		return -1;
	ERR_clear_error();
	store = SSL_CTX_get_cert_store(ctx);
	if (announce && (names = sk_X509_NAME_new(name_cmp)) == NULL) {
		tls_cause_ssl(cause, "%s %s", what, path);
		goto out;
	}
	for (i = 0; i < sk_X509_num(cas); i++) {
		x = sk_X509_value(cas, i);
		if (!X509_STORE_add_cert(store, x)) {
			tls_cause_ssl(cause, "%s %s: certificate %d", what, path, i + 1);
			goto out;
		}
		if (!announce || sk_X509_NAME_find(names, X509_get_subject_name(x)) >= 0)
			continue;
		if ((name = X509_NAME_dup(X509_get_subject_name(x))) == NULL) {
			tls_cause_ssl(cause, "%s %s", what, path);
			goto out;
		}
		if (!sk_X509_NAME_push(names, name)) {
			X509_NAME_free(name);
			tls_cause_ssl(cause, "%s %s", what, path);
			goto out;
		}
	}
	if (announce) {
		SSL_CTX_set_client_CA_list(ctx, names);
		names = NULL;
	}
	rc = 0;
out:
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

/*
 * Adds every PEM CRL of a file to the context's store and turns on CRL checking of the whole chain. Each
 * CRL's signature is checked when a chain is verified, not here. Returns 0, or -1 and a cause.
 */
static int
load_crls(SSL_CTX *ctx, const char *path, char **cause)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	unsigned char *buf = NULL;
	size_t len = 0;
	unsigned long e;
	BIO *bio = NULL;
	X509_CRL *crl;
	int n = 0, rc = -1;

	if (tls_read_file("crl_file", path, false, &buf, &len, cause) == -1)
		return -1;
	ERR_clear_error();
	if (len > INT32_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		tls_cause_ssl(cause, "crl_file %s", path);
		goto out;
	}
	for (;;) {
		if ((crl = PEM_read_bio_X509_CRL(bio, NULL, no_password_cb, NULL)) == NULL) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			tls_cause_ssl(cause, "crl_file %s: CRL %d", path, n + 1);
			goto out;
		}
		if (n >= TLS_MAX_CRLS) {
			X509_CRL_free(crl);
			tls_cause(cause, "crl_file %s: more than %d CRLs", path, TLS_MAX_CRLS);
			goto out;
		}
		/* The store takes its own reference. */
		if (!X509_STORE_add_crl(store, crl)) {
			X509_CRL_free(crl);
			tls_cause_ssl(cause, "crl_file %s: CRL %d", path, n + 1);
			goto out;
		}
		X509_CRL_free(crl);
		n++;
	}
	if (n == 0) {
		tls_cause(cause, "crl_file %s: no PEM CRL in the file", path);
		goto out;
	}
	if (!X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)) {
		tls_cause_ssl(cause, "cannot turn CRL checking on");
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	free_file(buf, len);
	return rc;
}

/*
 * Verify callback of a context whose CRLs are allowed past their next update (tls.crl_expired = warn): an
 * expired CRL still revokes what it lists, and is otherwise accepted, so restores go on while the operator
 * issues a new one. Every other error stands. Returns OpenSSL's verdict.
 */
static int
verify_accept_expired_crl(int ok, X509_STORE_CTX *x)
{
	if (!ok && X509_STORE_CTX_get_error(x) == X509_V_ERR_CRL_HAS_EXPIRED) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	return ok;
}

/*
 * Writes the session id context of ctx (see session_id_label): SHA-256 of the label, verify_depth and the
 * SHA-256 of each trusted certificate in the store's order (sorted, so the same files give the same
 * digest). Returns 0, or -1 (OpenSSL's error queue set).
 */
static int
session_id_context(SSL_CTX *ctx, const struct tls_config *cfg, unsigned char out[SHA256_DIGEST_LENGTH])
{
	STACK_OF(X509_OBJECT) *objs;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *mctx;
	uint32_t depth = (uint32_t)cfg->verify_depth;
	X509 *x;
	int i, ok;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(mctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(mctx, session_id_label, sizeof(session_id_label) - 1) &&
	    EVP_DigestUpdate(mctx, &depth, sizeof(depth));
	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (i = 0; ok && objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		if ((x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i))) == NULL)
			continue;
		ok = X509_digest(x, EVP_sha256(), md, &mdlen) && EVP_DigestUpdate(mctx, md, mdlen);
	}
	ok = ok && EVP_DigestFinal_ex(mctx, out, NULL);
	EVP_MD_CTX_free(mctx);
	return ok ? 0 : -1;
}

/* Checks the parts of cfg that need no file. Returns 0 and the minimum version, or -1 and a cause. */
static int
check_config(const struct tls_config *cfg, int *min_version, char **cause)
{
	if (cfg == NULL) {
		tls_cause(cause, "no tls configuration");
		return -1;
	}
	if (cfg->p12_file != NULL && (cfg->cert_file != NULL || cfg->key_file != NULL)) {
		tls_cause(cause, "give either cert_file and key_file, or p12_file, not both");
		return -1;
	}
	if (cfg->p12_file == NULL) {
		if (cfg->cert_file == NULL && cfg->key_file == NULL) {
			tls_cause(cause, "no server identity: set cert_file and key_file, or p12_file");
			return -1;
		}
		if (cfg->cert_file == NULL) {
			tls_cause(cause, "key_file is set but cert_file is not");
			return -1;
		}
		if (cfg->key_file == NULL) {
			tls_cause(cause, "cert_file is set but key_file is not");
			return -1;
		}
	}
	if ((cfg->ecdsa_cert_file == NULL) != (cfg->ecdsa_key_file == NULL)) {
		tls_cause(cause, "%s is set but %s is not: give both or neither",
		    cfg->ecdsa_cert_file != NULL ? "ecdsa_cert_file" : "ecdsa_key_file",
		    cfg->ecdsa_cert_file != NULL ? "ecdsa_key_file" : "ecdsa_cert_file");
		return -1;
	}
	if (cfg->clients_ca_cert_file == NULL) {
		tls_cause(cause, "clients_ca_cert_file is required: kmipd only accepts clients with a certificate");
		return -1;
	}
	if (cfg->min_version == NULL || strcmp(cfg->min_version, "1.2") == 0)
		*min_version = TLS1_2_VERSION;
	else if (strcmp(cfg->min_version, "1.3") == 0)
		*min_version = TLS1_3_VERSION;
	else {
		tls_cause(cause, "min_version \"%s\": must be \"1.2\" or \"1.3\"", cfg->min_version);
		return -1;
	}
	if (cfg->session_cache_size < 0 || cfg->session_cache_size > TLS_MAX_SESSION_CACHE_SIZE) {
		tls_cause(cause, "session_cache_size %ld: must be 0 (off) to %d", cfg->session_cache_size,
		    TLS_MAX_SESSION_CACHE_SIZE);
		return -1;
	}
	if (cfg->session_timeout < 1 || cfg->session_timeout > TLS_MAX_SESSION_TIMEOUT) {
		tls_cause(cause, "session_timeout %ld: must be 1 to %d seconds", cfg->session_timeout,
		    TLS_MAX_SESSION_TIMEOUT);
		return -1;
	}
	if (cfg->verify_depth < 1 || cfg->verify_depth > TLS_MAX_VERIFY_DEPTH) {
		tls_cause(cause, "verify_depth %d: must be 1 to %d", cfg->verify_depth, TLS_MAX_VERIFY_DEPTH);
		return -1;
	}
	if (cfg->session_max_size < TLS_MIN_SESSION_MAX_SIZE || cfg->session_max_size > TLS_MAX_SESSION_MAX_SIZE) {
		tls_cause(cause, "session_max_size %ld: must be %d to %d bytes", cfg->session_max_size,
		    TLS_MIN_SESSION_MAX_SIZE, TLS_MAX_SESSION_MAX_SIZE);
		return -1;
	}
	if ((unsigned long long)cfg->session_cache_size * (unsigned long long)(cfg->session_max_size +
	    TLS_SHCACHE_SLOT_OVERHEAD) > TLS_SHCACHE_MAX_MAPPED) {
		tls_cause(cause, "session_cache_size %ld x session_max_size %ld: the shared session cache would take "
		    "more than %llu GiB", cfg->session_cache_size, cfg->session_max_size, TLS_SHCACHE_MAX_MAPPED >> 30);
		return -1;
	}
	/* Random keys: the current one and every one retired less than session_timeout ago must fit. */
	if (cfg->ticket_key_rotation < TLS_MIN_TICKET_KEY_ROTATION ||
	    cfg->ticket_key_rotation > TLS_MAX_SESSION_TIMEOUT ||
	    (cfg->ticket_key_file == NULL &&
	    1 + (cfg->session_timeout + cfg->ticket_key_rotation - 1) / cfg->ticket_key_rotation > TLS_TICKET_KEYS_MAX)) {
		tls_cause(cause, "ticket_key_rotation %ld: must be %d to %d seconds, and at least session_timeout / %d "
		    "(%ld)", cfg->ticket_key_rotation, TLS_MIN_TICKET_KEY_ROTATION, TLS_MAX_SESSION_TIMEOUT,
		    TLS_TICKET_KEYS_MAX - 1, (cfg->session_timeout + TLS_TICKET_KEYS_MAX - 2) / (TLS_TICKET_KEYS_MAX - 1));
		return -1;
	}
	return 0;
}

void
tls_config_init(struct tls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->session_cache_size = TLS_DEFAULT_SESSION_CACHE_SIZE;
	cfg->session_timeout = TLS_DEFAULT_SESSION_TIMEOUT;
	cfg->session_tickets = true;
	cfg->verify_depth = TLS_DEFAULT_VERIFY_DEPTH;
	cfg->session_max_size = TLS_DEFAULT_SESSION_MAX_SIZE;
	cfg->ticket_key_rotation = TLS_DEFAULT_TICKET_KEY_ROTATION;
}

void
tls_config_clear(struct tls_config *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->p12_password != NULL)
		OPENSSL_cleanse(cfg->p12_password, strlen(cfg->p12_password));
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->p12_file);
	free(cfg->p12_password);
	free(cfg->ecdsa_cert_file);
	free(cfg->ecdsa_key_file);
	free(cfg->clients_ca_cert_file);
	free(cfg->min_version);
	free(cfg->ciphers);
	free(cfg->ciphersuites);
	free(cfg->crl_file);
	free(cfg->ticket_key_file);
	tls_config_init(cfg);
}

int
tls_server_ctx_new(const struct tls_config *cfg, SSL_CTX **out, char **cause)
{
	unsigned char sid_ctx[SHA256_DIGEST_LENGTH];
	SSL_CTX *ctx = NULL;
	const char *ciphers;
	uint64_t opts;
	int min_version;

	*out = NULL;
	if (check_config(cfg, &min_version, cause) == -1)
		return -1;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_cause_ssl(cause, "cannot make a TLS context");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		tls_cause_ssl(cause, "min_version %s", cfg->min_version != NULL ? cfg->min_version : "1.2");
		goto fail;
	}
	/*
	 * A client that closes TCP without close_notify (PyKMIP, many others) has ended normally: KMIP messages
	 * carry their own length, so a truncated one is detected without TLS's help.
	 */
	opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_PRIORITIZE_CHACHA | SSL_OP_IGNORE_UNEXPECTED_EOF;
	if (!cfg->session_tickets)
		opts |= SSL_OP_NO_TICKET;
	SSL_CTX_set_options(ctx, opts);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	ciphers = cfg->ciphers != NULL ? cfg->ciphers : TLS_DEFAULT_CIPHERS;
	if (!SSL_CTX_set_cipher_list(ctx, ciphers)) {
		tls_cause_ssl(cause, "ciphers \"%s\": no usable TLS 1.2 cipher", ciphers);
		goto fail;
	}
	if (cfg->ciphersuites != NULL && !SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites)) {
		tls_cause_ssl(cause, "ciphersuites \"%s\"", cfg->ciphersuites);
		goto fail;
	}
	/* DHE suites take their group size from the certificate's strength (2048 bits and up). */
	if (!SSL_CTX_set_dh_auto(ctx, 1)) {
		tls_cause_ssl(cause, "cannot enable DHE groups");
		goto fail;
	}

	if (load_server_identity(ctx, cfg, cause) == -1)
		goto fail;

	if (load_trust(ctx, "clients_ca_cert_file", cfg->clients_ca_cert_file, true, cause) == -1)
		goto fail;
	if (cfg->crl_file != NULL && load_crls(ctx, cfg->crl_file, cause) == -1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    cfg->crl_file != NULL && !cfg->crl_refuse_expired ? verify_accept_expired_crl : NULL);
	SSL_CTX_set_verify_depth(ctx, cfg->verify_depth);
	/* A client's certificate must be allowed for client authentication (EKU clientAuth if present). */
	if (!SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT)) {
		tls_cause_ssl(cause, "cannot set the certificate purpose");
		goto fail;
	}

	if (session_id_context(ctx, cfg, sid_ctx) == -1 ||
	    !SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx))) {
		tls_cause_ssl(cause, "cannot set the session id context");
		goto fail;
	}
	if (cfg->session_cache_size > 0) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, cfg->session_cache_size);
	} else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, cfg->session_timeout);
	/*
	 * With SSL_OP_NO_TICKET, TLS 1.3 still sends tickets, but stateful ones that name a cache entry; so
	 * tickets are worth sending only when either tickets or the cache are on.
	 */
	if (!cfg->session_tickets && cfg->session_cache_size == 0 && !SSL_CTX_set_num_tickets(ctx, 0)) {
		tls_cause_ssl(cause, "cannot turn TLS 1.3 tickets off");
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/*
 * Builds a server context, with sh's cache and ticket keys when sh is not NULL, and reads the ticket key
 * file of cfg if it names one (*tf, NULL otherwise). Nothing is installed in sh yet. Returns 0, or -1 and a
 * cause.
 */
static int
server_ctx_build(const struct tls_config *cfg, struct tls_shared *sh, SSL_CTX **ctx,
    struct tls_ticket_file **tf, char **cause)
{
	*tf = NULL;
	if (tls_server_ctx_new(cfg, ctx, cause) == -1)
		return -1;
	if ((cfg->ticket_key_file != NULL && tls_ticket_file_read(cfg->ticket_key_file, tf, cause) == -1) ||
	    (sh != NULL && tls_shared_install(sh, *ctx, cause) == -1)) {
		tls_ticket_file_free(*tf);
		*tf = NULL;
		SSL_CTX_free(*ctx);
		*ctx = NULL;
		return -1;
	}
	return 0;
}

int
tls_config_check(const struct tls_config *cfg, char **cause)
{
	struct tls_ticket_file *tf;
	SSL_CTX *ctx;

	if (server_ctx_build(cfg, NULL, &ctx, &tf, cause) == -1)
		return -1;
	tls_ticket_file_free(tf);
	SSL_CTX_free(ctx);
	return 0;
}

int
tls_server_new(const struct tls_config *cfg, struct tls_shared *sh, struct tls_server **out, char **cause)
{
	struct tls_ticket_file *tf;
	struct tls_server *ts;

	*out = NULL;
	if ((ts = calloc(1, sizeof(*ts))) == NULL) {
		tls_cause(cause, "out of memory");
		return -1;
	}
	if (server_ctx_build(cfg, sh, &ts->ctx, &tf, cause) == -1) {
		free(ts);
		return -1;
	}
	ts->sh = sh;
	if (sh != NULL)
		tls_shared_configure(sh, cfg->session_timeout, cfg->ticket_key_rotation, tf);
	tls_ticket_file_free(tf);
	ts->generation = 1;
	ts->crl = cfg->crl_file != NULL;
	ts->crl_refuse_expired = cfg->crl_refuse_expired;
	*out = ts;
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct tls_server *ts)
{
	return ts->ctx;
}

unsigned long
tls_server_generation(const struct tls_server *ts)
{
	return ts->generation;
}

/* What tls_server_prepare built, installed by tls_server_commit. */
struct tls_server_pending {
	SSL_CTX		*ctx;
	struct tls_ticket_file *tf;		/* NULL: random ticket keys */
	long		 session_timeout;
	long		 ticket_key_rotation;
	bool		 crl;
	bool		 crl_refuse_expired;
};

int
tls_server_prepare(struct tls_server *ts, const struct tls_config *cfg, struct tls_server_pending **out,
    char **cause)
{
	struct tls_server_pending *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		tls_cause(cause, "out of memory");
		return -1;
	}
	if (server_ctx_build(cfg, ts->sh, &p->ctx, &p->tf, cause) == -1) {
		free(p);
		return -1;
	}
	p->session_timeout = cfg->session_timeout;
	p->ticket_key_rotation = cfg->ticket_key_rotation;
	p->crl = cfg->crl_file != NULL;
	p->crl_refuse_expired = cfg->crl_refuse_expired;
	*out = p;
	return 0;
}

void
tls_server_commit(struct tls_server *ts, struct tls_server_pending *p)
{
	if (ts->sh != NULL)
		tls_shared_configure(ts->sh, p->session_timeout, p->ticket_key_rotation, p->tf);
	/* Connections made from the old context hold their own references to it. */
	SSL_CTX_free(ts->ctx);
	ts->ctx = p->ctx;
	p->ctx = NULL;
	ts->generation++;
	ts->crl = p->crl;
	ts->crl_refuse_expired = p->crl_refuse_expired;
	tls_server_abort(p);
}

void
tls_server_abort(struct tls_server_pending *p)
{
	if (p == NULL)
		return;
	SSL_CTX_free(p->ctx);
	tls_ticket_file_free(p->tf);
	free(p);
}

int
tls_server_reload(struct tls_server *ts, const struct tls_config *cfg, char **cause)
{
	struct tls_server_pending *p;

	if (tls_server_prepare(ts, cfg, &p, cause) == -1)
		return -1;
	tls_server_commit(ts, p);
	return 0;
}

void
tls_server_crl_info(const struct tls_server *ts, int *count, int *expired)
{
	STACK_OF(X509_OBJECT) *objs;
	const ASN1_TIME *next;
	X509_CRL *crl;
	int i;

	*count = *expired = 0;
	if (!ts->crl || (objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ts->ctx))) == NULL)
		return;
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		if ((crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i))) == NULL)
			continue;
		(*count)++;
		next = X509_CRL_get0_nextUpdate(crl);
		if (next != NULL && X509_cmp_current_time(next) < 0)
			(*expired)++;
	}
}

/* Appends formatted text to buf (size bytes, NUL-terminated), cutting what does not fit. */
static void __attribute__((format(printf, 3, 4)))
desc_append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* Writes an ASN1 INTEGER as hex into buf ("?" when it cannot be converted). */
static void
desc_integer(const ASN1_INTEGER *ai, char *buf, size_t size)
{
	BIGNUM *bn;
	char *hex = NULL;

	if (ai != NULL && (bn = ASN1_INTEGER_to_BN(ai, NULL)) != NULL) {
		hex = BN_bn2hex(bn);
		BN_free(bn);
	}
	snprintf(buf, size, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
}

/* Whole days from now until t (negative when past), LONG_MAX when it cannot be told. */
static long
days_left(const ASN1_TIME *t)
{
	int days, secs;

	if (t == NULL || ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
		return LONG_MAX;
	return days;
}

/* Writes a certificate's serial (hex), subject (one line), expiry and days left into the buffers. */
static void
desc_cert(X509 *cert, char *serial, size_t serial_size, char *subject, size_t subject_size, char *not_after,
    size_t not_after_size, long *days)
{
	desc_integer(X509_get0_serialNumber(cert), serial, serial_size);
	if (X509_NAME_oneline(X509_get_subject_name(cert), subject, (int)subject_size) == NULL)
		snprintf(subject, subject_size, "?");
	desc_time(X509_get0_notAfter(cert), not_after, not_after_size);
	*days = days_left(X509_get0_notAfter(cert));
}

/*
 * The ECDSA certificate of ecdsa_cert_file in ctx, or NULL: the other certificate than first, the
 * current one load_server_identity left selected (at most two are ever loaded). Walks the context's
 * certificates and selects first again, so the context is as it was.
 */
static X509 *
ecdsa_cert(SSL_CTX *ctx, X509 *first)
{
	X509 *x, *found = NULL;
	int more;

	for (more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); more == 1;
	    more = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
		if ((x = SSL_CTX_get0_certificate(ctx)) != NULL && x != first)
			found = x;
	}
	if (!SSL_CTX_select_current_cert(ctx, first))
		found = NULL;
	ERR_clear_error();
	return found;
}

void
tls_server_describe(const struct tls_server *ts, struct tls_server_desc *d)
{
	STACK_OF(X509_OBJECT) *objs;
	X509_OBJECT *o;
	X509_CRL *crl;
	X509 *cert, *ecdsa;
	ASN1_INTEGER *num;
	char serial[80], number[80], next[64], issuer[160];
	int i, ncas = 0, ncrls = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->server_serial, sizeof(d->server_serial), "none");
	snprintf(d->server_subject, sizeof(d->server_subject), "none");
	snprintf(d->server_not_after, sizeof(d->server_not_after), "none");
	snprintf(d->ecdsa_serial, sizeof(d->ecdsa_serial), "none");
	snprintf(d->ecdsa_subject, sizeof(d->ecdsa_subject), "none");
	snprintf(d->ecdsa_not_after, sizeof(d->ecdsa_not_after), "none");
	d->server_days = d->ca_days = d->ecdsa_days = LONG_MAX;
	if ((cert = SSL_CTX_get0_certificate(ts->ctx)) != NULL) {
		desc_cert(cert, d->server_serial, sizeof(d->server_serial), d->server_subject,
		    sizeof(d->server_subject), d->server_not_after, sizeof(d->server_not_after), &d->server_days);
		if ((ecdsa = ecdsa_cert(ts->ctx, cert)) != NULL)
			desc_cert(ecdsa, d->ecdsa_serial, sizeof(d->ecdsa_serial), d->ecdsa_subject,
			    sizeof(d->ecdsa_subject), d->ecdsa_not_after, sizeof(d->ecdsa_not_after), &d->ecdsa_days);
	}
	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ts->ctx));
	for (i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		o = sk_X509_OBJECT_value(objs, i);
		if ((cert = X509_OBJECT_get0_X509(o)) != NULL) {
			if (days_left(X509_get0_notAfter(cert)) < d->ca_days)
				d->ca_days = days_left(X509_get0_notAfter(cert));
			if (++ncas > TLS_DESCRIBE_MAX)
				continue;
			desc_integer(X509_get0_serialNumber(cert), serial, sizeof(serial));
			desc_append(d->ca_serials, sizeof(d->ca_serials), "%s%s", ncas > 1 ? ", " : "", serial);
		} else if ((crl = X509_OBJECT_get0_X509_CRL(o)) != NULL) {
			if (++ncrls > TLS_DESCRIBE_MAX)
				continue;
			/* The CRL Number extension is optional (RFC 5280 says MUST, not every CA does). */
			if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) != NULL) {
				desc_integer(num, number, sizeof(number));
				ASN1_INTEGER_free(num);
			} else
				snprintf(number, sizeof(number), "none");
			desc_time(X509_CRL_get0_nextUpdate(crl), next, sizeof(next));
			if (X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer)) == NULL)
				snprintf(issuer, sizeof(issuer), "?");
			desc_append(d->crls, sizeof(d->crls), "%s%s number=%s next_update=%s", ncrls > 1 ? "; " : "",
			    issuer, number, next);
		}
	}
	if (ncas > TLS_DESCRIBE_MAX)
		desc_append(d->ca_serials, sizeof(d->ca_serials), ", +%d more", ncas - TLS_DESCRIBE_MAX);
	if (ncrls > TLS_DESCRIBE_MAX)
		desc_append(d->crls, sizeof(d->crls), "; +%d more", ncrls - TLS_DESCRIBE_MAX);
	if (ncas == 0)
		snprintf(d->ca_serials, sizeof(d->ca_serials), "none");
	if (ncrls == 0)
		snprintf(d->crls, sizeof(d->crls), "none");
	ERR_clear_error();
}

int
tls_server_peer_check(const struct tls_server *ts, SSL *ssl, char **cause)
{
	STACK_OF(X509_OBJECT) *objs;
	X509_REVOKED *rev;
	const ASN1_TIME *next;
	X509_CRL *crl;
	X509 *cert;
	int i, found = 0;

	if (!ts->crl)
		return 0;
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL) {
		tls_cause(cause, "no client certificate");
		return -1;
	}
	if ((objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ts->ctx))) == NULL) {
		tls_cause(cause, "no CRL store");
		return -1;
	}
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		if ((crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i))) == NULL ||
		    X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
			continue;
		found = 1;
		if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
			tls_cause(cause, "certificate revoked by the CRL of its issuer");
			return -1;
		}
		next = X509_CRL_get0_nextUpdate(crl);
		if (ts->crl_refuse_expired && next != NULL && X509_cmp_current_time(next) < 0) {
			tls_cause(cause, "the CRL of its issuer is past its next update (tls.crl_expired = refuse)");
			return -1;
		}
	}
	/* As X509_V_FLAG_CRL_CHECK does on a full handshake: no CRL for the issuer, no entry. */
	if (!found) {
		tls_cause(cause, "no CRL of its issuer in tls.crl_file");
		return -1;
	}
	return 0;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx);
	free(ts);
}

void
tls_shutdown(SSL *ssl)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl) || (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		return;
	/* Only the flag matters for the cache; a close_notify the socket cannot take now is not waited for. */
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

void
tls_ctx_stats(SSL_CTX *ctx, struct tls_stats *st)
{
	st->accept = SSL_CTX_sess_accept(ctx);
	st->accept_good = SSL_CTX_sess_accept_good(ctx);
	st->hits = SSL_CTX_sess_hits(ctx);
	st->misses = SSL_CTX_sess_misses(ctx);
	st->timeouts = SSL_CTX_sess_timeouts(ctx);
	st->cache_full = SSL_CTX_sess_cache_full(ctx);
	st->cached = SSL_CTX_sess_number(ctx);
}

int
tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
    char **cause)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;
	X509 *leaf = NULL;
	char *desc = NULL;

	*out = NULL;
	if (ca_file == NULL) {
		tls_cause(cause, "a CA file is required to verify the server");
		return -1;
	}
	if (cert_file != NULL && key_file == NULL) {
		tls_cause(cause, "a client certificate needs its key file");
		return -1;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_cause_ssl(cause, "cannot make a TLS context");
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		tls_cause_ssl(cause, "cannot set TLS versions");
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (load_trust(ctx, "CA file", ca_file, false, cause) == -1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert_file != NULL) {
		if (load_certs("certificate file", cert_file, TLS_MAX_CHAIN_CERTS + 1, &certs, cause) == -1)
			goto fail;
		if (load_key("key file", key_file, &key, cause) == -1)
			goto fail;
		if (asprintf(&desc, "certificate %s and key %s", cert_file, key_file) == -1) {
			desc = NULL;
			tls_cause(cause, "out of memory");
			goto fail;
		}
		leaf = sk_X509_shift(certs);
		if (use_identity(ctx, leaf, key, certs, desc, cause) == -1)
			goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	X509_free(leaf);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	free(desc);
	*out = ctx;
	return 0;
fail:
	X509_free(leaf);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	free(desc);
	SSL_CTX_free(ctx);
	return -1;
}

int
tls_client_ctx_set_versions(SSL_CTX *ctx, int min, int max, char **cause)
{
	if ((min != TLS1_2_VERSION && min != TLS1_3_VERSION) || (max != TLS1_2_VERSION && max != TLS1_3_VERSION) ||
	    min > max) {
		tls_cause(cause, "TLS versions %#x..%#x: only TLS 1.2 and 1.3 are supported", min, max);
		return -1;
	}
	ERR_clear_error();
	if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max)) {
		tls_cause_ssl(cause, "cannot set TLS versions");
		return -1;
	}
	return 0;
}

int
tls_client_set_host(SSL *ssl, const char *host, char **cause)
{
	unsigned char addr[16];

	ERR_clear_error();
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		/* No SNI for addresses (RFC 6066 section 3). */
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)) {
			tls_cause_ssl(cause, "server address %s", host);
			return -1;
		}
		return 0;
	}
	if (!SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host)) {
		tls_cause_ssl(cause, "server name %s", host);
		return -1;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return 0;
}

const char *
tls_version_str(const SSL *ssl)
{
	return SSL_get_version(ssl);
}
