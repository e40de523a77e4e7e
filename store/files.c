/* State files: bounded reads, atomic replacement, locks; see store.h. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum gw_err store_file_read(const char *path, struct buf *out,
                            struct gw_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    enum gw_err rc = GW_OK;
    char chunk[4096];
    ssize_t n;

    if (fd < 0 && errno == ENOENT)
        return gw_error_set(err, GW_ENOTFOUND, "%s does not exist", path);
    if (fd < 0)
        return gw_error_set(err, GW_EIO, "cannot open %s: %s", path,
                            GW_ERRNO_TEXT(errno));
    buf_reset(out);
    while (rc == GW_OK && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = gw_error_set(err, GW_EIO, "cannot read %s: %s", path,
                              GW_ERRNO_TEXT(errno));
        else if (buf_append(out, chunk, (size_t)n) != GW_OK)
            rc = gw_error_set(err, GW_ELIMIT, "%s is larger than %zu bytes",
                              path, out->max);
    }
    explicit_bzero(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

/* The directory part of `path` ("." when it has none) into `out`. */
static void dir_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);

    if (n == 0 || n >= size) {
        snprintf(out, size, ".");
        return;
    }
    memcpy(out, path, n);
    out[n] = '\0';
}

/* Writes all of `data` to `fd`. */
static bool write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* The directory entry of the rename must reach the disk too. */
static void sync_dir(const char *path)
{
    char dir[4096];
    int fd;

    dir_of(path, dir, sizeof(dir));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A file the gateway may not change is a state to report, not a fault. */
static enum gw_err denied_or_io(void)
{
    return errno == EROFS || errno == EACCES || errno == EPERM ? GW_ECONFLICT
                                                               : GW_EIO;
}

enum gw_err store_file_write(const char *path, const void *data, size_t len,
                             mode_t mode, struct gw_error *err)
{
    char tmp[4200];
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return gw_error_set(err, GW_EINVAL, "the path %s is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return gw_error_set(err, denied_or_io(), "cannot write %s: %s", path,
                            GW_ERRNO_TEXT(errno));
    /* The mode given to open() is filtered by the umask; this is not. */
    if (fchmod(fd, mode) != 0 || !write_all(fd, data, len) || fsync(fd) != 0) {
        gw_error_set(err, GW_EIO, "cannot write %s: %s", path,
                     GW_ERRNO_TEXT(errno));
        close(fd);
        unlink(tmp);
        return err->code;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        gw_error_set(err, denied_or_io(), "cannot replace %s: %s", path,
                     GW_ERRNO_TEXT(errno));
        unlink(tmp);
        return err->code;
    }
    sync_dir(path);
    return GW_OK;
}

int store_file_lock(const char *path, struct gw_error *err)
{
    char lock[4200];
    int fd;

    if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
        gw_error_set(err, GW_EINVAL, "the path %s is too long", path);
        return -1;
    }
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        gw_error_set(err, denied_or_io(), "cannot lock %s: %s", path,
                     GW_ERRNO_TEXT(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            gw_error_set(err, GW_EIO, "cannot lock %s: %s", path,
                         GW_ERRNO_TEXT(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

void store_file_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

void store_file_stamp(const char *path, struct store_file_stamp *out)
{
    struct stat st;

    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0)
        return;
    out->exists = true;
    out->dev = st.st_dev;
    out->ino = st.st_ino;
    out->size = st.st_size;
    out->mtime = st.st_mtim;
}

bool store_file_same(const struct store_file_stamp *a,
                     const struct store_file_stamp *b)
{
    if (!a->exists || !b->exists)
        return a->exists == b->exists;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

bool store_file_join(char *out, size_t size, const char *dir, const char *name)
{
    return snprintf(out, size, "%s/%s", dir, name) < (int)size;
}

bool store_file_mkdirs(const char *path, struct gw_error *err)
{
    char p[4096];
    size_t n = strlen(path);
    struct stat st;

    if (n >= sizeof(p)) {
        gw_error_set(err, GW_EINVAL, "the path is too long");
        return false;
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            gw_error_set(err, GW_EINVAL, "cannot create %.300s: %s", p,
                         GW_ERRNO_TEXT(errno));
            return false;
        }
        p[i] = path[i];
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        gw_error_set(err, GW_EINVAL, "%.300s is not a directory", path);
        return false;
    }
    return true;
}

/* Whether `st`, of `path`, is the gateway's own and shut to others. */
static bool private_stat(const char *path, const struct stat *st,
                         struct gw_error *err)
{
    if (st->st_uid != geteuid()) {
        gw_error_set(
            err, GW_EINVAL,
            "%.300s is owned by uid %ld, not by the gateway's user (uid "
            "%ld); chown it",
            path, (long)st->st_uid, (long)geteuid());
        return false;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        gw_error_set(err, GW_EINVAL,
                     "%.300s is writable by group or others (mode %04o); chmod "
                     "go-w it",
                     path, (unsigned)(st->st_mode & 07777));
        return false;
    }
    return true;
}

/* One entry of the data directory, and what a link points to. */
static bool private_entry(const char *path, struct gw_error *err)
{
    struct stat st;

    if (lstat(path, &st) != 0) /* gone since it was listed */
        return errno == ENOENT;
    if (!S_ISLNK(st.st_mode))
        return private_stat(path, &st, err);
    if (st.st_uid != geteuid())
        return private_stat(path, &st, err);
    return stat(path, &st) != 0 || private_stat(path, &st, err);
}

bool store_file_private(const char *path, struct gw_error *err)
{
    return private_entry(path, err);
}

bool store_file_check_private(const char *dir, struct gw_error *err)
{
    char path[4400];
    struct dirent *e;
    struct stat st;
    bool ok = true;
    DIR *d;

    if (stat(dir, &st) != 0) {
        gw_error_set(err, GW_EINVAL, "cannot read %.300s: %s", dir,
                     GW_ERRNO_TEXT(errno));
        return false;
    }
    if (!private_stat(dir, &st, err))
        return false;
    d = opendir(dir);
    if (d == NULL) {
        gw_error_set(err, GW_EINVAL, "cannot read %.300s: %s", dir,
                     GW_ERRNO_TEXT(errno));
        return false;
    }
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!store_file_join(path, sizeof(path), dir, e->d_name))
            continue;
        ok = private_entry(path, err);
    }
    closedir(d);
    return ok;
}
