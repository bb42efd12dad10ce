/* pgoutput decoder: every message type built byte by byte as the server sends it, and
 * malformed input (truncated at every byte, bad markers, trailing bytes) rejected. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pgoutput.h"

/* A message under construction, big-endian like the server writes it. */
typedef struct msg {
	char b[4096];
	size_t n;
} msg;

static void u8(msg *m, unsigned v) { m->b[m->n++] = (char)v; }
static void u16(msg *m, unsigned v) { u8(m, v >> 8); u8(m, v & 0xff); }
static void u32(msg *m, uint32_t v) { u16(m, v >> 16); u16(m, v & 0xffff); }
static void u64(msg *m, uint64_t v) { u32(m, (uint32_t)(v >> 32)); u32(m, (uint32_t)v); }
static void str(msg *m, const char *s) { size_t l = strlen(s) + 1; memcpy(m->b + m->n, s, l); m->n += l; }
static void text_col(msg *m, const char *s) { u8(m, 't'); u32(m, (uint32_t)strlen(s)); memcpy(m->b + m->n, s, strlen(s)); m->n += strlen(s); }

static pgo_decoder dec;
static pgo_message out;
static char err[256];

static void setup(void) { pgo_decoder_init(&dec); }
static void teardown(void) { pgo_decoder_free(&dec); }

static int decode(const msg *m) { return pgo_decode(&dec, m->b, m->n, &out, err, sizeof err); }

static void col_is(const pgo_column *c, const char *text)
{
	ck_assert_int_eq(c->kind, PGO_COL_TEXT);
	ck_assert_uint_eq(c->len, strlen(text));
	ck_assert(memcmp(c->data, text, c->len) == 0);
}

START_TEST(begin_and_commit)
{
	msg m = {0};
	u8(&m, 'B'); u64(&m, 0x16B3748); u64(&m, 1000000); u32(&m, 747);
	ck_assert_int_eq(decode(&m), 0);
	ck_assert_int_eq(out.type, PGO_BEGIN);
	ck_assert_uint_eq(out.begin.final_lsn, 0x16B3748);
	ck_assert_int_eq(out.begin.commit_time_us, PGO_EPOCH_OFFSET_US + 1000000);
	ck_assert_uint_eq(out.begin.xid, 747);

	msg c = {0};
	u8(&c, 'C'); u8(&c, 0); u64(&c, 0x100); u64(&c, 0x180); u64(&c, 5);
	ck_assert_int_eq(decode(&c), 0);
	ck_assert_int_eq(out.type, PGO_COMMIT);
	ck_assert_uint_eq(out.commit.commit_lsn, 0x100);
	ck_assert_uint_eq(out.commit.end_lsn, 0x180);
	ck_assert_int_eq(out.commit.commit_time_us, PGO_EPOCH_OFFSET_US + 5);
}
END_TEST

START_TEST(relation_with_key_columns)
{
	msg m = {0};
	u8(&m, 'R'); u32(&m, 16384); str(&m, "public"); str(&m, "Order \"Items\" é"); u8(&m, 'd');
	u16(&m, 3);
	u8(&m, 1); str(&m, "id"); u32(&m, 20); u32(&m, 0xffffffff);
	u8(&m, 0); str(&m, "price"); u32(&m, 1700); u32(&m, (10 << 16 | 2) + 4);
	u8(&m, 0); str(&m, "note"); u32(&m, 25); u32(&m, 0xffffffff);
	ck_assert_int_eq(decode(&m), 0);
	ck_assert_int_eq(out.type, PGO_RELATION);
	ck_assert_uint_eq(out.relation.oid, 16384);
	ck_assert_str_eq(out.relation.nspname, "public");
	ck_assert_str_eq(out.relation.relname, "Order \"Items\" é");
	ck_assert_int_eq(out.relation.replident, 'd');
	ck_assert_int_eq(out.relation.ncols, 3);
	ck_assert(out.relation.cols[0].key);
	ck_assert(!out.relation.cols[1].key);
	ck_assert_str_eq(out.relation.cols[1].name, "price");
	ck_assert_uint_eq(out.relation.cols[1].type_oid, 1700);
	ck_assert_int_eq(out.relation.cols[0].typmod, -1);
}
END_TEST

START_TEST(insert_with_null_unchanged_text_binary)
{
	msg m = {0};
	u8(&m, 'I'); u32(&m, 16384); u8(&m, 'N'); u16(&m, 4);
	text_col(&m, "42"); u8(&m, 'n'); u8(&m, 'u');
	u8(&m, 'b'); u32(&m, 3); u8(&m, 0); u8(&m, 1); u8(&m, 2);
	ck_assert_int_eq(decode(&m), 0);
	ck_assert_int_eq(out.type, PGO_INSERT);
	ck_assert(!out.in_stream);
	ck_assert_uint_eq(out.insert.relid, 16384);
	ck_assert_int_eq(out.insert.newtup.ncols, 4);
	col_is(&out.insert.newtup.cols[0], "42");
	ck_assert_int_eq(out.insert.newtup.cols[1].kind, PGO_COL_NULL);
	ck_assert_int_eq(out.insert.newtup.cols[2].kind, PGO_COL_UNCHANGED);
	ck_assert_int_eq(out.insert.newtup.cols[3].kind, PGO_COL_BINARY);
	ck_assert_uint_eq(out.insert.newtup.cols[3].len, 3);
	ck_assert_int_eq(out.insert.newtup.cols[3].data[2], 2);
}
END_TEST

START_TEST(update_images)
{
	msg k = {0}; /* key change: old key then new row */
	u8(&k, 'U'); u32(&k, 7); u8(&k, 'K'); u16(&k, 2); text_col(&k, "1"); u8(&k, 'n');
	u8(&k, 'N'); u16(&k, 2); text_col(&k, "2"); text_col(&k, "x");
	ck_assert_int_eq(decode(&k), 0);
	ck_assert_int_eq(out.update.old_kind, PGO_OLD_KEY);
	ck_assert_int_eq(out.update.oldtup.ncols, 2);
	col_is(&out.update.oldtup.cols[0], "1");
	ck_assert_int_eq(out.update.newtup.ncols, 2);
	col_is(&out.update.newtup.cols[0], "2");
	col_is(&out.update.newtup.cols[1], "x");

	msg full = {0};
	u8(&full, 'U'); u32(&full, 7); u8(&full, 'O'); u16(&full, 1); text_col(&full, "a");
	u8(&full, 'N'); u16(&full, 1); u8(&full, 'u');
	ck_assert_int_eq(decode(&full), 0);
	ck_assert_int_eq(out.update.old_kind, PGO_OLD_FULL);
	col_is(&out.update.oldtup.cols[0], "a");
	ck_assert_int_eq(out.update.newtup.cols[0].kind, PGO_COL_UNCHANGED);

	msg plain = {0};
	u8(&plain, 'U'); u32(&plain, 7); u8(&plain, 'N'); u16(&plain, 1); text_col(&plain, "b");
	ck_assert_int_eq(decode(&plain), 0);
	ck_assert_int_eq(out.update.old_kind, PGO_OLD_NONE);
	ck_assert_int_eq(out.update.oldtup.ncols, 0);
	col_is(&out.update.newtup.cols[0], "b");
}
END_TEST

START_TEST(update_old_tuple_survives_column_array_growth)
{
	/* More columns than the decoder's first allocation, so the new tuple moves the array. */
	msg m = {0};
	u8(&m, 'U'); u32(&m, 7); u8(&m, 'O'); u16(&m, 12);
	for (int i = 0; i < 12; i++)
		text_col(&m, "old");
	u8(&m, 'N'); u16(&m, 12);
	for (int i = 0; i < 12; i++)
		text_col(&m, "new");
	ck_assert_int_eq(decode(&m), 0);
	for (int i = 0; i < 12; i++) {
		col_is(&out.update.oldtup.cols[i], "old");
		col_is(&out.update.newtup.cols[i], "new");
	}
}
END_TEST

START_TEST(delete_needs_old_image)
{
	msg m = {0};
	u8(&m, 'D'); u32(&m, 9); u8(&m, 'K'); u16(&m, 1); text_col(&m, "5");
	ck_assert_int_eq(decode(&m), 0);
	ck_assert_int_eq(out.type, PGO_DELETE);
	ck_assert_int_eq(out.del.old_kind, PGO_OLD_KEY);
	col_is(&out.del.oldtup.cols[0], "5");

	msg bad = {0};
	u8(&bad, 'D'); u32(&bad, 9); u8(&bad, 'N'); u16(&bad, 1); text_col(&bad, "5");
	ck_assert_int_eq(decode(&bad), -1);
	ck_assert_ptr_nonnull(strstr(err, "'K' or 'O'"));
	ck_assert_ptr_nonnull(strstr(err, "at byte 5"));
}
END_TEST

START_TEST(truncate_relations)
{
	msg m = {0};
	u8(&m, 'T'); u32(&m, 2); u8(&m, PGO_TRUNCATE_CASCADE | PGO_TRUNCATE_RESTART_IDENTITY);
	u32(&m, 100); u32(&m, 200);
	ck_assert_int_eq(decode(&m), 0);
	ck_assert_int_eq(out.truncate.nrels, 2);
	ck_assert_uint_eq(out.truncate.relids[1], 200);
	ck_assert_uint_eq(out.truncate.options, 3);

	msg lying = {0}; /* claims more relations than it carries */
	u8(&lying, 'T'); u32(&lying, 1000000); u8(&lying, 0); u32(&lying, 1);
	ck_assert_int_eq(decode(&lying), -1);
}
END_TEST

START_TEST(origin_type_message)
{
	msg o = {0};
	u8(&o, 'O'); u64(&o, 0x55); str(&o, "node_a");
	ck_assert_int_eq(decode(&o), 0);
	ck_assert_str_eq(out.origin.name, "node_a");

	msg y = {0};
	u8(&y, 'Y'); u32(&y, 16400); str(&y, "public"); str(&y, "mood");
	ck_assert_int_eq(decode(&y), 0);
	ck_assert_str_eq(out.type_info.typname, "mood");

	msg mm = {0};
	u8(&mm, 'M'); u8(&mm, 1); u64(&mm, 0x99); str(&mm, "ferry"); u32(&mm, 3);
	memcpy(mm.b + mm.n, "a\0b", 3); mm.n += 3;
	ck_assert_int_eq(decode(&mm), 0);
	ck_assert_str_eq(out.message.prefix, "ferry");
	ck_assert_uint_eq(out.message.len, 3);
	ck_assert_int_eq(out.message.content[2], 'b');
}
END_TEST

START_TEST(streamed_transaction)
{
	msg s = {0};
	u8(&s, 'S'); u32(&s, 900); u8(&s, 1);
	ck_assert_int_eq(decode(&s), 0);
	ck_assert_uint_eq(out.stream_start.xid, 900);
	ck_assert(out.stream_start.first_segment);

	msg i = {0}; /* inside the block, changes carry the xid first */
	u8(&i, 'I'); u32(&i, 900); u32(&i, 16384); u8(&i, 'N'); u16(&i, 1); text_col(&i, "v");
	ck_assert_int_eq(decode(&i), 0);
	ck_assert(out.in_stream);
	ck_assert_uint_eq(out.xid, 900);
	ck_assert_uint_eq(out.insert.relid, 16384);

	msg e = {0};
	u8(&e, 'E');
	ck_assert_int_eq(decode(&e), 0);

	msg i2 = {0}; /* outside again: no xid */
	u8(&i2, 'I'); u32(&i2, 16384); u8(&i2, 'N'); u16(&i2, 0);
	ck_assert_int_eq(decode(&i2), 0);
	ck_assert(!out.in_stream);

	msg c = {0};
	u8(&c, 'c'); u32(&c, 900); u8(&c, 0); u64(&c, 0x10); u64(&c, 0x20); u64(&c, 0);
	ck_assert_int_eq(decode(&c), 0);
	ck_assert_uint_eq(out.stream_commit.xid, 900);
	ck_assert_uint_eq(out.stream_commit.end_lsn, 0x20);

	msg a = {0};
	u8(&a, 'A'); u32(&a, 901); u32(&a, 905);
	ck_assert_int_eq(decode(&a), 0);
	ck_assert_uint_eq(out.stream_abort.subxid, 905);

	ck_assert_int_eq(decode(&e), -1); /* stop without start */
}
END_TEST

START_TEST(every_truncation_rejected)
{
	msg m = {0};
	u8(&m, 'U'); u32(&m, 7); u8(&m, 'O'); u16(&m, 2); text_col(&m, "old"); u8(&m, 'n');
	u8(&m, 'N'); u16(&m, 2); text_col(&m, "new value"); u8(&m, 'u');
	ck_assert_int_eq(decode(&m), 0);
	for (size_t cut = 0; cut < m.n; cut++) {
		/* A heap copy of exactly cut bytes, so a read past the end shows under ASan/valgrind. */
		char *copy = malloc(cut ? cut : 1);
		memcpy(copy, m.b, cut);
		ck_assert_int_eq(pgo_decode(&dec, copy, cut, &out, err, sizeof err), -1);
		ck_assert(err[0] != '\0');
		free(copy);
	}
}
END_TEST

START_TEST(garbage_rejected)
{
	msg unknown = {0};
	u8(&unknown, 'Z');
	ck_assert_int_eq(decode(&unknown), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown message type 0x5a"));

	msg trailing = {0};
	u8(&trailing, 'E'); u8(&trailing, 0);
	dec.in_stream = true;
	ck_assert_int_eq(decode(&trailing), -1);
	ck_assert_ptr_nonnull(strstr(err, "unexpected bytes"));

	msg kind = {0};
	u8(&kind, 'I'); u32(&kind, 1); u8(&kind, 'N'); u16(&kind, 1); u8(&kind, 'x');
	ck_assert_int_eq(decode(&kind), -1);
	ck_assert_ptr_nonnull(strstr(err, "column kind 0x78"));

	msg unterminated = {0};
	u8(&unterminated, 'O'); u64(&unterminated, 1); u8(&unterminated, 'a');
	ck_assert_int_eq(decode(&unterminated), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL-terminated"));

	msg huge_len = {0};
	u8(&huge_len, 'I'); u32(&huge_len, 1); u8(&huge_len, 'N'); u16(&huge_len, 1);
	u8(&huge_len, 't'); u32(&huge_len, 0xffffffffu);
	ck_assert_int_eq(decode(&huge_len), -1);
}
END_TEST

START_TEST(lsn_text)
{
	char buf[32];
	pgo_format_lsn(0x16B3748, buf, sizeof buf);
	ck_assert_str_eq(buf, "0/16B3748");
	pgo_format_lsn(UINT64_C(0xA00000001), buf, sizeof buf);
	ck_assert_str_eq(buf, "A/1");
	uint64_t lsn;
	ck_assert_int_eq(pgo_parse_lsn("A/1", &lsn), 0);
	ck_assert_uint_eq(lsn, UINT64_C(0xA00000001));
	ck_assert_int_eq(pgo_parse_lsn("16/B374D848", &lsn), 0);
	ck_assert_uint_eq(lsn, UINT64_C(0x16B374D848));
	ck_assert_int_eq(pgo_parse_lsn("16B374D848", &lsn), -1);
	ck_assert_int_eq(pgo_parse_lsn("/1", &lsn), -1);
	ck_assert_int_eq(pgo_parse_lsn("1/", &lsn), -1);
	ck_assert_int_eq(pgo_parse_lsn("1/2x", &lsn), -1);
	ck_assert_int_eq(pgo_parse_lsn("100000000/0", &lsn), -1);
}
END_TEST

static Suite *pgoutput_suite(void)
{
	Suite *s = suite_create("pgoutput");
	struct { const char *name; const TTest *test; } cases[] = {
		{"begin_commit", begin_and_commit},
		{"relation", relation_with_key_columns},
		{"insert", insert_with_null_unchanged_text_binary},
		{"update", update_images},
		{"update_growth", update_old_tuple_survives_column_array_growth},
		{"delete", delete_needs_old_image},
		{"truncate", truncate_relations},
		{"origin_type_message", origin_type_message},
		{"stream", streamed_transaction},
		{"truncated_input", every_truncation_rejected},
		{"garbage", garbage_rejected},
		{"lsn", lsn_text},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pgoutput_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
