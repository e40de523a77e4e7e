/*
 * API tokens as JSON: the token file (store/store.h) and the token routes,
 * POST, GET and DELETE /v1/tokens (admin scope). A new token is shown
 * once, in the reply to its creation; only its hash is kept anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store/store.h"

/* A JSON array of strings from a comma-separated list. */
static json_t *list_json(const char *list)
{
    json_t *a = json_array();

    while (a != NULL && *list != '\0') {
        size_t k = strcspn(list, ",");

        json_array_append_new(a, json_stringn(list, k));
        list += k + (list[k] == ',');
    }
    return a;
}

/* A comma-separated list from a JSON array of names or domains. */
static bool list_from_json(json_t *a, const char *key, bool domains, char *out,
                           size_t size, struct api_field_error *fe)
{
    struct gw_error err = {0};
    size_t i, at = 0;
    json_t *v;

    out[0] = '\0';
    if (a == NULL || json_is_null(a))
        return true;
    if (!json_is_array(a))
        return api_fail(fe, key, "must be an array of strings");
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        size_t n = s != NULL ? strlen(s) : 0;

        if (s == NULL || n == 0 || strchr(s, ',') != NULL ||
            api_list_check(s, domains, &err) != GW_OK)
            return api_fail(fe, key, "[%zu] is not a %s", i,
                            domains ? "domain name" : "credential name");
        if (at + n + 2 > size)
            return api_fail(fe, key, "is longer than %zu bytes", size - 1);
        if (at > 0)
            out[at++] = ',';
        memcpy(out + at, s, n + 1);
        at += n;
    }
    return true;
}

static bool scope_from_json(json_t *v, enum api_scope *out,
                            struct api_field_error *fe)
{
    const char *s = json_string_value(v);

    if (s != NULL && strcmp(s, "send") == 0)
        *out = API_SCOPE_SEND;
    else if (s != NULL && strcmp(s, "admin") == 0)
        *out = API_SCOPE_ADMIN;
    else
        return api_fail(fe, "scope", "must be \"send\" or \"admin\"");
    return true;
}

/* What every view of a token shows: never its hash. */
static json_t *token_json(const struct api_token *t)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:s}", "name", t->name, "scope",
                     api_scope_name(t->scope), "credentials",
                     list_json(t->credentials), "from_domains",
                     list_json(t->from_domains), "created", t->created);
}

/* Reads the settings of a token (not its hash) from `obj`. */
static bool token_from_json(json_t *obj, struct api_token *t,
                            struct api_field_error *fe)
{
    static const char *const keys[] = {
        "name", "scope",   "credentials", "from_domains",
        "hash", "created", NULL};
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *key;
    json_t *v;

    memset(t, 0, sizeof(*t));
    if (!json_is_object(obj))
        return api_fail(fe, "", "a token must be a JSON object");
    json_object_foreach(obj, key, v)
    {
        const char *const *k = keys;

        while (*k != NULL && strcmp(*k, key) != 0)
            k++;
        if (*k == NULL)
            return api_fail(fe, key, "unknown field");
    }
    if (name == NULL || !api_name_valid(name))
        return api_fail(fe, "name",
                        "must be 1 to %d letters, digits, '.', '_' or '-'",
                        API_NAME_MAX);
    snprintf(t->name, sizeof(t->name), "%s", name);
    return scope_from_json(json_object_get(obj, "scope"), &t->scope, fe) &&
           list_from_json(json_object_get(obj, "credentials"), "credentials",
                          false, t->credentials, sizeof(t->credentials), fe) &&
           list_from_json(json_object_get(obj, "from_domains"), "from_domains",
                          true, t->from_domains, sizeof(t->from_domains), fe);
}

/* The hash and time of creation, which only the token file holds. */
static bool token_stored(json_t *obj, struct api_token *t,
                         struct api_field_error *fe)
{
    const char *hash = json_string_value(json_object_get(obj, "hash"));
    const char *created = json_string_value(json_object_get(obj, "created"));

    if (hash == NULL || strlen(hash) != sizeof(t->hash) - 1 ||
        strspn(hash, "0123456789abcdef") != sizeof(t->hash) - 1)
        return api_fail(fe, "hash", "must be 64 hexadecimal digits");
    memcpy(t->hash, hash, sizeof(t->hash));
    snprintf(t->created, sizeof(t->created), "%s", created ? created : "");
    return true;
}

enum gw_err api_tokens_decode(const char *text, size_t len,
                              struct api_token **out, size_t *n,
                              struct gw_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = json_object_get(root, "tokens"), *v;
    struct api_field_error fe = {{0}, {0}};
    json_int_t version = json_integer_value(json_object_get(root, "version"));
    bool ok = true;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(list) || json_array_size(list) > API_RECORDS_MAX ||
        (version != 1 && version != 2)) {
        json_decref(root);
        return gw_error_set(err, GW_EINVAL,
                            "not a token file ({\"version\":1,\"tokens\":[]})");
    }
    *out = calloc(json_array_size(list) + 1, sizeof(**out));
    if (*out == NULL) {
        json_decref(root);
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    json_array_foreach(list, i, v)
    {
        if (!token_from_json(v, &(*out)[i], &fe) ||
            !token_stored(v, &(*out)[i], &fe)) {
            gw_error_set(err, GW_EINVAL, "tokens[%zu]: %s: %s", i, fe.field,
                         fe.text);
            ok = false;
            break;
        }
    }
    *n = i;
    json_decref(root);
    if (!ok) {
        free(*out);
        *out = NULL;
        *n = 0;
        return err->code;
    }
    return GW_OK;
}

enum gw_err api_tokens_keying_decode(const char *text, size_t len,
                                     struct api_tokens_keying *out,
                                     struct gw_error *err)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_int_t version = json_integer_value(json_object_get(root, "version"));
    const char *id = json_string_value(json_object_get(root, "key_id"));
    const char *key = json_string_value(json_object_get(root, "hash_key"));
    enum gw_err rc = GW_OK;

    memset(out, 0, sizeof(*out));
    out->version = (int)version;
    if (version == 2 &&
        (id == NULL || key == NULL || strlen(id) >= sizeof(out->key_id) ||
         strlen(key) >= sizeof(out->hash_key)))
        rc = gw_error_set(err, GW_EINVAL,
                          "a token file of version 2 needs \"key_id\" and "
                          "\"hash_key\"");
    else if (version == 2) {
        memcpy(out->key_id, id, strlen(id) + 1);
        memcpy(out->hash_key, key, strlen(key) + 1);
    } else if (version != 1)
        rc = gw_error_set(err, GW_EINVAL,
                          "not a token file ({\"version\":2,...})");
    json_decref(root);
    return rc;
}

enum gw_err api_tokens_encode(const struct api_token *tokens, size_t n,
                              struct buf *out, struct gw_error *err)
{
    return api_tokens_encode_keyed(tokens, n, NULL, out, err);
}

enum gw_err api_tokens_encode_keyed(const struct api_token *tokens, size_t n,
                                    const struct api_tokens_keying *k,
                                    struct buf *out, struct gw_error *err)
{
    json_t *list = json_array();
    json_t *doc =
        k == NULL
            ? json_pack("{s:i, s:o}", "version", 1, "tokens", list)
            : json_pack("{s:i, s:s, s:s, s:o}", "version", 2, "key_id",
                        k->key_id, "hash_key", k->hash_key, "tokens", list);

    for (size_t i = 0; doc != NULL && i < n; i++) {
        json_t *t = token_json(&tokens[i]);

        json_object_set_new(t, "hash", json_string(tokens[i].hash));
        json_array_append_new(list, t);
    }
    return api_dump_file(doc, out, err);
}

void api_tokens_post(const struct api_route *route, const struct api_ctx *ctx,
                     const struct api_call *call, struct api_response *resp)
{
    char token[API_TOKEN_MAX];
    struct api_field_error fe = {{0}, {0}};
    struct gw_error err = {0};
    struct api_token t;
    json_t *root, *doc;

    (void)route;
    root = api_parse_body(call, resp);
    if (root == NULL)
        return;
    if (json_object_get(root, "hash") || json_object_get(root, "created")) {
        api_fail(&fe, json_object_get(root, "hash") ? "hash" : "created",
                 "is set by the gateway");
        api_error(resp, 400, fe.field, "%s: %s", fe.field, fe.text);
    } else if (!token_from_json(root, &t, &fe)) {
        api_error(resp, 400, fe.field, "%s: %s", fe.field, fe.text);
    } else if (ctx->ops->token_create(ctx->arg, &t, token, sizeof(token),
                                      &err) != GW_OK) {
        api_error_from(resp, &err, "name");
    } else {
        doc = token_json(&t);
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
    struct api_token *list = NULL;
    json_t *a = json_array();
    size_t n = 0;

    (void)route, (void)call;
    if (ctx->ops->token_list(ctx->arg, &list, &n, &err) != GW_OK) {
        json_decref(a);
        api_error_from(resp, &err, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, token_json(&list[i]));
    free(list);
    api_reply_json(resp, 200, json_pack("{s:o}", "tokens", a));
}

void api_tokens_delete(const struct api_route *route, const struct api_ctx *ctx,
                       const struct api_call *call, struct api_response *resp)
{
    char name[API_NAME_MAX + 1];
    struct gw_error err = {0};

    if (!api_path_name(route, call->path, name, resp))
        return;
    if (ctx->ops->token_delete(ctx->arg, name, &err) != GW_OK)
        api_error_from(resp, &err, NULL);
    else
        api_reply_json(
            resp, 200,
            json_pack("{s:s, s:s}", "status", "deleted", "name", name));
}
