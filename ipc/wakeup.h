/* Cross-process wake-up living in shared memory: a Linux futex on one 32-bit word that
 * holds a wake-up sequence (upper 31 bits) and a "someone may sleep" bit (bit 0), so
 * that signalling costs no system call while nobody sleeps.
 *
 *   waiter                                     signaller
 *   seq = wakeup_prepare(w);                   publish the change (atomic store);
 *   if (condition holds) wakeup_cancel(w);     wakeup_signal(w);
 *   else r = wakeup_wait(w, seq, timeout_ms);
 *
 * The waiter sets the bit before it looks at the condition; the signaller looks at the
 * bit after it has published; a full fence sits between the two steps on each side. So
 * either the waiter sees the change, or the signaller sees the bit, bumps the sequence
 * (clearing the bit) and wakes; the kernel compares the word with what the waiter read
 * before letting it sleep, so no wake-up is lost.
 *
 * A bit rather than a count of waiters: the signaller clears it as it wakes, so a
 * producer that keeps publishing while the woken consumer is still being scheduled makes
 * one wake-up call, not one per record. Any change to the word makes a pending wait
 * return, so several waiters sharing the bit stay correct; WAKEUP_OK only means "look
 * at the condition again".
 *
 * Signals: a handler that runs during wakeup_wait() makes it return WAKEUP_INTERRUPTED
 * (even with SA_RESTART, because the wait always has a deadline). A handler that runs
 * just before the process goes to sleep is only seen if it calls wakeup_interrupt(),
 * which is async-signal-safe; worker signal handlers should call it after setting their
 * flag. A process waits on one wake-up at a time (workers are single-threaded). */
#ifndef FERRY_WAKEUP_H
#define FERRY_WAKEUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WAKEUP_SLEEPER 1u /* bit 0 of the word: a waiter announced itself */

typedef struct wakeup {
	_Atomic uint32_t word; /* the futex word: sequence << 1 | WAKEUP_SLEEPER */
} wakeup;

typedef enum wakeup_result {
	WAKEUP_OK = 0,      /* woken, or the word moved: check the condition again */
	WAKEUP_TIMEOUT,     /* the deadline passed */
	WAKEUP_INTERRUPTED  /* a signal arrived: the caller checks its flags */
} wakeup_result;

void wakeup_init(wakeup *w);

/* Waiter side. wakeup_prepare() announces the caller and returns the value to hand to
 * wakeup_wait(); every prepare ends with one wakeup_wait() or wakeup_cancel(). Neither
 * clears the bit (another waiter may share it): a stale bit costs the next signaller
 * one needless wake-up call, and that call clears it. */
uint32_t wakeup_prepare(wakeup *w);
void wakeup_cancel(wakeup *w);
/* timeout_ms: 0 = do not sleep, <0 = no deadline, >0 = at most that long. */
wakeup_result wakeup_wait(wakeup *w, uint32_t seen_seq, int timeout_ms);
/* Same, with an absolute CLOCK_MONOTONIC deadline (NULL = none), for callers that wait
 * repeatedly towards one deadline. */
wakeup_result wakeup_wait_until(wakeup *w, uint32_t seen_seq, const struct timespec *deadline);

/* Signaller side. wakeup_wake() bumps the sequence and wakes every sleeper, announced
 * or not (detach, interrupts); wakeup_signal() only if a waiter announced itself. */
void wakeup_wake(wakeup *w);
void wakeup_wake_sleeper(wakeup *w); /* the slow half of wakeup_signal() */

/* After publishing: has a waiter announced itself? The fence orders the caller's
 * publishing store before the load of the word (the other half of prepare's fence). */
static inline bool wakeup_has_waiter(wakeup *w)
{
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: what the waiter stored before announcing itself is visible now */
	return (atomic_load_explicit(&w->word, memory_order_acquire) & WAKEUP_SLEEPER) != 0;
}

static inline void wakeup_signal(wakeup *w)
{
	if (wakeup_has_waiter(w))
		wakeup_wake_sleeper(w);
}

/* From a signal handler: counts an interrupt and wakes this process's wait in progress,
 * if any, so it returns WAKEUP_INTERRUPTED instead of sleeping. Async-signal-safe. */
void wakeup_interrupt(void);
/* Interrupts counted so far in this process; a caller about to wait takes it first and
 * compares afterwards to notice a signal that came before its wait began. */
unsigned wakeup_interrupt_count(void);

/* now (CLOCK_MONOTONIC) + timeout_ms, for wakeup_wait_until(). */
void wakeup_deadline(struct timespec *deadline, int timeout_ms);

#endif
