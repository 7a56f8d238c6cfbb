/*
 * Key-encryption keys: the master key that wraps the store's data keys, from a file, a systemd credential or
 * a PKCS#11 token, and the offline recovery key.
 *
 * A data key (32 bytes) is wrapped with AES-256-GCM:
 * - under a file or credential key: that key is the GCM key;
 * - under a token key: the token computes GCM (the key never leaves it);
 * - for the recovery key, an X25519 key pair whose private half is printed once and kept offline: an
 *   ephemeral X25519 key agreement with the recovery public key, HKDF-SHA-256, then GCM. Only the public
 *   half is in the store, so a new data key can be wrapped for recovery while the private half stays away.
 * The GCM tag is the check that a key is the right one: a wrong key fails authentication, and nothing is
 * ever decrypted without it.
 *
 * Each key has a 16-byte identifier kept beside its wraps, so that a key that is not the store's is named as
 * such before anything is tried: for a raw key an HMAC of a fixed text under it (it reveals nothing of the
 * key), for a token key a digest of token and key labels, for the recovery key a digest of its public half.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "proto/ttlv.h"
#include "store/p11.h"
#include "store/store_int.h"

#define SECRET_FILE_MAX		4096	/* largest key, PIN or recovery file read */
#define RECOVERY_PREFIX		"kmipd-recovery-"

static const char raw_id_label[] = "kmipd master key identifier v1";
static const char recovery_info[] = "kmipd recovery wrap v1";

/*
 * Reads a small secret file into a malloc'd buffer the caller wipes and frees. With private, a file that its
 * group or others may read is refused: a key readable by others is no longer a secret.
 */
static int
read_secret(const char *path, bool private, uint8_t **out, size_t *len, char **cause)
{
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		store_set_cause(cause, "%s: %s", path, strerror(errno));
		return STORE_E_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		store_set_cause(cause, "%s: not a regular file", path);
		goto fail;
	}
	if (private && (st.st_mode & 077) != 0) {
		store_set_cause(cause, "%s: readable by group or others (mode %04o): run chmod 600 on it",
		    path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > SECRET_FILE_MAX) {
		store_set_cause(cause, "%s: larger than %d bytes: not a key", path, SECRET_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc(SECRET_FILE_MAX + 1)) == NULL) {
		store_set_cause(cause, "out of memory");
		goto fail;
	}
	while (got <= SECRET_FILE_MAX && (n = read(fd, buf + got, SECRET_FILE_MAX + 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			store_set_cause(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		got += (size_t)n;
	}
	if (got > SECRET_FILE_MAX) {
		store_set_cause(cause, "%s: larger than %d bytes: not a key", path, SECRET_FILE_MAX);
		goto fail;
	}
	close(fd);
	*out = buf;
	*len = got;
	return STORE_OK;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return STORE_E_INVALID;
}

/* Wipes and frees what read_secret returned. */
static void
secret_free(uint8_t *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, SECRET_FILE_MAX + 1);
		free(p);
	}
}

/* The path of a systemd credential: $CREDENTIALS_DIRECTORY/name. */
static int
credential_path(const char *name, char *buf, size_t size, char **cause)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (dir == NULL || *dir == '\0') {
		store_set_cause(cause, "credential %s: $CREDENTIALS_DIRECTORY is not set (run under systemd with "
		    "LoadCredential= or LoadCredentialEncrypted=, or with systemd-run -p LoadCredentialEncrypted=...)",
		    name);
		return STORE_E_INVALID;
	}
	if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		store_set_cause(cause, "credential \"%s\": not a credential name", name);
		return STORE_E_INVALID;
	}
	n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		store_set_cause(cause, "credential %s: path too long", name);
		return STORE_E_INVALID;
	}
	return STORE_OK;
}

/* Value of one hexadecimal digit, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decodes 32 key bytes from p: 32 raw bytes, or 64 hexadecimal digits (after an optional prefix) with
 * optional dashes, spaces and a final newline, as the recovery key is printed. -1 when it is neither.
 */
static int
key_bytes(const uint8_t *p, size_t len, const char *prefix, uint8_t key[STORE_KEY_BYTES])
{
	size_t i, n = 0, plen = prefix != NULL ? strlen(prefix) : 0;
	int hi = -1, v;

	if (len == STORE_KEY_BYTES && prefix == NULL) {
		memcpy(key, p, STORE_KEY_BYTES);
		return 0;
	}
	if (plen > 0 && len >= plen && memcmp(p, prefix, plen) == 0) {
		p += plen;
		len -= plen;
	}
	for (i = 0; i < len; i++) {
		if (p[i] == '-' || p[i] == ' ' || p[i] == '\n' || p[i] == '\r')
			continue;
		if ((v = hexval(p[i])) < 0 || n == STORE_KEY_BYTES)
			return -1;
		if (hi < 0)
			hi = v;
		else {
			key[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n == STORE_KEY_BYTES && hi < 0 ? 0 : -1;
}

/* The first 16 bytes of SHA-256 over a, then b when not NULL. */
static int
digest16(uint8_t out[STORE_KEK_ID_BYTES], const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(c, a, alen) == 1 &&
	    (b == NULL || EVP_DigestUpdate(c, b, blen) == 1) && EVP_DigestFinal_ex(c, md, &mdlen) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	memcpy(out, md, STORE_KEK_ID_BYTES);
	return 0;
}

/* Fills a raw key's identifier (an HMAC of a fixed text under it). */
static int
raw_id(struct store_kek *k)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (HMAC(EVP_sha256(), k->key, STORE_KEY_BYTES, (const uint8_t *)raw_id_label, sizeof(raw_id_label) - 1,
	    md, &mdlen) == NULL)
		return -1;
	memcpy(k->id, md, STORE_KEK_ID_BYTES);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* The X25519 public half of a private key. */
static int
x25519_public(const uint8_t priv[STORE_KEY_BYTES], uint8_t pub[STORE_KEY_BYTES])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, STORE_KEY_BYTES);
	size_t len = STORE_KEY_BYTES;
	int ok;

	ok = pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == STORE_KEY_BYTES;
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

/* A new key object of a kind with a printable name. */
static struct store_kek *
kek_new(enum kek_kind kind, const char *fmt, const char *a, const char *b)
{
	struct store_kek *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->kind = kind;
	snprintf(k->name, sizeof(k->name), fmt, a, b != NULL ? b : "");
	return k;
}

/* Loads a raw 32-byte key from a file (private: refused when others may read it). */
static int
load_raw(struct store_kek *k, const char *path, char **cause)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = read_secret(path, true, &buf, &len, cause)) != STORE_OK)
		return rc;
	rc = key_bytes(buf, len, NULL, k->key);
	secret_free(buf);
	if (rc != 0) {
		store_set_cause(cause, "%s: not a master key (want 32 random bytes, or 64 hexadecimal digits; "
		    "kmipctl master-key create makes one)", path);
		return STORE_E_INVALID;
	}
	if (raw_id(k) != 0) {
		store_set_cause(cause, "%s: cannot derive the key identifier", path);
		return STORE_E_IO;
	}
	return STORE_OK;
}

/* Loads the recovery key from the file where the operator keeps its printed text. */
static int
load_recovery(struct store_kek *k, const char *path, char **cause)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = read_secret(path, false, &buf, &len, cause)) != STORE_OK)
		return rc;
	rc = key_bytes(buf, len, RECOVERY_PREFIX, k->key);
	secret_free(buf);
	if (rc != 0) {
		store_set_cause(cause, "%s: not a recovery key (want the text kmipctl recovery-key printed)", path);
		return STORE_E_INVALID;
	}
	if (x25519_public(k->key, k->pub) != 0 || digest16(k->id, k->pub, STORE_KEY_BYTES, NULL, 0) != 0) {
		store_set_cause(cause, "%s: not a usable recovery key", path);
		return STORE_E_INVALID;
	}
	return STORE_OK;
}

/* Reads the PIN of a token from a file or "credential:NAME". */
static int
read_pin(const char *spec, uint8_t **pin, size_t *len, char **cause)
{
	char path[4096];
	const char *p = spec;
	int rc;

	if (strncmp(spec, "credential:", 11) == 0) {
		if ((rc = credential_path(spec + 11, path, sizeof(path), cause)) != STORE_OK)
			return rc;
		p = path;
	}
	if ((rc = read_secret(p, true, pin, len, cause)) != STORE_OK)
		return rc;
	while (*len > 0 && ((*pin)[*len - 1] == '\n' || (*pin)[*len - 1] == '\r'))
		(*len)--;
	if (*len == 0) {
		store_set_cause(cause, "%s: the PIN file is empty", p);
		secret_free(*pin);
		*pin = NULL;
		return STORE_E_INVALID;
	}
	(*pin)[*len] = '\0';
	return STORE_OK;
}

/* Opens the token key named by the source. */
static int
load_p11(struct store_kek *k, const struct store_kek_source *src, char **cause)
{
	struct store_p11_config c;
	uint8_t *pin = NULL;
	size_t pin_len = 0;
	int rc;

	if (src->p11_module == NULL || src->p11_token == NULL || src->p11_key == NULL || src->p11_pin == NULL) {
		store_set_cause(cause, "a PKCS#11 master key needs a module, a token label, a key label and a PIN "
		    "file");
		return STORE_E_INVALID;
	}
	if ((rc = read_pin(src->p11_pin, &pin, &pin_len, cause)) != STORE_OK)
		return rc;
	memset(&c, 0, sizeof(c));
	c.module = src->p11_module;
	c.token_label = src->p11_token;
	c.key_label = src->p11_key;
	c.pin = (const char *)pin;
	c.pin_len = pin_len;
	rc = store_p11_open(&c, &k->p11, cause);
	secret_free(pin);
	if (rc != 0)
		return STORE_E_INVALID;
	if (digest16(k->id, src->p11_token, strlen(src->p11_token) + 1, src->p11_key, strlen(src->p11_key)) != 0) {
		store_set_cause(cause, "cannot derive the token key's identifier");
		return STORE_E_IO;
	}
	return STORE_OK;
}

/* Loads a master or recovery key: see store.h. */
int
store_kek_load(const struct store_kek_source *src, struct store_kek **out, char **cause)
{
	char path[4096];
	struct store_kek *k = NULL;
	int rc = STORE_E_INVALID;

	*out = NULL;
	switch (src->kind) {
	case STORE_KEY_FILE:
		if (src->path == NULL || *src->path == '\0')
			break;
		if ((k = kek_new(KEK_RAW, "file %s%s", src->path, NULL)) == NULL)
			goto nomem;
		rc = load_raw(k, src->path, cause);
		break;
	case STORE_KEY_CREDENTIAL:
		if (src->path == NULL || *src->path == '\0')
			break;
		if ((rc = credential_path(src->path, path, sizeof(path), cause)) != STORE_OK)
			return rc;
		if ((k = kek_new(KEK_RAW, "credential %s%s", src->path, NULL)) == NULL)
			goto nomem;
		rc = load_raw(k, path, cause);
		break;
	case STORE_KEY_PKCS11:
		if ((k = kek_new(KEK_P11, "pkcs11 token \"%s\" key \"%s\"", src->p11_token ? src->p11_token : "?",
		    src->p11_key ? src->p11_key : "?")) == NULL)
			goto nomem;
		rc = load_p11(k, src, cause);
		break;
	case STORE_KEY_RECOVERY:
		if (src->path == NULL || *src->path == '\0')
			break;
		if ((k = kek_new(KEK_RECOVERY, "recovery key from %s%s", src->path, NULL)) == NULL)
			goto nomem;
		rc = load_recovery(k, src->path, cause);
		break;
	}
	if (k == NULL) {
		store_set_cause(cause, "no key source given");
		return STORE_E_INVALID;
	}
	if (rc != STORE_OK) {
		store_kek_free(k);
		return rc;
	}
	*out = k;
	return STORE_OK;
nomem:
	store_set_cause(cause, "out of memory");
	return STORE_E_NOMEM;
}

/* Wipes and frees a key; NULL is accepted. */
void
store_kek_free(struct store_kek *k)
{
	if (k == NULL)
		return;
	store_p11_close(k->p11);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

/* What the key is, for messages ("file /etc/kmipd/master.key"). */
const char *
store_kek_describe(const struct store_kek *k)
{
	return k != NULL ? k->name : "no key";
}

/* Writes a new random master key file (32 bytes, mode 0600); refuses to replace one. */
int
store_master_key_create(const char *path, char **cause)
{
	uint8_t key[STORE_KEY_BYTES];
	int fd, rc = STORE_E_IO;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		store_set_cause(cause, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (a master key is never overwritten: move it away first)" : "");
		return errno == EEXIST ? STORE_E_INVALID : STORE_E_IO;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		store_set_cause(cause, "the random generator failed");
		goto fail;
	}
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0) {
		store_set_cause(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (close(fd) != 0) {
		store_set_cause(cause, "%s: %s", path, strerror(errno));
		(void)unlink(path);
		return STORE_E_IO;
	}
	return STORE_OK;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	close(fd);
	(void)unlink(path);
	return rc;
}

/* AES-256-GCM with a raw key: seal (enc) in[len] into out[len] and tag, or open and check tag. */
int
store_gcm(const uint8_t key[STORE_KEY_BYTES], bool enc, const uint8_t iv[STORE_IV_BYTES], const uint8_t *aad,
    size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[STORE_TAG_BYTES])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	if (len > INT_MAX || aad_len > INT_MAX) {
		EVP_CIPHER_CTX_free(c);
		return -1;
	}

	ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
	    (aad_len == 0 || EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1) &&
	    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, STORE_TAG_BYTES, tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, STORE_TAG_BYTES, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	if (!ok && !enc)
		OPENSSL_cleanse(out, len);
	return ok ? 0 : -1;
}

/* The GCM key of a recovery wrap: X25519(priv, peer) through HKDF-SHA-256 bound to both public halves. */
static int
recovery_key(const uint8_t priv[STORE_KEY_BYTES], const uint8_t peer[STORE_KEY_BYTES],
    const uint8_t eph_pub[STORE_KEY_BYTES], const uint8_t rec_pub[STORE_KEY_BYTES], uint8_t key[STORE_KEY_BYTES])
{
	EVP_PKEY *mine = NULL, *theirs = NULL;
	EVP_PKEY_CTX *dc = NULL, *kc = NULL;
	uint8_t shared[STORE_KEY_BYTES], salt[2 * STORE_KEY_BYTES];
	size_t slen = sizeof(shared), klen = STORE_KEY_BYTES;
	int ok;

	memcpy(salt, eph_pub, STORE_KEY_BYTES);
	memcpy(salt + STORE_KEY_BYTES, rec_pub, STORE_KEY_BYTES);
	ok = (mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, STORE_KEY_BYTES)) != NULL &&
	    (theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, STORE_KEY_BYTES)) != NULL &&
	    (dc = EVP_PKEY_CTX_new(mine, NULL)) != NULL && EVP_PKEY_derive_init(dc) == 1 &&
	    EVP_PKEY_derive_set_peer(dc, theirs) == 1 && EVP_PKEY_derive(dc, shared, &slen) == 1 &&
	    slen == sizeof(shared) &&
	    (kc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) != NULL && EVP_PKEY_derive_init(kc) == 1 &&
	    EVP_PKEY_CTX_set_hkdf_md(kc, EVP_sha256()) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(kc, salt, sizeof(salt)) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_key(kc, shared, sizeof(shared)) == 1 &&
	    EVP_PKEY_CTX_add1_hkdf_info(kc, (const uint8_t *)recovery_info, sizeof(recovery_info) - 1) == 1 &&
	    EVP_PKEY_derive(kc, key, &klen) == 1 && klen == STORE_KEY_BYTES;
	OPENSSL_cleanse(shared, sizeof(shared));
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_CTX_free(kc);
	EVP_PKEY_free(mine);
	EVP_PKEY_free(theirs);
	return ok ? 0 : -1;
}

/*
 * Wraps a data key: under the master key k, or, with k NULL, for the recovery public key rec_pub. The
 * associated data binds the wrap to the data key's identifier and the wrap's kind.
 */
int
store_kek_wrap(const struct store_kek *k, const uint8_t rec_pub[STORE_KEY_BYTES], uint32_t dek_id,
    const uint8_t dek[STORE_KEY_BYTES], struct store_wrap *w, char **cause)
{
	uint8_t aad[8], key[STORE_KEY_BYTES], eph[STORE_KEY_BYTES], buf[STORE_KEY_BYTES + STORE_TAG_BYTES];
	int rc = -1;

	memset(w, 0, sizeof(*w));
	w->kind = k != NULL ? (uint8_t)k->kind : KEK_RECOVERY;
	store_wrap_aad(w->kind, dek_id, aad);
	if (RAND_bytes(w->iv, STORE_IV_BYTES) != 1) {
		store_set_cause(cause, "the random generator failed");
		return -1;
	}
	if (k == NULL || k->kind == KEK_RECOVERY) {
		const uint8_t *pub = k != NULL ? k->pub : rec_pub;

		if (RAND_bytes(eph, sizeof(eph)) != 1 || x25519_public(eph, w->eph) != 0 ||
		    recovery_key(eph, pub, w->eph, pub, key) != 0 ||
		    digest16(w->kek_id, pub, STORE_KEY_BYTES, NULL, 0) != 0 ||
		    store_gcm(key, true, w->iv, aad, sizeof(aad), dek, STORE_KEY_BYTES, w->sealed,
		    w->sealed + STORE_KEY_BYTES) != 0)
			store_set_cause(cause, "cannot wrap the data key for the recovery key");
		else
			rc = 0;
		OPENSSL_cleanse(eph, sizeof(eph));
		OPENSSL_cleanse(key, sizeof(key));
		return rc;
	}
	memcpy(w->kek_id, k->id, STORE_KEK_ID_BYTES);
	if (k->kind == KEK_P11) {
		if (store_p11_gcm(k->p11, true, w->iv, aad, sizeof(aad), dek, STORE_KEY_BYTES, buf, cause) != 0)
			return -1;
		memcpy(w->sealed, buf, sizeof(buf));
		return 0;
	}
	if (store_gcm(k->key, true, w->iv, aad, sizeof(aad), dek, STORE_KEY_BYTES, w->sealed,
	    w->sealed + STORE_KEY_BYTES) != 0) {
		store_set_cause(cause, "cannot wrap the data key");
		return -1;
	}
	return 0;
}

/*
 * Unwraps a data key with k. 0; STORE_E_INVALID when the GCM check fails (not this key, or a wrap that was
 * altered), with a cause; STORE_E_IO when the key cannot be used.
 */
int
store_kek_unwrap(const struct store_kek *k, uint32_t dek_id, const struct store_wrap *w,
    uint8_t dek[STORE_KEY_BYTES], char **cause)
{
	uint8_t aad[8], key[STORE_KEY_BYTES], tag[STORE_TAG_BYTES];
	int rc;

	store_wrap_aad(w->kind, dek_id, aad);
	if (k->kind == KEK_P11) {
		rc = store_p11_gcm(k->p11, false, w->iv, aad, sizeof(aad), w->sealed, sizeof(w->sealed), dek, cause);
		if (rc == STORE_P11_E_AUTH) {
			store_set_cause(cause, "the %s does not open data key %u (GCM check failed)", k->name,
			    (unsigned)dek_id);
			return STORE_E_INVALID;
		}
		return rc == 0 ? STORE_OK : STORE_E_IO;
	}
	if (k->kind == KEK_RECOVERY) {
		if (recovery_key(k->key, w->eph, w->eph, k->pub, key) != 0) {
			store_set_cause(cause, "cannot derive the recovery wrap key");
			return STORE_E_IO;
		}
		memcpy(tag, w->sealed + STORE_KEY_BYTES, sizeof(tag));
		rc = store_gcm(key, false, w->iv, aad, sizeof(aad), w->sealed, STORE_KEY_BYTES, dek, tag);
		OPENSSL_cleanse(key, sizeof(key));
	} else {
		memcpy(tag, w->sealed + STORE_KEY_BYTES, sizeof(tag));
		rc = store_gcm(k->key, false, w->iv, aad, sizeof(aad), w->sealed, STORE_KEY_BYTES, dek, tag);
	}
	if (rc != 0) {
		store_set_cause(cause, "the %s does not open data key %u (GCM check failed)", k->name,
		    (unsigned)dek_id);
		return STORE_E_INVALID;
	}
	return STORE_OK;
}

/* The associated data of a wrap: "KW", its kind, a reserved byte, the data key's identifier. */
void
store_wrap_aad(uint8_t kind, uint32_t dek_id, uint8_t aad[8])
{
	aad[0] = 'K';
	aad[1] = 'W';
	aad[2] = kind;
	aad[3] = 0;
	ttlv_put32(aad + 4, dek_id);
}

/* Makes a new recovery key pair: the private half as printable text, the public half for the keyring. */
int
store_recovery_new(char *text, size_t size, uint8_t pub[STORE_KEY_BYTES], uint8_t id[STORE_KEK_ID_BYTES])
{
	uint8_t priv[STORE_KEY_BYTES];
	size_t i, off;
	int rc = -1;

	if (size < sizeof(RECOVERY_PREFIX) + 2 * STORE_KEY_BYTES + STORE_KEY_BYTES / 4)
		return -1;
	if (RAND_bytes(priv, sizeof(priv)) != 1 || x25519_public(priv, pub) != 0 ||
	    digest16(id, pub, STORE_KEY_BYTES, NULL, 0) != 0)
		goto done;
	off = (size_t)snprintf(text, size, "%s", RECOVERY_PREFIX);
	for (i = 0; i < STORE_KEY_BYTES; i++) {
		if (i > 0 && i % 4 == 0)
			text[off++] = '-';
		off += (size_t)snprintf(text + off, size - off, "%02x", priv[i]);
	}
	rc = 0;
done:
	OPENSSL_cleanse(priv, sizeof(priv));
	return rc;
}

/* Hexadecimal text of a key identifier (33 bytes with the NUL). */
void
store_kek_id_hex(const uint8_t id[STORE_KEK_ID_BYTES], char out[2 * STORE_KEK_ID_BYTES + 1])
{
	size_t i;

	for (i = 0; i < STORE_KEK_ID_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}
