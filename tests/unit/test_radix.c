// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests: core/radix.c's sort, at every size class it has (insertion,
 * 8-bit and 16-bit digits), against a stable reference: keys sorted by
 * their low 48 bits, equal keys in their input order, the index carried. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/radix.h"
#include "../check.h"

struct kv {
	uint64_t k;
	uint32_t ix;
};

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	uint64_t m = (1ULL << 48) - 1;

	if ((x->k & m) != (y->k & m))
		return (x->k & m) < (y->k & m) ? -1 : 1;
	return x->ix < y->ix ? -1 : x->ix > y->ix;	/* stable: input order */
}

static uint64_t rnd(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	uint64_t z = *s;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* n keys of @bits random bits (few bits: many equal keys), bits 48-63 set
 * at random too (they must ride along, not count) */
static void one(size_t n, int bits)
{
	uint64_t *k = malloc((n + 1) * sizeof(*k)), s = n * 131 + bits;
	uint32_t *ix = malloc((n + 1) * sizeof(*ix));
	struct kv *ref = malloc((n + 1) * sizeof(*ref));
	char name[96];
	size_t bad = n;
	int rc;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd(&s);

		k[i] = (r & ((1ULL << bits) - 1)) | (rnd(&s) & ~((1ULL << 48) - 1));
		ix[i] = i;
		ref[i] = (struct kv){ k[i], i };
	}
	qsort(ref, n, sizeof(*ref), cmp_kv);
	rc = mxs_radix48(k, ix, n);
	for (size_t i = 0; i < n && bad == n; i++)
		if (k[i] != ref[i].k || ix[i] != ref[i].ix)
			bad = i;
	snprintf(name, sizeof(name), "radix48: %zu keys of %d bits, sorted and stable", n, bits);
	CHECK(name, rc == 0 && bad == n, "rc=%d, first difference at %zu", rc, bad);
	free(k);
	free(ix);
	free(ref);
}

int main(void)
{
	static const size_t sizes[] = { 0, 1, 2, 5, 31, 32, 33, 1000, 65535, 65536, 200000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		one(sizes[i], 48);
		one(sizes[i], 6);
	}
	return failures ? 1 : 0;
}
