/* A PostgreSQL target in the pre-migration assessment: what the task's start will do
 * there (workers/capture_plan.c, pg_ddl.c, pg_load.c, pg_apply.c) checked beforehand,
 * read-only:
 *   - target privileges: CREATE on the database (schema ferry and the target schemas
 *     are made with CREATE SCHEMA IF NOT EXISTS, which PostgreSQL checks even when the
 *     schema exists), CREATE on existing target schemas tables will be created in;
 *   - bookkeeping: an existing schema ferry and its tables are usable;
 *   - target tables: per selected table, the verdict of the start's own target check
 *     (pg_target_check_table: missing and not created, or kept with another shape),
 *     then what the user needs: ownership of tables to drop, the privileges loading and
 *     applying need on kept tables; kept tables that already hold rows under nothing;
 *   - column types: user-defined types (other than enums, which are created) of tables
 *     to be created must exist on the target; columns holding object ids are flagged. */
#include <stdlib.h>
#include <string.h>

#include "workers/assess_pg.h"
#include "workers/pg_catalog.h"
#include "workers/pg_target_check.h"

#define PG_FIRST_USER_OID 16384u
#define LIST_MAX 10

typedef struct target_ctx {
	assess_task *at;
	PGconn *conn;
	char *user;
	bool full;     /* the task loads tables */
	bool cdc;      /* the task applies changes */
	catalog *tcat; /* the target's tables that have a selected table's target name */
	char **keys;   /* sorted "schema\037name" of every target name, for the catalog filter */
	int n_keys;
	bool *create;  /* [i]: cat->tables[i] will be created by the task */
} target_ctx;

/* ---- helpers -------------------------------------------------------------------------- */

static const char *one_line(PGconn *conn)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

static PGresult *query(target_ctx *tc, const char *check, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(tc->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	assess_add(tc->at->report, ASSESS_NOT_RUN, check, "query failed: %s", one_line(tc->conn));
	PQclear(res);
	return NULL;
}

static bool t_at(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static void quoted(const char *schema, const char *name, char *buf, size_t size)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_qualified(&sb, schema, name);
	snprintf(buf, size, "%s", strbuf_failed(&sb) ? "?" : strbuf_str(&sb));
	strbuf_free(&sb);
}

static char *name_key(const char *schema, const char *name)
{
	char *key = NULL;
	return asprintf(&key, "%s\037%s", schema, name) < 0 ? NULL : key;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool keep_target(void *arg, const char *schema, const char *name)
{
	target_ctx *tc = arg;
	char *key = name_key(schema, name);
	bool found = key && bsearch(&key, tc->keys, (size_t)tc->n_keys, sizeof *tc->keys, cmp_keys) != NULL;
	free(key);
	return found;
}

/* Two text[] parameters: the target schemas and names of the selected tables, in
 * catalog order; idx[k] is the catalog index of element k. */
static int target_arrays(target_ctx *tc, char **schemas, char **names, int *idx)
{
	const assess_task *at = tc->at;
	strbuf s = STRBUF_INIT, n = STRBUF_INIT;
	int k = 0;
	strbuf_append_char(&s, '{');
	strbuf_append_char(&n, '{');
	for (int i = 0; i < at->cat->n_tables; i++) {
		if (!at->selected[i])
			continue;
		const char *ts, *tn;
		catalog_map_table(at->map, at->cat->tables[i], &ts, &tn);
		if (k > 0) {
			strbuf_append_char(&s, ',');
			strbuf_append_char(&n, ',');
		}
		sql_append_pg_array_element(&s, ts);
		sql_append_pg_array_element(&n, tn);
		idx[k++] = i;
	}
	strbuf_append_char(&s, '}');
	strbuf_append_char(&n, '}');
	*schemas = strbuf_detach(&s);
	*names = strbuf_detach(&n);
	return *schemas && *names ? k : -1;
}

/* ---- database and bookkeeping ---------------------------------------------------------- */

static const char database_sql[] =
	"SELECT current_user, pg_catalog.current_database(),"
	" pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'),"
	" n.oid IS NOT NULL, coalesce(pg_catalog.has_schema_privilege(n.oid, 'USAGE, CREATE'), false),"
	" pg_catalog.to_regclass('\"ferry\".\"apply_progress\"') IS NOT NULL,"
	" (SELECT pg_catalog.string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_catalog.pg_class c"
	"   WHERE c.relnamespace = n.oid AND c.relkind = 'r'"
	"     AND c.relname IN ('load_progress', 'load_plan', 'apply_progress')"
	"     AND NOT pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE'))"
	" FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = 'ferry'";

static void check_database(target_ctx *tc)
{
	assess_report *r = tc->at->report;
	PGresult *res = query(tc, "target privileges", database_sql, 0, NULL);
	if (res == NULL)
		return;
	tc->user = strdup(PQgetvalue(res, 0, 0));
	const char *db = PQgetvalue(res, 0, 1), *user = PQgetvalue(res, 0, 0);
	bool may_create = t_at(res, 0, 2), ferry_exists = t_at(res, 0, 3), ferry_usable = t_at(res, 0, 4);
	/* A cdc task's apply creates schema ferry only when its progress table is missing. */
	bool needs_create = tc->full || !t_at(res, 0, 5);
	if (needs_create && !may_create)
		assess_add(r, ASSESS_FAIL, "target privileges",
			   "user \"%s\" may not create schemas in database \"%s\": GRANT CREATE ON DATABASE \"%s\" TO "
			   "\"%s\" (ferry keeps its progress in schema ferry and creates the target schemas with CREATE "
			   "SCHEMA IF NOT EXISTS, which needs this privilege even when the schema exists)", user, db, db,
			   user);
	else
		assess_add(r, ASSESS_OK, "target privileges", "user \"%s\" %s schemas in database \"%s\"", user,
			   may_create ? "may create" : "needs not create", db);
	if (ferry_exists && !ferry_usable)
		assess_add(r, ASSESS_FAIL, "bookkeeping schema",
			   "schema ferry exists but user \"%s\" lacks USAGE or CREATE on it: GRANT USAGE, CREATE ON SCHEMA "
			   "ferry TO \"%s\"", user, user);
	else if (!PQgetisnull(res, 0, 6))
		assess_add(r, ASSESS_FAIL, "bookkeeping schema",
			   "user \"%s\" may not read and write ferry's tables %s in schema ferry: GRANT SELECT, INSERT, "
			   "UPDATE, DELETE ON them, or drop them if no task uses them any more", user, PQgetvalue(res, 0, 6));
	else
		assess_add(r, ASSESS_OK, "bookkeeping schema", "%s", ferry_exists ? "schema ferry exists and is usable"
										  : "schema ferry will be created");
	PQclear(res);
}

/* ---- target tables --------------------------------------------------------------------- */

static const char tables_sql[] =
	"SELECT c.oid IS NOT NULL,"
	" coalesce(pg_catalog.pg_has_role(c.relowner, 'USAGE'), false),"
	" coalesce(pg_catalog.pg_get_userbyid(c.relowner), ''),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'SELECT'), false),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'INSERT'), false),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'UPDATE'), false),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'DELETE'), false),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'TRUNCATE'), false)"
	" FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]))"
	"      WITH ORDINALITY AS s(nsp, rel, ord)"
	" LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp"
	" LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.rel AND c.relkind IN ('r', 'p')"
	" ORDER BY s.ord";

/* The privileges a kept table needs that the user lacks ("INSERT, DELETE"), or "". */
static void missing_privileges(const target_ctx *tc, const PGresult *res, int row, char *buf, size_t size)
{
	static const char *const names[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"};
	bool need[5] = {false, tc->full || tc->cdc, tc->cdc, tc->cdc,
			tc->cdc || (tc->full && tc->at->task->target_table_prep == TABLE_PREP_TRUNCATE)};
	buf[0] = '\0';
	for (int p = 0; p < 5; p++) {
		if (need[p] && !t_at(res, row, 3 + p))
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? ", " : "", names[p]);
	}
}

/* Rows already in a kept table that a full load copies into. */
static bool has_rows(target_ctx *tc, const char *name)
{
	strbuf sql = STRBUF_INIT;
	strbuf_appendf(&sql, "SELECT EXISTS (SELECT 1 FROM %s)", name);
	PGresult *res = strbuf_failed(&sql) ? NULL : PQexec(tc->conn, strbuf_str(&sql));
	bool rows = res && PQresultStatus(res) == PGRES_TUPLES_OK && t_at(res, 0, 0);
	PQclear(res);
	strbuf_free(&sql);
	return rows;
}

/* A kept table: its shape (the verdict's differences), privileges and rows. */
static void check_kept(target_ctx *tc, const PGresult *res, int row, const char *name, pg_target_verdict v,
		       strbuf *why)
{
	assess_task *at = tc->at;
	if (v == PG_TARGET_OTHER_SHAPE) {
		while (why->len > 0 && why->data[why->len - 1] == '\n')
			why->data[--why->len] = '\0';
		const char *prep = !tc->full ? "migration_type = cdc"
				   : at->task->target_table_prep == TABLE_PREP_TRUNCATE ? "target_table_prep = truncate"
											 : "target_table_prep = nothing";
		assess_add(at->report, ASSESS_FAIL, "target tables",
			   "%s exists with another shape than the source; with %s it is kept as it is: change it to "
			   "match%s\n%s", name, prep, tc->full ? ", or use target_table_prep = drop" : "", strbuf_str(why));
	}
	char missing[64];
	missing_privileges(tc, res, row, missing, sizeof missing);
	if (missing[0])
		assess_add(at->report, ASSESS_FAIL, "target tables", "user \"%s\" lacks %s on %s: GRANT %s ON %s TO \"%s\"",
			   tc->user ? tc->user : "?", missing, name, missing, name, tc->user ? tc->user : "?");
	if (tc->full && at->task->target_table_prep == TABLE_PREP_NOTHING && t_at(res, row, 3) && has_rows(tc, name))
		assess_add(at->report, ASSESS_WARNING, "target tables",
			   "%s already holds rows: target_table_prep = nothing loads on top of them (rows with the same "
			   "key make the load fail); empty it, or use truncate", name);
}

typedef struct table_counts {
	int created, kept, dropped, failed;
	strbuf drops;
} table_counts;

/* One selected table: what the task's start will do with its target (the verdict of
 * the start's own target check), and whether this user can. */
static void check_target_table(target_ctx *tc, int i, const PGresult *res, int row, table_counts *n)
{
	assess_task *at = tc->at;
	const char *ts, *tn;
	catalog_map_table(at->map, at->cat->tables[i], &ts, &tn);
	char name[300];
	quoted(ts, tn, name, sizeof name);
	int before = at->report->n, fails = 0;
	strbuf why = STRBUF_INIT;
	pg_target_verdict v = pg_target_check_table(at->cat->tables[i], at->map, tc->tcat, at->task, &why);
	if (v == PG_TARGET_MISSING && !tc->full)
		assess_add(at->report, ASSESS_FAIL, "target tables",
			   "%s does not exist: migration_type = cdc copies and creates no table; create and fill it "
			   "first, or use full-load-and-cdc", name);
	else if (v == PG_TARGET_MISSING)
		assess_add(at->report, ASSESS_FAIL, "target tables",
			   "%s does not exist and create_tables = no: create it, or set create_tables = yes", name);
	else if (v == PG_TARGET_REPLACE && !t_at(res, row, 1))
		assess_add(at->report, ASSESS_FAIL, "target tables",
			   "%s must be dropped (target_table_prep = drop) but belongs to \"%s\": ALTER TABLE %s OWNER TO "
			   "\"%s\", or use target_table_prep = truncate", name, PQgetvalue(res, row, 2), name,
			   tc->user ? tc->user : "?");
	else if (v == PG_TARGET_REPLACE && n->dropped++ < LIST_MAX)
		strbuf_appendf(&n->drops, "%s%s", n->dropped > 1 ? ", " : "", name);
	else if (v == PG_TARGET_KEEP || v == PG_TARGET_OTHER_SHAPE)
		check_kept(tc, res, row, name, v, &why);
	strbuf_free(&why);
	tc->create[i] = v == PG_TARGET_CREATE || v == PG_TARGET_REPLACE;
	for (int k = before; k < at->report->n; k++)
		fails += at->report->items[k].level == ASSESS_FAIL;
	if (fails > 0)
		n->failed++;
	else if (v == PG_TARGET_KEEP)
		n->kept++;
	else if (v == PG_TARGET_CREATE)
		n->created++;
}

static void check_tables(target_ctx *tc)
{
	assess_task *at = tc->at;
	char *schemas = NULL, *names = NULL;
	int *idx = calloc((size_t)at->cat->n_tables + 1, sizeof *idx);
	int k = idx ? target_arrays(tc, &schemas, &names, idx) : -1;
	const char *params[2] = {schemas, names};
	PGresult *res = k >= 0 ? query(tc, "target tables", tables_sql, 2, params) : NULL;
	table_counts n = {.drops = STRBUF_INIT};
	for (int row = 0; res && row < PQntuples(res) && row < k; row++)
		check_target_table(tc, idx[row], res, row, &n);
	if (n.dropped > LIST_MAX)
		strbuf_appendf(&n.drops, " and %d more", n.dropped - LIST_MAX);
	if (n.dropped > 0)
		assess_add(at->report, ASSESS_WARNING, "target tables",
			   "%d existing table%s will be dropped and created again (target_table_prep = drop): %s", n.dropped,
			   n.dropped == 1 ? "" : "s", strbuf_str(&n.drops));
	if (res != NULL && n.failed == 0)
		assess_add(at->report, ASSESS_OK, "target tables", "%d will be created, %d dropped and created again, "
			   "%d kept (%s)", n.created, n.dropped, n.kept,
			   n.kept ? "same shape as the source, privileges in place" : "none kept");
	strbuf_free(&n.drops);
	PQclear(res);
	free(schemas);
	free(names);
	free(idx);
}

/* ---- schemas and types of the tables to create ---------------------------------------- */

static const char schemas_sql[] =
	"SELECT s.nsp, n.oid IS NOT NULL, coalesce(pg_catalog.has_schema_privilege(n.oid, 'CREATE'), false)"
	" FROM pg_catalog.unnest($1::text[]) AS s(nsp) LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp"
	" ORDER BY 1";

/* Target schemas of the tables to create, each once, as a text[] literal. */
static char *create_schemas(const target_ctx *tc, int *count)
{
	const assess_task *at = tc->at;
	strbuf sb = STRBUF_INIT;
	const char **seen = calloc((size_t)at->cat->n_tables + 1, sizeof *seen);
	int n = 0;
	strbuf_append_char(&sb, '{');
	for (int i = 0; seen && i < at->cat->n_tables; i++) {
		if (!tc->create[i])
			continue;
		const char *ts, *tn;
		catalog_map_table(at->map, at->cat->tables[i], &ts, &tn);
		bool dup = false;
		for (int k = 0; k < n && !dup; k++)
			dup = strcmp(seen[k], ts) == 0;
		if (dup)
			continue;
		if (n > 0)
			strbuf_append_char(&sb, ',');
		sql_append_pg_array_element(&sb, ts);
		seen[n++] = ts;
	}
	strbuf_append_char(&sb, '}');
	free(seen);
	*count = n;
	return strbuf_detach(&sb);
}

static void check_schemas(target_ctx *tc)
{
	int n = 0;
	char *list = create_schemas(tc, &n);
	const char *params[1] = {list};
	PGresult *res = list && n > 0 ? query(tc, "target schemas", schemas_sql, 1, params) : NULL;
	strbuf ok = STRBUF_INIT;
	int bad = 0;
	for (int i = 0; res && i < PQntuples(res); i++) {
		char name[200];
		quoted(NULL, PQgetvalue(res, i, 0), name, sizeof name);
		if (t_at(res, i, 1) && !t_at(res, i, 2)) {
			assess_add(tc->at->report, ASSESS_FAIL, "target schemas",
				   "tables will be created in schema %s, where user \"%s\" may not create: GRANT CREATE ON "
				   "SCHEMA %s TO \"%s\"", name, tc->user ? tc->user : "?", name, tc->user ? tc->user : "?");
			bad++;
		} else {
			strbuf_appendf(&ok, "%s%s (%s)", ok.len ? ", " : "", name, t_at(res, i, 1) ? "exists" : "created");
		}
	}
	if (res != NULL && bad == 0)
		assess_add(tc->at->report, ASSESS_OK, "target schemas", "tables will be created in %s", strbuf_str(&ok));
	strbuf_free(&ok);
	PQclear(res);
	free(list);
}

/* Types whose values are object ids of the source: they name other objects (or none)
 * on the target. */
static bool is_oid_type(uint32_t oid)
{
	static const uint32_t oids[] = {26, 24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191};
	for (size_t i = 0; i < sizeof oids / sizeof oids[0]; i++)
		if (oids[i] == oid)
			return true;
	return false;
}

/* A type the DDL does not create: user-defined, and no enum (or array of one). */
static bool needs_existing_type(const catalog_column *c)
{
	if (c->type_oid < PG_FIRST_USER_OID || c->type.cls == CATALOG_TYPE_ENUM)
		return false;
	return !(c->type.cls == CATALOG_TYPE_ARRAY && c->type.element && c->type.element->cls == CATALOG_TYPE_ENUM);
}

static void flag_oid_columns(target_ctx *tc)
{
	const assess_task *at = tc->at;
	for (int i = 0; i < at->cat->n_tables; i++) {
		const catalog_table *t = at->cat->tables[i];
		for (int c = 0; at->selected[i] && c < t->n_columns; c++) {
			if (!is_oid_type(t->columns[c].type_oid) || catalog_map_column(at->map, t, c) == NULL)
				continue;
			char name[300];
			quoted(t->schema, t->name, name, sizeof name);
			assess_add(at->report, ASSESS_WARNING, "column types", "%s.%s is of type %s: %s", name,
				   t->columns[c].name, t->columns[c].type_name,
				   t->columns[c].type_oid == 26
					   ? "object ids are copied as numbers; large objects they may point to are not "
					     "migrated"
					   : "its values are object ids of the source and name other objects (or none) on "
					     "the target");
		}
	}
}

static void check_types(target_ctx *tc)
{
	const assess_task *at = tc->at;
	if (at->cat->engine != ENGINE_POSTGRESQL)
		return; /* another engine's types go through the type map */
	int before = at->report->n;
	flag_oid_columns(tc);
	for (int i = 0; i < at->cat->n_tables; i++) {
		const catalog_table *t = at->cat->tables[i];
		for (int c = 0; tc->create[i] && c < t->n_columns; c++) {
			const catalog_column *col = &t->columns[c];
			if (!needs_existing_type(col) || catalog_map_column(at->map, t, c) == NULL)
				continue;
			const char *params[1] = {col->type_name};
			PGresult *res = query(tc, "column types", "SELECT pg_catalog.to_regtype($1) IS NOT NULL", 1, params);
			char name[300];
			quoted(t->schema, t->name, name, sizeof name);
			if (res && !t_at(res, 0, 0))
				assess_add(at->report, ASSESS_FAIL, "column types",
					   "type %s of %s.%s does not exist on the target: create it there first (CREATE "
					   "EXTENSION, CREATE TYPE or CREATE DOMAIN); ferry creates enum types only",
					   col->type_name, name, col->name);
			PQclear(res);
		}
	}
	bool creates = false;
	for (int i = 0; i < at->cat->n_tables && !creates; i++)
		creates = tc->create[i];
	if (at->report->n == before)
		assess_add(at->report, ASSESS_OK, "column types", "%s",
			   creates ? "every type of the tables to create exists on the target or is created with them"
				   : "no table to create; kept tables are compared above");
}

/* ---- the target side -------------------------------------------------------------------- */

/* The target's tables that have a selected table's target name, in the neutral model. */
static int read_target_catalog(target_ctx *tc)
{
	const assess_task *at = tc->at;
	tc->keys = calloc((size_t)at->n_selected + 1, sizeof *tc->keys);
	for (int i = 0; tc->keys && i < at->cat->n_tables; i++) {
		if (!at->selected[i])
			continue;
		const char *ts, *tn;
		catalog_map_table(at->map, at->cat->tables[i], &ts, &tn);
		if ((tc->keys[tc->n_keys] = name_key(ts, tn)) != NULL)
			tc->n_keys++;
	}
	if (tc->keys != NULL)
		qsort(tc->keys, (size_t)tc->n_keys, sizeof *tc->keys, cmp_keys);
	pg_catalog_filter filter = {.keep_table = keep_target, .arg = tc};
	char *err = NULL;
	if (tc->keys == NULL || pg_catalog_read(tc->conn, &filter, &tc->tcat, &err) < 0) {
		assess_add(at->report, ASSESS_NOT_RUN, "target tables", "reading the target's tables failed: %s",
			   err ? err : "out of memory");
		free(err);
		return -1;
	}
	return 0;
}

void assess_pg_target(assess_task *at)
{
	endpoint_conn *conn = NULL;
	if (assess_pg_connect(at, ENDPOINT_TARGET, &conn) < 0)
		return;
	target_ctx tc = {.at = at, .conn = conn->pg, .full = at->task->migration_type != MIGRATION_CDC,
			 .cdc = at->task->migration_type != MIGRATION_FULL_LOAD};
	check_database(&tc);
	if (at->cat == NULL)
		assess_add(at->report, ASSESS_NOT_RUN, "target tables",
			   "the source's tables are not known (see above): nothing to compare the target with");
	else if (at->n_selected > 0 && (tc.create = calloc((size_t)at->cat->n_tables + 1, sizeof *tc.create)) &&
		 read_target_catalog(&tc) == 0) {
		check_tables(&tc);
		check_schemas(&tc);
		check_types(&tc);
	}
	if (tc.tcat)
		catalog_free(tc.tcat);
	for (int i = 0; i < tc.n_keys; i++)
		free(tc.keys[i]);
	free(tc.keys);
	free(tc.create);
	free(tc.user);
	endpoint_close(conn);
}
