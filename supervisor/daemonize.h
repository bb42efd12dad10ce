/* Becoming a daemon: double fork, setsid, chdir /, stdin and stdout to /dev/null. The
 * launching process waits until the daemon reports that startup finished, so its exit
 * status says whether ferryd runs (what init scripts and systemd Type=forking need).
 * stderr stays the launcher's until then, so startup errors still reach the terminal. */
#ifndef FERRY_DAEMONIZE_H
#define FERRY_DAEMONIZE_H

/* Returns in the daemon only, with *ready_fd for daemonize_ready(). The launcher exits
 * 0 once the daemon is ready, 1 if it exits first. -1 with errno if a fork fails. */
int daemonize(int *ready_fd);
/* Startup done: release the launcher (exit 0) and point stderr at /dev/null. */
void daemonize_ready(int ready_fd);

#endif
