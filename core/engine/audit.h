/*
 * The audit trail: one JSON line per operation (time, connection, peer, identity, protocol version,
 * operation, unique identifiers, result, reason, message, duration) and per event outside the engine
 * (TLS handshake failures, reloads, administrative actions), appended to a file that SIGHUP reopens (for
 * logrotate) and/or sent to syslog. Never key material, never passwords: an event carries neither.
 *
 * Every line is valid JSON whatever the fields hold: each string is cut at AUDIT_FIELD_MAX bytes (at a
 * character boundary, with a marker saying how much was left out) before it is escaped, control
 * characters and bytes that are not UTF-8 are written \u00XX, and the line is built in a buffer sized for
 * the bounded fields, so it is never cut.
 *
 * A write's outcome line is written once the group commit that makes it durable has its result (see
 * engine.c); with audit.required an intent line ("phase":"intent") is written and flushed before.
 */
#ifndef KMIPD_AUDIT_H
#define KMIPD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_FIELD_MAX		1024	/* bytes of one field's value written before the truncation marker */
#define AUDIT_NOTE_FIELDS	8	/* fields of one audit_note() line */

struct audit;

struct audit_event {
	int64_t when_usec;		/* wall clock, microseconds since the epoch */
	uint64_t conn;
	const char *peer;
	const char *identity;
	unsigned version;		/* KMIP_VERSION(major, minor) */
	const char *operation;
	const char *const *uids;
	size_t nuids;			/* at most 4 are written */
	bool success;
	const char *reason;		/* Result Reason name on failure, else NULL */
	const char *message;		/* what the client was told on failure, else NULL */
	const char *phase;		/* NULL, "intent" (before the commit) or "outcome" (after it) */
	double duration_ms;
};

/* One named string of an audit_note() line. */
struct audit_field {
	const char *key;		/* a fixed name made of letters and '_' */
	const char *value;		/* NULL: written as null */
};

/*
 * Opens the destinations (file may be NULL; to_syslog may be false: then the trail is off). Returns 0 and
 * *out (NULL when the trail is off), or -1 with *cause naming the file and the error.
 */
int audit_open(const char *file, bool to_syslog, struct audit **out, char **cause)
    __attribute__((warn_unused_result));
void audit_close(struct audit *a);
/*
 * audit.required: every line of the file is flushed (fdatasync) before the call returns, and callers refuse
 * what cannot be recorded. Ignored without a file (syslog cannot promise it).
 */
void audit_set_required(struct audit *a, bool required);
/* True when a is set and required (and so has a file). */
bool audit_required(const struct audit *a);
/*
 * Whether lines can be written now: true unless the last write or flush failed; then the file is reopened
 * and flushed, and true when that works (the next line's write is what proves it). NULL: true.
 */
bool audit_usable(struct audit *a);
/*
 * Writes one line; a failing write is reported once in the log until a write works again (and said so).
 * Returns 0, or -1 when the line did not reach the file (or, when required, was not flushed).
 */
int audit_log(struct audit *a, const struct audit_event *ev);
/*
 * Writes one line {"time":...,"event":event, key:value...} for what happens outside the engine (a
 * failed TLS handshake, a reload, an administrative action); at most AUDIT_NOTE_FIELDS fields. 0 or -1 as
 * audit_log(). The transport calls it with plain strings.
 */
int audit_note(struct audit *a, const char *event, const struct audit_field *fields, size_t nfields);
/* Formats an event as its JSON line (without newline) into buf; returns the length written. */
size_t audit_format(const struct audit_event *ev, char *buf, size_t size);

#endif
