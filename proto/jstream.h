/*
 * proto/jstream.h: a bounded, incremental (push) JSON parser, and on top of it a decoder of what etcd's v3
 * HTTP/JSON gateway sends (Range, Put, DeleteRange and Txn replies, watch stream items, errors). Pure state
 * machines: no I/O, no logging, no OpenSSL, no recursion on the input's nesting.
 *
 * The parser (jstream_) is fed bytes in any split, down to one byte at a time. It reports each token of a
 * top-level value to a callback as the token completes (strings whole, numbers as their text) and returns
 * JSTREAM_VALUE after the last byte of each top-level value, so a stream of values with or without separators
 * (etcd's watch stream: one object per line in etcd 3.4, but the gateway does not promise it) comes out one
 * value at a time. Every limit is fixed at creation and checked before memory is taken: the bytes of one
 * value, the nesting depth, the decoded length of one string (numbers count as strings), the members of one
 * object or elements of one array. Memory held: the depth stack (allocated at creation) and one string buffer
 * that grows up to the string limit.
 *
 * The etcd decoder (etcdj_) drives a parser with a table of the fields etcd sends and fills a struct
 * etcdj_reply as the tokens arrive, so a reply is never held twice: keys and values are base64-decoded
 * (strictly: canonical padding, no whitespace) into the reply's arena, 64-bit integers (strings on the wire)
 * are parsed strictly (decimal, no sign, no leading zero, overflow refused), fields etcd does not send by
 * that name are skipped (a newer etcd adds fields), a field sent twice or with the wrong JSON type is an
 * error. What the gateway leaves out is its proto3 default: a missing "type" is PUT, a missing "succeeded"
 * is false, a missing count is 0, a missing value is empty.
 *
 * Caveats: the parser checks JSON and UTF-8 but does not reject duplicate names (the etcd decoder does, for
 * the names it knows); a top-level value must be an object or an array (a bare number could not be known to
 * have ended). After ERROR the stream cannot resynchronise: drop the connection and reset.
 *
 * Symbol prefixes: jstream_ (the parser), etcdj_ (the etcd decoder).
 */
#ifndef KMIPD_PROTO_JSTREAM_H
#define KMIPD_PROTO_JSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSTREAM_WUR __attribute__((warn_unused_result))

#define JSTREAM_MAX_DEPTH	1024	/* hard cap on jstream_limits.max_depth */

enum jstream_status {
	JSTREAM_NEED_MORE = 0,	/* all input consumed; no value ended in it */
	JSTREAM_VALUE = 1,	/* a top-level value ended; bytes after it were not consumed */
	JSTREAM_ERROR = 2,	/* malformed input, a limit hit or the callback refused; see jstream_error() */
};

enum jstream_err {
	JSTREAM_ERR_NONE = 0,
	JSTREAM_ERR_SYNTAX,		/* a byte that cannot come there */
	JSTREAM_ERR_TOPLEVEL,		/* a top-level value that is not an object or an array */
	JSTREAM_ERR_CONTROL,		/* an unescaped control character in a string */
	JSTREAM_ERR_ESCAPE,		/* a bad escape, or a \u surrogate without its pair */
	JSTREAM_ERR_UTF8,		/* a string that is not UTF-8 */
	JSTREAM_ERR_NUMBER,		/* a number outside JSON's grammar */
	JSTREAM_ERR_LITERAL,		/* a misspelt true, false or null */
	JSTREAM_ERR_VALUE_SIZE,		/* a top-level value longer than max_value_size */
	JSTREAM_ERR_DEPTH,		/* nesting deeper than max_depth */
	JSTREAM_ERR_STRING_SIZE,	/* a string or number longer than max_string */
	JSTREAM_ERR_MEMBERS,		/* an object or array with more than max_members entries */
	JSTREAM_ERR_NOMEM,		/* the string buffer could not grow */
	JSTREAM_ERR_CALLBACK,		/* the callback refused a token (its own reason is the caller's) */
};

struct jstream_limits {
	size_t max_value_size;	/* bytes of one top-level value, from its first byte to its last */
	unsigned max_depth;	/* nesting of objects and arrays, the top-level value is depth 1 */
	size_t max_string;	/* decoded bytes of one string or member name, characters of one number */
	size_t max_members;	/* members of one object, elements of one array */
};

enum jstream_token {
	JSTREAM_OBJECT_BEGIN,
	JSTREAM_OBJECT_END,
	JSTREAM_ARRAY_BEGIN,
	JSTREAM_ARRAY_END,
	JSTREAM_NAME,		/* a member name; the member's value follows */
	JSTREAM_STRING,
	JSTREAM_NUMBER,		/* its text, as sent */
	JSTREAM_TRUE,
	JSTREAM_FALSE,
	JSTREAM_NULL,
};

/*
 * Called for each token. s and len are the decoded string, member name or number text (NUL-terminated; a
 * string may hold \u0000), else NULL and 0; valid only during the call. depth is the number of containers
 * open around the token (the top-level value's BEGIN and END are at depth 0). Returns 0, or -1 to stop the
 * parse with JSTREAM_ERR_CALLBACK.
 */
typedef int (*jstream_cb)(void *arg, enum jstream_token tok, const char *s, size_t len, unsigned depth);

struct jstream;

/*
 * A new parser with these limits (each must be at least 1, max_depth at most JSTREAM_MAX_DEPTH) calling cb
 * with arg. Returns NULL when a limit is out of range or memory is short.
 */
struct jstream *jstream_new(const struct jstream_limits *limits, jstream_cb cb, void *arg) JSTREAM_WUR;
void jstream_free(struct jstream *j);
/*
 * Feeds len bytes. *consumed gets the bytes used: all on NEED_MORE, up to and including the value's last
 * byte on VALUE (feed the rest again), up to the offending byte (excluded) on ERROR. Never reads past len.
 * Fed again after ERROR, it returns ERROR at once and keeps the first error until jstream_reset.
 */
enum jstream_status jstream_feed(struct jstream *j, const uint8_t *buf, size_t len, size_t *consumed) JSTREAM_WUR;
/* Drops any partial value and any error; the stream offset starts again at 0. */
void jstream_reset(struct jstream *j);
/* True while a top-level value has been started and not finished (the stream must not end there). */
bool jstream_busy(const struct jstream *j);
/* After ERROR: what was wrong and the stream offset of the offending byte (from creation or reset). */
enum jstream_err jstream_error(const struct jstream *j, uint64_t *offset);
const char *jstream_err_str(enum jstream_err e);

/*
 * Decoding what etcd sends. A 64-bit revision on the wire is a decimal string; values are base64.
 */
enum etcdj_kind {
	ETCDJ_UNARY,	/* the reply to /v3/kv/range, put, deleterange, txn, compaction: one object */
	ETCDJ_WATCH,	/* the items of /v3/watch's stream: {"result":{...}} or {"error":{...}} objects */
};

struct etcdj_limits {
	struct jstream_limits json;	/* the parser's (max_string must hold a base64 value: 4/3 of max_value) */
	size_t max_kvs;			/* key-values in one reply (Range, a Txn's ranges, events' kv and prev_kv) */
	size_t max_responses;		/* operations in one Txn reply */
	size_t max_events;		/* events in one watch item */
	size_t max_key;			/* decoded bytes of one key */
	size_t max_value;		/* decoded bytes of one value */
};

struct etcdj_header {
	uint64_t cluster_id;
	uint64_t member_id;
	int64_t revision;	/* the store's revision when the reply was made */
	uint64_t raft_term;
};

struct etcdj_kv {
	const uint8_t *key;	/* in the reply's arena; never NULL, may be empty */
	size_t key_len;
	const uint8_t *value;	/* empty for a DELETE event's kv and keys_only ranges */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

enum etcdj_op {
	ETCDJ_OP_NONE = 0,	/* a response object with no known operation in it */
	ETCDJ_OP_RANGE,
	ETCDJ_OP_PUT,
	ETCDJ_OP_DELETE_RANGE,
	ETCDJ_OP_TXN,		/* a nested Txn: not decoded further */
};

/* One operation's reply inside a Txn reply. */
struct etcdj_response {
	enum etcdj_op op;
	struct etcdj_header header;
	size_t first_kv;	/* RANGE: its kvs are reply->kvs[first_kv .. first_kv + n_kvs) */
	size_t n_kvs;
	int64_t count;		/* RANGE */
	bool more;		/* RANGE */
	int64_t deleted;	/* DELETE_RANGE */
};

enum etcdj_event_type {
	ETCDJ_PUT = 0,
	ETCDJ_DELETE = 1,
};

struct etcdj_event {
	enum etcdj_event_type type;
	size_t kv;		/* index in reply->kvs */
	bool has_prev_kv;
	size_t prev_kv;		/* index in reply->kvs when has_prev_kv */
};

struct etcdj_reply {
	enum etcdj_kind kind;
	/* An error reply: {"error":"...","code":N,"message":"..."}, or in a stream {"error":{"grpc_code":N,...}}. */
	bool is_error;
	int32_t code;		/* the gRPC status code (3 invalid argument, 11 out of range, 14 unavailable...) */
	int32_t http_code;	/* a stream error's http_code, else 0 */
	const char *error;	/* NUL-terminated, in the arena, or NULL */
	const char *message;
	struct etcdj_header header;	/* ETCDJ_WATCH: result.header */
	struct etcdj_kv *kvs;
	size_t n_kvs;
	/* Range */
	int64_t count;
	bool more;
	/* DeleteRange */
	int64_t deleted;
	/* Txn */
	bool succeeded;
	struct etcdj_response *responses;
	size_t n_responses;
	/* Watch */
	bool has_result;	/* the item held "result" */
	int64_t watch_id;
	bool created;
	bool canceled;
	bool fragment;
	int64_t compact_revision;
	const char *cancel_reason;
	struct etcdj_event *events;
	size_t n_events;
};

struct etcdj_decoder;

/* A new decoder of kind with these limits (as jstream_new's, and the others at least 1), or NULL. */
struct etcdj_decoder *etcdj_decoder_new(enum etcdj_kind kind, const struct etcdj_limits *limits) JSTREAM_WUR;
void etcdj_decoder_free(struct etcdj_decoder *d);
/*
 * Feeds len bytes, as jstream_feed: JSTREAM_VALUE when a reply is complete (take it with etcdj_decoder_take
 * before feeding the rest), JSTREAM_ERROR with etcdj_decoder_error's reason.
 */
enum jstream_status etcdj_decoder_feed(struct etcdj_decoder *d, const uint8_t *buf, size_t len,
    size_t *consumed) JSTREAM_WUR;
/* After VALUE: the reply, which the caller frees with etcdj_reply_free. NULL at any other time. */
struct etcdj_reply *etcdj_decoder_take(struct etcdj_decoder *d);
/* Drops a partial reply and any error. */
void etcdj_decoder_reset(struct etcdj_decoder *d);
/* True while a reply has been started and not finished. */
bool etcdj_decoder_busy(const struct etcdj_decoder *d);
/* After ERROR: a sentence saying what was wrong, and the stream offset of the offending byte. */
const char *etcdj_decoder_error(const struct etcdj_decoder *d, uint64_t *offset);
void etcdj_reply_free(struct etcdj_reply *r);
/* Whether a watch item is a progress notification: a header and nothing else (no events, not created...). */
bool etcdj_is_progress(const struct etcdj_reply *r);

/*
 * The strict readers the decoder uses, for the request side too. etcdj_parse_i64: a whole decimal string
 * from 0 to INT64_MAX ("0", or no leading zero; no sign, no space). etcdj_parse_u64: the same up to
 * UINT64_MAX. etcdj_base64_decode: standard alphabet, padded to a multiple of 4, zero bits after the last
 * byte; writes at most cap bytes to out. Each returns 0, or -1 on any deviation.
 */
int etcdj_parse_i64(const char *s, size_t len, int64_t *out) JSTREAM_WUR;
int etcdj_parse_u64(const char *s, size_t len, uint64_t *out) JSTREAM_WUR;
int etcdj_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen) JSTREAM_WUR;
/* The decoded length of a base64 string of len characters (its padding not known: an upper bound). */
size_t etcdj_base64_max(size_t len);

#endif
