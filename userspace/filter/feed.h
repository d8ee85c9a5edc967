/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/feed.c: feeds, lists kept by someone else and fetched on a
 * schedule. Each feed is the source "feed:NAME" of one IP list
 * (filter/source.h): a refresh replaces that source whole, in one build,
 * and never touches the admin's own entries or another feed's.
 *
 * On disk, in the state directory:
 *   feeds          the configuration, one record a feed (state/recfile.h:
 *                  checksummed, written atomically)
 *   feed-status    what the refreshes found: last attempt, last success,
 *                  last change, entries, ETag and Last-Modified of the copy
 *                  held, the last error and when, failures counted
 *   feed.d/NAME.last the last good download, as fetched
 *   feed.d/NAME.tmp  a download under way (parsed whole before anything
 *                  applies; removed when it fails)
 *
 * A refresh that fails in any way (the fetch, the file, a line, too few
 * entries, a shrink past the limit) applies nothing: the source keeps the
 * last good copy's entries, and the error is recorded with its time.
 */
#ifndef MXS_FEED_H
#define MXS_FEED_H

#include <stdbool.h>
#include <stdint.h>

struct ctl;
struct recfile;

#define ST_FEEDS      "feeds"
#define ST_FEEDSTATUS "feed-status"
#define FEED_DIR      "feed.d"

/* Defaults of `feed add`. */
#define FEED_EVERY_DEFAULT    3600		/* seconds */
#define FEED_EVERY_MIN        10
#define FEED_TIMEOUT_DEFAULT  60		/* seconds, the whole transfer */
#define FEED_MAX_SIZE_DEFAULT (64ULL << 20)	/* bytes */
#define FEED_MIN_ENTRIES_DEFAULT 1
#define FEED_MAX_SHRINK_DEFAULT  50		/* percent */
/* A gzip download is checked against the size limit as it comes; its
 * entries, decompressed, may take this many times that, no more (a
 * small file that inflates without end is refused). */
#define FEED_TEXT_FACTOR 16

/* One feed: its configuration and what its refreshes found. */
struct feed {
	char name[64];
	char list[16];		/* trust, gateway or block */
	char url[1024];		/* http(s):// or file:// URL, or an absolute path */
	char format[24];
	uint8_t action;		/* MXS_ACT_* (block list) */
	int64_t every;		/* seconds between refreshes */
	uint64_t min_entries;
	int max_shrink;		/* percent; 100: any shrink */
	int64_t timeout;	/* seconds */
	uint64_t max_size;	/* bytes */
	char cacert[1024];	/* "" : the system's CAs */
	/* status */
	int64_t attempt;	/* last refresh tried (unix seconds), 0: never */
	int64_t success;	/* last one that found a good copy (new or 304) */
	int64_t changed;	/* last one that applied new entries */
	uint64_t entries;	/* in the copy held */
	char etag[256];
	int64_t last_modified;
	char error[512];	/* of the last attempt, "" when it succeeded */
	int64_t error_time;	/* when the last error happened (kept after) */
	char last_error[512];	/* the last error ever (kept after a success) */
	uint64_t failures;	/* refreshes failed, ever */
};

/* A feed's name: [A-Za-z0-9_-][A-Za-z0-9._-]{0,62}. 0, or -1 with err. */
int feed_name_check(const char *name, char *err, size_t errlen);
/* Is @fmt a format a feed may name? */
bool feed_format_known(const char *fmt);
extern const char *const feed_formats[];

/* Every feed, configuration and status, sorted by name: 0 and *v (free
 * it), or 1 after an error. */
int feed_read_all(const struct ctl *c, struct feed **v, int *n);
/* When the feed is next due (unix seconds): at once when never tried;
 * its interval after the last attempt; after a failure, a quarter of it
 * (at least a minute). */
int64_t feed_next_due(const struct feed *f);

/* Record a new feed (the caller holds the state lock). 0, or 1 after an
 * error (one of that name exists). */
int feed_add(const struct ctl *c, const struct feed *f);
/* Remove feed @name: its source from its list (one build), its records,
 * its files. The caller holds the lock and has the filter open
 * (ctl_ensure_loaded). 0, or 1 after an error. */
int feed_del(struct ctl *c, const char *name);

/* What a refresh did. */
enum feed_outcome { FEED_UPDATED, FEED_UNCHANGED, FEED_FAILED, FEED_BUSY };
struct feed_result {
	enum feed_outcome outcome;
	uint64_t entries, before;
	uint64_t bytes;
	char error[512];
};

/* How a refresh opens the filter once it has a good copy to apply. */
enum feed_open {
	FEED_LOAD,		/* ctl_ensure_loaded: a command */
	FEED_IF_LOADED,		/* ctl_open_if_loaded: the service, the timer's
				 * command: never load a filter an admin unloaded
				 * (the state is updated; restore compiles it) */
};

/* Refresh feed @name: download (no lock held meanwhile), parse whole,
 * check, then under the state lock replace its source and record the
 * status. @force: no conditional request, no shrink check. A context of
 * its own is used for the apply; @c gives the directories. 0 and *r
 * (r->outcome says how it went, FEED_FAILED with r->error and the error
 * recorded), or 1 when it could not even start (no such feed). */
int feed_refresh(const struct ctl *c, const char *name, bool force, enum feed_open how,
		 struct feed_result *r);

#endif
