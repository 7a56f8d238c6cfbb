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

/*
 * The audit line of an administrative command (one that changes the store or its keys), written to the
 * config's audit.file / audit.syslog as kmipd writes its own: event, the OS user running kmipctl, what
 * the command was asked (detail) and its outcome.
 */
struct ctl_audit {
	struct audit *a;		/* NULL: no trail configured, or the line is written */
	const char *event;		/* "admin_purge", ... */
	char user[64];
	char detail[512];
};

/* The config, its keys and the store, opened as kmipd opens them. */
struct ctl_store {
	struct kmipd_config *cfg;
	struct masterkey keys;
	struct store_options o;
	struct store *store;
	struct ctl_audit audit;		/* set by ctl_store_open_admin or ctl_audit_begin */
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
/*
 * Closes what cs holds; an administrative command's audit line not written yet is written as a failure
 * (the command stopped on an error it printed).
 */
void ctl_store_close(struct ctl_store *cs);
/*
 * Opens cfg's audit trail for the administrative command cmd (event, detail: what it was asked). With
 * audit.required an intent line is written and flushed first. 0, or 1 after printing why: audit.required
 * is set and the trail cannot be opened or written, so the command must not run. Without audit.required a
 * trail that cannot be opened is warned about and the command runs.
 */
int ctl_audit_begin(const struct kmipd_config *cfg, const char *cmd, const char *event, const char *detail,
    struct ctl_audit *au) __attribute__((warn_unused_result));
/* Writes the outcome line (ok: success, else failure) with a message, then closes; no-op when done. */
void ctl_audit_end(struct ctl_audit *au, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ctl_store_open (read-write) for an administrative command: the audit trail is begun before the store opens. */
int ctl_store_open_admin(const struct ctl_args *a, const char *cmd, const char *event, const char *detail,
    struct ctl_store *cs);

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

/* kmipctl_status.c */
int cmd_status(int argc, char **argv);

#endif
