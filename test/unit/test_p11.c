/*
 * Unit tests of the master key on a PKCS#11 token (store/p11.h), against a real SoftHSM2 token: each test
 * gets a temporary folder with its own SoftHSM2 configuration (SOFTHSM2_CONF) and token folder, and a
 * token initialised by softhsm2-util, removed in teardown. The module is finalised between tests (every
 * key is closed), so that the next test's C_Initialize reads the next configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "store/p11.h"
#include "test/util.h"

#define MODULE		"/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN		"kmipd-test"
#define PIN		"1234"
#define SO_PIN		"5678"
#define KEY		"kmipd-master"
#define DEK_LEN		32

struct fx {
	char dir[64];
	char conf[128];
	struct store_p11_config c;
	struct store_p11_key *k;	/* closed in teardown */
	struct store_p11_key *k2;
	CK_FUNCTION_LIST_PTR direct;	/* initialised by the test itself: finalised in teardown */
};

static const uint8_t iv1[STORE_P11_IV_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t iv2[STORE_P11_IV_LEN] = { 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
static const uint8_t aad[] = "kmipd store 1 dek 1";

/* Runs argv (a program on PATH) with its output thrown away; returns its exit status, or -1. */
static int
run(char *const argv[])
{
	pid_t pid;
	int status, fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Makes a SoftHSM2 configuration and token folder under a new temporary folder, points SOFTHSM2_CONF at
 * it and initialises the token TOKEN with PIN. reset_on_fork is SoftHSM2's library.reset_on_fork.
 */
static int
setup_opts(void **state, bool reset_on_fork)
{
	char *const init[] = { "softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN,
	    "--so-pin", SO_PIN, NULL };
	struct fx *f = calloc(1, sizeof(*f));
	char tokens[128];
	FILE *fp;

	if (f == NULL)
		return -1;
	if (util_mkdtemp(f->dir, sizeof(f->dir), NULL, "test_p11") != 0)
		goto fail;
	snprintf(tokens, sizeof(tokens), "%s/tokens", f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/softhsm2.conf", f->dir);
	if (mkdir(tokens, 0700) != 0 || (fp = fopen(f->conf, "w")) == NULL)
		goto fail;
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
	    "slots.removable = false\nlibrary.reset_on_fork = %s\n", tokens, reset_on_fork ? "true" : "false");
	if (fclose(fp) != 0 || setenv("SOFTHSM2_CONF", f->conf, 1) != 0)
		goto fail;
	if (run(init) != 0) {
		fprintf(stderr, "softhsm2-util --init-token failed (is softhsm2 installed?)\n");
		goto fail;
	}
	f->c.module = MODULE;
	f->c.token_label = TOKEN;
	f->c.key_label = KEY;
	f->c.pin = PIN;
	f->c.pin_len = strlen(PIN);
	*state = f;
	return 0;

fail:
	if (f->dir[0] != '\0')
		(void)util_rmtree(f->dir);
	free(f);
	return -1;
}

static int
setup(void **state)
{
	return setup_opts(state, false);
}

static int
setup_reset_on_fork(void **state)
{
	return setup_opts(state, true);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_p11_close(f->k);
	store_p11_close(f->k2);
	/* A failed test leaves nothing initialised: the next one's C_Initialize reads its configuration. */
	if (f->direct != NULL)
		(void)f->direct->C_Finalize(NULL);
	(void)util_rmtree(f->dir);
	free(f);
	return 0;
}

/* store_p11_create, failing the test with the cause. */
static void
create_key(const struct store_p11_config *c)
{
	char *cause = NULL;
	int rc;

	rc = store_p11_create(c, &cause);
	if (rc != STORE_P11_OK)
		fail_msg("store_p11_create: %s", cause != NULL ? cause : "?");
	free(cause);
}

/* store_p11_open, failing the test with the cause. */
static struct store_p11_key *
open_key(const struct store_p11_config *c)
{
	struct store_p11_key *k = NULL;
	char *cause = NULL;
	int rc;

	rc = store_p11_open(c, &k, &cause);
	if (rc != STORE_P11_OK)
		fail_msg("store_p11_open: %s", cause != NULL ? cause : "?");
	free(cause);
	assert_non_null(k);
	return k;
}

/* Seals DEK_LEN bytes of dek under k, failing the test on an error. */
static void
seal(struct store_p11_key *k, const uint8_t *iv, const uint8_t *dek, uint8_t *sealed)
{
	char *cause = NULL;
	int rc;

	rc = store_p11_gcm(k, true, iv, aad, sizeof(aad), dek, DEK_LEN, sealed, &cause);
	if (rc != STORE_P11_OK)
		fail_msg("seal: %s", cause != NULL ? cause : "?");
	free(cause);
}

/* Opens a sealed DEK; returns the error, with the cause in *cause (malloc'd) when not NULL. */
static int
unseal(struct store_p11_key *k, const uint8_t *iv, const uint8_t *ad, size_t ad_len, const uint8_t *sealed,
    size_t len, uint8_t *dek, char **cause)
{
	char *c = NULL;
	int rc;

	rc = store_p11_gcm(k, false, iv, ad, ad_len, sealed, len, dek, &c);
	if (cause != NULL)
		*cause = c;
	else
		free(c);
	return rc;
}

/* Expects an open to fail with err and a cause containing what; the output must be wiped. */
static void
expect_open_error(struct store_p11_key *k, const uint8_t *iv, const uint8_t *ad, size_t ad_len,
    const uint8_t *sealed, size_t len, int err, const char *what)
{
	uint8_t out[DEK_LEN + STORE_P11_TAG_LEN], zero[sizeof(out)] = { 0 };
	char *cause = NULL;

	memset(out, 0xA5, sizeof(out));
	assert_int_equal(unseal(k, iv, ad, ad_len, sealed, len, out, &cause), err);
	assert_non_null(cause);
	if (strstr(cause, what) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, what);
	free(cause);
	if (len >= STORE_P11_TAG_LEN)
		assert_memory_equal(out, zero, len - STORE_P11_TAG_LEN);
}

/* Expects store_p11_open with c to fail with a cause containing what, and every part of it. */
static void
expect_open_key_error(const struct store_p11_config *c, const char *what, const char *what2)
{
	struct store_p11_key *k = NULL;
	char *cause = NULL;

	assert_int_equal(store_p11_open(c, &k, &cause), STORE_P11_E_FAIL);
	assert_null(k);
	assert_non_null(cause);
	if (strstr(cause, what) == NULL || (what2 != NULL && strstr(cause, what2) == NULL))
		fail_msg("cause \"%s\" lacks \"%s\" or \"%s\"", cause, what, what2 != NULL ? what2 : "");
	free(cause);
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Create, open, seal and open a DEK with associated data, and with none. */
static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t dek[DEK_LEN], sealed[DEK_LEN + STORE_P11_TAG_LEN], sealed2[sizeof(sealed)], out[DEK_LEN];
	char *cause = NULL;
	const char *d;

	create_key(&f->c);
	f->k = open_key(&f->c);
	d = store_p11_describe(f->k);
	if (strncmp(d, "pkcs11 token " TOKEN " key " KEY " (serial ", strlen("pkcs11 token " TOKEN " key " KEY
	    " (serial ")) != 0 || d[strlen(d) - 1] != ')')
		fail_msg("description \"%s\"", d);

	fill(dek, sizeof(dek), 1);
	seal(f->k, iv1, dek, sealed);
	assert_memory_not_equal(sealed, dek, DEK_LEN);
	memset(out, 0, sizeof(out));
	assert_int_equal(unseal(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed), out, NULL), STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);

	/* Same key and data, another IV: another ciphertext. */
	seal(f->k, iv2, dek, sealed2);
	assert_memory_not_equal(sealed, sealed2, sizeof(sealed));
	/* Same IV: GCM is deterministic, SoftHSM2 takes the caller's IV as it is. */
	seal(f->k, iv1, dek, sealed2);
	assert_memory_equal(sealed, sealed2, sizeof(sealed));

	/* No associated data. */
	assert_int_equal(store_p11_gcm(f->k, true, iv2, NULL, 0, dek, DEK_LEN, sealed, &cause), STORE_P11_OK);
	assert_int_equal(unseal(f->k, iv2, NULL, 0, sealed, sizeof(sealed), out, NULL), STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);
	/* Sealed with associated data, opened without: it does not verify. */
	seal(f->k, iv1, dek, sealed);
	expect_open_error(f->k, iv1, NULL, 0, sealed, sizeof(sealed), STORE_P11_E_AUTH, "does not verify");
	free(cause);
}

/* Altered data, another IV or AAD, or another key: STORE_P11_E_AUTH, the output wiped. */
static void
test_auth_failures(void **state)
{
	struct fx *f = *state;
	struct store_p11_config other = f->c;
	uint8_t dek[DEK_LEN], sealed[DEK_LEN + STORE_P11_TAG_LEN], bad[sizeof(sealed)];
	uint8_t bad_aad[sizeof(aad)];
	size_t i;

	create_key(&f->c);
	other.key_label = "kmipd-other";
	create_key(&other);
	f->k = open_key(&f->c);
	f->k2 = open_key(&other);
	fill(dek, sizeof(dek), 9);
	seal(f->k, iv1, dek, sealed);

	memcpy(bad_aad, aad, sizeof(aad));
	bad_aad[0] ^= 1;
	expect_open_error(f->k, iv1, bad_aad, sizeof(bad_aad), sealed, sizeof(sealed), STORE_P11_E_AUTH,
	    "does not verify");
	expect_open_error(f->k, iv1, aad, sizeof(aad) - 1, sealed, sizeof(sealed), STORE_P11_E_AUTH,
	    "does not verify");
	expect_open_error(f->k, iv2, aad, sizeof(aad), sealed, sizeof(sealed), STORE_P11_E_AUTH,
	    "does not verify");
	/* Every byte of the tag, and of the ciphertext. */
	for (i = 0; i < sizeof(sealed); i++) {
		memcpy(bad, sealed, sizeof(sealed));
		bad[i] ^= 0x80;
		expect_open_error(f->k, iv1, aad, sizeof(aad), bad, sizeof(bad), STORE_P11_E_AUTH,
		    "does not verify");
	}
	/* Cut short: the tag is taken from the wrong bytes. */
	expect_open_error(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed) - 1, STORE_P11_E_AUTH,
	    "does not verify");
	/* The other key: "wrong key". */
	expect_open_error(f->k2, iv1, aad, sizeof(aad), sealed, sizeof(sealed), STORE_P11_E_AUTH,
	    "does not verify");
	/* Shorter than a tag: a bad argument, not an authentication failure. */
	expect_open_error(f->k, iv1, aad, sizeof(aad), sealed, STORE_P11_TAG_LEN - 1, STORE_P11_E_FAIL,
	    "bad arguments");

	/* The key still works after the failures. */
	assert_int_equal(unseal(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed), bad, NULL), STORE_P11_OK);
	assert_memory_equal(bad, dek, DEK_LEN);
}

/* A second key with the same label is refused; the first stays the only one. */
static void
test_create_twice(void **state)
{
	struct fx *f = *state;
	uint8_t dek[DEK_LEN], sealed[DEK_LEN + STORE_P11_TAG_LEN], out[DEK_LEN];
	char *cause = NULL;

	create_key(&f->c);
	f->k = open_key(&f->c);
	fill(dek, sizeof(dek), 3);
	seal(f->k, iv1, dek, sealed);
	store_p11_close(f->k);
	f->k = NULL;

	assert_int_equal(store_p11_create(&f->c, &cause), STORE_P11_E_EXISTS);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "\"" KEY "\""));
	free(cause);

	f->k = open_key(&f->c);
	assert_int_equal(unseal(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed), out, NULL), STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);
}

/* A wrong PIN names C_Login and CKR_PIN_INCORRECT, for open and create alike. */
static void
test_wrong_pin(void **state)
{
	struct fx *f = *state;
	struct store_p11_config c = f->c;
	char *cause = NULL;

	create_key(&f->c);
	c.pin = "4321";
	c.pin_len = 4;
	expect_open_key_error(&c, "C_Login", "CKR_PIN_INCORRECT");
	assert_int_equal(store_p11_create(&c, &cause), STORE_P11_E_FAIL);
	assert_non_null(strstr(cause, "CKR_PIN_INCORRECT"));
	free(cause);
	/* The right PIN still opens (the module was finalised and initialised again). */
	f->k = open_key(&f->c);
}

/* Unknown token, key or module, and a bad configuration: clear causes. */
static void
test_unknown_names(void **state)
{
	struct fx *f = *state;
	struct store_p11_config c;
	char *cause = NULL;

	create_key(&f->c);

	c = f->c;
	c.token_label = "no-such-token";
	expect_open_key_error(&c, "no token labelled \"no-such-token\"", "\"" TOKEN "\"");
	c = f->c;
	c.token_label = "kmipd";	/* a prefix of the token's label is not its label */
	expect_open_key_error(&c, "no token labelled \"kmipd\"", NULL);
	c = f->c;
	c.key_label = "no-such-key";
	expect_open_key_error(&c, "no AES key labelled \"no-such-key\"", "\"" TOKEN "\"");
	c = f->c;
	c.module = "/nonexistent/libpkcs11.so";
	expect_open_key_error(&c, "cannot load the PKCS#11 module /nonexistent/libpkcs11.so", NULL);
	c = f->c;
	c.module = "libc.so.6";
	expect_open_key_error(&c, "not a PKCS#11 module", NULL);
	c = f->c;
	c.token_label = "a token label longer than 32 bytes";
	expect_open_key_error(&c, "token label", NULL);
	c = f->c;
	c.key_label = "";
	expect_open_key_error(&c, "key label", NULL);
	c = f->c;
	c.pin_len = 0;
	expect_open_key_error(&c, "no PIN", NULL);
	c = f->c;
	c.token_label = "no-such-token";
	assert_int_equal(store_p11_create(&c, &cause), STORE_P11_E_FAIL);
	assert_non_null(strstr(cause, "no token labelled"));
	free(cause);

	/* Nothing left initialised by the failures: the key opens. */
	f->k = open_key(&f->c);
}

/* The module's function list, loaded directly (the same handle as store_p11's: never closed). */
static CK_FUNCTION_LIST_PTR
direct_module(void)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR fl = NULL;
	void *dl;

	dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(dl);
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	assert_non_null(get_list);
	assert_int_equal(get_list(&fl), CKR_OK);
	return fl;
}

/* Opens a logged-in session on the token TOKEN through the module directly. */
static CK_SESSION_HANDLE
direct_session(CK_FUNCTION_LIST_PTR fl)
{
	CK_SLOT_ID slots[8];
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	CK_ULONG i, n = 8;
	char padded[32];

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, TOKEN, strlen(TOKEN));
	assert_int_equal(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(fl->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (memcmp(ti.label, padded, sizeof(padded)) == 0)
			break;
	}
	assert_true(i < n);
	assert_int_equal(fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
	return s;
}

/* The created key, read through the module directly: its value cannot be read, its attributes say so. */
static void
test_not_extractable(void **state)
{
	struct fx *f = *state;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_OBJECT_HANDLE obj[2];
	CK_ATTRIBUTE find[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)KEY, strlen(KEY) },
	};
	CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE, token = CK_FALSE, priv = CK_FALSE;
	CK_BBOOL wrap = CK_TRUE, unwrap = CK_TRUE, enc = CK_FALSE, dec = CK_FALSE;
	CK_KEY_TYPE type = 0;
	CK_ULONG len = 0, n;
	CK_BYTE id[64], secret[64];
	CK_ATTRIBUTE attrs[] = {
		{ CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
		{ CKA_TOKEN, &token, sizeof(token) },
		{ CKA_PRIVATE, &priv, sizeof(priv) },
		{ CKA_WRAP, &wrap, sizeof(wrap) },
		{ CKA_UNWRAP, &unwrap, sizeof(unwrap) },
		{ CKA_ENCRYPT, &enc, sizeof(enc) },
		{ CKA_DECRYPT, &dec, sizeof(dec) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_ATTRIBUTE val = { CKA_VALUE, secret, sizeof(secret) };
	CK_RV rv;

	create_key(&f->c);
	fl = direct_module();
	assert_int_equal(fl->C_Initialize(NULL), CKR_OK);
	f->direct = fl;
	s = direct_session(fl);
	assert_int_equal(fl->C_FindObjectsInit(s, find, 2), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, obj, 2, &n), CKR_OK);
	assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(n, 1);

	assert_int_equal(fl->C_GetAttributeValue(s, obj[0], attrs, sizeof(attrs) / sizeof(attrs[0])), CKR_OK);
	assert_false(extractable);
	assert_true(sensitive);
	assert_true(token);
	assert_true(priv);
	assert_false(wrap);
	assert_false(unwrap);
	assert_true(enc);
	assert_true(dec);
	assert_int_equal(type, CKK_AES);
	assert_int_equal(len, 32);
	assert_int_equal(attrs[10].ulValueLen, 16);

	rv = fl->C_GetAttributeValue(s, obj[0], &val, 1);
	assert_int_equal(rv, CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(val.ulValueLen, CK_UNAVAILABLE_INFORMATION);

	assert_int_equal(fl->C_Logout(s), CKR_OK);
	assert_int_equal(fl->C_CloseSession(s), CKR_OK);
	f->direct = NULL;
	assert_int_equal(fl->C_Finalize(NULL), CKR_OK);

	/* store_p11 initialises the module again. */
	f->k = open_key(&f->c);
}

/* Close then open initialises the module again; two keys of one module close independently. */
static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct store_p11_config other = f->c;
	uint8_t dek[DEK_LEN], sealed[DEK_LEN + STORE_P11_TAG_LEN], sealed2[sizeof(sealed)], out[DEK_LEN];
	int i;

	create_key(&f->c);
	other.key_label = "kmipd-other";
	create_key(&other);
	fill(dek, sizeof(dek), 5);
	f->k = open_key(&f->c);
	seal(f->k, iv1, dek, sealed);
	for (i = 0; i < 3; i++) {
		store_p11_close(f->k);
		f->k = open_key(&f->c);
		memset(out, 0, sizeof(out));
		assert_int_equal(unseal(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed), out, NULL),
		    STORE_P11_OK);
		assert_memory_equal(out, dek, DEK_LEN);
	}

	/* Two keys: closing one keeps the module initialised and the token logged in for the other. */
	f->k2 = open_key(&other);
	seal(f->k2, iv2, dek, sealed2);
	store_p11_close(f->k);
	f->k = NULL;
	assert_int_equal(unseal(f->k2, iv2, aad, sizeof(aad), sealed2, sizeof(sealed2), out, NULL), STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);
	f->k = open_key(&f->c);
	store_p11_close(f->k2);
	f->k2 = NULL;
	assert_int_equal(unseal(f->k, iv1, aad, sizeof(aad), sealed, sizeof(sealed), out, NULL), STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);
}

/*
 * The child's side of test_fork (no cmocka in the child): the inherited key is refused, a key opened in
 * the child opens what the parent sealed and seals for the parent (to fd). Exit status: 0, or the step
 * that failed.
 */
static int
fork_child(struct fx *f, const uint8_t *sealed, const uint8_t *dek, int fd)
{
	struct store_p11_key *k = NULL;
	uint8_t out[DEK_LEN + STORE_P11_TAG_LEN];
	char *cause = NULL;
	int rc;

	if (store_p11_gcm(f->k, true, iv2, aad, sizeof(aad), dek, DEK_LEN, out, &cause) != STORE_P11_E_FAIL ||
	    cause == NULL || strstr(cause, "another process") == NULL)
		return 1;
	free(cause);
	cause = NULL;
	/* Only freed: the parent's session is not the child's to close. */
	store_p11_close(f->k);
	f->k = NULL;
	if ((rc = store_p11_open(&f->c, &k, &cause)) != STORE_P11_OK) {
		fprintf(stderr, "child: store_p11_open: %s\n", cause != NULL ? cause : "?");
		return 2;
	}
	if (store_p11_gcm(k, false, iv1, aad, sizeof(aad), sealed, DEK_LEN + STORE_P11_TAG_LEN, out, &cause) !=
	    STORE_P11_OK || memcmp(out, dek, DEK_LEN) != 0)
		return 3;
	if (store_p11_gcm(k, true, iv2, aad, sizeof(aad), dek, DEK_LEN, out, &cause) != STORE_P11_OK)
		return 4;
	if (write(fd, out, sizeof(out)) != (ssize_t)sizeof(out))
		return 5;
	store_p11_close(k);
	return 0;
}

/*
 * A child after fork() cannot use the parent's key but opens its own (PKCS#11's re-initialisation rule);
 * the parent's key keeps working after the child closed its own and exited.
 */
static void
test_fork(void **state)
{
	struct fx *f = *state;
	uint8_t dek[DEK_LEN], sealed[DEK_LEN + STORE_P11_TAG_LEN], from_child[sizeof(sealed)], out[DEK_LEN];
	int p[2], status;
	pid_t pid;

	create_key(&f->c);
	f->k = open_key(&f->c);
	fill(dek, sizeof(dek), 7);
	seal(f->k, iv1, dek, sealed);

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fork_child(f, sealed, dek, p[1]));
	}
	close(p[1]);
	assert_int_equal(read(p[0], from_child, sizeof(from_child)), sizeof(from_child));
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	memset(out, 0, sizeof(out));
	assert_int_equal(unseal(f->k, iv2, aad, sizeof(aad), from_child, sizeof(from_child), out, NULL),
	    STORE_P11_OK);
	assert_memory_equal(out, dek, DEK_LEN);
	seal(f->k, iv2, dek, sealed);
	assert_memory_equal(sealed, from_child, sizeof(sealed));
}

/* The same with SoftHSM2's library.reset_on_fork: the child's C_Initialize finds a fresh library. */
static void
test_fork_reset_on_fork(void **state)
{
	test_fork(state);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_extractable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_reset_on_fork, setup_reset_on_fork, teardown),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
