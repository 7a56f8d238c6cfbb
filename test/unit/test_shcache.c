/*
 * Tests of the shared TLS state (tls/shcache.c) across processes: sessions stored by a child are read by
 * the parent, expiry, replacement when a set is full, sessions too large, and the robust mutex taken over
 * after a process was killed holding it. Sessions are made here (no handshake), with a real cipher so
 * that they decode again.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/tls.h"

struct fx {
	struct tls_config	 cfg;
	struct tls_shared	*sh;
	SSL_CTX			*ctx;
	SSL			*ssl;		/* only to find a cipher by its id */
	char			*cause;
	pid_t			 child;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	tls_config_init(&fx->cfg);
	fx->cfg.session_cache_size = 64;
	fx->child = -1;
	if ((fx->ctx = SSL_CTX_new(TLS_method())) == NULL || (fx->ssl = SSL_new(fx->ctx)) == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->child > 0) {
		kill(fx->child, SIGKILL);
		(void)waitpid(fx->child, NULL, 0);
	}
	tls_shared_free(fx->sh);
	SSL_free(fx->ssl);
	SSL_CTX_free(fx->ctx);
	free(fx->cause);
	free(fx);
	ERR_clear_error();
	return 0;
}

/* Makes the shared state of fx->cfg, failing the test with the cause if it cannot. */
static void
make_shared(struct fx *fx)
{
	int rc = tls_shared_new(&fx->cfg, &fx->sh, &fx->cause);

	if (rc != 0)
		fprintf(stderr, "tls_shared_new: %s\n", fx->cause);
	assert_int_equal(rc, 0);
}

/*
 * A TLS 1.2 session with id n (32 bytes), a master key derived from n, started at start and valid for
 * timeout seconds; name (if not NULL) as its SNI host name, which makes its DER as long as needed.
 */
static SSL_SESSION *
session(struct fx *fx, unsigned n, time_t start, long timeout, const char *name)
{
	static const unsigned char ecdhe_rsa_aes256_gcm[2] = { 0xc0, 0x30 };
	unsigned char id[32], key[48];
	SSL_SESSION *s;

	memset(id, 0, sizeof(id));
	memcpy(id, &n, sizeof(n));
	memset(key, (int)(n & 0xff), sizeof(key));
	assert_non_null(s = SSL_SESSION_new());
	assert_int_equal(SSL_SESSION_set_protocol_version(s, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_SESSION_set_cipher(s, SSL_CIPHER_find(fx->ssl, ecdhe_rsa_aes256_gcm)), 1);
	assert_int_equal(SSL_SESSION_set1_id(s, id, sizeof(id)), 1);
	assert_int_equal(SSL_SESSION_set1_master_key(s, key, sizeof(key)), 1);
	assert_int_equal(SSL_SESSION_set1_id_context(s, (const unsigned char *)"kmipd", 5), 1);
	SSL_SESSION_set_time(s, (long)start);
	SSL_SESSION_set_timeout(s, timeout);
	if (name != NULL)
		assert_int_equal(SSL_SESSION_set1_hostname(s, name), 1);
	return s;
}

/* Stores session n; returns tls_shared_put's answer. */
static int
put(struct fx *fx, unsigned n, time_t start, long timeout, const char *name)
{
	SSL_SESSION *s = session(fx, n, start, timeout, name);
	int rc = tls_shared_put(fx->sh, s);

	SSL_SESSION_free(s);
	return rc;
}

/* True when session n is in the cache with the master key put() gave it. */
static bool
has(struct fx *fx, unsigned n)
{
	unsigned char id[32], key[48];
	SSL_SESSION *s;
	size_t len;
	bool ok;

	memset(id, 0, sizeof(id));
	memcpy(id, &n, sizeof(n));
	if ((s = tls_shared_get(fx->sh, id, sizeof(id))) == NULL)
		return false;
	len = SSL_SESSION_get_master_key(s, key, sizeof(key));
	ok = len == sizeof(key) && key[0] == (n & 0xff) && key[47] == (n & 0xff);
	SSL_SESSION_free(s);
	return ok;
}

/* Waits for the child and checks that it exited 0. */
static void
child_ok(struct fx *fx)
{
	int status;

	assert_int_equal(waitpid(fx->child, &status, 0), fx->child);
	fx->child = -1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A child stores sessions; the parent, which never wrote one, reads them all back. */
static void
test_child_stores_parent_reads(void **state)
{
	struct fx *fx = *state;
	struct tls_shared_stats st;
	time_t now = time(NULL);
	unsigned i;

	make_shared(fx);
	fx->child = fork();
	assert_true(fx->child >= 0);
	if (fx->child == 0) {
		for (i = 1; i <= 20; i++)
			if (put(fx, i, now, 300, NULL) != 0)
				_exit(1);
		_exit(0);
	}
	child_ok(fx);
	for (i = 1; i <= 20; i++)
		assert_true(has(fx, i));
	assert_false(has(fx, 21));
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.stored, 20);
	assert_int_equal(st.hits, 20);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.cached, 20);
	assert_int_equal(st.slots, 64);
}

/* A session past its timeout is not resumed, and its slot is freed. */
static void
test_expiry(void **state)
{
	struct fx *fx = *state;
	struct tls_shared_stats st;
	time_t now = time(NULL);

	make_shared(fx);
	/* Expires within a second; the other has minutes left. */
	assert_int_equal(put(fx, 1, now - 100, 101, NULL), 0);
	assert_int_equal(put(fx, 2, now, 300, NULL), 0);
	/* Already expired: not stored. */
	assert_int_equal(put(fx, 3, now - 100, 50, NULL), -1);
	sleep(2);
	assert_false(has(fx, 1));
	assert_true(has(fx, 2));
	assert_false(has(fx, 3));
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.cached, 1);
}

/*
 * With one set of slots (a cache of TLS_SHCACHE_WAYS), a session more replaces the one that expires first,
 * counted as an eviction; its master key is gone, the others stay.
 */
static void
test_eviction_when_full(void **state)
{
	struct fx *fx = *state;
	struct tls_shared_stats st;
	time_t now = time(NULL);
	unsigned i;

	fx->cfg.session_cache_size = TLS_SHCACHE_WAYS;
	make_shared(fx);
	/* Session 3 expires first. */
	for (i = 1; i <= TLS_SHCACHE_WAYS; i++)
		assert_int_equal(put(fx, i, now, i == 3 ? 100 : 1000 + i, NULL), 0);
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.cached, TLS_SHCACHE_WAYS);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(put(fx, 100, now, 2000, NULL), 0);
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.cached, TLS_SHCACHE_WAYS);
	assert_false(has(fx, 3));
	assert_true(has(fx, 100));
	for (i = 1; i <= TLS_SHCACHE_WAYS; i++)
		if (i != 3)
			assert_true(has(fx, i));
	/* Storing a session again replaces its own slot: no eviction. */
	assert_int_equal(put(fx, 100, now, 3000, NULL), 0);
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.evictions, 1);
}

/* A session longer than session_max_size is not cached, and counted. */
static void
test_too_large(void **state)
{
	struct fx *fx = *state;
	struct tls_shared_stats st;
	char name[600];

	fx->cfg.session_max_size = TLS_MIN_SESSION_MAX_SIZE;
	make_shared(fx);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(put(fx, 1, time(NULL), 300, name), -1);
	assert_int_equal(put(fx, 2, time(NULL), 300, "kms.example.com"), 0);
	assert_false(has(fx, 1));
	assert_true(has(fx, 2));
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.too_large, 1);
	assert_int_equal(st.stored, 1);
}

/*
 * A child takes the lock and is killed holding it: the next process to lock takes it over (robust mutex)
 * instead of waiting for ever, counts the recovery, and the sessions stored before are still there.
 */
static void
test_lock_holder_killed(void **state)
{
	struct fx *fx = *state;
	struct tls_shared_stats st;
	int fds[2], status;
	char c;

	make_shared(fx);
	assert_int_equal(put(fx, 1, time(NULL), 300, NULL), 0);
	assert_int_equal(pipe(fds), 0);
	fx->child = fork();
	assert_true(fx->child >= 0);
	if (fx->child == 0) {
		close(fds[0]);
		if (tls_shared_lock(fx->sh) != 0)
			_exit(1);
		if (write(fds[1], "L", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(kill(fx->child, SIGKILL), 0);
	assert_int_equal(waitpid(fx->child, &status, 0), fx->child);
	fx->child = -1;
	assert_true(WIFSIGNALED(status));
	/* Would block for ever with a plain process-shared mutex. */
	alarm(10);
	assert_int_equal(tls_shared_lock(fx->sh), 0);
	tls_shared_unlock(fx->sh);
	alarm(0);
	assert_true(has(fx, 1));
	assert_int_equal(put(fx, 2, time(NULL), 300, NULL), 0);
	assert_true(has(fx, 2));
	tls_shared_stats(fx->sh, &st);
	assert_int_equal(st.recovered, 1);
	assert_int_equal(st.cached, 2);
}

/* The child that made nothing may free its handle: the parent's sessions stay (only the creator wipes). */
static void
test_child_free_keeps_sessions(void **state)
{
	struct fx *fx = *state;

	make_shared(fx);
	assert_int_equal(put(fx, 7, time(NULL), 300, NULL), 0);
	fx->child = fork();
	assert_true(fx->child >= 0);
	if (fx->child == 0) {
		tls_shared_free(fx->sh);
		_exit(0);
	}
	child_ok(fx);
	assert_true(has(fx, 7));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_child_stores_parent_reads),
		T(test_expiry),
		T(test_eviction_when_full),
		T(test_too_large),
		T(test_lock_holder_killed),
		T(test_child_free_keeps_sessions),
	};

	return cmocka_run_group_tests_name("shcache", tests, NULL, NULL);
}
