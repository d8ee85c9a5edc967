// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The command tables (userspace/cmd/): every object and every command has
 * its help text, every option its help and a unique name, positional
 * counts make sense, and no two objects or commands share a name -- the
 * man page, the help and the completion are generated from these rows, so
 * a command without help cannot be added.
 */
#include <string.h>
#include "core/cli.h"
#include "cmd/objects.h"
#include "../check.h"

static bool sentence(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 10 && (s[n - 1] == '.' || s[n - 1] == ')');
}

int main(void)
{
	char what[256], bad[4096] = "";
	int ncmd = 0;

	cli_list_objects();
	CHECK("the objects are listed", cli_nobjects >= 25, "%d objects", cli_nobjects);
	for (int i = 0; i < cli_nobjects; i++) {
		const struct cli_obj *o = cli_objects[i];

		snprintf(what, sizeof(what), "%s: help and section", o->name);
		if (!o->help || strlen(o->help) < 8 || !o->section)
			strncat(bad, what, sizeof(bad) - strlen(bad) - 2), strcat(bad, "; ");
		for (int j = i + 1; j < cli_nobjects; j++)
			if (!strcmp(o->name, cli_objects[j]->name))
				strncat(bad, "duplicate object; ", sizeof(bad) - strlen(bad) - 1);
		if (o->verb && (o->cmds[0].name || !o->cmds[0].fn || o->cmds[1].fn))
			strncat(bad, "a verb with other than one unnamed command; ",
				sizeof(bad) - strlen(bad) - 1);
		for (int k = 0; o->cmds[k].fn; k++) {
			const struct cli_cmd *c = &o->cmds[k];
			int nopt = 0;

			ncmd++;
			snprintf(what, sizeof(what), "%s %s", o->name, c->name ? : "");
			if (!sentence(c->help))
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
					 "%s: help text; ", what);
			if (!o->verb && !c->name)
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
					 "%s: no name; ", what);
			if (c->minpos > c->maxpos || c->maxpos > CLI_MAX_POS ||
			    (c->maxpos > 0) != (c->args != NULL))
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
					 "%s: positionals; ", what);
			for (int m = k + 1; o->cmds[m].fn; m++)
				if (c->name && o->cmds[m].name && !strcmp(c->name, o->cmds[m].name))
					snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
						 "%s: twice; ", what);
			for (int n = 0; c->opts && c->opts[n].name; n++, nopt++) {
				const struct cli_opt *op = &c->opts[n];

				if (!op->help || strlen(op->help) < 8)
					snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
						 "%s --%s: help; ", what, op->name);
				if (op->choices && !op->value)
					snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
						 "%s --%s: a flag with choices; ", what, op->name);
				for (int m = n + 1; c->opts[m].name; m++)
					if (!strcmp(op->name, c->opts[m].name))
						snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
							 "%s --%s: twice; ", what, op->name);
				/* a command option may not shadow a global one */
				if (!strcmp(op->name, "json") || !strcmp(op->name, "help") ||
				    !strcmp(op->name, "state-dir") || !strcmp(op->name, "bpffs-dir") ||
				    !strcmp(op->name, "version") || !strcmp(op->name, "pretty"))
					snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
						 "%s --%s: a global option's name; ", what, op->name);
			}
			if (nopt > CLI_MAX_OPTS)
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
					 "%s: more than %d options; ", what, CLI_MAX_OPTS);
		}
	}
	CHECK("every object and command has its help; names, options and positionals are sound",
	      !bad[0], "%s", bad);
	CHECK("there are commands", ncmd >= 60, "%d", ncmd);
	/* an IP list is one row: each registry row is an object with its commands */
	for (int l = 0; l < MXS_NIP_LISTS; l++) {
		bool found = false;

		for (int i = 0; i < cli_nobjects; i++)
			found |= cli_objects[i]->data == &ip_lists[l] &&
				 !strcmp(cli_objects[i]->name, ip_lists[l].name);
		snprintf(what, sizeof(what), "IP list %s: an object from its registry row",
			 ip_lists[l].name);
		CHECK(what, found, "missing");
	}
	return failures != 0;
}
