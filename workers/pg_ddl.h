/* DDL for a PostgreSQL target, built from the table model (common/catalog.h).
 *
 * Per table, three scripts:
 *   before the load  target_table_prep (DROP TABLE IF EXISTS / TRUNCATE), then, with
 *                    create_tables: CREATE SCHEMA IF NOT EXISTS, enum types, owned
 *                    sequences, CREATE TABLE (columns, types, collations, NOT NULL,
 *                    non-volatile defaults, identity, generated columns, primary key,
 *                    PARTITION BY) and its partitions, sequence ownership;
 *   after the load   the primary key when deferred (defer_primary_key), secondary
 *                    indexes, replica identity;
 *   at cutover       setval() of every owned sequence past the migrated maximum.
 * Target names come from a catalog_name_map (renames, excluded columns). Every
 * identifier is quoted and every literal escaped (common/sqlquote.h).
 *
 * What is not recreated: volatile defaults other than nextval() of the column's own
 * sequence (noted), CHECK and foreign-key constraints, exclusion constraints, triggers,
 * privileges, comments, domains and other user-defined types except enums (the target
 * must have them already). A partitioned table keeps its partitioning. */
#ifndef FERRY_PG_DDL_H
#define FERRY_PG_DDL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/catalog.h"
#include "common/config.h"
#include "common/sqlquote.h"

/* Statements to run in order, one per item, and notes on what was left out. */
typedef struct pg_ddl_script {
	char **statements;
	int n_statements;
	char **notes; /* one line each, for the log: "index x: not created: ..." */
	int n_notes;
	int cap_statements, cap_notes;
} pg_ddl_script;

void pg_ddl_script_free(pg_ddl_script *script);
/* Moves the statement in sb into the script (sb is left empty). 0, or -1 out of memory. */
int pg_ddl_script_add(pg_ddl_script *script, strbuf *sb);
/* Appends a note for the log; notes may be NULL (no notes wanted). A lost note is harmless. */
void pg_ddl_script_note(pg_ddl_script *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the PostgreSQL type of a column into out and returns 1, or returns 0 to leave
 * the column to the default rendering. The hook for the heterogeneous type map. */
typedef int (*pg_ddl_type_fn)(void *arg, const catalog_table *t, const catalog_column *c,
			      strbuf *out);

typedef struct pg_ddl_options {
	const catalog_name_map *names; /* NULL: same names, every column */
	table_prep_kind prep;
	bool create_tables;
	pg_ddl_type_fn column_type;    /* optional */
	void *column_type_arg;
	/* With prep = drop and create_tables: the table is created without its primary key
	 * and pg_ddl_after_load() adds it (one index build from the loaded rows instead of
	 * one index insert per row). Before- and after-load must be given the same value. */
	bool defer_primary_key;
} pg_ddl_options;

/* Each returns 0 and appends to script, or -1 with *err (malloc'd) saying why: a primary
 * key column excluded, a type with no PostgreSQL spelling, drop without create_tables,
 * out of memory. */
int pg_ddl_before_load(const catalog_table *t, const pg_ddl_options *o, pg_ddl_script *script,
		       char **err);
int pg_ddl_after_load(const catalog_table *t, const pg_ddl_options *o, pg_ddl_script *script,
		      char **err);
/* At cutover: sets the target's sequence behind seq's column to the greater of the
 * source's state (last_value, is_called as pg_catalog_sequence_state() reads them) and
 * the target column's maximum (minimum for a descending sequence). */
int pg_ddl_setval(const catalog_table *t, const catalog_sequence *seq, const pg_ddl_options *o,
		  int64_t last_value, bool is_called, strbuf *out, char **err);

/* Single statements, for callers that order their own work. */
int pg_ddl_create_table(const catalog_table *t, const pg_ddl_options *o, strbuf *out,
			pg_ddl_script *notes, char **err);
/* 0 with the statement in out; 1 when the index cannot be created (a column it needs is
 * excluded, or an expression index on renamed columns) with the reason in notes. */
int pg_ddl_create_index(const catalog_table *t, const catalog_index *idx,
			const pg_ddl_options *o, strbuf *out, pg_ddl_script *notes, char **err);

/* The natural PostgreSQL spelling of a neutral type ("integer", "numeric(12,2)",
 * "character varying(20)[]", an enum's quoted name with its schema mapped); -1 when
 * the class has none (other, MySQL SET, an enum without a type name). */
int pg_ddl_type_name(const catalog_type *type, const catalog_name_map *map, strbuf *out);

#endif
