/*
 * Logging with levels, to stderr or syslog. log_warn() appends strerror(errno), log_warnx() does not.
 * Lines about one connection go through log_vconn() (conn_log() and session_log() call it), which adds the
 * connection id, the peer address and the client's identity.
 * Never pass key material to these functions.
 */
#ifndef KMIPD_LOG_H
#define KMIPD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sends logs to syslog (facility a LOG_* value) instead of stderr when to_syslog is true. */
void log_init(enum log_level level, bool to_syslog, int facility);
/*
 * Sends logs to the file path (appended to, made 0640 if new) instead of stderr or syslog; NULL goes back
 * to them. Called again with the same path, it reopens the file (SIGHUP after a log rotation). On failure
 * the current destination stays. Returns 0, or -1 with a malloc'd *cause.
 */
int log_open_file(const char *path, char **cause) __attribute__((warn_unused_result));
/* Writes lines (to stderr or the file) as JSON objects ({"time","level","conn","peer","identity","msg"}). */
void log_set_json(bool json);
/*
 * A worker of server.workers > 1 (index 0..N-1) tags its lines: "[worker 1] " in text and syslog, a
 * "worker" member in JSON. -1 (the default) for the master or the single process.
 */
void log_set_worker(int index);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_vmsg(enum log_level level, bool with_errno, const char *fmt, va_list ap) LOG_PRINTF(3, 0);
void log_vconn(enum log_level level, uint64_t id, const char *peer, const char *who, const char *fmt, va_list ap)
    LOG_PRINTF(5, 0);
/*
 * The last warning or error logged (whatever the level threshold), for the one error line a failed start
 * ends with; "" when there was none.
 */
const char *log_last_problem(void);
/*
 * While fd is not -1, error lines are also written to fd as "kmipd: message\n" (the daemon's report to
 * the process that started it, which prints them on its stderr). -1 stops it.
 */
void log_set_tee(int fd);
/*
 * A rate limit for one kind of repeated line (failed handshakes under a scan, say): at most LOG_LIMIT_BURST
 * lines per LOG_LIMIT_WINDOW_MS at their level; past it they go to debug level, and the first line allowed
 * after the window says how many went there. Zeroed is ready to use.
 */
#define LOG_LIMIT_BURST		20
#define LOG_LIMIT_WINDOW_MS	10000
struct log_limit {
	int64_t window_ms;		/* start of the current window (monotonic ms) */
	unsigned logged;		/* lines logged in it */
	uint64_t suppressed;		/* lines sent to debug level since the last report */
};
/*
 * The level for one more line of the kind l counts (what names the kind in the report): level itself
 * while the window allows it, else LOG_LEVEL_DEBUG.
 */
enum log_level log_limit_level(struct log_limit *l, enum log_level level, const char *what);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
