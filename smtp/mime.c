/* The MIME composer; see mime.h. */
#include "mime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "encode.h"

/* Header lines are folded to this length where they can be (RFC 5322). */
#define FOLD_AT 78

/* No line, folded or not, may be longer (RFC 5322 2.1.1). */
#define LINE_MAX_HDR 998

/* A field name longer than this could not share a line with its value. */
#define HEADER_NAME_MAX 76

/*
 * The most a name's rendering adds to its longest word on a header line:
 * the longest field name that holds addresses ("Reply-To:"), the space
 * after it, and the ", " or '"' around the word.
 */
#define NAME_SLACK 13

/* Random hex digits in a Message-ID and in a MIME boundary. */
#define RANDOM_HEX 32

/* "=_" before the random digits: a pair that QP and base64 never write. */
#define BOUNDARY_LEN   (2 + RANDOM_HEX)
#define BOUNDARY_TRIES 8

/* The Message-ID domain when the From domain cannot serve as one. */
#define FALLBACK_DOMAIN "smtp-gateway.invalid"

/* "<", the random digits, "@" and ">" must fit in mime_result. */
#define MSGID_DOMAIN_MAX (sizeof(((struct mime_result *)0)->message_id) - 36)

/* 9999-12-31T23:59:59Z: the last Date with a four-digit year. */
#define DATE_MAX ((time_t)253402300799)

/* The widest zone offset "+hhmm" can write, in minutes. */
#define OFFSET_MAX (23 * 60 + 59)

/* One composition: what to write, how, and where. */
struct compose {
    const struct mime_message *msg;
    const struct mime_options *opt;
    struct buf *out;
    struct mime_result *res;
    struct gw_error *err;
};

static const struct {
    const char *name;
    int offset_min;
} zones[] = {
    {"UT", 0},     {"UTC", 0},    {"GMT", 0},    {"Z", 0},
    {"EST", -300}, {"EDT", -240}, {"CST", -360}, {"CDT", -300},
    {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420},
};

/*
 * The fields the composer writes itself. Those with an API field name it
 * in the refusal, so that the sender knows what to use instead.
 */
static const struct {
    const char *name;
    const char *field;
} owned[] = {
    {"Date", NULL},
    {"Message-ID", NULL},
    {"MIME-Version", NULL},
    {"Content-Type", NULL},
    {"Content-Transfer-Encoding", NULL},
    {"Content-Disposition", NULL},
    {"Sender", NULL},
    {"Bcc", "bcc"},
    {"From", "from"},
    {"To", "to"},
    {"Cc", "cc"},
    {"Reply-To", "reply_to"},
    {"Subject", "subject"},
};

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed",
                                        "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static enum gw_err invalid(struct gw_error *err, const char *detail)
{
    return gw_error_set(err, GW_EINVAL, "%s", detail);
}

/* Puts the name of the field at fault before a detail that lacks it. */
static enum gw_err blame(struct compose *c, enum gw_err rc, const char *field)
{
    if (rc == GW_EINVAL && c->err != NULL)
        gw_error_prefix(c->err, field);
    return rc;
}

/* Reads "+hhmm" or "-hhmm" into minutes east of UTC. */
static bool parse_offset(const char *t, int *out)
{
    int hh, mm;

    if (strlen(t) != 5 || (t[0] != '+' && t[0] != '-'))
        return false;
    for (size_t i = 1; i < 5; i++) {
        if (t[i] < '0' || t[i] > '9')
            return false;
    }
    hh = (t[1] - '0') * 10 + (t[2] - '0');
    mm = (t[3] - '0') * 10 + (t[4] - '0');
    if (hh > 23 || mm > 59)
        return false;
    *out = (t[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    return true;
}

/* True when `t` can be echoed in a detail: short printable ASCII. */
static bool echoable(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < 0x20 || t[i] > 0x7E)
            return false;
    }
    return true;
}

enum gw_err mime_tz_parse(const char *text, struct mime_tz *out,
                          struct gw_error *err)
{
    out->local = false;
    out->offset_min = 0;
    if (text == NULL)
        text = "";
    if (strcasecmp(text, "LOCAL") == 0) {
        out->local = true;
        return GW_OK;
    }
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (strcasecmp(text, zones[i].name) == 0) {
            out->offset_min = zones[i].offset_min;
            return GW_OK;
        }
    }
    if (parse_offset(text, &out->offset_min))
        return GW_OK;
    return gw_error_set(err, GW_EINVAL,
                        "unknown timezone%s%s%s; use UT, LOCAL, an RFC 822 "
                        "zone such as EST, or +hhmm/-hhmm",
                        echoable(text) ? " \"" : "", echoable(text) ? text : "",
                        echoable(text) ? "\"" : "");
}

static enum gw_err check_header_name(const char *name, struct gw_error *err)
{
    size_t n = strlen(name);

    if (n == 0)
        return invalid(err, "the header name is empty");
    if (n > HEADER_NAME_MAX)
        return invalid(err, "the header name is longer than 76 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch == ':')
            return invalid(err, "the header name has a colon");
        if (ch == ' ')
            return invalid(err, "the header name has a space");
        if (ch < 33 || ch > 126)
            return invalid(err, "the header name has a character outside "
                                "printable ASCII");
    }
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        if (strcasecmp(name, owned[i].name) != 0)
            continue;
        if (owned[i].field != NULL)
            return gw_error_set(err, GW_EINVAL,
                                "%s cannot be given in headers; use the %s "
                                "field",
                                owned[i].name, owned[i].field);
        return gw_error_set(err, GW_EINVAL,
                            "%s is set by the gateway and cannot be given "
                            "in headers",
                            owned[i].name);
    }
    return GW_OK;
}

enum gw_err mime_check_header(const struct mime_header *h, struct gw_error *err)
{
    enum gw_err rc;

    if (h == NULL || h->name == NULL)
        return invalid(err, "the header name is empty");
    rc = check_header_name(h->name, err);
    if (rc != GW_OK)
        return rc;
    if (h->value == NULL)
        return invalid(err, "the header value is missing");
    return mime_check_text(h->value, err);
}

enum gw_err mime_check_text(const char *text, struct gw_error *err)
{
    if (strpbrk(text, "\r\n") != NULL)
        return invalid(err, "the text has a line break");
    if (!enc_utf8_valid(text, strlen(text)))
        return invalid(err, "the text is not valid UTF-8");
    return GW_OK;
}

/*
 * Returns the length of the unit of header text at s[pos]: a run of
 * whitespace, the word after it, and, when only whitespace follows, that
 * whitespace too, so that no fold leaves a line of nothing but blanks.
 * A fold goes before a unit; a unit is never cut.
 */
static size_t unit_len(const char *s, size_t n, size_t pos)
{
    size_t i = pos, j;

    while (i < n && is_wsp(s[i]))
        i++;
    while (i < n && !is_wsp(s[i]))
        i++;
    for (j = i; j < n && is_wsp(s[j]); j++)
        ;
    return (j == n ? j : i) - pos;
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

static bool has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return true;
    }
    return false;
}

/* True when header text can go as it is: ASCII, no control but TAB. */
static bool is_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch >= 0x7F || (ch < 0x20 && ch != '\t'))
            return false;
    }
    return true;
}

/*
 * Appends an unstructured field (Subject or an extra header): as it is
 * when that is plain ASCII whose words fit a line; otherwise as encoded
 * words, or, without header encoding, as raw UTF-8 for SMTPUTF8.
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
    if ((is_plain(value, n) || !allow) &&
        prefix + longest_unit(line.data, line.len) <= LINE_MAX_HDR) {
        if (has_8bit(value, n))
            c->res->needs_smtputf8 = true;
    } else if (allow) {
        buf_reset(&line);
        rc = buf_putc(&line, ' ');
        if (rc == GW_OK)
            rc = enc_words(&line, value, n, FOLD_AT - prefix - 1);
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

static bool is_atext(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/*
 * True when a display name must be a quoted-string: it has an RFC 5322
 * special, or "=?", which a reader would take for an encoded-word.
 */
static bool needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x80 && ch != ' ' && !is_atext(ch))
            return true;
        if (ch == '=' && i + 1 < n && s[i + 1] == '?')
            return true;
    }
    return false;
}

/* Appends `s` as an RFC 5322 quoted-string. */
static enum gw_err put_quoted(struct buf *b, const char *s, size_t n)
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
 * specials, encoded-words when it is not ASCII (or has a word too long
 * for a line) and encoding is allowed; raw UTF-8 otherwise.
 */
static enum gw_err put_name(struct compose *c, struct buf *line,
                            const char *name, size_t first_max,
                            const char *field)
{
    size_t n = strlen(name);
    bool allow = c->opt->allow_header_encoding;
    struct buf tmp;
    enum gw_err rc = GW_OK;

    if (allow && has_8bit(name, n))
        return enc_words(line, name, n, first_max);
    buf_init(&tmp, c->out->max);
    if (needs_quotes(name, n))
        rc = put_quoted(&tmp, name, n);
    else
        rc = buf_append(&tmp, name, n);
    if (rc != GW_OK)
        goto out;
    if (longest_unit(tmp.data, tmp.len) + NAME_SLACK <= LINE_MAX_HDR) {
        c->res->needs_smtputf8 |= has_8bit(name, n);
        rc = buf_append(line, tmp.data, tmp.len);
    } else if (allow) {
        rc = enc_words(line, name, n, first_max);
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
                            const struct addr *a, size_t first_max,
                            const char *field)
{
    bool named = a->name != NULL && a->name[0] != '\0';
    enum gw_err rc;

    /* The addresses were checked when parsed; a second look costs little
     * and keeps a line break from ever reaching a header. */
    rc = blame(c, addr_check_mailbox(a->mailbox, c->err), field);
    if (rc == GW_OK)
        rc = blame(c, addr_check_name(a->name, c->err), field);
    if (rc == GW_OK && line->len > 0)
        rc = buf_putc(line, ',');
    if (rc == GW_OK)
        rc = buf_putc(line, ' ');
    if (rc == GW_OK && named)
        rc = put_name(c, line, a->name, first_max, field);
    if (rc == GW_OK)
        rc = named ? buf_printf(line, " <%s>", a->mailbox)
                   : buf_puts(line, a->mailbox);
    if (addr_needs_utf8(a->mailbox))
        c->res->needs_smtputf8 = true;
    return rc;
}

/*
 * Appends an address field. `field` names the list in details; `list`
 * says whether it is a list ("to[1]") or a single address ("from").
 */
static enum gw_err put_addrs(struct compose *c, const char *name,
                             const char *field, bool list,
                             const struct addr *addrs, size_t n)
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
        rc = put_addr(c, &line, &addrs[i], i == 0 ? first_max : ENC_WORD_MAX,
                      label);
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

/* Writes RANDOM_HEX lower-case hex digits and a NUL into `hex`. */
static enum gw_err random_hex(char *hex, struct gw_error *err)
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
    rc = random_hex(hex, c->err);
    if (rc != GW_OK)
        return rc;
    n = snprintf(c->res->message_id, sizeof(c->res->message_id), "<%s@%s>", hex,
                 domain);
    if (n < 0 || (size_t)n >= sizeof(c->res->message_id))
        return invalid(c->err, "the message id domain is too long");
    return buf_printf(c->out, "Message-ID: %s\r\n", c->res->message_id);
}

/*
 * Appends the Content-Type and Content-Transfer-Encoding of one body, the
 * blank line after them and the body: 7bit when it may go as it is,
 * quoted-printable otherwise.
 */
static enum gw_err put_part(struct compose *c, const char *type,
                            const char *body)
{
    size_t n = strlen(body);
    bool plain = enc_is_7bit(body, n);
    enum gw_err rc;

    rc = buf_printf(c->out,
                    "Content-Type: %s; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: %s\r\n\r\n",
                    type, plain ? "7bit" : "quoted-printable");
    if (rc == GW_OK)
        rc = plain ? enc_crlf(c->out, body, n) : enc_qp(c->out, body, n);
    return rc;
}

/*
 * Picks a boundary that neither body holds. The random digits make a
 * clash all but impossible, but a body could hold one on purpose.
 */
static enum gw_err pick_boundary(struct compose *c, char *boundary)
{
    for (int i = 0; i < BOUNDARY_TRIES; i++) {
        enum gw_err rc;

        boundary[0] = '=';
        boundary[1] = '_';
        rc = random_hex(boundary + 2, c->err);
        if (rc != GW_OK)
            return rc;
        if (strstr(c->msg->text, boundary) == NULL &&
            strstr(c->msg->html, boundary) == NULL)
            return GW_OK;
    }
    return invalid(c->err, "no MIME boundary could be found that the body "
                           "does not hold");
}

/* Appends a multipart/alternative body: the text part, then the HTML. */
static enum gw_err put_alternative(struct compose *c)
{
    char boundary[BOUNDARY_LEN + 1];
    struct buf line;
    enum gw_err rc;

    buf_init(&line, FOLD_AT * 2);
    rc = pick_boundary(c, boundary);
    if (rc == GW_OK)
        rc = buf_printf(&line, " multipart/alternative; boundary=\"%s\"",
                        boundary);
    if (rc == GW_OK)
        rc = put_header(c, "Content-Type", &line);
    if (rc == GW_OK)
        rc = buf_printf(c->out,
                        "Content-Transfer-Encoding: 7bit\r\n\r\n--%s\r\n",
                        boundary);
    if (rc == GW_OK)
        rc = put_part(c, "text/plain", c->msg->text);
    if (rc == GW_OK)
        rc = buf_printf(c->out, "\r\n--%s\r\n", boundary);
    if (rc == GW_OK)
        rc = put_part(c, "text/html", c->msg->html);
    if (rc == GW_OK)
        rc = buf_printf(c->out, "\r\n--%s--\r\n", boundary);
    buf_free(&line);
    return rc;
}

static enum gw_err put_body(struct compose *c)
{
    const struct mime_message *m = c->msg;
    enum gw_err rc;

    if (m->text != NULL && m->html != NULL)
        return put_alternative(c);
    if (m->html != NULL)
        rc = put_part(c, "text/html", m->html);
    else
        rc = put_part(c, "text/plain", m->text != NULL ? m->text : "");
    /* The last line of a message needs its CRLF before the final dot. */
    if (rc == GW_OK && memcmp(c->out->data + c->out->len - 2, "\r\n", 2) != 0)
        rc = buf_append(c->out, "\r\n", 2);
    return rc;
}

/* Checks what the address and body writers do not check themselves. */
static enum gw_err check_message(struct compose *c)
{
    const struct mime_message *m = c->msg;
    char label[32];

    if (m->from == NULL || m->from->mailbox == NULL)
        return invalid(c->err, "from: the address is missing");
    if (m->subject != NULL && mime_check_text(m->subject, c->err) != GW_OK)
        return blame(c, GW_EINVAL, "subject");
    for (size_t i = 0; i < m->n_headers; i++) {
        enum gw_err rc = mime_check_header(&m->headers[i], c->err);

        snprintf(label, sizeof(label), "headers[%zu]", i);
        if (rc != GW_OK)
            return blame(c, rc, label);
    }
    return GW_OK;
}

/* Appends every header field but the body's own, in the documented order. */
static enum gw_err put_headers(struct compose *c)
{
    const struct mime_message *m = c->msg;
    enum gw_err rc = put_date(c);
    char label[32];

    if (rc == GW_OK)
        rc = put_addrs(c, "From", "from", false, m->from, 1);
    if (rc == GW_OK && m->sender != NULL)
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

enum gw_err mime_compose(const struct mime_message *msg,
                         const struct mime_options *opt, struct buf *out,
                         struct mime_result *res, struct gw_error *err)
{
    struct compose c = {msg, opt, out, res, err};
    enum gw_err rc;

    memset(res, 0, sizeof(*res));
    rc = check_message(&c);
    if (rc == GW_OK)
        rc = put_headers(&c);
    if (rc == GW_OK)
        rc = put_body(&c);
    /* The buffers fail without a detail; only here is the limit known. */
    if (rc == GW_ELIMIT)
        gw_error_set(err, rc, "the composed message exceeds %zu bytes",
                     out->max);
    else if (rc == GW_ENOMEM)
        gw_error_set(err, rc, "out of memory");
    return rc;
}
