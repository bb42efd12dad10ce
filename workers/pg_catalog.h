/* Reads PostgreSQL's catalog (servers 12..16) into the table model (common/catalog.h).
 *
 * A handful of catalog queries, all with parameters, in one REPEATABLE READ READ ONLY
 * transaction (or inside the caller's own transaction, e.g. one that imported the
 * exported snapshot) and with search_path empty, so type names, defaults and index
 * definitions come back schema-qualified and mean the same on any target. */
#ifndef FERRY_PG_CATALOG_H
#define FERRY_PG_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/catalog.h"

typedef struct pg_catalog_filter {
	/* Schemas to read; NULL or none = every schema except pg_catalog, information_schema,
	 * pg_toast and other pg_* schemas. */
	const char *const *schemas;
	int n_schemas;
	/* Optional: called per table found; false leaves it out before its columns are read. */
	bool (*keep_table)(void *arg, const char *schema, const char *name);
	void *arg;
} pg_catalog_filter;

/* Reads every ordinary and partitioned table of the filter's schemas (partitions are
 * folded into their top parent; tables belonging to extensions are skipped) with their
 * columns, key, indexes, owned sequences and partitions. filter may be NULL.
 * 0 and *out (caller frees with catalog_free) on success; -1 and *err (malloc'd, one
 * line: what was being read, then the server's message, detail and hint) on failure.
 * After a failure, PQstatus(conn) == CONNECTION_BAD tells a lost connection (worth a
 * retry) from an error of the query itself. */
int pg_catalog_read(PGconn *conn, const pg_catalog_filter *filter, catalog **out, char **err);

/* The source's current state of a sequence, for setting the target's at cutover. */
int pg_catalog_sequence_state(PGconn *conn, const catalog_sequence *seq, int64_t *last_value,
			      bool *is_called, char **err);

/* The neutral class of a (non-array) PostgreSQL type from its oid and typmod; enum_type
 * says the type is an enum. Fills cls, length, precision and scale; enum labels and array
 * elements are the caller's. Exposed for the tests. */
void pg_catalog_classify(uint32_t type_oid, int32_t typmod, bool enum_type, catalog_type *out);

#endif
