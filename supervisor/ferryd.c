/* ferryd: load and check the config, make the directories, take the pid file, open the
 * log, daemonize, set the title, create shared memory and the control socket, start the
 * tasks' workers and run the supervisor loop until told to stop. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "supervisor/daemonize.h"
#include "supervisor/pidfile.h"
#include "supervisor/pstitle.h"
#include "supervisor/signals.h"
#include "supervisor/supervisor.h"
#include "workers/assess.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "unknown"
#endif

typedef struct options {
	const char *config_path;
	int foreground;
	int check_only;
	int assess;
} options;

static void usage(FILE *out)
{
	fprintf(out, "Usage: ferryd -c FILE [-f] [-t]\n"
		     "       ferryd --assess -c FILE\n"
		     "\n"
		     "  -c FILE   configuration file\n"
		     "  -f        stay in the foreground (logs still go to log_dir/supervisor.log)\n"
		     "  -t        check the configuration file, print every problem, exit 0 (valid) or 1\n"
		     "  --assess  pre-migration assessment: connect to every task's source and target, run\n"
		     "            every check without changing anything, print what to fix; exit 0 (nothing\n"
		     "            fails), 1 (something fails) or 2 (could not run)\n"
		     "  -h        show this help\n"
		     "  -V        show the version\n");
}

/* 0 to go on, otherwise 1 + the exit code. */
static int parse_options(int argc, char **argv, options *opt)
{
	static const struct option longopts[] = {{"assess", no_argument, NULL, 'A'}, {NULL, 0, NULL, 0}};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:fthV", longopts, NULL)) != -1) {
		switch (c) {
		case 'A': opt->assess = 1; break;
		case 'c': opt->config_path = optarg; break;
		case 'f': opt->foreground = 1; break;
		case 't': opt->check_only = 1; break;
		case 'h': usage(stdout); return 1 + 0;
		case 'V': printf("ferryd (ferry) %s\n", FERRY_VERSION); return 1 + 0;
		case ':': fprintf(stderr, "ferryd: option -%c needs an argument\n", optopt); usage(stderr); return 1 + 2;
		default:
			if (optopt)
				fprintf(stderr, "ferryd: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "ferryd: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return 1 + 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferryd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1 + 2;
	}
	if (opt->config_path == NULL) {
		fprintf(stderr, "ferryd: no configuration file given (-c FILE)\n");
		usage(stderr);
		return 1 + 2;
	}
	return 0;
}

/* Prints every warning and error; returns the config or NULL. */
static ferry_config *load_config(const char *path, int quiet_ok)
{
	config_diag diag;
	memset(&diag, 0, sizeof diag);
	ferry_config *cfg = config_load(path, &diag);
	for (int i = 0; i < diag.warnings.count; i++)
		fprintf(stderr, "ferryd: warning: %s\n", diag.warnings.items[i]);
	for (int i = 0; i < diag.errors.count; i++)
		fprintf(stderr, "ferryd: error: %s\n", diag.errors.items[i]);
	if (cfg == NULL)
		fprintf(stderr, "ferryd: configuration file %s is not valid (%d errors)\n", path, diag.errors.count);
	else if (!quiet_ok)
		fprintf(stderr, "ferryd: configuration file %s is valid (%d tasks, %d endpoints)\n", cfg->path,
			cfg->n_tasks, cfg->n_endpoints);
	config_diag_free(&diag);
	return cfg;
}

/* mkdir -p path with mode for the last component; then it must be a writable directory. */
static int make_directory(const char *key, const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		fprintf(stderr, "ferryd: %s %s: path too long\n", key, path);
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		goto fail;
	struct stat st;
	if (stat(path, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "ferryd: %s %s exists and is not a directory\n", key, path);
		return -1;
	}
	if (access(path, W_OK | X_OK) < 0) {
		fprintf(stderr, "ferryd: %s %s is not writable: %s\n", key, path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "ferryd: cannot create %s %s (at %s): %s\n", key, path, buf, strerror(errno));
	return -1;
}

/* Before the daemon is ready, errors go to the log and to the terminal. */
static void startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void startup_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	fprintf(stderr, "ferryd: %s\n", msg);
}

/* Pid file, log, daemon, title, signals: everything before the supervisor proper.
 * Returns 0, or -1 after saying why. *ready_fd is -1 in the foreground. */
static int become_supervisor(const options *opt, const ferry_config *cfg, pidfile *pf, int *ready_fd)
{
	char err[1024];
	*ready_fd = -1;
	if (pidfile_acquire(pf, cfg->ferryd.pid_file, err, sizeof err) < 0) {
		fprintf(stderr, "ferryd: %s\n", err);
		return -1;
	}
	log_set_process("supervisor");
	log_set_level(cfg->ferryd.log_level);
	if (log_open(cfg->ferryd.log_dir, "supervisor.log") < 0) {
		fprintf(stderr, "ferryd: cannot open %s/supervisor.log: %s\n", cfg->ferryd.log_dir, strerror(errno));
		return -1;
	}
	if (!opt->foreground && daemonize(ready_fd) < 0) {
		startup_error("cannot daemonize: %s", strerror(errno));
		return -1;
	}
	if (pf->stale_pid > 0)
		log_info("pid file %s was left behind by pid %ld, which is no ferryd any more: taking it over",
			 cfg->ferryd.pid_file, (long)pf->stale_pid);
	if (pidfile_write(pf, getpid()) < 0) {
		startup_error("cannot write pid file %s: %s", cfg->ferryd.pid_file, strerror(errno));
		return -1;
	}
	pstitle_set("ferryd: supervisor");
	if (signals_install() < 0) {
		startup_error("cannot install signal handlers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int run(const options *opt, ferry_config *cfg)
{
	static pidfile pf = {.fd = -1};
	int ready_fd;
	if (make_directory("data_dir", cfg->ferryd.data_dir, 0700) < 0 ||
	    make_directory("log_dir", cfg->ferryd.log_dir, 0750) < 0 ||
	    become_supervisor(opt, cfg, &pf, &ready_fd) < 0) {
		config_free(cfg);
		pidfile_remove(&pf);
		return 1;
	}
	supervisor *s = calloc(1, sizeof *s);
	char err[1024];
	if (s == NULL || supervisor_init(s, cfg, &pf, err, sizeof err) < 0) {
		startup_error("%s", s ? err : "out of memory");
		if (s)
			supervisor_cleanup(s);
		else
			config_free(cfg);
		free(s);
		pidfile_remove(&pf);
		return 1;
	}
	int workers = 0;
	for (int i = 0; i < PROCTABLE_SIZE; i++)
		workers += s->procs.slots[i].state != PROC_FREE;
	log_info("ferryd %s started: pid %ld, config %s, %d tasks, %d workers", FERRY_VERSION, (long)s->pid,
		 s->config->path, s->tasks.count, workers);
	if (ready_fd >= 0)
		daemonize_ready(ready_fd); /* before the first fork: workers must not inherit it */
	int rc = supervisor_run(s);
	supervisor_cleanup(s);
	free(s);
	pidfile_remove(&pf);
	log_info("ferryd stopped");
	log_close();
	return rc;
}

/* Descriptors inherited from whoever started us (a shell's pipes, a test harness's
 * capture) would otherwise live on in the daemon and in every worker, keeping those
 * pipes open forever. */
static void close_inherited_fds(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
		close((int)fd);
}

/* --assess: the report on stdout; exit 2 when the file itself is bad (nothing ran). */
static int assess_main(ferry_config *cfg)
{
	if (cfg == NULL)
		return 2;
	log_set_process("assess");
	log_set_level(LOG_LEVEL_WARNING); /* the report says it all; only real trouble on stderr */
	int rc = assess_run(cfg, NULL, stdout);
	config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	close_inherited_fds();
	char **args = pstitle_init(argc, argv);
	options opt = {0};
	int rc = parse_options(argc, args ? args : argv, &opt);
	if (rc != 0) {
		rc--;
	} else {
		ferry_config *cfg = load_config(opt.config_path, !opt.check_only);
		if (opt.assess) {
			rc = assess_main(cfg);
		} else if (opt.check_only || cfg == NULL) {
			rc = cfg ? 0 : 1;
			config_free(cfg);
		} else {
			rc = run(&opt, cfg);
		}
	}
	if (args)
		pstitle_free_args(args);
	return rc;
}
