/*
 * Backup and restore as an operator runs them: the real kmipctl against the store of a real kmipd. A backup
 * is one file made while clients write (or a stream on stdout), never replaces a file, and holds none of
 * the key bytes; verify names a record whose sealed part was altered and refuses a wrong master key;
 * restore goes only into a stopped server's empty store, lists what comes back and what is lost, and kmipd
 * then serves every key byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cmocka.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define SECRET_LEN	32
#define NKEYS		6
#define OUT_MAX		16384

struct key {
	char uid[64];
	uint8_t secret[SECRET_LEN];
};

/* The config kmipd and kmipctl read, with the server's master key. */
static const char *
ctl_conf(struct h_server *s)
{
	char extra[400];

	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", h_master_key(s));
	return h_write_config(s, extra);
}

/* Waits for kmipctl: its exit status (-1 if it did not exit), what it printed in buf. */
static int
ctl_wait(pid_t pid, const char *log, char *buf, size_t size)
{
	size_t n = 0;
	int status;
	FILE *f;

	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	buf[0] = '\0';
	if ((f = fopen(log, "r")) != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	printf("kmipctl: %s", buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* True while process pid runs (it is not reaped: ctl_wait does that). */
static bool
running(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	return si.si_pid == 0;
}

/* Runs kmipctl with args; its exit status, what it printed in buf (shown in the test's output too). */
static int
ctl(char *buf, size_t size, const char *const *args)
{
	int status = h_run_kmipctl(args, buf, size);

	printf("kmipctl %s: %s", args[0], buf);	/* not print_message: it cuts at 1 KiB */
	return status;
}

#define CTL(buf, ...) ctl((buf), sizeof(buf), (const char *const[]){ __VA_ARGS__, NULL })

/* Runs kmipctl backup -c conf - with stdout a pipe that this process copies into path; its exit status. */
static int
ctl_stream(struct h_server *s, const char *conf, const char *path, char *buf, size_t size)
{
	const char *const args[] = { "backup", "-c", conf, "-", NULL };
	char log[320], chunk[4096];
	int p[2], fd;
	ssize_t n;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/kmipctl.out", s->dir);
	assert_int_equal(pipe(p), 0);
	pid = h_start_kmipctl(log, p[1], args);
	close(p[1]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
		assert_int_equal(write(fd, chunk, (size_t)n), n);
	close(p[0]);
	close(fd);
	return ctl_wait(pid, log, buf, size);
}

/* Registers Secret Data with random bytes over KMIP, keeping its identifier and bytes in k. */
static void
register_key(struct kmip_client *cl, struct key *k)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	assert_int_equal(RAND_bytes(k->secret, SECRET_LEN), 1);
	h_register_secret_request(&e, k->secret, SECRET_LEN);
	resp = h_call(cl, &e, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, k->uid, sizeof(k->uid));
	assert_true(k->uid[0] != '\0');
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
}

/* Sends op (Destroy, or Revoke with reason) for uid and checks that it succeeds. */
static void
uid_op(struct kmip_client *cl, uint32_t op, const char *uid, uint32_t reason)
{
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;

	h_uid_request(&e, op, uid, reason);
	resp = h_call(cl, &e, &a);
	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
}

/* Gets k over KMIP: true with its bytes checked, false when the server does not have it. */
static bool
get_key(struct kmip_client *cl, const struct key *k)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	bool found;

	h_uid_request(&e, KMIP_OPERATION_GET, k->uid, 0);
	resp = h_call(cl, &e, &a);
	if ((found = h_item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS)) {
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), KMIP_TAG_SECRET_DATA),
		    KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		if (m == NULL || m->length != SECRET_LEN || memcmp(m->v.bytes.data, k->secret, SECRET_LEN) != 0)
			fail_msg("key %s came back with other bytes", k->uid);
	}
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
	return found;
}

/* Reads a whole file into a malloc'd buffer. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	FILE *f;

	assert_int_equal(stat(path, &st), 0);
	*len = (size_t)st.st_size;
	assert_non_null(buf = malloc(*len + 1));
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

/* How many of the keys' bytes appear in the file. */
static size_t
keys_in_file(const char *path, const struct key *keys, size_t n)
{
	size_t len, i, found = 0;
	uint8_t *buf = slurp(path, &len);

	for (i = 0; i < n; i++)
		if (memmem(buf, len, keys[i].secret, SECRET_LEN) != NULL)
			found++;
	free(buf);
	return found;
}

/* The number after "objects: " in verify's output, or -1. */
static long
verified_objects(const char *out)
{
	const char *p = strstr(out, "\nobjects: ");

	return p != NULL ? strtol(p + 10, NULL, 10) : -1;
}

/*
 * kmipctl backup -c CONFIG FILE while a client writes: one file that verifies with at least what was
 * acknowledged before it began; a second backup to the same FILE is refused and leaves it alone; backup -
 * streams to a pipe what verifies too, and prints nothing else there.
 */
static void
test_backup_file_and_stream(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct key keys[200];
	struct kmip_client *cl;
	struct h_server s;
	struct stat st, st2;
	char file[320], stream[320], log[320], out[OUT_MAX];
	const char *conf;
	size_t n = 0, before;
	pid_t pid;

	(void)state;
	h_start(&s, opts);
	conf = ctl_conf(&s);
	cl = h_connect(&s, ctx);
	for (; n < 20; n++)
		register_key(cl, &keys[n]);
	before = n;
	snprintf(file, sizeof(file), "%s/kmipd.backup", s.dir);
	snprintf(log, sizeof(log), "%s/kmipctl.out", s.dir);
	pid = h_start_kmipctl(log, -1, (const char *const[]){ "backup", "-c", conf, file, NULL });
	/* Writes while the backup runs, a few at least. */
	while (n < 5 + before || (n < 200 && running(pid)))
		register_key(cl, &keys[n++]);
	assert_int_equal(ctl_wait(pid, log, out, sizeof(out)), 0);
	assert_non_null(strstr(out, " objects, "));
	assert_non_null(strstr(out, " bytes in "));
	assert_non_null(strstr(out, "sealed"));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(CTL(out, "verify", "-c", conf, file), 0);
	assert_true(verified_objects(out) >= (long)before);
	assert_non_null(strstr(out, "Secret Data, Pre-Active: "));

	/* Never over an existing file. */
	snprintf(stream, sizeof(stream), "%s/streamed.backup", s.dir);
	assert_int_equal(CTL(out, "backup", "-c", conf, file), 1);
	assert_non_null(strstr(out, "already exists"));
	assert_int_equal(stat(file, &st2), 0);
	assert_true(st2.st_ino == st.st_ino && st2.st_size == st.st_size && st2.st_mtime == st.st_mtime);
	/* The old two-operand form is refused with the new one's usage. */
	assert_int_equal(CTL(out, "backup", s.dir, stream), 2);
	assert_non_null(strstr(out, "usage: kmipctl backup"));

	/* A stream: everything on stdout is the backup, the report goes to stderr. */
	assert_int_equal(ctl_stream(&s, conf, stream, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "to stdout: "));
	assert_int_equal(CTL(out, "verify", "-c", conf, stream), 0);
	assert_int_equal(verified_objects(out), (long)n);
	/* A backup holds sealed material only. */
	assert_int_equal(keys_in_file(file, keys, n), 0);
	assert_int_equal(keys_in_file(stream, keys, n), 0);

	kmip_client_close(cl);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/*
 * The same keys registered into a store kept in clear are in its backup (which proves the search), and
 * backup says so loudly; registered into an encrypted store, none of their bytes is in the backup.
 */
static void
test_backup_holds_no_key_bytes(void **state)
{
	static const char *const clear[] = { "keygen.pool_size=0", "store.encryption=false", NULL };
	static const char *const sealed[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct key keys[NKEYS];
	struct kmip_client *cl;
	struct h_server s;
	char file[320], out[OUT_MAX];
	const char *conf;
	int encrypted, i;

	(void)state;
	for (encrypted = 0; encrypted < 2; encrypted++) {
		h_start(&s, encrypted ? sealed : clear);
		conf = encrypted ? ctl_conf(&s) : h_write_config(&s, "encryption = false;");
		cl = h_connect(&s, ctx);
		for (i = 0; i < NKEYS; i++)
			register_key(cl, &keys[i]);
		kmip_client_close(cl);
		snprintf(file, sizeof(file), "%s/kmipd.backup", s.dir);
		assert_int_equal(CTL(out, "backup", "-c", conf, file), 0);
		if (encrypted) {
			assert_null(strstr(out, "IN CLEAR"));
			assert_int_equal(keys_in_file(file, keys, NKEYS), 0);
		} else {
			assert_non_null(strstr(out, "WARNING: the key material of 6 objects is IN CLEAR"));
			assert_int_equal(keys_in_file(file, keys, NKEYS), NKEYS);
		}
		assert_int_equal(h_stop(&s, 10000), 0);
		h_cleanup(&s);
	}
	SSL_CTX_free(ctx);
}

/*
 * Flips the last byte of uid's record in a backup file: the end of its sealed part (the GCM tag). The
 * record is an LMDB leaf node, an 8-byte header (data size in two little-endian halves, flags, key size)
 * then the key (the uid) and the record, which starts "KS" 2 48.
 */
static void
flip_record_byte(const char *path, const char *uid)
{
	uint8_t pat[2 + 64 + 4], *buf, *q;
	size_t len, ulen = strlen(uid), size;
	FILE *f;

	pat[0] = (uint8_t)ulen;
	pat[1] = (uint8_t)(ulen >> 8);
	memcpy(pat + 2, uid, ulen);
	memcpy(pat + 2 + ulen, "KS\x02\x30", 4);
	buf = slurp(path, &len);
	q = memmem(buf, len, pat, ulen + 6);
	assert_non_null(q);
	assert_null(memmem(q + 1, len - (size_t)(q + 1 - buf), pat, ulen + 6));
	q += 2;		/* the uid */
	size = (size_t)q[-8] | (size_t)q[-7] << 8 | (size_t)q[-6] << 16 | (size_t)q[-5] << 24;
	assert_true(size > 48 && q + ulen + size <= buf + len);
	q[ulen + size - 1] ^= 0x01;
	assert_non_null(f = fopen(path, "r+b"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
}

/*
 * verify: a backup with one flipped byte in a record's sealed part fails naming that record only (and
 * restore refuses it); a wrong master key is refused with a clear error.
 */
static void
test_verify_failures(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct key keys[NKEYS];
	struct kmip_client *cl;
	struct h_server s;
	char file[320], bad[320], other[320], opt[400], out[OUT_MAX], line[1024];
	uint8_t key[32];
	const char *conf;
	int i, fd;

	(void)state;
	h_start(&s, opts);
	conf = ctl_conf(&s);
	cl = h_connect(&s, ctx);
	for (i = 0; i < NKEYS; i++)
		register_key(cl, &keys[i]);
	kmip_client_close(cl);
	snprintf(file, sizeof(file), "%s/kmipd.backup", s.dir);
	snprintf(bad, sizeof(bad), "%s/flipped.backup", s.dir);
	assert_int_equal(CTL(out, "backup", "-c", conf, file), 0);
	h_copy_file(file, bad);
	flip_record_byte(bad, keys[2].uid);
	assert_int_equal(CTL(out, "verify", "-c", conf, bad), 1);
	snprintf(line, sizeof(line), "record %s: its sealed part does not verify", keys[2].uid);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "1 records fail"));
	for (i = 0; i < NKEYS; i++) {
		snprintf(line, sizeof(line), "record %s:", keys[i].uid);
		assert_true(i == 2 || strstr(out, line) == NULL);
	}
	assert_int_equal(CTL(out, "verify", "-c", conf, file), 0);

	/* Another master key opens nothing, and says so. */
	snprintf(other, sizeof(other), "%s/other.key", s.dir);
	assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
	assert_true((fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
	close(fd);
	snprintf(opt, sizeof(opt), "store.master_key_file=%s", other);
	assert_int_equal(CTL(out, "verify", "-c", conf, "-o", opt, file), 1);
	assert_non_null(strstr(out, "is not a key this store's data key"));
	assert_null(strstr(out, "\nobjects: "));

	/* restore verifies first: nothing of a bad backup is written. */
	assert_int_equal(h_stop(&s, 10000), 0);
	snprintf(line, sizeof(line), "%s/store", s.dir);
	assert_int_equal(util_rmtree(line), 0);
	assert_int_equal(CTL(out, "restore", "-c", conf, bad), 1);
	assert_non_null(strstr(out, "nothing restored"));
	assert_int_equal(access(line, F_OK), -1);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/*
 * restore, as the README has it: refused into a store with objects (saying what would change) and into a
 * store kmipd has open; into an empty one with --compare naming the store moved aside, it lists the key
 * destroyed and the key compromised since the backup (back) and the key made since (lost); kmipd then
 * serves every key of the backup byte for byte, the destroyed one included.
 */
static void
test_restore(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct key keys[NKEYS + 1];
	struct kmip_client *cl;
	struct h_server s;
	char file[320], store[320], old[320], out[OUT_MAX], line[1024];
	const char *conf;
	int i;

	(void)state;
	h_start(&s, opts);
	conf = ctl_conf(&s);
	snprintf(file, sizeof(file), "%s/kmipd.backup", s.dir);
	snprintf(store, sizeof(store), "%s/store", s.dir);
	snprintf(old, sizeof(old), "%s/store.old", s.dir);
	cl = h_connect(&s, ctx);
	for (i = 0; i < NKEYS; i++)
		register_key(cl, &keys[i]);
	assert_int_equal(CTL(out, "backup", "-c", conf, file), 0);
	/* Since the backup: key 0 destroyed, key 1 compromised, one more key made. */
	uid_op(cl, KMIP_OPERATION_DESTROY, keys[0].uid, 0);
	uid_op(cl, KMIP_OPERATION_REVOKE, keys[1].uid, KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE);
	register_key(cl, &keys[NKEYS]);
	kmip_client_close(cl);

	/* Stopped, but the store holds objects: refused, with what a restore would change. */
	assert_int_equal(h_stop(&s, 10000), 0);
	assert_int_equal(CTL(out, "restore", "-c", conf, file), 1);
	assert_non_null(strstr(out, "holds 7 objects"));
	snprintf(line, sizeof(line), "back: %s Secret Data, Pre-Active in the backup, Destroyed in %s", keys[0].uid,
	    store);
	assert_non_null(strstr(out, line));

	/* Moved aside; kmipd started on the empty store has it open: refused. */
	assert_int_equal(rename(store, old), 0);
	h_restart(&s, opts);
	assert_int_equal(CTL(out, "restore", "-c", conf, file), 1);
	assert_non_null(strstr(out, "a process has the store open"));
	assert_null(strstr(out, "restored:"));
	assert_int_equal(h_stop(&s, 10000), 0);

	/* Stopped and empty: restored, with the listing. */
	assert_int_equal(CTL(out, "restore", "-c", conf, "--compare", old, file), 0);
	assert_non_null(strstr(out, "restored: "));
	assert_non_null(strstr(out, "verified: every record opens and parses"));
	snprintf(line, sizeof(line), "back: %s Secret Data, Pre-Active in the backup, Destroyed in %s", keys[0].uid,
	    old);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof(line), "back: %s Secret Data, Pre-Active in the backup, Compromised in %s",
	    keys[1].uid, old);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof(line), "lost: %s Secret Data, Pre-Active in %s: made after the backup",
	    keys[NKEYS].uid, old);
	assert_non_null(strstr(out, line));
	for (i = 2; i < NKEYS; i++) {
		snprintf(line, sizeof(line), "%s Secret Data", keys[i].uid);
		assert_null(strstr(out, line));
	}
	assert_non_null(strstr(out, "2 objects destroyed or compromised since the backup come back"));

	h_restart(&s, opts);
	cl = h_connect(&s, ctx);
	for (i = 0; i < NKEYS; i++)
		if (!get_key(cl, &keys[i]))
			fail_msg("key %s is not back", keys[i].uid);
	assert_false(get_key(cl, &keys[NKEYS]));
	kmip_client_close(cl);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

/*
 * kmipctl's administrative commands write audit lines to the config's audit.file: purge and data-key
 * rotate record the OS user, what was asked and the outcome, as JSON; with audit.required and a trail
 * that cannot be written, purge refuses to run.
 */
static void
test_admin_audit(void **state)
{
	static const char *const opts[] = { "keygen.pool_size=0", NULL };
	SSL_CTX *ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	struct kmip_client *cl;
	struct h_server s;
	struct key k;
	char extra[1200], audit[320], out[OUT_MAX], *log, *purge, *rotate;
	const char *conf;

	(void)state;
	h_start(&s, opts);
	cl = h_connect(&s, ctx);
	register_key(cl, &k);
	uid_op(cl, KMIP_OPERATION_DESTROY, k.uid, 0);
	kmip_client_close(cl);
	snprintf(audit, sizeof(audit), "%s/admin-audit.log", s.dir);
	/* h_write_config puts extra inside the store group: close it and open the audit group. */
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\"; };\naudit: { file = \"%s\"; required = true;",
	    h_master_key(&s), audit);
	conf = h_write_config(&s, extra);
	assert_int_equal(CTL(out, "purge", "-c", conf), 0);
	assert_non_null(strstr(out, "purged 1 destroyed objects"));
	assert_int_equal(CTL(out, "data-key", "rotate", "-c", conf), 0);
	assert_int_equal(h_audit_valid(audit), 0);
	assert_non_null(log = util_read_file(audit, NULL));
	printf("audit: %s", log);
	assert_non_null(purge = strstr(log, "\"event\":\"admin_purge\",\"phase\":\"outcome\""));
	assert_non_null(strstr(purge, "\"detail\":\"purge owner=(any)"));
	assert_non_null(strstr(purge, "\"result\":\"success\",\"message\":\"purged 1 destroyed objects"));
	assert_non_null(strstr(log, "\"event\":\"admin_purge\",\"phase\":\"intent\""));
	assert_non_null(rotate = strstr(log, "\"event\":\"admin_data_key_rotate\",\"phase\":\"outcome\""));
	assert_true(purge < rotate);
	assert_non_null(strstr(rotate, "\"result\":\"success\",\"message\":\"data key 2 is current\""));
	assert_non_null(strstr(rotate, "\"user\":\""));
	free(log);

	/* audit.required with a trail that cannot be opened (a folder): purge does not run. */
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\"; };\naudit: { file = \"%s\"; required = true;",
	    h_master_key(&s), s.dir);
	conf = h_write_config(&s, extra);
	assert_int_equal(CTL(out, "purge", "-c", conf), 1);
	assert_non_null(strstr(out, "audit.required is set: not run"));
	assert_null(strstr(out, "purged"));
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
	SSL_CTX_free(ctx);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_file_and_stream),
		cmocka_unit_test(test_backup_holds_no_key_bytes),
		cmocka_unit_test(test_verify_failures),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_admin_audit),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
