/* A small JSON reader for ferryctl: parses ferryd's answers into a tree. Strict
 * (RFC 8259), nesting limited, \u escapes decoded to UTF-8. */
#ifndef FERRY_JSONPARSE_H
#define FERRY_JSONPARSE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
	json_type type;
	bool boolean;
	double number;
	char *string;		   /* JSON_STRING */
	struct json_value *items;  /* JSON_ARRAY, JSON_OBJECT: count values */
	char **keys;		   /* JSON_OBJECT: count keys, parallel to items */
	int count;
} json_value;

/* NULL with a reason ("offset 12: expected ':'") in err on bad input. Free with json_free. */
json_value *json_parse(const char *text, char *err, size_t errlen);
void json_free(json_value *v);

/* Member of an object, or NULL (also when v is not an object). */
const json_value *json_get(const json_value *v, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_string(const json_value *v, const char *key);
/* The member's number, or fallback when absent or not a number. */
double json_get_number(const json_value *v, const char *key, double fallback);

#endif
