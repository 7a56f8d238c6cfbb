/*
 * systemd's notification protocol without libsystemd: datagrams of "KEY=VALUE" lines sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). READY=1
 * once serving, RELOADING=1 with MONOTONIC_USEC during a SIGHUP reload, STOPPING=1 at a stop, and
 * WATCHDOG=1 every half of $WATCHDOG_USEC from a loop timer, so that a loop that stalls stops sending and
 * systemd (WatchdogSec=) restarts the service. Without $NOTIFY_SOCKET every call does nothing.
 * Symbol prefix: notify_.
 */
#ifndef KMIPD_NOTIFY_H
#define KMIPD_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct event;
struct event_base;

struct notify {
	int fd;				/* -1: no $NOTIFY_SOCKET */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_usec;		/* 0: no watchdog asked for this process */
	struct event *watchdog;
};

/*
 * Reads $NOTIFY_SOCKET and $WATCHDOG_USEC (honoured only when $WATCHDOG_PID, if set, is this process),
 * opens the datagram socket and arms the watchdog timer on base. Returns 0 (also without $NOTIFY_SOCKET),
 * or -1 after logging why.
 */
int notify_init(struct notify *n, struct event_base *base) __attribute__((warn_unused_result));
/* Sends one state message ("READY=1", ...); a failure is logged at debug level and otherwise ignored. */
void notify_send(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RELOADING=1 with MONOTONIC_USEC=now, as systemd wants at the start of a reload. */
void notify_reloading(struct notify *n);
/* Stops the timer and closes the socket. */
void notify_free(struct notify *n);

#endif
