/* PostgreSQL text <-> canonical values. Parsing is strict: anything that is not the
 * exact ISO output form is an error naming the value, never a silent guess. */
#include "workers/pg_value.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

const char *pg_value_session_options(void)
{
	return "-c DateStyle=ISO -c TimeZone=UTC -c bytea_output=hex -c extra_float_digits=3 "
	       "-c IntervalStyle=postgres";
}

record_kind pg_value_kind_for_type(uint32_t type_oid)
{
	switch (type_oid) {
	case PG_OID_BOOL: return RECORD_KIND_BOOL;
	case PG_OID_INT2:
	case PG_OID_INT4:
	case PG_OID_INT8: return RECORD_KIND_INT64;
	case PG_OID_OID: return RECORD_KIND_UINT64;
	case PG_OID_FLOAT4:
	case PG_OID_FLOAT8: return RECORD_KIND_FLOAT64;
	case PG_OID_NUMERIC: return RECORD_KIND_DECIMAL;
	case PG_OID_TEXT:
	case PG_OID_VARCHAR:
	case PG_OID_BPCHAR:
	case PG_OID_NAME:
	case PG_OID_CHAR: return RECORD_KIND_TEXT;
	case PG_OID_BYTEA: return RECORD_KIND_BYTES;
	case PG_OID_DATE: return RECORD_KIND_DATE;
	case PG_OID_TIME: return RECORD_KIND_TIME;
	case PG_OID_TIMESTAMP: return RECORD_KIND_TIMESTAMP;
	case PG_OID_TIMESTAMPTZ: return RECORD_KIND_TIMESTAMPTZ;
	case PG_OID_JSON:
	case PG_OID_JSONB: return RECORD_KIND_JSON;
	case PG_OID_UUID: return RECORD_KIND_UUID;
	default: return RECORD_KIND_TEXTREP;
	}
}

/* ---- calendar (Howard Hinnant's civil-from-days algorithms, proleptic Gregorian) ---- */

int64_t pg_value_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void pg_value_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	unsigned doe = (unsigned)(days - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* ---- parsing ---------------------------------------------------------------------- */

typedef struct scan {
	const char *p;
	const char *end;
} scan;

static bool digits(scan *s, int min, int max, int64_t *out)
{
	int64_t v = 0;
	int n = 0;
	while (s->p < s->end && isdigit((unsigned char)*s->p) && n < max) {
		v = v * 10 + (*s->p++ - '0');
		n++;
	}
	*out = v;
	return n >= min;
}

static bool lit(scan *s, char c)
{
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static bool suffix_bc(scan *s)
{
	if (s->end - s->p == 3 && memcmp(s->p, " BC", 3) == 0) {
		s->p += 3;
		return true;
	}
	return false;
}

/* "YYYY-MM-DD" (4 or more year digits); BC is handled by the caller. */
static bool parse_date_part(scan *s, int64_t *year, int64_t *month, int64_t *day)
{
	return digits(s, 4, 9, year) && lit(s, '-') && digits(s, 2, 2, month) && lit(s, '-') &&
	       digits(s, 2, 2, day) && *month >= 1 && *month <= 12 && *day >= 1 && *day <= 31;
}

/* "HH:MM:SS[.ffffff]" into microseconds; hours up to max_hours. */
static bool parse_clock(scan *s, int64_t max_hours, int64_t *us)
{
	int64_t h, mi, sec, frac = 0;
	if (!(digits(s, 2, 9, &h) && lit(s, ':') && digits(s, 2, 2, &mi) && lit(s, ':') && digits(s, 2, 2, &sec)))
		return false;
	if (lit(s, '.')) {
		const char *start = s->p;
		if (!digits(s, 1, 6, &frac))
			return false;
		for (ptrdiff_t n = s->p - start; n < 6; n++)
			frac *= 10;
	}
	if (h > max_hours || mi > 59 || sec > 60)
		return false;
	*us = ((h * 60 + mi) * 60 + sec) * US_PER_SEC + frac;
	return true;
}

/* "+HH[:MM[:SS]]" or "-..." into seconds east of UTC. */
static bool parse_offset(scan *s, int64_t *seconds)
{
	int sign = lit(s, '+') ? 1 : lit(s, '-') ? -1 : 0;
	int64_t h, m = 0, sec = 0;
	if (!sign || !digits(s, 2, 2, &h))
		return false;
	if (lit(s, ':') && (!digits(s, 2, 2, &m) || (lit(s, ':') && !digits(s, 2, 2, &sec))))
		return false;
	*seconds = sign * (h * 3600 + m * 60 + sec);
	return true;
}

static int64_t civil_days(int64_t year, int64_t month, int64_t day, bool bc)
{
	return pg_value_days_from_civil(bc ? 1 - year : year, (unsigned)month, (unsigned)day);
}

static bool parse_infinity(const char *t, size_t len, int64_t *us)
{
	if (len == 8 && memcmp(t, "infinity", 8) == 0) {
		*us = INT64_MAX;
		return true;
	}
	if (len == 9 && memcmp(t, "-infinity", 9) == 0) {
		*us = INT64_MIN;
		return true;
	}
	return false;
}

static bool parse_timestamp(const char *t, size_t len, bool with_zone, int64_t *us)
{
	if (parse_infinity(t, len, us))
		return true;
	scan s = {t, t + len};
	int64_t y, mo, d, clock, offset = 0;
	if (!parse_date_part(&s, &y, &mo, &d) || !lit(&s, ' ') || !parse_clock(&s, 24, &clock))
		return false;
	if (with_zone && !parse_offset(&s, &offset))
		return false;
	bool bc = suffix_bc(&s);
	if (s.p != s.end)
		return false;
	/* Canonical timestamps count from 1970 in 64 bits: about 292,000 years either way,
	 * a little less than PostgreSQL's own range (to 294276 AD). Refuse, never wrap. */
	int64_t day_us;
	if (__builtin_mul_overflow(civil_days(y, mo, d, bc), US_PER_DAY, &day_us) ||
	    __builtin_add_overflow(day_us, clock - offset * US_PER_SEC, us) || *us == INT64_MAX || *us == INT64_MIN)
		return false;
	return true;
}

static bool parse_date(const char *t, size_t len, int32_t *days)
{
	int64_t us;
	if (parse_infinity(t, len, &us)) {
		*days = us > 0 ? INT32_MAX : INT32_MIN; /* PostgreSQL's DATEVAL_NOEND / NOBEGIN */
		return true;
	}
	scan s = {t, t + len};
	int64_t y, mo, d;
	if (!parse_date_part(&s, &y, &mo, &d))
		return false;
	bool bc = suffix_bc(&s);
	if (s.p != s.end)
		return false;
	*days = (int32_t)civil_days(y, mo, d, bc);
	return true;
}

static bool parse_int(const char *t, size_t len, int64_t *out)
{
	char buf[32];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, t, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	*out = v;
	return errno == 0 && *end == '\0';
}

static bool parse_float(const char *t, size_t len, double *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, t, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	*out = strtod(buf, &end);
	/* ERANGE on subnormals is fine: strtod still returns the nearest value. */
	return *end == '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex pairs into out (len/2 bytes); skips '-' when allowed (uuid). */
static bool unhex(const char *t, size_t len, uint8_t *out, size_t want, bool dashes)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (dashes && t[i] == '-')
			continue;
		if (i + 1 >= len || n >= want)
			return false;
		int hi = hexval(t[i]), lo = hexval(t[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return n == want;
}

static int put_bytea(record_encoder *e, const char *t, size_t len)
{
	if (len < 2 || t[0] != '\\' || t[1] != 'x' || (len - 2) % 2)
		return -1;
	size_t n = (len - 2) / 2;
	uint8_t stack[256];
	uint8_t *buf = n <= sizeof stack ? stack : malloc(n);
	if (!buf)
		return -1;
	bool ok = unhex(t + 2, len - 2, buf, n, false);
	if (ok)
		record_put_bytes(e, buf, n);
	if (buf != stack)
		free(buf);
	return ok ? 0 : -1;
}

static int put_typed(record_encoder *e, uint32_t type_oid, const char *t, size_t len)
{
	int64_t i;
	double f;
	int32_t days;
	uint8_t uuid[16];
	switch (pg_value_kind_for_type(type_oid)) {
	case RECORD_KIND_BOOL:
		if (len != 1 || (t[0] != 't' && t[0] != 'f'))
			return -1;
		record_put_bool(e, t[0] == 't');
		return 0;
	case RECORD_KIND_INT64:
		if (!parse_int(t, len, &i))
			return -1;
		record_put_int64(e, i);
		return 0;
	case RECORD_KIND_UINT64:
		if (!parse_int(t, len, &i) || i < 0)
			return -1;
		record_put_uint64(e, (uint64_t)i);
		return 0;
	case RECORD_KIND_FLOAT64:
		if (!parse_float(t, len, &f))
			return -1;
		record_put_float64(e, f);
		return 0;
	case RECORD_KIND_BYTES: return put_bytea(e, t, len);
	case RECORD_KIND_DATE:
		if (!parse_date(t, len, &days))
			return -1;
		record_put_date(e, days);
		return 0;
	case RECORD_KIND_TIME: {
		scan s = {t, t + len};
		if (!parse_clock(&s, 24, &i) || s.p != s.end)
			return -1;
		record_put_time(e, i);
		return 0;
	}
	case RECORD_KIND_TIMESTAMP:
	case RECORD_KIND_TIMESTAMPTZ: {
		bool tz = type_oid == PG_OID_TIMESTAMPTZ;
		if (!parse_timestamp(t, len, tz, &i))
			return -1;
		tz ? record_put_timestamptz(e, i) : record_put_timestamp(e, i);
		return 0;
	}
	case RECORD_KIND_UUID:
		if (len != 36 || !unhex(t, len, uuid, 16, true))
			return -1;
		record_put_uuid(e, uuid);
		return 0;
	case RECORD_KIND_DECIMAL: record_put_decimal(e, t, len); return 0;
	case RECORD_KIND_TEXT: record_put_text(e, t, len); return 0;
	case RECORD_KIND_JSON: record_put_json(e, t, len); return 0;
	default: record_put_textrep(e, t, len); return 0;
	}
}

int pg_value_put_text(record_encoder *e, uint32_t type_oid, const char *text, size_t len, char *err,
		      size_t errlen)
{
	if (put_typed(e, type_oid, text, len) == 0)
		return 0;
	snprintf(err, errlen, "cannot read \"%.*s\" as a value of type oid %" PRIu32, len > 64 ? 64 : (int)len,
		 text, type_oid);
	return -1;
}

/* ---- output ----------------------------------------------------------------------- */

static void append_date(strbuf *sb, int64_t days, bool *bc)
{
	int64_t y;
	unsigned m, d;
	pg_value_civil_from_days(days, &y, &m, &d);
	*bc = y <= 0;
	strbuf_appendf(sb, "%04" PRId64 "-%02u-%02u", *bc ? 1 - y : y, m, d);
}

static void append_clock(strbuf *sb, int64_t us)
{
	if (us < 0) {
		strbuf_append_char(sb, '-');
		us = -us;
	}
	int64_t sec = us / US_PER_SEC, frac = us % US_PER_SEC;
	strbuf_appendf(sb, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, sec / 3600, sec / 60 % 60, sec % 60);
	if (frac) {
		/* Like PostgreSQL: fractional digits without trailing zeros. */
		int digits = 6;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		strbuf_appendf(sb, ".%0*" PRId64, digits, frac);
	}
}

static void append_timestamp(strbuf *sb, int64_t us, bool tz)
{
	if (us == INT64_MAX || us == INT64_MIN) {
		strbuf_append(sb, us > 0 ? "infinity" : "-infinity");
		return;
	}
	int64_t days = us / US_PER_DAY, rest = us % US_PER_DAY;
	if (rest < 0) {
		rest += US_PER_DAY;
		days--;
	}
	bool bc;
	append_date(sb, days, &bc);
	strbuf_append_char(sb, ' ');
	append_clock(sb, rest);
	if (tz)
		strbuf_append(sb, "+00");
	if (bc)
		strbuf_append(sb, " BC");
}

static void append_float(strbuf *sb, double f)
{
	if (isnan(f))
		strbuf_append(sb, "NaN");
	else if (isinf(f))
		strbuf_append(sb, f > 0 ? "Infinity" : "-Infinity");
	else
		strbuf_appendf(sb, "%.17g", f);
}

static void append_hex(strbuf *sb, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (!strbuf_reserve(sb, 2 * n))
		return;
	for (size_t i = 0; i < n; i++) {
		sb->data[sb->len++] = hex[p[i] >> 4];
		sb->data[sb->len++] = hex[p[i] & 15];
	}
	sb->data[sb->len] = '\0';
}

int pg_value_append_text(strbuf *sb, const record_value *v)
{
	bool bc;
	switch (v->kind) {
	case RECORD_KIND_BOOL: strbuf_append(sb, v->b ? "t" : "f"); return 0;
	case RECORD_KIND_INT64: strbuf_appendf(sb, "%" PRId64, v->i64); return 0;
	case RECORD_KIND_UINT64: strbuf_appendf(sb, "%" PRIu64, v->u64); return 0;
	case RECORD_KIND_FLOAT64: append_float(sb, v->f64); return 0;
	case RECORD_KIND_DATE:
		if (v->date == INT32_MAX || v->date == INT32_MIN) {
			strbuf_append(sb, v->date > 0 ? "infinity" : "-infinity");
			return 0;
		}
		append_date(sb, v->date, &bc);
		if (bc)
			strbuf_append(sb, " BC");
		return 0;
	case RECORD_KIND_TIME: append_clock(sb, v->i64); return 0;
	case RECORD_KIND_TIMESTAMP: append_timestamp(sb, v->i64, false); return 0;
	case RECORD_KIND_TIMESTAMPTZ: append_timestamp(sb, v->i64, true); return 0;
	case RECORD_KIND_UUID:
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				strbuf_append_char(sb, '-');
			append_hex(sb, v->uuid + i, 1);
		}
		return 0;
	case RECORD_KIND_BYTES:
		strbuf_append(sb, "\\x");
		append_hex(sb, (const uint8_t *)v->str.ptr, v->str.len);
		return 0;
	case RECORD_KIND_DECIMAL:
	case RECORD_KIND_TEXT:
	case RECORD_KIND_JSON:
	case RECORD_KIND_TEXTREP: strbuf_append_len(sb, v->str.ptr, v->str.len); return 0;
	default: return -1; /* NULL, UNCHANGED: no text */
	}
}
