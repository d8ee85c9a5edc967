// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Inner LPM tries: create, fill, read, walk, swap into the outer maps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tries.h"

union lpm_key {
	struct mxs_lpm_v4 k4;
	struct mxs_lpm_v6 k6;
};

static size_t key_size(int v6)
{
	return v6 ? sizeof(struct mxs_lpm_v6) : sizeof(struct mxs_lpm_v4);
}

static void make_key(const struct mxs_prefix *p, union lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (p->v6) {
		k->k6.prefixlen = p->plen;
		memcpy(k->k6.addr, p->addr, 16);
	} else {
		k->k4.prefixlen = p->plen;
		memcpy(k->k4.addr, p->addr, 4);
	}
}

int trie_create(int v6)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, v6 ? "mxs_trie6" : "mxs_trie4",
				key_size(v6), sizeof(struct mxs_rule),
				MXS_MAX_ENTRIES, &o);

	return fd < 0 ? -errno : fd;
}

int trie_put(int fd, const struct mxs_prefix *p, const struct mxs_rule *r)
{
	union lpm_key k;

	make_key(p, &k);
	return bpf_map_update_elem(fd, &k, r, BPF_ANY) ? -errno : 0;
}

int trie_del(int fd, const struct mxs_prefix *p)
{
	union lpm_key k;

	make_key(p, &k);
	return bpf_map_delete_elem(fd, &k) ? -errno : 0;
}

int trie_get(int fd, const struct mxs_prefix *p, struct mxs_rule *r)
{
	union lpm_key k;

	make_key(p, &k);
	if (bpf_map_lookup_elem(fd, &k, r))
		return -errno;
	/* LPM lookup is longest-match: insist on the exact prefix */
	return r->prefixlen == p->plen ? 0 : -ENOENT;
}

int trie_put_many(int fd, const struct mxs_prefix *p, const struct mxs_rule *rules,
		  size_t n)
{
	size_t ks = n ? key_size(p[0].v6) : 0, i;
	uint8_t *keys;
	int err = 0;

	if (!n)
		return 0;
	keys = calloc(n, ks);
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		union lpm_key k;

		make_key(&p[i], &k);
		memcpy(keys + i * ks, &k, ks);
	}
	for (i = 0; i < n;) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
		__u32 cnt = n - i > 65536 ? 65536 : n - i;

		if (!bpf_map_update_batch(fd, keys + i * ks, &rules[i], &cnt, &bo)) {
			i += cnt;
			continue;
		}
		if (errno != EINVAL && errno != 524 /* kernel ENOTSUPP */ && errno != EOPNOTSUPP) {
			err = -errno;
			break;
		}
		/* no batch support: one by one */
		for (; i < n; i++) {
			if (bpf_map_update_elem(fd, keys + i * ks, &rules[i], BPF_ANY)) {
				err = -errno;
				break;
			}
		}
		break;
	}
	free(keys);
	return err;
}

int trie_walk(int fd, int v6,
	      int (*cb)(const struct mxs_prefix *p, const struct mxs_rule *r, void *arg),
	      void *arg)
{
	union lpm_key cur, next;
	void *prev = NULL;

	errno = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct mxs_prefix p = { .v6 = v6 };
		struct mxs_rule r;

		cur = next;
		prev = &cur;
		if (bpf_map_lookup_elem(fd, &cur, &r))
			continue;	/* deleted meanwhile */
		if (v6) {
			p.plen = cur.k6.prefixlen;
			memcpy(p.addr, cur.k6.addr, 16);
		} else {
			p.plen = cur.k4.prefixlen;
			memcpy(p.addr, cur.k4.addr, 4);
		}
		if (r.prefixlen != p.plen)
			continue;	/* not this key's own value */
		if (cb(&p, &r, arg))
			break;
	}
	return errno == ENOENT || errno == 0 ? 0 : -errno;
}

int outer_set(int outer_fd, uint32_t list, int inner_fd)
{
	return bpf_map_update_elem(outer_fd, &list, &inner_fd, BPF_ANY) ? -errno : 0;
}
