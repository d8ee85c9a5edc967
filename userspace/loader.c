// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading and pinning: bpffs, the program and its maps, XDP links, the
 * settings that live in the config map, and the commands around them
 * (attach, detach, unload, status, mode, gateway-only).
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
#include "ctl.h"
#include "mxshield.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const map_names[] = {
	"c_gen", "c_dir", "c_node", "c_leaf", "c_rec", "country_policy", "config",
	"stats", "country_stats", "tags", "hit_batch",
};

int ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("mxshield: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

const char *bpf_errstr(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return "permission denied (mxshield needs root: CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)";
	case E2BIG:
	case ENOSPC:
		return "list is full (raise MXS_MAX_ENTRIES in maps/mxshield.h and rebuild)";
	case ENOMEM:
		return "out of kernel memory";
	default:
		return strerror(-err);
	}
}

void state_path(const struct ctl *c, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", c->state_dir, name);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The state directory is trusted only when nobody else can change it: not
 * group- or world-writable, owned by this user (or root, as for a service
 * that reads root's state under a user of its own). */
int ctl_state_dir_safe(const struct ctl *c)
{
	struct stat st;

	if (stat(c->state_dir, &st))
		return errno == ENOENT ? 0 : ctl_err("state directory %s: %s", c->state_dir,
						    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ctl_err("state directory %s: not a directory", c->state_dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return ctl_err("state directory %s is writable by %s (mode %04o): refused; "
			       "'chmod go-w %s' if that is not meant", c->state_dir,
			       st.st_mode & S_IWOTH ? "everyone" : "its group",
			       st.st_mode & 07777, c->state_dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return ctl_err("state directory %s belongs to uid %u, not to this user (uid %u) "
			       "or root: refused", c->state_dir, st.st_uid, geteuid());
	return 0;
}

int ctl_lock(struct ctl *c)
{
	char p[PATH_MAX];
	int err;

	if (c->lock_fd >= 0)
		return 0;
	if (ctl_state_dir_safe(c))
		return 1;
	err = mkdir_p(c->state_dir, 0700);
	if (err)
		return ctl_err("state directory %s: %s", c->state_dir, strerror(-err));
	state_path(c, ".lock", p, sizeof(p));
	c->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return ctl_err("%s: %s", p, strerror(errno));
	/* every command that reads or changes state runs alone: no update
	 * is ever lost between concurrent invocations */
	if (flock(c->lock_fd, LOCK_EX))
		return ctl_err("%s: lock: %s", p, strerror(errno));
	return 0;
}

int ctl_read(const struct ctl *c, const char *name, struct recfile *f)
{
	char p[PATH_MAX], err[PATH_MAX + 256];

	state_path(c, name, p, sizeof(p));
	if (state_read(p, f, err, sizeof(err)))
		return ctl_err("%s", err);
	return 0;
}

int ctl_write(const struct ctl *c, const char *name, const struct recfile *f)
{
	char p[PATH_MAX], err[PATH_MAX + 256];

	if (c->readonly)
		return ctl_err("internal error: a read-only command asked to write %s", name);
	state_path(c, name, p, sizeof(p));
	if (state_write(p, f, err, sizeof(err)))
		return ctl_err("writing state: %s", err);
	return 0;
}

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
	err = mkdir_p(mnt, 0700);
	if (err)
		return ctl_err("%s: %s", mnt, strerror(-err));
	if (mount("bpf", mnt, "bpf", 0, "mode=0700"))
		return ctl_err("mounting bpffs on %s: %s", mnt, strerror(errno));
mkdir_pins:
	err = mkdir_p(c->bpffs_dir, 0700);
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

static int obj_get(const struct ctl *c, const char *name)
{
	char p[PATH_MAX + 64];
	int fd;

	LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = c->read_only ? BPF_F_RDONLY : 0);

	pin_path(c, name, p, sizeof(p));
	fd = bpf_obj_get_opts(p, &o);
	return fd < 0 ? -errno : fd;
}

#define NMAPS (sizeof(map_names) / sizeof(map_names[0]))

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
	int *fds[NMAPS];

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
	c->loaded = true;
	return 0;
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

int ctl_apply_config(struct ctl *c, const struct recfile *settings)
{
	struct mxs_config cfg;
	char err[MXS_ERRLEN];
	__u32 zero = 0;

	if (settings_to_config(settings, &cfg, err, sizeof(err)))
		return ctl_err("settings: %s", err);
	if (bpf_map_update_elem(c->fd_config, &zero, &cfg, BPF_ANY))
		return ctl_err("config map: %s", bpf_errstr(-errno));
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
	int *fds[NMAPS];

	pinned_fds(c, fds);
	for (size_t i = 0; c->loaded && i < NMAPS; i++)
		close(*fds[i]);
	c->loaded = false;
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

static int apply_policies(struct ctl *c)
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
	if (err || apply_policies(c))
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
	if (rc || apply_policies(c))
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

static void link_pin_name(const char *ifname, char *buf, size_t len)
{
	if (snprintf(buf, len, "link_%s", ifname) >= (int)len)
		buf[0] = '\0';
}

struct link_state {
	int fd;
	__u32 ifindex;		/* 0: the interface is gone */
	__u32 prog_id;
};

static int link_open(const struct ctl *c, const char *pin, struct link_state *ls)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	ls->fd = obj_get(c, pin);
	if (ls->fd < 0)
		return ls->fd;
	if (bpf_obj_get_info_by_fd(ls->fd, &info, &len)) {
		close(ls->fd);
		return -errno;
	}
	ls->ifindex = info.xdp.ifindex;
	ls->prog_id = info.prog_id;
	return 0;
}

/* Names of the pinned links, i.e. the attached interfaces. */
static int list_links(const struct ctl *c, char names[][IF_NAMESIZE], int max)
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

static int set_iface_state(struct ctl *c, const char *ifname, const char *mode)
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

static const char *const attach_opts[] = { "mode", "ports", NULL };

int cmd_attach(struct ctl *c, int argc, char **argv)
{
	struct cmd_args a;
	const char *ifname, *mode, *ports;
	char pin[64], path[PATH_MAX + 64], err[MXS_ERRLEN];
	char links[64][IF_NAMESIZE];
	struct link_state ls;
	unsigned ifindex;
	int prog_fd, rc = 1, n;

	if (get_args(argc, argv, attach_opts, 1, &a) || a.npos != 1)
		return ctl_err("usage: mxshield attach IFACE [--mode native|generic] [--ports 25,465,587]");
	ifname = a.pos[0];
	mode = arg(&a, attach_opts, "mode");
	ports = arg(&a, attach_opts, "ports");
	if (!mode)
		mode = "native";
	if (strcmp(mode, "native") && strcmp(mode, "generic"))
		return ctl_err("'%s': mode must be native or generic", mode);
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return ctl_err("%s: no such interface in this network namespace", ifname);
	if (ctl_lock(c) || bpffs_ready(c))
		return 1;
	if (ports) {
		struct recfile s;
		uint16_t pv[MXS_MAX_PORTS];
		uint32_t np;

		if (parse_ports(ports, pv, &np, err, sizeof(err)))
			return ctl_err("%s", err);
		if (ctl_read(c, ST_SETTINGS, &s))
			return 1;
		rec_set(s.n ? &s.r[0] : recfile_add(&s), "ports", ports);
		rc = ctl_write(c, ST_SETTINGS, &s);
		recfile_free(&s);
		if (rc)
			return 1;
		rc = 1;
	}
	/* a fresh load: after an upgrade the new program replaces the old
	 * one on every link, atomically, over the same maps */
	prog_fd = ctl_load(c);
	if (prog_fd < 0)
		return 1;
	if (ctl_reconcile(c)) {
		close(prog_fd);
		return 1;
	}

	link_pin_name(ifname, pin, sizeof(pin));
	pin_path(c, pin, path, sizeof(path));
	if (link_open(c, pin, &ls) == 0) {
		if (ls.ifindex == ifindex) {
			struct recfile f;
			int i;
			const char *old = NULL;

			if (ctl_read(c, ST_IFACES, &f))
				goto out_link;
			i = recfile_find(&f, "iface", ifname);
			if (i >= 0)
				old = rec_get(&f.r[i], "mode");
			if (old && strcmp(old, mode)) {
				ctl_err("%s: attached in %s mode; detach first to change the mode",
					ifname, old);
				recfile_free(&f);
				goto out_link;
			}
			recfile_free(&f);
			if (bpf_link_update(ls.fd, prog_fd, NULL)) {
				ctl_err("%s: replacing the program: %s", ifname, bpf_errstr(-errno));
				goto out_link;
			}
			close(ls.fd);
			goto others;
		}
		/* stale pin: its interface is gone (or was recreated) */
		close(ls.fd);
		unlink(path);
	}
	{
		LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = strcmp(mode, "native") ? XDP_FLAGS_SKB_MODE
							    : XDP_FLAGS_DRV_MODE);
		int lfd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);

		if (lfd < 0) {
			int e = errno;

			if (e == EBUSY || e == EEXIST)
				ctl_err("%s: another XDP program is attached (detach it first: "
					"ip link set dev %s xdp off)", ifname, ifname);
			else if (e == EOPNOTSUPP || e == EINVAL)
				ctl_err("%s: %s mode XDP not supported by this driver (%s); "
					"try --mode generic", ifname, mode, strerror(e));
			else
				ctl_err("%s: attaching XDP: %s", ifname, bpf_errstr(-e));
			goto out;
		}
		if (bpf_obj_pin(lfd, path)) {
			ctl_err("pinning the link at %s: %s", path, strerror(errno));
			close(lfd);	/* closing the only fd detaches it */
			goto out;
		}
		close(lfd);
	}
others:
	n = list_links(c, links, 64);
	for (int i = 0; i < n; i++) {
		if (!strcmp(links[i], ifname))
			continue;
		link_pin_name(links[i], pin, sizeof(pin));
		if (link_open(c, pin, &ls) == 0) {
			if (ls.ifindex)
				bpf_link_update(ls.fd, prog_fd, NULL);
			close(ls.fd);
		}
	}
	if (set_iface_state(c, ifname, mode))
		goto out;
	if (!c->json)
		printf("attached to %s (%s mode)\n", ifname, mode);
	rc = 0;
	goto out;
out_link:
	close(ls.fd);
out:
	close(prog_fd);
	return rc;
}

int cmd_detach(struct ctl *c, int argc, char **argv)
{
	char pin[64], path[PATH_MAX + 64];
	struct link_state ls;
	int err;

	if (argc != 2)
		return ctl_err("usage: mxshield detach IFACE");
	if (ctl_lock(c))
		return 1;
	link_pin_name(argv[1], pin, sizeof(pin));
	pin_path(c, pin, path, sizeof(path));
	err = link_open(c, pin, &ls);
	if (err == -ENOENT)
		return ctl_err("%s: not attached (no pin %s)", argv[1], path);
	if (err)
		return ctl_err("%s: %s", path, bpf_errstr(err));
	if (ls.ifindex && bpf_link_detach(ls.fd)) {
		ctl_err("%s: detaching: %s", argv[1], bpf_errstr(-errno));
		close(ls.fd);
		return 1;
	}
	close(ls.fd);
	unlink(path);
	if (set_iface_state(c, argv[1], NULL))
		return 1;
	if (!c->json)
		printf("detached from %s\n", argv[1]);
	return 0;
}

/* After a reboot: attach every interface recorded in the state directory,
 * with its recorded mode (each attach fills the maps before attaching). */
int cmd_restore(struct ctl *c, int argc, char **argv)
{
	struct recfile f;
	int rc = 0, n = 0;

	if (argc != 1)
		return ctl_err("usage: mxshield restore");
	if (ctl_lock(c) || ctl_read(c, ST_IFACES, &f))
		return 1;
	/* a filter left live: first of all, is it what the state says? */
	if (!ctl_open_pinned(c) && layout_ok(c) && ctl_reconcile(c)) {
		recfile_free(&f);
		return 1;
	}
	for (int i = 0; i < f.n; i++) {
		const char *ifname = rec_get(&f.r[i], "iface");
		const char *mode = rec_get(&f.r[i], "mode");
		char *args[] = { "attach", (char *)ifname, "--mode", (char *)(mode ? mode : "native"),
				 NULL };

		if (!ifname)
			continue;
		if (cmd_attach(c, 4, args))
			rc = 1;
		else
			n++;
	}
	recfile_free(&f);
	if (!c->json)
		printf("restored %d interface(s)%s\n", n, rc ? "; some failed (see above)" : "");
	return rc;
}

int cmd_unload(struct ctl *c, int argc, char **argv)
{
	char links[64][IF_NAMESIZE], pin[64], path[PATH_MAX + 64];
	int n;

	if (argc != 1)
		return ctl_err("usage: mxshield unload");
	if (ctl_lock(c))
		return 1;
	if (!on_bpffs(c->bpffs_dir)) {
		if (!c->json)
			printf("not loaded\n");
		return 0;
	}
	n = list_links(c, links, 64);
	for (int i = 0; i < n; i++) {
		struct link_state ls;

		link_pin_name(links[i], pin, sizeof(pin));
		if (link_open(c, pin, &ls) == 0) {
			if (ls.ifindex)
				bpf_link_detach(ls.fd);
			close(ls.fd);
		}
		pin_path(c, pin, path, sizeof(path));
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		pin_path(c, map_names[i], path, sizeof(path));
		unlink(path);
	}
	set_aside(c, DROP);	/* from an upgrade cut short, if any */
	pin_path(c, "prog", path, sizeof(path));
	unlink(path);
	if (strcmp(c->bpffs_dir, MXS_DEFAULT_BPFFS_DIR) == 0)
		rmdir(c->bpffs_dir);
	if (!c->json)
		printf("unloaded: %d interface(s) detached, pins removed, state kept in %s\n",
		       n, c->state_dir);
	return 0;
}

/* ------------------------------------------------------------ mode flags */

static int set_setting(struct ctl *c, const char *key, const char *val)
{
	struct recfile s;
	struct mxs_config old;
	char err[MXS_ERRLEN];
	__u32 zero = 0;
	int rc;

	if (ctl_ensure_loaded(c) || ctl_read(c, ST_SETTINGS, &s))
		return 1;
	if (bpf_map_lookup_elem(c->fd_config, &zero, &old))
		memset(&old, 0, sizeof(old));
	rec_set(s.n ? &s.r[0] : recfile_add(&s), key, val);
	/* validated, written, applied, stamped (crash safety: lists.c) */
	{
		struct mxs_config cfg;

		rc = settings_to_config(&s, &cfg, err, sizeof(err)) ? ctl_err("%s", err) : 0;
	}
	if (!rc)
		rc = ctl_write(c, ST_SETTINGS, &s);
	if (!rc && (rc = ctl_apply_config(c, &s)))
		bpf_map_update_elem(c->fd_config, &zero, &old, BPF_ANY); /* undo */
	if (!rc)
		rc = ctl_stamp(c);
	recfile_free(&s);
	return rc;
}

int cmd_mode(struct ctl *c, int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "enforce") && strcmp(argv[1], "monitor")))
		return ctl_err("usage: mxshield mode enforce|monitor");
	if (set_setting(c, "mode", argv[1]))
		return 1;
	if (!c->json)
		printf("mode %s\n", argv[1]);
	return 0;
}

int cmd_gateway_only(struct ctl *c, int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
		return ctl_err("usage: mxshield gateway-only on|off");
	if (set_setting(c, "gateway_only", argv[1]))
		return 1;
	if (!c->json)
		printf("gateway-only %s\n", argv[1]);
	return 0;
}

/* ---------------------------------------------------------------- status */

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


int cmd_status(struct ctl *c, int argc, char **argv)
{
	char links[64][IF_NAMESIZE], pin[64];
	struct recfile s, ifs;
	struct mxs_config cfg = {};
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo), zero = 0;
	char err[MXS_ERRLEN];
	int n, pfd;
	bool loaded;
	long total_mem = 0;
	uint64_t cmem[2] = { 0, 0 };

	if (argc != 1)
		return ctl_err("usage: mxshield status");
	if (ctl_lock_ro(c) || ctl_read(c, ST_SETTINGS, &s) || ctl_read(c, ST_IFACES, &ifs))
		return 1;
	loaded = ctl_open_pinned(c) == 0;
	if (loaded)
		bpf_map_lookup_elem(c->fd_config, &zero, &cfg);
	else if (settings_to_config(&s, &cfg, err, sizeof(err)))
		return ctl_err("settings: %s", err);
	pfd = loaded ? obj_get(c, "prog") : -1;
	if (pfd >= 0)
		bpf_obj_get_info_by_fd(pfd, &pinfo, &plen);

	if (c->json) {
		jw_obj();
		jw_kbool("loaded", loaded);
		jw_ku64("prog_id", pinfo.id);
		jw_kstr("mode", cfg.flags & MXS_F_MONITOR ? "monitor" : "enforce");
		jw_kbool("gateway_only", !!(cfg.flags & MXS_F_GATEWAY_ONLY));
		jw_key("ports");
		jw_arr();
		for (uint32_t i = 0; i < cfg.nports; i++)
			jw_u64(cfg.ports[i]);
		jw_end_arr();
		jw_kstr("state_dir", c->state_dir);
		jw_kstr("bpffs_dir", c->bpffs_dir);
	} else {
		printf("mxshield: %s", loaded ? "loaded" : "not loaded");
		if (pinfo.id)
			printf(" (prog id %u)", pinfo.id);
		printf("\nmode: %s%s\nports:", cfg.flags & MXS_F_MONITOR ? "monitor" : "enforce",
		       cfg.flags & MXS_F_GATEWAY_ONLY ? ", gateway-only" : "");
		for (uint32_t i = 0; i < cfg.nports; i++)
			printf("%s%u", i ? "," : " ", cfg.ports[i]);
		printf("\nstate: %s\npins:  %s\n", c->state_dir, c->bpffs_dir);
	}

	n = loaded ? list_links(c, links, 64) : 0;
	if (c->json) {
		jw_key("interfaces");
		jw_arr();
	} else {
		printf("interfaces:%s\n", n || (!loaded && ifs.n) ? "" : " none");
	}
	/* not loaded: the interfaces the state records, which restore attaches */
	for (int i = 0; !loaded && i < ifs.n; i++) {
		const char *name = rec_get(&ifs.r[i], "iface");
		const char *m = rec_get(&ifs.r[i], "mode") ? : "native";

		if (!name)
			continue;
		if (c->json) {
			jw_obj();
			jw_kstr("name", name);
			jw_kstr("xdp_mode", m);
			jw_kbool("attached", false);
			jw_ku64("prog_id", 0);
			jw_end_obj();
		} else {
			printf("  %-16s %s mode, not attached ('mxshield restore' attaches it)\n",
			       name, m);
		}
	}
	for (int i = 0; i < n; i++) {
		struct link_state ls = {};
		int j = recfile_find(&ifs, "iface", links[i]);
		const char *m = j >= 0 ? rec_get(&ifs.r[j], "mode") : "?";
		bool up;

		link_pin_name(links[i], pin, sizeof(pin));
		up = link_open(c, pin, &ls) == 0 && ls.ifindex;
		if (ls.fd > 0)
			close(ls.fd);
		if (c->json) {
			jw_obj();
			jw_kstr("name", links[i]);
			jw_kstr("xdp_mode", m);
			jw_kbool("attached", up);
			jw_ku64("prog_id", ls.prog_id);
			jw_end_obj();
		} else {
			printf("  %-16s %s mode, %s\n", links[i], m,
			       up ? "attached" : "interface gone (detach to clean up)");
		}
	}
	if (c->json) {
		jw_end_arr();
		jw_key("lists");
		jw_arr();
	} else {
		printf("lists:%s\n", loaded ? "" : " (in the state directory)");
	}
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
		struct rule_vec fam[2] = {};

		if (ctl_collect(c, l, fam))
			continue;
		if (c->json) {
			jw_obj();
			jw_kstr("list", list_name(l));
			jw_ku64("ipv4", fam[0].n);
			jw_ku64("ipv6", fam[1].n);
			jw_end_obj();
		} else {
			printf("  %-8s %8zu IPv4 %8zu IPv6 prefixes\n", list_name(l), fam[0].n,
			       fam[1].n);
		}
		rule_vec_free(&fam[0]);
		rule_vec_free(&fam[1]);
	}
	if (loaded) {
		int fds[] = { c->mv.c_gen, c->mv.country_policy, c->fd_config, c->fd_stats,
			      c->fd_cstats, c->fd_tags };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			total_mem += map_memlock(fds[i]);
		cmaps_memory(&c->mv, cmem);
		total_mem += cmem[0] + cmem[1];
	}
	if (c->json) {
		jw_end_arr();
		jw_ku64("compiled_ipv4_bytes", cmem[0]);
		jw_ku64("compiled_ipv6_bytes", cmem[1]);
	} else if (loaded) {
		printf("compiled classifier: %.1f MiB IPv4, %.1f MiB IPv6\n",
		       cmem[0] / 1048576.0, cmem[1] / 1048576.0);
	}
	/* single adds and dels patch the build in place, into spare room */
	for (int v6 = 0; loaded && v6 < 2; v6++) {
		struct mxs_cfill f;
		uint32_t cap[3];
		double used = 0;

		if (cmaps_fill(&c->mv, v6, &f, cap))
			continue;
		used = (double)f.nodes / cap[0];
		if ((double)f.leaves / cap[1] > used)
			used = (double)f.leaves / cap[1];
		if ((double)f.recs / cap[2] > used)
			used = (double)f.recs / cap[2];
		if (c->json) {
			jw_ku64(v6 ? "patches_ipv6" : "patches_ipv4", f.patches);
			jw_ku64(v6 ? "fill_percent_ipv6" : "fill_percent_ipv4",
				(uint64_t)(used * 100));
		} else {
			printf("  %s: %u change%s patched in place since the last full build, "
			       "%.0f%% of the room used\n", v6 ? "IPv6" : "IPv4", f.patches,
			       f.patches == 1 ? "" : "s", used * 100);
		}
	}
	if (c->json) {
		jw_ki64("memory_bytes", total_mem);
		jw_end_obj();
	} else if (loaded) {
		printf("kernel memory (maps): %.1f MiB\n", total_mem / 1048576.0);
	}
	if (pfd >= 0)
		close(pfd);
	recfile_free(&s);
	recfile_free(&ifs);
	return 0;
}

/* ------------------------------------------------------------- arguments */

/* allowed: option names; a leading '?' marks a flag that takes no value
 * (its value reads as "yes"). */
static bool opt_is(const char *allowed, const char *name)
{
	return !strcmp(allowed + (allowed[0] == '?'), name);
}

int get_args(int argc, char **argv, const char *const *allowed, int maxpos,
	     struct cmd_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int k;

		if (strncmp(s, "--", 2) || !s[2]) {
			if (a->npos >= maxpos || a->npos >= 4)
				return ctl_err("unexpected argument '%s'", s);
			a->pos[a->npos++] = s;
			continue;
		}
		for (k = 0; allowed && allowed[k]; k++)
			if (opt_is(allowed[k], s + 2))
				break;
		if (!allowed || !allowed[k])
			return ctl_err("unknown option '%s'", s);
		if (a->opt[k])
			return ctl_err("option '%s' given twice", s);
		if (allowed[k][0] == '?') {
			a->opt[k] = "yes";
			continue;
		}
		if (i + 1 >= argc)
			return ctl_err("option '%s' needs a value", s);
		a->opt[k] = argv[++i];
	}
	return 0;
}

const char *arg(const struct cmd_args *a, const char *const *allowed, const char *name)
{
	for (int k = 0; allowed[k]; k++)
		if (opt_is(allowed[k], name))
			return a->opt[k];
	return NULL;
}
