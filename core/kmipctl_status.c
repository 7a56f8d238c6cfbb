/*
 * kmipctl status: asks a running kmipd for its live status on the administration socket (admin.socket)
 * and prints the answer: text for people, or one JSON object with --json. Whoever may open the socket file
 * may ask; kmipd logs the asking uid.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/kmipctl.h"

#define STATUS_DEFAULT_SOCKET	"/run/kmipd/admin.sock"
#define STATUS_MAX_ANSWER	(4u << 20)	/* kmipd's answers stay far below this */

/*
 * The socket to ask: -S, else admin.socket of -c CONFIG (which must set it), else of the standard config if
 * it reads and sets it, else STATUS_DEFAULT_SOCKET. *cfg is the config loaded, to free after use.
 */
static const char *
status_socket(const char *sock, const char *config, struct kmipd_config **cfg)
{
	char *cause = NULL;

	*cfg = NULL;
	if (sock != NULL)
		return sock;
	if (config != NULL) {
		if (config_load(config, NULL, 0, cfg, &cause) != 0) {
			fprintf(stderr, "kmipctl status: %s\n", cause != NULL ? cause : "cannot load the configuration");
			free(cause);
			return NULL;
		}
		if ((*cfg)->admin.socket == NULL) {
			fprintf(stderr, "kmipctl status: %s sets no admin.socket\n", config);
			return NULL;
		}
		return (*cfg)->admin.socket;
	}
	/* The standard config may be unreadable to this user: then the usual path. */
	if (access(CTL_DEFAULT_CONFIG, R_OK) == 0 && config_load(CTL_DEFAULT_CONFIG, NULL, 0, cfg, &cause) == 0 &&
	    (*cfg)->admin.socket != NULL)
		return (*cfg)->admin.socket;
	free(cause);
	return STATUS_DEFAULT_SOCKET;
}

/* Sends the request and copies the answer to stdout. Returns the exit status: 0, or 1 after saying why. */
static int
status_ask(const char *path, bool json)
{
	const char *req = json ? "status json\n" : "status\n";
	struct sockaddr_un sun;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kmipctl status: %s: path too long for a socket\n", path);
		return 1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "kmipctl status: %s: %s%s\n", path, strerror(errno), errno == ENOENT ||
		    errno == ECONNREFUSED ? " (is kmipd running, with admin.socket set?)" : errno == EACCES ?
		    " (admin.socket_mode and admin.socket_group say who may ask)" : "");
		goto out;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "kmipctl status: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if ((buf = malloc(STATUS_MAX_ANSWER)) == NULL) {
		fprintf(stderr, "kmipctl status: out of memory\n");
		goto out;
	}
	while (len < STATUS_MAX_ANSWER && (n = read(fd, buf + len, STATUS_MAX_ANSWER - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kmipctl status: %s: %s\n", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len == STATUS_MAX_ANSWER || len == 0) {
		fprintf(stderr, "kmipctl status: %s: %s answer\n", path, len == 0 ? "no" : "an oversized");
		goto out;
	}
	if (len >= 6 && memcmp(buf, "error:", 6) == 0) {
		fprintf(stderr, "kmipctl status: kmipd says: %.*s", (int)len, buf);
		goto out;
	}
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "kmipctl status: writing: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return rc;
}

/* kmipctl status [-S SOCKET] [-c CONFIG] [--json]: exit 0, 1 when kmipd could not be asked, 2 on usage. */
int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *config = NULL, *path;
	struct kmipd_config *cfg = NULL;
	bool json = false;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:jS:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'S':
			sock = optarg;
			break;
		default:
			fprintf(stderr, "usage: kmipctl status [-S SOCKET | -c CONFIG] [--json]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: kmipctl status [-S SOCKET | -c CONFIG] [--json]\n");
		return 2;
	}
	if ((path = status_socket(sock, config, &cfg)) == NULL) {
		config_free(cfg);
		return 1;
	}
	rc = status_ask(path, json);
	config_free(cfg);
	return rc;
}
