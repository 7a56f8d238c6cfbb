/*
 * JSON text built into fixed buffers: the audit trail, the log in JSON form, status answers.
 * Symbol prefix: json_.
 */
#ifndef KMIPD_JSON_H
#define KMIPD_JSON_H

#include <stddef.h>

#define JSON_MARKER_MAX	48	/* bytes of the "...[N more bytes]" marker of a cut string */

/*
 * Appends s (NULL is "") as a JSON string at buf[*n], never past size, and advances *n: at most max bytes
 * of it (cut at a character boundary, then a marker with the number of bytes left out), '"' and '\\'
 * escaped, control characters and bytes that are not UTF-8 as \u00XX (each such byte stands for itself,
 * as in Latin-1). buf stays NUL-terminated.
 */
void json_str(char *buf, size_t size, size_t *n, size_t max, const char *s);
/* Appends printf-formatted text at buf[*n], never past size, and advances *n. */
void json_fmt(char *buf, size_t size, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
