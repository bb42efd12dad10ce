/* Shutdown modes on a stopwatch (PostgreSQL's process_pm_shutdown_request and
 * AbortStartTime; pgbouncer's repeated SIGTERM). Every stop of a worker, whether the
 * whole supervisor stops or one task goes to error, arms the same per-worker kill
 * deadline, enforced from the main loop. */
#include "supervisor/shutdown.h"

#include <signal.h>
#include <stdio.h>

#include "common/log.h"
#include "supervisor/restart.h"
#include "supervisor/supervisor.h"

shutdown_mode shutdown_mode_merge(shutdown_mode current, shutdown_mode requested)
{
	return requested > current ? requested : current;
}

shutdown_mode shutdown_mode_escalate(shutdown_mode current)
{
	return current >= SHUTDOWN_IMMEDIATE ? SHUTDOWN_IMMEDIATE : (shutdown_mode)(current + 1);
}

const char *shutdown_mode_name(shutdown_mode mode)
{
	switch (mode) {
	case SHUTDOWN_NONE: return "none";
	case SHUTDOWN_GRACEFUL: return "graceful";
	case SHUTDOWN_FAST: return "fast";
	case SHUTDOWN_IMMEDIATE: return "immediate";
	}
	return "unknown";
}

void shutdown_stop_worker(supervisor *s, int slot_no, int sig, int64_t deadline_ms)
{
	proc_slot *slot = &s->procs.slots[slot_no];
	if (slot->state == PROC_BACKOFF) {
		slot->state = PROC_STOPPED; /* nothing to signal: just do not start it again */
		return;
	}
	if (slot->state != PROC_RUNNING || slot->pid <= 0)
		return;
	slot->stop_requested = true;
	if (slot->kill_at_ms == 0 || deadline_ms < slot->kill_at_ms)
		slot->kill_at_ms = deadline_ms;
	if (kill(slot->pid, sig) < 0)
		log_warning("could not signal %s (pid %ld): %m", slot->name, (long)slot->pid);
}

static int64_t mode_timeout_ms(const supervisor *s, shutdown_mode mode)
{
	int64_t timeout = s->config->ferryd.shutdown_timeout_ms;
	if (mode == SHUTDOWN_FAST && timeout > SHUTDOWN_FAST_TIMEOUT_MS)
		timeout = SHUTDOWN_FAST_TIMEOUT_MS;
	return mode == SHUTDOWN_IMMEDIATE ? 0 : timeout;
}

static int mode_signal(shutdown_mode mode)
{
	return mode == SHUTDOWN_GRACEFUL ? SIGTERM : mode == SHUTDOWN_FAST ? SIGINT : SIGKILL;
}

void shutdown_request(supervisor *s, shutdown_mode mode, const char *why)
{
	shutdown_mode next = shutdown_mode_merge(s->shutdown, mode);
	if (next == s->shutdown) {
		log_info("%s: already in %s shutdown", why, shutdown_mode_name(s->shutdown));
		return;
	}
	int64_t now = supervisor_now_ms();
	int64_t timeout = mode_timeout_ms(s, next);
	char timeout_text[32];
	restart_format_duration(timeout, timeout_text, sizeof timeout_text);
	int running = proctable_count_running(&s->procs);
	if (next == SHUTDOWN_IMMEDIATE)
		log_info("%s: immediate shutdown, killing %d workers", why, running);
	else
		log_info("%s: %s shutdown, stopping %d workers (SIGKILL after %s)", why, shutdown_mode_name(next),
			 running, timeout_text);
	s->shutdown = next;
	for (int i = 0; i < PROCTABLE_SIZE; i++)
		shutdown_stop_worker(s, i, mode_signal(next), now + timeout);
}

void shutdown_enforce_deadlines(supervisor *s, int64_t now_ms)
{
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		proc_slot *slot = &s->procs.slots[i];
		if (slot->state != PROC_RUNNING || slot->kill_at_ms == 0 || now_ms < slot->kill_at_ms)
			continue;
		if (s->shutdown != SHUTDOWN_IMMEDIATE)
			log_warning("%s (pid %ld) did not stop in time: sending SIGKILL", slot->name, (long)slot->pid);
		kill(slot->pid, SIGKILL);
		slot->kill_at_ms = 0; /* sent once; the reap follows */
	}
}

int64_t shutdown_next_deadline(const supervisor *s)
{
	int64_t next = -1;
	for (int i = 0; i < PROCTABLE_SIZE; i++) {
		const proc_slot *slot = &s->procs.slots[i];
		if (slot->state == PROC_RUNNING && slot->kill_at_ms > 0 && (next < 0 || slot->kill_at_ms < next))
			next = slot->kill_at_ms;
	}
	return next;
}

bool shutdown_complete(const supervisor *s)
{
	return s->shutdown != SHUTDOWN_NONE && proctable_count_running(&s->procs) == 0;
}
