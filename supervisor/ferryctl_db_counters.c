/* ferryctl cutover with MySQL on a side: the target's counters past the migrated maximum
 * (see ferryctl_db_int.h). A MySQL target's next AUTO_INCREMENT, or a PostgreSQL
 * target's identity sequence behind a MySQL AUTO_INCREMENT column, becomes one more
 * than the larger of the target column's maximum and the source's last value, so the
 * applications' next insert on the target never collides with a migrated row. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "supervisor/ferryctl_db_int.h"
#include "workers/my_sql.h"
#include "workers/pg_catalog.h"

void fc_counter_free(fc_counter *c)
{
	free(c->name);
	free(c->column);
	free(c->set_to);
	free(c->error);
	memset(c, 0, sizeof *c);
}

static fc_counter *add(fc_counter **list, int *n)
{
	fc_counter *g = realloc(*list, ((size_t)*n + 1) * sizeof *g);
	if (g == NULL)
		return NULL;
	*list = g;
	memset(&g[*n], 0, sizeof g[*n]);
	return &g[(*n)++];
}

static void fail(fc_counter *c, const char *what, const char *detail)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s: %.*s", what, (int)strcspn(detail ? detail : "?", "\n"), detail ? detail : "?");
	free(c->error);
	c->error = strdup(buf);
}

/* ---- the source's last value ------------------------------------------------------------ */

/* The source's last value of the column whose target name is target_col: a PostgreSQL
 * sequence owned by it, or a MySQL table's AUTO_INCREMENT - 1. 0 when it has none. */
static int64_t source_last(vd_pg_pool *pool, const vd_pg_task *vt, int i, const char *target_col)
{
	const catalog_table *ct = vt->cat[i];
	endpoint_conn *src = pool->ep[VD_SOURCE][0];
	if (src->engine == ENGINE_MYSQL) {
		for (int c = 0; c < ct->n_columns; c++) {
			const char *mapped = catalog_map_column(&vt->tt.map, ct, c);
			if (ct->columns[c].auto_increment && mapped && strcmp(mapped, target_col) == 0)
				return ct->auto_increment_next > 0 ? ct->auto_increment_next - 1 : 0;
		}
		return 0;
	}
	for (int s = 0; s < ct->n_sequences; s++) {
		const catalog_sequence *seq = &ct->sequences[s];
		const char *mapped = seq->column >= 0 ? catalog_map_column(&vt->tt.map, ct, seq->column) : NULL;
		int64_t last = 0;
		bool called = false;
		char *err = NULL;
		if (mapped && strcmp(mapped, target_col) == 0 &&
		    pg_catalog_sequence_state(src->pg, seq, &last, &called, &err) == 0)
			return called ? last : last - 1;
		free(err);
	}
	return 0;
}

/* ---- a MySQL target ---------------------------------------------------------------------- */

/* The first column of the first row (NULL: none, or SQL NULL); -1 when the query failed. */
static int my_value(MYSQL *conn, const char *sql, char **out)
{
	*out = NULL;
	MYSQL_RES *res = mysql_query(conn, sql) == 0 ? mysql_store_result(conn) : NULL;
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	if (row && row[0])
		*out = strdup(row[0]);
	mysql_free_result(res);
	return 0;
}

static int my_target(vd_pg_pool *pool, const vd_pg_task *vt, int i, fc_counter **list, int *n)
{
	MYSQL *dst = pool->ep[VD_TARGET][0]->mysql;
	const vd_table *t = &vt->tables[i];
	strbuf sql = STRBUF_INIT;
	strbuf_append(&sql, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ");
	my_sql_append_literal(&sql, dst, t->schema[VD_TARGET]);
	strbuf_append(&sql, " AND TABLE_NAME = ");
	my_sql_append_literal(&sql, dst, t->name[VD_TARGET]);
	strbuf_append(&sql, " AND EXTRA LIKE '%auto_increment%'");
	char *col = NULL, *max = NULL;
	int rc = strbuf_failed(&sql) ? -2 : my_value(dst, strbuf_str(&sql), &col);
	if (rc == 0 && col == NULL) { /* no AUTO_INCREMENT column: nothing to set */
		strbuf_free(&sql);
		return 0;
	}
	fc_counter *c = rc == -2 ? NULL : add(list, n);
	if (c == NULL) {
		strbuf_free(&sql);
		free(col);
		return -1;
	}
	char label[512];
	snprintf(label, sizeof label, "%s AUTO_INCREMENT", t->target_label);
	c->name = strdup(label);
	snprintf(label, sizeof label, "%s.%s", t->label, col ? col : "?");
	c->column = strdup(label);
	if (rc < 0) {
		fail(c, "reading the target's AUTO_INCREMENT column", mysql_error(dst));
		strbuf_free(&sql);
		return 0;
	}
	c->source_last = source_last(pool, vt, i, col);
	strbuf_reset(&sql);
	strbuf_append(&sql, "SELECT MAX(");
	sql_append_mysql_ident(&sql, col);
	strbuf_append(&sql, ")");
	strbuf_append(&sql, " FROM ");
	sql_append_mysql_qualified(&sql, t->schema[VD_TARGET], t->name[VD_TARGET]);
	if (my_value(dst, strbuf_str(&sql), &max) < 0) {
		fail(c, "reading the target's maximum", mysql_error(dst));
	} else {
		int64_t top = max ? strtoll(max, NULL, 10) : 0, next = (top > c->source_last ? top : c->source_last) + 1;
		strbuf_reset(&sql);
		strbuf_append(&sql, "ALTER TABLE ");
		sql_append_mysql_qualified(&sql, t->schema[VD_TARGET], t->name[VD_TARGET]);
		strbuf_appendf(&sql, " AUTO_INCREMENT = %" PRId64, next);
		if (mysql_query(dst, strbuf_str(&sql)) != 0)
			fail(c, "setting AUTO_INCREMENT", mysql_error(dst));
		else {
			char buf[32];
			snprintf(buf, sizeof buf, "%" PRId64, next);
			c->set_to = strdup(buf);
		}
	}
	free(max);
	free(col);
	strbuf_free(&sql);
	return 0;
}

/* ---- a PostgreSQL target fed from MySQL ------------------------------------------------- */

static int pg_target(vd_pg_pool *pool, const vd_pg_task *vt, int i, int col, fc_counter **list, int *n)
{
	PGconn *dst = pool->ep[VD_TARGET][0]->pg;
	const vd_table *t = &vt->tables[i];
	const char *target_col = catalog_map_column(&vt->tt.map, vt->cat[i], col);
	const char *params[2] = {t->target_label, target_col};
	PGresult *res = PQexecParams(dst, "SELECT pg_catalog.pg_get_serial_sequence($1, $2)", 2, NULL, params, NULL,
				     NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	char *seq = ok && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	if (ok && seq == NULL)
		return 0; /* no identity on the target (create_tables = no?): nothing to set */
	fc_counter *c = add(list, n);
	if (c == NULL) {
		free(seq);
		return -1;
	}
	char label[512];
	snprintf(label, sizeof label, "%s.%s", t->label, vt->cat[i]->columns[col].name);
	c->column = strdup(label);
	c->name = seq;
	if (!ok) {
		fail(c, "finding the target's identity sequence", PQerrorMessage(dst));
		return 0;
	}
	c->source_last = source_last(pool, vt, i, target_col);
	/* setval(seq, v, true): the next value is v + 1; an empty table restarts at 1 */
	strbuf sql = STRBUF_INIT;
	strbuf_appendf(&sql, "SELECT pg_catalog.setval($1, GREATEST(m, 1), m >= 1)::text FROM (SELECT GREATEST("
			     "COALESCE(pg_catalog.max(");
	sql_append_pg_ident(&sql, target_col);
	strbuf_append(&sql, ")::bigint, 0), $2::bigint) AS m FROM ");
	sql_append_pg_qualified(&sql, t->schema[VD_TARGET], t->name[VD_TARGET]);
	strbuf_append(&sql, ") s");
	char last[32];
	snprintf(last, sizeof last, "%" PRId64, c->source_last);
	const char *p2[2] = {seq, last};
	res = PQexecParams(dst, strbuf_str(&sql), 2, NULL, p2, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		c->set_to = strdup(PQgetvalue(res, 0, 0));
	else
		fail(c, "setting the sequence", PQerrorMessage(dst));
	PQclear(res);
	strbuf_free(&sql);
	return 0;
}

int fc_counters_mysql(vd_pg_pool *pool, const vd_pg_task *vt, fc_counter **list, int *n)
{
	bool my_target_side = pool->ep[VD_TARGET][0]->engine == ENGINE_MYSQL;
	for (int i = 0; i < vt->n; i++) {
		if (my_target_side) {
			if (my_target(pool, vt, i, list, n) < 0)
				return -1;
			continue;
		}
		const catalog_table *ct = vt->cat[i];
		for (int c = 0; c < ct->n_columns; c++)
			if (ct->columns[c].auto_increment && catalog_map_column(&vt->tt.map, ct, c) &&
			    pg_target(pool, vt, i, c, list, n) < 0)
				return -1;
	}
	return 0;
}
