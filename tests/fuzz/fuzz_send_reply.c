/*
 * libFuzzer harness for the way a server's words reach a client: any
 * bytes, as the SMTP reply parser reads them, become the replies to the
 * recipients of a send, its error and its Message-ID, and the JSON reply
 * of api/send.c must always be built, be valid UTF-8 JSON (jansson, which
 * refuses anything else, parses it again), keep the send's status and
 * HTTP code, and list every recipient. The first byte makes jansson's
 * allocations fail after a number of them, so that a reply that cannot
 * be built in full still tells what became of the message.
 *
 * Input: <alloc byte> <Message-ID line> LF <reply lines, LF-separated>.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "base/base.h"
#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RCPTS_MAX 8

static const char *const rcpts[RCPTS_MAX] = {
    "r0@example.com",        "r1@example.com",
    "r2@example.com",        "r3@example.com",
    "\"q\\\"\"@example.com", "r5@example.com",
    "r6@example.com",        "d\xc3\xa9j\xc3\xa0@example.com"};

/* jansson's allocations fail once `budget` reaches 0 (-1: never). */
static long budget = -1;

static void *limited_malloc(size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return malloc(n);
}

/* One recipient per complete reply; a malformed line ends the send. */
static void take_replies(const char *p, const char *end,
                         struct smtp_result *res)
{
    struct smtp_reply r;

    smtp_reply_init(&r);
    while (p < end && res->n_rcpts < RCPTS_MAX) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct smtp_rcpt_result *rr = &res->rcpts[res->n_rcpts];

        if (smtp_reply_feed(&r, p, len, &res->error) != GW_OK)
            break;
        p += len + (nl != NULL);
        if (!r.done)
            continue;
        rr->tried = true;
        rr->code = r.code;
        rr->accepted = r.code / 100 == 2;
        memcpy(rr->status, r.status, sizeof(rr->status));
        rr->reply = strdup(buf_cstr(&r.line));
        if (!rr->accepted && res->error.code == GW_OK)
            gw_error_set(&res->error, GW_EREJECTED,
                         "RCPT TO:<%s> was refused: %s", rcpts[res->n_rcpts],
                         buf_cstr(&r.line));
        res->n_rcpts++;
    }
    smtp_reply_free(&r);
}

/* The outcome the replies make: sent, partial or failed. */
static void decide(struct smtp_result *res)
{
    size_t taken = 0;

    for (size_t i = 0; i < res->n_rcpts; i++)
        taken += res->rcpts[i].accepted;
    if (taken == 0) {
        res->status = SMTP_FAILED;
        if (res->error.code == GW_OK)
            gw_error_set(&res->error, GW_EREJECTED, "no recipient");
    } else {
        res->status = taken == res->n_rcpts ? SMTP_SENT : SMTP_PARTIAL;
    }
    if (res->status == SMTP_SENT)
        res->error.code = GW_OK;
}

/* The reply as the client gets it, parsed again with jansson. */
static json_t *parsed(const struct api_response *resp)
{
    const char *text =
        resp->static_body ? (const char *)resp->static_body : resp->body.data;
    size_t len = resp->static_body ? resp->static_len : resp->body.len;

    if (text == NULL || !gw_utf8_valid(text, len))
        abort();
    return json_loadb(text, len, 0, NULL);
}

static void check_reply(const struct api_response *resp,
                        const struct smtp_result *res)
{
    static const char *const names[] = {[SMTP_SENT] = "sent",
                                        [SMTP_PARTIAL] = "partial",
                                        [SMTP_FAILED] = "failed",
                                        [SMTP_UNKNOWN] = "unknown"};
    json_t *doc = parsed(resp), *list;
    const char *status;

    if (doc == NULL)
        abort();
    status = json_string_value(json_object_get(doc, "status"));
    list = json_object_get(doc, "recipients");
    if (status == NULL || strcmp(status, names[res->status]) != 0 ||
        !json_is_array(list) ||
        !json_is_array(json_object_get(doc, "failed_send")))
        abort();
    if (resp->status != (res->status == SMTP_FAILED ? 502u : 200u))
        abort();
    /* Only the fixed reply, made without memory, lists no one. */
    if (resp->static_body == NULL && json_array_size(list) != res->n_rcpts)
        abort();
    json_decref(doc);
}

/* An error quoting the same text: valid, and cut to fit. */
static void check_error(const char *text)
{
    struct api_response resp;
    json_t *doc;
    const char *shown;

    api_response_init(&resp);
    api_error(&resp, 502, "to[0]", "to[0]: %s", text);
    doc = parsed(&resp);
    shown = json_string_value(json_object_get(doc, "error"));
    if (resp.status != 502 || shown == NULL ||
        strlen(shown) >= GW_ERROR_DETAIL_MAX)
        abort();
    json_decref(doc);
    api_response_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p, *end, *nl;
    struct smtp_result res = {0};
    struct api_response resp;
    char message_id[256];
    size_t id_len;

    if (size == 0)
        return 0;
    p = (const char *)data + 1;
    end = (const char *)data + size;
    nl = memchr(p, '\n', (size_t)(end - p));
    log_set_level(LOG_ERROR);
    id_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    id_len = id_len < sizeof(message_id) - 1 ? id_len : sizeof(message_id) - 1;
    memcpy(message_id, p, id_len);
    message_id[id_len] = '\0';
    res.rcpts = calloc(RCPTS_MAX, sizeof(*res.rcpts));
    if (res.rcpts == NULL)
        return 0;
    take_replies(nl ? nl + 1 : end, end, &res);
    decide(&res);

    api_response_init(&resp);
    budget = data[0] == 0 ? -1 : (long)data[0] - 1;
    json_set_alloc_funcs(limited_malloc, free);
    api_send_reply(&resp, "default", &res, rcpts,
                   strlen(message_id) == id_len ? message_id : NULL, 0);
    json_set_alloc_funcs(malloc, free);
    budget = -1;
    check_reply(&resp, &res);
    api_response_free(&resp);

    for (size_t i = 0; i < res.n_rcpts; i++)
        check_error(res.rcpts[i].reply ? res.rcpts[i].reply : "");
    check_error(message_id);
    smtp_result_free(&res);
    return 0;
}
