// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The benchmark build of the XDP program (make bench): bpf/mxshield.bpf.c
 * as it is, with a source hook.
 */
#include "rsrc.h"

struct mxs_ctx;
static __always_inline void bench_source(struct mxs_ctx *c);
#define MXS_SOURCE_HOOK(c) bench_source(c)

#include "../mxshield.bpf.c"

/* Benchmark build only (make bench): each packet's source address is
 * derived from a per-CPU pseudo-random sequence before classification, to
 * measure a random-source flood with BPF_PROG_TEST_RUN (the streams, the
 * same as the baseline's, are in rsrc.h). */


static __always_inline void bench_source(struct mxs_ctx *c)
{
	if (c->v6)
		bench_src6(c->k6.addr);
	else
		bench_src4(c->k4.addr);
}
