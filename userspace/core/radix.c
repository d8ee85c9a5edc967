// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A radix sort of 48-bit keys, for the compiler and the IP list store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "radix.h"

int mxs_radix48(uint64_t *key, uint32_t *idx, size_t n)
{
	uint64_t *k = key, *k2 = malloc((n + 1) * sizeof(*k2)), *kt;
	uint32_t *ix = idx, *ix2 = malloc((n + 1) * sizeof(*ix2)), *it;
	uint64_t *kfree = k2;
	uint32_t *ixfree = ix2;
	size_t *cnt = malloc(65536 * sizeof(*cnt));
	int rc = -ENOMEM;

	if (!k2 || !ix2 || !cnt)
		goto out;
	for (int pass = 0; pass < 3; pass++) {
		int sh = pass * 16;
		size_t sum = 0;

		memset(cnt, 0, 65536 * sizeof(*cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(k[i] >> sh) & 0xffff]++;
		for (size_t b = 0; b < 65536; b++) {
			size_t c = cnt[b];

			cnt[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++) {
			size_t d = cnt[(k[i] >> sh) & 0xffff]++;

			k2[d] = k[i];
			ix2[d] = ix[i];
		}
		kt = k, k = k2, k2 = kt;
		it = ix, ix = ix2, ix2 = it;
	}
	/* three passes: the result is in the scratch arrays */
	memcpy(key, k, n * sizeof(*k));
	memcpy(idx, ix, n * sizeof(*ix));
	rc = 0;
out:
	free(kfree);
	free(ixfree);
	free(cnt);
	return rc;
}
