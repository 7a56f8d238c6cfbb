/*
 * Log lines: "2026-11-28T05:55:00.123Z warn: message" on stderr, or the message alone through syslog.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "core/log.h"

static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_to_syslog;
static char last_problem[1024];
static int tee_fd = -1;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* Chooses the threshold and the destination; opens syslog when asked to. */
void
log_init(enum log_level level, bool to_syslog, int facility)
{
	log_threshold = level;
	if (to_syslog && !log_to_syslog)
		openlog("kmipd", LOG_PID | LOG_NDELAY, facility);
	else if (!to_syslog && log_to_syslog)
		closelog();
	log_to_syslog = to_syslog;
}

const char *
log_last_problem(void)
{
	return last_problem;
}

void
log_set_tee(int fd)
{
	tee_fd = fd;
}

/* Changes the threshold (on reload). */
void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

/* Returns true when messages of this level are written, so callers can skip formatting costs. */
bool
log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

static void log_line(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

/* Writes one line at level, with strerror(errno) appended when with_errno is set. */
void
log_vmsg(enum log_level level, bool with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[1024];
	size_t n;

	if (level > log_threshold && level > LOG_LEVEL_WARN)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (level <= LOG_LEVEL_WARN)
		memcpy(last_problem, msg, sizeof(msg));
	if (level == LOG_LEVEL_ERROR && tee_fd != -1)
		(void)!dprintf(tee_fd, "kmipd: %s\n", msg);
	if (level > log_threshold) {
		errno = saved;
		return;
	}
	if (log_to_syslog) {
		syslog(level_prio[level], "%s", msg);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000, level_names[level], msg);
	}
	errno = saved;
}

/* Writes one line about a connection: "conn 12 127.0.0.1:40022 kmip-client: message". */
void
log_vconn(enum log_level level, uint64_t id, const char *peer, const char *who, const char *fmt, va_list ap)
{
	char msg[768];

	if (level > log_threshold)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_line(level, "conn %llu %s %s: %s", (unsigned long long)id, peer, who != NULL ? who : "-", msg);
}

/* log_vmsg() with arguments. */
static void
log_line(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, false, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vmsg(level, with_errno, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_error, LOG_LEVEL_ERROR, false)
LOG_FN(log_warn, LOG_LEVEL_WARN, true)
LOG_FN(log_warnx, LOG_LEVEL_WARN, false)
LOG_FN(log_info, LOG_LEVEL_INFO, false)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, false)
