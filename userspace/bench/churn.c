// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Churn benchmark driver (scripts/bench-e2e.sh --churn): new /32 entries pushed
 * to a block list's source one at a time, as DNSBL verdicts and automatic
 * blocks arrive in an attack, through the service's own path: srcq_push()
 * for each, srcq_flush() on the service's schedule (mta/service.c:
 * SRCQ_WINDOW_MS after the oldest pending push, at once past SRCQ_BATCH,
 * SRCQ_RETRY_MS later when the state directory's lock was busy).
 *
 *   churn --state-dir D --bpffs-dir B --probe PIN [options]
 *
 * What it measures, for each pushed address:
 *
 *   push     CLOCK_TAI just before its srcq_push()
 *   drop     the kernel's CLOCK_TAI stamp on the first drop event
 *            (struct mxs_event, the filter's ring buffer, read here) for
 *            that source: the moment the XDP program first dropped a frame
 *            from it, at the NIC
 *
 * and the latency is drop - push; beside it, live - push, where live is
 * CLOCK_TAI when the srcq_flush() that applied the entry returned (the
 * entry is in the live build then: the userspace view). Frames from the address come from the
 * generator (build/flood --probe PIN): the moment an address is pushed it
 * is written into the probe ring (a BPF array of FLOOD_PROBE_RING
 * addresses this program creates and pins at PIN), and one frame in
 * 2^K of the flood takes its source from a random slot of the ring, so
 * every address of the ring is probed every FLOOD_PROBE_RING * 2^K / rate
 * seconds: the latency is late by up to that much (the resolution).
 * Before its entry is live a probe passes (no event: a pass is no
 * event); the first dropped one is the first event. The filter's events
 * must be on with a cap well above the probes' sources a second (the
 * script sets 1,000,000, one a source and second).
 *
 * The addresses: a bijection of 32-bit indices (--first onwards, so two
 * runs with the same seed and consecutive ranges never repeat one),
 * skipping the reserved networks and anything the --exclude list covers
 * (the benchmark's 1M prefixes: an address already blocked would drop at
 * once and say nothing of the push).
 *
 * Options:
 *   --rate N       pushes a second (default 5000; 0: as fast as it can)
 *   --seconds S    how long to push (default 3)
 *   --grace S      how long to go on reading events after the last push
 *                  (default 1): an address not seen dropping by then is
 *                  "unseen"
 *   --first I      the first index (default 0)
 *   --seed N       (default 1)
 *   --list L       the list (default block)   --source S (default auto)
 *   --exclude FILE prefixes whose addresses are never pushed
 * Prints one line of key=value (scripts/bench-e2e.sh --churn reads it).
 * Not part of the product.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../../maps/contract.h"
#include "core/ctl.h"
#include "filter/build.h"
#include "filter/loader.h"
#include "filter/source.h"
#include "state/ipstore.h"

#define FLOOD_PROBE_RING 4096	/* bpf/bench/flood.bpf.c has the same */

static double clk(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int64_t tai_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_TAI, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ------------------------------------------------ addresses not to push */

struct iv {
	uint32_t lo, hi;
};

static struct iv *excl;
static size_t nexcl;

static int cmp_iv(const void *a, const void *b)
{
	const struct iv *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The prefixes of @path as sorted, merged intervals. */
static int read_exclude(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[128];
	size_t cap = 0, n = 0, lineno = 0;

	if (!f) {
		fprintf(stderr, "churn: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c, d, l = 32;
		char *slash = strchr(line, '/');
		uint32_t net, m;

		lineno++;
		if (sscanf(line, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 ||
		    c > 255 || d > 255 || (slash && (sscanf(slash + 1, "%u", &l) != 1 || l > 32))) {
			fprintf(stderr, "churn: %s:%zu: not an IPv4 prefix\n", path, lineno);
			fclose(f);
			return -1;
		}
		if (n == cap) {
			struct iv *e = realloc(excl, (cap = cap ? 2 * cap : 4096) * sizeof(*e));

			if (!e) {
				fclose(f);
				return -1;
			}
			excl = e;
		}
		m = l ? ~0u << (32 - l) : 0;
		net = (a << 24 | b << 16 | c << 8 | d) & m;
		excl[n++] = (struct iv){ net, net | ~m };
	}
	fclose(f);
	qsort(excl, n, sizeof(*excl), cmp_iv);
	nexcl = 0;
	for (size_t i = 0; i < n; i++) {
		if (nexcl && excl[i].lo <= (uint64_t)excl[nexcl - 1].hi + 1) {
			if (excl[i].hi > excl[nexcl - 1].hi)
				excl[nexcl - 1].hi = excl[i].hi;
		} else {
			excl[nexcl++] = excl[i];
		}
	}
	return 0;
}

static bool excluded(uint32_t a)
{
	size_t lo = 0, hi = nexcl;

	/* 0/8, 127/8, 224/3 and the documentation networks (the flood's) */
	if (a >> 24 == 0 || a >> 24 == 127 || a >= 0xe0000000 || (a >> 8) == 0xc00002 ||
	    (a >> 8) == 0xc63364 || (a >> 8) == 0xcb0071)
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (excl[mid].hi < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nexcl && excl[lo].lo <= a;
}

/* A bijection of 32-bit numbers (xorshift-multiply rounds, each
 * invertible): index i gives a distinct address for every i. */
static uint32_t perm32(uint32_t x, uint32_t seed)
{
	x ^= seed;
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

/* ------------------------------------------------ pushed, by address */

struct pushed {
	uint32_t addr;		/* host order; 0: free slot */
	int64_t push_ns;	/* CLOCK_TAI */
	int64_t drop_ns;	/* first drop event, 0: none yet */
	int64_t live_ns;	/* CLOCK_TAI when the flush that applied it returned */
};

static struct pushed *tab;
static size_t tmask;
static uint64_t nseen, nlate;

/* The drop events, read by a thread of their own: a flush takes tens of
 * milliseconds (seconds when a patch finds no room and builds in full),
 * and a reader that waited for it would let the ring buffer fill (some
 * 3,600 events) and lose first drops. The thread only records them; they
 * are matched with the pushes at the end. */
struct drop_rec {
	uint32_t addr;		/* host order */
	int64_t ns;		/* CLOCK_TAI, the kernel's */
};
static struct drop_rec *drops;
static size_t ndrops, capdrops;
static volatile int stop_reader;

static struct pushed *find(uint32_t a, bool add)
{
	size_t i = (a * 0x9e3779b1u) & tmask;

	while (tab[i].addr && tab[i].addr != a)
		i = (i + 1) & tmask;
	if (!tab[i].addr && !add)
		return NULL;
	tab[i].addr = a;
	return &tab[i];
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct mxs_event *e = data;
	uint32_t a;

	(void)ctx;
	if (size < sizeof(*e) || (e->flags & MXS_EV_V6) || !(e->flags & MXS_EV_SRC) ||
	    !(e->flags & MXS_EV_DROPPED))
		return 0;
	if (ndrops == capdrops) {
		struct drop_rec *d = realloc(drops, (capdrops = capdrops ? 2 * capdrops : 65536) *
					     sizeof(*d));

		if (!d)
			return -ENOMEM;
		drops = d;
	}
	memcpy(&a, &e->src[12], 4);
	drops[ndrops++] = (struct drop_rec){ ntohl(a), (int64_t)e->tai_ns };
	return 0;
}

static void *reader(void *arg)
{
	struct ring_buffer *rb = arg;
	struct sched_param sp = { .sched_priority = 10 };

	/* on a busy CPU a plain thread waits its turn for hundreds of ms,
	 * longer than the ring holds (some 3,600 events): SCHED_FIFO, as it
	 * sleeps most of the time (best effort: unprivileged, it stays) */
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	while (!stop_reader)
		if (ring_buffer__poll(rb, 5) < 0 && errno != EINTR)
			break;
	ring_buffer__consume(rb);
	return NULL;
}

/* The first drop of each pushed address, from what the reader recorded. */
static void match_drops(void)
{
	for (size_t i = 0; i < ndrops; i++) {
		struct pushed *p = find(drops[i].addr, false);

		if (!p || (p->drop_ns && p->drop_ns <= drops[i].ns))
			continue;
		if (!p->drop_ns)
			nseen++;
		p->drop_ns = drops[i].ns;
	}
	for (size_t i = 0; i <= tmask; i++)
		if (tab[i].addr && tab[i].drop_ns && tab[i].drop_ns < tab[i].push_ns)
			nlate++;	/* cannot be: a drop before the push */
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The probe ring at @pin: the pinned one, or a new one pinned there. */
static int probe_ring(const char *pin)
{
	int fd = bpf_obj_get(pin);

	if (fd >= 0)
		return fd;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flood_probe", 4, 4, FLOOD_PROBE_RING, NULL);
	if (fd < 0 || bpf_obj_pin(fd, pin)) {
		fprintf(stderr, "churn: the probe ring %s: %s\n", pin, strerror(errno));
		return -1;
	}
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: churn --state-dir D --bpffs-dir B --probe PIN [--rate N] "
			"[--seconds S] [--grace S] [--first I] [--seed N] [--list L] "
			"[--source S] [--exclude FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state-dir", 1, 0, 'd' }, { "bpffs-dir", 1, 0, 'b' }, { "probe", 1, 0, 'p' },
		{ "rate", 1, 0, 'r' }, { "seconds", 1, 0, 's' }, { "grace", 1, 0, 'g' },
		{ "first", 1, 0, 'f' }, { "seed", 1, 0, 'S' }, { "list", 1, 0, 'l' },
		{ "source", 1, 0, 'o' }, { "exclude", 1, 0, 'x' }, { 0 }
	};
	const char *list = "block", *src = "auto", *pin = NULL;
	double rate = 5000, secs = 3, grace = 1;
	uint32_t first = 0, seed = 1, idx;
	struct ctl c = { .lock_fd = -1 };
	const struct listdef *d;
	struct ring_buffer *rb;
	pthread_t rth;
	struct srcq *q;
	struct srcq_stats st;
	int opt, pfd, efd, rc;
	size_t cap, npushed = 0, maxpend = 0, nflush = 0, nbusy = 0;
	double t0, now, due = -1, flush_max = 0, flush_sum = 0, t_end;
	int64_t *lat, *live;
	size_t nlat = 0, nlive = 0, upto = 0;
	struct pushed **order;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': c.state_dir = optarg; break;
		case 'b': c.bpffs_dir = optarg; break;
		case 'p': pin = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'g': grace = atof(optarg); break;
		case 'f': first = strtoul(optarg, NULL, 0); break;
		case 'S': seed = strtoul(optarg, NULL, 0); break;
		case 'l': list = optarg; break;
		case 'o': src = optarg; break;
		case 'x':
			if (read_exclude(optarg))
				return 1;
			break;
		default: return usage();
		}
	}
	if (optind != argc || !c.state_dir || !c.bpffs_dir || !pin || rate < 0 || secs <= 0 ||
	    grace < 0)
		return usage();
	d = listdef_by_name(list);
	if (!d) {
		fprintf(stderr, "churn: no IP list '%s'\n", list);
		return 2;
	}
	libbpf_set_print(NULL);
	pfd = probe_ring(pin);
	if (pfd < 0)
		return 1;
	efd = filter_open_events(&c);
	if (efd < 0) {
		fprintf(stderr, "churn: the events ring buffer: %s (is the filter loaded?)\n",
			strerror(-efd));
		return 1;
	}
	rb = ring_buffer__new(efd, on_event, NULL, NULL);
	q = srcq_new();
	cap = 1024;
	while (cap < 4 * (rate ? rate * secs : 2e6))
		cap <<= 1;
	tab = calloc(cap, sizeof(*tab));
	tmask = cap - 1;
	order = calloc(cap, sizeof(*order));
	if (!rb || !q || !tab || !order) {
		fprintf(stderr, "churn: out of memory\n");
		return 1;
	}
	/* events written before we started are not ours: drop them */
	ring_buffer__consume(rb);
	ndrops = 0;
	if (pthread_create(&rth, NULL, reader, rb)) {
		fprintf(stderr, "churn: the events reader: %s\n", strerror(errno));
		return 1;
	}

	idx = first;
	t0 = clk(CLOCK_MONOTONIC);
	t_end = t0 + secs;
	for (;;) {
		now = clk(CLOCK_MONOTONIC);
		if (now >= t_end)
			break;
		/* the pushes due by now (rate 0: a batch's worth) */
		size_t want = rate ? (size_t)((now - t0) * rate) : npushed + SRCQ_BATCH;

		while (npushed < want && (npushed + 1) * 2 < cap) {
			struct st_ent e = { .plen = 32, .action = MXS_ACT_DROP };
			uint32_t a, na, slot;
			struct pushed *p;

			do
				a = perm32(idx++, seed);
			while (excluded(a) || find(a, false));
			na = htonl(a);
			memcpy(e.addr, &na, 4);
			e.added = time(NULL);
			e.expires = e.added + 3600;
			p = find(a, true);	/* the reader never writes the table */
			p->push_ns = tai_ns();
			order[npushed] = p;
			if (srcq_push(q, d, src, &e, "churn benchmark")) {
				fprintf(stderr, "churn: srcq_push refused an entry\n");
				return 1;
			}
			/* probed from now on */
			slot = npushed % FLOOD_PROBE_RING;
			bpf_map_update_elem(pfd, &slot, &na, BPF_ANY);
			npushed++;
		}
		if (srcq_pending(q) > maxpend)
			maxpend = srcq_pending(q);
		/* the service's schedule (push_arm/push_flush in mta/service.c) */
		if (srcq_pending(q) && due < 0)
			due = srcq_pending(q) >= SRCQ_BATCH ? now :
				srcq_oldest(q) + SRCQ_WINDOW_MS / 1000.0;
		if (due >= 0 && now >= due) {
			double f0 = clk(CLOCK_MONOTONIC), fd;

			rc = srcq_flush(&c, q);
			fd = clk(CLOCK_MONOTONIC) - f0;
			if (rc < 0) {
				fprintf(stderr, "churn: srcq_flush failed\n");
				return 1;
			}
			if (rc > 0) {
				nbusy++;
				due = now + SRCQ_RETRY_MS / 1000.0;
			} else {
				int64_t t = tai_ns();

				/* everything pushed so far is live now */
				while (upto < npushed)
					order[upto++]->live_ns = t;
				nflush++;
				flush_sum += fd;
				if (fd > flush_max)
					flush_max = fd;
				due = -1;
			}
		}
		if (rate)
			usleep(500);
	}
	/* the rest, then the events of the last ones */
	while (srcq_pending(q)) {
		rc = srcq_flush(&c, q);
		if (rc < 0)
			return 1;
		if (rc > 0)
			usleep(SRCQ_RETRY_MS * 1000);
	}
	for (int64_t t = tai_ns(); upto < npushed;)
		order[upto++]->live_ns = t;
	now = clk(CLOCK_MONOTONIC);
	usleep(grace * 1e6);
	stop_reader = 1;
	pthread_join(rth, NULL);
	match_drops();
	srcq_stats(q, &st);

	lat = malloc((npushed + 1) * sizeof(*lat));
	live = malloc((npushed + 1) * sizeof(*live));
	if (!lat || !live)
		return 1;
	for (size_t i = 0; i <= tmask; i++) {
		if (tab[i].addr && tab[i].drop_ns)
			lat[nlat++] = tab[i].drop_ns - tab[i].push_ns;
		if (tab[i].addr && tab[i].live_ns)
			live[nlive++] = tab[i].live_ns - tab[i].push_ns;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	qsort(live, nlive, sizeof(*live), cmp_i64);
#define PCT(p) (nlat ? lat[(size_t)((nlat - 1) * (p))] / 1e6 : -1.0)
	printf("pushed=%zu applied=%llu secs=%.3f push_rate=%.0f applied_rate=%.0f flushes=%zu "
	       "busy=%zu max_pending=%zu flush_ms_mean=%.2f flush_ms_max=%.2f seen=%zu "
	       "unseen=%zu lat_ms_p50=%.1f lat_ms_p90=%.1f lat_ms_p99=%.1f lat_ms_max=%.1f "
	       "within_100ms=%.4f live_ms_p50=%.1f live_ms_p90=%.1f live_ms_p99=%.1f "
	       "live_ms_max=%.1f\n",
	       npushed, (unsigned long long)st.applied, secs, npushed / secs,
	       st.applied / (now - t0), nflush, nbusy, maxpend,
	       nflush ? 1e3 * flush_sum / nflush : 0, 1e3 * flush_max, nlat, npushed - nlat,
	       PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0), ({
		       size_t k = 0;
		       while (k < nlat && lat[k] <= 100000000)
			       k++;
		       npushed ? (double)k / npushed : 0;
	       }), nlive ? live[(nlive - 1) / 2] / 1e6 : -1.0,
	       nlive ? live[(size_t)((nlive - 1) * 0.9)] / 1e6 : -1.0,
	       nlive ? live[(size_t)((nlive - 1) * 0.99)] / 1e6 : -1.0,
	       nlive ? live[nlive - 1] / 1e6 : -1.0);
	if (nlate)
		fprintf(stderr, "churn: %llu drops stamped before their push (clock?)\n",
			(unsigned long long)nlate);
	ring_buffer__free(rb);
	srcq_free(q);
	return 0;
}
