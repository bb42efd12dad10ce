/* The capture's relation caches: what each source relation oid of a pgoutput stream
 * looks like (from its last Relation message), whether the task migrates it, and if so
 * its table id, the columns its records carry and its RELATION record (ipc/relmsg.h).
 *
 * Scopes. pgoutput keeps track of the descriptions it has sent separately for plain
 * transactions and for each streamed transaction: a streamed transaction gets its own
 * Relation messages (once per relation it touches), and its later blocks rely on them
 * even when a plain transaction in between described the relation otherwise (e.g.
 * before the streamed transaction's ALTER TABLE). So the converter has one cache for
 * plain transactions and one per open streamed transaction ("parent" = the plain one).
 * When a streamed transaction commits, pgoutput counts its descriptions as sent for
 * plain transactions too (pgoutput.c, cleanup_rel_sync_cache), so the plain cache
 * adopts them (pg_relcache_adopt); an aborted one's are forgotten.
 * They share the type names, the lookup and the generation counter (pg_relcache_shared).
 *
 * A description is mapped (the task's lookup asked, column types named) only when a
 * change first uses it: pgoutput also describes relations that never carry changes
 * (with publish_via_partition_root, each leaf partition besides its root). Every mapped
 * description gets a new generation number, unique across scopes.
 *
 * Entries are never removed and never move: pointers stay valid until their cache is
 * freed. Lookups by oid are a hash probe; nothing here allocates per row. */
#ifndef FERRY_PG_RELCACHE_H
#define FERRY_PG_RELCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/record.h"
#include "workers/pg_capture.h"
#include "workers/pgoutput.h"

typedef struct pg_relcache_col {
	char *name;        /* source column name */
	uint32_t type_oid;
	int32_t typmod;
	bool key;          /* replica identity column (never set for REPLICA IDENTITY FULL) */
	bool included;     /* carried in the records (not excluded by the rules) */
	char *type_name;   /* format_type() text; set for included columns */
} pg_relcache_col;

typedef struct pg_relcache_entry {
	uint32_t relid;
	char *label;        /* "schema"."name", for messages; NULL: never described */
	char *nspname;
	char *relname;
	char replident;
	int ncols;          /* columns in pgoutput tuples */
	int nout;           /* columns in records */
	pg_relcache_col *cols;
	bool mapped;        /* the current description has been through the lookup */
	bool selected;      /* of the last mapping */
	uint32_t table_id;  /* of the last mapping, when selected */
	uint64_t gen;       /* generation of the mapped description (0: never mapped) */
	record_buf relrec;  /* selected: the RELATION record of gen, position/xid/time 0 */

	/* The converter's bookkeeping. In the plain cache: what the output stream last
	 * carried for this relation (any scope's description). */
	uint64_t emitted_gen;
	uint8_t *emitted;   /* that RELATION record (position 0), to compare contents */
	size_t emitted_len;
	/* In a streamed transaction's cache: generation last written to its buffer. */
	uint64_t spooled_gen;
} pg_relcache_entry;

typedef struct pg_relcache_type {
	uint32_t oid;
	int32_t typmod;
	char *name;
} pg_relcache_type;

typedef struct pg_relcache_shared {
	uint64_t gen_counter;
	pg_relcache_type *types; /* type names seen so far */
	int ntypes;
	int cap_types;
	pg_capture_lookup_fn lookup;
	void *lookup_arg;
	pg_capture_type_names_fn type_names;
	void *type_names_arg;
} pg_relcache_shared;

typedef struct pg_relcache {
	pg_relcache_shared *shared;
	const struct pg_relcache *parent; /* the plain cache, for a streamed transaction's */
	pg_relcache_entry **slots;        /* open addressing by relid; NULL = empty */
	size_t cap;
	size_t n;
} pg_relcache;

void pg_relcache_shared_init(pg_relcache_shared *s, pg_capture_lookup_fn lookup, void *lookup_arg,
			     pg_capture_type_names_fn type_names, void *type_names_arg);
void pg_relcache_shared_free(pg_relcache_shared *s);

/* parent: NULL for the plain cache, the plain cache for a streamed transaction's. */
void pg_relcache_init(pg_relcache *rc, pg_relcache_shared *shared, const pg_relcache *parent);
void pg_relcache_free(pg_relcache *rc);

/* The entry of relid, or NULL. An entry may exist undescribed (label NULL): see get. */
pg_relcache_entry *pg_relcache_find(const pg_relcache *rc, uint32_t relid);
/* The entry of relid, created undescribed when missing (for the converter's
 * bookkeeping); NULL when memory ran out. */
pg_relcache_entry *pg_relcache_get(pg_relcache *rc, uint32_t relid);

/* Applies a Relation message (m->type == PGO_RELATION): a description that differs
 * from the cached one replaces it, unmapped. 0, or -1 with err (out of memory). */
int pg_relcache_update(pg_relcache *rc, const pgo_message *m, char *err, size_t errlen);

/* Maps e's current description (when not done yet): asks the lookup, names the column
 * types, encodes the RELATION record. 0, or -1 with err: the lookup failed or gave an
 * unusable mapping, a selected relation now maps elsewhere (a rename during capture;
 * in a streamed transaction's cache, compared with the plain cache's mapping), a type
 * could not be named, or memory ran out. */
int pg_relcache_map(pg_relcache *rc, pg_relcache_entry *e, char *err, size_t errlen);

/* Moves every description of src (a committed streamed transaction's cache) into rc,
 * with its mapping when it has one; rc keeps its output bookkeeping. src is left to be
 * freed. 0, or -1 with err (out of memory). */
int pg_relcache_adopt(pg_relcache *rc, pg_relcache *src, char *err, size_t errlen);

#endif
