/* A MySQL/MariaDB table as it is to exist on its target: the mapping layer
 * between the MySQL catalog (workers/my_catalog.h) and the PostgreSQL DDL builder
 * (workers/pg_ddl.h), through the one type map (common/typemap.h).
 *
 * my_pg_table_build() turns a source table and the task's name map into a
 * PostgreSQL-shaped table model (engine postgresql, target names, PostgreSQL type
 * spellings) that pg_ddl takes as it is (with no name map of its own), plus, per source
 * column, how its values convert. On the way it checks what PostgreSQL cannot take:
 *   - a schema, table or column name longer than 63 bytes (PostgreSQL would cut it):
 *     an error naming it, to be fixed with a rename rule;
 *   - a column type without a mapping (spatial types): an error naming the column;
 *   - with CDC, a character set the change stream decoder does not read (anything but
 *     utf8mb4, utf8mb3, ascii, latin1 and binary).
 * Names PostgreSQL keeps per schema are given the table's name in front, shortened
 * with a hash when longer than 63 bytes: the key "<table>_pkey", indexes
 * "<table>_<index>", an ENUM column's type "<table>_<column>", an AUTO_INCREMENT
 * column's identity sequence "<table>_<column>_seq".
 * Defaults: literals and CURRENT_TIMESTAMP are kept, the rest is left out with a note;
 * FULLTEXT, SPATIAL, prefix and functional indexes likewise (doc/type-mapping.md).
 *
 * A MySQL/MariaDB target (my_pg_options.mysql_target) gets the table as the source
 * declares it instead: a MySQL-shaped model (engine mysql) with the target names, each
 * column's COLUMN_TYPE, collation, NOT NULL, default and AUTO_INCREMENT as they are, the
 * key and the secondary indexes (prefixes and FULLTEXT kept, functional ones noted);
 * generated columns are left out with a note (the target would compute them, a row
 * image carries them). workers/my_ddl.h builds its DDL. The per-column conversions stay
 * the decoder's (workers/my_rowdec.h), with MySQL's own values where PostgreSQL's would
 * differ (my_pg_column.mysql). */
#ifndef FERRY_MY_PGMAP_H
#define FERRY_MY_PGMAP_H

#include <stdbool.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "common/typemap.h"
#include "workers/pg_ddl.h"

#define MY_PG_NAME_MAX 63 /* PostgreSQL's NAMEDATALEN - 1 */

/* The source's character data as the decoder reads it. */
typedef enum my_charset {
	MY_CHARSET_NONE = 0, /* not character data */
	MY_CHARSET_UTF8,     /* utf8mb4, utf8mb3, utf8, ascii: the bytes are UTF-8 */
	MY_CHARSET_LATIN1,   /* MySQL's latin1 (Windows-1252) */
	MY_CHARSET_BINARY,
	MY_CHARSET_OTHER
} my_charset;

typedef struct my_pg_column {
	int target;       /* index in target->columns; -1 = excluded */
	typemap_pg type;  /* the PostgreSQL type and the value conversion */
	my_charset charset;
	int bytes;        /* BINARY(n): n, to restore the padding the binlog strips; 0 otherwise */
	/* The target is MySQL: values as MySQL has them (TINYINT(1) any integer, SET its
	 * comma list, text with NUL bytes) rather than what PostgreSQL can hold. */
	bool mysql;
} my_pg_column;

typedef struct my_pg_table {
	const catalog_table *source;
	catalog *cat;            /* owns target */
	catalog_table *target;   /* PostgreSQL-shaped, target names */
	my_pg_column *cols;      /* per source column */
	int n_cols;
	int n_copied;            /* columns on the target */
} my_pg_table;

typedef struct my_pg_options {
	const catalog_name_map *names; /* renames and excluded columns; NULL = none */
	bool cdc;                      /* the task reads the change stream too */
	bool mysql_target;             /* the target is MySQL/MariaDB: the source's own shape */
} my_pg_options;

/* 0 with out filled; -1 with one line per problem appended to problems (every problem
 * of the table, not just the first) or, when memory runs out, "out of memory". Notes
 * (defaults and indexes left out) go to notes (may be NULL). */
int my_pg_table_build(const catalog_table *src, const my_pg_options *o, my_pg_table *out, strbuf *problems,
		      pg_ddl_script *notes);
void my_pg_table_free(my_pg_table *t);

/* "a_b" when it fits 63 bytes, else its first bytes (cut at a character boundary), '_'
 * and 8 hex digits of a hash of the whole: derived names stay unique and legal. */
void my_pg_derived_name(char out[MY_PG_NAME_MAX + 1], const char *a, const char *b);

/* The PostgreSQL default of a MySQL default expression (MariaDB's COLUMN_DEFAULT form)
 * for a column converted by conv: 1 with out filled, 0 when it has no equivalent. */
int my_pg_default(const char *expr, const typemap_pg *type, int bit_length, strbuf *out);

my_charset my_pg_charset(const char *collation);

#endif
