/*
 * kmipd: a KMIP server. Command line, configuration, privileges, then the event loop.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/server.h"

#ifndef KMIPD_VERSION
#define KMIPD_VERSION "0.1.0"
#endif

#define MAX_OVERRIDES 256

static void
usage(void)
{
	fprintf(stderr, "usage: kmipd [-ftvV] [-c file] [-o group.key=value]...\n");
	exit(2);
}

/* Switches to server.user / server.group after the listeners are bound. Returns 0, or -1 after logging. */
static int
drop_privileges(const struct kmipd_config *cfg)
{
	struct passwd *pw = NULL;
	struct group *gr;
	gid_t gid;

	if (cfg->server.user == NULL && cfg->server.group == NULL)
		return 0;
	if (cfg->server.user != NULL && (pw = getpwnam(cfg->server.user)) == NULL) {
		log_warnx("server.user: no user \"%s\"", cfg->server.user);
		return -1;
	}
	gid = pw != NULL ? pw->pw_gid : getgid();
	if (cfg->server.group != NULL) {
		if ((gr = getgrnam(cfg->server.group)) == NULL) {
			log_warnx("server.group: no group \"%s\"", cfg->server.group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0) {
		log_warn("cannot switch to group %u", (unsigned)gid);
		return -1;
	}
	if (pw != NULL && setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		log_warn("cannot switch to user %s", cfg->server.user);
		return -1;
	}
	log_info("running as uid %u gid %u", (unsigned)getuid(), (unsigned)getgid());
	return 0;
}

/* Writes our pid to server.pid_file, if set. */
static int
write_pid_file(const struct kmipd_config *cfg)
{
	FILE *f;

	if (cfg->server.pid_file == NULL)
		return 0;
	if ((f = fopen(cfg->server.pid_file, "w")) == NULL) {
		log_warn("pid file %s", cfg->server.pid_file);
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0) {
		log_warn("pid file %s", cfg->server.pid_file);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static char *overrides[MAX_OVERRIDES];
	struct kmipd_config *cfg = NULL;
	struct server srv;
	const char *path = NULL;
	char *cause = NULL;
	size_t noverrides = 0;
	bool foreground = false, check = false, verbose = false;
	int ch, status;

	umask(077);
	while ((ch = getopt(argc, argv, "c:fho:tvV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'o':
			if (noverrides == MAX_OVERRIDES) {
				fprintf(stderr, "kmipd: more than %d -o options\n", MAX_OVERRIDES);
				return 2;
			}
			overrides[noverrides++] = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("kmipd %s\n", KMIPD_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Without -c, the standard file if there is one, else the embedded defaults (make run). */
	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;

	if (config_load(path, overrides, noverrides, &cfg, &cause) != 0) {
		fprintf(stderr, "kmipd: %s\n", cause != NULL ? cause : "cannot load the configuration");
		free(cause);
		return 1;
	}
	if (check) {
		if (server_check_tls(cfg, &cause) != 0) {
			fprintf(stderr, "kmipd: %s: %s\n", path != NULL ? path : "defaults", cause ? cause : "TLS");
			free(cause);
			config_free(cfg);
			return 1;
		}
		if (verbose)
			config_dump(stdout, cfg);
		fprintf(stderr, "kmipd: %s: configuration OK\n", path != NULL ? path : "embedded defaults");
		config_free(cfg);
		return 0;
	}

	/* A daemon has no terminal: log to syslog unless running in the foreground. */
	log_init(verbose ? LOG_LEVEL_DEBUG : server_log_level(cfg->log.level),
	    cfg->log.target == CONFIG_LOG_SYSLOG || !foreground, cfg->log.syslog_facility);
	log_info("kmipd %s starting (%s)", KMIPD_VERSION, path != NULL ? path : "embedded defaults");
	if (server_init(&srv, cfg, path, overrides, noverrides) != 0) {
		server_free(&srv);
		return 1;
	}
	if (drop_privileges(srv.cfg) != 0 || server_open_store(&srv) != 0) {
		server_free(&srv);
		return 1;
	}
	if (!foreground && daemon(0, 0) != 0) {
		log_warn("daemon");
		server_free(&srv);
		return 1;
	}
	/* The event base uses epoll, which a fork keeps working for the child; reinit to be sure. */
	if (!foreground)
		(void)event_reinit(srv.base);
	if (write_pid_file(srv.cfg) != 0) {
		server_free(&srv);
		return 1;
	}
	status = server_run(&srv);
	if (srv.cfg->server.pid_file != NULL)
		(void)unlink(srv.cfg->server.pid_file);
	server_free(&srv);
	log_info("exiting with status %d", status);
	return status;
}
