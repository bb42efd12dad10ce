/* MariaDB GTID states: per replication domain, the last GTID (domain-server-seq) a
 * server logged, in MariaDB's own text form "0-1-100,1-2-7" (domains ascending, no
 * blanks; "" is the empty state, before any transaction). That text is what
 * @@gtid_binlog_pos and BINLOG_GTID_POS(file, pos) return and what a replica gives in
 * @slave_connect_state to have the server start right after it.
 *
 * A state is a fixed-size value (no allocation: capture copies it freely), holding at
 * most MY_GTID_MAX_DOMAINS domains; more is an error that says so. Also the history a
 * capture keeps while it reads (my_gtid_log): which state holds at which binlog
 * position, so the state stored with a resume position is the one that belongs to it. */
#ifndef FERRY_MY_GTID_H
#define FERRY_MY_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MY_GTID_MAX_DOMAINS 64
/* Longest text of a full state: 64 x "4294967295-4294967295-18446744073709551615,". */
#define MY_GTID_TEXT_MAX (MY_GTID_MAX_DOMAINS * 43 + 1)

typedef struct my_gtid_entry {
	uint32_t domain;
	uint32_t server_id;
	uint64_t seq;
} my_gtid_entry;

typedef struct my_gtid_state {
	int n;                                      /* domains in use, ascending in d[] */
	my_gtid_entry d[MY_GTID_MAX_DOMAINS];
} my_gtid_state;

/* Parses text ("" or "D-S-N[,D-S-N...]", blanks around the commas allowed, any domain
 * order) into *out. 0, or -1 with err naming the bad part (a repeated domain, a number
 * out of range, more than MY_GTID_MAX_DOMAINS domains). */
int my_gtid_parse(const char *text, my_gtid_state *out, char *err, size_t errlen);

/* The text form into out; the length, or -1 when size is too small (out then ""). */
int my_gtid_format(const my_gtid_state *s, char *out, size_t size);

/* After a transaction with GTID domain-server_id-seq: the domain's entry becomes it.
 * 0, or -1 when the state has no room for another domain (s unchanged). */
int my_gtid_update(my_gtid_state *s, uint32_t domain, uint32_t server_id, uint64_t seq);

/* dst then holds, per domain, src's entry where src has one, else its own: the state
 * after src's transactions on top of dst's. 0, or -1 when the domains do not fit. */
int my_gtid_merge(my_gtid_state *dst, const my_gtid_state *src);

bool my_gtid_equal(const my_gtid_state *a, const my_gtid_state *b);

/* The entry of a domain, or NULL. */
const my_gtid_entry *my_gtid_find(const my_gtid_state *s, uint32_t domain);

/* Whether a server whose oldest binlog starts at state oldest still has every
 * transaction after state s: false when some domain of oldest is missing from s or has
 * a lower sequence number there (its next transactions were purged); *domain then
 * names the first such domain. */
bool my_gtid_covered(const my_gtid_state *s, const my_gtid_state *oldest, uint32_t *domain);

/* ---- the history of one stream ------------------------------------------------------------- */

/* Capture's record of the GTIDs it read, each at the (record_mysql_position) start of
 * its event: the state at a position P is the base plus every GTID that started before
 * P. Bounded: past MY_GTID_LOG_CAP GTIDs the older half is folded into the base, and
 * the positions before the newest folded GTID can no longer be answered. */
#define MY_GTID_LOG_CAP 32768

typedef struct my_gtid_log_entry {
	uint64_t position;  /* where the GTID event starts */
	my_gtid_entry gtid;
} my_gtid_log_entry;

typedef struct my_gtid_log {
	my_gtid_state base;   /* the state at every position >= base_from, before the entries */
	uint64_t base_from;
	my_gtid_log_entry *e; /* ascending positions; owned */
	int n;
	bool overflow;        /* a domain did not fit: no state is known any more */
} my_gtid_log;

/* start: a state at or before every position the stream will read (the stored or
 * computed start state). 0, or -1 (out of memory). */
int my_gtid_log_init(my_gtid_log *l, const my_gtid_state *start);
void my_gtid_log_free(my_gtid_log *l);
/* A GTID event starting at position (positions must not go down). */
void my_gtid_log_add(my_gtid_log *l, uint64_t position, uint32_t domain, uint32_t server_id, uint64_t seq);
/* The state at position (every GTID that started before it) into *out: true, or false
 * when the log cannot say (position before what it still holds, or overflow). */
bool my_gtid_log_at(const my_gtid_log *l, uint64_t position, my_gtid_state *out);

#endif
