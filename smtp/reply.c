/* SMTP reply and EHLO capability parsing; see reply.h. */
#include "reply.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* A reply's text is bounded by its lines; this bounds both buffers. */
#define REPLY_TEXT_MAX (SMTP_REPLY_LINES_MAX * (SMTP_REPLY_LINE_MAX + 1))

void smtp_reply_init(struct smtp_reply *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->text, REPLY_TEXT_MAX);
    buf_init(&r->line, REPLY_TEXT_MAX);
}

void smtp_reply_free(struct smtp_reply *r)
{
    buf_free(&r->text);
    buf_free(&r->line);
}

void smtp_reply_reset(struct smtp_reply *r)
{
    r->code = 0;
    r->status[0] = '\0';
    r->n_lines = 0;
    r->done = false;
    buf_reset(&r->text);
    buf_reset(&r->line);
}

static enum gw_err bad_line(struct gw_error *err, const char *why,
                            const char *line, size_t len)
{
    char shown[LOG_QUOTE_MAX], copy[128];
    size_t n = len < sizeof(copy) - 1 ? len : sizeof(copy) - 1;

    memcpy(copy, line, n);
    copy[n] = '\0';
    return gw_error_set(err, GW_EPROTO,
                        "malformed reply from the server (%s): %s", why,
                        log_quote(shown, sizeof(shown), copy));
}

/*
 * Reads an enhanced status code ("5.1.1 ") at the start of `text` when
 * its class matches the reply code's first digit (RFC 3463).
 */
static void parse_status(struct smtp_reply *r, const char *text, size_t len)
{
    size_t i = 0, dots = 0;

    if (len < 5 || text[0] != (char)('0' + r->code / 100))
        return;
    for (i = 1; i < len && i < sizeof(r->status) - 1; i++) {
        if (text[i] == '.' && isdigit((unsigned char)text[i - 1]))
            dots++;
        else if (!isdigit((unsigned char)text[i]))
            break;
    }
    if (text[1] != '.' || dots != 2 || text[i - 1] == '.' ||
        (i < len && text[i] != ' '))
        return;
    memcpy(r->status, text, i);
    r->status[i] = '\0';
}

enum gw_err smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
                            struct gw_error *err)
{
    int code;

    if (r->done)
        smtp_reply_reset(r);
    if (len > SMTP_REPLY_LINE_MAX)
        return bad_line(err, "line too long", line, len);
    if (len < 3 || !isdigit((unsigned char)line[0]) ||
        !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
        return bad_line(err, "no reply code", line, len);
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599)
        return bad_line(err, "reply code out of range", line, len);
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return bad_line(err, "bad separator", line, len);
    if (r->n_lines > 0 && code != r->code)
        return bad_line(err, "code differs from the first line", line, len);
    if (r->n_lines == SMTP_REPLY_LINES_MAX)
        return bad_line(err, "too many lines", line, len);
    if (r->n_lines == 0) {
        r->code = code;
        if (len > 4)
            parse_status(r, line + 4, len - 4);
    }
    if ((r->n_lines > 0 && (buf_putc(&r->text, '\n') != GW_OK ||
                            buf_putc(&r->line, ' ') != GW_OK)) ||
        (len > 4 && buf_append(&r->text, line + 4, len - 4) != GW_OK) ||
        buf_append(&r->line, line, len) != GW_OK)
        return gw_error_set(err, GW_ENOMEM, "out of memory for a reply");
    r->n_lines++;
    r->done = len == 3 || line[3] == ' ';
    return GW_OK;
}

/* Case-insensitive match of `word` as the whole keyword at `p`. */
static bool keyword(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static void add_auth(struct smtp_caps *caps, const char *p, size_t n)
{
    size_t have = strlen(caps->auth);

    if (n == 0 || have + n + 2 > sizeof(caps->auth))
        return;
    if (have > 0)
        caps->auth[have++] = ' ';
    for (size_t i = 0; i < n; i++)
        caps->auth[have + i] = (char)toupper((unsigned char)p[i]);
    caps->auth[have + n] = '\0';
}

/* Applies one EHLO keyword line "KEYWORD param param". */
static void parse_keyword(struct smtp_caps *caps, const char *p, size_t n)
{
    size_t k = 0;
    const char *params;

    while (k < n && p[k] != ' ' && p[k] != '=')
        k++;
    params = p + k + (k < n);
    n -= k + (k < n);
    if (keyword(p, k, "SIZE")) {
        caps->size_offered = true;
        caps->size = n > 0 ? strtoul(params, NULL, 10) : 0;
    } else if (keyword(p, k, "PIPELINING")) {
        caps->pipelining = true;
    } else if (keyword(p, k, "8BITMIME")) {
        caps->eightbitmime = true;
    } else if (keyword(p, k, "SMTPUTF8")) {
        caps->smtputf8 = true;
    } else if (keyword(p, k, "ENHANCEDSTATUSCODES")) {
        caps->enhancedstatuscodes = true;
    } else if (keyword(p, k, "DSN")) {
        caps->dsn = true;
    } else if (keyword(p, k, "STARTTLS")) {
        caps->starttls = true;
    } else if (keyword(p, k, "AUTH")) {
        while (n > 0) {
            size_t w = 0;

            while (w < n && params[w] != ' ')
                w++;
            add_auth(caps, params, w);
            w += w < n;
            params += w;
            n -= w;
        }
    }
}

void smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *caps)
{
    const char *p = buf_cstr(&r->text);
    bool first = true;

    memset(caps, 0, sizeof(*caps));
    caps->esmtp = r->code == 250;
    if (!caps->esmtp)
        return;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);

        if (!first)
            parse_keyword(caps, p, n);
        first = false;
        p += n + (eol != NULL);
    }
}
