/*
 * kmipd: a KMIP server. Command line, configuration, privileges, then the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/engine/access.h"
#include "core/masterkey.h"
#include "core/keygen.h"
#include "core/log.h"
#include "core/server.h"
#include "core/workers.h"

#ifndef KMIPD_VERSION
#define KMIPD_VERSION "0.1.0"
#endif

#define MAX_OVERRIDES 256

/*
 * glibc returns the top of the heap to the system once 128 KiB of it are free, and takes it back on the next
 * allocation: under load that is a brk() and fresh page faults for every burst of TLS records libevent
 * buffers. kmipd keeps up to this much free heap instead (measured: Get at 16 connections x 8 in flight, 25 %
 * fewer operations per second without it); blocks of MMAP_THRESHOLD and more (large objects and responses)
 * still come from mmap and go back when freed.
 */
#define TRIM_THRESHOLD	(16 << 20)
#define MMAP_THRESHOLD	(1 << 20)

/* Prints the usage: on stdout with status 0 when it was asked for (-h), else on stderr with status 2. */
static void
usage(bool asked)
{
	fprintf(asked ? stdout : stderr,
	    "usage: kmipd [-fhtvV] [-c file] [-o group.key=value]...\n"
	    "  -c file   the configuration file (default %s when it exists, else the embedded defaults)\n"
	    "  -f        stay in the foreground (logs go where log.target says)\n"
	    "  -h        print this help\n"
	    "  -o k=v    set group.key to value after the file (repeatable)\n"
	    "  -t        check the configuration, certificates, store and files, and exit\n"
	    "  -v        log at debug level; with -t, print the configuration in effect\n"
	    "  -V        print the version\n"
	    "See kmipd(8) and kmipd.conf(5).\n", CONFIG_DEFAULT_PATH);
	exit(asked ? 0 : 2);
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

/*
 * Becomes a daemon before anything is opened: LMDB's locks on the store and the key-generation workers'
 * death signal belong to the process that holds them, so the store, the workers and the TLS key must all
 * come after the fork, never before. The process that was started waits until the daemon reports that it
 * serves (daemon_ready) or dies, and exits 0 or 1 accordingly, so a failed start is not reported as
 * success. Returns the daemon's end of that report, or -1 after logging; never returns in the caller.
 */
static int
daemonize(void)
{
	int p[2], null;
	bool said = false;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(p, O_CLOEXEC) != 0) {
		log_warn("daemon: pipe");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("daemon: fork");
		return -1;
	}
	if (pid > 0) {
		/* The daemon's error lines until it serves (a NUL byte) or exits: printed where the user looks. */
		close(p[1]);
		for (;;) {
			n = read(p[0], &c, 1);
			if (n == -1 && errno == EINTR)
				continue;
			if (n != 1 || c == '\0')
				break;
			said = true;
			(void)fputc(c, stderr);
		}
		if (n != 1 && !said)
			fprintf(stderr, "kmipd: could not start; the log says why\n");
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	/* A new session, then a second fork: the daemon is no session leader and never gets a terminal. */
	if (setsid() == -1 || (pid = fork()) == -1) {
		log_warn("daemon");
		_exit(1);
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		log_warn("daemon: chdir /");
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		(void)dup2(null, 2);
		if (null > 2)
			close(null);
	}
	return p[1];
}

/* Tells the process that started the daemon that it serves; it exits 0 then. */
static void
daemon_ready(int fd)
{
	char c = 0;

	if (fd == -1)
		return;
	log_set_tee(-1);
	if (write(fd, &c, 1) != 1)
		log_warn("daemon: reporting start-up");
	close(fd);
}

/*
 * Prints a kmipd -t problem in the documented form: "FILE:LINE: reason" (or "-o ARG: reason") after where
 * key got its value, else the configuration file (or "embedded defaults") and the reason.
 */
static void
check_failed(const struct kmipd_config *cfg, const char *path, const char *key, const char *reason)
{
	const char *w = key != NULL ? config_where(cfg, key) : "";

	if (*w != '\0')
		fprintf(stderr, "kmipd: %s%s\n", w, reason);
	else
		fprintf(stderr, "kmipd: %s: %s\n", path != NULL ? path : "embedded defaults", reason);
}

/*
 * The config key a TLS cause is about: the tls layer starts its causes with the option's name
 * ("cert_file /etc/...: ..."). Returns "tls.NAME" in buf, or NULL.
 */
static const char *
tls_key(const char *cause, char *buf, size_t size)
{
	size_t n;

	if (cause == NULL)
		return NULL;
	n = strcspn(cause, " :");
	if (n == 0 || n + 5 > size)
		return NULL;
	snprintf(buf, size, "tls.%.*s", (int)n, cause);
	return buf;
}

/*
 * Whether the process can make and write files in dir (an existing folder), or create dir in its parent
 * when it does not exist yet. Returns 0, or -1 with the reason in why.
 */
static int
check_folder(const char *dir, bool may_create, char *why, size_t size)
{
	char parent[PATH_MAX];
	struct stat st;
	char *slash;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, size, "%s is not a folder", dir);
			return -1;
		}
		if (access(dir, W_OK | X_OK) != 0) {
			snprintf(why, size, "folder %s is not writable: %s", dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT || !may_create) {
		snprintf(why, size, "folder %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) != 0 || access(parent, W_OK | X_OK) != 0) {
		snprintf(why, size, "folder %s does not exist and cannot be made in %s: %s", dir, parent,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "folder %s cannot be made: %s is not a folder", dir, parent);
		return -1;
	}
	return 0;
}

/*
 * Whether the file that key names (unset is fine) can be appended to: the file when it exists, else its
 * folder. Prints the problem and returns -1, or returns 0.
 */
static int
check_append_file(const struct kmipd_config *cfg, const char *path, const char *key, const char *file)
{
	char why[2 * PATH_MAX + 160], msg[PATH_MAX + 128], dir[PATH_MAX];
	char *slash;

	if (file == NULL || file[0] == '\0')
		return 0;
	if (access(file, F_OK) == 0) {
		if (access(file, W_OK) == 0)
			return 0;
		snprintf(why, sizeof(why), "%s %s is not writable: %s", key, file, strerror(errno));
		check_failed(cfg, path, key, why);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", file);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (check_folder(dir, false, msg, sizeof(msg)) != 0) {
		snprintf(why, sizeof(why), "%s %s: %s", key, file, msg);
		check_failed(cfg, path, key, why);
		return -1;
	}
	return 0;
}

/*
 * kmipd -t: what a start needs of the file system, checked as the user running -t (the unit runs it as
 * the service's user): store.path set and its folder writable or creatable; the audit and log files
 * writable, or their folders when they do not exist yet. Prints the first problem and returns -1, or
 * returns 0.
 */
static int
check_files(const struct kmipd_config *cfg, const char *path)
{
	char why[PATH_MAX + 128];

	if (cfg->store.path == NULL || cfg->store.path[0] == '\0') {
		check_failed(cfg, path, "store.path", "store.path is empty: it names the folder of the store");
		return -1;
	}
	if (check_folder(cfg->store.path, true, why, sizeof(why)) != 0) {
		check_failed(cfg, path, "store.path", why);
		return -1;
	}
	if (check_append_file(cfg, path, "audit.file", cfg->audit.file) != 0 ||
	    check_append_file(cfg, path, "log.file", cfg->log.file) != 0)
		return -1;
	return 0;
}

/*
 * server.workers > 1: this process becomes the master of the workers (core/workers.h), which serve; it
 * reports the start when all of them serve. Returns the exit status.
 */
static int
run_master(struct kmipd_config *cfg, const char *path, const char *startdir, char *const *overrides,
    size_t noverrides, int ready)
{
	struct workers *w = NULL;
	int status;

	if (workers_start(cfg, path, startdir, overrides, noverrides, ready, &w) != 0 ||
	    write_pid_file(cfg) != 0) {
		/* What failed was logged as a warning on the way (a worker's own cause): the one error line. */
		log_error("cannot start: %s", log_last_problem());
		workers_free(w);
		return 1;
	}
	daemon_ready(ready);
	status = workers_run(w);
	/* A reload replaced cfg: the master's config now. */
	if (workers_config(w)->server.pid_file != NULL)
		(void)unlink(workers_config(w)->server.pid_file);
	workers_free(w);
	log_info("exiting with status %d", status);
	return status;
}

int
main(int argc, char **argv)
{
	static char *overrides[MAX_OVERRIDES];
	static char abspath[PATH_MAX], startdir[PATH_MAX];
	struct kmipd_config *cfg = NULL;
	struct server srv;
	const char *path = NULL;
	char *cause = NULL;
	const char *what = "";
	size_t noverrides = 0;
	bool foreground = false, check = false, verbose = false;
	char tlskey[48];
	struct access_policy *policy = NULL;
	int ch, status, ready = -1;
	struct rlimit no_core = { 0, 0 };

	/*
	 * Keys and their plaintext pass through this process's memory: a core file would put them on disk in
	 * clear, whatever the store does. Before anything else, for the key-generation workers too.
	 */
	(void)setrlimit(RLIMIT_CORE, &no_core);
	/* A key-generation worker is this program again (keygen.h): nothing of the server runs in it. */
	if (argc > 0 && strcmp(argv[0], KEYGEN_WORKER_NAME) == 0)
		keygen_worker_main();
	umask(077);
	(void)mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	(void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
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
		case 'h':
			usage(true);
			break;
		default:
			usage(false);
		}
	}
	if (optind != argc)
		usage(false);
	/* Without -c, the standard file if there is one, else the embedded defaults (make run). */
	if (path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;

	/* Relative paths mean the directory kmipd started in, for a daemon (which runs in /) and its reloads. */
	if (getcwd(startdir, sizeof(startdir)) == NULL) {
		fprintf(stderr, "kmipd: getcwd: %s\n", strerror(errno));
		return 1;
	}
	if (config_load(path, overrides, noverrides, &cfg, &cause) != 0 ||
	    config_resolve_paths(cfg, startdir, &cause) != 0) {
		fprintf(stderr, "kmipd: %s\n", cause != NULL ? cause : "cannot load the configuration");
		free(cause);
		config_free(cfg);
		return 1;
	}
	if (config_check_cluster(cfg, &cause) != 0) {
		fprintf(stderr, "kmipd: %s: %s\n", path != NULL ? path : "defaults", cause != NULL ? cause : "store");
		free(cause);
		config_free(cfg);
		return 1;
	}
	if (check) {
		if (server_check_tls(cfg, &cause) != 0) {
			check_failed(cfg, path, tls_key(cause, tlskey, sizeof(tlskey)), cause ? cause : "TLS");
			free(cause);
			config_free(cfg);
			return 1;
		}
		/* What only the access policy checks: roles' operation names, grants naming a defined role. */
		if (access_policy_new(cfg, &policy, &cause) != 0) {
			check_failed(cfg, path, NULL, cause ? cause : "access");
			free(cause);
			config_free(cfg);
			return 1;
		}
		access_policy_free(policy);
		if (check_files(cfg, path) != 0) {
			config_free(cfg);
			return 1;
		}
		if (masterkey_check(&cfg->store, &what, &cause) != 0) {
			fprintf(stderr, "kmipd: %s: store %s: %s\n", path != NULL ? path : "defaults", cfg->store.path,
			    cause ? cause : "master key");
			free(cause);
			config_free(cfg);
			return 1;
		}
		server_check_nofile(cfg, false);
		if (verbose)
			config_dump(stdout, cfg);
		fprintf(stderr, "kmipd: %s: configuration OK (%s)\n", path != NULL ? path : "embedded defaults",
		    what);
		config_free(cfg);
		return 0;
	}

	/* A daemon has no terminal: it logs to log.file, else to syslog. */
	log_init(verbose ? LOG_LEVEL_DEBUG : server_log_level(cfg->log.level),
	    cfg->log.target == CONFIG_LOG_SYSLOG || !foreground, cfg->log.syslog_facility);
	log_set_json(cfg->log.format == CONFIG_LOG_JSON);
	if (cfg->log.file != NULL && log_open_file(cfg->log.file, &cause) != 0) {
		fprintf(stderr, "kmipd: %s%s\n", config_where(cfg, "log.file"), cause != NULL ? cause : "log.file");
		free(cause);
		config_free(cfg);
		return 1;
	}
	if (!foreground) {
		/* The daemon runs in /: SIGHUP must find the same file a relative -c named. */
		if (path != NULL && realpath(path, abspath) != NULL)
			path = abspath;
		if ((ready = daemonize()) == -1) {
			log_error("cannot start: %s", log_last_problem());
			config_free(cfg);
			return 1;
		}
		log_set_tee(ready);
	}
	log_info("kmipd %s starting (%s)", KMIPD_VERSION, path != NULL ? path : "embedded defaults");
	if (config_workers(cfg) > 1)
		return run_master(cfg, path, startdir, overrides, noverrides, ready);
	/* Listeners and TLS (the key file may be readable by root only), then the rest as server.user. */
	if (server_init(&srv, cfg, path, startdir, overrides, noverrides) != 0 || server_drop_privileges(srv.cfg) != 0 ||
	    server_open_store(&srv) != 0 || write_pid_file(srv.cfg) != 0) {
		/* What failed was logged as a warning on the way: the one error line says it again. */
		log_error("cannot start: %s", log_last_problem());
		server_free(&srv);
		return 1;
	}
	daemon_ready(ready);
	status = server_run(&srv);
	if (srv.cfg->server.pid_file != NULL)
		(void)unlink(srv.cfg->server.pid_file);
	server_free(&srv);
	log_info("exiting with status %d", status);
	return status;
}
