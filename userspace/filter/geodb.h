/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/geodb.c: the country database in the state -- loading a new one
 * (`geo load`, and the service's watch of a file), what is known of the
 * one loaded (its build date: the database's metadata build_epoch), and
 * how old it may get before `status` warns.
 *
 * State: ST_GEO (the copy, compiled from) and ST_GEOINFO, one checksummed
 * record (state/recfile.h): build_epoch, type, networks, file (where it
 * was loaded from), loaded (when), max_age (seconds; absent: the default).
 */
#ifndef MXS_GEODB_H
#define MXS_GEODB_H

#include <stdbool.h>
#include <stdint.h>
#include "../../maps/contract.h"
#include "geo.h"

struct ctl;

#define ST_GEOINFO "geoinfo"
#define GEO_MAX_AGE_DEFAULT (30 * 86400)

/* Load @file: checked whole first (a bad database changes nothing), then
 * a build from it made ready, the copy and the record stored, the switch,
 * the stamp. With @may_load the filter is loaded when it is not (the `geo
 * load` command); without (the service), a filter not loaded gets the
 * state alone: the copy and the record, which the next restore compiles.
 * *meta and per[] (prefixes per country, MXS_COUNTRY_SLOTS; may be NULL)
 * are filled. 0, or 1 after an error. */
int geodb_load(struct ctl *c, const char *file, bool may_load, struct geo_meta *meta,
	       uint64_t *per);

struct geo_info {
	bool present;		/* a database is loaded (the copy exists) */
	bool recorded;		/* its record exists (loaded by this version) */
	char type[64], file[256];
	uint64_t build_epoch;	/* 0: unknown */
	int64_t loaded;		/* unix time, 0: unknown */
	int64_t max_age;	/* seconds */
	int64_t age;		/* now - build_epoch, -1 unknown */
	bool stale;		/* age > max_age */
};
/* What is known of the loaded database (a read: no lock taken, nothing
 * written). 0, or 1 after an error. */
int geodb_info(const struct ctl *c, struct geo_info *gi);
/* Set the age past which `status` warns. 0, or 1 after an error. */
int geodb_set_max_age(struct ctl *c, int64_t secs);

#endif
