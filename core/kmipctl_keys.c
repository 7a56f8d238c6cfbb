/*
 * kmipctl's key commands: master, recovery and data keys of the store, and the offline encryption of a
 * store. They open the store the way kmipd does (its config, its master key), so they run on the key
 * server itself; with a systemd credential, run them under systemd-run -p LoadCredentialEncrypted=...
 * (README). LMDB lets them run beside kmipd: kmipd picks up their keyring changes on SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/engine/audit.h"
#include "core/kmipctl.h"
#include "store/p11.h"

static const struct option long_common[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "override", required_argument, NULL, 'o' },
	{ "recovery", required_argument, NULL, 'R' },
	{ "store", required_argument, NULL, 'S' },
	{ "compare", required_argument, NULL, 'C' },
	{ "no-verify", no_argument, NULL, 'N' },
	{ "pkcs11", no_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
ctl_common_option(struct ctl_args *a, int opt, const char *arg, const char *cmd)
{
	switch (opt) {
	case 'c':
		a->config = arg;
		return 0;
	case 'o':
		if (a->noverrides == CTL_MAX_OVERRIDES) {
			fprintf(stderr, "kmipctl %s: more than %d -o options\n", cmd, CTL_MAX_OVERRIDES);
			return 2;
		}
		a->overrides[a->noverrides++] = (char *)arg;
		return 0;
	case 'R':
		a->recovery = arg;
		return 0;
	case 'S':
		a->store = arg;
		return 0;
	case 'C':
		a->compare = arg;
		return 0;
	case 'N':
		a->no_verify = true;
		return 0;
	case 'P':
		a->pkcs11 = true;
		return 0;
	default:
		return 2;
	}
}

int
ctl_config(const struct ctl_args *a, const char *cmd, struct kmipd_config **cfg)
{
	char *cause = NULL;

	if (config_load(a->config != NULL ? a->config : CTL_DEFAULT_CONFIG, a->overrides, a->noverrides, cfg,
	    &cause) != 0) {
		fprintf(stderr, "kmipctl %s: %s\n", cmd, cause != NULL ? cause : "cannot load the configuration");
		free(cause);
		return 1;
	}
	return 0;
}

int
ctl_audit_begin(const struct kmipd_config *cfg, const char *cmd, const char *event, const char *detail,
    struct ctl_audit *au)
{
	struct passwd *pw = getpwuid(geteuid());
	struct audit_field f[4];
	char *cause = NULL;

	memset(au, 0, sizeof(*au));
	au->event = event;
	if (pw != NULL && pw->pw_name != NULL)
		snprintf(au->user, sizeof(au->user), "%s", pw->pw_name);
	else
		snprintf(au->user, sizeof(au->user), "uid %lu", (unsigned long)geteuid());
	snprintf(au->detail, sizeof(au->detail), "%s", detail != NULL ? detail : "");
	if (audit_open(cfg->audit.file, cfg->audit.syslog, &au->a, &cause) != 0) {
		fprintf(stderr, "kmipctl %s: %s%s\n", cmd, cause != NULL ? cause : "audit: cannot open",
		    cfg->audit.required ? "; audit.required is set: not run" : "; running without the audit line");
		free(cause);
		return cfg->audit.required ? 1 : 0;
	}
	audit_set_required(au->a, cfg->audit.required);
	if (!audit_required(au->a))
		return 0;
	/* audit.required: what is not recorded does not run, so the intent is flushed before anything changes. */
	f[0] = (struct audit_field){ "phase", "intent" };
	f[1] = (struct audit_field){ "user", au->user };
	f[2] = (struct audit_field){ "command", cmd };
	f[3] = (struct audit_field){ "detail", au->detail };
	if (audit_note(au->a, event, f, 4) != 0) {
		fprintf(stderr, "kmipctl %s: the audit trail %s cannot be written; audit.required is set: not run\n",
		    cmd, cfg->audit.file);
		audit_close(au->a);
		au->a = NULL;
		return 1;
	}
	return 0;
}

void
ctl_audit_end(struct ctl_audit *au, bool ok, const char *fmt, ...)
{
	struct audit_field f[5];
	char message[512];
	va_list ap;

	if (au->a == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	f[0] = (struct audit_field){ "phase", "outcome" };
	f[1] = (struct audit_field){ "user", au->user };
	f[2] = (struct audit_field){ "detail", au->detail };
	f[3] = (struct audit_field){ "result", ok ? "success" : "failure" };
	f[4] = (struct audit_field){ "message", message };
	if (audit_note(au->a, au->event, f, 5) != 0)
		fprintf(stderr, "kmipctl: the audit outcome line of %s was not written\n", au->event);
	audit_close(au->a);
	au->a = NULL;
}

/*
 * Loads the config and its keys and opens path (NULL: store.path) as a store; see kmipctl.h. With event,
 * the audit trail is begun (ctl_audit_begin) before the keys are loaded, since opening can re-wrap them.
 */
static int
open_with_keys(const struct ctl_args *a, const char *cmd, const char *path, bool read_only, const char *event,
    const char *detail, struct ctl_store *cs)
{
	char *cause = NULL;
	int rc;

	memset(cs, 0, sizeof(*cs));
	if (ctl_config(a, cmd, &cs->cfg) != 0)
		return 1;
	if (event != NULL && ctl_audit_begin(cs->cfg, cmd, event, detail, &cs->audit) != 0) {
		ctl_store_close(cs);
		return 1;
	}
	if (masterkey_load(&cs->cfg->store, a->recovery, &cs->keys, &cause) != 0) {
		fprintf(stderr, "kmipctl %s: master key: %s\n", cmd, cause != NULL ? cause : "?");
		goto fail;
	}
	masterkey_store_options(&cs->cfg->store, &cs->keys, &cs->o);
	cs->o.read_only = read_only;
	if (path != NULL) {
		cs->o.path = path;
		cs->o.single_file = true;
	}
	if ((rc = store_open(&cs->o, &cs->store, &cause)) != STORE_OK) {
		/* The store's sentences mostly begin with the path already. */
		if (cause != NULL && strncmp(cause, cs->o.path, strlen(cs->o.path)) == 0)
			fprintf(stderr, "kmipctl %s: %s\n", cmd, cause);
		else
			fprintf(stderr, "kmipctl %s: %s %s: %s\n", cmd, path != NULL ? "backup" : "store", cs->o.path,
			    cause != NULL ? cause : store_strerror(rc));
		if (path != NULL && rc == STORE_E_INVALID)
			fprintf(stderr, "kmipctl %s: a backup opens with the master key of the store it was made from "
			    "(-o store.master_key_file=FILE names another), or with its recovery key (--recovery "
			    "FILE)\n", cmd);
		goto fail;
	}
	return 0;
fail:
	free(cause);
	ctl_store_close(cs);
	return 1;
}

int
ctl_store_open(const struct ctl_args *a, const char *cmd, bool read_only, struct ctl_store *cs)
{
	return open_with_keys(a, cmd, NULL, read_only, NULL, NULL, cs);
}

int
ctl_store_open_admin(const struct ctl_args *a, const char *cmd, const char *event, const char *detail,
    struct ctl_store *cs)
{
	return open_with_keys(a, cmd, NULL, false, event, detail, cs);
}

int
ctl_backup_open(const struct ctl_args *a, const char *cmd, const char *file, struct ctl_store *cs)
{
	return open_with_keys(a, cmd, file, true, NULL, NULL, cs);
}

void
ctl_store_close(struct ctl_store *cs)
{
	ctl_audit_end(&cs->audit, false, "failed: see kmipctl's error output");
	if (cs->store != NULL)
		store_close(cs->store);
	masterkey_free(&cs->keys);
	config_free(cs->cfg);
	memset(cs, 0, sizeof(*cs));
}

void
ctl_progress(const char *cmd, const char *what, unsigned long long done, unsigned long long total)
{
	if (!isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\rkmipctl %s: %s: %llu of %llu (%llu%%)%s", cmd, what, done, total,
	    total > 0 ? done * 100 / total : 100, done >= total ? "\n" : "");
}

void
ctl_progress_records(void *cmd, uint64_t done, uint64_t total)
{
	ctl_progress(cmd, "records", done, total);
}

int
ctl_parse(int argc, char **argv, const char *cmd, const char *usage_line, const char *allowed, struct ctl_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:o:h", long_common, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: kmipctl %s\n", usage_line);
			return -1;
		}
		if ((c != 'c' && c != 'o' && strchr(allowed, c) == NULL) ||
		    ctl_common_option(a, c, optarg, cmd) != 0) {
			fprintf(stderr, "kmipctl %s: unknown or misplaced option %s\nusage: kmipctl %s\n", cmd,
			    argv[optind - 1], usage_line);
			return -2;
		}
	}
	return optind;
}

/* Reads a token PIN the way the store does, for master-key create --pkcs11. */
static int
read_pin_file(const char *spec, char *pin, size_t size)
{
	const char *path = spec;
	char buf[4096];
	FILE *f;
	size_t n;

	if (strncmp(spec, "credential:", 11) == 0) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (dir == NULL)
			return -1;
		snprintf(buf, sizeof(buf), "%s/%s", dir, spec + 11);
		path = buf;
	}
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(pin, 1, size - 1, f);
	fclose(f);
	while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		n--;
	pin[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* kmipctl master-key create FILE | --pkcs11 [-c CONFIG]: a new master key. */
int
cmd_master_key(int argc, char **argv)
{
	static const char usage_line[] = "master-key create FILE | master-key create --pkcs11 [-c CONFIG] [-o k=v]";
	struct kmipd_config *cfg = NULL;
	struct store_p11_config pc;
	struct ctl_args a;
	char *cause = NULL, pin[256];
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "master-key", usage_line, "P", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i < 1 || strcmp(argv[i], "create") != 0 || argc - i != (a.pkcs11 ? 1 : 2)) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (!a.pkcs11) {
		if (store_master_key_create(argv[i + 1], &cause) != STORE_OK) {
			fprintf(stderr, "kmipctl master-key: %s\n", cause != NULL ? cause : "failed");
			free(cause);
			return 1;
		}
		printf("kmipctl master-key: wrote a new master key to %s (mode 0600); keep a copy apart from "
		    "the store's backups\n", argv[i + 1]);
		return 0;
	}
	if (ctl_config(&a, "master-key", &cfg) != 0)
		return 1;
	if (cfg->store.pkcs11_module == NULL || cfg->store.pkcs11_token == NULL ||
	    cfg->store.pkcs11_pin_file == NULL) {
		fprintf(stderr, "kmipctl master-key: the config sets no store.pkcs11_module, store.pkcs11_token "
		    "and store.pkcs11_pin_file\n");
		goto out;
	}
	if (read_pin_file(cfg->store.pkcs11_pin_file, pin, sizeof(pin)) != 0) {
		fprintf(stderr, "kmipctl master-key: %s: cannot read the PIN\n", cfg->store.pkcs11_pin_file);
		goto out;
	}
	memset(&pc, 0, sizeof(pc));
	pc.module = cfg->store.pkcs11_module;
	pc.token_label = cfg->store.pkcs11_token;
	pc.key_label = cfg->store.pkcs11_key;
	pc.pin = pin;
	pc.pin_len = strlen(pin);
	if (store_p11_create(&pc, &cause) != 0)
		fprintf(stderr, "kmipctl master-key: %s\n", cause != NULL ? cause : "failed");
	else {
		printf("kmipctl master-key: made the AES-256 key \"%s\" on token \"%s\" (not extractable)\n",
		    cfg->store.pkcs11_key, cfg->store.pkcs11_token);
		rc = 0;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	free(cause);
out:
	config_free(cfg);
	return rc;
}

/* kmipctl recovery-key create [-c CONFIG]: prints a new recovery key once. */
int
cmd_recovery_key(int argc, char **argv)
{
	static const char usage_line[] = "recovery-key create [-c CONFIG] [-o k=v]";
	struct ctl_store cs;
	struct ctl_args a;
	char text[STORE_RECOVERY_TEXT], *cause = NULL;
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "recovery-key", usage_line, "", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i != 1 || strcmp(argv[i], "create") != 0) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (ctl_store_open_admin(&a, "recovery-key", "admin_recovery_key_create", "recovery-key create", &cs) != 0)
		return 1;
	if (store_recovery_key_new(cs.store, text, sizeof(text), &cause) != STORE_OK) {
		fprintf(stderr, "kmipctl recovery-key: %s\n", cause != NULL ? cause : "failed");
		ctl_audit_end(&cs.audit, false, "%s", cause != NULL ? cause : "failed");
		free(cause);
	} else {
		/* Never the key itself: only that one was made. */
		ctl_audit_end(&cs.audit, true, "a new recovery key was made; earlier ones open nothing now");
		printf("%s\n", text);
		fprintf(stderr, "kmipctl recovery-key: this is the only time the recovery key is shown. Keep it "
		    "offline (paper, a safe). With it, kmipctl encrypt --recovery FILE opens this store or any "
		    "backup of it where the master key is lost. Any earlier recovery key opens nothing now.\n");
		rc = 0;
	}
	OPENSSL_cleanse(text, sizeof(text));
	ctl_store_close(&cs);
	return rc;
}

/* kmipctl data-key rotate [-c CONFIG]: a new data key; kmipd re-encrypts in the background after SIGHUP. */
int
cmd_data_key(int argc, char **argv)
{
	static const char usage_line[] = "data-key rotate [-c CONFIG] [-o k=v]";
	struct store_key_status ks;
	struct ctl_store cs;
	struct ctl_args a;
	char *cause = NULL;
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "data-key", usage_line, "", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i != 1 || strcmp(argv[i], "rotate") != 0) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (ctl_store_open_admin(&a, "data-key", "admin_data_key_rotate", "data-key rotate", &cs) != 0)
		return 1;
	if (store_data_key_new(cs.store, &cause) != STORE_OK) {
		fprintf(stderr, "kmipctl data-key: %s\n", cause != NULL ? cause : "failed");
		ctl_audit_end(&cs.audit, false, "%s", cause != NULL ? cause : "failed");
		free(cause);
	} else if (store_key_status(cs.store, &ks) == STORE_OK) {
		ctl_audit_end(&cs.audit, true, "data key %u is current", (unsigned)ks.current_data_key);
		printf("kmipctl data-key: data key %u is current; send kmipd SIGHUP (systemctl reload kmipd) and "
		    "it re-encrypts the records in the background, or run kmipctl encrypt while it is stopped\n",
		    (unsigned)ks.current_data_key);
		rc = 0;
	}
	ctl_store_close(&cs);
	return rc;
}

/* kmipctl keys [-c CONFIG]: what the store's keys are. */
int
cmd_keys(int argc, char **argv)
{
	static const char usage_line[] = "keys [-c CONFIG] [-o k=v]";
	struct store_key_status ks;
	struct ctl_store cs;
	struct ctl_args a;
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "keys", usage_line, "", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc != i) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (ctl_store_open(&a, "keys", true, &cs) != 0)
		return 1;
	if (store_key_status(cs.store, &ks) == STORE_OK) {
		printf("store: %s\nencrypted: %s\n", cs.cfg->store.path, ks.encrypted ? "yes" : "no");
		if (ks.encrypted) {
			printf("master key: %s\ncurrent data key: %u\ndata keys: %u%s\nrecovery key: %s\n",
			    store_kek_describe(cs.keys.master), (unsigned)ks.current_data_key, ks.data_keys,
			    ks.data_keys > 1 ? " (re-encryption under way)" : "", ks.recovery ? "set" : "none");
			if (ks.clear_pages)
				printf("clear pages: the file may still hold key material in clear (kmipctl "
				    "encrypt)\n");
		}
		rc = 0;
	}
	ctl_store_close(&cs);
	return rc;
}

/* kmipctl encrypt [-c CONFIG] [--recovery FILE]: encrypts or re-encrypts the whole store, kmipd stopped. */
int
cmd_encrypt(int argc, char **argv)
{
	static const char usage_line[] = "encrypt [-c CONFIG] [-o k=v] [--recovery FILE]";
	struct store_key_status before, after;
	struct ctl_store cs;
	struct ctl_args a;
	char *cause = NULL;
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "encrypt", usage_line, "R", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc != i) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (ctl_store_open_admin(&a, "encrypt", "admin_encrypt", a.recovery != NULL ? "encrypt --recovery" : "encrypt",
	    &cs) != 0)
		return 1;
	if (store_key_status(cs.store, &before) != STORE_OK) {
		fprintf(stderr, "kmipctl encrypt: %s\n", store_last_error(cs.store));
		goto out;
	}
	if (!before.encrypted) {
		fprintf(stderr, "kmipctl encrypt: store.encryption is off in the config\n");
		goto out;
	}
	if (store_migrate(&cs.store, &cs.o, ctl_progress_records, "encrypt", &cause) != STORE_OK) {
		fprintf(stderr, "kmipctl encrypt: %s; nothing is lost, run it again to go on\n",
		    cause != NULL ? cause : "failed");
		ctl_audit_end(&cs.audit, false, "%s", cause != NULL ? cause : "failed");
		free(cause);
		goto out;
	}
	if (store_key_status(cs.store, &after) != STORE_OK) {
		fprintf(stderr, "kmipctl encrypt: %s\n", store_last_error(cs.store));
		goto out;
	}
	printf("kmipctl encrypt: every record is sealed under data key %u (master key: %s)\n",
	    (unsigned)after.current_data_key, store_kek_describe(cs.keys.master));
	ctl_audit_end(&cs.audit, true, "every record is sealed under data key %u (master key: %s)",
	    (unsigned)after.current_data_key, store_kek_describe(cs.keys.master));
	if (before.clear_pages)
		printf("kmipctl encrypt: the store was in clear and is now compacted; backups made before hold "
		    "keys in clear: destroy them\n");
	rc = 0;
out:
	ctl_store_close(&cs);
	return rc;
}
