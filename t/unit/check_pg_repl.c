/* Live test of the replication client and the pgoutput decoder against a real server
 * (FERRY_TEST_PGCONNINFO, a conninfo of a wal_level=logical server and a user with
 * REPLICATION and CREATE; the integration test 060 provides one). Skipped (77) without it.
 * Checks: exported snapshot importable and exact, every change decoded with its values,
 * an unchanged TOASTed column arriving as 'u', truncate, a streamed large transaction,
 * and the slot's confirmed position moving only with the flush position reported. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "workers/pg_repl.h"
#include "workers/pgoutput.h"

static const char *conninfo;
static PGconn *sql;  /* a normal connection */
static PGconn *repl; /* replication=database */

static PGconn *connect_with(const char *extra)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s %s", conninfo, extra);
	PGconn *c = PQconnectdb(buf);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

static void exec_ok(PGconn *c, const char *q)
{
	PGresult *r = PQexec(c, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", q, PQerrorMessage(c));
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

static void setup(void)
{
	sql = connect_with("");
	repl = connect_with("replication=database");
	exec_ok(sql, "DROP TABLE IF EXISTS repl_t; DROP PUBLICATION IF EXISTS repl_pub;"
		     "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'repl_slot'");
	exec_ok(sql, "CREATE TABLE repl_t (id int PRIMARY KEY, v text, big text);"
		     "ALTER TABLE repl_t ALTER big SET STORAGE EXTERNAL;"
		     "INSERT INTO repl_t SELECT g, 'before', NULL FROM generate_series(1, 3) g;"
		     "CREATE PUBLICATION repl_pub FOR TABLE repl_t");
}

static void teardown(void)
{
	PQfinish(repl);
	/* The walsender goes away a moment after its client: the slot is busy until then. */
	for (int i = 0; i < 200; i++) {
		char *busy = scalar(sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'repl_slot' AND active");
		bool idle = strcmp(busy, "0") == 0;
		free(busy);
		if (idle)
			break;
		usleep(50 * 1000);
	}
	exec_ok(sql, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'repl_slot';"
		     "DROP PUBLICATION IF EXISTS repl_pub; DROP TABLE IF EXISTS repl_t");
	PQfinish(sql);
}

/* Collected stream, one line per decoded message, e.g. "I 3 t:4 t:new n". */
typedef struct transcript {
	char text[65536];
	size_t n;
	int inserts_streamed;
	uint64_t last_end_lsn;
} transcript;

static void add(transcript *t, const char *fmt, const char *s)
{
	t->n += (size_t)snprintf(t->text + t->n, sizeof t->text - t->n, fmt, s);
}

static void add_tuple(transcript *t, const pgo_tuple *tup)
{
	for (int i = 0; i < tup->ncols; i++) {
		const pgo_column *c = &tup->cols[i];
		char val[48];
		if (c->kind == PGO_COL_TEXT)
			snprintf(val, sizeof val, " t:%.*s", c->len > 20 ? 20 : (int)c->len, c->data);
		else
			snprintf(val, sizeof val, " %c", (char)c->kind);
		add(t, "%s", val);
	}
}

static void record(transcript *t, const pgo_message *m)
{
	switch (m->type) {
	case PGO_RELATION: add(t, "R %s\n", m->relation.relname); break;
	case PGO_INSERT:
		if (m->in_stream) {
			t->inserts_streamed++;
			return;
		}
		add(t, "%s", "I"); add_tuple(t, &m->insert.newtup); add(t, "%s", "\n"); break;
	case PGO_UPDATE: add(t, "%s", "U"); add_tuple(t, &m->update.newtup); add(t, "%s", "\n"); break;
	case PGO_DELETE:
		add(t, "%s", m->del.old_kind == PGO_OLD_KEY ? "D K" : "D O");
		add_tuple(t, &m->del.oldtup);
		add(t, "%s", "\n");
		break;
	case PGO_TRUNCATE: add(t, "%s", "T\n"); break;
	case PGO_COMMIT: add(t, "%s", "C\n"); t->last_end_lsn = m->commit.end_lsn; break;
	case PGO_STREAM_COMMIT: add(t, "%s", "SC\n"); t->last_end_lsn = m->stream_commit.end_lsn; break;
	default: break;
	}
}

/* Reads until `commits` transactions have committed, answering keepalives. */
static void read_stream(pg_repl_stream *s, transcript *t, int commits)
{
	pgo_decoder dec;
	pgo_decoder_init(&dec);
	char *err = NULL;
	int seen = 0;
	while (seen < commits) {
		pg_repl_event ev;
		int kind = pg_repl_read(s, &ev, 10000, &err);
		ck_assert_msg(kind == PG_REPL_DATA || kind == PG_REPL_KEEPALIVE, "stream: kind %d %s", kind, err ? err : "");
		if (kind == PG_REPL_KEEPALIVE) {
			if (ev.reply_requested)
				ck_assert_int_eq(pg_repl_send_status(s, ev.wal_end, 0, false, &err), 0);
			continue;
		}
		pgo_message m;
		char derr[256];
		ck_assert_msg(pgo_decode(&dec, ev.data, (size_t)ev.len, &m, derr, sizeof derr) == 0, "%s", derr);
		record(t, &m);
		if (m.type == PGO_COMMIT || m.type == PGO_STREAM_COMMIT)
			seen++;
	}
	pgo_decoder_free(&dec);
	free(err);
}

START_TEST(snapshot_stream_and_flush)
{
	char *err = NULL, *snapshot = NULL;
	uint64_t consistent = 0;
	ck_assert_msg(pg_repl_create_slot(repl, "repl_slot", true, &snapshot, &consistent, &err) == 0, "%s", err);
	ck_assert_ptr_nonnull(snapshot);

	/* Rows committed after the slot was created are invisible to the exported snapshot. */
	exec_ok(sql, "INSERT INTO repl_t VALUES (4, 'new', NULL)");
	PGconn *loader = connect_with("");
	exec_ok(loader, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	char set[128];
	snprintf(set, sizeof set, "SET TRANSACTION SNAPSHOT '%s'", snapshot);
	exec_ok(loader, set);
	char *count = scalar(loader, "SELECT count(*) FROM repl_t");
	ck_assert_str_eq(count, "3");
	free(count);
	PQfinish(loader);
	/* Only now: any command on the slot's connection ends the exported snapshot. */
	ck_assert_int_eq(pg_repl_slot_exists(repl, "repl_slot", NULL, &err), 1);
	ck_assert_int_eq(pg_repl_slot_exists(repl, "no_such_slot", NULL, &err), 0);

	exec_ok(sql, "UPDATE repl_t SET big = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i) WHERE id = 1");
	exec_ok(sql, "UPDATE repl_t SET v = 'touched' WHERE id = 1"); /* big stays TOASTed: 'u' */
	exec_ok(sql, "DELETE FROM repl_t WHERE id = 2");
	exec_ok(sql, "TRUNCATE repl_t");

	/* One transaction far over logical_decoding_work_mem: streamed in blocks (protocol 2). */
	exec_ok(sql, "INSERT INTO repl_t SELECT g, 'bulk', NULL FROM generate_series(100, 20099) g");

	/* A small decoding budget makes the server stream the large transaction. */
	exec_ok(repl, "SET logical_decoding_work_mem = '64kB'");
	pg_repl_options opts = {.slot = "repl_slot", .publication = "repl_pub", .start_lsn = 0,
				.proto_version = 2, .streaming = true, .messages = true};
	ck_assert_msg(pg_repl_start(repl, &opts, &err) == 0, "%s", err);
	pg_repl_stream s;
	pg_repl_stream_init(&s, repl);
	transcript *t = calloc(1, sizeof *t);
	read_stream(&s, t, 6);
	ck_assert_str_eq(t->text, "R repl_t\nI t:4 t:new n\nC\n"
				  "U t:1 t:before t:c4ca4238a0b923820dcc\nC\n"
				  "U t:1 t:touched u\nC\n"
				  "D K t:2 n n\nC\n"
				  "R repl_t\nT\nC\n"
				  "R repl_t\nSC\n"); /* the stream block re-announces the relation */
	ck_assert_int_eq(t->inserts_streamed, 20000);

	/* The slot's confirmed position follows the flush position we report, nothing else. */
	char *before = scalar(sql, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'repl_slot'");
	ck_assert_int_eq(pg_repl_send_status(&s, t->last_end_lsn, t->last_end_lsn, true, &err), 0);
	char want[32];
	pgo_format_lsn(t->last_end_lsn, want, sizeof want);
	ck_assert_str_ne(before, want);
	char *now = NULL;
	for (int i = 0; i < 100; i++) {
		pg_repl_event ev;
		pg_repl_read(&s, &ev, 50, &err); /* keep the stream serviced */
		free(now);
		now = scalar(sql, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'repl_slot'");
		if (strcmp(now, want) == 0)
			break;
	}
	ck_assert_str_eq(now, want);
	free(now);
	free(before);
	free(t);
	free(snapshot);
	pg_repl_stream_free(&s);
	free(err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pg_repl");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, snapshot_stream_and_flush);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	conninfo = getenv("FERRY_TEST_PGCONNINFO");
	if (!conninfo || !*conninfo) {
		printf("FERRY_TEST_PGCONNINFO not set: skipping the live replication test\n");
		return 77;
	}
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
