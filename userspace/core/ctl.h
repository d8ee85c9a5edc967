/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/ctl.c: the controller's run-time context, shared by every command
 * -- where the state and the pins live, the lock on the state directory,
 * errors in the admin's terms (text, or JSON under --json).
 */
#ifndef MXS_CTL_H
#define MXS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include "view.h"

#ifndef MXS_VERSION
#define MXS_VERSION "0.0.0-dev"	/* the Makefile sets it from VERSION */
#endif

#define MXS_DEFAULT_STATE_DIR "/var/lib/mxshield"
#define MXS_DEFAULT_BPFFS_DIR "/sys/fs/bpf/mxshield"

/* State files in the state directory (the IP lists' are state/ipstore.h's). */
#define ST_SETTINGS  "settings"		/* mode, gateway-only, ports */
#define ST_IFACES    "ifaces"		/* interfaces attached, with mode */
#define ST_PARTNERS  "partners"
#define ST_COUNTRIES "countries"
#define ST_GEO       "geo.mmdb"		/* copy of the loaded database */
#define ST_ENVELOPE  "envelope"		/* envelope lists, org domains */
#define ST_LASTBUILD "last-build"	/* when the last full build ran, how
					 * long it took (filter/build.c) */

struct ctl {
	const char *state_dir;
	const char *bpffs_dir;
	bool json, pretty;
	bool json_result;	/* the JSON written is the answer even when the
				 * exit status is not 0 (state check, a read
				 * with nothing loaded) */
	int lock_fd;
	bool readonly;		/* a read: no state, pin or mount changes (ctl_lock_ro) */
	bool lock_nowait;	/* ctl_lock_ro: fail at once while a change holds the
				 * lock (a reader in a loop that must not wait) ... */
	bool lock_busy;		/* ... and this says it did, with no message */
	bool loaded;
	bool read_only;		/* open the pinned maps with BPF_F_RDONLY */
	int fd_config, fd_stats, fd_cstats, fd_tags;
	/* maps an older mxshield's filter may lack (new connections, drop
	 * events): -1 when not pinned (filter/loader.c) */
	int fd_conns, fd_cconns, fd_evcfg, fd_evstate;
	struct mxs_maps_view mv;	/* compiled build, country_policy */
};

/* An error: "mxshield: MESSAGE" on stderr, or under --json kept for the
 * {"error": ...} that cli_run() prints. Returns 1 (the exit status). */
int ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The messages ctl_err() kept under --json ("; "-separated), or NULL. */
const char *ctl_errors(void);
void ctl_errors_json(bool on);
/* A long-running command: errors go to its log (core/log.h), LOG_ERR. */
void ctl_errors_to_log(bool on);
/* Explain a negative errno from a BPF call in admin terms. */
const char *bpf_errstr(int err);

void state_path(const struct ctl *c, const char *name, char *buf, size_t len);
/* mkdir -p with @mode for the directories it makes: 0, or a negative errno. */
#include <sys/types.h>
int ctl_mkdir_p(const char *path, mode_t mode);
/* Exclusive lock on the state directory (created 0700 if missing): every
 * command that changes anything runs alone. 0, or 1 after an error. */
int ctl_lock(struct ctl *c);
/*
 * Read-only commands (status, lookup, stats, tags, the lists' list) change
 * nothing: no bpffs mount, no pin, no program or map loaded, no state
 * directory, lock file or state file created or written, no sweep.
 * ctl_lock_ro() takes a shared lock on the state directory's lock file if
 * there is one. 0, or 1 after an error.
 */
int ctl_lock_ro(struct ctl *c);
/* Let go of either lock (a long-running reader between two reads). */
void ctl_unlock(struct ctl *c);
/* 0, or 1 after an error: the state directory is group- or world-writable,
 * or belongs to another user than this one or root. */
int ctl_state_dir_safe(const struct ctl *c);
/* Exit status of stats and tags when no filter is loaded (LSB's "program
 * is not running"): not an error of the command, nothing to read. */
#define MXS_EXIT_NOT_LOADED 3
/* Say that nothing is loaded ({"loaded": false} with --json); returns
 * MXS_EXIT_NOT_LOADED. */
int ctl_not_loaded(struct ctl *c, const char *what);

#endif
