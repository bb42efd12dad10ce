/* Statement helpers for the MySQL/MariaDB engine code (see the header). */
#include "workers/my_sql.h"

#include <errmsg.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int my_sql_fail(char **err, const char *context, MYSQL *conn)
{
	if (err == NULL)
		return -1;
	free(*err);
	if (asprintf(err, "%s: %s (error %u)", context, mysql_error(conn), mysql_errno(conn)) < 0)
		*err = NULL;
	return -1;
}

MYSQL_RES *my_sql_query(MYSQL *conn, const char *sql, const char *context, char **err)
{
	if (mysql_query(conn, sql) != 0) {
		my_sql_fail(err, context, conn);
		return NULL;
	}
	MYSQL_RES *res = mysql_store_result(conn);
	if (res == NULL)
		my_sql_fail(err, context, conn);
	return res;
}

int my_sql_command(MYSQL *conn, const char *sql, const char *context, char **err)
{
	if (mysql_query(conn, sql) != 0)
		return my_sql_fail(err, context, conn);
	do {
		MYSQL_RES *res = mysql_store_result(conn);
		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(conn) != 0)
			return my_sql_fail(err, context, conn);
	} while (mysql_next_result(conn) == 0);
	return mysql_errno(conn) != 0 ? my_sql_fail(err, context, conn) : 0;
}

void my_sql_append_literal(strbuf *sb, MYSQL *conn, const char *value)
{
	size_t len = strlen(value);
	if (!strbuf_reserve(sb, 2 * len + 3))
		return;
	/* follows the session's NO_BACKSLASH_ESCAPES (quotes doubled then) */
	unsigned long n = mysql_real_escape_string(conn, sb->data + sb->len + 1, value, len);
	sb->data[sb->len] = '\'';
	sb->len += 1 + n;
	sb->data[sb->len++] = '\'';
	sb->data[sb->len] = '\0';
}

int my_sql_value(MYSQL *conn, const char *sql, char *buf, size_t size, const char *context, char **err)
{
	MYSQL_RES *res = my_sql_query(conn, sql, context, err);
	if (res == NULL)
		return -1;
	MYSQL_ROW row = mysql_fetch_row(res);
	snprintf(buf, size, "%s", row && row[0] ? row[0] : "");
	mysql_free_result(res);
	return 0;
}

bool my_sql_lost(MYSQL *conn)
{
	unsigned e = mysql_errno(conn);
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
	       e == CR_CONN_HOST_ERROR;
}
