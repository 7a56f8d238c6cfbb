/*
 * notify: systemd's sd_notify protocol, written out (no libsystemd): see notify.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/notify.h"

#define NOTIFY_MAX_MESSAGE	512

/* Every half of $WATCHDOG_USEC: the loop is alive. */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notify_send(arg, "WATCHDOG=1");
}

/* Reads the environment and opens the socket; see notify.h. */
int
notify_init(struct notify *n, struct event_base *base)
{
	const char *path = getenv("NOTIFY_SOCKET"), *wd = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(n->addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET \"%s\": not an absolute path or an @abstract name that fits a socket address",
		    path);
		return -1;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';	/* abstract: the name's length, not a terminating NUL, ends it */
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
	if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return -1;
	}
	if (wd != NULL && (wpid == NULL || strtol(wpid, NULL, 10) == (long)getpid())) {
		char *end;
		unsigned long long us;

		errno = 0;
		us = strtoull(wd, &end, 10);
		if (errno != 0 || end == wd || *end != '\0' || us == 0) {
			log_warnx("WATCHDOG_USEC \"%s\": not a number of microseconds; no watchdog", wd);
			return 0;
		}
		n->watchdog_usec = us;
		if ((n->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, n)) == NULL) {
			log_warnx("out of memory for the watchdog timer");
			return -1;
		}
	}
	return 0;
}

/* Sends one message; see notify.h. */
void
notify_send(struct notify *n, const char *fmt, ...)
{
	char msg[NOTIFY_MAX_MESSAGE];
	va_list ap;
	int len;

	if (n->fd == -1)
		return;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		return;
	/* Non-blocking: a systemd too busy to read costs a lost message, never a stalled loop. */
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->addr, n->addrlen) != len)
		log_debug("NOTIFY_SOCKET: sending \"%.40s\": %s", msg, strerror(errno));
	/* The first state sent starts the watchdog: from then on systemd expects it. */
	if (n->watchdog != NULL && !event_pending(n->watchdog, EV_TIMEOUT, NULL)) {
		struct timeval tv = { .tv_sec = (time_t)(n->watchdog_usec / 2 / 1000000),
		    .tv_usec = (suseconds_t)(n->watchdog_usec / 2 % 1000000) };

		event_add(n->watchdog, &tv);
	}
}

/* RELOADING=1 with the monotonic time; see notify.h. */
void
notify_reloading(struct notify *n)
{
	notify_send(n, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)clock_us());
}

/* Closes; see notify.h. */
void
notify_free(struct notify *n)
{
	if (n->watchdog != NULL)
		event_free(n->watchdog);
	if (n->fd != -1)
		close(n->fd);
	n->watchdog = NULL;
	n->fd = -1;
}
