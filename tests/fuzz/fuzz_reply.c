/*
 * libFuzzer harness for the SMTP reply and EHLO parsers: any bytes, split
 * into lines at LF as the client reads them, must be parsed or refused
 * without a crash, a leak or undefined behaviour, and a finished reply
 * must keep the invariants the client relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct smtp_reply r;
    struct smtp_caps caps;

    smtp_reply_init(&r);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct gw_error err = {0};

        if (smtp_reply_feed(&r, p, len, &err) != GW_OK) {
            if (err.code != GW_EPROTO || err.detail[0] == '\0')
                abort();
            smtp_reply_reset(&r);
        } else if (r.done) {
            if (r.code < 200 || r.code > 599 || r.n_lines == 0)
                abort();
            smtp_caps_parse(&r, &caps);
            if (strlen(caps.auth) >= sizeof(caps.auth))
                abort();
        }
        p += len + (nl != NULL);
    }
    smtp_reply_free(&r);
    return 0;
}
