/*
 * Hot backup: a compacted, consistent copy of a live store. The environment is opened read-only, so the
 * copy runs in another process (kmipctl) while the server writes; LMDB copies one read snapshot. The copy
 * is written under a temporary name, synced, then linked into place, so dest never holds half a copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

/* Opens an existing environment read-only; an LMDB code. */
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

/* Counts the records of a copied store, to prove it opens; an LMDB code. */
static int
verify_copy(const char *dir, uint64_t *objects)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	*objects = 0;
	/* MDB_NOLOCK: leave no lock file in the backup folder. */
	if ((rc = open_ro(dir, MDB_NOLOCK, &env)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, "objects", 0, &dbi)) == 0 && (rc = mdb_stat(txn, dbi, &st)) == 0)
			*objects = st.ms_entries;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

/* Copies the store: see store.h. */
int
store_backup(const char *store_path, const char *dest, char **cause)
{
	MDB_env *env = NULL;
	struct stat st;
	char *tmp = NULL, *final = NULL;
	uint64_t objects;
	int fd = -1, dfd, rc, err = STORE_E_IO;
	bool linked = false;

	if (store_path == NULL || dest == NULL || *store_path == '\0' || *dest == '\0') {
		store_set_cause(cause, "backup needs a store path and a destination");
		return STORE_E_INVALID;
	}
	if (stat(store_path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_set_cause(cause, "%s: not a store folder", store_path);
		return STORE_E_INVALID;
	}
	if (mkdir(dest, 0700) != 0 && errno != EEXIST) {
		store_set_cause(cause, "%s: cannot create the backup folder: %s", dest, strerror(errno));
		return STORE_E_IO;
	}
	if (stat(dest, &st) != 0 || !S_ISDIR(st.st_mode)) {
		store_set_cause(cause, "%s: not a folder", dest);
		return STORE_E_INVALID;
	}
	if (asprintf(&tmp, "%s/data.mdb.tmp", dest) < 0) {
		tmp = NULL;
		goto nomem;
	}
	if (asprintf(&final, "%s/data.mdb", dest) < 0) {
		final = NULL;
		goto nomem;
	}
	if (access(final, F_OK) == 0) {
		store_set_cause(cause, "%s already exists: give an empty folder", final);
		err = STORE_E_INVALID;
		goto fail;
	}
	if ((rc = open_ro(store_path, 0, &env)) != 0) {
		store_set_cause(cause, "%s: cannot open the store: %s", store_path, mdb_strerror(rc));
		goto fail;
	}
	(void)unlink(tmp);	/* left by an interrupted backup */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		store_set_cause(cause, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
	if (rc == MDB_MAP_RESIZED) {
		/* The server grew the map since we opened: adopt its size and copy again. */
		if ((rc = mdb_env_set_mapsize(env, 0)) == 0 && ftruncate(fd, 0) == 0 &&
		    lseek(fd, 0, SEEK_SET) == 0)
			rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
	}
	if (rc != 0) {
		store_set_cause(cause, "%s: copy failed: %s", store_path, mdb_strerror(rc));
		goto fail;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		store_set_cause(cause, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (link(tmp, final) != 0) {
		store_set_cause(cause, "%s: %s", final, strerror(errno));
		goto fail;
	}
	linked = true;
	(void)unlink(tmp);
	if ((dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	mdb_env_close(env);
	env = NULL;
	if ((rc = verify_copy(dest, &objects)) != 0) {
		store_set_cause(cause, "%s: the copy does not open: %s", final, mdb_strerror(rc));
		err = STORE_E_CORRUPT;
		goto fail;
	}
	free(tmp);
	free(final);
	return STORE_OK;
nomem:
	store_set_cause(cause, "out of memory");
	err = STORE_E_NOMEM;
fail:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		(void)unlink(tmp);
	if (linked && final != NULL)
		(void)unlink(final);
	if (env != NULL)
		mdb_env_close(env);
	free(tmp);
	free(final);
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
