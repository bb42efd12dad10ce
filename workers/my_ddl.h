/* DDL for a MySQL/MariaDB target, built from the table model (common/catalog.h) of a
 * PostgreSQL source (through the type map, common/typemap.h) or of a MySQL source (the
 * column types as the source spells them).
 *
 * Per table:
 *   before the load  target_table_prep (DROP TABLE IF EXISTS / TRUNCATE TABLE), then,
 *                    with create_tables: CREATE DATABASE IF NOT EXISTS (a source schema is
 *                    a MySQL database of the same name; rename_schema changes it), CREATE
 *                    TABLE with the columns, NOT NULL, the defaults MySQL can take, the
 *                    primary key, ENGINE=InnoDB and utf8mb4;
 *   after the load   the secondary indexes, in one ALTER TABLE (one rebuild of the table).
 *
 * Choices a reader should know (PostgreSQL source):
 *   - text compares byte for byte, as in PostgreSQL: the table's collation is binary and
 *     does not pad (utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on MySQL 8), so keys
 *     'a', 'A' and 'a ' stay three keys;
 *   - MySQL cannot index TEXT/BLOB columns whole: a key column of unbounded text or bytea
 *     becomes varchar/varbinary sized to fit InnoDB's 3072-byte key (noted); a secondary
 *     index on such a column indexes a prefix when it is not unique, and is left out
 *     (noted) when it is unique; json columns are never indexed (noted);
 *   - an identity or serial column that leads the primary key becomes AUTO_INCREMENT;
 *   - defaults: numbers, strings, booleans and now()/CURRENT_TIMESTAMP are kept, other
 *     expressions are left out (noted); generated columns are left out (noted: their
 *     expressions are PostgreSQL's); partitioning, CHECK and foreign keys are not made;
 *   - expression, partial and non-btree indexes are left out (noted).
 * Nothing here talks to a server. */
#ifndef FERRY_MY_DDL_H
#define FERRY_MY_DDL_H

#include <stdbool.h>

#include "common/catalog.h"
#include "common/config.h"
#include "common/sqlquote.h"
#include "workers/pg_ddl.h"

#define MY_NAME_MAX 64          /* characters in a database, table, column or index name */
#define MY_KEY_BYTES_MAX 3072   /* InnoDB's longest index key (DYNAMIC rows) */

typedef struct my_ddl_options {
	const catalog_name_map *names; /* NULL: same names, every column */
	table_prep_kind prep;
	bool create_tables;
	/* The binary, no-pad utf8mb4 collation of the target server (my_target_collation());
	 * NULL = "utf8mb4_bin". */
	const char *collation;
	bool mariadb;                  /* MariaDB takes defaults on TEXT/BLOB/JSON columns */
} my_ddl_options;

/* Everything about t that the target cannot take, checked before anything is created:
 * names longer than 64 characters, empty or ending in a space (database, table, columns,
 * indexes), two columns whose names differ only in case, a column type without a MySQL
 * mapping, a key on a json column. One line per problem appended to problems; returns
 * how many. */
int my_ddl_check_table(const catalog_table *t, const my_ddl_options *o, strbuf *problems);

/* Statements (and notes) appended to script; 0, or -1 with *err (malloc'd): drop without
 * create_tables, a type without a mapping, a key column excluded, out of memory. */
int my_ddl_before_load(const catalog_table *t, const my_ddl_options *o, pg_ddl_script *script,
		       char **err);
/* The secondary indexes not in existing (names of indexes the target table has already,
 * n_existing of them; a rerun after a crash skips what was built), as one ALTER TABLE;
 * nothing when there is none. */
int my_ddl_after_load(const catalog_table *t, const my_ddl_options *o, const char *const *existing,
		      int n_existing, pg_ddl_script *script, char **err);

/* CREATE TABLE alone, into out (notes may be NULL). */
int my_ddl_create_table(const catalog_table *t, const my_ddl_options *o, strbuf *out,
			pg_ddl_script *notes, char **err);

/* The MySQL column type of column i as created (key columns adjusted as above), into out.
 * 0, or -1 with why. */
int my_ddl_column_type(const catalog_table *t, int i, strbuf *out, char *why, size_t why_len);

/* `db`.`name` of t on the target. */
void my_ddl_append_table(strbuf *sb, const catalog_table *t, const catalog_name_map *names);

/* A string literal for DDL text: quotes and backslashes doubled (the sessions ferry opens
 * never set NO_BACKSLASH_ESCAPES, see my_target_session()). */
void my_ddl_append_literal(strbuf *sb, const char *value);

/* Characters (UTF-8 code points) in s. */
int my_ddl_name_chars(const char *s);

#endif
