/* The declarative key table: one entry per INI key. It is the single source for parsing,
 * defaults, validation, the reload diff, `ferryctl` key listings and the test that
 * etc/ferry.ini documents every key. */
#ifndef FERRY_CONFIG_KEYS_H
#define FERRY_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef enum config_section_kind {
	CONFIG_SECTION_FERRYD,	 /* [ferryd]        -> ferryd_config */
	CONFIG_SECTION_ENDPOINT, /* [endpoint NAME] -> endpoint_config */
	CONFIG_SECTION_TASK	 /* [task NAME]     -> task_config */
} config_section_kind;

typedef enum config_key_type {
	KEY_STRING,	 /* char *; NULL when unset or empty */
	KEY_PATH,	 /* char *, made absolute against the config file's directory */
	KEY_INT,	 /* int in [min, max] */
	KEY_INT64,	 /* int64_t in [min, max] */
	KEY_SIZE,	 /* int64_t bytes in [min, max]: B, kB, MB, GB, TB (1024-based) */
	KEY_DURATION_MS, /* int64_t milliseconds in [min, max]: ms, s, min, h, d */
	KEY_DURATION_S,	 /* int seconds (rounded up); min and max are in milliseconds */
	KEY_BOOL,	 /* bool: yes/no, on/off, true/false, 1/0 */
	KEY_ENUM,	 /* an int-sized enum: the index of the value in enum_names */
	KEY_LIST	 /* string_list: repeatable, values kept in file order */
} config_key_type;

/* Checks a value beyond its type (ring_size a power of two, a slot name's characters...).
 * Gets the value as stored for string and path keys (a path already absolute), the text
 * as written otherwise. Returns 0, or -1 with a reason in why. */
typedef int (*config_key_check_fn)(const char *value, char *why, size_t why_len);

typedef struct config_key {
	config_section_kind section;
	const char *name;
	config_key_type type;
	size_t offset;		   /* of the field in the section's struct */
	const char *default_value; /* parsed like a value from the file; NULL = none.
				      "<task>" is replaced by the task name, lowercased */
	int64_t min, max;	   /* INT, INT64, SIZE (bytes), DURATION_* (ms) */
	const char *const *enum_names; /* ENUM: NULL-terminated, index = enum value */
	config_key_check_fn check;
	bool required;	  /* the section is invalid without it */
	bool allow_empty; /* "key =" means unset (otherwise an empty value is an error) */
	bool reloadable;  /* a reload applies it; otherwise it waits for a restart */
	const char *doc;  /* one line, for etc/ferry.ini and ferryctl */
} config_key;

/* The table, in documentation order. */
size_t config_key_count(void);
const config_key *config_key_at(size_t index);
size_t config_key_index(const config_key *key);
const config_key *config_key_find(config_section_kind section, const char *name);

/* "ferryd", "endpoint", "task". */
const char *config_section_kind_name(config_section_kind section);

/* The closest known key of section (a likely typo of name), or NULL. */
const char *config_key_suggest(config_section_kind section, const char *name);
/* The candidate (NULL-terminated list) word is a likely typo of, or NULL. */
const char *config_suggest(const char *word, const char *const *candidates);

/* "1..64", "postgresql | mysql", "yes | no", "1MB..1GB", ... for messages and docs. */
void config_key_allowed(const config_key *key, char *buf, size_t len);

/* Parses text into the key's field of obj (a ferryd_config, endpoint_config or
 * task_config, per key->section). base_dir resolves relative paths. A list key appends
 * the value with its file line (0 = none); other keys replace the field. On a bad value
 * the field is left as it was and -1 returned with a reason naming the allowed values. */
int config_key_set(const config_key *key, void *obj, const char *text, const char *base_dir, int line,
		   char *why, size_t why_len);
bool config_key_equal(const config_key *key, const void *a, const void *b);
/* Replaces dst's field by a copy of src's. */
void config_key_copy(const config_key *key, void *dst, const void *src);
void config_key_free(const config_key *key, void *obj);
/* The field's value as it could be written in the file (malloc'd; "" when unset;
 * list values joined with ", "). */
char *config_key_format(const config_key *key, const void *obj);

/* path made absolute against base_dir (or the working directory when base_dir is NULL),
 * with "." , ".." and repeated '/' folded lexically (symlinks are not resolved).
 * malloc'd; NULL when the working directory cannot be found. */
char *config_path_absolute(const char *path, const char *base_dir);

#endif
