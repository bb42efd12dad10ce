/* Streamed transaction buffer: frames in a private spill stream, an aborted-subxact set. */
#include "workers/pg_txnbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/spill.h"

#define STREAM_PREFIX "txn-"
#define FRAME_CHANGE_HEAD 5    /* kind, subxid */
#define FRAME_RELATION_HEAD 17 /* kind, subxid, relid, gen */
#define CONFIRM_EVERY 4096     /* read frames between deletions of consumed segments */

struct pg_txnbuf {
	uint32_t xid;
	uint64_t serial;
	char dir[4096];
	char name[SPILL_WORKER_NAME_MAX + 1];
	spill_options opt;
	spill_shared shared; /* private to this process: the writer and the reader are ours */
	spill_writer *writer;
	spill_reader *reader;
	uint64_t next_seq;
	uint64_t changes;
	uint64_t read_since_confirm;

	uint8_t *frame; /* one frame being assembled */
	size_t frame_cap;

	uint32_t *aborted; /* open addressing, 0 = empty slot (0 is never a valid xid) */
	size_t aborted_cap;
	size_t aborted_n;
};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

pg_txnbuf *pg_txnbuf_open(const char *dir, codec_id codec, uint32_t xid, uint64_t serial, char *err,
			  size_t errlen)
{
	pg_txnbuf *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory for the buffer of transaction %u", xid);
		return NULL;
	}
	t->xid = xid;
	t->serial = serial;
	snprintf(t->dir, sizeof t->dir, "%s", dir);
	snprintf(t->name, sizeof t->name, STREAM_PREFIX "%u-%llu", xid, (unsigned long long)serial);
	t->opt = (spill_options){.dir = t->dir, .worker = t->name, .codec = codec};
	spill_shared_init(&t->shared);
	t->writer = spill_writer_open(&t->opt, &t->shared, NULL, err, errlen);
	if (!t->writer) {
		free(t);
		return NULL;
	}
	return t;
}

void pg_txnbuf_close(pg_txnbuf *t)
{
	if (!t)
		return;
	spill_writer_close(t->writer);
	spill_reader_close(t->reader);
	spill_remove_all(t->dir, t->name);
	free(t->frame);
	free(t->aborted);
	free(t);
}

uint32_t pg_txnbuf_xid(const pg_txnbuf *t) { return t->xid; }
uint64_t pg_txnbuf_changes(const pg_txnbuf *t) { return t->changes; }

/* Appends head (hlen bytes, already in t->frame) + rec as one spill record. */
static int append_frame(pg_txnbuf *t, size_t hlen, const void *rec, size_t len, char *err, size_t errlen)
{
	if (!t->writer) {
		snprintf(err, errlen, "transaction %u: change added after its buffer was read back", t->xid);
		return -1;
	}
	memcpy(t->frame + hlen, rec, len);
	spill_result r = spill_writer_append(t->writer, t->next_seq, t->frame, hlen + len);
	if (r != SPILL_OK) {
		snprintf(err, errlen, "buffering streamed transaction %u: %s", t->xid, spill_writer_error(t->writer));
		return -1;
	}
	t->next_seq++;
	return 0;
}

static bool frame_room(pg_txnbuf *t, size_t need, char *err, size_t errlen)
{
	if (need <= t->frame_cap)
		return true;
	size_t cap = t->frame_cap ? t->frame_cap : 1024;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(t->frame, cap);
	if (!p) {
		snprintf(err, errlen, "out of memory buffering streamed transaction %u", t->xid);
		return false;
	}
	t->frame = p;
	t->frame_cap = cap;
	return true;
}

int pg_txnbuf_add_change(pg_txnbuf *t, uint32_t subxid, const void *rec, size_t len, char *err, size_t errlen)
{
	if (!frame_room(t, FRAME_CHANGE_HEAD + len, err, errlen))
		return -1;
	t->frame[0] = PG_TXNBUF_CHANGE;
	put_le(t->frame + 1, subxid, 4);
	if (append_frame(t, FRAME_CHANGE_HEAD, rec, len, err, errlen) < 0)
		return -1;
	t->changes++;
	return 0;
}

int pg_txnbuf_add_relation(pg_txnbuf *t, uint32_t relid, uint64_t gen, const void *rec, size_t len, char *err,
			   size_t errlen)
{
	if (!frame_room(t, FRAME_RELATION_HEAD + len, err, errlen))
		return -1;
	t->frame[0] = PG_TXNBUF_RELATION;
	put_le(t->frame + 1, t->xid, 4);
	put_le(t->frame + 5, relid, 4);
	put_le(t->frame + 9, gen, 8);
	return append_frame(t, FRAME_RELATION_HEAD, rec, len, err, errlen);
}

/* ---- aborted subtransactions: a set of xids ----------------------------------------- */

static size_t slot_of(uint32_t xid, size_t cap)
{
	return (size_t)((xid * UINT32_C(2654435761)) & (cap - 1)); /* cap is a power of two */
}

static bool is_aborted(const pg_txnbuf *t, uint32_t xid)
{
	if (t->aborted_n == 0)
		return false;
	for (size_t i = slot_of(xid, t->aborted_cap);; i = (i + 1) & (t->aborted_cap - 1)) {
		if (t->aborted[i] == xid)
			return true;
		if (t->aborted[i] == 0)
			return false;
	}
}

static void set_insert(uint32_t *set, size_t cap, uint32_t xid)
{
	size_t i = slot_of(xid, cap);
	while (set[i] != 0 && set[i] != xid)
		i = (i + 1) & (cap - 1);
	set[i] = xid;
}

int pg_txnbuf_abort_subxact(pg_txnbuf *t, uint32_t subxid, char *err, size_t errlen)
{
	if (subxid == 0 || is_aborted(t, subxid))
		return 0;
	if ((t->aborted_n + 1) * 2 > t->aborted_cap) {
		size_t cap = t->aborted_cap ? t->aborted_cap * 2 : 16;
		uint32_t *set = calloc(cap, sizeof *set);
		if (!set) {
			snprintf(err, errlen, "out of memory recording an aborted subtransaction of %u", t->xid);
			return -1;
		}
		for (size_t i = 0; i < t->aborted_cap; i++)
			if (t->aborted[i])
				set_insert(set, cap, t->aborted[i]);
		free(t->aborted);
		t->aborted = set;
		t->aborted_cap = cap;
	}
	set_insert(t->aborted, t->aborted_cap, subxid);
	t->aborted_n++;
	return 0;
}

/* ---- reading back ------------------------------------------------------------------ */

static int start_reading(pg_txnbuf *t, char *err, size_t errlen)
{
	if (spill_writer_flush(t->writer) != SPILL_OK) {
		snprintf(err, errlen, "buffering streamed transaction %u: %s", t->xid, spill_writer_error(t->writer));
		return -1;
	}
	spill_writer_close(t->writer);
	t->writer = NULL;
	t->reader = spill_reader_open(&t->opt, &t->shared, NULL, err, errlen);
	return t->reader ? 0 : -1;
}

/* Splits a frame; false when it is malformed. */
static bool parse_frame(const uint8_t *p, size_t n, pg_txnbuf_item *item)
{
	if (n < FRAME_CHANGE_HEAD || (p[0] != PG_TXNBUF_CHANGE && p[0] != PG_TXNBUF_RELATION))
		return false;
	item->kind = (pg_txnbuf_kind)p[0];
	item->subxid = (uint32_t)get_le(p + 1, 4);
	size_t head = FRAME_CHANGE_HEAD;
	if (item->kind == PG_TXNBUF_RELATION) {
		if (n < FRAME_RELATION_HEAD)
			return false;
		item->relid = (uint32_t)get_le(p + 5, 4);
		item->gen = get_le(p + 9, 8);
		head = FRAME_RELATION_HEAD;
	}
	item->rec = p + head;
	item->len = n - head;
	return true;
}

int pg_txnbuf_next(pg_txnbuf *t, pg_txnbuf_item *item, char *err, size_t errlen)
{
	if (!t->reader && start_reading(t, err, errlen) < 0)
		return -1;
	for (;;) {
		uint64_t seq;
		const void *data;
		size_t len;
		spill_result r = spill_reader_next(t->reader, &seq, &data, &len);
		if (r == SPILL_EMPTY)
			return 0;
		if (r != SPILL_OK) {
			snprintf(err, errlen, "reading back streamed transaction %u: %s", t->xid,
				 spill_reader_error(t->reader));
			return -1;
		}
		/* Give finished segments back to the disk as we go. */
		if (++t->read_since_confirm >= CONFIRM_EVERY) {
			t->read_since_confirm = 0;
			spill_reader_confirm(t->reader, seq);
		}
		memset(item, 0, sizeof *item);
		if (!parse_frame(data, len, item)) {
			snprintf(err, errlen, "streamed transaction %u: malformed buffer frame %llu", t->xid,
				 (unsigned long long)seq);
			return -1;
		}
		if (!is_aborted(t, item->subxid))
			return 1;
	}
}

int pg_txnbuf_remove_stale(const char *dir)
{
	return spill_remove_prefixed(dir, STREAM_PREFIX);
}
