/* Runs a batch of validation requests over the connections of both sides at once: each
 * free connection takes the next request of its side, and one wait covers them all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/validate_engine.h"

#define POOL_WAIT_MS 1000

typedef struct pool_run {
	vd_pool *p;
	vd_job *const *jobs;
	int n;
	char *started;                 /* per job */
	int running[2][VD_MAX_LANES];  /* job index, -1 idle */
	int n_done;
} pool_run;

static void cancel_all(pool_run *r)
{
	for (int s = 0; s < 2; s++)
		for (int c = 0; c < r->p->n[s]; c++)
			if (r->running[s][c] >= 0)
				r->p->conns[s][c].ops->cancel(r->p->conns[s][c].impl);
}

/* Marks job j finished on connection (s, c). -1 when the connection is broken. */
static int finish(pool_run *r, int s, int c, int j, int status)
{
	vd_conn *conn = &r->p->conns[s][c];
	r->jobs[j]->status = status;
	r->running[s][c] = -1;
	r->n_done++;
	return status < 0 && !conn->ops->alive(conn->impl) ? -1 : 0;
}

/* Gives every idle connection the next request of its side. -1 on a broken connection. */
static int assign(pool_run *r, int *next, char *err, size_t errlen)
{
	for (int s = 0; s < 2; s++) {
		for (int c = 0; c < r->p->n[s]; c++) {
			if (r->running[s][c] >= 0)
				continue;
			while (next[s] < r->n && (r->started[next[s]] || r->jobs[next[s]]->req.side != (vd_side)s))
				next[s]++;
			if (next[s] >= r->n)
				break;
			int j = next[s]++;
			vd_job *job = r->jobs[j];
			vd_conn *conn = &r->p->conns[s][c];
			r->started[j] = 1;
			r->running[s][c] = j;
			if (conn->ops->start(conn->impl, &job->req, job->err, sizeof job->err) < 0 &&
			    finish(r, s, c, j, -1) < 0) {
				snprintf(err, errlen, "%s", job->err);
				return -1;
			}
		}
	}
	return 0;
}

/* Steps the connections poll() found ready. -1 on a broken connection. */
static int progress(pool_run *r, const struct pollfd *fds, const int (*who)[2], int nfds, char *err,
		    size_t errlen)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i].revents == 0)
			continue;
		int s = who[i][0], c = who[i][1], j = r->running[s][c];
		vd_conn *conn = &r->p->conns[s][c];
		vd_job *job = r->jobs[j];
		int rc = conn->ops->step(conn->impl, &job->answer, job->err, sizeof job->err);
		if (rc != 0 && finish(r, s, c, j, rc > 0 ? 1 : -1) < 0) {
			snprintf(err, errlen, "%s", job->err);
			return -1;
		}
	}
	return 0;
}

static int run_loop(pool_run *r, char *err, size_t errlen)
{
	int next[2] = {0, 0};
	const vd_env *env = r->p->env;
	for (;;) {
		if (assign(r, next, err, errlen) < 0)
			return -1;
		if (r->n_done == r->n)
			return 0;
		struct pollfd fds[2 * VD_MAX_LANES];
		int who[2 * VD_MAX_LANES][2], nfds = 0;
		for (int s = 0; s < 2; s++) {
			for (int c = 0; c < r->p->n[s]; c++) {
				if (r->running[s][c] < 0)
					continue;
				vd_conn *conn = &r->p->conns[s][c];
				fds[nfds] = (struct pollfd){.fd = conn->ops->socket(conn->impl),
							    .events = conn->ops->events(conn->impl)};
				who[nfds][0] = s;
				who[nfds][1] = c;
				nfds++;
			}
		}
		if (env->wait(env->arg, fds, nfds, POOL_WAIT_MS) != 0)
			return 1;
		if (progress(r, fds, (const int (*)[2])who, nfds, err, errlen) < 0)
			return -1;
	}
}

int vd_pool_run(vd_pool *p, vd_job *const *jobs, int n, char *err, size_t errlen)
{
	pool_run r = {.p = p, .jobs = jobs, .n = n};
	for (int i = 0; i < n; i++) {
		jobs[i]->status = 0;
		jobs[i]->err[0] = '\0';
		if (p->n[jobs[i]->req.side] == 0) {
			snprintf(err, errlen, "no %s connection", jobs[i]->req.side == VD_SOURCE ? "source" : "target");
			return -1;
		}
	}
	r.started = calloc((size_t)n + 1, 1);
	if (r.started == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(r.running, -1, sizeof r.running);
	int rc = run_loop(&r, err, errlen);
	if (rc != 0)
		cancel_all(&r);
	free(r.started);
	return rc;
}
