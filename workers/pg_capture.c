/* pgoutput stream -> change records: transactions, relations, values, streamed
 * transactions, positions. (Source preparation is in the second half of this file.) */
#include "workers/pg_capture.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ipc/record.h"
#include "workers/pg_conn.h"
#include "workers/pg_relcache.h"
#include "workers/pg_txnbuf.h"
#include "workers/pg_value.h"

#define ERR_MAX 1024

/* The transaction being written to the output: a plain one (Begin..Commit) or a
 * streamed one being read back at its Stream Commit. BEGIN goes out only before its
 * first record, so a transaction with nothing selected emits nothing. */
typedef struct out_txn {
	bool open;
	bool begun; /* BEGIN emitted */
	uint64_t lsn; /* commit LSN: the position of every record */
	uint32_t xid;
	int64_t time_us;
} out_txn;

/* A streamed transaction not yet committed or aborted: its buffer, and the relation
 * descriptions its own stream sent (see pg_relcache.h, "Scopes"). */
typedef struct stream {
	pg_txnbuf *buf;
	pg_relcache rc;
} stream;

struct pg_capture {
	pg_capture_options o;
	char *spool_dir;
	pgo_decoder dec;
	pg_relcache_shared shared;
	pg_relcache rc; /* plain transactions' descriptions, and what the output carried */
	record_buf buf; /* the change being encoded */
	record_buf ctl; /* BEGIN and COMMIT (emitted while a change may sit in buf) */
	record_buf out; /* a record rewritten with its transaction's header */
	out_txn txn;

	stream **streams;
	int n_streams;
	int cap_streams;
	stream *block;       /* the one whose Stream Start .. Stream Stop block is open */
	uint64_t serial;

	uint64_t quiet_lsn;  /* server position at the last keepalive outside a transaction */
	pg_capture_stats st;
	char err[ERR_MAX];
};

static int set_err(pg_capture *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_err(pg_capture *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *lsn_text(uint64_t lsn, char *buf, size_t size)
{
	pgo_format_lsn(lsn, buf, size);
	return buf;
}

/* ---- lifecycle --------------------------------------------------------------------- */

static void drop_stream(pg_capture *c, int i);

pg_capture *pg_capture_new(const pg_capture_options *opts, char *err, size_t errlen)
{
	if (!opts->emit || !opts->lookup || !opts->type_names || !opts->spool_dir || !*opts->spool_dir) {
		snprintf(err, errlen, "capture: emit, lookup, type_names and spool_dir are required");
		return NULL;
	}
	if (pg_txnbuf_remove_stale(opts->spool_dir) < 0) {
		snprintf(err, errlen, "capture: cannot clean the spool directory %s: %s", opts->spool_dir,
			 strerror(errno));
		return NULL;
	}
	pg_capture *c = calloc(1, sizeof *c);
	if (!c || !(c->spool_dir = strdup(opts->spool_dir))) {
		free(c);
		snprintf(err, errlen, "capture: out of memory");
		return NULL;
	}
	c->o = *opts;
	c->o.spool_dir = c->spool_dir;
	pgo_decoder_init(&c->dec);
	pg_relcache_shared_init(&c->shared, opts->lookup, opts->lookup_arg, opts->type_names, opts->type_names_arg);
	pg_relcache_init(&c->rc, &c->shared, NULL);
	record_buf_init(&c->buf);
	record_buf_init(&c->out);
	record_buf_init(&c->ctl);
	return c;
}

void pg_capture_free(pg_capture *c)
{
	if (!c)
		return;
	while (c->n_streams > 0)
		drop_stream(c, c->n_streams - 1);
	free(c->streams);
	pgo_decoder_free(&c->dec);
	pg_relcache_free(&c->rc);
	pg_relcache_shared_free(&c->shared);
	record_buf_free(&c->buf);
	record_buf_free(&c->ctl);
	record_buf_free(&c->out);
	free(c->spool_dir);
	free(c);
}

const char *pg_capture_error(const pg_capture *c) { return c->err; }

/* ---- output ------------------------------------------------------------------------ */

static int emit(pg_capture *c, uint32_t table_id, const void *rec, size_t len)
{
	if (c->o.emit(c->o.emit_arg, table_id, rec, len) != 0)
		return set_err(c, "the record consumer refused a record of table id %u", table_id);
	return 0;
}

/* Copies rec into c->out with the current transaction's position, xid and commit time. */
static int rewrite_header(pg_capture *c, const void *rec, size_t len, uint32_t *table_id)
{
	record_error rerr;
	if (record_rewrite_txn(&c->out, rec, len, c->txn.lsn, c->txn.xid, c->txn.time_us, table_id, &rerr) < 0)
		return set_err(c, "internal: a buffered record cannot be rewritten: %s at byte %zu", rerr.what,
			       rerr.offset);
	return 0;
}

static int emit_control(pg_capture *c, record_op op)
{
	record_header h = {.op = op, .position = c->txn.lsn, .xid = c->txn.xid, .commit_time_us = c->txn.time_us};
	record_encoder e;
	record_encode_begin(&e, &c->ctl, &h);
	if (record_encode_finish(&e) < 0)
		return set_err(c, "encoding a %s record failed", record_op_name(op));
	return emit(c, 0, c->ctl.data, c->ctl.len);
}

static int ensure_begun(pg_capture *c)
{
	if (c->txn.begun)
		return 0;
	c->txn.begun = true;
	return emit_control(c, RECORD_OP_BEGIN);
}

/* Emits rec (encoded with any header) as a record of the current transaction. */
static int emit_in_txn(pg_capture *c, const void *rec, size_t len)
{
	uint32_t table_id = 0;
	if (ensure_begun(c) < 0 || rewrite_header(c, rec, len, &table_id) < 0)
		return -1;
	return emit(c, table_id, c->out.data, c->out.len);
}

/* The output needs the description (generation gen, RELATION record rec) of relid
 * before a change that uses it: emitted unless the output's last one for relid has the
 * same contents (another scope may have described it identically). */
static int describe_output(pg_capture *c, uint32_t relid, uint64_t gen, const void *rec, size_t len)
{
	pg_relcache_entry *out = pg_relcache_get(&c->rc, relid);
	if (!out)
		return set_err(c, "out of memory for relation %u", relid);
	if (out->emitted_gen == gen)
		return 0;
	if (out->emitted_len != len || memcmp(out->emitted, rec, len) != 0) {
		uint8_t *copy = malloc(len);
		if (!copy)
			return set_err(c, "out of memory for the description of relation %u", relid);
		if (emit_in_txn(c, rec, len) < 0) {
			free(copy);
			return -1;
		}
		memcpy(copy, rec, len);
		free(out->emitted);
		out->emitted = copy;
		out->emitted_len = len;
	}
	out->emitted_gen = gen;
	return 0;
}

/* Ends the output transaction: COMMIT when anything was emitted. */
static int finish_txn(pg_capture *c, uint64_t end_lsn)
{
	int rc = 0;
	if (c->txn.begun) {
		rc = emit_control(c, RECORD_OP_COMMIT);
		c->st.last_emitted_lsn = c->txn.lsn;
		c->st.transactions_emitted++;
	}
	c->st.last_commit_lsn = c->txn.lsn;
	c->st.last_commit_end = end_lsn;
	c->txn = (out_txn){0};
	return rc;
}

/* ---- changes ----------------------------------------------------------------------- */

/* Appends the included columns of tup. */
static int put_tuple(pg_capture *c, record_encoder *e, const pg_relcache_entry *r, const pgo_tuple *tup)
{
	if (tup->ncols != r->ncols)
		return set_err(c, "malformed stream: a change of %s has %d columns, its Relation message %d", r->label,
			       tup->ncols, r->ncols);
	record_encode_tuple(e, (uint32_t)r->nout);
	for (int i = 0; i < r->ncols; i++) {
		const pg_relcache_col *col = &r->cols[i];
		const pgo_column *v = &tup->cols[i];
		if (!col->included)
			continue;
		char why[256];
		switch (v->kind) {
		case PGO_COL_NULL: record_put_null(e); break;
		case PGO_COL_UNCHANGED: record_put_unchanged(e); break;
		case PGO_COL_TEXT:
			if (pg_value_put_text(e, col->type_oid, v->data, v->len, why, sizeof why) < 0)
				return set_err(c, "table %s column \"%s\" (%s): %s", r->label, col->name, col->type_name,
					       why);
			break;
		default:
			return set_err(c, "table %s column \"%s\": binary values were not requested", r->label,
				       col->name);
		}
	}
	return 0;
}

static record_image image_of(pgo_old_kind k)
{
	return k == PGO_OLD_KEY ? RECORD_IMAGE_KEY : k == PGO_OLD_FULL ? RECORD_IMAGE_FULL : RECORD_IMAGE_NONE;
}

/* Encodes an INSERT/UPDATE/DELETE/TRUNCATE into c->buf. Streamed changes get position
 * 0 and commit time 0 (rewritten at their commit). */
static int encode_change(pg_capture *c, const pg_relcache_entry *r, const pgo_message *m, uint32_t xid)
{
	record_header h = {.table_id = r->table_id, .xid = xid};
	if (!m->in_stream) {
		h.position = c->txn.lsn;
		h.commit_time_us = c->txn.time_us;
	}
	const pgo_tuple *old = NULL, *new = NULL;
	switch (m->type) {
	case PGO_INSERT: h.op = RECORD_OP_INSERT; new = &m->insert.newtup; break;
	case PGO_UPDATE:
		h.op = RECORD_OP_UPDATE;
		h.old_image = image_of(m->update.old_kind);
		old = h.old_image ? &m->update.oldtup : NULL;
		new = &m->update.newtup;
		break;
	case PGO_DELETE:
		h.op = RECORD_OP_DELETE;
		h.old_image = image_of(m->del.old_kind);
		old = &m->del.oldtup;
		break;
	default: h.op = RECORD_OP_TRUNCATE; break;
	}
	h.has_new = new != NULL;
	record_encoder e;
	record_encode_begin(&e, &c->buf, &h);
	if ((old && put_tuple(c, &e, r, old) < 0) || (new && put_tuple(c, &e, r, new) < 0))
		return -1;
	if (record_encode_finish(&e) < 0)
		return set_err(c, "encoding a %s record of %s failed: %s", record_op_name(h.op), r->label,
			       strerror(errno));
	return 0;
}

/* Writes the encoded change (c->buf) of a streamed transaction to its buffer, after
 * the relation's description (r, of the transaction's own cache) if the buffer has not
 * got this one yet. */
static int spool_change(pg_capture *c, pg_relcache_entry *r, uint32_t subxid)
{
	pg_txnbuf *t = c->block->buf;
	if (r->spooled_gen != r->gen) {
		if (pg_txnbuf_add_relation(t, r->relid, r->gen, r->relrec.data, r->relrec.len, c->err, sizeof c->err) < 0)
			return -1;
		r->spooled_gen = r->gen;
	}
	return pg_txnbuf_add_change(t, subxid, c->buf.data, c->buf.len, c->err, sizeof c->err);
}

/* One change of relation relid: converted and emitted, or buffered when streamed. */
static int handle_change(pg_capture *c, const pgo_message *m, uint32_t relid)
{
	if (m->in_stream ? c->block == NULL : !c->txn.open)
		return set_err(c, "malformed stream: a '%c' message outside any transaction", (char)m->type);
	pg_relcache *rc = m->in_stream ? &c->block->rc : &c->rc;
	pg_relcache_entry *r = pg_relcache_find(rc, relid);
	if (!r || !r->label)
		return set_err(c, "malformed stream: a '%c' message for relation oid %u, which no Relation message "
			       "described%s", (char)m->type, relid, m->in_stream ? " in its streamed transaction" : "");
	if (!r->mapped && pg_relcache_map(rc, r, c->err, sizeof c->err) < 0)
		return -1;
	if (!r->selected) {
		c->st.changes_ignored++;
		return 0;
	}
	uint32_t xid = m->in_stream ? pg_txnbuf_xid(c->block->buf) : c->txn.xid;
	if (encode_change(c, r, m, xid) < 0)
		return -1;
	if (m->in_stream)
		return spool_change(c, r, m->xid);
	if (describe_output(c, r->relid, r->gen, r->relrec.data, r->relrec.len) < 0 || ensure_begun(c) < 0)
		return -1;
	c->st.changes_emitted++;
	return emit(c, r->table_id, c->buf.data, c->buf.len);
}

static int handle_truncate(pg_capture *c, const pgo_message *m)
{
	if (m->truncate.options & PGO_TRUNCATE_CASCADE)
		log_info("source TRUNCATE ... CASCADE of %d relation(s): each truncated table is in the message and "
			 "truncated on its own",
			 m->truncate.nrels);
	for (int i = 0; i < m->truncate.nrels; i++)
		if (handle_change(c, m, m->truncate.relids[i]) < 0)
			return -1;
	return 0;
}

/* ---- plain transactions ------------------------------------------------------------ */

static int handle_begin(pg_capture *c, const pgo_message *m)
{
	if (c->txn.open || c->block)
		return set_err(c, "malformed stream: Begin inside an open transaction");
	c->txn = (out_txn){.open = true, .lsn = m->begin.final_lsn, .xid = m->begin.xid,
			   .time_us = m->begin.commit_time_us};
	return 0;
}

static int handle_commit(pg_capture *c, const pgo_message *m)
{
	char a[32], b[32];
	if (!c->txn.open)
		return set_err(c, "malformed stream: Commit without Begin");
	if (m->commit.commit_lsn != c->txn.lsn)
		return set_err(c, "malformed stream: Commit at %s for a transaction that began to commit at %s",
			       lsn_text(m->commit.commit_lsn, a, sizeof a), lsn_text(c->txn.lsn, b, sizeof b));
	return finish_txn(c, m->commit.end_lsn);
}

/* ---- streamed transactions --------------------------------------------------------- */

static int find_stream(const pg_capture *c, uint32_t xid)
{
	for (int i = 0; i < c->n_streams; i++)
		if (pg_txnbuf_xid(c->streams[i]->buf) == xid)
			return i;
	return -1;
}

/* Forgets stream i (its buffer files are deleted). */
static void drop_stream(pg_capture *c, int i)
{
	stream *s = c->streams[i];
	if (c->block == s)
		c->block = NULL;
	pg_txnbuf_close(s->buf);
	pg_relcache_free(&s->rc);
	free(s);
	c->streams[i] = c->streams[--c->n_streams];
	c->st.streamed_open = c->n_streams;
}

static int open_stream(pg_capture *c, uint32_t xid)
{
	if (c->n_streams == c->cap_streams) {
		int cap = c->cap_streams ? c->cap_streams * 2 : 8;
		stream **s = realloc(c->streams, (size_t)cap * sizeof *s);
		if (!s)
			return set_err(c, "out of memory for streamed transaction %u", xid);
		c->streams = s;
		c->cap_streams = cap;
	}
	stream *s = calloc(1, sizeof *s);
	if (!s)
		return set_err(c, "out of memory for streamed transaction %u", xid);
	s->buf = pg_txnbuf_open(c->spool_dir, c->o.spool_codec, xid, ++c->serial, c->err, sizeof c->err);
	if (!s->buf) {
		free(s);
		return -1;
	}
	pg_relcache_init(&s->rc, &c->shared, &c->rc);
	c->streams[c->n_streams++] = s;
	c->st.streamed_open = c->n_streams;
	return 0;
}

static int handle_stream_start(pg_capture *c, const pgo_message *m)
{
	uint32_t xid = m->stream_start.xid;
	if (c->txn.open)
		return set_err(c, "malformed stream: Stream Start inside transaction %u", c->txn.xid);
	int i = find_stream(c, xid);
	if (i >= 0 && m->stream_start.first_segment)
		return set_err(c, "malformed stream: transaction %u streamed from its start a second time", xid);
	if (i < 0 && !m->stream_start.first_segment)
		return set_err(c, "malformed stream: transaction %u continues but its first block was not seen", xid);
	if (i < 0 && open_stream(c, xid) < 0)
		return -1;
	c->block = c->streams[i >= 0 ? i : c->n_streams - 1];
	return 0;
}

/* Replays the buffer of a committed streamed transaction as one output transaction. */
static int replay_stream(pg_capture *c, pg_txnbuf *t)
{
	pg_txnbuf_item item;
	int r;
	while ((r = pg_txnbuf_next(t, &item, c->err, sizeof c->err)) == 1) {
		if (item.kind == PG_TXNBUF_CHANGE) {
			if (emit_in_txn(c, item.rec, item.len) < 0)
				return -1;
			c->st.changes_emitted++;
			continue;
		}
		if (describe_output(c, item.relid, item.gen, item.rec, item.len) < 0)
			return -1;
	}
	return r;
}

static int handle_stream_commit(pg_capture *c, const pgo_message *m)
{
	uint32_t xid = m->stream_commit.xid;
	if (c->block || c->txn.open)
		return set_err(c, "malformed stream: Stream Commit of %u inside an open block or transaction", xid);
	int i = find_stream(c, xid);
	if (i < 0)
		return set_err(c, "malformed stream: Stream Commit of transaction %u, which was never streamed", xid);
	c->txn = (out_txn){.open = true, .lsn = m->stream_commit.commit_lsn, .xid = xid,
			   .time_us = m->stream_commit.commit_time_us};
	/* Its descriptions now count as sent for plain transactions too. */
	int rc = replay_stream(c, c->streams[i]->buf);
	if (rc == 0)
		rc = pg_relcache_adopt(&c->rc, &c->streams[i]->rc, c->err, sizeof c->err);
	drop_stream(c, i);
	if (rc < 0)
		return -1;
	c->st.streamed_committed++;
	return finish_txn(c, m->stream_commit.end_lsn);
}

static int handle_stream_abort(pg_capture *c, const pgo_message *m)
{
	uint32_t xid = m->stream_abort.xid, subxid = m->stream_abort.subxid;
	if (c->block)
		return set_err(c, "malformed stream: Stream Abort of %u inside an open block", xid);
	int i = find_stream(c, xid);
	if (i < 0)
		return 0; /* nothing of it was kept */
	if (subxid != xid && subxid != 0)
		return pg_txnbuf_abort_subxact(c->streams[i]->buf, subxid, c->err, sizeof c->err);
	drop_stream(c, i);
	c->st.streamed_aborted++;
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------- */

/* A Relation message describes the relation for its scope: the streamed transaction
 * whose block is open, or plain transactions. */
static int handle_relation(pg_capture *c, const pgo_message *m)
{
	if (m->in_stream && !c->block)
		return set_err(c, "malformed stream: a streamed Relation message outside a stream block");
	return pg_relcache_update(m->in_stream ? &c->block->rc : &c->rc, m, c->err, sizeof c->err);
}

int pg_capture_convert(pg_capture *c, const pgo_message *m)
{
	switch (m->type) {
	case PGO_BEGIN: return handle_begin(c, m);
	case PGO_COMMIT: return handle_commit(c, m);
	case PGO_RELATION: return handle_relation(c, m);
	case PGO_INSERT: return handle_change(c, m, m->insert.relid);
	case PGO_UPDATE: return handle_change(c, m, m->update.relid);
	case PGO_DELETE: return handle_change(c, m, m->del.relid);
	case PGO_TRUNCATE: return handle_truncate(c, m);
	case PGO_MESSAGE:
		if (c->o.on_message)
			c->o.on_message(c->o.message_arg, m);
		return 0;
	case PGO_ORIGIN:
	case PGO_TYPE: return 0; /* origins are not filtered; types are named by oid */
	case PGO_STREAM_START: return handle_stream_start(c, m);
	case PGO_STREAM_STOP:
		c->block = NULL;
		return 0;
	case PGO_STREAM_COMMIT: return handle_stream_commit(c, m);
	case PGO_STREAM_ABORT: return handle_stream_abort(c, m);
	}
	return set_err(c, "malformed stream: unknown message type 0x%02x", (unsigned)m->type);
}

int pg_capture_feed(pg_capture *c, const pg_repl_event *ev)
{
	if (ev->kind == PG_REPL_KEEPALIVE) {
		if (ev->wal_end > c->st.received_lsn)
			c->st.received_lsn = ev->wal_end;
		/* Inside a transaction the server may already be past the commit of what is
		 * being sent: only a position between transactions can be confirmed. */
		if (!c->txn.open && ev->wal_end > c->quiet_lsn)
			c->quiet_lsn = ev->wal_end;
		return ev->reply_requested ? 1 : 0;
	}
	if (ev->kind != PG_REPL_DATA)
		return 0;
	if (ev->wal_start > c->st.received_lsn)
		c->st.received_lsn = ev->wal_start;
	pgo_message m;
	char why[256];
	int r = pgo_decode(&c->dec, ev->data, (size_t)ev->len, &m, why, sizeof why);
	if (r < 0) {
		char at[32];
		return set_err(c, "%s (message at %s)", r == -2 ? "out of memory decoding the stream" : why,
			       lsn_text(ev->wal_start, at, sizeof at));
	}
	return pg_capture_convert(c, &m);
}

/* ---- positions --------------------------------------------------------------------- */

uint64_t pg_capture_flush_lsn(const pg_capture *c, uint64_t applied)
{
	uint64_t f;
	if (c->st.last_emitted_lsn == 0 || applied >= c->st.last_emitted_lsn)
		f = c->st.last_commit_end > c->quiet_lsn ? c->st.last_commit_end : c->quiet_lsn;
	else
		f = applied ? applied + 1 : 0;
	return f > c->o.start_lsn ? f : c->o.start_lsn;
}

int pg_capture_send_status(pg_capture *c, pg_repl_stream *s, uint64_t flush_lsn, bool reply, char *err,
			   size_t errlen)
{
	char *why = NULL;
	uint64_t written = c->st.received_lsn > flush_lsn ? c->st.received_lsn : flush_lsn;
	if (pg_repl_send_status(s, written, flush_lsn, reply, &why) == 0)
		return 0;
	snprintf(err, errlen, "%s", why ? why : "sending the standby status update failed");
	free(why);
	return -1;
}

void pg_capture_get_stats(const pg_capture *c, pg_capture_stats *out)
{
	*out = c->st;
	out->streamed_open = c->n_streams;
}

/* ==== source preparation ============================================================== */

/* State of one preflight/prepare run. */
typedef struct prep {
	PGconn *sql;
	const pg_capture_source *src;
	int own_pid;
	int version;
	strbuf *problems;
	strbuf *warnings;
	size_t problems_at; /* problems->len when the run began */
	bool transient;  /* a failure that may go away by itself */
	char *user;
	char *database;
	char *schemas;   /* the selected tables as two text[] literals */
	char *names;
	bool any_partitioned;
	bool slot_exists;
	uint64_t slot_confirmed;
	bool pub_exists;
	/* The assessment (pg_capture_assess): each finding also goes to report, attributed
	 * to the check running now. */
	pg_capture_check check;
	pg_capture_report_fn report;
	void *report_arg;
} prep;

static const char *const check_names[PG_CHECK_COUNT] = {
	[PG_CHECK_VERSION] = "server version",
	[PG_CHECK_WAL_LEVEL] = "wal_level",
	[PG_CHECK_REPLICATION] = "REPLICATION privilege",
	[PG_CHECK_SENDERS] = "WAL senders",
	[PG_CHECK_SLOT] = "replication slot",
	[PG_CHECK_TABLES] = "selected tables exist",
	[PG_CHECK_SELECT] = "SELECT privilege",
	[PG_CHECK_REPLICA_IDENTITY] = "replica identity",
	[PG_CHECK_PUBLICATION] = "publication",
};

const char *pg_capture_check_name(pg_capture_check check)
{
	return check >= 0 && check < PG_CHECK_COUNT ? check_names[check] : "?";
}

bool pg_capture_check_cdc_only(pg_capture_check check)
{
	switch (check) {
	case PG_CHECK_WAL_LEVEL:
	case PG_CHECK_REPLICATION:
	case PG_CHECK_SENDERS:
	case PG_CHECK_SLOT:
	case PG_CHECK_REPLICA_IDENTITY:
	case PG_CHECK_PUBLICATION: return true;
	default: return false;
	}
}

static void report(prep *p, pg_capture_finding kind, const char *line)
{
	if (p->report)
		p->report(p->report_arg, p->check, kind, line ? line : "out of memory");
}

static void problem(prep *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(prep *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	strbuf_append(p->problems, line ? line : "out of memory");
	strbuf_append_char(p->problems, '\n');
	report(p, PG_FINDING_PROBLEM, line);
	free(line);
}

static void warning(prep *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warning(prep *p, const char *fmt, ...)
{
	if (!p->warnings && !p->report)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (p->warnings) {
		strbuf_append(p->warnings, line ? line : "out of memory");
		strbuf_append_char(p->warnings, '\n');
	}
	report(p, PG_FINDING_WARNING, line);
	free(line);
}

/* What a check saw when it passed, for the assessment's report only. */
static void note(prep *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(prep *p, const char *fmt, ...)
{
	if (!p->report)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	report(p, PG_FINDING_NOTE, line);
	free(line);
}

/* libpq's message on one line. */
static const char *server_message(PGconn *conn)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "%s", PQerrorMessage(conn));
	for (char *q = buf; *q; q++)
		if (*q == '\n')
			*q = ' ';
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	return buf;
}

/* Runs a query; NULL after recording the failure (a lost connection is transient). */
static PGresult *prep_query(prep *p, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(p->sql, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
		return res;
	PQclear(res);
	if (PQstatus(p->sql) == CONNECTION_BAD)
		p->transient = true;
	problem(p, "%s failed: %s", what, server_message(p->sql));
	return NULL;
}

static bool is_true(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static char *qualified(const char *schema, const char *name)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_qualified(&sb, schema, name);
	return strbuf_detach(&sb);
}

static char *ident(const char *name)
{
	strbuf sb = STRBUF_INIT;
	sql_append_pg_ident(&sb, name);
	return strbuf_detach(&sb);
}

static char *text_array(const char *const *items, int n)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append_char(&sb, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			strbuf_append_char(&sb, ',');
		sql_append_pg_array_element(&sb, items[i]);
	}
	strbuf_append_char(&sb, '}');
	return strbuf_detach(&sb);
}

/* "schema"."name" in SQL, always quoted like sql_append_pg_qualified(), so that every
 * name in a message is written the same way. */
#define QUOTED(nsp, rel)                                                                                  \
	"'\"' || pg_catalog.replace(" nsp ", '\"', '\"\"') || '\".\"' || pg_catalog.replace(" rel        \
	", '\"', '\"\"') || '\"'"

/* ---- server, privileges, capacity -------------------------------------------------- */

static const char settings_sql[] =
	"SELECT pg_catalog.current_setting('wal_level'),"
	" pg_catalog.current_setting('max_replication_slots')::int,"
	" (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int,"
	" pg_catalog.current_setting('max_wal_senders')::int,"
	" (SELECT count(*) FROM pg_catalog.pg_stat_replication WHERE pid <> $1::int)::int,"
	" (SELECT r.rolreplication OR r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),"
	" current_user, pg_catalog.current_database()";

/* Checks wal_level, REPLICATION and WAL senders; keeps user, database and the slot
 * counts (free_slots) for check_slot. */
static void check_server(prep *p, int *free_slots)
{
	p->check = PG_CHECK_VERSION;
	p->version = PQserverVersion(p->sql);
	note(p, "PostgreSQL %d.%d (12 or later needed)", p->version / 10000, p->version % 10000);
	if (p->version < PG_MIN_SOURCE_VERSION)
		problem(p, "PostgreSQL %d.%d is too old for a source: logical replication with pgoutput as ferry "
			   "uses it needs PostgreSQL 12 or later; upgrade the source server",
			p->version / 10000, p->version % 10000);
	char pid[16];
	snprintf(pid, sizeof pid, "%d", p->own_pid);
	const char *params[1] = {pid};
	PGresult *res = prep_query(p, "reading the server settings", settings_sql, 1, params);
	if (!res)
		return;
	const char *wal_level = PQgetvalue(res, 0, 0);
	p->check = PG_CHECK_WAL_LEVEL;
	note(p, "wal_level = %s", wal_level);
	if (strcmp(wal_level, "logical") != 0)
		problem(p, "wal_level is \"%s\": set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET "
			   "wal_level = logical) and restart the source server", wal_level);
	*free_slots = atoi(PQgetvalue(res, 0, 1)) - atoi(PQgetvalue(res, 0, 2));
	int max_senders = atoi(PQgetvalue(res, 0, 3)), senders = atoi(PQgetvalue(res, 0, 4));
	p->check = PG_CHECK_SENDERS;
	note(p, "%d of max_wal_senders = %d in use", senders, max_senders);
	if (p->own_pid == 0 && senders >= max_senders)
		problem(p, "no free WAL sender: max_wal_senders = %d and %d are in use; raise max_wal_senders "
			   "(server restart needed) or stop an unused replication client", max_senders, senders);
	p->user = strdup(PQgetvalue(res, 0, 6));
	p->database = strdup(PQgetvalue(res, 0, 7));
	p->check = PG_CHECK_REPLICATION;
	note(p, "user \"%s\" may replicate", PQgetvalue(res, 0, 6));
	if (!is_true(res, 0, 5)) {
		char *u = ident(PQgetvalue(res, 0, 6));
		problem(p, "user %s lacks the REPLICATION privilege: ALTER ROLE %s REPLICATION (as a superuser), "
			   "or use a role that has it", u ? u : "?", u ? u : "?");
		free(u);
	}
	PQclear(res);
}

/* ---- the slot ---------------------------------------------------------------------- */

static void check_existing_slot(prep *p, const PGresult *res)
{
	const char *slot = p->src->slot;
	if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0) {
		problem(p, "replication slot \"%s\" is a physical slot: choose another slot_name", slot);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "pgoutput") != 0)
		problem(p, "replication slot \"%s\" uses plugin \"%s\", not pgoutput: drop it "
			   "(SELECT pg_drop_replication_slot('%s')) or choose another slot_name",
			slot, PQgetvalue(res, 0, 1), slot);
	else if (p->database && strcmp(PQgetvalue(res, 0, 2), p->database) != 0)
		problem(p, "replication slot \"%s\" belongs to database \"%s\", not \"%s\": choose another slot_name",
			slot, PQgetvalue(res, 0, 2), p->database);
	else if (strcmp(PQgetvalue(res, 0, 6), "lost") == 0)
		problem(p, "replication slot \"%s\" has lost WAL it needs (max_slot_wal_keep_size): changes are "
			   "gone; drop the slot and run the task again with a full load", slot);
	else if (is_true(res, 0, 3) && atoi(PQgetvalue(res, 0, 4)) != p->own_pid && p->report)
		warning(p, "replication slot \"%s\" is in use by server process %s: a running ferryd, or another "
			   "consumer that must stop before the task can start", slot, PQgetvalue(res, 0, 4));
	else if (is_true(res, 0, 3) && atoi(PQgetvalue(res, 0, 4)) != p->own_pid) {
		p->transient = true;
		problem(p, "replication slot \"%s\" is in use by server process %s (another consumer, or a previous "
			   "capture not yet gone); retrying", slot, PQgetvalue(res, 0, 4));
	} else if (pgo_parse_lsn(PQgetvalue(res, 0, 5), &p->slot_confirmed) < 0)
		problem(p, "replication slot \"%s\" has no confirmed position (\"%s\"): drop it and start again",
			slot, PQgetvalue(res, 0, 5));
}

static void check_slot(prep *p, int free_slots)
{
	const char *sql = p->version >= 130000
		? "SELECT slot_type, coalesce(plugin, ''), coalesce(database::text, ''), active,"
		  " coalesce(active_pid, 0), coalesce(confirmed_flush_lsn::text, ''), coalesce(wal_status, '')"
		  " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1"
		: "SELECT slot_type, coalesce(plugin, ''), coalesce(database::text, ''), active,"
		  " coalesce(active_pid, 0), coalesce(confirmed_flush_lsn::text, ''), ''"
		  " FROM pg_catalog.pg_replication_slots WHERE slot_name = $1";
	const char *params[1] = {p->src->slot};
	p->check = PG_CHECK_SLOT;
	PGresult *res = prep_query(p, "looking up the replication slot", sql, 1, params);
	if (!res)
		return;
	p->slot_exists = PQntuples(res) > 0;
	if (p->slot_exists)
		note(p, "slot \"%s\" exists (logical, pgoutput, this database): the task resumes from it", p->src->slot);
	else
		note(p, "slot \"%s\" will be created (%d free)", p->src->slot, free_slots);
	if (p->slot_exists)
		check_existing_slot(p, res);
	else if (free_slots <= 0)
		problem(p, "no free replication slot for \"%s\": max_replication_slots is reached; raise it (server "
			   "restart needed) or drop an unused slot", p->src->slot);
	PQclear(res);
}

/* ---- tables ------------------------------------------------------------------------ */

/* Per selected table, in order: found, kind, SELECT allowed, the leaves (the table, or
 * a partitioned table's leaf partitions) without a usable replica identity. */
static const char tables_sql[] =
	"SELECT c.oid IS NOT NULL, coalesce(c.relkind::text, ''),"
	" coalesce(pg_catalog.has_table_privilege(c.oid, 'SELECT'), false),"
	" (SELECT pg_catalog.string_agg(" QUOTED("ln.nspname", "l.relname") ", ', '"
	"         ORDER BY ln.nspname, l.relname)"
	"    FROM pg_catalog.pg_class l JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace"
	"   WHERE l.oid IN (SELECT c.oid WHERE c.relkind = 'r'"
	"                   UNION ALL SELECT t.relid FROM pg_catalog.pg_partition_tree(c.oid) t"
	"                   WHERE t.isleaf AND c.relkind = 'p')"
	"     AND NOT (l.relreplident = 'f'"
	"       OR (l.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
	"                                             WHERE i.indrelid = l.oid AND i.indisprimary))"
	"       OR (l.relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
	"                                             WHERE i.indrelid = l.oid AND i.indisreplident))))"
	" FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]))"
	"      WITH ORDINALITY AS s(nsp, rel, ord)"
	" LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp"
	" LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.rel"
	"       AND c.relkind IN ('r', 'p')"
	" ORDER BY s.ord";

static void check_table_row(prep *p, const PGresult *res, int i)
{
	char *name = qualified(p->src->schemas[i], p->src->names[i]);
	const char *label = name ? name : "?";
	p->check = PG_CHECK_TABLES;
	if (!is_true(res, i, 0)) {
		problem(p, "table %s does not exist (or is not a table): check the include rules", label);
	} else {
		bool partitioned = strcmp(PQgetvalue(res, i, 1), "p") == 0;
		p->any_partitioned |= partitioned;
		if (partitioned && p->version < 130000)
			problem(p, "partitioned table %s needs PostgreSQL 13 or later on the source "
				   "(publish_via_partition_root); exclude it or upgrade", label);
		p->check = PG_CHECK_SELECT;
		if (!is_true(res, i, 2))
			problem(p, "user \"%s\" may not read table %s: GRANT SELECT ON %s TO the user", p->user ? p->user : "?",
				label, label);
		p->check = PG_CHECK_REPLICA_IDENTITY;
		if (!PQgetisnull(res, i, 3))
			problem(p, "table %s has no primary key and no replica identity (%s): UPDATE and DELETE on it "
				   "would fail on the source once it is published; add a primary key, or ALTER TABLE ... "
				   "REPLICA IDENTITY FULL (or USING INDEX) on each table listed",
				label, PQgetvalue(res, i, 3));
	}
	free(name);
}

static void check_tables(prep *p)
{
	p->check = PG_CHECK_TABLES;
	if (p->src->n_tables <= 0) {
		problem(p, "no table is selected: check the task's include and exclude rules");
		return;
	}
	const char *params[2] = {p->schemas, p->names};
	PGresult *res = prep_query(p, "reading the selected tables", tables_sql, 2, params);
	if (!res)
		return;
	for (int i = 0; i < PQntuples(res) && i < p->src->n_tables; i++)
		check_table_row(p, res, i);
	PQclear(res);
	p->check = PG_CHECK_TABLES;
	note(p, "all %d found", p->src->n_tables);
	p->check = PG_CHECK_SELECT;
	note(p, "user \"%s\" may read all %d", p->user ? p->user : "?", p->src->n_tables);
	p->check = PG_CHECK_REPLICA_IDENTITY;
	note(p, "each has a primary key or a replica identity");
}

/* ---- the publication --------------------------------------------------------------- */

static void check_pub_actions(prep *p, const PGresult *res, const char *pub)
{
	static const char *const actions[] = {"insert", "update", "delete", "truncate"};
	strbuf missing = STRBUF_INIT;
	for (int a = 0; a < 4; a++) {
		if (is_true(res, 0, 1 + a))
			continue;
		if (missing.len)
			strbuf_append(&missing, ", ");
		strbuf_append(&missing, actions[a]);
	}
	if (missing.len)
		problem(p, "publication %s does not publish %s: ALTER PUBLICATION %s SET (publish = 'insert, update, "
			   "delete, truncate')", pub, strbuf_str(&missing), pub);
	strbuf_free(&missing);
	if (p->any_partitioned && !is_true(res, 0, 5))
		problem(p, "publication %s publishes partitions under their own names: ALTER PUBLICATION %s SET "
			   "(publish_via_partition_root = true)", pub, pub);
}

/* Selected tables the publication does not cover. A partitioned table published
 * without publish_via_partition_root is listed through its partitions: it counts as
 * published (its root setting is reported on its own). */
static const char pub_missing_sql[] =
	"SELECT " QUOTED("s.nsp", "s.rel")
	" FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]))"
	"      WITH ORDINALITY AS s(nsp, rel, ord)"
	" JOIN pg_catalog.pg_namespace n ON n.nspname = s.nsp"
	" JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.rel"
	" WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables pt"
	"   JOIN pg_catalog.pg_namespace pn ON pn.nspname = pt.schemaname"
	"   JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.oid AND pc.relname = pt.tablename"
	"  WHERE pt.pubname = $3"
	"    AND (pc.oid = c.oid OR pc.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree(c.oid) t)))"
	" ORDER BY s.ord";

/* Row filters and column lists (PostgreSQL 15) leave data out: warnings. */
static const char pub_filters_sql[] =
	"SELECT " QUOTED("pt.schemaname", "pt.tablename") ", pt.rowfilter IS NOT NULL,"
	" coalesce(pg_catalog.cardinality(pt.attnames) < (SELECT count(*) FROM pg_catalog.pg_attribute a"
	"   WHERE a.attrelid = pg_catalog.format('%I.%I', pt.schemaname, pt.tablename)::regclass"
	"     AND a.attnum > 0 AND NOT a.attisdropped), false)"
	" FROM pg_catalog.pg_publication_tables pt"
	" JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS s(nsp, rel)"
	"   ON pt.schemaname = s.nsp AND pt.tablename = s.rel"
	" WHERE pt.pubname = $3";

static void check_pub_tables(prep *p, const char *pub)
{
	const char *params[3] = {p->schemas, p->names, p->src->publication};
	PGresult *res = prep_query(p, "reading the publication's tables", pub_missing_sql, 3, params);
	if (!res)
		return;
	strbuf list = STRBUF_INIT;
	for (int i = 0; i < PQntuples(res); i++) {
		if (i)
			strbuf_append(&list, ", ");
		strbuf_append(&list, PQgetvalue(res, i, 0));
	}
	if (PQntuples(res) > 0)
		problem(p, "publication %s does not publish %s: ALTER PUBLICATION %s ADD TABLE %s", pub, strbuf_str(&list),
			pub, strbuf_str(&list));
	strbuf_free(&list);
	PQclear(res);
	if (p->version < 150000 || !(res = prep_query(p, "reading the publication's filters", pub_filters_sql, 3, params)))
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		if (is_true(res, i, 1))
			warning(p, "publication %s has a row filter on %s: rows outside it are not replicated", pub,
				PQgetvalue(res, i, 0));
		if (is_true(res, i, 2))
			warning(p, "publication %s publishes only some columns of %s: the others are not replicated", pub,
				PQgetvalue(res, i, 0));
	}
	PQclear(res);
}

static void check_publication(prep *p)
{
	const char *sql = p->version >= 130000
		? "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot"
		  " FROM pg_catalog.pg_publication WHERE pubname = $1"
		: "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, false"
		  " FROM pg_catalog.pg_publication WHERE pubname = $1";
	const char *params[1] = {p->src->publication};
	p->check = PG_CHECK_PUBLICATION;
	PGresult *res = prep_query(p, "looking up the publication", sql, 1, params);
	if (!res)
		return;
	p->pub_exists = PQntuples(res) > 0;
	char *pub = ident(p->src->publication);
	if (p->pub_exists)
		note(p, "publication %s exists and publishes every selected table", pub ? pub : "?");
	else
		note(p, "publication %s will be created for the %d tables", pub ? pub : "?", p->src->n_tables);
	if (p->pub_exists && pub) {
		check_pub_actions(p, res, pub);
		check_pub_tables(p, pub);
	}
	free(pub);
	PQclear(res);
}

/* ---- preflight --------------------------------------------------------------------- */

static void prep_free(prep *p)
{
	free(p->user);
	free(p->database);
	free(p->schemas);
	free(p->names);
}

static endpoint_result run_preflight(prep *p)
{
	int free_slots = 0;
	p->schemas = text_array(p->src->schemas, p->src->n_tables);
	p->names = text_array(p->src->names, p->src->n_tables);
	if (!p->schemas || !p->names) {
		problem(p, "out of memory");
		return ENDPOINT_TRANSIENT;
	}
	check_server(p, &free_slots);
	if (!p->transient)
		check_slot(p, free_slots);
	if (!p->transient)
		check_tables(p);
	if (!p->transient)
		check_publication(p);
	if (strbuf_failed(p->problems) || p->transient)
		return ENDPOINT_TRANSIENT;
	return p->problems->len > p->problems_at ? ENDPOINT_FATAL : ENDPOINT_OK;
}

endpoint_result pg_capture_preflight(PGconn *sql, const pg_capture_source *src, int own_walsender_pid,
				     strbuf *problems, strbuf *warnings)
{
	prep p = {.sql = sql, .src = src, .own_pid = own_walsender_pid, .problems = problems, .warnings = warnings,
		  .problems_at = problems->len};
	endpoint_result r = run_preflight(&p);
	prep_free(&p);
	return r;
}

endpoint_result pg_capture_assess(PGconn *sql, const pg_capture_source *src, pg_capture_report_fn report_fn,
				  void *arg)
{
	strbuf problems = STRBUF_INIT;
	prep p = {.sql = sql, .src = src, .problems = &problems, .report = report_fn, .report_arg = arg};
	endpoint_result r = run_preflight(&p);
	prep_free(&p);
	strbuf_free(&problems);
	return r;
}

/* ---- prepare ----------------------------------------------------------------------- */

/* The stream's values are printed by the WAL sender in its session's formats, which
 * pg_value.h parses: the replication connection must have pg_value_session_options(). */
static const struct {
	const char *name;
	const char *want; /* prefix of the value */
} session_settings[] = {
	{"DateStyle", "ISO"}, {"TimeZone", "UTC"}, {"bytea_output", "hex"},
	{"extra_float_digits", "3"}, {"IntervalStyle", "postgres"},
};

static void check_session(prep *p, PGconn *repl)
{
	for (size_t i = 0; i < sizeof session_settings / sizeof session_settings[0]; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "SHOW %s", session_settings[i].name);
		PGresult *res = PQexec(repl, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			p->transient |= PQstatus(repl) == CONNECTION_BAD;
			problem(p, "reading %s on the replication connection failed: %s", session_settings[i].name,
				server_message(repl));
		} else if (strncmp(PQgetvalue(res, 0, 0), session_settings[i].want, strlen(session_settings[i].want))) {
			problem(p, "the replication connection has %s = %s: open it with the options of "
				   "pg_value_session_options()", session_settings[i].name, PQgetvalue(res, 0, 0));
		}
		PQclear(res);
	}
}

static const char *table_filter(const prep *p, int i)
{
	return p->src->filters ? p->src->filters[i] : NULL;
}

static void append_publication_sql(prep *p, strbuf *sql)
{
	strbuf_append(sql, "CREATE PUBLICATION ");
	sql_append_pg_ident(sql, p->src->publication);
	strbuf_append(sql, " FOR TABLE ");
	for (int i = 0; i < p->src->n_tables; i++) {
		if (i)
			strbuf_append(sql, ", ");
		sql_append_pg_qualified(sql, p->src->schemas[i], p->src->names[i]);
		if (table_filter(p, i))
			strbuf_appendf(sql, " WHERE (%s)", table_filter(p, i));
	}
	if (p->version >= 130000)
		strbuf_append(sql, " WITH (publish_via_partition_root = true)");
}

/* A row filter may only use replica-identity columns (unless REPLICA IDENTITY FULL):
 * otherwise, once the table is in the publication, the source refuses every UPDATE and
 * DELETE on it. The server checks that when such a statement starts, so one that
 * changes nothing, inside the publication's own transaction, finds out safely. */
static void probe_filtered_tables(prep *p)
{
	for (int i = 0; i < p->src->n_tables && p->problems->len == p->problems_at; i++) {
		if (!table_filter(p, i))
			continue;
		strbuf sql = STRBUF_INIT;
		strbuf_append(&sql, "DELETE FROM ");
		sql_append_pg_qualified(&sql, p->src->schemas[i], p->src->names[i]);
		strbuf_append(&sql, " WHERE false");
		PGresult *res = PQexec(p->sql, strbuf_str(&sql));
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			p->transient |= PQstatus(p->sql) == CONNECTION_BAD;
			problem(p, "the filter on %s.%s cannot be used for CDC: %s; filter only on key columns, or "
				   "ALTER TABLE ... REPLICA IDENTITY FULL on the source", p->src->schemas[i],
				p->src->names[i], server_message(p->sql));
		}
		PQclear(res);
		strbuf_free(&sql);
	}
}

static void create_publication(prep *p)
{
	bool filtered = false;
	for (int i = 0; i < p->src->n_tables; i++)
		filtered |= table_filter(p, i) != NULL;
	if (filtered && p->version < 150000) {
		problem(p, "row filters on a cdc task need PostgreSQL 15 or later on the source (publication row "
			   "filters): remove the filter, or use migration_type = full-load");
		return;
	}
	strbuf sql = STRBUF_INIT;
	append_publication_sql(p, &sql);
	if (strbuf_failed(&sql)) {
		problem(p, "out of memory");
		strbuf_free(&sql);
		return;
	}
	PQclear(PQexec(p->sql, "BEGIN"));
	PGresult *res = PQexec(p->sql, strbuf_str(&sql));
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		p->transient |= PQstatus(p->sql) == CONNECTION_BAD;
		problem(p, "creating the publication failed: %s; it must be created by the tables' owner or a "
			   "superuser, e.g. %s", server_message(p->sql), strbuf_str(&sql));
	}
	PQclear(res);
	if (p->problems->len == p->problems_at)
		probe_filtered_tables(p);
	res = PQexec(p->sql, p->problems->len == p->problems_at ? "COMMIT" : "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK && p->problems->len == p->problems_at) {
		p->transient |= PQstatus(p->sql) == CONNECTION_BAD;
		problem(p, "creating the publication failed: %s", server_message(p->sql));
	}
	PQclear(res);
	strbuf_free(&sql);
}

static void create_slot(prep *p, PGconn *repl, pg_capture_prepared *out)
{
	char *why = NULL;
	if (pg_repl_create_slot(repl, p->src->slot, true, &out->snapshot, &out->start_lsn, &why) == 0) {
		out->slot_created = true;
		return;
	}
	p->transient |= PQstatus(repl) == CONNECTION_BAD;
	problem(p, "%s", why ? why : "creating the replication slot failed");
	free(why);
}

static char *take_text(strbuf *sb)
{
	while (sb->len > 0 && sb->data[sb->len - 1] == '\n')
		sb->data[--sb->len] = '\0';
	return sb->len ? strbuf_detach(sb) : NULL;
}

endpoint_result pg_capture_prepare(PGconn *sql, PGconn *repl, const pg_capture_source *src,
				   pg_capture_prepared *out, char **err)
{
	strbuf problems = STRBUF_INIT, warnings = STRBUF_INIT;
	memset(out, 0, sizeof *out);
	*err = NULL;
	prep p = {.sql = sql, .src = src, .own_pid = PQbackendPID(repl), .problems = &problems, .warnings = &warnings,
		  .problems_at = 0};
	endpoint_result r = run_preflight(&p);
	if (r == ENDPOINT_OK)
		check_session(&p, repl);
	if (r == ENDPOINT_OK && problems.len == 0 && !p.pub_exists) {
		create_publication(&p);
		out->publication_created = problems.len == 0;
	}
	if (r == ENDPOINT_OK && problems.len == 0) {
		if (p.slot_exists)
			out->start_lsn = p.slot_confirmed;
		else
			create_slot(&p, repl, out);
	}
	if (r == ENDPOINT_OK && problems.len)
		r = p.transient ? ENDPOINT_TRANSIENT : ENDPOINT_FATAL;
	prep_free(&p);
	if (r != ENDPOINT_OK) {
		pg_capture_prepared_free(out);
		*err = take_text(&problems);
		if (!*err)
			*err = strdup("preparing the source failed (out of memory)");
	} else {
		out->warnings = take_text(&warnings);
	}
	strbuf_free(&problems);
	strbuf_free(&warnings);
	return r;
}

void pg_capture_prepared_free(pg_capture_prepared *p)
{
	free(p->snapshot);
	free(p->warnings);
	memset(p, 0, sizeof *p);
}

/* ---- type names -------------------------------------------------------------------- */

static int type_query(PGconn *conn, const char *sql, int n, const char *const *params, PGresult **out, char *err,
		      size_t errlen)
{
	/* Without parameters the simple protocol, which takes several statements. */
	PGresult *res = params ? PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	snprintf(err, errlen, "%s", server_message(conn));
	PQclear(res);
	return -1;
}

int pg_capture_pg_type_names(void *arg, int n, const uint32_t *oids, const int32_t *typmods, char **names,
			     char *err, size_t errlen)
{
	PGconn *conn = arg;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		snprintf(err, errlen, "the catalog connection is busy in a transaction");
		return -1;
	}
	strbuf o = STRBUF_INIT, m = STRBUF_INIT;
	strbuf_append_char(&o, '{');
	strbuf_append_char(&m, '{');
	for (int i = 0; i < n; i++) {
		strbuf_appendf(&o, "%s%" PRIu32, i ? "," : "", oids[i]);
		strbuf_appendf(&m, "%s%" PRId32, i ? "," : "", typmods[i]);
	}
	strbuf_append_char(&o, '}');
	strbuf_append_char(&m, '}');
	const char *params[2] = {strbuf_str(&o), strbuf_str(&m)};
	PGresult *res = NULL;
	/* An empty search_path makes format_type() qualify every non-built-in type. */
	int rc = strbuf_failed(&o) || strbuf_failed(&m) ? -1 : 0;
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	if (rc == 0)
		rc = type_query(conn, "BEGIN READ ONLY; SET LOCAL search_path = ''", 0, NULL, NULL, err, errlen);
	if (rc == 0) {
		rc = type_query(conn,
				"SELECT pg_catalog.format_type(u.o, u.m)"
				" FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]),"
				"                 pg_catalog.unnest($2::pg_catalog.int4[])) WITH ORDINALITY AS u(o, m, k)"
				" ORDER BY u.k",
				2, params, &res, err, errlen);
		PGresult *end = PQexec(conn, rc == 0 ? "COMMIT" : "ROLLBACK");
		PQclear(end);
	}
	for (int i = 0; rc == 0 && i < n; i++)
		if (!(names[i] = strdup(i < PQntuples(res) ? PQgetvalue(res, i, 0) : "")))
			rc = -1, snprintf(err, errlen, "out of memory");
	PQclear(res);
	strbuf_free(&o);
	strbuf_free(&m);
	return rc;
}
