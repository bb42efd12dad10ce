/* A PostgreSQL task's validation: connections and tables (see the header). */
#include "workers/pg_validate_task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_catalog.h"
#include "workers/my_validate.h"
#include "workers/pg_validate.h"
#include "workers/validate_client.h"

bool vd_task_pair_supported(const task_config *task)
{
	return task->source_ep != NULL && task->target_ep != NULL;
}

static bool mixed_pair(const task_config *task)
{
	return task->source_ep->engine != task->target_ep->engine;
}

/* The engine's validation connection over ep, wrapped for a pair of different engines. */
static int lane_open(vd_pg_pool *p, int s, int i, bool mixed, char *message, size_t size)
{
	endpoint_conn *ep = p->ep[s][i];
	bool my = ep->engine == ENGINE_MYSQL;
	void *impl = my ? my_vd_conn_new(ep->mysql, message, size) : pg_vd_conn_new(ep->pg, message, size);
	if (impl == NULL)
		return -1;
	vd_conn conn = {.ops = my ? &my_vd_ops : &pg_vd_ops, .impl = impl};
	void (*free_fn)(void *) = my ? my_vd_conn_free : pg_vd_conn_free;
	if (mixed) {
		impl = vd_client_new(conn, free_fn);
		if (impl == NULL) {
			snprintf(message, size, "out of memory");
			return -1;
		}
		conn = (vd_conn){.ops = &vd_client_ops, .impl = impl};
		free_fn = vd_client_free;
	}
	p->pool.conns[s][i] = conn;
	p->free_impl[s][i] = free_fn;
	p->pool.n[s]++;
	return 0;
}

endpoint_result vd_pg_pool_open(vd_pg_pool *p, const task_config *task, int lanes, const char *app_name,
				const vd_env *env, char *message, size_t size)
{
	memset(p, 0, sizeof *p);
	p->pool.env = env;
	if (lanes < 1)
		lanes = 1;
	if (lanes > VD_MAX_LANES)
		lanes = VD_MAX_LANES;
	for (int s = 0; s < 2; s++) {
		const endpoint_config *ep = s == VD_SOURCE ? task->source_ep : task->target_ep;
		endpoint_role role = s == VD_SOURCE ? ENDPOINT_SOURCE : ENDPOINT_TARGET;
		for (int i = 0; i < lanes; i++) {
			endpoint_result r = endpoint_connect(ep, role, app_name, &p->ep[s][i], message, size);
			if (r != ENDPOINT_OK)
				return r;
			if (lane_open(p, s, i, mixed_pair(task), message, size) < 0)
				return ENDPOINT_TRANSIENT;
		}
	}
	return ENDPOINT_OK;
}

void vd_pg_pool_close(vd_pg_pool *p)
{
	for (int s = 0; s < 2; s++) {
		for (int i = 0; i < VD_MAX_LANES; i++) {
			if (p->free_impl[s][i])
				p->free_impl[s][i](p->pool.conns[s][i].impl);
			if (p->ep[s][i])
				endpoint_close(p->ep[s][i]);
		}
	}
	memset(p, 0, sizeof *p);
}

/* ---- tables ---------------------------------------------------------------------- */

/* The database's default collation, or NULL. */
static char *default_collation(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT datcollate::text FROM pg_catalog.pg_database "
				     "WHERE datname = pg_catalog.current_database()");
	char *c = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		c = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return c;
}

static char *quoted(const char *schema, const char *name)
{
	char buf[TASKSTATE_NAME_MAX * 2];
	pg_task_quoted_name(schema, name, buf, sizeof buf);
	return strdup(buf);
}

static bool collatable(const catalog_column *c)
{
	catalog_type_class cls = c->type.cls;
	return cls == CATALOG_TYPE_TEXT || cls == CATALOG_TYPE_VARCHAR || cls == CATALOG_TYPE_CHAR ||
	       (cls == CATALOG_TYPE_OTHER && c->collation != NULL);
}

/* The selected columns of catalog table ct into t. -1 on memory. */
static int fill_columns(vd_pg_task *vt, const catalog_table *ct, vd_table *t, int *selected_of)
{
	t->cols[0] = calloc((size_t)ct->n_columns + 1, sizeof(char *));
	t->cols[1] = calloc((size_t)ct->n_columns + 1, sizeof(char *));
	if (t->cols[0] == NULL || t->cols[1] == NULL)
		return -1;
	for (int c = 0; c < ct->n_columns; c++) {
		const char *target = catalog_map_column(&vt->tt.map, ct, c);
		selected_of[c] = -1;
		if (target == NULL)
			continue;
		selected_of[c] = t->n_cols;
		t->cols[0][t->n_cols] = strdup(ct->columns[c].name);
		t->cols[1][t->n_cols] = strdup(target);
		t->n_cols++;
		if (t->cols[0][t->n_cols - 1] == NULL || t->cols[1][t->n_cols - 1] == NULL)
			return -1;
	}
	return 0;
}

static int fill_key(const catalog_table *ct, vd_table *t, const int *selected_of, bool collations_differ)
{
	t->key = calloc((size_t)ct->n_key_columns + 1, sizeof *t->key);
	t->key_collate_c = calloc((size_t)ct->n_key_columns + 1, sizeof *t->key_collate_c);
	if (t->key == NULL || t->key_collate_c == NULL)
		return -1;
	for (int k = 0; k < ct->n_key_columns; k++) {
		int c = ct->key_columns[k];
		if (selected_of[c] < 0)
			return -1; /* the rules refuse excluding a key column: cannot happen */
		t->key[k] = selected_of[c];
		t->key_collate_c[k] = collations_differ && collatable(&ct->columns[c]);
	}
	t->n_key = ct->n_key_columns;
	catalog_type_class cls = t->n_key == 1 ? ct->columns[ct->key_columns[0]].type.cls : CATALOG_TYPE_OTHER;
	/* BIGINT UNSIGNED may pass int64: cut by sampled keys instead */
	t->int_key = cls == CATALOG_TYPE_INT1 || cls == CATALOG_TYPE_INT2 || cls == CATALOG_TYPE_INT3 ||
		     cls == CATALOG_TYPE_INT4 || cls == CATALOG_TYPE_INT8 || cls == CATALOG_TYPE_UINT1 ||
		     cls == CATALOG_TYPE_UINT2 || cls == CATALOG_TYPE_UINT3 || cls == CATALOG_TYPE_UINT4;
	return 0;
}

/* A pair with MySQL: each selected column's canonical kind, and how each side prints. */
static int fill_canon(const task_config *task, const catalog_table *ct, const int *selected_of, vd_table *t)
{
	t->engine[VD_SOURCE] = task->source_ep->engine;
	t->engine[VD_TARGET] = task->target_ep->engine;
	if (t->engine[VD_SOURCE] == ENGINE_POSTGRESQL && t->engine[VD_TARGET] == ENGINE_POSTGRESQL)
		return 0;
	t->canon = calloc((size_t)t->n_cols + 1, sizeof *t->canon);
	if (t->canon == NULL)
		return -1;
	for (int c = 0; c < ct->n_columns; c++)
		if (selected_of[c] >= 0)
			t->canon[selected_of[c]] = vd_canon_kind_of(ct->columns[c].type.cls);
	t->client_hash = t->engine[VD_SOURCE] != t->engine[VD_TARGET];
	for (int s = 0; s < 2; s++)
		t->canon_side[s] = (vd_canon_side){.engine = t->engine[s],
						   .mysql_source = s == VD_SOURCE && t->engine[s] == ENGINE_MYSQL,
						   .invalid = task->invalid_values};
	return 0;
}

static int build_table(vd_pg_task *vt, const task_config *task, int i, vd_table *t, bool collations_differ)
{
	const catalog_table *ct = vt->tt.cat->tables[i];
	const char *schema, *name;
	catalog_map_table(&vt->tt.map, ct, &schema, &name);
	t->label = quoted(ct->schema, ct->name);
	t->target_label = quoted(schema, name);
	t->schema[0] = strdup(ct->schema);
	t->name[0] = strdup(ct->name);
	t->schema[1] = strdup(schema);
	t->name[1] = strdup(name);
	t->partitioned = ct->kind == CATALOG_TABLE_PARTITIONED;
	t->est_rows = ct->est_rows >= 0 ? ct->est_rows : ct->est_bytes / 100;
	const char *filter = vt->tt.resolved[i].filter;
	if (filter && (t->filter = strdup(filter)) == NULL)
		return -1;
	if (!t->label || !t->target_label || !t->schema[0] || !t->name[0] || !t->schema[1] || !t->name[1])
		return -1;
	int *selected_of = calloc((size_t)ct->n_columns + 1, sizeof *selected_of);
	int rc = selected_of ? fill_columns(vt, ct, t, selected_of) : -1;
	if (rc == 0 && ct->key_kind != CATALOG_KEY_NONE)
		rc = fill_key(ct, t, selected_of, collations_differ);
	if (rc == 0)
		rc = fill_canon(task, ct, selected_of, t);
	free(selected_of);
	return rc;
}

/* The MySQL source's catalog of the tables keep() selects (the endpoint's database). */
static int read_my_catalog(void *arg, const task_config *task, bool (*keep)(void *, const char *, const char *),
			   void *keep_arg, catalog **out, char **err)
{
	my_catalog_filter f = {.database = task->source_ep->dbname, .keep_table = keep, .arg = keep_arg};
	return my_catalog_read(arg, &f, out, err);
}

int vd_pg_task_read(vd_pg_pool *p, const task_config *task, vd_pg_task *out, char **err)
{
	memset(out, 0, sizeof *out);
	endpoint_conn *src = p->ep[VD_SOURCE][0], *dst = p->ep[VD_TARGET][0];
	bool my_source = src->engine == ENGINE_MYSQL;
	if ((my_source ? pg_task_tables_read_with(task, read_my_catalog, src->mysql, &out->tt, err)
		       : pg_task_tables_read(src->pg, task, &out->tt, err)) < 0)
		return -1;
	/* MySQL's collations order text unlike PostgreSQL's, and each column may have its
	 * own: with MySQL on either side, text keys compare bytewise */
	bool differ = true;
	if (!my_source && dst->engine == ENGINE_POSTGRESQL) {
		char *cs = default_collation(src->pg), *ct = default_collation(dst->pg);
		differ = cs == NULL || ct == NULL || strcmp(cs, ct) != 0;
		free(cs);
		free(ct);
	}
	int n_all = out->tt.cat->n_tables;
	out->tables = calloc((size_t)n_all + 1, sizeof *out->tables);
	out->cat = calloc((size_t)n_all + 1, sizeof *out->cat);
	int rc = out->tables && out->cat ? 0 : -1;
	for (int i = 0; rc == 0 && i < n_all; i++) {
		if (!pg_task_table_selected(&out->tt, i))
			continue;
		out->cat[out->n] = out->tt.cat->tables[i];
		rc = build_table(out, task, i, &out->tables[out->n], differ);
		out->n++;
	}
	if (rc < 0) {
		*err = strdup("out of memory");
		vd_pg_task_free(out);
	}
	return rc;
}

void vd_pg_task_free(vd_pg_task *vt)
{
	for (int i = 0; vt->tables && i < vt->n; i++)
		vd_table_free(&vt->tables[i]);
	free(vt->tables);
	free(vt->cat);
	pg_task_tables_free(&vt->tt);
	memset(vt, 0, sizeof *vt);
}

int vd_pg_task_find(const vd_pg_task *vt, const char *name)
{
	int found = -1;
	for (int i = 0; i < vt->n; i++) {
		const vd_table *t = &vt->tables[i];
		char dotted[2 * TASKSTATE_NAME_MAX];
		snprintf(dotted, sizeof dotted, "%s.%s", t->schema[VD_SOURCE], t->name[VD_SOURCE]);
		if (strcmp(name, t->label) == 0 || strcmp(name, t->target_label) == 0 || strcmp(name, dotted) == 0)
			return i;
		if (strcmp(name, t->name[VD_SOURCE]) == 0)
			found = found == -1 ? i : -2;
	}
	return found;
}
