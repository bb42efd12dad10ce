/* The metrics endpoint's connections: accept, read the request head, answer
 * (/metrics, /status, or an error status), shut the write side and drain until the
 * client closes, so the answer is never cut off by a reset. Non-blocking throughout,
 * served from the supervisor's loop (see metrics.h). */
#include "supervisor/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/jsonbuf.h"
#include "supervisor/metrics_http.h"
#include "supervisor/metrics_page.h"
#include "supervisor/metrics_text.h"
#include "supervisor/statusdoc.h"
#include "supervisor/supervisor.h"

static void client_close(metrics_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static char *error_response(int status, const char *why, bool head_only, size_t *len)
{
	char body[256];
	int n = snprintf(body, sizeof body, "%d %s: %s\n", status, http_status_text(status), why);
	const char *allow = status == 405 ? "Allow: GET, HEAD\r\n" : NULL;
	return http_response(status, "text/plain; charset=utf-8", allow, body, (size_t)n, head_only, len);
}

static char *page_response(const supervisor *s, bool metrics, bool head_only, size_t *len)
{
	if (metrics) {
		strbuf sb = STRBUF_INIT;
		metrics_page_build(s, &sb);
		char *r = strbuf_failed(&sb) ? NULL
					     : http_response(200, PROM_CONTENT_TYPE, NULL, sb.data, sb.len, head_only, len);
		strbuf_free(&sb);
		return r;
	}
	jsonbuf jb;
	jsonbuf_init(&jb);
	statusdoc_build(s, &jb);
	jsonbuf_append(&jb, "\n");
	size_t body_len;
	char *body = jsonbuf_take(&jb, &body_len);
	char *r = body ? http_response(200, "application/json", NULL, body, body_len, head_only, len) : NULL;
	free(body);
	return r;
}

/* The answer to a complete (or failed) request head. */
static char *dispatch(const supervisor *s, http_parse_result pr, const http_request *req, size_t *len)
{
	if (pr == HTTP_BAD)
		return error_response(req->status, req->why, false, len);
	bool head_only = strcmp(req->method, "HEAD") == 0;
	bool metrics = strcmp(req->path, "/metrics") == 0;
	if (!metrics && strcmp(req->path, "/status") != 0)
		return error_response(404, "this endpoint serves /metrics and /status", head_only, len);
	if (!head_only && strcmp(req->method, "GET") != 0)
		return error_response(405, "only GET and HEAD are served", false, len);
	log_debug("metrics: %s %s", req->method, req->path);
	return page_response(s, metrics, head_only, len);
}

/* Writes what the socket takes; once all is out, shuts the write side and lingers. */
static void client_flush(metrics_client *c, int64_t now_ms)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		client_close(c); /* the client left */
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = METRICS_CLIENT_LINGERING;
	if (c->deadline_ms > now_ms + METRICS_LINGER_MS)
		c->deadline_ms = now_ms + METRICS_LINGER_MS;
}

static void client_answer(const supervisor *s, metrics_client *c, http_parse_result pr, const http_request *req,
			  int64_t now_ms)
{
	c->out = dispatch(s, pr, req, &c->out_len);
	if (c->out == NULL) {
		log_error("metrics: out of memory building the answer to %s", req->path[0] ? req->path : "a request");
		client_close(c);
		return;
	}
	c->out_off = 0;
	c->state = METRICS_CLIENT_WRITING;
	client_flush(c, now_ms);
}

static void client_read(const supervisor *s, metrics_client *c, int64_t now_ms)
{
	for (;;) {
		http_request req;
		if (c->in_len == sizeof c->in) {
			req = (http_request){.status = 431, .why = "the request head is too long"};
			client_answer(s, c, HTTP_BAD, &req, now_ms);
			return;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) { /* gone before its request was complete: nobody to answer */
			client_close(c);
			return;
		}
		c->in_len += (size_t)n;
		http_parse_result pr = http_parse_request(c->in, c->in_len, &req);
		if (pr != HTTP_INCOMPLETE) {
			client_answer(s, c, pr, &req, now_ms);
			return;
		}
	}
}

/* After the answer: reads and drops whatever the client still sends until it closes. */
static void client_drain(metrics_client *c)
{
	char sink[4096];
	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof sink, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		client_close(c);
		return;
	}
}

/* A free slot, or the one of the client that has waited longest for its request to
 * end: with every slot held by stalled clients, a new scrape still gets in. NULL when
 * every client is being answered. */
static metrics_client *slot_for_new_client(metrics_server *ms)
{
	metrics_client *oldest = NULL;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		metrics_client *c = &ms->clients[i];
		if (c->fd < 0)
			return c;
		if (c->state != METRICS_CLIENT_WRITING && (oldest == NULL || c->deadline_ms < oldest->deadline_ms))
			oldest = c;
	}
	if (oldest != NULL) {
		log_debug("metrics: %d clients connected, dropping the one that has waited longest", METRICS_MAX_CLIENTS);
		client_close(oldest);
	}
	return oldest;
}

static void accept_clients(metrics_server *ms, int listen_fd, int64_t now_ms)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				log_warning("metrics: accept failed: %s", strerror(errno));
			return;
		}
		metrics_client *c = slot_for_new_client(ms);
		if (c == NULL) {
			close(fd);
			return;
		}
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->state = METRICS_CLIENT_READING;
		c->deadline_ms = now_ms + METRICS_CLIENT_TIMEOUT_MS;
	}
}

int metrics_poll_fds(const metrics_server *ms, struct pollfd *fds)
{
	int n = 0;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		const metrics_client *c = &ms->clients[i];
		if (c->fd >= 0)
			fds[n++] = (struct pollfd){.fd = c->fd,
						   .events = c->state == METRICS_CLIENT_WRITING ? POLLOUT : POLLIN};
	}
	for (int i = 0; i < ms->n_listen; i++)
		fds[n++] = (struct pollfd){.fd = ms->listen_fds[i], .events = POLLIN};
	return n;
}

static bool is_listener(const metrics_server *ms, int fd)
{
	for (int i = 0; i < ms->n_listen; i++)
		if (ms->listen_fds[i] == fd)
			return true;
	return false;
}

static metrics_client *client_by_fd(metrics_server *ms, int fd)
{
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (ms->clients[i].fd == fd)
			return &ms->clients[i];
	return NULL;
}

void metrics_serve(supervisor *s, const struct pollfd *fds, int nfds, int64_t now_ms)
{
	metrics_server *ms = &s->metrics;
	for (int i = 0; i < nfds; i++) {
		if (fds[i].revents == 0)
			continue;
		/* A reload may have closed this listener since the poll: the fd is checked. */
		if (is_listener(ms, fds[i].fd)) {
			accept_clients(ms, fds[i].fd, now_ms);
			continue;
		}
		metrics_client *c = client_by_fd(ms, fds[i].fd);
		if (c == NULL)
			continue;
		if (c->state == METRICS_CLIENT_READING)
			client_read(s, c, now_ms);
		else if (c->state == METRICS_CLIENT_WRITING)
			client_flush(c, now_ms);
		else
			client_drain(c);
	}
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		metrics_client *c = &ms->clients[i];
		if (c->fd >= 0 && now_ms >= c->deadline_ms) {
			if (c->state != METRICS_CLIENT_LINGERING)
				log_debug("metrics: dropping a client that did not finish within %d ms",
					  METRICS_CLIENT_TIMEOUT_MS);
			client_close(c);
		}
	}
}

int64_t metrics_next_deadline(const metrics_server *ms)
{
	int64_t next = -1;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		const metrics_client *c = &ms->clients[i];
		if (c->fd >= 0 && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	return next;
}
