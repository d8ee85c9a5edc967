// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `mxshield state check|repair`: the health of the state directory, and
 * rebuilding a damaged file from what of it verifies; `mxshield sweep`.
 *
 *   state check          every file: sound or damaged (where, why); the
 *                        live filter: built from this state or not.
 *                        Exit 0 only when all are sound. Changes nothing.
 *   state repair NAME    NAME one of the IP lists or the text state files:
 *                        the damaged files go aside as FILE.damaged.STAMP,
 *                        a new file is written from what verifies, and the
 *                        entries and journal lines lost are named.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <maxminddb.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../filter/build.h"
#include "../filter/geodb.h"
#include "../filter/loader.h"
#include "../mta/auto.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "objects.h"

/* The text state files, in the order check lists them. */
static const char *const text_files[] = {
	ST_SETTINGS, ST_IFACES, ST_PARTNERS, ST_COUNTRIES, ST_ENVELOPE, ST_GEOINFO,
	ST_AUTO_RULES, ST_AUTO_OFFENCES,
};

static void report(struct ctl *c, const char *name, bool ok, const char *detail)
{
	if (c->json) {
		jw_obj();
		jw_kstr("name", name);
		jw_kbool("ok", ok);
		jw_kstr(ok ? "detail" : "error", detail);
		jw_end_obj();
	} else {
		printf("%-10s %s%s%s\n", name, ok ? "ok" : "DAMAGED", *detail ? ": " : "", detail);
	}
}

static int check_store(struct ctl *c, const char *name)
{
	char detail[64];
	struct store s;
	int rc = store_check(c, name, &s);

	if (!rc)
		snprintf(detail, sizeof(detail), "%zu entries, change %llu", s.n,
			 (unsigned long long)s.seq);
	report(c, name, !rc, rc ? s.why : detail);
	store_close(&s);
	return rc;
}

/* An IP list: its manual entries, then each of its sources. */
static int check_ip(struct ctl *c, const struct listdef *d)
{
	char names[SRC_MAX][SRC_NAMELEN], sname[128];
	int bad = check_store(c, d->name), n = src_names(c, d->name, names, SRC_MAX);

	if (n < 0)
		return bad + 1;
	for (int i = 0; i < n; i++) {
		src_store_name(d->name, names[i], sname, sizeof(sname));
		bad += check_store(c, sname);
	}
	return bad;
}

static int check_text(struct ctl *c, const char *name)
{
	char p[PATH_MAX], err[PATH_MAX + 256], detail[64];
	struct recfile f;
	int rc;

	state_path(c, name, p, sizeof(p));
	rc = state_read(p, &f, err, sizeof(err)) ? 1 : 0;
	if (!rc)
		snprintf(detail, sizeof(detail), "%d records", f.n);
	report(c, name, !rc, rc ? err : detail);
	recfile_free(&f);
	return rc;
}

static int check_geo(struct ctl *c)
{
	char p[PATH_MAX], detail[PATH_MAX + 64];
	struct stat st;
	MMDB_s db;
	int e;

	state_path(c, ST_GEO, p, sizeof(p));
	if (stat(p, &st)) {
		report(c, ST_GEO, true, "none loaded");
		return 0;
	}
	e = MMDB_open(p, MMDB_MODE_MMAP, &db);
	if (e != MMDB_SUCCESS) {
		snprintf(detail, sizeof(detail), "%s: %s", p, MMDB_strerror(e));
		report(c, ST_GEO, false, detail);
		return 1;
	}
	snprintf(detail, sizeof(detail), "%s, built %llu", db.metadata.database_type,
		 (unsigned long long)db.metadata.build_epoch);
	MMDB_close(&db);
	report(c, ST_GEO, true, detail);
	return 0;
}

static int state_check(struct ctl *c)
{
	int bad = 0, cur;

	if (c->json) {
		jw_obj();
		jw_key("files");
		jw_arr();
	}
	for (int l = 0; l < MXS_NIP_LISTS; l++)
		bad += check_ip(c, &ip_lists[l]);
	for (size_t i = 0; i < sizeof(text_files) / sizeof(text_files[0]); i++)
		bad += check_text(c, text_files[i]);
	bad += check_geo(c);
	if (c->json)
		jw_end_arr();
	/* the live filter, when there is one: built from this state? */
	cur = ctl_open_pinned(c) ? -2 : bad ? -1 : ctl_build_current(c);
	if (c->json) {
		jw_key("filter");
		jw_str(cur == -2 ? "not loaded" : cur == 1 ? "current" : cur == 0 ? "stale" :
		       "unknown");
		jw_ku64("damaged", bad);
		jw_end_obj();
	} else {
		printf("%-10s %s\n", "filter", cur == -2 ? "not loaded" :
		       cur == 1 ? "built from this state" :
		       cur == 0 ? "NOT built from this state: the next change or 'mxshield "
				  "restore' rebuilds it" : "unknown (damaged state)");
		printf("%d file%s damaged%s\n", bad, bad == 1 ? "" : "s",
		       bad ? ": 'mxshield state repair NAME' rebuilds one from what verifies" : "");
	}
	return bad || cur == 0 ? 1 : 0;
}

/* Move @path aside as PATH.damaged.STAMP (when it exists). */
static int set_aside(const char *path, const char *stamp, char *out, size_t outlen)
{
	char to[PATH_MAX + 64];

	snprintf(to, sizeof(to), "%s.damaged.%s", path, stamp);
	if (rename(path, to)) {
		if (errno == ENOENT)
			return 0;
		return ctl_err("%s: %s", path, strerror(errno));
	}
	fsync_parent(to);
	snprintf(out, outlen, "%s", to);
	return 0;
}

static int repair_ip(struct ctl *c, const char *name, const char *stamp)
{
	char snap[PATH_MAX], jour[PATH_MAX], n[128], a1[PATH_MAX + 64] = "",
	     a2[PATH_MAX + 64] = "";
	struct store s;

	if (!store_check(c, name, &s)) {
		store_close(&s);
		printf("%s: sound, nothing to repair\n", name);
		return 0;
	}
	store_close(&s);
	if (store_salvage(c, name, &s, !c->json))
		return 1;
	snprintf(n, sizeof(n), "%s.list", name);
	state_path(c, n, snap, sizeof(snap));
	snprintf(n, sizeof(n), "%s.journal", name);
	state_path(c, n, jour, sizeof(jour));
	if (set_aside(snap, stamp, a1, sizeof(a1)) || set_aside(jour, stamp, a2, sizeof(a2))) {
		store_close(&s);
		return 1;
	}
	s.full = true;	/* everything that verified, as a new snapshot */
	s.version = 0;
	if (store_sync(c, name, &s)) {
		store_close(&s);
		return 1;
	}
	if (c->json) {
		jw_obj();
		jw_kstr("list", name);
		jw_ku64("entries", s.n);
		jw_kbool("snapshot_unreadable", s.lost_all);
		jw_ku64("snapshot_entries_lost", s.lost);
		jw_kbool("comments_lost", s.lost_comments);
		jw_ku64("journal_lines_lost", s.nlostl);
		jw_ku64("journal_gaps", s.gaps);
		jw_key("journal_lines");
		jw_arr();
		for (size_t i = 0; i < s.nlostl && i < 16; i++)
			jw_u64(s.lostl[i]);
		jw_end_arr();
		jw_kstr("damaged_snapshot", a1);
		jw_kstr("damaged_journal", a2);
		jw_end_obj();
	} else {
		printf("%s: rebuilt with %zu entries\n", name, s.n);
		if (s.lost_all)
			printf("  lost: the whole snapshot (unreadable)\n");
		else if (s.lost)
			printf("  lost: %zu snapshot entr%s that failed their checksum or checks\n",
			       s.lost, s.lost == 1 ? "y" : "ies");
		if (s.lost_comments)
			printf("  lost: the snapshot's comments\n");
		if (s.nlostl) {
			printf("  lost: %zu journal line%s:", s.nlostl, s.nlostl == 1 ? "" : "s");
			for (size_t i = 0; i < s.nlostl && i < 16; i++)
				printf(" %ld", s.lostl[i]);
			printf("%s\n", s.nlostl > 16 ? " ..." : "");
		}
		if (s.gaps)
			printf("  lost: journal changes missing in %zu place%s\n", s.gaps,
			       s.gaps == 1 ? "" : "s");
		if (*a1)
			printf("  kept aside: %s\n", a1);
		if (*a2)
			printf("  kept aside: %s\n", a2);
	}
	store_close(&s);
	return 0;
}

static int repair_text(struct ctl *c, const char *name, const char *stamp)
{
	char p[PATH_MAX], err[PATH_MAX + 256], aside[PATH_MAX + 64] = "";
	struct recfile f;
	int lost, lines[16];

	state_path(c, name, p, sizeof(p));
	if (!state_read(p, &f, err, sizeof(err))) {
		recfile_free(&f);
		printf("%s: sound, nothing to repair\n", name);
		return 0;
	}
	if (state_salvage(p, &f, &lost, lines))
		return ctl_err("%s: %s", p, strerror(errno));
	if (set_aside(p, stamp, aside, sizeof(aside)) || ctl_write(c, name, &f)) {
		recfile_free(&f);
		return 1;
	}
	if (c->json) {
		jw_obj();
		jw_kstr("file", name);
		jw_ku64("records", f.n);
		jw_ku64("lines_lost", lost);
		jw_key("lines");
		jw_arr();
		for (int i = 0; i < lost && i < 16; i++)
			jw_u64(lines[i]);
		jw_end_arr();
		jw_kstr("damaged_file", aside);
		jw_end_obj();
	} else {
		printf("%s: rebuilt with %d records; %d line%s lost", name, f.n, lost,
		       lost == 1 ? "" : "s");
		for (int i = 0; i < lost && i < 16; i++)
			printf("%s%d", i ? " " : " (", lines[i]);
		printf("%s\n  kept aside: %s\n", lost ? ")" : "", aside);
	}
	recfile_free(&f);
	return 0;
}

static int state_repair(struct ctl *c, const char *name)
{
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	int rc = -1;

	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&t, &tm));
	if (ctl_lock(c))
		return 1;
	for (int l = 0; l < MXS_NIP_LISTS; l++) {
		char sname[128], err[128];
		size_t len = strlen(ip_lists[l].name);

		if (!strcmp(name, ip_lists[l].name))
			rc = repair_ip(c, name, stamp);
		/* a source: sources/LIST/SOURCE */
		if (!strncmp(name, "sources/", 8) && !strncmp(name + 8, ip_lists[l].name, len) &&
		    name[8 + len] == '/' && !src_valid(name + 9 + len, err, sizeof(err))) {
			src_store_name(ip_lists[l].name, name + 9 + len, sname, sizeof(sname));
			rc = repair_ip(c, sname, stamp);
		}
	}
	for (size_t i = 0; i < sizeof(text_files) / sizeof(text_files[0]); i++)
		if (!strcmp(name, text_files[i]))
			rc = repair_text(c, name, stamp);
	if (rc < 0)
		return ctl_err("state repair: '%s' is not a state file (trust, gateway, block, "
			       "sources/LIST/SOURCE as 'state check' names them, settings, ifaces, "
			       "partners, countries, envelope, geoinfo, auto-rules, auto-offences)",
			       name);
	/* a live filter follows the repaired state */
	if (!rc && !ctl_open_pinned(c))
		rc = ctl_reconcile(c);
	return rc;
}

static int do_check(struct ctl *c, const struct cli_args *a)
{
	if (ctl_lock_ro(c))
		return 1;
	c->json_result = true;	/* the report, damaged or not */
	return state_check(c);
}

static int do_repair(struct ctl *c, const struct cli_args *a)
{
	return state_repair(c, a->pos[0]);
}

static int do_sweep(struct ctl *c, const struct cli_args *a)
{
	int removed;

	if (ctl_lock(c) || ctl_ensure_loaded(c))
		return 1;
	/* ctl_ensure_loaded swept already; sweep again to report a count */
	if (ctl_sweep(c, &removed))
		return 1;
	if (c->json) {
		jw_obj();
		jw_ku64("removed", removed);
		jw_end_obj();
	} else {
		printf("swept %d expired entr%s\n", removed, removed == 1 ? "y" : "ies");
	}
	return 0;
}

static const struct cli_cmd state_cmds[] = {
	{ "check", do_check, NULL, 0, 0,
	  "Check every state file (checksums, every field) and whether the live filter "
	  "carries this state. Exit 0 only when all is sound; changes nothing." },
	{ "repair", do_repair, "NAME", 1, 1,
	  "Set a damaged state file aside (FILE.damaged.STAMP) and write it anew from "
	  "what of it verifies, naming what was lost. NAME: an IP list (trust, gateway, "
	  "block) or settings, ifaces, partners, countries, envelope, geoinfo, auto-rules, "
	  "auto-offences.", .complete = "@state" },
	{ 0 }
};
static const struct cli_cmd sweep_cmds[] = {
	{ NULL, do_sweep, NULL, 0, 0,
	  "Remove expired entries from the state and the filter (the data plane ignores "
	  "them already)." },
	{ 0 }
};

const struct cli_obj obj_state = {
	"state", "the state directory's health", state_cmds, .section = SECTION_STATE,
};
const struct cli_obj obj_sweep = {
	"sweep", "remove expired entries", sweep_cmds, .verb = true, .section = SECTION_STATE,
};
