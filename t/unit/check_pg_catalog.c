/* Catalog reader and DDL against a real PostgreSQL: read varied tables into the model,
 * create them again in other schemas from the generated DDL, read those back and check
 * both models agree. Skipped (exit 77) unless FERRY_TEST_PGCONNINFO names a server the
 * test may create and drop schemas on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "workers/pg_catalog.h"
#include "workers/pg_ddl.h"

#define SKIP_EXIT 77

static const char *conninfo;
/* Source schemas, their round-trip targets, and a target for renamed columns; the pid
 * keeps parallel runs apart. */
static char src1[64], src2[64], dst1[64], dst2[64], dst3[64];

/* ---- helpers ---------------------------------------------------------------------------- */

static PGconn *connect_db(void)
{
	PGconn *conn = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
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

/* The first value of a one-row query, copied into buf. */
static const char *query_value(PGconn *conn, const char *sql, char *buf, size_t size)
{
	PGresult *res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s\n-> %s",
		      sql, PQresultErrorMessage(res));
	snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return buf;
}

/* sql with every @S1@ / @S2@ replaced by the quoted source schema names. */
static char *with_schemas(const char *sql)
{
	strbuf sb = STRBUF_INIT;
	for (const char *p = sql; *p != '\0'; p++) {
		if (strncmp(p, "@S1@", 4) == 0 || strncmp(p, "@S2@", 4) == 0) {
			sql_append_pg_ident(&sb, p[2] == '1' ? src1 : src2);
			p += 3;
		} else {
			strbuf_append_char(&sb, *p);
		}
	}
	return strbuf_detach(&sb);
}

static catalog *read_schemas(PGconn *conn, const char *a, const char *b)
{
	const char *schemas[2] = {a, b};
	pg_catalog_filter filter = {schemas, b != NULL ? 2 : 1, NULL, NULL};
	catalog *cat = NULL;
	char *err = NULL;
	int rc = pg_catalog_read(conn, &filter, &cat, &err);
	ck_assert_msg(rc == 0, "pg_catalog_read: %s", err ? err : "?");
	return cat;
}

static catalog_table *table(const catalog *cat, const char *schema, const char *name)
{
	catalog_table *t = catalog_find_table(cat, schema, name);
	ck_assert_msg(t != NULL, "table %s.%s not read", schema, name);
	return t;
}

static const catalog_column *column(const catalog_table *t, const char *name)
{
	int i = catalog_find_column(t, name);
	ck_assert_msg(i >= 0, "column %s of %s not read", name, t->name);
	return &t->columns[i];
}

/* Source schema -> target schema, for the round trip; columns unchanged unless the
 * rename test sets these. */
typedef struct schema_map {
	const char *from1, *to1, *from2, *to2;
	const char *col_from, *col_to, *col_excluded;
} schema_map;

static const char *map_schema(void *arg, const char *schema)
{
	const schema_map *m = arg;
	if (strcmp(schema, m->from1) == 0)
		return m->to1;
	if (m->from2 != NULL && strcmp(schema, m->from2) == 0)
		return m->to2;
	return schema;
}

static void map_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	*schema = map_schema(arg, t->schema);
	*name = t->name;
}

static const char *map_column(void *arg, const catalog_table *t, const catalog_column *c)
{
	const schema_map *m = arg;
	if (m->col_excluded != NULL && strcmp(c->name, m->col_excluded) == 0)
		return NULL;
	if (m->col_from != NULL && strcmp(c->name, m->col_from) == 0)
		return m->col_to;
	return c->name;
}

/* Runs before-load and after-load DDL of every table; returns the notes joined. */
static char *create_all(PGconn *conn, const catalog *cat, const catalog_name_map *map,
			table_prep_kind prep)
{
	strbuf notes = STRBUF_INIT;
	pg_ddl_options o = {map, prep, true, NULL, NULL, false};
	for (int i = 0; i < cat->n_tables; i++) {
		pg_ddl_script s = {0};
		char *err = NULL;
		int rc = pg_ddl_before_load(cat->tables[i], &o, &s, &err);
		ck_assert_msg(rc == 0, "before_load %s: %s", cat->tables[i]->name, err ? err : "?");
		rc = pg_ddl_after_load(cat->tables[i], &o, &s, &err);
		ck_assert_msg(rc == 0, "after_load %s: %s", cat->tables[i]->name, err ? err : "?");
		for (int j = 0; j < s.n_statements; j++)
			exec_ok(conn, s.statements[j]);
		for (int j = 0; j < s.n_notes; j++)
			strbuf_appendf(&notes, "%s\n", s.notes[j]);
		pg_ddl_script_free(&s);
	}
	return strbuf_detach(&notes);
}

/* ---- source fixture ---------------------------------------------------------------------- */

static const char source_sql[] =
	"CREATE SCHEMA @S1@;"
	"CREATE SCHEMA @S2@;"
	"CREATE TYPE @S1@.\"mood \"\"e\"\"\" AS ENUM ('ok', 'it''s', E'back\\\\slash', 'ünï');"
	"CREATE TABLE @S1@.varied ("
	" id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" a int[], j jsonb, b bytea, n numeric(12,3), nu numeric, ts timestamptz(3), u uuid,"
	" e @S1@.\"mood \"\"e\"\"\" DEFAULT 'ok', ea @S1@.\"mood \"\"e\"\"\"[], big text,"
	" vc varchar(20), ch char(3), bt bit(8), vb varbit(16), ip inet, cd cidr, dt date,"
	" tm time(2), ttz timetz, tsp timestamp, iv interval, ivf interval year to month, js json,"
	" f4 real, f8 double precision, bo boolean, i2 smallint, i8 bigint, vca varchar(10)[],"
	" pt point, gen numeric GENERATED ALWAYS AS (n * 2) STORED,"
	" \"Weird \"\"Col\"\" Ä\" text COLLATE \"C\" DEFAULT 'x''y' NOT NULL,"
	" created timestamptz DEFAULT now() NOT NULL, r float8 DEFAULT random(),"
	" ct timestamptz DEFAULT clock_timestamp(), total numeric DEFAULT (1 + 2));"
	"CREATE INDEX varied_j ON @S1@.varied USING gin (j);"
	"CREATE INDEX varied_expr ON @S1@.varied (lower(big)) WHERE big IS NOT NULL;"
	"CREATE TABLE @S1@.serial_t (id serial PRIMARY KEY, name text UNIQUE, code text);"
	"CREATE INDEX serial_code ON @S1@.serial_t (code DESC NULLS LAST) INCLUDE (name);"
	"CREATE TABLE @S1@.nopk (a int, b text);"
	"ALTER TABLE @S1@.nopk REPLICA IDENTITY FULL;"
	"CREATE TABLE @S1@.ri_idx (a int NOT NULL, b int);"
	"CREATE UNIQUE INDEX ri_u ON @S1@.ri_idx (a);"
	"ALTER TABLE @S1@.ri_idx REPLICA IDENTITY USING INDEX ri_u;"
	"CREATE TABLE @S1@.measurements (id bigint GENERATED BY DEFAULT AS IDENTITY,"
	" logdate date NOT NULL, city int NOT NULL, v numeric, PRIMARY KEY (id, logdate, city))"
	" PARTITION BY RANGE (logdate);"
	"CREATE TABLE @S1@.m2024 PARTITION OF @S1@.measurements"
	" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
	"CREATE TABLE @S1@.m2025 PARTITION OF @S1@.measurements"
	" FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (city);"
	"CREATE TABLE @S1@.m2025_a PARTITION OF @S1@.m2025 FOR VALUES IN (1, 2);"
	"CREATE TABLE @S1@.m2025_b PARTITION OF @S1@.m2025 FOR VALUES IN (3);"
	"CREATE TABLE @S1@.mdef PARTITION OF @S1@.measurements DEFAULT;"
	"CREATE INDEX measurements_v ON @S1@.measurements (v);"
	"INSERT INTO @S1@.measurements (logdate, city, v)"
	" SELECT date '2024-06-01' + (i % 400), 1 + i % 3, i FROM generate_series(1, 1000) i;"
	"CREATE SEQUENCE @S1@.down_seq AS integer INCREMENT BY -2 MINVALUE -1000 MAXVALUE 0"
	" START WITH 0 CACHE 5 CYCLE;"
	"CREATE TABLE @S1@.down (id integer DEFAULT nextval('@S1@.down_seq') PRIMARY KEY);"
	"ALTER SEQUENCE @S1@.down_seq OWNED BY @S1@.down.id;"
	"CREATE TABLE @S2@.\"Mixed \"\"Case\"\" Tbl ✓\" (id serial PRIMARY KEY,"
	" \"Spaced \"\"Col\"\" Ä\" text NOT NULL DEFAULT '', \"UPPER\" int);"
	"CREATE UNIQUE INDEX \"Idx \"\"q\"\" ü\" ON @S2@.\"Mixed \"\"Case\"\" Tbl ✓\""
	" (\"Spaced \"\"Col\"\" Ä\", \"UPPER\" DESC);"
	"INSERT INTO @S2@.\"Mixed \"\"Case\"\" Tbl ✓\" (\"Spaced \"\"Col\"\" Ä\") VALUES ('a'), ('b'), ('c');"
	"ANALYZE @S1@.measurements, @S2@.\"Mixed \"\"Case\"\" Tbl ✓\";";

static void drop_schema(PGconn *conn, const char *schema)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "DROP SCHEMA IF EXISTS ");
	sql_append_pg_ident(&sb, schema);
	strbuf_append(&sb, " CASCADE");
	PQclear(PQexec(conn, strbuf_str(&sb)));
	strbuf_free(&sb);
}

static void drop_schemas(PGconn *conn)
{
	const char *all[] = {src1, src2, dst1, dst2, dst3};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		drop_schema(conn, all[i]);
}

/* ---- reading ------------------------------------------------------------------------------- */

START_TEST(reads_tables_and_kinds)
{
	PGconn *conn = connect_db();
	catalog *cat = read_schemas(conn, src1, src2);
	/* partitions are folded into their parent */
	ck_assert_int_eq(cat->n_tables, 7);
	ck_assert_ptr_null(catalog_find_table(cat, src1, "m2024"));
	catalog_table *m = table(cat, src1, "measurements");
	ck_assert_int_eq(m->kind, CATALOG_TABLE_PARTITIONED);
	ck_assert_str_eq(m->partition_key, "RANGE (logdate)");
	ck_assert_int_eq(m->est_rows, 1000);
	ck_assert_int_gt(m->est_bytes, 8192);
	ck_assert_int_eq(m->n_partitions, 5);
	ck_assert_str_eq(m->partitions[0].name, "m2024");
	ck_assert_int_eq(m->partitions[0].parent, -1);
	ck_assert_str_eq(m->partitions[0].bound, "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
	ck_assert_str_eq(m->partitions[1].name, "m2025");
	ck_assert_str_eq(m->partitions[1].partition_key, "LIST (city)");
	ck_assert_str_eq(m->partitions[2].bound, "DEFAULT");
	ck_assert_str_eq(m->partitions[3].name, "m2025_a");
	ck_assert_int_eq(m->partitions[3].parent, 1);
	ck_assert_str_eq(m->partitions[3].bound, "FOR VALUES IN (1, 2)");
	ck_assert_int_eq(m->key_kind, CATALOG_KEY_PRIMARY);
	ck_assert_int_eq(m->n_key_columns, 3);
	ck_assert_int_eq(m->key_columns[2], 2);

	catalog_table *w = table(cat, src2, "Mixed \"Case\" Tbl ✓");
	ck_assert_int_eq(w->est_rows, 3);
	ck_assert_int_eq(w->kind, CATALOG_TABLE_PLAIN);
	ck_assert_str_eq(w->columns[1].name, "Spaced \"Col\" Ä");
	ck_assert_str_eq(w->columns[1].default_expr, "''::text");
	ck_assert_int_eq(w->n_indexes, 1);
	ck_assert_str_eq(w->indexes[0].name, "Idx \"q\" ü");
	ck_assert_int_eq(w->indexes[0].n_parts, 2);
	ck_assert(w->indexes[0].parts[1].descending);
	ck_assert_str_eq(w->indexes[0].definition_tail,
			 "USING btree (\"Spaced \"\"Col\"\" Ä\", \"UPPER\" DESC)");
	ck_assert_str_eq(w->sequences[0].name, "Mixed \"Case\" Tbl ✓_id_seq");

	catalog_table *nopk = table(cat, src1, "nopk");
	ck_assert_int_eq(nopk->replica_identity, CATALOG_RI_FULL);
	ck_assert_int_eq(nopk->key_kind, CATALOG_KEY_NONE);
	/* never analyzed: unknown (PG 14+), or 0 on older servers, which cannot tell */
	ck_assert(nopk->est_rows == -1 || (PQserverVersion(conn) < 140000 && nopk->est_rows == 0));
	catalog_table *ri = table(cat, src1, "ri_idx");
	ck_assert_int_eq(ri->replica_identity, CATALOG_RI_INDEX);
	ck_assert_str_eq(ri->replica_identity_index, "ri_u");
	ck_assert_int_eq(ri->key_kind, CATALOG_KEY_UNIQUE);
	ck_assert_str_eq(ri->key_name, "ri_u");
	ck_assert_int_eq(ri->key_columns[0], 0);
	catalog_free(cat);

	/* one schema only, and a keep_table filter */
	const char *one[1] = {src2};
	pg_catalog_filter f = {one, 1, NULL, NULL};
	char *err = NULL;
	ck_assert_int_eq(pg_catalog_read(conn, &f, &cat, &err), 0);
	ck_assert_int_eq(cat->n_tables, 1);
	catalog_free(cat);
	PQfinish(conn);
}
END_TEST

static bool keep_serial_only(void *arg, const char *schema, const char *name)
{
	return strcmp(name, "serial_t") == 0;
}

START_TEST(reads_columns_defaults_sequences)
{
	PGconn *conn = connect_db();
	const char *one[1] = {src1};
	pg_catalog_filter f = {one, 1, keep_serial_only, NULL};
	catalog *cat = NULL;
	char *err = NULL;
	ck_assert_int_eq(pg_catalog_read(conn, &f, &cat, &err), 0);
	ck_assert_int_eq(cat->n_tables, 1);
	catalog_table *s = table(cat, src1, "serial_t");
	ck_assert_int_eq(s->n_sequences, 1);
	ck_assert_str_eq(s->sequences[0].name, "serial_t_id_seq");
	ck_assert(!s->sequences[0].identity);
	ck_assert_int_eq(s->sequences[0].column, 0);
	ck_assert_str_eq(s->sequences[0].data_type, "integer");
	ck_assert_int_eq(s->sequences[0].max_value, 2147483647);
	ck_assert_int_eq(s->columns[0].default_sequence, 0);
	ck_assert(s->columns[0].default_volatile);
	ck_assert_int_eq(s->n_indexes, 2);
	ck_assert_str_eq(s->indexes[0].definition_tail,
			 "USING btree (code DESC NULLS LAST) INCLUDE (name)");
	ck_assert_int_eq(s->indexes[0].n_parts, 1); /* INCLUDE columns are no key parts */
	ck_assert(s->indexes[1].unique);
	catalog_free(cat);

	cat = read_schemas(conn, src1, NULL);
	catalog_table *v = table(cat, src1, "varied");
	const catalog_column *c = column(v, "id");
	ck_assert_int_eq(c->identity, CATALOG_IDENTITY_ALWAYS);
	ck_assert_int_eq(v->sequences[0].column, 0);
	ck_assert(v->sequences[0].identity);
	c = column(v, "e");
	ck_assert_int_eq(c->type.cls, CATALOG_TYPE_ENUM);
	ck_assert_str_eq(c->type.udt_name, "mood \"e\"");
	ck_assert_str_eq(c->type.udt_schema, src1);
	ck_assert_int_eq(c->type.n_labels, 4);
	ck_assert_str_eq(c->type.labels[2], "back\\slash");
	ck_assert_str_eq(c->type.labels[3], "ünï");
	c = column(v, "ea");
	ck_assert_int_eq(c->type.cls, CATALOG_TYPE_ARRAY);
	ck_assert_int_eq(c->type.element->cls, CATALOG_TYPE_ENUM);
	ck_assert_int_eq(c->type.element->n_labels, 4);
	c = column(v, "n");
	ck_assert_int_eq(c->type.precision, 12);
	ck_assert_int_eq(c->type.scale, 3);
	ck_assert_int_eq(column(v, "nu")->type.precision, -1);
	ck_assert_int_eq(column(v, "ts")->type.precision, 3);
	ck_assert_int_eq(column(v, "tm")->type.precision, 2);
	ck_assert_int_eq(column(v, "vc")->type.length, 20);
	ck_assert_int_eq(column(v, "bt")->type.length, 8);
	ck_assert_int_eq(column(v, "vca")->type.element->length, 10);
	ck_assert_int_eq(column(v, "pt")->type.cls, CATALOG_TYPE_OTHER);
	ck_assert_int_eq(column(v, "b")->type.cls, CATALOG_TYPE_BYTES);
	ck_assert_int_eq(column(v, "j")->type.cls, CATALOG_TYPE_JSONB);
	ck_assert_int_eq(column(v, "u")->type.cls, CATALOG_TYPE_UUID);
	ck_assert_int_eq(column(v, "a")->type.element->cls, CATALOG_TYPE_INT4);
	c = column(v, "gen");
	ck_assert_ptr_nonnull(c->generated_expr);
	ck_assert_ptr_null(c->default_expr);
	c = column(v, "Weird \"Col\" Ä");
	ck_assert_str_eq(c->collation, "pg_catalog.\"C\"");
	ck_assert_str_eq(c->default_expr, "'x''y'::text");
	ck_assert(c->not_null);
	ck_assert(!c->default_volatile);
	ck_assert(!column(v, "created")->default_volatile); /* now() is stable */
	ck_assert(column(v, "r")->default_volatile);
	ck_assert(column(v, "ct")->default_volatile);
	ck_assert(!column(v, "total")->default_volatile);
	ck_assert_int_eq(column(v, "r")->default_sequence, -1);
	ck_assert_ptr_null(column(v, "big")->collation);

	catalog_table *d = table(cat, src1, "down");
	ck_assert_int_eq(d->sequences[0].increment, -2);
	ck_assert_int_eq(d->sequences[0].min_value, -1000);
	ck_assert(d->sequences[0].cycle);
	ck_assert_int_eq(d->columns[0].default_sequence, 0);
	catalog_free(cat);
	PQfinish(conn);
}
END_TEST

/* Every column with a neutral class renders back to exactly what format_type printed. */
START_TEST(neutral_class_renders_as_format_type)
{
	PGconn *conn = connect_db();
	catalog *cat = read_schemas(conn, src1, src2);
	int checked = 0;
	for (int i = 0; i < cat->n_tables; i++) {
		const catalog_table *t = cat->tables[i];
		for (int j = 0; j < t->n_columns; j++) {
			const catalog_column *c = &t->columns[j];
			if (c->type.cls == CATALOG_TYPE_OTHER || strcmp(c->name, "ivf") == 0)
				continue; /* interval fields are not in the class */
			strbuf sb = STRBUF_INIT;
			ck_assert_int_eq(pg_ddl_type_name(&c->type, NULL, &sb), 0);
			if (c->type.cls == CATALOG_TYPE_ENUM || (c->type.element != NULL &&
								 c->type.element->cls == CATALOG_TYPE_ENUM)) {
				ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "\"mood \"\"e\"\"\""));
			} else {
				ck_assert_msg(strcmp(strbuf_str(&sb), c->type_name) == 0, "%s: %s vs %s",
					      c->name, strbuf_str(&sb), c->type_name);
			}
			strbuf_free(&sb);
			checked++;
		}
	}
	ck_assert_int_ge(checked, 40);
	catalog_free(cat);
	PQfinish(conn);
}
END_TEST

START_TEST(errors_carry_the_query)
{
	PGconn *conn = connect_db();
	exec_ok(conn, "BEGIN");
	PGresult *res = PQexec(conn, "SELECT 1/0");
	PQclear(res);
	catalog *cat = NULL;
	char *err = NULL;
	ck_assert_int_eq(pg_catalog_read(conn, NULL, &cat, &err), -1);
	ck_assert_ptr_null(cat);
	const char *want = "reading search_path: current transaction is aborted";
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	free(err);
	exec_ok(conn, "ROLLBACK");

	/* inside the caller's transaction: its search_path comes back */
	exec_ok(conn, "BEGIN");
	exec_ok(conn, "SET LOCAL search_path = pg_catalog, \"my path\"");
	ck_assert_int_eq(pg_catalog_read(conn, NULL, &cat, &err), 0);
	char buf[128];
	ck_assert_str_eq(query_value(conn, "SHOW search_path", buf, sizeof buf), "pg_catalog, \"my path\"");
	ck_assert_int_eq(PQtransactionStatus(conn), PQTRANS_INTRANS);
	exec_ok(conn, "ROLLBACK");
	catalog_free(cat);

	/* its own transaction is closed again, and the session's search_path untouched */
	ck_assert_int_eq(pg_catalog_read(conn, NULL, &cat, &err), 0);
	ck_assert_int_eq(PQtransactionStatus(conn), PQTRANS_IDLE);
	ck_assert_str_eq(query_value(conn, "SHOW search_path", buf, sizeof buf), "\"$user\", public");
	catalog_free(cat);

	catalog_sequence missing = {.schema = src1, .name = "no such seq"};
	int64_t last;
	bool called;
	ck_assert_int_eq(pg_catalog_sequence_state(conn, &missing, &last, &called, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "reading sequence "));
	ck_assert_ptr_nonnull(strstr(err, "\"no such seq\": relation "));
	ck_assert_ptr_null(strchr(err, '\n'));
	free(err);
	PQfinish(conn);
}
END_TEST

/* ---- round trip ----------------------------------------------------------------------------- */

static void assert_same_type(const catalog_column *s, const catalog_column *t,
			     const schema_map *m)
{
	ck_assert_msg(catalog_type_equal(&s->type, &t->type), "column %s: type classes differ", s->name);
	ck_assert_uint_eq(s->type_oid == 0, t->type_oid == 0);
	ck_assert_int_eq(s->typmod, t->typmod);
	const catalog_type *st = s->type.cls == CATALOG_TYPE_ARRAY ? s->type.element : &s->type;
	const catalog_type *tt = t->type.cls == CATALOG_TYPE_ARRAY ? t->type.element : &t->type;
	if (st->cls == CATALOG_TYPE_ENUM) {
		ck_assert_str_eq(st->udt_name, tt->udt_name);
		ck_assert_str_eq(map_schema((void *)m, st->udt_schema), tt->udt_schema);
	} else {
		ck_assert_str_eq(s->type_name, t->type_name);
		ck_assert_uint_eq(s->type_oid, t->type_oid);
	}
}

static void assert_same_default(const catalog_column *s, const catalog_column *t)
{
	if (s->default_sequence >= 0) {
		ck_assert_msg(t->default_sequence >= 0, "column %s lost its sequence default", s->name);
	} else if (s->default_expr != NULL && !s->default_volatile) {
		ck_assert_ptr_nonnull(t->default_expr);
		if (s->type.cls != CATALOG_TYPE_ENUM) /* the enum cast names the schema */
			ck_assert_str_eq(s->default_expr, t->default_expr);
		else
			ck_assert_str_eq(t->default_expr + strlen(t->default_expr) - strlen(t->type_name),
					 t->type_name);
	} else {
		ck_assert_msg(t->default_expr == NULL, "column %s: default %s on the target", s->name,
			      t->default_expr);
	}
}

static void assert_same_columns(const catalog_table *s, const catalog_table *t, const schema_map *m)
{
	ck_assert_int_eq(s->n_columns, t->n_columns);
	for (int i = 0; i < s->n_columns; i++) {
		const catalog_column *sc = &s->columns[i], *tc = &t->columns[i];
		ck_assert_str_eq(sc->name, tc->name);
		assert_same_type(sc, tc, m);
		ck_assert_msg(sc->not_null == tc->not_null, "column %s: not null", sc->name);
		ck_assert_int_eq(sc->identity, tc->identity);
		ck_assert_int_eq(sc->generated_expr != NULL, tc->generated_expr != NULL);
		if (sc->generated_expr != NULL)
			ck_assert_str_eq(sc->generated_expr, tc->generated_expr);
		ck_assert_int_eq(sc->collation != NULL, tc->collation != NULL);
		if (sc->collation != NULL)
			ck_assert_str_eq(sc->collation, tc->collation);
		assert_same_default(sc, tc);
	}
}

static void assert_same_table(const catalog_table *s, const catalog_table *t, const schema_map *m)
{
	assert_same_columns(s, t, m);
	ck_assert_int_eq(s->kind, t->kind);
	ck_assert_int_eq(s->replica_identity, t->replica_identity);
	ck_assert_int_eq(s->key_kind, t->key_kind);
	ck_assert_int_eq(s->n_key_columns, t->n_key_columns);
	for (int k = 0; k < s->n_key_columns; k++)
		ck_assert_int_eq(s->key_columns[k], t->key_columns[k]);
	if (s->key_name != NULL)
		ck_assert_str_eq(s->key_name, t->key_name);
	ck_assert_int_eq(s->n_indexes, t->n_indexes);
	for (int i = 0; i < s->n_indexes; i++) {
		ck_assert_str_eq(s->indexes[i].name, t->indexes[i].name);
		ck_assert_str_eq(s->indexes[i].definition_tail, t->indexes[i].definition_tail);
		ck_assert_int_eq(s->indexes[i].unique, t->indexes[i].unique);
	}
	ck_assert_int_eq(s->n_sequences, t->n_sequences);
	for (int i = 0; i < s->n_sequences; i++) {
		const catalog_sequence *a = &s->sequences[i], *b = &t->sequences[i];
		ck_assert_str_eq(a->name, b->name);
		ck_assert_str_eq(map_schema((void *)m, a->schema), b->schema);
		ck_assert_int_eq(a->column, b->column);
		ck_assert_int_eq(a->identity, b->identity);
		ck_assert_str_eq(a->data_type, b->data_type);
		ck_assert(a->start == b->start && a->increment == b->increment && a->cycle == b->cycle);
		ck_assert(a->min_value == b->min_value && a->max_value == b->max_value && a->cache == b->cache);
	}
	ck_assert_int_eq(s->partition_key != NULL, t->partition_key != NULL);
	if (s->partition_key != NULL)
		ck_assert_str_eq(s->partition_key, t->partition_key);
	ck_assert_int_eq(s->n_partitions, t->n_partitions);
	for (int i = 0; i < s->n_partitions; i++) {
		ck_assert_str_eq(s->partitions[i].name, t->partitions[i].name);
		ck_assert_str_eq(s->partitions[i].bound, t->partitions[i].bound);
		ck_assert_int_eq(s->partitions[i].parent, t->partitions[i].parent);
	}
}

START_TEST(round_trip_through_ddl)
{
	PGconn *conn = connect_db();
	drop_schema(conn, dst1);
	drop_schema(conn, dst2);
	catalog *src = read_schemas(conn, src1, src2);
	schema_map m = {src1, dst1, src2, dst2, NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &m};
	char *notes = create_all(conn, src, &map, TABLE_PREP_DROP);
	ck_assert_ptr_nonnull(strstr(notes, ".varied.r: volatile default random() not created\n"));
	ck_assert_ptr_nonnull(strstr(notes, ".varied.ct: volatile default clock_timestamp() not created\n"));
	free(notes);

	catalog *dst = read_schemas(conn, dst1, dst2);
	ck_assert_int_eq(dst->n_tables, src->n_tables);
	for (int i = 0; i < src->n_tables; i++) {
		const catalog_table *s = src->tables[i];
		const catalog_table *t = table(dst, map_schema(&m, s->schema), s->name);
		assert_same_table(s, t, &m);
		strbuf why = STRBUF_INIT;
		ck_assert_msg(catalog_table_shape_diff(s, &map, t, &why) == 0, "%s: %s", s->name,
			      strbuf_str(&why));
		strbuf_free(&why);
	}

	/* again, as a restart would: truncate/nothing reuse what is there; the enum block
	 * accepts the type with the same labels */
	free(create_all(conn, src, &map, TABLE_PREP_TRUNCATE));
	free(create_all(conn, src, &map, TABLE_PREP_NOTHING));
	catalog_free(dst);
	catalog_free(src);
	PQfinish(conn);
}
END_TEST

START_TEST(enum_with_other_labels_is_refused)
{
	PGconn *conn = connect_db();
	drop_schema(conn, dst1);
	catalog *src = read_schemas(conn, src1, NULL);
	schema_map m = {src1, dst1, NULL, NULL, NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &m};
	free(create_all(conn, src, &map, TABLE_PREP_DROP));
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "ALTER TYPE ");
	sql_append_pg_qualified(&sb, dst1, "mood \"e\"");
	strbuf_append(&sb, " ADD VALUE 'extra'");
	exec_ok(conn, strbuf_str(&sb));
	strbuf_free(&sb);

	pg_ddl_options o = {&map, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(table(src, src1, "varied"), &o, &s, &err), 0);
	int failed = 0;
	for (int j = 0; j < s.n_statements; j++) {
		PGresult *res = PQexec(conn, s.statements[j]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			failed++;
			ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(res), "exists with other labels"));
			ck_assert_ptr_nonnull(strstr(s.statements[j], "DO $ferry$"));
		}
		PQclear(res);
		if (failed)
			break;
	}
	ck_assert_int_eq(failed, 1);
	pg_ddl_script_free(&s);
	catalog_free(src);
	PQfinish(conn);
}
END_TEST

/* Renamed and excluded columns: what can be created is, the shape matches under the map. */
START_TEST(renamed_columns)
{
	PGconn *conn = connect_db();
	drop_schema(conn, dst3);
	catalog *src = read_schemas(conn, src1, NULL);
	schema_map m = {src1, dst3, NULL, NULL, "name", "Name ü", "code"};
	catalog_name_map map = {map_table, map_schema, map_column, &m};
	char *notes = create_all(conn, src, &map, TABLE_PREP_DROP);
	ck_assert_ptr_nonnull(strstr(notes, "index serial_code on "));
	free(notes);
	catalog *dst = read_schemas(conn, dst3, NULL);
	const catalog_table *s = table(src, src1, "serial_t");
	const catalog_table *t = table(dst, dst3, "serial_t");
	ck_assert_int_eq(t->n_columns, 2);
	ck_assert_str_eq(t->columns[1].name, "Name ü");
	ck_assert_int_eq(t->n_indexes, 1);
	ck_assert_str_eq(t->indexes[0].definition_tail, "USING btree (\"Name ü\")");
	ck_assert(t->indexes[0].unique);
	strbuf why = STRBUF_INIT;
	ck_assert_msg(catalog_table_shape_diff(s, &map, t, &why) == 0, "%s", strbuf_str(&why));
	/* the partitioned table keeps its partitioning: no column of it is renamed */
	ck_assert_int_eq(table(dst, dst3, "measurements")->n_partitions, 5);
	strbuf_free(&why);
	catalog_free(dst);
	catalog_free(src);
	PQfinish(conn);
}
END_TEST

/* ---- sequences at cutover ------------------------------------------------------------------ */

static void run_setval(PGconn *conn, const catalog_table *t, int seq, const catalog_name_map *map)
{
	int64_t last;
	bool called;
	char *err = NULL;
	ck_assert_msg(pg_catalog_sequence_state(conn, &t->sequences[seq], &last, &called, &err) == 0,
		      "%s", err ? err : "?");
	strbuf sb = STRBUF_INIT;
	pg_ddl_options o = {map, TABLE_PREP_NOTHING, false, NULL, NULL, false};
	ck_assert_int_eq(pg_ddl_setval(t, &t->sequences[seq], &o, last, called, &sb, &err), 0);
	exec_ok(conn, strbuf_str(&sb));
	strbuf_free(&sb);
}

START_TEST(setval_moves_past_the_maximum)
{
	PGconn *conn = connect_db();
	drop_schema(conn, dst1);
	catalog *src = read_schemas(conn, src1, NULL);
	schema_map m = {src1, dst1, NULL, NULL, NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &m};
	free(create_all(conn, src, &map, TABLE_PREP_DROP));
	char *fill = with_schemas(
		"SELECT nextval(pg_get_serial_sequence('@S1@.serial_t', 'id')) FROM generate_series(1, 10);"
		"SELECT nextval('@S1@.down_seq') FROM generate_series(1, 3);");
	exec_ok(conn, fill);
	free(fill);
	strbuf sb = STRBUF_INIT;
	/* the target holds ids up to 500 (copied rows): the target's maximum wins */
	strbuf_append(&sb, "INSERT INTO ");
	sql_append_pg_qualified(&sb, dst1, "serial_t");
	strbuf_append(&sb, " (id) SELECT generate_series(1, 500)");
	exec_ok(conn, strbuf_str(&sb));
	catalog_table *serial = table(src, src1, "serial_t"), *down = table(src, src1, "down");
	run_setval(conn, serial, 0, &map);
	/* the descending one: empty target, so the source's state wins; with CACHE 5 the
	 * source has reserved 0..-8 already, so -8 counts as handed out */
	run_setval(conn, down, 0, &map);

	char buf[64];
	strbuf_reset(&sb);
	strbuf_append(&sb, "SELECT nextval(pg_get_serial_sequence(");
	strbuf_append(&sb, "'\"");
	strbuf_append(&sb, dst1);
	strbuf_append(&sb, "\".serial_t', 'id'))");
	ck_assert_str_eq(query_value(conn, strbuf_str(&sb), buf, sizeof buf), "501");
	strbuf_reset(&sb);
	strbuf_append(&sb, "SELECT nextval(");
	strbuf_append(&sb, "'\"");
	strbuf_append(&sb, dst1);
	strbuf_append(&sb, "\".down_seq')");
	ck_assert_str_eq(query_value(conn, strbuf_str(&sb), buf, sizeof buf), "-10");
	/* the identity sequence of a table with no rows anywhere: start value comes next */
	run_setval(conn, table(src, src1, "varied"), 0, &map);
	strbuf_reset(&sb);
	strbuf_append(&sb, "INSERT INTO ");
	sql_append_pg_qualified(&sb, dst1, "varied");
	strbuf_append(&sb, " DEFAULT VALUES RETURNING id");
	ck_assert_str_eq(query_value(conn, strbuf_str(&sb), buf, sizeof buf), "1");
	strbuf_free(&sb);
	catalog_free(src);
	PQfinish(conn);
}
END_TEST

static Suite *pg_catalog_suite(void)
{
	Suite *s = suite_create("pg_catalog");
	TCase *tc = tcase_create("read");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reads_tables_and_kinds);
	tcase_add_test(tc, reads_columns_defaults_sequences);
	tcase_add_test(tc, neutral_class_renders_as_format_type);
	tcase_add_test(tc, errors_carry_the_query);
	suite_add_tcase(s, tc);
	tc = tcase_create("round_trip");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip_through_ddl);
	tcase_add_test(tc, enum_with_other_labels_is_refused);
	tcase_add_test(tc, renamed_columns);
	suite_add_tcase(s, tc);
	tc = tcase_create("cutover");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, setval_moves_past_the_maximum);
	suite_add_tcase(s, tc);
	return s;
}

/* Creates the source schemas; 0 on success. Runs before the tests fork. */
static int setup(void)
{
	PGconn *conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "check_pg_catalog: cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	drop_schemas(conn);
	char *sql = with_schemas(source_sql);
	PGresult *res = PQexec(conn, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc < 0)
		fprintf(stderr, "check_pg_catalog: setup failed: %s", PQresultErrorMessage(res));
	PQclear(res);
	free(sql);
	PQfinish(conn);
	return rc;
}

static void teardown(void)
{
	PGconn *conn = PQconnectdb(conninfo);
	if (PQstatus(conn) == CONNECTION_OK) {
		PQclear(PQexec(conn, "SET client_min_messages = warning"));
		drop_schemas(conn);
	}
	PQfinish(conn);
}

int main(void)
{
	conninfo = getenv("FERRY_TEST_PGCONNINFO");
	if (conninfo == NULL || conninfo[0] == '\0') {
		printf("check_pg_catalog: skipped (set FERRY_TEST_PGCONNINFO to a test server)\n");
		return SKIP_EXIT;
	}
	int pid = (int)getpid();
	snprintf(src1, sizeof src1, "ferry_cat_src_%d", pid);
	snprintf(src2, sizeof src2, "Src Sch \"ü\" %d", pid);
	snprintf(dst1, sizeof dst1, "ferry_cat_dst_%d", pid);
	snprintf(dst2, sizeof dst2, "Dst Sch \"ü\" %d", pid);
	snprintf(dst3, sizeof dst3, "ferry_cat_ren_%d", pid);
	if (setup() < 0) {
		teardown();
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(pg_catalog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	teardown();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
