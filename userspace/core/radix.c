// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A radix sort of 48-bit keys, for the compiler and the IP list store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "radix.h"

#define RADIX48_MASK ((1ULL << 48) - 1)

/* Stable insertion sort: a handful of keys (a patch's entries). */
static void insertion48(uint64_t *k, uint32_t *ix, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t kv = k[i];
		uint32_t iv = ix[i];
		size_t j = i;

		for (; j && (k[j - 1] & RADIX48_MASK) > (kv & RADIX48_MASK); j--) {
			k[j] = k[j - 1];
			ix[j] = ix[j - 1];
		}
		k[j] = kv;
		ix[j] = iv;
	}
}

/*
 * The sort is LSD radix, stable, in passes of @bits-bit digits: 16 bits
 * (3 passes, 64 Ki counters) for big inputs, 8 bits (6 passes, 256
 * counters) for middling ones, insertion below RADIX48_SMALL. The
 * counters are cleared and summed on every pass whatever n is: with 16
 * bits that is 1.5 MiB of memset and 196,608 additions a call, which made
 * each in-place patch of one entry (filter/build.c, a sort of a few keys)
 * cost about a millisecond -- the push queue's batches of thousands of
 * single entries spent most of their time here.
 */
#define RADIX48_SMALL 32
#define RADIX48_MID 65536

int mxs_radix48(uint64_t *key, uint32_t *idx, size_t n)
{
	int bits = n < RADIX48_MID ? 8 : 16, nb = 1 << bits;
	uint64_t *k = key, *k2, *kt;
	uint32_t *ix = idx, *ix2, *it;
	uint64_t *kfree;
	uint32_t *ixfree;
	size_t *cnt;
	int rc = -ENOMEM;

	if (n < RADIX48_SMALL) {
		insertion48(key, idx, n);
		return 0;
	}
	k2 = kfree = malloc((n + 1) * sizeof(*k2));
	ix2 = ixfree = malloc((n + 1) * sizeof(*ix2));
	cnt = malloc(nb * sizeof(*cnt));
	if (!k2 || !ix2 || !cnt)
		goto out;
	for (int pass = 0; pass < 48 / bits; pass++) {
		int sh = pass * bits;
		size_t sum = 0;

		memset(cnt, 0, nb * sizeof(*cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(k[i] >> sh) & (nb - 1)]++;
		for (int b = 0; b < nb; b++) {
			size_t c = cnt[b];

			cnt[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t d = cnt[(k[i] >> sh) & (nb - 1)]++;

			k2[d] = k[i];
			ix2[d] = ix[i];
		}
		kt = k, k = k2, k2 = kt;
		it = ix, ix = ix2, ix2 = it;
	}
	/* after an odd number of passes (3) the result is in the scratch arrays */
	if (k != key) {
		memcpy(key, k, n * sizeof(*k));
		memcpy(idx, ix, n * sizeof(*ix));
	}
	rc = 0;
out:
	free(kfree);
	free(ixfree);
	free(cnt);
	return rc;
}
