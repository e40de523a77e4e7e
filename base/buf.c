/* Growable buffers with a hard limit; see base.h. */
#include "base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Makes room for `extra` more bytes and the NUL, within the limit. */
static enum gw_err reserve(struct buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max - b->len)
        return GW_ELIMIT;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return GW_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (p == NULL)
        return GW_ENOMEM;
    b->data = p;
    b->cap = cap;
    return GW_OK;
}

enum gw_err buf_reserve(struct buf *b, size_t n)
{
    char *p;

    if (n > b->max)
        n = b->max;
    if (n + 1 <= b->cap)
        return GW_OK;
    p = realloc(b->data, n + 1);
    if (p == NULL)
        return GW_ENOMEM;
    if (b->data == NULL)
        p[0] = '\0';
    b->data = p;
    b->cap = n + 1;
    return GW_OK;
}

enum gw_err buf_append(struct buf *b, const void *p, size_t n)
{
    enum gw_err rc = reserve(b, n);

    if (rc != GW_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return GW_OK;
}

enum gw_err buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

enum gw_err buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

enum gw_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list again;
    enum gw_err rc;
    int n;

    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0)
        return GW_EINVAL;
    rc = reserve(b, (size_t)n);
    if (rc != GW_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return GW_OK;
}

enum gw_err buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    enum gw_err rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *buf_cstr(const struct buf *b)
{
    return b->data != NULL ? b->data : "";
}

char *buf_steal(struct buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    buf_init(b, b->max);
    return p;
}
