/*
 * The files back-end of the store (store_open_files()): each kind of
 * record in one JSON file, read whole, replaced atomically with
 * store_file_write() and changed under store_file_lock(). The version of
 * a file is its struct store_file_stamp: a file replaced by another
 * writer has another inode, size or time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* One kind of record: its file, its lock, the version last seen. */
struct file {
    char path[4200];
    pthread_mutex_t mutex;         /* the threads of this process */
    int lock;                      /* the lock file's descriptor, or -1 */
    struct store_file_stamp stamp; /* as last loaded or saved */
    bool seen;                     /* stamp holds a version */
};

struct files {
    struct store base; /* first: a struct store * is a struct files * */
    struct file kinds[2];
};

static struct file *file_of(struct store *st, enum store_kind kind)
{
    return &((struct files *)st)->kinds[kind];
}

static const char *files_where(const struct store *st, enum store_kind kind)
{
    return ((const struct files *)st)->kinds[kind].path;
}

static enum gw_err files_lock(struct store *st, enum store_kind kind,
                              struct gw_error *err)
{
    struct file *f = file_of(st, kind);

    pthread_mutex_lock(&f->mutex);
    f->lock = store_file_lock(f->path, err);
    if (f->lock >= 0)
        return GW_OK;
    pthread_mutex_unlock(&f->mutex);
    return err->code;
}

static void files_unlock(struct store *st, enum store_kind kind)
{
    struct file *f = file_of(st, kind);

    store_file_unlock(f->lock);
    f->lock = -1;
    pthread_mutex_unlock(&f->mutex);
}

static bool files_changed(struct store *st, enum store_kind kind)
{
    struct file *f = file_of(st, kind);
    struct store_file_stamp now;

    store_file_stamp(f->path, &now);
    return !f->seen || !store_file_same(&now, &f->stamp);
}

static void files_forget(struct store *st, enum store_kind kind)
{
    file_of(st, kind)->seen = false;
}

/* Takes the version of the file as it is now as the one last seen. */
static void see(struct file *f)
{
    store_file_stamp(f->path, &f->stamp);
    f->seen = true;
}

static enum gw_err files_writable(struct store *st, enum store_kind kind,
                                  struct gw_error *err)
{
    const char *path = file_of(st, kind)->path;
    char dir[4200];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        *(slash == dir ? slash + 1 : slash) = '\0';
    if ((access(path, F_OK) == 0 && access(path, W_OK) != 0) ||
        access(dir, W_OK) != 0)
        return gw_error_set(err, GW_ECONFLICT,
                            "the %s %.300s is read-only (%s): change it "
                            "where it comes from",
                            kind == STORE_CREDENTIALS ? "credential store"
                                                      : "token file",
                            path, GW_ERRNO_TEXT(errno));
    return GW_OK;
}

/* Writes `text`, the file's new contents (whose encoding gave `rc`), over
   the file of `f`, and takes that version as seen; frees `text`. */
static enum gw_err save_text(struct file *f, enum gw_err rc, struct buf *text,
                             struct gw_error *err)
{
    if (rc == GW_OK)
        rc = store_file_write(f->path, text->data, text->len, 0600, err);
    if (rc == GW_OK)
        see(f);
    buf_free(text);
    return rc;
}

static enum gw_err files_creds_load(struct store *st, char *key_id,
                                    size_t key_id_size,
                                    struct store_credential **out, size_t *n,
                                    struct gw_error *err)
{
    struct file *f = file_of(st, STORE_CREDENTIALS);
    struct buf text;
    enum gw_err rc;

    *out = NULL;
    *n = 0;
    key_id[0] = '\0';
    buf_init(&text, STORE_FILE_MAX);
    see(f);
    rc = store_file_read(f->path, &text, err);
    if (rc == GW_OK)
        rc = store_creds_decode(text.data, text.len, key_id, key_id_size, out,
                                n, err);
    buf_free(&text);
    if (rc != GW_OK && rc != GW_ENOTFOUND)
        return gw_error_prefix(err, f->path);
    return rc;
}

static enum gw_err files_creds_save(struct store *st, const char *key_id,
                                    const struct store_credential *const *creds,
                                    size_t n, struct gw_error *err)
{
    struct buf text;

    buf_init(&text, STORE_FILE_MAX);
    return save_text(file_of(st, STORE_CREDENTIALS),
                     store_creds_encode(key_id, creds, n, &text, err), &text,
                     err);
}

static enum gw_err files_tokens_load(struct store *st,
                                     struct store_tokens_keying *keying,
                                     struct store_token **out, size_t *n,
                                     struct gw_error *err)
{
    struct file *f = file_of(st, STORE_TOKENS);
    struct buf text;
    enum gw_err rc;

    memset(keying, 0, sizeof(*keying));
    buf_init(&text, STORE_FILE_MAX);
    see(f);
    /* Read again while the gateway runs: it must still be its own. */
    rc = store_file_private(f->path, err) ? store_file_read(f->path, &text, err)
                                          : err->code;
    if (rc == GW_OK)
        rc = store_tokens_keying_decode(text.data, text.len, keying, err);
    if (rc == GW_OK)
        rc = store_tokens_decode(text.data, text.len, out, n, err);
    buf_free(&text);
    if (rc == GW_ENOTFOUND) {
        *out = calloc(1, sizeof(**out));
        *n = 0;
        rc = *out != NULL ? GW_OK
                          : gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    return rc == GW_OK ? GW_OK : gw_error_prefix(err, f->path);
}

static enum gw_err files_tokens_save(struct store *st,
                                     const struct store_tokens_keying *keying,
                                     const struct store_token *v, size_t n,
                                     struct gw_error *err)
{
    struct buf text;

    buf_init(&text, STORE_FILE_MAX);
    return save_text(file_of(st, STORE_TOKENS),
                     store_tokens_encode_keyed(v, n, keying, &text, err), &text,
                     err);
}

static void files_close(struct store *st)
{
    struct files *fs = (struct files *)st;

    for (size_t i = 0; i < 2; i++)
        pthread_mutex_destroy(&fs->kinds[i].mutex);
    free(fs);
}

static const struct store_backend files_backend = {
    .name = "files",
    .where = files_where,
    .lock = files_lock,
    .unlock = files_unlock,
    .changed = files_changed,
    .forget = files_forget,
    .writable = files_writable,
    .creds_load = files_creds_load,
    .creds_save = files_creds_save,
    .tokens_load = files_tokens_load,
    .tokens_save = files_tokens_save,
    .close = files_close,
};

struct store *store_open_files(const char *creds_path, const char *tokens_path,
                               struct gw_error *err)
{
    struct files *fs = calloc(1, sizeof(*fs));
    const char *paths[2] = {
        [STORE_CREDENTIALS] = creds_path, [STORE_TOKENS] = tokens_path};

    if (fs == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    fs->base.be = &files_backend;
    for (size_t i = 0; i < 2; i++) {
        struct file *f = &fs->kinds[i];

        snprintf(f->path, sizeof(f->path), "%s", paths[i]);
        pthread_mutex_init(&f->mutex, NULL);
        f->lock = -1;
    }
    return &fs->base;
}
