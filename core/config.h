/*
 * config: kmipd's configuration.
 *
 * One table of keys (group.key, type, default, reloadable, limits, help) drives loading, validation,
 * comparison and dumping. A load builds a fresh struct kmipd_config from the defaults, applies a libconfig
 * file, then "-o group.key=value" overrides, validates the whole result and hands it back; the caller owns
 * it and swaps it in. Nothing here is global, nothing opens the files the config names (TLS files, the
 * store, the audit file): that is the job of the modules that use them.
 *
 * Types as stored: durations are unsigned seconds, sizes are uint64_t bytes, lists are struct config_list,
 * strings are malloc'd and NULL when unset, choices are the enums below.
 */
#ifndef KMIPD_CONFIG_H
#define KMIPD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_WUR __attribute__((warn_unused_result))

#define CONFIG_DEFAULT_PATH "/etc/kmipd/kmipd.conf"

/* A list of non-empty strings; items is NULL when count is 0. */
struct config_list {
	char **items;
	size_t count;
};

enum config_tls_version {
	CONFIG_TLS_1_2,
	CONFIG_TLS_1_3,
};

/* What a CRL past its next update does: logged and accepted, or refuses every client of its CA. */
enum config_crl_expired {
	CONFIG_CRL_EXPIRED_WARN,
	CONFIG_CRL_EXPIRED_REFUSE,
};

enum config_store_sync {
	CONFIG_SYNC_FULL,	/* fsync data and meta page on every commit */
	CONFIG_SYNC_RELAXED,	/* MDB_NOMETASYNC: survives a process crash, an OS crash may lose the last commits */
};

enum config_backend {
	CONFIG_BACKEND_LMDB,	/* this machine's LMDB store alone */
	CONFIG_BACKEND_ETCD,	/* LMDB as a copy of the records in etcd (core/cluster.h) */
};

enum config_identity {
	CONFIG_IDENTITY_CN,
	CONFIG_IDENTITY_DN,
	CONFIG_IDENTITY_SAN,
	CONFIG_IDENTITY_FINGERPRINT,
	CONFIG_IDENTITY_SAN_DNS,	/* the first DNS name of subjectAltName, no other type */
	CONFIG_IDENTITY_SAN_URI,	/* the first URI */
	CONFIG_IDENTITY_SAN_EMAIL,	/* the first email address (rfc822Name) */
};

enum config_log_level {
	CONFIG_LOG_ERROR,
	CONFIG_LOG_WARN,
	CONFIG_LOG_INFO,
	CONFIG_LOG_DEBUG,
};

enum config_log_target {
	CONFIG_LOG_STDERR,
	CONFIG_LOG_SYSLOG,
};

enum config_log_format {
	CONFIG_LOG_TEXT,
	CONFIG_LOG_JSON,
};

/* (R) marks keys that a SIGHUP reload applies; the others need a restart. */
struct config_server {
	struct config_list listen;		/* IPv4/IPv6 literals, at least one */
	unsigned int port;
	unsigned int max_connections;		/* (R) */
	unsigned int max_handshakes;		/* (R) connections in their TLS handshake at most */
	unsigned int max_connections_per_source;	/* (R) per client address; 0 = no limit */
	unsigned int handshake_rate_per_source;	/* (R) connection openings per second per address; 0 = off */
	unsigned int handshake_burst_per_source;	/* (R) openings an address may make at once */
	unsigned int max_sources;		/* client addresses tracked at most */
	uint64_t max_message_size;		/* (R) bytes, whole TTLV request */
	unsigned int max_batch_items;		/* (R) */
	unsigned int max_attributes;		/* (R) attribute instances of one object */
	unsigned int max_attribute_values;	/* (R) instances of one attribute of one object */
	uint64_t max_attribute_bytes;		/* (R) encoded size of one object's attributes */
	unsigned int max_split_key_parts;	/* (R) parts of one Create Split Key, named by one Join */
	unsigned int locate_max_items;		/* (R) identifiers in one Locate response */
	unsigned int locate_scan_budget;	/* (R) records one Locate examines at most */
	unsigned int lease_time;		/* (R) seconds of the leases granted (Lease Time); 0 = none */
	unsigned int max_derive_iterations;	/* (R) PBKDF2 Iteration Count a Derive Key may ask */
	uint64_t max_derive_data;		/* (R) bytes of Derivation Data (or the Secret Data used as it) */
	unsigned int max_derive_length;		/* (R) bits of a derived key or Secret Data */
	unsigned int handshake_timeout;		/* (R) seconds */
	unsigned int request_timeout;		/* (R) seconds, first byte to whole request */
	unsigned int idle_timeout;		/* (R) seconds, 0 = none */
	unsigned int shutdown_timeout;		/* seconds */
	unsigned int max_requests_per_event;	/* (R) */
	uint64_t write_high_water;		/* (R) bytes of unsent output before reading stops */
	uint64_t max_response_size;		/* (R) bytes, whole response; 0 = auto: config_max_response_size() */
	uint64_t max_buffered;			/* (R) unsent and unparsed bytes, 0 = auto: config_max_buffered() */
	uint64_t max_buffered_per_identity;	/* (R) the same for one client identity, 0 = max_buffered / 4 */
	char *user;				/* drop privileges after binding; NULL = stay */
	char *group;
	char *pid_file;
	char *workers;				/* "N" or "auto": config_workers(); restart only */
	unsigned int worker_heartbeat_timeout;	/* (R) seconds: a worker silent longer is killed */
};

/* TLS keys are reloadable (SIGHUP rebuilds the SSL_CTX) but the shared cache's size and entry size. */
struct config_tls {
	char *cert_file;
	char *key_file;
	char *p12_file;
	char *p12_password;			/* secret: wiped on free, never dumped */
	char *ecdsa_cert_file;			/* NULL = no ECDSA certificate beside the identity */
	char *ecdsa_key_file;			/* set exactly when ecdsa_cert_file is */
	char *clients_ca_cert_file;
	enum config_tls_version min_version;
	char *ciphers;				/* NULL = the tls module's default */
	char *ciphersuites;			/* NULL = the tls module's default */
	unsigned int session_cache_size;	/* >= 1 */
	unsigned int session_timeout;		/* seconds */
	uint64_t session_max_size;		/* bytes of DER: larger sessions are not cached */
	bool session_tickets;
	char *ticket_key_file;			/* NULL = random keys, rotated */
	unsigned int ticket_key_rotation;	/* seconds */
	unsigned int verify_depth;
	char *crl_file;				/* NULL = no revocation check */
	enum config_crl_expired crl_expired;
	unsigned int crl_check_interval;	/* seconds between looks at crl_file for a change */
};

struct config_store {
	char *path;
	uint64_t map_size;
	uint64_t max_map_size;			/* >= map_size */
	enum config_store_sync sync;
	bool group_commit;
	bool encryption;
	char *master_key_file;			/* (R) one master key source when encryption is on */
	char *master_key_credential;		/* (R) */
	char *pkcs11_module;			/* (R) */
	char *pkcs11_token;			/* (R) */
	char *pkcs11_key;			/* (R) */
	char *pkcs11_pin_file;			/* (R) a file, or credential:NAME */
	char *previous_master_key_file;		/* (R) at most one previous key: a rotation */
	char *previous_master_key_credential;	/* (R) */
	char *pkcs11_previous_key;		/* (R) */
	unsigned int reseal_batch;		/* (R) records re-encrypted per loop iteration */
	enum config_backend backend;
	char *etcd_endpoints;			/* comma-separated URLs */
	char *etcd_prefix;
	char *etcd_node_name;			/* NULL: the host name */
	char *etcd_ca_file;
	char *etcd_cert_file;
	char *etcd_key_file;
	char *etcd_server_name;
	char *etcd_user;
	char *etcd_password_file;
	unsigned int etcd_request_timeout;	/* milliseconds */
	unsigned int etcd_connect_timeout;	/* milliseconds */
	unsigned int etcd_heartbeat;		/* milliseconds */
	unsigned int max_staleness;		/* (R) seconds */
	unsigned int etcd_start_timeout;	/* seconds */
};

struct config_keygen {
	unsigned int workers;
	unsigned int pool_size;			/* pre-generated RSA-2048 key pairs */
	unsigned int timeout;			/* seconds */
	unsigned int max_per_identity;		/* (R) key generations and prime recoveries under way */
};

struct config_crypto {
	unsigned int max_streams;		/* (R) multi-part operations one connection may hold open */
	unsigned int max_streams_per_identity;	/* (R) the same for all the connections of one identity */
	unsigned int stream_idle_timeout;	/* (R) seconds a multi-part operation may wait for its next part */
	unsigned int rng_seed_max;		/* (R) bytes of one RNG Seed mixed into the generator */
};

struct config_compat {
	bool destroy_active;			/* (R) */
	bool wrapped_key_value_structure;	/* (R) wrapped Key Values inside a Key Value structure */
};

struct config_access {
	struct config_list admins;		/* (R) identities that see every object */
	enum config_identity identity;
	struct config_list credentials;		/* (R) "username:pbkdf2-sha256$iterations$salt$hash" */
	bool require_credential;		/* (R) refuse requests without a valid Credential */
	unsigned int max_derivations_per_identity;	/* (R) password derivations under way per identity */
	unsigned int max_derivations_per_source;	/* (R) ... per client address */
	unsigned int credential_backoff_max;	/* (R) seconds: longest refusal after wrong Credentials */
	struct config_list shares;		/* (R) "owner:group:identity" ("*" group: every object) */
	unsigned int max_objects_per_identity;	/* (R) objects one identity may own; 0 = no limit */
	uint64_t max_bytes_per_identity;	/* (R) record bytes; unset = store.max_map_size / 4; 0 = no limit */
	struct config_list quotas;		/* (R) "identity:objects:bytes" overrides (0 = no limit) */
	struct config_list allow;		/* (R) identities admitted; empty = every one the CA signed */
	struct config_list deny;		/* (R) identities refused, whatever allow says */
	struct config_list roles;		/* (R) "name: Operation, Operation...[; material = no]" */
	struct config_list grants;		/* (R) "role:identity:ID", "role:ou:OU", "role:san:TYPE:PATTERN" */
	char *default_role;			/* (R) the role of identities no grant names; NULL = all operations */
};

struct config_log {
	enum config_log_level level;		/* (R) */
	enum config_log_target target;
	int syslog_facility;			/* a LOG_* facility value of <syslog.h> */
	char *file;				/* (R) NULL = stderr or syslog, per target */
	enum config_log_format format;		/* (R) of lines on stderr or in the file */
	bool connections;			/* (R) a line per closed client connection at info */
};

struct config_audit {
	char *file;				/* (R) NULL = no audit file */
	bool syslog;				/* (R) */
	bool required;				/* (R) refuse requests while the file cannot be written */
};

/* The administration socket (kmipctl status): restart keys. */
struct config_admin {
	char *socket;				/* Unix socket path; NULL = none */
	char *socket_mode;			/* octal, "0660" */
	char *socket_group;			/* NULL = the process's group */
	unsigned int max_connections;		/* open at once */
	unsigned int timeout;			/* seconds a connection may take */
};

/* The Prometheus metrics and /ready listener: restart keys. */
struct config_metrics {
	char *listen;				/* "addr:port" or "[v6]:port"; NULL = off */
	unsigned int max_connections;		/* requests served at once */
	unsigned int timeout;			/* seconds a connection may take */
};

struct kmipd_config {
	struct config_server server;
	struct config_tls tls;
	struct config_store store;
	struct config_keygen keygen;
	struct config_crypto crypto;
	struct config_compat compat;
	struct config_access access;
	struct config_log log;
	struct config_audit audit;
	struct config_admin admin;
	struct config_metrics metrics;
	char **where;		/* per key of the table: "FILE:LINE: " or "-o ARG: " that set it, else NULL */
};

/* The built-in defaults (no TLS identity, so they do not validate on their own); NULL if out of memory. */
struct kmipd_config *config_defaults(void);

/*
 * Loads path (NULL: the defaults alone), applies overrides[0..noverrides) of the form "group.key=value" in
 * order, validates the result and stores it in *out. Returns 0, or -1 with *cause set to a malloc'd
 * "FILE:LINE: reason", "-o group.key=value: reason" or "reason" (NULL if even that could not be allocated).
 */
int config_load(const char *path, char *const *overrides, size_t noverrides, struct kmipd_config **out,
    char **cause) CONFIG_WUR;

/*
 * Where key name got its value, as a message prefix: "FILE:LINE: " (a file), "-o group.key=value: " (an
 * override), or "" (the default, or an unknown key). Never NULL; valid while cfg is.
 */
const char *config_where(const struct kmipd_config *cfg, const char *name);

/*
 * Makes every file and folder key of cfg with a relative value absolute under base (the working directory
 * kmipd started in), so that a daemon, which runs in /, and its reloads find the files a relative value
 * meant. base NULL changes nothing. Returns 0, or -1 with *cause (out of memory).
 */
int config_resolve_paths(struct kmipd_config *cfg, const char *base, char **cause) CONFIG_WUR;

/* Frees cfg and everything it owns, wiping secrets; NULL is fine. */
void config_free(struct kmipd_config *cfg);

/*
 * Returns 0 if next differs from cur only in reloadable keys, or -1 with *cause naming every key that
 * changed and needs a restart. The intended use on SIGHUP: log the cause as a warning, call
 * config_keep_restart_keys(next, cur) so that next describes what actually runs, and swap next in. A
 * reload never applies half a config: keys that need a restart keep their running values, all others take
 * the new ones, and a file that does not load or validate changes nothing.
 */
int config_reload_check(const struct kmipd_config *cur, const struct kmipd_config *next, char **cause)
    CONFIG_WUR;

/* Copies every non-reloadable key from cur into next. Returns 0, or -1 with *cause when out of memory. */
int config_keep_restart_keys(struct kmipd_config *next, const struct kmipd_config *cur, char **cause)
    CONFIG_WUR;

/* Writes cfg in libconfig syntax that config_load reads back; secrets appear as "(set)" in a comment. */
void config_dump(FILE *fp, const struct kmipd_config *cfg);
/* The response cap in bytes: server.max_response_size, or 4 x max_message_size when that is 0 (auto). */
uint64_t config_max_response_size(const struct kmipd_config *cfg);
/* The most worker processes server.workers may ask for (and what auto is capped at). */
#define CONFIG_WORKERS_MAX	64
/*
 * The worker processes server.workers asks for: the number given, or for auto the CPUs this process may
 * run on (sched_getaffinity: a taskset or a cgroup's cpuset counts), at most CONFIG_WORKERS_MAX. 1 means
 * one process serving alone, with no master.
 */
unsigned config_workers(const struct kmipd_config *cfg);
/*
 * What store.backend = etcd needs of the other keys (endpoints, encryption, the group commit, TLS files, a
 * user with its password file): 0, or -1 with a malloc'd *cause. Checked at start and by kmipd -t.
 */
int config_check_cluster(const struct kmipd_config *cfg, char **cause) CONFIG_WUR;
/* The budget of unsent and unparsed bytes of all connections: server.max_buffered, or its automatic value. */
uint64_t config_max_buffered(const struct kmipd_config *cfg);
/* One client identity's share of it: server.max_buffered_per_identity, or a quarter of the budget. */
uint64_t config_max_buffered_per_identity(const struct kmipd_config *cfg);

/*
 * Parses one access.quotas entry "identity:objects:bytes" (the identity may hold ':'; the last two fields
 * are numbers, bytes with an optional K, M, G or T suffix; 0 = no limit). 0 with *identity a malloc'd
 * copy, or -1 with *reason (malloc'd, may be NULL when out of memory) and *identity NULL.
 */
int config_parse_quota(const char *entry, char **identity, uint64_t *objects, uint64_t *bytes, char **reason)
    __attribute__((warn_unused_result));

/*
 * Splits one access.roles entry "name: Operation, Operation...[; material = yes|no]": 0 with *name (malloc'd),
 * *ops pointing into entry at the operation list and *ops_len its length (names separated by commas, not
 * yet checked against KMIP's), *material (default yes); or -1 with *reason (malloc'd, NULL when out of memory).
 */
int config_parse_role(const char *entry, char **name, const char **ops, size_t *ops_len, bool *material,
    char **reason) __attribute__((warn_unused_result));

/* The key table, for tests and documentation checks: number of keys, and "group.key" of key i (NULL past
 * the end). */
size_t config_key_count(void);
const char *config_key_name(size_t i);
bool config_key_reloadable(size_t i);

/* Whether key i has the same value in a and b. */
bool config_key_equal(const struct kmipd_config *a, const struct kmipd_config *b, size_t i);

#endif
