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

#include "base/base.h"
#include "smtp/smtp.h"
#include "core/core.h"
#include "store/store.h"

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
 * What the routes work with, all of core/ (core/core.h), which the server
 * opens and keeps: the key pair, the credentials with their pools, and
 * the tokens. Every core call returns GW_OK or a code with `err` set,
 * which api_error_from() maps to the reply: GW_EINVAL (400), GW_ENOTFOUND
 * (404), GW_ECONFLICT (409), others (500).
 */
struct api_ctx {
    const struct vault *vault;
    struct core_creds *creds;
    struct core_tokens *tokens;
    /* The data directory, where a raw message's body is held past its
       first MiB until it is complete (in a file without a name). */
    const char *spool_dir;
};

/* One request with its body, as a route's handler takes it. */
struct api_call {
    const char *path;                 /* without the query */
    const struct store_token *caller; /* NULL on routes without a token */
    /* The complete body. The route may free it (buf_free) as soon as it
       is read, so that a large request is not held twice; it stays a
       valid, perhaps empty, buffer. */
    struct buf *body;
    /* Whether the client is still there, for a send waiting for a
       connection; NULL when the server cannot tell. */
    const struct smtp_cancel *cancel;
};

/* What the server needs to know of a route before it reads the body. */
struct api_route {
    const char *method;
    const char *path;         /* a '*' segment matches any one segment */
    bool needs_token;         /* a bearer token is required */
    bool admin;               /* ... of the admin scope */
    const char *content_type; /* the body's media type; NULL: no body */
    bool streams; /* the body goes to api_stream_*() as it arrives */
    /* Takes the complete body, and may free it (buf_free) as soon as
       it is read, so that a large request is not held twice. */
    void (*handle)(const struct api_route *route, const struct api_ctx *ctx,
                   const struct api_call *call, struct api_response *resp);
};

/* Sets up the JSON library; once, before any other call of the API. */
void api_init(void);

/*
 * Finds the route for `method` and `path` (without the query string).
 * Returns it, or NULL with `resp` made a 404 (no such path) or a 405
 * (the path exists for other methods, listed in resp->allow).
 */
const struct api_route *api_route_find(const char *method, const char *path,
                                       struct api_response *resp);

/*
 * Checks the bearer `token` (NULL when the request has none) for the
 * route: on success `caller` is who sent the request; otherwise false
 * with `resp` made a 401 (no token, or not one the gateway knows) or a
 * 403 (a token without the admin scope on an admin route).
 */
bool api_authorize(const struct api_route *route, const struct api_ctx *ctx,
                   const char *token, struct store_token *caller,
                   struct api_response *resp);

/*
 * Makes `resp` a 503 for a request that was not run (the gateway is
 * stopping, or has too many connections), which may be sent again on a
 * new connection: retryable, with Retry-After. `why` is the error text.
 */
void api_unavailable(struct api_response *resp, const char *why);

/* Runs the route on the complete request and fills `resp`. */
void api_handle(const struct api_route *route, const struct api_ctx *ctx,
                const struct api_call *call, struct api_response *resp);

/* One parameter of the query string, decoded. A decoded %00 ends the
   strings early, and the lengths (of every byte) tell. */
struct api_param {
    const char *key;
    const char *value; /* "" when the parameter has no '=' */
    size_t key_len, value_len;
};

/* What a streaming route knows before its body arrives. */
struct api_stream_start {
    const struct api_param *params; /* the query, in order */
    size_t n_params;
    size_t size;                      /* Content-Length; 0 when not given */
    size_t max_body;                  /* the most the body may hold */
    const struct store_token *caller; /* who sent the request */
    const struct smtp_cancel *cancel; /* as in struct api_call */
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
