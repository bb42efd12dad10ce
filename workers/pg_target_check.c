/* Target preflight: tables kept as they are must fit the source (see the header). */
#include "workers/pg_target_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/pg_catalog.h"

/* At most this many tables are described; the rest are counted. */
#define TARGET_CHECK_MAX_LISTED 10

/* The mapped names of the selected tables: the catalog filter's keep_table. */
typedef struct wanted_tables {
	const pg_task_tables *tt;
} wanted_tables;

static bool keep_wanted(void *arg, const char *schema, const char *name)
{
	const pg_task_tables *tt = ((const wanted_tables *)arg)->tt;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		if (!pg_task_table_selected(tt, i))
			continue;
		const char *ts, *tn;
		catalog_map_table(&tt->map, tt->cat->tables[i], &ts, &tn);
		if (strcmp(ts, schema) == 0 && strcmp(tn, name) == 0)
			return true;
	}
	return false;
}

/* Distinct target schemas of the selected tables (pointers into the map's names). */
static int target_schemas(const pg_task_tables *tt, const char ***out)
{
	const char **schemas = calloc((size_t)tt->cat->n_tables + 1, sizeof *schemas);
	int n = 0;
	if (schemas == NULL)
		return -1;
	for (int i = 0; i < tt->cat->n_tables; i++) {
		if (!pg_task_table_selected(tt, i))
			continue;
		const char *ts, *tn;
		catalog_map_table(&tt->map, tt->cat->tables[i], &ts, &tn);
		int j = 0;
		while (j < n && strcmp(schemas[j], ts) != 0)
			j++;
		if (j == n)
			schemas[n++] = ts;
	}
	*out = schemas;
	return n;
}

pg_target_verdict pg_target_check_table(const catalog_table *src, const catalog_name_map *map,
					const catalog *target, const task_config *task, strbuf *why)
{
	const char *ts, *tn;
	catalog_map_table(map, src, &ts, &tn);
	const catalog_table *dst = catalog_find_table(target, ts, tn);
	bool creates = task->create_tables && task->migration_type != MIGRATION_CDC;
	if (dst == NULL)
		return creates ? PG_TARGET_CREATE : PG_TARGET_MISSING;
	if (task->target_table_prep == TABLE_PREP_DROP && task->migration_type != MIGRATION_CDC)
		return PG_TARGET_REPLACE;
	return catalog_table_shape_diff(src, map, dst, why) > 0 ? PG_TARGET_OTHER_SHAPE : PG_TARGET_KEEP;
}

/* One table's verdict appended to problems; returns 1 when it fails. */
static int check_one(const catalog_table *src, const pg_task_tables *tt, const catalog *target,
		     const task_config *task, bool list, strbuf *problems)
{
	const char *ts, *tn;
	catalog_map_table(&tt->map, src, &ts, &tn);
	strbuf why = STRBUF_INIT;
	pg_target_verdict v = pg_target_check_table(src, &tt->map, target, task, &why);
	if (v == PG_TARGET_MISSING && list)
		strbuf_appendf(problems, ". Target table \"%s\".\"%s\" does not exist", ts, tn);
	if (v == PG_TARGET_OTHER_SHAPE && list) {
		while (why.len > 0 && why.data[why.len - 1] == '\n')
			why.data[--why.len] = '\0';
		strbuf_appendf(problems, ". Target table \"%s\".\"%s\" has another shape than source \"%s\".\"%s\": ",
			       ts, tn, src->schema, src->name);
		for (const char *p = strbuf_str(&why); *p; p++) {
			if (*p == '\n')
				strbuf_append(problems, "; ");
			else
				strbuf_appendf(problems, "%c", *p);
		}
	}
	strbuf_free(&why);
	return v == PG_TARGET_MISSING || v == PG_TARGET_OTHER_SHAPE;
}

/* What to do comes first: the status line that carries the message is bounded. */
static char *verdict(int failed, const task_config *task, const strbuf *problems)
{
	const char *fix = task->migration_type == MIGRATION_CDC
				  ? "a cdc task applies changes to tables that already hold the rows: create them "
				    "with the source's columns, types and key"
				  : "change the target tables to match, or set target_table_prep = drop (the task "
				    "then recreates them from the source)";
	strbuf out = STRBUF_INIT;
	strbuf_appendf(&out, "%d target table%s cannot take the source's rows (target_table_prep = %s%s): %s; "
		       "nothing was created on the source or the target%s",
		       failed, failed == 1 ? "" : "s",
		       task->target_table_prep == TABLE_PREP_NOTHING ? "nothing"
		       : task->target_table_prep == TABLE_PREP_TRUNCATE ? "truncate" : "drop",
		       task->create_tables ? "" : ", create_tables = no", fix, strbuf_str(problems));
	if (failed > TARGET_CHECK_MAX_LISTED)
		strbuf_appendf(&out, "; and %d more", failed - TARGET_CHECK_MAX_LISTED);
	return strbuf_detach(&out);
}

int pg_target_check_tables(PGconn *target, const pg_task_tables *tt, const task_config *task, char **err)
{
	bool needs_target = task->target_table_prep != TABLE_PREP_DROP || !task->create_tables ||
			    task->migration_type == MIGRATION_CDC;
	if (!needs_target)
		return 0;
	const char **schemas = NULL;
	int n_schemas = target_schemas(tt, &schemas);
	if (n_schemas < 0) {
		*err = strdup("out of memory");
		return -1;
	}
	wanted_tables w = {.tt = tt};
	pg_catalog_filter f = {.schemas = schemas, .n_schemas = n_schemas, .keep_table = keep_wanted, .arg = &w};
	catalog *target_cat = NULL;
	char *read_err = NULL;
	int rc = pg_catalog_read(target, &f, &target_cat, &read_err);
	free(schemas);
	if (rc < 0) {
		strbuf m = STRBUF_INIT;
		strbuf_appendf(&m, "reading the target catalog: %s", read_err ? read_err : "failed");
		free(read_err);
		*err = strbuf_detach(&m);
		return -1;
	}
	strbuf problems = STRBUF_INIT;
	int failed = 0;
	for (int i = 0; i < tt->cat->n_tables; i++)
		if (pg_task_table_selected(tt, i))
			failed += check_one(tt->cat->tables[i], tt, target_cat, task,
					    failed < TARGET_CHECK_MAX_LISTED, &problems);
	catalog_free(target_cat);
	if (failed > 0)
		*err = verdict(failed, task, &problems);
	strbuf_free(&problems);
	return failed > 0 ? -1 : 0;
}
