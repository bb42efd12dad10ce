# contrib/: init script, systemd unit, logrotate, quickstart and dependency scripts
EXTRA_DIST += contrib/ferryd.init contrib/ferryd.service contrib/ferry.logrotate \
	contrib/install-deps.sh contrib/install-bench-deps.sh contrib/quickstart.sh contrib/run-tests.sh
