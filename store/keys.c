/*
 * Encryption at rest: the keyring of data keys, sealing record material, master key rotation, data key
 * rotation and the re-encryption of records in batches.
 *
 * The keyring is one value in the meta database ("keyring"):
 *   'K' 'R' 1 0 | current data key id (4) | number of data keys (4) | flags (4, bit 0: recovery key set) |
 *   recovery public key (32) | per data key: id (4), number of wraps (4), wraps (112 bytes each: kind,
 *   3 zero bytes, key identifier (16), ephemeral public key (32), IV (12), wrapped key and tag (48)).
 * A data key is 32 random bytes; it is never written anywhere but wrapped. New records are sealed under the
 * current data key; older ones name theirs in their header, so a rotation re-encrypts them in batches while
 * both keys are in the keyring, and retires the old key only once a whole pass finds none left.
 *
 * Every change of the keyring is one LMDB transaction, so a kill at any point leaves either the old keyring
 * or the new one, and each can open every record the store holds at that point.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/ttlv.h"
#include "store/store_int.h"

#define KR_HEAD		48
#define KR_DEK_HEAD	8
#define KR_WRAP		112
#define KR_F_RECOVERY	0x1u

struct store_dek {
	uint32_t id;
	uint8_t key[STORE_KEY_BYTES];
	EVP_CIPHER_CTX *enc, *dec;	/* keyed once; each record sets only its IV */
	struct store_wrap wraps[STORE_WRAPS_MAX];
	size_t nwraps;
};

struct store_keyring {
	uint32_t current;
	bool recovery;
	uint8_t recovery_pub[STORE_KEY_BYTES];
	size_t ndeks;
	struct store_dek deks[STORE_DEKS_MAX];	/* kept out of core dumps (keyring_new) */
};

static int keys_copy(const struct store_keyring *src, struct store_keyring *dst, char **cause);
static int keys_clone(struct store *s, struct store_keyring **out, char **cause);

/* A zeroed keyring in memory that is locked when possible and left out of core dumps. */
static struct store_keyring *
keyring_new(void)
{
	struct store_keyring *k;

	k = mmap(NULL, sizeof(*k), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k == MAP_FAILED)
		return NULL;
	(void)madvise(k, sizeof(*k), MADV_DONTDUMP);
	(void)mlock(k, sizeof(*k));	/* best effort: RLIMIT_MEMLOCK may forbid it */
	return k;
}

/* Wipes and frees a keyring; NULL is accepted. */
void
store_keys_free(struct store_keyring *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->ndeks; i++) {
		EVP_CIPHER_CTX_free(k->deks[i].enc);
		EVP_CIPHER_CTX_free(k->deks[i].dec);
	}
	OPENSSL_cleanse(k, sizeof(*k));
	(void)munlock(k, sizeof(*k));
	munmap(k, sizeof(*k));
}

/* The data key with this id, or NULL. */
static struct store_dek *
dek_find(const struct store_keyring *k, uint32_t id)
{
	size_t i;

	for (i = 0; i < k->ndeks; i++)
		if (k->deks[i].id == id)
			return (struct store_dek *)&k->deks[i];
	return NULL;
}

/* Keys the cipher contexts of a data key whose bytes are in d->key. */
static int
dek_ready(struct store_dek *d)
{
	if ((d->enc = EVP_CIPHER_CTX_new()) == NULL || (d->dec = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(d->enc, EVP_aes_256_gcm(), NULL, d->key, NULL) != 1 ||
	    EVP_DecryptInit_ex(d->dec, EVP_aes_256_gcm(), NULL, d->key, NULL) != 1)
		return -1;
	return 0;
}

/* Parses a keyring value (data keys still wrapped); -1 when it is malformed. */
static int
keyring_parse(const uint8_t *p, size_t len, struct store_keyring *k)
{
	size_t off, i, j, n, nw;
	struct store_dek *d;

	if (len < KR_HEAD || p[0] != 'K' || p[1] != 'R' || p[2] != 1)
		return -1;
	k->current = ttlv_get32(p + 4);
	n = ttlv_get32(p + 8);
	k->recovery = (ttlv_get32(p + 12) & KR_F_RECOVERY) != 0;
	memcpy(k->recovery_pub, p + 16, STORE_KEY_BYTES);
	if (n == 0 || n > STORE_DEKS_MAX)
		return -1;
	off = KR_HEAD;
	for (i = 0; i < n; i++) {
		if (len - off < KR_DEK_HEAD)
			return -1;
		d = &k->deks[i];
		d->id = ttlv_get32(p + off);
		nw = ttlv_get32(p + off + 4);
		off += KR_DEK_HEAD;
		if (d->id == 0 || nw > STORE_WRAPS_MAX || (len - off) / KR_WRAP < nw)
			return -1;
		for (j = 0; j < nw; j++, off += KR_WRAP) {
			struct store_wrap *w = &d->wraps[j];

			w->kind = p[off];
			memcpy(w->kek_id, p + off + 4, STORE_KEK_ID_BYTES);
			memcpy(w->eph, p + off + 20, STORE_KEY_BYTES);
			memcpy(w->iv, p + off + 52, STORE_IV_BYTES);
			memcpy(w->sealed, p + off + 64, sizeof(w->sealed));
		}
		d->nwraps = nw;
		k->ndeks = i + 1;
	}
	if (off != len || dek_find(k, k->current) == NULL)
		return -1;
	return 0;
}

/* Serializes a keyring into a malloc'd buffer. */
static uint8_t *
keyring_encode(const struct store_keyring *k, size_t *len)
{
	size_t i, j, off, total = KR_HEAD;
	uint8_t *p;

	for (i = 0; i < k->ndeks; i++)
		total += KR_DEK_HEAD + k->deks[i].nwraps * KR_WRAP;
	if ((p = calloc(1, total)) == NULL)
		return NULL;
	p[0] = 'K';
	p[1] = 'R';
	p[2] = 1;
	ttlv_put32(p + 4, k->current);
	ttlv_put32(p + 8, (uint32_t)k->ndeks);
	ttlv_put32(p + 12, k->recovery ? KR_F_RECOVERY : 0);
	memcpy(p + 16, k->recovery_pub, STORE_KEY_BYTES);
	off = KR_HEAD;
	for (i = 0; i < k->ndeks; i++) {
		const struct store_dek *d = &k->deks[i];

		ttlv_put32(p + off, d->id);
		ttlv_put32(p + off + 4, (uint32_t)d->nwraps);
		off += KR_DEK_HEAD;
		for (j = 0; j < d->nwraps; j++, off += KR_WRAP) {
			const struct store_wrap *w = &d->wraps[j];

			p[off] = w->kind;
			memcpy(p + off + 4, w->kek_id, STORE_KEK_ID_BYTES);
			memcpy(p + off + 20, w->eph, STORE_KEY_BYTES);
			memcpy(p + off + 52, w->iv, STORE_IV_BYTES);
			memcpy(p + off + 64, w->sealed, sizeof(w->sealed));
		}
	}
	*len = total;
	return p;
}

/* The wrap of d under the key with this kind and identifier, or NULL. */
static struct store_wrap *
wrap_find(struct store_dek *d, const struct store_kek *kek)
{
	size_t i;

	for (i = 0; i < d->nwraps; i++)
		if (d->wraps[i].kind == kek->kind &&
		    memcmp(d->wraps[i].kek_id, kek->id, STORE_KEK_ID_BYTES) == 0)
			return &d->wraps[i];
	return NULL;
}

/* Drops the wraps of d under the key with this identifier (kind RECOVERY: every recovery wrap). */
static void
wraps_drop(struct store_dek *d, uint8_t kind, const uint8_t *id)
{
	size_t i, j;

	for (i = j = 0; i < d->nwraps; i++) {
		if (d->wraps[i].kind == kind && (id == NULL ||
		    memcmp(d->wraps[i].kek_id, id, STORE_KEK_ID_BYTES) == 0))
			continue;
		d->wraps[j++] = d->wraps[i];
	}
	d->nwraps = j;
}

/* Adds a wrap to d; -1 when it has as many as it may. */
static int
wrap_add(struct store_dek *d, const struct store_wrap *w, char **cause)
{
	if (d->nwraps == STORE_WRAPS_MAX) {
		store_set_cause(cause, "data key %u is wrapped under %d keys already", (unsigned)d->id,
		    STORE_WRAPS_MAX);
		return -1;
	}
	d->wraps[d->nwraps++] = *w;
	return 0;
}

/* Lists the keys a data key is wrapped under, for an error message. */
static void
wraps_describe(const struct store_dek *d, char *buf, size_t size)
{
	static const char *const kinds[] = { "?", "master key", "token key", "recovery key" };
	char hex[2 * STORE_KEK_ID_BYTES + 1];
	size_t i, off = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < d->nwraps && off < size; i++) {
		store_kek_id_hex(d->wraps[i].kek_id, hex);
		n = snprintf(buf + off, size - off, "%s%s %.12s", i > 0 ? ", " : "",
		    kinds[d->wraps[i].kind <= KEK_RECOVERY ? d->wraps[i].kind : 0], hex);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* The keyring value as txn sees it (pointing into txn); *found false when the store has none. */
static int
keyring_get(struct store *s, MDB_txn *txn, MDB_val *val, bool *found)
{
	MDB_val key = { 7, "keyring" };
	int rc;

	*found = false;
	rc = mdb_get(txn, s->dbi[DB_META], &key, val);
	if (rc == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return store_fail(s, rc, "reading the keyring");
	*found = true;
	return STORE_OK;
}

/* Writes keyring k in the write transaction txn; its encoding goes to *raw (malloc'd), for keys_use. */
static int
keyring_put(struct store *s, MDB_txn *txn, const struct store_keyring *k, uint8_t **raw, size_t *len,
    char **cause)
{
	MDB_val key = { 7, "keyring" }, val;
	struct store_txn t;
	int rc;

	if ((*raw = keyring_encode(k, len)) == NULL) {
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	store_txn_wrap(s, txn, true, &t);
	val.mv_data = *raw;
	val.mv_size = *len;
	if ((rc = store_db_put(&t, DB_META, &key, &val, 0)) != STORE_OK) {
		free(*raw);
		*raw = NULL;
		store_set_cause(cause, "%s: cannot write the keyring: %s", s->path, s->err);
	}
	return rc;
}

/* Puts keyring k (NULL: none) in use, read from or written as raw (taken, freed later). */
static void
keys_use(struct store *s, struct store_keyring *k, uint8_t *raw, size_t len)
{
	store_keys_free(s->keys);
	s->keys = k;
	free(s->kr_raw);
	s->kr_raw = raw;
	s->kr_len = len;
	s->keys_stale = false;
}

/* The data keys of the keyring as txn sees it: see store_int.h. */
int
store_keys_ids(struct store *s, MDB_txn *txn, struct store_dek_ids *ids)
{
	const uint8_t *p;
	size_t off, i, n, nw;
	bool found;
	MDB_val v;
	int rc;

	ids->current = 0;
	ids->n = 0;
	if (s->keys == NULL)
		return STORE_OK;	/* a clear store seals nothing */
	if ((rc = keyring_get(s, txn, &v, &found)) != STORE_OK || !found)
		return rc;
	p = v.mv_data;
	if (v.mv_size < KR_HEAD || p[0] != 'K' || p[1] != 'R' || p[2] != 1)
		goto corrupt;
	n = ttlv_get32(p + 8);
	if (n == 0 || n > STORE_DEKS_MAX)
		goto corrupt;
	for (off = KR_HEAD, i = 0; i < n; i++) {
		if (v.mv_size - off < KR_DEK_HEAD)
			goto corrupt;
		ids->id[i] = ttlv_get32(p + off);
		nw = ttlv_get32(p + off + 4);
		off += KR_DEK_HEAD;
		if (nw > STORE_WRAPS_MAX || (v.mv_size - off) / KR_WRAP < nw)
			goto corrupt;
		off += nw * KR_WRAP;
	}
	ids->n = n;
	ids->current = ttlv_get32(p + 4);
	return STORE_OK;
corrupt:
	snprintf(s->err, sizeof(s->err), "the keyring is corrupt");
	return STORE_E_CORRUPT;
}

/*
 * Makes s->keys the keyring txn sees when it differs from the one loaded: see store_int.h. A data key
 * already open is kept by its id (ids are never reused: a new one is above every one the keyring ever
 * held, since the current one, the newest, is never retired), so a worker whose master key another
 * worker rotated first still opens everything; a new one is unwrapped under the master key.
 */
int
store_keys_refresh(struct store *s, MDB_txn *txn)
{
	struct store_keyring *k = NULL;
	struct store_dek *d, *old;
	struct store_wrap *w;
	uint8_t *raw = NULL;
	char *cause = NULL;
	bool found;
	MDB_val v;
	size_t i;
	int rc;

	if (s->keys == NULL)
		return STORE_OK;
	if ((rc = keyring_get(s, txn, &v, &found)) != STORE_OK || !found)
		return rc;
	if (v.mv_size == s->kr_len && memcmp(v.mv_data, s->kr_raw, v.mv_size) == 0)
		return STORE_OK;
	if ((k = keyring_new()) == NULL || (raw = malloc(v.mv_size)) == NULL) {
		rc = STORE_E_NOMEM;
		goto fail;
	}
	memcpy(raw, v.mv_data, v.mv_size);
	if (keyring_parse(raw, v.mv_size, k) != 0) {
		snprintf(s->err, sizeof(s->err), "the keyring another process wrote is corrupt");
		rc = STORE_E_CORRUPT;
		goto fail;
	}
	for (i = 0; i < k->ndeks; i++) {
		d = &k->deks[i];
		/*
		 * A cluster node (replica) adopts the keyring in etcd, whose data key 1 is not the one its own
		 * store made at open: there a key is kept only when its wraps are the very same bytes.
		 */
		if ((old = dek_find(s->keys, d->id)) != NULL && (!s->replica || (old->nwraps == d->nwraps &&
		    memcmp(old->wraps, d->wraps, d->nwraps * sizeof(d->wraps[0])) == 0))) {
			memcpy(d->key, old->key, STORE_KEY_BYTES);
		} else if (s->master == NULL || (w = wrap_find(d, s->master)) == NULL ||
		    store_kek_unwrap(s->master, d->id, w, d->key, &cause) != STORE_OK) {
			snprintf(s->err, sizeof(s->err), "another process added data key %u, which this process's "
			    "master key does not open%s%s (reload with the current master key)", (unsigned)d->id,
			    cause != NULL ? ": " : "", cause != NULL ? cause : "");
			rc = STORE_E_INVALID;
			goto fail;
		}
		if (dek_ready(d) != 0) {
			snprintf(s->err, sizeof(s->err), "cannot set up AES-256-GCM");
			rc = STORE_E_IO;
			goto fail;
		}
	}
	keys_use(s, k, raw, v.mv_size);
	return STORE_OK;
fail:
	free(cause);
	free(raw);
	store_keys_free(k);
	return rc;
}

/* Adds a new random data key, wrapped under master and for the recovery key, and makes it current. */
static int
dek_new(struct store_keyring *k, const struct store_kek *master, char **cause)
{
	struct store_dek *d;
	struct store_wrap w;
	uint32_t id = 0;
	size_t i;

	if (k->ndeks == STORE_DEKS_MAX) {
		store_set_cause(cause, "the keyring holds %d data keys: let the last rotation finish first",
		    STORE_DEKS_MAX);
		return STORE_E_FULL;
	}
	for (i = 0; i < k->ndeks; i++)
		if (k->deks[i].id > id)
			id = k->deks[i].id;
	d = &k->deks[k->ndeks];
	memset(d, 0, sizeof(*d));
	d->id = id + 1;
	if (RAND_bytes(d->key, STORE_KEY_BYTES) != 1) {
		store_set_cause(cause, "the random generator failed");
		goto fail;
	}
	if (store_kek_wrap(master, NULL, d->id, d->key, &w, cause) != 0 || wrap_add(d, &w, cause) != 0)
		goto fail;
	if (k->recovery && (store_kek_wrap(NULL, k->recovery_pub, d->id, d->key, &w, cause) != 0 ||
	    wrap_add(d, &w, cause) != 0))
		goto fail;
	if (dek_ready(d) != 0) {
		store_set_cause(cause, "cannot set up AES-256-GCM");
		goto fail;
	}
	k->ndeks++;
	k->current = d->id;
	return STORE_OK;
fail:
	EVP_CIPHER_CTX_free(d->enc);
	EVP_CIPHER_CTX_free(d->dec);
	OPENSSL_cleanse(d, sizeof(*d));
	return STORE_E_IO;
}

/*
 * Opens every data key of a keyring read from the store with the master key; with previous, re-wraps those
 * found under previous only (*rotated set). Errors name the keys the store knows.
 */
static int
keyring_unlock(struct store *s, struct store_keyring *k, const struct store_kek *master,
    const struct store_kek *previous, bool *rotated, char **cause)
{
	char known[512], hex[2 * STORE_KEK_ID_BYTES + 1];
	struct store_wrap *w, nw;
	struct store_dek *d;
	size_t i;
	int rc;

	*rotated = false;
	for (i = 0; i < k->ndeks; i++) {
		d = &k->deks[i];
		if ((w = wrap_find(d, master)) != NULL) {
			if ((rc = store_kek_unwrap(master, d->id, w, d->key, cause)) != STORE_OK)
				return rc;
		} else if (previous != NULL && (w = wrap_find(d, previous)) != NULL) {
			if ((rc = store_kek_unwrap(previous, d->id, w, d->key, cause)) != STORE_OK)
				return rc;
			if (store_kek_wrap(master, NULL, d->id, d->key, &nw, cause) != 0)
				return STORE_E_IO;
			/* The previous master key opens nothing afterwards; a recovery key keeps its wraps. */
			if (previous->kind != KEK_RECOVERY)
				wraps_drop(d, previous->kind, previous->id);
			if (wrap_add(d, &nw, cause) != 0)
				return STORE_E_FULL;
			*rotated = true;
		} else {
			wraps_describe(d, known, sizeof(known));
			store_kek_id_hex(master->id, hex);
			store_set_cause(cause, "%s: the %s (id %.12s) is not a key this store's data key %u is "
			    "wrapped under (it knows: %s)%s", s->path, master->name, hex, (unsigned)d->id, known,
			    previous != NULL ? ", nor is the previous key" : "; to change the master key, name the "
			    "old one as the previous master key");
			return STORE_E_INVALID;
		}
		if (dek_ready(d) != 0) {
			store_set_cause(cause, "cannot set up AES-256-GCM");
			return STORE_E_IO;
		}
	}
	return STORE_OK;
}

/* Counts the records (durable) of the store. */
static int
record_count(struct store *s, uint64_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	*n = 0;
	if ((rc = store_begin(s, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	if ((rc = mdb_stat(txn, s->dbi[DB_OBJ], &st)) == 0)
		*n = st.ms_entries;
	mdb_txn_abort(txn);
	return rc;
}

/*
 * Reads the keyring and opens it with the master key (and the previous one when rotating); makes one when
 * an encrypted store has none. The result replaces s->keys only when everything succeeded. Writable, the
 * keyring is read, changed and written in one write transaction: two processes opening (or reloading) at
 * once cannot both make a first keyring, nor one's rotation undo a data key the other added.
 */
static int
keys_load(struct store *s, bool encryption, const struct store_kek *master, const struct store_kek *previous,
    char **cause)
{
	struct store_keyring *k;
	struct store_txn t;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	MDB_stat ms;
	MDB_txn *txn;
	MDB_val v;
	bool found, rotated = false, write = false;
	int rc;

	if ((k = keyring_new()) == NULL) {
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	if ((rc = store_begin(s, NULL, s->read_only ? MDB_RDONLY : 0, &txn)) != 0) {
		store_set_cause(cause, "%s: cannot read the keyring: %s", s->path, mdb_strerror(rc));
		store_keys_free(k);
		return STORE_E_IO;
	}
	if ((rc = keyring_get(s, txn, &v, &found)) != STORE_OK) {
		store_set_cause(cause, "%s: cannot read the keyring: %s", s->path, s->err);
		goto fail;
	}
	if (found) {
		if ((raw = malloc(v.mv_size)) == NULL) {
			store_set_cause(cause, "out of memory");
			rc = STORE_E_NOMEM;
			goto fail;
		}
		memcpy(raw, v.mv_data, v.mv_size);
		rawlen = v.mv_size;
		if (keyring_parse(raw, rawlen, k) != 0) {
			store_set_cause(cause, "%s: the keyring is corrupt", s->path);
			rc = STORE_E_CORRUPT;
			goto fail;
		}
	}
	if (!found && (!encryption || s->read_only)) {
		/* Never encrypted: nothing to open (a read-only open reports it as such, kmipd -t and kmipctl). */
		mdb_txn_abort(txn);
		store_keys_free(k);
		keys_use(s, NULL, NULL, 0);
		return STORE_OK;
	}
	if (!encryption) {
		store_set_cause(cause, "%s: the store is encrypted: configure its master key (store.encryption = "
		    "false only serves stores that were never encrypted)", s->path);
		rc = STORE_E_INVALID;
		goto fail;
	}
	if (master == NULL) {
		store_set_cause(cause, "%s: store.encryption is on but no master key is configured (set "
		    "store.master_key_file, store.master_key_credential or store.pkcs11, or store.encryption = "
		    "false)", s->path);
		rc = STORE_E_INVALID;
		goto fail;
	}
	if (master->kind == KEK_RECOVERY) {
		store_set_cause(cause, "the recovery key can only be the previous key of a rotation");
		rc = STORE_E_INVALID;
		goto fail;
	}
	if (!found) {
		/* The first start with a master key: a data key, and the records in clear to migrate. */
		if ((rc = mdb_stat(txn, s->dbi[DB_OBJ], &ms)) != 0) {
			store_set_cause(cause, "%s: %s", s->path, mdb_strerror(rc));
			rc = STORE_E_IO;
			goto fail;
		}
		if ((rc = dek_new(k, master, cause)) != STORE_OK ||
		    (rc = keyring_put(s, txn, k, &raw, &rawlen, cause)) != STORE_OK)
			goto fail;
		store_txn_wrap(s, txn, true, &t);
		if (ms.ms_entries > 0 && (rc = store_meta_put(&t, "clear_pages", 1)) != STORE_OK) {
			store_set_cause(cause, "%s: cannot write the keyring: %s", s->path, s->err);
			goto fail;
		}
		write = true;
	} else {
		if ((rc = keyring_unlock(s, k, master, previous, &rotated, cause)) != STORE_OK)
			goto fail;
		/* Read-only (checks): the rotation is only verified; the next open for writing makes it. */
		if (rotated && !s->read_only) {
			free(raw);
			raw = NULL;
			if ((rc = keyring_put(s, txn, k, &raw, &rawlen, cause)) != STORE_OK)
				goto fail;
			write = true;
		}
	}
	if (!write) {
		mdb_txn_abort(txn);
	} else if ((rc = mdb_txn_commit(txn)) != 0) {
		store_set_cause(cause, "%s: cannot commit the keyring: %s", s->path, mdb_strerror(rc));
		free(raw);
		store_keys_free(k);
		return STORE_E_IO;
	}
	keys_use(s, k, raw, rawlen);
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	free(raw);
	store_keys_free(k);
	return rc;
}

/*
 * A change of the keyring in use: fn changes a copy of it, as it is now (another process may have changed
 * it: it is read again inside the write transaction, which no other writer can enter), and the copy is
 * written and put in use. fn returning an error leaves everything as it was and is returned.
 */
typedef int (*keys_change_fn)(struct store *s, MDB_txn *txn, struct store_keyring *k, void *arg, char **cause);

static int
keys_change(struct store *s, keys_change_fn fn, void *arg, char **cause)
{
	struct store_keyring *k = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	MDB_txn *txn;
	int rc;

	if (s->read_only) {
		store_set_cause(cause, "%s: opened read-only: the keyring cannot be written", s->path);
		return STORE_E_READONLY;
	}
	if (s->keys == NULL) {
		store_set_cause(cause, "%s: the store is not encrypted", s->path);
		return STORE_E_INVALID;
	}
	if ((rc = store_begin(s, NULL, 0, &txn)) != 0) {
		store_set_cause(cause, "%s: cannot begin a transaction: %s", s->path, mdb_strerror(rc));
		return STORE_E_IO;
	}
	if ((rc = store_keys_refresh(s, txn)) != STORE_OK) {
		store_set_cause(cause, "%s: %s", s->path, s->err);
		goto fail;
	}
	if ((rc = keys_clone(s, &k, cause)) != STORE_OK || (rc = fn(s, txn, k, arg, cause)) != STORE_OK ||
	    (rc = keyring_put(s, txn, k, &raw, &len, cause)) != STORE_OK)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		store_set_cause(cause, "%s: cannot commit the keyring: %s", s->path, mdb_strerror(rc));
		free(raw);
		store_keys_free(k);
		return STORE_E_IO;
	}
	keys_use(s, k, raw, len);
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	store_keys_free(k);
	return rc;
}

/* Called by store_open: see store.h for the options. */
int
store_keys_open(struct store *s, const struct store_options *o, char **cause)
{
	s->encryption = o->encryption;
	s->master = o->master;
	return keys_load(s, o->encryption, o->master, o->previous, cause);
}

/* Reads the keyring again (rotations by kmipctl, a new master key): see store.h. */
int
store_keys_reload(struct store *s, const struct store_kek *master, const struct store_kek *previous,
    char **cause)
{
	int rc;

	if (s->open) {
		store_set_cause(cause, "a transaction is open");
		return STORE_E_BUSY;
	}
	if ((rc = keys_load(s, s->encryption, master, previous, cause)) == STORE_OK)
		s->master = master;
	return rc;
}

bool
store_sealing(const struct store *s)
{
	return s->keys != NULL;
}

/* 'K' 'S', version, 0, then data key id, object type, format, algorithm, uid and owner lengths (32 bits each). */
#define AAD_FIXED	28
#define AAD_INLINE	512	/* a uid and all but the longest owners fit: one GCM update */

/*
 * Feeds the associated data of a record to GCM: the fixed part, the uid, the owner. GCM authenticates the
 * concatenation of the updates, so one update or three bind the same bytes. One is the common case because
 * OpenSSL 3.0 spends about 350 instructions on each update call whatever its length, and every Get from an
 * encrypted store unseals (test/bench/README.md, "Keys at rest").
 */
static int
aad_feed(EVP_CIPHER_CTX *c, const struct store_aad *a)
{
	uint8_t buf[AAD_INLINE];
	size_t len = AAD_FIXED;
	int n;

	buf[0] = 'K';
	buf[1] = 'S';
	buf[2] = STORE_REC_VERSION;
	buf[3] = 0;
	ttlv_put32(buf + 4, a->dek_id);
	ttlv_put32(buf + 8, a->object_type);
	ttlv_put32(buf + 12, a->format);
	ttlv_put32(buf + 16, a->algorithm);
	ttlv_put32(buf + 20, (uint32_t)a->uid_len);
	ttlv_put32(buf + 24, (uint32_t)a->owner_len);
	if (a->uid_len <= sizeof(buf) - AAD_FIXED && a->owner_len <= sizeof(buf) - AAD_FIXED - a->uid_len) {
		memcpy(buf + len, a->uid, a->uid_len);
		len += a->uid_len;
		if (a->owner_len > 0)
			memcpy(buf + len, a->owner, a->owner_len);
		len += a->owner_len;
		return EVP_CipherUpdate(c, NULL, &n, buf, (int)len) == 1 ? 0 : -1;
	}
	/* A long owner (up to STORE_OWNER_MAX): the same bytes in three updates. */
	if (EVP_CipherUpdate(c, NULL, &n, buf, AAD_FIXED) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)a->uid, (int)a->uid_len) != 1 ||
	    (a->owner_len > 0 && EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)a->owner, (int)a->owner_len) != 1))
		return -1;
	return 0;
}

/* Seals material under the current data key: see store_int.h. */
int
store_seal(struct store *s, struct store_aad *a, const uint8_t *in, size_t len, uint8_t *out)
{
	struct store_dek *d;
	EVP_CIPHER_CTX *c;
	int n, m;

	if (s->keys == NULL || (d = dek_find(s->keys, s->keys->current)) == NULL || len > INT32_MAX)
		return STORE_E_INVALID;
	c = d->enc;
	a->dek_id = d->id;
	if (RAND_bytes(out, STORE_IV_BYTES) != 1) {
		snprintf(s->err, sizeof(s->err), "the random generator failed");
		return STORE_E_IO;
	}
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, out) != 1 || aad_feed(c, a) != 0 ||
	    EVP_EncryptUpdate(c, out + STORE_IV_BYTES, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, out + STORE_IV_BYTES + n, &m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, STORE_TAG_BYTES, out + STORE_IV_BYTES + len) != 1) {
		OPENSSL_cleanse(out, len + STORE_IV_BYTES);
		snprintf(s->err, sizeof(s->err), "AES-256-GCM sealing failed");
		return STORE_E_IO;
	}
	return STORE_OK;
}

/*
 * A record names a data key this process has not loaded: another process added it (a rotation) and
 * sealed the record under it. Reads the keyring again, in the open transaction's snapshot (which holds
 * the record, so its keyring holds the key), else in a fresh one; true when it did.
 */
static bool
keys_catch_up(struct store *s)
{
	MDB_txn *txn;
	int rc;

	/* On failure the caller's own message (the key is missing) says enough. */
	if (s->open && s->rtxn != NULL)
		return store_keys_refresh(s, s->rtxn) == STORE_OK;
	if (store_begin(s, NULL, MDB_RDONLY, &txn) != 0)
		return false;
	rc = store_keys_refresh(s, txn);
	mdb_txn_abort(txn);
	return rc == STORE_OK;
}

/* Opens sealed material: see store_int.h. */
int
store_unseal(struct store *s, const struct store_aad *a, const uint8_t *in, size_t len, uint8_t *out)
{
	const uint8_t *iv = in, *ct = in + STORE_IV_BYTES;
	size_t ctlen;
	struct store_dek *d;
	EVP_CIPHER_CTX *c;
	int n, m;

	if (len < STORE_IV_BYTES + STORE_TAG_BYTES || len > INT32_MAX)
		return STORE_E_CORRUPT;
	ctlen = len - STORE_IV_BYTES - STORE_TAG_BYTES;
	if (s->keys == NULL || ((d = dek_find(s->keys, a->dek_id)) == NULL &&
	    (!keys_catch_up(s) || (d = dek_find(s->keys, a->dek_id)) == NULL))) {
		snprintf(s->err, sizeof(s->err), "record %.*s is sealed under data key %u, which the keyring "
		    "does not hold", (int)a->uid_len, a->uid, (unsigned)a->dek_id);
		return STORE_E_CORRUPT;
	}
	c = d->dec;
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1 || aad_feed(c, a) != 0 ||
	    EVP_DecryptUpdate(c, out, &n, ct, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, STORE_TAG_BYTES, (void *)(ct + ctlen)) != 1 ||
	    EVP_DecryptFinal_ex(c, out + n, &m) != 1) {
		OPENSSL_cleanse(out, ctlen);
		snprintf(s->err, sizeof(s->err), "record %.*s: its sealed part does not verify (altered, or "
		    "moved from another object)", (int)a->uid_len, a->uid);
		return STORE_E_CORRUPT;
	}
	return STORE_OK;
}

/* keys_change: a new data key, current from now on. */
static int
data_key_add(struct store *s, MDB_txn *txn, struct store_keyring *k, void *arg, char **cause)
{
	(void)txn;
	(void)arg;
	return dek_new(k, s->master, cause);
}

/* Adds a data key and makes it current: see store.h. */
int
store_data_key_new(struct store *s, char **cause)
{
	int rc;

	if ((rc = keys_change(s, data_key_add, NULL, cause)) != STORE_OK)
		return rc;
	s->reseal.pos[0] = '\0';
	s->reseal.pass_found = 0;
	s->reseal.pass_from_start = true;
	s->reseal.target = 0;	/* the next batch starts a pass under the new key */
	return STORE_OK;
}

/* Copies a keyring with its data keys open into dst (fresh from keyring_new). */
static int
keys_copy(const struct store_keyring *src, struct store_keyring *dst, char **cause)
{
	size_t i;

	dst->current = src->current;
	dst->recovery = src->recovery;
	memcpy(dst->recovery_pub, src->recovery_pub, STORE_KEY_BYTES);
	for (i = 0; i < src->ndeks; i++) {
		struct store_dek *d = &dst->deks[i];

		d->id = src->deks[i].id;
		memcpy(d->key, src->deks[i].key, STORE_KEY_BYTES);
		memcpy(d->wraps, src->deks[i].wraps, sizeof(d->wraps));
		d->nwraps = src->deks[i].nwraps;
		dst->ndeks = i + 1;
		if (dek_ready(d) != 0) {
			store_set_cause(cause, "cannot set up AES-256-GCM");
			return STORE_E_IO;
		}
	}
	return STORE_OK;
}

/*
 * A copy of the keyring in use to change (*out), so that a failure leaves the one in use as it was; the
 * store must be encrypted.
 */
static int
keys_clone(struct store *s, struct store_keyring **out, char **cause)
{
	int rc;

	*out = NULL;
	if (s->keys == NULL) {
		store_set_cause(cause, "%s: the store is not encrypted", s->path);
		return STORE_E_INVALID;
	}
	if ((*out = keyring_new()) == NULL) {
		store_set_cause(cause, "out of memory");
		return STORE_E_NOMEM;
	}
	if ((rc = keys_copy(s->keys, *out, cause)) != STORE_OK) {
		store_keys_free(*out);
		*out = NULL;
	}
	return rc;
}

/* The text of a new recovery key (keys_change's argument). */
struct recovery_text {
	char *text;
	size_t size;
};

/* keys_change: a new recovery key, every data key wrapped for it, the old one's wraps dropped. */
static int
recovery_add(struct store *s, MDB_txn *txn, struct store_keyring *k, void *arg, char **cause)
{
	struct recovery_text *rt = arg;
	struct store_wrap w;
	size_t i;

	(void)s;
	(void)txn;
	if (store_recovery_new(rt->text, rt->size, k->recovery_pub, w.kek_id) != 0) {
		store_set_cause(cause, "cannot make a recovery key");
		return STORE_E_IO;
	}
	k->recovery = true;
	for (i = 0; i < k->ndeks; i++) {
		/* A new recovery key replaces the old one: the old one opens nothing afterwards. */
		wraps_drop(&k->deks[i], KEK_RECOVERY, NULL);
		if (store_kek_wrap(NULL, k->recovery_pub, k->deks[i].id, k->deks[i].key, &w, cause) != 0 ||
		    wrap_add(&k->deks[i], &w, cause) != 0)
			return STORE_E_IO;
	}
	return STORE_OK;
}

/* Makes a recovery key: see store.h. */
int
store_recovery_key_new(struct store *s, char *text, size_t size, char **cause)
{
	struct recovery_text rt = { text, size };
	int rc;

	if ((rc = keys_change(s, recovery_add, &rt, cause)) != STORE_OK)
		OPENSSL_cleanse(text, size);
	return rc;
}

/*
 * keys_change: drops every data key but the current one, unless the pass that found none left is out of
 * date as the write transaction sees it (STORE_E_CONFLICT): another rotation made a newer key current, or
 * another process committed records under an older key since the pass began (the "stale_seals" counter
 * of the group commit moved).
 */
static int
retire_old(struct store *s, MDB_txn *txn, struct store_keyring *k, void *arg, char **cause)
{
	const struct store_reseal *rs = arg;
	struct store_dek *cur;
	struct store_txn t;
	uint64_t gen;
	int rc;

	(void)cause;
	store_txn_wrap(s, txn, false, &t);
	if ((rc = store_meta_get(&t, "stale_seals", &gen)) != STORE_OK)
		return rc;
	if (k->current != rs->target || gen != rs->stale_gen)
		return STORE_E_CONFLICT;
	cur = dek_find(k, k->current);
	if (cur != &k->deks[0]) {
		EVP_CIPHER_CTX_free(k->deks[0].enc);
		EVP_CIPHER_CTX_free(k->deks[0].dec);
		k->deks[0] = *cur;
		cur->enc = cur->dec = NULL;
	}
	while (k->ndeks > 1) {
		struct store_dek *d = &k->deks[--k->ndeks];

		EVP_CIPHER_CTX_free(d->enc);
		EVP_CIPHER_CTX_free(d->dec);
		OPENSSL_cleanse(d, sizeof(*d));
	}
	return STORE_OK;
}

/*
 * Drops every data key but the current one, once a whole pass found no record needing them; *retired
 * false when the pass turned out to be out of date (it starts again).
 */
static int
keys_retire(struct store *s, bool *retired, char **cause)
{
	int rc;

	*retired = false;
	if (s->keys->ndeks <= 1) {
		*retired = true;
		return STORE_OK;
	}
	rc = keys_change(s, retire_old, &s->reseal, cause);
	if (rc == STORE_E_CONFLICT) {
		s->reseal.pos[0] = '\0';	/* a new pass, under the key current now */
		s->reseal.target = 0;
		return STORE_OK;
	}
	*retired = rc == STORE_OK;
	return rc;
}

/* Whether a record must be written again: still version 1, or material not under the current data key. */
static bool
needs_reseal(const struct store *s, const struct store_rec *r)
{
	if (r->version < STORE_REC_VERSION)
		return true;
	return r->material_len > 0 && (!r->sealed || r->dek_id != s->keys->current);
}

/* Re-encrypts one batch: see store.h. */
int
store_reseal(struct store *s, size_t max, struct store_reseal_progress *p, char **cause)
{
	struct store_reseal *rs = &s->reseal;
	struct store_object *o = NULL;
	struct store_txn *t;
	struct store_rec r;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char uid[STORE_UID_MAX + 1];
	size_t budget = max * 16;
	uint64_t owner;
	uint32_t item;
	int rc, mrc;

	memset(p, 0, sizeof(*p));
	if (s->keys == NULL) {
		p->done = true;
		return STORE_OK;
	}
	/* Its writes are nobody's request: a conflict at the group commit must not fail one. */
	owner = s->owner;
	item = s->owner_item;
	store_set_owner(s, 0, 0);
	rc = store_txn_begin(s, true, &t);
	store_set_owner(s, owner, item);
	if (rc != STORE_OK) {
		store_set_cause(cause, "%s", store_strerror(rc));
		return rc;
	}
	if ((mrc = mdb_cursor_open(t->txn, s->dbi[DB_OBJ], &cur)) != 0) {
		rc = store_fail(s, mrc, "reseal");
		goto fail;
	}
	/*
	 * Another process may have made a newer data key current (this transaction read the keyring again):
	 * what the pass found so far was judged against the older one, so it starts over.
	 */
	if (rs->target != s->keys->current)
		rs->pos[0] = '\0';
	if (rs->pos[0] == '\0') {
		rs->pass_from_start = true;
		rs->pass_found = 0;
		rs->target = s->keys->current;
		/* Records sealed under an older key committed after this snapshot move this counter. */
		if ((rc = store_meta_get(t, "stale_seals", &rs->stale_gen)) != STORE_OK)
			goto fail;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	} else {
		k.mv_data = rs->pos;
		k.mv_size = strlen(rs->pos);
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (mrc == 0 && k.mv_size == strlen(rs->pos) && memcmp(k.mv_data, rs->pos, k.mv_size) == 0)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	for (; mrc == 0 && p->resealed < max && p->scanned < budget; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		p->scanned++;
		if (k.mv_size == 0 || k.mv_size > STORE_UID_MAX)
			continue;
		memcpy(uid, k.mv_data, k.mv_size);
		uid[k.mv_size] = '\0';
		memcpy(rs->pos, uid, k.mv_size + 1);
		if (store_rec_parse(v.mv_data, v.mv_size, &r) != STORE_OK) {
			store_set_cause(cause, "record %s is corrupt", uid);
			rc = STORE_E_CORRUPT;
			goto fail;
		}
		if (!needs_reseal(s, &r))
			continue;
		rs->pass_found++;
		if (store_staged_get(s, uid, k.mv_size) != NULL)
			continue;	/* written again in this group: sealed under the current key already */
		if ((rc = store_get(t, uid, &o)) != STORE_OK || (rc = store_put(t, o)) != STORE_OK) {
			store_set_cause(cause, "record %s: %s (%s)", uid, store_strerror(rc), s->err);
			goto fail;
		}
		store_object_free(o);
		o = NULL;
		p->resealed++;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND) {
		rc = store_fail(s, mrc, "reseal");
		store_set_cause(cause, "%s", s->err);
		goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if ((rc = store_txn_commit(t)) != STORE_OK) {
		store_set_cause(cause, "%s (%s)", store_strerror(rc), s->err);
		return rc;
	}
	if (mrc == MDB_NOTFOUND) {
		/* The end of a pass: done when a whole pass found nothing left to do. */
		if (rs->pass_from_start && rs->pass_found == 0 && !store_group_pending(s))
			return keys_retire(s, &p->done, cause);
		rs->pos[0] = '\0';
		rs->target = 0;
	}
	return STORE_OK;
fail:
	store_object_free(o);
	if (cur != NULL)
		mdb_cursor_close(cur);
	store_txn_abort(t);
	return rc;
}

/* Notes that no freed page holds material in clear any more (after a compacting copy). */
int
store_clear_pages_done(struct store *s, char **cause)
{
	struct store_txn t;
	MDB_txn *txn;
	int rc;

	if (s->read_only) {
		store_set_cause(cause, "%s: opened read-only", s->path);
		return STORE_E_READONLY;
	}
	if ((rc = store_begin(s, NULL, 0, &txn)) != 0) {
		store_set_cause(cause, "%s: cannot begin a transaction: %s", s->path, mdb_strerror(rc));
		return STORE_E_IO;
	}
	store_txn_wrap(s, txn, true, &t);
	if ((rc = store_meta_put(&t, "clear_pages", 0)) != STORE_OK) {
		mdb_txn_abort(txn);
		store_set_cause(cause, "%s: %s", s->path, s->err);
		return rc;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		store_set_cause(cause, "%s: cannot commit: %s", s->path, mdb_strerror(rc));
		return STORE_E_IO;
	}
	return STORE_OK;
}

/* Reports the store's keys: see store.h. */
int
store_key_status(struct store *s, struct store_key_status *st)
{
	MDB_txn *txn;
	struct store_txn t;
	uint64_t flag = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = store_begin(s, NULL, MDB_RDONLY, &txn)) != 0)
		return store_fail(s, rc, "key status");
	/* As the store has it now: another process may have changed the keyring. */
	if (s->keys != NULL && store_keys_refresh(s, txn) != STORE_OK)
		s->keys_stale = true;
	st->keyring_unopened = s->keys_stale;
	if (s->keys != NULL) {
		st->encrypted = true;
		st->current_data_key = s->keys->current;
		st->data_keys = (unsigned)s->keys->ndeks;
		st->recovery = s->keys->recovery;
	}
	store_txn_wrap(s, txn, false, &t);
	rc = store_meta_get(&t, "clear_pages", &flag);
	mdb_txn_abort(txn);
	st->clear_pages = flag != 0;
	return rc;
}

/* Encrypts what is in clear and re-encrypts under the current data key, to the end: see store.h. */
int
store_migrate(struct store **sp, const struct store_options *o, store_progress_fn progress, void *arg,
    char **cause)
{
	struct store_reseal_progress p;
	struct store_key_status ks;
	uint64_t done = 0, total = 0;
	int rc;

	if ((rc = store_key_status(*sp, &ks)) != STORE_OK) {
		store_set_cause(cause, "%s", (*sp)->err);
		return rc;
	}
	if (!ks.encrypted)
		return STORE_OK;
	(void)record_count(*sp, &total);
	do {
		if ((rc = store_reseal(*sp, 1024, &p, cause)) != STORE_OK)
			return rc;
		if ((rc = store_group_commit(*sp, NULL, NULL)) != STORE_OK) {
			store_set_cause(cause, "commit: %s (%s)", store_strerror(rc), (*sp)->err);
			return rc;
		}
		done += p.scanned;
		if (progress != NULL)
			progress(arg, done > total ? total : done, total);
	} while (!p.done);
	if (!ks.clear_pages)
		return STORE_OK;
	return store_compact(sp, o, cause);
}
