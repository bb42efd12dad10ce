/* Unit tests of common/rules.c: selection order, globs and quoting, system schemas,
 * renames and lowercase composed, column exclusion, row filters, conflicts, and the
 * messages for every kind of bad rule. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/rules.h"

/* ---- fixture: one task whose lists the test builds (and frees) itself ------------ */

static task_config task;
static endpoint_config source_ep;
static config_diag diag;
static rules *compiled;
static rules_plan plan;

static void list_add(string_list *l, const char *value, int line)
{
	l->items = realloc(l->items, sizeof(char *) * (size_t)(l->count + 1));
	ck_assert_ptr_nonnull(l->items);
	l->items[l->count] = strdup(value);
	if (line >= 0) {
		l->lines = realloc(l->lines, sizeof(int) * (size_t)(l->count + 1));
		ck_assert_ptr_nonnull(l->lines);
		l->lines[l->count] = line;
	}
	l->count++;
}

static void list_clear(string_list *l)
{
	for (int i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	free(l->lines);
	*l = (string_list){0};
}

static string_list *task_lists[] = {&task.include, &task.exclude, &task.rename_schema, &task.rename_table,
				    &task.rename_column, &task.exclude_column, &task.filter, &task.lowercase};
#define N_LISTS (sizeof(task_lists) / sizeof(task_lists[0]))

static void setup(void)
{
	task = (task_config){.name = "orders"};
	source_ep = (endpoint_config){.name = "src", .engine = ENGINE_POSTGRESQL};
	diag = (config_diag){0};
	compiled = NULL;
	plan = (rules_plan){0};
}

static void teardown(void)
{
	for (size_t i = 0; i < N_LISTS; i++)
		list_clear(task_lists[i]);
	config_diag_free(&diag);
	rules_plan_free(&plan);
	rules_free(compiled);
}

/* Adds key = value at line (-1: the list carries no line numbers). */
static void rule_at(const char *key, const char *value, int line)
{
	static const char *const names[] = {"include", "exclude", "rename_schema", "rename_table",
					    "rename_column", "exclude_column", "filter", "lowercase"};
	for (size_t i = 0; i < N_LISTS; i++) {
		if (strcmp(names[i], key) == 0) {
			list_add(task_lists[i], value, line);
			return;
		}
	}
	ck_abort_msg("unknown key %s", key);
}

static int next_line = 10;
static void rule(const char *key, const char *value) { rule_at(key, value, next_line++); }

static void compile_ok(void)
{
	compiled = rules_compile(&task, "ferry.ini", &diag);
	ck_assert_msg(compiled != NULL, "unexpected error: %s", diag.errors.count ? diag.errors.items[0] : "?");
	ck_assert_int_eq(diag.errors.count, 0);
}

/* Compiles expecting failure; returns the first error. */
static const char *compile_error(void)
{
	compiled = rules_compile(&task, "ferry.ini", &diag);
	ck_assert_ptr_null(compiled);
	ck_assert_int_ge(diag.errors.count, 1);
	return diag.errors.items[0];
}

static bool has_message(const string_list *l, const char *part)
{
	for (int i = 0; i < l->count; i++) {
		if (strstr(l->items[i], part))
			return true;
	}
	return false;
}

static void dump(const string_list *l)
{
	for (int i = 0; i < l->count; i++)
		fprintf(stderr, "  %s\n", l->items[i]);
}

#define assert_has_message(list, part)                                                              \
	do {                                                                                       \
		if (!has_message(&(list), part))                                                   \
			dump(&(list));                                                             \
		ck_assert_msg(has_message(&(list), part), "no message containing \"%s\"", part);   \
	} while (0)

static bool sel(const char *schema, const char *table) { return rules_select(compiled, schema, table); }

/* A source table with columns given as "name" or "*name" (primary-key column). */
typedef struct src_table {
	rules_source_table t;
	const char *cols[16];
	bool keys[16];
} src_table;

/* From a small static pool: valid until eight more tables are made. */
static src_table *table_of(const char *schema, const char *name, const char *cols)
{
	static src_table pool[8];
	static char buf[8][16][64];
	static int next;
	int slot = next++ % 8;
	src_table *s = &pool[slot];
	bool any_key = false;

	*s = (src_table){.t = {.schema = schema, .name = name}};
	for (const char *c = cols; c && *c && s->t.n_columns < 16;) {
		const char *end = strchr(c, ',');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		char *b = buf[slot][s->t.n_columns];
		bool key = *c == '*';
		snprintf(b, 64, "%.*s", (int)(len - key), c + key);
		s->keys[s->t.n_columns] = key;
		s->cols[s->t.n_columns++] = b;
		any_key |= key;
		c = end ? end + 1 : c + len;
	}
	s->t.columns = s->cols;
	s->t.is_key = any_key ? s->keys : NULL;
	return s;
}

/* Resolves one table that must be selected; the result lives in plan. */
static const rules_table *resolve1(const char *schema, const char *name, const char *cols)
{
	src_table *s = table_of(schema, name, cols);

	ck_assert_int_eq(rules_resolve(compiled, &s->t, 1, &plan, &diag), 0);
	ck_assert_int_eq(plan.n_tables, 1);
	return &plan.tables[0];
}

static int resolve1_error(const char *schema, const char *name, const char *cols)
{
	src_table *s = table_of(schema, name, cols);
	rules_table t;
	int rc = rules_resolve_table(compiled, &s->t, &t, &diag);

	ck_assert_ptr_null(t.target_name);
	return rc;
}

/* ---- globs and quoting --------------------------------------------------------------- */

START_TEST(glob_star_and_question)
{
	rule("include", "sales.order_*");
	rule("include", "hr.emp_??");
	rule("include", "x.a*b*c");
	compile_ok();
	ck_assert(sel("sales", "order_"));
	ck_assert(sel("sales", "order_items"));
	ck_assert(!sel("sales", "orders"));
	ck_assert(!sel("sales2", "order_x"));
	ck_assert(sel("hr", "emp_01"));
	ck_assert(!sel("hr", "emp_1"));
	ck_assert(!sel("hr", "emp_001"));
	ck_assert(sel("x", "aXbYbZc"));
	ck_assert(sel("x", "abc"));
	ck_assert(!sel("x", "aXbYbZcd"));
}
END_TEST

START_TEST(glob_question_is_one_character_not_one_byte)
{
	rule("include", "public.caf?");
	rule("include", "public.??");
	compile_ok();
	ck_assert(sel("public", "café"));
	ck_assert(sel("public", "cafe"));
	ck_assert(!sel("public", "café!"));
	ck_assert(sel("public", "日本"));
	ck_assert(!sel("public", "日本語"));
}
END_TEST

START_TEST(glob_is_case_sensitive)
{
	rule("include", "Public.Users");
	compile_ok();
	ck_assert(sel("Public", "Users"));
	ck_assert(!sel("public", "users"));
	ck_assert(!sel("Public", "users"));
}
END_TEST

START_TEST(quotes_make_dots_and_wildcards_literal)
{
	rule("include", "\"my.schema\".\"t*\"");
	rule("include", "lit.\"a?\"*");
	compile_ok();
	ck_assert(sel("my.schema", "t*"));
	ck_assert(!sel("my.schema", "tx"));
	ck_assert(!sel("my", "schema"));
	ck_assert(sel("lit", "a?"));
	ck_assert(sel("lit", "a?zzz"));
	ck_assert(!sel("lit", "ab"));
}
END_TEST

START_TEST(quotes_doubled_spaces_and_backslash)
{
	rule("include", "\"say \"\"hi\"\"\".t");
	rule("include", "my schema . my table");
	rule("include", "\" padded \".x");
	rule("include", "back\\slash.*");
	compile_ok();
	ck_assert(sel("say \"hi\"", "t"));
	ck_assert(sel("my schema", "my table"));
	ck_assert(!sel("myschema", "mytable"));
	ck_assert(sel(" padded ", "x"));
	ck_assert(!sel("padded", "x"));
	ck_assert(sel("back\\slash", "any"));
	ck_assert(!sel("backslash", "any"));
}
END_TEST

/* ---- selection order --------------------------------------------------------------------- */

START_TEST(no_rules_select_everything)
{
	compile_ok();
	ck_assert(sel("public", "users"));
	ck_assert(sel("Ünïcode schema", "Tâble"));
	ck_assert_int_eq(diag.warnings.count, 0);
}
END_TEST

START_TEST(only_excludes_keep_the_rest)
{
	rule("exclude", "public.audit_*");
	compile_ok();
	ck_assert(!sel("public", "audit_log"));
	ck_assert(sel("public", "users"));
	ck_assert(sel("other", "audit_log"));
}
END_TEST

START_TEST(includes_leave_out_what_they_miss)
{
	rule("include", "public.users");
	rule("include", "crm.*");
	compile_ok();
	ck_assert(sel("public", "users"));
	ck_assert(sel("crm", "x"));
	ck_assert(!sel("public", "orders"));
	ck_assert(!sel("other", "users"));
}
END_TEST

START_TEST(first_match_wins_in_file_order)
{
	rule_at("exclude", "public.audit_*", 10);
	rule_at("include", "public.*", 11);
	compile_ok();
	ck_assert(!sel("public", "audit_log"));
	ck_assert(sel("public", "users"));
	ck_assert(!sel("other", "users"));
	ck_assert_int_eq(diag.warnings.count, 0);
}
END_TEST

START_TEST(exclude_after_include_still_wins)
{
	/* The design's own example: the exclude is written after the wider include. */
	rule_at("include", "public.*", 10);
	rule_at("exclude", "public.audit_*", 11);
	compile_ok();
	ck_assert(!sel("public", "audit_log"));
	ck_assert(sel("public", "users"));
	ck_assert_int_eq(diag.warnings.count, 0);
	src_table *a = table_of("public", "audit_log", "*id"), *b = table_of("public", "users", "*id");
	rules_source_table src[] = {a->t, b->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 2, &plan, &diag), 0);
	ck_assert_int_eq(plan.n_tables, 1);
	ck_assert_int_eq(diag.warnings.count, 0);
}
END_TEST

START_TEST(interleaving_across_keys)
{
	/* include on 3 and 7, exclude on 5: the list order of each key alone cannot tell. */
	rule_at("include", "public.a*", 3);
	rule_at("include", "*.*", 7);
	rule_at("exclude", "public.*", 5);
	compile_ok();
	ck_assert(!sel("public", "abc"));
	ck_assert(!sel("public", "b"));
	ck_assert(sel("other", "b"));
	/* include public.a* can never win against exclude public.* */
	ck_assert_int_eq(diag.warnings.count, 1);
	ck_assert_str_eq(diag.warnings.items[0], "ferry.ini:3: [task orders] include: 'public.a*': never applies: "
						 "exclude 'public.*' on line 5 excludes every table it matches");
}
END_TEST

START_TEST(without_lines_excludes_come_first)
{
	rule_at("include", "public.*", -1);
	rule_at("exclude", "public.audit_*", -1);
	compile_ok();
	ck_assert(!sel("public", "audit_log"));
	ck_assert(sel("public", "users"));
	ck_assert_int_eq(diag.warnings.count, 0);
}
END_TEST

START_TEST(partial_line_numbers_fall_back)
{
	/* An include with a line and an exclude with an unknown (0) line: not comparable. */
	rule_at("include", "public.*", 10);
	rule_at("exclude", "public.audit_*", 0);
	compile_ok();
	ck_assert(!sel("public", "audit_log"));
	ck_assert(sel("public", "users"));
}
END_TEST

START_TEST(shadowed_include_warns_without_lines)
{
	rule_at("exclude", "*.*", -1);
	rule_at("include", "public.users", -1);
	compile_ok();
	ck_assert(!sel("public", "users"));
	ck_assert_int_eq(diag.warnings.count, 1);
	ck_assert_str_eq(diag.warnings.items[0], "ferry.ini: [task orders] include: 'public.users': never applies: "
						 "exclude '*.*' excludes every table it matches");
}
END_TEST

START_TEST(partial_overlap_is_not_shadowed)
{
	rule_at("include", "public.a*", 1);
	rule_at("exclude", "public.*b", 2);
	rule_at("include", "pub?ic.x", 3);
	rule_at("exclude", "pub*.x?", 4);
	compile_ok();
	ck_assert_int_eq(diag.warnings.count, 0);
	ck_assert(sel("public", "ac"));
	ck_assert(!sel("public", "ab"));
	ck_assert(!sel("public", "cb"));
	ck_assert(sel("pubxic", "x"));
	ck_assert(!sel("publ", "x"));
}
END_TEST

START_TEST(shadow_detection_handles_many_stars)
{
	/* Exponential for naive backtracking; must stay instant. */
	rule_at("include", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b.*", 1);
	rule_at("exclude", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac.*", 2);
	rule_at("exclude", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b?.*", 3);
	compile_ok();
	ck_assert_int_eq(diag.warnings.count, 0);
	ck_assert(!sel("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", "t"));
}
END_TEST

/* ---- system schemas ---------------------------------------------------------------------- */

START_TEST(system_schemas_never_by_default)
{
	task.source_ep = NULL; /* engine unknown: both sets */
	compile_ok();
	const char *sys[] = {"pg_catalog", "information_schema", "pg_toast", "pg_toast_temp_1", "pg_temp_3",
			     "mysql", "performance_schema", "sys", "INFORMATION_SCHEMA"};
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		ck_assert_msg(!sel(sys[i], "t"), "%s selected", sys[i]);
	ck_assert(sel("public", "t"));
	ck_assert(sel("Pg_catalog", "t")); /* PostgreSQL names are case-sensitive */
}
END_TEST

START_TEST(system_schemas_ignore_wildcards)
{
	rule("include", "*.*");
	rule("include", "pg_*.*");
	rule("include", "?ys.*");
	compile_ok();
	ck_assert(!sel("pg_catalog", "pg_class"));
	ck_assert(!sel("information_schema", "tables"));
	ck_assert(sel("public", "t"));
}
END_TEST

START_TEST(system_schema_written_out_is_selected)
{
	task.source_ep = &source_ep;
	source_ep.engine = ENGINE_MYSQL;
	rule("include", "sys.*");
	rule("include", "\"mysql\".user");
	compile_ok();
	ck_assert(sel("sys", "x"));
	ck_assert(sel("mysql", "user"));
	ck_assert(!sel("mysql", "db"));
	ck_assert(!sel("performance_schema", "x"));
}
END_TEST

START_TEST(system_schemas_depend_on_engine)
{
	task.source_ep = &source_ep;
	source_ep.engine = ENGINE_POSTGRESQL;
	compile_ok();
	ck_assert(sel("mysql", "t"));
	ck_assert(sel("sys", "t"));
	ck_assert(!sel("pg_catalog", "t"));
	rules_free(compiled);
	source_ep.engine = ENGINE_MYSQL;
	compile_ok();
	ck_assert(sel("pg_catalog", "t"));
	ck_assert(!sel("mysql", "t"));
	ck_assert(!sel("information_schema", "t"));
}
END_TEST

/* ---- renames ------------------------------------------------------------------------------ */

START_TEST(no_renames_keep_names)
{
	compile_ok();
	const rules_table *t = resolve1("public", "users", "*id,Email");
	ck_assert_str_eq(t->source_schema, "public");
	ck_assert_str_eq(t->source_name, "users");
	ck_assert_str_eq(t->target_schema, "public");
	ck_assert_str_eq(t->target_name, "users");
	ck_assert_int_eq(t->n_columns, 2);
	ck_assert_str_eq(t->target_columns[0], "id");
	ck_assert_str_eq(t->target_columns[1], "Email");
	ck_assert_ptr_null(t->filter);
}
END_TEST

START_TEST(rename_schema_applies_to_every_table)
{
	rule("rename_schema", "public:app");
	compile_ok();
	ck_assert_str_eq(resolve1("public", "users", "*id")->target_schema, "app");
	rules_plan_free(&plan);
	ck_assert_str_eq(resolve1("other", "users", "*id")->target_schema, "other");
}
END_TEST

START_TEST(rename_table_with_and_without_schema)
{
	rule("rename_schema", "public:app");
	rule("rename_table", "public.users:crm.customers");
	rule("rename_table", "public.orders:purchases");
	compile_ok();
	const rules_table *t = resolve1("public", "users", "*id");
	ck_assert_str_eq(t->target_schema, "crm");
	ck_assert_str_eq(t->target_name, "customers");
	rules_plan_free(&plan);
	t = resolve1("public", "orders", "*id");
	ck_assert_str_eq(t->target_schema, "app");
	ck_assert_str_eq(t->target_name, "purchases");
}
END_TEST

START_TEST(rules_name_source_objects)
{
	/* rename_table names the source schema, not the renamed one. */
	rule("rename_schema", "public:app");
	rule("rename_table", "app.users:x");
	compile_ok();
	const rules_table *t = resolve1("public", "users", "*id");
	ck_assert_str_eq(t->target_schema, "app");
	ck_assert_str_eq(t->target_name, "users");
	assert_has_message(diag.warnings, "rename_table: 'app.users:x': matches no selected table");
}
END_TEST

START_TEST(rename_column_literal_and_glob)
{
	rule("rename_column", "public.users.email_addr:email");
	rule("rename_column", "*.*.Name:name");
	rule("rename_column", "*.users.email_addr:never");
	compile_ok();
	const rules_table *t = resolve1("public", "users", "*id,email_addr,Name,other");
	ck_assert_str_eq(t->target_columns[0], "id");
	ck_assert_str_eq(t->target_columns[1], "email");
	ck_assert_str_eq(t->target_columns[2], "name");
	ck_assert_str_eq(t->target_columns[3], "other");
	rules_plan_free(&plan);
	t = resolve1("crm", "users", "*id,email_addr,Name");
	ck_assert_str_eq(t->target_columns[1], "never");
	ck_assert_str_eq(t->target_columns[2], "name");
}
END_TEST

START_TEST(renames_compose_with_lowercase)
{
	rule("lowercase", "*.*");
	rule("rename_schema", "Sales:Verkauf");
	rule("rename_column", "Sales.Orders.OrderID:OrderKey");
	compile_ok();
	const rules_table *t = resolve1("Sales", "Orders", "*OrderID,CustomerName,ÄÖÜ_Ärger");
	ck_assert_str_eq(t->target_schema, "Verkauf"); /* written in a rename: as written */
	ck_assert_str_eq(t->target_name, "orders");
	ck_assert_str_eq(t->target_columns[0], "OrderKey");
	ck_assert_str_eq(t->target_columns[1], "customername");
	ck_assert_str_eq(t->target_columns[2], "ÄÖÜ_Ärger"); /* ASCII folding only */
	rules_plan_free(&plan);
	t = resolve1("HR", "Emp", "*ID");
	ck_assert_str_eq(t->target_schema, "hr");
	ck_assert_str_eq(t->target_name, "emp");
	ck_assert_str_eq(t->target_columns[0], "id");
}
END_TEST

START_TEST(target_schema_of_other_objects)
{
	rule("rename_schema", "Public:App");
	rule("lowercase", "Shop.Items");
	compile_ok();
	char *a = rules_target_schema(compiled, "Public"), *b = rules_target_schema(compiled, "Shop"),
	     *c = rules_target_schema(compiled, "Other");
	ck_assert_str_eq(a, "App");
	ck_assert_str_eq(b, "shop");
	ck_assert_str_eq(c, "Other");
	free(a), free(b), free(c);
}
END_TEST

START_TEST(lowercase_only_where_it_matches)
{
	rule("lowercase", "Shop.*");
	compile_ok();
	src_table *a = table_of("Shop", "Items", "*ID"), *b = table_of("Other", "Items", "*ID");
	rules_source_table src[] = {a->t, b->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 2, &plan, &diag), 0);
	ck_assert_str_eq(plan.tables[0].target_schema, "shop");
	ck_assert_str_eq(plan.tables[0].target_name, "items");
	ck_assert_str_eq(plan.tables[1].target_schema, "Other");
	ck_assert_str_eq(plan.tables[1].target_columns[0], "ID");
}
END_TEST

START_TEST(targets_with_spaces_quotes_and_unicode)
{
	rule("rename_table", "\"Über Schema\".\"Größe \"\"x\"\"\":\"App Data\".\"Kunden.Tabelle\"");
	rule("rename_column", "\"Über Schema\".\"Größe \"\"x\"\"\".\"a:b\":\"c d\"");
	compile_ok();
	const rules_table *t = resolve1("Über Schema", "Größe \"x\"", "*a:b,z");
	ck_assert_str_eq(t->target_schema, "App Data");
	ck_assert_str_eq(t->target_name, "Kunden.Tabelle");
	ck_assert_str_eq(t->target_columns[0], "c d");
	ck_assert_str_eq(t->target_columns[1], "z");
}
END_TEST

/* ---- column exclusion ------------------------------------------------------------------- */

START_TEST(exclude_column_literal_and_glob)
{
	rule("exclude_column", "public.users.password_hash");
	rule("exclude_column", "*.*.secret_*");
	rule("rename_column", "public.users.secret_a:visible"); /* exclusion wins */
	compile_ok();
	const rules_table *t = resolve1("public", "users", "*id,password_hash,secret_a,name");
	ck_assert_ptr_null(t->target_columns[1]);
	ck_assert_ptr_null(t->target_columns[2]);
	ck_assert_str_eq(t->target_columns[3], "name");
	ck_assert_int_eq(t->n_columns, 4);
}
END_TEST

START_TEST(exclude_key_column_is_an_error)
{
	rule_at("exclude_column", "*.*.id", 42);
	compile_ok();
	ck_assert_int_eq(resolve1_error("public", "users", "*id,name"), -1);
	ck_assert_int_eq(diag.errors.count, 1);
	ck_assert_str_eq(diag.errors.items[0], "ferry.ini:42: [task orders] exclude_column: '*.*.id': would leave out "
					       "id, a primary-key column of public.users; the key is needed to apply "
					       "updates and deletes (narrow the pattern)");
}
END_TEST

START_TEST(exclude_column_of_keyless_table)
{
	rule("exclude_column", "*.*.id");
	compile_ok();
	const rules_table *t = resolve1("public", "log", "id,msg");
	ck_assert_ptr_null(t->target_columns[0]);
	ck_assert_str_eq(t->target_columns[1], "msg");
}
END_TEST

START_TEST(excluding_every_column_is_an_error)
{
	rule("exclude_column", "public.t.*");
	compile_ok();
	ck_assert_int_eq(resolve1_error("public", "t", "a,b"), -1);
	ck_assert_str_eq(diag.errors.items[0],
			 "ferry.ini: [task orders] table public.t: exclude_column leaves out every column");
}
END_TEST

/* ---- conflicts ---------------------------------------------------------------------------- */

START_TEST(two_tables_one_target)
{
	rule("rename_schema", "eu:all");
	rule("rename_schema", "us:all");
	compile_ok();
	src_table *a = table_of("eu", "orders", "*id"), *b = table_of("us", "orders", "*id"),
		  *c = table_of("us", "users", "*id");
	rules_source_table src[] = {a->t, b->t, c->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 3, &plan, &diag), -1);
	ck_assert_int_eq(plan.n_tables, 0);
	ck_assert_ptr_null(plan.tables);
	ck_assert_int_eq(diag.errors.count, 1);
	ck_assert_str_eq(diag.errors.items[0], "ferry.ini: [task orders] source tables eu.orders and us.orders would "
					       "both be loaded into all.orders (check rename_schema, rename_table and "
					       "lowercase)");
}
END_TEST

START_TEST(merging_schemas_without_clash_is_fine)
{
	rule("rename_schema", "eu:all");
	rule("rename_table", "us.orders:all.us_orders");
	compile_ok();
	src_table *a = table_of("eu", "orders", "*id"), *b = table_of("us", "orders", "*id");
	rules_source_table src[] = {a->t, b->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 2, &plan, &diag), 0);
	ck_assert_int_eq(plan.n_tables, 2);
	ck_assert_str_eq(plan.tables[1].target_schema, "all");
	ck_assert_str_eq(plan.tables[1].target_name, "us_orders");
}
END_TEST

START_TEST(lowercase_clash_between_tables)
{
	rule("lowercase", "*.*");
	compile_ok();
	src_table *a = table_of("public", "Users", "*id"), *b = table_of("public", "users", "*id");
	rules_source_table src[] = {a->t, b->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 2, &plan, &diag), -1);
	assert_has_message(diag.errors, "source tables public.Users and public.users would both be loaded into "
				       "public.users");
}
END_TEST

START_TEST(column_clash)
{
	rule("rename_column", "public.\"a.b\".old:new");
	compile_ok();
	ck_assert_int_eq(resolve1_error("public", "a.b", "*id,old,new"), -1);
	ck_assert_str_eq(diag.errors.items[0], "ferry.ini: [task orders] table public.\"a.b\": columns old and new "
					       "would both be named new on the target (check rename_column and lowercase)");
}
END_TEST

START_TEST(lowercase_column_clash)
{
	rule("lowercase", "*.*");
	compile_ok();
	ck_assert_int_eq(resolve1_error("s", "t", "*id,Name,NAME"), -1);
	assert_has_message(diag.errors, "columns Name and NAME would both be named name");
}
END_TEST

START_TEST(duplicate_renames_are_errors)
{
	rule_at("rename_schema", "public:a", 5);
	rule_at("rename_schema", "public:b", 6);
	rule_at("rename_table", "s.t:x", 7);
	rule_at("rename_table", "s.\"t\":y", 8);
	rule_at("rename_column", "*.t.c:x", 9);
	rule_at("rename_column", "*.t.c:y", 10);
	rule_at("rename_column", "s.t.c:z", 11); /* narrower than line 9: allowed, never reached */
	ck_assert_str_eq(compile_error(),
			 "ferry.ini:6: [task orders] rename_schema: 'public:b': renames what line 5 already renames");
	ck_assert_int_eq(diag.errors.count, 3);
	assert_has_message(diag.errors, "ferry.ini:8: [task orders] rename_table: 's.\"t\":y': renames what line 7");
	assert_has_message(diag.errors, "ferry.ini:10: [task orders] rename_column: '*.t.c:y': renames what line 9");
}
END_TEST

START_TEST(unselected_tables_are_skipped)
{
	rule("include", "public.*");
	rule("rename_schema", "public:app");
	compile_ok();
	src_table *a = table_of("public", "a", "*id"), *b = table_of("other", "a", "*id"),
		  *c = table_of("public", "b", "*id");
	rules_source_table src[] = {a->t, b->t, c->t};
	ck_assert_int_eq(rules_resolve(compiled, src, 3, &plan, &diag), 0);
	ck_assert_int_eq(plan.n_tables, 2);
	ck_assert_str_eq(plan.tables[0].source_name, "a");
	ck_assert_str_eq(plan.tables[1].source_name, "b");
	rules_table t;
	ck_assert_int_eq(rules_resolve_table(compiled, &b->t, &t, &diag), 0);
	ck_assert_ptr_null(t.target_schema);
}
END_TEST

/* ---- filters ------------------------------------------------------------------------------- */

START_TEST(filter_kept_and_wrapped)
{
	rule("filter", "public.orders: created_at::date >= '2024-01-01' OR id = 1");
	compile_ok();
	const rules_table *t = resolve1("public", "orders", "*id,created_at");
	ck_assert_str_eq(t->filter, "(created_at::date >= '2024-01-01' OR id = 1)");
}
END_TEST

START_TEST(filters_join_with_and_in_file_order)
{
	rule("filter", "*.*: tenant_id = 42");
	rule("filter", "public.orders:total > 0");
	rule("filter", "public.other: x");
	compile_ok();
	const rules_table *t = resolve1("public", "orders", "*id");
	ck_assert_str_eq(t->filter, "(tenant_id = 42) AND (total > 0)");
}
END_TEST

START_TEST(filter_table_with_colon_in_name)
{
	rule("filter", "public.\"a:b\": note = 'x:y' AND \"c;d\" = $$e;f$$");
	compile_ok();
	const rules_table *t = resolve1("public", "a:b", "*id");
	ck_assert_str_eq(t->filter, "(note = 'x:y' AND \"c;d\" = $$e;f$$)");
}
END_TEST

static void expect_filter_error(const char *value, const char *why)
{
	char want[512];

	rule_at("filter", value, 3);
	snprintf(want, sizeof want, "ferry.ini:3: [task orders] filter: '%s': %s", value, why);
	ck_assert_str_eq(compile_error(), want);
	config_diag_free(&diag);
	list_clear(&task.filter);
}

START_TEST(filter_syntax_errors_postgresql)
{
	expect_filter_error("public.t:", "no condition after ':'");
	expect_filter_error("public.t:   ", "no condition after ':'");
	expect_filter_error("public.t", "missing ':' (expected schema.table: condition)");
	expect_filter_error("public.t: (a = 1", "1 '(' never closed");
	expect_filter_error("public.t: a = 1) OR (1 = 1", "')' at character 6 closes no '('");
	expect_filter_error("public.t: a = 'x", "the ' at character 5 is never closed");
	expect_filter_error("public.t: a = 'it\\'s'", "the ' at character 11 is never closed");
	expect_filter_error("public.t: \"a = 1", "the \" at character 1 is never closed");
	expect_filter_error("public.t: a = 1; DROP TABLE t", "';' at character 6: a filter is one condition");
	expect_filter_error("public.t: a = 1 -- x", "comment at character 7: comments are not allowed in a filter");
	expect_filter_error("public.t: a = 1 /* x */", "comment at character 7: comments are not allowed in a filter");
	expect_filter_error("public.t: a = $q$x$", "the $ at character 5 is never closed");
}
END_TEST

START_TEST(filter_valid_postgresql)
{
	rule("filter", "s.a: a = E'it\\'s' AND b = 'x''y' AND c = $t$)$t$ AND d = $1 AND e$f = 2");
	rule("filter", "s.b: a = 'back\\' AND (b - -1) > 0");
	rule("filter", "s.c: a # 1 = 0");
	compile_ok();
}
END_TEST

START_TEST(filter_mysql_dialect)
{
	task.source_ep = &source_ep;
	source_ep.engine = ENGINE_MYSQL;
	rule("filter", "shop.t: name = 'it\\'s' AND `we)ird` = \"a\\\"b\" AND 1--1 = 2");
	compile_ok();
	rules_free(compiled);
	compiled = NULL;
	list_clear(&task.filter);
	expect_filter_error("shop.t: a = 1 # x", "comment at character 7: comments are not allowed in a filter");
	expect_filter_error("shop.t: a = 1 -- x", "comment at character 7: comments are not allowed in a filter");
	expect_filter_error("shop.t: `a = 1", "the ` at character 1 is never closed");
}
END_TEST

/* ---- bad rules -------------------------------------------------------------------------------- */

typedef struct bad_case {
	const char *key, *value, *why;
} bad_case;

static const bad_case bad_cases[] = {
	{"include", "", "empty name"},
	{"include", "public", "only 1 name (expected schema.table)"},
	{"include", "public.", "empty name"},
	{"include", ".users", "empty name"},
	{"include", "a.b.c", "too many '.'-separated names (expected schema.table; quote a name that contains '.')"},
	{"include", "\"public.users", "unterminated quote (a \" is never closed; write \"\" for a \" in a name)"},
	{"include", "public.\"\"", "empty name"},
	{"include", "public.orders: x > 1", "unexpected ':' (quote a name that contains one)"},
	{"exclude", "  ", "empty name"},
	{"rename_schema", "public", "missing ':' (expected schema:newschema)"},
	{"rename_schema", "public:", "empty name"},
	{"rename_schema", ":app", "empty name"},
	{"rename_schema", "pub*:app",
	 "the schema must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)"},
	{"rename_schema", "public:a?",
	 "the new name must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)"},
	{"rename_schema", "public:a.b", "too many '.'-separated names after ':' (expected schema:newschema; quote a "
					"name that contains '.')"},
	{"rename_schema", "public:a:b", "unexpected ':' (quote a name that contains one)"},
	{"rename_table", "users:customers", "only 1 name before ':' (expected schema.table:newschema.newtable or "
					    "schema.table:newtable)"},
	{"rename_table", "s.*:x",
	 "the table must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)"},
	{"rename_table", "s.t:*.x",
	 "the new schema must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)"},
	{"rename_table", "s.t:a.b.c", "too many '.'-separated names after ':' (expected schema.table:newschema.newtable "
				      "or schema.table:newtable; quote a name that contains '.')"},
	{"rename_column", "s.t:c", "only 2 names before ':' (expected schema.table.column:newcolumn)"},
	{"rename_column", "s.t.c*:d",
	 "the column must be one name: an unquoted * or ? is a wildcard (quote it to mean the character)"},
	{"rename_column", "s.t.c:\"d", "unterminated quote (a \" is never closed; write \"\" for a \" in a name)"},
	{"exclude_column", "s.t", "only 2 names (expected schema.table.column)"},
	{"exclude_column", "s.t.c.d", "too many '.'-separated names (expected schema.table.column; quote a name that "
				      "contains '.')"},
	{"lowercase", "yes", "only 1 name (expected schema.table)"},
	{"filter", ": x = 1", "empty name"},
};

START_TEST(each_bad_rule_has_its_message)
{
	const bad_case *c = &bad_cases[_i];
	char want[512];

	rule_at(c->key, c->value, 7);
	snprintf(want, sizeof want, "ferry.ini:7: [task orders] %s: '%s': %s", c->key, c->value, c->why);
	ck_assert_str_eq(compile_error(), want);
	ck_assert_int_eq(diag.errors.count, 1);
}
END_TEST

START_TEST(every_bad_rule_is_reported)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		rule_at(bad_cases[i].key, bad_cases[i].value, (int)i + 1);
	rule_at("include", "public.fine", 100);
	rule_at("exclude", "public.fine", 101);
	rule_at("filter", "public.fine: ok", 102);
	compile_error();
	ck_assert_int_eq(diag.errors.count, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	/* Warnings about the well-formed rules come in the same pass. */
	ck_assert_int_eq(diag.warnings.count, 1);
	assert_has_message(diag.warnings, "ferry.ini:100: [task orders] include: 'public.fine': never applies");
}
END_TEST

START_TEST(message_without_line_or_file)
{
	rule_at("include", "x", -1);
	compiled = rules_compile(&task, NULL, &diag);
	ck_assert_ptr_null(compiled);
	ck_assert_str_eq(diag.errors.items[0], "[task orders] include: 'x': only 1 name (expected schema.table)");
	config_diag_free(&diag);
	list_clear(&task.include);
	rule_at("include", "x", 12);
	compiled = rules_compile(&task, NULL, &diag);
	ck_assert_str_eq(diag.errors.items[0], "line 12: [task orders] include: 'x': only 1 name (expected schema.table)");
	config_diag_free(&diag);
	list_clear(&task.include);
	rule_at("include", "x", -1);
	compiled = rules_compile(&task, "ferry.ini", &diag);
	ck_assert_str_eq(diag.errors.items[0], "ferry.ini: [task orders] include: 'x': only 1 name (expected schema.table)");
	/* No diag at all: still fails cleanly. */
	ck_assert_ptr_null(rules_compile(&task, "ferry.ini", NULL));
}
END_TEST

/* Random values of the rule alphabet through every key: never a crash, never a leak
 * (run under valgrind), and a compiled rule set always answers. */
START_TEST(garbage_never_crashes)
{
	static const char alphabet[] = "ab*?.:\"\" ()'$`;-#/\\\xc3\xa9 E";
	static const char *const keys[] = {"include", "exclude", "rename_schema", "rename_table",
					   "rename_column", "exclude_column", "filter", "lowercase"};
	unsigned seed = 12345;
	char value[24];

	for (int round = 0; round < 3000; round++) {
		for (int k = 0; k < 8; k++) {
			int len = (int)((seed = seed * 1103515245u + 12345u) >> 16) % (int)sizeof(value);
			for (int i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				value[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
			value[len] = '\0';
			rule_at(keys[k], value, k + 1);
		}
		compiled = rules_compile(&task, "f.ini", &diag);
		if (compiled) {
			rules_table t;
			src_table *s = table_of("ab", "a*b", "*a,b");
			if (rules_resolve_table(compiled, &s->t, &t, &diag) > 0)
				rules_table_free(&t);
		}
		teardown();
		setup();
	}
}
END_TEST

/* ---- warnings at resolution ------------------------------------------------------------------- */

START_TEST(unused_rules_warn)
{
	rule_at("include", "public.*", 1);
	rule_at("include", "pubilc.*", 2);
	rule_at("rename_table", "public.userz:x", 3);
	rule_at("exclude_column", "public.users.pasword", 4);
	rule_at("filter", "public.users: true", 5);
	rule_at("lowercase", "nope.*", 6);
	compile_ok();
	resolve1("public", "users", "*id,password");
	ck_assert_int_eq(diag.warnings.count, 4);
	ck_assert_str_eq(diag.warnings.items[0], "ferry.ini:2: [task orders] include: 'pubilc.*': decides no table of "
						 "the source");
	ck_assert_str_eq(diag.warnings.items[1], "ferry.ini:3: [task orders] rename_table: 'public.userz:x': matches "
						 "no selected table");
	ck_assert_str_eq(diag.warnings.items[2], "ferry.ini:4: [task orders] exclude_column: 'public.users.pasword': "
						 "matches no column of a selected table");
	ck_assert_str_eq(diag.warnings.items[3], "ferry.ini:6: [task orders] lowercase: 'nope.*': matches no selected "
						 "table");
}
END_TEST

/* ---- reload comparison ------------------------------------------------------------------------ */

START_TEST(config_equal_ignores_line_shifts_not_order)
{
	task_config a = task;
	string_list inc = {0}, exc = {0}, ren = {0};

	rule_at("include", "public.*", 10);
	rule_at("exclude", "public.audit_*", 11);
	rule_at("rename_schema", "public:app", 12);
	list_add(&inc, "public.*", 20);
	list_add(&exc, "public.audit_*", 21);
	list_add(&ren, "public:app", 22);
	a = task;
	a.include = inc;
	a.exclude = exc;
	a.rename_schema = ren;
	ck_assert(rules_config_equal(&task, &a));
	a.exclude.lines[0] = 19; /* before the include now: the same meaning, excludes win */
	ck_assert(rules_config_equal(&task, &a));
	free(exc.items[0]);
	exc.items[0] = strdup("public.audit2_*");
	ck_assert(!rules_config_equal(&task, &a));
	free(exc.items[0]);
	exc.items[0] = strdup("public.audit_*");
	a.exclude.lines[0] = 21;
	free(ren.items[0]);
	ren.items[0] = strdup("public:other");
	a.rename_schema = ren;
	ck_assert(!rules_config_equal(&task, &a));
	list_clear(&inc);
	list_clear(&exc);
	list_clear(&ren);
}
END_TEST

/* ---- scale --------------------------------------------------------------------------------------- */

START_TEST(many_tables_and_rules)
{
	enum { N_TABLES = 20000, N_RULES = 200 };
	char buf[64];
	static char names[N_TABLES][16];
	rules_source_table *src = calloc(N_TABLES, sizeof(*src));
	static const char *cols[] = {"id", "v"};
	static const bool keys[] = {true, false};

	for (int i = 0; i < N_RULES; i++) {
		snprintf(buf, sizeof buf, "s%d.t_*", i);
		rule("exclude", buf);
		snprintf(buf, sizeof buf, "s%d.r%d:renamed_%d", i, i, i);
		rule("rename_table", buf);
	}
	rule("include", "*.*");
	compile_ok();
	for (int i = 0; i < N_TABLES; i++) {
		snprintf(names[i], sizeof names[i], "%s%d", i % 2 ? "t_" : "r", i);
		src[i] = (rules_source_table){"s1", names[i], cols, keys, 2};
	}
	ck_assert_int_eq(rules_resolve(compiled, src, N_TABLES, &plan, &diag), 0);
	ck_assert_int_eq(plan.n_tables, N_TABLES / 2);
	free(src);
}
END_TEST

static Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	struct {
		const char *name;
		const TTest *tests[16];
	} groups[] = {
		{"globs and quoting", {glob_star_and_question, glob_question_is_one_character_not_one_byte,
				       glob_is_case_sensitive, quotes_make_dots_and_wildcards_literal,
				       quotes_doubled_spaces_and_backslash}},
		{"selection order", {no_rules_select_everything, only_excludes_keep_the_rest,
				     includes_leave_out_what_they_miss, first_match_wins_in_file_order,
				     exclude_after_include_still_wins, interleaving_across_keys,
				     without_lines_excludes_come_first, partial_line_numbers_fall_back,
				     shadowed_include_warns_without_lines, partial_overlap_is_not_shadowed,
				     shadow_detection_handles_many_stars}},
		{"system schemas", {system_schemas_never_by_default, system_schemas_ignore_wildcards,
				    system_schema_written_out_is_selected, system_schemas_depend_on_engine}},
		{"renames", {no_renames_keep_names, rename_schema_applies_to_every_table,
			     rename_table_with_and_without_schema, rules_name_source_objects, rename_column_literal_and_glob,
			     renames_compose_with_lowercase, lowercase_only_where_it_matches,
			     target_schema_of_other_objects, targets_with_spaces_quotes_and_unicode}},
		{"column exclusion", {exclude_column_literal_and_glob, exclude_key_column_is_an_error,
				      exclude_column_of_keyless_table, excluding_every_column_is_an_error}},
		{"conflicts", {two_tables_one_target, merging_schemas_without_clash_is_fine, lowercase_clash_between_tables,
			       column_clash, lowercase_column_clash, duplicate_renames_are_errors,
			       unselected_tables_are_skipped}},
		{"filters", {filter_kept_and_wrapped, filters_join_with_and_in_file_order, filter_table_with_colon_in_name,
			     filter_syntax_errors_postgresql, filter_valid_postgresql, filter_mysql_dialect}},
		{"bad rules", {every_bad_rule_is_reported, message_without_line_or_file, garbage_never_crashes}},
		{"warnings", {unused_rules_warn}},
		{"reload", {config_equal_ignores_line_shifts_not_order}},
		{"scale", {many_tables_and_rules}},
	};

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		TCase *tc = tcase_create(groups[g].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 60);
		for (int i = 0; groups[g].tests[i]; i++)
			tcase_add_test(tc, groups[g].tests[i]);
		if (strcmp(groups[g].name, "bad rules") == 0)
			tcase_add_loop_test(tc, each_bad_rule_has_its_message, 0,
					    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rules_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
