/* API tokens by their hashes, and their file; see core.h. */
#include "core.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "store/store.h"

struct core_tokens {
    struct store *store; /* where the tokens are kept */
    pthread_mutex_t lock;
    const struct vault *vault;         /* the gateway's key pair */
    struct vault_hash_key *key;        /* the key of the stored hashes */
    struct store_tokens_keying keying; /* as the file has it */
    struct store_token *v;             /* the stored tokens */
    size_t n;
    char bootstrap_v1[VAULT_HASH_MAX]; /* "" when there is none */
    char bootstrap[VAULT_HASH_MAX];    /* the same, keyed with `key` */
};

/* Takes `key` as the key of the hashes, for `keying`. */
static void set_key(struct core_tokens *t, struct vault_hash_key *key,
                    const struct store_tokens_keying *keying)
{
    vault_hash_key_free(t->key);
    t->key = key;
    t->keying = *keying;
    if (t->bootstrap_v1[0] != '\0')
        vault_token_rehash(key, t->bootstrap_v1, t->bootstrap);
}

/*
 * Reads the file again when it was replaced; the lock is held. While
 * the gateway runs only a file of version 2 is taken, whose hash key
 * opens with its key pair: one of version 1 is carried over at start.
 */
static enum gw_err refresh(struct core_tokens *t, struct gw_error *err)
{
    const char *where = store_where(t->store, STORE_TOKENS);
    struct store_tokens_keying keying;
    struct vault_hash_key *key = NULL;
    struct store_token *v;
    size_t n;

    if (t->v != NULL && !store_changed(t->store, STORE_TOKENS))
        return GW_OK;
    if (store_tokens_load(t->store, &keying, &v, &n, err) != GW_OK) {
        store_forget(t->store, STORE_TOKENS);
        return err->code;
    }
    if (keying.version != 2) {
        free(v);
        store_forget(t->store, STORE_TOKENS);
        return gw_error_set(err, GW_EINVAL,
                            "%s: a token file of version %d; the gateway "
                            "carries it over to version 2 when it starts",
                            where, keying.version);
    }
    if (strcmp(keying.hash_key, t->keying.hash_key) != 0) {
        key = vault_hash_key_unwrap(t->vault, keying.hash_key, err);
        if (key == NULL) {
            free(v);
            store_forget(t->store, STORE_TOKENS);
            return gw_error_prefix(err, where);
        }
        set_key(t, key, &keying);
    }
    free(t->v);
    t->v = v;
    t->n = n;
    return GW_OK;
}

/* Saves `v` to the store; its lock and t->lock are held. */
static enum gw_err write_list(struct core_tokens *t,
                              const struct store_token *v, size_t n,
                              struct gw_error *err)
{
    return store_tokens_save(t->store, &t->keying, v, n, err);
}

/*
 * A file of version 1 (hashes keyed with a constant) or none: a new hash
 * key, every hash keyed with it, written as version 2. Both locks held.
 */
static enum gw_err migrate(struct core_tokens *t, struct store_token *v,
                           size_t n, int version, struct gw_error *err)
{
    struct store_tokens_keying keying = {.version = 2};
    struct vault_hash_key *key = vault_hash_key_new(err);

    if (key == NULL)
        return err->code;
    snprintf(keying.key_id, sizeof(keying.key_id), "%s",
             vault_key_id(t->vault));
    vault_hash_key_wrap(t->vault, key, keying.hash_key);
    for (size_t i = 0; i < n; i++) {
        if (!vault_token_rehash(key, v[i].hash, v[i].hash)) {
            vault_hash_key_free(key);
            return gw_error_set(err, GW_EINVAL, "tokens[%zu]: bad hash", i);
        }
    }
    set_key(t, key, &keying);
    t->v = v;
    t->n = n;
    /* With no file yet, a data directory the gateway may not write
       still serves the bootstrap token, as before there were files. */
    if (write_list(t, v, n, err) != GW_OK)
        return version == 0 && err->code == GW_ECONFLICT ? GW_OK : err->code;
    if (version == 1)
        log_info("event=tokens_migrated tokens=%zu key_id=%s", n,
                 keying.key_id);
    return GW_OK;
}

/* The first reading, under the store's lock: carries version 1 over. */
static enum gw_err first_read(struct core_tokens *t, struct gw_error *err)
{
    struct store_tokens_keying keying;
    struct store_token *v;
    size_t n;
    enum gw_err rc;

    if (store_lock(t->store, STORE_TOKENS, err) != GW_OK)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = store_tokens_load(t->store, &keying, &v, &n, err);
    if (rc == GW_OK && keying.version == 2) {
        free(v);
        rc = refresh(t, err);
    } else if (rc == GW_OK) {
        rc = migrate(t, v, n, keying.version, err);
        if (t->v != v)
            free(v);
    }
    pthread_mutex_unlock(&t->lock);
    store_unlock(t->store, STORE_TOKENS);
    return rc;
}

struct core_tokens *core_tokens_open(struct store *store,
                                     const struct vault *vault,
                                     const char *bootstrap,
                                     struct gw_error *err)
{
    struct core_tokens *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    t->store = store;
    pthread_mutex_init(&t->lock, NULL);
    t->vault = vault;
    if (bootstrap != NULL)
        vault_token_hash(NULL, bootstrap, t->bootstrap_v1);
    if (first_read(t, err) != GW_OK) {
        core_tokens_free(t);
        return NULL;
    }
    return t;
}

enum gw_err core_tokens_rekey(struct core_tokens *t, const struct vault *next,
                              struct gw_error *err)
{
    enum gw_err rc;

    if (store_lock(t->store, STORE_TOKENS, err) != GW_OK)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    if (rc == GW_OK) {
        t->vault = next;
        snprintf(t->keying.key_id, sizeof(t->keying.key_id), "%s",
                 vault_key_id(next));
        vault_hash_key_wrap(next, t->key, t->keying.hash_key);
        rc = write_list(t, t->v, t->n, err);
    }
    pthread_mutex_unlock(&t->lock);
    store_unlock(t->store, STORE_TOKENS);
    return rc;
}

void core_tokens_key_id(struct store *store, char *key_id)
{
    struct store_tokens_keying keying;
    struct gw_error err = {0};
    struct store_token *v = NULL;
    size_t n;

    key_id[0] = '\0';
    if (store_tokens_load(store, &keying, &v, &n, &err) == GW_OK &&
        keying.version == 2)
        snprintf(key_id, VAULT_KEY_ID_LEN + 1, "%s", keying.key_id);
    free(v);
}

void core_tokens_free(struct core_tokens *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    vault_hash_key_free(t->key);
    free(t->v);
    explicit_bzero(t, sizeof(*t));
    free(t);
}

bool core_tokens_check(struct core_tokens *t, const char *token,
                       struct store_token *caller)
{
    char hash[VAULT_HASH_MAX];
    struct gw_error err = {0};
    const struct store_token *found = NULL;
    bool boot;

    pthread_mutex_lock(&t->lock);
    if (refresh(t, &err) != GW_OK)
        log_warn("event=tokens_unreadable detail=\"%s\"", err.detail);
    vault_token_hash(t->key, token, hash);
    /* No early exit: every hash is compared whatever matches. */
    boot = t->bootstrap[0] != '\0' && vault_hash_equal(hash, t->bootstrap);
    for (size_t i = 0; i < t->n; i++) {
        if (vault_hash_equal(hash, t->v[i].hash))
            found = &t->v[i];
    }
    memset(caller, 0, sizeof(*caller));
    if (boot) {
        snprintf(caller->name, sizeof(caller->name), SRV_BOOTSTRAP_NAME);
        caller->scope = STORE_SCOPE_ADMIN;
    } else if (found != NULL) {
        *caller = *found;
        caller->hash[0] = '\0';
    }
    pthread_mutex_unlock(&t->lock);
    explicit_bzero(hash, sizeof(hash));
    return boot || found != NULL;
}

static void now_rfc3339(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends `rec` as a new token; the locks are held, the list fresh. */
static enum gw_err add(struct core_tokens *t, struct store_token *rec,
                       char *token, struct gw_error *err)
{
    struct store_token *v;

    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, rec->name) == 0)
            return gw_error_set(err, GW_EINVAL,
                                "a token is named \"%s\" already; delete it "
                                "first",
                                rec->name);
    }
    if (t->n == STORE_RECORDS_MAX)
        return gw_error_set(err, GW_ECONFLICT, "there are %d tokens already",
                            STORE_RECORDS_MAX);
    v = realloc(t->v, (t->n + 1) * sizeof(*v));
    if (v == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    t->v = v;
    vault_token_new(token);
    vault_token_hash(t->key, token, rec->hash);
    now_rfc3339(rec->created, sizeof(rec->created));
    v[t->n] = *rec;
    if (write_list(t, v, t->n + 1, err) != GW_OK)
        return err->code;
    t->n++;
    return GW_OK;
}

enum gw_err core_tokens_create(struct core_tokens *t, struct store_token *rec,
                               char *token, size_t size, struct gw_error *err)
{
    enum gw_err rc;

    if (size < VAULT_TOKEN_MAX)
        return gw_error_set(err, GW_EINVAL, "no room for a token");
    if (strcmp(rec->name, SRV_BOOTSTRAP_NAME) == 0)
        return gw_error_set(err, GW_EINVAL,
                            "\"%s\" is the name of GATEWAY_API_TOKEN",
                            SRV_BOOTSTRAP_NAME);
    if (store_lock(t->store, STORE_TOKENS, err) != GW_OK)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    if (rc == GW_OK)
        rc = add(t, rec, token, err);
    pthread_mutex_unlock(&t->lock);
    store_unlock(t->store, STORE_TOKENS);
    if (rc == GW_OK)
        log_info("event=token_created name=%s scope=%s", rec->name,
                 store_scope_name(rec->scope));
    else
        explicit_bzero(token, size);
    return rc;
}

enum gw_err core_tokens_list(struct core_tokens *t, struct store_token **out,
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
static enum gw_err remove_one(struct core_tokens *t, const char *name,
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
        store_forget(t->store, STORE_TOKENS); /* read it again next time */
        return err->code;
    }
    t->n--;
    return GW_OK;
}

enum gw_err core_tokens_delete(struct core_tokens *t, const char *name,
                               struct gw_error *err)
{
    enum gw_err rc;

    if (store_lock(t->store, STORE_TOKENS, err) != GW_OK)
        return err->code;
    pthread_mutex_lock(&t->lock);
    rc = refresh(t, err);
    if (rc == GW_OK)
        rc = remove_one(t, name, err);
    pthread_mutex_unlock(&t->lock);
    store_unlock(t->store, STORE_TOKENS);
    if (rc == GW_OK)
        log_info("event=token_deleted name=%s", name);
    return rc;
}
