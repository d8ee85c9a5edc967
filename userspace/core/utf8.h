/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * UTF-8, strictly (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Values that reach --json output must be text, so the
 * CLI refuses anything else and the JSON writer replaces what still
 * slips through (a hand-edited state file).
 */
#ifndef MXS_UTF8_H
#define MXS_UTF8_H
#include <stddef.h>
#include <stdio.h>

/* Length (1-4) of the valid UTF-8 sequence at @s (@n bytes left), or 0
 * when the byte at @s does not start one. */
static inline size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;	/* range of the second byte */

	if (c < 0x80)
		return 1;
	if (c < 0xc2)			/* continuation byte, or overlong 2-byte lead */
		return 0;
	if (c < 0xe0) {
		len = 2;
	} else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (c < 0xf5) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Offset of the first byte of @s[0..n) that is not valid UTF-8, or @n. */
static inline size_t utf8_bad_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = p[i] < 0x80 ? 1 : utf8_seq(p + i, n - i);

		if (!l)
			return i;
		i += l;
	}
	return n;
}

/* Is @s text a value may hold: valid UTF-8 without control characters
 * (C0, DEL)? 0, or -1 with err saying what and where (@what names it). */
static inline int utf8_text_check(const char *what, const char *s, char *err, size_t errlen)
{
	size_t n = 0, bad;

	for (; s[n]; n++) {
		unsigned char c = s[n];

		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "%s contains a control character (0x%02x at byte %zu)",
				 what, c, n + 1);
			return -1;
		}
	}
	bad = utf8_bad_at(s, n);
	if (bad < n) {
		snprintf(err, errlen, "%s is not valid UTF-8 (byte 0x%02x at byte %zu)", what,
			 (unsigned char)s[bad], bad + 1);
		return -1;
	}
	return 0;
}

#endif
