/* Block compression for spill segments: zstd, lz4 or none behind one interface.
 * Every call reports failure as a codec_status value; nothing here logs or aborts. */
#ifndef FERRY_CODEC_H
#define FERRY_CODEC_H

#include <stddef.h>

/* The numbers are written into spill block headers: never renumber. */
typedef enum codec_id {
	CODEC_NONE = 0,
	CODEC_LZ4 = 1, /* LZ4_compress_default: fastest, least compression */
	CODEC_ZSTD = 2 /* zstd at codec level (1 by default) */
} codec_id;

#define CODEC_ZSTD_DEFAULT_LEVEL 1

typedef enum codec_status {
	CODEC_OK = 0,
	CODEC_BAD_CODEC,     /* unknown codec id (e.g. read from a corrupt header) */
	CODEC_NOMEM,
	CODEC_TOO_LARGE,     /* input larger than the codec can take in one block */
	CODEC_DST_TOO_SMALL, /* compress: dst smaller than needed (use codec_bound) */
	CODEC_CORRUPT,       /* decompress: the compressed data is invalid */
	CODEC_SIZE_MISMATCH  /* decompress: valid data of a size other than the expected one */
} codec_status;

/* Reusable compression state (zstd contexts are worth keeping between blocks). One per
 * user; not shared between threads. */
typedef struct codec_ctx codec_ctx;

codec_ctx *codec_ctx_new(void); /* NULL when out of memory */
void codec_ctx_free(codec_ctx *ctx);

/* "none", "lz4", "zstd" (the spill_compression values) -> id; -1 if unknown. */
int codec_parse(const char *name, codec_id *out);
const char *codec_name(codec_id id);
const char *codec_status_text(codec_status st);

/* Largest compressed size of len input bytes; 0 when len is too large for the codec
 * or the codec is unknown. */
size_t codec_bound(codec_id id, size_t len);

/* Compresses src into dst (cap bytes); *out_len = compressed size. level is used by
 * zstd only (<= 0 means the default). */
codec_status codec_compress(codec_ctx *ctx, codec_id id, int level, const void *src, size_t len,
                            void *dst, size_t cap, size_t *out_len);
/* Decompresses src into dst, which must come out at exactly expected bytes. */
codec_status codec_decompress(codec_ctx *ctx, codec_id id, const void *src, size_t len,
                              void *dst, size_t expected);

#endif
