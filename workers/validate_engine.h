/* Validation: what an engine provides (PostgreSQL: pg_validate.c, MySQL/MariaDB:
 * my_validate.c; a pair of different engines through validate_client.c), and the pools of
 * connections the comparison runs its requests on, several at once.
 *
 * The comparison never writes SQL: it asks a connection for one of a few requests over a
 * table and a key range (or a list of keys) and gets a small text table back (vd_rows).
 * An engine answers them without blocking (start, then step whenever its socket is
 * ready), so one process keeps every connection of both sides busy at once.
 *
 * Requests and the columns their answer has:
 *   HASH      count, hash: rows of the range and an order-free hash of their text forms
 *             (equal on both sides for equal rows: a same-engine pair hashes on the
 *             server; a pair of different engines would hash the canonical text here)
 *   ROWS      [version] then every column of the table, key order; LIMIT when limit > 0
 *   VERSIONS  version, then the key columns: the row versions of the range or keys
 *   BOUNDS    min, max of the integer key in the range (NULL, NULL when empty)
 *   SAMPLE    the key columns of every step-th row of the range, in key order
 *   SAMPLE_TABLE  the key columns of a sample of about percent % of the table, key order
 *   ROW_HASHES    hash, count: the row hashes of the range with their multiplicity
 *   NUDGE     position: writes a marker to the source's log (so an idle source's change
 *             stream moves past it) and returns the position after it
 * "version" (source only) changes whenever the row is written: PostgreSQL reads the row
 * version's identity (tableoid, ctid, xmin); MySQL, which keeps none, the MD5 of the
 * row's text (changes whenever the content does).
 * with_position (source): the answer also carries the source log position taken in the
 * same snapshot as the data, after the snapshot: every change the data shows lies
 * before it. */
#ifndef FERRY_VALIDATE_ENGINE_H
#define FERRY_VALIDATE_ENGINE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/validate_model.h"

typedef enum vd_req_kind {
	VD_REQ_HASH,
	VD_REQ_ROWS,
	VD_REQ_VERSIONS,
	VD_REQ_BOUNDS,
	VD_REQ_SAMPLE,
	VD_REQ_SAMPLE_TABLE,
	VD_REQ_ROW_HASHES,
	VD_REQ_NUDGE
} vd_req_kind;

typedef struct vd_request {
	vd_req_kind kind;
	vd_side side;
	const vd_table *table;
	const vd_range *range;  /* NULL = the whole table */
	char *const *keys;      /* ROWS, VERSIONS: n_keys key tuples (n_key values each) instead of a range */
	int n_keys;
	bool with_position;
	bool with_version;      /* ROWS on the source */
	int64_t step;           /* SAMPLE */
	double percent;         /* SAMPLE_TABLE */
	int64_t limit;          /* ROWS: 0 = every row */
} vd_request;

typedef struct vd_answer {
	vd_rows rows;
	bool has_position;
	uint64_t position;
} vd_answer;

void vd_answer_free(vd_answer *a);

/* One connection of an engine. */
typedef struct vd_conn_ops {
	/* Sends req. 0, or -1 with err. */
	int (*start)(void *conn, const vd_request *req, char *err, size_t errlen);
	int (*socket)(void *conn);
	/* The poll events the connection waits for now. */
	short (*events)(void *conn);
	/* Reads what arrived: 1 the answer is complete (*out), 0 not yet, -1 failed (err). */
	int (*step)(void *conn, vd_answer *out, char *err, size_t errlen);
	/* Asks the server to stop the request under way (best effort). */
	void (*cancel)(void *conn);
	/* Whether the connection is still usable after a failure (else the run stops). */
	bool (*alive)(void *conn);
} vd_conn_ops;

/* What the process running a comparison provides. */
typedef struct vd_env {
	/* Sleeps until one of fds is ready or timeout_ms passed. 1 when the comparison must
	 * stop now (a signal), else 0. */
	int (*wait)(void *arg, struct pollfd *fds, int nfds, int timeout_ms);
	/* Live comparisons: the source position before which the target holds every change
	 * (the task's confirmed position). 0, or -1 with err. */
	int (*target_position)(void *arg, uint64_t *pos, char *err, size_t errlen);
	void *arg;
	bool live;            /* the target follows the source (CDC): differences are re-checked */
	int catch_up_ms;      /* how long to wait for the target to reach a position */
	int retries;          /* re-checks of rows that changed while compared */
	int max_report;       /* differences listed per table */
	int64_t leaf_rows;    /* ranges of at most this many rows are compared row by row */
} vd_env;

#define VD_MAX_LANES 8

typedef struct vd_conn {
	const vd_conn_ops *ops;
	void *impl;
} vd_conn;

/* Connections per side; requests run on any free one of their side. */
typedef struct vd_pool {
	vd_conn conns[2][VD_MAX_LANES];
	int n[2];
	const vd_env *env;
} vd_pool;

typedef struct vd_job {
	vd_request req;
	vd_answer answer;
	int status; /* 0 pending, 1 done, -1 failed */
	char err[512];
} vd_job;

/* Runs every job (at most one per connection at a time). 0 when each job finished
 * (done or failed: see its status), 1 when env->wait asked to stop (requests under way
 * are cancelled), -1 with err when a connection broke. */
int vd_pool_run(vd_pool *p, vd_job *const *jobs, int n, char *err, size_t errlen);

#endif
