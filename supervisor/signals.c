/* Flag-and-wake signal handlers (PostgreSQL's handle_pm_*_signal, nginx's
 * ngx_signal_handler without the work). Counters rather than booleans so the loop can
 * tell a second SIGTERM from the first. */
#include "supervisor/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t term_count, int_count, quit_count, hup_count, chld_count;
static int wake_pipe[2] = {-1, -1};

/* What the loop has already seen of each counter. */
static signal_counts seen;

static void on_signal(int sig)
{
	int saved_errno = errno;
	switch (sig) {
	case SIGTERM: term_count++; break;
	case SIGINT: int_count++; break;
	case SIGQUIT: quit_count++; break;
	case SIGHUP: hup_count++; break;
	case SIGCHLD: chld_count++; break;
	default: break;
	}
	/* Full pipe: a wake-up is already pending, nothing lost. */
	ssize_t w = write(wake_pipe[1], "", 1);
	(void)w;
	errno = saved_errno;
}

static const int handled[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD};
#define N_HANDLED (sizeof handled / sizeof handled[0])

int signals_install(void)
{
	if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	/* Handlers never interrupt each other: each counter has one writer at a time. */
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < N_HANDLED; i++) {
		if (sigaction(handled[i], &sa, NULL) < 0)
			return -1;
	}
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	return 0;
}

int signals_wake_fd(void) { return wake_pipe[0]; }

void signals_take(signal_counts *out)
{
	char buf[64];
	while (read(wake_pipe[0], buf, sizeof buf) > 0)
		;
	/* Read each counter once: a handler may bump it meanwhile, the next call sees it. */
	signal_counts now = {term_count, int_count, quit_count, hup_count, chld_count};
	out->term = now.term - seen.term;
	out->intr = now.intr - seen.intr;
	out->quit = now.quit - seen.quit;
	out->hup = now.hup - seen.hup;
	out->chld = now.chld - seen.chld;
	seen = now;
}

void signals_block_all(sigset_t *saved)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, saved);
}

void signals_restore(const sigset_t *saved) { sigprocmask(SIG_SETMASK, saved, NULL); }

void signals_reset_in_child(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	if (wake_pipe[0] >= 0)
		close(wake_pipe[0]);
	if (wake_pipe[1] >= 0)
		close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
}
