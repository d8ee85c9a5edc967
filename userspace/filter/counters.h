/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/counters.c: the data plane's per-CPU counter maps (stats,
 * country_stats, conns, country_conns), summed over the CPUs.
 */
#ifndef MXS_COUNTERS_H
#define MXS_COUNTERS_H

#include <stdint.h>
#include "../../maps/contract.h"

/* Add slots [0, n) of a per-CPU map of struct mxs_counter into out[],
 * each summed over the CPUs. 0, or a negative errno. */
int counters_sum(int fd, uint32_t n, struct mxs_counter *out);
/* The same for a per-CPU map of __u64. */
int counters_sum_u64(int fd, uint32_t n, uint64_t *out);

/* The drop events' counters (the per-CPU map ev_state), over the CPUs. */
struct ev_counts {
	uint64_t emitted, sup_rate, sup_source, lost;
};
int counters_events(int fd, struct ev_counts *out);

#endif
