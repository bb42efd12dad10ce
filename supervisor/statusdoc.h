/* The status document `ferryctl status --json` prints: ferryd itself, each task with
 * its phase, error and workers (pid, state, restarts, last exit, last error). */
#ifndef FERRY_STATUSDOC_H
#define FERRY_STATUSDOC_H

#include "supervisor/jsonbuf.h"

typedef struct supervisor supervisor;

void statusdoc_build(const supervisor *s, jsonbuf *jb);

#endif
