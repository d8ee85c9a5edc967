/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/loader.c: the filter in the kernel -- bpffs, the program and its
 * pinned maps (loaded, upgraded in place, filled from the state before
 * anything is attached), the XDP links, the config map.
 *
 * Pins under the bpffs directory: one per map (by name, via libbpf's
 * LIBBPF_PIN_BY_NAME), "prog", and "link_IFNAME" per attached interface.
 */
#ifndef MXS_LOADER_H
#define MXS_LOADER_H

#include <net/if.h>
#include <stdint.h>
#include <linux/types.h>

struct ctl;
struct recfile;
struct mxs_config;

/* Interfaces one filter attaches to, at most. */
#define MXS_MAX_LINKS 64

/* Make sure the program and maps are loaded and pinned (loading them and
 * filling every list from the state directory if they are not), rebuild
 * from the state if the live build does not carry it, open the maps,
 * sweep expired entries. 0, or 1 after printing an error. */
int ctl_ensure_loaded(struct ctl *c);
/* The lock, and the pinned maps when a filter is loaded (never loads one:
 * c->loaded tells), its build reconciled with the state. For the
 * service's upkeep, which must not load a filter an admin unloaded. 0, or
 * 1 after an error. */
int ctl_open_if_loaded(struct ctl *c);
/* Open the pinned maps only: 0, or -ENOENT when not loaded. */
int ctl_open_pinned(struct ctl *c);
/* The drop events' ring buffer of the loaded filter, opened for reading
 * (its reader writes its position): an fd, or a negative errno (-ENOENT:
 * not loaded, or loaded by an mxshield without events). */
int filter_open_events(const struct ctl *c);
/* A read: the shared lock, then the pinned maps if a filter is loaded
 * (c->loaded tells). 0, or 1 after an error (maps of another layout). */
int ctl_open_ro(struct ctl *c);
/* Close the maps ctl_open_pinned() opened (c->loaded false again). */
void ctl_close_pinned(struct ctl *c);
/* Rebuild everything from the state on disk when the live build does not
 * carry it (an interrupted change). 0, or 1 after an error. */
int ctl_reconcile(struct ctl *c);
/* Every country's policy from the countries file into the country_policy
 * map (no policy: none). 0, or 1 after an error. */
int ctl_apply_policies(struct ctl *c);

/* Settings -> struct mxs_config, and write it to the config map. */
int settings_to_config(const struct recfile *settings, struct mxs_config *cfg,
		       char *err, size_t errlen);
/* Settings event_rate (default MXS_EV_RATE_DEFAULT) and event_per_source
 * (on|off, default on) -> struct mxs_ev_config. 0, or -1 with @err set. */
int settings_to_evconfig(const struct recfile *settings, struct mxs_ev_config *ec,
			 char *err, size_t errlen);
/* Both into their maps (ev_config only if the loaded filter has it). */
int ctl_apply_config(struct ctl *c, const struct recfile *settings);
/* Change one setting: validated, written, applied, stamped. 0, or 1. */
int filter_set_setting(struct ctl *c, const char *key, const char *val);

/* The lock and a bpffs for the pins (mounted when missing). 0, or 1. */
int filter_prepare(struct ctl *c);
/* Load (or upgrade in place) the program over the pinned maps, filled
 * from the state: the program's fd, or -1 after an error. */
int filter_load(struct ctl *c);
/* Attach @prog_fd to @ifname in @mode ("native", "generic"), replacing
 * the program on an existing link. 0, or 1 after an error. */
int filter_attach(struct ctl *c, const char *ifname, unsigned ifindex, const char *mode,
		  int prog_fd);
/* Put @prog_fd on every pinned link (after an upgrade). */
void filter_update_links(struct ctl *c, int prog_fd);
/* Record (mode) or forget (NULL) an interface in the state. 0, or 1. */
int filter_iface_state(struct ctl *c, const char *ifname, const char *mode);
/* Detach from @ifname and forget it. 0, or 1 after an error. */
int filter_detach(struct ctl *c, const char *ifname);
/* A filter left live: rebuild it if it does not carry the state. 0, or 1. */
int filter_reconcile_live(struct ctl *c);
/* Detach everywhere and remove every pin (state kept); *detached is the
 * number of links, -1 when nothing was loaded. 0. */
int filter_unload(struct ctl *c, int *detached);

/* An attached interface's link. */
struct link_state {
	int fd;
	__u32 ifindex;		/* 0: the interface is gone */
	__u32 prog_id;
};
/* 0 and *ls (close ls->fd), or a negative errno (-ENOENT: not attached). */
int filter_link(const struct ctl *c, const char *ifname, struct link_state *ls);
/* The names of the pinned links, i.e. the attached interfaces. */
int filter_links(const struct ctl *c, char names[][IF_NAMESIZE], int max);
/* The loaded program's id (0: none). */
__u32 filter_prog_id(const struct ctl *c);
/* Kernel memory of the maps (compiled[] the classifier's, per family). */
long filter_memory(const struct ctl *c, uint64_t compiled[2]);

#endif
