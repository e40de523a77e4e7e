/*
 * The MIME composer: turns a message description into the RFC 5322 bytes
 * sent after DATA, with CRLF line ends, no line over 998 bytes, header
 * lines folded at 78 where possible, and non-ASCII header text as RFC 2047
 * encoded-words (unless the caller allows raw UTF-8 for SMTPUTF8).
 *
 * The composer owns Date, Message-ID, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Content-Disposition and Bcc; extra headers
 * may not set them.
 */
#ifndef GW_MIME_H
#define GW_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "err.h"

/* One extra header given by the sender. */
struct mime_header {
    const char *name;  /* a valid field name (RFC 5322 ftext), no colon */
    const char *value; /* unfolded text, UTF-8, no CR or LF */
};

/* A zone for the Date header. */
struct mime_tz {
    bool local;     /* use the machine's zone at the time of sending */
    int offset_min; /* otherwise minutes east of UTC, e.g. -300 for EST */
};

/* What to compose. Every pointer is borrowed for the call only. */
struct mime_message {
    const struct addr *from;   /* required */
    const struct addr *sender; /* NULL when none */
    const struct addr *reply_to;
    size_t n_reply_to;
    const struct addr *to;
    size_t n_to;
    const struct addr *cc;
    size_t n_cc;
    const struct addr *bcc; /* written only with show_bcc */
    size_t n_bcc;
    const char *subject; /* UTF-8; NULL or "" for none */
    const char *text;    /* text/plain body, UTF-8; NULL when none */
    const char *html;    /* text/html body, UTF-8; NULL when none */
    const struct mime_header *headers;
    size_t n_headers;
};

/* How to compose it. */
struct mime_options {
    struct mime_tz tz;             /* zone of the Date header */
    time_t date;                   /* the Date; 0 means now */
    bool show_bcc;                 /* write a Bcc header */
    bool allow_header_encoding;    /* non-ASCII header text as RFC 2047;
                                      when false it is written as raw UTF-8
                                      and the result needs SMTPUTF8 */
    const char *message_id_domain; /* right-hand side of Message-ID;
                                      NULL for the From domain */
};

/* What the composer tells the sender about the result. */
struct mime_result {
    char message_id[256]; /* the Message-ID, with its angle brackets */
    bool needs_smtputf8;  /* raw UTF-8 went into a header */
    bool is_8bit;         /* some body part is 8bit-encoded */
};

/*
 * Parses a zone: "UT", "UTC", "GMT", "Z", the RFC 822 US zones ("EST",
 * "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"), "+hhmm" / "-hhmm",
 * or "LOCAL" (any case). GW_EINVAL with a detail for anything else.
 */
enum gw_err mime_tz_parse(const char *text, struct mime_tz *out,
                          struct gw_error *err);

/*
 * Checks one extra header: a valid name that the composer does not own,
 * a value without CR or LF. The detail names the problem, not the field.
 */
enum gw_err mime_check_header(const struct mime_header *h,
                              struct gw_error *err);

/*
 * Checks unstructured header text such as a subject: valid UTF-8 without
 * CR or LF. The detail names the problem, not the field.
 */
enum gw_err mime_check_text(const char *text, struct gw_error *err);

/*
 * Appends the whole message to `out` (whose limit bounds its size) and
 * fills `res`. On failure `out` may hold part of a message, which the
 * caller must discard.
 */
enum gw_err mime_compose(const struct mime_message *msg,
                         const struct mime_options *opt, struct buf *out,
                         struct mime_result *res, struct gw_error *err);

#endif
