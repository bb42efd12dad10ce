/* The full-load engine against a real PostgreSQL: two databases of one server stand in for
 * source and target (created and dropped by the test). Partition planning and coverage
 * (integer key ranges, ctid ranges), an exported snapshot while another session inserts,
 * varied types and identifiers through binary and text COPY, renames, exclusions and a row
 * filter, restarts (recorded partitions skipped, unfinished ones reloaded without
 * duplicates), the shape check and the after-load step.
 * The planning arithmetic is checked without a server; the rest is skipped (exit 77)
 * unless FERRY_TEST_PGCONNINFO names a PostgreSQL superuser connection. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "workers/pg_catalog.h"
#include "workers/pg_ddl.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"

#define SKIP_EXIT 77
#define TASK "t1"

static const char *conninfo;
static char src_db[64], dst_db[64];

/* ---- helpers ----------------------------------------------------------------------------- */

static PGconn *connect_db(const char *db)
{
	const char *keys[] = {"dbname", "dbname", NULL};
	const char *vals[] = {conninfo, db, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", db, PQerrorMessage(conn));
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

static void exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s\n-> %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
}

static char *query_text(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s\n-> %s",
		      sql, PQresultErrorMessage(res));
	char *v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static int64_t query_int(PGconn *conn, const char *sql)
{
	char *v = query_text(conn, sql);
	int64_t n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

/* md5 of every row of `select` (rows as text, ordered by `order`). */
static char *digest(PGconn *conn, const char *select, const char *order)
{
	char sql[2048];
	snprintf(sql, sizeof sql,
		 "SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY %s), '')) || ':' || count(*)"
		 " FROM (%s) r", order, select);
	return query_text(conn, sql);
}

static void assert_same_rows(PGconn *src, const char *src_select, PGconn *dst,
			     const char *dst_select, const char *order)
{
	char *a = digest(src, src_select, order);
	char *b = digest(dst, dst_select, order);
	ck_assert_msg(strcmp(a, b) == 0, "rows differ: source %s, target %s", a, b);
	free(a);
	free(b);
}

static catalog *read_catalog(PGconn *conn, const char *schema)
{
	const char *schemas[1] = {schema};
	pg_catalog_filter filter = {schemas, 1, NULL, NULL};
	catalog *cat = NULL;
	char *err = NULL;
	PQclear(PQexec(conn, "BEGIN"));
	int rc = pg_catalog_read(conn, &filter, &cat, &err);
	PQclear(PQexec(conn, "COMMIT"));
	ck_assert_msg(rc == 0, "pg_catalog_read: %s", err ? err : "?");
	return cat;
}

static catalog_table *find_table(const catalog *cat, const char *schema, const char *name)
{
	catalog_table *t = catalog_find_table(cat, schema, name);
	ck_assert_msg(t != NULL, "table %s.%s not read", schema, name);
	return t;
}

/* Target names for the tests: schema renamed, one column renamed, one excluded. */
typedef struct test_map {
	const char *schema_from, *schema_to;
	const char *col_from, *col_to, *col_excluded;
} test_map;

static const char *map_schema(void *arg, const char *schema)
{
	const test_map *m = arg;
	return m->schema_from != NULL && strcmp(schema, m->schema_from) == 0 ? m->schema_to : schema;
}

static void map_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	*schema = map_schema(arg, t->schema);
	*name = t->name;
}

static const char *map_column(void *arg, const catalog_table *t, const catalog_column *c)
{
	const test_map *m = arg;
	if (m->col_excluded != NULL && strcmp(c->name, m->col_excluded) == 0)
		return NULL;
	if (m->col_from != NULL && strcmp(c->name, m->col_from) == 0)
		return m->col_to;
	return c->name;
}

/* Creates the target table from the source model (DROP + CREATE). */
static void create_target(PGconn *dst, const catalog_table *t, const catalog_name_map *names)
{
	pg_ddl_options o = {names, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_msg(pg_ddl_before_load(t, &o, &s, &err) == 0, "before_load: %s", err);
	for (int i = 0; i < s.n_statements; i++)
		exec_ok(dst, s.statements[i]);
	pg_ddl_script_free(&s);
}

static void bookkeeping(PGconn *dst)
{
	char *err = NULL;
	ck_assert_msg(pg_load_bookkeeping_init(dst, &err) == 0, "bookkeeping: %s", err);
	exec_ok(dst, "DELETE FROM ferry.load_progress; DELETE FROM ferry.load_plan");
}

static void table_init(pg_load_table *lt, const catalog_table *t, const pg_load_table_options *o)
{
	char *err = NULL;
	ck_assert_msg(pg_load_table_init(lt, t, o, &err) == 0, "table_init: %s", err);
}

/* The source table schema.name created on the target (progress reset) and prepared as a
 * load table the task owns; *cat receives its catalog (the caller frees it). */
static const catalog_table *owned_table(PGconn *src, PGconn *dst, const char *schema, const char *name,
					catalog **cat, pg_load_table *lt)
{
	bookkeeping(dst);
	*cat = read_catalog(src, schema);
	const catalog_table *t = find_table(*cat, schema, name);
	create_target(dst, t, NULL);
	pg_load_table_options o = {.target_owned = true};
	table_init(lt, t, &o);
	return t;
}

static void plan_table(PGconn *src, PGconn *dst, const pg_load_table *lt, int64_t partition_rows,
		       bool shared, pg_load_plan *plan)
{
	pg_load_plan_options o = {TASK, partition_rows, 0, shared};
	char *err = NULL;
	ck_assert_msg(pg_load_plan_table(src, dst, lt, 0, &o, plan, &err) == 0, "plan: %s", err);
}

static void source_begin(pg_load_source *s, PGconn *conn, const char *snapshot)
{
	char *err = NULL;
	ck_assert_msg(pg_load_source_begin(s, conn, snapshot, &err) == 0, "source_begin: %s", err);
}

static void source_end(pg_load_source *s)
{
	char *err = NULL;
	ck_assert_msg(pg_load_source_end(s, &err) == 0, "source_end: %s", err);
}

static pg_load_status copy_part(pg_load_source *s, PGconn *dst, const pg_load_table *lt,
				const pg_load_partition *p, int64_t *rows)
{
	pg_load_copy_options o = {.task = TASK};
	char *err = NULL;
	pg_load_status st = pg_load_copy_partition(s, dst, lt, p, &o, rows, &err);
	ck_assert_msg(st == PG_LOAD_DONE || st == PG_LOAD_SKIPPED, "copy: %s", err ? err : "?");
	return st;
}

/* Copies every partition of the plan under one source transaction; the rows copied. */
static int64_t copy_all(PGconn *src, PGconn *dst, const pg_load_table *lt,
			const pg_load_plan *plan, const char *snapshot)
{
	pg_load_source s;
	source_begin(&s, src, snapshot);
	int64_t total = 0;
	for (int i = 0; i < plan->n; i++) {
		int64_t rows = 0;
		copy_part(&s, dst, lt, &plan->parts[i], &rows);
		total += rows;
	}
	source_end(&s);
	return total;
}

/* The plan's partitions tile the key or page space: open ends, each hi the next lo. */
static void assert_tiled(const pg_load_plan *plan, pg_load_part_kind kind)
{
	ck_assert_int_ge(plan->n, 2);
	ck_assert(plan->parts[0].open_lo && plan->parts[plan->n - 1].open_hi);
	for (int i = 0; i < plan->n; i++) {
		ck_assert_int_eq(plan->parts[i].kind, kind);
		ck_assert_int_eq(plan->parts[i].number, i + 1);
		ck_assert_int_eq(plan->parts[i].count, plan->n);
		if (i > 0)
			ck_assert_int_eq(plan->parts[i - 1].hi, plan->parts[i].lo);
		if (i > 0 && i < plan->n - 1)
			ck_assert_int_lt(plan->parts[i].lo, plan->parts[i].hi);
	}
}

/* ---- planning arithmetic (no server) ------------------------------------------------------ */

START_TEST(cuts_even_and_histogram)
{
	int64_t cuts[8];
	ck_assert_int_eq(pg_load_plan_int_cuts(1, 100, NULL, 0, 4, cuts), 3);
	ck_assert_int_eq(cuts[0], 26);
	ck_assert_int_eq(cuts[1], 51);
	ck_assert_int_eq(cuts[2], 76);
	/* the extremes of int8 do not overflow */
	ck_assert_int_eq(pg_load_plan_int_cuts(INT64_MIN, INT64_MAX, NULL, 0, 2, cuts), 1);
	ck_assert_int_eq(cuts[0], 0);
	/* a span smaller than the wanted count gives fewer ranges, never empty ones */
	ck_assert_int_eq(pg_load_plan_int_cuts(5, 7, NULL, 0, 8, cuts), 2);
	ck_assert(cuts[0] == 6 && cuts[1] == 7);
	ck_assert_int_eq(pg_load_plan_int_cuts(5, 5, NULL, 0, 8, cuts), 0);
	/* skewed keys: histogram ranks, not the span */
	int64_t bounds[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000000};
	ck_assert_int_eq(pg_load_plan_int_cuts(1, 1000000, bounds, 11, 2, cuts), 1);
	ck_assert_int_eq(cuts[0], 6);
	/* a stale histogram outside [min, max] falls back to even steps */
	ck_assert_int_eq(pg_load_plan_int_cuts(2000000, 2000099, bounds, 11, 4, cuts), 3);
	ck_assert_int_eq(cuts[0], 2000025);
}
END_TEST

/* ---- live: coverage ---------------------------------------------------------------------- */

START_TEST(int_ranges_cover_every_row_once)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	/* skewed keys: 6000 dense, 2000 spread over a million */
	exec_ok(src, "DROP SCHEMA IF EXISTS cov CASCADE; CREATE SCHEMA cov;"
		     "CREATE TABLE cov.k (id int8 PRIMARY KEY, v text);"
		     "INSERT INTO cov.k SELECT i, 'v' || i FROM generate_series(1, 6000) i;"
		     "INSERT INTO cov.k SELECT 10000 + i * 500, 'w' FROM generate_series(1, 2000) i");
	exec_ok(src, "VACUUM cov.k");
	bookkeeping(dst);
	for (int analyzed = 0; analyzed < 2; analyzed++) {
		if (analyzed)
			exec_ok(src, "ANALYZE cov.k");
		catalog *cat = read_catalog(src, "cov");
		const catalog_table *t = find_table(cat, "cov", "k");
		create_target(dst, t, NULL);
		exec_ok(dst, "DELETE FROM ferry.load_progress; DELETE FROM ferry.load_plan");
		pg_load_table lt;
		pg_load_table_options o = {.target_owned = true};
		table_init(&lt, t, &o);
		ck_assert(lt.binary && lt.key_column == 0);
		pg_load_plan plan = {0};
		plan_table(src, dst, &lt, 1000, true, &plan);
		ck_assert_int_eq(plan.n, 8);
		assert_tiled(&plan, PG_LOAD_PART_INT_RANGE);
		/* with the histogram, ranges hold about the same number of rows */
		int64_t largest = 0;
		pg_load_source s;
		source_begin(&s, src, NULL);
		for (int i = 0; i < plan.n; i++) {
			int64_t rows = 0;
			copy_part(&s, dst, &lt, &plan.parts[i], &rows);
			largest = rows > largest ? rows : largest;
		}
		source_end(&s);
		if (analyzed)
			ck_assert_msg(largest <= 2000, "largest partition %" PRId64 " rows", largest);
		else
			ck_assert_int_gt(largest, 4000); /* even key ranges: the dense keys together */
		assert_same_rows(src, "SELECT * FROM cov.k", dst, "SELECT * FROM cov.k", "r.id");
		ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress"), 8);
		pg_load_plan_free(&plan);
		pg_load_table_free(&lt);
		catalog_free(cat);
	}
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

START_TEST(ctid_ranges_cover_every_row_once)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	/* no key at all (duplicates would not be refused), holes from deleted rows */
	exec_ok(src, "DROP SCHEMA IF EXISTS cov2 CASCADE; CREATE SCHEMA cov2;"
		     "CREATE TABLE cov2.n (a int, b text);"
		     "INSERT INTO cov2.n SELECT i % 100, repeat('x', i % 50) FROM generate_series(1, 20000) i;"
		     "DELETE FROM cov2.n WHERE a BETWEEN 10 AND 30");
	exec_ok(src, "VACUUM ANALYZE cov2.n");
	catalog *cat;
	pg_load_table lt;
	(void)owned_table(src, dst, "cov2", "n", &cat, &lt);
	ck_assert_int_eq(lt.key_column, -1);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 3000, true, &plan);
	ck_assert_int_ge(plan.n, 4);
	assert_tiled(&plan, PG_LOAD_PART_CTID_RANGE);
	/* a plan for loads without one shared snapshot never uses ctid ranges */
	pg_load_plan fresh = {0};
	plan_table(src, NULL, &lt, 3000, false, &fresh);
	ck_assert_int_eq(fresh.n, 1);
	ck_assert_int_eq(fresh.parts[0].kind, PG_LOAD_PART_WHOLE);
	pg_load_plan_free(&fresh);

	PGconn *holder = connect_db(src_db);
	char *snap = query_text(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ;"
					"SELECT pg_export_snapshot()");
	int64_t copied = copy_all(src, dst, &lt, &plan, snap);
	ck_assert_int_eq(copied, query_int(src, "SELECT count(*) FROM cov2.n"));
	assert_same_rows(src, "SELECT * FROM cov2.n", dst, "SELECT * FROM cov2.n", "r.a, r.b");
	/* under the exported snapshot no finish_position is recorded */
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress"
					" WHERE finish_position IS NOT NULL"), 0);
	/* the plan is stored: planning again (estimates moved) gives the same partitions */
	exec_ok(src, "INSERT INTO cov2.n SELECT 1, 'more' FROM generate_series(1, 30000);"
		     "ANALYZE cov2.n");
	pg_load_plan again = {0};
	plan_table(src, dst, &lt, 3000, true, &again);
	ck_assert_int_eq(again.n, plan.n);
	ck_assert_mem_eq(again.parts, plan.parts, sizeof *plan.parts * (size_t)plan.n);
	pg_load_plan_free(&again);
	free(snap);
	PQfinish(holder);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ---- live: snapshot ---------------------------------------------------------------------- */

START_TEST(exported_snapshot_while_inserting)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db), *writer = connect_db(src_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS snap CASCADE; CREATE SCHEMA snap;"
		     "CREATE TABLE snap.s (id serial PRIMARY KEY, v int);"
		     "INSERT INTO snap.s (v) SELECT i FROM generate_series(1, 10000) i");
	exec_ok(src, "VACUUM snap.s");
	catalog *cat;
	pg_load_table lt;
	(void)owned_table(src, dst, "snap", "s", &cat, &lt);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 2500, true, &plan);
	ck_assert_int_eq(plan.n, 4);

	PGconn *holder = connect_db(src_db);
	char *snap = query_text(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ;"
					"SELECT pg_export_snapshot()");
	int64_t at_snapshot = query_int(holder, "SELECT count(*) FROM snap.s");
	exec_ok(writer, "INSERT INTO snap.s (v) SELECT -i FROM generate_series(1, 3000) i");
	pg_load_source s;
	source_begin(&s, src, snap);
	for (int i = 0; i < plan.n; i++) {
		/* more rows land on the source between partitions, in every key range */
		exec_ok(writer, "INSERT INTO snap.s (v) SELECT -1 FROM generate_series(1, 500);"
				"UPDATE snap.s SET v = v + 1000000 WHERE id % 97 = 0");
		copy_part(&s, dst, &lt, &plan.parts[i], NULL);
	}
	source_end(&s);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM snap.s"), at_snapshot);
	char *a = digest(holder, "SELECT * FROM snap.s", "r.id");
	char *b = digest(dst, "SELECT * FROM snap.s", "r.id");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);

	/* a fresh snapshot records the source's WAL position with each partition */
	exec_ok(dst, "TRUNCATE snap.s; DELETE FROM ferry.load_progress");
	int64_t lsn_before = query_int(src, "SELECT (pg_current_wal_lsn() - '0/0')::int8");
	copy_all(src, dst, &lt, &plan, NULL);
	int64_t lsn_after = query_int(src, "SELECT (pg_current_wal_lsn() - '0/0')::int8");
	int64_t pos = query_int(dst, "SELECT min(finish_position) FROM ferry.load_progress");
	ck_assert(pos >= lsn_before && pos <= lsn_after);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM snap.s"),
			 query_int(src, "SELECT count(*) FROM snap.s"));
	free(snap);
	PQfinish(holder);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(writer);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ---- live: types, identifiers, rules -------------------------------------------------------- */

#define ODD_SCHEMA "Odd \"S\" \xc3\xbc"     /* Odd "S" ü */
#define ODD_SCHEMA_SQL "\"Odd \"\"S\"\" \xc3\xbc\""
#define ODD_TARGET "Ziel \xc3\x9c"          /* Ziel Ü */
#define ODD_TARGET_SQL "\"Ziel \xc3\x9c\""
#define ODD_TABLE "Tab \"Q\" \xc3\x89"      /* Tab "Q" É */
#define ODD_TABLE_SQL "\"Tab \"\"Q\"\" \xc3\x89\""

static const char varied_sql[] =
	"DROP SCHEMA IF EXISTS " ODD_SCHEMA_SQL " CASCADE; CREATE SCHEMA " ODD_SCHEMA_SQL ";"
	"CREATE TYPE " ODD_SCHEMA_SQL ".mood AS ENUM ('sad', 'ok', 'happy \xc3\xbc');"
	"CREATE TABLE " ODD_SCHEMA_SQL "." ODD_TABLE_SQL " ("
	" id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \"Col One\" text, arr int4[],"
	" tarr text[], j jsonb, b bytea, n numeric(20,6), ts timestamptz, u uuid,"
	" e " ODD_SCHEMA_SQL ".mood, big text, secret text, d float8,"
	" g numeric GENERATED ALWAYS AS (n * 2) STORED);"
	"INSERT INTO " ODD_SCHEMA_SQL "." ODD_TABLE_SQL
	" (\"Col One\", arr, tarr, j, b, n, ts, u, e, big, secret, d)"
	" SELECT CASE WHEN i % 10 = 0 THEN 'skip' ELSE 'row \"' || i || E'\\'\\t\\\\' END,"
	"  ARRAY[i, NULL, -i], ARRAY['a,b', NULL, '{}', E'q\"\\\\'], jsonb_build_object('k', i, 'a', ARRAY[1.5, 2]),"
	"  decode(md5(i::text) || '00ff', 'hex'), i * 1.000001, '2024-02-29 12:00:00+05'::timestamptz + i * interval '1 hour',"
	"  md5(i::text)::uuid, (ARRAY['sad', 'ok', 'happy \xc3\xbc'])[i % 3 + 1]::" ODD_SCHEMA_SQL ".mood,"
	"  CASE WHEN i % 5 = 0 THEN (SELECT string_agg(md5(i::text || g), '') FROM generate_series(1, 400) g) END,"
	"  'pw' || i, 1.0 / i"
	" FROM generate_series(1, 400) i;"
	/* a row of NULLs everywhere a NULL may go */
	"INSERT INTO " ODD_SCHEMA_SQL "." ODD_TABLE_SQL " (\"Col One\") VALUES (NULL)";

/* The target has \"Col One\" renamed and secret excluded; g is recomputed there. */
#define VARIED_SRC_COLS "id, \"Col One\", arr, tarr, j, b, n, ts, u, e::text, big, d, g"
#define VARIED_DST_COLS "id, \"col one!\", arr, tarr, j, b, n, ts, u, e::text, big, d, g"
#define VARIED_FILTER "(\"Col One\" IS DISTINCT FROM 'skip')"

static void load_varied(bool text_format)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, varied_sql);
	exec_ok(src, "VACUUM ANALYZE " ODD_SCHEMA_SQL "." ODD_TABLE_SQL);
	if (text_format) /* an enum array carries its type's OID in binary: text it is */
		exec_ok(src, "ALTER TABLE " ODD_SCHEMA_SQL "." ODD_TABLE_SQL " ADD COLUMN moods "
			     ODD_SCHEMA_SQL ".mood[] DEFAULT '{sad,NULL,ok}'");
	exec_ok(dst, "SET extra_float_digits = 3");
	exec_ok(src, "SET extra_float_digits = 3");
	bookkeeping(dst);
	catalog *cat = read_catalog(src, ODD_SCHEMA);
	const catalog_table *t = find_table(cat, ODD_SCHEMA, ODD_TABLE);
	test_map m = {ODD_SCHEMA, ODD_TARGET, "Col One", "col one!", "secret"};
	catalog_name_map names = {map_table, map_schema, map_column, &m};
	create_target(dst, t, &names);
	pg_load_table lt;
	pg_load_table_options o = {.names = &names, .filter = VARIED_FILTER, .target_owned = true};
	table_init(&lt, t, &o);
	ck_assert(lt.binary == !text_format);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 100, true, &plan);
	ck_assert_int_ge(plan.n, 3);
	int64_t rows = copy_all(src, dst, &lt, &plan, NULL);
	ck_assert_int_eq(rows, 361); /* 400 - 40 skipped + the NULL row */
	const char *extra = text_format ? ", moods::text" : "";
	char a[512], b[512];
	snprintf(a, sizeof a, "SELECT " VARIED_SRC_COLS "%s FROM " ODD_SCHEMA_SQL "." ODD_TABLE_SQL
		 " WHERE " VARIED_FILTER, extra);
	snprintf(b, sizeof b, "SELECT " VARIED_DST_COLS "%s FROM " ODD_TARGET_SQL "." ODD_TABLE_SQL,
		 extra);
	assert_same_rows(src, a, dst, b, "r.id");
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM information_schema.columns"
					" WHERE column_name = 'secret'"), 0);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM " ODD_TARGET_SQL "." ODD_TABLE_SQL
					" WHERE length(big) > 8192"), 40);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}

START_TEST(varied_types_binary)
{
	load_varied(false);
}
END_TEST

START_TEST(varied_types_text)
{
	load_varied(true);
}
END_TEST

/* A declarative partitioned table is read through its parent, in key ranges. */
START_TEST(partitioned_parent)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS part CASCADE; CREATE SCHEMA part;"
		     "CREATE TABLE part.p (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
		     "CREATE TABLE part.p1 PARTITION OF part.p FOR VALUES FROM (0) TO (5000);"
		     "CREATE TABLE part.p2 PARTITION OF part.p FOR VALUES FROM (5000) TO (20000);"
		     "INSERT INTO part.p SELECT i, 'x' || i FROM generate_series(1, 12000) i;"
		     "ANALYZE part.p, part.p1, part.p2");
	catalog *cat;
	pg_load_table lt;
	(void)owned_table(src, dst, "part", "p", &cat, &lt);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 4000, true, &plan);
	assert_tiled(&plan, PG_LOAD_PART_INT_RANGE);
	ck_assert_int_eq(copy_all(src, dst, &lt, &plan, NULL), 12000);
	assert_same_rows(src, "SELECT * FROM part.p", dst, "SELECT * FROM part.p", "r.id");
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ---- live: restart ------------------------------------------------------------------------- */

START_TEST(restart_int_partitions)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS rs CASCADE; CREATE SCHEMA rs;"
		     "CREATE TABLE rs.t (id int PRIMARY KEY, v text);"
		     "INSERT INTO rs.t SELECT i, md5(i::text) FROM generate_series(1, 8000) i");
	exec_ok(src, "VACUUM rs.t");
	catalog *cat;
	pg_load_table lt;
	(void)owned_table(src, dst, "rs", "t", &cat, &lt);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 2000, true, &plan);
	ck_assert_int_eq(plan.n, 4);
	pg_load_source s;
	source_begin(&s, src, NULL);
	int64_t rows2 = 0, again = -1;
	ck_assert_int_eq(copy_part(&s, dst, &lt, &plan.parts[1], &rows2), PG_LOAD_DONE);
	ck_assert_int_eq(copy_part(&s, dst, &lt, &plan.parts[1], &again), PG_LOAD_SKIPPED);
	ck_assert_int_eq(again, 0);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM rs.t"), rows2);

	/* partition 3 abandoned mid-way (a killed worker): nothing of it stays */
	pg_load_copy *c = NULL;
	char *err = NULL;
	pg_load_copy_options co = {.task = TASK};
	ck_assert_int_eq(pg_load_copy_start(&s, dst, &lt, &plan.parts[2], &co, &c, &err), PG_LOAD_MORE);
	ck_assert_int_eq(pg_load_copy_step(c, 0, &err), PG_LOAD_MORE);
	pg_load_copy_free(c);
	ck_assert(s.aborted);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM rs.t"), rows2);
	source_end(&s);

	/* a row in partition 3's range that a non-atomic writer left: deleted, not doubled */
	char sql[256];
	snprintf(sql, sizeof sql, "INSERT INTO rs.t VALUES (%" PRId64 ", 'stale')", plan.parts[2].lo);
	exec_ok(dst, sql);
	int64_t total = copy_all(src, dst, &lt, &plan, NULL);
	ck_assert_int_eq(total, 8000 - rows2);
	assert_same_rows(src, "SELECT * FROM rs.t", dst, "SELECT * FROM rs.t", "r.id");
	pg_load_table_progress pr;
	ck_assert_int_eq(pg_load_progress_read(dst, TASK, &lt, &pr, &err), 0);
	ck_assert(pr.partitions_done == 4 && pr.rows == 8000 && !pr.finished && pr.has_position);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ctid partitions loaded partly under the exported snapshot, then after a restart under a
 * fresh one: the table is reloaded whole, once, and nothing is doubled. */
START_TEST(restart_ctid_partitions)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS rc CASCADE; CREATE SCHEMA rc;"
		     "CREATE TABLE rc.n (a int, b text);"
		     "INSERT INTO rc.n SELECT i, md5(i::text) FROM generate_series(1, 20000) i");
	exec_ok(src, "VACUUM ANALYZE rc.n");
	catalog *cat;
	pg_load_table lt;
	const catalog_table *t = owned_table(src, dst, "rc", "n", &cat, &lt);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 5000, true, &plan);
	ck_assert_int_ge(plan.n, 3);
	PGconn *holder = connect_db(src_db);
	char *snap = query_text(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ;"
					"SELECT pg_export_snapshot()");
	pg_load_source s;
	source_begin(&s, src, snap);
	copy_part(&s, dst, &lt, &plan.parts[0], NULL);
	source_end(&s);
	PQfinish(holder); /* the exported snapshot is gone */
	exec_ok(src, "UPDATE rc.n SET b = 'moved' WHERE a % 10 = 0;"
		     "INSERT INTO rc.n SELECT -i, 'new' FROM generate_series(1, 100) i");
	source_begin(&s, src, NULL);
	int64_t rows = 0;
	ck_assert_int_eq(copy_part(&s, dst, &lt, &plan.parts[1], &rows), PG_LOAD_DONE);
	ck_assert_int_eq(rows, 20100);
	for (int i = 0; i < plan.n; i++)
		ck_assert_int_eq(copy_part(&s, dst, &lt, &plan.parts[i], NULL), PG_LOAD_SKIPPED);
	source_end(&s);
	assert_same_rows(src, "SELECT * FROM rc.n", dst, "SELECT * FROM rc.n", "r.a, r.b");
	ck_assert_int_eq(query_int(dst, "SELECT sum(rows) FROM ferry.load_progress"), 20100);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress"), plan.n);

	/* a table the task does not own cannot be emptied for that reload */
	exec_ok(dst, "UPDATE ferry.load_progress SET partition = -partition WHERE partition > 1");
	exec_ok(dst, "DELETE FROM ferry.load_progress WHERE partition < 0");
	pg_load_table lt2;
	pg_load_table_options o2 = {.target_owned = false};
	table_init(&lt2, t, &o2);
	source_begin(&s, src, NULL);
	char *err = NULL;
	pg_load_copy_options co = {.task = TASK};
	ck_assert_int_eq(pg_load_copy_partition(&s, dst, &lt2, &plan.parts[1], &co, NULL, &err),
			 PG_LOAD_ERROR);
	ck_assert_msg(strstr(err, "target_table_prep = nothing") != NULL, "%s", err);
	free(err);
	source_end(&s);
	pg_load_table_free(&lt2);
	free(snap);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ---- live: shape, after-load, progress, FREEZE ----------------------------------------------- */

START_TEST(other_shape_refused)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS sh CASCADE; CREATE SCHEMA sh;"
		     "CREATE TABLE sh.t (id int PRIMARY KEY, v text, w date);"
		     "INSERT INTO sh.t VALUES (1, 'a', now())");
	exec_ok(dst, "DROP SCHEMA IF EXISTS sh CASCADE; CREATE SCHEMA sh;"
		     "CREATE TABLE sh.t (id int PRIMARY KEY, v int, extra text NOT NULL)");
	catalog *scat = read_catalog(src, "sh"), *tcat = read_catalog(dst, "sh");
	pg_load_table lt;
	pg_load_table_options o = {.target = find_table(tcat, "sh", "t")};
	char *err = NULL;
	ck_assert_int_eq(pg_load_table_init(&lt, find_table(scat, "sh", "t"), &o, &err), -1);
	ck_assert_msg(strstr(err, "another shape") && strstr(err, "column v") &&
			      strstr(err, "column w") && strstr(err, "extra") &&
			      !strchr(err, '\n'), "%s", err);
	free(err);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM sh.t"), 0);
	/* the same shape passes, and binary is kept for identical built-in types */
	exec_ok(dst, "DROP TABLE sh.t; CREATE TABLE sh.t (id int PRIMARY KEY, v text, w date)");
	catalog_free(tcat);
	tcat = read_catalog(dst, "sh");
	o.target = find_table(tcat, "sh", "t");
	table_init(&lt, find_table(scat, "sh", "t"), &o);
	ck_assert(lt.binary);
	pg_load_table_free(&lt);
	catalog_free(scat);
	catalog_free(tcat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

START_TEST(whole_table_frozen_then_indexed)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS fz CASCADE; CREATE SCHEMA fz;"
		     "CREATE TABLE fz.t (id int PRIMARY KEY, v text);"
		     "CREATE INDEX t_v ON fz.t (v);"
		     "INSERT INTO fz.t SELECT i, md5(i::text) FROM generate_series(1, 200000) i");
	exec_ok(src, "VACUUM ANALYZE fz.t");
	catalog *cat;
	pg_load_table lt;
	const catalog_table *t = owned_table(src, dst, "fz", "t", &cat, &lt);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 1000000, true, &plan);
	ck_assert_int_eq(plan.n, 1);
	ck_assert_int_eq(plan.parts[0].kind, PG_LOAD_PART_WHOLE);
	/* rows so far grow while the copy streams */
	pg_load_source s;
	source_begin(&s, src, NULL);
	pg_load_copy *c = NULL;
	char *err = NULL;
	pg_load_copy_options co = {.task = TASK, .chunk_bytes = 8192};
	ck_assert_int_eq(pg_load_copy_start(&s, dst, &lt, &plan.parts[0], &co, &c, &err), PG_LOAD_MORE);
	pg_load_status st;
	int64_t last = 0;
	int midway = 0;
	while ((st = pg_load_copy_step(c, 1, &err)) == PG_LOAD_MORE) {
		int64_t now = pg_load_copy_rows(c);
		ck_assert_int_ge(now, last);
		midway += now > 0 && now < 200000;
		last = now;
	}
	ck_assert_msg(st == PG_LOAD_DONE, "%s", err ? err : "?");
	ck_assert_int_eq(pg_load_copy_rows(c), 200000);
	ck_assert_int_gt(midway, 0);
	pg_load_copy_free(c);
	source_end(&s);
	/* COPY FREEZE after the TRUNCATE in the same transaction: every page all-frozen */
	PGresult *res = PQexec(dst, "CREATE EXTENSION IF NOT EXISTS pg_visibility");
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		ck_assert_int_eq(query_int(dst, "SELECT all_frozen FROM pg_visibility_map_summary('fz.t')"),
				 query_int(dst, "SELECT pg_relation_size('fz.t') / 8192"));
	PQclear(res);

	pg_ddl_options dopt = {NULL, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script after = {0};
	ck_assert(pg_ddl_after_load(t, &dopt, &after, &err) == 0);
	pg_load_finish_options fo = {TASK, &after, true, "64MB"};
	ck_assert_int_eq(pg_load_finish_table(dst, &lt, &fo, &err), PG_LOAD_DONE);
	ck_assert_int_eq(pg_load_finish_table(dst, &lt, &fo, &err), PG_LOAD_SKIPPED);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'fz'"
					" AND indexname = 't_v'"), 1);
	ck_assert_int_gt(query_int(dst, "SELECT count(*) FROM pg_stats WHERE schemaname = 'fz'"), 0);
	pg_load_table_progress pr;
	ck_assert_int_eq(pg_load_progress_read(dst, TASK, &lt, &pr, &err), 0);
	ck_assert(pr.finished && pr.partitions_done == 1 && pr.rows == 200000);
	ck_assert_int_eq(pg_load_progress_forget(dst, TASK, &lt, &err), 0);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress"), 0);
	pg_ddl_script_free(&after);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* A table planned in partitions copied whole (whole_table) after one partition was
 * recorded: emptied and loaded once, frozen, every partition recorded; its primary key,
 * deferred by the before-load DDL, comes with the after-load step. */
START_TEST(whole_table_over_partitions)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS wt CASCADE; CREATE SCHEMA wt;"
		     "CREATE TABLE wt.t (id int PRIMARY KEY, v text);"
		     "INSERT INTO wt.t SELECT i, md5(i::text) FROM generate_series(1, 8000) i");
	exec_ok(src, "VACUUM ANALYZE wt.t");
	bookkeeping(dst);
	catalog *cat = read_catalog(src, "wt");
	const catalog_table *t = find_table(cat, "wt", "t");
	pg_ddl_options dopt = {NULL, TABLE_PREP_DROP, true, NULL, NULL, true};
	pg_ddl_script ddl = {0};
	char *err = NULL;
	ck_assert_msg(pg_ddl_before_load(t, &dopt, &ddl, &err) == 0, "before_load: %s", err);
	for (int i = 0; i < ddl.n_statements; i++)
		exec_ok(dst, ddl.statements[i]);
	pg_ddl_script_free(&ddl);
	const char *keys = "SELECT count(*) FROM pg_constraint WHERE conrelid = 'wt.t'::regclass AND contype = 'p'";
	ck_assert_int_eq(query_int(dst, keys), 0);
	pg_load_table lt;
	pg_load_table_options o = {.target_owned = true};
	table_init(&lt, t, &o);
	pg_load_plan plan = {0};
	plan_table(src, dst, &lt, 2000, true, &plan);
	ck_assert_int_eq(plan.n, 4);
	pg_load_source s;
	source_begin(&s, src, NULL);
	copy_part(&s, dst, &lt, &plan.parts[1], NULL);
	/* abandoned mid-way: the recorded partition stays as it was */
	pg_load_copy *c = NULL;
	pg_load_copy_options co = {.task = TASK, .whole_table = true, .chunk_bytes = 4096};
	ck_assert_int_eq(pg_load_copy_start(&s, dst, &lt, &plan.parts[0], &co, &c, &err), PG_LOAD_MORE);
	ck_assert_int_eq(pg_load_copy_step(c, 0, &err), PG_LOAD_MORE);
	pg_load_copy_free(c);
	source_end(&s);
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress"), 1);
	int64_t part2 = query_int(dst, "SELECT count(*) FROM wt.t");
	ck_assert_int_gt(part2, 0);
	source_begin(&s, src, NULL);
	int64_t rows = 0;
	ck_assert_int_eq(pg_load_copy_partition(&s, dst, &lt, &plan.parts[0], &co, &rows, &err), PG_LOAD_DONE);
	source_end(&s);
	ck_assert_int_eq(rows, 8000);
	assert_same_rows(src, "SELECT * FROM wt.t", dst, "SELECT * FROM wt.t", "r.id");
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM ferry.load_progress WHERE partition > 0"), 4);
	ck_assert_int_eq(query_int(dst, "SELECT sum(rows) FROM ferry.load_progress"), 8000);
	/* the later partitions find themselves recorded */
	source_begin(&s, src, NULL);
	for (int i = 1; i < plan.n; i++)
		ck_assert_int_eq(copy_part(&s, dst, &lt, &plan.parts[i], NULL), PG_LOAD_SKIPPED);
	source_end(&s);
	PGresult *res = PQexec(dst, "CREATE EXTENSION IF NOT EXISTS pg_visibility");
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		ck_assert_int_eq(query_int(dst, "SELECT all_frozen FROM pg_visibility_map_summary('wt.t')"),
				 query_int(dst, "SELECT pg_relation_size('wt.t') / 8192"));
	PQclear(res);
	pg_ddl_script after = {0};
	ck_assert(pg_ddl_after_load(t, &dopt, &after, &err) == 0);
	pg_load_finish_options fo = {TASK, &after, false, "64MB"};
	ck_assert_int_eq(pg_load_finish_table(dst, &lt, &fo, &err), PG_LOAD_DONE);
	ck_assert_int_eq(query_int(dst, keys), 1);
	/* run again on a table that has its key (e.g. created with it): nothing changes */
	exec_ok(dst, "DELETE FROM ferry.load_progress WHERE partition = 0");
	ck_assert_msg(pg_load_finish_table(dst, &lt, &fo, &err) == PG_LOAD_DONE, "%s", err ? err : "?");
	ck_assert_int_eq(query_int(dst, keys), 1);
	pg_ddl_script_free(&after);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* Errors name the table and partition and carry the server's message. */
START_TEST(errors_are_values)
{
	PGconn *src = connect_db(src_db), *dst = connect_db(dst_db);
	exec_ok(src, "DROP SCHEMA IF EXISTS er CASCADE; CREATE SCHEMA er;"
		     "CREATE TABLE er.t (id int PRIMARY KEY, v int);"
		     "INSERT INTO er.t SELECT i, i FROM generate_series(1, 1000) i");
	bookkeeping(dst);
	catalog *cat = read_catalog(src, "er");
	const catalog_table *t = find_table(cat, "er", "t");
	create_target(dst, t, NULL);
	exec_ok(dst, "ALTER TABLE er.t ADD CHECK (v < 500)");
	pg_load_table lt;
	pg_load_table_options o = {.target_owned = true};
	table_init(&lt, t, &o);
	pg_load_plan plan = {0};
	plan_table(src, NULL, &lt, 0, true, &plan);
	pg_load_source s;
	source_begin(&s, src, NULL);
	char *err = NULL;
	pg_load_copy_options co = {.task = TASK};
	ck_assert_int_eq(pg_load_copy_partition(&s, dst, &lt, &plan.parts[0], &co, NULL, &err),
			 PG_LOAD_ERROR);
	ck_assert_msg(strstr(err, "\"er\".\"t\" partition 1/1") && strstr(err, "target") &&
			      strstr(err, "check constraint") && !strchr(err, '\n'), "%s", err);
	free(err);
	err = NULL;
	/* the target is usable again; a bad row filter fails on the source */
	ck_assert_int_eq(query_int(dst, "SELECT count(*) FROM er.t"), 0);
	source_end(&s);
	pg_load_table bad;
	pg_load_table_options bo = {.filter = "(no_such_column > 1)", .target_owned = true};
	table_init(&bad, t, &bo);
	source_begin(&s, src, NULL);
	ck_assert_int_eq(pg_load_copy_partition(&s, dst, &bad, &plan.parts[0], &co, NULL, &err),
			 PG_LOAD_ERROR);
	ck_assert_msg(strstr(err, "source") && strstr(err, "no_such_column"), "%s", err);
	ck_assert(s.aborted);
	free(err);
	source_end(&s);
	pg_load_table_free(&bad);
	pg_load_plan_free(&plan);
	pg_load_table_free(&lt);
	catalog_free(cat);
	PQfinish(src);
	PQfinish(dst);
}
END_TEST

/* ---- setup ------------------------------------------------------------------------------------ */

static int create_databases(void)
{
	snprintf(src_db, sizeof src_db, "ferry_load_src_%d", (int)getpid());
	snprintf(dst_db, sizeof dst_db, "ferry_load_dst_%d", (int)getpid());
	PGconn *admin = PQconnectdb(conninfo);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(admin));
		PQfinish(admin);
		return -1;
	}
	char sql[256];
	int rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(sql, sizeof sql, "CREATE DATABASE %s", i == 0 ? src_db : dst_db);
		PGresult *res = PQexec(admin, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	PQfinish(admin);
	return rc;
}

static void drop_databases(void)
{
	PGconn *admin = PQconnectdb(conninfo);
	char sql[256];
	for (int i = 0; i < 2; i++) {
		snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", i == 0 ? src_db : dst_db);
		PQclear(PQexec(admin, sql));
	}
	PQfinish(admin);
}

static Suite *offline_suite(void)
{
	Suite *s = suite_create("pg_load offline");
	TCase *tc = tcase_create("plan cuts");
	tcase_add_test(tc, cuts_even_and_histogram);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *live_suite(void)
{
	Suite *s = suite_create("pg_load live");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{"int ranges", int_ranges_cover_every_row_once},
		{"ctid ranges", ctid_ranges_cover_every_row_once},
		{"exported snapshot", exported_snapshot_while_inserting},
		{"varied types binary", varied_types_binary},
		{"varied types text", varied_types_text},
		{"partitioned parent", partitioned_parent},
		{"restart int", restart_int_partitions},
		{"restart ctid", restart_ctid_partitions},
		{"other shape", other_shape_refused},
		{"freeze and after-load", whole_table_frozen_then_indexed},
		{"whole table over partitions", whole_table_over_partitions},
		{"errors", errors_are_values},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(offline_suite());
	conninfo = getenv("FERRY_TEST_PGCONNINFO");
	bool live = conninfo != NULL && *conninfo != '\0';
	if (live && create_databases() < 0) {
		drop_databases();
		srunner_free(sr);
		return 1;
	}
	if (live)
		srunner_add_suite(sr, live_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (live)
		drop_databases();
	if (failed > 0)
		return 1;
	return live ? 0 : SKIP_EXIT;
}
