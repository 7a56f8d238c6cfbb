/*
 * kmipctl internals: the commands that live outside kmipctl.c and what they share (the config, the master
 * key and the store they open the way kmipd does).
 */
#ifndef KMIPD_KMIPCTL_H
#define KMIPD_KMIPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	const char *store;		/* --store PATH: a store folder named directly, without a config */
	const char *compare;		/* --compare PATH: the store folder a restore replaces, moved aside */
	bool no_verify;			/* --no-verify */
	bool pkcs11;			/* --pkcs11 */
};

/* The config, its keys and the store, opened as kmipd opens them. */
struct ctl_store {
	struct kmipd_config *cfg;
	struct masterkey keys;
	struct store_options o;
	struct store *store;
};

/* Takes one of the common options (c, o, R, S, C, N, P); 0, or 2 after printing why. */
int ctl_common_option(struct ctl_args *a, int opt, const char *arg, const char *cmd);
/*
 * Parses a store command's options: -c, -o, -h, and the long ones whose letters are in allowed (R
 * --recovery, S --store, C --compare, N --no-verify, P --pkcs11). The index of the first operand, or -1
 * after printing the usage (exit 0), or -2 after printing why (exit 2).
 */
int ctl_parse(int argc, char **argv, const char *cmd, const char *usage_line, const char *allowed,
    struct ctl_args *a);
/* Loads the config with the overrides; 0, or 1 after printing why. */
int ctl_config(const struct ctl_args *a, const char *cmd, struct kmipd_config **cfg);
/*
 * Loads the config and the master key and opens the store (read_only: writes nothing). 0, or 1 after
 * printing why. Opening with a previous key (store.previous_master_key_* or --recovery) re-wraps the data
 * keys under the master key, as kmipd does.
 */
int ctl_store_open(const struct ctl_args *a, const char *cmd, bool read_only, struct ctl_store *cs);
/* The same for a backup file, opened read-only as a store with the config's keys (or --recovery). */
int ctl_backup_open(const struct ctl_args *a, const char *cmd, const char *file, struct ctl_store *cs);
void ctl_store_close(struct ctl_store *cs);

/* Progress on a terminal: "cmd: what: done of total (p%)", redrawn in place; nothing when not a tty. */
void ctl_progress(const char *cmd, const char *what, unsigned long long done, unsigned long long total);
/* The same as a store_progress_fn of records, arg being the command's name. */
void ctl_progress_records(void *cmd, uint64_t done, uint64_t total);

/* kmipctl_keys.c */
int cmd_master_key(int argc, char **argv);
int cmd_recovery_key(int argc, char **argv);
int cmd_data_key(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);

/* kmipctl_backup.c */
int cmd_backup(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/* kmipctl_usage.c */
int cmd_usage(int argc, char **argv);
int cmd_purge(int argc, char **argv);

#endif
