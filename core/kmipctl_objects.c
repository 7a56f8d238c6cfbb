/*
 * kmipctl's commands on a running kmipd's objects, over mutual TLS (kmipctl_client.c): list, show, create,
 * import, export, activate, revoke, destroy, rekey and query. Each opens one connection, sends KMIP 1.4
 * requests and prints the answers; none reads the store. Key material passes only through import and
 * export, in buffers wiped once used.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/kmipctl_client.h"
#include "proto/message.h"
#include "proto/names.h"

#define LIST_DEFAULT_PAGE	100	/* Locate's Maximum Items per request */
#define LIST_MAX_PAGE		1000	/* server.locate_max_items' default: a larger page is cut by it anyway */
#define LIST_ATTR_BATCH		32	/* Get Attributes items per request, under server.max_batch_items (64) */
#define LIST_MAX_BATCH		4096	/* server.max_batch_items' maximum */
#define IMPORT_MAX_FILE		(1024 * 1024)	/* a key or certificate file larger than this is a mistake */
#define UID_MAX			256

/* Reads an unsigned number in [min, max] for option opt; 0, or CLI_EXIT_USAGE after printing why. */
static int
number_option(const char *cmd, const char *opt, const char *s, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "kmipctl %s: %s %s: not a number from %u to %u\n", cmd, opt, s, min, max);
		return CLI_EXIT_USAGE;
	}
	*out = (unsigned)v;
	return 0;
}

/* Checks that argv[first..] is exactly one identifier and returns it, or NULL after printing the usage. */
static const char *
one_operand(struct cli *c, int argc, char **argv, int first)
{
	if (first < 0 || argc - first != 1 || argv[first][0] == '\0' || strlen(argv[first]) > UID_MAX) {
		if (first >= 0)
			cli_usage(c);
		return NULL;
	}
	return argv[first];
}

/* The exit status of a parse that did not give an operand: 0 after -h, else CLI_EXIT_USAGE. */
static int
parse_status(int first)
{
	return first == -1 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* The Attribute Value of the 1.x attribute name in a payload (its index-th), or NULL. */
static const struct ttlv *
attr_value(const struct ttlv *payload, const char *name, unsigned index)
{
	const struct ttlv *a, *n;

	for (a = ttlv_find(payload, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a)) {
		n = ttlv_find(a, KMIP_TAG_ATTRIBUTE_NAME);
		if (n == NULL || n->type != TTLV_TEXT_STRING || strcmp((const char *)n->v.bytes.data, name) != 0)
			continue;
		if (index-- == 0)
			return ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE);
	}
	return NULL;
}

/* A Text String child's value, or NULL. */
static const char *
text_of(const struct ttlv *parent, uint32_t tag)
{
	const struct ttlv *t = ttlv_find(parent, tag);

	return t != NULL && t->type == TTLV_TEXT_STRING ? (const char *)t->v.bytes.data : NULL;
}

/* Prints "label" and a value, or "-" / null when it is absent. */
static void
field(FILE *f, const struct ttlv *v, const char *attr_name, bool json)
{
	if (v == NULL)
		fputs(json ? "null" : "-", f);
	else
		cli_value(f, v, attr_name, json);
}

/* Prints one identifier as JSON {"key": "uid"} or as text "uid". */
static void
print_uid_json(const char *key, const char *uid, bool first, bool last)
{
	printf("%s", first ? "{" : ", ");
	cli_json_str(stdout, key, strlen(key));
	fputs(": ", stdout);
	cli_json_str(stdout, uid, strlen(uid));
	if (last)
		fputs("}\n", stdout);
}

/* ---- list ---- */

struct list_opts {
	const char *cmd;
	uint32_t type;		/* 0: any */
	uint32_t state;		/* 0: any */
	const char *name;
	unsigned page;
	unsigned limit;		/* 0: no limit */
	unsigned batch;		/* Get Attributes per request */
};

enum { L_TYPE = 2000, L_STATE, L_NAME, L_PAGE, L_LIMIT, L_BATCH };

static const struct option list_options[] = {
	{ "type", required_argument, NULL, L_TYPE },
	{ "state", required_argument, NULL, L_STATE },
	{ "name", required_argument, NULL, L_NAME },
	{ "page-size", required_argument, NULL, L_PAGE },
	{ "limit", required_argument, NULL, L_LIMIT },
	{ "batch", required_argument, NULL, L_BATCH },
	{ "owner", required_argument, NULL, 'O' },
	{ NULL, 0, NULL, 0 },
};

/* Takes one of list's options. */
static int
list_take(void *arg, int opt, const char *value)
{
	struct list_opts *o = arg;

	switch (opt) {
	case L_TYPE:
		if (cli_object_type(value, &o->type) != 0) {
			fprintf(stderr, "kmipctl list: --type %s: not symmetric, private, public, certificate, secret, "
			    "opaque or a KMIP Object Type\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case L_STATE:
		if (cli_state(value, &o->state) != 0) {
			fprintf(stderr, "kmipctl list: --state %s: not pre-active, active, deactivated, compromised, "
			    "destroyed or destroyed-compromised\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case L_NAME:
		o->name = value;
		return 0;
	case L_PAGE:
		return number_option(o->cmd, "--page-size", value, 1, LIST_MAX_PAGE, &o->page);
	case L_LIMIT:
		return number_option(o->cmd, "--limit", value, 1, 1u << 30, &o->limit);
	case L_BATCH:
		return number_option(o->cmd, "--batch", value, 1, LIST_MAX_BATCH, &o->batch);
	case 'O':
		fprintf(stderr, "kmipctl list: --owner: kmipd keeps an object's owner outside its KMIP attributes, "
		    "so no client can filter on it; an administrator lists every owner's objects (kmipctl usage "
		    "--owner counts one identity's on the key server)\n");
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* Sends one Locate of the filters for at most max identifiers after offset; 0 or an exit status. */
static int
list_locate(struct cli *c, const struct list_opts *o, unsigned offset, unsigned max, struct ttlv **root,
    struct ttlv_arena **arena, const struct ttlv **payload)
{
	struct ttlv_enc e;
	int rc;

	cli_request_begin(&e, 1);
	cli_item_begin(&e, KMIP_OPERATION_LOCATE);
	ttlv_enc_int(&e, KMIP_TAG_MAXIMUM_ITEMS, (int32_t)max);
	ttlv_enc_int(&e, KMIP_TAG_OFFSET_ITEMS, (int32_t)offset);
	if (o->type != 0)
		cli_attr_enum(&e, "Object Type", o->type);
	if (o->state != 0)
		cli_attr_enum(&e, "State", o->state);
	if (o->name != NULL)
		cli_attr_name(&e, o->name);
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(c, &e, root, arena)) != 0)
		return rc;
	if ((rc = cli_result(c, *root, 0, "Locate", false, payload)) != 0) {
		ttlv_arena_free(*arena);
		*arena = NULL;
	}
	return rc;
}

/* Prints one row of list: the object's identifier and the attributes of a Get Attributes payload. */
static void
list_row(const char *uid, const struct ttlv *p, bool json, bool first)
{
	static const struct {
		const char *attr;
		const char *key;
		int width;
	} cols[] = {
		{ "Object Type", "type", 13 },
		{ "State", "state", 11 },
		{ "Cryptographic Algorithm", "algorithm", 9 },
		{ "Cryptographic Length", "length", 6 },
	};
	const struct ttlv *name = p != NULL ? attr_value(p, "Name", 0) : NULL;
	const char *nv = text_of(name, KMIP_TAG_NAME_VALUE);
	size_t i;

	if (json) {
		fputs(first ? "\n  {\"id\": " : ",\n  {\"id\": ", stdout);
		cli_json_str(stdout, uid, strlen(uid));
		for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			printf(", \"%s\": ", cols[i].key);
			field(stdout, p != NULL ? attr_value(p, cols[i].attr, 0) : NULL, cols[i].attr, true);
		}
		fputs(", \"name\": ", stdout);
		if (nv != NULL)
			cli_json_str(stdout, nv, strlen(nv));
		else
			fputs("null", stdout);
		fputc('}', stdout);
		return;
	}
	cli_text(stdout, uid);
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		const struct ttlv *v = p != NULL ? attr_value(p, cols[i].attr, 0) : NULL;
		char buf[128];
		FILE *m = fmemopen(buf, sizeof(buf), "w");

		/* padded columns: the value is rendered into a small buffer first */
		if (m == NULL) {
			fputs("  ?", stdout);
			continue;
		}
		field(m, v, cols[i].attr, false);
		fputc('\0', m);
		fclose(m);
		buf[sizeof(buf) - 1] = '\0';
		printf("  %-*s", cols[i].width, buf);
	}
	fputs("  ", stdout);
	cli_text(stdout, nv != NULL ? nv : "-");
	fputc('\n', stdout);
}

/* Asks the attributes list shows for n identifiers in one batch and prints their rows. */
static int
list_rows(struct cli *c, const char *const *uids, unsigned n, bool *first)
{
	static const char *const names[] = { "Object Type", "State", "Cryptographic Algorithm",
	    "Cryptographic Length", "Name" };
	const struct ttlv *payload;
	struct ttlv_arena *arena;
	struct ttlv *root;
	struct ttlv_enc e;
	unsigned i, j;
	int rc;

	cli_request_begin(&e, n);
	for (i = 0; i < n; i++) {
		cli_item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uids[i]);
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, names[j]);
		cli_item_end(&e);
	}
	cli_request_end(&e);
	if ((rc = cli_call(c, &e, &root, &arena)) != 0)
		return rc;
	if (n > 1 && cli_item(root, n - 1) == NULL) {
		/* the whole request refused, say for more items than server.max_batch_items: its reason */
		if ((rc = cli_result(c, root, 0, "Get Attributes", false, &payload)) == 0)
			rc = CLI_EXIT_CONNECT;
		if (rc == CLI_EXIT_REFUSED)
			fprintf(stderr, "kmipctl %s: a smaller --batch may do\n", c->cmd);
		ttlv_arena_free(arena);
		return rc;
	}
	for (i = 0; i < n; i++) {
		/* an object destroyed and purged since the Locate still gets its row, without attributes */
		rc = cli_result(c, root, i, "Get Attributes", true, &payload);
		if (rc == CLI_EXIT_CONNECT)
			break;
		list_row(uids[i], rc == 0 ? payload : NULL, c->s.json, *first);
		*first = false;
		rc = 0;
	}
	ttlv_arena_free(arena);
	return rc;
}

/* kmipctl list: the objects the administrator sees, page by page (Locate with Offset and Maximum Items). */
int
cmd_list(int argc, char **argv)
{
	struct list_opts o = { .cmd = "list", .page = LIST_DEFAULT_PAGE, .batch = LIST_ATTR_BATCH };
	const char *uids[LIST_MAX_PAGE];
	const struct ttlv *payload, *t, *located = NULL;
	struct ttlv_arena *arena;
	struct ttlv *root;
	unsigned offset = 0, listed = 0, n, i, ask;
	bool first = true, complete = false;
	long long total = -1;
	struct cli c;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "list", CLI_USAGE_LIST, list_options, "", list_take, &o);
	if (first_arg < 0 || first_arg != argc) {
		if (first_arg >= 0)
			cli_usage(&c);
		cli_close(&c);
		return parse_status(first_arg);
	}
	if ((rc = cli_connect(&c)) != 0)
		goto out;
	if (c.s.json)
		fputs("{\"objects\": [", stdout);
	else
		printf("%-36s  %-13s  %-11s  %-9s  %-6s  %s\n", "ID", "TYPE", "STATE", "ALGORITHM", "LENGTH", "NAME");
	for (;;) {
		ask = o.page;
		if (o.limit != 0 && o.limit - listed < ask)
			ask = o.limit - listed;
		if ((rc = list_locate(&c, &o, offset, ask, &root, &arena, &payload)) != 0)
			goto out;
		if (offset == 0 && (located = ttlv_find(payload, KMIP_TAG_LOCATED_ITEMS)) != NULL &&
		    located->type == TTLV_INTEGER)
			total = located->v.i32;
		n = 0;
		for (t = ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER); t != NULL && n < ask; t = ttlv_find_next(t))
			if (t->type == TTLV_TEXT_STRING)
				uids[n++] = (const char *)t->v.bytes.data;
		for (i = 0; i < n && rc == 0; i += o.batch)
			rc = list_rows(&c, uids + i, n - i < o.batch ? n - i : o.batch, &first);
		ttlv_arena_free(arena);
		if (rc != 0)
			goto out;
		listed += n;
		offset += n;
		/*
		 * A short page does not mean the end: the server caps Maximum Items at server.locate_max_items.
		 * The end is the count it gave (Located Items) or, without one, an empty page.
		 */
		if (n == 0 || (total >= 0 && offset >= (unsigned long long)total)) {
			complete = true;
			break;
		}
		if (o.limit != 0 && listed >= o.limit)
			break;
	}
	if (c.s.json) {
		printf("%s], \"count\": %u, \"located\": ", first ? "" : "\n", listed);
		if (total >= 0)
			printf("%lld", total);
		else
			fputs("null", stdout);
		printf(", \"complete\": %s}\n", complete ? "true" : "false");
	}
	rc = cli_flush(&c);
out:
	cli_close(&c);
	return rc;
}

/* ---- show ---- */

/* kmipctl show ID: every attribute of the object (Get Attributes), never its key material. */
int
cmd_show(int argc, char **argv)
{
	const struct ttlv *payload, *a;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	const char *uid;
	struct cli c;
	bool first = true;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "show", CLI_USAGE_SHOW, NULL, "", NULL, NULL);
	if ((uid = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	if ((rc = cli_connect(&c)) != 0)
		goto out;
	cli_request_begin(&e, 1);
	cli_item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 ||
	    (rc = cli_result(&c, root, 0, uid, false, &payload)) != 0)
		goto out;
	if (c.s.json) {
		fputs("{\"id\": ", stdout);
		cli_json_str(stdout, uid, strlen(uid));
		fputs(", \"attributes\": [", stdout);
	}
	/* the text starts with the Unique Identifier attribute itself */
	for (a = ttlv_find(payload, KMIP_TAG_ATTRIBUTE); a != NULL; a = ttlv_find_next(a)) {
		const char *name = text_of(a, KMIP_TAG_ATTRIBUTE_NAME);
		const struct ttlv *idx = ttlv_find(a, KMIP_TAG_ATTRIBUTE_INDEX);
		const struct ttlv *v = ttlv_find(a, KMIP_TAG_ATTRIBUTE_VALUE);
		int index = idx != NULL && idx->type == TTLV_INTEGER ? idx->v.i32 : 0;

		if (name == NULL)
			continue;
		if (c.s.json) {
			fputs(first ? "\n  {\"name\": " : ",\n  {\"name\": ", stdout);
			cli_json_str(stdout, name, strlen(name));
			printf(", \"index\": %d, \"value\": ", index);
			field(stdout, v, name, true);
			fputc('}', stdout);
		} else {
			cli_text(stdout, name);
			if (index > 0)
				printf(" [%d]", index);
			fputs(": ", stdout);
			field(stdout, v, name, false);
			fputc('\n', stdout);
		}
		first = false;
	}
	if (c.s.json)
		printf("%s]}\n", first ? "" : "\n");
	rc = cli_flush(&c);
out:
	ttlv_arena_free(arena);
	cli_close(&c);
	return rc;
}

/* ---- create ---- */

struct create_opts {
	const char *cmd;
	unsigned length;	/* 0: the kind's default */
	uint32_t curve;		/* 0: from the length, else P-256 */
	const char *name;
};

enum { CR_LENGTH = 2100, CR_CURVE, CR_NAME };

static const struct option create_options[] = {
	{ "length", required_argument, NULL, CR_LENGTH },
	{ "curve", required_argument, NULL, CR_CURVE },
	{ "name", required_argument, NULL, CR_NAME },
	{ NULL, 0, NULL, 0 },
};

/* Takes one of create's (and import's --name) options. */
static int
create_take(void *arg, int opt, const char *value)
{
	struct create_opts *o = arg;

	switch (opt) {
	case CR_LENGTH:
		return number_option(o->cmd, "--length", value, 1, 65536, &o->length);
	case CR_CURVE:
		if (strcasecmp(value, "P-256") == 0 || strcasecmp(value, "prime256v1") == 0)
			o->curve = KMIP_RECOMMENDED_CURVE_P_256;
		else if (strcasecmp(value, "P-384") == 0 || strcasecmp(value, "secp384r1") == 0)
			o->curve = KMIP_RECOMMENDED_CURVE_P_384;
		else if (strcasecmp(value, "P-521") == 0 || strcasecmp(value, "secp521r1") == 0)
			o->curve = KMIP_RECOMMENDED_CURVE_P_521;
		else {
			fprintf(stderr, "kmipctl %s: --curve %s: not P-256, P-384 or P-521\n", o->cmd, value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case CR_NAME:
		o->name = value;
		return 0;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* Prints a key pair's identifiers: "private-key ID" and "public-key ID" lines, or a JSON object. */
static void
print_pair(const struct ttlv *payload, bool json)
{
	const char *priv = text_of(payload, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER);
	const char *pub = text_of(payload, KMIP_TAG_PUBLIC_KEY_UNIQUE_IDENTIFIER);

	if (json) {
		print_uid_json("private_key", priv != NULL ? priv : "", true, false);
		print_uid_json("public_key", pub != NULL ? pub : "", false, true);
		return;
	}
	fputs("private-key ", stdout);
	cli_text(stdout, priv != NULL ? priv : "-");
	fputs("\npublic-key ", stdout);
	cli_text(stdout, pub != NULL ? pub : "-");
	fputc('\n', stdout);
}

/* Prints one new identifier: the line "ID", or {"id": "ID"}. */
static void
print_id(const struct ttlv *payload, bool json)
{
	const char *uid = text_of(payload, KMIP_TAG_UNIQUE_IDENTIFIER);

	if (json) {
		print_uid_json("id", uid != NULL ? uid : "", true, true);
		return;
	}
	cli_text(stdout, uid != NULL ? uid : "-");
	fputc('\n', stdout);
}

/* kmipctl create aes|rsa|ec: Create (AES) or Create Key Pair (RSA, EC); prints the new identifiers. */
int
cmd_create(int argc, char **argv)
{
	struct create_opts o = { .cmd = "create" };
	const struct ttlv *payload;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	const char *kind;
	struct cli c;
	bool pair;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "create", CLI_USAGE_CREATE, create_options, "", create_take, &o);
	if ((kind = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	if (strcmp(kind, "aes") != 0 && strcmp(kind, "rsa") != 0 && strcmp(kind, "ec") != 0) {
		fprintf(stderr, "kmipctl create: %s: make aes, rsa or ec\n", kind);
		rc = cli_usage(&c);
		goto out;
	}
	pair = strcmp(kind, "aes") != 0;
	if (o.curve != 0 && strcmp(kind, "ec") != 0) {
		fprintf(stderr, "kmipctl create: --curve is for ec keys\n");
		rc = cli_usage(&c);
		goto out;
	}
	if (strcmp(kind, "ec") == 0) {
		if (o.curve == 0)
			o.curve = o.length == 384 ? KMIP_RECOMMENDED_CURVE_P_384 : o.length == 521 ?
			    KMIP_RECOMMENDED_CURVE_P_521 : KMIP_RECOMMENDED_CURVE_P_256;
		o.length = o.curve == KMIP_RECOMMENDED_CURVE_P_384 ? 384 : o.curve == KMIP_RECOMMENDED_CURVE_P_521 ?
		    521 : 256;
	} else if (o.length == 0) {
		o.length = pair ? 2048 : 256;
	}
	if ((rc = cli_connect(&c)) != 0)
		goto out;
	cli_request_begin(&e, 1);
	if (!pair) {
		cli_item_begin(&e, KMIP_OPERATION_CREATE);
		ttlv_enc_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_SYMMETRIC_KEY);
		ttlv_enc_begin(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		cli_attr_enum(&e, "Cryptographic Algorithm", KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
		cli_attr_int(&e, "Cryptographic Length", (int32_t)o.length);
		cli_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT |
		    KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT);
		if (o.name != NULL)
			cli_attr_name(&e, o.name);
		ttlv_enc_end(&e);
	} else {
		cli_item_begin(&e, KMIP_OPERATION_CREATE_KEY_PAIR);
		ttlv_enc_begin(&e, KMIP_TAG_COMMON_TEMPLATE_ATTRIBUTE);
		cli_attr_enum(&e, "Cryptographic Algorithm", strcmp(kind, "rsa") == 0 ?
		    KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA : KMIP_CRYPTOGRAPHIC_ALGORITHM_EC);
		cli_attr_int(&e, "Cryptographic Length", (int32_t)o.length);
		if (o.curve != 0) {
			ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTE);
			ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, "Cryptographic Domain Parameters");
			ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTE_VALUE);
			ttlv_enc_enum(&e, KMIP_TAG_RECOMMENDED_CURVE, o.curve);
			ttlv_enc_end(&e);
			ttlv_enc_end(&e);
		}
		if (o.name != NULL)
			cli_attr_name(&e, o.name);
		ttlv_enc_end(&e);
		ttlv_enc_begin(&e, KMIP_TAG_PRIVATE_KEY_TEMPLATE_ATTRIBUTE);
		cli_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN);
		ttlv_enc_end(&e);
		ttlv_enc_begin(&e, KMIP_TAG_PUBLIC_KEY_TEMPLATE_ATTRIBUTE);
		cli_attr_int(&e, "Cryptographic Usage Mask", KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY);
		ttlv_enc_end(&e);
	}
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 ||
	    (rc = cli_result(&c, root, 0, pair ? "Create Key Pair" : "Create", false, &payload)) != 0)
		goto out;
	if (pair)
		print_pair(payload, c.s.json);
	else
		print_id(payload, c.s.json);
	rc = cli_flush(&c);
out:
	ttlv_arena_free(arena);
	cli_close(&c);
	return rc;
}

/* ---- import ---- */

enum import_format { FMT_ANY, FMT_PEM, FMT_DER, FMT_RAW };

struct import_opts {
	struct create_opts co;		/* --name */
	uint32_t type;			/* 0: from the PEM label */
	bool aes;			/* --type aes: a Symmetric Key (else secret: Secret Data) */
	enum import_format format;
};

enum { IM_TYPE = 2200, IM_FORMAT };

static const struct option import_options[] = {
	{ "type", required_argument, NULL, IM_TYPE },
	{ "format", required_argument, NULL, IM_FORMAT },
	{ "name", required_argument, NULL, CR_NAME },
	{ NULL, 0, NULL, 0 },
};

/* Reads --format pem|der|raw; 0, or -1 when it is none of them. */
static int
format_word(const char *w, enum import_format *f)
{
	if (strcmp(w, "pem") == 0)
		*f = FMT_PEM;
	else if (strcmp(w, "der") == 0)
		*f = FMT_DER;
	else if (strcmp(w, "raw") == 0)
		*f = FMT_RAW;
	else
		return -1;
	return 0;
}

/* Takes one of import's options. */
static int
import_take(void *arg, int opt, const char *value)
{
	struct import_opts *o = arg;

	switch (opt) {
	case IM_TYPE:
		if (strcmp(value, "aes") == 0 || strcmp(value, "symmetric") == 0) {
			o->type = KMIP_OBJECT_TYPE_SYMMETRIC_KEY;
			o->aes = true;
		} else if (strcmp(value, "secret") == 0) {
			o->type = KMIP_OBJECT_TYPE_SECRET_DATA;
		} else if (strcmp(value, "private") == 0) {
			o->type = KMIP_OBJECT_TYPE_PRIVATE_KEY;
		} else if (strcmp(value, "public") == 0) {
			o->type = KMIP_OBJECT_TYPE_PUBLIC_KEY;
		} else if (strcmp(value, "certificate") == 0) {
			o->type = KMIP_OBJECT_TYPE_CERTIFICATE;
		} else {
			fprintf(stderr, "kmipctl import: --type %s: not aes, secret, private, public or "
			    "certificate\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case IM_FORMAT:
		if (format_word(value, &o->format) != 0) {
			fprintf(stderr, "kmipctl import: --format %s: not pem, der or raw\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	default:
		return create_take(&o->co, opt, value);
	}
}

/* Reads at most max bytes of a file into a malloc'd buffer; 0, or -1 after printing why. */
static int
read_file(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	struct stat sb;
	uint8_t *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "kmipctl import: %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size <= 0 || (uint64_t)sb.st_size > max) {
		fprintf(stderr, "kmipctl import: %s: not a file of 1 to %zu bytes\n", path, max);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)sb.st_size)) == NULL) {
		fprintf(stderr, "kmipctl import: out of memory\n");
		close(fd);
		return -1;
	}
	while (len < (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 0) {
		fprintf(stderr, "kmipctl import: %s: cannot read it\n", path);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* What import sends: an object type, DER or raw bytes (OPENSSL_malloc'd, wiped when freed) and its key's
 * algorithm and length. */
struct material {
	uint32_t type;
	uint32_t format;	/* Key Format Type; 0 for a certificate */
	uint8_t *der;
	size_t len;
	uint32_t alg;
	int32_t bits;
};

/* Fills the algorithm and length of a key from pkey; 0, or -1 after printing why. */
static int
key_params(EVP_PKEY *pkey, struct material *m)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		m->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
		break;
	case EVP_PKEY_EC:
		m->alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_EC;
		break;
	default:
		fprintf(stderr, "kmipctl import: only RSA and EC keys are imported\n");
		return -1;
	}
	m->bits = EVP_PKEY_get_bits(pkey);
	return 0;
}

/* Turns DER of a key or certificate of type into what Register sends (PKCS#8, SubjectPublicKeyInfo, the
 * certificate). 0, or -1 after printing why. */
static int
parse_der(uint32_t type, const uint8_t *der, size_t len, struct material *m)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *out = NULL;
	X509 *x = NULL;
	int n = -1, rc = -1;

	m->type = type;
	switch (type) {
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
		/* PKCS#8, or the traditional RSA and EC forms: sent as PKCS#8 */
		if ((pkey = d2i_AutoPrivateKey(NULL, &p, (long)len)) == NULL || key_params(pkey, m) != 0 ||
		    (p8 = EVP_PKEY2PKCS8(pkey)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &out)) <= 0)
			goto fail;
		m->format = KMIP_KEY_FORMAT_TYPE_PKCS_8;
		break;
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
		if ((pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
			p = der;
			pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		}
		if (pkey == NULL || key_params(pkey, m) != 0 || (n = i2d_PUBKEY(pkey, &out)) <= 0)
			goto fail;
		m->format = KMIP_KEY_FORMAT_TYPE_X_509;
		break;
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || (n = i2d_X509(x, &out)) <= 0)
			goto fail;
		break;
	default:
		goto fail;
	}
	m->der = out;
	m->len = (size_t)n;
	out = NULL;
	rc = 0;
fail:
	if (rc != 0)
		fprintf(stderr, "kmipctl import: not a%s DER %s\n", type == KMIP_OBJECT_TYPE_CERTIFICATE ? "n X.509" :
		    " RSA or EC", type == KMIP_OBJECT_TYPE_PRIVATE_KEY ? "private key" :
		    type == KMIP_OBJECT_TYPE_PUBLIC_KEY ? "public key" : "certificate");
	if (out != NULL)
		OPENSSL_clear_free(out, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
	X509_free(x);
	return rc;
}

/* Reads the first PEM block of buf: its label decides the object type (checked against want when set). */
static int
parse_pem(const uint8_t *buf, size_t len, uint32_t want, struct material *m)
{
	static const struct {
		const char *label;
		uint32_t type;
	} labels[] = {
		{ "PRIVATE KEY", KMIP_OBJECT_TYPE_PRIVATE_KEY },
		{ "RSA PRIVATE KEY", KMIP_OBJECT_TYPE_PRIVATE_KEY },
		{ "EC PRIVATE KEY", KMIP_OBJECT_TYPE_PRIVATE_KEY },
		{ "PUBLIC KEY", KMIP_OBJECT_TYPE_PUBLIC_KEY },
		{ "RSA PUBLIC KEY", KMIP_OBJECT_TYPE_PUBLIC_KEY },
		{ "CERTIFICATE", KMIP_OBJECT_TYPE_CERTIFICATE },
	};
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	size_t i;
	int rc = -1;

	/* PEM_FLAG_SECURE: the decoded key and OpenSSL's buffers on the way live in the secure heap, wiped when freed */
	if (bio == NULL || !PEM_read_bio_ex(bio, &name, &header, &data, &dlen, PEM_FLAG_SECURE |
	    PEM_FLAG_EAY_COMPATIBLE)) {
		fprintf(stderr, "kmipctl import: no PEM block in the file\n");
		goto out;
	}
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(name, labels[i].label) == 0)
			break;
	if (i == sizeof(labels) / sizeof(labels[0])) {
		fprintf(stderr, "kmipctl import: a PEM \"%s\" is not imported (%s)\n", name,
		    strstr(name, "ENCRYPTED") != NULL ? "decrypt it first: openssl pkey -in FILE -out PLAIN" :
		    "private keys, public keys and certificates are");
		goto out;
	}
	if (want != 0 && want != labels[i].type) {
		fprintf(stderr, "kmipctl import: the file holds a PEM \"%s\", not what --type says\n", name);
		goto out;
	}
	rc = parse_der(labels[i].type, data, (size_t)dlen, m);
out:
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	if (data != NULL)
		OPENSSL_secure_clear_free(data, (size_t)dlen);
	BIO_free(bio);
	return rc;
}

/* Writes the Register request of m (with name); the caller sends and frees it. */
static void
register_request(struct ttlv_enc *e, const struct material *m, const char *name)
{
	uint32_t mask;

	switch (m->type) {
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
		mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT | KMIP_CRYPTOGRAPHIC_USAGE_MASK_DECRYPT;
		break;
	case KMIP_OBJECT_TYPE_SECRET_DATA:
		mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_DERIVE_KEY;
		break;
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
		mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_SIGN;
		break;
	default:
		mask = KMIP_CRYPTOGRAPHIC_USAGE_MASK_VERIFY;
		break;
	}
	cli_request_begin(e, 1);
	cli_item_begin(e, KMIP_OPERATION_REGISTER);
	ttlv_enc_enum(e, KMIP_TAG_OBJECT_TYPE, m->type);
	ttlv_enc_begin(e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
	cli_attr_int(e, "Cryptographic Usage Mask", (int32_t)mask);
	if (name != NULL)
		cli_attr_name(e, name);
	ttlv_enc_end(e);
	ttlv_enc_begin(e, kmip_object_tag(m->type));
	if (m->type == KMIP_OBJECT_TYPE_CERTIFICATE) {
		ttlv_enc_enum(e, KMIP_TAG_CERTIFICATE_TYPE, KMIP_CERTIFICATE_TYPE_X_509);
		ttlv_enc_bytes(e, KMIP_TAG_CERTIFICATE_VALUE, m->der, m->len);
	} else {
		if (m->type == KMIP_OBJECT_TYPE_SECRET_DATA)
			ttlv_enc_enum(e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_DATA_TYPE_SEED);
		ttlv_enc_begin(e, KMIP_TAG_KEY_BLOCK);
		ttlv_enc_enum(e, KMIP_TAG_KEY_FORMAT_TYPE, m->format);
		ttlv_enc_begin(e, KMIP_TAG_KEY_VALUE);
		ttlv_enc_bytes(e, KMIP_TAG_KEY_MATERIAL, m->der, m->len);
		ttlv_enc_end(e);
		if (m->alg != 0) {
			ttlv_enc_enum(e, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, m->alg);
			ttlv_enc_int(e, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, m->bits);
		}
		ttlv_enc_end(e);
	}
	ttlv_enc_end(e);
	cli_item_end(e);
	cli_request_end(e);
}

/* kmipctl import FILE: Register a key, a certificate or secret bytes; prints the new identifier. */
int
cmd_import(int argc, char **argv)
{
	struct import_opts o = { .co = { .cmd = "import" } };
	struct material m = { 0 };
	const struct ttlv *payload;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	uint8_t *buf = NULL;
	size_t len = 0, skip;
	const char *path;
	struct cli c;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "import", CLI_USAGE_IMPORT, import_options, "", import_take, &o);
	if ((path = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	rc = CLI_EXIT_USAGE;
	if (read_file(path, IMPORT_MAX_FILE, &buf, &len) != 0)
		goto out;
	for (skip = 0; skip < len && (buf[skip] == ' ' || buf[skip] == '\n' || buf[skip] == '\r' ||
	    buf[skip] == '\t'); skip++)
		;
	if (o.format == FMT_ANY)
		o.format = len - skip >= 11 && memcmp(buf + skip, "-----BEGIN ", 11) == 0 ? FMT_PEM : FMT_ANY;
	switch (o.format) {
	case FMT_PEM:
		if (o.type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY || o.type == KMIP_OBJECT_TYPE_SECRET_DATA) {
			fprintf(stderr, "kmipctl import: aes and secret data are imported as --format raw\n");
			goto out;
		}
		if (parse_pem(buf, len, o.type, &m) != 0)
			goto out;
		break;
	case FMT_DER:
		if (o.type != KMIP_OBJECT_TYPE_PRIVATE_KEY && o.type != KMIP_OBJECT_TYPE_PUBLIC_KEY &&
		    o.type != KMIP_OBJECT_TYPE_CERTIFICATE) {
			fprintf(stderr, "kmipctl import: --format der needs --type private, public or certificate\n");
			goto out;
		}
		if (parse_der(o.type, buf, len, &m) != 0)
			goto out;
		break;
	case FMT_RAW:
		if (o.type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && o.type != KMIP_OBJECT_TYPE_SECRET_DATA) {
			fprintf(stderr, "kmipctl import: --format raw needs --type aes or secret\n");
			goto out;
		}
		if (o.aes && len != 16 && len != 24 && len != 32) {
			fprintf(stderr, "kmipctl import: %s: %zu bytes: an AES key is 16, 24 or 32 bytes\n", path,
			    len);
			goto out;
		}
		if ((m.der = OPENSSL_malloc(len)) == NULL) {
			fprintf(stderr, "kmipctl import: out of memory\n");
			goto out;
		}
		memcpy(m.der, buf, len);
		m.len = len;
		m.type = o.type;
		m.format = KMIP_KEY_FORMAT_TYPE_RAW;
		if (o.aes) {
			m.alg = KMIP_CRYPTOGRAPHIC_ALGORITHM_AES;
			m.bits = (int32_t)len * 8;
		}
		break;
	default:
		fprintf(stderr, "kmipctl import: %s is not PEM: give --format der or raw, and --type\n", path);
		goto out;
	}
	OPENSSL_cleanse(buf, len);
	if ((rc = cli_connect(&c)) != 0)
		goto out;
	register_request(&e, &m, o.co.name);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 ||
	    (rc = cli_result(&c, root, 0, "Register", false, &payload)) != 0)
		goto out;
	print_id(payload, c.s.json);
	rc = cli_flush(&c);
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	if (m.der != NULL)
		OPENSSL_clear_free(m.der, m.len);
	ttlv_arena_free(arena);
	cli_close(&c);
	return rc;
}

/* ---- export ---- */

struct export_opts {
	bool understood;
	enum import_format format;
	const char *out;
};

enum { EX_UNDERSTOOD = 2300, EX_FORMAT };

static const struct option export_options[] = {
	{ "i-understand-this-exports-key-material", no_argument, NULL, EX_UNDERSTOOD },
	{ "format", required_argument, NULL, EX_FORMAT },
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};

/* Takes one of export's options. */
static int
export_take(void *arg, int opt, const char *value)
{
	struct export_opts *o = arg;

	switch (opt) {
	case EX_UNDERSTOOD:
		o->understood = true;
		return 0;
	case EX_FORMAT:
		if (format_word(value, &o->format) != 0) {
			fprintf(stderr, "kmipctl export: --format %s: not pem, der or raw\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	case 'o':
		o->out = value;
		return 0;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* Writes all of buf to fd; 0, or -1 with errno. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* DER as PEM with label, in a malloc'd buffer the caller wipes and frees; NULL when out of memory. */
static char *
pem_encode(const char *label, const uint8_t *der, size_t len, size_t *outlen)
{
	size_t b64len = 4 * ((len + 2) / 3), cap = b64len + b64len / 64 + 2 + 2 * (strlen(label) + 32), o = 0, i;
	unsigned char *b64;
	char *out;

	if (len > INT32_MAX / 2 || (b64 = malloc(b64len + 1)) == NULL)
		return NULL;
	if ((out = malloc(cap)) == NULL) {
		free(b64);
		return NULL;
	}
	EVP_EncodeBlock(b64, der, (int)len);
	o += (size_t)snprintf(out + o, cap - o, "-----BEGIN %s-----\n", label);
	for (i = 0; i < b64len; i += 64) {
		size_t n = b64len - i < 64 ? b64len - i : 64;

		memcpy(out + o, b64 + i, n);
		o += n;
		out[o++] = '\n';
	}
	o += (size_t)snprintf(out + o, cap - o, "-----END %s-----\n", label);
	OPENSSL_cleanse(b64, b64len + 1);
	free(b64);
	*outlen = o;
	return out;
}

/* Asks the object's type; 0 and *type, or an exit status after printing why. */
static int
object_type(struct cli *c, const char *uid, uint32_t *type)
{
	const struct ttlv *payload, *v;
	struct ttlv_arena *arena;
	struct ttlv *root;
	struct ttlv_enc e;
	int rc;

	cli_request_begin(&e, 1);
	cli_item_begin(&e, KMIP_OPERATION_GET_ATTRIBUTES);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_enc_cstr(&e, KMIP_TAG_ATTRIBUTE_NAME, "Object Type");
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(c, &e, &root, &arena)) != 0)
		return rc;
	if ((rc = cli_result(c, root, 0, uid, false, &payload)) == 0) {
		v = attr_value(payload, "Object Type", 0);
		if (v == NULL || v->type != TTLV_ENUMERATION) {
			fprintf(stderr, "kmipctl %s: %s: the server did not say its Object Type\n", c->cmd, uid);
			rc = CLI_EXIT_REFUSED;
		} else {
			*type = v->v.u32;
		}
	}
	ttlv_arena_free(arena);
	return rc;
}

/* The key material (or certificate value) of a Get payload of an object of type, or NULL. */
static const struct ttlv *
material_of(const struct ttlv *payload, uint32_t type)
{
	const struct ttlv *obj = ttlv_find(payload, kmip_object_tag(type)), *kv, *km;

	if (type == KMIP_OBJECT_TYPE_CERTIFICATE)
		km = ttlv_find(obj, KMIP_TAG_CERTIFICATE_VALUE);
	else if ((kv = ttlv_find(ttlv_find(obj, KMIP_TAG_KEY_BLOCK), KMIP_TAG_KEY_VALUE)) != NULL &&
	    kv->type == TTLV_STRUCTURE)
		km = ttlv_find(kv, KMIP_TAG_KEY_MATERIAL);
	else
		km = NULL;
	return km != NULL && km->type == TTLV_BYTE_STRING ? km : NULL;
}

/*
 * kmipctl export ID: the key material (or certificate) in PEM, DER or raw bytes, only with
 * --i-understand-this-exports-key-material, into a new file of mode 0600 (-o) or a stdout that is not a
 * terminal.
 */
int
cmd_export(int argc, char **argv)
{
	struct export_opts o = { .format = FMT_ANY };
	const struct ttlv *payload, *km;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	const char *uid, *label = NULL;
	char *pem = NULL;
	size_t pemlen = 0;
	uint32_t type = 0, format = 0;
	struct cli c;
	int first_arg, rc, fd = -1;
	bool made = false;

	first_arg = cli_parse(&c, argc, argv, "export", CLI_USAGE_EXPORT, export_options, "o:", export_take, &o);
	if ((uid = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	rc = CLI_EXIT_USAGE;
	if (!o.understood) {
		fprintf(stderr, "kmipctl export: refused: this writes key material out of the key server; say so with "
		    "--i-understand-this-exports-key-material\n");
		goto out;
	}
	if (o.out != NULL && strcmp(o.out, "-") == 0)
		o.out = NULL;	/* -o -: standard output */
	if (o.out == NULL && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "kmipctl export: refused: key material is not written to a terminal; give -o FILE or "
		    "redirect the output\n");
		goto out;
	}
	if (o.out != NULL) {
		/* a new file only, never through a link: key material must not land in someone else's file */
		fd = open(o.out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1) {
			fprintf(stderr, "kmipctl export: %s: %s%s\n", o.out, strerror(errno), errno == EEXIST ?
			    " (export writes only new files)" : "");
			goto out;
		}
		made = true;
		if (fchmod(fd, 0600) != 0) {
			fprintf(stderr, "kmipctl export: %s: %s\n", o.out, strerror(errno));
			goto out;
		}
	} else {
		fd = STDOUT_FILENO;
	}
	if ((rc = cli_connect(&c)) != 0 || (rc = object_type(&c, uid, &type)) != 0)
		goto out;
	rc = CLI_EXIT_USAGE;
	switch (type) {
	case KMIP_OBJECT_TYPE_PRIVATE_KEY:
		format = KMIP_KEY_FORMAT_TYPE_PKCS_8;
		label = "PRIVATE KEY";
		break;
	case KMIP_OBJECT_TYPE_PUBLIC_KEY:
		format = KMIP_KEY_FORMAT_TYPE_X_509;
		label = "PUBLIC KEY";
		break;
	case KMIP_OBJECT_TYPE_CERTIFICATE:
		label = "CERTIFICATE";
		break;
	case KMIP_OBJECT_TYPE_SYMMETRIC_KEY:
	case KMIP_OBJECT_TYPE_SECRET_DATA:
		format = KMIP_KEY_FORMAT_TYPE_RAW;
		break;
	default:
		fprintf(stderr, "kmipctl export: %s is a %s: not exported\n", uid,
		    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type) != NULL ? ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type) :
		    "object of an unknown type");
		goto out;
	}
	if (o.format == FMT_ANY)
		o.format = label != NULL ? FMT_PEM : FMT_RAW;
	if ((label == NULL && o.format != FMT_RAW) || (label != NULL && o.format == FMT_RAW)) {
		fprintf(stderr, "kmipctl export: %s: %s\n", uid, label == NULL ?
		    "symmetric keys and secret data are exported as --format raw" :
		    "keys and certificates are exported as --format pem or der");
		goto out;
	}
	cli_request_begin(&e, 1);
	cli_item_begin(&e, KMIP_OPERATION_GET);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (format != 0)
		ttlv_enc_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, format);
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 || (rc = cli_result(&c, root, 0, uid, false, &payload)) != 0)
		goto out;
	if ((km = material_of(payload, type)) == NULL) {
		fprintf(stderr, "kmipctl export: %s: the server's answer holds no key material in clear\n", uid);
		rc = CLI_EXIT_REFUSED;
		goto out;
	}
	if (o.format == FMT_PEM) {
		if ((pem = pem_encode(label, km->v.bytes.data, km->length, &pemlen)) == NULL) {
			fprintf(stderr, "kmipctl export: out of memory\n");
			rc = CLI_EXIT_REFUSED;
			goto out;
		}
	}
	if (write_all(fd, pem != NULL ? (const void *)pem : km->v.bytes.data, pem != NULL ? pemlen : km->length) != 0 ||
	    (o.out != NULL && fsync(fd) != 0)) {
		fprintf(stderr, "kmipctl export: %s: %s\n", o.out != NULL ? o.out : "stdout", strerror(errno));
		rc = CLI_EXIT_REFUSED;
		goto out;
	}
	rc = 0;
out:
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pemlen);
		free(pem);
	}
	ttlv_arena_free(arena);	/* wipes the key material it held */
	if (fd != -1 && fd != STDOUT_FILENO && close(fd) != 0 && rc == 0) {
		fprintf(stderr, "kmipctl export: %s: %s\n", o.out, strerror(errno));
		rc = CLI_EXIT_REFUSED;
	}
	if (rc != 0 && made)
		(void)unlink(o.out);
	cli_close(&c);
	return rc;
}

/* ---- activate, destroy, revoke ---- */

/* Sends op on one identifier and prints "ID done"; the exit status. */
static int
uid_operation(struct cli *c, const char *uid, uint32_t op, const char *what, const char *done,
    uint32_t reason, int64_t compromise)
{
	const struct ttlv *payload;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	int rc;

	if ((rc = cli_connect(c)) != 0)
		return rc;
	cli_request_begin(&e, 1);
	cli_item_begin(&e, op);
	ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	if (op == KMIP_OPERATION_REVOKE) {
		ttlv_enc_begin(&e, KMIP_TAG_REVOCATION_REASON);
		ttlv_enc_enum(&e, KMIP_TAG_REVOCATION_REASON_CODE, reason);
		ttlv_enc_end(&e);
		if (compromise != 0)
			ttlv_enc_datetime(&e, KMIP_TAG_COMPROMISE_OCCURRENCE_DATE, compromise);
	}
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(c, &e, &root, &arena)) != 0 || (rc = cli_result(c, root, 0, what, false, &payload)) != 0)
		goto out;
	cli_text(stdout, uid);
	printf(" %s\n", done);
	rc = cli_flush(c);
out:
	ttlv_arena_free(arena);
	return rc;
}

/* The common body of activate and destroy. */
static int
simple_command(int argc, char **argv, const char *cmd, const char *usage, uint32_t op, const char *done)
{
	const char *uid;
	struct cli c;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, cmd, usage, NULL, "", NULL, NULL);
	if ((uid = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	rc = uid_operation(&c, uid, op, uid, done, 0, 0);
	cli_close(&c);
	return rc;
}

/* kmipctl activate ID. */
int
cmd_activate(int argc, char **argv)
{
	return simple_command(argc, argv, "activate", CLI_USAGE_ACTIVATE, KMIP_OPERATION_ACTIVATE, "activated");
}

/* kmipctl destroy ID. */
int
cmd_destroy(int argc, char **argv)
{
	return simple_command(argc, argv, "destroy", CLI_USAGE_DESTROY, KMIP_OPERATION_DESTROY, "destroyed");
}

struct revoke_opts {
	uint32_t reason;
	int64_t date;		/* 0: unset */
};

enum { RV_REASON = 2400, RV_DATE };

static const struct option revoke_options[] = {
	{ "reason", required_argument, NULL, RV_REASON },
	{ "compromise-date", required_argument, NULL, RV_DATE },
	{ NULL, 0, NULL, 0 },
};

/* Reads a date: "now", "@SECONDS", "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC); 0, or -1. */
static int
parse_date(const char *s, int64_t *out)
{
	static const char *const forms[] = { "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d" };
	struct tm tm;
	unsigned long long v;
	char *end;
	size_t i;

	if (strcmp(s, "now") == 0) {
		*out = (int64_t)time(NULL);
		return 0;
	}
	if (s[0] == '@' && s[1] >= '0' && s[1] <= '9') {
		errno = 0;
		v = strtoull(s + 1, &end, 10);
		if (errno != 0 || *end != '\0' || v == 0 || v > (1ull << 40))
			return -1;
		*out = (int64_t)v;
		return 0;
	}
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, forms[i], &tm);
		if (end != NULL && *end == '\0') {
			time_t t = timegm(&tm);

			if (t <= 0)
				return -1;
			*out = (int64_t)t;
			return 0;
		}
	}
	return -1;
}

/* Takes one of revoke's options. */
static int
revoke_take(void *arg, int opt, const char *value)
{
	static const struct {
		const char *word;
		uint32_t code;
	} reasons[] = {
		{ "unspecified", KMIP_REVOCATION_REASON_CODE_UNSPECIFIED },
		{ "compromise", KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE },
		{ "key-compromise", KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE },
		{ "ca-compromise", KMIP_REVOCATION_REASON_CODE_CA_COMPROMISE },
		{ "affiliation-changed", KMIP_REVOCATION_REASON_CODE_AFFILIATION_CHANGED },
		{ "superseded", KMIP_REVOCATION_REASON_CODE_SUPERSEDED },
		{ "cessation", KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION },
		{ "cessation-of-operation", KMIP_REVOCATION_REASON_CODE_CESSATION_OF_OPERATION },
		{ "privilege-withdrawn", KMIP_REVOCATION_REASON_CODE_PRIVILEGE_WITHDRAWN },
	};
	struct revoke_opts *o = arg;
	size_t i;

	switch (opt) {
	case RV_REASON:
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
			if (strcmp(value, reasons[i].word) == 0) {
				o->reason = reasons[i].code;
				return 0;
			}
		}
		fprintf(stderr, "kmipctl revoke: --reason %s: not unspecified, compromise, ca-compromise, "
		    "affiliation-changed, superseded, cessation or privilege-withdrawn\n", value);
		return CLI_EXIT_USAGE;
	case RV_DATE:
		if (parse_date(value, &o->date) != 0) {
			fprintf(stderr, "kmipctl revoke: --compromise-date %s: not now, @SECONDS, YYYY-MM-DD or "
			    "YYYY-MM-DDTHH:MM:SSZ\n", value);
			return CLI_EXIT_USAGE;
		}
		return 0;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* kmipctl revoke ID --reason R: Revoke; a compromise carries its date (now unless given). */
int
cmd_revoke(int argc, char **argv)
{
	struct revoke_opts o = { 0 };
	const char *uid;
	struct cli c;
	bool compromise;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "revoke", CLI_USAGE_REVOKE, revoke_options, "", revoke_take, &o);
	if ((uid = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	compromise = o.reason == KMIP_REVOCATION_REASON_CODE_KEY_COMPROMISE ||
	    o.reason == KMIP_REVOCATION_REASON_CODE_CA_COMPROMISE;
	if (o.reason == 0 || (o.date != 0 && !compromise)) {
		fprintf(stderr, "kmipctl revoke: %s\n", o.reason == 0 ? "--reason is required" :
		    "--compromise-date goes with --reason compromise or ca-compromise");
		rc = cli_usage(&c);
		cli_close(&c);
		return rc;
	}
	if (compromise && o.date == 0)
		o.date = (int64_t)time(NULL);
	rc = uid_operation(&c, uid, KMIP_OPERATION_REVOKE, uid, "revoked", o.reason, compromise ? o.date : 0);
	cli_close(&c);
	return rc;
}

/* ---- rekey ---- */

/* kmipctl rekey ID: Re-key a symmetric key, Re-key Key Pair a private key; prints the new identifiers. */
int
cmd_rekey(int argc, char **argv)
{
	const struct ttlv *payload;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	const char *uid;
	uint32_t type = 0;
	struct cli c;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "rekey", CLI_USAGE_REKEY, NULL, "", NULL, NULL);
	if ((uid = one_operand(&c, argc, argv, first_arg)) == NULL) {
		cli_close(&c);
		return parse_status(first_arg);
	}
	if ((rc = cli_connect(&c)) != 0 || (rc = object_type(&c, uid, &type)) != 0)
		goto out;
	if (type != KMIP_OBJECT_TYPE_SYMMETRIC_KEY && type != KMIP_OBJECT_TYPE_PRIVATE_KEY) {
		fprintf(stderr, "kmipctl rekey: %s is a %s: rekey a symmetric key or the private key of a pair\n",
		    uid, ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type) != NULL ?
		    ttlv_enum_name(KMIP_TAG_OBJECT_TYPE, type) : "object of another type");
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	cli_request_begin(&e, 1);
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY) {
		cli_item_begin(&e, KMIP_OPERATION_RE_KEY);
		ttlv_enc_cstr(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	} else {
		cli_item_begin(&e, KMIP_OPERATION_RE_KEY_KEY_PAIR);
		ttlv_enc_cstr(&e, KMIP_TAG_PRIVATE_KEY_UNIQUE_IDENTIFIER, uid);
	}
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 || (rc = cli_result(&c, root, 0, uid, false, &payload)) != 0)
		goto out;
	if (type == KMIP_OBJECT_TYPE_SYMMETRIC_KEY)
		print_id(payload, c.s.json);
	else
		print_pair(payload, c.s.json);
	rc = cli_flush(&c);
out:
	ttlv_arena_free(arena);
	cli_close(&c);
	return rc;
}

/* ---- query ---- */

/* Prints every child of payload with tag as a list: JSON array of names, or "label: a, b, c". */
static void
query_list(const struct ttlv *payload, uint32_t tag, const char *label, bool json)
{
	const struct ttlv *t;
	bool first = true;

	if (json) {
		printf(", \"%s\": [", label);
	} else {
		printf("%s:", label);
	}
	for (t = ttlv_find(payload, tag); t != NULL; t = ttlv_find_next(t)) {
		fputs(first ? (json ? "" : " ") : ", ", stdout);
		cli_value(stdout, t, NULL, json);
		first = false;
	}
	fputs(json ? "]" : "\n", stdout);
}

/* kmipctl query: the operations and object types the server offers this identity, and what it is. */
int
cmd_query(int argc, char **argv)
{
	const struct ttlv *payload, *info;
	struct ttlv_arena *arena = NULL;
	struct ttlv *root;
	struct ttlv_enc e;
	const char *vendor;
	struct cli c;
	int first_arg, rc;

	first_arg = cli_parse(&c, argc, argv, "query", CLI_USAGE_QUERY, NULL, "", NULL, NULL);
	if (first_arg < 0 || first_arg != argc) {
		if (first_arg >= 0)
			cli_usage(&c);
		cli_close(&c);
		return parse_status(first_arg);
	}
	if ((rc = cli_connect(&c)) != 0)
		goto out;
	cli_request_begin(&e, 1);
	cli_item_begin(&e, KMIP_OPERATION_QUERY);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OPERATIONS);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_OBJECTS);
	ttlv_enc_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_FUNCTION_QUERY_SERVER_INFORMATION);
	cli_item_end(&e);
	cli_request_end(&e);
	if ((rc = cli_call(&c, &e, &root, &arena)) != 0 ||
	    (rc = cli_result(&c, root, 0, "Query", false, &payload)) != 0)
		goto out;
	vendor = text_of(payload, KMIP_TAG_VENDOR_IDENTIFICATION);
	info = ttlv_find(payload, KMIP_TAG_SERVER_INFORMATION);
	if (c.s.json) {
		fputs("{\"vendor\": ", stdout);
		if (vendor != NULL)
			cli_json_str(stdout, vendor, strlen(vendor));
		else
			fputs("null", stdout);
		query_list(payload, KMIP_TAG_OPERATION, "operations", true);
		query_list(payload, KMIP_TAG_OBJECT_TYPE, "objects", true);
		fputs(", \"server_information\": ", stdout);
		field(stdout, info, NULL, true);
		fputs("}\n", stdout);
	} else {
		fputs("Vendor: ", stdout);
		cli_text(stdout, vendor != NULL ? vendor : "-");
		fputc('\n', stdout);
		query_list(payload, KMIP_TAG_OPERATION, "Operations", false);
		query_list(payload, KMIP_TAG_OBJECT_TYPE, "Objects", false);
		fputs("Server Information: ", stdout);
		field(stdout, info, NULL, false);
		fputc('\n', stdout);
	}
	rc = cli_flush(&c);
out:
	ttlv_arena_free(arena);
	cli_close(&c);
	return rc;
}
