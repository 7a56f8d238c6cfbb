/*
 * proto: the KMIP wire.
 *
 * TTLV items, an arena that owns a decoded message, an incremental decoder that is a pure state machine
 * (no I/O, no logging, no OpenSSL), an encoder into a growable buffer, and the tag, type, enumeration and
 * mask name tables of KMIP 1.0 to 2.1.
 *
 * Symbol prefixes: ttlv_ for items, the codec and the name tables; kmip_ for the message model.
 */
#ifndef KMIPD_PROTO_H
#define KMIPD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TTLV_WUR __attribute__((warn_unused_result))

/* Item types (KMIP 1.4 section 9.1.1.2, 2.1 section 9.1.1.2). */
enum ttlv_type {
	TTLV_STRUCTURE = 0x01,
	TTLV_INTEGER = 0x02,
	TTLV_LONG_INTEGER = 0x03,
	TTLV_BIG_INTEGER = 0x04,
	TTLV_ENUMERATION = 0x05,
	TTLV_BOOLEAN = 0x06,
	TTLV_TEXT_STRING = 0x07,
	TTLV_BYTE_STRING = 0x08,
	TTLV_DATE_TIME = 0x09,
	TTLV_INTERVAL = 0x0A,
	TTLV_DATE_TIME_EXTENDED = 0x0B,
};

#define TTLV_HEADER_SIZE 8
#define TTLV_MAX_DEPTH 64		/* hard cap on ttlv_limits.max_depth */

/*
 * One decoded item. Children of a structure are a singly linked list in wire order. Byte-like values
 * (Text String, Byte String, Big Integer) point into the arena and are not NUL-terminated, except that a
 * Text String always has a NUL after its last byte, so it can be printed as a C string (a Text String that
 * itself holds a NUL is refused by the decoder).
 */
struct ttlv {
	uint32_t tag;
	uint8_t type;		/* enum ttlv_type */
	uint32_t length;	/* value length as on the wire, without padding */
	struct ttlv *next;	/* next sibling, or NULL */
	union {
		int32_t i32;	/* Integer */
		uint32_t u32;	/* Enumeration, Interval */
		int64_t i64;	/* Long Integer, Date-Time (seconds), Date-Time Extended (microseconds) */
		bool b;		/* Boolean */
		struct {
			const uint8_t *data;	/* Text String, Byte String, Big Integer (two's complement) */
		} bytes;
		struct {
			struct ttlv *first;
			struct ttlv *last;
			uint32_t count;
		} s;		/* Structure */
	} v;
};

/*
 * Arena: every item and value of one message lives in one arena, freed (and wiped, since messages carry
 * key material) in one call.
 */
struct ttlv_arena;

struct ttlv_arena *ttlv_arena_new(void) TTLV_WUR;
/* Wipes and frees every block; NULL is accepted. */
void ttlv_arena_free(struct ttlv_arena *a);
/* Zeroed, 8-byte aligned memory owned by the arena, or NULL when out of memory or over the arena's cap. */
void *ttlv_arena_alloc(struct ttlv_arena *a, size_t size) TTLV_WUR;
/* Caps the block memory the arena may reserve (0: no cap); later allocations past it return NULL. */
void ttlv_arena_set_cap(struct ttlv_arena *a, size_t cap);
/* Bytes handed out so far (for limits and tests). */
size_t ttlv_arena_used(const struct ttlv_arena *a);

/* Building trees in an arena (used by tests, the XML encoding and the message model). NULL on ENOMEM. */
struct ttlv *ttlv_new_struct(struct ttlv_arena *a, uint32_t tag) TTLV_WUR;
struct ttlv *ttlv_new_int(struct ttlv_arena *a, uint32_t tag, int32_t v) TTLV_WUR;
struct ttlv *ttlv_new_long(struct ttlv_arena *a, uint32_t tag, int64_t v) TTLV_WUR;
struct ttlv *ttlv_new_enum(struct ttlv_arena *a, uint32_t tag, uint32_t v) TTLV_WUR;
struct ttlv *ttlv_new_bool(struct ttlv_arena *a, uint32_t tag, bool v) TTLV_WUR;
struct ttlv *ttlv_new_text(struct ttlv_arena *a, uint32_t tag, const char *s, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_bytes(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_bigint(struct ttlv_arena *a, uint32_t tag, const void *p, size_t len) TTLV_WUR;
struct ttlv *ttlv_new_datetime(struct ttlv_arena *a, uint32_t tag, int64_t seconds) TTLV_WUR;
struct ttlv *ttlv_new_interval(struct ttlv_arena *a, uint32_t tag, uint32_t seconds) TTLV_WUR;
struct ttlv *ttlv_new_datetime_ext(struct ttlv_arena *a, uint32_t tag, int64_t usec) TTLV_WUR;
/* Appends child to parent (a Structure). */
void ttlv_append(struct ttlv *parent, struct ttlv *child);

/* Navigation. NULL when absent or when parent is not a Structure. */
struct ttlv *ttlv_find(const struct ttlv *parent, uint32_t tag);
/* The next sibling after prev with the same tag as prev. */
struct ttlv *ttlv_find_next(const struct ttlv *prev);
/* Number of direct children with this tag. */
unsigned ttlv_count(const struct ttlv *parent, uint32_t tag);
/* Deep equality: tags, types, lengths, values and children in order. */
bool ttlv_equal(const struct ttlv *a, const struct ttlv *b);

/* Decoder. */
enum ttlv_status {
	TTLV_NEED_MORE = 0,	/* all input consumed, message not complete */
	TTLV_DONE = 1,		/* one complete message decoded; bytes after it were not consumed */
	TTLV_ERROR = 2,		/* input is malformed; see ttlv_decoder_error() */
};

enum ttlv_err {
	TTLV_ERR_NONE = 0,
	TTLV_ERR_NOT_STRUCTURE,		/* top-level item is not a Structure */
	TTLV_ERR_TOO_LONG,		/* message longer than max_message_size */
	TTLV_ERR_TOO_DEEP,		/* nesting deeper than max_depth */
	TTLV_ERR_OVERRUN,		/* an item runs past the end of its parent */
	TTLV_ERR_BAD_LENGTH,		/* a fixed-size type with the wrong length, or a misaligned Structure */
	TTLV_ERR_BAD_TYPE,		/* unknown type code */
	TTLV_ERR_BAD_TAG,		/* tag outside 0x42xxxx and 0x54xxxx */
	TTLV_ERR_BAD_VALUE,		/* Boolean not 0 or 1, Text String not UTF-8 or holding NUL */
	TTLV_ERR_NOMEM,			/* arena allocation failed (too many items for the arena cap) */
	TTLV_ERR_STATE,			/* fed after DONE or ERROR without a reset */
	TTLV_ERR_TRUNCATED,		/* one-shot decode: the input ends inside the message */
	TTLV_ERR_TRAILING,		/* one-shot decode: bytes follow the message */
};

struct ttlv_limits {
	uint32_t max_message_size;	/* bytes, header included; 0 means 1 MiB */
	uint32_t max_depth;		/* nesting levels, the top Structure is level 1; 0 means 16 */
	size_t max_arena;		/* bytes of item memory per message; 0 means 16 times max_message_size */
	bool any_toplevel;		/* accept a top-level item of any type (tools and tests only) */
};

struct ttlv_decoder;

struct ttlv_decoder *ttlv_decoder_new(const struct ttlv_limits *limits) TTLV_WUR;
void ttlv_decoder_free(struct ttlv_decoder *d);
/*
 * Feeds len bytes. *consumed is set to the number of bytes used: all of them on NEED_MORE, up to the end
 * of the message on DONE, and up to the end of the offending item's header on ERROR. Never reads past len.
 * After DONE, call ttlv_decoder_take(); after ERROR, ttlv_decoder_reset() (a stream cannot resynchronise, so
 * a server closes the connection).
 */
enum ttlv_status ttlv_decoder_feed(struct ttlv_decoder *d, const uint8_t *buf, size_t len,
    size_t *consumed) TTLV_WUR;
/* After DONE: the root item and its arena; the caller owns the arena. The decoder is reset. */
struct ttlv *ttlv_decoder_take(struct ttlv_decoder *d, struct ttlv_arena **arena);
/* Drops any partial message (wiping it) and starts over. */
void ttlv_decoder_reset(struct ttlv_decoder *d);
/* True while a message has been started but not finished (for request deadlines). */
bool ttlv_decoder_busy(const struct ttlv_decoder *d);
/* After ERROR: what was wrong, at which message offset, and a human-readable sentence. */
enum ttlv_err ttlv_decoder_error(const struct ttlv_decoder *d, uint64_t *offset, const char **what);
/* The total length announced by the top-level header, once 8 bytes have been seen (else 0). */
uint64_t ttlv_decoder_announced(const struct ttlv_decoder *d);
const char *ttlv_err_str(enum ttlv_err e);

/* One-shot decode of a whole buffer; ERROR if bytes remain after the message. */
enum ttlv_status ttlv_decode(const uint8_t *buf, size_t len, const struct ttlv_limits *limits,
    struct ttlv **root, struct ttlv_arena **arena, enum ttlv_err *err, uint64_t *offset) TTLV_WUR;

/*
 * Encoder into a growable buffer. Errors are sticky: calls after a failure do nothing, and
 * ttlv_enc_finish() reports it, so a response can be written without checking every call.
 */
struct ttlv_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t open[32];	/* offsets of open Structure headers */
	unsigned depth;
	int error;		/* 0, or an errno value */
};

void ttlv_enc_init(struct ttlv_enc *e);
/* Wipes and frees the buffer. */
void ttlv_enc_free(struct ttlv_enc *e);
/* Empties the buffer for reuse, keeping its memory. */
void ttlv_enc_reset(struct ttlv_enc *e);
void ttlv_enc_begin(struct ttlv_enc *e, uint32_t tag);
void ttlv_enc_end(struct ttlv_enc *e);
void ttlv_enc_int(struct ttlv_enc *e, uint32_t tag, int32_t v);
void ttlv_enc_long(struct ttlv_enc *e, uint32_t tag, int64_t v);
void ttlv_enc_enum(struct ttlv_enc *e, uint32_t tag, uint32_t v);
void ttlv_enc_bool(struct ttlv_enc *e, uint32_t tag, bool v);
void ttlv_enc_text(struct ttlv_enc *e, uint32_t tag, const char *s, size_t len);
void ttlv_enc_cstr(struct ttlv_enc *e, uint32_t tag, const char *s);
void ttlv_enc_bytes(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len);
/* Big Integer from big-endian two's complement bytes, sign-extended on the left to a multiple of 8. */
void ttlv_enc_bigint(struct ttlv_enc *e, uint32_t tag, const void *p, size_t len);
void ttlv_enc_datetime(struct ttlv_enc *e, uint32_t tag, int64_t seconds);
void ttlv_enc_interval(struct ttlv_enc *e, uint32_t tag, uint32_t seconds);
void ttlv_enc_datetime_ext(struct ttlv_enc *e, uint32_t tag, int64_t usec);
/* Encodes an item and everything under it. */
void ttlv_enc_item(struct ttlv_enc *e, const struct ttlv *item);
/* Appends items already encoded (by another encoder) as they are: len must be whole items. */
void ttlv_enc_raw(struct ttlv_enc *e, const void *p, size_t len);
/* 0 when every call succeeded and every Structure was closed, else -1 with errno set. */
int ttlv_enc_finish(struct ttlv_enc *e) TTLV_WUR;
/* Hands the buffer (malloc'd, *len bytes) to the caller, who must wipe and free it; the encoder is empty. */
uint8_t *ttlv_enc_detach(struct ttlv_enc *e, size_t *len);

/* A point in the output to return to, so a half-written payload can be dropped when an operation fails. */
struct ttlv_enc_mark {
	size_t len;
	unsigned depth;
	int error;
};
struct ttlv_enc_mark ttlv_enc_mark(const struct ttlv_enc *e);
/* Drops (and wipes) everything written after the mark, and any error raised after it. */
void ttlv_enc_rewind(struct ttlv_enc *e, struct ttlv_enc_mark m);

/*
 * Tag, enumeration and mask constants, generated as X-macros (see the .def files for their formats):
 * KMIP_TAG_UNIQUE_IDENTIFIER = 0x420094, KMIP_OBJECT_TYPE_SYMMETRIC_KEY = 2, KMIP_CRYPTOGRAPHIC_USAGE_MASK_ENCRYPT = 4.
 * BEGIN names-section (maintained with proto/names.c)
 */
enum kmip_tag {
#define KMIP_TAG(id, value, name, xml, version) KMIP_TAG_##id = value,
#include "proto/tags.def"
#undef KMIP_TAG
};

/* Enumeration values, KMIP_<TYPE>_<VALUE> (KMIP_OBJECT_TYPE_SYMMETRIC_KEY), and mask bits. */
enum kmip_enum_value {
#define KMIP_ENUM_BEGIN(type, name)
#define KMIP_ENUM_VALUE(type, id, value, name, xml) KMIP_##type##_##id = value,
#define KMIP_ENUM_END(type)
#define KMIP_ENUM_TAG(tag, type)
#define KMIP_ENUM_TAG_VALUED(tag)
#include "proto/enums.def"
#undef KMIP_ENUM_BEGIN
#undef KMIP_ENUM_VALUE
#undef KMIP_ENUM_END
#undef KMIP_ENUM_TAG
#undef KMIP_ENUM_TAG_VALUED
};

enum kmip_mask_bit {
#define KMIP_MASK_BEGIN(type, name)
#define KMIP_MASK_BIT(type, id, value, name, xml) KMIP_##type##_##id = value,
#define KMIP_MASK_END(type)
#define KMIP_MASK_TAG(tag, type)
#include "proto/masks.def"
#undef KMIP_MASK_BEGIN
#undef KMIP_MASK_BIT
#undef KMIP_MASK_END
#undef KMIP_MASK_TAG
};

/* The KMIP version that introduced tag, (major << 8) | minor (0x0100 for 1.0, 0x0201 for 2.1); 0 if unknown. */
unsigned ttlv_tag_version(uint32_t tag);
/* XML encoding spellings ("UniqueIdentifier", "SymmetricKey", "PKCS_1"); NULL when unknown. */
const char *ttlv_tag_xml_name(uint32_t tag);
const char *ttlv_enum_xml_name(uint32_t tag, uint32_t value);
/* Like ttlv_mask_str() with XML names separated by single spaces ("Encrypt Decrypt"). */
const char *ttlv_mask_xml_str(uint32_t tag, uint32_t value, char *buf, size_t size);
/*
 * KMIP 1.x carries attribute values under Attribute Value, named by the sibling Attribute Name: these
 * resolve an enumeration through the attribute's name ("Cryptographic Algorithm", any spelling that
 * ttlv_tag_by_name() accepts). NULL / -1 when the attribute or the value is unknown.
 */
const char *ttlv_enum_name_for_attribute(const char *attr_name, uint32_t value);
int ttlv_enum_by_attribute_name(const char *attr_name, const char *name, uint32_t *value) TTLV_WUR;
/* Checks that the tables are sorted and without duplicates (for tests): 0, or -1 with *what set. */
int ttlv_names_selfcheck(const char **what) TTLV_WUR;

/* ttlv_print_opts() flags: print key material and passwords instead of "<N bytes redacted>". */
#define TTLV_PRINT_SECRETS 0x1u
void ttlv_print_opts(FILE *out, const struct ttlv *item, unsigned flags);
/* END names-section */

/* Name tables (KMIP 1.0 to 2.1). NULL when unknown. */
const char *ttlv_type_name(uint8_t type);
/* "Unique Identifier" for 0x420094. */
const char *ttlv_tag_name(uint32_t tag);
/* 0 and *tag set when found; accepts the spec name or the name without spaces ("UniqueIdentifier"). */
int ttlv_tag_by_name(const char *name, uint32_t *tag) TTLV_WUR;
/* Name of an Enumeration value carried under tag, e.g. ttlv_enum_name(0x420057, 2) = "Symmetric Key". */
const char *ttlv_enum_name(uint32_t tag, uint32_t value);
/* 0 and *value set when found; same name rules as ttlv_tag_by_name. */
int ttlv_enum_by_name(uint32_t tag, const char *name, uint32_t *value) TTLV_WUR;
/* True when tag carries a bit mask (Cryptographic Usage Mask, Storage Status Mask, ...). */
bool ttlv_is_mask(uint32_t tag);
/* Writes the mask as names separated by " | " (unknown bits in hex) into buf; returns buf. */
const char *ttlv_mask_str(uint32_t tag, uint32_t value, char *buf, size_t size);
/* 0 and *value set when every space- or '|'-separated word names a bit of the tag's mask. */
int ttlv_mask_by_names(uint32_t tag, const char *names, uint32_t *value) TTLV_WUR;

/*
 * The message model: a request's header and batch items, read from a decoded tree, and the response
 * envelope written in the request's protocol version.
 */
#define KMIP_VERSION(major, minor) ((unsigned)(major) << 8 | (unsigned)(minor))
#define KMIP_VERSION_MAJOR(v) ((v) >> 8)
#define KMIP_VERSION_MINOR(v) ((v) & 0xff)

/* True for the protocol versions kmipd speaks: 1.0 to 1.4, 2.0 and 2.1. */
bool kmip_version_supported(unsigned version);

struct kmip_batch_item {
	uint32_t operation;		/* 0 when absent */
	const struct ttlv *id;		/* Unique Batch Item ID (Byte String), or NULL */
	const struct ttlv *payload;	/* Request Payload, or NULL */
	const struct ttlv *item;	/* the whole Batch Item */
};

struct kmip_request {
	unsigned version;		/* KMIP_VERSION(major, minor) as sent, even when unsupported */
	bool version_known;		/* a Protocol Version could be read */
	int32_t max_response_size;	/* 0: none */
	bool async_indicator;
	uint32_t batch_error_option;	/* Batch Error Continuation Option; Stop when absent */
	bool batch_order;
	const struct ttlv *authentication;
	const struct ttlv *header;
	uint32_t batch_count;		/* as announced in the header */
	struct kmip_batch_item *items;	/* in the message's arena */
	size_t nitems;
};

/* Why a request cannot be processed: a Result Reason and a sentence for the Result Message. */
struct kmip_error {
	uint32_t reason;
	char message[256];
};

/* Sets a Result Reason and a printf-formatted Result Message; returns -1 for the caller to pass on. */
int kmip_error_set(struct kmip_error *err, uint32_t reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reads a Request Message tree into req (items allocated in arena). Returns 0, or -1 with err set: Invalid
 * Message for a malformed header or batch, Protocol version mismatch semantics are left to the caller
 * (req->version and version_known are filled in as far as they could be read).
 */
int kmip_request_parse(const struct ttlv *root, struct ttlv_arena *arena, uint32_t max_items,
    struct kmip_request *req, struct kmip_error *err) TTLV_WUR;

/*
 * Response envelope. kmip_response_begin() opens the Response Message and writes its header with a Batch
 * Count of nitems; the caller then writes each batch item (kmip_response_item_begin/end or
 * kmip_response_item_error) and calls kmip_response_end(). kmip_response_set_count() corrects the Batch
 * Count when fewer items were answered (Batch Error Continuation Option Stop).
 */
struct kmip_response {
	struct ttlv_enc *enc;
	unsigned version;
	size_t count_offset;		/* where the Batch Count value sits in enc->buf */
};

void kmip_response_begin(struct kmip_response *r, struct ttlv_enc *enc, unsigned version, int64_t now,
    uint32_t nitems);
void kmip_response_set_count(struct kmip_response *r, uint32_t nitems);
/*
 * Opens a successful Batch Item and its Response Payload: the operation's output goes in between. Returns
 * where its Result Status value sits in the buffer, for kmip_response_set_status().
 */
size_t kmip_response_item_begin(struct kmip_response *r, const struct kmip_batch_item *item);
/* Rewrites a Result Status written earlier (Operation Undone for the items of an undone batch). */
void kmip_response_set_status(struct kmip_response *r, size_t offset, uint32_t status);
void kmip_response_item_end(struct kmip_response *r);
/* Writes a failed Batch Item (operation and id echoed when the request had them). */
void kmip_response_item_error(struct kmip_response *r, const struct kmip_batch_item *item,
    uint32_t status, const struct kmip_error *err);
void kmip_response_end(struct kmip_response *r);
/*
 * Writes a whole response of one failed Batch Item, for a request that could not be processed at all;
 * item may be NULL (no Operation or Unique Batch Item ID is echoed then).
 */
void kmip_response_error_message(struct ttlv_enc *enc, unsigned version, int64_t now,
    const struct kmip_batch_item *item, uint32_t status, const struct kmip_error *err);

/*
 * A small blocking client over TLS, for tools and tests. The caller builds the SSL_CTX (tls_client_ctx_new)
 * and may offer a saved session to resume. Reads return one whole response message at a time; responses
 * to pipelined requests are kept in order.
 */
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct kmip_client;

/* Connects and handshakes within timeout_ms. Returns 0 and *out, or -1 and a malloc'd *cause. */
int kmip_client_connect(struct ssl_ctx_st *ctx, const char *host, unsigned port,
    struct ssl_session_st *session, int timeout_ms, struct kmip_client **out, char **cause) TTLV_WUR;
/* Writes len raw bytes (a request, or anything a test wants to send). Returns 0, or -1 and *cause. */
int kmip_client_write(struct kmip_client *cl, const void *buf, size_t len, char **cause) TTLV_WUR;
/*
 * Reads one whole message. Returns 0 with the tree and its arena, or -1 and *cause; after -1,
 * kmip_client_eof() tells whether the server closed the connection cleanly.
 */
int kmip_client_read(struct kmip_client *cl, struct ttlv **root, struct ttlv_arena **arena, char **cause)
    TTLV_WUR;
bool kmip_client_eof(const struct kmip_client *cl);
/* Writes the encoded request and reads its response. */
int kmip_client_call(struct kmip_client *cl, const struct ttlv_enc *req, struct ttlv **root,
    struct ttlv_arena **arena, char **cause) TTLV_WUR;
struct ssl_st *kmip_client_ssl(struct kmip_client *cl);
int kmip_client_fd(const struct kmip_client *cl);
/* Sends close_notify (so the session stays resumable), closes and frees; NULL is accepted. */
void kmip_client_close(struct kmip_client *cl);

/* Prints an item as an indented tree: tag name (or hex), type, value, enumeration and mask names. */
void ttlv_print(FILE *out, const struct ttlv *item);

/*
 * KMIP XML encoding (proto/xml.c): the text form of TTLV that the OASIS profile test cases use. An element
 * per item, named after the tag ("UniqueIdentifier", or <TTLV tag="0x540001"> for a tag without a name),
 * with type= and value= attributes for a leaf and child elements for a Structure. A value is read in the
 * syntax of its type: decimal or 0x hex numbers, mask bit names separated by spaces, enumeration names
 * (named after the sibling Attribute Name under a KMIP 1.x Attribute Value), hex Byte Strings and Big
 * Integers, ISO 8601 dates with a time zone. A document is one item, or <KMIP> holding several (the test
 * cases' alternating Request and Response Messages).
 *
 * A value that is a placeholder ('$', capitals, digits and '_', optionally +N or -N: "$UNIQUE_IDENTIFIER_0",
 * "$NOW-3600") stands for what a server will choose. Its item keeps its type with a neutral value (zero,
 * empty, or the placeholder itself for a Text String) and the placeholder is recorded in the document's
 * side table: ttlv_xml_placeholder() finds it, ttlv_xml_print() writes it back.
 */
#define TTLV_XML_MAX_SIZE (16 * 1024 * 1024)	/* bytes of one document */
#define TTLV_XML_MAX_DEPTH 32			/* element nesting, the <KMIP> wrapper included */

struct ttlv_xml_placeholder {
	const struct ttlv *item;	/* the leaf that stands for it */
	const char *name;		/* "$UNIQUE_IDENTIFIER_0", as written; in the document's arena */
};

struct ttlv_xml_doc {
	struct ttlv_arena *arena;	/* owns every item and value */
	struct ttlv **items;		/* the children of <KMIP> in order, or the one root element */
	size_t nitems;
	struct ttlv_xml_placeholder *placeholders;	/* sorted by item address */
	size_t nplaceholders;
};

/*
 * Parses a document of len bytes (UTF-8, at most TTLV_XML_MAX_SIZE). Returns 0 and *out (free it with
 * ttlv_xml_doc_free), or -1 and a malloc'd *cause that names the line ("line 12: unknown element <Foo>").
 */
int ttlv_xml_parse(const char *buf, size_t len, struct ttlv_xml_doc **out, char **cause) TTLV_WUR;
/* Reads and parses a file; the cause starts with the path. */
int ttlv_xml_parse_file(const char *path, struct ttlv_xml_doc **out, char **cause) TTLV_WUR;
/* Frees a document and every item in it (wiped); NULL is accepted. */
void ttlv_xml_doc_free(struct ttlv_xml_doc *doc);
/* The placeholder that item stands for ("$NOW"), or NULL when it has a real value or doc is NULL. */
const char *ttlv_xml_placeholder(const struct ttlv_xml_doc *doc, const struct ttlv *item);
/*
 * Writes item and everything under it as KMIP XML, indented by two spaces per level starting at indent.
 * Placeholders of doc (which may be NULL) are written back in place of their neutral values. Key material
 * is written as it is: this is a test and tooling format. Returns 0, or -1 when writing failed.
 */
int ttlv_xml_print(FILE *out, const struct ttlv *item, const struct ttlv_xml_doc *doc, unsigned indent)
    TTLV_WUR;

#endif
