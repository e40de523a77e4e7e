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

#include "../smtp/addr.h"
#include "../smtp/encode.h"
#include "../smtp/io.h"
#include "../smtp/log.h"
#include "../smtp/mime.h"
#include "internal.h"
#include "request.h"

/* The HTTP status of a send's outcome. */
static unsigned send_status(const struct smtp_result *res)
{
    if (res->status != SMTP_FAILED)
        return 200;
    switch (res->error.code) {
    case GW_ETIMEDOUT:
        return 504;
    case GW_ENOMEM:
        return 500;
    default:
        return 502;
    }
}

static const char *status_name(enum smtp_status status)
{
    switch (status) {
    case SMTP_SENT:
        return "sent";
    case SMTP_PARTIAL:
        return "partial";
    case SMTP_FAILED:
        break;
    }
    return "failed";
}

/* The JSON reply of a send: status, error, failed_send, recipients. */
static json_t *result_json(const struct smtp_result *res, const char **rcpts,
                           const char *message_id)
{
    json_t *failed = json_array(), *list = json_array(), *doc;

    for (size_t i = 0; i < res->n_rcpts; i++) {
        const struct smtp_rcpt_result *r = &res->rcpts[i];

        if (r->tried && !r->accepted)
            json_array_append_new(failed, json_string(rcpts[i]));
        json_array_append_new(
            list,
            json_pack("{s:s, s:b, s:o, s:o}", "address", rcpts[i], "accepted",
                      r->accepted, "code",
                      r->tried ? json_integer(r->code) : json_null(), "reply",
                      r->tried ? json_string(r->reply) : json_null()));
    }
    doc = json_pack(
        "{s:s, s:o, s:o, s:s, s:o}", "status", status_name(res->status),
        "error",
        res->error.code == GW_OK ? json_null() : json_string(res->error.detail),
        "failed_send", failed, "message_id", message_id, "recipients", list);
    return doc;
}

static void log_send(const struct api_request *req,
                     const struct smtp_result *res, const char *message_id,
                     uint64_t started)
{
    char shown[LOG_QUOTE_MAX];
    size_t failed = 0;

    for (size_t i = 0; i < res->n_rcpts; i++)
        failed += res->rcpts[i].tried && !res->rcpts[i].accepted;
    log_info("event=send credential=%s status=%s rcpts=%zu failed=%zu "
             "message_id=%s duration_ms=%llu error=%s",
             req->credential, status_name(res->status), res->n_rcpts, failed,
             message_id, (unsigned long long)(io_now_ms() - started),
             log_quote(shown, sizeof(shown), res->error.detail));
}

/* Sends the composed message and fills the reply. */
static void send_and_reply(const struct api_request *req,
                           struct smtp_pool *pool, const struct buf *msg,
                           const struct mime_result *mres,
                           struct api_response *resp)
{
    struct smtp_result res = {0};
    struct smtp_envelope env = {
        .from = req->from.mailbox,
        .continue_after_bad_send = req->continue_after_bad_send,
        .needs_smtputf8 =
            mres->needs_smtputf8 || addr_needs_utf8(req->from.mailbox),
    };
    const char **rcpts;
    uint64_t started = io_now_ms();

    rcpts = api_request_rcpts(req, &env.n_rcpts, &env.needs_smtputf8);
    if (rcpts == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return;
    }
    env.rcpts = rcpts;
    smtp_pool_send(pool, &env, msg->data, msg->len, &res);
    log_send(req, &res, mres->message_id, started);
    if (res.error.code == GW_EBUSY) {
        resp->retry_after = 1;
        api_error(resp, 503, NULL, "%s; try again shortly", res.error.detail);
    } else {
        api_reply_json(resp, send_status(&res),
                       result_json(&res, rcpts, mres->message_id));
    }
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
        enc_base64(&b64, msg->data, msg->len) != GW_OK)
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
                       const char *body, size_t len, struct api_response *resp)
{
    struct api_request req = {0};
    struct api_request_error re;
    struct mime_result mres = {{0}, false, false};
    struct smtp_pool *pool;
    struct buf msg = {0};

    (void)route;
    if (api_request_parse(body, len, &req, &re) != GW_OK) {
        api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                  re.text);
        goto out;
    }
    pool = ctx->find_pool(ctx->arg, req.credential);
    if (pool == NULL) {
        api_error(resp, 404, "credential",
                  "credential: no credential is named \"%s\"", req.credential);
        goto out;
    }
    if (api_request_compose(&req, &msg, &mres, &re) != GW_OK) {
        api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                  re.text);
        goto out;
    }
    if (req.dry_run)
        dry_run_reply(&req, &msg, &mres, resp);
    else
        send_and_reply(&req, pool, &msg, &mres, resp);
out:
    buf_free(&msg);
    api_request_free(&req);
}
