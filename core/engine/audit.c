/*
 * The audit trail; see audit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/engine/audit.h"
#include "core/log.h"

#define AUDIT_LINE_MAX 4096

struct audit {
	int fd;			/* -1: no file */
	bool to_syslog;
	bool write_failed;	/* reported once until a write succeeds again */
	char *file;
};

int
audit_open(const char *file, bool to_syslog, struct audit **out, char **cause)
{
	struct audit *a;

	*out = NULL;
	if (file == NULL && !to_syslog)
		return 0;
	if ((a = calloc(1, sizeof(*a))) == NULL || (file != NULL && (a->file = strdup(file)) == NULL)) {
		free(a);
		if (asprintf(cause, "audit: out of memory") < 0)
			*cause = NULL;
		return -1;
	}
	a->fd = -1;
	a->to_syslog = to_syslog;
	if (file != NULL && (a->fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		if (asprintf(cause, "audit.file %s: %s", file, strerror(errno)) < 0)
			*cause = NULL;
		free(a->file);
		free(a);
		return -1;
	}
	*out = a;
	return 0;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->fd != -1)
		close(a->fd);
	free(a->file);
	free(a);
}

/* Appends s as a JSON string (quoted, escaped) at buf[*n], never past size. */
static void
json_str(char *buf, size_t size, size_t *n, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

#define PUT(c) do { if (*n + 1 < size) buf[(*n)++] = (c); } while (0)
	PUT('"');
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 15]);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
#undef PUT
	buf[*n < size ? *n : size - 1] = '\0';
}

/* Appends formatted text at buf[*n]. */
static void __attribute__((format(printf, 4, 5)))
json_fmt(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= size)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n = *n + (size_t)w < size ? *n + (size_t)w : size - 1;
}

size_t
audit_format(const struct audit_event *ev, char *buf, size_t size)
{
	time_t secs = (time_t)(ev->when_usec / 1000000);
	struct tm tm;
	char when[40];
	size_t n = 0, i;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	json_fmt(buf, size, &n, "{\"time\":\"%s.%06ldZ\",\"conn\":%llu,\"peer\":", when,
	    (long)(ev->when_usec % 1000000), (unsigned long long)ev->conn);
	json_str(buf, size, &n, ev->peer);
	json_fmt(buf, size, &n, ",\"identity\":");
	json_str(buf, size, &n, ev->identity);
	json_fmt(buf, size, &n, ",\"version\":\"%u.%u\",\"operation\":", ev->version >> 8, ev->version & 0xff);
	json_str(buf, size, &n, ev->operation);
	json_fmt(buf, size, &n, ",\"uids\":[");
	for (i = 0; i < ev->nuids; i++) {
		if (i > 0)
			json_fmt(buf, size, &n, ",");
		json_str(buf, size, &n, ev->uids[i]);
	}
	json_fmt(buf, size, &n, "],\"result\":\"%s\",\"reason\":", ev->success ? "success" : "failure");
	if (ev->reason != NULL)
		json_str(buf, size, &n, ev->reason);
	else
		json_fmt(buf, size, &n, "null");
	json_fmt(buf, size, &n, ",\"duration_ms\":%.3f}", ev->duration_ms);
	return n;
}

void
audit_log(struct audit *a, const struct audit_event *ev)
{
	char line[AUDIT_LINE_MAX];
	size_t n;

	if (a == NULL)
		return;
	n = audit_format(ev, line, sizeof(line) - 1);
	if (a->to_syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line);
	if (a->fd == -1)
		return;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps lines whole even with another writer. */
	if (write(a->fd, line, n) != (ssize_t)n) {
		if (!a->write_failed)
			log_warn("audit: writing %s", a->file);
		a->write_failed = true;
		return;
	}
	if (a->write_failed)
		log_info("audit: writing %s works again", a->file);
	a->write_failed = false;
}
