/*
 * masterkey: the store's master key (and the previous one during a rotation) named by the config, and the
 * store options that go with them; shared by kmipd and kmipctl.
 */
#ifndef KMIPD_MASTERKEY_H
#define KMIPD_MASTERKEY_H

#include "core/config.h"
#include "store/store.h"

struct masterkey {
	struct store_kek *master;	/* NULL when store.encryption is off */
	struct store_kek *previous;	/* NULL unless a rotation names the previous key */
};

/*
 * Loads the keys the config names. recovery_file, when not NULL, is a recovery key file that stands for
 * the previous key (kmipctl, restoring where the master key is lost). 0, or -1 with *cause.
 */
int masterkey_load(const struct config_store *c, const char *recovery_file, struct masterkey *mk, char **cause)
    __attribute__((warn_unused_result));
/* Wipes and frees the keys; the struct may be loaded again. */
void masterkey_free(struct masterkey *mk);
/* Store options for the config's store with these keys (they must outlive the store). */
void masterkey_store_options(const struct config_store *c, const struct masterkey *mk, struct store_options *o);
/* True when the key settings differ between two configs (a reload must load them again). */
bool masterkey_changed(const struct config_store *a, const struct config_store *b);

/*
 * What kmipd -t checks of the keys: the master key loads (a key file private to its owner, the token and
 * PIN), and when the store exists, its data keys open with it. 0 with *what saying what was found, or -1
 * with *cause.
 */
int masterkey_check(const struct config_store *c, const char **what, char **cause)
    __attribute__((warn_unused_result));

#endif
