/* The validate worker's side of the key buckets CDC touched (taskstate_table.touch_on,
 * marked by apply, workers/apply_touch.h): arming a table's tracking over its key span,
 * and taking what was touched since as ranges to re-check. */
#ifndef FERRY_VALIDATE_TOUCH_H
#define FERRY_VALIDATE_TOUCH_H

#include <stdint.h>

#include "ipc/taskstate.h"
#include "workers/validate_range.h"

#define VD_TOUCH_BUCKETS (TASKSTATE_TOUCH_WORDS * 64)

typedef enum vd_touch_take_result {
	VD_TOUCH_NOTHING = 0, /* nothing marked since the last take */
	VD_TOUCH_RANGES,      /* *out holds the touched ranges, adjacent buckets merged */
	VD_TOUCH_WHOLE        /* re-check the whole table (untracked, unplaceable change, memory) */
} vd_touch_take_result;

/* Starts tracking st over keys lo..hi (buckets of even width, the first open below and
 * the last open above); earlier marks are dropped. */
void vd_touch_arm(taskstate_table *st, int64_t lo, int64_t hi);

/* Takes (and clears) what apply marked since the last take. */
vd_touch_take_result vd_touch_take(taskstate_table *st, vd_range_list *out);

/* A take whose re-check did not finish: the next one covers the whole table. */
void vd_touch_give_back(taskstate_table *st);

#endif
