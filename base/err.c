/* The gateway's error codes and their details; see base.h. */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *gw_strerror(enum gw_err code)
{
    switch (code) {
    case GW_OK:
        return "success";
    case GW_ENOMEM:
        return "out of memory";
    case GW_EINVAL:
        return "invalid input";
    case GW_ELIMIT:
        return "size limit exceeded";
    case GW_ENOTFOUND:
        return "not found";
    case GW_EBUSY:
        return "no capacity available";
    case GW_ECONNECT:
        return "cannot connect to the SMTP server";
    case GW_ETIMEDOUT:
        return "the SMTP server timed out";
    case GW_EIO:
        return "connection to the SMTP server failed";
    case GW_EPROTO:
        return "SMTP protocol error";
    case GW_EREJECTED:
        return "the SMTP server refused the message";
    case GW_EUNSUPP:
        return "the SMTP server lacks a needed extension";
    case GW_ETLS:
        return "TLS failure";
    case GW_EAUTH:
        return "authentication failed";
    case GW_ECONFLICT:
        return "conflicts with the current state";
    case GW_ECANCELED:
        return "cancelled: whoever asked went away";
    }
    return "unknown error";
}

const char *gw_strerror_r(int errnum, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    /* glibc's strerror_r returns the text, in `buf` or a constant. */
    return strerror_r(errnum, buf, size);
#else
    /* The POSIX strerror_r (musl, the BSDs) fills `buf` or fails. */
    if (strerror_r(errnum, buf, size) != 0)
        snprintf(buf, size, "error %d", errnum);
    return buf;
#endif
}

/* Cuts a too-long detail at a UTF-8 boundary and marks the cut. */
static void mark_truncated(char *detail)
{
    size_t end = GW_ERROR_DETAIL_MAX - 4;

    while (end > 0 && ((unsigned char)detail[end] & 0xC0) == 0x80)
        end--;
    memcpy(detail + end, "...", 4);
}

enum gw_err gw_error_set(struct gw_error *err, enum gw_err code,
                         const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    n = vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    if (n < 0)
        err->detail[0] = '\0';
    else if ((size_t)n >= sizeof(err->detail))
        mark_truncated(err->detail);
    return code;
}

enum gw_err gw_error_prefix(struct gw_error *err, const char *prefix)
{
    char old[GW_ERROR_DETAIL_MAX];

    memcpy(old, err->detail, sizeof(old));
    return gw_error_set(err, err->code, "%s: %s", prefix, old);
}

bool gw_field_fail(struct gw_field_error *fe, const char *field,
                   const char *fmt, ...)
{
    va_list ap;

    snprintf(fe->field, sizeof(fe->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(fe->text, sizeof(fe->text), fmt, ap);
    va_end(ap);
    return false;
}
