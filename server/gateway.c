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
    struct core_creds *store;
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
                           const struct core_key_paths *paths, bool create,
                           enum core_key_source *source, struct gw_error *err)
{
    const struct core_key_given given = {
        .key = cfg->secret_key,
        .key_name = "GATEWAY_SECRET_KEY",
        .file = cfg->secret_key_file,
    };

    return core_keys_load(&given, paths, create, source, err);
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
        gw->store = core_creds_open(gw->records, gw->vault, def, err);
    explicit_bzero(def, sizeof(*def));
    free(def);
    return gw->store != NULL ? GW_OK : err->code;
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
    gw->vault = srv_key_load(cfg, &paths, true, &source, err);
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
    core_creds_free(gw->store);
    store_close(gw->records);
    vault_free(gw->vault);
    free(gw);
}

/* struct api_ops, each a thin call into the vault, store or tokens. */

static bool op_authenticate(void *arg, const char *token,
                            struct store_token *caller)
{
    struct srv_gateway *gw = arg;

    return core_tokens_check(gw->tokens, token, caller);
}

static struct smtp_pool *op_get_pool(void *arg, const char *name, void **hold,
                                     struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_get(gw->store, name, hold, err);
}

static void op_put_pool(void *arg, void *hold)
{
    struct srv_gateway *gw = arg;

    core_creds_put(gw->store, hold);
}

static void op_public_key(void *arg, const char **key_id, const char **key)
{
    struct srv_gateway *gw = arg;

    *key_id = vault_key_id(gw->vault);
    *key = vault_public_key(gw->vault);
}

static enum gw_err op_seal(void *arg, const char *secret, struct buf *box,
                           struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return vault_seal(vault_public_key(gw->vault), secret, strlen(secret), box,
                      err);
}

static enum gw_err op_cred_list(void *arg, struct core_cred_info **out,
                                size_t *n, struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_list(gw->store, out, n, err);
}

static enum gw_err op_cred_get(void *arg, const char *name,
                               struct core_cred_info *out, struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_info(gw->store, name, out, err);
}

static enum gw_err op_cred_put(void *arg, const struct store_credential *c,
                               bool *created, struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_set(gw->store, c, created, err);
}

static enum gw_err op_cred_delete(void *arg, const char *name,
                                  struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_delete(gw->store, name, err);
}

static enum gw_err op_cred_verify(void *arg, const char *name,
                                  struct smtp_verify *out, struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_creds_verify(gw->store, name, out, err);
}

static enum gw_err op_token_create(void *arg, struct store_token *t,
                                   char *token, size_t size,
                                   struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_tokens_create(gw->tokens, t, token, size, err);
}

static enum gw_err op_token_list(void *arg, struct store_token **out, size_t *n,
                                 struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_tokens_list(gw->tokens, out, n, err);
}

static enum gw_err op_token_delete(void *arg, const char *name,
                                   struct gw_error *err)
{
    struct srv_gateway *gw = arg;

    return core_tokens_delete(gw->tokens, name, err);
}

static const struct api_ops ops = {
    .authenticate = op_authenticate,
    .get_pool = op_get_pool,
    .put_pool = op_put_pool,
    .public_key = op_public_key,
    .seal = op_seal,
    .cred_list = op_cred_list,
    .cred_get = op_cred_get,
    .cred_put = op_cred_put,
    .cred_delete = op_cred_delete,
    .cred_verify = op_cred_verify,
    .token_create = op_token_create,
    .token_list = op_token_list,
    .token_delete = op_token_delete,
};

void srv_gateway_ctx(struct srv_gateway *gw, struct api_ctx *out)
{
    out->ops = &ops;
    out->arg = gw;
}
