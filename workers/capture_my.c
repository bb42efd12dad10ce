/* capture for a MySQL/MariaDB source (a PostgreSQL or MySQL/MariaDB target, reached
 * through workers/target.h): reads the binary log as a replica and routes change
 * records to the apply workers (capture_route.h).
 *
 * Order of work (the design's "Consistency between full load and CDC"):
 *  1. connect to the source, read its catalog with the task's rules; every table that
 *     cannot be migrated as it is (names too long, unmapped types, ...) fails the task
 *     with all the reasons; then the target, and a MySQL target's own check (names,
 *     local_infile) before anything is created;
 *  2. preflight (workers/my_preflight.h): each problem says what to change;
 *  3. the stream position: ferry.source_position on the target (target_ops.position_read,
 *     on either engine) holds where the stream
 *     resumes (the role of PostgreSQL's slot), with a MariaDB source's GTID state there.
 *     None: a fresh task, P0 = the binlog's current position, stored (with the state
 *     there) before anything is loaded; every load worker's snapshot is taken after it,
 *     so streaming from P0 misses nothing. Whether the stream resumes by GTID or by
 *     file:position is capture_my_gtid.h's decision, logged once with the reason;
 *  4. first start in this ferryd: target DDL, owners, partitions (capture_plan.c with
 *     this engine's hooks), then publish the plan; there is no shared snapshot (each
 *     load worker takes its own, with its exact position);
 *  5. stream: a dump connection registered with the task's server_id, heartbeats every
 *     second (a blocked read returns at least that often, so a stop is seen within a
 *     second), events turned into records by workers/my_stream.h. Once a second the
 *     position nothing before which is needed any more (the lowest every apply worker
 *     with outstanding work has committed, else the last transaction boundary) is
 *     written to ferry.source_position with the GTID state exactly there (the stream's
 *     GTID log): after a restart of capture, of ferryd or of the source, the stream
 *     resumes there (after that state) and apply skips what it had committed. The
 *     state at the task's applied position is published for status.
 * A lost source is a transient exit (the supervisor restarts capture with its apply
 * workers); a purged start position, a stored position that is not the connected
 * server's and cannot be moved onto it (move_to_server), a refused value or a changed
 * table is fatal with the reason. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mysql.h>
#include <mariadb_rpl.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "ipc/record.h"
#include "workers/capture_int.h"
#include "workers/capture_my_gtid.h"
#include "workers/capture_route.h"
#include "workers/idle.h"
#include "workers/my_load.h"
#include "workers/my_preflight.h"
#include "workers/my_sql.h"
#include "workers/my_stream.h"
#include "workers/my_task.h"
#include "workers/pg_load_internal.h"

#define STATUS_INTERVAL_MS 1000
#define FLUSH_INTERVAL_MS 10
#define HEARTBEAT_NS "1000000000"
#define READ_TIMEOUT_S 10
#define SIGNAL_CHECK_MS 100
#define NOTHING_SELECTED (-2)

typedef struct my_capture {
	worker_context *ctx;
	task_shm *shm;
	taskstate *ts;
	endpoint_conn *source, *target, *dump;
	const target_ops *ops;
	my_task_tables tables;
	bool have_tables;
	my_source_info info;
	capture_router router;
	MARIADB_RPL *rpl;
	my_stream *stream;
	bool fresh;              /* no stored position: the task starts from zero */
	char start_file[256];    /* where this run's stream starts */
	uint64_t start;          /* record_mysql_position of it */
	uint64_t persisted;      /* the position last written to ferry.source_position */
	char stored_gtid[MY_GTID_TEXT_MAX]; /* the GTID state stored with the position ("" none) */
	capgtid gtid;            /* GTID states (a MariaDB source) */
} my_capture;

static int fail_source(my_capture *mc, const char *what, char *err)
{
	int code = pg_task_fail(mc->ctx, my_sql_lost(mc->source->mysql) ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL,
				"%s: %s", what, err ? err : "failed");
	free(err);
	return code;
}

static int fail_target(my_capture *mc, const char *what, char *err)
{
	int code = pg_task_fail(mc->ctx, mc->ops->transient(mc->target) ? FERRY_EXIT_TRANSIENT : FERRY_EXIT_FATAL,
				"%s: %s", what, err ? err : "failed");
	free(err);
	return code;
}

/* One line of a multi-line text per log line. */
static void log_lines(log_level level, const char *prefix, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n > 0) {
			if (level == LOG_LEVEL_WARNING)
				log_warning("%s%.*s", prefix, (int)n, p);
			else
				log_error("%s%.*s", prefix, (int)n, p);
		}
		p += n + (p[n] == '\n');
	}
}

/* ---- setup ---------------------------------------------------------------------------------------- */

static int read_tables(my_capture *mc)
{
	char *err = NULL;
	strbuf problems = STRBUF_INIT;
	pg_ddl_script notes = {0};
	int r = my_task_tables_read(mc->source->mysql, mc->ctx->task, &mc->tables, &problems, &notes, &err);
	for (int i = 0; i < notes.n_notes; i++)
		log_warning("%s", notes.notes[i]);
	pg_ddl_script_free(&notes);
	if (r < 0) {
		strbuf_free(&problems);
		return fail_source(mc, "reading the source catalog", err);
	}
	mc->have_tables = true;
	if (r == 1) {
		log_lines(LOG_LEVEL_ERROR, "", strbuf_str(&problems));
		int n = 0;
		for (const char *p = strbuf_str(&problems); *p; p++)
			n += *p == '\n';
		char *first = strndup(strbuf_str(&problems), strcspn(strbuf_str(&problems), "\n"));
		int code = pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "%d table problem%s (all in the log); the first: %s", n,
					n == 1 ? "" : "s", first ? first : "?");
		free(first);
		strbuf_free(&problems);
		return code;
	}
	strbuf_free(&problems);
	return 0;
}

static int selected_count(const my_capture *mc)
{
	int n = 0;
	for (int i = 0; i < mc->tables.base.cat->n_tables; i++)
		n += pg_task_table_selected(&mc->tables.base, i);
	return n;
}

static int connect_all(my_capture *mc)
{
	status_set_state(mc->ctx->status, WORKER_STATE_CONNECTING);
	int rc = pg_task_connect(mc->ctx, ENDPOINT_SOURCE, &mc->source);
	if (rc != 0)
		return rc;
	char *err = NULL;
	if (my_task_session(mc->source->mysql, &err) < 0)
		return fail_source(mc, "source session", err);
	if ((rc = read_tables(mc)) != 0)
		return rc;
	if (selected_count(mc) == 0) {
		log_warning("task %s selects no table of the source (check include and exclude, and that the user may "
			    "read them): nothing to migrate", mc->ctx->task->name);
		return NOTHING_SELECTED;
	}
	int rc2 = pg_task_connect(mc->ctx, ENDPOINT_TARGET, &mc->target);
	if (rc2 != 0 || !my_task_mysql_target(mc->ctx->task))
		return rc2; /* PostgreSQL's limits were checked with its shapes (my_pgmap.h) */
	if (mc->ops->check(mc->target, &mc->tables.base, mc->ctx->task, &err) < 0)
		return fail_target(mc, "target check", err);
	return 0;
}

static int preflight(my_capture *mc)
{
	strbuf problems = STRBUF_INIT, warnings = STRBUF_INIT;
	endpoint_result r = my_preflight(mc->source->mysql, mc->ctx->task, &mc->tables, &mc->info, &problems, &warnings);
	log_lines(LOG_LEVEL_WARNING, "", strbuf_str(&warnings));
	int rc = 0;
	if (r != ENDPOINT_OK) {
		log_lines(LOG_LEVEL_ERROR, "", strbuf_str(&problems));
		char *first = strndup(strbuf_str(&problems), strcspn(strbuf_str(&problems), "\n"));
		rc = pg_task_fail(mc->ctx, pg_task_exit_code(r), "source %s is not ready: %s%s", mc->source->name,
				  first ? first : "?", strchr(strbuf_str(&problems), '\n') &&
				  strchr(strbuf_str(&problems), '\n')[1] ? " (and more in the log)" : "");
		free(first);
	} else {
		log_info("source %s: %s ready for %s", mc->source->name, mc->info.version,
			 mc->ctx->task->migration_type == MIGRATION_FULL_LOAD ? "a full load" : "reading its binary log");
	}
	strbuf_free(&problems);
	strbuf_free(&warnings);
	return rc;
}

/* ---- the stored position --------------------------------------------------------------------------- */

static int read_position(my_capture *mc)
{
	char *err = NULL;
	bool found = false;
	if (mc->ops->position_read(mc->target, mc->ctx->task->name, mc->start_file, sizeof mc->start_file, &mc->start,
				   mc->stored_gtid, sizeof mc->stored_gtid, &found, &err) < 0)
		return fail_target(mc, "stream position", err);
	mc->fresh = !found;
	return 0;
}

/* gtid: the source's GTID state at position (NULL or "": unknown). */
static int store_position(my_capture *mc, const char *file, uint64_t position, const char *gtid, bool insert)
{
	char *err = NULL;
	if (mc->ops->position_store(mc->target, mc->ctx->task->name, file, position, gtid, insert, &err) < 0)
		return fail_target(mc, "stream position", err);
	mc->persisted = position;
	snprintf(mc->stored_gtid, sizeof mc->stored_gtid, "%s", gtid ? gtid : "");
	return 0;
}

/* How this run resumes (GTID or file:position): said once, with the reason. */
static int plan_gtid(my_capture *mc)
{
	char *err = NULL;
	if (capgtid_plan(&mc->gtid, mc->source->mysql, mc->info.mariadb, mc->fresh, mc->start_file,
			 record_mysql_offset(mc->start), mc->stored_gtid, &err) < 0)
		return fail_source(mc, "GTID state", err);
	return 0;
}

/* The stored position belongs to another server (moved here, or it is a replica after a
 * failover): when nothing past the stored position was applied and every table is
 * loaded, the stored GTID state says exactly what the target has, so the task's
 * positions start over on this server after it (the target's progress rows reset before
 * any apply worker reads them: only at a start of ferryd, before the plan). */
static int move_to_server(my_capture *mc, char *fact)
{
	static const char way_out[] = "Either point the endpoint back at the server the task read, or start the task "
				      "over (delete its row in the target's ferry.source_position and restart ferryd; its "
				      "tables load again)";
	log_warning("%s", fact); /* the detail: the messages below stay short enough for status */
	free(fact);
	const char *name = mc->source->name;
	uint32_t offset = record_mysql_offset(mc->start);
	if (atomic_load_explicit(&mc->ts->plan_ready, memory_order_acquire))
		return pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "source %s: the stored position %s:%" PRIu32 " is not a position "
				    "of this server: the source changed while ferryd ran (a failover?). Restart ferryd to "
				    "move the task onto it by its GTID state. %s", name, mc->start_file, offset, way_out);
	uint64_t ahead = 0;
	int64_t unloaded = 0;
	char *err = NULL, ahead_file[256];
	int r = mc->ops->position_rebase(mc->target, mc->ctx->task->name, mc->start, mc->stored_gtid, &ahead, &unloaded,
					 &err);
	if (r < 0)
		return fail_target(mc, "moving the task onto another source server", err);
	my_stream_file_name(mc->start_file, record_mysql_file_no(ahead), ahead_file, sizeof ahead_file);
	if (r == 0 && ahead > 0)
		return pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "source %s: the stored position %s:%" PRIu32 " is not a "
				    "position of this server (another server than the one the task read?), and the task cannot "
				    "move onto it: an apply worker committed %s:%" PRIu32 ", past it, so the GTID state stored "
				    "with it does not tell what the target has after it. %s", name, mc->start_file, offset,
				    ahead_file, record_mysql_offset(ahead), way_out);
	if (r == 0)
		return pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "source %s: the stored position %s:%" PRIu32 " is not a "
				    "position of this server (another server than the one the task read?), and the task cannot "
				    "move onto it: %" PRId64 " table%s still loading (load positions are the other server's). "
				    "%s", name, mc->start_file, offset, unloaded, unloaded == 1 ? " was" : "s were", way_out);
	log_warning("source %s is another server than the one the task read (a switchover?): every transaction up to "
		    "GTID state \"%s\" is on the target and none after it, so the task moves onto this server: apply "
		    "progress and load positions start over, the stream after that GTID state", name, mc->stored_gtid);
	mc->start = 0;
	mc->start_file[0] = '\0';
	return 0;
}

/* A GTID start: the state's transactions must still be on the source (the server's own
 * answer, error 1236, names no file and no way out), and the stored position must be
 * this server's, or the task moves onto this one. A moved task's position is ("", 0)
 * until its first store: its GTID state is all there is to check. */
static int require_start_gtid(my_capture *mc)
{
	char *why = NULL, *err = NULL;
	MYSQL *conn = mc->source->mysql;
	uint32_t offset = record_mysql_offset(mc->start);
	int r = capgtid_available(&mc->gtid, conn, mc->source->name, mc->start_file, offset, &why, &err);
	if (r == 1 && mc->start != 0) {
		r = capgtid_same_server(&mc->gtid, conn, mc->source->name, mc->start_file, offset, &why, &err);
		if (r == 0)
			return move_to_server(mc, why);
	}
	if (r < 0)
		return fail_source(mc, "binlog position", err);
	if (r == 1)
		return 0;
	int rc = pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "%s", why);
	free(why);
	return rc;
}

/* A fresh task: the binlog's current position is P0. */
static int take_start_position(my_capture *mc)
{
	char *err = NULL;
	MYSQL_RES *res = my_sql_query(mc->source->mysql, "SHOW MASTER STATUS", "source: reading the binlog position", &err);
	if (res == NULL)
		return fail_source(mc, "stream position", err);
	MYSQL_ROW row = mysql_fetch_row(res);
	int rc = 0;
	if (row == NULL || row[0] == NULL || row[1] == NULL) {
		rc = pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "source %s: SHOW MASTER STATUS returned nothing: turn the binary "
				  "log on (log_bin)", mc->source->name);
	} else {
		snprintf(mc->start_file, sizeof mc->start_file, "%s", row[0]);
		mc->start = record_mysql_position(my_load_file_number(row[0]), (uint32_t)strtoul(row[1], NULL, 10));
	}
	mysql_free_result(res);
	if (rc == 0)
		rc = plan_gtid(mc);
	char gtid[MY_GTID_TEXT_MAX];
	if (rc == 0)
		rc = store_position(mc, mc->start_file, mc->start, capgtid_start_text(&mc->gtid, gtid, sizeof gtid), true);
	if (rc == 0)
		log_info("new task: the change stream starts at binlog %s:%" PRIu32, mc->start_file,
			 record_mysql_offset(mc->start));
	return rc;
}

/* ---- planning ------------------------------------------------------------------------------------------ */

static int plan_open(void *arg, int i, void **handle, const pg_load_table **lt, const catalog_table **ddl, char **err)
{
	my_capture *mc = arg;
	my_load_table *t = calloc(1, sizeof *t);
	if (t == NULL || my_load_table_init(t, &mc->tables.pg[i], mc->tables.base.resolved[i].filter,
					    mc->ctx->task->target_table_prep != TABLE_PREP_NOTHING, err) < 0) {
		if (t == NULL)
			*err = strdup("out of memory");
		free(t);
		return -1;
	}
	*handle = t;
	*lt = &t->lt;
	*ddl = mc->tables.pg[i].target;
	return 0;
}

static int plan_table(void *arg, void *handle, int k, pg_load_plan *plan, char **err)
{
	my_capture *mc = arg;
	const my_load_table *t = handle;
	pg_load_plan_options po = {.task = mc->ctx->task->name, .partition_rows = mc->ctx->task->partition_rows};
	pg_load_partition *parts = NULL;
	int n = 0;
	int rc = my_load_plan_parts(mc->source->mysql, t, k, &po, &parts, &n, err);
	if (rc == 0)
		rc = mc->ops->plan_store(mc->target, &t->lt, k, &po, parts, n, plan, err);
	free(parts);
	return rc;
}

static void plan_close(void *arg, void *handle)
{
	(void)arg;
	my_load_table_free(handle);
	free(handle);
}

static int publish_plan(my_capture *mc)
{
	capture_plan_engine engine = {.open = plan_open, .plan = plan_table, .close = plan_close, .arg = mc};
	capture_plan_input in = {.ctx = mc->ctx, .ts = mc->ts, .tables = &mc->tables.base, .ops = mc->ops,
				 .target_ep = mc->target, .fresh_slot = mc->fresh, .engine = &engine};
	int rc = capture_plan_task(&in);
	if (rc != 0)
		return rc;
	atomic_store(&mc->ts->snapshot_state, SNAPSHOT_NONE);
	atomic_store(&mc->ts->start_position, mc->start);
	atomic_store(&mc->ts->phase, mc->ctx->task->migration_type == MIGRATION_CDC ? TASKSTATE_CDC : TASKSTATE_FULL_LOAD);
	atomic_store_explicit(&mc->ts->plan_ready, 1, memory_order_release);
	log_info("plan published");
	return 0;
}

/* ---- the stream ---------------------------------------------------------------------------------------- */

static int open_dump(my_capture *mc, bool *checksum)
{
	int rc = pg_task_connect(mc->ctx, ENDPOINT_SOURCE, &mc->dump);
	if (rc != 0)
		return rc;
	MYSQL *d = mc->dump->mysql;
	char v[64], *err = NULL;
	if (my_sql_value(d, "SELECT @@global.binlog_checksum", v, sizeof v, "source: reading binlog_checksum", &err) < 0)
		return fail_source(mc, "binlog stream", err);
	*checksum = strcasecmp(v, "NONE") != 0;
	/* without the checksum variables the server refuses a checksummed stream; without the
	 * capability MariaDB sends no GTID events; the heartbeat bounds every blocked read */
	const char *setup = mariadb_connection(d)
				    ? "SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4,"
				      " @master_heartbeat_period = " HEARTBEAT_NS
				    : "SET @master_binlog_checksum = @@global.binlog_checksum,"
				      " @source_binlog_checksum = @@global.binlog_checksum, @master_heartbeat_period = " HEARTBEAT_NS;
	if (my_sql_command(d, setup, "source: preparing the binlog stream", &err) < 0)
		return fail_source(mc, "binlog stream", err);
	struct timeval tv = {.tv_sec = READ_TIMEOUT_S};
	setsockopt(mysql_get_socket(d), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv); /* a dead peer */
	return 0;
}

/* A purged start file is said plainly, with what to do: the server's own answer (error
 * 1236, "could not find first log file name") names neither. */
static int require_start_file(my_capture *mc)
{
	char oldest[256], *err = NULL;
	int listed = my_preflight_binlog_listed(mc->dump->mysql, mc->start_file, oldest, sizeof oldest, &err);
	if (listed < 0)
		return fail_source(mc, "binlog stream", err);
	if (listed)
		return 0;
	return pg_task_fail(mc->ctx, FERRY_EXIT_FATAL,
			    "source %s: binlog file %s, where the task's stream resumes, is no longer on the source "
			    "(purged; the oldest it has is %s): the changes since cannot be read. Start the task over: "
			    "delete its row in the target's ferry.source_position and restart ferryd (its tables load "
			    "again), and keep binary logs longer (binlog_expire_logs_seconds)",
			    mc->source->name, mc->start_file, *oldest ? oldest : "none");
}

/* The dump's start: after the stored GTID state (the server picks the file; a file
 * name would override the state), or the stored file:position. */
static void set_start(my_capture *mc, uint32_t offset)
{
	if (mc->gtid.resume) {
		mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
		mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_START, (unsigned long)4);
	} else {
		mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_FILENAME, mc->start_file, strlen(mc->start_file));
		mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_START, (unsigned long)(offset < 4 ? 4 : offset));
	}
}

static void log_start(my_capture *mc, uint32_t offset)
{
	if (mc->gtid.resume && mc->start == 0)
		log_info("reading the binlog from GTID %s (a task moved onto this server: positions start over) as replica "
			 "server_id %" PRId64, mc->stored_gtid, mc->ctx->task->server_id);
	else if (mc->gtid.resume)
		log_info("reading the binlog from GTID %s (%s:%" PRIu32 ") as replica server_id %" PRId64, mc->stored_gtid,
			 mc->start_file, offset, mc->ctx->task->server_id);
	else
		log_info("reading the binlog from %s:%" PRIu32 " as replica server_id %" PRId64, mc->start_file, offset,
			 mc->ctx->task->server_id);
}

static int start_stream(my_capture *mc)
{
	bool checksum = true;
	int rc = open_dump(mc, &checksum);
	if (rc != 0)
		return rc;
	if (!mc->gtid.resume && (rc = require_start_file(mc)) != 0)
		return rc;
	char err[512], *cerr = NULL;
	if (capgtid_connect(&mc->gtid, mc->dump->mysql, &cerr) < 0)
		return fail_source(mc, "binlog stream", cerr);
	my_stream_options so = {.tables = &mc->tables, .ts = mc->ts, .emit = capture_router_emit, .emit_arg = &mc->router,
				.invalid_values = mc->ctx->task->invalid_values, .checksum = checksum,
				.file = mc->start_file, .gtids = mc->gtid.known ? &mc->gtid.log : NULL};
	if ((mc->stream = my_stream_new(&so, err, sizeof err)) == NULL)
		return pg_task_fail(mc->ctx, FERRY_EXIT_TRANSIENT, "%s", err);
	mc->rpl = mariadb_rpl_init(mc->dump->mysql);
	if (mc->rpl == NULL)
		return pg_task_fail(mc->ctx, FERRY_EXIT_TRANSIENT, "out of memory");
	uint32_t offset = record_mysql_offset(mc->start);
	mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_SERVER_ID, (uint32_t)mc->ctx->task->server_id);
	set_start(mc, offset);
	mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_FLAGS, 0);
	mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_VERIFY_CHECKSUM, 1);
	mariadb_rpl_optionsv(mc->rpl, MARIADB_RPL_UNCOMPRESS, 1);
	if (mariadb_rpl_open(mc->rpl) != 0) {
		unsigned e = mysql_errno(mc->dump->mysql);
		return pg_task_fail(mc->ctx, e == 1236 ? FERRY_EXIT_FATAL : FERRY_EXIT_TRANSIENT,
				    "source %s: the binlog cannot be read from %s%s%s%s:%" PRIu32 ": %s (error %u)%s",
				    mc->source->name, mc->gtid.resume ? "GTID " : "", mc->gtid.resume ? mc->stored_gtid : "",
				    mc->gtid.resume ? " at " : "", mc->start_file, offset, mysql_error(mc->dump->mysql), e,
				    e == 1236 ? ": the position the task needs is gone (purged?); start the task over "
						"(delete its row in ferry.source_position and reload)" : "");
	}
	log_start(mc, offset);
	return 0;
}

/* Where a restart must begin: nothing before it is still needed. */
static uint64_t safe_position(my_capture *mc, int64_t *oldest_us)
{
	uint64_t safe = my_stream_boundary(mc->stream);
	if (safe == 0)
		safe = mc->start;
	uint64_t applied = capture_router_applied(&mc->router, oldest_us);
	if (applied != UINT64_MAX) {
		uint64_t need = applied > 0 ? applied - 1 : mc->start; /* see my_stream.h "Positions" */
		if (need < safe)
			safe = need;
	}
	/* Nothing before the run's start is needed: it was safe when stored (or is P0), and
	 * commits only move on. Without this floor the position would move back when a
	 * worker idle since an old commit gets work, or to file:4 when a GTID start's
	 * artificial ROTATE names the file before the first event: a state stored with such
	 * a position would be after it. */
	return safe < mc->start ? mc->start : safe;
}

static int status_tick(my_capture *mc)
{
	int64_t oldest_us;
	uint64_t safe = safe_position(mc, &oldest_us), received = my_stream_received(mc->stream);
	/* the state that belongs to safe, stored with it (also when only the state is new:
	 * the first store after a task stored by an older ferry) */
	char gtid[MY_GTID_TEXT_MAX];
	const char *at_safe = capgtid_at(&mc->gtid, safe, gtid, sizeof gtid);
	if (safe != mc->persisted || strcmp(at_safe ? at_safe : "", mc->stored_gtid) != 0) {
		char file[256];
		my_stream_file_name(my_stream_file(mc->stream), record_mysql_file_no(safe), file, sizeof file);
		int rc = store_position(mc, file, safe, at_safe, false);
		if (rc != 0)
			return rc;
	}
	atomic_store(&mc->ts->received_lsn, received);
	atomic_store(&mc->ts->flushed_lsn, safe);
	/* everything received is applied when no worker has work outstanding */
	uint64_t applied = capture_router_applied(&mc->router, &oldest_us) == UINT64_MAX && received > safe ? received
													 : safe;
	const char *at_applied = mc->gtid.tracked ? capgtid_at(&mc->gtid, applied, gtid, sizeof gtid) : NULL;
	taskstate_gtid_set(mc->ts, at_applied ? at_applied : "");
	atomic_store(&mc->ts->applied_lsn, applied);
	uint64_t lag = 0;
	if (received > safe)
		lag = record_mysql_file_no(received) == record_mysql_file_no(safe)
			      ? record_mysql_offset(received) - record_mysql_offset(safe) : record_mysql_offset(received);
	atomic_store(&mc->ts->lag_bytes, lag);
	atomic_store(&mc->ts->lag_seconds, oldest_us > 0 ? (capture_wall_us() - oldest_us) / 1000000 : 0);
	capture_update_phase(mc->ctx, mc->ts);
	return 0;
}

/* The library parses compressed events' bodies (and decompresses them). */
static const my_stream_override *override_of(const MARIADB_RPL_EVENT *ev, my_stream_override *ov)
{
	if (ev->event_type == QUERY_COMPRESSED_EVENT) {
		*ov = (my_stream_override){.sql = ev->event.query.statement.str, .sql_len = ev->event.query.statement.length,
					   .db = ev->event.query.database.str, .db_len = ev->event.query.database.length};
		return ov;
	}
	if (ev->event_type >= WRITE_ROWS_COMPRESSED_EVENT_V1 && ev->event_type <= DELETE_ROWS_COMPRESSED_EVENT) {
		*ov = (my_stream_override){.present = ev->event.rows.column_bitmap,
					   .present_after = ev->event.rows.column_update_bitmap,
					   .data = ev->event.rows.row_data, .data_len = ev->event.rows.row_data_size,
					   .ncols = (int)ev->event.rows.column_count, .table_id = ev->event.rows.table_id};
		return ov;
	}
	return NULL;
}

static int lost_stream(my_capture *mc)
{
	if (worker_stop_requested || worker_fast_requested)
		return PG_TASK_FINISHED;
	unsigned e = mysql_errno(mc->dump->mysql);
	const char *why = e ? mysql_error(mc->dump->mysql) : mariadb_rpl_error(mc->rpl);
	if (e == 0)
		e = mariadb_rpl_errno(mc->rpl);
	/* a GTID start is refused in the stream, before any event: name the state */
	if (e == 1236 && mc->gtid.resume && my_stream_received(mc->stream) == 0)
		return pg_task_fail(mc->ctx, FERRY_EXIT_FATAL,
				    "source %s: the binlog cannot be read after GTID state \"%s\" (stored with binlog %s:%" PRIu32
				    "), where the task's stream resumes: %s (error 1236). If the source purged those "
				    "transactions or is another server without them, start the task over: delete its row in "
				    "the target's ferry.source_position and restart ferryd (its tables load again)",
				    mc->source->name, mc->stored_gtid, mc->start_file, record_mysql_offset(mc->start),
				    why && *why ? why : "no reason given");
	return pg_task_fail(mc->ctx, e == 1236 ? FERRY_EXIT_FATAL : FERRY_EXIT_TRANSIENT,
			    "source %s: the binlog stream ended at %s: %s (error %u)", mc->source->name,
			    my_stream_file(mc->stream), why && *why ? why : "no reason given", e);
}

static int stream_loop(my_capture *mc)
{
	uint64_t next_status = 0, last_flush = worker_now_ms(), last_check = last_flush;
	for (;;) {
		MARIADB_RPL_EVENT *ev = mariadb_rpl_fetch(mc->rpl, NULL);
		if (ev == NULL)
			return lost_stream(mc);
		my_stream_override ov;
		int rc = my_stream_feed(mc->stream, ev->raw_data + ev->raw_data_ofs, ev->raw_data_size - ev->raw_data_ofs,
					override_of(ev, &ov));
		bool idle = ev->event_type == HEARTBEAT_LOG_EVENT;
		mariadb_free_rpl_event(ev);
		if (rc < 0)
			return mc->router.exit_code >= 0 ? mc->router.exit_code
							 : pg_task_fail(mc->ctx, FERRY_EXIT_FATAL, "%s", my_stream_error(mc->stream));
		uint64_t now = worker_now_ms();
		if ((idle || now - last_flush >= FLUSH_INTERVAL_MS) && (rc = capture_router_flush(&mc->router)) != 0)
			return rc;
		if (idle || now - last_flush >= FLUSH_INTERVAL_MS)
			last_flush = now;
		if (now >= next_status) {
			if ((rc = status_tick(mc)) != 0)
				return rc;
			next_status = now + STATUS_INTERVAL_MS;
		}
		if (!idle && now - last_check < SIGNAL_CHECK_MS)
			continue;
		last_check = now;
		if (capture_stop_now(mc->ctx)) {
			capture_router_flush(&mc->router);
			status_tick(mc);
			return PG_TASK_FINISHED;
		}
	}
}

static int run(my_capture *mc)
{
	int rc = connect_all(mc);
	if (rc == 0)
		rc = preflight(mc);
	bool cdc = mc->ctx->task->migration_type != MIGRATION_FULL_LOAD;
	if (rc == 0 && cdc)
		rc = read_position(mc);
	else if (rc == 0)
		mc->fresh = true; /* a full load starts every table from zero, like PostgreSQL's */
	if (rc == 0 && cdc && !mc->fresh)
		rc = plan_gtid(mc); /* a fresh task's is planned with its start position */
	if (rc == 0 && cdc && mc->gtid.resume)
		rc = require_start_gtid(mc); /* before the plan: it may move the task's positions */
	if (rc == 0 && cdc && mc->fresh)
		rc = take_start_position(mc);
	if (rc == 0 && !atomic_load_explicit(&mc->ts->plan_ready, memory_order_acquire))
		rc = publish_plan(mc);
	if (rc != 0)
		return rc;
	status_set_state(mc->ctx->status, WORKER_STATE_RUNNING);
	if (!cdc)
		return capture_wait_load(mc->ctx, mc->ts);
	atomic_store(&mc->ctx->status->active, 1);
	if ((rc = capture_router_open(&mc->router, mc->ctx, mc->shm)) != 0 || (rc = start_stream(mc)) != 0)
		return rc;
	mc->persisted = mc->start;
	return stream_loop(mc);
}

static void cleanup(my_capture *mc)
{
	capture_router_close(&mc->router);
	if (mc->rpl) {
		mariadb_rpl_close(mc->rpl);
		/* closing the replication handle does not close its connection */
	}
	my_stream_free(mc->stream);
	capgtid_free(&mc->gtid);
	if (mc->have_tables)
		my_task_tables_free(&mc->tables);
	if (mc->dump)
		endpoint_close(mc->dump);
	if (mc->target)
		endpoint_close(mc->target);
	if (mc->source)
		endpoint_close(mc->source);
}

int capture_my_main(worker_context *ctx)
{
	my_capture *mc = calloc(1, sizeof *mc);
	if (mc == NULL)
		return FERRY_EXIT_TRANSIENT;
	mc->ctx = ctx;
	mc->ops = target_ops_for(ctx->task);
	mc->router.exit_code = -1;
	mc->shm = taskstate_for_task(pg_task_index(ctx));
	if (mc->shm == NULL) {
		free(mc);
		return pg_task_fail(ctx, FERRY_EXIT_FATAL, "no shared task state");
	}
	mc->ts = mc->shm->state;
	int rc = run(mc);
	if (rc == NOTHING_SELECTED) {
		cleanup(mc);
		free(mc);
		return worker_idle_main(ctx, WORKER_USES_SOURCE);
	}
	if (rc == PG_TASK_FINISHED)
		status_set_state(ctx->status, WORKER_STATE_STOPPING);
	cleanup(mc);
	if (rc == PG_TASK_FINISHED)
		atomic_store(&ctx->status->active, 0);
	free(mc);
	log_info(rc == PG_TASK_FINISHED ? "stopped" : "exiting");
	return rc == PG_TASK_FINISHED ? FERRY_EXIT_DONE : rc;
}
