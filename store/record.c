/*
 * Records: a managed object in three parts, so that access checks read a fixed header, Locate reads clear
 * attributes, and the key material stays sealed until an operation needs it.
 *
 * Version 2 (written):
 *   header, 48 bytes:  'K' 'S' 2 48 | flags (bit 0: sealed) 0 0 0 | Object Type | State | sharing |
 *                      Material Format | Creation Sequence (8) | Revision (8) | data key id |
 *                      uid length (2) | owner length (2)          (all big-endian)
 *   identity:          uid bytes, owner bytes, zero padding to 8
 *   clear attributes:  the Attributes structure (0x420125), one TTLV item
 *   secret part:       sealed: IV (12) | AES-256-GCM ciphertext of the key material | tag (16), under the
 *                      data key named in the header; not sealed (store.encryption off, or a record of a
 *                      clear store not migrated yet): the material itself. Empty when there is none.
 * The GCM associated data binds the ciphertext to its object: data key id, Object Type, Material Format,
 * Cryptographic Algorithm (0 when absent), uid and owner. Sequence and revision are outside it: they are
 * filled in at commit without sealing again.
 *
 * Version 1 (read, from stores written before encryption; never written): 'K' 'S' 1 8 and four reserved
 * bytes, then one Structure 0x54FF00 with Unique Identifier, Owner (0x54FF01), Object Type, State, Creation
 * Sequence (0x54FF02), Revision (0x54FF05), Material Format (0x54FF03), Key Material (0x54FF04, in clear) and
 * Attributes. Migration turns them into sealed version 2 records.
 *
 * The revision is the store-wide write counter at the record's last write; records written before it
 * existed read as revision 0. Sequence and revision are fixed-size values whose place parsing reports, so
 * a record encoded while staged gets its final numbers at commit without being encoded again.
 *
 * Fixed fields are read in place (no allocation); only the Attributes structure is decoded into an arena,
 * and key material is opened only when the caller asks for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/decode.h"
#include "proto/encode.h"
#include "proto/names.h"
#include "proto/ttlv.h"
#include "store/store_int.h"

#define ATTRS_MAX_DEPTH	32
#define SELECT_BUF	1024	/* bytes of selected attributes copied on the stack to decode; more: all decoded */

struct raw_item {
	uint32_t tag;
	uint8_t type;
	uint32_t len;
	const uint8_t *val;
	size_t total;		/* header, value and padding */
};

/* Reads the item at p within avail bytes; -1 when it runs past the end or its length is malformed. */
static int
raw_item(const uint8_t *p, size_t avail, struct raw_item *it)
{
	size_t padded;

	if (avail < TTLV_HEADER_SIZE)
		return -1;
	it->tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	it->type = p[3];
	it->len = ttlv_get32(p + 4);
	padded = ((size_t)it->len + 7) & ~(size_t)7;
	if (padded > avail - TTLV_HEADER_SIZE)
		return -1;
	switch (it->type) {
	case TTLV_INTEGER:
	case TTLV_ENUMERATION:
	case TTLV_INTERVAL:
		if (it->len != 4)
			return -1;
		break;
	case TTLV_LONG_INTEGER:
	case TTLV_BOOLEAN:
	case TTLV_DATE_TIME:
	case TTLV_DATE_TIME_EXTENDED:
		if (it->len != 8)
			return -1;
		break;
	default:
		break;
	}
	it->val = p + TTLV_HEADER_SIZE;
	it->total = TTLV_HEADER_SIZE + padded;
	return 0;
}

/* Parses a version 1 record (see above) in place. */
static int
parse_v1(const uint8_t *p, size_t len, struct store_rec *r)
{
	struct raw_item top, it;
	size_t off, hdr = p[3];
	unsigned seen = 0;

	if (hdr < STORE_REC_V1_HDR || hdr > len)
		return STORE_E_CORRUPT;
	if (raw_item(p + hdr, len - hdr, &top) != 0 || top.tag != STAG_RECORD || top.type != TTLV_STRUCTURE)
		return STORE_E_CORRUPT;
	for (off = 0; off < top.len; off += it.total) {
		if (raw_item(top.val + off, top.len - off, &it) != 0)
			return STORE_E_CORRUPT;
		switch (it.tag) {
		case KMIP_TAG_UNIQUE_IDENTIFIER:
			if (it.type != TTLV_TEXT_STRING)
				return STORE_E_CORRUPT;
			r->uid = (const char *)it.val;
			r->uid_len = it.len;
			seen |= 1;
			break;
		case STAG_OWNER:
			if (it.type != TTLV_TEXT_STRING)
				return STORE_E_CORRUPT;
			r->owner = (const char *)it.val;
			r->owner_len = it.len;
			seen |= 2;
			break;
		case KMIP_TAG_OBJECT_TYPE:
			if (it.type != TTLV_ENUMERATION)
				return STORE_E_CORRUPT;
			r->object_type = ttlv_get32(it.val);
			seen |= 4;
			break;
		case KMIP_TAG_STATE:
			if (it.type != TTLV_ENUMERATION)
				return STORE_E_CORRUPT;
			r->state = ttlv_get32(it.val);
			seen |= 8;
			break;
		case STAG_SEQ:
			if (it.type != TTLV_LONG_INTEGER)
				return STORE_E_CORRUPT;
			r->seq = ttlv_get64(it.val);
			r->seq_off = (size_t)(it.val - p);
			seen |= 16;
			break;
		case STAG_REV:
			if (it.type != TTLV_LONG_INTEGER)
				return STORE_E_CORRUPT;
			r->rev = ttlv_get64(it.val);
			r->rev_off = (size_t)(it.val - p);
			break;
		case STAG_MATERIAL_FORMAT:
			if (it.type != TTLV_ENUMERATION)
				return STORE_E_CORRUPT;
			r->material_format = ttlv_get32(it.val);
			break;
		case STAG_MATERIAL:
			if (it.type != TTLV_BYTE_STRING)
				return STORE_E_CORRUPT;
			r->material = it.val;
			r->material_len = it.len;
			break;
		case KMIP_TAG_ATTRIBUTES:
			if (it.type != TTLV_STRUCTURE)
				return STORE_E_CORRUPT;
			r->attrs = top.val + off;
			r->attrs_len = it.total;
			break;
		default:
			break;	/* a field of a later version */
		}
	}
	if (seen != 31 || r->uid_len == 0 || r->uid_len > STORE_UID_MAX || r->owner_len > STORE_OWNER_MAX)
		return STORE_E_CORRUPT;
	r->sharing = STORE_SHARED;	/* not recorded then: whoever reads it must look at the attributes */
	return STORE_OK;
}

/* Parses a version 2 record (see above) in place. */
static int
parse_v2(const uint8_t *p, size_t len, struct store_rec *r)
{
	struct raw_item attrs;
	size_t off;

	if (len < STORE_REC_HDR || p[3] != STORE_REC_HDR || (p[4] & ~REC_F_SEALED) != 0)
		return STORE_E_CORRUPT;
	r->sealed = (p[4] & REC_F_SEALED) != 0;
	r->object_type = ttlv_get32(p + 8);
	r->state = ttlv_get32(p + 12);
	r->sharing = ttlv_get32(p + 16);
	r->material_format = ttlv_get32(p + 20);
	r->seq_off = 24;
	r->seq = ttlv_get64(p + r->seq_off);
	r->rev_off = 32;
	r->rev = ttlv_get64(p + r->rev_off);
	r->dek_id = ttlv_get32(p + 40);
	r->uid_len = (size_t)p[44] << 8 | p[45];
	r->owner_len = (size_t)p[46] << 8 | p[47];
	if (r->uid_len == 0 || r->uid_len > STORE_UID_MAX || r->owner_len > STORE_OWNER_MAX)
		return STORE_E_CORRUPT;
	off = STORE_REC_HDR + r->uid_len + r->owner_len;
	off = (off + 7) & ~(size_t)7;
	if (off > len)
		return STORE_E_CORRUPT;
	r->uid = (const char *)p + STORE_REC_HDR;
	r->owner = r->uid + r->uid_len;
	if (raw_item(p + off, len - off, &attrs) != 0 || attrs.tag != KMIP_TAG_ATTRIBUTES ||
	    attrs.type != TTLV_STRUCTURE)
		return STORE_E_CORRUPT;
	r->attrs = p + off;
	r->attrs_len = attrs.total;
	off += attrs.total;
	r->material = off < len ? p + off : NULL;
	r->material_len = len - off;
	if (r->sealed && r->material_len > 0 && r->material_len < STORE_IV_BYTES + STORE_TAG_BYTES)
		return STORE_E_CORRUPT;
	return STORE_OK;
}

/* Parses a record in place; STORE_E_CORRUPT when it is malformed or of an unknown (newer) version. */
int
store_rec_parse(const void *data, size_t len, struct store_rec *r)
{
	const uint8_t *p = data;

	memset(r, 0, sizeof(*r));
	if (len < STORE_REC_V1_HDR || p[0] != 'K' || p[1] != 'S')
		return STORE_E_CORRUPT;
	r->version = p[2];
	if (r->version == 1)
		return parse_v1(p, len, r);
	if (r->version == STORE_REC_VERSION)
		return parse_v2(p, len, r);
	return STORE_E_CORRUPT;
}

/* The object's Cryptographic Algorithm from the record's raw attributes, or 0. */
static uint32_t
rec_algorithm(const struct store_rec *r)
{
	struct raw_item attrs, it;
	size_t off;

	if (r->attrs == NULL || raw_item(r->attrs, r->attrs_len, &attrs) != 0)
		return 0;
	for (off = 0; off < attrs.len; off += it.total) {
		if (raw_item(attrs.val + off, attrs.len - off, &it) != 0)
			return 0;
		if (it.tag == KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM && it.type == TTLV_ENUMERATION)
			return ttlv_get32(it.val);
	}
	return 0;
}

/* The object's Cryptographic Algorithm from its attributes, or 0. */
static uint32_t
object_algorithm(const struct store_object *o)
{
	const struct ttlv *c;

	if (o->attrs == NULL)
		return 0;
	for (c = o->attrs->v.s.first; c != NULL; c = c->next)
		if (c->tag == KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM && c->type == TTLV_ENUMERATION)
			return c->v.u32;
	return 0;
}

/* True when the attributes carry an enumeration with this tag whose value differs from v. */
static bool
attr_enum_differs(const struct ttlv *attrs, uint32_t tag, uint32_t v)
{
	const struct ttlv *c;

	for (c = attrs->v.s.first; c != NULL; c = c->next)
		if (c->tag == tag && (c->type != TTLV_ENUMERATION || c->v.u32 != v))
			return true;
	return false;
}

/* Checks an object before it is written. */
static int
object_valid(const struct store_object *o)
{
	size_t n;

	/* An object read with only some of its attributes would lose the others. */
	if (o == NULL || o->uid == NULL || o->owner == NULL || o->partial)
		return STORE_E_INVALID;
	n = strlen(o->uid);
	if (n == 0 || n > STORE_UID_MAX || strlen(o->owner) > STORE_OWNER_MAX)
		return STORE_E_INVALID;
	if (o->material_len > 0 && o->material == NULL)
		return STORE_E_INVALID;
	if (o->material_len > STORE_RECORD_MAX)
		return STORE_E_INVALID;
	if (o->attrs != NULL) {
		if (o->attrs->tag != KMIP_TAG_ATTRIBUTES || o->attrs->type != TTLV_STRUCTURE)
			return STORE_E_INVALID;
		if (attr_enum_differs(o->attrs, KMIP_TAG_STATE, o->state) ||
		    attr_enum_differs(o->attrs, KMIP_TAG_OBJECT_TYPE, o->object_type))
			return STORE_E_INVALID;
	}
	return STORE_OK;
}

/*
 * Serializes an object with its creation sequence into a malloc'd buffer the caller wipes and frees, its
 * key material sealed under the store's current data key when the store encrypts. STORE_E_INVALID for a bad
 * object or one over STORE_RECORD_MAX.
 */
int
store_rec_encode(struct store *s, const struct store_object *o, uint64_t seq, uint8_t **buf, size_t *len)
{
	struct store_aad aad;
	struct ttlv_enc e;
	size_t uid_len, owner_len, ident, secret, total;
	bool sealed;
	uint8_t *out;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = object_valid(o)) != STORE_OK)
		return rc;
	uid_len = strlen(o->uid);
	owner_len = strlen(o->owner);
	sealed = store_sealing(s);
	ttlv_enc_init(&e);
	if (o->attrs != NULL)
		ttlv_enc_item(&e, o->attrs);
	else {
		ttlv_enc_begin(&e, KMIP_TAG_ATTRIBUTES);
		ttlv_enc_end(&e);
	}
	if (ttlv_enc_finish(&e) != 0) {
		rc = e.error == ENOMEM ? STORE_E_NOMEM : STORE_E_INVALID;
		goto fail;
	}
	ident = (STORE_REC_HDR + uid_len + owner_len + 7) & ~(size_t)7;
	secret = o->material_len == 0 ? 0 : o->material_len + (sealed ? STORE_IV_BYTES + STORE_TAG_BYTES : 0);
	total = ident + e.len + secret;
	if (e.len > STORE_RECORD_MAX || total > STORE_RECORD_MAX) {
		rc = STORE_E_INVALID;
		goto fail;
	}
	if ((out = calloc(1, total)) == NULL) {
		rc = STORE_E_NOMEM;
		goto fail;
	}
	out[0] = 'K';
	out[1] = 'S';
	out[2] = STORE_REC_VERSION;
	out[3] = STORE_REC_HDR;
	out[4] = sealed ? REC_F_SEALED : 0;
	ttlv_put32(out + 8, o->object_type);
	ttlv_put32(out + 12, o->state);
	ttlv_put32(out + 16, o->sharing);
	ttlv_put32(out + 20, o->material_format);
	ttlv_put64(out + 24, seq);
	out[44] = (uint8_t)(uid_len >> 8);
	out[45] = (uint8_t)uid_len;
	out[46] = (uint8_t)(owner_len >> 8);
	out[47] = (uint8_t)owner_len;
	memcpy(out + STORE_REC_HDR, o->uid, uid_len);
	memcpy(out + STORE_REC_HDR + uid_len, o->owner, owner_len);
	memcpy(out + ident, e.buf, e.len);
	if (secret > 0 && !sealed)
		memcpy(out + ident + e.len, o->material, o->material_len);
	else if (secret > 0) {
		aad.uid = o->uid;
		aad.uid_len = uid_len;
		aad.owner = o->owner;
		aad.owner_len = owner_len;
		aad.object_type = o->object_type;
		aad.format = o->material_format;
		aad.algorithm = object_algorithm(o);
		if ((rc = store_seal(s, &aad, o->material, o->material_len, out + ident + e.len)) != STORE_OK) {
			free(out);
			goto fail;
		}
		ttlv_put32(out + 40, aad.dek_id);
	}
	*buf = out;
	*len = total;
	ttlv_enc_free(&e);
	return STORE_OK;
fail:
	ttlv_enc_free(&e);
	return rc;
}

/* Decodes the record's Attributes into a new arena (an empty structure when the record has none). */
int
store_rec_decode_attrs(const struct store_rec *r, struct ttlv **attrs, struct ttlv_arena **arena)
{
	struct ttlv_limits lim = {
		.max_message_size = STORE_RECORD_MAX,
		.max_depth = ATTRS_MAX_DEPTH,
	};
	enum ttlv_err err;
	uint64_t off;

	*attrs = NULL;
	*arena = NULL;
	if (r->attrs == NULL) {
		if ((*arena = ttlv_arena_new()) == NULL)
			return STORE_E_NOMEM;
		if ((*attrs = ttlv_new_struct(*arena, KMIP_TAG_ATTRIBUTES)) == NULL) {
			ttlv_arena_free(*arena);
			*arena = NULL;
			return STORE_E_NOMEM;
		}
		return STORE_OK;
	}
	if (ttlv_decode(r->attrs, r->attrs_len, &lim, attrs, arena, &err, &off) != TTLV_DONE) {
		*attrs = NULL;
		*arena = NULL;
		return err == TTLV_ERR_NOMEM ? STORE_E_NOMEM : STORE_E_CORRUPT;
	}
	return STORE_OK;
}

/*
 * Decodes only the record's top-level attributes whose tags sel lists: their items are copied, in record
 * order, into one Attributes structure that is decoded as the whole one is (the same limits and checks),
 * skipping the decoding of every other attribute. *partial tells whether any was left out. When the
 * selected ones are larger than SELECT_BUF (never for a key's algorithm, length and flags), all are decoded.
 */
static int
rec_decode_selected(const struct store_rec *r, const struct store_select *sel, struct ttlv **attrs,
    struct ttlv_arena **arena, bool *partial)
{
	/* As for the whole Attributes: the decoder's arena, capped by this size, takes the material too. */
	struct ttlv_limits lim = {
		.max_message_size = STORE_RECORD_MAX,
		.max_depth = ATTRS_MAX_DEPTH,
	};
	uint8_t buf[SELECT_BUF];
	struct raw_item top, it;
	size_t off, k, n = TTLV_HEADER_SIZE;
	bool left_out = false;
	enum ttlv_err err;
	uint64_t at;

	*partial = false;
	if (r->attrs == NULL)
		return store_rec_decode_attrs(r, attrs, arena);
	*attrs = NULL;
	*arena = NULL;
	if (raw_item(r->attrs, r->attrs_len, &top) != 0 || top.type != TTLV_STRUCTURE)
		return STORE_E_CORRUPT;
	for (off = 0; off < top.len; off += it.total) {
		if (raw_item(top.val + off, top.len - off, &it) != 0)
			return STORE_E_CORRUPT;
		for (k = 0; k < sel->ntags && sel->tags[k] != it.tag; k++)
			;
		if (k == sel->ntags) {
			left_out = true;
			continue;
		}
		if (it.total > sizeof(buf) - n)
			return store_rec_decode_attrs(r, attrs, arena);
		memcpy(buf + n, top.val + off, it.total);
		n += it.total;
	}
	memcpy(buf, r->attrs, 4);	/* the Attributes tag and type */
	ttlv_put32(buf + 4, (uint32_t)(n - TTLV_HEADER_SIZE));
	if (ttlv_decode(buf, n, &lim, attrs, arena, &err, &at) != TTLV_DONE) {
		*attrs = NULL;
		*arena = NULL;
		return err == TTLV_ERR_NOMEM ? STORE_E_NOMEM : STORE_E_CORRUPT;
	}
	*partial = left_out;
	return STORE_OK;
}

/* Copies len bytes into the arena with a NUL after them. */
static char *
arena_strndup(struct ttlv_arena *a, const void *p, size_t len)
{
	char *s;

	if ((s = ttlv_arena_alloc(a, len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* Opens the key material of a record into m (r->material_len less IV and tag bytes when sealed). */
static int
rec_material(struct store *s, const struct store_rec *r, uint8_t *m)
{
	struct store_aad aad;

	if (!r->sealed) {
		memcpy(m, r->material, r->material_len);
		return STORE_OK;
	}
	aad.uid = r->uid;
	aad.uid_len = r->uid_len;
	aad.owner = r->owner;
	aad.owner_len = r->owner_len;
	aad.object_type = r->object_type;
	aad.format = r->material_format;
	aad.algorithm = rec_algorithm(r);
	aad.dek_id = r->dek_id;
	return store_unseal(s, &aad, r->material, r->material_len, m);
}

/*
 * Builds an object owned by one arena from a parsed record, with or without its key material, with the
 * attributes sel selects (NULL, or sel->all: every one).
 */
int
store_rec_to_object(struct store *s, const struct store_rec *r, bool with_material,
    const struct store_select *sel, struct store_object **out)
{
	size_t mlen;
	struct ttlv_arena *a;
	struct ttlv *attrs;
	struct store_object *o;
	bool partial = false;
	uint8_t *m;
	int rc;

	*out = NULL;
	if (sel != NULL && !sel->all)
		rc = rec_decode_selected(r, sel, &attrs, &a, &partial);
	else
		rc = store_rec_decode_attrs(r, &attrs, &a);
	if (rc != STORE_OK)
		return rc;
	if ((o = ttlv_arena_alloc(a, sizeof(*o))) == NULL)
		goto nomem;
	o->arena = a;
	o->attrs = attrs;
	o->object_type = r->object_type;
	o->state = r->state;
	o->material_format = r->material_format;
	o->record_version = r->version;
	o->sharing = r->sharing;
	o->created_seq = r->seq;
	o->partial = partial;
	if ((o->uid = arena_strndup(a, r->uid, r->uid_len)) == NULL ||
	    (o->owner = arena_strndup(a, r->owner, r->owner_len)) == NULL)
		goto nomem;
	if (with_material && r->material_len > 0) {
		mlen = r->sealed ? r->material_len - STORE_IV_BYTES - STORE_TAG_BYTES : r->material_len;
		if ((m = ttlv_arena_alloc(a, mlen > 0 ? mlen : 1)) == NULL)
			goto nomem;
		if ((rc = rec_material(s, r, m)) != STORE_OK) {
			ttlv_arena_free(a);
			return rc;
		}
		o->material = mlen > 0 ? m : NULL;
		o->material_len = mlen;
	}
	*out = o;
	return STORE_OK;
nomem:
	ttlv_arena_free(a);
	return STORE_E_NOMEM;
}

/* The index key of a text value: truncated to maxkey, and "\0" for the empty string (LMDB needs a byte). */
size_t
store_text_key(const char *s, size_t len, size_t maxkey, const uint8_t **key)
{
	static const uint8_t empty[1] = { 0 };

	if (len == 0) {
		*key = empty;
		return 1;
	}
	*key = (const uint8_t *)s;
	return len < maxkey ? len : maxkey;
}

/* Fills v with the entry's key. */
void
store_ientry_val(const struct store_ientry *e, MDB_val *v)
{
	if (e->inline_key) {
		v->mv_data = (void *)e->num;
		v->mv_size = 4;
	} else {
		v->mv_data = (void *)e->key;
		v->mv_size = e->len;
	}
}

struct ientries {
	struct store_ientry *v;
	size_t n, cap;
	size_t maxkey;
};

/* Appends an entry; -1 on ENOMEM. */
static int
ient_add(struct ientries *l, enum store_db db, const uint8_t *text, size_t len, bool num,
    uint32_t value)
{
	struct store_ientry *e, *nv;

	if ((nv = store_array_room(l->v, l->n, &l->cap, sizeof(*nv))) == NULL)
		return -1;
	l->v = nv;
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->db = db;
	if (num) {
		e->inline_key = 1;
		ttlv_put32(e->num, value);
	} else
		e->len = store_text_key((const char *)text, len, l->maxkey, &e->key);
	return 0;
}

/* The text value of the first child with this tag inside a raw structure item, or NULL. */
static const uint8_t *
raw_child_text(const struct raw_item *st, uint32_t tag, size_t *len)
{
	struct raw_item it;
	size_t off;

	for (off = 0; off < st->len; off += it.total) {
		if (raw_item(st->val + off, st->len - off, &it) != 0)
			return NULL;
		if (it.tag == tag && it.type == TTLV_TEXT_STRING) {
			*len = it.len;
			return it.val;
		}
	}
	return NULL;
}

/* Orders entries by index, then key bytes, then length. */
int
store_ientry_cmp(const void *a, const void *b)
{
	const struct store_ientry *x = a, *y = b;
	MDB_val kx, ky;
	int c;

	if (x->db != y->db)
		return x->db < y->db ? -1 : 1;
	store_ientry_val(x, &kx);
	store_ientry_val(y, &ky);
	c = memcmp(kx.mv_data, ky.mv_data, kx.mv_size < ky.mv_size ? kx.mv_size : ky.mv_size);
	if (c != 0)
		return c;
	return kx.mv_size < ky.mv_size ? -1 : kx.mv_size > ky.mv_size;
}

/*
 * Lists the index entries of a record (keys point into the record or into the entries): owner, object
 * type, state, every Name Value, Object Group and Linked Object Identifier; sorted with store_ientry_cmp
 * and without duplicates, so updates cost n log n however many names an object has. *out is malloc'd.
 */
int
store_rec_ientries(const struct store_rec *r, size_t maxkey, struct store_ientry **out, size_t *n)
{
	struct ientries l = { .maxkey = maxkey };
	struct raw_item attrs, it;
	const uint8_t *text;
	size_t off, tlen, i, j;

	*out = NULL;
	*n = 0;
	if (ient_add(&l, DB_IDX_OWNER, (const uint8_t *)r->owner, r->owner_len, false, 0) != 0 ||
	    ient_add(&l, DB_IDX_TYPE, NULL, 0, true, r->object_type) != 0 ||
	    ient_add(&l, DB_IDX_STATE, NULL, 0, true, r->state) != 0)
		goto nomem;
	if (r->attrs != NULL) {
		if (raw_item(r->attrs, r->attrs_len, &attrs) != 0)
			goto corrupt;
		for (off = 0; off < attrs.len; off += it.total) {
			if (raw_item(attrs.val + off, attrs.len - off, &it) != 0)
				goto corrupt;
			text = NULL;
			tlen = 0;
			if (it.tag == KMIP_TAG_NAME && it.type == TTLV_STRUCTURE) {
				if ((text = raw_child_text(&it, KMIP_TAG_NAME_VALUE, &tlen)) != NULL &&
				    ient_add(&l, DB_IDX_NAME, text, tlen, false, 0) != 0)
					goto nomem;
			} else if (it.tag == KMIP_TAG_LINK && it.type == TTLV_STRUCTURE) {
				if ((text = raw_child_text(&it, KMIP_TAG_LINKED_OBJECT_IDENTIFIER, &tlen)) != NULL &&
				    ient_add(&l, DB_IDX_LINK, text, tlen, false, 0) != 0)
					goto nomem;
			} else if (it.tag == KMIP_TAG_OBJECT_GROUP && it.type == TTLV_TEXT_STRING) {
				if (ient_add(&l, DB_IDX_GROUP, it.val, it.len, false, 0) != 0)
					goto nomem;
			}
		}
	}
	qsort(l.v, l.n, sizeof(*l.v), store_ientry_cmp);
	for (i = j = 0; i < l.n; i++) {
		if (j > 0 && store_ientry_cmp(&l.v[j - 1], &l.v[i]) == 0)
			continue;
		l.v[j++] = l.v[i];
	}
	*out = l.v;
	*n = j;
	return STORE_OK;
nomem:
	free(l.v);
	return STORE_E_NOMEM;
corrupt:
	free(l.v);
	return STORE_E_CORRUPT;
}

/* Returns a new object in its own arena with an empty Attributes structure, or NULL on ENOMEM. */
struct store_object *
store_object_new(void)
{
	struct ttlv_arena *a;
	struct store_object *o;

	if ((a = ttlv_arena_new()) == NULL)
		return NULL;
	if ((o = ttlv_arena_alloc(a, sizeof(*o))) == NULL ||
	    (o->attrs = ttlv_new_struct(a, KMIP_TAG_ATTRIBUTES)) == NULL) {
		ttlv_arena_free(a);
		return NULL;
	}
	o->arena = a;
	o->record_version = STORE_REC_VERSION;
	return o;
}

/* Copies uid and owner into the object's arena and sets its type and state. */
int
store_object_set(struct store_object *o, const char *uid, const char *owner, uint32_t object_type,
    uint32_t state)
{
	size_t ul, ol;
	char *u, *w;

	if (o == NULL || o->arena == NULL || uid == NULL || owner == NULL)
		return STORE_E_INVALID;
	ul = strlen(uid);
	ol = strlen(owner);
	if (ul == 0 || ul > STORE_UID_MAX || ol > STORE_OWNER_MAX)
		return STORE_E_INVALID;
	if ((u = arena_strndup(o->arena, uid, ul)) == NULL || (w = arena_strndup(o->arena, owner, ol)) == NULL)
		return STORE_E_NOMEM;
	o->uid = u;
	o->owner = w;
	o->object_type = object_type;
	o->state = state;
	return STORE_OK;
}

/* Copies key material into the object's arena (the previous copy is wiped). */
int
store_object_set_material(struct store_object *o, const void *p, size_t len, uint32_t format)
{
	uint8_t *m = NULL;

	if (o == NULL || o->arena == NULL || (len > 0 && p == NULL) || len > STORE_RECORD_MAX)
		return STORE_E_INVALID;
	if (len > 0) {
		if ((m = ttlv_arena_alloc(o->arena, len)) == NULL)
			return STORE_E_NOMEM;
		memcpy(m, p, len);
	}
	if (o->material != NULL && o->material_len > 0)
		explicit_bzero((void *)o->material, o->material_len);
	o->material = m;
	o->material_len = len;
	o->material_format = format;
	return STORE_OK;
}

/* Wipes and frees an object owned by its arena. */
void
store_object_free(struct store_object *o)
{
	if (o == NULL)
		return;
	ttlv_arena_free(o->arena);	/* the object lives in its arena */
}
