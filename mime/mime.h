/*
 * The MIME composer: turns a message description into the RFC 5322 bytes
 * sent after DATA, with CRLF line ends, no line over 998 bytes, header
 * lines folded at 78 where possible, and non-ASCII header text as RFC 2047
 * encoded-words (unless the caller allows raw UTF-8 for SMTPUTF8).
 *
 * The body is a tree only as deep as its parts need: multipart/mixed
 * holds the body and the attachments, multipart/related the HTML and the
 * inline attachments it shows by Content-ID, multipart/alternative the
 * text and the HTML. A level without parts of its own is left out, so a
 * text alone stays a single text/plain part. Text bodies go as 7bit when
 * they can, as 8bit when the caller allows it, as quoted-printable
 * otherwise; attachments as base64 (a message/rfc822 as 7bit or 8bit).
 *
 * The composer owns Date, Message-ID, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, the address fields and
 * Subject; extra headers may not set them.
 */
#ifndef GW_MIME_H
#define GW_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "base/buf.h"
#include "base/err.h"

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

/* One attachment. Every pointer is borrowed for the call only. */
struct mime_attachment {
    const char *filename;     /* UTF-8; see mime_check_filename(). Written
                                 as a quoted-string when plain ASCII that
                                 fits a line; otherwise only in the RFC
                                 2231 form (filename*) and as RFC 2047
                                 encoded-words (name on Content-Type) */
    const char *content_type; /* "type/subtype" (mime_check_content_type);
                                 NULL to guess it from the filename */
    const void *data;         /* the content; NULL only when len is 0 */
    size_t len;               /* bytes of data */
    bool is_inline;           /* Content-Disposition inline rather than
                                 attachment */
    const char *content_id;   /* without angle brackets, for "cid:" in the
                                 HTML (mime_check_content_id); NULL for
                                 none */
};

/* What to compose. Every pointer is borrowed for the call only. */
struct mime_message {
    const struct addr *from;   /* required */
    const struct addr *sender; /* NULL when none; not written when it is
                                  the From mailbox (RFC 5322 3.6.2) */
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
    const struct mime_attachment *attachments; /* in this order; an inline
                                                  one with a content_id
                                                  goes with the HTML */
    size_t n_attachments;
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
    bool allow_8bit;               /* a text body that is not 7bit may go
                                      as 8bit (the server offers 8BITMIME);
                                      otherwise it goes quoted-printable */
};

/* What the composer tells the sender about the result. */
struct mime_result {
    char message_id[300]; /* the Message-ID, with its angle brackets;
                             room for any domain of 253 bytes */
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
 * Returns the media type for the extension of `filename` (any case):
 * a small table of common types, application/octet-stream for the rest.
 * The string is static.
 */
const char *mime_guess_type(const char *filename);

/*
 * Checks an attachment's file name: not empty, at most 255 bytes of valid
 * UTF-8 without control characters. The detail names the problem, not
 * the field ("is empty").
 */
enum gw_err mime_check_filename(const char *name, struct gw_error *err);

/*
 * Checks a media type given for an attachment: "type/subtype" without
 * parameters, not multipart (the composer makes those), nor
 * message/partial or message/external-body.
 */
enum gw_err mime_check_content_type(const char *type, struct gw_error *err);

/*
 * Checks a Content-ID given without its angle brackets: at most 200 of
 * the characters a msg-id may hold unquoted (atext, "." and "@").
 */
enum gw_err mime_check_content_id(const char *id, struct gw_error *err);

/*
 * Checks that every "cid:" reference in `html` (percent-decoded, RFC
 * 2392) names the content_id of one of the `n` attachments, and that
 * that one is inline. The detail names the reference, not the field.
 */
enum gw_err mime_check_cid_refs(const char *html,
                                const struct mime_attachment *a, size_t n,
                                struct gw_error *err);

/*
 * Appends the whole message to `out` (whose limit bounds its size) and
 * fills `res`. On failure `out` may hold part of a message, which the
 * caller must discard.
 */
enum gw_err mime_compose(const struct mime_message *msg,
                         const struct mime_options *opt, struct buf *out,
                         struct mime_result *res, struct gw_error *err);

#endif
