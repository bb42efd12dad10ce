/* ferryctl validate [TASK] [--table T] [--json] [--limit N]: compares source and target
 * table by table (workers/validate_table.h says how) and reports the differences.
 * Exit status: 0 every table equal, 1 differences (or tables not compared yet), 2 error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/ferryctl_db_int.h"
#include "workers/validate_report.h"
#include "workers/validate_table.h"

#define VALIDATE_LANES 2

int fc_validate_main(fc_ctx *c, int argc, char **argv);

void fc_validation_free(fc_validation *v)
{
	for (int i = 0; v->results && i < v->vt.n; i++)
		vd_result_free(&v->results[i]);
	free(v->results);
	free(v->compared);
	vd_pg_task_free(&v->vt);
	memset(v, 0, sizeof *v);
}

const char *fc_validation_result(const fc_validation *v)
{
	if (v->n_error > 0)
		return "error";
	return v->n_different > 0 || v->n_skipped > 0 ? "different" : "equal";
}

static void count_result(fc_validation *v, const vd_table_result *r)
{
	switch (r->status) {
	case VD_EQUAL: v->n_equal++; break;
	case VD_DIFFERENT: v->n_different++; break;
	case VD_SKIPPED: v->n_skipped++; break;
	case VD_ERROR: v->n_error++; break;
	}
	v->rows += r->rows_source;
	v->differing += r->rows_differing;
	v->unsettled += r->rows_unsettled;
}

/* Connections and tables. -1 after printing why. */
static int open_task(fc_ctx *c, int lanes, vd_pg_pool *pool, fc_validation *v, const char *table)
{
	char msg[ENDPOINT_MESSAGE_MAX];
	if (vd_pg_pool_open(pool, c->task, lanes, "ferryctl validate", &c->env, msg, sizeof msg) != ENDPOINT_OK) {
		fprintf(stderr, "ferryctl: task %s: %s\n", c->task->name, msg);
		return -1;
	}
	char *err = NULL;
	if (vd_pg_task_read(pool, c->task, &v->vt, &err) < 0) {
		fprintf(stderr, "ferryctl: task %s: reading the source catalog: %s\n", c->task->name, err ? err : "failed");
		free(err);
		return -1;
	}
	v->results = calloc((size_t)v->vt.n + 1, sizeof *v->results);
	v->compared = calloc((size_t)v->vt.n + 1, sizeof *v->compared);
	if (v->results == NULL || v->compared == NULL) {
		fprintf(stderr, "ferryctl: out of memory\n");
		return -1;
	}
	int only = table ? vd_pg_task_find(&v->vt, table) : -1;
	if (table && only < 0) {
		fprintf(stderr, "ferryctl: task %s: %s table '%s' (name it schema.table)\n", c->task->name,
			only == -2 ? "more than one" : "no", table);
		return -1;
	}
	for (int i = 0; i < v->vt.n; i++)
		v->compared[i] = only < 0 || i == only;
	return 0;
}

/* A table ferryd still loads or catches up: not compared (its rows are on the way). */
static bool skip_table(fc_ctx *c, const vd_table *t, vd_table_result *r)
{
	if (c->task_status == NULL)
		return false;
	const char *state = fc_table_state(c, t->label);
	if (state == NULL || strcmp(state, "in-sync") == 0)
		return false;
	vd_result_set_reason(r, VD_SKIPPED, "table is %s, not in sync yet", state);
	return true;
}

int fc_validate_task(fc_ctx *c, const char *table, int lanes, int max_report, fc_validation *v)
{
	memset(v, 0, sizeof *v);
	char err[512];
	int st = fc_refresh_status(c, err, sizeof err);
	if (st < 0) {
		fprintf(stderr, "ferryctl: asking ferryd for its status: %s\n", err);
		return -1;
	}
	v->live = fc_live(c);
	fc_env_init(c, v->live);
	c->env.max_report = max_report;
	vd_pg_pool pool;
	int rc = open_task(c, lanes, &pool, v, table);
	uint64_t start = fc_now_ms();
	if (rc == 0 && !c->json)
		printf("task %s: %s\n", c->task->name,
		       v->live ? "compared against the running task (differences re-checked once the target caught up)"
			       : st == 1 ? "ferryd is not running: source and target compared once"
					 : "the task does not stream changes: source and target compared once");
	strbuf line = STRBUF_INIT;
	if (rc == 0 && !c->json) {
		vd_report_header(&line);
		fputs(strbuf_str(&line), stdout);
	}
	for (int i = 0; rc == 0 && i < v->vt.n; i++) {
		if (!v->compared[i])
			continue;
		vd_table_result *r = &v->results[i];
		if (!skip_table(c, &v->vt.tables[i], r)) {
			int out = vd_validate_table(&pool.pool, &v->vt.tables[i], r);
			if (out != 0) {
				fprintf(stderr, "ferryctl: %s: %s\n", v->vt.tables[i].label,
					out > 0 ? "interrupted" : r->reason ? r->reason : "connection lost");
				rc = -1;
			}
		}
		count_result(v, r);
		if (!c->json) {
			strbuf_reset(&line);
			vd_report_line(&line, &v->vt.tables[i], r);
			fputs(strbuf_str(&line), stdout);
			fflush(stdout);
		}
	}
	v->seconds = (double)(fc_now_ms() - start) / 1000.0;
	strbuf_free(&line);
	vd_pg_pool_close(&pool);
	return rc;
}

void fc_validation_print_diffs(const fc_validation *v)
{
	strbuf out = STRBUF_INIT;
	for (int i = 0; i < v->vt.n; i++)
		if (v->compared[i])
			vd_report_diffs(&out, &v->vt.tables[i], &v->results[i]);
	fputs(strbuf_str(&out), stdout);
	strbuf_free(&out);
}

void fc_validation_json(const fc_ctx *c, const fc_validation *v, jsonbuf *jb)
{
	json_object_begin(jb);
	json_member_string(jb, "task", c->task->name);
	json_member_string(jb, "result", fc_validation_result(v));
	json_key(jb, "live");
	json_bool(jb, v->live);
	json_member_int(jb, "tables_equal", v->n_equal);
	json_member_int(jb, "tables_different", v->n_different);
	json_member_int(jb, "tables_skipped", v->n_skipped);
	json_member_int(jb, "tables_error", v->n_error);
	json_member_int(jb, "rows", v->rows);
	json_member_int(jb, "rows_differing", v->differing);
	json_member_int(jb, "rows_unsettled", v->unsettled);
	json_member_int(jb, "milliseconds", (int64_t)(v->seconds * 1000.0 + 0.5));
	json_key(jb, "tables");
	json_array_begin(jb);
	for (int i = 0; i < v->vt.n; i++)
		if (v->compared[i])
			vd_report_json(jb, &v->vt.tables[i], &v->results[i]);
	json_array_end(jb);
	json_object_end(jb);
}

/* ---- the command ------------------------------------------------------------------- */

typedef struct validate_args {
	const char *task, *table;
	bool json;
	int limit;
} validate_args;

static int parse(int argc, char **argv, validate_args *a)
{
	*a = (validate_args){.limit = 100};
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			a->json = true;
		} else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc) {
			a->table = argv[++i];
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 0 || n > 1000000) {
				fprintf(stderr, "ferryctl: --limit wants a number of differences, 0..1000000\n");
				return -1;
			}
			a->limit = (int)n;
		} else if (argv[i][0] != '-' && a->task == NULL) {
			a->task = argv[i];
		} else {
			fprintf(stderr, "ferryctl: unknown argument '%s' for validate\n"
					"usage: ferryctl -c FILE validate [TASK] [--table SCHEMA.TABLE] [--json] [--limit N]\n",
				argv[i]);
			return -1;
		}
	}
	return 0;
}

static void print_summary(const fc_validation *v)
{
	printf("%d tables: %d equal, %d different, %d not compared, %d failed; %lld rows compared, %lld differ",
	       v->n_equal + v->n_different + v->n_skipped + v->n_error, v->n_equal, v->n_different, v->n_skipped,
	       v->n_error, (long long)v->rows, (long long)v->differing);
	if (v->unsettled > 0)
		printf(", %lld kept changing and were not compared", (long long)v->unsettled);
	printf(" (%.2f s)\n", v->seconds);
}

int fc_validate_main(fc_ctx *c, int argc, char **argv)
{
	validate_args a;
	if (parse(argc, argv, &a) < 0 || fc_pick_task(c, a.task) < 0 || fc_check_pair(c, c->task) < 0)
		return FC_EXIT_ERROR;
	c->json = a.json;
	fc_validation v;
	int rc = fc_validate_task(c, a.table, VALIDATE_LANES, a.limit, &v);
	if (rc == 0 && a.json) {
		jsonbuf jb;
		jsonbuf_init(&jb);
		fc_validation_json(c, &v, &jb);
		jsonbuf_append(&jb, "\n");
		fputs(jb.failed ? "{}\n" : jb.data, stdout);
		jsonbuf_free(&jb);
	} else if (rc == 0) {
		fc_validation_print_diffs(&v);
		print_summary(&v);
	}
	const char *result = fc_validation_result(&v);
	int code = rc < 0 || strcmp(result, "error") == 0 ? FC_EXIT_ERROR
		   : strcmp(result, "equal") == 0      ? FC_EXIT_OK
						       : FC_EXIT_NOT_OK;
	fc_validation_free(&v);
	return code;
}
