/* Capture's GTID side for a MySQL/MariaDB source: whether this run resumes by GTID or
 * by binlog file:position (said once in the log, with the reason), the GTID state that
 * belongs to each position capture stores or publishes, and the checks and session
 * settings a GTID start needs.
 *
 * MariaDB logs a GTID for every transaction, so a MariaDB source always has GTIDs.
 *  - A fresh task: the state at its start position comes from the server
 *    (BINLOG_GTID_POS(file, pos)).
 *  - A stored position with a stored state: the dump starts after that state
 *    (@slave_connect_state); the server picks the file and the events keep their real
 *    file:pos, which apply's skip compares as before.
 *  - A stored position without one (stored by an older ferry): file:position this time,
 *    the state there taken from the server, stored from then on.
 *  - A stored position that is not the server's (capgtid_same_server): capture_my.c
 *    moves the task onto this server (a switchover) or stops with the reason.
 * A MySQL source resumes by file:position, also with gtid_mode = ON (the client library
 * cannot start a dump from a MySQL GTID set); that is logged once.
 *
 * The state stored with a position is exactly the state there (from the stream's GTID
 * log), or none: never one after it (that would skip transactions). An older one would
 * be safe on the same server (apply skips what it has by file:pos), but exact states let
 * a restart check that the server is the one the positions belong to (capgtid_same_server);
 * "none" lasts only while an apply worker is more than the log's reach behind, and a
 * restart then resumes by file:position. */
#ifndef FERRY_CAPTURE_MY_GTID_H
#define FERRY_CAPTURE_MY_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "workers/my_gtid.h"

typedef struct capgtid {
	bool tracked;            /* a MariaDB source: states are kept and stored */
	bool resume;             /* this run's dump starts from the stored state */
	bool known;              /* the log below is set up */
	my_gtid_state start;     /* the state at (or, stored, at or before) the start position */
	my_gtid_log log;         /* every GTID this run read (my_stream adds them) */
} capgtid;

/* Decides how the run resumes and logs it. source: an ordinary connection; mariadb: the
 * source's flavour; fresh: no stored position (file/offset: the start position just
 * taken); else the stored file and offset, and stored_text its stored state ("" none).
 * 0, or -1 with *err (the connection failed). */
int capgtid_plan(capgtid *g, MYSQL *source, bool mariadb, bool fresh, const char *file, uint32_t offset,
		 const char *stored_text, char **err);

/* The text to store with the fresh start position ("" unknown). */
const char *capgtid_start_text(const capgtid *g, char *buf, size_t size);

/* Before a GTID start: whether the source still has every transaction after the state.
 * 1 yes; 0 no, with *why (malloc'd) saying what is gone and what to do; -1 with *err. */
int capgtid_available(capgtid *g, MYSQL *source, const char *source_name, const char *file, uint32_t offset,
		      char **why, char **err);

/* Before a GTID start: whether the stored position is one of this server's, with the
 * stored state there (each domain the server lists there at the same GTID; a domain
 * it no longer lists, deleted with DELETE_DOMAIN_ID, is let pass).
 * Positions are one server's binlog file:pos; on another server (a failover, an
 * endpoint pointed elsewhere, binary logs reset) apply's skip by position would drop or
 * repeat changes: capture_my.c moves the task onto the server or stops. 1 yes (or
 * cannot tell: the file is purged); 0 no, with *why (malloc'd: the fact, for capture's
 * message); -1 with *err. */
int capgtid_same_server(capgtid *g, MYSQL *source, const char *source_name, const char *file, uint32_t offset,
			char **why, char **err);

/* On the dump connection, before the dump opens: the session variables of a GTID start. */
int capgtid_connect(const capgtid *g, MYSQL *dump, char **err);

/* The state at position as text into buf: buf, or NULL when it is not known (then
 * nothing is stored with the position). */
const char *capgtid_at(capgtid *g, uint64_t position, char *buf, size_t size);

void capgtid_free(capgtid *g);

#endif
