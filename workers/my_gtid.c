/* MariaDB GTID states and the history capture keeps of them (see the header). */
#include "workers/my_gtid.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index of domain in s, or where it would go (*found false). */
static int locate(const my_gtid_state *s, uint32_t domain, bool *found)
{
	int lo = 0, hi = s->n;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (s->d[mid].domain < domain)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n && s->d[lo].domain == domain;
	return lo;
}

int my_gtid_update(my_gtid_state *s, uint32_t domain, uint32_t server_id, uint64_t seq)
{
	bool found;
	int i = locate(s, domain, &found);
	if (!found) {
		if (s->n >= MY_GTID_MAX_DOMAINS)
			return -1;
		memmove(&s->d[i + 1], &s->d[i], (size_t)(s->n - i) * sizeof s->d[0]);
		s->n++;
	}
	s->d[i] = (my_gtid_entry){.domain = domain, .server_id = server_id, .seq = seq};
	return 0;
}

int my_gtid_merge(my_gtid_state *dst, const my_gtid_state *src)
{
	my_gtid_state out = *dst;
	for (int i = 0; i < src->n; i++)
		if (my_gtid_update(&out, src->d[i].domain, src->d[i].server_id, src->d[i].seq) < 0)
			return -1;
	*dst = out;
	return 0;
}

bool my_gtid_equal(const my_gtid_state *a, const my_gtid_state *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->d, b->d, (size_t)a->n * sizeof a->d[0]) == 0);
}

const my_gtid_entry *my_gtid_find(const my_gtid_state *s, uint32_t domain)
{
	bool found;
	int i = locate(s, domain, &found);
	return found ? &s->d[i] : NULL;
}

bool my_gtid_covered(const my_gtid_state *s, const my_gtid_state *oldest, uint32_t *domain)
{
	for (int i = 0; i < oldest->n; i++) {
		const my_gtid_entry *mine = my_gtid_find(s, oldest->d[i].domain);
		if (mine == NULL || mine->seq < oldest->d[i].seq) {
			*domain = oldest->d[i].domain;
			return false;
		}
	}
	return true;
}

/* ---- text ------------------------------------------------------------------------------------ */

/* An unsigned decimal at *p (no sign, no blanks) not above max; *p moves past it. */
static bool read_number(const char **p, uint64_t max, uint64_t *out)
{
	if (!isdigit((unsigned char)**p))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(*p, &end, 10);
	if (errno != 0 || v > max)
		return false;
	*p = end;
	*out = v;
	return true;
}

static int parse_one(const char **p, my_gtid_entry *e)
{
	uint64_t domain, server, seq;
	if (!read_number(p, UINT32_MAX, &domain) || *(*p)++ != '-' || !read_number(p, UINT32_MAX, &server) ||
	    *(*p)++ != '-' || !read_number(p, UINT64_MAX, &seq))
		return -1;
	*e = (my_gtid_entry){.domain = (uint32_t)domain, .server_id = (uint32_t)server, .seq = seq};
	return 0;
}

int my_gtid_parse(const char *text, my_gtid_state *out, char *err, size_t errlen)
{
	my_gtid_state s = {0};
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	while (*p) {
		const char *item = p;
		my_gtid_entry e;
		if (parse_one(&p, &e) < 0) {
			snprintf(err, errlen, "GTID state \"%s\": \"%.*s\" is not domain-server_id-sequence", text,
				 (int)strcspn(item, ","), item);
			return -1;
		}
		if (my_gtid_find(&s, e.domain) != NULL) {
			snprintf(err, errlen, "GTID state \"%s\": domain %" PRIu32 " appears twice", text, e.domain);
			return -1;
		}
		if (my_gtid_update(&s, e.domain, e.server_id, e.seq) < 0) {
			snprintf(err, errlen, "GTID state \"%.60s...\": more than %d replication domains", text,
				 MY_GTID_MAX_DOMAINS);
			return -1;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ',') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '\0') {
				snprintf(err, errlen, "GTID state \"%s\" ends with a comma", text);
				return -1;
			}
		} else if (*p != '\0') {
			snprintf(err, errlen, "GTID state \"%s\": unexpected \"%.20s\"", text, p);
			return -1;
		}
	}
	*out = s;
	return 0;
}

int my_gtid_format(const my_gtid_state *s, char *out, size_t size)
{
	size_t len = 0;
	if (size > 0)
		out[0] = '\0';
	for (int i = 0; i < s->n; i++) {
		int n = snprintf(out + len, size > len ? size - len : 0, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64,
				 i ? "," : "", s->d[i].domain, s->d[i].server_id, s->d[i].seq);
		if (n < 0 || len + (size_t)n >= size) {
			if (size > 0)
				out[0] = '\0';
			return -1;
		}
		len += (size_t)n;
	}
	return (int)len;
}

/* ---- the history ----------------------------------------------------------------------------- */

int my_gtid_log_init(my_gtid_log *l, const my_gtid_state *start)
{
	*l = (my_gtid_log){.base = *start};
	l->e = malloc(MY_GTID_LOG_CAP * sizeof *l->e);
	return l->e == NULL ? -1 : 0;
}

void my_gtid_log_free(my_gtid_log *l)
{
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

/* Folds the older half into the base: those positions are then given up. */
static void fold(my_gtid_log *l)
{
	int k = l->n / 2;
	for (int i = 0; i < k && !l->overflow; i++)
		l->overflow = my_gtid_update(&l->base, l->e[i].gtid.domain, l->e[i].gtid.server_id, l->e[i].gtid.seq) < 0;
	l->base_from = l->e[k - 1].position + 1;
	memmove(l->e, l->e + k, (size_t)(l->n - k) * sizeof *l->e);
	l->n -= k;
}

void my_gtid_log_add(my_gtid_log *l, uint64_t position, uint32_t domain, uint32_t server_id, uint64_t seq)
{
	if (l->e == NULL)
		return;
	if (l->n == MY_GTID_LOG_CAP)
		fold(l);
	l->e[l->n++] = (my_gtid_log_entry){.position = position,
					   .gtid = {.domain = domain, .server_id = server_id, .seq = seq}};
}

bool my_gtid_log_at(const my_gtid_log *l, uint64_t position, my_gtid_state *out)
{
	if (l->overflow || position < l->base_from)
		return false;
	my_gtid_state s = l->base;
	for (int i = 0; i < l->n && l->e[i].position < position; i++)
		if (my_gtid_update(&s, l->e[i].gtid.domain, l->e[i].gtid.server_id, l->e[i].gtid.seq) < 0)
			return false;
	*out = s;
	return true;
}
