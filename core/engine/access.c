/*
 * Access control and Credential checks; see access.h.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/engine/access.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define CACHE_SLOTS	256
#define SALT_MAX	ACCESS_SALT_MAX
#define HASH_BYTES	ACCESS_HASH_BYTES
#define SALT_BYTES	16		/* of new hashes */
#define MAX_PASSWORD	1024
#define GUARD_MAX	4096		/* identities and addresses remembered by the guard */
#define GUARD_FREE_FAILURES ACCESS_GUARD_FREE_FAILURES
#define GUARD_BACKOFF_MS 1000		/* the first back-off; doubled with each further failure */

/* One "owner:group:identity" of access.shares. */
struct share {
	char *owner;
	char *group;			/* "*": every object of owner */
	char *identity;
};

/* One "user:pbkdf2-sha256$iterations$salt$hash" of access.credentials. */
struct credential {
	char *entry;			/* the config line, which the cache digests name */
	char *user;
	unsigned long iterations;
	uint8_t salt[SALT_MAX];
	size_t salt_len;
	uint8_t hash[HASH_BYTES];
};

/* One "identity:objects:bytes" of access.quotas. */
struct quota {
	char *identity;
	uint64_t objects, bytes;	/* 0: no limit */
};

/* One access.roles entry. */
struct role {
	char *name;
	uint64_t ops;			/* bit n: Operation n */
	bool material;
};

enum grant_kind { GRANT_IDENTITY, GRANT_OU, GRANT_SAN };

/* One access.grants entry. */
struct grant {
	size_t role;			/* index in roles */
	enum grant_kind kind;
	char *value;			/* the identity, the OU, or the "TYPE:pattern" of a SAN */
};

struct access_policy {
	struct role *roles;
	size_t nroles;
	struct grant *grants;
	size_t ngrants;
	long default_role;		/* index in roles, or -1 */
	char **admins;			/* sorted, for bsearch */
	struct quota *quotas;		/* sorted by identity, for bsearch */
	size_t nquotas;
	uint64_t max_objects, max_bytes;	/* everyone else's; 0: no limit */
	size_t nadmins;
	struct share *shares;
	size_t nshares;
	struct credential *creds;
	size_t ncreds;
	bool require_credential;
	/* Keyed digests of verified (config entry, username, password) combinations. */
	uint8_t cache_secret[32];	/* random per policy: the digests say nothing outside this process */
	uint8_t cache[CACHE_SLOTS][32];
	unsigned cache_next;
	unsigned cache_used;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Orders quotas by identity (the identity is the struct's first field, so a key pointer compares too). */
static int
cmp_quota(const void *a, const void *b)
{
	return strcmp(((const struct quota *)a)->identity, ((const struct quota *)b)->identity);
}

/* Reads access.quotas into p (sorted); -1 with *cause on a bad or repeated entry or ENOMEM. */
static int
parse_quotas(const struct config_access *a, struct access_policy *p, char **cause)
{
	char *reason = NULL;
	size_t i;

	p->max_objects = a->max_objects_per_identity;
	p->max_bytes = a->max_bytes_per_identity;
	if (a->quotas.count == 0)
		return 0;
	if ((p->quotas = calloc(a->quotas.count, sizeof(*p->quotas))) == NULL)
		goto nomem;
	for (i = 0; i < a->quotas.count; i++, p->nquotas++) {
		struct quota *q = &p->quotas[i];

		if (config_parse_quota(a->quotas.items[i], &q->identity, &q->objects, &q->bytes, &reason) != 0) {
			if (reason == NULL)
				goto nomem;
			if (asprintf(cause, "access.quotas: %s", reason) < 0)
				*cause = NULL;
			free(reason);
			return -1;
		}
	}
	qsort(p->quotas, p->nquotas, sizeof(*p->quotas), cmp_quota);
	for (i = 1; i < p->nquotas; i++) {
		if (strcmp(p->quotas[i - 1].identity, p->quotas[i].identity) == 0) {
			if (asprintf(cause, "access.quotas: %s is given twice", p->quotas[i].identity) < 0)
				*cause = NULL;
			return -1;
		}
	}
	return 0;
nomem:
	if (asprintf(cause, "out of memory building the access policy") < 0)
		*cause = NULL;
	return -1;
}

/* The index of the role called name (len bytes), or -1. */
static long
find_role(const struct access_policy *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->nroles; i++)
		if (strlen(p->roles[i].name) == len && memcmp(p->roles[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

/* Reads the comma-separated operation names of a role (len bytes of ops) into *mask; -1 with *cause. */
static int
parse_operations(const char *role, const char *ops, size_t len, uint64_t *mask, char **cause)
{
	const char *p = ops, *end = ops + len, *comma, *a, *b;
	char name[64];
	uint32_t op;

	*mask = 0;
	while (p < end) {
		comma = memchr(p, ',', (size_t)(end - p));
		b = comma != NULL ? comma : end;
		for (a = p; a < b && (*a == ' ' || *a == '\t'); a++)
			;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b == a || (size_t)(b - a) >= sizeof(name)) {
			if (asprintf(cause, "access.roles: role %s has an empty or overlong operation name", role) < 0)
				*cause = NULL;
			return -1;
		}
		memcpy(name, a, (size_t)(b - a));
		name[b - a] = '\0';
		if (ttlv_enum_by_name(KMIP_TAG_OPERATION, name, &op) != 0 || op >= 64) {
			if (asprintf(cause, "access.roles: role %s: \"%s\" is not a KMIP operation (spelled "
			    "\"Create Key Pair\" or \"CreateKeyPair\")", role, name) < 0)
				*cause = NULL;
			return -1;
		}
		*mask |= UINT64_C(1) << op;
		p = comma != NULL ? comma + 1 : end;
	}
	return 0;
}

/* Reads access.roles, access.grants and access.default_role into p; -1 with *cause. */
static int
parse_roles(const struct config_access *a, struct access_policy *p, char **cause)
{
	const char *ops, *e, *c1;
	char *reason = NULL;
	size_t i, len;
	long r;

	p->default_role = -1;
	if (a->roles.count > 0 && (p->roles = calloc(a->roles.count, sizeof(*p->roles))) == NULL)
		goto nomem;
	for (i = 0; i < a->roles.count; i++) {
		struct role *ro = &p->roles[i];

		if (config_parse_role(a->roles.items[i], &ro->name, &ops, &len, &ro->material, &reason) != 0) {
			if (reason == NULL)
				goto nomem;
			if (asprintf(cause, "access.roles: %s", reason) < 0)
				*cause = NULL;
			free(reason);
			return -1;
		}
		p->nroles++;
		if (find_role(p, ro->name, strlen(ro->name)) != (long)i) {
			if (asprintf(cause, "access.roles: role %s is defined twice", ro->name) < 0)
				*cause = NULL;
			return -1;
		}
		if (parse_operations(ro->name, ops, len, &ro->ops, cause) != 0)
			return -1;
	}
	if (a->grants.count > 0 && (p->grants = calloc(a->grants.count, sizeof(*p->grants))) == NULL)
		goto nomem;
	for (i = 0; i < a->grants.count; i++) {
		struct grant *g = &p->grants[i];

		e = a->grants.items[i];
		c1 = strchr(e, ':');	/* the config checked the syntax */
		if (c1 == NULL || (r = find_role(p, e, (size_t)(c1 - e))) < 0) {
			if (asprintf(cause, "access.grants: \"%s\" grants a role access.roles does not define", e) < 0)
				*cause = NULL;
			return -1;
		}
		g->role = (size_t)r;
		if (strncmp(c1 + 1, "identity:", 9) == 0) {
			g->kind = GRANT_IDENTITY;
			c1 += 10;
		} else if (strncmp(c1 + 1, "ou:", 3) == 0) {
			g->kind = GRANT_OU;
			c1 += 4;
		} else {
			g->kind = GRANT_SAN;
			c1 += 5;
		}
		if ((g->value = strdup(c1)) == NULL)
			goto nomem;
		p->ngrants++;
	}
	if (a->default_role != NULL &&
	    (p->default_role = find_role(p, a->default_role, strlen(a->default_role))) < 0) {
		if (asprintf(cause, "access.default_role: access.roles defines no role %s", a->default_role) < 0)
			*cause = NULL;
		return -1;
	}
	return 0;
nomem:
	if (asprintf(cause, "out of memory building the access policy") < 0)
		*cause = NULL;
	return -1;
}

/* Adds role r to rights: its operations, its material, its name to the list of names. */
static void
rights_add(struct access_rights *rt, const struct role *r)
{
	size_t len = strlen(rt->roles);

	/* A long list is cut: it only names the roles in messages. */
	if (len + strlen(r->name) + 3 < sizeof(rt->roles))
		snprintf(rt->roles + len, sizeof(rt->roles) - len, "%s%s", len > 0 ? ", " : "", r->name);
	rt->restricted = true;
	rt->ops |= r->ops;
	/* Material may be read when a granted role with Get says so. */
	if (r->material && (r->ops & (UINT64_C(1) << KMIP_OPERATION_GET)) != 0)
		rt->material = true;
}

/* What an identity may do; see access.h. */
void
access_rights(const struct access_policy *p, const char *identity, const char *const *ous, size_t nous,
    const char *const *sans, size_t nsans, struct access_rights *rt)
{
	bool granted[64] = { false };	/* roles already added (access.roles holds at most 64) */
	size_t i, j;
	bool hit;

	memset(rt, 0, sizeof(*rt));
	rt->ops = UINT64_MAX;
	rt->material = true;
	if (access_is_admin(p, identity) || (p->ngrants == 0 && p->default_role < 0))
		return;
	rt->ops = 0;
	rt->material = false;
	for (i = 0; i < p->ngrants; i++) {
		const struct grant *g = &p->grants[i];

		if (g->role >= 64 || granted[g->role])
			continue;
		hit = false;
		switch (g->kind) {
		case GRANT_IDENTITY:
			hit = strcmp(g->value, identity) == 0;
			break;
		case GRANT_OU:
			for (j = 0; j < nous && !hit; j++)
				hit = strcmp(g->value, ous[j]) == 0;
			break;
		case GRANT_SAN:
			for (j = 0; j < nsans && !hit; j++)
				hit = fnmatch(g->value, sans[j], FNM_NOESCAPE) == 0;
			break;
		}
		if (hit) {
			granted[g->role] = true;
			rights_add(rt, &p->roles[g->role]);
		}
	}
	if (!rt->restricted) {
		if (p->default_role < 0) {	/* no grant, no default: today's rights */
			rt->ops = UINT64_MAX;
			rt->material = true;
			return;
		}
		rights_add(rt, &p->roles[p->default_role]);
	}
	/* Always allowed: a client must learn what it may do. */
	rt->ops |= UINT64_C(1) << KMIP_OPERATION_DISCOVER_VERSIONS | UINT64_C(1) << KMIP_OPERATION_QUERY;
}

/* The quotas of an identity; see access.h. */
void
access_quota(const struct access_policy *p, const char *identity, uint64_t *max_objects, uint64_t *max_bytes)
{
	const struct quota key = { (char *)identity, 0, 0 }, *q = NULL;

	if (p->nquotas > 0 && identity != NULL)
		q = bsearch(&key, p->quotas, p->nquotas, sizeof(*p->quotas), cmp_quota);
	*max_objects = q != NULL ? q->objects : p->max_objects;
	*max_bytes = q != NULL ? q->bytes : p->max_bytes;
}

/* Reads n bytes of hex; -1 when a character is not a hex digit. */
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

/* Parses one access.credentials entry (syntax checked by the config); -1 when it does not parse. */
static int
parse_credential(const char *entry, struct credential *c)
{
	const char *colon = strchr(entry, ':'), *p, *salt, *hash;
	char *end;

	if (colon == NULL || strncmp(colon + 1, "pbkdf2-sha256$", 14) != 0)
		return -1;
	p = colon + 15;
	c->iterations = strtoul(p, &end, 10);
	if (*end != '$' || c->iterations == 0 || c->iterations > INT32_MAX)
		return -1;
	salt = end + 1;
	if ((hash = strchr(salt, '$')) == NULL)
		return -1;
	c->salt_len = (size_t)(hash - salt) / 2;
	hash++;
	if ((size_t)(hash - 1 - salt) % 2 != 0 || c->salt_len > SALT_MAX || strlen(hash) != 2 * HASH_BYTES ||
	    unhex(salt, c->salt_len, c->salt) != 0 || unhex(hash, HASH_BYTES, c->hash) != 0)
		return -1;
	if ((c->user = strndup(entry, (size_t)(colon - entry))) == NULL || (c->entry = strdup(entry)) == NULL)
		return -1;
	return 0;
}

/* Builds the policy; see access.h. */
int
access_policy_new(const struct kmipd_config *cfg, struct access_policy **out, char **cause)
{
	const struct config_access *a = &cfg->access;
	struct access_policy *p;
	size_t i;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	if (RAND_bytes(p->cache_secret, sizeof(p->cache_secret)) != 1) {
		if (asprintf(cause, "no random bytes for the access policy's Credential cache") < 0)
			*cause = NULL;
		goto fail;
	}
	p->require_credential = a->require_credential;
	if (a->admins.count > 0 && (p->admins = calloc(a->admins.count, sizeof(*p->admins))) == NULL)
		goto nomem;
	for (i = 0; i < a->admins.count; i++, p->nadmins++)
		if ((p->admins[i] = strdup(a->admins.items[i])) == NULL)
			goto nomem;
	if (p->nadmins > 1)
		qsort(p->admins, p->nadmins, sizeof(*p->admins), cmp_str);
	if (a->shares.count > 0 && (p->shares = calloc(a->shares.count, sizeof(*p->shares))) == NULL)
		goto nomem;
	for (i = 0; i < a->shares.count; i++) {
		const char *e = a->shares.items[i], *c1 = strchr(e, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		struct share *sh = &p->shares[i];

		if (c2 == NULL) {
			if (asprintf(cause, "access.shares: \"%s\" is not \"owner:group:identity\"", e) < 0)
				*cause = NULL;
			goto fail;
		}
		p->nshares++;	/* so that what it holds is freed, even half made */
		if ((sh->owner = strndup(e, (size_t)(c1 - e))) == NULL ||
		    (sh->group = strndup(c1 + 1, (size_t)(c2 - c1 - 1))) == NULL ||
		    (sh->identity = strdup(c2 + 1)) == NULL)
			goto nomem;
	}
	if (a->credentials.count > 0 && (p->creds = calloc(a->credentials.count, sizeof(*p->creds))) == NULL)
		goto nomem;
	for (i = 0; i < a->credentials.count; i++) {
		int rc = parse_credential(a->credentials.items[i], &p->creds[i]);

		p->ncreds++;	/* so that what it allocated is freed */
		if (rc != 0) {
			if (asprintf(cause, "access.credentials: entry %zu is not "
			    "\"user:pbkdf2-sha256$ITERATIONS$SALT$HASH\"", i + 1) < 0)
				*cause = NULL;
			goto fail;
		}
	}
	if (parse_quotas(a, p, cause) != 0 || parse_roles(a, p, cause) != 0)
		goto fail;
	*out = p;
	return 0;
nomem:
	if (asprintf(cause, "out of memory building the access policy") < 0)
		*cause = NULL;
fail:
	access_policy_free(p);
	return -1;
}

void
access_policy_free(struct access_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nadmins; i++)
		free(p->admins[i]);
	free(p->admins);
	for (i = 0; i < p->nshares; i++) {
		free(p->shares[i].owner);
		free(p->shares[i].group);
		free(p->shares[i].identity);
	}
	free(p->shares);
	for (i = 0; i < p->ncreds; i++) {
		free(p->creds[i].user);
		free(p->creds[i].entry);
	}
	free(p->creds);
	for (i = 0; i < p->nquotas; i++)
		free(p->quotas[i].identity);
	for (i = 0; i < p->nroles; i++)
		free(p->roles[i].name);
	free(p->roles);
	for (i = 0; i < p->ngrants; i++)
		free(p->grants[i].value);
	free(p->grants);
	free(p->quotas);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

bool
access_is_admin(const struct access_policy *p, const char *identity)
{
	return p->nadmins > 0 && bsearch(&identity, p->admins, p->nadmins, sizeof(*p->admins), cmp_str) != NULL;
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

void
access_shares_for(const struct access_policy *p, const char *identity,
    void (*fn)(const char *owner, const char *group, size_t group_len, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < p->nshares; i++)
		if (strcmp(p->shares[i].identity, identity) == 0)
			fn(p->shares[i].owner, p->shares[i].group, strlen(p->shares[i].group), arg);
}

bool
access_allowed(const struct access_policy *p, const char *identity, const char *owner,
    const struct ttlv *attrs, bool write)
{
	size_t i;

	if (strcmp(owner, identity) == 0 || access_is_admin(p, identity))
		return true;
	if (write)
		return false;
	if (shared_by_attribute(attrs, identity))
		return true;
	for (i = 0; i < p->nshares; i++) {
		const struct share *sh = &p->shares[i];

		if (strcmp(sh->identity, identity) != 0 || strcmp(sh->owner, owner) != 0)
			continue;
		if (strcmp(sh->group, "*") == 0 || in_group(attrs, sh->group, strlen(sh->group)))
			return true;
	}
	return false;
}

/* Decides from the owner alone: see access.h. */
enum access_verdict
access_by_owner(const struct access_policy *p, const char *identity, const char *owner, size_t owner_len,
    bool shared, bool write)
{
	size_t i;

	if ((strlen(identity) == owner_len && memcmp(identity, owner, owner_len) == 0) ||
	    access_is_admin(p, identity))
		return ACCESS_YES;
	if (write)
		return ACCESS_NO;
	if (shared)
		return ACCESS_ATTRS;
	for (i = 0; i < p->nshares; i++) {
		const struct share *sh = &p->shares[i];

		if (strcmp(sh->identity, identity) == 0 && strlen(sh->owner) == owner_len &&
		    memcmp(sh->owner, owner, owner_len) == 0)
			return ACCESS_ATTRS;
	}
	return ACCESS_NO;
}

bool
access_object_shared(const struct ttlv *attrs)
{
	const struct ttlv *a;

	for (a = ttlv_find(attrs, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a))
		if (access_is_share_attribute(a))
			return true;
	return false;
}

/* Digest of a combination for the cache: SHA-256 under the policy's secret, so it is a keyed hash. */
static void
cache_key(const struct access_policy *p, const char *entry, const char *user, size_t ulen, const char *password,
    size_t plen, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 32;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, p->cache_secret, sizeof(p->cache_secret)) != 1 ||
	    EVP_DigestUpdate(md, entry, strlen(entry) + 1) != 1 || EVP_DigestUpdate(md, user, ulen) != 1 ||
	    EVP_DigestUpdate(md, "", 1) != 1 || EVP_DigestUpdate(md, password, plen) != 1 ||
	    EVP_DigestFinal_ex(md, out, &len) != 1)
		memset(out, 0xff, 32);	/* never matches a real entry: the slow path runs */
	EVP_MD_CTX_free(md);
}

/* Starts a Credential check; see access.h. */
enum access_credential
access_credential_begin(struct access_policy *p, const struct ttlv *authentication, struct access_derivation *d,
    struct kmip_error *err)
{
	const struct ttlv *c, *type, *value, *user = NULL, *pass = NULL;
	const struct credential *cr = NULL;
	size_t i, ulen;
	unsigned j;

	memset(d, 0, sizeof(*d));
	if (authentication == NULL) {
		if (p->require_credential) {
			kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
			    "this server requires a username and password Credential");
			return ACCESS_CREDENTIAL_REFUSED;
		}
		return ACCESS_CREDENTIAL_OK;
	}
	/* Without configured credentials a Credential is not checked, unless one is required. */
	if (p->ncreds == 0 && !p->require_credential)
		return ACCESS_CREDENTIAL_OK;
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
	    pass->length > MAX_PASSWORD) {
		kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "a username and password Credential is required");
		return ACCESS_CREDENTIAL_REFUSED;
	}
	ulen = user->length;
	for (i = 0; i < p->ncreds; i++) {
		if (strlen(p->creds[i].user) == ulen && memcmp(p->creds[i].user, user->v.bytes.data, ulen) == 0) {
			cr = &p->creds[i];
			break;
		}
	}
	kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL, "username or password not accepted");
	if (cr != NULL) {
		cache_key(p, cr->entry, (const char *)user->v.bytes.data, ulen, (const char *)pass->v.bytes.data,
		    pass->length, d->cache_key);
		for (j = 0; j < p->cache_used; j++)
			if (CRYPTO_memcmp(p->cache[j], d->cache_key, sizeof(d->cache_key)) == 0) {
				OPENSSL_cleanse(d, sizeof(*d));
				return ACCESS_CREDENTIAL_OK;
			}
		d->known = true;
	} else if (p->ncreds > 0) {
		/*
		 * Same answer for an unknown user and a wrong password, after the same work: an unknown name costs
		 * one key derivation too, so timing does not tell which names exist. Its digest (under an entry
		 * no cached Credential has) lets the same guess share one derivation, as a known name's does.
		 */
		cache_key(p, "", (const char *)user->v.bytes.data, ulen, (const char *)pass->v.bytes.data,
		    pass->length, d->cache_key);
		cr = &p->creds[0];
	} else {
		return ACCESS_CREDENTIAL_REFUSED;
	}
	d->password = pass->v.bytes.data;
	d->password_len = pass->length;
	memcpy(d->salt, cr->salt, cr->salt_len);
	d->salt_len = cr->salt_len;
	d->iterations = (unsigned)cr->iterations;
	memcpy(d->expected, cr->hash, sizeof(d->expected));
	return ACCESS_CREDENTIAL_DERIVE;
}

/* Ends a Credential check with the derived bytes; see access.h. */
bool
access_credential_finish(struct access_policy *p, const struct access_derivation *d, const uint8_t *derived,
    size_t len)
{
	bool ok;

	if (derived == NULL || len != sizeof(d->expected))
		return false;
	ok = CRYPTO_memcmp(derived, d->expected, sizeof(d->expected)) == 0 && d->known;
	if (ok && p != NULL) {
		memcpy(p->cache[p->cache_next], d->cache_key, sizeof(d->cache_key));
		p->cache_next = (p->cache_next + 1) % CACHE_SLOTS;
		if (p->cache_used < CACHE_SLOTS)
			p->cache_used++;
	}
	return ok;
}

/* Wipes what a derivation holds; see access.h. */
void
access_derivation_wipe(struct access_derivation *d)
{
	OPENSSL_cleanse(d, sizeof(*d));
}

int
access_check_credential(struct access_policy *p, const struct ttlv *authentication, struct kmip_error *err)
{
	struct access_derivation d;
	uint8_t got[HASH_BYTES];
	bool ok = false;

	switch (access_credential_begin(p, authentication, &d, err)) {
	case ACCESS_CREDENTIAL_OK:
		return 0;
	case ACCESS_CREDENTIAL_REFUSED:
		return -1;
	case ACCESS_CREDENTIAL_DERIVE:
		break;
	}
	if (PKCS5_PBKDF2_HMAC((const char *)d.password, (int)d.password_len, d.salt, (int)d.salt_len,
	    (int)d.iterations, EVP_sha256(), sizeof(got), got) == 1)
		ok = access_credential_finish(p, &d, got, sizeof(got));
	OPENSSL_cleanse(got, sizeof(got));
	access_derivation_wipe(&d);
	return ok ? 0 : -1;
}

/* ---- the guard: derivations under way and back-off, per identity and per source ---- */

struct guard_entry {
	char *key;			/* "i" + identity or "s" + source address */
	unsigned inflight;
	unsigned failures;		/* wrong Credentials in a row */
	int64_t until_ms;		/* refused unchecked until then */
	int64_t failed_ms;		/* when the last wrong one was */
	int64_t seen_ms;
};

struct access_guard {
	struct guard_entry *e;
	size_t n;
};

/* A new guard remembering nobody; NULL when out of memory. */
struct access_guard *
access_guard_new(void)
{
	struct access_guard *g = calloc(1, sizeof(*g));

	if (g != NULL && (g->e = calloc(GUARD_MAX, sizeof(*g->e))) == NULL) {
		free(g);
		g = NULL;
	}
	return g;
}

/* Frees the guard; NULL is accepted. */
void
access_guard_free(struct access_guard *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		free(g->e[i].key);
	free(g->e);
	free(g);
}

/* True when the entry may be forgotten: nothing under way and no back-off running. */
static bool
guard_idle(const struct guard_entry *e, int64_t now_ms)
{
	return e->inflight == 0 && e->until_ms <= now_ms;
}

/*
 * Finds (or, when create, makes) the entry of kind 'i' or 's' and name. A full table gives up the idle entry
 * seen longest ago; NULL when every entry is busy or memory runs out. At most GUARD_MAX entries are
 * scanned, and only for a Credential the cache did not know.
 */
static struct guard_entry *
guard_get(struct access_guard *g, char kind, const char *name, int64_t now_ms, bool create)
{
	struct guard_entry *e, *victim = NULL;
	size_t i;
	char *key;

	for (i = 0; i < g->n; i++) {
		e = &g->e[i];
		if (e->key[0] == kind && strcmp(e->key + 1, name) == 0) {
			e->seen_ms = now_ms;
			return e;
		}
		if (guard_idle(e, now_ms) && (victim == NULL || e->seen_ms < victim->seen_ms))
			victim = e;
	}
	if (!create || asprintf(&key, "%c%s", kind, name) < 0)
		return NULL;
	if (g->n < GUARD_MAX)
		victim = &g->e[g->n++];
	else if (victim == NULL) {
		free(key);
		return NULL;
	} else
		free(victim->key);
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->seen_ms = now_ms;
	return victim;
}

/* Forgets an entry that holds nothing worth keeping. */
static void
guard_drop_if_empty(struct access_guard *g, struct guard_entry *e)
{
	if (e->inflight > 0 || e->failures > 0)
		return;
	free(e->key);
	*e = g->e[--g->n];
}

/* May identity, from source, start a derivation now? See access.h. */
int
access_guard_begin(struct access_guard *g, const struct config_access *cfg, const char *identity,
    const char *source, int64_t now_ms, struct kmip_error *err)
{
	struct guard_entry *id, *src;

	if ((id = guard_get(g, 'i', identity, now_ms, true)) == NULL)
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "too many clients are having Credentials checked; send it again later");
	/*
	 * Forgiven after a quiet spell twice the longest back-off since the last wrong one: a guesser who
	 * tries again as soon as each back-off ends never gets there.
	 */
	if (id->failures > 0 && id->failed_ms + 2 * (int64_t)cfg->credential_backoff_max * 1000 < now_ms)
		id->failures = 0;
	if (id->until_ms > now_ms)
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "too many wrong Credentials from this client: none is checked for another %lld ms",
		    (long long)(id->until_ms - now_ms));
	if (id->inflight >= cfg->max_derivations_per_identity)
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "this client already has %u Credentials being checked "
		    "(access.max_derivations_per_identity); send it again later", id->inflight);
	/* Held first, so that making the address's entry cannot give this one's slot away. */
	id->inflight++;
	if ((src = guard_get(g, 's', source, now_ms, true)) == NULL) {
		id->inflight--;
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "too many clients are having Credentials checked; send it again later");
	}
	if (src->inflight >= cfg->max_derivations_per_source) {
		id->inflight--;
		return kmip_error_set(err, KMIP_RESULT_REASON_AUTHENTICATION_NOT_SUCCESSFUL,
		    "this address already has %u Credentials being checked "
		    "(access.max_derivations_per_source); send it again later", src->inflight);
	}
	src->inflight++;
	return 0;
}

/* A derivation ended; see access.h. */
void
access_guard_end(struct access_guard *g, const struct config_access *cfg, const char *identity,
    const char *source, bool ok, int64_t now_ms)
{
	struct guard_entry *e;
	int64_t delay;
	unsigned shift;

	if ((e = guard_get(g, 's', source, now_ms, false)) != NULL) {
		if (e->inflight > 0)
			e->inflight--;
		guard_drop_if_empty(g, e);
	}
	if ((e = guard_get(g, 'i', identity, now_ms, false)) == NULL)
		return;
	if (e->inflight > 0)
		e->inflight--;
	if (ok) {
		e->failures = 0;
		e->until_ms = 0;
	} else {
		e->failed_ms = now_ms;
		if (++e->failures >= GUARD_FREE_FAILURES) {
			shift = e->failures - GUARD_FREE_FAILURES;
			delay = (int64_t)GUARD_BACKOFF_MS << (shift > 20 ? 20 : shift);
			if (delay > (int64_t)cfg->credential_backoff_max * 1000)
				delay = (int64_t)cfg->credential_backoff_max * 1000;
			e->until_ms = now_ms + delay;
		}
	}
	guard_drop_if_empty(g, e);
}

/* A derivation ended without a verdict; see access.h. */
void
access_guard_release(struct access_guard *g, const char *identity, const char *source, int64_t now_ms)
{
	struct guard_entry *e;

	if ((e = guard_get(g, 's', source, now_ms, false)) != NULL) {
		if (e->inflight > 0)
			e->inflight--;
		guard_drop_if_empty(g, e);
	}
	if ((e = guard_get(g, 'i', identity, now_ms, false)) != NULL) {
		if (e->inflight > 0)
			e->inflight--;
		guard_drop_if_empty(g, e);
	}
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
