/* The on-disk buffer of one streamed PostgreSQL transaction (pgoutput protocol 2).
 *
 * A transaction larger than the server's logical_decoding_work_mem arrives in blocks
 * (Stream Start .. Stream Stop) long before its commit, possibly interleaved with other
 * transactions, and may still abort, wholly or one subtransaction at a time. Its change
 * records are kept here until Stream Commit says where it committed, then read back in
 * order; memory stays at one spill block whatever the transaction's size.
 *
 * Storage is a spill stream (ipc/spill.h: compressed, checksummed blocks) named
 * "txn-<xid>-<serial>" in the caller's directory. Each entry is a frame:
 *   u8 kind ('C' change, 'R' relation description), u32 subtransaction xid (LE),
 *   kind 'R' only: u32 relation oid, u64 description generation (LE),
 *   then the change record (ipc/record.h), encoded with position 0.
 * Aborting a subtransaction only marks its xid: its frames are skipped when the buffer
 * is read back. Relation frames carry the top-level xid, so they survive any
 * subtransaction abort (a later change may rely on them). */
#ifndef FERRY_PG_TXNBUF_H
#define FERRY_PG_TXNBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/codec.h"

typedef struct pg_txnbuf pg_txnbuf;

/* Opens the buffer of top-level transaction xid in dir (created if missing). serial
 * makes the file names unique within the process. NULL with err on failure. */
pg_txnbuf *pg_txnbuf_open(const char *dir, codec_id codec, uint32_t xid, uint64_t serial, char *err,
			  size_t errlen);
/* Closes and deletes the files. NULL is allowed. */
void pg_txnbuf_close(pg_txnbuf *t);

uint32_t pg_txnbuf_xid(const pg_txnbuf *t);
/* Change frames added so far (aborted ones included). */
uint64_t pg_txnbuf_changes(const pg_txnbuf *t);

/* Appends a change of subtransaction subxid (the top-level xid for its own changes).
 * 0, or -1 with err (I/O error, out of memory, or reading has begun). */
int pg_txnbuf_add_change(pg_txnbuf *t, uint32_t subxid, const void *rec, size_t len, char *err, size_t errlen);
/* Appends the RELATION record of relation relid at description generation gen. */
int pg_txnbuf_add_relation(pg_txnbuf *t, uint32_t relid, uint64_t gen, const void *rec, size_t len, char *err,
			   size_t errlen);
/* Forgets the changes of subtransaction subxid (Stream Abort of a subtransaction).
 * 0, or -1 when memory ran out. */
int pg_txnbuf_abort_subxact(pg_txnbuf *t, uint32_t subxid, char *err, size_t errlen);

typedef enum pg_txnbuf_kind { PG_TXNBUF_CHANGE = 'C', PG_TXNBUF_RELATION = 'R' } pg_txnbuf_kind;

typedef struct pg_txnbuf_item {
	pg_txnbuf_kind kind;
	uint32_t subxid;
	uint32_t relid;   /* RELATION */
	uint64_t gen;     /* RELATION */
	const void *rec;  /* valid until the next pg_txnbuf_next() */
	size_t len;
} pg_txnbuf_item;

/* Reads the buffer back from its first frame, skipping aborted subtransactions. After
 * the first call nothing more can be added. 1 with item filled, 0 at the end, -1 with
 * err (corrupt or unreadable file: the message names it). */
int pg_txnbuf_next(pg_txnbuf *t, pg_txnbuf_item *item, char *err, size_t errlen);

/* Deletes every transaction buffer file in dir (left by an earlier process: a restart
 * streams those transactions again from their start). Number removed, or -1 (errno). */
int pg_txnbuf_remove_stale(const char *dir);

#endif
