/* The validate worker's side of the touched key buckets (see the header). */
#include "workers/validate_touch.h"

#include <stdatomic.h>
#include <stdbool.h>

void vd_touch_arm(taskstate_table *st, int64_t lo, int64_t hi)
{
	/* span / buckets rounded up, so lo..hi fill the buckets (unsigned: no overflow) */
	uint64_t span = hi > lo ? (uint64_t)hi - (uint64_t)lo : 0;
	uint64_t step = span / VD_TOUCH_BUCKETS + 1;
	if (step > (uint64_t)INT64_MAX)
		step = (uint64_t)INT64_MAX;
	atomic_store(&st->touch_on, 0);
	atomic_store(&st->touch_lo, lo);
	atomic_store(&st->touch_step, (int64_t)step);
	for (int w = 0; w < TASKSTATE_TOUCH_WORDS; w++)
		atomic_store(&st->touched[w], 0);
	atomic_store(&st->touched_all, 0);
	atomic_store(&st->touch_on, 1);
}

void vd_touch_give_back(taskstate_table *st)
{
	atomic_store(&st->touched_all, 1);
}

/* The key where bucket b starts (saturating). */
static int64_t bucket_start(int64_t lo, int64_t step, int b)
{
	uint64_t off = (uint64_t)step * (uint64_t)b;
	uint64_t room = (uint64_t)INT64_MAX - (uint64_t)lo;
	return off > room ? INT64_MAX : (int64_t)((uint64_t)lo + off);
}

vd_touch_take_result vd_touch_take(taskstate_table *st, vd_range_list *out)
{
	uint64_t words[TASKSTATE_TOUCH_WORDS];
	bool any = false;
	for (int w = 0; w < TASKSTATE_TOUCH_WORDS; w++) {
		words[w] = atomic_exchange(&st->touched[w], 0);
		any |= words[w] != 0;
	}
	bool all = atomic_exchange(&st->touched_all, 0) != 0;
	if (!atomic_load(&st->touch_on) || all)
		return VD_TOUCH_WHOLE;
	if (!any)
		return VD_TOUCH_NOTHING;
	int64_t lo = atomic_load(&st->touch_lo), step = atomic_load(&st->touch_step);
	for (int b = 0; b < VD_TOUCH_BUCKETS;) {
		if (!((words[b / 64] >> (b % 64)) & 1)) {
			b++;
			continue;
		}
		int e = b;
		while (e + 1 < VD_TOUCH_BUCKETS && ((words[(e + 1) / 64] >> ((e + 1) % 64)) & 1))
			e++;
		if (vd_int_piece(out, bucket_start(lo, step, b), bucket_start(lo, step, e + 1), b == 0,
				 e == VD_TOUCH_BUCKETS - 1) < 0) {
			vd_range_list_free(out);
			return VD_TOUCH_WHOLE;
		}
		b = e + 1;
	}
	return VD_TOUCH_RANGES;
}
