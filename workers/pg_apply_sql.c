/* Statement text for applying changes. */
#include "workers/pg_apply_sql.h"

#include <stdbool.h>

static int count_bits(const apply_table *t, const uint8_t *shape, uint8_t bit)
{
	int n = 0;
	for (int i = 0; i < t->rel.ncols; i++)
		n += (shape[i] & bit) != 0;
	return n;
}

int apply_sql_row_params(const apply_table *t, const uint8_t *shape)
{
	return count_bits(t, shape, APPLY_COL_SET) + count_bits(t, shape, APPLY_COL_MATCH);
}

static void append_col(strbuf *sb, const apply_table *t, int i)
{
	sql_append_pg_ident(sb, t->rel.cols[i].name);
}

/* "a", "b" for the columns carrying bit. */
static void append_col_list(strbuf *sb, const apply_table *t, const uint8_t *shape, uint8_t bit)
{
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & bit))
			continue;
		if (!first)
			strbuf_append(sb, ", ");
		append_col(sb, t, i);
		first = false;
	}
}

/* "a" = $1, "b" = $2 for the SET columns, numbering from *n. An empty list becomes a
 * no-op assignment (UPDATE needs one; the row still counts as matched). */
static void append_assignments(strbuf *sb, const apply_table *t, const uint8_t *shape, int *n)
{
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & APPLY_COL_SET))
			continue;
		if (!first)
			strbuf_append(sb, ", ");
		append_col(sb, t, i);
		strbuf_appendf(sb, " = $%d", (*n)++);
		first = false;
	}
	if (first && t->rel.ncols > 0) {
		append_col(sb, t, 0);
		strbuf_append(sb, " = ");
		append_col(sb, t, 0);
	}
}

/* "a" = $3 AND "b" IS NULL ... for the MATCH columns, numbering from *n. Types without
 * an equality operator are compared in their text form. */
static void append_match(strbuf *sb, const apply_table *t, const uint8_t *shape, int *n)
{
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & (APPLY_COL_MATCH | APPLY_COL_MATCH_NULL)))
			continue;
		if (!first)
			strbuf_append(sb, " AND ");
		append_col(sb, t, i);
		if (shape[i] & APPLY_COL_MATCH_NULL) {
			strbuf_append(sb, " IS NULL");
		} else {
			strbuf_appendf(sb, "%s = $%d", t->text_compare[i] ? "::text" : "", (*n)++);
		}
		first = false;
	}
	if (first)
		strbuf_append(sb, "false"); /* nothing to match on: the engine refuses this */
}

/* VALUES ($1, $2), ($3, $4) ... for nrows rows of nset parameters each. */
static void append_values(strbuf *sb, int nset, int nrows)
{
	if (nset == 0) {
		strbuf_append(sb, " DEFAULT VALUES");
		return;
	}
	strbuf_append(sb, " VALUES ");
	int n = 1;
	for (int r = 0; r < nrows; r++) {
		strbuf_append(sb, r ? ", (" : "(");
		for (int c = 0; c < nset; c++)
			strbuf_appendf(sb, c ? ", $%d" : "$%d", n++);
		strbuf_append_char(sb, ')');
	}
}

static void append_key_list(strbuf *sb, const apply_table *t)
{
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		if (!first)
			strbuf_append(sb, ", ");
		append_col(sb, t, i);
		first = false;
	}
}

/* ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c for the written non-key columns. */
static void append_on_conflict(strbuf *sb, const apply_table *t, const uint8_t *shape)
{
	strbuf_append(sb, " ON CONFLICT (");
	append_key_list(sb, t);
	strbuf_append(sb, ")");
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & APPLY_COL_SET) || t->rel.cols[i].key)
			continue;
		strbuf_append(sb, first ? " DO UPDATE SET " : ", ");
		append_col(sb, t, i);
		strbuf_append(sb, " = EXCLUDED.");
		append_col(sb, t, i);
		first = false;
	}
	if (first)
		strbuf_append(sb, " DO NOTHING");
}

static void append_insert(strbuf *sb, const apply_table *t, const uint8_t *shape, int nrows)
{
	strbuf_append(sb, "INSERT INTO ");
	strbuf_append(sb, t->qname);
	int nset = count_bits(t, shape, APPLY_COL_SET);
	if (nset > 0) {
		strbuf_append(sb, " (");
		append_col_list(sb, t, shape, APPLY_COL_SET);
		strbuf_append_char(sb, ')');
	}
	append_values(sb, nset, nrows);
}

/* WHERE (tableoid, ctid) = (one row equal to the old image): exactly one row of a table
 * without a key, also when it holds duplicates (tableoid: partitions share ctids). */
static void append_one_row(strbuf *sb, const apply_table *t, const uint8_t *shape, int *n)
{
	strbuf_append(sb, " WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM ");
	strbuf_append(sb, t->qname);
	strbuf_append(sb, " WHERE ");
	append_match(sb, t, shape, n);
	strbuf_append(sb, " LIMIT 1)");
}

/* ---- multi-row UPDATE and DELETE ----------------------------------------------------- */

/* VALUES rows of the SET then MATCH parameters; the first row casts each parameter to the
 * target column's type, which types the other rows and the join with the table. */
static void append_typed_values(strbuf *sb, const apply_table *t, const uint8_t *shape, int nrows)
{
	int n = 1;
	for (int r = 0; r < nrows; r++) {
		strbuf_append(sb, r ? ", (" : "(");
		int c = 0;
		for (int pass = 0; pass < 2; pass++) {
			uint8_t bit = pass == 0 ? APPLY_COL_SET : APPLY_COL_MATCH;
			for (int i = 0; i < t->rel.ncols; i++) {
				if (!(shape[i] & bit))
					continue;
				strbuf_appendf(sb, c++ ? ", $%d" : "$%d", n++);
				if (r == 0 && t->target_types && t->target_types[i])
					strbuf_appendf(sb, "::%s", t->target_types[i]);
			}
		}
		strbuf_append_char(sb, ')');
	}
}

/* ferry_v (s1, s2, m0): value columns named by table column number. */
static void append_v_columns(strbuf *sb, const apply_table *t, const uint8_t *shape)
{
	int c = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < t->rel.ncols; i++)
			if (shape[i] & (pass == 0 ? APPLY_COL_SET : APPLY_COL_MATCH))
				strbuf_appendf(sb, c++ ? ", %c%d" : "%c%d", pass == 0 ? 's' : 'm', i);
}

/* ferry_t."k" = ferry_v.m0 AND ... (other names the table side: ferry_t or a CTE) */
static void append_key_join(strbuf *sb, const apply_table *t, const uint8_t *shape, const char *other)
{
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & APPLY_COL_MATCH))
			continue;
		strbuf_appendf(sb, "%s%s.", first ? "" : " AND ", other);
		append_col(sb, t, i);
		strbuf_appendf(sb, " = ferry_v.m%d", i);
		first = false;
	}
}

static void append_returning_keys(strbuf *sb, const apply_table *t, const uint8_t *shape)
{
	strbuf_append(sb, " RETURNING ");
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & APPLY_COL_MATCH))
			continue;
		strbuf_append(sb, first ? "ferry_t." : ", ferry_t.");
		append_col(sb, t, i);
		first = false;
	}
}

/* WITH ferry_v AS (VALUES ...), ferry_c AS (UPDATE/DELETE ... RETURNING key)
 * SELECT the keys of ferry_v that ferry_c did not return: the rows that matched nothing
 * (exact mode names them). The key is never written by these statements. */
static void append_many(strbuf *sb, const apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape)
{
	strbuf_append(sb, "WITH ferry_v (");
	append_v_columns(sb, t, shape);
	strbuf_append(sb, ") AS (VALUES ");
	append_typed_values(sb, t, shape, nrows);
	strbuf_append(sb, "), ferry_c AS (");
	if (kind == APPLY_UPDATE) {
		strbuf_appendf(sb, "UPDATE %s AS ferry_t SET ", t->qname);
		bool first = true;
		for (int i = 0; i < t->rel.ncols; i++) {
			if (!(shape[i] & APPLY_COL_SET))
				continue;
			if (!first)
				strbuf_append(sb, ", ");
			append_col(sb, t, i);
			strbuf_appendf(sb, " = ferry_v.s%d", i);
			first = false;
		}
		if (first) {
			append_col(sb, t, 0);
			strbuf_append(sb, " = ferry_t.");
			append_col(sb, t, 0);
		}
		strbuf_append(sb, " FROM ferry_v WHERE ");
	} else {
		strbuf_appendf(sb, "DELETE FROM %s AS ferry_t USING ferry_v WHERE ", t->qname);
	}
	append_key_join(sb, t, shape, "ferry_t");
	append_returning_keys(sb, t, shape);
	strbuf_append(sb, ") SELECT ");
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(shape[i] & APPLY_COL_MATCH))
			continue;
		strbuf_appendf(sb, "%sferry_v.m%d AS ", first ? "" : ", ", i);
		append_col(sb, t, i);
		first = false;
	}
	strbuf_append(sb, " FROM ferry_v WHERE NOT EXISTS (SELECT FROM ferry_c WHERE ");
	append_key_join(sb, t, shape, "ferry_c");
	strbuf_append(sb, ")");
}

void apply_sql_build(strbuf *sb, const apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape)
{
	if (nrows > 1 && (kind == APPLY_UPDATE || kind == APPLY_DELETE)) {
		append_many(sb, t, kind, nrows, shape);
		return;
	}
	int n = count_bits(t, shape, APPLY_COL_SET) + 1; /* first MATCH parameter */
	switch (kind) {
	case APPLY_UPSERT_MOVE:
		strbuf_append(sb, "WITH ferry_old AS (DELETE FROM ");
		strbuf_append(sb, t->qname);
		strbuf_append(sb, " WHERE ");
		append_match(sb, t, shape, &n);
		strbuf_append(sb, ") ");
		/* fall through */
	case APPLY_UPSERT:
		append_insert(sb, t, shape, nrows);
		append_on_conflict(sb, t, shape);
		return;
	case APPLY_INSERT: append_insert(sb, t, shape, nrows); return;
	case APPLY_UPDATE:
	case APPLY_UPDATE_ONE:
		n = 1;
		strbuf_append(sb, "UPDATE ");
		strbuf_append(sb, t->qname);
		strbuf_append(sb, " SET ");
		append_assignments(sb, t, shape, &n);
		break;
	case APPLY_DELETE:
	case APPLY_DELETE_ONE:
		strbuf_append(sb, "DELETE FROM ");
		strbuf_append(sb, t->qname);
		break;
	}
	if (kind == APPLY_UPDATE_ONE || kind == APPLY_DELETE_ONE) {
		append_one_row(sb, t, shape, &n);
	} else {
		strbuf_append(sb, " WHERE ");
		append_match(sb, t, shape, &n);
	}
}

void apply_sql_truncate(strbuf *sb, const apply_table *t)
{
	strbuf_append(sb, "TRUNCATE ");
	strbuf_append(sb, t->qname);
}
