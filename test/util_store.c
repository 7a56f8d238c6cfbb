/*
 * The store helper the unit tests of the store and of the engine share: a write from another process. An
 * object of its own in libtestutil.a, so that only the programs that call it need libstore.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "store/store.h"
#include "test/util.h"

/* The child of util_store_write_elsewhere(): never returns. */
static void
write_in_child(const struct store_options *o, const char *uid, util_store_change_fn change, void *arg)
{
	struct store_object *obj = NULL;
	struct store_txn *t;
	struct store *s = NULL;
	char *cause = NULL;
	int rc;

	/* A writer lock held elsewhere would block the child for good: give up after 5 s. */
	alarm(5);
	signal(SIGALRM, SIG_DFL);
	if (store_open(o, &s, &cause) != STORE_OK || store_txn_begin(s, true, &t) != STORE_OK)
		_exit(1);
	if ((rc = store_get(t, uid, &obj)) != STORE_OK && rc != STORE_E_NOTFOUND)
		_exit(1);
	if (change(&obj, arg) != 0 || obj == NULL)
		_exit(2);
	if (store_put(t, obj) != STORE_OK || store_txn_commit(t) != STORE_OK ||
	    store_group_commit(s, NULL, NULL) != STORE_OK)
		_exit(1);
	store_object_free(obj);
	store_close(s);
	_exit(0);
}

/* Runs write_in_child() in a child process and returns how it ended: see util.h. */
int
util_store_write_elsewhere(const struct store_options *o, const char *uid, util_store_change_fn change, void *arg)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		write_in_child(o, uid, change, arg);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return 3;
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The master key of the test stores: see util.h. */
const struct store_kek *
util_store_master_key(void)
{
	static struct store_kek *key;
	static char dir[256];
	struct store_kek_source src;
	char path[320], *cause = NULL;

	if (key != NULL)
		return key;
	assert_int_equal(util_mkdtemp(dir, sizeof(dir), NULL, "kmipd-master"), 0);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(store_master_key_create(path, &cause), STORE_OK);
	memset(&src, 0, sizeof(src));
	src.kind = STORE_KEY_FILE;
	src.path = path;
	if (store_kek_load(&src, &key, &cause) != STORE_OK)
		fail_msg("master key: %s", cause != NULL ? cause : "?");
	(void)unlink(path);
	(void)rmdir(dir);
	return key;
}
