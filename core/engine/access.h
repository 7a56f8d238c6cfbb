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

/*
 * Checks the request header's Authentication against access.credentials. Returns 0 when the request may
 * proceed, or -1 with err set (Authentication Not Successful). Verified credentials are remembered in the
 * policy's cache (a digest, never the password) so a client that sends them with every request costs one
 * key derivation, not one per request. A wrong Credential always costs a key derivation in the event loop
 * (an unknown username as much as a wrong password), so callers bound how many one connection may try
 * (ACCESS_CREDENTIAL_TRIES).
 */
int access_check_credential(struct access_policy *p, const struct ttlv *authentication, struct kmip_error *err)
    __attribute__((warn_unused_result));

/* A new "pbkdf2-sha256$iterations$salt$hash" for password (malloc'd), or NULL on failure. */
char *access_hash_password(const char *password, unsigned iterations);

#endif
