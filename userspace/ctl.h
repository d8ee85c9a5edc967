/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The controller's run-time context and the pieces its commands share. */
#ifndef MXS_CTL_H
#define MXS_CTL_H

#include "mxs.h"
#include "state.h"
#include "json.h"

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
	bool readonly;		/* a read: no state, pin or mount changes (ctl_lock_ro) */
	bool loaded;
	bool read_only;		/* open the pinned maps with BPF_F_RDONLY */
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

/*
 * Read-only commands (status, lookup, stats, tags, the lists' list) change
 * nothing: no bpffs mount, no pin, no program or map loaded, no state
 * directory, lock file or state file created or written, no sweep.
 * ctl_lock_ro() takes a shared lock on the state directory's lock file if
 * there is one; ctl_open_ro() does that and opens the pinned maps if a
 * filter is loaded (c->loaded tells). 0, or 1 after printing an error
 * (ctl_open_ro: maps of another layout, which this controller cannot read).
 */
int ctl_lock_ro(struct ctl *c);
/* 0, or 1 after an error: the state directory is group- or world-writable,
 * or belongs to another user than this one or root. */
int ctl_state_dir_safe(const struct ctl *c);
int ctl_open_ro(struct ctl *c);
/* Exit status of stats and tags when no filter is loaded (LSB's "program
 * is not running"): not an error of the command, nothing to read. */
#define MXS_EXIT_NOT_LOADED 3
/* Say that nothing is loaded ({"loaded": false} with --json); returns
 * MXS_EXIT_NOT_LOADED. */
int ctl_not_loaded(struct ctl *c, const char *what);

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
/* The same, calling @before_switch once the new build is ready and before
 * it goes live (to write the state it was compiled from). */
int ctl_compile_hook(struct ctl *c, int over_list, const struct store *over,
		     const char *geo_path, struct cinfo *info, int (*before_switch)(void *),
		     void *arg);
/* The state on disk that a build carries: each IP list's seq (ip_lists[]
 * order) and a crc32 of the other inputs. 0, or 1 after an error. */
int ctl_state_stamp(const struct ctl *c, uint64_t seq[3], uint32_t *other);
/* Stamp the live build with the state on disk (a change is wholly
 * applied). 0, or 1 after an error. */
int ctl_stamp(struct ctl *c);
/* Does the live build carry the state on disk? 1 yes, 0 no, -1 error. */
int ctl_build_current(struct ctl *c);
/* Rebuild everything from the state on disk when the live build does not
 * carry it (an interrupted change). 0, or 1 after an error. */
int ctl_reconcile(struct ctl *c);
/* The entries of one list, from state (countries: from the stored
 * database, for the countries with a policy). 0, or 1 after an error. */
int ctl_collect(struct ctl *c, uint32_t list, struct rule_vec fam[2]);
/* The same for the entries that meet @span only (those that cover it and
 * those inside it). */
int ctl_collect_span(struct ctl *c, uint32_t list, const struct mxs_prefix *span,
		     struct rule_vec fam[2]);
/* Longest live entry of @list that covers @addr (with its hit counters
 * from @hm, when given): 1 and *out, or 0. */
int ctl_list_match(struct ctl *c, uint32_t list, const struct mxs_prefix *addr,
		   uint64_t now_tai, const struct hitmap *hm, struct mxs_rule *out);
/* One content line of an import file (cut up in place), CSV
 * "address[,action[,expiry[,comment]]]": the entry for list @d into @e
 * (action @defact unless given, expiry a duration from @now, added @now)
 * and *comment (NULL without a comment column). 0, or -1 with @err. */
struct st_ent;
int ctl_import_line(const struct listdef *d, char *line, uint8_t defact, int64_t now,
		    struct st_ent *e, const char **comment, char *err, size_t errlen);
int ctl_sweep(struct ctl *c, int *removed);

/* The filter's settings and country policies as the state directory has
 * them (what a load puts into the config and country_policy maps). */
int ctl_state_config(struct ctl *c, struct mxs_config *cfg);
/* The policy action of country index @cc: from the loaded filter's map,
 * or from the state directory when nothing is loaded. */
uint8_t ctl_country_action(struct ctl *c, uint32_t cc);
/* The verdict the filter gives @addr once loaded, from the state
 * directory alone (readonly.c): the entries of every list that cover
 * @addr, decided by mxs_decide() of maps/mxshield.h -- the precedence the
 * compiler builds into the live classifier. 0, or 1 after an error. */
int ctl_state_classify(struct ctl *c, const struct mxs_prefix *addr, uint32_t flags,
		       uint64_t now_tai, struct mxs_verdict *v);

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
int cmd_state(struct ctl *c, int argc, char **argv);

#endif
