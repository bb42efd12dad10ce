/* MySQL/MariaDB DDL text from the table model (see the header). Nothing here talks to a
 * server. */
#include "workers/my_ddl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/typemap.h"

/* Room for a key column's own bytes beside the length bytes InnoDB adds. */
#define KEY_UNBOUNDED (-1)
#define KEY_REFUSED (-2)
/* A non-unique index on unbounded text indexes this many leading characters. */
#define INDEX_PREFIX_CHARS 191

/* ---- scripts and errors ------------------------------------------------------------- */

static int set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(*err);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

static int oom(char **err)
{
	return set_err(err, "building MySQL DDL: out of memory");
}

/* ---- names and literals ---------------------------------------------------------------- */

void my_ddl_append_table(strbuf *sb, const catalog_table *t, const catalog_name_map *names)
{
	const char *schema, *name;
	catalog_map_table(names, t, &schema, &name);
	sql_append_mysql_qualified(sb, schema, name);
}

void my_ddl_append_literal(strbuf *sb, const char *value)
{
	strbuf_append_char(sb, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'' || *p == '\\')
			strbuf_append_char(sb, *p);
		strbuf_append_char(sb, *p);
	}
	strbuf_append_char(sb, '\'');
}

int my_ddl_name_chars(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80; /* count lead bytes, not continuations */
	return n;
}

static const char *collation_of(const my_ddl_options *o)
{
	return o->collation != NULL ? o->collation : "utf8mb4_bin";
}

/* ---- key column types ---------------------------------------------------------------------- */

static bool is_key_column(const catalog_table *t, int i)
{
	for (int k = 0; k < t->n_key_columns; k++)
		if (t->key_columns[k] == i)
			return true;
	return false;
}

/* Bytes a column of a PostgreSQL source takes in an InnoDB key as the type map creates it
 * (utf8mb4: 4 bytes a character), KEY_UNBOUNDED for TEXT/BLOB, KEY_REFUSED for json. */
static int key_bytes(const catalog_type *type)
{
	switch (type->cls) {
	case CATALOG_TYPE_BOOL: case CATALOG_TYPE_ENUM: return 2;
	case CATALOG_TYPE_INT2: return 2;
	case CATALOG_TYPE_INT4: case CATALOG_TYPE_FLOAT4: return 4;
	case CATALOG_TYPE_INT8: case CATALOG_TYPE_FLOAT8: case CATALOG_TYPE_TIMESTAMP:
	case CATALOG_TYPE_TIMESTAMPTZ: case CATALOG_TYPE_BIT: case CATALOG_TYPE_VARBIT: return 8;
	case CATALOG_TYPE_DATE: case CATALOG_TYPE_TIME: return 6;
	case CATALOG_TYPE_NUMERIC: return 32;
	case CATALOG_TYPE_UUID: return 36 * 4;
	case CATALOG_TYPE_INET: case CATALOG_TYPE_CIDR: return 43 * 4;
	case CATALOG_TYPE_INTERVAL: return 64 * 4;
	case CATALOG_TYPE_CHAR:
	case CATALOG_TYPE_VARCHAR:
		return type->length >= 0 && type->length * 4 <= MY_KEY_BYTES_MAX / 2 ? type->length * 4
											 : KEY_UNBOUNDED;
	case CATALOG_TYPE_JSON: case CATALOG_TYPE_JSONB: case CATALOG_TYPE_ARRAY: return KEY_REFUSED;
	default: return KEY_UNBOUNDED; /* text, bytea, anything long */
	}
}

/* For a key column of unbounded text or bytea: 1 with the bounded type in out (the key's
 * budget shared among such columns); 0 when the type map's type serves as it is. */
static int bounded_key_type(const catalog_table *t, int i, strbuf *out)
{
	const catalog_column *c = &t->columns[i];
	if (key_bytes(&c->type) != KEY_UNBOUNDED)
		return 0;
	int fixed = 0, unbounded = 0;
	for (int k = 0; k < t->n_key_columns; k++) {
		int b = key_bytes(&t->columns[t->key_columns[k]].type);
		if (b == KEY_UNBOUNDED)
			unbounded++;
		else if (b > 0)
			fixed += b + 2;
	}
	int share = (MY_KEY_BYTES_MAX - fixed) / (unbounded > 0 ? unbounded : 1) - 2;
	if (c->type.cls == CATALOG_TYPE_BYTES)
		strbuf_appendf(out, "varbinary(%d)", share);
	else
		strbuf_appendf(out, "varchar(%d)", share / 4);
	return 1;
}

static int column_type_noted(const catalog_table *t, int i, strbuf *out, pg_ddl_script *notes, char *why,
			     size_t why_len)
{
	const catalog_column *c = &t->columns[i];
	if (t->engine == ENGINE_MYSQL) {
		strbuf_append(out, c->type_name);
		return 0;
	}
	if (is_key_column(t, i)) {
		if (key_bytes(&c->type) == KEY_REFUSED) {
			snprintf(why, why_len, "a %s column cannot be part of a MySQL key", c->type_name);
			return -1;
		}
		size_t before = out->len;
		if (bounded_key_type(t, i, out)) {
			pg_ddl_script_note(notes, "column %s.%s.%s: %s key column created as %s (MySQL cannot index it "
				 "whole; longer values will be refused)", t->schema, t->name, c->name, c->type_name,
				 strbuf_str(out) + before);
			return 0;
		}
	}
	return typemap_pg_to_mysql(&c->type, out, why, why_len);
}

int my_ddl_column_type(const catalog_table *t, int i, strbuf *out, char *why, size_t why_len)
{
	return column_type_noted(t, i, out, NULL, why, why_len);
}

/* ---- checks ------------------------------------------------------------------------------ */

static int check_name(strbuf *problems, const char *what, const char *name)
{
	int n = my_ddl_name_chars(name);
	size_t len = strlen(name);
	const char *why = n > MY_NAME_MAX ? "is longer than MySQL's 64 characters"
			  : n == 0 ? "is empty" : name[len - 1] == ' ' ? "ends with a space, which MySQL refuses"
			  : NULL;
	if (why == NULL)
		return 0;
	strbuf_appendf(problems, "%s \"%s\" %s: rename it with a rename rule\n", what, name, why);
	return 1;
}

static int check_columns(const catalog_table *t, const my_ddl_options *o, strbuf *problems)
{
	int bad = 0;
	char what[600], why[256];
	for (int i = 0; i < t->n_columns; i++) {
		const char *name = catalog_map_column(o->names, t, i);
		if (name == NULL || t->columns[i].generated_expr != NULL)
			continue;
		snprintf(what, sizeof what, "table %s.%s: column", t->schema, t->name);
		bad += check_name(problems, what, name);
		for (int j = 0; j < i; j++) {
			const char *other = catalog_map_column(o->names, t, j);
			if (other != NULL && t->columns[j].generated_expr == NULL && strcasecmp(other, name) == 0) {
				strbuf_appendf(problems, "table %s.%s: columns \"%s\" and \"%s\" differ only in case, "
					       "which MySQL column names do not tell apart: rename one\n",
					       t->schema, t->name, other, name);
				bad++;
			}
		}
		strbuf type = STRBUF_INIT;
		if (column_type_noted(t, i, &type, NULL, why, sizeof why) < 0) {
			strbuf_appendf(problems, "table %s.%s, column %s: %s: leave it out with exclude_column\n",
				       t->schema, t->name, t->columns[i].name, why);
			bad++;
		}
		strbuf_free(&type);
	}
	return bad;
}

int my_ddl_check_table(const catalog_table *t, const my_ddl_options *o, strbuf *problems)
{
	const char *schema, *name;
	catalog_map_table(o->names, t, &schema, &name);
	char what[600];
	int bad = check_name(problems, "database (source schema)", schema);
	snprintf(what, sizeof what, "table %s.%s: target table", t->schema, t->name);
	bad += check_name(problems, what, name);
	bad += check_columns(t, o, problems);
	for (int i = 0; i < t->n_indexes; i++) {
		snprintf(what, sizeof what, "table %s.%s: index", t->schema, t->name);
		bad += check_name(problems, what, t->indexes[i].name);
	}
	return bad;
}

/* ---- defaults ---------------------------------------------------------------------------- */

static bool is_number(const char *s, size_t n)
{
	size_t i = s[0] == '-' ? 1 : 0, digits = 0;
	for (; i < n && (isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
			 ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))); i++)
		digits += isdigit((unsigned char)s[i]) != 0;
	return i == n && digits > 0;
}

/* A PostgreSQL string literal 'it''s' (with any ::cast after it) into its value. */
static bool pg_string(const char *s, strbuf *value)
{
	if (*s != '\'')
		return false;
	for (s++; *s; s++) {
		if (*s == '\'' && s[1] == '\'') {
			strbuf_append_char(value, '\'');
			s++;
		} else if (*s == '\'') {
			return s[1] == '\0' || strncmp(s + 1, "::", 2) == 0;
		} else {
			strbuf_append_char(value, *s);
		}
	}
	return false;
}

static bool is_now(const char *e)
{
	static const char *const nows[] = {"now()", "CURRENT_TIMESTAMP", "transaction_timestamp()",
					   "statement_timestamp()", "LOCALTIMESTAMP", "clock_timestamp()"};
	for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++)
		if (strcasecmp(e, nows[i]) == 0)
			return true;
	return false;
}

/* " DEFAULT ..." for what MySQL can take; false when the default is left out. */
static bool translate_default(const catalog_column *c, const my_ddl_options *o, const char *mysql_type,
			      strbuf *out)
{
	const char *e = c->default_expr;
	size_t n = strlen(e);
	char *unwrapped = NULL;
	if (n > 2 && e[0] == '(' && e[n - 1] == ')' && (unwrapped = strndup(e + 1, n - 2)) != NULL)
		e = unwrapped; /* negative numbers print as (-1) */
	const char *cast = strstr(e, "::");
	size_t len = cast && e[0] != '\'' ? (size_t)(cast - e) : strlen(e);
	bool blob = strstr(mysql_type, "text") || strstr(mysql_type, "blob") || strcmp(mysql_type, "json") == 0;
	bool ok = true;
	strbuf value = STRBUF_INIT;
	if (blob && !o->mariadb) {
		ok = false; /* MySQL takes no literal default on TEXT, BLOB or JSON columns */
	} else if (c->type.cls == CATALOG_TYPE_BOOL && (strcmp(e, "true") == 0 || strcmp(e, "false") == 0)) {
		strbuf_append(out, e[0] == 't' ? " DEFAULT 1" : " DEFAULT 0");
	} else if (is_number(e, len) && c->type.cls != CATALOG_TYPE_BOOL) {
		strbuf_appendf(out, " DEFAULT %.*s", (int)len, e);
	} else if (pg_string(e, &value) && c->type.cls != CATALOG_TYPE_ARRAY && c->type.cls != CATALOG_TYPE_BIT &&
		   c->type.cls != CATALOG_TYPE_VARBIT && c->type.cls != CATALOG_TYPE_BYTES) {
		strbuf_append(out, " DEFAULT ");
		my_ddl_append_literal(out, strbuf_str(&value));
	} else if (is_now(e) && (c->type.cls == CATALOG_TYPE_TIMESTAMP || c->type.cls == CATALOG_TYPE_TIMESTAMPTZ)) {
		int p = c->type.precision < 0 || c->type.precision > 6 ? 6 : c->type.precision;
		strbuf_appendf(out, " DEFAULT CURRENT_TIMESTAMP(%d)", p);
	} else {
		ok = false;
	}
	strbuf_free(&value);
	free(unwrapped);
	return ok;
}

/* ---- columns and the table ----------------------------------------------------------------- */

static bool is_integer(catalog_type_class cls)
{
	return cls == CATALOG_TYPE_INT2 || cls == CATALOG_TYPE_INT4 || cls == CATALOG_TYPE_INT8;
}

/* An identity or serial column that leads the key: MySQL's AUTO_INCREMENT must be the first
 * column of an index. */
static bool auto_increment(const catalog_table *t, int i)
{
	const catalog_column *c = &t->columns[i];
	if (t->engine == ENGINE_MYSQL)
		return c->auto_increment;
	bool generated = c->identity != CATALOG_IDENTITY_NONE || c->default_sequence >= 0;
	return generated && is_integer(c->type.cls) && t->key_kind == CATALOG_KEY_PRIMARY &&
	       t->n_key_columns > 0 && t->key_columns[0] == i;
}

/* A MySQL source's literal default (MariaDB's COLUMN_DEFAULT form: text quoted, numbers,
 * b'101', x'0A'), which any column but MySQL's TEXT/BLOB/JSON takes bare. */
static bool mysql_literal(const char *e)
{
	size_t n = strlen(e);
	if (is_number(e, n) || strcasecmp(e, "NULL") == 0)
		return true;
	if (n >= 2 && e[0] == '\'' && e[n - 1] == '\'')
		return true;
	return n >= 3 && (e[0] == 'b' || e[0] == 'B' || e[0] == 'x' || e[0] == 'X') && e[1] == '\'' && e[n - 1] == '\'';
}

/* current_timestamp(), current_timestamp(6), now(), ...: bare even on TEXT-less columns. */
static bool mysql_now(const char *e)
{
	static const char *const nows[] = {"current_timestamp", "now(", "localtimestamp", "current_date", "curdate()"};
	for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++)
		if (strncasecmp(e, nows[i], strlen(nows[i])) == 0)
			return true;
	return false;
}

static bool blob_like(catalog_type_class cls)
{
	return cls == CATALOG_TYPE_TEXT || cls == CATALOG_TYPE_BYTES || cls == CATALOG_TYPE_JSON;
}

/* A MySQL source's default kept as the source has it: literals bare (in parentheses on a
 * MySQL target's TEXT/BLOB/JSON, which takes only expression defaults), the time
 * functions bare, other expressions in parentheses (MySQL 8's form; MariaDB takes it). */
static void mysql_default(strbuf *sb, const catalog_column *c, const my_ddl_options *o)
{
	const char *e = c->default_expr;
	if (e != NULL) {
		bool bare = mysql_now(e) || (mysql_literal(e) && (o->mariadb || !blob_like(c->type.cls)));
		strbuf_appendf(sb, bare ? " DEFAULT %s" : " DEFAULT (%s)", e);
	}
	if (c->on_update != NULL && mysql_now(c->on_update))
		strbuf_appendf(sb, " ON UPDATE %s", c->on_update);
}

/* A MySQL source's column keeps its character set and collation. */
static void mysql_collation(strbuf *sb, const catalog_table *t, const catalog_column *c)
{
	if (t->engine != ENGINE_MYSQL || c->collation == NULL || strcmp(c->collation, "binary") == 0)
		return;
	char charset[64];
	snprintf(charset, sizeof charset, "%.*s", (int)strcspn(c->collation, "_"), c->collation);
	strbuf_append(sb, " CHARACTER SET ");
	sql_append_mysql_ident(sb, charset);
	strbuf_append(sb, " COLLATE ");
	sql_append_mysql_ident(sb, c->collation);
}

static void column_default(strbuf *sb, const catalog_table *t, int i, const my_ddl_options *o,
			   const char *mysql_type, pg_ddl_script *notes)
{
	const catalog_column *c = &t->columns[i];
	if (auto_increment(t, i)) {
		strbuf_append(sb, " AUTO_INCREMENT");
		return;
	}
	if (c->identity != CATALOG_IDENTITY_NONE || c->default_sequence >= 0) {
		pg_ddl_script_note(notes, "column %s.%s.%s: its sequence is not recreated (MySQL's AUTO_INCREMENT must lead "
			 "the primary key)", t->schema, t->name, c->name);
		return;
	}
	if (t->engine == ENGINE_MYSQL) {
		mysql_default(sb, c, o);
		return;
	}
	if (c->default_expr == NULL)
		return;
	if (c->default_volatile || !translate_default(c, o, mysql_type, sb))
		pg_ddl_script_note(notes, "column %s.%s.%s: default %s not translated for MySQL", t->schema, t->name,
			 c->name, c->default_expr);
}

static int append_columns(strbuf *sb, const catalog_table *t, const my_ddl_options *o, pg_ddl_script *notes,
			  char **err)
{
	int n = 0;
	char why[256];
	for (int i = 0; i < t->n_columns; i++) {
		const catalog_column *c = &t->columns[i];
		const char *name = catalog_map_column(o->names, t, i);
		if (name == NULL)
			continue;
		if (c->generated_expr != NULL) {
			pg_ddl_script_note(notes, "column %s.%s.%s: generated column left out (its expression is %s's)", t->schema,
				 t->name, c->name, t->engine == ENGINE_POSTGRESQL ? "PostgreSQL" : "the source");
			continue;
		}
		strbuf_append(sb, n++ ? ",\n    " : "\n    ");
		sql_append_mysql_ident(sb, name);
		strbuf_append_char(sb, ' ');
		size_t type_at = sb->len;
		if (column_type_noted(t, i, sb, notes, why, sizeof why) < 0)
			return set_err(err, "table %s.%s, column %s: %s", t->schema, t->name, c->name, why);
		char *type = strndup(strbuf_str(sb) + type_at, sb->len - type_at);
		mysql_collation(sb, t, c);
		if (c->not_null)
			strbuf_append(sb, " NOT NULL");
		column_default(sb, t, i, o, type ? type : "", notes);
		free(type);
	}
	if (n == 0)
		return set_err(err, "table %s.%s: no column left to create", t->schema, t->name);
	return 0;
}

static int append_primary_key(strbuf *sb, const catalog_table *t, const my_ddl_options *o, char **err)
{
	if (t->key_kind != CATALOG_KEY_PRIMARY || t->n_key_columns == 0)
		return 0;
	strbuf_append(sb, ",\n    PRIMARY KEY (");
	for (int k = 0; k < t->n_key_columns; k++) {
		const char *name = catalog_map_column(o->names, t, t->key_columns[k]);
		if (name == NULL)
			return set_err(err, "table %s.%s: primary key column %s is excluded", t->schema, t->name,
				       t->columns[t->key_columns[k]].name);
		if (k > 0)
			strbuf_append(sb, ", ");
		sql_append_mysql_ident(sb, name);
	}
	strbuf_append_char(sb, ')');
	return 0;
}

int my_ddl_create_table(const catalog_table *t, const my_ddl_options *o, strbuf *out, pg_ddl_script *notes,
			char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "CREATE TABLE IF NOT EXISTS ");
	my_ddl_append_table(&sb, t, o->names);
	strbuf_append(&sb, " (");
	int rc = append_columns(&sb, t, o, notes, err);
	if (rc == 0)
		rc = append_primary_key(&sb, t, o, err);
	strbuf_appendf(&sb, "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=%s", collation_of(o));
	if (rc == 0 && strbuf_failed(&sb))
		rc = oom(err);
	if (rc == 0)
		strbuf_append_len(out, strbuf_str(&sb), sb.len);
	if (rc == 0 && t->kind == CATALOG_TABLE_PARTITIONED)
		pg_ddl_script_note(notes, "table %s.%s: created without the source's partitioning (%s)", t->schema, t->name,
			 t->partition_key ? t->partition_key : "?");
	strbuf_free(&sb);
	return rc;
}

/* ---- the scripts ---------------------------------------------------------------------------- */

static int add_table_statement(pg_ddl_script *script, const char *verb, const catalog_table *t,
			       const my_ddl_options *o)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, verb);
	my_ddl_append_table(&sb, t, o->names);
	return pg_ddl_script_add(script, &sb);
}

static int add_database(pg_ddl_script *script, const catalog_table *t, const my_ddl_options *o)
{
	const char *schema, *name;
	catalog_map_table(o->names, t, &schema, &name);
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "CREATE DATABASE IF NOT EXISTS ");
	sql_append_mysql_ident(&sb, schema);
	strbuf_appendf(&sb, " CHARACTER SET utf8mb4 COLLATE %s", collation_of(o));
	return pg_ddl_script_add(script, &sb);
}

int my_ddl_before_load(const catalog_table *t, const my_ddl_options *o, pg_ddl_script *script, char **err)
{
	if (o->prep == TABLE_PREP_DROP && !o->create_tables)
		return set_err(err, "table %s.%s: target_table_prep = drop needs create_tables = yes "
			       "(a dropped table must be created again)", t->schema, t->name);
	if (o->prep == TABLE_PREP_DROP && add_table_statement(script, "DROP TABLE IF EXISTS ", t, o) < 0)
		return oom(err);
	if (o->create_tables) {
		strbuf sb = STRBUF_INIT;
		if (add_database(script, t, o) < 0)
			return oom(err);
		if (my_ddl_create_table(t, o, &sb, script, err) < 0) {
			strbuf_free(&sb);
			return -1;
		}
		if (pg_ddl_script_add(script, &sb) < 0)
			return oom(err);
	}
	if (o->prep == TABLE_PREP_TRUNCATE && add_table_statement(script, "TRUNCATE TABLE ", t, o) < 0)
		return oom(err);
	return 0;
}

/* ---- indexes ---------------------------------------------------------------------------------- */

/* " (a, b(191) DESC)", or 1 with a note when MySQL cannot build the index faithfully. */
static int append_index_parts(strbuf *out, const catalog_table *t, const catalog_index *idx,
			      const my_ddl_options *o, pg_ddl_script *notes)
{
	const char *skip = NULL;
	if (idx->has_expression || idx->n_parts == 0)
		skip = "expression or partial index";
	else if (idx->method != NULL && strcasecmp(idx->method, "btree") != 0 && strcasecmp(idx->method, "hash") != 0)
		skip = idx->method;
	strbuf parts = STRBUF_INIT;
	for (int k = 0; skip == NULL && k < idx->n_parts; k++) {
		int col = idx->parts[k].column;
		const char *name = col >= 0 ? catalog_map_column(o->names, t, col) : NULL;
		if (name == NULL || t->columns[col].generated_expr != NULL) {
			skip = "uses an excluded or generated column";
			break;
		}
		int bytes = t->engine == ENGINE_POSTGRESQL && !is_key_column(t, col) ? key_bytes(&t->columns[col].type)
										      : 0;
		if (bytes == KEY_REFUSED || (bytes == KEY_UNBOUNDED && idx->unique)) {
			skip = bytes == KEY_REFUSED ? "MySQL cannot index json" : "unique on unbounded text or bytea";
			break;
		}
		strbuf_append(&parts, k ? ", " : " (");
		sql_append_mysql_ident(&parts, name);
		if (bytes == KEY_UNBOUNDED)
			strbuf_appendf(&parts, "(%d)", INDEX_PREFIX_CHARS);
		else if (t->engine == ENGINE_MYSQL && idx->parts[k].prefix_length > 0)
			strbuf_appendf(&parts, "(%d)", idx->parts[k].prefix_length);
		if (idx->parts[k].descending)
			strbuf_append(&parts, " DESC");
	}
	if (skip != NULL)
		pg_ddl_script_note(notes, "index %s on %s.%s: not created (%s)", idx->name, t->schema, t->name, skip);
	else
		strbuf_appendf(out, "%s)", strbuf_str(&parts));
	strbuf_free(&parts);
	return skip != NULL;
}

static bool listed(const char *name, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0) /* MySQL index names ignore case */
			return true;
	return false;
}

int my_ddl_after_load(const catalog_table *t, const my_ddl_options *o, const char *const *existing,
		      int n_existing, pg_ddl_script *script, char **err)
{
	strbuf sb = STRBUF_INIT;
	strbuf_append(&sb, "ALTER TABLE ");
	my_ddl_append_table(&sb, t, o->names);
	int added = 0;
	for (int i = 0; i < t->n_indexes; i++) {
		const catalog_index *idx = &t->indexes[i];
		if (listed(idx->name, existing, n_existing))
			continue;
		size_t mark = sb.len;
		strbuf_append(&sb, added ? ",\n    ADD " : "\n    ADD ");
		strbuf_append(&sb, idx->unique ? "UNIQUE INDEX " : "INDEX ");
		sql_append_mysql_ident(&sb, idx->name);
		if (append_index_parts(&sb, t, idx, o, script) == 1) {
			sb.len = mark; /* drop the half-written clause */
			sb.data[mark] = '\0';
			continue;
		}
		added++;
	}
	int rc = 0;
	if (strbuf_failed(&sb))
		rc = oom(err);
	else if (added > 0 && pg_ddl_script_add(script, &sb) < 0)
		rc = oom(err);
	strbuf_free(&sb);
	return rc;
}
