/* MySQL/MariaDB target sessions, bookkeeping tables and classified statements (see the
 * header). */
#include "workers/my_target.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_sql.h"

static bool last_transient;

bool my_target_errno_transient(unsigned int err)
{
	switch (err) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case ER_SERVER_SHUTDOWN:
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_LOCK_DEADLOCK:
	case ER_CONNECTION_KILLED:
		return true;
	default:
		return false;
	}
}

bool my_target_transient(void)
{
	return last_transient;
}

void my_target_set_transient(bool transient)
{
	last_transient = transient;
}

int my_target_fail(MYSQL *conn, const char *context, char **err)
{
	last_transient = my_target_errno_transient(mysql_errno(conn));
	return my_sql_fail(err, context, conn);
}

int my_target_exec(MYSQL *conn, const char *sql, const char *context, char **err)
{
	if (my_sql_command(conn, sql, context, err) < 0) {
		last_transient = my_target_errno_transient(mysql_errno(conn));
		return -1;
	}
	last_transient = false;
	return 0;
}

MYSQL_RES *my_target_query(MYSQL *conn, const char *sql, const char *context, char **err)
{
	MYSQL_RES *res = my_sql_query(conn, sql, context, err);
	last_transient = res == NULL && my_target_errno_transient(mysql_errno(conn));
	return res;
}

void my_target_append_literal(strbuf *sb, MYSQL *conn, const char *value, size_t len)
{
	if (!strbuf_reserve(sb, 2 * len + 3))
		return;
	unsigned long n = mysql_real_escape_string(conn, sb->data + sb->len + 1, value, (unsigned long)len);
	sb->data[sb->len] = '\'';
	sb->len += 1 + n;
	sb->data[sb->len++] = '\'';
	sb->data[sb->len] = '\0';
}

const char *my_target_collation(MYSQL *conn)
{
	unsigned long v = mysql_get_server_version(conn);
	if (mariadb_connection(conn))
		return v >= 100200 ? "utf8mb4_nopad_bin" : "utf8mb4_bin";
	return v >= 80000 ? "utf8mb4_0900_bin" : "utf8mb4_bin";
}

/* ---- LOAD DATA LOCAL outside ferry's own loads ------------------------------------------- */

static int refuse_init(void **ptr, const char *filename, void *userdata)
{
	(void)filename;
	(void)userdata;
	*ptr = NULL;
	return 1;
}

static int refuse_read(void *ptr, char *buf, unsigned int len)
{
	(void)ptr;
	(void)buf;
	(void)len;
	return -1;
}

static void refuse_end(void *ptr)
{
	(void)ptr;
}

static int refuse_error(void *ptr, char *msg, unsigned int len)
{
	(void)ptr;
	snprintf(msg, len, "ferry sends no file it was not loading itself");
	return CR_UNKNOWN_ERROR;
}

void my_target_refuse_local_infile(MYSQL *conn)
{
	mysql_set_local_infile_handler(conn, refuse_init, refuse_read, refuse_end, refuse_error, NULL);
}

int my_target_session(MYSQL *conn, char **err)
{
	/* the client library would read a local file for any server that asks */
	my_target_refuse_local_infile(conn);
	/* max_statement_time is MariaDB's; MySQL's max_execution_time limits SELECTs only */
	const char *sql = mariadb_connection(conn)
				  ? "SET time_zone = '+00:00', NAMES utf8mb4, foreign_key_checks = 0,"
				    " sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',"
				    " SESSION max_statement_time = 0, autocommit = 1"
				  : "SET time_zone = '+00:00', NAMES utf8mb4, foreign_key_checks = 0,"
				    " sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION',"
				    " SESSION max_execution_time = 0, autocommit = 1";
	if (my_target_exec(conn, sql, "target: setting up the session", err) < 0)
		return -1;
	if (mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0)
		return my_target_fail(conn, "target: enabling multi-statement packets", err);
	return 0;
}

/* Key columns sized so the primary key stays within InnoDB's 3072 bytes in utf8mb4. */
static const char *const bookkeeping_sql[] = {
	"CREATE DATABASE IF NOT EXISTS `" MY_TARGET_DB "` CHARACTER SET utf8mb4",
	"CREATE TABLE IF NOT EXISTS `" MY_TARGET_DB "`.`load_progress` ("
	" `task` varchar(200) NOT NULL, `source_table` varchar(500) NOT NULL, `partition` int NOT NULL,"
	" `rows` bigint NOT NULL, `finished_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
	" `finish_position` bigint unsigned NULL,"
	" PRIMARY KEY (`task`, `source_table`, `partition`)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `" MY_TARGET_DB "`.`load_plan` ("
	" `task` varchar(200) NOT NULL, `source_table` varchar(500) NOT NULL, `partition` int NOT NULL,"
	" `kind` varchar(16) NOT NULL, `lo` bigint NULL, `hi` bigint NULL, `est_rows` bigint NULL,"
	" PRIMARY KEY (`task`, `source_table`, `partition`)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `" MY_TARGET_DB "`.`apply_progress` ("
	" `task` varchar(200) NOT NULL, `worker` int NOT NULL, `position` bigint unsigned NOT NULL,"
	" `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
	" PRIMARY KEY (`task`, `worker`)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
	"CREATE TABLE IF NOT EXISTS `" MY_TARGET_DB "`.`source_position` ("
	" `task` varchar(200) NOT NULL, `file` varchar(512) NOT NULL, `position` bigint unsigned NOT NULL,"
	" `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `gtid` text NULL,"
	" PRIMARY KEY (`task`)"
	") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
};

int my_target_bookkeeping_init(MYSQL *conn, char **err)
{
	for (size_t i = 0; i < sizeof bookkeeping_sql / sizeof bookkeeping_sql[0]; i++) {
		if (my_target_exec(conn, bookkeeping_sql[i], "target: creating the bookkeeping tables in database "
			MY_TARGET_DB " (grant the target user CREATE on it, or create them beforehand)", err) < 0)
			return -1;
	}
	return 0;
}
