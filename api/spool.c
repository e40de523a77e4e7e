/* A body held in memory and a nameless file; see spool.h. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The piece read back from the file at a time. */
#define SPOOL_READ (64 * 1024)

void api_spool_init(struct api_spool *sp, const char *dir)
{
    sp->dir = dir;
    buf_init(&sp->mem, API_SPOOL_MEMORY);
    sp->fd = -1;
    sp->len = 0;
}

void api_spool_free(struct api_spool *sp)
{
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    buf_free(&sp->mem);
}

/*
 * Makes the file, without a name: O_TMPFILE where the file system has
 * it, otherwise a named file unlinked right away (only a crash between
 * the two calls could leave it behind).
 */
static enum gw_err spool_open(struct api_spool *sp, struct gw_error *err)
{
    char path[4096];
    int fd = open(sp->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ||
                   errno == ENOENT)) {
        if (snprintf(path, sizeof(path), "%s/.spool-XXXXXX", sp->dir) >=
            (int)sizeof(path))
            return gw_error_set(err, GW_EIO,
                                "the data directory's path is too long");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0 && unlink(path) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        return gw_error_set(err, GW_EIO,
                            "the message could not be held in the data "
                            "directory: %s",
                            GW_ERRNO_TEXT(errno));
    sp->fd = fd;
    return GW_OK;
}

static enum gw_err spool_file_write(struct api_spool *sp, const char *p,
                                    size_t n, struct gw_error *err)
{
    while (n > 0) {
        ssize_t k = write(sp->fd, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return gw_error_set(err, GW_EIO,
                                "the message could not be held in the data "
                                "directory: %s",
                                k < 0 ? GW_ERRNO_TEXT(errno)
                                      : "nothing written");
        p += k, n -= (size_t)k;
    }
    return GW_OK;
}

enum gw_err api_spool_write(struct api_spool *sp, const char *p, size_t n,
                            struct gw_error *err)
{
    size_t room = sp->mem.max - sp->mem.len;
    size_t k = sp->fd < 0 ? (n < room ? n : room) : 0;
    enum gw_err rc = GW_OK;

    if (k > 0 && buf_append(&sp->mem, p, k) != GW_OK)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    if (k < n && sp->fd < 0)
        rc = spool_open(sp, err);
    if (rc == GW_OK && k < n)
        rc = spool_file_write(sp, p + k, n - k, err);
    if (rc == GW_OK)
        sp->len += n;
    return rc;
}

/* Hands the file's bytes to `each`, from the start. */
static enum gw_err replay_file(const struct api_spool *sp,
                               enum gw_err (*each)(void *, const char *,
                                                   size_t),
                               void *arg, struct gw_error *err)
{
    char *piece = malloc(SPOOL_READ);
    enum gw_err rc = GW_OK;
    off_t at = 0;

    if (piece == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    while (rc == GW_OK) {
        ssize_t k = pread(sp->fd, piece, SPOOL_READ, at);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            rc = gw_error_set(err, GW_EIO,
                              "the message held in the data directory could "
                              "not be read: %s",
                              GW_ERRNO_TEXT(errno));
        if (k <= 0)
            break;
        at += k;
        rc = each(arg, piece, (size_t)k);
    }
    free(piece);
    return rc;
}

enum gw_err api_spool_replay(const struct api_spool *sp,
                             enum gw_err (*each)(void *arg, const char *p,
                                                 size_t n),
                             void *arg, struct gw_error *err)
{
    enum gw_err rc = GW_OK;

    for (size_t at = 0; at < sp->mem.len && rc == GW_OK; at += SPOOL_READ) {
        size_t k =
            sp->mem.len - at < SPOOL_READ ? sp->mem.len - at : SPOOL_READ;

        rc = each(arg, sp->mem.data + at, k);
    }
    if (rc == GW_OK && sp->fd >= 0)
        rc = replay_file(sp, each, arg, err);
    return rc;
}
