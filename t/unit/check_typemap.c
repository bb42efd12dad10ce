/* Unit tests: the MySQL <-> PostgreSQL type map, and that doc/type-mapping.md says what
 * the code does (every row of its two tables is run through the map). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/typemap.h"

/* A fresh type as a new catalog column has it. */
static catalog_type fresh(void)
{
	catalog_type t;
	memset(&t, 0, sizeof t);
	t.cls = CATALOG_TYPE_OTHER;
	t.length = -1;
	t.precision = -1;
	return t;
}

static void clear(catalog_type *t)
{
	for (int i = 0; i < t->n_labels; i++)
		free(t->labels[i]);
	free(t->labels);
	if (t->element) {
		clear(t->element);
		free(t->element);
	}
	*t = fresh();
}

/* The PostgreSQL spelling of a MySQL COLUMN_TYPE, or "ERROR: why". */
static const char *pg_of(const char *column_type, bool json)
{
	static char buf[300];
	catalog_type t = fresh();
	typemap_pg pg;
	char why[200] = "";
	if (typemap_mysql_parse(column_type, json, &t, why, sizeof why) < 0 ||
	    typemap_mysql_to_pg(&t, &pg, why, sizeof why) < 0)
		snprintf(buf, sizeof buf, "ERROR: %s", why);
	else
		snprintf(buf, sizeof buf, "%s", pg.conv == TYPEMAP_ENUM ? "enum type" : pg.name);
	clear(&t);
	return buf;
}

START_TEST(mysql_parse_classes_and_parameters)
{
	catalog_type t = fresh();
	char why[200];
	ck_assert_int_eq(typemap_mysql_parse("decimal(65,30)", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_NUMERIC);
	ck_assert_int_eq(t.precision, 65);
	ck_assert_int_eq(t.scale, 30);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("bigint(20) unsigned zerofill", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_UINT8);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("tinyint(1)", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_BOOL);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("tinyint(1) unsigned", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_UINT1);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("datetime(6)", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_TIMESTAMP);
	ck_assert_int_eq(t.precision, 6);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("time", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.precision, 0);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("varchar(20)", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_VARCHAR);
	ck_assert_int_eq(t.length, 20);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("longtext", true, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_JSON);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("double precision", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_FLOAT8);
	clear(&t);
}
END_TEST

START_TEST(mysql_parse_labels)
{
	catalog_type t = fresh();
	char why[200];
	/* as COLUMN_TYPE prints them: a quote doubled, a backslash escaped */
	ck_assert_int_eq(typemap_mysql_parse("enum('it''s','b\\\\c','x,y','','\xc3\xa9')", false, &t, why,
					     sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_ENUM);
	ck_assert_int_eq(t.n_labels, 5);
	ck_assert_str_eq(t.labels[0], "it's");
	ck_assert_str_eq(t.labels[1], "b\\c");
	ck_assert_str_eq(t.labels[2], "x,y");
	ck_assert_str_eq(t.labels[3], "");
	ck_assert_str_eq(t.labels[4], "\xc3\xa9");
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("set('a','b')", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(t.cls, CATALOG_TYPE_SET);
	ck_assert_int_eq(t.n_labels, 2);
	clear(&t);
	ck_assert_int_eq(typemap_mysql_parse("enum('a','b", false, &t, why, sizeof why), -1);
	clear(&t);
}
END_TEST

START_TEST(mysql_parse_errors_name_the_type)
{
	catalog_type t = fresh();
	char why[200];
	ck_assert_int_eq(typemap_mysql_parse("geometry", false, &t, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "geometry"));
	ck_assert_ptr_nonnull(strstr(why, "exclude_column"));
	ck_assert_int_eq(typemap_mysql_parse("decimal(66,2)", false, &t, why, sizeof why), -1);
	ck_assert_int_eq(typemap_mysql_parse("bit(65)", false, &t, why, sizeof why), -1);
	ck_assert_int_eq(typemap_mysql_parse("datetime(7)", false, &t, why, sizeof why), -1);
	ck_assert_int_eq(typemap_mysql_parse("int(x)", false, &t, why, sizeof why), -1);
	clear(&t);
}
END_TEST

START_TEST(mysql_to_pg_conversions)
{
	catalog_type t = fresh();
	typemap_pg pg;
	char why[200];
	static const struct {
		const char *type;
		typemap_conv conv;
		catalog_type_class cls;
	} cases[] = {
		{"tinyint(1)", TYPEMAP_BOOL, CATALOG_TYPE_BOOL},
		{"int(10) unsigned", TYPEMAP_UINT, CATALOG_TYPE_INT8},
		{"bigint(20) unsigned", TYPEMAP_UINT, CATALOG_TYPE_NUMERIC},
		{"float", TYPEMAP_FLOAT4, CATALOG_TYPE_FLOAT4},
		{"time(3)", TYPEMAP_TIME, CATALOG_TYPE_INTERVAL},
		{"timestamp(6)", TYPEMAP_TIMESTAMP, CATALOG_TYPE_TIMESTAMPTZ},
		{"datetime", TYPEMAP_DATETIME, CATALOG_TYPE_TIMESTAMP},
		{"binary(4)", TYPEMAP_BYTES, CATALOG_TYPE_BYTES},
		{"set('a')", TYPEMAP_SET, CATALOG_TYPE_ARRAY},
		{"enum('a')", TYPEMAP_ENUM, CATALOG_TYPE_ENUM},
		{"year(4)", TYPEMAP_YEAR, CATALOG_TYPE_INT2},
		{"bit(3)", TYPEMAP_BIT, CATALOG_TYPE_BIT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(typemap_mysql_parse(cases[i].type, false, &t, why, sizeof why), 0);
		ck_assert_int_eq(typemap_mysql_to_pg(&t, &pg, why, sizeof why), 0);
		ck_assert_msg(pg.conv == cases[i].conv && pg.cls == cases[i].cls, "%s: conv %d class %s", cases[i].type,
			      pg.conv, catalog_type_class_name(pg.cls));
		clear(&t);
	}
	ck_assert_int_eq(typemap_mysql_parse("decimal(12,3)", false, &t, why, sizeof why), 0);
	ck_assert_int_eq(typemap_mysql_to_pg(&t, &pg, why, sizeof why), 0);
	ck_assert_int_eq(pg.precision, 12);
	ck_assert_int_eq(pg.scale, 3);
	clear(&t);
	t.cls = CATALOG_TYPE_TIMETZ; /* not a MySQL class */
	ck_assert_int_eq(typemap_mysql_to_pg(&t, &pg, why, sizeof why), -1);
}
END_TEST

START_TEST(pg_to_mysql_limits)
{
	catalog_type t = fresh();
	strbuf sb = STRBUF_INIT;
	char why[200];
	t.cls = CATALOG_TYPE_NUMERIC;
	t.precision = 70;
	t.scale = 2;
	ck_assert_int_eq(typemap_pg_to_mysql(&t, &sb, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "65"));
	t.cls = CATALOG_TYPE_TIMETZ;
	ck_assert_int_eq(typemap_pg_to_mysql(&t, &sb, why, sizeof why), -1);
	t = fresh();
	t.cls = CATALOG_TYPE_ENUM;
	ck_assert_int_eq(catalog_type_add_label(&t, "it's"), 0);
	ck_assert_int_eq(catalog_type_add_label(&t, "a\\b"), 0);
	ck_assert_int_eq(typemap_pg_to_mysql(&t, &sb, why, sizeof why), 0);
	ck_assert_str_eq(strbuf_str(&sb), "enum('it''s','a\\\\b')");
	/* and MySQL's COLUMN_TYPE of that reads back as the same labels */
	catalog_type back = fresh();
	ck_assert_int_eq(typemap_mysql_parse(strbuf_str(&sb), false, &back, why, sizeof why), 0);
	ck_assert(catalog_type_equal(&t, &back));
	clear(&back);
	clear(&t);
	strbuf_free(&sb);
}
END_TEST

START_TEST(invalid_value_substitutes)
{
	ck_assert_str_eq(typemap_substitute(TYPEMAP_DATE), "-infinity");
	ck_assert_str_eq(typemap_substitute(TYPEMAP_TIMESTAMP), "-infinity");
	ck_assert_str_eq(typemap_substitute(TYPEMAP_BOOL), "true");
	ck_assert_ptr_null(typemap_substitute(TYPEMAP_ENUM));
	ck_assert_str_eq(typemap_invalid_values_name(INVALID_VALUES_SUBSTITUTE), "substitute");
	ck_assert_str_eq(typemap_conv_name(TYPEMAP_DATE), "DATE");
}
END_TEST

/* ---- the documentation ----------------------------------------------------------------- */

/* The first two cells of a table row "| `a` | `b` | ..." (backticks removed; a cell
 * without backticks is copied as it is). 0 when line is not a data row. */
static int row_cells(const char *line, char *a, char *b, size_t size)
{
	if (line[0] != '|' || strncmp(line, "|---", 4) == 0)
		return 0;
	const char *p = line + 1;
	char *out[2] = {a, b};
	for (int c = 0; c < 2; c++) {
		const char *end = strchr(p, '|');
		if (end == NULL)
			return 0;
		while (*p == ' ')
			p++;
		const char *q = end;
		while (q > p && q[-1] == ' ')
			q--;
		if (*p == '`' && q > p + 1 && q[-1] == '`') {
			p++;
			q--;
		}
		snprintf(out[c], size, "%.*s", (int)(q - p), p);
		p = end + 1;
	}
	return 1;
}

static FILE *open_doc(void)
{
	const char *top = getenv("top_srcdir");
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/doc/type-mapping.md", top && *top ? top : "."), 0);
	FILE *fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (set top_srcdir)", path);
	free(path);
	return fp;
}

/* Runs check(a, b) on every row of the table after marker; returns the rows seen. */
static int each_row(const char *marker, void (*check)(const char *a, const char *b))
{
	FILE *fp = open_doc();
	char *line = NULL, a[200], b[200];
	size_t cap = 0;
	bool in = false;
	int rows = 0, header = 1;
	while (getline(&line, &cap, fp) > 0) {
		if (strncmp(line, marker, strlen(marker)) == 0) {
			in = true;
			continue;
		}
		if (in && strncmp(line, "<!-- end -->", 12) == 0)
			break;
		if (!in || !row_cells(line, a, b, sizeof a))
			continue;
		if (header-- > 0)
			continue; /* the column titles */
		check(a, b);
		rows++;
	}
	free(line);
	fclose(fp);
	return rows;
}

static void check_mysql_row(const char *mysql, const char *pg)
{
	ck_assert_msg(strcmp(pg_of(mysql, false), pg) == 0, "doc says %s -> %s, the map gives %s", mysql, pg,
		      pg_of(mysql, false));
}

static void check_pg_row(const char *pg, const char *mysql)
{
	catalog_type t = fresh();
	char why[200] = "";
	strbuf sb = STRBUF_INIT;
	if (strcmp(pg, "enum type") == 0) {
		t.cls = CATALOG_TYPE_ENUM;
		ck_assert_int_eq(catalog_type_add_label(&t, "a"), 0);
		ck_assert_int_eq(typemap_pg_to_mysql(&t, &sb, why, sizeof why), 0);
		ck_assert_str_eq(strbuf_str(&sb), "enum('a')");
		ck_assert_str_eq(mysql, "enum(...)");
	} else {
		ck_assert_msg(typemap_pg_parse(pg, &t) == 0, "doc row %s: not a type the test can read", pg);
		ck_assert_msg(typemap_pg_to_mysql(&t, &sb, why, sizeof why) == 0, "%s: %s", pg, why);
		ck_assert_msg(strcmp(strbuf_str(&sb), mysql) == 0, "doc says %s -> %s, the map gives %s", pg, mysql,
			      strbuf_str(&sb));
	}
	strbuf_free(&sb);
	clear(&t);
}

START_TEST(doc_mysql_to_pg_table_matches)
{
	ck_assert_int_ge(each_row("<!-- mysql-to-pg -->", check_mysql_row), 40);
}
END_TEST

START_TEST(doc_pg_to_mysql_table_matches)
{
	ck_assert_int_ge(each_row("<!-- pg-to-mysql -->", check_pg_row), 25);
}
END_TEST

static Suite *typemap_suite(void)
{
	Suite *s = suite_create("typemap");
	TCase *tc = tcase_create("mysql");
	tcase_add_test(tc, mysql_parse_classes_and_parameters);
	tcase_add_test(tc, mysql_parse_labels);
	tcase_add_test(tc, mysql_parse_errors_name_the_type);
	tcase_add_test(tc, mysql_to_pg_conversions);
	tcase_add_test(tc, invalid_value_substitutes);
	suite_add_tcase(s, tc);
	tc = tcase_create("postgresql");
	tcase_add_test(tc, pg_to_mysql_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("documentation");
	tcase_add_test(tc, doc_mysql_to_pg_table_matches);
	tcase_add_test(tc, doc_pg_to_mysql_table_matches);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(typemap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
