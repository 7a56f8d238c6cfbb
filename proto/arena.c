/*
 * The arena that owns one message: items and their values are carved from a chain of blocks and released
 * together. Messages carry key material, so every block is wiped before it is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/ttlv.h"

#define ARENA_FIRST_BLOCK	2048
#define ARENA_MAX_BLOCK		(256 * 1024)
#define ARENA_ALIGN		8

struct arena_block {
	struct arena_block *next;
	size_t size;		/* usable bytes in data[] */
	size_t used;
	uint8_t data[];
};

struct ttlv_arena {
	struct arena_block *head;	/* block being filled; older blocks follow */
	size_t used;			/* bytes handed out, all blocks */
	size_t reserved;		/* bytes of blocks allocated */
	size_t cap;			/* 0: no cap */
};

/* Returns a new, empty arena, or NULL when out of memory. */
struct ttlv_arena *
ttlv_arena_new(void)
{
	return calloc(1, sizeof(struct ttlv_arena));
}

/* Caps the bytes of block memory the arena may reserve; 0 removes the cap. */
void
ttlv_arena_set_cap(struct ttlv_arena *a, size_t cap)
{
	a->cap = cap;
}

/* Wipes and frees every block, then the arena. */
void
ttlv_arena_free(struct ttlv_arena *a)
{
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		explicit_bzero(b->data, b->used);
		free(b);
	}
	free(a);
}

/* Returns zeroed, aligned memory from the arena, or NULL when out of memory or over the cap. */
void *
ttlv_arena_alloc(struct ttlv_arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t want, bsize;
	void *p;

	if (size > SIZE_MAX / 2)
		return NULL;
	want = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (want == 0)
		want = ARENA_ALIGN;
	if (b == NULL || b->size - b->used < want) {
		/* Blocks grow with the arena so a big message needs few of them. */
		bsize = b == NULL ? ARENA_FIRST_BLOCK : b->size * 2;
		if (bsize > ARENA_MAX_BLOCK)
			bsize = ARENA_MAX_BLOCK;
		if (a->cap != 0 && a->cap - a->reserved < bsize)
			bsize = a->cap - a->reserved;	/* the last block fills the cap exactly */
		if (bsize < want)
			bsize = want;
		if (a->cap != 0 && bsize > a->cap - a->reserved)
			return NULL;
		b = malloc(sizeof(*b) + bsize);
		if (b == NULL)
			return NULL;
		b->size = bsize;
		b->used = 0;
		b->next = a->head;
		a->head = b;
		a->reserved += bsize;
	}
	p = b->data + b->used;
	b->used += want;
	a->used += want;
	memset(p, 0, want);
	return p;
}

/* Returns the bytes handed out so far. */
size_t
ttlv_arena_used(const struct ttlv_arena *a)
{
	return a->used;
}
