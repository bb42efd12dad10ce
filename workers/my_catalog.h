/* Reads a MySQL/MariaDB server's catalog (information_schema) into the table model
 * (common/catalog.h): base tables with their columns (types through common/typemap's
 * parser, NOT NULL, defaults as MySQL prints them, AUTO_INCREMENT, generated columns),
 * primary key, unique and plain indexes, row and size estimates.
 *
 * Four queries in all, whatever the number of tables. A MySQL database is the model's
 * schema. The model's table id is my_catalog_table_id() of the names: stable across
 * processes and restarts, so capture, load and apply agree on it without a server oid.
 *
 * Per column, catalog_column.collation holds MySQL's collation name (its character set
 * is the part before the first '_'), NULL for non-character columns.
 * A column whose type has no mapping is not an error here: its type class is OTHER and
 * type_name says what it is; the task's checks (workers/my_pgmap.h) refuse it with the
 * reason. */
#ifndef FERRY_MY_CATALOG_H
#define FERRY_MY_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "common/catalog.h"

typedef struct my_catalog_filter {
	const char *database; /* only this database; NULL = every non-system database */
	/* Optional: called per table found; false leaves it out before its columns are read. */
	bool (*keep_table)(void *arg, const char *schema, const char *name);
	void *arg;
} my_catalog_filter;

/* 0 and *out (caller frees with catalog_free), or -1 and *err (malloc'd, one line). After
 * a failure my_sql_lost(conn) tells a lost connection from an error of the query. */
int my_catalog_read(MYSQL *conn, const my_catalog_filter *filter, catalog **out, char **err);

/* The id of a table in the model and the change stream: a 64-bit hash of its names,
 * never 0. */
uint64_t my_catalog_table_id(const char *schema, const char *name);

/* The character set of a column (from its collation), or NULL for non-character data. */
const char *my_catalog_charset(const catalog_column *c, char *buf, size_t size);

#endif
