/* Validation plumbing: batches of requests over the pool, and waiting for a live target
 * to catch up with a source position. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workers/validate_int.h"

/* An idle source's stream may not move past its last commit (the position read with the
 * data can lie after it): after this long without reaching it, a marker is written. */
#define NUDGE_AFTER_MS 1500
#define POSITION_POLL_MS 200

uint64_t vd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int vd_batch_init(vd_run *r, vd_batch *b, int n)
{
	b->n = n;
	b->jobs = calloc((size_t)n + 1, sizeof *b->jobs);
	b->ptrs = calloc((size_t)n + 1, sizeof *b->ptrs);
	if (b->jobs == NULL || b->ptrs == NULL) {
		vd_batch_free(b);
		vd_result_set_reason(r->res, VD_ERROR, "out of memory");
		r->outcome = VD_TABLE_ERROR;
		return -1;
	}
	for (int i = 0; i < n; i++)
		b->ptrs[i] = &b->jobs[i];
	return 0;
}

void vd_batch_free(vd_batch *b)
{
	for (int i = 0; b->jobs && i < b->n; i++)
		vd_answer_free(&b->jobs[i].answer);
	free(b->jobs);
	free(b->ptrs);
	memset(b, 0, sizeof *b);
}

vd_request vd_req(const vd_run *r, vd_req_kind kind, vd_side side, const vd_range *range)
{
	return (vd_request){.kind = kind, .side = side, .table = r->t, .range = range};
}

int vd_batch_run(vd_run *r, vd_batch *b, const char *what)
{
	char err[512];
	int rc = vd_pool_run(r->pool, b->ptrs, b->n, err, sizeof err);
	if (rc == 1) {
		r->outcome = VD_STOPPED;
		return -1;
	}
	if (rc < 0) {
		vd_result_set_reason(r->res, VD_ERROR, "%s: %s", what, err);
		r->outcome = VD_BROKEN;
		return -1;
	}
	for (int i = 0; i < b->n; i++) {
		if (b->jobs[i].status < 0) {
			vd_result_set_reason(r->res, VD_ERROR, "%s on the %s: %s", what,
					     b->jobs[i].req.side == VD_SOURCE ? "source" : "target", b->jobs[i].err);
			r->outcome = VD_TABLE_ERROR;
			return -1;
		}
	}
	return 0;
}

uint64_t vd_batch_max_position(const vd_batch *b)
{
	uint64_t max = 0;
	for (int i = 0; i < b->n; i++)
		if (b->jobs[i].answer.has_position && b->jobs[i].answer.position > max)
			max = b->jobs[i].answer.position;
	return max;
}

static int nudge(vd_run *r)
{
	vd_batch b;
	if (vd_batch_init(r, &b, 1) < 0)
		return -1;
	b.jobs[0].req = vd_req(r, VD_REQ_NUDGE, VD_SOURCE, NULL);
	int rc = vd_batch_run(r, &b, "writing a marker to the source's log");
	vd_batch_free(&b);
	return rc;
}

int vd_wait_target(vd_run *r, uint64_t pos)
{
	const vd_env *env = r->env;
	uint64_t start = vd_now_ms();
	bool nudged = false;
	for (;;) {
		uint64_t have = 0;
		char err[512];
		if (env->target_position(env->arg, &have, err, sizeof err) < 0) {
			vd_result_set_reason(r->res, VD_ERROR, "reading the task's position: %s", err);
			r->outcome = VD_TABLE_ERROR;
			return -1;
		}
		if (have >= pos)
			return 0;
		uint64_t waited = vd_now_ms() - start;
		if (!nudged && waited >= NUDGE_AFTER_MS) {
			nudged = true;
			if (nudge(r) < 0)
				return -1;
			continue;
		}
		if (waited >= (uint64_t)env->catch_up_ms) {
			vd_result_set_reason(r->res, VD_ERROR,
					     "the target did not catch up with source position %X/%X within %d s (it holds "
					     "the changes before %X/%X): the task lags; validate again when it has caught up",
					     (unsigned)(pos >> 32), (unsigned)pos, env->catch_up_ms / 1000,
					     (unsigned)(have >> 32), (unsigned)have);
			r->outcome = VD_TABLE_ERROR;
			return -1;
		}
		if (env->wait(env->arg, NULL, 0, POSITION_POLL_MS) != 0) {
			r->outcome = VD_STOPPED;
			return -1;
		}
	}
}
