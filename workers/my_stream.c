/* Binlog events -> change records (see the header). */
#include "workers/my_stream.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/my_catalog.h"
#include "workers/my_load.h"
#include "workers/my_rowdec.h"

typedef struct map_entry {
	my_table_map tm;
	int k;                   /* task table index; -1 = not selected */
	const my_pg_table *pt;
} map_entry;

struct my_stream {
	my_stream_options o;
	char file[256];
	uint32_t file_no;
	uint64_t received, boundary;
	/* the open transaction */
	bool in_txn, standalone;
	uint64_t txn_changes;    /* records of selected tables in the open transaction */
	uint64_t txn_pos, xid;
	int64_t commit_us;
	/* a GTID (or MySQL's anonymous GTID) not followed by BEGIN yet */
	bool pending;
	uint32_t pending_start;
	uint64_t pending_seq;
	uint8_t pending_flags;
	map_entry *maps;
	int n_maps;
	bool *described;         /* per task table: RELATION sent */
	my_invalid *inv;         /* per task table */
	record_buf buf;
	strbuf scratch;
	my_cell *cells_a, *cells_b;
	my_stream_stats stats;
	char err[1024];
};

static int fail(my_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(my_stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return -1;
}

void my_stream_file_name(const char *name, uint32_t file_no, char *out, size_t size)
{
	const char *dot = strrchr(name, '.');
	int width = dot ? (int)strlen(dot + 1) : 6;
	snprintf(out, size, "%.*s.%0*" PRIu32, dot ? (int)(dot - name) : (int)strlen(name), name, width, file_no);
}

static void set_file(my_stream *s, const char *file)
{
	snprintf(s->file, sizeof s->file, "%s", file);
	s->file_no = my_load_file_number(file);
}

my_stream *my_stream_new(const my_stream_options *o, char *err, size_t errlen)
{
	my_stream *s = calloc(1, sizeof *s);
	int n = o->ts->n_tables;
	if (s != NULL) {
		s->o = *o;
		s->described = calloc((size_t)n + 1, sizeof *s->described);
		s->inv = calloc((size_t)n + 1, sizeof *s->inv);
		s->cells_a = calloc(4097, sizeof *s->cells_a);
		s->cells_b = calloc(4097, sizeof *s->cells_b);
	}
	if (s == NULL || s->described == NULL || s->inv == NULL || s->cells_a == NULL || s->cells_b == NULL) {
		my_stream_free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int k = 0; k < n; k++)
		s->inv[k].policy = o->invalid_values;
	record_buf_init(&s->buf);
	strbuf_init(&s->scratch);
	set_file(s, o->file ? o->file : "");
	return s;
}

void my_stream_free(my_stream *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n_maps; i++)
		my_table_map_free(&s->maps[i].tm);
	free(s->maps);
	free(s->described);
	free(s->inv);
	free(s->cells_a);
	free(s->cells_b);
	record_buf_free(&s->buf);
	strbuf_free(&s->scratch);
	free(s);
}

const char *my_stream_error(const my_stream *s) { return s->err; }
const char *my_stream_file(const my_stream *s) { return s->file; }
uint64_t my_stream_boundary(const my_stream *s) { return s->boundary; }
uint64_t my_stream_received(const my_stream *s) { return s->received; }
bool my_stream_in_transaction(const my_stream *s) { return s->in_txn; }
void my_stream_get_stats(const my_stream *s, my_stream_stats *out) { *out = s->stats; }

/* ---- records ---------------------------------------------------------------------------------- */

static int emit(my_stream *s, uint32_t table_id)
{
	if (s->o.emit(s->o.emit_arg, table_id, s->buf.data, s->buf.len) != 0)
		return fail(s, "the change stream stopped (routing to the apply workers failed)");
	return 0;
}

static int emit_marker(my_stream *s, record_op op)
{
	record_header h = {.op = op, .position = s->txn_pos, .xid = s->xid, .commit_time_us = s->commit_us};
	record_encoder e;
	record_encode_begin(&e, &s->buf, &h);
	if (record_encode_finish(&e) < 0)
		return fail(s, "encoding a %s record failed", record_op_name(op));
	return emit(s, 0);
}

static int begin_txn(my_stream *s, uint32_t start, uint64_t seq, uint32_t timestamp, bool standalone)
{
	if (s->in_txn)
		return fail(s, "binlog %s at %" PRIu32 ": a transaction starts inside another", s->file, start);
	s->in_txn = true;
	s->txn_changes = 0;
	s->standalone = standalone;
	s->txn_pos = record_mysql_position(s->file_no, start) + 1;
	s->xid = seq;
	s->commit_us = (int64_t)timestamp * 1000000;
	s->pending = false;
	return emit_marker(s, RECORD_OP_BEGIN);
}

static int commit_txn(my_stream *s, uint32_t end)
{
	if (!s->in_txn)
		return 0; /* a group whose start the stream never saw (cannot happen after a resume) */
	s->in_txn = false;
	s->boundary = record_mysql_position(s->file_no, end);
	s->stats.transactions++;
	return emit_marker(s, RECORD_OP_COMMIT);
}

static const char *target_type(const my_pg_table *pt, int col, char *buf, size_t size)
{
	const catalog_column *c = &pt->target->columns[col];
	/* a MySQL target's ENUM is inline: COLUMN_TYPE says it all */
	if (c->type.cls != CATALOG_TYPE_ENUM || pt->target->engine == ENGINE_MYSQL)
		return c->type_name;
	snprintf(buf, size, "\"%s\".\"%s\"", c->type.udt_schema, c->type.udt_name);
	return buf;
}

static int emit_relation(my_stream *s, int k, const my_pg_table *pt)
{
	const catalog_table *t = pt->target, *src = pt->source;
	relmsg_column *cols = calloc((size_t)t->n_columns + 1, sizeof *cols);
	char (*types)[200] = calloc((size_t)t->n_columns + 1, sizeof *types);
	if (cols == NULL || types == NULL) {
		free(cols);
		free(types);
		return fail(s, "out of memory");
	}
	for (int i = 0; i < t->n_columns; i++)
		cols[i] = (relmsg_column){.name = t->columns[i].name, .typmod = -1,
					  .type_name = (char *)target_type(pt, i, types[i], sizeof types[i])};
	for (int j = 0; j < t->n_key_columns; j++)
		cols[t->key_columns[j]].key = true;
	relmsg msg = {.table_id = (uint32_t)k + 1, .source_schema = src->schema, .source_name = src->name,
		      .target_schema = t->schema, .target_name = t->name,
		      .replident = t->key_kind == CATALOG_KEY_NONE ? 'f' : 'd', .ncols = t->n_columns, .cols = cols};
	int rc = relmsg_encode(&s->buf, s->txn_pos, &msg);
	free(cols);
	free(types);
	if (rc < 0)
		return fail(s, "encoding the description of %s.%s failed", src->schema, src->name);
	s->described[k] = true;
	return emit(s, (uint32_t)k + 1);
}

/* ---- tables ------------------------------------------------------------------------------------- */

static int task_table_of(const my_stream *s, uint64_t id)
{
	for (int k = 0; k < s->o.ts->n_tables; k++)
		if (s->o.ts->tables[k].source_oid == id)
			return k;
	return -1;
}

static bool same_map(const my_table_map *a, const my_table_map *b)
{
	return a->ncols == b->ncols && strcmp(a->schema, b->schema) == 0 && strcmp(a->table, b->table) == 0 &&
	       memcmp(a->types, b->types, (size_t)a->ncols) == 0 &&
	       memcmp(a->meta, b->meta, (size_t)a->ncols * sizeof *a->meta) == 0;
}

static map_entry *find_map(my_stream *s, uint64_t table_id)
{
	for (int i = 0; i < s->n_maps; i++)
		if (s->maps[i].tm.table_id == table_id)
			return &s->maps[i];
	return NULL;
}

static int on_table_map(my_stream *s, const my_event *ev)
{
	my_table_map tm;
	if (my_binlog_table_map(ev, &tm, s->err, sizeof s->err) < 0)
		return -1;
	map_entry *m = find_map(s, tm.table_id);
	if (m != NULL && same_map(&m->tm, &tm)) {
		my_table_map_free(&tm);
		return 0;
	}
	if (m == NULL) {
		map_entry *grown = realloc(s->maps, (size_t)(s->n_maps + 1) * sizeof *grown);
		if (grown == NULL) {
			my_table_map_free(&tm);
			return fail(s, "out of memory");
		}
		s->maps = grown;
		m = &s->maps[s->n_maps++];
	} else {
		my_table_map_free(&m->tm);
	}
	m->tm = tm;
	m->pt = my_task_find(s->o.tables, my_catalog_table_id(tm.schema, tm.table));
	m->k = m->pt ? task_table_of(s, m->pt->source->id) : -1;
	if (m->k < 0)
		return 0;
	if (my_rowdec_check(&m->tm, m->pt, s->err, sizeof s->err) < 0)
		return -1;
	s->described[m->k] = false; /* a new map: describe the table again before its next change */
	return 0;
}

/* ---- rows ------------------------------------------------------------------------------------------ */

static bool all_present(const uint8_t *bitmap, int ncols)
{
	for (int i = 0; i < ncols; i++)
		if (!((bitmap[i / 8] >> (i % 8)) & 1))
			return false;
	return true;
}

static int check_key_present(my_stream *s, const map_entry *m, const my_cell *cells)
{
	const catalog_table *src = m->pt->source;
	for (int j = 0; j < src->n_key_columns; j++)
		if (!cells[src->key_columns[j]].present)
			return fail(s, "table %s.%s: a row image without its key column %s (binlog_row_image must log the "
				    "key)", src->schema, src->name, src->columns[src->key_columns[j]].name);
	return 0;
}

/* One change record from the images (old may be NULL, new may be NULL). */
static int emit_change(my_stream *s, const map_entry *m, record_op op, const my_cell *old, bool old_full,
		       const my_cell *new_cells)
{
	record_header h = {.op = op, .table_id = (uint32_t)m->k + 1, .position = s->txn_pos, .xid = s->xid,
			   .commit_time_us = s->commit_us,
			   .old_image = old == NULL ? RECORD_IMAGE_NONE : old_full ? RECORD_IMAGE_FULL : RECORD_IMAGE_KEY,
			   .has_new = new_cells != NULL};
	record_encoder e;
	record_encode_begin(&e, &s->buf, &h);
	my_invalid *inv = &s->inv[m->k];
	uint64_t before = inv->count;
	int rc = 0;
	if (old != NULL)
		rc = my_rowdec_tuple(&e, &m->tm, m->pt, old, true, inv, &s->scratch, s->err, sizeof s->err);
	if (rc == 0 && new_cells != NULL)
		rc = my_rowdec_tuple(&e, &m->tm, m->pt, new_cells, false, inv, &s->scratch, s->err, sizeof s->err);
	if (inv->count > before) {
		taskstate_table *t = &s->o.ts->tables[m->k];
		atomic_fetch_add(&t->invalid_values, inv->count - before);
		s->stats.invalid += inv->count - before;
		if (before == 0 && rc == 0)
			log_warning("table %s: invalid value in the change stream (invalid_values = %s): %s; later ones "
				    "are counted in the status", t->source_name, typemap_invalid_values_name(inv->policy),
				    inv->first);
	}
	if (rc < 0)
		return -1;
	if (record_encode_finish(&e) < 0)
		return fail(s, "encoding a change of %s.%s failed", m->tm.schema, m->tm.table);
	s->stats.changes++;
	s->txn_changes++;
	return emit(s, (uint32_t)m->k + 1);
}

static int read_image(my_stream *s, const map_entry *m, const uint8_t *bitmap, const uint8_t **p,
		      const uint8_t *end, my_cell *cells)
{
	return my_binlog_image(&m->tm, bitmap, p, end, cells, s->err, sizeof s->err);
}

static int on_rows(my_stream *s, const my_rows *r)
{
	map_entry *m = find_map(s, r->table_id);
	if (m == NULL)
		return fail(s, "binlog %s: rows of table id %" PRIu64 " without its TABLE_MAP", s->file, r->table_id);
	if (m->k < 0)
		return 0;
	if (!s->in_txn)
		return fail(s, "binlog %s: rows of %s.%s outside a transaction", s->file, m->tm.schema, m->tm.table);
	if (r->ncols != m->tm.ncols)
		return fail(s, "table %s.%s: a rows event of %d columns, its map has %d", m->tm.schema, m->tm.table,
			    r->ncols, m->tm.ncols);
	if (!s->described[m->k] && emit_relation(s, m->k, m->pt) < 0)
		return -1;
	bool old_full = all_present(r->present, r->ncols);
	const uint8_t *p = r->data, *end = r->data + r->data_len;
	while (p < end) {
		if (read_image(s, m, r->present, &p, end, s->cells_a) < 0)
			return -1;
		int rc;
		if (r->kind == MY_ROWS_WRITE) {
			rc = emit_change(s, m, RECORD_OP_INSERT, NULL, false, s->cells_a);
		} else if (r->kind == MY_ROWS_DELETE) {
			rc = (!old_full ? check_key_present(s, m, s->cells_a) : 0);
			if (rc == 0)
				rc = emit_change(s, m, RECORD_OP_DELETE, s->cells_a, old_full, NULL);
		} else {
			rc = read_image(s, m, r->present_after, &p, end, s->cells_b);
			if (rc == 0 && !old_full)
				rc = check_key_present(s, m, s->cells_a);
			if (rc == 0)
				rc = emit_change(s, m, RECORD_OP_UPDATE, s->cells_a, old_full, s->cells_b);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- statements -------------------------------------------------------------------------------------- */

/* The statement's first word, after blanks and comments, into word (lower case). */
static const char *first_word(const char *sql, size_t len, char *word, size_t size, size_t *after)
{
	size_t i = 0;
	for (;;) {
		while (i < len && isspace((unsigned char)sql[i]))
			i++;
		if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
			const char *close = memmem(sql + i + 2, len - i - 2, "*/", 2);
			i = close ? (size_t)(close - sql) + 2 : len;
			continue;
		}
		break;
	}
	size_t n = 0;
	while (i < len && (isalpha((unsigned char)sql[i]) || sql[i] == '_') && n + 1 < size)
		word[n++] = (char)tolower((unsigned char)sql[i++]);
	word[n] = '\0';
	*after = i;
	return word;
}

/* One name at sql[*i] (`quoted` or bare), unquoted into out. */
static bool read_name(const char *sql, size_t len, size_t *i, char *out, size_t size)
{
	size_t n = 0;
	while (*i < len && isspace((unsigned char)sql[*i]))
		(*i)++;
	if (*i < len && sql[*i] == '`') {
		for ((*i)++; *i < len; (*i)++) {
			if (sql[*i] == '`' && *i + 1 < len && sql[*i + 1] == '`')
				(*i)++;
			else if (sql[*i] == '`')
				break;
			if (n + 1 < size)
				out[n++] = sql[*i];
		}
		(*i)++;
	} else {
		while (*i < len && (isalnum((unsigned char)sql[*i]) || sql[*i] == '_' || sql[*i] == '$' ||
				    (unsigned char)sql[*i] >= 0x80) && n + 1 < size)
			out[n++] = sql[(*i)++];
	}
	out[n] = '\0';
	return n > 0;
}

static int on_truncate(my_stream *s, const my_query *q, size_t i)
{
	const char *sql = q->sql;
	char word[16], a[256], b[256] = "";
	size_t j;
	first_word(sql + i, q->sql_len - i, word, sizeof word, &j);
	if (strcmp(word, "table") == 0)
		i += j;
	if (!read_name(sql, q->sql_len, &i, a, sizeof a))
		return 0;
	bool dotted = i < q->sql_len && sql[i] == '.';
	if (dotted) {
		i++;
		read_name(sql, q->sql_len, &i, b, sizeof b);
	}
	char db[256];
	snprintf(db, sizeof db, "%.*s", (int)q->db_len, q->db);
	const my_pg_table *pt = my_task_find(s->o.tables, my_catalog_table_id(dotted ? a : db, dotted ? b : a));
	int k = pt ? task_table_of(s, pt->source->id) : -1;
	if (k < 0)
		return 0;
	if (!s->described[k] && emit_relation(s, k, pt) < 0)
		return -1;
	record_header h = {.op = RECORD_OP_TRUNCATE, .table_id = (uint32_t)k + 1, .position = s->txn_pos,
			   .xid = s->xid, .commit_time_us = s->commit_us};
	record_encoder e;
	record_encode_begin(&e, &s->buf, &h);
	if (record_encode_finish(&e) < 0)
		return fail(s, "encoding a TRUNCATE failed");
	s->stats.changes++;
	s->txn_changes++;
	log_info("TRUNCATE of %s.%s in the change stream: applied to the target", pt->source->schema, pt->source->name);
	return emit(s, (uint32_t)k + 1);
}

static int on_query(my_stream *s, const my_event *ev, const my_query *q)
{
	char word[16];
	size_t after;
	first_word(q->sql, q->sql_len, word, sizeof word, &after);
	uint32_t start = my_binlog_event_start(ev);
	if (strcmp(word, "begin") == 0)
		return begin_txn(s, s->pending ? s->pending_start : start, s->pending_seq, ev->timestamp, false);
	if (strcmp(word, "commit") == 0 || strcmp(word, "rollback") == 0)
		return commit_txn(s, ev->next_pos);
	bool standalone = !s->in_txn;
	if (standalone && begin_txn(s, s->pending ? s->pending_start : start, s->pending_seq, ev->timestamp, true) < 0)
		return -1;
	int rc = 0;
	if (strcmp(word, "truncate") == 0) {
		rc = on_truncate(s, q, after);
	} else if (strcmp(word, "create") == 0 || strcmp(word, "alter") == 0 || strcmp(word, "drop") == 0 ||
		   strcmp(word, "rename") == 0) {
		s->stats.ddl++;
		log_warning("DDL in the change stream, not replicated (schema changes are not applied yet): %.*s%s",
			    q->sql_len > 300 ? 300 : (int)q->sql_len, q->sql, q->sql_len > 300 ? "..." : "");
	}
	if (rc == 0 && (standalone || s->standalone))
		rc = commit_txn(s, ev->next_pos);
	return rc;
}

/* ---- events ------------------------------------------------------------------------------------------ */

static int on_position_event(my_stream *s, const my_event *ev)
{
	char file[256];
	uint64_t pos;
	if (ev->type == MY_EV_ROTATE) {
		if (my_binlog_rotate(ev, &pos, file, sizeof file, s->err, sizeof s->err) < 0)
			return -1;
	} else {
		if (my_binlog_heartbeat(ev, file, sizeof file, s->err, sizeof s->err) < 0)
			return -1;
		pos = ev->next_pos;
	}
	set_file(s, file);
	s->received = record_mysql_position(s->file_no, (uint32_t)pos);
	/* an artificial ROTATE only names the file the server reads: after a GTID start it
	 * says 4, before the events the server skips up to the GTID state */
	if (!s->in_txn && pos >= 4 && !(ev->type == MY_EV_ROTATE && (ev->flags & MY_EVENT_ARTIFICIAL)))
		s->boundary = s->received;
	return 0;
}

static int on_gtid(my_stream *s, const my_event *ev)
{
	my_gtid g = {0};
	if (ev->type == MY_EV_GTID_MARIADB && my_binlog_gtid(ev, &g, s->err, sizeof s->err) < 0)
		return -1;
	uint32_t start = my_binlog_event_start(ev);
	if (ev->type == MY_EV_GTID_MARIADB && s->o.gtids != NULL)
		my_gtid_log_add(s->o.gtids, record_mysql_position(s->file_no, start), g.domain, g.server_id, g.seq);
	if (ev->type == MY_EV_GTID_MARIADB && !(g.flags & MY_GTID_STANDALONE))
		return begin_txn(s, start, g.seq, ev->timestamp, false);
	/* a standalone group (MariaDB DDL) or MySQL's GTID: BEGIN or the statement follows */
	s->pending = true;
	s->pending_start = start;
	s->pending_seq = g.seq;
	s->pending_flags = g.flags;
	return 0;
}

static int feed_rows(my_stream *s, const my_event *ev, const my_stream_override *ov)
{
	my_rows r;
	if (ov != NULL) {
		r = (my_rows){.kind = my_binlog_rows_kind(ev->type), .table_id = ov->table_id, .ncols = ov->ncols,
			      .present = ov->present, .present_after = ov->present_after, .data = ov->data,
			      .data_len = ov->data_len};
	} else if (my_binlog_rows(ev, &r, s->err, sizeof s->err) < 0) {
		return -1;
	}
	if (r.kind == MY_ROWS_UPDATE && r.present_after == NULL)
		return fail(s, "binlog %s: an UPDATE event without its after-image bitmap", s->file);
	return on_rows(s, &r);
}

int my_stream_feed(my_stream *s, const uint8_t *raw, size_t len, const my_stream_override *ov)
{
	my_event ev;
	if (my_binlog_event(raw, len, s->o.checksum, &ev, s->err, sizeof s->err) < 0)
		return -1;
	if (ev.next_pos > 0 && !(ev.flags & MY_EVENT_ARTIFICIAL))
		s->received = record_mysql_position(s->file_no, ev.next_pos);
	switch (ev.type) {
	case MY_EV_ROTATE:
	case MY_EV_HEARTBEAT: return on_position_event(s, &ev);
	case MY_EV_GTID_MARIADB:
	case MY_EV_GTID_MYSQL:
	case MY_EV_ANONYMOUS_GTID: return on_gtid(s, &ev);
	case MY_EV_QUERY: {
		my_query q;
		return my_binlog_query(&ev, &q, s->err, sizeof s->err) < 0 ? -1 : on_query(s, &ev, &q);
	}
	case MY_EV_QUERY_COMPRESSED: {
		if (ov == NULL || ov->sql == NULL)
			return fail(s, "binlog %s: a compressed statement arrived without its text", s->file);
		my_query q = {.db = ov->db, .db_len = ov->db_len, .sql = ov->sql, .sql_len = ov->sql_len};
		return on_query(s, &ev, &q);
	}
	case MY_EV_XID: return commit_txn(s, ev.next_pos);
	case MY_EV_TABLE_MAP: return on_table_map(s, &ev);
	case MY_EV_PARTIAL_UPDATE_ROWS:
		return fail(s, "binlog %s: a partial JSON update (binlog_row_value_options = PARTIAL_JSON) cannot be "
			    "read: set binlog_row_value_options = ''", s->file);
	case MY_EV_XA_PREPARE:
		/* the prepared branch commits later in a group of its own ("XA COMMIT") */
		if (s->txn_changes > 0)
			return fail(s, "binlog %s: an XA transaction (XA PREPARE) writes a selected table: XA "
				    "transactions are not replicated yet; commit without XA, or exclude the table", s->file);
		s->in_txn = false;
		return 0;
	case MY_EV_TRANSACTION_PAYLOAD:
		return fail(s, "binlog %s: a compressed transaction (binlog_transaction_compression = ON) cannot be "
			    "read: turn it off", s->file);
	default:
		if (my_binlog_is_rows(ev.type))
			return feed_rows(s, &ev, NULL);
		if (my_binlog_is_compressed_rows(ev.type) && ov != NULL && ov->data != NULL)
			return feed_rows(s, &ev, ov);
		if (my_binlog_is_compressed_rows(ev.type))
			return fail(s, "binlog %s: a compressed rows event arrived without its rows", s->file);
		return 0; /* FORMAT_DESCRIPTION, GTID_LIST, checkpoints, annotations, STOP, ... */
	}
}
