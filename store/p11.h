/*
 * store_p11: a master key on a PKCS#11 token, for the store's encryption at rest. Internal to the store
 * module.
 *
 * The master key is a non-extractable AES-256 key on the token, found by the token's label and the key's
 * CKA_LABEL. The store never sees it: it asks the token to seal and open (AES-256-GCM) the 32-byte data
 * key at start and at rotation, so these calls are few and may block (a network HSM): never in the event
 * loop.
 *
 * Caveats:
 * - A module is loaded once per path and never unloaded: several modules (SoftHSM2 among them) leak or
 *   crash when unloaded.
 * - The module is initialised (C_Initialize) by the first open key of a process and finalised
 *   (C_Finalize) when its last one closes; if something else in the process initialised it first, it is
 *   left initialised. No threads: the module is initialised without locking.
 * - After fork() the child must not use the keys it inherited (PKCS#11 forbids using a parent's
 *   initialisation): store_p11_gcm() refuses them, store_p11_close() only frees them, and a
 *   store_p11_open() in the child initialises the module again for the child.
 * - The PIN is passed to C_Login and not kept; the caller wipes its own copy.
 * - The IV must never repeat under one key: the caller draws a random one for each seal.
 *
 * Symbol prefix: store_p11_.
 */
#ifndef KMIPD_STORE_P11_H
#define KMIPD_STORE_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_P11_IV_LEN	12	/* GCM IV bytes, chosen by the caller */
#define STORE_P11_TAG_LEN	16	/* GCM tag bytes, after the ciphertext */
#define STORE_P11_LABEL_MAX	128	/* bytes of a key label */

/* Errors: every int-returning function here returns 0 (STORE_P11_OK) or one of these. */
enum store_p11_err {
	STORE_P11_OK = 0,
	STORE_P11_E_FAIL = 1,	/* a bad argument, or the module or token failed or refused: *cause says */
	STORE_P11_E_AUTH = 2,	/* opening: the tag did not verify (another key, IV or AAD, or altered data) */
	STORE_P11_E_EXISTS = 3,	/* store_p11_create: the token holds a secret key with that label already */
};

const char *store_p11_strerror(int err);

struct store_p11_config {
	const char *module;		/* path of the PKCS#11 module (.so) */
	const char *token_label;	/* CK_TOKEN_INFO.label, 1 to 32 bytes (the token pads it with spaces) */
	const char *key_label;		/* CKA_LABEL of the AES key, 1 to STORE_P11_LABEL_MAX bytes */
	const char *pin;		/* user PIN bytes */
	size_t pin_len;
};

/* An open master key: the module, a logged-in session and the key's handle. */
struct store_p11_key;

/*
 * Loads the module, initialises it, finds the token by its label, opens a read-write session, logs in as
 * the user and finds the one AES secret key with that label (none or several: STORE_P11_E_FAIL). Every
 * failure puts a malloc'd sentence in *cause naming the step and the CKR_ code.
 */
int store_p11_open(const struct store_p11_config *c, struct store_p11_key **out, char **cause) STORE_WUR;
/*
 * Generates the master key on the token: AES-256, a token object, private, sensitive, not extractable,
 * for encryption and decryption only (no wrapping), with the label and a random CKA_ID. STORE_P11_E_EXISTS
 * when the token holds a secret key with that label already.
 */
int store_p11_create(const struct store_p11_config *c, char **cause) STORE_WUR;
/*
 * AES-256-GCM with the token's key, a 12-byte IV and a 16-byte tag. Sealing (encrypt) writes in_len +
 * STORE_P11_TAG_LEN bytes to out: the ciphertext, then the tag. Opening takes the same (in_len counts the
 * tag) and writes in_len - STORE_P11_TAG_LEN bytes; a tag that does not verify gives STORE_P11_E_AUTH, and
 * out is wiped on every failure. aad may be NULL when aad_len is 0; out must not overlap in.
 */
int store_p11_gcm(struct store_p11_key *k, bool encrypt, const uint8_t iv[STORE_P11_IV_LEN], const uint8_t *aad,
    size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, char **cause) STORE_WUR;
/* "pkcs11 token LABEL key LABEL (serial SERIAL)": stable, for logs and key identifiers; held by the key. */
const char *store_p11_describe(const struct store_p11_key *k);
/* Closes the key: logs out, closes the session, finalises the module with its last key. NULL is accepted. */
void store_p11_close(struct store_p11_key *k);

#endif
