# workers/: the worker frame and each kind's main loop; engine connection code
libferry_a_SOURCES += \
	workers/worker.c workers/worker.h \
	workers/endpoint.c workers/endpoint.h \
	workers/pg_conn.c workers/pg_conn.h \
	workers/mysql_conn.c workers/mysql_conn.h \
	workers/capture.c workers/load.c workers/apply.c workers/validate.c \
	workers/worker_mains.h
