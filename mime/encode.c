/* base64, encoded-words and body encodings; see mime.h. */
#include "mime.h"

#include <stdint.h>
#include <string.h>

#include "base/base.h"

/* The longest soft-broken quoted-printable line, without its "=". */
#define QP_LINE_MAX 76

/* The longest line of a 7bit body, without its CRLF (RFC 5322 2.1.1). */
#define LINE_MAX_7BIT 998

/* Bytes of input per line of a base64 body: 57 make 76 characters. */
#define B64_LINE_BYTES 57

/* "=?UTF-8?B?" and "?=" around the base64 text of an encoded-word. */
#define WORD_PREFIX    "=?UTF-8?B?"
#define WORD_SUFFIX    "?="
#define WORD_OVERHEAD  12
#define WORD_FIRST_MIN 20

static const char hex_upper[] = "0123456789ABCDEF";

enum gw_err mime_enc_base64_lines(struct buf *out, const void *p, size_t n)
{
    const unsigned char *u = p;
    enum gw_err rc = GW_OK;

    for (size_t i = 0; i < n && rc == GW_OK; i += B64_LINE_BYTES) {
        size_t take = n - i < B64_LINE_BYTES ? n - i : B64_LINE_BYTES;

        if (i > 0)
            rc = buf_append(out, "\r\n", 2);
        if (rc == GW_OK)
            rc = gw_base64(out, u + i, take);
    }
    return rc;
}

/*
 * Returns how many bytes of whole characters, from the start of `s`, fit
 * in `room` bytes. Input that is not UTF-8 is taken a byte at a time, so
 * the caller still makes progress.
 */
static size_t whole_chars(const char *s, size_t n, size_t room)
{
    size_t take = 0;

    while (take < n) {
        size_t len = gw_utf8_len(s + take, n - take);

        if (len == 0)
            len = 1;
        if (take + len > room)
            break;
        take += len;
    }
    return take;
}

enum gw_err mime_enc_words(struct buf *out, const char *s, size_t n,
                           size_t first_max)
{
    size_t max = first_max, pos = 0;
    enum gw_err rc = GW_OK;

    if (max < WORD_FIRST_MIN)
        max = WORD_FIRST_MIN;
    while (pos < n && rc == GW_OK) {
        /* Base64 turns each 3 bytes into 4 characters. */
        size_t room, take;

        if (max > MIME_ENC_WORD_MAX)
            max = MIME_ENC_WORD_MAX;
        room = (max - WORD_OVERHEAD) / 4 * 3;
        take = whole_chars(s + pos, n - pos, room);
        if (pos > 0)
            rc = buf_putc(out, ' ');
        if (rc == GW_OK)
            rc = buf_puts(out, WORD_PREFIX);
        if (rc == GW_OK)
            rc = gw_base64(out, s + pos, take);
        if (rc == GW_OK)
            rc = buf_puts(out, WORD_SUFFIX);
        pos += take;
        max = MIME_ENC_WORD_MAX;
    }
    return rc;
}

bool mime_enc_is_7bit(const char *s, size_t n)
{
    size_t line = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == 0 || c >= 0x80)
            return false;
        if (c == '\n') {
            line = 0;
        } else if (c == '\r') {
            if (i + 1 == n || s[i + 1] != '\n')
                return false;
        } else if (++line > LINE_MAX_7BIT) {
            return false;
        }
    }
    return true;
}

/* Returns the length of the line end at s[i] (LF, CR or CRLF), or 0. */
static size_t line_end(const char *s, size_t n, size_t i)
{
    if (s[i] == '\n')
        return 1;
    if (s[i] != '\r')
        return 0;
    return i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
}

bool mime_enc_is_8bit(const char *s, size_t n)
{
    size_t line = 0, i = 0;

    while (i < n) {
        size_t eol = line_end(s, n, i);

        if (eol > 0) {
            line = 0;
            i += eol;
            continue;
        }
        if (s[i] == '\0' || ++line > LINE_MAX_7BIT)
            return false;
        i++;
    }
    return true;
}

enum gw_err mime_enc_crlf(struct buf *out, const char *s, size_t n)
{
    size_t start = 0, i = 0;
    enum gw_err rc = GW_OK;

    /* An empty content may come as NULL (mime.h), and even NULL + 0, as
       the copy of the last line below computes it, is undefined. */
    if (n == 0)
        return GW_OK;

    while (i < n && rc == GW_OK) {
        size_t eol = line_end(s, n, i);

        if (eol == 0) {
            i++;
            continue;
        }
        rc = buf_append(out, s + start, i - start);
        if (rc == GW_OK)
            rc = buf_append(out, "\r\n", 2);
        i += eol;
        start = i;
    }
    if (rc == GW_OK)
        rc = buf_append(out, s + start, n - start);
    return rc;
}

/* True when quoted-printable must write byte `c` as "=XX" anywhere. */
static bool qp_escaped(unsigned char c)
{
    return c == '=' || c >= 0x7F || (c < 0x20 && c != '\t');
}

/*
 * Appends the character s[i] of a quoted-printable line, with a soft
 * break first when it would not fit. The last character of a line may
 * use the 76th column, since no "=" needs to follow it.
 */
static enum gw_err qp_char(struct buf *out, const char *s, size_t n, size_t i,
                           size_t *col)
{
    unsigned char c = (unsigned char)s[i];
    bool last = i + 1 == n || line_end(s, n, i + 1) > 0;
    char tok[3] = {(char)c, 0, 0};
    size_t len = 1;
    enum gw_err rc = GW_OK;

    /* Whitespace before a line end would be lost in transport. */
    if (qp_escaped(c) || (last && (c == ' ' || c == '\t'))) {
        tok[0] = '=';
        tok[1] = hex_upper[c >> 4];
        tok[2] = hex_upper[c & 0x0F];
        len = 3;
    }
    if (*col + len > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
        rc = buf_append(out, "=\r\n", 3);
        *col = 0;
    }
    if (rc == GW_OK)
        rc = buf_append(out, tok, len);
    *col += len;
    return rc;
}

enum gw_err mime_enc_qp(struct buf *out, const char *s, size_t n)
{
    size_t i = 0, col = 0;
    enum gw_err rc = GW_OK;

    while (i < n && rc == GW_OK) {
        size_t eol = line_end(s, n, i);

        if (eol > 0) {
            rc = buf_append(out, "\r\n", 2);
            col = 0;
            i += eol;
        } else {
            rc = qp_char(out, s, n, i, &col);
            i++;
        }
    }
    return rc;
}

/* True for an RFC 2231 attribute-char: not a space, CTL, "*", "'", "%"
 * or an RFC 2045 tspecial. */
static bool attribute_char(unsigned char c)
{
    if (c <= ' ' || c >= 0x7F)
        return false;
    return strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

size_t mime_enc_pct_len(unsigned char c)
{
    return attribute_char(c) ? 1 : 3;
}

enum gw_err mime_enc_pct(struct buf *out, const char *s, size_t n)
{
    enum gw_err rc = GW_OK;

    for (size_t i = 0; i < n && rc == GW_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char tok[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0x0F]};

        if (attribute_char(c))
            rc = buf_putc(out, (char)c);
        else
            rc = buf_append(out, tok, sizeof(tok));
    }
    return rc;
}
