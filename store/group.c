/*
 * Transactions and the group: writes are staged in memory and applied at the group commit.
 *
 * A store transaction reads through the store's one LMDB read transaction (renewed at each begin) with the
 * group's staged writes laid over it: the newest staged write of a uid, kept in a hash table, hides the
 * durable record. A write transaction builds a change set: the records it writes (encoded once, here) and,
 * for every object it looked at, what it saw (absent, a durable revision, or a staged write). Its commit
 * appends the change set to the group; its abort takes its writes back out of the table. No LMDB write
 * transaction is open outside store_group_commit(), which applies the change sets in order in one write
 * transaction: a change set whose objects no longer are what it saw (another process wrote them, or a
 * change set it built on was itself skipped) is skipped whole and reported, and everyone who read its
 * writes with it. Nothing else of the group is affected.
 *
 * An Undo batch (store_batch_begin/end) is a savepoint over the list of change sets: dropping it pops the
 * change sets added since; keeping it marks them as one unit, applied all or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "proto/ttlv.h"
#include "store/store_int.h"

#define HASH_MIN		64
#define GROUP_MAX_BYTES		((size_t)256 << 20)	/* staged record bytes one group may hold */

/* FNV-1a of a uid. */
static size_t
uid_hash(const char *uid, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (uint8_t)uid[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static bool
same_uid(const struct store_staged *e, const char *uid, size_t len)
{
	return e->uid_len == len && memcmp(e->uid, uid, len) == 0;
}

/* The newest staged write of uid, or NULL. */
static struct store_staged *
hash_get(const struct store *s, const char *uid, size_t len)
{
	struct store_staged *e;

	if (s->hash_size == 0)
		return NULL;
	for (e = s->hash[uid_hash(uid, len) & (s->hash_size - 1)]; e != NULL; e = e->hnext)
		if (same_uid(e, uid, len))
			return e;
	return NULL;
}

/* Doubles the table (or makes it) when it is as full as it is long; -1 on ENOMEM. */
static int
hash_grow(struct store *s)
{
	struct store_staged **t, *e, *next;
	size_t n = s->hash_size == 0 ? HASH_MIN : s->hash_size * 2, i, b;

	if (s->hash_size != 0 && s->nstaged < s->hash_size)
		return 0;
	if ((t = calloc(n, sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < s->hash_size; i++) {
		for (e = s->hash[i]; e != NULL; e = next) {
			next = e->hnext;
			b = uid_hash(e->uid, e->uid_len) & (n - 1);
			e->hnext = t[b];
			t[b] = e;
		}
	}
	free(s->hash);
	s->hash = t;
	s->hash_size = n;
	return 0;
}

/* Unlinks the entry of e's uid from its bucket (it must be there). */
static void
hash_unlink(struct store *s, const struct store_staged *e)
{
	struct store_staged **pp = &s->hash[uid_hash(e->uid, e->uid_len) & (s->hash_size - 1)];

	while (*pp != NULL && !same_uid(*pp, e->uid, e->uid_len))
		pp = &(*pp)->hnext;
	if (*pp != NULL) {
		*pp = (*pp)->hnext;
		s->nstaged--;
	}
}

/* Makes e the newest staged write of its uid, hiding an older one; -1 on ENOMEM. */
static int
hash_push(struct store *s, struct store_staged *e)
{
	size_t b;

	if (hash_grow(s) != 0)
		return -1;
	e->older = hash_get(s, e->uid, e->uid_len);
	if (e->older != NULL)
		hash_unlink(s, e->older);
	b = uid_hash(e->uid, e->uid_len) & (s->hash_size - 1);
	e->hnext = s->hash[b];
	s->hash[b] = e;
	s->nstaged++;
	return 0;
}

/* Takes e (the newest of its uid) out of the table, showing the write it hid again. */
static void
hash_pop(struct store *s, struct store_staged *e)
{
	size_t b;

	hash_unlink(s, e);
	if (e->older != NULL) {
		b = uid_hash(e->older->uid, e->older->uid_len) & (s->hash_size - 1);
		e->older->hnext = s->hash[b];
		s->hash[b] = e->older;
		s->nstaged++;
	}
}

static void
staged_free(struct store_staged *e)
{
	store_usage_effect_free(e);
	if (e->rec != NULL) {
		explicit_bzero(e->rec, e->rec_len);
		free(e->rec);
	}
	free(e);
}

/* Frees a change set and what it owns (its writes must be out of the table). */
static void
cs_free(struct store_cs *cs)
{
	struct store_staged *e, *en;
	struct store_check *c, *cn;
	struct store_limit *l, *ln;
	struct store_reader *r, *rn;

	if (cs == NULL)
		return;
	for (e = cs->first; e != NULL; e = en) {
		en = e->next;
		staged_free(e);
	}
	for (c = cs->checks; c != NULL; c = cn) {
		cn = c->next;
		free(c);
	}
	for (l = cs->limits; l != NULL; l = ln) {
		ln = l->next;
		free(l);
	}
	for (r = cs->readers; r != NULL; r = rn) {
		rn = r->next;
		free(r);
	}
	free(cs);
}

/* Takes a change set's writes out of the table, newest first, and frees it. */
static void
cs_drop(struct store *s, struct store_cs *cs)
{
	struct store_staged *e;

	for (e = cs->last; e != NULL; e = e->prev) {
		hash_pop(s, e);
		store_usage_group_add(s, e, -1);
	}
	s->group_bytes -= s->group_bytes >= cs->bytes ? cs->bytes : s->group_bytes;
	cs_free(cs);
}

/* Frees the whole group: every change set, the table; the staged writes are gone (see store_close). */
void
store_group_free(struct store *s)
{
	struct store_cs *cs, *next;

	for (cs = s->cs_first; cs != NULL; cs = next) {
		next = cs->next;
		cs_free(cs);
	}
	s->cs_first = s->cs_last = NULL;
	free(s->hash);
	s->hash = NULL;
	s->hash_size = 0;
	s->nstaged = 0;
	s->group_bytes = 0;
	s->batch = false;
	store_usage_group_free(s);
}

/* Takes the group's change sets out of the store; see store_int.h. */
struct store_cs *
store_group_detach(struct store *s)
{
	struct store_cs *first = s->cs_first;

	s->cs_first = s->cs_last = NULL;
	store_group_free(s);
	return first;
}

/* Frees a list of change sets taken by store_group_detach. */
void
store_cs_free_list(struct store_cs *cs)
{
	struct store_cs *next;

	for (; cs != NULL; cs = next) {
		next = cs->next;
		cs_free(cs);
	}
}

/* Notes the store's current owner as a reader of e's change set (once in a row). */
static void
note_reader(struct store *s, struct store_cs *cs)
{
	struct store_reader *r;

	if (s->owner == 0 || (cs->owner == s->owner && cs->item == s->owner_item))
		return;
	if (cs->readers != NULL && cs->readers->owner == s->owner && cs->readers->item == s->owner_item)
		return;
	/* Without memory for the note the reader would miss a failure: take the safe side, skip the writes. */
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		cs->poisoned = true;
		return;
	}
	r->owner = s->owner;
	r->item = s->owner_item;
	r->next = cs->readers;
	cs->readers = r;
}

/* The newest staged write of uid; see store_int.h. */
const struct store_staged *
store_staged_find(struct store_txn *t, const char *uid, size_t uid_len)
{
	struct store_staged *e = hash_get(t->s, uid, uid_len);

	if (e != NULL && e->cs != t->cs)
		note_reader(t->s, e->cs);
	return e;
}

const struct store_staged *
store_staged_get(const struct store *s, const char *uid, size_t uid_len)
{
	return hash_get(s, uid, uid_len);
}

void
store_staged_read(struct store_txn *t, const struct store_staged *e)
{
	if (e->cs != t->cs)
		note_reader(t->s, e->cs);
}

/* Calls fn for the newest staged write of every uid; see store_int.h. */
int
store_staged_each(struct store *s, int (*fn)(const struct store_staged *e, void *arg), void *arg)
{
	struct store_staged *e;
	size_t i;
	int rc;

	for (i = 0; i < s->hash_size; i++)
		for (e = s->hash[i]; e != NULL; e = e->hnext)
			if ((rc = fn(e, arg)) != 0)
				return rc;
	return 0;
}

/* Sets who the following transactions work for; see store.h. */
void
store_set_owner(struct store *s, uint64_t owner, uint32_t item)
{
	s->owner = owner;
	s->owner_item = item;
}

/*
 * A provisional creation sequence for a record staged in t: above every durable one t's snapshot holds
 * (other processes' commits included) and every one handed out in the group, so that staged creations
 * sort as the newest. Another process may hand out the same numbers: harmless, since a provisional
 * sequence is seen only by its own process and never written (the commit draws the final one from the
 * durable counter inside its write transaction, which the writer lock makes unique).
 */
static int
provisional_seq(struct store_txn *t, uint64_t *seq)
{
	struct store *s = t->s;
	uint64_t durable;
	int rc;

	if ((rc = store_meta_get(t, "seq", &durable)) != STORE_OK)
		return rc;
	if (durable > s->seq_last)
		s->seq_last = durable;
	if (s->seq_last == UINT64_MAX)
		return STORE_E_FULL;
	*seq = ++s->seq_last;
	return STORE_OK;
}

/* Begins a transaction: see store.h. */
int
store_txn_begin(struct store *s, bool write, struct store_txn **out)
{
	struct store_txn *t = &s->slot;
	struct store_cs *cs = NULL;
	int rc;

	*out = NULL;
	if (s->open)
		return STORE_E_BUSY;
	if (write && s->read_only)
		return STORE_E_READONLY;
	if (s->want_grow)
		(void)store_grow(s, false);
	if (write && (cs = calloc(1, sizeof(*cs))) == NULL)
		return STORE_E_NOMEM;
	if ((rc = store_read_begin(s)) != STORE_OK) {
		free(cs);
		return rc;
	}
	/*
	 * A write seals under the current data key: another process may have rotated it. When the new
	 * keyring cannot be opened here (a data key wrapped only under a master key this process has not
	 * reloaded yet), the write goes on under the keys in use: a record sealed under a key the keyring still
	 * holds is kept at the commit, one under a retired key is a conflict; s->err says why.
	 */
	if (write && s->keys != NULL && store_keys_refresh(s, s->rtxn) != STORE_OK)
		s->keys_stale = true;
	memset(t, 0, sizeof(*t));
	t->s = s;
	t->txn = s->rtxn;
	t->write = write;
	if (write) {
		cs->owner = s->owner;
		cs->item = s->owner_item;
		cs->unit = s->batch ? s->batch_unit : 0;
		t->cs = cs;
	}
	s->open = true;
	*out = t;
	return STORE_OK;
}

/* Ends a transaction; a write's staged changes are dropped unless they were handed to the group. */
static void
txn_end(struct store_txn *t)
{
	struct store *s = t->s;

	if (t->cs != NULL) {
		cs_drop(s, t->cs);
		t->cs = NULL;
	}
	store_read_end(s);
	t->txn = NULL;
	s->open = false;
}

void
store_txn_abort(struct store_txn *t)
{
	if (t == NULL || t->txn == NULL)
		return;
	txn_end(t);
}

static int apply_group(struct store *s, store_conflict_fn fn, void *arg);

/* Commits a transaction: see store.h. */
int
store_txn_commit(struct store_txn *t)
{
	struct store *s;
	struct store_cs *cs;
	uint64_t conflicts;
	int rc;

	if (t == NULL || t->txn == NULL)
		return STORE_E_INVALID;
	s = t->s;
	if (t->failed != STORE_OK) {
		rc = t->failed;
		txn_end(t);
		return rc;
	}
	/* A read, or a write that changed nothing: nothing for the group. */
	if ((cs = t->cs) == NULL || cs->first == NULL) {
		txn_end(t);
		return STORE_OK;
	}
	t->cs = NULL;
	txn_end(t);
	cs->prev = s->cs_last;
	if (s->cs_last != NULL)
		s->cs_last->next = cs;
	else
		s->cs_first = cs;
	s->cs_last = cs;
	s->group_bytes += cs->bytes;
	if (s->group_commit)
		return STORE_OK;
	/* Without group commit the change set is applied now, durably, on its own. */
	conflicts = s->n_conflicts;
	rc = apply_group(s, NULL, NULL);
	if (rc == STORE_OK && s->n_conflicts != conflicts)
		rc = STORE_E_CONFLICT;
	return rc;
}

/* Checks that a write may be staged through this transaction. */
static int
writable(struct store_txn *t)
{
	if (!t->write || t->applying)
		return STORE_E_READONLY;
	return t->failed;
}

/*
 * Records, once per transaction and object, what a write transaction saw of uid: the staged write e, or
 * the durable record's revision, or nothing.
 */
static int
see(struct store_txn *t, const char *uid, size_t uid_len, const struct store_staged *e, bool found, uint64_t rev)
{
	struct store_check *c;

	if (t->cs == NULL || (e != NULL && e->cs == t->cs))
		return STORE_OK;
	for (c = t->cs->checks; c != NULL; c = c->next)
		if (c->uid_len == uid_len && memcmp(c->uid, uid, uid_len) == 0)
			return STORE_OK;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return t->failed = STORE_E_NOMEM;
	c->seen = e != NULL ? SEEN_STAGED : found ? SEEN_REV : SEEN_ABSENT;
	c->staged = e;
	c->rev = rev;
	c->uid_len = uid_len;
	memcpy(c->uid, uid, uid_len);
	c->next = t->cs->checks;
	t->cs->checks = c;
	return STORE_OK;
}

/*
 * Finds what uid is now, for a read or a write: the newest staged write (*e), else the durable record
 * (*found, its revision and sequence). A write transaction remembers it as seen.
 */
static int
lookup(struct store_txn *t, const char *uid, size_t uid_len, const struct store_staged **e, bool *found,
    uint64_t *seq)
{
	uint64_t rev = 0;
	int rc;

	*found = false;
	*seq = 0;
	if ((*e = store_staged_find(t, uid, uid_len)) != NULL) {
		*seq = (*e)->seq;
		return see(t, uid, uid_len, *e, false, 0);
	}
	if ((rc = store_peek(t, uid, uid_len, found, &rev, seq)) != STORE_OK)
		return rc;
	return see(t, uid, uid_len, NULL, *found, rev);
}

/* Adds a staged write to the transaction's change set and the table. */
static int
stage(struct store_txn *t, struct store_staged *e, size_t bytes)
{
	struct store *s = t->s;
	struct store_cs *cs = t->cs;

	if (s->group_bytes + cs->bytes + bytes > GROUP_MAX_BYTES) {
		staged_free(e);
		snprintf(s->err, sizeof(s->err), "a group of writes holds more than %zu MiB", GROUP_MAX_BYTES >> 20);
		return t->failed = STORE_E_TXNFULL;
	}
	if (store_no_room(s, s->group_bytes + cs->bytes + bytes)) {
		staged_free(e);
		return t->failed = STORE_E_FULL;
	}
	if (store_usage_group_reserve(s, e) != STORE_OK || hash_push(s, e) != 0) {
		staged_free(e);
		return t->failed = STORE_E_NOMEM;
	}
	store_usage_group_add(s, e, 1);
	e->cs = cs;
	e->prev = cs->last;
	if (cs->last != NULL)
		cs->last->next = e;
	else
		cs->first = e;
	cs->last = e;
	cs->bytes += bytes;
	return STORE_OK;
}

/*
 * The record a write replaces as t sees it (*have false when none): the staged write old (NULL when none
 * is staged), else the durable record when found. r points into the record until t ends.
 */
static int
replaced(struct store_txn *t, const struct store_staged *old, bool found, const char *uid, size_t uid_len,
    struct store_rec *r, size_t *len, bool *have)
{
	MDB_val k = { uid_len, (void *)uid }, v;
	int rc;

	*have = false;
	*len = 0;
	if (old != NULL) {
		if (old->deleted)
			return STORE_OK;
		if ((rc = store_rec_parse(old->rec, old->rec_len, r)) != STORE_OK)
			return rc;
		*len = old->rec_len;
	} else if (found) {
		if ((rc = store_db_get(t, DB_OBJ, &k, &v)) != STORE_OK ||
		    (rc = store_rec_parse(v.mv_data, v.mv_size, r)) != STORE_OK)
			return rc;
		*len = v.mv_size;
	} else {
		return STORE_OK;
	}
	*have = true;
	return STORE_OK;
}

/* Stages an insert or replace: see store.h. */
int
store_put(struct store_txn *t, const struct store_object *o)
{
	const struct store_staged *old;
	struct store_ientry *ie = NULL;
	struct store_staged *e;
	struct store_rec r, orec;
	size_t uid_len, nie = 0, olen;
	bool found, have;
	uint64_t seq;
	int rc;

	if (t == NULL || o == NULL || o->uid == NULL)
		return STORE_E_INVALID;
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	uid_len = strlen(o->uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_INVALID;
	if ((rc = lookup(t, o->uid, uid_len, &old, &found, &seq)) != STORE_OK)
		return rc;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return t->failed = STORE_E_NOMEM;
	if (old != NULL && !old->deleted) {
		e->create = old->create;
	} else if (old == NULL && found) {
		e->create = false;
	} else {
		/* New (or re-created after a staged deletion): a provisional place in creation order. */
		if ((rc = provisional_seq(t, &seq)) != STORE_OK) {
			free(e);
			return rc;
		}
		e->create = true;
	}
	e->seq = seq;
	e->uid_len = uid_len;
	memcpy(e->uid, o->uid, uid_len);
	/* Encoded once, checked whole (the record and its index keys) so that applying it cannot refuse it. */
	if ((rc = store_rec_encode(t->s, o, seq, &e->rec, &e->rec_len)) != STORE_OK ||
	    (rc = store_rec_parse(e->rec, e->rec_len, &r)) != STORE_OK ||
	    (rc = store_rec_ientries(&r, t->s->maxkey, &ie, &nie)) != STORE_OK) {
		staged_free(e);
		return rc;
	}
	free(ie);
	e->dek_id = r.sealed && r.material_len > 0 ? r.dek_id : 0;
	/* What it changes in its owner's usage, counted in the group while it is staged. */
	if ((rc = replaced(t, old, found, o->uid, uid_len, &orec, &olen, &have)) != STORE_OK ||
	    (rc = store_usage_effect(e, have ? &orec : NULL, olen, &r, e->rec_len)) != STORE_OK) {
		staged_free(e);
		return t->failed = rc;
	}
	/* The record, an index entry per key, and a page the change copies. */
	return stage(t, e, e->rec_len + nie * 64 + t->s->page_size);
}

/* Stages a removal: see store.h. */
int
store_delete(struct store_txn *t, const char *uid)
{
	const struct store_staged *old;
	struct store_staged *e;
	struct store_rec orec;
	size_t uid_len, olen;
	bool found, have;
	uint64_t seq;
	int rc;

	if (t == NULL || uid == NULL)
		return STORE_E_INVALID;
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_NOTFOUND;
	if ((rc = lookup(t, uid, uid_len, &old, &found, &seq)) != STORE_OK)
		return rc;
	if (old != NULL ? old->deleted : !found)
		return STORE_E_NOTFOUND;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return t->failed = STORE_E_NOMEM;
	e->deleted = true;
	e->seq = seq;
	e->uid_len = uid_len;
	memcpy(e->uid, uid, uid_len);
	if ((rc = replaced(t, old, found, uid, uid_len, &orec, &olen, &have)) != STORE_OK ||
	    (rc = store_usage_effect(e, have ? &orec : NULL, olen, NULL, 0)) != STORE_OK) {
		staged_free(e);
		return t->failed = rc;
	}
	return stage(t, e, t->s->page_size);
}

/* Asks check about a parsed record's header. */
static int
header_check(const struct store_rec *r, store_header_fn check, void *arg)
{
	struct store_header h;

	if (check == NULL)
		return STORE_OK;
	h.owner = r->owner;
	h.owner_len = r->owner_len;
	h.object_type = r->object_type;
	h.state = r->state;
	h.sharing = r->sharing;
	/* store_rec_parse made sure a sealed part holds at least its IV and tag. */
	h.material_len = r->sealed && r->material_len > 0 ? r->material_len - STORE_IV_BYTES - STORE_TAG_BYTES :
	    r->material_len;
	return check(arg, &h);
}

/*
 * Reads an object, staged or durable, with or without its material, when check lets it, with the attributes
 * sel selects (NULL: all).
 */
static int
get_object(struct store_txn *t, const char *uid, bool material, store_header_fn check, void *arg,
    const struct store_select *sel, struct store_object **out)
{
	const struct store_staged *e;
	struct store_rec r;
	MDB_val k, v;
	size_t uid_len;
	bool found;
	uint64_t seq;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (t == NULL || uid == NULL || out == NULL)
		return STORE_E_INVALID;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_NOTFOUND;
	if (t->cs != NULL) {
		/* A write transaction remembers what it saw. */
		if ((rc = lookup(t, uid, uid_len, &e, &found, &seq)) != STORE_OK)
			return rc;
	} else {
		e = store_staged_find(t, uid, uid_len);
	}
	if (e != NULL) {
		if (e->deleted)
			return STORE_E_NOTFOUND;
		if ((rc = store_rec_parse(e->rec, e->rec_len, &r)) != STORE_OK)
			return rc;
	} else {
		k.mv_data = (void *)uid;
		k.mv_size = uid_len;
		if ((rc = store_db_get(t, DB_OBJ, &k, &v)) != STORE_OK)
			return rc;
		if ((rc = store_rec_parse(v.mv_data, v.mv_size, &r)) != STORE_OK) {
			snprintf(t->s->err, sizeof(t->s->err), "record %s is corrupt", uid);
			return rc;
		}
	}
	if ((rc = header_check(&r, check, arg)) != STORE_OK)
		return rc;
	return store_rec_to_object(t->s, &r, material, sel, out);
}

int
store_get(struct store_txn *t, const char *uid, struct store_object **out)
{
	return get_object(t, uid, true, NULL, NULL, NULL, out);
}

int
store_get_meta(struct store_txn *t, const char *uid, struct store_object **out)
{
	return get_object(t, uid, false, NULL, NULL, NULL, out);
}

int
store_get_checked(struct store_txn *t, const char *uid, bool material, store_header_fn check, void *arg,
    struct store_object **out)
{
	return get_object(t, uid, material, check, arg, NULL, out);
}

int
store_get_select(struct store_txn *t, const char *uid, bool material, store_header_fn check, void *arg,
    struct store_select *sel, struct store_object **out)
{
	return get_object(t, uid, material, check, arg, sel, out);
}

/*
 * Writes a new identifier: a UUID (RFC 9562, version 7: the time in milliseconds, then 74 random bits) in
 * lowercase text; see store.h. Not counted: nothing in the store remembers it, so a restored older copy
 * cannot hand it out again. Time first, so that new records go at the end of the object table, on the same
 * few pages, rather than each on a random page as with version 4.
 */
int
store_new_uid(struct store_txn *t, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	struct timespec ts;
	const char *why;
	uint8_t r[16];
	uint64_t ms;
	size_t i, o = 0;
	int rc;

	if (t == NULL || buf == NULL || size == 0)
		return STORE_E_INVALID;
	buf[0] = '\0';
	if ((rc = writable(t)) != STORE_OK)
		return rc;
	if (size < STORE_UUID_LEN + 1)
		return STORE_E_INVALID;
	if (RAND_bytes(r, sizeof(r)) != 1) {
		why = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(t->s->err, sizeof(t->s->err), "no random identifier: RAND_bytes: %s",
		    why != NULL ? why : "failed");
		ERR_clear_error();	/* left in the queue, it would be taken for a TLS connection's own */
		return STORE_E_IO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < 6; i++)
		r[i] = (uint8_t)(ms >> (40 - 8 * i));
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x70);	/* version 7 */
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);	/* variant 10xx */
	for (i = 0; i < sizeof(r); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[r[i] >> 4];
		buf[o++] = hex[r[i] & 0x0f];
	}
	buf[o] = '\0';
	return STORE_OK;
}

/* The creation sequence of uid as t sees it, staged or durable; see store.h. */
int
store_created_seq(struct store_txn *t, const char *uid, uint64_t *seq)
{
	const struct store_staged *e;
	size_t uid_len;
	bool found;
	int rc;

	if (seq != NULL)
		*seq = 0;
	if (t == NULL || uid == NULL || seq == NULL)
		return STORE_E_INVALID;
	uid_len = strlen(uid);
	if (uid_len == 0 || uid_len > STORE_UID_MAX)
		return STORE_E_NOTFOUND;
	if ((rc = lookup(t, uid, uid_len, &e, &found, seq)) != STORE_OK)
		return rc;
	if (e != NULL ? e->deleted : !found) {
		*seq = 0;
		return STORE_E_NOTFOUND;
	}
	return STORE_OK;
}

/* True when what a change set saw of every object still holds in w (earlier change sets applied). */
static int
checks_hold(struct store_txn *w, struct store_cs *cs, bool *hold)
{
	struct store_check *c;
	uint64_t rev, seq;
	bool found, ok;
	int rc;

	*hold = true;
	for (c = cs->checks; c != NULL; c = c->next) {
		if ((rc = store_peek(w, c->uid, c->uid_len, &found, &rev, &seq)) != STORE_OK)
			return rc;
		switch (c->seen) {
		case SEEN_ABSENT:
			ok = !found;
			break;
		case SEEN_REV:
			ok = found && rev == c->rev;
			break;
		default:
			/* Built on a staged write: that write must have been applied, and nothing after it. */
			ok = c->staged->applied_rev != 0 &&
			    (c->staged->deleted ? !found : found && rev == c->staged->applied_rev);
			break;
		}
		if (!ok) {
			*hold = false;
			memcpy(cs->conflict_uid, c->uid, c->uid_len);
			cs->conflict_uid[c->uid_len] = '\0';
			return STORE_OK;
		}
	}
	return STORE_OK;
}

/*
 * True when the change set's quotas hold in w (earlier change sets, and every process's commits, counted
 * in the durable counters): what the owner owns plus what the change set adds stays within each limit.
 */
int
store_limits_hold(struct store_txn *w, struct store_cs *cs, bool *hold)
{
	const struct store_limit *l;
	struct store_usage_delta d;
	struct store_usage u;
	struct store_txn view;
	int rc;

	*hold = true;
	if (cs->limits == NULL || !w->s->usage_valid)
		return STORE_OK;
	/* The change set's own delta, as store_txn_usage_delta computes it for a transaction. */
	memset(&view, 0, sizeof(view));
	view.s = w->s;
	view.cs = cs;
	for (l = cs->limits; l != NULL; l = l->next) {
		if ((rc = store_usage_durable(w, l->owner, l->len, &u)) != STORE_OK ||
		    (rc = store_txn_usage_delta(&view, l->owner, &d)) != STORE_OK)
			return rc;
		if ((l->max_objects != 0 && d.objects > 0 && u.objects + (uint64_t)d.objects > l->max_objects) ||
		    (l->max_bytes != 0 && d.bytes > 0 && u.bytes + (uint64_t)d.bytes > l->max_bytes)) {
			*hold = false;
			if (cs->first != NULL)
				snprintf(cs->conflict_uid, sizeof(cs->conflict_uid), "%s", cs->first->uid);
			return STORE_OK;
		}
	}
	return STORE_OK;
}

/* True when data key id is in the keyring as the commit sees it. */
static bool
dek_known(const struct store_dek_ids *ids, uint32_t id)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		if (ids->id[i] == id)
			return true;
	return false;
}

/*
 * True when every record of the change set is sealed under a data key the keyring still holds as the
 * commit sees it: another process may have retired the one this process sealed under. *stale counts the
 * records sealed under a key that is no longer the current one (they keep a re-encryption pass going).
 */
static bool
deks_hold(struct store_cs *cs, const struct store_dek_ids *ids, uint64_t *stale)
{
	const struct store_staged *e;
	uint64_t n = 0;

	for (e = cs->first; e != NULL; e = e->next) {
		if (e->deleted || e->dek_id == 0 || e->dek_id == ids->current)
			continue;
		if (!dek_known(ids, e->dek_id)) {
			snprintf(cs->conflict_uid, sizeof(cs->conflict_uid), "%s", e->uid);
			return false;
		}
		n++;
	}
	*stale += n;
	return true;
}

/* Marks a write transaction's change set best effort: see store.h. */
int
store_txn_best_effort(struct store_txn *t)
{
	if (t == NULL)
		return STORE_E_INVALID;
	if (t->cs == NULL)
		return STORE_E_READONLY;
	t->cs->best_effort = true;
	return STORE_OK;
}

/* Holds a write transaction's change set to a quota at the group commit too: see store.h. */
int
store_txn_usage_limit(struct store_txn *t, const char *owner, uint64_t max_objects, uint64_t max_bytes)
{
	struct store_limit *l;
	size_t len;

	if (t == NULL || owner == NULL)
		return STORE_E_INVALID;
	if (t->cs == NULL)
		return STORE_E_READONLY;
	if (max_objects == 0 && max_bytes == 0)
		return STORE_OK;
	len = strlen(owner);
	for (l = t->cs->limits; l != NULL; l = l->next) {
		if (l->len == len && memcmp(l->owner, owner, len) == 0) {
			l->max_objects = max_objects;
			l->max_bytes = max_bytes;
			return STORE_OK;
		}
	}
	if (len > STORE_OWNER_MAX)
		return STORE_E_INVALID;
	if ((l = calloc(1, sizeof(*l) + len + 1)) == NULL)
		return t->failed = STORE_E_NOMEM;
	memcpy(l->owner, owner, len);
	l->len = len;
	l->max_objects = max_objects;
	l->max_bytes = max_bytes;
	l->next = t->cs->limits;
	t->cs->limits = l;
	return STORE_OK;
}

/* Marks the change sets first..last (one unit) skipped, their writes unapplied. */
static void
unit_failed(struct store_cs *first, struct store_cs *last, const char *uid)
{
	struct store_staged *e;
	struct store_cs *cs;

	for (cs = first; cs != NULL; cs = cs == last ? NULL : cs->next) {
		cs->failed = true;
		if (cs->conflict_uid[0] == '\0')
			snprintf(cs->conflict_uid, sizeof(cs->conflict_uid), "%s", uid);
		for (e = cs->first; e != NULL; e = e->next)
			e->applied_rev = 0;
	}
}

/*
 * Applies one unit (a change set, or an Undo batch's change sets) in w: all or none. *rev is the last
 * revision issued. Returns an LMDB-level store error only when the whole group cannot go on.
 */
static int
apply_unit(struct store_txn *w, struct store_cs *first, struct store_cs *last, uint64_t *rev,
    const struct store_dek_ids *ids, uint64_t *stale)
{
	struct store *s = w->s;
	MDB_txn *outer = w->txn, *nested = NULL;
	uint64_t rev0 = *rev, stale0 = *stale;
	struct store_staged *e;
	struct store_cs *cs;
	bool hold = true;
	int rc = STORE_OK;

	/* Several change sets may fail after the first wrote: a nested transaction undoes them together. */
	if (first != last) {
		if ((rc = store_begin(s, outer, 0, &nested)) != 0)
			return store_fail(s, rc, "beginning a batch at commit");
		w->txn = nested;
	}
	for (cs = first; cs != NULL && hold; cs = cs == last ? NULL : cs->next) {
		if ((rc = checks_hold(w, cs, &hold)) != STORE_OK)
			break;
		if (!hold && cs->best_effort) {
			/* Another writer changed what it read: its writes go, and nothing fails for them. */
			for (e = cs->first; e != NULL; e = e->next)
				e->applied_rev = 0;
			cs->conflict_uid[0] = '\0';
			s->n_dropped++;
			hold = true;
			continue;
		}
		if (!hold || (rc = store_limits_hold(w, cs, &hold)) != STORE_OK || !hold)
			break;
		if (ids->current != 0 && !(hold = deks_hold(cs, ids, stale)))
			break;
		if (cs->poisoned) {
			hold = false;
			if (cs->first != NULL)
				snprintf(cs->conflict_uid, sizeof(cs->conflict_uid), "%s", cs->first->uid);
			break;
		}
		for (e = cs->first; e != NULL; e = e->next) {
			if ((rc = store_apply_write(w, e, ++*rev)) != STORE_OK)
				break;
		}
		if (rc != STORE_OK)
			break;
	}
	w->txn = outer;
	if (nested != NULL) {
		if (rc == STORE_OK && hold) {
			if ((rc = mdb_txn_commit(nested)) != 0)
				rc = store_fail(s, rc, "committing a batch");
		} else {
			mdb_txn_abort(nested);
		}
	}
	if (rc == STORE_OK && !hold) {
		*rev = rev0;	/* nothing of the unit was written */
		*stale = stale0;
		unit_failed(first, last, cs != NULL ? cs->conflict_uid : "");
	}
	return rc;
}

/* Calls fn for a skipped change set's owner and for everyone who read its writes. */
static void
report(struct store_cs *cs, store_conflict_fn fn, void *arg)
{
	struct store_reader *r;

	if (fn == NULL)
		return;
	if (cs->owner != 0)
		fn(arg, cs->owner, cs->item, cs->conflict_uid);
	for (r = cs->readers; r != NULL; r = r->next)
		fn(arg, r->owner, r->item, cs->conflict_uid);
}

/*
 * Whether the usage counters count every record as of revision rev ("usage" == "rev"); a writer that
 * does not keep them (an older kmipd) leaves them behind, noted as drift for the next open to count.
 */
int
store_usage_counted(struct store_txn *w, uint64_t rev, bool *counted)
{
	uint64_t urev;
	int rc;

	*counted = false;
	if (!w->s->usage_valid)
		return STORE_OK;
	if ((rc = store_meta_get(w, "usage", &urev)) != STORE_OK)
		return rc;
	*counted = urev == rev;
	if (!*counted)
		w->s->usage_drift = true;
	return STORE_OK;
}

/* One attempt at writing the whole group in one LMDB transaction; a store error (STORE_E_FULL: grow). */
static int
apply_once(struct store *s)
{
	struct store_txn w;
	struct store_cs *cs, *last;
	struct store_dek_ids ids;
	uint64_t rev, stale = 0, gen;
	MDB_txn *txn;
	bool counted;
	int rc;

	for (cs = s->cs_first; cs != NULL; cs = cs->next) {
		cs->failed = false;
		cs->conflict_uid[0] = '\0';
	}
	if ((rc = store_begin(s, NULL, 0, &txn)) != 0)
		return store_fail(s, rc, "beginning the group commit");
	memset(&w, 0, sizeof(w));
	w.s = s;
	w.txn = txn;
	w.write = true;
	w.applying = true;
	if ((rc = store_meta_get(&w, "rev", &rev)) != STORE_OK ||
	    (rc = store_usage_counted(&w, rev, &counted)) != STORE_OK ||
	    (rc = store_keys_ids(s, txn, &ids)) != STORE_OK)
		goto fail;
	for (cs = s->cs_first; cs != NULL; cs = last->next) {
		for (last = cs; cs->unit != 0 && last->next != NULL && last->next->unit == cs->unit; last = last->next)
			;
		if ((rc = apply_unit(&w, cs, last, &rev, &ids, &stale)) != STORE_OK)
			goto fail;
	}
	/* Records sealed under an older data key after a rotation: a re-encryption pass must look again. */
	if (stale > 0 && ((rc = store_meta_get(&w, "stale_seals", &gen)) != STORE_OK ||
	    (rc = store_meta_put(&w, "stale_seals", gen + stale)) != STORE_OK))
		goto fail;
	if ((rc = store_meta_put(&w, "rev", rev)) != STORE_OK)
		goto fail;
	/* The usage counters count this commit too, unless they were behind already: then the next open counts. */
	if (counted && !s->usage_drift && (rc = store_meta_put(&w, "usage", rev)) != STORE_OK)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0)	/* frees txn either way */
		return store_fail(s, rc, "group commit");
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	return rc;
}

/* Applies the group, growing and retrying when the map is full; a store error. */
static int
apply_group(struct store *s, store_conflict_fn fn, void *arg)
{
	struct store_cs *cs;
	int rc;

	rc = apply_once(s);
	while (rc == STORE_E_FULL) {
		/* The group did not fit: grow and write it all again (it is still in memory). */
		if (!store_grow(s, true))
			break;
		s->n_replays++;
		rc = apply_once(s);
	}
	if (rc != STORE_OK) {
		store_group_free(s);
		return rc;
	}
	for (cs = s->cs_first; cs != NULL; cs = cs->next) {
		if (!cs->failed)
			continue;
		s->n_conflicts++;
		report(cs, fn, arg);
	}
	s->n_group_commits++;
	store_group_free(s);
	s->seq_last = 0;		/* durable now: the next provisional ones start above the durable counter */
	(void)store_grow(s, false);
	return STORE_OK;
}

/* Commits the group durably: see store.h. */
int
store_group_commit(struct store *s, store_conflict_fn fn, void *arg)
{
	if (s->open || s->batch)
		return STORE_E_BUSY;
	if (s->replica && s->cs_first != NULL) {
		/* A cluster node's writes reach LMDB only through etcd and its watch (replica.c). */
		snprintf(s->err, sizeof(s->err), "this store is a copy of a cluster's records in etcd: it is written "
		    "only through etcd");
		return STORE_E_INVALID;
	}
	if (s->cs_first == NULL) {
		s->seq_last = 0;
		(void)store_grow(s, false);
		return STORE_OK;
	}
	return apply_group(s, fn, arg);
}

/* Opens a savepoint in the group: see store.h. */
int
store_batch_begin(struct store *s)
{
	if (s->open || s->batch)
		return STORE_E_BUSY;
	if (!s->group_commit)
		return STORE_E_INVALID;
	s->batch = true;
	store_mark(s, &s->batch_mark);
	if (++s->next_unit == 0)
		s->next_unit = 1;
	s->batch_unit = s->next_unit;
	return STORE_OK;
}

/* Remembers where the group is; see store.h. */
void
store_mark(const struct store *s, struct store_mark *m)
{
	m->cs = s->cs_last;
}

/* Drops the change sets committed after the mark, newest first; see store.h. */
int
store_rollback(struct store *s, const struct store_mark *m)
{
	struct store_cs *cs;

	if (s->open)
		return STORE_E_BUSY;
	while ((cs = s->cs_last) != NULL && cs != m->cs) {
		s->cs_last = cs->prev;
		if (s->cs_last != NULL)
			s->cs_last->next = NULL;
		else
			s->cs_first = NULL;
		cs_drop(s, cs);
	}
	return STORE_OK;
}

/* Closes the savepoint, keeping its writes in the group (keep) or dropping them all. */
int
store_batch_end(struct store *s, bool keep)
{
	if (s->open)
		return STORE_E_BUSY;
	if (!s->batch)
		return STORE_E_INVALID;
	s->batch = false;
	return keep ? STORE_OK : store_rollback(s, &s->batch_mark);
}

bool
store_group_pending(const struct store *s)
{
	return s->cs_first != NULL;
}

/* Whether owner staged a change set of the group or read one's writes; see store.h. */
bool
store_group_touched(const struct store *s, uint64_t owner)
{
	const struct store_reader *r;
	const struct store_cs *cs;

	for (cs = s->cs_first; cs != NULL; cs = cs->next) {
		if (cs->owner == owner)
			return true;
		for (r = cs->readers; r != NULL; r = r->next)
			if (r->owner == owner)
				return true;
	}
	return false;
}
