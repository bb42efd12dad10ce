/* The ferryctl commands that work on the databases themselves, in ferryctl's own
 * process, with the endpoints, passwords and rules of the configuration file:
 *   validate [TASK] [--table T] [--json] [--limit N]
 *   cutover TASK [--wait-for-quiet] [--timeout SECONDS] [--json]
 * They ask a running ferryd (control socket) how far its task is. */
#ifndef FERRY_FERRYCTL_DB_H
#define FERRY_FERRYCTL_DB_H

#include <stdbool.h>

bool ferryctl_is_db_command(const char *command);
/* Runs command with the arguments after it; returns ferryctl's exit status. */
int ferryctl_db_command(const char *config_path, const char *command, int argc, char **argv);

#endif
