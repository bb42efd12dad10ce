/* Validation of one table: the comparison itself, engine-neutral.
 *
 * Keyed tables:
 *   1. The key space is cut into ranges (an integer key at even steps between its
 *      smallest and largest value on either side; another key at keys sampled from the
 *      source), about VD_RANGE_ROWS rows each. Each range is hashed on both sides at
 *      once, all connections busy.
 *   2. A range whose count or hash differs is cut into VD_SPLIT_WAYS pieces, which are
 *      hashed in turn, until a piece holds at most leaf_rows rows on either side; a
 *      range empty on one side is not cut: all its rows are missing (or extra), and the
 *      first ones are listed.
 *   3. Small differing ranges are read row by row on both sides and compared column by
 *      column (validate_rows.h).
 *   With a live target (CDC) a difference may only be the target not being there yet,
 *   or a row written between the two reads. So after step 1 every hash is taken in
 *   order: the source (with its position), then the target once it has applied
 *   everything up to that position, then the source again; a range is equal when the
 *   target matches, and cut further only when it does not. The first pass's differing
 *   ranges are cut at once (their pieces are checked in order). Row by row likewise,
 *   with row versions: a row that did not
 *   change across the target read must be equal there; a row that did is read again
 *   (env->retries rounds). Rows that changed every time are counted as unsettled, not
 *   as differences.
 * Tables without a key: count and order-free hash of every row on both sides; when they
 * differ, the multisets of row hashes give the rows found on one side only.
 *
 * Without a live target the source is read once: what differs is reported. */
#ifndef FERRY_VALIDATE_TABLE_H
#define FERRY_VALIDATE_TABLE_H

#include "workers/validate_engine.h"
#include "workers/validate_range.h"

/* Compares t over pool (whose env says how). Returns 0 with res filled (equal,
 * different, or error with its reason: a query failed, the target did not catch up),
 * 1 when env->wait asked to stop, -1 when a connection broke (res->reason says which);
 * the pool's connections are then unusable. */
int vd_validate_table(vd_pool *pool, const vd_table *t, vd_table_result *res);

/* The same over the given first-pass ranges only (taken over and freed; a keyless table
 * is compared whole): what the validate worker re-checks after CDC touched them. */
int vd_validate_ranges(vd_pool *pool, const vd_table *t, vd_range_list *ranges, vd_table_result *res);

/* The smallest and largest key of a table with one integer key, on either side (*found
 * false when both are empty). 0, or -1 when it could not be read. */
int vd_int_key_bounds(vd_pool *pool, const vd_table *t, int64_t *lo, int64_t *hi, bool *found);

#endif
