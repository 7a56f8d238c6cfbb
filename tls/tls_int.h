/*
 * tls: helpers shared by the module's own files. Not for other modules: they include tls/tls.h.
 */
#ifndef KMIPD_TLS_INT_H
#define KMIPD_TLS_INT_H

/* Sets *cause (if cause is not NULL) to a malloc'd formatted message; NULL if out of memory. */
void tls_cause(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like tls_cause, then ": " and the drained OpenSSL error queue. */
void tls_cause_ssl(char **cause, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
