/*
 * The arena that owns one message: items and their values are carved from a chain of blocks and released
 * together. Messages carry key material, so every block is wiped before it is freed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "proto/ttlv.h"

#define ARENA_FIRST_BLOCK	2048
#define ARENA_MAX_BLOCK		(256 * 1024)
#define ARENA_ALIGN		8
#define BUFFER_MAP_MIN		(64 * 1024)	/* message buffers this large are mapped, not malloc'd */

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
	uint8_t *adopted;		/* a message buffer the arena owns (ttlv_arena_adopt), or NULL */
	size_t adopted_len;
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
	if (a->adopted != NULL)
		ttlv_buffer_free(a->adopted, a->adopted_len, a->adopted_len);
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

/*
 * Returns an uninitialised buffer of size bytes for a message being received, or NULL. A large one is mapped
 * rather than taken from the heap, so its pages cost memory only once written: a message announced but only
 * partly sent costs what was sent. Freed with ttlv_buffer_free().
 */
uint8_t *
ttlv_buffer_new(size_t size)
{
	void *p;

	if (size == 0 || size > SIZE_MAX / 2)
		return NULL;
	if (size < BUFFER_MAP_MIN)
		return malloc(size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Wipes the first written bytes of a buffer from ttlv_buffer_new() (the rest was never written) and frees it. */
void
ttlv_buffer_free(uint8_t *p, size_t size, size_t written)
{
	if (p == NULL)
		return;
	explicit_bzero(p, written < size ? written : size);
	if (size < BUFFER_MAP_MIN)
		free(p);
	else
		munmap(p, size);
}

/* Makes the arena own a buffer from ttlv_buffer_new(), wiped and freed with it; -1 if it owns one already. */
int
ttlv_arena_adopt(struct ttlv_arena *a, uint8_t *p, size_t size)
{
	if (a->adopted != NULL)
		return -1;
	a->adopted = p;
	a->adopted_len = size;
	return 0;
}
