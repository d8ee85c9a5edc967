// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `mxshield quarantine list|release ID|delete ID`: the quarantine is
 * Postfix's hold queue (the policy service answers HOLD). Wraps postqueue
 * and postsuper for the Postfix instance in --postfix-config DIR
 * (environment MXSHIELD_POSTFIX_CONFIG, default /etc/postfix).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "objects.h"

static int run(char *const argv[], FILE **out, pid_t *pid)
{
	int p[2];

	if (out && pipe(p))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		if (out) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "mxshield: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		close(p[1]);
		*out = fdopen(p[0], "r");
	}
	return 0;
}

static int wait_ok(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The string value of "key" in one line of postqueue -j output. */
/* A string member of @o ("" when missing or not a string). */
static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : "";
}

/* The first recipient of a postqueue -j record. */
static const char *first_rcpt(struct json_object *o)
{
	struct json_object *r;

	if (!json_object_object_get_ex(o, "recipients", &r) ||
	    !json_object_is_type(r, json_type_array) || !json_object_array_length(r))
		return "";
	return str_of(json_object_array_get_idx(r, 0), "address");
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 5 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return true;
}

static const char *postfix_config(const struct cli_args *a)
{
	const char *cfg = cli_opt(a, "postfix-config") ? : getenv("MXSHIELD_POSTFIX_CONFIG");

	return cfg && *cfg ? cfg : "/etc/postfix";
}

/* The reason the milter wrote into a held message (X-Mxshield-Reason:
 * header, read with postcat -h), or "" (held by the policy service, whose
 * reason is in Postfix's log only). One postcat per held message: the
 * hold queue is short, or something else is wrong. */
static void hold_reason(const char *cfg, const char *id, char *out, size_t len)
{
	char *pc[] = { "postcat", "-c", (char *)cfg, "-hq", (char *)id, NULL };
	static const char hdr[] = "X-Mxshield-Reason:";
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	pid_t pid;

	out[0] = '\0';
	if (!valid_id(id) || run(pc, &f, &pid) || !f)
		return;
	while (getline(&line, &cap, f) > 0)
		if (!out[0] && !strncasecmp(line, hdr, sizeof(hdr) - 1)) {
			const char *v = line + sizeof(hdr) - 1;

			v += strspn(v, " \t");
			snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
		}
	free(line);
	fclose(f);
	wait_ok(pid);
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	const char *cfg = postfix_config(a);
	pid_t pid;

	{
		char *pq[] = { "postqueue", "-c", (char *)cfg, "-j", NULL };
		char *line = NULL;
		size_t cap = 0;
		FILE *out;
		int n = 0;

		if (run(pq, &out, &pid) || !out)
			return ctl_err("cannot run postqueue: %s", strerror(errno));
		if (c->json)
			jw_arr();
		else
			printf("%-14s %-20s %-32s %-32s %s\n", "ID", "ARRIVED", "SENDER", "RECIPIENTS",
			       "REASON");
		while (getline(&line, &cap, out) > 0) {
			/* postqueue -j: one JSON object a line (postqueue(1)) */
			struct json_object *o = json_tokener_parse(line), *v;
			const char *id, *from, *rcpt;
			char reason[300];
			time_t t = 0;

			if (!o)
				continue;
			if (strcmp(str_of(o, "queue_name"), "hold")) {
				json_object_put(o);
				continue;
			}
			id = str_of(o, "queue_id");
			from = str_of(o, "sender");
			rcpt = first_rcpt(o);
			if (json_object_object_get_ex(o, "arrival_time", &v))
				t = json_object_get_int64(v);
			n++;
			hold_reason(cfg, id, reason, sizeof(reason));
			if (c->json) {
				jw_obj();
				jw_kstr("id", id);
				jw_kstr("sender", from);
				jw_kstr("recipient", rcpt);
				jw_ki64("arrival_time", t);
				jw_kstr("reason", reason);
				jw_end_obj();
			} else {
				char ts[32];

				strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&t));
				printf("%-14s %-20s %-32s %-32s %s\n", id, ts, from, rcpt, reason);
			}
			json_object_put(o);
		}
		free(line);
		fclose(out);
		if (c->json)
			jw_end_arr();
		if (!wait_ok(pid))
			return ctl_err("postqueue -c %s failed (is that Postfix instance running?)", cfg);
		return 0;
	}
}

static int release_or_delete(struct ctl *c, const struct cli_args *a, bool rel)
{
	const char *cfg = postfix_config(a);
	pid_t pid;

	{
		char *ps[] = { "postsuper", "-c", (char *)cfg, rel ? "-H" : "-d", (char *)a->pos[0],
			       rel ? NULL : "hold", NULL };

		if (!valid_id(a->pos[0]))
			return ctl_err("'%s': not a Postfix queue id", a->pos[0]);
		if (run(ps, NULL, &pid) || !wait_ok(pid))
			return ctl_err("postsuper failed for %s", a->pos[0]);
		if (rel) {
			/* released mail lands in the deferred queue: deliver it now */
			char *pq[] = { "postqueue", "-c", (char *)cfg, "-i", (char *)a->pos[0], NULL };

			if (run(pq, NULL, &pid) || !wait_ok(pid))
				fprintf(stderr, "mxshield: %s released; it waits for the next queue run\n",
					a->pos[0]);
		}
		if (c->json) {
			jw_obj();
			jw_kstr(rel ? "released" : "deleted", a->pos[0]);
			jw_end_obj();
		} else {
			printf("%s %s\n", a->pos[0], rel ? "released" : "deleted");
		}
		return 0;
	}
}

static int do_release(struct ctl *c, const struct cli_args *a)
{
	return release_or_delete(c, a, true);
}

static int do_delete(struct ctl *c, const struct cli_args *a)
{
	return release_or_delete(c, a, false);
}

static const struct cli_opt pf_opts[] = {
	{ "postfix-config", "DIR", "the Postfix instance's configuration directory "
				   "(default $MXSHIELD_POSTFIX_CONFIG or /etc/postfix)" },
	{ NULL }
};

static const struct cli_cmd quarantine_cmds[] = {
	{ "list", do_list, NULL, 0, 0, "The messages held (Postfix's hold queue).", pf_opts },
	{ "release", do_release, "ID", 1, 1, "Deliver a held message.", pf_opts },
	{ "delete", do_delete, "ID", 1, 1, "Delete a held message.", pf_opts },
	{ 0 }
};

const struct cli_obj obj_quarantine = {
	"quarantine", "messages the policy service held", quarantine_cmds,
	.section = SECTION_MTA,
};
