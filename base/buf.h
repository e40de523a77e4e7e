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
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

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

#endif
