/*
 * What the files of api/ share among themselves and nobody else sees:
 * the JSON helpers, the checks every route shares, and the handlers.
 */
#ifndef GW_API_INTERNAL_H
#define GW_API_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "api.h"

/*
 * Makes `doc` (whose reference this takes, NULL meaning out of memory)
 * the body of `resp` with `status`. On failure `resp` becomes a 500.
 */
enum gw_err api_reply_json(struct api_response *resp, unsigned status,
                           json_t *doc);

/*
 * Returns a JSON string of `s` made well-formed UTF-8 (gw_utf8_sanitize():
 * U+FFFD for each ill-formed sequence), or JSON null when `s` is NULL;
 * NULL only when out of memory. Every text that may come from outside (a
 * server's reply, an error detail quoting one or quoting the request, a
 * message's Message-ID) enters a reply through here: jansson refuses text
 * that is not UTF-8, and a refusal would turn the reply into a 500.
 */
json_t *api_json_text(const char *s);

/*
 * Makes `resp` the reply to a send through `credential` that started at
 * `started` (gw_now_ms()): the outcome `res` of the envelope `rcpts` as
 * JSON with its HTTP status, or a 503 when no connection was free. Logs
 * one line. `message_id` may be NULL.
 */
void api_send_reply(struct api_response *resp, const char *credential,
                    const struct smtp_result *res, const char *const *rcpts,
                    const char *message_id, uint64_t started);

/*
 * Raises the most the body of `resp` may hold to `max` bytes (never
 * lowers it), for the rare reply that carries a whole message.
 */
void api_response_limit(struct api_response *resp, size_t max);

/* Frees text that json_dumps() returned (api_init() changes the
   allocator, so free() would not do). */
void api_json_free(void *p);

/* Room for a new API token with its NUL (core/core.h agrees). */
#define API_TOKEN_MAX 48

/*
 * Makes `resp` the error reply of a failed core call: the HTTP status
 * follows from err->code (see struct api_ctx); `field` names the field at
 * fault for a 400, or is NULL.
 */
void api_error_from(struct api_response *resp, const struct gw_error *err,
                    const char *field);

/*
 * Parses the request body as a JSON object. Returns it (the caller
 * releases it with json_decref()), or NULL with `resp` made a 400.
 */
json_t *api_parse_body(const struct api_call *call, struct api_response *resp);

/*
 * Copies the segment of `path` that the route's '*' matched into `name`
 * (STORE_NAME_MAX + 1 bytes). False, with `resp` made a 404, when it is not
 * a valid name.
 */
bool api_path_name(const struct api_route *route, const char *path, char *name,
                   struct api_response *resp);

/*
 * Checks that `caller` may send through `credential` from the mailbox
 * `from` ("" for the null sender). False with `resp` made a 400 naming
 * `credential` when no credential can have that name, or a 403 naming
 * the field (`credential` or `from`) when the caller may not.
 */
bool api_may_send(const struct store_token *caller, const char *credential,
                  const char *from, struct api_response *resp);

/*
 * Holds the pool of `credential` for a send, into `*pool` and `*hold`
 * (for put_pool()). False with `resp` made a 404 (no such credential) or
 * a 500 (it cannot be used: its secret does not open, say), both naming
 * `credential`.
 */
bool api_pool_get(const struct api_ctx *ctx, const char *credential,
                  struct smtp_pool **pool, void **hold,
                  struct api_response *resp);

/* POST /v1/messages: validate, compose, send, report (messages.c). */
void api_messages_post(const struct api_route *route, const struct api_ctx *ctx,
                       const struct api_call *call, struct api_response *resp);

/* The admin routes: credentials and the public key (admin.c). */
void api_public_key_get(const struct api_route *route,
                        const struct api_ctx *ctx, const struct api_call *call,
                        struct api_response *resp);
void api_creds_list(const struct api_route *route, const struct api_ctx *ctx,
                    const struct api_call *call, struct api_response *resp);
void api_creds_get(const struct api_route *route, const struct api_ctx *ctx,
                   const struct api_call *call, struct api_response *resp);
void api_creds_put(const struct api_route *route, const struct api_ctx *ctx,
                   const struct api_call *call, struct api_response *resp);
void api_creds_delete(const struct api_route *route, const struct api_ctx *ctx,
                      const struct api_call *call, struct api_response *resp);
void api_creds_verify(const struct api_route *route, const struct api_ctx *ctx,
                      const struct api_call *call, struct api_response *resp);

/* The token routes (tokens.c). */
void api_tokens_post(const struct api_route *route, const struct api_ctx *ctx,
                     const struct api_call *call, struct api_response *resp);
void api_tokens_get(const struct api_route *route, const struct api_ctx *ctx,
                    const struct api_call *call, struct api_response *resp);
void api_tokens_delete(const struct api_route *route, const struct api_ctx *ctx,
                       const struct api_call *call, struct api_response *resp);

#endif
