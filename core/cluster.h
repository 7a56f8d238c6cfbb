/*
 * core/cluster.h: the clustered store (store.backend = etcd, issue 19).
 *
 * etcd holds the authoritative, ordered log of every node's committed object writes; this node's LMDB store
 * is a copy of it (store/replica.c), kept current by one watch, and answers every read as on a single machine.
 * Keys under store.etcd_prefix P: "P o/<uid>" (a record, exactly the store's bytes: material sealed under a
 * data key), "P keyring" (the data keys wrapped under the master key every node holds), "P nodes/<name>"
 * (each node's heartbeat: its access policy's hash, the revision it applied, the time).
 *
 * Writes: the engine hands over its group (engine_env.replicate); it goes to etcd as transactions guarded by
 * the revisions each change set saw, one at a time; the responses wait until etcd committed them and this
 * node's watch applied them (read-your-writes on the node that wrote). Conflicts fail the change sets they
 * decide, the rest is sent again; an unreachable etcd fails the group at once (nothing is queued).
 *
 * Freshness: the node proves it is current when a write of its own (a transaction, or its heartbeat when
 * idle, every store.etcd_heartbeat) comes back on its watch: everything etcd committed before that write was
 * sent has been applied. Past store.max_staleness without a proof, object requests are refused.
 *
 * Start (cluster_catch_up, before serving): the keyring is adopted from etcd (or this node's put there when
 * etcd has none), then the node applies everything from its last applied revision, or, when etcd compacted
 * past it, resynchronises from a paged Range at one revision. An etcd revision below the one applied (etcd
 * restored from an older snapshot) stops the node.
 *
 * Symbol prefix: cluster_.
 */
#ifndef KMIPD_CORE_CLUSTER_H
#define KMIPD_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_WUR __attribute__((warn_unused_result))
#define CLUSTER_MAX_PEERS	64

struct event_base;
struct kmipd_config;
struct store;
struct engine;
struct store_rgroup;
struct cluster;

/* Called once when the node must stop (etcd's revision went backwards): the server exits with status 1. */
typedef void (*cluster_fatal_fn)(void *arg);

/*
 * Before serving: connects to etcd on a private event base, adopts or publishes the keyring, and applies
 * everything etcd holds, within store.etcd_start_timeout. Returns 0, or -1 with a malloc'd *cause.
 */
int cluster_catch_up(const struct kmipd_config *cfg, struct store *s, char **cause) CLUSTER_WUR;

/* The running node on base: the watch from the applied revision, the heartbeat. NULL with a malloc'd *cause. */
struct cluster *cluster_new(struct event_base *base, const struct kmipd_config *cfg, struct store *s,
    cluster_fatal_fn fatal, void *fatal_arg, char **cause) CLUSTER_WUR;
/* The engine engine_replicated reports to (set once it exists). */
void cluster_set_engine(struct cluster *c, struct engine *e);
/* A reloaded config (store.max_staleness, the access policy's hash); the caller keeps it alive. */
void cluster_reload(struct cluster *c, const struct kmipd_config *cfg);
void cluster_free(struct cluster *c);

/* engine_env.replicate: sends the group to etcd; engine_replicated when it is decided. arg: the cluster. */
void cluster_replicate(void *arg, struct store_rgroup *g);
/* engine_env.unavailable: whether object requests are refused (stale past store.max_staleness). */
bool cluster_unavailable(void *arg, char *msg, size_t size);

enum cluster_state {
	CLUSTER_CATCHING_UP,
	CLUSTER_CURRENT,
	CLUSTER_CUT_OFF,	/* no proof for a while: writes refused at once */
	CLUSTER_STALE,		/* past store.max_staleness: object requests refused */
};

struct cluster_peer {
	char name[65];
	char policy[65];	/* hex SHA-256 of its access policy */
	uint64_t applied;
	int64_t time;		/* its last heartbeat, Unix seconds */
};

struct cluster_status {
	enum cluster_state state;
	char node[65];
	char endpoint[256];
	char policy[65];
	uint64_t applied;		/* etcd revision applied through */
	uint64_t staleness_ms;		/* since the last proof of being current */
	uint64_t txns, conflicts, unknown, refused, bad_records, resyncs;
	size_t npeers;
	struct cluster_peer peers[CLUSTER_MAX_PEERS];
	size_t mismatches;		/* peers whose policy differs from this node's */
};

void cluster_status(const struct cluster *c, struct cluster_status *st);
const char *cluster_state_name(enum cluster_state s);

/* The hex SHA-256 of cfg's access policy (the access group as the config dump prints it) into hex[65]. */
void cluster_policy_hash(const struct kmipd_config *cfg, char hex[65]);

#endif
