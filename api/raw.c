/*
 * POST /v1/messages/raw: a complete RFC 5322 message (message/rfc822) is
 * relayed as given, with the envelope in the query:
 *
 *     ?credential=default&from=a@example.com&to=b@example.com&to=...
 *      &continue_after_bad_send=true&show_bcc=false&auth_from=...
 *
 * The body is checked as it arrives (header fields, Bcc removal, the
 * token's scope, line lengths, NUL bytes, the size limit) and held in a
 * spool (spool.h) until it is complete. Only a message that arrived whole
 * and passed every check opens the upstream transaction, which then runs
 * at the gateway's pace: a slow client holds none of the pool's
 * connections, and a refused message never reaches the upstream at all.
 * Holding the whole message also tells what MAIL FROM must declare
 * (RFC 6152, RFC 6531 3.4): BODY=8BITMIME only for 8-bit bytes, SMTPUTF8
 * (with it) for UTF-8 in the header or an address.
 *
 * The query is read by the checks of the JSON request (request.c), and
 * the header by those of the token's scope (scope.c): the same addresses,
 * the same fields refused.
 */
#include <stdlib.h>
#include <string.h>

#include "mime/mime.h"
#include "smtp/smtp.h"
#include "net/net.h"
#include "base/base.h"
#include "internal.h"
#include "request.h"
#include "scope.h"
#include "spool.h"

/* The body is filtered in pieces of this size; the output of one piece
   may also hold a header line held over from the one before. */
#define RAW_PIECE   (64 * 1024)
#define RAW_OUT_MAX (RAW_PIECE + 2048)

/* The filtered output is run through the DATA encoder in pieces of this
   size, for its checks: each grows at most threefold. */
#define RAW_CHECK_PIECE (16 * 1024)

struct api_stream {
    const struct api_ctx *ctx;
    void *hold;               /* the credential's pool is held while non-NULL */
    struct smtp_pool *pool;   /* ... and this is it */
    struct api_request req;   /* the query, read as a JSON request is */
    struct smtp_envelope env; /* borrows from req */
    const char **rcpts;       /* the envelope's, borrowed from req */
    struct smtp_result res;
    struct mime_raw_filter filter;
    struct api_header_scan scan; /* the header, for what tokens may not */
    struct smtp_data check;      /* the DATA encoder's view, for its checks */
    struct buf out;              /* one piece, filtered */
    struct buf wire;             /* ... and encoded, to be checked */
    struct api_spool spool;      /* the filtered message, until complete */
    size_t received, max;        /* body bytes so far, and the limit */
    size_t size;                 /* the message on the wire, for SIZE */
    struct gw_error bad;         /* why the message itself is refused */
    unsigned bad_status;         /* its HTTP status: 400, 403, 413 or 500 */
    uint64_t started;
};

/* Checks the query into the envelope; false with `resp` set. */
static bool take_query(struct api_stream *st,
                       const struct api_stream_start *start,
                       struct api_response *resp)
{
    struct api_request_error re;

    if (api_request_from_query(start->params, start->n_params, &st->req, &re) !=
        GW_OK) {
        api_error(resp, re.status, re.field[0] ? re.field : NULL, "%s",
                  re.text);
        return false;
    }
    st->rcpts = api_request_envelope(&st->req, &st->env);
    st->env.cancel = start->cancel;
    if (st->rcpts == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return false;
    }
    return true;
}

static void stream_free(struct api_stream *st)
{
    if (st->hold != NULL)
        core_creds_put(st->ctx->creds, st->hold);
    mime_raw_filter_free(&st->filter);
    api_header_scan_free(&st->scan);
    api_spool_free(&st->spool);
    buf_free(&st->out);
    buf_free(&st->wire);
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

    (void)route;
    if (st == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return NULL;
    }
    st->max = start->max_body;
    st->started = gw_now_ms();
    buf_init(&st->out, RAW_OUT_MAX);
    buf_init(&st->wire, 3 * RAW_CHECK_PIECE + 8);
    api_spool_init(&st->spool, ctx->spool_dir);
    mime_raw_filter_init(&st->filter, false);
    api_header_scan_init(&st->scan, start->caller);
    st->ctx = ctx;
    if (!take_query(st, start, resp) ||
        !api_may_send(start->caller, st->req.credential, st->env.from, resp))
        goto refuse;
    if (!api_pool_get(ctx, st->req.credential, &st->pool, &st->hold, resp))
        goto refuse;
    st->filter.show_bcc = st->req.show_bcc;
    return st;
refuse:
    stream_free(st);
    return NULL;
}

/* The message itself is bad: it will not be sent; nothing more is read. */
static void refuse_message(struct api_stream *st, unsigned status)
{
    st->bad_status = status;
    api_spool_free(&st->spool);
}

/*
 * Runs the filtered piece through the DATA encoder, which refuses a NUL
 * byte and a line over 998 bytes, and sees 8-bit bytes; what it writes
 * only counts for SIZE, since the send encodes the message itself.
 */
static bool check_data(struct api_stream *st)
{
    for (size_t at = 0; at < st->out.len; at += RAW_CHECK_PIECE) {
        size_t k = st->out.len - at < RAW_CHECK_PIECE ? st->out.len - at
                                                      : RAW_CHECK_PIECE;

        buf_reset(&st->wire);
        if (smtp_data_encode(&st->check, st->out.data + at, k, &st->wire) !=
            GW_OK) {
            gw_error_set(&st->bad, GW_EINVAL, "the message has %s",
                         st->check.line_len > GW_LINE_MAX
                             ? "a line longer than 998 bytes"
                             : "a NUL byte");
            return false;
        }
        st->size += st->wire.len;
    }
    return true;
}

/*
 * Reads the header lines of the filtered piece for the fields no token
 * may send, and what the caller's domains allow, checks its lines, and
 * keeps it unless something is refused.
 */
static void pass(struct api_stream *st, bool last)
{
    unsigned status = api_header_scan_feed(&st->scan, st->out.data, st->out.len,
                                           last, &st->bad);

    if (status != 0)
        refuse_message(st, status);
    else if (!check_data(st))
        refuse_message(st, 400);
    else if (api_spool_write(&st->spool, st->out.data, st->out.len, &st->bad) !=
             GW_OK)
        refuse_message(st, 500);
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
        if (mime_raw_filter_feed(&st->filter, p + at, k, &st->out, &st->bad) !=
            GW_OK)
            refuse_message(st, 400);
        else
            pass(st, false);
    }
}

/* Writes one piece of the spooled message to the upstream. */
static enum gw_err relay_piece(void *arg, const char *p, size_t n)
{
    return smtp_stream_write(arg, p, n);
}

/*
 * The message is whole and passed every check: the upstream transaction
 * runs now, from MAIL FROM to the final dot, with the message from the
 * spool. A spool that cannot be read back ends the send before the dot.
 */
static void send_spooled(struct api_stream *st)
{
    struct core_running running = {0};
    struct smtp_stream *smtp;
    struct gw_error err = {0};

    st->env.body_8bit = st->check.saw_8bit;
    st->env.needs_smtputf8 |= st->filter.header_utf8;
    /* Listed for a stop that would cut it off, as a JSON send is. */
    core_running_begin(&running, st->req.credential,
                       st->filter.message_id[0] ? st->filter.message_id : NULL);
    smtp = smtp_stream_begin(st->pool, &st->env, st->size, &st->res);
    if (smtp != NULL) {
        if (api_spool_replay(&st->spool, relay_piece, smtp, &err) != GW_OK &&
            err.code != GW_OK)
            smtp_stream_abort(smtp, err.code, err.detail);
        else
            smtp_stream_end(smtp, &st->res);
    }
    core_running_end(&running);
}

void api_stream_end(struct api_stream *st, struct api_response *resp)
{
    if (st->bad_status == 0) {
        buf_reset(&st->out);
        if (mime_raw_filter_finish(&st->filter, &st->out, &st->bad) != GW_OK)
            refuse_message(st, 400);
        else
            pass(st, true);
    }
    if (st->bad_status == 500)
        api_error(resp, 500, NULL, "%s", st->bad.detail);
    else if (st->bad_status != 0)
        api_error(resp, st->bad_status, "message", "message: %s",
                  st->bad.detail);
    else {
        send_spooled(st);
        api_send_reply(resp, st->req.credential, &st->res, st->rcpts,
                       st->filter.message_id[0] ? st->filter.message_id : NULL,
                       st->started);
    }
    stream_free(st);
}

void api_stream_cancel(struct api_stream *st)
{
    static const char why[] = "the client went away before the end of the "
                              "message";
    char id[LOG_QUOTE_MAX], shown[LOG_QUOTE_MAX];

    /* No reply carries this outcome, so the log line is all there is. */
    log_warn("event=send credential=%s status=failed rcpts=%zu failed=0 "
             "message_id=%s duration_ms=%llu bytes=%zu error=%s",
             st->req.credential, st->env.n_rcpts,
             log_quote(id, sizeof(id), st->filter.message_id),
             (unsigned long long)(gw_now_ms() - st->started), st->received,
             log_quote(shown, sizeof(shown), why));
    stream_free(st);
}
