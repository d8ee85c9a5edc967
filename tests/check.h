/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One check, one line: "ok - NAME" or "not ok - NAME: details" (tests/run.sh). */
#ifndef MXS_TEST_CHECK_H
#define MXS_TEST_CHECK_H
#include <stdio.h>

static int failures;

#define CHECK(name, cond, ...)                                          \
	do {                                                            \
		if (cond) {                                             \
			printf("ok - %s\n", name);                      \
		} else {                                                \
			failures++;                                     \
			printf("not ok - %s: ", name);                  \
			printf(__VA_ARGS__);                            \
			printf("\n");                                   \
		}                                                       \
	} while (0)

#endif
