/*
 * kmipctl: the operator's tool. One subcommand per job, each an entry of the table below with its usage
 * line; main() only finds the entry and hands it the remaining arguments.
 *
 *   kmipctl dump [-x] [-s] [FILE]    decode TTLV messages (binary or hex) and print them as trees
 *   kmipctl backup | verify | restore    one-file backups of the store and their restore (kmipctl_backup.c)
 *   kmipctl hash-password USER       an access.credentials entry for the password read from stdin
 *   kmipctl master-key | recovery-key | data-key | keys | encrypt    the store's keys (kmipctl_keys.c)
 *   kmipctl usage | purge            per-identity usage and quotas, removing destroyed objects (kmipctl_usage.c)
 *   kmipctl list | show | create | import | export | activate | revoke | destroy | rekey | query
 *                                    a running kmipd's objects over mutual TLS (kmipctl_client.c, kmipctl_objects.c)
 *   kmipctl status                   a running kmipd's live status on admin.socket (kmipctl_status.c)
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/access.h"
#include "core/kmipctl.h"
#include "core/kmipctl_client.h"
#include "proto/decode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store.h"

#define DUMP_MAX_MESSAGE (64u << 20)		/* largest message dump accepts */
#define DUMP_MAX_INPUT (3 * (size_t)DUMP_MAX_MESSAGE)	/* hex doubles the size, plus separators */
#define DUMP_MAX_DEPTH 32

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;	/* arguments after the command name */
	const char *help;
};

static int cmd_dump(int argc, char **argv);
static int cmd_hash_password(int argc, char **argv);

static const struct command commands[] = {
	{ "dump", cmd_dump, "[-x] [-s] [FILE]",
	    "print TTLV messages read from FILE or stdin (binary, or hex with -x or when it looks like hex);\n"
	    "\t\t-s shows key material, passwords, Opaque Data and the Data of cryptographic operations" },
	{ "hash-password", cmd_hash_password, "USER",
	    "read a password (one line) from stdin and print the access.credentials entry for USER" },
	{ "master-key", cmd_master_key, "create FILE | create --pkcs11 [-c CONFIG]",
	    "write a new random master key into FILE (mode 0600, never over an existing file), or make the\n"
	    "\t\tnon-extractable AES key named by store.pkcs11_* on the token" },
	{ "recovery-key", cmd_recovery_key, "create [-c CONFIG]",
	    "make the store's offline recovery key and print it once (it replaces an earlier one)" },
	{ "data-key", cmd_data_key, "rotate [-c CONFIG]",
	    "add a new data key; kmipd re-encrypts the records under it in the background after SIGHUP" },
	{ "keys", cmd_keys, "[-c CONFIG]", "show whether the store is encrypted, and under which keys" },
	{ "encrypt", cmd_encrypt, "[-c CONFIG] [--recovery FILE]",
	    "with kmipd stopped: encrypt a store kept in clear, or finish a re-encryption, in durable batches;\n"
	    "\t\t--recovery opens the store with the recovery key and re-wraps it under the config's master key" },
	{ "backup", cmd_backup, "[-c CONFIG] [-o k=v] [--store PATH] FILE|-",
	    "copy the store (store.path, or the folder PATH) into the new FILE, or to stdout with -: one\n"
	    "\t\tconsistent, compacted file, made while kmipd runs; needs no key (key material stays sealed)" },
	{ "verify", cmd_verify, "[-c CONFIG] [-o k=v] [--recovery FILE] FILE",
	    "check that every record of the backup FILE opens with the master key (or the recovery key) and\n"
	    "\t\tparses; counts by object type and state; exits 1 naming each record that fails" },
	{ "usage", cmd_usage, "[-c CONFIG] [-o k=v] [--owner ID] [--rebuild]",
	    "per identity: objects, destroyed ones among them, bytes stored, and the quotas that apply\n"
	    "\t\t(access.*_per_identity, access.quotas; - = none); --rebuild counts them again from the records" },
	{ "purge", cmd_purge, "[-c CONFIG] [-o k=v] [--older-than DAYS] [--owner ID] [--dry-run]",
	    "remove Destroyed and Destroyed Compromised objects (their attributes) for good, freeing their\n"
	    "\t\towners' quotas; only those destroyed DAYS ago or more, of identity ID; safe beside kmipd" },
	{ "restore", cmd_restore, "[-c CONFIG] [-o k=v] [--recovery FILE] [--compare PATH] [--no-verify] FILE",
	    "with kmipd stopped: verify the backup FILE, then make it the data of the empty store.path;\n"
	    "\t\t--compare lists what comes back and what is lost against the store folder PATH moved aside" },
	{ "list", cmd_list, CLI_USAGE_LIST,
	    "the objects a running kmipd holds, page by page, with their type, state, algorithm and name.\n"
	    "\t\tThis and the commands below talk KMIP over mutual TLS with an administrator's certificate;\n"
	    "\t\tconnection options: --host H (localhost) --port P (5696) --ca F --cert F --key F\n"
	    "\t\t--servername N (H) --timeout S (30), or the same keys in -C FILE (" CLI_DEFAULT_CONFIG ")" },
	{ "show", cmd_show, CLI_USAGE_SHOW, "every attribute of the object ID (Get Attributes), never its key material" },
	{ "create", cmd_create, CLI_USAGE_CREATE,
	    "make an AES key (256 bits unless --length) or an RSA (2048) or EC (P-256) key pair; prints the new IDs" },
	{ "import", cmd_import, CLI_USAGE_IMPORT,
	    "register a PEM or DER private key, public key or certificate, or raw AES key or secret bytes" },
	{ "export", cmd_export, CLI_USAGE_EXPORT,
	    "write the key material of ID (PEM, DER, or raw for symmetric keys) into the new FILE (mode 0600)\n"
	    "\t\tor to a stdout that is not a terminal; refused without the long flag" },
	{ "activate", cmd_activate, CLI_USAGE_ACTIVATE, "make the object ID Active" },
	{ "revoke", cmd_revoke, CLI_USAGE_REVOKE,
	    "revoke ID: R is unspecified, compromise, ca-compromise, affiliation-changed, superseded,\n"
	    "\t\tcessation or privilege-withdrawn; a compromise is dated now unless --compromise-date" },
	{ "destroy", cmd_destroy, CLI_USAGE_DESTROY, "destroy the object ID's key material" },
	{ "rekey", cmd_rekey, CLI_USAGE_REKEY,
	    "replace the symmetric key ID (Re-key) or the key pair of the private key ID (Re-key Key Pair)" },
	{ "query", cmd_query, CLI_USAGE_QUERY, "the operations and object types the server offers, and its information" },
	{ "status", cmd_status, "[-S SOCKET | -c CONFIG] [--json]",
	    "ask a running kmipd for its live status on admin.socket (default: the config's, else\n"
	    "\t\t/run/kmipd/admin.sock): connections, handshakes, requests, latency, pool, store, certificates" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Prints the usage of one command, or of all when cmd is NULL. */
static void
usage(FILE *out, const struct command *cmd)
{
	size_t i;

	if (cmd != NULL) {
		fprintf(out, "usage: kmipctl %s %s\n", cmd->name, cmd->usage);
		return;
	}
	fprintf(out, "usage: kmipctl [-h] command [args]\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n\t\t%s\n", commands[i].name, commands[i].usage, commands[i].help);
}

/* Reads all of f into a malloc'd buffer, refusing more than max bytes. 0, or -1 with a message printed. */
static int
read_all(FILE *f, const char *name, size_t max, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;

	for (;;) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 65536 : cap * 2;

			if (cap >= max + 1) {
				fprintf(stderr, "kmipctl: %s: input larger than %zu bytes\n", name, max);
				goto fail;
			}
			if (ncap > max + 1)
				ncap = max + 1;
			if ((nbuf = realloc(buf, ncap)) == NULL) {
				fprintf(stderr, "kmipctl: %s: %s\n", name, strerror(errno));
				goto fail;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "kmipctl: %s: read error\n", name);
		goto fail;
	}
	if (len > max) {
		fprintf(stderr, "kmipctl: %s: input larger than %zu bytes\n", name, max);
		goto fail;
	}
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* True for the characters hex input may contain besides digits: whitespace and '|'. */
static bool
hex_separator(uint8_t c)
{
	return c == '|' || isspace(c);
}

/* True when the input is only hex digits and separators, with at least one digit. */
static bool
looks_hex(const uint8_t *p, size_t len)
{
	size_t i, digits = 0;

	for (i = 0; i < len; i++) {
		if (isxdigit(p[i]))
			digits++;
		else if (!hex_separator(p[i]))
			return false;
	}
	return digits > 0;
}

/* Value of a hex digit. */
static unsigned
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (unsigned)(tolower(c) - 'a' + 10);
}

/* Converts hex text in place to bytes, skipping separators. 0, or -1 with a message printed. */
static int
unhex(uint8_t *p, size_t *len, const char *name)
{
	size_t i, n = 0;
	unsigned hi = 0;
	bool half = false;

	for (i = 0; i < *len; i++) {
		if (hex_separator(p[i]))
			continue;
		if (!isxdigit(p[i])) {
			fprintf(stderr, "kmipctl: %s: not a hex digit at input offset %zu\n", name, i);
			return -1;
		}
		if (!half) {
			hi = hexval(p[i]);
		} else {
			p[n++] = (uint8_t)(hi << 4 | hexval(p[i]));
		}
		half = !half;
	}
	if (half) {
		fprintf(stderr, "kmipctl: %s: odd number of hex digits\n", name);
		return -1;
	}
	*len = n;
	return 0;
}

/* Decodes and prints every message in buf; 0, or -1 after printing the decoder's error. */
static int
dump_messages(const uint8_t *buf, size_t len, const char *name, unsigned flags)
{
	struct ttlv_limits lim = { 0 };
	struct ttlv_decoder *d;
	struct ttlv_arena *arena;
	struct ttlv *root;
	size_t off = 0, used;
	unsigned count = 0;
	int rc = -1;

	lim.max_message_size = DUMP_MAX_MESSAGE;
	lim.max_depth = DUMP_MAX_DEPTH;
	lim.any_toplevel = true;
	if ((d = ttlv_decoder_new(&lim)) == NULL) {
		fprintf(stderr, "kmipctl: out of memory\n");
		return -1;
	}
	if (len == 0) {
		fprintf(stderr, "kmipctl: %s: no input\n", name);
		goto out;
	}
	while (off < len) {
		enum ttlv_status st = ttlv_decoder_feed(d, buf + off, len - off, &used);

		if (st == TTLV_ERROR) {
			uint64_t at;
			const char *what;
			enum ttlv_err e = ttlv_decoder_error(d, &at, &what);

			fprintf(stderr, "kmipctl: %s: message %u at byte %zu: offset %llu: %s (%s)\n", name,
			    count + 1, off, (unsigned long long)at, what, ttlv_err_str(e));
			goto out;
		}
		if (st == TTLV_NEED_MORE) {
			uint64_t want = ttlv_decoder_announced(d);

			if (want != 0)
				fprintf(stderr, "kmipctl: %s: message %u at byte %zu: truncated, %zu of %llu "
				    "bytes\n", name, count + 1, off, len - off, (unsigned long long)want);
			else
				fprintf(stderr, "kmipctl: %s: message %u at byte %zu: truncated header, %zu "
				    "bytes\n", name, count + 1, off, len - off);
			goto out;
		}
		root = ttlv_decoder_take(d, &arena);
		if (count > 0)
			putchar('\n');
		ttlv_print_opts(stdout, root, flags);
		ttlv_arena_free(arena);
		count++;
		off += used;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "kmipctl: stdout: write error\n");
		goto out;
	}
	rc = 0;
out:
	ttlv_decoder_free(d);
	return rc;
}

/* kmipctl dump [-x] [-s] [FILE]: exit 0, 1 on unreadable or malformed input, 2 on bad arguments. */
static int
cmd_dump(int argc, char **argv)
{
	const char *name = "stdin";
	unsigned flags = 0;
	bool force_hex = false;
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f = stdin;
	int ch, rc = 1;

	opterr = 0;
	while ((ch = getopt(argc, argv, "+hsx")) != -1) {
		switch (ch) {
		case 's':
			flags |= TTLV_PRINT_SECRETS;
			break;
		case 'x':
			force_hex = true;
			break;
		case 'h':
			usage(stdout, &commands[0]);
			return 0;
		default:
			fprintf(stderr, "kmipctl dump: unknown option -%c\n", optopt);
			usage(stderr, &commands[0]);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
		usage(stderr, &commands[0]);
		return 2;
	}
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		name = argv[0];
		if ((f = fopen(name, "rb")) == NULL) {
			fprintf(stderr, "kmipctl: %s: %s\n", name, strerror(errno));
			return 1;
		}
	}
	if (read_all(f, name, DUMP_MAX_INPUT, &buf, &len) == -1)
		goto out;
	if ((force_hex || looks_hex(buf, len)) && unhex(buf, &len, name) == -1)
		goto out;
	if (dump_messages(buf, len, name, flags) == -1)
		goto out;
	rc = 0;
out:
	if (f != stdin)
		fclose(f);
	if (buf != NULL) {
		/* dumps may hold key material */
		explicit_bzero(buf, len);
		free(buf);
	}
	return rc;
}

/* kmipctl hash-password USER: "USER:pbkdf2-sha256$..." for access.credentials; the password never
 * appears on a command line. */
static int
cmd_hash_password(int argc, char **argv)
{
	char line[1024], *hash;
	size_t len;

	if (argc != 2 || argv[1][0] == '-' || strchr(argv[1], ':') != NULL) {
		usage(stderr, &commands[1]);
		return 2;
	}
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "kmipctl hash-password: no password on standard input\n");
		return 1;
	}
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "kmipctl hash-password: empty password\n");
		return 1;
	}
	hash = access_hash_password(line, ACCESS_PBKDF2_ITERATIONS);
	explicit_bzero(line, sizeof(line));
	if (hash == NULL) {
		fprintf(stderr, "kmipctl hash-password: hashing failed\n");
		return 1;
	}
	printf("%s:%s\n", argv[1], hash);
	free(hash);
	return 0;
}

/* Runs the subcommand named by argv[1]: its exit status, or 2 for an unknown one. */
int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr, NULL);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout, NULL);
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			optind = 1;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "kmipctl: unknown command: %s\n", argv[1]);
	usage(stderr, NULL);
	return 2;
}
