/*
 * The byte-level encoders behind the MIME composer: base64 (both ways),
 * RFC 2047 encoded-words for header text, RFC 2231 percent encoding for
 * parameter values, and the body encodings (7bit or 8bit with CRLF line
 * ends, RFC 2045 quoted-printable, base64 lines). UTF-8 checks: utf8.h.
 *
 * Every function appends to a bounded struct buf and returns GW_OK,
 * GW_ELIMIT when the buffer's limit is reached or GW_ENOMEM; none of them
 * sets a detail, since only the caller knows what was being written.
 */
#ifndef GW_ENCODE_H
#define GW_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* The longest RFC 2047 encoded-word, in characters (RFC 2047 2). */
#define ENC_WORD_MAX 75

/* Appends the base64 form (RFC 4648, with padding) of `n` bytes. */
enum gw_err enc_base64(struct buf *out, const void *p, size_t n);

/*
 * Appends the base64 form of `n` bytes as a body (RFC 2045 6.8): lines of
 * 76 characters separated by CRLF, with no CRLF after the last one.
 */
enum gw_err enc_base64_lines(struct buf *out, const void *p, size_t n);

/*
 * Appends the bytes that the base64 text `s` (`n` characters, RFC 4648
 * alphabet) stands for. Whitespace (space, TAB, CR, LF) is skipped and the
 * final padding may be left out. GW_EINVAL when the text is not base64,
 * with `*bad_at` (when not NULL) the offset of the first character at
 * fault; GW_ELIMIT or GW_ENOMEM from the buffer.
 */
enum gw_err enc_base64_decode(struct buf *out, const char *s, size_t n,
                              size_t *bad_at);

/*
 * Appends `s` (`n` bytes of valid UTF-8) as "=?UTF-8?B?...?=" words
 * separated by single spaces. The first word has at most `first_max`
 * characters (at least 20 are allowed, so that any character fits), the
 * others at most ENC_WORD_MAX; words are split only between characters,
 * so each decodes to valid UTF-8 on its own. Appends nothing when `n` is 0.
 */
enum gw_err enc_words(struct buf *out, const char *s, size_t n,
                      size_t first_max);

/*
 * True when the body `s` (`n` bytes) can be sent as 7bit (RFC 2045 2.7):
 * ASCII only, no NUL, CR only as part of CRLF, and no line over 998 bytes.
 */
bool enc_is_7bit(const char *s, size_t n);

/*
 * True when the body `s` (`n` bytes) can be sent as 8bit (RFC 6152) once
 * its line ends are CRLF: no NUL, and no line over 998 bytes, a line ending
 * at LF, CRLF or a lone CR as enc_crlf() reads them.
 */
bool enc_is_8bit(const char *s, size_t n);

/*
 * Appends `s` with every line end (LF, CRLF or a lone CR) written as
 * CRLF; nothing else changes. `s` may be NULL when `n` is 0 (an empty
 * attachment).
 */
enum gw_err enc_crlf(struct buf *out, const char *s, size_t n);

/*
 * Appends `s` as quoted-printable (RFC 2045 6.7): lines of at most 76
 * characters with "=" soft breaks; "=", bytes outside printable ASCII
 * (TAB excepted) and whitespace at the end of a line encoded as "=XX";
 * line ends of the input (LF, CRLF or a lone CR) written as CRLF.
 */
enum gw_err enc_qp(struct buf *out, const char *s, size_t n);

/*
 * Returns how many characters the byte `c` takes in an RFC 2231
 * parameter value: 1 for an attribute-char, 3 for "%XX".
 */
size_t enc_pct_len(unsigned char c);

/* Appends `n` bytes as RFC 2231 attribute-chars and "%XX" escapes. */
enum gw_err enc_pct(struct buf *out, const char *s, size_t n);

#endif
