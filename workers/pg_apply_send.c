/* Planned changes into statements on the pipeline: the per-table statement cache,
 * single-row statements, batches of rows sent as one multi-row statement, and runs of
 * INSERTs sent as COPY.
 *
 * A change waits in its table's batch when its statement can take many rows: INSERT
 * (VALUES list), upsert (VALUES list, keys distinct), and UPDATE/DELETE by key (joined
 * with a VALUES list, keys distinct, key not written). A later UPDATE or upsert of a key
 * the batch holds replaces that row's values, and such a batch holds the rows of
 * APPLY_BATCH_HOLD statements (hot rows cost one write per batch). A batch is sent when
 * it is full, when the next change of its table does not fit it, and before any
 * statement that must run after it, so the rows of a table reach the server in source
 * order; tables overtake each other only as pg_apply_int.h allows. After
 * APPLY_COPY_AFTER_BATCHES full INSERT batches of one table in a row, its rows go on as
 * COPY data until another statement is needed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_apply_int.h"
#include "workers/pg_apply_sql.h"
#include "workers/pg_value.h"

/* The longest prefix of a value shown in an error message. */
#define KEY_VALUE_SHOWN 40
/* The server's limit on parameters in one statement. */
#define MAX_STATEMENT_PARAMS 65535

int apply_oom(pg_apply *a)
{
	apply_pipe_fail(&a->pipe, "out of memory while applying changes");
	return apply_fail(a);
}

/* ---- messages ------------------------------------------------------------------------ */

static void append_value_shown(strbuf *sb, const record_value *v)
{
	switch (v->kind) {
	case RECORD_KIND_NULL: strbuf_append(sb, "NULL"); return;
	case RECORD_KIND_BYTES: strbuf_appendf(sb, "(%zu bytes)", v->str.len); return;
	case RECORD_KIND_DECIMAL:
	case RECORD_KIND_TEXT:
	case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP:
		strbuf_append_len(sb, v->str.ptr, v->str.len < KEY_VALUE_SHOWN ? v->str.len : KEY_VALUE_SHOWN);
		return;
	default: (void)pg_value_append_text(sb, v); return;
	}
}

/* Copies the text to out, cut at a UTF-8 character boundary when it does not fit. */
static void finish_key_text(const strbuf *sb, char *out)
{
	size_t n = strbuf_failed(sb) ? 0 : sb->len;
	if (n >= PIPE_KEY_TEXT) {
		n = PIPE_KEY_TEXT - 4;
		while (n > 0 && ((unsigned char)sb->data[n] & 0xC0) == 0x80)
			n--;
		memcpy(out, sb->data, n);
		memcpy(out + n, "...", 4);
		return;
	}
	if (n)
		memcpy(out, sb->data, n);
	out[n] = '\0';
}

/* "id=5, region=eu" from the key columns (a keyless table: its first columns). */
static void key_text(pg_apply *a, const apply_table *t, const record_value *vals, char *out)
{
	strbuf *sb = &a->keytext;
	strbuf_reset(sb);
	int shown = 0;
	for (int i = 0; i < t->rel.ncols && sb->len < PIPE_KEY_TEXT; i++) {
		if ((t->keyed ? !t->rel.cols[i].key : shown >= 3) || vals[i].kind == RECORD_KIND_UNCHANGED)
			continue;
		strbuf_appendf(sb, "%s%s=", shown ? ", " : "", t->rel.cols[i].name);
		append_value_shown(sb, &vals[i]);
		shown++;
	}
	finish_key_text(sb, out);
}

/* Where column col's value is among a batch row's parameters: its MATCH parameter when
 * it has one (the key of an UPDATE/DELETE), else its SET one; -1 when neither. */
static int param_index(const apply_batch *b, const apply_table *t, int col)
{
	int nset = 0, set_before = 0, match_before = 0;
	for (int i = 0; i < t->rel.ncols; i++) {
		int set = (b->shape[i] & APPLY_COL_SET) != 0, match = (b->shape[i] & APPLY_COL_MATCH) != 0;
		nset += set;
		if (i < col) {
			set_before += set;
			match_before += match;
		}
	}
	if (b->shape[col] & APPLY_COL_MATCH)
		return nset + match_before;
	return b->shape[col] & APPLY_COL_SET ? set_before : -1;
}

/* key_text for row `row` of a batch, from its parameters. */
static void batch_key_text(pg_apply *a, const apply_table *t, const apply_batch *b, int row, char *out)
{
	strbuf *sb = &a->keytext;
	strbuf_reset(sb);
	int shown = 0;
	for (int i = 0; i < t->rel.ncols && sb->len < PIPE_KEY_TEXT; i++) {
		int idx = param_index(b, t, i);
		if ((t->keyed ? !t->rel.cols[i].key : shown >= 3) || idx < 0)
			continue;
		int off = b->params.offset[row * b->row_params + idx];
		strbuf_appendf(sb, "%s%s=", shown ? ", " : "", t->rel.cols[i].name);
		if (off < 0)
			strbuf_append(sb, "NULL");
		else
			strbuf_appendf(sb, "%.*s", KEY_VALUE_SHOWN, b->params.text.data + off);
		shown++;
	}
	finish_key_text(sb, out);
}

/* ---- statement cache ---------------------------------------------------------------- */

static const char *kind_label(apply_stmt_kind kind)
{
	switch (kind) {
	case APPLY_INSERT: return "preparing INSERT";
	case APPLY_UPSERT: return "preparing INSERT ... ON CONFLICT";
	case APPLY_UPSERT_MOVE: return "preparing a key-changing upsert";
	case APPLY_UPDATE:
	case APPLY_UPDATE_ONE: return "preparing UPDATE";
	default: return "preparing DELETE";
	}
}

static int send_deallocate(pg_apply *a, apply_table *t, int index)
{
	strbuf_reset(&a->sql);
	strbuf_append(&a->sql, "DEALLOCATE ");
	sql_append_pg_ident(&a->sql, t->stmts[index].name);
	if (strbuf_failed(&a->sql))
		return apply_oom(a);
	pipe_entry ctx = {.kind = PIPE_COMMAND, .expect_rows = -1, .what = "DEALLOCATE", .table = &t->qname};
	if (apply_pipe_command(&a->pipe, &ctx, a->sql.data) < 0)
		return apply_fail(a);
	apply_table_remove_stmt(t, index);
	a->nprepared--;
	return 0;
}

/* Makes room for one more statement of t: deallocates t's least recently used one when
 * t has its share, or the least recently used of all when the engine has. */
static int make_stmt_room(pg_apply *a, apply_table *t)
{
	if (t->nstmts >= APPLY_STMTS_PER_TABLE)
		return send_deallocate(a, t, apply_table_lru_stmt(t));
	if (a->nprepared < APPLY_STMTS_TOTAL)
		return 0;
	apply_table *victim = NULL;
	int index = -1;
	for (size_t i = 0; i < a->tables.cap; i++) {
		apply_table *u = a->tables.slots[i];
		int j = u ? apply_table_lru_stmt(u) : -1;
		if (j >= 0 && (victim == NULL || u->stmts[j].last_used < victim->stmts[index].last_used)) {
			victim = u;
			index = j;
		}
	}
	return victim ? send_deallocate(a, victim, index) : 0;
}

int apply_forget_table_stmts(pg_apply *a, apply_table *t)
{
	while (t->nstmts > 0)
		if (send_deallocate(a, t, t->nstmts - 1) < 0)
			return -1;
	return 0;
}

/* The cached statement, or a new one prepared in the pipeline ahead of its first use
 * (the server sees them in order). NULL after failing the engine. */
static apply_stmt *get_stmt(pg_apply *a, apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape,
			    int row_params)
{
	apply_stmt *s = apply_table_find_stmt(t, kind, nrows, shape);
	if (s == NULL) {
		if (make_stmt_room(a, t) < 0)
			return NULL;
		char name[48];
		snprintf(name, sizeof name, "%s%" PRIu64, a->prefix, ++a->stmt_seq);
		strbuf_reset(&a->sql);
		apply_sql_build(&a->sql, t, kind, nrows, shape);
		if (strbuf_failed(&a->sql)) {
			apply_oom(a);
			return NULL;
		}
		pipe_entry ctx = {.kind = PIPE_PREPARE, .expect_rows = -1, .what = kind_label(kind), .table = &t->qname};
		if (apply_pipe_prepare(&a->pipe, &ctx, name, a->sql.data) < 0) {
			apply_fail(a);
			return NULL;
		}
		a->stats.prepared++;
		a->nprepared++;
		s = apply_table_add_stmt(t, kind, nrows, shape, row_params, name);
		if (s == NULL) {
			apply_oom(a);
			return NULL;
		}
	}
	s->last_used = ++a->use_clock;
	return s;
}

/* The target's column types, for the casts of a typed VALUES list: read once per table
 * description, inside the pipeline (the reply is awaited; this is rare). Each type by
 * its qualified internal name, which carries no modifier: format_type's spellings
 * "character" and "bit" are char(1) and bit(1) in a cast, which would cut a value short
 * (silently, as explicit casts do) before it reaches its column. */
static int lookup_types(pg_apply *a, apply_table *t)
{
	PGresult *r = NULL;
	const char *vals[1] = {t->qname};
	if (apply_pipe_query(&a->pipe, "reading the target's column types",
			     "SELECT a.attname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(y.typname) "
			     "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type y ON y.oid = a.atttypid "
			     "JOIN pg_catalog.pg_namespace n ON n.oid = y.typnamespace "
			     "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
			     1, vals, &r) < 0)
		return apply_fail(a);
	char **types = calloc((size_t)t->rel.ncols + 1, sizeof *types);
	for (int row = 0; types && row < PQntuples(r); row++)
		for (int i = 0; i < t->rel.ncols; i++)
			if (!types[i] && strcmp(t->rel.cols[i].name, PQgetvalue(r, row, 0)) == 0)
				types[i] = strdup(PQgetvalue(r, row, 1));
	PQclear(r);
	apply_table_set_types(t, types); /* a column the target lacks: no multi-row statements */
	return 0;
}

/* ---- parameters ----------------------------------------------------------------------- */

static int add_row_params(apply_params *ps, const apply_table *t, const uint8_t *shape, const record_value *newv,
			  const record_value *match, int row_params)
{
	if (apply_params_fit(ps, row_params) < 0)
		return -1;
	for (int i = 0; i < t->rel.ncols; i++)
		if (shape[i] & APPLY_COL_SET)
			apply_params_add(ps, &newv[i]);
	for (int i = 0; i < t->rel.ncols; i++)
		if (shape[i] & APPLY_COL_MATCH)
			apply_params_add(ps, &match[i]);
	return strbuf_failed(&ps->text) || ps->text.len > INT32_MAX ? -1 : 0;
}

static bool checks_match(apply_stmt_kind kind)
{
	return kind == APPLY_UPDATE || kind == APPLY_DELETE || kind == APPLY_UPDATE_ONE || kind == APPLY_DELETE_ONE;
}

static int send_single(pg_apply *a, apply_table *t, const apply_plan *pl, const record_view *v)
{
	if (apply_send_before(a, t) < 0)
		return -1;
	a->run_table = NULL;
	int row_params = apply_sql_row_params(t, a->shape);
	apply_stmt *s = get_stmt(a, t, pl->kind, 1, a->shape, row_params);
	if (s == NULL)
		return -1;
	a->params.count = 0;
	strbuf_reset(&a->params.text);
	if (add_row_params(&a->params, t, a->shape, a->newv, pl->match, row_params) < 0)
		return apply_oom(a);
	apply_params_resolve(&a->params);
	pipe_entry ctx = {.kind = PIPE_CHANGE, .op = (uint8_t)v->hdr.op, .rows = 1, .table = &t->qname,
			  .position = v->hdr.position};
	ctx.expect_rows = pl->exact && checks_match(pl->kind) ? 1 : -1;
	key_text(a, t, pl->match, ctx.key);
	if (apply_pipe_prepared(&a->pipe, &ctx, s->name, row_params, a->params.values, a->params.text.len) < 0)
		return apply_fail(a);
	a->stats.statements++;
	a->pending++;
	return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

/* A power of two, so any run splits into at most one statement of each size. */
static int batch_max_rows(const pg_apply *a, int row_params)
{
	if (row_params == 0)
		return 1; /* INSERT ... DEFAULT VALUES takes one row */
	int rows = a->batch_rows;
	while (rows > 1 && rows * row_params > MAX_STATEMENT_PARAMS)
		rows /= APPLY_BATCH_STEP;
	return rows;
}

/* ---- runs of INSERTs as COPY ------------------------------------------------------------ */

/* Appends s to COPY text, escaping what the text format gives a meaning to. */
static void copy_escape(strbuf *sb, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "\\\t\n\r");
		strbuf_append_len(sb, s, n);
		s += n;
		switch (*s) {
		case '\0': return;
		case '\\': strbuf_append(sb, "\\\\"); break;
		case '\t': strbuf_append(sb, "\\t"); break;
		case '\n': strbuf_append(sb, "\\n"); break;
		default: strbuf_append(sb, "\\r"); break;
		}
		s++;
	}
}

static bool copy_running_for(const pg_apply *a, const apply_table *t, const apply_batch *b)
{
	return a->pipe.in_copy && a->copy_table == t && memcmp(a->copy_shape, b->shape, (size_t)t->rel.ncols) == 0;
}

/* Whether a batch goes into a COPY: the one running for its table and columns, or a new
 * one once the run of full INSERT batches of its table is long enough. */
static bool copy_takes(const pg_apply *a, const apply_table *t, const apply_batch *b)
{
	if (b->kind != APPLY_INSERT || !b->exact || b->row_params == 0)
		return false;
	return copy_running_for(a, t, b) || (b->rows == b->max_rows && a->run_table == t &&
					      a->run_batches + 1 >= APPLY_COPY_AFTER_BATCHES);
}

/* Counts runs of full exact INSERT batches of one table with nothing else between. */
static void note_run(pg_apply *a, apply_table *t, const apply_batch *b)
{
	bool full_insert = t && b->kind == APPLY_INSERT && b->exact && b->rows == b->max_rows;
	if (full_insert && a->run_table == t) {
		a->run_batches++;
		return;
	}
	a->run_table = full_insert ? t : NULL;
	a->run_batches = full_insert ? 1 : 0;
}

static int start_copy(pg_apply *a, apply_table *t, const apply_batch *b)
{
	strbuf_reset(&a->sql);
	strbuf_appendf(&a->sql, "COPY %s (", t->qname);
	bool first = true;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!(b->shape[i] & APPLY_COL_SET))
			continue;
		if (!first)
			strbuf_append(&a->sql, ", ");
		sql_append_pg_ident(&a->sql, t->rel.cols[i].name);
		first = false;
	}
	strbuf_append(&a->sql, ") FROM STDIN");
	if (strbuf_failed(&a->sql))
		return apply_oom(a);
	pipe_entry ctx = {.kind = PIPE_COMMAND, .op = RECORD_OP_INSERT, .expect_rows = -1, .what = "INSERT (as COPY)",
			  .table = &t->qname, .position = b->position};
	memcpy(ctx.key, b->key, sizeof ctx.key);
	if (apply_pipe_copy_begin(&a->pipe, &ctx, a->sql.data) < 0)
		return apply_fail(a);
	a->copy_table = t;
	memcpy(a->copy_shape, b->shape, (size_t)t->rel.ncols);
	a->stats.statements++;
	return 0;
}

/* Writes the batch's rows as COPY text lines (the parameters are their values). */
static int copy_batch(pg_apply *a, apply_table *t)
{
	apply_batch *b = t->batch;
	int rc = copy_running_for(a, t, b) ? 0 : start_copy(a, t, b);
	strbuf *out = &a->pipe.copy_buf;
	const apply_params *ps = &b->params;
	for (int i = 0; rc == 0 && i < b->rows * b->row_params; i++) {
		if (ps->offset[i] < 0)
			strbuf_append(out, "\\N");
		else
			copy_escape(out, ps->text.data + ps->offset[i]);
		strbuf_append_char(out, (i + 1) % b->row_params ? '\t' : '\n');
	}
	apply_batch_clear(b);
	if (rc == 0 && apply_pipe_copy_push(&a->pipe, false) < 0)
		rc = apply_fail(a);
	return rc;
}

/* ---- sending batches ------------------------------------------------------------------ */

/* Rows first .. first + size - 1 of t's batch as one statement. */
static int send_chunk(pg_apply *a, apply_table *t, int first, int size, bool check)
{
	apply_batch *b = t->batch;
	apply_stmt *s = get_stmt(a, t, (apply_stmt_kind)b->kind, size, b->shape, b->row_params);
	if (s == NULL)
		return -1;
	pipe_entry ctx = {.kind = PIPE_CHANGE, .op = b->op, .expect_rows = size == 1 && check ? 1 : -1,
			  .expect_none = size > 1 && check, .rows = (uint32_t)size, .table = &t->qname,
			  .position = b->position};
	if (first == 0)
		memcpy(ctx.key, b->key, sizeof ctx.key);
	else
		batch_key_text(a, t, b, first, ctx.key);
	size_t bytes = b->params.text.len / (size_t)b->rows * (size_t)size;
	if (apply_pipe_prepared(&a->pipe, &ctx, s->name, size * b->row_params, b->params.values + first * b->row_params,
				bytes) < 0)
		return apply_fail(a);
	a->stats.statements++;
	return 0;
}

static int send_batch(pg_apply *a, apply_table *t)
{
	apply_batch *b = t->batch;
	if (b->rows == 0)
		return 0;
	if (copy_takes(a, t, b))
		return copy_batch(a, t);
	note_run(a, t, b);
	apply_params_resolve(&b->params);
	bool check = b->exact && checks_match((apply_stmt_kind)b->kind);
	/* statements of max_rows, max_rows / APPLY_BATCH_STEP, ... 1 rows: few sizes to
	 * prepare, and few statements for any row count */
	int done = 0, size = b->max_rows, rc = 0;
	while (rc == 0 && done < b->rows) {
		while (b->rows - done < size)
			size /= APPLY_BATCH_STEP;
		rc = send_chunk(a, t, done, size, check);
		done += size;
	}
	apply_batch_clear(b);
	return rc;
}

int apply_send_waiting(pg_apply *a)
{
	int rc = 0;
	for (int i = 0; i < a->nwaiting; i++) {
		a->waiting[i]->listed = false;
		if (rc == 0)
			rc = send_batch(a, a->waiting[i]);
	}
	a->nwaiting = 0;
	return rc;
}

int apply_send_before(pg_apply *a, apply_table *t)
{
	return a->replica_role ? send_batch(a, t) : apply_send_waiting(a);
}

static int list_waiting(pg_apply *a, apply_table *t)
{
	if (t->listed)
		return 0;
	if (a->nwaiting == a->cap_waiting) {
		int cap = a->cap_waiting ? a->cap_waiting * 2 : 16;
		apply_table **w = realloc(a->waiting, (size_t)cap * sizeof *w);
		if (w == NULL)
			return -1;
		a->waiting = w;
		a->cap_waiting = cap;
	}
	a->waiting[a->nwaiting++] = t;
	t->listed = true;
	return 0;
}

/* Whether a table other than t has rows waiting. */
static bool others_waiting(const pg_apply *a, const apply_table *t)
{
	for (int i = 0; i < a->nwaiting; i++)
		if (a->waiting[i] != t && a->waiting[i]->batch->rows > 0)
			return true;
	return false;
}

/* Whether a row of this plan and a->shape can join b. */
static bool batch_fits(const apply_batch *b, const apply_plan *pl, const uint8_t *shape, int ncols)
{
	return b->kind == (int)pl->kind && b->exact == pl->exact && b->rows < b->hold_rows &&
	       b->params.text.len < APPLY_BATCH_BYTES && memcmp(b->shape, shape, (size_t)ncols) == 0;
}

static void batch_start(pg_apply *a, apply_table *t, const apply_plan *pl, const record_view *v)
{
	apply_batch *b = t->batch;
	b->kind = pl->kind;
	b->op = (uint8_t)v->hdr.op;
	b->exact = pl->exact;
	memcpy(b->shape, a->shape, (size_t)t->rel.ncols);
	b->row_params = apply_sql_row_params(t, a->shape);
	b->max_rows = batch_max_rows(a, b->row_params);
	b->hold_rows = pl->kind == APPLY_UPDATE || pl->kind == APPLY_UPSERT ? b->max_rows * APPLY_BATCH_HOLD
									     : b->max_rows;
	b->position = v->hdr.position;
	key_text(a, t, pl->match, b->key);
}

static bool same_param(const apply_params *ps, int x, int y)
{
	int ox = ps->offset[x], oy = ps->offset[y];
	if (ox < 0 || oy < 0)
		return ox == oy;
	return strcmp(ps->text.data + ox, ps->text.data + oy) == 0;
}

/* Whether rows x and y of a batch carry the same key values (the key is where the
 * shape puts it: MATCH parameters for UPDATE/DELETE, SET ones for an upsert). */
static bool same_key(const apply_batch *b, const apply_table *t, int x, int y)
{
	int rp = b->row_params;
	for (int i = 0; i < t->rel.ncols; i++) {
		if (!t->rel.cols[i].key)
			continue;
		int idx = param_index(b, t, i);
		if (idx < 0 || !same_param(&b->params, x * rp + idx, y * rp + idx))
			return false;
	}
	return true;
}

/* Adds the change as the batch's next row. A key the batch holds already: an UPDATE or
 * upsert replaces the values of that row; a DELETE (or two keys sharing a hash) sends
 * the batch first. */
static int batch_row(pg_apply *a, apply_table *t, const apply_plan *pl, const record_view *v)
{
	apply_batch *b = t->batch;
	int n = t->rel.ncols;
	if (!a->replica_role && others_waiting(a, t) && apply_send_waiting(a) < 0)
		return -1;
	if (b->rows > 0 && !batch_fits(b, pl, a->shape, n) && send_batch(a, t) < 0)
		return -1;
	if (b->rows == 0) {
		batch_start(a, t, pl, v);
		if (list_waiting(a, t) < 0)
			return apply_oom(a);
	}
	int row = b->rows, rp = b->row_params;
	if (add_row_params(&b->params, t, a->shape, a->newv, pl->match, rp) < 0)
		return apply_oom(a);
	/* a multi-row INSERT with a key twice fails as the single rows would */
	int held = pl->kind == APPLY_INSERT ? -1 : apply_batch_note_key(b, apply_key_hash(pl->match, t->rel.cols, n), row);
	if (held == -2)
		return apply_oom(a);
	if (held >= 0) {
		bool replace = pl->kind != APPLY_DELETE && same_key(b, t, held, row);
		if (replace)
			memcpy(&b->params.offset[held * rp], &b->params.offset[row * rp], (size_t)rp * sizeof(int));
		b->params.count -= rp;
		if (!replace)
			return send_batch(a, t) < 0 ? -1 : batch_row(a, t, pl, v);
	} else {
		b->rows++;
	}
	a->pending++;
	if (b->rows == b->hold_rows || b->params.text.len >= APPLY_BATCH_BYTES)
		return send_batch(a, t);
	return 0;
}

/* 1: the change may wait in its table's batch; 0: it goes alone; -1: failed. UPDATE and
 * DELETE batch on a key compared with "=", never written, with the target's types known. */
static int can_wait(pg_apply *a, apply_table *t, const apply_plan *pl)
{
	if (pl->kind == APPLY_INSERT || pl->kind == APPLY_UPSERT)
		return 1;
	if (pl->kind != APPLY_UPDATE && pl->kind != APPLY_DELETE)
		return 0;
	for (int i = 0; i < t->rel.ncols; i++)
		if (t->rel.cols[i].key &&
		    ((a->shape[i] & (APPLY_COL_SET | APPLY_COL_MATCH_NULL)) || t->text_compare[i]))
			return 0;
	if (t->types_state == 0 && lookup_types(a, t) < 0)
		return -1;
	return t->types_state == 1;
}

int apply_send_change(pg_apply *a, apply_table *t, const apply_plan *pl, const record_view *v)
{
	int wait = can_wait(a, t, pl);
	if (wait < 0)
		return -1;
	return wait ? batch_row(a, t, pl, v) : send_single(a, t, pl, v);
}
