/* Unit tests: MySQL tables shaped for a PostgreSQL target (names, defaults, DDL text,
 * refusals), and, against live servers, the information_schema reader and the DDL it
 * leads to. The live suite runs when FERRY_TEST_MYSQL_SOCKET names a MariaDB root
 * socket (database app) and FERRY_TEST_PGCONNINFO a PostgreSQL superuser connection. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "common/catalog.h"
#include "common/typemap.h"
#include "workers/my_catalog.h"
#include "workers/my_pgmap.h"
#include "workers/pg_catalog.h"
#include "workers/pg_ddl.h"

/* ---- names and defaults ------------------------------------------------------------------- */

START_TEST(derived_names_fit)
{
	char out[MY_PG_NAME_MAX + 1];
	my_pg_derived_name(out, "orders", "pkey");
	ck_assert_str_eq(out, "orders_pkey");
	char long_name[80];
	memset(long_name, 'x', 60);
	long_name[60] = '\0';
	my_pg_derived_name(out, long_name, "an_index");
	ck_assert_uint_eq(strlen(out), MY_PG_NAME_MAX);
	char other[MY_PG_NAME_MAX + 1];
	my_pg_derived_name(other, long_name, "an_indey");
	ck_assert_str_ne(out, other); /* the hash keeps them apart */
	/* never cut inside a UTF-8 character: 2-byte letters */
	char accents[121] = "";
	for (int i = 0; i < 40; i++)
		strcat(accents, "\xc3\xa9");
	my_pg_derived_name(out, accents, "k");
	ck_assert_int_eq((unsigned char)out[strlen(out) - 10], 0xa9); /* the last kept byte ends a letter */
	ck_assert_uint_le(strlen(out), MY_PG_NAME_MAX);
}
END_TEST

static const char *def(const char *expr, const char *mysql_type)
{
	static char buf[200];
	catalog_type t = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
	typemap_pg pg;
	char why[200];
	ck_assert_int_eq(typemap_mysql_parse(mysql_type, false, &t, why, sizeof why), 0);
	ck_assert_int_eq(typemap_mysql_to_pg(&t, &pg, why, sizeof why), 0);
	strbuf sb = STRBUF_INIT;
	int rc = my_pg_default(expr, &pg, t.length, &sb);
	snprintf(buf, sizeof buf, "%s", rc == 1 ? strbuf_str(&sb) : "(none)");
	strbuf_free(&sb);
	for (int i = 0; i < t.n_labels; i++)
		free(t.labels[i]);
	free(t.labels);
	return buf;
}

START_TEST(defaults_map_or_are_left_out)
{
	ck_assert_str_eq(def("5", "int(11)"), "5");
	ck_assert_str_eq(def("-1.5", "decimal(5,2)"), "-1.5");
	ck_assert_str_eq(def("'x''y'", "varchar(5)"), "'x''y'");
	ck_assert_str_eq(def("'a\\\\b'", "varchar(5)"), "E'a\\\\b'");
	ck_assert_str_eq(def("1", "tinyint(1)"), "true");
	ck_assert_str_eq(def("0", "tinyint(1)"), "false");
	ck_assert_str_eq(def("2", "tinyint(1)"), "(none)");
	ck_assert_str_eq(def("current_timestamp(3)", "timestamp(3)"), "CURRENT_TIMESTAMP");
	ck_assert_str_eq(def("current_timestamp()", "datetime"), "CURRENT_TIMESTAMP");
	ck_assert_str_eq(def("current_timestamp()", "varchar(20)"), "(none)");
	ck_assert_str_eq(def("'0000-00-00'", "date"), "(none)");
	ck_assert_str_eq(def("'2024-00-10 00:00:00'", "datetime"), "(none)");
	ck_assert_str_eq(def("'2024-05-01'", "date"), "'2024-05-01'");
	ck_assert_str_eq(def("b'101'", "bit(3)"), "B'101'");
	ck_assert_str_eq(def("b'1'", "bit(3)"), "B'001'");
	ck_assert_str_eq(def("'a,b'", "set('a','b')"), "'{\"a\",\"b\"}'");
	ck_assert_str_eq(def("''", "set('a','b')"), "'{}'");
	ck_assert_str_eq(def("'b'", "enum('a','b')"), "'b'");
	ck_assert_str_eq(def("NULL", "int(11)"), "(none)");
	ck_assert_str_eq(def("(`a` + 1)", "int(11)"), "(none)");
	ck_assert_str_eq(def("'a' 'b'", "varchar(5)"), "(none)");
	ck_assert_str_eq(def("'x'", "blob"), "(none)");
}
END_TEST

/* ---- a hand-built MySQL table ------------------------------------------------------------- */

static catalog_column *col(catalog_table *t, const char *name, const char *type)
{
	catalog_column *c = catalog_add_column(t, name, type);
	char why[200];
	ck_assert_ptr_nonnull(c);
	if (typemap_mysql_parse(type, false, &c->type, why, sizeof why) < 0)
		c->type.cls = CATALOG_TYPE_OTHER;
	return c;
}

static catalog *sample(void)
{
	catalog *cat = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(cat, "shop", "Orders");
	t->auto_increment_next = 42;
	catalog_column *c = col(t, "id", "int(10) unsigned");
	c->not_null = true;
	c->auto_increment = true;
	col(t, "state", "enum('new','it''s')")->not_null = true;
	col(t, "tags", "set('a','b')");
	c = col(t, "paid", "tinyint(1)");
	catalog_set_string(&c->default_expr, "0");
	c = col(t, "at", "timestamp(3)");
	catalog_set_string(&c->default_expr, "current_timestamp(3)");
	c = col(t, "due", "date");
	catalog_set_string(&c->default_expr, "'0000-00-00'");
	col(t, "big", "bigint(20) unsigned");
	col(t, "secret", "varchar(10)");
	int key[1] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "PRIMARY", key, 1);
	catalog_index *idx = catalog_add_index(t, "by_state");
	catalog_index_add_part(idx, 1, true, 0);
	idx = catalog_add_index(t, "ft");
	catalog_set_string(&idx->method, "FULLTEXT");
	catalog_index_add_part(idx, 7, false, 0);
	idx = catalog_add_index(t, "pre");
	catalog_index_add_part(idx, 7, false, 5);
	return cat;
}

/* Excludes column "secret" and renames the schema. */
static void map_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	(void)arg;
	*schema = "app";
	*name = t->name;
}
static const char *map_column(void *arg, const catalog_table *t, const catalog_column *c)
{
	(void)arg;
	(void)t;
	return strcmp(c->name, "secret") == 0 ? NULL : c->name;
}
static const char *map_schema(void *arg, const char *schema)
{
	(void)arg;
	(void)schema;
	return "app";
}
static const catalog_name_map names = {map_table, map_schema, map_column, NULL};

static char *joined(const pg_ddl_script *s)
{
	strbuf sb = STRBUF_INIT;
	for (int i = 0; i < s->n_statements; i++)
		strbuf_appendf(&sb, "%s;\n", s->statements[i]);
	return strbuf_detach(&sb);
}

START_TEST(table_shape_and_ddl)
{
	catalog *cat = sample();
	my_pg_table pt;
	strbuf problems = STRBUF_INIT;
	pg_ddl_script notes = {0}, before = {0}, after = {0};
	my_pg_options o = {.names = &names, .cdc = true};
	ck_assert_int_eq(my_pg_table_build(cat->tables[0], &o, &pt, &problems, &notes), 0);
	ck_assert_int_eq(pt.n_copied, 7);
	ck_assert_int_eq(pt.cols[7].target, -1); /* secret excluded */
	ck_assert_int_eq(pt.cols[0].type.conv, TYPEMAP_UINT);
	ck_assert_str_eq(pt.target->schema, "app");
	pg_ddl_options d = {.prep = TABLE_PREP_DROP, .create_tables = true};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(pt.target, &d, &before, &err), 0);
	ck_assert_int_eq(pg_ddl_after_load(pt.target, &d, &after, &err), 0);
	char *sql = joined(&before), *idx = joined(&after);
	ck_assert_ptr_nonnull(strstr(sql, "DROP TABLE IF EXISTS \"app\".\"Orders\""));
	ck_assert_ptr_nonnull(strstr(sql, "CREATE TYPE \"app\".\"Orders_state\" AS ENUM ('new', 'it''s')"));
	ck_assert_ptr_nonnull(strstr(sql, "\"id\" bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME "
					  "\"app\".\"Orders_id_seq\" START WITH 42"));
	ck_assert_ptr_nonnull(strstr(sql, "\"state\" \"app\".\"Orders_state\" NOT NULL"));
	ck_assert_ptr_nonnull(strstr(sql, "\"tags\" text[]"));
	ck_assert_ptr_nonnull(strstr(sql, "\"paid\" boolean DEFAULT false"));
	ck_assert_ptr_nonnull(strstr(sql, "\"at\" timestamp(3) with time zone DEFAULT CURRENT_TIMESTAMP"));
	ck_assert_ptr_nonnull(strstr(sql, "\"due\" date,"));
	ck_assert_ptr_nonnull(strstr(sql, "\"big\" numeric(20,0)"));
	ck_assert_ptr_null(strstr(sql, "secret"));
	ck_assert_ptr_nonnull(strstr(sql, "CONSTRAINT \"Orders_pkey\" PRIMARY KEY (\"id\")"));
	ck_assert_ptr_nonnull(strstr(idx, "CREATE INDEX IF NOT EXISTS \"Orders_by_state\" ON \"app\".\"Orders\" "
					  "(\"state\" DESC)"));
	ck_assert_ptr_null(strstr(idx, "ft"));
	/* the left-out default and indexes are noted */
	strbuf all = STRBUF_INIT;
	for (int i = 0; i < notes.n_notes; i++)
		strbuf_appendf(&all, "%s\n", notes.notes[i]);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&all), "default '0000-00-00' not created"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&all), "index ft on shop.Orders: not created (FULLTEXT)"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&all), "index pre on shop.Orders: not created (prefix of a column)"));
	free(sql);
	free(idx);
	strbuf_free(&all);
	strbuf_free(&problems);
	pg_ddl_script_free(&notes);
	pg_ddl_script_free(&before);
	pg_ddl_script_free(&after);
	my_pg_table_free(&pt);
	catalog_free(cat);
}
END_TEST

START_TEST(refusals_list_every_problem)
{
	catalog *cat = catalog_new(ENGINE_MYSQL);
	char long_col[70];
	memset(long_col, 'c', 64);
	long_col[64] = '\0';
	catalog_table *t = catalog_add_table(cat, "app", "t");
	col(t, "g", "geometry");
	col(t, long_col, "int(11)");
	catalog_column *c = col(t, "l", "varchar(5)");
	catalog_set_string(&c->collation, "sjis_japanese_ci");
	my_pg_table pt;
	strbuf problems = STRBUF_INIT;
	my_pg_options o = {.cdc = true};
	ck_assert_int_eq(my_pg_table_build(t, &o, &pt, &problems, NULL), -1);
	const char *p = strbuf_str(&problems);
	ck_assert_ptr_nonnull(strstr(p, "table app.t column g: type geometry has no mapping"));
	ck_assert_ptr_nonnull(strstr(p, "is 64 bytes, PostgreSQL allows 63: shorten it with rename_column"));
	ck_assert_ptr_nonnull(strstr(p, "collation sjis_japanese_ci"));
	ck_assert_ptr_null(pt.target);
	/* full load only: the character set does not matter (the server converts) */
	strbuf_reset(&problems);
	o.cdc = false;
	ck_assert_int_eq(my_pg_table_build(t, &o, &pt, &problems, NULL), -1);
	ck_assert_ptr_null(strstr(strbuf_str(&problems), "collation"));
	strbuf_free(&problems);
	catalog_free(cat);
}
END_TEST

/* ---- live: MariaDB catalog -> PostgreSQL DDL ---------------------------------------------- */

static MYSQL *my;
static PGconn *pg;

static void my_exec(const char *sql)
{
	ck_assert_msg(mysql_query(my, sql) == 0, "%s: %s", sql, mysql_error(my));
}

static void pg_exec(const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s",
		      sql, PQerrorMessage(pg));
	PQclear(res);
}

static void live_setup(void)
{
	my = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(my, NULL, "root", NULL, "app", 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	mysql_set_character_set(my, "utf8mb4");
	pg = PQconnectdb(getenv("FERRY_TEST_PGCONNINFO"));
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	pg_exec("SET client_min_messages = warning");
	my_exec("DROP DATABASE IF EXISTS catdb");
	my_exec("CREATE DATABASE catdb");
	my_exec("CREATE TABLE catdb.every (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,"
		" i8 tinyint, u8 tinyint unsigned, b tinyint(1) DEFAULT 1, i16 smallint, u16 smallint unsigned,"
		" i24 mediumint, u24 mediumint unsigned, i32 int DEFAULT -5, u32 int unsigned, i64 bigint,"
		" d decimal(65,30), f float, g double, bits bit(9) DEFAULT b'11', c char(3), v varchar(20) DEFAULT 'it''s',"
		" tt tinytext, t longtext, bn binary(4), vb varbinary(8), bl blob, e enum('x','y z') NOT NULL DEFAULT 'x',"
		" s set('a','b'), j json, dt date, tm time(3), dtm datetime(6), ts timestamp(2) NULL DEFAULT NULL, y year,"
		" gen int AS (i32 + 1) VIRTUAL, KEY by_v (v DESC, i32), UNIQUE KEY by_s (s))");
	my_exec("CREATE TABLE catdb.nokey (a int NOT NULL, b varchar(300), UNIQUE KEY ua (a), KEY pb (b(10)))");
	my_exec("CREATE TABLE catdb.keyless (a int, b int)");
	PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS catdb CASCADE"));
}

static void live_teardown(void)
{
	if (my) {
		mysql_query(my, "DROP DATABASE IF EXISTS catdb");
		mysql_close(my);
	}
	if (pg) {
		PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS catdb CASCADE"));
		PQfinish(pg);
	}
}

START_TEST(live_catalog_reads_types_and_keys)
{
	catalog *cat = NULL;
	char *err = NULL;
	my_catalog_filter f = {.database = "catdb"};
	ck_assert_msg(my_catalog_read(my, &f, &cat, &err) == 0, "%s", err);
	ck_assert_int_eq(cat->n_tables, 3);
	catalog_table *t = catalog_find_table(cat, "catdb", "every");
	ck_assert_ptr_nonnull(t);
	ck_assert(t->id == my_catalog_table_id("catdb", "every"));
	ck_assert_int_eq(t->key_kind, CATALOG_KEY_PRIMARY);
	ck_assert_int_eq(t->n_key_columns, 1);
	ck_assert_int_eq(t->columns[t->key_columns[0]].type.cls, CATALOG_TYPE_UINT8);
	ck_assert(t->columns[0].auto_increment);
	ck_assert_int_eq(t->columns[catalog_find_column(t, "b")].type.cls, CATALOG_TYPE_BOOL);
	ck_assert_int_eq(t->columns[catalog_find_column(t, "j")].type.cls, CATALOG_TYPE_JSON);
	ck_assert_int_eq(t->columns[catalog_find_column(t, "e")].type.n_labels, 2);
	ck_assert_ptr_nonnull(t->columns[catalog_find_column(t, "gen")].generated_expr);
	ck_assert_str_eq(t->columns[catalog_find_column(t, "v")].default_expr, "'it''s'");
	ck_assert_int_eq(t->n_indexes, 2); /* PRIMARY became the key */
	int by_v = catalog_find_index(t, "by_v");
	ck_assert_int_ge(by_v, 0);
	ck_assert(t->indexes[by_v].parts[0].descending);
	t = catalog_find_table(cat, "catdb", "nokey");
	ck_assert_int_eq(t->key_kind, CATALOG_KEY_UNIQUE);
	ck_assert_str_eq(t->key_name, "ua");
	ck_assert_int_eq(t->indexes[catalog_find_index(t, "pb")].parts[0].prefix_length, 10);
	ck_assert_int_eq(catalog_find_table(cat, "catdb", "keyless")->key_kind, CATALOG_KEY_NONE);
	catalog_free(cat);
}
END_TEST

static const char *pg_type_of(const catalog_table *t, const char *name)
{
	int i = catalog_find_column(t, name);
	return i >= 0 ? t->columns[i].type_name : "(missing)";
}

START_TEST(live_ddl_runs_on_postgresql)
{
	catalog *cat = NULL;
	char *err = NULL;
	my_catalog_filter f = {.database = "catdb"};
	ck_assert_msg(my_catalog_read(my, &f, &cat, &err) == 0, "%s", err);
	for (int i = 0; i < cat->n_tables; i++) {
		my_pg_table pt;
		strbuf problems = STRBUF_INIT;
		my_pg_options o = {.cdc = true};
		ck_assert_msg(my_pg_table_build(cat->tables[i], &o, &pt, &problems, NULL) == 0, "%s", strbuf_str(&problems));
		pg_ddl_options d = {.prep = TABLE_PREP_DROP, .create_tables = true};
		pg_ddl_script s = {0};
		ck_assert_int_eq(pg_ddl_before_load(pt.target, &d, &s, &err), 0);
		ck_assert_int_eq(pg_ddl_after_load(pt.target, &d, &s, &err), 0);
		for (int k = 0; k < s.n_statements; k++)
			pg_exec(s.statements[k]);
		pg_ddl_script_free(&s);
		my_pg_table_free(&pt);
		strbuf_free(&problems);
	}
	catalog *back = NULL;
	const char *schemas[] = {"catdb"};
	pg_catalog_filter pf = {.schemas = schemas, .n_schemas = 1};
	ck_assert_msg(pg_catalog_read(pg, &pf, &back, &err) == 0, "%s", err);
	const catalog_table *t = catalog_find_table(back, "catdb", "every");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(pg_type_of(t, "id"), "numeric(20,0)");
	ck_assert_str_eq(pg_type_of(t, "u32"), "bigint");
	ck_assert_str_eq(pg_type_of(t, "b"), "boolean");
	ck_assert_str_eq(pg_type_of(t, "d"), "numeric(65,30)");
	ck_assert_str_eq(pg_type_of(t, "f"), "real");
	ck_assert_str_eq(pg_type_of(t, "bits"), "bit(9)");
	ck_assert_str_eq(pg_type_of(t, "e"), "catdb.every_e");
	ck_assert_str_eq(pg_type_of(t, "s"), "text[]");
	ck_assert_str_eq(pg_type_of(t, "j"), "jsonb");
	ck_assert_str_eq(pg_type_of(t, "tm"), "interval(3)");
	ck_assert_str_eq(pg_type_of(t, "ts"), "timestamp(2) with time zone");
	ck_assert_str_eq(pg_type_of(t, "gen"), "integer");
	ck_assert_int_eq(t->key_kind, CATALOG_KEY_PRIMARY);
	ck_assert_int_eq(t->n_indexes, 2);
	t = catalog_find_table(back, "catdb", "nokey");
	ck_assert_int_eq(t->n_indexes, 1); /* ua; the prefix index pb is left out */
	catalog_free(back);
	catalog_free(cat);
}
END_TEST

static Suite *my_catalog_suite(void)
{
	Suite *s = suite_create("my_catalog");
	TCase *tc = tcase_create("offline");
	tcase_add_test(tc, derived_names_fit);
	tcase_add_test(tc, defaults_map_or_are_left_out);
	tcase_add_test(tc, table_shape_and_ddl);
	tcase_add_test(tc, refusals_list_every_problem);
	suite_add_tcase(s, tc);
	const char *sock = getenv("FERRY_TEST_MYSQL_SOCKET"), *pgc = getenv("FERRY_TEST_PGCONNINFO");
	if (sock && *sock && pgc && *pgc) {
		tc = tcase_create("live");
		tcase_add_checked_fixture(tc, live_setup, live_teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, live_catalog_reads_types_and_keys);
		tcase_add_test(tc, live_ddl_runs_on_postgresql);
		suite_add_tcase(s, tc);
		printf("live: yes\n"); /* 065_my_engines.sh checks the live cases ran */
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(my_catalog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
