/*
 * xml: the KMIP XML encoding (KMIP Additional Message Encodings, the format of the OASIS profile test
 * cases), read into struct ttlv trees and written back.
 *
 * Reading happens in two passes. A small, strict XML reader turns the text into a tree of elements in a
 * scratch arena: elements, attributes in double quotes, self-closing tags, comments, the XML declaration
 * and character references; no DOCTYPE, CDATA, processing instructions or character data between
 * elements, which KMIP XML never uses. Then each element becomes an item: the element name is the tag,
 * the type attribute the item type, the value attribute the value in the syntax of its type. Two passes
 * because a KMIP 1.x Attribute Value enumeration is named after its sibling Attribute Name, which XML does
 * not force to come first.
 *
 * Placeholders ("$UNIQUE_IDENTIFIER_0", "$NOW-3600") stand for values only a server run knows. They are not
 * values of their item's type, so the item gets a neutral value (zero, empty, or the placeholder text for a
 * Text String) and the placeholder goes into the document's side table, looked up by item.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/names.h"
#include "proto/ttlv.h"
#include "proto/xml.h"

#define XML_MAX_ATTRS		8	/* attributes on one element; KMIP XML uses at most three */
#define XML_MAX_NAME		128	/* bytes of an element or attribute name */
#define XML_ARENA_FACTOR	32	/* arena cap: this many times the input size, plus a megabyte */

struct xml_attr {
	const char *name;
	const char *value;	/* NUL-terminated, references decoded */
	size_t len;
	struct xml_attr *next;
};

struct xml_elem {
	const char *name;
	unsigned line;
	unsigned nattrs;
	struct xml_attr *attrs;
	struct xml_elem *first;
	struct xml_elem *last;
	struct xml_elem *next;
};

struct xml_reader {
	const char *p;
	const char *end;
	unsigned line;
	struct ttlv_arena *a;
	char **cause;
};

/* Sets *cause (when not NULL) to the formatted message, prefixed with "line N: " when line is not 0. */
static void __attribute__((format(printf, 3, 0)))
vreport(char **cause, unsigned line, const char *fmt,
    va_list ap)
{
	char msg[512];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cause == NULL)
		return;
	if (line != 0 ? asprintf(cause, "line %u: %s", line, msg) < 0 : (*cause = strdup(msg)) == NULL)
		*cause = NULL;
}

/* Reports an error at a line of the document; returns -1. */
static int __attribute__((format(printf, 3, 4)))
fail_at(char **cause, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cause, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reports an error at a line of the document; returns NULL, for functions that return an item. */
static struct ttlv * __attribute__((format(printf, 3, 4)))
null_at(char **cause, unsigned line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cause, line, fmt, ap);
	va_end(ap);
	return NULL;
}

/* Reports an error that has no line; returns -1. */
static int __attribute__((format(printf, 2, 3)))
fail(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cause, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Checks that the input is UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) holding only
 * XML characters (no C0 controls but tab, newline and carriage return). Returns 0, or -1 and a cause.
 */
static int
check_utf8(const char *buf, size_t len, char **cause)
{
	const uint8_t *s = (const uint8_t *)buf;
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return fail_at(cause, line, "control character 0x%02x", c);
			if (c == '\n')
				line++;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return fail_at(cause, line, "invalid UTF-8 byte 0x%02x", c);
		}
		if (len - i - 1 < n)
			return fail_at(cause, line, "truncated UTF-8 sequence");
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return fail_at(cause, line, "invalid UTF-8 sequence");
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
			return fail_at(cause, line, "invalid UTF-8 sequence");
		i += n + 1;
	}
	return 0;
}

/* XML white space. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The characters that may start a name (the ASCII part of XML's NameStartChar). */
static bool
is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}

/* The characters that may follow in a name. */
static bool
is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* True when the unread input starts with s. */
static bool
looking_at(const struct xml_reader *r, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(r->end - r->p) >= n && memcmp(r->p, s, n) == 0;
}

/* Skips white space, counting lines. */
static void
skip_space(struct xml_reader *r)
{
	while (r->p < r->end && is_space(*r->p)) {
		if (*r->p == '\n')
			r->line++;
		r->p++;
	}
}

/* Reads a name (ASCII subset of XML names) into the arena. Returns it, or NULL and a cause. */
static const char *
read_name(struct xml_reader *r)
{
	const char *start = r->p;
	char *name;
	size_t n;

	if (r->p >= r->end || !is_name_start(*r->p)) {
		fail_at(r->cause, r->line, "expected a name");
		return NULL;
	}
	while (r->p < r->end && is_name_char(*r->p))
		r->p++;
	n = (size_t)(r->p - start);
	if (n > XML_MAX_NAME) {
		fail_at(r->cause, r->line, "name longer than %d bytes", XML_MAX_NAME);
		return NULL;
	}
	if ((name = ttlv_arena_alloc(r->a, n + 1)) == NULL) {
		fail_at(r->cause, r->line, "out of memory");
		return NULL;
	}
	memcpy(name, start, n);
	return name;
}

/* Appends the UTF-8 form of an XML character cp to out (4 bytes of room). Returns the bytes written. */
static size_t
put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* True for the code points the XML 1.0 Char production allows. */
static bool
is_xml_char(uint32_t cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
	    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/*
 * Decodes one reference at r->p (just after '&') into out (4 bytes of room): a predefined entity or a
 * character reference. Returns the bytes written, or -1 and a cause.
 */
static int
read_reference(struct xml_reader *r, char *out)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' } };
	uint32_t cp = 0;
	size_t i;
	int digits = 0;

	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		if (looking_at(r, ents[i].name)) {
			r->p += strlen(ents[i].name);
			out[0] = ents[i].c;
			return 1;
		}
	}
	if (!looking_at(r, "#"))
		return fail_at(r->cause, r->line, "unknown entity reference");
	r->p++;
	if (looking_at(r, "x")) {
		r->p++;
		for (; r->p < r->end && *r->p != ';'; r->p++, digits++) {
			char c = *r->p;
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				return fail_at(r->cause, r->line, "bad character reference");
			if (cp > 0x10ffff)
				return fail_at(r->cause, r->line, "character reference out of range");
			cp = cp << 4 | d;
		}
	} else {
		for (; r->p < r->end && *r->p != ';'; r->p++, digits++) {
			char c = *r->p;

			if (c < '0' || c > '9')
				return fail_at(r->cause, r->line, "bad character reference");
			if (cp > 0x10ffff)
				return fail_at(r->cause, r->line, "character reference out of range");
			cp = cp * 10 + (uint32_t)(c - '0');
		}
	}
	if (r->p >= r->end || digits == 0)
		return fail_at(r->cause, r->line, "bad character reference");
	r->p++;
	if (!is_xml_char(cp))
		return fail_at(r->cause, r->line, "character reference to U+%04X, not an XML character", cp);
	return (int)put_utf8(out, cp);
}

/*
 * Reads a double-quoted attribute value at r->p, decoding references and normalizing literal white space
 * to spaces as XML requires. Returns 0 and the value in the arena, or -1 and a cause.
 */
static int
read_attr_value(struct xml_reader *r, const char **value, size_t *vlen)
{
	const char *q;
	char *out;
	size_t n = 0;

	if (!looking_at(r, "\""))
		return fail_at(r->cause, r->line, "attribute value not in double quotes");
	r->p++;
	/* The decoded value is never longer than the raw one. */
	for (q = r->p; q < r->end && *q != '"'; q++)
		;
	if (q >= r->end)
		return fail_at(r->cause, r->line, "unterminated attribute value");
	if ((out = ttlv_arena_alloc(r->a, (size_t)(q - r->p) + 1)) == NULL)
		return fail_at(r->cause, r->line, "out of memory");
	while (r->p < q) {
		char c = *r->p;
		int k;

		if (c == '<')
			return fail_at(r->cause, r->line, "'<' in an attribute value");
		if (c == '&') {
			r->p++;
			if ((k = read_reference(r, out + n)) < 0)
				return -1;
			n += (size_t)k;
			if (r->p > q)
				return fail_at(r->cause, r->line, "bad reference in an attribute value");
			continue;
		}
		if (c == '\r' && r->p + 1 < q && r->p[1] == '\n')
			r->p++;		/* one line end, one space */
		c = *r->p;
		if (c == '\n')
			r->line++;
		out[n++] = is_space(c) ? ' ' : c;
		r->p++;
	}
	r->p++;		/* the closing quote */
	out[n] = '\0';
	*value = out;
	*vlen = n;
	return 0;
}

/* Skips a comment at r->p ("<!--" seen, not consumed). Returns 0, or -1 and a cause. */
static int
skip_comment(struct xml_reader *r)
{
	unsigned line = r->line;

	r->p += 4;
	for (; r->p < r->end; r->p++) {
		if (*r->p == '\n')
			r->line++;
		if (looking_at(r, "--")) {
			if (!looking_at(r, "-->"))
				return fail_at(r->cause, r->line, "'--' inside a comment");
			r->p += 3;
			return 0;
		}
	}
	return fail_at(r->cause, line, "unterminated comment");
}

/* Skips the XML declaration at r->p. Only version 1.0 and the UTF-8 encoding are accepted. */
static int
skip_declaration(struct xml_reader *r)
{
	const char *start = r->p, *q;
	char decl[256];
	size_t n;

	for (q = r->p; q + 1 < r->end && !(q[0] == '?' && q[1] == '>'); q++)
		;
	if (q + 1 >= r->end)
		return fail_at(r->cause, r->line, "unterminated XML declaration");
	n = (size_t)(q - start);
	if (n >= sizeof(decl))
		return fail_at(r->cause, r->line, "XML declaration too long");
	memcpy(decl, start, n);
	decl[n] = '\0';
	if (strstr(decl, "version=\"1.0\"") == NULL)
		return fail_at(r->cause, r->line, "XML declaration without version=\"1.0\"");
	if (strstr(decl, "encoding=") != NULL && strcasestr(decl, "encoding=\"UTF-8\"") == NULL)
		return fail_at(r->cause, r->line, "only the UTF-8 encoding is supported");
	for (; r->p < q + 2; r->p++)
		if (*r->p == '\n')
			r->line++;
	return 0;
}

/* Skips white space and comments. Returns 0, or -1 and a cause. */
static int
skip_misc(struct xml_reader *r)
{
	for (;;) {
		skip_space(r);
		if (!looking_at(r, "<!--"))
			return 0;
		if (skip_comment(r) == -1)
			return -1;
	}
}

/*
 * Reads the element at r->p ('<' seen, not consumed) and everything under it; depth counts the enclosing
 * elements. Returns 0 and *out, or -1 and a cause.
 */
static int
read_element(struct xml_reader *r, unsigned depth, struct xml_elem **out)
{
	struct xml_elem *e;
	struct xml_attr *at, *last = NULL;
	const char *name;

	if (depth >= TTLV_XML_MAX_DEPTH)
		return fail_at(r->cause, r->line, "elements nested deeper than %d", TTLV_XML_MAX_DEPTH);
	if ((e = ttlv_arena_alloc(r->a, sizeof(*e))) == NULL)
		return fail_at(r->cause, r->line, "out of memory");
	e->line = r->line;
	r->p++;
	if ((e->name = read_name(r)) == NULL)
		return -1;
	for (;;) {
		bool spaced = r->p < r->end && is_space(*r->p);

		skip_space(r);
		if (r->p >= r->end)
			return fail_at(r->cause, e->line, "unterminated tag <%s>", e->name);
		if (looking_at(r, "/>")) {
			r->p += 2;
			*out = e;
			return 0;
		}
		if (*r->p == '>') {
			r->p++;
			break;
		}
		if (!spaced)
			return fail_at(r->cause, r->line, "expected white space before an attribute");
		if (e->nattrs >= XML_MAX_ATTRS)
			return fail_at(r->cause, r->line, "more than %d attributes", XML_MAX_ATTRS);
		if ((name = read_name(r)) == NULL)
			return -1;
		for (at = e->attrs; at != NULL; at = at->next)
			if (strcmp(at->name, name) == 0)
				return fail_at(r->cause, r->line, "duplicate attribute %s", name);
		if ((at = ttlv_arena_alloc(r->a, sizeof(*at))) == NULL)
			return fail_at(r->cause, r->line, "out of memory");
		at->name = name;
		skip_space(r);
		if (!looking_at(r, "="))
			return fail_at(r->cause, r->line, "expected '=' after attribute %s", name);
		r->p++;
		skip_space(r);
		if (read_attr_value(r, &at->value, &at->len) == -1)
			return -1;
		if (last != NULL)
			last->next = at;
		else
			e->attrs = at;
		last = at;
		e->nattrs++;
	}
	/* Content: child elements, comments and white space only. */
	for (;;) {
		struct xml_elem *child;

		if (skip_misc(r) == -1)
			return -1;
		if (r->p >= r->end)
			return fail_at(r->cause, e->line, "element <%s> not closed", e->name);
		if (looking_at(r, "</")) {
			r->p += 2;
			if ((name = read_name(r)) == NULL)
				return -1;
			if (strcmp(name, e->name) != 0)
				return fail_at(r->cause, r->line, "</%s> closes <%s> of line %u", name, e->name,
				    e->line);
			skip_space(r);
			if (!looking_at(r, ">"))
				return fail_at(r->cause, r->line, "expected '>'");
			r->p++;
			*out = e;
			return 0;
		}
		if (looking_at(r, "<!") || looking_at(r, "<?"))
			return fail_at(r->cause, r->line, "CDATA, DOCTYPE and processing instructions are not supported");
		if (*r->p != '<')
			return fail_at(r->cause, r->line, "character data inside <%s>", e->name);
		if (read_element(r, depth + 1, &child) == -1)
			return -1;
		if (e->last != NULL)
			e->last->next = child;
		else
			e->first = child;
		e->last = child;
	}
}

/* Reads a whole document into its root element. Returns 0 and *root, or -1 and a cause. */
static int
read_document(struct xml_reader *r, struct xml_elem **root)
{
	if (looking_at(r, "\xef\xbb\xbf"))
		r->p += 3;
	if (looking_at(r, "<?xml") && r->p + 5 < r->end && is_space(r->p[5])) {
		if (skip_declaration(r) == -1)
			return -1;
	}
	if (skip_misc(r) == -1)
		return -1;
	if (r->p >= r->end || *r->p != '<' || looking_at(r, "<!") || looking_at(r, "<?"))
		return fail_at(r->cause, r->line, "expected the root element");
	if (read_element(r, 0, root) == -1)
		return -1;
	if (skip_misc(r) == -1)
		return -1;
	if (r->p < r->end)
		return fail_at(r->cause, r->line, "content after the root element");
	return 0;
}

/* The value of attribute name on e, or NULL. */
static const struct xml_attr *
elem_attr(const struct xml_elem *e, const char *name)
{
	const struct xml_attr *at;

	for (at = e->attrs; at != NULL; at = at->next)
		if (strcmp(at->name, name) == 0)
			return at;
	return NULL;
}

/* The building of items from elements. */
struct conv {
	struct ttlv_arena *a;		/* the document's */
	struct ttlv_xml_placeholder *ph;
	size_t nph;
	size_t cap;
	char **cause;
};

static const struct {
	const char *name;
	uint8_t type;
} type_names[] = {
	{ "Structure", TTLV_STRUCTURE }, { "Integer", TTLV_INTEGER }, { "LongInteger", TTLV_LONG_INTEGER },
	{ "BigInteger", TTLV_BIG_INTEGER }, { "Enumeration", TTLV_ENUMERATION }, { "Boolean", TTLV_BOOLEAN },
	{ "TextString", TTLV_TEXT_STRING }, { "ByteString", TTLV_BYTE_STRING }, { "DateTime", TTLV_DATE_TIME },
	{ "Interval", TTLV_INTERVAL }, { "DateTimeExtended", TTLV_DATE_TIME_EXTENDED },
};

/* The KMIP XML name of an item type ("TextString"), or NULL. */
static const char *
type_xml_name(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

/* True when s is a placeholder: '$', capitals, digits and underscores, then optionally +N or -N. */
static bool
is_placeholder(const char *s)
{
	const char *p = s + 1;

	if (s[0] != '$' || !(*p >= 'A' && *p <= 'Z'))
		return false;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	if (*p == '+' || *p == '-') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* Parses "0x" followed by 1 to maxdigits hex digits. Returns 0 and *v, or -1. */
static int
parse_hex_number(const char *s, unsigned maxdigits, uint64_t *v)
{
	uint64_t acc = 0;
	unsigned n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -1;
	for (s += 2; *s != '\0'; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (n >= maxdigits)
			return -1;
		acc = acc << 4 | (uint64_t)d;
	}
	if (n == 0)
		return -1;
	*v = acc;
	return 0;
}

/* Parses a signed decimal within [min, max]. Returns 0 and *v, or -1. */
static int
parse_decimal(const char *s, int64_t min, int64_t max, int64_t *v)
{
	long long n;
	char *end;

	if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

/* Decodes hex digits (an even number of them) into the arena. Returns 0, or -1. */
static int
parse_hex_bytes(struct ttlv_arena *a, const char *s, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	size_t i;

	if (len % 2 != 0)
		return -1;
	if ((buf = ttlv_arena_alloc(a, len / 2 + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		buf[i / 2] = (uint8_t)(buf[i / 2] << 4 | d);
	}
	*out = buf;
	*outlen = len / 2;
	return 0;
}

/* Days from 1970-01-01 to the given proleptic Gregorian date (negative before it). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	/* Counting years from March puts the leap day at the end of the year. */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly n decimal digits at *s into *v, advancing *s. Returns 0, or -1. */
static int
digits(const char **s, unsigned n, unsigned *v)
{
	unsigned acc = 0, i;

	for (i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return -1;
		acc = acc * 10 + (unsigned)(c - '0');
	}
	*s += n;
	*v = acc;
	return 0;
}

/*
 * Parses an ISO 8601 date and time, "YYYY-MM-DDTHH:MM:SS", optional fraction (only when usec is not NULL,
 * up to six digits), then "Z" or "+HH:MM" / "-HH:MM". Returns 0 and the seconds since the epoch (and the
 * microseconds), or -1.
 */
static int
parse_iso8601(const char *s, int64_t *seconds, int64_t *usec)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh, om, frac = 0, nfrac = 0;
	int64_t t;
	int sign;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d) ||
	    *s++ != 'T' || digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' ||
	    digits(&s, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	if (*s == '.') {
		if (usec == NULL)
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac >= 6)
				return -1;
			frac = frac * 10 + (unsigned)(*s - '0');
		}
		if (nfrac == 0)
			return -1;
		for (; nfrac < 6; nfrac++)
			frac *= 10;
	}
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
		t -= sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*s != '\0')
		return -1;
	*seconds = t;
	if (usec != NULL)
		*usec = frac;
	return 0;
}

/* Records that item carries the placeholder text. Returns 0, or -1 when out of memory. */
static int
add_placeholder(struct conv *cv, struct ttlv *item, const char *text)
{
	struct ttlv_xml_placeholder *ph;
	size_t n = strlen(text);
	char *copy;

	/* The text lives in the scratch arena, which goes before the document does. */
	if ((copy = ttlv_arena_alloc(cv->a, n + 1)) == NULL)
		return -1;
	memcpy(copy, text, n);

	if (cv->nph == cv->cap) {
		size_t cap = cv->cap == 0 ? 32 : cv->cap * 2;

		if ((ph = reallocarray(cv->ph, cap, sizeof(*ph))) == NULL)
			return -1;
		cv->ph = ph;
		cv->cap = cap;
	}
	cv->ph[cv->nph].item = item;
	cv->ph[cv->nph].name = copy;
	cv->nph++;
	return 0;
}

/*
 * Builds a leaf item of type from its value text. attr_name is the sibling Attribute Name when e is a KMIP
 * 1.x Attribute Value (it names the enumeration or mask), else NULL. Returns the item, or NULL and a cause.
 */
static struct ttlv *
convert_leaf(struct conv *cv, const struct xml_elem *e, uint32_t tag, uint8_t type,
    const struct xml_attr *val, const char *attr_name)
{
	const char *v = val->value;
	struct ttlv *t = NULL;
	uint32_t u32, mtag = tag;
	uint64_t u64;
	int64_t i64, usec;
	uint8_t *bytes;
	size_t n;

	if (is_placeholder(v)) {
		switch (type) {
		case TTLV_TEXT_STRING:
			t = ttlv_new_text(cv->a, tag, v, val->len);
			break;
		case TTLV_BYTE_STRING:
			t = ttlv_new_bytes(cv->a, tag, "", 0);
			break;
		case TTLV_BIG_INTEGER:
			t = ttlv_new_bigint(cv->a, tag, "", 0);
			break;
		case TTLV_INTEGER:
			t = ttlv_new_int(cv->a, tag, 0);
			break;
		case TTLV_LONG_INTEGER:
			t = ttlv_new_long(cv->a, tag, 0);
			break;
		case TTLV_ENUMERATION:
			t = ttlv_new_enum(cv->a, tag, 0);
			break;
		case TTLV_BOOLEAN:
			t = ttlv_new_bool(cv->a, tag, false);
			break;
		case TTLV_DATE_TIME:
			t = ttlv_new_datetime(cv->a, tag, 0);
			break;
		case TTLV_INTERVAL:
			t = ttlv_new_interval(cv->a, tag, 0);
			break;
		case TTLV_DATE_TIME_EXTENDED:
			t = ttlv_new_datetime_ext(cv->a, tag, 0);
			break;
		}
		if (t == NULL || add_placeholder(cv, t, v) == -1) {
			fail_at(cv->cause, e->line, "out of memory");
			return NULL;
		}
		return t;
	}
	if (attr_name != NULL && ttlv_tag_by_name(attr_name, &mtag) == -1)
		mtag = 0;
	switch (type) {
	case TTLV_INTEGER:
		if (parse_decimal(v, INT32_MIN, INT32_MAX, &i64) == 0)
			t = ttlv_new_int(cv->a, tag, (int32_t)i64);
		else if (parse_hex_number(v, 8, &u64) == 0)
			t = ttlv_new_int(cv->a, tag, (int32_t)(uint32_t)u64);
		else if (mtag != 0 && ttlv_is_mask(mtag) && ttlv_mask_by_names(mtag, v, &u32) == 0)
			t = ttlv_new_int(cv->a, tag, (int32_t)u32);
		else
			goto bad;
		break;
	case TTLV_LONG_INTEGER:
		if (parse_decimal(v, INT64_MIN, INT64_MAX, &i64) == 0)
			t = ttlv_new_long(cv->a, tag, i64);
		else if (parse_hex_number(v, 16, &u64) == 0)
			t = ttlv_new_long(cv->a, tag, (int64_t)u64);
		else
			goto bad;
		break;
	case TTLV_BIG_INTEGER:
		if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
			v += 2;
		if (parse_hex_bytes(cv->a, v, strlen(v), &bytes, &n) == -1)
			goto bad;
		t = ttlv_new_bigint(cv->a, tag, bytes, n);
		break;
	case TTLV_ENUMERATION:
		if (parse_hex_number(v, 8, &u64) == 0)
			u32 = (uint32_t)u64;
		else if (strchr(v, ' ') != NULL)
			goto bad;	/* the XML spelling has none; the tables would take the spec name */
		else if (attr_name != NULL ? ttlv_enum_by_attribute_name(attr_name, v, &u32) == -1 :
		    ttlv_enum_by_name(tag, v, &u32) == -1)
			goto bad;
		t = ttlv_new_enum(cv->a, tag, u32);
		break;
	case TTLV_BOOLEAN:
		if (strcmp(v, "true") == 0)
			t = ttlv_new_bool(cv->a, tag, true);
		else if (strcmp(v, "false") == 0)
			t = ttlv_new_bool(cv->a, tag, false);
		else if (parse_hex_number(v, 16, &u64) == 0 && u64 <= 1)
			t = ttlv_new_bool(cv->a, tag, u64 == 1);
		else
			goto bad;
		break;
	case TTLV_TEXT_STRING:
		t = ttlv_new_text(cv->a, tag, v, val->len);
		break;
	case TTLV_BYTE_STRING:
		if (parse_hex_bytes(cv->a, v, val->len, &bytes, &n) == -1)
			goto bad;
		t = ttlv_new_bytes(cv->a, tag, bytes, n);
		break;
	case TTLV_DATE_TIME:
		if (parse_hex_number(v, 16, &u64) == 0)
			i64 = (int64_t)u64;
		else if (parse_iso8601(v, &i64, NULL) == -1)
			goto bad;
		t = ttlv_new_datetime(cv->a, tag, i64);
		break;
	case TTLV_INTERVAL:
		if (parse_decimal(v, 0, UINT32_MAX, &i64) == 0)
			u32 = (uint32_t)i64;
		else if (parse_hex_number(v, 8, &u64) == 0)
			u32 = (uint32_t)u64;
		else
			goto bad;
		t = ttlv_new_interval(cv->a, tag, u32);
		break;
	case TTLV_DATE_TIME_EXTENDED:
		if (parse_hex_number(v, 16, &u64) == 0) {
			i64 = (int64_t)u64;
		} else if (parse_iso8601(v, &i64, &usec) == 0) {
			if (i64 > INT64_MAX / 1000000 || i64 < INT64_MIN / 1000000)
				goto bad;
			i64 = i64 * 1000000 + usec;
		} else {
			goto bad;
		}
		t = ttlv_new_datetime_ext(cv->a, tag, i64);
		break;
	}
	if (t == NULL) {
		fail_at(cv->cause, e->line, "out of memory");
		return NULL;
	}
	return t;
bad:
	if (attr_name != NULL)
		fail_at(cv->cause, e->line, "bad %s value \"%s\" for <%s> of attribute \"%s\"",
		    type_xml_name(type), val->value, e->name, attr_name);
	else
		fail_at(cv->cause, e->line, "bad %s value \"%s\" for <%s>", type_xml_name(type), val->value,
		    e->name);
	return NULL;
}

/* Builds the item of element e and everything under it. Returns it, or NULL and a cause. */
static struct ttlv *
convert(struct conv *cv, const struct xml_elem *e, const char *attr_name)
{
	const struct xml_attr *at, *type_at = NULL, *value_at = NULL, *tag_at = NULL;
	const struct xml_elem *c;
	const char *child_attr_name = NULL;
	struct ttlv *t, *ct;
	uint8_t type = TTLV_STRUCTURE;
	uint64_t u64;
	uint32_t tag;
	size_t i;

	for (at = e->attrs; at != NULL; at = at->next) {
		if (strcmp(at->name, "type") == 0)
			type_at = at;
		else if (strcmp(at->name, "value") == 0)
			value_at = at;
		else if (strcmp(at->name, "tag") == 0 && strcmp(e->name, "TTLV") == 0)
			tag_at = at;
		else
			return null_at(cv->cause, e->line, "unknown attribute %s on <%s>", at->name, e->name);
	}
	if (strcmp(e->name, "TTLV") == 0) {
		/* The spelling for tags without a name: <TTLV tag="0x540001" ...>. */
		if (tag_at == NULL)
			return null_at(cv->cause, e->line, "<TTLV> without a tag attribute");
		if (parse_hex_number(tag_at->value, 6, &u64) == 0)
			tag = (uint32_t)u64;
		else if (ttlv_tag_by_name(tag_at->value, &tag) == -1)
			return null_at(cv->cause, e->line, "unknown tag \"%s\"", tag_at->value);
	} else if (ttlv_tag_by_name(e->name, &tag) == -1) {
		return null_at(cv->cause, e->line, "unknown element <%s>", e->name);
	}
	if ((tag >> 16) != 0x42 && (tag >> 16) != 0x54)
		return null_at(cv->cause, e->line, "tag 0x%06X outside 0x42xxxx and 0x54xxxx", tag);
	if (type_at != NULL) {
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strcmp(type_names[i].name, type_at->value) == 0)
				break;
		if (i == sizeof(type_names) / sizeof(type_names[0]))
			return null_at(cv->cause, e->line, "unknown type \"%s\" on <%s>", type_at->value, e->name);
		type = type_names[i].type;
	}
	if (type != TTLV_STRUCTURE) {
		if (e->first != NULL)
			return null_at(cv->cause, e->line, "<%s> of type %s has child elements", e->name,
			    type_at->value);
		if (value_at == NULL)
			return null_at(cv->cause, e->line, "<%s> has no value", e->name);
		return convert_leaf(cv, e, tag, type, value_at, attr_name);
	}
	if (value_at != NULL)
		return null_at(cv->cause, e->line, "structure <%s> has a value", e->name);
	if ((t = ttlv_new_struct(cv->a, tag)) == NULL)
		return null_at(cv->cause, e->line, "out of memory");
	/* A 1.x Attribute: its Attribute Value is read in terms of its Attribute Name. */
	for (c = e->first; c != NULL; c = c->next) {
		const struct xml_attr *ct_at = elem_attr(c, "type");

		if (strcmp(c->name, "AttributeName") == 0 && ct_at != NULL &&
		    strcmp(ct_at->value, "TextString") == 0 && (at = elem_attr(c, "value")) != NULL)
			child_attr_name = at->value;
	}
	for (c = e->first; c != NULL; c = c->next) {
		const char *ctx = strcmp(c->name, "AttributeValue") == 0 ? child_attr_name : NULL;

		if ((ct = convert(cv, c, ctx)) == NULL)
			return NULL;
		ttlv_append(t, ct);
	}
	return t;
}

/* Orders placeholders by item address, for bsearch. */
static int
cmp_placeholder(const void *x, const void *y)
{
	const struct ttlv_xml_placeholder *a = x, *b = y;

	return a->item < b->item ? -1 : a->item > b->item;
}

/*
 * Whether the root element is a wrapper around several messages rather than an item: <KMIP> (the KMIP 1.3+
 * profile test cases) or <KmipTestCase> (the KMIP 1.0-1.2 profile documents). An element with a type
 * attribute is an item, whatever its name.
 */
static bool
is_container(const struct xml_elem *root)
{
	return elem_attr(root, "type") == NULL &&
	    (strcmp(root->name, "KMIP") == 0 || strcmp(root->name, "KmipTestCase") == 0);
}

/* Parses a KMIP XML document. See xml.h. */
int
ttlv_xml_parse(const char *buf, size_t len, struct ttlv_xml_doc **out, char **cause)
{
	struct ttlv_arena *scratch = NULL;
	struct ttlv_xml_doc *doc = NULL;
	struct xml_reader r;
	struct xml_elem *root, *c;
	struct conv cv;
	size_t n = 0, i = 0;

	memset(&cv, 0, sizeof(cv));
	*out = NULL;
	if (len > TTLV_XML_MAX_SIZE)
		return fail(cause, "document of %zu bytes, more than %d", len, TTLV_XML_MAX_SIZE);
	if (check_utf8(buf, len, cause) == -1)
		return -1;
	if ((scratch = ttlv_arena_new()) == NULL || (doc = calloc(1, sizeof(*doc))) == NULL ||
	    (doc->arena = ttlv_arena_new()) == NULL) {
		fail(cause, "out of memory");
		goto fail;
	}
	ttlv_arena_set_cap(scratch, len * XML_ARENA_FACTOR + 1024 * 1024);
	ttlv_arena_set_cap(doc->arena, len * XML_ARENA_FACTOR + 1024 * 1024);
	r.p = buf;
	r.end = buf + len;
	r.line = 1;
	r.a = scratch;
	r.cause = cause;
	if (read_document(&r, &root) == -1)
		goto fail;
	cv.a = doc->arena;
	cv.cause = cause;
	if (is_container(root)) {
		if (root->attrs != NULL) {
			fail_at(cause, root->line, "unknown attribute %s on <%s>", root->attrs->name, root->name);
			goto fail;
		}
		for (c = root->first; c != NULL; c = c->next)
			n++;
	} else {
		n = 1;
	}
	if ((doc->items = calloc(n == 0 ? 1 : n, sizeof(*doc->items))) == NULL) {
		fail(cause, "out of memory");
		goto fail;
	}
	if (is_container(root)) {
		for (c = root->first; c != NULL; c = c->next)
			if ((doc->items[i++] = convert(&cv, c, NULL)) == NULL)
				goto fail;
	} else if ((doc->items[i++] = convert(&cv, root, NULL)) == NULL) {
		goto fail;
	}
	doc->nitems = i;
	if (cv.nph > 0)
		qsort(cv.ph, cv.nph, sizeof(*cv.ph), cmp_placeholder);
	doc->placeholders = cv.ph;
	doc->nplaceholders = cv.nph;
	ttlv_arena_free(scratch);
	*out = doc;
	return 0;
fail:
	free(cv.ph);
	ttlv_arena_free(scratch);
	ttlv_xml_doc_free(doc);
	return -1;
}

/* Reads and parses a file. See xml.h. */
int
ttlv_xml_parse_file(const char *path, struct ttlv_xml_doc **out, char **cause)
{
	char *buf = NULL, *why = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -1;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return fail(cause, "%s: %s", path, strerror(errno));
	if ((buf = malloc(TTLV_XML_MAX_SIZE + 1)) == NULL) {
		fail(cause, "%s: out of memory", path);
		goto out;
	}
	len = fread(buf, 1, TTLV_XML_MAX_SIZE + 1, f);
	if (ferror(f)) {
		fail(cause, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (len > TTLV_XML_MAX_SIZE) {
		fail(cause, "%s: larger than %d bytes", path, TTLV_XML_MAX_SIZE);
		goto out;
	}
	if ((rc = ttlv_xml_parse(buf, len, out, &why)) == -1) {
		if (cause != NULL && asprintf(cause, "%s: %s", path, why != NULL ? why : "error") < 0)
			*cause = NULL;
	}
out:
	free(why);
	free(buf);
	fclose(f);
	return rc;
}

/* Frees a document. See xml.h. */
void
ttlv_xml_doc_free(struct ttlv_xml_doc *doc)
{
	if (doc == NULL)
		return;
	ttlv_arena_free(doc->arena);
	free(doc->items);
	free(doc->placeholders);
	free(doc);
}

/* The placeholder an item carries. See xml.h. */
const char *
ttlv_xml_placeholder(const struct ttlv_xml_doc *doc, const struct ttlv *item)
{
	struct ttlv_xml_placeholder key, *found;

	if (doc == NULL || doc->nplaceholders == 0)
		return NULL;
	key.item = item;
	key.name = NULL;
	found = bsearch(&key, doc->placeholders, doc->nplaceholders, sizeof(key), cmp_placeholder);
	return found != NULL ? found->name : NULL;
}

/* Writes s as an attribute value, escaping markup and white space that XML would normalize. */
static void
put_escaped(FILE *out, const uint8_t *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\t':
		case '\n':
		case '\r':
			fprintf(out, "&#x%X;", s[i]);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

/* Writes bytes as lower-case hex. */
static void
put_hex(FILE *out, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(out, "%02x", p[i]);
}

/* Writes an ISO 8601 UTC date and time (with microseconds when usec >= 0); false when out of range. */
static bool
put_iso8601(FILE *out, int64_t seconds, long usec)
{
	struct tm tm;
	time_t t = (time_t)seconds;

	if ((int64_t)t != seconds || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return false;
	fprintf(out, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (usec >= 0)
		fprintf(out, ".%06ld", usec);
	fputs("+00:00", out);
	return true;
}

/* Writes the value attribute's text of a leaf item. attr_name as for convert_leaf. */
static void
put_value(FILE *out, const struct ttlv *t, const char *attr_name)
{
	uint32_t vtag = t->tag;
	const char *name;
	char buf[512];
	int64_t sec, us;

	if (attr_name != NULL && ttlv_tag_by_name(attr_name, &vtag) == -1)
		vtag = 0;
	switch (t->type) {
	case TTLV_INTEGER:
		if (vtag != 0 && ttlv_is_mask(vtag)) {
			ttlv_mask_xml_str(vtag, (uint32_t)t->v.i32, buf, sizeof(buf));
			fputs(buf, out);
		} else {
			fprintf(out, "%d", t->v.i32);
		}
		break;
	case TTLV_LONG_INTEGER:
		fprintf(out, "%lld", (long long)t->v.i64);
		break;
	case TTLV_BIG_INTEGER:
	case TTLV_BYTE_STRING:
		put_hex(out, t->v.bytes.data, t->length);
		break;
	case TTLV_ENUMERATION:
		name = vtag != 0 ? ttlv_enum_xml_name(vtag, t->v.u32) : NULL;
		if (name != NULL)
			fputs(name, out);
		else
			fprintf(out, "0x%08X", (unsigned)t->v.u32);
		break;
	case TTLV_BOOLEAN:
		fputs(t->v.b ? "true" : "false", out);
		break;
	case TTLV_TEXT_STRING:
		put_escaped(out, t->v.bytes.data, t->length);
		break;
	case TTLV_DATE_TIME:
		if (!put_iso8601(out, t->v.i64, -1))
			fprintf(out, "0x%016llX", (unsigned long long)t->v.i64);
		break;
	case TTLV_INTERVAL:
		fprintf(out, "%u", (unsigned)t->v.u32);
		break;
	case TTLV_DATE_TIME_EXTENDED:
		sec = t->v.i64 / 1000000;
		us = t->v.i64 % 1000000;
		if (us < 0) {
			us += 1000000;
			sec--;
		}
		if (!put_iso8601(out, sec, (long)us))
			fprintf(out, "0x%016llX", (unsigned long long)t->v.i64);
		break;
	}
}

/* Writes the start of an element's tag: "<Name" or "<TTLV tag="0x540001"". */
static void
put_open(FILE *out, const struct ttlv *t, unsigned indent)
{
	const char *name = ttlv_tag_xml_name(t->tag);

	fprintf(out, "%*s", (int)(indent * 2), "");
	if (name != NULL)
		fprintf(out, "<%s", name);
	else
		fprintf(out, "<TTLV tag=\"0x%06X\"", (unsigned)t->tag);
}

/* Writes item t as XML at the given depth. Returns nothing: errors show in ferror(out). */
static void
print_item(FILE *out, const struct ttlv *t, const struct ttlv_xml_doc *doc, unsigned indent,
    const char *attr_name)
{
	const struct ttlv *c;
	const char *child_attr_name = NULL, *ph, *type, *name;

	put_open(out, t, indent);
	if (t->type != TTLV_STRUCTURE) {
		type = type_xml_name(t->type);
		fprintf(out, " type=\"%s\" value=\"", type != NULL ? type : "Unknown");
		if ((ph = ttlv_xml_placeholder(doc, t)) != NULL)
			fputs(ph, out);
		else
			put_value(out, t, attr_name);
		fputs("\"/>\n", out);
		return;
	}
	if (t->v.s.first == NULL) {
		fputs("/>\n", out);
		return;
	}
	fputs(">\n", out);
	if (indent >= TTLV_XML_MAX_DEPTH) {
		fprintf(out, "%*s<!-- deeper items elided -->\n", (int)((indent + 1) * 2), "");
	} else {
		for (c = t->v.s.first; c != NULL; c = c->next)
			if (c->tag == KMIP_TAG_ATTRIBUTE_NAME && c->type == TTLV_TEXT_STRING)
				child_attr_name = (const char *)c->v.bytes.data;
		for (c = t->v.s.first; c != NULL; c = c->next)
			print_item(out, c, doc, indent + 1,
			    c->tag == KMIP_TAG_ATTRIBUTE_VALUE ? child_attr_name : NULL);
	}
	name = ttlv_tag_xml_name(t->tag);
	fprintf(out, "%*s</%s>\n", (int)(indent * 2), "", name != NULL ? name : "TTLV");
}

/* Writes an item as KMIP XML. See xml.h. */
int
ttlv_xml_print(FILE *out, const struct ttlv *item, const struct ttlv_xml_doc *doc, unsigned indent)
{
	print_item(out, item, doc, indent, NULL);
	return ferror(out) ? -1 : 0;
}
