/* Validation of a pair of different engines: a connection wrapper that answers the
 * requests of validate_engine.h over the canonical value text (validate_canon.h)
 * instead of each server's own.
 *
 * For a table with client_hash set, HASH and ROW_HASHES are asked of the wrapped
 * connection as ROWS of the range (every column, key order), each value turned into its
 * canonical text and the row hashed here (vd_row_hash_*): count and the sum of the row
 * hashes, or the multiset of row hashes. ROWS and VERSIONS answers come back with their
 * values in canonical text, so the row comparison compares canonical values and names
 * them in reports. Requests about keys (BOUNDS, SAMPLE, SAMPLE_TABLE) and NUDGE pass
 * through unchanged: their values go back to the servers as range bounds. Tables
 * without client_hash pass through entirely (a same-engine pair hashes on the server). */
#ifndef FERRY_VALIDATE_CLIENT_H
#define FERRY_VALIDATE_CLIENT_H

#include "workers/validate_engine.h"

extern const vd_conn_ops vd_client_ops;

/* Wraps inner (taken over: vd_client_free frees it through free_inner). NULL when
 * memory runs out (inner is then freed). */
void *vd_client_new(vd_conn inner, void (*free_inner)(void *impl));
void vd_client_free(void *impl);

/* The canonical form of a ROWS answer of t (version column first when with_version),
 * or of a VERSIONS answer (versions = true), as a new vd_rows in *out. Exposed for the
 * tests. 0, or -1 when memory runs out. */
int vd_client_canon_rows(const vd_table *t, vd_side side, const vd_rows *in, bool with_version, bool versions,
			 vd_rows *out);
/* The HASH answer (count, hash) of ROWS rows of t. 0 or -1. */
int vd_client_hash_rows(const vd_table *t, vd_side side, const vd_rows *in, vd_rows *out);

#endif
