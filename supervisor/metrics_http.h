/* The little HTTP the metrics endpoint speaks: one request per connection (HTTP/1.0 and
 * 1.1, GET and HEAD), answered with a complete response and "Connection: close".
 * Request headers are not interpreted and a request body is never read: a scraper
 * sends neither anything ferry needs nor a body. Pure functions, no I/O. */
#ifndef FERRY_METRICS_HTTP_H
#define FERRY_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef enum http_parse_result {
	HTTP_INCOMPLETE, /* the head has not ended yet: read more */
	HTTP_COMPLETE,   /* req is filled */
	HTTP_BAD         /* answer with req->status (400, 505) and close */
} http_parse_result;

typedef struct http_request {
	char method[16];
	char path[256];  /* the target's path, without query string or fragment */
	int status;      /* HTTP_BAD: the status to answer */
	const char *why; /* HTTP_BAD: a short reason for the response body */
} http_request;

/* Looks at the bytes received so far (buf need not be NUL-terminated). The head ends
 * at the first empty line (CRLF CRLF, or a bare LF LF from a lenient client). */
http_parse_result http_parse_request(const char *buf, size_t len, http_request *req);

/* A whole response (malloc'd, *out_len bytes): status line, Content-Type,
 * Content-Length, Connection: close, extra_headers (each ending in CRLF, or NULL), an
 * empty line, then the body unless head_only (a HEAD request). NULL when out of memory. */
char *http_response(int status, const char *content_type, const char *extra_headers, const char *body,
		    size_t body_len, bool head_only, size_t *out_len);

/* "OK", "Not Found", ...; "Error" for a code not used here. */
const char *http_status_text(int status);

#endif
