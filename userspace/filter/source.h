/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/source.c: changing the sources of an IP list (filter/srcset.h):
 * a feed's whole copy at once, a source removed, and the coalescer that
 * turns single pushes (DNSBL verdicts, automatic blocks: one address at a
 * time, thousands a second in an attack) into batches: one journal write
 * and fsync per source, in-place patches of the live build, one stamp.
 */
#ifndef MXS_SOURCE_H
#define MXS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../state/ipstore.h"
#include "build.h"

struct ctl;

/* Source @src of list @d becomes @v (taken): written, then one full
 * build (state first, switch after: a crash between is reconciled).
 * The caller holds the lock (and has the filter open if loaded: else the
 * state alone changes). 0, or 1 after an error (nothing changed). */
int source_replace(struct ctl *c, const struct listdef *d, const char *src, struct st_vec *v);
/* Remove source @src of list @d entirely: 0 (also when it had no files),
 * or 1 after an error. */
int source_remove(struct ctl *c, const struct listdef *d, const char *src);
/* Read source @src of list @d (a missing source is empty). 0, or 1. */
int source_open(const struct ctl *c, const struct listdef *d, const char *src,
		struct store *s);

/* Pending pushes at most; srcq_push refuses beyond (counted). Override
 * with -DSRCQ_MAX=... */
#ifndef SRCQ_MAX
#define SRCQ_MAX 1000000
#endif

/* The service applies a batch this long after its first push (a burst is
 * one batch), at once when SRCQ_BATCH are waiting, and tries again this
 * soon when a change held the lock. */
#ifndef SRCQ_WINDOW_MS
#define SRCQ_WINDOW_MS 10
#endif
#ifndef SRCQ_BATCH
#define SRCQ_BATCH 4096
#endif
#ifndef SRCQ_RETRY_MS
#define SRCQ_RETRY_MS 5
#endif

struct srcq_stats {
	uint64_t pushed;	/* accepted by srcq_push */
	uint64_t refused;	/* queue full */
	uint64_t applied;	/* written and live */
	uint64_t flushes;	/* batches applied */
	uint64_t busy;		/* flushes put off: the state was locked */
	uint64_t failed;	/* flushes that failed (the batch stays queued) */
	uint64_t reopens;	/* lists read again (changed by someone else) */
	double last_flush_s;	/* how long the last batch took */
	size_t last_batch;	/* its size */
};

struct srcq;

struct srcq *srcq_new(void);
void srcq_free(struct srcq *q);
/* Queue one change of source @src of list @d: @e added or replaced, or
 * with e->del set removed. Never blocks. 0, or -1 (invalid source, queue
 * full or out of memory). */
int srcq_push(struct srcq *q, const struct listdef *d, const char *src, const struct st_ent *e,
	      const char *comment);
size_t srcq_pending(const struct srcq *q);
/* The monotonic time (seconds) of the oldest pending push (0: none). */
double srcq_oldest(const struct srcq *q);
/*
 * Apply everything queued, as one batch. @c names the state and bpffs
 * directories: the flush takes the state directory's lock without waiting
 * and opens the filter if one is loaded, and lets both go before it
 * returns (a lock or open maps @c already holds stay as they are). 0 when applied (or nothing queued), 1 when the
 * lock was busy (retry soon), -1 after an error (logged through ctl_err;
 * the batch stays queued).
 */
int srcq_flush(struct ctl *c, struct srcq *q);
void srcq_stats(const struct srcq *q, struct srcq_stats *st);

#endif
