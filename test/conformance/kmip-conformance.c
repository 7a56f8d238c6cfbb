/*
 * kmip-conformance: runs OASIS KMIP profile test cases (KMIP XML encoding) against any KMIP server.
 *
 *   kmip-conformance --host H --port P --ca CA --cert CERT --key KEY [--verbose] FILE...
 *
 * Each file holds alternating Request and Response Messages. The runner opens one mutual-TLS connection
 * per file, fills the placeholders of each request (the current time for $NOW, $NOW-N and $NOW+N; values
 * the server returned earlier for the others), sends it as TTLV, and compares the decoded response with
 * the expected one: exact on structure, tags, types and values, except that
 *   - Date-Time values (time stamps, dates the server set) may be anything;
 *   - Result Message and Server Correlation Value are ignored (the server's own text), present or not;
 *   - a placeholder binds to what the server sent the first time it is seen and must be equal after that;
 *   - attribute lists are compared as sets: the children of 2.x Attributes (and its Common, Private Key and
 *     Public Key forms), 1.x Attribute structures among their siblings, and in a Response Payload the
 *     lists of Attribute Name, Attribute Reference, Unique Identifier, Operation and Object Type;
 *   - a Query response describes the server: its lists of Operations and Object Types need only be there
 *     (the other test cases exercise the operations), Vendor Identification and Server Information are
 *     its own;
 *   - values the test cases show literally although only a server can choose them (random bytes, what
 *     comes of keys and IVs it generated, in this file or an earlier one of the run, RSA cipher texts)
 *     need only their length (see server_chosen());
 *   - a Random Number Generator attribute describes the generator of the server: it must be there, its
 *     fields are the server's (see describes_rng()).
 * test/conformance/README.md says the same at more length.
 * It prints PASS or FAIL per file (with the first difference: its path of tags and both subtrees), then
 * "N passed, M failed". Exit status: 0 when every file passed, 1 when some failed, 2 when the runner
 * itself could not work (bad arguments, unreadable credentials, a file that is not a test case).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "proto/xml.h"
#include "tls/tls.h"
#include "test/util.h"

#define EXIT_FAILED	1
#define EXIT_BROKEN	2
#define MAX_PATH_TEXT	1024
#define MAX_BINDINGS	4096	/* placeholders bound in one file */

struct binding {
	const char *name;		/* "$UNIQUE_IDENTIFIER_0" */
	const struct ttlv *value;	/* a copy in the file's arena */
};

struct options {
	const char *host;
	unsigned port;
	const char *servername;
	const char *ca;
	const char *cert;
	const char *key;
	int timeout_ms;
	bool verbose;
};

/* A set of placeholder names (UNIQUE_IDENTIFIER ones), the strings owned by the document. */
struct name_set {
	const char **v;
	size_t n;
	size_t cap;
};

/* Where in a response the comparison is: decides which values the server may choose freely. */
struct context {
	uint32_t op;		/* Operation of the batch item being compared; 0 outside one */
	bool in_payload;	/* inside its Response Payload */
	bool in_key_block;	/* inside a Key Block of it */
	bool generated;		/* the payload names an object the server generated (Create, ...) */
	bool rsa;		/* ... or an RSA key (RSA encryption pads with random bytes) */
	bool server_iv;		/* an Encrypt whose IV the server chose */
	bool own_data;		/* the request's Data came from the server (a placeholder) */
};

/* One file being run. */
struct run {
	const struct options *opt;
	const char *name;		/* file name without its folders */
	struct ttlv_xml_doc *doc;
	struct ttlv_arena *arena;	/* bound values */
	struct binding *b;
	size_t nb;
	size_t cap;
	const struct ttlv *request;	/* the request whose response is being compared */
	const struct ttlv *expected;	/* and the expected response */
	struct context ctx;
	unsigned trials;		/* > 0 while trying which unordered item matches */
	struct name_set generated;	/* identifiers of objects the server generated */
	struct name_set *made;		/* the identifiers it generated in every file so far (owned copies) */
	struct name_set rsa;		/* identifiers of RSA keys */
	struct ttlv **responses;	/* responses received so far, newest last */
	struct ttlv_arena **resp_arenas;
	size_t nresp;
};

/* The first difference found, for the report. */
struct diff {
	char path[MAX_PATH_TEXT];
	char reason[512];
	const struct ttlv *exp;
	const struct ttlv *act;
};

/* Sets the one-line account of a difference. */
static void __attribute__((format(printf, 2, 3)))
set_reason(struct diff *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

/* The XML name of a tag, or its hex form in a static buffer. */
static const char *
tag_str(uint32_t tag)
{
	static char buf[16];
	const char *n = ttlv_tag_xml_name(tag);

	if (n != NULL)
		return n;
	snprintf(buf, sizeof(buf), "0x%06X", (unsigned)tag);
	return buf;
}

/* Finds the value bound to a placeholder, or NULL. */
static const struct ttlv *
lookup(const struct run *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nb; i++)
		if (strcmp(r->b[i].name, name) == 0)
			return r->b[i].value;
	return NULL;
}

/* Copies item (and what is under it) into arena. Returns the copy, or NULL when out of memory. */
static struct ttlv *
copy_item(struct ttlv_arena *a, const struct ttlv *t)
{
	struct ttlv *c, *k;
	const struct ttlv *x;

	switch (t->type) {
	case TTLV_STRUCTURE:
		if ((c = ttlv_new_struct(a, t->tag)) == NULL)
			return NULL;
		for (x = t->v.s.first; x != NULL; x = x->next) {
			if ((k = copy_item(a, x)) == NULL)
				return NULL;
			ttlv_append(c, k);
		}
		return c;
	case TTLV_TEXT_STRING:
		return ttlv_new_text(a, t->tag, (const char *)t->v.bytes.data, t->length);
	case TTLV_BYTE_STRING:
		return ttlv_new_bytes(a, t->tag, t->v.bytes.data, t->length);
	case TTLV_BIG_INTEGER:
		return ttlv_new_bigint(a, t->tag, t->v.bytes.data, t->length);
	default:
		if ((c = ttlv_arena_alloc(a, sizeof(*c))) == NULL)
			return NULL;
		*c = *t;
		c->next = NULL;
		return c;
	}
}

/* Binds name to a copy of value. Returns 0, or -1 when out of memory or over the limit. */
static int
bind_value(struct run *r, const char *name, const struct ttlv *value)
{
	struct binding *nb;
	const struct ttlv *copy;

	if (r->nb == r->cap) {
		size_t cap = r->cap == 0 ? 16 : r->cap * 2;

		if (cap > MAX_BINDINGS || (nb = reallocarray(r->b, cap, sizeof(*nb))) == NULL)
			return -1;
		r->b = nb;
		r->cap = cap;
	}
	if ((copy = copy_item(r->arena, value)) == NULL)
		return -1;
	r->b[r->nb].name = name;
	r->b[r->nb].value = copy;
	r->nb++;
	return 0;
}

/* True for Date-Time and Date-Time Extended. */
static bool
is_time(uint8_t type)
{
	return type == TTLV_DATE_TIME || type == TTLV_DATE_TIME_EXTENDED;
}

/* True for the byte-like types. */
static bool
is_bytes(uint8_t type)
{
	return type == TTLV_TEXT_STRING || type == TTLV_BYTE_STRING || type == TTLV_BIG_INTEGER;
}

/* Skips the sign-extension bytes of a Big Integer: the value without redundant leading 00 or FF bytes. */
static void
bigint_trim(const struct ttlv *t, const uint8_t **p, size_t *len)
{
	const uint8_t *d = t->v.bytes.data;
	size_t n = t->length;

	while (n > 1 && ((d[0] == 0x00 && !(d[1] & 0x80)) || (d[0] == 0xff && (d[1] & 0x80)))) {
		d++;
		n--;
	}
	*p = d;
	*len = n;
}

/* Compares two leaf values regardless of their tags (Big Integers by value). */
static bool
value_equal(const struct ttlv *a, const struct ttlv *b)
{
	const uint8_t *pa, *pb;
	struct ttlv x;
	size_t la, lb;

	if (a->type == TTLV_BIG_INTEGER && b->type == TTLV_BIG_INTEGER) {
		bigint_trim(a, &pa, &la);
		bigint_trim(b, &pb, &lb);
		return la == lb && memcmp(pa, pb, la) == 0;
	}
	/* Any other value: proto's deep equality on a copy of a that carries b's tag. */
	x = *a;
	x.tag = b->tag;
	return ttlv_equal(&x, b);
}

/* Items whose value and presence are the server's own: a free-text message and its correlation value. */
static bool
ignored(uint32_t tag)
{
	return tag == KMIP_TAG_RESULT_MESSAGE || tag == KMIP_TAG_SERVER_CORRELATION_VALUE;
}

/* Adds a name to a set. Returns 0, or -1 when out of memory. */
static int
set_add(struct name_set *set, const char *name)
{
	const char **v;
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i], name) == 0)
			return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap == 0 ? 16 : set->cap * 2;

		if (cap > MAX_BINDINGS || (v = reallocarray(set->v, cap, sizeof(*v))) == NULL)
			return -1;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = name;
	return 0;
}

/* True when name (which may be NULL) is in the set. */
static bool
set_has(const struct name_set *set, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < set->n; i++)
		if (strcmp(set->v[i], name) == 0)
			return true;
	return false;
}

/* The Enumeration value of a child, or 0. */
static uint32_t
child_enum(const struct ttlv *parent, uint32_t tag)
{
	const struct ttlv *c = ttlv_find(parent, tag);

	return c != NULL && c->type == TTLV_ENUMERATION ? c->v.u32 : 0;
}

/* True when a request tree names the RSA algorithm (2.x attribute, Key Block, or 1.x Attribute). */
static bool
names_rsa(const struct ttlv *t)
{
	const struct ttlv *c, *n, *v;

	if (t->tag == KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM && t->type == TTLV_ENUMERATION)
		return t->v.u32 == KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
	if (t->type != TTLV_STRUCTURE)
		return false;
	if (t->tag == KMIP_TAG_ATTRIBUTE && (n = ttlv_find(t, KMIP_TAG_ATTRIBUTE_NAME)) != NULL &&
	    n->type == TTLV_TEXT_STRING && strcmp((const char *)n->v.bytes.data, "Cryptographic Algorithm") == 0 &&
	    (v = ttlv_find(t, KMIP_TAG_ATTRIBUTE_VALUE)) != NULL && v->type == TTLV_ENUMERATION)
		return v->v.u32 == KMIP_CRYPTOGRAPHIC_ALGORITHM_RSA;
	for (c = t->v.s.first; c != NULL; c = c->next)
		if (names_rsa(c))
			return true;
	return false;
}

/* Adds every identifier placeholder under an expected item to a set. Returns 0, or -1. */
static int
add_identifiers(struct run *r, struct name_set *set, const struct ttlv *t)
{
	const char *ph = ttlv_xml_placeholder(r->doc, t);
	const struct ttlv *c;

	if (ph != NULL && strstr(ph, "UNIQUE_IDENTIFIER") != NULL && set_add(set, ph) == -1)
		return -1;
	if (t->type == TTLV_STRUCTURE)
		for (c = t->v.s.first; c != NULL; c = c->next)
			if (add_identifiers(r, set, c) == -1)
				return -1;
	return 0;
}

/* The request Batch Item answered by an expected response Batch Item (same position), or NULL. */
static const struct ttlv *
request_item(const struct run *r, const struct ttlv *exp_item)
{
	const struct ttlv *e, *q;

	for (e = ttlv_find(r->expected, KMIP_TAG_BATCH_ITEM), q = ttlv_find(r->request, KMIP_TAG_BATCH_ITEM);
	    e != NULL && q != NULL; e = ttlv_find_next(e), q = ttlv_find_next(q))
		if (e == exp_item)
			return q;
	return NULL;
}

/*
 * True when placeholder ph is bound to an object the server generated in an earlier file of this run (a
 * test case may go on with what the previous one made: TL-M-3 reads the key TL-M-2 created).
 */
static bool
made_earlier(const struct run *r, const char *ph)
{
	const struct ttlv *v = ph != NULL ? lookup(r, ph) : NULL;

	return v != NULL && v->type == TTLV_TEXT_STRING && set_has(r->made, (const char *)v->v.bytes.data);
}

/*
 * Remembers for the rest of the run the identifiers the server sent for the placeholders of t (a
 * generating operation's payload). Returns 0, or -1 when out of memory.
 */
static int
remember_made(struct run *r, const struct ttlv *t)
{
	const char *ph = ttlv_xml_placeholder(r->doc, t);
	const struct ttlv *v, *c;
	char *copy;

	if (ph != NULL && strstr(ph, "UNIQUE_IDENTIFIER") != NULL && (v = lookup(r, ph)) != NULL &&
	    v->type == TTLV_TEXT_STRING && !set_has(r->made, (const char *)v->v.bytes.data)) {
		if ((copy = strndup((const char *)v->v.bytes.data, v->length)) == NULL)
			return -1;
		if (set_add(r->made, copy) == -1) {
			free(copy);
			return -1;
		}
	}
	if (t->type == TTLV_STRUCTURE)
		for (c = t->v.s.first; c != NULL; c = c->next)
			if (remember_made(r, c) == -1)
				return -1;
	return 0;
}

/* Sets the context for comparing one expected response Batch Item. */
static void
enter_batch_item(struct run *r, const struct ttlv *exp_item)
{
	const struct ttlv *payload = ttlv_find(exp_item, KMIP_TAG_RESPONSE_PAYLOAD);
	const struct ttlv *req = request_item(r, exp_item), *uid;
	const char *ph = NULL;

	memset(&r->ctx, 0, sizeof(r->ctx));
	r->ctx.op = child_enum(exp_item, KMIP_TAG_OPERATION);
	if (r->ctx.op == 0)
		r->ctx.op = UINT32_MAX;		/* inside a Batch Item all the same */
	if ((uid = ttlv_find(payload, KMIP_TAG_UNIQUE_IDENTIFIER)) != NULL)
		ph = ttlv_xml_placeholder(r->doc, uid);
	r->ctx.generated = set_has(&r->generated, ph) || made_earlier(r, ph);
	r->ctx.rsa = set_has(&r->rsa, ph);
	r->ctx.own_data = ttlv_xml_placeholder(r->doc, ttlv_find(ttlv_find(req, KMIP_TAG_REQUEST_PAYLOAD),
	    KMIP_TAG_DATA)) != NULL;
	r->ctx.server_iv = r->ctx.op == KMIP_OPERATION_ENCRYPT && ttlv_find(payload, KMIP_TAG_IV_COUNTER_NONCE) != NULL &&
	    ttlv_find(ttlv_find(req, KMIP_TAG_REQUEST_PAYLOAD), KMIP_TAG_IV_COUNTER_NONCE) == NULL;
}

/*
 * After a Batch Item matched: remembers the objects it made that the server generated (their key
 * material, digests, cipher texts and the plain text of a foreign cipher text cannot be known in advance) and the RSA keys it made or registered.
 * Returns 0, or -1 when out of memory.
 */
static int
note_batch_item(struct run *r, const struct ttlv *exp_item)
{
	const struct ttlv *payload = ttlv_find(exp_item, KMIP_TAG_RESPONSE_PAYLOAD);
	const struct ttlv *req = request_item(r, exp_item);
	uint32_t op = child_enum(exp_item, KMIP_TAG_OPERATION);

	if (payload == NULL)
		return 0;
	switch (op) {
	case KMIP_OPERATION_CREATE:
	case KMIP_OPERATION_CREATE_KEY_PAIR:
	case KMIP_OPERATION_RE_KEY:
	case KMIP_OPERATION_RE_KEY_KEY_PAIR:
	case KMIP_OPERATION_DERIVE_KEY:
	case KMIP_OPERATION_CERTIFY:
	case KMIP_OPERATION_RE_CERTIFY:
	case KMIP_OPERATION_CREATE_SPLIT_KEY:
	case KMIP_OPERATION_JOIN_SPLIT_KEY:
		if (add_identifiers(r, &r->generated, payload) == -1 || remember_made(r, payload) == -1)
			return -1;
		break;
	default:
		break;
	}
	if ((op == KMIP_OPERATION_REGISTER || op == KMIP_OPERATION_CREATE_KEY_PAIR ||
	    op == KMIP_OPERATION_RE_KEY_KEY_PAIR) && req != NULL && names_rsa(req))
		return add_identifiers(r, &r->rsa, payload);
	return 0;
}

/*
 * True for a Random Number Generator attribute (2.x item, or 1.x Attribute named so): it describes the
 * generator of the server that made the key, which the test cases show for their own server. Both sides
 * must have one; its fields are the server's.
 */
static bool
describes_rng(const struct ttlv *exp, const struct ttlv *act)
{
	const struct ttlv *en, *an;

	if (exp->tag == KMIP_TAG_RANDOM_NUMBER_GENERATOR)
		return act->tag == exp->tag && act->type == TTLV_STRUCTURE;
	if (exp->tag != KMIP_TAG_ATTRIBUTE || act->tag != KMIP_TAG_ATTRIBUTE)
		return false;
	en = ttlv_find(exp, KMIP_TAG_ATTRIBUTE_NAME);
	an = ttlv_find(act, KMIP_TAG_ATTRIBUTE_NAME);
	return en != NULL && an != NULL && en->type == TTLV_TEXT_STRING && ttlv_equal(en, an) &&
	    strcmp((const char *)en->v.bytes.data, "Random Number Generator") == 0 &&
	    ttlv_find(act, KMIP_TAG_ATTRIBUTE_VALUE) != NULL;
}

/*
 * True when an expected literal value is one the server chooses, so another value is as good: the Vendor
 * Identification of a Query; random bytes of RNG Retrieve; what an object the server generated yields
 * (key material in any length, digests, cipher texts, MACs: same length) except the plain text of a
 * cipher text that server made;
 * the IV, cipher text and tag of an Encrypt whose IV the server chose; RSA cipher texts (random padding).
 */
static bool
server_chosen(const struct run *r, const struct ttlv *exp, const struct ttlv *act)
{
	const struct context *c = &r->ctx;

	if (!c->in_payload)
		return false;
	if (c->op == KMIP_OPERATION_QUERY && exp->tag == KMIP_TAG_VENDOR_IDENTIFICATION)
		return true;
	if (exp->type != TTLV_BYTE_STRING && exp->type != TTLV_BIG_INTEGER)
		return false;
	if (c->generated && c->in_key_block)
		return true;
	if (exp->length != act->length)
		return false;
	if (c->op == KMIP_OPERATION_RNG_RETRIEVE && exp->tag == KMIP_TAG_DATA)
		return true;
	if (c->generated && !(c->op == KMIP_OPERATION_DECRYPT && c->own_data))
		return true;
	if (c->server_iv && (exp->tag == KMIP_TAG_DATA || exp->tag == KMIP_TAG_IV_COUNTER_NONCE ||
	    exp->tag == KMIP_TAG_AUTHENTICATED_ENCRYPTION_TAG))
		return true;
	return c->rsa && c->op == KMIP_OPERATION_ENCRYPT && exp->tag == KMIP_TAG_DATA;
}

/* True when the children of an item with this tag form one unordered set. */
static bool
unordered_parent(uint32_t tag)
{
	return tag == KMIP_TAG_ATTRIBUTES || tag == KMIP_TAG_COMMON_ATTRIBUTES ||
	    tag == KMIP_TAG_PRIVATE_KEY_ATTRIBUTES || tag == KMIP_TAG_PUBLIC_KEY_ATTRIBUTES;
}

/* True when a child with this tag under parent belongs to the parent's unordered set. */
static bool
unordered_child(uint32_t parent, uint32_t tag)
{
	if (unordered_parent(parent) || tag == KMIP_TAG_ATTRIBUTE)
		return true;
	if (parent != KMIP_TAG_RESPONSE_PAYLOAD)
		return false;
	return tag == KMIP_TAG_ATTRIBUTE_NAME || tag == KMIP_TAG_ATTRIBUTE_REFERENCE ||
	    tag == KMIP_TAG_UNIQUE_IDENTIFIER || tag == KMIP_TAG_OPERATION || tag == KMIP_TAG_OBJECT_TYPE;
}

/* Appends "/Name" or "/Name[i]" to the path; returns the old length to restore. */
static size_t
path_push(struct diff *d, const struct ttlv *parent, const struct ttlv *child)
{
	size_t old = strlen(d->path);
	unsigned same = 0, index = 0;
	const struct ttlv *c;

	if (parent != NULL) {
		for (c = parent->v.s.first; c != NULL; c = c->next) {
			if (c->tag != child->tag)
				continue;
			same++;
			if (c == child)
				index = same;
		}
	}
	if (same > 1)
		snprintf(d->path + old, sizeof(d->path) - old, "/%s[%u]", tag_str(child->tag), index);
	else
		snprintf(d->path + old, sizeof(d->path) - old, "/%s", tag_str(child->tag));
	return old;
}

static bool compare(struct run *r, const struct ttlv *exp, const struct ttlv *act, struct diff *d);

/* Leaf value as a short text for the reason line (secrets are summarized as their length). */
static void
short_value(const struct ttlv *t, char *buf, size_t size)
{
	switch (t->type) {
	case TTLV_INTEGER:
		snprintf(buf, size, "%d", t->v.i32);
		break;
	case TTLV_ENUMERATION: {
		const char *n = ttlv_enum_xml_name(t->tag, t->v.u32);

		if (n != NULL)
			snprintf(buf, size, "%s", n);
		else
			snprintf(buf, size, "0x%08X", (unsigned)t->v.u32);
		break;
	}
	case TTLV_TEXT_STRING:
		snprintf(buf, size, "\"%.60s%s\"", (const char *)t->v.bytes.data, t->length > 60 ? "..." : "");
		break;
	case TTLV_BYTE_STRING:
	case TTLV_BIG_INTEGER:
		snprintf(buf, size, "%u bytes", (unsigned)t->length);
		break;
	case TTLV_BOOLEAN:
		snprintf(buf, size, "%s", t->v.b ? "true" : "false");
		break;
	case TTLV_LONG_INTEGER:
		snprintf(buf, size, "%lld", (long long)t->v.i64);
		break;
	case TTLV_INTERVAL:
		snprintf(buf, size, "%u", (unsigned)t->v.u32);
		break;
	default:
		snprintf(buf, size, "a %s", ttlv_type_name(t->type) != NULL ? ttlv_type_name(t->type) : "value");
	}
}

/* The Attribute Name text of a 1.x Attribute, or NULL. */
static const char *
attribute_name(const struct ttlv *t)
{
	const struct ttlv *n;

	if (t->tag != KMIP_TAG_ATTRIBUTE || t->type != TTLV_STRUCTURE)
		return NULL;
	n = ttlv_find(t, KMIP_TAG_ATTRIBUTE_NAME);
	return n != NULL && n->type == TTLV_TEXT_STRING ? (const char *)n->v.bytes.data : NULL;
}

/* True for an Operation or Object Type that a Query response lists. */
static bool
query_list(const struct run *r, const struct ttlv *parent, const struct ttlv *child)
{
	return r->ctx.op == KMIP_OPERATION_QUERY && parent->tag == KMIP_TAG_RESPONSE_PAYLOAD &&
	    (child->tag == KMIP_TAG_OPERATION || child->tag == KMIP_TAG_OBJECT_TYPE);
}

/* Compares the children of two structures (see the rules at the top). */
static bool
compare_children(struct run *r, const struct ttlv *exp, const struct ttlv *act, struct diff *d)
{
	const struct ttlv *e, *a, *best;
	const struct ttlv **used = NULL;
	struct diff *header = NULL;
	size_t nused = 0, cap, old, i, saved;
	bool ok = false;

	cap = act->v.s.count + 1;
	if ((used = calloc(cap, sizeof(*used))) == NULL) {
		set_reason(d, "out of memory");
		return false;
	}
	/* The ordered children first, pairwise. */
	e = exp->v.s.first;
	a = act->v.s.first;
	for (;;) {
		while (e != NULL && (ignored(e->tag) || unordered_child(exp->tag, e->tag)))
			e = e->next;
		while (a != NULL && (ignored(a->tag) || unordered_child(act->tag, a->tag)))
			a = a->next;
		if (e == NULL && a == NULL)
			break;
		if (e == NULL) {
			path_push(d, act, a);
			set_reason(d, "unexpected <%s> in the response", tag_str(a->tag));
			d->exp = NULL;
			d->act = a;
			goto out;
		}
		if (a == NULL) {
			path_push(d, exp, e);
			set_reason(d, "<%s> missing from the response", tag_str(e->tag));
			d->exp = e;
			d->act = act;
			goto out;
		}
		old = path_push(d, exp, e);
		if (!compare(r, e, a, d)) {
			/* A wrong Batch Count says less than the Batch Item that went wrong: look on. */
			if (e->tag != KMIP_TAG_RESPONSE_HEADER || header != NULL)
				goto out;
			if ((header = malloc(sizeof(*header))) == NULL)
				goto out;
			*header = *d;
		}
		d->path[old] = '\0';
		e = e->next;
		a = a->next;
	}
	/* Then the unordered ones: each expected child takes the first equal actual child left. */
	for (e = exp->v.s.first; e != NULL; e = e->next) {
		if (ignored(e->tag) || !unordered_child(exp->tag, e->tag))
			continue;
		/*
		 * What a Query lists describes the server, and the test case shows its own server's lists: the
		 * operations themselves are what the other test cases exercise. The lists need only be there.
		 */
		if (query_list(r, exp, e) && ttlv_count(act, e->tag) > 0)
			continue;
		for (a = act->v.s.first; a != NULL; a = a->next) {
			struct diff scratch;
			bool matched;

			if (!unordered_child(act->tag, a->tag) || a->tag != e->tag)
				continue;
			for (i = 0; i < nused && used[i] != a; i++)
				;
			if (i < nused)
				continue;
			saved = r->nb;
			memset(&scratch, 0, sizeof(scratch));
			r->trials++;
			matched = compare(r, e, a, &scratch);
			r->trials--;
			if (matched)
				break;
			r->nb = saved;		/* a failed trial binds nothing */
		}
		if (a != NULL) {
			used[nused++] = a;
			continue;
		}
		/* No match: explain against the likeliest candidate, the first unused one of the same name. */
		best = NULL;
		for (a = act->v.s.first; a != NULL && best == NULL; a = a->next) {
			const char *en = attribute_name(e), *an = attribute_name(a);

			if (a->tag != e->tag || !unordered_child(act->tag, a->tag))
				continue;
			for (i = 0; i < nused && used[i] != a; i++)
				;
			if (i < nused)
				continue;
			if (en == NULL || (an != NULL && strcmp(en, an) == 0))
				best = a;
		}
		path_push(d, exp, e);
		/* Explaining a missing leaf of a list by another member of the list would mislead. */
		if (best != NULL && e->type != TTLV_STRUCTURE &&
		    (ttlv_count(exp, e->tag) > 1 || ttlv_count(act, e->tag) > 1))
			best = NULL;
		if (best != NULL) {
			/* The same comparison that failed in the trial, now kept for the report. */
			saved = r->nb;
			if (!compare(r, e, best, d)) {
				r->nb = saved;
				goto out;
			}
			r->nb = saved;
		}
		if (attribute_name(e) != NULL) {
			set_reason(d, "Attribute \"%s\" missing from the response", attribute_name(e));
		} else if (e->type != TTLV_STRUCTURE) {
			char ev[128];

			short_value(e, ev, sizeof(ev));
			set_reason(d, "<%s> %s missing from the response", tag_str(e->tag), ev);
		} else {
			set_reason(d, "<%s> missing from the response", tag_str(e->tag));
		}
		d->exp = e;
		d->act = act;
		goto out;
	}
	for (a = act->v.s.first; a != NULL; a = a->next) {
		if (ignored(a->tag) || !unordered_child(act->tag, a->tag))
			continue;
		if (query_list(r, act, a))
			continue;
		for (i = 0; i < nused && used[i] != a; i++)
			;
		if (i == nused) {
			path_push(d, act, a);
			set_reason(d, "unexpected <%s> in the response", tag_str(a->tag));
			d->exp = NULL;
			d->act = a;
			goto out;
		}
	}
	if (header != NULL) {
		*d = *header;
		goto out;
	}
	ok = true;
out:
	free(header);
	free(used);
	return ok;
}

/* When the server failed a Batch Item that should have succeeded, adds its Result Reason and Message. */
static void
explain_failure(const struct ttlv *exp, const struct ttlv *act, struct diff *d)
{
	const struct ttlv *msg = ttlv_find(act, KMIP_TAG_RESULT_MESSAGE);
	const char *reason = ttlv_enum_xml_name(KMIP_TAG_RESULT_REASON, child_enum(act, KMIP_TAG_RESULT_REASON));
	size_t len = strlen(d->reason);

	if (child_enum(exp, KMIP_TAG_RESULT_STATUS) != KMIP_RESULT_STATUS_SUCCESS ||
	    child_enum(act, KMIP_TAG_RESULT_STATUS) == KMIP_RESULT_STATUS_SUCCESS)
		return;
	snprintf(d->reason + len, sizeof(d->reason) - len, " (%s%s%.200s)", reason != NULL ? reason : "no reason",
	    msg != NULL && msg->type == TTLV_TEXT_STRING ? ": " : "",
	    msg != NULL && msg->type == TTLV_TEXT_STRING ? (const char *)msg->v.bytes.data : "");
}

/* Compares an expected item with the server's; on a difference fills d and returns false. */
static bool
compare(struct run *r, const struct ttlv *exp, const struct ttlv *act, struct diff *d)
{
	const char *ph = ttlv_xml_placeholder(r->doc, exp);
	const struct ttlv *bound;
	char ev[128], av[128];

	d->exp = exp;
	d->act = act;
	if (exp->tag != act->tag) {
		set_reason(d, "expected <%s>, got <%s>", tag_str(exp->tag), tag_str(act->tag));
		return false;
	}
	if (exp->type != act->type) {
		set_reason(d, "expected type %s, got %s", ttlv_type_name(exp->type),
		    ttlv_type_name(act->type) != NULL ? ttlv_type_name(act->type) : "unknown");
		return false;
	}
	if (exp->type == TTLV_STRUCTURE) {
		struct context saved = r->ctx;
		bool ok, item = exp->tag == KMIP_TAG_BATCH_ITEM && r->ctx.op == 0;

		if (item)
			enter_batch_item(r, exp);
		else if (exp->tag == KMIP_TAG_RESPONSE_PAYLOAD && r->ctx.op != 0)
			r->ctx.in_payload = true;
		else if (exp->tag == KMIP_TAG_KEY_BLOCK)
			r->ctx.in_key_block = true;
		if (r->ctx.op == KMIP_OPERATION_QUERY && r->ctx.in_payload &&
		    exp->tag == KMIP_TAG_SERVER_INFORMATION)
			ok = true;	/* the server's own description */
		else if (describes_rng(exp, act))
			ok = true;	/* the server's own generator (the cases show their server's) */
		else
			ok = compare_children(r, exp, act, d);
		if (!ok && item)
			explain_failure(exp, act, d);
		r->ctx = saved;
		if (ok && item && note_batch_item(r, exp) == -1) {
			set_reason(d, "out of memory");
			return false;
		}
		return ok;
	}
	if (is_time(exp->type) || ignored(exp->tag))
		return true;
	if (ph != NULL) {
		if (strncmp(ph, "$NOW", 4) == 0)
			return true;
		if ((bound = lookup(r, ph)) == NULL) {
			if (bind_value(r, ph, act) == -1) {
				set_reason(d, "cannot bind %s: out of memory or too many placeholders", ph);
				return false;
			}
			return true;
		}
		if (value_equal(bound, act))
			return true;
		short_value(bound, ev, sizeof(ev));
		short_value(act, av, sizeof(av));
		set_reason(d, "%s was bound to %s earlier, got %s", ph, ev, av);
		return false;
	}
	if (value_equal(exp, act))
		return true;
	if (server_chosen(r, exp, act)) {
		if (r->opt->verbose && r->trials == 0)
			printf("  not checked, the server's choice: %s\n", d->path);
		return true;
	}
	short_value(exp, ev, sizeof(ev));
	short_value(act, av, sizeof(av));
	set_reason(d, "expected %s, got %s", ev, av);
	return false;
}

/* Finds the first item with this tag in a tree, depth first, or NULL. */
static const struct ttlv *
find_deep(const struct ttlv *t, uint32_t tag)
{
	const struct ttlv *c, *f;

	if (t->tag == tag && t->type != TTLV_STRUCTURE)
		return t;
	if (t->type != TTLV_STRUCTURE)
		return NULL;
	for (c = t->v.s.first; c != NULL; c = c->next)
		if ((f = find_deep(c, tag)) != NULL)
			return f;
	return NULL;
}

/*
 * The value for a request placeholder. Some test cases use a data placeholder ($DATA_0, $MAC_DATA,
 * $IV_COUNTER_NONCE) in a request while the expected response that produced it shows the literal value:
 * such a placeholder takes the newest value the server sent under the same tag. Identifiers are never
 * guessed that way. Returns the value, or NULL.
 */
static const struct ttlv *
request_value(struct run *r, const char *ph, uint32_t tag)
{
	const struct ttlv *v;
	size_t i;

	if ((v = lookup(r, ph)) != NULL)
		return v;
	if (strstr(ph, "UNIQUE_IDENTIFIER") != NULL)
		return NULL;
	for (i = r->nresp; i > 0; i--) {
		if ((v = find_deep(r->responses[i - 1], tag)) != NULL) {
			if (bind_value(r, ph, v) == -1)
				return NULL;
			if (r->opt->verbose)
				printf("  %s: taken from <%s> of response %zu\n", ph, tag_str(tag), i);
			return lookup(r, ph);
		}
	}
	return NULL;
}

/* Parses "$NOW", "$NOW-N" or "$NOW+N" into an offset in seconds. Returns 0, or -1. */
static int
now_offset(const char *ph, int64_t *off)
{
	long long n;
	char *end;

	if (strcmp(ph, "$NOW") == 0) {
		*off = 0;
		return 0;
	}
	if (strncmp(ph, "$NOW", 4) != 0 || (ph[4] != '+' && ph[4] != '-'))
		return -1;
	errno = 0;
	n = strtoll(ph + 5, &end, 10);
	if (errno != 0 || *end != '\0' || n > INT32_MAX)
		return -1;
	*off = ph[4] == '-' ? -n : n;
	return 0;
}

/* Encodes a request item with its placeholders filled in. Returns 0, or -1 and a reason. */
static int
encode_request(struct run *r, struct ttlv_enc *enc, const struct ttlv *t, char *why, size_t size)
{
	const char *ph = ttlv_xml_placeholder(r->doc, t);
	const struct ttlv *c, *v;
	struct ttlv tmp;
	int64_t off;

	if (t->type == TTLV_STRUCTURE) {
		ttlv_enc_begin(enc, t->tag);
		for (c = t->v.s.first; c != NULL; c = c->next)
			if (encode_request(r, enc, c, why, size) == -1)
				return -1;
		ttlv_enc_end(enc);
		return 0;
	}
	if (ph == NULL) {
		ttlv_enc_item(enc, t);
		return 0;
	}
	if (now_offset(ph, &off) == 0) {
		int64_t now = (int64_t)time(NULL) + off;

		if (t->type == TTLV_DATE_TIME) {
			ttlv_enc_datetime(enc, t->tag, now);
			return 0;
		}
		if (t->type == TTLV_DATE_TIME_EXTENDED) {
			ttlv_enc_datetime_ext(enc, t->tag, now * 1000000);
			return 0;
		}
		snprintf(why, size, "%s in <%s> of type %s", ph, tag_str(t->tag), ttlv_type_name(t->type));
		return -1;
	}
	if ((v = request_value(r, ph, t->tag)) == NULL) {
		snprintf(why, size, "%s (in <%s>) is not bound by any earlier response", ph, tag_str(t->tag));
		return -1;
	}
	if (v->type == t->type) {
		tmp = *v;
		tmp.tag = t->tag;
		tmp.next = NULL;
		ttlv_enc_item(enc, &tmp);
		return 0;
	}
	if (is_bytes(v->type) && (t->type == TTLV_TEXT_STRING || t->type == TTLV_BYTE_STRING)) {
		if (t->type == TTLV_TEXT_STRING)
			ttlv_enc_text(enc, t->tag, (const char *)v->v.bytes.data, v->length);
		else
			ttlv_enc_bytes(enc, t->tag, v->v.bytes.data, v->length);
		return 0;
	}
	snprintf(why, size, "%s is a %s, <%s> wants a %s", ph, ttlv_type_name(v->type), tag_str(t->tag),
	    ttlv_type_name(t->type));
	return -1;
}

/* The operations of a message, "Create" or "Create, Get", for the report. */
static void
operations(const struct ttlv *msg, char *buf, size_t size)
{
	const struct ttlv *bi, *op;
	size_t len = 0;

	buf[0] = '\0';
	for (bi = ttlv_find(msg, KMIP_TAG_BATCH_ITEM); bi != NULL; bi = ttlv_find_next(bi)) {
		const char *n;

		if ((op = ttlv_find(bi, KMIP_TAG_OPERATION)) == NULL || op->type != TTLV_ENUMERATION)
			continue;
		n = ttlv_enum_xml_name(KMIP_TAG_OPERATION, op->v.u32);
		len += (size_t)snprintf(buf + len, size - len, "%s%s", len > 0 ? ", " : "", n != NULL ? n : "?");
		if (len >= size)
			break;
	}
}

/* Prints a tree with every line indented, for the failure report. */
static void
print_indented(const struct ttlv *t, const char *indent, bool secrets)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem;

	if (t == NULL) {
		printf("%s(nothing)\n", indent);
		return;
	}
	if ((mem = open_memstream(&text, &len)) == NULL)
		return;
	ttlv_print_opts(mem, t, secrets ? TTLV_PRINT_SECRETS : 0);
	fclose(mem);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		printf("%s%s\n", indent, line);
	free(text);
}

/* Prints a message as KMIP XML (verbose mode). */
static void
print_xml(const char *what, const struct ttlv *t, const struct ttlv_xml_doc *doc)
{
	printf("  %s:\n", what);
	if (ttlv_xml_print(stdout, t, doc, 2) == -1)
		printf("    (cannot print)\n");
}

/* Prints the FAIL line of a file. */
static void __attribute__((format(printf, 2, 3)))
report_fail(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", r->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Frees what a run holds. */
static void
run_clear(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nresp; i++)
		ttlv_arena_free(r->resp_arenas[i]);
	free(r->responses);
	free(r->resp_arenas);
	free(r->b);
	free(r->generated.v);
	free(r->rsa.v);
	ttlv_arena_free(r->arena);
	ttlv_xml_doc_free(r->doc);
	memset(r, 0, sizeof(*r));
}

/*
 * Runs one file; made holds the identifiers of the objects the server generated in the earlier files of the
 * run, and gains those of this one. Returns 0 when it passed, EXIT_FAILED when the server's answers differ
 * or it could not be reached, EXIT_BROKEN when the file cannot be run at all.
 */
static int
run_file(const struct options *opt, SSL_CTX *ctx, struct name_set *made, const char *path)
{
	struct kmip_client *cl = NULL;
	struct ttlv_enc enc;
	struct run r;
	struct diff d;
	char *cause = NULL, why[512], ops[256];
	const char *slash = strrchr(path, '/');
	size_t i, nmsg;
	int rc = EXIT_BROKEN;

	memset(&r, 0, sizeof(r));
	ttlv_enc_init(&enc);
	r.opt = opt;
	r.made = made;
	r.name = slash != NULL ? slash + 1 : path;
	if (ttlv_xml_parse_file(path, &r.doc, &cause) == -1) {
		printf("ERROR %s: %s\n", r.name, cause != NULL ? cause : "cannot parse");
		goto out;
	}
	nmsg = r.doc->nitems / 2;
	if (r.doc->nitems == 0 || r.doc->nitems % 2 != 0) {
		printf("ERROR %s: not pairs of RequestMessage and ResponseMessage\n", r.name);
		goto out;
	}
	for (i = 0; i < r.doc->nitems; i++) {
		if (r.doc->items[i]->tag != (i % 2 == 0 ? KMIP_TAG_REQUEST_MESSAGE : KMIP_TAG_RESPONSE_MESSAGE)) {
			printf("ERROR %s: message %zu is not a %s\n", r.name, i + 1,
			    i % 2 == 0 ? "RequestMessage" : "ResponseMessage");
			goto out;
		}
	}
	if ((r.arena = ttlv_arena_new()) == NULL || (r.responses = calloc(nmsg, sizeof(*r.responses))) == NULL ||
	    (r.resp_arenas = calloc(nmsg, sizeof(*r.resp_arenas))) == NULL) {
		printf("ERROR %s: out of memory\n", r.name);
		goto out;
	}
	rc = EXIT_FAILED;
	if (kmip_client_connect(ctx, opt->host, opt->port, NULL, opt->timeout_ms, &cl, &cause) == -1) {
		report_fail(&r, "cannot connect: %s", cause != NULL ? cause : "unknown error");
		goto out;
	}
	for (i = 0; i < nmsg; i++) {
		const struct ttlv *req = r.doc->items[2 * i], *exp = r.doc->items[2 * i + 1];
		struct ttlv *resp = NULL;
		struct ttlv_arena *ra = NULL;

		operations(req, ops, sizeof(ops));
		if (opt->verbose) {
			printf("%s: request %zu of %zu (%s)\n", r.name, i + 1, nmsg, ops);
			print_xml("request", req, r.doc);
		}
		ttlv_enc_reset(&enc);
		if (encode_request(&r, &enc, req, why, sizeof(why)) == -1) {
			report_fail(&r, "request %zu of %zu (%s): %s", i + 1, nmsg, ops, why);
			goto out;
		}
		if (ttlv_enc_finish(&enc) == -1) {
			report_fail(&r, "request %zu of %zu (%s): cannot encode: %s", i + 1, nmsg, ops,
			    strerror(errno));
			goto out;
		}
		if (kmip_client_call(cl, &enc, &resp, &ra, &cause) == -1) {
			report_fail(&r, "request %zu of %zu (%s): no response: %s", i + 1, nmsg, ops,
			    cause != NULL ? cause : "unknown error");
			goto out;
		}
		r.responses[r.nresp] = resp;
		r.resp_arenas[r.nresp] = ra;
		r.nresp++;
		if (opt->verbose)
			print_xml("response", resp, NULL);
		memset(&d, 0, sizeof(d));
		memset(&r.ctx, 0, sizeof(r.ctx));
		r.request = req;
		r.expected = exp;
		snprintf(d.path, sizeof(d.path), "%s", tag_str(exp->tag));
		if (!compare(&r, exp, resp, &d)) {
			report_fail(&r, "response %zu of %zu (%s): %s: %s", i + 1, nmsg, ops, d.path, d.reason);
			printf("  expected:\n");
			print_indented(d.exp, "    ", opt->verbose);
			printf("  got:\n");
			print_indented(d.act, "    ", opt->verbose);
			goto out;
		}
	}
	printf("PASS %s\n", r.name);
	rc = 0;
out:
	fflush(stdout);
	kmip_client_close(cl);
	ttlv_enc_free(&enc);
	free(cause);
	run_clear(&r);
	return rc;
}

/* Prints the command line. */
static void
usage(FILE *out)
{
	fprintf(out, "usage: kmip-conformance --host H --port P --ca CA --cert CERT --key KEY\n"
	    "                        [--servername NAME] [--timeout SECONDS] [--verbose] FILE...\n");
}

/* Makes every connection check that the server certificate names name (a DNS name or an IP address). */
static int
expect_server_name(SSL_CTX *ctx, const char *name)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

	if (X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1)
		return 0;
	return X509_VERIFY_PARAM_set1_host(param, name, 0) == 1 ? 0 : -1;
}

/* Runs every file given; see the top of the file for the exit status. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "servername", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options opt = { .timeout_ms = 60000 };
	struct name_set made = { NULL, 0, 0 };
	SSL_CTX *ctx = NULL;
	char *cause = NULL;
	unsigned long n;
	int ch, i, passed = 0, failed = 0, broken = 0;

	while ((ch = getopt_long(argc, argv, "H:p:a:c:k:s:t:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			if (util_parse_ulong(optarg, 1, 65535, &n) != 0) {
				fprintf(stderr, "kmip-conformance: bad port %s\n", optarg);
				return EXIT_BROKEN;
			}
			opt.port = (unsigned)n;
			break;
		case 'a':
			opt.ca = optarg;
			break;
		case 'c':
			opt.cert = optarg;
			break;
		case 'k':
			opt.key = optarg;
			break;
		case 's':
			opt.servername = optarg;
			break;
		case 't':
			if (util_parse_ulong(optarg, 1, 3600, &n) != 0) {
				fprintf(stderr, "kmip-conformance: bad timeout %s\n", optarg);
				return EXIT_BROKEN;
			}
			opt.timeout_ms = (int)n * 1000;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_BROKEN;
		}
	}
	if (opt.host == NULL || opt.port == 0 || opt.ca == NULL || opt.cert == NULL || opt.key == NULL ||
	    optind >= argc) {
		usage(stderr);
		return EXIT_BROKEN;
	}
	/* A server that closes the connection must fail the file, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	if (tls_client_ctx_new(opt.ca, opt.cert, opt.key, &ctx, &cause) == -1) {
		fprintf(stderr, "kmip-conformance: %s\n", cause != NULL ? cause : "cannot build the TLS context");
		free(cause);
		return EXIT_BROKEN;
	}
	if (expect_server_name(ctx, opt.servername != NULL ? opt.servername : opt.host) == -1) {
		fprintf(stderr, "kmip-conformance: cannot set the expected server name\n");
		SSL_CTX_free(ctx);
		return EXIT_BROKEN;
	}
	for (i = optind; i < argc; i++) {
		switch (run_file(&opt, ctx, &made, argv[i])) {
		case 0:
			passed++;
			break;
		case EXIT_FAILED:
			failed++;
			break;
		default:
			failed++;
			broken++;
		}
	}
	SSL_CTX_free(ctx);
	for (i = 0; i < (int)made.n; i++)
		free((char *)made.v[i]);
	free(made.v);
	if (broken > 0)
		printf("%d file%s could not be run\n", broken, broken == 1 ? "" : "s");
	printf("%d passed, %d failed\n", passed, failed);
	if (broken > 0)
		return EXIT_BROKEN;
	return failed > 0 ? EXIT_FAILED : 0;
}
