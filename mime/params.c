/*
 * The header fields with parameters, Content-Type and Content-Disposition:
 * the line builder that folds them between units, and the file name of an
 * attachment in each, as a quoted-string, in the RFC 2231 form or as RFC
 * 2047 encoded-words, whichever its readers read.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>

/*
 * The longest parameter unit: a folded line holds the space before it and
 * the ";" after it within 78 characters.
 */
#define PARAM_UNIT_MAX (FOLD_AT - 2)

void mime_hl_begin(struct hline *h, struct compose *c, const char *name)
{
    h->c = c;
    h->col = strlen(name) + 1;
    h->first = true;
    h->rc = buf_printf(c->out, "%s:", name);
}

void mime_hl_unit(struct hline *h, bool param, const char *unit)
{
    struct buf *out = h->c->out;
    size_t len = strlen(unit);

    if (h->rc == GW_OK && param) {
        h->rc = buf_putc(out, ';');
        h->col++;
    }
    /* One more column for the ";" that a parameter after it would add. */
    if (h->rc == GW_OK && !h->first && h->col + 1 + len + 1 > FOLD_AT) {
        h->rc = buf_append(out, "\r\n", 2);
        h->col = 0;
    }
    if (h->rc == GW_OK)
        h->rc = buf_putc(out, ' ');
    if (h->rc == GW_OK)
        h->rc = buf_append(out, unit, len);
    h->col += 1 + len;
    h->first = false;
}

void mime_hl_printf(struct hline *h, bool param, const char *fmt, ...)
{
    struct buf unit;
    va_list ap;

    if (h->rc != GW_OK)
        return;
    buf_init(&unit, LINE_MAX_HDR - 2);
    va_start(ap, fmt);
    h->rc = buf_vprintf(&unit, fmt, ap);
    va_end(ap);
    if (h->rc == GW_OK)
        mime_hl_unit(h, param, buf_cstr(&unit));
    buf_free(&unit);
}

enum gw_err mime_hl_end(struct hline *h)
{
    if (h->rc == GW_OK)
        h->rc = buf_append(h->c->out, "\r\n", 2);
    return h->rc;
}

/*
 * True when a file name can go as the quoted-string `key="..."` that
 * every reader gives back as it is: printable ASCII without a blank at
 * either end, nothing a reader could take for an encoded-word (readers
 * decode those even inside quoted-strings), and short enough, with a
 * backslash before each '"' and '\', for the parameter to fit one line.
 */
static bool quotable_name(const char *key, const char *s)
{
    size_t n = strlen(s), len = strlen(key) + 3 + n;

    if (!mime_is_plain(s, n) || mime_looks_encoded(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        len += s[i] == '"' || s[i] == '\\';
    return len <= PARAM_UNIT_MAX;
}

/* Appends `key="..."`, the quoted-string of a name quotable_name() took. */
static void put_quoted_param(struct hline *h, const char *key, const char *name)
{
    struct buf tmp;

    buf_init(&tmp, LINE_MAX_HDR);
    if (h->rc == GW_OK)
        h->rc = mime_put_quoted(&tmp, name, strlen(name));
    mime_hl_printf(h, true, "%s=%s", key, buf_cstr(&tmp));
    buf_free(&tmp);
}

/*
 * Appends `key*N*=` parameters (RFC 2231 3 and 4) that together hold the
 * name, percent-encoded, each on a line of its own where it fits; the
 * first says the charset, and no character is split between two.
 */
static void put_continuations(struct hline *h, const char *key,
                              const char *name)
{
    size_t n = strlen(name), pos = 0, len;
    struct buf chunk;

    buf_init(&chunk, LINE_MAX_HDR);
    for (unsigned part = 0; pos < n && h->rc == GW_OK; part++) {
        size_t room = PARAM_UNIT_MAX - strlen(key) - 6 - (part ? 0 : 7);
        size_t used = 0, start = pos;

        for (; pos < n; pos += len) {
            size_t cost = 0;

            len = gw_utf8_len(name + pos, n - pos);
            len = len == 0 ? 1 : len;
            for (size_t k = 0; k < len; k++)
                cost += mime_enc_pct_len((unsigned char)name[pos + k]);
            if (used + cost > room && pos > start)
                break;
            used += cost;
        }
        buf_reset(&chunk);
        h->rc = mime_enc_pct(&chunk, name + start, pos - start);
        mime_hl_printf(h, true, "%s*%u*=%s%s", key, part, part ? "" : "utf-8''",
                       buf_cstr(&chunk));
    }
    buf_free(&chunk);
}

/*
 * Appends the filename parameter of Content-Disposition: a quoted-string
 * when quotable_name() takes it, otherwise only the RFC 2231 form
 * (`filename*=utf-8''...`, or `filename*0*=`, `filename*1*=`, ... when it
 * does not fit one line). No ASCII stand-in goes before it: readers that
 * find both take the first (Python's email) or join the two (ripmime),
 * while every reader that knows RFC 2231 reads it alone.
 */
void mime_put_filename_param(struct hline *h, const char *name)
{
    struct buf tmp;

    if (quotable_name("filename", name)) {
        put_quoted_param(h, "filename", name);
        return;
    }
    buf_init(&tmp, LINE_MAX_HDR);
    if (h->rc == GW_OK)
        h->rc = mime_enc_pct(&tmp, name, strlen(name));
    if (h->rc == GW_OK &&
        sizeof("filename*=utf-8''") - 1 + tmp.len <= PARAM_UNIT_MAX)
        mime_hl_printf(h, true, "filename*=utf-8''%s", buf_cstr(&tmp));
    else
        put_continuations(h, "filename", name);
    buf_free(&tmp);
}

/*
 * Appends the name parameter of Content-Type: a quoted-string when
 * quotable_name() takes it, otherwise RFC 2047 encoded-words inside the
 * quotes, folded between words. That is against RFC 2047 5, but it is
 * what the readers that look at name rather than filename read: Outlook
 * and older clients know no RFC 2231, and Thunderbird, Gmail and
 * Nodemailer write name this way; readers that know RFC 2231 take the
 * filename of Content-Disposition before it.
 */
void mime_put_type_name_param(struct hline *h, const char *name)
{
    size_t n = strlen(name), pos = 0;
    struct buf words;
    const char *w;

    if (quotable_name("name", name)) {
        put_quoted_param(h, "name", name);
        return;
    }
    buf_init(&words, LINE_MAX_HDR);
    /* The first word follows `name="` and may be the last, with the
     * closing quote after it; a later one is at most MIME_ENC_WORD_MAX long,
     * which with that quote is PARAM_UNIT_MAX. */
    if (h->rc == GW_OK)
        h->rc = mime_enc_words(&words, name, n, PARAM_UNIT_MAX - 7);
    w = buf_cstr(&words);
    while (h->rc == GW_OK && pos < words.len) {
        size_t len = strcspn(w + pos, " ");
        bool first = pos == 0, last = pos + len == words.len;

        mime_hl_printf(h, first, "%s%.*s%s", first ? "name=\"" : "", (int)len,
                       w + pos, last ? "\"" : "");
        pos += len + 1;
    }
    buf_free(&words);
}
