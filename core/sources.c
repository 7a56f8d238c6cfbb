/*
 * sources: per-address connection counts, handshake-rate buckets, and the handshaking connections of each
 * address (see sources.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>

#include "core/conn.h"
#include "core/siphash.h"
#include "core/sources.h"

#define IDLE_SWEEP	2		/* idle entries checked for reclaiming per new entry */
#define MAX_ELAPSED_MS	(3600 * 1000)	/* longer than any bucket takes to fill; keeps the arithmetic small */

struct source {
	struct sources *set;
	struct source *hnext;			/* hash chain */
	struct source *cnext, *cprev;		/* in by_count[handshakes], when handshakes > 0 */
	TAILQ_ENTRY(source) idle;		/* on set->idle while conns == 0 */
	TAILQ_HEAD(, conn) handshaking;		/* its connections in their handshake, oldest first */
	uint8_t addr[16];			/* IPv6, or IPv4 as ::ffff:a.b.c.d */
	unsigned conns;
	unsigned handshakes;
	uint64_t tokens;			/* thousandths of a connection opening */
	int64_t stamp;				/* when tokens was last refilled, ms */
	char name[INET6_ADDRSTRLEN];
};

struct sources {
	struct source **buckets;
	size_t mask;				/* buckets - 1, a power of two minus one */
	unsigned n, cap;
	uint64_t key[2];			/* SipHash key, random per process */
	TAILQ_HEAD(, source) idle;		/* entries without connections, longest idle first */
	/*
	 * by_count[k]: the entries holding k handshakes (k > 0). Counts move by one at a time, so the highest
	 * non-empty list is tracked in O(1): top.
	 */
	struct count_list {
		struct source *first, *last;
	} *by_count;
	unsigned ncounts;			/* length of by_count */
	unsigned top;
	unsigned handshaking;
};

/* The hash of a 16-byte address: clients choose addresses, so the hash must be keyed. */
static uint64_t
addr_hash(const uint64_t k[2], const uint8_t a[16])
{
	return siphash24(k, a, 16);
}

/* The 16-byte form of sa's address (IPv4 as IPv4-mapped IPv6). Returns 0, or -1 for another family. */
static int
addr_key(const struct sockaddr *sa, uint8_t a[16])
{
	memset(a, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	return -1;
}

/* Writes the address a names: an IPv4-mapped one as IPv4. */
static void
addr_format(const uint8_t a[16], char *buf, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		if (inet_ntop(AF_INET, a + 12, buf, (socklen_t)size) == NULL)
			snprintf(buf, size, "?");
	} else if (inet_ntop(AF_INET6, a, buf, (socklen_t)size) == NULL) {
		snprintf(buf, size, "?");
	}
}

/* See sources.h. */
void
sources_addr_name(const struct sockaddr *sa, char *buf, size_t size)
{
	uint8_t a[16];

	if (addr_key(sa, a) != 0)
		snprintf(buf, size, "?");
	else
		addr_format(a, buf, size);
}

/* See sources.h. */
int
sources_new(unsigned max_sources, struct sources **out)
{
	struct sources *set;
	size_t nb = 16;

	*out = NULL;
	if (max_sources == 0 || max_sources > (1u << 24))
		return -1;
	/* Load factor at most 1/2 at the cap. */
	while (nb < (size_t)max_sources * 2)
		nb <<= 1;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return -1;
	if ((set->buckets = calloc(nb, sizeof(*set->buckets))) == NULL) {
		free(set);
		return -1;
	}
	set->mask = nb - 1;
	set->cap = max_sources;
	TAILQ_INIT(&set->idle);
	if (siphash_key(set->key) != 0) {
		free(set->buckets);
		free(set);
		return -1;
	}
	*out = set;
	return 0;
}

/* See sources.h. */
void
sources_free(struct sources *set)
{
	struct source *s, *next;
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i <= set->mask; i++)
		for (s = set->buckets[i]; s != NULL; s = next) {
			next = s->hnext;
			free(s);
		}
	free(set->buckets);
	free(set->by_count);
	free(set);
}

/* Adds the tokens earned since the last refill, up to the burst. */
static void
source_refill(struct source *s, const struct config_server *cfg, int64_t now)
{
	uint64_t cap = (uint64_t)cfg->handshake_burst_per_source * 1000;
	int64_t elapsed = now - s->stamp;

	if (elapsed > 0) {
		if (elapsed > MAX_ELAPSED_MS)
			elapsed = MAX_ELAPSED_MS;
		/* rate per second is rate thousandths per millisecond. */
		s->tokens += (uint64_t)elapsed * cfg->handshake_rate_per_source;
		s->stamp = now;
	}
	if (s->tokens > cap)
		s->tokens = cap;
}

/* True when forgetting s loses nothing: no connection, and a bucket full again (or no rate limit). */
static bool
source_forgettable(struct source *s, const struct config_server *cfg, int64_t now)
{
	if (s->conns > 0)
		return false;
	if (cfg->handshake_rate_per_source == 0)
		return true;
	source_refill(s, cfg, now);
	return s->tokens >= (uint64_t)cfg->handshake_burst_per_source * 1000;
}

/* Unlinks an entry without connections from the table and frees it. */
static void
source_forget(struct sources *set, struct source *s)
{
	struct source **pp = &set->buckets[addr_hash(set->key, s->addr) & set->mask];

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	TAILQ_REMOVE(&set->idle, s, idle);
	set->n--;
	free(s);
}

/* Makes room for one more entry: reclaims idle entries whose buckets are full. Returns 0, or -1 if full. */
static int
sources_make_room(struct sources *set, const struct config_server *cfg, int64_t now)
{
	struct source *s;
	int i;

	for (i = 0; i < IDLE_SWEEP && (s = TAILQ_FIRST(&set->idle)) != NULL; i++) {
		if (!source_forgettable(s, cfg, now))
			break;
		source_forget(set, s);
	}
	if (set->n < set->cap)
		return 0;
	/*
	 * Full, with every idle entry still refilling: the address idle the longest loses its rate state
	 * (whoever spreads over more addresses than the table holds is past any per-address limit anyway).
	 * Entries with connections are never dropped: they are at most max_connections.
	 */
	if ((s = TAILQ_FIRST(&set->idle)) == NULL)
		return -1;
	source_forget(set, s);
	return 0;
}

/* See sources.h. */
enum source_verdict
sources_admit(struct sources *set, const struct sockaddr *sa, const struct config_server *cfg, int64_t now,
    struct source **out)
{
	struct source *s;
	uint8_t a[16];
	size_t b;

	*out = NULL;
	if (addr_key(sa, a) != 0)
		return SOURCE_TABLE_FULL;	/* not an IP socket: not ours to accept */
	b = addr_hash(set->key, a) & set->mask;
	for (s = set->buckets[b]; s != NULL; s = s->hnext)
		if (memcmp(s->addr, a, 16) == 0)
			break;
	if (s == NULL) {
		if (sources_make_room(set, cfg, now) != 0)
			return SOURCE_TABLE_FULL;
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return SOURCE_NO_MEMORY;
		s->set = set;
		memcpy(s->addr, a, 16);
		addr_format(a, s->name, sizeof(s->name));
		TAILQ_INIT(&s->handshaking);
		s->tokens = (uint64_t)cfg->handshake_burst_per_source * 1000;
		s->stamp = now;
		s->hnext = set->buckets[b];
		set->buckets[b] = s;
		TAILQ_INSERT_TAIL(&set->idle, s, idle);
		set->n++;
	}
	*out = s;
	/* Room in by_count for one more handshake of s, grown here where a failure can still refuse. */
	if (s->handshakes + 1 >= set->ncounts) {
		unsigned n = set->ncounts < 8 ? 16 : set->ncounts * 2;
		struct count_list *bc;

		if (n <= set->ncounts || (bc = realloc(set->by_count, n * sizeof(*bc))) == NULL) {
			*out = NULL;
			return SOURCE_NO_MEMORY;
		}
		/* The lists point only at entries, never at their heads: moving the array is safe. */
		memset(bc + set->ncounts, 0, (n - set->ncounts) * sizeof(*bc));
		set->by_count = bc;
		set->ncounts = n;
	}
	if (cfg->max_connections_per_source > 0 && s->conns >= cfg->max_connections_per_source)
		return SOURCE_TOO_MANY;
	if (cfg->handshake_rate_per_source > 0) {
		source_refill(s, cfg, now);
		if (s->tokens < 1000)
			return SOURCE_RATE;
		s->tokens -= 1000;
	}
	return SOURCE_OK;
}

/* Takes s out of the list of its handshake count. */
static void
count_unlink(struct sources *set, struct source *s)
{
	struct count_list *l;

	if (s->handshakes == 0)
		return;
	l = &set->by_count[s->handshakes];
	if (s->cprev != NULL)
		s->cprev->cnext = s->cnext;
	else
		l->first = s->cnext;
	if (s->cnext != NULL)
		s->cnext->cprev = s->cprev;
	else
		l->last = s->cprev;
	s->cnext = s->cprev = NULL;
}

/* Appends s to the list of its handshake count, so each list keeps the order its entries reached it. */
static void
count_link(struct sources *set, struct source *s)
{
	struct count_list *l;

	if (s->handshakes == 0)
		return;
	l = &set->by_count[s->handshakes];
	s->cnext = NULL;
	s->cprev = l->last;
	if (l->last != NULL)
		l->last->cnext = s;
	else
		l->first = s;
	l->last = s;
	if (s->handshakes > set->top)
		set->top = s->handshakes;
}

/* See sources.h. */
void
sources_attach(struct source *src, struct conn *c)
{
	struct sources *set = src->set;

	c->src = src;
	if (src->conns++ == 0)
		TAILQ_REMOVE(&set->idle, src, idle);
	/* sources_admit() made room in by_count for this one. */
	count_unlink(set, src);
	src->handshakes++;
	count_link(set, src);
	TAILQ_INSERT_TAIL(&src->handshaking, c, src_entry);
	c->src_handshaking = true;
	set->handshaking++;
}

/* See sources.h. */
void
sources_handshake_done(struct conn *c)
{
	struct source *src = c->src;
	struct sources *set;

	if (src == NULL || !c->src_handshaking)
		return;
	set = src->set;
	TAILQ_REMOVE(&src->handshaking, c, src_entry);
	c->src_handshaking = false;
	count_unlink(set, src);
	src->handshakes--;
	count_link(set, src);
	/* Counts move by one: if the top list emptied, src is now one below it (or nothing is handshaking). */
	if (set->top > 0 && set->by_count[set->top].first == NULL)
		set->top--;
	set->handshaking--;
}

/* See sources.h. */
void
sources_detach(struct conn *c)
{
	struct source *src = c->src;

	if (src == NULL)
		return;
	sources_handshake_done(c);
	/* Kept while its bucket refills; sources_admit() reclaims it from the idle list later. */
	if (--src->conns == 0)
		TAILQ_INSERT_TAIL(&src->set->idle, src, idle);
	c->src = NULL;
}

/* See sources.h. */
struct conn *
sources_victim(const struct sources *set)
{
	const struct source *s;

	if (set->top == 0 || (s = set->by_count[set->top].first) == NULL)
		return NULL;
	return TAILQ_FIRST(&s->handshaking);
}

/* See sources.h. */
unsigned
sources_handshaking(const struct sources *set)
{
	return set->handshaking;
}

/* See sources.h. */
unsigned
sources_count(const struct sources *set)
{
	return set->n;
}

/* See sources.h. */
const char *
source_name(const struct source *src)
{
	return src->name;
}

/* See sources.h. */
unsigned
source_conns(const struct source *src)
{
	return src->conns;
}

/* See sources.h. */
unsigned
source_handshakes(const struct source *src)
{
	return src->handshakes;
}
