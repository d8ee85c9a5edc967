/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * core/etcd.c: a small client of etcd's v3 API through its HTTP/JSON
 * gateway (libcurl, json-c): range reads, transactions, leases and the
 * streaming watch. Keys and values are bytes, sent base64 as the gateway
 * wants them. Several endpoints: a request that cannot reach one tries the
 * next; the one that answered is kept for the following requests.
 *
 * No consensus here: etcd is the one that orders writes; this file only
 * speaks its protocol.
 */
#ifndef MXS_ETCD_H
#define MXS_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_MAX_ENDPOINTS 16

struct etcd_kv {
	char *key, *val;	/* NUL-terminated copies (values may hold NULs: vlen) */
	size_t klen, vlen;
	int64_t create_rev, mod_rev;
};

struct etcd_kvs {
	struct etcd_kv *kv;
	size_t n, cap;
	int64_t rev;		/* the store's revision the answer is from */
	uint64_t cluster_id;
	bool more;		/* a limit cut it short */
};

enum etcd_op_type { ETCD_PUT, ETCD_DEL };

struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	const char *end;	/* ETCD_DEL: range end (NULL: the key alone) */
	const void *val;	/* ETCD_PUT */
	size_t vlen;
	int64_t lease;		/* ETCD_PUT: 0 none */
};

/* A compare of a transaction: @key's mod_revision (or, with @create, its
 * create_revision; 0 = the key does not exist) equals @rev. */
struct etcd_cmp {
	const char *key;
	bool create;
	int64_t rev;
};

struct etcd;

/* @endpoints: "http://a:2379,https://b:2379"; cert/key/cacert may be NULL.
 * NULL and *err set on a bad argument. */
struct etcd *etcd_new(const char *endpoints, const char *cert, const char *key,
		      const char *cacert, char *err, size_t errlen);
void etcd_free(struct etcd *e);
/* The last error, in an admin's words ("" none). */
const char *etcd_error(const struct etcd *e);
/* The endpoint the last request went to. */
const char *etcd_endpoint(const struct etcd *e);
/* Per-request time limit, ms (default 3000). */
void etcd_set_timeout(struct etcd *e, long ms);

/* The keys in [key, end) (@end NULL: @key alone; "" with @prefix: every key
 * starting with @key) at revision @rev (0: the latest); at most @limit
 * (0: all). 0, or -1 with etcd_error(). @out is reset first. */
int etcd_range(struct etcd *e, const char *key, const char *end, int64_t rev, long limit,
	       bool keys_only, struct etcd_kvs *out);
int etcd_range_prefix(struct etcd *e, const char *prefix, int64_t rev, struct etcd_kvs *out);
void etcd_kvs_free(struct etcd_kvs *k);
/* The range end that makes [prefix, end) every key starting with @prefix. */
void etcd_prefix_end(const char *prefix, char *buf, size_t len);

/* If every compare holds, the ops. *ok says whether they ran, *rev the
 * revision after. 0 (ran or not), or -1 with etcd_error(). */
int etcd_txn(struct etcd *e, const struct etcd_cmp *cmp, int ncmp, const struct etcd_op *ops,
	     int nops, bool *ok, int64_t *rev);
int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease);

int etcd_lease_grant(struct etcd *e, long ttl, int64_t *id);
/* 0 and the remaining TTL, or -1 (the lease is gone: *ttl 0, or an error). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, long *ttl);
int etcd_compact(struct etcd *e, int64_t rev);

/* ------------------------------------------------------------ the watch */

struct etcd_event {
	bool del;
	struct etcd_kv kv;
};

/* One message of the watch stream: events of one or more revisions, in
 * order, or the news that the watch was created or canceled. */
struct etcd_watch_msg {
	bool created, canceled;
	int64_t compact_rev;	/* canceled because of compaction: the oldest left */
	int64_t header_rev;
	const char *cancel_reason;
	struct etcd_event *ev;
	size_t nev;
};

struct etcd_watch;

/* Watch every key starting with @prefix from revision @start. NULL with
 * etcd_error() when no endpoint takes it. */
struct etcd_watch *etcd_watch_start(struct etcd *e, const char *prefix, int64_t start);
/* Wait up to @ms for the stream, then give each complete message to @cb
 * (which returns non-zero to stop). 0 while the stream is up, 1 when it
 * ended or failed (etcd_error() says why), or what @cb returned. */
int etcd_watch_poll(struct etcd_watch *w, int ms,
		    int (*cb)(const struct etcd_watch_msg *m, void *arg), void *arg);
void etcd_watch_stop(struct etcd_watch *w);

/* base64 (standard alphabet, padded). Decode: bytes written, or -1. */
size_t b64_encode(const void *in, size_t n, char *out);
long b64_decode(const char *in, size_t n, void *out);

#endif
