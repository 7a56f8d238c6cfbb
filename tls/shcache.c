/*
 * tls: the state every process serving the same listeners shares (see tls.h, "Shared TLS state"): the
 * session-id cache and the ticket keys, in one anonymous MAP_SHARED mapping made before the fork.
 *
 * Layout: a header (the mutex, the counters, the ticket keys), then the index (one struct shc_slot of
 * TLS_SHCACHE_SLOT_OVERHEAD bytes per slot), then the DER area (session_max_size bytes per slot). The
 * mapping is MAP_NORESERVE: a slot's DER page is only touched once a session is stored there, and the
 * wipe at free skips the slots never used.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

#define SHC_NONE		UINT32_MAX	/* no set (or no key change) under way */
#define SHC_NAME_BYTES		16
#define SHC_HMAC_BYTES		32
#define SHC_AES_BYTES		32
#define SHC_B64_LEN		108		/* base64 of TLS_TICKET_KEY_BYTES, one '=' of padding */
#define SHC_PAGE		4096

/* One ticket key. created and retired are seconds since the epoch; retired 0: it still encrypts. */
struct shc_key {
	unsigned char	 name[SHC_NAME_BYTES];
	unsigned char	 hmac[SHC_HMAC_BYTES];
	unsigned char	 aes[SHC_AES_BYTES];
	int64_t		 created;
	int64_t		 retired;
};

struct tls_ticket_file {
	unsigned	 n;
	struct shc_key	 keys[TLS_TICKET_KEYS_MAX];
};

/* An index entry. expires 0: free. serial: which session this is, unique for the mapping's life. */
struct shc_slot {
	int64_t		 expires;
	uint64_t	 serial;
	uint32_t	 derlen;
	uint8_t		 idlen;
	uint8_t		 id[SSL_MAX_SSL_SESSION_ID_LENGTH];
} __attribute__((aligned(TLS_SHCACHE_SLOT_OVERHEAD)));

_Static_assert(sizeof(struct shc_slot) == TLS_SHCACHE_SLOT_OVERHEAD, "index entry size");

struct shc_header {
	pthread_mutex_t	 mutex;
	uint64_t	 seed;		/* keys the set hash: a client cannot aim lookups at one set */
	uint32_t	 nsets;
	uint32_t	 busy_set;	/* the set being changed under the lock, or SHC_NONE */
	uint32_t	 keys_busy;	/* the ticket keys are being changed under the lock */
	uint32_t	 nkeys;
	uint32_t	 key_file;	/* keys[] came from tls.ticket_key_file: never rotated here */
	int64_t		 timeout;	/* tls.session_timeout, for how long a retired key still decrypts */
	int64_t		 rotation;	/* tls.ticket_key_rotation */
	unsigned long	 used;
	uint64_t	 serial;	/* of the last session stored */
	unsigned long long stored, hits, misses, expired, evictions, too_large, removed, recovered, rotations;
	struct shc_key	 keys[TLS_TICKET_KEYS_MAX];	/* [0] encrypts */
};

/*
 * A session this process decoded (or stored) from slot i, kept while slot i still holds that serial:
 * decoding a session's DER means decoding the client certificate in it, which costs more than the rest of
 * a resumed handshake, so each process decodes a session once, as OpenSSL's own cache never had to.
 */
struct shc_local {
	SSL_SESSION	*sess;
	uint64_t	 serial;
};

/* The process's handle on the mapping (private memory: each process has its own copy after fork). */
struct tls_shared {
	struct shc_local *local;	/* nslots entries */
	struct shc_header *h;
	struct shc_slot	*slots;
	unsigned char	*data;
	size_t		 mapped;
	size_t		 nslots;
	size_t		 max_der;
	pid_t		 creator;
	unsigned char	*buf;		/* max_der bytes: a session's DER outside the lock, wiped after use */
	struct tls_ticket_file filekeys;	/* the last file keys this process installed (recovery) */
};

static int shc_ex_index = -1;	/* SSL_CTX ex data slot holding the struct tls_shared */

/* Rounds n up to whole pages. */
static size_t
page_round(size_t n)
{
	return (n + SHC_PAGE - 1) / SHC_PAGE * SHC_PAGE;
}

/* The set a session id belongs to: FNV-1a keyed by the mapping's random seed, then mixed. */
static uint32_t
shc_set(const struct tls_shared *sh, const unsigned char *id, size_t idlen)
{
	uint64_t x = 0xcbf29ce484222325ULL ^ sh->h->seed;
	size_t i;

	for (i = 0; i < idlen; i++) {
		x ^= id[i];
		x *= 0x100000001b3ULL;
	}
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)(x % sh->h->nsets);
}

/* Frees a slot, wiping its DER. The caller holds the lock. */
static void
shc_wipe_slot(struct tls_shared *sh, size_t i)
{
	struct shc_slot *s = &sh->slots[i];

	if (sh->local[i].sess != NULL) {
		SSL_SESSION_free(sh->local[i].sess);
		sh->local[i].sess = NULL;
	}
	if (s->expires == 0)
		return;
	OPENSSL_cleanse(sh->data + i * sh->max_der, s->derlen);
	OPENSSL_cleanse(s, sizeof(*s));
	sh->h->used--;
}

/* A fresh random key that encrypts from now. Returns 0, or -1 when the random generator failed. */
static int
shc_random_key(struct shc_key *k, time_t now)
{
	if (RAND_priv_bytes((unsigned char *)k, SHC_NAME_BYTES + SHC_HMAC_BYTES + SHC_AES_BYTES) != 1) {
		OPENSSL_cleanse(k, sizeof(*k));
		return -1;
	}
	k->created = now;
	k->retired = 0;
	return 0;
}

/*
 * Called with the lock just taken from a process that died holding it: the set or the keys it was
 * changing may be half written, so they are dropped (random keys are made anew, file keys put back from
 * this process's copy).
 */
static void
shc_recover(struct tls_shared *sh)
{
	struct shc_header *h = sh->h;
	size_t i, first;
	unsigned long used = 0;

	h->recovered++;
	if (h->busy_set != SHC_NONE && h->busy_set < h->nsets) {
		first = (size_t)h->busy_set * TLS_SHCACHE_WAYS;
		for (i = first; i < first + TLS_SHCACHE_WAYS; i++) {
			/* A slot not marked used yet may hold part of a session's DER: wiped too. */
			if (sh->slots[i].expires != 0)
				shc_wipe_slot(sh, i);
			else
				OPENSSL_cleanse(sh->data + i * sh->max_der, sh->max_der);
		}
	}
	h->busy_set = SHC_NONE;
	/* The dead writer may have stopped between a slot's fields and the count: count again. */
	for (i = 0; i < sh->nslots; i++)
		if (sh->slots[i].expires != 0)
			used++;
	h->used = used;
	if (h->keys_busy) {
		OPENSSL_cleanse(h->keys, sizeof(h->keys));
		h->nkeys = 0;
		if (h->key_file && sh->filekeys.n > 0) {
			memcpy(h->keys, sh->filekeys.keys, sh->filekeys.n * sizeof(h->keys[0]));
			h->nkeys = sh->filekeys.n;
		} else if (shc_random_key(&h->keys[0], time(NULL)) == 0) {
			h->key_file = 0;
			h->nkeys = 1;
		}
		h->keys_busy = 0;
	}
}

int
tls_shared_lock(struct tls_shared *sh)
{
	int rc;

	rc = pthread_mutex_lock(&sh->h->mutex);
	if (rc == EOWNERDEAD) {
		shc_recover(sh);
		if (pthread_mutex_consistent(&sh->h->mutex) != 0) {
			(void)pthread_mutex_unlock(&sh->h->mutex);
			return -1;
		}
		return 0;
	}
	return rc == 0 ? 0 : -1;
}

void
tls_shared_unlock(struct tls_shared *sh)
{
	(void)pthread_mutex_unlock(&sh->h->mutex);
}

int
tls_shared_new(const struct tls_config *cfg, struct tls_shared **out, char **cause)
{
	pthread_mutexattr_t attr;
	struct tls_shared *sh;
	size_t nsets, hdr, index;
	uint64_t total;
	void *p;
	int rc;

	*out = NULL;
	if (cfg->session_cache_size < 0 || cfg->session_cache_size > TLS_MAX_SESSION_CACHE_SIZE ||
	    cfg->session_max_size < TLS_MIN_SESSION_MAX_SIZE || cfg->session_max_size > TLS_MAX_SESSION_MAX_SIZE) {
		tls_cause(cause, "session_cache_size %ld or session_max_size %ld out of range",
		    cfg->session_cache_size, cfg->session_max_size);
		return -1;
	}
	nsets = ((size_t)cfg->session_cache_size + TLS_SHCACHE_WAYS - 1) / TLS_SHCACHE_WAYS;
	hdr = page_round(sizeof(struct shc_header));
	index = page_round(nsets * TLS_SHCACHE_WAYS * sizeof(struct shc_slot));
	/* Both factors are bounded above (10^7 slots, 64 KiB): no overflow in 64 bits. */
	total = (uint64_t)hdr + index + (uint64_t)nsets * TLS_SHCACHE_WAYS * (uint64_t)cfg->session_max_size;
	if (total > TLS_SHCACHE_MAX_MAPPED) {
		tls_cause(cause, "session_cache_size %ld x session_max_size %ld: %llu bytes to map, more than %llu",
		    cfg->session_cache_size, cfg->session_max_size, (unsigned long long)total,
		    (unsigned long long)TLS_SHCACHE_MAX_MAPPED);
		return -1;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL ||
	    (sh->buf = malloc((size_t)cfg->session_max_size)) == NULL ||
	    (sh->local = calloc(nsets * TLS_SHCACHE_WAYS + 1, sizeof(*sh->local))) == NULL) {
		if (sh != NULL)
			free(sh->buf);
		free(sh);
		tls_cause(cause, "out of memory");
		return -1;
	}
	if (shc_ex_index == -1 &&
	    (shc_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL)) == -1) {
		tls_cause_ssl(cause, "cannot reserve SSL_CTX data");
		goto fail;
	}
	p = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		tls_cause(cause, "shared session cache (%llu bytes): %s", (unsigned long long)total, strerror(errno));
		goto fail;
	}
	sh->mapped = (size_t)total;
	/* Session master secrets and ticket keys: never in a core dump. */
	(void)madvise(p, sh->mapped, MADV_DONTDUMP);
	sh->h = p;
	sh->slots = (struct shc_slot *)((unsigned char *)p + hdr);
	sh->data = (unsigned char *)p + hdr + index;
	sh->nslots = nsets * TLS_SHCACHE_WAYS;
	sh->max_der = (size_t)cfg->session_max_size;
	sh->creator = getpid();

	if ((rc = pthread_mutexattr_init(&attr)) != 0) {
		tls_cause(cause, "shared session cache mutex: %s", strerror(rc));
		goto fail;
	}
	if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0 ||
	    (rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (rc = pthread_mutex_init(&sh->h->mutex, &attr)) != 0) {
		pthread_mutexattr_destroy(&attr);
		tls_cause(cause, "shared session cache mutex: %s", strerror(rc));
		goto fail;
	}
	pthread_mutexattr_destroy(&attr);
	sh->h->nsets = (uint32_t)nsets;
	sh->h->busy_set = SHC_NONE;
	sh->h->timeout = cfg->session_timeout;
	sh->h->rotation = cfg->ticket_key_rotation;
	if (RAND_bytes((unsigned char *)&sh->h->seed, sizeof(sh->h->seed)) != 1 ||
	    shc_random_key(&sh->h->keys[0], time(NULL)) != 0) {
		tls_cause_ssl(cause, "random ticket key");
		goto fail;
	}
	sh->h->nkeys = 1;
	*out = sh;
	return 0;
fail:
	tls_shared_free(sh);
	return -1;
}

void
tls_shared_free(struct tls_shared *sh)
{
	size_t i;

	if (sh == NULL)
		return;
	if (sh->h != NULL) {
		if (sh->creator == getpid()) {
			for (i = 0; i < sh->nslots; i++)
				if (sh->slots[i].expires != 0)
					OPENSSL_cleanse(sh->data + i * sh->max_der, sh->slots[i].derlen);
			OPENSSL_cleanse(sh->slots, sh->nslots * sizeof(*sh->slots));
			OPENSSL_cleanse(sh->h->keys, sizeof(sh->h->keys));
		}
		(void)munmap(sh->h, sh->mapped);
	}
	if (sh->buf != NULL) {
		OPENSSL_cleanse(sh->buf, sh->max_der);
		free(sh->buf);
	}
	if (sh->local != NULL)
		for (i = 0; i < sh->nslots; i++)
			SSL_SESSION_free(sh->local[i].sess);
	free(sh->local);
	OPENSSL_cleanse(&sh->filekeys, sizeof(sh->filekeys));
	free(sh);
}

void
tls_shared_stats(struct tls_shared *sh, struct tls_shared_stats *st)
{
	struct shc_header *h = sh->h;

	memset(st, 0, sizeof(*st));
	st->slots = sh->nslots;
	st->mapped = sh->mapped;
	if (tls_shared_lock(sh) != 0)
		return;
	st->stored = h->stored;
	st->hits = h->hits;
	st->misses = h->misses;
	st->expired = h->expired;
	st->evictions = h->evictions;
	st->too_large = h->too_large;
	st->removed = h->removed;
	st->recovered = h->recovered;
	st->rotations = h->rotations;
	st->cached = h->used;
	st->ticket_keys = h->nkeys;
	st->ticket_file = h->key_file != 0;
	tls_shared_unlock(sh);
}

/* The slot of id in its set, or -1. The caller holds the lock. */
static ssize_t
shc_find(struct tls_shared *sh, uint32_t set, const unsigned char *id, size_t idlen)
{
	size_t i, first = (size_t)set * TLS_SHCACHE_WAYS;

	for (i = first; i < first + TLS_SHCACHE_WAYS; i++)
		if (sh->slots[i].expires != 0 && sh->slots[i].idlen == idlen && memcmp(sh->slots[i].id, id, idlen) == 0)
			return (ssize_t)i;
	return -1;
}

/* Keeps sess (a new reference) as the decoded session of slot i, serial serial. */
static void
shc_local_set(struct tls_shared *sh, size_t i, SSL_SESSION *sess, uint64_t serial)
{
	SSL_SESSION_free(sh->local[i].sess);
	sh->local[i].sess = NULL;
	if (SSL_SESSION_up_ref(sess)) {
		sh->local[i].sess = sess;
		sh->local[i].serial = serial;
	}
}

int
tls_shared_put(struct tls_shared *sh, SSL_SESSION *sess)
{
	const unsigned char *id;
	unsigned char *p;
	unsigned int idlen;
	struct shc_slot *s;
	size_t i, first, victim;
	uint32_t set;
	int64_t now, expires;
	ssize_t found;
	int len;

	id = SSL_SESSION_get_id(sess, &idlen);
	if (sh->nslots == 0 || idlen == 0 || idlen > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return -1;
	now = time(NULL);
	expires = (int64_t)SSL_SESSION_get_time(sess) + (int64_t)SSL_SESSION_get_timeout(sess);
	if (expires <= now)
		return -1;	/* nothing to resume */
	if ((len = i2d_SSL_SESSION(sess, NULL)) <= 0)
		return -1;
	if ((size_t)len > sh->max_der) {
		if (tls_shared_lock(sh) == 0) {
			sh->h->too_large++;
			tls_shared_unlock(sh);
		}
		return -1;
	}
	p = sh->buf;
	if (i2d_SSL_SESSION(sess, &p) != len) {
		OPENSSL_cleanse(sh->buf, sh->max_der);
		return -1;
	}
	set = shc_set(sh, id, idlen);
	first = (size_t)set * TLS_SHCACHE_WAYS;
	if (tls_shared_lock(sh) != 0) {
		OPENSSL_cleanse(sh->buf, (size_t)len);
		return -1;
	}
	sh->h->busy_set = set;
	if ((found = shc_find(sh, set, id, idlen)) >= 0)
		victim = (size_t)found;
	else {
		/* A free slot, else one that has expired, else the one that expires first. */
		victim = first;
		for (i = first; i < first + TLS_SHCACHE_WAYS; i++) {
			if (sh->slots[i].expires == 0 || sh->slots[i].expires <= now) {
				victim = i;
				break;
			}
			if (sh->slots[i].expires < sh->slots[victim].expires)
				victim = i;
		}
		if (sh->slots[victim].expires > now)
			sh->h->evictions++;
	}
	shc_wipe_slot(sh, victim);
	s = &sh->slots[victim];
	memcpy(sh->data + victim * sh->max_der, sh->buf, (size_t)len);
	memcpy(s->id, id, idlen);
	s->idlen = (uint8_t)idlen;
	s->derlen = (uint32_t)len;
	s->serial = ++sh->h->serial;
	s->expires = expires;
	sh->h->used++;
	sh->h->stored++;
	sh->h->busy_set = SHC_NONE;
	tls_shared_unlock(sh);
	OPENSSL_cleanse(sh->buf, (size_t)len);
	shc_local_set(sh, victim, sess, s->serial);
	return 0;
}

SSL_SESSION *
tls_shared_get(struct tls_shared *sh, const unsigned char *id, size_t idlen)
{
	const unsigned char *p;
	SSL_SESSION *sess = NULL;
	uint64_t serial = 0;
	uint32_t set;
	ssize_t i;
	size_t len = 0;

	if (sh->nslots == 0 || idlen == 0 || idlen > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return NULL;
	set = shc_set(sh, id, idlen);
	if (tls_shared_lock(sh) != 0)
		return NULL;
	if ((i = shc_find(sh, set, id, idlen)) < 0)
		sh->h->misses++;
	else if (sh->slots[i].expires <= (int64_t)time(NULL)) {
		sh->h->busy_set = set;
		shc_wipe_slot(sh, (size_t)i);
		sh->h->busy_set = SHC_NONE;
		sh->h->misses++;
		sh->h->expired++;
	} else if (sh->local[i].sess != NULL && sh->local[i].serial == sh->slots[i].serial &&
	    SSL_SESSION_up_ref(sh->local[i].sess)) {
		/* Decoded here before, and the slot still holds that session. */
		sess = sh->local[i].sess;
		sh->h->hits++;
	} else {
		len = sh->slots[i].derlen;
		serial = sh->slots[i].serial;
		memcpy(sh->buf, sh->data + (size_t)i * sh->max_der, len);
		sh->h->hits++;
	}
	tls_shared_unlock(sh);
	if (len == 0)
		return sess;
	p = sh->buf;
	sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	OPENSSL_cleanse(sh->buf, len);
	if (sess != NULL)
		shc_local_set(sh, (size_t)i, sess, serial);
	return sess;
}

/* Drops a session (OpenSSL found it bad, or kmipd refused its client). */
static void
shc_remove(struct tls_shared *sh, const unsigned char *id, size_t idlen)
{
	uint32_t set;
	ssize_t i;

	if (sh->nslots == 0 || idlen == 0 || idlen > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return;
	set = shc_set(sh, id, idlen);
	if (tls_shared_lock(sh) != 0)
		return;
	if ((i = shc_find(sh, set, id, idlen)) >= 0) {
		sh->h->busy_set = set;
		shc_wipe_slot(sh, (size_t)i);
		sh->h->busy_set = SHC_NONE;
		sh->h->removed++;
	}
	tls_shared_unlock(sh);
}

/* The shared state a context was installed with. */
static struct tls_shared *
ctx_shared(SSL_CTX *ctx)
{
	return ctx != NULL ? SSL_CTX_get_ex_data(ctx, shc_ex_index) : NULL;
}

/*
 * SSL_CTX_sess_set_new_cb: stores a new session. A TLS 1.3 ticket that is stateless (tickets on) is never
 * looked up by id, so it is not stored. Returns 0: OpenSSL keeps its reference.
 */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_shared *sh = ctx_shared(SSL_get_SSL_CTX(ssl));

	if (sh == NULL || (SSL_version(ssl) >= TLS1_3_VERSION && !(SSL_get_options(ssl) & SSL_OP_NO_TICKET)))
		return 0;
	/* Not cached (too large, counted): the client resumes by ticket or makes a full handshake. */
	if (tls_shared_put(sh, sess) == -1)
		return 0;
	return 0;
}

/* SSL_CTX_sess_set_get_cb: a session by id, as a new reference the caller owns (*copy = 0). */
static SSL_SESSION *
get_session_cb(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
	struct tls_shared *sh = ctx_shared(SSL_get_SSL_CTX(ssl));

	*copy = 0;
	if (sh == NULL || idlen <= 0)
		return NULL;
	return tls_shared_get(sh, id, (size_t)idlen);
}

/* SSL_CTX_sess_set_remove_cb. */
static void
remove_session_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct tls_shared *sh = ctx_shared(ctx);
	const unsigned char *id;
	unsigned int idlen;

	if (sh == NULL)
		return;
	id = SSL_SESSION_get_id(sess, &idlen);
	shc_remove(sh, id, idlen);
}

/*
 * Installs fresh as the random ticket key that encrypts from now, retiring the current one and dropping
 * the keys no valid ticket can use any more (retired more than session_timeout ago). The caller holds the
 * lock.
 */
static void
shc_rotate(struct tls_shared *sh, time_t now, const struct shc_key *fresh)
{
	struct shc_header *h = sh->h;
	uint32_t i, n = 0;
	bool had = h->nkeys > 0;

	h->keys_busy = 1;
	if (h->nkeys > 0)
		h->keys[0].retired = now;
	for (i = 0; i < h->nkeys; i++) {
		if (h->keys[i].retired + h->timeout <= now || n + 1 >= TLS_TICKET_KEYS_MAX) {
			OPENSSL_cleanse(&h->keys[i], sizeof(h->keys[i]));
			continue;
		}
		if (n != i) {
			h->keys[n] = h->keys[i];
			OPENSSL_cleanse(&h->keys[i], sizeof(h->keys[i]));
		}
		n++;
	}
	memmove(&h->keys[1], &h->keys[0], n * sizeof(h->keys[0]));
	h->keys[0] = *fresh;
	h->nkeys = n + 1;
	if (had)
		h->rotations++;
	h->keys_busy = 0;
}

/* Whether random ticket keys are due for a new one (also when the clock went back). The caller holds the lock. */
static bool
shc_rotation_due(const struct shc_header *h, time_t now)
{
	return !h->key_file && (h->nkeys == 0 || now - h->keys[0].created >= h->rotation ||
	    now < h->keys[0].created);
}

/*
 * SSL_CTX_set_tlsext_ticket_key_evp_cb: AES-256-CBC and HMAC-SHA256 keys for a ticket. Encrypting: the
 * first key (rotated first if due); returns 1, or 0 (no ticket) when there is none. Decrypting: the key
 * named, if held and still valid; returns 1 for the first key in TLS 1.2, 2 (the client gets a new ticket)
 * for an older one and in TLS 1.3, 0 (full handshake) when unknown, -1 on an error.
 */
static int
ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
    int enc)
{
	struct tls_shared *sh = ctx_shared(SSL_get_SSL_CTX(ssl));
	OSSL_PARAM params[3];
	struct shc_key k = { .created = 0 }, fresh;
	time_t now = time(NULL);
	uint32_t i;
	int idx = -1, rc = -1;
	bool fresh_ok;

	if (sh == NULL || tls_shared_lock(sh) != 0)
		return enc ? 0 : -1;
	if (enc && shc_rotation_due(sh->h, now)) {
		/* The random generator may reseed (a system call): not under the lock. */
		tls_shared_unlock(sh);
		fresh_ok = shc_random_key(&fresh, now) == 0;
		if (tls_shared_lock(sh) != 0) {
			OPENSSL_cleanse(&fresh, sizeof(fresh));
			return 0;
		}
		/* Unless another process rotated meanwhile; without a fresh key the current one goes on. */
		if (fresh_ok && shc_rotation_due(sh->h, now))
			shc_rotate(sh, now, &fresh);
		OPENSSL_cleanse(&fresh, sizeof(fresh));
	}
	if (enc) {
		if (sh->h->nkeys > 0) {
			k = sh->h->keys[0];
			idx = 0;
		}
	} else {
		for (i = 0; i < sh->h->nkeys; i++) {
			if (memcmp(sh->h->keys[i].name, name, SHC_NAME_BYTES) != 0)
				continue;
			if (sh->h->keys[i].retired == 0 || sh->h->keys[i].retired + sh->h->timeout > now) {
				k = sh->h->keys[i];
				idx = (int)i;
			}
			break;
		}
	}
	tls_shared_unlock(sh);
	if (idx < 0)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		memcpy(name, k.name, SHC_NAME_BYTES);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1 ||
		    !EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) ||
		    !EVP_MAC_CTX_set_params(hctx, params))
			goto out;
		rc = 1;
	} else {
		if (!EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) ||
		    !EVP_MAC_CTX_set_params(hctx, params))
			goto out;
		/*
		 * 2 also for TLS 1.3: a client should use a TLS 1.3 ticket once (RFC 8446, appendix C.4), and
		 * OpenSSL sends a resumed TLS 1.3 client a new one only when asked to renew.
		 */
		rc = idx == 0 && SSL_version(ssl) < TLS1_3_VERSION ? 1 : 2;
	}
out:
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

int
tls_shared_install(struct tls_shared *sh, SSL_CTX *ctx, char **cause)
{
	if (!SSL_CTX_set_ex_data(ctx, shc_ex_index, sh)) {
		tls_cause_ssl(cause, "cannot attach the shared session cache");
		return -1;
	}
	/* One code path for one process and many: OpenSSL's own cache is never used. */
	if (sh->nslots > 0)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	SSL_CTX_sess_set_get_cb(ctx, get_session_cb);
	SSL_CTX_sess_set_remove_cb(ctx, remove_session_cb);
	if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb)) {
		tls_cause_ssl(cause, "cannot set the ticket key callback");
		return -1;
	}
	return 0;
}

void
tls_shared_configure(struct tls_shared *sh, long session_timeout, long ticket_key_rotation,
    const struct tls_ticket_file *tf)
{
	struct shc_header *h = sh->h;
	time_t now = time(NULL);
	struct shc_key fresh;

	/* Made before the lock: the random generator is not worth holding it for. */
	if (shc_random_key(&fresh, now) != 0)
		OPENSSL_cleanse(&fresh, sizeof(fresh));
	if (tf != NULL)
		sh->filekeys = *tf;
	else
		OPENSSL_cleanse(&sh->filekeys, sizeof(sh->filekeys));
	if (tls_shared_lock(sh) != 0) {
		OPENSSL_cleanse(&fresh, sizeof(fresh));
		return;
	}
	h->timeout = session_timeout;
	h->rotation = ticket_key_rotation;
	if (tf != NULL) {
		h->keys_busy = 1;
		OPENSSL_cleanse(h->keys, sizeof(h->keys));
		memcpy(h->keys, tf->keys, tf->n * sizeof(h->keys[0]));
		h->nkeys = tf->n;
		h->key_file = 1;
		h->keys_busy = 0;
	} else if (h->key_file || h->nkeys == 0) {
		/* From file keys back to random ones: none of the file's keys stays. */
		h->keys_busy = 1;
		OPENSSL_cleanse(h->keys, sizeof(h->keys));
		h->nkeys = 0;
		if (fresh.created != 0) {
			h->keys[0] = fresh;
			h->nkeys = 1;
		}
		h->key_file = 0;
		h->keys_busy = 0;
	}
	tls_shared_unlock(sh);
	OPENSSL_cleanse(&fresh, sizeof(fresh));
}

/* True for the characters of standard base64 (padding aside). */
static int
is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Parses one key line (len bytes, trimmed) into k. Returns 0, or -1 and a cause naming path:line.
 */
static int
parse_key_line(const char *path, unsigned line, const char *s, size_t len, struct shc_key *k, char **cause)
{
	unsigned char raw[TLS_TICKET_KEY_BYTES + 3];
	size_t i;
	int n;

	if (len != SHC_B64_LEN) {
		tls_cause(cause, "ticket_key_file %s:%u: a key is the base64 of %d bytes on one line (%d characters), not %zu "
		    "characters", path, line, TLS_TICKET_KEY_BYTES, SHC_B64_LEN, len);
		return -1;
	}
	for (i = 0; i < len - 1; i++)
		if (!is_b64((unsigned char)s[i])) {
			tls_cause(cause, "ticket_key_file %s:%u: character %zu is not base64", path, line, i + 1);
			return -1;
		}
	if (s[len - 1] != '=') {
		tls_cause(cause, "ticket_key_file %s:%u: a key is the base64 of %d bytes, ending in '='", path, line,
		    TLS_TICKET_KEY_BYTES);
		return -1;
	}
	n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)len);
	if (n != TLS_TICKET_KEY_BYTES + 1) {
		OPENSSL_cleanse(raw, sizeof(raw));
		tls_cause(cause, "ticket_key_file %s:%u: not valid base64", path, line);
		return -1;
	}
	memcpy(k->name, raw, SHC_NAME_BYTES);
	memcpy(k->hmac, raw + SHC_NAME_BYTES, SHC_HMAC_BYTES);
	memcpy(k->aes, raw + SHC_NAME_BYTES + SHC_HMAC_BYTES, SHC_AES_BYTES);
	k->created = 0;
	k->retired = 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int
tls_ticket_file_read(const char *path, struct tls_ticket_file **out, char **cause)
{
	struct tls_ticket_file *tf = NULL;
	unsigned char *raw = NULL;
	char *buf, *s, *e, *end;
	size_t len = 0;
	unsigned line = 0, i;

	*out = NULL;
	if (tls_read_file("ticket_key_file", path, true, &raw, &len, cause) == -1)
		return -1;
	buf = (char *)raw;
	if ((tf = calloc(1, sizeof(*tf))) == NULL) {
		tls_cause(cause, "ticket_key_file %s: out of memory", path);
		goto fail;
	}
	for (s = buf; s < buf + len; s = e + 1) {
		line++;
		if ((e = memchr(s, '\n', (size_t)(buf + len - s))) == NULL)
			e = buf + len;
		end = e;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		if (s == end || *s == '#')
			continue;
		if (tf->n >= TLS_TICKET_KEYS_MAX) {
			tls_cause(cause, "ticket_key_file %s:%u: more than %d keys", path, line, TLS_TICKET_KEYS_MAX);
			goto fail;
		}
		if (parse_key_line(path, line, s, (size_t)(end - s), &tf->keys[tf->n], cause) == -1)
			goto fail;
		for (i = 0; i < tf->n; i++)
			if (memcmp(tf->keys[i].name, tf->keys[tf->n].name, SHC_NAME_BYTES) == 0) {
				tls_cause(cause, "ticket_key_file %s:%u: the same key name (its first 16 bytes) as key %u", path, line,
				    i + 1);
				goto fail;
			}
		tf->n++;
	}
	if (tf->n == 0) {
		tls_cause(cause, "ticket_key_file %s: no key in the file", path);
		goto fail;
	}
	OPENSSL_cleanse(raw, len);
	free(raw);
	*out = tf;
	return 0;
fail:
	OPENSSL_cleanse(raw, len);
	free(raw);
	tls_ticket_file_free(tf);
	return -1;
}

void
tls_ticket_file_free(struct tls_ticket_file *tf)
{
	if (tf == NULL)
		return;
	OPENSSL_cleanse(tf, sizeof(*tf));
	free(tf);
}
