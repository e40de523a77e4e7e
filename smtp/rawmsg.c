/* Header checks and Bcc removal for raw messages; see rawmsg.h. */
#include "rawmsg.h"

#include <string.h>
#include <strings.h>

#include "data.h"

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
    size_t text = n - (n > 0 && s[n - 1] == '\n') -
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
        return f->dropping ? GW_OK : buf_append(out, s, n);
    }
    name = field_name(s, text);
    if (name == 0)
        return gw_error_set(err, GW_EINVAL,
                            "line %zu of the header is not a header field "
                            "(Name: value)",
                            f->line_no);
    if (name == 10 && strncasecmp(s, "Message-ID", 10) == 0)
        keep_message_id(f, s + name + 1, text - name - 1);
    f->dropping = !f->show_bcc && name == 3 && strncasecmp(s, "Bcc", 3) == 0;
    return f->dropping ? GW_OK : buf_append(out, s, n);
}

enum gw_err raw_filter_feed(struct raw_filter *f, const char *p, size_t n,
                            struct buf *out, struct gw_error *err)
{
    enum gw_err rc = GW_OK;
    size_t i = 0;

    while (i < n && !f->in_body && rc == GW_OK) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t k = nl ? (size_t)(nl - (p + i)) + 1 : n - i;

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
