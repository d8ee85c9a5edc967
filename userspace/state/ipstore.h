/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IP lists on disk (trust, gateway, block): a sorted binary snapshot
 * LIST.list and an append-only journal LIST.journal of single changes.
 *
 *   LIST.list     struct st_head, n x struct st_ent sorted by (family,
 *                 address, prefix length), then the comment pool. Written
 *                 whole and atomically (temporary file, fsync, rename).
 *   LIST.journal  one text line per add/update/delete since the snapshot:
 *                 "SEQ + PREFIX ACTION EXPIRES ADDED COMMENT" or
 *                 "SEQ - PREFIX"; appended and fdatasync'ed. Lines with
 *                 SEQ <= the snapshot's seq are already in it (a crash
 *                 between writing a snapshot and clearing the journal);
 *                 a torn last line (no newline) never completed.
 *
 * Both carry CRCs (snapshot: header, chunks of entries, comment pool;
 * journal: every line), and every field is validated when read: a damaged
 * file is an error naming the file and the byte or line, never read as
 * empty (state repair keeps what verifies).
 *
 * A single add or delete costs one journal line, not a rewrite of a
 * million entries; the journal folds into a new snapshot once it is long
 * (ST_JOURNAL_MAX lines) or at the next bulk change. A state directory
 * from before (one text file LIST, state.h format) is read and converted
 * at the next write.
 */
#ifndef MXS_STORE_H
#define MXS_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

/* Journal lines before the next change rewrites the snapshot. Override
 * with -DST_JOURNAL_MAX=... */
#ifndef ST_JOURNAL_MAX
#define ST_JOURNAL_MAX 4096
#endif

struct st_ent {
	uint8_t addr[16];	/* network address, IPv4 in addr[0..3] */
	uint8_t plen;
	uint8_t v6;
	uint8_t action;		/* MXS_ACT_* (block list; else 0) */
	uint8_t del;		/* journal overlay only: a deletion */
	uint32_t comment;	/* offset + 1 into the comment pool, 0 = none */
	int64_t added;		/* unix seconds */
	int64_t expires;	/* unix seconds, 0 = never */
};

/* A list being built whole (import, flush, sweep): entries, any order,
 * and their comment pool. */
struct st_vec {
	struct st_ent *e;
	size_t n, cap;
	char *pool;
	size_t npool, cappool;
};

struct store {
	/* the snapshot (read-only mapping, or memory for a converted file) */
	const struct st_ent *base;
	size_t nbase;
	const char *bpool;
	size_t nbpool;
	void *map;
	size_t maplen;
	bool owned;		/* base/bpool malloc'ed (converted text state) */
	bool legacy;		/* the text file exists: remove at next write */
	/* the journal, applied: sorted, unique, deletions marked */
	struct st_ent *ov;
	size_t nov, capov;
	char *opool;		/* comments of journal entries */
	size_t nopool, capopool;
	uint64_t seq;		/* last change in snapshot + journal */
	size_t njournal;	/* journal lines */
	size_t n;		/* live entries (snapshot + journal) */
	int64_t next_expiry;	/* no entry expires before (0: none expires) */
	/* changes not yet on disk */
	struct st_ent *pend;
	size_t npend, cappend;
	bool full;		/* store_adopt: the next sync writes a snapshot */
	/* how it was read, and what did not verify */
	bool block;		/* the block list: entries carry an action */
	bool readonly;		/* change no file (a torn journal line stays) */
	bool salvage;		/* keep what verifies, count the rest */
	bool verbose;		/* salvage: print each loss on stderr */
	bool jv2;		/* the journal has CRCs (version 2) */
	uint32_t version;	/* of the snapshot read (0: none) */
	bool lost_all;		/* salvage: the snapshot could not be read */
	bool lost_comments;	/* salvage: its comment pool could not */
	size_t lost;		/* salvage: snapshot entries that failed */
	size_t gaps;		/* salvage: places journal lines are missing */
	long lostl[16];		/* salvage: journal lines that failed */
	size_t nlostl;
	struct st_vec keep;	/* salvage: the snapshot's good entries */
	char why[PATH_MAX + 256];	/* the first damage found */
};

struct ctl;
struct mxs_prefix;

/* Open list @name of the state directory. 0, or 1 after printing an error
 * (file:line for a bad journal or legacy line). */
int store_open(const struct ctl *c, const char *name, struct store *s);
/* Read list @name and verify it without changing any file: 0, or 1 after
 * printing what is damaged (FILE: byte N, or FILE:LINE). */
int store_check(const struct ctl *c, const char *name, struct store *s);
/* Read what verifies of a damaged list (state repair): s->lost, gaps,
 * lostl[] and the flags say what did not. 0, or 1 when nothing could be
 * read at all (a missing snapshot is not an error). */
int store_salvage(const struct ctl *c, const char *name, struct store *s, bool verbose);
void store_close(struct store *s);
/* The seq of list @name's last change on disk, from the snapshot's header
 * and the journal's lines (not a full check). 0, or 1 after an error. */
int store_seq(const struct ctl *c, const char *name, uint64_t *seq);
/* The same, and no later than the earliest expiry of an entry (0: none
 * expires; it may be earlier than the truth when a journal line expiring
 * sooner was since replaced or deleted: a sweep then finds nothing). */
int store_peek(const struct ctl *c, const char *name, uint64_t *seq, int64_t *next_expiry);
/* The comment of an entry of @s ("" for none). */
const char *store_comment(const struct store *s, const struct st_ent *e);
/* The live entry with exactly this prefix: a pointer, or NULL. */
const struct st_ent *store_find(const struct store *s, const struct mxs_prefix *p);
/* Visit live entries in order (family, address, prefix length) whose
 * network starts within [lo, hi] (lo, hi: addresses of one family, 16
 * bytes, IPv4 in the first 4); cb returns non-zero to stop. */
int store_each(const struct store *s, int v6, const uint8_t lo[16], const uint8_t hi[16],
	       int (*cb)(const struct st_ent *e, const char *comment, void *arg), void *arg);
/* Every live entry. */
int store_all(const struct store *s,
	      int (*cb)(const struct st_ent *e, const char *comment, void *arg), void *arg);

/* One change in memory: @e replaces (or adds) its prefix's entry, or
 * with e->del set deletes it. 0, or -1 (out of memory). */
int store_apply(struct store *s, const struct st_ent *e, const char *comment);
/* The whole list becomes @v (st_vec_finish'ed), in memory; @v is taken. */
void store_adopt(struct store *s, struct st_vec *v);
/* Make the changes since store_open durable: journal lines (synced), or a
 * new snapshot after store_adopt, a long journal or a legacy text file.
 * 0, or 1 after printing an error (the files on disk are as before). */
int store_sync(const struct ctl *c, const char *name, struct store *s);

int st_vec_push(struct st_vec *v, const struct st_ent *e, const char *comment);
/* Sort by prefix; of equal prefixes the last pushed stays. Returns the
 * number of duplicates dropped, or -1 (out of memory). */
long st_vec_finish(struct st_vec *v);
const char *st_vec_comment(const struct st_vec *v, const struct st_ent *e);
void st_vec_free(struct st_vec *v);

/* Compare two entries by (family, address, prefix length). */
int st_cmp(const struct st_ent *a, const struct st_ent *b);
/* An entry's prefix fields from @p, and back. */
void st_set_prefix(struct st_ent *e, const struct mxs_prefix *p);
void st_prefix(const struct st_ent *e, struct mxs_prefix *p);
/* Every live entry of @s, sorted: *view is the snapshot itself when no
 * change is in memory, else a merged copy in *copy (st_vec_free it
 * either way). Do not keep *view past store_adopt or store_close. 0, or -1
 * (out of memory). */
int store_view(const struct store *s, struct st_vec *view, struct st_vec *copy);

#endif
