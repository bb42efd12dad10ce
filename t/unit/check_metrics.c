/* The metrics endpoint's pure parts: the Prometheus text format (supervisor/metrics_text.c:
 * label and help escaping, a family's lines) and the HTTP request head parser and
 * response builder (supervisor/metrics_http.c). The served page itself is checked
 * against a running ferryd by t/integration/150_metrics.sh. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/metrics_http.h"
#include "supervisor/metrics_text.h"

/* ---- Prometheus text ------------------------------------------------------------ */

static char *label_value(const char *raw)
{
	strbuf sb = STRBUF_INIT;
	prom_append_label_value(&sb, raw);
	return strbuf_detach(&sb);
}

START_TEST(label_values_escape_backslash_quote_newline)
{
	char *s = label_value("\"public\".\"big\"");
	ck_assert_str_eq(s, "\\\"public\\\".\\\"big\\\"");
	free(s);
	s = label_value("a\\b\nc");
	ck_assert_str_eq(s, "a\\\\b\\nc");
	free(s);
	s = label_value("plain_name ü");
	ck_assert_str_eq(s, "plain_name ü");
	free(s);
	s = label_value("");
	ck_assert(s == NULL || s[0] == '\0'); /* nothing to escape, nothing written */
	free(s);
}
END_TEST

START_TEST(help_escapes_backslash_and_newline_not_quotes)
{
	strbuf sb = STRBUF_INIT;
	prom_append_help(&sb, "say \"hi\"\\\nnext");
	ck_assert_str_eq(strbuf_str(&sb), "say \"hi\"\\\\\\nnext");
	strbuf_free(&sb);
}
END_TEST

START_TEST(one_family_with_labels)
{
	strbuf sb = STRBUF_INIT;
	prom_family(&sb, "ferry_table_changes_applied_total", "counter", "Changes applied, by operation.");
	prom_label l[3] = {{"task", "mig"}, {"table", "\"public\".\"t\""}, {"op", "insert"}};
	prom_sample(&sb, "ferry_table_changes_applied_total", l, 3, 42);
	l[2].value = "delete";
	prom_sample(&sb, "ferry_table_changes_applied_total", l, 3, -1);
	ck_assert_str_eq(strbuf_str(&sb),
			 "# HELP ferry_table_changes_applied_total Changes applied, by operation.\n"
			 "# TYPE ferry_table_changes_applied_total counter\n"
			 "ferry_table_changes_applied_total{task=\"mig\",table=\"\\\"public\\\".\\\"t\\\"\",op=\"insert\"} 42\n"
			 "ferry_table_changes_applied_total{task=\"mig\",table=\"\\\"public\\\".\\\"t\\\"\",op=\"delete\"} -1\n");
	strbuf_free(&sb);
}
END_TEST

START_TEST(samples_without_labels_and_skipped_labels)
{
	strbuf sb = STRBUF_INIT;
	prom_sample_seconds(&sb, "ferry_uptime_seconds", NULL, 0, 12.3456);
	prom_label l[2] = {{"task", NULL}, {"worker", "apply t.1"}};
	prom_sample(&sb, "ferry_worker_up", l, 2, 1);
	prom_label none[1] = {{"task", NULL}};
	prom_sample(&sb, "x", none, 1, 9223372036854775807LL);
	ck_assert_str_eq(strbuf_str(&sb), "ferry_uptime_seconds 12.346\n"
					  "ferry_worker_up{worker=\"apply t.1\"} 1\n"
					  "x 9223372036854775807\n");
	strbuf_free(&sb);
}
END_TEST

/* ---- HTTP request head ----------------------------------------------------------- */

static http_parse_result parse(const char *text, http_request *req)
{
	return http_parse_request(text, strlen(text), req);
}

START_TEST(complete_requests)
{
	http_request r;
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &r), HTTP_COMPLETE);
	ck_assert_str_eq(r.method, "GET");
	ck_assert_str_eq(r.path, "/metrics");
	ck_assert_int_eq(parse("HEAD /status?pretty=1#top HTTP/1.0\r\n\r\n", &r), HTTP_COMPLETE);
	ck_assert_str_eq(r.method, "HEAD");
	ck_assert_str_eq(r.path, "/status");
	ck_assert_int_eq(parse("GET http://127.0.0.1:9187/metrics HTTP/1.1\n\n", &r), HTTP_COMPLETE);
	ck_assert_str_eq(r.path, "/metrics");
	ck_assert_int_eq(parse("GET http://127.0.0.1:9187 HTTP/1.1\n\n", &r), HTTP_COMPLETE);
	ck_assert_str_eq(r.path, "/");
	ck_assert_int_eq(parse("DELETE /metrics HTTP/1.1\r\n\r\n", &r), HTTP_COMPLETE);
	ck_assert_str_eq(r.method, "DELETE"); /* 405 is the server's decision */
}
END_TEST

START_TEST(incomplete_until_the_empty_line)
{
	http_request r;
	ck_assert_int_eq(parse("", &r), HTTP_INCOMPLETE);
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\n", &r), HTTP_INCOMPLETE);
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r", &r), HTTP_INCOMPLETE);
	/* bytes after the head (a body) do not matter */
	const char full[] = "GET /metrics HTTP/1.1\r\n\r\nBODY";
	ck_assert_int_eq(http_parse_request(full, sizeof full - 1, &r), HTTP_COMPLETE);
	/* not NUL-terminated: only len bytes are looked at */
	ck_assert_int_eq(http_parse_request(full, 23, &r), HTTP_INCOMPLETE);
}
END_TEST

START_TEST(bad_requests)
{
	http_request r;
	const char *bad400[] = {
		"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
		"get /metrics HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics FTP/1.0\r\n\r\n",
		"GET /metrics HTTP/1.1 extra\r\n\r\n", "\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++) {
		ck_assert_msg(parse(bad400[i], &r) == HTTP_BAD, "accepted: %s", bad400[i]);
		ck_assert_int_eq(r.status, 400);
		ck_assert_ptr_nonnull(r.why);
	}
	ck_assert_int_eq(parse("GET /metrics HTTP/2.0\r\n\r\n", &r), HTTP_BAD);
	ck_assert_int_eq(r.status, 505);
	char longpath[600];
	memset(longpath, 'a', sizeof longpath);
	memcpy(longpath, "GET /", 5);
	strcpy(longpath + 500, " HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(parse(longpath, &r), HTTP_BAD);
	ck_assert_int_eq(r.status, 400);
}
END_TEST

START_TEST(responses)
{
	size_t len;
	char *r = http_response(404, "text/plain", NULL, "nope\n", 5, false, &len);
	const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
			    "Connection: close\r\nCache-Control: no-store\r\n\r\nnope\n";
	ck_assert_uint_eq(len, sizeof want - 1);
	ck_assert_mem_eq(r, want, len);
	free(r);
	/* HEAD: the same head (Content-Length of the body), no body */
	r = http_response(405, "text/plain", "Allow: GET, HEAD\r\n", "no\n", 3, true, &len);
	const char head[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
			    "Connection: close\r\nCache-Control: no-store\r\nAllow: GET, HEAD\r\n\r\n";
	ck_assert_uint_eq(len, sizeof head - 1);
	ck_assert_mem_eq(r, head, len);
	free(r);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("prometheus text");
	tcase_add_test(tc, label_values_escape_backslash_quote_newline);
	tcase_add_test(tc, help_escapes_backslash_and_newline_not_quotes);
	tcase_add_test(tc, one_family_with_labels);
	tcase_add_test(tc, samples_without_labels_and_skipped_labels);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_add_test(tc, complete_requests);
	tcase_add_test(tc, incomplete_until_the_empty_line);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, responses);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
