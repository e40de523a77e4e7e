/*
 * The token routes: POST, GET and DELETE /v1/tokens (admin scope). A new
 * token is shown once, in the reply to its creation; only its hash is
 * kept anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store/store.h"

void api_tokens_post(const struct api_route *route, const struct api_ctx *ctx,
                     const struct api_call *call, struct api_response *resp)
{
    char token[API_TOKEN_MAX];
    struct gw_field_error fe = {{0}, {0}};
    struct gw_error err = {0};
    struct store_token t;
    json_t *root, *doc;

    (void)route;
    root = api_parse_body(call, resp);
    if (root == NULL)
        return;
    if (json_object_get(root, "hash") || json_object_get(root, "created")) {
        gw_field_fail(&fe, json_object_get(root, "hash") ? "hash" : "created",
                      "is set by the gateway");
        api_error(resp, 400, fe.field, "%s: %s", fe.field, fe.text);
    } else if (!store_token_from_json(root, &t, &fe)) {
        api_error(resp, 400, fe.field, "%s: %s", fe.field, fe.text);
    } else if (core_tokens_create(ctx->tokens, &t, token, sizeof(token),
                                  &err) != GW_OK) {
        api_error_from(resp, &err, "name");
    } else {
        doc = store_token_to_json(&t);
        json_object_set_new(doc, "token", json_string(token));
        api_reply_json(resp, 201, doc);
    }
    explicit_bzero(token, sizeof(token));
    json_decref(root);
}

void api_tokens_get(const struct api_route *route, const struct api_ctx *ctx,
                    const struct api_call *call, struct api_response *resp)
{
    struct gw_error err = {0};
    struct store_token *list = NULL;
    json_t *a = json_array();
    size_t n = 0;

    (void)route, (void)call;
    if (core_tokens_list(ctx->tokens, &list, &n, &err) != GW_OK) {
        json_decref(a);
        api_error_from(resp, &err, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, store_token_to_json(&list[i]));
    free(list);
    api_reply_json(resp, 200, json_pack("{s:o}", "tokens", a));
}

void api_tokens_delete(const struct api_route *route, const struct api_ctx *ctx,
                       const struct api_call *call, struct api_response *resp)
{
    char name[STORE_NAME_MAX + 1];
    struct gw_error err = {0};

    if (!api_path_name(route, call->path, name, resp))
        return;
    if (core_tokens_delete(ctx->tokens, name, &err) != GW_OK)
        api_error_from(resp, &err, NULL);
    else
        api_reply_json(
            resp, 200,
            json_pack("{s:s, s:s}", "status", "deleted", "name", name));
}
