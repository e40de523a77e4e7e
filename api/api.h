/*
 * The HTTP-free heart of the API: the route table, request validation and
 * the mapping of SMTP outcomes to replies. The server hands over a method,
 * a path and a complete body; this module answers with a status code and
 * a JSON body. It never sees a socket or libmicrohttpd.
 */
#ifndef GW_API_H
#define GW_API_H

#include <stdbool.h>
#include <stddef.h>

#include "../smtp/buf.h"
#include "../smtp/smtp.h"

/* The most a reply body may hold; replies are small JSON documents. */
#define API_RESPONSE_MAX (1024 * 1024)

/* A reply ready to be sent. Initialise with api_response_init(). */
struct api_response {
    unsigned status;      /* the HTTP status code */
    struct buf body;      /* the JSON document */
    char allow[64];       /* for 405, the Allow header; "" otherwise */
    unsigned retry_after; /* for 503, seconds; 0 for no Retry-After */
    /* A document served as it is, instead of `body`: its media type and
       its bytes, which live as long as the process (NULL: `body`, JSON). */
    const char *content_type;
    const unsigned char *static_body;
    size_t static_len;
};

void api_response_init(struct api_response *resp);
void api_response_free(struct api_response *resp);

/*
 * Makes `resp` an error reply: `status` with {"status":"failed",
 * "error":"<field>: <text>","field":"<field>"}; `field` may be NULL when
 * no one field is at fault.
 */
void api_error(struct api_response *resp, unsigned status, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * What the API reaches through the server: the upstream pool of a named
 * credential (NULL when there is none).
 */
struct api_ctx {
    struct smtp_pool *(*find_pool)(void *arg, const char *credential);
    void *arg;
};

/* What the server needs to know of a route before it reads the body. */
struct api_route {
    const char *method;
    const char *path;
    bool needs_token;         /* a bearer token is required */
    const char *content_type; /* the body's media type; NULL: no body */
    bool streams; /* the body goes to api_stream_*() as it arrives */
    /* Takes the complete body, and may free it (buf_free) as soon as
       it is read, so that a large request is not held twice. */
    void (*handle)(const struct api_route *route, const struct api_ctx *ctx,
                   struct buf *body, struct api_response *resp);
};

/*
 * Finds the route for `method` and `path` (without the query string).
 * Returns it, or NULL with `resp` made a 404 (no such path) or a 405
 * (the path exists for other methods, listed in resp->allow).
 */
const struct api_route *api_route_find(const char *method, const char *path,
                                       struct api_response *resp);

/*
 * Runs the route on the complete body and fills `resp`. The route may
 * free `body` early; it stays a valid (perhaps empty) buffer.
 */
void api_handle(const struct api_route *route, const struct api_ctx *ctx,
                struct buf *body, struct api_response *resp);

/* One parameter of the query string, decoded. */
struct api_param {
    const char *key;
    const char *value;
};

/* What a streaming route knows before its body arrives. */
struct api_stream_start {
    const struct api_param *params; /* the query, in order */
    size_t n_params;
    size_t size;     /* Content-Length; 0 when not given */
    size_t max_body; /* the most the body may hold */
};

/*
 * A request whose body is relayed while it arrives (a raw message):
 * begin runs on the headers, data on every piece, end after the last.
 */
struct api_stream;

/*
 * Checks the request from its headers and query, and starts relaying.
 * Returns NULL with `resp` made an error reply when the request is
 * refused before its body is read.
 */
struct api_stream *api_stream_begin(const struct api_route *route,
                                    const struct api_ctx *ctx,
                                    const struct api_stream_start *start,
                                    struct api_response *resp);

/* Relays the next `n` bytes of the body. */
void api_stream_data(struct api_stream *st, const char *p, size_t n);

/* Ends the body, fills `resp` and frees the stream. */
void api_stream_end(struct api_stream *st, struct api_response *resp);

/* The client went away before the end: nothing is delivered; frees. */
void api_stream_cancel(struct api_stream *st);

#endif
