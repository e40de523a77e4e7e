/* Header checks and Bcc removal for raw messages; see mime.h. */
#include "mime.h"

#include <string.h>
#include <strings.h>

#include "base/base.h"

void mime_raw_filter_init(struct mime_raw_filter *f, bool show_bcc)
{
    memset(f, 0, sizeof(*f));
    f->show_bcc = show_bcc;
    /* A header line without its line end: the limit is the line's. */
    buf_init(&f->line, GW_LINE_MAX);
}

void mime_raw_filter_free(struct mime_raw_filter *f)
{
    buf_free(&f->line);
}

/* The length of the field name at the start of `s`, 0 when there is no
   valid "name:" (RFC 5322 2.2: printable ASCII but the colon). */
static size_t field_name(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != ':')
        i++;
    return i > 0 && i < n && s[i] == ':' ? i : 0;
}

/* Keeps the Message-ID, without surrounding white space, for the reply. */
static void keep_message_id(struct mime_raw_filter *f, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n < sizeof(f->message_id)) {
        memcpy(f->message_id, v, n);
        f->message_id[n] = '\0';
    }
}

/*
 * Decides the fate of one header line, ended (its end is not in `line`).
 * The empty line that ends the header is passed on as it came, `end`
 * itself (the LF of a CR LF follows as the first body byte); a field line
 * gets CRLF, or "" at the end of the message.
 */
static enum gw_err header_line(struct mime_raw_filter *f, const char *end,
                               struct buf *out, struct gw_error *err)
{
    const char *s = f->line.data;
    size_t n = f->line.len, name;
    enum gw_err rc;

    f->line_no++;
    if (n == 0) {
        if (f->line_no == 1)
            return gw_error_set(err, GW_EINVAL,
                                "the message has no header fields");
        f->in_body = true;
        return buf_puts(out, end);
    }
    if (s[0] == ' ' || s[0] == '\t') {
        if (f->line_no == 1)
            return gw_error_set(err, GW_EINVAL,
                                "the message starts with a continuation "
                                "line");
    } else if ((name = field_name(s, n)) == 0) {
        return gw_error_set(err, GW_EINVAL,
                            "line %zu of the header is not a header field "
                            "(Name: value)",
                            f->line_no);
    } else {
        if (name == 10 && strncasecmp(s, "Message-ID", 10) == 0)
            keep_message_id(f, s + name + 1, n - name - 1);
        f->dropping =
            !f->show_bcc && name == 3 && strncasecmp(s, "Bcc", 3) == 0;
    }
    if (f->dropping)
        return GW_OK;
    /* UTF-8 needs SMTPUTF8 (RFC 6532); other 8-bit bytes are legacy
       text that goes as 8BITMIME. */
    for (size_t i = 0; i < n && !f->header_utf8; i++)
        f->header_utf8 =
            (unsigned char)s[i] > 127 && gw_utf8_len(s + i, n - i) > 1;
    rc = buf_append(out, s, n);
    return rc == GW_OK && end[0] != '\0' ? buf_append(out, "\r\n", 2) : rc;
}

enum gw_err mime_raw_filter_feed(struct mime_raw_filter *f, const char *p,
                                 size_t n, struct buf *out,
                                 struct gw_error *err)
{
    enum gw_err rc = GW_OK;
    size_t i = 0;

    for (; i < n && !f->in_body && rc == GW_OK; i++) {
        char end[2] = {p[i], '\0'};

        switch (gw_eol_next(&f->after_cr, p[i])) {
        case GW_EOL_REST:
            /* Written with the CRLF of its line, or dropped with it. */
            break;
        case GW_EOL_END:
            rc = header_line(f, end, out, err);
            buf_reset(&f->line);
            break;
        case GW_EOL_NONE:
            if (buf_putc(&f->line, p[i]) != GW_OK)
                return gw_error_set(err, GW_EINVAL,
                                    "line %zu of the header is longer than "
                                    "%d bytes",
                                    f->line_no + 1, GW_LINE_MAX);
            break;
        }
    }
    if (rc == GW_OK && i < n)
        rc = buf_append(out, p + i, n - i);
    return rc;
}

enum gw_err mime_raw_filter_finish(struct mime_raw_filter *f, struct buf *out,
                                   struct gw_error *err)
{
    enum gw_err rc = GW_OK;

    if (!f->in_body && f->line.len > 0)
        rc = header_line(f, "", out, err);
    if (rc == GW_OK && f->line_no == 0)
        rc = gw_error_set(err, GW_EINVAL, "the message is empty");
    return rc;
}
