// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the IP list store (userspace/store.h): journal and
 * snapshot, reopening, torn and stale journal lines, folding a long
 * journal, converting a text state file of an older version.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ctl.h"
#include "core/json.h"
#include "filter/build.h"
#include "filter/loader.h"
#include "filter/stateview.h"
#include "state/recfile.h"
#include "state/ipstore.h"
#include "../check.h"

static struct ctl c;
static char dir[64] = "/tmp/mxs-store.XXXXXX";

static struct st_ent ent(const char *cidr, uint8_t action, int64_t expires)
{
	struct mxs_prefix p;
	struct st_ent e = { .action = action, .expires = expires, .added = 1700000000 };
	char err[MXS_ERRLEN];

	if (parse_prefix(cidr, &p, err, sizeof(err)))
		abort();
	st_set_prefix(&e, &p);
	return e;
}

static const struct st_ent *find(const struct store *s, const char *cidr)
{
	struct mxs_prefix p;
	char err[MXS_ERRLEN];

	if (parse_prefix(cidr, &p, err, sizeof(err)))
		abort();
	return store_find(s, &p);
}

static bool exists(const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return !stat(p, &st);
}

static void append(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "a");
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!strcmp(name, "."))
		rmdir(dir);
	else
		unlink(p);
}

struct seen {
	char order[8][MXS_PFX_STRLEN];
	int n;
};

static int collect(const struct st_ent *e, const char *comment, void *arg)
{
	struct seen *s = arg;
	struct mxs_prefix p;

	st_prefix(e, &p);
	if (s->n < 8)
		prefix_str(&p, s->order[s->n]);
	s->n++;
	return 0;
}

int main(void)
{
	struct store s;
	struct st_ent e;
	const struct st_ent *f;
	struct seen seen = {};
	uint8_t lo[16] = { 198, 51, 100, 0 }, hi[16] = { 198, 51, 100, 255 };
	int rc;

	if (!mkdtemp(dir))
		return 1;
	c.state_dir = dir;

	rc = store_open(&c, "block", &s);
	CHECK("an empty state directory opens as an empty list", !rc && s.n == 0, "rc %d n %zu",
	      rc, s.n);

	e = ent("198.51.100.0/24", MXS_ACT_SPAM, 0);
	store_apply(&s, &e, "a network");
	e = ent("198.51.100.7/32", MXS_ACT_DROP, 1900000000);
	store_apply(&s, &e, "");
	e = ent("2001:db8::/32", MXS_ACT_REJECT, 0);
	store_apply(&s, &e, "six, with spaces");
	e = ent("192.0.2.1/32", MXS_ACT_DROP, 0);
	store_apply(&s, &e, NULL);
	rc = store_sync(&c, "block", &s);
	CHECK("four changes go to the journal, not a snapshot",
	      !rc && exists("block.journal") && !exists("block.list"), "rc %d", rc);
	store_close(&s);

	rc = store_open(&c, "block", &s);
	f = find(&s, "2001:db8::/32");
	CHECK("reopened: the journal's entries are back, comments included",
	      !rc && s.n == 4 && f && f->action == MXS_ACT_REJECT &&
		      !strcmp(store_comment(&s, f), "six, with spaces"),
	      "rc %d n %zu", rc, s.n);
	f = find(&s, "198.51.100.7/32");
	CHECK("... expiry and action of each entry", f && f->expires == 1900000000 &&
	      f->action == MXS_ACT_DROP && s.next_expiry == 1900000000, "wrong entry");
	CHECK("... an exact prefix only (no longest match)", !find(&s, "198.51.100.8/32"),
	      "found");
	store_each(&s, 0, lo, hi, collect, &seen);
	CHECK("a range visits the entries that start in it, in order",
	      seen.n == 2 && !strcmp(seen.order[0], "198.51.100.0/24") &&
		      !strcmp(seen.order[1], "198.51.100.7/32"),
	      "%d entries, first %s", seen.n, seen.order[0]);

	e = ent("198.51.100.7/32", 0, 0);
	e.del = 1;
	store_apply(&s, &e, NULL);
	e = ent("198.51.100.0/24", MXS_ACT_QUARANTINE, 0);
	store_apply(&s, &e, "changed");
	rc = store_sync(&c, "block", &s);
	store_close(&s);
	rc |= store_open(&c, "block", &s);
	f = find(&s, "198.51.100.0/24");
	CHECK("a deletion and an update, reopened", !rc && s.n == 3 &&
	      !find(&s, "198.51.100.7/32") && f && f->action == MXS_ACT_QUARANTINE &&
	      !strcmp(store_comment(&s, f), "changed"), "rc %d n %zu", rc, s.n);
	store_close(&s);

	append("block.journal", "7 + 203.0.113.0/24 1 0 0 torn");
	rc = store_open(&c, "block", &s);
	CHECK("a torn last journal line (a change that never completed) is ignored",
	      !rc && s.n == 3 && !find(&s, "203.0.113.0/24"), "rc %d n %zu", rc, s.n);
	e = ent("203.0.113.128/25", MXS_ACT_DROP, 0);
	store_apply(&s, &e, NULL);
	rc = store_sync(&c, "block", &s);
	store_close(&s);
	rc |= store_open(&c, "block", &s);
	CHECK("... and cut off: the next change after it reads back",
	      !rc && s.n == 4 && find(&s, "203.0.113.128/25"), "rc %d n %zu", rc, s.n);
	e.del = 1;
	store_apply(&s, &e, NULL);
	store_sync(&c, "block", &s);
	store_close(&s);

	{
		struct st_vec v = {};
		long dups;

		e = ent("203.0.113.0/24", MXS_ACT_DROP, 0);
		st_vec_push(&v, &e, "first");
		e = ent("2001:db8:1::/48", MXS_ACT_DROP, 0);
		st_vec_push(&v, &e, NULL);
		e = ent("192.0.2.0/24", MXS_ACT_DROP, 0);
		st_vec_push(&v, &e, NULL);
		e = ent("203.0.113.0/24", MXS_ACT_SPAM, 0);
		st_vec_push(&v, &e, "second");
		dups = st_vec_finish(&v);
		CHECK("a list built whole: sorted, IPv4 first, the last of equal prefixes kept",
		      dups == 1 && v.n == 3 && v.e[0].addr[0] == 192 && v.e[1].addr[0] == 203 &&
			      v.e[1].action == MXS_ACT_SPAM &&
			      !strcmp(st_vec_comment(&v, &v.e[1]), "second") && v.e[2].v6,
		      "dups %ld n %zu", dups, v.n);
		store_open(&c, "block", &s);
		store_adopt(&s, &v);
		rc = store_sync(&c, "block", &s);
		store_close(&s);
	}
	CHECK("a whole list is written as a snapshot; the journal goes",
	      !rc && exists("block.list") && !exists("block.journal"), "rc %d", rc);
	/* a crash between the snapshot's rename and the journal's removal:
	 * the journal's lines carry seqs the snapshot covers */
	append("block.journal", "1 + 198.51.100.0/24 4 0 0 stale\n");
	rc = store_open(&c, "block", &s);
	CHECK("journal lines the snapshot covers already are skipped",
	      !rc && s.n == 3 && !find(&s, "198.51.100.0/24") && find(&s, "2001:db8:1::/48"),
	      "rc %d n %zu", rc, s.n);
	store_close(&s);
	remove_file("block.journal");

	append("block.journal", "9 + not-an-address 1 0 0\n");
	rc = store_open(&c, "block", &s);
	CHECK("a damaged journal line is an error (file:line on stderr)", rc == 1, "rc %d", rc);
	remove_file("block.journal");

	/* a long journal folds into a new snapshot */
	store_open(&c, "block", &s);
	for (int i = 0; i < ST_JOURNAL_MAX + 10; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 256, i % 256);
		e = ent(cidr, MXS_ACT_DROP, 0);
		store_apply(&s, &e, NULL);
	}
	rc = store_sync(&c, "block", &s);
	store_close(&s);
	rc |= store_open(&c, "block", &s);
	CHECK("a journal past ST_JOURNAL_MAX lines folds into the snapshot",
	      !rc && s.n == 3 + ST_JOURNAL_MAX + 10 && !exists("block.journal") &&
		      find(&s, "10.16.9.0/24"),
	      "rc %d n %zu", rc, s.n);
	store_close(&s);

	/* a state directory of an older version: one text file */
	append("trust", "# mxshield state v1\nprefix=192.0.2.0/24\tadded=5\texpires=0\t"
			"comment=old\nprefix=2001:db8::/48\tadded=6\texpires=0\tcomment=\n");
	rc = store_open(&c, "trust", &s);
	f = find(&s, "192.0.2.0/24");
	CHECK("a text state file of an older version is read",
	      !rc && s.n == 2 && f && f->added == 5 && !strcmp(store_comment(&s, f), "old"),
	      "rc %d n %zu", rc, s.n);
	e = ent("198.51.100.1/32", 0, 0);
	store_apply(&s, &e, NULL);
	rc = store_sync(&c, "trust", &s);
	store_close(&s);
	CHECK("... and converted at the next change", !rc && exists("trust.list") &&
	      !exists("trust") && !exists("trust.journal"), "rc %d", rc);
	rc = store_open(&c, "trust", &s);
	CHECK("... keeping every entry", !rc && s.n == 3 && find(&s, "2001:db8::/48"),
	      "rc %d n %zu", rc, s.n);
	store_close(&s);

	{
		/* a state file's records as text (the fleet sync's form) and back */
		struct recfile a = {}, b = {};
		struct rec *r = recfile_add(&a);
		char *t, *t2, err[256];
		size_t n = 0, n2 = 0;

		rec_set(r, "name", "acme");
		rec_set(r, "comment", "tab\there, newline\nthere");
		rec_set(recfile_add(&a), "cc", "CN");
		t = recfile_text(&a, &n);
		rc = t ? recfile_parse(t, n, "etcd", &b, err, sizeof(err)) : -1;
		t2 = rc ? NULL : recfile_text(&b, &n2);
		CHECK("records as text parse back to the same records",
		      !rc && b.n == 2 && !strcmp(rec_get(&b.r[0], "comment"),
						  "tab\there, newline\nthere") &&
			      t2 && n == n2 && !memcmp(t, t2, n),
		      "rc %d n %d", rc, b.n);
		recfile_free(&b);
		rc = recfile_parse("cc=CN\nnot a record\n", 19, "etcd key", &b, err, sizeof(err));
		CHECK("a line that is not a record: refused with WHAT:LINE",
		      rc && b.n == 0 && !strncmp(err, "etcd key:2:", 11), "rc %d: %s", rc, err);
		free(t);
		free(t2);
		recfile_free(&a);
	}

	remove_file("trust.list");
	remove_file("block.list");
	remove_file(".");
	return failures ? 1 : 0;
}
