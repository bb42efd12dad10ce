/* Unit tests: MySQL/MariaDB DDL from a PostgreSQL table model (workers/my_ddl.h): column
 * types through the type map, keys MySQL can index, defaults, AUTO_INCREMENT, names it
 * refuses, secondary indexes after the load; from a MySQL table model, the source's own
 * declarations. With FERRY_TEST_MYSQL_SOCKET (a MariaDB root
 * socket) the statements also run on the server. */
#include <check.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "workers/my_ddl.h"

static catalog *cat;

static catalog_column *column(catalog_table *t, const char *name, const char *type_name, catalog_type_class cls,
			      int length)
{
	catalog_column *c = catalog_add_column(t, name, type_name);
	c->type.cls = cls;
	c->type.length = length;
	c->type.precision = -1;
	return c;
}

/* "orders": id bigint identity PK, code text, note varchar(20) default 'n/a', qty int
 * default 0, flag boolean default true, at timestamptz default now(), doc jsonb, tags
 * text[]; indexes on code (plain), note (unique), doc (gin), lower(code). */
static catalog_table *orders(void)
{
	catalog_table *t = catalog_add_table(cat, "shop", "orders");
	catalog_column *c = column(t, "id", "bigint", CATALOG_TYPE_INT8, -1);
	c->not_null = true;
	c->identity = CATALOG_IDENTITY_ALWAYS;
	column(t, "code", "text", CATALOG_TYPE_TEXT, -1);
	c = column(t, "note", "character varying(20)", CATALOG_TYPE_VARCHAR, 20);
	catalog_set_string(&c->default_expr, "'n/a'::character varying");
	c = column(t, "qty", "integer", CATALOG_TYPE_INT4, -1);
	catalog_set_string(&c->default_expr, "(-1)");
	c = column(t, "flag", "boolean", CATALOG_TYPE_BOOL, -1);
	catalog_set_string(&c->default_expr, "true");
	c = column(t, "at", "timestamp(3) with time zone", CATALOG_TYPE_TIMESTAMPTZ, -1);
	c->type.precision = 3;
	catalog_set_string(&c->default_expr, "now()");
	column(t, "doc", "jsonb", CATALOG_TYPE_JSONB, -1);
	c = column(t, "tags", "text[]", CATALOG_TYPE_ARRAY, -1);
	catalog_type_make_array(&c->type)->cls = CATALOG_TYPE_TEXT;
	c = column(t, "odd", "point", CATALOG_TYPE_OTHER, -1);
	c->generated_expr = strdup("point(1,2)");
	int key[1] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "orders_pkey", key, 1);
	catalog_index *idx = catalog_add_index(t, "orders_code");
	catalog_index_add_part(idx, 1, false, 0);
	idx = catalog_add_index(t, "orders_note_key");
	idx->unique = true;
	catalog_index_add_part(idx, 2, true, 0);
	idx = catalog_add_index(t, "orders_code_u");
	idx->unique = true;
	catalog_index_add_part(idx, 1, false, 0);
	idx = catalog_add_index(t, "orders_doc");
	catalog_set_string(&idx->method, "gin");
	catalog_index_add_part(idx, 6, false, 0);
	idx = catalog_add_index(t, "orders_lower");
	idx->has_expression = true;
	return t;
}

static void setup(void)
{
	cat = catalog_new(ENGINE_POSTGRESQL);
}

static void teardown(void)
{
	catalog_free(cat);
}

static bool has_note(const pg_ddl_script *s, const char *needle)
{
	for (int i = 0; i < s->n_notes; i++)
		if (strstr(s->notes[i], needle))
			return true;
	return false;
}

START_TEST(create_table_maps_types_keys_and_defaults)
{
	catalog_table *t = orders();
	my_ddl_options o = {.prep = TABLE_PREP_DROP, .create_tables = true, .collation = "utf8mb4_nopad_bin", .mariadb = true};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(my_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_int_eq(s.n_statements, 3);
	ck_assert_str_eq(s.statements[0], "DROP TABLE IF EXISTS `shop`.`orders`");
	ck_assert_str_eq(s.statements[1], "CREATE DATABASE IF NOT EXISTS `shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin");
	ck_assert_str_eq(s.statements[2],
			 "CREATE TABLE IF NOT EXISTS `shop`.`orders` (\n"
			 "    `id` bigint NOT NULL AUTO_INCREMENT,\n"
			 "    `code` longtext,\n"
			 "    `note` varchar(20) DEFAULT 'n/a',\n"
			 "    `qty` int DEFAULT -1,\n"
			 "    `flag` tinyint(1) DEFAULT 1,\n"
			 "    `at` datetime(3) DEFAULT CURRENT_TIMESTAMP(3),\n"
			 "    `doc` json,\n"
			 "    `tags` json,\n"
			 "    PRIMARY KEY (`id`)\n"
			 ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin");
	ck_assert(has_note(&s, "generated column left out"));
	pg_ddl_script_free(&s);
	/* MySQL takes no literal default on TEXT/BLOB/JSON: left out with a note */
	catalog_set_string(&t->columns[1].default_expr, "'x'::text");
	o.mariadb = false;
	o.prep = TABLE_PREP_NOTHING;
	ck_assert_int_eq(my_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_ptr_nonnull(strstr(s.statements[1], "`code` longtext,"));
	ck_assert(has_note(&s, "default 'x'::text not translated"));
	pg_ddl_script_free(&s);
	o.create_tables = false;
	o.prep = TABLE_PREP_DROP;
	ck_assert_int_eq(my_ddl_before_load(t, &o, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs create_tables"));
	free(err);
	pg_ddl_script_free(&s);
}
END_TEST

START_TEST(text_keys_fit_innodb)
{
	catalog_table *t = catalog_add_table(cat, "public", "k");
	column(t, "a", "text", CATALOG_TYPE_TEXT, -1)->not_null = true;
	column(t, "b", "integer", CATALOG_TYPE_INT4, -1)->not_null = true;
	column(t, "c", "bytea", CATALOG_TYPE_BYTES, -1)->not_null = true;
	int key[3] = {0, 1, 2};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "k_pkey", key, 3);
	strbuf sb = STRBUF_INIT;
	char why[200];
	/* (3072 - 6) / 2 - 2 = 1531 bytes each: varchar of 382 four-byte characters */
	ck_assert_int_eq(my_ddl_column_type(t, 0, &sb, why, sizeof why), 0);
	ck_assert_str_eq(strbuf_str(&sb), "varchar(382)");
	strbuf_reset(&sb);
	ck_assert_int_eq(my_ddl_column_type(t, 2, &sb, why, sizeof why), 0);
	ck_assert_str_eq(strbuf_str(&sb), "varbinary(1531)");
	strbuf_free(&sb);
	my_ddl_options o = {.create_tables = true};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(my_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert(has_note(&s, "created as varchar(382)"));
	pg_ddl_script_free(&s);
}
END_TEST

START_TEST(indexes_after_the_load)
{
	catalog_table *t = orders();
	my_ddl_options o = {.create_tables = true};
	pg_ddl_script s = {0};
	char *err = NULL;
	const char *existing[] = {"PRIMARY", "ORDERS_CODE"}; /* MySQL index names ignore case */
	ck_assert_int_eq(my_ddl_after_load(t, &o, existing, 0, &s, &err), 0);
	ck_assert_int_eq(s.n_statements, 1);
	ck_assert_str_eq(s.statements[0], "ALTER TABLE `shop`.`orders`\n"
					  "    ADD INDEX `orders_code` (`code`(191)),\n"
					  "    ADD UNIQUE INDEX `orders_note_key` (`note` DESC)");
	ck_assert(has_note(&s, "orders_code_u on shop.orders: not created (unique on unbounded text"));
	ck_assert(has_note(&s, "orders_doc on shop.orders: not created (gin)"));
	ck_assert(has_note(&s, "orders_lower on shop.orders: not created (expression or partial index)"));
	pg_ddl_script_free(&s);
	ck_assert_int_eq(my_ddl_after_load(t, &o, existing, 2, &s, &err), 0);
	ck_assert_str_eq(s.statements[0], "ALTER TABLE `shop`.`orders`\n    ADD UNIQUE INDEX `orders_note_key` (`note` DESC)");
	pg_ddl_script_free(&s);
}
END_TEST

static void rename_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	(void)arg;
	(void)t;
	*schema = "app";
	*name = "tbl";
}

START_TEST(names_mysql_refuses_are_listed_before_anything)
{
	catalog_table *t = catalog_add_table(cat, "public", "t");
	char long_name[80];
	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	column(t, long_name, "integer", CATALOG_TYPE_INT4, -1);
	column(t, "Name", "text", CATALOG_TYPE_TEXT, -1);
	column(t, "name", "text", CATALOG_TYPE_TEXT, -1);
	column(t, "trail ", "integer", CATALOG_TYPE_INT4, -1);
	column(t, "tz", "time with time zone", CATALOG_TYPE_TIMETZ, -1);
	column(t, "j", "json", CATALOG_TYPE_JSON, -1);
	int key[1] = {5};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "t_pkey", key, 1);
	/* 64 two-byte letters are 64 characters: allowed */
	char letters[130] = "";
	for (int i = 0; i < 64; i++)
		strcat(letters, "\xc3\xa9");
	column(t, letters, "integer", CATALOG_TYPE_INT4, -1);
	my_ddl_options o = {.create_tables = true};
	strbuf problems = STRBUF_INIT;
	ck_assert_int_eq(my_ddl_check_table(t, &o, &problems), 5);
	const char *p = strbuf_str(&problems);
	ck_assert_ptr_nonnull(strstr(p, "is longer than MySQL's 64 characters"));
	ck_assert_ptr_nonnull(strstr(p, "\"Name\" and \"name\" differ only in case"));
	ck_assert_ptr_nonnull(strstr(p, "\"trail \" ends with a space"));
	ck_assert_ptr_nonnull(strstr(p, "column tz: "));
	ck_assert_ptr_nonnull(strstr(p, "column j: a json column cannot be part of a MySQL key"));
	ck_assert_int_eq(my_ddl_name_chars(letters), 64);
	strbuf_free(&problems);
	/* names come from the rules: a renamed table is checked under its new name */
	catalog_table *ok = catalog_add_table(cat, "public", long_name);
	column(ok, "a", "integer", CATALOG_TYPE_INT4, -1);
	catalog_name_map map = {.table = rename_table};
	o.names = &map;
	strbuf_init(&problems);
	ck_assert_int_eq(my_ddl_check_table(ok, &o, &problems), 0);
	strbuf_free(&problems);
	strbuf sb = STRBUF_INIT;
	my_ddl_append_table(&sb, ok, &map);
	ck_assert_str_eq(strbuf_str(&sb), "`app`.`tbl`");
	strbuf_free(&sb);
}
END_TEST

/* ---- live: the statements on a real server ------------------------------------------------ */

static MYSQL *live_connect(void)
{
	const char *sock = getenv("FERRY_TEST_MYSQL_SOCKET");
	if (sock == NULL || *sock == '\0')
		return NULL;
	MYSQL *m = mysql_init(NULL);
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	ck_assert_msg(mysql_real_connect(m, NULL, "root", NULL, NULL, 0, sock, 0) != NULL, "connect: %s", mysql_error(m));
	return m;
}

static void run(MYSQL *m, const char *sql)
{
	ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
	MYSQL_RES *r = mysql_store_result(m);
	if (r)
		mysql_free_result(r);
}

START_TEST(live_statements_run)
{
	MYSQL *m = live_connect();
	if (m == NULL)
		return;
	catalog_table *t = orders();
	my_ddl_options o = {.prep = TABLE_PREP_DROP, .create_tables = true, .collation = "utf8mb4_nopad_bin",
			    .mariadb = true};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(my_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_int_eq(my_ddl_after_load(t, &o, NULL, 0, &s, &err), 0);
	for (int i = 0; i < s.n_statements; i++)
		run(m, s.statements[i]);
	run(m, "INSERT INTO shop.orders (code, note) VALUES ('a', 'x'), ('A', 'y'), ('a ', DEFAULT)");
	ck_assert_int_eq(mysql_query(m, "SELECT count(DISTINCT code), max(id), min(note) FROM shop.orders"), 0);
	MYSQL_RES *r = mysql_store_result(m);
	MYSQL_ROW row = mysql_fetch_row(r);
	ck_assert_str_eq(row[0], "3"); /* binary, no-pad: three different texts */
	ck_assert_str_eq(row[1], "3"); /* AUTO_INCREMENT */
	ck_assert_str_eq(row[2], "n/a");
	mysql_free_result(r);
	run(m, "DROP DATABASE shop");
	pg_ddl_script_free(&s);
	mysql_close(m);
	printf("live: yes\n");
}
END_TEST

/* A MySQL source's table: types, collations and defaults as the source declares them. */
START_TEST(mysql_source_keeps_its_declarations)
{
	catalog *my = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(my, "app", "t");
	catalog_column *c = column(t, "id", "int(10) unsigned", CATALOG_TYPE_UINT4, -1);
	c->not_null = true;
	c->auto_increment = true;
	c = column(t, "v", "varchar(30)", CATALOG_TYPE_VARCHAR, 30);
	catalog_set_string(&c->collation, "latin1_swedish_ci");
	catalog_set_string(&c->default_expr, "'it''s'");
	c = column(t, "at", "datetime(6)", CATALOG_TYPE_TIMESTAMP, -1);
	catalog_set_string(&c->default_expr, "current_timestamp(6)");
	catalog_set_string(&c->on_update, "current_timestamp(6)");
	c = column(t, "n", "int(11)", CATALOG_TYPE_INT4, -1);
	catalog_set_string(&c->default_expr, "(1 + 2)");
	c = column(t, "doc", "longtext", CATALOG_TYPE_TEXT, -1);
	catalog_set_string(&c->collation, "utf8mb4_bin");
	catalog_set_string(&c->default_expr, "'{}'");
	int key[1] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "PRIMARY", key, 1);
	strbuf out = STRBUF_INIT;
	char *err = NULL;
	my_ddl_options o = {.prep = TABLE_PREP_DROP, .create_tables = true, .mariadb = true};
	ck_assert_msg(my_ddl_create_table(t, &o, &out, NULL, &err) == 0, "%s", err);
	const char *sql = strbuf_str(&out);
	ck_assert_msg(strstr(sql, "`id` int(10) unsigned NOT NULL AUTO_INCREMENT") != NULL, "%s", sql);
	ck_assert_msg(strstr(sql, "`v` varchar(30) CHARACTER SET `latin1` COLLATE `latin1_swedish_ci` DEFAULT 'it''s'"),
		      "%s", sql);
	ck_assert_msg(strstr(sql, "`at` datetime(6) DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)") != NULL,
		      "%s", sql);
	ck_assert_msg(strstr(sql, "`n` int(11) DEFAULT ((1 + 2))") != NULL, "%s", sql);
	ck_assert_msg(strstr(sql, "`doc` longtext CHARACTER SET `utf8mb4` COLLATE `utf8mb4_bin` DEFAULT '{}'"), "%s", sql);
	/* MySQL 8 takes only expression defaults on TEXT: the literal goes in parentheses */
	o.mariadb = false;
	strbuf_reset(&out);
	ck_assert_msg(my_ddl_create_table(t, &o, &out, NULL, &err) == 0, "%s", err);
	ck_assert_msg(strstr(strbuf_str(&out), "DEFAULT ('{}')") != NULL, "%s", strbuf_str(&out));
	ck_assert_msg(strstr(strbuf_str(&out), "`v` varchar(30) CHARACTER SET `latin1` COLLATE `latin1_swedish_ci` DEFAULT 'it''s'"),
		      "%s", strbuf_str(&out));
	strbuf_free(&out);
	catalog_free(my);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("my_ddl");
	TCase *tc = tcase_create("ddl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_table_maps_types_keys_and_defaults);
	tcase_add_test(tc, text_keys_fit_innodb);
	tcase_add_test(tc, indexes_after_the_load);
	tcase_add_test(tc, names_mysql_refuses_are_listed_before_anything);
	tcase_add_test(tc, mysql_source_keeps_its_declarations);
	tcase_add_test(tc, live_statements_run);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_set_fork_status(sr, CK_NOFORK); /* the live case prints to our stdout */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
