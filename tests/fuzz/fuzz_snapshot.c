// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The IP list snapshot loader: the input is STATE/block.list (no journal),
 * opened with store_open(); see fuzz_store.h for what is checked.
 */
#include "fuzz_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = fuzz_dir("state");

	fuzz_unlink(dir, "block.journal");
	fuzz_write(dir, "block.list", data, size);
	store_exercise(dir);
	return 0;
}
