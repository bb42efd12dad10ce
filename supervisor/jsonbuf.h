/* A growable buffer that writes JSON: commas between members are placed for the caller,
 * strings are escaped (control characters, quotes, invalid UTF-8 as U+FFFD). */
#ifndef FERRY_JSONBUF_H
#define FERRY_JSONBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONBUF_MAX_DEPTH 16

typedef struct jsonbuf {
	char *data; /* NUL-terminated; owned */
	size_t len, cap;
	bool failed; /* out of memory: the document is incomplete */
	int depth;
	bool need_comma[JSONBUF_MAX_DEPTH];
	bool after_key;
} jsonbuf;

void jsonbuf_init(jsonbuf *jb);
void jsonbuf_free(jsonbuf *jb);
/* Hands the text over to the caller (free()), leaving jb empty; NULL if failed. */
char *jsonbuf_take(jsonbuf *jb, size_t *len);

void json_object_begin(jsonbuf *jb);
void json_object_end(jsonbuf *jb);
void json_array_begin(jsonbuf *jb);
void json_array_end(jsonbuf *jb);
void json_key(jsonbuf *jb, const char *key);
/* A string value; NULL writes null. */
void json_string(jsonbuf *jb, const char *s);
void json_int(jsonbuf *jb, int64_t v);
void json_bool(jsonbuf *jb, bool v);
void json_null(jsonbuf *jb);

/* Raw text, outside the JSON structure (e.g. the newline ending an answer). */
void jsonbuf_append(jsonbuf *jb, const char *text);

/* key + value in one call, for object members. */
void json_member_string(jsonbuf *jb, const char *key, const char *s);
void json_member_int(jsonbuf *jb, const char *key, int64_t v);

#endif
