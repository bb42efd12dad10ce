/* Connect, report READY, stay connected until stopped: the loop every worker kind runs
 * until its migration code exists. */
#include "workers/idle.h"

#include <stdio.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/endpoint.h"

/* How often idle connections get a round trip. A server that closes a connection is
 * noticed at once (its socket turns readable); this catches what does not show there. */
#define IDLE_CHECK_INTERVAL_MS 5000

typedef struct idle_conns {
	endpoint_conn *conn[2];
	int count;
} idle_conns;

static const struct {
	unsigned bit;
	endpoint_role role;
} uses_table[] = {{WORKER_USES_SOURCE, ENDPOINT_SOURCE}, {WORKER_USES_TARGET, ENDPOINT_TARGET}};

/* Logged once here, at the failure; the supervisor shows it in status and the task error. */
static void fail(worker_context *ctx, const char *message)
{
	log_error("%s", message);
	status_set_error(ctx->status, "%s", message);
}

static int exit_code_for(endpoint_result r)
{
	return r == ENDPOINT_FATAL ? FERRY_EXIT_FATAL : FERRY_EXIT_TRANSIENT;
}

/* Returns -1 when every endpoint is connected, else the exit code. */
static int connect_endpoints(worker_context *ctx, unsigned uses, idle_conns *conns)
{
	char display[160], app_name[200];
	worker_display_name(ctx->kind, ctx->task->name, ctx->index, display, sizeof display);
	snprintf(app_name, sizeof app_name, "ferry %s", display);
	for (size_t i = 0; i < sizeof uses_table / sizeof uses_table[0]; i++) {
		if (!(uses & uses_table[i].bit))
			continue;
		endpoint_role role = uses_table[i].role;
		const endpoint_config *ep = role == ENDPOINT_SOURCE ? ctx->task->source_ep : ctx->task->target_ep;
		char message[ENDPOINT_MESSAGE_MAX];
		if (ep == NULL) {
			snprintf(message, sizeof message, "task %s has no %s endpoint", ctx->task->name,
				 endpoint_role_name(role));
			fail(ctx, message);
			return FERRY_EXIT_FATAL;
		}
		log_debug("connecting to %s %s", endpoint_role_name(role), ep->name);
		endpoint_result r = endpoint_connect(ep, role, app_name, &conns->conn[conns->count], message,
						     sizeof message);
		if (r != ENDPOINT_OK) {
			fail(ctx, message);
			return exit_code_for(r);
		}
		conns->count++;
	}
	return -1;
}

/* "ready: connected to source pgsrc (PostgreSQL 15.4 at 127.0.0.1:5433, TLS), target ..." */
static void log_ready(const idle_conns *conns)
{
	char line[1024];
	size_t n = (size_t)snprintf(line, sizeof line, "ready: connected to ");
	for (int i = 0; i < conns->count && n < sizeof line; i++) {
		const endpoint_conn *c = conns->conn[i];
		n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %s (%s at %s%s)", i ? ", " : "",
				      endpoint_role_name(c->role), c->name, c->server, c->address, c->tls ? ", TLS" : "");
	}
	log_info("%s", line);
}

/* Returns 0 when every connection answered, else the exit code (after logging). */
static int check_connections(worker_context *ctx, idle_conns *conns)
{
	for (int i = 0; i < conns->count; i++) {
		char message[ENDPOINT_MESSAGE_MAX];
		endpoint_result r = endpoint_check(conns->conn[i], message, sizeof message);
		if (r != ENDPOINT_OK) {
			fail(ctx, message);
			return exit_code_for(r);
		}
	}
	return 0;
}

/* Waits for a stop request, the supervisor's death or a lost server. Returns the exit code. */
static int wait_connected(worker_context *ctx, idle_conns *conns)
{
	uint64_t next_check = worker_now_ms() + IDLE_CHECK_INTERVAL_MS;
	for (;;) {
		struct pollfd fds[2];
		for (int i = 0; i < conns->count; i++)
			fds[i] = (struct pollfd){.fd = endpoint_socket(conns->conn[i]), .events = POLLIN};
		uint64_t now = worker_now_ms();
		int64_t left = now >= next_check ? 0 : (int64_t)(next_check - now);
		worker_wake wake = worker_wait(ctx, fds, conns->count, left);

		if (wake == WORKER_WAKE_PARENT_GONE)
			return FERRY_EXIT_TRANSIENT;
		if (worker_stop_requested || worker_fast_requested) {
			log_info("%s stop requested", worker_fast_requested ? "fast" : "graceful");
			return FERRY_EXIT_DONE;
		}
		if (worker_reload_requested)
			worker_process_reload(ctx);
		if (wake == WORKER_WAKE_FD || worker_now_ms() >= next_check) {
			int code = check_connections(ctx, conns);
			if (code != 0)
				return code;
			next_check = worker_now_ms() + IDLE_CHECK_INTERVAL_MS;
		}
	}
}

int worker_idle_main(worker_context *ctx, unsigned uses)
{
	idle_conns conns = {.count = 0};
	status_set_state(ctx->status, WORKER_STATE_CONNECTING);
	int code = connect_endpoints(ctx, uses, &conns);
	if (code < 0) {
		status_set_state(ctx->status, WORKER_STATE_READY);
		log_ready(&conns);
		code = wait_connected(ctx, &conns);
	}
	if (code == FERRY_EXIT_DONE)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	for (int i = 0; i < conns.count; i++)
		endpoint_close(conns.conn[i]);
	if (code == FERRY_EXIT_DONE)
		log_info("stopped");
	return code;
}
