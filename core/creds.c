/* Named credentials with their pools, and their file; see core.h. */
#include "core.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "smtp/smtp.h"
#include "store/store.h"

_Static_assert(STORE_BOX_MAX >= VAULT_BOX_MAX, "a box must fit a credential");

/* One credential and what it needs to send: its pool, its secrets. */
struct entry {
    struct store_credential cred;
    bool from_env;
    struct smtp_pool *pool;          /* NULL when the credential is unusable */
    char error[GW_ERROR_DETAIL_MAX]; /* why it is unusable */
    bool box_failed;                 /* ... because a box does not open */
    unsigned refs;                   /* the store's, and each send's */
    const struct vault *vault;
    struct smtp_secrets secrets; /* opens cred's boxes; arg: the entry */
};

struct core_creds {
    struct store *store; /* where the credentials are kept */
    const struct vault *vault;
    struct smtp_reaper *reaper; /* closes the pools' idle connections */
    pthread_mutex_t lock;       /* the lists and every entry's refs */
    pthread_mutex_t edit;       /* one change (and file write) at a time */
    struct entry **v;           /* the stored credentials */
    size_t n;
    struct entry *env_default;           /* NULL when none */
    char read_only[GW_ERROR_DETAIL_MAX]; /* why it cannot be written */
};

static const char *box_of(const struct entry *e, enum smtp_secret_kind kind)
{
    return kind == SMTP_SECRET_PASSWORD ? e->cred.password_box
                                        : e->cred.access_token_box;
}

static const char *kind_name(enum smtp_secret_kind kind)
{
    return kind == SMTP_SECRET_PASSWORD ? "password" : "access token";
}

/* struct smtp_secrets: opens a box for one AUTH exchange. */
static void *open_secret(void *arg, enum smtp_secret_kind kind,
                         const char **text, struct gw_error *err)
{
    struct entry *e = arg;
    struct gw_error why = {0};
    struct vault_secret *s = vault_open(e->vault, box_of(e, kind), &why);

    if (s == NULL) {
        gw_error_set(err, GW_EAUTH,
                     "the %s of the credential \"%s\" cannot be opened: %s",
                     kind_name(kind), e->cred.name, why.detail);
        return NULL;
    }
    *text = vault_secret_text(s);
    return s;
}

static void close_secret(void *arg, void *handle)
{
    (void)arg;
    vault_secret_free(handle);
}

static void entry_free(struct entry *e)
{
    if (e == NULL)
        return;
    smtp_pool_free(e->pool);
    explicit_bzero(e, sizeof(*e));
    free(e);
}

/* Checks that every box of `e` opens, naming the field that does not. */
static enum gw_err check_boxes(const struct entry *e, struct gw_error *err)
{
    static const enum smtp_secret_kind kinds[] = {SMTP_SECRET_PASSWORD,
                                                  SMTP_SECRET_ACCESS_TOKEN};

    for (size_t i = 0; i < 2; i++) {
        const char *box = box_of(e, kinds[i]);
        struct vault_secret *s;

        if (box[0] == '\0')
            continue;
        s = vault_open(e->vault, box, err);
        if (s == NULL)
            return gw_error_prefix(err, kinds[i] == SMTP_SECRET_PASSWORD
                                            ? "password_sealed"
                                            : "access_token_sealed");
        vault_secret_free(s);
    }
    return GW_OK;
}

static const char *or_null(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

static enum smtp_tls_mode tls_mode(enum store_tls tls)
{
    switch (tls) {
    case STORE_TLS_STARTTLS:
        return SMTP_TLS_STARTTLS;
    case STORE_TLS_IMPLICIT:
        return SMTP_TLS_IMPLICIT;
    case STORE_TLS_NONE:
        break;
    }
    return SMTP_TLS_NONE;
}

void core_credential_smtp(const struct store_credential *c,
                          struct smtp_server *out)
{
    memset(out, 0, sizeof(*out));
    out->host = c->host;
    out->port = c->port;
    out->ip_version = (int)c->ip_version;
    out->tls = tls_mode(c->tls);
    out->tls_params.ca_file = or_null(c->ca_file);
    out->tls_params.verify_peer = c->verify_peer;
    out->tls_params.check_server_identity = c->check_server_identity;
    out->tls_params.client_cert = or_null(c->client_cert);
    out->tls_params.client_key = or_null(c->client_key);
    out->helo_name = or_null(c->helo_name);
    out->username = or_null(c->username);
    out->mechanisms = c->mechanisms;
    out->auth_from = or_null(c->auth_from);
    out->allow_plaintext_auth = c->allow_plaintext_auth;
    out->ignore_failed_auth = c->ignore_failed_auth;
    out->waiting = c->waiting;
    out->timeout_ms = c->timeout_s * 1000;
    out->idle_ms = c->idle_timeout_s * 1000;
    out->timeouts.connect_ms = c->connect_timeout_s * 1000;
    out->timeouts.greeting_ms = c->greeting_timeout_s * 1000;
    out->timeouts.command_ms = c->command_timeout_s * 1000;
    out->timeouts.data_ms = c->data_timeout_s * 1000;
    out->timeouts.dot_ms = c->dot_timeout_s * 1000;
    out->deadline_ms = c->deadline_s * 1000;
}

/* Builds the pool of `e` from its settings and sealed secrets. */
static enum gw_err build_pool(struct entry *e, struct smtp_reaper *reaper,
                              struct gw_error *err)
{
    struct smtp_server srv;

    core_credential_smtp(&e->cred, &srv);
    e->secrets = (struct smtp_secrets){
        .has_password = e->cred.password_box[0] != '\0',
        .has_access_token = e->cred.access_token_box[0] != '\0',
        .open = open_secret,
        .close = close_secret,
        .arg = e,
    };
    if (srv.username != NULL)
        srv.secrets = &e->secrets;
    e->pool = smtp_pool_new(&srv, e->cred.pool, reaper, err);
    return e->pool != NULL ? GW_OK : err->code;
}

/*
 * A new entry for `c` with one reference. When something is wrong with
 * it, `strict` (a PUT) makes that an error; otherwise (start-up) the
 * entry is kept, unusable, with the reason.
 */
static struct entry *entry_new(const struct store_credential *c, bool from_env,
                               const struct core_creds *st, bool strict,
                               struct gw_error *err)
{
    struct entry *e = calloc(1, sizeof(*e));
    struct gw_error why = {0};

    if (e == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    e->cred = *c;
    e->from_env = from_env;
    e->vault = st->vault;
    e->refs = 1;
    if (check_boxes(e, &why) == GW_OK)
        build_pool(e, st->reaper, &why);
    else
        e->box_failed = true;
    if (e->pool != NULL)
        return e;
    if (strict) {
        entry_free(e);
        gw_error_set(err, why.code == GW_ENOMEM ? GW_ENOMEM : GW_EINVAL, "%s",
                     why.detail);
        return NULL;
    }
    snprintf(e->error, sizeof(e->error), "%s", why.detail);
    return e;
}

/* Drops one reference; the last one frees (outside the lock). */
static void entry_release(struct core_creds *st, struct entry *e)
{
    bool last;

    if (e == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    last = --e->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (last)
        entry_free(e);
}

static void log_entry(const struct entry *e)
{
    char shown[LOG_QUOTE_MAX];

    if (e->pool != NULL)
        log_info("event=credential name=%s source=%s host=%s", e->cred.name,
                 e->from_env ? "environment" : "store", e->cred.host);
    else
        log_error("event=credential_unusable name=%s source=%s detail=%s",
                  e->cred.name, e->from_env ? "environment" : "store",
                  log_quote(shown, sizeof(shown), e->error));
}

/* Why the store could not be changed, or "" when it can. */
static void check_writable(struct core_creds *st)
{
    struct gw_error why = {0};

    if (store_writable(st->store, STORE_CREDENTIALS, &why) != GW_OK)
        snprintf(st->read_only, sizeof(st->read_only), "%s", why.detail);
}

/* Reads the store into new entries (none when it has none yet). */
static enum gw_err load_file(struct core_creds *st, struct gw_error *err)
{
    struct store_credential *creds = NULL;
    char key_id[VAULT_KEY_ID_LEN + 1];
    size_t n = 0;
    enum gw_err rc;

    rc = store_creds_load(st->store, key_id, sizeof(key_id), &creds, &n, err);
    if (rc == GW_ENOTFOUND)
        return GW_OK;
    if (rc != GW_OK)
        return rc;
    if (key_id[0] != '\0' && strcmp(key_id, vault_key_id(st->vault)) != 0)
        log_warn("event=store_key_mismatch path=%s sealed_for=%s key_id=%s",
                 store_where(st->store, STORE_CREDENTIALS), key_id,
                 vault_key_id(st->vault));
    st->v = calloc(n + 1, sizeof(*st->v));
    for (size_t i = 0; st->v != NULL && i < n && rc == GW_OK; i++) {
        st->v[i] = entry_new(&creds[i], false, st, false, err);
        rc = st->v[i] != NULL ? GW_OK : err->code;
        st->n += rc == GW_OK;
    }
    explicit_bzero(creds, n * sizeof(*creds));
    free(creds);
    if (st->v == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    return rc;
}

struct core_creds *core_creds_open(struct store *store,
                                   const struct vault *vault,
                                   const struct store_credential *env_default,
                                   struct gw_error *err)
{
    struct core_creds *st = calloc(1, sizeof(*st));

    if (st == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    st->store = store;
    st->vault = vault;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->edit, NULL);
    st->reaper = smtp_reaper_new(err);
    if (st->reaper == NULL || load_file(st, err) != GW_OK)
        goto fail;
    if (env_default != NULL) {
        st->env_default = entry_new(env_default, true, st, false, err);
        if (st->env_default == NULL)
            goto fail;
        /* Settings in the environment are checked like every other
           setting: a mistake there stops the start. */
        if (st->env_default->pool == NULL && !st->env_default->box_failed) {
            gw_error_set(err, GW_EINVAL,
                         "the default credential (GATEWAY_SMTP_*): %s",
                         st->env_default->error);
            goto fail;
        }
    }
    check_writable(st);
    for (size_t i = 0; i < st->n; i++)
        log_entry(st->v[i]);
    if (st->env_default != NULL)
        log_entry(st->env_default);
    return st;
fail:
    core_creds_free(st);
    return NULL;
}

void core_creds_free(struct core_creds *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++)
        entry_release(st, st->v[i]);
    entry_release(st, st->env_default);
    /* Every pool is gone now (no send may hold one): the reaper last. */
    smtp_reaper_free(st->reaper);
    free(st->v);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->edit);
    free(st);
}

/* The stored credential `name`, else the environment's `default`. */
static struct entry *find(const struct core_creds *st, const char *name,
                          size_t *at)
{
    for (size_t i = 0; i < st->n; i++) {
        if (strcmp(st->v[i]->cred.name, name) == 0) {
            if (at != NULL)
                *at = i;
            return st->v[i];
        }
    }
    if (st->env_default != NULL && strcmp(name, "default") == 0) {
        if (at != NULL)
            *at = st->n;
        return st->env_default;
    }
    return NULL;
}

/* Takes a reference on credential `name`, usable or not. */
static struct entry *hold(struct core_creds *st, const char *name)
{
    struct entry *e;

    pthread_mutex_lock(&st->lock);
    e = find(st, name, NULL);
    if (e != NULL)
        e->refs++;
    pthread_mutex_unlock(&st->lock);
    return e;
}

struct smtp_pool *core_creds_get(struct core_creds *st, const char *name,
                                 void **held, struct gw_error *err)
{
    struct entry *e = hold(st, name);

    if (e == NULL) {
        gw_error_set(err, GW_ENOTFOUND, "no credential is named %s", name);
        return NULL;
    }
    if (e->pool == NULL) {
        gw_error_set(err, GW_ECONFLICT,
                     "the credential \"%s\" cannot be used: %s", name,
                     e->error);
        entry_release(st, e);
        return NULL;
    }
    *held = e;
    return e->pool;
}

void core_creds_put(struct core_creds *st, void *held)
{
    entry_release(st, held);
}

static void info_of(const struct entry *e, struct core_cred_info *out)
{
    out->cred = e->cred;
    out->from_env = e->from_env;
    out->usable = e->pool != NULL;
    snprintf(out->error, sizeof(out->error), "%s", e->error);
}

enum gw_err core_creds_list(struct core_creds *st, struct core_cred_info **out,
                            size_t *n, struct gw_error *err)
{
    size_t k = 0;

    pthread_mutex_lock(&st->lock);
    *out = calloc(st->n + 1, sizeof(**out));
    for (size_t i = 0; *out != NULL && i < st->n; i++)
        info_of(st->v[i], &(*out)[k++]);
    if (*out != NULL && st->env_default != NULL &&
        find(st, "default", NULL) == st->env_default)
        info_of(st->env_default, &(*out)[k++]);
    pthread_mutex_unlock(&st->lock);
    *n = k;
    return *out != NULL ? GW_OK : gw_error_set(err, GW_ENOMEM, "out of memory");
}

enum gw_err core_creds_info(struct core_creds *st, const char *name,
                            struct core_cred_info *out, struct gw_error *err)
{
    struct entry *e = hold(st, name);

    if (e == NULL)
        return gw_error_set(err, GW_ENOTFOUND, "no credential is named \"%s\"",
                            name);
    info_of(e, out);
    entry_release(st, e);
    return GW_OK;
}

/*
 * Saves the stored credentials `v` to the store, unless another writer
 * changed it since this process last read or wrote it; its lock is held.
 */
static enum gw_err write_file(struct core_creds *st, struct entry *const *v,
                              size_t n, struct gw_error *err)
{
    const struct store_credential **creds = calloc(n + 1, sizeof(*creds));
    enum gw_err rc;

    if (creds == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        creds[i] = &v[i]->cred;
    if (store_changed(st->store, STORE_CREDENTIALS))
        rc = gw_error_set(err, GW_ECONFLICT,
                          "%s changed on disk since the gateway read it "
                          "(smtp-gateway rekey?): restart the gateway to use "
                          "it",
                          store_where(st->store, STORE_CREDENTIALS));
    else
        rc =
            store_creds_save(st->store, vault_key_id(st->vault), creds, n, err);
    free(creds);
    return rc;
}

/*
 * Makes the stored list `v` (n entries) the store's, writing the file
 * first; the entries no longer listed lose the store's reference.
 */
static enum gw_err commit(struct core_creds *st, struct entry **v, size_t n,
                          struct entry *gone, struct gw_error *err)
{
    struct entry **old;
    enum gw_err rc;

    if (st->read_only[0] != '\0')
        rc = gw_error_set(err, GW_ECONFLICT, "%s", st->read_only);
    else if (store_lock(st->store, STORE_CREDENTIALS, err) == GW_OK) {
        rc = write_file(st, v, n, err);
        store_unlock(st->store, STORE_CREDENTIALS);
    } else
        rc = err->code;
    if (rc != GW_OK) {
        free(v);
        return rc;
    }
    pthread_mutex_lock(&st->lock);
    old = st->v;
    st->v = v;
    st->n = n;
    pthread_mutex_unlock(&st->lock);
    free(old);
    entry_release(st, gone);
    return GW_OK;
}

/* Puts `e` into a copy of the stored list, in place of `name` if there. */
static enum gw_err replace(struct core_creds *st, struct entry *e,
                           bool *created, struct gw_error *err)
{
    struct entry **v = calloc(st->n + 2, sizeof(*v)), *gone = NULL;
    size_t n = st->n, at = n;

    if (v == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    if (st->n > 0)
        memcpy(v, st->v, st->n * sizeof(*v));
    for (size_t i = 0; i < st->n; i++) {
        if (strcmp(v[i]->cred.name, e->cred.name) == 0)
            at = i;
    }
    if (at == n && n == STORE_RECORDS_MAX) {
        free(v);
        return gw_error_set(err, GW_ECONFLICT,
                            "the store holds %d credentials already",
                            STORE_RECORDS_MAX);
    }
    if (at < n)
        gone = v[at];
    else
        n++;
    v[at] = e;
    *created = gone == NULL;
    return commit(st, v, n, gone, err);
}

enum gw_err core_creds_set(struct core_creds *st,
                           const struct store_credential *c, bool *created,
                           struct gw_error *err)
{
    struct entry *e = entry_new(c, false, st, true, err);
    enum gw_err rc;

    if (e == NULL)
        return err->code;
    pthread_mutex_lock(&st->edit);
    rc = replace(st, e, created, err);
    pthread_mutex_unlock(&st->edit);
    if (rc != GW_OK) {
        entry_free(e);
        return rc;
    }
    log_info("event=credential_saved name=%s created=%s host=%s", c->name,
             *created ? "true" : "false", c->host);
    return GW_OK;
}

enum gw_err core_creds_delete(struct core_creds *st, const char *name,
                              struct gw_error *err)
{
    struct entry **v, *e;
    size_t at = 0;
    enum gw_err rc;

    pthread_mutex_lock(&st->edit);
    e = find(st, name, &at);
    if (e == NULL || e->from_env) {
        pthread_mutex_unlock(&st->edit);
        if (e == NULL)
            return gw_error_set(err, GW_ENOTFOUND,
                                "no credential is named \"%s\"", name);
        return gw_error_set(err, GW_ECONFLICT,
                            "the default credential comes from the "
                            "environment (GATEWAY_SMTP_*); change it there");
    }
    v = calloc(st->n + 1, sizeof(*v));
    if (v == NULL) {
        pthread_mutex_unlock(&st->edit);
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    memcpy(v, st->v, at * sizeof(*v));
    memcpy(v + at, st->v + at + 1, (st->n - at - 1) * sizeof(*v));
    rc = commit(st, v, st->n - 1, e, err);
    pthread_mutex_unlock(&st->edit);
    if (rc == GW_OK)
        log_info("event=credential_deleted name=%s", name);
    return rc;
}

enum gw_err core_creds_verify(struct core_creds *st, const char *name,
                              struct smtp_verify *out, struct gw_error *err)
{
    struct entry *e = hold(st, name);

    if (e == NULL)
        return gw_error_set(err, GW_ENOTFOUND, "no credential is named \"%s\"",
                            name);
    if (e->pool != NULL) {
        smtp_pool_verify(e->pool, out);
    } else {
        memset(out, 0, sizeof(*out));
        gw_error_set(&out->error, GW_ECONFLICT,
                     "the credential cannot be used: %s", e->error);
    }
    entry_release(st, e);
    return GW_OK;
}

/* Re-seals one box of credential `c` in place; `*n` counts them. */
static enum gw_err reseal_box(const struct vault *from, const struct vault *to,
                              const char *name, const char *field, char *box,
                              size_t *n, struct gw_error *err)
{
    struct gw_error why = {0};
    struct buf out;
    enum gw_err rc;

    if (box[0] == '\0')
        return GW_OK;
    buf_init(&out, STORE_BOX_MAX - 1);
    rc = vault_reseal(from, vault_public_key(to), box, &out, &why);
    if (rc == GW_OK) {
        memcpy(box, out.data, out.len + 1);
        (*n)++;
    } else {
        gw_error_set(err, rc,
                     "credential %s: %s: %s; fix or delete it first, so "
                     "that no secret is lost",
                     name, field, why.detail);
    }
    buf_free(&out);
    return rc;
}

/* Re-seals every box of `creds` from `from` to `to` and saves them. */
static enum gw_err reseal_all(struct store *store,
                              struct store_credential *creds, size_t count,
                              const struct vault *from, const struct vault *to,
                              size_t *n, struct gw_error *err)
{
    const struct store_credential **list = calloc(count + 1, sizeof(*list));
    enum gw_err rc = list != NULL ? GW_OK : GW_ENOMEM;

    for (size_t i = 0; rc == GW_OK && i < count; i++) {
        struct store_credential *c = &creds[i];

        list[i] = c;
        rc = reseal_box(from, to, c->name, "password_sealed", c->password_box,
                        n, err);
        if (rc == GW_OK)
            rc = reseal_box(from, to, c->name, "access_token_sealed",
                            c->access_token_box, n, err);
    }
    if (rc == GW_OK)
        rc = store_creds_save(store, vault_key_id(to), list, count, err);
    free(list);
    return rc == GW_ENOMEM ? gw_error_set(err, rc, "out of memory") : rc;
}

enum gw_err core_creds_rekey(struct store *store, const struct vault *from,
                             const struct vault *to, size_t *n,
                             struct gw_error *err)
{
    struct store_credential *creds = NULL;
    char key_id[VAULT_KEY_ID_LEN + 1];
    size_t count = 0;
    enum gw_err rc;

    *n = 0;
    if (store_lock(store, STORE_CREDENTIALS, err) != GW_OK)
        return err->code;
    rc = store_creds_load(store, key_id, sizeof(key_id), &creds, &count, err);
    if (rc == GW_OK)
        rc = reseal_all(store, creds, count, from, to, n, err);
    if (rc == GW_ENOTFOUND)
        rc = GW_OK; /* no store yet: nothing to re-seal */
    store_unlock(store, STORE_CREDENTIALS);
    if (creds != NULL)
        explicit_bzero(creds, count * sizeof(*creds));
    free(creds);
    return rc;
}

void core_creds_key_id(struct store *store, char *key_id)
{
    struct store_credential *creds = NULL;
    struct gw_error err = {0};
    size_t n = 0;

    store_creds_load(store, key_id, VAULT_KEY_ID_LEN + 1, &creds, &n, &err);
    if (creds != NULL)
        explicit_bzero(creds, n * sizeof(*creds));
    free(creds);
}
