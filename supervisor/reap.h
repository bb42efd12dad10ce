/* Reaping, only from the main loop: waitpid(-1, WNOHANG) until nothing is left, each
 * death logged in PostgreSQL's LogChildExit form and handed to the restart policy. */
#ifndef FERRY_REAP_H
#define FERRY_REAP_H

typedef struct supervisor supervisor;

void reap_children(supervisor *s);

#endif
