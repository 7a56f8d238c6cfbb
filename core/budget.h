/*
 * The server-wide budget of buffered bytes: unsent responses and unparsed (partly received or not yet
 * decoded) requests of all connections together, against server.max_buffered. Each connection's share is
 * kept up to date in O(1) per change (conn.c reports every change of its buffers); only when the total is
 * over the budget does a deferred event look for the largest holders, pausing them (no longer read) or, when
 * they do not read their responses, closing them, one at a time until the total is back under. Connections
 * holding less than BUDGET_FLOOR are never touched, so a small client is served whatever the others do.
 *
 * Each client identity (the name its certificate gives, once the handshake is over; a connection still in
 * its handshake counts for no identity) has a share of server.max_buffered_per_identity: past it, its
 * connections are not read and their buffered requests are not run until it is back under three quarters of
 * the share. Connections that are neither read nor dispatched keep their deadlines.
 *
 * Per process. Symbol prefix: budget_.
 */
#ifndef KMIPD_BUDGET_H
#define KMIPD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define BUDGET_FLOOR	(64 * 1024)	/* a connection holding less is never paused or closed for the budget */

struct budget;
struct conn;
struct server;

/* A budget for srv's connections (limit read from srv->cfg at each check). NULL when out of memory. */
struct budget *budget_new(struct server *srv) __attribute__((warn_unused_result));
/* Frees the budget; its connections must be gone. NULL is accepted. */
void budget_free(struct budget *b);
/* Adds delta (negative: releases) to c's share and the total; schedules a check when that is needed. */
void budget_charge(struct budget *b, struct conn *c, int64_t delta);
/* The connection is closing: releases its whole share and forgets it was paused. */
void budget_conn_gone(struct budget *b, struct conn *c);
/*
 * c's handshake named it c->who: its bytes count for that identity from now on, until budget_conn_gone().
 * Returns 0, or -1 when out of memory (or the name is absurdly long): the connection is to be closed.
 */
int budget_conn_identified(struct budget *b, struct conn *c) __attribute__((warn_unused_result));
/*
 * Whether c may be read and given its next request: false when its identity is over its share, and then c is
 * paused (not read) until the identity is back under, when it is read again and its read callback runs.
 */
bool budget_may_dispatch(struct budget *b, struct conn *c) __attribute__((warn_unused_result));
/* Bytes held by all connections. */
uint64_t budget_total(const struct budget *b);

#endif
