/*
 * What the files of api/ share among themselves and nobody else sees:
 * the JSON reply helper and the route handlers.
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
 * Makes `resp` the reply to a send through `credential` that started at
 * `started` (io_now_ms()): the outcome `res` of the envelope `rcpts` as
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

/* POST /v1/messages: validate, compose, send, report (messages.c). */
void api_messages_post(const struct api_route *route, const struct api_ctx *ctx,
                       struct buf *body, struct api_response *resp);

#endif
