/*
 * kmipctl as the operator's KMIP client, against the real kmipd over mutual TLS with the administrator's
 * certificate etc/mkcerts.sh makes (admin.crt, CN kmip-admin, named in access.admins): every command (list
 * with its filters and bounded pages, show, create, import, export, activate, revoke, destroy, rekey,
 * query), --json parsed by python3's json module, the settings file and the flags that win over it, the
 * exit statuses (1 refused with the server's reason, 2 usage, 3 no connection or TLS), export's refusals
 * (no flag, an existing file, a terminal), and the kmipctl(8) page covering every command.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
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

#include <cmocka.h>

#include "test/integration/harness.h"
#include "test/util.h"

#define OUT_MAX		65536
#define ERR_MAX		8192
#define MAX_ARGS	48

/* One server for the tests that need no special setup. */
static struct h_server srv;
static char conf[400];		/* a kmipctl.conf for srv with the administrator's certificate */
static char work[256];		/* scratch folder for outputs and key files */

/* What one kmipctl run printed and its exit status. */
struct run {
	int status;
	char out[OUT_MAX];
	char err[ERR_MAX];
	char out_path[320];	/* stdout as a file, for python3 */
};

static struct run r;

/* Reads a file into buf (NUL-terminated, truncated to size). */
static void
slurp(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/*
 * Runs KMIPCTL_BIN with args (NULL-terminated) with stdout and stderr in files of the scratch folder, or
 * stdout on stdout_fd when it is not -1; fills r and returns the exit status.
 */
static int
run_fd(int stdout_fd, const char *const *args)
{
	const char *bin = getenv("KMIPCTL_BIN") != NULL ? getenv("KMIPCTL_BIN") : "build/kmipctl";
	const char *argv[MAX_ARGS];
	char err_path[320];
	size_t n = 0;
	int status, fo, fe;
	pid_t pid;

	argv[n++] = bin;
	while (*args != NULL) {
		assert_true(n < MAX_ARGS - 1);
		argv[n++] = *args++;
	}
	argv[n] = NULL;
	snprintf(r.out_path, sizeof(r.out_path), "%s/stdout", work);
	snprintf(err_path, sizeof(err_path), "%s/stderr", work);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fo = stdout_fd != -1 ? stdout_fd : open(r.out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fo < 0 || fe < 0)
			_exit(126);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (stdout_fd == -1)
		slurp(r.out_path, r.out, sizeof(r.out));
	else
		r.out[0] = '\0';
	slurp(err_path, r.err, sizeof(r.err));
	printf("kmipctl %s -> %d\n%s%s", argv[1], r.status, r.out, r.err);
	return r.status;
}

#define KC(...) run_fd(-1, (const char *const[]){ __VA_ARGS__, NULL })
/* A command against srv through the settings file. */
#define KS(...) run_fd(-1, (const char *const[]){ __VA_ARGS__, "-C", conf, NULL })

/* Writes a kmipctl.conf for s with the certificate name (admin, client) into path. */
static void
write_conf(const char *path, struct h_server *s, const char *who, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text), "# kmipctl settings for a test\nhost = \"127.0.0.1\";\nport = %u;\n"
	    "ca = \"%s\";\ncert = \"%s/%s.crt\";\nkey = \"%s/%s.key\";\ntimeout = 20;\n%s", s->port, h_cert("ca.crt"),
	    h_certs(), who, h_certs(), who, extra != NULL ? extra : "");
	h_write_file(path, text);
}

/* 0 when python3's json module parses stdout of the last run and expr (over d) holds, else -1. */
static int
json_check(const char *expr)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -m json.tool '%s' >/dev/null && /usr/bin/python3 -c "
	    "'import json,sys\nd = json.load(open(sys.argv[1], encoding=\"utf-8\"))\nsys.exit(0 if (%s) else 1)' "
	    "'%s'", r.out_path, expr, r.out_path);
	return system(cmd) == 0 ? 0 : -1;
}

/* The first line of the last run's stdout (an identifier) copied into uid. */
static void
first_line(char *uid, size_t size)
{
	size_t n = strcspn(r.out, "\n");

	assert_true(n > 0 && n < size);
	memcpy(uid, r.out, n);
	uid[n] = '\0';
}

/* The identifier after "label " in the last run's stdout (create/rekey of a pair). */
static void
labelled(const char *label, char *uid, size_t size)
{
	const char *p = strstr(r.out, label);
	size_t n;

	assert_non_null(p);
	p += strlen(label) + 1;
	n = strcspn(p, "\n");
	assert_true(n > 0 && n < size);
	memcpy(uid, p, n);
	uid[n] = '\0';
}

/* A path in the scratch folder (static buffer rotated over 8 calls). */
static const char *
wpath(const char *name)
{
	static char bufs[8][320];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", work, name);
	return b;
}

/* A file of the source tree (KMIPD_SRCDIR, default ".", as for the harness's certificate script). */
static const char *
srcpath(const char *name)
{
	static char buf[2][512];
	static unsigned next;
	char *b = buf[next++ % 2];

	snprintf(b, sizeof(buf[0]), "%s/%s", getenv("KMIPD_SRCDIR") != NULL ? getenv("KMIPD_SRCDIR") : ".", name);
	return b;
}

/* Runs a shell command, failing the test when it fails. */
static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static int
group_setup(void **state)
{
	(void)state;
	if (util_mkdtemp(work, sizeof(work), NULL, "kmipctl-test") != 0)
		return -1;
	h_start(&srv, (const char *const[]){ "access.admins=kmip-admin", "keygen.pool_size=2", NULL });
	snprintf(conf, sizeof(conf), "%s/kmipctl.conf", work);
	write_conf(conf, &srv, "admin", NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	h_stop(&srv, 10000);
	h_cleanup(&srv);
	util_rmtree(work);
	return 0;
}

/* create makes AES keys and RSA and EC pairs; list shows them (text and JSON); show gives every attribute. */
static void
test_create_list_show(void **state)
{
	char aes[128], priv[128], pub[128], ec[128], expr[1024];

	(void)state;
	assert_int_equal(KS("create", "aes", "--name", "cl-aes"), 0);
	first_line(aes, sizeof(aes));
	assert_int_equal(KS("create", "rsa", "--name", "cl-rsa", "--length", "2048"), 0);
	labelled("private-key", priv, sizeof(priv));
	labelled("public-key", pub, sizeof(pub));
	assert_int_equal(KS("create", "ec", "--curve", "P-384", "--json"), 0);
	assert_int_equal(json_check("len(d[\"private_key\"]) > 0 and len(d[\"public_key\"]) > 0"), 0);
	slurp(r.out_path, expr, sizeof(expr));
	assert_non_null(strstr(expr, "private_key"));
	ec[0] = '\0';
	{
		const char *p = strstr(r.out, "\"private_key\": \"") + 16;

		snprintf(ec, sizeof(ec), "%.*s", (int)strcspn(p, "\""), p);
	}

	assert_int_equal(KS("list"), 0);
	assert_non_null(strstr(r.out, aes));
	assert_non_null(strstr(r.out, priv));
	assert_non_null(strstr(r.out, pub));
	assert_non_null(strstr(r.out, "cl-aes"));
	assert_non_null(strstr(r.out, "Symmetric Key"));

	assert_int_equal(KS("list", "--json"), 0);
	snprintf(expr, sizeof(expr), "d[\"complete\"] and d[\"count\"] == len(d[\"objects\"]) and "
	    "any(o[\"id\"] == \"%s\" and o[\"type\"] == \"Symmetric Key\" and o[\"algorithm\"] == \"AES\" and "
	    "o[\"length\"] == 256 and o[\"name\"] == \"cl-aes\" and o[\"state\"] == \"Pre-Active\" "
	    "for o in d[\"objects\"]) and "
	    "any(o[\"id\"] == \"%s\" and o[\"type\"] == \"Private Key\" and o[\"algorithm\"] == \"RSA\" "
	    "for o in d[\"objects\"]) and "
	    "any(o[\"id\"] == \"%s\" and o[\"algorithm\"] == \"EC\" and o[\"length\"] == 384 for o in d[\"objects\"])",
	    aes, priv, ec);
	assert_int_equal(json_check(expr), 0);

	assert_int_equal(KS("show", aes), 0);
	assert_non_null(strstr(r.out, "Object Type: Symmetric Key"));
	assert_non_null(strstr(r.out, "Cryptographic Usage Mask: Encrypt | Decrypt"));
	assert_non_null(strstr(r.out, "Name Value: cl-aes"));
	assert_int_equal(KS("show", "--json", aes), 0);
	snprintf(expr, sizeof(expr), "d[\"id\"] == \"%s\" and {\"name\": \"State\", \"index\": 0, "
	    "\"value\": \"Pre-Active\"} in d[\"attributes\"] and any(a[\"name\"] == \"Name\" and "
	    "a[\"value\"][\"Name Value\"] == \"cl-aes\" for a in d[\"attributes\"])", aes);
	assert_int_equal(json_check(expr), 0);
}

/* show never prints key material: the bytes export gives appear nowhere in its output, text or JSON. */
static void
test_show_no_material(void **state)
{
	char aes[128], hex[80], bytes[64], show[OUT_MAX];
	size_t len = 0, i;
	char *key;

	(void)state;
	assert_int_equal(KS("create", "aes", "--length", "256"), 0);
	first_line(aes, sizeof(aes));
	assert_int_equal(KS("export", aes, "--i-understand-this-exports-key-material", "-o", wpath("nm.key")), 0);
	key = util_read_file(wpath("nm.key"), &len);
	assert_non_null(key);
	assert_int_equal(len, 32);
	memcpy(bytes, key, 32);
	free(key);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)bytes[i]);
	assert_int_equal(KS("show", aes), 0);
	memcpy(show, r.out, sizeof(show));
	assert_int_equal(KS("show", "--json", aes), 0);
	assert_null(strstr(show, hex));
	assert_null(strstr(r.out, hex));
	assert_null(memmem(show, strlen(show), bytes, 32));
}

/* list filters on type, state and name, and walks a larger set in pages of --page-size (Locate Maximum and
 * Offset Items: each request is bounded), --limit stops early. */
static void
test_list_filters_paging(void **state)
{
	char uid[128], expr[1024];
	int i, before;

	(void)state;
	for (i = 0; i < 7; i++)
		assert_int_equal(KS("create", "aes", "--name", "paged", "--length", "128"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("activate", uid), 0);

	before = h_log_count(&srv, "locate: 2 of");
	assert_int_equal(KS("list", "--json", "--name", "paged", "--page-size", "2"), 0);
	assert_int_equal(json_check("d[\"count\"] == 7 and d[\"complete\"] and d[\"located\"] == 7 and "
	    "len(set(o[\"id\"] for o in d[\"objects\"])) == 7 and all(o[\"name\"] == \"paged\" and "
	    "o[\"length\"] == 128 for o in d[\"objects\"])"), 0);
	/* 7 objects in pages of 2: the server answered 2 identifiers three times, then 1 */
	assert_true(h_log_count(&srv, "locate: 2 of") - before >= 3);

	assert_int_equal(KS("list", "--json", "--name", "paged", "--page-size", "3", "--limit", "4"), 0);
	assert_int_equal(json_check("d[\"count\"] == 4 and len(d[\"objects\"]) == 4 and not d[\"complete\"]"), 0);

	assert_int_equal(KS("list", "--json", "--name", "paged", "--state", "active"), 0);
	snprintf(expr, sizeof(expr), "d[\"count\"] == 1 and d[\"objects\"][0][\"id\"] == \"%s\" and "
	    "d[\"objects\"][0][\"state\"] == \"Active\"", uid);
	assert_int_equal(json_check(expr), 0);

	assert_int_equal(KS("create", "ec", "--name", "typed"), 0);
	assert_int_equal(KS("list", "--json", "--type", "private", "--name", "typed"), 0);
	assert_int_equal(json_check("d[\"count\"] == 1 and d[\"objects\"][0][\"type\"] == \"Private Key\""), 0);
	assert_int_equal(KS("list", "--json", "--type", "symmetric", "--name", "typed"), 0);
	assert_int_equal(json_check("d[\"count\"] == 0 and d[\"objects\"] == [] and d[\"complete\"]"), 0);

	/* the owner is not a KMIP attribute kmipd exposes: refused as a usage error that says so */
	assert_int_equal(KS("list", "--owner", "kmip-client"), 2);
	assert_non_null(strstr(r.err, "owner"));
}

/*
 * Against a server taking fewer batch items than list's Get Attributes batches, list says why (exit 1 with
 * the server's reason) and works with a smaller --batch; a server answering fewer identifiers per Locate
 * than --page-size asks (server.locate_max_items) still gets every object listed.
 */
static void
test_list_batch_limit(void **state)
{
	struct h_server s;
	char sconf[320];
	int i;

	(void)state;
	h_start(&s, (const char *const[]){ "access.admins=kmip-admin", "server.max_batch_items=2",
	    "server.locate_max_items=4", NULL });
	snprintf(sconf, sizeof(sconf), "%s/batch.conf", work);
	write_conf(sconf, &s, "admin", NULL);
	for (i = 0; i < 6; i++)
		assert_int_equal(KC("create", "aes", "-C", sconf), 0);
	assert_int_equal(KC("list", "-C", sconf), 1);
	assert_non_null(strstr(r.err, "exceed the limit of 2"));
	assert_non_null(strstr(r.err, "--batch"));
	assert_int_equal(KC("list", "--json", "--batch", "2", "-C", sconf), 0);
	assert_int_equal(json_check("d[\"count\"] == 6 and d[\"complete\"] and len(set(o[\"id\"] for o in "
	    "d[\"objects\"])) == 6 and all(o[\"type\"] == \"Symmetric Key\" for o in d[\"objects\"])"), 0);
	assert_int_equal(KC("list", "--json", "--batch", "2", "--page-size", "5", "-C", sconf), 0);
	assert_int_equal(json_check("d[\"count\"] == 6 and d[\"complete\"] and len(set(o[\"id\"] for o in "
	    "d[\"objects\"])) == 6"), 0);
	assert_int_equal(h_stop(&s, 10000), 0);
	h_cleanup(&s);
}

/* A name with quotes, backslashes, control characters and UTF-8 comes out as valid JSON, the same string. */
static void
test_json_escaping(void **state)
{
	const char *name = "q\"b\\s\tt\x01 \xc3\xa9\xe2\x82\xac/<>";
	char uid[128], expr[512];

	(void)state;
	assert_int_equal(KS("create", "aes", "--name", name), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("list", "--json", "--name", name), 0);
	assert_int_equal(json_check("d[\"count\"] == 1 and d[\"objects\"][0][\"name\"] == "
	    "\"q\\\"b\\\\s\\tt\\x01 \\u00e9\\u20ac/<>\""), 0);
	assert_int_equal(KS("show", "--json", uid), 0);
	snprintf(expr, sizeof(expr), "any(a[\"name\"] == \"Name\" and a[\"value\"][\"Name Value\"] == "
	    "\"q\\\"b\\\\s\\tt\\x01 \\u00e9\\u20ac/<>\" for a in d[\"attributes\"])");
	assert_int_equal(json_check(expr), 0);
	/* the text form shows the control characters escaped, never raw */
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "\\x09t\\x01"));
}

/* activate, rekey, revoke (superseded; compromise with a date) and destroy, each seen in show. */
static void
test_lifecycle(void **state)
{
	char aes[128], nkey[128], priv[128], npriv[128], npub[128];

	(void)state;
	assert_int_equal(KS("create", "aes", "--name", "life"), 0);
	first_line(aes, sizeof(aes));
	assert_int_equal(KS("activate", aes), 0);
	assert_non_null(strstr(r.out, "activated"));
	assert_int_equal(KS("show", aes), 0);
	assert_non_null(strstr(r.out, "State: Active"));

	assert_int_equal(KS("rekey", aes), 0);
	first_line(nkey, sizeof(nkey));
	assert_string_not_equal(nkey, aes);
	assert_int_equal(KS("show", nkey), 0);
	assert_non_null(strstr(r.out, "Object Type: Symmetric Key"));
	assert_non_null(strstr(r.out, aes));	/* its Link to the key it replaces */
	assert_int_equal(KS("rekey", "--json", nkey), 0);
	assert_int_equal(json_check("len(d[\"id\"]) > 0"), 0);

	assert_int_equal(KS("revoke", aes, "--reason", "superseded"), 0);
	assert_int_equal(KS("show", aes), 0);
	assert_non_null(strstr(r.out, "State: Deactivated"));
	assert_non_null(strstr(r.out, "Superseded"));
	assert_int_equal(KS("destroy", aes), 0);
	assert_non_null(strstr(r.out, "destroyed"));
	assert_int_equal(KS("show", aes), 0);
	assert_non_null(strstr(r.out, "State: Destroyed"));

	/* the replacement of an Active key is Active */
	assert_int_equal(KS("revoke", nkey, "--reason", "compromise", "--compromise-date", "2026-01-02"), 0);
	assert_int_equal(KS("show", nkey), 0);
	assert_non_null(strstr(r.out, "State: Compromised"));
	assert_non_null(strstr(r.out, "Compromise Occurrence Date: 2026-01-02T00:00:00Z"));
	assert_int_equal(KS("destroy", nkey), 0);
	assert_int_equal(KS("show", nkey), 0);
	assert_non_null(strstr(r.out, "State: Destroyed Compromised"));

	assert_int_equal(KS("create", "ec"), 0);
	labelled("private-key", priv, sizeof(priv));
	assert_int_equal(KS("rekey", priv), 0);
	labelled("private-key", npriv, sizeof(npriv));
	labelled("public-key", npub, sizeof(npub));
	assert_string_not_equal(npriv, priv);
	assert_int_equal(KS("show", npub), 0);
	assert_non_null(strstr(r.out, "Object Type: Public Key"));
}

/* import takes PEM (private key, public key, certificate), DER and raw bytes; export gives them back. */
static void
test_import_export(void **state)
{
	char uid[128];
	char *a, *b;
	size_t alen, blen;
	struct stat sb;

	(void)state;
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '%s' 2>/dev/null", wpath("ec.pem"));
	sh("openssl pkey -in '%s' -pubout -out '%s'", wpath("ec.pem"), wpath("ecpub.pem"));
	sh("openssl pkey -in '%s' -outform DER -out '%s'", wpath("ec.pem"), wpath("ec.der"));
	sh("openssl rand -out '%s' 32", wpath("aes.raw"));
	sh("openssl rand -out '%s' 20", wpath("secret.raw"));

	/* PEM private key -> export PEM: the same key */
	assert_int_equal(KS("import", wpath("ec.pem"), "--name", "imp-ec"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "Object Type: Private Key"));
	assert_non_null(strstr(r.out, "Name Value: imp-ec"));
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "-o", wpath("ec-out.pem")), 0);
	assert_int_equal(stat(wpath("ec-out.pem"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	sh("openssl pkey -in '%s' -outform DER -out '%s' && cmp -s '%s' '%s'", wpath("ec-out.pem"),
	    wpath("ec-out.der"), wpath("ec-out.der"), wpath("ec.der"));
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "--format", "der", "-o",
	    wpath("ec-out2.der")), 0);
	sh("openssl pkey -inform DER -in '%s' -outform DER -out '%s' && cmp -s '%s' '%s'", wpath("ec-out2.der"),
	    wpath("ec-out3.der"), wpath("ec-out3.der"), wpath("ec.der"));

	/* DER private key */
	assert_int_equal(KS("import", wpath("ec.der"), "--format", "der", "--type", "private"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "Cryptographic Algorithm: EC"));

	/* PEM public key */
	assert_int_equal(KS("import", wpath("ecpub.pem"), "--type", "public", "--json"), 0);
	assert_int_equal(json_check("len(d[\"id\"]) > 0"), 0);
	{
		const char *p = strstr(r.out, "\"id\": \"") + 7;

		snprintf(uid, sizeof(uid), "%.*s", (int)strcspn(p, "\""), p);
	}
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "-o", wpath("pub-out.pem")), 0);
	sh("openssl pkey -pubin -in '%s' -noout && cmp -s '%s' '%s'", wpath("pub-out.pem"), wpath("pub-out.pem"),
	    wpath("ecpub.pem"));

	/* PEM certificate */
	assert_int_equal(KS("import", h_cert("client.crt")), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "Object Type: Certificate"));
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "-o", wpath("crt.pem")), 0);
	sh("openssl x509 -in '%s' -outform DER -out '%s' && openssl x509 -in '%s' -outform DER -out '%s' && "
	    "cmp -s '%s' '%s'", wpath("crt.pem"), wpath("crt1.der"), h_cert("client.crt"), wpath("crt2.der"),
	    wpath("crt1.der"), wpath("crt2.der"));

	/* raw AES key and raw secret bytes, exported raw */
	assert_int_equal(KS("import", wpath("aes.raw"), "--format", "raw", "--type", "aes", "--name", "imp-aes"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "Cryptographic Length: 256"));
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "-o", wpath("aes.out")), 0);
	a = util_read_file(wpath("aes.raw"), &alen);
	b = util_read_file(wpath("aes.out"), &blen);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);
	/* export to a pipe (stdout that is not a terminal) */
	{
		int fd = open(wpath("aes.pipe"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		assert_int_equal(run_fd(fd, (const char *const[]){ "export", uid,
		    "--i-understand-this-exports-key-material", "-C", conf, NULL }), 0);
		close(fd);
		sh("cmp -s '%s' '%s'", wpath("aes.pipe"), wpath("aes.raw"));
		fd = open(wpath("aes.pipe2"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(run_fd(fd, (const char *const[]){ "export", uid, "-o", "-",
		    "--i-understand-this-exports-key-material", "-C", conf, NULL }), 0);
		close(fd);
		sh("cmp -s '%s' '%s'", wpath("aes.pipe2"), wpath("aes.raw"));
	}
	assert_int_equal(KS("import", wpath("secret.raw"), "--format", "raw", "--type", "secret"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("show", uid), 0);
	assert_non_null(strstr(r.out, "Object Type: Secret Data"));
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "--format", "raw", "-o",
	    wpath("secret.out")), 0);
	sh("cmp -s '%s' '%s'", wpath("secret.out"), wpath("secret.raw"));

	/* bad inputs are usage errors, nothing is sent */
	assert_int_equal(KS("import", wpath("aes.raw")), 2);		/* not PEM, no --format */
	assert_int_equal(KS("import", wpath("secret.raw"), "--format", "raw", "--type", "aes"), 2);	/* 20 bytes */
	assert_int_equal(KS("import", wpath("aes.raw"), "--format", "der", "--type", "private"), 2);
	assert_int_equal(KS("import", wpath("ecpub.pem"), "--type", "private"), 2);
	assert_int_equal(KS("import", wpath("no-such-file")), 2);
}

/* export refuses without its explicit flag, into an existing file and onto a terminal, writing nothing. */
static void
test_export_refusals(void **state)
{
	char uid[128], text[64];
	struct stat sb;
	int master, slave;

	(void)state;
	assert_int_equal(KS("create", "aes"), 0);
	first_line(uid, sizeof(uid));
	assert_int_equal(KS("export", uid, "-o", wpath("refused.key")), 2);
	assert_non_null(strstr(r.err, "--i-understand-this-exports-key-material"));
	assert_int_not_equal(stat(wpath("refused.key"), &sb), 0);
	assert_int_equal(KS("export", uid), 2);
	assert_int_equal(r.out[0], '\0');

	h_write_file(wpath("exists.key"), "keep me");
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "-o", wpath("exists.key")), 2);
	slurp(wpath("exists.key"), text, sizeof(text));
	assert_string_equal(text, "keep me");

	/* a symmetric key is exported raw only */
	assert_int_equal(KS("export", uid, "--i-understand-this-exports-key-material", "--format", "pem", "-o",
	    wpath("pem.key")), 2);
	assert_int_not_equal(stat(wpath("pem.key"), &sb), 0);

	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	assert_int_equal(run_fd(slave, (const char *const[]){ "export", uid,
	    "--i-understand-this-exports-key-material", "-C", conf, NULL }), 2);
	assert_non_null(strstr(r.err, "terminal"));
	close(slave);
	close(master);

	/* a refused Get leaves no file behind */
	assert_int_equal(KS("export", "no-such-object", "--i-understand-this-exports-key-material", "-o",
	    wpath("missing.key")), 1);
	assert_int_not_equal(stat(wpath("missing.key"), &sb), 0);
}

/* Exit 1 with the server's Result Reason and Message for every command on an unknown identifier. */
static void
test_refused_exit_1(void **state)
{
	(void)state;
	assert_int_equal(KS("show", "no-such-object"), 1);
	assert_non_null(strstr(r.err, "Item Not Found"));
	assert_non_null(strstr(r.err, "no-such-object"));
	assert_int_equal(KS("activate", "no-such-object"), 1);
	assert_non_null(strstr(r.err, "Item Not Found"));
	assert_int_equal(KS("revoke", "no-such-object", "--reason", "unspecified"), 1);
	assert_non_null(strstr(r.err, "Item Not Found"));
	assert_int_equal(KS("destroy", "no-such-object"), 1);
	assert_non_null(strstr(r.err, "Item Not Found"));
	assert_int_equal(KS("rekey", "no-such-object"), 1);
	assert_non_null(strstr(r.err, "Item Not Found"));
	/* the server refuses a key length it does not make */
	assert_int_equal(KS("create", "rsa", "--length", "1000"), 1);
	assert_non_null(strstr(r.err, "the server refused"));
	/* an identity that is not an administrator sees none of the administrator's objects */
	assert_int_equal(KS("create", "aes"), 0);
	{
		char uid[128], cconf[320];

		first_line(uid, sizeof(uid));
		snprintf(cconf, sizeof(cconf), "%s/client.conf", work);
		write_conf(cconf, &srv, "client", NULL);
		assert_int_equal(KC("show", uid, "-C", cconf), 1);
		assert_int_equal(KC("list", "--json", "-C", cconf), 0);
		assert_null(strstr(r.out, uid));
	}
}

/* Exit 2 for bad options and operands, before any connection. */
static void
test_usage_exit_2(void **state)
{
	(void)state;
	assert_int_equal(KS("list", "--bogus"), 2);
	assert_int_equal(KS("list", "--type", "banana"), 2);
	assert_int_equal(KS("list", "--state", "sleepy"), 2);
	assert_int_equal(KS("list", "--page-size", "0"), 2);
	assert_int_equal(KS("list", "extra"), 2);
	assert_int_equal(KS("show"), 2);
	assert_int_equal(KS("show", "a", "b"), 2);
	assert_int_equal(KS("create"), 2);
	assert_int_equal(KS("create", "des"), 2);
	assert_int_equal(KS("create", "aes", "--length", "x"), 2);
	assert_int_equal(KS("create", "aes", "--curve", "P-256"), 2);
	assert_int_equal(KS("create", "ec", "--curve", "P-1"), 2);
	assert_int_equal(KS("import"), 2);
	assert_int_equal(KS("revoke", "x"), 2);			/* no --reason */
	assert_int_equal(KS("revoke", "x", "--reason", "bored"), 2);
	assert_int_equal(KS("revoke", "x", "--reason", "superseded", "--compromise-date", "now"), 2);
	assert_int_equal(KS("revoke", "x", "--reason", "compromise", "--compromise-date", "yesterday"), 2);
	assert_int_equal(KS("query", "--port", "0"), 2);
	assert_int_equal(KS("query", "--timeout", "-1"), 2);
	assert_int_equal(KS("query", "--port"), 2);
	assert_int_equal(KC("query", "--host", "127.0.0.1", "-C", wpath("no-such.conf")), 2);
	/* no CA, certificate or key anywhere */
	h_write_file(wpath("empty.conf"), "\n");
	assert_int_equal(KC("query", "--host", "127.0.0.1", "-C", wpath("empty.conf")), 2);
	assert_non_null(strstr(r.err, "no CA file"));
	assert_int_equal(KC("frobnicate"), 2);
	assert_int_equal(KS("query", "-h"), 0);
	assert_non_null(strstr(r.out, "usage: kmipctl query"));
}

/* Exit 3 when there is no server, the server is not the one the CA vouches for, or the name is wrong. */
static void
test_connect_exit_3(void **state)
{
	struct h_server down;
	char dconf[320], port[16];

	(void)state;
	h_start(&down, NULL);
	snprintf(dconf, sizeof(dconf), "%s/down.conf", work);
	write_conf(dconf, &down, "admin", NULL);
	assert_int_equal(h_stop(&down, 10000), 0);
	assert_int_equal(KC("list", "-C", dconf), 3);
	assert_non_null(strstr(r.err, "cannot connect"));
	assert_int_equal(KC("show", "x", "-C", dconf), 3);
	assert_int_equal(KC("create", "aes", "-C", dconf), 3);
	assert_int_equal(KC("query", "--json", "-C", dconf), 3);
	assert_int_equal(r.out[0], '\0');
	h_cleanup(&down);

	/* the server's certificate does not chain to this CA */
	snprintf(port, sizeof(port), "%u", srv.port);
	assert_int_equal(KS("query", "--ca", h_cert("other-ca.crt")), 3);
	/* nor does it carry this name */
	assert_int_equal(KS("query", "--servername", "kms.example.org"), 3);
	assert_int_equal(KS("query", "--servername", "localhost"), 0);
	/* a client key file that cannot be read */
	assert_int_equal(KS("query", "--key", wpath("no-such.key")), 3);
}

/* The settings file: every key read, flags win over it, an unknown key or a bad value names FILE:LINE. */
static void
test_config_file(void **state)
{
	char path[320], port[16], text[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/wrong-port.conf", work);
	snprintf(text, sizeof(text), "host = \"127.0.0.1\";\nport = 1;\nca = \"%s\";\ncert = \"%s\";\n"
	    "key = \"%s\";\nservername = \"localhost\";\n", h_cert("ca.crt"), h_cert("admin.crt"), h_cert("admin.key"));
	/* the file's port is wrong: --port wins */
	h_write_file(path, text);
	assert_int_equal(KC("query", "-C", path, "--timeout", "5"), 3);
	snprintf(port, sizeof(port), "%u", srv.port);
	assert_int_equal(KC("query", "-C", path, "--port", port), 0);
	assert_non_null(strstr(r.out, "Operations:"));

	snprintf(path, sizeof(path), "%s/typo.conf", work);
	write_conf(path, &srv, "admin", "hots = \"x\";\n");
	assert_int_equal(KC("query", "-C", path), 2);
	assert_non_null(strstr(r.err, "typo.conf:8: unknown setting hots"));

	snprintf(path, sizeof(path), "%s/badport.conf", work);
	h_write_file(path, "port = \"soon\";\n");
	assert_int_equal(KC("query", "-C", path), 2);
	assert_non_null(strstr(r.err, "badport.conf:1: port must be a number"));

	snprintf(path, sizeof(path), "%s/syntax.conf", work);
	h_write_file(path, "host = ;\n");
	assert_int_equal(KC("query", "-C", path), 2);
	assert_non_null(strstr(r.err, "syntax.conf:1:"));

	/* only flags, no file */
	assert_int_equal(KC("query", "-C", "/dev/null", "--host", "127.0.0.1", "--port", port, "--ca",
	    h_cert("ca.crt"), "--cert", h_cert("admin.crt"), "--key", h_cert("admin.key")), 2);	/* /dev/null: not a file */
	snprintf(path, sizeof(path), "%s/empty.conf", work);
	h_write_file(path, "# nothing\n");
	assert_int_equal(KC("query", "-C", path, "--host", "127.0.0.1", "--port", port, "--ca",
	    h_cert("ca.crt"), "--cert", h_cert("admin.crt"), "--key", h_cert("admin.key")), 0);

	/* the example shipped in etc/ parses: it gets as far as its TLS files or, should they exist, port 1 */
	assert_int_equal(KC("query", "-C", srcpath("etc/kmipctl.conf"), "--port", "1"), 3);
	assert_null(strstr(r.err, "kmipctl.conf:"));
}

/* query lists the operations and object types, as text and as JSON. */
static void
test_query(void **state)
{
	(void)state;
	assert_int_equal(KS("query"), 0);
	assert_non_null(strstr(r.out, "Vendor: kmipd"));
	assert_non_null(strstr(r.out, "Create Key Pair"));
	assert_int_equal(KS("query", "--json"), 0);
	assert_int_equal(json_check("d[\"vendor\"] == \"kmipd\" and \"Locate\" in d[\"operations\"] and "
	    "\"Re-key Key Pair\" in d[\"operations\"] and \"Symmetric Key\" in d[\"objects\"]"), 0);
}

/* kmipctl(8) documents every command kmipctl -h lists and is clean for groff's checks. */
static void
test_man_page(void **state)
{
	char page[200000], cmdline[160], *line, *save = NULL, help[OUT_MAX];
	size_t n = 0;
	FILE *f;

	(void)state;
	f = fopen(srcpath("etc/kmipctl.8"), "r");
	assert_non_null(f);
	n = fread(page, 1, sizeof(page) - 1, f);
	fclose(f);
	page[n] = '\0';
	assert_int_equal(KC("-h"), 0);
	memcpy(help, r.out, sizeof(help));
	for (line = strtok_r(help, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[64];

		/* command lines are "  name args", help lines start with a tab */
		if (strncmp(line, "  ", 2) != 0 || sscanf(line + 2, "%63s", name) != 1)
			continue;
		snprintf(cmdline, sizeof(cmdline), "\n.It Cm %s", name);
		if (strstr(page, cmdline) == NULL)
			fail_msg("etc/kmipctl.8 does not document the command %s", name);
	}
	/* groff in warning mode: any diagnostic about the page fails */
	sh("out=$(groff -mandoc -ww -z '%s' 2>&1) && [ -z \"$out\" ] || { echo \"$out\"; exit 1; }",
	    srcpath("etc/kmipctl.8"));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_list_show),
		cmocka_unit_test(test_show_no_material),
		cmocka_unit_test(test_list_filters_paging),
		cmocka_unit_test(test_list_batch_limit),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_import_export),
		cmocka_unit_test(test_export_refusals),
		cmocka_unit_test(test_refused_exit_1),
		cmocka_unit_test(test_usage_exit_2),
		cmocka_unit_test(test_connect_exit_3),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_man_page),
	};

	util_test_start(argc, argv);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
