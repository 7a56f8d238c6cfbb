/*
 * Get of a Private Key with Key Format Type PKCS#12: the key, its certificate and the certificate's chain
 * as far as the store holds it, in a PKCS#12 file (RFC 7292) protected by a password the client keeps in
 * the store.
 *
 * What the file holds, found through Links as KMIP 2.1's Get says:
 *   the certificate   the key's Public Key Link, then that public key's PKCS#12 Certificate Link; kmipd also
 *                     takes the key's own PKCS#12 Certificate Link, or else its Certificate Link
 *   the chain         from that certificate, each one's Certificate Link (its issuer), at most
 *                     PKCS12_MAX_CHAIN certificates, stopping at a self-signed one, a loop, or an issuer
 *                     the store does not hold (or the caller may not read)
 *   the password      the Secret Data the key's PKCS#12 Password Link names, its bytes as they are
 *   the friendly name the key's PKCS#12 Friendly Name attribute, if it has one
 * Each linked object is loaded as its own Get would (ops_load): one the caller may not read answers as
 * missing. A key without a certificate or a password fails with Missing Data; a linked object of the wrong
 * type with Invalid Object Type; two links of one kind on the way (more than one chain, which the spec
 * calls an error) with Invalid Field. A Certificate's Get as PKCS#12 is refused: its response has no Key
 * Block to carry the file.
 *
 * The file: the key in a PKCS#8 shrouded bag under PBES2 (PBKDF2 with HMAC-SHA-256, AES-256-CBC), the
 * certificates unencrypted (they are public), a SHA-256 MAC over it all, each derivation PKCS12_ITER
 * iterations. That costs about 0.7 ms (see PKCS12_ITER), so it runs in the loop.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/engine/ops.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

/*
 * Iterations of each key derivation (the key bag's PBKDF2, the MAC's PKCS#12 KDF): OpenSSL's own default
 * (PKCS12_DEFAULT_ITER). Making the file of an RSA-2048 key and its certificate so took 0.67 ms (best of 7;
 * 0.38 ms at 1024, 2.9 ms at 10000); the count is fixed, so no client makes it cost more.
 */
#define PKCS12_ITER		2048
/* Certificates of the chain at most, the key's own included: a client cannot make the walk longer. */
#define PKCS12_MAX_CHAIN	10
/* Longest password, in bytes. */
#define PKCS12_MAX_PASSWORD	1024

/*
 * The target of o's Link of link_type: NULL when it has none; with two or more (more than one chain),
 * NULL with ctx->err set (Invalid Field).
 */
static const char *
link_target(struct op_ctx *ctx, const struct store_object *o, uint32_t link_type)
{
	const struct ttlv *l, *type, *target;
	const char *found = NULL;

	for (l = ttlv_find(o->attrs, KMIP_TAG_LINK); l != NULL; l = ttlv_find_next(l)) {
		type = ttlv_find(l, KMIP_TAG_LINK_TYPE);
		target = ttlv_find(l, KMIP_TAG_LINKED_OBJECT_IDENTIFIER);
		if (type == NULL || target == NULL || type->type != TTLV_ENUMERATION || type->v.u32 != link_type ||
		    target->type != TTLV_TEXT_STRING)
			continue;
		if (found != NULL && strcmp(found, (const char *)target->v.bytes.data) != 0) {
			kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "%s has more than one %s: more "
			    "than one certificate chain", o->uid, ttlv_enum_name(KMIP_TAG_LINK_TYPE, link_type));
			return NULL;
		}
		found = (const char *)target->v.bytes.data;
	}
	return found;
}

/*
 * The identifier of key's certificate into uid (OP_UID_MAX + 1 bytes): through its public key (KMIP 2.1),
 * else its own links. 0, or -1 with ctx->err set.
 */
static int
base_certificate(struct op_ctx *ctx, struct store_txn *txn, const struct store_object *key, char *uid)
{
	static const uint32_t own[] = { KMIP_LINK_TYPE_PKCS_12_CERTIFICATE_LINK, KMIP_LINK_TYPE_CERTIFICATE_LINK };
	const char *pub_uid = link_target(ctx, key, KMIP_LINK_TYPE_PUBLIC_KEY_LINK), *t = NULL;
	struct store_object *pub = NULL;
	size_t i;

	if (ctx->err.reason != 0)
		return -1;
	if (pub_uid != NULL) {
		bool found = false;

		if (ops_load(ctx, txn, pub_uid, 0, &pub) != 0) {
			/* A public key the store does not hold (or the caller may not read): the key's own links. */
			memset(&ctx->err, 0, sizeof(ctx->err));
		} else if (pub->object_type == KMIP_OBJECT_TYPE_PUBLIC_KEY) {
			t = link_target(ctx, pub, KMIP_LINK_TYPE_PKCS_12_CERTIFICATE_LINK);
			if (t != NULL && strlen(t) > OP_UID_MAX)
				kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the certificate link is too long");
			else if (t != NULL)
				found = snprintf(uid, OP_UID_MAX + 1, "%s", t) > 0;
		}
		store_object_free(pub);	/* t pointed into it */
		if (ctx->err.reason != 0)
			return -1;
		if (found)
			return 0;
	}
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if ((t = link_target(ctx, key, own[i])) == NULL && ctx->err.reason != 0)
			return -1;
		if (t != NULL) {
			if (strlen(t) > OP_UID_MAX)
				return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the certificate link is "
				    "too long");
			snprintf(uid, OP_UID_MAX + 1, "%s", t);
			return 0;
		}
	}
	return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_MISSING_DATA, "private key %s has no certificate: "
	    "PKCS#12 needs one (its public key's PKCS#12 Certificate Link, or its own)", key->uid);
}

/* Loads the live object uid of type with its material; 0, or -1 with ctx->err set. */
static int
load_linked(struct op_ctx *ctx, struct store_txn *txn, const char *uid, uint32_t type, const char *what,
    struct store_object **o)
{
	if (ops_load(ctx, txn, uid, OPS_MATERIAL, o) != 0)
		return -1;
	if ((*o)->object_type != type)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_OBJECT_TYPE, "%s %s is not a %s", what, uid,
		    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type));
	if ((*o)->material == NULL || (*o)->state == KMIP_STATE_DESTROYED ||
	    (*o)->state == KMIP_STATE_DESTROYED_COMPROMISED)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_OBJECT_DESTROYED, "%s %s has been destroyed", what,
		    uid);
	return 0;
}

/* Parses a stored certificate; NULL with ctx->err set. */
static X509 *
parse_cert(struct op_ctx *ctx, const struct store_object *c)
{
	const unsigned char *p = c->material;
	X509 *x = d2i_X509(NULL, &p, (long)c->material_len);

	if (x == NULL)
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "certificate %s does not parse", c->uid);
	return x;
}

/*
 * Loads the certificate of key (*cert) and its chain above it into ca. The key's certificate must be there;
 * the chain goes as far as the store holds it (an issuer missing, or one the caller may not read, ends it).
 * 0, or -1 with ctx->err set.
 */
static int
load_chain(struct op_ctx *ctx, struct store_txn *txn, const struct store_object *key, X509 **cert,
    STACK_OF(X509) *ca)
{
	char seen[PKCS12_MAX_CHAIN][OP_UID_MAX + 1], cur[OP_UID_MAX + 1];
	struct store_object *c = NULL;
	const char *uid;
	size_t n, i;
	X509 *x;

	if (base_certificate(ctx, txn, key, cur) != 0)
		return -1;
	for (n = 0; n < PKCS12_MAX_CHAIN; n++) {
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], cur) == 0)
				return 0;	/* a loop of links: the chain ends */
		if (load_linked(ctx, txn, cur, KMIP_OBJECT_TYPE_CERTIFICATE, "certificate", &c) != 0) {
			store_object_free(c);
			if (n == 0)
				return -1;
			memset(&ctx->err, 0, sizeof(ctx->err));
			return 0;
		}
		snprintf(seen[n], sizeof(seen[0]), "%s", cur);
		if ((x = parse_cert(ctx, c)) == NULL) {
			store_object_free(c);
			return -1;
		}
		if (*cert == NULL) {
			*cert = x;
		} else if (!sk_X509_push(ca, x)) {
			X509_free(x);
			store_object_free(c);
			return ops_nomem(ctx);
		}
		/* A self-signed certificate is the root: whatever it links to is not its issuer. */
		uid = X509_check_issued(x, x) == X509_V_OK ? NULL : link_target(ctx, c,
		    KMIP_LINK_TYPE_CERTIFICATE_LINK);
		if (uid == NULL || strlen(uid) > OP_UID_MAX) {
			store_object_free(c);
			return ctx->err.reason != 0 ? -1 : 0;
		}
		snprintf(cur, sizeof(cur), "%s", uid);
		store_object_free(c);
		c = NULL;
	}
	return 0;
}

/* Loads the password the key's PKCS#12 Password Link names into pass (NUL-terminated). */
static int
load_password(struct op_ctx *ctx, struct store_txn *txn, const struct store_object *key, char *pass, size_t size)
{
	const char *uid = link_target(ctx, key, KMIP_LINK_TYPE_PKCS_12_PASSWORD_LINK);
	struct store_object *s = NULL;
	int rc = -1;

	if (ctx->err.reason != 0)
		return -1;
	if (uid == NULL)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_MISSING_DATA, "private key %s has no PKCS#12 "
		    "Password Link: PKCS#12 needs the Secret Data of its password", key->uid);
	if (load_linked(ctx, txn, uid, KMIP_OBJECT_TYPE_SECRET_DATA, "password", &s) != 0)
		goto out;
	if (s->material_len == 0 || s->material_len >= size || memchr(s->material, 0, s->material_len) != NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the password in %s is empty, longer than %zu "
		    "bytes or holds a NUL byte", uid, size - 1);
		goto out;
	}
	memcpy(pass, s->material, s->material_len);
	pass[s->material_len] = '\0';
	rc = 0;
out:
	store_object_free(s);
	return rc;
}

/* Builds the PKCS#12 file of private key o; see ops.h. */
int
ops_pkcs12_export(struct op_ctx *ctx, const struct store_object *o, const uint8_t *key, size_t key_len,
    uint8_t **der, size_t *len)
{
	const struct ttlv *fname = ttlv_find(o->attrs, KMIP_TAG_PKCS_12_FRIENDLY_NAME);
	const unsigned char *p = key;
	STACK_OF(X509) *ca = sk_X509_new_null();
	char pass[PKCS12_MAX_PASSWORD + 1];
	struct store_txn *txn = NULL;
	EVP_PKEY *pkey = NULL;
	PKCS12 *p12 = NULL;
	X509 *cert = NULL;
	unsigned char *out = NULL;
	int n, rc = -1;

	*der = NULL;
	pass[0] = '\0';
	if (ca == NULL)
		return ops_nomem(ctx);
	if (ops_begin(ctx, false, &txn) != 0)
		goto out;
	if (load_chain(ctx, txn, o, &cert, ca) != 0 || load_password(ctx, txn, o, pass, sizeof(pass)) != 0)
		goto out;
	if (key == NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_KEY_VALUE_NOT_PRESENT,
		    "the key is kept wrapped as registered: kmipd cannot put it in a PKCS#12 file");
		goto out;
	}
	if ((pkey = d2i_AutoPrivateKey(NULL, &p, (long)key_len)) == NULL) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "the stored key does not parse");
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "the linked certificate is not the "
		    "certificate of private key %s", o->uid);
		goto out;
	}
	/* No MAC here (-1): PKCS12_set_mac adds one with SHA-256 rather than the default digest. */
	p12 = PKCS12_create_ex(pass, fname != NULL && fname->type == TTLV_TEXT_STRING ?
	    (const char *)fname->v.bytes.data : NULL, pkey, cert, ca, NID_aes_256_cbc, -1, PKCS12_ITER, -1, 0,
	    NULL, NULL);
	if (p12 == NULL || PKCS12_set_mac(p12, pass, -1, NULL, 0, PKCS12_ITER, EVP_sha256()) != 1 ||
	    (n = i2d_PKCS12(p12, &out)) <= 0) {
		kmip_error_set(&ctx->err, KMIP_RESULT_REASON_CRYPTOGRAPHIC_FAILURE, "making the PKCS#12 file failed");
		goto out;
	}
	*der = out;
	*len = (size_t)n;
	out = NULL;
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_free(out);
	PKCS12_free(p12);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	store_txn_abort(txn);
	return rc;
}
