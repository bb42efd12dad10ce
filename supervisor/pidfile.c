/* Pid file with an flock() held for ferryd's life: liveness is the lock, not the pid in
 * the file, so stale detection cannot be fooled by pid reuse. */
#include "supervisor/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directory holding path (e.g. /run/ferry after a reboot). */
static int make_parent_dirs(const char *path)
{
	char dir[4096];
	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || *end == '\0') ? (pid_t)pid : 0;
}

static int open_pid_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno == ENOENT && make_parent_dirs(path) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	return fd;
}

/* The file we locked may have been unlinked by its previous holder just before it let
 * go: then our lock is on a dead inode and we must start over. */
static int still_at_path(int fd, const char *path)
{
	struct stat held, named;
	return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
	       held.st_ino == named.st_ino;
}

int pidfile_acquire(pidfile *pf, const char *path, char *err, size_t errlen)
{
	pf->fd = -1;
	pf->stale_pid = 0;
	pf->path = strdup(path);
	if (pf->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		int fd = open_pid_file(path);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create pid file %s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			pid_t holder = read_pid(fd);
			close(fd);
			if (e != EWOULDBLOCK)
				snprintf(err, errlen, "cannot lock pid file %s: %s", path, strerror(e));
			else if (holder > 0)
				snprintf(err, errlen, "ferryd already running with pid %ld (pid file %s)", (long)holder, path);
			else
				snprintf(err, errlen, "ferryd already running (pid file %s is locked, no pid in it yet)", path);
			return -1;
		}
		if (!still_at_path(fd, path)) {
			close(fd);
			continue;
		}
		pf->stale_pid = read_pid(fd);
		pf->fd = fd;
		return 0;
	}
	snprintf(err, errlen, "cannot lock pid file %s: it keeps being replaced", path);
	return -1;
}

int pidfile_write(pidfile *pf, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)pid);
	if (ftruncate(pf->fd, 0) < 0 || pwrite(pf->fd, buf, (size_t)n, 0) != n || fsync(pf->fd) < 0)
		return -1;
	return 0;
}

void pidfile_remove(pidfile *pf)
{
	if (pf->fd >= 0) {
		if (still_at_path(pf->fd, pf->path) && read_pid(pf->fd) == getpid())
			unlink(pf->path);
		close(pf->fd);
		pf->fd = -1;
	}
	free(pf->path);
	pf->path = NULL;
}

void pidfile_close_in_child(pidfile *pf)
{
	if (pf->fd >= 0)
		close(pf->fd);
	pf->fd = -1;
}
