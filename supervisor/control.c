/* Control socket: accept, read one command line, answer one JSON document, close. All
 * descriptors are non-blocking and served from the main loop, so a client that stalls
 * costs a slot until its deadline, never the supervisor's time. */
#include "supervisor/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/jsonbuf.h"
#include "supervisor/reload.h"
#include "supervisor/shutdown.h"
#include "supervisor/statusdoc.h"
#include "supervisor/supervisor.h"

static void client_close(control_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static int connect_probe(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
	close(fd);
	return rc;
}

/* A socket file left by a ferryd that died goes; one somebody answers on stays. */
static int remove_stale_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; move it away", path);
		return -1;
	}
	if (connect_probe(path) == 0) {
		snprintf(err, errlen, "another ferryd is answering on %s", path);
		return -1;
	}
	if (unlink(path) < 0) {
		snprintf(err, errlen, "cannot remove stale control socket %s: %s", path, strerror(errno));
		return -1;
	}
	log_info("removed stale control socket %s", path);
	return 0;
}

static int bind_listen(control_server *cs, char *err, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", cs->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create the control socket: %s", strerror(errno));
		return -1;
	}
	/* Created 0600 from the start: no window in which others could connect. */
	mode_t old_umask = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
	umask(old_umask);
	if (rc < 0 || listen(fd, CONTROL_MAX_CLIENTS) < 0) {
		snprintf(err, errlen, "cannot listen on control socket %s: %s", cs->path, strerror(errno));
		close(fd);
		return -1;
	}
	cs->listen_fd = fd;
	return 0;
}

int control_open(control_server *cs, const char *data_dir, char *err, size_t errlen)
{
	memset(cs, 0, sizeof *cs);
	cs->listen_fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		cs->clients[i].fd = -1;
	int n = snprintf(cs->path, sizeof cs->path, "%s/%s", data_dir, CONTROL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof cs->path) {
		snprintf(err, errlen, "control socket path %s/%s is too long (a Unix socket path has at most %zu bytes): "
			 "choose a shorter data_dir", data_dir, CONTROL_SOCKET_NAME, sizeof cs->path - 1);
		cs->path[0] = '\0';
		return -1;
	}
	if (remove_stale_socket(cs->path, err, errlen) < 0) {
		cs->path[0] = '\0'; /* not ours: never unlink it */
		return -1;
	}
	return bind_listen(cs, err, errlen);
}

void control_close_in_child(control_server *cs)
{
	if (cs->listen_fd >= 0)
		close(cs->listen_fd);
	cs->listen_fd = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (cs->clients[i].fd >= 0)
			close(cs->clients[i].fd);
		cs->clients[i].fd = -1;
	}
}

void control_close(control_server *cs)
{
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(&cs->clients[i]);
	if (cs->listen_fd >= 0) {
		close(cs->listen_fd);
		cs->listen_fd = -1;
		unlink(cs->path);
	}
}

static void answer_stop(supervisor *s, jsonbuf *jb, shutdown_mode mode)
{
	shutdown_request(s, mode, mode == SHUTDOWN_FAST ? "ferryctl stop fast" : "ferryctl stop");
	json_object_begin(jb);
	json_key(jb, "ok");
	json_bool(jb, true);
	json_member_int(jb, "pid", s->pid);
	json_member_string(jb, "mode", shutdown_mode_name(s->shutdown));
	json_object_end(jb);
}

static void answer_reload(supervisor *s, jsonbuf *jb)
{
	reload_result r;
	reload_run(s, &r, "ferryctl reload");
	json_object_begin(jb);
	json_key(jb, "ok");
	json_bool(jb, r.ok);
	json_key(jb, r.ok ? "restart_needed" : "errors");
	const string_list *list = r.ok ? &r.restart_needed : &r.errors;
	json_array_begin(jb);
	for (int i = 0; i < list->count; i++)
		json_string(jb, list->items[i]);
	json_array_end(jb);
	json_key(jb, "warnings");
	json_array_begin(jb);
	for (int i = 0; i < r.warnings.count; i++)
		json_string(jb, r.warnings.items[i]);
	json_array_end(jb);
	json_object_end(jb);
	reload_result_free(&r);
}

static void answer_unknown(jsonbuf *jb, const char *line)
{
	char msg[CONTROL_MAX_REQUEST + 128];
	snprintf(msg, sizeof msg, "unknown command \"%s\" (known: status, stop, stop fast, reload)", line);
	json_object_begin(jb);
	json_key(jb, "ok");
	json_bool(jb, false);
	json_member_string(jb, "error", msg);
	json_object_end(jb);
}

/* The command table: one line in, one JSON document out (newline-terminated). */
static char *dispatch(supervisor *s, const char *line, size_t *len)
{
	jsonbuf jb;
	jsonbuf_init(&jb);
	log_debug("control: command \"%s\"", line);
	if (strcmp(line, "status") == 0)
		statusdoc_build(s, &jb);
	else if (strcmp(line, "stop") == 0)
		answer_stop(s, &jb, SHUTDOWN_GRACEFUL);
	else if (strcmp(line, "stop fast") == 0)
		answer_stop(s, &jb, SHUTDOWN_FAST);
	else if (strcmp(line, "reload") == 0)
		answer_reload(s, &jb);
	else
		answer_unknown(&jb, line);
	jsonbuf_append(&jb, "\n");
	return jsonbuf_take(&jb, len);
}

/* Writes what the socket takes; 1 when the answer is out (or the client gone). */
static int client_flush(control_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1; /* EPIPE and friends: the client left, nothing to tell it */
	}
	return 1;
}

static void client_answer(supervisor *s, control_client *c)
{
	char line[CONTROL_MAX_REQUEST];
	size_t n = c->in_len;
	while (n > 0 && (c->in[n - 1] == '\n' || c->in[n - 1] == '\r'))
		n--;
	memcpy(line, c->in, n);
	line[n] = '\0';
	c->out = dispatch(s, line, &c->out_len);
	if (c->out == NULL) {
		log_error("control: out of memory building the answer to \"%s\"", line);
		client_close(c);
		return;
	}
	if (client_flush(c))
		client_close(c);
}

/* Reads until a newline (or EOF after some bytes) ends the request. */
static void client_read(supervisor *s, control_client *c)
{
	for (;;) {
		if (c->in_len == sizeof c->in) {
			log_warning("control: request longer than %d bytes, dropping the client", CONTROL_MAX_REQUEST);
			client_close(c);
			return;
		}
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == 0 && c->in_len > 0)
				client_answer(s, c);
			else
				client_close(c);
			return;
		}
		size_t start = c->in_len;
		c->in_len += (size_t)n;
		char *nl = memchr(c->in + start, '\n', (size_t)n);
		if (nl != NULL) {
			c->in_len = (size_t)(nl - c->in) + 1;
			client_answer(s, c);
			return;
		}
	}
}

/* A free slot, or the one of the client that has waited longest without finishing its
 * request: with every slot held by stalled clients, a new ferryctl still gets in. */
static control_client *slot_for_new_client(control_server *cs)
{
	control_client *oldest = NULL;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		control_client *c = &cs->clients[i];
		if (c->fd < 0)
			return c;
		if (c->out == NULL && (oldest == NULL || c->deadline_ms < oldest->deadline_ms))
			oldest = c;
	}
	if (oldest != NULL) {
		log_warning("control: %d clients connected, dropping the one that has stalled longest",
			    CONTROL_MAX_CLIENTS);
		client_close(oldest);
	}
	return oldest;
}

static void accept_clients(control_server *cs, int64_t now_ms)
{
	for (;;) {
		int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				log_warning("control: accept failed: %s", strerror(errno));
			return;
		}
		control_client *c = slot_for_new_client(cs);
		if (c == NULL) { /* every slot is busy writing an answer: try again later */
			close(fd);
			return;
		}
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->deadline_ms = now_ms + CONTROL_CLIENT_TIMEOUT_MS;
	}
}

int control_poll_fds(const control_server *cs, struct pollfd *fds)
{
	int n = 0;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const control_client *c = &cs->clients[i];
		if (c->fd >= 0)
			fds[n++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
	}
	if (cs->listen_fd >= 0)
		fds[n++] = (struct pollfd){.fd = cs->listen_fd, .events = POLLIN};
	return n;
}

static control_client *client_by_fd(control_server *cs, int fd)
{
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (cs->clients[i].fd == fd)
			return &cs->clients[i];
	}
	return NULL;
}

void control_serve(supervisor *s, const struct pollfd *fds, int nfds, int64_t now_ms)
{
	control_server *cs = &s->control;
	for (int i = 0; i < nfds; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == cs->listen_fd) {
			accept_clients(cs, now_ms);
			continue;
		}
		control_client *c = client_by_fd(cs, fds[i].fd);
		if (c == NULL)
			continue;
		if (c->out == NULL)
			client_read(s, c);
		else if (client_flush(c))
			client_close(c);
	}
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		control_client *c = &cs->clients[i];
		if (c->fd >= 0 && now_ms >= c->deadline_ms) {
			log_warning("control: dropping a client that did not finish within %d ms",
				    CONTROL_CLIENT_TIMEOUT_MS);
			client_close(c);
		}
	}
}

int64_t control_next_deadline(const control_server *cs)
{
	int64_t next = -1;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const control_client *c = &cs->clients[i];
		if (c->fd >= 0 && (next < 0 || c->deadline_ms < next))
			next = c->deadline_ms;
	}
	return next;
}
