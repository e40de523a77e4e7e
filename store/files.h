/*
 * The gateway's state files (its key pair, the credential store, the API
 * tokens): read whole within a limit, replaced atomically, and changed
 * under a lock, so that a crash, a full disk or two writers at once (the
 * server and a sub-command) never leave a half-written or lost file.
 */
#ifndef GW_FILES_H
#define GW_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "base/base.h"

/*
 * Reads the whole of `path` into `out`, whose limit bounds the size
 * (GW_ELIMIT past it). GW_ENOTFOUND when the file does not exist; other
 * failures are GW_EIO naming the file and the reason.
 */
enum gw_err srv_file_read(const char *path, struct buf *out,
                          struct gw_error *err);

/*
 * Replaces `path` with `len` bytes of `data`: a temporary file in the
 * same directory, created with `mode`, written, flushed to disk with
 * fsync, renamed over `path`, and the directory synced, so that readers
 * see the old file or the new one and nothing in between. GW_EIO naming
 * the file and the reason (a read-only file system, say).
 */
enum gw_err srv_file_write(const char *path, const void *data, size_t len,
                           mode_t mode, struct gw_error *err);

/*
 * Takes an exclusive lock for changing `path`, on "<path>.lock", waiting
 * for other holders (another process included). Returns the descriptor
 * to pass to srv_file_unlock(), or -1 with `err` set.
 */
int srv_file_lock(const char *path, struct gw_error *err);
void srv_file_unlock(int fd);

/* The identity of a file's current version, to notice a replacement. */
struct srv_file_stamp {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* Fills `out` for `path` (exists false when there is none). */
void srv_file_stamp(const char *path, struct srv_file_stamp *out);

/* True when the two stamps name the same version of the file. */
bool srv_file_same(const struct srv_file_stamp *a,
                   const struct srv_file_stamp *b);

/*
 * Creates the directory `path` and its parents, each for the gateway
 * alone (mode 0700). False with one line in `why` when it cannot.
 */
bool srv_file_mkdirs(const char *path, char *why, size_t whylen);

/*
 * Checks that the directory `dir`, and every entry in it (the target of a
 * symbolic link too), belongs to the gateway's user and is not writable
 * by group or others: whoever may write there could put in a key of
 * their own or a token file with a token of theirs. False with one line
 * in `why` naming the first that is not.
 */
bool srv_file_check_private(const char *dir, char *why, size_t whylen);

/* The same check for one file (true when it does not exist). */
bool srv_file_private(const char *path, char *why, size_t whylen);

/* Joins `dir` and `name` into `out`; false when it does not fit. */
bool srv_file_join(char *out, size_t size, const char *dir, const char *name);

#endif
