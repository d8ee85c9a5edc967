// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A small streaming JSON writer for --json output (one document per run). */
#include <stdio.h>
#include <string.h>
#include "json.h"
#include "utf8.h"

#define JW_DEPTH 16

static FILE *jw_out;
static int depth;
static int count[JW_DEPTH];	/* members written at each level */
static int after_key;
static int pretty;		/* -p: one member a line, indented */
static int documents;		/* top-level values completed */

void jw_start(FILE *f)
{
	jw_out = f;
	depth = 0;
	count[0] = 0;
	after_key = 0;
	documents = 0;
}

void jw_pretty(int on)
{
	pretty = on;
}

int jw_complete(void)
{
	return documents > 0 && depth == 0;
}

static void indent(void)
{
	fputc('\n', jw_out);
	for (int i = 0; i < depth; i++)
		fputs("    ", jw_out);
}

static void sep(void)
{
	if (after_key) {
		after_key = 0;
		return;
	}
	if (count[depth]++)
		fputc(',', jw_out);
	if (pretty && depth > 0)
		indent();
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
	int empty = count[depth] == 0;

	if (depth > 0)
		depth--;
	if (pretty && !empty)
		indent();
	fputc(c, jw_out);
	if (depth == 0) {
		fputc('\n', jw_out);
		documents++;
	}
}

void jw_obj(void) { open_('{'); }
void jw_end_obj(void) { close_('}'); }
void jw_arr(void) { open_('['); }
void jw_end_arr(void) { close_(']'); }

/*
 * A JSON string is Unicode text. Bytes that are not valid UTF-8 (a state
 * file edited by hand, a name from a database file) become U+FFFD, one
 * per byte, so the document always parses; control characters, DEL and
 * U+2028/U+2029 (line breaks to JavaScript) are written as \u escapes.
 */
static void raw_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0, i = 0;

	fputc('"', jw_out);
	while (i < n) {
		unsigned char c = p[i];
		size_t l;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			fputc(c, jw_out);
			i++;
			continue;
		}
		if (c < 0x80) {
			switch (c) {
			case '"': fputs("\\\"", jw_out); break;
			case '\\': fputs("\\\\", jw_out); break;
			case '\n': fputs("\\n", jw_out); break;
			case '\r': fputs("\\r", jw_out); break;
			case '\t': fputs("\\t", jw_out); break;
			default: fprintf(jw_out, "\\u%04x", c); break;
			}
			i++;
			continue;
		}
		l = utf8_seq(p + i, n - i);
		if (!l) {
			fputs("\\ufffd", jw_out);
			i++;
		} else if (l == 3 && c == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] | 1) == 0xa9) {
			fprintf(jw_out, "\\u%04x", 0x2000 | (p[i + 2] & 0x3f));
			i += 3;
		} else {
			fwrite(p + i, 1, l, jw_out);
			i += l;
		}
	}
	fputc('"', jw_out);
}

void jw_key(const char *k)
{
	sep();
	raw_str(k);
	fputs(pretty ? ": " : ":", jw_out);
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

void jw_num2(double v)
{
	sep();
	fprintf(jw_out, "%.2f", v);
}

void jw_i64(long long v)
{
	sep();
	fprintf(jw_out, "%lld", v);
}

void jw_double(double v)
{
	sep();
	fprintf(jw_out, "%.3f", v);
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
