/* What a token may put in a message besides the envelope; see scope.h. */
#include "scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"

/* The most of one From, Sender or Reply-To field of a raw message that
   is read, unfolded; a longer one is refused to a token with domains. */
#define SCAN_FIELD_MAX (16 * 1024)

static const char *domain_of(const char *mailbox)
{
    const char *at = strrchr(mailbox, '@');

    return at != NULL ? at + 1 : "";
}

/* The length of the at sign at `s`: '@', or the fullwidth (U+FF20) or
   small (U+FE6B) one that a reader takes for it; 0 for none. */
static size_t at_sign(const char *s)
{
    if (*s == '@')
        return 1;
    if (strncmp(s, "\xef\xbc\xa0", 3) == 0 ||
        strncmp(s, "\xef\xb9\xab", 3) == 0)
        return 3;
    return 0;
}

/* The length of the text at `s` that a reader could take for a domain,
   without the dots that end a sentence. */
static size_t domain_len(const char *s)
{
    size_t i = 0;

    while (s[i] != '\0' && strchr(" \t\"<>()[],;:\\'", s[i]) == NULL &&
           at_sign(s + i) == 0)
        i++;
    while (i > 0 && s[i - 1] == '.')
        i--;
    return i;
}

/*
 * True when the `n` bytes at `d`, taken for a domain, are one of the
 * caller's or `own`. The domain goes to `shown` in A-labels ("" when it
 * does not convert, which is refused: it cannot be compared).
 */
static bool domain_allowed(const struct store_token *caller, const char *d,
                           size_t n, const char *own, char *shown, size_t size)
{
    struct gw_error err = {0};
    char text[256], *ascii = NULL;
    bool ok;

    shown[0] = '\0';
    if (n >= sizeof(text))
        return false;
    memcpy(text, d, n);
    text[n] = '\0';
    if (mime_addr_domain_ascii(text, &ascii, &err) != GW_OK)
        return false;
    snprintf(shown, size, "%s", ascii);
    ok = store_list_allows(caller->from_domains, ascii, true) ||
         strcasecmp(ascii, own) == 0;
    free(ascii);
    return ok;
}

/*
 * Checks that the display name `name`, as a reader sees it, shows no
 * address but of the caller's domains or of `own`, the domain of the
 * mailbox it names. An address literal after an at sign is refused too.
 */
static bool name_in_scope(const struct store_token *caller, const char *name,
                          const char *own, const char *field,
                          struct gw_field_error *fe)
{
    size_t i = 0;

    while (name[i] != '\0') {
        size_t at = at_sign(name + i), k;
        char shown[256];

        if (at == 0) {
            i++;
            continue;
        }
        i += at;
        while (name[i] == ' ' || name[i] == '\t')
            i++;
        k = domain_len(name + i);
        if (name[i] == '[' ||
            (k > 0 &&
             !domain_allowed(caller, name + i, k, own, shown, sizeof(shown))))
            return gw_field_fail(
                fe, field,
                "the display name shows an address%s%s; the "
                "token \"%s\" may send only from the domains %s",
                name[i] != '[' && shown[0] ? " at " : "",
                name[i] != '[' ? shown : "", caller->name,
                caller->from_domains);
        i += k;
    }
    return true;
}

/* Checks one address: its display name, and its mailbox when it is an
   author's or a sender's (`mailbox_too`). */
static bool addr_in_scope(const struct store_token *caller, const char *mailbox,
                          const char *name, bool mailbox_too, const char *field,
                          struct gw_field_error *fe)
{
    const char *own = domain_of(mailbox);

    if (mailbox_too && !store_list_allows(caller->from_domains, own, true))
        return gw_field_fail(
            fe, field, "the token \"%s\" may send only from the domains %s",
            caller->name, caller->from_domains);
    return name == NULL || name_in_scope(caller, name, own, field, fe);
}

bool api_request_in_scope(const struct store_token *caller,
                          const struct api_request *req,
                          struct api_response *resp)
{
    struct gw_field_error fe = {{0}, {0}};
    bool listed = json_is_array(json_object_get(req->root, "reply_to"));
    bool ok;

    if (caller == NULL || caller->from_domains[0] == '\0')
        return true;
    ok = addr_in_scope(caller, req->from.mailbox, req->from.name, true, "from",
                       &fe) &&
         (req->sender.mailbox == NULL ||
          addr_in_scope(caller, req->sender.mailbox, req->sender.name, true,
                        "sender", &fe));
    for (size_t i = 0; ok && i < req->reply_to.n; i++) {
        const struct mime_addr *a = &req->reply_to.v[i];
        char path[32];

        snprintf(path, sizeof(path), listed ? "reply_to[%zu]" : "reply_to", i);
        ok = addr_in_scope(caller, a->mailbox, a->name, false, path, &fe);
    }
    if (!ok)
        api_error(resp, 403, fe.field, "%s: %s", fe.field, fe.text);
    return ok;
}

void api_header_scan_init(struct api_header_scan *s,
                          const struct store_token *caller)
{
    memset(s, 0, sizeof(*s));
    if (caller != NULL && caller->from_domains[0] != '\0')
        s->caller = caller;
    buf_init(&s->field, SCAN_FIELD_MAX);
    buf_init(&s->line, SCAN_FIELD_MAX);
}

void api_header_scan_free(struct api_header_scan *s)
{
    buf_free(&s->field);
    buf_free(&s->line);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the Q encoding of RFC 2047 4.2 into `out`. */
static enum gw_err decode_q(struct buf *out, const char *t, size_t n)
{
    enum gw_err rc = GW_OK;

    for (size_t i = 0; i < n && rc == GW_OK; i++) {
        if (t[i] == '_') {
            rc = buf_putc(out, ' ');
        } else if (t[i] == '=' && i + 2 < n && hex_value(t[i + 1]) >= 0 &&
                   hex_value(t[i + 2]) >= 0) {
            rc = buf_putc(
                out, (char)(hex_value(t[i + 1]) << 4 | hex_value(t[i + 2])));
            i += 2;
        } else {
            rc = buf_putc(out, t[i]);
        }
    }
    return rc;
}

/*
 * Appends `s` with every RFC 2047 encoded-word decoded to its bytes,
 * whatever its charset, as a reader would show them; a word that does not
 * decode stays as it is. A NUL byte becomes a space, so that it cannot
 * hide what follows it.
 */
static enum gw_err decode_words(struct buf *out, const char *s)
{
    enum gw_err rc = GW_OK;

    while (*s != '\0' && rc == GW_OK) {
        const char *q = s[0] == '=' && s[1] == '?' ? strchr(s + 2, '?') : NULL;
        const char *end = q != NULL && q[1] != '\0' && q[2] == '?'
                              ? strstr(q + 3, "?=")
                              : NULL;
        size_t mark = out->len, bad = 0;
        char enc = end != NULL ? (char)(q[1] | 0x20) : '\0';

        if (enc == 'b')
            rc = gw_base64_decode(out, q + 3, (size_t)(end - q - 3), &bad);
        else if (enc == 'q')
            rc = decode_q(out, q + 3, (size_t)(end - q - 3));
        if ((enc == 'b' || enc == 'q') && rc == GW_OK) {
            s = end + 2;
            continue;
        }
        if (rc == GW_EINVAL) {
            out->len = mark;
            out->data[mark] = '\0';
            rc = GW_OK;
        }
        if (rc == GW_OK)
            rc = buf_putc(out, *s++);
    }
    for (size_t i = 0; i < out->len; i++) {
        if (out->data[i] == '\0')
            out->data[i] = ' ';
    }
    return rc;
}

/* The end of the address at `s` in a list: the first comma outside a
   quoted string, a comment and angle brackets. */
static size_t item_len(const char *s)
{
    bool quoted = false;
    int depth = 0;
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == '\\' && s[i + 1] != '\0')
            i++;
        else if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && (s[i] == '(' || s[i] == '<'))
            depth++;
        else if (!quoted && (s[i] == ')' || s[i] == '>') && depth > 0)
            depth--;
        else if (!quoted && depth == 0 && s[i] == ',')
            break;
    }
    return i;
}

/* Checks one address of a raw field; `label` names the field. */
static bool raw_addr_in_scope(const struct store_token *caller, char *text,
                              bool mailbox_too, const char *label,
                              struct gw_field_error *fe)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};
    struct buf name;
    bool ok;

    while (*text == ' ' || *text == '\t')
        text++;
    for (size_t n = strlen(text); n > 0 && strchr(" \t", text[n - 1]); n--)
        text[n - 1] = '\0';
    if (mime_addr_parse(text, &a, &err) != GW_OK)
        return gw_field_fail(fe, label,
                             "must be addresses the gateway can check for the "
                             "token \"%s\", limited to the domains %s: %s",
                             caller->name, caller->from_domains, err.detail);
    buf_init(&name, SCAN_FIELD_MAX);
    if (a.name != NULL && decode_words(&name, a.name) != GW_OK) {
        ok = gw_field_fail(fe, label, "out of memory");
    } else {
        ok = addr_in_scope(caller, a.mailbox,
                           a.name != NULL ? buf_cstr(&name) : NULL, mailbox_too,
                           label, fe);
    }
    buf_free(&name);
    mime_addr_clear(&a);
    return ok;
}

/* Checks the From, Sender or Reply-To field read into s->field. */
static unsigned end_field(struct api_header_scan *s, struct gw_error *err)
{
    struct gw_field_error fe = {{0}, {0}};
    char *text = s->field.data, *p;
    bool reply, ok = true;
    const char *label;

    if (!s->keeping || text == NULL)
        return 0;
    s->keeping = false;
    reply = strncasecmp(text, "Reply-To", 8) == 0;
    label = reply                                 ? "the Reply-To field"
            : strncasecmp(text, "Sender", 6) == 0 ? "the Sender field"
                                                  : "the From field";
    /* The line was kept because its name is one of those: a colon
       follows it. */
    for (p = strchr(text, ':') + 1; ok;) {
        size_t k = item_len(p);
        char end = p[k];

        p[k] = '\0';
        ok = raw_addr_in_scope(s->caller, p, !reply, label, &fe);
        if (end == '\0')
            break;
        p += k + 1;
    }
    if (ok)
        return 0;
    gw_error_set(err, GW_EINVAL, "%s: %s", fe.field, fe.text);
    return 403;
}

/* Reads one header line (`n` bytes, without its line end). */
static unsigned scan_line(struct api_header_scan *s, const char *line, size_t n,
                          struct gw_error *err)
{
    size_t name = 0;
    unsigned status;
    bool colon;

    if (n > 0 && (line[0] == ' ' || line[0] == '\t')) {
        if (s->keeping && buf_append(&s->field, line, n) != GW_OK) {
            gw_error_set(err, GW_EINVAL,
                         "a From, Sender or Reply-To field is longer than "
                         "%d bytes",
                         SCAN_FIELD_MAX);
            return 403;
        }
        return 0;
    }
    status = end_field(s, err);
    if (status != 0 || n == 0) {
        s->done = n == 0;
        return status;
    }
    while (name < n && line[name] != ':')
        name++;
    colon = name < n;
    while (name > 0 && (line[name - 1] == ' ' || line[name - 1] == '\t'))
        name--;
    if (api_trace_field(line, name)) {
        gw_error_set(err, GW_EINVAL,
                     "the field %.*s: is a trace or authentication field, "
                     "written by the gateway or the receiving servers; a "
                     "message may not bring it",
                     (int)name, line);
        return 400;
    }
    s->keeping = s->caller != NULL && colon &&
                 ((name == 4 && strncasecmp(line, "From", 4) == 0) ||
                  (name == 6 && strncasecmp(line, "Sender", 6) == 0) ||
                  (name == 8 && strncasecmp(line, "Reply-To", 8) == 0));
    buf_reset(&s->field);
    if (s->keeping && buf_append(&s->field, line, n) != GW_OK) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return 500;
    }
    return 0;
}

/* Reads the line `p` (`n` bytes) ends, with what was held of its start. */
static unsigned line_end(struct api_header_scan *s, const char *p, size_t n,
                         struct gw_error *err)
{
    unsigned status;

    if (s->line.len == 0)
        return scan_line(s, p, n, err);
    if (buf_append(&s->line, p, n) != GW_OK) {
        gw_error_set(err, GW_EINVAL, "a header line is too long");
        return 400;
    }
    status = scan_line(s, s->line.data, s->line.len, err);
    buf_reset(&s->line);
    return status;
}

unsigned api_header_scan_feed(struct api_header_scan *s, const char *p,
                              size_t n, bool last, struct gw_error *err)
{
    size_t start = 0;

    /* Lines end where the DATA encoder ends them (gw_eol_next()). */
    for (size_t i = 0; i < n && !s->done; i++) {
        unsigned status;

        switch (gw_eol_next(&s->after_cr, p[i])) {
        case GW_EOL_NONE:
            continue;
        case GW_EOL_REST:
            start = i + 1;
            continue;
        case GW_EOL_END:
            break;
        }
        status = line_end(s, p + start, i - start, err);
        if (status != 0)
            return status;
        start = i + 1;
    }
    /* The rest of a line that has not ended yet. */
    if (!s->done && start < n && buf_append(&s->line, p + start, n - start)) {
        gw_error_set(err, GW_EINVAL, "a header line is too long");
        return 400;
    }
    if (!last || s->done)
        return 0;
    if (s->line.len > 0) {
        unsigned status = line_end(s, "", 0, err);

        if (status != 0 || s->done)
            return status;
    }
    return end_field(s, err);
}
