# common/: config, logging, shared helpers
libferry_a_SOURCES += \
	common/exitcode.h \
	common/log.c common/log.h \
	common/config.c common/config.h \
	common/config_keys.c common/config_keys.h
