// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of mta/language.c: ISO 639-1 codes, the detector on the five
 * test texts (tests/data/lang/) and on short or noisy text, the sample
 * (bounded, quoted lines and links left out), the rules (allow, block,
 * "other", the threshold) and their state file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ctl.h"
#include "core/parse.h"
#include "state/recfile.h"
#include "mta/language.h"
#include "../check.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b = calloc(1, 1 << 16);

	*len = f ? fread(b, 1, (1 << 16) - 1, f) : 0;
	if (f)
		fclose(f);
	return b;
}

static bool utf8_whole(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;

		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if (((unsigned char)s[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

static void test_codes(void)
{
	CHECK("de is ISO 639-1", lang_code_valid("de"), "refused");
	CHECK("ja is ISO 639-1", lang_code_valid("ja"), "refused");
	CHECK("xx is not", !lang_code_valid("xx"), "accepted");
	CHECK("upper case is not", !lang_code_valid("DE"), "accepted");
	CHECK("three letters are not", !lang_code_valid("deu"), "accepted");
	CHECK("one letter is not", !lang_code_valid("d"), "accepted");
	CHECK("actions by name", lang_action_by_name("allow") == LANG_ALLOW &&
	      lang_action_by_name("reject") == MXS_ACT_REJECT &&
	      lang_action_by_name("drop") == -1, "wrong");
}

static void test_detect(struct lang_detector *d)
{
	static const char *const langs[] = { "en", "de", "es", "ru", "ja" };
	char sample[LANG_SAMPLE_MAX + 1], path[256], hv[64];
	struct lang_guess g;

	for (int i = 0; i < 5; i++) {
		size_t len, n;
		char *t, name[96];

		snprintf(path, sizeof(path), "tests/data/lang/%s.txt", langs[i]);
		t = slurp(path, &len);
		n = lang_sample(NULL, t, len, sample);
		lang_detect(d, sample, n, &g);
		snprintf(name, sizeof(name), "%s text detected as %s, confident", langs[i], langs[i]);
		CHECK(name, g.known && !strcmp(g.code, langs[i]) &&
		      g.confidence >= LANG_THRESHOLD_DEFAULT,
		      "got %s %.2f", g.known ? g.code : "unknown", g.confidence);
		/* the first sentence alone (a subject-sized text) */
		{
			const char *s1 = t + strcspn(t, "\n") + 2;
			const char *e = strstr(s1, i == 4 ? "。" : ". ");

			lang_detect(d, s1, e ? (size_t)(e - s1) : strlen(s1), &g);
		}
		snprintf(name, sizeof(name), "%s: one sentence detected as %s", langs[i], langs[i]);
		CHECK(name, g.known && !strcmp(g.code, langs[i]), "got %s %.2f",
		      g.known ? g.code : "unknown", g.confidence);
		free(t);
	}
	lang_detect(d, "ok 12", 5, &g);
	CHECK("two letters: unknown", !g.known, "got %s", g.code);
	lang_header_value(&g, hv, sizeof(hv));
	CHECK("header of unknown", !strcmp(hv, "unknown; confidence=0.00"), "got %s", hv);
	g = (struct lang_guess){ .known = true, .code = "de", .confidence = 0.934 };
	lang_header_value(&g, hv, sizeof(hv));
	CHECK("header of a guess", !strcmp(hv, "de; confidence=0.93"), "got %s", hv);
	CHECK("detector knows de", lang_detector_knows(d, "de"), "no");
	CHECK("detector knows no xx", !lang_detector_knows(d, "xx"), "yes");
	{
		char err[MXS_ERRLEN];

		CHECK("a missing data dir: a clear error",
		      !lang_detector_open("/nonexistent", err, sizeof(err)) &&
		      strstr(err, "libexttextcat-data"), "err=%s", err);
	}
}

static void test_sample(struct lang_detector *d)
{
	char sample[LANG_SAMPLE_MAX + 1];
	size_t len, n;
	char *ja = slurp("tests/data/lang/ja.txt", &len), *big = malloc(8 * len + 1);
	const char *mix = "Hallo zusammen,\n> Dear all, please see http://x.example/a\n"
			  "siehe www.example.com und a@b.example bitte.\n";
	struct lang_guess g;

	for (int i = 0; i < 8; i++)
		memcpy(big + i * len, ja, len);
	n = lang_sample("件名", big, 8 * len, sample);
	CHECK("sample bounded", n <= LANG_SAMPLE_MAX && n > LANG_SAMPLE_MAX - 4, "n=%zu", n);
	CHECK("sample cut at a character boundary", utf8_whole(sample, n), "broken UTF-8");
	CHECK("sample starts with the subject", !strncmp(sample, "件名 ", strlen("件名 ")),
	      "got %.20s", sample);
	lang_detect(d, sample, n, &g);
	CHECK("bounded sample still ja", g.known && !strcmp(g.code, "ja"), "got %s", g.code);
	n = lang_sample(NULL, mix, strlen(mix), sample);
	CHECK("quoted lines, links and addresses left out",
	      !strcmp(sample, "Hallo zusammen, siehe und bitte."), "got '%s'", sample);
	free(ja);
	free(big);
}

static void test_rules(void)
{
	struct lang_rule r[] = { { "de", LANG_ALLOW }, { "en", LANG_ALLOW }, { "ru", MXS_ACT_REJECT } };
	struct lang_set s = { .r = r, .n = 3, .other = MXS_ACT_QUARANTINE, .threshold = 0.5 };
	struct lang_guess g = { .known = true, .code = "de", .confidence = 0.9 };
	char why[128];

	CHECK("allowed: no action", lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_NONE, "acted");
	strcpy(g.code, "ru");
	CHECK("blocked: its action", lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_REJECT &&
	      !strcmp(why, "language ru"), "why=%s", why);
	strcpy(g.code, "es");
	CHECK("other: only the allowed", lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_QUARANTINE &&
	      strstr(why, "not an allowed language"), "why=%s", why);
	g.confidence = 0.49;
	CHECK("below the threshold: nothing", lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_NONE,
	      "acted");
	g.confidence = 0.9;
	g.known = false;
	CHECK("unknown: nothing", lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_NONE, "acted");
	g.known = true;
	r[0].action = r[1].action = MXS_ACT_SPAM;
	CHECK("other without an allowed language: nothing",
	      lang_decide(&s, &g, why, sizeof(why)) == MXS_ACT_NONE, "acted");
}

static void test_state(void)
{
	char dir[] = "/tmp/mxs-lang-XXXXXX", err[MXS_ERRLEN], p[512];
	struct ctl c = { .lock_fd = -1 };
	struct recfile f = {};
	struct lang_set s;
	struct rec *r;

	if (!mkdtemp(dir))
		return;
	c.state_dir = dir;
	CHECK("no file: no rules, default threshold", lang_load(&c, &s, err, sizeof(err)) == 0 &&
	      s.n == 0 && s.threshold == LANG_THRESHOLD_DEFAULT, "err=%s", err);
	lang_free(&s);
	r = recfile_add(&f);
	rec_set(r, "kind", "rule"), rec_set(r, "code", "ja"), rec_set(r, "action", "allow");
	r = recfile_add(&f);
	rec_set(r, "kind", "other"), rec_set(r, "action", "spam");
	r = recfile_add(&f);
	rec_set(r, "kind", "threshold"), rec_set(r, "value", "0.7");
	ctl_write(&c, ST_LANGUAGE, &f);
	CHECK("rules read back", lang_load(&c, &s, err, sizeof(err)) == 0 && s.n == 1 &&
	      s.r[0].action == LANG_ALLOW && s.other == MXS_ACT_SPAM && s.threshold == 0.7,
	      "err=%s n=%d", err, s.n);
	lang_free(&s);
	rec_set(recfile_add(&f), "kind", "rule");
	rec_set(&f.r[3], "code", "xx");
	rec_set(&f.r[3], "action", "allow");
	ctl_write(&c, ST_LANGUAGE, &f);
	CHECK("a bad code: FILE:LINE", lang_load(&c, &s, err, sizeof(err)) == -1 &&
	      strstr(err, "language:") && strstr(err, "bad record"), "err=%s", err);
	recfile_free(&f);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	if (system(p))
		return;
}

int main(void)
{
	char err[MXS_ERRLEN];
	struct lang_detector *d;

	test_codes();
	d = lang_detector_open(NULL, err, sizeof(err));
	CHECK("detector opens", d != NULL, "%s", err);
	if (d) {
		test_detect(d);
		test_sample(d);
		lang_detector_close(d);
	}
	test_rules();
	test_state();
	return failures ? 1 : 0;
}
