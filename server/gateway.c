/* The key pair, credentials and tokens behind the API; see gateway.h. */
#include "gateway.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "store/store.h"
#include "core/core.h"

struct srv_gateway {
    struct store *records; /* where credentials and tokens are kept */
    struct vault *vault;
    struct core_creds *creds;
    struct core_tokens *tokens;
};

enum gw_err srv_paths_of(const struct srv_config *cfg,
                         struct core_key_paths *out, struct gw_error *err)
{
    if (core_keys_paths(cfg->data_dir, cfg->credentials_file, out, err) !=
        GW_OK)
        return gw_error_prefix(err, "GATEWAY_DATA_DIR");
    return GW_OK;
}

struct store *srv_store_open(const struct core_key_paths *paths,
                             struct gw_error *err)
{
    return store_open_files(paths->credentials, paths->tokens, err);
}

struct vault *srv_key_load(const struct srv_config *cfg,
                           const struct core_key_paths *paths,
                           struct store *records, bool create,
                           enum core_key_source *source, struct gw_error *err)
{
    const struct core_key_given given = {
        .key = cfg->secret_key,
        .key_name = "GATEWAY_SECRET_KEY",
        .file = cfg->secret_key_file,
    };

    return core_keys_load(&given, paths, records, create, source, err);
}

const char *srv_key_source_name(enum core_key_source source)
{
    switch (source) {
    case CORE_KEY_GIVEN:
        return "GATEWAY_SECRET_KEY";
    case CORE_KEY_GIVEN_FILE:
        return "GATEWAY_SECRET_KEY_FILE";
    default:
        return "data_dir";
    }
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
    enum core_key_source source = CORE_KEY_DATA_DIR;
    struct core_key_paths paths;

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
    gw->vault = srv_key_load(cfg, &paths, gw->records, true, &source, err);
    explicit_bzero(cfg->secret_key, sizeof(cfg->secret_key));
    if (gw->vault == NULL || open_creds(gw, cfg, err) != GW_OK)
        goto fail;
    /* Only now: a configuration error is the one line on stderr. */
    if (source == CORE_KEY_DATA_DIR_NEW)
        log_info("event=key_generated key_id=%s path=%s",
                 vault_key_id(gw->vault), paths.key);
    log_info("event=key key_id=%s source=%s", vault_key_id(gw->vault),
             srv_key_source_name(source));
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
