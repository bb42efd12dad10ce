/* What every ferry connection to a MySQL/MariaDB target shares: the session, the
 * bookkeeping tables in database `ferry`, statements with their failures classified.
 *
 * Session (my_target_session): time_zone '+00:00', utf8mb4, sql_mode
 * STRICT_ALL_TABLES + NO_AUTO_VALUE_ON_ZERO + NO_ENGINE_SUBSTITUTION and nothing else
 * (a refused value is an error, never a silent truncation; an explicit 0 in an
 * AUTO_INCREMENT column stays 0; backslashes escape, which the value code relies on),
 * foreign_key_checks = 0 (rows arrive in source order inside a table but not across
 * tables during the load, as with session_replication_role = replica on PostgreSQL),
 * no statement time limit, and multi-statement packets.
 *
 * Bookkeeping (my_target_bookkeeping_init), InnoDB, so each row commits with the data it
 * describes:
 *   ferry.load_progress (task, source_table, partition, rows, finished_at, finish_position)
 *   ferry.load_plan     (task, source_table, partition, kind, lo, hi, est_rows)
 *   ferry.apply_progress (task, worker, position, updated_at)
 *   ferry.source_position (task, file, position, updated_at): a MySQL source's stream
 * the same columns and meaning as on a PostgreSQL target (workers/pg_load.h,
 * workers/capture_my.c).
 *
 * Failures: every failed statement records whether retrying can help (the connection is
 * lost, the server is shutting down, a deadlock or lock wait timeout rolled the
 * transaction back): my_target_transient() answers for the last one. A worker has one
 * target connection, so one process-wide answer is enough. */
#ifndef FERRY_MY_TARGET_H
#define FERRY_MY_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "common/sqlquote.h"

#define MY_TARGET_DB "ferry"

/* Sets the session up (above). 0, or -1 with *err. */
int my_target_session(MYSQL *conn, char **err);

/* Installs a local-infile handler that refuses: the client library's default would send
 * any local file a server asks for in answer to any statement. my_target_session() does
 * it; the loader installs its own for the length of its LOAD DATA, then this one again. */
void my_target_refuse_local_infile(MYSQL *conn);

/* The binary, no-pad utf8mb4 collation of this server: utf8mb4_nopad_bin (MariaDB 10.2
 * and later), utf8mb4_0900_bin (MySQL 8), else utf8mb4_bin. */
const char *my_target_collation(MYSQL *conn);

/* Creates database ferry and its four tables unless they exist. 0, or -1 with *err. */
int my_target_bookkeeping_init(MYSQL *conn, char **err);

/* my_sql_command / my_sql_query that also classify a failure (my_target_transient). */
int my_target_exec(MYSQL *conn, const char *sql, const char *context, char **err);
MYSQL_RES *my_target_query(MYSQL *conn, const char *sql, const char *context, char **err);
/* Sets *err from conn's last error ("context: message (error N)") and classifies it. */
int my_target_fail(MYSQL *conn, const char *context, char **err);
/* Whether the last failure is worth a retry (see above); false after a success. */
bool my_target_transient(void);
/* Records a failure that is not a server error (transient or not). */
void my_target_set_transient(bool transient);

/* A string literal escaped for conn (mysql_real_escape_string), quoted. */
void my_target_append_literal(strbuf *sb, MYSQL *conn, const char *value, size_t len);

/* Whether a server error number means the transaction was rolled back or the connection
 * is gone, so the work may be retried. */
bool my_target_errno_transient(unsigned int err);

#endif
