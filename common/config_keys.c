/* The key table and the value types it uses: how each type is parsed, range-checked,
 * compared, copied, formatted and freed. config.c reads the file; this file knows keys. */
#include "common/config_keys.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#define KB INT64_C(1024)
#define MB (KB * 1024)
#define GB (MB * 1024)
#define TB (GB * 1024)
#define SEC INT64_C(1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* Enum fields are written through an int; the names' order is the enum's order. */
_Static_assert(sizeof(engine_kind) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(sslmode_kind) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(migration_kind) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(table_prep_kind) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(compression_kind) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(log_level) == sizeof(int), "enum fields must be int-sized");
_Static_assert(sizeof(invalid_values_kind) == sizeof(int) && INVALID_VALUES_SUBSTITUTE == 2,
	       "enum fields must be int-sized; invalid_values_names follows the enum");
_Static_assert(ENGINE_MYSQL == 1 && SSLMODE_VERIFY_FULL == 4 && MIGRATION_FULL_LOAD_AND_CDC == 2 &&
		       TABLE_PREP_NOTHING == 2 && COMPRESSION_NONE == 2 && LOG_LEVEL_DEBUG == 3,
	       "enum name tables below follow the enums' order");

static const char *const engine_names[] = {"postgresql", "mysql", NULL};
static const char *const sslmode_names[] = {"disable", "prefer", "require", "verify-ca", "verify-full", NULL};
static const char *const migration_names[] = {"full-load", "cdc", "full-load-and-cdc", NULL};
static const char *const table_prep_names[] = {"drop", "truncate", "nothing", NULL};
static const char *const compression_names[] = {"zstd", "lz4", "none", NULL};
static const char *const log_level_names[] = {"error", "warning", "info", "debug", NULL};
static const char *const invalid_values_names[] = {"error", "null", "substitute", NULL};

/* ---- checks beyond the type ---------------------------------------------------- */

/* ferryctl reaches ferryd through data_dir/ferryd.sock: the path must fit sun_path. */
static int check_data_dir(const char *value, char *why, size_t why_len)
{
	struct sockaddr_un sun;
	size_t max = sizeof(sun.sun_path) - 1 - strlen("/ferryd.sock");

	if (strlen(value) <= max)
		return 0;
	snprintf(why, why_len, "'%s' is too long: the control socket %s/ferryd.sock must fit in %zu bytes",
		 value, value, sizeof(sun.sun_path) - 1);
	return -1;
}

/* "host:port" or "[v6addr]:port"; empty (off) never reaches a check. */
static int check_listen(const char *value, char *why, size_t why_len)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;

	if (!colon || colon == value) {
		snprintf(why, why_len, "'%s' is not HOST:PORT (e.g. 127.0.0.1:9187; empty = off)", value);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || port < 1 || port > 65535) {
		snprintf(why, why_len, "port '%s' is out of range (allowed: 1..65535)", colon + 1);
		return -1;
	}
	return 0;
}

/* The ring's index arithmetic masks with size - 1. */
static int check_power_of_two(const char *value, char *why, size_t why_len)
{
	int64_t bytes, lower = 1;

	if (config_parse_size(value, &bytes) < 0 || (bytes & (bytes - 1)) == 0)
		return 0; /* a bad size was reported by the type already */
	while (lower * 2 <= bytes)
		lower *= 2;
	snprintf(why, why_len, "'%s' is not a power of two (%" PRId64 "MB or %" PRId64 "MB would do)",
		 value, lower / MB, lower * 2 / MB);
	return -1;
}

/* PostgreSQL accepts only lowercase letters, digits and '_' in a slot name (NAMEDATALEN). */
static int check_slot_name(const char *value, char *why, size_t why_len)
{
	size_t len = strlen(value);

	for (const char *c = value; *c; c++) {
		if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_'))
			len = 0;
	}
	if (len >= 1 && len <= 63)
		return 0;
	snprintf(why, why_len, "'%s' is not a valid slot name (lowercase letters, digits and '_', at most 63)",
		 value);
	return -1;
}

static int check_identifier_length(const char *value, char *why, size_t why_len)
{
	if (strlen(value) <= 63)
		return 0;
	snprintf(why, why_len, "'%s' is longer than 63 bytes", value);
	return -1;
}

/* Rename and filter rules are "FROM:TO" / "TABLE: EXPRESSION"; common/rules.c gives them
 * meaning, here we only catch a missing half. */
static int check_colon_pair(const char *value, char *why, size_t why_len)
{
	const char *colon = strchr(value, ':');
	const char *right = colon ? colon + 1 : NULL;

	while (right && isspace((unsigned char)*right))
		right++;
	if (colon && colon != value && *right)
		return 0;
	snprintf(why, why_len, "'%s' is not of the form LEFT:RIGHT", value);
	return -1;
}

/* ---- the table ---------------------------------------------------------------- */

#define FERRYD(field) CONFIG_SECTION_FERRYD, .offset = offsetof(ferryd_config, field)
#define ENDPOINT(field) CONFIG_SECTION_ENDPOINT, .offset = offsetof(endpoint_config, field)
#define TASK(field) CONFIG_SECTION_TASK, .offset = offsetof(task_config, field)
#define RULE(key, field, what)                                                                      \
	{.section = TASK(field), .name = key, .type = KEY_LIST, .doc = what}

static const config_key keys[] = {
	/* [ferryd] */
	{.section = FERRYD(data_dir), .name = "data_dir", .type = KEY_PATH, .default_value = "/var/lib/ferry",
	 .check = check_data_dir, .doc = "spill segments, task state, control socket ferryd.sock"},
	{.section = FERRYD(log_dir), .name = "log_dir", .type = KEY_PATH, .default_value = "/var/log/ferry",
	 .doc = "one log file per process"},
	{.section = FERRYD(pid_file), .name = "pid_file", .type = KEY_PATH,
	 .default_value = "/run/ferry/ferryd.pid", .doc = "written by ferryd at start, removed at exit"},
	{.section = FERRYD(log_level), .name = "log_level", .type = KEY_ENUM, .default_value = "info",
	 .enum_names = log_level_names, .reloadable = true, .doc = "least severe level written"},
	{.section = FERRYD(metrics_listen), .name = "metrics_listen", .type = KEY_STRING,
	 .default_value = "127.0.0.1:9187", .check = check_listen, .allow_empty = true, .reloadable = true,
	 .doc = "Prometheus text + JSON status, HOST:PORT; empty = off"},
	{.section = FERRYD(restart_delay_ms), .name = "restart_delay", .type = KEY_DURATION_MS,
	 .default_value = "1s", .min = 10, .max = HOUR, .reloadable = true,
	 .doc = "wait before restarting a failed worker; doubles with each crash"},
	{.section = FERRYD(restart_delay_max_ms), .name = "restart_delay_max", .type = KEY_DURATION_MS,
	 .default_value = "60s", .min = 10, .max = DAY, .reloadable = true,
	 .doc = "ceiling of that backoff (not below restart_delay)"},
	{.section = FERRYD(restart_stable_ms), .name = "restart_stable", .type = KEY_DURATION_MS,
	 .default_value = "60s", .min = SEC, .max = DAY, .reloadable = true,
	 .doc = "a worker running this long resets its backoff"},
	{.section = FERRYD(crash_loop_max), .name = "crash_loop_max", .type = KEY_INT, .default_value = "5",
	 .min = 1, .max = 1000, .reloadable = true,
	 .doc = "this many crashes of one worker within crash_loop_window put its task in error"},
	{.section = FERRYD(crash_loop_window_ms), .name = "crash_loop_window", .type = KEY_DURATION_MS,
	 .default_value = "5min", .min = SEC, .max = DAY, .reloadable = true,
	 .doc = "window of crash_loop_max"},
	{.section = FERRYD(shutdown_timeout_ms), .name = "shutdown_timeout", .type = KEY_DURATION_MS,
	 .default_value = "30s", .min = SEC, .max = HOUR, .reloadable = true,
	 .doc = "graceful stop deadline; workers still running then get SIGKILL"},

	/* [endpoint NAME] */
	{.section = ENDPOINT(engine), .name = "engine", .type = KEY_ENUM, .enum_names = engine_names,
	 .required = true, .doc = "database kind"},
	{.section = ENDPOINT(host), .name = "host", .type = KEY_STRING, .required = true,
	 .doc = "host name, address, or a Unix socket directory (postgresql)"},
	{.section = ENDPOINT(port), .name = "port", .type = KEY_INT, .min = 1, .max = 65535,
	 .doc = "default 5432 for postgresql, 3306 for mysql"},
	{.section = ENDPOINT(dbname), .name = "dbname", .type = KEY_STRING, .allow_empty = true,
	 .doc = "database; mysql: optional, limits what is seen"},
	{.section = ENDPOINT(user), .name = "user", .type = KEY_STRING, .required = true, .doc = "login role"},
	{.section = ENDPOINT(password_file), .name = "password_file", .type = KEY_PATH, .allow_empty = true,
	 .doc = "first line is the password; keep it mode 0600; read at each connect"},
	{.section = ENDPOINT(password_env), .name = "password_env", .type = KEY_STRING, .allow_empty = true,
	 .doc = "or: environment variable holding the password (not with password_file)"},
	{.section = ENDPOINT(sslmode), .name = "sslmode", .type = KEY_ENUM, .default_value = "prefer",
	 .enum_names = sslmode_names, .doc = "TLS use and server certificate checking"},
	{.section = ENDPOINT(sslrootcert), .name = "sslrootcert", .type = KEY_PATH, .allow_empty = true,
	 .doc = "CA certificates for verify-ca / verify-full"},
	{.section = ENDPOINT(sslcert), .name = "sslcert", .type = KEY_PATH, .allow_empty = true,
	 .doc = "client certificate"},
	{.section = ENDPOINT(sslkey), .name = "sslkey", .type = KEY_PATH, .allow_empty = true,
	 .doc = "client certificate's private key"},
	{.section = ENDPOINT(connect_timeout_s), .name = "connect_timeout", .type = KEY_DURATION_S,
	 .default_value = "10s", .min = SEC, .max = 10 * MIN,
	 .doc = "give up a connection attempt after this long (whole seconds, rounded up)"},

	/* [task NAME] */
	{.section = TASK(source), .name = "source", .type = KEY_STRING, .required = true,
	 .doc = "endpoint read from"},
	{.section = TASK(target), .name = "target", .type = KEY_STRING, .required = true,
	 .doc = "endpoint written to"},
	{.section = TASK(migration_type), .name = "migration_type", .type = KEY_ENUM,
	 .default_value = "full-load-and-cdc", .enum_names = migration_names, .doc = "what the task does"},
	{.section = TASK(target_table_prep), .name = "target_table_prep", .type = KEY_ENUM,
	 .default_value = "drop", .enum_names = table_prep_names,
	 .doc = "what happens to existing target tables before the full load"},
	{.section = TASK(create_tables), .name = "create_tables", .type = KEY_BOOL, .default_value = "yes",
	 .doc = "create missing target tables from the source catalog"},
	{.section = TASK(load_workers), .name = "load_workers", .type = KEY_INT, .default_value = "4",
	 .min = 1, .max = 64, .doc = "parallel full-load workers"},
	{.section = TASK(apply_workers), .name = "apply_workers", .type = KEY_INT, .default_value = "4",
	 .min = 1, .max = 64, .doc = "parallel change-apply workers; each owns a fixed set of tables"},
	{.section = TASK(partition_rows), .name = "partition_rows", .type = KEY_INT64,
	 .default_value = "1000000", .min = 0, .max = INT64_C(1000000000000),
	 .doc = "split tables larger than this by key ranges (one still copied whole when splitting it "
		"would not end the load sooner); 0 = never split"},
	{.section = TASK(commit_rows), .name = "commit_rows", .type = KEY_INT64, .default_value = "10000",
	 .min = 1, .max = 10000000, .doc = "rows per target transaction"},
	{.section = TASK(ring_size), .name = "ring_size", .type = KEY_SIZE, .default_value = "64MB",
	 .min = MB, .max = GB, .check = check_power_of_two,
	 .doc = "shared memory of the task's rings together, split evenly among its apply workers "
		"(each ring the power of two at or below ring_size / apply_workers); a power of two"},
	{.section = TASK(spill_compression), .name = "spill_compression", .type = KEY_ENUM,
	 .default_value = "zstd", .enum_names = compression_names, .doc = "compression of spill segments"},
	{.section = TASK(spill_limit), .name = "spill_limit", .type = KEY_SIZE, .default_value = "10GB",
	 .min = MB, .max = 1024 * TB, .doc = "disk the task's spill may use; reaching it pauses capture"},
	{.section = TASK(slot_name), .name = "slot_name", .type = KEY_STRING, .default_value = "ferry_<task>",
	 .check = check_slot_name, .doc = "postgresql source: replication slot, created if missing"},
	{.section = TASK(publication), .name = "publication", .type = KEY_STRING,
	 .default_value = "ferry_<task>", .check = check_identifier_length,
	 .doc = "postgresql source: publication, created if missing"},
	{.section = TASK(server_id), .name = "server_id", .type = KEY_INT64, .default_value = "4242", .min = 1,
	 .max = UINT32_MAX, .doc = "mysql source: replica server id, unique among the source's replicas"},
	{.section = TASK(invalid_values), .name = "invalid_values", .type = KEY_ENUM, .default_value = "error",
	 .enum_names = invalid_values_names,
	 .doc = "a value the target type cannot hold (zero date...): stop, write NULL, or a documented substitute"},
	RULE("include", include, "selection: schema.table pattern; repeatable, first match wins"),
	RULE("exclude", exclude, "selection: schema.table pattern not to migrate; repeatable"),
	{.section = TASK(rename_schema), .name = "rename_schema", .type = KEY_LIST, .check = check_colon_pair,
	 .doc = "transformation FROM:TO; repeatable"},
	{.section = TASK(rename_table), .name = "rename_table", .type = KEY_LIST, .check = check_colon_pair,
	 .doc = "transformation schema.table:schema.table; repeatable"},
	{.section = TASK(rename_column), .name = "rename_column", .type = KEY_LIST, .check = check_colon_pair,
	 .doc = "transformation schema.table.column:column; repeatable"},
	RULE("exclude_column", exclude_column, "schema.table.column left out; repeatable"),
	{.section = TASK(filter), .name = "filter", .type = KEY_LIST, .check = check_colon_pair,
	 .doc = "schema.table: SQL condition rows must meet; repeatable"},
	RULE("lowercase", lowercase, "schema.table pattern whose target names are lowercased; repeatable"),
	{.section = TASK(validation), .name = "validation", .type = KEY_BOOL, .default_value = "no",
	 .doc = "run a validate worker comparing source and target"},
	{.section = TASK(validation_interval_ms), .name = "validation_interval", .type = KEY_DURATION_MS,
	 .default_value = "5min", .min = SEC, .max = DAY,
	 .doc = "validate worker: a table changed by CDC is checked again at most this often"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

size_t config_key_count(void) { return N_KEYS; }

const config_key *config_key_at(size_t index) { return index < N_KEYS ? &keys[index] : NULL; }

size_t config_key_index(const config_key *key) { return (size_t)(key - keys); }

const config_key *config_key_find(config_section_kind section, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section == section && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

const char *config_section_kind_name(config_section_kind section)
{
	static const char *const names[] = {"ferryd", "endpoint", "task"};
	return names[section];
}

/* Edit distance counting an insertion, deletion, substitution or swap of two neighbours
 * as one edit (optimal string alignment), case-insensitive: enough to tell a typo. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64][64];

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ai != bj);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == bj && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* Close enough to be a typo: at most 2 edits, and fewer than half the word. */
static bool is_typo_of(const char *word, const char *candidate, size_t *best)
{
	size_t d = edit_distance(word, candidate);

	if (d > 2 || d * 2 >= strlen(candidate) || d >= *best)
		return false;
	*best = d;
	return true;
}

const char *config_suggest(const char *word, const char *const *candidates)
{
	const char *found = NULL;
	size_t best = SIZE_MAX;

	for (; *candidates; candidates++) {
		if (is_typo_of(word, *candidates, &best))
			found = *candidates;
	}
	return found;
}

const char *config_key_suggest(config_section_kind section, const char *name)
{
	const char *found = NULL;
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section == section && is_typo_of(name, keys[i].name, &best))
			found = keys[i].name;
	}
	return found;
}

/* ---- value parsers (declared in config.h) -------------------------------------- */

/* Splits "<digits><spaces><unit>"; 0 on success. */
static int split_number(const char *s, int64_t *number, const char **unit)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	*number = v;
	*unit = end;
	return 0;
}

static int scale(int64_t number, int64_t factor, int64_t *out)
{
	if (number > INT64_MAX / factor)
		return -1;
	*out = number * factor;
	return 0;
}

int config_parse_size(const char *s, int64_t *bytes)
{
	static const struct { const char *unit; int64_t factor; } units[] = {
		{"", 1}, {"B", 1}, {"kB", KB}, {"k", KB}, {"MB", MB}, {"M", MB},
		{"GB", GB}, {"G", GB}, {"TB", TB}, {"T", TB},
	};
	int64_t number;
	const char *unit;

	if (split_number(s, &number, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(unit, units[i].unit) == 0)
			return scale(number, units[i].factor, bytes);
	}
	return -1;
}

int config_parse_duration(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t factor; } units[] = {
		{"", SEC}, {"ms", 1}, {"s", SEC}, {"min", MIN}, {"h", HOUR}, {"d", DAY},
	};
	int64_t number;
	const char *unit;

	if (split_number(s, &number, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0)
			return scale(number, units[i].factor, ms);
	}
	return -1;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*out = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

void string_list_add_line(string_list *list, const char *value, int line)
{
	size_t n = (size_t)list->count + 1;
	char **items = realloc(list->items, sizeof(*items) * n);
	bool keep_lines = list->lines || line != 0; /* lines stay NULL while no item has one */
	int *lines = keep_lines ? realloc(list->lines, sizeof(int) * n) : NULL;

	if (items)
		list->items = items;
	if (lines) {
		if (!list->lines) /* first line number: earlier items' lines are unknown */
			memset(lines, 0, sizeof(int) * (size_t)list->count);
		list->lines = lines;
	}
	if (!items || (keep_lines && !lines) || !(items[list->count] = strdup(value))) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	if (list->lines)
		list->lines[list->count] = line;
	list->count++;
}

void string_list_add(string_list *list, const char *value) { string_list_add_line(list, value, 0); }

void string_list_free(string_list *list)
{
	for (int i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	free(list->lines);
	list->items = NULL;
	list->lines = NULL;
	list->count = 0;
}

static char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	if (!copy) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	return copy;
}

/* ---- per-type operations on a field ------------------------------------------- */

#define FIELD(type, obj, key) ((type *)((char *)(obj) + (key)->offset))
#define CFIELD(type, obj, key) ((const type *)((const char *)(obj) + (key)->offset))

/* "64MB" for a whole number of the largest unit, else bytes. */
static void format_size(int64_t bytes, char *buf, size_t len)
{
	static const struct { const char *unit; int64_t factor; } units[] = {
		{"TB", TB}, {"GB", GB}, {"MB", MB}, {"kB", KB},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (bytes != 0 && bytes % units[i].factor == 0) {
			snprintf(buf, len, "%" PRId64 "%s", bytes / units[i].factor, units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64, bytes);
}

static void format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct { const char *unit; int64_t factor; } units[] = {
		{"d", DAY}, {"h", HOUR}, {"min", MIN}, {"s", SEC},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms != 0 && ms % units[i].factor == 0) {
			snprintf(buf, len, "%" PRId64 "%s", ms / units[i].factor, units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64 "ms", ms);
}

static void format_range(const config_key *key, char *buf, size_t len)
{
	char lo[32], hi[32];

	if (key->type == KEY_SIZE) {
		format_size(key->min, lo, sizeof(lo));
		format_size(key->max, hi, sizeof(hi));
	} else if (key->type == KEY_DURATION_MS || key->type == KEY_DURATION_S) {
		format_duration(key->min, lo, sizeof(lo));
		format_duration(key->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%" PRId64, key->min);
		snprintf(hi, sizeof(hi), "%" PRId64, key->max);
	}
	snprintf(buf, len, "%s..%s", lo, hi);
}

void config_key_allowed(const config_key *key, char *buf, size_t len)
{
	char range[80];
	size_t used = 0;

	switch (key->type) {
	case KEY_STRING: snprintf(buf, len, "text"); break;
	case KEY_PATH: snprintf(buf, len, "a path, relative to the config file's directory"); break;
	case KEY_LIST: snprintf(buf, len, "text; repeatable"); break;
	case KEY_BOOL: snprintf(buf, len, "yes | no (also on/off, true/false, 1/0)"); break;
	case KEY_INT:
	case KEY_INT64: format_range(key, buf, len); break;
	case KEY_SIZE:
		format_range(key, range, sizeof(range));
		snprintf(buf, len, "%s; units B, kB, MB, GB, TB (1024-based)", range);
		break;
	case KEY_DURATION_MS:
	case KEY_DURATION_S:
		format_range(key, range, sizeof(range));
		snprintf(buf, len, "%s; units ms, s, min, h, d; a plain number is seconds", range);
		break;
	case KEY_ENUM:
		buf[0] = '\0';
		for (const char *const *n = key->enum_names; *n && used < len; n++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", n == key->enum_names ? "" : " | ", *n);
		break;
	}
}

/* Integer-like types: parse, then range-check. */
static int parse_number(const config_key *key, const char *text, int64_t *out, char *why, size_t why_len)
{
	char allowed[160];
	int rc;
	char *end;

	config_key_allowed(key, allowed, sizeof(allowed));
	if (key->type == KEY_SIZE) {
		rc = config_parse_size(text, out);
	} else if (key->type == KEY_DURATION_MS || key->type == KEY_DURATION_S) {
		rc = config_parse_duration(text, out);
	} else {
		errno = 0;
		*out = strtoll(text, &end, 10);
		rc = (*text == '\0' || *end != '\0' || errno) ? -1 : 0;
	}
	if (rc < 0) {
		snprintf(why, why_len, "'%s' is not a %s (allowed: %s)", text,
			 key->type == KEY_SIZE ? "size" : key->type == KEY_INT || key->type == KEY_INT64 ? "number" : "duration",
			 allowed);
		return -1;
	}
	if (*out < key->min || *out > key->max) {
		snprintf(why, why_len, "'%s' is out of range (allowed: %s)", text, allowed);
		return -1;
	}
	return 0;
}

static int parse_enum(const config_key *key, const char *text, int *out, char *why, size_t why_len)
{
	char allowed[160];
	const char *near;

	for (int i = 0; key->enum_names[i]; i++) {
		if (strcasecmp(text, key->enum_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	config_key_allowed(key, allowed, sizeof(allowed));
	near = config_suggest(text, key->enum_names);
	snprintf(why, why_len, "'%s' is not allowed (allowed: %s)%s%s%s", text, allowed,
		 near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
	return -1;
}

static void replace_string(char **field, char *value)
{
	free(*field);
	*field = value;
}

/* String, path and list values; an empty string clears an optional key. */
static int set_text(const config_key *key, void *obj, const char *text, const char *base_dir, int line,
		    char *why, size_t why_len)
{
	char *value = NULL;

	if (*text && key->type == KEY_PATH) {
		value = config_path_absolute(text, base_dir);
		if (!value) {
			snprintf(why, why_len, "cannot make '%s' absolute: %s", text, strerror(errno));
			return -1;
		}
	} else if (*text) {
		value = xstrdup(text);
	}
	if (value && key->check && key->check(value, why, why_len) < 0) {
		free(value);
		return -1;
	}
	if (key->type == KEY_LIST) {
		string_list_add_line(FIELD(string_list, obj, key), value, line);
		free(value);
	} else {
		replace_string(FIELD(char *, obj, key), value);
	}
	return 0;
}

static int set_scalar(const config_key *key, void *obj, const char *text, char *why, size_t why_len)
{
	int64_t number;
	bool flag;
	int index;

	switch (key->type) {
	case KEY_BOOL:
		if (config_parse_bool(text, &flag) < 0) {
			snprintf(why, why_len, "'%s' is not a boolean (allowed: yes | no, on | off, true | false, 1 | 0)",
				 text);
			return -1;
		}
		*FIELD(bool, obj, key) = flag;
		return 0;
	case KEY_ENUM:
		if (parse_enum(key, text, &index, why, why_len) < 0)
			return -1;
		*FIELD(int, obj, key) = index;
		return 0;
	default:
		break;
	}
	if (parse_number(key, text, &number, why, why_len) < 0)
		return -1;
	if (key->check && key->check(text, why, why_len) < 0)
		return -1;
	if (key->type == KEY_INT)
		*FIELD(int, obj, key) = (int)number;
	else if (key->type == KEY_DURATION_S)
		*FIELD(int, obj, key) = (int)((number + SEC - 1) / SEC);
	else
		*FIELD(int64_t, obj, key) = number;
	return 0;
}

int config_key_set(const config_key *key, void *obj, const char *text, const char *base_dir, int line,
		   char *why, size_t why_len)
{
	char allowed[160];

	if (*text == '\0' && !(key->allow_empty && !key->required)) {
		config_key_allowed(key, allowed, sizeof(allowed));
		snprintf(why, why_len, "empty value (allowed: %s)", allowed);
		return -1;
	}
	switch (key->type) {
	case KEY_STRING:
	case KEY_PATH:
	case KEY_LIST: return set_text(key, obj, text, base_dir, line, why, why_len);
	default: return set_scalar(key, obj, text, why, why_len);
	}
}

static bool strings_equal(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

bool config_key_equal(const config_key *key, const void *a, const void *b)
{
	switch (key->type) {
	case KEY_STRING:
	case KEY_PATH: return strings_equal(*CFIELD(char *, a, key), *CFIELD(char *, b, key));
	case KEY_INT:
	case KEY_DURATION_S:
	case KEY_ENUM: return *CFIELD(int, a, key) == *CFIELD(int, b, key);
	case KEY_INT64:
	case KEY_SIZE:
	case KEY_DURATION_MS: return *CFIELD(int64_t, a, key) == *CFIELD(int64_t, b, key);
	case KEY_BOOL: return *CFIELD(bool, a, key) == *CFIELD(bool, b, key);
	case KEY_LIST: {
		const string_list *la = CFIELD(string_list, a, key), *lb = CFIELD(string_list, b, key);
		if (la->count != lb->count)
			return false;
		for (int i = 0; i < la->count; i++) {
			if (strcmp(la->items[i], lb->items[i]) != 0)
				return false;
		}
		return true;
	}
	}
	return false;
}

void config_key_copy(const config_key *key, void *dst, const void *src)
{
	switch (key->type) {
	case KEY_STRING:
	case KEY_PATH: {
		const char *value = *CFIELD(char *, src, key);
		replace_string(FIELD(char *, dst, key), value ? xstrdup(value) : NULL);
		break;
	}
	case KEY_LIST: {
		const string_list *from = CFIELD(string_list, src, key);
		string_list *to = FIELD(string_list, dst, key);
		string_list_free(to);
		for (int i = 0; i < from->count; i++)
			string_list_add_line(to, from->items[i], from->lines ? from->lines[i] : 0);
		break;
	}
	case KEY_INT:
	case KEY_DURATION_S:
	case KEY_ENUM: *FIELD(int, dst, key) = *CFIELD(int, src, key); break;
	case KEY_INT64:
	case KEY_SIZE:
	case KEY_DURATION_MS: *FIELD(int64_t, dst, key) = *CFIELD(int64_t, src, key); break;
	case KEY_BOOL: *FIELD(bool, dst, key) = *CFIELD(bool, src, key); break;
	}
}

void config_key_free(const config_key *key, void *obj)
{
	if (key->type == KEY_STRING || key->type == KEY_PATH)
		replace_string(FIELD(char *, obj, key), NULL);
	else if (key->type == KEY_LIST)
		string_list_free(FIELD(string_list, obj, key));
}

static char *join_list(const string_list *list)
{
	size_t len = 1;
	char *out;

	for (int i = 0; i < list->count; i++)
		len += strlen(list->items[i]) + 2;
	out = calloc(1, len);
	if (!out) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	for (int i = 0; i < list->count; i++) {
		if (i > 0)
			strcat(out, ", ");
		strcat(out, list->items[i]);
	}
	return out;
}

char *config_key_format(const config_key *key, const void *obj)
{
	char buf[64];

	switch (key->type) {
	case KEY_STRING:
	case KEY_PATH: {
		const char *value = *CFIELD(char *, obj, key);
		return xstrdup(value ? value : "");
	}
	case KEY_LIST: return join_list(CFIELD(string_list, obj, key));
	case KEY_BOOL: return xstrdup(*CFIELD(bool, obj, key) ? "yes" : "no");
	case KEY_ENUM: return xstrdup(key->enum_names[*CFIELD(int, obj, key)]);
	case KEY_INT: snprintf(buf, sizeof(buf), "%d", *CFIELD(int, obj, key)); break;
	case KEY_INT64: snprintf(buf, sizeof(buf), "%" PRId64, *CFIELD(int64_t, obj, key)); break;
	case KEY_SIZE: format_size(*CFIELD(int64_t, obj, key), buf, sizeof(buf)); break;
	case KEY_DURATION_MS: format_duration(*CFIELD(int64_t, obj, key), buf, sizeof(buf)); break;
	case KEY_DURATION_S: format_duration(*CFIELD(int, obj, key) * SEC, buf, sizeof(buf)); break;
	}
	return xstrdup(buf);
}

/* ---- paths -------------------------------------------------------------------- */

/* Folds "", "." and ".." components of an absolute path in place. */
static void canonicalize(char *path)
{
	char *out = path, *in = path;

	while (*in) {
		while (*in == '/')
			in++;
		char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > path && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

char *config_path_absolute(const char *path, const char *base_dir)
{
	char *cwd = NULL, *out;
	const char *base = base_dir;

	if (path[0] != '/' && !base) {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return NULL;
		base = cwd;
	}
	if (path[0] == '/')
		out = xstrdup(path);
	else if (asprintf(&out, "%s/%s", base, path) < 0)
		out = NULL;
	free(cwd);
	if (!out) {
		fprintf(stderr, "ferry: out of memory\n");
		abort();
	}
	canonicalize(out);
	return out;
}
