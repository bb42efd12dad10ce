/* Partition planning for the full load (see workers/pg_load_plan.h). */
#include "workers/pg_load_plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sqlquote.h"
#include "workers/pg_load_internal.h"

#define DEFAULT_MAX_PARTITIONS 1024
/* Rows assumed per byte of table when the source never estimated its rows (never
 * vacuumed or analyzed): about pgbench_accounts' density, so a large table is split. */
#define BYTES_PER_UNKNOWN_ROW 100
#define PG_TID_RANGE_SCANS 140000

static const char *const kind_names[] = {"whole", "int", "ctid"};

void pg_load_plan_free(pg_load_plan *plan)
{
	free(plan->parts);
	memset(plan, 0, sizeof *plan);
}

static int plan_reserve(pg_load_plan *plan, int more)
{
	if (plan->n + more <= plan->cap)
		return 0;
	int cap = plan->cap > 0 ? plan->cap : 16;
	while (cap < plan->n + more)
		cap *= 2;
	pg_load_partition *p = realloc(plan->parts, (size_t)cap * sizeof *p);
	if (p == NULL)
		return -1;
	plan->parts = p;
	plan->cap = cap;
	return 0;
}

/* ---- key range boundaries ------------------------------------------------------------- */

int pg_load_plan_int_cuts(int64_t min, int64_t max, const int64_t *bounds, int n_bounds, int n,
			  int64_t *cuts)
{
	if (n <= 1 || max <= min)
		return 0;
	int k = 0;
	int64_t prev = min;
	if (bounds != NULL && n_bounds >= 2) {
		/* equal-depth histogram: bucket edge i * (n_bounds - 1) / n is quantile i / n */
		for (int i = 1; i < n; i++) {
			int64_t v = bounds[(int64_t)i * (n_bounds - 1) / n];
			if (v > prev && v <= max)
				cuts[k++] = prev = v;
		}
		if (k >= (n - 1) / 2)
			return k;
		k = 0; /* a stale histogram: most of it outside [min, max] */
		prev = min;
	}
	unsigned __int128 span = (unsigned __int128)((uint64_t)max - (uint64_t)min) + 1;
	for (int i = 1; i < n; i++) {
		int64_t v = (int64_t)((uint64_t)min + (uint64_t)(span * (unsigned)i / (unsigned)n));
		if (v > prev)
			cuts[k++] = prev = v;
	}
	return k;
}

/* ---- reading the source ------------------------------------------------------------------ */

static int read_key_extremes(PGconn *src, const pg_load_table *lt, bool *empty, int64_t *min,
			     int64_t *max, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "SELECT pg_catalog.min(%s)::pg_catalog.int8, pg_catalog.max(%s)::pg_catalog.int8 FROM %s%s",
		       lt->key_source, lt->key_source, lt->partitioned ? "" : "ONLY ", lt->source_name);
	char context[300];
	snprintf(context, sizeof context, "source: reading the key range of %s", lt->source_name);
	PGresult *res = strbuf_failed(&sb) ? NULL
					   : pg_load_exec(src, strbuf_str(&sb), 0, NULL, PGRES_TUPLES_OK,
							  context, err);
	strbuf_free(&sb);
	if (res == NULL)
		return -1;
	*empty = PQgetisnull(res, 0, 0);
	if (!*empty) {
		*min = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*max = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return 0;
}

/* The key column's histogram bounds, parsed from "{1,5,9}"; *n = 0 when there is none. */
static int read_histogram(PGconn *src, const pg_load_table *lt, int64_t **bounds, int *n,
			  char **err)
{
	const catalog_table *t = lt->source;
	const char *params[4] = {t->schema, t->name, t->columns[lt->key_column].name,
				 lt->partitioned ? "t" : "f"};
	PGresult *res = pg_load_exec(
		src,
		"SELECT histogram_bounds::pg_catalog.text FROM pg_catalog.pg_stats"
		" WHERE schemaname = $1 AND tablename = $2 AND attname = $3 AND inherited = $4::bool",
		4, params, PGRES_TUPLES_OK, "source: reading the key's statistics", err);
	*bounds = NULL;
	*n = 0;
	if (res == NULL)
		return -1;
	const char *s = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "";
	int cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	if (*s == '{' && (*bounds = malloc((size_t)cap * sizeof **bounds)) != NULL) {
		for (const char *p = s + 1; *p != '\0' && *p != '}' && *n < cap;) {
			char *end;
			long long v = strtoll(p, &end, 10);
			if (end == p)
				break; /* not a number: a histogram of another type */
			(*bounds)[(*n)++] = v;
			p = *end == ',' ? end + 1 : end;
		}
	}
	PQclear(res);
	return 0;
}

static int read_pages(PGconn *src, const pg_load_table *lt, int64_t *pages, char **err)
{
	const char *params[1] = {lt->source_name};
	PGresult *res = pg_load_exec(src,
				     "SELECT pg_catalog.pg_relation_size($1::pg_catalog.regclass)"
				     " / pg_catalog.current_setting('block_size')::pg_catalog.int8",
				     1, params, PGRES_TUPLES_OK, "source: reading the table's size", err);
	if (res == NULL)
		return -1;
	*pages = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* ---- building partitions ------------------------------------------------------------------- */

static int wanted_partitions(const pg_load_table *lt, const pg_load_plan_options *o)
{
	int64_t rows = lt->source->est_rows;
	if (rows < 0)
		rows = lt->source->est_bytes / BYTES_PER_UNKNOWN_ROW;
	if (o->partition_rows <= 0 || rows <= o->partition_rows)
		return 1;
	int max = o->max_partitions > 0 ? o->max_partitions : DEFAULT_MAX_PARTITIONS;
	int64_t n = (rows + o->partition_rows - 1) / o->partition_rows;
	return n > max ? max : (int)n;
}

static int plan_int_ranges(PGconn *src, const pg_load_table *lt, int n, pg_load_partition *out,
			   char **err)
{
	bool empty = true;
	int64_t min = 0, max = 0, *bounds = NULL;
	int n_bounds = 0;
	if (read_key_extremes(src, lt, &empty, &min, &max, err) < 0)
		return -1;
	if (empty)
		return 0;
	if (read_histogram(src, lt, &bounds, &n_bounds, err) < 0)
		return -1;
	int64_t *c = malloc((size_t)n * sizeof *c);
	if (c == NULL) {
		free(bounds);
		return pg_load_fail(err, "planning %s: out of memory", lt->source_name);
	}
	int k = pg_load_plan_int_cuts(min, max, bounds, n_bounds, n, c);
	for (int i = 0; i <= k && k > 0; i++)
		out[i] = (pg_load_partition){.kind = PG_LOAD_PART_INT_RANGE,
					     .lo = i > 0 ? c[i - 1] : 0, .hi = i < k ? c[i] : 0,
					     .open_lo = i == 0, .open_hi = i == k};
	free(c);
	free(bounds);
	return k > 0 ? k + 1 : 0;
}

static int plan_ctid_ranges(PGconn *src, const pg_load_table *lt, int n, pg_load_partition *out,
			    char **err)
{
	int64_t pages = 0;
	if (read_pages(src, lt, &pages, err) < 0)
		return -1;
	if (pages < 2)
		return 0;
	if (n > pages)
		n = (int)pages;
	int64_t per = (pages + n - 1) / n;
	int count = (int)((pages + per - 1) / per);
	for (int i = 0; i < count; i++)
		out[i] = (pg_load_partition){.kind = PG_LOAD_PART_CTID_RANGE, .lo = i * per,
					     .hi = (i + 1) * per, .open_lo = i == 0,
					     .open_hi = i == count - 1};
	return count;
}

/* Fills out[0..) from the source: the number of partitions, 0 = one whole partition. */
static int plan_from_source(PGconn *src, const pg_load_table *lt, const pg_load_plan_options *o,
			    pg_load_partition *out, int n, char **err)
{
	if (n <= 1)
		return 0;
	if (lt->key_column >= 0)
		return plan_int_ranges(src, lt, n, out, err);
	if (!lt->partitioned && o->shared_snapshot && PQserverVersion(src) >= PG_TID_RANGE_SCANS)
		return plan_ctid_ranges(src, lt, n, out, err);
	return 0;
}

/* ---- the stored plan ------------------------------------------------------------------------ */

static int kind_of(const char *name)
{
	for (int k = 0; k < 3; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/* Appends the stored partitions of the table: how many (0 = none stored), -1 on error. */
static int read_stored(PGconn *tgt, const pg_load_table *lt, int table,
		       const pg_load_plan_options *o, pg_load_plan *plan, char **err)
{
	const char *params[2] = {o->task, lt->source_name};
	PGresult *res = pg_load_exec(tgt,
				     "SELECT partition, kind, lo, hi, est_rows FROM " PG_LOAD_PLAN_TABLE
				     " WHERE task = $1 AND source_table = $2 ORDER BY partition",
				     2, params, PGRES_TUPLES_OK, "target: reading the load plan", err);
	if (res == NULL)
		return -1;
	int n = PQntuples(res);
	if (plan_reserve(plan, n) < 0) {
		PQclear(res);
		return pg_load_fail(err, "planning %s: out of memory", lt->source_name);
	}
	for (int i = 0; i < n; i++) {
		int kind = kind_of(PQgetvalue(res, i, 1));
		if (atoi(PQgetvalue(res, i, 0)) != i + 1 || kind < 0) {
			PQclear(res);
			return pg_load_fail(err, "the stored load plan of %s is damaged (partition %d)",
					    lt->source_name, i + 1);
		}
		plan->parts[plan->n + i] = (pg_load_partition){
			.table_id = lt->source->id, .table = table, .number = i + 1, .count = n,
			.kind = kind, .lo = strtoll(PQgetvalue(res, i, 2), NULL, 10),
			.hi = strtoll(PQgetvalue(res, i, 3), NULL, 10),
			.est_rows = strtoll(PQgetvalue(res, i, 4), NULL, 10),
			.est_bytes = lt->source->est_bytes / n,
			.open_lo = PQgetisnull(res, i, 2), .open_hi = PQgetisnull(res, i, 3)};
	}
	plan->n += n;
	PQclear(res);
	return n;
}

static void append_array_value(strbuf *sb, bool null, int64_t v)
{
	strbuf_append_char(sb, sb->len > 0 ? ',' : '{');
	if (null)
		strbuf_append(sb, "NULL");
	else
		strbuf_appendf(sb, "%" PRId64, v);
}

static int store_plan(PGconn *tgt, const pg_load_table *lt, const pg_load_plan_options *o,
		      const pg_load_partition *parts, int n, char **err)
{
	strbuf num = STRBUF_INIT, kind = STRBUF_INIT, lo = STRBUF_INIT, hi = STRBUF_INIT,
	       est = STRBUF_INIT;
	for (int i = 0; i < n; i++) {
		append_array_value(&num, false, parts[i].number);
		strbuf_append(&kind, kind.len > 0 ? "," : "{");
		strbuf_append(&kind, kind_names[parts[i].kind]);
		append_array_value(&lo, parts[i].open_lo, parts[i].lo);
		append_array_value(&hi, parts[i].open_hi, parts[i].hi);
		append_array_value(&est, false, parts[i].est_rows);
	}
	strbuf *arrays[5] = {&num, &kind, &lo, &hi, &est};
	bool failed = false;
	for (int i = 0; i < 5; i++) {
		strbuf_append_char(arrays[i], '}');
		failed = failed || strbuf_failed(arrays[i]);
	}
	const char *params[7] = {o->task, lt->source_name, num.data, kind.data, lo.data, hi.data,
				 est.data};
	int rc = failed ? pg_load_fail(err, "planning %s: out of memory", lt->source_name)
			: pg_load_command(
				  tgt,
				  "INSERT INTO " PG_LOAD_PLAN_TABLE
				  " (task, source_table, partition, kind, lo, hi, est_rows)"
				  " SELECT $1, $2, u.p, u.k, u.lo, u.hi, u.e FROM ROWS FROM ("
				  "pg_catalog.unnest($3::int[]), pg_catalog.unnest($4::text[]),"
				  " pg_catalog.unnest($5::int8[]), pg_catalog.unnest($6::int8[]),"
				  " pg_catalog.unnest($7::int8[])) AS u(p, k, lo, hi, e)"
				  " ON CONFLICT DO NOTHING",
				  7, params, "target: storing the load plan", err);
	for (int i = 0; i < 5; i++)
		strbuf_free(arrays[i]);
	return rc;
}

/* ---- the plan ----------------------------------------------------------------------------------- */

int pg_load_plan_table(PGconn *source, PGconn *target, const pg_load_table *lt, int table,
		       const pg_load_plan_options *o, pg_load_plan *plan, char **err)
{
	int old_n = plan->n;
	if (target != NULL) {
		int n = read_stored(target, lt, table, o, plan, err);
		if (n != 0)
			return n > 0 ? 0 : -1;
	}
	int want = wanted_partitions(lt, o);
	pg_load_partition *parts = calloc((size_t)want, sizeof *parts);
	if (parts == NULL)
		return pg_load_fail(err, "planning %s: out of memory", lt->source_name);
	int n = plan_from_source(source, lt, o, parts, want, err);
	if (n == 0)
		parts[0] = (pg_load_partition){.kind = PG_LOAD_PART_WHOLE, .open_lo = 1, .open_hi = 1};
	int count = n > 0 ? n : 1;
	int64_t rows = lt->source->est_rows;
	for (int i = 0; i < count; i++) {
		parts[i].table_id = lt->source->id;
		parts[i].table = table;
		parts[i].number = i + 1;
		parts[i].count = count;
		parts[i].est_rows = rows >= 0 ? rows / count : -1;
		parts[i].est_bytes = lt->source->est_bytes / count;
	}
	int rc = n < 0 ? -1 : 0;
	if (rc == 0 && target != NULL) {
		/* store, then use what is stored: the same plan whoever stored it first */
		rc = store_plan(target, lt, o, parts, count, err);
		int stored = rc == 0 ? read_stored(target, lt, table, o, plan, err) : -1;
		if (rc == 0 && stored == 0)
			rc = pg_load_fail(err, "target: the load plan of %s was not stored",
					  lt->source_name);
		else if (stored < 0)
			rc = -1;
	} else if (rc == 0) {
		if (plan_reserve(plan, count) < 0)
			rc = pg_load_fail(err, "planning %s: out of memory", lt->source_name);
		else
			memcpy(plan->parts + plan->n, parts, (size_t)count * sizeof *parts);
		plan->n += rc == 0 ? count : 0;
	}
	free(parts);
	if (rc < 0)
		plan->n = old_n;
	return rc;
}

int pg_load_plan_store(PGconn *target, const pg_load_table *lt, int table, const pg_load_plan_options *o,
		       const pg_load_partition *parts, int n, pg_load_plan *plan, char **err)
{
	int old_n = plan->n;
	int stored = read_stored(target, lt, table, o, plan, err);
	if (stored == 0 && store_plan(target, lt, o, parts, n, err) == 0) {
		stored = read_stored(target, lt, table, o, plan, err);
		if (stored == 0)
			stored = pg_load_fail(err, "target: the load plan of %s was not stored", lt->source_name);
	} else if (stored == 0) {
		stored = -1;
	}
	if (stored < 0)
		plan->n = old_n;
	return stored < 0 ? -1 : 0;
}
