/*
 * kmipctl's quota commands: what each identity stores (usage), and removing destroyed objects for good
 * (purge). They open the store the way kmipd does (its config and master key) and run beside a running
 * kmipd: LMDB lets one process write at a time, across processes, so each of their writes waits for
 * kmipd's group commit (and kmipd's for theirs), and purge commits in batches of PURGE_BATCH deletions
 * so that kmipd never waits long. The usage counters are kept by the store in the same transactions.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/engine/access.h"
#include "core/kmipctl.h"
#include "proto/names.h"
#include "proto/ttlv.h"

#define PURGE_BATCH	256		/* deletions per durable commit */
#define MAX_DAYS	36500

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "override", required_argument, NULL, 'o' },
	{ "owner", required_argument, NULL, 'w' },
	{ "older-than", required_argument, NULL, 'd' },
	{ "rebuild", no_argument, NULL, 'r' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the two commands take. */
struct usage_args {
	struct ctl_args a;
	const char *owner;		/* --owner ID: only this identity */
	long days;			/* --older-than DAYS; -1: any age */
	bool rebuild, dry_run;
};

/*
 * Parses the options of cmd (allowed: the letters of long_opts it takes besides c, o, h). The index of the
 * first operand, or -1 after printing the usage (exit 0), or -2 after printing why (exit 2).
 */
static int
parse(int argc, char **argv, const char *cmd, const char *usage_line, const char *allowed, struct usage_args *u)
{
	char *end;
	int c;

	memset(u, 0, sizeof(*u));
	u->days = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:o:h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: kmipctl %s\n", usage_line);
			return -1;
		}
		if (c != 'c' && c != 'o' && (c == '?' || strchr(allowed, c) == NULL))
			goto bad;
		switch (c) {
		case 'w':
			u->owner = optarg;
			break;
		case 'd':
			errno = 0;
			u->days = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || u->days < 0 || u->days > MAX_DAYS) {
				fprintf(stderr, "kmipctl %s: --older-than takes days, 0 to %d\n", cmd, MAX_DAYS);
				return -2;
			}
			break;
		case 'r':
			u->rebuild = true;
			break;
		case 'n':
			u->dry_run = true;
			break;
		default:
			if (ctl_common_option(&u->a, c, optarg, cmd) != 0)
				goto bad;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: kmipctl %s\n", usage_line);
		return -2;
	}
	return optind;
bad:
	fprintf(stderr, "kmipctl %s: unknown or misplaced option %s\nusage: kmipctl %s\n", cmd, argv[optind - 1],
	    usage_line);
	return -2;
}

/* What print_one needs. */
struct listing {
	const struct access_policy *policy;
	const char *owner;		/* only this one, or NULL */
	unsigned long shown;
};

/* Formats a limit: "-" for none. */
static const char *
limit(char *buf, size_t size, uint64_t v)
{
	if (v == 0)
		return "-";
	snprintf(buf, size, "%" PRIu64, v);
	return buf;
}

/* Prints one identity's usage and quotas (store_usage_fn). */
static int
print_one(void *arg, const char *owner, size_t len, const struct store_usage *u)
{
	struct listing *l = arg;
	uint64_t mo, mb;
	char *id, b1[32], b2[32];

	if (l->owner != NULL && (strlen(l->owner) != len || memcmp(l->owner, owner, len) != 0))
		return 0;
	if ((id = strndup(owner, len)) == NULL)
		return -1;
	access_quota(l->policy, id, &mo, &mb);
	printf("%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\n", id, u->objects, u->destroyed, u->bytes,
	    limit(b1, sizeof(b1), mo), limit(b2, sizeof(b2), mb));
	free(id);
	l->shown++;
	return 0;
}

/* kmipctl usage [-c CONFIG] [--owner ID] [--rebuild]: what each identity stores, against its quotas. */
int
cmd_usage(int argc, char **argv)
{
	static const char usage_line[] = "usage [-c CONFIG] [-o k=v] [--owner ID] [--rebuild]";
	struct access_policy *policy = NULL;
	struct listing l = { 0 };
	struct usage_args u;
	struct ctl_store cs;
	char *cause = NULL;
	uint64_t n;
	int i, rc = 1;

	if ((i = parse(argc, argv, "usage", usage_line, "wr", &u)) < 0)
		return i == -1 ? 0 : 2;
	/* A recount writes; a listing does not. */
	if (ctl_store_open(&u.a, "usage", !u.rebuild, &cs) != 0)
		return 1;
	if (access_policy_new(cs.cfg, &policy, &cause) != 0) {
		fprintf(stderr, "kmipctl usage: %s\n", cause != NULL ? cause : "?");
		goto out;
	}
	if (u.rebuild) {
		if ((i = store_usage_rebuild(cs.store, &n, &cause)) != STORE_OK) {
			fprintf(stderr, "kmipctl usage: %s\n", cause != NULL ? cause : store_strerror(i));
			goto out;
		}
		fprintf(stderr, "kmipctl usage: counted %" PRIu64 " records again\n", n);
	}
	l.policy = policy;
	l.owner = u.owner;
	printf("identity\tobjects\tdestroyed\tbytes\tmax_objects\tmax_bytes\n");
	if ((i = store_usage_each(cs.store, print_one, &l)) != STORE_OK) {
		fprintf(stderr, "kmipctl usage: %s: %s\n", store_strerror(i), store_last_error(cs.store));
		goto out;
	}
	rc = 0;
out:
	free(cause);
	access_policy_free(policy);
	ctl_store_close(&cs);
	return rc;
}

/* Counts the change sets a purge batch lost to kmipd (store_conflict_fn). */
static void
note_conflict(void *arg, uint64_t owner, uint32_t item, const char *uid)
{
	unsigned long *n = arg;

	(void)owner;
	(void)item;
	(void)uid;
	++*n;
}

/* What one purge run did. */
struct purge {
	const struct usage_args *u;
	int64_t before;			/* destroyed at or before this date (Unix seconds), or INT64_MAX */
	unsigned long purged, skipped, conflicts, pending;
	int64_t bytes;
};

/* Sums the bytes a deletion frees (store_delta_fn). */
static int
add_bytes(void *arg, const char *owner, const struct store_usage_delta *d)
{
	struct purge *p = arg;

	(void)owner;
	p->bytes -= d->bytes;
	return 0;
}

/* Removes uid when it is destroyed, its owner's and old enough; 0, or a store error. */
static int
purge_one(struct store *s, const char *uid, struct purge *p)
{
	struct store_object *o = NULL;
	struct store_txn *t;
	const struct ttlv *date;
	int64_t when;
	int rc;

	if ((rc = store_txn_begin(s, true, &t)) != STORE_OK)
		return rc;
	if ((rc = store_get_meta(t, uid, &o)) != STORE_OK) {
		store_txn_abort(t);
		return rc == STORE_E_NOTFOUND ? STORE_OK : rc;		/* gone meanwhile */
	}
	/* The index said destroyed; the record decides (kmipd may have written since). */
	date = ttlv_find(o->attrs, KMIP_TAG_DESTROY_DATE);
	if (date == NULL)
		date = ttlv_find(o->attrs, KMIP_TAG_LAST_CHANGE_DATE);
	when = date != NULL && date->type == TTLV_DATE_TIME ? date->v.i64 : INT64_MIN;
	if ((o->state != KMIP_STATE_DESTROYED && o->state != KMIP_STATE_DESTROYED_COMPROMISED) ||
	    (p->u->owner != NULL && strcmp(o->owner, p->u->owner) != 0) || when > p->before) {
		store_object_free(o);
		store_txn_abort(t);
		p->skipped++;
		return STORE_OK;
	}
	store_object_free(o);
	if ((rc = store_delete(t, uid)) != STORE_OK || (rc = store_txn_usage_each(t, add_bytes, p)) != STORE_OK) {
		store_txn_abort(t);
		return rc;
	}
	if (p->u->dry_run) {
		store_txn_abort(t);
	} else if ((rc = store_txn_commit(t)) != STORE_OK) {
		return rc;
	}
	p->purged++;
	p->pending++;
	return STORE_OK;
}

/* Makes the pending deletions durable. */
static int
purge_commit(struct store *s, struct purge *p)
{
	unsigned long c = 0;
	int rc;

	if (p->pending == 0)
		return STORE_OK;
	if ((rc = store_group_commit(s, note_conflict, &c)) != STORE_OK)
		return rc;
	p->conflicts += c;
	p->purged -= c;
	p->pending = 0;
	return STORE_OK;
}

/* The identifiers of the objects in a state, from the State index. */
static int
list_state(struct store *s, uint32_t state, char ***uids, size_t *n)
{
	struct store_txn *t;
	int rc;

	if ((rc = store_txn_begin(s, false, &t)) != STORE_OK)
		return rc;
	rc = store_index_uids(t, STORE_IDX_STATE, NULL, state, uids, n);
	store_txn_abort(t);
	return rc;
}

/*
 * kmipctl purge [-c CONFIG] [--older-than DAYS] [--owner ID] [--dry-run]: removes Destroyed and Destroyed
 * Compromised objects (whose attributes stay after Destroy) for good.
 */
int
cmd_purge(int argc, char **argv)
{
	static const char usage_line[] = "purge [-c CONFIG] [-o k=v] [--older-than DAYS] [--owner ID] [--dry-run]";
	static const uint32_t states[] = { KMIP_STATE_DESTROYED, KMIP_STATE_DESTROYED_COMPROMISED };
	struct purge p = { 0 };
	struct usage_args u;
	struct ctl_store cs;
	char **uids = NULL, detail[400];
	size_t n = 0, i, k;
	int rc = 1, src = STORE_OK;

	if ((rc = parse(argc, argv, "purge", usage_line, "wdn", &u)) < 0)
		return rc == -1 ? 0 : 2;
	rc = 1;
	p.u = &u;
	p.before = u.days < 0 ? INT64_MAX : (int64_t)time(NULL) - (int64_t)u.days * 86400;
	snprintf(detail, sizeof(detail), "purge owner=%s older_than_days=%ld", u.owner != NULL ? u.owner : "(any)",
	    u.days);
	/* A dry run changes nothing: not an administrative action. */
	if ((u.dry_run ? ctl_store_open(&u.a, "purge", false, &cs) :
	    ctl_store_open_admin(&u.a, "purge", "admin_purge", detail, &cs)) != 0)
		return 1;
	for (k = 0; k < sizeof(states) / sizeof(states[0]) && src == STORE_OK; k++) {
		if ((src = list_state(cs.store, states[k], &uids, &n)) != STORE_OK)
			break;
		for (i = 0; i < n && src == STORE_OK; i++) {
			src = purge_one(cs.store, uids[i], &p);
			if (src == STORE_OK && p.pending >= PURGE_BATCH)
				src = purge_commit(cs.store, &p);
		}
		store_uids_free(uids, n);
		uids = NULL;
	}
	if (src == STORE_OK)
		src = purge_commit(cs.store, &p);
	if (src != STORE_OK) {
		fprintf(stderr, "kmipctl purge: %s: %s (%lu purged before)\n", store_strerror(src),
		    store_last_error(cs.store), p.purged);
		ctl_audit_end(&cs.audit, false, "%s: %s (%lu purged before)", store_strerror(src),
		    store_last_error(cs.store), p.purged);
		goto out;
	}
	printf("%s %lu destroyed objects (%" PRId64 " bytes); %lu kept (not matching)", u.dry_run ? "would purge" :
	    "purged", p.purged, p.bytes, p.skipped);
	if (p.conflicts > 0)
		printf("; %lu changed by kmipd meanwhile, kept: run it again", p.conflicts);
	printf("\n");
	ctl_audit_end(&cs.audit, true, "purged %lu destroyed objects (%" PRId64 " bytes); %lu kept; %lu changed "
	    "by kmipd meanwhile", p.purged, p.bytes, p.skipped, p.conflicts);
	rc = 0;
out:
	ctl_store_close(&cs);
	return rc;
}
