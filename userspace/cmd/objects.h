/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The CLI objects, one per file of cmd/ (each file's own table of
 * commands), listed in cmd/objects.c in the order of `mxshield help`.
 */
#ifndef MXS_OBJECTS_H
#define MXS_OBJECTS_H

#include "../core/cli.h"
#include "../filter/build.h"

#define SECTION_FILTER "The filter"
#define SECTION_LISTS  "Source lists (at the NIC)"
#define SECTION_READ   "Reading"
#define SECTION_STATE  "State"
#define SECTION_MTA    "Mail-server side (Postfix)"

extern const struct cli_obj obj_attach, obj_detach, obj_restore, obj_unload;	/* iface.c */
extern const struct cli_obj obj_status, obj_mode, obj_gateway_only;		/* status.c */
extern const struct cli_obj obj_iplist[MXS_NIP_LISTS];				/* iplist.c */
extern const struct cli_obj obj_partner;					/* partner.c */
extern const struct cli_obj obj_feed;						/* feed.c */
extern const struct cli_obj obj_country, obj_geo;				/* country.c */
extern const struct cli_obj obj_lookup;						/* lookup.c */
extern const struct cli_obj obj_stats, obj_tags;				/* stats.c */
extern const struct cli_obj obj_top;						/* top.c */
extern const struct cli_obj obj_events;						/* events.c */
extern const struct cli_obj obj_metrics;					/* metrics.c */
extern const struct cli_obj obj_state, obj_sweep;				/* state.c */
extern const struct cli_obj obj_envelope[5], obj_org;				/* envelope.c */
extern const struct cli_obj obj_policy;						/* policy.c */
extern const struct cli_obj obj_sync, obj_fleet;					/* sync.c */
extern const struct cli_obj obj_dnsbl;						/* dnsbl.c */
extern const struct cli_obj obj_serve;						/* serve.c */
extern const struct cli_obj obj_quarantine;					/* quarantine.c */
extern const struct cli_obj obj_language;					/* language.c */
extern const struct cli_obj obj_route;						/* route.c */
extern const struct cli_obj obj_milter, obj_content;				/* milter.c */
extern const struct cli_obj obj_auto;						/* auto.c */
extern const struct cli_obj obj_gen;						/* main.c */

/* Fill cli_objects (main() does, first). */
void cli_list_objects(void);

/* Shared option values. */
extern const char *const cli_actions[];		/* drop reject quarantine spam */
extern const char *const cli_tag_actions[];	/* reject quarantine spam */
extern const char *const cli_list_formats[];	/* table import */
/* Options shared by lists: list --format; import --replace, --allow-empty. */
extern const struct cli_opt cli_list_opts[], cli_import_opts[];

#endif
