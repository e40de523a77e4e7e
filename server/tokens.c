/* API tokens by their hashes, and their file; see tokens.h. */
#include "tokens.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../smtp/log.h"
#include "files.h"
#include "vault.h"

struct srv_tokens {
    char path[4096];
    pthread_mutex_t lock;
    struct api_token *v; /* the stored tokens */
    size_t n;
    struct srv_file_stamp stamp;    /* the file as last read or written */
    char bootstrap[VAULT_HASH_MAX]; /* "" when there is none */
};

/* Reads the file into a new list; an absent file is an empty list. */
static enum gw_err read_list(const char *path, struct api_token **out,
                             size_t *n, struct gw_error *err)
{
    struct buf text;
    enum gw_err rc;

    buf_init(&text, API_FILE_MAX);
    rc = srv_file_read(path, &text, err);
    if (rc == GW_OK)
        rc = api_tokens_decode(text.data, text.len, out, n, err);
    buf_free(&text);
    if (rc == GW_ENOTFOUND) {
        *out = calloc(1, sizeof(**out));
        *n = 0;
        rc = *out != NULL ? GW_OK
                          : gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    return rc == GW_OK ? GW_OK : gw_error_prefix(err, path);
}

/* Reads the file again when it was replaced; the lock is held. */
static enum gw_err refresh(struct srv_tokens *t, struct gw_error *err)
{
    struct srv_file_stamp now;
    struct api_token *v;
    size_t n;

    srv_file_stamp(t->path, &now);
    if (t->v != NULL && srv_file_same(&now, &t->stamp))
        return GW_OK;
    if (read_list(t->path, &v, &n, err) != GW_OK)
        return err->code;
    free(t->v);
    t->v = v;
    t->n = n;
    t->stamp = now;
    return GW_OK;
}

struct srv_tokens *srv_tokens_open(const char *path, const char *bootstrap,
                                   struct gw_error *err)
{
    struct srv_tokens *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory"), NULL;
    snprintf(t->path, sizeof(t->path), "%s", path);
    pthread_mutex_init(&t->lock, NULL);
    if (bootstrap != NULL)
        vault_token_hash(bootstrap, t->bootstrap);
    if (refresh(t, err) != GW_OK) {
        srv_tokens_free(t);
        return NULL;
    }
    return t;
}

void srv_tokens_free(struct srv_tokens *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->v);
    explicit_bzero(t, sizeof(*t));
    free(t);
}

bool srv_tokens_check(struct srv_tokens *t, const char *token,
                      struct api_token *caller)
{
    char hash[VAULT_HASH_MAX];
    struct gw_error err = {0};
    const struct api_token *found = NULL;
    bool boot;

    vault_token_hash(token, hash);
    pthread_mutex_lock(&t->lock);
    if (refresh(t, &err) != GW_OK)
        log_warn("event=tokens_unreadable detail=\"%s\"", err.detail);
    /* No early exit: every hash is compared whatever matches. */
    boot = t->bootstrap[0] != '\0' && vault_hash_equal(hash, t->bootstrap);
    for (size_t i = 0; i < t->n; i++) {
        if (vault_hash_equal(hash, t->v[i].hash))
            found = &t->v[i];
    }
    memset(caller, 0, sizeof(*caller));
    if (boot) {
        snprintf(caller->name, sizeof(caller->name), SRV_BOOTSTRAP_NAME);
        caller->scope = API_SCOPE_ADMIN;
    } else if (found != NULL) {
        *caller = *found;
        caller->hash[0] = '\0';
    }
    pthread_mutex_unlock(&t->lock);
    explicit_bzero(hash, sizeof(hash));
    return boot || found != NULL;
}

/* Writes `v` to the file; the file's lock and t->lock are held. */
static enum gw_err write_list(struct srv_tokens *t, const struct api_token *v,
                              size_t n, struct gw_error *err)
{
    struct buf text;
    enum gw_err rc;

    buf_init(&text, API_FILE_MAX);
    rc = api_tokens_encode(v, n, &text, err);
    if (rc == GW_OK)
        rc = srv_file_write(t->path, text.data, text.len, 0600, err);
    buf_free(&text);
    if (rc == GW_OK)
        srv_file_stamp(t->path, &t->stamp);
    return rc;
}

static void now_rfc3339(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends `rec` as a new token; the locks are held, the list fresh. */
static enum gw_err add(struct srv_tokens *t, struct api_token *rec, char *token,
                       struct gw_error *err)
{
    struct api_token *v;

    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, rec->name) == 0)
            return gw_error_set(err, GW_EINVAL,
                                "a token is named \"%s\" already; delete it "
                                "first",
                                rec->name);
    }
    if (t->n == API_RECORDS_MAX)
        return gw_error_set(err, GW_ECONFLICT, "there are %d tokens already",
                            API_RECORDS_MAX);
    v = realloc(t->v, (t->n + 1) * sizeof(*v));
    if (v == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    t->v = v;
    vault_token_new(token);
    vault_token_hash(token, rec->hash);
    now_rfc3339(rec->created, sizeof(rec->created));
    v[t->n] = *rec;
    if (write_list(t, v, t->n + 1, err) != GW_OK)
        return err->code;
    t->n++;
    return GW_OK;
}

enum gw_err srv_tokens_create(struct srv_tokens *t, struct api_token *rec,
                              char *token, size_t size, struct gw_error *err)
{
    int lock;
    enum gw_err rc;

    if (size < VAULT_TOKEN_MAX)
        return gw_error_set(err, GW_EINVAL, "no room for a token");
    if (strcmp(rec->name, SRV_BOOTSTRAP_NAME) == 0)
        return gw_error_set(err, GW_EINVAL,
                            "\"%s\" is the name of GATEWAY_API_TOKEN",
                            SRV_BOOTSTRAP_NAME);
    lock = srv_file_lock(t->path, err);
    if (lock < 0)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    if (rc == GW_OK)
        rc = add(t, rec, token, err);
    pthread_mutex_unlock(&t->lock);
    srv_file_unlock(lock);
    if (rc == GW_OK)
        log_info("event=token_created name=%s scope=%s", rec->name,
                 api_scope_name(rec->scope));
    else
        explicit_bzero(token, size);
    return rc;
}

enum gw_err srv_tokens_list(struct srv_tokens *t, struct api_token **out,
                            size_t *n, struct gw_error *err)
{
    enum gw_err rc;

    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    *out = rc == GW_OK ? calloc(t->n + 1, sizeof(**out)) : NULL;
    if (*out != NULL)
        memcpy(*out, t->v, t->n * sizeof(**out));
    *n = *out != NULL ? t->n : 0;
    pthread_mutex_unlock(&t->lock);
    if (rc == GW_OK && *out == NULL)
        rc = gw_error_set(err, GW_ENOMEM, "out of memory");
    return rc;
}

/* Removes token `name` from the fresh list; the locks are held. */
static enum gw_err remove_one(struct srv_tokens *t, const char *name,
                              struct gw_error *err)
{
    size_t at = t->n;

    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, name) == 0)
            at = i;
    }
    if (at == t->n)
        return gw_error_set(err, GW_ENOTFOUND, "no token is named \"%s\"",
                            name);
    memmove(&t->v[at], &t->v[at + 1], (t->n - at - 1) * sizeof(*t->v));
    if (write_list(t, t->v, t->n - 1, err) != GW_OK) {
        t->stamp.exists = false; /* read the file again next time */
        return err->code;
    }
    t->n--;
    return GW_OK;
}

enum gw_err srv_tokens_delete(struct srv_tokens *t, const char *name,
                              struct gw_error *err)
{
    int lock = srv_file_lock(t->path, err);
    enum gw_err rc;

    if (lock < 0)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    if (rc == GW_OK)
        rc = remove_one(t, name, err);
    pthread_mutex_unlock(&t->lock);
    srv_file_unlock(lock);
    if (rc == GW_OK)
        log_info("event=token_deleted name=%s", name);
    return rc;
}
