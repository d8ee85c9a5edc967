/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef MXS_JSON_H
#define MXS_JSON_H
#include <stdio.h>

/* core/json.c: a small streaming JSON writer for --json output (one
 * document per run). */

void jw_start(FILE *f);
/* Indent the output (-p/--pretty). */
void jw_pretty(int on);
/* Has a whole top-level value been written? */
int jw_complete(void);
void jw_obj(void);
void jw_end_obj(void);
void jw_arr(void);
void jw_end_arr(void);
void jw_key(const char *k);
void jw_str(const char *s);
void jw_u64(unsigned long long v);
void jw_i64(long long v);
/* a number with three decimals (seconds) */
void jw_double(double v);
void jw_bool(int v);
void jw_null(void);
/* a number with two decimals (a fraction, a confidence) */
void jw_num2(double v);

/* key/value shorthands */
#define jw_kstr(k, v)  do { jw_key(k); jw_str(v); } while (0)
#define jw_ku64(k, v)  do { jw_key(k); jw_u64(v); } while (0)
#define jw_ki64(k, v)  do { jw_key(k); jw_i64(v); } while (0)
#define jw_kdouble(k, v) do { jw_key(k); jw_double(v); } while (0)
#define jw_kbool(k, v) do { jw_key(k); jw_bool(v); } while (0)
#endif
