/* One request to ferryd's control socket (see the header). */
#include "supervisor/control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/control.h"

int control_client_path(const char *data_dir, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", data_dir, CONTROL_SOCKET_NAME);
	return n < 0 || (size_t)n >= size || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path) ? -1 : 0;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads until EOF. NULL with err on error or timeout. */
static char *read_all(int fd, int timeout_ms, char *err, size_t errlen)
{
	size_t len = 0, cap = 8192;
	char *buf = malloc(cap);
	long deadline = now_ms() + timeout_ms;
	while (buf) {
		long left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			snprintf(err, errlen, "no answer from ferryd within %d s", timeout_ms / 1000);
			break;
		}
		if (len + 1 >= cap) {
			char *grown = realloc(buf, cap * 2);
			if (grown == NULL)
				break;
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading ferryd's answer: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		len += (size_t)n;
	}
	if (buf == NULL)
		snprintf(err, errlen, "out of memory");
	free(buf);
	return NULL;
}

char *control_client_request(const char *socket_path, const char *command, int timeout_ms, int *not_running,
			     char *err, size_t errlen)
{
	*not_running = 0;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		*not_running = errno == ENOENT || errno == ECONNREFUSED;
		snprintf(err, errlen, "cannot connect to ferryd at %s: %s", socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char line[CONTROL_MAX_REQUEST];
	int n = snprintf(line, sizeof line, "%s\n", command);
	char *answer = NULL;
	if (n < 0 || (size_t)n >= sizeof line || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		snprintf(err, errlen, "sending to ferryd at %s: %s", socket_path, strerror(errno));
	else
		answer = read_all(fd, timeout_ms, err, errlen);
	close(fd);
	return answer;
}
