/* Validation: key ranges. How many ranges a table starts with, and how a range is cut
 * into smaller ones: an integer key by value (even steps between the smallest and the
 * largest key), any other key (composite, text, uuid...) at sampled keys. Pure
 * functions over the model; no database here. */
#ifndef FERRY_VALIDATE_RANGE_H
#define FERRY_VALIDATE_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "workers/validate_model.h"

/* Rows a range of the first pass holds, about. */
#define VD_RANGE_ROWS 100000
/* Pieces a differing range is cut into. */
#define VD_SPLIT_WAYS 16
/* Ranges are cut at most this deep; deeper ones are compared row by row. */
#define VD_MAX_DEPTH 24

typedef struct vd_range_list {
	vd_range *items;
	int n, cap;
} vd_range_list;

void vd_range_list_free(vd_range_list *l);
/* Appends *r, taking its bounds over (r is emptied). -1 when memory runs out (r is then
 * freed). */
int vd_range_list_take(vd_range_list *l, vd_range *r);

/* Ranges of the first pass for a table of est_rows rows (< 0 unknown): 1..1024. */
int vd_plan_count(int64_t est_rows);

/* Cuts the closed interval [lo, hi] into at most n pieces of even width: writes the
 * first value of every piece but the first (lo < cuts[0] < ... <= hi) and returns how
 * many (fewer than n - 1 when the interval is too narrow). */
int vd_int_cuts(int64_t lo, int64_t hi, int n, int64_t *cuts);

/* Which of n_samples sorted samples become boundaries of n pieces: writes at most
 * n - 1 increasing indexes (the sample starting each piece but the first) and returns
 * how many. */
int vd_pick_samples(int n_samples, int n, int *idx);

/* The pieces of r (integer key) whose keys lie in [lo, hi]: r's own lower bound on the
 * first piece and its upper bound on the last (so open ends stay open), cuts between.
 * Appended to out; returns the number of pieces (1 = could not be cut), -1 on memory. */
int vd_split_int(const vd_range *r, int64_t lo, int64_t hi, int n, vd_range_list *out);

/* The pieces of r cut at the given keys (bounds: n_bounds tuples of n_key values, in
 * increasing key order, all inside r). Appended to out; returns the number of pieces,
 * -1 on memory. */
int vd_split_at(const vd_range *r, char *const *bounds, int n_bounds, int n_key, vd_range_list *out);

/* "123" -> 123. 0, or -1 when text is not a whole number in range. */
int vd_parse_int64(const char *text, int64_t *out);

/* Appends the integer key range [lo, hi) as a first-pass range; open_lo / open_hi leave
 * that end open (every key below / above). -1 on memory. */
int vd_int_piece(vd_range_list *out, int64_t lo, int64_t hi, bool open_lo, bool open_hi);

#endif
