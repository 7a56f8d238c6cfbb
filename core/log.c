/*
 * Log lines: "2026-11-28T05:55:00.123Z warn: message" on stderr or in log.file, the same as one JSON
 * object per line with log.format = json, or the message alone through syslog.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"

#define LOG_MSG_MAX	1024	/* bytes of one message before it is cut */
#define LOG_LINE_MAX	(6 * LOG_MSG_MAX + 512)	/* a JSON line at its largest: every byte escaped */

static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_to_syslog;
static bool log_json;
static int log_fd = -1;		/* log.file, or -1: stderr or syslog */
static char last_problem[LOG_MSG_MAX];
static int tee_fd = -1;
static int log_worker = -1;		/* server.workers > 1: this worker's index; -1: the master or alone */

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static void log_vmsg_line(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

/* What a line about one connection adds: its id, peer address and identity. */
struct conn_fields {
	uint64_t id;
	const char *peer;
	const char *who;
};

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

int
log_open_file(const char *path, char **cause)
{
	int fd;

	*cause = NULL;
	if (path == NULL) {
		if (log_fd != -1)
			close(log_fd);
		log_fd = -1;
		return 0;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		if (asprintf(cause, "log.file %s: %s", path, strerror(errno)) == -1)
			*cause = NULL;
		return -1;
	}
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_set_json(bool json)
{
	log_json = json;
}

void
log_set_worker(int index)
{
	log_worker = index;
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

enum log_level
log_limit_level(struct log_limit *l, enum log_level level, const char *what)
{
	int64_t now = clock_ms();

	if (level >= LOG_LEVEL_DEBUG)
		return level;
	if (l->window_ms == 0 || now - l->window_ms >= LOG_LIMIT_WINDOW_MS) {
		if (l->suppressed > 0)
			log_vmsg_line(level, "%llu more %s in the last %d s were logged at debug level only",
			    (unsigned long long)l->suppressed, what, LOG_LIMIT_WINDOW_MS / 1000);
		l->window_ms = now;
		l->logged = 0;
		l->suppressed = 0;
	}
	if (l->logged < LOG_LIMIT_BURST) {
		l->logged++;
		return level;
	}
	l->suppressed++;
	return LOG_LEVEL_DEBUG;
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

/*
 * Writes one line: to log.file or stderr as text or JSON, or to syslog. A short write (a full disk) loses
 * the line: the log never stops the server.
 */
static void
emit(enum log_level level, const struct conn_fields *cf, const char *msg)
{
	static char line[LOG_LINE_MAX];		/* one thread */
	struct timespec ts;
	struct tm tm;
	char when[32];
	size_t n = 0;

	char tag[24] = "";

	/* A worker's lines say which worker wrote them (syslog adds the pid as well). */
	if (log_worker >= 0 && !log_json)
		snprintf(tag, sizeof(tag), "[worker %d] ", log_worker);
	if (log_fd == -1 && log_to_syslog) {
		if (cf != NULL)
			syslog(level_prio[level], "%sconn %llu %s %s: %s", tag, (unsigned long long)cf->id, cf->peer,
			    cf->who != NULL ? cf->who : "-", msg);
		else
			syslog(level_prio[level], "%s%s", tag, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		json_fmt(line, sizeof(line), &n, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\"", when,
		    ts.tv_nsec / 1000000, level_names[level]);
		if (log_worker >= 0)
			json_fmt(line, sizeof(line), &n, ",\"worker\":%d", log_worker);
		if (cf != NULL) {
			json_fmt(line, sizeof(line), &n, ",\"conn\":%llu,\"peer\":", (unsigned long long)cf->id);
			json_str(line, sizeof(line), &n, LOG_MSG_MAX, cf->peer);
			json_fmt(line, sizeof(line), &n, ",\"identity\":");
			if (cf->who != NULL)
				json_str(line, sizeof(line), &n, LOG_MSG_MAX, cf->who);
			else
				json_fmt(line, sizeof(line), &n, "null");
		}
		json_fmt(line, sizeof(line), &n, ",\"msg\":");
		json_str(line, sizeof(line), &n, LOG_MSG_MAX, msg);
		json_fmt(line, sizeof(line), &n, "}\n");
	} else if (cf != NULL) {
		json_fmt(line, sizeof(line), &n, "%s.%03ldZ %s: %sconn %llu %s %s: %s\n", when, ts.tv_nsec / 1000000,
		    level_names[level], tag, (unsigned long long)cf->id, cf->peer, cf->who != NULL ? cf->who : "-",
		    msg);
	} else {
		json_fmt(line, sizeof(line), &n, "%s.%03ldZ %s: %s%s\n", when, ts.tv_nsec / 1000000,
		    level_names[level], tag, msg);
	}
	/* A line cut by the buffer still ends the line. */
	if (n > 0 && line[n - 1] != '\n')
		line[n - 1] = '\n';
	(void)!write(log_fd != -1 ? log_fd : STDERR_FILENO, line, n);
}

/* Writes one line at level, with strerror(errno) appended when with_errno is set. */
void
log_vmsg(enum log_level level, bool with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[LOG_MSG_MAX];
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
	if (level <= log_threshold)
		emit(level, NULL, msg);
	errno = saved;
}

/* Writes one line about a connection: "conn 12 127.0.0.1:40022 kmip-client: message". */
void
log_vconn(enum log_level level, uint64_t id, const char *peer, const char *who, const char *fmt, va_list ap)
{
	const struct conn_fields cf = { id, peer, who };
	int saved = errno;
	char msg[LOG_MSG_MAX];

	if (level > log_threshold)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(level, &cf, msg);
	errno = saved;
}

/* log_vmsg() with arguments, at a level given at run time. */
static void
log_vmsg_line(enum log_level level, const char *fmt, ...)
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
