/*
 * The header fields of a composed message but those with parameters:
 * Date, the address fields, Subject, Message-ID, MIME-Version and the
 * sender's extra headers, folded at 78 characters where they can be and
 * with RFC 2047 encoded-words for text that cannot go as it is.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/*
 * The most a name's rendering adds to its longest word on a header line:
 * the longest field name that holds addresses ("Reply-To:"), the space
 * after it, and the ", " or '"' around the word.
 */
#define NAME_SLACK 13

/* The Message-ID domain when the From domain cannot serve as one. */
#define FALLBACK_DOMAIN "smtp-gateway.invalid"

/* "<", the random digits, "@" and ">" must fit in mime_result. */
#define MSGID_DOMAIN_MAX (sizeof(((struct mime_result *)0)->message_id) - 36)

/* 9999-12-31T23:59:59Z: the last Date with a four-digit year. */
#define DATE_MAX ((time_t)253402300799)

/* The widest zone offset "+hhmm" can write, in minutes. */
#define OFFSET_MAX (23 * 60 + 59)

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed",
                                        "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Returns the length of the unit of header text at s[pos], which is the
 * start or a fold point. A fold goes only before a space that a word
 * follows: readers unfold by turning the line break and every blank after
 * it into one space (libmime does, against RFC 5322, which only removes
 * the CRLF), so the continuation line must start with that one space and
 * the other blanks of a run stay at the end of the line before. Trailing
 * blanks stay with the last word, so no fold leaves a line of only blanks.
 */
static size_t unit_len(const char *s, size_t n, size_t pos)
{
    size_t i = pos + 1;

    while (i < n && !(s[i] == ' ' && i + 1 < n && !is_wsp(s[i + 1])))
        i++;
    return (i < n ? i : n) - pos;
}

static size_t longest_unit(const char *s, size_t n)
{
    size_t pos = 0, max = 0;

    while (pos < n) {
        size_t len = unit_len(s, n, pos);

        if (len > max)
            max = len;
        pos += len;
    }
    return max;
}

/*
 * Appends "name:" and `value` (the unfolded field body, starting with
 * the space after the colon), folding before whitespace wherever a line
 * would pass 78 characters. Never folds right after the colon. Refuses a
 * value whose words would make a line longer than 998 bytes, which the
 * callers avoid by encoding; this is the last guard.
 */
static enum gw_err put_header(struct compose *c, const char *name,
                              const struct buf *value)
{
    const char *v = buf_cstr(value);
    size_t n = value->len, pos = 0, col = strlen(name) + 1;
    enum gw_err rc;

    if (col + longest_unit(v, n) > LINE_MAX_HDR)
        return gw_error_set(c->err, GW_EINVAL,
                            "the %s header has a word too long for a line",
                            name);
    rc = buf_printf(c->out, "%s:", name);
    while (pos < n && rc == GW_OK) {
        size_t len = unit_len(v, n, pos);

        if (pos > 0 && col + len > FOLD_AT) {
            rc = buf_append(c->out, "\r\n", 2);
            col = 0;
        }
        if (rc == GW_OK)
            rc = buf_append(c->out, v + pos, len);
        col += len;
        pos += len;
    }
    if (rc == GW_OK)
        rc = buf_append(c->out, "\r\n", 2);
    return rc;
}

bool mime_is_plain(const char *s, size_t n)
{
    if (n > 0 && (is_wsp(s[0]) || is_wsp(s[n - 1])))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch >= 0x7F || (ch < 0x20 && ch != '\t'))
            return false;
    }
    return true;
}

bool mime_looks_encoded(const char *s, size_t n)
{
    const char *open = memmem(s, n, "=?", 2);

    return open != NULL &&
           memmem(open + 2, n - (size_t)(open + 2 - s), "?=", 2) != NULL;
}

/*
 * Appends an unstructured field (Subject or an extra header): as it is
 * when that is plain ASCII whose words fit a line and holds nothing like
 * an encoded-word; otherwise as encoded-words, or, without header
 * encoding, as raw UTF-8 for SMTPUTF8.
 */
static enum gw_err put_unstructured(struct compose *c, const char *name,
                                    const char *value, const char *field)
{
    size_t n = strlen(value), prefix = strlen(name) + 1;
    bool allow = c->opt->allow_header_encoding;
    struct buf line;
    enum gw_err rc = GW_OK;

    buf_init(&line, c->out->max);
    if (n > 0)
        rc = buf_putc(&line, ' ');
    if (rc == GW_OK)
        rc = buf_append(&line, value, n);
    if (rc != GW_OK)
        goto out;
    if (((mime_is_plain(value, n) && !mime_looks_encoded(value, n)) ||
         !allow) &&
        prefix + longest_unit(line.data, line.len) <= LINE_MAX_HDR) {
        if (has_8bit(value, n))
            c->res->needs_smtputf8 = true;
    } else if (allow) {
        buf_reset(&line);
        rc = buf_putc(&line, ' ');
        if (rc == GW_OK)
            rc = mime_enc_words(&line, value, n, FOLD_AT - prefix - 1);
    } else {
        rc = gw_error_set(c->err, GW_EINVAL,
                          "%s: the text has a word too long for a header "
                          "line (998 bytes) and header encoding is off",
                          field);
    }
    if (rc == GW_OK)
        rc = put_header(c, name, &line);
out:
    buf_free(&line);
    return rc;
}

/*
 * True when a display name must be a quoted-string: it has an RFC 5322
 * special, "=?", which a reader would take for an encoded-word, or two
 * spaces in a row, which a reader would make one between atoms.
 */
static bool needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x80 && ch != ' ' && !is_atext(ch))
            return true;
        if (ch == '=' && i + 1 < n && s[i + 1] == '?')
            return true;
        if (ch == ' ' && i + 1 < n && s[i + 1] == ' ')
            return true;
    }
    return false;
}

enum gw_err mime_put_quoted(struct buf *b, const char *s, size_t n)
{
    enum gw_err rc = buf_putc(b, '"');

    for (size_t i = 0; i < n && rc == GW_OK; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rc = buf_putc(b, '\\');
        if (rc == GW_OK)
            rc = buf_putc(b, s[i]);
    }
    if (rc == GW_OK)
        rc = buf_putc(b, '"');
    return rc;
}

/*
 * Appends a display name: atoms as they are, a quoted-string when it has
 * specials, encoded-words when it is not ASCII, looks like an encoded-word
 * or has a word too long for a line, and encoding is allowed; raw UTF-8
 * otherwise.
 */
static enum gw_err put_name(struct compose *c, struct buf *line,
                            const char *name, size_t first_max,
                            const char *field)
{
    size_t n = strlen(name);
    bool allow = c->opt->allow_header_encoding;
    struct buf tmp;
    enum gw_err rc = GW_OK;

    if (allow && (has_8bit(name, n) || mime_looks_encoded(name, n)))
        return mime_enc_words(line, name, n, first_max);
    buf_init(&tmp, c->out->max);
    if (needs_quotes(name, n))
        rc = mime_put_quoted(&tmp, name, n);
    else
        rc = buf_append(&tmp, name, n);
    if (rc != GW_OK)
        goto out;
    if (longest_unit(tmp.data, tmp.len) + NAME_SLACK <= LINE_MAX_HDR) {
        c->res->needs_smtputf8 |= has_8bit(name, n);
        rc = buf_append(line, tmp.data, tmp.len);
    } else if (allow) {
        rc = mime_enc_words(line, name, n, first_max);
    } else {
        rc = gw_error_set(c->err, GW_EINVAL,
                          "%s: the name has a word too long for a header "
                          "line (998 bytes) and header encoding is off",
                          field);
    }
out:
    buf_free(&tmp);
    return rc;
}

/* Appends ", Name <mailbox>" (without the comma for the first) to `line`. */
static enum gw_err put_addr(struct compose *c, struct buf *line,
                            const struct mime_addr *a, size_t first_max,
                            const char *field)
{
    bool named = a->name != NULL && a->name[0] != '\0';
    enum gw_err rc;

    /* The addresses were checked when parsed; a second look costs little
     * and keeps a line break from ever reaching a header. */
    rc = blame(c, mime_addr_check_mailbox(a->mailbox, c->err), field);
    if (rc == GW_OK)
        rc = blame(c, mime_addr_check_name(a->name, c->err), field);
    if (rc == GW_OK && line->len > 0)
        rc = buf_putc(line, ',');
    if (rc == GW_OK)
        rc = buf_putc(line, ' ');
    if (rc == GW_OK && named)
        rc = put_name(c, line, a->name, first_max, field);
    if (rc == GW_OK)
        rc = named ? buf_printf(line, " <%s>", a->mailbox)
                   : buf_puts(line, a->mailbox);
    if (mime_addr_needs_utf8(a->mailbox))
        c->res->needs_smtputf8 = true;
    return rc;
}

/*
 * Appends an address field. `field` names the list in details; `list`
 * says whether it is a list ("to[1]") or a single address ("from").
 */
static enum gw_err put_addrs(struct compose *c, const char *name,
                             const char *field, bool list,
                             const struct mime_addr *addrs, size_t n)
{
    size_t first_max = FOLD_AT - strlen(name) - 2;
    char label[32];
    struct buf line;
    enum gw_err rc = GW_OK;

    buf_init(&line, c->out->max);
    for (size_t i = 0; i < n && rc == GW_OK; i++) {
        if (list)
            snprintf(label, sizeof(label), "%s[%zu]", field, i);
        else
            snprintf(label, sizeof(label), "%s", field);
        rc = put_addr(c, &line, &addrs[i],
                      i == 0 ? first_max : MIME_ENC_WORD_MAX, label);
    }
    if (rc == GW_OK)
        rc = put_header(c, name, &line);
    buf_free(&line);
    return rc;
}

static enum gw_err put_date(struct compose *c)
{
    time_t t = c->opt->date != 0 ? c->opt->date : time(NULL);
    long off = c->opt->tz.offset_min;
    struct tm tm;

    if (t < 0 || t > DATE_MAX)
        return invalid(c->err, "the date is out of range");
    if (c->opt->tz.local) {
        if (localtime_r(&t, &tm) == NULL)
            return invalid(c->err, "the date is out of range");
        off = tm.tm_gmtoff / 60;
    } else {
        time_t shifted;

        if (off < -OFFSET_MAX || off > OFFSET_MAX)
            return invalid(c->err, "the timezone offset is out of range");
        shifted = t + off * 60;
        if (gmtime_r(&shifted, &tm) == NULL)
            return invalid(c->err, "the date is out of range");
    }
    return buf_printf(c->out,
                      "Date: %s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld\r\n",
                      day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
                      tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

enum gw_err mime_random_hex(char *hex, struct gw_error *err)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[RANDOM_HEX / 2];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return gw_error_set(err, GW_EIO, "the system random source failed");
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0x0F];
    }
    hex[RANDOM_HEX] = '\0';
    return GW_OK;
}

/*
 * True when `d` can be the right-hand side of a Message-ID as it is:
 * short printable ASCII without the bytes that would end or split it.
 */
static bool msgid_domain_ok(const char *d)
{
    size_t n = strlen(d);

    if (n == 0 || n > MSGID_DOMAIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (d[i] <= ' ' || d[i] > '~' || strchr("<>\"\\()@,;", d[i]) != NULL)
            return false;
    }
    return true;
}

static enum gw_err put_message_id(struct compose *c)
{
    const char *domain = c->opt->message_id_domain;
    char hex[RANDOM_HEX + 1];
    enum gw_err rc;
    int n;

    if (domain != NULL && !msgid_domain_ok(domain))
        return invalid(c->err, "the message id domain is not a valid domain");
    if (domain == NULL) {
        /* A UTF-8 domain would need SMTPUTF8 just for the Message-ID. */
        domain = strrchr(c->msg->from->mailbox, '@');
        domain = domain != NULL ? domain + 1 : "";
        if (!msgid_domain_ok(domain))
            domain = FALLBACK_DOMAIN;
    }
    rc = mime_random_hex(hex, c->err);
    if (rc != GW_OK)
        return rc;
    n = snprintf(c->res->message_id, sizeof(c->res->message_id), "<%s@%s>", hex,
                 domain);
    if (n < 0 || (size_t)n >= sizeof(c->res->message_id))
        return invalid(c->err, "the message id domain is too long");
    return buf_printf(c->out, "Message-ID: %s\r\n", c->res->message_id);
}

enum gw_err mime_put_headers(struct compose *c)
{
    const struct mime_message *m = c->msg;
    enum gw_err rc = put_date(c);
    char label[32];

    if (rc == GW_OK)
        rc = put_addrs(c, "From", "from", false, m->from, 1);
    /* RFC 5322 3.6.2: no Sender when it would name the author again. */
    if (rc == GW_OK && m->sender != NULL &&
        !mime_addr_same_mailbox(m->sender->mailbox, m->from->mailbox))
        rc = put_addrs(c, "Sender", "sender", false, m->sender, 1);
    if (rc == GW_OK && m->n_reply_to > 0)
        rc = put_addrs(c, "Reply-To", "reply_to", true, m->reply_to,
                       m->n_reply_to);
    if (rc == GW_OK && m->n_to > 0)
        rc = put_addrs(c, "To", "to", true, m->to, m->n_to);
    if (rc == GW_OK && m->n_cc > 0)
        rc = put_addrs(c, "Cc", "cc", true, m->cc, m->n_cc);
    if (rc == GW_OK && m->n_bcc > 0 && c->opt->show_bcc)
        rc = put_addrs(c, "Bcc", "bcc", true, m->bcc, m->n_bcc);
    if (rc == GW_OK && m->subject != NULL && m->subject[0] != '\0')
        rc = put_unstructured(c, "Subject", m->subject, "subject");
    if (rc == GW_OK)
        rc = put_message_id(c);
    if (rc == GW_OK)
        rc = buf_puts(c->out, "MIME-Version: 1.0\r\n");
    for (size_t i = 0; i < m->n_headers && rc == GW_OK; i++) {
        snprintf(label, sizeof(label), "headers[%zu]", i);
        rc =
            put_unstructured(c, m->headers[i].name, m->headers[i].value, label);
    }
    return rc;
}
