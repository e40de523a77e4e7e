/*
 * The reply to a send, shared by every route that sends: the %Net.SMTP
 * outcome as JSON (status, error, failed_send, message_id, and each
 * recipient's reply), the HTTP status that follows from it, and one log
 * line per send.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"
#include "base/base.h"
#include "internal.h"

/* The HTTP status of a send's outcome. */
static unsigned send_status(const struct smtp_result *res)
{
    if (res->status == SMTP_SENT || res->status == SMTP_PARTIAL)
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
    case SMTP_UNKNOWN:
        return "unknown";
    case SMTP_FAILED:
        break;
    }
    return "failed";
}

/*
 * A recipient's outcome. Its reply is left out (null) in the brief form
 * of a reply, for which `with_reply` is false.
 */
static json_t *recipient_json(const struct smtp_rcpt_result *r,
                              const char *address, bool with_reply)
{
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "address",
                     api_json_text(address), "accepted", r->accepted, "code",
                     r->tried ? json_integer(r->code) : json_null(),
                     "enhanced_code",
                     api_json_text(r->status[0] ? r->status : NULL), "reply",
                     api_json_text(r->tried && with_reply ? r->reply : NULL));
}

/*
 * The JSON reply of a send: status, error, failed_send, message_id and
 * recipients. NULL when out of memory: a part that could not be made
 * fails the whole, so that no reply leaves out a recipient unsaid.
 */
static json_t *result_json(const struct smtp_result *res,
                           const char *const *rcpts, const char *message_id,
                           const char *error, bool with_replies)
{
    json_t *failed = json_array(), *list = json_array();
    bool ok = failed != NULL && list != NULL;

    for (size_t i = 0; ok && i < res->n_rcpts; i++) {
        const struct smtp_rcpt_result *r = &res->rcpts[i];

        if (r->tried && !r->accepted)
            ok = json_array_append_new(failed, api_json_text(rcpts[i])) == 0;
        ok = ok && json_array_append_new(
                       list, recipient_json(r, rcpts[i], with_replies)) == 0;
    }
    if (!ok) {
        json_decref(failed);
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:b, s:o, s:o, s:o}", "status",
                     status_name(res->status), "error", api_json_text(error),
                     "retryable", smtp_result_retryable(res), "failed_send",
                     failed, "message_id", api_json_text(message_id),
                     "recipients", list);
}

/*
 * When the whole reply to a send cannot be written (over the limit of a
 * reply, or out of memory), the client must still learn what became of
 * the message, or it might send it again: first the reply without the
 * server's reply to each recipient, with `error` saying so, and failing
 * that a fixed reply with the outcome alone.
 */
static void brief_reply(struct api_response *resp, unsigned status,
                        const struct smtp_result *res, const char *const *rcpts,
                        const char *message_id, enum gw_err why)
{
#define REST "\"failed_send\":[],\"message_id\":null,\"recipients\":[]}"
#define ONCE "\"retryable\":false," REST
    static const char *const fixed[] = {
        [SMTP_SENT] = "{\"status\":\"sent\",\"error\":\"the message was "
                      "sent; the gateway could not write the details\"," ONCE,
        [SMTP_PARTIAL] = "{\"status\":\"partial\",\"error\":\"the message "
                         "was sent to some recipients only; the gateway "
                         "could not write which\"," ONCE,
        [SMTP_FAILED] = "{\"status\":\"failed\",\"error\":\"the message was "
                        "not sent; the gateway could not write why\"," ONCE,
        [SMTP_UNKNOWN] = "{\"status\":\"unknown\",\"error\":\"the whole "
                         "message went out, but the server's verdict is "
                         "unknown; the gateway could not write the "
                         "details\"," ONCE,
    };
    static const char failed_retryable[] =
        "{\"status\":\"failed\",\"error\":\"the message was not sent, and "
        "may be sent again later; the gateway could not write why\","
        "\"retryable\":true," REST;
#undef ONCE
#undef REST
    char error[GW_ERROR_DETAIL_MAX + 128];
    const char *left_out = why == GW_ELIMIT
                               ? "the whole reply would be too large"
                               : "out of memory";

    if (res->error.code != GW_OK)
        snprintf(error, sizeof(error),
                 "%s (the server's reply to each recipient is left out: "
                 "%s)",
                 res->error.detail, left_out);
    else
        snprintf(error, sizeof(error),
                 "the server's reply to each recipient is left out: %s",
                 left_out);
    if (api_reply_json(resp, status,
                       result_json(res, rcpts, message_id, error, false)) ==
        GW_OK)
        return;
    /* Even that was too large or out of memory: the fixed reply needs
       no memory at all. */
    buf_reset(&resp->body);
    resp->status = status;
    resp->static_body = (const unsigned char *)(smtp_result_retryable(res)
                                                    ? failed_retryable
                                                    : fixed[res->status]);
    resp->static_len = strlen((const char *)resp->static_body);
}

static void log_send(const char *credential, const struct smtp_result *res,
                     const char *message_id, uint64_t started)
{
    char shown[LOG_QUOTE_MAX], id[LOG_QUOTE_MAX];
    size_t failed = 0;

    for (size_t i = 0; i < res->n_rcpts; i++)
        failed += res->rcpts[i].tried && !res->rcpts[i].accepted;
    log_info("event=send credential=%s status=%s rcpts=%zu failed=%zu "
             "message_id=%s duration_ms=%llu error=%s",
             credential, status_name(res->status), res->n_rcpts, failed,
             log_quote(id, sizeof(id), message_id ? message_id : ""),
             (unsigned long long)(gw_now_ms() - started),
             log_quote(shown, sizeof(shown), res->error.detail));
}

void api_send_reply(struct api_response *resp, const char *credential,
                    const struct smtp_result *res, const char *const *rcpts,
                    const char *message_id, uint64_t started)
{
    enum gw_err rc;

    log_send(credential, res, message_id, started);
    if (res->error.code == GW_EBUSY) {
        char text[GW_ERROR_DETAIL_MAX];

        resp->retry_after = 1;
        snprintf(text, sizeof(text), "%.480s; try again shortly",
                 res->error.detail);
        api_reply_json(resp, 503,
                       json_pack("{s:s, s:o, s:b}", "status", "failed", "error",
                                 api_json_text(text), "retryable", 1));
        return;
    }
    rc = api_reply_json(
        resp, send_status(res),
        result_json(res, rcpts, message_id,
                    res->error.code == GW_OK ? NULL : res->error.detail, true));
    if (rc != GW_OK)
        brief_reply(resp, send_status(res), res, rcpts, message_id, rc);
}
