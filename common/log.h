/* Logging: one file per process, every line "time level process[pid]: message". */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>

typedef enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3
} log_level;

/* Name shown on every line, e.g. "supervisor" or "apply orders.1". Lines go to stderr
 * until log_open() succeeds. */
void log_set_process(const char *name);
void log_set_level(log_level level);
log_level log_get_level(void);

/* Opens (append, O_CLOEXEC) dir/file and sends lines there from now on; -1 and errno on failure. */
int log_open(const char *dir, const char *file);
/* Opens the same path again and swaps it in (after logrotate moved the old file). */
int log_reopen(void);
/* Closes the log file (the child side of fork does this before opening its own). */
void log_close(void);
/* The fd lines go to, so fork hygiene can leave it alone or close it. */
int log_fd(void);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

const char *log_level_name(log_level level);
/* 0 and *out set on a known name (error, warning, info, debug), -1 otherwise. */
int log_level_parse(const char *name, log_level *out);

#endif
