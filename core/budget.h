/*
 * The server-wide budget of buffered bytes: unsent responses and unparsed (partly received or not yet
 * decoded) requests of all connections together, against server.max_buffered. Each connection's share is
 * kept up to date in O(1) per change (conn.c reports every change of its buffers); only when the total is
 * over the budget does a deferred event look for the largest holders, pausing them (no longer read) or, when
 * they do not read their responses, closing them, one at a time until the total is back under. Connections
 * holding less than BUDGET_FLOOR are never touched, so a small client is served whatever the others do.
 *
 * Per process. Symbol prefix: budget_.
 */
#ifndef KMIPD_BUDGET_H
#define KMIPD_BUDGET_H

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
/* Bytes held by all connections. */
uint64_t budget_total(const struct budget *b);

#endif
