// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading and pinning: bpffs, the program and its maps, XDP links, the
 * settings that live in the config map. The commands around them are in
 * cmd/iface.c and cmd/status.c.
 *
 * Pins under the bpffs directory: one per map (by name, via libbpf's
 * LIBBPF_PIN_BY_NAME), "prog", and "link_IFNAME" per attached interface.
 * A pinned link keeps the program attached after the controller exits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../core/ctl.h"
#include "../state/recfile.h"
#include "build.h"
#include "install.h"
#include "loader.h"
#include "mxshield.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const map_names[] = {
	"c_gen", "c_dir", "c_node", "c_leaf", "c_rec", "country_policy", "config",
	"stats", "country_stats", "tags", "hit_batch",
};

/* ----------------------------------------------------------------- bpffs */

static bool on_bpffs(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (unsigned long)s.f_type == BPF_FS_MAGIC;
}

static bool private_mount_ns(void)
{
	char a[64] = "", b[64] = "";

	if (readlink("/proc/self/ns/mnt", a, sizeof(a) - 1) < 0 ||
	    readlink("/proc/1/ns/mnt", b, sizeof(b) - 1) < 0)
		return false;
	return strcmp(a, b) != 0;
}

/* Make sure c->bpffs_dir exists on a bpffs, mounting one when missing. */
static int bpffs_ready(struct ctl *c)
{
	const char *mnt;
	int err;

	if (on_bpffs(c->bpffs_dir))
		return 0;
	mnt = strcmp(c->bpffs_dir, MXS_DEFAULT_BPFFS_DIR) ? c->bpffs_dir : "/sys/fs/bpf";
	if (on_bpffs(mnt))
		goto mkdir_pins;
	if (private_mount_ns())
		return ctl_err("%s is not on a bpffs, and this process runs in a private mount "
			       "namespace (ip netns exec?) where a mount would vanish with it: "
			       "mount bpffs outside (mount -t bpf bpf DIR) and pass --bpffs-dir DIR, "
			       "or use nsenter --net=/run/netns/NAME", mnt);
	err = ctl_mkdir_p(mnt, 0700);
	if (err)
		return ctl_err("%s: %s", mnt, strerror(-err));
	if (mount("bpf", mnt, "bpf", 0, "mode=0700"))
		return ctl_err("mounting bpffs on %s: %s", mnt, strerror(errno));
mkdir_pins:
	err = ctl_mkdir_p(c->bpffs_dir, 0700);
	if (err)
		return ctl_err("%s: %s", c->bpffs_dir, strerror(-err));
	if (!on_bpffs(c->bpffs_dir))
		return ctl_err("%s is not on a bpffs", c->bpffs_dir);
	return 0;
}

static void pin_path(const struct ctl *c, const char *name, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", c->bpffs_dir, name) >= (int)len)
		buf[0] = '\0';	/* too long: fails cleanly as "no such pin" */
}

/* A pinned object. BPF_F_RDONLY (c->read_only) is for maps: the kernel
 * refuses a program or a link opened with it. */
static int obj_get_as(const struct ctl *c, const char *name, bool map)
{
	char p[PATH_MAX + 64];
	int fd;

	LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = map && c->read_only ? BPF_F_RDONLY : 0);

	pin_path(c, name, p, sizeof(p));
	fd = bpf_obj_get_opts(p, &o);
	return fd < 0 ? -errno : fd;
}

static int obj_get(const struct ctl *c, const char *name)
{
	return obj_get_as(c, name, true);
}

#define NMAPS (sizeof(map_names) / sizeof(map_names[0]))

/* Maps a filter loaded by an older mxshield does not have: a read or the
 * policy service works without them (their fds are -1) until `restore` or
 * `attach` replaces the program and pins them. The ring buffer "events"
 * is opened by its reader alone (filter_open_events). */
static const char *const opt_map_names[] = {
	"conns", "country_conns", "ev_config", "ev_state",
};
#define NOPT (sizeof(opt_map_names) / sizeof(opt_map_names[0]))

static void optional_fds(struct ctl *c, int *fds[NOPT])
{
	int *all[] = { &c->fd_conns, &c->fd_cconns, &c->fd_evcfg, &c->fd_evstate };

	_Static_assert(sizeof(all) / sizeof(all[0]) == NOPT, "one fd per optional map");
	memcpy(fds, all, sizeof(all));
}

/* Where the fd of each map of map_names[] goes. */
static void pinned_fds(struct ctl *c, int *fds[NMAPS])
{
	int *all[] = {
		&c->mv.c_gen, &c->mv.c_dir, &c->mv.c_node, &c->mv.c_leaf, &c->mv.c_rec,
		&c->mv.country_policy,
		&c->fd_config, &c->fd_stats, &c->fd_cstats, &c->fd_tags, &c->mv.hit_batch,
	};

	_Static_assert(sizeof(all) / sizeof(all[0]) == NMAPS, "one fd per map name");
	memcpy(fds, all, sizeof(all));
}

int ctl_open_pinned(struct ctl *c)
{
	int *fds[NMAPS], *opt[NOPT];

	if (c->loaded)
		return 0;
	if (!on_bpffs(c->bpffs_dir))
		return -ENOENT;
	pinned_fds(c, fds);
	for (size_t i = 0; i < NMAPS; i++) {
		int fd = obj_get(c, map_names[i]);

		if (fd < 0) {
			for (size_t j = 0; j < i; j++)
				close(*fds[j]);
			return fd;
		}
		*fds[i] = fd;
	}
	optional_fds(c, opt);
	for (size_t i = 0; i < NOPT; i++) {
		int fd = obj_get(c, opt_map_names[i]);

		*opt[i] = fd < 0 ? -1 : fd;
	}
	c->loaded = true;
	return 0;
}

int filter_open_events(const struct ctl *c)
{
	char p[PATH_MAX + 64];
	int fd;

	/* read and write: a ring buffer's reader moves its consumer position
	 * in a page of the map (libbpf maps it writable) */
	pin_path(c, "events", p, sizeof(p));
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

/* ---------------------------------------------------------------- config */

int settings_to_config(const struct recfile *settings, struct mxs_config *cfg,
		       char *err, size_t errlen)
{
	const struct rec *r = settings->n ? &settings->r[0] : NULL;
	const char *mode = r ? rec_get(r, "mode") : NULL;
	const char *gw = r ? rec_get(r, "gateway_only") : NULL;
	const char *ports = r ? rec_get(r, "ports") : NULL;

	memset(cfg, 0, sizeof(*cfg));
	if (mode && !strcmp(mode, "monitor"))
		cfg->flags |= MXS_F_MONITOR;
	if (gw && !strcmp(gw, "on"))
		cfg->flags |= MXS_F_GATEWAY_ONLY;
	return parse_ports(ports ? ports : "25,465,587", cfg->ports, &cfg->nports,
			   err, errlen);
}

int settings_to_evconfig(const struct recfile *settings, struct mxs_ev_config *ec,
			 char *err, size_t errlen)
{
	const struct rec *r = settings->n ? &settings->r[0] : NULL;
	const char *rate = r ? rec_get(r, "event_rate") : NULL;
	const char *ps = r ? rec_get(r, "event_per_source") : NULL;
	unsigned long v = MXS_EV_RATE_DEFAULT;
	char *end;

	memset(ec, 0, sizeof(*ec));
	if (rate) {
		errno = 0;
		v = strtoul(rate, &end, 10);
		if (!*rate || *end || rate[0] == '-' || errno || v > MXS_EV_RATE_MAX) {
			snprintf(err, errlen, "event_rate '%s': a number of events a second, "
				 "0 (none) to %u", rate, MXS_EV_RATE_MAX);
			return -1;
		}
	}
	if (ps && strcmp(ps, "on") && strcmp(ps, "off")) {
		snprintf(err, errlen, "event_per_source '%s': on or off", ps);
		return -1;
	}
	ec->rate = v;
	if (!ps || !strcmp(ps, "on"))
		ec->flags |= MXS_EVC_PER_SOURCE;
	return 0;
}

int ctl_apply_config(struct ctl *c, const struct recfile *settings)
{
	struct mxs_config cfg;
	struct mxs_ev_config ec;
	char err[MXS_ERRLEN];
	__u32 zero = 0;

	if (settings_to_config(settings, &cfg, err, sizeof(err)) ||
	    settings_to_evconfig(settings, &ec, err, sizeof(err)))
		return ctl_err("settings: %s", err);
	if (bpf_map_update_elem(c->fd_config, &zero, &cfg, BPF_ANY))
		return ctl_err("config map: %s", bpf_errstr(-errno));
	/* a filter of an older mxshield has no events (restore upgrades it) */
	if (c->fd_evcfg >= 0 && bpf_map_update_elem(c->fd_evcfg, &zero, &ec, BPF_ANY))
		return ctl_err("ev_config map: %s", bpf_errstr(-errno));
	return 0;
}

/* Do the compiled maps pinned here have this controller's layout? An
 * upgrade that changed it needs them made anew (ctl_load does that). */
static bool layout_ok(const struct ctl *c)
{
	__u32 zero = 0, gen = 0;
	int outer[4];

	cmaps_outer(&c->mv, outer);
	bpf_map_lookup_elem(c->mv.c_gen, &zero, &gen);
	for (int w = 0; w < 4; w++) {
		struct bpf_map_info info = {};
		__u32 il = sizeof(info);
		int fd = cmaps_inner_fd(outer[w], MXS_CSLOT(gen & 1, 0));
		bool ok;

		if (fd < 0)
			continue;	/* nothing compiled yet */
		ok = bpf_obj_get_info_by_fd(fd, &info, &il) != 0 ||
		     (info.value_size == cmaps_vsize(w) &&
		      (w != 0 || (info.max_entries == MXS_DIR_LINES &&
				  !(info.map_flags & BPF_F_INNER_MAP))));
		if (ok && w == 3) {	/* the build's own layout, in rec[0] */
			struct mxs_crec r0;
			struct mxs_cfill f;

			if (!bpf_map_lookup_elem(fd, &zero, &r0)) {
				memcpy(&f, &r0, sizeof(f));
				ok = f.layout == MXS_LAYOUT;
			}
		}
		close(fd);
		if (!ok)
			return false;
	}
	return true;
}

static void close_pinned(struct ctl *c)
{
	int *fds[NMAPS], *opt[NOPT];

	pinned_fds(c, fds);
	optional_fds(c, opt);
	for (size_t i = 0; c->loaded && i < NMAPS; i++)
		close(*fds[i]);
	for (size_t i = 0; c->loaded && i < NOPT; i++)
		if (*opt[i] >= 0)
			close(*opt[i]);
	c->loaded = false;
}

void ctl_close_pinned(struct ctl *c)
{
	close_pinned(c);
}

/* The maps of the compiled classifier, made anew when their layout
 * changes; the others (config, policies, counters, tags) carry over. */
static const char *const cmap_names[] = {
	"c_gen", "c_dir", "c_node", "c_leaf", "c_rec", "hit_batch",
};

enum aside { ASIDE, BACK, DROP };

/* Move the compiled maps' pins aside ("old_NAME"), back, or drop the ones
 * set aside. The program attached now keeps its own references: it runs
 * on until replaced. */
static void set_aside(const struct ctl *c, enum aside how)
{
	for (size_t i = 0; i < sizeof(cmap_names) / sizeof(cmap_names[0]); i++) {
		char cur[PATH_MAX + 64], old[PATH_MAX + 64], n[64];

		pin_path(c, cmap_names[i], cur, sizeof(cur));
		snprintf(n, sizeof(n), "old_%s", cmap_names[i]);
		pin_path(c, n, old, sizeof(old));
		if (how == ASIDE) {
			rename(cur, old);
		} else if (how == BACK) {
			unlink(cur);
			rename(old, cur);
		} else {
			unlink(old);
		}
	}
}

int ctl_apply_policies(struct ctl *c)
{
	struct recfile f;
	int rc = 0;

	if (ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	for (__u32 cc = 0; cc < MXS_COUNTRY_SLOTS && !rc; cc++) {
		struct mxs_country_policy p = {};
		char code[3];
		int i;

		country_code(cc, code);
		i = recfile_find(&f, "cc", code);
		if (i >= 0) {
			char err[MXS_ERRLEN];

			if (parse_action(rec_get(&f.r[i], "action"), &p.action, err, sizeof(err)))
				rc = ctl_err("countries:%d: %s", f.r[i].line, err);
		}
		if (!rc && bpf_map_update_elem(c->mv.country_policy, &cc, &p, BPF_ANY))
			rc = ctl_err("country_policy map: %s", bpf_errstr(-errno));
	}
	recfile_free(&f);
	return rc;
}

/* ------------------------------------------------------------------ load */

/*
 * Load the program. Maps already pinned are reused by libbpf (pinned by
 * name); missing ones are created, pinned, and filled from the state
 * directory before anything can be attached, so the filter never runs on
 * half-loaded lists. Returns the program fd or -1 (error printed).
 */
static int ctl_load(struct ctl *c)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = c->bpffs_dir);
	struct mxshield_bpf *skel;
	struct recfile settings;
	char p[PATH_MAX + 64];
	int err, prog_fd = -1;
	bool upgrade = false, fresh;

	/* libbpf's own messages only on request: ours name the problem */
	if (!getenv("MXSHIELD_DEBUG"))
		libbpf_set_print(NULL);
	/* an upgrade that changed the compiled classifier's layout: new maps
	 * for it, filled from state, while the old program runs on its own */
	if (!ctl_open_pinned(c) && !layout_ok(c)) {
		upgrade = true;
		cmaps_carry_hits(&c->mv);	/* if their records can be read */
		set_aside(c, ASIDE);
	}
	close_pinned(c);
	skel = mxshield_bpf__open_opts(&oo);
	if (!skel) {
		ctl_err("opening the BPF object: %s", bpf_errstr(-errno));
		goto out;
	}
	err = mxshield_bpf__load(skel);
	if (err) {
		ctl_err("loading the XDP program: %s", bpf_errstr(err));
		goto out;
	}
	if (ctl_open_pinned(c)) {
		ctl_err("maps were not pinned under %s", c->bpffs_dir);
		goto out;
	}
	/* a build first (from the state directory), unless one is live */
	fresh = cmaps_live(&c->mv) != 1;
	if (fresh && ctl_compile(c, -1, NULL, NULL, NULL))
		goto out;
	if (ctl_read(c, ST_SETTINGS, &settings))
		goto out;
	err = ctl_apply_config(c, &settings);
	recfile_free(&settings);
	if (err || ctl_apply_policies(c))
		goto out;
	/* a build made here carries the state; one found live is checked
	 * against it by ctl_reconcile */
	if (fresh && ctl_stamp(c))
		goto out;

	/* the links hold the program; the pin is for status and bpftool */
	pin_path(c, "prog", p, sizeof(p));
	unlink(p);
	if (bpf_program__pin(skel->progs.mxs_xdp, p)) {
		ctl_err("pinning the program at %s: %s", p, strerror(errno));
		goto out;
	}
	prog_fd = dup(bpf_program__fd(skel->progs.mxs_xdp));
out:
	if (upgrade && prog_fd < 0) {
		close_pinned(c);
		set_aside(c, BACK);	/* as before */
	} else if (upgrade) {
		set_aside(c, DROP);	/* the old program holds its own */
	}
	mxshield_bpf__destroy(skel);
	return prog_fd;
}

static int layout_refused(const struct ctl *c)
{
	return ctl_err("the maps pinned under %s were made by an mxshield with "
		       "another layout of the compiled classifier: 'mxshield restore' "
		       "(or 'attach IFACE') upgrades them in place, the filter "
		       "running throughout", c->bpffs_dir);
}

int ctl_ensure_loaded(struct ctl *c)
{
	int fd, removed;

	if (c->readonly)	/* a read that would load: a bug, not a load */
		return ctl_err("internal error: a read-only command asked to load the filter");
	if (ctl_lock(c) || bpffs_ready(c))
		return 1;
	if (!ctl_open_pinned(c) && !layout_ok(c))
		return layout_refused(c);
	if (!c->loaded) {
		fd = ctl_load(c);
		if (fd < 0)
			return 1;
		close(fd);
	}
	if (ctl_reconcile(c))
		return 1;
	return ctl_sweep(c, &removed);
}

int ctl_open_if_loaded(struct ctl *c)
{
	int err;

	if (ctl_lock(c))
		return 1;
	err = ctl_open_pinned(c);
	if (err == -ENOENT)
		return 0;	/* not loaded: the state alone */
	if (err)
		return ctl_err("%s: %s", c->bpffs_dir, bpf_errstr(err));
	if (!layout_ok(c))
		return layout_refused(c);
	return ctl_reconcile(c);
}

int ctl_reconcile(struct ctl *c)
{
	struct recfile settings;
	int cur = ctl_build_current(c), rc;

	if (cur < 0)
		return 1;
	if (cur)
		return 0;
	fprintf(stderr, "mxshield: the live filter was not built from the state on disk (a "
		"change was interrupted, or it is new): rebuilding it from the state\n");
	if (ctl_compile(c, -1, NULL, NULL, NULL) || ctl_read(c, ST_SETTINGS, &settings))
		return 1;
	rc = ctl_apply_config(c, &settings);
	recfile_free(&settings);
	if (rc || ctl_apply_policies(c))
		return 1;
	return ctl_stamp(c);
}

int ctl_open_ro(struct ctl *c)
{
	int err;

	if (ctl_lock_ro(c))
		return 1;
	err = ctl_open_pinned(c);
	if (err == -ENOENT)
		return 0;	/* not loaded: the caller answers from state */
	if (err)
		return ctl_err("%s: %s", c->bpffs_dir, bpf_errstr(err));
	if (!layout_ok(c)) {
		close_pinned(c);
		return layout_refused(c);
	}
	return 0;
}

/* ---------------------------------------------------------------- links */

static void link_pin(const struct ctl *c, const char *ifname, char *buf, size_t len)
{
	char name[64];

	if (snprintf(name, sizeof(name), "link_%s", ifname) >= (int)sizeof(name))
		name[0] = '\0';
	pin_path(c, name, buf, len);
}

int filter_link(const struct ctl *c, const char *ifname, struct link_state *ls)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char name[64];

	memset(ls, 0, sizeof(*ls));
	if (snprintf(name, sizeof(name), "link_%s", ifname) >= (int)sizeof(name))
		return -ENAMETOOLONG;
	ls->fd = obj_get_as(c, name, false);
	if (ls->fd < 0)
		return ls->fd;
	if (bpf_obj_get_info_by_fd(ls->fd, &info, &len)) {
		int e = -errno;

		close(ls->fd);
		ls->fd = -1;
		return e;
	}
	ls->ifindex = info.xdp.ifindex;
	ls->prog_id = info.prog_id;
	return 0;
}

int filter_links(const struct ctl *c, char names[][IF_NAMESIZE], int max)
{
	DIR *d = opendir(c->bpffs_dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		if (strncmp(e->d_name, "link_", 5) || strlen(e->d_name + 5) >= IF_NAMESIZE)
			continue;
		memcpy(names[n++], e->d_name + 5, strlen(e->d_name + 5) + 1);
	}
	closedir(d);
	return n;
}

int filter_iface_state(struct ctl *c, const char *ifname, const char *mode)
{
	struct recfile f;
	int i, rc;

	if (ctl_read(c, ST_IFACES, &f))
		return 1;
	i = recfile_find(&f, "iface", ifname);
	if (mode) {
		struct rec *r = i >= 0 ? &f.r[i] : recfile_add(&f);

		rec_set(r, "iface", ifname);
		rec_set(r, "mode", mode);
	} else if (i >= 0) {
		recfile_del(&f, i);
	}
	rc = ctl_write(c, ST_IFACES, &f);
	recfile_free(&f);
	return rc;
}

int filter_prepare(struct ctl *c)
{
	return ctl_lock(c) || bpffs_ready(c);
}

int filter_load(struct ctl *c)
{
	int fd = ctl_load(c);

	if (fd >= 0 && ctl_reconcile(c)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The mode an interface was attached in, from the state ("" if none). */
static void recorded_mode(struct ctl *c, const char *ifname, char *out, size_t len)
{
	struct recfile f;
	const char *m = NULL;
	int i;

	out[0] = '\0';
	if (ctl_read(c, ST_IFACES, &f))
		return;
	i = recfile_find(&f, "iface", ifname);
	if (i >= 0)
		m = rec_get(&f.r[i], "mode");
	if (m)
		snprintf(out, len, "%s", m);
	recfile_free(&f);
}

/* A new XDP link of @prog_fd on @ifindex, pinned. 0, or 1 after an error. */
static int link_new(struct ctl *c, const char *ifname, unsigned ifindex, const char *mode,
		    int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo,
		    .flags = strcmp(mode, "native") ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	char path[PATH_MAX + 64];
	int lfd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);

	if (lfd < 0) {
		int e = errno;

		if (e == EBUSY || e == EEXIST)
			return ctl_err("%s: another XDP program is attached (detach it first: "
				       "ip link set dev %s xdp off)", ifname, ifname);
		if (e == EOPNOTSUPP || e == EINVAL)
			return ctl_err("%s: %s mode XDP not supported by this driver (%s); "
				       "try --mode generic", ifname, mode, strerror(e));
		return ctl_err("%s: attaching XDP: %s", ifname, bpf_errstr(-e));
	}
	link_pin(c, ifname, path, sizeof(path));
	if (bpf_obj_pin(lfd, path)) {
		ctl_err("pinning the link at %s: %s", path, strerror(errno));
		close(lfd);	/* closing the only fd detaches it */
		return 1;
	}
	close(lfd);
	return 0;
}

int filter_attach(struct ctl *c, const char *ifname, unsigned ifindex, const char *mode,
		  int prog_fd)
{
	struct link_state ls;
	char path[PATH_MAX + 64], old[16];

	if (filter_link(c, ifname, &ls) == 0) {
		if (ls.ifindex == ifindex) {
			/* attached already: the new program replaces the old
			 * one on the link, atomically, in the same mode */
			recorded_mode(c, ifname, old, sizeof(old));
			if (old[0] && strcmp(old, mode)) {
				close(ls.fd);
				return ctl_err("%s: attached in %s mode; detach first to change "
					       "the mode", ifname, old);
			}
			if (bpf_link_update(ls.fd, prog_fd, NULL)) {
				ctl_err("%s: replacing the program: %s", ifname,
					bpf_errstr(-errno));
				close(ls.fd);
				return 1;
			}
			close(ls.fd);
			return 0;
		}
		/* stale pin: its interface is gone (or was recreated) */
		close(ls.fd);
		link_pin(c, ifname, path, sizeof(path));
		unlink(path);
	}
	return link_new(c, ifname, ifindex, mode, prog_fd);
}

void filter_update_links(struct ctl *c, int prog_fd)
{
	char links[MXS_MAX_LINKS][IF_NAMESIZE];
	int n = filter_links(c, links, MXS_MAX_LINKS);

	for (int i = 0; i < n; i++) {
		struct link_state ls;

		if (filter_link(c, links[i], &ls) == 0) {
			if (ls.ifindex)
				bpf_link_update(ls.fd, prog_fd, NULL);
			close(ls.fd);
		}
	}
}

int filter_detach(struct ctl *c, const char *ifname)
{
	char path[PATH_MAX + 64];
	struct link_state ls;
	int err;

	link_pin(c, ifname, path, sizeof(path));
	err = filter_link(c, ifname, &ls);
	if (err == -ENOENT)
		return ctl_err("%s: not attached (no pin %s)", ifname, path);
	if (err)
		return ctl_err("%s: %s", path, bpf_errstr(err));
	if (ls.ifindex && bpf_link_detach(ls.fd)) {
		ctl_err("%s: detaching: %s", ifname, bpf_errstr(-errno));
		close(ls.fd);
		return 1;
	}
	close(ls.fd);
	unlink(path);
	return filter_iface_state(c, ifname, NULL);
}

int filter_reconcile_live(struct ctl *c)
{
	if (ctl_open_pinned(c) || !layout_ok(c))
		return 0;	/* nothing live, or a layout that attach upgrades */
	return ctl_reconcile(c);
}

int filter_unload(struct ctl *c, int *detached)
{
	char links[MXS_MAX_LINKS][IF_NAMESIZE], path[PATH_MAX + 64];
	int n;

	*detached = -1;
	if (!on_bpffs(c->bpffs_dir))
		return 0;
	n = filter_links(c, links, MXS_MAX_LINKS);
	for (int i = 0; i < n; i++) {
		struct link_state ls;

		if (filter_link(c, links[i], &ls) == 0) {
			if (ls.ifindex)
				bpf_link_detach(ls.fd);
			close(ls.fd);
		}
		link_pin(c, links[i], path, sizeof(path));
		unlink(path);
	}
	for (size_t i = 0; i < NMAPS; i++) {
		pin_path(c, map_names[i], path, sizeof(path));
		unlink(path);
	}
	for (size_t i = 0; i < NOPT; i++) {
		pin_path(c, opt_map_names[i], path, sizeof(path));
		unlink(path);
	}
	pin_path(c, "events", path, sizeof(path));
	unlink(path);
	set_aside(c, DROP);	/* from an upgrade cut short, if any */
	pin_path(c, "prog", path, sizeof(path));
	unlink(path);
	if (strcmp(c->bpffs_dir, MXS_DEFAULT_BPFFS_DIR) == 0)
		rmdir(c->bpffs_dir);
	*detached = n;
	return 0;
}

/* ---------------------------------------------------------------- status */

__u32 filter_prog_id(const struct ctl *c)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = c->loaded ? obj_get_as(c, "prog", false) : -1;

	if (fd < 0)
		return 0;
	bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return info.id;
}

static long map_memlock(int fd)
{
	char p[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

long filter_memory(const struct ctl *c, uint64_t compiled[2])
{
	int fds[] = { c->mv.c_gen, c->mv.country_policy, c->fd_config, c->fd_stats,
		      c->fd_cstats, c->fd_tags, c->fd_conns, c->fd_cconns, c->fd_evcfg,
		      c->fd_evstate };
	long total = 0;
	int ev;

	compiled[0] = compiled[1] = 0;
	if (!c->loaded)
		return 0;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			total += map_memlock(fds[i]);
	ev = obj_get(c, "events");
	if (ev >= 0) {
		total += map_memlock(ev);
		close(ev);
	}
	cmaps_memory(&c->mv, compiled);
	return total + compiled[0] + compiled[1];
}

int filter_set_setting(struct ctl *c, const char *key, const char *val)
{
	struct recfile s;
	struct mxs_config old, cfg;
	struct mxs_ev_config ec;
	char err[MXS_ERRLEN];
	__u32 zero = 0;
	int rc;

	if (ctl_ensure_loaded(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	if (bpf_map_lookup_elem(c->fd_config, &zero, &old))
		memset(&old, 0, sizeof(old));
	rec_set(s.n ? &s.r[0] : recfile_add(&s), key, val);
	/* validated, written, applied, stamped (crash safety: build.c) */
	rc = settings_to_config(&s, &cfg, err, sizeof(err)) ||
	     settings_to_evconfig(&s, &ec, err, sizeof(err)) ? ctl_err("%s", err) : 0;
	if (!rc)
		rc = ctl_write(c, ST_SETTINGS, &s);
	if (!rc && (rc = ctl_apply_config(c, &s)))
		bpf_map_update_elem(c->fd_config, &zero, &old, BPF_ANY); /* undo */
	if (!rc)
		rc = ctl_stamp(c);
	recfile_free(&s);
	return rc;
}
