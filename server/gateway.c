/* The key pair, credentials and tokens behind the API; see gateway.h. */
#include "gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "core/core.h"

struct srv_gateway {
    struct store *records; /* where credentials and tokens are kept */
    struct vault *vault;
    struct core_creds *creds;
    struct core_tokens *tokens;
};

enum gw_err srv_paths_of(const struct srv_config *cfg, struct srv_paths *out,
                         struct gw_error *err)
{
    const char *d = cfg->data_dir;
    bool ok =
        store_file_join(out->key, sizeof(out->key), d, SRV_KEY_FILE) &&
        store_file_join(out->public_key, sizeof(out->public_key), d,
                        SRV_PUBLIC_FILE) &&
        store_file_join(out->next_key, sizeof(out->next_key), d,
                        SRV_NEXT_KEY_FILE) &&
        store_file_join(out->tokens, sizeof(out->tokens), d, SRV_TOKENS_FILE);

    if (ok && cfg->credentials_file[0] != '\0')
        snprintf(out->credentials, sizeof(out->credentials), "%s",
                 cfg->credentials_file);
    else if (ok)
        ok = store_file_join(out->credentials, sizeof(out->credentials), d,
                             SRV_CREDENTIALS_FILE);
    if (!ok)
        return gw_error_set(err, GW_EINVAL,
                            "GATEWAY_DATA_DIR: the path is too long");
    return GW_OK;
}

struct store *srv_store_open(const struct srv_paths *paths,
                             struct gw_error *err)
{
    return store_open_files(paths->credentials, paths->tokens, err);
}

/*
 * Seals for `next` what of the store and the token file a stopped rekey
 * left sealed for `old`; `store_id` and `tokens_id` say for which key
 * each is now.
 */
static enum gw_err carry_over(struct store *records, const struct vault *old,
                              const struct vault *next, const char *store_id,
                              const char *tokens_id, struct gw_error *err)
{
    struct core_tokens *tokens;
    enum gw_err rc;
    size_t n;

    if (strcmp(store_id, vault_key_id(old)) == 0 &&
        core_creds_rekey(records, old, next, &n, err) != GW_OK)
        return err->code;
    if (strcmp(tokens_id, vault_key_id(old)) != 0)
        return GW_OK;
    tokens = core_tokens_open(records, old, NULL, err);
    if (tokens == NULL)
        return err->code;
    rc = core_tokens_rekey(tokens, next, err);
    core_tokens_free(tokens);
    return rc;
}

/*
 * A rekey writes the new key beside the old one, seals the store and the
 * token file for it, one after the other, then renames the new key over
 * the old. Stopped once either file is sealed for the new key, the rekey
 * is finished here: the other file is carried over, the key renamed.
 * Stopped before, every file still matches the old key: the new one is
 * dropped. Either way every file matches the one key that stays.
 */
static void finish_rekey(const struct srv_paths *paths)
{
    char store_id[VAULT_KEY_ID_LEN + 1] = "",
                                     tokens_id[VAULT_KEY_ID_LEN + 1] = "";
    struct gw_error err = {0};
    struct vault *old, *next;
    struct store *records;
    bool begun;

    if (access(paths->next_key, F_OK) != 0)
        return;
    records = srv_store_open(paths, &err);
    next = vault_load(paths->next_key, &err);
    old = vault_load(paths->key, &err);
    if (records != NULL) {
        core_creds_key_id(records, store_id);
        core_tokens_key_id(records, tokens_id);
    }
    begun = records != NULL && next != NULL && old != NULL &&
            (strcmp(store_id, vault_key_id(next)) == 0 ||
             strcmp(tokens_id, vault_key_id(next)) == 0);
    if (!begun) {
        unlink(paths->next_key);
        log_warn("event=rekey_abandoned path=%s", paths->next_key);
    } else if (carry_over(records, old, next, store_id, tokens_id, &err) !=
                   GW_OK ||
               rename(paths->next_key, paths->key) != 0) {
        /* The new key stays: files are sealed for it. */
        log_error("event=rekey_unfinished path=%s detail=\"%s\"",
                  paths->next_key,
                  err.code != GW_OK ? err.detail : GW_ERRNO_TEXT(errno));
    } else {
        vault_save(next, NULL, paths->public_key, &err);
        log_warn("event=rekey_finished key_id=%s", vault_key_id(next));
    }
    vault_free(old);
    vault_free(next);
    store_close(records);
}

/* The data directory's key pair, made on first start when allowed. */
static struct vault *data_dir_key(const struct srv_paths *paths, bool create,
                                  const char **source, struct gw_error *err)
{
    struct vault *v;

    finish_rekey(paths);
    if (access(paths->key, F_OK) == 0 || !create)
        return vault_load(paths->key, err);
    v = vault_generate(err);
    if (v != NULL &&
        vault_save(v, paths->key, paths->public_key, err) != GW_OK) {
        vault_free(v);
        return NULL;
    }
    *source = "data_dir_new";
    return v;
}

struct vault *srv_key_load(const struct srv_config *cfg,
                           const struct srv_paths *paths, bool create,
                           const char **source, struct gw_error *err)
{
    if (!vault_init()) {
        gw_error_set(err, GW_EINVAL, "libsodium cannot start");
        return NULL;
    }
    if (cfg->secret_key[0] != '\0') {
        *source = "GATEWAY_SECRET_KEY";
        return vault_from_base64(cfg->secret_key, "GATEWAY_SECRET_KEY", err);
    }
    if (cfg->secret_key_file[0] != '\0') {
        *source = "GATEWAY_SECRET_KEY_FILE";
        return vault_load(cfg->secret_key_file, err);
    }
    *source = "data_dir";
    return data_dir_key(paths, create, source, err);
}

/* Seals one secret given in the clear into `box`, then wipes it. */
static enum gw_err seal_plain(const struct vault *v, char *plain, size_t size,
                              char *box, const char *what, struct gw_error *err)
{
    struct buf b;
    enum gw_err rc = GW_OK;

    if (plain[0] != '\0') {
        buf_init(&b, STORE_BOX_MAX - 1);
        rc = vault_seal(vault_public_key(v), plain, strlen(plain), &b, err);
        if (rc == GW_OK)
            memcpy(box, b.data, b.len + 1);
        else
            gw_error_prefix(err, what);
        buf_free(&b);
    }
    explicit_bzero(plain, size);
    return rc;
}

/* The `default` of the environment, its secrets sealed. */
static enum gw_err env_default(struct srv_config *cfg, const struct vault *v,
                               struct store_credential *out,
                               struct gw_error *err)
{
    bool auth = cfg->smtp.username[0] != '\0';

    srv_config_credential(cfg, out);
    if (!auth) {
        explicit_bzero(cfg->smtp_password, sizeof(cfg->smtp_password));
        explicit_bzero(cfg->smtp_access_token, sizeof(cfg->smtp_access_token));
        return GW_OK;
    }
    if (seal_plain(v, cfg->smtp_password, sizeof(cfg->smtp_password),
                   out->password_box, "GATEWAY_SMTP_PASSWORD", err) != GW_OK)
        return err->code;
    return seal_plain(v, cfg->smtp_access_token, sizeof(cfg->smtp_access_token),
                      out->access_token_box, "GATEWAY_SMTP_ACCESS_TOKEN", err);
}

/* Opens the credentials with the environment's `default`. */
static enum gw_err open_creds(struct srv_gateway *gw, struct srv_config *cfg,
                              struct gw_error *err)
{
    struct store_credential *def = calloc(1, sizeof(*def));

    if (def == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    if (env_default(cfg, gw->vault, def, err) == GW_OK)
        gw->creds = core_creds_open(gw->records, gw->vault, def, err);
    explicit_bzero(def, sizeof(*def));
    free(def);
    return gw->creds != NULL ? GW_OK : err->code;
}

struct srv_gateway *srv_gateway_open(struct srv_config *cfg,
                                     struct gw_error *err)
{
    struct srv_gateway *gw = calloc(1, sizeof(*gw));
    struct srv_paths paths;
    const char *source = "";

    if (gw == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    if (srv_paths_of(cfg, &paths, err) != GW_OK)
        goto fail;
    gw->records = srv_store_open(&paths, err);
    if (gw->records == NULL)
        goto fail;
    /* The token file is read again while the gateway runs: no one else
       may write there, nor replace the key. */
    if (!store_file_check_private(cfg->data_dir, err)) {
        gw_error_prefix(err, "GATEWAY_DATA_DIR");
        goto fail;
    }
    gw->vault = srv_key_load(cfg, &paths, true, &source, err);
    explicit_bzero(cfg->secret_key, sizeof(cfg->secret_key));
    if (gw->vault == NULL || open_creds(gw, cfg, err) != GW_OK)
        goto fail;
    /* Only now: a configuration error is the one line on stderr. */
    if (strcmp(source, "data_dir_new") == 0)
        log_info("event=key_generated key_id=%s path=%s",
                 vault_key_id(gw->vault), paths.key);
    log_info("event=key key_id=%s source=%s", vault_key_id(gw->vault),
             strcmp(source, "data_dir_new") == 0 ? "data_dir" : source);
    gw->tokens = core_tokens_open(gw->records, gw->vault, cfg->api_token, err);
    explicit_bzero(cfg->api_token, sizeof(cfg->api_token));
    if (gw->tokens == NULL)
        goto fail;
    return gw;
fail:
    srv_gateway_free(gw);
    return NULL;
}

void srv_gateway_free(struct srv_gateway *gw)
{
    if (gw == NULL)
        return;
    core_tokens_free(gw->tokens);
    core_creds_free(gw->creds);
    store_close(gw->records);
    vault_free(gw->vault);
    free(gw);
}

void srv_gateway_ctx(struct srv_gateway *gw, struct api_ctx *out)
{
    out->vault = gw->vault;
    out->creds = gw->creds;
    out->tokens = gw->tokens;
}
