/*
 * print: a decoded message as an indented tree, one item per line, for kmipctl and debugging:
 *
 *   Request Message (0x420078) Structure: 2 items
 *     Operation (0x42005C) Enumeration: Get (0x0000000A)
 *
 * Captured messages carry key material, so by default the bytes under Key Material, and every Byte String
 * or Big Integer inside a Key Value, are replaced by "<N bytes redacted>", and so are passwords, Opaque
 * Data and the Data of Encrypt, Decrypt, Sign and MAC requests and responses (plaintext, or what the
 * client keeps secret).
 */
#include <string.h>
#include <time.h>

#include "proto/names.h"
#include "proto/ttlv.h"

#define INDENT_MAX 64		/* deeper items are elided: printing recurses */
#define BYTES_SHOWN 32		/* longer Byte Strings and Big Integers are cut to this many bytes */

/* Writes the tag as "Name (0x420094)"; tags without a name say Unknown, or Extension for 0x54xxxx. */
static void
print_tag(FILE *out, uint32_t tag)
{
	const char *name = ttlv_tag_name(tag);

	if (name == NULL)
		name = (tag >> 16) == 0x54 ? "Extension" : "Unknown";
	fprintf(out, "%s (0x%06X)", name, (unsigned)tag);
}

/* Writes a Text String quoted, escaping quotes, backslashes, control characters and C1 controls. */
static void
print_text(FILE *out, const uint8_t *s, size_t len)
{
	size_t i;

	fputc('"', out);
	for (i = 0; i < len; i++) {
		uint8_t c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(out, "\\x%02x", c);
			} else if (c == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
				/* U+0080..U+009F: terminal control sequences in UTF-8 clothing */
				fprintf(out, "\\u%04x", s[i + 1]);
				i++;
			} else {
				fputc(c, out);
			}
		}
	}
	fputc('"', out);
}

/* Writes bytes as hex, the first BYTES_SHOWN of them, then the byte count. */
static void
print_hex(FILE *out, const uint8_t *p, size_t len)
{
	size_t i, n = len > BYTES_SHOWN ? BYTES_SHOWN : len;

	for (i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
	if (n < len)
		fputs("...", out);
	fprintf(out, "%s(%zu byte%s)", len > 0 ? " " : "", len, len == 1 ? "" : "s");
}

/* Writes a time as ISO 8601 UTC, with microseconds when frac; false when it cannot be represented. */
static bool
print_time(FILE *out, int64_t seconds, long usec, bool frac)
{
	struct tm tm;
	time_t t = (time_t)seconds;
	char buf[64];

	if ((int64_t)t != seconds || gmtime_r(&t, &tm) == NULL)
		return false;
	if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return false;
	if (frac)
		fprintf(out, "%s.%06ldZ", buf, usec);
	else
		fprintf(out, "%sZ", buf);
	return true;
}

/* True for the tags whose Text String is a password. */
static bool
is_password(uint32_t tag)
{
	return tag == KMIP_TAG_PASSWORD || tag == KMIP_TAG_ONE_TIME_PASSWORD ||
	    tag == KMIP_TAG_HASHED_PASSWORD || tag == KMIP_TAG_SERVER_HASHED_PASSWORD;
}

/* True for the Byte String tags that hold a client's secret bytes outside a Key Value. */
static bool
is_secret_bytes(uint32_t tag)
{
	return tag == KMIP_TAG_OPAQUE_DATA_VALUE || tag == KMIP_TAG_DATA;
}

/* Writes the value part of a leaf item (after "Type: "); secret replaces it by its length. */
static void
print_value(FILE *out, const struct ttlv *it, bool secret)
{
	const char *name;
	char buf[512];

	switch (it->type) {
	case TTLV_INTEGER:
		if (ttlv_is_mask(it->tag) && it->v.i32 != 0)
			fprintf(out, "%d (%s)", it->v.i32, ttlv_mask_str(it->tag, (uint32_t)it->v.i32, buf,
			    sizeof(buf)));
		else
			fprintf(out, "%d", it->v.i32);
		break;
	case TTLV_LONG_INTEGER:
		fprintf(out, "%lld", (long long)it->v.i64);
		break;
	case TTLV_ENUMERATION:
		if ((name = ttlv_enum_name(it->tag, it->v.u32)) != NULL)
			fprintf(out, "%s (0x%08X)", name, (unsigned)it->v.u32);
		else
			fprintf(out, "0x%08X", (unsigned)it->v.u32);
		break;
	case TTLV_BOOLEAN:
		fputs(it->v.b ? "true" : "false", out);
		break;
	case TTLV_TEXT_STRING:
		if (secret)
			fprintf(out, "<%u bytes redacted>", (unsigned)it->length);
		else
			print_text(out, it->v.bytes.data, it->length);
		break;
	case TTLV_BYTE_STRING:
	case TTLV_BIG_INTEGER:
		if (secret)
			fprintf(out, "<%u bytes redacted>", (unsigned)it->length);
		else
			print_hex(out, it->v.bytes.data, it->length);
		break;
	case TTLV_DATE_TIME:
		if (print_time(out, it->v.i64, 0, false))
			fputc(' ', out);
		fprintf(out, "(%lld)", (long long)it->v.i64);
		break;
	case TTLV_DATE_TIME_EXTENDED: {
		int64_t s = it->v.i64 / 1000000, us = it->v.i64 % 1000000;

		if (us < 0) {
			us += 1000000;
			s--;
		}
		if (print_time(out, s, (long)us, true))
			fputc(' ', out);
		fprintf(out, "(%lld)", (long long)it->v.i64);
		break;
	}
	case TTLV_INTERVAL:
		fprintf(out, "%u", (unsigned)it->v.u32);
		break;
	default:
		fprintf(out, "%u bytes", (unsigned)it->length);
		break;
	}
}

/* Prints one item and, for a Structure, its children one level deeper. */
static void
print_item(FILE *out, const struct ttlv *it, unsigned depth, unsigned flags, bool in_key_value)
{
	const char *type = ttlv_type_name(it->type);
	bool secret;

	fprintf(out, "%*s", (int)(2 * depth), "");
	if (depth >= INDENT_MAX) {
		fputs("...\n", out);
		return;
	}
	print_tag(out, it->tag);
	if (type != NULL)
		fprintf(out, " %s: ", type);
	else
		fprintf(out, " Unknown (0x%02X): ", (unsigned)it->type);
	if (it->type == TTLV_STRUCTURE) {
		const struct ttlv *c;
		unsigned n = 0;

		for (c = it->v.s.first; c != NULL; c = c->next)
			n++;
		fprintf(out, "%u item%s\n", n, n == 1 ? "" : "s");
		in_key_value = in_key_value || it->tag == KMIP_TAG_KEY_VALUE;
		for (c = it->v.s.first; c != NULL; c = c->next)
			print_item(out, c, depth + 1, flags, in_key_value);
		return;
	}
	secret = (flags & TTLV_PRINT_SECRETS) == 0 &&
	    (((in_key_value || it->tag == KMIP_TAG_KEY_MATERIAL || it->tag == KMIP_TAG_KEY_VALUE) &&
	    (it->type == TTLV_BYTE_STRING || it->type == TTLV_BIG_INTEGER)) ||
	    (it->type == TTLV_BYTE_STRING && is_secret_bytes(it->tag)) ||
	    (it->type == TTLV_TEXT_STRING && is_password(it->tag)));
	print_value(out, it, secret);
	fputc('\n', out);
}

/* Prints item and everything under it; flags is 0 or TTLV_PRINT_SECRETS. */
void
ttlv_print_opts(FILE *out, const struct ttlv *item, unsigned flags)
{
	if (item != NULL)
		print_item(out, item, 0, flags, false);
}

/* Prints item and everything under it, secrets redacted. */
void
ttlv_print(FILE *out, const struct ttlv *item)
{
	ttlv_print_opts(out, item, 0);
}
