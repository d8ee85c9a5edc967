/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share: a private
 * state directory to hand the code under test its input as a file, the
 * way mxshield reads it, and a check that aborts (a crash to libFuzzer)
 * when a property of the output does not hold.
 *
 * The directory is made under $TMPDIR (scripts/fuzz.sh points it at
 * build/fuzz/tmp on /dev/shm when it can: the store targets fsync) and
 * removed at a normal exit.
 */
#ifndef MXS_FUZZ_H
#define MXS_FUZZ_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz check %s:%d: %s: ", __FILE__, \
				__LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                      \
			fprintf(stderr, "\n");                             \
			abort();                                           \
		}                                                          \
	} while (0)

/* Undefined behaviour stops the run (a crash) unless tests/fuzz/known.supp
 * lists it: UBSan reports are recoverable so that suppressions can work,
 * and halt_on_error makes every other one fatal, also when a reproducer is
 * run by hand. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static char fuzz_root[PATH_MAX];

static int fuzz_rm(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return remove(p);
}

static void fuzz_cleanup(void)
{
	if (fuzz_root[0])
		nftw(fuzz_root, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under the harness's private root ("" = the root). */
static inline const char *fuzz_dir(const char *sub)
{
	static char path[PATH_MAX];

	if (!fuzz_root[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(fuzz_root, sizeof(fuzz_root), "%s/mxs-fuzz.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(fuzz_root)) {
			perror(fuzz_root);
			exit(2);
		}
		atexit(fuzz_cleanup);
	}
	if (!*sub)
		return fuzz_root;
	snprintf(path, sizeof(path), "%s/%s", fuzz_root, sub);
	mkdir(path, 0700);
	return path;
}

/* Write @len bytes as DIR/NAME (replacing it); the path, or exit. */
static inline const char *fuzz_write(const char *dir, const char *name, const void *data, size_t len)
{
	static char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len)) {
		perror(path);
		exit(2);
	}
	close(fd);
	return path;
}

static inline void fuzz_unlink(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

#endif
