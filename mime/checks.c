/*
 * The checks of what the composer is given: the public ones, which the
 * API runs on each field of a request as it reads it, and the check of a
 * whole message, which mime_compose() runs before it writes anything;
 * see mime.h.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A field name longer than this could not share a line with its value. */
#define HEADER_NAME_MAX 76

/* The longest file name of an attachment, in bytes, as most file systems. */
#define FILENAME_BYTES_MAX 255

/* The longest Content-ID, without its angle brackets. */
#define CONTENT_ID_MAX 200

/* The longest type or subtype of a media type (RFC 6838 4.2). */
#define TYPE_PART_MAX 127

/* The zones mime_tz_parse() knows by name, in minutes east of UTC. */
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
    {"Sender", "sender"},
    {"Bcc", "bcc"},
    {"From", "from"},
    {"To", "to"},
    {"Cc", "cc"},
    {"Reply-To", "reply_to"},
    {"Subject", "subject"},
};

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
    if (!gw_utf8_valid(text, strlen(text)))
        return invalid(err, "the text is not valid UTF-8");
    return GW_OK;
}

/* The type of a file name's extension; see mime_guess_type(). */
static const struct {
    const char *ext;
    const char *type;
} extension_types[] = {
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"txt", "text/plain"},
    {"csv", "text/csv"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"ics", "text/calendar"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument."
             "spreadsheetml.sheet"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument."
             "presentationml.presentation"},
    {"eml", "message/rfc822"},
};

const char *mime_guess_type(const char *filename)
{
    const size_t n = sizeof(extension_types) / sizeof(extension_types[0]);
    const char *dot = filename != NULL ? strrchr(filename, '.') : NULL;

    for (size_t i = 0; dot != NULL && i < n; i++) {
        if (strcasecmp(dot + 1, extension_types[i].ext) == 0)
            return extension_types[i].type;
    }
    return "application/octet-stream";
}

enum gw_err mime_check_filename(const char *name, struct gw_error *err)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0)
        return invalid(err, "is empty");
    if (n > FILENAME_BYTES_MAX)
        return invalid(err, "is longer than 255 bytes");
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F)
            return invalid(err, "has a control character");
    }
    if (!gw_utf8_valid(name, n))
        return invalid(err, "is not valid UTF-8");
    return GW_OK;
}

/* True for an RFC 2045 token character: not a space, CTL or tspecial. */
static bool is_token_char(unsigned char ch)
{
    return ch > ' ' && ch < 0x7F && strchr("()<>@,;:\\\"/[]?=", ch) == NULL;
}

/* The length of the token at `s`, stopping at `max` + 1. */
static size_t token_len(const char *s, size_t max)
{
    size_t n = 0;

    while (n <= max && s[n] != '\0' && is_token_char((unsigned char)s[n]))
        n++;
    return n;
}

enum gw_err mime_check_content_type(const char *type, struct gw_error *err)
{
    size_t t = type != NULL ? token_len(type, TYPE_PART_MAX) : 0, s;

    if (t == 0 || t > TYPE_PART_MAX || type[t] != '/')
        goto bad;
    s = token_len(type + t + 1, TYPE_PART_MAX);
    if (s == 0 || s > TYPE_PART_MAX || type[t + 1 + s] != '\0')
        goto bad;
    if (strncasecmp(type, "multipart/", 10) == 0)
        return invalid(err, "multipart types are made by the gateway");
    /* RFC 2046 5.2: these two must be 7bit, which this cannot promise. */
    if (strcasecmp(type, "message/partial") == 0 ||
        strcasecmp(type, "message/external-body") == 0)
        return invalid(err, "message/partial and message/external-body "
                            "cannot be attached");
    return GW_OK;
bad:
    return invalid(err, "must be a media type without parameters, such as "
                        "application/pdf");
}

/* True for a character of a Content-ID as taken here: atext, "." or "@". */
static bool is_cid_char(unsigned char ch)
{
    return is_atext(ch) || ch == '.' || ch == '@';
}

enum gw_err mime_check_content_id(const char *id, struct gw_error *err)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0)
        return invalid(err, "is empty");
    if (n > CONTENT_ID_MAX)
        return invalid(err, "is longer than 200 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];

        if (ch == '<' || ch == '>')
            return invalid(err, "has a < or >; give it without the angle "
                                "brackets");
        if (ch == ' ' || ch == '\t')
            return invalid(err, "has a space");
        if (!is_cid_char(ch))
            return invalid(err, "may hold only letters, digits, \".\", \"@\" "
                                "and !#$%&'*+-/=?^_`{|}~");
    }
    return GW_OK;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

/*
 * Decodes the cid: URL text `s` (`n` characters) into `out` (`size`
 * bytes): RFC 2392 percent-encodes the Content-ID in it. Returns false
 * when it does not fit, which no valid Content-ID would.
 */
static bool cid_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

        if (len + 1 >= size)
            return false;
        if (s[i] == '%' && hi >= 0 && lo >= 0) {
            out[len++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[len++] = s[i];
        }
    }
    out[len] = '\0';
    return true;
}

/*
 * Finds the attachment that the cid: reference `ref` (`n` characters)
 * names. Returns GW_OK when an inline one does; otherwise the detail.
 */
static enum gw_err resolve_cid(const char *ref, size_t n,
                               const struct mime_attachment *a, size_t n_att,
                               struct gw_error *err)
{
    char id[CONTENT_ID_MAX + 1];
    int shown = n > 64 ? 64 : (int)n;
    bool fits = cid_decode(ref, n, id, sizeof(id));

    for (size_t i = 0; fits && i < n_att; i++) {
        if (a[i].content_id == NULL || strcmp(a[i].content_id, id) != 0)
            continue;
        if (a[i].is_inline)
            return GW_OK;
        return gw_error_set(err, GW_EINVAL,
                            "references cid:%.*s but attachments[%zu] is not "
                            "inline",
                            shown, ref, i);
    }
    return gw_error_set(err, GW_EINVAL,
                        "references cid:%.*s but no attachment has that "
                        "content_id",
                        shown, ref);
}

enum gw_err mime_check_cid_refs(const char *html,
                                const struct mime_attachment *a, size_t n,
                                struct gw_error *err)
{
    const char *p = html;

    while (p != NULL && (p = strcasestr(p, "cid:")) != NULL) {
        const char *ref = p + 4;
        size_t len = 0;
        enum gw_err rc;

        /* "acid:x" or "x-cid:" in prose is not a reference. */
        if (p > html && (isalnum((unsigned char)p[-1]) || p[-1] == '-')) {
            p = ref;
            continue;
        }
        /* "'" is atext, but in HTML it closes an attribute; a Content-ID
         * that holds one is referenced as "%27". */
        while (is_cid_char((unsigned char)ref[len]) && ref[len] != '\'')
            len++;
        if (len > 0) {
            rc = resolve_cid(ref, len, a, n, err);
            if (rc != GW_OK)
                return rc;
        }
        p = ref + len;
    }
    return GW_OK;
}

/* Checks one attachment; the detail names the field at fault. */
static enum gw_err check_attachment(struct compose *c, size_t i)
{
    const struct mime_attachment *a = &c->msg->attachments[i];
    char label[64];
    enum gw_err rc;

    snprintf(label, sizeof(label), "attachments[%zu].filename", i);
    rc = mime_check_filename(a->filename, c->err);
    if (rc == GW_OK && a->content_type != NULL) {
        snprintf(label, sizeof(label), "attachments[%zu].content_type", i);
        rc = mime_check_content_type(a->content_type, c->err);
    }
    if (rc == GW_OK && a->content_id != NULL) {
        snprintf(label, sizeof(label), "attachments[%zu].content_id", i);
        rc = mime_check_content_id(a->content_id, c->err);
    }
    for (size_t j = 0; rc == GW_OK && a->content_id != NULL && j < i; j++) {
        const char *other = c->msg->attachments[j].content_id;

        if (other != NULL && strcmp(other, a->content_id) == 0)
            rc = gw_error_set(c->err, GW_EINVAL,
                              "is also the content_id of attachments[%zu]", j);
    }
    if (rc == GW_OK && a->data == NULL && a->len > 0) {
        snprintf(label, sizeof(label), "attachments[%zu].content", i);
        rc = invalid(c->err, "is missing");
    }
    return blame(c, rc, label);
}

enum gw_err mime_check_message(struct compose *c)
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
    for (size_t i = 0; i < m->n_attachments; i++) {
        enum gw_err rc = check_attachment(c, i);

        if (rc != GW_OK)
            return rc;
    }
    if (m->html != NULL &&
        mime_check_cid_refs(m->html, m->attachments, m->n_attachments,
                            c->err) != GW_OK)
        return blame(c, GW_EINVAL, "html");
    return GW_OK;
}
