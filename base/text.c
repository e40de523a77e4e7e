/* Text: UTF-8 checks and replacement of ill-formed text, base64, and
   lists of words; see base.h. */
#include "base.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/*
 * The length of the well-formed sequence that the byte `c` leads, with
 * the range its second byte must be in (the Unicode Standard, table 3-7:
 * the narrower ranges after E0, ED, F0 and F4 exclude overlong forms,
 * surrogates and code points past U+10FFFF). 0 for a byte that leads
 * none: a continuation byte, C0, C1, F5 to FF.
 */
static size_t lead_len(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0;
        else if (c == 0xED)
            *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90;
        else if (c == 0xF4)
            *hi = 0x8F;
        return 4;
    }
    return 0;
}

/*
 * The bytes at `u` (`n` of them, at least 1) that make one unit: a
 * well-formed sequence (then `*valid`), or else the maximal subpart of an
 * ill-formed one, the longest start of a sequence that could still have
 * been well-formed, and at least one byte. Each such subpart is one
 * U+FFFD, as the WHATWG decoder has it.
 */
static size_t unit_len(const unsigned char *u, size_t n, bool *valid)
{
    unsigned char lo, hi;
    size_t len = lead_len(u[0], &lo, &hi), i = 1;

    if (len == 0) {
        *valid = false;
        return 1;
    }
    for (; i < len && i < n; i++) {
        if (u[i] < lo || u[i] > hi)
            break;
        lo = 0x80;
        hi = 0xBF;
    }
    *valid = i == len;
    return i;
}

size_t gw_utf8_len(const char *s, size_t n)
{
    bool valid;
    size_t k;

    if (n == 0)
        return 0;
    k = unit_len((const unsigned char *)s, n, &valid);
    return valid ? k : 0;
}

bool gw_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    bool valid = true;

    while (i < n && valid)
        i += unit_len(u + i, n - i, &valid);
    return valid;
}

size_t gw_utf8_cut(const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    if (n <= max)
        return n;
    for (;;) {
        bool valid;
        size_t k = unit_len(u + i, n - i, &valid);

        /* An ill-formed byte may be cut after, whatever follows it. */
        k = valid ? k : 1;
        if (i + k > max)
            return i;
        i += k;
    }
}

size_t gw_utf8_sanitize(char *out, size_t size, const char *s, size_t n,
                        bool *cut)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < n) {
        bool valid;
        size_t k = unit_len(u + i, n - i, &valid);
        size_t w = valid ? k : UTF8_REPLACEMENT_LEN;

        if (o + w > size - 1)
            break;
        memcpy(out + o, valid ? s + i : UTF8_REPLACEMENT, w);
        o += w;
        i += k;
    }
    out[o] = '\0';
    if (cut != NULL)
        *cut = i < n;
    return o;
}

size_t gw_utf8_sanitized_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < n) {
        bool valid;
        size_t k = unit_len(u + i, n - i, &valid);

        o += valid ? k : UTF8_REPLACEMENT_LEN;
        i += k;
    }
    return o;
}

/* base64, RFC 4648 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
enum gw_err gw_base64(struct buf *out, const void *p, size_t n)
{
    const unsigned char *u = p;
    enum gw_err rc = GW_OK;

    for (size_t i = 0; i < n && rc == GW_OK; i += 3) {
        uint32_t v = (uint32_t)u[i] << 16;
        char q[4];

        if (i + 1 < n)
            v |= (uint32_t)u[i + 1] << 8;
        if (i + 2 < n)
            v |= u[i + 2];
        q[0] = b64_alphabet[v >> 18 & 0x3F];
        q[1] = b64_alphabet[v >> 12 & 0x3F];
        q[2] = i + 1 < n ? b64_alphabet[v >> 6 & 0x3F] : '=';
        q[3] = i + 2 < n ? b64_alphabet[v & 0x3F] : '=';
        rc = buf_append(out, q, sizeof(q));
    }
    return rc;
}

/* The value of a base64 character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool b64_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Checks that from `i` on, `s` holds only the padding that `quad` (the
 * characters of the last group so far) allows, and whitespace.
 */
static bool b64_tail_ok(const char *s, size_t n, size_t i, size_t quad,
                        size_t *bad_at)
{
    size_t pads = 0;

    for (; i < n; i++) {
        if (b64_space(s[i]))
            continue;
        /* "xx==" or "xxx=": padding completes a group of 2 or 3. */
        if (s[i] != '=' || quad < 2 || quad + pads >= 4) {
            *bad_at = i;
            return false;
        }
        pads++;
    }
    return true;
}

enum gw_err gw_base64_decode(struct buf *out, const char *s, size_t n,
                             size_t *bad_at)
{
    size_t quad = 0, i, last = 0, dummy;
    uint32_t acc = 0;
    enum gw_err rc = GW_OK;

    if (bad_at == NULL)
        bad_at = &dummy;
    for (i = 0; i < n && rc == GW_OK && s[i] != '='; i++) {
        int v = b64_value((unsigned char)s[i]);

        if (b64_space(s[i]))
            continue;
        if (v < 0) {
            *bad_at = i;
            return GW_EINVAL;
        }
        last = i;
        acc = acc << 6 | (uint32_t)v;
        if (++quad == 4) {
            char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};

            rc = buf_append(out, b, 3);
            quad = 0;
            acc = 0;
        }
    }
    if (rc != GW_OK)
        return rc;
    /* One character alone cannot make a byte. */
    if (quad == 1) {
        *bad_at = last;
        return GW_EINVAL;
    }
    if (!b64_tail_ok(s, n, i, quad, bad_at))
        return GW_EINVAL;
    if (quad == 2)
        rc = buf_putc(out, (char)(acc >> 4));
    if (quad == 3) {
        char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};

        rc = buf_append(out, b, 2);
    }
    return rc;
}

/* True when the `len` bytes at `word` are one of the `n` names. */
static bool is_one_of(const char *word, size_t len, const char *const *names,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], word, len) == 0)
            return true;
    }
    return false;
}

enum gw_err gw_words_check(const char *list, const char *const *names, size_t n,
                           const char *what, struct gw_error *err)
{
    struct buf choices;
    enum gw_err rc;

    if (*list == '\0')
        return gw_error_set(err, GW_EINVAL, "the list is empty");
    for (const char *p = list; *p != '\0';) {
        size_t k = strcspn(p, ",");

        if (!is_one_of(p, k, names, n)) {
            buf_init(&choices, 256);
            for (size_t i = 0; i < n; i++)
                buf_printf(&choices, "%s%s",
                           i == 0      ? ""
                           : i + 1 < n ? ", "
                                       : " or ",
                           names[i]);
            rc = gw_error_set(err, GW_EINVAL, "unknown %s \"%.*s\"; use %s",
                              what, (int)(k > 40 ? 40 : k), p,
                              buf_cstr(&choices));
            buf_free(&choices);
            return rc;
        }
        p += k + (p[k] == ',');
    }
    return GW_OK;
}
