/* The MySQL <-> PostgreSQL type map (see the header and doc/type-mapping.md). Pure
 * functions over type descriptions: no server, no allocation except enum/set labels. */
#include "common/typemap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MYSQL_MAX_DECIMAL 65
#define MYSQL_MAX_FSP 6

/* ---- reading COLUMN_TYPE ---------------------------------------------------------------- */

typedef struct mysql_name {
	const char *name;
	catalog_type_class cls;
	catalog_type_class ucls; /* with UNSIGNED */
	int length;              /* TEXT/BLOB: maximum bytes; -1 none */
} mysql_name;

static const mysql_name mysql_names[] = {
	{"tinyint", CATALOG_TYPE_INT1, CATALOG_TYPE_UINT1, -1},
	{"smallint", CATALOG_TYPE_INT2, CATALOG_TYPE_UINT2, -1},
	{"mediumint", CATALOG_TYPE_INT3, CATALOG_TYPE_UINT3, -1},
	{"int", CATALOG_TYPE_INT4, CATALOG_TYPE_UINT4, -1},
	{"integer", CATALOG_TYPE_INT4, CATALOG_TYPE_UINT4, -1},
	{"bigint", CATALOG_TYPE_INT8, CATALOG_TYPE_UINT8, -1},
	{"decimal", CATALOG_TYPE_NUMERIC, CATALOG_TYPE_NUMERIC, -1},
	{"numeric", CATALOG_TYPE_NUMERIC, CATALOG_TYPE_NUMERIC, -1},
	{"float", CATALOG_TYPE_FLOAT4, CATALOG_TYPE_FLOAT4, -1},
	{"double", CATALOG_TYPE_FLOAT8, CATALOG_TYPE_FLOAT8, -1},
	{"double precision", CATALOG_TYPE_FLOAT8, CATALOG_TYPE_FLOAT8, -1},
	{"real", CATALOG_TYPE_FLOAT8, CATALOG_TYPE_FLOAT8, -1},
	{"bit", CATALOG_TYPE_BIT, CATALOG_TYPE_BIT, -1},
	{"char", CATALOG_TYPE_CHAR, CATALOG_TYPE_CHAR, -1},
	{"varchar", CATALOG_TYPE_VARCHAR, CATALOG_TYPE_VARCHAR, -1},
	{"tinytext", CATALOG_TYPE_TEXT, CATALOG_TYPE_TEXT, 255},
	{"text", CATALOG_TYPE_TEXT, CATALOG_TYPE_TEXT, 65535},
	{"mediumtext", CATALOG_TYPE_TEXT, CATALOG_TYPE_TEXT, 16777215},
	{"longtext", CATALOG_TYPE_TEXT, CATALOG_TYPE_TEXT, -1},
	{"binary", CATALOG_TYPE_BINARY, CATALOG_TYPE_BINARY, -1},
	{"varbinary", CATALOG_TYPE_VARBINARY, CATALOG_TYPE_VARBINARY, -1},
	{"tinyblob", CATALOG_TYPE_BYTES, CATALOG_TYPE_BYTES, 255},
	{"blob", CATALOG_TYPE_BYTES, CATALOG_TYPE_BYTES, 65535},
	{"mediumblob", CATALOG_TYPE_BYTES, CATALOG_TYPE_BYTES, 16777215},
	{"longblob", CATALOG_TYPE_BYTES, CATALOG_TYPE_BYTES, -1},
	{"date", CATALOG_TYPE_DATE, CATALOG_TYPE_DATE, -1},
	{"time", CATALOG_TYPE_TIME, CATALOG_TYPE_TIME, -1},
	{"datetime", CATALOG_TYPE_TIMESTAMP, CATALOG_TYPE_TIMESTAMP, -1},
	{"timestamp", CATALOG_TYPE_TIMESTAMPTZ, CATALOG_TYPE_TIMESTAMPTZ, -1},
	{"year", CATALOG_TYPE_YEAR, CATALOG_TYPE_YEAR, -1},
	{"json", CATALOG_TYPE_JSON, CATALOG_TYPE_JSON, -1},
	{"enum", CATALOG_TYPE_ENUM, CATALOG_TYPE_ENUM, -1},
	{"set", CATALOG_TYPE_SET, CATALOG_TYPE_SET, -1},
	{"uuid", CATALOG_TYPE_UUID, CATALOG_TYPE_UUID, -1},
	{"inet4", CATALOG_TYPE_INET, CATALOG_TYPE_INET, -1},
	{"inet6", CATALOG_TYPE_INET, CATALOG_TYPE_INET, -1},
};

/* Parses "'a','it''s','b\\c'" (the text between the parentheses) into labels. */
static int parse_labels(const char *p, const char *end, catalog_type *out, char *why, size_t why_len)
{
	strbuf label = STRBUF_INIT;
	int rc = 0;
	while (p < end && rc == 0) {
		if (*p != '\'') {
			snprintf(why, why_len, "malformed label list");
			rc = -1;
			break;
		}
		strbuf_reset(&label);
		strbuf_append(&label, "");
		for (p++;; p++) {
			if (p >= end) {
				snprintf(why, why_len, "unterminated label");
				rc = -1;
				break;
			}
			if (*p == '\'' && p + 1 < end && p[1] == '\'') {
				strbuf_append_char(&label, '\'');
				p++;
			} else if (*p == '\\' && p + 1 < end) {
				strbuf_append_char(&label, p[1]);
				p++;
			} else if (*p == '\'') {
				p++;
				break;
			} else {
				strbuf_append_char(&label, *p);
			}
		}
		if (rc == 0 && (strbuf_failed(&label) || catalog_type_add_label(out, strbuf_str(&label)) < 0)) {
			snprintf(why, why_len, "out of memory");
			rc = -1;
		}
		if (rc == 0 && p < end && *p == ',')
			p++;
	}
	strbuf_free(&label);
	return rc;
}

/* "(10)" or "(65,30)": up to two numbers. */
static int parse_numbers(const char *p, const char *end, int *a, int *b)
{
	char *e;
	*a = (int)strtol(p, &e, 10);
	if (e == p)
		return -1;
	if (e < end && *e == ',') {
		p = e + 1;
		*b = (int)strtol(p, &e, 10);
		if (e == p)
			return -1;
	}
	return e == end ? 0 : -1;
}

static const mysql_name *find_name(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof mysql_names / sizeof mysql_names[0]; i++)
		if (strlen(mysql_names[i].name) == n && strncasecmp(mysql_names[i].name, s, n) == 0)
			return &mysql_names[i];
	return NULL;
}

/* Sets length/precision/scale from the numbers in parentheses, per class. */
static int apply_numbers(catalog_type *out, const char *type, int a, int b, bool have, char *why, size_t why_len)
{
	switch (out->cls) {
	case CATALOG_TYPE_NUMERIC:
		out->precision = have ? a : 10;
		out->scale = have && b >= 0 ? b : 0;
		if (out->precision < 1 || out->precision > MYSQL_MAX_DECIMAL || out->scale > out->precision)
			goto bad;
		return 0;
	case CATALOG_TYPE_CHAR: case CATALOG_TYPE_VARCHAR: case CATALOG_TYPE_BINARY:
	case CATALOG_TYPE_VARBINARY:
		out->length = have ? a : 1;
		return out->length >= 0 ? 0 : -1;
	case CATALOG_TYPE_BIT:
		out->length = have ? a : 1;
		if (out->length < 1 || out->length > 64)
			goto bad;
		return 0;
	case CATALOG_TYPE_TIME: case CATALOG_TYPE_TIMESTAMP: case CATALOG_TYPE_TIMESTAMPTZ:
		out->precision = have ? a : 0;
		if (out->precision < 0 || out->precision > MYSQL_MAX_FSP)
			goto bad;
		return 0;
	case CATALOG_TYPE_TEXT: case CATALOG_TYPE_BYTES:
		return 0; /* TEXT(n) / BLOB(n): the catalog already names the real size */
	default:
		return 0; /* display widths (int(11), year(4)) and FLOAT(M,D) change nothing stored */
	}
bad:
	snprintf(why, why_len, "%s: out of range", type);
	return -1;
}

int typemap_mysql_parse(const char *column_type, bool is_json, catalog_type *out, char *why, size_t why_len)
{
	const char *s = column_type, *open = strchr(s, '(');
	const char *name_end = open ? open : s + strcspn(s, " ");
	const char *close = open ? strrchr(open, ')') : NULL;
	if (open && close == NULL) {
		snprintf(why, why_len, "cannot read the type %s", column_type);
		return -1;
	}
	const char *rest = close ? close + 1 : name_end;
	/* "double precision" is the one two-word name */
	if (!open && strncasecmp(s, "double precision", 16) == 0)
		name_end = rest = s + 16;
	const mysql_name *n = find_name(s, (size_t)(name_end - s));
	if (n == NULL) {
		snprintf(why, why_len, "type %s has no mapping (spatial and other special types are not supported): "
			 "exclude the column (exclude_column) or the table", column_type);
		return -1;
	}
	bool is_unsigned = strcasestr(rest, "unsigned") != NULL;
	out->cls = is_unsigned ? n->ucls : n->cls;
	out->length = n->length;
	if (out->cls == CATALOG_TYPE_ENUM || out->cls == CATALOG_TYPE_SET)
		return parse_labels(open + 1, close, out, why, why_len);
	int a = -1, b = -1;
	bool have = open != NULL;
	if (have && parse_numbers(open + 1, close, &a, &b) < 0) {
		snprintf(why, why_len, "cannot read the type %s", column_type);
		return -1;
	}
	if (out->cls == CATALOG_TYPE_INT1 && have && a == 1)
		out->cls = CATALOG_TYPE_BOOL; /* TINYINT(1): MySQL's BOOLEAN */
	if (is_json && out->cls == CATALOG_TYPE_TEXT) {
		out->cls = CATALOG_TYPE_JSON;
		out->length = -1;
	}
	return apply_numbers(out, column_type, a, b, have, why, why_len);
}

/* ---- MySQL -> PostgreSQL ---------------------------------------------------------------- */

typedef struct pg_rule {
	catalog_type_class from;
	typemap_conv conv;
	catalog_type_class to;
	const char *name; /* NULL: built from the parameters */
} pg_rule;

static const pg_rule pg_rules[] = {
	{CATALOG_TYPE_BOOL, TYPEMAP_BOOL, CATALOG_TYPE_BOOL, "boolean"},
	{CATALOG_TYPE_INT1, TYPEMAP_INT, CATALOG_TYPE_INT2, "smallint"},
	{CATALOG_TYPE_UINT1, TYPEMAP_UINT, CATALOG_TYPE_INT2, "smallint"},
	{CATALOG_TYPE_INT2, TYPEMAP_INT, CATALOG_TYPE_INT2, "smallint"},
	{CATALOG_TYPE_UINT2, TYPEMAP_UINT, CATALOG_TYPE_INT4, "integer"},
	{CATALOG_TYPE_INT3, TYPEMAP_INT, CATALOG_TYPE_INT4, "integer"},
	{CATALOG_TYPE_UINT3, TYPEMAP_UINT, CATALOG_TYPE_INT4, "integer"},
	{CATALOG_TYPE_INT4, TYPEMAP_INT, CATALOG_TYPE_INT4, "integer"},
	{CATALOG_TYPE_UINT4, TYPEMAP_UINT, CATALOG_TYPE_INT8, "bigint"},
	{CATALOG_TYPE_INT8, TYPEMAP_INT, CATALOG_TYPE_INT8, "bigint"},
	{CATALOG_TYPE_UINT8, TYPEMAP_UINT, CATALOG_TYPE_NUMERIC, "numeric(20,0)"},
	{CATALOG_TYPE_NUMERIC, TYPEMAP_DECIMAL, CATALOG_TYPE_NUMERIC, NULL},
	{CATALOG_TYPE_FLOAT4, TYPEMAP_FLOAT4, CATALOG_TYPE_FLOAT4, "real"},
	{CATALOG_TYPE_FLOAT8, TYPEMAP_FLOAT8, CATALOG_TYPE_FLOAT8, "double precision"},
	{CATALOG_TYPE_BIT, TYPEMAP_BIT, CATALOG_TYPE_BIT, NULL},
	{CATALOG_TYPE_CHAR, TYPEMAP_TEXT, CATALOG_TYPE_CHAR, NULL},
	{CATALOG_TYPE_VARCHAR, TYPEMAP_TEXT, CATALOG_TYPE_VARCHAR, NULL},
	{CATALOG_TYPE_TEXT, TYPEMAP_TEXT, CATALOG_TYPE_TEXT, "text"},
	{CATALOG_TYPE_BINARY, TYPEMAP_BYTES, CATALOG_TYPE_BYTES, "bytea"},
	{CATALOG_TYPE_VARBINARY, TYPEMAP_BYTES, CATALOG_TYPE_BYTES, "bytea"},
	{CATALOG_TYPE_BYTES, TYPEMAP_BYTES, CATALOG_TYPE_BYTES, "bytea"},
	{CATALOG_TYPE_DATE, TYPEMAP_DATE, CATALOG_TYPE_DATE, "date"},
	{CATALOG_TYPE_TIME, TYPEMAP_TIME, CATALOG_TYPE_INTERVAL, NULL},
	{CATALOG_TYPE_TIMESTAMP, TYPEMAP_DATETIME, CATALOG_TYPE_TIMESTAMP, NULL},
	{CATALOG_TYPE_TIMESTAMPTZ, TYPEMAP_TIMESTAMP, CATALOG_TYPE_TIMESTAMPTZ, NULL},
	{CATALOG_TYPE_YEAR, TYPEMAP_YEAR, CATALOG_TYPE_INT2, "smallint"},
	{CATALOG_TYPE_JSON, TYPEMAP_JSON, CATALOG_TYPE_JSONB, "jsonb"},
	{CATALOG_TYPE_ENUM, TYPEMAP_ENUM, CATALOG_TYPE_ENUM, ""},
	{CATALOG_TYPE_SET, TYPEMAP_SET, CATALOG_TYPE_ARRAY, "text[]"},
	{CATALOG_TYPE_UUID, TYPEMAP_UUID, CATALOG_TYPE_UUID, "uuid"},
	{CATALOG_TYPE_INET, TYPEMAP_INET, CATALOG_TYPE_INET, "inet"},
};

int typemap_mysql_to_pg(const catalog_type *src, typemap_pg *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof *out);
	out->length = out->precision = -1;
	for (size_t i = 0; i < sizeof pg_rules / sizeof pg_rules[0]; i++) {
		const pg_rule *r = &pg_rules[i];
		if (r->from != src->cls)
			continue;
		out->conv = r->conv;
		out->cls = r->to;
		if (r->to == CATALOG_TYPE_NUMERIC && r->from == CATALOG_TYPE_UINT8) {
			out->precision = 20;
			out->scale = 0;
		} else if (r->to == CATALOG_TYPE_NUMERIC) {
			out->precision = src->precision;
			out->scale = src->scale;
			snprintf(out->name, sizeof out->name, "numeric(%d,%d)", src->precision, src->scale);
		} else if (r->to == CATALOG_TYPE_CHAR || r->to == CATALOG_TYPE_VARCHAR || r->to == CATALOG_TYPE_BIT) {
			out->length = src->length;
			snprintf(out->name, sizeof out->name, "%s(%d)",
				 r->to == CATALOG_TYPE_CHAR ? "character"
				 : r->to == CATALOG_TYPE_BIT ? "bit" : "character varying",
				 src->length);
		} else if (r->name == NULL) {
			int p = src->precision > 0 ? src->precision : 0;
			out->precision = p;
			snprintf(out->name, sizeof out->name, "%s(%d)%s",
				 r->to == CATALOG_TYPE_INTERVAL ? "interval" : "timestamp", p,
				 r->to == CATALOG_TYPE_TIMESTAMP ? " without time zone"
				 : r->to == CATALOG_TYPE_TIMESTAMPTZ ? " with time zone" : "");
		}
		if (r->name != NULL)
			snprintf(out->name, sizeof out->name, "%s", r->name);
		return 0;
	}
	snprintf(why, why_len, "no PostgreSQL type for the MySQL type class %s", catalog_type_class_name(src->cls));
	return -1;
}

/* ---- PostgreSQL -> MySQL ---------------------------------------------------------------- */

static const struct {
	catalog_type_class cls;
	const char *name;
} mysql_fixed[] = {
	{CATALOG_TYPE_BOOL, "tinyint(1)"},    {CATALOG_TYPE_INT2, "smallint"},
	{CATALOG_TYPE_INT4, "int"},           {CATALOG_TYPE_INT8, "bigint"},
	{CATALOG_TYPE_FLOAT4, "float"},       {CATALOG_TYPE_FLOAT8, "double"},
	{CATALOG_TYPE_TEXT, "longtext"},      {CATALOG_TYPE_BYTES, "longblob"},
	{CATALOG_TYPE_DATE, "date"},          {CATALOG_TYPE_JSON, "json"},
	{CATALOG_TYPE_JSONB, "json"},         {CATALOG_TYPE_UUID, "char(36)"},
	{CATALOG_TYPE_INET, "varchar(43)"},   {CATALOG_TYPE_CIDR, "varchar(43)"},
	{CATALOG_TYPE_INTERVAL, "varchar(64)"}, {CATALOG_TYPE_ARRAY, "json"},
	{CATALOG_TYPE_YEAR, "year"},
};

/* A MySQL fractional-seconds precision: PostgreSQL's default (none declared) is 6. */
static int fsp(int precision)
{
	return precision < 0 || precision > MYSQL_MAX_FSP ? MYSQL_MAX_FSP : precision;
}

int typemap_pg_to_mysql(const catalog_type *src, strbuf *out, char *why, size_t why_len)
{
	for (size_t i = 0; i < sizeof mysql_fixed / sizeof mysql_fixed[0]; i++) {
		if (mysql_fixed[i].cls == src->cls) {
			strbuf_append(out, mysql_fixed[i].name);
			return 0;
		}
	}
	switch (src->cls) {
	case CATALOG_TYPE_NUMERIC:
		if (src->precision < 0) {
			strbuf_append(out, "decimal(65,30)"); /* values checked for overflow on the way */
			return 0;
		}
		if (src->precision > MYSQL_MAX_DECIMAL || src->scale < 0 || src->scale > 30) {
			snprintf(why, why_len, "numeric(%d,%d) does not fit MySQL's DECIMAL (at most 65 digits, "
				 "30 after the point)", src->precision, src->scale);
			return -1;
		}
		strbuf_appendf(out, "decimal(%d,%d)", src->precision, src->scale);
		return 0;
	case CATALOG_TYPE_VARCHAR:
		if (src->length < 0 || src->length > 16383)
			strbuf_append(out, "longtext");
		else
			strbuf_appendf(out, "varchar(%d)", src->length);
		return 0;
	case CATALOG_TYPE_CHAR:
		if (src->length > 255)
			strbuf_appendf(out, "varchar(%d)", src->length);
		else
			strbuf_appendf(out, "char(%d)", src->length < 1 ? 1 : src->length);
		return 0;
	case CATALOG_TYPE_BIT:
	case CATALOG_TYPE_VARBIT:
		if (src->length >= 1 && src->length <= 64)
			strbuf_appendf(out, "bit(%d)", src->length);
		else
			strbuf_append(out, "longblob");
		return 0;
	case CATALOG_TYPE_TIME: strbuf_appendf(out, "time(%d)", fsp(src->precision)); return 0;
	case CATALOG_TYPE_TIMESTAMP:
	case CATALOG_TYPE_TIMESTAMPTZ: strbuf_appendf(out, "datetime(%d)", fsp(src->precision)); return 0;
	case CATALOG_TYPE_ENUM:
		strbuf_append(out, "enum(");
		for (int i = 0; i < src->n_labels; i++) {
			strbuf_append(out, i ? ",'" : "'");
			for (const char *p = src->labels[i]; *p; p++) {
				if (*p == '\'' || *p == '\\')
					strbuf_append_char(out, *p);
				strbuf_append_char(out, *p);
			}
			strbuf_append_char(out, '\'');
		}
		strbuf_append_char(out, ')');
		return 0;
	default:
		snprintf(why, why_len, "no MySQL type for the PostgreSQL type class %s",
			 catalog_type_class_name(src->cls));
		return -1;
	}
}

/* ---- PostgreSQL spellings ---------------------------------------------------------------- */

static const struct {
	const char *name;
	catalog_type_class cls;
} pg_names[] = {
	{"boolean", CATALOG_TYPE_BOOL}, {"smallint", CATALOG_TYPE_INT2}, {"integer", CATALOG_TYPE_INT4},
	{"bigint", CATALOG_TYPE_INT8}, {"numeric", CATALOG_TYPE_NUMERIC}, {"real", CATALOG_TYPE_FLOAT4},
	{"double precision", CATALOG_TYPE_FLOAT8}, {"text", CATALOG_TYPE_TEXT},
	{"character varying", CATALOG_TYPE_VARCHAR}, {"character", CATALOG_TYPE_CHAR},
	{"bytea", CATALOG_TYPE_BYTES}, {"date", CATALOG_TYPE_DATE}, {"json", CATALOG_TYPE_JSON},
	{"jsonb", CATALOG_TYPE_JSONB}, {"uuid", CATALOG_TYPE_UUID}, {"inet", CATALOG_TYPE_INET},
	{"cidr", CATALOG_TYPE_CIDR}, {"bit varying", CATALOG_TYPE_VARBIT}, {"bit", CATALOG_TYPE_BIT},
	{"interval", CATALOG_TYPE_INTERVAL}, {"time", CATALOG_TYPE_TIME}, {"timestamp", CATALOG_TYPE_TIMESTAMP},
};

int typemap_pg_parse(const char *name, catalog_type *out)
{
	size_t len = strlen(name);
	if (len > 2 && strcmp(name + len - 2, "[]") == 0) {
		char *elem = strndup(name, len - 2);
		catalog_type *e = elem ? catalog_type_make_array(out) : NULL;
		int rc = e ? typemap_pg_parse(elem, e) : -1;
		free(elem);
		return rc;
	}
	for (size_t i = 0; i < sizeof pg_names / sizeof pg_names[0]; i++) {
		size_t n = strlen(pg_names[i].name);
		if (strncmp(name, pg_names[i].name, n) != 0 || (name[n] != '\0' && name[n] != '(' && name[n] != ' '))
			continue;
		out->cls = pg_names[i].cls;
		const char *p = name + n;
		int a = -1, b = 0;
		if (*p == '(' && sscanf(p, "(%d,%d)", &a, &b) < 1)
			return -1;
		const char *tail = strchr(p, ')') ? strchr(p, ')') + 1 : p;
		bool tz = strcmp(tail, " with time zone") == 0;
		if (*tail != '\0' && !tz && strcmp(tail, " without time zone") != 0)
			return -1;
		if (tz)
			out->cls = out->cls == CATALOG_TYPE_TIME ? CATALOG_TYPE_TIMETZ : CATALOG_TYPE_TIMESTAMPTZ;
		if (out->cls == CATALOG_TYPE_NUMERIC) {
			out->precision = a;
			out->scale = a >= 0 ? b : 0;
		} else if (out->cls == CATALOG_TYPE_TIME || out->cls == CATALOG_TYPE_TIMETZ ||
			   out->cls == CATALOG_TYPE_TIMESTAMP || out->cls == CATALOG_TYPE_TIMESTAMPTZ ||
			   out->cls == CATALOG_TYPE_INTERVAL) {
			out->precision = a;
		} else {
			out->length = a;
		}
		return 0;
	}
	return -1;
}

/* ---- invalid values ------------------------------------------------------------------------ */

const char *typemap_invalid_values_name(invalid_values_kind k)
{
	switch (k) {
	case INVALID_VALUES_ERROR: return "error";
	case INVALID_VALUES_NULL: return "null";
	case INVALID_VALUES_SUBSTITUTE: return "substitute";
	}
	return "?";
}

const char *typemap_substitute(typemap_conv conv)
{
	switch (conv) {
	case TYPEMAP_DATE:
	case TYPEMAP_DATETIME:
	case TYPEMAP_TIMESTAMP: return "-infinity";
	case TYPEMAP_BOOL: return "true"; /* MySQL reads any non-zero number as true */
	default: return NULL;
	}
}

const char *typemap_conv_name(typemap_conv conv)
{
	static const char *const names[] = {
		[TYPEMAP_INT] = "integer", [TYPEMAP_UINT] = "unsigned integer", [TYPEMAP_BOOL] = "TINYINT(1)",
		[TYPEMAP_DECIMAL] = "DECIMAL", [TYPEMAP_FLOAT4] = "FLOAT", [TYPEMAP_FLOAT8] = "DOUBLE",
		[TYPEMAP_TEXT] = "text", [TYPEMAP_BYTES] = "binary string", [TYPEMAP_BIT] = "BIT",
		[TYPEMAP_DATE] = "DATE", [TYPEMAP_TIME] = "TIME", [TYPEMAP_DATETIME] = "DATETIME",
		[TYPEMAP_TIMESTAMP] = "TIMESTAMP", [TYPEMAP_YEAR] = "YEAR", [TYPEMAP_JSON] = "JSON",
		[TYPEMAP_ENUM] = "ENUM", [TYPEMAP_SET] = "SET", [TYPEMAP_UUID] = "UUID", [TYPEMAP_INET] = "INET",
	};
	return (unsigned)conv < sizeof names / sizeof names[0] && names[conv] ? names[conv] : "?";
}
