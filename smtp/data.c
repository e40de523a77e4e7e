/* The DATA stream: line ends, dot-stuffing, the final dot; see smtp.h. */
#include "smtp.h"

enum gw_err smtp_data_check(const char *msg, size_t len, struct gw_error *err)
{
    size_t line = 1, line_len = 0;
    bool after_cr = false;

    for (size_t i = 0; i < len; i++) {
        enum gw_eol eol = gw_eol_next(&after_cr, msg[i]);

        if (msg[i] == '\0')
            return gw_error_set(err, GW_EINVAL,
                                "line %zu of the message has a NUL byte", line);
        if (eol == GW_EOL_END) {
            line++;
            line_len = 0;
        } else if (eol == GW_EOL_NONE && ++line_len > GW_LINE_MAX) {
            return gw_error_set(err, GW_ELIMIT,
                                "line %zu of the message is longer than "
                                "%d bytes",
                                line, GW_LINE_MAX);
        }
    }
    return GW_OK;
}

static enum gw_err end_line(struct smtp_data *st, struct buf *out)
{
    st->mid_line = false;
    st->line_len = 0;
    return buf_append(out, "\r\n", 2);
}

enum gw_err smtp_data_encode(struct smtp_data *st, const char *in, size_t n,
                             struct buf *out)
{
    enum gw_err rc = GW_OK;

    for (size_t i = 0; i < n && rc == GW_OK; i++) {
        char c = in[i];
        enum gw_eol eol = gw_eol_next(&st->after_cr, c);

        /* The CR of a CR LF has written the CRLF already. */
        if (eol == GW_EOL_REST)
            continue;
        if (eol == GW_EOL_END) {
            rc = end_line(st, out);
            continue;
        }
        if (c == '\0' || ++st->line_len > GW_LINE_MAX)
            return GW_EINVAL;
        st->saw_8bit = st->saw_8bit || (unsigned char)c > 127;
        if (!st->mid_line && c == '.')
            rc = buf_putc(out, '.');
        if (rc == GW_OK)
            rc = buf_putc(out, c);
        st->mid_line = true;
    }
    return rc;
}

enum gw_err smtp_data_finish(struct smtp_data *st, struct buf *out)
{
    enum gw_err rc = GW_OK;

    if (st->mid_line)
        rc = end_line(st, out);
    st->after_cr = false;
    return rc == GW_OK ? buf_append(out, ".\r\n", 3) : rc;
}
