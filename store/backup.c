/*
 * Backup and restore. A backup is one file: a compacted, consistent copy of the store's LMDB data file, made
 * from one read snapshot by another process than the server (kmipctl) while it writes, into a file or a
 * stream. It holds what the store holds: sealed key material, everything else in clear. A restore writes
 * it back as the data file of a store folder that no process has open.
 *
 * The copy goes through a pipe, so that a stream's bytes are counted and a terminal shows progress: a
 * child process opens the store on its own (LMDB forbids using an environment across fork) and writes the
 * snapshot into the pipe; the caller reads it. No thread of ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store_int.h"

#define PROGRESS_STEP	((uint64_t)1 << 20)	/* report progress at most every MiB (or 1%) */

/* Opens an existing environment read-only: a store folder, or a data file with MDB_NOSUBDIR; an LMDB code. */
static int
open_ro(const char *path, unsigned extra, MDB_env **env)
{
	int rc;

	*env = NULL;
	if ((rc = mdb_env_create(env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(*env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_open(*env, path, MDB_RDONLY | MDB_NOTLS | extra, 0600)) != 0) {
		mdb_env_close(*env);
		*env = NULL;
	}
	return rc;
}

/* Opens a lone data file (a backup, or the data file of a store nobody has open); an LMDB code. */
static int
open_file_ro(const char *file, MDB_env **env)
{
	return open_ro(file, MDB_NOSUBDIR | MDB_NOLOCK, env);
}

/* Counts the records of a snapshot of env, and whether the store has a keyring; an LMDB code. */
static int
census(MDB_env *env, struct store_backup_info *info)
{
	MDB_val k = { 7, "keyring" }, v;
	MDB_cursor_op op = MDB_FIRST;
	MDB_cursor *c;
	MDB_dbi obj, meta;
	MDB_txn *txn;
	struct store_rec r;
	int rc;

	info->objects = info->clear = info->unreadable = 0;
	info->encrypted = false;
	/* A live store whose map the server grew since we opened it: adopt the new size. */
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == MDB_MAP_RESIZED &&
	    (rc = mdb_env_set_mapsize(env, 0)) == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "objects", 0, &obj)) != 0 || (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
		goto out;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0)
		info->encrypted = true;
	else if (rc != MDB_NOTFOUND)
		goto out;
	if ((rc = mdb_cursor_open(txn, obj, &c)) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		info->objects++;
		if (store_rec_parse(v.mv_data, v.mv_size, &r) != STORE_OK)
			info->unreadable++;
		else if (!r.sealed && r.material_len > 0)
			info->clear++;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	mdb_txn_abort(txn);
	return rc;
}

/* Writes all of buf; 0, or -1 with errno. */
static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* What a copy of env will write at most: the pages in use (free ones included), for progress. */
static uint64_t
copy_estimate(MDB_env *env)
{
	MDB_envinfo ei;
	MDB_stat ms;

	if (mdb_env_info(env, &ei) != 0 || mdb_env_stat(env, &ms) != 0)
		return 0;
	return (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
}

/*
 * The copying child: opens the store (or a backup file, with flags) read-only and writes a compacted snapshot into pipe_w, adopting a map
 * the server grew meanwhile; reports LMDB's code through status_w. Never returns.
 */
static void
copier_run(const char *path, unsigned flags, int pipe_w, int status_w)
{
	MDB_env *env;
	int rc, tries;

	signal(SIGPIPE, SIG_IGN);	/* a reader that gives up makes the copy fail with EPIPE */
	if ((rc = open_ro(path, flags, &env)) == 0) {
		for (tries = 0; tries < 3; tries++) {
			rc = mdb_env_copyfd2(env, pipe_w, MDB_CP_COMPACT);
			/* MDB_MAP_RESIZED comes before anything is written: adopt the new size, copy again. */
			if (rc != MDB_MAP_RESIZED || mdb_env_set_mapsize(env, 0) != 0)
				break;
		}
	}
	close(pipe_w);
	(void)!write(status_w, &rc, sizeof(rc));
	_exit(0);
}

/*
 * Copies a compacted snapshot of the store at path (open_ro's flags) into fd, counting the bytes into *bytes and reporting progress
 * against estimate (the pages in use: an upper bound, the copy leaves out free pages). Returns LMDB's code,
 * or an errno of the pipe, the child or writing fd (*werr set: then LMDB's is of no interest).
 */
static int
copy_env(const char *path, unsigned flags, uint64_t estimate, int fd, store_progress_fn progress, void *arg,
    uint64_t *bytes, bool *werr)
{
	uint64_t next = 0, step = estimate / 100 > PROGRESS_STEP ? estimate / 100 : PROGRESS_STEP;
	uint8_t buf[65536];
	ssize_t n;
	pid_t pid;
	int p[2], st[2], rc = 0, err = 0, status;

	*bytes = 0;
	*werr = false;
	if (pipe2(p, O_CLOEXEC) != 0) {
		*werr = true;
		return errno;
	}
	if (pipe2(st, O_CLOEXEC) != 0) {
		err = errno;
		close(p[0]);
		close(p[1]);
		*werr = true;
		return err;
	}
	if ((pid = fork()) == -1) {
		err = errno;
		close(p[0]);
		close(p[1]);
		close(st[0]);
		close(st[1]);
		*werr = true;
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		close(st[0]);
		copier_run(path, flags, p[1], st[1]);
	}
	close(p[1]);
	close(st[1]);
	for (;;) {
		if ((n = read(p[0], buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : 0;
			break;
		}
		if (write_all(fd, buf, (size_t)n) != 0) {
			err = errno;
			break;
		}
		*bytes += (uint64_t)n;
		if (progress != NULL && *bytes >= next) {
			progress(arg, *bytes, estimate > *bytes ? estimate : *bytes + 1);
			next = *bytes + step;
		}
	}
	close(p[0]);	/* a copy still writing fails with EPIPE and ends */
	if (read(st[0], &rc, sizeof(rc)) != (ssize_t)sizeof(rc) && err == 0)
		err = EIO;	/* the child died without a word */
	close(st[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	explicit_bzero(buf, sizeof(buf));
	if (err != 0) {
		*werr = true;
		return err;
	}
	if (rc == 0 && progress != NULL)
		progress(arg, *bytes, *bytes);
	return rc;
}

/*
 * Copies the store folder store_path into fd; with count, counts a snapshot taken first (for a stream,
 * which cannot be read back). A store error with *cause.
 */
static int
backup_copy(const char *store_path, int fd, const char *dest, bool count, store_progress_fn progress,
    void *arg, struct store_backup_info *info, char **cause)
{
	MDB_env *env = NULL;
	struct stat st;
	uint64_t estimate = 0;
	bool werr;
	int rc;

	memset(info, 0, sizeof(*info));
	if (store_path == NULL || *store_path == '\0') {
		store_set_cause(cause, "backup needs a store path");
		return STORE_E_INVALID;
	}
	if (stat(store_path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_set_cause(cause, "%s: not a store folder", store_path);
		return STORE_E_INVALID;
	}
	if ((rc = open_ro(store_path, 0, &env)) != 0) {
		store_set_cause(cause, "%s: cannot open the store: %s", store_path, mdb_strerror(rc));
		return STORE_E_IO;
	}
	if (count && (rc = census(env, info)) != 0) {
		store_set_cause(cause, "%s: cannot count the records: %s", store_path, mdb_strerror(rc));
		mdb_env_close(env);
		return STORE_E_IO;
	}
	info->counted_at_start = count;
	estimate = copy_estimate(env);
	mdb_env_close(env);
	rc = copy_env(store_path, 0, estimate, fd, progress, arg, &info->bytes, &werr);
	if (rc != 0 && werr)
		store_set_cause(cause, "%s: %s", dest, strerror(rc));
	else if (rc != 0)
		store_set_cause(cause, "%s: copy failed: %s", store_path, mdb_strerror(rc));
	return rc != 0 ? STORE_E_IO : STORE_OK;
}

/* Copies the store into a file or a stream: see store.h. */
int
store_backup(const char *store_path, int fd, store_progress_fn progress, void *arg,
    struct store_backup_info *info, char **cause)
{
	return backup_copy(store_path, fd, "the output", true, progress, arg, info, cause);
}

/* Makes the entry of file in its folder durable (after a link, rename or mkdir). */
static void
sync_parent(const char *file)
{
	char *copy;
	int dfd;

	if ((copy = strdup(file)) == NULL)
		return;
	if ((dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(copy);
}

/* A new temporary file "path.tmp.XXXXXX" (mode 0600) beside path: its descriptor, or -1 with *cause. */
static int
temp_beside(const char *path, char **tmp, char **cause)
{
	int fd;

	if (asprintf(tmp, "%s.tmp.XXXXXX", path) < 0) {
		*tmp = NULL;
		store_set_cause(cause, "out of memory");
		return -1;
	}
	if ((fd = mkostemp(*tmp, O_CLOEXEC)) == -1) {
		store_set_cause(cause, "%s: %s", *tmp, strerror(errno));
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

/* Syncs and closes a written file; 0, or -1 with *cause. */
static int
sync_close(int fd, const char *name, char **cause)
{
	if (fsync(fd) != 0 || close(fd) != 0) {
		store_set_cause(cause, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Copies the store into a new file: see store.h. */
int
store_backup_file(const char *store_path, const char *dest, store_progress_fn progress, void *arg,
    struct store_backup_info *info, char **cause)
{
	MDB_env *env;
	char *tmp = NULL;
	uint64_t bytes;
	int fd, rc, err = STORE_E_IO;

	memset(info, 0, sizeof(*info));
	if (dest == NULL || *dest == '\0') {
		store_set_cause(cause, "backup needs a destination file");
		return STORE_E_INVALID;
	}
	/* Said early; the link at the end is what refuses atomically. */
	if (access(dest, F_OK) == 0) {
		store_set_cause(cause, "%s: already exists: a backup never replaces a file", dest);
		return STORE_E_INVALID;
	}
	if ((fd = temp_beside(dest, &tmp, cause)) == -1)
		return STORE_E_IO;
	if ((err = backup_copy(store_path, fd, tmp, false, progress, arg, info, cause)) != STORE_OK) {
		close(fd);
		goto fail;
	}
	err = STORE_E_IO;
	bytes = info->bytes;
	if (sync_close(fd, tmp, cause) != 0)
		goto fail;
	/* Counted in the copy itself, which proves that it opens. */
	if ((rc = open_file_ro(tmp, &env)) == 0) {
		rc = census(env, info);
		mdb_env_close(env);
	}
	info->bytes = bytes;
	if (rc != 0) {
		store_set_cause(cause, "%s: the copy does not open: %s", tmp, mdb_strerror(rc));
		err = STORE_E_CORRUPT;
		goto fail;
	}
	/* link, not rename: it never replaces a file that appeared meanwhile. */
	if (link(tmp, dest) != 0) {
		store_set_cause(cause, "%s: %s", dest, errno == EEXIST ? "already exists: a backup never replaces "
		    "a file" : strerror(errno));
		err = errno == EEXIST ? STORE_E_INVALID : STORE_E_IO;
		goto fail;
	}
	(void)unlink(tmp);
	sync_parent(dest);
	free(tmp);
	return STORE_OK;
fail:
	(void)unlink(tmp);
	free(tmp);
	return err;
}

/* Gives a file or folder made by root the owner of the folder it belongs to, so kmipd can open it. */
static int
own_like(int fd, const struct stat *folder)
{
	if (geteuid() != 0)
		return 0;
	return fchown(fd, folder->st_uid, folder->st_gid);
}

/*
 * Makes the store folder when missing (0700, with its parent's owner) and fills *st with it; 0, or -1 with
 * *cause.
 */
static int
restore_folder(const char *store_path, struct stat *st, char **cause)
{
	char *copy;
	struct stat pst;
	int fd;

	if (stat(store_path, st) == 0) {
		if (S_ISDIR(st->st_mode))
			return 0;
		store_set_cause(cause, "%s: not a folder", store_path);
		return -1;
	}
	if (errno != ENOENT || mkdir(store_path, 0700) != 0) {
		store_set_cause(cause, "%s: cannot create the store folder: %s", store_path, strerror(errno));
		return -1;
	}
	if ((copy = strdup(store_path)) != NULL && stat(dirname(copy), &pst) == 0 &&
	    (fd = open(store_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)own_like(fd, &pst);
		close(fd);
	}
	free(copy);
	sync_parent(store_path);
	if (stat(store_path, st) != 0) {
		store_set_cause(cause, "%s: %s", store_path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Takes LMDB's exclusive lock of the store folder: byte 0 of lock.mdb, which every process that has the
 * environment open holds shared. Returns the lock file's descriptor (closing it releases the lock), or -1
 * with *cause and *busy when a process has the store open.
 */
static int
lock_store(const char *store_path, const struct stat *folder, bool *busy, char **cause)
{
	struct flock fl;
	char *lock;
	int fd;

	*busy = false;
	if (asprintf(&lock, "%s/lock.mdb", store_path) < 0) {
		store_set_cause(cause, "out of memory");
		return -1;
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		store_set_cause(cause, "%s: %s", lock, strerror(errno));
		free(lock);
		return -1;
	}
	(void)own_like(fd, folder);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		*busy = errno == EAGAIN || errno == EACCES;
		store_set_cause(cause, *busy ? "%s: a process has the store open (kmipd, or a kmipctl backup): stop "
		    "it first" : "%s: cannot lock the store: %s", store_path, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(lock);
	return fd;
}

/* Counts the objects in the data file of a locked store folder (0 when it has none); an LMDB code or errno. */
static int
objects_present(const char *data, uint64_t *present)
{
	struct store_backup_info info;
	struct stat st;
	MDB_env *env;
	int rc;

	*present = 0;
	if (stat(data, &st) != 0)
		return errno == ENOENT ? 0 : errno;
	if (st.st_size == 0)
		return 0;
	/* Nobody else has it open (we hold the lock): read it as a lone file, leaving the lock file alone. */
	if ((rc = open_file_ro(data, &env)) != 0)
		return rc;
	rc = census(env, &info);
	mdb_env_close(env);
	*present = info.objects;
	return rc;
}

/*
 * A restored cluster node's copy becomes a single machine's store: its replica mark and etcd cluster id go
 * (store_open refuses to write a replica without etcd). Done on the private temporary file before it is
 * renamed into place, so a kill leaves either the old store or the whole restored one. An LMDB code.
 */
static int
unmark_replica(const char *file, bool *was)
{
	static const char *const keys[] = { "replica", "etcd_cluster" };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k;
	size_t i;
	int rc;

	*was = false;
	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_open(env, file, MDB_NOSUBDIR | MDB_NOLOCK, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return rc;
	}
	if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == 0; i++) {
			k.mv_data = (void *)keys[i];
			k.mv_size = strlen(keys[i]);
			if ((rc = mdb_del(txn, meta, &k, NULL)) == 0 && i == 0)
				*was = true;
			else if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	} else if (rc == MDB_NOTFOUND)
		rc = 0;		/* a store without a meta database yet: nothing to unmark */
	if (rc == 0 && *was)
		rc = mdb_txn_commit(txn);	/* synced: the environment has no MDB_NOSYNC */
	else
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

/* Writes a backup back as a store's data file: see store.h. */
int
store_restore(const char *backup, const char *store_path, store_progress_fn progress, void *arg,
    uint64_t *present, struct store_backup_info *info, char **cause)
{
	MDB_env *env = NULL;
	struct stat folder;
	uint64_t estimate = 0;
	char *data = NULL, *tmp = NULL;
	int lfd = -1, fd = -1, rc, err = STORE_E_IO;
	bool busy, werr;

	*present = 0;
	memset(info, 0, sizeof(*info));
	if ((rc = open_file_ro(backup, &env)) != 0) {
		store_set_cause(cause, "%s: not a backup that opens: %s", backup, mdb_strerror(rc));
		return rc == ENOENT ? STORE_E_INVALID : STORE_E_CORRUPT;
	}
	if (restore_folder(store_path, &folder, cause) != 0)
		goto fail;
	if ((lfd = lock_store(store_path, &folder, &busy, cause)) == -1) {
		err = busy ? STORE_E_BUSY : STORE_E_IO;
		goto fail;
	}
	if (asprintf(&data, "%s/data.mdb", store_path) < 0) {
		data = NULL;
		store_set_cause(cause, "out of memory");
		err = STORE_E_NOMEM;
		goto fail;
	}
	if ((rc = objects_present(data, present)) != 0 || *present > 0) {
		if (rc != 0)
			store_set_cause(cause, "%s: cannot read it (%s): move the store folder aside, then restore "
			    "into an empty one", data, mdb_strerror(rc));
		else
			store_set_cause(cause, "%s holds %" PRIu64 " objects: a restore goes into an empty store; move "
			    "the store folder aside first", store_path, *present);
		err = STORE_E_INVALID;
		goto fail;
	}
	if ((fd = temp_beside(data, &tmp, cause)) == -1)
		goto fail;
	if (own_like(fd, &folder) != 0) {
		store_set_cause(cause, "%s: cannot give it the store folder's owner: %s", tmp, strerror(errno));
		goto fail;
	}
	estimate = copy_estimate(env);
	if ((rc = copy_env(backup, MDB_NOSUBDIR | MDB_NOLOCK, estimate, fd, progress, arg, &info->bytes,
	    &werr)) != 0) {
		store_set_cause(cause, "%s: %s", werr ? tmp : backup, mdb_strerror(rc));	/* errno values too */
		goto fail;
	}
	if ((rc = census(env, info)) != 0) {
		store_set_cause(cause, "%s: %s", backup, mdb_strerror(rc));
		goto fail;
	}
	rc = sync_close(fd, tmp, cause);
	fd = -1;
	if (rc != 0)
		goto fail;
	if ((rc = unmark_replica(tmp, &info->was_replica)) != 0) {
		store_set_cause(cause, "%s: %s", tmp, mdb_strerror(rc));
		goto fail;
	}
	/* A kill before the rename leaves the store as it was (and a temporary file); after it, the backup. */
	if (rename(tmp, data) != 0) {
		store_set_cause(cause, "%s: %s", data, strerror(errno));
		goto fail;
	}
	sync_parent(data);
	/*
	 * Opened once through LMDB before the lock goes: being this process's, our exclusive lock lets LMDB
	 * take it and set up a lock file made just now; a kmipd that waits for it then finds one ready.
	 */
	mdb_env_close(env);
	if ((rc = open_ro(store_path, 0, &env)) != 0) {
		store_set_cause(cause, "%s: restored, but it does not open: %s", store_path, mdb_strerror(rc));
		goto fail;
	}
	err = STORE_OK;
fail:
	if (fd != -1)
		close(fd);
	if (tmp != NULL && err != STORE_OK)
		(void)unlink(tmp);
	if (lfd != -1)
		close(lfd);	/* the lock goes with it; a kmipd waiting for it opens the restored store */
	if (env != NULL)
		mdb_env_close(env);
	free(tmp);
	free(data);
	return err;
}

/* Replaces the data file with a compacted copy and reopens the store: see store.h. */
int
store_compact(struct store **sp, const struct store_options *o, char **cause)
{
	struct store *s = *sp;
	char *tmp = NULL, *final = NULL;
	int fd = -1, dfd, rc, err = STORE_E_IO;

	if (s->open || store_group_pending(s)) {
		store_set_cause(cause, "%s: cannot compact with writes pending", s->path);
		return STORE_E_BUSY;
	}
	if (asprintf(&tmp, "%s/data.mdb.compact", s->path) < 0 || asprintf(&final, "%s/data.mdb", s->path) < 0) {
		store_set_cause(cause, "out of memory");
		free(tmp);
		return STORE_E_NOMEM;
	}
	(void)unlink(tmp);	/* left by an interrupted compaction: the data file is still the old one */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		store_set_cause(cause, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT)) != 0) {
		store_set_cause(cause, "%s: compacting copy failed: %s", s->path, mdb_strerror(rc));
		goto fail;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		store_set_cause(cause, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	store_close(s);
	*sp = NULL;
	/* A kill before the rename leaves the old file (compacted again next time); after it, the copy. */
	if (rename(tmp, final) != 0) {
		store_set_cause(cause, "%s: %s", final, strerror(errno));
		goto reopen;
	}
	if ((dfd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	err = STORE_OK;
reopen:
	free(tmp);
	free(final);
	tmp = final = NULL;
	if ((rc = store_open(o, sp, err == STORE_OK ? cause : NULL)) != STORE_OK)
		return rc;
	if (err != STORE_OK)
		return err;
	return store_clear_pages_done(*sp, cause);
fail:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	free(tmp);
	free(final);
	return err;
}
