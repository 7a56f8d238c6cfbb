/*
 * Attributes: the version-neutral form kept in the store is a KMIP 2.x Attributes structure whose
 * children are the attributes, each under its own tag (Name, Cryptographic Algorithm, Link, ...); custom
 * attributes are Attribute structures of Vendor Identification, Attribute Name and Attribute Value (a 1.x
 * "x-name" is vendor "x", name "name"). These functions read attributes from requests (a 1.x Attribute
 * into the internal form for the request normaliser, versions.c; internal attribute sets for handlers) and
 * write them back in the version the client speaks, leaving out those its version does not know: the way
 * out for attribute forms.
 */
#ifndef KMIPD_ATTRS_H
#define KMIPD_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/encode.h"
#include "proto/message.h"
#include "proto/ttlv.h"

/* What a client may do with an attribute. */
#define ATTR_MULTI	0x01	/* several instances allowed */
#define ATTR_INIT	0x02	/* may be given when an object is created or registered */
#define ATTR_EDIT	0x04	/* may be added, modified or deleted later */
#define ATTR_SERVER	0x08	/* set by the server only; ignored in templates, refused in edits */
/* Not an attribute: a field of the object kept with its attributes (a Split Key's), never written as one. */
#define ATTR_FIELD	0x10

struct attr_def {
	uint32_t tag;
	uint8_t type;		/* expected TTLV type of the value */
	unsigned flags;
};

/* The definition of an attribute, or NULL when kmipd does not know it as an attribute. */
const struct attr_def *attr_def(uint32_t tag);
/* True when a client of this protocol version knows the attribute (vendor attributes always). */
bool attr_visible(uint32_t tag, unsigned version);

/*
 * Converts one 1.x Attribute structure (name, optional index, value) into an internal item allocated in
 * arena; *index receives the Attribute Index (0 when absent). NULL with err set when the name is unknown,
 * or the value has the wrong type.
 */
struct ttlv *attr_from_v1(struct ttlv_arena *arena, const struct ttlv *attribute, int32_t *index,
    struct kmip_error *err);
/* Checks that an internal (2.x style) attribute item is one kmipd knows, with a value of the right shape. */
int attr_check(const struct ttlv *item, struct kmip_error *err) __attribute__((warn_unused_result));

/*
 * Appends to dst (an Attributes structure) the client attributes of src, an attribute set in the internal
 * form: an Attributes structure (or Common/Private/Public Key Attributes) of 2.x attribute items. Server-set
 * attributes are skipped; a single-valued attribute given twice is an error. Returns 0, or -1 with err set.
 */
int attrs_from_request(struct ttlv_arena *arena, const struct ttlv *src, struct ttlv *dst, struct kmip_error *err)
    __attribute__((warn_unused_result));
/*
 * The same for a 1.x Template-Attribute (or Common/Private/Public Key Template-Attribute) of Attribute
 * structures: what the request normaliser turns a 1.x attribute set into. Returns 0, or -1 with err set.
 */
int attrs_from_v1(struct ttlv_arena *arena, const struct ttlv *src, struct ttlv *dst, struct kmip_error *err)
    __attribute__((warn_unused_result));

/*
 * The Attribute Index of each child of attrs (an Attributes structure), in order: how many instances of
 * the same attribute come before it. *index is malloc'd, *n entries (the number of children); O(n log n).
 * Returns 0, or -1 when out of memory.
 */
int attrs_instance_indexes(const struct ttlv *attrs, int32_t **index, size_t *n)
    __attribute__((warn_unused_result));

/*
 * A set of attribute kinds (a tag, or a custom attribute's vendor and name) to look items up in, in
 * O(log n): so that matching one set of attributes against another is never quadratic.
 */
struct attr_selection;
/* The kinds of the attributes of an Attributes structure (NULL: none). NULL when out of memory. */
struct attr_selection *attr_selection_of(const struct ttlv *attrs) __attribute__((warn_unused_result));
/*
 * The attributes a request payload names by 1.x Attribute Name or 2.x Attribute Reference (a tag, or a
 * custom attribute's vendor and name; the tag Attribute names every custom attribute). NULL when out of
 * memory. The payload must outlive the selection.
 */
struct attr_selection *attr_selection_named(const struct ttlv *payload) __attribute__((warn_unused_result));
/* True when item is of a kind in sel; when sel names nothing, empty_is_all. */
bool attr_selection_has(const struct attr_selection *sel, const struct ttlv *item, bool empty_is_all);
void attr_selection_free(struct attr_selection *sel);

/* Limits on one object's attributes (0: no limit), from server.max_attribute*. */
struct attrs_limits {
	unsigned max_attributes;	/* attribute instances, server-set ones included */
	unsigned max_attribute_values;	/* instances of one attribute (custom: of one vendor and name) */
	uint64_t max_attribute_bytes;	/* their encoded size, TTLV headers and padding included */
};
/*
 * Checks an object's Attributes against lim, in O(n log n). Returns 0, or -1 with err set to Server Limit
 * Exceeded and the limit's name.
 */
int attrs_check_limits(const struct ttlv *attrs, const struct attrs_limits *lim, struct kmip_error *err)
    __attribute__((warn_unused_result));

/* Writes one attribute in the client's version: 2.x as the item itself, 1.x as an Attribute structure. */
void attr_encode(struct ttlv_enc *e, unsigned version, const struct ttlv *item, int32_t index);

/* Which attributes of a set to write: true to write item. */
typedef bool (*attr_filter_fn)(const struct ttlv *item, void *arg);

/*
 * Writes the attributes of attrs that the client's version knows and keep accepts (keep NULL: all), in
 * order, 1.x with the Attribute Index of second and later instances. In 2.x they go inside an Attributes
 * structure, in 1.x as bare Attribute items.
 */
void attrs_encode(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep, void *arg);
/*
 * Writes a reference to each attribute of attrs that the client's version knows and keep accepts, once
 * however many instances it has: in 1.x its Attribute Name, in 2.x an Attribute Reference (the tag, or a
 * vendor attribute's Vendor Identification and Attribute Name).
 */
void attrs_encode_refs(struct ttlv_enc *e, unsigned version, const struct ttlv *attrs, attr_filter_fn keep,
    void *arg);
/* The 1.x Attribute Name of an internal item ("Cryptographic Length", "x-custom"), into buf. */
const char *attr_name(const struct ttlv *item, char *buf, size_t size);
/* True when item is the attribute a 1.x Attribute Name names ("Name", or "x-foo" for a custom one). */
bool attr_matches_name(const struct ttlv *item, const char *name);
/* True when a and b are instances of the same attribute (same tag; same vendor and name if custom). */
bool attr_same_kind(const struct ttlv *a, const struct ttlv *b);
/* The index-th instance in attrs of the attribute named name (1.x spelling), or NULL. */
struct ttlv *attrs_get_named(const struct ttlv *attrs, const char *name, int32_t index);
/* The index-th instance in attrs of the same attribute as like, or NULL. */
struct ttlv *attrs_get_like(const struct ttlv *attrs, const struct ttlv *like, int32_t index);
/* Counts the instances of the same attribute as like. */
unsigned attrs_count_like(const struct ttlv *attrs, const struct ttlv *like);
/* Removes the index-th instance of the attribute like (every instance when index < 0); returns how many. */
unsigned attrs_remove_like(struct ttlv *attrs, const struct ttlv *like, int32_t index);

/* Replaces every instance of tag in attrs with a copy of item (single-valued server attributes). */
int attrs_set(struct ttlv_arena *arena, struct ttlv *attrs, const struct ttlv *item)
    __attribute__((warn_unused_result));
int attrs_set_enum(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, uint32_t v)
    __attribute__((warn_unused_result));
int attrs_set_int(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, int32_t v)
    __attribute__((warn_unused_result));
int attrs_set_date(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, int64_t when)
    __attribute__((warn_unused_result));
int attrs_set_bool(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, bool v)
    __attribute__((warn_unused_result));
int attrs_set_text(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t tag, const char *s)
    __attribute__((warn_unused_result));
/* Appends a Link (type, target) to attrs. */
int attrs_add_link(struct ttlv_arena *arena, struct ttlv *attrs, uint32_t link_type, const char *target)
    __attribute__((warn_unused_result));
/* The index-th instance of tag in attrs, or NULL. */
struct ttlv *attrs_get(const struct ttlv *attrs, uint32_t tag, int32_t index);

#endif
