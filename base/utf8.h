/*
 * UTF-8 for text that came from outside: a server's reply, a header of a
 * raw message, a request's path or query. JSON must be valid UTF-8, and
 * such text need not be, so every text that goes into a reply is checked
 * here first and, when it is not valid, shown with a replacement.
 *
 * The replacement is U+FFFD for each maximal subpart of an ill-formed
 * sequence (the Unicode Standard, 3.9 "U+FFFD Substitution of Maximal
 * Subparts"), which is what the WHATWG decoder of browsers and node does.
 * A client that decodes the same bytes itself sees the same text, ASCII
 * and valid UTF-8 pass through unchanged, and a replaced byte is visible
 * as such instead of being dropped or passed on.
 */
#ifndef GW_UTF8_H
#define GW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8, and its length. */
#define UTF8_REPLACEMENT     "\xEF\xBF\xBD"
#define UTF8_REPLACEMENT_LEN 3

/*
 * Returns the length (1 to 4) of the well-formed UTF-8 sequence that
 * starts `s`, which has `n` bytes left, or 0 when there is none: a stray
 * continuation byte, a truncated or overlong sequence, a surrogate or a
 * code point past U+10FFFF (RFC 3629).
 */
size_t utf8_len(const char *s, size_t n);

/* True when the `n` bytes of `s` are well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/*
 * Returns the largest length at most `max` at which the `n` bytes of `s`
 * may be cut without splitting a well-formed sequence (`n` itself when
 * `n` <= `max`). Bytes that are not UTF-8 count as one character each.
 */
size_t utf8_cut(const char *s, size_t n, size_t max);

/*
 * Copies the `n` bytes of `s` into `out` (`size` bytes, at least 1) as
 * well-formed UTF-8 with a NUL after it: each maximal subpart of an
 * ill-formed sequence becomes U+FFFD. What does not fit is left out at a
 * character boundary. Returns the length written, without the NUL; sets
 * `*cut` (which may be NULL) to whether anything was left out.
 */
size_t utf8_sanitize(char *out, size_t size, const char *s, size_t n,
                     bool *cut);

/*
 * The length utf8_sanitize() would write for the `n` bytes of `s` with
 * room enough: an output buffer of this plus 1 holds the whole text.
 */
size_t utf8_sanitized_len(const char *s, size_t n);

#endif
