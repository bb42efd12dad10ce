/* PostgreSQL's side of validation (validate_engine.h): the requests as SQL, run without
 * blocking on a libpq connection.
 *
 * Text forms: every connection gets the session settings that make a value print the
 * same on any server (DateStyle ISO, TimeZone UTC, bytea hex, extra_float_digits 3,
 * IntervalStyle postgres, lc_monetary C, empty search_path so names of types and
 * relations print qualified). A row's text is ROW(columns)::text, which tells NULL from
 * an empty string; its hash is hashtextextended(text, 0) (64 bits); a range's hash is
 * the sum of its rows' hashes (order-free) next to its count.
 *
 * Positions: with_position on the source runs the request in a REPEATABLE READ READ ONLY
 * transaction whose first statement takes pg_current_wal_insert_lsn(): after the
 * snapshot, so every commit the data shows is before it. A row's version is
 * tableoid:ctid:xmin, which any write of the row changes. */
#ifndef FERRY_PG_VALIDATE_H
#define FERRY_PG_VALIDATE_H

#include <libpq-fe.h>

#include "common/sqlquote.h"
#include "workers/validate_engine.h"

extern const vd_conn_ops pg_vd_ops;

/* Wraps conn (which stays the caller's: close it after pg_vd_conn_free) and sets the
 * session up. NULL with err when the settings cannot be made. */
void *pg_vd_conn_new(PGconn *conn, char *err, size_t errlen);
void pg_vd_conn_free(void *impl);

/* The SQL text of req (exposed for the tests). 0, or -1 when memory runs out. */
int pg_vd_build_sql(const vd_request *req, strbuf *out);

/* "16/B374D848" -> position. 0, or -1 when text is not a position. */
int pg_vd_parse_lsn(const char *text, uint64_t *out);

#endif
