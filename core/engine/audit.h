/*
 * The audit trail: one JSON line per operation (time, connection, peer, identity, protocol version,
 * operation, unique identifiers, result, reason, duration), appended to a file that SIGHUP reopens (for
 * logrotate) and/or sent to syslog. Never key material, never passwords: an event carries neither.
 */
#ifndef KMIPD_AUDIT_H
#define KMIPD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct audit;

struct audit_event {
	int64_t when_usec;		/* wall clock, microseconds since the epoch */
	uint64_t conn;
	const char *peer;
	const char *identity;
	unsigned version;		/* KMIP_VERSION(major, minor) */
	const char *operation;
	const char *const *uids;
	size_t nuids;
	bool success;
	const char *reason;		/* Result Reason name on failure, else NULL */
	double duration_ms;
};

/*
 * Opens the destinations (file may be NULL; to_syslog may be false: then the trail is off). Returns 0 and
 * *out (NULL when the trail is off), or -1 with *cause naming the file and the error.
 */
int audit_open(const char *file, bool to_syslog, struct audit **out, char **cause)
    __attribute__((warn_unused_result));
void audit_close(struct audit *a);
/* Writes one line; a failing write is reported once in the log and retried with the next event. */
void audit_log(struct audit *a, const struct audit_event *ev);
/* Formats an event as its JSON line (without newline) into buf; returns the length written. */
size_t audit_format(const struct audit_event *ev, char *buf, size_t size);

#endif
