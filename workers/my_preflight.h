/* What a MySQL/MariaDB source must offer before a task starts, checked on an ordinary
 * connection without changing anything. Each problem is one line saying what is wrong
 * and what to change:
 *   - a server ferry reads (MariaDB >= 10.3, MySQL >= 5.7);
 *   - with CDC: the binary log on, binlog_format = ROW, binlog_row_image = FULL
 *     (MINIMAL or NOBLOB only when every selected table has a primary key: then a
 *     warning says so, since an INSERT then carries only the columns it set and the
 *     target fills the others from its defaults), the task's server_id unlike the
 *     source's own and its other replicas', REPLICATION SLAVE and REPLICATION CLIENT
 *     (BINLOG MONITOR on MariaDB >= 10.5) granted; MySQL 8 only:
 *     binlog_transaction_compression off, binlog_row_value_options empty, and no JSON
 *     column selected (its binary form is not decoded yet);
 *   - SELECT on every selected table (tried with a LIMIT 0 query each);
 *   - with CDC and a full load, binary log retention shorter than twice the full load's
 *     estimated duration: a warning (the start position could be purged before the
 *     stream reaches it). */
#ifndef FERRY_MY_PREFLIGHT_H
#define FERRY_MY_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "common/config.h"
#include "common/sqlquote.h"
#include "workers/endpoint.h"
#include "workers/my_task.h"

typedef struct my_source_info {
	bool mariadb;
	char version[64];   /* "MariaDB 10.11.19" */
	bool minimal_image; /* binlog_row_image is not FULL */
	bool checksum;      /* binlog_checksum = CRC32 */
	int64_t retention_s; /* binlog retention in seconds; 0 = never purged */
} my_source_info;

/* Full-load estimate rate the retention warning assumes per load worker. */
#define MY_PREFLIGHT_LOAD_BYTES_PER_S (20LL * 1024 * 1024)

/* Appends problems and warnings (one line each; warnings may be NULL). Returns
 * ENDPOINT_OK when there is no problem, ENDPOINT_FATAL when a person must act,
 * ENDPOINT_TRANSIENT when a query failed because the connection was lost. */
endpoint_result my_preflight(MYSQL *conn, const task_config *task, const my_task_tables *tables, my_source_info *info,
			     strbuf *problems, strbuf *warnings);

/* Whether SHOW GRANTS lines (one grant a line) give privilege on *.*, directly or
 * through ALL PRIVILEGES; alias: another name of the same privilege (or NULL).
 * Exposed for the tests. */
bool my_preflight_granted(const char *const *grants, int n, const char *privilege, const char *alias);

/* Before a stored stream position is resumed: whether the source still lists binlog
 * file `file` (SHOW BINARY LOGS). 1 listed, 0 purged (oldest, when given, then holds the
 * oldest file the source has, or "" when it lists none), -1 with *err when it cannot
 * be asked. */
int my_preflight_binlog_listed(MYSQL *conn, const char *file, char *oldest, size_t size, char **err);

#endif
