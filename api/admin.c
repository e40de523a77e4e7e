/*
 * The admin routes of credentials and the public key:
 *
 *   GET    /v1/public-key               {"key_id", "public_key"}
 *   GET    /v1/credentials              every credential, no secrets
 *   GET    /v1/credentials/{name}       one, and which secrets it has
 *   PUT    /v1/credentials/{name}       create or replace
 *   DELETE /v1/credentials/{name}
 *   POST   /v1/credentials/{name}/verify  connect, TLS, EHLO, AUTH, QUIT
 *
 * A secret given in the clear in a PUT is sealed here, on arrival, and
 * only its box goes on; it is never stored, logged or echoed, and the
 * JSON that held it is wiped when freed (api_init()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void api_public_key_get(const struct api_route *route,
                        const struct api_ctx *ctx, const struct api_call *call,
                        struct api_response *resp)
{
    (void)route, (void)call;
    api_reply_json(resp, 200,
                   json_pack("{s:s, s:s}", "key_id", vault_key_id(ctx->vault),
                             "public_key", vault_public_key(ctx->vault)));
}

/* A credential as replies show it: settings, state, never a box. */
static json_t *info_json(const struct core_cred_info *info)
{
    json_t *settings = store_credential_to_json(&info->cred, false);
    json_t *obj =
        json_pack("{s:s, s:s, s:b, s:s?}", "name", info->cred.name, "source",
                  info->from_env ? "environment" : "store", "usable",
                  info->usable, "error", info->usable ? NULL : info->error);

    if (obj != NULL && settings != NULL)
        json_object_update(obj, settings);
    json_decref(settings);
    return obj;
}

void api_creds_list(const struct api_route *route, const struct api_ctx *ctx,
                    const struct api_call *call, struct api_response *resp)
{
    struct core_cred_info *list = NULL;
    struct gw_error err = {0};
    json_t *a;
    size_t n = 0;

    (void)route, (void)call;
    if (core_creds_list(ctx->creds, &list, &n, &err) != GW_OK) {
        api_error_from(resp, &err, NULL);
        return;
    }
    a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, info_json(&list[i]));
    free(list);
    api_reply_json(resp, 200, json_pack("{s:o}", "credentials", a));
}

void api_creds_get(const struct api_route *route, const struct api_ctx *ctx,
                   const struct api_call *call, struct api_response *resp)
{
    struct core_cred_info *info = malloc(sizeof(*info));
    char name[STORE_NAME_MAX + 1];
    struct gw_error err = {0};

    if (info == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return;
    }
    if (api_path_name(route, call->path, name, resp)) {
        if (core_creds_info(ctx->creds, name, info, &err) != GW_OK)
            api_error_from(resp, &err, NULL);
        else
            api_reply_json(resp, 200, info_json(info));
    }
    free(info);
}

/* Seals a secret given in the clear into `box` (STORE_BOX_MAX bytes). */
static bool seal_into(const struct api_ctx *ctx, const char *field,
                      const char *secret, char *box, struct api_response *resp)
{
    struct gw_error err = {0};
    struct buf b;
    bool ok;

    if (secret == NULL)
        return true;
    buf_init(&b, STORE_BOX_MAX - 1);
    ok = vault_seal(vault_public_key(ctx->vault), secret, strlen(secret), &b,
                    &err) == GW_OK;
    if (ok)
        memcpy(box, buf_cstr(&b), b.len + 1);
    else
        api_error(resp, 500, field, "%s: cannot be sealed: %s", field,
                  err.detail);
    buf_free(&b);
    return ok;
}

/* Checks the body into `c`, sealing any secret given in the clear. */
static bool take_put(const struct api_ctx *ctx, json_t *root, const char *name,
                     struct store_credential *c, struct api_response *resp)
{
    struct gw_field_error fe = {{0}, {0}};
    struct store_plain_secrets plain;

    if (!store_credential_from_json(root, name, c, &plain, &fe)) {
        api_error(resp, 400, fe.field, "%s: %s", fe.field, fe.text);
        return false;
    }
    return seal_into(ctx, "password", plain.password, c->password_box, resp) &&
           seal_into(ctx, "access_token", plain.access_token,
                     c->access_token_box, resp);
}

/* A refused PUT: the error names a field when it starts with one. */
static void put_failed(struct api_response *resp, const struct gw_error *err)
{
    static const char *const boxes[] = {"password_sealed",
                                        "access_token_sealed"};

    for (size_t i = 0; err->code == GW_EINVAL && i < 2; i++) {
        size_t n = strlen(boxes[i]);

        if (strncmp(err->detail, boxes[i], n) == 0 && err->detail[n] == ':') {
            api_error(resp, 400, boxes[i], "%s", err->detail);
            return;
        }
    }
    api_error_from(resp, err, NULL);
}

void api_creds_put(const struct api_route *route, const struct api_ctx *ctx,
                   const struct api_call *call, struct api_response *resp)
{
    struct core_cred_info *info = calloc(1, sizeof(*info));
    char name[STORE_NAME_MAX + 1];
    struct gw_error err = {0};
    json_t *root = NULL;
    bool created = false;

    if (info == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return;
    }
    if (!api_path_name(route, call->path, name, resp) ||
        (root = api_parse_body(call, resp)) == NULL ||
        !take_put(ctx, root, name, &info->cred, resp))
        goto out;
    if (core_creds_set(ctx->creds, &info->cred, &created, &err) != GW_OK) {
        put_failed(resp, &err);
        goto out;
    }
    info->usable = true;
    api_reply_json(resp, created ? 201 : 200, info_json(info));
out:
    json_decref(root);
    free(info);
}

void api_creds_delete(const struct api_route *route, const struct api_ctx *ctx,
                      const struct api_call *call, struct api_response *resp)
{
    char name[STORE_NAME_MAX + 1];
    struct gw_error err = {0};

    if (!api_path_name(route, call->path, name, resp))
        return;
    if (core_creds_delete(ctx->creds, name, &err) != GW_OK)
        api_error_from(resp, &err, NULL);
    else
        api_reply_json(
            resp, 200,
            json_pack("{s:s, s:s}", "status", "deleted", "name", name));
}

/* The AUTH mechanisms the server offers, as an array. */
static json_t *auth_json(const char *auth)
{
    json_t *a = json_array();

    while (a != NULL && *auth != '\0') {
        size_t k = strcspn(auth, " ");
        char name[sizeof(((struct smtp_caps *)NULL)->auth)];

        /* The server's own words, which need not be UTF-8. */
        if (k > 0 && k < sizeof(name)) {
            memcpy(name, auth, k);
            name[k] = '\0';
            json_array_append_new(a, api_json_text(name));
        }
        auth += k + (auth[k] == ' ');
    }
    return a;
}

/* What the server showed of itself during a verification. */
static json_t *server_json(const struct smtp_verify *v)
{
    const struct smtp_caps *c = &v->caps;

    return json_pack(
        "{s:o, s:b, s:b, s:o, s:b, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:o}",
        "greeting", api_json_text(v->greeting[0] ? v->greeting : NULL), "tls",
        v->tls, "authenticated", v->authenticated, "mechanism",
        api_json_text(v->mechanism), "esmtp", c->esmtp, "size",
        c->size_offered ? json_integer((json_int_t)c->size) : json_null(),
        "pipelining", c->pipelining, "8bitmime", c->eightbitmime, "smtputf8",
        c->smtputf8, "enhancedstatuscodes", c->enhancedstatuscodes, "dsn",
        c->dsn, "starttls", c->starttls, "auth", auth_json(c->auth));
}

static json_t *verify_json(const char *name, const struct smtp_verify *v)
{
    json_t *steps = json_array();

    for (size_t i = 0; i < v->n_steps; i++) {
        const struct smtp_verify_step *s = &v->steps[i];

        json_array_append_new(
            steps, json_pack("{s:s, s:b, s:o}", "step", s->name, "ok", s->ok,
                             "error", api_json_text(s->ok ? NULL : s->error)));
    }
    return json_pack("{s:s, s:b, s:o, s:o, s:o}", "credential", name, "ok",
                     v->ok, "error",
                     api_json_text(v->ok ? NULL : v->error.detail), "steps",
                     steps, "server", server_json(v));
}

void api_creds_verify(const struct api_route *route, const struct api_ctx *ctx,
                      const struct api_call *call, struct api_response *resp)
{
    struct smtp_verify *v = calloc(1, sizeof(*v));
    char name[STORE_NAME_MAX + 1];
    struct gw_error err = {0};

    if (v == NULL) {
        api_error(resp, 500, NULL, "out of memory");
        return;
    }
    if (api_path_name(route, call->path, name, resp)) {
        if (core_creds_verify(ctx->creds, name, v, &err) != GW_OK)
            api_error_from(resp, &err, NULL);
        else
            api_reply_json(resp, 200, verify_json(name, v));
    }
    free(v);
}
