/* Unit tests: MySQL values as COPY text (offline), and against live servers
 * (FERRY_TEST_MYSQL_SOCKET, FERRY_TEST_PGCONNINFO) the snapshot with its binlog
 * position, the partition plan and the copy of partitions into PostgreSQL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <mysql.h>

#include "common/typemap.h"
#include "ipc/record.h"
#include "workers/my_catalog.h"
#include "workers/my_load.h"
#include "workers/my_pgmap.h"
#include "workers/my_task.h"
#include "workers/my_value.h"
#include "workers/pg_ddl.h"

/* ---- values -------------------------------------------------------------------------------- */

static my_pg_column column(const char *mysql_type)
{
	my_pg_column mc = {.target = 0};
	catalog_type t = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
	char why[200];
	ck_assert_int_eq(typemap_mysql_parse(mysql_type, false, &t, why, sizeof why), 0);
	ck_assert_int_eq(typemap_mysql_to_pg(&t, &mc.type, why, sizeof why), 0);
	for (int i = 0; i < t.n_labels; i++)
		free(t.labels[i]);
	free(t.labels);
	return mc;
}

static char got[512];
static int copy_text(const char *type, const char *v, size_t len, invalid_values_kind policy)
{
	my_pg_column mc = column(type);
	strbuf sb = STRBUF_INIT;
	my_invalid inv = {.policy = policy};
	char why[400] = "";
	int rc = my_value_copy_text(&sb, &mc, "c", v, len, &inv, why, sizeof why);
	snprintf(got, sizeof got, "%s", rc == 0 ? strbuf_str(&sb) : why);
	strbuf_free(&sb);
	return rc;
}

#define COPY_IS(type, v, want)                                                   \
	do {                                                                     \
		const char *v_ = (v);                                            \
		ck_assert_int_eq(copy_text(type, v_, v_ ? strlen(v_) : 0, INVALID_VALUES_ERROR), 0); \
		ck_assert_str_eq(got, want);                                     \
	} while (0)

START_TEST(values_become_copy_text)
{
	COPY_IS("int(11)", NULL, "\\N");
	COPY_IS("bigint(20) unsigned", "18446744073709551615", "18446744073709551615");
	COPY_IS("tinyint(1)", "1", "t");
	COPY_IS("tinyint(1)", "0", "f");
	COPY_IS("varchar(10)", "a\tb\\c\nd\re", "a\\tb\\\\c\\nd\\re");
	COPY_IS("set('a','b')", "a,b", "{\"a\",\"b\"}");
	COPY_IS("set('a','b')", "", "{}");
	COPY_IS("timestamp(3)", "2038-01-19 03:14:07.999", "2038-01-19 03:14:07.999+00");
	COPY_IS("time(1)", "-838:59:59.5", "-838:59:59.5");
	COPY_IS("enum('x')", "x", "x");
	ck_assert_int_eq(copy_text("blob", "\x00\xff\\", 3, INVALID_VALUES_ERROR), 0);
	ck_assert_str_eq(got, "\\\\x00ff5c");
	ck_assert_int_eq(copy_text("bit(9)", "\x01\x55", 2, INVALID_VALUES_ERROR), 0);
	ck_assert_str_eq(got, "101010101");
	ck_assert_int_eq(copy_text("bit(1)", "\x00", 1, INVALID_VALUES_ERROR), 0);
	ck_assert_str_eq(got, "0");
}
END_TEST

START_TEST(invalid_values_follow_the_policy)
{
	ck_assert_int_eq(copy_text("date", "0000-00-00", 10, INVALID_VALUES_ERROR), -1);
	ck_assert_ptr_nonnull(strstr(got, "column c: DATE value '0000-00-00' written as nothing"));
	ck_assert_ptr_nonnull(strstr(got, "invalid_values = null or substitute"));
	ck_assert_int_eq(copy_text("date", "2024-00-10", 10, INVALID_VALUES_NULL), 0);
	ck_assert_str_eq(got, "\\N");
	ck_assert_int_eq(copy_text("datetime", "0000-00-00 00:00:00", 19, INVALID_VALUES_SUBSTITUTE), 0);
	ck_assert_str_eq(got, "-infinity");
	ck_assert_int_eq(copy_text("tinyint(1)", "7", 1, INVALID_VALUES_SUBSTITUTE), 0);
	ck_assert_str_eq(got, "true");
	ck_assert_int_eq(copy_text("enum('a')", "", 0, INVALID_VALUES_SUBSTITUTE), 0);
	ck_assert_str_eq(got, "\\N");
	ck_assert_int_eq(copy_text("text", "a\0b", 3, INVALID_VALUES_SUBSTITUTE), 0);
	ck_assert_str_eq(got, "ab");
	ck_assert_int_eq(copy_text("text", "a\0b", 3, INVALID_VALUES_ERROR), -1);
	/* counted, and the first one described */
	my_pg_column mc = column("date");
	my_invalid inv = {.policy = INVALID_VALUES_NULL};
	strbuf sb = STRBUF_INIT;
	char why[200];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(my_value_copy_text(&sb, &mc, "d", i ? "2024-05-00" : "0000-00-00", 10, &inv, why,
						    sizeof why), 0);
	ck_assert_uint_eq(inv.count, 3);
	ck_assert_str_eq(inv.first, "column d: DATE value '0000-00-00' written as NULL");
	strbuf_free(&sb);
}
END_TEST

START_TEST(binlog_file_numbers)
{
	ck_assert_uint_eq(my_load_file_number("binlog.000123"), 123);
	ck_assert_uint_eq(my_load_file_number("mysql-bin.1"), 1);
	ck_assert_uint_eq(my_load_file_number("nodot"), 0);
}
END_TEST

/* ---- live ---------------------------------------------------------------------------------------- */

static MYSQL *my;
static PGconn *pg;

static void my_exec(const char *sql)
{
	ck_assert_msg(mysql_query(my, sql) == 0, "%s: %s", sql, mysql_error(my));
	MYSQL_RES *res = mysql_store_result(my); /* ANALYZE TABLE answers with rows */
	if (res)
		mysql_free_result(res);
}

static PGresult *pg_q(const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s",
		      sql, PQerrorMessage(pg));
	return res;
}

static void live_setup(void)
{
	my = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(my, NULL, "root", NULL, NULL, 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	char *err = NULL;
	ck_assert_msg(my_task_session(my, &err) == 0, "%s", err);
	pg = PQconnectdb(getenv("FERRY_TEST_PGCONNINFO"));
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	PQclear(pg_q("SET client_min_messages = warning"));
	my_exec("DROP DATABASE IF EXISTS loaddb");
	my_exec("CREATE DATABASE loaddb");
	my_exec("CREATE TABLE loaddb.t (id int unsigned PRIMARY KEY, f float, d double, b tinyint(1), "
		"dt datetime(6), ts timestamp(6) NULL, tm time(6), s set('a','b'), e enum('x','y'), bn binary(3), "
		"bits bit(5), v varchar(20), j json, y year)");
	my_exec("INSERT INTO loaddb.t SELECT seq, seq / 7, seq / 3, seq % 2, '2024-01-01 00:00:00' + INTERVAL seq SECOND,"
		" FROM_UNIXTIME(seq), SEC_TO_TIME(CAST(seq AS SIGNED) - 500), IF(seq % 3, 'a,b', ''), IF(seq % 2, 'x', 'y'), 'ab',"
		" seq % 32, CONCAT('v\\t', seq), JSON_OBJECT('n', seq), 1901 + seq % 200 FROM loaddb.seq_1_to_1000");
	my_exec("INSERT INTO loaddb.t (id, f, d) VALUES (5000, 3.4028234663852886e38, -1.7976931348623157e308)");
	my_exec("ANALYZE TABLE loaddb.t");
	PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS loaddb CASCADE"));
	PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS ferry CASCADE"));
}

static void live_teardown(void)
{
	mysql_query(my, "DROP DATABASE IF EXISTS loaddb");
	mysql_close(my);
	PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS loaddb CASCADE"));
	PQclear(PQexec(pg, "DROP SCHEMA IF EXISTS ferry CASCADE"));
	PQfinish(pg);
}

START_TEST(live_snapshot_position_is_exact)
{
	MYSQL *other = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(other, NULL, "root", NULL, NULL, 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	my_load_source s;
	char *err = NULL;
	ck_assert_msg(my_load_source_begin(&s, my, true, &err) == 0, "%s", err);
	ck_assert(s.has_position);
	ck_assert_uint_gt(record_mysql_offset(s.position), 4);
	/* a commit after the snapshot moves the binlog past the snapshot's position */
	ck_assert_int_eq(mysql_query(other, "INSERT INTO loaddb.t (id) VALUES (9001)"), 0);
	ck_assert_int_eq(mysql_query(other, "SHOW MASTER STATUS"), 0);
	MYSQL_RES *res = mysql_store_result(other);
	MYSQL_ROW row = mysql_fetch_row(res);
	uint64_t now = record_mysql_position(my_load_file_number(row[0]), (uint32_t)strtoul(row[1], NULL, 10));
	mysql_free_result(res);
	ck_assert_uint_gt(now, s.position);
	/* and the snapshot does not see it */
	ck_assert_int_eq(mysql_query(my, "SELECT count(*) FROM loaddb.t WHERE id = 9001"), 0);
	res = mysql_store_result(my);
	ck_assert_str_eq(mysql_fetch_row(res)[0], "0");
	mysql_free_result(res);
	ck_assert_int_eq(my_load_source_end(&s, &err), 0);
	mysql_close(other);
}
END_TEST

/* Loads loaddb.t with partition_rows 300: 4 key ranges, then compares with the source. */
START_TEST(live_partitions_copy_every_value)
{
	task_config task = {.name = "lt", .migration_type = MIGRATION_FULL_LOAD_AND_CDC};
	endpoint_config ep = {.name = "src", .engine = ENGINE_MYSQL, .dbname = "loaddb"};
	task.source_ep = &ep;
	my_task_tables tt;
	char *err = NULL;
	strbuf problems = STRBUF_INIT;
	ck_assert_msg(my_task_tables_read(my, &task, &tt, &problems, NULL, &err) == 0, "%s%s", err ? err : "",
		      strbuf_str(&problems));
	const my_pg_table *pt = &tt.pg[0];
	pg_ddl_options d = {.prep = TABLE_PREP_DROP, .create_tables = true};
	pg_ddl_script s = {0};
	ck_assert_int_eq(pg_ddl_before_load(pt->target, &d, &s, &err), 0);
	for (int i = 0; i < s.n_statements; i++)
		PQclear(pg_q(s.statements[i]));
	pg_ddl_script_free(&s);
	ck_assert_msg(pg_load_bookkeeping_init(pg, &err) == 0, "%s", err);
	my_load_table lt;
	ck_assert_msg(my_load_table_init(&lt, pt, NULL, true, &err) == 0, "%s", err);
	ck_assert_int_eq(lt.key_column, 0);
	pg_load_plan plan = {0};
	pg_load_plan_options po = {.task = "lt", .partition_rows = 300};
	pg_load_partition *parts = NULL;
	int n_parts = 0;
	ck_assert_msg(my_load_plan_parts(my, &lt, 0, &po, &parts, &n_parts, &err) == 0, "%s", err);
	ck_assert_msg(pg_load_plan_store(pg, &lt.lt, 0, &po, parts, n_parts, &plan, &err) == 0, "%s", err);
	free(parts);
	ck_assert_int_eq(plan.n, 4);
	ck_assert(plan.parts[0].open_lo && plan.parts[3].open_hi);
	my_load_source src;
	ck_assert_msg(my_load_source_begin(&src, my, true, &err) == 0, "%s", err);
	char pos[32];
	snprintf(pos, sizeof pos, "%llu", (unsigned long long)src.position);
	int64_t rows = 0;
	my_load_copy_options co = {.task = "lt", .chunk_bytes = 1000};
	for (int i = 0; i < plan.n; i++) {
		my_load_copy *c = NULL;
		pg_load_status st = my_load_copy_start(&src, pg, &lt, &plan.parts[i], &co, &c, &err);
		while (st == PG_LOAD_MORE)
			st = my_load_copy_step(c, 10, &err);
		ck_assert_msg(st == PG_LOAD_DONE, "partition %d: %s", i + 1, err);
		rows += my_load_copy_rows(c);
		my_load_copy_free(c);
	}
	ck_assert_int_eq(rows, 1001);
	/* a second run skips what is recorded */
	my_load_copy *c = NULL;
	ck_assert_int_eq(my_load_copy_start(&src, pg, &lt, &plan.parts[0], &co, &c, &err), PG_LOAD_SKIPPED);
	ck_assert_int_eq(my_load_source_end(&src, &err), 0);
	PGresult *res = pg_q("SELECT count(*), sum(id), max(f)::text, min(d)::text, count(*) FILTER (WHERE b),"
			     " max(dt)::text, min(ts)::text, min(tm)::text, count(*) FILTER (WHERE s = '{a,b}'),"
			     " count(*) FILTER (WHERE e = 'x'), max(bn::text), max(bits::text), max(v), max(y),"
			     " count(*) FILTER (WHERE j->>'n' = id::text), max(finish_position)"
			     " FROM loaddb.t, ferry.load_progress WHERE task = 'lt' GROUP BY task");
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "4004"); /* 1001 rows x 4 progress rows */
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "3.4028235e+38");
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "-1.7976931348623157e+308");
	ck_assert_str_eq(PQgetvalue(res, 0, 4), "2000");
	ck_assert_str_eq(PQgetvalue(res, 0, 5), "2024-01-01 00:16:40");
	ck_assert_str_eq(PQgetvalue(res, 0, 7), "-00:08:19");
	ck_assert_str_eq(PQgetvalue(res, 0, 8), "2668");
	ck_assert_str_eq(PQgetvalue(res, 0, 9), "2000");
	ck_assert_str_eq(PQgetvalue(res, 0, 10), "\\x616200");
	ck_assert_str_eq(PQgetvalue(res, 0, 11), "11111");
	ck_assert_str_eq(PQgetvalue(res, 0, 12), "v\t999");
	ck_assert_str_eq(PQgetvalue(res, 0, 13), "2100");
	ck_assert_str_eq(PQgetvalue(res, 0, 14), "4000");
	ck_assert_str_eq(PQgetvalue(res, 0, 15), pos); /* the snapshot's position */
	PQclear(res);
	pg_load_plan_free(&plan);
	my_load_table_free(&lt);
	my_task_tables_free(&tt);
	strbuf_free(&problems);
}
END_TEST

static Suite *my_load_suite(void)
{
	Suite *s = suite_create("my_load");
	TCase *tc = tcase_create("values");
	tcase_add_test(tc, values_become_copy_text);
	tcase_add_test(tc, invalid_values_follow_the_policy);
	tcase_add_test(tc, binlog_file_numbers);
	suite_add_tcase(s, tc);
	const char *sock = getenv("FERRY_TEST_MYSQL_SOCKET"), *pgc = getenv("FERRY_TEST_PGCONNINFO");
	if (sock && *sock && pgc && *pgc) {
		tc = tcase_create("live");
		tcase_add_checked_fixture(tc, live_setup, live_teardown);
		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, live_snapshot_position_is_exact);
		tcase_add_test(tc, live_partitions_copy_every_value);
		suite_add_tcase(s, tc);
		printf("live: yes\n");
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(my_load_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
