/*
 * libFuzzer harness for the DATA stream encoder: whatever the message and
 * however it is chunked, the wire text has only CRLF line ends, no line
 * that is a lone '.', and ends in CRLF.CRLF; and the check made before a
 * send refuses exactly what the encoder refuses on the way.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_wire(const char *w, size_t n)
{
    size_t line_start = 0;

    if (n < 3 || memcmp(w + n - 3, ".\r\n", 3) != 0)
        abort();
    if (n > 3 && memcmp(w + n - 5, "\r\n", 2) != 0)
        abort();
    for (size_t i = 0; i < n - 3; i++) {
        if (w[i] == '\r' && (i + 1 >= n || w[i + 1] != '\n'))
            abort();
        if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r'))
            abort();
        if (w[i] == '\n') {
            /* A line made of one dot would end the message early. */
            if (i - line_start == 2 && w[line_start] == '.')
                abort();
            line_start = i + 1;
        }
    }
}

/* True when the message has a NUL byte or a line over GW_LINE_MAX. */
static bool refusable(const uint8_t *data, size_t size)
{
    size_t line = 0;

    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\0')
            return true;
        line = data[i] == '\r' || data[i] == '\n' ? 0 : line + 1;
        if (line > GW_LINE_MAX)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_data st = {0};
    struct gw_error err = {0};
    struct buf out;
    size_t chunk = size > 0 ? (size_t)data[0] % 7 + 1 : 1;
    bool checked = smtp_data_check((const char *)data, size, &err) == GW_OK;

    buf_init(&out, 3 * size + 8);
    for (size_t at = 0; at < size; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;

        enum gw_err rc =
            smtp_data_encode(&st, (const char *)data + at, n, &out);

        /* Only a NUL byte or an over-long line may be refused. */
        if (rc == GW_EINVAL && (!refusable(data, size) || checked))
            abort();
        if (rc == GW_EINVAL)
            goto out;
        if (rc != GW_OK)
            abort();
    }
    if (smtp_data_finish(&st, &out) != GW_OK || !checked)
        abort();
    check_wire(out.data, out.len);
out:
    buf_free(&out);
    return 0;
}
