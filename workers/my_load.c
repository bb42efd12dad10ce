/* Full load MySQL -> PostgreSQL (see the header). */
#include "workers/my_load.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "common/sqlquote.h"
#include "ipc/record.h"
#include "workers/my_sql.h"
#include "workers/pg_load_internal.h"

#define DEFAULT_CHUNK (64 * 1024)
#define DEFAULT_MAX_PARTITIONS 1024
#define POSITION_TRIES 20
#define ROWS_PER_CLOCK 256

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(*err);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the source transaction ------------------------------------------------------------------- */

uint32_t my_load_file_number(const char *file)
{
	const char *dot = strrchr(file, '.');
	return dot && isdigit((unsigned char)dot[1]) ? (uint32_t)strtoul(dot + 1, NULL, 10) : 0;
}

/* SHOW MASTER STATUS: file and position; 0, or -1 with *err. */
static int master_status(MYSQL *conn, char *file, size_t size, uint64_t *pos, char **err)
{
	MYSQL_RES *res = my_sql_query(conn, "SHOW MASTER STATUS", "source: reading the binlog position", err);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	int rc = 0;
	if (row == NULL || row[0] == NULL || row[1] == NULL)
		rc = fail(err, "source: SHOW MASTER STATUS returned nothing: is the binary log on?");
	else {
		snprintf(file, size, "%s", row[0]);
		*pos = strtoull(row[1], NULL, 10);
	}
	mysql_free_result(res);
	return rc;
}

/* MariaDB: the position of exactly this snapshot. 1 when the server reports it. */
static int snapshot_status(my_load_source *s, uint64_t *pos, char **err)
{
	MYSQL_RES *res = my_sql_query(s->conn, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'",
				      "source: reading the snapshot's binlog position", err);
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	int found = 0;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] && row[1] && strcasecmp(row[0], "Binlog_snapshot_file") == 0) {
			snprintf(s->file, sizeof s->file, "%s", row[1]);
			found |= 1;
		} else if (row[0] && row[1] && strcasecmp(row[0], "Binlog_snapshot_position") == 0) {
			*pos = strtoull(row[1], NULL, 10);
			found |= 2;
		}
	}
	mysql_free_result(res);
	return found == 3 && s->file[0] ? 1 : 0;
}

static const char begin_sql[] = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

/* MySQL: retake the snapshot until the position before and after it agree. */
static int bracketed_position(my_load_source *s, uint64_t *pos, char **err)
{
	for (int i = 0; i < POSITION_TRIES; i++) {
		char before[256], after[256];
		uint64_t p1 = 0, p2 = 0;
		if (master_status(s->conn, before, sizeof before, &p1, err) < 0 ||
		    my_sql_command(s->conn, begin_sql, "source: opening the snapshot", err) < 0 ||
		    master_status(s->conn, after, sizeof after, &p2, err) < 0)
			return -1;
		if (p1 == p2 && strcmp(before, after) == 0) {
			snprintf(s->file, sizeof s->file, "%s", after);
			*pos = p2;
			return 0;
		}
		if (my_sql_command(s->conn, "ROLLBACK", "source: ROLLBACK", err) < 0)
			return -1;
	}
	return fail(err, "source: the binlog moved while each of %d snapshots was taken: the load cannot tell "
		    "which changes its snapshot holds; retrying later", POSITION_TRIES);
}

int my_load_source_begin(my_load_source *s, MYSQL *conn, bool want_position, char **err)
{
	memset(s, 0, sizeof *s);
	s->conn = conn;
	if (my_sql_command(conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
			   "source: setting the isolation level", err) < 0)
		return -1;
	uint64_t pos = 0;
	int rc = 0;
	if (!want_position || mariadb_connection(conn)) {
		rc = my_sql_command(conn, begin_sql, "source: opening the snapshot", err);
		if (rc == 0 && want_position) {
			int found = snapshot_status(s, &pos, err);
			rc = found < 0 ? -1 : found == 0 ? fail(err, "source: the server did not report the snapshot's "
							     "binlog position (is the binary log on?)") : 0;
		}
	} else {
		rc = bracketed_position(s, &pos, err);
	}
	if (rc < 0) {
		mysql_query(conn, "ROLLBACK");
		return -1;
	}
	if (want_position) {
		s->has_position = true;
		s->position = record_mysql_position(my_load_file_number(s->file), (uint32_t)pos);
	}
	return 0;
}

int my_load_source_end(my_load_source *s, char **err)
{
	if (s->conn == NULL)
		return 0;
	int rc = s->aborted ? 0 : my_sql_command(s->conn, "COMMIT", "source: ending the load transaction", err);
	s->conn = NULL;
	return rc;
}

/* ---- a table -------------------------------------------------------------------------------------- */

static bool int_key_class(catalog_type_class cls)
{
	return (cls >= CATALOG_TYPE_INT1 && cls <= CATALOG_TYPE_INT8) ||
	       (cls >= CATALOG_TYPE_UINT1 && cls <= CATALOG_TYPE_UINT8);
}

static int build_lists(my_load_table *t, const my_pg_table *pt)
{
	const catalog_table *src = pt->source;
	strbuf sel = STRBUF_INIT, tgt = STRBUF_INIT;
	t->copied = calloc((size_t)src->n_columns + 1, sizeof *t->copied);
	for (int i = 0; t->copied && i < src->n_columns; i++) {
		const my_pg_column *mc = &pt->cols[i];
		if (mc->target < 0)
			continue;
		if (t->n_copied > 0) {
			strbuf_append(&sel, ", ");
			strbuf_append(&tgt, ", ");
		}
		t->copied[t->n_copied++] = i;
		my_value_select_expr(&sel, src->columns[i].name, mc);
		sql_append_pg_ident(&tgt, pt->target->columns[mc->target].name);
	}
	t->select_list = strbuf_detach(&sel);
	t->lt.target_list = strbuf_detach(&tgt);
	return t->copied && t->select_list && t->lt.target_list ? 0 : -1;
}

static int find_key(my_load_table *t, const my_pg_table *pt)
{
	const catalog_table *src = pt->source;
	if (src->key_kind == CATALOG_KEY_NONE || src->n_key_columns != 1)
		return 0;
	int k = src->key_columns[0];
	if (!int_key_class(src->columns[k].type.cls) || pt->cols[k].target < 0)
		return 0;
	strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	sql_append_mysql_ident(&a, src->columns[k].name);
	sql_append_pg_ident(&b, pt->target->columns[pt->cols[k].target].name);
	t->key_source = strbuf_detach(&a);
	t->lt.key_source = strdup(t->key_source ? t->key_source : "");
	t->lt.key_target = strbuf_detach(&b);
	if (t->key_source == NULL || t->lt.key_source == NULL || t->lt.key_target == NULL)
		return -1;
	t->key_column = k;
	t->lt.key_column = pt->cols[k].target;
	return 0;
}

int my_load_table_init(my_load_table *t, const my_pg_table *pt, const char *filter, bool target_owned, char **err)
{
	memset(t, 0, sizeof *t);
	t->pt = pt;
	t->key_column = -1;
	t->lt.key_column = -1;
	t->lt.source = pt->target;
	t->lt.target_owned = target_owned;
	const catalog_table *src = pt->source;
	strbuf sname = STRBUF_INIT, tname = STRBUF_INIT, from = STRBUF_INIT;
	sql_append_pg_qualified(&sname, src->schema, src->name);
	sql_append_pg_qualified(&tname, pt->target->schema, pt->target->name);
	sql_append_mysql_qualified(&from, src->schema, src->name);
	t->lt.source_name = strbuf_detach(&sname);
	t->lt.target_name = strbuf_detach(&tname);
	t->from = strbuf_detach(&from);
	int rc = t->lt.source_name && t->lt.target_name && t->from ? 0 : -1;
	if (rc == 0)
		rc = build_lists(t, pt);
	if (rc == 0)
		rc = find_key(t, pt);
	if (rc == 0 && filter != NULL && (t->filter = strdup(filter)) == NULL)
		rc = -1;
	t->lt.n_copied = t->n_copied;
	if (rc == 0 && t->n_copied == 0) {
		fail(err, "table %s.%s: no column left to copy", src->schema, src->name);
		my_load_table_free(t);
		return -1;
	}
	if (rc < 0) {
		my_load_table_free(t);
		return fail(err, "table %s.%s: out of memory", src->schema, src->name);
	}
	return 0;
}

void my_load_table_free(my_load_table *t)
{
	pg_load_table_free(&t->lt);
	free(t->select_list);
	free(t->from);
	free(t->filter);
	free(t->key_source);
	free(t->copied);
	memset(t, 0, sizeof *t);
	t->key_column = -1;
}

/* ---- the plan ---------------------------------------------------------------------------------------- */

static int wanted_partitions(const my_load_table *t, const pg_load_plan_options *o)
{
	int64_t rows = t->pt->source->est_rows;
	if (o->partition_rows <= 0 || rows <= o->partition_rows)
		return 1;
	int max = o->max_partitions > 0 ? o->max_partitions : DEFAULT_MAX_PARTITIONS;
	int64_t n = (rows + o->partition_rows - 1) / o->partition_rows;
	return n > max ? max : (int)n;
}

/* Key extremes; *usable false when the table is empty or its keys do not fit int64. */
static int key_extremes(MYSQL *src, const my_load_table *t, bool *usable, int64_t *min, int64_t *max, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "SELECT MIN(%s), MAX(%s) FROM %s", t->key_source, t->key_source, t->from);
	MYSQL_RES *res = strbuf_failed(&sb) ? NULL
					    : my_sql_query(src, strbuf_str(&sb), "source: reading the key range", err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	*usable = false;
	if (row && row[0] && row[1]) {
		char *end;
		errno = 0;
		*min = strtoll(row[0], NULL, 10);
		*max = strtoll(row[1], &end, 10);
		*usable = errno == 0 && *end == '\0'; /* a BIGINT UNSIGNED past 2^63 is not */
	}
	mysql_free_result(res);
	return 0;
}

int my_load_plan_parts(MYSQL *src, const my_load_table *t, int table, const pg_load_plan_options *o,
		       pg_load_partition **out, int *n_out, char **err)
{
	int want = wanted_partitions(t, o), count = 1;
	pg_load_partition *parts = calloc((size_t)want + 1, sizeof *parts);
	int64_t *cuts = calloc((size_t)want + 1, sizeof *cuts);
	*out = NULL;
	*n_out = 0;
	if (parts == NULL || cuts == NULL) {
		free(parts);
		free(cuts);
		return fail(err, "planning %s: out of memory", t->lt.source_name);
	}
	parts[0] = (pg_load_partition){.kind = PG_LOAD_PART_WHOLE, .open_lo = 1, .open_hi = 1};
	bool usable = false;
	int64_t min = 0, max = 0;
	int rc = 0;
	if (want > 1 && t->key_column >= 0)
		rc = key_extremes(src, t, &usable, &min, &max, err);
	int k = rc == 0 && usable ? pg_load_plan_int_cuts(min, max, NULL, 0, want, cuts) : 0;
	for (int i = 0; i <= k && k > 0; i++)
		parts[i] = (pg_load_partition){.kind = PG_LOAD_PART_INT_RANGE, .lo = i > 0 ? cuts[i - 1] : 0,
					       .hi = i < k ? cuts[i] : 0, .open_lo = i == 0, .open_hi = i == k};
	if (k > 0)
		count = k + 1;
	int64_t rows = t->pt->source->est_rows;
	for (int i = 0; i < count; i++) {
		parts[i].table_id = t->pt->source->id;
		parts[i].table = table;
		parts[i].number = i + 1;
		parts[i].count = count;
		parts[i].est_rows = rows >= 0 ? rows / count : -1;
		parts[i].est_bytes = t->pt->source->est_bytes / count;
	}
	free(cuts);
	if (rc < 0) {
		free(parts);
		return -1;
	}
	*out = parts;
	*n_out = count;
	return 0;
}

/* ---- copying one partition ------------------------------------------------------------------------------ */

struct my_load_copy {
	my_load_source *src;
	PGconn *tgt;
	const my_load_table *t;
	pg_load_partition part;
	my_load_copy_options opt;
	char label[300];
	MYSQL_RES *res;        /* the streaming SELECT */
	bool target_txn, target_copying, done;
	strbuf chunk;
	size_t chunk_cap;
	int64_t rows;
	my_invalid invalid;
};

static int pg_fail(my_load_copy *c, char **err, const char *what, const PGresult *res)
{
	char context[400];
	snprintf(context, sizeof context, "%s: target: %s", c->label, what);
	return pg_load_fail_pg(err, context, c->tgt, res);
}

static int tgt_sql(my_load_copy *c, const char *sql, const char *what, char **err)
{
	PGresult *res = PQexec(c->tgt, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(c, err, what, res);
	PQclear(res);
	return rc;
}

static void append_range(strbuf *sb, const pg_load_partition *p, const char *col)
{
	if (p->kind != PG_LOAD_PART_INT_RANGE)
		return;
	if (!p->open_lo)
		strbuf_appendf(sb, "%s >= %" PRId64, col, p->lo);
	if (!p->open_hi)
		strbuf_appendf(sb, "%s%s < %" PRId64, p->open_lo ? "" : " AND ", col, p->hi);
}

/* mine: this partition is recorded; any: some partition of the table is. */
static int read_recorded(my_load_copy *c, bool *mine, bool *any, char **err)
{
	char number[16];
	snprintf(number, sizeof number, "%d", c->part.number);
	const char *params[3] = {c->opt.task, c->t->lt.source_name, number};
	PGresult *res = PQexecParams(c->tgt,
				     "SELECT COALESCE(bool_or(partition = $3::int), false), count(*) FROM "
				     "\"ferry\".\"load_progress\" WHERE task = $1 AND source_table = $2 AND partition > 0",
				     3, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_fail(c, err, "reading the load progress", res);
	} else {
		*mine = PQgetvalue(res, 0, 0)[0] == 't';
		*any = strtoll(PQgetvalue(res, 0, 1), NULL, 10) > 0;
	}
	PQclear(res);
	return rc;
}

/* Empties what the partition will hold; *freeze when COPY FREEZE may run. */
static int prepare_range(my_load_copy *c, bool any, bool *freeze, char **err)
{
	const pg_load_table *lt = &c->t->lt;
	strbuf sb = STRBUF_INIT;
	int rc = 0;
	*freeze = false;
	if (c->part.kind == PG_LOAD_PART_WHOLE && lt->target_owned) {
		strbuf_appendf(&sb, "TRUNCATE %s", lt->target_name);
		rc = tgt_sql(c, strbuf_str(&sb), "emptying the table", err);
		*freeze = rc == 0;
	} else if (c->part.kind == PG_LOAD_PART_WHOLE && any) {
		rc = fail(err, "%s: the table was partly loaded and must be reloaded whole, but target_table_prep = "
			  "nothing forbids emptying it: empty %s on the target and restart the task", c->label,
			  lt->target_name);
	} else if (c->part.kind == PG_LOAD_PART_INT_RANGE && lt->target_owned && any) {
		strbuf_appendf(&sb, "DELETE FROM %s WHERE ", lt->target_name);
		append_range(&sb, &c->part, lt->key_target);
		if (c->part.open_lo && c->part.open_hi)
			strbuf_append(&sb, "true");
		rc = tgt_sql(c, strbuf_str(&sb), "deleting the partition's key range", err);
	}
	strbuf_free(&sb);
	return rc;
}

/* 1 = go on, 0 = recorded already, -1 = error. */
static int open_target(my_load_copy *c, char **err)
{
	if (tgt_sql(c, "BEGIN", "BEGIN", err) < 0)
		return -1;
	c->target_txn = true;
	bool mine = false, any = false, freeze = false;
	if (read_recorded(c, &mine, &any, err) < 0)
		return -1;
	if (mine)
		return 0;
	if (prepare_range(c, any, &freeze, err) < 0)
		return -1;
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "COPY %s (%s) FROM STDIN (FORMAT text%s)", c->t->lt.target_name, c->t->lt.target_list,
		       freeze ? ", FREEZE" : "");
	PGresult *res = PQexec(c->tgt, strbuf_str(&sb));
	strbuf_free(&sb);
	int rc = PQresultStatus(res) == PGRES_COPY_IN ? 1 : pg_fail(c, err, "starting COPY FROM STDIN", res);
	PQclear(res);
	c->target_copying = rc == 1;
	return rc;
}

int my_load_open_rows(my_load_source *src, const my_load_table *t, const pg_load_partition *p, const char *label,
		      MYSQL_RES **res, char **err)
{
	strbuf sb = STRBUF_INIT, where = STRBUF_INIT;
	append_range(&where, p, t->key_source);
	if (t->filter != NULL)
		strbuf_appendf(&where, "%s%s", where.len ? " AND " : "", t->filter);
	strbuf_appendf(&sb, "SELECT %s FROM %s", t->select_list, t->from);
	if (where.len > 0)
		strbuf_appendf(&sb, " WHERE %s", strbuf_str(&where));
	int rc = 0;
	*res = NULL;
	if (strbuf_failed(&sb) || strbuf_failed(&where))
		rc = fail(err, "%s: out of memory", label);
	else if (mysql_real_query(src->conn, sb.data, sb.len) != 0 || (*res = mysql_use_result(src->conn)) == NULL) {
		char context[400];
		snprintf(context, sizeof context, "%s: source: reading rows", label);
		rc = my_sql_fail(err, context, src->conn);
		src->aborted = true;
	}
	src->in_query = *res != NULL;
	strbuf_free(&sb);
	strbuf_free(&where);
	return rc;
}

int my_load_end_rows(my_load_source *src, MYSQL_RES *res, const char *label, char **err)
{
	if (mysql_errno(src->conn) != 0) {
		char context[400];
		snprintf(context, sizeof context, "%s: source: reading rows", label);
		src->aborted = true;
		return my_sql_fail(err, context, src->conn);
	}
	mysql_free_result(res);
	src->in_query = false;
	return 0;
}

void my_load_drop_rows(my_load_source *src, MYSQL_RES *res)
{
	/* freeing a half-read result would read the rest of it: cut the connection instead;
	 * the source transaction is over */
	shutdown(mysql_get_socket(src->conn), SHUT_RDWR);
	mysql_free_result(res);
	src->in_query = false;
	src->aborted = true;
}

static int open_source(my_load_copy *c, char **err)
{
	return my_load_open_rows(c->src, c->t, &c->part, c->label, &c->res, err);
}

pg_load_status my_load_copy_start(my_load_source *src, PGconn *tgt, const my_load_table *t,
				  const pg_load_partition *p, const my_load_copy_options *o, my_load_copy **out,
				  char **err)
{
	*out = NULL;
	if (src->conn == NULL || src->in_query || src->aborted) {
		fail(err, "table %s: the source transaction is not open", t->lt.source_name);
		return PG_LOAD_ERROR;
	}
	my_load_copy *c = calloc(1, sizeof *c);
	if (c == NULL) {
		fail(err, "table %s: out of memory", t->lt.source_name);
		return PG_LOAD_ERROR;
	}
	*c = (my_load_copy){.src = src, .tgt = tgt, .t = t, .part = *p, .opt = *o,
			    .chunk_cap = o->chunk_bytes > 0 ? o->chunk_bytes : DEFAULT_CHUNK};
	c->invalid.policy = o->invalid_values;
	strbuf_init(&c->chunk);
	char where[200];
	snprintf(c->label, sizeof c->label, "table %s %s", t->lt.source_name,
		 pg_load_partition_label(&t->lt, p, where, sizeof where));
	if (p->kind == PG_LOAD_PART_INT_RANGE && t->key_column < 0) {
		fail(err, "%s: the table no longer fits its stored load plan: forget its progress and load it again",
		     c->label);
		my_load_copy_free(c);
		return PG_LOAD_ERROR;
	}
	int rc = open_target(c, err);
	if (rc > 0)
		rc = open_source(c, err) < 0 ? -1 : 1;
	if (rc <= 0) {
		my_load_copy_free(c);
		return rc == 0 ? PG_LOAD_SKIPPED : PG_LOAD_ERROR;
	}
	*out = c;
	return PG_LOAD_MORE;
}

static int put_chunk(my_load_copy *c, char **err)
{
	if (strbuf_failed(&c->chunk))
		return fail(err, "%s: out of memory", c->label);
	if (c->chunk.len > 0 && PQputCopyData(c->tgt, c->chunk.data, (int)c->chunk.len) != 1)
		return pg_fail(c, err, "sending rows", NULL);
	strbuf_reset(&c->chunk);
	return 0;
}

static int take_row(my_load_copy *c, MYSQL_ROW row, const unsigned long *lengths, char **err)
{
	const my_load_table *t = c->t;
	char why[600];
	for (int k = 0; k < t->n_copied; k++) {
		int i = t->copied[k];
		if (k > 0)
			strbuf_append_char(&c->chunk, '\t');
		if (my_value_copy_text(&c->chunk, &t->pt->cols[i], t->pt->source->columns[i].name, row[k], lengths[k],
				       &c->invalid, why, sizeof why) < 0)
			return fail(err, "%s: %s", c->label, why);
	}
	strbuf_append_char(&c->chunk, '\n');
	c->rows++;
	return c->chunk.len >= c->chunk_cap ? put_chunk(c, err) : 0;
}

static int record_partition(my_load_copy *c, char **err)
{
	char num[16], rows[24], pos[24];
	snprintf(num, sizeof num, "%d", c->part.number);
	snprintf(rows, sizeof rows, "%" PRId64, c->rows);
	snprintf(pos, sizeof pos, "%" PRIu64, c->src->position);
	const char *params[5] = {c->opt.task, c->t->lt.source_name, num, rows, c->src->has_position ? pos : NULL};
	PGresult *res = PQexecParams(c->tgt,
				     "INSERT INTO \"ferry\".\"load_progress\" (task, source_table, partition, rows, "
				     "finish_position) VALUES ($1, $2, $3::int, $4::int8, $5::int8)",
				     5, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(c, err, "recording the partition", res);
	PQclear(res);
	if (rc == 0) {
		rc = tgt_sql(c, "COMMIT", "COMMIT", err);
		c->target_txn = false;
	}
	return rc;
}

static int finish(my_load_copy *c, char **err)
{
	if (my_load_end_rows(c->src, c->res, c->label, err) < 0)
		return -1;
	c->res = NULL;
	if (put_chunk(c, err) < 0)
		return -1;
	c->target_copying = false;
	if (PQputCopyEnd(c->tgt, NULL) != 1)
		return pg_fail(c, err, "ending COPY", NULL);
	PGresult *res;
	int rc = 0;
	while ((res = PQgetResult(c->tgt)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_fail(c, err, "COPY", res);
		else if (rc == 0 && strtoll(PQcmdTuples(res), NULL, 10) != c->rows)
			rc = fail(err, "%s: %" PRId64 " rows read, the target took %s", c->label, c->rows, PQcmdTuples(res));
		PQclear(res);
	}
	if (rc == 0)
		rc = record_partition(c, err);
	c->done = rc == 0;
	return rc;
}

pg_load_status my_load_copy_step(my_load_copy *c, int timeout_ms, char **err)
{
	if (c->done)
		return PG_LOAD_DONE;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (int n = 1;; n++) {
		MYSQL_ROW row = mysql_fetch_row(c->res);
		if (row == NULL)
			return finish(c, err) < 0 ? PG_LOAD_ERROR : PG_LOAD_DONE;
		if (take_row(c, row, mysql_fetch_lengths(c->res), err) < 0)
			return PG_LOAD_ERROR;
		if (n % ROWS_PER_CLOCK == 0 && now_ms() >= deadline)
			return PG_LOAD_MORE;
	}
}

int64_t my_load_copy_rows(const my_load_copy *c)
{
	return c->rows;
}

const my_invalid *my_load_copy_invalid(const my_load_copy *c)
{
	return &c->invalid;
}

void my_load_copy_free(my_load_copy *c)
{
	if (c == NULL)
		return;
	if (c->res != NULL)
		my_load_drop_rows(c->src, c->res);
	if (c->target_copying) {
		PQputCopyEnd(c->tgt, "load of the partition abandoned");
		PGresult *res;
		while ((res = PQgetResult(c->tgt)) != NULL)
			PQclear(res);
	}
	if (c->target_txn)
		PQclear(PQexec(c->tgt, "ROLLBACK"));
	strbuf_free(&c->chunk);
	free(c);
}
