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

/* The state between chunks of one message. Zero it before the first. */
struct smtp_data {
    bool mid_line;   /* the last byte written did not end a line */
    bool after_cr;   /* the last input byte was a CR (gw_eol_next()) */
    size_t line_len; /* bytes of the current line so far */
    bool saw_8bit;   /* a byte over 127 has passed */
};

/*
 * Checks a whole message before anything is sent: no NUL byte and no line
 * over GW_LINE_MAX bytes (lines as gw_eol_next() ends them). GW_ELIMIT or
 * GW_EINVAL with a detail naming the line number.
 */
enum gw_err smtp_data_check(const char *msg, size_t len, struct gw_error *err);

/*
 * Appends `n` bytes of the message to `out`, transformed for the wire.
 * GW_ELIMIT when `out` is full: the caller sends what `out` holds first,
 * so chunks should be at most a third of the buffer's limit (a line of
 * bare LFs doubles, a '.' line grows by one). GW_EINVAL for a NUL byte or
 * a line over GW_LINE_MAX, which a streamed message can only reveal on
 * the way: the caller must then abandon the message before its final
 * dot.
 */
enum gw_err smtp_data_encode(struct smtp_data *st, const char *in, size_t n,
                             struct buf *out);

/* Appends the end of the message: CRLF if a line is open, then ".CRLF". */
enum gw_err smtp_data_finish(struct smtp_data *st, struct buf *out);

#endif
