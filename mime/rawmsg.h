/*
 * A raw RFC 5322 message relayed as given, read in pieces: the header
 * section is checked line by line and a Bcc field (with its continuation
 * lines) is dropped unless it is to be shown; the body passes untouched.
 * Lines end where the DATA encoder ends them (smtp_eol_next() in data.h),
 * so a bare CR cannot hide a field from the check; the header lines that
 * pass are written with CRLF, as the encoder would write them, so that a
 * dropped line cannot join the line ends around it into one. Dot-stuffing
 * is the encoder's.
 */
#ifndef GW_RAWMSG_H
#define GW_RAWMSG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

struct raw_filter {
    bool show_bcc;        /* keep Bcc fields */
    bool in_body;         /* the empty line after the header has passed */
    bool dropping;        /* inside a Bcc field being dropped */
    bool after_cr;        /* the last header byte was a CR */
    bool header_utf8;     /* a header line passed on has UTF-8 */
    size_t line_no;       /* header lines seen, for error details */
    char message_id[256]; /* the Message-ID field's value, "" if none */
    struct buf line;      /* a header line not yet ended, without its end */
};

/* Prepares `f`; pair with raw_filter_free(). */
void raw_filter_init(struct raw_filter *f, bool show_bcc);
void raw_filter_free(struct raw_filter *f);

/*
 * Appends to `out` what of the `n` bytes goes on: whole header lines but
 * dropped ones, each with CRLF, and every body byte. GW_EINVAL, with a detail,
 * for a header line that is not a field ("Name: value") or a continuation, and
 * for one over 998 bytes; the message must then not be delivered.
 */
enum gw_err raw_filter_feed(struct raw_filter *f, const char *p, size_t n,
                            struct buf *out, struct gw_error *err);

/*
 * Ends the message: a last header line without its line end is checked
 * and passed on. GW_EINVAL when the message had no header field at all.
 */
enum gw_err raw_filter_finish(struct raw_filter *f, struct buf *out,
                              struct gw_error *err);

#endif
