/* Classic double fork. The readiness pipe replaces guessing: the launcher blocks on it
 * and learns either "ready" (one byte) or, when the daemon dies during startup, EOF. */
#include "supervisor/daemonize.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The launcher's side: wait for the first child (it exits at once), then for the
 * daemon's word. */
static _Noreturn void launcher_wait(pid_t first_child, int read_fd)
{
	int status;
	while (waitpid(first_child, &status, 0) < 0 && errno == EINTR)
		;
	char byte;
	ssize_t n;
	do {
		n = read(read_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	fprintf(stderr, "ferryd: startup failed (see the messages above and supervisor.log in log_dir)\n");
	_exit(1);
}

static int redirect_to_devnull(int fd)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -1;
	int rc = dup2(null_fd, fd); /* dup2 clears O_CLOEXEC on the copy, as wanted */
	close(null_fd);
	return rc < 0 ? -1 : 0;
}

int daemonize(int *ready_fd)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(pipefd[1]);
		launcher_wait(pid, pipefd[0]);
	}
	close(pipefd[0]);
	/* First child: a new session, so no terminal can signal or own us... */
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* ... and its child is no session leader: it can never get a terminal. */
	if (chdir("/") < 0 || redirect_to_devnull(STDIN_FILENO) < 0 || redirect_to_devnull(STDOUT_FILENO) < 0)
		return -1;
	*ready_fd = pipefd[1];
	return 0;
}

void daemonize_ready(int ready_fd)
{
	ssize_t w = write(ready_fd, "R", 1);
	(void)w;
	close(ready_fd);
	redirect_to_devnull(STDERR_FILENO);
}
