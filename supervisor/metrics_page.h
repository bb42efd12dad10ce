/* The page GET /metrics serves: ferryd's, each task's, table's and worker's figures in
 * the Prometheus text format, read from the same places as `ferryctl status --json`
 * (the process table, the task table, the workers' and tasks' shared state), so both
 * give the same numbers. doc/metrics.md lists every family. */
#ifndef FERRY_METRICS_PAGE_H
#define FERRY_METRICS_PAGE_H

#include "common/sqlquote.h"

typedef struct supervisor supervisor;

void metrics_page_build(const supervisor *s, strbuf *out);

#endif
