/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/geo.c: reading MaxMind-format country databases (libmaxminddb).
 */
#ifndef MXS_GEO_H
#define MXS_GEO_H

#include "../core/parse.h"

struct pfx_vec {
	struct mxs_prefix *v;
	uint32_t *ref;		/* optional per-prefix value (country index) */
	size_t n, cap;
};

int pfx_vec_push(struct pfx_vec *pv, const struct mxs_prefix *p, uint32_t ref);
void pfx_vec_free(struct pfx_vec *pv);

struct geo_meta {
	char type[64];		/* database_type */
	uint64_t build_epoch;
	uint64_t networks;	/* data-carrying networks walked */
	const char *schema;	/* "country.iso_code" or "country_code" */
};

/* The metadata of a database alone (type, build_epoch; networks 0,
 * schema NULL): no walk. 0, or -1 with err. */
int geo_meta_read(const char *path, struct geo_meta *meta, char *err, size_t errlen);

/* Walk every network of a MaxMind-format database. Networks whose country
 * index has want[idx] set are appended to *out (ref = country index).
 * want may be NULL for all countries. per_country[676] (optional) counts
 * prefixes per country. Returns 0, or -1 with err. */
int geo_collect(const char *path, const uint8_t *want, struct pfx_vec *out,
		uint64_t *per_country, struct geo_meta *meta,
		char *err, size_t errlen);
/* The same for the networks that meet @under only. */
int geo_collect_under(const char *path, const uint8_t *want, const struct mxs_prefix *under,
		      struct pfx_vec *out, char *err, size_t errlen);
/* Country of one address: 0 and code filled, 1 if not found, -1 on error. */
int geo_country_of(const char *path, const struct mxs_prefix *addr,
		   char code[3], char *err, size_t errlen);

#endif
