/* Request-line parsing and response building for the metrics endpoint (see the header). */
#include "supervisor/metrics_http.h"

#include <string.h>

#include "common/sqlquote.h"

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static http_parse_result bad(http_request *req, int status, const char *why)
{
	req->status = status;
	req->why = why;
	return HTTP_BAD;
}

/* Length of the head up to and including its empty line, or 0 while it has not ended. */
static size_t head_length(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Copies the token of buf[*pos..] up to the next space into out; false when empty or
 * too long. */
static bool take_token(const char *line, size_t n, size_t *pos, char *out, size_t out_size)
{
	size_t start = *pos;
	while (*pos < n && line[*pos] != ' ')
		(*pos)++;
	size_t len = *pos - start;
	if (len == 0 || len >= out_size)
		return false;
	memcpy(out, line + start, len);
	out[len] = '\0';
	return true;
}

/* The path of an origin-form ("/metrics?x") or absolute-form ("http://h:1/metrics")
 * target, without query and fragment. */
static bool target_path(char *target)
{
	if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0) {
		char *slash = strchr(strstr(target, "//") + 2, '/');
		if (slash == NULL)
			strcpy(target, "/");
		else
			memmove(target, slash, strlen(slash) + 1);
	}
	if (target[0] != '/')
		return false;
	target[strcspn(target, "?#")] = '\0';
	return true;
}

http_parse_result http_parse_request(const char *buf, size_t len, http_request *req)
{
	memset(req, 0, sizeof *req);
	size_t head = head_length(buf, len);
	if (head == 0)
		return HTTP_INCOMPLETE;
	size_t n = 0;
	while (n < head && buf[n] != '\r' && buf[n] != '\n')
		n++;
	char target[sizeof req->path], version[16];
	size_t pos = 0;
	if (!take_token(buf, n, &pos, req->method, sizeof req->method) || pos >= n || buf[pos++] != ' ')
		return bad(req, 400, "malformed request line");
	for (const char *m = req->method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return bad(req, 400, "malformed method");
	if (!take_token(buf, n, &pos, target, sizeof target) || pos >= n || buf[pos++] != ' ')
		return bad(req, 400, "malformed or too long request target");
	if (!take_token(buf, n, &pos, version, sizeof version) || pos != n)
		return bad(req, 400, "malformed request line");
	if (strncmp(version, "HTTP/", 5) != 0)
		return bad(req, 400, "not an HTTP request");
	if (strcmp(version, "HTTP/1.0") != 0 && strcmp(version, "HTTP/1.1") != 0)
		return bad(req, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
	if (!target_path(target))
		return bad(req, 400, "the request target must be a path");
	memcpy(req->path, target, strlen(target) + 1);
	return HTTP_COMPLETE;
}

char *http_response(int status, const char *content_type, const char *extra_headers, const char *body,
		    size_t body_len, bool head_only, size_t *out_len)
{
	strbuf sb = STRBUF_INIT;
	strbuf_appendf(&sb, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n",
		       status, http_status_text(status), content_type, body_len);
	strbuf_append(&sb, "Cache-Control: no-store\r\n");
	if (extra_headers != NULL)
		strbuf_append(&sb, extra_headers);
	strbuf_append(&sb, "\r\n");
	if (!head_only && body_len > 0)
		strbuf_append_len(&sb, body, body_len);
	*out_len = sb.len;
	return strbuf_detach(&sb);
}
