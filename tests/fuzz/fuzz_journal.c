// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IP list journal loader: the input is STATE/block.journal, opened
 * with store_open() twice: alone, and over a real snapshot (written once
 * at start-up through the store's own API, so its format is always the
 * current one) whose entries the journal's lines may replace, delete or
 * repeat. See fuzz_store.h for what is checked.
 */
#include "fuzz_store.h"

static const char *const base_entries[][2] = {
	{ "192.0.2.0/24", "documentation" }, { "198.51.100.7/32", "" },
	{ "203.0.113.0/25", "a, comment" }, { "2001:db8::/32", "v6" },
	{ "2001:db8:1::1/128", "" },
};

/* STATE/block.list holding base_entries, seq 0 */
static void make_snapshot(const char *dir)
{
	struct ctl c = { .state_dir = dir, .lock_fd = -1 };
	struct st_vec v = {};
	struct store s;
	char err[MXS_ERRLEN];

	for (size_t i = 0; i < sizeof(base_entries) / sizeof(base_entries[0]); i++) {
		struct mxs_prefix p;
		struct st_ent e = { .action = MXS_ACT_DROP, .added = 1700000000 };

		FUZZ_CHECK(!parse_prefix(base_entries[i][0], &p, err, sizeof(err)), "%s", err);
		st_set_prefix(&e, &p);
		FUZZ_CHECK(!st_vec_push(&v, &e, base_entries[i][1]), "out of memory");
	}
	FUZZ_CHECK(st_vec_finish(&v) >= 0, "out of memory");
	fuzz_unlink(dir, "block.journal");
	FUZZ_CHECK(!store_open(&c, "block", &s), "cannot open the base state");
	store_adopt(&s, &v);
	FUZZ_CHECK(!store_sync(&c, "block", &s), "cannot write the base snapshot");
	store_close(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *alone, *over;
	static char over_path[PATH_MAX];

	if (!alone) {
		alone = strdup(fuzz_dir("alone"));
		snprintf(over_path, sizeof(over_path), "%s", fuzz_dir("over"));
		over = over_path;
		make_snapshot(over);
	}
	fuzz_unlink(alone, "block.list");
	fuzz_write(alone, "block.journal", data, size);
	store_exercise(alone);
	fuzz_write(over, "block.journal", data, size);
	store_exercise(over);
	return 0;
}
