/*
 * kmipctl internals: the commands that live outside kmipctl.c and what they share (the config, the master
 * key and the store they open the way kmipd does).
 */
#ifndef KMIPD_KMIPCTL_H
#define KMIPD_KMIPCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/masterkey.h"
#include "store/store.h"

#define CTL_DEFAULT_CONFIG "/etc/kmipd/kmipd.conf"
#define CTL_MAX_OVERRIDES 64

/* The options every store command takes. */
struct ctl_args {
	const char *config;		/* -c FILE (default CTL_DEFAULT_CONFIG) */
	char *overrides[CTL_MAX_OVERRIDES];	/* -o key=value, as for kmipd */
	size_t noverrides;
	const char *recovery;		/* --recovery FILE: the recovery key stands for the previous master key */
};

/* The config, its keys and the store, opened as kmipd opens them. */
struct ctl_store {
	struct kmipd_config *cfg;
	struct masterkey keys;
	struct store_options o;
	struct store *store;
};

/* Takes one of the common options (c, o, R); 0, or 2 after printing why. */
int ctl_common_option(struct ctl_args *a, int opt, const char *arg, const char *cmd);
/* Loads the config with the overrides; 0, or 1 after printing why. */
int ctl_config(const struct ctl_args *a, const char *cmd, struct kmipd_config **cfg);
/*
 * Loads the config and the master key and opens the store (read_only: writes nothing). 0, or 1 after
 * printing why. Opening with a previous key (store.previous_master_key_* or --recovery) re-wraps the data
 * keys under the master key, as kmipd does.
 */
int ctl_store_open(const struct ctl_args *a, const char *cmd, bool read_only, struct ctl_store *cs);
void ctl_store_close(struct ctl_store *cs);

/* Progress on a terminal: "cmd: what: done of total (p%)", redrawn in place; nothing when not a tty. */
void ctl_progress(const char *cmd, const char *what, unsigned long long done, unsigned long long total);

/* kmipctl_keys.c */
int cmd_master_key(int argc, char **argv);
int cmd_recovery_key(int argc, char **argv);
int cmd_data_key(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);

#endif
