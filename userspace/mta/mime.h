/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/mime.c: a message (RFC 5322 + MIME, as the milter captured it) made
 * into the text the content checks read: the decoded Subject and the text
 * of the body, both UTF-8, both bounded.
 *
 *   - MIME parsing, transfer decodings (quoted-printable, base64) and
 *     RFC 2047 encoded-words in the Subject: GMime 3 (libgmime-3.0), a
 *     parser that has read hostile mail for twenty years;
 *   - charsets: iconv (GMime's cached, alias-aware g_mime_iconv_open()) to
 *     UTF-8; a charset iconv does not know, or no charset at all, is read
 *     as UTF-8 when the bytes are valid UTF-8, else as windows-1252 (a
 *     superset of ISO-8859-1 in which every byte is a character);
 *     sequences invalid in the declared charset become U+FFFD;
 *   - text/plain parts as they are, text/html parts reduced to their text
 *     (tags dropped, <script> and <style> with their contents, comments,
 *     character references decoded); multipart/alternative: its
 *     text/plain part, or its HTML part when it has none;
 *   - a part with Content-Disposition: attachment, or of a type that is
 *     not text/plain or text/html, is an attachment: not read, counted.
 *
 * Bounds, so that a 20 MB message or a hostile one is read in bounded
 * time and memory: the caller captures at most MIME_CAPTURE_MAX bytes; a
 * capture with more than MIME_MAX_MULTIPART multipart headers is cut
 * before the one past the limit (GMime's parser recurses per level);
 * parts are walked MIME_MAX_DEPTH deep and MIME_MAX_PARTS in all; the
 * Subject keeps MSG_SUBJECT_MAX bytes and the body text MSG_BODY_MAX.
 */
#ifndef MXS_MIME_H
#define MXS_MIME_H

#include <stdbool.h>
#include <stddef.h>

#define MIME_CAPTURE_MAX	(2u << 20)	/* raw bytes read of a message */
#define MIME_MAX_MULTIPART	32
#define MIME_MAX_DEPTH		16
#define MIME_MAX_PARTS		256
#define MSG_SUBJECT_MAX		2048
#define MSG_BODY_MAX		(256u << 10)

/*
 * The decoded text of one message: what every content check reads (the
 * patterns and the empty-mail rule of mta/content.c, language detection).
 * All strings are UTF-8 (valid: anything else became U+FFFD), NUL-
 * terminated, owned by the struct. The *_fold copies are the same bytes
 * case-folded by mime_fold() (same length, same offsets), for the
 * case-insensitive text patterns.
 */
struct msg_text {
	char *subject, *subject_fold;	/* "" when there is none */
	size_t subject_len;
	char *body, *body_fold;		/* text parts, HTML reduced, joined by "\n" */
	size_t body_len;
	bool has_attachments;		/* a part that is not a text body */
	bool truncated;			/* a bound cut something (capture, body, parts) */
	int text_parts, parts;		/* text parts read, leaf parts seen */
};

/* Decode @len bytes of @raw (headers, empty line, body) into @t. Never
 * fails on bad input (what cannot be parsed is text or nothing); -1 only
 * when out of memory. msg_text_free() it after either. */
int mime_decode(const char *raw, size_t len, struct msg_text *t);
void msg_text_free(struct msg_text *t);

/* Fold UTF-8 @s[0..n) in place for case-insensitive matching: ASCII,
 * Latin-1 Supplement (U+00C0-U+00DE but U+00D7), Latin Extended-A
 * (U+0100-U+017F), Greek (U+0386-U+03AB) and Cyrillic (U+0400-U+042F,
 * U+0460-U+04FF pairs) capitals to their small letters. Each of these
 * keeps its encoded length, so offsets stay; anything else (ß, Turkish
 * dotted İ, other scripts) stays as it is. */
void mime_fold(char *s, size_t n);

/* The text of HTML @in[0..n) into @out (cap bytes, NUL-terminated):
 * returns its length. Exposed for the unit tests. */
size_t mime_html_text(const char *in, size_t n, char *out, size_t cap);

/* Is @s[0..n) only white space (ASCII, U+00A0, U+2000-U+200B, U+3000,
 * U+FEFF)? The empty-mail rule's definition of "no text". */
bool mime_blank(const char *s, size_t n);

#endif
