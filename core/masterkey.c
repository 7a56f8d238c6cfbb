/*
 * The master key named by the config: a file, a systemd credential or a key on a PKCS#11 token (config.c
 * checks that exactly one is set when encryption is on, and at most one previous key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/masterkey.h"

/* Loads one key of the config: the current one, or the previous one of a rotation. */
static int
load_one(const struct config_store *c, bool previous, struct store_kek **out, char **cause)
{
	struct store_kek_source src;

	*out = NULL;
	memset(&src, 0, sizeof(src));
	src.p11_module = c->pkcs11_module;
	src.p11_token = c->pkcs11_token;
	src.p11_pin = c->pkcs11_pin_file;
	if (!previous && c->master_key_file != NULL) {
		src.kind = STORE_KEY_FILE;
		src.path = c->master_key_file;
	} else if (!previous && c->master_key_credential != NULL) {
		src.kind = STORE_KEY_CREDENTIAL;
		src.path = c->master_key_credential;
	} else if (!previous && c->pkcs11_module != NULL) {
		src.kind = STORE_KEY_PKCS11;
		src.p11_key = c->pkcs11_key;
	} else if (previous && c->previous_master_key_file != NULL) {
		src.kind = STORE_KEY_FILE;
		src.path = c->previous_master_key_file;
	} else if (previous && c->previous_master_key_credential != NULL) {
		src.kind = STORE_KEY_CREDENTIAL;
		src.path = c->previous_master_key_credential;
	} else if (previous && c->pkcs11_previous_key != NULL) {
		src.kind = STORE_KEY_PKCS11;
		src.p11_key = c->pkcs11_previous_key;
	} else
		return 0;
	return store_kek_load(&src, out, cause) == STORE_OK ? 0 : -1;
}

/* Loads the keys: see masterkey.h. */
int
masterkey_load(const struct config_store *c, const char *recovery_file, struct masterkey *mk, char **cause)
{
	struct store_kek_source src;

	memset(mk, 0, sizeof(*mk));
	if (!c->encryption)
		return 0;
	if (load_one(c, false, &mk->master, cause) != 0)
		goto fail;
	if (mk->master == NULL) {
		if (cause != NULL) {
			free(*cause);
			*cause = strdup("store.encryption is on but no master key is set: set store.master_key_file, "
			    "store.master_key_credential or store.pkcs11_module (kmipctl master-key create makes "
			    "one), or store.encryption = false for a store kept in clear");
		}
		goto fail;
	}
	if (recovery_file != NULL) {
		memset(&src, 0, sizeof(src));
		src.kind = STORE_KEY_RECOVERY;
		src.path = recovery_file;
		if (store_kek_load(&src, &mk->previous, cause) != STORE_OK)
			goto fail;
	} else if (load_one(c, true, &mk->previous, cause) != 0)
		goto fail;
	return 0;
fail:
	masterkey_free(mk);
	return -1;
}

void
masterkey_free(struct masterkey *mk)
{
	store_kek_free(mk->master);
	store_kek_free(mk->previous);
	memset(mk, 0, sizeof(*mk));
}

void
masterkey_store_options(const struct config_store *c, const struct masterkey *mk, struct store_options *o)
{
	store_options_init(o);
	o->path = c->path;
	o->map_size = (size_t)c->map_size;
	o->max_map_size = (size_t)c->max_map_size;
	o->sync = c->sync == CONFIG_SYNC_RELAXED ? STORE_SYNC_RELAXED : STORE_SYNC_FULL;
	o->encryption = c->encryption;
	o->master = mk->master;
	o->previous = mk->previous;
}

/* Compares two optional strings. */
static bool
differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

bool
masterkey_changed(const struct config_store *a, const struct config_store *b)
{
	return differs(a->master_key_file, b->master_key_file) ||
	    differs(a->master_key_credential, b->master_key_credential) ||
	    differs(a->pkcs11_module, b->pkcs11_module) || differs(a->pkcs11_token, b->pkcs11_token) ||
	    differs(a->pkcs11_key, b->pkcs11_key) || differs(a->pkcs11_pin_file, b->pkcs11_pin_file) ||
	    differs(a->previous_master_key_file, b->previous_master_key_file) ||
	    differs(a->previous_master_key_credential, b->previous_master_key_credential) ||
	    differs(a->pkcs11_previous_key, b->pkcs11_previous_key);
}

/* Checks the keys as a start would: see masterkey.h. */
int
masterkey_check(const struct config_store *c, const char **what, char **cause)
{
	static char said[160];
	struct store_key_status ks;
	struct store_options o;
	struct masterkey mk;
	struct store *s = NULL;
	char data[4200];
	int rc = -1;

	*what = "";
	if (masterkey_load(c, NULL, &mk, cause) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data.mdb", c->path);
	if (access(data, F_OK) != 0) {
		*what = c->encryption ? "no store yet: made encrypted at start" : "no store yet";
		masterkey_free(&mk);
		return 0;
	}
	masterkey_store_options(c, &mk, &o);
	o.read_only = true;
	if (store_open(&o, &s, cause) != STORE_OK)
		goto out;
	if (store_key_status(s, &ks) != STORE_OK)
		goto out;
	if (!ks.encrypted)
		*what = c->encryption ? "store in clear: encrypted at the next start" : "store in clear";
	else {
		snprintf(said, sizeof(said), "store encrypted, data key %u opens with the master key%s",
		    (unsigned)ks.current_data_key, mk.previous != NULL ? " (after the rotation)" : "");
		*what = said;
	}
	rc = 0;
out:
	if (s != NULL)
		store_close(s);
	masterkey_free(&mk);
	return rc;
}
