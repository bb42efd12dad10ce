/* PostgreSQL catalog reader: pg_class, pg_attribute, pg_index, pg_depend... into the
 * table model. Every query takes its values as parameters; every failure comes back as
 * an error naming the query, never as an exit. */
#include "workers/pg_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sqlquote.h"

/* Built-in type oids (fixed in pg_type.dat since forever; the same on 12..16). */
enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT2VECTOR = 22,
	OID_INT4 = 23, OID_TEXT = 25, OID_OIDVECTOR = 30, OID_JSON = 114, OID_CIDR = 650,
	OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_INET = 869, OID_BPCHAR = 1042,
	OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083, OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186, OID_TIMETZ = 1266, OID_BIT = 1560,
	OID_VARBIT = 1562, OID_NUMERIC = 1700, OID_UUID = 2950, OID_JSONB = 3802
};

#define VARHDRSZ 4
#define INTERVAL_FULL_PRECISION 0xFFFF

typedef struct table_ref {
	uint32_t oid;
	catalog_table *table;
	int replident_index; /* index into table->indexes of the REPLICA IDENTITY index; -1 */
} table_ref;

typedef struct reader {
	PGconn *conn;
	catalog *cat;
	table_ref *refs; /* sorted by oid */
	int n_refs;
	strbuf oids;     /* the tables' oids as an array literal, "{16384,16390}" */
	strbuf err;
} reader;

/* ---- small helpers ---------------------------------------------------------------- */

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static bool val_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static int64_t val_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static uint32_t val_oid(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : (uint32_t)strtoul(PQgetvalue(res, row, col), NULL, 10);
}

static int fail(reader *r, const char *what, const char *detail)
{
	size_t n = strlen(detail);
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == ' '))
		n--;
	strbuf_reset(&r->err);
	strbuf_appendf(&r->err, "%s: %.*s", what, (int)n, detail);
	return -1;
}

static int fail_oom(reader *r, const char *what)
{
	return fail(r, what, "out of memory");
}

/* One line from a failed result: the server's message, then its detail and hint. */
static int fail_result(reader *r, const char *what, const PGresult *res)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (primary == NULL)
		return fail(r, what, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(r->conn));
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	strbuf_reset(&r->err);
	strbuf_appendf(&r->err, "%s: %s", what, primary);
	if (detail != NULL)
		strbuf_appendf(&r->err, " (%s)", detail);
	if (hint != NULL)
		strbuf_appendf(&r->err, " Hint: %s", hint);
	return -1;
}

/* Runs a query expected to return rows; NULL (and r->err) on failure. */
static PGresult *query(reader *r, const char *what, const char *sql, int n_params,
		       const char *const *params)
{
	PGresult *res = PQexecParams(r->conn, sql, n_params, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fail_result(r, what, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Runs a statement for its effect only. */
static int command(reader *r, const char *what, const char *sql, int n_params,
		   const char *const *params)
{
	PGresult *res = PQexecParams(r->conn, sql, n_params, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = fail_result(r, what, res);
	PQclear(res);
	return rc;
}

static int ref_cmp(const void *a, const void *b)
{
	uint32_t x = ((const table_ref *)a)->oid, y = ((const table_ref *)b)->oid;
	return x < y ? -1 : x > y;
}

static table_ref *find_ref(const reader *r, uint32_t oid)
{
	table_ref key = {.oid = oid};
	return bsearch(&key, r->refs, (size_t)r->n_refs, sizeof key, ref_cmp);
}

static int column_by_attnum(const catalog_table *t, int attnum)
{
	for (int i = 0; i < t->n_columns; i++)
		if (t->columns[i].position == attnum)
			return i;
	return -1;
}

/* ---- type classification ------------------------------------------------------------ */

static void classify_numeric(int32_t typmod, catalog_type *out)
{
	out->cls = CATALOG_TYPE_NUMERIC;
	if (typmod < VARHDRSZ)
		return; /* unconstrained: precision -1 */
	int32_t t = typmod - VARHDRSZ;
	out->precision = (t >> 16) & 0xFFFF;
	out->scale = ((t & 0x7FF) ^ 1024) - 1024; /* 11-bit signed since PG 15 */
}

static void classify_datetime(catalog_type_class cls, int32_t typmod, catalog_type *out)
{
	out->cls = cls;
	if (cls == CATALOG_TYPE_INTERVAL && typmod >= 0)
		typmod &= 0xFFFF; /* high bits hold the field range (YEAR TO MONTH...) */
	out->precision = typmod >= 0 && typmod != INTERVAL_FULL_PRECISION ? typmod : -1;
}

static void classify_length(catalog_type_class cls, int32_t typmod, int header, catalog_type *out)
{
	out->cls = cls;
	out->length = typmod >= header ? typmod - header : -1;
}

void pg_catalog_classify(uint32_t type_oid, int32_t typmod, bool enum_type, catalog_type *out)
{
	out->length = -1;
	out->precision = -1;
	out->scale = 0;
	static const struct { uint32_t oid; catalog_type_class cls; } plain[] = {
		{OID_BOOL, CATALOG_TYPE_BOOL}, {OID_INT2, CATALOG_TYPE_INT2},
		{OID_INT4, CATALOG_TYPE_INT4}, {OID_INT8, CATALOG_TYPE_INT8},
		{OID_FLOAT4, CATALOG_TYPE_FLOAT4}, {OID_FLOAT8, CATALOG_TYPE_FLOAT8},
		{OID_TEXT, CATALOG_TYPE_TEXT}, {OID_BYTEA, CATALOG_TYPE_BYTES},
		{OID_DATE, CATALOG_TYPE_DATE}, {OID_JSON, CATALOG_TYPE_JSON},
		{OID_JSONB, CATALOG_TYPE_JSONB}, {OID_UUID, CATALOG_TYPE_UUID},
		{OID_INET, CATALOG_TYPE_INET}, {OID_CIDR, CATALOG_TYPE_CIDR},
	};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		if (plain[i].oid == type_oid) {
			out->cls = plain[i].cls;
			return;
		}
	}
	switch (type_oid) {
	case OID_NUMERIC: classify_numeric(typmod, out); return;
	case OID_VARCHAR: classify_length(CATALOG_TYPE_VARCHAR, typmod, VARHDRSZ, out); return;
	case OID_BPCHAR: classify_length(CATALOG_TYPE_CHAR, typmod, VARHDRSZ, out); return;
	case OID_BIT: classify_length(CATALOG_TYPE_BIT, typmod, 0, out); return;
	case OID_VARBIT: classify_length(CATALOG_TYPE_VARBIT, typmod, 0, out); return;
	case OID_TIME: classify_datetime(CATALOG_TYPE_TIME, typmod, out); return;
	case OID_TIMETZ: classify_datetime(CATALOG_TYPE_TIMETZ, typmod, out); return;
	case OID_TIMESTAMP: classify_datetime(CATALOG_TYPE_TIMESTAMP, typmod, out); return;
	case OID_TIMESTAMPTZ: classify_datetime(CATALOG_TYPE_TIMESTAMPTZ, typmod, out); return;
	case OID_INTERVAL: classify_datetime(CATALOG_TYPE_INTERVAL, typmod, out); return;
	default: out->cls = enum_type ? CATALOG_TYPE_ENUM : CATALOG_TYPE_OTHER; return;
	}
}

/* ---- session: a consistent view with an empty search_path --------------------------- */

typedef struct session {
	bool own_transaction;
	char *saved_search_path; /* the caller's, restored at the end */
} session;

static int session_begin(reader *r, session *s)
{
	s->own_transaction = false;
	s->saved_search_path = NULL;
	if (PQtransactionStatus(r->conn) == PQTRANS_IDLE) {
		if (command(r, "starting the catalog transaction",
			    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
			return -1;
		s->own_transaction = true;
	} else {
		PGresult *res = query(r, "reading search_path",
				      "SELECT pg_catalog.current_setting('search_path')", 0, NULL);
		if (res == NULL)
			return -1;
		s->saved_search_path = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (s->saved_search_path == NULL)
			return fail_oom(r, "reading search_path");
	}
	return command(r, "setting search_path",
		       "SELECT pg_catalog.set_config('search_path', '', true)", 0, NULL);
}

static void session_end(reader *r, session *s, bool ok)
{
	strbuf keep = r->err; /* a failure here must not hide the first one */
	strbuf_init(&r->err);
	if (s->own_transaction) {
		command(r, "ending the catalog transaction", ok ? "COMMIT" : "ROLLBACK", 0, NULL);
	} else if (s->saved_search_path != NULL) {
		const char *params[1] = {s->saved_search_path};
		command(r, "restoring search_path",
			"SELECT pg_catalog.set_config('search_path', $1, true)", 1, params);
	}
	strbuf_free(&r->err);
	r->err = keep;
	free(s->saved_search_path);
	s->saved_search_path = NULL;
}

/* ---- tables ------------------------------------------------------------------------ */

static const char tables_sql[] =
	"SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident,"
	" CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,"
	" est.rows, est.bytes"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" CROSS JOIN LATERAL ("
	"  SELECT CASE WHEN pg_catalog.bool_or(l.reltuples < 0 OR (l.relpages = 0"
	"    AND pg_catalog.pg_relation_size(l.oid) > 0)) THEN -1"
	"    ELSE COALESCE(pg_catalog.sum(l.reltuples), 0) END::pg_catalog.int8 AS rows,"
	"   COALESCE(pg_catalog.sum(pg_catalog.pg_table_size(l.oid)), 0)::pg_catalog.int8 AS bytes"
	"  FROM pg_catalog.pg_class l"
	"  WHERE l.oid = ANY (CASE WHEN c.relkind = 'p'"
	"   THEN ARRAY(SELECT pt.relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree(c.oid) pt"
	"              WHERE pt.isleaf)"
	"   ELSE ARRAY[c.oid] END)) est"
	" WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
	"  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
	"  AND ($1::pg_catalog.text[] IS NULL OR n.nspname = ANY ($1::pg_catalog.text[]))"
	"  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
	"   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid"
	"    AND d.deptype = 'e')"
	" ORDER BY n.nspname, c.relname";

static catalog_replica_identity replident_of(char c)
{
	switch (c) {
	case 'f': return CATALOG_RI_FULL;
	case 'i': return CATALOG_RI_INDEX;
	case 'n': return CATALOG_RI_NOTHING;
	default: return CATALOG_RI_DEFAULT;
	}
}

static int add_table_row(reader *r, const PGresult *res, int row)
{
	catalog_table *t = catalog_add_table(r->cat, val(res, row, 1), val(res, row, 2));
	if (t == NULL)
		return -1;
	t->id = val_oid(res, row, 0);
	t->kind = val(res, row, 3)[0] == 'p' ? CATALOG_TABLE_PARTITIONED : CATALOG_TABLE_PLAIN;
	t->replica_identity = replident_of(val(res, row, 4)[0]);
	t->est_rows = val_int(res, row, 6);
	t->est_bytes = val_int(res, row, 7);
	if (catalog_set_string(&t->partition_key, val(res, row, 5)) < 0)
		return -1;
	r->refs[r->n_refs++] = (table_ref){(uint32_t)t->id, t, -1};
	if (r->oids.len > 1)
		strbuf_append_char(&r->oids, ',');
	strbuf_appendf(&r->oids, "%u", (unsigned)t->id);
	return 0;
}

/* The schema filter as a text[] parameter; NULL = all. */
static char *schemas_param(const pg_catalog_filter *filter)
{
	if (filter == NULL || filter->schemas == NULL || filter->n_schemas == 0)
		return NULL;
	strbuf sb = STRBUF_INIT;
	strbuf_append_char(&sb, '{');
	for (int i = 0; i < filter->n_schemas; i++) {
		if (i > 0)
			strbuf_append_char(&sb, ',');
		sql_append_pg_array_element(&sb, filter->schemas[i]);
	}
	strbuf_append_char(&sb, '}');
	return strbuf_detach(&sb);
}

static int read_tables(reader *r, const pg_catalog_filter *filter)
{
	const char *what = "reading tables (pg_class)";
	char *schemas = schemas_param(filter);
	if (filter != NULL && filter->n_schemas > 0 && filter->schemas != NULL && schemas == NULL)
		return fail_oom(r, what);
	const char *params[1] = {schemas};
	PGresult *res = query(r, what, tables_sql, 1, params);
	free(schemas);
	if (res == NULL)
		return -1;
	int rc = 0, n = PQntuples(res);
	r->refs = malloc((size_t)(n > 0 ? n : 1) * sizeof *r->refs);
	if (r->refs == NULL)
		rc = fail_oom(r, what);
	strbuf_append_char(&r->oids, '{');
	for (int row = 0; rc == 0 && row < n; row++) {
		if (filter != NULL && filter->keep_table != NULL &&
		    !filter->keep_table(filter->arg, val(res, row, 1), val(res, row, 2)))
			continue;
		if (add_table_row(r, res, row) < 0)
			rc = fail_oom(r, what);
	}
	strbuf_append_char(&r->oids, '}');
	PQclear(res);
	if (rc == 0 && strbuf_failed(&r->oids))
		rc = fail_oom(r, what);
	if (rc == 0)
		qsort(r->refs, (size_t)r->n_refs, sizeof *r->refs, ref_cmp);
	return rc;
}

/* ---- enum labels -------------------------------------------------------------------- */

static const char enums_sql[] =
	"SELECT e.enumtypid, e.enumlabel FROM pg_catalog.pg_enum e"
	" WHERE e.enumtypid IN (SELECT CASE WHEN t.typtype = 'e' THEN t.oid ELSE t.typelem END"
	"  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	"  WHERE a.attrelid = ANY ($1::pg_catalog.oid[]) AND a.attnum > 0 AND NOT a.attisdropped)"
	" ORDER BY e.enumtypid, e.enumsortorder";

/* Copies the labels of enum type oid (rows of enums_sql, sorted by oid) into type. */
static int add_enum_labels(const PGresult *labels, uint32_t oid, catalog_type *type)
{
	int lo = 0, hi = PQntuples(labels);
	while (lo < hi) { /* first row with this oid */
		int mid = lo + (hi - lo) / 2;
		if (val_oid(labels, mid, 0) < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int row = lo; row < PQntuples(labels) && val_oid(labels, row, 0) == oid; row++)
		if (catalog_type_add_label(type, val(labels, row, 1)) < 0)
			return -1;
	return 0;
}

/* ---- columns ------------------------------------------------------------------------ */

/* Volatility of a default: PostgreSQL records no dependency on built-in functions, so the
 * function and operator oids are taken from the stored expression tree itself. */
static const char columns_sql[] =
	"SELECT a.attrelid, a.attnum, a.attname,"
	" pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod, a.attnotnull,"
	" CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,"
	" CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,"
	" a.attidentity,"
	" CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation"
	"  THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END,"
	" ad.oid IS NOT NULL AND COALESCE((SELECT pg_catalog.bool_or(p.provolatile = 'v')"
	"  FROM pg_catalog.regexp_matches(ad.adbin::pg_catalog.text,"
	"       ':(funcid|opfuncid|opno) ([0-9]+)', 'g') AS m(v)"
	"  LEFT JOIN pg_catalog.pg_operator o ON m.v[1] = 'opno' AND o.oid = m.v[2]::pg_catalog.oid"
	"  JOIN pg_catalog.pg_proc p ON p.oid = CASE WHEN m.v[1] = 'opno'"
	"   THEN o.oprcode::pg_catalog.oid ELSE m.v[2]::pg_catalog.oid END), false),"
	" t.typtype = 'e',"
	" CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 AND t.typlen = -1"
	"  AND t.oid NOT IN (22, 30) THEN t.typelem END,"
	" et.typtype = 'e', un.nspname, ut.typname"
	" FROM pg_catalog.pg_attribute a"
	" JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
	" LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem"
	" LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum"
	" LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation"
	" LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
	" LEFT JOIN pg_catalog.pg_type ut ON ut.oid = CASE WHEN t.typtype = 'e' THEN t.oid"
	"  WHEN et.typtype = 'e' THEN et.oid END"
	" LEFT JOIN pg_catalog.pg_namespace un ON un.oid = ut.typnamespace"
	" WHERE a.attrelid = ANY ($1::pg_catalog.oid[]) AND a.attnum > 0 AND NOT a.attisdropped"
	" ORDER BY a.attrelid, a.attnum";

enum {
	COL_RELID, COL_ATTNUM, COL_NAME, COL_TYPE_NAME, COL_TYPE_OID, COL_TYPMOD, COL_NOT_NULL,
	COL_DEFAULT, COL_GENERATED, COL_IDENTITY, COL_COLLATION, COL_VOLATILE, COL_IS_ENUM,
	COL_ELEMENT, COL_ELEMENT_IS_ENUM, COL_ENUM_SCHEMA, COL_ENUM_NAME
};

/* Fills c->type: class and parameters, array element, enum name and labels. */
static int column_type(const PGresult *res, int row, const PGresult *labels, catalog_column *c)
{
	catalog_type *type = &c->type;
	uint32_t element = val_oid(res, row, COL_ELEMENT);
	bool is_enum = val_bool(res, row, COL_IS_ENUM);
	if (element != 0) {
		type = catalog_type_make_array(type);
		if (type == NULL)
			return -1;
		is_enum = val_bool(res, row, COL_ELEMENT_IS_ENUM);
		pg_catalog_classify(element, c->typmod, is_enum, type);
	} else {
		pg_catalog_classify(c->type_oid, c->typmod, is_enum, type);
	}
	if (!is_enum)
		return 0;
	if (catalog_set_string(&type->udt_schema, val(res, row, COL_ENUM_SCHEMA)) < 0 ||
	    catalog_set_string(&type->udt_name, val(res, row, COL_ENUM_NAME)) < 0)
		return -1;
	return add_enum_labels(labels, element != 0 ? element : c->type_oid, type);
}

static int add_column_row(catalog_table *t, const PGresult *res, int row, const PGresult *labels)
{
	catalog_column *c = catalog_add_column(t, val(res, row, COL_NAME), val(res, row, COL_TYPE_NAME));
	if (c == NULL)
		return -1;
	c->position = (int)val_int(res, row, COL_ATTNUM);
	c->type_oid = val_oid(res, row, COL_TYPE_OID);
	c->typmod = (int32_t)val_int(res, row, COL_TYPMOD);
	c->not_null = val_bool(res, row, COL_NOT_NULL);
	c->default_volatile = val_bool(res, row, COL_VOLATILE);
	const char *identity = val(res, row, COL_IDENTITY);
	c->identity = identity[0] == 'a' ? CATALOG_IDENTITY_ALWAYS
		    : identity[0] == 'd' ? CATALOG_IDENTITY_BY_DEFAULT : CATALOG_IDENTITY_NONE;
	if (catalog_set_string(&c->default_expr, val(res, row, COL_DEFAULT)) < 0 ||
	    catalog_set_string(&c->generated_expr, val(res, row, COL_GENERATED)) < 0 ||
	    catalog_set_string(&c->collation, val(res, row, COL_COLLATION)) < 0)
		return -1;
	return column_type(res, row, labels, c);
}

static int read_columns(reader *r)
{
	const char *params[1] = {strbuf_str(&r->oids)};
	PGresult *labels = query(r, "reading enum labels (pg_enum)", enums_sql, 1, params);
	if (labels == NULL)
		return -1;
	const char *what = "reading columns (pg_attribute)";
	PGresult *res = query(r, what, columns_sql, 1, params);
	if (res == NULL) {
		PQclear(labels);
		return -1;
	}
	int rc = 0;
	for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
		table_ref *ref = find_ref(r, val_oid(res, row, COL_RELID));
		if (ref != NULL && add_column_row(ref->table, res, row, labels) < 0)
			rc = fail_oom(r, what);
	}
	PQclear(res);
	PQclear(labels);
	return rc;
}

/* ---- indexes and keys ---------------------------------------------------------------- */

/* The definition's tail is what follows "CREATE [UNIQUE] INDEX name ON [ONLY] s.t ", as
 * pg_get_indexdef prints it (quote_ident is the quoting it uses). */
static const char indexes_sql[] =
	"SELECT i.indrelid, ic.relname, i.indisprimary, i.indisunique, i.indisreplident,"
	" i.indexprs IS NOT NULL OR i.indpred IS NOT NULL, am.amname, i.indnkeyatts,"
	" i.indkey::pg_catalog.text, i.indoption::pg_catalog.text, d.def,"
	" CASE WHEN pg_catalog.starts_with(d.def, d.prefix)"
	"  THEN pg_catalog.substr(d.def, pg_catalog.length(d.prefix) + 1) END,"
	" con.contype"
	" FROM pg_catalog.pg_index i"
	" JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
	" JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
	" LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid"
	"  AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')"
	" CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def,"
	"  'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '"
	"  || pg_catalog.quote_ident(ic.relname) || ' ON '"
	"  || CASE WHEN ic.relkind = 'I' AND NOT ic.relispartition THEN 'ONLY ' ELSE '' END"
	"  || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) || ' '"
	"  AS prefix) d"
	" WHERE i.indrelid = ANY ($1::pg_catalog.oid[]) AND i.indisvalid AND i.indislive"
	" ORDER BY i.indrelid, ic.relname";

enum {
	IDX_RELID, IDX_NAME, IDX_PRIMARY, IDX_UNIQUE, IDX_REPLIDENT, IDX_EXPRESSION, IDX_METHOD,
	IDX_NKEYATTS, IDX_KEY, IDX_OPTION, IDX_DEF, IDX_TAIL, IDX_CONTYPE
};

#define INDOPTION_DESC 0x0001

/* Parses an int2vector's text ("1 3 2") into at most max numbers; returns the count. */
static int parse_int2vector(const char *s, int *out, int max)
{
	int n = 0;
	char *end;
	while (n < max) {
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		out[n++] = (int)v;
		s = end;
	}
	return n;
}

static int add_primary_key(catalog_table *t, const char *name, const int *attnums, int n)
{
	int *cols = malloc((size_t)(n > 0 ? n : 1) * sizeof *cols);
	if (cols == NULL)
		return -1;
	for (int k = 0; k < n; k++)
		cols[k] = column_by_attnum(t, attnums[k]);
	int rc = catalog_set_key(t, CATALOG_KEY_PRIMARY, name, cols, n);
	free(cols);
	return rc;
}

static int add_index_parts(catalog_table *t, catalog_index *idx, const int *attnums,
			   const int *options, int nkey, int nopt)
{
	for (int k = 0; k < nkey; k++) {
		int column = attnums[k] == 0 ? -1 : column_by_attnum(t, attnums[k]);
		bool desc = k < nopt && (options[k] & INDOPTION_DESC) != 0;
		if (catalog_index_add_part(idx, column, desc, 0) < 0)
			return -1;
	}
	return 0;
}

static int add_index(table_ref *ref, const PGresult *res, int row, const int *attnums,
		     const int *options, int nkey, int nopt)
{
	catalog_table *t = ref->table;
	if (val_bool(res, row, IDX_REPLIDENT) &&
	    catalog_set_string(&t->replica_identity_index, val(res, row, IDX_NAME)) < 0)
		return -1;
	if (val_bool(res, row, IDX_PRIMARY))
		return add_primary_key(t, val(res, row, IDX_NAME), attnums, nkey);
	catalog_index *idx = catalog_add_index(t, val(res, row, IDX_NAME));
	if (idx == NULL)
		return -1;
	idx->unique = val_bool(res, row, IDX_UNIQUE);
	idx->has_expression = val_bool(res, row, IDX_EXPRESSION);
	if (catalog_set_string(&idx->definition, val(res, row, IDX_DEF)) < 0 ||
	    catalog_set_string(&idx->definition_tail, val(res, row, IDX_TAIL)) < 0 ||
	    catalog_set_string(&idx->method, val(res, row, IDX_METHOD)) < 0 ||
	    add_index_parts(t, idx, attnums, options, nkey, nopt) < 0)
		return -1;
	if (val_bool(res, row, IDX_REPLIDENT))
		ref->replident_index = t->n_indexes - 1;
	return 0;
}

static int add_index_row(table_ref *ref, const PGresult *res, int row)
{
	int nkey = (int)val_int(res, row, IDX_NKEYATTS);
	if (nkey < 0)
		nkey = 0;
	int *attnums = malloc((size_t)(nkey + 1) * sizeof *attnums);
	int *options = malloc((size_t)(nkey + 1) * sizeof *options);
	int rc = -1;
	if (attnums != NULL && options != NULL) {
		nkey = parse_int2vector(val(res, row, IDX_KEY), attnums, nkey);
		int nopt = parse_int2vector(val(res, row, IDX_OPTION), options, nkey);
		rc = add_index(ref, res, row, attnums, options, nkey, nopt);
	}
	free(attnums);
	free(options);
	return rc;
}

/* A unique index can stand in for a primary key when it has plain NOT NULL columns only. */
static bool usable_as_key(const catalog_table *t, const catalog_index *idx)
{
	if (!idx->unique || idx->has_expression || idx->n_parts == 0)
		return false;
	for (int k = 0; k < idx->n_parts; k++)
		if (idx->parts[k].column < 0 || !t->columns[idx->parts[k].column].not_null)
			return false;
	return true;
}

/* Without a primary key: the REPLICA IDENTITY index, else the first usable unique index. */
static int choose_unique_key(table_ref *ref)
{
	catalog_table *t = ref->table;
	if (t->key_kind != CATALOG_KEY_NONE)
		return 0;
	int chosen = ref->replident_index;
	for (int i = 0; chosen < 0 && i < t->n_indexes; i++)
		if (usable_as_key(t, &t->indexes[i]))
			chosen = i;
	if (chosen < 0)
		return 0;
	const catalog_index *idx = &t->indexes[chosen];
	int *cols = malloc((size_t)(idx->n_parts + 1) * sizeof *cols);
	if (cols == NULL)
		return -1;
	for (int k = 0; k < idx->n_parts; k++)
		cols[k] = idx->parts[k].column;
	int rc = catalog_set_key(t, CATALOG_KEY_UNIQUE, idx->name, cols, idx->n_parts);
	free(cols);
	return rc;
}

static int read_indexes(reader *r)
{
	const char *what = "reading indexes (pg_index)";
	const char *params[1] = {strbuf_str(&r->oids)};
	PGresult *res = query(r, what, indexes_sql, 1, params);
	if (res == NULL)
		return -1;
	int rc = 0;
	for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
		table_ref *ref = find_ref(r, val_oid(res, row, IDX_RELID));
		const char *contype = val(res, row, IDX_CONTYPE);
		if (ref == NULL || (contype != NULL && contype[0] == 'x'))
			continue; /* exclusion constraints are not recreated */
		if (add_index_row(ref, res, row) < 0)
			rc = fail_oom(r, what);
	}
	PQclear(res);
	for (int i = 0; rc == 0 && i < r->n_refs; i++)
		if (choose_unique_key(&r->refs[i]) < 0)
			rc = fail_oom(r, what);
	return rc;
}

/* ---- owned sequences ----------------------------------------------------------------- */

/* Sequences owned by a column (serial, OWNED BY: deptype 'a'; identity: 'i'), and whether
 * that column's default is exactly nextval() of it. */
static const char sequences_sql[] =
	"SELECT d.refobjid, d.refobjsubid, n.nspname, s.relname, d.deptype = 'i',"
	" pg_catalog.format_type(q.seqtypid, NULL), q.seqstart, q.seqincrement, q.seqmin,"
	" q.seqmax, q.seqcache, q.seqcycle,"
	" EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad"
	"  JOIN pg_catalog.pg_depend dd ON dd.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
	"   AND dd.objid = ad.oid AND dd.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"   AND dd.refobjid = s.oid"
	"  WHERE ad.adrelid = d.refobjid AND ad.adnum = d.refobjsubid"
	"   AND pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%::regclass)')"
	" FROM pg_catalog.pg_depend d"
	" JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	" JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace"
	" JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid"
	" WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
	"  AND d.refobjid = ANY ($1::pg_catalog.oid[]) AND d.refobjsubid > 0"
	"  AND d.deptype IN ('a', 'i')"
	" ORDER BY d.refobjid, d.refobjsubid, n.nspname, s.relname";

static int add_sequence_row(catalog_table *t, const PGresult *res, int row)
{
	catalog_sequence *s = catalog_add_sequence(t, val(res, row, 2), val(res, row, 3));
	if (s == NULL)
		return -1;
	s->column = column_by_attnum(t, (int)val_int(res, row, 1));
	s->identity = val_bool(res, row, 4);
	s->start = val_int(res, row, 6);
	s->increment = val_int(res, row, 7);
	s->min_value = val_int(res, row, 8);
	s->max_value = val_int(res, row, 9);
	s->cache = val_int(res, row, 10);
	s->cycle = val_bool(res, row, 11);
	if (catalog_set_string(&s->data_type, val(res, row, 5)) < 0)
		return -1;
	if (s->column >= 0 && val_bool(res, row, 12))
		t->columns[s->column].default_sequence = t->n_sequences - 1;
	return 0;
}

static int read_sequences(reader *r)
{
	const char *what = "reading owned sequences (pg_depend, pg_sequence)";
	const char *params[1] = {strbuf_str(&r->oids)};
	PGresult *res = query(r, what, sequences_sql, 1, params);
	if (res == NULL)
		return -1;
	int rc = 0;
	for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
		table_ref *ref = find_ref(r, val_oid(res, row, 0));
		if (ref != NULL && add_sequence_row(ref->table, res, row) < 0)
			rc = fail_oom(r, what);
	}
	PQclear(res);
	return rc;
}

/* ---- partitions ------------------------------------------------------------------------ */

static const char partitions_sql[] =
	"SELECT t.oid, pt.relid::pg_catalog.oid, pt.parentrelid::pg_catalog.oid, n.nspname,"
	" c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid),"
	" CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END"
	" FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS t(oid)"
	" CROSS JOIN LATERAL pg_catalog.pg_partition_tree(t.oid) pt"
	" JOIN pg_catalog.pg_class c ON c.oid = pt.relid"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" WHERE pt.level > 0"
	" ORDER BY t.oid, pt.level, n.nspname, c.relname";

static int add_partition_row(catalog_table *t, const PGresult *res, int row)
{
	catalog_partition *p = catalog_add_partition(t, val(res, row, 3), val(res, row, 4));
	if (p == NULL)
		return -1;
	p->id = val_oid(res, row, 1);
	uint32_t parent = val_oid(res, row, 2);
	for (int i = 0; parent != t->id && i < t->n_partitions - 1; i++)
		if (t->partitions[i].id == parent)
			p->parent = i;
	if (catalog_set_string(&p->bound, val(res, row, 5)) < 0 ||
	    catalog_set_string(&p->partition_key, val(res, row, 6)) < 0)
		return -1;
	return 0;
}

static int read_partitions(reader *r)
{
	const char *what = "reading partitions (pg_partition_tree)";
	const char *params[1] = {strbuf_str(&r->oids)};
	PGresult *res = query(r, what, partitions_sql, 1, params);
	if (res == NULL)
		return -1;
	int rc = 0;
	for (int row = 0; rc == 0 && row < PQntuples(res); row++) {
		table_ref *ref = find_ref(r, val_oid(res, row, 0));
		if (ref != NULL && add_partition_row(ref->table, res, row) < 0)
			rc = fail_oom(r, what);
	}
	PQclear(res);
	return rc;
}

/* ---- entry points ----------------------------------------------------------------------- */

static int read_all(reader *r, const pg_catalog_filter *filter)
{
	if (read_tables(r, filter) < 0)
		return -1;
	if (r->n_refs == 0)
		return 0;
	if (read_columns(r) < 0 || read_indexes(r) < 0 || read_sequences(r) < 0 ||
	    read_partitions(r) < 0)
		return -1;
	return 0;
}

int pg_catalog_read(PGconn *conn, const pg_catalog_filter *filter, catalog **out, char **err)
{
	reader r = {.conn = conn, .oids = STRBUF_INIT, .err = STRBUF_INIT};
	*out = NULL;
	*err = NULL;
	r.cat = catalog_new(ENGINE_POSTGRESQL);
	session s;
	int rc;
	if (r.cat == NULL) {
		rc = fail_oom(&r, "reading the catalog");
	} else if ((rc = session_begin(&r, &s)) == 0) {
		rc = read_all(&r, filter);
		session_end(&r, &s, rc == 0);
	} else {
		session_end(&r, &s, false);
	}
	free(r.refs);
	strbuf_free(&r.oids);
	if (rc == 0) {
		*out = r.cat;
		strbuf_free(&r.err);
		return 0;
	}
	catalog_free(r.cat);
	*err = strbuf_detach(&r.err);
	if (*err == NULL)
		*err = strdup("reading the catalog: out of memory");
	return -1;
}

int pg_catalog_sequence_state(PGconn *conn, const catalog_sequence *seq, int64_t *last_value,
			      bool *is_called, char **err)
{
	reader r = {.conn = conn, .oids = STRBUF_INIT, .err = STRBUF_INIT};
	strbuf sql = STRBUF_INIT, what = STRBUF_INIT;
	*err = NULL;
	strbuf_append(&what, "reading sequence ");
	sql_append_pg_qualified(&what, seq->schema, seq->name);
	strbuf_append(&sql, "SELECT last_value, is_called FROM ");
	sql_append_pg_qualified(&sql, seq->schema, seq->name);
	int rc = -1;
	if (strbuf_failed(&sql) || strbuf_failed(&what)) {
		fail_oom(&r, "reading a sequence");
	} else {
		PGresult *res = query(&r, strbuf_str(&what), strbuf_str(&sql), 0, NULL);
		if (res != NULL && PQntuples(res) == 1) {
			*last_value = val_int(res, 0, 0);
			*is_called = val_bool(res, 0, 1);
			rc = 0;
		} else if (res != NULL) {
			fail(&r, strbuf_str(&what), "no row");
		}
		PQclear(res);
	}
	strbuf_free(&sql);
	strbuf_free(&what);
	if (rc < 0 && (*err = strbuf_detach(&r.err)) == NULL)
		*err = strdup("reading a sequence: out of memory");
	strbuf_free(&r.err);
	return rc;
}
