/* A client of ferryd's control socket (control.h's line protocol): one command, one JSON
 * answer. For the ferryctl commands that talk to ferryd on the side of their own work
 * (validate, cutover). */
#ifndef FERRY_CONTROL_CLIENT_H
#define FERRY_CONTROL_CLIENT_H

#include <stddef.h>

/* data_dir/ferryd.sock into buf. 0, or -1 when it does not fit. */
int control_client_path(const char *data_dir, char *buf, size_t size);

/* Sends command and returns ferryd's answer (malloc'd), or NULL with err set: ferryd not
 * running (errno ENOENT/ECONNREFUSED: *not_running set), no answer within timeout_ms. */
char *control_client_request(const char *socket_path, const char *command, int timeout_ms, int *not_running,
			     char *err, size_t errlen);

#endif
