/*
 * Access control and Credential checks; see access.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/access.h"

#define CACHE_SLOTS	256
#define SALT_BYTES	16
#define HASH_BYTES	32
#define MAX_PASSWORD	1024

struct access_cache {
	uint8_t slot[CACHE_SLOTS][32];	/* SHA-256 of a verified (config entry, username, password) */
	unsigned next;
	unsigned used;
};

bool
access_is_admin(const struct kmipd_config *cfg, const char *identity)
{
	size_t i;

	for (i = 0; i < cfg->access.admins.count; i++)
		if (strcmp(cfg->access.admins.items[i], identity) == 0)
			return true;
	return false;
}

/* True when one of the object's Object Groups is group (group_len bytes). */
static bool
in_group(const struct ttlv *attrs, const char *group, size_t group_len)
{
	const struct ttlv *g;

	for (g = ttlv_find(attrs, KMIP_TAG_OBJECT_GROUP); g != NULL; g = ttlv_find_next(g))
		if (g->type == TTLV_TEXT_STRING && g->length == group_len &&
		    memcmp(g->v.bytes.data, group, group_len) == 0)
			return true;
	return false;
}

/* True when the object carries an x-kmipd-shared-with attribute naming identity. */
static bool
shared_by_attribute(const struct ttlv *attrs, const char *identity)
{
	const struct ttlv *a, *val;

	for (a = ttlv_find(attrs, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a)) {
		val = ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE);
		if (access_is_share_attribute(a) && val->type == TTLV_TEXT_STRING &&
		    strcmp((const char *)val->v.bytes.data, identity) == 0)
			return true;
	}
	return false;
}

bool
access_is_share_attribute(const struct ttlv *a)
{
	const struct ttlv *v, *n;

	if (a->tag != KMIP_TAG_ATTRIBUTE)
		return false;
	v = ttlv_find(a, KMIP_TAG_VENDOR_IDENTIFICATION);
	n = ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME);
	return v != NULL && n != NULL && ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE) != NULL &&
	    strcmp((const char *)v->v.bytes.data, "x") == 0 &&
	    strcmp((const char *)n->v.bytes.data, ACCESS_SHARE_ATTRIBUTE) == 0;
}

/* Splits an "owner:group:identity" share entry (checked when the config was loaded). */
static void
share_parts(const char *entry, size_t *owner_len, const char **group, size_t *group_len, const char **who)
{
	const char *a = strchr(entry, ':'), *b = strchr(a + 1, ':');

	*owner_len = (size_t)(a - entry);
	*group = a + 1;
	*group_len = (size_t)(b - (a + 1));
	*who = b + 1;
}

void
access_shares_for(const struct kmipd_config *cfg, const char *identity,
    void (*fn)(const char *owner, const char *group, size_t group_len, void *arg), void *arg)
{
	const struct config_list *shares = &cfg->access.shares;
	char owner[1024];
	const char *group, *who;
	size_t olen, glen, i;

	for (i = 0; i < shares->count; i++) {
		share_parts(shares->items[i], &olen, &group, &glen, &who);
		if (strcmp(who, identity) != 0 || olen >= sizeof(owner))
			continue;
		memcpy(owner, shares->items[i], olen);
		owner[olen] = '\0';
		fn(owner, group, glen, arg);
	}
}

bool
access_allowed(const struct kmipd_config *cfg, const char *identity, const char *owner,
    const struct ttlv *attrs, bool write)
{
	const struct config_list *shares = &cfg->access.shares;
	const char *group, *who;
	size_t olen, glen, i;

	if (strcmp(owner, identity) == 0 || access_is_admin(cfg, identity))
		return true;
	if (write)
		return false;
	if (shared_by_attribute(attrs, identity))
		return true;
	for (i = 0; i < shares->count; i++) {
		share_parts(shares->items[i], &olen, &group, &glen, &who);
		if (strcmp(who, identity) != 0 || strlen(owner) != olen || memcmp(owner, shares->items[i], olen) != 0)
			continue;
		if ((glen == 1 && group[0] == '*') || in_group(attrs, group, glen))
			return true;
	}
	return false;
}

struct access_cache *
access_cache_new(void)
{
	return calloc(1, sizeof(struct access_cache));
}

void
access_cache_free(struct access_cache *cache)
{
	if (cache == NULL)
		return;
	OPENSSL_cleanse(cache, sizeof(*cache));
	free(cache);
}

static int
unhex(const char *s, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Verifies password against one "pbkdf2-sha256$iter$salt$hash" (validated at config load). */
static bool
verify_hash(const char *stored, const char *password, size_t plen)
{
	uint8_t salt[256], want[HASH_BYTES], got[HASH_BYTES];
	const char *p = stored + strlen("pbkdf2-sha256$"), *s, *h;
	unsigned long iter = strtoul(p, NULL, 10);
	size_t slen;
	bool ok;

	s = strchr(p, '$') + 1;
	h = strchr(s, '$') + 1;
	slen = (size_t)(h - 1 - s) / 2;
	if (slen > sizeof(salt) || unhex(s, slen, salt) != 0 || unhex(h, HASH_BYTES, want) != 0)
		return false;
	if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)slen, (int)iter, EVP_sha256(), HASH_BYTES, got) != 1)
		return false;
	ok = CRYPTO_memcmp(got, want, HASH_BYTES) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

/* Digest of a verified combination, for the cache. */
static void
cache_key(const char *entry, const char *user, size_t ulen, const char *password, size_t plen, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 32;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, entry, strlen(entry) + 1) != 1 || EVP_DigestUpdate(md, user, ulen) != 1 ||
	    EVP_DigestUpdate(md, "", 1) != 1 || EVP_DigestUpdate(md, password, plen) != 1 ||
	    EVP_DigestFinal_ex(md, out, &len) != 1)
		memset(out, 0xff, 32);	/* never matches a real entry: the slow path runs */
	EVP_MD_CTX_free(md);
}

int
access_check_credential(const struct kmipd_config *cfg, struct access_cache *cache,
    const struct ttlv *authentication, struct kmip_error *err)
{
	const struct config_list *creds = &cfg->access.credentials;
	const struct ttlv *c, *type, *value, *user = NULL, *pass = NULL;
	uint8_t key[32];
	size_t i, ulen;
	unsigned j;

	if (authentication == NULL) {
		if (cfg->access.require_credential)
			return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
			    "this server requires a username and password Credential");
		return 0;
	}
	/* Without configured credentials a Credential is not checked, unless one is required. */
	if (creds->count == 0 && !cfg->access.require_credential)
		return 0;
	for (c = ttlv_find(authentication, KMIP_TAG_CREDENTIAL); c != NULL; c = ttlv_find_next(c)) {
		type = ttlv_find(c, KMIP_TAG_CREDENTIAL_TYPE);
		value = ttlv_find(c, KMIP_TAG_CREDENTIAL_VALUE);
		if (type == NULL || type->type != TTLV_ENUMERATION ||
		    type->v.u32 != KMIP_CREDENTIAL_TYPE_USERNAME_AND_PASSWORD)
			continue;
		user = ttlv_find(value, KMIP_TAG_USERNAME);
		pass = ttlv_find(value, KMIP_TAG_PASSWORD);
		break;
	}
	if (user == NULL || pass == NULL || user->type != TTLV_TEXT_STRING || pass->type != TTLV_TEXT_STRING ||
	    pass->length > MAX_PASSWORD)
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "a username and password Credential is required");
	ulen = user->length;
	for (i = 0; i < creds->count; i++) {
		const char *entry = creds->items[i], *colon = strchr(entry, ':');

		if ((size_t)(colon - entry) != ulen || memcmp(entry, user->v.bytes.data, ulen) != 0)
			continue;
		cache_key(entry, (const char *)user->v.bytes.data, ulen, (const char *)pass->v.bytes.data,
		    pass->length, key);
		for (j = 0; j < cache->used; j++)
			if (CRYPTO_memcmp(cache->slot[j], key, sizeof(key)) == 0)
				return 0;
		if (!verify_hash(colon + 1, (const char *)pass->v.bytes.data, pass->length))
			break;
		memcpy(cache->slot[cache->next], key, sizeof(key));
		cache->next = (cache->next + 1) % CACHE_SLOTS;
		if (cache->used < CACHE_SLOTS)
			cache->used++;
		return 0;
	}
	/*
	 * Same answer for an unknown user and a wrong password, after the same work: an unknown name costs one
	 * key derivation too, so timing does not tell which names exist.
	 */
	if (i == creds->count && creds->count > 0) {
		const char *first = strchr(creds->items[0], ':');

		(void)verify_hash(first + 1, (const char *)pass->v.bytes.data, pass->length);
	}
	return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
	    "username or password not accepted");
}

char *
access_hash_password(const char *password, unsigned iterations)
{
	uint8_t salt[SALT_BYTES], hash[HASH_BYTES];
	char *out = NULL, hex_salt[2 * SALT_BYTES + 1], hex_hash[2 * HASH_BYTES + 1];
	size_t i;

	if (RAND_bytes(salt, sizeof(salt)) != 1 || PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
	    sizeof(salt), (int)iterations, EVP_sha256(), sizeof(hash), hash) != 1)
		return NULL;
	for (i = 0; i < sizeof(salt); i++)
		snprintf(hex_salt + 2 * i, 3, "%02x", salt[i]);
	for (i = 0; i < sizeof(hash); i++)
		snprintf(hex_hash + 2 * i, 3, "%02x", hash[i]);
	if (asprintf(&out, "pbkdf2-sha256$%u$%s$%s", iterations, hex_salt, hex_hash) < 0)
		out = NULL;
	OPENSSL_cleanse(hash, sizeof(hash));
	return out;
}
