/* information_schema -> the table model (see the header). */
#include "workers/my_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/typemap.h"
#include "workers/my_sql.h"

typedef struct reader {
	MYSQL *conn;
	const my_catalog_filter *filter;
	catalog *cat;
	char **json;  /* MariaDB JSON columns: "schema\0table\0column" keys */
	int n_json;
	char **err;
} reader;

uint64_t my_catalog_table_id(const char *schema, const char *name)
{
	/* FNV-1a over "schema\0name" */
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = schema;; p++) {
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		if (*p == '\0')
			break;
	}
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ? h : 1;
}

const char *my_catalog_charset(const catalog_column *c, char *buf, size_t size)
{
	if (c->collation == NULL)
		return NULL;
	size_t n = strcspn(c->collation, "_");
	snprintf(buf, size, "%.*s", (int)n, c->collation);
	return buf;
}

static int oom(reader *r)
{
	free(*r->err);
	*r->err = strdup("reading the MySQL catalog: out of memory");
	return -1;
}

/* "TABLE_SCHEMA = 'app'" or "TABLE_SCHEMA NOT IN (system schemas)" for column col. */
static char *schema_condition(MYSQL *conn, const my_catalog_filter *f, const char *col)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, col);
	if (f != NULL && f->database != NULL) {
		strbuf_append(&sb, " = ");
		my_sql_append_literal(&sb, conn, f->database);
	} else {
		strbuf_append(&sb, " NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')");
	}
	return strbuf_detach(&sb);
}

static MYSQL_RES *query(reader *r, const char *fmt, const char *col, const char *what)
{
	char *cond = schema_condition(r->conn, r->filter, col);
	char *sql = NULL;
	if (cond == NULL || asprintf(&sql, fmt, cond) < 0) {
		free(cond);
		oom(r);
		return NULL;
	}
	char context[160];
	snprintf(context, sizeof context, "reading the MySQL catalog (%s)", what);
	MYSQL_RES *res = my_sql_query(r->conn, sql, context, r->err);
	free(sql);
	free(cond);
	return res;
}

static int64_t to_int(const char *s, int64_t fallback)
{
	return s != NULL && *s ? strtoll(s, NULL, 10) : fallback;
}

/* ---- tables ------------------------------------------------------------------------------ */

static int read_tables(reader *r)
{
	MYSQL_RES *res = query(r,
			       "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, DATA_LENGTH, AUTO_INCREMENT"
			       " FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND %s"
			       " ORDER BY TABLE_SCHEMA, TABLE_NAME",
			       "TABLE_SCHEMA", "tables");
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		const my_catalog_filter *f = r->filter;
		if (f != NULL && f->keep_table != NULL && !f->keep_table(f->arg, row[0], row[1]))
			continue;
		catalog_table *t = catalog_add_table(r->cat, row[0], row[1]);
		if (t == NULL) {
			rc = oom(r);
			break;
		}
		t->id = my_catalog_table_id(row[0], row[1]);
		t->est_rows = to_int(row[2], -1);
		t->est_bytes = to_int(row[3], 0);
		t->auto_increment_next = to_int(row[4], 0);
		t->replica_identity = CATALOG_RI_DEFAULT;
	}
	mysql_free_result(res);
	return rc;
}

/* ---- MariaDB's JSON: LONGTEXT with CHECK (json_valid(`c`)) ---------------------------------- */

static int add_json_column(reader *r, const char *schema, const char *table, const char *clause)
{
	static const char prefix[] = "json_valid(`";
	size_t n = strlen(clause);
	if (strncmp(clause, prefix, sizeof prefix - 1) != 0 || n < sizeof prefix + 1 ||
	    strcmp(clause + n - 2, "`)") != 0)
		return 0; /* some other check */
	const char *col = clause + sizeof prefix - 1;
	size_t col_len = n - (sizeof prefix - 1) - 2, ls = strlen(schema), lt = strlen(table);
	if (memchr(col, '`', col_len) != NULL)
		return 0;
	char *key = malloc(ls + lt + col_len + 3);
	char **grown = realloc(r->json, (size_t)(r->n_json + 1) * sizeof *grown);
	if (key == NULL || grown == NULL) {
		free(key);
		if (grown)
			r->json = grown;
		return oom(r);
	}
	r->json = grown;
	memcpy(key, schema, ls + 1);
	memcpy(key + ls + 1, table, lt + 1);
	memcpy(key + ls + lt + 2, col, col_len);
	key[ls + lt + 2 + col_len] = '\0';
	r->json[r->n_json++] = key;
	return 0;
}

static int read_json_checks(reader *r)
{
	if (!mariadb_connection(r->conn) || mysql_get_server_version(r->conn) < 100201)
		return 0; /* MySQL's JSON is a type of its own */
	MYSQL_RES *res = query(r,
			       "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS"
			       " WHERE CHECK_CLAUSE LIKE 'json_valid(%%' AND %s",
			       "CONSTRAINT_SCHEMA", "JSON columns");
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL)
		if (row[0] && row[1] && row[2])
			rc = add_json_column(r, row[0], row[1], row[2]);
	mysql_free_result(res);
	return rc;
}

static bool is_json_column(const reader *r, const char *schema, const char *table, const char *col)
{
	for (int i = 0; i < r->n_json; i++) {
		const char *k = r->json[i];
		if (strcmp(k, schema) != 0)
			continue;
		k += strlen(k) + 1;
		if (strcmp(k, table) != 0)
			continue;
		if (strcmp(k + strlen(k) + 1, col) == 0)
			return true;
	}
	return false;
}

/* ---- columns ------------------------------------------------------------------------------ */

enum { C_SCHEMA, C_TABLE, C_NAME, C_TYPE, C_NULLABLE, C_DEFAULT, C_EXTRA, C_COLLATION, C_GENERATED };

static bool numeric_class(catalog_type_class cls)
{
	return (cls >= CATALOG_TYPE_INT1 && cls <= CATALOG_TYPE_FLOAT8) || cls == CATALOG_TYPE_BOOL ||
	       cls == CATALOG_TYPE_YEAR;
}

/* The model keeps MariaDB's form (an expression; text literals quoted). MySQL prints a
 * literal default bare and marks expressions DEFAULT_GENERATED: quote its literals. */
static int set_default(reader *r, catalog_column *c, const char *def, const char *extra)
{
	if (mariadb_connection(r->conn) || strstr(extra, "DEFAULT_GENERATED") != NULL || numeric_class(c->type.cls))
		return catalog_set_string(&c->default_expr, def);
	strbuf sb = STRBUF_INIT;
	strbuf_append_char(&sb, '\'');
	for (const char *p = def; *p; p++) {
		if (*p == '\'' || *p == '\\')
			strbuf_append_char(&sb, *p == '\'' ? '\'' : '\\');
		strbuf_append_char(&sb, *p);
	}
	strbuf_append_char(&sb, '\'');
	char *s = strbuf_detach(&sb);
	if (s == NULL)
		return -1;
	free(c->default_expr);
	c->default_expr = s;
	return 0;
}

/* EXTRA's "on update current_timestamp(6)" (MySQL 8: "DEFAULT_GENERATED on update
 * CURRENT_TIMESTAMP(6)"): the expression, up to the next space-separated word. */
static int set_on_update(catalog_column *c, const char *extra)
{
	const char *p = strcasestr(extra, "on update ");
	if (p == NULL)
		return 0;
	p += strlen("on update ");
	char *expr = strndup(p, strcspn(p, " "));
	if (expr == NULL)
		return -1;
	free(c->on_update);
	c->on_update = expr;
	return 0;
}

static int add_column_row(reader *r, catalog_table *t, MYSQL_ROW row)
{
	catalog_column *c = catalog_add_column(t, row[C_NAME], row[C_TYPE]);
	if (c == NULL)
		return oom(r);
	char why[256];
	bool json = is_json_column(r, row[C_SCHEMA], row[C_TABLE], row[C_NAME]);
	if (typemap_mysql_parse(row[C_TYPE], json, &c->type, why, sizeof why) < 0)
		c->type.cls = CATALOG_TYPE_OTHER; /* refused with the reason by the task's checks */
	c->not_null = row[C_NULLABLE] && strcmp(row[C_NULLABLE], "NO") == 0;
	const char *extra = row[C_EXTRA] ? row[C_EXTRA] : "";
	/* MariaDB prints a NULL default as the text NULL */
	const char *def = row[C_DEFAULT];
	if (def != NULL && strcmp(def, "NULL") != 0 && set_default(r, c, def, extra) < 0)
		return oom(r);
	c->auto_increment = strstr(extra, "auto_increment") != NULL;
	if (set_on_update(c, extra) < 0)
		return oom(r);
	const char *gen = row[C_GENERATED];
	if (gen != NULL && *gen && catalog_set_string(&c->generated_expr, gen) < 0)
		return oom(r);
	if (row[C_COLLATION] && catalog_set_string(&c->collation, row[C_COLLATION]) < 0)
		return oom(r);
	return 0;
}

static int read_columns(reader *r)
{
	MYSQL_RES *res = query(r,
			       "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,"
			       " EXTRA, COLLATION_NAME, GENERATION_EXPRESSION FROM information_schema.COLUMNS WHERE %s"
			       " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
			       "TABLE_SCHEMA", "columns");
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	catalog_table *t = NULL;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (t == NULL || strcmp(t->schema, row[C_SCHEMA]) != 0 || strcmp(t->name, row[C_TABLE]) != 0)
			t = catalog_find_table(r->cat, row[C_SCHEMA], row[C_TABLE]);
		if (t != NULL)
			rc = add_column_row(r, t, row);
	}
	mysql_free_result(res);
	return rc;
}

/* ---- keys and indexes ------------------------------------------------------------------------ */

enum { I_SCHEMA, I_TABLE, I_NAME, I_NON_UNIQUE, I_SEQ, I_COLUMN, I_SUB_PART, I_TYPE, I_COLLATION };

static int add_index_row(reader *r, catalog_table *t, catalog_index **cur, MYSQL_ROW row)
{
	if (*cur == NULL || strcmp((*cur)->name, row[I_NAME]) != 0 || strcmp(row[I_SEQ], "1") == 0) {
		*cur = catalog_add_index(t, row[I_NAME]);
		if (*cur == NULL)
			return oom(r);
		(*cur)->unique = row[I_NON_UNIQUE] && strcmp(row[I_NON_UNIQUE], "0") == 0;
		if (row[I_TYPE] && catalog_set_string(&(*cur)->method, row[I_TYPE]) < 0)
			return oom(r);
	}
	int col = row[I_COLUMN] ? catalog_find_column(t, row[I_COLUMN]) : -1;
	if (col < 0)
		(*cur)->has_expression = true; /* MySQL 8 functional key part */
	bool desc = row[I_COLLATION] && strcmp(row[I_COLLATION], "D") == 0;
	int prefix = (int)to_int(row[I_SUB_PART], 0);
	return catalog_index_add_part(*cur, col, desc, prefix) < 0 ? oom(r) : 0;
}

static bool usable_as_key(const catalog_table *t, const catalog_index *idx)
{
	if (!idx->unique || idx->has_expression || idx->n_parts == 0)
		return false;
	for (int k = 0; k < idx->n_parts; k++)
		if (idx->parts[k].column < 0 || idx->parts[k].prefix_length > 0 ||
		    !t->columns[idx->parts[k].column].not_null)
			return false;
	return true;
}

/* PRIMARY becomes the key (and leaves the index list); without it the first unique
 * index on NOT NULL columns is the key (and stays an index, built after the load). */
static int choose_key(reader *r, catalog_table *t)
{
	int pk = catalog_find_index(t, "PRIMARY");
	const catalog_index *key = NULL;
	if (pk >= 0) {
		key = &t->indexes[pk];
	} else {
		for (int i = 0; i < t->n_indexes && key == NULL; i++)
			if (usable_as_key(t, &t->indexes[i]))
				key = &t->indexes[i];
	}
	if (key == NULL)
		return 0;
	int *cols = malloc((size_t)key->n_parts * sizeof *cols);
	if (cols == NULL)
		return oom(r);
	for (int k = 0; k < key->n_parts; k++)
		cols[k] = key->parts[k].column;
	int rc = catalog_set_key(t, pk >= 0 ? CATALOG_KEY_PRIMARY : CATALOG_KEY_UNIQUE, key->name, cols, key->n_parts);
	free(cols);
	if (rc < 0)
		return oom(r);
	if (pk >= 0) {
		free(t->indexes[pk].name);
		free(t->indexes[pk].definition);
		free(t->indexes[pk].definition_tail);
		free(t->indexes[pk].method);
		free(t->indexes[pk].parts);
		memmove(&t->indexes[pk], &t->indexes[pk + 1], (size_t)(t->n_indexes - pk - 1) * sizeof *t->indexes);
		t->n_indexes--;
	}
	return 0;
}

static int read_indexes(reader *r)
{
	MYSQL_RES *res = query(r,
			       "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART,"
			       " INDEX_TYPE, COLLATION FROM information_schema.STATISTICS WHERE %s"
			       " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
			       "TABLE_SCHEMA", "indexes");
	if (res == NULL)
		return -1;
	MYSQL_ROW row;
	catalog_table *t = NULL;
	catalog_index *cur = NULL;
	int rc = 0;
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		if (t == NULL || strcmp(t->schema, row[I_SCHEMA]) != 0 || strcmp(t->name, row[I_TABLE]) != 0) {
			t = catalog_find_table(r->cat, row[I_SCHEMA], row[I_TABLE]);
			cur = NULL;
		}
		if (t != NULL)
			rc = add_index_row(r, t, &cur, row);
	}
	mysql_free_result(res);
	for (int i = 0; rc == 0 && i < r->cat->n_tables; i++)
		rc = choose_key(r, r->cat->tables[i]);
	return rc;
}

int my_catalog_read(MYSQL *conn, const my_catalog_filter *filter, catalog **out, char **err)
{
	*out = NULL;
	*err = NULL;
	reader r = {.conn = conn, .filter = filter, .err = err};
	r.cat = catalog_new(ENGINE_MYSQL);
	if (r.cat == NULL)
		return oom(&r);
	int rc = read_tables(&r);
	if (rc == 0)
		rc = read_json_checks(&r);
	if (rc == 0)
		rc = read_columns(&r);
	if (rc == 0)
		rc = read_indexes(&r);
	for (int i = 0; i < r.n_json; i++)
		free(r.json[i]);
	free(r.json);
	if (rc < 0) {
		catalog_free(r.cat);
		return -1;
	}
	*out = r.cat;
	return 0;
}
