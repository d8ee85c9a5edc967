// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * core/etcd.c: etcd's v3 API over its HTTP/JSON gateway (etcd.h).
 *
 * Every call is one POST of a JSON document to /v3/...; 64-bit numbers
 * come back as strings, keys and values as base64. The watch is one long
 * POST whose answer is a stream of JSON documents, read through libcurl's
 * multi interface so the caller's loop keeps running between messages.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "etcd.h"

struct etcd {
	char *ep[ETCD_MAX_ENDPOINTS];
	int nep, cur;
	char *cert, *key, *cacert;
	long timeout_ms;
	CURL *h;
	char err[512];
};

/* ---------------------------------------------------------------- base64 */

static const char b64t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];

		out[o++] = b64t[v >> 18];
		out[o++] = b64t[(v >> 12) & 63];
		out[o++] = b64t[(v >> 6) & 63];
		out[o++] = b64t[v & 63];
	}
	if (i < n) {
		uint32_t v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0);

		out[o++] = b64t[v >> 18];
		out[o++] = b64t[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64t[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

static int b64v(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long b64_decode(const char *in, size_t n, void *out)
{
	unsigned char *o = out;
	uint32_t acc = 0;
	int bits = 0;
	long len = 0;

	for (size_t i = 0; i < n; i++) {
		int v;

		if (in[i] == '=')
			break;
		v = b64v(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[len++] = acc >> bits;
		}
	}
	return len;
}

/* A JSON string member holding base64: decoded, NUL-terminated, malloc'ed. */
static char *b64_member(json_object *o, const char *k, size_t *len)
{
	json_object *v;
	const char *s = "";
	size_t n;
	char *out;
	long r;

	if (json_object_object_get_ex(o, k, &v))
		s = json_object_get_string(v);
	n = strlen(s);
	out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	r = b64_decode(s, n, out);
	if (r < 0)
		r = 0;
	out[r] = 0;
	*len = r;
	return out;
}

static char *b64_dup(const void *p, size_t n)
{
	char *s = malloc(n / 3 * 4 + 8);

	if (s)
		b64_encode(p, n, s);
	return s;
}

/* 64-bit numbers arrive as strings; missing = 0. */
static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return json_object_get_int64(v);
}

/* ------------------------------------------------------------- the client */

static void seterr(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

const char *etcd_error(const struct etcd *e)
{
	return e->err;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->ep[e->cur];
}

void etcd_set_timeout(struct etcd *e, long ms)
{
	e->timeout_ms = ms;
}

struct etcd *etcd_new(const char *endpoints, const char *cert, const char *key,
		      const char *cacert, char *err, size_t errlen)
{
	static bool inited;
	struct etcd *e;
	char *list, *tok, *sp;

	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	if ((cert && !key) || (key && !cert)) {
		snprintf(err, errlen, "--cert and --key go together");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	list = strdup(endpoints ? endpoints : "");
	if (!e || !list) {
		snprintf(err, errlen, "out of memory");
		free(e);
		free(list);
		return NULL;
	}
	for (tok = strtok_r(list, ",", &sp); tok; tok = strtok_r(NULL, ",", &sp)) {
		size_t n = strlen(tok);

		while (n && tok[n - 1] == '/')
			tok[--n] = 0;
		if (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8)) {
			snprintf(err, errlen, "endpoint '%s': not an http:// or https:// URL", tok);
			goto bad;
		}
		if (e->nep == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "more than %d endpoints", ETCD_MAX_ENDPOINTS);
			goto bad;
		}
		e->ep[e->nep++] = strdup(tok);
	}
	if (!e->nep) {
		snprintf(err, errlen, "no etcd endpoint given");
		goto bad;
	}
	free(list);
	e->cert = cert ? strdup(cert) : NULL;
	e->key = key ? strdup(key) : NULL;
	e->cacert = cacert ? strdup(cacert) : NULL;
	e->timeout_ms = 3000;
	return e;
bad:
	free(list);
	etcd_free(e);
	return NULL;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->nep; i++)
		free(e->ep[i]);
	free(e->cert);
	free(e->key);
	free(e->cacert);
	if (e->h)
		curl_easy_cleanup(e->h);
	free(e);
}

struct buf {
	char *p;
	size_t n, cap;
	size_t max;
};

static size_t buf_write(char *ptr, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	size_t n = sz * nm;

	if (b->max && b->n + n > b->max)
		return 0;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

static void setup(struct etcd *e, CURL *h, const char *url, const char *body,
		  struct curl_slist *hdr)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms < 1000 ? e->timeout_ms : 1000);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	/* never a proxy from the environment: etcd is reached directly */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (e->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, e->cacert);
	if (e->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
	}
}

/*
 * POST @body to @path on the current endpoint, then on the others until one
 * answers. The parsed answer, or NULL with e->err set. An HTTP error from
 * etcd (a gRPC status in JSON) is an answer of etcd: not tried elsewhere.
 */
static json_object *call(struct etcd *e, const char *path, const char *body)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	json_object *j = NULL;
	char url[1024];

	if (!e->h)
		e->h = curl_easy_init();
	if (!e->h || !hdr) {
		seterr(e, "out of memory");
		curl_slist_free_all(hdr);
		return NULL;
	}
	for (int tries = 0; tries < e->nep; tries++) {
		struct buf b = {};
		long code = 0;
		CURLcode rc;

		snprintf(url, sizeof(url), "%s%s", e->ep[e->cur], path);
		curl_easy_reset(e->h);
		setup(e, e->h, url, body, hdr);
		curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
		curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, buf_write);
		curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &b);
		rc = curl_easy_perform(e->h);
		if (rc != CURLE_OK) {
			seterr(e, "%s: %s", e->ep[e->cur], curl_easy_strerror(rc));
			free(b.p);
			e->cur = (e->cur + 1) % e->nep;
			continue;
		}
		curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &code);
		j = b.p ? json_tokener_parse(b.p) : NULL;
		if (code == 503 || code == 502) {
			/* the member is up but has no leader or no quorum: another may */
			seterr(e, "%s: HTTP %ld%s%s", e->ep[e->cur], code, b.p ? ": " : "",
			       b.p ? b.p : "");
			free(b.p);
			json_object_put(j);
			j = NULL;
			e->cur = (e->cur + 1) % e->nep;
			continue;
		}
		if (code != 200 || !j) {
			json_object *m = NULL;

			if (j && (json_object_object_get_ex(j, "message", &m) ||
				  json_object_object_get_ex(j, "error", &m)))
				seterr(e, "%s: %s", e->ep[e->cur], json_object_get_string(m));
			else
				seterr(e, "%s: HTTP %ld: %.200s", e->ep[e->cur], code,
				       b.p ? b.p : "(no body)");
			free(b.p);
			json_object_put(j);
			j = NULL;
			break;
		}
		free(b.p);
		e->err[0] = 0;
		break;
	}
	curl_slist_free_all(hdr);
	return j;
}

void etcd_prefix_end(const char *prefix, char *buf, size_t len)
{
	size_t n = strlen(prefix);

	snprintf(buf, len, "%s", prefix);
	/* the first key after every key starting with @prefix: the last byte
	 * that is not 0xff, plus one (our prefixes are text: never 0xff) */
	while (n && (unsigned char)buf[n - 1] == 0xff)
		buf[--n] = 0;
	if (n)
		buf[n - 1]++;
}

static void add_b64(json_object *o, const char *k, const void *p, size_t n)
{
	char *s = b64_dup(p, n);

	json_object_object_add(o, k, json_object_new_string(s ? s : ""));
	free(s);
}

static int kv_from(json_object *o, struct etcd_kv *kv)
{
	memset(kv, 0, sizeof(*kv));
	kv->key = b64_member(o, "key", &kv->klen);
	kv->val = b64_member(o, "value", &kv->vlen);
	kv->create_rev = jint(o, "create_revision");
	kv->mod_rev = jint(o, "mod_revision");
	return kv->key && kv->val ? 0 : -1;
}

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->val);
}

void etcd_kvs_free(struct etcd_kvs *k)
{
	for (size_t i = 0; i < k->n; i++)
		kv_free(&k->kv[i]);
	free(k->kv);
	memset(k, 0, sizeof(*k));
}

static const char *json_str(json_object *j)
{
	return json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
}

int etcd_range(struct etcd *e, const char *key, const char *end, int64_t rev, long limit,
	       bool keys_only, struct etcd_kvs *out)
{
	json_object *req = json_object_new_object(), *ans, *hd, *kvs;
	size_t n;

	memset(out, 0, sizeof(*out));
	add_b64(req, "key", key, strlen(key));
	if (end)
		add_b64(req, "range_end", end, strlen(end));
	if (rev)
		json_object_object_add(req, "revision", json_object_new_int64(rev));
	if (limit)
		json_object_object_add(req, "limit", json_object_new_int64(limit));
	if (keys_only)
		json_object_object_add(req, "keys_only", json_object_new_boolean(1));
	ans = call(e, "/v3/kv/range", json_str(req));
	json_object_put(req);
	if (!ans)
		return -1;
	json_object_object_get_ex(ans, "header", &hd);
	out->rev = jint(hd, "revision");
	out->cluster_id = (uint64_t)strtoull(
		json_object_object_get_ex(hd, "cluster_id", &kvs) ? json_object_get_string(kvs) : "0",
		NULL, 10);
	out->more = jint(ans, "more") != 0;
	if (json_object_object_get_ex(ans, "more", &kvs))
		out->more = json_object_get_boolean(kvs);
	if (json_object_object_get_ex(ans, "kvs", &kvs) && (n = json_object_array_length(kvs))) {
		out->kv = calloc(n, sizeof(*out->kv));
		if (!out->kv) {
			json_object_put(ans);
			seterr(e, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (kv_from(json_object_array_get_idx(kvs, i), &out->kv[out->n])) {
				json_object_put(ans);
				etcd_kvs_free(out);
				seterr(e, "out of memory");
				return -1;
			}
			out->n++;
		}
	}
	json_object_put(ans);
	return 0;
}

int etcd_range_prefix(struct etcd *e, const char *prefix, int64_t rev, struct etcd_kvs *out)
{
	char end[1024];

	etcd_prefix_end(prefix, end, sizeof(end));
	return etcd_range(e, prefix, end, rev, 0, false, out);
}

int etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, int ncmp, const struct etcd_op *ops,
	     int nops, bool *ok, int64_t *rev)
{
	json_object *req = json_object_new_object(), *ca = json_object_new_array(),
		    *sa = json_object_new_array(), *ans, *hd, *v;

	for (int i = 0; i < ncmp; i++) {
		json_object *c = json_object_new_object();

		add_b64(c, "key", cmp[i].key, strlen(cmp[i].key));
		json_object_object_add(c, "result", json_object_new_string("EQUAL"));
		json_object_object_add(c, "target",
				       json_object_new_string(cmp[i].create ? "CREATE" : "MOD"));
		json_object_object_add(c, cmp[i].create ? "create_revision" : "mod_revision",
				       json_object_new_int64(cmp[i].rev));
		json_object_array_add(ca, c);
	}
	for (int i = 0; i < nops; i++) {
		json_object *op = json_object_new_object(), *r = json_object_new_object();

		add_b64(r, "key", ops[i].key, strlen(ops[i].key));
		if (ops[i].type == ETCD_PUT) {
			add_b64(r, "value", ops[i].val, ops[i].vlen);
			if (ops[i].lease)
				json_object_object_add(r, "lease", json_object_new_int64(ops[i].lease));
			json_object_object_add(op, "request_put", r);
		} else {
			if (ops[i].end)
				add_b64(r, "range_end", ops[i].end, strlen(ops[i].end));
			json_object_object_add(op, "request_delete_range", r);
		}
		json_object_array_add(sa, op);
	}
	json_object_object_add(req, "compare", ca);
	json_object_object_add(req, "success", sa);
	ans = call(e, "/v3/kv/txn", json_str(req));
	json_object_put(req);
	if (!ans)
		return -1;
	json_object_object_get_ex(ans, "header", &hd);
	if (rev)
		*rev = jint(hd, "revision");
	*ok = json_object_object_get_ex(ans, "succeeded", &v) && json_object_get_boolean(v);
	json_object_put(ans);
	return 0;
}

int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease)
{
	struct etcd_op op = { ETCD_PUT, key, NULL, val, vlen, lease };
	bool ok;

	return etcd_txn(e, NULL, 0, &op, 1, &ok, NULL);
}

int etcd_lease_grant(struct etcd *e, long ttl, int64_t *id)
{
	char body[64];
	json_object *ans;

	snprintf(body, sizeof(body), "{\"TTL\":%ld}", ttl);
	ans = call(e, "/v3/lease/grant", body);
	if (!ans)
		return -1;
	*id = jint(ans, "ID");
	json_object_put(ans);
	if (!*id) {
		seterr(e, "lease grant: no lease ID in the answer");
		return -1;
	}
	return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, long *ttl)
{
	char body[64];
	json_object *ans, *r;

	snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
	ans = call(e, "/v3/lease/keepalive", body);
	if (!ans)
		return -1;
	*ttl = 0;
	if (json_object_object_get_ex(ans, "result", &r))
		*ttl = jint(r, "TTL");
	json_object_put(ans);
	if (*ttl <= 0) {
		seterr(e, "lease %lld expired", (long long)id);
		return -1;
	}
	return 0;
}

int etcd_compact(struct etcd *e, int64_t rev)
{
	char body[96];
	json_object *ans;

	snprintf(body, sizeof(body), "{\"revision\":\"%lld\",\"physical\":true}", (long long)rev);
	ans = call(e, "/v3/kv/compaction", body);
	json_object_put(ans);
	return ans ? 0 : -1;
}

/* ------------------------------------------------------------ the watch */

struct etcd_watch {
	struct etcd *e;
	CURLM *m;
	CURL *h;
	struct curl_slist *hdr;
	char *body;
	struct buf in;
	size_t used;		/* bytes of in already parsed */
	bool done;
	CURLcode rc;
};

struct etcd_watch *etcd_watch_start(struct etcd *e, const char *prefix, int64_t start)
{
	struct etcd_watch *w = calloc(1, sizeof(*w));
	json_object *req, *cr;
	char end[1024], url[1024];

	if (!w) {
		seterr(e, "out of memory");
		return NULL;
	}
	w->e = e;
	req = json_object_new_object();
	cr = json_object_new_object();
	etcd_prefix_end(prefix, end, sizeof(end));
	add_b64(cr, "key", prefix, strlen(prefix));
	add_b64(cr, "range_end", end, strlen(end));
	if (start)
		json_object_object_add(cr, "start_revision", json_object_new_int64(start));
	json_object_object_add(cr, "progress_notify", json_object_new_boolean(1));
	json_object_object_add(req, "create_request", cr);
	w->body = strdup(json_str(req));
	json_object_put(req);
	w->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	w->m = curl_multi_init();
	w->h = curl_easy_init();
	if (!w->body || !w->hdr || !w->m || !w->h) {
		seterr(e, "out of memory");
		etcd_watch_stop(w);
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", e->ep[e->cur]);
	setup(e, w->h, url, w->body, w->hdr);
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, &w->in);
	/* a dead peer must not hang the stream forever: TCP keepalives */
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPINTVL, 2L);
	curl_multi_add_handle(w->m, w->h);
	return w;
}

static int watch_msg(struct etcd_watch *w, json_object *j,
		     int (*cb)(const struct etcd_watch_msg *m, void *arg), void *arg)
{
	struct etcd_watch_msg m = {};
	json_object *r, *hd, *evs, *v;
	size_t n = 0;
	int rc;

	if (json_object_object_get_ex(j, "error", &r)) {
		json_object *msg;

		seterr(w->e, "%s: watch: %s", w->e->ep[w->e->cur],
		       json_object_object_get_ex(r, "message", &msg) ? json_object_get_string(msg)
								       : json_str(r));
		return -2;
	}
	if (!json_object_object_get_ex(j, "result", &r))
		return 0;
	m.created = json_object_object_get_ex(r, "created", &v) && json_object_get_boolean(v);
	m.canceled = json_object_object_get_ex(r, "canceled", &v) && json_object_get_boolean(v);
	m.compact_rev = jint(r, "compact_revision");
	if (json_object_object_get_ex(r, "cancel_reason", &v))
		m.cancel_reason = json_object_get_string(v);
	if (json_object_object_get_ex(r, "header", &hd))
		m.header_rev = jint(hd, "revision");
	if (json_object_object_get_ex(r, "events", &evs))
		n = json_object_array_length(evs);
	if (n) {
		m.ev = calloc(n, sizeof(*m.ev));
		if (!m.ev) {
			seterr(w->e, "out of memory");
			return -2;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *ev = json_object_array_get_idx(evs, i), *t, *kv;

			m.ev[i].del = json_object_object_get_ex(ev, "type", &t) &&
				      !strcmp(json_object_get_string(t), "DELETE");
			if (json_object_object_get_ex(ev, "kv", &kv))
				kv_from(kv, &m.ev[i].kv);
			m.nev++;
		}
	}
	rc = cb(&m, arg);
	for (size_t i = 0; i < m.nev; i++)
		kv_free(&m.ev[i].kv);
	free(m.ev);
	return rc;
}

int etcd_watch_poll(struct etcd_watch *w, int ms,
		    int (*cb)(const struct etcd_watch_msg *m, void *arg), void *arg)
{
	int running = 0, rc = 0;
	CURLMsg *msg;
	int left;

	if (!w->done) {
		curl_multi_poll(w->m, NULL, 0, ms, NULL);
		curl_multi_perform(w->m, &running);
		while ((msg = curl_multi_info_read(w->m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				w->done = true;
				w->rc = msg->data.result;
			}
	}
	/* every complete JSON document in what arrived */
	while (w->used < w->in.n) {
		struct json_tokener *tok = json_tokener_new();
		json_object *j;
		size_t start = w->used;

		while (start < w->in.n && (w->in.p[start] == '\n' || w->in.p[start] == '\r' ||
					   w->in.p[start] == ' '))
			start++;
		if (start == w->in.n) {
			json_tokener_free(tok);
			w->used = start;
			break;
		}
		j = json_tokener_parse_ex(tok, w->in.p + start, w->in.n - start);
		if (!j) {
			enum json_tokener_error je = json_tokener_get_error(tok);

			json_tokener_free(tok);
			if (je == json_tokener_continue)
				break;	/* the rest has not arrived */
			seterr(w->e, "%s: watch: bad JSON in the stream (%s)", w->e->ep[w->e->cur],
			       json_tokener_error_desc(je));
			w->done = true;
			return 1;
		}
		w->used = start + json_tokener_get_parse_end(tok);
		json_tokener_free(tok);
		rc = watch_msg(w, j, cb, arg);
		json_object_put(j);
		if (rc == -2) {
			w->done = true;
			return 1;
		}
		if (rc)
			return rc;
	}
	if (w->used == w->in.n) {
		w->used = w->in.n = 0;
	} else if (w->used > (1 << 20)) {
		memmove(w->in.p, w->in.p + w->used, w->in.n - w->used);
		w->in.n -= w->used;
		w->used = 0;
	}
	if (w->done) {
		long code = 0;

		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &code);
		if (w->rc != CURLE_OK)
			seterr(w->e, "%s: watch: %s", w->e->ep[w->e->cur], curl_easy_strerror(w->rc));
		else
			seterr(w->e, "%s: watch: the stream ended (HTTP %ld)", w->e->ep[w->e->cur],
			       code);
		/* the next try goes to another member */
		w->e->cur = (w->e->cur + 1) % w->e->nep;
		return 1;
	}
	return 0;
}

void etcd_watch_stop(struct etcd_watch *w)
{
	if (!w)
		return;
	if (w->m && w->h)
		curl_multi_remove_handle(w->m, w->h);
	if (w->h)
		curl_easy_cleanup(w->h);
	if (w->m)
		curl_multi_cleanup(w->m);
	curl_slist_free_all(w->hdr);
	free(w->body);
	free(w->in.p);
	free(w);
}
