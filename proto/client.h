/*
 * proto/client.h: a small blocking KMIP client over TLS, for tools and tests; not for the server, since it
 * blocks.
 *
 * The caller builds the SSL_CTX (tls_client_ctx_new) and may offer a saved session to resume. Reads return
 * one whole response message at a time; responses to pipelined requests are kept in order.
 *
 * Symbol prefix: kmip_client_.
 */
#ifndef KMIPD_PROTO_CLIENT_H
#define KMIPD_PROTO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/ttlv.h"

struct ttlv_enc;
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct kmip_client;

/* Connects and handshakes within timeout_ms. Returns 0 and *out, or -1 and a malloc'd *cause. */
int kmip_client_connect(struct ssl_ctx_st *ctx, const char *host, unsigned port,
    struct ssl_session_st *session, int timeout_ms, struct kmip_client **out, char **cause) TTLV_WUR;
/*
 * The same, calling prepare(ssl, arg, cause) on the new SSL before the handshake (to set the name the server
 * certificate must match, say); prepare returns 0, or -1 with a malloc'd *cause that fails the connection.
 */
int kmip_client_connect_prepared(struct ssl_ctx_st *ctx, const char *host, unsigned port,
    struct ssl_session_st *session, int timeout_ms, int (*prepare)(struct ssl_st *ssl, void *arg, char **cause),
    void *arg, struct kmip_client **out, char **cause) TTLV_WUR;
/* Writes len raw bytes (a request, or anything a test wants to send). Returns 0, or -1 and *cause. */
int kmip_client_write(struct kmip_client *cl, const void *buf, size_t len, char **cause) TTLV_WUR;
/*
 * Reads one whole message. Returns 0 with the tree and its arena, or -1 and *cause; after -1,
 * kmip_client_eof() tells whether the server closed the connection cleanly.
 */
int kmip_client_read(struct kmip_client *cl, struct ttlv **root, struct ttlv_arena **arena, char **cause)
    TTLV_WUR;
bool kmip_client_eof(const struct kmip_client *cl);
/* Writes the encoded request and reads its response. */
int kmip_client_call(struct kmip_client *cl, const struct ttlv_enc *req, struct ttlv **root,
    struct ttlv_arena **arena, char **cause) TTLV_WUR;
struct ssl_st *kmip_client_ssl(struct kmip_client *cl);
int kmip_client_fd(const struct kmip_client *cl);
/* Sends close_notify (so the session stays resumable), closes and frees; NULL is accepted. */
void kmip_client_close(struct kmip_client *cl);

#endif
