/*
 * libFuzzer harness for a raw message on its way to the server: the raw
 * filter (mime/mime.h) and the DATA encoder (smtp/data.h) together,
 * piece by piece as POST /v1/messages/raw runs them. The first byte picks
 * show_bcc and the size of the pieces; the rest is the message.
 *
 * Whatever the message, once it passes both, what the server would read
 * has no Bcc field in its header unless show_bcc is set, and differs from
 * the message sent without the filter only by the fields dropped: with
 * show_bcc it is the very same, and the body is always the same. This
 * holds only if the filter and the encoder end lines at the same bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The message sent as it is, without the filter; false when refused. */
static bool encode_direct(const char *m, size_t n, struct buf *wire)
{
    struct smtp_data st = {0};

    return smtp_data_encode(&st, m, n, wire) == GW_OK &&
           smtp_data_finish(&st, wire) == GW_OK;
}

/*
 * The message through the filter and then the encoder, in pieces of
 * `piece` bytes; false when either refused it (the filter with a reason).
 */
static bool encode_filtered(const char *m, size_t n, size_t piece,
                            bool show_bcc, struct buf *wire)
{
    struct mime_raw_filter f;
    struct smtp_data st = {0};
    struct gw_error err = {0};
    struct buf out;
    enum gw_err rc = GW_OK, enc = GW_OK;

    mime_raw_filter_init(&f, show_bcc);
    buf_init(&out, 2 * piece + 2 * GW_LINE_MAX + 8);
    for (size_t at = 0; at < n && rc == GW_OK && enc == GW_OK; at += piece) {
        buf_reset(&out);
        rc = mime_raw_filter_feed(&f, m + at, n - at < piece ? n - at : piece,
                                  &out, &err);
        if (rc == GW_OK)
            enc = smtp_data_encode(&st, out.data, out.len, wire);
    }
    if (rc == GW_OK && enc == GW_OK) {
        buf_reset(&out);
        rc = mime_raw_filter_finish(&f, &out, &err);
        if (rc == GW_OK)
            enc = smtp_data_encode(&st, out.data, out.len, wire);
    }
    if (rc == GW_OK && enc == GW_OK)
        enc = smtp_data_finish(&st, wire);
    /* The filter refuses with a reason; the encoder only what a message
       may not hold, which the filter cannot make. */
    if (rc != GW_OK && (rc != GW_EINVAL || err.detail[0] == '\0'))
        abort();
    if (enc != GW_OK && enc != GW_EINVAL)
        abort();
    mime_raw_filter_free(&f);
    buf_free(&out);
    return rc == GW_OK && enc == GW_OK;
}

/* The offset of the body on the wire: after the first empty line. */
static size_t body_start(const char *w, size_t n)
{
    const char *end;

    if (n >= 2 && w[0] == '\r' && w[1] == '\n')
        return 2;
    end = memmem(w, n, "\r\n\r\n", 4);
    return end != NULL ? (size_t)(end - w) + 4 : n;
}

/* True when the wire header has a line that a reader takes as Bcc. */
static bool has_bcc(const char *w, size_t header_end)
{
    size_t i = 0;

    while (i < header_end) {
        const char *eol = memmem(w + i, header_end - i, "\r\n", 2);
        size_t len = eol != NULL ? (size_t)(eol - (w + i)) : header_end - i;
        const char *s = w + i;
        size_t k = 3;

        /* A '.' at the start of a line was doubled for DATA. */
        if (len > 0 && s[0] == '.')
            s++, len--;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (len > 3 && strncasecmp(s, "bcc", 3) == 0 && k < len && s[k] == ':')
            return true;
        i += (size_t)(s - (w + i)) + len + 2;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *m = (const char *)data + 1;
    struct buf direct, wire;
    bool show_bcc, direct_ok;
    size_t n, piece, bd, bw;

    if (size < 1)
        return 0;
    show_bcc = data[0] & 1;
    piece = (size_t)(data[0] >> 1) % 16 + 1;
    n = size - 1;
    buf_init(&direct, 3 * n + 8);
    buf_init(&wire, 3 * n + 8);
    direct_ok = encode_direct(m, n, &direct);
    if (!encode_filtered(m, n, piece, show_bcc, &wire))
        goto out;
    if (show_bcc) {
        if (!direct_ok || wire.len != direct.len ||
            memcmp(wire.data, direct.data, wire.len) != 0)
            abort();
        goto out;
    }
    bw = body_start(wire.data, wire.len);
    if (has_bcc(wire.data, bw))
        abort();
    /* A dropped field may have held what DATA refuses (a NUL). */
    if (!direct_ok)
        goto out;
    bd = body_start(direct.data, direct.len);
    if (wire.len - bw != direct.len - bd ||
        memcmp(wire.data + bw, direct.data + bd, wire.len - bw) != 0)
        abort();
out:
    buf_free(&direct);
    buf_free(&wire);
    return 0;
}
