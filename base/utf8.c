/* UTF-8 checks and replacement of ill-formed text; see base.h. */
#include "base.h"

#include <string.h>

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

size_t utf8_len(const char *s, size_t n)
{
    bool valid;
    size_t k;

    if (n == 0)
        return 0;
    k = unit_len((const unsigned char *)s, n, &valid);
    return valid ? k : 0;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    bool valid = true;

    while (i < n && valid)
        i += unit_len(u + i, n - i, &valid);
    return valid;
}

size_t utf8_cut(const char *s, size_t n, size_t max)
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

size_t utf8_sanitize(char *out, size_t size, const char *s, size_t n, bool *cut)
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

size_t utf8_sanitized_len(const char *s, size_t n)
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
