/* One anonymous shared mapping, sized up front and created by the supervisor before it
 * forks any worker. Modules report their size with *_shmem_size() and carve their part
 * out with shmem_alloc() before the first fork; nothing is allocated after. */
#ifndef FERRY_SHMEM_H
#define FERRY_SHMEM_H

#include <stddef.h>

#define SHMEM_ALIGN 64 /* cache line: keeps producer and consumer counters apart */

typedef struct shmem_segment {
	void *base;
	size_t size;
	size_t used;
} shmem_segment;

size_t shmem_align(size_t size);
/* mmap(MAP_SHARED|MAP_ANONYMOUS) of size bytes, zeroed. 0 or -1 with errno. */
int shmem_create(shmem_segment *seg, size_t size);
/* Next SHMEM_ALIGN-aligned chunk of size bytes; NULL when the segment is too small. */
void *shmem_alloc(shmem_segment *seg, size_t size);
void shmem_destroy(shmem_segment *seg);

#endif
