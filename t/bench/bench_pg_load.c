/* Drives the full-load engine (workers/pg_load.h) the way load workers will: one process
 * exports a snapshot and plans, N forked workers pull partitions from a shared array,
 * each builds a table's indexes after its last partition. Prints the wall time and where
 * it went. Used by t/bench/bench_pg_load.sh; not a test.
 *
 *   bench_pg_load --source CONNINFO --target CONNINFO [--schema public] [--workers 2]
 *                 [--partition-rows N] [--chunk BYTES] [--no-freeze] [--analyze]
 *                 [--defer-pk] [--fresh-snapshots] [--quiet]
 *
 * --defer-pk drops each created primary key before the load and adds it back after the
 * table's last partition (an index build from sorted data instead of row-by-row inserts);
 * it measures what such a DDL option would bring. */
#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/catalog.h"
#include "common/sqlquote.h"
#include "workers/pg_catalog.h"
#include "workers/pg_ddl.h"
#include "workers/pg_load.h"
#include "workers/pg_load_plan.h"

#define TASK "bench"

typedef struct options {
	const char *source, *target, *schema;
	int workers;
	int64_t partition_rows;
	size_t chunk;
	bool no_freeze, analyze, defer_pk, fresh, quiet;
} options;

/* What the workers share: the plan and a cursor into it, and per table the partitions
 * not yet done (the worker that takes it to zero builds the indexes). */
typedef struct shared {
	atomic_int next;
	atomic_int failed;
	int n_parts;
	int n_tables;
	atomic_int *remaining;      /* [n_tables] */
	pg_load_partition *parts;   /* [n_parts] */
} shared;

typedef struct bench {
	options o;
	catalog *cat;
	pg_load_table *tables;
	pg_ddl_script *after; /* per table: (primary key, when deferred) + indexes */
	char snapshot[128];
	shared *sh;
} bench;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_pg_load: %s: %s\n", what, why ? why : "?");
	exit(1);
}

static PGconn *connect_to(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", PQerrorMessage(c));
	return c;
}

static void exec_or_die(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		die(sql, PQresultErrorMessage(res));
	PQclear(res);
}

/* ---- setup: catalog, target tables, plan ------------------------------------------------ */

static void defer_primary_key(bench *b, PGconn *tgt, int i)
{
	const catalog_table *t = b->cat->tables[i];
	if (t->key_kind != CATALOG_KEY_PRIMARY || t->key_name == NULL)
		return;
	strbuf drop = STRBUF_INIT, add = STRBUF_INIT;
	strbuf_appendf(&drop, "ALTER TABLE %s DROP CONSTRAINT ", b->tables[i].target_name);
	sql_append_pg_ident(&drop, t->key_name);
	exec_or_die(tgt, strbuf_str(&drop));
	strbuf_appendf(&add, "ALTER TABLE %s ADD CONSTRAINT ", b->tables[i].target_name);
	sql_append_pg_ident(&add, t->key_name);
	strbuf_append(&add, " PRIMARY KEY (");
	for (int k = 0; k < t->n_key_columns; k++) {
		strbuf_append(&add, k > 0 ? ", " : "");
		sql_append_pg_ident(&add, t->columns[t->key_columns[k]].name);
	}
	strbuf_append_char(&add, ')');
	pg_ddl_script *s = &b->after[i];
	char **st = realloc(s->statements, (size_t)(s->n_statements + 1) * sizeof *st);
	if (st == NULL)
		die("defer pk", "out of memory");
	memmove(st + 1, st, (size_t)s->n_statements * sizeof *st);
	st[0] = strbuf_detach(&add);
	s->statements = st;
	s->n_statements++;
	s->cap_statements = s->n_statements;
	strbuf_free(&drop);
}

static void create_tables(bench *b, PGconn *tgt)
{
	int n = b->cat->n_tables;
	b->tables = calloc((size_t)n, sizeof *b->tables);
	b->after = calloc((size_t)n, sizeof *b->after);
	if (b->tables == NULL || b->after == NULL)
		die("setup", "out of memory");
	pg_ddl_options d = {NULL, TABLE_PREP_DROP, true, NULL, NULL, false};
	for (int i = 0; i < n; i++) {
		const catalog_table *t = b->cat->tables[i];
		pg_ddl_script before = {0};
		char *err = NULL;
		if (pg_ddl_before_load(t, &d, &before, &err) < 0 ||
		    pg_ddl_after_load(t, &d, &b->after[i], &err) < 0)
			die(t->name, err);
		for (int j = 0; j < before.n_statements; j++)
			exec_or_die(tgt, before.statements[j]);
		pg_ddl_script_free(&before);
		pg_load_table_options lo = {.target_owned = true};
		if (pg_load_table_init(&b->tables[i], t, &lo, &err) < 0)
			die(t->name, err);
		if (b->o.defer_pk)
			defer_primary_key(b, tgt, i);
	}
}

static int by_size_desc(const void *a, const void *b)
{
	const pg_load_partition *x = a, *y = b;
	return (y->est_bytes > x->est_bytes) - (y->est_bytes < x->est_bytes);
}

static void make_plan(bench *b, PGconn *src, PGconn *tgt)
{
	pg_load_plan plan = {0};
	pg_load_plan_options po = {TASK, b->o.partition_rows, 0, !b->o.fresh};
	for (int i = 0; i < b->cat->n_tables; i++) {
		char *err = NULL;
		if (pg_load_plan_table(src, tgt, &b->tables[i], i, &po, &plan, &err) < 0)
			die("plan", err);
	}
	/* the largest partitions first, so the last ones to finish are short */
	qsort(plan.parts, (size_t)plan.n, sizeof *plan.parts, by_size_desc);
	size_t size = sizeof(shared) + (size_t)b->cat->n_tables * sizeof(atomic_int) +
		      (size_t)plan.n * sizeof(pg_load_partition);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap", "failed");
	shared *sh = mem;
	sh->n_parts = plan.n;
	sh->n_tables = b->cat->n_tables;
	sh->remaining = (atomic_int *)(sh + 1);
	sh->parts = (pg_load_partition *)(sh->remaining + sh->n_tables);
	memcpy(sh->parts, plan.parts, (size_t)plan.n * sizeof *plan.parts);
	for (int i = 0; i < plan.n; i++)
		atomic_fetch_add(&sh->remaining[plan.parts[i].table], 1);
	b->sh = sh;
	pg_load_plan_free(&plan);
}

/* ---- the workers ------------------------------------------------------------------------------ */

static void finish_table(bench *b, PGconn *tgt, int t, int w)
{
	double t0 = now_s();
	pg_load_finish_options fo = {TASK, &b->after[t], b->o.analyze, "512MB"};
	char *err = NULL;
	if (pg_load_finish_table(tgt, &b->tables[t], &fo, &err) == PG_LOAD_ERROR)
		die("finish", err);
	if (!b->o.quiet)
		printf("  worker %d: %s after-load %.2f s\n", w, b->tables[t].source_name,
		       now_s() - t0);
}

static int worker_main(bench *b, int w)
{
	PGconn *src = connect_to(b->o.source), *tgt = connect_to(b->o.target);
	pg_load_source s;
	char *err = NULL;
	if (pg_load_source_begin(&s, src, b->o.fresh ? NULL : b->snapshot, &err) < 0)
		die("source", err);
	pg_load_copy_options co = {.task = TASK, .no_freeze = b->o.no_freeze, .chunk_bytes = b->o.chunk};
	int i;
	while ((i = atomic_fetch_add(&b->sh->next, 1)) < b->sh->n_parts) {
		const pg_load_partition *p = &b->sh->parts[i];
		const pg_load_table *lt = &b->tables[p->table];
		double t0 = now_s();
		int64_t rows = 0;
		if (pg_load_copy_partition(&s, tgt, lt, p, &co, &rows, &err) == PG_LOAD_ERROR) {
			atomic_store(&b->sh->failed, 1);
			die("copy", err);
		}
		if (!b->o.quiet)
			printf("  worker %d: %s %d/%d %" PRId64 " rows %.2f s\n", w, lt->source_name,
			       p->number, p->count, rows, now_s() - t0);
		fflush(stdout);
		if (atomic_fetch_sub(&b->sh->remaining[p->table], 1) == 1)
			finish_table(b, tgt, p->table, w);
		fflush(stdout);
	}
	pg_load_source_end(&s, &err);
	PQfinish(src);
	PQfinish(tgt);
	return 0;
}

static int run_workers(bench *b)
{
	fflush(stdout);
	pid_t pids[64];
	int n = b->o.workers < 64 ? b->o.workers : 64;
	for (int w = 0; w < n; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			die("fork", "failed");
		if (pids[w] == 0)
			exit(worker_main(b, w + 1));
	}
	int failed = 0;
	for (int w = 0; w < n; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	return failed || atomic_load(&b->sh->failed);
}

/* ---- main -------------------------------------------------------------------------------------- */

static void parse_args(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 's'}, {"target", required_argument, NULL, 't'},
		{"schema", required_argument, NULL, 'n'}, {"workers", required_argument, NULL, 'w'},
		{"partition-rows", required_argument, NULL, 'p'},
		{"chunk", required_argument, NULL, 'c'}, {"no-freeze", no_argument, NULL, 'F'},
		{"analyze", no_argument, NULL, 'a'}, {"defer-pk", no_argument, NULL, 'k'},
		{"fresh-snapshots", no_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0}};
	*o = (options){.schema = "public", .workers = 2, .partition_rows = 1000000};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->source = optarg; break;
		case 't': o->target = optarg; break;
		case 'n': o->schema = optarg; break;
		case 'w': o->workers = atoi(optarg); break;
		case 'p': o->partition_rows = strtoll(optarg, NULL, 10); break;
		case 'c': o->chunk = strtoull(optarg, NULL, 10); break;
		case 'F': o->no_freeze = true; break;
		case 'a': o->analyze = true; break;
		case 'k': o->defer_pk = true; break;
		case 'f': o->fresh = true; break;
		case 'q': o->quiet = true; break;
		default: exit(2);
		}
	}
	if (o->source == NULL || o->target == NULL || o->workers < 1) {
		fprintf(stderr, "usage: bench_pg_load --source CONNINFO --target CONNINFO [options]\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	bench b = {0};
	parse_args(argc, argv, &b.o);
	double t0 = now_s();
	PGconn *src = connect_to(b.o.source), *tgt = connect_to(b.o.target), *holder = NULL;
	exec_or_die(tgt, "SET client_min_messages = warning");
	if (!b.o.fresh) {
		holder = connect_to(b.o.source);
		PGresult *res = PQexec(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
					       "SELECT pg_export_snapshot()");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("export snapshot", PQresultErrorMessage(res));
		snprintf(b.snapshot, sizeof b.snapshot, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	const char *schemas[1] = {b.o.schema};
	pg_catalog_filter filter = {schemas, 1, NULL, NULL};
	char *err = NULL;
	if (pg_catalog_read(src, &filter, &b.cat, &err) < 0)
		die("catalog", err);
	if (pg_load_bookkeeping_init(tgt, &err) < 0)
		die("bookkeeping", err);
	exec_or_die(tgt, "DELETE FROM ferry.load_progress WHERE task = '" TASK "';"
			 "DELETE FROM ferry.load_plan WHERE task = '" TASK "'");
	create_tables(&b, tgt);
	make_plan(&b, src, tgt);
	double t1 = now_s();
	printf("setup %.2f s: %d tables, %d partitions\n", t1 - t0, b.cat->n_tables, b.sh->n_parts);
	int failed = run_workers(&b);
	double t2 = now_s();
	printf("load %.2f s\ntotal %.2f s\n", t2 - t1, t2 - t0);
	if (holder != NULL)
		PQfinish(holder);
	for (int i = 0; i < b.cat->n_tables; i++) {
		pg_load_table_free(&b.tables[i]);
		pg_ddl_script_free(&b.after[i]);
	}
	free(b.tables);
	free(b.after);
	catalog_free(b.cat);
	PQfinish(src);
	PQfinish(tgt);
	return failed;
}
