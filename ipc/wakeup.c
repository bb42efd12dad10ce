/* Futex-based wake-ups between processes sharing a MAP_SHARED mapping. The futex ops are
 * the shared (non-PRIVATE) ones: the kernel keys them on the mapping's backing pages, so
 * a waker in another process finds the sleeper. */
#include "ipc/wakeup.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A wait without deadline still sleeps at most this long per futex call. A pending
 * deadline makes the kernel return EINTR after a handler even with SA_RESTART (a wait
 * without one would be restarted silently and the caller would never see the signal). */
#define WAKEUP_MAX_SLEEP_S 3600

/* Process-local: what this process is waiting on, for wakeup_interrupt(). Lock-free
 * atomics, so the signal handler may touch them. */
static atomic_uint interrupt_count;
static _Atomic(wakeup *) waiting_on;
static unsigned interrupts_at_prepare;

void wakeup_init(wakeup *w)
{
	atomic_init(&w->word, 0);
}

uint32_t wakeup_prepare(wakeup *w)
{
	uint32_t word;

	interrupts_at_prepare = atomic_load(&interrupt_count);
	atomic_store(&waiting_on, w);
	word = atomic_fetch_or(&w->word, WAKEUP_SLEEPER) | WAKEUP_SLEEPER;

	/* Between announcing ourselves and the caller's look at the condition; pairs with
	 * the fence in wakeup_has_waiter (on x86 the locked fetch_or is one already). */
	atomic_thread_fence(memory_order_seq_cst);
	return word;
}

void wakeup_cancel(wakeup *w)
{
	(void)w;
	atomic_store(&waiting_on, NULL);
}

void wakeup_deadline(struct timespec *deadline, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += timeout_ms / 1000;
	deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

/* One sleep in the kernel, unless the word already moved. FUTEX_WAIT_BITSET takes an
 * absolute CLOCK_MONOTONIC time, so repeated waits do not drift. */
static wakeup_result futex_sleep(wakeup *w, uint32_t seen_seq, const struct timespec *deadline)
{
	struct timespec far;
	const struct timespec *until = deadline;

	if (until == NULL) {
		wakeup_deadline(&far, 0);
		far.tv_sec += WAKEUP_MAX_SLEEP_S;
		until = &far;
	}
	if (syscall(SYS_futex, (uint32_t *)&w->word, FUTEX_WAIT_BITSET, seen_seq, until, NULL,
		    FUTEX_BITSET_MATCH_ANY) == 0)
		return WAKEUP_OK;
	switch (errno) {
	case EAGAIN: /* the word moved before we slept: a wake-up we did not miss */
		return WAKEUP_OK;
	case EINTR:
		return WAKEUP_INTERRUPTED;
	case ETIMEDOUT:
		return deadline == NULL ? WAKEUP_OK : WAKEUP_TIMEOUT;
	default:
		/* EFAULT/EINVAL/ENOSYS: the word is not where we think or the kernel has no
		 * futexes; looping on it would hide the bug, so stop here. */
		fprintf(stderr, "ferry: futex wait failed: %s\n", strerror(errno));
		abort();
	}
}

wakeup_result wakeup_wait_until(wakeup *w, uint32_t seen_seq, const struct timespec *deadline)
{
	wakeup_result res;

	/* A handler that ran since prepare has moved the word, so the futex would return
	 * at once; the count says it was a signal rather than a wake-up. */
	if (atomic_load(&interrupt_count) != interrupts_at_prepare)
		res = WAKEUP_INTERRUPTED;
	else
		res = futex_sleep(w, seen_seq, deadline);
	if (res == WAKEUP_OK && atomic_load(&interrupt_count) != interrupts_at_prepare)
		res = WAKEUP_INTERRUPTED;
	atomic_store(&waiting_on, NULL);
	return res;
}

wakeup_result wakeup_wait(wakeup *w, uint32_t seen_seq, int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms == 0) {
		wakeup_cancel(w);
		return WAKEUP_TIMEOUT;
	}
	if (timeout_ms < 0)
		return wakeup_wait_until(w, seen_seq, NULL);
	wakeup_deadline(&deadline, timeout_ms);
	return wakeup_wait_until(w, seen_seq, &deadline);
}

static void futex_wake_all(wakeup *w)
{
	int saved_errno = errno; /* wakeup_interrupt() gets here from signal handlers */

	syscall(SYS_futex, (uint32_t *)&w->word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	errno = saved_errno;
}

/* Next sequence, bit cleared: the sleepers are being woken, later signallers need not. */
static inline uint32_t next_word(uint32_t word)
{
	return (word & ~WAKEUP_SLEEPER) + 2;
}

void wakeup_wake(wakeup *w)
{
	uint32_t word = atomic_load(&w->word);

	while (!atomic_compare_exchange_weak(&w->word, &word, next_word(word)))
		;
	futex_wake_all(w);
}

void wakeup_wake_sleeper(wakeup *w)
{
	uint32_t word = atomic_load(&w->word);

	/* Only the signaller that clears the bit makes the call; a racing one sees it clear. */
	while (word & WAKEUP_SLEEPER) {
		if (atomic_compare_exchange_weak(&w->word, &word, next_word(word))) {
			futex_wake_all(w);
			return;
		}
	}
}

void wakeup_interrupt(void)
{
	wakeup *w;

	atomic_fetch_add(&interrupt_count, 1);
	w = atomic_load(&waiting_on);
	if (w != NULL)
		wakeup_wake(w);
}

unsigned wakeup_interrupt_count(void)
{
	return atomic_load(&interrupt_count);
}
