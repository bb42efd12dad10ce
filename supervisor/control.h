/* The control socket data_dir/ferryd.sock (mode 0600) that ferryctl talks to. Line
 * protocol: the client sends one command ("status", "stop", "stop fast", "reload"), the
 * server answers one JSON document and closes. Clients are served from the main loop
 * without blocking; one that does not finish its request in time is dropped. */
#ifndef FERRY_CONTROL_H
#define FERRY_CONTROL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

typedef struct supervisor supervisor;

#define CONTROL_SOCKET_NAME "ferryd.sock"
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_MAX_REQUEST 256
#define CONTROL_CLIENT_TIMEOUT_MS 5000

typedef struct control_client {
	int fd; /* -1: free */
	char in[CONTROL_MAX_REQUEST];
	size_t in_len;
	char *out; /* the answer being written (malloc'd), NULL while reading */
	size_t out_len, out_off;
	int64_t deadline_ms; /* dropped if not done by then */
} control_client;

typedef struct control_server {
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_client clients[CONTROL_MAX_CLIENTS];
} control_server;

/* Creates data_dir/ferryd.sock, removing a stale one (refusing when a live server
 * answers on it). 0, or -1 with a message in err. */
int control_open(control_server *cs, const char *data_dir, char *err, size_t errlen);
/* Closes every descriptor and removes the socket file. */
void control_close(control_server *cs);
/* In a forked worker: closes the descriptors, leaves the socket file alone. */
void control_close_in_child(control_server *cs);

/* Adds the listening socket and the clients to fds (room for 1 + CONTROL_MAX_CLIENTS);
 * returns how many were added. */
int control_poll_fds(const control_server *cs, struct pollfd *fds);
/* Serves what poll() reported for those fds and drops clients past their deadline. */
void control_serve(supervisor *s, const struct pollfd *fds, int nfds, int64_t now_ms);
/* Earliest client deadline, or -1. */
int64_t control_next_deadline(const control_server *cs);

#endif
