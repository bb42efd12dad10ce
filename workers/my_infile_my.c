/* A MySQL/MariaDB partition's SELECT as a row source for the MySQL loader
 * (workers/my_infile.h): the source and the target have the same column types, so each
 * value goes over in the text the source prints for it (the session of my_task_session:
 * UTC, utf8mb4; FLOAT read as DOUBLE, BIT as its number: workers/my_value.h), only
 * escaped for LOAD DATA. Rows are read one at a time as the loader asks for bytes
 * (mysql_use_result), so memory holds one row whatever the partition's size. */
#include "workers/my_infile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/my_load.h"
#include "workers/my_out.h"
#include "workers/pg_load_internal.h"

typedef struct my_rows {
	my_load_source *src;
	const my_load_table *t;
	MYSQL_RES *res;       /* NULL once every row was read (or the read failed) */
	int64_t rows;
	char label[300];
} my_rows;

static int rows_next_line(void *arg, strbuf *out, char **err)
{
	my_rows *r = arg;
	if (r->res == NULL)
		return 0;
	MYSQL_ROW row = mysql_fetch_row(r->res);
	if (row == NULL) {
		MYSQL_RES *res = r->res;
		r->res = NULL;
		if (my_load_end_rows(r->src, res, r->label, err) < 0) {
			my_load_drop_rows(r->src, res);
			return -1;
		}
		return 0;
	}
	unsigned long *lengths = mysql_fetch_lengths(r->res);
	for (int k = 0; k < r->t->n_copied; k++) {
		if (k > 0)
			strbuf_append_char(out, '\t');
		my_out_append_infile(out, row[k] ? MY_OUT_STRING : MY_OUT_NULL, row[k], row[k] ? lengths[k] : 0);
	}
	strbuf_append_char(out, '\n');
	if (strbuf_failed(out))
		return pg_load_fail(err, "%s: out of memory", r->label);
	r->rows++;
	return 1;
}

static int64_t rows_finish(void *arg, char **err)
{
	(void)err;
	return ((my_rows *)arg)->rows;
}

static void rows_abandon(void *arg)
{
	my_rows *r = arg;
	if (r->res != NULL)
		my_load_drop_rows(r->src, r->res);
	r->res = NULL;
}

static void rows_free(void *arg)
{
	rows_abandon(arg);
	free(arg);
}

int my_infile_my_source(my_load_source *src, const my_load_table *t, const pg_load_partition *p,
			my_infile_source *out, char **err)
{
	if (src->conn == NULL || src->in_query || src->aborted)
		return pg_load_fail(err, "table %s: the source transaction is not open", t->lt.source_name);
	my_rows *r = calloc(1, sizeof *r);
	if (r == NULL)
		return pg_load_fail(err, "table %s: out of memory", t->lt.source_name);
	r->src = src;
	r->t = t;
	char where[200];
	snprintf(r->label, sizeof r->label, "table %s %s", t->lt.source_name,
		 pg_load_partition_label(&t->lt, p, where, sizeof where));
	if (my_load_open_rows(src, t, p, r->label, &r->res, err) < 0) {
		free(r);
		return -1;
	}
	*out = (my_infile_source){.next_line = rows_next_line, .finish = rows_finish, .abandon = rows_abandon,
				  .free = rows_free, .arg = r};
	return 0;
}
