/* The metrics endpoint's listening sockets: parse metrics_listen, bind every address
 * the host resolves to, move on reload (new first, old closed only after). Serving the
 * connections is metrics_client.c. */
#include "supervisor/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

void metrics_init(metrics_server *ms)
{
	memset(ms, 0, sizeof *ms);
	for (int i = 0; i < METRICS_MAX_LISTENERS; i++)
		ms->listen_fds[i] = -1;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		ms->clients[i].fd = -1;
}

/* "host:port", "[v6addr]:port" or "*:port" (every address) into host (NULL for *) and
 * port. The config check (config_keys.c) has already made sure there is a port. */
static int split_address(const char *address, char *host, size_t host_size, char *port, size_t port_size)
{
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || colon[1] == '\0')
		return -1;
	const char *h = address;
	size_t hlen = (size_t)(colon - address);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= host_size || strlen(colon + 1) >= port_size)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, port_size, "%s", colon + 1);
	return 0;
}

static void describe(const struct addrinfo *ai, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ai->ai_addr;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
		snprintf(buf, size, "%s:%d", ip, port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ai->ai_addr;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
		snprintf(buf, size, "[%s]:%d", ip, port);
	}
}

/* One listening socket for ai; -1 with errno. */
static int listen_on(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	int on = 1;
	/* A restarted ferryd must not wait for the old connections' TIME_WAIT; a live
	 * listener on the address still makes bind fail (EADDRINUSE). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (ai->ai_family == AF_INET6) /* "*" binds :: and 0.0.0.0 separately */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, METRICS_MAX_CLIENTS) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void bind_failed(const char *address, const char *where, int err_no, char *err, size_t errlen)
{
	const char *hint = err_no == EADDRINUSE
		? "another process listens there (another ferryd?): choose a free port in metrics_listen, or leave it "
		  "empty to turn the endpoint off"
		: err_no == EADDRNOTAVAIL ? "no interface of this machine has that address: correct metrics_listen"
		: err_no == EACCES ? "ports below 1024 need privileges: choose a port of 1024 or more"
		: "correct metrics_listen, or leave it empty to turn the endpoint off";
	snprintf(err, errlen, "metrics_listen = %s: cannot listen on %s: %s; %s", address, where, strerror(err_no),
		 hint);
}

/* A host listed twice (/etc/hosts) resolves to the same address twice: bound once. */
static bool seen_before(const struct addrinfo *list, const struct addrinfo *ai)
{
	for (const struct addrinfo *p = list; p != ai; p = p->ai_next)
		if (p->ai_addrlen == ai->ai_addrlen && memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return true;
	return false;
}

/* Binds every address of host:port into fds; the count, or -1 with err (nothing open). */
static int bind_address(const char *address, int *fds, char *err, size_t errlen)
{
	char host[256], port[16], where[INET6_ADDRSTRLEN + 16];
	if (split_address(address, host, sizeof host, port, sizeof port) < 0) {
		snprintf(err, errlen, "metrics_listen = %s is not HOST:PORT (e.g. 127.0.0.1:9187; empty = off)", address);
		return -1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
	int rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "metrics_listen = %s: cannot resolve '%s': %s", address, host, gai_strerror(rc));
		return -1;
	}
	int n = 0, first_errno = 0;
	char first_where[sizeof where] = "";
	for (const struct addrinfo *ai = res; ai != NULL && n < METRICS_MAX_LISTENERS; ai = ai->ai_next) {
		if (seen_before(res, ai))
			continue;
		describe(ai, where, sizeof where);
		int fd = listen_on(ai);
		if (fd >= 0) {
			fds[n++] = fd;
		} else if (first_errno == 0) {
			first_errno = errno;
			snprintf(first_where, sizeof first_where, "%s", where);
		} else {
			log_warning("metrics_listen = %s: not listening on %s: %s", address, where, strerror(errno));
		}
	}
	freeaddrinfo(res);
	if (n == 0) {
		bind_failed(address, first_where[0] ? first_where : address, first_errno ? first_errno : EADDRNOTAVAIL,
			    err, errlen);
		return -1;
	}
	if (first_errno != 0) /* localhost: ::1 may be missing where IPv6 is off */
		log_warning("metrics_listen = %s: not listening on %s: %s", address, first_where, strerror(first_errno));
	return n;
}

static void close_listeners(metrics_server *ms)
{
	for (int i = 0; i < ms->n_listen; i++) {
		if (ms->listen_fds[i] >= 0)
			close(ms->listen_fds[i]);
		ms->listen_fds[i] = -1;
	}
	ms->n_listen = 0;
}

static int open_address(metrics_server *ms, const char *address, bool announce, char *err, size_t errlen)
{
	int fds[METRICS_MAX_LISTENERS];
	int n = bind_address(address, fds, err, errlen);
	if (n < 0)
		return -1;
	char *copy = strdup(address);
	if (copy == NULL) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	close_listeners(ms);
	free(ms->address);
	ms->address = copy;
	memcpy(ms->listen_fds, fds, sizeof(int) * (size_t)n);
	ms->n_listen = n;
	if (announce)
		log_info("metrics endpoint listening on %s (GET /metrics, GET /status)", address);
	return 0;
}

int metrics_open(metrics_server *ms, const char *address, char *err, size_t errlen)
{
	if (address == NULL || address[0] == '\0')
		return 0;
	return open_address(ms, address, true, err, errlen);
}

/* A failed move: the new address may overlap the old one (the same port under another
 * host name), so it is tried once more without the old listener, which is put back
 * when that fails too. */
static int retry_without_old(metrics_server *ms, const char *want, const char *old, char *err, size_t errlen)
{
	char again[512];
	close_listeners(ms);
	if (metrics_open(ms, want, again, sizeof again) == 0)
		return 0;
	if (open_address(ms, old, false, again, sizeof again) < 0) {
		log_error("the metrics endpoint is off now: %s", again);
		free(ms->address);
		ms->address = NULL;
		return -1;
	}
	size_t used = strlen(err);
	snprintf(err + used, errlen - used, "; the metrics endpoint stays on %s", old);
	return -1;
}

int metrics_reconfigure(metrics_server *ms, const char *address, char *err, size_t errlen)
{
	const char *want = address && address[0] ? address : NULL;
	if ((want == NULL && ms->address == NULL) || (want && ms->address && strcmp(want, ms->address) == 0))
		return 0;
	if (want == NULL) {
		log_info("metrics endpoint on %s closed (metrics_listen is empty)", ms->address);
		close_listeners(ms);
		free(ms->address);
		ms->address = NULL;
		return 0;
	}
	char *old = ms->address ? strdup(ms->address) : NULL;
	int rc = metrics_open(ms, want, err, errlen);
	if (rc < 0 && old != NULL)
		rc = retry_without_old(ms, want, old, err, errlen);
	if (rc == 0 && old != NULL)
		log_info("metrics endpoint moved from %s to %s", old, want);
	free(old);
	return rc;
}

void metrics_close_in_child(metrics_server *ms)
{
	for (int i = 0; i < METRICS_MAX_LISTENERS; i++) {
		if (ms->listen_fds[i] >= 0)
			close(ms->listen_fds[i]);
		ms->listen_fds[i] = -1;
	}
	ms->n_listen = 0;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		if (ms->clients[i].fd >= 0)
			close(ms->clients[i].fd);
		ms->clients[i].fd = -1;
	}
}

void metrics_close(metrics_server *ms)
{
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		metrics_client *c = &ms->clients[i];
		if (c->fd >= 0)
			close(c->fd);
		free(c->out);
		memset(c, 0, sizeof *c);
		c->fd = -1;
	}
	close_listeners(ms);
	free(ms->address);
	ms->address = NULL;
}
