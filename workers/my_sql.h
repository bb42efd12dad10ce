/* Small helpers for the MySQL/MariaDB engine code: statements with their errors turned
 * into one-line messages, and string literals quoted for the connection's sql_mode.
 * Values go into SQL only through my_sql_append_literal (the server's own escaping). */
#ifndef FERRY_MY_SQL_H
#define FERRY_MY_SQL_H

#include <stdbool.h>

#include <mysql.h>

#include "common/sqlquote.h"

/* Sets *err (malloc'd) to "context: <server message> (error N)"; returns -1. */
int my_sql_fail(char **err, const char *context, MYSQL *conn);

/* Runs sql and stores its whole result (catalog-sized results only: row data streams
 * elsewhere with mysql_use_result). NULL with *err when the statement fails. */
MYSQL_RES *my_sql_query(MYSQL *conn, const char *sql, const char *context, char **err);

/* Runs a statement whose result is not needed (any result set is read and dropped). */
int my_sql_command(MYSQL *conn, const char *sql, const char *context, char **err);

/* A quoted string literal, escaped by the server's rules for this connection. */
void my_sql_append_literal(strbuf *sb, MYSQL *conn, const char *value);

/* The first column of the first row of sql, copied into buf (empty for NULL or no row).
 * 0, or -1 with *err. */
int my_sql_value(MYSQL *conn, const char *sql, char *buf, size_t size, const char *context, char **err);

/* Whether the connection was lost (the error is worth a retry). */
bool my_sql_lost(MYSQL *conn);

#endif
