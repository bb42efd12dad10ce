/* The frame every worker process runs in: signal flags, its own log file and process
 * title, its status slot, waiting (signals, supervisor death, fds, timeout) and reload;
 * then the kind's main, whose result becomes the exit code. */
#include "workers/worker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "supervisor/pstitle.h"
#include "workers/worker_mains.h"

volatile sig_atomic_t worker_stop_requested;
volatile sig_atomic_t worker_fast_requested;
volatile sig_atomic_t worker_reload_requested;

typedef struct worker_kind_info {
	const char *name;
	int (*main_fn)(worker_context *ctx);
	int has_index; /* load and apply run as pools: "apply orders.2" */
} worker_kind_info;

static const worker_kind_info kinds[WORKER_KIND_COUNT] = {
	[WORKER_CAPTURE] = {"capture", capture_main, 0},
	[WORKER_LOAD] = {"load", load_main, 1},
	[WORKER_APPLY] = {"apply", apply_main, 1},
	[WORKER_VALIDATE] = {"validate", validate_main, 0},
};

/* The mask while waiting in ppoll(): nothing blocked, so pending flags' signals arrive. */
static sigset_t wait_mask;

const char *worker_kind_name(worker_kind kind)
{
	return (unsigned)kind < WORKER_KIND_COUNT ? kinds[kind].name : "unknown";
}

void worker_display_name(worker_kind kind, const char *task, int index, char *buf, size_t size)
{
	if ((unsigned)kind < WORKER_KIND_COUNT && kinds[kind].has_index)
		snprintf(buf, size, "%s %s.%d", worker_kind_name(kind), task, index);
	else
		snprintf(buf, size, "%s %s", worker_kind_name(kind), task);
}

void worker_log_file_name(worker_kind kind, const char *task, int index, char *buf, size_t size)
{
	if ((unsigned)kind < WORKER_KIND_COUNT && kinds[kind].has_index)
		snprintf(buf, size, "%s-%s-%d.log", worker_kind_name(kind), task, index);
	else
		snprintf(buf, size, "%s-%s.log", worker_kind_name(kind), task);
}

uint64_t worker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Handlers only set flags; the loops act on them after worker_wait() returns. The
 * wake-up interrupt ends a futex sleep of worker_wait_for() (or keeps it from starting). */
static void on_term(int sig) { worker_stop_requested = 1; wakeup_interrupt(); }
static void on_int(int sig) { worker_fast_requested = 1; wakeup_interrupt(); }
static void on_hup(int sig) { worker_reload_requested = 1; wakeup_interrupt(); }

/* Immediate stop: nothing is flushed or committed. Exiting "transient" makes a QUIT sent
 * outside a supervisor shutdown look like a crash (restart with backoff). */
static void on_quit(int sig) { _exit(FERRY_EXIT_TRANSIENT); }

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_int;
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_quit;
	sigaction(SIGQUIT, &sa, NULL);
	/* A server that drops the connection must show up as an error, not kill us. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* TERM, INT and HUP are delivered only inside ppoll(): a flag can never be set
	 * between the check and the sleep. QUIT stays deliverable everywhere. */
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGHUP);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	sigemptyset(&wait_mask);
}

static int flag_pending(void)
{
	return worker_stop_requested || worker_fast_requested || worker_reload_requested;
}

/* The supervisor keeps the write end of this pipe and never writes: readable means it
 * closed, i.e. the supervisor died. Returns 1 when gone. */
static int parent_gone(int fd, short revents)
{
	if (revents & POLLNVAL) {
		log_error("the supervisor pipe (fd %d) is not open: exiting as if the supervisor died", fd);
		return 1;
	}
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return 0; /* stray bytes: not a death */
	log_warning("the supervisor is gone (its pipe closed): exiting");
	return 1;
}

/* After a signal: was it the supervisor's death (e.g. a parent-death signal)? */
static int parent_gone_now(const worker_context *ctx)
{
	if (ctx->parent_fd < 0)
		return 0;
	struct pollfd p = {.fd = ctx->parent_fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && parent_gone(ctx->parent_fd, p.revents);
}

static struct timespec *timeout_spec(int64_t left_ms, struct timespec *ts)
{
	if (left_ms < 0)
		return NULL;
	ts->tv_sec = (time_t)(left_ms / 1000);
	ts->tv_nsec = (long)(left_ms % 1000) * 1000000L;
	return ts;
}

worker_wake worker_wait(worker_context *ctx, struct pollfd *fds, int nfds, int64_t timeout_ms)
{
	if (nfds > WORKER_WAIT_MAX_FDS)
		nfds = WORKER_WAIT_MAX_FDS;
	uint64_t deadline = timeout_ms >= 0 ? worker_now_ms() + (uint64_t)timeout_ms : 0;
	for (;;) {
		if (flag_pending())
			return parent_gone_now(ctx) ? WORKER_WAKE_PARENT_GONE : WORKER_WAKE_SIGNAL;
		struct pollfd p[WORKER_WAIT_MAX_FDS + 1];
		int n = 0;
		if (ctx->parent_fd >= 0)
			p[n++] = (struct pollfd){.fd = ctx->parent_fd, .events = POLLIN};
		for (int i = 0; i < nfds; i++) {
			fds[i].revents = 0;
			p[n++] = fds[i];
		}
		int64_t left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = worker_now_ms();
			left = now >= deadline ? 0 : (int64_t)(deadline - now);
		}
		struct timespec ts;
		int rc = ppoll(p, (nfds_t)n, timeout_spec(left, &ts), &wait_mask);
		if (rc < 0 && errno == EINTR)
			continue; /* a handler ran: the flag check above reports it */
		if (rc < 0) {
			log_error("ppoll failed: %s", strerror(errno));
			return WORKER_WAKE_TIMEOUT;
		}
		if (rc == 0)
			return WORKER_WAKE_TIMEOUT;
		int base = ctx->parent_fd >= 0 ? 1 : 0;
		if (base && p[0].revents && parent_gone(ctx->parent_fd, p[0].revents))
			return WORKER_WAKE_PARENT_GONE;
		int ready = 0;
		for (int i = 0; i < nfds; i++) {
			fds[i].revents = p[base + i].revents;
			ready |= fds[i].revents != 0;
		}
		if (ready)
			return WORKER_WAKE_FD;
	}
}

worker_wake worker_wait_for(worker_context *ctx, wakeup *w, bool (*cond)(void *arg), void *arg)
{
	for (;;) {
		/* flags, the supervisor pipe, and signals already pending */
		worker_wake wake = worker_wait(ctx, NULL, 0, 0);
		if (wake == WORKER_WAKE_SIGNAL || wake == WORKER_WAKE_PARENT_GONE)
			return wake;
		uint32_t seq = wakeup_prepare(w);
		if (cond(arg)) {
			wakeup_cancel(w);
			return WORKER_WAKE_READY;
		}
		/* A signal that arrives from here on runs its handler, whose wakeup_interrupt()
		 * ends the sleep or keeps it from starting; the loop then reports the flag. */
		sigset_t blocked;
		sigprocmask(SIG_SETMASK, &wait_mask, &blocked);
		wakeup_wait(w, seq, WORKER_WAIT_FOR_SAFETY_MS);
		sigprocmask(SIG_SETMASK, &blocked, NULL);
	}
}

/* Logs the first config error (each already carries file:line) and how many followed. */
static void log_reload_failure(const config_diag *diag)
{
	const char *first = diag->errors.count > 0 ? diag->errors.items[0] : "unknown error";
	if (diag->errors.count > 1)
		log_error("reload failed, keeping the current configuration: %s (and %d more errors)", first,
			  diag->errors.count - 1);
	else
		log_error("reload failed, keeping the current configuration: %s", first);
}

void worker_process_reload(worker_context *ctx)
{
	worker_reload_requested = 0;
	if (log_reopen() < 0)
		log_warning("cannot reopen the log file (%s): still writing to the old one", strerror(errno));

	config_diag diag;
	memset(&diag, 0, sizeof diag);
	ferry_config *cfg = config_load(ctx->config->path, &diag);
	if (cfg == NULL) {
		log_reload_failure(&diag);
		config_diag_free(&diag);
		return;
	}
	config_diag_free(&diag);
	const task_config *task = config_find_task(cfg, ctx->task->name);
	if (task == NULL) {
		/* The supervisor stops workers of a removed task; until then keep going. */
		log_warning("reload: task %s is no longer in %s, keeping the current configuration",
			    ctx->task->name, cfg->path);
		config_free(cfg);
		return;
	}
	/* Like the supervisor, take only the keys that may change live: the connection and
	 * task keys this worker runs with stay as they were until ferryd restarts. The config
	 * is this process's own copy since the fork. */
	config_apply_reloadable((ferry_config *)ctx->config, cfg);
	config_free(cfg);
	log_set_level(ctx->config->ferryd.log_level);
	log_info("configuration reloaded (log_level = %s)", log_level_name(ctx->config->ferryd.log_level));
}

/* Exits without running atexit handlers: those belong to the supervisor (pid file...). */
static _Noreturn void worker_exit(worker_context *ctx, int code)
{
	if (code == FERRY_EXIT_DONE)
		atomic_store(&ctx->status->active, 0); /* dead-man flag: a clean exit */
	status_set_state(ctx->status, WORKER_STATE_EXITED);
	log_debug("exiting with code %d", code);
	log_close();
	_exit(code);
}

/* A log file that cannot be opened is a config or permission problem, unless the
 * system is short of descriptors or space. */
static int open_log_file(worker_context *ctx)
{
	char file[256];
	worker_log_file_name(ctx->kind, ctx->task->name, ctx->index, file, sizeof file);
	if (log_open(ctx->config->ferryd.log_dir, file) == 0)
		return -1;
	int err = errno;
	status_set_error(ctx->status, "cannot open log file %s/%s: %s", ctx->config->ferryd.log_dir, file,
			 strerror(err));
	log_error("cannot open log file %s/%s: %s", ctx->config->ferryd.log_dir, file, strerror(err));
	return err == EMFILE || err == ENFILE || err == ENOSPC ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL;
}

_Noreturn void worker_run(worker_context *ctx)
{
	install_signals();
	char display[160];
	worker_display_name(ctx->kind, ctx->task->name, ctx->index, display, sizeof display);
	log_set_process(display);
	log_set_level(ctx->config->ferryd.log_level);
	atomic_store(&ctx->status->pid, (int32_t)getpid());
	status_set_state(ctx->status, WORKER_STATE_STARTING);

	int code = open_log_file(ctx);
	if (code >= 0)
		worker_exit(ctx, code);

	char title[200];
	snprintf(title, sizeof title, "ferryd: %s", display);
	pstitle_set(title);

	if ((unsigned)ctx->kind >= WORKER_KIND_COUNT) {
		log_error("unknown worker kind %d", (int)ctx->kind);
		worker_exit(ctx, FERRY_EXIT_FATAL);
	}
	log_info("starting");
	worker_exit(ctx, kinds[ctx->kind].main_fn(ctx));
}
