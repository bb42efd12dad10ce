/* CRC32C (Castagnoli, the iSCSI/ext4 checksum) for spill blocks. Uses the SSE4.2
 * instruction when the CPU has it (chosen once at run time), slice-by-8 tables otherwise. */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over len bytes; crc32c(0, "123456789", 9) == 0xE3069283.
 * Chunks chain: crc32c(crc32c(0, a, n), b, m) == CRC of a followed by b. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The table-driven path alone, so tests can compare both paths. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

/* "sse4.2" or "slice-by-8": which path crc32c() takes on this machine. */
const char *crc32c_impl(void);

#endif
