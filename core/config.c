/*
 * config: the key table, loading a libconfig file and -o overrides into a fresh struct kmipd_config,
 * validation, comparison for reloads, and dumping.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/config.h"

#define MAX_STRING 4096			/* longest string value: a path, a cipher list */
#define MAX_FILE_SIZE (1024 * 1024)	/* a config file larger than this is a mistake */
#define MAX_SOURCES 64			/* the file and what it @includes */

enum key_type {
	T_STR,
	T_LIST,		/* a string or a list of strings */
	T_UINT,
	T_SECONDS,
	T_SIZE,		/* bytes; a string may carry a K, M, G or T suffix */
	T_BOOL,
	T_ENUM,
};

#define K_RELOAD 0x01	/* applied by a SIGHUP reload */
#define K_SECRET 0x02	/* wiped when freed, never printed */
#define K_PATH 0x04	/* a file or folder: made absolute by config_resolve_paths() */
#define K_INTSTR 0x08	/* T_STR that a file may also give as an integer (server.workers = 2) */

struct choice {
	const char *name;
	int value;
};

struct key {
	const char *name;		/* "group.key" */
	enum key_type type;
	int flags;
	size_t offset;
	uint64_t def;			/* numbers, booleans; T_ENUM: the value */
	const char *defstr;		/* T_STR; T_LIST: the only item; NULL = unset or empty */
	uint64_t min, max;		/* numbers; T_LIST: number of items */
	const struct choice *choices;	/* T_ENUM, ended by a NULL name */
	int (*check)(const char *, char **);	/* extra check of a T_STR value or T_LIST item */
	const char *help;
};

/* The enum fields are read and written as int through the table. */
_Static_assert(sizeof(enum config_tls_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_store_sync) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_backend) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_identity) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_log_target) == sizeof(int), "enum size");

/* Field offsets whose C type must match the key type, so a table typo fails to compile. */
#define FIELD(f) (((struct kmipd_config *)0)->f)
#define OFF_STR(f) _Generic(FIELD(f), char *: offsetof(struct kmipd_config, f))
#define OFF_LIST(f) _Generic(FIELD(f), struct config_list: offsetof(struct kmipd_config, f))
#define OFF_UINT(f) _Generic(FIELD(f), unsigned int: offsetof(struct kmipd_config, f))
#define OFF_SIZE(f) _Generic(FIELD(f), uint64_t: offsetof(struct kmipd_config, f))
#define OFF_BOOL(f) _Generic(FIELD(f), bool: offsetof(struct kmipd_config, f))
#define OFF_ENUM(f) (offsetof(struct kmipd_config, f) + 0 * sizeof(char[sizeof(FIELD(f)) == sizeof(int) ? 1 : -1]))

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

static const struct choice tls_versions[] = {
	{ "1.2", CONFIG_TLS_1_2 }, { "1.3", CONFIG_TLS_1_3 }, { NULL, 0 },
};
static const struct choice crl_expireds[] = {
	{ "warn", CONFIG_CRL_EXPIRED_WARN }, { "refuse", CONFIG_CRL_EXPIRED_REFUSE }, { NULL, 0 },
};
static const struct choice store_syncs[] = {
	{ "full", CONFIG_SYNC_FULL }, { "relaxed", CONFIG_SYNC_RELAXED }, { NULL, 0 },
};

static const struct choice store_backends[] = {
	{ "lmdb", CONFIG_BACKEND_LMDB }, { "etcd", CONFIG_BACKEND_ETCD }, { NULL, 0 },
};
static const struct choice identities[] = {
	{ "cn", CONFIG_IDENTITY_CN }, { "dn", CONFIG_IDENTITY_DN }, { "san", CONFIG_IDENTITY_SAN },
	{ "fingerprint", CONFIG_IDENTITY_FINGERPRINT }, { "san:dns", CONFIG_IDENTITY_SAN_DNS },
	{ "san:uri", CONFIG_IDENTITY_SAN_URI }, { "san:email", CONFIG_IDENTITY_SAN_EMAIL }, { NULL, 0 },
};
static const struct choice log_levels[] = {
	{ "error", CONFIG_LOG_ERROR }, { "warn", CONFIG_LOG_WARN }, { "info", CONFIG_LOG_INFO },
	{ "debug", CONFIG_LOG_DEBUG }, { NULL, 0 },
};
static const struct choice log_targets[] = {
	{ "stderr", CONFIG_LOG_STDERR }, { "syslog", CONFIG_LOG_SYSLOG }, { NULL, 0 },
};
static const struct choice log_formats[] = {
	{ "text", CONFIG_LOG_TEXT }, { "json", CONFIG_LOG_JSON }, { NULL, 0 },
};
static const struct choice facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

static int check_address(const char *, char **);
static int check_credential(const char *, char **);
static int check_share(const char *, char **);
static int check_quota(const char *, char **);
static int check_role(const char *, char **);
static int check_grant(const char *, char **);
static int check_role_name(const char *, char **);
static int check_mode(const char *, char **);
static int check_hostport(const char *, char **);
static int check_workers(const char *, char **);
static int check_etcd_endpoints(const char *, char **);
static int check_etcd_prefix(const char *, char **);
static int check_etcd_node(const char *, char **);

/*
 * Every key, grouped by group in the order config_dump writes them. Numeric maxima stay below 2^31 for
 * T_UINT and T_SECONDS so that a plain libconfig integer can hold every value.
 */
static const struct key keys[] = {
	{ .name = "server.listen", .type = T_LIST, .offset = OFF_LIST(server.listen), .defstr = "0.0.0.0",
	  .min = 1, .max = 64, .check = check_address,
	  .help = "addresses to listen on: IPv4 or IPv6 literals" },
	{ .name = "server.port", .type = T_UINT, .offset = OFF_UINT(server.port), .def = 5696,
	  .min = 1, .max = 65535, .help = "TCP port" },
	{ .name = "server.max_connections", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_connections), .def = 10000, .min = 1, .max = 1000000,
	  .help = "open client connections at most; more wait in the listen queue" },
	{ .name = "server.max_handshakes", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_handshakes), .def = 64, .min = 1, .max = 1000000,
	  .help = "connections in their TLS handshake at most; past it the busiest address's oldest is closed" },
	{ .name = "server.max_connections_per_source", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_connections_per_source), .def = 1000, .min = 0, .max = 1000000,
	  .help = "open connections from one client address at most; 0 = no limit" },
	{ .name = "server.handshake_rate_per_source", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.handshake_rate_per_source), .def = 100, .min = 0, .max = 1000000,
	  .help = "new connections (TLS handshakes) per second from one client address; 0 = no limit" },
	{ .name = "server.handshake_burst_per_source", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.handshake_burst_per_source), .def = 200, .min = 1, .max = 1000000,
	  .help = "new connections one client address may open at once, above its rate" },
	{ .name = "server.max_sources", .type = T_UINT, .offset = OFF_UINT(server.max_sources), .def = 16384,
	  .min = 16, .max = 16777216, .help = "client addresses whose limits are tracked at once" },
	{ .name = "server.max_message_size", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_message_size), .def = MIB, .min = KIB, .max = 64 * MIB,
	  .help = "largest request accepted, in bytes" },
	{ .name = "server.max_batch_items", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_batch_items), .def = 64, .min = 1, .max = 4096,
	  .help = "batch items in one request at most" },
	{ .name = "server.max_attributes", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_attributes), .def = 1024, .min = 64, .max = 1000000,
	  .help = "attribute instances of one object at most, server-set ones included" },
	{ .name = "server.max_attribute_values", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_attribute_values), .def = 256, .min = 1, .max = 1000000,
	  .help = "instances of one attribute (Name, Object Group, Link, x-custom) of one object at most" },
	{ .name = "server.max_attribute_bytes", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_attribute_bytes), .def = MIB, .min = 4 * KIB, .max = 64 * MIB,
	  .help = "encoded size of one object's attributes at most, in bytes" },
	{ .name = "server.max_split_key_parts", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_split_key_parts), .def = 64, .min = 2, .max = 255,
	  .help = "Split Key Parts one Create Split Key makes, or a registered Split Key says, at most" },
	{ .name = "server.locate_max_items", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.locate_max_items), .def = 1000, .min = 1, .max = 100000,
	  .help = "identifiers in one Locate response at most, whatever Maximum Items asks" },
	{ .name = "server.locate_scan_budget", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.locate_scan_budget), .def = 10000, .min = 100, .max = 100000000,
	  .help = "stored objects one Locate examines at most before it answers with what it found" },
	{ .name = "server.lease_time", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.lease_time), .def = 0, .min = 0, .max = 31536000,
	  .help = "seconds of the lease Obtain Lease grants, shown as the Lease Time attribute; 0 = no leases" },
	{ .name = "server.max_derive_iterations", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_derive_iterations), .def = 1000000, .min = 1, .max = 10000000,
	  .help = "PBKDF2 Iteration Count one Derive Key may ask at most (run on a key-generation worker)" },
	{ .name = "server.max_derive_data", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_derive_data), .def = 4 * KIB, .min = 64, .max = 64 * KIB,
	  .help = "bytes of Derivation Data one Derive Key may give at most" },
	{ .name = "server.max_derive_length", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_derive_length), .def = 4096, .min = 128, .max = 32768,
	  .help = "Cryptographic Length in bits of a key or Secret Data Derive Key makes at most" },
	{ .name = "server.handshake_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.handshake_timeout), .def = 5, .min = 1, .max = 3600,
	  .help = "seconds a TLS handshake may take" },
	{ .name = "server.request_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.request_timeout), .def = 30, .min = 1, .max = 3600,
	  .help = "seconds from the first byte of a request to its last" },
	{ .name = "server.idle_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.idle_timeout), .def = 300, .min = 0, .max = 604800,
	  .help = "seconds a connection may wait between requests; 0 = forever" },
	{ .name = "server.workers", .type = T_STR, .flags = K_INTSTR, .offset = OFF_STR(server.workers),
	  .defstr = "1", .check = check_workers,
	  .help = "worker processes serving clients, 1 to 64, or auto (the CPUs kmipd may run on, at most 64); "
	  "1 = one process, no master" },
	{ .name = "server.worker_heartbeat_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.worker_heartbeat_timeout), .def = 30, .min = 3, .max = 3600,
	  .help = "seconds without a heartbeat (published every second) after which the master kills and "
	  "replaces a worker" },
	{ .name = "server.shutdown_timeout", .type = T_SECONDS, .offset = OFF_UINT(server.shutdown_timeout),
	  .def = 10, .min = 0, .max = 3600,
	  .help = "seconds a graceful stop waits for requests in progress" },
	{ .name = "server.max_requests_per_event", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(server.max_requests_per_event), .def = 16, .min = 1, .max = 1024,
	  .help = "requests one connection may run before others get a turn" },
	{ .name = "server.write_high_water", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.write_high_water), .def = MIB, .min = 4 * KIB, .max = GIB,
	  .help = "unsent output above which a connection is not read" },
	{ .name = "server.max_response_size", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_response_size), .def = 0, .min = 0, .max = GIB,
	  .help = "largest response sent, items past it fail with Response Too Large; 0 = 4 x max_message_size" },
	{ .name = "server.max_buffered", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_buffered), .def = 0, .min = 0, .max = 64 * GIB,
	  .help = "unsent and unparsed bytes of all connections, past it the largest holders are paused or "
	  "closed; 0 = 256M, or four connections at their largest if that is more" },
	{ .name = "server.max_buffered_per_identity", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(server.max_buffered_per_identity), .def = 0, .min = 0, .max = 64 * GIB,
	  .help = "unsent and unparsed bytes of one client identity's connections, past it they are not read and "
	  "their requests wait; 0 = a quarter of server.max_buffered" },
	{ .name = "server.user", .type = T_STR, .offset = OFF_STR(server.user),
	  .help = "user to switch to after binding; unset = stay" },
	{ .name = "server.group", .type = T_STR, .offset = OFF_STR(server.group),
	  .help = "group to switch to after binding; unset = the user's" },
	{ .name = "server.pid_file", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(server.pid_file),
	  .help = "file to write the process id to; unset = none" },

	{ .name = "tls.cert_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(tls.cert_file),
	  .help = "server certificate chain, PEM" },
	{ .name = "tls.key_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(tls.key_file),
	  .help = "server private key, PEM" },
	{ .name = "tls.p12_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(tls.p12_file),
	  .help = "server certificate and key, PKCS#12, instead of the PEM pair" },
	{ .name = "tls.p12_password", .type = T_STR, .flags = K_RELOAD | K_SECRET,
	  .offset = OFF_STR(tls.p12_password), .help = "password of tls.p12_file" },
	{ .name = "tls.ecdsa_cert_file", .type = T_STR, .flags = K_RELOAD | K_PATH,
	  .offset = OFF_STR(tls.ecdsa_cert_file),
	  .help = "ECDSA (EC P-256 or P-384) server certificate chain, PEM, served beside the identity above to "
	  "clients that offer ECDSA; unset = none" },
	{ .name = "tls.ecdsa_key_file", .type = T_STR, .flags = K_RELOAD | K_PATH,
	  .offset = OFF_STR(tls.ecdsa_key_file), .help = "private key of tls.ecdsa_cert_file, PEM" },
	{ .name = "tls.clients_ca_cert_file", .type = T_STR, .flags = K_RELOAD | K_PATH,
	  .offset = OFF_STR(tls.clients_ca_cert_file),
	  .help = "CA certificates that client certificates must chain to, PEM" },
	{ .name = "tls.min_version", .type = T_ENUM, .flags = K_RELOAD, .offset = OFF_ENUM(tls.min_version),
	  .def = CONFIG_TLS_1_2, .choices = tls_versions, .help = "lowest TLS version accepted" },
	{ .name = "tls.ciphers", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(tls.ciphers),
	  .help = "OpenSSL cipher list for TLS 1.2; unset = built-in default" },
	{ .name = "tls.ciphersuites", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(tls.ciphersuites),
	  .help = "OpenSSL cipher suites for TLS 1.3; unset = built-in default" },
	{ .name = "tls.session_cache_size", .type = T_UINT,
	  .offset = OFF_UINT(tls.session_cache_size), .def = 20480, .min = 1, .max = 10000000,
	  .help = "TLS sessions kept for resumption, in memory shared by the whole server" },
	{ .name = "tls.session_max_size", .type = T_SIZE, .offset = OFF_SIZE(tls.session_max_size),
	  .def = 4096, .min = 512, .max = 65536,
	  .help = "largest TLS session (DER, client certificate included) the session cache keeps" },
	{ .name = "tls.session_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(tls.session_timeout), .def = 7200, .min = 1, .max = 604800,
	  .help = "seconds a TLS session or ticket can be resumed" },
	{ .name = "tls.session_tickets", .type = T_BOOL, .flags = K_RELOAD,
	  .offset = OFF_BOOL(tls.session_tickets), .def = true, .help = "issue TLS session tickets" },
	{ .name = "tls.ticket_key_file", .type = T_STR, .flags = K_RELOAD | K_PATH,
	  .offset = OFF_STR(tls.ticket_key_file),
	  .help = "session ticket keys, one base64 line of 80 bytes each, the first encrypts (mode 0600); "
	  "unset = random keys shared by the server, rotated" },
	{ .name = "tls.ticket_key_rotation", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(tls.ticket_key_rotation), .def = 3600, .min = 60, .max = 604800,
	  .help = "seconds a random ticket key encrypts; older ones decrypt for tls.session_timeout more" },
	{ .name = "tls.verify_depth", .type = T_UINT, .flags = K_RELOAD, .offset = OFF_UINT(tls.verify_depth),
	  .def = 4, .min = 1, .max = 64, .help = "longest client certificate chain" },
	{ .name = "tls.crl_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(tls.crl_file),
	  .help = "PEM CRLs, one per CA of the client chains (all checked); unset = no revocation check" },
	{ .name = "tls.crl_expired", .type = T_ENUM, .flags = K_RELOAD, .offset = OFF_ENUM(tls.crl_expired),
	  .def = CONFIG_CRL_EXPIRED_WARN, .choices = crl_expireds,
	  .help = "a CRL past its next update: warn (and accept) or refuse its CA's clients" },
	{ .name = "tls.crl_check_interval", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(tls.crl_check_interval), .def = 30, .min = 1, .max = 86400,
	  .help = "seconds between looks at tls.crl_file; a changed file is loaded" },

	{ .name = "store.path", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(store.path), .defstr = "/var/lib/kmipd",
	  .help = "directory of the LMDB object store" },
	{ .name = "store.map_size", .type = T_SIZE, .offset = OFF_SIZE(store.map_size), .def = 256 * MIB,
	  .min = MIB, .max = 64 * TIB, .help = "initial LMDB map size" },
	{ .name = "store.max_map_size", .type = T_SIZE, .offset = OFF_SIZE(store.max_map_size),
	  .def = 64 * GIB, .min = MIB, .max = 64 * TIB, .help = "size the LMDB map may grow to" },
	{ .name = "store.sync", .type = T_ENUM, .offset = OFF_ENUM(store.sync), .def = CONFIG_SYNC_FULL,
	  .choices = store_syncs, .help = "full: fsync every commit; relaxed: no fsync of the meta page" },
	{ .name = "store.group_commit", .type = T_BOOL, .offset = OFF_BOOL(store.group_commit), .def = true,
	  .help = "commit the writes of one loop iteration together" },
	{ .name = "store.encryption", .type = T_BOOL, .offset = OFF_BOOL(store.encryption), .def = true,
	  .help = "seal key material at rest under a master key (false only for stores never encrypted)" },
	{ .name = "store.master_key_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(store.master_key_file),
	  .help = "file of the 32-byte master key (mode 0600 or stricter)" },
	{ .name = "store.master_key_credential", .type = T_STR, .flags = K_RELOAD,
	  .offset = OFF_STR(store.master_key_credential),
	  .help = "systemd credential holding the master key (LoadCredentialEncrypted=)" },
	{ .name = "store.pkcs11_module", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(store.pkcs11_module),
	  .help = "PKCS#11 module whose token holds the master key" },
	{ .name = "store.pkcs11_token", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(store.pkcs11_token),
	  .help = "label of the token" },
	{ .name = "store.pkcs11_key", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(store.pkcs11_key),
	  .defstr = "kmipd-master", .help = "label of the master key on the token" },
	{ .name = "store.pkcs11_pin_file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(store.pkcs11_pin_file),
	  .help = "file holding the token's user PIN, or credential:NAME" },
	{ .name = "store.previous_master_key_file", .type = T_STR, .flags = K_RELOAD | K_PATH,
	  .offset = OFF_STR(store.previous_master_key_file),
	  .help = "rotation: the master key file the data keys are wrapped under until now" },
	{ .name = "store.previous_master_key_credential", .type = T_STR, .flags = K_RELOAD,
	  .offset = OFF_STR(store.previous_master_key_credential),
	  .help = "rotation: the credential of the previous master key" },
	{ .name = "store.pkcs11_previous_key", .type = T_STR, .flags = K_RELOAD,
	  .offset = OFF_STR(store.pkcs11_previous_key), .help = "rotation: label of the previous key on the token" },
	{ .name = "store.reseal_batch", .type = T_UINT, .flags = K_RELOAD, .offset = OFF_UINT(store.reseal_batch),
	  .def = 256, .min = 1, .max = 65536,
	  .help = "records re-encrypted per loop iteration after a data key rotation" },

	{ .name = "store.backend", .type = T_ENUM, .offset = OFF_ENUM(store.backend), .def = CONFIG_BACKEND_LMDB,
	  .choices = store_backends,
	  .help = "lmdb: this machine's store alone; etcd: a copy of the records several nodes share in etcd" },
	{ .name = "store.etcd_endpoints", .type = T_STR, .offset = OFF_STR(store.etcd_endpoints),
	  .check = check_etcd_endpoints,
	  .help = "comma-separated etcd client URLs (http:// or https://), needed with store.backend = etcd" },
	{ .name = "store.etcd_prefix", .type = T_STR, .offset = OFF_STR(store.etcd_prefix), .defstr = "/kmipd/",
	  .check = check_etcd_prefix, .help = "start of every etcd key kmipd writes; one cluster's nodes share it" },
	{ .name = "store.etcd_node_name", .type = T_STR, .offset = OFF_STR(store.etcd_node_name),
	  .check = check_etcd_node, .help = "this node's name in etcd and in status, unique per node; unset = the host name" },
	{ .name = "store.etcd_ca_file", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(store.etcd_ca_file),
	  .help = "PEM CA that signed etcd's server certificates (https endpoints)" },
	{ .name = "store.etcd_cert_file", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(store.etcd_cert_file),
	  .help = "PEM client certificate presented to etcd" },
	{ .name = "store.etcd_key_file", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(store.etcd_key_file),
	  .help = "PEM private key of store.etcd_cert_file" },
	{ .name = "store.etcd_server_name", .type = T_STR, .offset = OFF_STR(store.etcd_server_name),
	  .help = "name checked in etcd's certificates instead of each endpoint's host" },
	{ .name = "store.etcd_user", .type = T_STR, .offset = OFF_STR(store.etcd_user),
	  .help = "etcd user, when etcd authentication is on (with store.etcd_password_file)" },
	{ .name = "store.etcd_password_file", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(store.etcd_password_file),
	  .help = "file holding the etcd user's password (mode 0600 or stricter)" },
	{ .name = "store.etcd_request_timeout", .type = T_UINT, .offset = OFF_UINT(store.etcd_request_timeout),
	  .def = 5000, .min = 100, .max = 600000, .help = "milliseconds one etcd request may take" },
	{ .name = "store.etcd_connect_timeout", .type = T_UINT, .offset = OFF_UINT(store.etcd_connect_timeout),
	  .def = 2000, .min = 100, .max = 600000, .help = "milliseconds one connection to an etcd member may take" },
	{ .name = "store.etcd_heartbeat", .type = T_UINT, .offset = OFF_UINT(store.etcd_heartbeat),
	  .def = 1000, .min = 50, .max = 600000,
	  .help = "milliseconds between an idle node's proofs that it is current (a write of its node key)" },
	{ .name = "store.max_staleness", .type = T_SECONDS, .flags = K_RELOAD, .offset = OFF_UINT(store.max_staleness),
	  .def = 30, .min = 1, .max = 86400,
	  .help = "seconds a node cut off from etcd keeps answering from its copy before it refuses object requests" },
	{ .name = "store.etcd_start_timeout", .type = T_SECONDS, .offset = OFF_UINT(store.etcd_start_timeout),
	  .def = 60, .min = 1, .max = 86400,
	  .help = "seconds the start waits to reach etcd and catch up before it fails" },

	{ .name = "keygen.workers", .type = T_UINT, .offset = OFF_UINT(keygen.workers), .def = 2,
	  .min = 1, .max = 64, .help = "key generation worker processes" },
	{ .name = "keygen.pool_size", .type = T_UINT, .offset = OFF_UINT(keygen.pool_size), .def = 8,
	  .min = 0, .max = 1024, .help = "pre-generated RSA-2048 key pairs kept ready" },
	{ .name = "keygen.timeout", .type = T_SECONDS, .offset = OFF_UINT(keygen.timeout), .def = 30,
	  .min = 1, .max = 3600, .help = "seconds one key generation may take" },
	{ .name = "keygen.max_per_identity", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(keygen.max_per_identity), .def = 8, .min = 1, .max = 4096,
	  .help = "key generations, Derive Key PBKDF2 runs and RSA prime recoveries one identity may have under way" },

	{ .name = "crypto.max_streams", .type = T_UINT, .flags = K_RELOAD, .offset = OFF_UINT(crypto.max_streams),
	  .def = 8, .min = 1, .max = 256,
	  .help = "multi-part Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify and Hash one connection may "
	  "hold open at once" },
	{ .name = "crypto.max_streams_per_identity", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(crypto.max_streams_per_identity), .def = 64, .min = 1, .max = 1000000,
	  .help = "multi-part operations one client identity may hold open on all its connections together" },
	{ .name = "crypto.stream_idle_timeout", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(crypto.stream_idle_timeout), .def = 300, .min = 1, .max = 86400,
	  .help = "seconds a multi-part operation may wait for its next part before it is discarded" },
	{ .name = "crypto.rng_seed_max", .type = T_UINT, .flags = K_RELOAD, .offset = OFF_UINT(crypto.rng_seed_max),
	  .def = 64, .min = 0, .max = 4096,
	  .help = "bytes of one RNG Seed mixed into the random generator (the rest ignored); 0 = none" },

	{ .name = "compat.destroy_active", .type = T_BOOL, .flags = K_RELOAD,
	  .offset = OFF_BOOL(compat.destroy_active), .def = false,
	  .help = "let Destroy remove Active objects, unlike the specification" },
	{ .name = "compat.wrapped_key_value_structure", .type = T_BOOL, .flags = K_RELOAD,
	  .offset = OFF_BOOL(compat.wrapped_key_value_structure), .def = false,
	  .help = "answer a wrapped Key Value inside a Key Value structure, as PyKMIP 0.10 reads it" },

	{ .name = "access.admins", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.admins),
	  .min = 0, .max = 1024, .help = "client identities that see and act on every object" },
	{ .name = "access.identity", .type = T_ENUM, .offset = OFF_ENUM(access.identity),
	  .def = CONFIG_IDENTITY_CN, .choices = identities,
	  .help = "what of the client certificate names the client" },
	{ .name = "access.credentials", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.credentials),
	  .min = 0, .max = 1024, .check = check_credential,
	  .help = "KMIP username/password credentials accepted, as \"user:hash\" (kmipctl hash-password)" },
	{ .name = "access.require_credential", .type = T_BOOL, .flags = K_RELOAD,
	  .offset = OFF_BOOL(access.require_credential), .def = false,
	  .help = "refuse requests that carry no valid username/password Credential" },
	{ .name = "access.max_derivations_per_identity", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(access.max_derivations_per_identity), .def = 2, .min = 1, .max = 64,
	  .help = "Credential password derivations one client identity may have under way" },
	{ .name = "access.max_derivations_per_source", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(access.max_derivations_per_source), .def = 4, .min = 1, .max = 1024,
	  .help = "Credential password derivations one client address may have under way" },
	{ .name = "access.credential_backoff_max", .type = T_SECONDS, .flags = K_RELOAD,
	  .offset = OFF_UINT(access.credential_backoff_max), .def = 60, .min = 1, .max = 3600,
	  .help = "longest time an identity is refused unchecked after wrong Credentials" },
	{ .name = "access.shares", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.shares),
	  .min = 0, .max = 1024, .check = check_share,
	  .help = "objects shared read-only, as \"owner:group:identity\" (group * = all of owner's objects)" },
	{ .name = "access.max_objects_per_identity", .type = T_UINT, .flags = K_RELOAD,
	  .offset = OFF_UINT(access.max_objects_per_identity), .def = 0, .min = 0, .max = 2000000000,
	  .help = "objects one identity may own (destroyed ones until purged); 0 = no limit" },
	{ .name = "access.max_bytes_per_identity", .type = T_SIZE, .flags = K_RELOAD,
	  .offset = OFF_SIZE(access.max_bytes_per_identity), .def = 0, .min = 0, .max = 64 * TIB,
	  .help = "record bytes one identity may own; unset = a quarter of store.max_map_size; 0 = no limit" },
	{ .name = "access.quotas", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.quotas),
	  .min = 0, .max = 1024, .check = check_quota,
	  .help = "per-identity quotas instead of the two above, as \"identity:objects:bytes\" (0 = no limit)" },
	{ .name = "access.allow", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.allow),
	  .min = 0, .max = 1024, .help = "client identities admitted; empty = every one the CA signed" },
	{ .name = "access.deny", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.deny),
	  .min = 0, .max = 1024, .help = "client identities refused after the handshake, whatever access.allow says" },
	{ .name = "access.roles", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.roles),
	  .min = 0, .max = 64, .check = check_role,
	  .help = "named sets of operations, as \"name: Operation, Operation...\" (\"; material = no\": Get of "
	      "secret material refused)" },
	{ .name = "access.grants", .type = T_LIST, .flags = K_RELOAD, .offset = OFF_LIST(access.grants),
	  .min = 0, .max = 1024, .check = check_grant,
	  .help = "roles granted, as \"role:identity:ID\", \"role:ou:OU\" or \"role:san:TYPE:PATTERN\" (union)" },
	{ .name = "access.default_role", .type = T_STR, .flags = K_RELOAD, .offset = OFF_STR(access.default_role),
	  .check = check_role_name,
	  .help = "the role of identities no grant names; unset = every operation on their own objects" },

	{ .name = "log.level", .type = T_ENUM, .flags = K_RELOAD, .offset = OFF_ENUM(log.level),
	  .def = CONFIG_LOG_INFO, .choices = log_levels, .help = "least severe messages logged" },
	{ .name = "log.target", .type = T_ENUM, .offset = OFF_ENUM(log.target), .def = CONFIG_LOG_STDERR,
	  .choices = log_targets, .help = "where log messages go" },
	{ .name = "log.syslog_facility", .type = T_ENUM, .offset = OFF_ENUM(log.syslog_facility),
	  .def = LOG_DAEMON, .choices = facilities, .help = "syslog facility" },
	{ .name = "log.file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(log.file),
	  .help = "file to append log lines to instead of stderr or syslog, reopened on SIGHUP; unset = none" },
	{ .name = "log.format", .type = T_ENUM, .flags = K_RELOAD, .offset = OFF_ENUM(log.format),
	  .def = CONFIG_LOG_TEXT, .choices = log_formats,
	  .help = "lines on stderr or in log.file: text, or json (one object per line)" },
	{ .name = "log.connections", .type = T_BOOL, .flags = K_RELOAD, .offset = OFF_BOOL(log.connections),
	  .def = false, .help = "log a line per closed client connection (duration, requests, bytes, resumed)" },

	{ .name = "audit.file", .type = T_STR, .flags = K_RELOAD | K_PATH, .offset = OFF_STR(audit.file),
	  .help = "file to append one audit line per operation to; unset = none" },
	{ .name = "audit.syslog", .type = T_BOOL, .flags = K_RELOAD, .offset = OFF_BOOL(audit.syslog),
	  .def = false, .help = "send audit lines to syslog too" },
	{ .name = "audit.required", .type = T_BOOL, .flags = K_RELOAD, .offset = OFF_BOOL(audit.required),
	  .def = false, .help = "refuse requests while the audit file cannot be written and flushed; needs "
	  "audit.file" },

	{ .name = "admin.socket", .type = T_STR, .flags = K_PATH, .offset = OFF_STR(admin.socket),
	  .help = "Unix socket that kmipctl status reads the live status from; unset = none" },
	{ .name = "admin.socket_mode", .type = T_STR, .offset = OFF_STR(admin.socket_mode), .defstr = "0660",
	  .check = check_mode, .help = "permissions of admin.socket, octal: who may connect to it" },
	{ .name = "admin.socket_group", .type = T_STR, .offset = OFF_STR(admin.socket_group),
	  .help = "group of admin.socket; unset = kmipd's group" },
	{ .name = "admin.max_connections", .type = T_UINT, .offset = OFF_UINT(admin.max_connections), .def = 4,
	  .min = 1, .max = 64, .help = "connections to admin.socket open at once; more are closed at once" },
	{ .name = "admin.timeout", .type = T_SECONDS, .offset = OFF_UINT(admin.timeout), .def = 5,
	  .min = 1, .max = 60, .help = "seconds a connection to admin.socket may take to ask and read" },

	{ .name = "metrics.listen", .type = T_STR, .offset = OFF_STR(metrics.listen), .check = check_hostport,
	  .help = "ADDRESS:PORT of the Prometheus /metrics and /ready HTTP listener, e.g. 127.0.0.1:9696; "
	  "unset = off" },
	{ .name = "metrics.max_connections", .type = T_UINT, .offset = OFF_UINT(metrics.max_connections),
	  .def = 4, .min = 1, .max = 64, .help = "HTTP connections open at once on metrics.listen; the listener pauses at this many" },
	{ .name = "metrics.timeout", .type = T_SECONDS, .offset = OFF_UINT(metrics.timeout), .def = 5,
	  .min = 1, .max = 60, .help = "seconds an HTTP connection to metrics.listen may take" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Where each key got its value, for messages about combinations of keys. */
struct origin {
	const char *file;	/* set with line when the value came from a file */
	unsigned int line;
	const char *override;	/* the "-o" argument that set it */
};

/* The state of one config_load. */
struct load {
	const char *path;
	char *dir;			/* of path, for @include; NULL when path has no '/' */
	char *sources[MAX_SOURCES];	/* files read, as opened */
	size_t nsources;
	struct origin origin[NKEYS];
};

/* A malloc'd formatted string, or NULL when out of memory. */
static char * __attribute__((format(printf, 1, 2)))
fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* Frees s after wiping it: used for everything that may hold a secret. */
static void
free_wiped(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void *
field(struct kmipd_config *cfg, const struct key *k)
{
	return (char *)cfg + k->offset;
}

static const void *
cfield(const struct kmipd_config *cfg, const struct key *k)
{
	return (const char *)cfg + k->offset;
}

/* The key named "group.key", or NULL. */
static const struct key *
find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Whether some key lives in group g (g is len bytes, not terminated). */
static bool
known_group(const char *g, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, g, len) == 0 && keys[i].name[len] == '.')
			return true;
	return false;
}

/* Edit distance between a and b, capped at 3 since only near misses matter. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, tmp;

	if (lb >= sizeof(row) / sizeof(row[0]) || (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > tmp + 1)
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

/* Why name is not a key, with a guess at the key meant when one is close. */
static char *
unknown_key(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3, d;

	for (size_t i = 0; i < NKEYS; i++) {
		d = distance(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	}
	if (best != NULL)
		return fmt("unknown key %s (did you mean %s?)", name, best);
	return fmt("unknown key %s", name);
}

/* Why g is not a group, with a guess at the group meant. */
static char *
unknown_group(const char *g)
{
	char cand[64];
	const char *dot;

	for (size_t i = 0; i < NKEYS; i++) {
		dot = strchr(keys[i].name, '.');
		snprintf(cand, sizeof(cand), "%.*s", (int)(dot - keys[i].name), keys[i].name);
		if (distance(g, cand) <= 2)
			return fmt("unknown group %s (did you mean %s?)", g, cand);
	}
	return fmt("unknown group %s", g);
}

/* Formats a size the way a config file would say it: "64M" when exact, bytes otherwise. */
static void
fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char units[] = "TGMK";

	for (int i = 0; i < 4; i++) {
		unsigned int shift = 40 - 10 * i;

		if (v != 0 && v % (UINT64_C(1) << shift) == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v >> shift, units[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

/* Parses "123", "64K", "1M", "2g": 0 with *out in bytes, or -1 with *reason. */
static int
parse_size(const char *s, uint64_t *out, char **reason)
{
	unsigned long long n;
	unsigned int shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		goto big;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end != '\0')
		goto bad;
	if (n > (UINT64_MAX >> shift))
		goto big;
	*out = (uint64_t)n << shift;
	return 0;
bad:
	*reason = fmt("\"%s\" is not a size: give bytes, or a number with a K, M, G or T suffix (1K = 1024)", s);
	return -1;
big:
	*reason = fmt("\"%s\" is too large", s);
	return -1;
}

/* An IPv4 or IPv6 literal: names are not resolved, so that the config means the same everywhere. */
static int
check_address(const char *s, char **reason)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1)
		return 0;
	*reason = fmt("\"%s\" is not an IPv4 or IPv6 address literal", s);
	return -1;
}

/* An octal file mode of at most 0777, such as "0660". */
static int
check_mode(const char *s, char **reason)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(s, &end, 8);
	if (errno == 0 && end != s && *end == '\0' && s[0] >= '0' && s[0] <= '7' && m <= 0777)
		return 0;
	*reason = fmt("\"%s\" is not an octal file mode such as 0660", s);
	return -1;
}

/* server.workers: "auto" or a whole number of 1..CONFIG_WORKERS_MAX. */
static int
check_workers(const char *s, char **reason)
{
	char *end;
	unsigned long n;

	if (strcmp(s, "auto") == 0)
		return 0;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno == 0 && end != s && *end == '\0' && isdigit((unsigned char)s[0]) && n >= 1 &&
	    n <= CONFIG_WORKERS_MAX)
		return 0;
	*reason = fmt("\"%s\" is not a number of worker processes from 1 to %d, or auto", s, CONFIG_WORKERS_MAX);
	return -1;
}

/* The worker processes server.workers asks for; see config.h. */
unsigned
config_workers(const struct kmipd_config *cfg)
{
	const char *w = cfg->server.workers;
	cpu_set_t set;
	int n;

	if (w == NULL)
		return 1;
	if (strcmp(w, "auto") != 0)
		return (unsigned)strtoul(w, NULL, 10);
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || (n = CPU_COUNT(&set)) < 1)
		return 1;
	return n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX : (unsigned)n;
}

/* "a.b.c.d:port" or "[v6]:port", an address literal and a port of 1..65535. */
static int
check_hostport(const char *s, char **reason)
{
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	struct in6_addr a6;
	struct in_addr a4;
	unsigned long port;
	size_t hl;
	char *end;

	if (colon == NULL || (hl = (size_t)(colon - s)) == 0 || hl >= sizeof(host))
		goto bad;
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			goto bad;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			goto bad;
	} else {
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &a4) != 1)
			goto bad;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno == 0 && end != colon + 1 && *end == '\0' && port >= 1 && port <= 65535)
		return 0;
bad:
	*reason = fmt("\"%s\" is not ADDRESS:PORT with an IPv4 literal or [IPv6]:PORT", s);
	return -1;
}

/* store.etcd_endpoints: 1 to 16 comma-separated http:// or https:// URLs, each with a host. */
static int
check_etcd_endpoints(const char *s, char **reason)
{
	const char *p = s, *end, *host;
	unsigned n = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		end = p + strcspn(p, ",");
		if (strncmp(p, "http://", 7) == 0)
			host = p + 7;
		else if (strncmp(p, "https://", 8) == 0)
			host = p + 8;
		else
			host = NULL;
		if (host == NULL || host >= end || *host == ':' || *host == '/' || *host == ' ' ||
		    (size_t)(end - p) > 256) {
			*reason = fmt("\"%.*s\" is not an etcd client URL such as https://10.0.0.1:2379",
			    (int)(end - p) > 80 ? 80 : (int)(end - p), p);
			return -1;
		}
		if (++n > 16) {
			*reason = fmt("more than 16 etcd endpoints");
			return -1;
		}
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* store.etcd_prefix: 1 to 64 printable bytes, no space. */
static int
check_etcd_prefix(const char *s, char **reason)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && s[i] > ' ' && s[i] < 0x7f; i++)
		;
	if (n >= 1 && n <= 64 && i == n)
		return 0;
	*reason = fmt("\"%.80s\" is not 1 to 64 printable characters without spaces", s);
	return -1;
}

/* store.etcd_node_name: 1 to 64 of letters, digits, '.', '-', '_'. */
static int
check_etcd_node(const char *s, char **reason)
{
	size_t n = strlen(s);

	if (n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n)
		return 0;
	*reason = fmt("\"%.80s\" is not 1 to 64 letters, digits, '.', '-' or '_'", s);
	return -1;
}

/* "user:pbkdf2-sha256$iterations$salt$hash" with hex salt and hash, as kmipctl hash-password prints. */
static int
check_credential(const char *s, char **reason)
{
	const char *colon = strchr(s, ':');
	unsigned long iter;
	char *end;
	size_t salt, hash;

	if (colon == NULL || colon == s || strncmp(colon + 1, "pbkdf2-sha256$", 14) != 0)
		goto bad;
	iter = strtoul(colon + 15, &end, 10);
	if (end == colon + 15 || *end != '$' || iter < 1000)
		goto bad;
	/* The bound keeps a derivation within seconds of a worker (KEYGEN_PBKDF2_MAX_ITERATIONS). */
	if (iter > 10000000) {
		*reason = fmt("\"%.*s\": %lu PBKDF2 iterations is more than the 10000000 accepted", (int)(colon - s) > 40 ?
		    40 : (int)(colon - s), s, iter);
		return -1;
	}
	salt = strspn(end + 1, "0123456789abcdef");
	if (salt < 16 || salt > 512 || salt % 2 != 0 || end[1 + salt] != '$')
		goto bad;
	hash = strspn(end + 2 + salt, "0123456789abcdef");
	if (hash != 64 || end[2 + salt + hash] != '\0')
		goto bad;
	return 0;
bad:
	*reason = fmt("\"%.40s...\" is not \"user:pbkdf2-sha256$ITERATIONS$SALT$HASH\" (see kmipctl hash-password)", s);
	return -1;
}

/* "owner:group:identity", each part non-empty; group "*" means every object of owner. */
static int
check_share(const char *s, char **reason)
{
	const char *a = strchr(s, ':'), *b = a != NULL ? strchr(a + 1, ':') : NULL;

	if (a == NULL || b == NULL || a == s || b == a + 1 || b[1] == '\0' || strchr(b + 1, ':') != NULL) {
		*reason = fmt("\"%s\" is not \"owner:group:identity\" (group * for all of owner's objects)", s);
		return -1;
	}
	return 0;
}

/* Parses one access.quotas entry; see config.h. */
int
config_parse_quota(const char *entry, char **identity, uint64_t *objects, uint64_t *bytes, char **reason)
{
	const char *b = strrchr(entry, ':'), *a = b != NULL ? memrchr(entry, ':', (size_t)(b - entry)) : NULL;
	unsigned long long n;
	char *end, *num = NULL;

	*identity = NULL;
	*reason = NULL;
	if (a == NULL || a == entry || b == a + 1 || b[1] == '\0') {
		*reason = fmt("\"%s\" is not \"identity:objects:bytes\" (0 = no limit)", entry);
		return -1;
	}
	if ((num = strndup(a + 1, (size_t)(b - a - 1))) == NULL)
		return -1;
	errno = 0;
	n = strtoull(num, &end, 10);
	if (!isdigit((unsigned char)num[0]) || *end != '\0' || errno == ERANGE || n > 2000000000ULL) {
		*reason = fmt("\"%s\": objects \"%s\" is not a number up to 2000000000", entry, num);
		free(num);
		return -1;
	}
	free(num);
	*objects = n;
	if (parse_size(b + 1, bytes, reason) != 0)
		return -1;
	if ((*identity = strndup(entry, (size_t)(a - entry))) == NULL)
		return -1;
	return 0;
}

/* "identity:objects:bytes": see config_parse_quota. */
static int
check_quota(const char *s, char **reason)
{
	uint64_t o, b;
	char *id = NULL;

	if (config_parse_quota(s, &id, &o, &b, reason) != 0) {
		if (*reason == NULL)
			*reason = fmt("out of memory");
		return -1;
	}
	free(id);
	return 0;
}

/* True for a role name: non-empty, printable ASCII, no ':' ',' ';' or space. */
static bool
role_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' || s[i] == ',' || s[i] == ';')
			return false;
	return true;
}

/* access.default_role: a role name (that a role has it is checked by the access policy). */
static int
check_role_name(const char *s, char **reason)
{
	if (!role_name_ok(s, strlen(s))) {
		*reason = fmt("\"%s\" is not a role name (up to 64 printable characters, none of : , ; or space)", s);
		return -1;
	}
	return 0;
}

/* Skips spaces and tabs. */
static const char *
skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Splits one access.roles entry; see config.h. */
int
config_parse_role(const char *entry, char **name, const char **ops, size_t *ops_len, bool *material,
    char **reason)
{
	const char *colon = strchr(entry, ':'), *start = skip_blank(entry), *end, *semi, *opt;
	size_t n;

	*name = NULL;
	*reason = NULL;
	*material = true;
	if (colon == NULL) {
		*reason = fmt("\"%s\" is not \"name: Operation, Operation...[; material = no]\"", entry);
		return -1;
	}
	for (end = colon; end > start && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	if (!role_name_ok(start, (size_t)(end - start))) {
		*reason = fmt("\"%s\": the role name is empty, longer than 64 bytes or holds : , ; or a space", entry);
		return -1;
	}
	*ops = skip_blank(colon + 1);
	semi = strchr(*ops, ';');
	n = semi != NULL ? (size_t)(semi - *ops) : strlen(*ops);
	while (n > 0 && ((*ops)[n - 1] == ' ' || (*ops)[n - 1] == '\t'))
		n--;
	*ops_len = n;
	if (semi != NULL) {
		opt = skip_blank(semi + 1);
		if (strncmp(opt, "material", 8) != 0 || *(opt = skip_blank(opt + 8)) != '=') {
			*reason = fmt("\"%s\": after ';' only \"material = yes\" or \"material = no\"", entry);
			return -1;
		}
		opt = skip_blank(opt + 1);
		if (strncmp(opt, "yes", 3) == 0 && *skip_blank(opt + 3) == '\0')
			*material = true;
		else if (strncmp(opt, "no", 2) == 0 && *skip_blank(opt + 2) == '\0')
			*material = false;
		else {
			*reason = fmt("\"%s\": material is yes or no", entry);
			return -1;
		}
	}
	if ((*name = strndup(start, (size_t)(end - start))) == NULL)
		return -1;
	return 0;
}

/* One access.roles entry: see config_parse_role (the operation names are checked by the access policy). */
static int
check_role(const char *s, char **reason)
{
	const char *ops;
	size_t len;
	char *name;
	bool m;

	if (config_parse_role(s, &name, &ops, &len, &m, reason) != 0) {
		if (*reason == NULL)
			*reason = fmt("out of memory");
		return -1;
	}
	free(name);
	return 0;
}

/* "role:identity:ID", "role:ou:OU" or "role:san:TYPE:PATTERN" (TYPE DNS, URI, email or IP), value non-empty. */
static int
check_grant(const char *s, char **reason)
{
	const char *a = strchr(s, ':'), *v;

	if (a == NULL || !role_name_ok(s, (size_t)(a - s)))
		goto bad;
	if (strncmp(a + 1, "identity:", 9) == 0)
		v = a + 10;
	else if (strncmp(a + 1, "ou:", 3) == 0)
		v = a + 4;
	else if (strncmp(a + 1, "san:", 4) == 0) {
		v = a + 5;
		if (strncmp(v, "DNS:", 4) != 0 && strncmp(v, "URI:", 4) != 0 && strncmp(v, "email:", 6) != 0 &&
		    strncmp(v, "IP:", 3) != 0) {
			*reason = fmt("\"%s\": a SAN pattern starts with DNS:, URI:, email: or IP:", s);
			return -1;
		}
		if (v[strcspn(v, ":") + 1] == '\0') {
			*reason = fmt("\"%s\": empty SAN pattern", s);
			return -1;
		}
	} else
		goto bad;
	if (*v == '\0')
		goto bad;
	return 0;
bad:
	*reason = fmt("\"%s\" is not \"role:identity:ID\", \"role:ou:OU\" or \"role:san:TYPE:PATTERN\"", s);
	return -1;
}

/* Checks one string value or list item: non-empty where that matters, bounded, and the key's own check. */
static int
check_string(const struct key *k, const char *s, char **reason)
{
	if (strlen(s) > MAX_STRING) {
		*reason = fmt("value longer than %d bytes", MAX_STRING);
		return -1;
	}
	if (k->check != NULL)
		return k->check(s, reason);
	return 0;
}

/* Sets a T_STR key; NULL or "" unsets it. Returns 0, or -1 with *reason. */
static int
set_str(struct kmipd_config *cfg, const struct key *k, const char *v, char **reason)
{
	char **dst = field(cfg, k), *copy = NULL;

	if (v != NULL && *v != '\0') {
		if (check_string(k, v, reason) == -1)
			return -1;
		if ((copy = strdup(v)) == NULL) {
			*reason = NULL;
			return -1;
		}
	}
	if (k->flags & K_SECRET)
		free_wiped(*dst);
	else
		free(*dst);
	*dst = copy;
	return 0;
}

static void
list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* Sets a T_LIST key to items[0..n). Returns 0, or -1 with *reason. */
static int
set_list(struct kmipd_config *cfg, const struct key *k, const char *const *items, size_t n,
    char **reason)
{
	struct config_list *dst = field(cfg, k), l = { NULL, 0 };

	if (n < k->min || n > k->max) {
		*reason = n < k->min ? fmt("needs at least %" PRIu64 " item%s", k->min, k->min == 1 ? "" : "s") :
		    fmt("%zu items, at most %" PRIu64 " allowed", n, k->max);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (*items[i] == '\0') {
			*reason = fmt("item %zu is empty", i + 1);
			return -1;
		}
		if (check_string(k, items[i], reason) == -1)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(items[i], items[j]) == 0) {
				*reason = fmt("\"%s\" is listed twice", items[i]);
				return -1;
			}
		}
	}
	if (n > 0 && (l.items = calloc(n, sizeof(*l.items))) == NULL)
		goto nomem;
	for (; l.count < n; l.count++)
		if ((l.items[l.count] = strdup(items[l.count])) == NULL)
			goto nomem;
	list_free(dst);
	*dst = l;
	return 0;
nomem:
	list_free(&l);
	*reason = NULL;
	return -1;
}

/* Sets a numeric key after the range check. Returns 0, or -1 with *reason. */
static int
set_num(struct kmipd_config *cfg, const struct key *k, long long v, char **reason)
{
	char lo[32], hi[32], val[32];

	if (v < 0 || (uint64_t)v < k->min || (uint64_t)v > k->max) {
		if (k->type == T_SIZE) {
			fmt_size(lo, sizeof(lo), k->min);
			fmt_size(hi, sizeof(hi), k->max);
			if (v < 0)
				snprintf(val, sizeof(val), "%lld", v);
			else
				fmt_size(val, sizeof(val), (uint64_t)v);
		} else {
			snprintf(lo, sizeof(lo), "%" PRIu64, k->min);
			snprintf(hi, sizeof(hi), "%" PRIu64, k->max);
			snprintf(val, sizeof(val), "%lld", v);
		}
		*reason = fmt("%s is out of range (%s..%s)", val, lo, hi);
		return -1;
	}
	if (k->type == T_SIZE)
		*(uint64_t *)field(cfg, k) = (uint64_t)v;
	else
		*(unsigned int *)field(cfg, k) = (unsigned int)v;
	return 0;
}

/* Sets a T_ENUM key from its name. Returns 0, or -1 with *reason listing the names allowed. */
static int
set_enum(struct kmipd_config *cfg, const struct key *k, const char *v, char **reason)
{
	char allowed[256] = "";
	size_t len = 0;

	for (const struct choice *c = k->choices; c->name != NULL; c++) {
		if (strcmp(c->name, v) == 0) {
			*(int *)field(cfg, k) = c->value;
			return 0;
		}
		len += (size_t)snprintf(allowed + len, sizeof(allowed) - len, "%s%s", len ? ", " : "", c->name);
		if (len >= sizeof(allowed))
			break;
	}
	*reason = fmt("\"%s\" is not one of %s", v, allowed);
	return -1;
}

/* The name of a T_ENUM key's value. */
static const char *
enum_name(const struct key *k, int v)
{
	for (const struct choice *c = k->choices; c->name != NULL; c++)
		if (c->value == v)
			return c->name;
	return "?";
}

/* Sets key k from a parsed libconfig setting, checking its type. Returns 0, or -1 with *reason. */
static int
apply_setting(struct kmipd_config *cfg, const struct key *k, const config_setting_t *s,
    char **reason)
{
	const char **items = NULL;
	uint64_t size;
	int type = config_setting_type(s), n, rc;

	switch (k->type) {
	case T_STR:
	case T_ENUM:
		if ((k->flags & K_INTSTR) && (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)) {
			char num[24];

			snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
			return set_str(cfg, k, num, reason);
		}
		if (type != CONFIG_TYPE_STRING) {
			*reason = fmt("expected a string");
			return -1;
		}
		if (k->type == T_STR)
			return set_str(cfg, k, config_setting_get_string(s), reason);
		return set_enum(cfg, k, config_setting_get_string(s), reason);
	case T_UINT:
	case T_SECONDS:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
			*reason = fmt(k->type == T_UINT ? "expected an integer" :
			    "expected an integer number of seconds");
			return -1;
		}
		return set_num(cfg, k, config_setting_get_int64(s), reason);
	case T_SIZE:
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			return set_num(cfg, k, config_setting_get_int64(s), reason);
		if (type != CONFIG_TYPE_STRING) {
			*reason = fmt("expected a size: bytes, or a string such as \"64M\"");
			return -1;
		}
		if (parse_size(config_setting_get_string(s), &size, reason) == -1)
			return -1;
		return set_num(cfg, k, size > LLONG_MAX ? LLONG_MAX : (long long)size, reason);
	case T_BOOL:
		if (type != CONFIG_TYPE_BOOL) {
			*reason = fmt("expected true or false");
			return -1;
		}
		*(bool *)field(cfg, k) = config_setting_get_bool(s) != 0;
		return 0;
	case T_LIST:
		if (type == CONFIG_TYPE_STRING) {
			const char *one = config_setting_get_string(s);

			return set_list(cfg, k, &one, 1, reason);
		}
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			goto notlist;
		n = config_setting_length(s);
		if (n < 0 || (uint64_t)n > k->max) {
			*reason = fmt("%d items, at most %" PRIu64 " allowed", n, k->max);
			return -1;
		}
		if (n > 0 && (items = calloc((size_t)n, sizeof(*items))) == NULL) {
			*reason = NULL;
			return -1;
		}
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

			if (e == NULL || config_setting_type(e) != CONFIG_TYPE_STRING) {
				free(items);
				goto notlist;
			}
			items[i] = config_setting_get_string(e);
		}
		rc = set_list(cfg, k, items, (size_t)n, reason);
		free(items);
		return rc;
	}
	*reason = fmt("internal error: key type");
	return -1;
notlist:
	*reason = fmt("expected a string or a list of strings such as [ \"a\", \"b\" ]");
	return -1;
}

/*
 * libconfig 1.5 keeps only the low 32 bits of an integer written without an L suffix, so 68719476736
 * would silently become 0. Scans the source text of a config file for such integers (outside strings
 * and comments) and refuses them. Returns 0, or -1 with *cause.
 */
static int
scan_integers(const char *file, char **cause)
{
	char *buf = NULL, *p, *end;
	unsigned int line = 1;
	size_t len;
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(file, "r")) == NULL) {
		*cause = fmt("%s: %s", file, strerror(errno));
		return -1;
	}
	if ((buf = malloc(MAX_FILE_SIZE + 1)) == NULL) {
		*cause = NULL;
		goto out;
	}
	len = fread(buf, 1, MAX_FILE_SIZE + 1, fp);
	if (ferror(fp)) {
		*cause = fmt("%s: read error", file);
		goto out;
	}
	if (len > MAX_FILE_SIZE) {
		*cause = fmt("%s: larger than %d bytes", file, MAX_FILE_SIZE);
		goto out;
	}
	buf[len] = '\0';
	for (p = buf, end = buf + len; p < end; p++) {
		if (*p == '\n') {
			line++;
		} else if (*p == '#' || (*p == '/' && p[1] == '/')) {
			while (p + 1 < end && p[1] != '\n')
				p++;
		} else if (*p == '/' && p[1] == '*') {
			for (p += 2; p < end && !(*p == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			p++;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				line += *p == '\n';
			}
		} else if (isalpha((unsigned char)*p) || *p == '*' || *p == '_') {
			while (p + 1 < end && (isalnum((unsigned char)p[1]) || p[1] == '-' || p[1] == '_' || p[1] == '*'))
				p++;
		} else if (isdigit((unsigned char)*p) || ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]))) {
			char *start = p, *q;
			bool hex = false, big;
			unsigned long long v;

			if (*p == '+' || *p == '-')
				p++;
			if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
				hex = true;
				p += 2;
			}
			errno = 0;
			v = strtoull(p, &q, hex ? 16 : 10);
			if (*q == '.' || *q == 'e' || *q == 'E') {
				/* a float: skip it whole */
				while (q < end && *q != '\0' && (isdigit((unsigned char)*q) || strchr(".eE+-", *q)))
					q++;
				p = q - 1;
				continue;
			}
			p = q - 1;
			if (*q == 'L')
				continue;
			if (hex)
				big = errno == ERANGE || v > 0x7fffffffULL;
			else if (*start == '-')
				big = errno == ERANGE || v > (unsigned long long)INT_MAX + 1;
			else
				big = errno == ERANGE || v > INT_MAX;
			if (big) {
				*cause = fmt("%s:%u: %.*s does not fit in 32 bits: write it with an L suffix "
				    "(%.*sL), or a size as a string such as \"64G\"", file, line,
				    (int)(q - start), start, (int)(q - start), start);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (buf != NULL) {
		/* the text may hold tls.p12_password */
		explicit_bzero(buf, MAX_FILE_SIZE + 1);
		free(buf);
	}
	fclose(fp);
	return rc;
}

/*
 * The path of a file that libconfig read, resolved the way it resolved it (it records @include names as
 * written, relative to the include directory), and scanned once for integers it would misread. Returns
 * the path, owned by ld, or NULL with *cause.
 */
static const char *
source(struct load *ld, const char *f, char **cause)
{
	char *full;

	if (f == NULL || strcmp(f, ld->path) == 0)
		f = ld->path;
	if (f == ld->path || f[0] == '/' || ld->dir == NULL)
		full = strdup(f);
	else
		full = fmt("%s/%s", ld->dir, f);
	if (full == NULL) {
		*cause = NULL;
		return NULL;
	}
	for (size_t i = 0; i < ld->nsources; i++) {
		if (strcmp(ld->sources[i], full) == 0) {
			free(full);
			return ld->sources[i];
		}
	}
	if (ld->nsources == MAX_SOURCES) {
		*cause = fmt("%s: more than %d included files", ld->path, MAX_SOURCES);
		free(full);
		return NULL;
	}
	ld->sources[ld->nsources++] = full;
	if (scan_integers(full, cause) == -1)
		return NULL;
	return full;
}

/* Reads ld->path into cfg: every group and key must be known and well typed. Returns 0, or -1 with *cause. */
static int
apply_file(struct kmipd_config *cfg, config_t *lc, struct load *ld, char **cause)
{
	config_setting_t *root, *g, *s;
	char name[128], *reason = NULL, *slash;
	const struct key *k;
	const char *f;
	int rc = -1;

	/* @include paths are relative to the including file's directory, not to the working directory */
	if ((slash = strrchr(ld->path, '/')) != NULL) {
		if ((ld->dir = fmt("%.*s", slash == ld->path ? 1 : (int)(slash - ld->path), ld->path)) == NULL) {
			*cause = NULL;
			return -1;
		}
		config_set_include_dir(lc, ld->dir);
	}
	if (!config_read_file(lc, ld->path)) {
		if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
			FILE *fp = fopen(ld->path, "r");

			/* libconfig does not say why; ask again */
			if (fp == NULL)
				*cause = fmt("%s: %s", ld->path, strerror(errno));
			else {
				fclose(fp);
				*cause = fmt("%s: cannot read", ld->path);
			}
		} else if ((f = config_error_file(lc)) != NULL && f[0] != '/' && strcmp(f, ld->path) != 0 &&
		    ld->dir != NULL) {
			*cause = fmt("%s/%s:%d: %s", ld->dir, f, config_error_line(lc), config_error_text(lc));
		} else {
			*cause = fmt("%s:%d: %s", f != NULL ? f : ld->path, config_error_line(lc),
			    config_error_text(lc));
		}
		goto out;
	}
	root = config_root_setting(lc);
	for (unsigned int i = 0; i < (unsigned int)config_setting_length(root); i++) {
		g = config_setting_get_elem(root, i);
		if ((f = source(ld, config_setting_source_file(g), cause)) == NULL)
			goto out;
		if (!known_group(config_setting_name(g), strlen(config_setting_name(g)))) {
			reason = unknown_group(config_setting_name(g));
			*cause = fmt("%s:%u: %s", f, config_setting_source_line(g), reason ? reason : "?");
			goto out;
		}
		if (!config_setting_is_group(g)) {
			*cause = fmt("%s:%u: %s must be a group: %s: { ... };", f, config_setting_source_line(g),
			    config_setting_name(g), config_setting_name(g));
			goto out;
		}
		for (unsigned int j = 0; j < (unsigned int)config_setting_length(g); j++) {
			s = config_setting_get_elem(g, j);
			if ((f = source(ld, config_setting_source_file(s), cause)) == NULL)
				goto out;
			snprintf(name, sizeof(name), "%s.%s", config_setting_name(g), config_setting_name(s));
			if ((k = find_key(name)) == NULL) {
				reason = unknown_key(name);
				*cause = fmt("%s:%u: %s", f, config_setting_source_line(s), reason ? reason : "?");
				goto out;
			}
			if (apply_setting(cfg, k, s, &reason) == -1) {
				*cause = fmt("%s:%u: %s: %s", f, config_setting_source_line(s), name,
				    reason ? reason : "out of memory");
				goto out;
			}
			ld->origin[k - keys] = (struct origin){ f, config_setting_source_line(s), NULL };
		}
	}
	rc = 0;
out:
	free(reason);
	return rc;
}

/*
 * Parses a libconfig value (a quoted string, a list) given on the command line into lc. Returns the
 * setting, or NULL with *reason.
 */
static config_setting_t *
parse_value(config_t *lc, const char *v, char **reason)
{
	char *text;
	int ok;

	if ((text = fmt("v = %s;", v)) == NULL) {
		*reason = NULL;
		return NULL;
	}
	ok = config_read_string(lc, text);
	free_wiped(text);
	if (!ok) {
		*reason = fmt("cannot parse %s: %s", v, config_error_text(lc));
		return NULL;
	}
	return config_lookup(lc, "v");
}

/* Splits "a, b,c" into items with optional quotes; quoted items are parsed by libconfig. */
static int
split_list(struct kmipd_config *cfg, const struct key *k, const char *v, char **reason)
{
	char *copy, *save = NULL, *tok, *e;
	const char **items = NULL;
	size_t n = 0, max = 1;
	int rc = -1;

	for (const char *p = v; *p; p++)
		max += *p == ',';
	if ((copy = strdup(v)) == NULL || (items = calloc(max, sizeof(*items))) == NULL) {
		*reason = NULL;
		goto out;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (e = tok + strlen(tok); e > tok && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (e - tok >= 2 && *tok == '"' && e[-1] == '"') {
			e[-1] = '\0';
			tok++;
		}
		if (strchr(tok, '"') != NULL || strchr(tok, '\\') != NULL) {
			*reason = fmt("write a list with quotes or backslashes as [ \"a\", \"b\" ]");
			goto out;
		}
		items[n++] = tok;
	}
	rc = set_list(cfg, k, items, n, reason);
out:
	free(items);
	free(copy);
	return rc;
}

/* Parses an unsigned decimal integer that must be all of s. */
static int
parse_uint(const char *s, long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -1;
	*out = errno == ERANGE || v > LLONG_MAX ? LLONG_MAX : (long long)v;
	return 0;
}

/* Applies one "group.key=value". Returns 0, or -1 with *reason (the caller adds the "-o ...: " part). */
static int
apply_override(struct kmipd_config *cfg, const char *ov, const struct key **kp, char **reason)
{
	config_setting_t *s;
	const struct key *k;
	const char *eq, *v;
	char name[128];
	long long n;
	uint64_t size;
	config_t lc;
	int rc = -1;

	if ((eq = strchr(ov, '=')) == NULL || eq == ov) {
		*reason = fmt("expected group.key=value");
		return -1;
	}
	if ((size_t)(eq - ov) >= sizeof(name)) {
		*reason = fmt("unknown key");
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - ov), ov);
	if ((k = find_key(name)) == NULL) {
		const char *dot = strchr(name, '.');

		if (dot == NULL)
			*reason = fmt("expected group.key=value");
		else if (!known_group(name, (size_t)(dot - name))) {
			name[dot - name] = '\0';
			*reason = unknown_group(name);
		} else
			*reason = unknown_key(name);
		return -1;
	}
	*kp = k;
	v = eq + 1;
	config_init(&lc);
	switch (k->type) {
	case T_STR:
	case T_ENUM:
	case T_SIZE:
		if (*v == '"') {
			if ((s = parse_value(&lc, v, reason)) == NULL)
				goto out;
			if (config_setting_type(s) != CONFIG_TYPE_STRING) {
				*reason = fmt("expected one quoted string");
				goto out;
			}
			v = config_setting_get_string(s);
		}
		if (k->type == T_STR)
			rc = set_str(cfg, k, v, reason);
		else if (k->type == T_ENUM)
			rc = set_enum(cfg, k, v, reason);
		else if (parse_size(v, &size, reason) == 0)
			rc = set_num(cfg, k, size > LLONG_MAX ? LLONG_MAX : (long long)size, reason);
		break;
	case T_UINT:
	case T_SECONDS:
		if (parse_uint(v, &n) == -1)
			*reason = fmt(k->type == T_UINT ? "expected an integer" :
			    "expected an integer number of seconds");
		else
			rc = set_num(cfg, k, n, reason);
		break;
	case T_BOOL:
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
			*(bool *)field(cfg, k) = strcasecmp(v, "true") == 0;
			rc = 0;
		} else
			*reason = fmt("expected true or false");
		break;
	case T_LIST:
		if (*v == '[' || *v == '(') {
			if ((s = parse_value(&lc, v, reason)) != NULL)
				rc = apply_setting(cfg, k, s, reason);
		} else
			rc = split_list(cfg, k, v, reason);
		break;
	}
out:
	config_destroy(&lc);
	return rc;
}

/* The prefix that says where key i got its value: "FILE:LINE: ", "-o ARG: ", "PATH: " or "". */
static char *
where(const struct load *ld, const struct key *k)
{
	const struct origin *o = &ld->origin[k - keys];

	if (o->override != NULL)
		return fmt("-o %s: ", o->override);
	if (o->file != NULL)
		return fmt("%s:%u: ", o->file, o->line);
	if (ld->path != NULL)
		return fmt("%s: ", ld->path);
	return strdup("");
}

/* Sets *cause to the origin of key name followed by the formatted reason. */
static void __attribute__((format(printf, 4, 5)))
invalid(const struct load *ld, const char *name,
    char **cause, const char *f, ...)
{
	char *pre = where(ld, find_key(name)), *msg = NULL;
	va_list ap;

	va_start(ap, f);
	if (vasprintf(&msg, f, ap) < 0)
		msg = NULL;
	va_end(ap);
	*cause = pre != NULL && msg != NULL ? fmt("%s%s", pre, msg) : NULL;
	free(pre);
	free(msg);
}

/* Checks that encryption has at most one master key source and a rotation at most one previous key. */
static int
check_master_key(const struct load *ld, const struct kmipd_config *cfg, char **cause)
{
	const struct config_store *st = &cfg->store;
	int sources = (st->master_key_file != NULL) + (st->master_key_credential != NULL) +
	    (st->pkcs11_module != NULL);
	int previous = (st->previous_master_key_file != NULL) + (st->previous_master_key_credential != NULL) +
	    (st->pkcs11_previous_key != NULL);

	/* No source at all is for the start to refuse (kmipd -t says so too): the defaults have none. */
	if (!st->encryption)
		return 0;
	if (sources > 1) {
		invalid(ld, st->master_key_file != NULL ? "store.master_key_file" : "store.master_key_credential",
		    cause, "more than one master key source is set: keep one of store.master_key_file, "
		    "store.master_key_credential and store.pkcs11_module");
		return -1;
	}
	if (previous > 1) {
		invalid(ld, "store.previous_master_key_file", cause, "more than one previous master key is set");
		return -1;
	}
	if (st->pkcs11_previous_key != NULL && st->pkcs11_module == NULL) {
		invalid(ld, "store.pkcs11_previous_key", cause, "store.pkcs11_previous_key is a key on the token "
		    "of store.pkcs11_module, which is not set");
		return -1;
	}
	if (st->pkcs11_module != NULL && (st->pkcs11_token == NULL || st->pkcs11_pin_file == NULL)) {
		invalid(ld, "store.pkcs11_module", cause, "a PKCS#11 master key needs store.pkcs11_token and "
		    "store.pkcs11_pin_file");
		return -1;
	}
	return 0;
}

/*
 * Checks the sizes that bound memory against each other. A Get answers with at most the object's material
 * plus a few hundred bytes of envelope (no key format kmipd writes is larger than what Register took: a
 * Transparent RSA key is the DER's integers with 8-byte headers, at most a few KB for the largest modulus),
 * so twice max_message_size lets any object a client could register be fetched in every format, with room
 * for the other items of its batch. max_buffered must hold one connection at its largest: a partial request,
 * the unsent output under write_high_water and one more response. Returns 0, or -1 with *cause.
 */
static int
check_buffers(const struct kmipd_config *cfg, const struct load *ld, char **cause)
{
	const struct config_server *sv = &cfg->server;
	uint64_t one = sv->max_message_size + sv->write_high_water + config_max_response_size(cfg);
	char a[32], b[32];

	if (sv->max_response_size != 0 && sv->max_response_size < 2 * sv->max_message_size) {
		fmt_size(a, sizeof(a), sv->max_response_size);
		fmt_size(b, sizeof(b), sv->max_message_size);
		invalid(ld, "server.max_response_size", cause, "server.max_response_size (%s) must be at least twice "
		    "server.max_message_size (%s), so that any object a client can register can be fetched", a, b);
		return -1;
	}
	if (sv->max_buffered != 0 && sv->max_buffered < one) {
		fmt_size(a, sizeof(a), sv->max_buffered);
		fmt_size(b, sizeof(b), one);
		invalid(ld, "server.max_buffered", cause, "server.max_buffered (%s) must hold at least one connection "
		    "at its largest: max_message_size + write_high_water + max_response_size (%s)", a, b);
		return -1;
	}
	return 0;
}

/* Returns the response cap in bytes: server.max_response_size, or 4 x max_message_size when it is 0. */
uint64_t
config_max_response_size(const struct kmipd_config *cfg)
{
	return cfg->server.max_response_size != 0 ? cfg->server.max_response_size : 4 * cfg->server.max_message_size;
}

/*
 * Returns the budget of unsent and unparsed bytes in bytes: server.max_buffered, or when it is 0, 256M or
 * four connections at their largest (a partial request, write_high_water and a response), whichever is more.
 */
uint64_t
config_max_buffered(const struct kmipd_config *cfg)
{
	uint64_t four = 4 * (cfg->server.max_message_size + cfg->server.write_high_water +
	    config_max_response_size(cfg));

	if (cfg->server.max_buffered != 0)
		return cfg->server.max_buffered;
	return four > 256 * MIB ? four : 256 * MIB;
}

/*
 * Returns one client identity's share of the buffered bytes: server.max_buffered_per_identity, or when it is 0,
 * a quarter of config_max_buffered(), so that one tenant cannot take more than that from the others.
 */
uint64_t
config_max_buffered_per_identity(const struct kmipd_config *cfg)
{
	if (cfg->server.max_buffered_per_identity != 0)
		return cfg->server.max_buffered_per_identity;
	return config_max_buffered(cfg) / 4;
}

/* Checks what single keys cannot: combinations. Returns 0, or -1 with *cause. */
static int
validate(const struct kmipd_config *cfg, const struct load *ld, char **cause)
{
	const struct config_tls *t = &cfg->tls;
	char a[32], b[32];

	if (cfg->audit.required && cfg->audit.file == NULL) {
		invalid(ld, "audit.required", cause, "audit.required needs audit.file: syslog cannot promise that "
		    "a line was kept");
		return -1;
	}
	if (t->p12_file != NULL && (t->cert_file != NULL || t->key_file != NULL)) {
		invalid(ld, "tls.p12_file", cause, "tls.p12_file and tls.%s are both set: give either a PEM "
		    "certificate and key or a PKCS#12 file", t->cert_file ? "cert_file" : "key_file");
		return -1;
	}
	if (t->p12_file == NULL && t->cert_file == NULL && t->key_file == NULL) {
		invalid(ld, "tls.cert_file", cause, "no server identity: set tls.cert_file and tls.key_file, "
		    "or tls.p12_file");
		return -1;
	}
	if ((t->cert_file == NULL) != (t->key_file == NULL)) {
		invalid(ld, t->cert_file ? "tls.cert_file" : "tls.key_file", cause, "tls.%s is set but tls.%s "
		    "is not", t->cert_file ? "cert_file" : "key_file", t->cert_file ? "key_file" : "cert_file");
		return -1;
	}
	if ((t->ecdsa_cert_file == NULL) != (t->ecdsa_key_file == NULL)) {
		invalid(ld, t->ecdsa_cert_file ? "tls.ecdsa_cert_file" : "tls.ecdsa_key_file", cause, "tls.%s is "
		    "set but tls.%s is not: give both or neither", t->ecdsa_cert_file ? "ecdsa_cert_file" :
		    "ecdsa_key_file", t->ecdsa_cert_file ? "ecdsa_key_file" : "ecdsa_cert_file");
		return -1;
	}
	if (t->p12_password != NULL && t->p12_file == NULL) {
		invalid(ld, "tls.p12_password", cause, "tls.p12_password is set but tls.p12_file is not");
		return -1;
	}
	if (t->clients_ca_cert_file == NULL) {
		invalid(ld, "tls.clients_ca_cert_file", cause, "tls.clients_ca_cert_file is not set: clients "
		    "must present a certificate from a CA named there");
		return -1;
	}
	if (check_master_key(ld, cfg, cause) != 0)
		return -1;
	if (check_buffers(cfg, ld, cause) != 0)
		return -1;
	if (cfg->store.map_size > cfg->store.max_map_size) {
		const struct origin *o = &ld->origin[find_key("store.map_size") - keys];

		fmt_size(a, sizeof(a), cfg->store.map_size);
		fmt_size(b, sizeof(b), cfg->store.max_map_size);
		invalid(ld, o->file || o->override ? "store.map_size" : "store.max_map_size", cause,
		    "store.map_size (%s) is larger than store.max_map_size (%s)", a, b);
		return -1;
	}
	return 0;
}

/* Gives key k its default value in cfg. Returns 0 or -1 when out of memory. */
static int
set_default(struct kmipd_config *cfg, const struct key *k)
{
	char *reason = NULL;

	switch (k->type) {
	case T_STR:
		if (k->defstr != NULL && (*(char **)field(cfg, k) = strdup(k->defstr)) == NULL)
			return -1;
		return 0;
	case T_LIST:
		if (k->defstr != NULL && set_list(cfg, k, &k->defstr, 1, &reason) == -1) {
			free(reason);
			return -1;
		}
		return 0;
	case T_UINT:
	case T_SECONDS:
		*(unsigned int *)field(cfg, k) = (unsigned int)k->def;
		return 0;
	case T_SIZE:
		*(uint64_t *)field(cfg, k) = k->def;
		return 0;
	case T_BOOL:
		*(bool *)field(cfg, k) = k->def != 0;
		return 0;
	case T_ENUM:
		*(int *)field(cfg, k) = (int)k->def;
		return 0;
	}
	return -1;
}

/* Frees what a load kept until its end. */
static void
load_free(struct load *ld, config_t *lc)
{
	config_destroy(lc);
	for (size_t i = 0; i < ld->nsources; i++)
		free(ld->sources[i]);
	free(ld->dir);
}

/*
 * Keeps in cfg where each key that was set got its value, for messages after the load (kmipd -t checks
 * files the keys name). Returns 0, or -1 when out of memory.
 */
static int
keep_origins(struct kmipd_config *cfg, const struct load *ld)
{
	if ((cfg->where = calloc(NKEYS, sizeof(*cfg->where))) == NULL)
		return -1;
	for (size_t i = 0; i < NKEYS; i++) {
		if (ld->origin[i].file == NULL && ld->origin[i].override == NULL)
			continue;
		if ((cfg->where[i] = where(ld, &keys[i])) == NULL)
			return -1;
	}
	return 0;
}

int
config_resolve_paths(struct kmipd_config *cfg, const char *base, char **cause)
{
	char **f, *abs;

	*cause = NULL;
	if (base == NULL)
		return 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (!(keys[i].flags & K_PATH))
			continue;
		f = field(cfg, &keys[i]);
		/* "credential:NAME" (store.pkcs11_pin_file) names a systemd credential, not a file. */
		if (*f == NULL || (*f)[0] == '\0' || (*f)[0] == '/' || strncmp(*f, "credential:", 11) == 0)
			continue;
		if ((abs = fmt("%s/%s", base, *f)) == NULL) {
			*cause = fmt("out of memory");
			return -1;
		}
		free(*f);
		*f = abs;
	}
	return 0;
}

const char *
config_where(const struct kmipd_config *cfg, const char *name)
{
	const struct key *k = find_key(name);

	if (k == NULL || cfg->where == NULL || cfg->where[k - keys] == NULL)
		return "";
	return cfg->where[k - keys];
}

struct kmipd_config *
config_defaults(void)
{
	struct kmipd_config *cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		if (set_default(cfg, &keys[i]) == -1) {
			config_free(cfg);
			return NULL;
		}
	}
	cfg->access.max_bytes_per_identity = cfg->store.max_map_size / 4;	/* see config_load */
	return cfg;
}

int
config_load(const char *path, char *const *overrides, size_t noverrides, struct kmipd_config **out,
    char **cause)
{
	struct kmipd_config *cfg = NULL;
	const struct key *k = NULL;
	char *reason = NULL;
	struct load ld;
	config_t lc;

	*out = NULL;
	*cause = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	/* kept until the end: the origins point at file names it owns */
	config_init(&lc);
	if ((cfg = config_defaults()) == NULL)
		goto nomem;
	if (path != NULL && apply_file(cfg, &lc, &ld, cause) == -1)
		goto fail;
	for (size_t i = 0; i < noverrides; i++) {
		k = NULL;
		if (apply_override(cfg, overrides[i], &k, &reason) == -1) {
			*cause = fmt("-o %s: %s", overrides[i], reason ? reason : "out of memory");
			goto fail;
		}
		ld.origin[k - keys] = (struct origin){ NULL, 0, overrides[i] };
	}
	/* Unset, an identity's bytes are a quarter of the store: no one tenant can fill it for the others. */
	if (ld.origin[find_key("access.max_bytes_per_identity") - keys].file == NULL &&
	    ld.origin[find_key("access.max_bytes_per_identity") - keys].override == NULL)
		cfg->access.max_bytes_per_identity = cfg->store.max_map_size / 4;
	if (validate(cfg, &ld, cause) == -1)
		goto fail;
	if (keep_origins(cfg, &ld) == -1)
		goto nomem;
	load_free(&ld, &lc);
	*out = cfg;
	return 0;
nomem:
	*cause = fmt("out of memory");
fail:
	free(reason);
	load_free(&ld, &lc);
	config_free(cfg);
	return -1;
}

void
config_free(struct kmipd_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->type == T_STR) {
			if (k->flags & K_SECRET)
				free_wiped(*(char **)field(cfg, k));
			else
				free(*(char **)field(cfg, k));
		} else if (k->type == T_LIST)
			list_free(field(cfg, k));
		if (cfg->where != NULL)
			free(cfg->where[i]);
	}
	free(cfg->where);
	free(cfg);
}

size_t
config_key_count(void)
{
	return NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

bool
config_key_reloadable(size_t i)
{
	return i < NKEYS && (keys[i].flags & K_RELOAD);
}

bool
config_key_equal(const struct kmipd_config *a, const struct kmipd_config *b, size_t i)
{
	const struct config_list *la, *lb;
	const char *sa, *sb;
	const struct key *k;

	if (i >= NKEYS)
		return false;
	k = &keys[i];
	switch (k->type) {
	case T_STR:
		sa = *(char *const *)cfield(a, k);
		sb = *(char *const *)cfield(b, k);
		return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
	case T_LIST:
		la = cfield(a, k);
		lb = cfield(b, k);
		if (la->count != lb->count)
			return false;
		for (size_t j = 0; j < la->count; j++)
			if (strcmp(la->items[j], lb->items[j]) != 0)
				return false;
		return true;
	case T_UINT:
	case T_SECONDS:
		return *(const unsigned int *)cfield(a, k) == *(const unsigned int *)cfield(b, k);
	case T_SIZE:
		return *(const uint64_t *)cfield(a, k) == *(const uint64_t *)cfield(b, k);
	case T_BOOL:
		return *(const bool *)cfield(a, k) == *(const bool *)cfield(b, k);
	case T_ENUM:
		return *(const int *)cfield(a, k) == *(const int *)cfield(b, k);
	}
	return false;
}

int
config_reload_check(const struct kmipd_config *cur, const struct kmipd_config *next, char **cause)
{
	char list[1024] = "";
	size_t len = 0;

	*cause = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		if ((keys[i].flags & K_RELOAD) || config_key_equal(cur, next, i))
			continue;
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
			    keys[i].name);
	}
	if (len == 0)
		return 0;
	*cause = fmt("changed but take effect only after a restart: %s", list);
	return -1;
}

int
config_keep_restart_keys(struct kmipd_config *next, const struct kmipd_config *cur, char **cause)
{
	char *reason = NULL;

	*cause = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const struct config_list *l;
		int rc = 0;

		if ((k->flags & K_RELOAD) || config_key_equal(cur, next, i))
			continue;
		switch (k->type) {
		case T_STR:
			rc = set_str(next, k, *(char *const *)cfield(cur, k), &reason);
			break;
		case T_LIST:
			l = cfield(cur, k);
			rc = set_list(next, k, (const char *const *)l->items, l->count, &reason);
			break;
		case T_UINT:
		case T_SECONDS:
			*(unsigned int *)field(next, k) = *(const unsigned int *)cfield(cur, k);
			break;
		case T_SIZE:
			*(uint64_t *)field(next, k) = *(const uint64_t *)cfield(cur, k);
			break;
		case T_BOOL:
			*(bool *)field(next, k) = *(const bool *)cfield(cur, k);
			break;
		case T_ENUM:
			*(int *)field(next, k) = *(const int *)cfield(cur, k);
			break;
		}
		if (rc == -1) {
			*cause = fmt("%s: %s", k->name, reason ? reason : "out of memory");
			free(reason);
			return -1;
		}
	}
	return 0;
}

/* Writes s as a libconfig string literal. */
static void
dump_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

void
config_dump(FILE *fp, const struct kmipd_config *cfg)
{
	const char *group = NULL, *dot, *key;
	size_t glen = 0;
	char buf[32];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		dot = strchr(k->name, '.');
		key = dot + 1;
		if (group == NULL || (size_t)(dot - k->name) != glen || strncmp(group, k->name, glen) != 0) {
			if (group != NULL)
				fputs("};\n\n", fp);
			group = k->name;
			glen = (size_t)(dot - k->name);
			fprintf(fp, "%.*s: {\n", (int)glen, group);
		}
		switch (k->type) {
		case T_STR: {
			const char *s = *(char *const *)cfield(cfg, k);

			if (s == NULL)
				fprintf(fp, "\t# %s = (unset)\n", key);
			else if (k->flags & K_SECRET)
				fprintf(fp, "\t# %s = (set)\n", key);
			else {
				fprintf(fp, "\t%s = ", key);
				dump_string(fp, s);
				fputs(";\n", fp);
			}
			break;
		}
		case T_LIST: {
			const struct config_list *l = cfield(cfg, k);

			fprintf(fp, "\t%s = [", key);
			for (size_t j = 0; j < l->count; j++) {
				fputs(j ? ", " : " ", fp);
				dump_string(fp, l->items[j]);
			}
			fputs(" ];\n", fp);
			break;
		}
		case T_UINT:
		case T_SECONDS:
			fprintf(fp, "\t%s = %u;\n", key, *(const unsigned int *)cfield(cfg, k));
			break;
		case T_SIZE:
			fmt_size(buf, sizeof(buf), *(const uint64_t *)cfield(cfg, k));
			fprintf(fp, "\t%s = \"%s\";\n", key, buf);
			break;
		case T_BOOL:
			fprintf(fp, "\t%s = %s;\n", key, *(const bool *)cfield(cfg, k) ? "true" : "false");
			break;
		case T_ENUM:
			fprintf(fp, "\t%s = \"%s\";\n", key, enum_name(k, *(const int *)cfield(cfg, k)));
			break;
		}
	}
	if (group != NULL)
		fputs("};\n", fp);
}

/* The settings store.backend = etcd needs; see config.h. */
int
config_check_cluster(const struct kmipd_config *cfg, char **cause)
{
	const struct config_store *st = &cfg->store;
	const char *why = NULL;

	*cause = NULL;
	if (st->backend != CONFIG_BACKEND_ETCD)
		return 0;
	if (st->etcd_endpoints == NULL)
		why = "store.backend = etcd needs store.etcd_endpoints";
	else if (!st->encryption)
		why = "store.backend = etcd needs store.encryption = true: etcd must never hold clear key material";
	else if (!st->group_commit)
		why = "store.backend = etcd needs store.group_commit = true";
	else if (strstr(st->etcd_endpoints, "https://") != NULL && st->etcd_ca_file == NULL)
		why = "https etcd endpoints need store.etcd_ca_file";
	else if ((st->etcd_cert_file == NULL) != (st->etcd_key_file == NULL))
		why = "store.etcd_cert_file and store.etcd_key_file go together";
	else if ((st->etcd_user == NULL) != (st->etcd_password_file == NULL))
		why = "store.etcd_user and store.etcd_password_file go together";
	if (why == NULL)
		return 0;
	*cause = strdup(why);
	return -1;
}
