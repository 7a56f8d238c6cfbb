/*
 * A small blocking KMIP client over TLS, for kmipctl, tests and tools. Not for the server: it blocks.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proto/client.h"
#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/ttlv.h"

#define CLIENT_MAX_MESSAGE (64 * 1024 * 1024)

struct kmip_client {
	int fd;
	SSL *ssl;
	bool eof;
	struct ttlv_decoder *dec;
	uint8_t buf[16384];	/* bytes read but not yet decoded (the next pipelined response) */
	size_t start;
	size_t end;
};

/* Sets *cause to a formatted message with the OpenSSL error queue appended; returns -1. */
static int
client_fail(char **cause, const char *fmt, ...)
{
	char msg[512], ssl_err[256] = "";
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((e = ERR_get_error()) != 0)
		ERR_error_string_n(e, ssl_err, sizeof(ssl_err));
	ERR_clear_error();
	if (cause != NULL && asprintf(cause, "%s%s%s", msg, ssl_err[0] ? ": " : "", ssl_err) < 0)
		*cause = NULL;
	return -1;
}

/* Connects a TCP socket to host:port with receive and send timeouts. Returns the fd or -1. */
static int
tcp_connect(const char *host, unsigned port, int timeout_ms, char **cause)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char portstr[16];
	int fd = -1, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return client_fail(cause, "%s: %s", host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return client_fail(cause, "connect %s:%u: %s", host, port, strerror(errno));
	return fd;
}

/* Connects and handshakes; see client.h. */
int
kmip_client_connect(SSL_CTX *ctx, const char *host, unsigned port, SSL_SESSION *session, int timeout_ms,
    struct kmip_client **out, char **cause)
{
	return kmip_client_connect_prepared(ctx, host, port, session, timeout_ms, NULL, NULL, out, cause);
}

/* Connects, lets prepare set up the SSL, and handshakes; see client.h. */
int
kmip_client_connect_prepared(SSL_CTX *ctx, const char *host, unsigned port, SSL_SESSION *session,
    int timeout_ms, int (*prepare)(SSL *ssl, void *arg, char **cause), void *arg, struct kmip_client **out,
    char **cause)
{
	struct ttlv_limits lim = { .max_message_size = CLIENT_MAX_MESSAGE };
	struct kmip_client *cl;

	*out = NULL;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return client_fail(cause, "out of memory");
	cl->fd = -1;
	if ((cl->dec = ttlv_decoder_new(&lim)) == NULL) {
		client_fail(cause, "out of memory");
		goto fail;
	}
	if ((cl->fd = tcp_connect(host, port, timeout_ms, cause)) == -1)
		goto fail;
	if ((cl->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(cl->ssl, cl->fd) != 1) {
		client_fail(cause, "SSL_new");
		goto fail;
	}
	if (session != NULL && SSL_set_session(cl->ssl, session) != 1) {
		client_fail(cause, "SSL_set_session");
		goto fail;
	}
	if (prepare != NULL && prepare(cl->ssl, arg, cause) != 0)
		goto fail;
	if (SSL_connect(cl->ssl) != 1) {
		client_fail(cause, "TLS handshake with %s:%u failed", host, port);
		goto fail;
	}
	*out = cl;
	return 0;
fail:
	if (cl->ssl != NULL)
		SSL_free(cl->ssl);
	if (cl->fd != -1)
		close(cl->fd);
	ttlv_decoder_free(cl->dec);
	free(cl);
	return -1;
}

/* Writes raw bytes; see client.h. */
int
kmip_client_write(struct kmip_client *cl, const void *buf, size_t len, char **cause)
{
	const uint8_t *p = buf;

	while (len > 0) {
		int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
		int n = SSL_write(cl->ssl, p, chunk);

		if (n <= 0)
			return client_fail(cause, "write: %s", SSL_get_error(cl->ssl, n) == SSL_ERROR_SYSCALL ?
			    strerror(errno) : "TLS error");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one message; see client.h. */
int
kmip_client_read(struct kmip_client *cl, struct ttlv **root, struct ttlv_arena **arena, char **cause)
{
	enum ttlv_status st;
	size_t used;
	int n, err;

	*root = NULL;
	*arena = NULL;
	for (;;) {
		if (cl->start < cl->end) {
			st = ttlv_decoder_feed(cl->dec, cl->buf + cl->start, cl->end - cl->start, &used);
			cl->start += used;
			if (st == TTLV_DONE) {
				*root = ttlv_decoder_take(cl->dec, arena);
				return 0;
			}
			if (st == TTLV_ERROR) {
				const char *what;
				uint64_t off;

				ttlv_decoder_error(cl->dec, &off, &what);
				ttlv_decoder_reset(cl->dec);
				return client_fail(cause, "malformed response: %s at byte %llu", what,
				    (unsigned long long)off);
			}
		}
		cl->start = cl->end = 0;
		n = SSL_read(cl->ssl, cl->buf, sizeof(cl->buf));
		if (n > 0) {
			cl->end = (size_t)n;
			continue;
		}
		err = SSL_get_error(cl->ssl, n);
		if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0)) {
			cl->eof = true;
			return client_fail(cause, "connection closed by the server");
		}
		if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
			return client_fail(cause, "read: timed out");
		if (err == SSL_ERROR_SSL)
			return client_fail(cause, "read: TLS error");
		return client_fail(cause, "read: %s", strerror(errno));
	}
}

/* Returns true when the last failed read was the server closing the connection. */
bool
kmip_client_eof(const struct kmip_client *cl)
{
	return cl->eof;
}

/* Writes a request and reads its response. */
int
kmip_client_call(struct kmip_client *cl, const struct ttlv_enc *req, struct ttlv **root,
    struct ttlv_arena **arena, char **cause)
{
	if (kmip_client_write(cl, req->buf, req->len, cause) != 0)
		return -1;
	return kmip_client_read(cl, root, arena, cause);
}

SSL *
kmip_client_ssl(struct kmip_client *cl)
{
	return cl->ssl;
}

int
kmip_client_fd(const struct kmip_client *cl)
{
	return cl->fd;
}

/* Ends the connection cleanly so its session can be resumed, and frees the client. */
void
kmip_client_close(struct kmip_client *cl)
{
	if (cl == NULL)
		return;
	if (!cl->eof)
		(void)SSL_shutdown(cl->ssl);
	SSL_free(cl->ssl);
	close(cl->fd);
	ttlv_decoder_free(cl->dec);
	explicit_bzero(cl->buf, sizeof(cl->buf));
	free(cl);
	ERR_clear_error();
}
