/*
 * kmipctl's KMIP client commands (kmipctl_client.c: the connection, its settings, requests, output;
 * kmipctl_objects.c: the commands): list, show, create, import, export, activate, revoke, destroy, rekey
 * and query, run against a kmipd over mutual TLS with an administrator's certificate, never on the store.
 *
 * Exit statuses, the same for every command: CLI_EXIT_OK, CLI_EXIT_REFUSED (the server answered with a
 * failure: its Result Reason and Message are printed), CLI_EXIT_USAGE (bad options or operands, an input
 * file that cannot be read or parsed, a refused export), CLI_EXIT_CONNECT (no connection, the TLS
 * handshake or the client's TLS files failed, or the connection broke).
 */
#ifndef KMIPD_KMIPCTL_CLIENT_H
#define KMIPD_KMIPCTL_CLIENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/client.h"
#include "proto/encode.h"
#include "proto/ttlv.h"

#define CLI_WUR __attribute__((warn_unused_result))

#define CLI_EXIT_OK		0
#define CLI_EXIT_REFUSED	1
#define CLI_EXIT_USAGE		2
#define CLI_EXIT_CONNECT	3

#define CLI_DEFAULT_CONFIG	"/etc/kmipd/kmipctl.conf"
#define CLI_DEFAULT_PORT	5696
#define CLI_DEFAULT_TIMEOUT	30	/* seconds: connect, and each read or write (key pairs take a while) */
#define CLI_MAX_TIMEOUT		3600

/* The connection options every client command takes, in its usage line. */
#define CLI_CONN "[-C FILE] [connection options]"

/* Usage lines of the commands (after "kmipctl NAME"), shared by the command table and the commands. */
#define CLI_USAGE_LIST "[--json] [--type T] [--state S] [--name N] [--page-size N] [--limit N] [--batch N] " \
	CLI_CONN
#define CLI_USAGE_SHOW "[--json] ID " CLI_CONN
#define CLI_USAGE_CREATE "aes|rsa|ec [--length N] [--curve P-256|P-384|P-521] [--name N] [--json] " CLI_CONN
#define CLI_USAGE_IMPORT "FILE [--type aes|secret|private|public|certificate] [--format pem|der|raw] " \
	"[--name N] [--json] " CLI_CONN
#define CLI_USAGE_EXPORT "ID --i-understand-this-exports-key-material [--format pem|der|raw] [-o FILE] " CLI_CONN
#define CLI_USAGE_ACTIVATE "ID " CLI_CONN
#define CLI_USAGE_REVOKE "ID --reason R [--compromise-date DATE] " CLI_CONN
#define CLI_USAGE_DESTROY "ID " CLI_CONN
#define CLI_USAGE_REKEY "ID [--json] " CLI_CONN
#define CLI_USAGE_QUERY "[--json] " CLI_CONN

/* The connection settings: flags first, then the config file for what the flags left unset. */
struct cli_settings {
	char *config;		/* -C FILE; NULL: CLI_DEFAULT_CONFIG when it exists */
	char *host;
	char *ca;
	char *cert;
	char *key;
	char *servername;	/* the name the server certificate must carry; NULL: host */
	unsigned port;		/* 0: unset */
	unsigned timeout;	/* seconds; 0: unset */
	bool json;
};

/* One command's run: its name, settings and connection. */
struct cli {
	const char *cmd;
	const char *usage;
	struct cli_settings s;
	struct ssl_ctx_st *ctx;
	struct kmip_client *cl;
};

/*
 * A command's own options: take(arg, opt, optarg) is called for each option of extra (getopt_long
 * entries, NULL-terminated) and returns 0, or CLI_EXIT_USAGE after printing why.
 */
typedef int (*cli_take_fn)(void *arg, int opt, const char *value);

/*
 * Parses argv: the connection options, --json, -h and the command's extra options (short ones in
 * extra_short, e.g. "o:"). Returns the index of the first operand, -1 after printing the usage for -h (exit
 * 0), or -2 after printing why (exit CLI_EXIT_USAGE).
 */
int cli_parse(struct cli *c, int argc, char **argv, const char *cmd, const char *usage,
    const struct option *extra, const char *extra_short, cli_take_fn take, void *arg) CLI_WUR;
/* Prints "usage: kmipctl CMD USAGE" to stderr; returns CLI_EXIT_USAGE. */
int cli_usage(const struct cli *c);
/*
 * Reads the config file into the settings the flags left unset, checks them and connects. Returns 0, or
 * CLI_EXIT_USAGE (a bad config file, a missing setting) or CLI_EXIT_CONNECT, after printing why.
 */
int cli_connect(struct cli *c) CLI_WUR;
/* Closes the connection and frees the settings. */
void cli_close(struct cli *c);

/* Requests (KMIP 1.4, whose Attribute form every KMIP server reads). Batch errors continue. */
void cli_request_begin(struct ttlv_enc *e, unsigned nitems);
void cli_item_begin(struct ttlv_enc *e, uint32_t operation);
void cli_item_end(struct ttlv_enc *e);
void cli_request_end(struct ttlv_enc *e);
/* 1.x attributes. */
void cli_attr_enum(struct ttlv_enc *e, const char *name, uint32_t value);
void cli_attr_int(struct ttlv_enc *e, const char *name, int32_t value);
void cli_attr_name(struct ttlv_enc *e, const char *name);
/*
 * Sends the request (then wipes and frees it) and reads the response. 0 with *root and *arena (the
 * caller frees the arena, which wipes it), or CLI_EXIT_CONNECT after printing why.
 */
int cli_call(struct cli *c, struct ttlv_enc *e, struct ttlv **root, struct ttlv_arena **arena) CLI_WUR;
/* The batch item i of a response (NULL when absent). */
const struct ttlv *cli_item(const struct ttlv *root, unsigned i);
/*
 * Checks batch item i: 0 and its payload (*payload may be NULL for an empty one) on Success, or
 * CLI_EXIT_REFUSED after printing "kmipctl CMD: WHAT: the server refused: Reason: Message" (quiet: print
 * nothing), or CLI_EXIT_CONNECT when the response has no such item.
 */
int cli_result(const struct cli *c, const struct ttlv *root, unsigned i, const char *what, bool quiet,
    const struct ttlv **payload) CLI_WUR;

/* Output. */
/* A JSON string of len bytes: quotes, escapes, invalid UTF-8 as U+FFFD. */
void cli_json_str(FILE *f, const char *s, size_t len);
/*
 * An item's value as JSON (json) or as text: enumerations and masks by name (a 1.x Attribute Value's
 * through attr_name, may be NULL), dates in ISO 8601 UTC, bytes in hex, structures as objects of their
 * children (a repeated tag as an array; in text "{Child: value, ...}").
 */
void cli_value(FILE *f, const struct ttlv *v, const char *attr_name, bool json);
/* Text for terminals: control characters as \xNN. */
void cli_text(FILE *f, const char *s);
/* Flushes stdout; 0, or CLI_EXIT_REFUSED after printing a write error. */
int cli_flush(const struct cli *c) CLI_WUR;

/* Word lists shared by the commands: 0 and *value, or -1 when the word is unknown. */
int cli_object_type(const char *word, uint32_t *value) CLI_WUR;
int cli_state(const char *word, uint32_t *value) CLI_WUR;

/* The commands (kmipctl_objects.c). */
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_activate(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_rekey(int argc, char **argv);
int cmd_query(int argc, char **argv);

#endif
