/* The SQL text of the apply engine's statements, built from a table description, a
 * statement kind, a row count and a column shape (pg_apply_table.h). Parameters are
 * numbered row by row: a row's SET columns in column order, then its MATCH columns.
 * Values travel as text parameters whose types the server infers from the columns
 * they are assigned to or compared with; only a VALUES list joined with the table needs
 * casts, to the target's own column types. */
#ifndef FERRY_PG_APPLY_SQL_H
#define FERRY_PG_APPLY_SQL_H

#include <stdint.h>

#include "common/sqlquote.h"
#include "workers/pg_apply_table.h"

/* Parameters one row of this shape takes. */
int apply_sql_row_params(const apply_table *t, const uint8_t *shape);

/* Appends the statement text to sb (the caller checks strbuf_failed). nrows > 1 for
 * APPLY_INSERT and APPLY_UPSERT (a VALUES list), and for APPLY_UPDATE and APPLY_DELETE
 * on keyed tables: the rows are joined with a VALUES list typed by t->target_types, and
 * the statement returns the key of every row that matched nothing. */
void apply_sql_build(strbuf *sb, const apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape);

/* "TRUNCATE "s"."t"" */
void apply_sql_truncate(strbuf *sb, const apply_table *t);

#endif
