/* The change record: one binary encoding of a source change, shared by every engine,
 * carried through rings and spill segments from capture to apply.
 *
 * Encoding (little-endian; "varint" = unsigned LEB128, at most 10 bytes; "zigzag" = signed
 * value as a zigzag varint):
 *   u8      op                 record_op
 *   u8      flags              bits 0-1 old image (record_image), bit 2 new image present;
 *                              other bits 0 (room for later use)
 *   varint  table_id           u32, the capture's table number (0 for begin/commit)
 *   varint  position           u64 source position, see record_position below
 *   varint  xid                u64 source transaction id (0 when the source has none)
 *   zigzag  commit_time_us     i64 microseconds since 1970-01-01 UTC
 *   [tuple] old image          when flags say so
 *   [tuple] new image          when flags say so
 * tuple:
 *   varint  ncols, then per column: u8 kind (record_kind), then its value:
 *     NULL, UNCHANGED          nothing
 *     BOOL                     u8 0 or 1
 *     INT64                    zigzag
 *     UINT64                   varint
 *     FLOAT64                  8 bytes, IEEE 754 bit pattern (NaN payloads and -0 kept)
 *     DATE                     zigzag, days since 1970-01-01, within i32
 *     TIME                     zigzag, microseconds since midnight (signed: MySQL TIME
 *                              ranges over -838:59:59..838:59:59)
 *     TIMESTAMP                zigzag, microseconds since 1970-01-01 00:00, wall clock
 *                              without time zone
 *     TIMESTAMPTZ              zigzag, microseconds since 1970-01-01 00:00 UTC
 *                              (PG's +/-infinity are INT64_MAX / INT64_MIN for both)
 *     UUID                     16 bytes, in text order
 *     DECIMAL, TEXT, BYTES,    varint length, then the bytes. DECIMAL is the canonical
 *     JSON, TEXTREP            text form ("-12.50", "NaN"); TEXT and JSON are UTF-8;
 *                              TEXTREP is the source's own text for a type with no kind
 *                              of its own (intervals, arrays, geometry, enums, ...).
 * Columns are positional, in the table's column order as the capture knows it. A key-only
 * old image (RECORD_IMAGE_KEY) has every column, non-key ones NULL.
 *
 * Which images an operation carries (checked by the encoder and the decoder):
 *   INSERT: new;  UPDATE: new, old optional;  DELETE: old (key or full), no new;
 *   TRUNCATE, BEGIN, COMMIT: none. One TRUNCATE record per truncated table.
 *   RELATION: new (the description, see ipc/relmsg.h). */
#ifndef FERRY_RECORD_H
#define FERRY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum record_op {
	RECORD_OP_INSERT = 1,
	RECORD_OP_UPDATE = 2,
	RECORD_OP_DELETE = 3,
	RECORD_OP_TRUNCATE = 4,
	RECORD_OP_BEGIN = 5,
	RECORD_OP_COMMIT = 6,
	/* A table's description (ipc/relmsg.h), sent before its first change and again
	 * whenever it changes, so the stream describes itself to the apply side. The new
	 * image carries the description. */
	RECORD_OP_RELATION = 7
	/* 8..255 free for later operations (markers); decoders reject values they do not
	 * know. */
} record_op;
#define RECORD_OP_MAX RECORD_OP_RELATION

typedef enum record_image {
	RECORD_IMAGE_NONE = 0,
	RECORD_IMAGE_KEY = 1,  /* replica identity / primary key columns only */
	RECORD_IMAGE_FULL = 2  /* the whole old row */
} record_image;

/* The numbers are part of the encoding: never renumber, only append. */
typedef enum record_kind {
	RECORD_KIND_NULL = 0,
	RECORD_KIND_UNCHANGED = 1, /* PG unchanged TOAST value: the target keeps its value */
	RECORD_KIND_BOOL = 2,
	RECORD_KIND_INT64 = 3,
	RECORD_KIND_UINT64 = 4,
	RECORD_KIND_FLOAT64 = 5,
	RECORD_KIND_DECIMAL = 6,
	RECORD_KIND_TEXT = 7,
	RECORD_KIND_BYTES = 8,
	RECORD_KIND_DATE = 9,
	RECORD_KIND_TIME = 10,
	RECORD_KIND_TIMESTAMP = 11,
	RECORD_KIND_TIMESTAMPTZ = 12,
	RECORD_KIND_JSON = 13,
	RECORD_KIND_UUID = 14,
	RECORD_KIND_TEXTREP = 15
} record_kind;
#define RECORD_KIND_MAX RECORD_KIND_TEXTREP

/* Source position, ordered like the source log:
 *   PostgreSQL: the LSN as is.
 *   MySQL/MariaDB: binlog file number (the digits of "mysql-bin.000123") in the high 32
 *   bits, byte offset in that file in the low 32 (binlog positions are 32-bit). A change
 *   record's position is its transaction's first event's offset plus one, so that a
 *   transaction starting exactly where an applied one ended sorts after it; snapshot
 *   and stream positions (load's finish_position, ferry.source_position) are plain
 *   offsets (workers/my_stream.h, "Positions"). */
static inline uint64_t record_mysql_position(uint32_t file_no, uint32_t offset)
{
	return ((uint64_t)file_no << 32) | offset;
}
static inline uint32_t record_mysql_file_no(uint64_t pos) { return (uint32_t)(pos >> 32); }
static inline uint32_t record_mysql_offset(uint64_t pos) { return (uint32_t)pos; }

typedef struct record_header {
	record_op op;
	uint32_t table_id;
	uint64_t position;
	uint64_t xid;
	int64_t commit_time_us;
	record_image old_image;
	bool has_new;
} record_header;

/* One column value. For the length-prefixed kinds, str points into the decoded buffer
 * (not NUL-terminated) and lives as long as that buffer. */
typedef struct record_value {
	record_kind kind;
	union {
		bool b;          /* BOOL */
		int64_t i64;     /* INT64, TIME, TIMESTAMP, TIMESTAMPTZ */
		uint64_t u64;    /* UINT64 */
		double f64;      /* FLOAT64 */
		int32_t date;    /* DATE */
		const uint8_t *uuid; /* UUID: 16 bytes */
		struct {
			const char *ptr;
			size_t len;
		} str;           /* DECIMAL, TEXT, BYTES, JSON, TEXTREP */
	};
} record_value;

/* ---- encoding ---------------------------------------------------------------------- */

/* Growable output buffer owned by the caller; reused across records so encoding does
 * not allocate once it has grown. An allocation failure is remembered (failed) and
 * reported by record_encode_finish(). */
typedef struct record_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
} record_buf;

void record_buf_init(record_buf *b);
void record_buf_free(record_buf *b);

typedef struct record_encoder {
	record_buf *buf;
	record_header hdr;
	int tuples_left;    /* tuples the header announced and not yet started */
	uint32_t cols_left; /* columns of the current tuple not yet written */
	bool bad;           /* a call did not match the header (programming error) */
} record_encoder;

/* Starts a record in buf (whatever buf held is discarded). Then, for each image the
 * header announces (old first): record_encode_tuple(), then exactly ncols record_put_*. */
void record_encode_begin(record_encoder *e, record_buf *buf, const record_header *h);
void record_encode_tuple(record_encoder *e, uint32_t ncols);
void record_put_null(record_encoder *e);
void record_put_unchanged(record_encoder *e);
void record_put_bool(record_encoder *e, bool v);
void record_put_int64(record_encoder *e, int64_t v);
void record_put_uint64(record_encoder *e, uint64_t v);
void record_put_float64(record_encoder *e, double v);
void record_put_date(record_encoder *e, int32_t days);
void record_put_time(record_encoder *e, int64_t us);
void record_put_timestamp(record_encoder *e, int64_t us);
void record_put_timestamptz(record_encoder *e, int64_t us);
void record_put_uuid(record_encoder *e, const uint8_t uuid[16]);
void record_put_decimal(record_encoder *e, const char *text, size_t len);
void record_put_text(record_encoder *e, const char *text, size_t len);
void record_put_bytes(record_encoder *e, const void *data, size_t len);
void record_put_json(record_encoder *e, const char *text, size_t len);
void record_put_textrep(record_encoder *e, const char *text, size_t len);
/* Any kind, e.g. to copy a decoded value. */
void record_put_value(record_encoder *e, const record_value *v);
/* 0: buf->data/buf->len hold the record. -1: errno ENOMEM (allocation failed) or EINVAL
 * (images or column counts did not match the header, or the op/images are invalid). */
int record_encode_finish(record_encoder *e);

/* ---- decoding ---------------------------------------------------------------------- */

typedef struct record_tuple {
	const uint8_t *data; /* the first column */
	size_t len;
	uint32_t ncols;
} record_tuple;

typedef struct record_view {
	record_header hdr;
	record_tuple old_tuple; /* ncols 0 and data NULL when absent */
	record_tuple new_tuple;
} record_view;

typedef struct record_error {
	size_t offset; /* byte offset in the record where decoding failed */
	char what[96];
} record_error;

/* Validates the whole record (every length against len, every kind, the op/image rules,
 * no trailing bytes) and fills view with pointers into data: nothing is copied.
 * 0 on success; -1 with *err filled when the input is not a valid record. */
int record_decode(const void *data, size_t len, record_view *view, record_error *err);

typedef struct record_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint32_t left;
} record_iter;

/* Walks the columns of a tuple of a view record_decode() accepted. */
void record_iter_init(record_iter *it, const record_tuple *t);
/* false when there are no more columns. */
bool record_iter_next(record_iter *it, record_value *out);

/* Copies the record rec (len bytes) into out with another position, xid and commit time,
 * the rest unchanged: for records encoded before their transaction was known (changes
 * of a streamed transaction, cached relation records). Only the header is checked;
 * *table_id (when not NULL) receives the record's table id. 0, or -1 with *err filled. */
int record_rewrite_txn(record_buf *out, const void *rec, size_t len, uint64_t position, uint64_t xid,
		       int64_t commit_time_us, uint32_t *table_id, record_error *err);

const char *record_op_name(record_op op);
const char *record_kind_name(record_kind kind);

#endif
