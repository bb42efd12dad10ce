/* The MySQL apply engine against a real MariaDB (FERRY_TEST_MYSQL_SOCKET, a root socket;
 * the cases are skipped with 77 without it). Records are built by hand with the record
 * encoder and relmsg_encode, applied, and the target is checked with SQL: exactly once
 * across a reopen, multi-row INSERTs, refused changes naming table, key and position
 * (the row inside a multi-row INSERT), idempotent and exact modes, key changes, keyless
 * tables with duplicate rows, TRUNCATE inside the transaction, invalid values; changes
 * merged per key into few statements, with exact mode's checks kept. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/record.h"
#include "ipc/relmsg.h"
#include "workers/my_apply.h"

#define DB "ferry_my_apply_test"
#define TASK "my_apply_test"
#define POS(n) (UINT64_C(0x100000000) + (uint64_t)(n) * 0x100)

static const char *sock;
static MYSQL *sql; /* verification */
static MYSQL *tgt; /* the engine's connection */
static record_buf rb;

/* ---- records by hand ------------------------------------------------------------------ */

typedef struct tv {
	record_kind k;
	int64_t i;
	double f;
	const char *s;
} tv;

#define VI(x) ((tv){.k = RECORD_KIND_INT64, .i = (x)})
#define VT(x) ((tv){.k = RECORD_KIND_TEXT, .s = (x)})
#define VF(x) ((tv){.k = RECORD_KIND_FLOAT64, .f = (x)})
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
	case RECORD_KIND_FLOAT64: record_put_float64(e, v.f); break;
	default: record_put_text(e, v.s, strlen(v.s)); break;
	}
}

static void encode(record_op op, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold,
		   const tv *nw, int nnew)
{
	record_header h = {.op = op, .table_id = table, .position = pos, .old_image = oi, .has_new = nw != NULL};
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
	ck_assert_int_eq(record_encode_finish(&e), 0);
}

static int feed_rc(my_apply *a, char **err)
{
	*err = NULL;
	return my_apply_record(a, rb.data, rb.len, err);
}

static void feed(my_apply *a)
{
	char *err = NULL;
	if (feed_rc(a, &err) != 0)
		ck_abort_msg("record refused: %s", err ? err : "?");
}

static void begin(my_apply *a, uint64_t pos)
{
	encode(RECORD_OP_BEGIN, 0, pos, RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
}

static void commit(my_apply *a, uint64_t pos)
{
	encode(RECORD_OP_COMMIT, 0, pos, RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
}

static void ins(my_apply *a, uint32_t table, uint64_t pos, const tv *v, int n)
{
	encode(RECORD_OP_INSERT, table, pos, RECORD_IMAGE_NONE, NOROW, v, n);
	feed(a);
}

static void upd(my_apply *a, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold, const tv *v,
		int n)
{
	encode(RECORD_OP_UPDATE, table, pos, oi, old, nold, v, n);
	feed(a);
}

static void del(my_apply *a, uint32_t table, uint64_t pos, record_image oi, const tv *old, int nold)
{
	encode(RECORD_OP_DELETE, table, pos, oi, old, nold, NOROW);
	feed(a);
}

#define COL(n, oid, k, tn) ((relmsg_column){.name = (n), .type_oid = (oid), .typmod = -1, .key = (k), .type_name = (tn)})

/* Table 1: t (id int key, v text, f real); table 2: nk (a int, b text), no key. */
static void describe_tables(my_apply *a, uint64_t pos)
{
	relmsg_column t_cols[] = {COL("id", 23, true, "integer"), COL("v", 25, false, "text"),
				  COL("f", 700, false, "real")};
	relmsg r = {.table_id = 1, .source_schema = "public", .source_name = "t", .target_schema = DB,
		    .target_name = "t", .replident = 'd', .ncols = 3, .cols = t_cols};
	ck_assert_int_eq(relmsg_encode(&rb, pos, &r), 0);
	feed(a);
	relmsg_column nk_cols[] = {COL("a", 23, false, "integer"), COL("b", 25, false, "text")};
	relmsg k = {.table_id = 2, .source_schema = "public", .source_name = "nk", .target_schema = DB,
		    .target_name = "nk", .replident = 'f', .ncols = 2, .cols = nk_cols};
	ck_assert_int_eq(relmsg_encode(&rb, pos, &k), 0);
	feed(a);
}

static my_apply *open_engine(invalid_values_kind invalid)
{
	char *err = NULL;
	my_apply *a = my_apply_open(tgt, TASK, 1, ENGINE_POSTGRESQL, invalid, &err);
	ck_assert_msg(a != NULL, "open: %s", err ? err : "?");
	describe_tables(a, 0);
	return a;
}

static void flush_ok(my_apply *a)
{
	char *err = NULL;
	int rc = my_apply_flush(a, &err);
	ck_assert_msg(rc == 0, "flush: %d %s", rc, err ? err : "");
}

/* The flush's error (the caller frees), asserting it failed. */
static char *flush_fails(my_apply *a)
{
	char *err = NULL;
	ck_assert_int_eq(my_apply_flush(a, &err), -1);
	ck_assert_ptr_nonnull(err);
	return err;
}

/* ---- SQL helpers ----------------------------------------------------------------------------- */

static MYSQL *connect_db(void)
{
	MYSQL *m = mysql_init(NULL);
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	ck_assert_msg(mysql_real_connect(m, NULL, "root", NULL, NULL, 0, sock, 0) != NULL, "connect: %s", mysql_error(m));
	return m;
}

static void exec_ok(const char *q)
{
	ck_assert_msg(mysql_query(sql, q) == 0, "%s: %s", q, mysql_error(sql));
	MYSQL_RES *r = mysql_store_result(sql);
	if (r)
		mysql_free_result(r);
}

/* The first column of every row, joined with "|" (static buffer). */
static const char *rows(const char *q)
{
	static char out[4096];
	ck_assert_msg(mysql_query(sql, q) == 0, "%s: %s", q, mysql_error(sql));
	MYSQL_RES *r = mysql_store_result(sql);
	MYSQL_ROW row;
	out[0] = '\0';
	for (int i = 0; r && (row = mysql_fetch_row(r)) != NULL; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", row[0] ? row[0] : "NULL");
	if (r)
		mysql_free_result(r);
	return out;
}

static void setup(void)
{
	sock = getenv("FERRY_TEST_MYSQL_SOCKET");
	if (sock == NULL || *sock == '\0')
		return;
	sql = connect_db();
	tgt = connect_db();
	record_buf_init(&rb);
	exec_ok("DROP DATABASE IF EXISTS " DB);
	exec_ok("CREATE DATABASE " DB " CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin");
	exec_ok("CREATE TABLE " DB ".t (id int PRIMARY KEY, v longtext, f float) ENGINE=InnoDB");
	exec_ok("CREATE TABLE " DB ".nk (a int, b longtext) ENGINE=InnoDB");
	exec_ok("CREATE DATABASE IF NOT EXISTS ferry");
	exec_ok("DROP TABLE IF EXISTS ferry.apply_progress");
}

static void teardown(void)
{
	if (sql == NULL)
		return;
	record_buf_free(&rb);
	mysql_close(tgt);
	mysql_close(sql);
	sql = tgt = NULL;
}

#define LIVE_OR_SKIP()                 \
	do {                           \
		if (sql == NULL)       \
			return;        \
	} while (0)

/* ---- cases ------------------------------------------------------------------------------------ */

START_TEST(exactly_once_across_a_reopen)
{
	LIVE_OR_SKIP();
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	ck_assert_uint_eq(my_apply_position(a), 0);
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1), VT("one\t'\\\n"), VF(0.1)));
	ins(a, 1, POS(1), ROW(VI(2), VT("two 😀"), VN));
	ins(a, 1, POS(1), ROW(VI(3), VN, VF(-1.5)));
	commit(a, POS(1));
	flush_ok(a);
	ck_assert_uint_eq(my_apply_position(a), POS(1));
	my_apply_stats st;
	my_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.changes, 3);
	ck_assert_uint_le(st.packets, 3); /* START + 3 rows + progress in one, COMMIT in another */
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT CONCAT_WS(',', id, HEX(v), f) FROM " DB ".t ORDER BY id"),
			 "1,6F6E6509275C0A,0.1|2,74776F20F09F9880|3,-1.5");
	ck_assert_str_eq(rows("SELECT position FROM ferry.apply_progress WHERE task = '" TASK "'"), "4294967552");
	/* the same transaction again after a restart: skipped, then the next one */
	a = open_engine(INVALID_VALUES_ERROR);
	ck_assert_uint_eq(my_apply_position(a), POS(1));
	begin(a, POS(1));
	ins(a, 1, POS(1), ROW(VI(1), VT("one"), VN));
	commit(a, POS(1));
	begin(a, POS(2));
	ins(a, 1, POS(2), ROW(VI(4), VT("four"), VN));
	commit(a, POS(2));
	flush_ok(a);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t"), "4");
}
END_TEST

START_TEST(refusals_name_table_key_and_position)
{
	LIVE_OR_SKIP();
	exec_ok("INSERT INTO " DB ".t VALUES (1, 'x', NULL), (5, 'y', NULL)");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(3));
	ins(a, 1, POS(3), ROW(VI(10), VT("a"), VN));
	ins(a, 1, POS(3), ROW(VI(5), VT("dup"), VN));
	ins(a, 1, POS(3), ROW(VI(12), VT("c"), VN));
	commit(a, POS(3));
	char *err = flush_fails(a);
	/* the row inside the multi-row INSERT, not the statement's first */
	ck_assert_msg(strstr(err, "`" DB "`.`t`") && strstr(err, "key id=5") && strstr(err, "source position 1/300") &&
		      strstr(err, "Duplicate entry"), "%s", err);
	free(err);
	ck_assert_int_eq(feed_rc(a, &err), -1); /* refuses further work */
	free(err);
	ck_assert_str_eq(my_apply_failed_table(a), "\"" DB "\".\"t\"");
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT GROUP_CONCAT(id ORDER BY id) FROM " DB ".t"), "1,5");
	ck_assert_str_eq(rows("SELECT position FROM ferry.apply_progress WHERE task = '" TASK "'"), "0");
	/* exact mode: an UPDATE and a DELETE must find their row */
	a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(4));
	upd(a, 1, POS(4), RECORD_IMAGE_NONE, NOROW, ROW(VI(999), VT("z"), VN));
	commit(a, POS(4));
	err = flush_fails(a);
	ck_assert_msg(strstr(err, "UPDATE at source position 1/400, key id=999: no row with this key"), "%s", err);
	free(err);
	my_apply_close(a);
	a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(5));
	del(a, 2, POS(5), RECORD_IMAGE_FULL, ROW(VI(7), VN));
	commit(a, POS(5));
	err = flush_fails(a);
	ck_assert_msg(strstr(err, "`" DB "`.`nk`: DELETE at source position 1/500") &&
		      strstr(err, "no row equal to the old row"), "%s", err);
	free(err);
	my_apply_close(a);
}
END_TEST

START_TEST(idempotent_then_exact)
{
	LIVE_OR_SKIP();
	exec_ok("INSERT INTO " DB ".t VALUES (1, 'old', NULL), (2, 'moves', NULL)");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	ck_assert_int_eq(my_apply_set_idempotent(a, 1, POS(6)), 0);
	begin(a, POS(6));
	ins(a, 1, POS(6), ROW(VI(1), VT("new"), VN));                                       /* exists: updated */
	upd(a, 1, POS(6), RECORD_IMAGE_NONE, NOROW, ROW(VI(50), VT("was missing"), VN));   /* missing: inserted */
	del(a, 1, POS(6), RECORD_IMAGE_KEY, ROW(VI(77), VN, VN));                           /* missing: fine */
	upd(a, 1, POS(6), RECORD_IMAGE_KEY, ROW(VI(2), VN, VN), ROW(VI(60), VT("moved"), VN)); /* key change */
	commit(a, POS(6));
	begin(a, POS(7)); /* past the position: exact again */
	upd(a, 1, POS(7), RECORD_IMAGE_KEY, ROW(VI(60), VN, VN), ROW(VI(61), VT("moved again"), VN));
	commit(a, POS(7));
	flush_ok(a);
	begin(a, POS(8));
	ins(a, 1, POS(8), ROW(VI(61), VT("dup"), VN));
	commit(a, POS(8));
	char *err = flush_fails(a);
	ck_assert_msg(strstr(err, "key id=61"), "%s", err);
	free(err);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT CONCAT(id, '=', v) FROM " DB ".t ORDER BY id"), "1=new|50=was missing|61=moved again");
}
END_TEST

START_TEST(keyless_tables_and_truncate)
{
	LIVE_OR_SKIP();
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(9));
	ins(a, 2, POS(9), ROW(VI(1), VT("x")));
	ins(a, 2, POS(9), ROW(VI(1), VT("x")));
	ins(a, 2, POS(9), ROW(VI(2), VN));
	del(a, 2, POS(9), RECORD_IMAGE_FULL, ROW(VI(1), VT("x")));                          /* one of the two */
	upd(a, 2, POS(9), RECORD_IMAGE_FULL, ROW(VI(2), VN), ROW(VI(2), VT("y")));           /* found by IS NULL */
	commit(a, POS(9));
	flush_ok(a);
	ck_assert_str_eq(rows("SELECT CONCAT(a, b) FROM " DB ".nk ORDER BY a"), "1x|2y");
	begin(a, POS(10));
	encode(RECORD_OP_TRUNCATE, 2, POS(10), RECORD_IMAGE_NONE, NOROW, NOROW);
	feed(a);
	ins(a, 2, POS(10), ROW(VI(3), VT("after")));
	commit(a, POS(10));
	flush_ok(a);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT CONCAT(a, b) FROM " DB ".nk"), "3after");
}
END_TEST

START_TEST(invalid_values_follow_the_setting)
{
	LIVE_OR_SKIP();
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(11));
	encode(RECORD_OP_INSERT, 1, POS(11), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VT("nan"), VF(NAN)));
	char *err = NULL;
	ck_assert_int_eq(feed_rc(a, &err), -1);
	ck_assert_msg(strstr(err, "column f") && strstr(err, "NaN") && strstr(err, "invalid_values"), "%s", err);
	free(err);
	my_apply_close(a);
	a = open_engine(INVALID_VALUES_SUBSTITUTE);
	begin(a, POS(11));
	ins(a, 1, POS(11), ROW(VI(1), VT("nan"), VF(NAN)));
	ins(a, 1, POS(11), ROW(VI(2), VT("inf"), VF(INFINITY)));
	commit(a, POS(11));
	flush_ok(a);
	my_apply_stats st;
	my_apply_get_stats(a, &st);
	ck_assert_uint_eq(st.invalid, 2);
	ck_assert_uint_eq(my_apply_take_invalid(a, 1), 2); /* committed: counted for status once */
	ck_assert_uint_eq(my_apply_take_invalid(a, 1), 0);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT CONCAT_WS(',', id, COALESCE(f, 'null'), CAST(f AS DOUBLE) = 3.4028234663852886e38)"
			      " FROM " DB ".t ORDER BY id"), "1,null|2,3.40282e38,1");
}
END_TEST


/* A burst on one table becomes a few statements, and the target ends as the source did:
 * inserts, updates, deletes, re-inserts, key moves, rows that come and go, and a change
 * that cannot be merged (an unchanged value) keeping its place in the order. */
START_TEST(bursts_are_merged_by_key)
{
	LIVE_OR_SKIP();
	exec_ok("INSERT INTO " DB ".t SELECT seq, CONCAT('old', seq), NULL FROM " DB ".seq_1_to_2000");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	char v[32];
	for (int txn = 0; txn < 10; txn++) {
		uint64_t pos = POS(20 + txn);
		begin(a, pos);
		for (int k = 1 + txn * 200; k <= (txn + 1) * 200; k++) {
			snprintf(v, sizeof v, "u%d", k);
			upd(a, 1, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(k), VT(v), VN));
			if (k % 5 == 0) { /* gone and back: a new value */
				del(a, 1, pos, RECORD_IMAGE_KEY, ROW(VI(k), VN, VN));
				snprintf(v, sizeof v, "back%d", k);
				ins(a, 1, pos, ROW(VI(k), VT(v), VN));
			}
			if (k % 7 == 0)
				del(a, 1, pos, RECORD_IMAGE_KEY, ROW(VI(k), VN, VN));
			snprintf(v, sizeof v, "new%d", k);
			ins(a, 1, pos, ROW(VI(10000 + k), VT(v), VN));
			if (k % 3 == 0) /* comes and goes within the burst */
				del(a, 1, pos, RECORD_IMAGE_KEY, ROW(VI(10000 + k), VN, VN));
		}
		commit(a, pos);
	}
	begin(a, POS(30));
	upd(a, 1, POS(30), RECORD_IMAGE_KEY, ROW(VI(1), VN, VN), ROW(VI(9999), VT("moved"), VN)); /* key change */
	upd(a, 1, POS(30), RECORD_IMAGE_NONE, NOROW, ROW(VI(2), VU, VF(2.5))); /* not mergeable: after the merged */
	upd(a, 1, POS(30), RECORD_IMAGE_NONE, NOROW, ROW(VI(2), VT("after"), VF(2.5)));
	commit(a, POS(30));
	flush_ok(a);
	my_apply_stats st;
	my_apply_get_stats(a, &st);
	my_apply_close(a);
	ck_assert_uint_gt(st.merged_keys, 3000);
	ck_assert_msg(st.statements < 60, "%" PRIu64 " statements for %" PRIu64 " changes", st.statements, st.changes);
	/* the expected state, computed by the server from the same rules */
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t"), "3049");
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t WHERE id BETWEEN 3 AND 2000 AND v <> IF(id % 7 = 0, 'x', "
			      "IF(id % 5 = 0, CONCAT('back', id), CONCAT('u', id)))"), "0");
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t WHERE id % 7 = 0 AND id <= 2000"), "0");
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t WHERE id > 10000 AND ((id - 10000) % 3 = 0 OR v <> "
			      "CONCAT('new', id - 10000))"), "0");
	ck_assert_str_eq(rows("SELECT CONCAT_WS(',', id, v, f) FROM " DB ".t WHERE id IN (1, 2, 9999) ORDER BY id"),
			 "2,after,2.5|9999,moved");
}
END_TEST

/* Exact mode survives the merge: a key whose change found no row on the target stops the
 * task naming that key, its change and position, and nothing of the transaction stays. */
START_TEST(merged_changes_keep_exact_checks)
{
	LIVE_OR_SKIP();
	exec_ok("INSERT INTO " DB ".t SELECT seq, 'x', NULL FROM " DB ".seq_1_to_100 WHERE seq <> 42");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(40));
	for (int k = 1; k <= 100; k++) { /* three source transactions, 42 alone in the middle one */
		uint64_t pos = k < 42 ? POS(40) : k == 42 ? POS(41) : POS(43);
		if (k == 42) {
			commit(a, POS(40));
			begin(a, pos);
		}
		upd(a, 1, pos, RECORD_IMAGE_NONE, NOROW, ROW(VI(k), VT("y"), VN));
		if (k == 42) {
			commit(a, pos);
			begin(a, POS(43));
		}
	}
	commit(a, POS(43));
	char *err = flush_fails(a);
	ck_assert_msg(strstr(err, "UPDATE at source position 1/2900, key id=42: no row with this key") &&
		      strstr(err, "99 of the 100 keys"), "%s", err);
	free(err);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t WHERE v = 'y'"), "0");
	/* an INSERT of a key the merged state has: its own statement, refused by the server */
	a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(44));
	ins(a, 1, POS(44), ROW(VI(500), VT("a"), VN));
	ins(a, 1, POS(44), ROW(VI(501), VT("b"), VN));
	ins(a, 1, POS(44), ROW(VI(500), VT("again"), VN));
	commit(a, POS(44));
	err = flush_fails(a);
	ck_assert_msg(strstr(err, "INSERT at source position 1/2C00, key id=500") && strstr(err, "Duplicate entry"), "%s",
		      err);
	free(err);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT COUNT(*) FROM " DB ".t WHERE id >= 500"), "0");
}
END_TEST

/* Idempotent mode: rows the snapshot already has are replaced, missing ones written. */
START_TEST(merged_changes_idempotent)
{
	LIVE_OR_SKIP();
	exec_ok("INSERT INTO " DB ".t VALUES (1, 'snap', NULL), (2, 'snap', NULL)");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	ck_assert_int_eq(my_apply_set_idempotent(a, 1, POS(50)), 0);
	begin(a, POS(50));
	ins(a, 1, POS(50), ROW(VI(1), VT("ins"), VN));                                   /* there already */
	upd(a, 1, POS(50), RECORD_IMAGE_NONE, NOROW, ROW(VI(3), VT("upd"), VN));         /* not there */
	del(a, 1, POS(50), RECORD_IMAGE_KEY, ROW(VI(2), VN, VN));
	del(a, 1, POS(50), RECORD_IMAGE_KEY, ROW(VI(4), VN, VN));                        /* not there */
	commit(a, POS(50));
	begin(a, POS(51)); /* exact again, in the same target transaction */
	ins(a, 1, POS(51), ROW(VI(5), VT("exact"), VN));
	upd(a, 1, POS(51), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VT("exact"), VN));
	commit(a, POS(51));
	flush_ok(a);
	my_apply_close(a);
	ck_assert_str_eq(rows("SELECT CONCAT(id, '=', v) FROM " DB ".t ORDER BY id"), "1=exact|3=upd|5=exact");
}
END_TEST

/* A target table with a column the changes do not write keeps it: no merging there (an
 * INSERT would reset it to its default), an UPDATE per change instead. */
START_TEST(extra_target_columns_are_not_merged)
{
	LIVE_OR_SKIP();
	exec_ok("ALTER TABLE " DB ".t ADD COLUMN note varchar(10) DEFAULT 'dflt'");
	exec_ok("INSERT INTO " DB ".t VALUES (1, 'a', NULL, 'mine'), (2, 'b', NULL, 'mine')");
	my_apply *a = open_engine(INVALID_VALUES_ERROR);
	begin(a, POS(60));
	upd(a, 1, POS(60), RECORD_IMAGE_NONE, NOROW, ROW(VI(1), VT("a2"), VN));
	upd(a, 1, POS(60), RECORD_IMAGE_NONE, NOROW, ROW(VI(2), VT("b2"), VN));
	ins(a, 1, POS(60), ROW(VI(3), VT("c"), VN));
	commit(a, POS(60));
	flush_ok(a);
	my_apply_stats st;
	my_apply_get_stats(a, &st);
	my_apply_close(a);
	ck_assert_uint_eq(st.merged_keys, 0);
	ck_assert_str_eq(rows("SELECT CONCAT(id, v, note) FROM " DB ".t ORDER BY id"), "1a2mine|2b2mine|3cdflt");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("my_apply");
	TCase *tc = tcase_create("live");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, exactly_once_across_a_reopen);
	tcase_add_test(tc, refusals_name_table_key_and_position);
	tcase_add_test(tc, idempotent_then_exact);
	tcase_add_test(tc, keyless_tables_and_truncate);
	tcase_add_test(tc, invalid_values_follow_the_setting);
	tcase_add_test(tc, bursts_are_merged_by_key);
	tcase_add_test(tc, merged_changes_keep_exact_checks);
	tcase_add_test(tc, merged_changes_idempotent);
	tcase_add_test(tc, extra_target_columns_are_not_merged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *s = getenv("FERRY_TEST_MYSQL_SOCKET");
	if (s == NULL || *s == '\0') {
		printf("live: no (FERRY_TEST_MYSQL_SOCKET not set)\n");
		return 77;
	}
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("live: yes\n");
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
