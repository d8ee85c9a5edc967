/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Random sources and prefixes for the BPF tests: a xorshift64 stream (a
 * test defines TEST_RNG_SEED before including this, so that each keeps its
 * own repeatable sequence), addresses in the documentation ranges only
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32; nothing is
 * sent anywhere: BPF_PROG_TEST_RUN), with few distinct high bits so that
 * rules nest and collide.
 */
#ifndef MXS_TEST_RAND_H
#define MXS_TEST_RAND_H
#include <stdint.h>
#include <string.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"

static uint64_t rng = TEST_RNG_SEED;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng >> 16;
}

static void rand_addr(struct mxs_prefix *p, int v6)
{
	static const uint8_t nets[3][3] = { { 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };

	memset(p, 0, sizeof(*p));
	p->v6 = v6;
	if (v6) {
		p->plen = 128;
		memcpy(p->addr, "\x20\x01\x0d\xb8", 4);
		p->addr[4] = rnd() % 4;
		p->addr[5] = rnd() % 4;
		for (int i = 6; i < 16; i++)
			p->addr[i] = i < 8 ? rnd() % 3 : rnd();
	} else {
		memcpy(p->addr, nets[rnd() % 3], 3);
		p->addr[3] = rnd();
		p->plen = 32;
	}
}

/* A random prefix at least @min4 (IPv4) or @min6 (IPv6) long. */
static void rand_prefix(struct mxs_prefix *p, int v6, int min4, int min6)
{
	rand_addr(p, v6);
	p->plen = v6 ? min6 + rnd() % (129 - min6) : min4 + rnd() % (33 - min4);
	prefix_mask(p);
}

#endif
