/* Full load of PostgreSQL tables: bookkeeping on the target, per-table preparation, the
 * source transaction, the after-load step and progress queries. The streaming of one
 * partition is in pg_load_copy.c, the planning in pg_load_plan.c. */
#include "workers/pg_load.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sqlquote.h"
#include "workers/pg_load_internal.h"

/* Types created by initdb have OIDs below this (PostgreSQL's FirstNormalObjectId). */
#define PG_FIRST_USER_OID 16384u

/* ---- errors and statements ---------------------------------------------------------- */

int pg_load_fail(char **err, const char *fmt, ...)
{
	if (err == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

/* Appends s with line breaks and trailing blanks folded, so a message stays on one line. */
static void append_one_line(strbuf *sb, const char *s)
{
	size_t start = sb->len;
	for (; *s != '\0'; s++)
		strbuf_append_char(sb, *s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s);
	while (sb->len > start && sb->data[sb->len - 1] == ' ')
		sb->data[--sb->len] = '\0';
}

int pg_load_fail_pg(char **err, const char *context, PGconn *conn, const PGresult *res)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "%s: ", context);
	if (primary != NULL) {
		append_one_line(&sb, primary);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		if (detail != NULL || hint != NULL) {
			strbuf_append(&sb, " (");
			if (detail != NULL) {
				strbuf_append(&sb, "detail: ");
				append_one_line(&sb, detail);
			}
			if (hint != NULL) {
				strbuf_append(&sb, detail != NULL ? "; hint: " : "hint: ");
				append_one_line(&sb, hint);
			}
			strbuf_append_char(&sb, ')');
		}
	} else {
		const char *msg = conn != NULL ? PQerrorMessage(conn) : "";
		append_one_line(&sb, *msg != '\0' ? msg : "unexpected result from the server");
	}
	if (err != NULL)
		*err = strbuf_detach(&sb);
	strbuf_free(&sb);
	return -1;
}

PGresult *pg_load_exec(PGconn *conn, const char *sql, int n_params, const char *const *params,
		       ExecStatusType want, const char *context, char **err)
{
	PGresult *res = n_params > 0 ? PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0)
				     : PQexec(conn, sql);
	if (PQresultStatus(res) == want)
		return res;
	pg_load_fail_pg(err, context, conn, res);
	PQclear(res);
	return NULL;
}

int pg_load_command(PGconn *conn, const char *sql, int n_params, const char *const *params,
		    const char *context, char **err)
{
	PGresult *res = pg_load_exec(conn, sql, n_params, params, PGRES_COMMAND_OK, context, err);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int pg_load_sqlstate_is(const PGresult *res, const char *state)
{
	const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s != NULL && strcmp(s, state) == 0;
}

/* ---- bookkeeping ---------------------------------------------------------------------- */

static const char bookkeeping_sql[] =
	"BEGIN;"
	/* serialises concurrent creators: IF NOT EXISTS alone still races on the catalog */
	"SELECT pg_catalog.pg_advisory_xact_lock(7370411853021669377);"
	"CREATE SCHEMA IF NOT EXISTS \"ferry\";"
	"CREATE TABLE IF NOT EXISTS " PG_LOAD_PROGRESS_TABLE " ("
	" \"task\" text, \"source_table\" text, \"partition\" int,"
	" \"rows\" bigint NOT NULL, \"finished_at\" timestamptz NOT NULL DEFAULT now(),"
	" \"finish_position\" bigint,"
	" PRIMARY KEY (\"task\", \"source_table\", \"partition\"));"
	"CREATE TABLE IF NOT EXISTS " PG_LOAD_PLAN_TABLE " ("
	" \"task\" text, \"source_table\" text, \"partition\" int,"
	" \"kind\" text NOT NULL, \"lo\" bigint, \"hi\" bigint, \"est_rows\" bigint,"
	" PRIMARY KEY (\"task\", \"source_table\", \"partition\"));"
	"COMMIT";

int pg_load_bookkeeping_init(PGconn *target, char **err)
{
	for (int attempt = 0;; attempt++) {
		PGresult *res = PQexec(target, bookkeeping_sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			return 0;
		}
		/* another engine created schema ferry at the same moment without our lock */
		bool retry = pg_load_sqlstate_is(res, "23505") && attempt < 3;
		if (!retry)
			pg_load_fail_pg(err, "creating the load bookkeeping tables in schema ferry",
					target, res);
		PQclear(res);
		PQclear(PQexec(target, "ROLLBACK"));
		if (!retry)
			return -1;
	}
}

/* ---- a table ---------------------------------------------------------------------------- */

/* Binary COPY writes no type OIDs for scalars, but arrays and composites carry their
 * element types' OIDs, which differ between databases for user-defined types. Built-in
 * types and (non-array) enums, sent as their label, read back the same anywhere. */
static bool binary_portable(const catalog_column *c)
{
	if (c->type_oid != 0 && c->type_oid < PG_FIRST_USER_OID)
		return true;
	return c->type.cls == CATALOG_TYPE_ENUM;
}

static bool binary_same(const catalog_column *src, const catalog_column *tgt)
{
	if (!binary_portable(src))
		return false;
	if (src->type.cls == CATALOG_TYPE_ENUM)
		return tgt->type.cls == CATALOG_TYPE_ENUM; /* labels: the shape check */
	return tgt->type_oid == src->type_oid;
}

static bool is_int_class(catalog_type_class cls)
{
	return cls == CATALOG_TYPE_INT2 || cls == CATALOG_TYPE_INT4 || cls == CATALOG_TYPE_INT8;
}

static int check_shape(const catalog_table *source, const pg_load_table_options *o,
		       const char *target_name, char **err)
{
	strbuf why = STRBUF_INIT;
	int diffs = catalog_table_shape_diff(source, o->names, o->target, &why);
	if (diffs == 0) {
		strbuf_free(&why);
		return 0;
	}
	while (why.len > 0 && why.data[why.len - 1] == '\n')
		why.data[--why.len] = '\0';
	for (size_t i = 0; i < why.len; i++)
		if (why.data[i] == '\n')
			why.data[i] = ';';
	pg_load_fail(err,
		     "table %s.%s: the target table %s has another shape (%d difference%s: %s); "
		     "target_table_prep = nothing keeps it as it is: change it to match, or use "
		     "drop or truncate",
		     source->schema, source->name, target_name, diffs, diffs == 1 ? "" : "s",
		     strbuf_str(&why));
	strbuf_free(&why);
	return -1;
}

/* Column lists and the format; key_column when the key is one integer column. */
static void build_columns(pg_load_table *lt, const catalog_table *t, const pg_load_table_options *o,
			  strbuf *sel, strbuf *tgt)
{
	lt->binary = true;
	for (int i = 0; i < t->n_columns; i++) {
		const catalog_column *c = &t->columns[i];
		const char *name = catalog_map_column(o->names, t, i);
		if (name == NULL || c->generated_expr != NULL)
			continue; /* excluded, or computed by the target */
		if (lt->n_copied++ > 0) {
			strbuf_append(sel, ", ");
			strbuf_append(tgt, ", ");
		}
		sql_append_pg_ident(sel, c->name);
		sql_append_pg_ident(tgt, name);
		if (o->target != NULL) {
			int j = catalog_find_column(o->target, name);
			lt->binary = lt->binary && j >= 0 && binary_same(c, &o->target->columns[j]);
		} else {
			lt->binary = lt->binary && binary_portable(c);
		}
	}
}

static int find_int_key(pg_load_table *lt, const catalog_table *t, const catalog_name_map *names)
{
	lt->key_column = -1;
	if (t->key_kind == CATALOG_KEY_NONE || t->n_key_columns != 1)
		return 0;
	int k = t->key_columns[0];
	const char *target = catalog_map_column(names, t, k);
	if (!is_int_class(t->columns[k].type.cls) || target == NULL)
		return 0;
	strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	sql_append_pg_ident(&a, t->columns[k].name);
	sql_append_pg_ident(&b, target);
	lt->key_source = strbuf_detach(&a);
	lt->key_target = strbuf_detach(&b);
	if (lt->key_source == NULL || lt->key_target == NULL)
		return -1;
	lt->key_column = k;
	return 0;
}

int pg_load_table_init(pg_load_table *lt, const catalog_table *source,
		       const pg_load_table_options *o, char **err)
{
	memset(lt, 0, sizeof *lt);
	lt->source = source;
	lt->key_column = -1;
	if (source->engine != ENGINE_POSTGRESQL)
		return pg_load_fail(err, "table %s.%s: not a PostgreSQL table", source->schema,
				    source->name);
	const char *tschema, *tname;
	catalog_map_table(o->names, source, &tschema, &tname);
	strbuf sname = STRBUF_INIT, tn = STRBUF_INIT, sel = STRBUF_INIT, tgt = STRBUF_INIT;
	sql_append_pg_qualified(&sname, source->schema, source->name);
	sql_append_pg_qualified(&tn, tschema, tname);
	int rc = 0;
	if (o->target != NULL)
		rc = check_shape(source, o, strbuf_str(&tn), err);
	if (rc == 0)
		build_columns(lt, source, o, &sel, &tgt);
	lt->source_name = strbuf_detach(&sname);
	lt->target_name = strbuf_detach(&tn);
	lt->select_list = strbuf_detach(&sel);
	lt->target_list = strbuf_detach(&tgt);
	lt->partitioned = source->kind == CATALOG_TABLE_PARTITIONED;
	lt->target_owned = o->target_owned;
	if (rc == 0 && lt->n_copied == 0)
		rc = pg_load_fail(err, "table %s.%s: no column left to copy", source->schema,
				  source->name);
	if (rc == 0 && o->filter != NULL && (lt->filter = strdup(o->filter)) == NULL)
		rc = -1;
	if (rc == 0 && find_int_key(lt, source, o->names) < 0)
		rc = -1;
	if (rc == 0 && (lt->source_name == NULL || lt->target_name == NULL ||
			lt->select_list == NULL || lt->target_list == NULL))
		rc = -1;
	if (rc < 0 && err != NULL && *err == NULL)
		pg_load_fail(err, "table %s.%s: out of memory", source->schema, source->name);
	if (rc < 0)
		pg_load_table_free(lt);
	return rc;
}

void pg_load_table_free(pg_load_table *lt)
{
	free(lt->source_name);
	free(lt->target_name);
	free(lt->select_list);
	free(lt->target_list);
	free(lt->filter);
	free(lt->key_source);
	free(lt->key_target);
	memset(lt, 0, sizeof *lt);
	lt->key_column = -1;
}

const char *pg_load_partition_label(const pg_load_table *lt, const pg_load_partition *p,
				    char *buf, size_t size)
{
	const char *key = lt->key_source != NULL ? lt->key_source : "key";
	char lo[40] = "", hi[40] = "";
	if (!p->open_lo)
		snprintf(lo, sizeof lo, " >= %" PRId64, p->lo);
	if (!p->open_hi)
		snprintf(hi, sizeof hi, "%s< %" PRId64, p->open_lo ? " " : " and ", p->hi);
	switch ((pg_load_part_kind)p->kind) {
	case PG_LOAD_PART_INT_RANGE:
		snprintf(buf, size, "partition %d/%d (%s%s%s)", p->number, p->count, key, lo, hi);
		break;
	case PG_LOAD_PART_CTID_RANGE:
		snprintf(buf, size, "partition %d/%d (pages%s%s)", p->number, p->count, lo, hi);
		break;
	default:
		snprintf(buf, size, "partition %d/%d (whole table)", p->number, p->count);
	}
	return buf;
}

/* ---- the source transaction ------------------------------------------------------------- */

static const char source_session_sql[] =
	"SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';"
	"SET extra_float_digits = 3; SET bytea_output = 'hex';"
	"SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;"
	"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

int pg_load_source_begin(pg_load_source *s, PGconn *conn, const char *snapshot, char **err)
{
	memset(s, 0, sizeof *s);
	s->conn = conn;
	s->server_version = PQserverVersion(conn);
	s->exported = snapshot != NULL && *snapshot != '\0';
	if (pg_load_command(conn, source_session_sql, 0, NULL, "source: opening the load transaction",
			    err) < 0)
		return -1;
	int rc = 0;
	if (s->exported) {
		strbuf sb = STRBUF_INIT;
		strbuf_append(&sb, "SET TRANSACTION SNAPSHOT ");
		sql_append_pg_literal(&sb, snapshot);
		rc = strbuf_failed(&sb) ? pg_load_fail(err, "source: out of memory")
					: pg_load_command(conn, strbuf_str(&sb), 0, NULL,
							  "source: importing the exported snapshot", err);
		strbuf_free(&sb);
	} else {
		/* the first query takes the snapshot; the position is read after it */
		PGresult *res = pg_load_exec(
			conn, "SELECT (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_catalog.pg_lsn)::int8",
			0, NULL, PGRES_TUPLES_OK, "source: reading the WAL position of the snapshot", err);
		if (res == NULL)
			rc = -1;
		else
			s->snapshot_lsn = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	if (rc < 0)
		PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}

int pg_load_source_end(pg_load_source *s, char **err)
{
	if (s->conn == NULL)
		return 0;
	int rc = pg_load_command(s->conn, "COMMIT", 0, NULL, "source: ending the load transaction",
				 err);
	s->conn = NULL;
	return rc;
}

/* ---- after the last partition --------------------------------------------------------------- */

/* 1 when partition 0 (the after-load step) is recorded, 0 when not, -1 on error. */
static int finish_recorded(PGconn *target, const char *task, const pg_load_table *lt,
			   char **err)
{
	const char *params[2] = {task, lt->source_name};
	PGresult *res = pg_load_exec(target,
				     "SELECT 1 FROM " PG_LOAD_PROGRESS_TABLE
				     " WHERE task = $1 AND source_table = $2 AND partition = 0",
				     2, params, PGRES_TUPLES_OK, "target: reading the load progress", err);
	if (res == NULL)
		return -1;
	int found = PQntuples(res) > 0;
	PQclear(res);
	return found;
}

static int run_after_load(PGconn *target, const pg_load_table *lt,
			  const pg_load_finish_options *o, char **err)
{
	char context[600];
	if (o->maintenance_work_mem != NULL) {
		const char *params[1] = {o->maintenance_work_mem};
		PGresult *res = pg_load_exec(
			target, "SELECT pg_catalog.set_config('maintenance_work_mem', $1, true)", 1,
			params, PGRES_TUPLES_OK, "target: setting maintenance_work_mem", err);
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	for (int i = 0; o->after_load != NULL && i < o->after_load->n_statements; i++) {
		snprintf(context, sizeof context, "target: after the load of %s: %.400s",
			 lt->target_name, o->after_load->statements[i]);
		if (pg_load_command(target, o->after_load->statements[i], 0, NULL, context, err) < 0)
			return -1;
	}
	if (!o->analyze)
		return 0;
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "ANALYZE %s", lt->target_name);
	snprintf(context, sizeof context, "target: analyzing %s", lt->target_name);
	int rc = strbuf_failed(&sb) ? pg_load_fail(err, "out of memory")
				    : pg_load_command(target, strbuf_str(&sb), 0, NULL, context, err);
	strbuf_free(&sb);
	return rc;
}

pg_load_status pg_load_finish_table(PGconn *target, const pg_load_table *lt,
				    const pg_load_finish_options *o, char **err)
{
	if (pg_load_command(target, "BEGIN", 0, NULL, "target: BEGIN", err) < 0)
		return PG_LOAD_ERROR;
	int found = finish_recorded(target, o->task, lt, err);
	if (found != 0) {
		PQclear(PQexec(target, "ROLLBACK"));
		return found > 0 ? PG_LOAD_SKIPPED : PG_LOAD_ERROR;
	}
	const char *params[2] = {o->task, lt->source_name};
	if (run_after_load(target, lt, o, err) < 0 ||
	    pg_load_command(target,
			    "INSERT INTO " PG_LOAD_PROGRESS_TABLE
			    " (task, source_table, partition, rows) VALUES ($1, $2, 0, 0)",
			    2, params, "target: recording the end of the table's load", err) < 0 ||
	    pg_load_command(target, "COMMIT", 0, NULL, "target: COMMIT", err) < 0) {
		PQclear(PQexec(target, "ROLLBACK"));
		return PG_LOAD_ERROR;
	}
	return PG_LOAD_DONE;
}

/* ---- progress --------------------------------------------------------------------------------- */

int pg_load_progress_read(PGconn *target, const char *task, const pg_load_table *lt,
			  pg_load_table_progress *out, char **err)
{
	memset(out, 0, sizeof *out);
	const char *params[2] = {task, lt->source_name};
	PGresult *res = pg_load_exec(
		target,
		"SELECT count(*) FILTER (WHERE partition > 0),"
		" COALESCE(sum(rows) FILTER (WHERE partition > 0), 0),"
		" COALESCE(bool_or(partition = 0), false), max(finish_position)"
		" FROM " PG_LOAD_PROGRESS_TABLE " WHERE task = $1 AND source_table = $2",
		2, params, PGRES_TUPLES_OK, "target: reading the load progress", err);
	if (res == NULL)
		return -1;
	out->partitions_done = atoi(PQgetvalue(res, 0, 0));
	out->rows = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	out->finished = PQgetvalue(res, 0, 2)[0] == 't';
	out->has_position = !PQgetisnull(res, 0, 3);
	if (out->has_position)
		out->max_position = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	PQclear(res);
	return 0;
}

int pg_load_progress_forget(PGconn *target, const char *task, const pg_load_table *lt,
			    char **err)
{
	const char *params[2] = {task, lt->source_name};
	if (pg_load_command(target,
			    "DELETE FROM " PG_LOAD_PROGRESS_TABLE
			    " WHERE task = $1 AND source_table = $2",
			    2, params, "target: forgetting the load progress", err) < 0)
		return -1;
	return pg_load_command(target,
			       "DELETE FROM " PG_LOAD_PLAN_TABLE " WHERE task = $1 AND source_table = $2",
			       2, params, "target: forgetting the load plan", err);
}
