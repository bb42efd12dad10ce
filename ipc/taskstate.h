/* Per-task shared state: what the workers of one task tell each other and the
 * supervisor, in the supervisor's one shared-memory segment (sized up front, placed
 * before the first fork, never resized).
 *
 * Writers, so nothing needs a lock:
 *   capture   the plan (tables, partitions, owners), the snapshot, P0, the stream's
 *             counters; it publishes the plan last (plan_ready, release store), so a
 *             reader that sees plan_ready sees every table and partition.
 *   load      claims partitions (compare-and-swap on each partition's claim word),
 *             table rows/partitions loaded, table state loading -> catching-up.
 *   apply     its committed position, changes applied per table, catching-up -> in-sync.
 *   any     after a change another worker may be waiting for (the plan, a table's
 *             state, a snapshot import, the phase): taskstate_changed(), which wakes
 *             those sleeping on the task's `changed` wake-up (nobody polls for them).
 * The supervisor only reads (status), resets the queues of a restart group, and forgets
 * the rows in flight of a load worker it reaped.
 *
 * Fixed caps (constants for now): TASKSTATE_MAX_TABLES tables and
 * TASKSTATE_MAX_PARTITIONS partitions per task, TASKSTATE_MAX_APPLY apply workers and
 * TASKSTATE_MAX_LOAD load workers. Capture refuses a plan beyond them with a clear
 * error (a person lowers partition_rows' split or splits the task).
 *
 * The state survives worker restarts (it lives as long as ferryd), not a ferryd
 * restart: then capture rebuilds it from the target's ferry.load_progress. */
#ifndef FERRY_TASKSTATE_H
#define FERRY_TASKSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/queue.h"
#include "ipc/ring.h"
#include "ipc/spill.h"
#include "ipc/wakeup.h"

#define TASKSTATE_MAX_TABLES 4096
#define TASKSTATE_MAX_PARTITIONS 16384
#define TASKSTATE_MAX_APPLY 64
#define TASKSTATE_MAX_LOAD 64
#define TASKSTATE_NAME_MAX 200   /* "schema"."name", quoted */
#define TASKSTATE_ERROR_MAX 256
#define TASKSTATE_SNAPSHOT_MAX 64
#define TASKSTATE_MAX_XIP 64
#define TASKSTATE_TOUCH_WORDS 8  /* 512 key buckets per table for validation's re-checks */
#define TASKSTATE_GTID_MAX 2816  /* a MariaDB GTID state's text, NUL included (64 domains) */

/* Table states, as `ferryctl status --json` names them (the design's names). */
typedef enum table_state {
	TABLE_QUEUED = 0,
	TABLE_LOADING,
	TABLE_CATCHING_UP,
	TABLE_IN_SYNC,
	TABLE_ERROR
} table_state;

/* The exported snapshot's life. */
typedef enum snapshot_state {
	SNAPSHOT_NONE = 0,  /* none (restart with an existing slot, or cdc only) */
	SNAPSHOT_EXPORTED,  /* importable now: capture holds its connection idle */
	SNAPSHOT_RELEASED   /* every load worker imported it, or the load ended */
} snapshot_state;

/* Task phase as capture reports it; the supervisor adds stopped and error. */
typedef enum taskstate_phase {
	TASKSTATE_STARTING = 0,
	TASKSTATE_FULL_LOAD,
	TASKSTATE_CDC,
	TASKSTATE_DONE      /* full-load only: everything loaded */
} taskstate_phase;

typedef struct taskstate_table {
	char source_name[TASKSTATE_NAME_MAX]; /* "schema"."name" */
	char target_name[TASKSTATE_NAME_MAX];
	uint64_t source_oid;
	int32_t owner;                        /* apply worker 1..N */
	int32_t keyless;                      /* no primary or unique key: rows matched on all columns */
	_Atomic int32_t state;                /* table_state */
	_Atomic int64_t rows_estimated;
	_Atomic int64_t rows_loaded;          /* rows of the committed partitions */
	_Atomic int64_t rows_in_flight;       /* rows load workers sent, not committed yet */
	_Atomic uint64_t changes_applied;
	/* changes_applied by operation: [0] insert, [1] update, [2] delete, [3] truncate */
	_Atomic uint64_t applied_by_op[4];
	_Atomic int32_t parts_total;
	_Atomic int32_t parts_done;
	_Atomic int32_t finisher;             /* load worker running the after-load step; 0 none */
	/* Changes at positions <= this are applied in idempotent mode (a load under a fresh
	 * snapshot); 0 = exact mode from the start (the exported snapshot). A keyless table
	 * cannot be made idempotent (an INSERT has nothing to conflict on), but its load
	 * always reads one snapshot (whole table, or every ctid partition reloaded
	 * together): apply skips the changes that snapshot holds (snap_* below). */
	_Atomic uint64_t finish_position;
	/* A keyless table loaded under a fresh snapshot: that snapshot (xmax and the
	 * transactions in progress, 32-bit xids as the stream carries them), written by load
	 * before the table leaves loading. Apply skips exactly the changes of transactions it
	 * saw; n_xip -1 = too many to keep (then: positions <= finish_position). */
	uint32_t snap_xmax;
	int32_t n_xip;
	uint32_t xip[TASKSTATE_MAX_XIP];
	/* Source values the target cannot hold (invalid_values), met by load and capture. */
	_Atomic uint64_t invalid_values;
	_Atomic uint64_t error_seq;
	char error[TASKSTATE_ERROR_MAX];
	/* Written by the task's validate worker (validation = yes) only. */
	_Atomic int32_t validation;           /* validation_state */
	_Atomic int64_t rows_validated;       /* rows compared in the last full pass */
	_Atomic int64_t rows_differing;       /* rows that still differ after re-checks */
	_Atomic int64_t validated_at_us;      /* end of the last full pass, µs since 1970; 0 never */
	/* The keys CDC touched since the validate worker last took them, so it re-checks
	 * those key ranges only (a table with a one-column integer key). The validate worker
	 * sets touch_lo and touch_step, then touch_on; apply sets bit (key - lo) / step of
	 * touched (keys outside land in the first or the last bucket), or touched_all when it
	 * cannot place a change (another key type, TRUNCATE). The validate worker takes both
	 * with atomic exchanges. */
	_Atomic int32_t touch_on;
	_Atomic int32_t touched_all;
	_Atomic int64_t touch_lo;
	_Atomic int64_t touch_step;
	_Atomic uint64_t touched[TASKSTATE_TOUCH_WORDS];
} taskstate_table;

/* A table's validation, as status names it. */
typedef enum validation_state {
	VALIDATION_NONE = 0,  /* not asked (validation = no) */
	VALIDATION_PENDING,   /* waits for in-sync */
	VALIDATION_RUNNING,   /* a pass is under way */
	VALIDATION_EQUAL,     /* the last pass found no difference */
	VALIDATION_DIFFERENT, /* the last pass found rows_differing rows */
	VALIDATION_ERROR      /* the last pass failed (see the validate worker's log) */
} validation_state;

/* One partition of the load plan (the fields load needs, no pointers). */
typedef struct taskstate_partition {
	int32_t table;          /* index into tables */
	int32_t number, count;  /* 1..count */
	int32_t kind;           /* pg_load_part_kind */
	int64_t lo, hi;
	int64_t est_rows;
	int32_t open_lo, open_hi;
	/* 0 free, 1000 + n claimed by load worker n, -1 done. */
	_Atomic int32_t claim;
} taskstate_partition;

#define TASKSTATE_PART_FREE 0
#define TASKSTATE_PART_DONE (-1)
#define TASKSTATE_PART_CLAIMED(n) (1000 + (n))

/* What one load worker is streaming now and has not committed: rows_loaded counts a
 * partition's rows only once its transaction commits, so a worker killed mid-partition
 * leaves nothing counted twice; this is its share of its table's rows_in_flight, taken
 * back from there when it commits or dies. */
typedef struct taskstate_loading {
	_Atomic int32_t table;          /* index into tables, -1 none */
	_Atomic int64_t rows;           /* rows sent to the target so far, uncommitted */
} taskstate_loading;

typedef struct taskstate {
	/* Signalled after any change a worker may wait for: plan_ready, phase, a table's
	 * state, imported[], snapshot_state (taskstate_changed()). */
	wakeup changed;
	_Atomic int32_t plan_ready;     /* the tables and partitions below are complete */
	_Atomic int32_t phase;          /* taskstate_phase */
	int32_t n_tables;
	int32_t n_parts;
	int32_t n_apply;                /* apply workers the plan assigns to */
	_Atomic int32_t snapshot_state; /* snapshot_state */
	char snapshot[TASKSTATE_SNAPSHOT_MAX];
	_Atomic uint32_t imported[TASKSTATE_MAX_LOAD + 1]; /* [n]: load worker n is past import */
	taskstate_loading loading[TASKSTATE_MAX_LOAD + 1]; /* [n]: load worker n's rows in flight */
	_Atomic uint64_t start_position; /* P0 */
	/* [n]: the position apply worker n has committed on the target (its progress row). */
	_Atomic uint64_t apply_committed[TASKSTATE_MAX_APPLY + 1];
	/* [n]: source commit time (µs since 1970) of that position's transaction. */
	_Atomic int64_t apply_commit_time[TASKSTATE_MAX_APPLY + 1];
	_Atomic uint64_t received_lsn;   /* the furthest position the source sent */
	_Atomic uint64_t flushed_lsn;    /* what capture confirmed to the source */
	/* Every transaction the source committed before this position is on the target:
	 * the lowest position an apply worker with work outstanding has committed, or, when
	 * none has any, as far as the source has sent (its keepalives move it on an idle
	 * source). What cutover and validation wait for. */
	_Atomic uint64_t applied_lsn;
	_Atomic uint64_t lag_bytes;
	_Atomic int64_t lag_seconds;
	_Atomic uint64_t changes_captured;
	/* The source's GTID state at applied_lsn (a MariaDB source; "" unknown or another
	 * engine), written by capture with each applied_lsn, read through
	 * taskstate_gtid_get(): a sequence counter (odd while a write is under way) around
	 * the text, held in atomic words so a reader racing a write sees no torn word and
	 * retries. */
	_Atomic uint32_t applied_gtid_seq;
	_Atomic uint64_t applied_gtid[TASKSTATE_GTID_MAX / 8];
	spill_budget spill;              /* the task's spill cap, shared by its queues */
	taskstate_table tables[TASKSTATE_MAX_TABLES];
	taskstate_partition parts[TASKSTATE_MAX_PARTITIONS];
} taskstate;

/* The shared pieces of one task, as the supervisor placed them. */
typedef struct task_shm {
	taskstate *state;
	int n_apply;
	ring *rings[TASKSTATE_MAX_APPLY + 1];          /* [1..n_apply] */
	queue_shared *queues[TASKSTATE_MAX_APPLY + 1]; /* [1..n_apply] */
	size_t ring_capacity;
} task_shm;

/* Bytes one task needs: its state, n_apply rings of ring_capacity and their queues. */
size_t taskstate_shmem_size(int n_apply, size_t ring_capacity);
/* Carves the task's pieces out of mem (taskstate_shmem_size bytes, SHMEM_ALIGN-aligned)
 * and initialises them. */
void taskstate_shmem_init(task_shm *ts, void *mem, int n_apply, size_t ring_capacity, uint64_t spill_limit);
/* Resets the queues and rings of every apply worker (a restart group: no producer or
 * consumer of this task may be alive). The plan and load progress stay. */
void taskstate_reset_queues(task_shm *ts, uint64_t spill_limit);

/* Each apply worker's ring capacity for a task's ring_size (the memory of all its rings
 * together) split among n_apply workers: the power of two at or below ring_size /
 * n_apply (at least RING_MIN_CAPACITY). So the rings of a task, all of which capture
 * writes into, take at most ring_size. */
size_t taskstate_ring_capacity(int64_t ring_size, int n_apply);

/* The tasks' shared pieces, indexed like the config's tasks. Set by the supervisor
 * before the first fork; workers inherit it. */
extern task_shm *taskstate_tasks;
extern int taskstate_n_tasks;
task_shm *taskstate_for_task(int task);

/* Claims the next free partition for load worker n (its own earlier claims first: a
 * restarted worker finishes what it held). Returns the partition index or -1. */
int taskstate_claim_partition(taskstate *s, int n);

/* After publishing a change others may wait for (see `changed`): wakes the waiters.
 * Costs an atomic load while nobody waits. */
void taskstate_changed(taskstate *s);

/* Load worker n streams table k and has sent rows rows of its open partition, not yet
 * committed (k -1: nothing in flight); the table's rows_in_flight follows. Called by the
 * worker (which clears it before it adds a committed partition to rows_loaded, so a
 * reader that loads rows_loaded first never counts rows twice) or, once the worker is
 * dead, by the supervisor. */
void taskstate_set_loading(taskstate *s, int n, int k, int64_t rows);
/* What status shows as a table's rows loaded: committed rows plus those in flight. */
int64_t taskstate_rows_loaded(const taskstate_table *t);

/* Capture (the one writer) publishes the GTID state text at applied_lsn (cut at
 * TASKSTATE_GTID_MAX - 1 bytes: then "" is published, unknown, rather than a wrong
 * prefix); any process reads a consistent copy into out (size TASKSTATE_GTID_MAX). */
void taskstate_gtid_set(taskstate *s, const char *text);
void taskstate_gtid_get(const taskstate *s, char *out, size_t size);

const char *table_state_name(table_state st);
const char *validation_state_name(validation_state st);
void taskstate_set_table_error(taskstate_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
