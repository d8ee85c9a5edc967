// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's context: errors, state paths, the state directory's
 * safety check and its lock. Nothing here knows BPF or the lists.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ctl.h"
#include "json.h"
#include "log.h"

/* Under --json the messages are kept for the {"error": ...} object. */
static bool errs_json, errs_log;
static char errs[4096];

void ctl_errors_to_log(bool on)
{
	errs_log = on;
}

void ctl_errors_json(bool on)
{
	errs_json = on;
	errs[0] = '\0';
}

const char *ctl_errors(void)
{
	return errs[0] ? errs : NULL;
}

int ctl_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errs_json) {
		size_t n = strlen(errs);

		if (n && n + 2 < sizeof(errs))
			n += snprintf(errs + n, sizeof(errs) - n, "; ");
		if (n < sizeof(errs))
			vsnprintf(errs + n, sizeof(errs) - n, fmt, ap);
	} else if (errs_log) {
		char msg[1024];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		log_print(LOG_ERR, "%s", msg);
	} else {
		fputs("mxshield: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
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
		return "list is full (raise MXS_MAX_ENTRIES in maps/contract.h and rebuild)";
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

int ctl_mkdir_p(const char *path, mode_t mode)
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
	err = ctl_mkdir_p(c->state_dir, 0700);
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

int ctl_lock_ro(struct ctl *c)
{
	char p[PATH_MAX];

	c->readonly = true;
	if (c->lock_fd >= 0)
		return 0;
	if (ctl_state_dir_safe(c))
		return 1;
	state_path(c, ".lock", p, sizeof(p));
	c->lock_fd = open(p, O_RDONLY | O_CLOEXEC);
	if (c->lock_fd < 0)	/* none: no command has changed anything here */
		return errno == ENOENT ? 0 : ctl_err("%s: %s", p, strerror(errno));
	/* shared: reads run side by side, and never in the middle of a change */
	if (flock(c->lock_fd, LOCK_SH | (c->lock_nowait ? LOCK_NB : 0))) {
		if (errno == EWOULDBLOCK && c->lock_nowait) {
			close(c->lock_fd);
			c->lock_fd = -1;
			c->lock_busy = true;
			return 1;
		}
		return ctl_err("%s: lock: %s", p, strerror(errno));
	}
	return 0;
}

void ctl_unlock(struct ctl *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);	/* the flock goes with the last fd */
	c->lock_fd = -1;
}

int ctl_not_loaded(struct ctl *c, const char *what)
{
	c->json_result = true;
	if (c->json) {
		jw_obj();
		jw_kbool("loaded", false);
		jw_end_obj();
	}
	ctl_err("not loaded: %s (no filter is pinned under %s; 'mxshield restore' or "
		"'mxshield attach IFACE' loads it)", what, c->bpffs_dir);
	return MXS_EXIT_NOT_LOADED;
}
