/*
 * The reply to a send, shared by every route that sends: the %Net.SMTP
 * outcome as JSON (status, error, failed_send, message_id, and each
 * recipient's reply), the HTTP status that follows from it, and one log
 * line per send.
 */
#include <stdio.h>

#include "../smtp/io.h"
#include "../smtp/log.h"
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

static json_t *recipient_json(const struct smtp_rcpt_result *r,
                              const char *address)
{
    return json_pack(
        "{s:s, s:b, s:o, s:o, s:o}", "address", address, "accepted",
        r->accepted, "code", r->tried ? json_integer(r->code) : json_null(),
        "enhanced_code", r->status[0] ? json_string(r->status) : json_null(),
        "reply", r->tried ? json_string(r->reply) : json_null());
}

/* The JSON reply of a send: status, error, failed_send, recipients. */
static json_t *result_json(const struct smtp_result *res,
                           const char *const *rcpts, const char *message_id)
{
    json_t *failed = json_array(), *list = json_array();

    for (size_t i = 0; i < res->n_rcpts; i++) {
        const struct smtp_rcpt_result *r = &res->rcpts[i];

        if (r->tried && !r->accepted)
            json_array_append_new(failed, json_string(rcpts[i]));
        json_array_append_new(list, recipient_json(r, rcpts[i]));
    }
    return json_pack(
        "{s:s, s:o, s:b, s:o, s:o, s:o}", "status", status_name(res->status),
        "error",
        res->error.code == GW_OK ? json_null() : json_string(res->error.detail),
        "retryable", smtp_result_retryable(res), "failed_send", failed,
        "message_id", message_id ? json_string(message_id) : json_null(),
        "recipients", list);
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
             (unsigned long long)(io_now_ms() - started),
             log_quote(shown, sizeof(shown), res->error.detail));
}

void api_send_reply(struct api_response *resp, const char *credential,
                    const struct smtp_result *res, const char *const *rcpts,
                    const char *message_id, uint64_t started)
{
    log_send(credential, res, message_id, started);
    if (res->error.code == GW_EBUSY) {
        char text[GW_ERROR_DETAIL_MAX];

        resp->retry_after = 1;
        snprintf(text, sizeof(text), "%.480s; try again shortly",
                 res->error.detail);
        api_reply_json(resp, 503,
                       json_pack("{s:s, s:s, s:b}", "status", "failed", "error",
                                 text, "retryable", 1));
        return;
    }
    api_reply_json(resp, send_status(res), result_json(res, rcpts, message_id));
}
