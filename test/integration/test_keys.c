/*
 * Keys at rest, against the real kmipd and kmipctl over mutual TLS: no key bytes in the store files, the
 * log or the audit trail; a start refused with one clear line without the right master key (file,
 * credential, PKCS#11 token on SoftHSM2); migration of a store kept in clear, also after a SIGKILL; the
 * master key rotated with SIGHUP; a data key rotation re-encrypting in the background, also after a
 * SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "proto/names.h"
#include "test/integration/harness.h"
#include "test/util.h"

#define KEY_LEN		32
#define NKEYS		12

/* What a test registered or created, and the bytes kmipd gave back. */
struct keyset {
	size_t n;
	char uid[2 * NKEYS][64];
	uint8_t bytes[2 * NKEYS][KEY_LEN];
	uint32_t tag[2 * NKEYS];	/* the object's tag in a Get response */
};

static SSL_CTX *ctx;

static int
group_setup(void **state)
{
	(void)state;
	ctx = h_client_ctx(h_cert("client.crt"), h_cert("client.key"), NULL, 0, 0);
	return ctx != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(ctx);
	return 0;
}

/* Sends a request that makes an object and copies its identifier into uid (success asserted). */
static void
call_for_uid(struct kmip_client *cl, struct ttlv_enc *e, char *uid, size_t size)
{
	struct ttlv_arena *a;
	struct ttlv *resp = h_call(cl, e, &a);

	assert_int_equal(h_item_status(resp, 0), KMIP_RESULT_STATUS_SUCCESS);
	h_payload_text(resp, KMIP_TAG_UNIQUE_IDENTIFIER, uid, size);
	ttlv_arena_free(a);
	ttlv_enc_free(e);
}

/* Registers an AES-256 key of known bytes; returns its uid in ks. */
static void
register_aes(struct kmip_client *cl, struct keyset *ks)
{
	struct ttlv_enc e;
	size_t i = ks->n++;

	assert_int_equal(RAND_bytes(ks->bytes[i], KEY_LEN), 1);
	ks->tag[i] = KMIP_TAG_SYMMETRIC_KEY;
	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	ttlv_enc_end(&e);
	ttlv_enc_begin(&e, KMIP_TAG_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_RAW);
	ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
	ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, ks->bytes[i], KEY_LEN);
	ttlv_enc_end(&e);
	ttlv_enc_enum(&e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	ttlv_enc_int(&e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	ttlv_enc_end(&e);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	call_for_uid(cl, &e, ks->uid[i], sizeof(ks->uid[i]));
}

/* Registers a password (Secret Data) of known bytes. */
static void
register_secret(struct kmip_client *cl, struct keyset *ks)
{
	struct ttlv_enc e;
	size_t i = ks->n++;

	assert_int_equal(RAND_bytes(ks->bytes[i], KEY_LEN), 1);
	ks->tag[i] = KMIP_TAG_SECRET_DATA;
	h_register_secret_request(&e, ks->bytes[i], KEY_LEN);
	call_for_uid(cl, &e, ks->uid[i], sizeof(ks->uid[i]));
}

/* Gets an object's key material into out (KEY_LEN bytes); false when the Get fails. */
static bool
get_bytes(struct kmip_client *cl, const char *uid, uint32_t tag, uint8_t *out)
{
	const struct ttlv *m;
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	bool ok = false;

	h_uid_request(&e, KMIP_OPERATION_GET, uid, 0);
	resp = h_call(cl, &e, &a);
	if (h_item_status(resp, 0) == KMIP_RESULT_STATUS_SUCCESS) {
		m = ttlv_find(ttlv_find(ttlv_find(ttlv_find(h_payload(resp, 0), tag), KMIP_TAG_KEY_BLOCK),
		    KMIP_TAG_KEY_VALUE), KMIP_TAG_KEY_MATERIAL);
		assert_non_null(m);
		assert_int_equal(m->length, KEY_LEN);
		memcpy(out, m->v.bytes.data, KEY_LEN);
		ok = true;
	}
	ttlv_arena_free(a);
	ttlv_enc_free(&e);
	return ok;
}

/* Creates an AES-256 key and Gets its bytes (what kmipd made, for the scans). */
static void
create_aes(struct kmip_client *cl, struct keyset *ks)
{
	struct ttlv_enc e;
	size_t i = ks->n++;

	ks->tag[i] = KMIP_TAG_SYMMETRIC_KEY;
	h_request_begin(&e, 1, 4, 1);
	h_item_begin(&e, KMIP_OPERATION_CREATE);
	ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
	ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	h_attr_enum(&e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	h_attr_int(&e, "Cryptographic Length", 256);
	h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT);
	ttlv_enc_end(&e);
	h_item_end(&e);
	h_request_end(&e);
	call_for_uid(cl, &e, ks->uid[i], sizeof(ks->uid[i]));
	assert_true(get_bytes(cl, ks->uid[i], KMIP_TAG_SYMMETRIC_KEY, ks->bytes[i]));
}

/* Fills ks with registered keys, passwords and created keys on a running server. */
static void
make_keys(struct h_server *s, struct keyset *ks, size_t n)
{
	struct kmip_client *cl = h_connect(s, ctx);
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 3 == 0)
			register_aes(cl, ks);
		else if (i % 3 == 1)
			register_secret(cl, ks);
		else
			create_aes(cl, ks);
	}
	kmip_client_close(cl);
}

/* Every object of ks reads back byte for byte. */
static void
check_keys(struct h_server *s, const struct keyset *ks)
{
	struct kmip_client *cl = h_connect(s, ctx);
	uint8_t got[KEY_LEN];
	size_t i;

	for (i = 0; i < ks->n; i++) {
		if (!get_bytes(cl, ks->uid[i], ks->tag[i], got))
			fail_msg("%s does not read back", ks->uid[i]);
		assert_memory_equal(got, ks->bytes[i], KEY_LEN);
	}
	kmip_client_close(cl);
}

/* How many of the keys appear in a file, as bytes or as hexadecimal text (either case). */
static size_t
found_in(const char *path, const struct keyset *ks)
{
	char hex[2 * KEY_LEN + 1], hexu[2 * KEY_LEN + 1];
	size_t len, i, j, found = 0;
	char *data;

	if ((data = util_read_file(path, &len)) == NULL)
		return 0;
	for (i = 0; i < ks->n; i++) {
		for (j = 0; j < KEY_LEN; j++) {
			snprintf(hex + 2 * j, 3, "%02x", ks->bytes[i][j]);
			snprintf(hexu + 2 * j, 3, "%02X", ks->bytes[i][j]);
		}
		if (memmem(data, len, ks->bytes[i], KEY_LEN) != NULL || memmem(data, len, hex, 2 * KEY_LEN) != NULL ||
		    memmem(data, len, hexu, 2 * KEY_LEN) != NULL)
			found++;
	}
	free(data);
	return found;
}

/* The keys found in the store's data and lock files. */
static size_t
found_in_store(struct h_server *s, const struct keyset *ks)
{
	char path[400];
	size_t n;

	snprintf(path, sizeof(path), "%s/store/data.mdb", s->dir);
	n = found_in(path, ks);
	snprintf(path, sizeof(path), "%s/store/lock.mdb", s->dir);
	return n + found_in(path, ks);
}

/* After Register and Create of keys with known material: none of it in the store, the log, the audit. */
static void
test_no_key_bytes_at_rest(void **state)
{
	char audit[400], opt[460];
	const char *opts[] = { opt, "log.level=debug", NULL };
	struct keyset ks = { 0 };
	struct h_server s;

	(void)state;
	h_make_dir(&s);
	snprintf(audit, sizeof(audit), "%s/audit.log", s.dir);
	snprintf(opt, sizeof(opt), "audit.file=%s", audit);
	h_restart(&s, opts);
	make_keys(&s, &ks, NKEYS);
	check_keys(&s, &ks);
	assert_int_equal(h_stop(&s, 5000), 0);
	assert_int_equal(found_in_store(&s, &ks), 0);
	assert_int_equal(found_in(s.log, &ks), 0);
	assert_true(access(audit, F_OK) == 0);
	assert_int_equal(found_in(audit, &ks), 0);
	/* The scan finds what is there: the same keys with encryption off are in the store's file. */
	h_cleanup(&s);
	memset(&ks, 0, sizeof(ks));
	{
		static const char *const clear[] = { "store.encryption=false", NULL };

		h_start(&s, clear);
		make_keys(&s, &ks, 6);
		assert_int_equal(h_stop(&s, 5000), 0);
		assert_true(found_in_store(&s, &ks) >= 6);
		h_cleanup(&s);
	}
}

/*
 * Runs kmipd on s's folder with the test certificates and the extra -o options (NULL-terminated), expecting
 * it to exit at once with a failure whose output holds want. check adds -t.
 */
static void
start_refused(struct h_server *s, bool check, const char *want, ...)
{
	char out[8192], opts[16][600];
	const char *argv[48];
	const char *o;
	size_t argc = 0, n = 0;
	va_list ap;
	int status;

#define ADD(...) do {							\
		snprintf(opts[n], sizeof(opts[n]), __VA_ARGS__);	\
		argv[argc++] = "-o";					\
		argv[argc++] = opts[n++];				\
	} while (0)
	argv[argc++] = check ? "-t" : "-f";
	ADD("server.listen=127.0.0.1");
	ADD("server.port=1");	/* never reached: the keys are checked before listening */
	ADD("tls.cert_file=%s", h_cert("server.crt"));
	ADD("tls.key_file=%s", h_cert("server.key"));
	ADD("tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	ADD("store.path=%s/store", s->dir);
	va_start(ap, want);
	while ((o = va_arg(ap, const char *)) != NULL)
		ADD("%s", o);
	va_end(ap);
#undef ADD
	argv[argc] = NULL;
	status = h_run_kmipd(argv, out, sizeof(out));
	if (status == 0 || strstr(out, want) == NULL)
		fail_msg("kmipd %s exited %d without \"%s\":\n%s", check ? "-t" : "-f", status, want, out);
}

/* kmipd -t on s's folder with extra options: its output (exit status 0 asserted). */
static void
check_ok(struct h_server *s, const char *want, const char *opt)
{
	char out[8192], o[5][600];
	const char *argv[] = { "-t", "-o", o[0], "-o", o[1], "-o", o[2], "-o", o[3], "-o", o[4], NULL };

	snprintf(o[0], sizeof(o[0]), "tls.cert_file=%s", h_cert("server.crt"));
	snprintf(o[1], sizeof(o[1]), "tls.key_file=%s", h_cert("server.key"));
	snprintf(o[2], sizeof(o[2]), "tls.clients_ca_cert_file=%s", h_cert("ca.crt"));
	snprintf(o[3], sizeof(o[3]), "store.path=%s/store", s->dir);
	snprintf(o[4], sizeof(o[4]), "%s", opt);
	if (h_run_kmipd(argv, out, sizeof(out)) != 0 || strstr(out, want) == NULL)
		fail_msg("kmipd -t does not say \"%s\":\n%s", want, out);
}

/* No master key, a wrong one, a key file others may read: refused, by a start and by -t; the right one reads all. */
static void
test_start_refusals(void **state)
{
	char wrong[400], open_key[400], right[460], wrong_opt[460], open_opt[460];
	struct keyset ks = { 0 };
	struct h_server s;
	uint8_t bytes[32];
	int fd;

	(void)state;
	h_make_dir(&s);
	/* No store yet: -t says it is made encrypted; without a key, start and -t refuse. */
	snprintf(right, sizeof(right), "store.master_key_file=%s", h_master_key(&s));
	check_ok(&s, "made encrypted at start", right);
	start_refused(&s, false, "no master key is set", NULL);
	start_refused(&s, true, "no master key is set", NULL);

	h_restart(&s, NULL);	/* in the folder made above */
	make_keys(&s, &ks, 6);
	assert_int_equal(h_stop(&s, 5000), 0);

	snprintf(wrong, sizeof(wrong), "%s/wrong.key", s.dir);
	snprintf(wrong_opt, sizeof(wrong_opt), "store.master_key_file=%s", wrong);
	snprintf(open_key, sizeof(open_key), "%s/open.key", s.dir);
	snprintf(open_opt, sizeof(open_opt), "store.master_key_file=%s", open_key);
	assert_int_equal(RAND_bytes(bytes, sizeof(bytes)), 1);
	fd = open(wrong, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
	close(fd);
	h_copy_file(h_master_key(&s), open_key);
	assert_int_equal(chmod(open_key, 0644), 0);

	start_refused(&s, false, "no master key is set", NULL);
	start_refused(&s, false, "is not a key this store", wrong_opt, NULL);
	start_refused(&s, true, "is not a key this store", wrong_opt, NULL);
	start_refused(&s, false, "readable by group or others", open_opt, NULL);
	start_refused(&s, true, "readable by group or others", open_opt, NULL);
	start_refused(&s, false, "the store is encrypted", "store.encryption=false", NULL);
	check_ok(&s, "store encrypted", right);

	h_restart(&s, NULL);
	check_keys(&s, &ks);
	h_cleanup(&s);
}

/* The master key from $CREDENTIALS_DIRECTORY, as under systemd's LoadCredentialEncrypted=. */
static void
test_credential(void **state)
{
	static const char *const opts[] = { "store.master_key_credential=kmipd-master", NULL };
	char creds[400], path[460];
	struct keyset ks = { 0 };
	struct h_server s;

	(void)state;
	h_make_dir(&s);
	snprintf(creds, sizeof(creds), "%s/credentials", s.dir);
	assert_int_equal(mkdir(creds, 0700), 0);
	snprintf(path, sizeof(path), "%s/kmipd-master", creds);
	h_copy_file(h_master_key(&s), path);
	assert_int_equal(chmod(path, 0400), 0);
	unsetenv("CREDENTIALS_DIRECTORY");
	start_refused(&s, false, "CREDENTIALS_DIRECTORY", opts[0], NULL);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	h_restart(&s, opts);
	make_keys(&s, &ks, 6);
	assert_int_equal(h_stop(&s, 5000), 0);
	assert_int_equal(found_in_store(&s, &ks), 0);
	/* The same key as a file opens the store: the credential held it. */
	h_restart(&s, NULL);
	check_keys(&s, &ks);
	h_cleanup(&s);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Runs a command, failing the test unless it exits 0. */
static void
run_ok(const char *cmd)
{
	int status = system(cmd);

	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: exit %d", cmd, status);
}

/* Starts kmipd on the config h_write_config makes (kmipd reads its keys there again on SIGHUP). */
static const char *
start_on_config(struct h_server *s, const char *extra, const char *const *opts)
{
	char text[4096], *c;
	const char *config;
	size_t len;

	config = h_write_config(s, extra);
	c = util_read_file(config, &len);
	assert_non_null(c);
	snprintf(text, sizeof(text), "%s", c);
	free(c);
	h_start_config_raw(s, text, opts);
	return config;
}

/* The master key on a SoftHSM2 token: made by kmipctl, used by kmipd; a wrong PIN is refused. */
static void
test_pkcs11(void **state)
{
	static const char *const opts[] = { "store.encryption=true", NULL };
	char conf[400], tokens[400], cmd[1200], extra[1200], pin[400], out[4096], badpin[400], badopt[460];
	const char *config;
	struct keyset ks = { 0 };
	struct h_server s;

	(void)state;
	h_make_dir(&s);
	snprintf(tokens, sizeof(tokens), "%s/tokens", s.dir);
	assert_int_equal(mkdir(tokens, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", s.dir);
	snprintf(cmd, sizeof(cmd), "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
	h_write_file(conf, cmd);
	setenv("SOFTHSM2_CONF", conf, 1);
	run_ok("softhsm2-util --init-token --free --label kmipd-test --pin 4321 --so-pin 8765 >/dev/null");
	snprintf(pin, sizeof(pin), "%s/token.pin", s.dir);
	h_write_file(pin, "4321\n");
	assert_int_equal(chmod(pin, 0600), 0);
	snprintf(extra, sizeof(extra), "pkcs11_module = \"/usr/lib/softhsm/libsofthsm2.so\"; pkcs11_token = "
	    "\"kmipd-test\"; pkcs11_key = \"kmipd-master\"; pkcs11_pin_file = \"%s\";", pin);
	config = h_write_config(&s, extra);
	{
		const char *argv[] = { "master-key", "create", "--pkcs11", "-c", config, NULL };

		if (h_run_kmipctl(argv, out, sizeof(out)) != 0)
			fail_msg("kmipctl master-key create --pkcs11: %s", out);
		assert_non_null(strstr(out, "not extractable"));
		/* A second key with the label is refused. */
		assert_int_not_equal(h_run_kmipctl(argv, out, sizeof(out)), 0);
	}
	(void)start_on_config(&s, extra, opts);
	make_keys(&s, &ks, 6);
	assert_int_equal(h_stop(&s, 5000), 0);
	assert_int_equal(found_in_store(&s, &ks), 0);
	snprintf(badpin, sizeof(badpin), "%s/bad.pin", s.dir);
	h_write_file(badpin, "0000\n");
	assert_int_equal(chmod(badpin, 0600), 0);
	snprintf(badopt, sizeof(badopt), "store.pkcs11_pin_file=%s", badpin);
	start_refused(&s, false, "CKR_PIN_INCORRECT", "store.pkcs11_module=/usr/lib/softhsm/libsofthsm2.so",
	    "store.pkcs11_token=kmipd-test", badopt, NULL);
	(void)start_on_config(&s, extra, opts);
	check_keys(&s, &ks);
	h_cleanup(&s);
	unsetenv("SOFTHSM2_CONF");
}

/* Registers n more passwords in batches of 50 items, not kept (bulk for long migrations). */
static void
bulk(struct h_server *s, int n)
{
	struct kmip_client *cl = h_connect(s, ctx);
	struct ttlv_arena *a;
	struct ttlv_enc e;
	struct ttlv *resp;
	uint8_t secret[KEY_LEN];
	int i, j;

	for (i = 0; i < n; i += 50) {
		h_request_begin(&e, 1, 4, 50);
		for (j = 0; j < 50; j++) {
			assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
			h_item_begin(&e, KMIP_OPERATION_REGISTER);
			ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SECRET_DATA);
			ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
			h_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY);
			ttlv_enc_end(&e);
			ttlv_enc_begin(&e, KMIP_TAG_SECRET_DATA);
			ttlv_enc_enum(&e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_PASSWORD);
			ttlv_enc_begin(&e, KMIP_TAG_KEY_BLOCK);
			ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_TYPE_OPAQUE);
			ttlv_enc_begin(&e, KMIP_TAG_KEY_VALUE);
			ttlv_enc_bytes(&e, KMIP_TAG_KEY_MATERIAL, secret, sizeof(secret));
			ttlv_enc_end(&e);
			ttlv_enc_end(&e);
			ttlv_enc_end(&e);
			h_item_end(&e);
		}
		h_request_end(&e);
		resp = h_call(cl, &e, &a);
		for (j = 0; j < 50; j++)
			assert_int_equal(h_item_status(resp, (unsigned)j), KMIP_RESULT_STATUS_SUCCESS);
		ttlv_arena_free(a);
		ttlv_enc_free(&e);
	}
	kmip_client_close(cl);
}

/*
 * A store kept in clear: kmipctl encrypt killed at random points loses nothing; kmipd then finishes the
 * migration at start, and afterwards no key is in clear in the store file.
 */
static void
test_migration(void **state)
{
	static const char *const clear[] = { "store.encryption=false", "log.level=info", NULL };
	static const char *const enc[] = { "log.level=info", NULL };
	char extra[600];
	const char *config;
	struct keyset ks = { 0 };
	struct h_server s;
	int round, status, killed = 0, completed = 0;
	long full_ms;
	pid_t pid;

	(void)state;
	srandom((unsigned)time(NULL));
	h_start(&s, clear);
	make_keys(&s, &ks, NKEYS);
	bulk(&s, 3000);
	assert_int_equal(h_stop(&s, 10000), 0);
	assert_true(found_in_store(&s, &ks) >= NKEYS);

	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", h_master_key(&s));
	config = h_write_config(&s, extra);
	/*
	 * How long a whole run takes here, on a copy of the store: the kills below land inside that time, so
	 * that they interrupt the migration on a fast machine as on a slow one.
	 */
	{
		char copy[460], from[460], to[500], opt[500];
		const char *argv[] = { "encrypt", "-c", config, "-o", opt, NULL };
		int64_t t0;

		snprintf(copy, sizeof(copy), "%s/copy", s.dir);
		assert_int_equal(mkdir(copy, 0700), 0);
		snprintf(from, sizeof(from), "%s/store/data.mdb", s.dir);
		snprintf(to, sizeof(to), "%s/data.mdb", copy);
		h_copy_file(from, to);
		snprintf(opt, sizeof(opt), "store.path=%s", copy);
		t0 = util_now_ms();
		pid = h_start_kmipctl(NULL, -1, argv);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		full_ms = util_now_ms() - t0;
		assert_int_equal(util_rmtree(copy), 0);
	}
	for (round = 0; round < 4; round++) {
		const char *argv[] = { "encrypt", "-c", config, NULL };
		/* The first kill in the middle third of a whole run, the others anywhere in it. */
		long ms = round == 0 ? full_ms / 3 + random() % (full_ms / 3 + 1) : random() % (full_ms + 1);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		pid = h_start_kmipctl(NULL, -1, argv);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			killed++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			completed++;
		else
			fail_msg("kmipctl encrypt failed: status %d", status);
	}
	assert_true(killed > 0);
	h_restart(&s, enc);
	check_keys(&s, &ks);
	/* kmipd finished what the killed runs began, unless one of them got to the end. */
	assert_true(completed > 0 || h_log_count(&s, "encrypted and compacted") == 1);
	assert_int_equal(h_stop(&s, 10000), 0);
	assert_int_equal(found_in_store(&s, &ks), 0);
	h_restart(&s, enc);
	check_keys(&s, &ks);
	h_cleanup(&s);
}

/* The master key rotated without downtime: new key and previous key in the config, SIGHUP. */
static void
test_master_rotation_online(void **state)
{
	static const char *const opts[] = { "store.encryption=true", "log.level=info", NULL };
	char k2[400], extra[1000];
	struct keyset ks = { 0 };
	struct h_server s;

	(void)state;
	h_make_dir(&s);
	snprintf(k2, sizeof(k2), "%s/master2.key", s.dir);
	{
		const char *argv[] = { "master-key", "create", k2, NULL };
		char out[1024];

		assert_int_equal(h_run_kmipctl(argv, out, sizeof(out)), 0);
	}
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", h_master_key(&s));
	(void)start_on_config(&s, extra, opts);
	make_keys(&s, &ks, 6);

	/* kmipd reads its config file on SIGHUP: the new key, the old one as previous. */
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\"; previous_master_key_file = \"%s\";", k2,
	    h_master_key(&s));
	(void)h_write_config(&s, extra);
	h_signal(&s, SIGHUP);
	assert_true(h_log_wait(&s, "master key now file", 5000));
	assert_true(h_log_wait(&s, "reload done", 5000));
	check_keys(&s, &ks);
	make_keys(&s, &ks, 3);
	assert_int_equal(h_stop(&s, 5000), 0);

	/* The old key opens nothing now; the new one alone opens everything. */
	{
		char old[460];

		snprintf(old, sizeof(old), "store.master_key_file=%s", h_master_key(&s));
		start_refused(&s, false, "is not a key this store", old, NULL);
	}
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", k2);
	(void)start_on_config(&s, extra, opts);
	check_keys(&s, &ks);
	h_cleanup(&s);
}

/* Runs kmipctl, failing the test unless it exits 0; its output in out. */
static void
kmipctl_ok(const char *const *argv, char *out, size_t size)
{
	if (h_run_kmipctl(argv, out, size) != 0)
		fail_msg("kmipctl %s: %s", argv[0], out);
}

/*
 * A new data key while kmipd serves: kmipctl adds it, SIGHUP, and kmipd re-encrypts in the background; a
 * SIGKILL in the middle loses nothing and the next start goes on.
 */
static void
test_data_key_rotation_online(void **state)
{
	static const char *const opts[] = { "store.reseal_batch=1", "log.level=info", NULL };
	char extra[600], out[4096];
	const char *config;
	struct keyset ks = { 0 };
	struct h_server s;

	(void)state;
	h_start(&s, opts);
	make_keys(&s, &ks, NKEYS);
	bulk(&s, 2000);
	snprintf(extra, sizeof(extra), "master_key_file = \"%s\";", h_master_key(&s));
	config = h_write_config(&s, extra);
	{
		const char *rotate[] = { "data-key", "rotate", "-c", config, NULL };
		const char *keys[] = { "keys", "-c", config, NULL };

		kmipctl_ok(rotate, out, sizeof(out));
		assert_non_null(strstr(out, "data key 2 is current"));
		kmipctl_ok(keys, out, sizeof(out));
		assert_non_null(strstr(out, "data keys: 2"));
		/* SIGHUP: kmipd takes the new key and re-encrypts one record per iteration; kill it meanwhile. */
		h_signal(&s, SIGHUP);
		assert_true(h_log_wait(&s, "re-encrypting records under data key 2", 5000));
		h_signal(&s, SIGKILL);
		(void)h_wait_exit(&s, 5000);
		kmipctl_ok(keys, out, sizeof(out));
		assert_non_null(strstr(out, "data keys: 2"));	/* killed before the end */
		h_restart(&s, (const char *const[]){ "log.level=info", NULL });
		check_keys(&s, &ks);
		assert_true(h_log_wait(&s, "every record is sealed under the current data key", 60000));
		kmipctl_ok(keys, out, sizeof(out));
		assert_non_null(strstr(out, "data keys: 1"));
		assert_non_null(strstr(out, "current data key: 2"));
	}
	check_keys(&s, &ks);
	h_cleanup(&s);
}

/* True when /proc says pid may write no core file (soft and hard limit 0). */
static bool
no_core(pid_t pid)
{
	char path[64], line[256];
	bool found = false, zero = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long soft, hard;

		if (strncmp(line, "Max core file size", 18) != 0)
			continue;
		found = true;
		zero = sscanf(line + 18, "%llu %llu", &soft, &hard) == 2 && soft == 0 && hard == 0;
	}
	fclose(f);
	return found && zero;
}

/* Keys pass through kmipd's memory in clear: neither it nor its key-generation workers may dump core. */
static void
test_no_core_dumps(void **state)
{
	static const char *const opts[] = { "keygen.workers=2", NULL };
	struct rlimit saved, some = { 1 << 20, 1 << 20 };
	struct h_server s;
	pid_t workers[4];
	size_t n, i;

	(void)state;
	/* kmipd inherits a limit that allows core files, whatever this machine's default is (soft limit only). */
	assert_int_equal(getrlimit(RLIMIT_CORE, &saved), 0);
	some.rlim_max = saved.rlim_max;
	if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < some.rlim_cur)
		some.rlim_cur = saved.rlim_max;
	if (some.rlim_cur == 0)
		print_message("note: this machine's hard core limit is 0, so kmipd inherits no core files to "
		    "refuse; checking its limits all the same\n");
	assert_int_equal(setrlimit(RLIMIT_CORE, &some), 0);
	h_start(&s, opts);
	assert_int_equal(setrlimit(RLIMIT_CORE, &saved), 0);
	assert_true(no_core(s.pid));
	n = h_children(&s, workers, 4);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_true(no_core(workers[i]));
	h_cleanup(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_key_bytes_at_rest),
		cmocka_unit_test(test_start_refusals),
		cmocka_unit_test(test_credential),
		cmocka_unit_test(test_pkcs11),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_master_rotation_online),
		cmocka_unit_test(test_data_key_rotation_online),
		cmocka_unit_test(test_no_core_dumps),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
