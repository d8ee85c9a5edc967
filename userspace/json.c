// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A small streaming JSON writer for --json output (one document per run). */
#include <stdio.h>
#include <string.h>
#include "json.h"

#define JW_DEPTH 16

static FILE *jw_out;
static int depth;
static int count[JW_DEPTH];	/* members written at each level */
static int after_key;

void jw_start(FILE *f)
{
	jw_out = f;
	depth = 0;
	count[0] = 0;
	after_key = 0;
}

static void sep(void)
{
	if (after_key) {
		after_key = 0;
		return;
	}
	if (count[depth]++)
		fputc(',', jw_out);
}

static void open_(char c)
{
	sep();
	fputc(c, jw_out);
	if (depth < JW_DEPTH - 1)
		count[++depth] = 0;
}

static void close_(char c)
{
	fputc(c, jw_out);
	if (depth > 0)
		depth--;
	if (depth == 0)
		fputc('\n', jw_out);
}

void jw_obj(void) { open_('{'); }
void jw_end_obj(void) { close_('}'); }
void jw_arr(void) { open_('['); }
void jw_end_arr(void) { close_(']'); }

static void raw_str(const char *s)
{
	fputc('"', jw_out);
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(jw_out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", jw_out);
		else if (c == '\t')
			fputs("\\t", jw_out);
		else if (c < 0x20)
			fprintf(jw_out, "\\u%04x", c);
		else
			fputc(c, jw_out);
	}
	fputc('"', jw_out);
}

void jw_key(const char *k)
{
	sep();
	raw_str(k);
	fputc(':', jw_out);
	after_key = 1;
}

void jw_str(const char *s)
{
	sep();
	if (s)
		raw_str(s);
	else
		fputs("null", jw_out);
}

void jw_u64(unsigned long long v)
{
	sep();
	fprintf(jw_out, "%llu", v);
}

void jw_i64(long long v)
{
	sep();
	fprintf(jw_out, "%lld", v);
}

void jw_bool(int v)
{
	sep();
	fputs(v ? "true" : "false", jw_out);
}

void jw_null(void)
{
	sep();
	fputs("null", jw_out);
}
