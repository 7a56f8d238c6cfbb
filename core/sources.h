/*
 * sources: what kmipd knows about each client address (the one it sees: behind a load balancer or NAT that is
 * the balancer's). For each address with connections, or whose handshake-rate bucket is not yet full again:
 * its open connections, a token bucket of connection openings (each one a TLS handshake), and the list of its
 * connections still in their handshake, oldest first.
 *
 * The table is a hash table under a random key (so addresses a client chooses cannot make it degrade) with
 * at most max_sources entries; an entry is reclaimed once its address has no connection and its bucket is
 * full again, or, when the table is full, the address idle the longest loses its rate state first. Every
 * operation is O(1) (expected, for the hash lookups). IPv4-mapped IPv6 addresses are their IPv4 address.
 *
 * The table also finds, in O(1), the oldest handshaking connection of the address holding the most
 * handshakes: the one closed to make room when server.max_handshakes is reached.
 */
#ifndef KMIPD_SOURCES_H
#define KMIPD_SOURCES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/config.h"

struct conn;
struct source;
struct sources;

/* Why sources_admit() refused a new connection. */
enum source_verdict {
	SOURCE_OK,
	SOURCE_TABLE_FULL,	/* max_sources addresses all hold connections */
	SOURCE_TOO_MANY,	/* server.max_connections_per_source reached */
	SOURCE_RATE,		/* server.handshake_rate_per_source: the bucket is empty */
	SOURCE_NO_MEMORY,	/* no memory for the address's entry */
};

/* Makes an empty table of at most max_sources addresses. Returns 0, or -1 (out of memory). */
int sources_new(unsigned max_sources, struct sources **out) __attribute__((warn_unused_result));
/* Frees the table; the connections must have been detached (closed) first. */
void sources_free(struct sources *set);
/*
 * Finds or makes the entry of sa's address and checks the per-source limits of cfg for one more connection
 * at now_ms (a monotonic clock), taking a token from its bucket. SOURCE_OK: *out is the entry, to pass to
 * sources_attach(). Else the connection is to be refused; *out is the entry (NULL for SOURCE_TABLE_FULL and
 * SOURCE_NO_MEMORY).
 */
enum source_verdict sources_admit(struct sources *set, const struct sockaddr *sa,
    const struct config_server *cfg, int64_t now_ms, struct source **out);
/* Counts c (just made, handshaking) against src: c->src is set. */
void sources_attach(struct source *src, struct conn *c);
/* c's handshake is over (done or failed): it no longer counts as handshaking. No-op when already done. */
void sources_handshake_done(struct conn *c);
/* c closes: it no longer counts against its address. No-op for a connection never attached. */
void sources_detach(struct conn *c);
/* The oldest handshaking connection of the address holding the most handshakes, or NULL if none. */
struct conn *sources_victim(const struct sources *set);
/* Connections in their handshake, over all addresses. */
unsigned sources_handshaking(const struct sources *set);
/* Addresses in the table. */
unsigned sources_count(const struct sources *set);
/* The address of an entry, for logs ("192.0.2.1", "2001:db8::1"). */
const char *source_name(const struct source *src);
/* The connections and handshakes an address holds. */
unsigned source_conns(const struct source *src);
unsigned source_handshakes(const struct source *src);
/* Writes the address of sa as sources_admit() would name it (IPv4-mapped IPv6 as IPv4). */
void sources_addr_name(const struct sockaddr *sa, char *buf, size_t size);

#endif
