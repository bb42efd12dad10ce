/* Validation of one table, internals shared by validate_table.c (ranges), validate_leaf.c
 * (rows and keyless tables) and validate_run.c (batches, waiting for the target). */
#ifndef FERRY_VALIDATE_INT_H
#define FERRY_VALIDATE_INT_H

#include "workers/validate_engine.h"
#include "workers/validate_range.h"
#include "workers/validate_rows.h"

/* How far a table's comparison got. */
typedef enum vd_outcome {
	VD_GO_ON = 0,
	VD_STOPPED,    /* env->wait asked to stop */
	VD_BROKEN,     /* a connection broke: the pool is unusable */
	VD_TABLE_ERROR /* this table cannot be compared (res->reason) */
} vd_outcome;

typedef struct vd_run {
	vd_pool *pool;
	const vd_env *env;
	const vd_table *t;
	vd_table_result *res;
	vd_outcome outcome;
} vd_run;

/* A batch of requests and their answers. */
typedef struct vd_batch {
	vd_job *jobs;
	vd_job **ptrs;
	int n;
} vd_batch;

int vd_batch_init(vd_run *r, vd_batch *b, int n);
void vd_batch_free(vd_batch *b);
/* Runs the batch. 0 when every request answered; else -1 with r->outcome set (and
 * res->reason naming what, for errors). */
int vd_batch_run(vd_run *r, vd_batch *b, const char *what);
/* A request over the run's table. */
vd_request vd_req(const vd_run *r, vd_req_kind kind, vd_side side, const vd_range *range);

/* What the hashes of one range said. */
typedef struct vd_range_state {
	int64_t count[2];
	bool equal;  /* same count and hash on both sides */
	bool stable; /* the source's second read matched its first (always, without a live target) */
} vd_range_state;

/* Hashes each range of l on both sides: at once (ordered false), or in order for a
 * live target (source with position, target caught up, source again). 0 or -1. */
int vd_hash_ranges(vd_run *r, const vd_range_list *l, bool ordered, vd_range_state *st);

/* Waits until the target holds every source change before pos (nudging an idle source
 * once). 0, or -1 with r->outcome set. */
int vd_wait_target(vd_run *r, uint64_t pos);
/* The largest position of the batch's answers. */
uint64_t vd_batch_max_position(const vd_batch *b);

uint64_t vd_now_ms(void);

/* Row by row over the ranges in leaves (taken over and freed). 0 or -1 (outcome set). */
int vd_compare_leaves(vd_run *r, vd_range_list *leaves);
/* A range with rows on one side only: counts count rows missing (side = source) or
 * extra (side = target) and lists the first ones. 0 or -1. */
int vd_one_sided(vd_run *r, const vd_range *range, vd_side side, int64_t count);
/* A table without a key. 0 or -1. */
int vd_compare_keyless(vd_run *r);

#endif
