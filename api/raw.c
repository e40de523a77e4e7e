/*
 * POST /v1/messages/raw: a complete RFC 5322 message (message/rfc822) is
 * relayed as given, with the envelope in the query:
 *
 *     ?credential=default&from=a@example.com&to=b@example.com&to=...
 *      &continue_after_bad_send=true&show_bcc=false&auth_from=...
 *
 * The body streams to the upstream as it arrives, through a bounded
 * buffer: the transaction runs up to DATA's 354 from the headers alone,
 * every piece is checked (header fields, Bcc removal, line lengths) and
 * dot-stuffed on the way, and only a message that arrived whole and
 * well-formed gets the final dot. Anything else closes the upstream
 * connection before it, so the server delivers nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../smtp/addr.h"
#include "../smtp/io.h"
#include "../smtp/rawmsg.h"
#include "internal.h"

/* Recipients of one raw send, as for POST /v1/messages. */
#define RAW_MAX_RECIPIENTS 1000

/* The body is filtered in pieces of this size; the output of one piece
   may also hold a header line held over from the one before. */
#define RAW_PIECE   (64 * 1024)
#define RAW_OUT_MAX (RAW_PIECE + 2048)

struct api_stream {
    const char *credential;
    const struct api_ctx *ctx;
    void *hold; /* the credential's pool is held while non-NULL */
    struct smtp_envelope env;
    const char **rcpts;       /* borrowed from the query */
    struct smtp_stream *smtp; /* NULL once the send has ended */
    struct smtp_result res;
    struct raw_filter filter;
    struct buf out;       /* one piece, filtered */
    size_t received, max; /* body bytes so far, and the limit */
    struct gw_error bad;  /* why the message itself is refused */
    unsigned bad_status;  /* its HTTP status: 400 or 413 */
    uint64_t started;
    struct api_running running; /* listed while `listed` */
    bool listed, id_listed;     /* ... and its Message-ID recorded */
};

/* A query flag: "true"/"false" (or 1/0); false when the value is neither. */
static bool flag(const char *value, bool *out)
{
    if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
        return (*out = true), true;
    if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
        return (*out = false), true;
    return false;
}

/* Reads one query parameter into the stream; false with `resp` set. */
static bool take_param(struct api_stream *st, const struct api_param *p,
                       bool *show_bcc, struct api_response *resp)
{
    struct gw_error err = {0};
    char field[32];

    if (strcmp(p->key, "credential") == 0) {
        st->credential = p->value;
    } else if (strcmp(p->key, "from") == 0) {
        st->env.from = p->value;
        if (p->value[0] != '\0' && addr_check_mailbox(p->value, &err) != GW_OK)
            return api_error(resp, 400, "from", "from: %s", err.detail), false;
    } else if (strcmp(p->key, "to") == 0) {
        snprintf(field, sizeof(field), "to[%zu]", st->env.n_rcpts);
        if (st->env.n_rcpts == RAW_MAX_RECIPIENTS)
            return api_error(resp, 400, "to", "to: more than %d recipients",
                             RAW_MAX_RECIPIENTS),
                   false;
        if (addr_check_mailbox(p->value, &err) != GW_OK)
            return api_error(resp, 400, field, "%s: %s", field, err.detail),
                   false;
        st->rcpts[st->env.n_rcpts++] = p->value;
    } else if (strcmp(p->key, "auth_from") == 0) {
        st->env.auth_from = strcmp(p->value, "<>") == 0 ? "" : p->value;
    } else if (strcmp(p->key, "continue_after_bad_send") == 0) {
        if (!flag(p->value, &st->env.continue_after_bad_send))
            return api_error(resp, 400, p->key, "%s: must be true or false",
                             p->key),
                   false;
    } else if (strcmp(p->key, "show_bcc") == 0) {
        if (!flag(p->value, show_bcc))
            return api_error(resp, 400, p->key, "%s: must be true or false",
                             p->key),
                   false;
    } else {
        return api_error(resp, 400, p->key, "%s: unknown parameter", p->key),
               false;
    }
    return true;
}

/* Checks the query into the envelope; false with `resp` set. */
static bool take_query(struct api_stream *st,
                       const struct api_stream_start *start, bool *show_bcc,
                       struct api_response *resp)
{
    for (size_t i = 0; i < start->n_params; i++) {
        if (!take_param(st, &start->params[i], show_bcc, resp))
            return false;
    }
    if (st->env.from == NULL)
        return api_error(resp, 400, "from", "from: is required"), false;
    if (st->env.n_rcpts == 0)
        return api_error(resp, 400, "to", "to: at least one is required"),
               false;
    for (size_t i = 0; i < st->env.n_rcpts; i++)
        st->env.needs_smtputf8 |= addr_needs_utf8(st->rcpts[i]);
    st->env.needs_smtputf8 |= addr_needs_utf8(st->env.from);
    return true;
}

/* The send has ended: it is no longer one a stop would cut off. */
static void unlist(struct api_stream *st)
{
    if (st->listed)
        api_running_end(&st->running);
    st->listed = false;
}

static void stream_free(struct api_stream *st)
{
    unlist(st);
    if (st->hold != NULL)
        st->ctx->ops->put_pool(st->ctx->arg, st->hold);
    raw_filter_free(&st->filter);
    buf_free(&st->out);
    smtp_result_free(&st->res);
    free(st->rcpts);
    free(st);
}

struct api_stream *api_stream_begin(const struct api_route *route,
                                    const struct api_ctx *ctx,
                                    const struct api_stream_start *start,
                                    struct api_response *resp)
{
    struct api_stream *st = calloc(1, sizeof(*st));
    struct smtp_pool *pool;
    bool show_bcc = false;

    (void)route;
    if (st == NULL ||
        (st->rcpts = calloc(RAW_MAX_RECIPIENTS, sizeof(*st->rcpts))) == NULL) {
        free(st);
        return api_error(resp, 500, NULL, "out of memory"), NULL;
    }
    st->credential = "default";
    st->max = start->max_body;
    st->started = io_now_ms();
    st->env.rcpts = st->rcpts;
    st->env.maybe_8bit = true;
    buf_init(&st->out, 0);
    raw_filter_init(&st->filter, false);
    st->ctx = ctx;
    if (!take_query(st, start, &show_bcc, resp) ||
        !api_may_send(start->caller, st->credential, st->env.from, resp))
        goto refuse;
    if (!api_pool_get(ctx, st->credential, &pool, &st->hold, resp))
        goto refuse;
    st->filter.show_bcc = show_bcc;
    buf_init(&st->out, RAW_OUT_MAX);
    api_running_begin(&st->running, st->credential, NULL);
    st->listed = true;
    st->smtp = smtp_stream_begin(pool, &st->env, start->size, &st->res);
    /* Ended before DATA: refused, or failed. */
    if (st->smtp == NULL)
        unlist(st);
    return st;
refuse:
    stream_free(st);
    return NULL;
}

/* The message itself is bad: the send ends without delivering it. */
static void refuse_message(struct api_stream *st, unsigned status)
{
    st->bad_status = status;
    if (st->smtp != NULL)
        smtp_stream_abort(st->smtp, st->bad.code, st->bad.detail);
    st->smtp = NULL;
    unlist(st);
}

/*
 * Sends what the filter let through. The client gets a 400 for a byte the
 * message may not hold (NUL, an over-long line), which only the DATA
 * encoder sees; any other failure is the send's, reported as such.
 */
static void relay(struct api_stream *st)
{
    if (st->listed && !st->id_listed && st->filter.message_id[0] != '\0') {
        api_running_set_id(&st->running, st->filter.message_id);
        st->id_listed = true;
    }
    if (st->smtp == NULL ||
        smtp_stream_write(st->smtp, st->out.data, st->out.len) != GW_EINVAL)
        return;
    st->bad = st->res.error;
    st->bad_status = 400;
}

void api_stream_data(struct api_stream *st, const char *p, size_t n)
{
    st->received += n;
    if (st->bad_status != 0)
        return;
    if (st->received > st->max) {
        gw_error_set(&st->bad, GW_ELIMIT,
                     "the body is larger than the limit of %zu bytes", st->max);
        refuse_message(st, 413);
        return;
    }
    for (size_t at = 0; at < n && st->bad_status == 0; at += RAW_PIECE) {
        size_t k = n - at < RAW_PIECE ? n - at : RAW_PIECE;

        buf_reset(&st->out);
        if (raw_filter_feed(&st->filter, p + at, k, &st->out, &st->bad) !=
            GW_OK)
            refuse_message(st, 400);
        else
            relay(st);
    }
}

void api_stream_end(struct api_stream *st, struct api_response *resp)
{
    if (st->bad_status == 0) {
        buf_reset(&st->out);
        if (raw_filter_finish(&st->filter, &st->out, &st->bad) != GW_OK)
            refuse_message(st, 400);
        else
            relay(st);
    }
    if (st->smtp != NULL)
        smtp_stream_end(st->smtp, &st->res);
    if (st->bad_status != 0)
        api_error(resp, st->bad_status, "message", "message: %s",
                  st->bad.detail);
    else
        api_send_reply(resp, st->credential, &st->res, st->rcpts,
                       st->filter.message_id[0] ? st->filter.message_id : NULL,
                       st->started);
    stream_free(st);
}

void api_stream_cancel(struct api_stream *st)
{
    if (st->smtp != NULL)
        smtp_stream_abort(st->smtp, GW_EIO,
                          "the client went away before the end of the "
                          "message");
    stream_free(st);
}
