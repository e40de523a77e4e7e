/*
 * A request body held until it is complete, so that what it is for (a
 * raw message's upstream transaction) starts only once every byte has
 * arrived and passed its checks: a slow client then costs its own
 * connection alone. The first bytes stay in memory; the rest go to a
 * temporary file of the data directory that has no name from the start
 * (O_TMPFILE, or mkstemp() and unlink() at once), mode 0600, so the
 * system removes it when its descriptor closes, after a crash too.
 */
#ifndef GW_API_SPOOL_H
#define GW_API_SPOOL_H

#include <stddef.h>

#include "base/base.h"

/* The most of a body held in memory; the rest goes to the file. */
#define API_SPOOL_MEMORY (1024 * 1024)

struct api_spool {
    const char *dir; /* where the file goes; borrowed */
    struct buf mem;  /* the first bytes, up to API_SPOOL_MEMORY */
    int fd;          /* the file of the rest; -1 until needed */
    size_t len;      /* bytes held in all */
};

/* Prepares `sp` for a body whose file goes in `dir` (which must outlive
   it); pair with api_spool_free(). */
void api_spool_init(struct api_spool *sp, const char *dir);

/* Closes the file, which removes it, and frees the memory part. */
void api_spool_free(struct api_spool *sp);

/*
 * Appends `n` bytes. GW_OK, or GW_EIO with `err` saying why the file
 * could not be made or written (a full disk, say), or GW_ENOMEM.
 */
enum gw_err api_spool_write(struct api_spool *sp, const char *p, size_t n,
                            struct gw_error *err);

/*
 * Hands every byte held, in order, to `each` in pieces of at most 64 KiB,
 * and stops at the first piece it does not take (not GW_OK), returning
 * that code. GW_EIO with `err` set when the file cannot be read.
 */
enum gw_err api_spool_replay(const struct api_spool *sp,
                             enum gw_err (*each)(void *arg, const char *p,
                                                 size_t n),
                             void *arg, struct gw_error *err);

#endif
