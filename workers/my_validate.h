/* MySQL/MariaDB's side of validation (validate_engine.h): the requests as SQL on a
 * Connector/C connection.
 *
 * Text forms: the session runs in UTC with utf8mb4 (TIMESTAMP values print as instants).
 * Columns whose text would not survive the comparison print as: BLOB/BINARY as HEX(),
 * BIT as BIN(), FLOAT/DOUBLE as doubles (col + 0E0, so a FLOAT prints every digit it
 * holds). A text key compared bytewise (key_collate_c: the pair's engines or collations
 * differ) is compared and ordered as CAST(col AS BINARY).
 *
 * Hash (a MySQL -> MySQL pair; other pairs hash on the client, validate_client.h): a
 * row's text is CONCAT_WS(0x1f, ISNULL(c1), CAST(c1 AS BINARY), ...) (the ISNULL marks
 * tell NULL from ''), its hash the first 60 bits of its MD5; a range's hash is the exact
 * (DECIMAL) sum of its rows' hashes next to its count. A row's version is the MD5 of
 * its text: MySQL keeps no row version, so a row counts as changed when its content
 * changed.
 *
 * Positions: with_position on the source runs the request in a transaction started
 * WITH CONSISTENT SNAPSHOT, READ ONLY, whose next statement reads the binlog position
 * (SHOW MASTER STATUS; SHOW BINARY LOG STATUS on MySQL 8.4): every transaction the
 * snapshot shows is in the binlog before it. Positions are record_mysql_position()
 * values (file number << 32 | offset). NUDGE returns the current position: the stream
 * of an idle source reaches it with the server's heartbeats, no marker is written.
 *
 * A request runs to its end inside step() (the connection is answered in turn, not
 * interleaved with the others of its pool); events() asks for POLLOUT so the pool calls
 * step() at once. cancel() does nothing: a request cannot be left half-read. */
#ifndef FERRY_MY_VALIDATE_H
#define FERRY_MY_VALIDATE_H

#include <mysql.h>

#include "common/sqlquote.h"
#include "workers/validate_engine.h"

extern const vd_conn_ops my_vd_ops;

/* Wraps conn (which stays the caller's) and sets the session up. NULL with err. */
void *my_vd_conn_new(MYSQL *conn, char *err, size_t errlen);
void my_vd_conn_free(void *impl);

/* The SQL of req's main statement (exposed for the tests). 0, or -1 on memory. */
int my_vd_build_sql(MYSQL *conn, const vd_request *req, strbuf *out);

/* The binlog position of SHOW MASTER STATUS's file and offset. 0, or -1. */
int my_vd_parse_position(const char *file, const char *offset, uint64_t *out);

/* The source's current binlog position (SHOW MASTER STATUS or SHOW BINARY LOG STATUS).
 * 0, or -1 with err. */
int my_vd_current_position(MYSQL *conn, uint64_t *out, char *err, size_t errlen);

#endif
