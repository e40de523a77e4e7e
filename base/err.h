/*
 * The one error enum of the gateway, shared by every module.
 *
 * A function that can fail returns an enum gw_err; GW_OK is 0, so
 * `if (rc != GW_OK)` and `if (rc)` read the same. The code says what kind
 * of failure it was; the detail a person needs (the server's reply line,
 * the JSON path of a bad field, the errno text) travels beside it in a
 * struct gw_error, verbatim.
 */
#ifndef GW_ERR_H
#define GW_ERR_H

#include <stddef.h>

enum gw_err {
    GW_OK = 0,
    GW_ENOMEM,    /* an allocation failed */
    GW_EINVAL,    /* the input or a setting is not valid */
    GW_ELIMIT,    /* a size limit would be exceeded */
    GW_ENOTFOUND, /* the named thing does not exist */
    GW_EBUSY,     /* no capacity now; try again later */
    GW_ECONNECT,  /* no connection to the upstream could be made */
    GW_ETIMEDOUT, /* the upstream did not answer in time */
    GW_EIO,       /* the connection failed or was closed */
    GW_EPROTO,    /* the upstream broke the SMTP protocol */
    GW_EREJECTED, /* the upstream refused a command with 4xx or 5xx */
    GW_EUNSUPP,   /* the upstream lacks an extension the message needs */
    GW_ETLS,      /* the TLS layer failed */
    GW_EAUTH,     /* authentication failed */
    GW_ECONFLICT, /* the state forbids it now (a read-only store, say) */
};

/* The size of gw_error.detail, with its terminating NUL. */
#define GW_ERROR_DETAIL_MAX 512

/*
 * An error code with its human detail. Zero-initialise it; a function that
 * fails fills both fields. The detail is a complete sentence fragment such
 * as "to[1]: the address has a space" or "550 5.1.1 no such user".
 */
struct gw_error {
    enum gw_err code;
    char detail[GW_ERROR_DETAIL_MAX];
};

/* Returns a static, lower-case description of `code`; never NULL. */
const char *gw_strerror(enum gw_err code);

/*
 * Records `code` and a printf-style detail in `err` (which may be NULL)
 * and returns `code`, so that a failure reads as one statement:
 *     return gw_error_set(err, GW_EINVAL, "to[%zu]: empty address", i);
 * A detail longer than the buffer is cut at a character boundary and ends
 * in "...".
 */
enum gw_err gw_error_set(struct gw_error *err, enum gw_err code,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefixes the detail already in `err` with `prefix` and ": ", as in
 * "to[1]: " before the address parser's own words. Returns err->code.
 */
enum gw_err gw_error_prefix(struct gw_error *err, const char *prefix);

#endif
