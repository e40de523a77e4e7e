/*
 * libFuzzer harness for the whole composition path of the API: JSON
 * request bytes through api_request_parse() and api_request_compose(),
 * exactly as POST /v1/messages runs them. Whatever the request, a
 * message that composes is fit for DATA: CRLF line ends only, no line
 * over 998 bytes, a CRLF at the end, header lines that are fields or
 * their continuations, and no 8-bit byte but in the message's own header
 * when it needs SMTPUTF8 (the API asks for no 8bit bodies).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The longest line RFC 5322 2.1.1 allows, without its CRLF. */
#define LINE_MAX_WIRE 998

static void check_lines(const char *m, size_t n)
{
    size_t line = 0;

    if (n < 2 || m[n - 2] != '\r' || m[n - 1] != '\n')
        abort();
    for (size_t i = 0; i < n; i++) {
        if (m[i] == '\r') {
            if (i + 1 >= n || m[i + 1] != '\n')
                abort();
            i++;
            line = 0;
        } else if (m[i] == '\n') {
            abort();
        } else if (++line > LINE_MAX_WIRE) {
            abort();
        }
    }
}

/* True for a byte of a field name (RFC 5322 ftext). */
static int is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/*
 * Checks the header section at the start of `m`: every line a field
 * ("Name: ...") or a continuation, never a blank-only line. Returns the
 * offset of its end (after the empty line).
 */
static size_t check_header(const char *m, size_t n)
{
    size_t i = 0;

    while (i < n && !(m[i] == '\r' && i + 1 < n && m[i + 1] == '\n')) {
        const char *eol = memmem(m + i, n - i, "\r\n", 2);
        size_t len = eol != NULL ? (size_t)(eol - (m + i)) : 0, k = 0;

        if (eol == NULL)
            abort();
        if (m[i] == ' ' || m[i] == '\t') {
            while (k < len && (m[i + k] == ' ' || m[i + k] == '\t'))
                k++;
            if (k == len)
                abort();
        } else {
            while (k < len && is_ftext((unsigned char)m[i + k]))
                k++;
            if (k == 0 || k == len || m[i + k] != ':')
                abort();
        }
        i += len + 2;
    }
    return i + 2;
}

/* 8-bit bytes only in the message's header, and only with SMTPUTF8. */
static void check_8bit(const char *m, size_t n, size_t header_end,
                       const struct mime_result *res)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)m[i] < 0x80)
            continue;
        if (!res->needs_smtputf8 || i >= header_end)
            abort();
    }
    if (res->is_8bit)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_request req;
    struct api_request_error re;
    struct mime_result res;
    struct buf msg = {0};

    if (api_request_parse((const char *)data, size, &req, &re) != GW_OK) {
        /* A refusal says why, and names a field only in its text. */
        if (re.text[0] == '\0' || (re.status != 400 && re.status != 500))
            abort();
        if (re.field[0] != '\0' &&
            strncmp(re.text, re.field, strlen(re.field)) != 0)
            abort();
        goto out;
    }
    if (api_request_compose(&req, &msg, &res, &re) != GW_OK)
        goto out;
    check_lines(msg.data, msg.len);
    check_8bit(msg.data, msg.len, check_header(msg.data, msg.len), &res);
out:
    buf_free(&msg);
    api_request_free(&req);
    return 0;
}
