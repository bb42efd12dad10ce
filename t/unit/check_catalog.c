/* Unit tests: string buffer, SQL quoting, the table model, and PostgreSQL DDL text for a
 * hand-built model (no server needed). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "workers/pg_ddl.h"

/* ---- strbuf ------------------------------------------------------------------------- */

START_TEST(strbuf_grows_and_formats)
{
	strbuf sb = STRBUF_INIT;
	ck_assert_str_eq(strbuf_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		strbuf_appendf(&sb, "%d,", i % 10);
	ck_assert_uint_eq(sb.len, 2000);
	ck_assert_int_eq(sb.data[1998], '9');
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	strbuf_reset(&sb);
	strbuf_appendf(&sb, "<%s>", big); /* longer than the first try's room */
	ck_assert_uint_eq(sb.len, 301);
	ck_assert_int_eq(sb.data[300], '>');
	strbuf_append_len(&sb, "abc", 2);
	strbuf_append_char(&sb, '!');
	ck_assert_str_eq(strbuf_str(&sb) + 301, "ab!");
	char *s = strbuf_detach(&sb);
	ck_assert_uint_eq(strlen(s), 304);
	ck_assert_ptr_null(sb.data);
	free(s);
	s = strbuf_detach(&sb); /* empty buffer: "" */
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(strbuf_failure_is_sticky)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "SELECT ");
	sb.failed = true; /* what a failed realloc leaves */
	strbuf_append(&sb, "more");
	strbuf_appendf(&sb, "%d", 42);
	ck_assert(strbuf_failed(&sb));
	ck_assert_str_eq(strbuf_str(&sb), "");
	ck_assert(!strbuf_reserve(&sb, 1));
	ck_assert_ptr_null(strbuf_detach(&sb));
	ck_assert_ptr_null(sb.data);
	strbuf_append(&sb, "ok"); /* usable again after detach */
	ck_assert_str_eq(strbuf_str(&sb), "ok");
	strbuf_reset(&sb);
	ck_assert_str_eq(strbuf_str(&sb), "");
	strbuf_free(&sb);
}
END_TEST

/* ---- quoting ------------------------------------------------------------------------- */

static char *pg_ident(const char *s)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_ident(&sb, s);
	return strbuf_detach(&sb);
}

START_TEST(quote_pg_identifiers)
{
	const struct { const char *in, *out; } cases[] = {
		{"plain", "\"plain\""},
		{"MixedCase", "\"MixedCase\""},
		{"with space", "\"with space\""},
		{"quo\"te", "\"quo\"\"te\""},
		{"\"", "\"\"\"\""},
		{"Grüße ü", "\"Grüße ü\""},
		{"select", "\"select\""},
		{"", "\"\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = pg_ident(cases[i].in);
		ck_assert_str_eq(got, cases[i].out);
		free(got);
	}
	strbuf sb = STRBUF_INIT;
	sql_append_pg_qualified(&sb, "My Schema", "T\"1");
	strbuf_append(&sb, " ");
	sql_append_pg_qualified(&sb, NULL, "t");
	strbuf_append(&sb, " ");
	sql_append_pg_qualified(&sb, "", "u");
	ck_assert_str_eq(strbuf_str(&sb), "\"My Schema\".\"T\"\"1\" \"t\" \"u\"");
	strbuf_free(&sb);
}
END_TEST

START_TEST(quote_pg_literals)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_literal(&sb, "it's");
	ck_assert_str_eq(strbuf_str(&sb), "'it''s'");
	strbuf_reset(&sb);
	sql_append_pg_literal(&sb, "a\\b'c");
	ck_assert_str_eq(strbuf_str(&sb), "E'a\\\\b''c'");
	strbuf_reset(&sb);
	strbuf_append(&sb, "x = ");
	sql_append_pg_literal(&sb, "ünï");
	ck_assert_str_eq(strbuf_str(&sb), "x = 'ünï'");
	strbuf_reset(&sb);
	strbuf_append(&sb, "SELECT");
	sql_append_pg_literal(&sb, "\\"); /* never "SELECTE'..." */
	ck_assert_str_eq(strbuf_str(&sb), "SELECT E'\\\\'");
	strbuf_reset(&sb);
	sql_append_pg_literal(&sb, "");
	ck_assert_str_eq(strbuf_str(&sb), "''");
	strbuf_reset(&sb);
	strbuf_append_char(&sb, '{');
	sql_append_pg_array_element(&sb, "a\"b\\c");
	strbuf_append_char(&sb, ',');
	sql_append_pg_array_element(&sb, "NULL");
	strbuf_append_char(&sb, '}');
	ck_assert_str_eq(strbuf_str(&sb), "{\"a\\\"b\\\\c\",\"NULL\"}");
	strbuf_free(&sb);
}
END_TEST

START_TEST(quote_mysql_identifiers)
{
	strbuf sb = STRBUF_INIT;
	sql_append_mysql_ident(&sb, "we`ird Ä");
	ck_assert_str_eq(strbuf_str(&sb), "`we``ird Ä`");
	strbuf_reset(&sb);
	sql_append_mysql_qualified(&sb, "App DB", "t\"x");
	ck_assert_str_eq(strbuf_str(&sb), "`App DB`.`t\"x`");
	strbuf_reset(&sb);
	sql_append_mysql_qualified(&sb, NULL, "``");
	ck_assert_str_eq(strbuf_str(&sb), "``````");
	strbuf_free(&sb);
}
END_TEST

/* ---- the model ------------------------------------------------------------------------- */

/* "public"."Order Items": identity key, an enum, a generated column, a volatile default, a
 * serial-style counter, a column rules may exclude, two indexes, REPLICA IDENTITY FULL. */
static catalog *order_items(void)
{
	catalog *cat = catalog_new(ENGINE_POSTGRESQL);
	catalog_table *t = catalog_add_table(cat, "public", "Order Items");
	t->id = 16400;
	t->replica_identity = CATALOG_RI_FULL;
	catalog_column *c = catalog_add_column(t, "id", "bigint");
	c->type.cls = CATALOG_TYPE_INT8;
	c->not_null = true;
	c->identity = CATALOG_IDENTITY_ALWAYS;
	c = catalog_add_column(t, "Name", "text");
	c->type.cls = CATALOG_TYPE_TEXT;
	c->not_null = true;
	catalog_set_string(&c->collation, "pg_catalog.\"C\"");
	catalog_set_string(&c->default_expr, "'x'::text");
	c = catalog_add_column(t, "status", "public.\"st\"\"at\"");
	c->type.cls = CATALOG_TYPE_ENUM;
	catalog_set_string(&c->type.udt_schema, "public");
	catalog_set_string(&c->type.udt_name, "st\"at");
	catalog_type_add_label(&c->type, "new");
	catalog_type_add_label(&c->type, "it's");
	catalog_type_add_label(&c->type, "a\\b");
	catalog_set_string(&c->default_expr, "'new'::public.\"st\"\"at\"");
	c = catalog_add_column(t, "total", "numeric(12,2)");
	c->type.cls = CATALOG_TYPE_NUMERIC;
	c->type.precision = 12;
	c->type.scale = 2;
	catalog_set_string(&c->generated_expr, "(id * 2)");
	c = catalog_add_column(t, "noise", "double precision");
	c->type.cls = CATALOG_TYPE_FLOAT8;
	catalog_set_string(&c->default_expr, "random()");
	c->default_volatile = true;
	c = catalog_add_column(t, "cnt", "integer");
	c->type.cls = CATALOG_TYPE_INT4;
	catalog_set_string(&c->default_expr, "nextval('public.cnt_seq'::regclass)");
	c->default_volatile = true;
	c->default_sequence = 1;
	c = catalog_add_column(t, "secret", "text[]");
	catalog_type_make_array(&c->type)->cls = CATALOG_TYPE_TEXT;

	int key[] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "Order Items_pkey", key, 1);
	catalog_sequence *s = catalog_add_sequence(t, "public", "Order Items_id_seq");
	s->column = 0;
	s->identity = true;
	catalog_set_string(&s->data_type, "bigint");
	*s = (catalog_sequence){s->schema, s->name, 0, true, s->data_type, 1, 1, 1, INT64_MAX, 1, false};
	s = catalog_add_sequence(t, "public", "cnt_seq");
	catalog_set_string(&s->data_type, "integer");
	*s = (catalog_sequence){s->schema, s->name, 5, false, s->data_type, 100, -1, -50, 100, 10, true};

	catalog_index *idx = catalog_add_index(t, "oi_name");
	idx->unique = true;
	catalog_set_string(&idx->method, "btree");
	catalog_set_string(&idx->definition_tail, "USING btree (\"Name\" DESC)");
	catalog_index_add_part(idx, 1, true, 0);
	idx = catalog_add_index(t, "oi_lower");
	idx->has_expression = true;
	catalog_set_string(&idx->method, "btree");
	catalog_set_string(&idx->definition_tail, "USING btree (lower(\"Name\"))");
	catalog_index_add_part(idx, -1, false, 0);
	return cat;
}

START_TEST(model_lookup)
{
	catalog *cat = order_items();
	ck_assert_int_eq(cat->n_tables, 1);
	catalog_table *t = catalog_find_table(cat, "public", "Order Items");
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(catalog_find_table(cat, "public", "order items"));
	ck_assert_ptr_null(catalog_find_table(cat, "Public", "Order Items"));
	ck_assert_ptr_eq(catalog_find_table_by_id(cat, 16400), t);
	ck_assert_ptr_null(catalog_find_table_by_id(cat, 1));
	ck_assert_int_eq(catalog_find_column(t, "Name"), 1);
	ck_assert_int_eq(catalog_find_column(t, "name"), -1);
	ck_assert_int_eq(catalog_find_column(t, "secret"), 6);
	ck_assert_int_eq(catalog_find_index(t, "oi_lower"), 1);
	ck_assert_int_eq(catalog_find_index(t, "nope"), -1);
	ck_assert_int_eq(catalog_column_sequence(t, 0), 0);
	ck_assert_int_eq(catalog_column_sequence(t, 5), 1);
	ck_assert_int_eq(catalog_column_sequence(t, 1), -1);
	ck_assert_int_eq(t->columns[6].position, 7);
	ck_assert_int_eq(t->columns[6].type.cls, CATALOG_TYPE_ARRAY);
	ck_assert_int_eq(t->columns[6].type.element->cls, CATALOG_TYPE_TEXT);
	ck_assert_int_eq(t->columns[6].type.element->length, -1);
	ck_assert_int_eq(t->columns[2].type.n_labels, 3);
	ck_assert_str_eq(t->columns[2].type.labels[1], "it's");
	ck_assert_int_eq(t->n_key_columns, 1);
	ck_assert_int_eq(t->key_kind, CATALOG_KEY_PRIMARY);
	ck_assert_str_eq(catalog_type_class_name(CATALOG_TYPE_TIMESTAMPTZ), "timestamptz");
	ck_assert_str_eq(catalog_type_class_name(CATALOG_TYPE_UINT8), "uint8");
	ck_assert_str_eq(catalog_replica_identity_name(t->replica_identity), "full");
	ck_assert_str_eq(catalog_identity_name(CATALOG_IDENTITY_BY_DEFAULT), "by default");
	catalog_free(cat);
	catalog_free(NULL);
}
END_TEST

START_TEST(model_set_string_replaces)
{
	char *s = NULL;
	ck_assert_int_eq(catalog_set_string(&s, "one"), 0);
	ck_assert_int_eq(catalog_set_string(&s, "two"), 0);
	ck_assert_str_eq(s, "two");
	ck_assert_int_eq(catalog_set_string(&s, NULL), 0);
	ck_assert_ptr_null(s);
	catalog *cat = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(cat, "shop", "t");
	ck_assert_int_eq(t->engine, ENGINE_MYSQL);
	ck_assert_int_eq(t->est_rows, -1);
	int cols[] = {0};
	catalog_add_column(t, "a", "int unsigned")->type.cls = CATALOG_TYPE_UINT4;
	ck_assert_int_eq(catalog_set_key(t, CATALOG_KEY_UNIQUE, "u1", cols, 1), 0);
	ck_assert_int_eq(catalog_set_key(t, CATALOG_KEY_PRIMARY, "PRIMARY", cols, 1), 0);
	ck_assert_str_eq(t->key_name, "PRIMARY");
	catalog_free(cat);
}
END_TEST

/* A map for the tests: renames the table and, optionally, columns; excludes one. */
typedef struct test_map {
	const char *schema, *name;
	const char *renamed_from, *renamed_to; /* one column rename, or NULL */
	const char *excluded;                  /* one excluded column, or NULL */
} test_map;

static void map_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	const test_map *m = arg;
	*schema = m->schema;
	*name = m->name;
}

static const char *map_schema(void *arg, const char *schema)
{
	return strcmp(schema, "public") == 0 ? ((const test_map *)arg)->schema : schema;
}

static const char *map_column(void *arg, const catalog_table *t, const catalog_column *c)
{
	const test_map *m = arg;
	if (m->excluded != NULL && strcmp(c->name, m->excluded) == 0)
		return NULL;
	if (m->renamed_from != NULL && strcmp(c->name, m->renamed_from) == 0)
		return m->renamed_to;
	return c->name;
}

START_TEST(model_name_map)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	const char *schema, *name;
	catalog_map_table(NULL, t, &schema, &name);
	ck_assert_str_eq(schema, "public");
	ck_assert_str_eq(name, "Order Items");
	ck_assert(!catalog_map_changes_columns(NULL, t));
	test_map tm = {"app", "OrderItems", NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	catalog_map_table(&map, t, &schema, &name);
	ck_assert_str_eq(name, "OrderItems");
	ck_assert_str_eq(catalog_map_schema(&map, "public"), "app");
	ck_assert_str_eq(catalog_map_schema(&map, "other"), "other");
	ck_assert(!catalog_map_changes_columns(&map, t));
	tm.excluded = "secret";
	ck_assert(catalog_map_changes_columns(&map, t));
	ck_assert_ptr_null(catalog_map_column(&map, t, 6));
	tm.excluded = NULL;
	tm.renamed_from = "Name";
	tm.renamed_to = "name";
	ck_assert(catalog_map_changes_columns(&map, t));
	ck_assert_str_eq(catalog_map_column(&map, t, 1), "name");
	catalog_free(cat);
}
END_TEST

START_TEST(model_shape_diff)
{
	catalog *a = order_items(), *b = order_items();
	catalog_table *s = a->tables[0], *t = b->tables[0];
	strbuf why = STRBUF_INIT;
	ck_assert_int_eq(catalog_table_shape_diff(s, NULL, t, &why), 0);
	ck_assert_str_eq(strbuf_str(&why), "");

	t->columns[3].type.scale = 3;
	catalog_set_string(&t->columns[3].type_name, "numeric(12,3)");
	t->columns[1].not_null = false;
	ck_assert_int_eq(catalog_table_shape_diff(s, NULL, t, &why), 2);
	ck_assert_str_eq(strbuf_str(&why),
			 "column Name: NOT NULL on the source, nullable on the target\n"
			 "column total: type numeric(12,2) on the source, numeric(12,3) on the target\n");
	t->columns[3].type.scale = 2;
	t->columns[1].not_null = true;

	/* generated on one side only; a type the model has no class for compares by name */
	catalog_set_string(&t->columns[3].generated_expr, NULL);
	t->columns[6].type.cls = CATALOG_TYPE_OTHER;
	t->columns[6].type.element->cls = CATALOG_TYPE_OTHER;
	catalog_set_string(&t->columns[6].type_name, "point");
	strbuf_reset(&why);
	ck_assert_int_eq(catalog_table_shape_diff(s, NULL, t, &why), 2);
	ck_assert_str_eq(strbuf_str(&why),
			 "column total: generated on one side only\n"
			 "column secret: type text[] on the source, point on the target\n");
	catalog_free(b);
	b = order_items();
	t = b->tables[0];

	catalog_type_add_label(&t->columns[2].type, "extra"); /* enum labels count */
	strbuf_reset(&why);
	ck_assert_int_eq(catalog_table_shape_diff(s, NULL, t, &why), 1);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&why), "column status: type"));

	/* renamed and excluded columns: "Name" is called "name" on the target, secret is
	 * not there; a target-only NOT NULL column without default cannot be filled. */
	catalog *c = order_items();
	catalog_table *u = c->tables[0];
	catalog_set_string(&u->columns[1].name, "name");
	catalog_set_string(&u->columns[6].name, "must");
	u->columns[6].not_null = true;
	test_map tm = {"public", "Order Items", "Name", "name", "secret"};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	strbuf_reset(&why);
	ck_assert_int_eq(catalog_table_shape_diff(s, &map, u, &why), 1);
	ck_assert_str_eq(strbuf_str(&why), "column must: only on the target, NOT NULL without a default\n");
	/* without the map, "Name" is missing and the key names still match */
	strbuf_reset(&why);
	ck_assert_int_eq(catalog_table_shape_diff(s, NULL, u, &why), 3);
	ck_assert_str_eq(strbuf_str(&why),
			 "column Name: missing on the target\n"
			 "column secret: missing on the target\n"
			 "column must: only on the target, NOT NULL without a default\n");
	/* a different key */
	int other_key[] = {5};
	catalog_set_key(u, CATALOG_KEY_PRIMARY, "k", other_key, 1);
	strbuf_reset(&why);
	ck_assert_int_eq(catalog_table_shape_diff(s, &map, u, &why), 2);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&why), "the key columns differ\n"));
	strbuf_free(&why);
	catalog_free(a);
	catalog_free(b);
	catalog_free(c);
}
END_TEST

/* ---- DDL text -------------------------------------------------------------------------- */

/* The script's statements joined by ";\n", then its notes as "-- " lines. */
static char *script_text(const pg_ddl_script *s)
{
	strbuf sb = STRBUF_INIT;
	for (int i = 0; i < s->n_statements; i++)
		strbuf_appendf(&sb, "%s;\n", s->statements[i]);
	for (int i = 0; i < s->n_notes; i++)
		strbuf_appendf(&sb, "-- %s\n", s->notes[i]);
	return strbuf_detach(&sb);
}

static const char enum_statement[] =
	"DO $ferry$\n"
	"BEGIN\n"
	"    CREATE TYPE \"app\".\"st\"\"at\" AS ENUM ('new', 'it''s', E'a\\\\b');\n"
	"EXCEPTION WHEN duplicate_object THEN\n"
	"    IF ARRAY(SELECT e.enumlabel::pg_catalog.text FROM pg_catalog.pg_enum e WHERE e.enumtypid = "
	"'\"app\".\"st\"\"at\"'::pg_catalog.regtype ORDER BY e.enumsortorder) IS DISTINCT FROM "
	"ARRAY['new', 'it''s', E'a\\\\b']::pg_catalog.text[] THEN\n"
	"        RAISE EXCEPTION 'type % exists with other labels', '\"app\".\"st\"\"at\"'\n"
	"            USING HINT = 'Drop it or give it the source''s labels.';\n"
	"    END IF;\n"
	"END\n"
	"$ferry$;\n";

START_TEST(ddl_before_load_drop)
{
	catalog *cat = order_items();
	test_map tm = {"app", "OrderItems", NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	pg_ddl_options o = {&map, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(cat->tables[0], &o, &s, &err), 0);
	char *got = script_text(&s);
	strbuf want = STRBUF_INIT;
	strbuf_append(&want,
		"DROP TABLE IF EXISTS \"app\".\"OrderItems\";\n"
		"CREATE SCHEMA IF NOT EXISTS \"app\";\n");
	strbuf_append(&want, enum_statement);
	strbuf_append(&want,
		"CREATE SEQUENCE IF NOT EXISTS \"app\".\"cnt_seq\" AS integer START WITH 100 "
		"INCREMENT BY -1 MINVALUE -50 MAXVALUE 100 CACHE 10 CYCLE;\n"
		"CREATE TABLE \"app\".\"OrderItems\" (\n"
		"    \"id\" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME \"app\".\"Order Items_id_seq\" "
		"START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1) NOT NULL,\n"
		"    \"Name\" text COLLATE pg_catalog.\"C\" DEFAULT 'x'::text NOT NULL,\n"
		"    \"status\" \"app\".\"st\"\"at\" DEFAULT 'new'::\"app\".\"st\"\"at\",\n"
		"    \"total\" numeric(12,2) GENERATED ALWAYS AS ((id * 2)) STORED,\n"
		"    \"noise\" double precision,\n"
		"    \"cnt\" integer DEFAULT nextval('\"app\".\"cnt_seq\"'::regclass),\n"
		"    \"secret\" text[],\n"
		"    CONSTRAINT \"Order Items_pkey\" PRIMARY KEY (\"id\")\n"
		");\n"
		"ALTER SEQUENCE \"app\".\"cnt_seq\" OWNED BY \"app\".\"OrderItems\".\"cnt\";\n"
		"-- column public.Order Items.noise: volatile default random() not created\n");
	ck_assert_str_eq(got, strbuf_str(&want));
	free(got);
	strbuf_free(&want);
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

START_TEST(ddl_before_load_truncate_and_nothing)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	/* no map: same names; truncate without create_tables: only the TRUNCATE */
	pg_ddl_options o = {NULL, TABLE_PREP_TRUNCATE, false, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	char *got = script_text(&s);
	ck_assert_str_eq(got, "TRUNCATE TABLE \"public\".\"Order Items\";\n");
	free(got);
	pg_ddl_script_free(&s);

	/* nothing + create_tables: CREATE ... IF NOT EXISTS, no TRUNCATE, no DROP */
	o.prep = TABLE_PREP_NOTHING;
	o.create_tables = true;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_int_eq(s.n_statements, 5);
	ck_assert_str_eq(s.statements[0], "CREATE SCHEMA IF NOT EXISTS \"public\"");
	ck_assert_ptr_nonnull(strstr(s.statements[3], "CREATE TABLE IF NOT EXISTS \"public\".\"Order Items\" (\n"));
	for (int i = 0; i < s.n_statements; i++) {
		ck_assert_ptr_null(strstr(s.statements[i], "DROP"));
		ck_assert_ptr_null(strstr(s.statements[i], "TRUNCATE"));
	}
	pg_ddl_script_free(&s);

	/* nothing without create_tables: nothing at all */
	o.create_tables = false;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_int_eq(s.n_statements, 0);
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

START_TEST(ddl_renamed_and_excluded_columns)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	t->replica_identity = CATALOG_RI_INDEX;
	catalog_set_string(&t->replica_identity_index, "oi_name");
	test_map tm = {"app", "OrderItems", "Name", "name", "secret"};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	pg_ddl_options o = {&map, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_ptr_nonnull(strstr(s.statements[4], "    \"name\" text COLLATE"));
	ck_assert_ptr_null(strstr(s.statements[4], "secret"));
	ck_assert_ptr_nonnull(strstr(s.statements[4], "    \"cnt\" integer DEFAULT nextval('\"app\".\"cnt_seq\"'::regclass),\n"
					       "    CONSTRAINT"));
	pg_ddl_script_free(&s);

	/* after the load: the plain index is rebuilt from its parts, the expression index
	 * cannot be (its text names the old column), the replica identity follows. */
	ck_assert_int_eq(pg_ddl_after_load(t, &o, &s, &err), 0);
	char *got = script_text(&s);
	ck_assert_str_eq(got,
		"CREATE UNIQUE INDEX IF NOT EXISTS \"oi_name\" ON \"app\".\"OrderItems\" USING \"btree\" (\"name\" DESC);\n"
		"ALTER TABLE \"app\".\"OrderItems\" REPLICA IDENTITY USING INDEX \"oi_name\";\n"
		"-- index oi_lower on public.Order Items: not created (expression or partial index on a "
		"table with renamed or excluded columns)\n");
	free(got);
	pg_ddl_script_free(&s);

	/* same columns: the source's definition tail, both indexes */
	test_map same = {"app", "OrderItems", NULL, NULL, NULL};
	map.arg = &same;
	t->replica_identity = CATALOG_RI_FULL;
	ck_assert_int_eq(pg_ddl_after_load(t, &o, &s, &err), 0);
	got = script_text(&s);
	ck_assert_str_eq(got,
		"CREATE UNIQUE INDEX IF NOT EXISTS \"oi_name\" ON \"app\".\"OrderItems\" USING btree (\"Name\" DESC);\n"
		"CREATE INDEX IF NOT EXISTS \"oi_lower\" ON \"app\".\"OrderItems\" USING btree (lower(\"Name\"));\n"
		"ALTER TABLE \"app\".\"OrderItems\" REPLICA IDENTITY FULL;\n");
	free(got);
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

/* defer_primary_key with drop: the table is created without its key and the after-load
 * script adds it first, unless the table has one; other preps keep the key inline. */
START_TEST(ddl_deferred_primary_key)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	test_map tm = {"app", "OrderItems", NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	pg_ddl_options o = {&map, TABLE_PREP_DROP, true, NULL, NULL, true};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	char *got = script_text(&s);
	ck_assert_ptr_null(strstr(got, "PRIMARY KEY"));
	ck_assert_ptr_nonnull(strstr(got, "    \"secret\" text[]\n);\n"));
	free(got);
	pg_ddl_script_free(&s);

	ck_assert_int_eq(pg_ddl_after_load(t, &o, &s, &err), 0);
	ck_assert_int_ge(s.n_statements, 1);
	ck_assert_str_eq(s.statements[0],
		"DO $ferry$\nBEGIN\n"
		"    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = "
		"'\"app\".\"OrderItems\"'::pg_catalog.regclass AND contype = 'p') THEN\n"
		"        ALTER TABLE \"app\".\"OrderItems\" ADD CONSTRAINT \"Order Items_pkey\" PRIMARY KEY (\"id\");\n"
		"    END IF;\nEND\n$ferry$");
	/* the secondary indexes follow the key */
	ck_assert_ptr_nonnull(strstr(s.statements[1], "CREATE UNIQUE INDEX IF NOT EXISTS \"oi_name\""));
	pg_ddl_script_free(&s);

	/* an excluded key column still fails before anything is created */
	tm.excluded = "id";
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "primary key column id is excluded"));
	free(err);
	err = NULL;
	pg_ddl_script_free(&s);
	tm.excluded = NULL;

	/* truncate: the table may exist with its own key; nothing is deferred */
	o.prep = TABLE_PREP_TRUNCATE;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	got = script_text(&s);
	ck_assert_ptr_nonnull(strstr(got, "PRIMARY KEY (\"id\")"));
	free(got);
	pg_ddl_script_free(&s);
	ck_assert_int_eq(pg_ddl_after_load(t, &o, &s, &err), 0);
	for (int i = 0; i < s.n_statements; i++)
		ck_assert_ptr_null(strstr(s.statements[i], "PRIMARY KEY"));
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

START_TEST(ddl_errors)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	test_map tm = {"app", "OrderItems", NULL, NULL, "id"};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	pg_ddl_options o = {&map, TABLE_PREP_DROP, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), -1);
	ck_assert_str_eq(err, "table public.Order Items: primary key column id is excluded; the target "
			      "needs it to apply changes");
	free(err);
	err = NULL;
	pg_ddl_script_free(&s);

	o.names = NULL;
	o.create_tables = false;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "target_table_prep = drop needs create_tables = yes"));
	ck_assert_int_eq(s.n_statements, 0);
	free(err);
	err = NULL;

	/* a column of another engine with no PostgreSQL spelling */
	catalog *my = catalog_new(ENGINE_MYSQL);
	catalog_table *m = catalog_add_table(my, "shop", "t");
	catalog_add_column(m, "flags", "set('a','b')")->type.cls = CATALOG_TYPE_SET;
	o.create_tables = true;
	ck_assert_int_eq(pg_ddl_before_load(m, &o, &s, &err), -1);
	ck_assert_str_eq(err, "table shop.t, column flags: no PostgreSQL type for set('a','b')");
	free(err);
	err = NULL;
	pg_ddl_script_free(&s);

	/* setval for a sequence whose column is excluded */
	strbuf sb = STRBUF_INIT;
	o.names = &map;
	ck_assert_int_eq(pg_ddl_setval(t, &t->sequences[0], &o, 5, true, &sb, &err), -1);
	ck_assert_str_eq(err, "sequence public.Order Items_id_seq: its column is not on the target");
	free(err);
	strbuf_free(&sb);
	catalog_free(my);
	catalog_free(cat);
}
END_TEST

START_TEST(ddl_setval)
{
	catalog *cat = order_items();
	catalog_table *t = cat->tables[0];
	pg_ddl_options o = {NULL, TABLE_PREP_NOTHING, false, NULL, NULL, false};
	strbuf sb = STRBUF_INIT;
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_setval(t, &t->sequences[0], &o, 42, false, &sb, &err), 0);
	ck_assert_str_eq(strbuf_str(&sb),
		"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('\"public\".\"Order Items\"', 'id'), "
		"CASE WHEN m.v >= 42 THEN m.v ELSE 42 END, COALESCE(m.v >= 42, false)) "
		"FROM (SELECT pg_catalog.max(\"id\")::pg_catalog.int8 AS v FROM \"public\".\"Order Items\") m");
	strbuf_reset(&sb);
	/* descending: the minimum, and a source that has handed the value out already */
	ck_assert_int_eq(pg_ddl_setval(t, &t->sequences[1], &o, -7, true, &sb, &err), 0);
	ck_assert_str_eq(strbuf_str(&sb),
		"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('\"public\".\"Order Items\"', 'cnt'), "
		"CASE WHEN m.v <= -7 THEN m.v ELSE -7 END, true) "
		"FROM (SELECT pg_catalog.min(\"cnt\")::pg_catalog.int8 AS v FROM \"public\".\"Order Items\") m");
	strbuf_free(&sb);
	catalog_free(cat);
}
END_TEST

/* Partitions go to the table's target schema, sub-partitions under their parent. */
START_TEST(ddl_partitions)
{
	catalog *cat = catalog_new(ENGINE_POSTGRESQL);
	catalog_table *t = catalog_add_table(cat, "public", "m");
	t->kind = CATALOG_TABLE_PARTITIONED;
	catalog_set_string(&t->partition_key, "RANGE (d)");
	catalog_add_column(t, "d", "date")->type.cls = CATALOG_TYPE_DATE;
	catalog_add_column(t, "c", "integer")->type.cls = CATALOG_TYPE_INT4;
	catalog_partition *p = catalog_add_partition(t, "public", "m1");
	catalog_set_string(&p->bound, "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
	catalog_set_string(&p->partition_key, "LIST (c)");
	p = catalog_add_partition(t, "other", "m1a");
	p->parent = 0;
	catalog_set_string(&p->bound, "FOR VALUES IN (1)");
	test_map tm = {"app", "m", NULL, NULL, NULL};
	catalog_name_map map = {map_table, map_schema, map_column, &tm};
	pg_ddl_options o = {&map, TABLE_PREP_NOTHING, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	char *got = script_text(&s);
	ck_assert_str_eq(got,
		"CREATE SCHEMA IF NOT EXISTS \"app\";\n"
		"CREATE SCHEMA IF NOT EXISTS \"other\";\n"
		"CREATE TABLE IF NOT EXISTS \"app\".\"m\" (\n"
		"    \"d\" date,\n"
		"    \"c\" integer\n"
		") PARTITION BY RANGE (d);\n"
		"CREATE TABLE IF NOT EXISTS \"app\".\"m1\" PARTITION OF \"app\".\"m\" "
		"FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (c);\n"
		"CREATE TABLE IF NOT EXISTS \"other\".\"m1a\" PARTITION OF \"app\".\"m1\" FOR VALUES IN (1);\n");
	free(got);
	pg_ddl_script_free(&s);

	/* an excluded column: the key text cannot be trusted, so a plain table */
	tm.excluded = "c";
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	got = script_text(&s);
	ck_assert_str_eq(got,
		"CREATE SCHEMA IF NOT EXISTS \"app\";\n"
		"CREATE TABLE IF NOT EXISTS \"app\".\"m\" (\n"
		"    \"d\" date\n"
		");\n"
		"-- table public.m: created as a plain table (partitioning not kept: columns renamed "
		"or excluded, or another engine)\n");
	free(got);
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

/* Another engine's table: types from the neutral class, AUTO_INCREMENT as identity,
 * defaults noted, indexes from their parts. */
START_TEST(ddl_from_neutral_types)
{
	catalog *cat = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(cat, "shop", "items");
	static const struct { const char *name; catalog_type_class cls; int len, prec, scale; const char *pg; } cols[] = {
		{"a", CATALOG_TYPE_UINT8, -1, -1, 0, "numeric(20,0)"},
		{"b", CATALOG_TYPE_UINT4, -1, -1, 0, "bigint"},
		{"c", CATALOG_TYPE_INT1, -1, -1, 0, "smallint"},
		{"d", CATALOG_TYPE_INT3, -1, -1, 0, "integer"},
		{"e", CATALOG_TYPE_NUMERIC, -1, 65, 30, "numeric(65,30)"},
		{"f", CATALOG_TYPE_VARCHAR, 255, -1, 0, "character varying(255)"},
		{"g", CATALOG_TYPE_CHAR, 2, -1, 0, "character(2)"},
		{"h", CATALOG_TYPE_VARBINARY, 16, -1, 0, "bytea"},
		{"i", CATALOG_TYPE_TIMESTAMP, -1, 6, 0, "timestamp(6) without time zone"},
		{"j", CATALOG_TYPE_TIMESTAMPTZ, -1, -1, 0, "timestamp with time zone"},
		{"k", CATALOG_TYPE_TIME, -1, 3, 0, "time(3) without time zone"},
		{"l", CATALOG_TYPE_BIT, 5, -1, 0, "bit(5)"},
		{"m", CATALOG_TYPE_JSON, -1, -1, 0, "json"},
		{"n", CATALOG_TYPE_YEAR, -1, -1, 0, "smallint"},
		{"o", CATALOG_TYPE_BOOL, -1, -1, 0, "boolean"},
		{"p", CATALOG_TYPE_FLOAT4, -1, -1, 0, "real"},
		{"q", CATALOG_TYPE_INTERVAL, -1, 2, 0, "interval(2)"},
		{"r", CATALOG_TYPE_VARBIT, -1, -1, 0, "bit varying"},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		catalog_column *c = catalog_add_column(t, cols[i].name, "mysql spelling");
		c->type.cls = cols[i].cls;
		c->type.length = cols[i].len;
		c->type.precision = cols[i].prec;
		c->type.scale = cols[i].scale;
		strbuf sb = STRBUF_INIT;
		ck_assert_int_eq(pg_ddl_type_name(&c->type, NULL, &sb), 0);
		ck_assert_str_eq(strbuf_str(&sb), cols[i].pg);
		strbuf_free(&sb);
	}
	t->columns[0].auto_increment = true;
	t->columns[0].not_null = true;
	catalog_set_string(&t->columns[1].default_expr, "'7'");
	catalog_set_string(&t->columns[1].collation, "utf8mb4_bin");
	int key[] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "PRIMARY", key, 1);
	catalog_index *idx = catalog_add_index(t, "by_f");
	catalog_set_string(&idx->method, "BTREE");
	catalog_index_add_part(idx, 5, false, 10);
	catalog_index_add_part(idx, 6, true, 0);
	idx = catalog_add_index(t, "ft");
	catalog_set_string(&idx->method, "FULLTEXT");
	catalog_index_add_part(idx, 5, false, 0);

	pg_ddl_options o = {NULL, TABLE_PREP_DROP, true, NULL, NULL, false};
	strbuf sb = STRBUF_INIT;
	pg_ddl_script notes = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_create_table(t, &o, &sb, &notes, &err), 0);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb),
		"CREATE TABLE \"shop\".\"items\" (\n"
		"    \"a\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n"
		"    \"b\" bigint,\n"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "    CONSTRAINT \"PRIMARY\" PRIMARY KEY (\"a\")\n)"));
	ck_assert_int_eq(notes.n_notes, 1);
	ck_assert_str_eq(notes.notes[0], "column shop.items.b: default '7' not translated");
	pg_ddl_script_free(&notes);
	strbuf_free(&sb);

	pg_ddl_script s = {0};
	ck_assert_int_eq(pg_ddl_after_load(t, &o, &s, &err), 0);
	char *got = script_text(&s);
	ck_assert_str_eq(got,
		"CREATE INDEX IF NOT EXISTS \"by_f\" ON \"shop\".\"items\" (\"f\", \"g\" DESC);\n"
		"-- index ft on shop.items: not created (FULLTEXT index)\n");
	free(got);
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

/* A label holding the dollar-quote tag gets another tag. */
START_TEST(ddl_enum_dollar_tag)
{
	catalog *cat = catalog_new(ENGINE_POSTGRESQL);
	catalog_table *t = catalog_add_table(cat, "s", "t");
	catalog_column *c = catalog_add_column(t, "e", "s.e");
	c->type.cls = CATALOG_TYPE_ENUM;
	catalog_set_string(&c->type.udt_schema, "s");
	catalog_set_string(&c->type.udt_name, "e");
	catalog_type_add_label(&c->type, "$ferry$");
	catalog_type_add_label(&c->type, "$ferry1$");
	pg_ddl_options o = {NULL, TABLE_PREP_NOTHING, true, NULL, NULL, false};
	pg_ddl_script s = {0};
	char *err = NULL;
	ck_assert_int_eq(pg_ddl_before_load(t, &o, &s, &err), 0);
	ck_assert_int_eq(s.n_statements, 3);
	ck_assert_ptr_nonnull(strstr(s.statements[1], "DO $ferry2$\nBEGIN\n"));
	size_t n = strlen(s.statements[1]);
	ck_assert_str_eq(s.statements[1] + n - 9, "\n$ferry2$");
	ck_assert_ptr_nonnull(strstr(s.statements[2], "\"e\" \"s\".\"e\"\n"));
	pg_ddl_script_free(&s);
	catalog_free(cat);
}
END_TEST

static Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("strbuf");
	tcase_add_test(tc, strbuf_grows_and_formats);
	tcase_add_test(tc, strbuf_failure_is_sticky);
	suite_add_tcase(s, tc);
	tc = tcase_create("quoting");
	tcase_add_test(tc, quote_pg_identifiers);
	tcase_add_test(tc, quote_pg_literals);
	tcase_add_test(tc, quote_mysql_identifiers);
	suite_add_tcase(s, tc);
	tc = tcase_create("model");
	tcase_add_test(tc, model_lookup);
	tcase_add_test(tc, model_set_string_replaces);
	tcase_add_test(tc, model_name_map);
	tcase_add_test(tc, model_shape_diff);
	suite_add_tcase(s, tc);
	tc = tcase_create("pg_ddl");
	tcase_add_test(tc, ddl_before_load_drop);
	tcase_add_test(tc, ddl_before_load_truncate_and_nothing);
	tcase_add_test(tc, ddl_renamed_and_excluded_columns);
	tcase_add_test(tc, ddl_deferred_primary_key);
	tcase_add_test(tc, ddl_errors);
	tcase_add_test(tc, ddl_setval);
	tcase_add_test(tc, ddl_partitions);
	tcase_add_test(tc, ddl_from_neutral_types);
	tcase_add_test(tc, ddl_enum_dollar_tag);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(catalog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
