/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/build.c: the build layer, from the state on disk to the compiled
 * classifier in the kernel. It collects every list's entries (IP lists
 * from state/ipstore, partners, countries through the database), compiles
 * and installs full builds, patches single changes in place, stamps the
 * live build with the state it carries and reconciles the two after a
 * crash, and sweeps expired entries.
 */
#ifndef MXS_BUILD_H
#define MXS_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include "../../maps/contract.h"
#include "../core/parse.h"
#include "compile.h"
#include "srcset.h"

struct ctl;
struct store;
struct st_ent;
struct cinfo;
struct hitmap;

/*
 * The IP lists an admin keeps entry by entry (each a state/ipstore.h
 * store), one row each: CLI object and state name, slot in the contract's
 * enum mxs_list (its precedence), whether entries carry an action and an
 * expiry, and one line of help. A new IP list is a row here plus its
 * place and meaning in maps/contract.h and maps/precedence.h; the CLI
 * object, its commands and its state files follow from the row. The order
 * of the rows is the order of mxs_cfill.state_seq[] (the build's stamp).
 */
#define MXS_IP_LISTS(X)								\
	X(TRUST, "trust", MXS_LIST_TRUST, false, true,				\
	  "sources that always pass, before every other list (allow list)")	\
	X(GATEWAY, "gateway", MXS_LIST_GATEWAY, false, false,			\
	  "external mail-security gateways in front of the MX")			\
	X(BLOCK, "block", MXS_LIST_BLOCK, true, true,				\
	  "sources dropped at the NIC or tagged for the MTA")

enum mxs_ip_list {
#define X(id, name, list, act, exp, help) MXS_IPL_##id,
	MXS_IP_LISTS(X)
#undef X
	MXS_NIP_LISTS
};
_Static_assert(MXS_NIP_LISTS == MXS_STATE_LISTS,
	       "maps/contract.h: MXS_STATE_LISTS must count the rows of MXS_IP_LISTS");

extern const struct listdef {
	const char *name;	/* CLI object and state file name */
	uint32_t list;		/* enum mxs_list */
	bool has_action, has_expires;
	const char *help;
} ip_lists[MXS_NIP_LISTS];
const struct listdef *listdef_by_id(uint32_t list);
const struct listdef *listdef_by_name(const char *name);

/*
 * Where a build takes the IP lists from: their stores on disk (every
 * source, filter/srcset.h), except one store standing in for its files
 * (@ov: changes not yet written), or sets the caller holds open (@sets,
 * indexed by enum mxs_ip_list, NULL for those to read from disk).
 */
struct build_in {
	const struct src_over *ov;
	struct srcset *const *sets;
};

/* Compile every list from state and install the build. @over_list's
 * entries come from @over instead of its state files (-1: none), countries
 * from @geo_path when given. 0, or 1 after printing an error. */
int ctl_compile(struct ctl *c, int over_list, const struct store *over,
		const char *geo_path, struct cinfo *info);
/* The same, calling @before_switch once the new build is ready and before
 * it goes live (to write the state it was compiled from). */
int ctl_compile_hook(struct ctl *c, int over_list, const struct store *over,
		     const char *geo_path, struct cinfo *info, int (*before_switch)(void *),
		     void *arg);
/* A full build from @in, @before_switch as in ctl_compile_hook. */
int ctl_compile_src(struct ctl *c, const struct build_in *in, int (*before_switch)(void *),
		    void *arg);
/* Patch the live build in place for changes of the prefixes @p[0..n)
 * (sorted), one patch per first-stage span they touch; a full build when
 * one is too wide or the build has no room left. 0, or 1 after an error. */
int ctl_patch_src(struct ctl *c, const struct build_in *in, const struct mxs_prefix *p,
		  size_t n);

/*
 * The last full build, for the metrics (ST_LASTBUILD, one line of
 * key=value): when it went live, how long it took from reading the state
 * to the switch, and c_gen's value it set. It is not part of the
 * crash-safe state (written without fsync or checksum, never compared
 * with the live build's stamp): a lost file only hides these figures until
 * the next build, and `build` tells whether it describes the live build.
 */
struct last_build {
	double time;		/* unix seconds, when it went live */
	double duration;	/* seconds: collect, compile, load, switch */
	double compile_s, load_s;
	uint32_t build;		/* c_gen's value it set */
	uint64_t entries[2];	/* entries compiled, IPv4 and IPv6 */
};
/* 0 and *lb, or -1 (no record, or not one this controller wrote). */
int ctl_last_build(const struct ctl *c, struct last_build *lb);

/* Apply a single change of @p's entry (already in @s, in memory; @old is
 * the entry before it, NULL for none): its journal line first, then the
 * live build patched in place, then the stamp. If the build cannot take
 * it, the change is undone on disk too. 0, or 1 after an error. */
int ctl_commit_change(struct ctl *c, const struct listdef *d, struct store *s,
		      const struct mxs_prefix *p, const struct st_ent *old, const char *oldc);
/* Apply a changed list (store_adopt'ed): a full build made ready, the
 * state written, then the switch and the stamp. 0, or 1. */
int ctl_commit_whole(struct ctl *c, const struct listdef *d, struct store *s);

/*
 * Crash safety. The state on disk is written first (fsync'd, directory
 * included), the data plane changed after, and last the live build is
 * stamped with the state it now carries (struct mxs_cfill). A command or
 * restore that finds the stamp different from the state on disk rebuilds
 * everything from the state (ctl_reconcile): whatever moment a kill -9 or
 * a power loss hits, the next command leaves a filter compiled from
 * exactly what is on disk.
 *
 * The state a build carries: each IP list's seq (ip_lists[] order) and a
 * crc32 of the other inputs. 0, or 1 after an error.
 */
int ctl_state_stamp(const struct ctl *c, uint64_t seq[MXS_NIP_LISTS], uint32_t *other);
/* Stamp the live build with the state on disk (a change is wholly
 * applied). 0, or 1 after an error. */
int ctl_stamp(struct ctl *c);
/* Does the live build carry the state on disk? 1 yes, 0 no, -1 error. */
int ctl_build_current(struct ctl *c);

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
/* Remove expired entries from the state and the live build; *removed
 * counts them. 0, or 1 after an error. */
int ctl_sweep(struct ctl *c, int *removed);

#endif
