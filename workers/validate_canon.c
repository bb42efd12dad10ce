/* Canonical value text for comparisons across engines (see the header). JSON has its
 * own file (validate_canon_json.c). */
#include "workers/validate_canon.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vd_canon_kind vd_canon_kind_of(catalog_type_class cls)
{
	switch (cls) {
	case CATALOG_TYPE_BOOL: return VD_CANON_BOOL;
	case CATALOG_TYPE_INT1: case CATALOG_TYPE_INT2: case CATALOG_TYPE_INT3: case CATALOG_TYPE_INT4:
	case CATALOG_TYPE_INT8: case CATALOG_TYPE_UINT1: case CATALOG_TYPE_UINT2: case CATALOG_TYPE_UINT3:
	case CATALOG_TYPE_UINT4: case CATALOG_TYPE_UINT8: case CATALOG_TYPE_NUMERIC: case CATALOG_TYPE_YEAR:
		return VD_CANON_NUMBER;
	case CATALOG_TYPE_FLOAT4: return VD_CANON_FLOAT4;
	case CATALOG_TYPE_FLOAT8: return VD_CANON_FLOAT8;
	case CATALOG_TYPE_CHAR: return VD_CANON_CHAR;
	case CATALOG_TYPE_BYTES: case CATALOG_TYPE_VARBINARY: case CATALOG_TYPE_BINARY: return VD_CANON_BYTES;
	case CATALOG_TYPE_BIT: case CATALOG_TYPE_VARBIT: return VD_CANON_BIT;
	case CATALOG_TYPE_DATE: return VD_CANON_DATE;
	case CATALOG_TYPE_TIMESTAMP: case CATALOG_TYPE_TIMESTAMPTZ: return VD_CANON_TIMESTAMP;
	case CATALOG_TYPE_TIME: return VD_CANON_TIME;
	case CATALOG_TYPE_JSON: case CATALOG_TYPE_JSONB: return VD_CANON_JSON;
	case CATALOG_TYPE_SET: return VD_CANON_SET;
	case CATALOG_TYPE_ARRAY: return VD_CANON_ARRAY;
	default: return VD_CANON_RAW;
	}
}

/* ---- numbers ------------------------------------------------------------------------ */

/* Plain decimal text (sign, digits, point, digits) without redundant zeros. false when
 * the text is not such a number. */
static bool canon_number(const char *s, size_t len, strbuf *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	size_t int_start = i;
	while (i < len && isdigit((unsigned char)s[i]))
		i++;
	size_t int_end = i, frac_start = i, frac_end = i;
	if (i < len && s[i] == '.') {
		frac_start = ++i;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
		frac_end = i;
	}
	if (i != len || (int_end == int_start && frac_end == frac_start))
		return false;
	while (int_start < int_end && s[int_start] == '0')
		int_start++;
	while (frac_end > frac_start && s[frac_end - 1] == '0')
		frac_end--;
	if (int_start == int_end && frac_start == frac_end) {
		strbuf_append_char(out, '0');
		return true;
	}
	if (neg)
		strbuf_append_char(out, '-');
	if (int_start == int_end)
		strbuf_append_char(out, '0');
	else
		strbuf_append_len(out, s + int_start, int_end - int_start);
	if (frac_end > frac_start) {
		strbuf_append_char(out, '.');
		strbuf_append_len(out, s + frac_start, frac_end - frac_start);
	}
	return true;
}

static bool canon_float(const char *s, size_t len, bool single, strbuf *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	double d = strtod(buf, &end);
	if (*end != '\0')
		return false;
	if (isnan(d)) {
		strbuf_append(out, "NaN");
		return true;
	}
	if (d == 0)
		d = 0; /* -0 prints as 0 */
	if (single)
		strbuf_appendf(out, "%.9g", (double)(float)d);
	else
		strbuf_appendf(out, "%.17g", d);
	return true;
}

/* ---- dates and times ---------------------------------------------------------------- */

/* A MySQL zero or partial date (0000-00-00, 2024-00-10): month or day 00. */
static bool zero_date(const char *s, size_t len)
{
	return len >= 10 && s[4] == '-' && s[7] == '-' &&
	       ((s[5] == '0' && s[6] == '0') || (s[8] == '0' && s[9] == '0'));
}

static bool canon_datetime(const char *s, size_t len, strbuf *out)
{
	/* drop the offset the UTC session prints after a timestamptz */
	if (len > 19 && (s[len - 3] == '+' || s[len - 3] == '-') && s[len - 2] == '0' && s[len - 1] == '0')
		len -= 3;
	else if (len > 19 && len >= 6 && s[len - 6] == '+' && memcmp(s + len - 5, "00:00", 5) == 0)
		len -= 6;
	const char *dot = memchr(s, '.', len);
	if (dot) {
		size_t end = len;
		while (end > (size_t)(dot - s) + 1 && s[end - 1] == '0')
			end--;
		if (end == (size_t)(dot - s) + 1)
			end--;
		len = end;
	}
	strbuf_append_len(out, s, len);
	return true;
}

/* [-]H:MM:SS[.f], optionally after "N day(s) " (PostgreSQL's interval), to microseconds. */
static bool canon_time(const char *s, size_t len, strbuf *out)
{
	char buf[96];
	if (len == 0 || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *p = buf;
	long long days = 0;
	char *end;
	const char *day = strstr(p, " day");
	if (day) {
		days = strtoll(p, &end, 10);
		if (end != day)
			return false;
		p = strchr(day + 1, ' ');
		if (p == NULL)
			return false;
		p++;
	}
	bool neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	long long h = strtoll(p, &end, 10);
	if (*end != ':')
		return false;
	long long m = strtoll(end + 1, &end, 10);
	if (*end != ':')
		return false;
	long long sec = strtoll(end + 1, &end, 10), us = 0;
	if (*end == '.') {
		int digits = 0;
		for (end++; isdigit((unsigned char)*end); end++)
			if (digits++ < 6)
				us = us * 10 + (*end - '0');
		for (; digits < 6; digits++)
			us *= 10;
	}
	if (*end != '\0')
		return false;
	long long total = ((h * 60 + m) * 60 + sec) * 1000000 + us;
	total = days * 86400LL * 1000000 + (neg ? -total : total);
	strbuf_appendf(out, "%lld", total);
	return true;
}

/* ---- sets, bytes, bits -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a MySQL SET ("a,b") or a PostgreSQL text[] ("{a,\"b c\"}") into labels. */
static int set_labels(const char *s, size_t len, char **storage, char ***labels, int *n)
{
	char *copy = malloc(len + 1), **items = calloc(len + 2, sizeof *items);
	if (!copy || !items) {
		free(copy);
		free(items);
		return -1;
	}
	bool pg = len >= 2 && s[0] == '{' && s[len - 1] == '}';
	size_t i = pg ? 1 : 0, end = pg ? len - 1 : len, o = 0;
	int k = 0;
	while (i < end) {
		items[k++] = copy + o;
		if (pg && s[i] == '"') {
			for (i++; i < end && s[i] != '"'; i++)
				copy[o++] = s[i] == '\\' && i + 1 < end ? s[++i] : s[i];
			i++;
		}
		for (; i < end && s[i] != ','; i++)
			copy[o++] = s[i];
		copy[o++] = '\0';
		i++;
	}
	*storage = copy;
	*labels = items;
	*n = k;
	return 0;
}

static int canon_set(const char *s, size_t len, strbuf *out)
{
	char *storage, **labels;
	int n;
	if (set_labels(s, len, &storage, &labels, &n) < 0)
		return -1;
	qsort(labels, (size_t)n, sizeof *labels, cmp_str);
	for (int i = 0; i < n; i++) {
		if (i)
			strbuf_append_char(out, ',');
		strbuf_append(out, labels[i]);
	}
	free(storage);
	free(labels);
	return 0;
}

static void canon_bytes(const char *s, size_t len, strbuf *out)
{
	if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
		s += 2;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++)
		strbuf_append_char(out, (char)tolower((unsigned char)s[i]));
}

static void canon_bits(const char *s, size_t len, strbuf *out)
{
	size_t i = 0;
	while (i < len && s[i] == '0')
		i++;
	if (i == len)
		strbuf_append_char(out, '0');
	else
		strbuf_append_len(out, s + i, len - i);
}

/* ---- dispatch ----------------------------------------------------------------------- */

/* What a MySQL source's invalid value became on the target: NULL, or sub. */
static bool invalid_value(const vd_canon_side *side, const char *sub, strbuf *out, bool *is_null)
{
	if (!side->mysql_source || side->invalid == INVALID_VALUES_ERROR)
		return false;
	if (side->invalid == INVALID_VALUES_NULL || sub == NULL)
		*is_null = true;
	else
		strbuf_append(out, sub);
	return true;
}

static bool canon_bool(const vd_canon_side *side, const char *s, size_t len, strbuf *out, bool *is_null)
{
	if ((len == 1 && (s[0] == 't' || s[0] == '1')) || (len == 4 && memcmp(s, "true", 4) == 0)) {
		strbuf_append_char(out, '1');
		return true;
	}
	if ((len == 1 && (s[0] == 'f' || s[0] == '0')) || (len == 5 && memcmp(s, "false", 5) == 0)) {
		strbuf_append_char(out, '0');
		return true;
	}
	return invalid_value(side, "1", out, is_null); /* any other number reads as true */
}

int vd_canon_value(vd_canon_kind kind, const vd_canon_side *side, const char *s, size_t len, strbuf *out,
		   bool *is_null)
{
	*is_null = false;
	bool done = false;
	size_t start = out->len; /* out may hold other values before this one */
	switch (kind) {
	case VD_CANON_NUMBER: done = canon_number(s, len, out); break;
	case VD_CANON_FLOAT4: done = canon_float(s, len, true, out); break;
	case VD_CANON_FLOAT8: done = canon_float(s, len, false, out); break;
	case VD_CANON_BOOL: done = canon_bool(side, s, len, out, is_null); break;
	case VD_CANON_CHAR:
		while (len > 0 && s[len - 1] == ' ')
			len--;
		break;
	case VD_CANON_BYTES: canon_bytes(s, len, out); done = true; break;
	case VD_CANON_BIT: canon_bits(s, len, out); done = true; break;
	case VD_CANON_DATE:
	case VD_CANON_TIMESTAMP:
		if (zero_date(s, len))
			done = invalid_value(side, "-infinity", out, is_null);
		else
			done = canon_datetime(s, len, out);
		break;
	case VD_CANON_TIME: done = canon_time(s, len, out); break;
	case VD_CANON_JSON:
	case VD_CANON_ARRAY: {
		int rc = vd_canon_json(s, len, out);
		if (rc < 0)
			return -1;
		done = rc == 0;
		break;
	}
	case VD_CANON_SET:
		if (canon_set(s, len, out) < 0)
			return -1;
		done = true;
		break;
	case VD_CANON_RAW: break;
	}
	if (!done && !*is_null) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		strbuf_append_len(out, s, len);
	}
	return strbuf_failed(out) ? -1 : 0;
}

/* ---- row hash ----------------------------------------------------------------------- */

/* FNV-1a over the cells with a marker per cell (so NULL, '' and a split between two
 * cells all hash apart), then a 64-bit finaliser so sums of nearby hashes do not
 * cancel out. */
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

void vd_row_hash_init(vd_row_hasher *rh)
{
	rh->h = FNV_OFFSET;
}

static void feed(vd_row_hasher *rh, unsigned char b)
{
	rh->h = (rh->h ^ b) * FNV_PRIME;
}

void vd_row_hash_cell(vd_row_hasher *rh, const char *value, size_t len)
{
	if (value == NULL) {
		feed(rh, 0);
		return;
	}
	feed(rh, 1);
	for (size_t i = 0; i < len; i++)
		feed(rh, (unsigned char)value[i]);
	feed(rh, 2);
}

uint64_t vd_row_hash_finish(const vd_row_hasher *rh)
{
	uint64_t z = rh->h;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
