/* What every capture engine does the same way, whatever the source: routing change
 * records to the apply worker that owns their table (its ring, or spill behind it),
 * holding a transaction's BEGIN until one of its changes goes to a worker, giving its
 * COMMIT to every worker that got the BEGIN, and keeping per worker the last position
 * sent, so the lowest position every apply worker still needs can be computed; plus
 * the task phase (full load, cdc, done) that capture reports. Used by capture.c
 * (PostgreSQL) and capture_my.c (MySQL/MariaDB). */
#ifndef FERRY_CAPTURE_ROUTE_H
#define FERRY_CAPTURE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/queue.h"
#include "ipc/taskstate.h"
#include "workers/worker.h"

typedef struct capture_router {
	worker_context *ctx;
	task_shm *shm;
	taskstate *ts;
	queue_producer *queues[TASKSTATE_MAX_APPLY + 1];
	/* Routing of the current source transaction. */
	uint8_t begin_rec[64];
	size_t begin_len;
	bool begun[TASKSTATE_MAX_APPLY + 1];
	uint64_t emitted[TASKSTATE_MAX_APPLY + 1]; /* last COMMIT position sent to each worker */
	int64_t pending_since_us[TASKSTATE_MAX_APPLY + 1];
	int exit_code;                             /* set when routing must stop; -1 none */
	char dir[1024];
} capture_router;

/* ctx, shm and ts set; opens the producer side of every apply worker's queue.
 * 0, or the exit code after failing the worker. */
int capture_router_open(capture_router *r, worker_context *ctx, task_shm *shm);
/* Flushes and closes the queues, detaches from the rings. */
void capture_router_close(capture_router *r);

/* The engines' emit: a record of the stream, table_id 0 for BEGIN and COMMIT. 0, or
 * -1 with r->exit_code set (queue failure, or a stop requested while the spill cap
 * holds capture back). */
int capture_router_emit(void *r, uint32_t table_id, const void *rec, size_t len);
/* Passes queued records on. 0, or the exit code. */
int capture_router_flush(capture_router *r);

/* The lowest position an apply worker with work outstanding has committed, and the
 * commit time of the oldest transaction still outstanding (0 none); UINT64_MAX when
 * every worker has committed everything it was sent. */
uint64_t capture_router_applied(const capture_router *r, int64_t *oldest_us);

/* Signals are delivered inside worker_wait() only: true when capture must stop now. */
bool capture_stop_now(worker_context *ctx);

bool capture_load_finished(const taskstate *ts);
/* Moves the task from full load to cdc (or done) once every table is loaded. */
void capture_update_phase(worker_context *ctx, taskstate *ts);
/* Full load only: waits until every table is loaded; returns the worker's result. */
int capture_wait_load(worker_context *ctx, taskstate *ts);

int64_t capture_wall_us(void);

#endif
