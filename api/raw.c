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
 *
 * The query is read by the checks of the JSON request (request.c), and
 * the header by those of the token's scope (scope.c): the same addresses,
 * the same fields refused.
 */
#include <stdlib.h>
#include <string.h>

#include "../smtp/addr.h"
#include "../smtp/io.h"
#include "../smtp/log.h"
#include "../smtp/rawmsg.h"
#include "internal.h"
#include "request.h"
#include "scope.h"

/* The body is filtered in pieces of this size; the output of one piece
   may also hold a header line held over from the one before. */
#define RAW_PIECE   (64 * 1024)
#define RAW_OUT_MAX (RAW_PIECE + 2048)

struct api_stream {
    const struct api_ctx *ctx;
    void *hold;               /* the credential's pool is held while non-NULL */
    struct api_request req;   /* the query, read as a JSON request is */
    struct smtp_envelope env; /* borrows from req */
    const char **rcpts;       /* the envelope's, borrowed from req */
    struct smtp_stream *smtp; /* NULL once the send has ended */
    struct smtp_result res;
    struct raw_filter filter;
    struct api_header_scan scan; /* the header, for what tokens may not */
    struct buf out;              /* one piece, filtered */
    size_t received, max;        /* body bytes so far, and the limit */
    struct gw_error bad;         /* why the message itself is refused */
    unsigned bad_status;         /* its HTTP status: 400, 403 or 413 */
    uint64_t started;
};

/* Checks the query into the envelope; false with `resp` set. */
static bool take_query(struct api_stream *st,
                       const struct api_stream_start *start,
                       struct api_response *resp)
{
    struct api_request_error re;

    if (api_request_from_query(start->params, start->n_params, &st->req, &re) !=
        GW_OK)
        return api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                         re.text),
               false;
    st->rcpts = api_request_envelope(&st->req, &st->env);
    if (st->rcpts == NULL)
        return api_error(resp, 500, NULL, "out of memory"), false;
    return true;
}

static void stream_free(struct api_stream *st)
{
    if (st->hold != NULL)
        st->ctx->ops->put_pool(st->ctx->arg, st->hold);
    raw_filter_free(&st->filter);
    api_header_scan_free(&st->scan);
    buf_free(&st->out);
    smtp_result_free(&st->res);
    free(st->rcpts);
    api_request_free(&st->req);
    free(st);
}

struct api_stream *api_stream_begin(const struct api_route *route,
                                    const struct api_ctx *ctx,
                                    const struct api_stream_start *start,
                                    struct api_response *resp)
{
    struct api_stream *st = calloc(1, sizeof(*st));
    struct smtp_pool *pool;

    (void)route;
    if (st == NULL)
        return api_error(resp, 500, NULL, "out of memory"), NULL;
    st->max = start->max_body;
    st->started = io_now_ms();
    st->env.maybe_8bit = true;
    buf_init(&st->out, 0);
    raw_filter_init(&st->filter, false);
    api_header_scan_init(&st->scan, start->caller);
    st->ctx = ctx;
    if (!take_query(st, start, resp) ||
        !api_may_send(start->caller, st->req.credential, st->env.from, resp))
        goto refuse;
    if (!api_pool_get(ctx, st->req.credential, &pool, &st->hold, resp))
        goto refuse;
    st->filter.show_bcc = st->req.show_bcc;
    buf_init(&st->out, RAW_OUT_MAX);
    st->smtp = smtp_stream_begin(pool, &st->env, start->size, &st->res);
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
}

/*
 * Sends what the filter let through. The client gets a 400 for a byte the
 * message may not hold (NUL, an over-long line), which only the DATA
 * encoder sees; any other failure is the send's, reported as such.
 */
static void relay(struct api_stream *st)
{
    if (st->smtp == NULL ||
        smtp_stream_write(st->smtp, st->out.data, st->out.len) != GW_EINVAL)
        return;
    st->bad = st->res.error;
    st->bad_status = 400;
}

/*
 * Reads the header lines of the filtered piece for the fields no token
 * may send, and what the caller's domains allow, and sends the piece
 * unless one is refused.
 */
static void pass(struct api_stream *st, bool last)
{
    unsigned status = api_header_scan_feed(&st->scan, st->out.data, st->out.len,
                                           last, &st->bad);

    if (status != 0)
        refuse_message(st, status);
    else
        relay(st);
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
            pass(st, false);
    }
}

void api_stream_end(struct api_stream *st, struct api_response *resp)
{
    if (st->bad_status == 0) {
        buf_reset(&st->out);
        if (raw_filter_finish(&st->filter, &st->out, &st->bad) != GW_OK)
            refuse_message(st, 400);
        else
            pass(st, true);
    }
    if (st->smtp != NULL)
        smtp_stream_end(st->smtp, &st->res);
    if (st->bad_status != 0)
        api_error(resp, st->bad_status, "message", "message: %s",
                  st->bad.detail);
    else
        api_send_reply(resp, st->req.credential, &st->res, st->rcpts,
                       st->filter.message_id[0] ? st->filter.message_id : NULL,
                       st->started);
    stream_free(st);
}

void api_stream_cancel(struct api_stream *st)
{
    static const char why[] = "the client went away before the end of the "
                              "message";
    char id[LOG_QUOTE_MAX], shown[LOG_QUOTE_MAX];

    if (st->smtp != NULL)
        smtp_stream_abort(st->smtp, GW_EIO, why);
    /* No reply carries this outcome, so the log line is all there is. */
    log_warn("event=send credential=%s status=failed rcpts=%zu failed=0 "
             "message_id=%s duration_ms=%llu bytes=%zu error=%s",
             st->req.credential, st->env.n_rcpts,
             log_quote(id, sizeof(id), st->filter.message_id),
             (unsigned long long)(io_now_ms() - st->started), st->received,
             log_quote(shown, sizeof(shown), why));
    stream_free(st);
}
