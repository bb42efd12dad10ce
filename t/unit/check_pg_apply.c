/* The PostgreSQL apply engine against a real server (FERRY_TEST_PGCONNINFO, a superuser
 * conninfo; the live cases are skipped with 77 without it, the statement text case runs
 * anyway). Records are built by hand with the record encoder and relmsg_encode, applied,
 * and the target is checked with SQL: values of many types, exactly-once across a crash,
 * unchanged TOAST columns, a bounded statement cache, key changes, keyless tables with
 * duplicates, idempotent and exact modes, error messages naming table, key and
 * position, multi-row statements, source order when foreign keys fire, TRUNCATE and a
 * description change, COPY runs, waits ended by the hook or a lost server, 1M-row
 * transactions in flat memory, and the apply rate of pgbench-like changes (printed, not
 * asserted). */
#include <check.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/pg_apply.h"
#include "workers/pg_apply_sql.h"
#include "workers/pg_apply_table.h"
#include "workers/pg_value.h"

#define SCHEMA "ferry_apply_test"
#define POS(n) (UINT64_C(0x100000000) + (uint64_t)(n) * 0x100)

static const char *conninfo;
static PGconn *sql; /* verification */
static PGconn *tgt; /* the engine's connection */
static record_buf rb;

/* ---- records by hand ----------------------------------------------------------------- */

typedef struct tv {
	record_kind k;
	int64_t i;
	double f;
	const char *s;
	size_t n;
} tv;

#define VI(x) ((tv){.k = RECORD_KIND_INT64, .i = (x)})
#define VT(x) ((tv){.k = RECORD_KIND_TEXT, .s = (x)})
#define VD(x) ((tv){.k = RECORD_KIND_DECIMAL, .s = (x)})
#define VJ(x) ((tv){.k = RECORD_KIND_JSON, .s = (x)})
#define VR(x) ((tv){.k = RECORD_KIND_TEXTREP, .s = (x)})
#define VBOOL(x) ((tv){.k = RECORD_KIND_BOOL, .i = (x)})
#define VF(x) ((tv){.k = RECORD_KIND_FLOAT64, .f = (x)})
#define VX(p, len) ((tv){.k = RECORD_KIND_BYTES, .s = (p), .n = (len)})
#define VDATE(x) ((tv){.k = RECORD_KIND_DATE, .i = (x)})
#define VTS(x) ((tv){.k = RECORD_KIND_TIMESTAMP, .i = (x)})
#define VTZ(x) ((tv){.k = RECORD_KIND_TIMESTAMPTZ, .i = (x)})
#define VUUID(p) ((tv){.k = RECORD_KIND_UUID, .s = (p)})
#define VN ((tv){.k = RECORD_KIND_NULL})
#define VU ((tv){.k = RECORD_KIND_UNCHANGED})
#define ROW(...) ((const tv[]){__VA_ARGS__}), (int)(sizeof((const tv[]){__VA_ARGS__}) / sizeof(tv))
#define NOROW NULL, 0

static void put(record_encoder *e, tv v)
{
	switch (v.k) {
	case RECORD_KIND_NULL: record_put_null(e); break;
	case RECORD_KIND_UNCHANGED: record_put_unchanged(e); break;
	case RECORD_KIND_INT64: record_put_int64(e, v.i); break;
	case RECORD_KIND_BOOL: record_put_bool(e, v.i != 0); break;
	case RECORD_KIND_FLOAT64: record_put_float64(e, v.f); break;
	case RECORD_KIND_DATE: record_put_date(e, (int32_t)v.i); break;
	case RECORD_KIND_TIMESTAMP: record_put_timestamp(e, v.i); break;
	case RECORD_KIND_TIMESTAMPTZ: record_put_timestamptz(e, v.i); break;
	case RECORD_KIND_UUID: record_put_uuid(e, (const uint8_t *)v.s); break;
	case RECORD_KIND_BYTES: record_put_bytes(e, v.s, v.n); break;
	case RECORD_KIND_DECIMAL: record_put_decimal(e, v.s, strlen(v.s)); break;
	case RECORD_KIND_JSON: record_put_json(e, v.s, strlen(v.s)); break;
	case RECORD_KIND_TEXTREP: record_put_textrep(e, v.s, strlen(v.s)); break;
	default: record_put_text(e, v.s, v.n ? v.n : strlen(v.s)); break;
	}
}

static void encode(record_op op, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold,
		   const tv *nw, int nnew)
{
	record_header h = {.op = op, .table_id = table, .position = pos, .xid = pos >> 8,
			   .old_image = oi, .has_new = nw != NULL};
	record_encoder e;
	record_encode_begin(&e, &rb, &h);
	if (oi != RECORD_IMAGE_NONE) {
		record_encode_tuple(&e, (uint32_t)nold);
		for (int i = 0; i < nold; i++)
			put(&e, old[i]);
	}
	if (nw) {
		record_encode_tuple(&e, (uint32_t)nnew);
		for (int i = 0; i < nnew; i++)
			put(&e, nw[i]);
	}
	/* no ck_assert on this path: Check logs every passing assertion, slowing rate runs */
	if (record_encode_finish(&e) != 0)
		ck_abort_msg("record_encode_finish failed");
}

/* Feeds what encode() built; returns the engine's result, *err set on failure. */
static int feed_rc(pg_apply *a, char **err)
{
	*err = NULL;
	return pg_apply_record(a, rb.data, rb.len, err);
}

static void feed(pg_apply *a)
{
	char *err = NULL;
	if (feed_rc(a, &err) != 0)
		ck_abort_msg("record refused: %s", err ? err : "?");
}

static void begin(pg_apply *a, uint64_t pos)
{
	encode(RECORD_OP_BEGIN, 0, pos, RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
}

static void commit(pg_apply *a, uint64_t pos)
{
	encode(RECORD_OP_COMMIT, 0, pos, RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
}

static void ins(pg_apply *a, uint32_t table, uint64_t pos, const tv *v, int n)
{
	encode(RECORD_OP_INSERT, table, pos, RECORD_IMAGE_NONE, NOROW, v, n);
	feed(a);
}

static void upd(pg_apply *a, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold, const tv *v, int n)
{
	encode(RECORD_OP_UPDATE, table, pos, oi, old, nold, v, n);
	feed(a);
}

static void del(pg_apply *a, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold)
{
	encode(RECORD_OP_DELETE, table, pos, oi, old, nold, NOROW);
	feed(a);
}

/* A column: name, type oid, key flag, type name. */
#define COL(n, oid, k, tn) \
	((relmsg_column){.name = (n), .type_oid = (oid), .typmod = -1, .key = (k), .type_name = (tn)})

static void describe(pg_apply *a, uint32_t id, const char *name, char ident, relmsg_column *cols, int ncols,
		     uint64_t pos)
{
	relmsg r = {.table_id = id, .source_schema = "public", .source_name = (char *)name,
		    .target_schema = SCHEMA, .target_name = (char *)name, .replident = ident, .ncols = ncols, .cols = cols};
	ck_assert_int_eq(relmsg_encode(&rb, pos, &r), 0);
	feed(a);
}

static void flush_ok(pg_apply *a)
{
	char *err = NULL;
	int rc = pg_apply_flush(a, &err);
	ck_assert_msg(rc == 0, "flush: %d %s", rc, err ? err : "");
}

/* ---- SQL helpers ---------------------------------------------------------------------- */

static PGconn *connect_db(void)
{
	PGconn *c = PQconnectdb(conninfo);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

static void exec_ok(const char *q)
{
	PGresult *r = PQexec(sql, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q,
		      PQerrorMessage(sql));
	PQclear(r);
}

/* The first column of every row, joined with "|". */
static char *rows(const char *q)
{
	PGresult *r = PQexec(sql, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(sql));
	size_t cap = 64;
	for (int i = 0; i < PQntuples(r); i++)
		cap += strlen(PQgetvalue(r, i, 0)) + 1;
	char *out = calloc(1, cap);
	for (int i = 0; i < PQntuples(r); i++) {
		if (i)
			strcat(out, "|");
		strcat(out, PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
	}
	PQclear(r);
	return out;
}

static void expect_rows(const char *q, const char *want)
{
	char *got = rows(q);
	ck_assert_msg(strcmp(got, want) == 0, "%s\n  got:  %s\n  want: %s", q, got, want);
	free(got);
}

static uint64_t stored_position(const char *task)
{
	char q[256];
	snprintf(q, sizeof q, "SELECT position FROM ferry.apply_progress WHERE task = '%s' AND worker = 1", task);
	char *v = rows(q);
	uint64_t pos = strtoull(v, NULL, 10);
	free(v);
	return pos;
}

static pg_apply *open_engine(const char *task)
{
	char *err = NULL;
	pg_apply *a = pg_apply_open(tgt, task, 1, &err);
	ck_assert_msg(a != NULL, "open: %s", err ? err : "?");
	return a;
}

/* Progress rows of these tests (other tests may share the database). */
#define FORGET_PROGRESS \
	"DO $$ BEGIN IF to_regclass('ferry.apply_progress') IS NOT NULL THEN " \
	"DELETE FROM ferry.apply_progress WHERE task LIKE 'apply_test%'; END IF; END $$"

static void setup(void)
{
	record_buf_init(&rb);
	sql = connect_db();
	tgt = connect_db();
	exec_ok("SET client_min_messages = warning; SET TimeZone = 'UTC'; SET DateStyle = ISO; "
		"SET extra_float_digits = 3; DROP SCHEMA IF EXISTS " SCHEMA " CASCADE; CREATE SCHEMA " SCHEMA);
	exec_ok(FORGET_PROGRESS);
}

static void teardown(void)
{
	if (tgt)
		PQfinish(tgt);
	exec_ok(FORGET_PROGRESS);
	exec_ok("DROP SCHEMA IF EXISTS " SCHEMA " CASCADE");
	PQfinish(sql);
	record_buf_free(&rb);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* ---- statement text (offline) ---------------------------------------------------------- */

/* A table "s"."T" (id integer, "Doc ""x""" json, v text): keyed on id, or with every
 * column marked key as pgoutput marks a REPLICA IDENTITY FULL table. */
static void offline_table(apply_tables *ts, apply_table **out, char ident)
{
	bool full = ident == 'f';
	relmsg_column cols[3] = {COL("id", 23, true, "integer"), COL("Doc \"x\"", 114, full, "json"),
				 COL("v", 25, full, "text")};
	relmsg r = {.table_id = 9, .target_schema = strdup("s"), .target_name = strdup("T"), .replident = ident,
		    .ncols = 3, .cols = calloc(3, sizeof(relmsg_column))};
	for (int i = 0; i < 3; i++) {
		r.cols[i] = cols[i];
		r.cols[i].name = strdup(cols[i].name);
		r.cols[i].type_name = strdup(cols[i].type_name);
	}
	r.source_schema = strdup("s");
	r.source_name = strdup("T");
	apply_tables_init(ts);
	*out = apply_tables_get(ts, 9);
	ck_assert_int_eq(apply_table_describe(ts, *out, &r), 0);
}

static void expect_sql(const apply_table *t, apply_stmt_kind kind, int nrows, const uint8_t *shape, const char *want)
{
	strbuf sb = STRBUF_INIT;
	apply_sql_build(&sb, t, kind, nrows, shape);
	ck_assert_str_eq(strbuf_str(&sb), want);
	strbuf_free(&sb);
}

START_TEST(statement_text)
{
	apply_tables ts;
	apply_table *t;
	offline_table(&ts, &t, 'd');
	ck_assert(t->keyed);
	const uint8_t all[3] = {APPLY_COL_SET, APPLY_COL_SET, APPLY_COL_SET};
	expect_sql(t, APPLY_INSERT, 2, all,
		   "INSERT INTO \"s\".\"T\" (\"id\", \"Doc \"\"x\"\"\", \"v\") VALUES ($1, $2, $3), ($4, $5, $6)");
	expect_sql(t, APPLY_UPSERT, 1, all,
		   "INSERT INTO \"s\".\"T\" (\"id\", \"Doc \"\"x\"\"\", \"v\") VALUES ($1, $2, $3) ON CONFLICT (\"id\") "
		   "DO UPDATE SET \"Doc \"\"x\"\"\" = EXCLUDED.\"Doc \"\"x\"\"\", \"v\" = EXCLUDED.\"v\"");
	/* an unchanged TOAST column is not named at all */
	const uint8_t toast[3] = {APPLY_COL_MATCH, 0, APPLY_COL_SET};
	expect_sql(t, APPLY_UPDATE, 1, toast, "UPDATE \"s\".\"T\" SET \"v\" = $1 WHERE \"id\" = $2");
	const uint8_t move[3] = {APPLY_COL_SET | APPLY_COL_MATCH, APPLY_COL_SET, APPLY_COL_SET};
	expect_sql(t, APPLY_UPSERT_MOVE, 1, move,
		   "WITH ferry_old AS (DELETE FROM \"s\".\"T\" WHERE \"id\" = $4) INSERT INTO \"s\".\"T\" (\"id\", "
		   "\"Doc \"\"x\"\"\", \"v\") VALUES ($1, $2, $3) ON CONFLICT (\"id\") DO UPDATE SET \"Doc \"\"x\"\"\" = "
		   "EXCLUDED.\"Doc \"\"x\"\"\", \"v\" = EXCLUDED.\"v\"");
	const uint8_t keyonly[3] = {APPLY_COL_MATCH, 0, 0};
	expect_sql(t, APPLY_UPDATE, 1, keyonly, "UPDATE \"s\".\"T\" SET \"id\" = \"id\" WHERE \"id\" = $1");
	expect_sql(t, APPLY_DELETE, 1, keyonly, "DELETE FROM \"s\".\"T\" WHERE \"id\" = $1");
	ck_assert_int_eq(apply_sql_row_params(t, move), 4);
	/* many rows: joined with a VALUES list typed by the target's types in its first row;
	 * the keys that matched nothing come back */
	char **types = calloc(3, sizeof *types);
	types[0] = strdup("integer");
	types[1] = strdup("json");
	types[2] = strdup("text");
	apply_table_set_types(t, types);
	expect_sql(t, APPLY_UPDATE, 2, toast,
		   "WITH ferry_v (s2, m0) AS (VALUES ($1::text, $2::integer), ($3, $4)), ferry_c AS (UPDATE \"s\".\"T\" "
		   "AS ferry_t SET \"v\" = ferry_v.s2 FROM ferry_v WHERE ferry_t.\"id\" = ferry_v.m0 RETURNING "
		   "ferry_t.\"id\") SELECT ferry_v.m0 AS \"id\" FROM ferry_v WHERE NOT EXISTS (SELECT FROM ferry_c WHERE "
		   "ferry_c.\"id\" = ferry_v.m0)");
	expect_sql(t, APPLY_DELETE, 2, keyonly,
		   "WITH ferry_v (m0) AS (VALUES ($1::integer), ($2)), ferry_c AS (DELETE FROM \"s\".\"T\" AS ferry_t "
		   "USING ferry_v WHERE ferry_t.\"id\" = ferry_v.m0 RETURNING ferry_t.\"id\") SELECT ferry_v.m0 AS \"id\" "
		   "FROM ferry_v WHERE NOT EXISTS (SELECT FROM ferry_c WHERE ferry_c.\"id\" = ferry_v.m0)");
	apply_tables_free(&ts);

	/* replica identity FULL marking every column: matched on all, json as text, NULL by IS NULL */
	offline_table(&ts, &t, 'f');
	ck_assert(!t->keyed);
	const uint8_t full[3] = {APPLY_COL_MATCH | APPLY_COL_SET, APPLY_COL_MATCH, APPLY_COL_MATCH_NULL};
	expect_sql(t, APPLY_UPDATE_ONE, 1, full,
		   "UPDATE \"s\".\"T\" SET \"id\" = $1 WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM \"s\".\"T\" "
		   "WHERE \"id\" = $2 AND \"Doc \"\"x\"\"\"::text = $3 AND \"v\" IS NULL LIMIT 1)");
	apply_tables_free(&ts);
	ck_assert(apply_type_needs_text_compare("json[]") && apply_type_needs_text_compare("point"));
	ck_assert(!apply_type_needs_text_compare("jsonb") && !apply_type_needs_text_compare("integer"));
}
END_TEST

/* ---- live cases ------------------------------------------------------------------------ */

#define UUID_BYTES "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0"

START_TEST(values_of_many_types)
{
	exec_ok("CREATE TYPE " SCHEMA ".mood AS ENUM ('sad', 'happy');"
		"CREATE TABLE " SCHEMA ".types (id int PRIMARY KEY, b bool, i8 bigint, f float8, n numeric(12,3), "
		"t text, by bytea, d date, ts timestamp, tz timestamptz, u uuid, j jsonb, arr int[], iv interval, "
		"e " SCHEMA ".mood, \"Spaced \"\"Name\"\" é\" text)");
	pg_apply *a = open_engine("apply_test_types");
	ck_assert_uint_eq(pg_apply_position(a), 0);
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("b", 16, false, "boolean"),
				COL("i8", 20, false, "bigint"), COL("f", 701, false, "double precision"),
				COL("n", 1700, false, "numeric(12,3)"), COL("t", 25, false, "text"),
				COL("by", 17, false, "bytea"), COL("d", 1082, false, "date"),
				COL("ts", 1114, false, "timestamp without time zone"),
				COL("tz", 1184, false, "timestamp with time zone"), COL("u", 2950, false, "uuid"),
				COL("j", 3802, false, "jsonb"), COL("arr", 1007, false, "integer[]"),
				COL("iv", 1186, false, "interval"), COL("e", 99999, false, SCHEMA ".mood"),
				COL("Spaced \"Name\" é", 25, false, "text")};
	describe(a, 1, "types", 'd', cols, 16, POS(1));
	int64_t day = pg_value_days_from_civil(2024, 2, 29);
	int64_t us = day * 86400 * INT64_C(1000000) + INT64_C(3723123456); /* 01:02:03.123456 */
	begin(a, POS(1));
	ins(a, 1, POS(1),
	    ROW(VI(1), VBOOL(1), VI(INT64_MIN), VF(0.1), VD("-12345.678"), VT("it's \"quoted\" \\ é 😀"),
		VX("\x00\xff\x10", 3), VDATE(day), VTS(us), VTZ(us), VUUID(UUID_BYTES),
		VJ("{\"a\": [1, null]}"), VR("{1,NULL,3}"), VR("1 day 02:00:00"), VR("happy"), VT("x")));
	ins(a, 1, POS(1), ROW(VI(2), VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN));
	ins(a, 1, POS(1),
	    ROW(VI(3), VBOOL(0), VI(INT64_MAX), VF(-1e300), VD("NaN"), VT(""), VX("", 0), VDATE(INT32_MAX),
		VTS(INT64_MIN), VTZ(INT64_MAX), VN, VJ("[]"), VR("{}"), VR("-00:00:01"), VR("sad"), VN));
	commit(a, POS(1));
	flush_ok(a);
	ck_assert_uint_eq(pg_apply_position(a), POS(1));
	expect_rows("SELECT concat_ws(',', id, b, i8, f, n, t, encode(by, 'hex'), d, ts, tz, u, j, arr, iv, e, "
		    "\"Spaced \"\"Name\"\" é\") FROM " SCHEMA ".types ORDER BY id",
		    "1,t,-9223372036854775808,0.1,-12345.678,it's \"quoted\" \\ é 😀,00ff10,2024-02-29,"
		    "2024-02-29 01:02:03.123456,2024-02-29 01:02:03.123456+00,12345678-9abc-def0-1234-56789abcdef0,"
		    "{\"a\": [1, null]},{1,NULL,3},1 day 02:00:00,happy,x|"
		    "2|3,f,9223372036854775807,-1e+300,NaN,,,infinity,-infinity,infinity,[],{},-00:00:01,sad");
	expect_rows("SELECT count(*) FILTER (WHERE b IS NULL AND t IS NULL AND by IS NULL AND j IS NULL) FROM " SCHEMA
		    ".types WHERE id = 2", "1");
	ck_assert_uint_eq(stored_position("apply_test_types"), POS(1));
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.changes, 3);
	ck_assert_uint_eq(st.transactions, 1);
	/* closing without a flush rolls back; the session is idle and usable again */
	begin(a, POS(2));
	ins(a, 1, POS(2), ROW(VI(4), VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN, VN));
	commit(a, POS(2));
	pg_apply_close(a);
	ck_assert_int_eq(PQtransactionStatus(tgt), PQTRANS_IDLE);
	PGresult *r = PQexec(tgt, "SELECT count(*) FROM " SCHEMA ".types");
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "3");
	PQclear(r);
}
END_TEST

/* The once table has no key, so a change applied twice would show as a duplicate row. */
static void once_txn(pg_apply *a, int i)
{
	begin(a, POS(i));
	ins(a, 1, POS(i), ROW(VI(i), VI(i * 10)));
	if (i > 1) /* move the previous row's value on: applied twice, it would hit nothing */
		upd(a, 1, POS(i), RECORD_IMAGE_FULL, ROW(VI(i - 1), VI((i - 1) * 10)), ROW(VI(i - 1), VI(-(i - 1))));
	commit(a, POS(i));
}

START_TEST(exactly_once_across_a_crash)
{
	exec_ok("CREATE TABLE " SCHEMA ".once (id int, v int)");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("v", 23, true, "integer")};
	pg_apply *a = open_engine("apply_test_once");
	describe(a, 1, "once", 'f', cols, 2, POS(1));
	for (int i = 1; i <= 10; i++)
		once_txn(a, i);
	flush_ok(a);
	ck_assert_uint_eq(pg_apply_position(a), POS(10));
	/* more work sent to the server, never committed, then the process "dies" */
	for (int i = 11; i <= 15; i++)
		once_txn(a, i);
	char *err = NULL;
	ck_assert_int_eq(pg_apply_push(a, &err), 0);
	pg_apply_free(a);
	PQfinish(tgt);
	expect_rows("SELECT count(*) FROM " SCHEMA ".once", "10");

	tgt = connect_db();
	a = open_engine("apply_test_once");
	ck_assert_uint_eq(pg_apply_position(a), POS(10));
	/* the stream is fed again from the start: RELATION first, committed transactions skipped */
	describe(a, 1, "once", 'f', cols, 2, POS(1));
	for (int i = 1; i <= 15; i++)
		once_txn(a, i);
	/* a flush inside a source transaction waits for its COMMIT */
	begin(a, POS(16));
	ins(a, 1, POS(16), ROW(VI(16), VI(160)));
	ck_assert_int_eq(pg_apply_flush(a, &err), 1);
	ck_assert(pg_apply_in_source_txn(a));
	ck_assert_uint_eq(pg_apply_position(a), POS(10));
	commit(a, POS(16));
	ck_assert_uint_eq(pg_apply_position(a), POS(16));
	ck_assert_uint_eq(stored_position("apply_test_once"), POS(16));
	expect_rows("SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(v) FROM " SCHEMA ".once",
		    "16 16 205"); /* 1..14 negated (-105), 15 -> 150, 16 -> 160 */
	/* committed before: skipped */
	begin(a, POS(12));
	ins(a, 1, POS(12), ROW(VI(12), VI(120)));
	commit(a, POS(12));
	/* queued but not committed, then fed again: positions went back */
	once_txn(a, 17);
	encode(RECORD_OP_BEGIN, 0, POS(17), RECORD_IMAGE_NONE, NOROW, NOROW);
	ck_assert_int_eq(feed_rc(a, &err), -1);
	ck_assert_msg(strstr(err, "went backwards"), "%s", err);
	free(err);
	pg_apply_close(a);
	expect_rows("SELECT count(*) FROM " SCHEMA ".once", "16");
}
END_TEST

START_TEST(unchanged_toast_is_kept)
{
	exec_ok("CREATE TABLE " SCHEMA ".toast (id int PRIMARY KEY, v int, big text, other text)");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("v", 23, false, "integer"),
				COL("big", 25, false, "text"), COL("other", 25, false, "text")};
	size_t n = 200000;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + (i * 7919 % 26));
	big[n] = '\0';
	pg_apply *a = open_engine("apply_test_toast");
	describe(a, 1, "toast", 'd', cols, 4, POS(1));
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1), VI(1), VT(big), VT("o")));
	commit(a, POS(1));
	flush_ok(a);
	begin(a, POS(2));
	upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VI(2), VU, VT("o2")));
	upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VI(3), VU, VU));
	commit(a, POS(2));
	flush_ok(a);
	char want[128];
	PGresult *r = PQexecParams(sql, "SELECT '3,' || md5($1) || ',o2'", 1, NULL, (const char *const[]){big}, NULL,
				   NULL, 0);
	snprintf(want, sizeof want, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	expect_rows("SELECT v || ',' || md5(big) || ',' || other FROM " SCHEMA ".toast", want);
	/* the same description again (a resent RELATION) keeps the prepared statements */
	describe(a, 1, "toast", 'd', cols, 4, POS(3));
	begin(a, POS(3));
	upd(a, 1, POS(3), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VI(4), VU, VU));
	commit(a, POS(3));
	flush_ok(a);
	expect_rows("SELECT v || ',' || length(big) FROM " SCHEMA ".toast", "4,200000");
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.prepared, 3); /* insert, update without big, update without big and other */
	pg_apply_close(a);
	free(big);
}
END_TEST

/* Every set of unchanged columns is a statement of its own; beyond the per-table limit
 * the least recently used ones are deallocated and prepared again when needed. */
START_TEST(statement_cache_is_bounded)
{
	exec_ok("CREATE TABLE " SCHEMA ".shapes (id int PRIMARY KEY, c0 int, c1 int, c2 int, c3 int, c4 int, c5 int, "
		"c6 int);"
		"INSERT INTO " SCHEMA ".shapes VALUES (1, 0, 0, 0, 0, 0, 0, 0)");
	relmsg_column cols[8] = {COL("id", 23, true, "integer")};
	static char *names[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6"};
	for (int i = 0; i < 7; i++)
		cols[i + 1] = COL(names[i], 23, false, "integer");
	pg_apply *a = open_engine("apply_test_shapes");
	describe(a, 1, "shapes", 'd', cols, 8, POS(1));
	for (int round = 0; round < 2; round++) {
		begin(a, POS(1 + round));
		for (int mask = 1; mask < 128; mask++) {
			tv row[8] = {VI(1)};
			for (int c = 0; c < 7; c++)
				row[c + 1] = mask & (1 << c) ? VI(mask + round * 1000) : VU;
			upd(a, 1, POS(1 + round), RECORD_IMAGE_NONE, NOROW, row, 8);
		}
		commit(a, POS(1 + round));
		flush_ok(a);
	}
	/* each column holds the last mask that wrote it: the highest with its bit */
	expect_rows("SELECT concat_ws(',', c0, c1, c2, c3, c4, c5, c6) FROM " SCHEMA ".shapes",
		    "1127,1127,1127,1127,1127,1127,1127");
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.prepared, 2 * 127); /* none survives the other round's 126 */
	pg_apply_close(a);
}
END_TEST

START_TEST(key_change_uses_the_old_key)
{
	exec_ok("CREATE TABLE " SCHEMA ".kc (id int, region text, v text, PRIMARY KEY (id, region));"
		"INSERT INTO " SCHEMA ".kc VALUES (1, 'eu', 'a'), (2, 'eu', 'b')");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("region", 25, true, "text"),
				COL("v", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_kc");
	describe(a, 1, "kc", 'd', cols, 3, POS(1));
	begin(a, POS(1));
	upd(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(1), VT("eu"), VN), ROW(VI(10), VT("us"), VT("moved")));
	upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(2), VT("eu"), VT("b2")));
	del(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(10), VT("us"), VN));
	upd(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(2), VT("eu"), VN), ROW(VI(3), VT("eu"), VU));
	commit(a, POS(1));
	flush_ok(a);
	expect_rows("SELECT id || region || v FROM " SCHEMA ".kc ORDER BY id", "3eub2");
	pg_apply_close(a);
}
END_TEST

START_TEST(keyless_table_touches_one_row)
{
	exec_ok("CREATE TABLE " SCHEMA ".nk (a int, doc json, c text);"
		"INSERT INTO " SCHEMA ".nk VALUES (1, '{\"x\": 1}', 'dup'), (1, '{\"x\": 1}', 'dup'), (1, '{\"x\": 1}', 'dup'),"
		"(2, NULL, 'other')");
	/* pgoutput marks every column of a REPLICA IDENTITY FULL table as key */
	relmsg_column cols[] = {COL("a", 23, true, "integer"), COL("doc", 114, true, "json"),
				COL("c", 25, true, "text")};
	pg_apply *a = open_engine("apply_test_nk");
	describe(a, 1, "nk", 'f', cols, 3, POS(1));
	begin(a, POS(1));
	del(a, 1, POS(1), RECORD_IMAGE_FULL, ROW(VI(1), VJ("{\"x\": 1}"), VT("dup")));
	upd(a, 1, POS(1), RECORD_IMAGE_FULL, ROW(VI(1), VJ("{\"x\": 1}"), VT("dup")),
	    ROW(VI(1), VJ("{\"x\": 1}"), VT("changed")));
	upd(a, 1, POS(1), RECORD_IMAGE_FULL, ROW(VI(2), VN, VT("other")), ROW(VI(2), VN, VT("other2")));
	ins(a, 1, POS(1), ROW(VI(2), VN, VT("other2")));
	del(a, 1, POS(1), RECORD_IMAGE_FULL, ROW(VI(2), VN, VT("other2")));
	commit(a, POS(1));
	flush_ok(a);
	expect_rows("SELECT a || ':' || coalesce(doc::text, 'NULL') || ':' || c FROM " SCHEMA ".nk ORDER BY 1",
		    "1:{\"x\": 1}:changed|1:{\"x\": 1}:dup|2:NULL:other2");
	/* exact mode: deleting a row that is not there is an error */
	begin(a, POS(2));
	del(a, 1, POS(2), RECORD_IMAGE_FULL, ROW(VI(9), VN, VT("none")));
	commit(a, POS(2));
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "no row matched") && strstr(err, "\"nk\""), "%s", err);
	free(err);
	pg_apply_close(a);
}
END_TEST

START_TEST(idempotent_mode_until_the_load_position)
{
	exec_ok("CREATE TABLE " SCHEMA ".idem (id int PRIMARY KEY, v text, big text);"
		"INSERT INTO " SCHEMA ".idem VALUES (1, 'loaded', 'B1'), (2, 'loaded', 'B2'), (3, 'loaded', 'B3')");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("v", 25, false, "text"),
				COL("big", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_idem");
	ck_assert_int_eq(pg_apply_set_idempotent(a, 1, POS(2)), 0); /* before the RELATION */
	describe(a, 1, "idem", 'd', cols, 3, POS(1));
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1), VT("ins-existing"), VT("B1'")));           /* -> update */
	del(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(9), VN, VN));                 /* missing: fine */
	upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(7), VT("upd-missing"), VT("B7"))); /* -> insert */
	upd(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(2), VN, VN), ROW(VI(20), VT("moved"), VT("B20")));
	upd(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(8), VN, VN), ROW(VI(80), VT("moved-missing"), VT("B80")));
	upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(3), VT("toast-kept"), VU));
	upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(4), VT("toast-missing"), VU)); /* skipped */
	ins(a, 1, POS(1), ROW(VI(5), VT("new"), VN));
	ins(a, 1, POS(1), ROW(VI(5), VT("new-again"), VN)); /* a replay inside one batch run */
	commit(a, POS(1));
	begin(a, POS(2));
	upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(5), VT("new-updated"), VT("B5")));
	commit(a, POS(2));
	flush_ok(a);
	expect_rows("SELECT id || '=' || v || '/' || coalesce(big, 'NULL') FROM " SCHEMA ".idem ORDER BY id",
		    "1=ins-existing/B1'|3=toast-kept/B3|5=new-updated/B5|7=upd-missing/B7|20=moved/B20|"
		    "80=moved-missing/B80");
	/* after the load position: exact again */
	begin(a, POS(3));
	ins(a, 1, POS(3), ROW(VI(1), VT("dup"), VN));
	commit(a, POS(3));
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "duplicate key") && strstr(err, "id=1") && strstr(err, "1/300"), "%s", err);
	free(err);
	pg_apply_close(a);
	ck_assert_uint_eq(stored_position("apply_test_idem"), POS(2));
}
END_TEST

START_TEST(exact_mode_error_commits_nothing)
{
	exec_ok("CREATE TABLE " SCHEMA ".exact (id int PRIMARY KEY, v text)");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("v", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_exact");
	describe(a, 1, "exact", 'd', cols, 2, POS(1));
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1), VT("one")));
	commit(a, POS(1));
	flush_ok(a);
	begin(a, POS(2));
	ins(a, 1, POS(2), ROW(VI(2), VT("two")));
	commit(a, POS(2));
	begin(a, POS(3));
	upd(a, 1, POS(3), RECORD_IMAGE_NONE, NOROW, ROW(VI(42), VT("missing")));
	ins(a, 1, POS(3), ROW(VI(3), VT("three")));
	commit(a, POS(3));
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "\"" SCHEMA "\".\"exact\"") && strstr(err, "UPDATE") && strstr(err, "id=42") &&
			      strstr(err, "1/300") && strstr(err, "no row matched"),
		      "%s", err);
	free(err);
	expect_rows("SELECT string_agg(id::text, ',' ORDER BY id) FROM " SCHEMA ".exact", "1");
	ck_assert_uint_eq(stored_position("apply_test_exact"), POS(1));
	/* the engine refuses more work */
	encode(RECORD_OP_BEGIN, 0, POS(4), RECORD_IMAGE_NONE, NOROW, NOROW);
	ck_assert_int_eq(feed_rc(a, &err), -1);
	ck_assert_msg(strstr(err, "earlier error"), "%s", err);
	free(err);
	pg_apply_close(a);
	PGresult *r = PQexec(tgt, "SELECT count(*) FROM " SCHEMA ".exact");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);

	/* a change the server rejects: its message comes back with table, key and position */
	a = open_engine("apply_test_exact");
	describe(a, 1, "exact", 'd', cols, 2, POS(1));
	begin(a, POS(5));
	for (int i = 10; i < 20; i++)
		ins(a, 1, POS(5), ROW(VI(i), VT("x")));
	ins(a, 1, POS(5), ROW(VI(1), VT("again")));
	commit(a, POS(5));
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "duplicate key value") && strstr(err, "Key (id)=(1) already exists") &&
			      strstr(err, "1/500"),
		      "%s", err);
	free(err);
	expect_rows("SELECT count(*) FROM " SCHEMA ".exact", "1");
	pg_apply_close(a);
}
END_TEST

/* UPDATEs and DELETEs by key wait in a batch and go as one statement; in exact mode the
 * statement names the key it found no row for. */
START_TEST(batched_changes_name_the_missing_key)
{
	exec_ok("CREATE TABLE " SCHEMA ".multi (id int PRIMARY KEY, v text, w text);"
		"INSERT INTO " SCHEMA ".multi SELECT g, 'v', 'w' FROM generate_series(1, 10) g");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("v", 25, false, "text"),
				COL("w", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_multi");
	describe(a, 1, "multi", 'd', cols, 3, POS(1));
	begin(a, POS(1));
	/* a row changed several times inside one batch ends in its last state */
	for (int i = 1; i <= 6; i++)
		upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(i % 3 + 1), VT(i == 6 ? "last" : "mid"), VU));
	ins(a, 1, POS(1), ROW(VI(11), VT("new"), VT("w")));
	upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(11), VT("new2"), VU));
	del(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(9), VN, VN));
	del(a, 1, POS(1), RECORD_IMAGE_KEY, ROW(VI(10), VN, VN));
	commit(a, POS(1));
	flush_ok(a);
	expect_rows("SELECT string_agg(id || '=' || v || w, ',' ORDER BY id) FROM " SCHEMA ".multi",
		    "1=lastw,2=midw,3=midw,4=vw,5=vw,6=vw,7=vw,8=vw,11=new2w");
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_msg(st.statements < st.changes, "%" PRIu64 " statements for %" PRIu64 " changes", st.statements,
		      st.changes);
	begin(a, POS(2));
	for (int id = 1; id <= 8; id++)
		upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(id == 5 ? 77 : id), VT("x"), VT("y")));
	commit(a, POS(2));
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "UPDATE") && strstr(err, "id=77") && strstr(err, "1/200") &&
			      strstr(err, "no row matched"), "%s", err);
	free(err);
	pg_apply_close(a);
	a = open_engine("apply_test_multi");
	describe(a, 1, "multi", 'd', cols, 3, POS(1));
	begin(a, POS(3));
	del(a, 1, POS(3), RECORD_IMAGE_KEY, ROW(VI(1), VN, VN));
	del(a, 1, POS(3), RECORD_IMAGE_KEY, ROW(VI(88), VN, VN));
	del(a, 1, POS(3), RECORD_IMAGE_KEY, ROW(VI(2), VN, VN));
	del(a, 1, POS(3), RECORD_IMAGE_KEY, ROW(VI(2), VN, VN)); /* twice: the second fails alone */
	commit(a, POS(3));
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "DELETE") && strstr(err, "id=88") && strstr(err, "1/300"), "%s", err);
	free(err);
	pg_apply_close(a);
	expect_rows("SELECT count(*) FROM " SCHEMA ".multi", "9");
}
END_TEST

/* Hot keys: a table's UPDATEs are held for APPLY_BATCH_HOLD statements' worth of rows,
 * each key's later changes replacing its row, so 3000 updates of 300 keys reach the
 * target as one write per key. A key missing deep in a held batch is still named. */
START_TEST(held_batch_merges_hot_keys)
{
	exec_ok("CREATE TABLE " SCHEMA ".hot (id int PRIMARY KEY, n int);"
		"INSERT INTO " SCHEMA ".hot SELECT g, -1 FROM generate_series(1, 400) g");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("n", 23, false, "integer")};
	pg_apply *a = open_engine("apply_test_hot");
	describe(a, 1, "hot", 'd', cols, 2, POS(1));
	begin(a, POS(1));
	for (int i = 0; i < 3000; i++)
		upd(a, 1, POS(1), RECORD_IMAGE_NONE, NOROW, ROW(VI(i % 300 + 1), VI(i)));
	commit(a, POS(1));
	flush_ok(a);
	expect_rows("SELECT count(*) FILTER (WHERE n = id + 2699) || '/' || count(*) FILTER (WHERE n = -1) FROM " SCHEMA
		    ".hot",
		    "300/100");
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	/* 300 rows: 4 statements of 64 rows, 2 of 16, 3 of 4 (64-row batches sent as they
	 * fill would take 47) */
	ck_assert_msg(st.statements <= 9, "%" PRIu64 " statements for %" PRIu64 " changes", st.statements, st.changes);
	begin(a, POS(2));
	for (int id = 1; id <= 400; id++)
		upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(id == 350 ? 9350 : id), VI(0)));
	commit(a, POS(2));
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "UPDATE") && strstr(err, "id=9350") && strstr(err, "no row matched"), "%s", err);
	free(err);
	pg_apply_close(a);
	expect_rows("SELECT count(*) FROM " SCHEMA ".hot WHERE n = 0", "0");
}
END_TEST

/* A target user that may not set session_replication_role keeps foreign keys firing:
 * then statements must reach the server in source order (no batch of one table may
 * overtake another's). */
START_TEST(source_order_without_replica_role)
{
	pg_apply *a = open_engine("apply_test_setup"); /* creates schema ferry */
	pg_apply_close(a);
	exec_ok("DROP ROLE IF EXISTS ferry_apply_plain; CREATE ROLE ferry_apply_plain LOGIN PASSWORD 'ferry_apply_plain';"
		"GRANT USAGE, CREATE ON SCHEMA " SCHEMA " TO ferry_apply_plain;"
		"GRANT USAGE ON SCHEMA ferry TO ferry_apply_plain;"
		"GRANT SELECT, INSERT, UPDATE ON ferry.apply_progress TO ferry_apply_plain;"
		"CREATE TABLE " SCHEMA ".parent (id int PRIMARY KEY);"
		"CREATE TABLE " SCHEMA ".child (id int PRIMARY KEY, pid int NOT NULL REFERENCES " SCHEMA ".parent);"
		"GRANT ALL ON ALL TABLES IN SCHEMA " SCHEMA " TO ferry_apply_plain");
	char ci[1024];
	snprintf(ci, sizeof ci, "%s user=ferry_apply_plain password=ferry_apply_plain", conninfo);
	PQfinish(tgt);
	tgt = PQconnectdb(ci);
	ck_assert_msg(PQstatus(tgt) == CONNECTION_OK, "connect as ferry_apply_plain: %s", PQerrorMessage(tgt));
	a = open_engine("apply_test_plain");
	ck_assert(!pg_apply_replica_role(a));
	relmsg_column pc[] = {COL("id", 23, true, "integer")};
	relmsg_column cc[] = {COL("id", 23, true, "integer"), COL("pid", 23, false, "integer")};
	describe(a, 1, "parent", 'd', pc, 1, POS(1));
	describe(a, 2, "child", 'd', cc, 2, POS(1));
	begin(a, POS(1));
	for (int i = 1; i <= 100; i++) {
		ins(a, 1, POS(1), ROW(VI(i)));
		ins(a, 2, POS(1), ROW(VI(i), VI(i)));
	}
	commit(a, POS(1));
	begin(a, POS(2));
	for (int i = 1; i <= 50; i++) {
		del(a, 2, POS(2), RECORD_IMAGE_KEY, ROW(VI(i), VN));
		del(a, 1, POS(2), RECORD_IMAGE_KEY, ROW(VI(i)));
	}
	commit(a, POS(2));
	flush_ok(a);
	pg_apply_close(a);
	expect_rows("SELECT (SELECT count(*) FROM " SCHEMA ".parent) || ' ' || (SELECT count(*) FROM " SCHEMA ".child)",
		    "50 50");
	PQfinish(tgt);
	tgt = NULL;
	exec_ok("DELETE FROM ferry.apply_progress WHERE task = 'apply_test_plain'; DROP SCHEMA " SCHEMA " CASCADE;"
		"DROP OWNED BY ferry_apply_plain; DROP ROLE ferry_apply_plain; CREATE SCHEMA " SCHEMA);
}
END_TEST

START_TEST(truncate_and_description_change)
{
	exec_ok("CREATE TABLE " SCHEMA ".tr (id int PRIMARY KEY, a int)");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("a", 23, false, "integer"),
				COL("b", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_tr");
	describe(a, 1, "tr", 'd', cols, 2, POS(1));
	begin(a, POS(1));
	for (int i = 1; i <= 5; i++)
		ins(a, 1, POS(1), ROW(VI(i), VI(i)));
	encode(RECORD_OP_TRUNCATE, 1, POS(1), RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
	ins(a, 1, POS(1), ROW(VI(6), VI(6)));
	commit(a, POS(1));
	flush_ok(a);
	expect_rows("SELECT string_agg(id::text, ',') FROM " SCHEMA ".tr", "6");
	/* a column is added on both sides; the new description replaces the old statements */
	exec_ok("ALTER TABLE " SCHEMA ".tr ADD COLUMN b text");
	begin(a, POS(2));
	describe(a, 1, "tr", 'd', cols, 3, POS(2));
	ins(a, 1, POS(2), ROW(VI(7), VI(7), VT("seven")));
	upd(a, 1, POS(2), RECORD_IMAGE_NONE, NOROW, ROW(VI(6), VI(60), VT("six")));
	commit(a, POS(2));
	flush_ok(a);
	expect_rows("SELECT id || ':' || a || ':' || b FROM " SCHEMA ".tr ORDER BY id", "6:60:six|7:7:seven");
	/* a change for a table never described is refused */
	begin(a, POS(3));
	encode(RECORD_OP_INSERT, 99, POS(3), RECORD_IMAGE_NONE, NOROW, ROW(VI(1)));
	char *err = NULL;
	ck_assert_int_eq(feed_rc(a, &err), -1);
	ck_assert_msg(strstr(err, "table id 99"), "%s", err);
	free(err);
	pg_apply_close(a);
}
END_TEST

/* Feeds one source transaction of n changes (INSERTs, or UPDATEs of every row) and
 * commits it; returns the RSS growth after the first 50000 changes, when the buffers have
 * reached their working size. */
static long big_transaction(pg_apply *a, uint64_t pos, int n, bool update)
{
	long rss0 = 0, peak = 0;
	double t0 = now_s();
	begin(a, pos);
	for (int i = 1; i <= n; i++) {
		if (update)
			upd(a, 1, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(i), VI(i % 1000 + 1), VU));
		else
			ins(a, 1, pos, ROW(VI(i), VI(i % 1000), VT("a row of the big transaction")));
		if (i % 50000 == 0) {
			long kb = rss_kb();
			if (i == 50000)
				rss0 = kb;
			if (kb > peak)
				peak = kb;
		}
	}
	commit(a, pos);
	ck_assert_int_eq(pg_apply_flush(a, NULL), 0);
	double secs = now_s() - t0;
	printf("pg_apply: 1M-row transaction (%s): %.1f s, %.0f changes/s, RSS %ld kB -> peak %ld kB\n",
	       update ? "UPDATE of every row, multi-row UPDATEs" : "INSERTs, COPY after the first 512", secs, n / secs,
	       rss0, peak);
	return peak - rss0;
}

/* One source transaction of 1M changes is streamed, never held: memory stays flat. */
START_TEST(million_row_transaction_in_flat_memory)
{
	exec_ok("CREATE TABLE " SCHEMA ".big (id bigint PRIMARY KEY, v int, t text)");
	relmsg_column cols[] = {COL("id", 20, true, "bigint"), COL("v", 23, false, "integer"),
				COL("t", 25, false, "text")};
	pg_apply *a = open_engine("apply_test_big");
	describe(a, 1, "big", 'd', cols, 3, POS(1));
	long grew_insert = big_transaction(a, POS(1), 1000000, false);
	expect_rows("SELECT count(*) || ' ' || sum(v) FROM " SCHEMA ".big", "1000000 499500000");
	long grew_update = big_transaction(a, POS(2), 1000000, true);
	expect_rows("SELECT count(*) || ' ' || sum(v) || ' ' || count(*) FILTER (WHERE t IS NULL) FROM " SCHEMA ".big",
		    "1000000 500500000 0");
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory resident */
	ck_assert_msg(grew_insert < 20 * 1024 && grew_update < 20 * 1024, "RSS grew by %ld / %ld kB", grew_insert,
		      grew_update);
#endif
	(void)grew_insert;
	(void)grew_update;
	pg_apply_close(a);
}
END_TEST

static int give_up(void *arg)
{
	int *calls = arg;
	return ++*calls >= 2;
}

/* A wait for the server is bounded by the caller's hook; a server that goes away fails
 * the engine with a message saying so. Nothing is committed either way. */
START_TEST(waits_end_when_asked_or_when_the_server_goes)
{
	exec_ok("CREATE TABLE " SCHEMA ".w (id int PRIMARY KEY)");
	relmsg_column cols[] = {COL("id", 23, true, "integer")};
	pg_apply *a = open_engine("apply_test_wait");
	int calls = 0;
	pg_apply_set_wait_hook(a, give_up, &calls);
	describe(a, 1, "w", 'd', cols, 1, POS(1));
	exec_ok("BEGIN; LOCK TABLE " SCHEMA ".w IN ACCESS EXCLUSIVE MODE");
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1)));
	commit(a, POS(1));
	double t0 = now_s();
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "interrupted"), "%s", err);
	ck_assert_msg(calls >= 2 && now_s() - t0 < 10, "%d calls", calls); /* the rollback asks too */
	free(err);
	pg_apply_free(a); /* the caller closes the connection: the server rolls back */
	PQfinish(tgt);
	exec_ok("COMMIT");
	expect_rows("SELECT count(*) FROM " SCHEMA ".w", "0");

	tgt = connect_db();
	a = open_engine("apply_test_wait");
	describe(a, 1, "w", 'd', cols, 1, POS(1));
	begin(a, POS(2));
	ins(a, 1, POS(2), ROW(VI(2)));
	char q[128];
	snprintf(q, sizeof q, "SELECT pg_terminate_backend(%d)", PQbackendPID(tgt));
	exec_ok(q);
	commit(a, POS(2));
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "target connection lost"), "%s", err);
	free(err);
	pg_apply_close(a);
	expect_rows("SELECT count(*) FROM " SCHEMA ".w", "0");
	ck_assert_uint_eq(stored_position("apply_test_wait"), 0);
}
END_TEST

/* A long run of INSERTs into one table goes on as COPY: values with the characters the
 * COPY text format escapes arrive intact, a failing row is named, a rollback abandons
 * the COPY. */
static void copy_run(pg_apply *a, uint64_t pos, int first, int n, int dup_at)
{
	char text[64];
	begin(a, pos);
	for (int i = first; i < first + n; i++) {
		snprintf(text, sizeof text, "r%d\t\n\\\r end", i);
		int id = i == dup_at ? 5 : i;
		if (i % 7 == 0)
			ins(a, 1, pos, ROW(VI(id), VN, VN, VN));
		else
			ins(a, 1, pos, ROW(VI(id), VT(text), VX("\x00\\\t\n", 4), VD("-1.50")));
	}
	commit(a, pos);
}

START_TEST(insert_runs_as_copy)
{
	exec_ok("CREATE TABLE " SCHEMA ".cp (id int PRIMARY KEY, t text, b bytea, n numeric)");
	relmsg_column cols[] = {COL("id", 23, true, "integer"), COL("t", 25, false, "text"),
				COL("b", 17, false, "bytea"), COL("n", 1700, false, "numeric")};
	pg_apply *a = open_engine("apply_test_copy");
	describe(a, 1, "cp", 'd', cols, 4, POS(1));
	copy_run(a, POS(1), 1, 1000, 0);
	flush_ok(a);
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_msg(st.statements < 20, "%" PRIu64 " statements", st.statements);
	expect_rows("SELECT count(*) || ' ' || count(t) || ' ' || "
		    "count(*) FILTER (WHERE t = 'r' || id || E'\\t\\n\\\\\\r end' AND b = '\\x005c090a' "
		    "AND n = -1.5) FROM " SCHEMA ".cp",
		    "1000 858 858");
	copy_run(a, POS(2), 1001, 1000, 1700);
	char *err = NULL;
	ck_assert_int_eq(pg_apply_flush(a, &err), -1);
	ck_assert_msg(strstr(err, "INSERT (as COPY)") && strstr(err, "\"cp\"") && strstr(err, "1/200") &&
			      strstr(err, "Key (id)=(5) already exists") && strstr(err, "COPY cp, line"),
		      "%s", err);
	free(err);
	pg_apply_close(a);
	a = open_engine("apply_test_copy");
	describe(a, 1, "cp", 'd', cols, 4, POS(1));
	copy_run(a, POS(3), 3001, 1000, 0);
	pg_apply_close(a); /* no flush: the running COPY is abandoned and rolled back */
	ck_assert_int_eq(PQtransactionStatus(tgt), PQTRANS_IDLE);
	PGresult *r = PQexec(tgt, "SELECT count(*) FROM " SCHEMA ".cp");
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1000");
	PQclear(r);
	ck_assert_uint_eq(stored_position("apply_test_copy"), POS(1));
}
END_TEST

/* pgbench_accounts-shaped UPDATEs, 10 per source transaction; and TPC-B transactions
 * (three UPDATEs and an INSERT) as pgbench makes them, with scale 30's 30 branches and
 * 300 tellers (100000 accounts). Rates are printed, not asserted. */
#define FILLER84 "                                                                                    "

static double run_updates(pg_apply *a, int txns, int per_txn, int accounts, uint64_t first)
{
	unsigned seed = 42;
	double t0 = now_s();
	for (int x = 0; x < txns; x++) {
		uint64_t pos = POS(first + (uint64_t)x);
		begin(a, pos);
		for (int k = 0; k < per_txn; k++) {
			int aid = (int)(rand_r(&seed) % (unsigned)accounts) + 1;
			upd(a, 1, pos, RECORD_IMAGE_NONE, NOROW,
			    ROW(VI(aid), VI((aid - 1) / 100000 + 1), VI(rand_r(&seed) % 10000 - 5000), VT(FILLER84)));
		}
		commit(a, pos);
		if (pg_apply_pending_changes(a) >= 10000)
			flush_ok(a);
	}
	flush_ok(a);
	return now_s() - t0;
}

static double run_tpcb(pg_apply *a, int txns, uint64_t first)
{
	unsigned seed = 7;
	double t0 = now_s();
	for (int x = 0; x < txns; x++) {
		uint64_t pos = POS(first + (uint64_t)x);
		int aid = (int)(rand_r(&seed) % 100000) + 1, tid = (int)(rand_r(&seed) % 300) + 1;
		int bid = (int)(rand_r(&seed) % 30) + 1, delta = rand_r(&seed) % 100;
		begin(a, pos);
		upd(a, 1, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(aid), VI(1), VI(delta), VT(FILLER84)));
		upd(a, 2, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(tid), VI(1), VI(delta), VN));
		upd(a, 3, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(bid), VI(delta), VN));
		ins(a, 4, pos, ROW(VI(tid), VI(bid), VI(aid), VI(delta), VTS(x), VN));
		commit(a, pos);
		if (pg_apply_pending_changes(a) >= 10000)
			flush_ok(a);
	}
	flush_ok(a);
	return now_s() - t0;
}

START_TEST(pgbench_like_rate)
{
	exec_ok("CREATE TABLE " SCHEMA ".pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84)) "
		"WITH (fillfactor = 90);"
		"CREATE TABLE " SCHEMA ".pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));"
		"CREATE TABLE " SCHEMA ".pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));"
		"CREATE TABLE " SCHEMA ".pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, "
		"filler char(22));"
		"INSERT INTO " SCHEMA ".pgbench_accounts SELECT g, 1, 0, '' FROM generate_series(1, 100000) g;"
		"INSERT INTO " SCHEMA ".pgbench_tellers SELECT g, 1, 0 FROM generate_series(1, 300) g;"
		"INSERT INTO " SCHEMA ".pgbench_branches SELECT g, 0 FROM generate_series(1, 30) g");
	exec_ok("VACUUM ANALYZE " SCHEMA ".pgbench_accounts");
	relmsg_column acc[] = {COL("aid", 23, true, "integer"), COL("bid", 23, false, "integer"),
			       COL("abalance", 23, false, "integer"), COL("filler", 1042, false, "character(84)")};
	relmsg_column tel[] = {COL("tid", 23, true, "integer"), COL("bid", 23, false, "integer"),
			       COL("tbalance", 23, false, "integer"), COL("filler", 1042, false, "character(84)")};
	relmsg_column bra[] = {COL("bid", 23, true, "integer"), COL("bbalance", 23, false, "integer"),
			       COL("filler", 1042, false, "character(88)")};
	relmsg_column his[] = {COL("tid", 23, false, "integer"), COL("bid", 23, false, "integer"),
			       COL("aid", 23, false, "integer"), COL("delta", 23, false, "integer"),
			       COL("mtime", 1114, false, "timestamp without time zone"),
			       COL("filler", 1042, false, "character(22)")};
	pg_apply *a = open_engine("apply_test_bench");
	describe(a, 1, "pgbench_accounts", 'd', acc, 4, POS(1));
	describe(a, 2, "pgbench_tellers", 'd', tel, 4, POS(1));
	describe(a, 3, "pgbench_branches", 'd', bra, 3, POS(1));
	describe(a, 4, "pgbench_history", 'd', his, 6, POS(1));
	double s1 = run_updates(a, 20000, 10, 100000, 1);
	printf("pg_apply: pgbench_accounts UPDATEs: 200000 changes in 20000 transactions: %.2f s, %.0f changes/s\n", s1,
	       200000 / s1);
	double s2 = run_tpcb(a, 50000, 100000);
	printf("pg_apply: TPC-B transactions (3 UPDATEs + 1 INSERT): 200000 changes in 50000 transactions: %.2f s, "
	       "%.0f changes/s\n", s2, 200000 / s2);
	pg_apply_stats st;
	pg_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.changes, 400000);
	ck_assert_uint_eq(st.transactions, 70000);
	expect_rows("SELECT count(*) FROM " SCHEMA ".pgbench_history", "50000");
	/* every teller and branch holds the value of its last update (the history row of the
	 * same transaction has it) */
	expect_rows("SELECT count(*) FROM " SCHEMA ".pgbench_tellers t JOIN (SELECT DISTINCT ON (tid) tid, delta FROM "
		    SCHEMA ".pgbench_history ORDER BY tid, mtime DESC) h USING (tid) WHERE t.tbalance = h.delta", "300");
	expect_rows("SELECT count(*) FROM " SCHEMA ".pgbench_branches b JOIN (SELECT DISTINCT ON (bid) bid, delta FROM "
		    SCHEMA ".pgbench_history ORDER BY bid, mtime DESC) h USING (bid) WHERE b.bbalance = h.delta", "30");
	pg_apply_close(a);
}
END_TEST

static Suite *suite(bool live)
{
	Suite *s = suite_create("pg_apply");
	TCase *tc = tcase_create("statement_text");
	tcase_add_test(tc, statement_text);
	suite_add_tcase(s, tc);
	if (!live)
		return s;
	struct {
		const char *name;
		const TTest *test;
		int timeout;
	} cases[] = {
		{"values", values_of_many_types, 20},
		{"exactly_once", exactly_once_across_a_crash, 20},
		{"toast", unchanged_toast_is_kept, 20},
		{"statement_cache", statement_cache_is_bounded, 20},
		{"key_change", key_change_uses_the_old_key, 20},
		{"keyless", keyless_table_touches_one_row, 20},
		{"idempotent", idempotent_mode_until_the_load_position, 20},
		{"exact_errors", exact_mode_error_commits_nothing, 20},
		{"batched", batched_changes_name_the_missing_key, 20},
		{"hot_keys", held_batch_merges_hot_keys, 20},
		{"source_order", source_order_without_replica_role, 20},
		{"truncate_relation", truncate_and_description_change, 20},
		{"copy", insert_runs_as_copy, 20},
		{"waits", waits_end_when_asked_or_when_the_server_goes, 20},
		{"big_transaction", million_row_transaction_in_flat_memory, 120},
		{"pgbench_rate", pgbench_like_rate, 120},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, cases[i].timeout);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	conninfo = getenv("FERRY_TEST_PGCONNINFO");
	bool live = conninfo && *conninfo;
	SRunner *sr = srunner_create(suite(live));
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (!live) {
		printf("FERRY_TEST_PGCONNINFO not set: live apply cases skipped\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
