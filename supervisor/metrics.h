/* The metrics endpoint on metrics_listen (HOST:PORT; empty = off): Prometheus text at
 * GET /metrics, the status document of `ferryctl status --json` at GET /status.
 *
 * Served from the supervisor's main loop like the control socket: every descriptor is
 * non-blocking, at most METRICS_MAX_CLIENTS connections are served at once, each must
 * send its request within METRICS_CLIENT_TIMEOUT_MS, and answers are written as the
 * socket takes them. One request per connection, then "Connection: close". A slow or
 * stuck client costs a slot, never the supervisor's time.
 *
 * Reload: a changed metrics_listen opens the new address first and closes the old
 * listener only once that worked (a failure keeps the old one and says why). */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

typedef struct supervisor supervisor;

#define METRICS_MAX_LISTENERS 4 /* a host name may resolve to several addresses */
#define METRICS_MAX_CLIENTS 8
#define METRICS_MAX_REQUEST 8192
#define METRICS_CLIENT_TIMEOUT_MS 10000
#define METRICS_LINGER_MS 1000 /* after the answer: time to let the client close first */
#define METRICS_POLL_FDS (METRICS_MAX_LISTENERS + METRICS_MAX_CLIENTS)

typedef enum metrics_client_state {
	METRICS_CLIENT_FREE = 0,
	METRICS_CLIENT_READING,  /* the request head */
	METRICS_CLIENT_WRITING,  /* the answer */
	METRICS_CLIENT_LINGERING /* answer sent, write side shut: drain until the client closes */
} metrics_client_state;

typedef struct metrics_client {
	int fd;
	metrics_client_state state;
	char in[METRICS_MAX_REQUEST];
	size_t in_len;
	char *out; /* malloc'd answer */
	size_t out_len, out_off;
	int64_t deadline_ms;
} metrics_client;

typedef struct metrics_server {
	char *address; /* the metrics_listen value being served (malloc'd); NULL = off */
	int listen_fds[METRICS_MAX_LISTENERS];
	int n_listen;
	metrics_client clients[METRICS_MAX_CLIENTS];
} metrics_server;

/* Marks every descriptor closed; nothing is opened. */
void metrics_init(metrics_server *ms);
/* Listens on address (NULL or "" = off: 0). 0, or -1 with err saying what failed and
 * what to do (an address in use is named). */
int metrics_open(metrics_server *ms, const char *address, char *err, size_t errlen);
/* A reload: moves to address when it differs from the one served. -1 with err when the
 * new address cannot be opened; the old listener then stays. */
int metrics_reconfigure(metrics_server *ms, const char *address, char *err, size_t errlen);
void metrics_close(metrics_server *ms);
/* In a forked worker: closes the descriptors only. */
void metrics_close_in_child(metrics_server *ms);

/* Adds the clients and listeners to fds (room for METRICS_POLL_FDS); returns how many. */
int metrics_poll_fds(const metrics_server *ms, struct pollfd *fds);
/* Serves what poll() reported for those fds and drops clients past their deadline. */
void metrics_serve(supervisor *s, const struct pollfd *fds, int nfds, int64_t now_ms);
/* Earliest client deadline, or -1. */
int64_t metrics_next_deadline(const metrics_server *ms);

#endif
