/* zstd / lz4 / none block codecs. zstd contexts are created on first use and kept:
 * allocating them per block would cost more than compressing a 256 KiB block at level 1. */
#include "ipc/codec.h"

#include <limits.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

struct codec_ctx {
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
};

codec_ctx *codec_ctx_new(void)
{
	return calloc(1, sizeof(codec_ctx));
}

void codec_ctx_free(codec_ctx *ctx)
{
	if (!ctx)
		return;
	ZSTD_freeCCtx(ctx->zc);
	ZSTD_freeDCtx(ctx->zd);
	free(ctx);
}

static const char *const codec_names[] = {"none", "lz4", "zstd"};

int codec_parse(const char *name, codec_id *out)
{
	for (int i = 0; i < (int)(sizeof codec_names / sizeof codec_names[0]); i++) {
		if (strcmp(name, codec_names[i]) == 0) {
			*out = (codec_id)i;
			return 0;
		}
	}
	return -1;
}

const char *codec_name(codec_id id)
{
	return (unsigned)id < sizeof codec_names / sizeof codec_names[0] ? codec_names[id] : "unknown";
}

const char *codec_status_text(codec_status st)
{
	switch (st) {
	case CODEC_OK: return "ok";
	case CODEC_BAD_CODEC: return "unknown compression codec";
	case CODEC_NOMEM: return "out of memory";
	case CODEC_TOO_LARGE: return "block too large for the codec";
	case CODEC_DST_TOO_SMALL: return "output buffer too small";
	case CODEC_CORRUPT: return "corrupt compressed data";
	case CODEC_SIZE_MISMATCH: return "decompressed size differs from the recorded size";
	}
	return "unknown codec status";
}

size_t codec_bound(codec_id id, size_t len)
{
	switch (id) {
	case CODEC_NONE: return len;
	case CODEC_LZ4: return len > LZ4_MAX_INPUT_SIZE ? 0 : (size_t)LZ4_compressBound((int)len);
	case CODEC_ZSTD: {
		size_t b = ZSTD_compressBound(len);
		return ZSTD_isError(b) ? 0 : b;
	}
	}
	return 0;
}

static codec_status zstd_compress(codec_ctx *ctx, int level, const void *src, size_t len,
                                  void *dst, size_t cap, size_t *out_len)
{
	if (ctx && !ctx->zc && !(ctx->zc = ZSTD_createCCtx()))
		return CODEC_NOMEM;
	if (level <= 0)
		level = CODEC_ZSTD_DEFAULT_LEVEL;
	size_t n = ctx ? ZSTD_compressCCtx(ctx->zc, dst, cap, src, len, level)
	               : ZSTD_compress(dst, cap, src, len, level);
	if (ZSTD_isError(n)) {
		ZSTD_ErrorCode code = ZSTD_getErrorCode(n);
		if (code == ZSTD_error_dstSize_tooSmall)
			return CODEC_DST_TOO_SMALL;
		return code == ZSTD_error_memory_allocation ? CODEC_NOMEM : CODEC_TOO_LARGE;
	}
	*out_len = n;
	return CODEC_OK;
}

codec_status codec_compress(codec_ctx *ctx, codec_id id, int level, const void *src, size_t len,
                            void *dst, size_t cap, size_t *out_len)
{
	switch (id) {
	case CODEC_NONE:
		if (cap < len)
			return CODEC_DST_TOO_SMALL;
		memcpy(dst, src, len);
		*out_len = len;
		return CODEC_OK;
	case CODEC_LZ4: {
		if (len > LZ4_MAX_INPUT_SIZE)
			return CODEC_TOO_LARGE;
		int c = cap > INT_MAX ? INT_MAX : (int)cap;
		int n = LZ4_compress_default(src, dst, (int)len, c);
		if (n <= 0 && len > 0)
			return CODEC_DST_TOO_SMALL; /* lz4 fails only when the output does not fit */
		*out_len = (size_t)(n < 0 ? 0 : n);
		return CODEC_OK;
	}
	case CODEC_ZSTD:
		return zstd_compress(ctx, level, src, len, dst, cap, out_len);
	}
	return CODEC_BAD_CODEC;
}

static codec_status zstd_decompress(codec_ctx *ctx, const void *src, size_t len, void *dst,
                                    size_t expected)
{
	if (ctx && !ctx->zd && !(ctx->zd = ZSTD_createDCtx()))
		return CODEC_NOMEM;
	size_t n = ctx ? ZSTD_decompressDCtx(ctx->zd, dst, expected, src, len)
	               : ZSTD_decompress(dst, expected, src, len);
	if (ZSTD_isError(n)) {
		ZSTD_ErrorCode code = ZSTD_getErrorCode(n);
		if (code == ZSTD_error_memory_allocation)
			return CODEC_NOMEM;
		return code == ZSTD_error_dstSize_tooSmall ? CODEC_SIZE_MISMATCH : CODEC_CORRUPT;
	}
	return n == expected ? CODEC_OK : CODEC_SIZE_MISMATCH;
}

codec_status codec_decompress(codec_ctx *ctx, codec_id id, const void *src, size_t len,
                              void *dst, size_t expected)
{
	switch (id) {
	case CODEC_NONE:
		if (len != expected)
			return CODEC_SIZE_MISMATCH;
		memcpy(dst, src, len);
		return CODEC_OK;
	case CODEC_LZ4: {
		if (len > INT_MAX || expected > LZ4_MAX_INPUT_SIZE)
			return CODEC_TOO_LARGE;
		/* Output beyond expected bytes fails as corrupt: lz4 cannot tell it apart. */
		int n = LZ4_decompress_safe(src, dst, (int)len, (int)expected);
		if (n < 0)
			return CODEC_CORRUPT;
		return (size_t)n == expected ? CODEC_OK : CODEC_SIZE_MISMATCH;
	}
	case CODEC_ZSTD:
		return zstd_decompress(ctx, src, len, dst, expected);
	}
	return CODEC_BAD_CODEC;
}
