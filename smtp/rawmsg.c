/* Header checks and Bcc removal for raw messages; see rawmsg.h. */
#include "rawmsg.h"

#include <string.h>
#include <strings.h>

#include "data.h"
#include "utf8.h"

void raw_filter_init(struct raw_filter *f, bool show_bcc)
{
    memset(f, 0, sizeof(*f));
    f->show_bcc = show_bcc;
    /* A header line and its CR LF; the DATA encoder checks the length
       exactly, this only bounds the memory. */
    buf_init(&f->line, SMTP_LINE_MAX + 2);
}

void raw_filter_free(struct raw_filter *f)
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
static void keep_message_id(struct raw_filter *f, const char *v, size_t n)
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

/* Decides the fate of one complete header line (with its line end). */
static enum gw_err header_line(struct raw_filter *f, struct buf *out,
                               struct gw_error *err)
{
    const char *s = f->line.data;
    size_t n = f->line.len, name;
    enum gw_err rc;
    size_t text = n - (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) -
                  (n > 1 && s[n - 1] == '\n' && s[n - 2] == '\r');

    f->line_no++;
    if (text == 0) {
        if (f->line_no == 1)
            return gw_error_set(err, GW_EINVAL,
                                "the message has no header fields");
        f->in_body = true;
        return buf_append(out, s, n);
    }
    if (s[0] == ' ' || s[0] == '\t') {
        if (f->line_no == 1)
            return gw_error_set(err, GW_EINVAL,
                                "the message starts with a continuation "
                                "line");
        if (f->dropping)
            return GW_OK;
    } else if ((name = field_name(s, text)) == 0) {
        return gw_error_set(err, GW_EINVAL,
                            "line %zu of the header is not a header field "
                            "(Name: value)",
                            f->line_no);
    } else {
        if (name == 10 && strncasecmp(s, "Message-ID", 10) == 0)
            keep_message_id(f, s + name + 1, text - name - 1);
        f->dropping =
            !f->show_bcc && name == 3 && strncasecmp(s, "Bcc", 3) == 0;
        if (f->dropping)
            return GW_OK;
    }
    /* UTF-8 needs SMTPUTF8 (RFC 6532); other 8-bit bytes are legacy
       text that went as 8BITMIME before. */
    for (size_t i = 0; i < text && !f->header_utf8; i++)
        f->header_utf8 =
            (unsigned char)s[i] > 127 && utf8_len(s + i, text - i) > 1;
    /* Written with CRLF, whatever its end was, so that a dropped line
       cannot join a bare CR before it and a bare LF after it into one
       line end. */
    rc = buf_append(out, s, text);
    return rc == GW_OK && text < n ? buf_append(out, "\r\n", 2) : rc;
}

enum gw_err raw_filter_feed(struct raw_filter *f, const char *p, size_t n,
                            struct buf *out, struct gw_error *err)
{
    enum gw_err rc = GW_OK;
    size_t i = 0;

    /* The LF of a CR LF split between two pieces: its line has gone out
       with CRLF, or been dropped. After the header it is the first body
       byte, which the DATA encoder joins to the CR. */
    if (f->after_cr && n > 0 && p[0] == '\n' && !f->in_body)
        i = 1;
    f->after_cr = false;
    while (i < n && !f->in_body && rc == GW_OK) {
        const char *nl = NULL;
        size_t k = 0;

        while (i + k < n && p[i + k] != '\r' && p[i + k] != '\n')
            k++;
        if (i + k < n) {
            nl = p + i + k;
            k += *nl == '\r' && i + k + 1 < n && nl[1] == '\n' ? 2 : 1;
            f->after_cr = i + k == n && p[n - 1] == '\r';
        }

        if (buf_append(&f->line, p + i, k) != GW_OK)
            return gw_error_set(err, GW_EINVAL,
                                "line %zu of the header is longer than %d "
                                "bytes",
                                f->line_no + 1, SMTP_LINE_MAX);
        i += k;
        if (nl != NULL) {
            rc = header_line(f, out, err);
            buf_reset(&f->line);
        }
    }
    if (rc == GW_OK && i < n)
        rc = buf_append(out, p + i, n - i);
    return rc;
}

enum gw_err raw_filter_finish(struct raw_filter *f, struct buf *out,
                              struct gw_error *err)
{
    enum gw_err rc = GW_OK;

    if (!f->in_body && f->line.len > 0)
        rc = header_line(f, out, err);
    if (rc == GW_OK && f->line_no == 0)
        rc = gw_error_set(err, GW_EINVAL, "the message is empty");
    return rc;
}
