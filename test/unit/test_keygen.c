/*
 * Unit tests of core/keygen: key pairs that parse back and match, callbacks only from the loop, a loop that
 * keeps ticking while workers generate, the RSA-2048 pool, cancellation, workers killed or stopped mid-job,
 * restart back-off, and no child process left behind. Each test has its own event base.
 *
 * Usage: test_keygen [FILTER]   (runs the tests whose name matches FILTER)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/keygen.h"
#include "core/log.h"
#include "test/util.h"

#define MAX_RECS	16

struct fixture;

/* What one job's callback saw. */
struct rec {
	struct fixture *f;
	int called;
	int64_t at_ms;			/* when the callback ran */
	int order;			/* 1 for the first callback of the test, 2 for the next... */
	struct keygen_result *res;
};

struct fixture {
	struct event_base *base;
	struct keygen *kg;
	bool in_submit;
	int called_inside_submit;	/* must stay 0 */
	struct rec recs[MAX_RECS];
	/* the 10 ms ticker of the responsiveness test */
	struct event *ticker;
	unsigned ticks;
	int64_t last_tick_ms;
	int64_t max_gap_ms;
	int ncallbacks;			/* callbacks run so far (rec.order) */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int i;

	if (f == NULL || (f->base = event_base_new()) == NULL) {
		free(f);
		return -1;
	}
	for (i = 0; i < MAX_RECS; i++)
		f->recs[i].f = f;
	*state = f;
	return 0;
}

/* Frees everything and fails when a callback ran inside keygen_submit or a child process is left. */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	int i, status, rc = 0;

	keygen_free(f->kg);
	if (f->ticker != NULL)
		event_free(f->ticker);
	for (i = 0; i < MAX_RECS; i++)
		keygen_result_free(f->recs[i].res);
	event_base_free(f->base);
	if (f->called_inside_submit != 0) {
		fprintf(stderr, "a callback ran inside keygen_submit\n");
		rc = -1;
	}
	if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) {
		fprintf(stderr, "a child process was left behind\n");
		rc = -1;
	}
	free(f);
	return rc;
}

static void
record_cb(struct keygen_result *res, void *arg)
{
	struct rec *r = arg;

	if (r->f->in_submit)
		r->f->called_inside_submit++;
	r->called++;
	r->at_ms = util_now_ms();
	r->order = ++r->f->ncallbacks;
	keygen_result_free(r->res);
	r->res = res;
}

static void
start(struct fixture *f, unsigned workers, unsigned pool, unsigned timeout)
{
	char *cause = NULL;

	if (keygen_start(f->base, workers, pool, timeout, &f->kg, &cause) != 0)
		fail_msg("keygen_start: %s", cause ? cause : "?");
	assert_non_null(f->kg);
}

static struct keygen_job *
submit(struct fixture *f, int i, enum keygen_alg alg, unsigned bits, int nid)
{
	struct keygen_spec spec = { .alg = alg, .bits = bits, .curve_nid = nid };
	struct keygen_job *job;

	f->in_submit = true;
	job = keygen_submit(f->kg, &spec, record_cb, &f->recs[i]);
	f->in_submit = false;
	assert_non_null(job);
	assert_int_equal(f->recs[i].called, 0);
	return job;
}

static struct keygen_job *
submit_rsa(struct fixture *f, int i, unsigned bits)
{
	return submit(f, i, KEYGEN_RSA, bits, 0);
}

static struct keygen_job *
submit_ec(struct fixture *f, int i, int nid)
{
	return submit(f, i, KEYGEN_EC, 0, nid);
}

typedef bool (*pred_fn)(struct fixture *f, intptr_t arg);

struct waiter {
	struct fixture *f;
	pred_fn pred;
	intptr_t arg;
	int64_t deadline;
	bool ok;
};

static void
wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	if (w->pred(w->f, w->arg)) {
		w->ok = true;
		event_base_loopbreak(w->f->base);
	} else if (util_now_ms() >= w->deadline) {
		event_base_loopbreak(w->f->base);
	}
}

/* Runs the loop until pred holds (checked every 5 ms) or ms pass. Returns whether pred held. */
static bool
wait_for(struct fixture *f, pred_fn pred, intptr_t arg, int ms)
{
	struct waiter w = { f, pred, arg, util_now_ms() + ms, false };
	struct timeval tv = { 0, 5000 };
	struct event *ev = event_new(f->base, -1, EV_PERSIST, wait_tick, &w);

	assert_non_null(ev);
	assert_int_equal(event_add(ev, &tv), 0);
	assert_int_equal(event_base_dispatch(f->base), 0);
	event_free(ev);
	return w.ok;
}

static bool
never(struct fixture *f, intptr_t arg)
{
	(void)f;
	(void)arg;
	return false;
}

/* Runs the loop for ms. */
static void
run_for(struct fixture *f, int ms)
{
	(void)wait_for(f, never, 0, ms);
}

/* All of recs[0..n-1] were answered. */
static bool
called_n(struct fixture *f, intptr_t n)
{
	intptr_t i;

	for (i = 0; i < n; i++)
		if (f->recs[i].called == 0)
			return false;
	return true;
}

static bool
called_one(struct fixture *f, intptr_t i)
{
	return f->recs[i].called > 0;
}

static bool
pool_at_least(struct fixture *f, intptr_t n)
{
	struct keygen_stats st;

	keygen_stats(f->kg, &st);
	return st.pool_ready >= (unsigned)n;
}

static bool
all_idle(struct fixture *f, intptr_t arg)
{
	struct keygen_stats st;

	(void)arg;
	keygen_stats(f->kg, &st);
	return st.busy_workers == 0 && st.queued == 0;
}

static pid_t
worker_pid(struct fixture *f, size_t i)
{
	pid_t pids[KEYGEN_MAX_WORKERS];

	assert_true(keygen_worker_pids(f->kg, pids, KEYGEN_MAX_WORKERS) > i);
	return pids[i];
}

/* Worker 0 runs with a pid other than arg. */
static bool
new_worker0(struct fixture *f, intptr_t old)
{
	pid_t pid = worker_pid(f, 0);

	return pid != 0 && pid != (pid_t)old;
}

/* Worker 0 is down (being restarted). */
static bool
worker0_down(struct fixture *f, intptr_t arg)
{
	(void)arg;
	return worker_pid(f, 0) == 0;
}

/* Worker 0 is a new process and busy. */
static bool
new_worker0_busy(struct fixture *f, intptr_t old)
{
	struct keygen_stats st;

	keygen_stats(f->kg, &st);
	return new_worker0(f, old) && st.busy_workers == 1;
}

/* The process arg is gone for good: exited and reaped. */
static bool
reaped(struct fixture *f, intptr_t pid)
{
	(void)f;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Parses both halves of a result and checks the type, size, curve, and that they belong together. */
static void
check_pair(const struct keygen_result *res, const char *type, int bits, const char *group)
{
	const unsigned char *p;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *priv, *pub;
	char name[64];

	assert_non_null(res);
	if (res->status != 0)
		fail_msg("key generation failed: %s", res->message);
	assert_non_null(res->private_der);
	assert_non_null(res->public_der);
	assert_true(res->private_len > 0 && res->private_len <= 16384);
	assert_true(res->public_len > 0 && res->public_len <= 16384);

	p = res->private_der;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)res->private_len);
	assert_non_null(p8);
	assert_ptr_equal(p, res->private_der + res->private_len);
	PKCS8_PRIV_KEY_INFO_free(p8);

	p = res->private_der;
	priv = d2i_AutoPrivateKey(NULL, &p, (long)res->private_len);
	assert_non_null(priv);
	p = res->public_der;
	pub = d2i_PUBKEY(NULL, &p, (long)res->public_len);
	assert_non_null(pub);
	assert_ptr_equal(p, res->public_der + res->public_len);

	assert_true(EVP_PKEY_is_a(priv, type));
	assert_true(EVP_PKEY_is_a(pub, type));
	assert_int_equal(EVP_PKEY_get_bits(priv), bits);
	assert_int_equal(EVP_PKEY_get_bits(pub), bits);
	if (group != NULL) {
		assert_int_equal(EVP_PKEY_get_group_name(priv, name, sizeof(name), NULL), 1);
		assert_string_equal(name, group);
		assert_int_equal(EVP_PKEY_get_group_name(pub, name, sizeof(name), NULL), 1);
		assert_string_equal(name, group);
	}
	assert_int_equal(EVP_PKEY_eq(priv, pub), 1);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

static void
check_error(const struct keygen_result *res, const char *message)
{
	assert_non_null(res);
	assert_int_equal(res->status, -1);
	assert_null(res->private_der);
	assert_null(res->public_der);
	if (message != NULL)
		assert_string_equal(res->message, message);
	else
		assert_true(res->message[0] != '\0');
}

static void
test_start_rejects_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct keygen *kg = (struct keygen *)1;
	char *cause = NULL;

	assert_int_equal(keygen_start(f->base, 0, 0, 10, &kg, &cause), -1);
	assert_null(kg);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "workers"));
	free(cause);
	assert_int_equal(keygen_start(f->base, KEYGEN_MAX_WORKERS + 1, 0, 10, &kg, &cause), -1);
	free(cause);
	assert_int_equal(keygen_start(f->base, 1, KEYGEN_MAX_POOL + 1, 10, &kg, &cause), -1);
	assert_non_null(strstr(cause, "pool"));
	free(cause);
	assert_int_equal(keygen_start(f->base, 1, 0, 0, &kg, &cause), -1);
	assert_non_null(strstr(cause, "timeout"));
	free(cause);
	assert_null(kg);
}

static void
test_rsa2048(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;

	start(f, 1, 0, 30);
	(void)submit_rsa(f, 0, 2048);
	assert_true(wait_for(f, called_one, 0, 10000));
	assert_int_equal(f->recs[0].called, 1);
	check_pair(f->recs[0].res, "RSA", 2048, NULL);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.generated, 1);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.pool_hits, 0);
	assert_int_equal(st.pool_misses, 0);	/* no pool: not a miss */
}

static void
test_ec_curves(void **state)
{
	struct fixture *f = *state;

	start(f, 2, 0, 30);
	(void)submit_ec(f, 0, NID_X9_62_prime256v1);
	(void)submit_ec(f, 1, NID_secp384r1);
	(void)submit_ec(f, 2, NID_secp521r1);
	(void)submit_rsa(f, 3, 1024);
	assert_true(wait_for(f, called_n, 4, 10000));
	check_pair(f->recs[0].res, "EC", 256, "prime256v1");
	check_pair(f->recs[1].res, "EC", 384, "secp384r1");
	check_pair(f->recs[2].res, "EC", 521, "secp521r1");
	check_pair(f->recs[3].res, "RSA", 1024, NULL);
}

/* Refused specs are answered from the loop with an error, without a worker. */
static void
test_bad_specs(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;

	start(f, 1, 0, 30);
	(void)submit_rsa(f, 0, 512);
	(void)submit_rsa(f, 1, 16384);
	(void)submit_ec(f, 2, NID_secp224r1);
	(void)submit(f, 3, (enum keygen_alg)9, 2048, 0);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 0);
	assert_int_equal(st.queued, 0);
	assert_true(wait_for(f, called_n, 4, 1000));
	check_error(f->recs[0].res, "RSA key size 512 not supported (1024..8192 bits)");
	check_error(f->recs[1].res, NULL);
	check_error(f->recs[2].res, "EC curve secp224r1 not supported (P-256, P-384 and P-521 are)");
	check_error(f->recs[3].res, "key generation algorithm 9 not supported");
	keygen_stats(f->kg, &st);
	assert_int_equal(st.failures, 4);
	assert_int_equal(st.generated, 0);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	if (f->ticks > 0 && now - f->last_tick_ms > f->max_gap_ms)
		f->max_gap_ms = now - f->last_tick_ms;
	f->last_tick_ms = now;
	f->ticks++;
}

/* Eight RSA-2048 jobs on two workers: all answered with distinct keys while a 10 ms timer keeps firing. */
static void
test_concurrent_loop_responsive(void **state)
{
	struct fixture *f = *state;
	struct timeval tv = { 0, 10000 };
	struct keygen_stats st;
	int64_t t0, elapsed;
	int i, j;

	start(f, 2, 0, 60);
	f->ticker = event_new(f->base, -1, EV_PERSIST, tick_cb, f);
	assert_non_null(f->ticker);
	assert_int_equal(event_add(f->ticker, &tv), 0);
	t0 = util_now_ms();
	for (i = 0; i < 8; i++)
		(void)submit_rsa(f, i, 2048);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 2);
	assert_int_equal(st.queued, 6);
	assert_true(wait_for(f, called_n, 8, 25000));
	elapsed = util_now_ms() - t0;
	for (i = 0; i < 8; i++) {
		assert_int_equal(f->recs[i].called, 1);
		check_pair(f->recs[i].res, "RSA", 2048, NULL);
		for (j = 0; j < i; j++)
			assert_false(f->recs[i].res->public_len == f->recs[j].res->public_len &&
			    memcmp(f->recs[i].res->public_der, f->recs[j].res->public_der,
			    f->recs[i].res->public_len) == 0);
	}
	keygen_stats(f->kg, &st);
	assert_int_equal(st.generated, 8);
	print_message("8 RSA-2048 on 2 workers: %lld ms, %u ticks, largest gap %lld ms\n", (long long)elapsed,
	    f->ticks, (long long)f->max_gap_ms);
	/* A behaviour check, not a benchmark: the loop kept running while keys were made. */
	assert_true(f->ticks >= (unsigned)(elapsed / 10 / 3));
	assert_true(f->max_gap_ms < 200);
}

/* A full pool answers two RSA-2048 jobs at once, then fills up again. */
static void
test_pool_hits_and_refill(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	uint64_t generated;
	int64_t t0;

	start(f, 2, 2, 30);
	assert_true(wait_for(f, pool_at_least, 2, 15000));
	assert_true(wait_for(f, all_idle, 0, 5000));	/* nothing more to make */
	keygen_stats(f->kg, &st);
	assert_int_equal(st.pool_ready, 2);
	generated = st.generated;
	assert_int_equal(generated, 2);

	t0 = util_now_ms();
	(void)submit_rsa(f, 0, 2048);
	(void)submit_rsa(f, 1, 2048);
	assert_true(wait_for(f, called_n, 2, 5000));
	/* From memory: both answered long before a worker could have made a key. */
	assert_true(f->recs[0].at_ms - t0 < 50);
	assert_true(f->recs[1].at_ms - t0 < 50);
	check_pair(f->recs[0].res, "RSA", 2048, NULL);
	check_pair(f->recs[1].res, "RSA", 2048, NULL);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.pool_hits, 2);
	assert_int_equal(st.pool_misses, 0);

	assert_true(wait_for(f, pool_at_least, 2, 15000));
	keygen_stats(f->kg, &st);
	assert_int_equal(st.generated, generated + 2);
	assert_int_equal(st.pool_hits, 2);
	/* The refilled keys are new ones. */
	(void)submit_rsa(f, 2, 2048);
	assert_true(wait_for(f, called_one, 2, 5000));
	check_pair(f->recs[2].res, "RSA", 2048, NULL);
	assert_int_not_equal(memcmp(f->recs[2].res->public_der, f->recs[0].res->public_der, 64), 0);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.pool_hits, 3);
}

/* With one worker busy refilling, an EC job is not held up: the refill gives way. */
static void
test_refill_gives_way(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	int64_t t0;
	int i;

	start(f, 1, 8, 30);
	for (i = 0; i < 3; i++) {
		run_for(f, 30);
		keygen_stats(f->kg, &st);
		assert_int_equal(st.busy_workers, 1);	/* refilling: 8 keys take seconds */
		t0 = util_now_ms();
		(void)submit_ec(f, i, NID_X9_62_prime256v1);
		assert_true(wait_for(f, called_one, i, 5000));
		check_pair(f->recs[i].res, "EC", 256, "prime256v1");
		print_message("EC P-256 behind a refill answered in %lld ms\n", (long long)(f->recs[i].at_ms - t0));
		assert_true(f->recs[i].at_ms - t0 < 300);
	}
	/* An RSA-2048 job that finds the pool empty takes over the running refill. */
	keygen_stats(f->kg, &st);
	if (st.pool_ready == 0) {
		(void)submit_rsa(f, 3, 2048);
		keygen_stats(f->kg, &st);
		assert_int_equal(st.pool_misses, 1);
		assert_int_equal(st.queued, 0);
		assert_true(wait_for(f, called_one, 3, 10000));
		check_pair(f->recs[3].res, "RSA", 2048, NULL);
	}
	assert_true(wait_for(f, pool_at_least, 1, 10000));
}

/* Cancelled jobs, queued, running or already answered from the pool, never see their callback. */
static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	struct keygen_job *a, *b, *d;
	struct keygen_stats st;

	start(f, 1, 0, 30);
	a = submit_rsa(f, 0, 4096);		/* running */
	b = submit_ec(f, 1, NID_secp384r1);	/* queued */
	(void)submit_ec(f, 2, NID_X9_62_prime256v1);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 1);
	assert_int_equal(st.queued, 2);
	keygen_cancel(b);
	keygen_cancel(a);
	keygen_cancel(NULL);
	assert_true(wait_for(f, called_one, 2, 5000));
	check_pair(f->recs[2].res, "EC", 256, "prime256v1");
	assert_true(wait_for(f, all_idle, 0, 5000));
	run_for(f, 100);
	assert_int_equal(f->recs[0].called, 0);
	assert_int_equal(f->recs[1].called, 0);
	/* The aborted RSA-4096 was not made: only the EC key was. */
	keygen_stats(f->kg, &st);
	assert_int_equal(st.generated, 1);
	keygen_free(f->kg);
	f->kg = NULL;

	/* Answered from the pool but cancelled before the loop delivered it. */
	start(f, 1, 1, 30);
	assert_true(wait_for(f, pool_at_least, 1, 10000));
	d = submit_rsa(f, 3, 2048);
	keygen_cancel(d);
	(void)submit_ec(f, 4, NID_secp521r1);
	assert_true(wait_for(f, called_one, 4, 5000));
	run_for(f, 50);
	assert_int_equal(f->recs[3].called, 0);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.pool_hits, 1);
}

/* A worker killed in the middle of a job: the job is answered by its replacement. */
static void
test_worker_killed_mid_job(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	pid_t old;

	start(f, 1, 0, 30);
	old = worker_pid(f, 0);
	assert_true(old > 0);
	(void)submit_rsa(f, 0, 2048);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 1);
	assert_int_equal(kill(old, SIGKILL), 0);
	assert_true(wait_for(f, called_one, 0, 10000));
	check_pair(f->recs[0].res, "RSA", 2048, NULL);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.worker_restarts, 1);
	assert_int_equal(st.failures, 0);
	assert_true(new_worker0(f, old));
	assert_true(wait_for(f, reaped, old, 2000));
}

/* A job whose worker dies twice is answered with an error instead of being retried for ever. */
static void
test_job_lost_twice(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	pid_t first, second;

	start(f, 1, 0, 60);
	first = worker_pid(f, 0);
	(void)submit_rsa(f, 0, 8192);		/* seconds of work: still running when killed */
	assert_int_equal(kill(first, SIGKILL), 0);
	assert_true(wait_for(f, new_worker0_busy, first, 5000));
	second = worker_pid(f, 0);
	assert_int_equal(f->recs[0].called, 0);
	assert_int_equal(kill(second, SIGKILL), 0);
	assert_true(wait_for(f, called_one, 0, 5000));
	check_error(f->recs[0].res, "key generation worker died");
	keygen_stats(f->kg, &st);
	assert_int_equal(st.failures, 1);
	assert_true(wait_for(f, reaped, first, 2000));
	assert_true(wait_for(f, reaped, second, 2000));
	/* The next worker works. */
	assert_true(wait_for(f, new_worker0, second, 5000));
	(void)submit_ec(f, 1, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 1, 5000));
	check_pair(f->recs[1].res, "EC", 256, "prime256v1");
	keygen_stats(f->kg, &st);
	assert_int_equal(st.worker_restarts, 2);
}

/* A stuck (stopped) worker: the job is answered with the timeout error and the worker replaced. */
static void
test_timeout_stuck_worker(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	int64_t t0;
	pid_t old;

	start(f, 1, 0, 1);
	old = worker_pid(f, 0);
	t0 = util_now_ms();
	(void)submit_rsa(f, 0, 2048);
	assert_int_equal(kill(old, SIGSTOP), 0);
	assert_true(wait_for(f, called_one, 0, 5000));
	check_error(f->recs[0].res, "key generation timed out after 1 s");
	assert_true(f->recs[0].at_ms - t0 >= 900);
	assert_true(f->recs[0].at_ms - t0 < 3000);
	assert_true(wait_for(f, reaped, old, 2000));
	assert_true(wait_for(f, new_worker0, old, 2000));
	keygen_stats(f->kg, &st);
	assert_int_equal(st.worker_restarts, 1);
	assert_int_equal(st.failures, 1);
	(void)submit_ec(f, 1, NID_secp384r1);
	assert_true(wait_for(f, called_one, 1, 5000));
	check_pair(f->recs[1].res, "EC", 384, "secp384r1");
}

/* RSA-8192 (15-20 s here) with a 1 s timeout. */
static void
test_timeout_rsa8192(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	int64_t t0 = util_now_ms();

	start(f, 1, 0, 1);
	(void)submit_rsa(f, 0, 8192);
	assert_true(wait_for(f, called_one, 0, 5000));
	check_error(f->recs[0].res, "key generation timed out after 1 s");
	assert_true(f->recs[0].at_ms - t0 >= 900);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.generated, 0);
	assert_int_equal(st.failures, 1);
}

/*
 * Workers that die right after starting are restarted after a growing delay rather than in a fork loop,
 * and while none can run, a job is answered with an error at once instead of waiting.
 */
static void
test_restart_backoff(void **state)
{
	struct fixture *f = *state;
	struct keygen_stats st;
	pid_t pid;
	int64_t t0, took[3];
	int i;

	start(f, 1, 0, 30);
	for (i = 0; i < 3; i++) {
		pid = worker_pid(f, 0);
		assert_true(pid > 0);
		t0 = util_now_ms();
		assert_int_equal(kill(pid, SIGKILL), 0);
		if (i < 2)
			assert_true(wait_for(f, new_worker0, pid, 5000));
		else
			assert_true(wait_for(f, worker0_down, 0, 5000));
		took[i] = util_now_ms() - t0;
	}
	/* Third quick death in a row: down for 200 ms, and nothing to wait for meanwhile. */
	t0 = util_now_ms();
	(void)submit_ec(f, 0, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 0, 1000));
	check_error(f->recs[0].res, "no key generation worker is running (restarts keep failing)");
	assert_true(f->recs[0].at_ms - t0 < 100);
	assert_true(wait_for(f, new_worker0, 0, 5000));
	print_message("restarts took %lld, %lld ms; third worker back after %lld ms\n", (long long)took[0],
	    (long long)took[1], (long long)(util_now_ms() - t0));
	assert_true(took[0] < 100);		/* first death: at once */
	assert_true(took[1] >= 90);		/* second: 100 ms back-off */
	assert_true(util_now_ms() - t0 >= 150);	/* third: 200 ms back-off */
	(void)submit_ec(f, 1, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 1, 5000));
	check_pair(f->recs[1].res, "EC", 256, "prime256v1");
	keygen_stats(f->kg, &st);
	assert_int_equal(st.worker_restarts, 3);
}

/* keygen_free with workers busy and jobs queued: no callback, no process left, and quickly. */
static void
test_free_leaves_no_children(void **state)
{
	struct fixture *f = *state;
	pid_t pids[3];
	int64_t t0;
	size_t i;
	int status;

	start(f, 3, 4, 30);
	(void)submit_rsa(f, 0, 4096);
	(void)submit_rsa(f, 1, 4096);
	(void)submit_rsa(f, 2, 4096);
	(void)submit_ec(f, 3, NID_secp521r1);
	run_for(f, 50);
	assert_int_equal(keygen_worker_pids(f->kg, pids, 3), 3);
	for (i = 0; i < 3; i++)
		assert_true(pids[i] > 0);
	t0 = util_now_ms();
	keygen_free(f->kg);
	f->kg = NULL;
	assert_true(util_now_ms() - t0 < 1500);
	for (i = 0; i < 3; i++)
		assert_true(reaped(f, pids[i]));
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	run_for(f, 20);
	for (i = 0; i < 4; i++)
		assert_int_equal(f->recs[i].called, 0);
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(*(int *)arg)++;
}

/* True in a build with AddressSanitizer (make asan), whose runtime handles fatal signals itself. */
static bool
sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

/* Reads a hexadecimal field ("SigCgt:\t...", "Seccomp:\t2") from /proc/PID/status. */
static unsigned long long
proc_sigmask(pid_t pid, const char *field)
{
	char path[64], line[256];
	unsigned long long v = ~0ULL;
	size_t len = strlen(field);
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			v = strtoull(line + len + 1, NULL, 16);
	fclose(fp);
	return v;
}

/* The nice value of a process, field 19 of /proc/PID/stat (after the command name in parentheses). */
static int
proc_nice(pid_t pid)
{
	char path[64], buf[1024], *p;
	int i, nice = 100;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	p = strrchr(buf, ')');
	assert_non_null(p);
	/* Fields 3.. follow ") "; the nice value is field 19. */
	for (i = 3, p += 2; i < 19 && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	assert_non_null(p);
	assert_int_equal(sscanf(p, "%d", &nice), 1);
	return nice;
}

/*
 * A worker keeps none of the parent's descriptors (a pipe's write end it inherited does not keep the pipe
 * open), runs no inherited signal handler (libevent's, here for SIGHUP), blocks nothing, ignores only
 * SIGPIPE, runs nicer than the server and in its sandbox; the parent's own signal handling is left as it was.
 */
static void
test_worker_process_hygiene(void **state)
{
	struct fixture *f = *state;
	struct event *hup;
	sigset_t mask;
	char c;
	int p[2], hups = 0, sig;
	unsigned long long reserved = 0;
	pid_t pid;

	hup = evsignal_new(f->base, SIGHUP, hup_cb, &hups);
	assert_non_null(hup);
	assert_int_equal(evsignal_add(hup, NULL), 0);
	assert_int_equal(pipe(p), 0);
	start(f, 1, 0, 30);
	pid = worker_pid(f, 0);
	(void)submit_ec(f, 0, NID_X9_62_prime256v1);	/* answered: the worker is past its set-up */
	assert_true(wait_for(f, called_one, 0, 5000));
	check_pair(f->recs[0].res, "EC", 256, "prime256v1");

	close(p[1]);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);

	/*
	 * glibc keeps the signals between 31 and SIGRTMIN for itself and refuses to change them, so their
	 * disposition is whatever the test was started with (make ignores some of them): leave them out.
	 */
	for (sig = 32; sig < SIGRTMIN; sig++)
		reserved |= 1ULL << (sig - 1);
	assert_int_equal(proc_sigmask(pid, "SigBlk") & ~reserved, 0);
	/*
	 * The worker is exec'd, so any handler it has is its own: under AddressSanitizer that is the
	 * runtime's report on a fatal signal, installed at its start.
	 */
	if (sanitized())
		reserved |= 1ULL << (SIGSEGV - 1) | 1ULL << (SIGBUS - 1) | 1ULL << (SIGFPE - 1);
	assert_int_equal(proc_sigmask(pid, "SigCgt") & ~reserved, 0);
	assert_int_equal(proc_sigmask(pid, "SigIgn") & ~reserved, 1ULL << (SIGPIPE - 1));
	/* Nicer than the server, whose loop answers everyone. */
	assert_int_equal(proc_nice(pid), proc_nice(getpid()) + KEYGEN_WORKER_NICE > 19 ? 19 :
	    proc_nice(getpid()) + KEYGEN_WORKER_NICE);
	/* Confined (core/sandbox.c): a seccomp filter, and no new privileges. */
	assert_int_equal(proc_sigmask(pid, "Seccomp"), 2);
	assert_int_equal(proc_sigmask(pid, "NoNewPrivs"), 1);

	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGHUP));
	assert_int_equal(raise(SIGHUP), 0);
	run_for(f, 20);
	assert_int_equal(hups, 1);
	event_free(hup);
}

/* The first argument (argv[0]) a process runs with, read from /proc/PID/cmdline. */
static void
proc_argv0(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
}

/*
 * A worker is a new image of the program (exec'd as KEYGEN_WORKER_NAME), not a fork that keeps the
 * parent's memory: not at start, and not when restarted later, when the parent holds far more (a server's
 * TLS key, its store, keys it handed out).
 */
static void
test_worker_is_a_fresh_image(void **state)
{
	struct fixture *f = *state;
	char argv0[256];
	pid_t pid;

	start(f, 1, 0, 30);
	pid = worker_pid(f, 0);
	/* Once it has answered, the worker is past its start-up (exec included). */
	(void)submit_ec(f, 0, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 0, 5000));
	check_pair(f->recs[0].res, "EC", 256, "prime256v1");
	proc_argv0(pid, argv0, sizeof(argv0));
	assert_string_equal(argv0, KEYGEN_WORKER_NAME);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(wait_for(f, new_worker0, pid, 5000));
	pid = worker_pid(f, 0);
	(void)submit_ec(f, 1, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 1, 5000));
	check_pair(f->recs[1].res, "EC", 256, "prime256v1");
	proc_argv0(pid, argv0, sizeof(argv0));
	assert_string_equal(argv0, KEYGEN_WORKER_NAME);
}

/* Keeps the result and stops the loop (for the forked parent below, which has no fixture). */
struct loopbreak {
	struct event_base *base;
	struct keygen_result *res;
};

static void
loopbreak_cb(struct keygen_result *res, void *arg)
{
	struct loopbreak *lb = arg;

	lb->res = res;
	event_base_loopbreak(lb->base);
}

/* The parent dies without stopping its workers: they die with it (PR_SET_PDEATHSIG). */
static void
test_worker_dies_with_parent(void **state)
{
	struct fixture *f = *state;
	int p[2], status;
	pid_t mid, r, w = 0;
	int64_t end;

	(void)f;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);	/* orphaned workers come back to us */
	assert_int_equal(pipe(p), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		struct event_base *b = event_base_new();
		struct keygen *kg = NULL;
		char *cause = NULL;

		struct keygen_spec spec = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1 };
		struct loopbreak lb = { b, NULL };

		close(p[0]);
		if (b == NULL || keygen_start(b, 1, 0, 30, &kg, &cause) != 0)
			_exit(2);
		/* Once a job is answered, the worker has set its death signal. */
		if (keygen_submit(kg, &spec, loopbreak_cb, &lb) == NULL)
			_exit(3);
		(void)event_base_dispatch(b);
		if (lb.res == NULL || lb.res->status != 0)
			_exit(3);
		(void)keygen_worker_pids(kg, &w, 1);
		if (write(p[1], &w, sizeof(w)) != (ssize_t)sizeof(w))
			_exit(3);
		pause();
		_exit(4);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &w, sizeof(w)), (ssize_t)sizeof(w));
	close(p[0]);
	assert_true(w > 0);
	/* Stopped, the worker cannot react to its socket closing: only the death signal can end it. */
	assert_int_equal(kill(w, SIGSTOP), 0);
	assert_int_equal(kill(mid, SIGKILL), 0);
	assert_int_equal(waitpid(mid, &status, 0), mid);
	end = util_now_ms() + 3000;
	status = 0;
	while ((r = waitpid(w, &status, WNOHANG)) == 0 && util_now_ms() < end)
		usleep(5000);
	if (r == 0) {
		(void)kill(w, SIGKILL);
		(void)waitpid(w, &status, 0);
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	assert_int_equal(r, w);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* ---- derivations, prime recovery, fairness, the cap, and the parent's checks of what workers send ---- */

/* Submits spec (with owner) as job i. */
static struct keygen_job *
submit_spec(struct fixture *f, int i, const struct keygen_spec *spec)
{
	struct keygen_job *job;

	f->in_submit = true;
	job = keygen_submit(f->kg, spec, record_cb, &f->recs[i]);
	f->in_submit = false;
	assert_non_null(job);
	return job;
}

/* A password derivation on a worker gives what PBKDF2-HMAC-SHA256 gives here; bad bounds are refused. */
static void
test_pbkdf2_job(void **state)
{
	struct fixture *f = *state;
	static const uint8_t salt[] = "0123456789abcdef";
	static const char pass[] = "correct horse";
	struct keygen_spec spec = { .alg = KEYGEN_PBKDF2, .owner = "tenant", .iterations = 20000, .salt = salt,
	    .salt_len = 16, .password = (const uint8_t *)pass, .password_len = sizeof(pass) - 1 };
	uint8_t want[KEYGEN_PBKDF2_LEN];

	start(f, 1, 0, 30);
	assert_int_equal(PKCS5_PBKDF2_HMAC(pass, (int)sizeof(pass) - 1, salt, 16, 20000, EVP_sha256(), sizeof(want),
	    want), 1);
	(void)submit_spec(f, 0, &spec);
	spec.iterations = KEYGEN_PBKDF2_MAX_ITERATIONS + 1;
	(void)submit_spec(f, 1, &spec);
	spec.iterations = 1000;
	spec.password_len = KEYGEN_PBKDF2_MAX_PASSWORD + 1;
	(void)submit_spec(f, 2, &spec);
	assert_true(wait_for(f, called_n, 3, 10000));
	assert_int_equal(f->recs[0].res->status, 0);
	assert_int_equal(f->recs[0].res->private_len, KEYGEN_PBKDF2_LEN);
	assert_memory_equal(f->recs[0].res->private_der, want, sizeof(want));
	assert_null(f->recs[0].res->public_der);
	check_error(f->recs[1].res, NULL);
	check_error(f->recs[2].res, NULL);
}

/*
 * Derive Key's PBKDF2: the digest and length asked, the bytes PKCS5_PBKDF2_HMAC gives; a digest OpenSSL does
 * not know fails on the worker, lengths and inputs out of bounds are refused at submission.
 */
static void
test_derive_job(void **state)
{
	struct fixture *f = *state;
	static const uint8_t salt[] = "salt of a Derive Key";
	static const char pass[] = "the source key's bytes";
	struct keygen_spec spec = { .alg = KEYGEN_DERIVE, .owner = "tenant", .iterations = 3000, .salt = salt,
	    .salt_len = 20, .password = (const uint8_t *)pass, .password_len = sizeof(pass) - 1, .digest = "SHA384",
	    .out_len = 100 };
	uint8_t want[100];

	start(f, 1, 0, 30);
	assert_int_equal(PKCS5_PBKDF2_HMAC(pass, (int)sizeof(pass) - 1, salt, 20, 3000, EVP_sha384(), sizeof(want),
	    want), 1);
	(void)submit_spec(f, 0, &spec);
	spec.digest = "NO-SUCH-DIGEST";
	(void)submit_spec(f, 1, &spec);
	spec.digest = "SHA256";
	spec.out_len = KEYGEN_DERIVE_MAX_LEN + 1;
	(void)submit_spec(f, 2, &spec);
	spec.out_len = 32;
	spec.salt_len = KEYGEN_DERIVE_MAX_SALT + 1;
	(void)submit_spec(f, 3, &spec);
	assert_true(wait_for(f, called_n, 4, 10000));
	assert_int_equal(f->recs[0].res->status, 0);
	assert_int_equal(f->recs[0].res->private_len, sizeof(want));
	assert_memory_equal(f->recs[0].res->private_der, want, sizeof(want));
	assert_null(f->recs[0].res->public_der);
	check_error(f->recs[1].res, NULL);
	check_error(f->recs[2].res, NULL);
	check_error(f->recs[3].res, NULL);
}

/* A DSA key pair: parameters and key made on the worker, of the size asked, checked by the parent. */
static void
test_dsa_job(void **state)
{
	struct fixture *f = *state;
	struct keygen_spec spec = { .alg = KEYGEN_DSA, .owner = "tenant", .bits = 1024 };
	const unsigned char *p;
	EVP_PKEY *k;

	start(f, 1, 0, 60);
	(void)submit_spec(f, 0, &spec);
	spec.bits = 4096;
	(void)submit_spec(f, 1, &spec);
	assert_true(wait_for(f, called_n, 2, 30000));
	assert_int_equal(f->recs[0].res->status, 0);
	p = f->recs[0].res->public_der;
	k = d2i_PUBKEY(NULL, &p, (long)f->recs[0].res->public_len);
	assert_non_null(k);
	assert_true(EVP_PKEY_is_a(k, "DSA"));
	assert_int_equal(EVP_PKEY_get_bits(k), 1024);
	EVP_PKEY_free(k);
	check_error(f->recs[1].res, "DSA key size 4096 not supported (1024, 2048 or 3072 bits)");
}

/*
 * A derivation cancelled while it runs cannot be stopped half way: it runs out on its worker, its result is
 * dropped without a callback, and the worker then takes the next job.
 */
static void
test_cancel_running_derivation(void **state)
{
	struct fixture *f = *state;
	static const uint8_t salt[16];
	struct keygen_spec spec = { .alg = KEYGEN_PBKDF2, .owner = "tenant", .iterations = 2000000, .salt = salt,
	    .salt_len = sizeof(salt), .password = salt, .password_len = 8 };
	struct keygen_stats st;
	struct keygen_job *job;

	start(f, 1, 0, 30);
	job = submit_spec(f, 0, &spec);
	run_for(f, 50);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 1);
	keygen_cancel(job);
	(void)submit_ec(f, 1, NID_X9_62_prime256v1);
	assert_true(wait_for(f, called_one, 1, 20000));
	check_pair(f->recs[1].res, "EC", 256, "prime256v1");
	assert_true(wait_for(f, all_idle, 0, 20000));
	assert_int_equal(f->recs[0].called, 0);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.worker_restarts, 0);
}

/* Copies bn into buf (big-endian, no leading zeros) and returns its length. */
static size_t
bn_bytes(const BIGNUM *bn, uint8_t *buf)
{
	int n = BN_bn2bin(bn, buf);

	assert_true(n > 0);
	return (size_t)n;
}

/*
 * The primes of a real RSA-2048 key come back from n, e, d; a d that is not the key's is "does not match", a
 * d above n is refused, and an oversized n never reaches a worker.
 */
static void
test_rsa_recover_job(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL, *got_p, *got_q, *d2;
	uint8_t nb[1024], eb[16], db[1024], db2[1024], big[KEYGEN_RECOVER_MAX_BITS / 8 + 1];
	struct keygen_spec spec = { .alg = KEYGEN_RSA_RECOVER, .owner = "tenant" };

	assert_non_null(pkey);
	assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n));
	assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e));
	assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &d));
	assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p));
	assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &q));
	if (BN_cmp(p, q) < 0)
		BN_swap(p, q);
	start(f, 2, 0, 30);
	spec.n = nb;
	spec.n_len = bn_bytes(n, nb);
	spec.e = eb;
	spec.e_len = bn_bytes(e, eb);
	spec.d = db;
	spec.d_len = bn_bytes(d, db);
	(void)submit_spec(f, 0, &spec);
	d2 = BN_dup(d);
	assert_true(BN_add_word(d2, 2));
	spec.d = db2;
	spec.d_len = bn_bytes(d2, db2);
	(void)submit_spec(f, 1, &spec);
	spec.d = nb;			/* d = n */
	spec.d_len = spec.n_len;
	(void)submit_spec(f, 2, &spec);
	memset(big, 0xff, sizeof(big));
	spec.n = big;
	spec.n_len = sizeof(big);
	(void)submit_spec(f, 3, &spec);
	assert_true(wait_for(f, called_n, 4, 20000));
	assert_int_equal(f->recs[0].res->status, 0);
	got_p = BN_bin2bn(f->recs[0].res->private_der, (int)f->recs[0].res->private_len, NULL);
	got_q = BN_bin2bn(f->recs[0].res->public_der, (int)f->recs[0].res->public_len, NULL);
	assert_int_equal(BN_cmp(got_p, p), 0);
	assert_int_equal(BN_cmp(got_q, q), 0);
	check_error(f->recs[1].res, "the RSA private exponent does not match the modulus and public exponent");
	check_error(f->recs[2].res, "the RSA private exponent is not below the modulus");
	check_error(f->recs[3].res, NULL);
	BN_free(got_p);
	BN_free(got_q);
	BN_free(d2);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(p);
	BN_clear_free(q);
	EVP_PKEY_free(pkey);
}

/*
 * One worker, one owner's three P-384 pairs queued before another owner's P-256: the other owner's job runs
 * second, right after the one already running, not fourth.
 */
static void
test_fair_between_owners(void **state)
{
	struct fixture *f = *state;
	struct keygen_spec a = { .alg = KEYGEN_EC, .curve_nid = NID_secp384r1, .owner = "tenant-a" };
	struct keygen_spec b = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1, .owner = "tenant-b" };
	int i;

	start(f, 1, 0, 30);
	for (i = 0; i < 4; i++)
		(void)submit_spec(f, i, &a);
	(void)submit_spec(f, 4, &b);
	assert_true(wait_for(f, called_n, 5, 20000));
	for (i = 0; i < 5; i++)
		assert_int_equal(f->recs[i].res->status, 0);
	/* Served a0, b, a1, a2, a3. */
	assert_true(f->recs[4].at_ms <= f->recs[1].at_ms);
	assert_true(f->recs[0].at_ms <= f->recs[4].at_ms);
	check_pair(f->recs[4].res, "EC", 256, "prime256v1");
}

/* Past keygen_set_max_per_owner an owner's key work is refused at once; derivations and others are not. */
static void
test_max_per_owner(void **state)
{
	struct fixture *f = *state;
	struct keygen_spec a = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1, .owner = "tenant-a" };
	struct keygen_spec b = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1, .owner = "tenant-b" };
	static const uint8_t salt[16];
	struct keygen_spec kdf = { .alg = KEYGEN_PBKDF2, .owner = "tenant-a", .iterations = 1000, .salt = salt,
	    .salt_len = sizeof(salt), .password = salt, .password_len = 4 };
	struct keygen_stats st;

	start(f, 1, 0, 30);
	keygen_set_max_per_owner(f->kg, 2);
	(void)submit_spec(f, 0, &a);
	(void)submit_spec(f, 1, &a);
	(void)submit_spec(f, 2, &a);
	(void)submit_spec(f, 3, &b);
	(void)submit_spec(f, 4, &kdf);
	assert_true(wait_for(f, called_one, 2, 1000));
	check_error(f->recs[2].res, NULL);
	assert_non_null(strstr(f->recs[2].res->message, "keygen.max_per_identity"));
	assert_true(wait_for(f, called_n, 5, 20000));
	assert_int_equal(f->recs[0].res->status, 0);
	assert_int_equal(f->recs[1].res->status, 0);
	assert_int_equal(f->recs[3].res->status, 0);
	assert_int_equal(f->recs[4].res->status, 0);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.refused, 1);
	/* Answered jobs no longer count: the owner may submit again. */
	(void)submit_spec(f, 5, &a);
	assert_true(wait_for(f, called_one, 5, 20000));
	assert_int_equal(f->recs[5].res->status, 0);
}

/*
 * A derivation cancelled while it runs still holds its worker, so it still counts for its owner in the fair
 * order: hanging up and asking again does not put the owner first. With two workers, tenant-a's cancelled
 * long derivation and tenant-b's short one running, tenant-b's key is served before tenant-a's next.
 */
static void
test_cancelled_running_job_keeps_its_share(void **state)
{
	struct fixture *f = *state;
	static const uint8_t salt[16];
	struct keygen_spec along = { .alg = KEYGEN_PBKDF2, .owner = "tenant-a", .iterations = 5000000,
	    .salt = salt, .salt_len = sizeof(salt), .password = salt, .password_len = 8 };
	struct keygen_spec bshort = along;
	struct keygen_spec a = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1, .owner = "tenant-a" };
	struct keygen_spec b = { .alg = KEYGEN_EC, .curve_nid = NID_X9_62_prime256v1, .owner = "tenant-b" };
	struct keygen_job *job;
	struct keygen_stats st;

	bshort.owner = "tenant-b";
	bshort.iterations = 300000;
	start(f, 2, 0, 30);
	job = submit_spec(f, 0, &along);
	run_for(f, 50);
	keygen_cancel(job);
	(void)submit_spec(f, 1, &bshort);
	run_for(f, 20);
	keygen_stats(f->kg, &st);
	assert_int_equal(st.busy_workers, 2);
	(void)submit_spec(f, 2, &a);
	(void)submit_spec(f, 3, &b);
	assert_true(wait_for(f, called_one, 2, 20000));
	assert_true(wait_for(f, called_one, 3, 20000));
	assert_int_equal(f->recs[0].called, 0);
	assert_int_equal(f->recs[2].res->status, 0);
	assert_int_equal(f->recs[3].res->status, 0);
	assert_true(f->recs[3].order < f->recs[2].order);
}


/*
 * A worker that answers with a key pair that is not what was asked (a public key of another key, another
 * curve, bytes that are not DER) is killed and its job fails; the parent never hands the key on. The worker
 * here is this program in a fake mode (KEYGEN_TEST_FAKE, see fake_worker_main).
 */
static void
test_parent_checks_worker_keys(void **state)
{
	static const char *const modes[] = { "mismatch", "curve", "garbage", "rsa-size" };
	struct fixture *f = *state;
	struct keygen_stats st;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(setenv("KEYGEN_TEST_FAKE", modes[i], 1), 0);
		start(f, 1, 0, 30);
		if (strcmp(modes[i], "rsa-size") == 0)
			(void)submit_rsa(f, 0, 2048);
		else
			(void)submit_ec(f, 0, NID_X9_62_prime256v1);
		assert_true(wait_for(f, called_one, 0, 20000));
		check_error(f->recs[0].res, NULL);
		assert_non_null(strstr(f->recs[0].res->message, "did not pass the checks"));
		keygen_stats(f->kg, &st);
		assert_int_equal(st.bad_answers, 1);
		keygen_free(f->kg);
		f->kg = NULL;
		keygen_result_free(f->recs[0].res);
		f->recs[0].res = NULL;
		f->recs[0].called = 0;
	}
	assert_int_equal(unsetenv("KEYGEN_TEST_FAKE"), 0);
}

/* The wire format of keygen.c, for the fake worker. */
struct fake_req {
	uint32_t id, op, param, payload_len;
};
struct fake_resp {
	uint32_t id;
	int32_t status;
	uint32_t private_len, public_len, message_len;
};

/* DER of a key: PKCS#8 of its private half, or its SubjectPublicKeyInfo. Returns the length. */
static int
fake_der(EVP_PKEY *k, bool private, uint8_t **out)
{
	PKCS8_PRIV_KEY_INFO *p8;
	int n;

	*out = NULL;
	if (!private)
		return i2d_PUBKEY(k, out);
	p8 = EVP_PKEY2PKCS8(k);
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, out);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return n;
}

/*
 * A worker that answers every job with a key pair that is wrong in the way mode says: "mismatch" (the
 * public half of another key), "curve" (P-384 for anything), "garbage" (random bytes), "rsa-size" (RSA-1024
 * whatever was asked).
 */
static void __attribute__((noreturn))
fake_worker_main(const char *mode)
{
	struct fake_req req;
	struct fake_resp h;
	uint8_t payload[8192], *priv = NULL, *pub = NULL, junk[64];
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	int pl, ul;

	for (;;) {
		if (read(3, &req, sizeof(req)) != (ssize_t)sizeof(req) || req.payload_len > sizeof(payload) ||
		    (req.payload_len > 0 && read(3, payload, req.payload_len) != (ssize_t)req.payload_len))
			_exit(0);
		if (req.op == 3)
			continue;
		if (strcmp(mode, "garbage") == 0) {
			memset(junk, 0x30, sizeof(junk));
			priv = OPENSSL_memdup(junk, sizeof(junk));
			pub = OPENSSL_memdup(junk, sizeof(junk));
			pl = ul = (int)sizeof(junk);
		} else {
			k1 = strcmp(mode, "rsa-size") == 0 ? EVP_RSA_gen(1024) :
			    EVP_EC_gen(strcmp(mode, "curve") == 0 ? "P-384" : "P-256");
			k2 = strcmp(mode, "mismatch") == 0 ? EVP_EC_gen("P-256") : EVP_PKEY_dup(k1);
			pl = fake_der(k1, true, &priv);
			ul = fake_der(k2, false, &pub);
		}
		h.id = req.id;
		h.status = 0;
		h.private_len = (uint32_t)pl;
		h.public_len = (uint32_t)ul;
		h.message_len = 0;
		if (write(3, &h, sizeof(h)) != (ssize_t)sizeof(h) || write(3, priv, (size_t)pl) != pl ||
		    write(3, pub, (size_t)ul) != ul)
			_exit(1);
		OPENSSL_free(priv);
		OPENSSL_free(pub);
		EVP_PKEY_free(k1);
		EVP_PKEY_free(k2);
		k1 = k2 = NULL;
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_rejects_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa2048, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ec_curves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_loop_responsive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_hits_and_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refill_gives_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_killed_mid_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_lost_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_stuck_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_rsa8192, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_leaves_no_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_process_hygiene, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_dies_with_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_is_a_fresh_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pbkdf2_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derive_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dsa_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_running_derivation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsa_recover_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fair_between_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_per_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_running_job_keeps_its_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_checks_worker_keys, setup, teardown),
	};

	/* The workers keygen_start() makes are this program again. */
	if (argc > 0 && strcmp(argv[0], KEYGEN_WORKER_NAME) == 0) {
		if (getenv("KEYGEN_TEST_FAKE") != NULL)
			fake_worker_main(getenv("KEYGEN_TEST_FAKE"));
		keygen_worker_main();
	}
	log_init(getenv("KEYGEN_TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, false, 0);
	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
