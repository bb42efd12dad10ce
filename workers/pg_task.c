/* Connections and the task's tables for the PostgreSQL workers (see the header). */
#include "workers/pg_task.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "workers/pg_catalog.h"
#include "workers/pg_conn.h"
#include "workers/pg_value.h"

bool pg_task_is_pg_to_pg(const task_config *task)
{
	return task->source_ep != NULL && task->target_ep != NULL && task->source_ep->engine == ENGINE_POSTGRESQL &&
	       task->target_ep->engine == ENGINE_POSTGRESQL;
}

codec_id pg_task_codec(const task_config *task)
{
	switch (task->spill_compression) {
	case COMPRESSION_ZSTD: return CODEC_ZSTD;
	case COMPRESSION_LZ4: return CODEC_LZ4;
	case COMPRESSION_NONE: return CODEC_NONE;
	}
	return CODEC_ZSTD;
}

void pg_task_spill_dir(const worker_context *ctx, char *buf, size_t size)
{
	snprintf(buf, size, "%s/spill-%s", ctx->config->ferryd.data_dir, ctx->task->name);
}

int pg_task_index(const worker_context *ctx)
{
	return (int)(ctx->task - ctx->config->tasks);
}

/* The log gets the whole message; the status slot what fits. */
int pg_task_fail(worker_context *ctx, int code, const char *fmt, ...)
{
	char small[WORKER_ERROR_MAX];
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int need = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	char *whole = need >= (int)sizeof small ? malloc((size_t)need + 1) : NULL;
	if (whole != NULL)
		vsnprintf(whole, (size_t)need + 1, fmt, again);
	va_end(again);
	log_error("%s", whole ? whole : small);
	status_set_error(ctx->status, "%s", small);
	free(whole);
	return code;
}

int pg_task_exit_code(endpoint_result r)
{
	return r == ENDPOINT_FATAL ? FERRY_EXIT_FATAL : FERRY_EXIT_TRANSIENT;
}

static void app_name(const worker_context *ctx, const char *suffix, char *buf, size_t size)
{
	char display[160];
	worker_display_name(ctx->kind, ctx->task->name, ctx->index, display, sizeof display);
	snprintf(buf, size, "ferry %s%s", display, suffix);
}

int pg_task_connect(worker_context *ctx, endpoint_role role, endpoint_conn **out)
{
	const endpoint_config *ep = role == ENDPOINT_SOURCE ? ctx->task->source_ep : ctx->task->target_ep;
	char name[200], message[ENDPOINT_MESSAGE_MAX];
	app_name(ctx, "", name, sizeof name);
	endpoint_result r = endpoint_connect(ep, role, name, out, message, sizeof message);
	if (r != ENDPOINT_OK)
		return pg_task_fail(ctx, pg_task_exit_code(r), "%s", message);
	return 0;
}

/* Like pg_conn_open(), with replication=database and the session options the stream's
 * value text needs. The password is read here and wiped after the connect. */
int pg_task_connect_replication(worker_context *ctx, PGconn **out)
{
	const endpoint_config *ep = ctx->task->source_ep;
	char *err = NULL, name[200], why[ENDPOINT_MESSAGE_MAX];
	char *password = endpoint_read_password(ep, &err);
	if (password == NULL && err != NULL) {
		int code = pg_task_fail(ctx, FERRY_EXIT_FATAL, "source endpoint %s: %s", ep->name, err);
		free(err);
		return code;
	}
	app_name(ctx, " (replication)", name, sizeof name);
	pg_conn_extra extra = {.replication = "database", .options = pg_value_session_options()};
	endpoint_result r = pg_conn_open_with(ep, password, name, &extra, out, why, sizeof why);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (r != ENDPOINT_OK)
		return pg_task_fail(ctx, pg_task_exit_code(r), "source endpoint %s (%s:%d), replication connection: %s",
				    ep->name, ep->host ? ep->host : "localhost", ep->port > 0 ? ep->port : 5432, why);
	return 0;
}

/* ---- the task's tables ------------------------------------------------------------- */

static bool keep_table(void *arg, const char *schema, const char *name)
{
	return rules_select(arg, schema, name);
}

static const rules_table *resolved_of(const pg_task_tables *tt, const catalog_table *t)
{
	for (int i = 0; i < tt->cat->n_tables; i++)
		if (tt->cat->tables[i] == t)
			return tt->resolved[i].source_name ? &tt->resolved[i] : NULL;
	return NULL;
}

static void map_table(void *arg, const catalog_table *t, const char **schema, const char **name)
{
	const rules_table *r = resolved_of(arg, t);
	*schema = r ? r->target_schema : t->schema;
	*name = r ? r->target_name : t->name;
}

static const char *map_schema(void *arg, const char *schema)
{
	pg_task_tables *tt = arg;
	char *s = rules_target_schema(tt->rules, schema);
	if (s == NULL)
		return schema;
	char **grown = realloc(tt->schema_cache, (size_t)(tt->n_schema_cache + 1) * sizeof *grown);
	if (grown == NULL) {
		free(s);
		return schema;
	}
	tt->schema_cache = grown;
	tt->schema_cache[tt->n_schema_cache++] = s;
	return s;
}

static const char *map_column(void *arg, const catalog_table *t, const catalog_column *c)
{
	const rules_table *r = resolved_of(arg, t);
	int i = (int)(c - t->columns);
	if (r == NULL || i < 0 || i >= r->n_columns)
		return c->name;
	return r->target_columns[i];
}

static int resolve_one(pg_task_tables *tt, int i, config_diag *diag)
{
	const catalog_table *t = tt->cat->tables[i];
	const char **cols = calloc((size_t)t->n_columns + 1, sizeof *cols);
	bool *is_key = calloc((size_t)t->n_columns + 1, sizeof *is_key);
	if (cols == NULL || is_key == NULL) {
		free(cols);
		free(is_key);
		return -1;
	}
	for (int c = 0; c < t->n_columns; c++)
		cols[c] = t->columns[c].name;
	for (int k = 0; k < t->n_key_columns; k++)
		is_key[t->key_columns[k]] = true;
	rules_source_table src = {.schema = t->schema, .name = t->name, .columns = cols,
				  .is_key = t->n_key_columns ? is_key : NULL, .n_columns = t->n_columns};
	int r = rules_resolve_table(tt->rules, &src, &tt->resolved[i], diag);
	free(cols);
	free(is_key);
	return r < 0 ? -1 : 0;
}

static char *diag_text(const config_diag *diag, const char *fallback)
{
	return strdup(diag->errors.count ? diag->errors.items[0] : fallback);
}

static int read_pg_catalog(void *arg, const task_config *task, bool (*keep)(void *, const char *, const char *),
			   void *keep_arg, catalog **out, char **err)
{
	(void)task;
	pg_catalog_filter filter = {.keep_table = keep, .arg = keep_arg};
	return pg_catalog_read(arg, &filter, out, err);
}

int pg_task_tables_read(PGconn *conn, const task_config *task, pg_task_tables *out, char **err)
{
	return pg_task_tables_read_with(task, read_pg_catalog, conn, out, err);
}

int pg_task_tables_read_with(const task_config *task, pg_task_catalog_fn read, void *arg, pg_task_tables *out,
			     char **err)
{
	memset(out, 0, sizeof *out);
	config_diag diag = {0};
	out->rules = rules_compile(task, NULL, &diag);
	if (out->rules == NULL) {
		*err = diag_text(&diag, "the task's rules do not compile");
		config_diag_free(&diag);
		return -1;
	}
	if (read(arg, task, keep_table, out->rules, &out->cat, err) < 0) {
		pg_task_tables_free(out);
		config_diag_free(&diag);
		return -1;
	}
	out->resolved = calloc((size_t)out->cat->n_tables + 1, sizeof *out->resolved);
	for (int i = 0; out->resolved && i < out->cat->n_tables; i++) {
		if (resolve_one(out, i, &diag) < 0) {
			*err = diag_text(&diag, "out of memory");
			config_diag_free(&diag);
			pg_task_tables_free(out);
			return -1;
		}
	}
	config_diag_free(&diag);
	if (out->resolved == NULL) {
		*err = strdup("out of memory");
		pg_task_tables_free(out);
		return -1;
	}
	out->map = (catalog_name_map){map_table, map_schema, map_column, out};
	return 0;
}

void pg_task_tables_free(pg_task_tables *tt)
{
	if (tt->resolved && tt->cat)
		for (int i = 0; i < tt->cat->n_tables; i++)
			rules_table_free(&tt->resolved[i]);
	free(tt->resolved);
	for (int i = 0; i < tt->n_schema_cache; i++)
		free(tt->schema_cache[i]);
	free(tt->schema_cache);
	if (tt->cat)
		catalog_free(tt->cat);
	if (tt->rules)
		rules_free(tt->rules);
	memset(tt, 0, sizeof *tt);
}

bool pg_task_table_selected(const pg_task_tables *tt, int i)
{
	return tt->resolved[i].source_name != NULL;
}

void pg_task_quoted_name(const char *schema, const char *name, char *buf, size_t size)
{
	strbuf sb;
	strbuf_init(&sb);
	sql_append_pg_qualified(&sb, schema, name);
	snprintf(buf, size, "%s", strbuf_failed(&sb) ? "?" : strbuf_str(&sb));
	strbuf_free(&sb);
}

int pg_task_find_oid(const pg_task_tables *tt, uint64_t oid)
{
	for (int i = 0; i < tt->cat->n_tables; i++)
		if (tt->cat->tables[i]->id == oid)
			return i;
	return -1;
}
