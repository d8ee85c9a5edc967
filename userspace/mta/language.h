/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/language.c: language rules for the content of a message.
 *
 * The rules (state file "language"): ISO 639-1 code -> allow, spam,
 * quarantine or reject; "other": the action for a language with no rule
 * once at least one language is allowed ("only these languages"); the
 * confidence below which no rule applies.
 *
 * The detection: libexttextcat's n-gram fingerprints (the models of
 * libexttextcat-data whose tag is an ISO 639-1 code), compared with a
 * bounded sample of the message's decoded text (lang_sample()). The
 * confidence is the margin by which the best language beats the runner-up
 * (another language, not another model of the same one), as a fraction of
 * the runner-up's distance, scaled so that a margin of LANG_MARGIN_FULL or
 * more is 1.0 (docs/language.md has the measurements behind it).
 */
#ifndef MXS_LANGUAGE_H
#define MXS_LANGUAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl;

#define ST_LANGUAGE "language"
#define LANG_DATA_DIR "/usr/share/libexttextcat"
/* The sample: at most this many bytes of subject and body text. */
#define LANG_SAMPLE_MAX 2048
/* A margin of 10 % over the runner-up's distance is confidence 1.0. */
#define LANG_MARGIN_FULL 0.10
#define LANG_THRESHOLD_DEFAULT 0.50
/* The action of an allow rule (beside MXS_ACT_REJECT/QUARANTINE/SPAM). */
#define LANG_ALLOW 0xff

struct lang_rule {
	char code[3];
	uint8_t action;		/* LANG_ALLOW or MXS_ACT_REJECT/QUARANTINE/SPAM */
};

struct lang_set {
	struct lang_rule *r;
	int n;
	uint8_t other;		/* MXS_ACT_NONE or an action */
	double threshold;	/* 0..1 */
};

/* Is @code an ISO 639-1 code (two lower-case letters, listed)? */
bool lang_code_valid(const char *code);
/* "allow", "spam", ... for a rule's action; -1 for none of them. */
int lang_action_by_name(const char *s);
const char *lang_action_name(uint8_t a);

/* The rules from the state directory (missing file: none, threshold the
 * default). 0, or -1 with "language:LINE: ..." in err. */
int lang_load(const struct ctl *c, struct lang_set *s, char *err, size_t errlen);
void lang_free(struct lang_set *s);
/* Does any rule say allow? */
bool lang_any_allow(const struct lang_set *s);

/* The detector: every model loaded once (about 130 of them, 2 MB). */
struct lang_detector;
/* dir NULL: LANG_DATA_DIR. NULL with err filled when the data is missing. */
struct lang_detector *lang_detector_open(const char *dir, char *err, size_t errlen);
void lang_detector_close(struct lang_detector *d);
/* Has the detector a model for @code (can it ever answer it)? */
bool lang_detector_knows(const struct lang_detector *d, const char *code);

struct lang_guess {
	bool known;		/* false: too little text to tell */
	char code[3];
	double confidence;	/* 0..1 */
};

/*
 * The sample the detector reads, from the decoded subject and body (UTF-8;
 * either may be NULL): the subject, then the body's lines, leaving out
 * quoted lines ("> ...") and words that are addresses or links (with "@",
 * "://" or "www."), whose letters say nothing of the writer's language;
 * at most LANG_SAMPLE_MAX bytes, cut at a character boundary. Returns its
 * length; @out holds LANG_SAMPLE_MAX + 1 bytes.
 */
size_t lang_sample(const char *subject, const char *body, size_t bodylen, char *out);
/* Detect the language of @text (a sample). 0, or -1 on no memory. */
int lang_detect(const struct lang_detector *d, const char *text, size_t len,
		struct lang_guess *g);
/* The header's value: "de; confidence=0.93", "unknown; confidence=0.00". */
void lang_header_value(const struct lang_guess *g, char *buf, size_t len);

/* The rule for a guess: MXS_ACT_NONE (no rule applies: unknown, below
 * the threshold, allowed, no rule and no "other"), or the action, with
 * the reason naming the rule ("language ru", "language ru: not an allowed
 * language"). */
uint8_t lang_decide(const struct lang_set *s, const struct lang_guess *g, char *reason,
		    size_t rlen);

#endif
