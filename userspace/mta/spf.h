/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mta/spf.c: SPF checks through libspf2. */
#ifndef MXS_SPF_H
#define MXS_SPF_H

/* SPF through libspf2 (spf.c): 1 = fail, 0 otherwise. */
int spf_check_fail(const char *client, const char *sender, void *arg);

#endif
