/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cmd/iplist.c: the IP lists' commands; the line parser of their import. */
#ifndef MXS_IPLIST_H
#define MXS_IPLIST_H

#include <stdint.h>
#include "../filter/build.h"

struct st_ent;

/* One content line of an import file (cut up in place), CSV
 * "address[,action[,expiry[,comment]]]": the entry for list @d into @e
 * (action @defact unless given; expiry a duration from @now or a UTC
 * time, see parse_expiry; added @now) and *comment (NULL without a
 * comment column). 0, or -1 with @err. */
int iplist_import_line(const struct listdef *d, char *line, uint8_t defact, int64_t now,
		       struct st_ent *e, const char **comment, char *err, size_t errlen);

#endif
