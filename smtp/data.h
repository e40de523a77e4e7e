/*
 * The DATA stream (RFC 5321 4.5.2 and 2.3.8): the message as it goes on
 * the wire, with every line end made CRLF (a bare CR or LF never reaches
 * the server), a '.' doubled at the start of a line, and the final
 * "CRLF.CRLF" added. Streaming, so a message of any size passes through a
 * bounded buffer.
 */
#ifndef GW_DATA_H
#define GW_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* The longest line of a message, without CRLF (RFC 5322 2.1.1). */
#define SMTP_LINE_MAX 998

/*
 * Where the lines of a message end, for everything that reads one (the
 * DATA encoder, the check before a send, the raw message filter): at CR
 * LF, at a CR alone and at a LF alone. Only CR LF may reach the server;
 * taking a bare one as anything but a line end would let a reader see one
 * line where the server sees two. Read a byte at a time, so that a CR LF
 * split between two chunks is still one line end.
 */
enum smtp_eol {
    SMTP_EOL_NONE, /* a byte of the line */
    SMTP_EOL_END,  /* a CR or a LF that ends the line */
    SMTP_EOL_REST, /* the LF of a CR LF, whose CR has ended the line */
};

/*
 * What the byte `c` is to the lines of the message. `after_cr` carries the
 * byte before it from one call to the next: false at the start.
 */
static inline enum smtp_eol smtp_eol_next(bool *after_cr, char c)
{
    bool was_cr = *after_cr;

    *after_cr = c == '\r';
    if (was_cr && c == '\n')
        return SMTP_EOL_REST;
    return c == '\r' || c == '\n' ? SMTP_EOL_END : SMTP_EOL_NONE;
}

/* The state between chunks of one message. Zero it before the first. */
struct smtp_data {
    bool mid_line;   /* the last byte written did not end a line */
    bool after_cr;   /* the last input byte was a CR (smtp_eol_next()) */
    size_t line_len; /* bytes of the current line so far */
    bool saw_8bit;   /* a byte over 127 has passed */
};

/*
 * Checks a whole message before anything is sent: no NUL byte and no line
 * over SMTP_LINE_MAX bytes (lines as smtp_eol_next() ends them). GW_ELIMIT or
 * GW_EINVAL with a detail naming the line number.
 */
enum gw_err smtp_data_check(const char *msg, size_t len, struct gw_error *err);

/*
 * Appends `n` bytes of the message to `out`, transformed for the wire.
 * GW_ELIMIT when `out` is full: the caller sends what `out` holds first,
 * so chunks should be at most a third of the buffer's limit (a line of
 * bare LFs doubles, a '.' line grows by one). GW_EINVAL for a NUL byte or
 * a line over SMTP_LINE_MAX, which a streamed message can only reveal on
 * the way: the caller must then abandon the message before its final
 * dot.
 */
enum gw_err smtp_data_encode(struct smtp_data *st, const char *in, size_t n,
                             struct buf *out);

/* Appends the end of the message: CRLF if a line is open, then ".CRLF". */
enum gw_err smtp_data_finish(struct smtp_data *st, struct buf *out);

#endif
