/*
 * tls: OpenSSL 3 contexts for kmipd.
 *
 * Builds the server SSL_CTX from configuration (PEM or PKCS#12 identity, the CA bundle that signs client
 * certificates, protocol versions, cipher lists, session cache and tickets), holds the current one so a
 * reload can swap it atomically, reads a client's identity from its verified certificate, and builds the
 * client-side SSL_CTX used by kmipctl, the tests and the load generator.
 *
 * No libevent and no logging here: core wires bufferevent_openssl itself, and every failure comes back
 * as -1 with a malloc'd *cause (which the caller frees; it may be NULL if even that allocation failed).
 * Symbol prefix: tls_.
 */
#ifndef KMIPD_TLS_H
#define KMIPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#define TLS_WUR __attribute__((warn_unused_result))

/*
 * TLS 1.2 cipher list used when tls_config.ciphers is NULL: ECDHE (and, last, finite-field DHE) key
 * exchange with AEAD ciphers only. No static-RSA key exchange (no forward secrecy) and no CBC suites.
 * ECDHE-RSA-AES-GCM is what Windows SChannel (Veeam) negotiates from Windows 10 / Server 2016 on;
 * DHE-RSA-AES-GCM is the strongest suite Windows Server 2012 R2 offers with an RSA certificate.
 */
#define TLS_DEFAULT_CIPHERS \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256"

#define TLS_DEFAULT_SESSION_CACHE_SIZE	20480
#define TLS_DEFAULT_SESSION_TIMEOUT	7200	/* seconds, as core/config.c: backup servers reconnect for hours */
#define TLS_DEFAULT_VERIFY_DEPTH	4

/* Limits checked before anything is allocated. */
#define TLS_MAX_FILE_SIZE		(1024 * 1024)	/* any certificate, key or PKCS#12 file */
#define TLS_MAX_CA_CERTS		1000		/* certificates in clients_ca_cert_file */
#define TLS_MAX_CHAIN_CERTS		16		/* certificates in cert_file or a PKCS#12 bundle */
#define TLS_MAX_CRLS			1000		/* CRLs in crl_file */
/* The next three match the ranges core/config.c accepts. */
#define TLS_MAX_SESSION_CACHE_SIZE	10000000
#define TLS_MAX_SESSION_TIMEOUT		604800		/* 7 days, the TLS 1.3 ticket lifetime limit */
#define TLS_MAX_VERIFY_DEPTH		64
/* The shared session cache and ticket keys (tls/shcache.c); the ranges match core/config.c's. */
#define TLS_DEFAULT_SESSION_MAX_SIZE	4096		/* DER bytes of one cached session */
#define TLS_MIN_SESSION_MAX_SIZE	512
#define TLS_MAX_SESSION_MAX_SIZE	65536
#define TLS_DEFAULT_TICKET_KEY_ROTATION	3600		/* seconds a random ticket key encrypts */
#define TLS_MIN_TICKET_KEY_ROTATION	60
#define TLS_TICKET_KEYS_MAX		64		/* keys held: in tls.ticket_key_file, or current + kept */
#define TLS_TICKET_KEY_BYTES		80		/* 16 name + 32 HMAC-SHA256 key + 32 AES-256 key */

/*
 * Server configuration, filled by the config loader. Strings are malloc'd and owned by the struct
 * (tls_config_clear frees them); the tls functions only read them. NULL means "not given".
 */
struct tls_config {
	char	*cert_file;		/* PEM server certificate, then optional intermediates */
	char	*key_file;		/* PEM private key of cert_file (unencrypted) */
	char	*p12_file;		/* PKCS#12 identity, instead of cert_file + key_file */
	char	*p12_password;		/* wiped by tls_config_clear */
	char	*ecdsa_cert_file;	/* PEM ECDSA (P-256 or P-384) certificate beside the identity above, then
					 * optional intermediates; OpenSSL serves whichever the client supports */
	char	*ecdsa_key_file;	/* its PEM private key (unencrypted); both or neither */
	char	*clients_ca_cert_file;	/* PEM bundle of the CAs that sign client certificates; required */
	char	*min_version;		/* "1.2" or "1.3"; NULL is "1.2" */
	char	*ciphers;		/* TLS 1.2 cipher list; NULL is TLS_DEFAULT_CIPHERS */
	char	*ciphersuites;		/* TLS 1.3 suites; NULL is OpenSSL's default */
	long	 session_cache_size;	/* server session cache entries; 0 turns the cache off */
	long	 session_timeout;	/* seconds a session (or ticket) stays resumable */
	bool	 session_tickets;	/* stateless tickets; off means sessions live only in the cache */
	int	 verify_depth;		/* longest client chain accepted */
	char	*crl_file;		/* PEM CRLs, one per CA of the chain; NULL: no revocation check */
	bool	 crl_refuse_expired;	/* a CRL past its next update refuses; else it is accepted */
	long	 session_max_size;	/* largest session DER the shared cache keeps (tls_shared_new) */
	char	*ticket_key_file;	/* ticket keys, one base64 line each; NULL: random keys, rotated */
	long	 ticket_key_rotation;	/* seconds a random ticket key encrypts before the next one */
};

/* Sets every field to its default (strings NULL, numbers as above, tickets on). */
void tls_config_init(struct tls_config *cfg);
/* Frees the strings (wiping the password first) and leaves the struct as tls_config_init does. */
void tls_config_clear(struct tls_config *cfg);

/*
 * Builds a complete server SSL_CTX from cfg: TLS 1.2 (or 1.3) to 1.3, cipher lists, server identity
 * (and the ECDSA one beside it: the handshake picks the certificate the client's signature algorithms and,
 * in TLS 1.2, the negotiated suite allow, the ECDSA one when both fit since it is the cheaper), mandatory client certificates verified against clients_ca_cert_file (whose subjects are also sent as
 * acceptable CA names), server-side session cache with a fixed session id context, tickets on or off,
 * no renegotiation, no compression, server cipher preference. Returns 0 and *out (one reference), or -1
 * and a cause naming the option, the file and OpenSSL's reason. Key material read from files is wiped.
 */
int tls_server_ctx_new(const struct tls_config *cfg, SSL_CTX **out, char **cause) TLS_WUR;
/* Builds a server context and frees it (for `kmipd -t`). Returns 0, or -1 and a cause. */
int tls_config_check(const struct tls_config *cfg, char **cause) TLS_WUR;

/*
 * Holder of the current server context. SSL objects take their own reference on the context they are
 * made from, so a reload never disturbs open connections; they keep the old context (and its session
 * cache) alive until they are freed. Without shared state (tls_server_new's sh NULL) a reload starts an
 * empty session cache and new ticket keys. With it, sessions and ticket keys outlive a reload (a reload
 * only re-reads ticket_key_file), but a session resumes only in a context that trusts the same client CA
 * certificates with the same verify_depth (its session id context is a digest of them): a changed client
 * CA bundle still makes every client do one full handshake, which is what applies it to them.
 */
struct tls_server;

struct tls_shared;

/*
 * Builds the first context. With sh (tls_shared_new), every context the holder builds (this one and each
 * reload's) keeps its sessions in sh's shared cache and takes its ticket keys from sh; tls.ticket_key_file,
 * if set, is read into sh when the context is installed. With sh NULL each context has OpenSSL's own
 * cache and ticket keys (kmipd -t, tests); a ticket_key_file is still read and checked. sh must outlive
 * the holder. Returns 0 and *out, or -1 and a cause.
 */
int tls_server_new(const struct tls_config *cfg, struct tls_shared *sh, struct tls_server **out,
    char **cause) TLS_WUR;
/* The current context, borrowed: pass it to SSL_new, which takes its own reference. */
SSL_CTX *tls_server_ctx(const struct tls_server *ts);
/* How many contexts have been installed (1 after tls_server_new, +1 per successful reload). */
unsigned long tls_server_generation(const struct tls_server *ts);
/* Builds a context from cfg (and reads its ticket_key_file) and installs both only if all of it succeeded;
 * otherwise keeps the current ones and returns -1 and a cause. tls_server_prepare + tls_server_commit. */
int tls_server_reload(struct tls_server *ts, const struct tls_config *cfg, char **cause) TLS_WUR;
/*
 * The two halves of tls_server_reload, for a reload that must be all or none across processes: prepare
 * builds the context and reads the ticket key file, changing nothing (0 and *out, or -1 and a cause);
 * commit installs them (the ticket keys into the shared state: every process commits the same ones) and
 * frees *out; abort frees it unused (NULL is accepted).
 */
struct tls_server_pending;
int tls_server_prepare(struct tls_server *ts, const struct tls_config *cfg, struct tls_server_pending **out,
    char **cause) TLS_WUR;
void tls_server_commit(struct tls_server *ts, struct tls_server_pending *p);
void tls_server_abort(struct tls_server_pending *p);
/*
 * The CRLs of the current context: how many, and how many are past their next update now (0 and 0 when
 * no crl_file is set).
 */
void tls_server_crl_info(const struct tls_server *ts, int *count, int *expired);
/* At most this many client CA certificates and CRLs are named in a description; then "+N more". */
#define TLS_DESCRIBE_MAX	16

/* What the current context holds, as short texts for the audit trail (no OpenSSL types cross modules). */
struct tls_server_desc {
	char server_serial[80];		/* the server certificate's serial, hex, or "none" */
	char server_subject[256];	/* its subject, one line, or "none" */
	char server_not_after[64];	/* its expiry, or "none" */
	long server_days;		/* whole days until it expires (negative once expired), LONG_MAX if none */
	/* The same for the ECDSA certificate of ecdsa_cert_file ("none" and LONG_MAX when not set). */
	char ecdsa_serial[80];
	char ecdsa_subject[256];
	char ecdsa_not_after[64];
	long ecdsa_days;
	long ca_days;			/* the same for the client CA certificate that expires first */
	char ca_serials[1024];		/* the client CA certificates' serials, hex, ", "-separated */
	char crls[1024];		/* "N: issuer number=X next_update=T; ..." or "none" */
};

/*
 * Describes the current context in *d: the server certificate's serial, subject and expiry (and those of
 * the ECDSA certificate when ecdsa_cert_file is set), the days
 * until it and the first client CA certificate expire, the client CA certificates' serials and, for each loaded CRL, its issuer, CRL Number ("none" when absent) and Next Update. At most
 * TLS_DESCRIBE_MAX of each are listed, then "+N more"; a text that does not fit its buffer is cut.
 */
void tls_server_describe(const struct tls_server *ts, struct tls_server_desc *d);
/*
 * Checks the peer certificate of a completed handshake (full or resumed, whatever context it was made
 * from) against the CRLs of the current context: its issuer's CRL must be there, must not list its
 * serial, and (crl_refuse_expired) must not be past its next update. A resumed session skips chain
 * verification, and a connection made before a reload was verified against the old CRLs: this closes both
 * gaps. Returns 0 (also when no crl_file is set), or -1 and a cause.
 */
int tls_server_peer_check(const struct tls_server *ts, SSL *ssl, char **cause) TLS_WUR;
/* Drops the holder's reference on the current context. NULL is accepted. */
void tls_server_free(struct tls_server *ts);

/*
 * Sends close_notify once without waiting for the peer's. Call it before freeing the SSL of a connection
 * that ended cleanly (peer EOF after a complete response, idle timeout, server shutdown): OpenSSL removes
 * from the session cache the session of any SSL freed without a shutdown sent, and a client resuming by
 * session id (TLS 1.2 without tickets, or TLS 1.3 stateful tickets) would then need a full handshake.
 * bufferevent_openssl frees its SSL without a shutdown. Do not call it for connections that failed.
 */
void tls_shutdown(SSL *ssl);

/* Session cache counters of one context (see SSL_CTX_sess_number(3)). */
struct tls_stats {
	long	 accept;	/* handshakes started */
	long	 accept_good;	/* handshakes completed */
	long	 hits;		/* resumed from the cache or a ticket */
	long	 misses;	/* offered a session the server did not have */
	long	 timeouts;	/* offered a session that had expired */
	long	 cache_full;	/* sessions dropped because the cache was full */
	long	 cached;	/* sessions in the cache now */
};

void tls_ctx_stats(SSL_CTX *ctx, struct tls_stats *st);

/*
 * Shared TLS state (tls/shcache.c): one anonymous MAP_SHARED mapping, made by the process that forks before
 * it forks, so every process serving the same listeners resumes every other's sessions. It holds
 *  - the session-id cache (TLS 1.2 session ids, TLS 1.3 stateful tickets): session_cache_size slots in sets
 *    of TLS_SHCACHE_WAYS chosen by a keyed hash of the id, each slot the DER of one session of at most
 *    session_max_size bytes (larger sessions are not cached, and counted); a full set replaces its entry
 *    that expires first (counted). A slot costs session_max_size + TLS_SHCACHE_SLOT_OVERHEAD bytes, touched
 *    only once used. Each process also keeps the sessions it stored or decoded (about 5.6 KiB each with a
 *    2048-bit client certificate), one per slot at most, reused while the slot holds the same session:
 *    decoding the client certificate again would double the CPU of a resumed handshake;
 *  - the ticket keys: random ones, a new one every ticket_key_rotation seconds (made by whichever process
 *    issues the first ticket past that time) with each older key kept for decryption while a ticket it
 *    encrypted may still be valid, i.e. until session_timeout after it stopped encrypting; so at most
 *    1 + ceil(session_timeout / ticket_key_rotation) keys are held (3 with the defaults 7200 / 3600). Or the
 *    keys of ticket_key_file, installed by tls_server_new and each tls_server_reload: the first encrypts,
 *    all decrypt, and they never rotate by themselves.
 * One process-shared robust mutex guards it all; a process that dies holding it costs the set of slots (or
 * the random ticket keys) it was changing, wiped by the next process to lock; one stopped while holding it
 * (SIGSTOP, a debugger) stalls the others at their next handshake. The lock is held for a copy of at most
 * session_max_size bytes, never for a decode or a system call. The mapping is excluded
 * from core dumps and wiped when its creator frees it; session DER is wiped when replaced or removed. It
 * is not locked in memory (RLIMIT_MEMLOCK is far below its size): swap must be encrypted or off.
 */
#define TLS_SHCACHE_WAYS		8	/* slots per set */
#define TLS_SHCACHE_SLOT_OVERHEAD	64	/* index bytes per slot besides the DER */
#define TLS_SHCACHE_MAX_MAPPED		(64ULL << 30)	/* session_cache_size x slot bytes above it: refused */

/* Makes the mapping for cfg's session_cache_size, session_max_size, session_timeout and
 * ticket_key_rotation (those are fixed for its lifetime, except the last two: tls_server_reload updates
 * them), with a first random ticket key. Returns 0 and *out, or -1 and a cause. */
int tls_shared_new(const struct tls_config *cfg, struct tls_shared **out, char **cause) TLS_WUR;
/* Unmaps it; the process that made it wipes it first (others only unmap: it is still in use). NULL ok. */
void tls_shared_free(struct tls_shared *sh);

/* Figures of the shared cache, for all processes together. */
struct tls_shared_stats {
	unsigned long long stored;	/* sessions written */
	unsigned long long hits;	/* looked up and found */
	unsigned long long misses;	/* looked up, not there (or expired) */
	unsigned long long expired;	/* of the misses: found but past its timeout */
	unsigned long long evictions;	/* replaced before they expired because their set was full */
	unsigned long long too_large;	/* not cached: DER longer than session_max_size */
	unsigned long long removed;	/* dropped by OpenSSL (a failed connection, a refused client) */
	unsigned long long recovered;	/* locks taken over from a process that died holding them */
	unsigned long long rotations;	/* random ticket keys made after the first */
	unsigned long	   cached;	/* slots in use now (some may have expired) */
	unsigned long	   slots;
	unsigned long	   ticket_keys;	/* ticket keys held now */
	bool		   ticket_file;	/* they come from ticket_key_file */
	size_t		   mapped;	/* bytes of the mapping */
};
void tls_shared_stats(struct tls_shared *sh, struct tls_shared_stats *st);

/*
 * What the SSL_CTX callbacks do, callable for tests: stores a session under its id (0; -1 when it is too
 * large, already expired, has no id, or the cache is off) and looks one up (a reference the caller frees,
 * or NULL). The new-session callback stores no stateless TLS 1.3 ticket: nothing looks those up by id.
 */
int tls_shared_put(struct tls_shared *sh, SSL_SESSION *sess) TLS_WUR;
SSL_SESSION *tls_shared_get(struct tls_shared *sh, const unsigned char *id, size_t idlen);
/* Takes and releases the lock (tests: a process that dies holding it). tls_shared_lock returns 0 or -1. */
int tls_shared_lock(struct tls_shared *sh) TLS_WUR;
void tls_shared_unlock(struct tls_shared *sh);

/* Limits on what a client certificate may hold before tls_identity_get refuses it. */
#define TLS_IDENTITY_MAX_DN	4096	/* bytes of a subject or issuer DN in RFC 2253 form */
#define TLS_IDENTITY_MAX_SANS	64	/* entries in subjectAltName, of any type */
#define TLS_IDENTITY_MAX_SAN	1024	/* bytes of one subjectAltName value */
#define TLS_IDENTITY_MAX_CN	1024	/* bytes of the common name in UTF-8 */
#define TLS_IDENTITY_MAX_OUS	16	/* organizationalUnitNames of the subject kept (the first ones) */
#define TLS_FINGERPRINT_HEX	64	/* SHA-256 as lowercase hex */

enum tls_san_type {
	TLS_SAN_DNS,
	TLS_SAN_EMAIL,
	TLS_SAN_URI,
	TLS_SAN_IP,
};

struct tls_san {
	enum tls_san_type type;
	char	*value;		/* NUL-terminated; an IP address in inet_ntop form */
};

/* What kmipd knows of a client, read once per connection from its verified certificate. */
struct tls_identity {
	char	*subject;	/* RFC 2253, non-ASCII and control bytes escaped */
	char	*issuer;	/* RFC 2253 */
	char	*cn;		/* the subject's only commonName in UTF-8, or NULL if it has none */
	char	*serial;	/* lowercase hex, no leading zeros ("0" for zero) */
	char	 fingerprint[TLS_FINGERPRINT_HEX + 1];	/* SHA-256 of the DER certificate, lowercase hex */
	time_t	 not_before;
	time_t	 not_after;
	size_t	 nsans;		/* DNS, email, URI and IP entries only; other types are skipped */
	struct tls_san *sans;
	char	**tagged;	/* nsans entries: sans[i] as "DNS:", "email:", "URI:" or "IP:" + value */
	size_t	 nous;		/* the subject's first organizationalUnitNames (at most TLS_IDENTITY_MAX_OUS) */
	char	**ous;		/* in UTF-8 */
};

/* The first subjectAltName of type t, or NULL when the certificate has none of that type. */
const char *tls_identity_first_san(const struct tls_identity *id, enum tls_san_type t);

/*
 * Reads the identity of the peer of a server-side SSL whose handshake (full or resumed) has completed.
 * Refuses (-1 and a cause) when there is no peer certificate or it did not verify, when a DN is longer
 * than TLS_IDENTITY_MAX_DN, when there are more than TLS_IDENTITY_MAX_SANS alternative names, when the
 * subject has more than one commonName, or when a name holds a NUL or control character.
 */
int tls_identity_get(SSL *ssl, struct tls_identity **out, char **cause) TLS_WUR;
/* NULL is accepted. */
void tls_identity_free(struct tls_identity *id);

/*
 * Client side. Builds a client SSL_CTX that verifies the server against ca_file (required), presents
 * cert_file/key_file if cert_file is not NULL, speaks TLS 1.2 and 1.3 and keeps client-side sessions so
 * a caller can save one (SSL_get1_session) and offer it again (SSL_set_session). Returns 0 and *out, or
 * -1 and a cause.
 */
int tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
    char **cause) TLS_WUR;
/* Restricts a context to versions min..max (TLS1_2_VERSION, TLS1_3_VERSION). Returns 0, or -1 and a cause. */
int tls_client_ctx_set_versions(SSL_CTX *ctx, int min, int max, char **cause) TLS_WUR;
/* Sets SNI and the name (or IP address) the server certificate must match. Returns 0, or -1 and a cause. */
int tls_client_set_host(SSL *ssl, const char *host, char **cause) TLS_WUR;

/* "TLSv1.2", "TLSv1.3", ... of a connection (static string). */
const char *tls_version_str(const SSL *ssl);
/*
 * Drains this thread's OpenSSL error queue into one malloc'd string "prefix: reason; reason ..." (bounded
 * in length); "prefix: unknown error" if the queue was empty. NULL only when out of memory.
 */
char *tls_errors(const char *prefix);

#endif
