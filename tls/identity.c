/*
 * tls: a client's identity, read from its verified certificate.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

/* True when the bytes hold a NUL, a C0 control character or DEL, none of which belongs in a name. */
static bool
has_control(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* Copies len bytes into a new NUL-terminated string, or NULL when out of memory. */
static char *
copy(const void *s, size_t len)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Formats a DN in RFC 2253 form. Returns 0 and a malloc'd *out, or -1 and a cause. */
static int
dn_string(const X509_NAME *name, const char *what, char **out, char **cause)
{
	BIO *bio;
	char *data;
	long len;
	int rc = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		tls_cause_ssl(cause, "client certificate %s", what);
		return -1;
	}
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		tls_cause_ssl(cause, "client certificate %s", what);
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len < 0 || len > TLS_IDENTITY_MAX_DN) {
		tls_cause(cause, "client certificate %s is longer than %d bytes", what, TLS_IDENTITY_MAX_DN);
		goto out;
	}
	/* RFC 2253 escaping leaves no control byte; one here would cut or forge the name. */
	if (has_control((const unsigned char *)data, (size_t)len)) {
		tls_cause(cause, "client certificate %s holds a control character", what);
		goto out;
	}
	if ((*out = copy(data, (size_t)len)) == NULL) {
		tls_cause(cause, "out of memory");
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

/* Reads the subject's only commonName as UTF-8 (NULL if none or empty). Returns 0, or -1 and a cause. */
static int
common_name(const X509_NAME *name, char **out, char **cause)
{
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int i, len;

	*out = NULL;
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		return 0;
	/* Two commonNames make "who is this" ambiguous; owners are keyed on it. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0) {
		tls_cause(cause, "client certificate subject has more than one commonName");
		return -1;
	}
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if (ASN1_STRING_length(data) > TLS_IDENTITY_MAX_CN) {
		tls_cause(cause, "client certificate commonName is longer than %d bytes", TLS_IDENTITY_MAX_CN);
		return -1;
	}
	ERR_clear_error();
	if ((len = ASN1_STRING_to_UTF8(&utf8, data)) < 0) {
		tls_cause_ssl(cause, "client certificate commonName");
		return -1;
	}
	if (len > TLS_IDENTITY_MAX_CN) {
		OPENSSL_free(utf8);
		tls_cause(cause, "client certificate commonName is longer than %d bytes", TLS_IDENTITY_MAX_CN);
		return -1;
	}
	if (has_control(utf8, (size_t)len)) {
		OPENSSL_free(utf8);
		tls_cause(cause, "client certificate commonName holds a control character");
		return -1;
	}
	if (len > 0 && (*out = copy(utf8, (size_t)len)) == NULL) {
		OPENSSL_free(utf8);
		tls_cause(cause, "out of memory");
		return -1;
	}
	OPENSSL_free(utf8);
	return 0;
}

/*
 * Reads the subject's first TLS_IDENTITY_MAX_OUS organizationalUnitNames as UTF-8 (for access.grants; a
 * subject with more is a valid certificate, and its later OUs are simply not matched). Returns 0, or -1
 * and a cause.
 */
static int
org_units(const X509_NAME *name, struct tls_identity *id, char **cause)
{
	const ASN1_STRING *data;
	unsigned char *utf8;
	int i = -1, len;

	while (id->nous < TLS_IDENTITY_MAX_OUS &&
	    (i = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, i)) >= 0) {
		if (id->ous == NULL && (id->ous = calloc(TLS_IDENTITY_MAX_OUS, sizeof(*id->ous))) == NULL) {
			tls_cause(cause, "out of memory");
			return -1;
		}
		data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		if (ASN1_STRING_length(data) > TLS_IDENTITY_MAX_CN) {
			tls_cause(cause, "client certificate OU is longer than %d bytes", TLS_IDENTITY_MAX_CN);
			return -1;
		}
		ERR_clear_error();
		utf8 = NULL;
		if ((len = ASN1_STRING_to_UTF8(&utf8, data)) < 0) {
			tls_cause_ssl(cause, "client certificate OU");
			return -1;
		}
		if (len > TLS_IDENTITY_MAX_CN || has_control(utf8, (size_t)len)) {
			OPENSSL_free(utf8);
			tls_cause(cause, "client certificate OU is too long or holds a control character");
			return -1;
		}
		if ((id->ous[id->nous] = copy(utf8, (size_t)len)) == NULL) {
			OPENSSL_free(utf8);
			tls_cause(cause, "out of memory");
			return -1;
		}
		OPENSSL_free(utf8);
		id->nous++;
	}
	return 0;
}

/* Writes "TYPE:value" for each SAN, the form access.grants patterns match. Returns 0, or -1 and a cause. */
static int
tag_sans(struct tls_identity *id, char **cause)
{
	static const char *const prefix[] = { [TLS_SAN_DNS] = "DNS", [TLS_SAN_EMAIL] = "email",
	    [TLS_SAN_URI] = "URI", [TLS_SAN_IP] = "IP" };
	size_t i;

	if (id->nsans == 0)
		return 0;
	if ((id->tagged = calloc(id->nsans, sizeof(*id->tagged))) == NULL)
		goto nomem;
	for (i = 0; i < id->nsans; i++)
		if (asprintf(&id->tagged[i], "%s:%s", prefix[id->sans[i].type], id->sans[i].value) < 0) {
			id->tagged[i] = NULL;
			goto nomem;
		}
	return 0;
nomem:
	tls_cause(cause, "out of memory");
	return -1;
}

/* The first SAN of a type; see tls.h. */
const char *
tls_identity_first_san(const struct tls_identity *id, enum tls_san_type t)
{
	size_t i;

	for (i = 0; i < id->nsans; i++)
		if (id->sans[i].type == t)
			return id->sans[i].value;
	return NULL;
}

/* Formats the serial number as lowercase hex without leading zeros. Returns 0, or -1 and a cause. */
static int
serial_hex(X509 *x, char **out, char **cause)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = NULL;
	char *hex = NULL, *p, *s;
	int rc = -1;

	/* RFC 5280 allows 20 octets; be liberal, but bounded. */
	if (ASN1_STRING_length(serial) > 64) {
		tls_cause(cause, "client certificate serial number is longer than 64 bytes");
		return -1;
	}
	ERR_clear_error();
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL) {
		tls_cause_ssl(cause, "client certificate serial number");
		goto out;
	}
	p = hex;
	if (*p == '-')
		p++;
	while (p[0] == '0' && p[1] != '\0')
		p++;
	if (asprintf(out, "%s%s", hex[0] == '-' ? "-" : "", p) == -1) {
		*out = NULL;
		tls_cause(cause, "out of memory");
		goto out;
	}
	for (s = *out; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* Converts a certificate time to time_t. Returns 0, or -1 and a cause. */
static int
cert_time(const ASN1_TIME *t, const char *what, time_t *out, char **cause)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		tls_cause(cause, "client certificate %s is not a valid time", what);
		return -1;
	}
	*out = timegm(&tm);
	return 0;
}

/* Copies one IA5String name (DNS, email, URI). Returns 0, or -1 and a cause. */
static int
san_text(const ASN1_IA5STRING *s, char **out, char **cause)
{
	const unsigned char *data = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	int i;

	if (len < 0 || len > TLS_IDENTITY_MAX_SAN) {
		tls_cause(cause, "client certificate subjectAltName longer than %d bytes", TLS_IDENTITY_MAX_SAN);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (data[i] < 0x20 || data[i] >= 0x7f) {
			tls_cause(cause, "client certificate subjectAltName holds a byte that is not printable ASCII");
			return -1;
		}
	}
	if ((*out = copy(data, (size_t)len)) == NULL) {
		tls_cause(cause, "out of memory");
		return -1;
	}
	return 0;
}

/* Formats an iPAddress name. Returns 0, or -1 and a cause. */
static int
san_ip(const ASN1_OCTET_STRING *s, char **out, char **cause)
{
	char buf[INET6_ADDRSTRLEN];
	const unsigned char *data = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);

	if ((len != 4 && len != 16) || inet_ntop(len == 4 ? AF_INET : AF_INET6, data, buf, sizeof(buf)) == NULL) {
		tls_cause(cause, "client certificate has a malformed IP address in subjectAltName");
		return -1;
	}
	if ((*out = copy(buf, strlen(buf))) == NULL) {
		tls_cause(cause, "out of memory");
		return -1;
	}
	return 0;
}

/* Reads the DNS, email, URI and IP entries of subjectAltName. Returns 0, or -1 and a cause. */
static int
alt_names(X509 *x, struct tls_identity *id, char **cause)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gen;
	struct tls_san *san;
	int crit = -1, i, n, rc = -1;

	ERR_clear_error();
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) {
		if (crit == -1)
			return 0;
		if (crit == -2)
			tls_cause(cause, "client certificate has more than one subjectAltName extension");
		else
			tls_cause_ssl(cause, "client certificate subjectAltName");
		return -1;
	}
	n = sk_GENERAL_NAME_num(gens);
	if (n > TLS_IDENTITY_MAX_SANS) {
		tls_cause(cause, "client certificate has more than %d subjectAltNames", TLS_IDENTITY_MAX_SANS);
		goto out;
	}
	if (n > 0 && (id->sans = calloc((size_t)n, sizeof(*id->sans))) == NULL) {
		tls_cause(cause, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		san = &id->sans[id->nsans];
		switch (gen->type) {
		case GEN_DNS:
			san->type = TLS_SAN_DNS;
			if (san_text(gen->d.dNSName, &san->value, cause) == -1)
				goto out;
			break;
		case GEN_EMAIL:
			san->type = TLS_SAN_EMAIL;
			if (san_text(gen->d.rfc822Name, &san->value, cause) == -1)
				goto out;
			break;
		case GEN_URI:
			san->type = TLS_SAN_URI;
			if (san_text(gen->d.uniformResourceIdentifier, &san->value, cause) == -1)
				goto out;
			break;
		case GEN_IPADD:
			san->type = TLS_SAN_IP;
			if (san_ip(gen->d.iPAddress, &san->value, cause) == -1)
				goto out;
			break;
		default:
			continue;
		}
		id->nsans++;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

int
tls_identity_get(SSL *ssl, struct tls_identity **out, char **cause)
{
	struct tls_identity *id = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	long verify;
	X509 *x;

	*out = NULL;
	if ((x = SSL_get0_peer_certificate(ssl)) == NULL) {
		tls_cause(cause, "the client sent no certificate");
		return -1;
	}
	/* On a resumed session this is the result saved with the session at its full handshake. */
	if ((verify = SSL_get_verify_result(ssl)) != X509_V_OK) {
		tls_cause(cause, "client certificate did not verify: %s", X509_verify_cert_error_string(verify));
		return -1;
	}
	if ((id = calloc(1, sizeof(*id))) == NULL) {
		tls_cause(cause, "out of memory");
		return -1;
	}
	if (dn_string(X509_get_subject_name(x), "subject", &id->subject, cause) == -1 ||
	    dn_string(X509_get_issuer_name(x), "issuer", &id->issuer, cause) == -1 ||
	    common_name(X509_get_subject_name(x), &id->cn, cause) == -1 ||
	    serial_hex(x, &id->serial, cause) == -1 ||
	    cert_time(X509_get0_notBefore(x), "notBefore", &id->not_before, cause) == -1 ||
	    cert_time(X509_get0_notAfter(x), "notAfter", &id->not_after, cause) == -1 ||
	    alt_names(x, id, cause) == -1 || tag_sans(id, cause) == -1 ||
	    org_units(X509_get_subject_name(x), id, cause) == -1)
		goto fail;
	ERR_clear_error();
	if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen * 2 != TLS_FINGERPRINT_HEX) {
		tls_cause_ssl(cause, "client certificate fingerprint");
		goto fail;
	}
	for (i = 0; i < mdlen; i++)
		snprintf(id->fingerprint + 2 * i, 3, "%02x", md[i]);
	*out = id;
	return 0;
fail:
	tls_identity_free(id);
	return -1;
}

void
tls_identity_free(struct tls_identity *id)
{
	size_t i;

	if (id == NULL)
		return;
	free(id->subject);
	free(id->issuer);
	free(id->cn);
	free(id->serial);
	for (i = 0; i < id->nsans; i++) {
		free(id->sans[i].value);
		if (id->tagged != NULL)
			free(id->tagged[i]);
	}
	free(id->sans);
	free(id->tagged);
	for (i = 0; i < id->nous; i++)
		free(id->ous[i]);
	free(id->ous);
	free(id);
}
