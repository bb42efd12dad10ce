/* Config loader: defaults, value syntax, every error with its exact file:line and key,
 * repeatable keys, the reload diff, passwords, and etc/ferry.ini documenting every key.
 * Each test writes its INI text to a fresh temporary directory. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/config_keys.h"

static char dir[PATH_MAX];
static config_diag diag;
static ferry_config *cfg;
static char *path; /* of the last file written */

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/check_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&diag, 0, sizeof(diag));
	cfg = NULL;
	path = NULL;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void teardown(void)
{
	config_free(cfg);
	config_diag_free(&diag);
	free(path);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to dir/name; returns the malloc'd path. */
static char *write_file(const char *name, const char *text, mode_t mode)
{
	char *p;
	FILE *fp;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	fp = fopen(p, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(p, mode);
	return p;
}

static void assert_counts(int errors, int warnings);

/* Loads text as dir/ferry.ini into cfg, with a fresh diag. */
static ferry_config *load(const char *text)
{
	free(path);
	path = write_file("ferry.ini", text, 0644);
	config_free(cfg);
	config_diag_free(&diag);
	cfg = config_load(path, &diag);
	return cfg;
}

/* Loads text, which must be valid, into a config the caller owns. */
static ferry_config *load_owned(const char *text)
{
	ferry_config *owned = load(text);

	assert_counts(0, 0);
	cfg = NULL;
	return owned;
}

static void dump(const char *what, const string_list *list)
{
	for (int i = 0; i < list->count; i++)
		fprintf(stderr, "  %s: %s\n", what, list->items[i]);
}

/* Asserts list holds exactly "PATH:" + the formatted text. */
static void assert_has(const string_list *list, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void assert_has(const string_list *list, const char *what, const char *fmt, ...)
{
	char *tail, *want;
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&tail, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(&want, "%s:%s", path, tail), 0);
	for (int i = 0; i < list->count; i++) {
		if (strcmp(list->items[i], want) == 0) {
			free(want);
			free(tail);
			return;
		}
	}
	dump(what, list);
	ck_abort_msg("no %s \"%s\"", what, want);
}

#define assert_error(...) assert_has(&diag.errors, "error", __VA_ARGS__)
#define assert_warning(...) assert_has(&diag.warnings, "warning", __VA_ARGS__)

static void assert_counts(int errors, int warnings)
{
	if (diag.errors.count != errors || diag.warnings.count != warnings) {
		dump("error", &diag.errors);
		dump("warning", &diag.warnings);
	}
	ck_assert_int_eq(diag.errors.count, errors);
	ck_assert_int_eq(diag.warnings.count, warnings);
	if (errors)
		ck_assert_ptr_null(cfg);
	else
		ck_assert_ptr_nonnull(cfg);
}

#define ENDPOINTS                                                                                   \
	"[endpoint src]\nengine = postgresql\nhost = db1\nuser = ferry\n"                         \
	"[endpoint dst]\nengine = postgresql\nhost = db2\nuser = ferry\n"

/* ---- defaults --------------------------------------------------------------------- */

START_TEST(defaults_of_every_section)
{
	load(ENDPOINTS "[task Orders-EU]\nsource = src\ntarget = dst\n");
	assert_counts(0, 0);
	const ferryd_config *f = &cfg->ferryd;
	ck_assert_str_eq(f->data_dir, "/var/lib/ferry");
	ck_assert_str_eq(f->log_dir, "/var/log/ferry");
	ck_assert_str_eq(f->pid_file, "/run/ferry/ferryd.pid");
	ck_assert_int_eq(f->log_level, LOG_LEVEL_INFO);
	ck_assert_str_eq(f->metrics_listen, "127.0.0.1:9187");
	ck_assert_int_eq(f->restart_delay_ms, 1000);
	ck_assert_int_eq(f->restart_delay_max_ms, 60000);
	ck_assert_int_eq(f->restart_stable_ms, 60000);
	ck_assert_int_eq(f->crash_loop_max, 5);
	ck_assert_int_eq(f->crash_loop_window_ms, 300000);
	ck_assert_int_eq(f->shutdown_timeout_ms, 30000);

	ck_assert_int_eq(cfg->n_endpoints, 2);
	const endpoint_config *e = config_find_endpoint(cfg, "src");
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->line, 1);
	ck_assert_int_eq(e->engine, ENGINE_POSTGRESQL);
	ck_assert_str_eq(e->host, "db1");
	ck_assert_int_eq(e->port, 5432);
	ck_assert_ptr_null(e->dbname);
	ck_assert_ptr_null(e->password_file);
	ck_assert_ptr_null(e->password_env);
	ck_assert_int_eq(e->sslmode, SSLMODE_PREFER);
	ck_assert_ptr_null(e->sslrootcert);
	ck_assert_int_eq(e->connect_timeout_s, 10);

	const task_config *t = config_find_task(cfg, "Orders-EU");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->line, 9);
	ck_assert_ptr_eq(t->source_ep, config_find_endpoint(cfg, "src"));
	ck_assert_ptr_eq(t->target_ep, config_find_endpoint(cfg, "dst"));
	ck_assert_int_eq(t->migration_type, MIGRATION_FULL_LOAD_AND_CDC);
	ck_assert_int_eq(t->target_table_prep, TABLE_PREP_DROP);
	ck_assert(t->create_tables);
	ck_assert_int_eq(t->load_workers, 4);
	ck_assert_int_eq(t->apply_workers, 4);
	ck_assert_int_eq(t->partition_rows, 1000000);
	ck_assert_int_eq(t->commit_rows, 10000);
	ck_assert_int_eq(t->ring_size, 64 << 20);
	ck_assert_int_eq(t->spill_compression, COMPRESSION_ZSTD);
	ck_assert_int_eq(t->spill_limit, (int64_t)10 << 30);
	ck_assert_str_eq(t->slot_name, "ferry_orders_eu"); /* lowercased, '-' -> '_' */
	ck_assert_str_eq(t->publication, "ferry_orders_eu");
	ck_assert_int_eq(t->server_id, 4242);
	ck_assert_int_eq(t->include.count, 0);
	ck_assert(!t->validation);
}
END_TEST

START_TEST(mysql_port_default_and_explicit_values)
{
	load("[ferryd]\nlog_level = DEBUG\nmetrics_listen =\nrestart_delay = 250ms\n"
	     "[endpoint m]\nengine = mysql\nhost = h\nuser = u\nconnect_timeout = 1500ms\n"
	     "[endpoint p]\nengine = postgresql\nhost = h\nport = 6543\nuser = u\nsslmode = verify-full\n"
	     "[task t]\nsource = m\ntarget = p\nmigration_type = cdc\ntarget_table_prep = nothing\n"
	     "create_tables = off\nring_size = 1GB\nspill_compression = lz4\nspill_limit = 512MB\n"
	     "server_id = 4294967295\nvalidation = TRUE\npartition_rows = 0\n");
	assert_counts(0, 0);
	ck_assert_int_eq(cfg->ferryd.log_level, LOG_LEVEL_DEBUG);
	ck_assert_ptr_null(cfg->ferryd.metrics_listen); /* empty = off */
	ck_assert_int_eq(cfg->ferryd.restart_delay_ms, 250);
	ck_assert_int_eq(cfg->endpoints[0].port, 3306);
	ck_assert_int_eq(cfg->endpoints[0].connect_timeout_s, 2); /* rounded up */
	ck_assert_int_eq(cfg->endpoints[1].port, 6543);
	ck_assert_int_eq(cfg->endpoints[1].sslmode, SSLMODE_VERIFY_FULL);
	const task_config *t = &cfg->tasks[0];
	ck_assert_int_eq(t->migration_type, MIGRATION_CDC);
	ck_assert_int_eq(t->target_table_prep, TABLE_PREP_NOTHING);
	ck_assert(!t->create_tables);
	ck_assert_int_eq(t->ring_size, 1 << 30);
	ck_assert_int_eq(t->spill_compression, COMPRESSION_LZ4);
	ck_assert_int_eq(t->spill_limit, 512 << 20);
	ck_assert_int_eq(t->server_id, 4294967295LL);
	ck_assert(t->validation);
	ck_assert_int_eq(t->partition_rows, 0);
}
END_TEST

START_TEST(no_task_is_valid)
{
	load("[ferryd]\nlog_level = warning\n");
	assert_counts(0, 0);
	ck_assert_int_eq(cfg->n_tasks, 0);
	ck_assert_int_eq(cfg->n_endpoints, 0);
	load("");
	assert_counts(0, 0);
	ck_assert_str_eq(cfg->ferryd.data_dir, "/var/lib/ferry");
}
END_TEST

/* Every default goes through the same parser as a value from a file, and what
 * config_key_format prints parses back to the same value. */
START_TEST(defaults_parse_and_format_round_trips)
{
	union { ferryd_config f; endpoint_config e; task_config t; } a, b;
	char why[512];

	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		if (!key->default_value)
			continue;
		const char *text0 = strstr(key->default_value, "<task>") ? "ferry_t" : key->default_value;
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		ck_assert_msg(config_key_set(key, &a, text0, "/", 0, why, sizeof(why)) == 0, "%s: %s", key->name, why);
		char *text = config_key_format(key, &a);
		ck_assert_msg(config_key_set(key, &b, text, "/", 0, why, sizeof(why)) == 0, "%s: %s", key->name, why);
		ck_assert_msg(config_key_equal(key, &a, &b), "%s: '%s' does not round-trip", key->name, text);
		free(text);
		config_key_free(key, &a);
		config_key_free(key, &b);
	}
}
END_TEST

START_TEST(key_table_is_consistent)
{
	const config_key *level = config_key_find(CONFIG_SECTION_FERRYD, "log_level");
	char allowed[200];

	for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++)
		ck_assert_str_eq(level->enum_names[l], log_level_name((log_level)l));
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		ck_assert_ptr_eq(config_key_find(key->section, key->name), key); /* no duplicates */
		ck_assert_uint_eq(config_key_index(key), i);
		ck_assert_msg(key->doc && *key->doc, "%s has no doc", key->name);
		ck_assert_msg(!(key->required && key->default_value), "%s: required with a default", key->name);
	}
	config_key_allowed(config_key_find(CONFIG_SECTION_TASK, "ring_size"), allowed, sizeof(allowed));
	ck_assert_str_eq(allowed, "1MB..1GB; units B, kB, MB, GB, TB (1024-based)");
	ck_assert_ptr_null(config_key_at(config_key_count()));
}
END_TEST

/* ---- value syntax ------------------------------------------------------------------ */

START_TEST(sizes)
{
	int64_t v;

	ck_assert_int_eq(config_parse_size("1024", &v), 0);
	ck_assert_int_eq(v, 1024);
	ck_assert_int_eq(config_parse_size("512kB", &v), 0);
	ck_assert_int_eq(v, 512 * 1024);
	ck_assert_int_eq(config_parse_size("64MB", &v), 0);
	ck_assert_int_eq(v, 64 << 20);
	ck_assert_int_eq(config_parse_size("64 mb", &v), 0);
	ck_assert_int_eq(v, 64 << 20);
	ck_assert_int_eq(config_parse_size("10GB", &v), 0);
	ck_assert_int_eq(v, (int64_t)10 << 30);
	ck_assert_int_eq(config_parse_size("2TB", &v), 0);
	ck_assert_int_eq(v, (int64_t)2 << 40);
	ck_assert_int_eq(config_parse_size("3G", &v), 0);
	ck_assert_int_eq(v, (int64_t)3 << 30);
	ck_assert_int_eq(config_parse_size("7B", &v), 0);
	ck_assert_int_eq(v, 7);
	const char *bad[] = {"", "MB", "-1MB", "1.5GB", "10XB", "10 M B", "99999999999TB",
			     "99999999999999999999", " 5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_size(bad[i], &v) == -1, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(durations)
{
	int64_t v;

	ck_assert_int_eq(config_parse_duration("200ms", &v), 0);
	ck_assert_int_eq(v, 200);
	ck_assert_int_eq(config_parse_duration("5s", &v), 0);
	ck_assert_int_eq(v, 5000);
	ck_assert_int_eq(config_parse_duration("5", &v), 0); /* plain = seconds */
	ck_assert_int_eq(v, 5000);
	ck_assert_int_eq(config_parse_duration("2min", &v), 0);
	ck_assert_int_eq(v, 120000);
	ck_assert_int_eq(config_parse_duration("1h", &v), 0);
	ck_assert_int_eq(v, 3600000);
	ck_assert_int_eq(config_parse_duration("1d", &v), 0);
	ck_assert_int_eq(v, 86400000);
	ck_assert_int_eq(config_parse_duration("3 s", &v), 0);
	ck_assert_int_eq(v, 3000);
	const char *bad[] = {"", "s", "5m", "5sec", "-5s", "1.5s", "5S", "9999999999999999d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(config_parse_duration(bad[i], &v) == -1, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(bools)
{
	const char *yes[] = {"yes", "on", "true", "1", "YES", "True"};
	const char *no[] = {"no", "off", "false", "0", "No"};
	const char *bad[] = {"", "y", "2", "maybe", "yess"};
	bool v;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = false;
		ck_assert_int_eq(config_parse_bool(yes[i], &v), 0);
		ck_assert(v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = true;
		ck_assert_int_eq(config_parse_bool(no[i], &v), 0);
		ck_assert(!v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(config_parse_bool(bad[i], &v), -1);
}
END_TEST

START_TEST(bad_values_say_what_is_allowed)
{
	load("[ferryd]\n"			  /* 1 */
	     "log_level = verbose\n"		  /* 2 */
	     "restart_delay = 5m\n"		  /* 3 */
	     "crash_loop_max = five\n"		  /* 4 */
	     "shutdown_timeout = 2h\n"		  /* 5 */
	     "metrics_listen = localhost\n"	  /* 6 */
	     "[endpoint e]\n"			  /* 7 */
	     "engine = postgres\n"		  /* 8 */
	     "host = h\nuser = u\n"		  /* 9, 10 */
	     "sslmode = strict\n"		  /* 11 */
	     "[task t]\n"			  /* 12 */
	     "validation = maybe\n"		  /* 13 */
	     "spill_limit = 10XB\n"		  /* 14 */
	     "migration_type = full\n"		  /* 15 */
	     "host = x\n"			  /* 16 */
	     "commit_rows =\n"			  /* 17 */
	     "slot_name = Bad-Slot\n"		  /* 18 */
	     "rename_table = public.users\n"	  /* 19 */
	     "source = e\ntarget = e\n");	  /* 20, 21 */
	assert_error("2: [ferryd] log_level: 'verbose' is not allowed (allowed: error | warning | info | debug)");
	assert_error("3: [ferryd] restart_delay: '5m' is not a duration (allowed: 10ms..1h; units ms, s, min, h, d; "
		     "a plain number is seconds)");
	assert_error("4: [ferryd] crash_loop_max: 'five' is not a number (allowed: 1..1000)");
	assert_error("5: [ferryd] shutdown_timeout: '2h' is out of range (allowed: 1s..1h; units ms, s, min, h, d; "
		     "a plain number is seconds)");
	assert_error("6: [ferryd] metrics_listen: 'localhost' is not HOST:PORT (e.g. 127.0.0.1:9187; empty = off)");
	assert_error("8: [endpoint e] engine: 'postgres' is not allowed (allowed: postgresql | mysql); "
		     "did you mean postgresql?");
	assert_error("11: [endpoint e] sslmode: 'strict' is not allowed "
		     "(allowed: disable | prefer | require | verify-ca | verify-full)");
	assert_error("13: [task t] validation: 'maybe' is not a boolean (allowed: yes | no, on | off, true | false, 1 | 0)");
	assert_error("14: [task t] spill_limit: '10XB' is not a size (allowed: 1MB..1024TB; units B, kB, MB, GB, TB "
		     "(1024-based))");
	assert_error("15: [task t] migration_type: 'full' is not allowed (allowed: full-load | cdc | full-load-and-cdc)");
	assert_error("16: [task t] host: unknown key here; it belongs in [endpoint NAME]");
	assert_error("17: [task t] commit_rows: empty value (allowed: 1..10000000)");
	assert_error("18: [task t] slot_name: 'Bad-Slot' is not a valid slot name (lowercase letters, digits and '_', "
		     "at most 63)");
	assert_error("19: [task t] rename_table: 'public.users' is not of the form LEFT:RIGHT");
	assert_error("21: [task t] target: is the source endpoint 'e' too; a task copies between two endpoints");
	assert_counts(15, 0);
}
END_TEST

START_TEST(ranges_ports_workers_ring)
{
	load("[ferryd]\nmetrics_listen = 127.0.0.1:99999\n"	   /* 1, 2 */
	     "restart_delay = 10s\nrestart_delay_max = 5s\n"	   /* 3, 4 */
	     "[endpoint a]\nengine = mysql\nhost = h\nuser = u\n" /* 5-8 */
	     "port = 0\n"					   /* 9 */
	     "[endpoint b]\nengine = mysql\nhost = h\nuser = u\n" /* 10-13 */
	     "port = 65536\n"					   /* 14 */
	     "[task t]\nsource = a\ntarget = b\n"		   /* 15-17 */
	     "load_workers = 65\nserver_id = 1\n"		   /* 18, 19 */
	     "apply_workers = 0\n"				   /* 20 */
	     "ring_size = 100MB\n"				   /* 21 */
	     "[task u]\nsource = a\ntarget = b\n"		   /* 22-24 */
	     "ring_size = 2GB\n"				   /* 25 */
	     "load_workers = 64\napply_workers = 1\n"		   /* 26, 27: limits are fine */
	     "server_id = 0\n");				   /* 28 */
	assert_error("2: [ferryd] metrics_listen: port '99999' is out of range (allowed: 1..65535)");
	assert_error("4: [ferryd] restart_delay_max: is below restart_delay");
	assert_error("9: [endpoint a] port: '0' is out of range (allowed: 1..65535)");
	assert_error("14: [endpoint b] port: '65536' is out of range (allowed: 1..65535)");
	assert_error("18: [task t] load_workers: '65' is out of range (allowed: 1..64)");
	assert_error("20: [task t] apply_workers: '0' is out of range (allowed: 1..64)");
	assert_error("21: [task t] ring_size: '100MB' is not a power of two (64MB or 128MB would do)");
	assert_error("25: [task u] ring_size: '2GB' is out of range (allowed: 1MB..1GB; units B, kB, MB, GB, TB "
		     "(1024-based))");
	assert_error("28: [task u] server_id: '0' is out of range (allowed: 1..4294967295)");
	assert_counts(9, 0);
}
END_TEST

/* ---- structure errors -------------------------------------------------------------- */

START_TEST(unknown_sections_and_keys)
{
	load("stray = 1\n"		 /* 1 */
	     "[ferryd]\n"		 /* 2 */
	     "lgo_dir = /x\n"		 /* 3 */
	     "load_workers = 4\n"	 /* 4 */
	     "colour = blue\n"		 /* 5 */
	     "[foo]\n"			 /* 6 */
	     "a = 1\n"			 /* 7: ignored with its section */
	     "[taks orders]\n"		 /* 8 */
	     "[endpont x]\n"		 /* 9 */
	     "[task bad/name]\n"	 /* 10 */
	     "[endpoint]\n"		 /* 11 */
	     "[ferryd extra]\n"		 /* 12 */
	     "[Task t]\n");		 /* 13 */
	assert_error("1: stray: key outside any section (put it under [ferryd], [endpoint NAME] or [task NAME])");
	assert_error("3: [ferryd] lgo_dir: unknown key; did you mean log_dir?");
	assert_error("4: [ferryd] load_workers: unknown key here; it belongs in [task NAME]");
	assert_error("5: [ferryd] colour: unknown key");
	assert_error("6: [foo]: unknown section (allowed: [ferryd], [endpoint NAME], [task NAME])");
	assert_error("8: [taks orders]: unknown section; did you mean [task orders]?");
	assert_error("9: [endpont x]: unknown section; did you mean [endpoint x]?");
	assert_error("10: [task bad/name]: not a valid name (letters, digits, '_' and '-', at most 48)");
	assert_error("11: [endpoint]: needs a name: [endpoint NAME]");
	assert_error("12: [ferryd]: takes no name (found 'extra')");
	assert_error("13: [Task t]: unknown section; did you mean [task t]?");
	assert_counts(11, 0);
}
END_TEST

START_TEST(duplicates)
{
	load("[ferryd]\n"		       /* 1 */
	     "data_dir = /a\n"		       /* 2 */
	     "data_dir = /b\n"		       /* 3 */
	     ENDPOINTS			       /* 4-11 */
	     "[task t]\nsource = src\n"	       /* 12, 13 */
	     "target = dst\ntarget = src\n"    /* 14, 15 */
	     "include = a.*\ninclude = b.*\n"  /* 16, 17: repeatable */
	     "[ferryd]\n"		       /* 18 */
	     "log_dir = /ignored\n"	       /* 19 */
	     "[endpoint src]\n"		       /* 20 */
	     "[task t]\n");		       /* 21 */
	assert_error("3: [ferryd] data_dir: duplicate key (first set at line 2)");
	assert_error("15: [task t] target: duplicate key (first set at line 14)");
	assert_error("18: [ferryd]: duplicate section (first at line 1)");
	assert_error("20: [endpoint src]: duplicate section (first at line 4)");
	assert_error("21: [task t]: duplicate section (first at line 12)");
	assert_counts(5, 0);
}
END_TEST

START_TEST(missing_required_keys_point_at_the_header)
{
	load("[endpoint e]\n"	      /* 1 */
	     "port = 5432\n"	      /* 2 */
	     "\n"		      /* 3 */
	     "[task t]\n"	      /* 4 */
	     "load_workers = 2\n");   /* 5 */
	assert_error("1: [endpoint e] engine: required key is missing");
	assert_error("1: [endpoint e] host: required key is missing");
	assert_error("1: [endpoint e] user: required key is missing");
	assert_error("4: [task t] source: required key is missing");
	assert_error("4: [task t] target: required key is missing");
	assert_counts(5, 0);
	/* a present but bad required value is one error, not two */
	load("[endpoint e]\nengine = oracle\nhost = h\nuser = u\n");
	assert_error("2: [endpoint e] engine: 'oracle' is not allowed (allowed: postgresql | mysql)");
	assert_counts(1, 0);
}
END_TEST

START_TEST(undefined_endpoints)
{
	load(ENDPOINTS			    /* 1-8 */
	     "[task t]\n"		    /* 9 */
	     "source = nothere\n"	    /* 10 */
	     "target = dst\n");		    /* 11 */
	assert_error("10: [task t] source: no [endpoint nothere] is defined (defined: src, dst)");
	assert_counts(1, 0);
	load("[task t]\nsource = a\ntarget = b\n");
	assert_error("2: [task t] source: no [endpoint a] is defined (defined: none)");
	assert_error("3: [task t] target: no [endpoint b] is defined (defined: none)");
	assert_counts(2, 0);
}
END_TEST

START_TEST(syntax_errors)
{
	load("[ferryd]\n"			 /* 1 */
	     "just some words\n"		 /* 2 */
	     "= value\n"			 /* 3 */
	     "[task t\n"			 /* 4 */
	     "[task u] trailing\n"		 /* 5 */
	     "log_level = debug\n"		 /* 6: after a rejected header: ignored */
	     "[ferryd ; comment]\n");		 /* 7: the comment hides the ']' */
	assert_error("2: [ferryd]: expected 'key = value'");
	assert_error("3: [ferryd]: missing key name before '='");
	assert_error("4: section header without closing ']'");
	assert_error("5: unexpected text after ']': 'trailing'");
	assert_error("7: section header without closing ']'");
	assert_counts(5, 0);
}
END_TEST

START_TEST(over_long_lines)
{
	char text[1024], value[256];

	/* "filter = s.t: " is 14 bytes: a 198-byte line passes, a 199-byte one is rejected */
	memset(value, 'x', sizeof(value));
	snprintf(text, sizeof(text),
		 ENDPOINTS "[task t]\nsource = src\ntarget = dst\n" /* 1-11 */
			   "filter = s.t: %.*s\n"			     /* 12: 198 bytes */
			   "filter = s.t: %.*s\n"			     /* 13: 199 bytes */
			   "[endpoint %.*s]\n",			     /* 14 */
		 184, value, 185, value, 200, value);
	load(text);
	assert_error("13: [task t] filter: line too long (at most 198 bytes)");
	assert_error("14: line too long (at most 198 bytes)");
	assert_counts(2, 0);
	/* the line is never split into a second key: a long required key counts as seen */
	snprintf(text, sizeof(text), ENDPOINTS "[task t]\nsource = %.*s\ntarget = dst\n", 195, value);
	load(text);
	assert_error("10: [task t] source: line too long (at most 198 bytes)");
	assert_counts(1, 0);
}
END_TEST

START_TEST(comments_indentation_bom_crlf)
{
	load("\xEF\xBB\xBF[ferryd]\r\n"			/* 1 */
	     "  log_level = debug   ; inline comment\r\n"	/* 2 */
	     "  data_dir = /srv/ferry;data\r\n"		/* 3: ';' without a space is data */
	     "# hash comment\n"				/* 4 */
	     "; semicolon comment\n"			/* 5 */
	     ENDPOINTS					/* 6-13 */
	     "[task t] ; comment after a header\n"	/* 14 */
	     "  source = src\n"				/* 15: indented, not a continuation */
	     "  target = dst\n"				/* 16 */
	     "filter = public.t: note = 'a;b'\n"	/* 17: ';' without a space is data */
	     "filter = public.u: x # y\n");		/* 18: '#' inside a value is data */
	assert_counts(0, 0);
	ck_assert_int_eq(cfg->ferryd.log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg->ferryd.data_dir, "/srv/ferry;data");
	ck_assert_str_eq(cfg->tasks[0].source, "src");
	ck_assert_str_eq(cfg->tasks[0].target, "dst");
	ck_assert_int_eq(cfg->tasks[0].line, 14);
	ck_assert_int_eq(cfg->tasks[0].filter.count, 2);
	ck_assert_str_eq(cfg->tasks[0].filter.items[0], "public.t: note = 'a;b'");
	ck_assert_str_eq(cfg->tasks[0].filter.items[1], "public.u: x # y");
}
END_TEST

START_TEST(inline_comment_cutting_a_rule_is_an_error)
{
	/* " ;" starts a comment even inside quotes: the filter loses its closing quote, and
	 * the rule check says so instead of migrating with half a condition. */
	load("[ferryd]\n"					/* 1 */
	     "log_level = info\n"				/* 2 */
	     "data_dir = /srv/ferry\n"			/* 3 */
	     "# x\n"						/* 4 */
	     "; y\n"						/* 5 */
	     ENDPOINTS					/* 6-13 */
	     "[task t]\n"					/* 14 */
	     "source = src\n"				/* 15 */
	     "target = dst\n"				/* 16 */
	     "filter = public.t: note = 'a ;b'\n");		/* 17 */
	assert_counts(1, 0);
	assert_error("17: [task t] filter: 'public.t: note = 'a': the ' at character 8 is never closed");
}
END_TEST

START_TEST(unreadable_file)
{
	path = strdup("/nonexistent/ferry.ini");
	cfg = config_load(path, &diag);
	assert_error(" cannot open: No such file or directory");
	assert_counts(1, 0);
	free(path);
	path = strdup(dir); /* a directory opens, then fails to read */
	cfg = config_load(path, &diag);
	assert_error("1: cannot read: Is a directory");
}
END_TEST

/* Errors from checks that run after reading come out in line order with the rest. */
START_TEST(errors_come_in_line_order)
{
	load("[endpoint e]\n"		 /* 1: missing engine, host, user (reported after reading) */
	     "colour = red\n");		 /* 2 */
	assert_counts(4, 0);
	ck_assert_ptr_nonnull(strstr(diag.errors.items[3], ":2: [endpoint e] colour: unknown key"));
	ck_assert_int_eq(diag.errors.lines[0], 1);
	ck_assert_int_eq(diag.errors.lines[3], 2);
}
END_TEST

/* ---- tasks sharing a source, engine-specific keys ----------------------------------- */

START_TEST(tasks_sharing_a_source_server)
{
	load("[endpoint pg1]\nengine = postgresql\nhost = h\nuser = u\n"	   /* 1-4 */
	     "[endpoint pg1b]\nengine = postgresql\nhost = h\nport = 5432\nuser = v\n" /* 5-9: same server */
	     "[endpoint my]\nengine = mysql\nhost = m\nuser = u\n"		   /* 10-13 */
	     "[task a]\nsource = pg1\ntarget = my\nslot_name = shared\n"	   /* 14-17 */
	     "[task b]\nsource = pg1b\ntarget = my\nslot_name = shared\n"	   /* 18-21 */
	     "[task c]\nsource = my\ntarget = pg1\n"				   /* 22-24 */
	     "[task d]\nsource = my\ntarget = pg1\n"				   /* 25-27: default 4242 twice */
	     "[task e]\nsource = my\ntarget = pg1\nserver_id = 7\nslot_name = x\n"); /* 28-32 */
	assert_error("21: [task b] slot_name: 'shared' is also the slot of [task a] on the same source server; "
		     "each task needs its own");
	assert_error("25: [task d] server_id: 4242 is also the server_id of [task c] on the same source server; "
		     "each task needs its own");
	assert_warning("32: [task e] slot_name: ignored: source endpoint 'my' is not postgresql");
	assert_counts(2, 1);
}
END_TEST

/* ---- repeatable keys ------------------------------------------------------------ */

START_TEST(repeatable_keys_keep_order_and_lines)
{
	load(ENDPOINTS					/* 1-8 */
	     "[task t]\nsource = src\ntarget = dst\n"	/* 9-11 */
	     "exclude = public.audit_*\n"		/* 12 */
	     "include = public.*\n"			/* 13 */
	     "include = app.*\n"			/* 14 */
	     "rename_schema = public:app\n"		/* 15 */
	     "include = zz.*\n"				/* 16 */
	     "rename_column = public.users.email_addr:email\n" /* 17 */
	     "exclude_column = public.users.password_hash\n"	/* 18 */
	     "lowercase = app.*\n");			/* 19 */
	assert_counts(0, 0);
	const task_config *t = &cfg->tasks[0];
	ck_assert_int_eq(t->include.count, 3);
	ck_assert_str_eq(t->include.items[0], "public.*");
	ck_assert_str_eq(t->include.items[1], "app.*");
	ck_assert_str_eq(t->include.items[2], "zz.*");
	ck_assert_ptr_nonnull(t->include.lines);
	ck_assert_int_eq(t->include.lines[0], 13);
	ck_assert_int_eq(t->include.lines[2], 16);
	ck_assert_int_eq(t->exclude.count, 1);
	ck_assert_int_eq(t->exclude.lines[0], 12);
	ck_assert_str_eq(t->rename_schema.items[0], "public:app");
	ck_assert_str_eq(t->rename_column.items[0], "public.users.email_addr:email");
	ck_assert_str_eq(t->exclude_column.items[0], "public.users.password_hash");
	ck_assert_str_eq(t->lowercase.items[0], "app.*");
	ck_assert_int_eq(t->lowercase.lines[0], 19);
}
END_TEST

START_TEST(string_list_lines_stay_parallel)
{
	string_list l = {0};

	string_list_add(&l, "a");
	ck_assert_ptr_null(l.lines); /* no line numbers: none kept */
	string_list_add_line(&l, "b", 7);
	string_list_add(&l, "c");
	ck_assert_int_eq(l.count, 3);
	ck_assert_int_eq(l.lines[0], 0);
	ck_assert_int_eq(l.lines[1], 7);
	ck_assert_int_eq(l.lines[2], 0);
	ck_assert_str_eq(l.items[2], "c");
	string_list_free(&l);
	ck_assert_int_eq(l.count, 0);
	ck_assert_ptr_null(l.items);
}
END_TEST

/* ---- paths ----------------------------------------------------------------------- */

START_TEST(paths_are_absolute)
{
	char cwd[PATH_MAX], *want;

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(mkdir(strcat(strcpy((char[PATH_MAX]){0}, dir), "/etc"), 0755), 0);
	free(path);
	path = write_file("etc/ferry.ini",
			  "[ferryd]\ndata_dir = state\nlog_dir = ../logs/./x//\npid_file = /run/f.pid\n"
			  "[endpoint e]\nengine = postgresql\nhost = h\nuser = u\nsslrootcert = certs/ca.pem\n",
			  0644);
	ck_assert_int_eq(chdir(dir), 0);
	cfg = config_load("./etc/../etc/ferry.ini", &diag);
	ck_assert_int_eq(chdir(cwd), 0);
	assert_counts(0, 0);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_int_ge(asprintf(&want, "%s/etc/state", dir), 0);
	ck_assert_str_eq(cfg->ferryd.data_dir, want);
	free(want);
	ck_assert_int_ge(asprintf(&want, "%s/logs/x", dir), 0);
	ck_assert_str_eq(cfg->ferryd.log_dir, want);
	free(want);
	ck_assert_str_eq(cfg->ferryd.pid_file, "/run/f.pid");
	ck_assert_int_ge(asprintf(&want, "%s/etc/certs/ca.pem", dir), 0);
	ck_assert_str_eq(cfg->endpoints[0].sslrootcert, want);
	free(want);

	want = config_path_absolute("/a/./b/../../..//c", NULL);
	ck_assert_str_eq(want, "/c");
	free(want);
}
END_TEST

START_TEST(data_dir_must_fit_the_socket_path)
{
	char text[300];

	snprintf(text, sizeof(text), "[ferryd]\ndata_dir = /%0*d\n", 100, 0);
	load(text);
	ck_assert_int_eq(diag.errors.count, 1);
	ck_assert_ptr_nonnull(strstr(diag.errors.items[0], ":2: [ferryd] data_dir: '/000"));
	ck_assert_ptr_nonnull(strstr(diag.errors.items[0], "/ferryd.sock must fit in 107 bytes"));
}
END_TEST

/* ---- passwords --------------------------------------------------------------------- */

START_TEST(password_file_checks)
{
	char *pw = write_file("pw-open", "secret\n", 0644), *text;

	ck_assert_int_ge(asprintf(&text, "[endpoint e]\nengine = mysql\nhost = h\nuser = u\n"
					 "password_file = pw-open\n"			     /* 5 */
					 "[endpoint f]\nengine = mysql\nhost = h\nuser = u\n" /* 6-9 */
					 "password_file = missing\n"			     /* 10 */
					 "[endpoint g]\nengine = mysql\nhost = h\nuser = u\n" /* 11-14 */
					 "password_file = .\n"				     /* 15 */
					 "[endpoint h]\nengine = mysql\nhost = h\nuser = u\n" /* 16-19 */
					 "password_file = pw-open\npassword_env = PW\n"),  /* 20, 21 */
			 0);
	load(text);
	assert_warning("5: [endpoint e] password_file: '%s' is accessible by group or others (mode 0644); chmod 600 it",
		       pw);
	assert_error("10: [endpoint f] password_file: cannot read '%s/missing': No such file or directory", dir);
	assert_error("15: [endpoint g] password_file: '%s' is not a regular file", dir);
	assert_error("21: [endpoint h] password_env: set together with password_file (line 20); keep one");
	assert_counts(3, 1);
	chmod(pw, 0600);
	load("[endpoint e]\nengine = mysql\nhost = h\nuser = u\npassword_file = pw-open\n");
	assert_counts(0, 0);
	free(pw);
	free(text);
}
END_TEST

START_TEST(reading_passwords)
{
	endpoint_config ep = {.name = "e"};
	char *err, *pw, *file = write_file("pw", "s3cret\r\nsecond line\n", 0600);

	ep.password_file = file;
	pw = endpoint_read_password(&ep, &err);
	ck_assert_str_eq(pw, "s3cret");
	ck_assert_ptr_null(err);
	free(pw);

	ep.password_file = write_file("empty", "", 0600);
	ck_assert_ptr_null(endpoint_read_password(&ep, &err));
	ck_assert_ptr_nonnull(strstr(err, "endpoint e: password_file '"));
	ck_assert_ptr_nonnull(strstr(err, "' is empty"));
	free(err);
	free(ep.password_file);

	ep.password_file = "/nonexistent/pw";
	ck_assert_ptr_null(endpoint_read_password(&ep, &err));
	ck_assert_str_eq(err, "endpoint e: cannot read password_file '/nonexistent/pw': No such file or directory");
	free(err);

	ep.password_file = NULL;
	ep.password_env = "CHECK_CONFIG_PW";
	setenv("CHECK_CONFIG_PW", "from-env", 1);
	pw = endpoint_read_password(&ep, &err);
	ck_assert_str_eq(pw, "from-env");
	free(pw);
	unsetenv("CHECK_CONFIG_PW");
	ck_assert_ptr_null(endpoint_read_password(&ep, &err));
	ck_assert_str_eq(err, "endpoint e: environment variable CHECK_CONFIG_PW (password_env) is not set");
	free(err);

	ep.password_env = NULL;
	err = (char *)"untouched";
	ck_assert_ptr_null(endpoint_read_password(&ep, &err));
	ck_assert_ptr_null(err); /* nothing configured: libpq may use ~/.pgpass */
	free(file);
}
END_TEST

/* ---- reload -------------------------------------------------------------------------- */

typedef struct reported {
	char items[16][80];
	int n;
} reported;

static void collect(const char *section, const char *key, void *arg)
{
	reported *r = arg;
	snprintf(r->items[r->n++], sizeof(r->items[0]), "[%s] %s", section, key);
}

static bool was_reported(const reported *r, const char *what)
{
	for (int i = 0; i < r->n; i++) {
		if (strcmp(r->items[i], what) == 0)
			return true;
	}
	return false;
}

#define RELOAD_BASE                                                                                 \
	"[ferryd]\nlog_level = info\ndata_dir = /d\n" ENDPOINTS                                    \
	"[task orders]\nsource = src\ntarget = dst\napply_workers = 4\n"

START_TEST(restart_keys_diff)
{
	ferry_config *old_cfg = load_owned(RELOAD_BASE "include = a.*\nexclude = b.*\n"
							"[task gone]\nsource = src\ntarget = dst\n");
	ferry_config *same = load_owned(RELOAD_BASE "include = a.*\nexclude = b.*\n"
						     "[task gone]\nsource = src\ntarget = dst\n");
	ferry_config *new_cfg = load_owned("[ferryd]\nlog_level = debug\ndata_dir = /e\nshutdown_timeout = 5s\n"
					   "[endpoint src]\nengine = postgresql\nhost = db9\nuser = ferry\n"
					   "[endpoint dst]\nengine = postgresql\nhost = db2\nuser = ferry\n"
					   "[endpoint extra]\nengine = mysql\nhost = x\nuser = y\n"
					   "[task orders]\nsource = src\ntarget = dst\napply_workers = 8\n"
					   "include = a.*\nexclude = b.*\n"
					   "[task fresh]\nsource = src\ntarget = dst\n");
	reported r = {0};

	ck_assert_int_eq(config_restart_keys_changed(old_cfg, same, collect, &r), 0);
	ck_assert_int_eq(config_restart_keys_changed(old_cfg, new_cfg, collect, &r), 5);
	ck_assert(was_reported(&r, "[ferryd] data_dir"));
	ck_assert(was_reported(&r, "[endpoint src] host"));
	ck_assert(was_reported(&r, "[task orders] apply_workers"));
	ck_assert(was_reported(&r, "[task fresh] (added)"));
	ck_assert(was_reported(&r, "[task gone] (removed)"));
	ck_assert(!was_reported(&r, "[ferryd] log_level")); /* reloadable */
	ck_assert_int_eq(config_restart_keys_changed(old_cfg, new_cfg, NULL, NULL), 5);

	/* reloadable keys move into the running config; restart-only keys stay */
	ck_assert_int_eq(config_apply_reloadable(old_cfg, new_cfg), 2);
	ck_assert_int_eq(old_cfg->ferryd.log_level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(old_cfg->ferryd.shutdown_timeout_ms, 5000);
	ck_assert_str_eq(old_cfg->ferryd.data_dir, "/d");
	ck_assert_int_eq(config_find_task(old_cfg, "orders")->apply_workers, 4);
	ck_assert_int_eq(config_apply_reloadable(old_cfg, new_cfg), 0);
	config_free(old_cfg);
	config_free(same);
	config_free(new_cfg);
}
END_TEST

/* Which of include and exclude comes first decides; moving a comment does not. */
START_TEST(selection_order_is_a_restart_key)
{
	ferry_config *a = load_owned(RELOAD_BASE "include = a.*\nexclude = a.x\n");
	ferry_config *b = load_owned(RELOAD_BASE "exclude = a.x\ninclude = a.*\n");
	ferry_config *c = load_owned(RELOAD_BASE "; a comment moves the lines\n\ninclude = a.*\nexclude = a.x\n");
	reported r = {0};

	ck_assert_int_eq(config_restart_keys_changed(a, b, collect, &r), 1);
	ck_assert_str_eq(r.items[0], "[task orders] include");
	ck_assert_int_eq(config_restart_keys_changed(a, c, NULL, NULL), 0);
	config_free(a);
	config_free(b);
	config_free(c);
}
END_TEST

/* ---- etc/ferry.ini ---------------------------------------------------------------- */

/* The line documenting key: "key =" or "; key =" at its start. */
static const char *doc_line(char *const *lines, int n, const char *key)
{
	size_t len = strlen(key);

	for (int i = 0; i < n; i++) {
		const char *s = lines[i];
		if (s[0] == ';')
			s += 1 + strspn(s + 1, " ");
		if (strncmp(s, key, len) == 0 && strncmp(s + len + strspn(s + len, " "), "=", 1) == 0)
			return lines[i];
	}
	return NULL;
}

START_TEST(sample_documents_every_key)
{
	const char *top = getenv("top_srcdir");
	char *sample, *line = NULL, *lines[400];
	size_t cap = 0;
	int n = 0;
	FILE *fp;

	ck_assert_int_ge(asprintf(&sample, "%s/etc/ferry.ini", top && *top ? top : "."), 0);
	fp = fopen(sample, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (set top_srcdir)", sample);
	while (getline(&line, &cap, fp) > 0 && n < 400)
		lines[n++] = strdup(line);
	fclose(fp);
	free(line);
	for (size_t i = 0; i < config_key_count(); i++) {
		const config_key *key = config_key_at(i);
		const char *doc = doc_line(lines, n, key->name);
		char *want;
		ck_assert_msg(doc != NULL, "etc/ferry.ini does not document %s", key->name);
		ck_assert_msg(strstr(doc, key->reloadable ? "reloadable: yes" : "reloadable: no"),
			      "etc/ferry.ini: %s: wrong or missing 'reloadable:'", key->name);
		if (key->default_value)
			ck_assert_int_ge(asprintf(&want, "default: %s", key->default_value), 0);
		else
			want = strdup(key->required ? "required" : "default: ");
		ck_assert_msg(strstr(doc, want), "etc/ferry.ini: %s: no '%s'", key->name, want);
		free(want);
	}
	/* and it is a working example */
	path = sample;
	cfg = config_load(sample, &diag);
	assert_counts(0, 0);
	ck_assert_int_eq(cfg->n_tasks, 1);
	ck_assert_ptr_nonnull(cfg->tasks[0].source_ep);
	for (int i = 0; i < n; i++)
		free(lines[i]);
}
END_TEST

/* ---- t/data fixtures --------------------------------------------------------------- */

/* t/data/config_errors.ini lists its own expected errors as "; expect N: MESSAGE". */
START_TEST(fixture_reports_exactly_its_expected_errors)
{
	const char *top = getenv("top_srcdir");
	char *line = NULL;
	size_t cap = 0;
	int expected = 0, at;
	FILE *fp;

	ck_assert_int_ge(asprintf(&path, "%s/t/data/config_errors.ini", top && *top ? top : "."), 0);
	cfg = config_load(path, &diag);
	ck_assert_ptr_null(cfg);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	while (getline(&line, &cap, fp) > 0) {
		if (sscanf(line, "; expect %d: %n", &at, &(int){0}) != 1)
			continue;
		line[strcspn(line, "\n")] = '\0';
		assert_error("%d: %s", at, strchr(line, ':') + 2);
		expected++;
	}
	fclose(fp);
	free(line);
	ck_assert_int_ge(expected, 10);
	assert_counts(expected, 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	struct { const char *name; const TTest *test; } cases[] = {
		{"defaults", defaults_of_every_section},
		{"explicit values", mysql_port_default_and_explicit_values},
		{"no task", no_task_is_valid},
		{"defaults round-trip", defaults_parse_and_format_round_trips},
		{"key table", key_table_is_consistent},
		{"sizes", sizes},
		{"durations", durations},
		{"bools", bools},
		{"bad values", bad_values_say_what_is_allowed},
		{"ranges", ranges_ports_workers_ring},
		{"unknown sections and keys", unknown_sections_and_keys},
		{"duplicates", duplicates},
		{"required keys", missing_required_keys_point_at_the_header},
		{"undefined endpoints", undefined_endpoints},
		{"syntax errors", syntax_errors},
		{"over-long lines", over_long_lines},
		{"comments and layout", comments_indentation_bom_crlf},
		{"inline comment in a rule", inline_comment_cutting_a_rule_is_an_error},
		{"unreadable file", unreadable_file},
		{"line order", errors_come_in_line_order},
		{"shared source", tasks_sharing_a_source_server},
		{"repeatable keys", repeatable_keys_keep_order_and_lines},
		{"string list lines", string_list_lines_stay_parallel},
		{"paths", paths_are_absolute},
		{"data_dir length", data_dir_must_fit_the_socket_path},
		{"password file checks", password_file_checks},
		{"reading passwords", reading_passwords},
		{"restart keys", restart_keys_diff},
		{"selection order", selection_order_is_a_restart_key},
		{"sample documents every key", sample_documents_every_key},
		{"error fixture", fixture_reports_exactly_its_expected_errors},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
