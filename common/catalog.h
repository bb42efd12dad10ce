/* The engine-neutral table model: what ferry knows about a source (or target) table.
 *
 * Filled by an engine's catalog reader (workers/pg_catalog.c for PostgreSQL; the MySQL
 * reader fills the same fields from information_schema) or by hand in tests, and read by
 * the DDL builders, the load planner, capture and apply. A catalog owns all of its
 * memory: every string and array hanging off it is freed by catalog_free().
 *
 * Pointers returned by the catalog_add_* functions stay valid until the next add of the
 * same kind on the same owner (arrays grow); tables themselves never move. */
#ifndef FERRY_CATALOG_H
#define FERRY_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/sqlquote.h"

/* The neutral class of a column type: what a type map and the value codecs switch on.
 * The engine's own spelling stays in catalog_column.type_name. */
typedef enum catalog_type_class {
	CATALOG_TYPE_OTHER = 0, /* no neutral class: same-engine copies use type_name */
	CATALOG_TYPE_BOOL,
	CATALOG_TYPE_INT1,  /* MySQL TINYINT */
	CATALOG_TYPE_INT2,
	CATALOG_TYPE_INT3,  /* MySQL MEDIUMINT */
	CATALOG_TYPE_INT4,
	CATALOG_TYPE_INT8,
	CATALOG_TYPE_UINT1, /* MySQL ... UNSIGNED */
	CATALOG_TYPE_UINT2,
	CATALOG_TYPE_UINT3,
	CATALOG_TYPE_UINT4,
	CATALOG_TYPE_UINT8,
	CATALOG_TYPE_NUMERIC, /* precision/scale, -1 when not declared */
	CATALOG_TYPE_FLOAT4,
	CATALOG_TYPE_FLOAT8,
	CATALOG_TYPE_TEXT,    /* length = maximum bytes (MySQL TINYTEXT..), -1 unlimited */
	CATALOG_TYPE_VARCHAR, /* length = declared n */
	CATALOG_TYPE_CHAR,    /* length = declared n */
	CATALOG_TYPE_BYTES,   /* bytea / BLOB; length as for TEXT */
	CATALOG_TYPE_VARBINARY,
	CATALOG_TYPE_BINARY,
	CATALOG_TYPE_DATE,
	CATALOG_TYPE_TIME,        /* precision = fractional digits, -1 when not declared */
	CATALOG_TYPE_TIMETZ,
	CATALOG_TYPE_TIMESTAMP,   /* wall clock: PG timestamp, MySQL DATETIME */
	CATALOG_TYPE_TIMESTAMPTZ, /* an instant: PG timestamptz, MySQL TIMESTAMP */
	CATALOG_TYPE_INTERVAL,
	CATALOG_TYPE_YEAR,
	CATALOG_TYPE_JSON,
	CATALOG_TYPE_JSONB,
	CATALOG_TYPE_UUID,
	CATALOG_TYPE_ENUM, /* labels; PG: udt_schema/udt_name name the type */
	CATALOG_TYPE_SET,  /* MySQL SET: labels */
	CATALOG_TYPE_ARRAY, /* element */
	CATALOG_TYPE_BIT,    /* length = n */
	CATALOG_TYPE_VARBIT, /* length = n, -1 unlimited */
	CATALOG_TYPE_INET,
	CATALOG_TYPE_CIDR
} catalog_type_class;

typedef struct catalog_type {
	catalog_type_class cls;
	int length;    /* see the class; -1 = not declared / unlimited */
	int precision; /* numeric digits, or fractional second digits; -1 = not declared */
	int scale;     /* numeric digits after the point (PG 15 allows negative); 0 otherwise */
	char *udt_schema; /* PG enum: the type's schema and name; NULL for MySQL's inline ENUM */
	char *udt_name;
	char **labels; /* enum/set labels in declared order */
	int n_labels;
	struct catalog_type *element; /* array: the element type (owned) */
} catalog_type;

typedef enum catalog_identity {
	CATALOG_IDENTITY_NONE = 0,
	CATALOG_IDENTITY_ALWAYS,
	CATALOG_IDENTITY_BY_DEFAULT
} catalog_identity;

typedef struct catalog_column {
	char *name;
	int position;      /* PG attnum / MySQL ORDINAL_POSITION: 1-based, PG may have gaps */
	char *type_name;   /* as the source prints it: format_type() / COLUMN_TYPE */
	uint32_t type_oid; /* PG pg_type oid; 0 for other engines */
	int32_t typmod;    /* PG atttypmod; -1 = none */
	catalog_type type;
	char *collation;   /* a collation other than the type's default, as the engine names
			    * it (PG: quoted and qualified); NULL = default */
	bool not_null;
	char *default_expr;    /* the engine's expression text; NULL = no default */
	bool default_volatile; /* calls a volatile function (random(), nextval()...) */
	int default_sequence;  /* default is nextval() of sequences[i] of the table; -1 = no */
	char *generated_expr;  /* stored generated column: computed by the target, never written */
	catalog_identity identity;
	bool auto_increment;   /* MySQL AUTO_INCREMENT */
	char *on_update;       /* MySQL ON UPDATE expression ("current_timestamp(6)"); NULL = none */
} catalog_column;

typedef struct catalog_index_part {
	int column;        /* index into the table's columns; -1 = an expression */
	bool descending;
	int prefix_length; /* MySQL key prefix length; 0 = the whole value */
} catalog_index_part;

typedef struct catalog_index {
	char *name;
	char *definition; /* PG: pg_get_indexdef(), for same-engine recreation; NULL elsewhere */
	char *definition_tail; /* PG: what follows "ON table " ("USING btree (a)"), so the
				* index can be built on a renamed table; NULL if unknown */
	char *method;     /* access method: "btree", "gin" / MySQL "BTREE", "FULLTEXT" */
	catalog_index_part *parts; /* key parts in order (not INCLUDE columns) */
	int n_parts;
	int cap_parts;
	bool unique;
	bool has_expression; /* expression key parts or a predicate (partial index): only its
			      * definition can recreate it */
} catalog_index;

typedef struct catalog_sequence {
	char *schema;
	char *name;
	int column;      /* the owning column (OWNED BY / identity); -1 = none */
	bool identity;   /* the sequence behind an identity column */
	char *data_type; /* "bigint", "integer", "smallint" */
	int64_t start;
	int64_t increment;
	int64_t min_value;
	int64_t max_value;
	int64_t cache;
	bool cycle;
} catalog_sequence;

/* A partition of a partitioned table. The model lists a partitioned table once, as its
 * parent: its rows are the rows of all its partitions. */
typedef struct catalog_partition {
	char *schema;
	char *name;
	uint64_t id;          /* PG oid */
	int parent;           /* index of the parent partition; -1 = the table itself */
	char *bound;          /* "FOR VALUES FROM (1) TO (10)", "DEFAULT" */
	char *partition_key;  /* set when this partition is partitioned itself */
} catalog_partition;

typedef enum catalog_table_kind {
	CATALOG_TABLE_PLAIN = 0,
	CATALOG_TABLE_PARTITIONED
} catalog_table_kind;

typedef enum catalog_replica_identity {
	CATALOG_RI_DEFAULT = 0, /* the primary key, if any */
	CATALOG_RI_FULL,        /* the whole old row */
	CATALOG_RI_INDEX,       /* a unique index (the table's key) */
	CATALOG_RI_NOTHING
} catalog_replica_identity;

typedef enum catalog_key_kind {
	CATALOG_KEY_NONE = 0, /* rows are matched on all columns */
	CATALOG_KEY_PRIMARY,
	CATALOG_KEY_UNIQUE    /* a unique index on NOT NULL columns, listed in indexes too */
} catalog_key_kind;

typedef struct catalog_table {
	engine_kind engine; /* whose catalog this came from */
	char *schema;       /* PG schema / MySQL database */
	char *name;
	uint64_t id;        /* PG oid; MySQL: 0 until capture assigns its table id */
	catalog_table_kind kind;
	char *partition_key; /* partitioned: "RANGE (logdate)" */
	int64_t est_rows;    /* estimate; -1 = unknown (never analyzed) */
	int64_t est_bytes;   /* heap and TOAST (all partitions) */
	catalog_replica_identity replica_identity;
	char *replica_identity_index; /* CATALOG_RI_INDEX: the index's name */

	catalog_key_kind key_kind;
	char *key_name;   /* constraint or index name */
	int *key_columns; /* indexes into columns, in key order */
	int n_key_columns;

	catalog_column *columns;
	int n_columns;
	catalog_index *indexes; /* secondary indexes, built after the load */
	int n_indexes;
	catalog_sequence *sequences; /* owned sequences, identity sequences included */
	int n_sequences;
	catalog_partition *partitions; /* parents before their children */
	int n_partitions;
	int64_t auto_increment_next; /* MySQL AUTO_INCREMENT counter; 0 = none */

	int cap_columns, cap_indexes, cap_sequences, cap_partitions;
} catalog_table;

typedef struct catalog {
	engine_kind engine;
	catalog_table **tables; /* pointers, so a table never moves */
	int n_tables;
	int cap_tables;
} catalog;

/* Construction. Every function returns NULL / -1 only when memory runs out, and leaves
 * the catalog consistent (freeable) in that case. */
catalog *catalog_new(engine_kind engine);
void catalog_free(catalog *cat);
catalog_table *catalog_add_table(catalog *cat, const char *schema, const char *name);
/* A column at position n_columns + 1, type class OTHER, typmod -1, no default. */
catalog_column *catalog_add_column(catalog_table *t, const char *name, const char *type_name);
catalog_index *catalog_add_index(catalog_table *t, const char *name);
int catalog_index_add_part(catalog_index *idx, int column, bool descending, int prefix_length);
catalog_sequence *catalog_add_sequence(catalog_table *t, const char *schema, const char *name);
catalog_partition *catalog_add_partition(catalog_table *t, const char *schema, const char *name);
int catalog_set_key(catalog_table *t, catalog_key_kind kind, const char *name,
		    const int *columns, int n_columns);
int catalog_type_add_label(catalog_type *type, const char *label);
/* Makes type an array and returns its (new, class OTHER) element type. */
catalog_type *catalog_type_make_array(catalog_type *type);
/* Replaces *field by a copy of value (NULL allowed). */
int catalog_set_string(char **field, const char *value);

/* Lookup by name (exact, case-sensitive, as the catalog spells it). */
catalog_table *catalog_find_table(const catalog *cat, const char *schema, const char *name);
catalog_table *catalog_find_table_by_id(const catalog *cat, uint64_t id);
int catalog_find_column(const catalog_table *t, const char *name);  /* index or -1 */
int catalog_find_index(const catalog_table *t, const char *name);   /* index or -1 */
/* Index into t->sequences of the sequence owned by column, or -1. */
int catalog_column_sequence(const catalog_table *t, int column);

const char *catalog_type_class_name(catalog_type_class cls); /* "int4", "varchar", ... */
const char *catalog_replica_identity_name(catalog_replica_identity ri); /* "full" ... */
const char *catalog_identity_name(catalog_identity identity); /* "always", "by default" */

/* Source-to-target naming (rename and exclusion rules). Each callback may be NULL, and
 * the map itself may be NULL: names stay as they are and no column is excluded.
 * Returned names must live as long as the map. */
typedef struct catalog_name_map {
	/* Target schema and name of a table. */
	void (*table)(void *arg, const catalog_table *t, const char **schema, const char **name);
	/* Target schema of another object of a source schema (enum types, sequences,
	 * partitions). */
	const char *(*schema)(void *arg, const char *schema);
	/* Target name of a column, or NULL when the column is excluded. */
	const char *(*column)(void *arg, const catalog_table *t, const catalog_column *c);
	void *arg;
} catalog_name_map;

void catalog_map_table(const catalog_name_map *map, const catalog_table *t,
		       const char **schema, const char **name);
const char *catalog_map_schema(const catalog_name_map *map, const char *schema);
const char *catalog_map_column(const catalog_name_map *map, const catalog_table *t, int column);
/* True when any column is renamed or excluded. */
bool catalog_map_changes_columns(const catalog_name_map *map, const catalog_table *t);

/* Whether target can receive the rows of source (for a pair of different engines: source
 * as the type map turns it into target types): every included source column exists in
 * target under its mapped name with the same type class and parameters (length,
 * precision, scale, enum labels) and nullability, generated columns on the same side,
 * no target column outside the mapping that is NOT NULL without a default, and the same
 * key columns. Returns the number of differences and describes each on its own line in
 * why (may be NULL). */
int catalog_table_shape_diff(const catalog_table *source, const catalog_name_map *map,
			     const catalog_table *target, strbuf *why);
/* Whether two types have the same class and parameters (labels included). */
bool catalog_type_equal(const catalog_type *a, const catalog_type *b);

#endif
