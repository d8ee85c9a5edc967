// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SPF through libspf2, with a deadline: the query runs in its own thread;
 * if it has not answered within MXS_SPF_TIMEOUT seconds the caller goes on
 * with "no result" (not a fail) and the thread finishes on its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <spf2/spf.h>
#include <stdio.h>
#include "spf.h"

#ifndef MXS_SPF_TIMEOUT
#define MXS_SPF_TIMEOUT 3
#endif

struct spf_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;		/* caller + worker */
	int done, fail;
	char client[64], sender[512];
};

static void job_put(struct spf_job *j)
{
	int last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last) {
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j);
	}
}

static void *spf_worker(void *arg)
{
	struct spf_job *j = arg;
	SPF_server_t *srv = SPF_server_new(SPF_DNS_RESOLV, 0);
	SPF_request_t *req = srv ? SPF_request_new(srv) : NULL;
	SPF_response_t *resp = NULL;
	int fail = 0;

	if (req) {
		int bad = strchr(j->client, ':') ? SPF_request_set_ipv6_str(req, j->client)
						 : SPF_request_set_ipv4_str(req, j->client);

		if (!bad && !SPF_request_set_env_from(req, j->sender)) {
			SPF_request_query_mailfrom(req, &resp);
			fail = resp && SPF_response_result(resp) == SPF_RESULT_FAIL;
		}
	}
	if (resp)
		SPF_response_free(resp);
	if (req)
		SPF_request_free(req);
	if (srv)
		SPF_server_free(srv);
	pthread_mutex_lock(&j->mu);
	j->done = 1;
	j->fail = fail;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_put(j);
	return NULL;
}

int spf_check_fail(const char *client, const char *sender, void *arg)
{
	struct spf_job *j;
	struct timespec dl;
	pthread_t t;
	int fail = 0;

	if (!sender || !*sender || !strchr(sender, '@'))
		return 0;	/* null sender: SPF would check HELO; not used here */
	j = calloc(1, sizeof(*j));
	if (!j)
		return 0;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 2;
	snprintf(j->client, sizeof(j->client), "%s", client);
	snprintf(j->sender, sizeof(j->sender), "%s", sender);
	if (pthread_create(&t, NULL, spf_worker, j)) {
		j->refs = 1;
		job_put(j);
		return 0;
	}
	pthread_detach(t);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += MXS_SPF_TIMEOUT;
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
			break;
	fail = j->done && j->fail;
	pthread_mutex_unlock(&j->mu);
	job_put(j);
	return fail;
}
