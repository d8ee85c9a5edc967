// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Parsers and formatters for everything an admin types or a state file holds. */
#define _GNU_SOURCE	/* strptime */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "parse.h"

uint64_t mxs_hash(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	uint64_t w;

	/* eight bytes a step, multiply-xorshift mixing */
	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; n; n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

int mxs_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void prefix_mask(struct mxs_prefix *p)
{
	int bytes = p->v6 ? 16 : 4, i;
	unsigned plen = p->plen;

	for (i = 0; i < bytes; i++) {
		if (plen >= 8) {
			plen -= 8;
			continue;
		}
		p->addr[i] &= (uint8_t)(0xff00 >> plen);
		plen = 0;
	}
	for (i = bytes; i < 16; i++)
		p->addr[i] = 0;
}

bool prefix_contains(const struct mxs_prefix *outer, const struct mxs_prefix *inner)
{
	struct mxs_prefix t = *inner;

	if (outer->v6 != inner->v6 || outer->plen > inner->plen)
		return false;
	t.plen = outer->plen;
	prefix_mask(&t);
	return memcmp(t.addr, outer->addr, 16) == 0;
}

bool prefix_meets(const struct mxs_prefix *a, const struct mxs_prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

void prefix_last(struct mxs_prefix *p)
{
	int bits = p->v6 ? 128 : 32;

	for (int b = p->plen; b < bits; b++)
		p->addr[b / 8] |= 0x80 >> (b % 8);
	p->plen = bits;
}

char *prefix_str(const struct mxs_prefix *p, char *buf)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->v6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a));
	snprintf(buf, MXS_PFX_STRLEN, "%s/%u", a, p->plen);
	return buf;
}

void prefix_to_tag_key(const struct mxs_prefix *p, struct mxs_addr *k)
{
	if (p->v6) {
		memcpy(k->addr, p->addr, 16);
	} else {
		memcpy(k->addr, v4mapped, 12);
		memcpy(k->addr + 12, p->addr, 4);
	}
}

/* Parse an address (no length). Returns its family's bit count, or -1. */
static int parse_bare(const char *s, struct mxs_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, s, p->addr) == 1)
		return 32;
	if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->v6 = 1;
		return 128;
	}
	return -1;
}

/* ::ffff:a.b.c.d[/96+n] is the IPv4 address a.b.c.d[/n]. */
static void unmap_v4(struct mxs_prefix *p)
{
	if (!p->v6 || p->plen < 96 || memcmp(p->addr, v4mapped, 12))
		return;
	memmove(p->addr, p->addr + 12, 4);
	memset(p->addr + 4, 0, 12);
	p->v6 = 0;
	p->plen -= 96;
}

int parse_prefix(const char *s, struct mxs_prefix *p, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct mxs_prefix masked;
	int bits;
	long len;

	if (!s || !*s)
		return mxs_fail(err, errlen, "empty address");
	if (strlen(s) >= sizeof(buf))
		return mxs_fail(err, errlen, "'%s': not an IP address or CIDR", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	bits = parse_bare(buf, p);
	if (bits < 0)
		return mxs_fail(err, errlen, "'%s': not an IP address or CIDR", s);
	p->plen = bits;
	if (slash) {
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || len < 0 || len > bits)
			return mxs_fail(err, errlen, "'%s': prefix length must be 0-%d", s, bits);
		p->plen = len;
	}
	masked = *p;
	prefix_mask(&masked);
	if (memcmp(masked.addr, p->addr, 16)) {
		char n[MXS_PFX_STRLEN];

		unmap_v4(&masked);
		return mxs_fail(err, errlen, "'%s': host bits set (the network is %s)",
			    s, prefix_str(&masked, n));
	}
	unmap_v4(p);
	return 0;
}

int parse_addr(const char *s, struct mxs_prefix *p, char *err, size_t errlen)
{
	int bits;

	if (!s || strchr(s, '/'))
		return mxs_fail(err, errlen, "'%s': expected a single IP address", s ? s : "");
	bits = parse_bare(s, p);
	if (bits < 0)
		return mxs_fail(err, errlen, "'%s': not an IP address", s);
	p->plen = bits;
	unmap_v4(p);
	return 0;
}

int parse_duration(const char *s, int64_t *secs, char *err, size_t errlen)
{
	const char *c = s;
	int64_t total = 0;

	if (!s || !*s)
		return mxs_fail(err, errlen, "empty duration");
	while (*c) {
		int64_t n = 0, mul;

		if (!isdigit((unsigned char)*c))
			return mxs_fail(err, errlen, "'%s': bad duration (use e.g. 30s, 45m, 12h, 7d)", s);
		while (isdigit((unsigned char)*c)) {
			n = n * 10 + (*c++ - '0');
			if (n > 100000000)
				return mxs_fail(err, errlen, "'%s': duration too long", s);
		}
		switch (*c) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case '\0':
			return mxs_fail(err, errlen, "'%s': duration needs a unit (s, m, h or d)", s);
		default:
			return mxs_fail(err, errlen, "'%s': unknown duration unit '%c' (use s, m, h or d)", s, *c);
		}
		c++;
		total += n * mul;
		if (total > 100LL * 365 * 86400)
			return mxs_fail(err, errlen, "'%s': duration too long (100 years at most)", s);
	}
	if (total <= 0)
		return mxs_fail(err, errlen, "'%s': duration must be positive", s);
	*secs = total;
	return 0;
}

int parse_expiry(const char *s, int64_t now, int64_t *when, char *err, size_t errlen)
{
	struct tm tm = {};
	const char *end;
	int64_t secs;

	if (s && !strcmp(s, "never")) {
		*when = 0;
		return 0;
	}
	if (s && isdigit((unsigned char)s[0]) && strlen(s) == 20 && s[4] == '-') {
		end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (!end || *end)
			return mxs_fail(err, errlen, "'%s': a time is written "
					"YYYY-MM-DDTHH:MM:SSZ (UTC)", s);
		*when = timegm(&tm);
		if (*when <= 0)
			return mxs_fail(err, errlen, "'%s': before 1970", s);
		return 0;
	}
	if (parse_duration(s, &secs, err, errlen))
		return -1;
	*when = now + secs;
	return 0;
}

char *fmt_time(int64_t unix_secs, char *buf, size_t len)
{
	time_t t = unix_secs;
	struct tm tm;

	if (!unix_secs || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "never");
	return buf;
}

/* ISO 3166-1 alpha-2 assigned codes, plus XK (Kosovo), which the RIRs and
 * MaxMind use. */
static const char iso3166[] =
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
	"DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR "
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
	"HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP "
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY "
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ "
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM "
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ "
	"UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

int parse_country(const char *s, uint32_t *idx, char code[3], char *err, size_t errlen)
{
	char c[3];
	const char *hit;

	if (!s || strlen(s) != 2 || !isalpha((unsigned char)s[0]) ||
	    !isalpha((unsigned char)s[1]))
		return mxs_fail(err, errlen, "'%s': country must be a two-letter ISO 3166-1 code", s ? s : "");
	c[0] = toupper((unsigned char)s[0]);
	c[1] = toupper((unsigned char)s[1]);
	c[2] = '\0';
	for (hit = iso3166; (hit = strstr(hit, c)); hit++)
		if ((hit - iso3166) % 3 == 0)
			break;
	if (!hit)
		return mxs_fail(err, errlen, "'%s': not an ISO 3166-1 alpha-2 country code", s);
	*idx = (c[0] - 'A') * 26 + (c[1] - 'A');
	if (code)
		memcpy(code, c, 3);
	return 0;
}

void country_code(uint32_t idx, char out[3])
{
	if (idx >= MXS_COUNTRY_SLOTS) {
		strcpy(out, "--");
		return;
	}
	out[0] = 'A' + idx / 26;
	out[1] = 'A' + idx % 26;
	out[2] = '\0';
}

static const char *const action_names[MXS_ACT_MAX] = {
	[MXS_ACT_NONE] = "pass", [MXS_ACT_DROP] = "drop",
	[MXS_ACT_REJECT] = "reject", [MXS_ACT_QUARANTINE] = "quarantine",
	[MXS_ACT_SPAM] = "spam",
};

static const char *const list_names[MXS_LIST_MAX + 1] = {
	[MXS_LIST_TRUST] = "trust", [MXS_LIST_PARTNER] = "partner",
	[MXS_LIST_GATEWAY] = "gateway", [MXS_LIST_BLOCK] = "block",
	[MXS_LIST_COUNTRY] = "country", [MXS_LIST_NONE] = "none",
};

static const char *const reason_names[MXS_R_MAX] = {
	[MXS_R_NOT_IP] = "not-ip", [MXS_R_NOT_TCP] = "not-tcp",
	[MXS_R_NOT_SMTP] = "not-smtp", [MXS_R_FRAGMENT] = "fragment",
	[MXS_R_UNPARSED] = "unparsed", [MXS_R_TRUST] = "trust",
	[MXS_R_PARTNER] = "partner", [MXS_R_GATEWAY] = "gateway",
	[MXS_R_GATEWAY_ONLY] = "gateway-only", [MXS_R_BLOCK] = "block",
	[MXS_R_COUNTRY] = "country", [MXS_R_DEFAULT] = "default",
};

const char *action_name(uint8_t a)
{
	return a < MXS_ACT_MAX ? action_names[a] : "?";
}

const char *list_name(uint8_t l)
{
	return l <= MXS_LIST_NONE ? list_names[l] : "?";
}

const char *reason_name(uint8_t r)
{
	return r < MXS_R_MAX ? reason_names[r] : "?";
}

int parse_action(const char *s, uint8_t *act, char *err, size_t errlen)
{
	for (int a = MXS_ACT_DROP; a < MXS_ACT_MAX; a++) {
		if (s && !strcmp(s, action_names[a])) {
			*act = a;
			return 0;
		}
	}
	return mxs_fail(err, errlen, "'%s': action must be drop, reject, quarantine or spam",
		    s ? s : "");
}

int parse_ports(const char *s, uint16_t *ports, uint32_t *n, char *err, size_t errlen)
{
	const char *c = s;
	uint32_t cnt = 0;

	if (!s || !*s)
		return mxs_fail(err, errlen, "empty port list");
	while (*c) {
		char *end;
		long v;

		if (!isdigit((unsigned char)*c))
			return mxs_fail(err, errlen, "'%s': ports must be numbers separated by commas", s);
		v = strtol(c, &end, 10);
		if (v < 1 || v > 65535)
			return mxs_fail(err, errlen, "'%s': port %ld out of range 1-65535", s, v);
		if (*end && *end != ',')
			return mxs_fail(err, errlen, "'%s': ports must be numbers separated by commas", s);
		for (uint32_t i = 0; i < cnt; i++)
			if (ports[i] == v)
				return mxs_fail(err, errlen, "'%s': port %ld listed twice", s, v);
		if (cnt == MXS_MAX_PORTS)
			return mxs_fail(err, errlen, "'%s': at most %d ports", s, MXS_MAX_PORTS);
		ports[cnt++] = v;
		c = *end ? end + 1 : end;
		if (*end && !*c)
			return mxs_fail(err, errlen, "'%s': trailing comma", s);
	}
	*n = cnt;
	return 0;
}

int parse_domain(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len, label = 0, i;

	if (!s || !*s)
		return mxs_fail(err, errlen, "empty domain");
	len = strlen(s);
	if (s[len - 1] == '.')
		len--;		/* fully qualified form */
	if (len == 0 || len > 253 || len >= outlen)
		return mxs_fail(err, errlen, "'%s': not a valid domain name", s);
	for (i = 0; i < len; i++) {
		char c = tolower((unsigned char)s[i]);

		if (c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return mxs_fail(err, errlen, "'%s': empty label or label ending in '-'", s);
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
			if (label == 0 && c == '-')
				return mxs_fail(err, errlen, "'%s': label starting with '-'", s);
			if (++label > 63)
				return mxs_fail(err, errlen, "'%s': label longer than 63 characters", s);
		} else {
			return mxs_fail(err, errlen, "'%s': invalid character '%c' in domain", s, s[i]);
		}
		out[i] = c;
	}
	if (label == 0 || out[len - 1] == '-')
		return mxs_fail(err, errlen, "'%s': not a valid domain name", s);
	out[len] = '\0';
	return 0;
}

int parse_name(const char *s, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return mxs_fail(err, errlen, "'%s': names are 1-63 characters", s ? s : "");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return mxs_fail(err, errlen, "'%s': names use letters, digits, '.', '_' and '-'", s);
	return 0;
}

/* ---------------------------------------------------------------- time */

static int64_t tai_offset_ns(void)
{
	struct timespec r, t;

	int64_t off;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_TAI, &t);
	/* The offset is whole leap seconds. The two reads are apart by a
	 * little: rounded to the nearest second, so that reads falling on
	 * both sides of a second boundary do not make it one more (taking
	 * only tv_sec did, now and then). */
	off = ((int64_t)t.tv_sec - r.tv_sec) * 1000000000LL + (t.tv_nsec - r.tv_nsec);
	return (off + 500000000LL) / 1000000000LL * 1000000000LL;
}

uint64_t now_tai_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_TAI, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

uint64_t unix_to_tai_ns(int64_t unix_secs)
{
	int64_t off = tai_offset_ns();

	if (unix_secs <= 0)
		return 0;
	/* past 2262 signed 64-bit nanoseconds end: the latest they can say,
	 * rather than an overflow into the past (an expiry read from a
	 * journal line is any number; found by tests/fuzz/fuzz_journal.c) */
	if (unix_secs > (INT64_MAX - off) / 1000000000LL)
		return INT64_MAX;
	return (uint64_t)(unix_secs * 1000000000LL + off);
}

int64_t mono_ns_to_unix(uint64_t mono_ns)
{
	struct timespec m, r;

	if (!mono_ns)
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return r.tv_sec - ((int64_t)m.tv_sec * 1000000000 + m.tv_nsec - (int64_t)mono_ns) /
			  1000000000;
}

int64_t tai_ns_to_unix(uint64_t tai_ns)
{
	if (!tai_ns)
		return 0;
	return ((int64_t)tai_ns - tai_offset_ns()) / 1000000000LL;
}

int64_t tai_ns_to_unix_ns(uint64_t tai_ns)
{
	return (int64_t)tai_ns - tai_offset_ns();
}

char *fmt_remaining(int64_t unix_secs, char *buf, size_t len)
{
	int64_t d = unix_secs - time(NULL);
	int64_t a = d < 0 ? -d : d;
	char span[32];

	if (!unix_secs) {
		snprintf(buf, len, "never");
		return buf;
	}
	if (a >= 86400)
		snprintf(span, sizeof(span), "%lldd%lldh", (long long)(a / 86400),
			 (long long)(a % 86400 / 3600));
	else if (a >= 3600)
		snprintf(span, sizeof(span), "%lldh%lldm", (long long)(a / 3600),
			 (long long)(a % 3600 / 60));
	else if (a >= 60)
		snprintf(span, sizeof(span), "%lldm%llds", (long long)(a / 60),
			 (long long)(a % 60));
	else
		snprintf(span, sizeof(span), "%llds", (long long)a);
	snprintf(buf, len, d >= 0 ? "in %s" : "expired %s ago", span);
	return buf;
}
