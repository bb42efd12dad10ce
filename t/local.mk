# t/: Check unit tests (one binary per module), TAP integration tests, benchmarks
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LDADD = $(FERRY_LIBS) $(CHECK_LIBS)

# -- unit tests (each owner keeps to its own line)
UNIT_TESTS = t/unit/check_config
UNIT_TESTS += t/unit/check_ring
UNIT_TESTS += t/unit/check_record t/unit/check_spill t/unit/check_queue
UNIT_TESTS += t/unit/check_restart
UNIT_TESTS += t/unit/check_rules
UNIT_TESTS += t/unit/check_catalog t/unit/check_pg_catalog
UNIT_TESTS += t/unit/check_pgoutput t/unit/check_pg_value t/unit/check_pg_repl t/unit/check_relmsg t/unit/check_apply_touch
UNIT_TESTS += t/unit/check_pg_load
UNIT_TESTS += t/unit/check_pg_apply
UNIT_TESTS += t/unit/check_pg_capture
UNIT_TESTS += t/unit/check_taskstate
UNIT_TESTS += t/unit/check_typemap
UNIT_TESTS += t/unit/check_my_catalog t/unit/check_my_preflight t/unit/check_my_load t/unit/check_my_binlog
UNIT_TESTS += t/unit/check_my_gtid

check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)

t_unit_check_config_SOURCES = t/unit/check_config.c
t_unit_check_config_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_config_LDADD = $(UNIT_LDADD)
t_unit_check_ring_SOURCES = t/unit/check_ring.c
t_unit_check_ring_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_ring_LDADD = $(UNIT_LDADD)
t_unit_check_record_SOURCES = t/unit/check_record.c
t_unit_check_record_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_record_LDADD = $(UNIT_LDADD)
t_unit_check_spill_SOURCES = t/unit/check_spill.c
t_unit_check_spill_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_spill_LDADD = $(UNIT_LDADD)
t_unit_check_queue_SOURCES = t/unit/check_queue.c
t_unit_check_queue_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_queue_LDADD = $(UNIT_LDADD)
t_unit_check_restart_SOURCES = t/unit/check_restart.c
t_unit_check_restart_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_restart_LDADD = $(UNIT_LDADD)
t_unit_check_rules_SOURCES = t/unit/check_rules.c
t_unit_check_rules_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_rules_LDADD = $(UNIT_LDADD)
t_unit_check_catalog_SOURCES = t/unit/check_catalog.c
t_unit_check_catalog_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_catalog_LDADD = $(UNIT_LDADD)
t_unit_check_pg_catalog_SOURCES = t/unit/check_pg_catalog.c
t_unit_check_pg_catalog_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_catalog_LDADD = $(UNIT_LDADD)
t_unit_check_pgoutput_SOURCES = t/unit/check_pgoutput.c
t_unit_check_pgoutput_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pgoutput_LDADD = $(UNIT_LDADD)
t_unit_check_pg_value_SOURCES = t/unit/check_pg_value.c
t_unit_check_pg_value_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_value_LDADD = $(UNIT_LDADD) -lm
t_unit_check_pg_repl_SOURCES = t/unit/check_pg_repl.c
t_unit_check_pg_repl_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_repl_LDADD = $(UNIT_LDADD)
t_unit_check_relmsg_SOURCES = t/unit/check_relmsg.c
t_unit_check_relmsg_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_relmsg_LDADD = $(UNIT_LDADD)
t_unit_check_apply_touch_SOURCES = t/unit/check_apply_touch.c
t_unit_check_apply_touch_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_apply_touch_LDADD = $(UNIT_LDADD)
t_unit_check_pg_load_SOURCES = t/unit/check_pg_load.c
t_unit_check_pg_load_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_load_LDADD = $(UNIT_LDADD)
t_unit_check_pg_apply_SOURCES = t/unit/check_pg_apply.c
t_unit_check_pg_apply_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_apply_LDADD = $(UNIT_LDADD)
t_unit_check_pg_capture_SOURCES = t/unit/check_pg_capture.c
t_unit_check_pg_capture_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_pg_capture_LDADD = $(UNIT_LDADD)
t_unit_check_taskstate_SOURCES = t/unit/check_taskstate.c
t_unit_check_taskstate_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_taskstate_LDADD = $(UNIT_LDADD)
t_unit_check_typemap_SOURCES = t/unit/check_typemap.c
t_unit_check_typemap_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_typemap_LDADD = $(UNIT_LDADD)
t_unit_check_my_catalog_SOURCES = t/unit/check_my_catalog.c
t_unit_check_my_catalog_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_catalog_LDADD = $(UNIT_LDADD)
t_unit_check_my_preflight_SOURCES = t/unit/check_my_preflight.c
t_unit_check_my_preflight_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_preflight_LDADD = $(UNIT_LDADD)
t_unit_check_my_load_SOURCES = t/unit/check_my_load.c
t_unit_check_my_load_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_load_LDADD = $(UNIT_LDADD)
t_unit_check_my_binlog_SOURCES = t/unit/check_my_binlog.c
t_unit_check_my_binlog_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_binlog_LDADD = $(UNIT_LDADD)
t_unit_check_my_gtid_SOURCES = t/unit/check_my_gtid.c
t_unit_check_my_gtid_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_gtid_LDADD = $(UNIT_LDADD)

# -- benchmark programs (built by `make bench`, never run by make check)
EXTRA_PROGRAMS = t/bench/bench_ring t/bench/bench_spill
t_bench_bench_ring_SOURCES = t/bench/bench_ring.c
t_bench_bench_ring_LDADD = $(FERRY_LIBS)
t_bench_bench_spill_SOURCES = t/bench/bench_spill.c
t_bench_bench_spill_LDADD = $(FERRY_LIBS)
bench: t/bench/bench_ring$(EXEEXT) t/bench/bench_spill$(EXEEXT)
.PHONY: bench
EXTRA_PROGRAMS += t/bench/bench_pg_load
t_bench_bench_pg_load_SOURCES = t/bench/bench_pg_load.c
t_bench_bench_pg_load_LDADD = $(FERRY_LIBS)
bench: t/bench/bench_pg_load$(EXEEXT)
dist_noinst_SCRIPTS += t/bench/bench_pg_load.sh

# -- integration tests: TAP scripts against throwaway real servers
INTEGRATION_TESTS = \
	t/integration/010_harness.sh \
	t/integration/020_lifecycle.sh \
	t/integration/030_restart.sh \
	t/integration/040_reload.sh \
	t/integration/050_bad_endpoints.sh \
	t/integration/060_pg_engines.sh \
	t/integration/065_my_engines.sh \
	t/integration/100_pg_to_pg.sh \
	t/integration/110_pg_cdc_cases.sh \
	t/integration/120_pg_bad_source_target.sh \
	t/integration/205_mysql_purged.sh \
	t/integration/207_mysql_gtid.sh \
	t/integration/200_mysql_to_pg.sh \
	t/integration/210_pg_to_mysql.sh \
	t/integration/220_mysql_to_mysql.sh
TESTS += $(INTEGRATION_TESTS)
dist_noinst_SCRIPTS += $(INTEGRATION_TESTS) t/lib.sh t/bench/run.sh
EXTRA_DIST += t/corpus/mysql_edge.sh t/corpus/pg_edge.sh
dist_noinst_DATA += $(wildcard $(srcdir)/t/data/*.ini)

# -- metrics endpoint: Prometheus text and HTTP parsing
UNIT_TESTS += t/unit/check_metrics
t_unit_check_metrics_SOURCES = t/unit/check_metrics.c
t_unit_check_metrics_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_metrics_LDADD = $(UNIT_LDADD)
UNIT_TESTS += t/unit/check_watch
t_unit_check_watch_SOURCES = t/unit/check_watch.c
t_unit_check_watch_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_watch_LDADD = $(UNIT_LDADD)
# visibility: metrics endpoint, status --watch, pre-migration assessment
INTEGRATION_TESTS += t/integration/150_metrics.sh
INTEGRATION_TESTS += t/integration/160_assess.sh
UNIT_TESTS += t/unit/check_validate
t_unit_check_validate_SOURCES = t/unit/check_validate.c
t_unit_check_validate_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_validate_LDADD = $(UNIT_LDADD)
INTEGRATION_TESTS += t/integration/130_validate.sh
dist_noinst_SCRIPTS += t/bench/bench_validate.sh
dist_noinst_SCRIPTS += t/bench/bench_pg_to_pg.sh
dist_noinst_SCRIPTS += t/bench/bench_mysql.sh
dist_noinst_DATA += t/bench/bench_lib.sh
# -- MySQL/MariaDB target
UNIT_TESTS += t/unit/check_my_out
t_unit_check_my_out_SOURCES = t/unit/check_my_out.c
t_unit_check_my_out_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_out_LDADD = $(UNIT_LDADD)
UNIT_TESTS += t/unit/check_my_ddl
t_unit_check_my_ddl_SOURCES = t/unit/check_my_ddl.c
t_unit_check_my_ddl_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_ddl_LDADD = $(UNIT_LDADD)
UNIT_TESTS += t/unit/check_my_apply
t_unit_check_my_apply_SOURCES = t/unit/check_my_apply.c
t_unit_check_my_apply_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_my_apply_LDADD = $(UNIT_LDADD) -lm
# validation and cutover with MySQL/MariaDB (both heterogeneous pairs)
INTEGRATION_TESTS += t/integration/230_validate_mysql.sh
UNIT_TESTS += t/unit/check_validate_canon
t_unit_check_validate_canon_SOURCES = t/unit/check_validate_canon.c
t_unit_check_validate_canon_CFLAGS = $(UNIT_CFLAGS)
t_unit_check_validate_canon_LDADD = $(UNIT_LDADD)
# -- memory and spill while catching up a backlog; load progress within a partition
dist_noinst_SCRIPTS += t/bench/bench_pg_memory.sh
INTEGRATION_TESTS += t/integration/115_pg_progress.sh
INTEGRATION_TESTS += t/integration/165_assess_mysql.sh
