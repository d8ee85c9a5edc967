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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "envelope.h"

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
static void json_field(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		return;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p == '"') {
		for (p++; *p && *p != '"' && n + 1 < len; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && n + 1 < len)
			out[n++] = *p++;
	}
	out[n] = '\0';
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

int cmd_quarantine(struct ctl *c, int argc, char **argv)
{
	static const char *const opts[] = { "postfix-config", NULL };
	struct cmd_args a;
	const char *cfg;
	pid_t pid;

	if (get_args(argc, argv, opts, 1, &a))
		return ctl_err("usage: mxshield quarantine list | release ID | delete ID "
			       "[--postfix-config DIR]");
	cfg = arg(&a, opts, "postfix-config") ? : getenv("MXSHIELD_POSTFIX_CONFIG");
	if (!cfg || !*cfg)
		cfg = "/etc/postfix";
	if (!strcmp(argv[0], "list") && a.npos == 0) {
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
			printf("%-14s %-20s %-32s %s\n", "ID", "ARRIVED", "SENDER", "RECIPIENTS");
		while (getline(&line, &cap, out) > 0) {
			char q[32], id[40], from[320], rcpt[320], when[32];
			time_t t;

			json_field(line, "queue_name", q, sizeof(q));
			if (strcmp(q, "hold"))
				continue;
			json_field(line, "queue_id", id, sizeof(id));
			json_field(line, "sender", from, sizeof(from));
			json_field(line, "address", rcpt, sizeof(rcpt));	/* first recipient */
			json_field(line, "arrival_time", when, sizeof(when));
			t = strtoll(when, NULL, 10);
			n++;
			if (c->json) {
				jw_obj();
				jw_kstr("id", id);
				jw_kstr("sender", from);
				jw_kstr("recipient", rcpt);
				jw_ki64("arrival_time", t);
				jw_end_obj();
			} else {
				char ts[32];

				strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&t));
				printf("%-14s %-20s %-32s %s\n", id, ts, from, rcpt);
			}
		}
		free(line);
		fclose(out);
		if (c->json)
			jw_end_arr();
		if (!wait_ok(pid))
			return ctl_err("postqueue -c %s failed (is that Postfix instance running?)", cfg);
		return 0;
	}
	if (a.npos == 1 && (!strcmp(argv[0], "release") || !strcmp(argv[0], "delete"))) {
		bool rel = !strcmp(argv[0], "release");
		char *ps[] = { "postsuper", "-c", (char *)cfg, rel ? "-H" : "-d", (char *)a.pos[0],
			       rel ? NULL : "hold", NULL };

		if (!valid_id(a.pos[0]))
			return ctl_err("'%s': not a Postfix queue id", a.pos[0]);
		if (run(ps, NULL, &pid) || !wait_ok(pid))
			return ctl_err("postsuper failed for %s", a.pos[0]);
		if (rel) {
			/* released mail lands in the deferred queue: deliver it now */
			char *pq[] = { "postqueue", "-c", (char *)cfg, "-i", (char *)a.pos[0], NULL };

			if (run(pq, NULL, &pid) || !wait_ok(pid))
				fprintf(stderr, "mxshield: %s released; it waits for the next queue run\n",
					a.pos[0]);
		}
		if (!c->json)
			printf("%s %s\n", a.pos[0], rel ? "released" : "deleted");
		return 0;
	}
	return ctl_err("usage: mxshield quarantine list | release ID | delete ID");
}
