/* Binlog row images -> change-record tuples (see the header). */
#include "workers/my_rowdec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "workers/pg_value.h"

#define US_PER_DAY INT64_C(86400000000)

/* ---- which binlog types a conversion reads -------------------------------------------------- */

static bool is_int_type(uint8_t t)
{
	return t == MY_T_TINY || t == MY_T_SHORT || t == MY_T_INT24 || t == MY_T_LONG || t == MY_T_LONGLONG;
}

static bool is_blob_type(uint8_t t)
{
	return t == MY_T_BLOB || t == MY_T_TINY_BLOB || t == MY_T_MEDIUM_BLOB || t == MY_T_LONG_BLOB;
}

static uint8_t real_type(const my_table_map *tm, int i)
{
	uint8_t real = tm->types[i];
	unsigned max;
	if (real == MY_T_STRING)
		my_binlog_string_meta(tm->meta[i], &real, &max);
	return real;
}

static bool type_fits(typemap_conv conv, uint8_t t)
{
	switch (conv) {
	case TYPEMAP_INT: case TYPEMAP_UINT: case TYPEMAP_BOOL: return is_int_type(t);
	case TYPEMAP_DECIMAL: return t == MY_T_NEWDECIMAL;
	case TYPEMAP_FLOAT4: return t == MY_T_FLOAT;
	case TYPEMAP_FLOAT8: return t == MY_T_DOUBLE;
	case TYPEMAP_TEXT: case TYPEMAP_BYTES:
		return t == MY_T_STRING || t == MY_T_VARCHAR || t == MY_T_VAR_STRING || is_blob_type(t);
	case TYPEMAP_JSON: return is_blob_type(t);
	case TYPEMAP_BIT: return t == MY_T_BIT;
	case TYPEMAP_DATE: return t == MY_T_DATE || t == MY_T_NEWDATE;
	case TYPEMAP_TIME: return t == MY_T_TIME2 || t == MY_T_TIME;
	case TYPEMAP_DATETIME: return t == MY_T_DATETIME2 || t == MY_T_DATETIME;
	case TYPEMAP_TIMESTAMP: return t == MY_T_TIMESTAMP2 || t == MY_T_TIMESTAMP;
	case TYPEMAP_YEAR: return t == MY_T_YEAR;
	case TYPEMAP_ENUM: return t == MY_T_ENUM;
	case TYPEMAP_SET: return t == MY_T_SET;
	case TYPEMAP_UUID: case TYPEMAP_INET: return t == MY_T_STRING;
	}
	return false;
}

int my_rowdec_check(const my_table_map *tm, const my_pg_table *pt, char *why, size_t why_len)
{
	const catalog_table *src = pt->source;
	if (tm->ncols != src->n_columns) {
		snprintf(why, why_len, "table %s.%s has %d columns in the change stream, %d when the task started: its "
			 "schema changed on the source (not replicated yet): reload the table", src->schema, src->name,
			 tm->ncols, src->n_columns);
		return -1;
	}
	for (int i = 0; i < tm->ncols; i++) {
		const my_pg_column *mc = &pt->cols[i];
		uint8_t t = real_type(tm, i);
		bool fits = type_fits(mc->type.conv, t);
		if (fits && t == MY_T_NEWDECIMAL)
			fits = (tm->meta[i] >> 8) == src->columns[i].type.precision &&
			       (tm->meta[i] & 0xff) == src->columns[i].type.scale;
		if (!fits) {
			snprintf(why, why_len, "table %s.%s column %s (%s) comes as binlog type %u: its type changed on the "
				 "source since the task started (not replicated yet): reload the table", src->schema,
				 src->name, src->columns[i].name, src->columns[i].type_name, t);
			return -1;
		}
	}
	return 0;
}

/* ---- text ------------------------------------------------------------------------------------- */

static const uint16_t cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void my_rowdec_latin1(strbuf *out, const uint8_t *p, size_t len)
{
	if (!strbuf_reserve(out, 3 * len))
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned cp = p[i] >= 0x80 && p[i] < 0xA0 ? cp1252_high[p[i] - 0x80] : p[i];
		char *o = out->data + out->len;
		if (cp < 0x80) {
			o[0] = (char)cp;
			out->len += 1;
		} else if (cp < 0x800) {
			o[0] = (char)(0xC0 | cp >> 6);
			o[1] = (char)(0x80 | (cp & 0x3F));
			out->len += 2;
		} else {
			o[0] = (char)(0xE0 | cp >> 12);
			o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			o[2] = (char)(0x80 | (cp & 0x3F));
			out->len += 3;
		}
	}
	out->data[out->len] = '\0';
}

/* ---- one value ------------------------------------------------------------------------------------ */

typedef struct conv_ctx {
	record_encoder *e;
	const my_pg_column *mc;
	const catalog_column *sc;
	const my_table_map *tm;
	int col;
	my_invalid *inv;
	strbuf *scratch;
	char *why;
	size_t why_len;
} conv_ctx;

/* An invalid value by the policy; raw/len describe it for the log. */
static int invalid(conv_ctx *x, const char *shown, size_t len)
{
	switch (my_value_invalid(x->inv, x->sc->name, x->mc, shown, len)) {
	case INVALID_VALUES_NULL: record_put_null(x->e); return 0;
	case INVALID_VALUES_SUBSTITUTE:
		switch (x->mc->type.conv) {
		case TYPEMAP_DATE: record_put_date(x->e, INT32_MIN); return 0;
		case TYPEMAP_DATETIME: record_put_timestamp(x->e, INT64_MIN); return 0;
		case TYPEMAP_TIMESTAMP: record_put_timestamptz(x->e, INT64_MIN); return 0;
		case TYPEMAP_BOOL: record_put_bool(x->e, true); return 0;
		case TYPEMAP_TEXT: case TYPEMAP_JSON: {
			strbuf_reset(x->scratch);
			for (size_t i = 0; i < len; i++)
				if (shown[i] != '\0')
					strbuf_append_char(x->scratch, shown[i]);
			x->mc->type.conv == TYPEMAP_JSON ? record_put_json(x->e, x->scratch->data, x->scratch->len)
							 : record_put_text(x->e, x->scratch->data, x->scratch->len);
			return 0;
		}
		default: record_put_null(x->e); return 0;
		}
	case INVALID_VALUES_ERROR: break;
	}
	snprintf(x->why, x->why_len, "table %s.%s %s: PostgreSQL cannot hold it; set invalid_values = null or "
		 "substitute to go on (doc/type-mapping.md), or fix the value on the source", x->tm->schema,
		 x->tm->table, x->inv->first);
	return -1;
}

static int put_text(conv_ctx *x, const my_cell *c)
{
	const char *s = (const char *)c->p;
	size_t len = c->len;
	if (x->mc->charset == MY_CHARSET_LATIN1) {
		strbuf_reset(x->scratch);
		my_rowdec_latin1(x->scratch, c->p, c->len);
		s = strbuf_str(x->scratch);
		len = x->scratch->len;
	}
	if (!x->mc->mysql && memchr(s, '\0', len) != NULL) /* MySQL's text holds NUL, PostgreSQL's not */
		return invalid(x, s, len);
	if (x->mc->type.conv == TYPEMAP_JSON)
		record_put_json(x->e, s, len);
	else
		record_put_text(x->e, s, len);
	return 0;
}

/* BINARY(n), UUID, INET: the binlog drops trailing zero bytes; put them back. */
static const uint8_t *padded(conv_ctx *x, const my_cell *c, size_t n)
{
	if (c->len >= n)
		return c->p;
	strbuf_reset(x->scratch);
	strbuf_append_len(x->scratch, (const char *)c->p, c->len);
	while (x->scratch->len < n)
		strbuf_append_char(x->scratch, '\0');
	return (const uint8_t *)x->scratch->data;
}

static int put_bits(conv_ctx *x, const my_cell *c)
{
	char digits[65];
	int bits = x->sc->type.length > 0 && x->sc->type.length <= 64 ? x->sc->type.length : 64;
	uint64_t v = 0;
	for (size_t i = 0; i < c->len && i < 8; i++)
		v = v << 8 | c->p[i];
	for (int i = 0; i < bits; i++)
		digits[i] = (v >> (bits - 1 - i)) & 1 ? '1' : '0';
	record_put_textrep(x->e, digits, (size_t)bits);
	return 0;
}

/* A SET for a MySQL target: its labels in declared order, comma separated, as MySQL
 * prints it. */
static int put_set_list(conv_ctx *x, uint64_t v, const catalog_type *t)
{
	strbuf_reset(x->scratch);
	for (int i = 0; i < t->n_labels && i < 64; i++) {
		if (!((v >> i) & 1))
			continue;
		if (x->scratch->len > 0)
			strbuf_append_char(x->scratch, ',');
		strbuf_append(x->scratch, t->labels[i]);
	}
	record_put_text(x->e, x->scratch->data ? x->scratch->data : "", x->scratch->len);
	return 0;
}

static int put_enum_set(conv_ctx *x, const my_cell *c)
{
	uint64_t v = my_binlog_uint(c);
	const catalog_type *t = &x->sc->type;
	char num[32];
	if (x->mc->type.conv == TYPEMAP_ENUM) {
		if (v == 0) {
			snprintf(num, sizeof num, "(index 0)");
			return invalid(x, num, strlen(num));
		}
		if (v > (uint64_t)t->n_labels) {
			snprintf(x->why, x->why_len, "table %s.%s column %s: ENUM index %llu beyond its %d labels",
				 x->tm->schema, x->tm->table, x->sc->name, (unsigned long long)v, t->n_labels);
			return -1;
		}
		record_put_text(x->e, t->labels[v - 1], strlen(t->labels[v - 1]));
		return 0;
	}
	if (x->mc->mysql)
		return put_set_list(x, v, t);
	strbuf_reset(x->scratch);
	strbuf_append_char(x->scratch, '{');
	for (int i = 0; i < t->n_labels && i < 64; i++) {
		if (!((v >> i) & 1))
			continue;
		if (x->scratch->len > 1)
			strbuf_append_char(x->scratch, ',');
		sql_append_pg_array_element(x->scratch, t->labels[i]);
	}
	strbuf_append_char(x->scratch, '}');
	record_put_textrep(x->e, x->scratch->data, x->scratch->len);
	return 0;
}

static int put_inet(conv_ctx *x, const my_cell *c)
{
	char text[INET6_ADDRSTRLEN];
	bool v4 = x->sc->type_name != NULL && strncmp(x->sc->type_name, "inet4", 5) == 0;
	const uint8_t *p = padded(x, c, v4 ? 4 : 16);
	if (inet_ntop(v4 ? AF_INET : AF_INET6, p, text, sizeof text) == NULL) {
		snprintf(x->why, x->why_len, "table %s.%s column %s: an address that does not print", x->tm->schema,
			 x->tm->table, x->sc->name);
		return -1;
	}
	record_put_textrep(x->e, text, strlen(text));
	return 0;
}

/* Old-format temporal types (before MySQL 5.6.4 / MariaDB's mysql56_temporal_format). */
static void old_datetime(const my_cell *c, int *y, int *mo, int *d, int64_t *us)
{
	uint64_t v = my_binlog_uint(c); /* YYYYMMDDhhmmss */
	uint64_t date = v / 1000000, time = v % 1000000;
	*y = (int)(date / 10000);
	*mo = (int)(date / 100 % 100);
	*d = (int)(date % 100);
	*us = (int64_t)((time / 10000) * 3600 + (time / 100 % 100) * 60 + time % 100) * 1000000;
}

/* A MySQL target holds zero and partial dates: their text, as MySQL prints it. */
static int put_zero_date(conv_ctx *x, int y, int mo, int d, int64_t us, bool with_time)
{
	char text[64];
	int n = snprintf(text, sizeof text, "%04d-%02d-%02d", y, mo, d);
	if (with_time) {
		int64_t s = us / 1000000;
		n += snprintf(text + n, sizeof text - (size_t)n, " %02d:%02d:%02d.%06d", (int)(s / 3600), (int)(s / 60 % 60),
			      (int)(s % 60), (int)(us % 1000000));
	}
	record_put_textrep(x->e, text, (size_t)n);
	return 0;
}

static int put_datetime(conv_ctx *x, const my_cell *c, uint8_t t)
{
	int y, mo, d;
	int64_t us;
	if (t == MY_T_DATETIME)
		old_datetime(c, &y, &mo, &d, &us);
	else
		my_binlog_datetime2(c, x->tm->meta[x->col], &y, &mo, &d, &us);
	if ((mo == 0 || d == 0) && x->mc->mysql)
		return put_zero_date(x, y, mo, d, us, true);
	if (mo == 0 || d == 0) {
		char shown[40];
		snprintf(shown, sizeof shown, "%04d-%02d-%02d", y, mo, d);
		return invalid(x, shown, strlen(shown));
	}
	record_put_timestamp(x->e, pg_value_days_from_civil(y, (unsigned)mo, (unsigned)d) * US_PER_DAY + us);
	return 0;
}

static int put_date(conv_ctx *x, const my_cell *c)
{
	int y, mo, d;
	my_binlog_date(c, &y, &mo, &d);
	if ((mo == 0 || d == 0) && x->mc->mysql)
		return put_zero_date(x, y, mo, d, 0, false);
	if (mo == 0 || d == 0) {
		char shown[40];
		snprintf(shown, sizeof shown, "%04d-%02d-%02d", y, mo, d);
		return invalid(x, shown, strlen(shown));
	}
	record_put_date(x->e, (int32_t)pg_value_days_from_civil(y, (unsigned)mo, (unsigned)d));
	return 0;
}

static int put_time(conv_ctx *x, const my_cell *c, uint8_t t)
{
	if (t == MY_T_TIME2) {
		record_put_time(x->e, my_binlog_time2(c, x->tm->meta[x->col]));
		return 0;
	}
	int64_t v = my_binlog_signed(c); /* [-]HHMMSS */
	int64_t a = v < 0 ? -v : v, s = (a / 10000) * 3600 + (a / 100 % 100) * 60 + a % 100;
	record_put_time(x->e, (v < 0 ? -s : s) * 1000000);
	return 0;
}

static int put_timestamp(conv_ctx *x, const my_cell *c, uint8_t t)
{
	bool zero;
	int64_t us = t == MY_T_TIMESTAMP ? (int64_t)my_binlog_uint(c) * 1000000 : my_binlog_timestamp2(c, x->tm->meta[x->col], &zero);
	if (t == MY_T_TIMESTAMP)
		zero = us == 0;
	if (zero && x->mc->mysql)
		return put_zero_date(x, 0, 0, 0, 0, true);
	if (zero)
		return invalid(x, "0000-00-00 00:00:00", 19);
	record_put_timestamptz(x->e, us);
	return 0;
}

static int put_number(conv_ctx *x, const my_cell *c, uint8_t t)
{
	switch (x->mc->type.conv) {
	case TYPEMAP_INT: record_put_int64(x->e, my_binlog_signed(c)); return 0;
	case TYPEMAP_UINT: record_put_uint64(x->e, my_binlog_uint(c)); return 0;
	case TYPEMAP_BOOL: {
		int64_t v = my_binlog_signed(c);
		if (v == 0 || v == 1) {
			record_put_bool(x->e, v == 1);
			return 0;
		}
		char shown[24];
		snprintf(shown, sizeof shown, "%lld", (long long)v);
		return invalid(x, shown, strlen(shown));
	}
	case TYPEMAP_YEAR: {
		uint64_t v = my_binlog_uint(c);
		record_put_int64(x->e, v == 0 ? 0 : 1900 + (int64_t)v);
		return 0;
	}
	case TYPEMAP_FLOAT4: {
		float f;
		uint32_t bits = (uint32_t)my_binlog_uint(c);
		memcpy(&f, &bits, sizeof f);
		record_put_float64(x->e, f);
		return 0;
	}
	case TYPEMAP_FLOAT8: {
		double f;
		uint64_t bits = my_binlog_uint(c);
		memcpy(&f, &bits, sizeof f);
		record_put_float64(x->e, f);
		return 0;
	}
	default: {
		char text[80];
		if (my_binlog_decimal(c, x->tm->meta[x->col] >> 8, x->tm->meta[x->col] & 0xff, text, sizeof text) < 0) {
			snprintf(x->why, x->why_len, "table %s.%s column %s: a DECIMAL of %zu bytes does not decode",
				 x->tm->schema, x->tm->table, x->sc->name, c->len);
			return -1;
		}
		(void)t;
		record_put_decimal(x->e, text, strlen(text));
		return 0;
	}
	}
}

static int put_value(conv_ctx *x, const my_cell *c)
{
	uint8_t t = real_type(x->tm, x->col);
	switch (x->mc->type.conv) {
	case TYPEMAP_TEXT: case TYPEMAP_JSON: return put_text(x, c);
	case TYPEMAP_BYTES:
		record_put_bytes(x->e, padded(x, c, (size_t)x->mc->bytes), c->len > (size_t)x->mc->bytes ? c->len : (size_t)x->mc->bytes);
		return 0;
	case TYPEMAP_UUID: record_put_uuid(x->e, padded(x, c, 16)); return 0;
	case TYPEMAP_INET: return put_inet(x, c);
	case TYPEMAP_BIT: return put_bits(x, c);
	case TYPEMAP_ENUM: case TYPEMAP_SET: return put_enum_set(x, c);
	case TYPEMAP_DATE: return put_date(x, c);
	case TYPEMAP_TIME: return put_time(x, c, t);
	case TYPEMAP_DATETIME: return put_datetime(x, c, t);
	case TYPEMAP_TIMESTAMP: return put_timestamp(x, c, t);
	default: return put_number(x, c, t);
	}
}

int my_rowdec_tuple(record_encoder *e, const my_table_map *tm, const my_pg_table *pt, const my_cell *cells,
		    bool old_image, my_invalid *inv, strbuf *scratch, char *why, size_t why_len)
{
	record_encode_tuple(e, (uint32_t)pt->n_copied);
	for (int i = 0; i < pt->n_cols; i++) {
		const my_pg_column *mc = &pt->cols[i];
		if (mc->target < 0)
			continue;
		const my_cell *c = &cells[i];
		if (!c->present) {
			if (old_image)
				record_put_null(e);
			else
				record_put_unchanged(e);
			continue;
		}
		if (c->null) {
			record_put_null(e);
			continue;
		}
		conv_ctx x = {.e = e, .mc = mc, .sc = &pt->source->columns[i], .tm = tm, .col = i, .inv = inv,
			      .scratch = scratch, .why = why, .why_len = why_len};
		if (put_value(&x, c) < 0)
			return -1;
	}
	return 0;
}
