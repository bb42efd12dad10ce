/* Unit tests: the binlog decoder. Offline on events captured from MariaDB 10.11 (golden
 * bytes below); live (FERRY_TEST_MYSQL_SOCKET) on events a throwaway MariaDB writes for
 * an edge-value corpus of every mapped type, read through the client library's
 * replication API as capture reads them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mariadb_rpl.h>

#include "common/typemap.h"
#include "ipc/record.h"
#include "workers/my_binlog.h"
#include "workers/my_catalog.h"
#include "workers/my_pgmap.h"
#include "workers/my_rowdec.h"
#include "workers/my_stream.h"
#include "workers/pg_value.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (; hex[0] && hex[1] && n < cap; hex += 2)
		sscanf(hex, "%2hhx", &out[n++]);
	return n;
}

/* A MySQL table of the given COLUMN_TYPEs, shaped for PostgreSQL. */
static catalog *make_table(const char *const *types, int n, int latin1, my_pg_table *pt)
{
	catalog *cat = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(cat, "app", "uu");
	char name[16], why[200];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "c%d", i);
		catalog_column *c = catalog_add_column(t, name, types[i]);
		ck_assert_msg(typemap_mysql_parse(types[i], strcmp(types[i], "longtext json") == 0, &c->type, why, sizeof why) == 0 ||
				      strcmp(types[i], "longtext json") == 0, "%s", why);
		if (strcmp(types[i], "longtext json") == 0)
			c->type.cls = CATALOG_TYPE_JSON;
		if (c->type.cls == CATALOG_TYPE_TEXT || c->type.cls == CATALOG_TYPE_CHAR || c->type.cls == CATALOG_TYPE_ENUM)
			catalog_set_string(&c->collation, i == latin1 ? "latin1_swedish_ci" : "utf8mb4_general_ci");
	}
	strbuf problems = STRBUF_INIT;
	my_pg_options o = {.cdc = true};
	ck_assert_msg(my_pg_table_build(t, &o, pt, &problems, NULL) == 0, "%s", strbuf_str(&problems));
	strbuf_free(&problems);
	return cat;
}

/* Each image of a rows event as "v1|v2|..." in PostgreSQL input text (NULL, UNCHANGED). */
static int render_rows(const my_table_map *tm, const my_pg_table *pt, const my_rows *rows, char out[][4096], int max,
		       invalid_values_kind policy, char *why, size_t why_len)
{
	const uint8_t *p = rows->data, *end = rows->data + rows->data_len;
	my_cell cells[64];
	int n = 0;
	strbuf scratch = STRBUF_INIT;
	record_buf buf;
	record_buf_init(&buf);
	my_invalid inv = {.policy = policy};
	while (p < end && n < max) {
		const uint8_t *bitmap = rows->kind == MY_ROWS_UPDATE && n % 2 ? rows->present_after : rows->present;
		if (my_binlog_image(tm, bitmap, &p, end, cells, why, why_len) < 0)
			return -1;
		record_encoder e;
		record_header h = {.op = RECORD_OP_INSERT, .table_id = 1, .position = 1, .has_new = true};
		record_encode_begin(&e, &buf, &h);
		if (my_rowdec_tuple(&e, tm, pt, cells, false, &inv, &scratch, why, why_len) < 0)
			return -1;
		ck_assert_int_eq(record_encode_finish(&e), 0);
		record_view v;
		record_error re;
		ck_assert_int_eq(record_decode(buf.data, buf.len, &v, &re), 0);
		record_iter it;
		record_value val;
		strbuf sb = STRBUF_INIT;
		record_iter_init(&it, &v.new_tuple);
		while (record_iter_next(&it, &val)) {
			if (sb.len > 0)
				strbuf_append_char(&sb, '|');
			if (val.kind == RECORD_KIND_NULL || val.kind == RECORD_KIND_UNCHANGED)
				strbuf_append(&sb, val.kind == RECORD_KIND_NULL ? "NULL" : "UNCHANGED");
			else
				pg_value_append_text(&sb, &val);
		}
		snprintf(out[n++], 4096, "%s", strbuf_str(&sb));
		strbuf_free(&sb);
	}
	record_buf_free(&buf);
	strbuf_free(&scratch);
	return n;
}

/* ---- offline: golden events --------------------------------------------------------------------- */

/* app.uu (id int, u uuid, i6 inet6, i4 inet4, tm time(3), dt datetime, ts timestamp(6), y year,
 * b bit(10), e enum('a','b'), s set('x','y'), bn binary(3), d decimal(10,3), f float, g double,
 * j json, l longtext, c char(3)): TABLE_MAP and WRITE_ROWS of two rows, as fetched (raw_data
 * from the header on, CRC32 checksum included). */
static const char golden_map[] =
	"893f046b13010000005800000080030000000009010000000001000361707000027575001203fefefe1312110d10fefefef6"
	"0405fcfcfe19fe10fe10fe040300060201f701f801fe030a0304080404fe0cfeff030017f470";
static const char golden_rows[] =
	"893f046b1701000000b7000000370400000000090100000000010012ffff030000fc030000000fe9a1c50b0b7c4a72a1d45b9b3d"
	"1f3a1000000000000000000000ffff01020304040a0000017ffffeec7899b2bac8b83a7b83720c0a14ff02aa020301617fffff84"
	"fe3dcdcccc3d00000000000004c00a0000007b226b223a205b315d7d070000006c7863337861390261624ee2fc04000000b46efb"
	"00008cb2420000000000000080000000000000000000009d0c21b8";
static const char *const uu_types[] = {"int(11)", "uuid", "inet6", "inet4", "time(3)", "datetime", "timestamp(6)",
				       "year(4)", "bit(10)", "enum('a','b')", "set('x','y')", "binary(3)",
				       "decimal(10,3)", "float", "double", "longtext json", "longtext", "char(3)"};

START_TEST(golden_events_decode)
{
	uint8_t raw[512];
	my_event ev;
	char err[300];
	size_t n = unhex(golden_map, raw, sizeof raw);
	ck_assert_int_eq(my_binlog_event(raw, n, true, &ev, err, sizeof err), 0);
	ck_assert_int_eq(ev.type, MY_EV_TABLE_MAP);
	ck_assert_uint_eq(my_binlog_event_start(&ev), 896 - 88);
	my_table_map tm;
	ck_assert_msg(my_binlog_table_map(&ev, &tm, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(tm.schema, "app");
	ck_assert_str_eq(tm.table, "uu");
	ck_assert_int_eq(tm.ncols, 18);
	ck_assert_int_eq(tm.types[12], MY_T_NEWDECIMAL);
	ck_assert_uint_eq(tm.meta[12], (10 << 8) | 3);
	my_pg_table pt;
	catalog *cat = make_table(uu_types, 18, -1, &pt);
	ck_assert_msg(my_rowdec_check(&tm, &pt, err, sizeof err) == 0, "%s", err);
	uint8_t rraw[512];
	n = unhex(golden_rows, rraw, sizeof rraw);
	ck_assert_int_eq(my_binlog_event(rraw, n, true, &ev, err, sizeof err), 0);
	my_rows rows;
	ck_assert_int_eq(my_binlog_rows(&ev, &rows, err, sizeof err), 0);
	ck_assert_uint_eq(rows.table_id, tm.table_id);
	char out[4][4096];
	ck_assert_msg(render_rows(&tm, &pt, &rows, out, 4, INVALID_VALUES_ERROR, err, sizeof err) == 2, "%s", err);
	ck_assert_str_eq(out[0], "3|e9a1c50b-0b7c-4a72-a1d4-5b9b3d1f3a00|::ffff:1.2.3.4|10.0.0.1|-00:00:01.5|"
				 "2024-02-29 12:34:56|2001-02-03 04:05:06.789012+00|2155|1010101010|b|{\"x\",\"y\"}|"
				 "\\x610000|-123.450|0.10000000149011612|-2.5|{\"k\": [1]}|lxc3xa9|ab");
	ck_assert_str_eq(out[1], "4|NULL|NULL|NULL|838:59:59|1000-01-01 00:00:00|NULL|0|0000000000|NULL|{}|\\x000000|"
				 "0.000|NULL|NULL|NULL||");
	/* a table whose column count changed is refused with the reason */
	tm.ncols = 17;
	ck_assert_int_eq(my_rowdec_check(&tm, &pt, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "has 17 columns in the change stream, 18 when the task started"));
	tm.ncols = 18;
	my_table_map_free(&tm);
	my_pg_table_free(&pt);
	catalog_free(cat);
}
END_TEST

START_TEST(truncated_events_are_refused)
{
	uint8_t raw[512];
	my_event ev;
	char err[300];
	size_t n = unhex(golden_rows, raw, sizeof raw);
	ck_assert_int_eq(my_binlog_event(raw, n - 1, true, &ev, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "header says 183 bytes, 182 arrived"));
	n = unhex(golden_map, raw, sizeof raw);
	ck_assert_int_eq(my_binlog_event(raw, n, true, &ev, err, sizeof err), 0);
	ev.body_len = 20; /* cut inside the column types */
	my_table_map tm;
	ck_assert_int_eq(my_binlog_table_map(&ev, &tm, err, sizeof err), -1);
}
END_TEST

START_TEST(decimals_and_times)
{
	/* DECIMAL(65,30) -0.000...001 and DECIMAL(18,2) values, built as the server stores them */
	char out[80];
	uint8_t b[40];
	size_t size = my_binlog_decimal_size(65, 30);
	ck_assert_uint_eq(size, 30);
	memset(b, 0, size);
	b[0] = 0x80;      /* positive zero */
	b[size - 1] = 1;  /* ...0001 in the last fraction group (3 digits, 2 bytes) */
	my_cell c = {.present = true, .p = b, .len = size};
	ck_assert_int_eq(my_binlog_decimal(&c, 65, 30, out, sizeof out), 0);
	ck_assert_str_eq(out, "0.000000000000000000000000000001");
	for (size_t i = 0; i < size; i++)
		b[i] ^= 0xff; /* negative: every byte inverted */
	ck_assert_int_eq(my_binlog_decimal(&c, 65, 30, out, sizeof out), 0);
	ck_assert_str_eq(out, "-0.000000000000000000000000000001");
	/* TIME(6) -00:00:00.000001: packed value -1 */
	uint64_t packed = UINT64_C(0x800000000000) - 1;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(packed >> (8 * (5 - i)));
	c.len = 6;
	ck_assert_int_eq(my_binlog_time2(&c, 6), -1);
	/* TIME(0) -838:59:59 */
	int64_t hms = (838 << 12) | (59 << 6) | 59;
	uint32_t v = (uint32_t)(0x800000 - hms);
	b[0] = (uint8_t)(v >> 16);
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)v;
	c.len = 3;
	ck_assert_int_eq(my_binlog_time2(&c, 0), -INT64_C(3020399000000));
}
END_TEST


/* ---- the stream converter on golden events --------------------------------------------------- */

/* app.p (id int PRIMARY KEY, v varchar(10)) in binlog.000003: an INSERT of two rows in
 * one transaction, then TRUNCATE p (a standalone group). */
static const char *const stream_events[] = {
	"bc3e046ba2010000002a0000004c0200000800b200000000000000000000000c00000000000018b63de0",
	"bc3e046b13010000002e000000b502000000000701000000000100036170700001700002030f02280002da251d02",
	"bc3e046b17010000002f000000e4020000000007010000000001000203fc010000000161fc02000000016274100f68",
	"bc3e046b10010000001f00000003030000000030020000000000003393b93e",
	"bc3e046ba2010000002a000000d60400000800b50000000000000000000000290000000000000fdaebce",
	"bc3e046b02010000004c00000022050000000033000000000000000300001a000000000001010000205400000000060373746404"
	"210021002d00617070007472756e636174652070a69e17f9"};

typedef struct seen {
	int n;
	record_op op[16];
	uint32_t table[16];
	uint64_t position[16];
	uint64_t xid[16];
} seen;

static int collect(void *arg, uint32_t table_id, const void *rec, size_t len)
{
	seen *s = arg;
	record_view v;
	record_error e;
	ck_assert_int_eq(record_decode(rec, len, &v, &e), 0);
	ck_assert_int_lt(s->n, 16);
	s->op[s->n] = v.hdr.op;
	s->table[s->n] = table_id;
	s->position[s->n] = v.hdr.position;
	s->xid[s->n++] = v.hdr.xid;
	return 0;
}

START_TEST(stream_turns_events_into_records)
{
	static const char *const types[] = {"int(11)", "varchar(10)"};
	catalog *cat = catalog_new(ENGINE_MYSQL);
	catalog_table *t = catalog_add_table(cat, "app", "p");
	char why[200];
	for (int i = 0; i < 2; i++) {
		catalog_column *c = catalog_add_column(t, i ? "v" : "id", types[i]);
		ck_assert_int_eq(typemap_mysql_parse(types[i], false, &c->type, why, sizeof why), 0);
		if (i)
			catalog_set_string(&c->collation, "utf8mb4_general_ci");
	}
	int key[1] = {0};
	catalog_set_key(t, CATALOG_KEY_PRIMARY, "PRIMARY", key, 1);
	t->id = my_catalog_table_id("app", "p");
	my_task_tables tt = {0};
	tt.base.cat = cat;
	tt.base.resolved = calloc(1, sizeof *tt.base.resolved);
	tt.base.resolved[0].source_name = strdup("p");
	tt.pg = calloc(1, sizeof *tt.pg);
	my_pg_options o = {.cdc = true};
	ck_assert_int_eq(my_pg_table_build(t, &o, &tt.pg[0], NULL, NULL), 0);
	taskstate *ts = calloc(1, sizeof *ts);
	ts->n_tables = 1;
	ts->tables[0].source_oid = t->id;
	seen got = {0};
	my_stream_options so = {.tables = &tt, .ts = ts, .emit = collect, .emit_arg = &got, .checksum = true,
				.file = "binlog.000003"};
	my_stream *st = my_stream_new(&so, why, sizeof why);
	ck_assert_ptr_nonnull(st);
	for (size_t i = 0; i < sizeof stream_events / sizeof stream_events[0]; i++) {
		uint8_t raw[256];
		size_t n = unhex(stream_events[i], raw, sizeof raw);
		ck_assert_msg(my_stream_feed(st, raw, n, NULL) == 0, "event %zu: %s", i, my_stream_error(st));
		if (i == 3)
			ck_assert_uint_eq(my_stream_boundary(st), record_mysql_position(3, 771));
	}
	static const record_op want[] = {RECORD_OP_BEGIN, RECORD_OP_RELATION, RECORD_OP_INSERT, RECORD_OP_INSERT,
					 RECORD_OP_COMMIT, RECORD_OP_BEGIN, RECORD_OP_TRUNCATE, RECORD_OP_COMMIT};
	ck_assert_int_eq(got.n, 8);
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(got.op[i] == want[i], "record %d: %s", i, record_op_name(got.op[i]));
		/* one position per transaction: its first event + 1 */
		ck_assert_uint_eq(got.position[i], record_mysql_position(3, i < 5 ? 546 : 1196) + 1);
	}
	ck_assert_uint_eq(got.xid[0], 178);
	ck_assert_uint_eq(got.table[2], 1);
	ck_assert_uint_eq(my_stream_boundary(st), record_mysql_position(3, 1314));
	ck_assert(!my_stream_in_transaction(st));
	my_stream_free(st);
	free(ts);
	my_task_tables_free(&tt);
}
END_TEST

START_TEST(binlog_file_names)
{
	char out[64];
	my_stream_file_name("binlog.000012", 13, out, sizeof out);
	ck_assert_str_eq(out, "binlog.000013");
	my_stream_file_name("mysql-bin.1234567", 7, out, sizeof out);
	ck_assert_str_eq(out, "mysql-bin.0000007");
	/* positions: a transaction's records sort after the end of the one before it */
	uint64_t end_of_previous = record_mysql_position(3, 1000), next_txn = record_mysql_position(3, 1000) + 1;
	ck_assert_uint_gt(next_txn, end_of_previous);
	ck_assert_uint_eq(record_mysql_file_no(next_txn), 3);
}
END_TEST

START_TEST(latin1_becomes_utf8)
{
	strbuf sb = STRBUF_INIT;
	my_rowdec_latin1(&sb, (const uint8_t *)"a\xe9\x80\x81", 4);
	ck_assert_str_eq(strbuf_str(&sb), "a\xc3\xa9\xe2\x82\xac\xc2\x81");
	strbuf_free(&sb);
}
END_TEST

/* ---- live: every type through a real server's binlog --------------------------------------------- */

static MYSQL *my;

static void exec(const char *sql)
{
	ck_assert_msg(mysql_query(my, sql) == 0, "%s: %s", sql, mysql_error(my));
}

static const char *const corpus_types[] = {
	"int(11)", "tinyint(4)", "tinyint(3) unsigned", "smallint(6)", "mediumint(9)", "mediumint(8) unsigned",
	"int(10) unsigned", "bigint(20)", "bigint(20) unsigned", "tinyint(1)", "decimal(65,30)", "decimal(18,2)",
	"float", "double", "bit(1)", "bit(64)", "char(4)", "varchar(300)", "text", "binary(4)", "varbinary(10)",
	"blob", "enum('a','b c')", "set('x','y','z')", "longtext json", "date", "time(6)", "time", "datetime(6)",
	"timestamp(3)", "year(4)", "char(4)"};
#define CORPUS_COLS 32

static const char corpus_ddl[] =
	"CREATE TABLE bl.corpus (id int PRIMARY KEY, i8 tinyint, u8 tinyint unsigned, i16 smallint, i24 mediumint,"
	" u24 mediumint unsigned, u32 int unsigned, i64 bigint, u64 bigint unsigned, b tinyint(1),"
	" d65 decimal(65,30), d18 decimal(18,2), f float, g double, b1 bit(1), b64 bit(64), c char(4),"
	" v varchar(300), t text, bn binary(4), vb varbinary(10), bl blob, e enum('a','b c'), s set('x','y','z'),"
	" j json, dt date, tm6 time(6), tm time, dtm datetime(6), ts timestamp(3) NULL, y year,"
	" l1 char(4) CHARACTER SET latin1)";

static const char corpus_rows[] =
	"INSERT INTO bl.corpus VALUES"
	" (1, -128, 255, -32768, -8388608, 16777215, 4294967295, -9223372036854775808, 18446744073709551615, 1,"
	"  -0.000000000000000000000000000001, -9999999999999999.99, 3.4028234663852886e38, -1.7976931348623157e308,"
	"  b'1', b'1111111111111111111111111111111111111111111111111111111111111111', 'ab', REPEAT('\xf0\x9f\x98\x80', 300),"
	"  'line\\nnext\\ttab \\\\ back', 'ab', 0x00ff00, 0x0001, 'b c', 'x,z', '{\"a\": [1, 2.5, null]}',"
	"  '1000-01-01', '-838:59:59.000000', '838:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999',"
	"  2155, 'caf\xc3\xa9'),"
	" (2, 127, 0, 32767, 8388607, 0, 0, 9223372036854775807, 0, 0, 0, 0, 0, 0, b'0', b'0', '', '', '', '', '',"
	"  '', 'a', '', '[]', '2024-02-29', '-00:00:00.000001', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 00:00:01',"
	"  1901, ''),"
	" (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	"  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";

static const char *const corpus_expected[] = {
	"1|-128|255|-32768|-8388608|16777215|4294967295|-9223372036854775808|18446744073709551615|t|"
	"-0.000000000000000000000000000001|-9999999999999999.99|3.4028234663852886e+38|-1.7976931348623157e+308|1|"
	"1111111111111111111111111111111111111111111111111111111111111111|ab|@EMOJI@|line\nnext\ttab \\ back|"
	"\\x61620000|\\x00ff00|\\x0001|b c|{\"x\",\"z\"}|{\"a\": [1, 2.5, null]}|1000-01-01|-838:59:59|838:59:59|"
	"9999-12-31 23:59:59.999999|2038-01-19 03:14:07.999+00|2155|caf\xc3\xa9",
	"2|127|0|32767|8388607|0|0|9223372036854775807|0|f|0.000000000000000000000000000000|0.00|0|0|0|"
	"0000000000000000000000000000000000000000000000000000000000000000||||\\x00000000|\\x|\\x|a|{}|[]|2024-02-29|"
	"-00:00:00.000001|00:00:00|1000-01-01 00:00:00|1970-01-01 00:00:01+00|1901|",
	"3|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|"
	"NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL"};

/* The events from (file, pos) to the end of the binlog: rows decoded into lines. */
static int read_stream(const char *file, unsigned long pos, const my_pg_table *pt, char lines[][4096], int max,
		       invalid_values_kind policy, char *why, size_t why_len)
{
	MYSQL *r = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(r, NULL, "root", NULL, NULL, 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	ck_assert_int_eq(mysql_query(r, "SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4"), 0);
	MARIADB_RPL *rpl = mariadb_rpl_init(r);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, 7777);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, file, strlen(file));
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, pos);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, MARIADB_RPL_BINLOG_DUMP_NON_BLOCK);
	ck_assert_msg(mariadb_rpl_open(rpl) == 0, "%s", mariadb_rpl_error(rpl));
	my_table_map tm = {0};
	int n = 0, rc = 0;
	MARIADB_RPL_EVENT *ev;
	while (rc >= 0 && (ev = mariadb_rpl_fetch(rpl, NULL)) != NULL) {
		my_event e;
		char err[300];
		ck_assert_msg(my_binlog_event(ev->raw_data + ev->raw_data_ofs, ev->raw_data_size - ev->raw_data_ofs, true,
					      &e, err, sizeof err) == 0, "%s", err);
		if (e.type == MY_EV_TABLE_MAP) {
			my_table_map_free(&tm);
			ck_assert_int_eq(my_binlog_table_map(&e, &tm, err, sizeof err), 0);
			if (strcmp(tm.table, "corpus") == 0)
				ck_assert_msg(my_rowdec_check(&tm, pt, err, sizeof err) == 0, "%s", err);
		} else if (my_binlog_is_rows(e.type) && strcmp(tm.table, "corpus") == 0) {
			my_rows rows;
			ck_assert_int_eq(my_binlog_rows(&e, &rows, err, sizeof err), 0);
			rc = render_rows(&tm, pt, &rows, lines + n, max - n, policy, why, why_len);
			n += rc > 0 ? rc : 0;
		}
		mariadb_free_rpl_event(ev);
	}
	my_table_map_free(&tm);
	mariadb_rpl_close(rpl);
	mysql_close(r);
	return rc < 0 ? -1 : n;
}

static void master_status(char *file, size_t size, unsigned long *pos)
{
	ck_assert_int_eq(mysql_query(my, "SHOW MASTER STATUS"), 0);
	MYSQL_RES *res = mysql_store_result(my);
	MYSQL_ROW row = mysql_fetch_row(res);
	snprintf(file, size, "%s", row[0]);
	*pos = strtoul(row[1], NULL, 10);
	mysql_free_result(res);
}

static void live_setup(void)
{
	my = mysql_init(NULL);
	ck_assert_ptr_nonnull(mysql_real_connect(my, NULL, "root", NULL, NULL, 0, getenv("FERRY_TEST_MYSQL_SOCKET"), 0));
	ck_assert_int_eq(mysql_set_character_set(my, "utf8mb4"), 0);
	exec("SET time_zone = '+00:00'");
	exec("DROP DATABASE IF EXISTS bl");
	exec("CREATE DATABASE bl");
	exec(corpus_ddl);
}

static void live_teardown(void)
{
	mysql_query(my, "DROP DATABASE IF EXISTS bl");
	mysql_query(my, "SET GLOBAL binlog_row_image = 'FULL'");
	mysql_close(my);
}

static void expect_corpus(const char *line, const char *want)
{
	/* 300 emoji are written out here rather than in the table above */
	strbuf sb = STRBUF_INIT;
	const char *at = strstr(want, "@EMOJI@");
	if (at) {
		strbuf_append_len(&sb, want, (size_t)(at - want));
		for (int i = 0; i < 300; i++)
			strbuf_append(&sb, "\xf0\x9f\x98\x80");
		strbuf_append(&sb, at + 7);
		want = strbuf_str(&sb);
	}
	ck_assert_msg(strcmp(line, want) == 0, "\n got: %.400s\nwant: %.400s", line, want);
	strbuf_free(&sb);
}

START_TEST(live_every_type_through_the_binlog)
{
	char file[256], why[4096] = "";
	unsigned long pos;
	master_status(file, sizeof file, &pos);
	exec(corpus_rows);
	exec("UPDATE bl.corpus SET i8 = 5, v = 'changed' WHERE id = 2");
	exec("DELETE FROM bl.corpus WHERE id = 3");
	my_pg_table pt;
	catalog *cat = make_table(corpus_types, CORPUS_COLS, CORPUS_COLS - 1, &pt);
	static char lines[16][4096];
	int n = read_stream(file, pos, &pt, lines, 16, INVALID_VALUES_ERROR, why, sizeof why);
	ck_assert_msg(n == 6, "%d images: %s", n, why);
	for (int i = 0; i < 3; i++)
		expect_corpus(lines[i], corpus_expected[i]);
	/* UPDATE: before and after images; DELETE: the whole old row */
	expect_corpus(lines[3], corpus_expected[1]);
	ck_assert_ptr_nonnull(strstr(lines[4], "2|5|0|"));
	ck_assert_ptr_nonnull(strstr(lines[4], "|changed|"));
	expect_corpus(lines[5], corpus_expected[2]);
	my_pg_table_free(&pt);
	catalog_free(cat);
}
END_TEST

START_TEST(live_minimal_images_and_invalid_values)
{
	exec("SET SESSION binlog_row_image = 'MINIMAL', SESSION sql_mode = ''");
	char file[256], why[4096] = "";
	unsigned long pos;
	master_status(file, sizeof file, &pos);
	exec("INSERT INTO bl.corpus (id, dt, b) VALUES (10, '0000-00-00', 7)");
	exec("UPDATE bl.corpus SET i8 = 1 WHERE id = 10");
	my_pg_table pt;
	catalog *cat = make_table(corpus_types, CORPUS_COLS, CORPUS_COLS - 1, &pt);
	static char lines[8][4096];
	/* error: stops at the first invalid value, naming it */
	ck_assert_int_eq(read_stream(file, pos, &pt, lines, 8, INVALID_VALUES_ERROR, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "table bl.corpus column c9: TINYINT(1) value '7'"));
	/* substitute: the documented values; MINIMAL images leave other columns UNCHANGED */
	int n = read_stream(file, pos, &pt, lines, 8, INVALID_VALUES_SUBSTITUTE, why, sizeof why);
	ck_assert_msg(n == 3, "%d: %s", n, why);
	ck_assert_ptr_nonnull(strstr(lines[0], "|t|"));
	ck_assert_ptr_nonnull(strstr(lines[0], "|-infinity|"));
	ck_assert_ptr_nonnull(strstr(lines[1], "10|UNCHANGED|UNCHANGED"));  /* before image: the key only */
	ck_assert_ptr_nonnull(strstr(lines[2], "UNCHANGED|1|UNCHANGED")); /* after image: the change only */
	my_pg_table_free(&pt);
	catalog_free(cat);
}
END_TEST

static Suite *binlog_suite(void)
{
	Suite *s = suite_create("my_binlog");
	TCase *tc = tcase_create("offline");
	tcase_add_test(tc, golden_events_decode);
	tcase_add_test(tc, truncated_events_are_refused);
	tcase_add_test(tc, decimals_and_times);
	tcase_add_test(tc, latin1_becomes_utf8);
	tcase_add_test(tc, binlog_file_names);
	tcase_add_test(tc, stream_turns_events_into_records);
	suite_add_tcase(s, tc);
	const char *sock = getenv("FERRY_TEST_MYSQL_SOCKET");
	if (sock && *sock) {
		tc = tcase_create("live");
		tcase_add_checked_fixture(tc, live_setup, live_teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, live_every_type_through_the_binlog);
		tcase_add_test(tc, live_minimal_images_and_invalid_values);
		suite_add_tcase(s, tc);
		printf("live: yes\n");
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(binlog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
