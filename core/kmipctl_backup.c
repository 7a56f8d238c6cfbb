/*
 * kmipctl's backup commands: backup (a hot, compacted copy of the store into one file or a stream), verify
 * (every record of a backup opens with the master key) and restore (a verified backup into a stopped
 * server's empty store, listing what comes back). A backup holds what the store holds: key material sealed
 * under data keys that only the master key or the recovery key opens, everything else in clear. So making
 * one needs no key, and a backup is of use only with a key kept apart from it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/kmipctl.h"
#include "proto/names.h"

#define TALLY_TYPES	16	/* Object Type values counted apart; larger ones count as 0 */
#define TALLY_STATES	8

/* What a backup holds, by Object Type and State, and the records that failed. */
struct tally {
	uint64_t n[TALLY_TYPES][TALLY_STATES];
	uint64_t records, failed;
};

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress in bytes of a copy, as a store_progress_fn whose arg is the command's name. */
static void
bytes_progress(void *cmd, uint64_t done, uint64_t total)
{
	ctl_progress(cmd, "bytes", done, total);
}

/* An enumeration's name, or its number in a static buffer when it has none. */
static const char *
enum_name(uint32_t tag, uint32_t v)
{
	static char buf[16];
	const char *s = ttlv_enum_name(tag, v);

	if (s != NULL)
		return s;
	snprintf(buf, sizeof(buf), "0x%08" PRIx32, v);
	return buf;
}

/* Says on stderr what the copy holds, loudly when its key material is in clear. */
static void
say_held(const char *cmd, const struct store_backup_info *info)
{
	if (info->unreadable > 0)
		fprintf(stderr, "kmipctl %s: %" PRIu64 " records do not parse: kmipctl verify names them\n", cmd,
		    info->unreadable);
	if (!info->encrypted || info->clear > 0)
		fprintf(stderr, "kmipctl %s: WARNING: the key material of %" PRIu64 " objects is IN CLEAR in this "
		    "backup (%s): whoever reads the file has those keys. Keep it like the keys themselves, or "
		    "encrypt the store (kmipctl encrypt, kmipd stopped) and back up again.\n", cmd,
		    info->encrypted ? info->clear : info->objects, info->encrypted ? "the store's encryption "
		    "is not finished" : "the store is not encrypted");
	else
		fprintf(stderr, "kmipctl %s: key material is sealed: the backup is of use only with the master "
		    "key or the recovery key, which must be kept apart from it\n", cmd);
}

/* kmipctl backup [-c CONFIG] [--store PATH] FILE|-: a hot backup into a new file or stdout. */
int
cmd_backup(int argc, char **argv)
{
	static const char usage_line[] = "backup [-c CONFIG] [-o k=v] [--store PATH] FILE|-";
	struct store_backup_info info;
	struct kmipd_config *cfg = NULL;
	struct ctl_args a;
	const char *store, *dest;
	char *cause = NULL;
	double t0;
	int i, err, rc = 1;

	if ((i = ctl_parse(argc, argv, "backup", usage_line, "S", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i != 1) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		if (argc - i == 2)
			fprintf(stderr, "kmipctl backup: the store comes from the config (or --store PATH) and the "
			    "backup is one FILE, or - for stdout\n");
		return 2;
	}
	dest = argv[i];
	if (a.store != NULL)
		store = a.store;
	else if (ctl_config(&a, "backup", &cfg) != 0)
		return 1;
	else
		store = cfg->store.path;
	t0 = now();
	if (strcmp(dest, "-") == 0) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "kmipctl backup: stdout is a terminal: redirect or pipe it, or give a FILE\n");
			goto out;
		}
		/* A reader that goes away (ssh dropped) is an error to report, not a silent death. */
		signal(SIGPIPE, SIG_IGN);
		dest = "stdout";
		err = store_backup(store, STDOUT_FILENO, bytes_progress, "backup", &info, &cause);
		/* Redirected into a file, it is made durable too; a pipe cannot be synced. */
		if (err == STORE_OK && fsync(STDOUT_FILENO) != 0 && errno != EINVAL && errno != EROFS) {
			fprintf(stderr, "kmipctl backup: stdout: %s\n", strerror(errno));
			goto out;
		}
	} else
		err = store_backup_file(store, dest, bytes_progress, "backup", &info, &cause);
	if (err != STORE_OK) {
		fprintf(stderr, "kmipctl backup: %s\n", cause != NULL ? cause : store_strerror(err));
		goto out;
	}
	fprintf(stderr, "kmipctl backup: %s to %s: %" PRIu64 " objects%s, %" PRIu64 " bytes in %.1f s\n", store,
	    dest, info.objects, info.counted_at_start ? " (counted as the copy began)" : "", info.bytes,
	    now() - t0);
	say_held("backup", &info);
	rc = 0;
out:
	free(cause);
	config_free(cfg);
	return rc;
}

/*
 * Reads every record of s with its key material, counting them by type and state; each one that fails is
 * named on stderr. 0, or -1 after printing why the records could not be listed.
 */
static int
check_records(struct store *s, const char *cmd, struct tally *t)
{
	struct store_object *o;
	struct store_stats st;
	struct store_txn *txn;
	const char *why;
	char **uids = NULL;
	size_t n = 0, i;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = store_stat(s, &st)) != STORE_OK || (rc = store_txn_begin(s, false, &txn)) != STORE_OK) {
		fprintf(stderr, "kmipctl %s: %s (%s)\n", cmd, store_strerror(rc), store_last_error(s));
		return -1;
	}
	/* The owner index lists every object: each has one owner. */
	if ((rc = store_index_uids(txn, STORE_IDX_OWNER, NULL, 0, &uids, &n)) != STORE_OK) {
		fprintf(stderr, "kmipctl %s: cannot list the objects: %s (%s)\n", cmd, store_strerror(rc),
		    store_last_error(s));
		store_txn_abort(txn);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((rc = store_get(txn, uids[i], &o)) == STORE_OK) {
			t->n[o->object_type < TALLY_TYPES ? o->object_type : 0]
			    [o->state < TALLY_STATES ? o->state : 0]++;
			store_object_free(o);
		} else {
			/* The store's detail names the record; a failure without one gets the uid here. */
			if (strstr(why = store_last_error(s), uids[i]) != NULL)
				fprintf(stderr, "kmipctl %s: %s\n", cmd, why);
			else
				fprintf(stderr, "kmipctl %s: record %s: %s\n", cmd, uids[i], store_strerror(rc));
			t->failed++;
		}
		t->records++;
		if (i % 1024 == 1023 || i + 1 == n)
			ctl_progress(cmd, "records", i + 1, n);
	}
	store_txn_abort(txn);
	store_uids_free(uids, n);
	if (st.objects != n) {
		fprintf(stderr, "kmipctl %s: %" PRIu64 " records, but %zu in the owner index: the indexes are "
		    "damaged\n", cmd, st.objects, n);
		t->failed += st.objects > n ? st.objects - n : n - st.objects;
	}
	return 0;
}

/* Checks every record of an open backup and prints what it holds; 0, or 1 after naming what failed. */
static int
verify_backup(struct ctl_store *cs, const char *cmd, const char *file, const char *recovery)
{
	struct store_key_status ks;
	struct tally t;
	unsigned ty, st;

	if (store_key_status(cs->store, &ks) != STORE_OK) {
		fprintf(stderr, "kmipctl %s: %s: %s\n", cmd, file, store_last_error(cs->store));
		return 1;
	}
	if (check_records(cs->store, cmd, &t) != 0)
		return 1;
	printf("backup: %s\n", file);
	if (ks.encrypted)
		printf("encrypted: yes; data keys opened with the %s%s%s\n", store_kek_describe(cs->keys.master),
		    recovery != NULL ? " or the recovery key " : "", recovery != NULL ? recovery : "");
	else {
		printf("encrypted: NO, key material in clear\n");
		fprintf(stderr, "kmipctl %s: WARNING: %s holds key material IN CLEAR\n", cmd, file);
	}
	printf("objects: %" PRIu64 "\n", t.records);
	for (ty = 0; ty < TALLY_TYPES; ty++)
		for (st = 0; st < TALLY_STATES; st++)
			if (t.n[ty][st] > 0)
				printf("  %s, %s: %" PRIu64 "\n", enum_name(KMIP_TAG_OBJECT_TYPE, ty),
				    enum_name(KMIP_TAG_STATE, st), t.n[ty][st]);
	if (t.failed > 0) {
		fprintf(stderr, "kmipctl %s: %s: %" PRIu64 " records fail (named above)\n", cmd, file, t.failed);
		return 1;
	}
	printf("verified: every record opens and parses\n");
	return 0;
}

/* kmipctl verify [-c CONFIG] [--recovery FILE] FILE: every record of a backup opens with the keys. */
int
cmd_verify(int argc, char **argv)
{
	static const char usage_line[] = "verify [-c CONFIG] [-o k=v] [--recovery FILE] FILE";
	struct ctl_store cs;
	struct ctl_args a;
	int i, rc;

	if ((i = ctl_parse(argc, argv, "verify", usage_line, "R", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i != 1) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return 2;
	}
	if (ctl_backup_open(&a, "verify", argv[i], &cs) != 0)
		return 1;
	rc = verify_backup(&cs, "verify", argv[i], a.recovery);
	ctl_store_close(&cs);
	return rc;
}

/* True for the states that say a key must not be used again. */
static bool
retired(uint32_t state)
{
	return state == KMIP_STATE_COMPROMISED || state == KMIP_STATE_DESTROYED ||
	    state == KMIP_STATE_DESTROYED_COMPROMISED;
}

/*
 * Prints the objects of from that other does not have (lost: from is the current store) or, from being
 * the backup, those that other has retired since (absent, or Compromised or Destroyed there and not so in
 * the backup): they come back. Returns how many, or -1 after printing why.
 */
static int64_t
list_difference(struct store *from, struct store *other, bool lost, const char *other_name, const char *cmd)
{
	struct store_txn *tf = NULL, *to = NULL;
	struct store_object *a, *b = NULL;
	char **uids = NULL;
	size_t n = 0, i;
	int64_t found = 0;
	int rc;

	if ((rc = store_txn_begin(from, false, &tf)) != STORE_OK ||
	    (rc = store_txn_begin(other, false, &to)) != STORE_OK ||
	    (rc = store_index_uids(tf, STORE_IDX_OWNER, NULL, 0, &uids, &n)) != STORE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((rc = store_get_meta(tf, uids[i], &a)) != STORE_OK)
			goto fail;
		b = NULL;
		if ((rc = store_get_meta(to, uids[i], &b)) != STORE_OK && rc != STORE_E_NOTFOUND) {
			store_object_free(a);
			goto fail;
		}
		if (lost && b == NULL) {
			printf("lost: %s %s, %s in %s: made after the backup\n", a->uid,
			    enum_name(KMIP_TAG_OBJECT_TYPE, a->object_type), enum_name(KMIP_TAG_STATE, a->state),
			    other_name);
			found++;
		} else if (!lost && (b == NULL || (retired(b->state) && b->state != a->state))) {
			printf("back: %s %s, %s in the backup, ", a->uid, enum_name(KMIP_TAG_OBJECT_TYPE,
			    a->object_type), enum_name(KMIP_TAG_STATE, a->state));
			if (b == NULL)
				printf("absent from %s\n", other_name);
			else
				printf("%s in %s\n", enum_name(KMIP_TAG_STATE, b->state), other_name);
			found++;
		}
		store_object_free(a);
		store_object_free(b);
	}
	rc = STORE_OK;
fail:
	if (rc != STORE_OK)
		fprintf(stderr, "kmipctl %s: comparing with %s: %s\n", cmd, other_name, store_strerror(rc));
	store_uids_free(uids, n);
	store_txn_abort(tf);
	store_txn_abort(to);
	return rc != STORE_OK ? -1 : found;
}

/*
 * Compares the open backup with the store folder current (opened read-only with the same keys) and lists
 * what a restore brings back and what it loses. 0, or 1 after printing why.
 */
static int
compare(struct ctl_store *cs, const char *current, const char *cmd)
{
	struct store_options o = cs->o;
	struct store *cur = NULL;
	char *cause = NULL;
	int64_t back, lost;

	o.path = current;
	o.single_file = false;
	o.read_only = true;
	if (store_open(&o, &cur, &cause) != STORE_OK) {
		fprintf(stderr, "kmipctl %s: cannot compare with %s: %s\n", cmd, current, cause != NULL ? cause : "?");
		free(cause);
		return 1;
	}
	back = list_difference(cs->store, cur, false, current, cmd);
	lost = back < 0 ? -1 : list_difference(cur, cs->store, true, current, cmd);
	store_close(cur);
	if (back < 0 || lost < 0)
		return 1;
	fprintf(stderr, "kmipctl %s: compared with %s: %" PRId64 " objects destroyed or compromised since the backup "
	    "come back (\"back:\" above: revoke or destroy them again), %" PRId64 " made since are lost (\"lost:\")\n",
	    cmd, current, back, lost);
	return 0;
}

/* kmipctl restore [-c CONFIG] [--compare PATH] FILE: a verified backup into a stopped server's empty store. */
int
cmd_restore(int argc, char **argv)
{
	static const char usage_line[] = "restore [-c CONFIG] [-o k=v] [--recovery FILE] [--compare PATH] "
	    "[--no-verify] FILE";
	struct store_backup_info info;
	struct ctl_store cs;
	struct ctl_args a;
	const char *file, *store;
	char *cause = NULL;
	uint64_t present;
	double t0;
	int i, rc = 1;

	if ((i = ctl_parse(argc, argv, "restore", usage_line, "RCN", &a)) < 0)
		return i == -1 ? 0 : 2;
	if (argc - i != 1 || (a.no_verify && (a.compare != NULL || a.recovery != NULL))) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		if (a.no_verify)
			fprintf(stderr, "kmipctl restore: --compare and --recovery open the backup with keys, which "
			    "--no-verify does not\n");
		return 2;
	}
	file = argv[i];
	t0 = now();
	memset(&cs, 0, sizeof(cs));
	if (a.no_verify) {
		if (ctl_config(&a, "restore", &cs.cfg) != 0)
			return 1;
	} else {
		if (ctl_backup_open(&a, "restore", file, &cs) != 0)
			return 1;
		if (verify_backup(&cs, "restore", file, a.recovery) != 0) {
			fprintf(stderr, "kmipctl restore: %s does not verify with these keys: nothing restored\n", file);
			goto out;
		}
	}
	store = cs.cfg->store.path;
	{
		char detail[1200];

		snprintf(detail, sizeof(detail), "restore %s into %s%s", file, store, a.no_verify ? " (--no-verify)" : "");
		if (ctl_audit_begin(cs.cfg, "restore", "admin_restore", detail, &cs.audit) != 0)
			goto out;
	}
	if (store_restore(file, store, bytes_progress, "restore", &present, &info, &cause) != STORE_OK) {
		fprintf(stderr, "kmipctl restore: %s\n", cause != NULL ? cause : "failed");
		ctl_audit_end(&cs.audit, false, "%s", cause != NULL ? cause : "failed");
		if (present > 0) {
			fprintf(stderr, "kmipctl restore: move it aside (mv %s %s.old), then run kmipctl restore "
			    "--compare %s.old %s\n", store, store, store, file);
			if (cs.store != NULL) {
				fprintf(stderr, "kmipctl restore: what a restore would change:\n");
				(void)compare(&cs, store, "restore");
			}
		}
		goto out;
	}
	printf("restored: %s into %s: %" PRIu64 " objects, %" PRIu64 " bytes in %.1f s\n", file, store,
	    info.objects, info.bytes, now() - t0);
	if (info.was_replica)
		printf("restored: it was a cluster node's copy; it is now a single machine's store (store.backend = "
		    "lmdb): a cluster node starts with an empty store.path instead\n");
	ctl_audit_end(&cs.audit, true, "restored %" PRIu64 " objects, %" PRIu64 " bytes", info.objects, info.bytes);
	fprintf(stderr, "kmipctl restore: keys destroyed or compromised since the backup are back as they were "
	    "then, with their key material, and keys made since are gone.%s\n", a.compare != NULL ? "" :
	    " --compare PATH, naming the store moved aside, lists them.");
	if (a.compare != NULL && compare(&cs, a.compare, "restore") != 0)
		goto out;
	printf("next: start kmipd (systemctl start kmipd), check its log, and Get a few keys\n");
	rc = 0;
out:
	free(cause);
	ctl_store_close(&cs);
	return rc;
}
