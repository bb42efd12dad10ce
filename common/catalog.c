/* The table model: construction, ownership, lookup, naming and shape comparison. */
#include "common/catalog.h"

#include <stdlib.h>
#include <string.h>

/* Makes room for one more element in *items (n used of *cap); false on OOM. */
static bool grow(void **items, int *cap, int n, size_t size)
{
	if (n < *cap)
		return true;
	int new_cap = *cap ? *cap * 2 : 4;
	void *p = realloc(*items, (size_t)new_cap * size);
	if (p == NULL)
		return false;
	*items = p;
	*cap = new_cap;
	return true;
}

int catalog_set_string(char **field, const char *value)
{
	char *copy = NULL;
	if (value != NULL && (copy = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

static void type_init(catalog_type *type)
{
	memset(type, 0, sizeof *type);
	type->cls = CATALOG_TYPE_OTHER;
	type->length = -1;
	type->precision = -1;
}

static void type_clear(catalog_type *type)
{
	free(type->udt_schema);
	free(type->udt_name);
	for (int i = 0; i < type->n_labels; i++)
		free(type->labels[i]);
	free(type->labels);
	if (type->element != NULL) {
		type_clear(type->element);
		free(type->element);
	}
	type_init(type);
}

static void column_clear(catalog_column *c)
{
	free(c->name);
	free(c->type_name);
	free(c->collation);
	free(c->default_expr);
	free(c->generated_expr);
	free(c->on_update);
	type_clear(&c->type);
}

static void index_clear(catalog_index *idx)
{
	free(idx->name);
	free(idx->definition);
	free(idx->definition_tail);
	free(idx->method);
	free(idx->parts);
}

static void table_free(catalog_table *t)
{
	for (int i = 0; i < t->n_columns; i++)
		column_clear(&t->columns[i]);
	free(t->columns);
	for (int i = 0; i < t->n_indexes; i++)
		index_clear(&t->indexes[i]);
	free(t->indexes);
	for (int i = 0; i < t->n_sequences; i++) {
		free(t->sequences[i].schema);
		free(t->sequences[i].name);
		free(t->sequences[i].data_type);
	}
	free(t->sequences);
	for (int i = 0; i < t->n_partitions; i++) {
		free(t->partitions[i].schema);
		free(t->partitions[i].name);
		free(t->partitions[i].bound);
		free(t->partitions[i].partition_key);
	}
	free(t->partitions);
	free(t->key_columns);
	free(t->key_name);
	free(t->replica_identity_index);
	free(t->partition_key);
	free(t->schema);
	free(t->name);
	free(t);
}

catalog *catalog_new(engine_kind engine)
{
	catalog *cat = calloc(1, sizeof *cat);
	if (cat != NULL)
		cat->engine = engine;
	return cat;
}

void catalog_free(catalog *cat)
{
	if (cat == NULL)
		return;
	for (int i = 0; i < cat->n_tables; i++)
		table_free(cat->tables[i]);
	free(cat->tables);
	free(cat);
}

catalog_table *catalog_add_table(catalog *cat, const char *schema, const char *name)
{
	if (!grow((void **)&cat->tables, &cat->cap_tables, cat->n_tables, sizeof *cat->tables))
		return NULL;
	catalog_table *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->engine = cat->engine;
	t->est_rows = -1;
	if (catalog_set_string(&t->schema, schema) < 0 || catalog_set_string(&t->name, name) < 0) {
		table_free(t);
		return NULL;
	}
	cat->tables[cat->n_tables++] = t;
	return t;
}

catalog_column *catalog_add_column(catalog_table *t, const char *name, const char *type_name)
{
	if (!grow((void **)&t->columns, &t->cap_columns, t->n_columns, sizeof *t->columns))
		return NULL;
	catalog_column *c = &t->columns[t->n_columns];
	memset(c, 0, sizeof *c);
	type_init(&c->type);
	c->position = t->n_columns + 1;
	c->typmod = -1;
	c->default_sequence = -1;
	if (catalog_set_string(&c->name, name) < 0 || catalog_set_string(&c->type_name, type_name) < 0) {
		column_clear(c);
		return NULL;
	}
	t->n_columns++;
	return c;
}

catalog_index *catalog_add_index(catalog_table *t, const char *name)
{
	if (!grow((void **)&t->indexes, &t->cap_indexes, t->n_indexes, sizeof *t->indexes))
		return NULL;
	catalog_index *idx = &t->indexes[t->n_indexes];
	memset(idx, 0, sizeof *idx);
	if (catalog_set_string(&idx->name, name) < 0)
		return NULL;
	t->n_indexes++;
	return idx;
}

int catalog_index_add_part(catalog_index *idx, int column, bool descending, int prefix_length)
{
	if (!grow((void **)&idx->parts, &idx->cap_parts, idx->n_parts, sizeof *idx->parts))
		return -1;
	idx->parts[idx->n_parts++] = (catalog_index_part){column, descending, prefix_length};
	return 0;
}

catalog_sequence *catalog_add_sequence(catalog_table *t, const char *schema, const char *name)
{
	if (!grow((void **)&t->sequences, &t->cap_sequences, t->n_sequences, sizeof *t->sequences))
		return NULL;
	catalog_sequence *s = &t->sequences[t->n_sequences];
	memset(s, 0, sizeof *s);
	s->column = -1;
	s->increment = 1;
	if (catalog_set_string(&s->schema, schema) < 0 || catalog_set_string(&s->name, name) < 0) {
		free(s->schema);
		free(s->name);
		return NULL;
	}
	t->n_sequences++;
	return s;
}

catalog_partition *catalog_add_partition(catalog_table *t, const char *schema, const char *name)
{
	if (!grow((void **)&t->partitions, &t->cap_partitions, t->n_partitions, sizeof *t->partitions))
		return NULL;
	catalog_partition *p = &t->partitions[t->n_partitions];
	memset(p, 0, sizeof *p);
	p->parent = -1;
	if (catalog_set_string(&p->schema, schema) < 0 || catalog_set_string(&p->name, name) < 0) {
		free(p->schema);
		free(p->name);
		return NULL;
	}
	t->n_partitions++;
	return p;
}

int catalog_set_key(catalog_table *t, catalog_key_kind kind, const char *name,
		    const int *columns, int n_columns)
{
	int *copy = NULL;
	if (n_columns > 0) {
		copy = malloc((size_t)n_columns * sizeof *copy);
		if (copy == NULL)
			return -1;
		memcpy(copy, columns, (size_t)n_columns * sizeof *copy);
	}
	if (catalog_set_string(&t->key_name, name) < 0) {
		free(copy);
		return -1;
	}
	free(t->key_columns);
	t->key_columns = copy;
	t->n_key_columns = n_columns;
	t->key_kind = kind;
	return 0;
}

int catalog_type_add_label(catalog_type *type, const char *label)
{
	char **labels = realloc(type->labels, (size_t)(type->n_labels + 1) * sizeof *labels);
	if (labels == NULL)
		return -1;
	type->labels = labels;
	if ((labels[type->n_labels] = strdup(label)) == NULL)
		return -1;
	type->n_labels++;
	return 0;
}

catalog_type *catalog_type_make_array(catalog_type *type)
{
	if (type->element == NULL) {
		type->element = malloc(sizeof *type->element);
		if (type->element == NULL)
			return NULL;
		type_init(type->element);
	}
	type->cls = CATALOG_TYPE_ARRAY;
	return type->element;
}

catalog_table *catalog_find_table(const catalog *cat, const char *schema, const char *name)
{
	for (int i = 0; i < cat->n_tables; i++) {
		catalog_table *t = cat->tables[i];
		if (strcmp(t->name, name) == 0 && strcmp(t->schema, schema) == 0)
			return t;
	}
	return NULL;
}

catalog_table *catalog_find_table_by_id(const catalog *cat, uint64_t id)
{
	for (int i = 0; i < cat->n_tables; i++)
		if (cat->tables[i]->id == id)
			return cat->tables[i];
	return NULL;
}

int catalog_find_column(const catalog_table *t, const char *name)
{
	for (int i = 0; i < t->n_columns; i++)
		if (strcmp(t->columns[i].name, name) == 0)
			return i;
	return -1;
}

int catalog_find_index(const catalog_table *t, const char *name)
{
	for (int i = 0; i < t->n_indexes; i++)
		if (strcmp(t->indexes[i].name, name) == 0)
			return i;
	return -1;
}

int catalog_column_sequence(const catalog_table *t, int column)
{
	for (int i = 0; i < t->n_sequences; i++)
		if (t->sequences[i].column == column)
			return i;
	return -1;
}

const char *catalog_type_class_name(catalog_type_class cls)
{
	static const char *const names[] = {
		[CATALOG_TYPE_OTHER] = "other", [CATALOG_TYPE_BOOL] = "bool",
		[CATALOG_TYPE_INT1] = "int1", [CATALOG_TYPE_INT2] = "int2",
		[CATALOG_TYPE_INT3] = "int3", [CATALOG_TYPE_INT4] = "int4",
		[CATALOG_TYPE_INT8] = "int8", [CATALOG_TYPE_UINT1] = "uint1",
		[CATALOG_TYPE_UINT2] = "uint2", [CATALOG_TYPE_UINT3] = "uint3",
		[CATALOG_TYPE_UINT4] = "uint4", [CATALOG_TYPE_UINT8] = "uint8",
		[CATALOG_TYPE_NUMERIC] = "numeric", [CATALOG_TYPE_FLOAT4] = "float4",
		[CATALOG_TYPE_FLOAT8] = "float8", [CATALOG_TYPE_TEXT] = "text",
		[CATALOG_TYPE_VARCHAR] = "varchar", [CATALOG_TYPE_CHAR] = "char",
		[CATALOG_TYPE_BYTES] = "bytes", [CATALOG_TYPE_VARBINARY] = "varbinary",
		[CATALOG_TYPE_BINARY] = "binary", [CATALOG_TYPE_DATE] = "date",
		[CATALOG_TYPE_TIME] = "time", [CATALOG_TYPE_TIMETZ] = "timetz",
		[CATALOG_TYPE_TIMESTAMP] = "timestamp", [CATALOG_TYPE_TIMESTAMPTZ] = "timestamptz",
		[CATALOG_TYPE_INTERVAL] = "interval", [CATALOG_TYPE_YEAR] = "year",
		[CATALOG_TYPE_JSON] = "json", [CATALOG_TYPE_JSONB] = "jsonb",
		[CATALOG_TYPE_UUID] = "uuid", [CATALOG_TYPE_ENUM] = "enum",
		[CATALOG_TYPE_SET] = "set", [CATALOG_TYPE_ARRAY] = "array",
		[CATALOG_TYPE_BIT] = "bit", [CATALOG_TYPE_VARBIT] = "varbit",
		[CATALOG_TYPE_INET] = "inet", [CATALOG_TYPE_CIDR] = "cidr",
	};
	if ((unsigned)cls < sizeof names / sizeof names[0] && names[cls] != NULL)
		return names[cls];
	return "?";
}

const char *catalog_replica_identity_name(catalog_replica_identity ri)
{
	switch (ri) {
	case CATALOG_RI_DEFAULT: return "default";
	case CATALOG_RI_FULL: return "full";
	case CATALOG_RI_INDEX: return "index";
	case CATALOG_RI_NOTHING: return "nothing";
	}
	return "?";
}

const char *catalog_identity_name(catalog_identity identity)
{
	switch (identity) {
	case CATALOG_IDENTITY_NONE: return "none";
	case CATALOG_IDENTITY_ALWAYS: return "always";
	case CATALOG_IDENTITY_BY_DEFAULT: return "by default";
	}
	return "?";
}

void catalog_map_table(const catalog_name_map *map, const catalog_table *t,
		       const char **schema, const char **name)
{
	*schema = t->schema;
	*name = t->name;
	if (map != NULL && map->table != NULL)
		map->table(map->arg, t, schema, name);
}

const char *catalog_map_schema(const catalog_name_map *map, const char *schema)
{
	if (map == NULL || map->schema == NULL)
		return schema;
	return map->schema(map->arg, schema);
}

const char *catalog_map_column(const catalog_name_map *map, const catalog_table *t, int column)
{
	const catalog_column *c = &t->columns[column];
	if (map == NULL || map->column == NULL)
		return c->name;
	return map->column(map->arg, t, c);
}

bool catalog_map_changes_columns(const catalog_name_map *map, const catalog_table *t)
{
	for (int i = 0; i < t->n_columns; i++) {
		const char *name = catalog_map_column(map, t, i);
		if (name == NULL || strcmp(name, t->columns[i].name) != 0)
			return true;
	}
	return false;
}

bool catalog_type_equal(const catalog_type *a, const catalog_type *b)
{
	if (a->cls != b->cls || a->length != b->length || a->precision != b->precision ||
	    a->scale != b->scale || a->n_labels != b->n_labels)
		return false;
	for (int i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i], b->labels[i]) != 0)
			return false;
	if (a->cls == CATALOG_TYPE_ARRAY)
		return a->element != NULL && b->element != NULL &&
		       catalog_type_equal(a->element, b->element);
	return true;
}

/* Compares one included source column with its target column; counts differences. */
static int column_shape_diff(const catalog_column *s, const catalog_column *tc,
			     const char *target_name, strbuf *why)
{
	int diffs = 0;
	if (!catalog_type_equal(&s->type, &tc->type) ||
	    (s->type.cls == CATALOG_TYPE_OTHER && strcmp(s->type_name, tc->type_name) != 0)) {
		if (why != NULL)
			strbuf_appendf(why, "column %s: type %s on the source, %s on the target\n",
				       target_name, s->type_name, tc->type_name);
		diffs++;
	}
	if (s->not_null != tc->not_null) {
		if (why != NULL)
			strbuf_appendf(why, "column %s: %s on the source, %s on the target\n", target_name,
				       s->not_null ? "NOT NULL" : "nullable",
				       tc->not_null ? "NOT NULL" : "nullable");
		diffs++;
	}
	if ((s->generated_expr != NULL) != (tc->generated_expr != NULL)) {
		if (why != NULL)
			strbuf_appendf(why, "column %s: generated on one side only\n", target_name);
		diffs++;
	}
	return diffs;
}

/* Target columns no source column maps to must be fillable without a value. */
static int extra_target_columns(const catalog_table *source, const catalog_name_map *map,
				const catalog_table *target, strbuf *why)
{
	int diffs = 0;
	for (int j = 0; j < target->n_columns; j++) {
		const catalog_column *tc = &target->columns[j];
		bool mapped = false;
		for (int i = 0; i < source->n_columns && !mapped; i++) {
			const char *name = catalog_map_column(map, source, i);
			mapped = name != NULL && strcmp(name, tc->name) == 0;
		}
		if (mapped || !tc->not_null || tc->default_expr != NULL ||
		    tc->generated_expr != NULL || tc->identity != CATALOG_IDENTITY_NONE ||
		    tc->auto_increment)
			continue;
		if (why != NULL)
			strbuf_appendf(why, "column %s: only on the target, NOT NULL without a default\n",
				       tc->name);
		diffs++;
	}
	return diffs;
}

static int key_shape_diff(const catalog_table *source, const catalog_name_map *map,
			  const catalog_table *target, strbuf *why)
{
	bool same = source->n_key_columns == target->n_key_columns;
	for (int k = 0; same && k < source->n_key_columns; k++) {
		const char *name = catalog_map_column(map, source, source->key_columns[k]);
		same = name != NULL &&
		       strcmp(name, target->columns[target->key_columns[k]].name) == 0;
	}
	if (same)
		return 0;
	if (why != NULL)
		strbuf_append(why, "the key columns differ\n");
	return 1;
}

int catalog_table_shape_diff(const catalog_table *source, const catalog_name_map *map,
			     const catalog_table *target, strbuf *why)
{
	int diffs = 0;
	for (int i = 0; i < source->n_columns; i++) {
		const char *name = catalog_map_column(map, source, i);
		if (name == NULL)
			continue;
		int j = catalog_find_column(target, name);
		if (j < 0) {
			if (why != NULL)
				strbuf_appendf(why, "column %s: missing on the target\n", name);
			diffs++;
			continue;
		}
		diffs += column_shape_diff(&source->columns[i], &target->columns[j], name, why);
	}
	diffs += extra_target_columns(source, map, target, why);
	diffs += key_shape_diff(source, map, target, why);
	return diffs;
}
