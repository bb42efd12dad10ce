/* Relation cache of the pgoutput stream: oid -> description, mapping, RELATION record. */
#include "workers/pg_relcache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sqlquote.h"
#include "ipc/relmsg.h"

/* A description copied from a Relation message; moved into the entry when whole. */
typedef struct described {
	char *nspname;
	char *relname;
	char *label;
	char replident;
	int ncols;
	pg_relcache_col *cols;
} described;

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void pg_relcache_shared_init(pg_relcache_shared *s, pg_capture_lookup_fn lookup, void *lookup_arg,
			     pg_capture_type_names_fn type_names, void *type_names_arg)
{
	memset(s, 0, sizeof *s);
	s->lookup = lookup;
	s->lookup_arg = lookup_arg;
	s->type_names = type_names;
	s->type_names_arg = type_names_arg;
}

void pg_relcache_shared_free(pg_relcache_shared *s)
{
	for (int i = 0; i < s->ntypes; i++)
		free(s->types[i].name);
	free(s->types);
	memset(s, 0, sizeof *s);
}

void pg_relcache_init(pg_relcache *rc, pg_relcache_shared *shared, const pg_relcache *parent)
{
	memset(rc, 0, sizeof *rc);
	rc->shared = shared;
	rc->parent = parent;
}

static void free_cols(pg_relcache_col *cols, int n)
{
	for (int i = 0; cols && i < n; i++) {
		free(cols[i].name);
		free(cols[i].type_name);
	}
	free(cols);
}

static void described_free(described *d)
{
	free(d->nspname);
	free(d->relname);
	free(d->label);
	free_cols(d->cols, d->ncols);
	memset(d, 0, sizeof *d);
}

static void entry_free(pg_relcache_entry *e)
{
	free(e->nspname);
	free(e->relname);
	free(e->label);
	free_cols(e->cols, e->ncols);
	record_buf_free(&e->relrec);
	free(e->emitted);
	free(e);
}

void pg_relcache_free(pg_relcache *rc)
{
	for (size_t i = 0; i < rc->cap; i++)
		if (rc->slots[i])
			entry_free(rc->slots[i]);
	free(rc->slots);
	memset(rc, 0, sizeof *rc);
}

/* ---- the oid hash ------------------------------------------------------------------ */

static size_t slot_of(uint32_t relid, size_t cap)
{
	return (size_t)((relid * UINT32_C(2654435761)) & (cap - 1)); /* cap is a power of two */
}

pg_relcache_entry *pg_relcache_find(const pg_relcache *rc, uint32_t relid)
{
	if (rc->n == 0)
		return NULL;
	for (size_t i = slot_of(relid, rc->cap);; i = (i + 1) & (rc->cap - 1)) {
		pg_relcache_entry *e = rc->slots[i];
		if (!e || e->relid == relid)
			return e;
	}
}

static void place(pg_relcache_entry **slots, size_t cap, pg_relcache_entry *e)
{
	size_t i = slot_of(e->relid, cap);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = e;
}

pg_relcache_entry *pg_relcache_get(pg_relcache *rc, uint32_t relid)
{
	pg_relcache_entry *e = pg_relcache_find(rc, relid);
	if (e)
		return e;
	if ((rc->n + 1) * 2 > rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 64;
		pg_relcache_entry **slots = calloc(cap, sizeof *slots);
		if (!slots)
			return NULL;
		for (size_t i = 0; i < rc->cap; i++)
			if (rc->slots[i])
				place(slots, cap, rc->slots[i]);
		free(rc->slots);
		rc->slots = slots;
		rc->cap = cap;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->relid = relid;
	record_buf_init(&e->relrec);
	place(rc->slots, rc->cap, e);
	rc->n++;
	return e;
}

/* ---- descriptions ------------------------------------------------------------------ */

static bool key_flag(const pgo_message *m, int i)
{
	/* With REPLICA IDENTITY FULL pgoutput flags every column: that is no key. */
	return m->relation.cols[i].key && m->relation.replident != 'f';
}

static bool same_description(const pg_relcache_entry *e, const pgo_message *m)
{
	if (e->replident != m->relation.replident || e->ncols != m->relation.ncols ||
	    strcmp(e->nspname, m->relation.nspname) != 0 || strcmp(e->relname, m->relation.relname) != 0)
		return false;
	for (int i = 0; i < e->ncols; i++) {
		const pgo_relcol *mc = &m->relation.cols[i];
		const pg_relcache_col *c = &e->cols[i];
		if (c->type_oid != mc->type_oid || c->typmod != mc->typmod || c->key != key_flag(m, i) ||
		    strcmp(c->name, mc->name) != 0)
			return false;
	}
	return true;
}

static int copy_message(const pgo_message *m, described *d, char *err, size_t errlen)
{
	strbuf label = STRBUF_INIT;
	sql_append_pg_qualified(&label, m->relation.nspname, m->relation.relname);
	d->label = strbuf_detach(&label);
	d->nspname = strdup(m->relation.nspname);
	d->relname = strdup(m->relation.relname);
	d->replident = m->relation.replident;
	d->ncols = m->relation.ncols;
	d->cols = calloc((size_t)d->ncols + 1, sizeof *d->cols);
	bool ok = d->label && d->nspname && d->relname && d->cols;
	for (int i = 0; ok && i < d->ncols; i++) {
		const pgo_relcol *mc = &m->relation.cols[i];
		d->cols[i] = (pg_relcache_col){.name = strdup(mc->name), .type_oid = mc->type_oid,
					       .typmod = mc->typmod, .key = key_flag(m, i)};
		ok = d->cols[i].name != NULL;
	}
	return ok ? 0 : fail(err, errlen, "out of memory caching relation %u", m->relation.oid);
}

/* ---- type names -------------------------------------------------------------------- */

static const char *cached_type(const pg_relcache_shared *s, uint32_t oid, int32_t typmod)
{
	for (int i = 0; i < s->ntypes; i++)
		if (s->types[i].oid == oid && s->types[i].typmod == typmod)
			return s->types[i].name;
	return NULL;
}

static int cache_types(pg_relcache_shared *s, int n, const uint32_t *oids, const int32_t *mods, char **names)
{
	if (s->ntypes + n > s->cap_types) {
		int cap = s->cap_types ? s->cap_types : 32;
		while (cap < s->ntypes + n)
			cap *= 2;
		pg_relcache_type *t = realloc(s->types, (size_t)cap * sizeof *t);
		if (!t)
			return -1;
		s->types = t;
		s->cap_types = cap;
	}
	for (int i = 0; i < n; i++) {
		s->types[s->ntypes++] = (pg_relcache_type){oids[i], mods[i], names[i]};
		names[i] = NULL;
	}
	return 0;
}

/* Names the types of e's included columns, asking the source only for unseen ones. */
static int name_types(pg_relcache_shared *sh, pg_relcache_entry *e, char *err, size_t errlen)
{
	uint32_t *oids = calloc((size_t)e->ncols + 1, sizeof *oids);
	int32_t *mods = calloc((size_t)e->ncols + 1, sizeof *mods);
	char **names = calloc((size_t)e->ncols + 1, sizeof *names);
	int n = 0, r = -1;
	if (!oids || !mods || !names) {
		fail(err, errlen, "out of memory naming the column types of %s", e->label);
		goto out;
	}
	for (int i = 0; i < e->ncols; i++) {
		pg_relcache_col *c = &e->cols[i];
		bool listed = false;
		for (int j = 0; j < n && !listed; j++)
			listed = oids[j] == c->type_oid && mods[j] == c->typmod;
		if (c->included && !listed && !cached_type(sh, c->type_oid, c->typmod)) {
			oids[n] = c->type_oid;
			mods[n++] = c->typmod;
		}
	}
	char why[512] = "";
	if (n > 0 && sh->type_names(sh->type_names_arg, n, oids, mods, names, why, sizeof why) < 0) {
		fail(err, errlen, "naming the column types of %s: %s", e->label, why);
		goto out;
	}
	if (n > 0 && cache_types(sh, n, oids, mods, names) < 0) {
		fail(err, errlen, "out of memory naming the column types of %s", e->label);
		goto out;
	}
	r = 0;
	for (int i = 0; i < e->ncols && r == 0; i++) {
		pg_relcache_col *c = &e->cols[i];
		free(c->type_name);
		c->type_name = NULL;
		if (c->included && !(c->type_name = strdup(cached_type(sh, c->type_oid, c->typmod))))
			r = fail(err, errlen, "out of memory naming the column types of %s", e->label);
	}
out:
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(oids);
	free(mods);
	return r;
}

/* ---- mapping ----------------------------------------------------------------------- */

/* Marks the included columns from the mapping and encodes the RELATION record. */
static int apply_mapping(pg_relcache_shared *sh, pg_relcache_entry *e, const pg_capture_mapping *map, char *err,
			 size_t errlen)
{
	const rules_table *t = &map->table;
	if (map->table_id == 0 || t->n_columns != e->ncols || !t->target_schema || !t->target_name)
		return fail(err, errlen, "the mapping of %s is unusable (table id %u, %d of %d columns)", e->label,
			    map->table_id, t->n_columns, e->ncols);
	e->nout = 0;
	for (int i = 0; i < e->ncols; i++) {
		e->cols[i].included = t->target_columns && t->target_columns[i] != NULL;
		e->nout += e->cols[i].included;
	}
	if (e->nout == 0)
		return fail(err, errlen, "every column of %s is excluded", e->label);
	if (name_types(sh, e, err, errlen) < 0)
		return -1;
	relmsg_column *cols = calloc((size_t)e->nout, sizeof *cols);
	if (!cols)
		return fail(err, errlen, "out of memory describing %s", e->label);
	int k = 0;
	for (int i = 0; i < e->ncols; i++) {
		const pg_relcache_col *c = &e->cols[i];
		if (c->included)
			cols[k++] = (relmsg_column){.name = t->target_columns[i], .type_oid = c->type_oid,
						    .typmod = c->typmod, .key = c->key, .type_name = c->type_name};
	}
	relmsg msg = {.table_id = map->table_id, .source_schema = e->nspname, .source_name = e->relname,
		      .target_schema = t->target_schema, .target_name = t->target_name,
		      .replident = e->replident, .ncols = e->nout, .cols = cols};
	int r = relmsg_encode(&e->relrec, 0, &msg);
	free(cols);
	return r == 0 ? 0 : fail(err, errlen, "encoding the description of %s failed", e->label);
}

/* Asks the task what e is: 1 selected (*map filled), 0 not, -1 error. */
static int lookup(pg_relcache_shared *sh, pg_relcache_entry *e, pg_capture_mapping *map, char *err, size_t errlen)
{
	const char **names = calloc((size_t)e->ncols + 1, sizeof *names);
	bool *is_key = calloc((size_t)e->ncols + 1, sizeof *is_key);
	uint32_t *oids = calloc((size_t)e->ncols + 1, sizeof *oids);
	int sel = -1;
	if (!names || !is_key || !oids) {
		fail(err, errlen, "out of memory mapping %s", e->label);
		goto out;
	}
	bool any_key = false;
	for (int i = 0; i < e->ncols; i++) {
		names[i] = e->cols[i].name;
		is_key[i] = e->cols[i].key;
		any_key |= is_key[i];
		oids[i] = e->cols[i].type_oid;
	}
	pg_capture_source_rel src = {.relid = e->relid, .schema = e->nspname, .name = e->relname,
				     .replident = e->replident, .ncols = e->ncols, .columns = names,
				     .is_key = any_key ? is_key : NULL, .type_oids = oids};
	char why[512] = "";
	sel = sh->lookup(sh->lookup_arg, &src, map, why, sizeof why);
	if (sel < 0)
		fail(err, errlen, "mapping %s: %s", e->label, why[0] ? why : "the lookup failed");
out:
	free(names);
	free(is_key);
	free(oids);
	return sel;
}

int pg_relcache_map(pg_relcache *rc, pg_relcache_entry *e, char *err, size_t errlen)
{
	if (e->mapped)
		return 0;
	pg_capture_mapping map;
	memset(&map, 0, sizeof map);
	int sel = lookup(rc->shared, e, &map, err, errlen);
	if (sel < 0)
		return -1;
	/* What the relation was mapped to before: in a streamed transaction's cache, the
	 * plain cache knows (a rename inside the transaction must not go unnoticed). */
	const pg_relcache_entry *before = e;
	if (!e->gen && rc->parent) {
		const pg_relcache_entry *p = pg_relcache_find(rc->parent, e->relid);
		before = p && p->gen ? p : e;
	}
	int r = 0;
	if (before->selected && (sel == 0 || map.table_id != before->table_id))
		r = fail(err, errlen,
			 "source table %s (oid %u) no longer maps to the table it had (id %u): renaming a migrated "
			 "table during CDC is not supported; rename it back, or reload the table",
			 e->label, e->relid, before->table_id);
	else if (sel == 1)
		r = apply_mapping(rc->shared, e, &map, err, errlen);
	if (sel == 1)
		rules_table_free(&map.table);
	if (r < 0)
		return -1;
	e->selected = sel == 1;
	e->table_id = sel == 1 ? map.table_id : 0;
	e->mapped = true;
	e->gen = ++rc->shared->gen_counter;
	return 0;
}

int pg_relcache_update(pg_relcache *rc, const pgo_message *m, char *err, size_t errlen)
{
	pg_relcache_entry *e = pg_relcache_get(rc, m->relation.oid);
	if (!e)
		return fail(err, errlen, "out of memory caching relation %u", m->relation.oid);
	if (e->label && same_description(e, m))
		return 0;
	described d;
	memset(&d, 0, sizeof d);
	if (copy_message(m, &d, err, errlen) < 0) {
		described_free(&d);
		return -1;
	}
	free(e->nspname);
	free(e->relname);
	free(e->label);
	free_cols(e->cols, e->ncols);
	e->nspname = d.nspname;
	e->relname = d.relname;
	e->label = d.label;
	e->replident = d.replident;
	e->ncols = d.ncols;
	e->cols = d.cols;
	e->nout = 0;
	e->mapped = false;
	return 0;
}

/* Moves s's description, and its mapping when it has one, into e. */
static void move_entry(pg_relcache_entry *e, pg_relcache_entry *s)
{
	free(e->nspname);
	free(e->relname);
	free(e->label);
	free_cols(e->cols, e->ncols);
	e->nspname = s->nspname;
	e->relname = s->relname;
	e->label = s->label;
	e->replident = s->replident;
	e->ncols = s->ncols;
	e->cols = s->cols;
	e->nout = s->nout;
	e->mapped = s->mapped;
	if (s->mapped) {
		/* The mapping was checked against this cache's when it was made. */
		e->selected = s->selected;
		e->table_id = s->table_id;
		e->gen = s->gen;
		record_buf tmp = e->relrec;
		e->relrec = s->relrec;
		s->relrec = tmp;
	}
	s->nspname = s->relname = s->label = NULL;
	s->cols = NULL;
	s->ncols = 0;
}

int pg_relcache_adopt(pg_relcache *rc, pg_relcache *src, char *err, size_t errlen)
{
	for (size_t i = 0; i < src->cap; i++) {
		pg_relcache_entry *s = src->slots[i];
		if (!s || !s->label)
			continue;
		pg_relcache_entry *e = pg_relcache_get(rc, s->relid);
		if (!e)
			return fail(err, errlen, "out of memory caching relation %u", s->relid);
		move_entry(e, s);
	}
	return 0;
}
