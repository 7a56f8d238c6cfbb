/*
 * kmipctl as a KMIP client: its connection settings (flags, then a small libconfig file), the mutual TLS
 * connection through proto/client.c, KMIP 1.4 requests and their results, and the output helpers (JSON
 * escaping, values by name) the commands of kmipctl_objects.c share.
 */
#include <errno.h>
#include <getopt.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "core/kmipctl_client.h"
#include "proto/message.h"
#include "proto/names.h"
#include "tls/tls.h"

#define CLI_MAX_OPTIONS		40
#define CLI_MAX_CONFIG_SIZE	(64 * 1024)	/* a kmipctl.conf larger than this is a mistake */
#define CLI_MAX_STRING		4096		/* a path or a host name */
#define CLI_MAX_DEPTH		16		/* nesting printed; deeper structures are elided */
#define CLI_MAX_SHORT		64

enum {
	OPT_HOST = 1000,
	OPT_PORT,
	OPT_CA,
	OPT_CERT,
	OPT_KEY,
	OPT_SERVERNAME,
	OPT_TIMEOUT,
	OPT_JSON,
};

static const struct option common_options[] = {
	{ "config", required_argument, NULL, 'C' },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "servername", required_argument, NULL, OPT_SERVERNAME },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
};

#define NCOMMON (sizeof(common_options) / sizeof(common_options[0]))

/* Reads an unsigned number in [min, max]; 0, or -1 when it is not one. */
static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Replaces *field with a copy of s; 0, or -1 when s is too long or memory runs out (printed). */
static int
set_string(const struct cli *c, char **field, const char *s, const char *what)
{
	char *copy;

	if (strlen(s) > CLI_MAX_STRING || s[0] == '\0') {
		fprintf(stderr, "kmipctl %s: %s: empty or longer than %d bytes\n", c->cmd, what, CLI_MAX_STRING);
		return -1;
	}
	if ((copy = strdup(s)) == NULL) {
		fprintf(stderr, "kmipctl %s: out of memory\n", c->cmd);
		return -1;
	}
	free(*field);
	*field = copy;
	return 0;
}

/* Takes one connection option; 0, or CLI_EXIT_USAGE after printing why. */
static int
take_common(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case 'C':
		return set_string(c, &c->s.config, arg, "-C") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_HOST:
		return set_string(c, &c->s.host, arg, "--host") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_CA:
		return set_string(c, &c->s.ca, arg, "--ca") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_CERT:
		return set_string(c, &c->s.cert, arg, "--cert") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_KEY:
		return set_string(c, &c->s.key, arg, "--key") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_SERVERNAME:
		return set_string(c, &c->s.servername, arg, "--servername") == 0 ? 0 : CLI_EXIT_USAGE;
	case OPT_PORT:
		if (parse_uint(arg, 1, 65535, &c->s.port) != 0) {
			fprintf(stderr, "kmipctl %s: --port %s: not a port (1 to 65535)\n", c->cmd, arg);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case OPT_TIMEOUT:
		if (parse_uint(arg, 1, CLI_MAX_TIMEOUT, &c->s.timeout) != 0) {
			fprintf(stderr, "kmipctl %s: --timeout %s: not a number of seconds (1 to %d)\n", c->cmd,
			    arg, CLI_MAX_TIMEOUT);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case OPT_JSON:
		c->s.json = true;
		return 0;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* Prints the command's usage line to stderr; see kmipctl_client.h. */
int
cli_usage(const struct cli *c)
{
	fprintf(stderr, "usage: kmipctl %s %s\n", c->cmd, c->usage);
	return CLI_EXIT_USAGE;
}

/* Parses the options of a client command; see kmipctl_client.h. */
int
cli_parse(struct cli *c, int argc, char **argv, const char *cmd, const char *usage,
    const struct option *extra, const char *extra_short, cli_take_fn take, void *arg)
{
	struct option opts[CLI_MAX_OPTIONS + 1];
	char shortopts[CLI_MAX_SHORT];
	size_t n = 0, i;
	int ch, idx;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->usage = usage;
	for (i = 0; i < NCOMMON; i++)
		opts[n++] = common_options[i];
	for (i = 0; extra != NULL && extra[i].name != NULL; i++) {
		if (n == CLI_MAX_OPTIONS)
			abort();	/* a table of ours too long: a programming error */
		opts[n++] = extra[i];
	}
	memset(&opts[n], 0, sizeof(opts[n]));
	if ((size_t)snprintf(shortopts, sizeof(shortopts), ":hC:%s", extra_short != NULL ? extra_short : "") >=
	    sizeof(shortopts))
		abort();
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, opts, &idx)) != -1) {
		int rc;

		if (ch == 'h') {
			printf("usage: kmipctl %s %s\n", cmd, usage);
			return -1;
		}
		if (ch == '?' || ch == ':') {
			if (optopt != 0)
				fprintf(stderr, "kmipctl %s: %s option -%c\n", cmd, ch == ':' ? "missing the value of" :
				    "unknown", optopt);
			else
				fprintf(stderr, "kmipctl %s: %s option %s\n", cmd, ch == ':' ? "missing the value of" :
				    "unknown or ambiguous", argv[optind - 1]);
			cli_usage(c);
			return -2;
		}
		if (ch == 'C' || (ch >= OPT_HOST && ch <= OPT_JSON))
			rc = take_common(c, ch, optarg);
		else if (take != NULL)
			rc = take(arg, ch, optarg);
		else
			rc = CLI_EXIT_USAGE;
		if (rc != 0)
			return -2;
	}
	return optind;
}

/* Copies the config file's string setting name into *field unless a flag set it; 0, or -1 printed. */
static int
config_string(struct cli *c, config_setting_t *root, const char *path, const char *name, char **field)
{
	config_setting_t *st = config_setting_get_member(root, name);
	const char *v;

	if (st == NULL || *field != NULL)
		return 0;
	if ((v = config_setting_get_string(st)) == NULL) {
		fprintf(stderr, "kmipctl %s: %s:%d: %s must be a string\n", c->cmd, path,
		    config_setting_source_line(st), name);
		return -1;
	}
	return set_string(c, field, v, name);
}

/* Copies the config file's number setting name into *field unless a flag set it; 0, or -1 printed. */
static int
config_number(struct cli *c, config_setting_t *root, const char *path, const char *name, unsigned min,
    unsigned max, unsigned *field)
{
	config_setting_t *st = config_setting_get_member(root, name);
	long long v;

	if (st == NULL || *field != 0)
		return 0;
	if (config_setting_type(st) != CONFIG_TYPE_INT && config_setting_type(st) != CONFIG_TYPE_INT64) {
		fprintf(stderr, "kmipctl %s: %s:%d: %s must be a number\n", c->cmd, path,
		    config_setting_source_line(st), name);
		return -1;
	}
	v = config_setting_get_int64(st);
	if (v < min || v > max) {
		fprintf(stderr, "kmipctl %s: %s:%d: %s = %lld is out of range (%u..%u)\n", c->cmd, path,
		    config_setting_source_line(st), name, v, min, max);
		return -1;
	}
	*field = (unsigned)v;
	return 0;
}

/*
 * Reads the config file (-C, or CLI_DEFAULT_CONFIG when it exists) into the settings no flag gave.
 * Unknown settings are errors, so a misspelt key is not silently ignored. 0, or -1 after printing why.
 */
static int
read_config(struct cli *c)
{
	static const char *const known[] = { "host", "port", "ca", "cert", "key", "servername", "timeout" };
	const char *path = c->s.config != NULL ? c->s.config : CLI_DEFAULT_CONFIG;
	config_setting_t *root, *st;
	struct stat sb;
	config_t lc;
	unsigned i, j;
	int rc = -1;

	if (stat(path, &sb) != 0) {
		if (c->s.config == NULL && errno == ENOENT)
			return 0;
		fprintf(stderr, "kmipctl %s: %s: %s\n", c->cmd, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > CLI_MAX_CONFIG_SIZE) {
		fprintf(stderr, "kmipctl %s: %s: not a file of at most %d bytes\n", c->cmd, path,
		    CLI_MAX_CONFIG_SIZE);
		return -1;
	}
	config_init(&lc);
	if (!config_read_file(&lc, path)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			fprintf(stderr, "kmipctl %s: %s: cannot read it\n", c->cmd, path);
		else
			fprintf(stderr, "kmipctl %s: %s:%d: %s\n", c->cmd, path, config_error_line(&lc),
			    config_error_text(&lc));
		goto out;
	}
	root = config_root_setting(&lc);
	for (i = 0; (st = config_setting_get_elem(root, i)) != NULL; i++) {
		const char *name = config_setting_name(st);

		for (j = 0; j < sizeof(known) / sizeof(known[0]); j++)
			if (name != NULL && strcmp(name, known[j]) == 0)
				break;
		if (j == sizeof(known) / sizeof(known[0])) {
			fprintf(stderr, "kmipctl %s: %s:%d: unknown setting %s (known: host, port, ca, cert, key, "
			    "servername, timeout)\n", c->cmd, path, config_setting_source_line(st),
			    name != NULL ? name : "?");
			goto out;
		}
	}
	if (config_string(c, root, path, "host", &c->s.host) != 0 ||
	    config_string(c, root, path, "ca", &c->s.ca) != 0 ||
	    config_string(c, root, path, "cert", &c->s.cert) != 0 ||
	    config_string(c, root, path, "key", &c->s.key) != 0 ||
	    config_string(c, root, path, "servername", &c->s.servername) != 0 ||
	    config_number(c, root, path, "port", 1, 65535, &c->s.port) != 0 ||
	    config_number(c, root, path, "timeout", 1, CLI_MAX_TIMEOUT, &c->s.timeout) != 0)
		goto out;
	rc = 0;
out:
	config_destroy(&lc);
	return rc;
}

/* proto/client's hook before the handshake: the name (or address) the server certificate must carry. */
static int
prepare_ssl(SSL *ssl, void *arg, char **cause)
{
	return tls_client_set_host(ssl, arg, cause);
}

/* Reads the settings and connects; see kmipctl_client.h. */
int
cli_connect(struct cli *c)
{
	char *cause = NULL;
	int timeout_ms;

	if (read_config(c) != 0)
		return CLI_EXIT_USAGE;
	if (c->s.host == NULL && set_string(c, &c->s.host, "localhost", "host") != 0)
		return CLI_EXIT_USAGE;
	if (c->s.port == 0)
		c->s.port = CLI_DEFAULT_PORT;
	if (c->s.timeout == 0)
		c->s.timeout = CLI_DEFAULT_TIMEOUT;
	if (c->s.ca == NULL || c->s.cert == NULL || c->s.key == NULL) {
		fprintf(stderr, "kmipctl %s: no %s: give --ca, --cert and --key (an administrator's certificate) or "
		    "set them in %s\n", c->cmd, c->s.ca == NULL ? "CA file" : c->s.cert == NULL ?
		    "client certificate" : "client key", c->s.config != NULL ? c->s.config : CLI_DEFAULT_CONFIG);
		return CLI_EXIT_USAGE;
	}
	if (tls_client_ctx_new(c->s.ca, c->s.cert, c->s.key, &c->ctx, &cause) != 0) {
		fprintf(stderr, "kmipctl %s: %s\n", c->cmd, cause != NULL ? cause : "cannot load the TLS files");
		free(cause);
		return CLI_EXIT_CONNECT;
	}
	timeout_ms = (int)c->s.timeout * 1000;
	if (kmip_client_connect_prepared(c->ctx, c->s.host, c->s.port, NULL, timeout_ms, prepare_ssl,
	    c->s.servername != NULL ? c->s.servername : c->s.host, &c->cl, &cause) != 0) {
		fprintf(stderr, "kmipctl %s: cannot connect to %s port %u: %s\n", c->cmd, c->s.host, c->s.port,
		    cause != NULL ? cause : "failed");
		free(cause);
		return CLI_EXIT_CONNECT;
	}
	return 0;
}

/* Closes and frees; see kmipctl_client.h. */
void
cli_close(struct cli *c)
{
	kmip_client_close(c->cl);
	c->cl = NULL;
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
	free(c->s.config);
	free(c->s.host);
	free(c->s.ca);
	free(c->s.cert);
	free(c->s.key);
	free(c->s.servername);
	memset(&c->s, 0, sizeof(c->s));
}

/* Opens a 1.4 Request Message of nitems batch items, continuing after a failed item. */
void
cli_request_begin(struct ttlv_enc *e, unsigned nitems)
{
	ttlv_enc_init(e);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_HEADER);
	kmip_version_encode(e, KMIP_VERSION(1, 4));
	if (nitems > 1)
		ttlv_enc_enum(e, KMIP_TAG_BATCH_ERROR_CONTINUATION_OPTION,
		    KMIP_BATCH_ERROR_CONTINUATION_OPTION_CONTINUE);
	ttlv_enc_int(e, KMIP_TAG_BATCH_COUNT, (int32_t)nitems);
	ttlv_enc_end(e);
}

/* Opens a Batch Item of operation and its Request Payload. */
void
cli_item_begin(struct ttlv_enc *e, uint32_t operation)
{
	ttlv_enc_begin(e, KMIP_TAG_BATCH_ITEM);
	ttlv_enc_enum(e, KMIP_TAG_OPERATION, operation);
	ttlv_enc_begin(e, KMIP_TAG_REQUEST_PAYLOAD);
}

/* Closes the Request Payload and the Batch Item. */
void
cli_item_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

/* Closes the Request Message. */
void
cli_request_end(struct ttlv_enc *e)
{
	ttlv_enc_end(e);
}

/* A 1.x Attribute with an Enumeration value. */
void
cli_attr_enum(struct ttlv_enc *e, const char *name, uint32_t value)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	ttlv_enc_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

/* A 1.x Attribute with an Integer value. */
void
cli_attr_int(struct ttlv_enc *e, const char *name, int32_t value)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, name);
	ttlv_enc_int(e, KMIP_TAG_ATTRIBUTE_VALUE, value);
	ttlv_enc_end(e);
}

/* A 1.x Name attribute (Uninterpreted Text String). */
void
cli_attr_name(struct ttlv_enc *e, const char *name)
{
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE);
	ttlv_enc_cstr(e, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_enc_begin(e, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_enc_cstr(e, KMIP_TAG_NAME_VALUE, name);
	ttlv_enc_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TYPE_UNINTERPRETED_TEXT_STRING);
	ttlv_enc_end(e);
	ttlv_enc_end(e);
}

/* Sends a request and reads its response; see kmipctl_client.h. */
int
cli_call(struct cli *c, struct ttlv_enc *e, struct ttlv **root, struct ttlv_arena **arena)
{
	char *cause = NULL;
	int rc;

	*root = NULL;
	*arena = NULL;
	if (ttlv_enc_finish(e) != 0) {
		fprintf(stderr, "kmipctl %s: cannot encode the request: %s\n", c->cmd, strerror(errno));
		ttlv_enc_free(e);
		return CLI_EXIT_USAGE;
	}
	rc = kmip_client_call(c->cl, e, root, arena, &cause);
	ttlv_enc_free(e);	/* wipes it: a Register carries key material */
	if (rc != 0) {
		fprintf(stderr, "kmipctl %s: %s port %u: %s\n", c->cmd, c->s.host, c->s.port,
		    cause != NULL ? cause : "no response");
		free(cause);
		return CLI_EXIT_CONNECT;
	}
	if ((*root)->tag != KMIP_TAG_RESPONSE_MESSAGE) {
		fprintf(stderr, "kmipctl %s: the server's answer is not a Response Message\n", c->cmd);
		ttlv_arena_free(*arena);
		*arena = NULL;
		*root = NULL;
		return CLI_EXIT_CONNECT;
	}
	return 0;
}

/* The batch item i of a response. */
const struct ttlv *
cli_item(const struct ttlv *root, unsigned i)
{
	const struct ttlv *t;

	for (t = ttlv_find(root, KMIP_TAG_BATCH_ITEM); t != NULL && i > 0; t = ttlv_find_next(t))
		i--;
	return t;
}

/* Checks batch item i; see kmipctl_client.h. */
int
cli_result(const struct cli *c, const struct ttlv *root, unsigned i, const char *what, bool quiet,
    const struct ttlv **payload)
{
	const struct ttlv *item = cli_item(root, i), *st, *reason, *msg;
	const char *rname;

	*payload = NULL;
	if (item == NULL || (st = ttlv_find(item, KMIP_TAG_RESULT_STATUS)) == NULL ||
	    st->type != TTLV_ENUMERATION) {
		fprintf(stderr, "kmipctl %s: the server's response lacks batch item %u or its Result Status\n",
		    c->cmd, i + 1);
		return CLI_EXIT_CONNECT;
	}
	if (st->v.u32 == KMIP_RESULT_STATUS_SUCCESS) {
		*payload = ttlv_find(item, KMIP_TAG_RESPONSE_PAYLOAD);
		return 0;
	}
	if (quiet)
		return CLI_EXIT_REFUSED;
	reason = ttlv_find(item, KMIP_TAG_RESULT_REASON);
	msg = ttlv_find(item, KMIP_TAG_RESULT_MESSAGE);
	rname = reason != NULL && reason->type == TTLV_ENUMERATION ?
	    ttlv_enum_name(KMIP_TAG_RESULT_REASON, reason->v.u32) : NULL;
	fprintf(stderr, "kmipctl %s: %s: the server refused: ", c->cmd, what);
	if (rname != NULL)
		fputs(rname, stderr);
	else if (reason != NULL && reason->type == TTLV_ENUMERATION)
		fprintf(stderr, "Result Reason 0x%08x", reason->v.u32);
	else
		fputs(ttlv_enum_name(KMIP_TAG_RESULT_STATUS, st->v.u32) != NULL ?
		    ttlv_enum_name(KMIP_TAG_RESULT_STATUS, st->v.u32) : "failed", stderr);
	if (msg != NULL && msg->type == TTLV_TEXT_STRING) {
		fputs(": ", stderr);
		cli_text(stderr, (const char *)msg->v.bytes.data);
	}
	fputc('\n', stderr);
	return CLI_EXIT_REFUSED;
}

/* Length of the valid UTF-8 sequence at p (at most len bytes), or 0 when it is not one. */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Writes a JSON string; see kmipctl_client.h. */
void
cli_json_str(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		unsigned char ch = p[i];

		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
			i++;
		} else if (ch == '\n') {
			fputs("\\n", f);
			i++;
		} else if (ch == '\t') {
			fputs("\\t", f);
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(f, "\\u%04x", ch);
			i++;
		} else if ((n = utf8_len(p + i, len - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
		} else {
			fwrite(p + i, 1, n, f);
			i += n;
		}
	}
	fputc('"', f);
}

/* Writes text with control characters (and bytes that are not UTF-8) as \xNN, so no answer of a server
 * can drive the operator's terminal. */
void
cli_text(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;

	while (i < len) {
		if (p[i] < 0x20 || p[i] == 0x7f || (n = utf8_len(p + i, len - i)) == 0) {
			fprintf(f, "\\x%02x", p[i]);
			i++;
		} else {
			fwrite(p + i, 1, n, f);
			i += n;
		}
	}
}

/* Writes a name, or the tag in hex when it has none, as a JSON string or text. */
static void
write_tag(FILE *f, uint32_t tag, bool json)
{
	const char *name = ttlv_tag_name(tag);
	char buf[16];

	if (name == NULL) {
		snprintf(buf, sizeof(buf), "0x%06x", tag);
		name = buf;
	}
	if (json)
		cli_json_str(f, name, strlen(name));
	else
		fputs(name, f);
}

/* Writes a string value, as JSON or as text. */
static void
write_str(FILE *f, const char *s, bool json)
{
	if (json)
		cli_json_str(f, s, strlen(s));
	else
		cli_text(f, s);
}

/* The tag whose meaning a value carries: a 1.x Attribute Value's is its attribute's. */
static uint32_t
value_tag(const struct ttlv *v, const char *attr_name)
{
	uint32_t tag;

	if (v->tag == KMIP_TAG_ATTRIBUTE_VALUE && attr_name != NULL && ttlv_tag_by_name(attr_name, &tag) == 0)
		return tag;
	return v->tag;
}

static void value_at(FILE *f, const struct ttlv *v, const char *attr_name, bool json, int depth);

/* Writes a structure's children: a JSON object (a repeated tag as an array), or "{A: x, B: y}". */
static void
structure_at(FILE *f, const struct ttlv *v, bool json, int depth)
{
	const struct ttlv *c, *d;
	bool first = true;

	if (depth >= CLI_MAX_DEPTH) {
		fputs(json ? "null" : "{...}", f);
		return;
	}
	fputc('{', f);
	for (c = v->v.s.first; c != NULL; c = c->next) {
		const struct ttlv *e;
		unsigned count = 0;

		if (!json) {
			fputs(first ? "" : ", ", f);
			write_tag(f, c->tag, false);
			fputs(": ", f);
			value_at(f, c, NULL, false, depth + 1);
			first = false;
			continue;
		}
		/* JSON: an earlier sibling of the same tag already wrote this one in its array */
		for (d = v->v.s.first; d != c; d = d->next)
			if (d->tag == c->tag)
				break;
		if (d != c)
			continue;
		for (e = c; e != NULL; e = e->next)
			count += e->tag == c->tag;
		fputs(first ? "" : ", ", f);
		first = false;
		write_tag(f, c->tag, true);
		fputs(": ", f);
		if (count == 1) {
			value_at(f, c, NULL, true, depth + 1);
			continue;
		}
		fputc('[', f);
		for (e = c; e != NULL; e = e->next) {
			if (e->tag != c->tag)
				continue;
			value_at(f, e, NULL, true, depth + 1);
			if (--count > 0)
				fputs(", ", f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

/* Writes one value; see cli_value. */
static void
value_at(FILE *f, const struct ttlv *v, const char *attr_name, bool json, int depth)
{
	uint32_t tag = value_tag(v, attr_name);
	const char *name;
	char buf[512];
	struct tm tm;
	time_t t;
	uint32_t i;

	switch (v->type) {
	case TTLV_STRUCTURE:
		structure_at(f, v, json, depth);
		return;
	case TTLV_INTEGER:
		if (ttlv_is_mask(tag)) {
			write_str(f, ttlv_mask_str(tag, (uint32_t)v->v.i32, buf, sizeof(buf)), json);
			return;
		}
		fprintf(f, "%d", v->v.i32);
		return;
	case TTLV_LONG_INTEGER:
		fprintf(f, "%lld", (long long)v->v.i64);
		return;
	case TTLV_INTERVAL:
		fprintf(f, "%u", v->v.u32);
		return;
	case TTLV_BOOLEAN:
		fputs(v->v.b ? "true" : "false", f);
		return;
	case TTLV_ENUMERATION:
		name = v->tag == KMIP_TAG_ATTRIBUTE_VALUE && attr_name != NULL ?
		    ttlv_enum_name_for_attribute(attr_name, v->v.u32) : ttlv_enum_name(v->tag, v->v.u32);
		if (name == NULL) {
			snprintf(buf, sizeof(buf), "0x%08x", v->v.u32);
			name = buf;
		}
		write_str(f, name, json);
		return;
	case TTLV_TEXT_STRING:
		if (json)
			cli_json_str(f, (const char *)v->v.bytes.data, v->length);
		else
			cli_text(f, (const char *)v->v.bytes.data);
		return;
	case TTLV_DATE_TIME:
	case TTLV_DATE_TIME_EXTENDED:
		t = (time_t)(v->type == TTLV_DATE_TIME ? v->v.i64 : v->v.i64 / 1000000);
		if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(buf, sizeof(buf), "%lld", (long long)t);
		write_str(f, buf, json);
		return;
	case TTLV_BYTE_STRING:
	case TTLV_BIG_INTEGER:
	default:
		if (json)
			fputc('"', f);
		for (i = 0; i < v->length; i++)
			fprintf(f, "%02x", v->v.bytes.data[i]);
		if (json)
			fputc('"', f);
		return;
	}
}

/* Writes a value as JSON or text; see kmipctl_client.h. */
void
cli_value(FILE *f, const struct ttlv *v, const char *attr_name, bool json)
{
	value_at(f, v, attr_name, json, 0);
}

/* Flushes stdout; see kmipctl_client.h. */
int
cli_flush(const struct cli *c)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "kmipctl %s: stdout: write error\n", c->cmd);
		return CLI_EXIT_REFUSED;
	}
	return 0;
}

struct word {
	const char *word;
	uint32_t value;
};

/* Looks word up in the table, then as a KMIP name of an enumeration of tag; 0, or -1. */
static int
lookup(const struct word *table, size_t n, uint32_t tag, const char *word, uint32_t *value)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(word, table[i].word) == 0) {
			*value = table[i].value;
			return 0;
		}
	}
	return ttlv_enum_by_name(tag, word, value) == 0 ? 0 : -1;
}

/* An Object Type from "symmetric", "private", ... or its KMIP name. */
int
cli_object_type(const char *word, uint32_t *value)
{
	static const struct word t[] = {
		{ "symmetric", KMIP_OBJECT_TYPE_SYMMETRIC_KEY },
		{ "aes", KMIP_OBJECT_TYPE_SYMMETRIC_KEY },
		{ "private", KMIP_OBJECT_TYPE_PRIVATE_KEY },
		{ "public", KMIP_OBJECT_TYPE_PUBLIC_KEY },
		{ "certificate", KMIP_OBJECT_TYPE_CERTIFICATE },
		{ "secret", KMIP_OBJECT_TYPE_SECRET_DATA },
		{ "opaque", KMIP_OBJECT_TYPE_OPAQUE_OBJECT },
	};

	return lookup(t, sizeof(t) / sizeof(t[0]), KMIP_TAG_OBJECT_TYPE, word, value);
}

/* A State from "pre-active", "active", ... or its KMIP name. */
int
cli_state(const char *word, uint32_t *value)
{
	static const struct word t[] = {
		{ "pre-active", KMIP_STATE_PRE_ACTIVE },
		{ "preactive", KMIP_STATE_PRE_ACTIVE },
		{ "active", KMIP_STATE_ACTIVE },
		{ "deactivated", KMIP_STATE_DEACTIVATED },
		{ "compromised", KMIP_STATE_COMPROMISED },
		{ "destroyed", KMIP_STATE_DESTROYED },
		{ "destroyed-compromised", KMIP_STATE_DESTROYED_COMPROMISED },
	};

	return lookup(t, sizeof(t) / sizeof(t[0]), KMIP_TAG_STATE, word, value);
}
