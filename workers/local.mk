# workers/: the worker frame and each kind's main loop; engine connection code
libferry_a_SOURCES += \
	workers/worker.c workers/worker.h \
	workers/endpoint.c workers/endpoint.h \
	workers/pg_conn.c workers/pg_conn.h \
	workers/mysql_conn.c workers/mysql_conn.h \
	workers/idle.c workers/idle.h \
	workers/capture.c workers/load.c workers/apply.c workers/validate.c \
	workers/worker_mains.h
libferry_a_SOURCES += workers/pg_catalog.c workers/pg_catalog.h workers/pg_ddl.c workers/pg_ddl.h
libferry_a_SOURCES += workers/pgoutput.c workers/pgoutput.h workers/pg_repl.c workers/pg_repl.h workers/pg_value.c workers/pg_value.h
libferry_a_SOURCES += workers/pg_load.c workers/pg_load.h workers/pg_load_copy.c workers/pg_load_internal.h workers/pg_load_plan.c workers/pg_load_plan.h
libferry_a_SOURCES += workers/pg_apply.c workers/pg_apply.h workers/pg_apply_int.h workers/pg_apply_change.c workers/pg_apply_send.c workers/pg_apply_batch.c workers/pg_apply_batch.h workers/pg_apply_pipe.c workers/pg_apply_pipe.h workers/pg_apply_copy.c workers/pg_apply_sql.c workers/pg_apply_sql.h workers/pg_apply_table.c workers/pg_apply_table.h
libferry_a_SOURCES += workers/pg_capture.c workers/pg_capture.h workers/pg_relcache.c workers/pg_relcache.h workers/pg_txnbuf.c workers/pg_txnbuf.h
libferry_a_SOURCES += workers/pg_task.c workers/pg_task.h workers/capture_int.h workers/capture_plan.c
libferry_a_SOURCES += workers/my_sql.c workers/my_sql.h workers/my_catalog.c workers/my_catalog.h workers/my_pgmap.c workers/my_pgmap.h workers/my_task.c workers/my_task.h workers/my_preflight.c workers/my_preflight.h workers/my_value.c workers/my_value.h workers/my_load.c workers/my_load.h workers/my_binlog.c workers/my_binlog.h workers/my_rowdec.c workers/my_rowdec.h
libferry_a_SOURCES += workers/load_int.h workers/load_pg.c workers/load_my.c
libferry_a_SOURCES += workers/capture_route.c workers/capture_route.h workers/capture_my.c workers/my_stream.c workers/my_stream.h
libferry_a_SOURCES += workers/my_gtid.c workers/my_gtid.h workers/capture_my_gtid.c workers/capture_my_gtid.h
libferry_a_SOURCES += workers/pg_target_check.c workers/pg_target_check.h
libferry_a_SOURCES += workers/assess.c workers/assess.h workers/assess_pg.c workers/assess_pg.h workers/assess_pg_target.c
# -- validation: engine-neutral comparison, PostgreSQL engine, task glue
libferry_a_SOURCES += workers/validate_model.c workers/validate_model.h workers/validate_engine.h \
	workers/validate_pool.c workers/validate_range.c workers/validate_range.h \
	workers/validate_rows.c workers/validate_rows.h workers/validate_report.c workers/validate_report.h \
	workers/validate_int.h workers/validate_run.c workers/validate_table.c workers/validate_table.h \
	workers/validate_leaf.c workers/pg_validate.c workers/pg_validate.h \
	workers/pg_validate_task.c workers/pg_validate_task.h \
	workers/validate_canon.c workers/validate_canon_json.c workers/validate_canon.h \
	workers/validate_client.c workers/validate_client.h workers/my_validate.c workers/my_validate.h
EXTRA_DIST += doc/validate.md
libferry_a_SOURCES += workers/my_ddl.c workers/my_ddl.h workers/my_out.c workers/my_out.h workers/my_target.c workers/my_target.h
libferry_a_SOURCES += workers/my_infile.c workers/my_infile.h workers/my_infile_pg.c workers/my_infile_my.c workers/my_infile_meta.c workers/my_apply.c workers/my_apply.h workers/my_apply_int.h workers/my_apply_sql.c workers/my_apply_merge.c workers/target.h workers/target_pg.c workers/target_my.c
EXTRA_DIST += doc/mysql-target.md
libferry_a_SOURCES += workers/apply_touch.c workers/apply_touch.h workers/validate_touch.c workers/validate_touch.h
libferry_a_SOURCES += workers/assess_my.c workers/assess_my.h workers/assess_my_target.c
