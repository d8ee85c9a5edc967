// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mxshield [OPTIONS] OBJECT COMMAND [ARGS]: the controller. Every object
 * lives in a file of its own under cmd/ with its table of commands
 * (listed in cmd/objects.c); the parser of core/cli.c runs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "objects.h"

int main(int argc, char **argv)
{
	struct ctl c = {
		.state_dir = getenv("MXSHIELD_STATE_DIR"),
		.bpffs_dir = getenv("MXSHIELD_BPFFS_DIR"),
		.lock_fd = -1,
	};

	if (!c.state_dir || !*c.state_dir)
		c.state_dir = MXS_DEFAULT_STATE_DIR;
	if (!c.bpffs_dir || !*c.bpffs_dir)
		c.bpffs_dir = MXS_DEFAULT_BPFFS_DIR;
	cli_list_objects();
	return cli_run(&c, argc, argv);
}
