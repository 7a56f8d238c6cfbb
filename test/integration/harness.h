/*
 * Integration test harness: runs the real kmipd binary on loopback with certificates made by
 * etc/mkcerts.sh, and talks to it over real mutual TLS with the proto client.
 *
 * Environment: KMIPD_BIN (default build/kmipd), KMIPD_SRCDIR (default "."), for the certificate script.
 */
#ifndef KMIPD_HARNESS_H
#define KMIPD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/ttlv.h"

/* Certificates made once per test binary (see etc/mkcerts.sh for the names in it). */
const char *h_certs(void);
/* A path in the certificate folder: h_cert("client.crt"). Static buffer rotated over 8 calls. */
const char *h_cert(const char *name);

struct h_server {
	pid_t pid;
	unsigned port;
	char dir[256];		/* private temporary folder: log, store, config */
	char log[300];
	char audit[400];	/* audit.file the overrides set, checked by h_stop: every line valid JSON */
};

/*
 * Starts kmipd -f on 127.0.0.1 with the test certificates and the given extra -o overrides (NULL-
 * terminated, may be NULL), and waits until it accepts connections. Fails the test if it does not start.
 */
void h_start(struct h_server *s, const char *const *overrides);
/*
 * The server's master key file in s->dir, made (32 random bytes, mode 0600) on first use; h_start passes it
 * as store.master_key_file unless the overrides set store.master_key_*, store.pkcs11_module or
 * store.encryption themselves.
 */
const char *h_master_key(struct h_server *s);
/* Like h_start, with a config file written into the server's folder (text, libconfig syntax). */
void h_start_config(struct h_server *s, const char *config_text, const char *const *overrides);
/* Makes the server's private folder (s->dir) before starting, so a test can put files in it first. */
void h_make_dir(struct h_server *s);
/*
 * Like h_start_config, but passes no tls.* overrides: the config text names the TLS files, so a SIGHUP
 * reload reads them again (-o overrides are re-applied on reload). The listen address, port, store path and
 * log level are still set with -o. Uses s->dir if h_make_dir made it, else makes it.
 */
void h_start_config_raw(struct h_server *s, const char *config_text, const char *const *overrides);
/*
 * Starts kmipd as a daemon (no -f) with a pid file in its folder, the test certificates and the
 * overrides, and returns once the command has exited 0, which kmipd does when the daemon serves. The test
 * becomes a subreaper, so the daemon is its child again and h_stop works as for the others. Its log goes
 * to syslog: s->log stays empty.
 */
void h_start_daemon(struct h_server *s, const char *const *overrides);
/* Waits up to timeout_ms for the server to exit by itself; returns its exit status, or -1 if still running. */
int h_wait_exit(struct h_server *s, int timeout_ms);
/* Resident memory of the server process in KiB (VmRSS), or -1. */
long h_rss_kb(struct h_server *s);
/*
 * Runs KMIPD_BIN with args (NULL-terminated) and waits; its stdout and stderr go to out (NUL-terminated,
 * truncated to outsize). Returns the exit status, or -1 if it did not exit normally.
 */
int h_run_kmipd(const char *const *args, char *out, size_t outsize);
/* The same with KMIPCTL_BIN (default build/kmipctl). */
int h_run_kmipctl(const char *const *args, char *out, size_t outsize);
/*
 * Starts kmipctl with args (NULL-terminated) without waiting and returns its pid: stdout goes to out_fd
 * when it is not -1, else with stderr to the file log (NULL: /dev/null).
 */
pid_t h_start_kmipctl(const char *log, int out_fd, const char *const *args);
/*
 * Writes s->dir/kmipd.conf, a config that kmipd and kmipctl both read: the test certificates, the store
 * s->dir/store, and extra inside the store group ("master_key_file = ...;"). Returns its path (static).
 */
const char *h_write_config(struct h_server *s, const char *extra);
/* Makes a certificate set with etc/mkcerts.sh in dir; key_type "rsa" or "ec" (faster), NULL for the default. */
void h_mkcerts(const char *dir, const char *key_type);
/* Writes text to path (replacing it), or copies the file from to to; fail the test on error. */
void h_write_file(const char *path, const char *text);
void h_copy_file(const char *from, const char *to);
/* Starts kmipd again on the same folder (and store) after it stopped or was killed; the port may change. */
void h_restart(struct h_server *s, const char *const *overrides);
/* Sends SIGTERM and returns the exit status (-1 if it had to be killed after timeout_ms). */
int h_stop(struct h_server *s, int timeout_ms);
/* 0 when every line of the audit file at path parses as JSON (python3's json module), else -1 (printed). */
int h_audit_valid(const char *path);
/* Sends a signal. */
void h_signal(struct h_server *s, int sig);
/* Waits up to timeout_ms for the server log to contain needle; returns true if it does. */
bool h_log_wait(struct h_server *s, const char *needle, int timeout_ms);
/* Counts occurrences of needle in the log. */
int h_log_count(struct h_server *s, const char *needle);
/*
 * Removes the server's folder; call after h_stop. A server still running is stopped first, and a non-zero
 * exit status then fails the test (after printing the end of the log): a crash, a sanitizer report or
 * valgrind's errors.
 */
void h_cleanup(struct h_server *s);

/* A client context with the named client certificate (NULL: none), trusting ca (NULL: ca.crt). */
SSL_CTX *h_client_ctx(const char *cert, const char *key, const char *ca, int min_version, int max_version);
/* The sync shim built beside KMIPD_BIN (build/kmipd: build/test/shim_sync.so), as an absolute path in buf. */
const char *h_shim_path(char *buf, size_t size);
/* Connects with ctx; fails the test on error. */
struct kmip_client *h_connect(struct h_server *s, SSL_CTX *ctx);
/*
 * True when the server refuses ctx (offering session when not NULL): the handshake fails or, in TLS 1.3,
 * where the client finishes before the server has checked its certificate, the first request gets no
 * response.
 */
bool h_refused(struct h_server *s, SSL_CTX *ctx, SSL_SESSION *session);
/* Connects with ctx; returns NULL (and the reason in why, if not NULL) when refused. */
struct kmip_client *h_try_connect(struct h_server *s, SSL_CTX *ctx, SSL_SESSION *session, char *why,
    size_t whysize);
/* A plain TCP connection to the server (no TLS), or -1. */
int h_tcp_connect(struct h_server *s);

/*
 * Builds a request in version major.minor of one Query batch item asking query_function, carrying a
 * username/password Credential when user is not NULL.
 */
void h_credential_query(struct ttlv_enc *e, int major, int minor, const char *user, const char *password,
    uint32_t query_function);
/* Builds a request of one Discover Versions batch item in version major.minor, batch item id id. */
void h_discover_request(struct ttlv_enc *e, int major, int minor, const char *id);
/* Sends Discover Versions 1.4 on cl and checks that it is answered with Success, at 1.4. */
void h_discover_ok(struct kmip_client *cl);
/*
 * Reads on cl until the server's close shows (close_notify or EOF, or a reset when reset_ok), failing the
 * test when a message arrives instead or nothing happens within the socket's receive timeout.
 */
void h_expect_close(struct kmip_client *cl, bool reset_ok);
/* Sends a request and reads the response, failing the test on transport errors. */
struct ttlv *h_call(struct kmip_client *cl, const struct ttlv_enc *req, struct ttlv_arena **arena);
/* Helpers to read a response: first batch item's Result Status / Reason (-1 when absent). */
int h_result_status(const struct ttlv *resp);
int h_result_reason(const struct ttlv *resp);
/* Protocol version of a response header as KMIP_VERSION(major, minor). */
unsigned h_response_version(const struct ttlv *resp);

/* Request building: a Request Message with nitems batch items in version major.minor. */
void h_request_begin(struct ttlv_enc *e, int major, int minor, int nitems);
/* Opens a Batch Item for operation and its Request Payload. */
void h_item_begin(struct ttlv_enc *e, uint32_t operation);
/* The same with a Unique Batch Item ID (none when id is NULL). */
void h_item_begin_id(struct ttlv_enc *e, uint32_t operation, const char *id);
/* Closes the Request Payload and the Batch Item. */
void h_item_end(struct ttlv_enc *e);
/* Closes the Request Message and checks the encoding. */
void h_request_end(struct ttlv_enc *e);
/* A 1.x Attribute with a Text String, Enumeration or Integer value. */
void h_attr_text(struct ttlv_enc *e, const char *name, const char *value);
void h_attr_enum(struct ttlv_enc *e, const char *name, uint32_t value);
void h_attr_int(struct ttlv_enc *e, const char *name, int32_t value);
/* A 1.x Name attribute (Uninterpreted Text String). */
void h_attr_name(struct ttlv_enc *e, const char *name);
/*
 * A whole 1.4 request of one item of operation op whose payload names uid (nothing when uid is NULL). A
 * Revoke with revocation_reason not 0 carries that Revocation Reason code, and a Compromise Occurrence Date
 * when it is Key Compromise.
 */
void h_uid_request(struct ttlv_enc *e, uint32_t op, const char *uid, uint32_t revocation_reason);
/* A Create of an AES key of bits, Encrypt and Decrypt, named name (NULL: no Name), at KMIP major.minor 1.x. */
void h_create_aes_request(struct ttlv_enc *e, int major, int minor, int bits, const char *name);
/*
 * A 1.4 Create Key Pair of EC P-256: the private half for Sign, the public for Verify, named priv_name and
 * pub_name (NULL: no Name).
 */
void h_create_ec_pair_request(struct ttlv_enc *e, const char *priv_name, const char *pub_name);
/* True while /proc shows pid as a live process (not a zombie, which its new parent may be slow to reap). */
bool h_proc_alive(pid_t pid);
/* A whole 1.4 Register of Secret Data: a password of len bytes whose usage is Derive Key. */
void h_register_secret_request(struct ttlv_enc *e, const uint8_t *secret, size_t len);
/* The batch item i of a response, and its payload. */
const struct ttlv *h_batch_item(const struct ttlv *resp, unsigned i);
const struct ttlv *h_payload(const struct ttlv *resp, unsigned i);
/* Result Status of batch item i. */
int h_item_status(const struct ttlv *resp, unsigned i);
/* Asserts batch item i succeeded, printing its Result Message when it did not. */
void h_expect_ok(const struct ttlv *resp, unsigned i);
/*
 * Asserts batch item i failed with reason and a non-empty Result Message that contains needle (NULL: any),
 * printing the reason and message it got when they differ.
 */
void h_expect_fail(const struct ttlv *resp, unsigned i, uint32_t reason, const char *needle);
/* A Text String child of the first batch item's payload, copied into buf ("" when absent). */
const char *h_payload_text(const struct ttlv *resp, uint32_t tag, char *buf, size_t size);

/* Sleeps ms milliseconds. */
void h_sleep_ms(int ms);

/*
 * Memory checking: with KMIPD_VALGRIND=1 every server runs under valgrind (--leak-check=full,
 * --error-exitcode=99, definite leaks count as errors), so h_stop returns 99 when valgrind found
 * something, and h_cleanup reports it. The harness's own deadlines (start, stop, the socket timeouts of
 * h_connect and h_try_connect) are scaled by h_slow(). Run: KMIPD_VALGRIND=1 KMIPD_BIN=build/kmipd
 * build/test/test_hostile (KMIPD_TEST_SHOWLOG=1 prints each server's log, valgrind's summary included).
 */
bool h_valgrind(void);
/* ms, or ten times ms under valgrind. */
int h_slow(int ms);
/* Like h_start with RLIMIT_NOFILE set to nofile (soft and hard) in the server process. */
void h_start_nofile(struct h_server *s, const char *const *overrides, unsigned nofile);
/*
 * Like h_start with env ("NAME=value" strings, NULL-terminated) added to the server's environment only,
 * such as an LD_PRELOAD shim and its settings.
 */
void h_start_env(struct h_server *s, const char *const *overrides, const char *const *env);
/* The pids of the server's child processes (its key-generation workers), at most n; returns how many. */
size_t h_children(struct h_server *s, pid_t *pids, size_t n);
/* Open file descriptors of the server process, or -1. */
int h_count_fds(struct h_server *s);
/*
 * Like h_restart, but returns as soon as kmipd is forked, without waiting for it to listen: for a server
 * that is expected to refuse to start (h_wait_exit then gives its status).
 */
void h_restart_nowait(struct h_server *s, const char *const *overrides);

#endif
