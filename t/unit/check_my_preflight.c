/* Unit tests: the MySQL/MariaDB source preflight. Reading grants offline; against a
 * live MariaDB (FERRY_TEST_MYSQL_SOCKET, root, database app): each failure says what to
 * change, and a source that is ready passes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "common/config.h"
#include "workers/my_preflight.h"
#include "workers/my_task.h"

START_TEST(grants_are_read)
{
	const char *mariadb[] = {"GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `ferry`@`%`",
				 "GRANT ALL PRIVILEGES ON `app`.* TO `ferry`@`%`"};
	ck_assert(my_preflight_granted(mariadb, 2, "REPLICATION SLAVE", NULL));
	ck_assert(my_preflight_granted(mariadb, 2, "REPLICATION CLIENT", "BINLOG MONITOR"));
	ck_assert(!my_preflight_granted(mariadb, 2, "SUPER", NULL));
	const char *all[] = {"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"};
	ck_assert(my_preflight_granted(all, 1, "REPLICATION SLAVE", NULL));
	const char *db_only[] = {"GRANT ALL PRIVILEGES ON `app`.* TO `u`@`%`",
				 "GRANT SELECT ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'"};
	ck_assert(!my_preflight_granted(db_only, 2, "REPLICATION SLAVE", NULL));
	/* a privilege name inside another does not count */
	const char *near[] = {"GRANT REPLICATION SLAVE ADMIN ON *.* TO `u`@`%`"};
	ck_assert(!my_preflight_granted(near, 1, "REPLICATION SLAVE", NULL));
}
END_TEST

/* ---- live ------------------------------------------------------------------------------------ */

static MYSQL *root;
static endpoint_config ep;
static task_config task;

static MYSQL *connect_as(const char *user, const char *password)
{
	MYSQL *m = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(m, NULL, user, password, NULL, 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	return m;
}

static void exec(MYSQL *m, const char *sql)
{
	ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
}

static void live_setup(void)
{
	root = connect_as("root", NULL);
	exec(root, "DROP DATABASE IF EXISTS pfdb");
	exec(root, "CREATE DATABASE pfdb");
	exec(root, "CREATE TABLE pfdb.keyed (id int PRIMARY KEY, v text)");
	exec(root, "CREATE TABLE pfdb.keyless (a int, b int)");
	exec(root, "DROP USER IF EXISTS 'norepl'@'localhost'");
	exec(root, "CREATE USER 'norepl'@'localhost' IDENTIFIED BY 'Pw1'");
	exec(root, "GRANT SELECT ON pfdb.keyed TO 'norepl'@'localhost'");
	ep = (endpoint_config){.name = "src", .engine = ENGINE_MYSQL, .user = "norepl", .dbname = "pfdb"};
	task = (task_config){.name = "t", .source_ep = &ep, .migration_type = MIGRATION_FULL_LOAD_AND_CDC,
			     .server_id = 4242, .load_workers = 1};
}

static void live_teardown(void)
{
	mysql_query(root, "SET GLOBAL binlog_format = 'ROW'");
	mysql_query(root, "SET GLOBAL binlog_row_image = 'FULL'");
	mysql_query(root, "SET GLOBAL binlog_expire_logs_seconds = 0");
	mysql_query(root, "DROP DATABASE IF EXISTS pfdb");
	mysql_query(root, "DROP USER IF EXISTS 'norepl'@'localhost'");
	mysql_close(root);
}

/* Preflight as conn; problems and warnings into the buffers. */
static endpoint_result run(MYSQL *conn, strbuf *problems, strbuf *warnings)
{
	my_task_tables tables;
	char *err = NULL;
	ck_assert_msg(my_task_tables_read(conn, &task, &tables, NULL, NULL, &err) >= 0, "%s", err);
	my_source_info info;
	endpoint_result r = my_preflight(conn, &task, &tables, &info, problems, warnings);
	my_task_tables_free(&tables);
	return r;
}

START_TEST(live_ready_source_passes)
{
	MYSQL *m = connect_as("root", NULL);
	strbuf p = STRBUF_INIT, w = STRBUF_INIT;
	ck_assert_msg(run(m, &p, &w) == ENDPOINT_OK, "%s", strbuf_str(&p));
	ck_assert_str_eq(strbuf_str(&w), "");
	mysql_close(m);
	strbuf_free(&p);
	strbuf_free(&w);
}
END_TEST

START_TEST(live_statement_format_is_refused)
{
	exec(root, "SET GLOBAL binlog_format = 'STATEMENT'");
	MYSQL *m = connect_as("root", NULL);
	strbuf p = STRBUF_INIT;
	ck_assert_int_eq(run(m, &p, NULL), ENDPOINT_FATAL);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&p), "binlog_format = STATEMENT: ferry needs ROW (SET GLOBAL"));
	mysql_close(m);
	strbuf_free(&p);
}
END_TEST

START_TEST(live_minimal_image_needs_keys)
{
	exec(root, "SET GLOBAL binlog_row_image = 'MINIMAL'");
	MYSQL *m = connect_as("root", NULL);
	strbuf p = STRBUF_INIT, w = STRBUF_INIT;
	ck_assert_int_eq(run(m, &p, &w), ENDPOINT_FATAL);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&p), "binlog_row_image = MINIMAL, and pfdb.keyless has no primary key"));
	/* with only keyed tables selected it is a warning */
	string_list_add(&task.include, "pfdb.keyed");
	strbuf_reset(&p);
	ck_assert_msg(run(m, &p, &w) == ENDPOINT_OK, "%s", strbuf_str(&p));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&w), "accepted because every selected table has a primary key"));
	string_list_free(&task.include);
	mysql_close(m);
	strbuf_free(&p);
	strbuf_free(&w);
}
END_TEST

START_TEST(live_missing_privileges_are_named)
{
	MYSQL *m = connect_as("norepl", "Pw1");
	strbuf p = STRBUF_INIT;
	ck_assert_int_eq(run(m, &p, NULL), ENDPOINT_FATAL);
	const char *s = strbuf_str(&p);
	ck_assert_ptr_nonnull(strstr(s, "user norepl lacks REPLICATION SLAVE, which reading the binary log needs: "
				     "GRANT REPLICATION SLAVE ON *.* TO 'norepl'@'<host>'"));
	ck_assert_ptr_nonnull(strstr(s, "user norepl lacks REPLICATION CLIENT"));
	mysql_close(m);
	strbuf_free(&p);
}
END_TEST

START_TEST(live_server_id_and_retention)
{
	MYSQL *m = connect_as("root", NULL);
	char id[32];
	ck_assert_int_eq(mysql_query(m, "SELECT @@server_id"), 0);
	MYSQL_RES *res = mysql_store_result(m);
	snprintf(id, sizeof id, "%s", mysql_fetch_row(res)[0]);
	mysql_free_result(res);
	task.server_id = strtoll(id, NULL, 10);
	strbuf p = STRBUF_INIT, w = STRBUF_INIT;
	ck_assert_int_eq(run(m, &p, &w), ENDPOINT_FATAL);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&p), "is the source server's own server_id"));
	task.server_id = 4242;
	/* a large table and one second of retention */
	exec(root, "SET GLOBAL binlog_expire_logs_seconds = 1");
	my_task_tables tables;
	char *err = NULL;
	ck_assert_int_ge(my_task_tables_read(m, &task, &tables, NULL, NULL, &err), 0);
	for (int i = 0; i < tables.base.cat->n_tables; i++)
		tables.base.cat->tables[i]->est_bytes = 1LL << 34;
	my_source_info info;
	strbuf_reset(&p);
	ck_assert_int_eq(my_preflight(m, &task, &tables, &info, &p, &w), ENDPOINT_OK);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&w), "binary logs are kept 1 s"));
	ck_assert_int_eq(info.retention_s, 1);
	ck_assert(info.mariadb);
	my_task_tables_free(&tables);
	mysql_close(m);
	strbuf_free(&p);
	strbuf_free(&w);
}
END_TEST

static Suite *preflight_suite(void)
{
	Suite *s = suite_create("my_preflight");
	TCase *tc = tcase_create("grants");
	tcase_add_test(tc, grants_are_read);
	suite_add_tcase(s, tc);
	const char *sock = getenv("FERRY_TEST_MYSQL_SOCKET");
	if (sock && *sock) {
		tc = tcase_create("live");
		tcase_add_checked_fixture(tc, live_setup, live_teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, live_ready_source_passes);
		tcase_add_test(tc, live_statement_format_is_refused);
		tcase_add_test(tc, live_minimal_image_needs_keys);
		tcase_add_test(tc, live_missing_privileges_are_named);
		tcase_add_test(tc, live_server_id_and_retention);
		suite_add_tcase(s, tc);
		printf("live: yes\n");
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(preflight_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
