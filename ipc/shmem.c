/* The one shared mapping: created before the first fork so every worker inherits it at
 * the same address, then carved up with a bump allocator (nothing is ever freed). */
#include "ipc/shmem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

size_t shmem_align(size_t size)
{
	if (size > SIZE_MAX - (SHMEM_ALIGN - 1))
		return 0; /* cannot be rounded up: callers treat 0 as "too large" */
	return (size + SHMEM_ALIGN - 1) & ~(size_t)(SHMEM_ALIGN - 1);
}

int shmem_create(shmem_segment *seg, size_t size)
{
	void *base;

	memset(seg, 0, sizeof *seg);
	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	/* Anonymous memory comes zeroed from the kernel; MAP_SHARED keeps one copy that
	 * children share instead of copy-on-write. mmap returns page-aligned memory, so
	 * offsets rounded to SHMEM_ALIGN are aligned addresses. */
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	seg->base = base;
	seg->size = size;
	seg->used = 0;
	return 0;
}

void *shmem_alloc(shmem_segment *seg, size_t size)
{
	size_t start = shmem_align(seg->used);
	size_t len = shmem_align(size);

	if (seg->base == NULL || size == 0 || len == 0)
		return NULL;
	if (start > seg->size || len > seg->size - start)
		return NULL;
	seg->used = start + len;
	return (char *)seg->base + start;
}

void shmem_destroy(shmem_segment *seg)
{
	if (seg->base != NULL)
		munmap(seg->base, seg->size);
	memset(seg, 0, sizeof *seg);
}
