/*
 * POST /v1/messages: the JSON send request is checked field by field into
 * the composer's and the client's types and composed (request.c), sent
 * through the named credential's pool, and the outcome reported in the
 * %Net.SMTP model: status, error, failed_send, and every recipient's own
 * reply. A dry run answers with the composed message instead.
 *
 * Nothing reaches an SMTP server before the whole request has passed
 * validation and composition.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "net/net.h"
#include "base/base.h"
#include "internal.h"
#include "request.h"
#include "scope.h"

/* Sends the composed message (core_send()) and fills the reply. */
static void send_and_reply(struct api_request *req, struct smtp_pool *pool,
                           const struct smtp_cancel *cancel, struct buf *msg,
                           struct mime_result *mres, struct api_response *resp)
{
    struct smtp_result res = {0};
    struct smtp_envelope env = {0};
    struct gw_error err = {0};
    struct core_message m;
    const char **rcpts = api_request_envelope(req, &env);
    uint64_t started = gw_now_ms();

    if (rcpts == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return;
    }
    env.cancel = cancel;
    api_request_message(req, &m);
    if (core_send(pool, req->credential, &m, &env, msg, mres, &res, &err) ==
        GW_OK)
        api_send_reply(resp, req->credential, &res, rcpts, mres->message_id,
                       started);
    else
        api_error(resp, err.code == GW_ENOMEM ? 500 : 400, NULL, "%s",
                  err.detail);
    smtp_result_free(&res);
    free(rcpts);
}

/*
 * The reply of a dry run: the message as it would be sent (base64, before
 * dot-stuffing) and its envelope. Nothing is sent.
 */
static void dry_run_reply(const struct api_request *req, const struct buf *msg,
                          const struct mime_result *mres,
                          struct api_response *resp)
{
    bool utf8 = false;
    size_t n = 0;
    const char **rcpts = api_request_rcpts(req, &n, &utf8);
    json_t *to = json_array(), *doc = NULL;
    struct buf b64;

    buf_init(&b64, (msg->len + 2) / 3 * 4);
    if (rcpts == NULL || to == NULL ||
        gw_base64(&b64, msg->data, msg->len) != GW_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(to, json_string(rcpts[i]));
    doc = json_pack("{s:s, s:s, s:s%, s:{s:s, s:O}}", "status", "dry_run",
                    "message_id", mres->message_id, "message", buf_cstr(&b64),
                    b64.len, "envelope", "from", req->from.mailbox, "to", to);
    /* The JSON around the base64 text is small; the recipients are not. */
    api_response_limit(resp, b64.len + 2 * API_RESPONSE_MAX);
    log_info("event=dry_run credential=%s rcpts=%zu bytes=%zu message_id=%s",
             req->credential, n, msg->len, mres->message_id);
out:
    api_reply_json(resp, 200, doc);
    json_decref(to);
    buf_free(&b64);
    free(rcpts);
}

void api_messages_post(const struct api_route *route, const struct api_ctx *ctx,
                       const struct api_call *call, struct api_response *resp)
{
    struct api_request req = {0};
    struct api_request_error re;
    struct mime_result mres = {{0}, false, false};
    struct smtp_pool *pool = NULL;
    void *hold = NULL;
    struct buf msg = {0};
    enum gw_err rc;

    (void)route;
    rc = api_request_parse_buf(call->body, &req, &re);
    if (rc != GW_OK) {
        api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                  re.text);
        goto out;
    }
    /* A dry run too may name only what the token may use. */
    if (!api_may_send(call->caller, req.credential, req.from.mailbox, resp) ||
        !api_request_in_scope(call->caller, &req, resp) ||
        !api_pool_get(ctx, req.credential, &pool, &hold, resp))
        goto out;
    if (api_request_compose(&req, &msg, &mres, &re) != GW_OK) {
        api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                  re.text);
        goto out;
    }
    if (req.dry_run)
        dry_run_reply(&req, &msg, &mres, resp);
    else
        send_and_reply(&req, pool, call->cancel, &msg, &mres, resp);
out:
    if (pool != NULL)
        core_creds_put(ctx->creds, hold);
    buf_free(&msg);
    api_request_free(&req);
}
