/*
 * The master key on a PKCS#11 token (store/p11.h).
 *
 * Modules are kept in a list by path for the life of the process (never dlclose'd). Each module counts the
 * open keys of the process that initialised it: the first key's open calls C_Initialize, the last key's
 * close C_Finalize. A module whose count belongs to another process (a parent before fork) is initialised
 * afresh, its count starting again from zero.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "store/p11.h"
#include "store/store_int.h"

#define TOKEN_LABEL_LEN	32	/* CK_TOKEN_INFO.label */
#define KEY_LEN		32	/* AES-256 */
#define KEY_ID_LEN	16	/* random CKA_ID of a created key */
#define SLOTS_MAX	1024	/* slots listed before giving up on a module */

#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED	0x35UL	/* PKCS#11 3.0: a tag that does not verify */
#endif

struct p11_module {
	struct p11_module *next;
	char *path;
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	pid_t pid;		/* process whose open keys users counts */
	unsigned users;		/* open keys of that process */
	bool finalize;		/* its C_Initialize succeeded: C_Finalize with the last key */
};

struct store_p11_key {
	struct p11_module *m;
	pid_t pid;		/* the process that opened it: the only one that may use it */
	bool counted;		/* counted in m->users */
	bool session_open;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE obj;
	char desc[64 + TOKEN_LABEL_LEN + STORE_P11_LABEL_MAX];	/* store_p11_describe() */
};

/* Loaded modules, never freed. */
static struct p11_module *modules;

static const struct {
	CK_RV rv;
	const char *name;
} ckr_names[] = {
#define CKR(n) { n, #n }
	CKR(CKR_OK), CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID), CKR(CKR_GENERAL_ERROR),
	CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD), CKR(CKR_CANT_LOCK), CKR(CKR_ATTRIBUTE_READ_ONLY),
	CKR(CKR_ATTRIBUTE_SENSITIVE), CKR(CKR_ATTRIBUTE_TYPE_INVALID), CKR(CKR_ATTRIBUTE_VALUE_INVALID),
	CKR(CKR_ACTION_PROHIBITED), CKR(CKR_DATA_INVALID), CKR(CKR_DATA_LEN_RANGE), CKR(CKR_DEVICE_ERROR),
	CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED), CKR(CKR_ENCRYPTED_DATA_INVALID),
	CKR(CKR_ENCRYPTED_DATA_LEN_RANGE), CKR(CKR_FUNCTION_CANCELED), CKR(CKR_FUNCTION_NOT_SUPPORTED),
	CKR(CKR_KEY_HANDLE_INVALID), CKR(CKR_KEY_SIZE_RANGE), CKR(CKR_KEY_TYPE_INCONSISTENT),
	CKR(CKR_KEY_FUNCTION_NOT_PERMITTED), CKR(CKR_KEY_UNEXTRACTABLE), CKR(CKR_MECHANISM_INVALID),
	CKR(CKR_MECHANISM_PARAM_INVALID), CKR(CKR_OBJECT_HANDLE_INVALID), CKR(CKR_OPERATION_ACTIVE),
	CKR(CKR_OPERATION_NOT_INITIALIZED), CKR(CKR_PIN_INCORRECT), CKR(CKR_PIN_INVALID), CKR(CKR_PIN_LEN_RANGE),
	CKR(CKR_PIN_EXPIRED), CKR(CKR_PIN_LOCKED), CKR(CKR_SESSION_CLOSED), CKR(CKR_SESSION_COUNT),
	CKR(CKR_SESSION_HANDLE_INVALID), CKR(CKR_SESSION_READ_ONLY), CKR(CKR_SESSION_EXISTS),
	CKR(CKR_SESSION_READ_ONLY_EXISTS), CKR(CKR_SESSION_READ_WRITE_SO_EXISTS), CKR(CKR_TEMPLATE_INCOMPLETE),
	CKR(CKR_TEMPLATE_INCONSISTENT), CKR(CKR_TOKEN_NOT_PRESENT), CKR(CKR_TOKEN_NOT_RECOGNIZED),
	CKR(CKR_TOKEN_WRITE_PROTECTED), CKR(CKR_USER_ALREADY_LOGGED_IN), CKR(CKR_USER_NOT_LOGGED_IN),
	CKR(CKR_USER_PIN_NOT_INITIALIZED), CKR(CKR_USER_TYPE_INVALID), CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	CKR(CKR_USER_TOO_MANY_TYPES), CKR(CKR_RANDOM_NO_RNG), CKR(CKR_BUFFER_TOO_SMALL),
	CKR(CKR_CRYPTOKI_NOT_INITIALIZED), CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED), CKR(CKR_MUTEX_BAD),
	CKR(CKR_MUTEX_NOT_LOCKED), CKR(CKR_FIPS_SELF_TEST_FAILED), CKR(CKR_LIBRARY_LOAD_FAILED),
	CKR(CKR_PIN_TOO_WEAK), CKR(CKR_FUNCTION_REJECTED), CKR(CKR_AEAD_DECRYPT_FAILED),
#undef CKR
};

/* Returns a sentence for a store_p11 error. */
const char *
store_p11_strerror(int err)
{
	switch (err) {
	case STORE_P11_OK:
		return "success";
	case STORE_P11_E_FAIL:
		return "PKCS#11 failure";
	case STORE_P11_E_AUTH:
		return "sealed data does not verify under this key";
	case STORE_P11_E_EXISTS:
		return "a key with that label exists";
	default:
		return "unknown PKCS#11 error";
	}
}

/* Writes the CKR_ name of rv into buf (a hexadecimal number for codes not in the table); returns buf. */
static const char *
ckr_name(CK_RV rv, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++) {
		if (ckr_names[i].rv == rv) {
			snprintf(buf, size, "%s", ckr_names[i].name);
			return buf;
		}
	}
	if (rv >= CKR_VENDOR_DEFINED)
		snprintf(buf, size, "CKR_VENDOR_DEFINED+0x%lx", (unsigned long)(rv - CKR_VENDOR_DEFINED));
	else
		snprintf(buf, size, "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

/* Sets *cause to "module PATH: STEP: CKR_NAME"; returns STORE_P11_E_FAIL. */
static int
ckr_fail(char **cause, const struct p11_module *m, CK_RV rv, const char *step)
{
	char name[48];

	store_set_cause(cause, "PKCS#11 module %s: %s: %s", m->path, step, ckr_name(rv, name, sizeof(name)));
	return STORE_P11_E_FAIL;
}

/* Finds or loads the module at path (dlopen and C_GetFunctionList); 0 or STORE_P11_E_FAIL. */
static int
module_load(const char *path, struct p11_module **out, char **cause)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	struct p11_module *m;
	const char *err;
	CK_RV rv;

	for (m = modules; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0) {
			*out = m;
			return STORE_P11_OK;
		}
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->path = strdup(path)) == NULL) {
		store_set_cause(cause, "PKCS#11 module %s: out of memory", path);
		goto fail;
	}
	/* A failed dlopen is not kept: the file may be installed before the next attempt. */
	if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		store_set_cause(cause, "cannot load the PKCS#11 module %s: %s", path, err != NULL ? err : "?");
		goto fail;
	}
	*(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		store_set_cause(cause, "%s is not a PKCS#11 module: it has no C_GetFunctionList", path);
		goto fail;
	}
	if ((rv = get_list(&m->fl)) != CKR_OK) {
		(void)ckr_fail(cause, m, rv, "C_GetFunctionList");
		goto fail;
	}
	/* A 3.x module's C_GetFunctionList still gives the 2.x table, whose layout is what we use. */
	if (m->fl == NULL || m->fl->version.major < 2) {
		store_set_cause(cause, "PKCS#11 module %s: no Cryptoki 2.x function list", path);
		goto fail;
	}
	m->next = modules;
	modules = m;
	*out = m;
	return STORE_P11_OK;

fail:
	/* Never dlclose, not even a library that turned out not to be a module: it stays loaded. */
	if (m != NULL)
		free(m->path);
	free(m);
	return STORE_P11_E_FAIL;
}

/* Takes the module for one more key of this process, initialising it for the first; 0 or E_FAIL. */
static int
module_acquire(struct p11_module *m, char **cause)
{
	CK_RV rv;

	if (m->pid == getpid() && m->users > 0) {
		m->users++;
		return STORE_P11_OK;
	}
	/* None open here, or only a parent's: initialise for this process. */
	m->users = 0;
	m->finalize = false;
	rv = m->fl->C_Initialize(NULL);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return ckr_fail(cause, m, rv, "C_Initialize");
	m->finalize = rv == CKR_OK;
	m->pid = getpid();
	m->users = 1;
	return STORE_P11_OK;
}

/* Gives back a key's use of the module; the last one finalises it when this code initialised it. */
static void
module_release(struct p11_module *m)
{
	if (m->pid != getpid() || m->users == 0)
		return;
	if (--m->users == 0 && m->finalize) {
		(void)m->fl->C_Finalize(NULL);
		m->finalize = false;
	}
}

/* Whether a token's space-padded label is label. */
static bool
label_is(const CK_UTF8CHAR *padded, const char *label)
{
	size_t i, len = strlen(label);

	if (len > TOKEN_LABEL_LEN || memcmp(padded, label, len) != 0)
		return false;
	for (i = len; i < TOKEN_LABEL_LEN; i++) {
		if (padded[i] != ' ')
			return false;
	}
	return true;
}

/* Copies a space-padded field of a token's info into buf as text, without the padding. */
static void
padded_text(char *buf, size_t size, const CK_UTF8CHAR *p, size_t len)
{
	size_t i, n = 0;

	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\0'))
		len--;
	for (i = 0; i < len && n + 1 < size; i++)
		buf[n++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	buf[n] = '\0';
}

/*
 * Finds the slot holding the token labelled label and fills info with the token's. None: an error naming
 * the labels present; several: an error too.
 */
static int
find_slot(struct p11_module *m, const char *label, CK_SLOT_ID *slot, CK_TOKEN_INFO *info, char **cause)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG i, n = 0;
	CK_RV rv;
	char seen[256] = "", one[TOKEN_LABEL_LEN + 1];
	size_t used = 0;
	int found = 0, err = STORE_P11_E_FAIL;

	if ((rv = m->fl->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
		(void)ckr_fail(cause, m, rv, "C_GetSlotList");
		goto fail;
	}
	/* Tokens may come between the two calls: retry once with the larger count. */
	for (i = 0; i < 2; i++) {
		if (n > SLOTS_MAX) {
			store_set_cause(cause, "PKCS#11 module %s: %lu slots with tokens is too many", m->path,
			    (unsigned long)n);
			goto fail;
		}
		free(slots);
		if ((slots = calloc(n + 1, sizeof(*slots))) == NULL) {
			store_set_cause(cause, "PKCS#11 module %s: out of memory", m->path);
			goto fail;
		}
		if ((rv = m->fl->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		(void)ckr_fail(cause, m, rv, "C_GetSlotList");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if ((rv = m->fl->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
			if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED)
				continue;
			(void)ckr_fail(cause, m, rv, "C_GetTokenInfo");
			goto fail;
		}
		if (label_is(ti.label, label)) {
			if (found++ == 0) {
				*slot = slots[i];
				*info = ti;
			}
			continue;
		}
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		padded_text(one, sizeof(one), ti.label, TOKEN_LABEL_LEN);
		if (used < sizeof(seen))
			used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s\"%s\"", used > 0 ? ", " : "",
			    one);
	}
	if (found == 0) {
		store_set_cause(cause, "PKCS#11 module %s: no token labelled \"%s\" (tokens: %s)", m->path, label,
		    used > 0 ? seen : "none");
		goto fail;
	}
	if (found > 1) {
		store_set_cause(cause, "PKCS#11 module %s: %d tokens are labelled \"%s\"", m->path, found, label);
		goto fail;
	}
	err = STORE_P11_OK;
fail:
	free(slots);
	return err;
}

/* Checks the configuration's fields; 0 or E_FAIL with *cause. */
static int
check_config(const struct store_p11_config *c, char **cause)
{
	if (c == NULL || c->module == NULL || *c->module == '\0') {
		store_set_cause(cause, "no PKCS#11 module given");
		return STORE_P11_E_FAIL;
	}
#ifdef KMIPD_STATIC
	/*
	 * A statically linked program cannot host a module linked against the shared C library (softhsm2 and
	 * every vendor module are): dlopen succeeds and the first call crashes. Refuse it plainly instead.
	 */
	store_set_cause(cause, "cannot load the PKCS#11 module %s: this program is statically linked (make static) "
	    "and cannot load modules; use the dynamically linked build, or a master key file or credential",
	    c->module);
	return STORE_P11_E_FAIL;
#endif
	if (c->token_label == NULL || *c->token_label == '\0' || strlen(c->token_label) > TOKEN_LABEL_LEN) {
		store_set_cause(cause, "a PKCS#11 token label has 1 to %d bytes", TOKEN_LABEL_LEN);
		return STORE_P11_E_FAIL;
	}
	if (c->key_label == NULL || *c->key_label == '\0' || strlen(c->key_label) > STORE_P11_LABEL_MAX) {
		store_set_cause(cause, "a PKCS#11 key label has 1 to %d bytes", STORE_P11_LABEL_MAX);
		return STORE_P11_E_FAIL;
	}
	if (c->pin == NULL || c->pin_len == 0) {
		store_set_cause(cause, "no PIN for the PKCS#11 token \"%s\"", c->token_label);
		return STORE_P11_E_FAIL;
	}
	return STORE_P11_OK;
}

/*
 * Loads the module, finds the token, opens a read-write session and logs in: a key without its object
 * yet, for store_p11_close() to undo. Fills info with the token's.
 */
static int
key_login(const struct store_p11_config *c, struct store_p11_key **out, CK_TOKEN_INFO *info, char **cause)
{
	struct store_p11_key *k = NULL;
	struct p11_module *m;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	char step[64 + TOKEN_LABEL_LEN];
	int err;

	*out = NULL;
	if ((err = check_config(c, cause)) != STORE_P11_OK)
		return err;
	if ((err = module_load(c->module, &m, cause)) != STORE_P11_OK)
		return err;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		store_set_cause(cause, "PKCS#11 module %s: out of memory", c->module);
		return STORE_P11_E_FAIL;
	}
	k->m = m;
	k->pid = getpid();
	if ((err = module_acquire(m, cause)) != STORE_P11_OK)
		goto fail;
	k->counted = true;
	if ((err = find_slot(m, c->token_label, &slot, info, cause)) != STORE_P11_OK)
		goto fail;
	err = STORE_P11_E_FAIL;
	rv = m->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &k->session);
	if (rv != CKR_OK) {
		snprintf(step, sizeof(step), "C_OpenSession on token \"%s\"", c->token_label);
		(void)ckr_fail(cause, m, rv, step);
		goto fail;
	}
	k->session_open = true;
	/* Another key of this process on the token logged in already: the login is the application's. */
	rv = m->fl->C_Login(k->session, CKU_USER, (CK_UTF8CHAR_PTR)c->pin, (CK_ULONG)c->pin_len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		snprintf(step, sizeof(step), "C_Login as the user of token \"%s\"", c->token_label);
		(void)ckr_fail(cause, m, rv, step);
		goto fail;
	}
	*out = k;
	return STORE_P11_OK;

fail:
	store_p11_close(k);
	return err;
}

/*
 * Finds the secret keys labelled label (of type AES when aes_only): the first handle in *obj and their
 * number, counting to two at most, in *n.
 */
static int
find_keys(struct store_p11_key *k, const char *label, bool aes_only, CK_OBJECT_HANDLE *obj, CK_ULONG *n,
    char **cause)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
	};
	CK_OBJECT_HANDLE found[2];
	CK_RV rv;

	*n = 0;
	if ((rv = k->m->fl->C_FindObjectsInit(k->session, tmpl, aes_only ? 3 : 2)) != CKR_OK)
		return ckr_fail(cause, k->m, rv, "C_FindObjectsInit");
	rv = k->m->fl->C_FindObjects(k->session, found, 2, n);
	(void)k->m->fl->C_FindObjectsFinal(k->session);
	if (rv != CKR_OK)
		return ckr_fail(cause, k->m, rv, "C_FindObjects");
	if (*n > 0)
		*obj = found[0];
	return STORE_P11_OK;
}

/* Opens the master key: see p11.h. */
int
store_p11_open(const struct store_p11_config *c, struct store_p11_key **out, char **cause)
{
	struct store_p11_key *k = NULL;
	CK_TOKEN_INFO info;
	CK_ULONG n, len = 0;
	CK_ATTRIBUTE attr = { CKA_VALUE_LEN, &len, sizeof(len) };
	CK_RV rv;
	char serial[sizeof(info.serialNumber) + 1];
	int err;

	*out = NULL;
	memset(&info, 0, sizeof(info));	/* key_login fills it; said for the compiler of make static */
	if ((err = key_login(c, &k, &info, cause)) != STORE_P11_OK)
		return err;
	if ((err = find_keys(k, c->key_label, true, &k->obj, &n, cause)) != STORE_P11_OK)
		goto fail;
	err = STORE_P11_E_FAIL;
	if (n == 0) {
		store_set_cause(cause, "PKCS#11 token \"%s\" has no AES key labelled \"%s\"", c->token_label,
		    c->key_label);
		goto fail;
	}
	if (n > 1) {
		store_set_cause(cause, "PKCS#11 token \"%s\" has several AES keys labelled \"%s\": give the master "
		    "key a label of its own", c->token_label, c->key_label);
		goto fail;
	}
	if ((rv = k->m->fl->C_GetAttributeValue(k->session, k->obj, &attr, 1)) != CKR_OK) {
		(void)ckr_fail(cause, k->m, rv, "C_GetAttributeValue of the key's CKA_VALUE_LEN");
		goto fail;
	}
	if (len != KEY_LEN) {
		store_set_cause(cause, "PKCS#11 token \"%s\": the key labelled \"%s\" has %lu bytes, not %d (AES-256)",
		    c->token_label, c->key_label, (unsigned long)len, KEY_LEN);
		goto fail;
	}
	padded_text(serial, sizeof(serial), info.serialNumber, sizeof(info.serialNumber));
	snprintf(k->desc, sizeof(k->desc), "pkcs11 token %s key %s (serial %s)", c->token_label, c->key_label,
	    serial);
	*out = k;
	return STORE_P11_OK;

fail:
	store_p11_close(k);
	return err;
}

/* Creates the master key: see p11.h. */
int
store_p11_create(const struct store_p11_config *c, char **cause)
{
	struct store_p11_key *k = NULL;
	CK_TOKEN_INFO info;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG len = KEY_LEN, n;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE id[KEY_ID_LEN];
	CK_OBJECT_HANDLE obj;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_LABEL, NULL, 0 },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_RV rv;
	int err;

	if ((err = key_login(c, &k, &info, cause)) != STORE_P11_OK)
		return err;
	if ((err = find_keys(k, c->key_label, false, &obj, &n, cause)) != STORE_P11_OK)
		goto fail;
	if (n > 0) {
		store_set_cause(cause, "PKCS#11 token \"%s\" has a secret key labelled \"%s\" already", c->token_label,
		    c->key_label);
		err = STORE_P11_E_EXISTS;
		goto fail;
	}
	err = STORE_P11_E_FAIL;
	if ((rv = k->m->fl->C_GenerateRandom(k->session, id, sizeof(id))) != CKR_OK) {
		(void)ckr_fail(cause, k->m, rv, "C_GenerateRandom for the key's CKA_ID");
		goto fail;
	}
	tmpl[11].pValue = (void *)c->key_label;
	tmpl[11].ulValueLen = strlen(c->key_label);
	rv = k->m->fl->C_GenerateKey(k->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	if (rv != CKR_OK) {
		(void)ckr_fail(cause, k->m, rv, "C_GenerateKey of an AES-256 key");
		goto fail;
	}
	err = STORE_P11_OK;
fail:
	store_p11_close(k);
	return err;
}

/*
 * One GCM operation: C_EncryptInit or C_DecryptInit, then C_Encrypt or C_Decrypt of in into out, which
 * has room for *got bytes; *got then says how many were written. Returns the module's code, *step
 * naming the call that gave it (the second one: *ran).
 */
static CK_RV
gcm_run(struct store_p11_key *k, bool encrypt, const uint8_t *iv, const uint8_t *aad, size_t aad_len,
    const uint8_t *in, size_t in_len, uint8_t *out, CK_ULONG *got, const char **step, bool *ran)
{
	/* The module takes non-const pointers to what it only reads. */
	CK_GCM_PARAMS gcm = {
		.pIv = (CK_BYTE_PTR)iv,
		.ulIvLen = STORE_P11_IV_LEN,
		.ulIvBits = STORE_P11_IV_LEN * 8,
		.pAAD = (CK_BYTE_PTR)aad,
		.ulAADLen = aad_len,
		.ulTagBits = STORE_P11_TAG_LEN * 8,
	};
	CK_MECHANISM mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	CK_RV rv;

	*ran = false;
	if (encrypt) {
		*step = "C_EncryptInit with AES-GCM";
		if ((rv = k->m->fl->C_EncryptInit(k->session, &mech, k->obj)) != CKR_OK)
			return rv;
		*step = "C_Encrypt with AES-GCM";
		*ran = true;
		return k->m->fl->C_Encrypt(k->session, (CK_BYTE_PTR)in, in_len, out, got);
	}
	*step = "C_DecryptInit with AES-GCM";
	if ((rv = k->m->fl->C_DecryptInit(k->session, &mech, k->obj)) != CKR_OK)
		return rv;
	*step = "C_Decrypt with AES-GCM";
	*ran = true;
	return k->m->fl->C_Decrypt(k->session, (CK_BYTE_PTR)in, in_len, out, got);
}

/*
 * Whether the token seals and opens with the key: a round trip of zeros under a random IV, after a
 * C_Decrypt failed with a code that may mean a bad tag or a broken token. 0, or E_FAIL with *cause.
 */
static int
gcm_probe(struct store_p11_key *k, char **cause)
{
	uint8_t iv[STORE_P11_IV_LEN], zeros[16] = { 0 }, sealed[sizeof(zeros) + STORE_P11_TAG_LEN];
	uint8_t opened[sizeof(sealed)];
	const char *step = "C_GenerateRandom for a probe's IV";
	CK_ULONG got;
	CK_RV rv;
	bool ran;

	if ((rv = k->m->fl->C_GenerateRandom(k->session, iv, sizeof(iv))) != CKR_OK)
		return ckr_fail(cause, k->m, rv, step);
	got = sizeof(sealed);
	if ((rv = gcm_run(k, true, iv, NULL, 0, zeros, sizeof(zeros), sealed, &got, &step, &ran)) != CKR_OK)
		return ckr_fail(cause, k->m, rv, step);
	got = sizeof(opened);
	if ((rv = gcm_run(k, false, iv, NULL, 0, sealed, got, opened, &got, &step, &ran)) != CKR_OK)
		return ckr_fail(cause, k->m, rv, step);
	if (got != sizeof(zeros) || memcmp(opened, zeros, sizeof(zeros)) != 0) {
		store_set_cause(cause, "PKCS#11 module %s: AES-GCM does not open what it sealed", k->m->path);
		return STORE_P11_E_FAIL;
	}
	return STORE_P11_OK;
}

/*
 * Seals or opens with AES-256-GCM on the token: see p11.h.
 *
 * SoftHSM2 wants room for the whole input (tag included) when opening, and answers a tag that does not
 * verify with CKR_GENERAL_ERROR: so opening goes through a buffer of in_len bytes, and a general failure
 * of C_Decrypt counts as an authentication failure only when a probe shows the token and key sound.
 */
int
store_p11_gcm(struct store_p11_key *k, bool encrypt, const uint8_t iv[STORE_P11_IV_LEN], const uint8_t *aad,
    size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out, char **cause)
{
	uint8_t *buf = NULL;
	const char *step;
	char *probe_cause = NULL, name[48];
	size_t out_len;
	CK_ULONG got;
	CK_RV rv;
	int err = STORE_P11_E_FAIL;
	bool ran;

	if (k == NULL || iv == NULL || in == NULL || out == NULL || (aad == NULL && aad_len > 0) ||
	    (!encrypt && in_len < STORE_P11_TAG_LEN) || in_len > SIZE_MAX - STORE_P11_TAG_LEN) {
		store_set_cause(cause, "PKCS#11 GCM: bad arguments");
		return STORE_P11_E_FAIL;
	}
	out_len = encrypt ? in_len + STORE_P11_TAG_LEN : in_len - STORE_P11_TAG_LEN;
	if (k->pid != getpid()) {
		store_set_cause(cause, "%s: the key was opened by another process (before fork): open it again",
		    k->desc);
		goto fail;
	}
	if (encrypt) {
		got = out_len;
		if ((rv = gcm_run(k, true, iv, aad, aad_len, in, in_len, out, &got, &step, &ran)) != CKR_OK) {
			(void)ckr_fail(cause, k->m, rv, step);
			goto fail;
		}
	} else {
		if ((buf = malloc(in_len)) == NULL) {
			store_set_cause(cause, "%s: out of memory", k->desc);
			goto fail;
		}
		got = in_len;
		rv = gcm_run(k, false, iv, aad, aad_len, in, in_len, buf, &got, &step, &ran);
		if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
		    rv == CKR_AEAD_DECRYPT_FAILED || ((rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED) &&
		    ran && gcm_probe(k, &probe_cause) == STORE_P11_OK)) {
			store_set_cause(cause, "%s: the sealed data does not verify under this key (another key, IV "
			    "or associated data, or altered data)", k->desc);
			err = STORE_P11_E_AUTH;
			goto fail;
		}
		if (rv != CKR_OK && probe_cause != NULL) {
			store_set_cause(cause, "PKCS#11 module %s: %s: %s, and the token failed a probe: %s",
			    k->m->path, step, ckr_name(rv, name, sizeof(name)), probe_cause);
			goto fail;
		}
		if (rv != CKR_OK) {
			(void)ckr_fail(cause, k->m, rv, step);
			goto fail;
		}
		if (got == out_len)
			memcpy(out, buf, out_len);
	}
	if (got != out_len) {
		store_set_cause(cause, "PKCS#11 module %s: AES-GCM gave %lu bytes, not %zu", k->m->path,
		    (unsigned long)got, out_len);
		goto fail;
	}
	err = STORE_P11_OK;
fail:
	if (err != STORE_P11_OK)
		explicit_bzero(out, out_len);
	if (buf != NULL) {
		explicit_bzero(buf, in_len);
		free(buf);
	}
	free(probe_cause);
	return err;
}

/* Returns the key's description. */
const char *
store_p11_describe(const struct store_p11_key *k)
{
	return k->desc;
}

/* Closes the key: see p11.h. A key of another process (inherited through fork) is only freed. */
void
store_p11_close(struct store_p11_key *k)
{
	struct p11_module *m;

	if (k == NULL)
		return;
	m = k->m;
	if (k->pid == getpid()) {
		if (k->session_open) {
			/* The login belongs to every session of the application: keep it for the other keys. */
			if (m->users == 1)
				(void)m->fl->C_Logout(k->session);
			(void)m->fl->C_CloseSession(k->session);
		}
		if (k->counted)
			module_release(m);
	}
	explicit_bzero(k, sizeof(*k));
	free(k);
}
