// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The per-CPU counter maps, summed over the CPUs (counters.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "counters.h"

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

int counters_sum(int fd, uint32_t n, struct mxs_counter *out)
{
	int cpus = ncpus(), rc = 0;
	struct mxs_counter *per = calloc(cpus, sizeof(*per));

	if (!per)
		return -ENOMEM;
	for (__u32 k = 0; k < n && !rc; k++) {
		if (bpf_map_lookup_elem(fd, &k, per)) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < cpus; i++) {
			out[k].packets += per[i].packets;
			out[k].bytes += per[i].bytes;
		}
	}
	free(per);
	return rc;
}

int counters_sum_u64(int fd, uint32_t n, uint64_t *out)
{
	int cpus = ncpus(), rc = 0;
	uint64_t *per = calloc(cpus, sizeof(*per));

	if (!per)
		return -ENOMEM;
	for (__u32 k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, per)) {
			rc = -errno;
			break;
		}
		for (int i = 0; i < cpus; i++)
			out[k] += per[i];
	}
	free(per);
	return rc;
}

int counters_events(int fd, struct ev_counts *out)
{
	int cpus = ncpus();
	struct mxs_ev_state *per = calloc(cpus, sizeof(*per));
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, per)) {
		int err = -errno;

		free(per);
		return err;
	}
	for (int i = 0; i < cpus; i++) {
		out->emitted += per[i].emitted;
		out->sup_rate += per[i].sup_rate;
		out->sup_source += per[i].sup_source;
		out->lost += per[i].lost;
	}
	free(per);
	return 0;
}
