/*
 * The base of every module: the one error enum and its detail, the
 * bounded buffer, logging, the clock, UTF-8 text and base64. It knows
 * nothing else.
 */
#ifndef GW_BASE_H
#define GW_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * The one error enum of the gateway, shared by every module.
 *
 * A function that can fail returns an enum gw_err; GW_OK is 0, so
 * `if (rc != GW_OK)` and `if (rc)` read the same. The code says what kind
 * of failure it was; the detail a person needs (the server's reply line,
 * the JSON path of a bad field, the errno text) travels beside it in a
 * struct gw_error, verbatim.
 */
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
    GW_ECANCELED, /* whoever asked for it went away; it was not done */
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

/* A buffer for gw_strerror_r() that holds every errno text. */
#define GW_STRERROR_MAX 128

/*
 * The text of errno value `errnum`, for the threads that send, where
 * strerror()'s shared buffer could be overwritten by another thread: it
 * is written into `buf` of `size` bytes (or is a constant string of the C
 * library); never NULL.
 */
const char *gw_strerror_r(int errnum, char *buf, size_t size);

/*
 * gw_strerror_r() into a buffer of the enclosing block, for one use in an
 * argument list: `gw_error_set(err, GW_EIO, "...: %s", GW_ERRNO_TEXT(e))`.
 * Thread-safe, unlike strerror().
 */
#define GW_ERRNO_TEXT(errnum)                                                  \
    gw_strerror_r((errnum), (char[GW_STRERROR_MAX]){0}, GW_STRERROR_MAX)

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

/*
 * A validation failure of one field of a request or a record: the path of
 * the field ("to[2]", "options.timezone", "port") and what is wrong with
 * it ("must be a number from 1 to 65535").
 */
struct gw_field_error {
    char field[128];
    char text[GW_ERROR_DETAIL_MAX];
};

/*
 * Fills `fe` and returns false, so that a check reads as one statement:
 *     return gw_field_fail(fe, "port", "must be a number");
 */
bool gw_field_fail(struct gw_field_error *fe, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A growable byte buffer with a hard size limit.
 *
 * Every buffer is created with the most it may ever hold, so no input can
 * make one grow without bound: an append past the limit fails with
 * GW_ELIMIT and leaves the buffer as it was. The bytes are always followed
 * by a NUL (not counted in len), so text can be used as a C string.
 *
 *     struct buf b;
 *     buf_init(&b, 64 * 1024);
 *     if (buf_printf(&b, "%s=%d", key, value) != GW_OK) goto out;
 *     ...
 *   out:
 *     buf_free(&b);
 */
struct buf {
    char *data; /* the bytes, NUL-terminated; NULL while empty */
    size_t len; /* bytes held, without the NUL */
    size_t cap; /* bytes allocated, with room for the NUL */
    size_t max; /* the most `len` may ever be */
};

/* Makes `b` an empty buffer that may hold at most `max` bytes. */
void buf_init(struct buf *b, size_t max);

/* Releases the memory of `b` and leaves it empty, with its limit. */
void buf_free(struct buf *b);

/* Empties `b` but keeps its memory for reuse. */
void buf_reset(struct buf *b);

/*
 * Makes room for `n` bytes in all, at most the limit, so that a buffer
 * whose final size is known grows once instead of doubling its way there
 * (each doubling briefly holds the old and the new copy). GW_ENOMEM or
 * GW_OK; a smaller `n` than held changes nothing.
 */
enum gw_err buf_reserve(struct buf *b, size_t n);

/* Appends `n` bytes. GW_ELIMIT past the limit, GW_ENOMEM, or GW_OK. */
enum gw_err buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
enum gw_err buf_puts(struct buf *b, const char *s);

/* Appends one byte. */
enum gw_err buf_putc(struct buf *b, char c);

/* Appends printf-style text. */
enum gw_err buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum gw_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the text held, "" while empty; valid until the next change. */
const char *buf_cstr(const struct buf *b);

/*
 * Hands the bytes over to the caller, who must free() them, and leaves
 * `b` empty. Returns NULL only when out of memory.
 */
char *buf_steal(struct buf *b);

/*
 * Logging: one line per event on standard error, as key=value pairs after
 * a UTC timestamp and the level:
 *
 *     2026-11-30T20:31:07Z level=info event=send status=sent rcpts=2
 *
 * Callers write the key=value part. Values that come from outside (a
 * server's reply, an address) are written with log_quote() so that a
 * line stays one line. Never log a secret, a token, a password or a
 * message body.
 */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written; LOG_INFO until called. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; false for anything else. */
bool log_level_parse(const char *name, enum log_level *out);

/* True when a line at `level` would be written. */
bool log_enabled(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes `s` into `out` (of `size` bytes) as a double-quoted value with
 * quotes, backslashes and control bytes escaped, cut with "..." when it
 * does not fit. Returns `out`, for use as a printf argument.
 */
const char *log_quote(char *out, size_t size, const char *s);

/* The size of a buffer for log_quote() that holds any SMTP reply line. */
#define LOG_QUOTE_MAX 600

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
/* U+FFFD REPLACEMENT CHARACTER in UTF-8, and its length. */
#define UTF8_REPLACEMENT     "\xEF\xBF\xBD"
#define UTF8_REPLACEMENT_LEN 3

/*
 * Returns the length (1 to 4) of the well-formed UTF-8 sequence that
 * starts `s`, which has `n` bytes left, or 0 when there is none: a stray
 * continuation byte, a truncated or overlong sequence, a surrogate or a
 * code point past U+10FFFF (RFC 3629).
 */
size_t gw_utf8_len(const char *s, size_t n);

/* True when the `n` bytes of `s` are well-formed UTF-8. */
bool gw_utf8_valid(const char *s, size_t n);

/*
 * Returns the largest length at most `max` at which the `n` bytes of `s`
 * may be cut without splitting a well-formed sequence (`n` itself when
 * `n` <= `max`). Bytes that are not UTF-8 count as one character each.
 */
size_t gw_utf8_cut(const char *s, size_t n, size_t max);

/*
 * Copies the `n` bytes of `s` into `out` (`size` bytes, at least 1) as
 * well-formed UTF-8 with a NUL after it: each maximal subpart of an
 * ill-formed sequence becomes U+FFFD. What does not fit is left out at a
 * character boundary. Returns the length written, without the NUL; sets
 * `*cut` (which may be NULL) to whether anything was left out.
 */
size_t gw_utf8_sanitize(char *out, size_t size, const char *s, size_t n,
                        bool *cut);

/*
 * The length gw_utf8_sanitize() would write for the `n` bytes of `s` with
 * room enough: an output buffer of this plus 1 holds the whole text.
 */
size_t gw_utf8_sanitized_len(const char *s, size_t n);

/* base64 (RFC 4648), for MIME bodies and headers and for SASL. */

/* Appends the base64 form (RFC 4648, with padding) of `n` bytes. */
enum gw_err gw_base64(struct buf *out, const void *p, size_t n);

/*
 * Appends the bytes that the base64 text `s` (`n` characters, RFC 4648
 * alphabet) stands for. Whitespace (space, TAB, CR, LF) is skipped and the
 * final padding may be left out. GW_EINVAL when the text is not base64,
 * with `*bad_at` (when not NULL) the offset of the first character at
 * fault; GW_ELIMIT or GW_ENOMEM from the buffer.
 */
enum gw_err gw_base64_decode(struct buf *out, const char *s, size_t n,
                             size_t *bad_at);

/* The longest line of a message, without CRLF (RFC 5322 2.1.1). */
#define GW_LINE_MAX 998

/*
 * Checks that the comma-separated `list` is not empty and holds only
 * words of `names` (`n` of them, compared without letter case), as a
 * credential's list of AUTH mechanisms must. GW_EINVAL naming the first
 * that is not one: "unknown <what> "NTLM"; use A, B or C".
 */
enum gw_err gw_words_check(const char *list, const char *const *names, size_t n,
                           const char *what, struct gw_error *err);

/*
 * Where the lines of a message end, for everything that reads one (the
 * DATA encoder, the check before a send, the raw message filter): at CR
 * LF, at a CR alone and at a LF alone. Only CR LF may reach the server;
 * taking a bare one as anything but a line end would let a reader see one
 * line where the server sees two. Read a byte at a time, so that a CR LF
 * split between two chunks is still one line end.
 */
enum gw_eol {
    GW_EOL_NONE, /* a byte of the line */
    GW_EOL_END,  /* a CR or a LF that ends the line */
    GW_EOL_REST, /* the LF of a CR LF, whose CR has ended the line */
};

/*
 * What the byte `c` is to the lines of the message. `after_cr` carries the
 * byte before it from one call to the next: false at the start.
 */
static inline enum gw_eol gw_eol_next(bool *after_cr, char c)
{
    bool was_cr = *after_cr;

    *after_cr = c == '\r';
    if (was_cr && c == '\n')
        return GW_EOL_REST;
    return c == '\r' || c == '\n' ? GW_EOL_END : GW_EOL_NONE;
}

/*
 * Milliseconds on a monotonic clock: every deadline and every duration
 * the gateway measures is on this clock.
 */
uint64_t gw_now_ms(void);

/*
 * The time `ms` milliseconds from now on the realtime clock, the one
 * pthread_cond_timedwait() takes by default: for a thread's wait only,
 * never for a deadline (which follows gw_now_ms()).
 */
struct timespec gw_wait_until(uint64_t ms);

#endif
