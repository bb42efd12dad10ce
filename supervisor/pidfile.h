/* The pid file: the one lock that keeps two ferryds off the same files. A running ferryd
 * holds an flock() on it for its whole life, so a file nobody holds is stale whatever
 * pid it names (a reboot, a kill -9, a pid reused by another program). */
#ifndef FERRY_PIDFILE_H
#define FERRY_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct pidfile {
	int fd; /* -1 when not held */
	char *path;
	pid_t stale_pid; /* pid found in a stale file taken over (0: none or empty) */
} pidfile;

/* Creates (with its directory) or opens path and locks it. When a live ferryd holds it:
 * -1 and err says "ferryd already running with pid N (pid file P)". Other failures: -1
 * and err says what and why. The lock survives fork, so it can be taken before
 * daemonizing (errors still reach the terminal) and kept by the daemon. */
int pidfile_acquire(pidfile *pf, const char *path, char *err, size_t errlen);
/* Writes pid into the held file (replacing its content) and syncs it. 0 or -1/errno. */
int pidfile_write(pidfile *pf, pid_t pid);
/* Unlinks the file if it still names this process, then closes (releases the lock). */
void pidfile_remove(pidfile *pf);
/* In a forked worker: closes the descriptor. The lock stays with the supervisor's. */
void pidfile_close_in_child(pidfile *pf);

#endif
