/* A task's table rules (the design's "schema and rules"): which source tables are migrated,
 * what they and their columns are called on the target, which columns are left out and
 * which rows are copied. Compiled once from the task's config, then queried per table
 * when a worker starts (or when a new table or column shows up in the change stream);
 * nothing here runs per row.
 *
 * Names in rules
 *   A rule names source objects as they are in the source, dotted: schema.table or
 *   schema.table.column (a MySQL database is the schema). Matching is exact and
 *   case-sensitive: "Users" is not "users".
 *   - In patterns, an unquoted * matches any run of characters (also none) and ? one
 *     character (one UTF-8 code point); every other character stands for itself,
 *     spaces inside a name included (spaces around a name and around . or : are
 *     ignored).
 *   - Double quotes make text literal: "my.schema"."t*" is the schema my.schema and the
 *     table t*. Inside quotes "" is one ". Quoted and unquoted text join up, so "t*"*
 *     is every table whose name starts with t*. Quote a name that has . : " * ? or
 *     leading or trailing spaces.
 *   - Where a rule must name one object (the source of rename_schema/rename_table, the
 *     column of rename_column, every rename target) an unquoted * or ? is an error.
 *
 * Keys (all repeatable)
 *   include = schema.table pattern        exclude = schema.table pattern
 *     A table is migrated when no exclude matches it and an include does (or there is
 *     no include line at all): an exclude always wins, wherever it is written, so
 *     "include = public.*" with "exclude = public.audit_*" leaves the audit tables out.
 *     An include that an exclude covers entirely can never apply: reported as a warning.
 *     System schemas (PostgreSQL: pg_* and information_schema; MySQL: mysql,
 *     performance_schema, sys and information_schema; both sets when the source engine
 *     is unknown) are never selected by a schema pattern with wildcards: only a rule
 *     that writes the schema name out (include = sys.*) can select their tables.
 *   rename_schema = schema:newschema
 *   rename_table = schema.table:newschema.newtable, or schema.table:newtable (the
 *     table keeps its target schema: the renamed one when rename_schema applies)
 *   rename_column = schema.table.column:newcolumn (schema and table may be patterns;
 *     of several matching lines the first wins)
 *   exclude_column = schema.table.column (all three may be patterns); excluding a
 *     primary-key column is an error when the table is resolved
 *   filter = schema.table: SQL boolean expression, in the source's dialect. Every
 *     filter whose pattern matches the table applies: they are joined with AND. The
 *     text is kept as written after a cheap check (not empty; parentheses, quotes and
 *     dollar quotes balanced; no ';' and no comments, which could escape the WHERE
 *     clause the expression is placed in).
 *   lowercase = schema.table pattern: the matching tables' target schema, table and
 *     column names are lowercased (ASCII A-Z only, as PostgreSQL folds unquoted names).
 *   A name written in a rename rule is used exactly as written, never lowercased.
 *   Renaming composes: rename_table's explicit schema, else rename_schema, else the
 *   source schema (lowercased when asked).
 *
 * Errors name file:line (when the loader recorded lines), the task, key and value. */
#ifndef FERRY_RULES_H
#define FERRY_RULES_H

#include <stdbool.h>

#include "common/config.h"

typedef struct rules rules;

/* Compiles every rule key of task. Each malformed rule adds an error to diag->errors
 * ("file:line: [task T] key: 'value': why"; file may be NULL); rules that cannot matter
 * (shadowed selection patterns) add warnings. Returns NULL when there was any error.
 * diag may be NULL (then nothing is reported). */
rules *rules_compile(const task_config *task, const char *file, config_diag *diag);
void rules_free(rules *r);

/* Whether the source table schema.table is migrated. */
bool rules_select(const rules *r, const char *schema, const char *table);

/* A source table as the catalog describes it. */
typedef struct rules_source_table {
	const char *schema;
	const char *name;
	const char *const *columns; /* source column names, in ordinal order */
	const bool *is_key;	    /* per column: part of the primary key; NULL = no key */
	int n_columns;
} rules_source_table;

/* The target schema of objects of a source schema other than tables (enum types,
 * sequences): rename_schema's name, else the schema lowercased when the schema part of
 * a lowercase pattern matches it, else the schema itself. malloc'd; caller frees. */
char *rules_target_schema(const rules *r, const char *schema);

/* A selected table with every rule applied. Owns its strings. */
typedef struct rules_table {
	char *source_schema;
	char *source_name;
	char *target_schema;
	char *target_name;
	int n_columns;
	char **target_columns; /* [i]: target name of source column i; NULL = excluded */
	char *filter;	       /* "(expr)" or "(expr1) AND (expr2)"; NULL = every row */
} rules_table;

/* Resolves one table. Returns 1 and fills out when the table is selected, 0 when it is
 * not (out zeroed), -1 with errors in diag (an excluded key column, two columns with
 * the same target name, every column excluded; out zeroed). */
int rules_resolve_table(const rules *r, const rules_source_table *src, rules_table *out,
			config_diag *diag);
void rules_table_free(rules_table *t);

/* The selected tables of a source, resolved, in the order given. */
typedef struct rules_plan {
	rules_table *tables;
	int n_tables;
} rules_plan;

/* Resolves all of src[0..n) and checks them against each other: two source tables with
 * the same target is an error. Rules that touched no selected table add warnings
 * (a likely typo). Returns 0, or -1 when diag got errors (plan then empty). */
int rules_resolve(const rules *r, const rules_source_table *src, int n, rules_plan *plan,
		  config_diag *diag);
void rules_plan_free(rules_plan *plan);

/* Whether two task configs have the same rules: the same values per key and the same
 * interleaving of include and exclude lines (line numbers themselves do not matter, so
 * a comment added above the rules changes nothing). For the reload diff. */
bool rules_config_equal(const task_config *a, const task_config *b);

#endif
