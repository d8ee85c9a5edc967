/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/sync.c: the fleet's shared lists through etcd (docs/fleet.md).
 *
 * Each edge keeps, next to its own lists, the fleet's view of each shared
 * list as etcd last told it (an ipstore under sync/view/, checksummed like
 * every list). What differs between the edge's list and that view is the
 * edge's own change not yet in etcd: it is written to etcd (a transaction
 * that checks the list's generation it read), comes back to every edge
 * through the watch, and is applied there to both. Local changes take
 * effect at once and wait in this difference while etcd cannot be reached.
 *
 * In etcd, under the prefix P (default /mxshield/):
 *   P kv/UNIT/m            the list's manifest: generation, chunks, entries
 *   P kv/UNIT/e/PREFIX     a single change since the manifest (or "del")
 *   P blob/UNIT/GEN/N      the snapshot's chunks (<= 1 MiB each)
 *   P kv/file/NAME         a state file shared whole: its records
 *   P edge/NAME            each edge's status, bound to a lease
 * UNIT is "block", "trust", "gateway", or "block.auto", "block.dnsbl" for
 * the block list's sources; NAME "partners", "countries", "envelope". The watch covers P kv/ only: a replace's chunks
 * are read once, at the revision of the manifest that names them.
 */
#ifndef MXS_SYNC_H
#define MXS_SYNC_H

#include <stdbool.h>
#include <stdint.h>

struct ctl;

/* State files (in the state directory) */
#define ST_SYNC_CONF  "sync-conf"	/* endpoints, prefix, name (sync serve) */
#define ST_SYNC_STATE "sync-state"	/* the applied revision, the cluster */
#define ST_SYNC_STATUS "sync-status"	/* lag, last error, connection (not fsync'd) */

struct sync_conf {
	const char *endpoints;
	const char *prefix;	/* ends in '/' */
	const char *name;	/* this edge */
	const char *cert, *key, *cacert;
	const char *share;	/* comma-separated units, NULL: the default */
};

/* Run until @stop becomes true (a signal handler sets it). 0 when stopped,
 * 1 after an error that keeps it from starting (bad configuration). */
int sync_run(struct ctl *c, const struct sync_conf *cf, volatile int *stop);

/* What an edge reports about itself (ST_SYNC_STATUS, and its fleet key). */
struct sync_status {
	int64_t rev;		/* applied revision */
	double lag;		/* seconds since it was last known current */
	double caught_up;	/* that moment (unix seconds) */
	double time;		/* when written (unix seconds) */
	bool connected;
	uint64_t digest;	/* of the shared lists' live entries */
	uint64_t changes_in, changes_out, full_reads, errors;
	char endpoint[256];
	char error[512];	/* last error ("" none) */
	char name[128];
};
/* Read this edge's status file: 0, 1 when there is none (not a fleet
 * member), -1 after an error. */
int sync_status_read(const struct ctl *c, struct sync_status *st);
/* The digest of this edge's shared lists, as the sync publishes it. */
int sync_digest(struct ctl *c, const char *share, uint64_t *digest);

/* The fleet as etcd sees it: every edge's key under P edge/. */
struct fleet_edge {
	struct sync_status st;
	int64_t mod_rev;
};
int fleet_read(const struct sync_conf *cf, struct fleet_edge **edges, int *n, int64_t *rev,
	       char *err, size_t errlen);

/* Save / read the configuration `sync serve` ran with (fleet status uses it). */
int sync_conf_save(const struct ctl *c, const struct sync_conf *cf);
struct recfile;
int sync_conf_load(const struct ctl *c, struct recfile *f, struct sync_conf *cf);

#endif
