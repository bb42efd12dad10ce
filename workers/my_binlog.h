/* The MySQL/MariaDB binary log, read from the bytes of each event: headers, ROTATE,
 * GTID (MariaDB), QUERY, XID, TABLE_MAP and ROWS (v1 and v2) bodies, and the layout of
 * every column type in a row image. The client library's replication API is the
 * transport (connection, dump command, framing, checksum check); it misparses ROTATE and
 * MySQL's UPDATE v2 and its row extraction is wrong for several types, so nothing here
 * trusts its parsed fields: each function takes an event's raw bytes (header first,
 * checksum included when checksum says so) and checks every length against them.
 *
 * Nothing allocates except my_binlog_table_map (the map owns its arrays); pointers
 * returned point into the event's bytes. Errors are -1 with a message in err. */
#ifndef FERRY_MY_BINLOG_H
#define FERRY_MY_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MY_BINLOG_HEADER_LEN 19
#define MY_BINLOG_CHECKSUM_LEN 4

/* Event types ferry reads (the servers' numbering). */
enum {
	MY_EV_QUERY = 2,
	MY_EV_STOP = 3,
	MY_EV_ROTATE = 4,
	MY_EV_FORMAT_DESCRIPTION = 15,
	MY_EV_XID = 16,
	MY_EV_TABLE_MAP = 19,
	MY_EV_WRITE_ROWS_V1 = 23,
	MY_EV_UPDATE_ROWS_V1 = 24,
	MY_EV_DELETE_ROWS_V1 = 25,
	MY_EV_HEARTBEAT = 27,
	MY_EV_WRITE_ROWS_V2 = 30,
	MY_EV_UPDATE_ROWS_V2 = 31,
	MY_EV_DELETE_ROWS_V2 = 32,
	MY_EV_GTID_MYSQL = 33,
	MY_EV_XA_PREPARE = 38,
	MY_EV_ANONYMOUS_GTID = 34,
	MY_EV_PARTIAL_UPDATE_ROWS = 39,
	MY_EV_TRANSACTION_PAYLOAD = 40,
	MY_EV_HEARTBEAT_V2 = 41,
	MY_EV_GTID_MARIADB = 162,
	MY_EV_QUERY_COMPRESSED = 165,
	MY_EV_WRITE_ROWS_COMPRESSED_V1 = 166,
	MY_EV_UPDATE_ROWS_COMPRESSED_V1 = 167,
	MY_EV_DELETE_ROWS_COMPRESSED_V1 = 168,
	MY_EV_WRITE_ROWS_COMPRESSED = 169,
	MY_EV_UPDATE_ROWS_COMPRESSED = 170,
	MY_EV_DELETE_ROWS_COMPRESSED = 171
};

/* Column types as the binlog names them. */
enum {
	MY_T_DECIMAL = 0, MY_T_TINY = 1, MY_T_SHORT = 2, MY_T_LONG = 3, MY_T_FLOAT = 4, MY_T_DOUBLE = 5,
	MY_T_NULL = 6, MY_T_TIMESTAMP = 7, MY_T_LONGLONG = 8, MY_T_INT24 = 9, MY_T_DATE = 10, MY_T_TIME = 11,
	MY_T_DATETIME = 12, MY_T_YEAR = 13, MY_T_NEWDATE = 14, MY_T_VARCHAR = 15, MY_T_BIT = 16,
	MY_T_TIMESTAMP2 = 17, MY_T_DATETIME2 = 18, MY_T_TIME2 = 19, MY_T_JSON = 245, MY_T_NEWDECIMAL = 246,
	MY_T_ENUM = 247, MY_T_SET = 248, MY_T_TINY_BLOB = 249, MY_T_MEDIUM_BLOB = 250, MY_T_LONG_BLOB = 251,
	MY_T_BLOB = 252, MY_T_VAR_STRING = 253, MY_T_STRING = 254, MY_T_GEOMETRY = 255
};

typedef struct my_event {
	uint8_t type;
	uint32_t timestamp;
	uint32_t server_id;
	uint32_t length;    /* the whole event, header and checksum included */
	uint32_t next_pos;  /* position after this event; 0 for artificial events */
	uint16_t flags;
	const uint8_t *body; /* after the header, the checksum cut off */
	size_t body_len;
} my_event;

#define MY_EVENT_ARTIFICIAL 0x20 /* LOG_EVENT_ARTIFICIAL_F */

/* Splits raw (len bytes, header first) into header and body. */
int my_binlog_event(const uint8_t *raw, size_t len, bool checksum, my_event *ev, char *err, size_t errlen);

/* The event's own start offset in its file (next_pos - length); 0 when artificial. */
static inline uint32_t my_binlog_event_start(const my_event *ev)
{
	return ev->next_pos >= ev->length ? ev->next_pos - ev->length : 0;
}

int my_binlog_rotate(const my_event *ev, uint64_t *position, char *file, size_t file_size, char *err, size_t errlen);

typedef struct my_gtid {
	uint32_t domain;
	uint32_t server_id;
	uint64_t seq;
	uint8_t flags; /* FL_STANDALONE 0x01: no COMMIT/XID follows (DDL) */
} my_gtid;
#define MY_GTID_STANDALONE 0x01
int my_binlog_gtid(const my_event *ev, my_gtid *out, char *err, size_t errlen);

typedef struct my_query {
	const char *db;
	size_t db_len;
	const char *sql;
	size_t sql_len;
} my_query;
int my_binlog_query(const my_event *ev, my_query *out, char *err, size_t errlen);

int my_binlog_xid(const my_event *ev, uint64_t *xid, char *err, size_t errlen);

/* HEARTBEAT: the file the server is at (its position is the header's next_pos). */
int my_binlog_heartbeat(const my_event *ev, char *file, size_t file_size, char *err, size_t errlen);

/* ---- tables and rows ---------------------------------------------------------------------------- */

typedef struct my_table_map {
	uint64_t table_id;
	char schema[256];
	char table[256];
	int ncols;
	uint8_t *types;  /* per column, MY_T_* */
	uint16_t *meta;  /* per column: the metadata, two bytes as (first << 8 | second) */
	uint8_t *nullable; /* bitmap */
} my_table_map;

int my_binlog_table_map(const my_event *ev, my_table_map *out, char *err, size_t errlen);
void my_table_map_free(my_table_map *tm);

typedef enum my_rows_kind { MY_ROWS_WRITE, MY_ROWS_UPDATE, MY_ROWS_DELETE } my_rows_kind;

typedef struct my_rows {
	my_rows_kind kind;
	uint64_t table_id;
	uint16_t flags;
	int ncols;
	const uint8_t *present;       /* columns in the (before) image: bitmap */
	const uint8_t *present_after; /* UPDATE: columns in the after image */
	const uint8_t *data;          /* the row images */
	size_t data_len;
} my_rows;

/* An uncompressed ROWS event (v1 or v2: its extra data is skipped). */
int my_binlog_rows(const my_event *ev, my_rows *out, char *err, size_t errlen);
bool my_binlog_is_rows(uint8_t type);
bool my_binlog_is_compressed_rows(uint8_t type);
my_rows_kind my_binlog_rows_kind(uint8_t type);

/* One column of a row image: its bytes as the binlog stores them. */
typedef struct my_cell {
	bool present; /* in the image (a MINIMAL image leaves columns out) */
	bool null;
	const uint8_t *p;
	size_t len;   /* for strings and blobs, the value without its length prefix */
} my_cell;

/* Reads one row image at *pos (advanced past it) into cells[0..tm->ncols). */
int my_binlog_image(const my_table_map *tm, const uint8_t *present, const uint8_t **pos, const uint8_t *end,
		    my_cell *cells, char *err, size_t errlen);

/* ---- values --------------------------------------------------------------------------------------- */

/* The real type of a STRING column (ENUM, SET, or STRING itself) and its maximum length. */
void my_binlog_string_meta(uint16_t meta, uint8_t *real_type, unsigned *max_len);

/* An integer cell (TINY, SHORT, INT24, LONG, LONGLONG, YEAR as stored) as unsigned bits;
 * sign-extend with my_binlog_signed(). */
uint64_t my_binlog_uint(const my_cell *c);
int64_t my_binlog_signed(const my_cell *c);

/* DECIMAL(precision, scale) in MySQL's binary form -> "-12.50" into out (size >= 70). */
int my_binlog_decimal(const my_cell *c, int precision, int scale, char *out, size_t size);
/* The byte size of that form. */
size_t my_binlog_decimal_size(int precision, int scale);

/* Temporal values, as microseconds; *zero when the value is MySQL's zero date or has a
 * zero month or day (no valid instant). */
int64_t my_binlog_time2(const my_cell *c, int fsp);                      /* signed duration */
void my_binlog_datetime2(const my_cell *c, int fsp, int *y, int *mo, int *d, int64_t *us_of_day);
void my_binlog_date(const my_cell *c, int *y, int *mo, int *d);
int64_t my_binlog_timestamp2(const my_cell *c, int fsp, bool *zero);    /* since 1970 UTC */

#endif
