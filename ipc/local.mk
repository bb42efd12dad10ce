# ipc/: shared memory, rings, status slots, change records, spill segments, queues
# -- shared memory, rings, wake-ups, status slots
libferry_a_SOURCES += \
	ipc/shmem.c ipc/shmem.h \
	ipc/ring.c ipc/ring.h \
	ipc/wakeup.c ipc/wakeup.h \
	ipc/status.c ipc/status.h
# -- change records, spill segments, per-worker queues
libferry_a_SOURCES += \
	ipc/record.c ipc/record.h \
	ipc/crc32c.c ipc/crc32c.h \
	ipc/codec.c ipc/codec.h \
	ipc/spill.c ipc/spill.h \
	ipc/queue.c ipc/queue.h
libferry_a_SOURCES += ipc/relmsg.c ipc/relmsg.h
libferry_a_SOURCES += ipc/taskstate.c ipc/taskstate.h
