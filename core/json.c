/*
 * JSON text for the audit trail, the log and status answers: strings escaped so that every line is valid
 * JSON whatever a client put in a field, cut at a limit with a marker.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

/*
 * The length of the UTF-8 character at p (n bytes left), or 0 when p does not start a well-formed one
 * (overlong forms, surrogates and code points past U+10FFFF are not).
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) || (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* Appends s as a JSON string; see json.h. */
void
json_str(char *buf, size_t size, size_t *n, size_t max, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t len = strlen((const char *)p), i = 0, k;

#define PUT(c) do { if (*n + 1 < size) buf[(*n)++] = (c); } while (0)
	PUT('"');
	while (i < len) {
		size_t cl = utf8_len(p + i, len - i);

		if (i + (cl > 0 ? cl : 1) > max)
			break;
		if (cl == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hex[p[i] >> 4]);
			PUT(hex[p[i] & 15]);
			i++;
		} else if (p[i] == '"' || p[i] == '\\') {
			PUT('\\');
			PUT((char)p[i]);
			i++;
		} else {
			for (k = 0; k < cl; k++)
				PUT((char)p[i + k]);
			i += cl;
		}
	}
	if (i < len) {
		char marker[JSON_MARKER_MAX];
		int m = snprintf(marker, sizeof(marker), "...[%zu more bytes]", len - i);

		for (k = 0; m > 0 && k < (size_t)m && k < sizeof(marker) - 1; k++)
			PUT(marker[k]);
	}
	PUT('"');
#undef PUT
	buf[*n < size ? *n : size - 1] = '\0';
}

/* Appends formatted text; see json.h. */
void
json_fmt(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= size)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n = *n + (size_t)w < size ? *n + (size_t)w : size - 1;
}
