/*
 * Access control: who may see and act on an object, and the username/password Credentials some clients
 * send on top of their certificate.
 *
 * An object belongs to the identity that created it. Its owner and the administrators (access.admins) may
 * do anything with it; identities it is shared with (access.shares, or the object's "x-kmipd-shared-with"
 * attributes) may read it: Get, Get Attributes, Get Attribute List, Locate. Everyone else is told it does
 * not exist.
 */
#ifndef KMIPD_ACCESS_H
#define KMIPD_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "proto/message.h"
#include "proto/ttlv.h"

#define ACCESS_SHARE_ATTRIBUTE	"kmipd-shared-with"	/* vendor "x": 1.x name "x-kmipd-shared-with" */
#define ACCESS_PBKDF2_ITERATIONS 100000			/* for new hashes (kmipctl hash-password) */
#define ACCESS_CREDENTIAL_TRIES	3	/* wrong Credentials one connection may send before it is refused */

struct access_policy;

/*
 * Builds the access policy of cfg: the administrators, the shares and the Credentials parsed once (the
 * config has checked their syntax), and an empty cache of verified Credentials. Built at start and on
 * each reload, so a request never parses the config. Returns 0, or -1 with *cause (malloc'd) set.
 */
int access_policy_new(const struct kmipd_config *cfg, struct access_policy **out, char **cause)
    __attribute__((warn_unused_result));
/* Frees a policy, wiping its password hashes and cache; NULL is accepted. */
void access_policy_free(struct access_policy *p);

/*
 * What an identity may do under access.roles, access.grants and access.default_role: restricted false
 * (administrators, identities no grant names without a default role) means every operation, as before roles;
 * else ops has bit n set for each Operation n of its roles (their union, plus Discover Versions and Query),
 * material says whether Get may return secret material, and roles names the roles for messages.
 */
struct access_rights {
	uint64_t ops;
	bool material;
	bool restricted;
	char roles[128];
};

/*
 * Computes identity's rights from its certificate's subject OUs and its subjectAltNames, each "TYPE:value"
 * (TYPE DNS, URI, email or IP) matched against SAN patterns with fnmatch(3). O(grants); the engine keeps the
 * result per session until the policy changes.
 */
void access_rights(const struct access_policy *p, const char *identity, const char *const *ous, size_t nous,
    const char *const *sans, size_t nsans, struct access_rights *rt);
/* True when rights allow Operation op. */
static inline bool
access_rights_allow(const struct access_rights *rt, uint32_t op)
{
	return !rt->restricted || (op < 64 && (rt->ops & (UINT64_C(1) << op)) != 0);
}

/* True when identity is an administrator. */
bool access_is_admin(const struct access_policy *p, const char *identity);
/*
 * The quotas an identity's objects are held to (access.quotas, else access.max_objects_per_identity and
 * access.max_bytes_per_identity): objects and record bytes, 0 for no limit. O(log n) in access.quotas.
 */
void access_quota(const struct access_policy *p, const char *identity, uint64_t *max_objects,
    uint64_t *max_bytes);
/* What the owner of an object decides before its attributes are read (access_by_owner). */
enum access_verdict {
	ACCESS_NO,		/* not this identity's: answer as for a missing object, decode nothing */
	ACCESS_YES,		/* the owner, or an administrator */
	ACCESS_ATTRS,		/* perhaps shared: access_allowed() decides with the attributes */
};
/*
 * Constant work from a record's fixed header: the owner (owner_len bytes, not NUL-terminated) and whether
 * the object carries a share attribute. Someone else may read only an object marked shared or of an owner
 * access.shares names for them, and change none.
 */
enum access_verdict access_by_owner(const struct access_policy *p, const char *identity, const char *owner,
    size_t owner_len, bool shared, bool write);
/* True when the attributes share the object with someone (an "x-kmipd-shared-with" attribute). */
bool access_object_shared(const struct ttlv *attrs);
/* True when identity may read (write false) or change (write true) an object of owner with attrs. */
bool access_allowed(const struct access_policy *p, const char *identity, const char *owner,
    const struct ttlv *attrs, bool write);
/*
 * True when a is an "x-kmipd-shared-with" attribute. Only those who may change the object see these:
 * an identity it is shared with is not told who else it is shared with.
 */
bool access_is_share_attribute(const struct ttlv *a);
/*
 * The owners whose objects (in the given group, "*" for all) identity may read through access.shares:
 * calls fn for each matching share entry. Used by Locate.
 */
void access_shares_for(const struct access_policy *p, const char *identity,
    void (*fn)(const char *owner, const char *group, size_t group_len, void *arg), void *arg);

#define ACCESS_SALT_MAX		256
#define ACCESS_HASH_BYTES	32

/*
 * The PBKDF2 derivation a Credential check needs when the cache does not know the Credential. The engine
 * has it run by a worker process (keygen.h) and hands the result to access_credential_finish().
 */
struct access_derivation {
	const uint8_t *password;	/* in the request (valid while its arena lives), password_len bytes */
	size_t password_len;
	uint8_t salt[ACCESS_SALT_MAX];
	size_t salt_len;
	unsigned iterations;
	uint8_t expected[ACCESS_HASH_BYTES];	/* the configured hash */
	uint8_t cache_key[32];		/* the Credential's keyed digest: cached once verified, and requests
					   with the same one share its derivation */
	bool known;			/* the username is listed: a match accepts (else it only evens timing) */
};

enum access_credential {
	ACCESS_CREDENTIAL_OK,		/* the request may proceed: no Credential needed, or one in the cache */
	ACCESS_CREDENTIAL_REFUSED,	/* err says why */
	ACCESS_CREDENTIAL_DERIVE,	/* d filled: derive, then access_credential_finish() */
};

/*
 * Checks the request header's Authentication against access.credentials as far as it can without a key
 * derivation: OK, REFUSED with err set (Authentication Not Successful; err also holds that answer when
 * DERIVE, for a derivation that does not match), or DERIVE with d to derive. An unknown username needs the
 * same derivation as a wrong password, so timing does not tell which names exist. Verified Credentials are
 * remembered in the policy's cache as a keyed digest (never the password): a client that sends the same
 * Credential with every request pays one derivation. The caller wipes d (access_derivation_wipe).
 */
enum access_credential access_credential_begin(struct access_policy *p, const struct ttlv *authentication,
    struct access_derivation *d, struct kmip_error *err) __attribute__((warn_unused_result));
/*
 * True when derived (len bytes) is the configured hash of a listed username, compared in constant time;
 * then the Credential goes to p's cache (p NULL: the policy was replaced meanwhile, nothing is cached).
 */
bool access_credential_finish(struct access_policy *p, const struct access_derivation *d, const uint8_t *derived,
    size_t len);
/* Wipes a derivation. */
void access_derivation_wipe(struct access_derivation *d);

/*
 * The whole check in the calling thread, derivation included: for callers without worker processes (tests,
 * an engine without key generation). 0 when the request may proceed, or -1 with err set.
 */
int access_check_credential(struct access_policy *p, const struct ttlv *authentication, struct kmip_error *err)
    __attribute__((warn_unused_result));

/*
 * The guard of Credential derivations, kept by the engine across reloads: how many each client identity and
 * each source address have under way, and the back-off of an identity after wrong Credentials (after
 * ACCESS_GUARD_FREE_FAILURES in a row, 1 s doubling with each further one up to access.credential_backoff_max;
 * a right Credential ends it, and so does a quiet spell of twice that maximum). It remembers at most a few thousand identities and addresses, forgetting the
 * idle ones seen longest ago. Per process.
 */
#define ACCESS_GUARD_FREE_FAILURES	3
struct access_guard;
struct access_guard *access_guard_new(void) __attribute__((warn_unused_result));
void access_guard_free(struct access_guard *g);
/*
 * May identity, from source (an address without its port), start a derivation now? 0 when it may (it then
 * counts as under way until access_guard_end), or -1 with err set: backing off, or too many under way.
 */
int access_guard_begin(struct access_guard *g, const struct config_access *cfg, const char *identity,
    const char *source, int64_t now_ms, struct kmip_error *err) __attribute__((warn_unused_result));
/* The derivation access_guard_begin allowed has ended: ok when the Credential was right. */
void access_guard_end(struct access_guard *g, const struct config_access *cfg, const char *identity,
    const char *source, bool ok, int64_t now_ms);

/*
 * The derivation access_guard_begin allowed has ended without telling whether the Credential was right (the
 * worker failed, memory ran out): no longer under way, and neither right nor wrong.
 */
void access_guard_release(struct access_guard *g, const char *identity, const char *source, int64_t now_ms);

/* A new "pbkdf2-sha256$iterations$salt$hash" for password (malloc'd), or NULL on failure. */
char *access_hash_password(const char *password, unsigned iterations);

#endif
