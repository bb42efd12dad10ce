/* Binlog event bodies and row images (see the header). Layouts follow the servers'
 * replication protocol documentation; every read is bounds-checked. */
#include "workers/my_binlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A length-encoded integer at *p (advanced); false when it runs past end. */
static bool packed_int(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	if (*p >= end)
		return false;
	uint8_t b = **p;
	int n = b < 251 ? 0 : b == 252 ? 2 : b == 253 ? 3 : b == 254 ? 8 : -1;
	if (n < 0 || end - *p < n + 1)
		return false;
	*v = n == 0 ? b : le(*p + 1, n);
	*p += n + 1;
	return true;
}

int my_binlog_event(const uint8_t *raw, size_t len, bool checksum, my_event *ev, char *err, size_t errlen)
{
	size_t tail = checksum ? MY_BINLOG_CHECKSUM_LEN : 0;
	if (len < MY_BINLOG_HEADER_LEN + tail)
		return fail(err, errlen, "binlog event of %zu bytes: shorter than its header", len);
	ev->timestamp = (uint32_t)le(raw, 4);
	ev->type = raw[4];
	ev->server_id = (uint32_t)le(raw + 5, 4);
	ev->length = (uint32_t)le(raw + 9, 4);
	ev->next_pos = (uint32_t)le(raw + 13, 4);
	ev->flags = (uint16_t)le(raw + 17, 2);
	if (ev->length != len)
		return fail(err, errlen, "binlog event type %u: header says %u bytes, %zu arrived", ev->type,
			    ev->length, len);
	ev->body = raw + MY_BINLOG_HEADER_LEN;
	ev->body_len = len - MY_BINLOG_HEADER_LEN - tail;
	return 0;
}

static int copy_name(const uint8_t *p, size_t n, char *out, size_t size, char *err, size_t errlen, const char *what)
{
	if (n == 0 || n >= size)
		return fail(err, errlen, "%s: a file name of %zu bytes", what, n);
	for (size_t i = 0; i < n; i++)
		if (p[i] < 32 || p[i] > 126)
			return fail(err, errlen, "%s: the file name has a byte 0x%02x", what, p[i]);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int my_binlog_rotate(const my_event *ev, uint64_t *position, char *file, size_t file_size, char *err, size_t errlen)
{
	if (ev->body_len < 9)
		return fail(err, errlen, "ROTATE event of %zu bytes", ev->body_len);
	*position = le(ev->body, 8);
	return copy_name(ev->body + 8, ev->body_len - 8, file, file_size, err, errlen, "ROTATE");
}

int my_binlog_heartbeat(const my_event *ev, char *file, size_t file_size, char *err, size_t errlen)
{
	size_t n = ev->body_len;
	/* whether a heartbeat carries a checksum differs between servers: drop binary tail bytes */
	for (int i = 0; i < MY_BINLOG_CHECKSUM_LEN && n > 0 && (ev->body[n - 1] < 32 || ev->body[n - 1] > 126); i++)
		n--;
	return copy_name(ev->body, n, file, file_size, err, errlen, "HEARTBEAT");
}

int my_binlog_gtid(const my_event *ev, my_gtid *out, char *err, size_t errlen)
{
	if (ev->body_len < 13)
		return fail(err, errlen, "GTID event of %zu bytes", ev->body_len);
	out->seq = le(ev->body, 8);
	out->domain = (uint32_t)le(ev->body + 8, 4);
	out->flags = ev->body[12];
	out->server_id = ev->server_id;
	return 0;
}

int my_binlog_xid(const my_event *ev, uint64_t *xid, char *err, size_t errlen)
{
	if (ev->body_len < 8)
		return fail(err, errlen, "XID event of %zu bytes", ev->body_len);
	*xid = le(ev->body, 8);
	return 0;
}

int my_binlog_query(const my_event *ev, my_query *out, char *err, size_t errlen)
{
	const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
	if (ev->body_len < 13)
		return fail(err, errlen, "QUERY event of %zu bytes", ev->body_len);
	size_t db_len = p[8], status_len = (size_t)le(p + 11, 2);
	p += 13 + status_len;
	if (p + db_len + 1 > end)
		return fail(err, errlen, "QUERY event: its parts run past its end");
	out->db = (const char *)p;
	out->db_len = db_len;
	p += db_len + 1;
	out->sql = (const char *)p;
	out->sql_len = (size_t)(end - p);
	return 0;
}

/* ---- TABLE_MAP ------------------------------------------------------------------------------------ */

/* Bytes of metadata each column type has in a TABLE_MAP. */
static int meta_bytes(uint8_t type)
{
	switch (type) {
	case MY_T_FLOAT: case MY_T_DOUBLE: case MY_T_BLOB: case MY_T_TINY_BLOB: case MY_T_MEDIUM_BLOB:
	case MY_T_LONG_BLOB: case MY_T_GEOMETRY: case MY_T_JSON: case MY_T_TIME2: case MY_T_DATETIME2:
	case MY_T_TIMESTAMP2:
		return 1;
	case MY_T_VARCHAR: case MY_T_VAR_STRING: case MY_T_BIT: case MY_T_NEWDECIMAL: case MY_T_STRING:
	case MY_T_ENUM: case MY_T_SET: case MY_T_DECIMAL:
		return 2;
	default:
		return 0;
	}
}

static int table_name(const uint8_t **p, const uint8_t *end, char *out, size_t size)
{
	if (*p >= end)
		return -1;
	size_t n = **p;
	if (n >= size || end - *p < (ptrdiff_t)(n + 2))
		return -1;
	memcpy(out, *p + 1, n);
	out[n] = '\0';
	*p += n + 2; /* length, name, NUL */
	return 0;
}

static int parse_meta(my_table_map *tm, const uint8_t *p, const uint8_t *end)
{
	for (int i = 0; i < tm->ncols; i++) {
		int n = meta_bytes(tm->types[i]);
		if (end - p < n)
			return -1;
		/* VARCHAR's is one little-endian number; the others are two separate bytes */
		if (n == 2 && (tm->types[i] == MY_T_VARCHAR || tm->types[i] == MY_T_VAR_STRING))
			tm->meta[i] = (uint16_t)le(p, 2);
		else if (n == 2)
			tm->meta[i] = (uint16_t)(p[0] << 8 | p[1]);
		else
			tm->meta[i] = n == 1 ? p[0] : 0;
		p += n;
	}
	return p == end ? 0 : -1;
}

int my_binlog_table_map(const my_event *ev, my_table_map *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
	uint64_t ncols, meta_len;
	if (ev->body_len < 8)
		return fail(err, errlen, "TABLE_MAP event of %zu bytes", ev->body_len);
	out->table_id = le(p, 6);
	p += 8;
	if (table_name(&p, end, out->schema, sizeof out->schema) < 0 ||
	    table_name(&p, end, out->table, sizeof out->table) < 0 || !packed_int(&p, end, &ncols) ||
	    ncols > 4096 || end - p < (ptrdiff_t)ncols)
		return fail(err, errlen, "TABLE_MAP event: malformed names or column count");
	out->ncols = (int)ncols;
	out->types = malloc(ncols + 1);
	out->meta = calloc(ncols + 1, sizeof *out->meta);
	size_t nb = (ncols + 7) / 8;
	out->nullable = calloc(nb + 1, 1);
	if (out->types == NULL || out->meta == NULL || out->nullable == NULL) {
		my_table_map_free(out);
		return fail(err, errlen, "out of memory");
	}
	memcpy(out->types, p, ncols);
	p += ncols;
	if (!packed_int(&p, end, &meta_len) || end - p < (ptrdiff_t)(meta_len + nb) ||
	    parse_meta(out, p, p + meta_len) < 0) {
		my_table_map_free(out);
		return fail(err, errlen, "TABLE_MAP event of %s.%s: malformed column metadata", out->schema, out->table);
	}
	memcpy(out->nullable, p + meta_len, nb);
	return 0; /* optional metadata (names, signedness...) follows: the catalog has it */
}

void my_table_map_free(my_table_map *tm)
{
	free(tm->types);
	free(tm->meta);
	free(tm->nullable);
	tm->types = NULL;
	tm->meta = NULL;
	tm->nullable = NULL;
}

/* ---- ROWS -------------------------------------------------------------------------------------------- */

bool my_binlog_is_rows(uint8_t t)
{
	return (t >= MY_EV_WRITE_ROWS_V1 && t <= MY_EV_DELETE_ROWS_V1) ||
	       (t >= MY_EV_WRITE_ROWS_V2 && t <= MY_EV_DELETE_ROWS_V2);
}

bool my_binlog_is_compressed_rows(uint8_t t)
{
	return t >= MY_EV_WRITE_ROWS_COMPRESSED_V1 && t <= MY_EV_DELETE_ROWS_COMPRESSED;
}

my_rows_kind my_binlog_rows_kind(uint8_t t)
{
	switch (t) {
	case MY_EV_WRITE_ROWS_V1: case MY_EV_WRITE_ROWS_V2: case MY_EV_WRITE_ROWS_COMPRESSED_V1:
	case MY_EV_WRITE_ROWS_COMPRESSED:
		return MY_ROWS_WRITE;
	case MY_EV_UPDATE_ROWS_V1: case MY_EV_UPDATE_ROWS_V2: case MY_EV_UPDATE_ROWS_COMPRESSED_V1:
	case MY_EV_UPDATE_ROWS_COMPRESSED:
		return MY_ROWS_UPDATE;
	default:
		return MY_ROWS_DELETE;
	}
}

int my_binlog_rows(const my_event *ev, my_rows *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const uint8_t *p = ev->body, *end = ev->body + ev->body_len;
	bool v2 = ev->type >= MY_EV_WRITE_ROWS_V2 && ev->type <= MY_EV_DELETE_ROWS_V2;
	if (ev->body_len < (size_t)(v2 ? 10 : 8))
		return fail(err, errlen, "ROWS event of %zu bytes", ev->body_len);
	out->kind = my_binlog_rows_kind(ev->type);
	out->table_id = le(p, 6);
	out->flags = (uint16_t)le(p + 6, 2);
	p += 8;
	if (v2) {
		size_t extra = (size_t)le(p, 2); /* counts its own two bytes */
		if (extra < 2 || (size_t)(end - p) < extra)
			return fail(err, errlen, "ROWS event: malformed extra data");
		p += extra;
	}
	uint64_t ncols;
	if (!packed_int(&p, end, &ncols) || ncols > 4096)
		return fail(err, errlen, "ROWS event: malformed column count");
	size_t nb = (ncols + 7) / 8;
	int images = out->kind == MY_ROWS_UPDATE ? 2 : 1;
	if ((size_t)(end - p) < nb * (size_t)images)
		return fail(err, errlen, "ROWS event: column bitmaps run past its end");
	out->ncols = (int)ncols;
	out->present = p;
	p += nb;
	if (images == 2) {
		out->present_after = p;
		p += nb;
	}
	out->data = p;
	out->data_len = (size_t)(end - p);
	return 0;
}

/* ---- row images ---------------------------------------------------------------------------------------- */

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

size_t my_binlog_decimal_size(int precision, int scale)
{
	int intg = precision - scale;
	return (size_t)(intg / 9 * 4 + dig2bytes[intg % 9] + scale / 9 * 4 + dig2bytes[scale % 9]);
}

void my_binlog_string_meta(uint16_t meta, uint8_t *real_type, unsigned *max_len)
{
	uint8_t b0 = (uint8_t)(meta >> 8), b1 = (uint8_t)meta;
	if ((b0 & 0x30) != 0x30) {
		/* a CHAR longer than 255 bytes keeps bits of its length in the type byte */
		*real_type = b0 | 0x30;
		*max_len = b1 | (((unsigned)(b0 & 0x30) ^ 0x30) << 4);
	} else {
		*real_type = b0;
		*max_len = b1;
	}
}

static int fsp_bytes(int fsp)
{
	return (fsp + 1) / 2;
}

/* Bytes of a value: *prefix length bytes, then *len bytes; -1 for an unknown type. */
static int value_size(uint8_t type, uint16_t meta, const uint8_t *p, const uint8_t *end, size_t *prefix,
		      size_t *len)
{
	*prefix = 0;
	switch (type) {
	case MY_T_TINY: case MY_T_YEAR: *len = 1; return 0;
	case MY_T_SHORT: *len = 2; return 0;
	case MY_T_INT24: case MY_T_DATE: case MY_T_NEWDATE: case MY_T_TIME: *len = 3; return 0;
	case MY_T_LONG: case MY_T_TIMESTAMP: *len = 4; return 0;
	case MY_T_LONGLONG: case MY_T_DATETIME: *len = 8; return 0;
	case MY_T_FLOAT: *len = 4; return 0;
	case MY_T_DOUBLE: *len = 8; return 0;
	case MY_T_TIME2: *len = 3 + (size_t)fsp_bytes(meta); return 0;
	case MY_T_DATETIME2: *len = 5 + (size_t)fsp_bytes(meta); return 0;
	case MY_T_TIMESTAMP2: *len = 4 + (size_t)fsp_bytes(meta); return 0;
	case MY_T_NEWDECIMAL: *len = my_binlog_decimal_size(meta >> 8, meta & 0xff); return 0;
	case MY_T_BIT: *len = (meta & 0xff) + ((meta >> 8) ? 1 : 0); return 0;
	case MY_T_VARCHAR: case MY_T_VAR_STRING: *prefix = meta > 255 ? 2 : 1; break;
	case MY_T_BLOB: case MY_T_TINY_BLOB: case MY_T_MEDIUM_BLOB: case MY_T_LONG_BLOB: case MY_T_JSON:
	case MY_T_GEOMETRY:
		*prefix = meta;
		if (*prefix < 1 || *prefix > 4)
			return -1;
		break;
	case MY_T_STRING: case MY_T_ENUM: case MY_T_SET: {
		uint8_t real;
		unsigned max;
		my_binlog_string_meta(meta, &real, &max);
		if (real == MY_T_ENUM || real == MY_T_SET) {
			*len = meta & 0xff; /* the pack length: 1-2 (ENUM) or 1-8 (SET) bytes */
			return 0;
		}
		*prefix = max > 255 ? 2 : 1;
		break;
	}
	default:
		return -1;
	}
	if ((size_t)(end - p) < *prefix)
		return -2;
	*len = (size_t)le(p, (int)*prefix);
	return 0;
}

int my_binlog_image(const my_table_map *tm, const uint8_t *present, const uint8_t **pos, const uint8_t *end,
		    my_cell *cells, char *err, size_t errlen)
{
	int n_present = 0;
	for (int i = 0; i < tm->ncols; i++)
		n_present += (present[i / 8] >> (i % 8)) & 1;
	const uint8_t *nulls = *pos, *p = *pos + (n_present + 7) / 8;
	if (p > end)
		return fail(err, errlen, "row image of %s.%s: its NULL bitmap runs past the event", tm->schema, tm->table);
	for (int i = 0, k = 0; i < tm->ncols; i++) {
		cells[i] = (my_cell){0};
		if (!((present[i / 8] >> (i % 8)) & 1))
			continue;
		cells[i].present = true;
		cells[i].null = (nulls[k / 8] >> (k % 8)) & 1;
		k++;
		if (cells[i].null)
			continue;
		size_t prefix, len;
		int rc = value_size(tm->types[i], tm->meta[i], p, end, &prefix, &len);
		if (rc == -1)
			return fail(err, errlen, "table %s.%s column %d: binlog type %u is not read", tm->schema, tm->table,
				    i + 1, tm->types[i]);
		if (rc < 0 || (size_t)(end - p) < prefix + len)
			return fail(err, errlen, "row image of %s.%s: column %d runs past the event", tm->schema,
				    tm->table, i + 1);
		cells[i].p = p + prefix;
		cells[i].len = len;
		p += prefix + len;
	}
	*pos = p;
	return 0;
}

/* ---- values ------------------------------------------------------------------------------------------------ */

uint64_t my_binlog_uint(const my_cell *c)
{
	return le(c->p, (int)(c->len > 8 ? 8 : c->len));
}

int64_t my_binlog_signed(const my_cell *c)
{
	uint64_t v = my_binlog_uint(c);
	int bits = (int)(c->len > 8 ? 8 : c->len) * 8;
	if (bits < 64 && (v >> (bits - 1)) & 1)
		v |= ~UINT64_C(0) << bits;
	return (int64_t)v;
}

/* A group of n bytes of a decimal, each byte XORed with mask (negative numbers are stored
 * inverted). */
static uint32_t decimal_group(const uint8_t *p, int n, uint8_t mask, bool first)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++) {
		uint8_t b = p[i] ^ mask;
		if (first && i == 0)
			b ^= 0x80; /* the sign bit */
		v = v << 8 | b;
	}
	return v;
}

int my_binlog_decimal(const my_cell *c, int precision, int scale, char *out, size_t size)
{
	int intg = precision - scale, intg0 = intg / 9, intg0x = intg % 9, frac0 = scale / 9, frac0x = scale % 9;
	if (c->len != my_binlog_decimal_size(precision, scale) || c->len == 0 || size < 70 + 2)
		return -1;
	const uint8_t *p = c->p;
	uint8_t mask = (p[0] & 0x80) ? 0 : 0xff;
	char digits[80];
	int n = 0;
	bool first = true;
	if (intg0x) {
		n += snprintf(digits + n, sizeof digits - (size_t)n, "%u", decimal_group(p, dig2bytes[intg0x], mask, first));
		p += dig2bytes[intg0x];
		first = false;
	}
	for (int i = 0; i < intg0; i++, p += 4, first = false)
		n += snprintf(digits + n, sizeof digits - (size_t)n, n ? "%09u" : "%u", decimal_group(p, 4, mask, first));
	/* the integer digits without leading zeros ("%u" of a first group 0 gives "0") */
	const char *ip = digits;
	while (ip[0] == '0' && ip[1] != '\0')
		ip++;
	char frac[40];
	int f = 0;
	for (int i = 0; i < frac0; i++, p += 4, first = false)
		f += snprintf(frac + f, sizeof frac - (size_t)f, "%09u", decimal_group(p, 4, mask, first));
	if (frac0x) {
		uint32_t v = decimal_group(p, dig2bytes[frac0x], mask, first);
		f += snprintf(frac + f, sizeof frac - (size_t)f, "%0*u", frac0x, v);
	}
	frac[f] = '\0';
	bool negative = mask != 0;
	bool all_zero = strspn(n ? ip : "0", "0") == strlen(n ? ip : "0") && strspn(frac, "0") == (size_t)f;
	snprintf(out, size, "%s%s%s%s", negative && !all_zero ? "-" : "", n ? ip : "0", f ? "." : "", frac);
	return 0;
}

/* The fractional part of DATETIME2/TIMESTAMP2 (stored unsigned), in microseconds. */
static int64_t frac_us(const uint8_t *p, int fsp)
{
	switch (fsp_bytes(fsp)) {
	case 1: return (int64_t)p[0] * 10000;
	case 2: return (int64_t)be(p, 2) * 100;
	case 3: return (int64_t)be(p, 3);
	default: return 0;
	}
}

int64_t my_binlog_time2(const my_cell *c, int fsp)
{
	const uint8_t *p = c->p;
	int64_t packed;
	int64_t intpart = (int64_t)be(p, 3) - 0x800000;
	switch (fsp_bytes(fsp)) {
	case 1: {
		int64_t frac = p[3];
		if (intpart < 0 && frac) {
			intpart++;
			frac -= 0x100;
		}
		packed = intpart * (1 << 24) + frac * 10000;
		break;
	}
	case 2: {
		int64_t frac = (int64_t)be(p + 3, 2);
		if (intpart < 0 && frac) {
			intpart++;
			frac -= 0x10000;
		}
		packed = intpart * (1 << 24) + frac * 100;
		break;
	}
	case 3: packed = (int64_t)be(p, 6) - INT64_C(0x800000000000); break;
	default: packed = intpart * (1 << 24); break;
	}
	bool negative = packed < 0;
	if (negative)
		packed = -packed;
	int64_t hms = packed >> 24, us = packed % (1 << 24);
	int64_t hour = (hms >> 12) % (1 << 10), minute = (hms >> 6) % (1 << 6), second = hms % (1 << 6);
	int64_t v = ((hour * 60 + minute) * 60 + second) * 1000000 + us;
	return negative ? -v : v;
}

void my_binlog_datetime2(const my_cell *c, int fsp, int *y, int *mo, int *d, int64_t *us_of_day)
{
	int64_t intpart = (int64_t)be(c->p, 5) - INT64_C(0x8000000000);
	int64_t ymd = intpart >> 17, ym = ymd >> 5, hms = intpart % (1 << 17);
	*d = (int)(ymd % 32);
	*mo = (int)(ym % 13);
	*y = (int)(ym / 13);
	int64_t second = hms % 64, minute = (hms >> 6) % 64, hour = hms >> 12;
	*us_of_day = ((hour * 60 + minute) * 60 + second) * 1000000 + frac_us(c->p + 5, fsp);
}

void my_binlog_date(const my_cell *c, int *y, int *mo, int *d)
{
	uint32_t v = (uint32_t)le(c->p, 3);
	*d = (int)(v & 31);
	*mo = (int)((v >> 5) & 15);
	*y = (int)(v >> 9);
}

int64_t my_binlog_timestamp2(const my_cell *c, int fsp, bool *zero)
{
	int64_t seconds = (int64_t)be(c->p, 4), us = frac_us(c->p + 4, fsp);
	*zero = seconds == 0 && us == 0;
	return seconds * 1000000 + us;
}
