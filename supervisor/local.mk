# supervisor/: ferryd (the supervisor) and ferryctl (its client)
libferry_a_SOURCES += \
	supervisor/supervisor.c supervisor/supervisor.h \
	supervisor/signals.c supervisor/signals.h \
	supervisor/proctable.c supervisor/proctable.h \
	supervisor/spawn.c supervisor/spawn.h \
	supervisor/reap.c supervisor/reap.h \
	supervisor/restart.c supervisor/restart.h \
	supervisor/restart_group.c supervisor/restart_group.h \
	supervisor/shutdown.c supervisor/shutdown.h \
	supervisor/reload.c supervisor/reload.h \
	supervisor/task.c supervisor/task.h \
	supervisor/control.c supervisor/control.h \
	supervisor/statusdoc.c supervisor/statusdoc.h \
	supervisor/jsonbuf.c supervisor/jsonbuf.h \
	supervisor/jsonparse.c supervisor/jsonparse.h \
	supervisor/pidfile.c supervisor/pidfile.h \
	supervisor/pstitle.c supervisor/pstitle.h \
	supervisor/daemonize.c supervisor/daemonize.h
libferry_a_SOURCES += supervisor/metrics.c supervisor/metrics.h supervisor/metrics_client.c \
	supervisor/metrics_http.c supervisor/metrics_http.h supervisor/metrics_page.c supervisor/metrics_page.h \
	supervisor/metrics_text.c supervisor/metrics_text.h
libferry_a_SOURCES += supervisor/ferryctl_watch.c supervisor/ferryctl_watch.h

sbin_PROGRAMS += ferryd
ferryd_SOURCES = supervisor/ferryd.c
ferryd_CPPFLAGS = $(AM_CPPFLAGS) -DFERRY_VERSION='"$(PACKAGE_VERSION)"'
ferryd_LDADD = $(FERRY_LIBS)

bin_PROGRAMS += ferryctl
ferryctl_SOURCES = supervisor/ferryctl.c
ferryctl_CPPFLAGS = $(AM_CPPFLAGS) -DFERRY_VERSION='"$(PACKAGE_VERSION)"'
ferryctl_LDADD = $(FERRY_LIBS)
# the status document, the metrics endpoint and the assessment, for users and their scripts
dist_noinst_DATA += doc/status.md doc/metrics.md doc/assess.md
# -- ferryctl validate and cutover (they run in ferryctl's process)
libferry_a_SOURCES += supervisor/control_client.c supervisor/control_client.h
ferryctl_SOURCES += supervisor/ferryctl_db.c supervisor/ferryctl_db.h supervisor/ferryctl_db_int.h \
	supervisor/ferryctl_validate.c supervisor/ferryctl_cutover.c supervisor/ferryctl_db_counters.c
