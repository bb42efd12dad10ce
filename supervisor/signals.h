/* The supervisor's signal handling: handlers only count the signal and write a byte to
 * a self-pipe (saving errno); the main loop polls the pipe and acts on the counts. */
#ifndef FERRY_SIGNALS_H
#define FERRY_SIGNALS_H

#include <signal.h>

/* Signals that arrived since the last signals_take(). */
typedef struct signal_counts {
	int term; /* graceful stop; a repeated one escalates */
	int intr; /* fast stop */
	int quit; /* immediate stop */
	int hup;  /* reload */
	int chld; /* some child changed state: reap */
} signal_counts;

/* Creates the wake pipe (non-blocking, O_CLOEXEC), installs the handlers, ignores
 * SIGPIPE (a client that hangs up must not kill ferryd). 0, or -1 with errno. */
int signals_install(void);
/* The read end to poll for POLLIN. */
int signals_wake_fd(void);
/* Empties the wake pipe and returns the arrivals since the last call. */
void signals_take(signal_counts *out);

/* Blocks every signal (across fork) and saves the previous mask. */
void signals_block_all(sigset_t *saved);
void signals_restore(const sigset_t *saved);
/* In a forked child, with every signal still blocked: default dispositions, the wake
 * pipe closed. The caller then sets the mask the child runs with. */
void signals_reset_in_child(void);

#endif
