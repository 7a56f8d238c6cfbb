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
#include "core/json.h"
#include "core/log.h"

/*
 * A line holds at most this many strings: an event's (peer, identity, operation, 4 uids, reason,
 * message, phase) or an audit_note()'s event, keys and values; each is escaped from at most
 * AUDIT_FIELD_MAX bytes (6 bytes per byte at worst) plus its marker and key; the numbers and punctuation
 * fit in the rest.
 */
#define AUDIT_STRINGS_MAX	(2 + 2 * AUDIT_NOTE_FIELDS)
#define AUDIT_LINE_MAX	(AUDIT_STRINGS_MAX * (6 * AUDIT_FIELD_MAX + JSON_MARKER_MAX + 64) + 512)

struct audit {
	int fd;			/* -1: no file */
	bool to_syslog;
	bool required;		/* flush every line; callers refuse what cannot be recorded */
	bool write_failed;	/* reported once until a write succeeds again */
	char *file;
};

/* The line being built: one at a time (one thread), too large for the stack. */
static char audit_line[AUDIT_LINE_MAX + 1];

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

/* Appends {"time":"...", the line's start, at buf[*n]. */
static void
json_time(char *buf, size_t size, size_t *n, int64_t when_usec)
{
	time_t secs = (time_t)(when_usec / 1000000);
	struct tm tm;
	char when[40];

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	json_fmt(buf, size, n, "{\"time\":\"%s.%06ldZ\"", when, (long)(when_usec % 1000000));
}

size_t
audit_format(const struct audit_event *ev, char *buf, size_t size)
{
	size_t n = 0, i;

	json_time(buf, size, &n, ev->when_usec);
	json_fmt(buf, size, &n, ",\"conn\":%llu,\"peer\":", (unsigned long long)ev->conn);
	json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->peer);
	json_fmt(buf, size, &n, ",\"identity\":");
	json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->identity);
	json_fmt(buf, size, &n, ",\"version\":\"%u.%u\",\"operation\":", (ev->version >> 8) & 0xff,
	    ev->version & 0xff);
	json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->operation);
	json_fmt(buf, size, &n, ",\"uids\":[");
	for (i = 0; i < ev->nuids && i < 4; i++) {
		if (i > 0)
			json_fmt(buf, size, &n, ",");
		json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->uids[i]);
	}
	json_fmt(buf, size, &n, "],\"result\":\"%s\",\"reason\":", ev->success ? "success" : "failure");
	if (ev->reason != NULL)
		json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->reason);
	else
		json_fmt(buf, size, &n, "null");
	if (ev->message != NULL) {
		json_fmt(buf, size, &n, ",\"message\":");
		json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->message);
	}
	if (ev->phase != NULL) {
		json_fmt(buf, size, &n, ",\"phase\":");
		json_str(buf, size, &n, AUDIT_FIELD_MAX, ev->phase);
	}
	json_fmt(buf, size, &n, ",\"duration_ms\":%.3f}", ev->duration_ms >= 0 && ev->duration_ms < 1e12 ?
	    ev->duration_ms : 0.0);
	return n;
}

/* The wall clock in microseconds since the epoch. */
static int64_t
audit_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sends the n bytes of line (no newline yet; room for one) to the destinations; 0 or -1 as audit_log(). */
static int
audit_emit(struct audit *a, char *line, size_t n)
{
	if (a->to_syslog)
		syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line);
	if (a->fd == -1)
		return 0;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps lines whole even with another writer. */
	if (write(a->fd, line, n) != (ssize_t)n || (a->required && fdatasync(a->fd) != 0)) {
		if (!a->write_failed)
			log_warn("audit: writing %s%s", a->file, a->required ? " (audit.required: requests are "
			    "refused until it works again)" : "");
		a->write_failed = true;
		return -1;
	}
	if (a->write_failed)
		log_info("audit: writing %s works again%s", a->file, a->required ? "; requests are accepted" : "");
	a->write_failed = false;
	return 0;
}

int
audit_log(struct audit *a, const struct audit_event *ev)
{
	size_t n;

	if (a == NULL)
		return 0;
	n = audit_format(ev, audit_line, sizeof(audit_line) - 1);
	return audit_emit(a, audit_line, n);
}

int
audit_note(struct audit *a, const char *event, const struct audit_field *fields, size_t nfields)
{
	size_t n = 0, size = sizeof(audit_line) - 1, i;

	if (a == NULL)
		return 0;
	json_time(audit_line, size, &n, audit_now_usec());
	json_fmt(audit_line, size, &n, ",\"event\":");
	json_str(audit_line, size, &n, AUDIT_FIELD_MAX, event);
	for (i = 0; i < nfields && i < AUDIT_NOTE_FIELDS; i++) {
		json_fmt(audit_line, size, &n, ",");
		json_str(audit_line, size, &n, AUDIT_FIELD_MAX, fields[i].key);
		json_fmt(audit_line, size, &n, ":");
		if (fields[i].value != NULL)
			json_str(audit_line, size, &n, AUDIT_FIELD_MAX, fields[i].value);
		else
			json_fmt(audit_line, size, &n, "null");
	}
	json_fmt(audit_line, size, &n, "}");
	return audit_emit(a, audit_line, n);
}

void
audit_set_required(struct audit *a, bool required)
{
	if (a != NULL)
		a->required = required && a->fd != -1;
}

bool
audit_required(const struct audit *a)
{
	return a != NULL && a->required;
}

/* See audit.h: after a failure, reopens the file and flushes it to see whether it works again. */
bool
audit_usable(struct audit *a)
{
	int fd;

	if (a == NULL || a->fd == -1 || !a->write_failed)
		return true;
	if ((fd = open(a->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return false;
	if (fdatasync(fd) != 0) {
		close(fd);
		return false;
	}
	close(a->fd);
	a->fd = fd;
	return true;
}
