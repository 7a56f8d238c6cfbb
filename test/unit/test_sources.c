/*
 * Unit tests of core/sources: one entry per address (an IPv4-mapped IPv6 address is its IPv4 one), the
 * per-address connection limit, the token bucket over a clock the test drives, the connection chosen to
 * make room (oldest handshake of the address holding the most), and a table that never grows past its cap.
 *
 * Usage: test_sources [FILTER]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "core/conn.h"
#include "core/sources.h"
#include "test/util.h"

#define NCONNS 64

struct fixture {
	struct sources *set;
	struct config_server cfg;
	struct conn conns[NCONNS];
	int next;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sources_new(8, &f->set) != 0)
		return -1;
	f->cfg.max_connections_per_source = 0;
	f->cfg.handshake_rate_per_source = 0;
	f->cfg.handshake_burst_per_source = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	for (i = 0; i < f->next; i++)
		sources_detach(&f->conns[i]);
	sources_free(f->set);
	free(f);
	return 0;
}

/* A sockaddr for an IPv4 or IPv6 literal. */
static const struct sockaddr *
addr(const char *text)
{
	static struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)&ss;
}

/* Admits and attaches one connection from text at now; returns it, or NULL with *v the refusal. */
static struct conn *
open_from(struct fixture *f, const char *text, int64_t now, enum source_verdict *v)
{
	struct source *src;
	struct conn *c;

	*v = sources_admit(f->set, addr(text), &f->cfg, now, &src);
	if (*v != SOURCE_OK)
		return NULL;
	assert_true(f->next < NCONNS);
	c = &f->conns[f->next++];
	sources_attach(src, c);
	return c;
}

/* 127.0.0.1 and ::ffff:127.0.0.1 are one address, named in IPv4 form. */
static void
test_mapped_is_ipv4(void **state)
{
	struct fixture *f = *state;
	enum source_verdict v;
	struct conn *a = open_from(f, "127.0.0.1", 0, &v), *b = open_from(f, "::ffff:127.0.0.1", 0, &v);

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(a->src, b->src);
	assert_string_equal(source_name(a->src), "127.0.0.1");
	assert_int_equal(source_conns(a->src), 2);
	assert_int_equal(sources_count(f->set), 1);
	assert_non_null(open_from(f, "2001:db8::1", 0, &v));
	assert_int_equal(sources_count(f->set), 2);
}

/* max_connections_per_source counts open connections, handshaking or not; a close frees a slot. */
static void
test_per_source_limit(void **state)
{
	struct fixture *f = *state;
	enum source_verdict v;
	struct conn *a;

	f->cfg.max_connections_per_source = 2;
	a = open_from(f, "192.0.2.1", 0, &v);
	assert_non_null(a);
	sources_handshake_done(a);
	assert_non_null(open_from(f, "192.0.2.1", 0, &v));
	assert_null(open_from(f, "192.0.2.1", 0, &v));
	assert_int_equal(v, SOURCE_TOO_MANY);
	assert_non_null(open_from(f, "192.0.2.2", 0, &v));
	sources_detach(a);
	assert_non_null(open_from(f, "192.0.2.1", 0, &v));
}

/* The bucket: a burst at once, then the rate; a quiet address fills up again. */
static void
test_rate(void **state)
{
	struct fixture *f = *state;
	enum source_verdict v;
	int i;

	f->cfg.handshake_rate_per_source = 10;
	f->cfg.handshake_burst_per_source = 3;
	for (i = 0; i < 3; i++)
		assert_non_null(open_from(f, "192.0.2.1", 1000, &v));
	assert_null(open_from(f, "192.0.2.1", 1000, &v));
	assert_int_equal(v, SOURCE_RATE);
	assert_non_null(open_from(f, "192.0.2.9", 1000, &v));	/* another address has its own */
	assert_null(open_from(f, "192.0.2.1", 1099, &v));	/* 0.99 of a token */
	assert_non_null(open_from(f, "192.0.2.1", 1100, &v));
	assert_null(open_from(f, "192.0.2.1", 1100, &v));
	for (i = 0; i < 3; i++)
		assert_non_null(open_from(f, "192.0.2.1", 60000, &v));
	assert_null(open_from(f, "192.0.2.1", 60000, &v));
}

/* The connection closed to make room: the oldest handshake of the address holding the most. */
static void
test_victim(void **state)
{
	struct fixture *f = *state;
	enum source_verdict v;
	struct conn *a1, *b1, *b2, *b3, *a2;

	assert_null(sources_victim(f->set));
	a1 = open_from(f, "192.0.2.1", 0, &v);
	b1 = open_from(f, "192.0.2.2", 0, &v);
	b2 = open_from(f, "192.0.2.2", 0, &v);
	a2 = open_from(f, "192.0.2.1", 0, &v);
	b3 = open_from(f, "192.0.2.2", 0, &v);
	assert_int_equal(sources_handshaking(f->set), 5);
	assert_ptr_equal(sources_victim(f->set), b1);
	sources_detach(b1);
	/* 2 each: 192.0.2.1 reached 2 first (192.0.2.2 came back down to 2 later), so its oldest goes. */
	assert_ptr_equal(sources_victim(f->set), a1);
	sources_handshake_done(a1);
	assert_ptr_equal(sources_victim(f->set), b2);
	sources_handshake_done(b2);
	/* 1 each: 192.0.2.1 came down to 1 first. */
	assert_ptr_equal(sources_victim(f->set), a2);
	sources_handshake_done(a2);
	assert_ptr_equal(sources_victim(f->set), b3);
	sources_handshake_done(b3);
	assert_null(sources_victim(f->set));
	assert_int_equal(sources_handshaking(f->set), 0);
	/* Done twice is harmless. */
	sources_handshake_done(a2);
	assert_int_equal(sources_handshaking(f->set), 0);
}

/*
 * The table holds 8 addresses. Addresses with connections are never dropped; idle ones whose bucket is
 * full again are reclaimed; when all are refilling the longest idle one goes; a ninth address while all
 * eight hold connections is refused.
 */
static void
test_cap(void **state)
{
	struct fixture *f = *state;
	struct conn *held[8], *c;
	enum source_verdict v;
	char a[32];
	int i;

	f->cfg.handshake_rate_per_source = 1;
	f->cfg.handshake_burst_per_source = 1;
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		c = open_from(f, a, 0, &v);

		assert_non_null(c);
		sources_detach(c);
		f->next--;	/* reuse its slot */
		assert_true(sources_count(f->set) <= 8);
	}
	/* Now full of refilling addresses; an hour later all are reclaimable. */
	for (i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		held[i] = open_from(f, a, 3600000, &v);
		assert_non_null(held[i]);
	}
	assert_int_equal(sources_count(f->set), 8);
	assert_null(open_from(f, "198.51.100.1", 3600000, &v));
	assert_int_equal(v, SOURCE_TABLE_FULL);
	sources_detach(held[0]);
	assert_non_null(open_from(f, "198.51.100.1", 3600000, &v));
	assert_int_equal(sources_count(f->set), 8);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mapped_is_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_source_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_victim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
