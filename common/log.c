/* Per-process log file with a fixed line prefix; reopened on SIGHUP for logrotate. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *level_names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};
static const char *level_keys[] = {"error", "warning", "info", "debug"};

static char process_name[64] = "ferry";
static log_level current_level = LOG_LEVEL_INFO;
static int file_fd = -1;
static char file_path[PATH_MAX];

void log_set_process(const char *name)
{
	snprintf(process_name, sizeof process_name, "%s", name);
}

void log_set_level(log_level level) { current_level = level; }
log_level log_get_level(void) { return current_level; }
int log_fd(void) { return file_fd >= 0 ? file_fd : STDERR_FILENO; }

const char *log_level_name(log_level level)
{
	return level <= LOG_LEVEL_DEBUG ? level_keys[level] : "?";
}

int log_level_parse(const char *name, log_level *out)
{
	for (int i = 0; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcmp(name, level_keys[i]) == 0) {
			*out = (log_level)i;
			return 0;
		}
	}
	return -1;
}

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_open(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open_append(path);
	if (fd < 0)
		return -1;
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	snprintf(file_path, sizeof file_path, "%s", path);
	return 0;
}

int log_reopen(void)
{
	if (file_fd < 0)
		return 0;
	/* Open the new file first so no line is lost if the open fails. */
	int fd = open_append(file_path);
	if (fd < 0)
		return -1;
	int old = file_fd;
	file_fd = fd;
	close(old);
	return 0;
}

void log_close(void)
{
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
}

void log_vmsg(log_level level, const char *fmt, va_list ap)
{
	if (level > current_level)
		return;
	int saved_errno = errno;
	char line[4096];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n, ".%03ld %s %s[%ld]: ", (long)tv.tv_usec / 1000,
			      level_names[level], process_name, (long)getpid());
	int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps lines whole even when processes share a file. */
	ssize_t w = write(log_fd(), line, n);
	(void)w;
	errno = saved_errno;
}

void log_msg(log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
