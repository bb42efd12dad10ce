/* Canonical values into MySQL/MariaDB column values (see the header). */
#include "workers/my_out.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/typemap.h"
#include "workers/pg_catalog.h"
#include "workers/pg_value.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
#define MY_DECIMAL_DIGITS 65
#define MY_DECIMAL_SCALE 30
#define MY_BIT_MAX 64
#define MY_YEAR_MIN 1
#define MY_YEAR_MAX 9999

/* ---- columns ----------------------------------------------------------------------------- */

static void set_numeric(my_out_col *c, int precision, int scale)
{
	bool declared = precision > 0 && precision <= MY_DECIMAL_DIGITS && scale >= 0 && scale <= MY_DECIMAL_SCALE;
	c->precision = declared ? precision : MY_DECIMAL_DIGITS;
	c->scale = declared ? scale : MY_DECIMAL_SCALE;
}

void my_out_col_init(my_out_col *c, const catalog_type *type)
{
	memset(c, 0, sizeof *c);
	c->cls = type->cls;
	c->elem = CATALOG_TYPE_OTHER;
	c->bits = type->length;
	if (type->cls == CATALOG_TYPE_ARRAY && type->element != NULL)
		c->elem = type->element->cls;
	if (type->cls == CATALOG_TYPE_NUMERIC)
		set_numeric(c, type->precision, type->scale);
}

void my_out_col_from_pg(my_out_col *c, uint32_t type_oid, int32_t typmod, const char *type_name)
{
	catalog_type type = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
	size_t n = type_name ? strlen(type_name) : 0;
	memset(c, 0, sizeof *c);
	if (n > 2 && strcmp(type_name + n - 2, "[]") == 0) {
		/* the element is only known by name: built-in types parse, others are strings */
		char *elem = strndup(type_name, n - 2);
		catalog_type e = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
		if (elem == NULL || typemap_pg_parse(elem, &e) < 0 || e.cls == CATALOG_TYPE_ARRAY)
			e.cls = CATALOG_TYPE_OTHER;
		free(elem);
		c->cls = CATALOG_TYPE_ARRAY;
		c->elem = e.cls;
		c->bits = -1;
		return;
	}
	pg_catalog_classify(type_oid, typmod, false, &type);
	my_out_col_init(c, &type);
}

void my_out_col_from_mysql(my_out_col *c, const char *column_type)
{
	catalog_type type = {.cls = CATALOG_TYPE_OTHER, .length = -1, .precision = -1};
	char why[200];
	if (column_type == NULL || typemap_mysql_parse(column_type, false, &type, why, sizeof why) < 0)
		type.cls = CATALOG_TYPE_OTHER; /* values then go by their kind alone */
	my_out_col_init(c, &type);
	for (int i = 0; i < type.n_labels; i++)
		free(type.labels[i]);
	free(type.labels);
}

/* ---- numbers ------------------------------------------------------------------------------- */

/* The shortest text that reads back as the same double. */
static void append_double(strbuf *out, double d)
{
	char buf[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	strbuf_append(out, buf);
}

static my_out_form convert_float(const my_out_col *c, double d, strbuf *out, char *why, size_t why_len)
{
	if (isnan(d) || isinf(d)) {
		snprintf(why, why_len, "%s has no MySQL value", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return MY_OUT_INVALID;
	}
	if (c->cls == CATALOG_TYPE_FLOAT4) {
		/* the single-precision value itself, so MySQL's FLOAT range check sees it exactly */
		float f = (float)d;
		if (isinf(f)) {
			snprintf(why, why_len, "%.17g is beyond MySQL's FLOAT", d);
			return MY_OUT_INVALID;
		}
		strbuf_appendf(out, "%.9g", (double)f);
		if (strtod(strbuf_str(out), NULL) > FLT_MAX || strtod(strbuf_str(out), NULL) < -FLT_MAX) {
			strbuf_reset(out);
			strbuf_appendf(out, "%.17g", (double)f);
		}
		return MY_OUT_PLAIN;
	}
	append_double(out, d);
	return MY_OUT_PLAIN;
}

/* Whether decimal text ("-0012.500") fits DECIMAL(precision, scale) without rounding. */
static bool decimal_fits(const char *p, size_t n, int precision, int scale)
{
	size_t i = n > 0 && (p[0] == '-' || p[0] == '+') ? 1 : 0;
	while (i < n && p[i] == '0')
		i++;
	int int_digits = 0, frac_digits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		int_digits++;
	if (i < n && p[i] == '.') {
		size_t end = n;
		while (end > i + 1 && p[end - 1] == '0')
			end--;
		for (size_t j = i + 1; j < end; j++) {
			if (p[j] < '0' || p[j] > '9')
				return false;
			frac_digits++;
		}
		i = n;
	}
	return i == n && int_digits <= precision - scale && frac_digits <= scale;
}

static my_out_form convert_decimal(const my_out_col *c, const record_value *v, strbuf *out, char *why,
				     size_t why_len)
{
	const char *p = v->str.ptr;
	size_t n = v->str.len;
	int precision = c->precision > 0 ? c->precision : MY_DECIMAL_DIGITS;
	int scale = c->precision > 0 ? c->scale : MY_DECIMAL_SCALE;
	if (n > 0 && (p[n - 1] == 'N' || p[n - 1] == 'y')) { /* NaN, Infinity, -Infinity */
		snprintf(why, why_len, "%.*s has no MySQL value", (int)n, p);
		return MY_OUT_INVALID;
	}
	if (!decimal_fits(p, n, precision, scale)) {
		snprintf(why, why_len, "%.*s does not fit DECIMAL(%d,%d)", n > 80 ? 80 : (int)n, p, precision, scale);
		return MY_OUT_INVALID;
	}
	strbuf_append_len(out, p, n);
	return MY_OUT_PLAIN;
}

/* ---- bits ----------------------------------------------------------------------------------- */

static bool bit_column(const my_out_col *c)
{
	return c->cls == CATALOG_TYPE_BIT || c->cls == CATALOG_TYPE_VARBIT;
}

/* '0'/'1' text: up to 64 bits as a number, longer ones packed into bytes. */
static my_out_form convert_bits(const my_out_col *c, const record_value *v, strbuf *out, char *why,
				  size_t why_len)
{
	const char *p = v->str.ptr;
	size_t n = v->str.len;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '0' && p[i] != '1') {
			snprintf(why, why_len, "\"%.*s\" is not a bit string", n > 80 ? 80 : (int)n, p);
			return MY_OUT_INVALID;
		}
	}
	if (c->bits >= 0 && c->bits <= MY_BIT_MAX && n <= MY_BIT_MAX) {
		uint64_t u = 0;
		for (size_t i = 0; i < n; i++)
			u = u << 1 | (uint64_t)(p[i] - '0');
		strbuf_appendf(out, "%" PRIu64, u);
		return MY_OUT_PLAIN;
	}
	for (size_t i = 0; i < n; i += 8) {
		unsigned byte = 0;
		for (size_t k = 0; k < 8; k++)
			byte = byte << 1 | (i + k < n && p[i + k] == '1');
		strbuf_append_char(out, (char)byte);
	}
	return MY_OUT_BINARY;
}

static my_out_form bytes_as_number(const record_value *v, strbuf *out, char *why, size_t why_len)
{
	if (v->str.len > 8) {
		snprintf(why, why_len, "%zu bytes do not fit BIT(64)", v->str.len);
		return MY_OUT_INVALID;
	}
	uint64_t u = 0;
	for (size_t i = 0; i < v->str.len; i++)
		u = u << 8 | (uint8_t)v->str.ptr[i];
	strbuf_appendf(out, "%" PRIu64, u);
	return MY_OUT_PLAIN;
}

/* ---- dates and times --------------------------------------------------------------------------- */

static bool append_date(strbuf *out, int64_t days)
{
	int64_t y;
	unsigned m, d;
	pg_value_civil_from_days(days, &y, &m, &d);
	if (y < MY_YEAR_MIN || y > MY_YEAR_MAX)
		return false;
	strbuf_appendf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
	return true;
}

static void append_clock(strbuf *out, int64_t us)
{
	if (us < 0) {
		strbuf_append_char(out, '-');
		us = -us;
	}
	int64_t sec = us / US_PER_SEC, frac = us % US_PER_SEC;
	strbuf_appendf(out, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, sec / 3600, sec / 60 % 60, sec % 60);
	if (frac)
		strbuf_appendf(out, ".%06" PRId64, frac);
}

static my_out_form convert_date(int32_t days, strbuf *out, char *why, size_t why_len)
{
	if (days != INT32_MAX && days != INT32_MIN && append_date(out, days))
		return MY_OUT_STRING;
	snprintf(why, why_len, "%s is outside MySQL's dates (years 1 to 9999)",
		 days == INT32_MAX ? "infinity" : days == INT32_MIN ? "-infinity" : "the date");
	return MY_OUT_INVALID;
}

static my_out_form convert_timestamp(int64_t us, strbuf *out, char *why, size_t why_len)
{
	if (us != INT64_MAX && us != INT64_MIN) {
		int64_t days = us / US_PER_DAY, rest = us % US_PER_DAY;
		if (rest < 0) {
			rest += US_PER_DAY;
			days--;
		}
		if (append_date(out, days)) {
			strbuf_append_char(out, ' ');
			append_clock(out, rest);
			return MY_OUT_STRING;
		}
	}
	snprintf(why, why_len, "%s is outside MySQL's dates (years 1 to 9999)",
		 us == INT64_MAX ? "infinity" : us == INT64_MIN ? "-infinity" : "the timestamp");
	return MY_OUT_INVALID;
}

/* ---- arrays as JSON ------------------------------------------------------------------------------ */

typedef struct arr_scan {
	const char *p, *end;
	catalog_type_class elem;
	strbuf *out;
	strbuf item;
} arr_scan;

static void json_string(strbuf *out, const char *p, size_t n)
{
	strbuf_append_char(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			strbuf_appendf(out, "\\%c", ch);
		else if (ch == '\n')
			strbuf_append(out, "\\n");
		else if (ch == '\t')
			strbuf_append(out, "\\t");
		else if (ch == '\r')
			strbuf_append(out, "\\r");
		else if (ch < 0x20)
			strbuf_appendf(out, "\\u%04x", ch);
		else
			strbuf_append_char(out, (char)ch);
	}
	strbuf_append_char(out, '"');
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '-')
		i++;
	size_t start = i;
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == start || (p[start] == '0' && i - start > 1))
		return false;
	if (i < n && p[i] == '.') {
		size_t f = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == f)
			return false;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t e = i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == e)
			return false;
	}
	return i == n;
}

static bool numeric_class(catalog_type_class cls)
{
	return cls == CATALOG_TYPE_INT2 || cls == CATALOG_TYPE_INT4 || cls == CATALOG_TYPE_INT8 ||
	       cls == CATALOG_TYPE_NUMERIC || cls == CATALOG_TYPE_FLOAT4 || cls == CATALOG_TYPE_FLOAT8;
}

static void emit_element(arr_scan *s, bool quoted)
{
	const char *p = strbuf_str(&s->item);
	size_t n = s->item.len;
	if (!quoted && n == 4 && strncasecmp(p, "NULL", 4) == 0)
		strbuf_append(s->out, "null");
	else if (numeric_class(s->elem) && json_number(p, n))
		strbuf_append_len(s->out, p, n);
	else if (s->elem == CATALOG_TYPE_BOOL && n == 1 && (p[0] == 't' || p[0] == 'f'))
		strbuf_append(s->out, p[0] == 't' ? "true" : "false");
	else if (s->elem == CATALOG_TYPE_JSON || s->elem == CATALOG_TYPE_JSONB)
		strbuf_append_len(s->out, p, n);
	else
		json_string(s->out, p, n);
}

static void skip_spaces(arr_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'))
		s->p++;
}

/* One element into s->item: 1 quoted, 0 bare, -1 malformed. */
static int read_element(arr_scan *s)
{
	strbuf_reset(&s->item);
	if (*s->p == '"') {
		for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
			if (*s->p == '\\' && ++s->p == s->end)
				return -1;
			strbuf_append_char(&s->item, *s->p);
		}
		if (s->p == s->end)
			return -1;
		s->p++;
		return 1;
	}
	while (s->p < s->end && *s->p != ',' && *s->p != '}') {
		if (*s->p == '\\' && ++s->p == s->end)
			return -1;
		strbuf_append_char(&s->item, *s->p++);
	}
	while (s->item.len > 0 && s->item.data[s->item.len - 1] == ' ')
		s->item.data[--s->item.len] = '\0';
	return 0;
}

static int parse_array(arr_scan *s, int depth)
{
	if (depth > 8 || s->p == s->end || *s->p != '{')
		return -1;
	s->p++;
	strbuf_append_char(s->out, '[');
	skip_spaces(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		strbuf_append_char(s->out, ']');
		return 0;
	}
	for (bool first = true;; first = false) {
		if (!first)
			strbuf_append_char(s->out, ',');
		skip_spaces(s);
		if (s->p == s->end)
			return -1;
		if (*s->p == '{') {
			if (parse_array(s, depth + 1) < 0)
				return -1;
		} else {
			int q = read_element(s);
			if (q < 0)
				return -1;
			emit_element(s, q == 1);
		}
		skip_spaces(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			break;
		}
		return -1;
	}
	strbuf_append_char(s->out, ']');
	return 0;
}

int my_out_array_to_json(const char *text, size_t len, catalog_type_class elem, strbuf *out)
{
	arr_scan s = {.p = text, .end = text + len, .elem = elem, .out = out};
	strbuf_init(&s.item);
	if (s.p < s.end && *s.p == '[') {
		/* "[0:2]={...}": lower bounds other than 1; JSON has none */
		while (s.p < s.end && *s.p != '=')
			s.p++;
		if (s.p < s.end)
			s.p++;
	}
	int rc = parse_array(&s, 0);
	skip_spaces(&s);
	if (rc == 0 && s.p != s.end)
		rc = -1;
	strbuf_free(&s.item);
	return rc;
}

/* ---- conversion ----------------------------------------------------------------------------------- */

static void append_uuid(strbuf *out, const uint8_t *u)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			strbuf_append_char(out, '-');
		strbuf_append_char(out, hex[u[i] >> 4]);
		strbuf_append_char(out, hex[u[i] & 15]);
	}
}

static my_out_form convert_textrep(const my_out_col *c, const record_value *v, strbuf *out, char *why,
				     size_t why_len)
{
	if (c->cls == CATALOG_TYPE_ARRAY) {
		if (my_out_array_to_json(v->str.ptr, v->str.len, c->elem, out) == 0)
			return MY_OUT_STRING;
		snprintf(why, why_len, "\"%.*s\" is not an array", v->str.len > 80 ? 80 : (int)v->str.len, v->str.ptr);
		return MY_OUT_INVALID;
	}
	if (bit_column(c))
		return convert_bits(c, v, out, why, why_len);
	strbuf_append_len(out, v->str.ptr, v->str.len);
	return MY_OUT_STRING;
}

/* character(n): MySQL's CHAR drops trailing spaces when read and its no-pad collation
 * compares without them, so they are dropped here, where PostgreSQL pads. */
static my_out_form convert_char(const record_value *v, strbuf *out)
{
	size_t n = v->str.len;
	while (n > 0 && v->str.ptr[n - 1] == ' ')
		n--;
	strbuf_append_len(out, v->str.ptr, n);
	return MY_OUT_STRING;
}

my_out_form my_out_convert(const my_out_col *c, const record_value *v, strbuf *out, char *why,
			       size_t why_len)
{
	strbuf_reset(out);
	switch (v->kind) {
	case RECORD_KIND_NULL: return MY_OUT_NULL;
	case RECORD_KIND_BOOL: strbuf_append(out, v->b ? "1" : "0"); return MY_OUT_PLAIN;
	case RECORD_KIND_INT64: strbuf_appendf(out, "%" PRId64, v->i64); return MY_OUT_PLAIN;
	case RECORD_KIND_UINT64: strbuf_appendf(out, "%" PRIu64, v->u64); return MY_OUT_PLAIN;
	case RECORD_KIND_FLOAT64: return convert_float(c, v->f64, out, why, why_len);
	case RECORD_KIND_DECIMAL: return convert_decimal(c, v, out, why, why_len);
	case RECORD_KIND_DATE: return convert_date(v->date, out, why, why_len);
	case RECORD_KIND_TIME: append_clock(out, v->i64); return MY_OUT_STRING;
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ: return convert_timestamp(v->i64, out, why, why_len);
	case RECORD_KIND_UUID: append_uuid(out, v->uuid); return MY_OUT_STRING;
	case RECORD_KIND_BYTES:
		if (bit_column(c) && c->bits >= 0 && c->bits <= MY_BIT_MAX)
			return bytes_as_number(v, out, why, why_len);
		strbuf_append_len(out, v->str.ptr, v->str.len);
		return MY_OUT_BINARY;
	case RECORD_KIND_TEXT:
		if (c->cls == CATALOG_TYPE_CHAR)
			return convert_char(v, out);
		strbuf_append_len(out, v->str.ptr, v->str.len);
		return MY_OUT_STRING;
	case RECORD_KIND_JSON: strbuf_append_len(out, v->str.ptr, v->str.len); return MY_OUT_STRING;
	case RECORD_KIND_TEXTREP: return convert_textrep(c, v, out, why, why_len);
	default:
		snprintf(why, why_len, "a %s value has no MySQL value", record_kind_name(v->kind));
		return MY_OUT_INVALID;
	}
}

my_out_form my_out_substitute(const my_out_col *c, const record_value *v, strbuf *out)
{
	strbuf_reset(out);
	bool high;
	switch (v->kind) {
	case RECORD_KIND_DATE:
		high = v->date > 0;
		strbuf_append(out, high ? "9999-12-31" : "0001-01-01");
		return MY_OUT_STRING;
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ:
		high = v->i64 > 0;
		strbuf_append(out, high ? "9999-12-31 23:59:59.999999" : "0001-01-01 00:00:00");
		return MY_OUT_STRING;
	case RECORD_KIND_FLOAT64:
		if (isnan(v->f64))
			return MY_OUT_NULL;
		strbuf_appendf(out, "%.17g", (v->f64 > 0 ? 1 : -1) * (c->cls == CATALOG_TYPE_FLOAT4 ? (double)FLT_MAX
												  : DBL_MAX));
		return MY_OUT_PLAIN;
	default: return MY_OUT_NULL;
	}
}

/* ---- writing ------------------------------------------------------------------------------------- */

static void append_hex(strbuf *sb, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!strbuf_reserve(sb, 2 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		sb->data[sb->len++] = hex[(unsigned char)p[i] >> 4];
		sb->data[sb->len++] = hex[(unsigned char)p[i] & 15];
	}
	sb->data[sb->len] = '\0';
}

/* Backslash escapes of MySQL string literals (and of LOAD DATA with ESCAPED BY '\\'):
 * the character after the backslash, 0 = leave the byte as it is. */
static char sql_escape(unsigned char ch)
{
	switch (ch) {
	case '\0': return '0';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\\': return '\\';
	case '\'': return '\'';
	case '"': return '"';
	case 0x1a: return 'Z';
	default: return 0;
	}
}

static void append_escaped(strbuf *sb, const char *p, size_t n, bool infile)
{
	if (!strbuf_reserve(sb, n + 16))
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		char e = infile ? (ch == '\t' ? 't' : ch == '\'' || ch == '"' || ch == 0x1a ? 0 : sql_escape(ch))
				: sql_escape(ch);
		if (sb->len + 3 > sb->cap && !strbuf_reserve(sb, n - i + 16))
			return;
		if (e) {
			sb->data[sb->len++] = '\\';
			sb->data[sb->len++] = e;
		} else {
			sb->data[sb->len++] = (char)ch;
		}
	}
	sb->data[sb->len] = '\0';
}

void my_out_append_sql(strbuf *sb, my_out_form f, const char *p, size_t n)
{
	switch (f) {
	case MY_OUT_PLAIN: strbuf_append_len(sb, p, n); return;
	case MY_OUT_STRING:
		strbuf_append_char(sb, '\'');
		append_escaped(sb, p, n, false);
		strbuf_append_char(sb, '\'');
		return;
	case MY_OUT_BINARY:
		if (n == 0) {
			strbuf_append(sb, "_binary''");
			return;
		}
		strbuf_append(sb, "X'");
		append_hex(sb, p, n);
		strbuf_append_char(sb, '\'');
		return;
	default: strbuf_append(sb, "NULL"); return;
	}
}

void my_out_append_infile(strbuf *sb, my_out_form f, const char *p, size_t n)
{
	if (f == MY_OUT_NULL || f == MY_OUT_INVALID)
		strbuf_append(sb, "\\N");
	else
		append_escaped(sb, p, n, true);
}
