/* Decoder of PostgreSQL's pgoutput logical replication messages (protocol versions 1
 * and 2: the payload of each XLogData 'w' message of a START_REPLICATION stream).
 * Pure parsing: no I/O, no allocation per message once the decoder has grown. Every
 * length is checked against the buffer; a malformed message is an error, never a read
 * past its end. Strings and values point into the caller's buffer. */
#ifndef FERRY_PGOUTPUT_H
#define FERRY_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define PGO_EPOCH_OFFSET_US INT64_C(946684800000000)

typedef enum pgo_type {
	PGO_BEGIN = 'B',
	PGO_COMMIT = 'C',
	PGO_ORIGIN = 'O',
	PGO_RELATION = 'R',
	PGO_TYPE = 'Y',
	PGO_INSERT = 'I',
	PGO_UPDATE = 'U',
	PGO_DELETE = 'D',
	PGO_TRUNCATE = 'T',
	PGO_MESSAGE = 'M',
	PGO_STREAM_START = 'S',
	PGO_STREAM_STOP = 'E',
	PGO_STREAM_COMMIT = 'c',
	PGO_STREAM_ABORT = 'A'
} pgo_type;

/* One column of a TupleData. */
typedef enum pgo_col_kind {
	PGO_COL_NULL = 'n',
	PGO_COL_UNCHANGED = 'u', /* unchanged TOASTed value: not sent, the target keeps its own */
	PGO_COL_TEXT = 't',
	PGO_COL_BINARY = 'b'
} pgo_col_kind;

typedef struct pgo_column {
	pgo_col_kind kind;
	const char *data; /* TEXT/BINARY: not NUL-terminated */
	uint32_t len;
} pgo_column;

typedef struct pgo_tuple {
	int ncols;
	pgo_column *cols; /* owned by the decoder; valid until the next pgo_decode() */
} pgo_tuple;

typedef struct pgo_relcol {
	bool key; /* part of the replica identity */
	const char *name;
	uint32_t type_oid;
	int32_t typmod;
} pgo_relcol;

/* Old image marker of UPDATE/DELETE: none, key columns only, or the whole old row. */
typedef enum pgo_old_kind { PGO_OLD_NONE = 0, PGO_OLD_KEY = 'K', PGO_OLD_FULL = 'O' } pgo_old_kind;

#define PGO_TRUNCATE_CASCADE 1
#define PGO_TRUNCATE_RESTART_IDENTITY 2

typedef struct pgo_message {
	pgo_type type;
	bool in_stream;   /* inside a streamed transaction block (S..E) */
	uint32_t xid;     /* the streamed transaction's xid when in_stream */
	union {
		struct { uint64_t final_lsn; int64_t commit_time_us; uint32_t xid; } begin;
		struct { uint8_t flags; uint64_t commit_lsn; uint64_t end_lsn; int64_t commit_time_us; } commit;
		struct { uint64_t commit_lsn; const char *name; } origin;
		struct {
			uint32_t oid;
			const char *nspname; /* "" means pg_catalog */
			const char *relname;
			char replident; /* d default, n nothing, f full, i index */
			int ncols;
			pgo_relcol *cols; /* owned by the decoder */
		} relation;
		struct { uint32_t oid; const char *nspname; const char *typname; } type_info;
		struct { uint32_t relid; pgo_tuple newtup; } insert;
		struct { uint32_t relid; pgo_old_kind old_kind; pgo_tuple oldtup; pgo_tuple newtup; } update;
		struct { uint32_t relid; pgo_old_kind old_kind; pgo_tuple oldtup; } del;
		struct { uint8_t options; int nrels; const uint32_t *relids; /* owned by the decoder */ } truncate;
		struct { uint8_t flags; uint64_t lsn; const char *prefix; const char *content; uint32_t len; } message;
		struct { uint32_t xid; bool first_segment; } stream_start;
		struct { uint32_t xid; uint8_t flags; uint64_t commit_lsn; uint64_t end_lsn; int64_t commit_time_us; } stream_commit;
		struct { uint32_t xid; uint32_t subxid; } stream_abort;
	};
} pgo_message;

/* Scratch space reused across messages, and the stream state (S/E brackets). */
typedef struct pgo_decoder {
	bool in_stream;
	pgo_column *cols;
	int cols_cap;
	pgo_relcol *relcols;
	int relcols_cap;
	uint32_t *relids;
	int relids_cap;
} pgo_decoder;

void pgo_decoder_init(pgo_decoder *d);
void pgo_decoder_free(pgo_decoder *d);

/* Decodes one message. 0 on success; -1 with a message in err (what was wrong and at
 * which byte offset) when the message is malformed or of an unknown type, or -2 when
 * memory ran out. */
int pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_message *out, char *err, size_t errlen);

/* "0/16B3748" */
void pgo_format_lsn(uint64_t lsn, char *buf, size_t size);
/* 0 on success, -1 on a malformed text. */
int pgo_parse_lsn(const char *text, uint64_t *lsn);

#endif
