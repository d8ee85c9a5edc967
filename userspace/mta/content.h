/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/content.c: the content checks the milter runs on the decoded text of
 * a message (struct msg_text, mime.h), in order, each adding to one
 * verdict: subject and content patterns (text or PCRE2), and the
 * empty-mail rule. A new check (language detection, say) is a function
 * of type content_check_fn and a row of content_checks[] in content.c;
 * what it needs from the state goes into struct content_rules, built by
 * content_rules_build() whenever the lists change.
 */
#ifndef MXS_CONTENT_H
#define MXS_CONTENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct env_set;
struct msg_text;

/* What a pattern is matched against ("pattern add --field"). */
enum pat_field { PAT_SENDER, PAT_SUBJECT, PAT_CONTENT, PAT_FIELD_MAX };
const char *pat_field_name(int f);
int pat_field_by_name(const char *s);	/* -1: not one */

/*
 * Bounds of a regular expression's match (pcre2_set_match_limit,
 * _depth_limit, _heap_limit): a pattern that backtracks without end, on
 * any text, stops there; that pattern does not match and the stop is
 * counted (content_stats.limit_hits) and logged.
 */
#define CONTENT_MATCH_LIMIT	200000
#define CONTENT_DEPTH_LIMIT	5000
#define CONTENT_HEAP_LIMIT_KB	8192

/* Check a subject/content pattern for "pattern add": a regex must compile
 * with PCRE2 (the error names PCRE2's reason and the offset); text is
 * stored folded (mime_fold). 0, or -1 with @err. */
int content_pattern_parse(bool regex, const char *in, char *out, size_t outlen, char *err,
			  size_t errlen);

/* The verdict the checks build: the strongest action (MXS_ACT_NONE, SPAM,
 * QUARANTINE, REJECT) with the rule that gave it, and headers to add to
 * the message whatever the action (a check's findings, e.g. a language). */
#define CONTENT_MAX_HEADERS 4
struct content_verdict {
	uint8_t action;
	char reason[256];	/* 'pattern subject "free money"', 'empty mail' */
	struct {
		char name[48], value[256];
	} hdr[CONTENT_MAX_HEADERS];
	int nhdr;
	unsigned limit_hits;	/* regex matches stopped by a limit */
};

/* Raise v to @act (reject > quarantine > spam) with the reason printed by
 * @fmt; a weaker or equal action changes nothing (the first rule to reach
 * an action is the one named). */
void content_escalate(struct content_verdict *v, uint8_t act, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A header for the message; -1 when CONTENT_MAX_HEADERS are there. */
int content_header(struct content_verdict *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The compiled rules: built once per change of the lists, shared read-only
 * by every connection's thread. */
struct content_rules;
struct content_rules *content_rules_build(const struct env_set *s, char *err, size_t errlen);
void content_rules_free(struct content_rules *r);
/* How many subject/content rules are there (0 and no empty rule: nothing
 * to do, the message need not even be decoded). */
int content_rules_count(const struct content_rules *r);

/* One check, and the list of them run in order by content_run(). */
typedef void (*content_check_fn)(const struct content_rules *r, const struct msg_text *t,
				 struct content_verdict *v);
struct content_check {
	const char *name;
	content_check_fn fn;
};
extern const struct content_check content_checks[];	/* ends with { NULL } */

/* Every check over @t into @v (zeroed first). */
void content_run(const struct content_rules *r, const struct msg_text *t,
		 struct content_verdict *v);

/* Counters since the process started (atomic: any thread). */
struct content_stats {
	uint64_t messages, limit_hits, truncated;
};
void content_stats_get(struct content_stats *st);
void content_stats_add(uint64_t messages, uint64_t limit_hits, uint64_t truncated);

#endif
