# common/: config, logging, shared helpers
libferry_a_SOURCES += \
	common/exitcode.h \
	common/log.c common/log.h \
	common/bytes.c common/bytes.h \
	common/config.c common/config.h \
	common/config_keys.c common/config_keys.h
libferry_a_SOURCES += common/rules.c common/rules.h
libferry_a_SOURCES += common/catalog.c common/catalog.h common/sqlquote.c common/sqlquote.h
libferry_a_SOURCES += common/typemap.c common/typemap.h
EXTRA_DIST += doc/type-mapping.md
