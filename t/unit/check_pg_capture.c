/* Tests of the PostgreSQL capture engine (workers/pg_capture.h).
 *
 * Offline (always run): the converter fed hand-made pgoutput messages: errors for a
 * malformed stream, an unknown relation and a value that does not convert; a streamed
 * transaction whose subtransaction aborts.
 *
 * Live (FERRY_TEST_PGCONNINFO: a conninfo of a wal_level=logical PostgreSQL superuser;
 * the binary exits 77 after the offline tests without it): preflight errors (a role
 * without REPLICATION, a table without key, a missing table, an incomplete
 * publication), publication and slot creation with an exported snapshot and the
 * restart case, the records of a mix of changes over varied types, identifiers and
 * rules, decoded back and compared exactly, and a streamed 100k-row transaction with a
 * rolled-back savepoint passing with flat memory, plus an aborted streamed one. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/rules.h"
#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/pg_capture.h"
#include "workers/pg_repl.h"
#include "workers/pg_value.h"
#include "workers/pgoutput.h"

/* ==== collected output ================================================================ */

typedef struct collected {
	uint8_t **recs;
	size_t *lens;
	size_t n, cap;
	int refuse_after; /* emit fails after this many records; 0 = never */
} collected;

static int collect(void *arg, uint32_t table_id, const void *rec, size_t len)
{
	collected *c = arg;
	record_view v;
	record_error e;
	ck_assert_msg(record_decode(rec, len, &v, &e) == 0, "emitted record does not decode: %s", e.what);
	ck_assert_uint_eq(v.hdr.table_id, table_id);
	if (c->refuse_after && (int)c->n >= c->refuse_after)
		return -1;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->recs = realloc(c->recs, c->cap * sizeof *c->recs);
		c->lens = realloc(c->lens, c->cap * sizeof *c->lens);
	}
	c->recs[c->n] = malloc(len);
	memcpy(c->recs[c->n], rec, len);
	c->lens[c->n++] = len;
	return 0;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->recs[i]);
	free(c->recs);
	free(c->lens);
	memset(c, 0, sizeof *c);
}

static void append_value(strbuf *sb, const record_value *v)
{
	if (v->kind == RECORD_KIND_NULL || v->kind == RECORD_KIND_UNCHANGED) {
		strbuf_append(sb, v->kind == RECORD_KIND_NULL ? "null" : "unchanged");
		return;
	}
	strbuf text = STRBUF_INIT;
	ck_assert_int_eq(pg_value_append_text(&text, v), 0);
	if (text.len > 60)
		strbuf_appendf(sb, "%s:<%zu bytes>", record_kind_name(v->kind), text.len);
	else
		strbuf_appendf(sb, "%s:%s", record_kind_name(v->kind), strbuf_str(&text));
	strbuf_free(&text);
}

static void append_tuple(strbuf *sb, const char *name, const record_tuple *t)
{
	strbuf_appendf(sb, " %s(", name);
	record_iter it;
	record_value v;
	record_iter_init(&it, t);
	for (int i = 0; record_iter_next(&it, &v); i++) {
		if (i)
			strbuf_append(sb, ", ");
		append_value(sb, &v);
	}
	strbuf_append(sb, ")");
}

static void append_relation(strbuf *sb, const record_view *v)
{
	relmsg r;
	const char *what = NULL;
	ck_assert_msg(relmsg_decode(v, &r, &what) == 0, "%s", what);
	strbuf_appendf(sb, "RELATION %u %s.%s -> %s.%s %c", r.table_id, r.source_schema, r.source_name,
		       r.target_schema, r.target_name, r.replident);
	for (int i = 0; i < r.ncols; i++)
		strbuf_appendf(sb, " %s:%s%s", r.cols[i].name, r.cols[i].type_name, r.cols[i].key ? "*" : "");
	relmsg_free(&r);
}

/* One line per record; checks the transaction invariants on the way. */
static char *transcript(const collected *c)
{
	strbuf sb = STRBUF_INIT;
	record_header txn = {0};
	uint64_t last_pos = 0;
	for (size_t i = 0; i < c->n; i++) {
		record_view v;
		record_error e;
		ck_assert_int_eq(record_decode(c->recs[i], c->lens[i], &v, &e), 0);
		if (v.hdr.op == RECORD_OP_BEGIN) {
			ck_assert_msg(v.hdr.position > last_pos, "positions must grow between transactions");
			ck_assert_uint_ne(v.hdr.xid, 0);
			ck_assert_msg(v.hdr.commit_time_us > INT64_C(1577836800000000), "commit time carried");
			txn = v.hdr;
			last_pos = v.hdr.position;
		} else {
			ck_assert_msg(v.hdr.position == txn.position && v.hdr.xid == txn.xid &&
					      v.hdr.commit_time_us == txn.commit_time_us,
				      "record %zu: every record of a transaction has its position, xid and time", i);
		}
		switch (v.hdr.op) {
		case RECORD_OP_BEGIN: strbuf_append(&sb, "BEGIN"); break;
		case RECORD_OP_COMMIT: strbuf_append(&sb, "COMMIT"); break;
		case RECORD_OP_RELATION: append_relation(&sb, &v); break;
		default:
			for (const char *o = record_op_name(v.hdr.op); *o; o++)
				strbuf_append_char(&sb, (char)toupper((unsigned char)*o));
			strbuf_appendf(&sb, " %u", v.hdr.table_id);
			if (v.hdr.old_image)
				append_tuple(&sb, v.hdr.old_image == RECORD_IMAGE_KEY ? "key" : "old", &v.old_tuple);
			if (v.hdr.has_new)
				append_tuple(&sb, "new", &v.new_tuple);
		}
		strbuf_append_char(&sb, '\n');
	}
	return strbuf_detach(&sb);
}

/* ==== mapping: the task's rules ======================================================== */

typedef struct task_rules {
	task_config task;
	rules *rules;
	const char *const *ids; /* source "schema.name" by table id - 1 */
	int n_ids;
} task_rules;

static void list_add(string_list *l, const char *value)
{
	l->items = realloc(l->items, sizeof(char *) * (size_t)(l->count + 1));
	l->items[l->count++] = strdup(value);
}

static void list_clear(string_list *l)
{
	for (int i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

static void rules_setup(task_rules *tr)
{
	config_diag diag = {0};
	tr->task.name = "cap";
	tr->rules = rules_compile(&tr->task, NULL, &diag);
	ck_assert_msg(tr->rules != NULL, "rules: %s", diag.errors.count ? diag.errors.items[0] : "?");
	config_diag_free(&diag);
}

static void rules_teardown(task_rules *tr)
{
	rules_free(tr->rules);
	list_clear(&tr->task.include);
	list_clear(&tr->task.exclude);
	list_clear(&tr->task.rename_table);
	list_clear(&tr->task.exclude_column);
}

static int lookup(void *arg, const pg_capture_source_rel *rel, pg_capture_mapping *out, char *err, size_t errlen)
{
	task_rules *tr = arg;
	rules_source_table src = {.schema = rel->schema, .name = rel->name, .columns = rel->columns,
				  .is_key = rel->is_key, .n_columns = rel->ncols};
	config_diag diag = {0};
	int r = rules_resolve_table(tr->rules, &src, &out->table, &diag);
	if (r < 0)
		snprintf(err, errlen, "%s", diag.errors.count ? diag.errors.items[0] : "rules failed");
	config_diag_free(&diag);
	if (r != 1)
		return r;
	char full[256];
	snprintf(full, sizeof full, "%s.%s", rel->schema, rel->name);
	for (int i = 0; i < tr->n_ids; i++)
		if (strcmp(tr->ids[i], full) == 0)
			out->table_id = (uint32_t)i + 1;
	if (out->table_id == 0) /* not a table of the task (a partition of one, say) */
		rules_table_free(&out->table);
	return out->table_id ? 1 : 0;
}

/* ==== offline: hand-made messages ====================================================== */

static int fake_type_names(void *arg, int n, const uint32_t *oids, const int32_t *typmods, char **names, char *err,
			   size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char buf[32];
		snprintf(buf, sizeof buf, "type%u", oids[i]);
		names[i] = strdup(buf);
	}
	return 0;
}

static int select_all(void *arg, const pg_capture_source_rel *rel, pg_capture_mapping *out, char *err, size_t errlen)
{
	out->table_id = 7;
	out->table.source_schema = strdup(rel->schema);
	out->table.source_name = strdup(rel->name);
	out->table.target_schema = strdup("tgt");
	out->table.target_name = strdup(rel->name);
	out->table.n_columns = rel->ncols;
	out->table.target_columns = calloc((size_t)rel->ncols, sizeof(char *));
	for (int i = 0; i < rel->ncols; i++)
		out->table.target_columns[i] = strdup(rel->columns[i]);
	return 1;
}

static char spool_dir[256];

/* One directory per test (kept when a test makes several converters). */
static void make_spool_dir(void)
{
	if (spool_dir[0])
		return;
	const char *tmp = getenv("TMPDIR");
	snprintf(spool_dir, sizeof spool_dir, "%s/check_pg_capture.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(spool_dir));
}

static int spool_files(void)
{
	DIR *d = opendir(spool_dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void remove_spool_dir(void)
{
	DIR *d = opendir(spool_dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(spool_dir);
	spool_dir[0] = '\0';
}

static pg_capture *offline_capture(collected *out)
{
	make_spool_dir();
	pg_capture_options o = {.emit = collect, .emit_arg = out, .lookup = select_all, .type_names = fake_type_names,
				.spool_dir = spool_dir, .spool_codec = CODEC_LZ4};
	char err[256];
	pg_capture *c = pg_capture_new(&o, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static pgo_relcol two_cols[] = {{true, "id", PG_OID_INT4, -1}, {false, "v", PG_OID_TEXT, -1}};

static pgo_message relation_msg(uint32_t oid, bool in_stream, uint32_t xid)
{
	pgo_message m = {.type = PGO_RELATION, .in_stream = in_stream, .xid = xid};
	m.relation.oid = oid;
	m.relation.nspname = "s";
	m.relation.relname = "t";
	m.relation.replident = 'd';
	m.relation.ncols = 2;
	m.relation.cols = two_cols;
	return m;
}

static pgo_column cols_buf[2];

static pgo_message insert_msg(uint32_t relid, const char *id, bool in_stream, uint32_t xid)
{
	cols_buf[0] = (pgo_column){PGO_COL_TEXT, id, (uint32_t)strlen(id)};
	cols_buf[1] = (pgo_column){PGO_COL_NULL, NULL, 0};
	pgo_message m = {.type = PGO_INSERT, .in_stream = in_stream, .xid = xid};
	m.insert.relid = relid;
	m.insert.newtup = (pgo_tuple){2, cols_buf};
	return m;
}

static pgo_message begin_msg(uint64_t lsn, uint32_t xid)
{
	pgo_message m = {.type = PGO_BEGIN};
	m.begin.final_lsn = lsn;
	m.begin.xid = xid;
	m.begin.commit_time_us = INT64_C(1700000000000000);
	return m;
}

START_TEST(offline_errors)
{
	collected out = {0};
	pg_capture *c = offline_capture(&out);
	pgo_message m = insert_msg(500, "1", false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), -1);
	ck_assert_msg(strstr(pg_capture_error(c), "outside any transaction"), "%s", pg_capture_error(c));
	pg_capture_free(c);

	c = offline_capture(&out);
	m = begin_msg(0x1000, 42);
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = insert_msg(500, "1", false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), -1);
	ck_assert_msg(strstr(pg_capture_error(c), "relation oid 500, which no Relation message described"), "%s",
		      pg_capture_error(c));
	pg_capture_free(c);

	c = offline_capture(&out);
	m = begin_msg(0x1000, 42);
	pg_capture_convert(c, &m);
	m = relation_msg(500, false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = insert_msg(500, "12x", false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), -1);
	ck_assert_msg(strstr(pg_capture_error(c), "table \"s\".\"t\" column \"id\" (type23): cannot read \"12x\""),
		      "%s", pg_capture_error(c));
	pg_capture_free(c);

	/* A malformed wire message is an error naming its position. */
	c = offline_capture(&out);
	pg_repl_event ev = {.kind = PG_REPL_DATA, .wal_start = 0x2A0, .data = "Bxx", .len = 3};
	ck_assert_int_eq(pg_capture_feed(c, &ev), -1);
	ck_assert_msg(strstr(pg_capture_error(c), "(message at 0/2A0)"), "%s", pg_capture_error(c));
	pg_capture_free(c);
	ck_assert_uint_eq(out.n, 0);
	remove_spool_dir();
}
END_TEST

START_TEST(offline_refused_emit)
{
	collected out = {.refuse_after = 1};
	pg_capture *c = offline_capture(&out);
	pgo_message m = begin_msg(0x1000, 42);
	pg_capture_convert(c, &m);
	m = relation_msg(500, false, 0);
	pg_capture_convert(c, &m);
	m = insert_msg(500, "1", false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), -1); /* BEGIN taken, RELATION refused */
	ck_assert_msg(strstr(pg_capture_error(c), "refused"), "%s", pg_capture_error(c));
	pg_capture_free(c);
	collected_free(&out);
	remove_spool_dir();
}
END_TEST

/* Stream of top xid 100 with subtransactions 101 (aborted) and 102 (kept), interleaved
 * with a plain transaction: the plain one comes out first, the streamed one at its
 * commit, with its commit position, without 101's rows. */
START_TEST(offline_streamed_subxact_abort)
{
	collected out = {0};
	pg_capture *c = offline_capture(&out);
	pgo_message m = {.type = PGO_STREAM_START};
	m.stream_start.xid = 100;
	m.stream_start.first_segment = true;
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = relation_msg(500, true, 100);
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	const char *ids[] = {"1", "2", "3"};
	uint32_t xids[] = {100, 101, 102};
	for (int i = 0; i < 3; i++) {
		m = insert_msg(500, ids[i], true, xids[i]);
		ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	}
	m = (pgo_message){.type = PGO_STREAM_STOP};
	pg_capture_convert(c, &m);
	ck_assert_int_eq(spool_files(), 0); /* still in the writer's block buffer */
	ck_assert_uint_eq(out.n, 0);

	m = begin_msg(0x2000, 99);
	pg_capture_convert(c, &m);
	m = relation_msg(500, false, 0); /* plain transactions get their own */
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = insert_msg(500, "50", false, 0);
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = (pgo_message){.type = PGO_COMMIT};
	m.commit.commit_lsn = 0x2000;
	m.commit.end_lsn = 0x2010;
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);

	m = (pgo_message){.type = PGO_STREAM_ABORT};
	m.stream_abort.xid = 100;
	m.stream_abort.subxid = 101;
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	m = (pgo_message){.type = PGO_STREAM_COMMIT};
	m.stream_commit.xid = 100;
	m.stream_commit.commit_lsn = 0x3000;
	m.stream_commit.end_lsn = 0x3010;
	m.stream_commit.commit_time_us = INT64_C(1700000000000000);
	ck_assert_int_eq(pg_capture_convert(c, &m), 0);
	char *t = transcript(&out);
	/* The streamed transaction's own description equals the one the output carries. */
	ck_assert_str_eq(t, "BEGIN\n"
			    "RELATION 7 s.t -> tgt.t d id:type23* v:type25\n"
			    "INSERT 7 new(int64:50, null)\n"
			    "COMMIT\n"
			    "BEGIN\n"
			    "INSERT 7 new(int64:1, null)\n"
			    "INSERT 7 new(int64:3, null)\n"
			    "COMMIT\n");
	record_view v;
	record_error e;
	record_decode(out.recs[5], out.lens[5], &v, &e);
	ck_assert_uint_eq(v.hdr.position, 0x3000);
	ck_assert_uint_eq(v.hdr.xid, 100);
	ck_assert_uint_eq(pg_capture_flush_lsn(c, 0x2000), 0x2001); /* the streamed one not yet applied */
	ck_assert_uint_eq(pg_capture_flush_lsn(c, 0x3000), 0x3010);
	ck_assert_int_eq(spool_files(), 0);
	free(t);
	pg_capture_free(c);
	collected_free(&out);
	remove_spool_dir();
}
END_TEST

static void convert_ok(pg_capture *c, pgo_message m)
{
	ck_assert_msg(pg_capture_convert(c, &m) == 0, "%s", pg_capture_error(c));
}

/* A streamed transaction adds a column; a plain one commits in between with the old
 * shape (and its own description); the streamed one's second block relies on its own
 * description; after its commit the server counts that description as sent for plain
 * transactions too, so a plain change comes without one. */
START_TEST(offline_streamed_schema_interleaved)
{
	collected out = {0};
	pg_capture *c = offline_capture(&out);
	static pgo_relcol three_cols[] = {{true, "id", PG_OID_INT4, -1}, {false, "v", PG_OID_TEXT, -1},
					  {false, "w", PG_OID_INT8, -1}};
	pgo_message start = {.type = PGO_STREAM_START}, stop = {.type = PGO_STREAM_STOP};
	start.stream_start.xid = 100;
	start.stream_start.first_segment = true;
	convert_ok(c, start);
	pgo_message r3 = relation_msg(500, true, 100);
	r3.relation.ncols = 3;
	r3.relation.cols = three_cols;
	convert_ok(c, r3);
	pgo_column cols3[3] = {{PGO_COL_TEXT, "1", 1}, {PGO_COL_TEXT, "one", 3}, {PGO_COL_TEXT, "10", 2}};
	pgo_message i3 = {.type = PGO_INSERT, .in_stream = true, .xid = 100};
	i3.insert.relid = 500;
	i3.insert.newtup = (pgo_tuple){3, cols3};
	convert_ok(c, i3);
	convert_ok(c, stop);

	convert_ok(c, begin_msg(0x2000, 99));
	convert_ok(c, relation_msg(500, false, 0));
	convert_ok(c, insert_msg(500, "2", false, 0));
	pgo_message commit = {.type = PGO_COMMIT};
	commit.commit.commit_lsn = 0x2000;
	convert_ok(c, commit);

	start.stream_start.first_segment = false;
	convert_ok(c, start);
	cols3[0] = (pgo_column){PGO_COL_TEXT, "3", 1};
	convert_ok(c, i3); /* no Relation message: the transaction's own one still holds */
	convert_ok(c, stop);
	pgo_message sc = {.type = PGO_STREAM_COMMIT};
	sc.stream_commit.xid = 100;
	sc.stream_commit.commit_lsn = 0x3000;
	sc.stream_commit.commit_time_us = INT64_C(1700000000000000);
	convert_ok(c, sc);

	convert_ok(c, begin_msg(0x4000, 101));
	cols3[0] = (pgo_column){PGO_COL_TEXT, "4", 1};
	i3.in_stream = false;
	i3.xid = 0;
	convert_ok(c, i3);
	commit.commit.commit_lsn = 0x4000;
	convert_ok(c, commit);
	char *t = transcript(&out);
	ck_assert_str_eq(t, "BEGIN\nRELATION 7 s.t -> tgt.t d id:type23* v:type25\nINSERT 7 new(int64:2, null)\nCOMMIT\n"
			    "BEGIN\nRELATION 7 s.t -> tgt.t d id:type23* v:type25 w:type20\n"
			    "INSERT 7 new(int64:1, text:one, int64:10)\nINSERT 7 new(int64:3, text:one, int64:10)\nCOMMIT\n"
			    "BEGIN\nINSERT 7 new(int64:4, text:one, int64:10)\nCOMMIT\n");
	free(t);
	pg_capture_free(c);
	collected_free(&out);
	remove_spool_dir();
}
END_TEST

/* ==== live ============================================================================ */

static const char *conninfo;

static PGconn *connect_with(const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "%s %s", conninfo, extra);
	PGconn *c = PQconnectdb(buf);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

static PGconn *connect_repl(const char *extra)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "replication=database options='%s' %s", pg_value_session_options(), extra);
	return connect_with(buf);
}

static void exec_ok(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
		      PQerrorMessage(c));
	PQclear(r);
}

static char *scalar(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", q, PQerrorMessage(c));
	char *v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* The schema's name has a space, quotes, a capital and a non-ASCII letter. */
#define SCHEMA "Sch \"Ü\" x"
#define QSCHEMA "\"Sch \"\"Ü\"\" x\""
#define MIXED "Mixed Tÿpes"
#define QMIXED QSCHEMA ".\"Mixed Tÿpes\""

static void drop_slots(PGconn *sql)
{
	/* A slot stays active until its WAL sender has noticed its client is gone. */
	for (int i = 0; i < 100; i++) {
		char *n = scalar(sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cap\\_%' AND active");
		bool busy = strcmp(n, "0") != 0;
		free(n);
		if (!busy)
			break;
		usleep(50000);
	}
	exec_ok(sql, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'cap\\_%'");
}

static void clean_source(PGconn *sql)
{
	drop_slots(sql);
	exec_ok(sql, "SET client_min_messages = warning;"
		     "DROP PUBLICATION IF EXISTS cap_pub; DROP PUBLICATION IF EXISTS cap_pub_partial;"
		     "DROP PUBLICATION IF EXISTS cap_pub_big; DROP SCHEMA IF EXISTS " QSCHEMA " CASCADE;"
		     "DROP ROLE IF EXISTS cap_norepl"); /* its grants went with the schema */
}

static PGconn *sql;

static void live_setup(void)
{
	sql = connect_with("");
	clean_source(sql);
	exec_ok(sql, "CREATE ROLE cap_norepl LOGIN");
	exec_ok(sql, "CREATE SCHEMA " QSCHEMA ";"
		     "CREATE TYPE " QSCHEMA ".mood AS ENUM ('happy', 'sad');"
		     "CREATE TABLE " QMIXED " (id int PRIMARY KEY, \"Label With Space\" text, arr int[], tags text[],"
		     " doc jsonb, raw bytea, amount numeric(12,3), at timestamptz, uid uuid, mood " QSCHEMA ".mood,"
		     " big text, nul text, secret text, g int GENERATED ALWAYS AS (id * 2) STORED);"
		     "ALTER TABLE " QMIXED " ALTER big SET STORAGE EXTERNAL;"
		     "CREATE TABLE " QSCHEMA ".full_t (a int, b text);"
		     "ALTER TABLE " QSCHEMA ".full_t REPLICA IDENTITY FULL;"
		     "CREATE TABLE " QSCHEMA ".parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
		     "CREATE TABLE " QSCHEMA ".parted_1 PARTITION OF " QSCHEMA ".parted FOR VALUES FROM (0) TO (100);"
		     "CREATE TABLE " QSCHEMA ".parted_2 PARTITION OF " QSCHEMA ".parted FOR VALUES FROM (100) TO (200);"
		     "CREATE TABLE " QSCHEMA ".skipped (id int PRIMARY KEY);"
		     "CREATE TABLE " QSCHEMA ".nokey (a int, b text);"
		     "CREATE TABLE " QSCHEMA ".big_t (id int PRIMARY KEY, pad text);"
		     "INSERT INTO " QMIXED " (id) VALUES (100), (101)");
}

static void live_teardown(void)
{
	clean_source(sql);
	PQfinish(sql);
}

static const char *const main_schemas[] = {SCHEMA, SCHEMA, SCHEMA};
static const char *const main_names[] = {MIXED, "full_t", "parted"};
static const pg_capture_source main_source = {.schemas = main_schemas, .names = main_names, .n_tables = 3, .publication = "cap_pub", .slot = "cap_slot"};

START_TEST(preflight_reports_what_to_change)
{
	/* A role without REPLICATION and without SELECT, a table without key, one missing. */
	exec_ok(sql, "GRANT USAGE ON SCHEMA " QSCHEMA " TO cap_norepl;"
		     "GRANT SELECT ON " QSCHEMA ".nokey TO cap_norepl");
	PGconn *weak = connect_with("user=cap_norepl");
	const char *const schemas[] = {SCHEMA, SCHEMA, SCHEMA};
	const char *const names[] = {MIXED, "nokey", "absent"};
	pg_capture_source src = {.schemas = schemas, .names = names, .n_tables = 3, .publication = "cap_pub", .slot = "cap_slot"};
	strbuf problems = STRBUF_INIT, warnings = STRBUF_INIT;
	ck_assert_int_eq(pg_capture_preflight(weak, &src, 0, &problems, &warnings), ENDPOINT_FATAL);
	const char *p = strbuf_str(&problems);
	printf("preflight problems:\n%s", p);
	ck_assert_msg(strstr(p, "user \"cap_norepl\" lacks the REPLICATION privilege: ALTER ROLE \"cap_norepl\" "
				"REPLICATION"),
		      "%s", p);
	ck_assert_msg(strstr(p, "user \"cap_norepl\" may not read table " QMIXED ": GRANT SELECT ON " QMIXED), "%s", p);
	ck_assert_msg(strstr(p, "table " QSCHEMA ".\"nokey\" has no primary key and no replica identity (" QSCHEMA
				".\"nokey\"): UPDATE and DELETE on it would fail"),
		      "%s", p);
	ck_assert_msg(strstr(p, "table " QSCHEMA ".\"absent\" does not exist"), "%s", p);
	ck_assert_msg(!strstr(p, "wal_level"), "%s", p);
	PQfinish(weak);

	/* A publication that misses a table and truncate; a partitioned table without
	 * publish_via_partition_root. */
	exec_ok(sql, "CREATE PUBLICATION cap_pub_partial FOR TABLE " QSCHEMA ".full_t, " QSCHEMA ".parted"
		     " WITH (publish = 'insert, update, delete')");
	pg_capture_source partial = main_source;
	partial.publication = "cap_pub_partial";
	strbuf_reset(&problems);
	ck_assert_int_eq(pg_capture_preflight(sql, &partial, 0, &problems, &warnings), ENDPOINT_FATAL);
	p = strbuf_str(&problems);
	printf("%s", p);
#define PUB "\"cap_pub_partial\""
	ck_assert_str_eq(p, "publication " PUB " does not publish truncate: ALTER PUBLICATION " PUB
			    " SET (publish = 'insert, update, delete, truncate')\n"
			    "publication " PUB " publishes partitions under their own names: ALTER PUBLICATION " PUB
			    " SET (publish_via_partition_root = true)\n"
			    "publication " PUB " does not publish " QMIXED ": ALTER PUBLICATION " PUB " ADD TABLE "
			    QMIXED "\n");

	/* A row filter is only a warning. */
	exec_ok(sql, "ALTER PUBLICATION cap_pub_partial SET (publish = 'insert, update, delete, truncate',"
		     " publish_via_partition_root = true);"
		     "ALTER PUBLICATION cap_pub_partial ADD TABLE " QMIXED " WHERE (id > 0)");
	strbuf_reset(&problems);
	strbuf_reset(&warnings);
	ck_assert_int_eq(pg_capture_preflight(sql, &partial, 0, &problems, &warnings), ENDPOINT_OK);
	ck_assert_str_eq(strbuf_str(&warnings), "publication " PUB " has a row filter on " QMIXED
						": rows outside it are not replicated\n");
	strbuf_free(&problems);
	strbuf_free(&warnings);
}
END_TEST

START_TEST(prepare_creates_then_reuses)
{
	PGconn *repl = connect_repl("");
	pg_capture_prepared prep;
	char *err = NULL;
	ck_assert_msg(pg_capture_prepare(sql, repl, &main_source, &prep, &err) == ENDPOINT_OK, "%s", err);
	ck_assert(prep.publication_created && prep.slot_created);
	ck_assert_ptr_nonnull(prep.snapshot);
	ck_assert_uint_gt(prep.start_lsn, 0);
	char *via = scalar(sql, "SELECT pubviaroot::text || ' ' || (SELECT count(*) FROM pg_publication_tables"
				" WHERE pubname = 'cap_pub') FROM pg_publication WHERE pubname = 'cap_pub'");
	ck_assert_str_eq(via, "true 3");
	free(via);

	/* The snapshot shows the data as of the slot's creation. */
	exec_ok(sql, "INSERT INTO " QMIXED " (id) VALUES (102)");
	PGconn *loader = connect_with("");
	exec_ok(loader, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	char set[128];
	snprintf(set, sizeof set, "SET TRANSACTION SNAPSHOT '%s'", prep.snapshot);
	exec_ok(loader, set);
	char *n = scalar(loader, "SELECT count(*) FROM " QMIXED);
	ck_assert_str_eq(n, "2");
	free(n);
	PQfinish(loader);
	uint64_t created_at = prep.start_lsn;
	pg_capture_prepared_free(&prep);
	PQfinish(repl);

	/* Restart: the slot exists, so no snapshot and its confirmed position. */
	repl = connect_repl("");
	ck_assert_msg(pg_capture_prepare(sql, repl, &main_source, &prep, &err) == ENDPOINT_OK, "%s", err);
	ck_assert(!prep.publication_created && !prep.slot_created);
	ck_assert_ptr_null(prep.snapshot);
	ck_assert_uint_eq(prep.start_lsn, created_at);
	pg_capture_prepared_free(&prep);

	/* A session without the value formats is refused before any slot is made. */
	PQfinish(repl);
	repl = connect_with("replication=database options='-c DateStyle=German'");
	pg_capture_source other = main_source;
	other.slot = "cap_slot_other";
	ck_assert_int_eq(pg_capture_prepare(sql, repl, &other, &prep, &err), ENDPOINT_FATAL);
	ck_assert_msg(strstr(err, "the replication connection has DateStyle = German"), "%s", err);
	free(err);
	PQfinish(repl);
}
END_TEST

/* ---- the stream ---------------------------------------------------------------------- */

typedef struct live_capture {
	task_rules tr;
	collected out;
	pg_capture *cap;
	PGconn *repl;
	pg_repl_stream stream;
	pgo_decoder dec;
} live_capture;

/* Prepares the source and a converter; its records go to emit, or into lc->out. */
static void live_start(live_capture *lc, const pg_capture_source *src, const char *const *ids, int n_ids,
		       bool small_work_mem, pg_capture_emit_fn emit, void *emit_arg)
{
	memset(lc, 0, sizeof *lc);
	list_add(&lc->tr.task.include, "\"Sch \"\"Ü\"\" x\".*");
	list_add(&lc->tr.task.exclude, "\"Sch \"\"Ü\"\" x\".skipped");
	list_add(&lc->tr.task.rename_table, "\"Sch \"\"Ü\"\" x\".\"Mixed Tÿpes\":public.mixed");
	list_add(&lc->tr.task.exclude_column, "\"Sch \"\"Ü\"\" x\".\"Mixed Tÿpes\".secret");
	rules_setup(&lc->tr);
	lc->tr.ids = ids;
	lc->tr.n_ids = n_ids;
	lc->repl = connect_repl("");
	pg_capture_prepared prep;
	char *err = NULL;
	ck_assert_msg(pg_capture_prepare(sql, lc->repl, src, &prep, &err) == ENDPOINT_OK, "%s", err);
	make_spool_dir();
	pg_capture_options o = {.emit = emit ? emit : collect, .emit_arg = emit ? emit_arg : &lc->out,
				.lookup = lookup, .lookup_arg = &lc->tr,
				.type_names = pg_capture_pg_type_names, .type_names_arg = sql, .spool_dir = spool_dir,
				.spool_codec = CODEC_ZSTD, .start_lsn = prep.start_lsn};
	char why[256];
	lc->cap = pg_capture_new(&o, why, sizeof why);
	ck_assert_msg(lc->cap != NULL, "%s", why);
	pg_capture_prepared_free(&prep);
	if (small_work_mem)
		exec_ok(lc->repl, "SET logical_decoding_work_mem = '64kB'");
	pgo_decoder_init(&lc->dec);
}

static void live_stream(live_capture *lc, const char *publication, const char *slot)
{
	pg_repl_options ro = {.slot = slot, .publication = publication, .proto_version = 2, .streaming = true,
			      .messages = true};
	char *err = NULL;
	ck_assert_msg(pg_repl_start(lc->repl, &ro, &err) == 0, "%s", err);
	pg_repl_stream_init(&lc->stream, lc->repl);
}

static void live_stop(live_capture *lc)
{
	pg_repl_stream_free(&lc->stream);
	pg_capture_free(lc->cap);
	PQfinish(lc->repl);
	pgo_decoder_free(&lc->dec);
	collected_free(&lc->out);
	rules_teardown(&lc->tr);
	remove_spool_dir();
}

/* Reads one event and feeds it; the decoded message (for DATA) is left in *m. */
static int live_step(live_capture *lc, pgo_message *m, int timeout_ms)
{
	pg_repl_event ev;
	char *err = NULL;
	int kind = pg_repl_read(&lc->stream, &ev, timeout_ms, &err);
	if (kind != PG_REPL_DATA && kind != PG_REPL_KEEPALIVE && kind != PG_REPL_TIMEOUT)
		ck_abort_msg("stream: %s", err ? err : "?");
	free(err);
	if (kind == PG_REPL_TIMEOUT)
		return kind;
	char why[256];
	if (kind == PG_REPL_DATA && pgo_decode(&lc->dec, ev.data, (size_t)ev.len, m, why, sizeof why) != 0)
		ck_abort_msg("%s", why);
	int r = pg_capture_feed(lc->cap, &ev);
	if (r < 0)
		ck_abort_msg("capture: %s", pg_capture_error(lc->cap));
	if (r == 1 && pg_capture_send_status(lc->cap, &lc->stream, pg_capture_flush_lsn(lc->cap, 0), false, why,
					     sizeof why) != 0)
		ck_abort_msg("%s", why);
	return kind;
}

static void read_transactions(live_capture *lc, uint64_t want)
{
	pg_capture_stats st;
	for (int idle = 0; idle < 100; idle++) {
		pg_capture_get_stats(lc->cap, &st);
		if (st.transactions_emitted >= want)
			return;
		pgo_message m;
		if (live_step(lc, &m, 100) != PG_REPL_TIMEOUT)
			idle = 0;
	}
	ck_abort_msg("only %" PRIu64 " of %" PRIu64 " transactions arrived", st.transactions_emitted, want);
}

static char *big_text(size_t n)
{
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7 + i / 26) % 26);
	s[n] = '\0';
	return s;
}

static void run_workload(void)
{
	char *big = big_text(9000);
	const char *params[1] = {big};
	PGresult *r = PQexecParams(sql,
				   "INSERT INTO " QMIXED " (id, \"Label With Space\", arr, tags, doc, raw, amount, at, uid,"
				   " mood, big, nul, secret) VALUES (1, 'hello', '{1,2,NULL}', ARRAY['a b', 'c\"d'],"
				   " '{\"k\": [1, 2.5, null], \"s\": \"é\"}', '\\xdeadbeef00', 12345.678,"
				   " '2024-02-29 23:59:59.123456+05:30', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'sad', $1,"
				   " NULL, 's1')",
				   1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(sql));
	PQclear(r);
	free(big);
	exec_ok(sql, "INSERT INTO " QMIXED " (id) VALUES (2)");
	exec_ok(sql, "UPDATE " QMIXED " SET \"Label With Space\" = 'changed' WHERE id = 1"); /* big: unchanged */
	exec_ok(sql, "UPDATE " QMIXED " SET id = 3 WHERE id = 2");
	exec_ok(sql, "DELETE FROM " QMIXED " WHERE id = 3");
	exec_ok(sql, "INSERT INTO " QSCHEMA ".full_t VALUES (1, 'a'), (2, 'b')");
	exec_ok(sql, "UPDATE " QSCHEMA ".full_t SET b = 'bb' WHERE a = 2");
	exec_ok(sql, "DELETE FROM " QSCHEMA ".full_t WHERE a = 1");
	exec_ok(sql, "INSERT INTO " QSCHEMA ".parted VALUES (5, 'five'), (150, 'x')");
	exec_ok(sql, "UPDATE " QSCHEMA ".parted SET id = 120 WHERE id = 5"); /* moves to the other partition */
	exec_ok(sql, "INSERT INTO " QSCHEMA ".skipped VALUES (1)");     /* nothing selected: nothing emitted */
	exec_ok(sql, "BEGIN; INSERT INTO " QSCHEMA ".skipped VALUES (2); INSERT INTO " QSCHEMA ".full_t VALUES (3, 'c');"
		     " COMMIT");
	exec_ok(sql, "TRUNCATE " QSCHEMA ".full_t, " QSCHEMA ".parted");
	exec_ok(sql, "ALTER TABLE " QSCHEMA ".full_t ADD COLUMN c int");
	exec_ok(sql, "INSERT INTO " QSCHEMA ".full_t VALUES (4, 'd', 7)");
}

static const char *const main_ids[] = {SCHEMA "." MIXED, SCHEMA ".full_t", SCHEMA ".parted", SCHEMA ".skipped"};

#define MIXED_REL                                                                                                 \
	"RELATION 1 " SCHEMA "." MIXED " -> public.mixed d id:integer* Label With Space:text arr:integer[] "      \
	"tags:text[] doc:jsonb raw:bytea amount:numeric(12,3) at:timestamp with time zone uid:uuid "              \
	"mood:" QSCHEMA ".mood big:text nul:text\n"
#define FULL_REL "RELATION 2 " SCHEMA ".full_t -> " SCHEMA ".full_t f a:integer b:text\n"

static const char expected_main[] =
	"BEGIN\n" MIXED_REL
	"INSERT 1 new(int64:1, text:hello, textrep:{1,2,NULL}, textrep:{\"a b\",\"c\\\"d\"}, "
	"json:{\"k\": [1, 2.5, null], \"s\": \"é\"}, bytes:\\xdeadbeef00, decimal:12345.678, "
	"timestamptz:2024-02-29 18:29:59.123456+00, uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11, textrep:sad, "
	"text:<9000 bytes>, null)\n"
	"COMMIT\n"
	"BEGIN\nINSERT 1 new(int64:2, null, null, null, null, null, null, null, null, null, null, null)\nCOMMIT\n"
	"BEGIN\nUPDATE 1 new(int64:1, text:changed, textrep:{1,2,NULL}, textrep:{\"a b\",\"c\\\"d\"}, "
	"json:{\"k\": [1, 2.5, null], \"s\": \"é\"}, bytes:\\xdeadbeef00, decimal:12345.678, "
	"timestamptz:2024-02-29 18:29:59.123456+00, uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11, textrep:sad, "
	"unchanged, null)\nCOMMIT\n"
	"BEGIN\nUPDATE 1 key(int64:2, null, null, null, null, null, null, null, null, null, null, null) "
	"new(int64:3, null, null, null, null, null, null, null, null, null, null, null)\nCOMMIT\n"
	"BEGIN\nDELETE 1 key(int64:3, null, null, null, null, null, null, null, null, null, null, null)\nCOMMIT\n"
	"BEGIN\n" FULL_REL "INSERT 2 new(int64:1, text:a)\nINSERT 2 new(int64:2, text:b)\nCOMMIT\n"
	"BEGIN\nUPDATE 2 old(int64:2, text:b) new(int64:2, text:bb)\nCOMMIT\n"
	"BEGIN\nDELETE 2 old(int64:1, text:a)\nCOMMIT\n"
	"BEGIN\nRELATION 3 " SCHEMA ".parted -> " SCHEMA ".parted d id:integer* v:text\n"
	"INSERT 3 new(int64:5, text:five)\nINSERT 3 new(int64:150, text:x)\nCOMMIT\n"
	"BEGIN\nDELETE 3 key(int64:5, null)\nINSERT 3 new(int64:120, text:five)\nCOMMIT\n"
	"BEGIN\nINSERT 2 new(int64:3, text:c)\nCOMMIT\n"
	"BEGIN\nTRUNCATE 2\nTRUNCATE 3\nCOMMIT\n"
	"BEGIN\nRELATION 2 " SCHEMA ".full_t -> " SCHEMA ".full_t f a:integer b:text c:integer\n"
	"INSERT 2 new(int64:4, text:d, int64:7)\nCOMMIT\n";

START_TEST(stream_to_records)
{
	live_capture lc;
	live_start(&lc, &main_source, main_ids, 4, false, NULL, NULL);
	/* A wider publication than the selection: the excluded table's changes arrive too. */
	exec_ok(sql, "ALTER PUBLICATION cap_pub ADD TABLE " QSCHEMA ".skipped");
	run_workload();
	live_stream(&lc, "cap_pub", "cap_slot");
	read_transactions(&lc, 13);
	char *t = transcript(&lc.out);
	if (strcmp(t, expected_main) != 0)
		printf("got:\n%s", t);
	ck_assert_str_eq(t, expected_main);
	free(t);

	/* The TOASTed text arrived whole. */
	record_view v;
	record_error e;
	ck_assert_int_eq(record_decode(lc.out.recs[2], lc.out.lens[2], &v, &e), 0);
	record_iter it;
	record_value val;
	record_iter_init(&it, &v.new_tuple);
	for (int i = 0; i < 11; i++)
		ck_assert(record_iter_next(&it, &val));
	char *big = big_text(9000);
	ck_assert_int_eq(val.kind, RECORD_KIND_TEXT);
	ck_assert_uint_eq(val.str.len, 9000);
	ck_assert(memcmp(val.str.ptr, big, 9000) == 0);
	free(big);

	pg_capture_stats st;
	pg_capture_get_stats(lc.cap, &st);
	ck_assert_uint_eq(st.changes_ignored, 2);
	ck_assert_uint_eq(st.changes_emitted, 17);

	/* Confirming what was applied moves the slot. */
	uint64_t flush = pg_capture_flush_lsn(lc.cap, st.last_emitted_lsn);
	ck_assert_uint_eq(flush, st.last_commit_end);
	char why[256];
	ck_assert_int_eq(pg_capture_send_status(lc.cap, &lc.stream, flush, true, why, sizeof why), 0);
	char want[32];
	pgo_format_lsn(flush, want, sizeof want);
	char *now = NULL;
	for (int i = 0; i < 100; i++) {
		pgo_message m;
		live_step(&lc, &m, 50);
		free(now);
		now = scalar(sql, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cap_slot'");
		if (strcmp(now, want) == 0)
			break;
	}
	ck_assert_str_eq(now, want);
	free(now);
	live_stop(&lc);
}
END_TEST

/* ---- a streamed large transaction ------------------------------------------------------ */

static const char *const big_schemas[] = {SCHEMA};
static const char *const big_names[] = {"big_t"};
static const pg_capture_source big_source = {.schemas = big_schemas, .names = big_names, .n_tables = 1, .publication = "cap_pub_big", .slot = "cap_slot_big"};
static const char *const big_ids[] = {SCHEMA ".big_t"};

/* Checks the big table's rows as they come, keeping nothing. */
typedef struct row_checker {
	int64_t next_id;      /* the id the next insert must have */
	uint64_t rows;
	uint64_t position;    /* of the current transaction */
	uint64_t transactions;
	int64_t last_id;
	int relations;        /* RELATION records seen */
	int64_t wide_from;    /* rows from this id on have the added column */
} row_checker;

/* Called per row: checks fail loudly but cost nothing when they pass (a ck_assert
 * that passes still reports its location to Check's parent process). */
static int check_rows(void *arg, uint32_t table_id, const void *rec, size_t len)
{
	row_checker *rc = arg;
	record_view v;
	record_error e;
	if (record_decode(rec, len, &v, &e) != 0)
		ck_abort_msg("record does not decode: %s", e.what);
	if (v.hdr.op == RECORD_OP_BEGIN)
		rc->position = v.hdr.position;
	if (v.hdr.position != rc->position)
		ck_abort_msg("a record of the transaction at %" PRIu64 " has position %" PRIu64, rc->position,
			     v.hdr.position);
	rc->transactions += v.hdr.op == RECORD_OP_COMMIT;
	rc->relations += v.hdr.op == RECORD_OP_RELATION;
	if (v.hdr.op != RECORD_OP_INSERT)
		return 0;
	if (v.new_tuple.ncols != (rc->next_id >= rc->wide_from ? 3u : 2u))
		ck_abort_msg("row %" PRId64 " has %u columns", rc->next_id, v.new_tuple.ncols);
	record_iter it;
	record_value val;
	record_iter_init(&it, &v.new_tuple);
	if (!record_iter_next(&it, &val) || val.kind != RECORD_KIND_INT64 || val.i64 != rc->next_id)
		ck_abort_msg("row %" PRId64 " was due, got another", rc->next_id);
	rc->last_id = val.i64;
	rc->next_id++;
	rc->rows++;
	return 0;
}

#if defined(__SANITIZE_ADDRESS__)
/* ASan holds freed blocks in a quarantine (256 MB by default), and libpq allocates a
 * buffer per stream message: keep the quarantine small so RSS still means something. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=4"; }
#define RSS_GROWTH_ALLOWED_KB (32 * 1024) /* plus ASan's own bookkeeping */
#else
#define RSS_GROWTH_ALLOWED_KB (4 * 1024)
#endif

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;
	ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What the stream looked like (the server's xids of streamed changes). */
typedef struct stream_seen {
	uint32_t top_xid;
	uint64_t inserts_top, inserts_sub;
	int sub_aborts, top_aborts;
	uint64_t commit_lsn;
	long rss_base, rss_max;
	int max_spool_files;
	uint64_t messages;
} stream_seen;

static void observe(stream_seen *s, const pgo_message *m)
{
	if (m->type == PGO_STREAM_START && s->top_xid == 0)
		s->top_xid = m->stream_start.xid;
	if (m->type == PGO_INSERT && m->in_stream && s->top_xid && m->xid == s->top_xid)
		s->inserts_top++;
	else if (m->type == PGO_INSERT && m->in_stream)
		s->inserts_sub++;
	if (m->type == PGO_STREAM_ABORT && m->stream_abort.subxid != m->stream_abort.xid)
		s->sub_aborts++;
	if (m->type == PGO_STREAM_ABORT && m->stream_abort.subxid == m->stream_abort.xid)
		s->top_aborts++;
	if (m->type == PGO_STREAM_COMMIT && s->commit_lsn == 0)
		s->commit_lsn = m->stream_commit.commit_lsn;
}

/* Reads until both transactions are out, watching the stream, memory and spool. */
static void read_observing(live_capture *lc, const row_checker *rows, stream_seen *seen)
{
	for (int idle = 0; rows->transactions < 2 && idle < 100;) {
		pgo_message m = {0};
		int kind = live_step(lc, &m, 100);
		idle = kind == PG_REPL_TIMEOUT ? idle + 1 : 0;
		if (kind != PG_REPL_DATA)
			continue;
		observe(seen, &m);
		if (m.type != PGO_STREAM_STOP && m.type != PGO_STREAM_COMMIT && ++seen->messages % 64 != 0)
			continue; /* sampled: reading /proc per message would dominate the test */
		long rss = rss_kb();
		if (m.type == PGO_STREAM_STOP && seen->rss_base == 0)
			seen->rss_base = rss; /* buffers grown by the first block */
		if (rss > seen->rss_max)
			seen->rss_max = rss;
		int files = spool_files();
		if (files > seen->max_spool_files)
			seen->max_spool_files = files;
	}
}

START_TEST(streamed_transaction_bounded)
{
	/* The converter writes to a checker that keeps nothing. */
	live_capture lc;
	row_checker rows = {.next_id = 1, .wide_from = 99991};
	live_start(&lc, &big_source, big_ids, 1, true, check_rows, &rows);

	/* 100k committed rows; the savepoint's 25k (a nested released one included) roll
	 * back; the table gains a column near the end. */
	exec_ok(sql, "BEGIN;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 50000) g;"
		     "SAVEPOINT a;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT -g, repeat(md5(g::text), 3) FROM generate_series(1, 20000) g;"
		     "SAVEPOINT b;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT -g, 'nested' FROM generate_series(20001, 25000) g;"
		     "RELEASE b;"
		     "ROLLBACK TO a;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT g, repeat(md5(g::text), 3) FROM generate_series(50001, 99990) g;"
		     "ALTER TABLE " QSCHEMA ".big_t ADD COLUMN extra int DEFAULT 7;"
		     "SAVEPOINT c;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT g, 'kept', 8 FROM generate_series(99991, 100000) g;"
		     "RELEASE c;"
		     "COMMIT");
	/* Aborted as a whole: nothing of it may come out. */
	exec_ok(sql, "BEGIN;"
		     "INSERT INTO " QSCHEMA ".big_t SELECT g, repeat(md5(g::text), 3) FROM generate_series(200001, 230000) g;"
		     "ROLLBACK");
	/* A plain transaction after it: the server sends no new description (it counts the
	 * streamed one's as sent), so the capture must have adopted it. */
	exec_ok(sql, "INSERT INTO " QSCHEMA ".big_t VALUES (100001, 'marker', 9)");

	live_stream(&lc, "cap_pub_big", "cap_slot_big");
	stream_seen seen = {0};
	read_observing(&lc, &rows, &seen);
	printf("streamed: top xid %u, %" PRIu64 " inserts under it, %" PRIu64 " under subtransaction xids; "
	       "%d subtransaction aborts, %d aborts; spool files <= %d; rss %ld kB -> max %ld kB\n",
	       seen.top_xid, seen.inserts_top, seen.inserts_sub, seen.sub_aborts, seen.top_aborts,
	       seen.max_spool_files, seen.rss_base, seen.rss_max);
	fflush(stdout);
	ck_assert_msg(seen.rss_max - seen.rss_base < RSS_GROWTH_ALLOWED_KB, "memory grew by %ld kB",
		      seen.rss_max - seen.rss_base);
	ck_assert_uint_eq(rows.transactions, 2);
	ck_assert_uint_eq(rows.rows, 100001);
	ck_assert_int_eq(rows.last_id, 100001);
	ck_assert_int_eq(rows.relations, 2); /* before the first row, after the ALTER; none later */
	/* The server names the subtransaction in each streamed change: that is what lets
	 * an abort of a savepoint drop exactly its rows. */
	ck_assert_uint_gt(seen.inserts_sub, 25000);
	ck_assert_int_ge(seen.sub_aborts, 1);
	ck_assert_int_eq(seen.top_aborts, 1);
	ck_assert_int_gt(seen.max_spool_files, 0);
	ck_assert_int_eq(spool_files(), 0);
	pg_capture_stats st;
	pg_capture_get_stats(lc.cap, &st);
	ck_assert_uint_eq(st.streamed_committed, 1);
	ck_assert_uint_eq(st.streamed_aborted, 1);
	ck_assert_int_eq(st.streamed_open, 0);
	live_stop(&lc);
}
END_TEST

static Suite *offline_suite(void)
{
	Suite *s = suite_create("pg_capture offline");
	TCase *tc = tcase_create("converter");
	tcase_add_test(tc, offline_errors);
	tcase_add_test(tc, offline_refused_emit);
	tcase_add_test(tc, offline_streamed_subxact_abort);
	tcase_add_test(tc, offline_streamed_schema_interleaved);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *live_suite(void)
{
	Suite *s = suite_create("pg_capture live");
	TCase *pre = tcase_create("preflight");
	tcase_add_checked_fixture(pre, live_setup, live_teardown);
	tcase_set_timeout(pre, 30);
	tcase_add_test(pre, preflight_reports_what_to_change);
	tcase_add_test(pre, prepare_creates_then_reuses);
	suite_add_tcase(s, pre);
	TCase *stream = tcase_create("stream");
	tcase_add_checked_fixture(stream, live_setup, live_teardown);
	tcase_set_timeout(stream, 30);
	tcase_add_test(stream, stream_to_records);
	suite_add_tcase(s, stream);
	TCase *big = tcase_create("streamed");
	tcase_add_checked_fixture(big, live_setup, live_teardown);
	tcase_set_timeout(big, 120);
	tcase_add_test(big, streamed_transaction_bounded);
	suite_add_tcase(s, big);
	return s;
}

static int run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

int main(void)
{
	int failed = run(offline_suite());
	conninfo = getenv("FERRY_TEST_PGCONNINFO");
	if (!conninfo || !*conninfo) {
		printf("FERRY_TEST_PGCONNINFO not set: skipping the live capture tests\n");
		return failed ? EXIT_FAILURE : 77;
	}
	failed += run(live_suite());
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
