/*
 * tls: helpers shared by the module's own files. Not for other modules: they include tls/tls.h.
 */
#ifndef KMIPD_TLS_INT_H
#define KMIPD_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/*
 * Reads a whole regular file of 1 to TLS_MAX_FILE_SIZE bytes into malloc'd memory (not NUL-terminated).
 * what names the option for the cause. private refuses a file that group or others may read or write (a
 * file of keys). Returns 0 and *out, *outlen, or -1 and a cause "WHAT PATH: why". Callers holding secrets
 * wipe the buffer.
 */
int tls_read_file(const char *what, const char *path, bool private, unsigned char **out, size_t *outlen,
    char **cause) __attribute__((warn_unused_result));
/* Sets *cause (if cause is not NULL) to a malloc'd formatted message; NULL if out of memory. */
void tls_cause(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like tls_cause, then ": " and the drained OpenSSL error queue. */
void tls_cause_ssl(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct tls_config;
struct tls_shared;

/* The keys of a tls.ticket_key_file as read (tls/shcache.c); wiped when freed. */
struct tls_ticket_file;

/*
 * Reads a ticket key file: not readable or writable by group or others, one key a line as the base64 of
 * TLS_TICKET_KEY_BYTES bytes, '#' comments and blank lines ignored, at least one and at most
 * TLS_TICKET_KEYS_MAX keys with distinct names. Returns 0 and *out, or -1 and a cause
 * "ticket_key_file PATH:LINE: why".
 */
int tls_ticket_file_read(const char *path, struct tls_ticket_file **out, char **cause)
    __attribute__((warn_unused_result));
/* Wipes and frees. NULL is accepted. */
void tls_ticket_file_free(struct tls_ticket_file *tf);
/* Points ctx's session cache and ticket callbacks at sh. Returns 0, or -1 and a cause. */
int tls_shared_install(struct tls_shared *sh, SSL_CTX *ctx, char **cause) __attribute__((warn_unused_result));
/*
 * Applies tls.session_timeout and tls.ticket_key_rotation to sh and installs its ticket keys: those of tf,
 * or (tf NULL) random ones, kept if they already were random. Cannot fail: call it once all else succeeded.
 */
void tls_shared_configure(struct tls_shared *sh, long session_timeout, long ticket_key_rotation,
    const struct tls_ticket_file *tf);

#endif
