/*
 * bench_store_mp: one store written and read by several processes at once, as kmipd's workers do (not a
 * test: it reports, it asserts nothing).
 *
 *   bench_store_mp [-t seconds] [-g group] [-n objects] [-d dir] [-k]
 *
 * Each process opens the store itself after the fork, with full sync and group commit, encrypted under
 * a master key made in dir. Measured, each for t seconds (default 3):
 * - the fsync latency of the disk under dir (a 4 KiB write and fdatasync, 2000 times): an LMDB commit
 *   with full sync waits for two of them (the data pages, then the meta page);
 * - durable writes per second with 1 and with 2 writer processes at once, g writes per group commit
 *   (default 1: each write its own commit, the worst case; -g 16 is a busy server's group), and how
 *   long each commit waited for LMDB's writer lock (store_lock_stats: median, p99, max), which with one
 *   writer is the uncontended cost of taking it;
 * - Gets per second and their latency from 2 reader processes alone, then the same while a third
 *   process writes as fast as it can, then alone again: readers never wait for the writer (LMDB readers
 *   take no lock), so their latency does not move with it.
 * The store is filled first with n objects (default 10,000) for the readers to Get. It lives in dir
 * (default a new folder under /var/tmp), removed at the end unless -k.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"
#include "test/util.h"

#define MAX_PROCS	4
#define FSYNC_ROUNDS	2000

/* What a child process reports up its pipe. */
struct result {
	uint64_t ops;			/* writes or Gets */
	uint64_t commits;		/* group commits */
	double secs;
	double p50, p99, max;		/* Get latency (readers) or writer-lock wait per commit (writers), in us */
	double commit_p50;		/* a writer's group commit, lock wait included, in us */
	struct store_lock_stats lock;
};

struct bench {
	char path[4200];
	struct store_kek *master;
	char (*uids)[STORE_UID_MAX + 1];
	uint64_t n;
	unsigned group;
	double seconds;
};

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_store_mp: %s: %s\n", what, store_strerror(rc));
	exit(1);
}

static struct store *
open_store(const struct bench *b)
{
	struct store_options o;
	struct store *s;
	char *cause = NULL;

	store_options_init(&o);
	o.path = b->path;
	o.master = b->master;
	if (store_open(&o, &s, &cause) != STORE_OK) {
		fprintf(stderr, "bench_store_mp: %s\n", cause != NULL ? cause : "open failed");
		exit(1);
	}
	return s;
}

/* Percentile p (0-100) of n sorted values. */
static double
pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	return v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)];
}

/* One write as a request makes it: a transaction, a new uid, an AES key object, a commit into the group. */
static void
write_one(struct store *s, uint64_t i, char *uid_out)
{
	struct store_object *o;
	struct store_txn *t;
	char uid[STORE_UID_MAX + 1], name[40];
	uint8_t key[32];
	struct ttlv *n;
	int rc;

	if ((rc = store_txn_begin(s, true, &t)) != STORE_OK || (rc = store_new_uid(t, uid, sizeof(uid))) != STORE_OK)
		die("write", rc);
	if ((o = store_object_new()) == NULL)
		die("object", STORE_E_NOMEM);
	memset(key, (int)(i & 0xff), sizeof(key));
	snprintf(name, sizeof(name), "key-%d-%" PRIu64, (int)getpid(), i);
	if ((rc = store_object_set(o, uid, "client", 2, 2)) != STORE_OK ||
	    (rc = store_object_set_material(o, key, sizeof(key), 1)) != STORE_OK)
		die("object", rc);
	n = ttlv_new_struct(o->arena, KMIP_TAG_NAME);
	ttlv_append(n, ttlv_new_text(o->arena, KMIP_TAG_NAME_VALUE, name, strlen(name)));
	ttlv_append(n, ttlv_new_enum(o->arena, KMIP_TAG_NAME_TYPE, 1));
	ttlv_append(o->attrs, n);
	ttlv_append(o->attrs, ttlv_new_enum(o->arena, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, 3));
	ttlv_append(o->attrs, ttlv_new_int(o->arena, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256));
	if ((rc = store_put(t, o)) != STORE_OK || (rc = store_txn_commit(t)) != STORE_OK)
		die("put", rc);
	store_object_free(o);
	if (uid_out != NULL)
		memcpy(uid_out, uid, strlen(uid) + 1);
}

/* A writer process: groups of b->group writes, each group one durable commit, until the time is up. */
static void
writer(const struct bench *b, struct result *r)
{
	struct store *s = open_store(b);
	size_t cap = 1 << 16, nw = 0, nc = 0;
	double *waits = calloc(cap, sizeof(double)), *commits = calloc(cap, sizeof(double));
	double t0, end, c0;
	struct store_lock_stats ls;
	unsigned k;
	int rc;

	if (waits == NULL || commits == NULL)
		die("memory", STORE_E_NOMEM);
	t0 = util_now();
	end = t0 + b->seconds;
	while (util_now() < end) {
		for (k = 0; k < b->group; k++)
			write_one(s, r->ops++, NULL);
		c0 = util_now();
		if ((rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
			die("group commit", rc);
		store_lock_stats(s, &ls);
		if (nw < cap) {
			waits[nw++] = (double)ls.last_wait_us;
			commits[nc++] = (util_now() - c0) * 1e6;
		}
		r->commits++;
	}
	r->secs = util_now() - t0;
	store_lock_stats(s, &r->lock);
	util_sort_doubles(waits, nw);
	util_sort_doubles(commits, nc);
	r->p50 = pct(waits, nw, 50);
	r->p99 = pct(waits, nw, 99);
	r->max = nw > 0 ? waits[nw - 1] : 0;
	r->commit_p50 = pct(commits, nc, 50);
	free(waits);
	free(commits);
	store_close(s);
}

/* A reader process: Gets of random filled objects, each in its own read transaction, until the time is up. */
static void
reader(const struct bench *b, struct result *r)
{
	struct store *s = open_store(b);
	size_t cap = (size_t)4 << 20, nl = 0;
	double *lat = calloc(cap, sizeof(double)), t0, end, a;
	struct store_object *o;
	struct store_txn *t;
	unsigned seed = (unsigned)getpid();
	int rc;

	if (lat == NULL)
		die("memory", STORE_E_NOMEM);
	t0 = util_now();
	end = t0 + b->seconds;
	while ((a = util_now()) < end) {
		if ((rc = store_txn_begin(s, false, &t)) != STORE_OK ||
		    (rc = store_get(t, b->uids[(uint64_t)rand_r(&seed) % b->n], &o)) != STORE_OK)
			die("get", rc);
		store_object_free(o);
		store_txn_abort(t);
		if (nl < cap)
			lat[nl++] = (util_now() - a) * 1e6;
		r->ops++;
	}
	r->secs = util_now() - t0;
	util_sort_doubles(lat, nl);
	r->p50 = pct(lat, nl, 50);
	r->p99 = pct(lat, nl, 99);
	r->max = nl > 0 ? lat[nl - 1] : 0;
	free(lat);
	store_close(s);
}

/*
 * Runs nw writers and nr readers at once, each in a process of its own that opens the store after the
 * fork; they start together (a pipe closed by the parent) and their results land in r[] (writers first).
 */
static void
run(const struct bench *b, unsigned nw, unsigned nr, struct result *r)
{
	int go[2], back[MAX_PROCS][2];
	pid_t pid[MAX_PROCS];
	unsigned i, n = nw + nr;
	char c;
	int st;

	if (pipe(go) != 0)
		exit(1);
	for (i = 0; i < n; i++) {
		if (pipe(back[i]) != 0 || (pid[i] = fork()) < 0)
			exit(1);
		if (pid[i] == 0) {
			struct result mine;

			memset(&mine, 0, sizeof(mine));
			close(go[1]);
			if (read(go[0], &c, 1) != 0)	/* the parent closes it: everyone starts */
				_exit(1);
			if (i < nw)
				writer(b, &mine);
			else
				reader(b, &mine);
			if (write(back[i][1], &mine, sizeof(mine)) != (ssize_t)sizeof(mine))
				_exit(1);
			_exit(0);
		}
		close(back[i][1]);
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < n; i++) {
		if (read(back[i][0], &r[i], sizeof(r[i])) != (ssize_t)sizeof(r[i])) {
			fprintf(stderr, "bench_store_mp: process %u failed\n", i);
			exit(1);
		}
		close(back[i][0]);
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			exit(1);
	}
}

/* fdatasync of a 4 KiB write, FSYNC_ROUNDS times: the latency one durable commit waits for (twice). */
static void
fsync_latency(const char *dir, double *p50, double *p99)
{
	double *lat = calloc(FSYNC_ROUNDS, sizeof(double)), a;
	char path[4300], buf[4096];
	int fd, i;

	snprintf(path, sizeof(path), "%s/fsync.probe", dir);
	if (lat == NULL || (fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600)) < 0)
		exit(1);
	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < FSYNC_ROUNDS; i++) {
		if (pwrite(fd, buf, sizeof(buf), (off_t)(i % 64) * 4096) != (ssize_t)sizeof(buf))
			exit(1);
		a = util_now();
		if (fdatasync(fd) != 0)
			exit(1);
		lat[i] = (util_now() - a) * 1e6;
	}
	close(fd);
	unlink(path);
	util_sort_doubles(lat, FSYNC_ROUNDS);
	*p50 = pct(lat, FSYNC_ROUNDS, 50);
	*p99 = pct(lat, FSYNC_ROUNDS, 99);
	free(lat);
}

/* One row: a writer run of nw processes. */
static void
print_writers(const char *what, const struct result *r, unsigned nw)
{
	double writes = 0, waits_p50 = 0, waits_p99 = 0, max = 0, commit = 0;
	uint64_t commits = 0, blocked = 0;
	unsigned i;

	for (i = 0; i < nw; i++) {
		writes += (double)r[i].ops / r[i].secs;
		commits += r[i].commits;
		blocked += r[i].lock.waits;
		/* The processes' medians and p99s side by side would be clearer; their largest stands for them. */
		if (r[i].p50 > waits_p50)
			waits_p50 = r[i].p50;
		if (r[i].p99 > waits_p99)
			waits_p99 = r[i].p99;
		if (r[i].max > max)
			max = r[i].max;
		if (r[i].commit_p50 > commit)
			commit = r[i].commit_p50;
	}
	printf("| %-34s | %9.0f | %8.0f | %7.0f | %7.0f | %8.0f | %6.1f %% | %8.0f |\n", what, writes,
	    (double)commits / r[0].secs, waits_p50, waits_p99, max,
	    commits > 0 ? 100.0 * (double)blocked / (double)commits : 0.0, commit);
}

static void
print_readers(const char *what, const struct result *r, unsigned nr, double writes)
{
	double reads = 0, p50 = 0, p99 = 0, max = 0;
	unsigned i;

	for (i = 0; i < nr; i++) {
		reads += (double)r[i].ops / r[i].secs;
		if (r[i].p50 > p50)
			p50 = r[i].p50;
		if (r[i].p99 > p99)
			p99 = r[i].p99;
		if (r[i].max > max)
			max = r[i].max;
	}
	printf("| %-34s | %9.0f | %7.1f | %7.1f | %8.0f | %11.0f |\n", what, reads, p50, p99, max, writes);
}

int
main(int argc, char **argv)
{
	struct store_kek_source src = { .kind = STORE_KEY_FILE };
	struct result r[MAX_PROCS];
	struct bench b;
	struct store *s;
	char dir[4096] = "", kpath[4300], *cause = NULL;
	double f50, f99;
	bool keep = false, made = false;
	uint64_t i;
	int c, rc;

	memset(&b, 0, sizeof(b));
	b.seconds = 3;
	b.group = 1;
	b.n = 10000;
	while ((c = getopt(argc, argv, "t:g:n:d:k")) != -1) {
		switch (c) {
		case 't':
			b.seconds = atof(optarg);
			break;
		case 'g':
			b.group = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			b.n = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr, "usage: bench_store_mp [-t seconds] [-g group] [-n objects] [-d dir] [-k]\n");
			return 2;
		}
	}
	if (b.seconds <= 0 || b.group < 1 || b.n < 1 || b.n > 10000000) {
		fprintf(stderr, "bench_store_mp: -t, -g and -n must be positive (-n at most 10,000,000)\n");
		return 2;
	}
	if (dir[0] == '\0') {
		if (util_mkdtemp(dir, sizeof(dir), "/var/tmp", "bench_store_mp") != 0) {
			perror("mkdtemp");
			return 1;
		}
		made = true;
	}
	snprintf(b.path, sizeof(b.path), "%s/store", dir);
	snprintf(kpath, sizeof(kpath), "%s/master.key", dir);
	src.path = kpath;
	if (store_master_key_create(kpath, &cause) != STORE_OK || store_kek_load(&src, &b.master, &cause) != 0) {
		fprintf(stderr, "bench_store_mp: %s\n", cause != NULL ? cause : "master key");
		return 1;
	}
	if ((b.uids = calloc(b.n, sizeof(*b.uids))) == NULL)
		return 1;
	fsync_latency(dir, &f50, &f99);
	printf("bench_store_mp: store in %s, %.0f s per run, %u write(s) per group commit, full sync, encrypted\n",
	    b.path, b.seconds, b.group);
	printf("fsync of this disk (4 KiB write + fdatasync, %d times): median %.0f us, p99 %.0f us; a durable "
	    "commit waits for two\n\n", FSYNC_ROUNDS, f50, f99);

	/* The fill, in this process, closed before any child opens the store. */
	s = open_store(&b);
	for (i = 0; i < b.n; i++) {
		write_one(s, i, b.uids[i]);
		if ((i + 1) % 1000 == 0 && (rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
			die("fill", rc);
	}
	if ((rc = store_group_commit(s, NULL, NULL)) != STORE_OK)
		die("fill", rc);
	store_close(s);

	printf("| %-34s | %9s | %8s | %7s | %7s | %8s | %8s | %8s |\n", "durable writes", "writes/s",
	    "commit/s", "lock50", "lock99", "lockmax", "blocked", "commit50");
	printf("|------------------------------------|-----------|----------|---------|---------|----------|"
	    "----------|----------|\n");
	run(&b, 1, 0, r);
	print_writers("1 writer process", r, 1);
	run(&b, 2, 0, r);
	print_writers("2 writer processes at once (sum)", r, 2);
	printf("(lock50/99/max: us blocked taking LMDB's writer lock per group commit, the larger of the "
	    "processes'; blocked: commits that waited %d us or more; commit50: a group commit's median, lock "
	    "included, us)\n\n", STORE_LOCK_WAIT_US);

	printf("| %-34s | %9s | %7s | %7s | %8s | %11s |\n", "Gets, each in a read transaction", "Gets/s",
	    "p50 us", "p99 us", "max us", "writes/s");
	printf("|------------------------------------|-----------|---------|---------|----------|-------------|\n");
	run(&b, 0, 2, r);
	print_readers("2 reader processes alone (sum)", r, 2, 0);
	run(&b, 1, 2, r);
	print_readers("2 readers while a third writes", r + 1, 2, (double)r[0].ops / r[0].secs);
	run(&b, 0, 2, r);	/* again: the first run's figures may carry a warm-up */
	print_readers("2 reader processes alone, again", r, 2, 0);
	printf("(2 cores: three processes share them; the writer spends its time in fsync, off the CPU)\n");

	store_kek_free(b.master);
	free(b.uids);
	if (made && !keep)
		util_rmtree(dir);
	return 0;
}
