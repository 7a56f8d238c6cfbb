/*
 * SipHash-2-4: the keyed hash of the server's hash tables whose keys clients choose (their addresses in
 * sources.c, their certificate identities in budget.c), so that no choice of keys makes a table degrade.
 *
 * Symbol prefix: siphash.
 */
#ifndef KMIPD_SIPHASH_H
#define KMIPD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Returns SipHash-2-4 of the len bytes at data under the 128-bit key k. */
uint64_t siphash24(const uint64_t k[2], const void *data, size_t len);
/* Fills k with a random key (getrandom). Returns 0, or -1. */
int siphash_key(uint64_t k[2]) __attribute__((warn_unused_result));

#endif
