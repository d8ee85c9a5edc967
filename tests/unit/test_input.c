// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests: the import reader (userspace/input.c). A gzip file counts
 * only when whole: every cut point of a compressed list, a damaged trailer
 * and data after the last member must fail, never end early; several
 * members are one list. Text lines: NUL and control bytes, CRLF, UTF-8,
 * over-long lines, a last line without newline, a pipe that delivers one
 * byte at a time.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "core/input.h"
#include "../check.h"

static char tmp[] = "/tmp/mxs-test-input.XXXXXX";
static char path[64];

static void put(const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

struct result {
	int last;		/* INPUT_END or INPUT_FAIL */
	long lines, bad, ctl;
	unsigned long sum;	/* over the lines, in order */
	char err[512];		/* the first error */
};

static void drain(struct input *in, struct result *r)
{
	char *line;
	int got;

	memset(r, 0, sizeof(*r));
	while ((got = input_line(in, &line)) != INPUT_END) {
		if (got == INPUT_FAIL) {
			if (!r->err[0])
				snprintf(r->err, sizeof(r->err), "%s", in->err);
			r->last = INPUT_FAIL;
			r->ctl = in->ctl_lines;
			return;
		}
		if (got == INPUT_BAD) {
			if (!r->err[0])
				snprintf(r->err, sizeof(r->err), "%s", in->err);
			r->bad++;
			continue;
		}
		r->lines++;
		r->sum = r->sum * 31 + crc32(0, (const unsigned char *)line, strlen(line));
	}
	r->last = INPUT_END;
	r->ctl = in->ctl_lines;
}

/* Read the file as it is, with lines of at most @maxline bytes. */
static void read_file(size_t maxline, struct result *r)
{
	struct input in;

	if (input_open(&in, path, maxline)) {
		memset(r, 0, sizeof(*r));
		r->last = INPUT_FAIL;
		snprintf(r->err, sizeof(r->err), "%s", in.err);
		return;
	}
	drain(&in, r);
	input_close(&in);
}

static void read_buf(const void *data, size_t len, size_t maxline, struct result *r)
{
	put(data, len);
	read_file(maxline, r);
}

/* Cut the file at @len bytes, and read it. */
static void read_cut(size_t len, struct result *r)
{
	if (truncate(path, len)) {
		perror(path);
		exit(1);
	}
	read_file(4094, r);
}

static size_t gzip_buf(const char *text, size_t len, unsigned char *out, size_t cap)
{
	z_stream zs = {};
	size_t n;

	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		exit(1);
	zs.next_in = (unsigned char *)text;
	zs.avail_in = len;
	zs.next_out = out;
	zs.avail_out = cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		exit(1);
	n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

/* N prefixes, one a line, like a downloaded block list */
static size_t make_list(char *buf, size_t cap, int n, unsigned seed)
{
	size_t len = 0;

	srandom(seed);
	for (int i = 0; i < n; i++)
		len += snprintf(buf + len, cap - len, "%ld.%ld.%ld.0/24\n", 1 + random() % 223,
				random() % 256, random() % 256);
	return len;
}

static void test_gzip(void)
{
	static char text[1 << 20], text2[1 << 20];
	static unsigned char gz[1 << 20], two[2 << 20];
	size_t tlen = make_list(text, sizeof(text), 2000, 1), glen, t2len, g2len;
	struct result want, r;
	char name[160];
	long ended = 0, wrong = 0, firstbad = -1;

	glen = gzip_buf(text, tlen, gz, sizeof(gz));
	read_buf(text, tlen, 4094, &want);
	CHECK("plain list: 2000 lines", want.last == INPUT_END && want.lines == 2000 && !want.bad,
	      "last=%d lines=%ld bad=%ld %s", want.last, want.lines, want.bad, want.err);
	read_buf(gz, glen, 4094, &r);
	CHECK("gzip list: the same 2000 lines", r.last == INPUT_END && r.lines == 2000 &&
	      r.sum == want.sum, "last=%d lines=%ld %s", r.last, r.lines, r.err);

	/* every cut point: the reader must fail, never end as if whole */
	put(gz, glen);
	for (size_t cut = glen - 1; cut >= 2; cut--) {	/* shorter and shorter */
		read_cut(cut, &r);
		if (r.last == INPUT_END)
			ended++;
		if (r.last != INPUT_FAIL || !strstr(r.err, "truncated or damaged gzip stream")) {
			wrong++;
			if (firstbad < 0)
				firstbad = cut;
		}
	}
	snprintf(name, sizeof(name), "gzip of 2000 lines (%zu bytes) cut at every offset 2..%zu: "
		 "all fail as truncated", glen, glen - 1);
	CHECK(name, !ended && !wrong, "%ld cut points ended cleanly, %ld wrong, first at %ld",
	      ended, wrong, firstbad);
	/* the first two bytes: not gzip yet; an empty file, and a 0x1f byte */
	read_buf(gz, 0, 4094, &r);
	CHECK("cut at 0: an empty file, no lines", r.last == INPUT_END && r.lines == 0, "lines=%ld",
	      r.lines);
	read_buf(gz, 1, 4094, &r);
	CHECK("cut at 1: a control byte, no lines", r.bad == 1 && r.ctl == 1 && r.lines == 0,
	      "bad=%ld ctl=%ld lines=%ld", r.bad, r.ctl, r.lines);

	/* named .gz: an empty file or a lone 0x1f is a cut gzip, not text */
	{
		char gzpath[80];
		struct input in;

		snprintf(gzpath, sizeof(gzpath), "%s.gz", path);
		for (size_t cut = 0; cut < 2; cut++) {
			FILE *f = fopen(gzpath, "wb");

			fwrite(gz, 1, cut, f);
			fclose(f);
			snprintf(name, sizeof(name), "x.gz cut at %zu: fails as not gzip", cut);
			CHECK(name, input_open(&in, gzpath, 4094) &&
			      strstr(in.err, "truncated or damaged gzip stream: named .gz"),
			      "err='%s'", in.err);
		}
		unlink(gzpath);
	}

	/* trailer damaged: CRC, then length */
	gz[glen - 8] ^= 1;
	read_buf(gz, glen, 4094, &r);
	CHECK("gzip with a wrong CRC fails", r.last == INPUT_FAIL && strstr(r.err, "data check"),
	      "last=%d err=%s", r.last, r.err);
	gz[glen - 8] ^= 1;
	gz[glen - 1] ^= 1;
	read_buf(gz, glen, 4094, &r);
	CHECK("gzip with a wrong length fails", r.last == INPUT_FAIL &&
	      strstr(r.err, "length check"), "last=%d err=%s", r.last, r.err);
	gz[glen - 1] ^= 1;

	/* what may follow a member: another member, nothing else */
	{
		static const struct {
			const char *name;
			const char *data;
			size_t len;
		} tails[] = {
			{ "a text line", "junk\n", 5 },
			{ "one 0x1f byte", "\x1f", 1 },
			{ "zero bytes", "\0\0\0\0", 4 },
			{ "a lone gzip magic", "\x1f\x8b", 2 },
			{ "a gzip header only", "\x1f\x8b\x08\0\0\0\0\0\0\x03", 10 },
		};

		for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
			memcpy(two, gz, glen);
			memcpy(two + glen, tails[i].data, tails[i].len);
			read_buf(two, glen + tails[i].len, 4094, &r);
			snprintf(name, sizeof(name), "gzip followed by %s fails", tails[i].name);
			CHECK(name, r.last == INPUT_FAIL && strstr(r.err, "gzip"), "last=%d err=%s",
			      r.last, r.err);
		}
	}

	/* two members: one list, read across the boundary */
	t2len = make_list(text2, sizeof(text2), 2000, 2);
	memcpy(two, gz, glen);
	g2len = gzip_buf(text2, t2len, two + glen, sizeof(two) - glen);
	memcpy(text + tlen, text2, t2len);
	read_buf(text, tlen + t2len, 4094, &want);
	read_buf(two, glen + g2len, 4094, &r);
	CHECK("two gzip members are one list of 4000 lines", r.last == INPUT_END &&
	      r.lines == 4000 && r.sum == want.sum, "last=%d lines=%ld %s", r.last, r.lines, r.err);
	put(two, glen + g2len);
	for (size_t cut = glen + g2len - 1; cut > glen; cut -= cut > glen + 7 ? 7 : 1) {
		read_cut(cut, &r);
		if (r.last != INPUT_FAIL) {
			CHECK("second member cut short fails", 0, "cut at %zu of %zu: last=%d", cut,
			      glen + g2len, r.last);
			return;
		}
	}
	CHECK("second member cut short (every 7th offset) fails", 1, " ");
}

static void test_pipe(void)
{
	static char text[1 << 16];
	static unsigned char gz[1 << 16];
	size_t tlen = make_list(text, sizeof(text), 500, 3), glen;
	struct result want, r;
	struct input in;
	int fds[2], saved = dup(0), status;
	pid_t pid;

	glen = gzip_buf(text, tlen, gz, sizeof(gz));
	memcpy(gz + glen, gz, glen);	/* two members */
	memcpy(text + tlen, text, tlen);
	read_buf(text, 2 * tlen, 4094, &want);
	if (pipe(fds))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (size_t i = 0; i < 2 * glen; i++)	/* one byte a write */
			if (write(fds[1], gz + i, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	dup2(fds[0], 0);
	close(fds[0]);
	if (input_open(&in, "-", 4094)) {
		CHECK("gzip from a pipe, one byte at a time", 0, "%s", in.err);
	} else {
		drain(&in, &r);
		input_close(&in);
		CHECK("gzip (two members) from a pipe, one byte at a time", r.last == INPUT_END &&
		      r.lines == 1000 && r.sum == want.sum, "last=%d lines=%ld %s", r.last, r.lines,
		      r.err);
	}
	waitpid(pid, &status, 0);
	dup2(saved, 0);
	close(saved);
}

static void text_case(const char *name, const char *data, size_t len, long lines, long bad,
		      long ctl, const char *err_has)
{
	struct result r;

	read_buf(data, len, 64, &r);
	CHECK(name, r.last == INPUT_END && r.lines == lines && r.bad == bad && r.ctl == ctl &&
	      (!err_has || strstr(r.err, err_has)), "lines=%ld bad=%ld ctl=%ld err='%s'",
	      r.lines, r.bad, r.ctl, r.err);
}

#define T(name, lit, lines, bad, ctl, err) text_case(name, lit, sizeof(lit) - 1, lines, bad, ctl, err)

static void test_text(void)
{
	char fl[80];
	struct input in;
	char *line;

	T("NUL byte in a line: FILE:LINE error", "1.2.3.4\0junk\n", 0, 1, 1, ":1: NUL byte at column 8");
	T("NUL on line 3", "# c\n\n1.2.3.4\0\n5.6.7.8\n", 1, 1, 1, ":3: NUL byte");
	T("NUL in a comment line", "# a\0b\n1.2.3.4\n", 1, 1, 1, ":1: NUL");
	T("ESC in a line", "1.2.3.4 \x1b[0m\n", 0, 1, 1, "control character 0x1b at column 9");
	T("DEL in a line", "1.2.3.4\x7f\n", 0, 1, 1, "control character 0x7f");
	T("CR inside a line", "1.2.3.4\rx\n", 0, 1, 1, "control character 0x0d");
	T("two CRs at the end", "1.2.3.4\r\r\n", 0, 1, 1, "0x0d");
	T("CRLF accepted", "1.2.3.4\r\n5.6.7.8\r\n", 2, 0, 0, NULL);
	T("TAB accepted", "1.2.3.4\t# x\n", 1, 0, 0, NULL);
	T("last line without newline", "1.2.3.4\n5.6.7.8", 2, 0, 0, NULL);
	T("last line CR without newline", "1.2.3.4\r", 1, 0, 0, NULL);
	T("invalid UTF-8 in a content line", "1.2.3.4,,,caf\xe9\n", 0, 1, 0,
	  ":1: not valid UTF-8 (byte 0xe9 at column 14)");
	T("overlong UTF-8 refused", "\xc0\xaf\n", 0, 1, 0, "not valid UTF-8");
	T("valid UTF-8 accepted", "1.2.3.4,,,caf\xc3\xa9 \xf0\x9f\x93\xa7\n", 1, 0, 0, NULL);
	T("invalid UTF-8 in a comment line is passed over", "# caf\xe9\n1.2.3.4\n", 1, 0, 0, NULL);
	T("a UTF-8 BOM at the start is passed over", "\xef\xbb\xbf" "1.2.3.4\n", 1, 0, 0, NULL);
	T("a BOM on line 2 is content", "1.2.3.4\n\xef\xbb\xbf" "5.6.7.8\n", 2, 0, 0, NULL);
	T("blank lines and comments", "\n  \n\t# x\n#\n", 0, 0, 0, NULL);
	memset(fl, 'a', sizeof(fl));
	memcpy(fl + sizeof(fl) - 4, "\nb\n", 3);
	text_case("over-long line refused, the next one read", fl, sizeof(fl) - 1, 1, 1, 0,
		  ":1: line too long");

	/* the line is cut at blanks and NUL-terminated in place */
	put("  \t 1.2.3.4 \t \r\n", 16);
	if (!input_open(&in, path, 64)) {
		int got = input_line(&in, &line);

		CHECK("blanks and CRLF cut", got == INPUT_LINE && !strcmp(line, "1.2.3.4") &&
		      in.lineno == 1, "got=%d line='%s'", got, got == INPUT_LINE ? line : "");
		input_close(&in);
	}
	put("\xef\xbb\xbf" "1.2.3.4\n", 11);
	if (!input_open(&in, path, 64)) {
		int got = input_line(&in, &line);

		CHECK("the BOM is not part of the first line", got == INPUT_LINE &&
		      !strcmp(line, "1.2.3.4"), "got=%d line='%s'", got, got == INPUT_LINE ? line : "");
		input_close(&in);
	}
	CHECK("a missing file is an open error naming it",
	      input_open(&in, "/nonexistent/x.gz", 64) && strstr(in.err, "/nonexistent/x.gz: "),
	      "err='%s'", in.err);
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/f", tmp);
	test_text();
	test_gzip();
	test_pipe();
	unlink(path);
	rmdir(tmp);
	return failures ? 1 : 0;
}
