// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sources of an IP list (filter/srcset.h, filter/source.h), over the
 * production XDP program's maps: manual entries and two feeds share
 * prefixes; the live build must give what the combination rule says
 * (manual decides alone, else the most severe live action, the latest
 * expiry), lookups must name every source, removing a source keeps what
 * another still lists, the coalescer's batches land in the state and the
 * live build, the stamp says the build carries the state after each step,
 * and the sweep clears expired source entries.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/ctl.h"
#include "core/parse.h"
#include "filter/build.h"
#include "filter/classify.h"
#include "filter/source.h"
#include "filter/srcset.h"
#include "state/ipstore.h"
#include "mxshield.skel.h"
#include "../skel.h"
#include "../check.h"

static const struct listdef *block;

static struct st_ent ent(const char *pfx, int act, int64_t expires)
{
	struct mxs_prefix p;
	struct st_ent e = { .action = act, .expires = expires, .added = time(NULL) };
	char err[128];

	if (parse_prefix(pfx, &p, err, sizeof(err)))
		abort();
	st_set_prefix(&e, &p);
	return e;
}

static int replace(struct ctl *c, const char *src, const struct st_ent *e, int n,
		   const char *comment)
{
	struct st_vec v = {};

	for (int i = 0; i < n; i++)
		if (st_vec_push(&v, &e[i], comment))
			return 1;
	st_vec_finish(&v);
	return source_replace(c, block, src, &v);
}

/* The action the live build gives @addr (MXS_ACT_NONE: no list). */
static int verdict(struct ctl *c, const char *addr, uint8_t *list)
{
	struct mxs_prefix a;
	struct mxs_verdict v;
	char err[128];

	parse_prefix(addr, &a, err, sizeof(err));
	mxs_classify(&c->mv, &a, 0, now_tai_ns(), &v);
	if (list)
		*list = v.list;
	return v.list == MXS_LIST_BLOCK ? v.action : MXS_ACT_NONE;
}

static uint64_t sources_of(struct ctl *c, const char *pfx, struct srcset *set, struct st_ent *m)
{
	struct mxs_prefix p;
	const char *cm;
	uint64_t srcs = 0;
	char err[128];

	parse_prefix(pfx, &p, err, sizeof(err));
	if (srcset_open(c, "block", NULL, set))
		return ~0ULL;
	if (!srcset_find(set, time(NULL), &p, m, &cm, &srcs))
		srcs = 0;
	return srcs;
}

int main(void)
{
	char dir[] = "/tmp/mxs-sources-XXXXXX", names[256];
	struct ctl c = { .lock_fd = -1, .bpffs_dir = "/nonexistent" };
	struct mxshield_bpf *skel;
	struct srcset set;
	struct st_ent m, manual = ent("198.51.100.0/24", MXS_ACT_DROP, 0);
	int64_t now = time(NULL);
	struct store s;
	int sweep = 0;

	if (!mkdtemp(dir))
		return 1;
	c.state_dir = dir;
	block = listdef_by_name("block");
	skel = skel_load_unpinned(&c.mv);
	if (!skel || ctl_lock(&c)) {
		printf("not ok - sources: loading the program failed\n");
		return 1;
	}
	c.loaded = true;
	if (store_open(&c, "block", &s) || store_apply(&s, &manual, "by hand") ||
	    ctl_commit_whole(&c, block, &s))
		failures++;
	store_close(&s);

	{
		struct st_ent a[] = { ent("198.51.100.0/24", MXS_ACT_SPAM, 0),
				      ent("203.0.113.0/24", MXS_ACT_REJECT, now + 3600) };
		struct st_ent b[] = { ent("203.0.113.0/24", MXS_ACT_DROP, now + 60),
				      ent("192.0.2.0/25", MXS_ACT_QUARANTINE, now - 10),
				      ent("192.0.2.128/25", MXS_ACT_SPAM, 0) };

		CHECK("feed a replaced", !replace(&c, "feed:a", a, 2, "from a"), "failed");
		CHECK("feed b replaced", !replace(&c, "feed:b", b, 3, "from b"), "failed");
	}
	CHECK("build carries the state", ctl_build_current(&c) == 1, "stamp differs");
	CHECK("manual decides alone", verdict(&c, "198.51.100.7", NULL) == MXS_ACT_DROP,
	      "got %d", verdict(&c, "198.51.100.7", NULL));
	CHECK("most severe source wins", verdict(&c, "203.0.113.9", NULL) == MXS_ACT_DROP,
	      "got %d", verdict(&c, "203.0.113.9", NULL));
	CHECK("expired source entry ignored", verdict(&c, "192.0.2.1", NULL) == MXS_ACT_NONE,
	      "got %d", verdict(&c, "192.0.2.1", NULL));
	CHECK("one source alone", verdict(&c, "192.0.2.200", NULL) == MXS_ACT_SPAM,
	      "got %d", verdict(&c, "192.0.2.200", NULL));

	{
		uint64_t srcs = sources_of(&c, "203.0.113.0/24", &set, &m);

		srcset_names_of(&set, srcs, names, sizeof(names));
		CHECK("both feeds named", !strcmp(names, "feed:a,feed:b"), "got '%s'", names);
		CHECK("latest expiry", m.expires == now + 3600, "got %lld",
		      (long long)m.expires);
		srcset_close(&set);
		srcs = sources_of(&c, "198.51.100.0/24", &set, &m);
		srcset_names_of(&set, srcs, names, sizeof(names));
		CHECK("manual and feed named", !strcmp(names, "manual,feed:a"), "got '%s'", names);
		srcset_close(&set);
	}

	CHECK("feed b removed", !source_remove(&c, block, "feed:b"), "failed");
	CHECK("the other feed keeps it", verdict(&c, "203.0.113.9", NULL) == MXS_ACT_REJECT,
	      "got %d", verdict(&c, "203.0.113.9", NULL));
	CHECK("its own prefix gone", verdict(&c, "192.0.2.200", NULL) == MXS_ACT_NONE,
	      "got %d", verdict(&c, "192.0.2.200", NULL));
	CHECK("manual untouched", verdict(&c, "198.51.100.7", NULL) == MXS_ACT_DROP, "changed");
	CHECK("stamp after remove", ctl_build_current(&c) == 1, "stamp differs");

	/* the coalescer: 300 single /32 pushes, one batch */
	{
		struct srcq *q = srcq_new();
		struct srcq_stats st;
		char a[32];
		int bad = 0;

		for (int i = 0; i < 300; i++) {
			snprintf(a, sizeof(a), "192.0.2.%d/32", i % 128);
			struct st_ent e = ent(i < 128 ? a : "203.0.113.77/32", MXS_ACT_DROP,
					      now + 600);

			if (i >= 128)	/* many pushes of one address: one entry */
				e = ent("203.0.113.77/32", MXS_ACT_DROP, now + 600 + i);
			srcq_push(q, block, "dnsbl", &e, "dnsbl: test");
		}
		CHECK("pushes queued", srcq_pending(q) == 300, "%zu", srcq_pending(q));
		CHECK("batch flushed", srcq_flush(&c, q) == 0, "failed");
		srcq_stats(q, &st);
		CHECK("batch counted", st.applied == 300 && st.flushes == 1 && !srcq_pending(q),
		      "applied %llu flushes %llu", (unsigned long long)st.applied,
		      (unsigned long long)st.flushes);
		for (int i = 0; i < 128; i++) {
			snprintf(a, sizeof(a), "192.0.2.%d", i);
			bad += verdict(&c, a, NULL) != MXS_ACT_DROP;
		}
		CHECK("every pushed address drops", !bad, "%d do not", bad);
		CHECK("stamp after batch", ctl_build_current(&c) == 1, "stamp differs");
		{
			struct store d;

			CHECK("dnsbl source on disk", !source_open(&c, block, "dnsbl", &d) &&
			      d.n == 129, "%zu entries", d.n);
			store_close(&d);
		}
		/* a second batch: a deletion, and the open set reused */
		{
			struct st_ent e = ent("192.0.2.5/32", 0, 0);

			e.del = 1;
			srcq_push(q, block, "dnsbl", &e, NULL);
			srcq_flush(&c, q);
			srcq_stats(q, &st);
			CHECK("deletion applied", verdict(&c, "192.0.2.5", NULL) == MXS_ACT_NONE,
			      "still %d", verdict(&c, "192.0.2.5", NULL));
			CHECK("set kept open", st.reopens == 0, "%llu reopens",
			      (unsigned long long)st.reopens);
		}
		/* a change by someone else between batches: read again */
		{
			struct st_ent a2[] = { ent("198.51.100.128/25", MXS_ACT_SPAM, 0) };
			struct st_ent e = ent("192.0.2.6/32", 0, 0);

			replace(&c, "feed:a", a2, 1, "a again");
			e.del = 1;
			srcq_push(q, block, "dnsbl", &e, NULL);
			srcq_flush(&c, q);
			srcq_stats(q, &st);
			CHECK("changed set read again", st.reopens == 1, "%llu reopens",
			      (unsigned long long)st.reopens);
			CHECK("feed change live", verdict(&c, "203.0.113.9", NULL) == MXS_ACT_NONE &&
			      verdict(&c, "192.0.2.7", NULL) == MXS_ACT_DROP, "wrong verdicts");
		}
		srcq_free(q);
	}

	/* the sweep clears expired entries of a source */
	{
		struct st_ent x[] = { ent("203.0.113.0/28", MXS_ACT_DROP, now - 5),
				      ent("203.0.113.16/28", MXS_ACT_DROP, now + 600) };

		replace(&c, "auto", x, 2, "auto: test");
		CHECK("sweep", !ctl_sweep(&c, &sweep) && sweep == 1, "removed %d", sweep);
		CHECK("stamp after sweep", ctl_build_current(&c) == 1, "stamp differs");
	}
	{
		char err[128];

		CHECK("bad source refused", src_valid("feed:../x", err, sizeof(err)) &&
		      src_valid("other", err, sizeof(err)) && !src_valid("feed:spamhaus-drop_v4",
		      err, sizeof(err)), "validation wrong");
	}
	mxshield_bpf__destroy(skel);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			failures++;
	}
	return failures ? 1 : 0;
}
