/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* core/radix.c: sorting many prefixes fast. */
#ifndef MXS_RADIX_H
#define MXS_RADIX_H

#include <stddef.h>
#include <stdint.h>

/* Stable sort of n keys k[] by their low 48 bits, carrying ix[] along
 * (LSD radix; insertion for a few keys). 0, or -ENOMEM. */
int mxs_radix48(uint64_t *k, uint32_t *ix, size_t n);

#endif
