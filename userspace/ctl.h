/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The controller's run-time context and the pieces its commands share. */
#ifndef MXS_CTL_H
#define MXS_CTL_H

#include "mxs.h"
#include "state.h"
#include "json.h"
#include <zlib.h>

#define MXS_DEFAULT_STATE_DIR "/var/lib/mxshield"
#define MXS_DEFAULT_BPFFS_DIR "/sys/fs/bpf/mxshield"

/* State files in the state directory. */
#define ST_SETTINGS  "settings"		/* mode, gateway-only, ports */
#define ST_IFACES    "ifaces"		/* interfaces attached, with mode */
#define ST_PARTNERS  "partners"
#define ST_COUNTRIES "countries"
#define ST_GEO       "geo.mmdb"		/* copy of the loaded database */

struct ctl {
	const char *state_dir;
	const char *bpffs_dir;
	bool json;
	int lock_fd;
	bool loaded;
	int fd_config, fd_stats, fd_cstats, fd_tags;
	struct mxs_maps_view mv;	/* compiled build, country_policy */
};

/* Print "mxshield: MESSAGE" on stderr; returns 1 (the exit status). */
int ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Explain a negative errno from a BPF call in admin terms. */
const char *bpf_errstr(int err);

void state_path(const struct ctl *c, const char *name, char *buf, size_t len);
int ctl_lock(struct ctl *c);
/* Make sure the program and maps are loaded and pinned (loading them and
 * filling every list from the state directory if they are not), open the
 * maps, sweep expired entries. Returns 0, or 1 after printing an error. */
int ctl_ensure_loaded(struct ctl *c);
/* Open the pinned maps only: 0, or -ENOENT when not loaded. */
int ctl_open_pinned(struct ctl *c);

/* Read/write one state file; errors printed, return 1. */
int ctl_read(const struct ctl *c, const char *name, struct recfile *f);
int ctl_write(const struct ctl *c, const char *name, const struct recfile *f);

/* Settings -> struct mxs_config, and write it to the config map. */
int settings_to_config(const struct recfile *settings, struct mxs_config *cfg,
		       char *err, size_t errlen);
int ctl_apply_config(struct ctl *c, const struct recfile *settings);

/* Lists (lists.c) */
extern const struct listdef {
	const char *name;	/* CLI object and state file name */
	uint32_t list;
	bool has_action, has_expires;
} ip_lists[3];
const struct listdef *listdef_by_id(uint32_t list);
/* Compile every list from state and install the build. @over_list's
 * entries come from @over instead of its state files (-1: none), countries
 * from @geo_path when given. 0, or 1 after printing an error. */
struct store;
int ctl_compile(struct ctl *c, int over_list, const struct store *over,
		const char *geo_path, struct cinfo *info);
/* The entries of one list, from state (countries: from the stored
 * database, for the countries with a policy). 0, or 1 after an error. */
int ctl_collect(struct ctl *c, uint32_t list, struct rule_vec fam[2]);
/* Longest live entry of @list that covers @addr (with its hit counters
 * from @hm, when given): 1 and *out, or 0. */
int ctl_list_match(struct ctl *c, uint32_t list, const struct mxs_prefix *addr,
		   uint64_t now_tai, const struct hitmap *hm, struct mxs_rule *out);
/* The next content line of an import file (plain or gzip): trailing
 * newline and @trail characters cut, leading blanks skipped, blank lines
 * and '#' comments passed over. 1 with *start set, 0 at the end, -1 for a
 * line longer than @len (reported as PATH:LINE, the rest of it skipped). */
int ctl_next_line(gzFile gz, char *line, size_t len, const char *path, long *lineno,
		  const char *trail, char **start);
/* One content line of an import file (cut up in place), CSV
 * "address[,action[,expiry[,comment]]]": the entry for list @d into @e
 * (action @defact unless given, expiry a duration from @now, added @now)
 * and *comment (NULL without a comment column). 0, or -1 with @err. */
struct st_ent;
int ctl_import_line(const struct listdef *d, char *line, uint8_t defact, int64_t now,
		    struct st_ent *e, const char **comment, char *err, size_t errlen);
int ctl_sweep(struct ctl *c, int *removed);

/* Options of one sub-command: "--name value" pairs and positionals. */
struct cmd_args {
	const char *pos[4];
	int npos;
	const char *opt[8];	/* values, parallel to the allowed names */
};
int get_args(int argc, char **argv, const char *const *allowed, int maxpos,
	     struct cmd_args *a);
const char *arg(const struct cmd_args *a, const char *const *allowed, const char *name);

/* Commands */
int cmd_attach(struct ctl *c, int argc, char **argv);
int cmd_detach(struct ctl *c, int argc, char **argv);
int cmd_unload(struct ctl *c, int argc, char **argv);
int cmd_restore(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_mode(struct ctl *c, int argc, char **argv);
int cmd_gateway_only(struct ctl *c, int argc, char **argv);
int cmd_iplist(struct ctl *c, const char *obj, int argc, char **argv);
int cmd_partner(struct ctl *c, int argc, char **argv);
int cmd_country(struct ctl *c, int argc, char **argv);
int cmd_geo(struct ctl *c, int argc, char **argv);
int cmd_sweep(struct ctl *c, int argc, char **argv);
int cmd_lookup(struct ctl *c, int argc, char **argv);
int cmd_stats(struct ctl *c, int argc, char **argv);
int cmd_tags(struct ctl *c, int argc, char **argv);

#endif
